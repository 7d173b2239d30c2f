/**
 * Batches that cannot stay in memory (past the memory limit, or left at teardown) go to PostHog's durable job
 * queue, which survives restarts. A job uploads its body under a key fixed when it was queued, so a retried job
 * overwrites instead of duplicating; it re-enqueues itself with backoff while S3 refuses.
 *
 * Payload size: since late 2022 jobs travel through a Kafka topic whose messages may be at most 1,000,012 bytes
 * (PostHog Cloud; self-hosted Kafka: 1 MB), and a bigger one is refused (MessageSizeTooLarge). Every payload is kept
 * at or below 900,000 bytes of JSON. A batch too big for one payload is cut into parts of whole events, each its
 * own object: `<key without extension>-part<i>of<n><extension>`, e.g. `...-3fac8794e45c5d73-part2of5.jsonl.gz`.
 * Parts are derived from the batch's body alone, so the same batch always gives the same parts and keys; a JSON-lines
 * body is cut at its member boundaries (formats/codecs/codec.ts MEMBER_MAX_BYTES), without compressing again.
 *
 * A body that no payload can carry is parked: its bytes wait in meta.storage (PostgreSQL rows, durable like the
 * queue) in slices, and one small job joins them and PUTs the whole body under its key. Two cases need it:
 * - a batch whose upload may have landed (its PUT is in flight, or ended without an answer that says "not stored")
 *   is never cut into part objects: those would add its events a second time beside the object the PUT wrote. It
 *   keeps its key, so a late landing and the job's store are the same object, written twice with the same bytes;
 * - one event bigger than a job (PostHog ingests events up to ~1 MB; barely compressible, ~1.07 MB as base64) cannot
 *   be cut: refusing it at onEvent would lose an event S3 usually takes at once, so only its hand-over is parked.
 * Without storage, the first goes in parts and the second is offered as it is (a refusal is counted and reported).
 */
import { createHash } from 'crypto'
import { joinBody, type Body } from '../body'
import type { BodyPart, FileFormat } from '../formats'
import type { HostStorage } from '../host/storage'

export const JOB_NAME = 's3ExportUploadBatch'
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
    /** the body is not in the payload but in meta.storage: `count` slices under parkedSliceKey(id, i, count) */
    parked?: { id: string; count: number }
}

/** Storage keys are short (PostgreSQL varchar 200): the object key's hash names its slices (index 0: the "stored" mark). */
export function parkedSliceKey(id: string, index: number, count: number): string {
    return `s3-export/slice/${id}/${index}of${count}`
}

function parkId(key: string): string {
    return createHash('sha256').update(key).digest('hex').slice(0, 32)
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
    /** its upload is in flight or ended unheard: it may be stored already, so it keeps its key (see above) */
    maybeStored?: boolean
    /** hears the bytes the hand-over holds besides the body (parts, payload text), so the memory ledger counts them */
    onMemory?: (deltaBytes: number) => void
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

/** Most body bytes a payload for `batch`'s parts can carry within `limit` (the longest part key and its metadata bound every envelope). */
function maxPartBodyBytes(batch: SpillableBatch, limit: number): number {
    const longest = partKey(batch.key, batch.file.extension, 99_999, 99_999)
    const partMeta = { ...batch.metadata, 'event-count': String(batch.events), part: '99999/99999' }
    const envelope = payloadBytes(longest, 0, batch.file, partMeta)
    return Math.floor(((limit - envelope) / 4) * 3)
}

/**
 * How a batch goes to the queue: one payload when it fits; parked under its own key when it does not and may be
 * stored already; else parts under part keys (made by the format's split, at member boundaries).
 */
export function handOverPlan(batch: SpillableBatch, limit = MAX_JOB_PAYLOAD_BYTES): Promise<{ kind: 'whole' | 'parts' | 'parked'; parts: BodyPart[] }> {
    if (payloadBytes(batch.key, batch.body.length, batch.file, batch.metadata) <= limit) {
        return Promise.resolve({ kind: 'whole' as const, parts: [] })
    }
    if (batch.maybeStored) return Promise.resolve({ kind: 'parked' as const, parts: [] })
    return batch.split(batch.body, maxPartBodyBytes(batch, limit)).then((parts) => ({ kind: 'parts' as const, parts }))
}

/** Every payload of a batch at once, as parts or whole (tests; the hand-over makes them one at a time). */
export function toPayloads(batch: SpillableBatch, limit = MAX_JOB_PAYLOAD_BYTES): Promise<SpilledBatchPayload[]> {
    return handOverPlan({ ...batch, maybeStored: false }, limit).then(({ kind, parts }) =>
        kind === 'whole' ? [payload(batch.key, batch.body, batch.events, batch.file, batch.metadata)] : parts.map((part, i) => {
                  const [key, body, events, metadata] = partOf(batch, part, i, parts.length)
                  return payload(key, body, events, batch.file, metadata)
              })
    )
}

/** Part `i` (0-based) of `n`: its key, body, events and metadata. */
function partOf(batch: SpillableBatch, part: BodyPart, i: number, n: number): [string, Body, number, Record<string, string>] {
    const metadata = { ...batch.metadata, 'event-count': String(part.events), part: `${i + 1}/${n}` }
    return [partKey(batch.key, batch.file.extension, i + 1, n), part.body, part.events, metadata]
}

/**
 * Hand a batch to the job queue: every payload is offered, one after another; refusals are counted by events.
 * `storage`: where bodies no payload can carry are parked (see above).
 */
export function spillBatch(batch: SpillableBatch, enqueue: Enqueue, delaySeconds = 30, storage?: HostStorage, limit = MAX_JOB_PAYLOAD_BYTES): Promise<SpillOutcome> {
    const outcome: SpillOutcome = { accepted: 0, refused: 0, jobs: 0 }
    const held = (delta: number) => batch.onMemory?.(delta)
    const refuse = (events: number) => (error: unknown) => {
        outcome.refused += events
        outcome.why = outcome.why ?? String((error as Error)?.message ?? error)
        return false
    }
    /** offer one payload; resolves whether the queue took it */
    const offer = (p: SpilledBatchPayload): Promise<boolean> => {
        // the payload's text: base64 of the body, then the host's JSON of it
        const bytes = 2 * p.bodyBase64.length
        held(bytes)
        return enqueue(p, delaySeconds)
            .then(() => {
                outcome.accepted += p.events
                outcome.jobs++
                return true
            }, refuse(p.events))
            .finally(() => held(-bytes))
    }
    /** a body under its key: in one payload when it fits, else parked when storage allows */
    const offerBody = (key: string, body: Body, events: number, metadata: Record<string, string>): Promise<unknown> =>
        storage && payloadBytes(key, body.length, batch.file, metadata) > limit
            ? park(key, body, events, batch.file, metadata, storage, maxPartBodyBytes(batch, limit), offer)
            : offer(payload(key, body, events, batch.file, metadata))
    return handOverPlan(batch, limit).then(({ kind, parts }) => {
        if (kind === 'whole' || (kind === 'parked' && storage)) return offerBody(batch.key, batch.body, batch.events, batch.metadata).then(() => outcome)
        // may be stored but no storage to park in: parts, the lesser harm than losing the events
        const cut = kind === 'parts' ? Promise.resolve(parts) : batch.split(batch.body, maxPartBodyBytes(batch, limit))
        return cut.then((all) => {
            const partBytes = all.reduce((n, p) => n + p.body.length, 0)
            held(partBytes)
            return all
                .reduce<Promise<unknown>>((chain, part, i) => chain.then(() => offerBody(...partOf(batch, part, i, all.length))), Promise.resolve())
                .then(
                    () => outcome,
                    (error: unknown) => {
                        refuse(batch.events - outcome.accepted - outcome.refused)(error)
                        return outcome
                    }
                )
                .finally(() => held(-partBytes))
        })
    })
}

/**
 * Park a body: its slices into meta.storage one by one, then the one job that joins them and stores it under `key`.
 * A refused job leaves no slices behind (nothing would ever read them).
 */
function park(
    key: string,
    body: Body,
    events: number,
    file: FileFormat,
    metadata: Record<string, string>,
    storage: HostStorage,
    sliceBytes: number,
    offer: (p: SpilledBatchPayload) => Promise<boolean>
): Promise<void> {
    const id = parkId(key)
    const whole = joinBody(body)
    const count = Math.max(1, Math.ceil(whole.length / sliceBytes))
    const keys = Array.from({ length: count }, (_, i) => parkedSliceKey(id, i + 1, count))
    return keys
        .reduce<Promise<void>>((chain, k, i) => chain.then(() => storage.set(k, whole.subarray(i * sliceBytes, (i + 1) * sliceBytes).toString('base64'))), Promise.resolve())
        .then(() => offer({ ...payload(key, Buffer.alloc(0), events, file, metadata), parked: { id, count } }))
        .then((taken) => {
            if (!taken) return Promise.all(keys.map((k) => storage.del(k))).then(() => undefined)
        })
}
