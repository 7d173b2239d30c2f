/**
 * The backfill's pages, read pure: which events of a host page belong to the backfill (the boundary, the job's range,
 * the app's filters), which may sit on the edge, and the name a page's objects get. backfill.ts says why the boundary
 * is where it is.
 */
import { createHash } from 'crypto'
import type { EventSelector, ExportableEvent } from '../event'

/** how long after the boundary live copies note events that may predate it, and how far before it the backfill looks them up */
export const EDGE_WINDOW_MS = 10 * 60_000
/**
 * Events captured up to this long after the boundary are noted too: the capture time comes from the server that
 * received the event, the boundary from the plugin server's clock (other machines in a monorepo deployment), and
 * hosts without `utils.cursor` set the boundary get-then-set, so threads starting together may each see their own.
 */
export const EDGE_SLACK_MS = 5_000
export type AnyEvent = ExportableEvent & Record<string, any>

/**
 * A page of the host's historical export, or a batch of live events from the host's exportEvents buffer? Pages carry
 * `$$is_historical_export_event` (PostHog 1.30 on); older hosts' pages come from rows without a uuid, while every
 * live event has one (the migrator app, PostHog/posthog-plugin-migrator3000, tells them apart the same way).
 */
export function isHistoricalBatch(events: readonly AnyEvent[]): boolean {
    const first = events[0]
    if (!first) return false
    return first.properties?.$$is_historical_export_event === true || !first.uuid
}

/**
 * What the host's exportEvents wrapper asks before it buffers a live event for exportEvents: `meta.global.
 * exportEventsToIgnore.has(event.event)` (PostHog/plugin-server v1.10.5 `src/worker/vm/upgrades/export-events.ts`,
 * and every later copy of that file in PostHog/posthog, read at every event from the app's own `meta.global`).
 * onEvent exports every live event, so the host's copy of it is never wanted: a set that holds every name makes the
 * wrapper buffer nothing. That keeps the host's memory and its per-event JSON.stringify off the live path, and —
 * what matters most — v1.10.5's wrapper counts every batch it hands over in `events_seen` and
 * `events_delivered_successfully`, the names the app increments itself: with no batch, the metrics a user sees are
 * the app's alone, i.e. what S3 holds. The host's historical export calls exportEvents directly, untouched by this.
 */
export const EVERY_LIVE_EVENT: { has(name: string): boolean } = { has: () => true }

/** Tell the host's exportEvents wrapper to leave live events to onEvent (call in setupPlugin: the host set its own before). */
export function leaveLiveEventsToOnEvent(global: { exportEventsToIgnore?: unknown }): void {
    global.exportEventsToIgnore = EVERY_LIVE_EVENT
}

const CLICKHOUSE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/

/** A host time as epoch ms: ISO 8601 with a zone, or ClickHouse's `YYYY-MM-DD HH:MM:SS[.ffffff]`, which is UTC. */
export function hostTimeMs(value: unknown): number | undefined {
    if (typeof value !== 'string' || value === '') return undefined
    const ch = CLICKHOUSE_TIME.exec(value)
    if (ch) {
        const ms = ch[7] ? Number(ch[7].padEnd(3, '0').slice(0, 3)) : 0
        return Date.UTC(Number(ch[1]), Number(ch[2]) - 1, Number(ch[3]), Number(ch[4]), Number(ch[5]), Number(ch[6]), ms)
    }
    const parsed = Date.parse(value)
    return Number.isNaN(parsed) ? undefined : parsed
}

/** What identifies an event on both paths (live and page): a uuid is missing from older hosts' pages. */
export function edgeId(event: AnyEvent): string {
    const time = hostTimeMs(event.timestamp) ?? String(event.timestamp)
    return createHash('sha1').update(`${event.event}\u0001${event.distinct_id}\u0001${time}`).digest('hex').slice(0, 24)
}

/** Should a live copy note this event as possibly ingested before the boundary? (pure: `now` passed in) */
export function mayPredateBoundary(event: AnyEvent, liveSince: number, now: number): boolean {
    if (now >= liveSince + EDGE_WINDOW_MS) return false
    const captured = hostTimeMs(event.now)
    if (captured !== undefined) return captured < liveSince + EDGE_SLACK_MS
    const time = hostTimeMs(event.timestamp)
    return time === undefined || time < liveSince + EDGE_SLACK_MS
}

export interface PageSelection {
    /** events of the backfill: ingested before the boundary, selected by the app's filters */
    keep: AnyEvent[]
    /** ingested at or after the boundary: the live export has them */
    live: number
    /** ingested before the boundary but outside the range of the job that asked for this page (the host's last interval overshoots it) */
    outsideRange: number
    /** not exported at all ("Events to ignore" / "Only export these events") */
    ignored: number
    /** kept on their event time: the page gave no ingestion time */
    withoutIngestionTime: number
    /** kept events ingested within EDGE_WINDOW_MS before the boundary: look them up in the edge notes */
    nearEdge: AnyEvent[]
}

/** An ingestion-time range [from, to) of one backfill job (epoch ms; no `from`: from the first event). */
export interface BackfillRange {
    from?: number
    to: number
}

/** Split a page by the boundary, and by the range of the job that asked for it when there is one (pure). */
export function selectPage(events: readonly AnyEvent[], liveSince: number, selector: Pick<EventSelector, 'accepts'>, range?: BackfillRange): PageSelection {
    const out: PageSelection = { keep: [], live: 0, outsideRange: 0, ignored: 0, withoutIngestionTime: 0, nearEdge: [] }
    for (const event of events) {
        let ingested = hostTimeMs(event.sent_at)
        if (ingested === undefined) {
            // a host that gave no created_at: the event time is the only clue (a late event could then repeat)
            out.withoutIngestionTime++
            ingested = hostTimeMs(event.timestamp) ?? 0
        }
        if (ingested >= liveSince) {
            out.live++
            continue
        }
        if (range && (ingested >= range.to || (range.from !== undefined && ingested < range.from))) {
            // another job's range (an adjacent one would otherwise store these a second time, under another page's key)
            out.outsideRange++
            continue
        }
        if (!selector.accepts(event)) {
            out.ignored++
            continue
        }
        out.keep.push(event)
        if (ingested >= liveSince - EDGE_WINDOW_MS) out.nearEdge.push(event)
    }
    return out
}

/**
 * The object name's batch id for a page: a hash of its events, so the same page (a retried job, a re-run of the
 * same range) always lands on the same key and overwrites itself.
 */
export function pageBatchId(events: readonly AnyEvent[]): string {
    const hash = createHash('sha256')
    for (const e of events) hash.update(`${e.uuid ?? ''}\u0001${e.event}\u0001${e.distinct_id}\u0001${e.timestamp}\u0002`)
    return hash.digest('hex').slice(0, 16)
}

/** When the page's first event was ingested: the key's time, so a page's name does not depend on when it ran. */
export function pageTime(events: readonly AnyEvent[]): number {
    let min = Infinity
    for (const e of events) {
        const t = hostTimeMs(e.sent_at) ?? hostTimeMs(e.timestamp)
        if (t !== undefined && t < min) min = t
    }
    return Number.isFinite(min) ? min : 0
}
