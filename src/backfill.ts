/**
 * The backfill: past events written to S3 exactly once next to the live export.
 *
 * Who drives it: the host. An app that exports `exportEvents` gets the plugin-server's "Export historical events" job
 * (PostHog/plugin-server `src/worker/vm/upgrades/historical-export/export-historical-events.ts`, applied by
 * `src/worker/vm/vm.ts` whenever exportEvents exists; the Nov-2023 monorepo adds "Export historical events V2",
 * `plugin-server/src/worker/vm/upgrades/historical-export/export-historical-events-v2.ts`). The job reads the team's
 * events page by page (100 a run in v1, 500 in V2) and hands each page to exportEvents. The same host also hands
 * exportEvents every LIVE event, in batches from its own buffer (`upgrades/export-events.ts`): those were already
 * exported by onEvent and are ignored here (`isHistoricalBatch`).
 *
 * The boundary, precisely: an event belongs to the live export when it was INGESTED at or after `liveSince` — the
 * moment this app's first copy finished setting up, kept once in meta.storage and never moved (reloads, restarts
 * and upgrades of the app keep it). From then on every event the host ingests reaches onEvent. An event ingested
 * before it belongs to the backfill. The event's own `timestamp` does not decide: a late event (a phone sending
 * last week's events today) is ingested after the boundary, reaches onEvent, and is live; the host's job still
 * finds it (v1 walks ingestion-time intervals that overshoot the boundary by up to 10 minutes; V2 walks event
 * time), and the backfill drops it. Ingestion time comes with every page: the host sets `sent_at` to the row's
 * `created_at` (`convertClickhouseEventToPluginEvent` in `upgrades/utils/utils.ts`, `utils/fetchEventsForInterval.ts`).
 *
 * The edge: events ingested just before `liveSince` may still reach onEvent after it — those that arrived while the
 * first copy was loading wait for it (LazyPluginVM), and a monorepo host's onEvent consumer may lag. So for
 * EDGE_WINDOW_MS after the boundary, live copies note each event that may have been ingested before it (captured,
 * `now`, before `liveSince` + EDGE_SLACK_MS; or without `now`, timestamped so) in meta.storage, many to a record
 * (src/edge-notes.ts), and the backfill skips events ingested within EDGE_WINDOW_MS before the boundary that are noted.
 */
import { createHash } from 'crypto'
import type { FileFormat } from './formats'
import type { Config } from './config'
import type { EventSelector, ExportableEvent } from './event'
import type { Format } from './formats'
import { eventIsoTime, type KeyLayout } from './event'
import { buildPipeline, type Pipeline } from './pipeline'
import { EdgeLookup } from './edge-notes'
import type { MetricSink } from './metrics'
import type { HostStorage } from './host/storage'
import type { Logger } from './report'
import type { ObjectStore } from './s3'
import type { SpillableBatch, SpillOutcome } from './spill'

/** meta.storage key of the boundary (epoch ms): set once, by the first copy whose setup succeeded */
export const LIVE_SINCE_KEY = 's3_export_live_since'
/** how long after the boundary live copies note events that may predate it, and how far before it the backfill looks them up */
export const EDGE_WINDOW_MS = 10 * 60_000
/**
 * Events captured up to this long after the boundary are noted too: the capture time comes from the server that
 * received the event, the boundary from the plugin server's clock (other machines in a monorepo deployment), and
 * hosts without `utils.cursor` set the boundary get-then-set, so threads starting together may each see their own.
 */
export const EDGE_SLACK_MS = 5_000
/** the host's job that reads past events (v1); ours forwards a date range to it */
export const HOST_HISTORICAL_JOB = 'Export historical events'
/** our public job (plugin.json publicJobs): a backfill of an ingestion-time range */
export const BACKFILL_JOB = 'Backfill S3 (date range)'
/** our public job (plugin.json publicJobs): the one way to move the boundary, for an app that exported live before it was recorded */
export const BOUNDARY_JOB = 'Set S3 live export start'
/** meta.storage key of the range the last "Backfill S3 (date range)" job asked the host for: { from?, to } epoch ms */
export const BACKFILL_RANGE_KEY = 's3_export_backfill_range'
/**
 * The v1 host job's own storage key of its upper bound (`MAX_UNIX_TIMESTAMP_KEY` in
 * `upgrades/historical-export/export-historical-events.ts`, set from the payload's dateTo at every start): a stored
 * range applies only to the run that has its `to` as this bound, so the host's own button later is not cut by it.
 */
export const HOST_MAX_KEY = 'max_timestamp'
/** progress in the log at most this often */
export const PROGRESS_EVERY_MS = 30_000

export class BackfillError extends Error {
    constructor(message: string) {
        super(message)
        this.name = 'BackfillError'
    }
}

type AnyEvent = ExportableEvent & Record<string, any>

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

export interface BackfillStats {
    pages: number
    stored: number
    objects: number
    bytes: number
    live: number
    outsideRange: number
    edgeSkipped: number
    ignored: number
    spilled: number
    withoutIngestionTime: number
    liveBatchesIgnored: number
}

export interface BackfillDeps {
    config: Config
    store: ObjectStore
    /** meta.storage.get */
    storageGet: (key: string) => Promise<unknown>
    /** hand an object that S3 did not take to the durable job queue (spill.ts); undefined: no queue */
    spill?: (batch: SpillableBatch) => Promise<SpillOutcome>
    metrics?: MetricSink
    log: Pick<Logger, 'info' | 'warn'>
    now: () => number
    /** a page's objects are tried this many times at once before being handed to the job queue */
    attempts?: number
}

/** One thread's writer of backfill pages: same format, compression and layout as the live export. */
export class Backfill {
    readonly stats: BackfillStats = { pages: 0, stored: 0, objects: 0, bytes: 0, live: 0, outsideRange: 0, edgeSkipped: 0, ignored: 0, spilled: 0, withoutIngestionTime: 0, liveBatchesIgnored: 0 }
    private readonly selector: EventSelector
    private readonly format: Format<unknown>
    private readonly layout: KeyLayout
    private lastProgressAt = 0
    private latestIngested = 0
    /** the boundary of the last page: for the progress line */
    private liveSince = 0
    private readonly edgeNotes: EdgeLookup

    private readonly pipeline: Pipeline

    constructor(private readonly deps: BackfillDeps) {
        this.pipeline = buildPipeline(deps.config)
        this.selector = this.pipeline.selector
        this.format = this.pipeline.format
        this.layout = this.pipeline.layout
        this.edgeNotes = new EdgeLookup((key) => deps.storageGet(key))
    }

    /**
     * One page: select by the boundary, drop edge events the live export had, write one object per partition (one for
     * the default layout), resolve once S3 or the job queue holds it. Memory: one page at a time per call.
     */
    exportPage(events: readonly AnyEvent[], liveSince: number, range?: BackfillRange): Promise<void> {
        this.liveSince = liveSince
        const selection = selectPage(events, liveSince, this.selector, range)
        this.stats.pages++
        this.stats.live += selection.live
        this.stats.outsideRange += selection.outsideRange
        this.stats.ignored += selection.ignored
        this.stats.withoutIngestionTime += selection.withoutIngestionTime
        this.deps.metrics?.('backfill_events_left_to_live', selection.live)
        return this.dropEdgeEvents(selection)
            .then((keep) => this.write(keep))
            .then(() => this.progress())
    }

    private dropEdgeEvents(selection: PageSelection): Promise<AnyEvent[]> {
        if (selection.nearEdge.length === 0) return Promise.resolve(selection.keep)
        const ids = new Map(selection.nearEdge.map((e) => [e, edgeId(e)]))
        return this.edgeNotes.seenLive([...ids.values()]).then((seenIds) => {
            const seenLive = new Set(selection.nearEdge.filter((e) => seenIds.has(ids.get(e)!)))
            this.stats.edgeSkipped += seenLive.size
            if (seenLive.size > 0) this.deps.metrics?.('backfill_events_left_to_live', seenLive.size)
            return selection.keep.filter((e) => !seenLive.has(e))
        })
    }

    private write(events: AnyEvent[]): Promise<void> {
        if (events.length === 0) return Promise.resolve()
        const now = this.deps.now()
        const batchId = pageBatchId(events)
        const sealedAt = new Date(pageTime(events))
        this.latestIngested = Math.max(this.latestIngested, sealedAt.getTime())
        // partitions in first-seen order; each one object
        const groups = new Map<string, Array<{ event: AnyEvent; iso: string }>>()
        for (const event of events) {
            const iso = eventIsoTime(event.timestamp, now)
            const partition = this.layout.partitionOf(event, iso)
            let group = groups.get(partition)
            if (!group) groups.set(partition, (group = []))
            group.push({ event, iso })
        }
        return [...groups].reduce<Promise<void>>(
            (done, [partition, group]) => done.then(() => this.writeObject(this.layout.render({ partition, sealedAt, batchId }), group, now)),
            Promise.resolve()
        )
    }

    private writeObject(key: string, group: Array<{ event: AnyEvent; iso: string }>, now: number): Promise<void> {
        const batch = this.format.open(now)
        for (const { event, iso } of group) {
            const { payload, bytes } = this.format.measure(this.selector.shape(event), iso)
            batch.add(payload, bytes, iso)
        }
        const sealed = batch.seal()
        const file: FileFormat = this.format.file
        const metadata = this.pipeline.metadata(batch, { backfill: 'true' })
        return sealed.body.then((body) => {
            const put = (attempt: number): Promise<void> =>
                this.deps.store.put({ key, body, contentType: file.contentType, contentEncoding: file.contentEncoding, metadata }).then((outcome) => {
                    if (outcome.kind === 'ok') {
                        this.stats.stored += batch.events
                        this.stats.objects++
                        this.stats.bytes += body.length
                        this.deps.metrics?.('backfill_events_stored', batch.events)
                        this.deps.metrics?.('backfill_objects_stored', 1)
                        return
                    }
                    this.deps.metrics?.(outcome.kind === 'retry' ? 'retry_errors' : 'other_errors', 1)
                    if (outcome.kind === 'retry' && attempt + 1 < (this.deps.attempts ?? 2)) return put(attempt + 1)
                    return this.handOver({ key, body, events: batch.events, file, metadata, split: sealed.split }, outcome.failure.message)
                })
            return put(0)
        })
    }

    /** S3 did not take the object: the job queue stores it later under the same key (with backoff, for ~2 days). */
    private handOver(batch: SpillableBatch, why: string): Promise<void> {
        if (!this.deps.spill) return Promise.reject(new BackfillError(`S3 Export could not store backfill object ${batch.key} (${why}) and this host has no job queue`))
        return this.deps.spill(batch).then((outcome) => {
            if (outcome.refused > 0) throw new BackfillError(`S3 Export could not store backfill object ${batch.key} (${why}); the job queue refused it too (${outcome.why})`)
            this.stats.spilled += batch.events
            this.deps.metrics?.('events_spilled_to_job_queue', batch.events)
            this.deps.log.warn(`S3 Export backfill: ${batch.key} (${batch.events} events) was not stored (${why}); the job queue will store it`)
        })
    }

    private progress(): void {
        const now = this.deps.now()
        if (now - this.lastProgressAt < PROGRESS_EVERY_MS) return
        this.lastProgressAt = now
        const s = this.stats
        this.deps.log.info(
            `S3 Export backfill (this thread): ${s.stored} events in ${s.objects} objects from ${s.pages} pages, up to events ingested at ${
                this.latestIngested ? new Date(this.latestIngested).toISOString() : '—'
            }; ${s.live + s.edgeSkipped} left to the live export (ingested after ${new Date(this.liveSince).toISOString()})${
                s.outsideRange ? `; ${s.outsideRange} outside this job's range` : ''
            }${s.spilled ? `; ${s.spilled} handed to the job queue` : ''}${
                s.withoutIngestionTime ? `; ${s.withoutIngestionTime} came without an ingestion time and were kept by their event time (a late one among them may repeat a live one)` : ''
            }`
        )
    }
}

/** The part of meta.storage the backfill's boundary needs. */
export type BoundaryStorage = Pick<HostStorage, 'get' | 'set'>

/**
 * The backfill's boundary: when the first copy of this app finished setting up (events ingested from then on reach
 * onEvent). Kept once: `setOnce` is the host's `utils.cursor.init` (an INSERT that loses to an earlier one), so of
 * several threads setting up together the first wins; hosts without it get a plain get-then-set.
 */
export function markLiveSince(storage: BoundaryStorage, setOnce: ((key: string, value: number) => Promise<void>) | undefined, now: number): Promise<number> {
    return storage.get(LIVE_SINCE_KEY, null).then((stored) => {
        if (typeof stored === 'number' && stored > 0) return stored
        const set = setOnce ? setOnce(LIVE_SINCE_KEY, now) : storage.set(LIVE_SINCE_KEY, now)
        return set.then(() => storage.get(LIVE_SINCE_KEY, now)).then((value) => Number(value) || now)
    })
}

/**
 * The "Backfill S3 (date range)" job: starts the host's own historical export (`startHostJob`, with the payload its
 * v1 job reads) for events ingested in [dateFrom, dateTo), `dateTo` cut at the boundary. The range is the job's own:
 * it is kept (BACKFILL_RANGE_KEY) so that this run's pages are held to it, and the boundary is never moved here (a
 * January backfill must leave February–May to later backfills, not declare them live): only `setLiveSince` moves it.
 */
export function startBackfill(
    payload: { dateFrom?: string; dateTo?: string } | undefined,
    deps: { storage: BoundaryStorage; startHostJob: (payload: { dateFrom?: string; dateTo: string }) => Promise<void>; log: Logger; now: number }
): Promise<void> {
    const from = payload?.dateFrom ? Date.parse(payload.dateFrom) : NaN
    const to = payload?.dateTo ? Date.parse(payload.dateTo) : NaN
    if ((payload?.dateFrom && Number.isNaN(from)) || (payload?.dateTo && Number.isNaN(to))) {
        deps.log.error(`S3 Export backfill: dateFrom and dateTo must be dates (2026-11-01 or 2026-11-01T00:00:00Z); got ${JSON.stringify(payload)}`)
        return Promise.resolve()
    }
    const { storage } = deps
    return storage.get(LIVE_SINCE_KEY, null).then((stored) => {
        const liveSince = Number(stored) || deps.now
        const until = Number.isNaN(to) ? liveSince : Math.min(to, liveSince)
        if (!Number.isNaN(from) && from >= until) {
            deps.log.error(`S3 Export backfill: nothing to export from ${new Date(from).toISOString()} until ${new Date(until).toISOString()} (events from ${new Date(liveSince).toISOString()} on are exported live)`)
            return
        }
        const range: BackfillRange = Number.isNaN(from) ? { to: until } : { from, to: until }
        return storage.set(BACKFILL_RANGE_KEY, range).then(() => {
            deps.log.info(`S3 Export backfill: exporting events ingested from ${Number.isNaN(from) ? 'the first one' : new Date(from).toISOString()} until ${new Date(until).toISOString()}`)
            return deps.startHostJob({ ...(Number.isNaN(from) ? {} : { dateFrom: new Date(from).toISOString() }), dateTo: new Date(until).toISOString() })
        })
    })
}

/**
 * What a page is held to: the boundary as stored now (`setLiveSince` may have moved it; every thread reads the same)
 * and the range of the app's own job when the host's run is that job's (its upper bound is the range's `to`).
 */
export function readPageBounds(storage: Pick<BoundaryStorage, 'get'>, fallbackLiveSince: number): Promise<{ liveSince: number; range?: BackfillRange }> {
    return Promise.all([storage.get(LIVE_SINCE_KEY, null), storage.get(BACKFILL_RANGE_KEY, null), storage.get(HOST_MAX_KEY, null)]).then(([stored, range, hostMax]) => {
        const liveSince = Number(stored) || fallbackLiveSince
        const r = range as BackfillRange | null
        const ours = r && typeof r.to === 'number' && (hostMax === null || hostMax === undefined || Number(hostMax) === r.to)
        return ours ? { liveSince, range: r.from === undefined ? { to: r.to } : { from: r.from, to: r.to } } : { liveSince }
    })
}

/**
 * The "Set S3 live export start" job: the one action that moves the boundary, for an app (an older version of this
 * one, or the original app) that already exported live before this version recorded its boundary. Events ingested
 * from `liveSince` on are then left to the live export by every later backfill. Never later than now.
 */
export function setLiveSince(payload: { liveSince?: string } | undefined, deps: { storage: BoundaryStorage; log: Logger; now: number }): Promise<void> {
    const at = payload?.liveSince ? Date.parse(payload.liveSince) : NaN
    if (Number.isNaN(at) || at > deps.now) {
        deps.log.error(`S3 Export: "${BOUNDARY_JOB}" needs liveSince, a date not in the future (2026-11-01 or 2026-11-01T00:00:00Z); got ${JSON.stringify(payload)}`)
        return Promise.resolve()
    }
    return deps.storage.get(LIVE_SINCE_KEY, null).then((before) =>
        deps.storage.set(LIVE_SINCE_KEY, at).then(() => {
            deps.log.info(
                `S3 Export: the live export now counts from ${new Date(at).toISOString()}${Number(before) ? ` (was ${new Date(Number(before)).toISOString()})` : ''}: backfills export only events ingested before it`
            )
        })
    )
}
