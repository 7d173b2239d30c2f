/**
 * close(deadline) with S3 hung: requests that are never answered (and a request deadline far beyond the close
 * deadline) must not hold teardown. Scale 10 here, so the 4.5 s close budget is 450 ms real and measurable.
 */
import { faults } from '../../dev/fault-proxy'
import { buildExporter, noisyEvent, recordMetric, ScaledClock, send, startRig, tally, type ExporterRig, type Rig } from '../helpers/faults'

const BUDGET_MS = 4_500
let rig: Rig
beforeAll(async () => {
    rig = await startRig(['close-hung', 'close-answer-held', 'close-last-second'])
})
afterAll(async () => {
    await rig.close()
})

async function closeWithHungS3(bucket: string, fault: ReturnType<typeof faults.hang>) {
    const clock = new ScaledClock(10)
    rig.clock = clock
    rig.proxy.setSchedule(() => fault)
    // the request deadline (30 s real) is far beyond the close budget: only close()'s own deadline can end the wait
    const x = buildExporter(rig, clock, { bucket, timeoutMs: 30_000 })
    const sent = await send(x, clock, { count: 3000, overVirtualMs: 0, chunk: 500 })
    const startedVirtual = clock.now()
    const startedReal = performance.now()
    const report = await x.exporter.close(startedVirtual + BUDGET_MS)
    const closeReal = performance.now() - startedReal
    const closeVirtual = clock.now() - startedVirtual
    recordMetric({ name: bucket, events: sent.length, closeRealMs: Math.round(closeReal), closeVirtualMs: closeVirtual, budgetVirtualMs: BUDGET_MS, scale: clock.scale, spilledEvents: x.jobs.acceptedEvents, memoryPeakBytes: x.maxMemory() })
    return { clock, x, sent, report, closeReal, closeVirtual }
}

describe('closing with S3 hung', () => {
    it('returns within its deadline and hands every batch it could not store to the job queue', async () => {
        const { clock, x, sent, report, closeReal, closeVirtual } = await closeWithHungS3('close-hung', faults.hang())
        expect(closeVirtual).toBeLessThanOrEqual(BUDGET_MS + 500)
        expect(closeReal).toBeLessThanOrEqual(clock.real(BUDGET_MS) + 250)
        expect(report.timedOut).toBe(true)
        expect(report.dropped).toBe(0)
        expect(report.pendingEvents).toBe(0)
        expect(x.exporter.stats.delivered).toBe(0)
        expect(x.jobs.acceptedEvents).toBe(sent.length)
        expect(x.maxMemory()).toBeLessThanOrEqual(x.config.bufferLimitBytes)

        // the next start runs the jobs against a healthy S3: every event once
        await expectJobsStoreEverythingOnce('close-hung', x, sent)
        clock.dispose()
    })

    it('makes no duplicate when the hung upload did reach S3 and the same batch is also stored from the job queue', async () => {
        // S3 stores each PUT at once, but its answer is held for a minute: the in-flight batch lands AND is spilled
        const { clock, x, sent, report, closeReal } = await closeWithHungS3('close-answer-held', faults.delay(60_000, true))
        expect(closeReal).toBeLessThanOrEqual(clock.real(BUDGET_MS) + 250)
        expect(report.timedOut).toBe(true)
        expect(report.dropped).toBe(0)
        // the batch that landed while hung is stored again from the queue under the same key: one object, not two
        await expectJobsStoreEverythingOnce('close-answer-held', x, sent)
        clock.dispose()
    })

    it('hands an event that arrives 3.6 s into the teardown to the job queue before the teardown resolves', async () => {
        // real time (scale 1): the event must come before the hand-over at 4 s on a busy machine too
        const clock = new ScaledClock(1)
        rig.clock = clock
        rig.proxy.setSchedule(() => faults.hang())
        const x = buildExporter(rig, clock, { bucket: 'close-last-second', timeoutMs: 30_000 })
        const sent = await send(x, clock, { count: 200, overVirtualMs: 0, chunk: 200 })
        const started = clock.now()
        const closing = x.exporter.close(started + BUDGET_MS)
        await clock.until(started + 3_600)
        const last = noisyEvent(1_000_000)
        x.exporter.add(last)
        const report = await closing
        // when teardown resolves, the host may end the thread: nothing may be left in memory
        expect({ pendingEvents: report.pendingEvents, dropped: report.dropped, unconfirmed: report.unconfirmed }).toEqual({ pendingEvents: 0, dropped: 0, unconfirmed: 0 })
        expect(x.jobs.queued.some((j) => Buffer.from(j.payload.bodyBase64, 'base64').length > 0 && j.payload.events === 1)).toBe(true)
        expect(x.jobs.acceptedEvents).toBe(sent.length + 1)

        await expectJobsStoreEverythingOnce('close-last-second', x, [...sent, last.uuid])
        clock.dispose()
    }, 30_000)
})

/** S3 heals, the job queue runs (as at the next start): every event stored once, one object per spilled batch. */
async function expectJobsStoreEverythingOnce(bucket: string, x: ExporterRig, sent: string[]): Promise<void> {
    rig.proxy.setSchedule(() => ({ kind: 'pass' }))
    await x.jobs.runAll(x.store, { bucket })
    const t = await tally(rig.reader, bucket, sent)
    expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
    expect(t.objects.length).toBe(x.jobs.accepted)
}
