/**
 * Handing sealed batches to durable storage (PostHog's job queue, spill.ts) when they cannot stay in memory: past the
 * memory limit, and what a drain could not upload. Hand-overs run one at a time; a batch is held (counted as
 * 'spilling') until the queue has taken it. A batch with no queue to go to, or that the queue refuses, is dropped:
 * counted and reported, never silently.
 */
import type { Reporter } from '../health/report'
import type { MemoryLedger } from './ledger'
import type { SealedBatch } from './sealed-batch'
import type { SpillableBatch, SpillOutcome } from './spill'
import type { ExporterStats } from './stats'

/** Hand a batch to durable storage (PostHog's job queue): how many of its events were accepted, how many refused. */
export type Spill = (batch: SpillableBatch) => Promise<SpillOutcome>

export interface HandOverDeps {
    spill?: Spill
    ledger: MemoryLedger
    stats: ExporterStats
    reporter: Reporter
}

export class HandOver {
    /** bytes of bodies offered to the job queue and not yet taken: past the limit the queue is not keeping up */
    private bodiesWithQueue = 0
    /** the last hand-over to the job queue: the next starts after it (hand-overs run one at a time) */
    private chain: Promise<void> = Promise.resolve()
    /** spills the memory limit started, on their way into the job queue: a drain waits for them within its deadline */
    private readonly started = new Map<Promise<void>, number>()

    constructor(private readonly deps: HandOverDeps) {}

    /** Spills the memory limit started and not yet finished, with their events. */
    inProgress(): Map<Promise<void>, number> {
        return new Map(this.started)
    }

    /** whether there is a job queue to hand over to (none on PostHog after Feb 2025) */
    get hasQueue(): boolean {
        return this.deps.spill !== undefined
    }

    /** Events of those spills that are still running now. */
    eventsOf(spills: Iterable<Promise<void>>): number {
        let events = 0
        for (const spill of spills) events += this.started.get(spill) ?? 0
        return events
    }

    /**
     * The memory limit was crossed: spill this batch (taken out of the queue), or drop it when there is no queue or
     * the queue is not keeping up (bodies it has not yet taken alone hold `limit`, and memory must not grow).
     */
    spillForMemory(batch: SealedBatch, limit: number): void {
        if (!this.deps.spill) return this.drop(batch, 'the memory limit was reached and no job queue is available')
        if (this.bodiesWithQueue >= limit) return this.drop(batch, 'the memory limit was reached and the job queue is not keeping up')
        this.deps.ledger.move(batch.holding, 'spilling')
        const spill = this.spillOrDrop(batch, 'the memory limit was reached and no job queue is available').then(() => {
            this.deps.ledger.move(batch.holding, 'gone')
            this.started.delete(spill)
        })
        this.started.set(spill, batch.events)
    }

    drop(batch: SealedBatch, why: string): void {
        const stats = this.deps.stats
        stats.dropped += batch.events
        this.deps.reporter.report('dropped', () => `S3 Export dropped ${batch.events} events (${batch.key}): ${why}. ${stats.dropped} events dropped so far.`)
    }

    /** Offer the batch to the job queue once its body is ready (after the hand-overs before it); drop it without one. */
    spillOrDrop(batch: SealedBatch, whyWithoutSpill: string): Promise<SpillOutcome> {
        const spill = this.deps.spill
        const none: SpillOutcome = { accepted: 0, refused: batch.events, jobs: 0 }
        if (!spill) {
            this.drop(batch, whyWithoutSpill)
            return Promise.resolve(none)
        }
        const { stats, reporter, ledger } = this.deps
        return batch.ready
            .then(() => {
                if (batch.unusable !== undefined) {
                    this.drop(batch, `its body could not be made (${batch.unusable})`)
                    return none
                }
                const size = batch.body!.length
                this.bodiesWithQueue += size
                // one hand-over at a time: each holds its parts and one payload's text besides the bodies (counted)
                const offered = this.chain.then(() =>
                    spill({
                        key: batch.key,
                        body: batch.body!,
                        events: batch.events,
                        file: batch.file,
                        metadata: batch.metadata,
                        split: batch.sealed.split,
                        maybeStored: batch.maybeStored,
                        onMemory: (delta) => ledger.grow(batch.holding, delta),
                    })
                )
                this.chain = offered.then(
                    () => undefined,
                    () => undefined
                )
                const taken = () => (this.bodiesWithQueue -= size)
                offered.then(taken, taken)
                return offered
            })
            .then(
                (outcome) => {
                    stats.spilled += outcome.accepted
                    if (outcome.refused > 0 && outcome !== none) {
                        stats.dropped += outcome.refused
                        reporter.report(
                            'dropped',
                            () => `S3 Export dropped ${outcome.refused} events (${batch.key}): the job queue refused them (${outcome.why}). ${stats.dropped} events dropped so far.`
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
}
