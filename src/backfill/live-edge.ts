/**
 * The live side of the backfill's edge (backfill.ts says why it exists): for EDGE_WINDOW_MS after the boundary,
 * onEvent notes each event that may have been ingested before it (edge-notes.ts keeps the notes, many to a storage
 * write), and the backfill skips those. Once the window is over, one field read per event and nothing more.
 */
import type { ExportableEvent } from '../event'
import type { EdgeNotes } from './edge-notes'
import { EDGE_WINDOW_MS, edgeId, mayPredateBoundary, type AnyEvent } from './pages'

export class LiveEdge {
    /** the window after the boundary is over: nothing more is noted */
    private over = false

    constructor(
        /** the boundary as this copy read it at setup (epoch ms) */
        private readonly liveSince: number,
        private readonly notes: EdgeNotes,
        private readonly now: () => number
    ) {}

    /** onEvent, after the exporter took the event. */
    note(event: ExportableEvent): void {
        if (this.over) return
        const now = this.now()
        if (now >= this.liveSince + EDGE_WINDOW_MS) {
            this.over = true
            void this.notes.flush()
        } else if (mayPredateBoundary(event as AnyEvent, this.liveSince, now)) this.notes.note(edgeId(event as AnyEvent))
    }

    /** The notes gathered so far, as one storage write (teardown). */
    flush(): Promise<void> {
        return this.notes.flush()
    }
}
