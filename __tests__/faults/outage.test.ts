/**
 * S3 unreachable for a while: the proxy refuses every connection and request for 2 minutes of the scaled clock
 * (480 ms real at 250x), in the middle of a 6-minute stream of events.
 */
import { WriteCheck } from '../../src/health/write-check'
import { Reporter } from '../../src/health/report'
import { DEFAULT_BACKOFF } from '../../src/export/retry-policy'
import { notifyingStore, type ObjectStore } from '../../src/s3/client'
import { buildExporter, expectNothingLost, LogRecorder, putAttempts, runScenario, ScaledClock, send, sleep, startRig, tally, type Rig } from '../helpers/faults'

let rig: Rig
beforeAll(async () => {
    rig = await startRig(['outage-2min', 'outage-start', 'outage-backoff', 'outage-resume'])
})
afterAll(async () => {
    await rig.close()
})

describe('an S3 outage', () => {
    it('stores every event exactly once after a 2-minute outage and resumes within one backoff cap of its end', async () => {
        let outageAt = 0
        let refusedDuring = 0
        // every timer the exporter arms, in virtual time: what it plans does not depend on how busy the machine is
        const armed: Array<{ at: number; ms: number }> = []
        const r = await runScenario(rig, {
            bucket: 'outage-2min',
            exporter: (clock) => ({
                schedule: (ms, fn) => {
                    armed.push({ at: clock.now(), ms })
                    return clock.schedule(ms, fn)
                },
            }),
            schedule: () => ({ kind: 'pass' }),
            scale: 250,
            overVirtualMs: 6 * 60_000,
            during: (clock) => {
                outageAt = clock.now() + 2 * 60_000
            },
            onChunk: (_sent, clock) => {
                if (outageAt > 0 && clock.now() >= outageAt && refusedDuring === 0) {
                    rig.proxy.outage(2 * 60_000)
                    outageAt = clock.now()
                    refusedDuring = -1
                }
            },
        })
        expect(refusedDuring).toBe(-1) // the outage happened while events were still arriving
        expectNothingLost(r)
        const outageEnd = outageAt + 2 * 60_000
        const refused = rig.proxy.log.filter((l) => l.fault === 'refuse' && l.path.startsWith('/outage-2min/'))
        expect(refused.length + rig.proxy.stats.refusedConnections).toBeGreaterThan(2)
        expect(r.x.exporter.stats.retries).toBeGreaterThan(2)
        // it resumed after the outage, by itself
        const firstAfter = rig.proxy.log.find((l) => l.method === 'PUT' && l.path.startsWith('/outage-2min/') && l.at >= outageEnd && l.status === 200)
        expect(firstAfter).toBeDefined()
        // head-of-line backoff is capped: no wait the exporter planned during or after the outage is longer than one
        // cap (60 s), so it tries again within a cap of the outage's end. (Asserted on the plan, not on when the
        // next PUT arrived: at 250x, a 100 ms stall of a busy machine is 25 virtual seconds.)
        const planned = armed.filter((a) => a.at >= outageAt)
        expect(planned.length).toBeGreaterThan(2)
        expect(Math.max(...planned.map((a) => a.ms))).toBeLessThanOrEqual(DEFAULT_BACKOFF.capMs)
    })

    it('stores every event exactly once when S3 is down from the first event for 2 minutes', async () => {
        const r = await runScenario(rig, {
            bucket: 'outage-start',
            schedule: () => ({ kind: 'pass' }),
            scale: 250,
            overVirtualMs: 6 * 60_000,
            during: () => rig.proxy.outage(2 * 60_000),
        })
        expectNothingLost(r)
        expect(r.x.exporter.stats.retries).toBeGreaterThan(0)
    })

    it('keeps backing off through a 20-minute outage even while the memory limit spills the batch it was retrying', async () => {
        // S3 refuses everything while 5000 events arrive over 20 minutes; past the 512 KiB limit the head batch (the
        // one backing off) goes to the job queue and the next batch becomes the head
        const r = await runScenario(rig, {
            bucket: 'outage-backoff',
            schedule: () => ({ kind: 'pass' }),
            scale: 1000,
            during: () => rig.proxy.outage(),
            onChunk: (sent) => {
                if (sent === 5000) rig.proxy.outage(0)
            },
        })
        expectNothingLost(r)
        expect(r.x.jobs.accepted).toBeGreaterThan(10)
        // capped exponential backoff (1 s doubling to 60 s, full jitter) allows ~6 tries to reach the cap and then
        // about 2 a minute on average: ~45 tries in 20 minutes (60 is 3 standard deviations above). A backoff that restarts at 1 s with every new
        // head batch tries S3 several times a minute for the whole outage.
        const triesDuringOutage = r.x.exporter.stats.retries
        expect(triesDuringOutage).toBeLessThanOrEqual(60)
    })

    it('uploads the waiting batch once the write check finds S3 back, before the backoff it planned during the outage ends', async () => {
        // 20x: a minute of outage is 3 s real, and the margin asserted below (~55 virtual s) is more than 2 s real
        const clock = new ScaledClock(20)
        rig.clock = clock
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        const planned: Array<{ at: number; ms: number }> = []
        // one store for the exporter and the write check, told of every object S3 takes, as setupPlugin builds it
        let shared: ObjectStore | undefined
        const x = buildExporter(rig, clock, {
            bucket: 'outage-resume',
            exporter: {
                // jitter near its top: each planned wait is close to the backoff's ceiling (1 s, 2 s, 4 s ... 60 s)
                random: () => 0.99,
                schedule: (ms, fn) => {
                    planned.push({ at: clock.now(), ms })
                    return clock.schedule(ms, fn)
                },
                store: { put: (request) => shared!.put(request), onTheWire: () => shared!.onTheWire?.() },
            },
        })
        shared = notifyingStore(x.store, () => x.exporter.resume())
        const log = new LogRecorder(clock.now)
        // the setup's check, probing every ~1 s of the clock so that it finds S3 back soon after it is
        const check = new WriteCheck({
            store: shared,
            config: x.config,
            schedule: clock.schedule,
            random: () => 0.5,
            reporter: new Reporter(log, clock.now),
            backoff: { baseMs: 1_000, capMs: 2_000 },
            storedSince: () => x.exporter.lastStoredAt > 0,
        })
        try {
            // S3 is down from the start: setup goes ahead, events wait in memory
            rig.proxy.outage()
            await expect(check.setup(60_000)).resolves.toEqual({ kind: 'pending' })
            const sent = await send(x, clock, { count: 300, overVirtualMs: 2_000 })
            void x.exporter.flush()
            // every batch is sealed: from here on the exporter's only timers are its retries
            planned.length = 0
            // the outage lasts until the exporter has planned a long wait (~59 s, after ~1 minute of failures)
            const long = () => planned.find((p) => p.ms >= 50_000)
            for (const until = Date.now() + 60_000; !long() && Date.now() < until; ) await sleep(5)
            expect(long()).toBeDefined()
            const backoffEnds = long()!.at + long()!.ms
            rig.proxy.outage(0)
            const backAt = clock.now()
            // it resumes by itself: no tick, no new event
            for (const until = Date.now() + 60_000; x.exporter.pendingEvents() > 0 && Date.now() < until; ) await sleep(5)
            expect(x.exporter.pendingEvents()).toBe(0)
            expect(log.matching(/takes writes now/).length).toBe(1)
            // stored after S3 came back, before the wait planned during the outage was over
            const stored = rig.proxy.log.filter((l) => l.method === 'PUT' && l.status === 200 && !l.path.includes('write-check') && l.path.startsWith('/outage-resume/'))
            expect(stored.length).toBeGreaterThan(0)
            expect(stored[0].at).toBeGreaterThanOrEqual(backAt)
            expect(x.exporter.lastStoredAt).toBeLessThan(backoffEnds)
            // and exactly once
            const t = await tally(rig.reader, 'outage-resume', sent)
            expect({ stored: t.stored, lost: t.lost, duplicated: t.duplicated }).toEqual({ stored: sent.length, lost: 0, duplicated: 0 })
            expect(new Set(t.objects.map((o) => o.key))).toEqual(new Set(putAttempts(rig.proxy, 'outage-resume').keys()))
        } finally {
            check.stop()
            rig.proxy.outage(0)
            await x.exporter.close(clock.now() + 4_500)
            clock.dispose()
        }
    })
})
