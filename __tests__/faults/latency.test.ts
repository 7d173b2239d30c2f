/**
 * A slow S3. Network time cannot run on the scaled clock, so latency and the request deadline are both scaled by
 * 1/100: "10 s latency" is 100 ms real; "past the deadline" is 450 ms against 300 ms. Where no request may pass the
 * deadline, the deadline is 2 s real: with 600 ms, a busy machine (a CPU hog beside jest's workers on 2 cores) once
 * stretched a 100 ms request past it, and the retry was the machine's, not the app's.
 */
import { everyNth, faults } from '../../dev/fault-proxy'
import { KIB, expectNothingLost, runScenario, startRig, type Rig } from '../helpers/faults'

let rig: Rig
beforeAll(async () => {
    rig = await startRig(['slow-all', 'slow-answer-lost', 'slow-before'])
})
afterAll(async () => {
    await rig.close()
})

describe('a slow S3', () => {
    it('stores every event exactly once with 10 s latency on every request, without a single retry', async () => {
        const r = await runScenario(rig, {
            bucket: 'slow-all',
            schedule: () => faults.delay(100),
            scale: 1000,
            timeoutMs: 2000,
            count: 2000,
            config: { maxBatchBytes: 128 * KIB, bufferLimitBytes: 4096 * KIB }, // room for the batches a slow S3 keeps waiting
        })
        expectNothingLost(r)
        expect(r.injected.delay).toBeGreaterThan(0) // every request is slow; how many were made depends on the machine
        expect(r.x.exporter.stats.retries).toBe(0)
        expect(r.x.jobs.accepted).toBe(0)
    })

    it('makes no second object when S3 stored a batch but its answer came after the deadline', async () => {
        // every fourth PUT reaches S3 at once, but S3's answer is held past the client's deadline
        const r = await runScenario(rig, { bucket: 'slow-answer-lost', schedule: everyNth(4, faults.delay(450, true)), scale: 1000, timeoutMs: 300 })
        expectNothingLost(r)
        expect(r.injected.delay).toBeGreaterThan(0) // faults happened; how many fit in the time depends on the machine
        expect(r.x.exporter.stats.retries).toBeGreaterThanOrEqual(r.injected.delay - 1)
    })

    it('stores every event exactly once when requests wait past the deadline before reaching S3', async () => {
        const r = await runScenario(rig, { bucket: 'slow-before', schedule: everyNth(5, faults.delay(450)), scale: 1000, timeoutMs: 300 })
        expectNothingLost(r)
        expect(r.injected.delay).toBeGreaterThan(0) // faults happened; how many fit in the time depends on the machine
    })
})
