/**
 * The one retry policy for S3 writes, as data plus pure functions. Every part that writes to S3 asks `nextTry` what
 * to do after a failed PUT: the upload queue (live batches), the backfill's objects, the spilled-batch job and the
 * write check. Each has a `RetryPolicy` value of its own (how soon, how often, whether a refusal is tried again),
 * none a rule of its own, so one test suite covers them all. Time and randomness are passed in.
 */
import { clampDelayMs } from '../host/timer'
import type { S3Failure } from '../s3/failure'

export interface BackoffPolicy {
    baseMs: number
    capMs: number
}

export interface RetryPolicy extends BackoffPolicy {
    /** share of each backoff ceiling always waited: 0 is full jitter (the default), 0.5 "equal jitter" */
    floorShare?: number
    /**
     * After a failure only the user can fix: wait this long (ms) and try again; 'give-up': no more tries here;
     * undefined: back off as after a retryable one.
     */
    fatal?: number | 'give-up'
    /** tries in all before giving up; undefined: never */
    maxAttempts?: number
    /** the longest a server's Retry-After may make us wait (MAX_RETRY_AFTER_MS unless lower) */
    maxRetryAfterMs?: number
}

/**
 * The longest a server's `Retry-After` may make us wait: one minute, the upload queue's own backoff cap. S3 itself
 * sends none; the stores and proxies that do (R2, MinIO, gateways) mean seconds. Honouring `Retry-After: 86400` would
 * park every event in memory (and past the limit, in the job queue) for a day; asking again after a minute costs one
 * request, and a server that still means it answers with another hint.
 */
export const MAX_RETRY_AFTER_MS = 60_000

/** Live batches and the write check: 1 s doubling to 1 min, full jitter; a refusal is tried again once a minute (the user may fix the settings). */
export const UPLOAD_POLICY: RetryPolicy = { baseMs: 1_000, capMs: 60_000, fatal: 60_000 }

/** The upload queue's backoff (UPLOAD_POLICY's), for callers that pass only a backoff. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: UPLOAD_POLICY.baseMs, capMs: UPLOAD_POLICY.capMs }

/**
 * A backfill page's objects: one more try at once, then the job queue takes the object (it retries for days). The
 * host's job waits for the page, and every step of it is raced against a 30 s host timer: no wait here.
 */
export const BACKFILL_POLICY: RetryPolicy = { baseMs: 0, capMs: 0, maxRetryAfterMs: 0, maxAttempts: 2, fatal: 'give-up' }

/**
 * The spilled-batch job: 30 s doubling to 1 h, at least half of each ceiling (a job re-enqueued sooner only costs
 * the queue a run), 60 tries: ~2 days before a batch is given up (and reported). A refusal backs off the same way.
 */
export const JOB_POLICY: RetryPolicy = { baseMs: 30_000, capMs: 3_600_000, floorShare: 0.5, maxAttempts: 60 }

/**
 * Capped exponential backoff with jitter (AWS architecture blog): a uniform wait in [floor, ceiling) where ceiling is
 * min(cap, base*2^(n-1)) and floor its `floorShare`. `random` is in [0, 1) and passed in so tests are exact. A
 * server's Retry-After is a floor (never retry sooner), up to MAX_RETRY_AFTER_MS; the result is always a delay a
 * timer can take (clampDelayMs).
 */
export function backoffMs(attempt: number, random: number, policy: RetryPolicy = DEFAULT_BACKOFF, retryAfterMs?: number): number {
    const ceiling = Math.min(policy.capMs, policy.baseMs * Math.pow(2, Math.max(0, attempt - 1)))
    const floorShare = policy.floorShare ?? 0
    const jittered = Math.floor((floorShare + (1 - floorShare) * random) * ceiling)
    const hint = Math.min(clampDelayMs(retryAfterMs ?? 0), policy.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS)
    return clampDelayMs(Math.max(jittered, hint))
}

export type NextTry = { kind: 'again'; delayMs: number } | { kind: 'give-up' }

/**
 * After failed try number `attempt` (1 for the first; for the upload queue, failures in a row, whichever batch):
 * try again after `delayMs`, or give up (the caller hands the object on, or reports it). `random` (uniform in [0, 1))
 * is drawn only for a backoff.
 */
export function nextTry(policy: RetryPolicy, outcome: { kind: 'retry' | 'fatal'; failure: S3Failure }, attempt: number, random: () => number): NextTry {
    if (policy.maxAttempts !== undefined && attempt >= policy.maxAttempts) return { kind: 'give-up' }
    if (outcome.kind === 'fatal' && policy.fatal === 'give-up') return { kind: 'give-up' }
    if (outcome.kind === 'fatal' && policy.fatal !== undefined) return { kind: 'again', delayMs: clampDelayMs(policy.fatal as number) }
    return { kind: 'again', delayMs: backoffMs(attempt, random(), policy, outcome.failure.retryAfterMs) }
}
