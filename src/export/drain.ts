/**
 * The drain: at close (and for events that arrive after it), seal what is open, give every batch one more try
 * within a deadline, and hand what is left to the job queue, all before the deadline. Events that arrive during a
 * drain go with its hand-over; later ones are sealed within LATE_SEAL_MS and drained the same way, because the real
 * host keeps feeding an old copy during a reload.
 */
import type { Reporter } from '../health/report'
import type { Cancel, Schedule } from '../host/timer'
import type { Batcher } from './batcher'
import type { HandOver } from './hand-over'
import type { MemoryLedger } from './ledger'
import type { ExporterStats } from './stats'
import type { UploadQueue } from './upload-queue'

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

export interface DrainDeps {
    batcher: Batcher
    queue: UploadQueue
    handOver: HandOver
    ledger: MemoryLedger
    stats: ExporterStats
    reporter: Reporter
    schedule: Schedule
    now: () => number
    pendingEvents: () => number
}

export class Drain {
    /** close() was called: later events are drained within LATE_DRAIN_MS of arriving */
    private closed = false
    private lateTimer?: Cancel

    constructor(private readonly deps: DrainDeps) {}

    get isClosed(): boolean {
        return this.closed
    }

    /** teardown: drain before `deadlineMs` (epoch ms). Idempotent; events added afterwards are stored too. */
    close(deadlineMs: number): Promise<CloseReport> {
        this.closed = true
        this.lateTimer?.cancel()
        this.lateTimer = undefined
        return this.run(deadlineMs)
    }

    /** An event arrived after close: a drain running now hands it over with the rest (it arms the timer for any after it). */
    lateEvent(): void {
        this.deps.stats.late++
        if (!this.deps.queue.draining) this.drainLateEvents()
    }

    /** Events after close: one drain LATE_SEAL_MS after the first of them, then again for any that follow. */
    private drainLateEvents(): void {
        if (this.lateTimer) return
        this.lateTimer = this.deps.schedule(LATE_SEAL_MS, () => {
            this.lateTimer = undefined
            void this.run(this.deps.now() + LATE_DRAIN_MS).then((report) => this.sayHandedOver('after teardown', report))
        })
    }

    /**
     * Log what a drain stored, handed to the job queue or lost: a person reading the app's log should know, and must
     * be able to trust an ERROR. Events still in memory are not lost: they arrived after this drain's hand-over and
     * a late drain stores them within seconds (and says so), so they are info, not an error.
     */
    sayHandedOver(when: string, report: CloseReport): void {
        const { reporter } = this.deps
        if (report.delivered > 0) reporter.say(`S3 Export ${when}: stored ${report.delivered} events in S3`)
        if (report.spilled > 0) {
            reporter.say(`S3 Export ${when}: handed ${report.spilled} events to the job queue in ${report.jobs} jobs; they will be uploaded from there`)
        }
        if (report.unconfirmed > 0) {
            // at shutdown the host ends the thread now: they are lost unless the queue took them in time
            reporter.say(`S3 Export ${when}: ${report.unconfirmed} events were still being handed to the job queue at the deadline and may be lost`, 'error')
        }
        if (report.dropped > 0) reporter.say(`S3 Export ${when}: ${report.dropped} events could not be stored or queued and are lost`, 'error')
        if (report.pendingEvents > 0) {
            reporter.say(
                `S3 Export ${when}: ${report.pendingEvents} events arrived after the hand-over and are still in memory; they are stored (or handed to the job queue) within ${Math.ceil((LATE_SEAL_MS + LATE_DRAIN_MS) / 1000)} s, and an "after teardown" line says so`
            )
        }
    }

    private run(deadlineMs: number): Promise<CloseReport> {
        const { batcher, queue, handOver, ledger, stats, now } = this.deps
        const before = { delivered: stats.delivered, spilled: stats.spilled, dropped: stats.dropped }
        let jobs = 0
        let unconfirmed = 0
        const tried = queue.beginDrain(() => batcher.sealAll())
        // with no job queue to hand over to (PostHog after Feb 2025), the whole budget goes to uploads
        const reserveMs = handOver.hasQueue ? spillReserveMs(deadlineMs - now(), ledger.in('open') + ledger.in('queued')) : 0
        const uploadsUntil = this.deadline(deadlineMs - reserveMs)
        // 1. uploads, until each batch had its try or the upload part of the budget is over
        return Promise.race([tried.then(() => false), uploadsUntil.promise])
            .then((timedOut) => {
                uploadsUntil.cancel()
                const deadline = this.deadline(deadlineMs)
                // 2. hand the rest to the job queue, and wait for spills the memory limit started, until the deadline;
                // events that arrived during the uploads go too: everything in memory at the hand-over goes over
                const left = queue.handOverAll(() => batcher.sealAll())
                // still held until the queue has taken them (counted, like the spills the memory limit starts)
                for (const batch of left) ledger.move(batch.holding, 'spilling')
                let handing = left.reduce((n, b) => n + b.events, 0)
                const started = [...handOver.inProgress().keys()]
                const spilled = Promise.all([
                    ...left.map((batch) =>
                        handOver.spillOrDrop(batch, 'teardown ran out of time and no job queue is available').then((outcome) => {
                            ledger.move(batch.holding, 'gone')
                            jobs += outcome.jobs
                            handing -= batch.events
                        })
                    ),
                    ...started,
                ]).then(() => false)
                return Promise.race([spilled, deadline.promise]).then((late) => {
                    deadline.cancel()
                    // events of spills that had not finished: left by this drain, or started earlier by the memory limit
                    if (late) unconfirmed = handing + handOver.eventsOf(started)
                    return timedOut || late
                })
            })
            .then((timedOut) => {
                queue.endDrain()
                // events that came after the hand-over: sealed and drained like any late ones
                if (this.closed && !queue.draining && this.deps.pendingEvents() > 0) this.drainLateEvents()
                return {
                    delivered: stats.delivered - before.delivered,
                    spilled: stats.spilled - before.spilled,
                    jobs,
                    dropped: stats.dropped - before.dropped,
                    unconfirmed,
                    pendingEvents: this.deps.pendingEvents(),
                    timedOut,
                }
            })
    }

    /** A promise that resolves true at `deadlineMs`, and its cancel. */
    private deadline(deadlineMs: number): { promise: Promise<boolean>; cancel: () => void } {
        let timer: Cancel | undefined
        const promise = new Promise<boolean>((resolve) => {
            timer = this.deps.schedule(Math.max(0, deadlineMs - this.deps.now()), () => resolve(true))
        })
        return { promise, cancel: () => timer?.cancel() }
    }
}
