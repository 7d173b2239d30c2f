/**
 * A job payload bigger than the job queue takes is refused (Kafka since late 2022: MessageSizeTooLarge past
 * 1,000,012 bytes a message). spill.ts cuts a batch into parts of whole events, but one event alone can be bigger
 * than a job: PostHog ingests events up to ~1 MB, and a barely compressible one is ~1.07 MB once its gzip body is
 * base64 in a job's JSON. Refusing such events at onEvent would lose them although S3 usually takes them at once,
 * so only the hand-over changes: the body is kept in the app's storage (`meta.storage`: PostgreSQL rows, durable
 * like the job queue, with no size limit that matters here) and the job carries a reference to it. The job reads
 * the body back, and deletes it once the object is stored or given up.
 */
import { createHash } from 'crypto'
import { MAX_JOB_PAYLOAD_BYTES, type Enqueue, type SpilledBatchPayload } from './spill'

/** The host's meta.storage: the three calls used here. */
export interface BodyStorage {
    get(key: string, defaultValue: unknown): Promise<unknown>
    set(key: string, value: unknown): Promise<void>
    del(key: string): Promise<void>
}

/** A job payload whose body may be in storage: then `bodyBase64` is empty and `bodyInStorage` names the row. */
export interface JobPayload extends SpilledBatchPayload {
    bodyInStorage?: string
}

/** Storage keys of kept bodies: the object key's SHA-256, since storage keys are short (PostHog: 200 characters). */
export const BODY_KEY_PREFIX = 's3_export_job_body/'

export function bodyStorageKey(objectKey: string): string {
    return BODY_KEY_PREFIX + createHash('sha256').update(objectKey).digest('hex')
}

/** JSON bytes of a payload, the body counted without stringifying it twice (base64 is ASCII: one byte a character). */
function payloadBytes(payload: JobPayload): number {
    return Buffer.byteLength(JSON.stringify({ ...payload, bodyBase64: '' })) + payload.bodyBase64.length
}

/**
 * `enqueue`, but a payload over `limit` goes with its body in storage. A retried job (its body already there) is
 * re-queued with the reference alone, without writing the body again.
 */
export function fitToQueue(enqueue: Enqueue, storage: BodyStorage, limit = MAX_JOB_PAYLOAD_BYTES): Enqueue {
    return (payload: JobPayload, delaySeconds) => {
        if (payload.bodyInStorage) return enqueue({ ...payload, bodyBase64: '' } as JobPayload, delaySeconds)
        if (payloadBytes(payload) <= limit) return enqueue(payload, delaySeconds)
        const key = bodyStorageKey(payload.key)
        return storage.set(key, payload.bodyBase64).then(() =>
            enqueue({ ...payload, bodyBase64: '', bodyInStorage: key } as JobPayload, delaySeconds).catch((error: unknown) =>
                // the queue refused the job: nothing will read the body, so it must not stay in storage
                storage.del(key).then(
                    () => Promise.reject(error),
                    () => Promise.reject(error)
                )
            )
        )
    }
}

/**
 * The payload with its body, read back from storage when it was kept there; undefined when it is no longer there
 * (an earlier run of the same job stored the object and deleted it).
 */
export function withBody(payload: JobPayload, storage: BodyStorage | undefined): Promise<JobPayload | undefined> {
    const key = payload.bodyInStorage
    if (!key) return Promise.resolve(payload)
    if (!storage) return Promise.reject(new Error(`S3 Export: the body of ${payload.key} is in the app's storage, which this host does not offer`))
    return storage.get(key, null).then((body) => (typeof body === 'string' && body.length > 0 ? { ...payload, bodyBase64: body } : undefined))
}

/** The job is over (stored, or given up): its kept body is not needed any more. */
export function forgetBody(payload: JobPayload, storage: BodyStorage | undefined): Promise<void> {
    if (!payload.bodyInStorage || !storage) return Promise.resolve()
    return storage.del(payload.bodyInStorage)
}
