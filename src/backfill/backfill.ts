/**
 * The backfill: past events written to S3 exactly once next to the live export.
 *
 * Who drives it: the host. An app that exports `exportEvents` gets the plugin-server's "Export historical events" job
 * (PostHog/plugin-server `src/worker/vm/upgrades/historical-export/export-historical-events.ts`, applied by
 * `src/worker/vm/vm.ts` whenever exportEvents exists; the Nov-2023 monorepo adds "Export historical events V2",
 * `plugin-server/src/worker/vm/upgrades/historical-export/export-historical-events-v2.ts`). The job reads the team's
 * events page by page (100 a run in v1, 500 in V2) and hands each page to exportEvents. The same host also hands
 * exportEvents every LIVE event, in batches from its own buffer (`upgrades/export-events.ts`): those were already
 * exported by onEvent and are ignored here (pages.ts `isHistoricalBatch`).
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
 * (live-edge.ts, edge-notes.ts), and the backfill skips events ingested within EDGE_WINDOW_MS before the boundary that are noted.
 */
import type { FileFormat } from '../formats'
import type { Config } from '../config'
import type { EventSelector } from '../event'
import type { Format } from '../formats'
import type { MetricSink } from '../health/metrics'
import type { Logger } from '../health/report'
import type { HostStorage } from '../host/storage'
import { eventIsoTime, type KeyLayout } from '../event'
import { buildPipeline, type Pipeline } from '../pipeline'
import type { ObjectStore } from '../s3/client'
import { BACKFILL_POLICY, nextTry } from '../export/retry-policy'
import type { SpillableBatch, SpillOutcome } from '../export/spill'
import { readPageBounds } from './boundary'
import { EdgeLookup } from './edge-notes'
import { edgeId, isHistoricalBatch, pageBatchId, pageTime, selectPage, type AnyEvent, type BackfillRange, type PageSelection } from './pages'

/** progress in the log at most this often */
export const PROGRESS_EVERY_MS = 30_000

export class BackfillError extends Error {
    constructor(message: string) {
        super(message)
        this.name = 'BackfillError'
    }
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
}

/** One thread's writer of backfill pages: same format, compression and layout as the live export. */
export class Backfill {
    private readonly counts: BackfillStats = { pages: 0, stored: 0, objects: 0, bytes: 0, live: 0, outsideRange: 0, edgeSkipped: 0, ignored: 0, spilled: 0, withoutIngestionTime: 0, liveBatchesIgnored: 0 }
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

    /** What this thread's backfill counted: read-only, the backfill counts. */
    get stats(): Readonly<BackfillStats> {
        return this.counts
    }

    /** The host handed exportEvents a batch of live events: onEvent exported them already (pages.ts isHistoricalBatch). */
    ignoreLiveBatch(): void {
        this.counts.liveBatchesIgnored++
    }

    /**
     * One page: select by the boundary, drop edge events the live export had, write one object per partition (one for
     * the default layout), resolve once S3 or the job queue holds it. Memory: one page at a time per call.
     */
    exportPage(events: readonly AnyEvent[], liveSince: number, range?: BackfillRange): Promise<void> {
        this.liveSince = liveSince
        const selection = selectPage(events, liveSince, this.selector, range)
        this.counts.pages++
        this.counts.live += selection.live
        this.counts.outsideRange += selection.outsideRange
        this.counts.ignored += selection.ignored
        this.counts.withoutIngestionTime += selection.withoutIngestionTime
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
            this.counts.edgeSkipped += seenLive.size
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
            // `tries`: PUTs of this object so far; the one retry policy (BACKFILL_POLICY) says whether to try again
            const put = (tries: number): Promise<void> =>
                this.deps.store.put({ key, body, contentType: file.contentType, contentEncoding: file.contentEncoding, metadata }).then((outcome) => {
                    if (outcome.kind === 'ok') {
                        this.counts.stored += batch.events
                        this.counts.objects++
                        this.counts.bytes += body.length
                        this.deps.metrics?.('backfill_events_stored', batch.events)
                        this.deps.metrics?.('backfill_objects_stored', 1)
                        return
                    }
                    this.deps.metrics?.(outcome.kind === 'retry' ? 'retry_errors' : 'other_errors', 1)
                    // BACKFILL_POLICY never waits (each step of the host's job is raced against its 30 s timer): its
                    // backoff is 0 ms, so no random draw and no timer
                    if (nextTry(BACKFILL_POLICY, outcome, tries, () => 0).kind === 'again') return put(tries + 1)
                    return this.handOver({ key, body, events: batch.events, file, metadata, split: sealed.split }, outcome.failure.message)
                })
            return put(1)
        })
    }

    /** S3 did not take the object: the job queue stores it later under the same key (with backoff, for ~2 days). */
    private handOver(batch: SpillableBatch, why: string): Promise<void> {
        if (!this.deps.spill) return Promise.reject(new BackfillError(`S3 Export could not store backfill object ${batch.key} (${why}) and this host has no job queue`))
        return this.deps.spill(batch).then((outcome) => {
            if (outcome.refused > 0) throw new BackfillError(`S3 Export could not store backfill object ${batch.key} (${why}); the job queue refused it too (${outcome.why})`)
            this.counts.spilled += batch.events
            this.deps.metrics?.('events_spilled_to_job_queue', batch.events)
            this.deps.log.warn(`S3 Export backfill: ${batch.key} (${batch.events} events) was not stored (${why}); the job queue will store it`)
        })
    }

    private progress(): void {
        const now = this.deps.now()
        if (now - this.lastProgressAt < PROGRESS_EVERY_MS) return
        this.lastProgressAt = now
        const s = this.counts
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

/**
 * exportEvents: the host hands it its historical export's pages (the backfill) AND every live event again, batched by
 * its own buffer around onEvent: onEvent already exported those, so they are ignored here.
 */
export function exportHostEvents(events: readonly AnyEvent[], backfill: Backfill | undefined, storage: Pick<HostStorage, 'get'> | undefined, liveSince: number): Promise<void> {
    if (!isHistoricalBatch(events)) {
        backfill?.ignoreLiveBatch()
        return Promise.resolve()
    }
    if (!backfill || !storage) return Promise.reject(new Error('S3 Export: a backfill page arrived before setupPlugin finished'))
    // the boundary as stored now, and the range of the app's own job when this run is that job's
    return readPageBounds(storage, liveSince).then((bounds) => backfill.exportPage(events, bounds.liveSince, bounds.range))
}
