/**
 * A server that asks for a very long wait: 503 SlowDown with `Retry-After: 86400` (a day), with a value past what a
 * timer can hold (Node fires a setTimeout over 2^31-1 ms after 1 ms, with a TimeoutOverflowWarning), or with an HTTP
 * date a day ahead. Through the fault proxy into the signature-checking local S3: the exporter and the setup's write
 * check wait at most MAX_RETRY_AFTER_MS, never spin, and every event is stored exactly once.
 */
import { faults, phases } from '../../dev/fault-proxy'
import { hostSchedule } from '../../src/host/generation'
import { WriteCheck, writeCheckKey } from '../../src/health/write-check'
import { Reporter } from '../../src/health/report'
import { MAX_RETRY_AFTER_MS } from '../../src/export/retry-policy'
import { MAX_TIMER_MS } from '../../src/host/timer'
import { createS3Store, type S3StoreDeps } from '../../src/s3/client'
import { expectNothingLost, LogRecorder, rigConfig, runScenario, sleep, startRig, type Rig } from '../helpers/faults'

const DAY_S = 86_400
/** seconds whose ms are far past 2^31-1 */
const HUGE_S = 99_999_999_999

let rig: Rig
/**
 * What Node wrote to stderr: its warnings. (Jest's `process` does not pass the real process's 'warning' events on,
 * but Node prints each warning to the real stderr, which it shares.)
 */
let warnings: string[] = []
const stderr = process.stderr as unknown as { write: (...args: unknown[]) => boolean }
const write = stderr.write
beforeAll(async () => {
    rig = await startRig(['retry-after-day', 'retry-after-huge', 'retry-after-date', 'check-after-day', 'check-after-huge'])
    stderr.write = function (this: unknown, ...args: unknown[]) {
        warnings.push(String(args[0]))
        return write.apply(this, args)
    }
})
afterAll(async () => {
    stderr.write = write
    await rig.close()
})
beforeEach(() => {
    warnings = []
})

const overflowWarnings = () => warnings.filter((w) => /TimeoutOverflow/.test(w))

describe('a Retry-After longer than the app will wait', () => {
    it.each<[string, string, () => string]>([
        ['of a day', 'retry-after-day', () => String(DAY_S)],
        ['past what a timer can hold', 'retry-after-huge', () => String(HUGE_S)],
        ['as an HTTP date a day ahead', 'retry-after-date', () => new Date(Date.now() + DAY_S * 1000).toUTCString()],
    ])('%s: the exporter retries within the clamp, arms no timer past it, and stores every event exactly once', async (_what, bucket, retryAfter) => {
        const armed: number[] = []
        const r = await runScenario(rig, {
            bucket,
            // the first PUTs are answered "come back in a day"; then S3 takes writes
            schedule: phases([{ requests: 4, fault: () => faults.slowDownUntil(retryAfter()) }]),
            scale: 1000,
            count: 1500,
            overVirtualMs: 3 * 60_000,
            exporter: (clock) => ({
                schedule: (ms, fn) => {
                    armed.push(ms)
                    return clock.schedule(ms, fn)
                },
            }),
        })
        expect(r.injected.error).toBe(4) // S3 did ask
        expectNothingLost(r)
        expect(r.x.exporter.stats.retries).toBeGreaterThanOrEqual(1)
        // no planned wait was longer than the clamp: the hint was honoured up to a minute, not for a day
        expect(Math.max(...armed)).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS)
        // a timer armed past 2^31-1 ms fires after 1 ms: a spin, and one warning per timer
        expect(overflowWarnings()).toEqual([])
    })
})

describe('the setup write check answered with a long Retry-After', () => {
    it.each<[string, string, string]>([
        ['of a day', 'check-after-day', String(DAY_S)],
        ['past what a timer can hold', 'check-after-huge', String(HUGE_S)],
    ])('%s asks again within the clamp on the host timer, without spinning', async (_what, bucket, retryAfter) => {
        const config = rigConfig(rig, bucket)
        const store = createS3Store(config, { fetch: fetch as unknown as S3StoreDeps['fetch'], timeoutMs: () => 2_000 })
        const checkPath = `/${bucket}/${writeCheckKey(config.prefix)}`
        const puts = () => rig.proxy.log.filter((l) => l.method === 'PUT' && l.path.split('?')[0] === checkPath).length
        rig.proxy.setSchedule(() => faults.slowDownUntil(retryAfter))
        const planned: number[] = []
        const check = new WriteCheck({
            store,
            config,
            // the host's timer (plugin-contrib's buffer on setTimeout), as setupPlugin gives it, in real time
            schedule: (ms, fn) => {
                planned.push(ms)
                return hostSchedule(ms, fn)
            },
            random: () => 0.5,
            reporter: new Reporter(new LogRecorder(), Date.now),
            storedSince: () => false,
        })
        try {
            await expect(check.setup(5_000)).resolves.toEqual({ kind: 'pending' })
            // a second of real time: a check that waits as planned sends no more PUTs in it; one that spins sends hundreds
            await sleep(1_000)
            expect(planned.length).toBeGreaterThanOrEqual(1)
            expect(Math.max(...planned)).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS)
            expect(puts()).toBeLessThanOrEqual(2)
            expect(overflowWarnings()).toEqual([])
        } finally {
            check.stop()
            rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        }
    })
})

describe('the host timer', () => {
    it('holds a delay past 2^31-1 ms (at most 2^31-1 ms) instead of firing at once', async () => {
        let fired = 0
        const timer = hostSchedule(MAX_TIMER_MS * 4, () => fired++)
        await sleep(100)
        timer.cancel()
        expect(fired).toBe(0)
        expect(overflowWarnings()).toEqual([])
    })
})
