/**
 * The batcher: one open batch per partition ('' when the layout has no event tokens), and the triggers that seal
 * them. A batch is sealed
 *   - before an event would cross the raw cap or could cross the stored (compressed) cap (a single larger event
 *     goes alone), and once its raw bytes reach the cap;
 *   - when the window's oldest event has waited the upload interval (a host timer, and every event and tick checks
 *     it too, in case the timer was lost): every open batch then, one object per partition;
 *   - least recently used first, when the exporter says open batches hold more than their share of memory;
 *   - all at once at flush and at close.
 * What is sealed goes to `onSealed`; the batcher keeps nothing of it.
 */
import type { Config } from '../config'
import type { ExportableEvent } from '../event'
import type { Batch, Format } from '../formats'
import type { Cancel, Schedule } from '../host/timer'
import type { KeyLayout } from '../event'
import type { Holding, MemoryLedger } from './ledger'
import type { Sealing } from './sealed-batch'

/** Room kept below the stored-size cap for the compressor's own framing (headers, block ends, trailer). */
const STORED_CAP_MARGIN = 1024

export interface BatcherDeps {
    config: Pick<Config, 'maxBatchBytes' | 'maxStoredBytes' | 'uploadIntervalMs'>
    encoding: Format<unknown>
    layout: KeyLayout
    ledger: MemoryLedger
    schedule: Schedule
    now: () => number
    /** a batch was sealed: its holding is 'queued' now */
    onSealed: (sealing: Omit<Sealing, 'finalTry'>) => void
}

export class Batcher {
    /** open batches by partition, in least-recently-used order */
    private readonly open = new Map<string, { batch: Batch<unknown>; holding: Holding }>()
    /** the partition used last: re-inserting it in `open` (LRU order) is skipped when it is used again */
    private lastPartition?: string
    /** epoch ms the oldest open batch was opened: the flush window counts from here */
    private windowOpenedAt = 0
    /** fires when the window's oldest event has waited the interval: every open batch is sealed then */
    private openTimer?: Cancel

    constructor(private readonly deps: BatcherDeps) {}

    /** Add a selected event (already shaped) to its partition's batch, sealing what a cap or the window says. */
    add(event: ExportableEvent, shaped: ExportableEvent, isoTime: string, now: number): void {
        const { payload, bytes } = this.deps.encoding.measure(shaped, isoTime)
        const partition = this.deps.layout.partitionOf(event, isoTime)
        let entry = this.open.get(partition)
        // Seal before a cap would be crossed, so each object stays within it (a single larger event goes alone).
        if (entry && this.wouldOverflow(entry.batch, bytes)) {
            this.seal(partition)
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
        if (entry.batch.rawBytes >= this.deps.config.maxBatchBytes) this.seal(partition)
        this.sealIfOverdue(now)
    }

    /** The window's oldest event has waited the interval: seal every open batch (its timer may have been lost). */
    sealIfOverdue(now: number): void {
        if (this.open.size > 0 && now - this.windowOpenedAt >= this.deps.config.uploadIntervalMs) this.sealAll()
    }

    /** Seal every open batch: one flush, one object per partition. */
    sealAll(): void {
        for (const partition of [...this.open.keys()]) this.seal(partition)
    }

    /** Seal the least recently used batch (open batches hold more than their share); false when none is open. */
    sealLeastRecentlyUsed(): boolean {
        if (this.open.size === 0) return false
        this.seal(this.open.keys().next().value as string)
        return true
    }

    /** Events in open batches. */
    events(): number {
        let events = 0
        for (const { batch } of this.open.values()) events += batch.events
        return events
    }

    /** True when adding `bytes` more would cross the raw cap or could cross the stored (compressed) cap. */
    private wouldOverflow(batch: Batch<unknown>, bytes: number): boolean {
        const { maxBatchBytes, maxStoredBytes } = this.deps.config
        if (batch.rawBytes + bytes > maxBatchBytes) return true
        // Data not yet compressed counts at full size (or the format's worst case), so the stored-size cap holds.
        return maxStoredBytes !== undefined && batch.storedBoundBytes() + bytes + STORED_CAP_MARGIN > maxStoredBytes
    }

    private openPartition(partition: string, now: number): { batch: Batch<unknown>; holding: Holding } {
        const { holding, onChange } = this.deps.ledger.hold('open')
        const entry = { batch: this.deps.encoding.open(now, onChange), holding }
        if (this.open.size === 0) {
            this.windowOpenedAt = now
            this.openTimer = this.deps.schedule(this.deps.config.uploadIntervalMs, () => {
                this.openTimer = undefined
                // The timer belongs to this window: seal it even if the clock reads a hair short (timers fire early).
                if (this.windowOpenedAt === now) this.sealAll()
            })
        }
        this.open.set(partition, entry)
        return entry
    }

    private seal(partition: string): void {
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
        const sealedAt = this.deps.now()
        this.deps.ledger.move(entry.holding, 'queued')
        const sealed = open.seal()
        this.deps.onSealed({ partition, summary: open, sealed, holding: entry.holding, sealedAt })
    }
}
