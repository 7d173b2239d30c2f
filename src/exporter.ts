/**
 * One worker thread's exporter: filter → encode → open batch → sealed batches → uploads, one in flight.
 *
 *   add(event)   synchronous and promise-free (the host wraps every promise step in a 30 s host timer)
 *   seal         when the batch's raw bytes reach the cap, when its oldest event has waited the interval,
 *                or at close; the key is chosen here and kept for every retry
 *   upload       FIFO, one at a time; retryable failures back off with full jitter, fatal ones are reported
 *                (once a minute, not once per event) and kept, because the user may fix the settings
 *   close        seals, waits for uploads within a deadline, tries pending batches once more, and hands what is
 *                left to `spill` (the host's durable job queue)
 *
 * Memory bound per thread: `bufferLimitBytes` over the open batch (compressed + ≤ 1 MiB pending text) plus every
 * sealed batch not yet stored. Past it the oldest sealed batch is spilled; only if spilling fails is it dropped,
 * and then counted and reported.
 */
import type { FileFormat } from './compression'
import { createFormat, type Batch, type Format } from './formats'
import type { Config } from './config'
import { ClosedError } from './errors'
import { eventSelector, type EventSelector, type ExportableEvent } from './events'
import { batchId, compileLayout, eventIsoTime, LAYOUTS, type KeyLayout } from './keys'
import { version as APP_VERSION } from '../package.json'
import { backoffMs, DEFAULT_BACKOFF, fixFor, type BackoffPolicy, type S3Failure } from './retry'
import type { ObjectStore } from './s3'

export interface Logger {
    info(message: string): void
    warn(message: string): void
    error(message: string): void
}

export interface Cancel {
    cancel(): void
}

/** A one-shot timer that works where the exporter runs (inside PostHog: the host's, via plugin-contrib). */
export type Schedule = (delayMs: number, fn: () => void) => Cancel

export interface SealedBatch {
    key: string
    events: number
    /** x-amz-meta-* of the object: event count, first and last event time, app version */
    metadata: Record<string, string>
    rawBytes: number
    /** epoch ms the batch was sealed */
    sealedAt: number
    /** the compressed body once compression finished */
    body?: Buffer
    bodyPromise: Promise<Buffer>
    attempts: number
    /** epoch ms before which the batch is not tried again */
    notBefore: number
    lastFailure?: S3Failure
    /** what the last attempt said: flush() waits out 'retry', not 'fatal' (only the user can fix that) */
    lastOutcome?: 'retry' | 'fatal'
}

/** Hand a batch to durable storage (PostHog's job queue). Resolves true when it was accepted. */
export type Spill = (batch: { key: string; body: Buffer; events: number; contentType: string; contentEncoding?: string; metadata?: Record<string, string> }) => Promise<boolean>

/** Most open partitions at once (event-time layouts with late events): past it the oldest is sealed early. */
export const MAX_OPEN_PARTITIONS = 32

/** Room kept below the stored-size cap for the compressor's own framing (headers, block ends, trailer). */
const STORED_CAP_MARGIN = 1024

export interface ExporterOptions {
    config: Pick<Config, 'bucket' | 'prefix' | 'compression' | 'maxBatchBytes' | 'uploadIntervalMs' | 'bufferLimitBytes' | 'eventsToIgnore'> &
        Partial<Pick<Config, 'eventsToInclude' | 'propertiesToRemove' | 'stripPersonalData' | 'compressionLevel' | 'maxStoredBytes' | 'keyTemplate' | 'format'>>
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
    /** events lost for good (memory limit with no job queue, or teardown deadline) — always reported */
    dropped: number
}

export interface CloseReport {
    delivered: number
    spilled: number
    dropped: number
    pendingEvents: number
    timedOut: boolean
}

export class Exporter {
    readonly stats: ExporterStats = { seen: 0, ignored: 0, delivered: 0, objects: 0, bytesStored: 0, retries: 0, failures: 0, spilled: 0, dropped: 0 }
    /** open batches by partition ('' when the layout has no event tokens); each becomes one object */
    private readonly open = new Map<string, Batch<unknown>>()
    /** epoch ms the oldest open batch was opened: the flush window counts from here */
    private windowOpenedAt = 0
    /** fires when the window's oldest event has waited the interval: every open batch is sealed then */
    private openTimer?: Cancel
    /** sealed batches not yet stored, oldest first; the head is the one being uploaded or waiting to retry */
    private readonly queue: SealedBatch[] = []
    /** the upload in flight: at most one, so uploads never overlap and order is kept */
    private inflight?: Promise<void>
    /** wakes the pump when the head batch's backoff has passed */
    private retryTimer?: Cancel
    private retryTimerAt = 0
    private closed = false
    /** during close: skip backoff waits, the deadline bounds everything */
    private draining = false
    /**
     * Failed uploads in a row, whichever batch: the backoff grows with it, so spilling a backing-off batch does not
     * restart the next one at 1 s during a long outage. Reset by any success.
     */
    private failuresInARow = 0
    /** bytes of the sealed batches in the queue (raw until compressed, then the body): kept up to date, because
     * the memory limit is checked on every event and summing a long queue there would cost O(queue) per event */
    private queuedBytes = 0
    /** epoch ms before which no batch is tried: S3 is backing us off, whichever batch comes next (spills included) */
    private backoffUntil = 0
    private readonly lastReport = new Map<string, number>()
    private readonly suppressed = new Map<string, number>()
    private readonly format: FileFormat
    private readonly encoding: Format<unknown>
    /** flush() and close() waiting for a condition, checked whenever the pump stops */
    private idleWaiters: Array<{ ready: () => boolean; resolve: () => void }> = []

    private readonly layout: KeyLayout
    private readonly selector: EventSelector

    constructor(private readonly opts: ExporterOptions) {
        const config = opts.config
        this.encoding = createFormat(config, `posthog-s3-export ${APP_VERSION}`)
        this.format = this.encoding.file
        this.layout = compileLayout(config.keyTemplate ?? LAYOUTS.original, config.prefix, this.format.extension)
        this.selector = eventSelector(config)
    }

    /** onEvent: synchronous, bounded work per event. */
    add(event: ExportableEvent): void {
        if (this.closed) throw new ClosedError()
        this.stats.seen++
        if (!this.selector.accepts(event)) {
            this.stats.ignored++
            return
        }
        const now = this.opts.now()
        const isoTime = eventIsoTime(event.timestamp, now)
        const { payload, bytes } = this.encoding.measure(this.selector.shape(event), isoTime)
        const partition = this.layout.partitionOf(event, isoTime)
        let batch = this.open.get(partition)
        // Seal before a cap would be crossed, so each object stays within it (a single larger event goes alone).
        if (batch && this.wouldOverflow(batch, bytes)) {
            this.sealPartition(partition)
            batch = undefined
        }
        if (!batch) batch = this.openPartition(partition, now)
        batch.add(payload, bytes, isoTime)
        if (batch.rawBytes >= this.opts.config.maxBatchBytes) this.sealPartition(partition)
        if (this.open.size > 0 && now - this.windowOpenedAt >= this.opts.config.uploadIntervalMs) this.sealAll()
        this.enforceMemoryLimit()
    }

    /** A periodic nudge (runEveryMinute): seals overdue batches even if their timer was lost. */
    tick(): void {
        if (this.open.size > 0 && this.opts.now() - this.windowOpenedAt >= this.opts.config.uploadIntervalMs) this.sealAll()
        this.pump()
    }

    /** Seal what is open and resolve when every sealed batch is stored (or has failed fatally). For tests and tools. */
    flush(): Promise<void> {
        this.sealAll()
        // the rest of the queue waits behind its head, so a fatally refused head means nothing more can happen now
        return this.when(() => !this.inflight && (this.queue.length === 0 || this.queue[0].lastOutcome === 'fatal'))
    }

    /** Bytes this exporter holds: the open batch plus every sealed batch not yet stored. */
    memoryBytes(): number {
        let bytes = this.queuedBytes
        for (const batch of this.open.values()) bytes += batch.memoryBytes()
        return bytes
    }

    pendingEvents(): number {
        let events = 0
        for (const batch of this.open.values()) events += batch.events
        return events + this.queue.reduce((n, b) => n + b.events, 0)
    }

    /**
     * teardownPlugin: seal, upload what can be uploaded before `deadlineMs` (epoch ms), then spill the rest.
     * Idempotent; adding events afterwards throws.
     */
    close(deadlineMs: number): Promise<CloseReport> {
        const deliveredBefore = this.stats.delivered
        this.closed = true
        this.draining = true
        for (const batch of this.queue) batch.notBefore = 0 // every pending batch gets one more try
        this.sealAll()
        this.cancelRetryTimer()
        this.pump()
        return new Promise<boolean>((resolve) => {
            if (this.queue.length === 0) return resolve(false)
            const timer = this.opts.schedule(Math.max(0, deadlineMs - this.opts.now()), () => resolve(true))
            this.when(() => !this.inflight && !this.nextDue(this.opts.now())).then(() => {
                timer.cancel()
                resolve(false)
            })
        })
            .then((timedOut) => this.spillRemaining().then(() => timedOut))
            .then((timedOut) => {
                const report: CloseReport = {
                    delivered: this.stats.delivered - deliveredBefore,
                    spilled: this.stats.spilled,
                    dropped: this.stats.dropped,
                    pendingEvents: this.pendingEvents(),
                    timedOut,
                }
                return report
            })
    }

    /** True when adding `bytes` more would cross the raw cap or could cross the stored (compressed) cap. */
    private wouldOverflow(batch: Batch<unknown>, bytes: number): boolean {
        const { maxBatchBytes, maxStoredBytes } = this.opts.config
        if (batch.rawBytes + bytes > maxBatchBytes) return true
        // Data not yet compressed counts at full size (or the format's worst case), so the stored-size cap holds.
        return maxStoredBytes !== undefined && batch.storedBoundBytes() + bytes + STORED_CAP_MARGIN > maxStoredBytes
    }

    private openPartition(partition: string, now: number): Batch<unknown> {
        if (this.open.size >= MAX_OPEN_PARTITIONS) this.sealOldestPartition()
        const batch = this.encoding.open(now)
        if (this.open.size === 0) {
            this.windowOpenedAt = now
            this.openTimer = this.opts.schedule(this.opts.config.uploadIntervalMs, () => {
                this.openTimer = undefined
                // The timer belongs to this window: seal it even if the clock reads a hair short (timers fire early).
                if (this.windowOpenedAt === now) this.sealAll()
            })
        }
        this.open.set(partition, batch)
        return batch
    }

    private sealOldestPartition(): void {
        let oldest: string | undefined
        for (const [partition, batch] of this.open) if (oldest === undefined || batch.openedAt < this.open.get(oldest)!.openedAt) oldest = partition
        if (oldest !== undefined) this.sealPartition(oldest)
    }

    /** Seal every open batch: one flush, one object per partition. */
    private sealAll(): void {
        for (const partition of [...this.open.keys()]) this.sealPartition(partition)
    }

    private sealPartition(partition: string): void {
        const open = this.open.get(partition)
        if (!open) return
        this.open.delete(partition)
        if (this.open.size === 0) {
            this.openTimer?.cancel()
            this.openTimer = undefined
            this.windowOpenedAt = 0
        }
        const now = this.opts.now()
        const batch: SealedBatch = {
            key: this.layout.render({ partition, sealedAt: new Date(now), batchId: batchId(this.opts.randomBytes(8)) }),
            events: open.events,
            metadata: {
                'event-count': String(open.events),
                'min-event-timestamp': open.minTime,
                'max-event-timestamp': open.maxTime,
                'app-version': `posthog-s3-export/${APP_VERSION}`,
            },
            rawBytes: open.rawBytes,
            sealedAt: now,
            bodyPromise: open.seal(),
            attempts: 0,
            notBefore: 0,
        }
        batch.bodyPromise.then((body) => {
            if (this.queue.includes(batch)) this.queuedBytes += body.length - batch.rawBytes
            batch.body = body
        })
        this.queue.push(batch)
        this.queuedBytes += batch.rawBytes
        this.pump()
    }

    /** The batch to upload now: the head once its backoff has passed; while closing, any batch not yet retried. */
    private nextDue(now: number): SealedBatch | undefined {
        if (this.draining) return this.queue.find((b) => b.notBefore !== Number.POSITIVE_INFINITY)
        const head = this.queue[0]
        // head-of-line on purpose: while the head backs off, S3 is in trouble and the others would fail too
        return head && Math.max(head.notBefore, this.backoffUntil) <= now ? head : undefined
    }

    /** Start the next upload if none is in flight and a batch is due; otherwise arm the retry timer. */
    private pump(): void {
        if (this.inflight) return
        const next = this.nextDue(this.opts.now())
        if (!next) {
            if (!this.draining && this.queue.length > 0) this.armRetryTimer(Math.max(this.queue[0].notBefore, this.backoffUntil))
            this.notifyIdle()
            return
        }
        this.inflight = this.upload(next).then(
            () => {
                this.inflight = undefined
                this.pump()
            },
            (error: unknown) => {
                this.inflight = undefined
                const now = this.opts.now()
                if (isHostTimeout(error)) {
                    // the host's 30 s promise race cut the upload: S3 was too slow, which a retry may fix
                    this.failuresInARow++
                    this.stats.retries++
                    next.notBefore = now + backoffMs(this.failuresInARow, this.opts.random(), this.opts.backoff ?? DEFAULT_BACKOFF)
                    this.backoffUntil = next.notBefore
                    this.report('retry:host-timeout', `S3 Export: upload of ${next.key} took longer than the plugin server allows (${String(error)}); retrying`, 'warn')
                } else {
                    // upload() turns every S3 outcome into state; reaching here is a bug: report it, keep the batch
                    this.report('internal', `S3 Export: unexpected error while uploading ${next.key}: ${String(error)}`)
                    next.notBefore = now + (this.opts.fatalRetryMs ?? 60_000)
                }
                if (this.draining) next.notBefore = Number.POSITIVE_INFINITY
                this.pump()
            }
        )
    }

    private upload(batch: SealedBatch): Promise<void> {
        return batch.bodyPromise
            .then((body) =>
                this.opts.store.put({
                    key: batch.key,
                    body,
                    contentType: this.format.contentType,
                    contentEncoding: this.format.contentEncoding,
                    metadata: batch.metadata,
                })
            )
            .then((outcome) => {
                batch.attempts++
                // spilled or handed over while this upload was in flight (teardown): its story ends elsewhere
                if (!this.queue.includes(batch)) return
                if (outcome.kind === 'ok') {
                    this.failuresInARow = 0
                    this.backoffUntil = 0
                    this.remove(batch)
                    this.stats.delivered += batch.events
                    this.stats.objects++
                    this.stats.bytesStored += batch.body ? batch.body.length : 0
                    if (batch.attempts > 1 || batch.lastFailure) {
                        this.opts.log.info(`S3 Export: stored ${batch.key} (${batch.events} events) after ${batch.attempts} attempts`)
                    }
                    return
                }
                this.failuresInARow++
                batch.lastFailure = outcome.failure
                batch.lastOutcome = outcome.kind
                const now = this.opts.now()
                if (outcome.kind === 'retry') {
                    this.stats.retries++
                    batch.notBefore = now + backoffMs(this.failuresInARow, this.opts.random(), this.opts.backoff ?? DEFAULT_BACKOFF, outcome.failure.retryAfterMs)
                    this.backoffUntil = batch.notBefore
                    this.report(
                        `retry:${outcome.failure.code}`,
                        `S3 Export: upload of ${batch.key} to bucket ${this.opts.config.bucket} failed (${describeFailure(outcome.failure)}); ` +
                            `retrying with backoff, ${this.pendingEvents()} events wait in memory`,
                        'warn'
                    )
                } else {
                    this.stats.failures++
                    batch.notBefore = now + (this.opts.fatalRetryMs ?? 60_000)
                    this.backoffUntil = batch.notBefore
                    this.report(
                        `fatal:${outcome.failure.code}`,
                        `S3 Export cannot write to s3://${this.opts.config.bucket}/${this.opts.config.prefix}: ${fixFor(outcome.failure)} ` +
                            `(S3 said: ${describeFailure(outcome.failure)}). ${this.pendingEvents()} events are kept in memory and will be retried.`
                    )
                }
                if (this.draining) batch.notBefore = Number.POSITIVE_INFINITY // one more try per batch at teardown
            })
    }

    private remove(batch: SealedBatch): void {
        const index = this.queue.indexOf(batch)
        if (index >= 0) this.takeAt(index)
    }

    /** Take the batch at `index` out of the queue, keeping queuedBytes true. */
    private takeAt(index: number): SealedBatch {
        const [batch] = this.queue.splice(index, 1)
        this.queuedBytes -= batch.body ? batch.body.length : batch.rawBytes
        return batch
    }

    /** Past the memory limit: spill the oldest sealed batches (never the open one, never the one uploading). */
    private enforceMemoryLimit(): void {
        const limit = this.opts.config.bufferLimitBytes
        if (this.memoryBytes() <= limit) return
        if (this.queue.length === 0) return // only open batches: the caps bound them
        for (let i = this.inflight ? 1 : 0; i < this.queue.length && this.memoryBytes() > limit; ) {
            this.spillOrDrop(this.takeAt(i), 'the memory limit was reached and no job queue is available')
        }
    }

    private spillOrDrop(batch: SealedBatch, whyWithoutSpill: string): Promise<void> {
        const spill = this.opts.spill
        const drop = (why: string) => {
            this.stats.dropped += batch.events
            this.report('dropped', `S3 Export dropped ${batch.events} events (${batch.key}): ${why}. ${this.stats.dropped} events dropped so far.`)
        }
        if (!spill) {
            drop(whyWithoutSpill)
            return Promise.resolve()
        }
        return batch.bodyPromise
            .then((body) =>
                spill({
                    key: batch.key,
                    body,
                    events: batch.events,
                    contentType: this.format.contentType,
                    contentEncoding: this.format.contentEncoding,
                    metadata: batch.metadata,
                })
            )
            .then(
                (accepted) => {
                    if (accepted) this.stats.spilled += batch.events
                    else drop('the job queue refused the batch')
                },
                (error: unknown) => drop(`the job queue failed: ${String(error)}`)
            )
    }

    private spillRemaining(): Promise<void> {
        // the batch in flight may still land; spilling it too would store it twice under the same key (harmless)
        const left: SealedBatch[] = []
        while (this.queue.length > 0) left.push(this.takeAt(0))
        return Promise.all(left.map((batch) => this.spillOrDrop(batch, 'teardown ran out of time and no job queue is available'))).then(() => undefined)
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

    /** The one place problems are logged: the same kind at most once per `reportEveryMs`, with a count of the rest. */
    private report(kind: string, message: string, level: 'warn' | 'error' = 'error'): void {
        const now = this.opts.now()
        const every = this.opts.reportEveryMs ?? 60_000
        const last = this.lastReport.get(kind)
        if (last !== undefined && now - last < every) {
            this.suppressed.set(kind, (this.suppressed.get(kind) ?? 0) + 1)
            return
        }
        const more = this.suppressed.get(kind) ?? 0
        this.suppressed.delete(kind)
        this.lastReport.set(kind, now)
        this.opts.log[level](more > 0 ? `${message} (${more} similar messages suppressed)` : message)
    }
}

/** The host races every promise step against 30 s and rejects with a TimeoutError ("... timed out ..."). */
function isHostTimeout(error: unknown): boolean {
    const e = error as { name?: string; message?: string } | undefined
    return !!e && (e.name === 'TimeoutError' || /timed out/i.test(String(e.message)))
}

function describeFailure(f: S3Failure): string {
    return `${f.statusCode ? `${f.statusCode} ` : ''}${f.code}${f.message && f.message !== f.code ? `: ${f.message}` : ''}`
}
