import { BACKFILL_POLICY, backoffMs, DEFAULT_BACKOFF, JOB_POLICY, MAX_RETRY_AFTER_MS, nextTry, UPLOAD_POLICY, type BackoffPolicy } from '../../src/export/retry-policy'
import { clampDelayMs, MAX_TIMER_MS } from '../../src/host/timer'
import type { S3Failure } from '../../src/s3/failure'

const failure = (code: string, statusCode?: number, message = code): S3Failure => ({ code, statusCode, message })

describe('backoffMs', () => {
    const policy: BackoffPolicy = { baseMs: 100, capMs: 5_000 }
    const randoms = [0, 1e-9, 0.25, 0.5, 0.75, 0.999999, 1 - Number.EPSILON]

    it('waits within [0, min(cap, base * 2^(attempt-1))) for every random in [0, 1)', () => {
        for (let attempt = 1; attempt <= 12; attempt++) {
            const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1))
            for (const r of randoms) {
                const wait = backoffMs(attempt, r, policy)
                expect(wait).toBeGreaterThanOrEqual(0)
                expect(wait).toBeLessThan(ceiling)
            }
        }
    })

    it('waits nothing when random is 0 and nearly the ceiling when random is just below 1', () => {
        expect(backoffMs(3, 0, policy)).toBe(0)
        expect(backoffMs(3, 0.999999, policy)).toBe(399)
    })

    it('grows with the number of attempts for the same random', () => {
        const waits = [1, 2, 3, 4, 5].map((attempt) => backoffMs(attempt, 0.5, policy))
        expect(waits).toEqual([50, 100, 200, 400, 800])
    })

    it('is capped however many attempts were made', () => {
        expect(backoffMs(30, 0.999999, policy)).toBe(4_999)
        expect(backoffMs(5_000, 0.5, policy)).toBe(2_500)
    })

    it('uses the default policy of 1 s doubling up to 60 s', () => {
        expect(DEFAULT_BACKOFF).toEqual({ baseMs: 1_000, capMs: 60_000 })
        expect(backoffMs(1, 0.5)).toBe(500)
        expect(backoffMs(20, 0.5)).toBe(30_000)
    })

    it('never retries sooner than the server asked with Retry-After', () => {
        expect(backoffMs(1, 0, policy, 3_000)).toBe(3_000)
        expect(backoffMs(1, 0.999999, policy, 3_000)).toBe(3_000)
        expect(backoffMs(10, 0.5, policy, 60_000)).toBe(60_000)
    })

    it('keeps the jittered wait when Retry-After is shorter', () => {
        expect(backoffMs(4, 0.5, policy, 10)).toBe(400)
    })

    it('honours a Retry-After of a day, or of more than a timer can hold, for at most MAX_RETRY_AFTER_MS', () => {
        expect(MAX_RETRY_AFTER_MS).toBe(60_000)
        for (const hint of [86_400_000, 99_999_999_999_000, Number.MAX_VALUE, Number.POSITIVE_INFINITY]) {
            expect(backoffMs(1, 0, policy, hint)).toBe(MAX_RETRY_AFTER_MS)
            expect(backoffMs(1, 0.5, DEFAULT_BACKOFF, hint)).toBe(MAX_RETRY_AFTER_MS)
        }
    })

    it('ignores a Retry-After that is not a wait (NaN, negative)', () => {
        expect(backoffMs(4, 0.5, policy, Number.NaN)).toBe(400)
        expect(backoffMs(4, 0.5, policy, -5_000)).toBe(400)
    })

    it('never returns a delay a timer cannot hold, whatever the policy', () => {
        const huge: BackoffPolicy = { baseMs: 1_000, capMs: 1e15 }
        expect(backoffMs(200, 0.999999, huge)).toBe(MAX_TIMER_MS)
        expect(backoffMs(200, 0.999999, huge, 1e15)).toBe(MAX_TIMER_MS)
    })
})

describe('nextTry: the one retry policy of every S3 write', () => {
    const slow = { kind: 'retry' as const, failure: failure('SlowDown', 503) }
    const denied = { kind: 'fatal' as const, failure: failure('AccessDenied', 403) }
    const hinted = { kind: 'retry' as const, failure: { ...failure('SlowDown', 503), retryAfterMs: 86_400_000 } }
    const half = () => 0.5

    it('backs a live batch off with full jitter, tries a refusal again after a minute, and never gives up', () => {
        expect(nextTry(UPLOAD_POLICY, slow, 1, half)).toEqual({ kind: 'again', delayMs: 500 })
        expect(nextTry(UPLOAD_POLICY, slow, 20, half)).toEqual({ kind: 'again', delayMs: 30_000 })
        expect(nextTry(UPLOAD_POLICY, denied, 1, half)).toEqual({ kind: 'again', delayMs: 60_000 })
        expect(nextTry(UPLOAD_POLICY, slow, 10_000, half).kind).toBe('again')
    })

    it('waits out a Retry-After for at most MAX_RETRY_AFTER_MS', () => {
        expect(nextTry(UPLOAD_POLICY, hinted, 1, () => 0)).toEqual({ kind: 'again', delayMs: MAX_RETRY_AFTER_MS })
        expect(nextTry(JOB_POLICY, hinted, 1, () => 0)).toEqual({ kind: 'again', delayMs: MAX_RETRY_AFTER_MS })
    })

    it('re-runs a spilled-batch job after at least half of each ceiling, refusals too, and gives up at the 60th try', () => {
        expect(nextTry(JOB_POLICY, slow, 1, () => 0)).toEqual({ kind: 'again', delayMs: 15_000 })
        expect(nextTry(JOB_POLICY, slow, 1, () => 0.999999)).toEqual({ kind: 'again', delayMs: 29_999 })
        expect(nextTry(JOB_POLICY, denied, 3, half)).toEqual({ kind: 'again', delayMs: 90_000 })
        expect(nextTry(JOB_POLICY, slow, 59, half)).toEqual({ kind: 'again', delayMs: 2_700_000 })
        expect(nextTry(JOB_POLICY, slow, 60, half)).toEqual({ kind: 'give-up' })
    })

    it('gives a backfill object one more try at once, never waits for a hint, and hands a refusal on at once', () => {
        expect(nextTry(BACKFILL_POLICY, slow, 1, half)).toEqual({ kind: 'again', delayMs: 0 })
        expect(nextTry(BACKFILL_POLICY, hinted, 1, half)).toEqual({ kind: 'again', delayMs: 0 })
        expect(nextTry(BACKFILL_POLICY, slow, 2, half)).toEqual({ kind: 'give-up' })
        expect(nextTry(BACKFILL_POLICY, denied, 1, half)).toEqual({ kind: 'give-up' })
    })

    it('draws a random number only for a backoff', () => {
        const random = jest.fn(() => 0.5)
        nextTry(UPLOAD_POLICY, denied, 1, random)
        nextTry(BACKFILL_POLICY, denied, 1, random)
        expect(random).not.toHaveBeenCalled()
        nextTry(UPLOAD_POLICY, slow, 1, random)
        expect(random).toHaveBeenCalledTimes(1)
    })
})

describe('clampDelayMs', () => {
    it('keeps a timer delay within [0, 2^31-1] ms, in whole ms', () => {
        expect(MAX_TIMER_MS).toBe(2_147_483_647)
        expect(clampDelayMs(1_500.7)).toBe(1_500)
        expect(clampDelayMs(2 ** 31)).toBe(MAX_TIMER_MS)
        expect(clampDelayMs(Number.POSITIVE_INFINITY)).toBe(MAX_TIMER_MS)
        expect(clampDelayMs(-1)).toBe(0)
        expect(clampDelayMs(Number.NaN)).toBe(0)
    })
})
