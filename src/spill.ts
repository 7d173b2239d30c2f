/**
 * Batches that cannot stay in memory (past the memory limit, or left at teardown) go to PostHog's durable job
 * queue (PostgreSQL), which survives restarts. The job uploads the batch under its original key, so a batch that
 * also landed from memory is overwritten, never duplicated. It re-enqueues itself with backoff while S3 refuses.
 */
import { backoffMs, fixFor, type BackoffPolicy } from './retry'
import type { ObjectStore } from './s3'

export const JOB_NAME = 's3ExportUploadBatch'
/** 30 s doubling to 1 h: ~2 days of tries before a batch is given up (and reported). */
export const JOB_BACKOFF: BackoffPolicy = { baseMs: 30_000, capMs: 3_600_000 }
export const JOB_MAX_ATTEMPTS = 60

export interface SpilledBatchPayload {
    key: string
    /** the compressed body, base64: job payloads are JSON */
    bodyBase64: string
    events: number
    contentType: string
    contentEncoding?: string
    /** how many times a job has tried this batch */
    attempt: number
}

/** Enqueue a job run after `delaySeconds` (meta.jobs[JOB_NAME](payload).runIn(delay, 'seconds')). */
export type Enqueue = (payload: SpilledBatchPayload, delaySeconds: number) => Promise<void>

export function toPayload(batch: { key: string; body: Buffer; events: number; contentType: string; contentEncoding?: string }): SpilledBatchPayload {
    return {
        key: batch.key,
        bodyBase64: batch.body.toString('base64'),
        events: batch.events,
        contentType: batch.contentType,
        contentEncoding: batch.contentEncoding,
        attempt: 0,
    }
}

export interface JobResult {
    outcome: 'stored' | 'requeued' | 'dropped'
}

/** The job: one upload attempt; on failure, the same payload again later, until JOB_MAX_ATTEMPTS. */
export function runSpilledBatch(
    payload: SpilledBatchPayload,
    deps: { store: ObjectStore; enqueue: Enqueue; random: () => number; log: { info(m: string): void; error(m: string): void }; bucket: string }
): Promise<JobResult> {
    return deps.store
        .put({ key: payload.key, body: Buffer.from(payload.bodyBase64, 'base64'), contentType: payload.contentType, contentEncoding: payload.contentEncoding })
        .then((outcome) => {
            if (outcome.kind === 'ok') {
                deps.log.info(`S3 Export: stored ${payload.key} (${payload.events} events) from the job queue`)
                return { outcome: 'stored' as const }
            }
            const attempt = payload.attempt + 1
            const why = `${outcome.failure.statusCode ?? ''} ${outcome.failure.code}`.trim()
            if (attempt >= JOB_MAX_ATTEMPTS) {
                deps.log.error(
                    `S3 Export gave up on ${payload.key}: ${payload.events} events were not stored after ${attempt} tries from the job queue (last: ${why}; ${fixFor(outcome.failure)})`
                )
                return { outcome: 'dropped' as const }
            }
            const delaySeconds = Math.max(1, Math.round(backoffMs(attempt, 0.5 + deps.random() / 2, JOB_BACKOFF, outcome.failure.retryAfterMs) / 1000))
            if (outcome.kind === 'fatal') {
                deps.log.error(`S3 Export cannot write ${payload.key} to bucket ${deps.bucket}: ${fixFor(outcome.failure)} (S3 said: ${why}); trying again in ${delaySeconds} s`)
            }
            return deps.enqueue({ ...payload, attempt }, delaySeconds).then(() => ({ outcome: 'requeued' as const }))
        })
}
