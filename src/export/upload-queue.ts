/**
 * The upload queue: sealed batches, oldest first, uploaded one at a time (so uploads never overlap and order is
 * kept), each under the key it was sealed with. This is the one place that retries live batches: a failure is turned
 * into the batch's next try by the retry policy (retry-policy.ts: backoff with full jitter, Retry-After clamped,
 * a refusal once a minute because the user may fix the settings), and the host's own timeout on a wait is handled
 * here too. Every outcome is reported through the shared Reporter (once a minute per kind, not once per event).
 *
 * While a drain runs (close, late events), every batch gets one more try at once, and one that fails is parked for
 * the drain's hand-over to the job queue.
 */
import type { Config } from '../config'
import type { Reporter } from '../health/report'
import { isHostTimeout, type Cancel, type Schedule } from '../host/timer'
import type { ObjectStore, PutOutcome } from '../s3/client'
import type { S3Failure } from '../s3/failure'
import { refusalMessage, retryMessage } from '../s3/messages'
import type { MemoryLedger } from './ledger'
import { nextTry, type RetryPolicy } from './retry-policy'
import type { SealedBatch } from './sealed-batch'
import type { ExporterStats } from './stats'

export interface UploadQueueDeps {
    config: Pick<Config, 'bucket' | 'prefix'>
    store: ObjectStore
    policy: RetryPolicy
    now: () => number
    /** uniform in [0, 1): backoff jitter */
    random: () => number
    schedule: Schedule
    ledger: MemoryLedger
    stats: ExporterStats
    reporter: Reporter
    /** events held in all (open batches too), for the messages */
    pendingEvents: () => number
}

export class UploadQueue {
    /** sealed batches not yet stored, oldest first; the head is the one being uploaded or waiting to retry */
    private readonly queue: SealedBatch[] = []
    /** the upload in flight: at most one; cleared only once its PUT settled */
    private inflight?: { batch: SealedBatch; done: Promise<unknown> }
    /** wakes the pump when the head batch's backoff has passed */
    private retryTimer?: Cancel
    private retryTimerAt = 0
    /** drains running now (close, late events): batches skip backoff and get one try before being spilled */
    private drains = 0
    /** a drain is sealing for its hand-over: no upload starts (what it seals goes to the job queue at once) */
    private handingOver = false
    /**
     * Failed uploads in a row, whichever batch: the backoff grows with it, so spilling a backing-off batch does not
     * restart the next one at 1 s during a long outage. Reset by any success.
     */
    private failuresInARow = 0
    /** epoch ms before which no batch is tried: S3 is backing us off, whichever batch comes next (spills included) */
    private backoffUntil = 0
    /** flush() and drains waiting for a condition, checked whenever the pump stops */
    private idleWaiters: Array<{ ready: () => boolean; resolve: () => void }> = []
    /** epoch ms of the last stored object, 0 before the first */
    private storedAt = 0
    /** epoch ms of the first failed upload since the last stored object (0 while uploads succeed) */
    private failingFrom = 0
    /** the last failed upload's answer and what it meant; kept after a success, for the recovered event */
    private lastFailed?: { failure: S3Failure; kind: 'retry' | 'fatal' }

    constructor(private readonly deps: UploadQueueDeps) {}

    get lastStoredAt(): number {
        return this.storedAt
    }
    get failingSince(): number {
        return this.failingFrom
    }
    get lastFailure(): { failure: S3Failure; kind: 'retry' | 'fatal' } | undefined {
        return this.lastFailed
    }
    get draining(): boolean {
        return this.drains > 0
    }

    push(batch: SealedBatch): void {
        this.queue.push(batch)
        this.pump()
    }

    /** Events in sealed batches not yet stored. */
    events(): number {
        return this.queue.reduce((n, b) => n + b.events, 0)
    }

    /** Resolves when every batch is stored or the head failed fatally: the rest waits behind it, nothing more can happen now. */
    settled(): Promise<void> {
        return this.when(() => !this.inflight && (this.queue.length === 0 || this.queue[0].lastOutcome === 'fatal'))
    }

    /**
     * S3 took a write (the setup's write check, a job's upload, any PUT on this store): it is back. The backoff planned
     * while it was down would only keep events in memory past the outage, so every waiting batch is due now and the
     * backoff starts over, as after any success.
     */
    resume(): void {
        const now = this.deps.now()
        this.failuresInARow = 0
        this.backoffUntil = Math.min(this.backoffUntil, now)
        for (const batch of this.queue) batch.notBefore = Math.min(batch.notBefore, now)
        this.cancelRetryTimer()
        this.pump()
    }

    /** The oldest batch not being uploaded, out of the queue (the memory limit spills it); undefined when none. */
    takeOldestIdle(): SealedBatch | undefined {
        const index = this.queue.findIndex((b) => b !== this.inflight?.batch)
        return index < 0 ? undefined : this.takeAt(index)
    }

    /**
     * A drain begins: `seal` runs (what it seals is marked for one try), every batch gets one more try at once;
     * resolves once each had it (or none is due).
     */
    beginDrain(seal: () => void): Promise<void> {
        this.drains++
        seal()
        for (const batch of this.queue) {
            batch.finalTry = true
            batch.parked = false
        }
        this.cancelRetryTimer()
        this.pump()
        return this.when(() => !this.inflight && !this.nextDue(this.deps.now()))
    }

    endDrain(): void {
        this.drains--
    }

    /** Run `seal` with uploads held back, then take every batch out of the queue, oldest first: a drain's hand-over. */
    handOverAll(seal: () => void): SealedBatch[] {
        this.handingOver = true
        seal()
        this.handingOver = false
        const left: SealedBatch[] = []
        for (let i = this.queue.length - 1; i >= 0; i--) left.unshift(this.takeAt(i))
        return left
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
    pump(): void {
        if (this.inflight || this.handingOver) return
        const next = this.nextDue(this.deps.now())
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
                this.deps.reporter.report('internal', `S3 Export: unexpected error while uploading ${next.key}: ${String(error)}`)
                next.notBefore = this.deps.now() + (typeof this.deps.policy.fatal === 'number' ? this.deps.policy.fatal : 60_000)
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
        const onTheWire = this.deps.store.onTheWire?.()
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
            return this.deps.store
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
        const stats = this.deps.stats
        stats.dropped += batch.events
        this.deps.reporter.report(
            'unusable',
            () => `S3 Export could not make the body of ${batch.key} (${batch.unusable}); its ${batch.events} events are dropped. ${stats.dropped} events dropped so far.`
        )
    }

    private onOutcome(batch: SealedBatch, outcome: PutOutcome): void {
        batch.attempts++
        // spilled or handed over while this upload was in flight (teardown): its story ends elsewhere
        if (!this.queue.includes(batch)) return
        const { stats, reporter, config } = this.deps
        if (outcome.kind === 'ok') {
            this.failuresInARow = 0
            this.backoffUntil = 0
            this.remove(batch)
            stats.delivered += batch.events
            stats.objects++
            stats.bytesStored += batch.body ? batch.body.length : 0
            this.storedAt = this.deps.now()
            this.failingFrom = 0
            if (batch.attempts > 1 || batch.lastFailure) {
                reporter.report('stored-after-retry', `S3 Export: stored ${batch.key} (${batch.events} events) after ${batch.attempts} attempts`, 'info')
            }
            return
        }
        this.failuresInARow++
        batch.lastFailure = outcome.failure
        batch.lastOutcome = outcome.kind
        const now = this.deps.now()
        this.lastFailed = { failure: outcome.failure, kind: outcome.kind }
        if (this.failingFrom === 0) this.failingFrom = now
        // the upload policy never gives up on a live batch: memory limits and teardown hand it on instead
        const next = nextTry(this.deps.policy, outcome, this.failuresInARow, this.deps.random)
        batch.notBefore = now + (next.kind === 'again' ? next.delayMs : 0)
        this.backoffUntil = batch.notBefore
        if (outcome.kind === 'retry') {
            stats.retries++
            reporter.report(
                `retry:${outcome.failure.code}`,
                () => retryMessage(outcome.failure, batch.key, config.bucket, `retrying with backoff, ${this.deps.pendingEvents()} events wait in memory`),
                'warn'
            )
        } else {
            stats.failures++
            reporter.report(
                `fatal:${outcome.failure.code}`,
                () => `${refusalMessage(outcome.failure, config)}. ${this.deps.pendingEvents()} events are kept in memory and will be retried.`
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
        this.deps.ledger.move(batch.holding, batch.body === undefined && batch.unusable === undefined ? 'finishing' : 'gone')
        return batch
    }

    private armRetryTimer(at: number): void {
        if (this.retryTimer && this.retryTimerAt <= at) return
        this.cancelRetryTimer()
        this.retryTimerAt = at
        this.retryTimer = this.deps.schedule(Math.max(0, at - this.deps.now()), () => {
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
