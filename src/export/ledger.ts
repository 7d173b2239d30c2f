/**
 * The memory ledger: what one exporter holds, as a running total per place, never a per-event sum. It is the one
 * place that changes the totals: a batch's share (a Holding) grows with its compressor's callbacks and moves between
 * places as the batch travels, and nothing else writes either.
 *
 *   open       batches still taking events (text, compressed output, compressor state, bookkeeping)
 *   queued     sealed batches not yet stored
 *   spilling   batches on their way into the job queue (held until the queue has taken them)
 *   finishing  out of the queue (stored, dropped, handed over) while its compressor still works: still held
 *   gone       counted nowhere any more; callbacks that arrive later change nothing
 */
export type Place = 'open' | 'queued' | 'spilling' | 'finishing' | 'gone'

/** A batch's share of memory: read it anywhere, change it only through the ledger. */
export interface Holding {
    readonly bytes: number
    readonly place: Place
}

interface MutableHolding {
    bytes: number
    place: Place
}

export class MemoryLedger {
    /** bytes held per place, kept up to date by each holding (read on every event: O(1)) */
    private readonly totals: Record<Place, number> = { open: 0, queued: 0, spilling: 0, finishing: 0, gone: 0 }

    /** A new holding of 0 bytes in `place`, and the callback its compressor reports changes to. */
    hold(place: Place): { holding: Holding; onChange: (delta: number) => void } {
        const holding: MutableHolding = { bytes: 0, place }
        return { holding, onChange: (delta) => this.grow(holding, delta) }
    }

    /** A holding's bytes changed where it is counted; once gone, nothing counts any more. */
    grow(holding: Holding, delta: number): void {
        if (holding.place === 'gone') return
        ;(holding as MutableHolding).bytes += delta
        this.totals[holding.place] += delta
    }

    /** A holding's bytes are now `bytes` (a body replaced what made it): the difference counts where it is. */
    resize(holding: Holding, bytes: number): void {
        if (holding.place !== 'gone') this.totals[holding.place] += bytes - holding.bytes
        ;(holding as MutableHolding).bytes = bytes
    }

    move(holding: Holding, to: Place): void {
        if (holding.place !== 'gone') this.totals[holding.place] -= holding.bytes
        ;(holding as MutableHolding).place = to
        if (to !== 'gone') this.totals[to] += holding.bytes
    }

    /** Bytes held in one place. */
    in(place: Exclude<Place, 'gone'>): number {
        return this.totals[place]
    }

    /** Everything held: open batches, sealed batches not yet stored, and batches being spilled or finishing. */
    total(): number {
        return this.totals.open + this.totals.queued + this.totals.spilling + this.totals.finishing
    }
}
