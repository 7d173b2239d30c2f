/**
 * The real hooks of index.ts (setupPlugin / onEvent / teardownPlugin / jobs) through the fault proxy, on real time:
 * teardown with S3 hung stays within the host's 5 s and leaves the rest to meta.jobs; setup tells a transient
 * refusal (RetryError: the host tries again) from a wrong setting (a plain Error that names the fix).
 */
import { RetryError } from '@posthog/plugin-scaffold'
import { faults } from '../../dev/fault-proxy'
import { jobs, onEvent, setupPlugin, teardownPlugin, TEARDOWN_BUDGET_MS } from '../../index'
import { spillReserveMs } from '../../src/export/exporter'
import { HOST_HISTORICAL_JOB } from '../../src/backfill/boundary'
import { JOB_NAME, type SpilledBatchPayload } from '../../src/export/spill'
import { makeEvent } from '../helpers/events'
import { proxySettings, recordMetric, startRig, tally, type Rig } from '../helpers/faults'

const HOST_TEARDOWN_CAP_MS = 5_000
let caseNumber = 0
let rig: Rig
const logged: string[] = []
beforeAll(async () => {
    rig = await startRig(['hooks-hung', 'hooks-setup', 'hooks-no-jobs'])
    // the app logs through console (the host's log); keep it for assertions instead of the test output
    for (const level of ['info', 'warn', 'error'] as const) {
        jest.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(`${level}: ${args.map(String).join(' ')}`))
    }
})
afterAll(async () => {
    await rig.close()
    jest.restoreAllMocks()
})

function metaFor(bucket: string) {
    const queued: Array<{ payload: SpilledBatchPayload; amount: number; unit: string }> = []
    const meta = {
        config: proxySettings(rig, bucket),
        global: {} as any,
        jobs: {
            [JOB_NAME]: (payload: SpilledBatchPayload) => {
                // stored as JSON, as PostgreSQL would
                const enqueue = async (amount: number, unit: string) => void queued.push({ payload: JSON.parse(JSON.stringify(payload)), amount, unit })
                return { runIn: enqueue, runNow: () => enqueue(0, 'seconds'), runAt: (date: Date) => enqueue((date.getTime() - Date.now()) / 1000, 'seconds') }
            },
        },
    }
    return { meta, queued }
}

describe('the plugin hooks against a failing S3', () => {
    it('tears down within 5 s with S3 hung and hands the leftover batches to meta.jobs, which store them later', async () => {
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        const { meta, queued } = metaFor('hooks-hung')
        await setupPlugin(meta)
        rig.proxy.setSchedule(() => faults.hang())
        const sent = Array.from({ length: 3000 }, (_, i) => makeEvent(i))
        for (const event of sent) onEvent(event, meta)

        const started = Date.now()
        const report = await teardownPlugin(meta)
        const ms = Date.now() - started
        recordMetric({ name: 'hooks-teardown-hung', events: sent.length, teardownMs: ms, jobs: queued.length, report })
        expect(ms).toBeLessThan(HOST_TEARDOWN_CAP_MS)
        expect(ms).toBeGreaterThanOrEqual(TEARDOWN_BUDGET_MS - spillReserveMs(TEARDOWN_BUDGET_MS) - 100) // it did wait for the hung upload, up to its budget
        expect(report).toMatchObject({ delivered: 0, dropped: 0, pendingEvents: 0, timedOut: true })
        expect(queued.reduce((n, j) => n + j.payload.events, 0)).toBe(3000)
        expect(queued.every((j) => j.unit === 'seconds' && j.amount > 0)).toBe(true)
        expect(rig.proxy.dropHanging()).toBeGreaterThanOrEqual(1) // the upload teardown gave up on was still hanging

        // the host restarts and runs the queued jobs with S3 healthy
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        const jobsRun = queued.splice(0, queued.length)
        for (const job of jobsRun) await jobs[JOB_NAME](job.payload, meta)
        expect(queued).toHaveLength(0) // every job stored its batch at the first try: none re-queued
        const t = await tally(rig.reader, 'hooks-hung', sent.map((e) => e.uuid))
        expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
        expect(t.objects).toHaveLength(jobsRun.length)
    })

    it('without a job queue (PostHog after Feb 2025), tears down within 5 s with S3 hung and reports exactly the events it could not store, in the log and the metrics', async () => {
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        const increments: Record<string, number> = {}
        const metrics = new Proxy({}, { get: (_t, name: string) => ({ increment: (n: number) => void (increments[name] = (increments[name] ?? 0) + n) }) })
        // a host without meta.jobs: nothing can be handed over
        const meta = { config: proxySettings(rig, 'hooks-no-jobs', { uploadMegabytes: '1' }), global: {} as any, metrics }
        await setupPlugin(meta)
        // some batches reach S3 before it hangs, the rest are in memory at teardown
        const stored = Array.from({ length: 2000 }, (_, i) => makeEvent(500_000 + i))
        for (const event of stored) onEvent(event, meta)
        await meta.global.exporter.flush()
        rig.proxy.setSchedule(() => faults.hang())
        const held = Array.from({ length: 3000 }, (_, i) => makeEvent(600_000 + i))
        for (const event of held) onEvent(event, meta)
        logged.length = 0

        const started = Date.now()
        const report = await teardownPlugin(meta)
        const ms = Date.now() - started
        recordMetric({ name: 'hooks-teardown-hung-no-jobs', events: held.length, teardownMs: ms, report })
        expect(ms).toBeLessThan(HOST_TEARDOWN_CAP_MS)
        // with nothing to hand over to, no time is kept for a hand-over: the hung uploads get the whole budget
        expect(ms).toBeGreaterThanOrEqual(TEARDOWN_BUDGET_MS - 100)
        rig.proxy.dropHanging()

        // what S3 holds: everything but exactly the number reported lost
        const sent = [...stored, ...held].map((e) => e.uuid)
        const t = await tally(rig.reader, 'hooks-no-jobs', sent)
        expect({ duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ duplicated: 0, unexpected: 0 })
        expect(t.lost).toBeGreaterThan(0)
        expect(report).toMatchObject({ dropped: t.lost, spilled: 0, jobs: 0, pendingEvents: 0 })
        expect(logged).toContain(`error: S3 Export teardown: ${t.lost} events could not be stored or queued and are lost`)
        expect(increments.undelivered_events).toBe(t.lost)
        expect(increments.events_delivered_successfully).toBe(sent.length - t.lost)
        logged.length = 0
    })

    it('asks the host to retry setup (RetryError) when its storage does not answer, rather than be disabled', async () => {
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        const { meta } = metaFor('hooks-setup')
        const down = () => Promise.reject(new Error('connection terminated'))
        Object.assign(meta, { storage: { get: down, set: down, del: down } })
        Object.assign(meta.jobs, { [HOST_HISTORICAL_JOB]: () => ({ runNow: () => Promise.resolve() }) })
        const error = await setupPlugin(meta).then(() => undefined, (e: Error) => e)
        expect(error?.name).toBe('RetryError')
        expect(error?.message).toContain('connection terminated')
        await teardownPlugin(meta)
    })

    it.each([
        ['503 SlowDown', faults.slowDown(1)],
        ['500 InternalError', faults.internalError()],
        ['a connection reset', faults.reset()],
    ])('resolves setupPlugin at once when S3 answers %s, buffers, and stores the events once S3 recovers', async (_name, fault) => {
        rig.proxy.setSchedule(() => fault)
        const { meta } = metaFor('hooks-setup')
        await expect(setupPlugin(meta)).resolves.toBeUndefined()
        expect(meta.global.exporter).toBeDefined()
        // events of their own in each case: the cases share a bucket
        const first = (caseNumber += 1) * 1_000
        const sent = Array.from({ length: 50 }, (_, i) => makeEvent(first + i))
        for (const event of sent) onEvent(event, meta)
        expect(logged.some((l) => /hooks-setup|127\.0\.0\.1/.test(l) && /retried with backoff/.test(l))).toBe(true)
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        await meta.global.exporter.flush()
        await teardownPlugin(meta)
        const t = await tally(rig.reader, 'hooks-setup', sent.map((e) => e.uuid))
        expect({ lost: t.lost, duplicated: t.duplicated }).toEqual({ lost: 0, duplicated: 0 })
        logged.length = 0
    })

    it('names the endpoint when nothing answers there at all', async () => {
        const { meta } = metaFor('hooks-setup')
        meta.config = { ...meta.config, s3BucketEndpoint: 'http://127.0.0.1:9' } // the discard port: refused
        await expect(setupPlugin(meta)).resolves.toBeUndefined()
        expect(logged.some((l) => l.includes('cannot reach http://127.0.0.1:9'))).toBe(true)
        await teardownPlugin(meta)
        logged.length = 0
    })

    it('never shows a secret holding "/", "+", "@", ":" or "%" that was pasted into the endpoint, in its rejection, its setupError or the log', async () => {
        const secrets = ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'Zq9+aa/Bb8@Cc7:Dd6%2FEe5', 'Yx4@@Wv3//Ut2']
        for (const secret of secrets) {
            const { meta } = metaFor('hooks-setup')
            meta.config = { ...meta.config, s3BucketEndpoint: `http://AKIAUSER:${secret}@127.0.0.1:9` }
            const error = await setupPlugin(meta).then(
                () => undefined,
                (e: unknown) => e as Error
            )
            expect(error).toBeInstanceOf(Error)
            expect(error!.message).toMatch(/\(s3BucketEndpoint\) "http:\/\/\*\*\*@127\.0\.0\.1:9" is not a valid endpoint/)
            // and an event arriving anyway names the setup error in the log
            onEvent(makeEvent(0), meta)
            const seen = [error!.message, String(error), error!.stack ?? '', String(meta.global.setupError), ...logged].join('\n')
            expect(seen).toContain('is not a valid endpoint')
            for (const piece of secret.split(/[/@:+%]/).filter((p) => p.length >= 3)) expect(seen).not.toContain(piece)
            logged.length = 0
        }
    })

    it('throws a plain Error naming the missing permission when S3 answers 403 AccessDenied', async () => {
        rig.proxy.setSchedule(() => faults.accessDenied())
        const { meta } = metaFor('hooks-setup')
        const failure = setupPlugin(meta)
        await expect(failure).rejects.toThrow(/s3:PutObject/)
        await expect(failure).rejects.toThrow(/s3:\/\/hooks-setup\/faults\//)
        await failure.catch((error: unknown) => expect(error).not.toBeInstanceOf(RetryError))
        expect(meta.global.exporter).toBeUndefined()
    })
})
