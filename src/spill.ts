/**
 * Batches that cannot stay in memory (past the memory limit, or left at teardown) go to PostHog's durable job
 * queue, which survives restarts. A job uploads its body under a key fixed when it was queued, so a retried job
 * overwrites instead of duplicating; it re-enqueues itself with backoff while S3 refuses.
 *
 * Payload size: since late 2022 jobs travel through a Kafka topic whose messages may be at most 1,000,012 bytes
 * (PostHog Cloud; self-hosted Kafka: 1 MB), and a bigger one is refused (MessageSizeTooLarge). Every payload is kept
 * at or below 900,000 bytes of JSON. A batch too big for one payload is cut into parts of whole events, each its
 * own object: `<key without extension>-part<i>of<n><extension>`, e.g. `...-3fac8794e45c5d73-part2of5.jsonl.gz`.
 * Parts are derived from the batch's body alone, so the same batch always gives the same parts and keys.
 */
import { joinBody, type Body } from './body'
import type { FileFormat } from './compression'
import type { BodyPart } from './formats'
import type { Logger } from './report'
import { backoffMs, describeFailure, fixFor, type BackoffPolicy } from './retry'
import type { ObjectStore } from './s3'

export const JOB_NAME = 's3ExportUploadBatch'
/** 30 s doubling to 1 h: ~2 days of tries before a batch is given up (and reported). */
export const JOB_BACKOFF: BackoffPolicy = { baseMs: 30_000, capMs: 3_600_000 }
export const JOB_MAX_ATTEMPTS = 60
/** below Kafka's 1,000,012-byte message limit with room for the host's own envelope around our payload */
export const MAX_JOB_PAYLOAD_BYTES = 900_000

export interface SpilledBatchPayload {
    key: string
    /** the compressed body, base64: job payloads are JSON */
    bodyBase64: string
    events: number
    contentType: string
    contentEncoding?: string
    /** the object's x-amz-meta-* (event count, event time range, app version; part i/n for parts) */
    metadata?: Record<string, string>
    /** how many times a job has tried this batch */
    attempt: number
}

/** Enqueue a job run after `delaySeconds` (meta.jobs[JOB_NAME](payload).runIn(delay, 'seconds')). */
export type Enqueue = (payload: SpilledBatchPayload, delaySeconds: number) => Promise<void>

/** What the exporter hands over: one sealed batch with its body, and how to cut it if it is too big. */
export interface SpillableBatch {
    key: string
    body: Body
    events: number
    file: FileFormat
    metadata: Record<string, string>
    split(body: Body, maxBodyBytes: number): Promise<BodyPart[]>
}

export interface SpillOutcome {
    /** events in payloads the queue accepted */
    accepted: number
    /** events in payloads it refused (or that failed), with the first reason */
    refused: number
    why?: string
    jobs: number
}

function payload(key: string, body: Body, events: number, file: FileFormat, metadata: Record<string, string>): SpilledBatchPayload {
    // a job payload is JSON text: the body as one Buffer once, here (rare: only what S3 did not take)
    return { key, bodyBase64: joinBody(body).toString('base64'), events, contentType: file.contentType, contentEncoding: file.contentEncoding, metadata, attempt: 0 }
}

/** JSON size of a payload for a body of `bodyBytes`, without building its base64. */
function payloadBytes(key: string, bodyBytes: number, file: FileFormat, metadata: Record<string, string>): number {
    const shell = Buffer.byteLength(JSON.stringify(payload(key, Buffer.alloc(0), 0, file, metadata)), 'utf8')
    return shell + 4 * Math.ceil(bodyBytes / 3) + 16 // digits of the event count and attempt
}

export function partKey(key: string, extension: string, index: number, count: number): string {
    const stem = key.endsWith(extension) ? key.slice(0, key.length - extension.length) : key
    return `${stem}-part${index}of${count}${key.endsWith(extension) ? extension : ''}`
}

/** The payloads of one batch, each at most `limit` bytes of JSON: one when it fits, else one per part. */
export function toPayloads(batch: SpillableBatch, limit = MAX_JOB_PAYLOAD_BYTES): Promise<SpilledBatchPayload[]> {
    if (payloadBytes(batch.key, batch.body.length, batch.file, batch.metadata) <= limit) {
        return Promise.resolve([payload(batch.key, batch.body, batch.events, batch.file, batch.metadata)])
    }
    // the longest part key and its metadata bound every part's envelope
    const longest = partKey(batch.key, batch.file.extension, 99_999, 99_999)
    const partMeta = { ...batch.metadata, 'event-count': String(batch.events), part: '99999/99999' }
    const envelope = payloadBytes(longest, 0, batch.file, partMeta)
    const maxBody = Math.floor(((limit - envelope) / 4) * 3)
    return batch.split(batch.body, maxBody).then((parts) =>
        parts.map((part, i) =>
            payload(partKey(batch.key, batch.file.extension, i + 1, parts.length), part.body, part.events, batch.file, {
                ...batch.metadata,
                'event-count': String(part.events),
                part: `${i + 1}/${parts.length}`,
            })
        )
    )
}

/** Hand a batch to the job queue: every payload is offered, one after another; refusals are counted by events. */
export function spillBatch(batch: SpillableBatch, enqueue: Enqueue, delaySeconds = 30): Promise<SpillOutcome> {
    return toPayloads(batch).then((payloads) => {
        const outcome: SpillOutcome = { accepted: 0, refused: 0, jobs: 0 }
        return payloads
            .reduce<Promise<void>>(
                (done, p) =>
                    done.then(() =>
                        enqueue(p, delaySeconds).then(
                            () => {
                                outcome.accepted += p.events
                                outcome.jobs++
                            },
                            (error: unknown) => {
                                outcome.refused += p.events
                                outcome.why = outcome.why ?? String((error as Error)?.message ?? error)
                            }
                        )
                    ),
                Promise.resolve()
            )
            .then(() => outcome)
    })
}

export interface JobResult {
    outcome: 'stored' | 'requeued' | 'dropped'
}

/** The job: one upload attempt; on failure, the same payload again later, until JOB_MAX_ATTEMPTS. */
export function runSpilledBatch(
    payload: SpilledBatchPayload,
    deps: { store: ObjectStore; enqueue: Enqueue; random: () => number; log: Pick<Logger, 'info' | 'error'>; bucket: string; prefix?: string }
): Promise<JobResult> {
    const where = { bucket: deps.bucket, prefix: deps.prefix ?? '' }
    return deps.store
        .put({
            key: payload.key,
            body: Buffer.from(payload.bodyBase64, 'base64'),
            contentType: payload.contentType,
            contentEncoding: payload.contentEncoding,
            metadata: payload.metadata,
        })
        .then((outcome) => {
            if (outcome.kind === 'ok') {
                deps.log.info(`S3 Export: stored ${payload.key} (${payload.events} events) from the job queue`)
                return { outcome: 'stored' as const }
            }
            const attempt = payload.attempt + 1
            const why = describeFailure(outcome.failure)
            if (attempt >= JOB_MAX_ATTEMPTS) {
                deps.log.error(
                    `S3 Export gave up on ${payload.key}: ${payload.events} events were not stored after ${attempt} tries from the job queue (last: ${why}; ${fixFor(outcome.failure, where)})`
                )
                return { outcome: 'dropped' as const }
            }
            const delaySeconds = Math.max(1, Math.round(backoffMs(attempt, 0.5 + deps.random() / 2, JOB_BACKOFF, outcome.failure.retryAfterMs) / 1000))
            if (outcome.kind === 'fatal') {
                deps.log.error(`S3 Export cannot write ${payload.key} to bucket ${deps.bucket}: ${fixFor(outcome.failure, where)} (S3 said: ${why}); trying again in ${delaySeconds} s`)
            }
            return deps.enqueue({ ...payload, attempt }, delaySeconds).then(() => ({ outcome: 'requeued' as const }))
        })
}
