/**
 * The edge notes (src/backfill/backfill.ts says why they exist): live copies record the events they export that may have been
 * ingested before the backfill's boundary, and the backfill skips those. This module is how they are kept.
 *
 * One storage write per event was the first way, and it cost: with an ingestion backlog at install, every event of
 * the backlog is such an event, and each `meta.storage.set` is a PostgreSQL write in the host (~4.3k instead of ~7k
 * events/s). So a copy gathers ids in memory and writes them as one RECORD of up to NOTES_PER_RECORD ids, at most
 * NOTE_FLUSH_MS after the first of them (a host timer), when the window closes, and at teardown. A record's slot
 * comes from the host's atomic counter (`utils.cursor.increment`, PostgreSQL's UPDATE … RETURNING), so copies in
 * any thread or process never share one and a reader finds every record as slots 1…N: two writes per record
 * instead of one per event. Exactness is unchanged: a note is found by the backfill once its record is written,
 * as a single note was once its write landed.
 *
 * A host without the counter gets one key per event, as before, and says so in a flag the reader checks.
 */
import type { Cancel, Schedule } from '../host/timer'

/** the counter of record slots (`utils.cursor`: a storage row the host increments atomically) */
export const EDGE_SLOTS_KEY = 's3_export_edge_slots'
/** record `n` is stored under this prefix + n: an array of event ids */
export const EDGE_RECORD_PREFIX = 's3_export_edge_record_'
/** the per-event notes' prefix (hosts without the counter) */
export const EDGE_KEY_PREFIX = 's3_export_edge_'
/** set once by a copy that had to write per-event notes: the reader then looks those up too */
export const EDGE_PER_EVENT_FLAG = 's3_export_edge_per_event'
/** ids per record: ~27 bytes of JSON each, so a record stays near 50 KB (one PostgreSQL row) */
export const NOTES_PER_RECORD = 2_000
/** a note waits at most this long for its record to be written */
export const NOTE_FLUSH_MS = 1_000

export interface EdgeNotesDeps {
    set: (key: string, value: unknown) => Promise<void>
    /** `meta.utils.cursor.increment`; undefined: one key per event */
    increment?: (key: string) => Promise<number>
    schedule: Schedule
    perRecord?: number
    flushMs?: number
}

/** One copy's writer of edge notes. */
export class EdgeNotes {
    /** storage writes made (records, their slots, per-event notes) */
    private made = 0
    private pending: string[] = []
    private timer?: Cancel
    private flagged = false
    private readonly writing = new Set<Promise<void>>()

    constructor(private readonly deps: EdgeNotesDeps) {}

    /** storage writes made so far (records, their slots, per-event notes): for logs and tests */
    get writes(): number {
        return this.made
    }

    /** Note an event by its edge id (pages.ts edgeId); written within NOTE_FLUSH_MS, or now when a record is full. */
    note(id: string): void {
        if (!this.deps.increment) {
            this.perEvent(id)
            return
        }
        this.pending.push(id)
        if (this.pending.length >= (this.deps.perRecord ?? NOTES_PER_RECORD)) void this.flush()
        else if (!this.timer) this.timer = this.deps.schedule(this.deps.flushMs ?? NOTE_FLUSH_MS, () => void this.flush())
    }

    /** Write what is gathered as one record; resolves once every record begun so far is written (or failed). */
    flush(): Promise<void> {
        this.timer?.cancel()
        this.timer = undefined
        const increment = this.deps.increment
        if (this.pending.length > 0 && increment) {
            const ids = this.pending
            this.pending = []
            this.made += 2
            const write: Promise<void> = increment(EDGE_SLOTS_KEY)
                .then((slot) => this.deps.set(EDGE_RECORD_PREFIX + slot, ids))
                // a record that could not be written: its events may be stored twice (once live, once backfilled);
                // retrying could not help the reader, which may have read past its slot
                .catch(() => undefined)
                .then(() => void this.writing.delete(write))
            this.writing.add(write)
        }
        return Promise.all([...this.writing]).then(() => undefined)
    }

    private perEvent(id: string): void {
        if (!this.flagged) {
            this.flagged = true
            this.made++
            void this.deps.set(EDGE_PER_EVENT_FLAG, 1).catch(() => undefined)
        }
        this.made++
        void this.deps.set(EDGE_KEY_PREFIX + id, 1).catch(() => undefined)
    }
}

/**
 * The backfill's reader of the notes, one per thread: records are read once each (slots 1…N as the counter stands
 * at each lookup; a slot whose record is not there yet is read again at the next lookup), their ids kept in a set.
 */
export class EdgeLookup {
    private readonly ids = new Set<string>()
    private readSlots = 0
    private readonly missingSlots = new Set<number>()

    constructor(private readonly get: (key: string) => Promise<unknown>) {}

    /** Which of these edge ids did a live copy note? */
    seenLive(ids: readonly string[]): Promise<Set<string>> {
        if (ids.length === 0) return Promise.resolve(new Set())
        return Promise.all([this.get(EDGE_SLOTS_KEY), this.get(EDGE_PER_EVENT_FLAG)])
            .then(([count, perEvent]) => this.load(Number(count) || 0).then(() => perEvent))
            .then((perEvent) => {
                const seen = new Set(ids.filter((id) => this.ids.has(id)))
                if (perEvent === null || perEvent === undefined) return seen
                const rest = ids.filter((id) => !seen.has(id))
                return Promise.all(rest.map((id) => this.get(EDGE_KEY_PREFIX + id).then((v) => v !== null && v !== undefined && seen.add(id)))).then(() => seen)
            })
    }

    private load(count: number): Promise<void> {
        const slots = [...this.missingSlots]
        for (let slot = this.readSlots + 1; slot <= count; slot++) slots.push(slot)
        this.readSlots = Math.max(this.readSlots, count)
        return Promise.all(
            slots.map((slot) =>
                this.get(EDGE_RECORD_PREFIX + slot).then((record) => {
                    if (!Array.isArray(record)) {
                        this.missingSlots.add(slot)
                        return
                    }
                    this.missingSlots.delete(slot)
                    for (const id of record) if (typeof id === 'string') this.ids.add(id)
                })
            )
        ).then(() => undefined)
    }
}
