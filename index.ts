/**
 * S3 Export for PostHog: the plugin-server hooks, wiring only. Each worker thread has its own copy of this app and
 * so its own Exporter in `meta.global`.
 */
import type { Meta, PluginEvent, ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { randomBytes } from 'crypto'
import { HealthAlert } from './src/alert'
import { Backfill, BACKFILL_JOB, BOUNDARY_JOB, EDGE_WINDOW_MS, edgeId, HOST_HISTORICAL_JOB, isHistoricalBatch, leaveLiveEventsToOnEvent, markLiveSince, mayPredateBoundary, readPageBounds, setLiveSince, startBackfill } from './src/backfill'
import { parseConfig, type Config } from './src/config'
import { APP_VERSION } from './src/pipeline'
import { EdgeNotes } from './src/edge-notes'
import { WriteCheck } from './src/health'
import { Exporter, type CloseReport } from './src/exporter'
import { hostV2Http } from './src/host/aws-sdk'
import { hostCapture, hostEnqueue, hostMetricSink, type HostJobs } from './src/host/meta'
import type { HostStorage } from './src/host/storage'
import { hostSchedule } from './src/host/timer'
import { METRICS } from './src/metrics'
import { Monitor } from './src/monitor'
import { Reporter } from './src/report'
import { createS3Store, notifyingStore, type ObjectStore, type S3StoreDeps } from './src/s3'
import { JOB_NAME, runSpilledBatch, spillBatch, type SpilledBatchPayload } from './src/spill'

/** The app metrics PostHog shows for this app (src/metrics.ts says what each one means). */
export const metrics = METRICS

/** The host waits at most 5 s for teardownPlugin; keep 0.5 s to hand leftovers to the job queue and report. */
export const TEARDOWN_BUDGET_MS = 4_500

interface S3ExportMeta {
    config: Record<string, string>
    global: {
        exporter?: Exporter
        config?: Config
        store?: ObjectStore
        check?: WriteCheck
        reporter?: Reporter
        monitor?: Monitor
        setupError?: string
        backfill?: Backfill
        /** the backfill's boundary as this copy read it at setup (src/backfill.ts): for the edge notes */
        liveSince?: number
        /** the edge window after the boundary is over: onEvent notes nothing more */
        edgeWindowOver?: boolean
        /** this copy's edge notes, many to a storage write (src/edge-notes.ts) */
        edgeNotes?: EdgeNotes
        /** the host's exportEvents wrapper reads it at every live event (src/backfill.ts leaveLiveEventsToOnEvent) */
        exportEventsToIgnore?: unknown
    }
    jobs?: HostJobs
    storage?: HostStorage
    utils?: { cursor?: { init(key: string, initialValue?: number): Promise<void>; increment?(key: string, incrementBy?: number): Promise<number> } }
}

type AnyMeta = S3ExportMeta & Partial<Omit<Meta, 'config' | 'global'>>

export { hostSchedule } from './src/host/timer'

/**
 * Parse the settings (a bad one rejects with a message naming it), start the exporter, and check that the bucket
 * takes writes: setup rejects only when S3 definitively refuses; while S3 is unreachable or failing, the app runs
 * and buffers, and the check goes on in the background (health.ts says why).
 */
export function setupPlugin(meta: AnyMeta): Promise<void> {
    // the host's exportEvents wrapper hands us no live event (they reach onEvent): no double count in its metrics
    leaveLiveEventsToOnEvent(meta.global)
    let config: Config
    try {
        config = parseConfig(meta.config)
    } catch (error) {
        meta.global.setupError = String((error as Error)?.message ?? error)
        return Promise.reject(error) // one way to fail, whatever the cause: a rejected promise
    }
    // any object S3 takes (the write check's first of all) means it is back: the exporter stops sitting out its backoff
    const store = notifyingStore(createS3Store(config, { fetch: fetch as unknown as S3StoreDeps['fetch'], v2: hostV2Http }), () => meta.global.exporter?.resume())
    const reporter = new Reporter(console, Date.now)
    const enqueue = hostEnqueue(meta.jobs, JOB_NAME)
    const exporter = new Exporter({
        config,
        store,
        now: () => Date.now(),
        random: () => Math.random(),
        randomBytes: (n) => randomBytes(n),
        schedule: hostSchedule,
        log: console,
        reporter,
        // meta.storage holds the slices of a body no job can carry (spill.ts: park)
        spill: enqueue ? (batch) => spillBatch(batch, enqueue, undefined, meta.storage) : undefined,
    })
    const check = new WriteCheck({ store, config, schedule: hostSchedule, random: Math.random, reporter, storedSince: () => exporter.lastStoredAt > 0 })
    const alert = new HealthAlert({
        alertAfterMs: config.alertAfterMs,
        bucket: config.bucket,
        prefix: config.prefix,
        endpoint: config.endpoint,
        region: config.region,
        copyId: randomBytes(4).toString('hex'),
        appVersion: APP_VERSION,
        secrets: [config.accessKeyId, config.secretAccessKey],
    })
    const monitor = new Monitor({ exporter, alert, now: Date.now, schedule: hostSchedule, metrics: hostMetricSink(meta.metrics), capture: hostCapture(), log: console })
    monitor.start()
    Object.assign(meta.global, { config, store, reporter, exporter, check, monitor, setupError: undefined })
    return check.setup().then((result) => {
        if (result.kind === 'refused') {
            monitor.stop()
            meta.global.monitor = undefined
            meta.global.exporter = undefined
            meta.global.setupError = result.message
            throw new Error(result.message)
        }
        // a host without storage offers no historical export either
        const storage = meta.storage
        if (!storage) return
        const setOnce = meta.utils?.cursor?.init ? (key: string, value: number) => meta.utils!.cursor!.init(key, value) : undefined
        return markLiveSince(storage, setOnce, Date.now()).then((liveSince) => {
            meta.global.liveSince = liveSince
            const cursor = meta.utils?.cursor
            meta.global.edgeNotes = new EdgeNotes({
                set: (key, value) => storage.set(key, value),
                increment: cursor?.increment ? (key) => cursor.increment!(key, 1) : undefined,
                schedule: hostSchedule,
            })
            meta.global.backfill = new Backfill({
                config,
                store,
                storageGet: (key) => meta.storage!.get(key, null),
                spill: enqueue ? (batch) => spillBatch(batch, enqueue, undefined, storage) : undefined,
                metrics: hostMetricSink(meta.metrics),
                log: console,
                now: Date.now,
            })
        })
    })
}

/** Jobs the host runs from its queue in any thread: uploads of batches spilled from memory, and our backfill button. */
export const jobs = {
    /**
     * plugin.json publicJobs: a backfill of an ingestion-time range, through the host's own "Export historical
     * events" job (src/backfill.ts startBackfill).
     */
    [BACKFILL_JOB]: (payload: { dateFrom?: string; dateTo?: string } | undefined, meta: AnyMeta): Promise<void> => {
        const start = meta.jobs?.[HOST_HISTORICAL_JOB]
        if (!start || !meta.storage) {
            console.error(`S3 Export: this PostHog has no "${HOST_HISTORICAL_JOB}" job, so it cannot backfill (it came with PostHog's exportEvents apps up to the Nov 2023 plugin server)`)
            return Promise.resolve()
        }
        return startBackfill(payload, { storage: meta.storage, startHostJob: (p) => start(p).runNow(), log: console, now: Date.now() })
    },
    /** plugin.json publicJobs: the one action that moves the backfill's boundary (src/backfill.ts setLiveSince) */
    [BOUNDARY_JOB]: (payload: { liveSince?: string } | undefined, meta: AnyMeta): Promise<void> => {
        if (!meta.storage) return Promise.resolve()
        return setLiveSince(payload, { storage: meta.storage, log: console, now: Date.now() })
    },
    [JOB_NAME]: (payload: SpilledBatchPayload, meta: AnyMeta): Promise<void> => {
        const { store, config } = meta.global
        const enqueue = hostEnqueue(meta.jobs, JOB_NAME)
        if (!store || !config || !enqueue) return Promise.reject(new Error('S3 Export: a spilled batch job ran before setupPlugin finished'))
        return runSpilledBatch(payload, { store, enqueue, random: Math.random, log: console, bucket: config.bucket, prefix: config.prefix, storage: meta.storage }).then((result) => {
            // a job runs in any thread, outside every exporter's counts: it reports its own outcome
            const sink = hostMetricSink(meta.metrics)
            if (result.outcome === 'stored') sink?.('spilled_events_stored', payload.events)
            if (result.outcome === 'dropped') sink?.('undelivered_events', payload.events)
        })
    },
}

export function onEvent(event: ProcessedPluginEvent | PluginEvent, meta: AnyMeta): void {
    // meta.global read once: inside the sandbox each read of the host's meta is a proxy trip, on every event
    const state = meta.global
    const exporter = state.exporter
    if (exporter) {
        exporter.add(event)
        state.monitor?.wake()
        // for a while after the boundary: note events that may have been ingested before it (the backfill skips them);
        // once that window is over, one flag read per event and nothing more
        if (state.edgeWindowOver) return
        const liveSince = state.liveSince
        if (liveSince === undefined || !meta.storage) return
        const now = Date.now()
        if (now >= liveSince + EDGE_WINDOW_MS) {
            state.edgeWindowOver = true
            void state.edgeNotes?.flush()
        } else if (mayPredateBoundary(event as any, liveSince, now)) state.edgeNotes?.note(edgeId(event as any))
        return
    }
    // The real host does not call onEvent before setup resolved; another host might. Say so, never throw.
    const reporter = state.reporter ?? (state.reporter = new Reporter(console, Date.now))
    reporter.report('not-set-up', `S3 Export is not set up${state.setupError ? ` (${state.setupError})` : ' yet'}: events are not exported`)
}

/**
 * The host calls this with its historical export's pages (the backfill) AND with every live event again, batched by
 * its own buffer around onEvent: onEvent already exported those, so they are ignored here (src/backfill.ts).
 */
export function exportEvents(events: Array<ProcessedPluginEvent | PluginEvent>, meta: AnyMeta): Promise<void> {
    if (!isHistoricalBatch(events as any)) {
        if (meta.global.backfill) meta.global.backfill.stats.liveBatchesIgnored++
        return Promise.resolve()
    }
    const backfill = meta.global.backfill
    const storage = meta.storage
    if (!backfill || !storage) return Promise.reject(new Error('S3 Export: a backfill page arrived before setupPlugin finished'))
    // the boundary as stored now, and the range of the app's own job when this run is that job's
    return readPageBounds(storage, meta.global.liveSince || Date.now()).then((bounds) => backfill.exportPage(events as any, bounds.liveSince, bounds.range))
}

export function runEveryMinute(meta: AnyMeta): void {
    meta.global.exporter?.tick()
    meta.global.monitor?.check()
}

/**
 * The host calls this on shutdown (waiting at most 5 s) and on reload (not waiting, and still calling onEvent of this
 * copy until the new one is loaded: the exporter stores those events too).
 */
export function teardownPlugin(meta: AnyMeta): Promise<CloseReport | undefined> {
    meta.global.check?.stop()
    // the edge notes gathered so far: one storage write, begun first and not awaited (a hung write must not cost the
    // teardown budget; the exporter's close below takes longer than a PostgreSQL write)
    void meta.global.edgeNotes?.flush()
    const exporter = meta.global.exporter
    if (!exporter) return Promise.resolve(undefined)
    return exporter.close(Date.now() + TEARDOWN_BUDGET_MS).then((report) => {
        exporter.sayHandedOver('teardown', report)
        // the last metrics of this copy, and a recovered event if the final uploads succeeded
        meta.global.monitor?.stop()
        return report
    })
}
