/**
 * S3 answering errors it means to be retried: 500 InternalError, 503 SlowDown with Retry-After, 429. Thousands of
 * events through the fault proxy into a signature-checking local S3, on a clock 1000x faster than real time.
 */
import { everyNth, faults, phases } from '../../dev/fault-proxy'
import { expectNothingLost, runScenario, startRig, type Rig } from '../helpers/faults'

let rig: Rig
beforeAll(async () => {
    rig = await startRig(['errors-500', 'errors-503', 'errors-429', 'errors-burst'])
})
afterAll(async () => {
    await rig.close()
})

describe('S3 answering 5xx and 429', () => {
    it('stores every event exactly once when every third request gets 500 InternalError', async () => {
        const r = await runScenario(rig, { bucket: 'errors-500', schedule: everyNth(3, faults.internalError()), scale: 1000 })
        expectNothingLost(r)
        expect(r.injected.error).toBeGreaterThan(0) // faults happened; how many fit in the time depends on the machine
        expect(r.x.exporter.stats.retries).toBeGreaterThanOrEqual(r.injected.error)
        expect([...r.attempts.values()].some((n) => n > 1)).toBe(true)
    })

    it('waits at least the Retry-After of a 503 SlowDown before trying the same key again', async () => {
        const retryAfterSeconds = 5
        const r = await runScenario(rig, { bucket: 'errors-503', schedule: everyNth(2, faults.slowDown(retryAfterSeconds)), scale: 1000 })
        expectNothingLost(r)
        expect(r.injected.error).toBeGreaterThan(0) // faults happened; how many fit in the time depends on the machine
        // every SlowDown answer is followed by the next try of the same key no sooner than Retry-After (virtual time)
        const puts = rig.proxy.log.filter((l) => l.method === 'PUT' && l.path.startsWith('/errors-503/') && !l.path.includes('write-check'))
        let checked = 0
        for (let i = 0; i < puts.length; i++) {
            if (puts[i].status !== 503) continue
            const next = puts.slice(i + 1).find((p) => p.path === puts[i].path)
            if (!next) continue
            expect(next.at - puts[i].at).toBeGreaterThanOrEqual(retryAfterSeconds * 1000)
            checked++
        }
        expect(checked).toBeGreaterThanOrEqual(15)
    })

    it('stores every event exactly once through 429 Too Many Requests on half the requests', async () => {
        const r = await runScenario(rig, { bucket: 'errors-429', schedule: everyNth(2, () => faults.tooManyRequests()), scale: 1000 })
        expectNothingLost(r)
        expect(r.injected.error).toBeGreaterThan(0) // faults happened; how many fit in the time depends on the machine
    })

    it('rides out a burst of 40 consecutive 500s and 503s without losing or repeating an event', async () => {
        const burst = phases([{ requests: 10 }, { requests: 20, fault: faults.internalError() }, { requests: 20, fault: faults.slowDown() }])
        const r = await runScenario(rig, { bucket: 'errors-burst', schedule: burst, scale: 1000 })
        expectNothingLost(r)
        expect(r.injected.error).toBe(40)
        // every failed try (the 40, plus any that ran past the request deadline on a loaded machine) was followed by a
        // try of the SAME key: the attempts beyond each key's first add up to exactly the failures the exporter saw
        const attempts = [...r.attempts.values()]
        const extra = attempts.reduce((a, b) => a + b, 0) - attempts.length
        expect(extra).toBe(r.x.exporter.stats.retries + r.x.exporter.stats.failures)
        expect(extra).toBeGreaterThanOrEqual(40)
    })
})
