/**
 * One worker thread's exporter, the orchestrator: filter → encode → open batch → sealed batches → uploads, one in
 * flight. Each machine is its own part; this class only wires them and answers the hooks.
 *
 *   add(event)   synchronous and promise-free (the host wraps every promise step in a 30 s host timer); never
 *                throws, also after close: the host keeps feeding an old copy during a reload
 *   seal         batcher.ts: caps, the upload interval, the memory share of open batches, close; the key is
 *                chosen at seal (sealed-batch.ts) and kept for every retry
 *   upload       upload-queue.ts: FIFO, one at a time, the one retry policy (retry-policy.ts)
 *   close        drain.ts: seals, uploads within a deadline, and hands what is left to `spill` (the host's durable
 *                job queue, hand-over.ts and spill.ts), all within the deadline
 *
 * Memory bound per thread: `bufferLimitBytes`, counted by the ledger (ledger.ts) from what is held — open batches
 * (their text, compressed output, compressor state and bookkeeping), sealed batches not yet stored, and batches on
 * their way into the job queue. Open batches may take half of it; past that the least recently used is sealed. Past
 * the whole limit the oldest sealed batch is spilled; only if spilling fails, or the queue takes so long that spills
 * in progress alone hold the limit, is a batch dropped — and then counted and reported. So memoryBytes() stays below
 * bufferLimitBytes plus what the job queue has not yet taken (itself below bufferLimitBytes): a prompt queue keeps
 * it below the limit, a slow one at most doubles it.
 */
import type { Config } from '../config'
import type { ExportableEvent } from '../event'
import type { Format } from '../formats'
import { eventIsoTime } from '../event'
import { buildPipeline, type Pipeline } from '../pipeline'
import { Reporter, type Logger } from '../health/report'
import type { Schedule } from '../host/timer'
import type { ObjectStore } from '../s3/client'
import type { S3Failure } from '../s3/failure'
import { Batcher } from './batcher'
import { Drain, type CloseReport } from './drain'
import { HandOver, type Spill } from './hand-over'
import { MemoryLedger } from './ledger'
import { UPLOAD_POLICY, type BackoffPolicy } from './retry-policy'
import { sealBatch } from './sealed-batch'
import { noStats, type ExporterStats } from './stats'
import { UploadQueue } from './upload-queue'

export type { Logger } from '../health/report'
export type { Cancel, Schedule } from '../host/timer'
export type { CloseReport } from './drain'
export { LATE_DRAIN_MS, LATE_SEAL_MS, spillReserveMs } from './drain'
export type { Spill } from './hand-over'
export { SEALED_BATCH_OVERHEAD_BYTES, type SealedBatch } from './sealed-batch'
export type { ExporterStats } from './stats'

/** Share of the memory limit open batches may hold before the least recently used one is sealed. */
export const OPEN_SHARE = 0.5

export interface ExporterOptions {
    /** resolved by parseConfig: every default is applied there, none here (maxStoredBytes is optional in Config) */
    config: Pick<
        Config,
        | 'bucket' | 'prefix' | 'format' | 'compression' | 'compressionLevel' | 'maxBatchBytes' | 'maxStoredBytes' | 'uploadIntervalMs'
        | 'bufferLimitBytes' | 'keyTemplate' | 'eventsToIgnore' | 'eventsToInclude' | 'propertiesToRemove' | 'stripPersonalData'
    >
    store: ObjectStore
    now: () => number
    /** uniform in [0, 1): backoff jitter */
    random: () => number
    /** n random bytes: batch ids */
    randomBytes: (n: number) => ArrayLike<number>
    schedule: Schedule
    log: Logger
    spill?: Spill
    /** the upload policy's backoff (UPLOAD_POLICY) unless a test shortens it */
    backoff?: BackoffPolicy
    /** wait after a fatal failure before trying the same batch again (UPLOAD_POLICY: 60 s) */
    fatalRetryMs?: number
    /** how often the same kind of problem may be logged */
    reportEveryMs?: number
    /** the encoding to use instead of the configured one (tests: a format whose bodies fail) */
    format?: Format<unknown>
    /** share rate limits with other parts that log (the setup's write check); default: one of its own */
    reporter?: Reporter
}

export class Exporter {
    private readonly counts: ExporterStats = noStats()
    private readonly pipeline: Pipeline
    private readonly ledger = new MemoryLedger()
    private readonly batcher: Batcher
    private readonly queue: UploadQueue
    private readonly handOver: HandOver
    private readonly drain: Drain

    constructor(private readonly opts: ExporterOptions) {
        const { config, now, schedule } = opts
        this.pipeline = buildPipeline(config, opts.format)
        const reporter = opts.reporter ?? new Reporter(opts.log, now, opts.reportEveryMs ?? 60_000)
        const { ledger, counts: stats, pipeline } = this
        const pendingEvents = () => this.pendingEvents()
        const policy = { ...UPLOAD_POLICY, ...opts.backoff, fatal: opts.fatalRetryMs ?? UPLOAD_POLICY.fatal }
        this.queue = new UploadQueue({ config, store: opts.store, policy, now, random: opts.random, schedule, ledger, stats, reporter, pendingEvents })
        const sealing = { layout: pipeline.layout, file: pipeline.format.file, metadata: pipeline.metadata, randomBytes: opts.randomBytes, ledger, reporter, onKept: () => this.enforceMemoryLimit() }
        this.batcher = new Batcher({
            config,
            encoding: pipeline.format,
            layout: pipeline.layout,
            ledger,
            schedule,
            now,
            onSealed: (sealed) => this.queue.push(sealBatch({ ...sealed, finalTry: this.queue.draining }, sealing)),
        })
        this.handOver = new HandOver({ spill: opts.spill, ledger, stats, reporter })
        this.drain = new Drain({ batcher: this.batcher, queue: this.queue, handOver: this.handOver, ledger, stats, reporter, schedule, now, pendingEvents })
    }

    /** What this exporter counted: read-only, the parts count. */
    get stats(): Readonly<ExporterStats> {
        return this.counts
    }

    /** onEvent: synchronous, bounded work per event. */
    add(event: ExportableEvent): void {
        this.counts.seen++
        const selector = this.pipeline.selector
        if (!selector.accepts(event)) {
            this.counts.ignored++
            return
        }
        const now = this.opts.now()
        const isoTime = eventIsoTime(event.timestamp, now)
        this.batcher.add(event, selector.shape(event), isoTime, now)
        this.enforceMemoryLimit()
        if (this.drain.isClosed) this.drain.lateEvent()
    }

    /** A periodic nudge (runEveryMinute): seals overdue batches even if their timer was lost. */
    tick(): void {
        this.batcher.sealIfOverdue(this.opts.now())
        this.queue.pump()
    }

    /** Seal what is open and resolve when every sealed batch is stored (or has failed fatally). For tests and tools. */
    flush(): Promise<void> {
        this.batcher.sealAll()
        return this.queue.settled()
    }

    /** Bytes this exporter holds: open batches, sealed batches not yet stored, and batches being spilled. */
    memoryBytes(): number {
        return this.ledger.total()
    }

    /** memoryBytes() by place: `open` + `queued` stay within the limit, `spilling` is what the job queue has not yet taken. */
    memory(): { open: number; queued: number; spilling: number } {
        // batches still compressing after they left the queue are on their way out too
        return { open: this.ledger.in('open'), queued: this.ledger.in('queued'), spilling: this.ledger.in('spilling') + this.ledger.in('finishing') }
    }

    pendingEvents(): number {
        return this.batcher.events() + this.queue.events()
    }

    /** epoch ms of the last stored object, 0 before the first */
    get lastStoredAt(): number {
        return this.queue.lastStoredAt
    }

    /** epoch ms of the first failed upload since the last stored object (0 while uploads succeed): the health event (src/health/alert.ts) reads it */
    get failingSince(): number {
        return this.queue.failingSince
    }

    /** the last failed upload's answer and what it meant; kept after a success, for the recovered event */
    get lastFailure(): { failure: S3Failure; kind: 'retry' | 'fatal' } | undefined {
        return this.queue.lastFailure
    }

    /** S3 took a write elsewhere (the write check, a job): every waiting batch is due now (upload-queue.ts). */
    resume(): void {
        this.queue.resume()
    }

    /**
     * teardownPlugin: seal, upload what can be uploaded before `deadlineMs` (epoch ms), then spill the rest, all
     * before the deadline. Idempotent; events added afterwards are stored too (see LATE_SEAL_MS).
     */
    close(deadlineMs: number): Promise<CloseReport> {
        return this.drain.close(deadlineMs)
    }

    /** Log what a drain stored, handed over or lost (drain.ts). */
    sayHandedOver(when: string, report: CloseReport): void {
        this.drain.sayHandedOver(when, report)
    }

    /**
     * Open batches over their share: seal the least recently used (it uploads like any other). The whole limit
     * crossed: spill the oldest sealed batches (never the one uploading).
     */
    private enforceMemoryLimit(): void {
        const limit = this.opts.config.bufferLimitBytes
        const ledger = this.ledger
        while (ledger.in('open') > limit * OPEN_SHARE && this.batcher.sealLeastRecentlyUsed()) {}
        // spills in progress still hold their bytes (memoryBytes() counts them), but spilling more cannot free them
        while (ledger.in('open') + ledger.in('queued') > limit) {
            const batch = this.queue.takeOldestIdle()
            if (!batch) return
            this.handOver.spillForMemory(batch, limit)
        }
    }
}
