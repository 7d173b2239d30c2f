/**
 * One worker thread's exporter: filter → encode → open batch → sealed batches → uploads, one in flight.
 *
 *   add(event)   synchronous and promise-free (the host wraps every promise step in a 30 s host timer); never
 *                throws, also after close: the host keeps feeding an old copy during a reload
 *   seal         when the batch's raw bytes reach the cap, when its oldest event has waited the interval, when
 *                open batches take more than half the memory limit (least recently used first), or at close;
 *                the key is chosen here and kept for every retry
 *   upload       FIFO, one at a time; retryable failures back off with full jitter, fatal ones are reported
 *                (once a minute, not once per event) and kept, because the user may fix the settings
 *   close        seals, waits for uploads within a deadline, tries pending batches once more, and hands what is
 *                left to `spill` (the host's durable job queue), all within the deadline. Events that arrive
 *                during a drain go with its hand-over; later ones are sealed within a second and drained the same way.
 *
 * Memory bound per thread: `bufferLimitBytes`, counted from what is held — open batches (their text, compressed
 * output, compressor state and bookkeeping), sealed batches not yet stored, and batches on their way into the job
 * queue. Open batches may take half of it; past that the least recently used is sealed. Past the whole limit the
 * oldest sealed batch is spilled; only if spilling fails, or the queue takes so long that spills in progress alone
 * hold the limit, is a batch dropped — and then counted and reported. So memoryBytes() stays below
 * bufferLimitBytes plus what the job queue has not yet taken (itself below bufferLimitBytes): a prompt queue keeps
 * it below the limit, a slow one at most doubles it.
 */
import type { Body } from './body'
import type { FileFormat } from './compression'
import type { Batch, Format, SealedBody } from './formats'
import type { Config } from './config'
import type { EventSelector, ExportableEvent } from './events'
import { batchId, eventIsoTime, type KeyLayout } from './keys'
import { buildPipeline, type Pipeline } from './pipeline'
import { Reporter, type Logger } from './report'
import { backoffMs, DEFAULT_BACKOFF, describeFailure, fixFor, type BackoffPolicy, type S3Failure } from './retry'
import type { ObjectStore, PutOutcome } from './s3'
import type { SpillableBatch, SpillOutcome } from './spill'
import { isHostTimeout, type Cancel, type Schedule } from './host/timer'

export type { Logger } from './report'
export type { Cancel, Schedule } from './host/timer'

/** Where a batch's bytes are counted: memory is a running total per place, never a per-event sum. */
/** 'finishing': out of the queue (stored, dropped, handed over) while its compressor still works: still held */
type Place = 'open' | 'queued' | 'spilling' | 'finishing' | 'gone'

/** A batch's share of memory, updated by its compressor's callbacks and moved between places. */
interface Holding {
    bytes: number
    place: Place
}

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

/** Hand a batch to durable storage (PostHog's job queue): how many of its events were accepted, how many refused. */
export type Spill = (batch: SpillableBatch) => Promise<SpillOutcome>

/**
 * Bookkeeping of one sealed batch until it is stored: its key, metadata, promises and closures (measured ~2.1 KB a
 * batch with 2,400 small batches queued). Counted so that many small batches are bounded like a few large ones.
 */
export const SEALED_BATCH_OVERHEAD_BYTES = 2048

/** Share of the memory limit open batches may hold before the least recently used one is sealed. */
export const OPEN_SHARE = 0.5

/** Events that arrive after close (and after any drain's hand-over) are sealed this long after the first of them, then drained like at close. */
export const LATE_SEAL_MS = 1_000
/** ... within this budget (the host is not waiting: it is loading the new copy, seconds at least) */
export const LATE_DRAIN_MS = 4_500

/**
 * Of a drain's budget, the part kept at its end to hand what is left to the job queue: a quarter, at most 500 ms, and
 * more when there is much to hand over (bodies are sliced, not re-compressed, but each job's payload is still base64
 * and JSON text: 100 ms a MB, generous for a busy machine), up to half the budget.
 */
export function spillReserveMs(budgetMs: number, handOverBytes = 0): number {
    const budget = Math.max(0, budgetMs)
    return Math.min(Math.max(Math.min(500, budget / 4), handOverBytes / 10_000), budget / 2)
}

/** Room kept below the stored-size cap for the compressor's own framing (headers, block ends, trailer). */
const STORED_CAP_MARGIN = 1024

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
    backoff?: BackoffPolicy
    /** wait after a fatal failure before trying the same batch again */
    fatalRetryMs?: number
    /** how often the same kind of problem may be logged */
    reportEveryMs?: number
    /** the encoding to use instead of the configured one (tests: a format whose bodies fail) */
    format?: Format<unknown>
    /** share rate limits with other parts that log (the setup's write check); default: one of its own */
    reporter?: Reporter
}

export interface ExporterStats {
    seen: number
    ignored: number
    /** events stored in S3 */
    delivered: number
    objects: number
    bytesStored: number
    retries: number
    failures: number
    /** events handed to the job queue */
    spilled: number
    /** events lost for good (memory limit with no job queue, a refusing queue, a body that could not be made) — always reported */
    dropped: number
    /** events received after close (a reload's old copy): stored like the others */
    late: number
}

/** What one close() (or late drain) did, counted over that call only. */
export interface CloseReport {
    delivered: number
    spilled: number
    /** job payloads the spilled events went into */
    jobs: number
    dropped: number
    /** events whose hand-over to the job queue had not finished at the deadline (they may still arrive there) */
    unconfirmed: number
    pendingEvents: number
    timedOut: boolean
}

export class Exporter {
    readonly stats: ExporterStats = { seen: 0, ignored: 0, delivered: 0, objects: 0, bytesStored: 0, retries: 0, failures: 0, spilled: 0, dropped: 0, late: 0 }
    /** open batches by partition ('' when the layout has no event tokens); in least-recently-used order */
    private readonly open = new Map<string, { batch: Batch<unknown>; holding: Holding }>()
    /** the partition used last: re-inserting it in `open` (LRU order) is skipped when it is used again */
    private lastPartition?: string
    /** epoch ms the oldest open batch was opened: the flush window counts from here */
    private windowOpenedAt = 0
    /** fires when the window's oldest event has waited the interval: every open batch is sealed then */
    private openTimer?: Cancel
    /** sealed batches not yet stored, oldest first; the head is the one being uploaded or waiting to retry */
    private readonly queue: SealedBatch[] = []
    /** the upload in flight: at most one, so uploads never overlap and order is kept; cleared only once its PUT settled */
    private inflight?: { batch: SealedBatch; done: Promise<unknown> }
    /** wakes the pump when the head batch's backoff has passed */
    private retryTimer?: Cancel
    private retryTimerAt = 0
    /** close() was called: later events are drained within LATE_DRAIN_MS of arriving */
    private closed = false
    /** drains running now (close, late events): batches skip backoff and get one try before being spilled */
    private drains = 0
    private lateTimer?: Cancel
    /** a drain is sealing for its hand-over: no upload starts (what it seals goes to the job queue at once) */
    private handingOver = false
    /**
     * Failed uploads in a row, whichever batch: the backoff grows with it, so spilling a backing-off batch does not
     * restart the next one at 1 s during a long outage. Reset by any success.
     */
    private failuresInARow = 0
    /** bytes held per place, kept up to date by each batch's holding (checked on every event: O(1)) */
    private readonly bytes: Record<Place, number> = { open: 0, queued: 0, spilling: 0, finishing: 0, gone: 0 }
    /** bytes of bodies offered to the job queue and not yet taken: past the limit the queue is not keeping up */
    private bodiesWithQueue = 0
    /** the last hand-over to the job queue: the next starts after it (hand-overs run one at a time) */
    private spillChain: Promise<void> = Promise.resolve()
    /** spills on their way into the job queue: close() waits for them within its deadline */
    private readonly spills = new Map<Promise<void>, number>()
    /** epoch ms before which no batch is tried: S3 is backing us off, whichever batch comes next (spills included) */
    private backoffUntil = 0
    private readonly reporter: Reporter
    private readonly format: FileFormat
    private readonly encoding: Format<unknown>
    /** flush() and close() waiting for a condition, checked whenever the pump stops */
    private idleWaiters: Array<{ ready: () => boolean; resolve: () => void }> = []

    private readonly pipeline: Pipeline
    private readonly layout: KeyLayout
    private readonly selector: EventSelector

    constructor(private readonly opts: ExporterOptions) {
        const config = opts.config
        this.pipeline = buildPipeline(config, opts.format)
        this.encoding = this.pipeline.format
        this.format = this.encoding.file
        this.layout = this.pipeline.layout
        this.selector = this.pipeline.selector
        this.reporter = opts.reporter ?? new Reporter(opts.log, opts.now, opts.reportEveryMs ?? 60_000)
    }

    /** onEvent: synchronous, bounded work per event. */
    add(event: ExportableEvent): void {
        this.stats.seen++
        if (!this.selector.accepts(event)) {
            this.stats.ignored++
            return
        }
        const now = this.opts.now()
        const isoTime = eventIsoTime(event.timestamp, now)
        const { payload, bytes } = this.encoding.measure(this.selector.shape(event), isoTime)
        const partition = this.layout.partitionOf(event, isoTime)
        let entry = this.open.get(partition)
        // Seal before a cap would be crossed, so each object stays within it (a single larger event goes alone).
        if (entry && this.wouldOverflow(entry.batch, bytes)) {
            this.sealPartition(partition)
            entry = undefined
        }
        if (!entry) entry = this.openPartition(partition, now)
        else if (partition !== this.lastPartition) {
            // move to the most recently used end
            this.open.delete(partition)
            this.open.set(partition, entry)
        }
        this.lastPartition = partition
        entry.batch.add(payload, bytes, isoTime)
        if (entry.batch.rawBytes >= this.opts.config.maxBatchBytes) this.sealPartition(partition)
        this.sealIfOverdue(now)
        this.enforceMemoryLimit()
        if (this.closed) {
            this.stats.late++
            // a drain running now hands this event over with the rest (drain() arms the timer for any after it)
            if (this.drains === 0) this.drainLateEvents()
        }
    }

    /** A periodic nudge (runEveryMinute): seals overdue batches even if their timer was lost. */
    tick(): void {
        this.sealIfOverdue(this.opts.now())
        this.pump()
    }

    /** The window's oldest event has waited the interval: seal every open batch (its timer may have been lost). */
    private sealIfOverdue(now: number): void {
        if (this.open.size > 0 && now - this.windowOpenedAt >= this.opts.config.uploadIntervalMs) this.sealAll()
    }

    /** Seal what is open and resolve when every sealed batch is stored (or has failed fatally). For tests and tools. */
    flush(): Promise<void> {
        this.sealAll()
        // the rest of the queue waits behind its head, so a fatally refused head means nothing more can happen now
        return this.when(() => !this.inflight && (this.queue.length === 0 || this.queue[0].lastOutcome === 'fatal'))
    }

    /** Bytes this exporter holds: open batches, sealed batches not yet stored, and batches being spilled. */
    memoryBytes(): number {
        return this.bytes.open + this.bytes.queued + this.bytes.spilling + this.bytes.finishing
    }

    /** memoryBytes() by place: `open` + `queued` stay within the limit, `spilling` is what the job queue has not yet taken. */
    memory(): { open: number; queued: number; spilling: number } {
        // batches still compressing after they left the queue are on their way out too
        return { open: this.bytes.open, queued: this.bytes.queued, spilling: this.bytes.spilling + this.bytes.finishing }
    }

    pendingEvents(): number {
        let events = 0
        for (const { batch } of this.open.values()) events += batch.events
        return events + this.queue.reduce((n, b) => n + b.events, 0)
    }

    /** epoch ms of the last stored object, 0 before the first */
    lastStoredAt = 0
    /** epoch ms of the first failed upload since the last stored object (0 while uploads succeed): the health event (alert.ts) reads it */
    failingSince = 0
    /** the last failed upload's answer and what it meant; kept after a success, for the recovered event */
    lastFailure?: { failure: S3Failure; kind: 'retry' | 'fatal' }

    /**
     * teardownPlugin: seal, upload what can be uploaded before `deadlineMs` (epoch ms), then spill the rest, all
     * before the deadline. Idempotent; events added afterwards are stored too (see LATE_SEAL_MS).
     */
    close(deadlineMs: number): Promise<CloseReport> {
        this.closed = true
        this.lateTimer?.cancel()
        this.lateTimer = undefined
        return this.drain(deadlineMs)
    }

    /** Events after close: one drain LATE_SEAL_MS after the first of them, then again for any that follow. */
    private drainLateEvents(): void {
        if (this.lateTimer) return
        this.lateTimer = this.opts.schedule(LATE_SEAL_MS, () => {
            this.lateTimer = undefined
            void this.drain(this.opts.now() + LATE_DRAIN_MS).then((report) => this.sayHandedOver('after teardown', report))
        })
    }

    /**
     * Log what a drain stored, handed to the job queue or lost: a person reading the app's log should know, and must
     * be able to trust an ERROR. Events still in memory are not lost: they arrived after this drain's hand-over and
     * a late drain stores them within seconds (and says so), so they are info, not an error.
     */
    sayHandedOver(when: string, report: CloseReport): void {
        if (report.delivered > 0) this.reporter.say(`S3 Export ${when}: stored ${report.delivered} events in S3`)
        if (report.spilled > 0) {
            this.reporter.say(`S3 Export ${when}: handed ${report.spilled} events to the job queue in ${report.jobs} jobs; they will be uploaded from there`)
        }
        if (report.unconfirmed > 0) {
            // at shutdown the host ends the thread now: they are lost unless the queue took them in time
            this.reporter.say(`S3 Export ${when}: ${report.unconfirmed} events were still being handed to the job queue at the deadline and may be lost`, 'error')
        }
        if (report.dropped > 0) this.reporter.say(`S3 Export ${when}: ${report.dropped} events could not be stored or queued and are lost`, 'error')
        if (report.pendingEvents > 0) {
            this.reporter.say(
                `S3 Export ${when}: ${report.pendingEvents} events arrived after the hand-over and are still in memory; they are stored (or handed to the job queue) within ${Math.ceil((LATE_SEAL_MS + LATE_DRAIN_MS) / 1000)} s, and an "after teardown" line says so`
            )
        }
    }

    private drain(deadlineMs: number): Promise<CloseReport> {
        const before = { delivered: this.stats.delivered, spilled: this.stats.spilled, dropped: this.stats.dropped }
        let jobs = 0
        let unconfirmed = 0
        this.drains++
        this.sealAll()
        for (const batch of this.queue) {
            batch.finalTry = true
            batch.parked = false
        }
        this.cancelRetryTimer()
        this.pump()
        // with no job queue to hand over to (PostHog after Feb 2025), the whole budget goes to uploads
        const reserveMs = this.opts.spill ? spillReserveMs(deadlineMs - this.opts.now(), this.bytes.open + this.bytes.queued) : 0
        const uploadsUntil = this.deadline(deadlineMs - reserveMs)
        // 1. uploads, until each batch had its try or the upload part of the budget is over
        return Promise.race([this.when(() => !this.inflight && !this.nextDue(this.opts.now())).then(() => false), uploadsUntil.promise])
            .then((timedOut) => {
                uploadsUntil.cancel()
                const deadline = this.deadline(deadlineMs)
                // 2. hand the rest to the job queue, and wait for spills the memory limit started, until the deadline;
                // events that arrived during the uploads go too: everything in memory at the hand-over goes over
                this.sealForHandOver()
                const left: SealedBatch[] = []
                for (let i = this.queue.length - 1; i >= 0; i--) {
                    const batch = this.takeAt(i)
                    // still held until the queue has taken it (counted, like the spills the memory limit starts)
                    this.move(batch.holding, 'spilling')
                    left.unshift(batch)
                }
                let handing = left.reduce((n, b) => n + b.events, 0)
                const started = [...this.spills.keys()]
                const spilled = Promise.all([
                    ...left.map((batch) =>
                        this.spillOrDrop(batch, 'teardown ran out of time and no job queue is available').then((outcome) => {
                            this.move(batch.holding, 'gone')
                            jobs += outcome.jobs
                            handing -= batch.events
                        })
                    ),
                    ...started,
                ]).then(() => false)
                return Promise.race([spilled, deadline.promise]).then((late) => {
                    deadline.cancel()
                    // events of spills that had not finished: left by this drain, or started earlier by the memory limit
                    if (late) unconfirmed = handing + started.reduce((n, p) => n + (this.spills.get(p) ?? 0), 0)
                    return timedOut || late
                })
            })
            .then((timedOut) => {
                this.drains--
                // events that came after the hand-over: sealed and drained like any late ones
                if (this.closed && this.drains === 0 && this.pendingEvents() > 0) this.drainLateEvents()
                return {
                    delivered: this.stats.delivered - before.delivered,
                    spilled: this.stats.spilled - before.spilled,
                    jobs,
                    dropped: this.stats.dropped - before.dropped,
                    unconfirmed,
                    pendingEvents: this.pendingEvents(),
                    timedOut,
                }
            })
    }

    /** Seal what is open without starting an upload: a drain's hand-over gives it to the job queue at once. */
    private sealForHandOver(): void {
        this.handingOver = true
        this.sealAll()
        this.handingOver = false
    }

    /** A promise that resolves true at `deadlineMs`, and its cancel. */
    private deadline(deadlineMs: number): { promise: Promise<boolean>; cancel: () => void } {
        let timer: Cancel | undefined
        const promise = new Promise<boolean>((resolve) => {
            timer = this.opts.schedule(Math.max(0, deadlineMs - this.opts.now()), () => resolve(true))
        })
        return { promise, cancel: () => timer?.cancel() }
    }

    /** True when adding `bytes` more would cross the raw cap or could cross the stored (compressed) cap. */
    private wouldOverflow(batch: Batch<unknown>, bytes: number): boolean {
        const { maxBatchBytes, maxStoredBytes } = this.opts.config
        if (batch.rawBytes + bytes > maxBatchBytes) return true
        // Data not yet compressed counts at full size (or the format's worst case), so the stored-size cap holds.
        return maxStoredBytes !== undefined && batch.storedBoundBytes() + bytes + STORED_CAP_MARGIN > maxStoredBytes
    }

    /** A holding counts its bytes in one place; compressor callbacks that arrive after it is gone change nothing. */
    private hold(place: Place): { holding: Holding; onChange: (delta: number) => void } {
        const holding: Holding = { bytes: 0, place }
        return { holding, onChange: (delta) => this.grow(holding, delta) }
    }

    /** A holding's bytes changed where it is counted; once gone, nothing counts any more. */
    private grow(holding: Holding, delta: number): void {
        if (holding.place === 'gone') return
        holding.bytes += delta
        this.bytes[holding.place] += delta
    }

    private move(holding: Holding, to: Place): void {
        if (holding.place !== 'gone') this.bytes[holding.place] -= holding.bytes
        holding.place = to
        if (to !== 'gone') this.bytes[to] += holding.bytes
    }

    private openPartition(partition: string, now: number): { batch: Batch<unknown>; holding: Holding } {
        const { holding, onChange } = this.hold('open')
        const entry = { batch: this.encoding.open(now, onChange), holding }
        if (this.open.size === 0) {
            this.windowOpenedAt = now
            this.openTimer = this.opts.schedule(this.opts.config.uploadIntervalMs, () => {
                this.openTimer = undefined
                // The timer belongs to this window: seal it even if the clock reads a hair short (timers fire early).
                if (this.windowOpenedAt === now) this.sealAll()
            })
        }
        this.open.set(partition, entry)
        return entry
    }

    /** Seal every open batch: one flush, one object per partition. */
    private sealAll(): void {
        for (const partition of [...this.open.keys()]) this.sealPartition(partition)
    }

    private sealPartition(partition: string): void {
        const entry = this.open.get(partition)
        if (!entry) return
        const open = entry.batch
        this.open.delete(partition)
        if (this.lastPartition === partition) this.lastPartition = undefined
        if (this.open.size === 0) {
            this.openTimer?.cancel()
            this.openTimer = undefined
            this.windowOpenedAt = 0
        }
        const now = this.opts.now()
        this.move(entry.holding, 'queued')
        const sealed = open.seal()
        entry.holding.bytes += SEALED_BATCH_OVERHEAD_BYTES
        this.bytes.queued += SEALED_BATCH_OVERHEAD_BYTES
        const batch: SealedBatch = {
            key: this.layout.render({ partition, sealedAt: new Date(now), batchId: batchId(this.opts.randomBytes(8)) }),
            events: open.events,
            file: this.format,
            metadata: this.pipeline.metadata(open),
            rawBytes: open.rawBytes,
            sealedAt: now,
            sealed,
            holding: entry.holding,
            ready: Promise.resolve(),
            attempts: 0,
            notBefore: 0,
            finalTry: this.drains > 0,
        }
        batch.ready = sealed.body
            .then(
                (body) => {
                    this.gotBody(batch, body, sealed.keptBytes)
                    // a Parquet body is made at seal and held beside its rows: the limit must hold then too, not
                    // only at the next event
                    if (sealed.keptBytes > 0) this.enforceMemoryLimit()
                },
                (error: unknown) => this.recover(batch, error)
            )
            .then(() => {
                // taken out of the queue before its body was ready: held until now
                if (batch.holding.place === 'finishing') this.move(batch.holding, 'gone')
            })
        this.queue.push(batch)
        this.pump()
    }

    /** The batch's memory is now its body (JSON lines: the compressor's output, already counted) plus what it keeps. */
    private gotBody(batch: SealedBatch, body: Body, keptBytes: number): void {
        batch.body = body
        const target = body.length + keptBytes + SEALED_BATCH_OVERHEAD_BYTES
        if (batch.holding.place !== 'gone') this.bytes[batch.holding.place] += target - batch.holding.bytes
        batch.holding.bytes = target
    }

    /**
     * A body that cannot be made (a compressor error, a value Parquet refuses) must not block the queue or crash the
     * host: re-encode the events another way when the format can (Parquet → gzipped JSON lines), else set the batch
     * aside, counted as dropped and reported.
     */
    private recover(batch: SealedBatch, error: unknown): Promise<void> {
        const why = String((error as Error)?.message ?? error)
        const fallback = batch.sealed.fallback
        if (!fallback) {
            batch.unusable = why
            return Promise.resolve()
        }
        return fallback().then(
            ({ body, file }) => {
                const oldKey = batch.key
                batch.key = (batch.key.endsWith(batch.file.extension) ? batch.key.slice(0, -batch.file.extension.length) : batch.key) + file.extension
                batch.file = file
                this.gotBody(batch, body, 0)
                this.reporter.report(
                    'fallback',
                    `S3 Export could not encode ${oldKey} (${why}); its ${batch.events} events are stored as JSON lines in ${batch.key} instead`
                )
            },
            (second: unknown) => {
                batch.unusable = `${why}; as JSON lines: ${String((second as Error)?.message ?? second)}`
            }
        )
    }

    /** The batch to upload now: the head once its backoff has passed; while draining, any batch not yet tried. */
    private nextDue(now: number): SealedBatch | undefined {
        if (this.drains > 0) {
            const final = this.queue.find((b) => b.finalTry && !b.parked)
            if (final) return final
        }
        const head = this.queue[0]
        // parked batches wait for their drain's spill; outside a drain nothing is parked
        if (!head || (head.parked && this.drains > 0)) return undefined
        // head-of-line on purpose: while the head backs off, S3 is in trouble and the others would fail too
        return Math.max(head.notBefore, this.backoffUntil) <= now ? head : undefined
    }

    /** Start the next upload if none is in flight and a batch is due; otherwise arm the retry timer. */
    private pump(): void {
        if (this.inflight || this.handingOver) return
        const next = this.nextDue(this.opts.now())
        if (!next) {
            const head = this.queue[0]
            if (head && !(head.parked && this.drains > 0)) this.armRetryTimer(Math.max(head.notBefore, this.backoffUntil))
            this.notifyIdle()
            return
        }
        const attempt = this.upload(next)
        const done = attempt.finished.then(
            () => this.afterAttempt(next),
            (error: unknown) => {
                if (isHostTimeout(error)) {
                    // The host's 30 s promise race cut our wait. Its outcome is not heard: the batch is tried again
                    // under its key, once nothing of this attempt is on the wire any more (afterAttempt). A body
                    // still being made is not uploaded by this attempt.
                    attempt.abandon()
                    return this.afterAttempt(next)
                }
                // upload() turns every S3 outcome into state; reaching here is a bug: report it, keep the batch
                this.reporter.report('internal', `S3 Export: unexpected error while uploading ${next.key}: ${String(error)}`)
                next.notBefore = this.opts.now() + (this.opts.fatalRetryMs ?? 60_000)
                if (next.finalTry && this.drains > 0) next.parked = true
                this.settle(next)
            }
        )
        this.inflight = { batch: next, done }
    }

    /**
     * An attempt is over for us; the next may start once its requests have ended. The host's promise timeout (on
     * our wait, or on a step inside the SDK) can end the wait while the PUT goes on (its own 25 s deadline ends it):
     * until then it stays "in flight", so two uploads never overlap. `.finally` is not one of the host's guarded
     * steps (only `.then` and `await` are), so it runs whenever the request ends.
     */
    private afterAttempt(batch: SealedBatch): void {
        const onTheWire = this.opts.store.onTheWire?.()
        if (onTheWire) this.inflight = { batch, done: onTheWire.finally(() => this.settle(batch)) }
        else this.settle(batch)
    }

    private settle(batch: SealedBatch): void {
        if (this.inflight?.batch === batch) this.inflight = undefined
        this.pump()
    }

    /**
     * One attempt: wait for the body, PUT it, turn the outcome into state. `abandon()`: the attempt was given up
     * (the host's guard cut the wait); a body that comes after that is not uploaded by it.
     */
    private upload(batch: SealedBatch): { finished: Promise<void>; abandon: () => void } {
        let abandoned = false
        const finished = batch.ready.then(() => {
            // given up while the body was still being made (the host's guard cut the wait): a later attempt uploads it
            if (abandoned) return
            if (batch.unusable !== undefined) return this.setAside(batch)
            const before = batch.maybeStored
            batch.maybeStored = true
            return this.opts.store
                .put({ key: batch.key, body: batch.body!, contentType: batch.file.contentType, contentEncoding: batch.file.contentEncoding, metadata: batch.metadata })
                .then((outcome) => {
                    // S3 answered that it did not store it (a refusal, or 503 SlowDown): this attempt wrote nothing (an
                    // earlier one that went unanswered still may have). No answer, or another 5xx (a 500, a gateway's
                    // 502/504), may come after the object was written.
                    const status = outcome.kind === 'ok' ? undefined : outcome.failure.statusCode
                    if (status !== undefined && (status < 500 || status === 503)) batch.maybeStored = before
                    this.onOutcome(batch, outcome)
                })
        })
        return { finished, abandon: () => void (abandoned = true) }
    }

    private setAside(batch: SealedBatch): void {
        if (!this.queue.includes(batch)) return
        this.remove(batch)
        this.stats.dropped += batch.events
        this.reporter.report(
            'unusable',
            () => `S3 Export could not make the body of ${batch.key} (${batch.unusable}); its ${batch.events} events are dropped. ${this.stats.dropped} events dropped so far.`
        )
    }

    private onOutcome(batch: SealedBatch, outcome: PutOutcome): void {
        batch.attempts++
        // spilled or handed over while this upload was in flight (teardown): its story ends elsewhere
        if (!this.queue.includes(batch)) return
        const { bucket, prefix } = this.opts.config
        if (outcome.kind === 'ok') {
            this.failuresInARow = 0
            this.backoffUntil = 0
            this.remove(batch)
            this.stats.delivered += batch.events
            this.stats.objects++
            this.stats.bytesStored += batch.body ? batch.body.length : 0
            this.lastStoredAt = this.opts.now()
            this.failingSince = 0
            if (batch.attempts > 1 || batch.lastFailure) {
                this.reporter.report('stored-after-retry', `S3 Export: stored ${batch.key} (${batch.events} events) after ${batch.attempts} attempts`, 'info')
            }
            return
        }
        this.failuresInARow++
        batch.lastFailure = outcome.failure
        batch.lastOutcome = outcome.kind
        const now = this.opts.now()
        this.lastFailure = { failure: outcome.failure, kind: outcome.kind }
        if (this.failingSince === 0) this.failingSince = now
        if (outcome.kind === 'retry') {
            this.stats.retries++
            batch.notBefore = now + backoffMs(this.failuresInARow, this.opts.random(), this.opts.backoff ?? DEFAULT_BACKOFF, outcome.failure.retryAfterMs)
            this.backoffUntil = batch.notBefore
            this.reporter.report(
                `retry:${outcome.failure.code}`,
                () =>
                    `S3 Export: upload of ${batch.key} to bucket ${bucket} failed (${describeFailure(outcome.failure)}); ` +
                    `retrying with backoff, ${this.pendingEvents()} events wait in memory`,
                'warn'
            )
        } else {
            this.stats.failures++
            batch.notBefore = now + (this.opts.fatalRetryMs ?? 60_000)
            this.backoffUntil = batch.notBefore
            this.reporter.report(
                `fatal:${outcome.failure.code}`,
                () =>
                    `S3 Export cannot write to s3://${bucket}/${prefix}: ${fixFor(outcome.failure, { bucket, prefix })} ` +
                    `(S3 said: ${describeFailure(outcome.failure)}). ${this.pendingEvents()} events are kept in memory and will be retried.`
            )
        }
        if (batch.finalTry && this.drains > 0) batch.parked = true // one more try per batch at teardown; then the job queue
    }

    private remove(batch: SealedBatch): void {
        const index = this.queue.indexOf(batch)
        if (index >= 0) this.takeAt(index)
    }

    /**
     * Take the batch at `index` out of the queue; its bytes stop counting (callers count them elsewhere if held),
     * unless its compressor is still working: until then its state and output are still in memory.
     */
    private takeAt(index: number): SealedBatch {
        const [batch] = this.queue.splice(index, 1)
        this.move(batch.holding, batch.body === undefined && batch.unusable === undefined ? 'finishing' : 'gone')
        return batch
    }

    /**
     * Open batches over their share: seal the least recently used (it uploads like any other). The whole limit
     * crossed: spill the oldest sealed batches (never the one uploading).
     */
    private enforceMemoryLimit(): void {
        const limit = this.opts.config.bufferLimitBytes
        while (this.bytes.open > limit * OPEN_SHARE && this.open.size > 0) this.sealPartition(this.open.keys().next().value as string)
        // spills in progress still hold their bytes (memoryBytes() counts them), but spilling more cannot free them
        if (this.bytes.open + this.bytes.queued <= limit) return
        for (let i = 0; i < this.queue.length && this.bytes.open + this.bytes.queued > limit; ) {
            if (this.inflight?.batch === this.queue[i]) {
                i++
                continue
            }
            const batch = this.takeAt(i)
            if (!this.opts.spill) {
                this.drop(batch, 'the memory limit was reached and no job queue is available')
                continue
            }
            if (this.bodiesWithQueue >= limit) {
                // the queue is not keeping up: bodies it has not yet taken alone hold the limit, and memory must not grow
                this.drop(batch, 'the memory limit was reached and the job queue is not keeping up')
                continue
            }
            this.move(batch.holding, 'spilling')
            const spill = this.spillOrDrop(batch, 'the memory limit was reached and no job queue is available').then(() => {
                this.move(batch.holding, 'gone')
                this.spills.delete(spill)
            })
            this.spills.set(spill, batch.events)
        }
    }

    private drop(batch: SealedBatch, why: string): void {
        this.stats.dropped += batch.events
        this.reporter.report('dropped', () => `S3 Export dropped ${batch.events} events (${batch.key}): ${why}. ${this.stats.dropped} events dropped so far.`)
    }

    private spillOrDrop(batch: SealedBatch, whyWithoutSpill: string): Promise<SpillOutcome> {
        const spill = this.opts.spill
        const none: SpillOutcome = { accepted: 0, refused: batch.events, jobs: 0 }
        if (!spill) {
            this.drop(batch, whyWithoutSpill)
            return Promise.resolve(none)
        }
        return batch.ready
            .then(() => {
                if (batch.unusable !== undefined) {
                    this.drop(batch, `its body could not be made (${batch.unusable})`)
                    return none
                }
                const size = batch.body!.length
                this.bodiesWithQueue += size
                // one hand-over at a time: each holds its parts and one payload's text besides the bodies (counted)
                const offered = this.spillChain.then(() =>
                    spill({
                        key: batch.key,
                        body: batch.body!,
                        events: batch.events,
                        file: batch.file,
                        metadata: batch.metadata,
                        split: batch.sealed.split,
                        maybeStored: batch.maybeStored,
                        onMemory: (delta) => this.grow(batch.holding, delta),
                    })
                )
                this.spillChain = offered.then(
                    () => undefined,
                    () => undefined
                )
                const taken = () => (this.bodiesWithQueue -= size)
                offered.then(taken, taken)
                return offered
            })
            .then(
                (outcome) => {
                    this.stats.spilled += outcome.accepted
                    if (outcome.refused > 0 && outcome !== none) {
                        this.stats.dropped += outcome.refused
                        this.reporter.report(
                            'dropped',
                            () => `S3 Export dropped ${outcome.refused} events (${batch.key}): the job queue refused them (${outcome.why}). ${this.stats.dropped} events dropped so far.`
                        )
                    }
                    return outcome
                },
                (error: unknown) => {
                    this.drop(batch, `the job queue failed: ${String(error)}`)
                    return none
                }
            )
    }

    /**
     * S3 took a write (the setup's write check, a job's upload, any PUT on this store): it is back. The backoff planned
     * while it was down would only keep events in memory past the outage, so every waiting batch is due now and the
     * backoff starts over, as after any success.
     */
    resume(): void {
        const now = this.opts.now()
        this.failuresInARow = 0
        this.backoffUntil = Math.min(this.backoffUntil, now)
        for (const batch of this.queue) batch.notBefore = Math.min(batch.notBefore, now)
        this.cancelRetryTimer()
        this.pump()
    }

    private armRetryTimer(at: number): void {
        if (this.retryTimer && this.retryTimerAt <= at) return
        this.cancelRetryTimer()
        this.retryTimerAt = at
        this.retryTimer = this.opts.schedule(Math.max(0, at - this.opts.now()), () => {
            this.retryTimer = undefined
            this.pump()
        })
    }

    private cancelRetryTimer(): void {
        this.retryTimer?.cancel()
        this.retryTimer = undefined
    }

    /** Resolves once `ready()` holds; checked now and each time the pump stops. */
    private when(ready: () => boolean): Promise<void> {
        if (ready()) return Promise.resolve()
        return new Promise((resolve) => this.idleWaiters.push({ ready, resolve }))
    }

    private notifyIdle(): void {
        const waiting = this.idleWaiters
        this.idleWaiters = waiting.filter((w) => !w.ready())
        for (const w of waiting) if (!this.idleWaiters.includes(w)) w.resolve()
    }
}

