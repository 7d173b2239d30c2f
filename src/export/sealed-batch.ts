/**
 * A sealed batch: its key (chosen at seal and kept for every retry and hand-over), its metadata, and its body once
 * the compressor has made it. A body that cannot be made is re-encoded another way when the format can, or the
 * batch is marked unusable (the upload queue sets it aside, counted and reported).
 */
import type { Body } from '../body'
import type { FileFormat } from '../formats'
import type { SealedBody } from '../formats'
import { batchId, type KeyLayout } from '../event'
import type { BatchSummary } from '../pipeline'
import type { Reporter } from '../health/report'
import type { S3Failure } from '../s3/failure'
import type { Holding, MemoryLedger } from './ledger'

/**
 * Bookkeeping of one sealed batch until it is stored: its key, metadata, promises and closures (measured ~2.1 KB a
 * batch with 2,400 small batches queued). Counted so that many small batches are bounded like a few large ones.
 */
export const SEALED_BATCH_OVERHEAD_BYTES = 2048

export interface SealedBatch {
    key: string
    events: number
    file: FileFormat
    /** x-amz-meta-* of the object: event count, first and last event time, app version */
    metadata: Record<string, string>
    rawBytes: number
    /** epoch ms the batch was sealed */
    sealedAt: number
    /** the body once made (or its stand-in from the fallback encoding) */
    body?: Body
    /** why no body could be made at all: the batch is set aside */
    unusable?: string
    /** resolves (never rejects) once `body` or `unusable` is set */
    ready: Promise<void>
    sealed: SealedBody
    holding: Holding
    attempts: number
    /** epoch ms before which the batch is not tried again */
    notBefore: number
    lastFailure?: S3Failure
    /** what the last attempt said: flush() waits out 'retry', not 'fatal' (only the user can fix that) */
    lastOutcome?: 'retry' | 'fatal'
    /** sealed or queued during a drain: skip backoff, one try, then park for the drain's spill */
    finalTry?: boolean
    parked?: boolean
    /** a PUT of it started and no answer since said "not stored": it may be in S3 already, so a hand-over keeps its key */
    maybeStored?: boolean
}

export interface SealDeps {
    layout: KeyLayout
    file: FileFormat
    metadata: (batch: BatchSummary) => Record<string, string>
    /** n random bytes: batch ids */
    randomBytes: (n: number) => ArrayLike<number>
    ledger: MemoryLedger
    reporter: Reporter
    /** a body was made that is held beside what it was made from (Parquet): the memory limit must hold then too */
    onKept: () => void
}

/** What the batcher hands over at seal: the partition, the open batch's summary, its sealed body and its holding (already 'queued'). */
export interface Sealing {
    partition: string
    summary: BatchSummary & { rawBytes: number }
    sealed: SealedBody
    holding: Holding
    sealedAt: number
    finalTry: boolean
}

export function sealBatch(s: Sealing, deps: SealDeps): SealedBatch {
    deps.ledger.grow(s.holding, SEALED_BATCH_OVERHEAD_BYTES)
    const batch: SealedBatch = {
        key: deps.layout.render({ partition: s.partition, sealedAt: new Date(s.sealedAt), batchId: batchId(deps.randomBytes(8)) }),
        events: s.summary.events,
        file: deps.file,
        metadata: deps.metadata(s.summary),
        rawBytes: s.summary.rawBytes,
        sealedAt: s.sealedAt,
        sealed: s.sealed,
        holding: s.holding,
        ready: Promise.resolve(),
        attempts: 0,
        notBefore: 0,
        finalTry: s.finalTry,
    }
    batch.ready = s.sealed.body
        .then(
            (body) => {
                gotBody(batch, body, s.sealed.keptBytes, deps.ledger)
                // a Parquet body is made at seal and held beside its rows: the limit must hold then too, not
                // only at the next event
                if (s.sealed.keptBytes > 0) deps.onKept()
            },
            (error: unknown) => recover(batch, error, deps)
        )
        .then(() => {
            // taken out of the queue before its body was ready: held until now
            if (batch.holding.place === 'finishing') deps.ledger.move(batch.holding, 'gone')
        })
    return batch
}

/** The batch's memory is now its body (JSON lines: the compressor's output, already counted) plus what it keeps. */
function gotBody(batch: SealedBatch, body: Body, keptBytes: number, ledger: MemoryLedger): void {
    batch.body = body
    ledger.resize(batch.holding, body.length + keptBytes + SEALED_BATCH_OVERHEAD_BYTES)
}

/**
 * A body that cannot be made (a compressor error, a value Parquet refuses) must not block the queue or crash the
 * host: re-encode the events another way when the format can (Parquet → gzipped JSON lines), else set the batch
 * aside, counted as dropped and reported.
 */
function recover(batch: SealedBatch, error: unknown, deps: SealDeps): Promise<void> {
    const why = String((error as Error)?.message ?? error)
    const fallback = batch.sealed.fallback
    if (!fallback) {
        batch.unusable = why
        return Promise.resolve()
    }
    return fallback().then(
        ({ body, file, split }) => {
            const oldKey = batch.key
            batch.key = (batch.key.endsWith(batch.file.extension) ? batch.key.slice(0, -batch.file.extension.length) : batch.key) + file.extension
            batch.file = file
            // a hand-over cuts this body, not the one that could not be made
            batch.sealed = { ...batch.sealed, split }
            gotBody(batch, body, 0, deps.ledger)
            deps.reporter.report(
                'fallback',
                `S3 Export could not encode ${oldKey} (${why}); its ${batch.events} events are stored as JSON lines in ${batch.key} instead`
            )
        },
        (second: unknown) => {
            batch.unusable = `${why}; as JSON lines: ${String((second as Error)?.message ?? second)}`
        }
    )
}
