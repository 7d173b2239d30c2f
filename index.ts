/**
 * S3 Export for PostHog: the plugin-server hooks, wiring only. Each worker thread has its own copy of this app and
 * so its own Exporter in `meta.global`.
 */
import type { Meta, PluginEvent, ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { randomBytes } from 'crypto'
import { exportHostEvents, type Backfill } from './src/backfill/backfill'
import { BACKFILL_JOB, backfillJob, BOUNDARY_JOB, setLiveSince } from './src/backfill/boundary'
import type { LiveEdge } from './src/backfill/live-edge'
import { leaveLiveEventsToOnEvent, type AnyEvent } from './src/backfill/pages'
import { setupBackfill } from './src/backfill/setup'
import { parseConfig, type Config } from './src/config'
import { Exporter, type CloseReport } from './src/export/exporter'
import { JOB_NAME, spillBatch, type SpilledBatchPayload } from './src/export/spill'
import { spilledBatchJob } from './src/export/spill-job'
import { HealthAlert } from './src/health/alert'
import { METRICS } from './src/health/metrics'
import { Monitor } from './src/health/monitor'
import { Reporter } from './src/health/report'
import { WriteCheck } from './src/health/write-check'
import { hostGeneration, type HostGeneration } from './src/host/generation'
import type { HostMeta } from './src/host/meta'
import { APP_VERSION } from './src/pipeline'
import { createS3Store, notifyingStore, type ObjectStore, type S3StoreDeps } from './src/s3/client'

/** The app metrics PostHog shows for this app (src/health/metrics.ts says what each one means). */
export const metrics = METRICS

/** The host waits at most 5 s for teardownPlugin; keep 0.5 s to hand leftovers to the job queue and report. */
export const TEARDOWN_BUDGET_MS = 4_500

/** What each copy keeps in `meta.global`. */
interface CopyState {
    exporter?: Exporter; config?: Config; store?: ObjectStore; check?: WriteCheck; reporter?: Reporter; monitor?: Monitor; backfill?: Backfill; host?: HostGeneration
    /** why setup failed, for onEvent's message */
    setupError?: string
    /** the backfill's boundary as this copy read it at setup (src/backfill/backfill.ts) */
    liveSince?: number
    /** onEvent's notes of events near the boundary (src/backfill/live-edge.ts) */
    liveEdge?: LiveEdge
    /** the host's exportEvents wrapper reads it at every live event (src/backfill/pages.ts leaveLiveEventsToOnEvent) */
    exportEventsToIgnore?: unknown
}

type AnyMeta = HostMeta<CopyState> & Partial<Omit<Meta, 'config' | 'global'>>
/** What this host generation offers (src/host/generation.ts), built once per copy. */
const hostOf = (meta: AnyMeta): HostGeneration => meta.global.host ?? (meta.global.host = hostGeneration(meta))

/**
 * Parse the settings (a bad one rejects with a message naming it), start the exporter, and check that the bucket
 * takes writes: setup rejects only when S3 definitively refuses; while S3 is unreachable or failing, the app runs
 * and buffers, and the check goes on in the background (src/health/write-check.ts says why).
 */
export function setupPlugin(meta: AnyMeta): Promise<void> {
    // the host's exportEvents wrapper hands us no live event (they reach onEvent): no double count in its metrics
    leaveLiveEventsToOnEvent(meta.global)
    const host = hostOf(meta)
    let config: Config
    try {
        config = parseConfig(meta.config, host.codecs)
    } catch (error) {
        meta.global.setupError = String((error as Error)?.message ?? error)
        return Promise.reject(error) // one way to fail, whatever the cause: a rejected promise
    }
    // any object S3 takes (the write check's first of all) means it is back: the exporter stops sitting out its backoff
    const store = notifyingStore(createS3Store(config, { fetch: fetch as unknown as S3StoreDeps['fetch'], v2: host.awsSdkV2 }), () => meta.global.exporter?.resume())
    const reporter = new Reporter(console, Date.now)
    const { schedule, storage } = host
    const enqueue = host.jobs?.enqueue
    // meta.storage holds the slices of a body no job can carry (src/export/spill.ts: park)
    const spill = enqueue ? (batch: Parameters<typeof spillBatch>[0]) => spillBatch(batch, enqueue, undefined, storage) : undefined
    const exporter = new Exporter({ config, store, now: Date.now, random: Math.random, randomBytes, schedule, log: console, reporter, spill })
    const check = new WriteCheck({ store, config, schedule, random: Math.random, reporter, storedSince: () => exporter.lastStoredAt > 0 })
    const { bucket, prefix, endpoint, region, alertAfterMs } = config
    const copyId = randomBytes(4).toString('hex')
    const alert = new HealthAlert({ alertAfterMs, bucket, prefix, endpoint, region, copyId, appVersion: APP_VERSION, secrets: [config.accessKeyId, config.secretAccessKey] })
    const monitor = new Monitor({ exporter, alert, now: Date.now, schedule, metrics: host.metrics, capture: host.capture, log: console })
    monitor.start()
    Object.assign(meta.global, { config, store, reporter, exporter, check, monitor, setupError: undefined })
    return check.setup().then((result) => {
        if (result.kind === 'refused') {
            monitor.stop()
            Object.assign(meta.global, { monitor: undefined, exporter: undefined, setupError: result.message })
            throw new Error(result.message)
        }
        // the backfill's boundary and edge notes serve the host's historical export only: without it, no storage writes
        if (!storage || !host.historicalExport) return
        return setupBackfill({ config, store, storage, utils: meta.utils, spill, metrics: host.metrics, schedule, now: Date.now }).then((parts) => void Object.assign(meta.global, parts))
    })
}

/** Jobs the host runs from its queue in any thread: uploads of batches spilled from memory, and our backfill buttons. */
export const jobs = {
    /** plugin.json publicJobs: a backfill of an ingestion-time range, through the host's own "Export historical events" job */
    [BACKFILL_JOB]: (payload: { dateFrom?: string; dateTo?: string } | undefined, meta: AnyMeta): Promise<void> =>
        backfillJob(payload, { storage: meta.storage, startHostJob: hostOf(meta).historicalExport, log: console, now: Date.now() }),
    /** plugin.json publicJobs: the one action that moves the backfill's boundary (src/backfill/boundary.ts setLiveSince) */
    [BOUNDARY_JOB]: (payload: { liveSince?: string } | undefined, meta: AnyMeta): Promise<void> =>
        meta.storage ? setLiveSince(payload, { storage: meta.storage, log: console, now: Date.now() }) : Promise.resolve(),
    [JOB_NAME]: (payload: SpilledBatchPayload, meta: AnyMeta): Promise<void> => {
        const { store, config } = meta.global
        const host = hostOf(meta)
        return spilledBatchJob(payload, { store, config, enqueue: host.jobs?.enqueue, storage: host.storage, metrics: host.metrics, random: Math.random, log: console })
    },
}

export function onEvent(event: ProcessedPluginEvent | PluginEvent, meta: AnyMeta): void {
    // meta.global read once: inside the sandbox each read of the host's meta is a proxy trip, on every event
    const state = meta.global
    const exporter = state.exporter
    if (exporter) {
        exporter.add(event)
        state.monitor?.wake()
        state.liveEdge?.note(event)
        return
    }
    // The real host does not call onEvent before setup resolved; another host might. Say so, never throw.
    const reporter = state.reporter ?? (state.reporter = new Reporter(console, Date.now))
    reporter.report('not-set-up', `S3 Export is not set up${state.setupError ? ` (${state.setupError})` : ' yet'}: events are not exported`)
}

/** The host's historical export's pages (the backfill), and every live event again, which is ignored (src/backfill/backfill.ts). */
export function exportEvents(events: Array<ProcessedPluginEvent | PluginEvent>, meta: AnyMeta): Promise<void> {
    return exportHostEvents(events as AnyEvent[], meta.global.backfill, meta.storage, meta.global.liveSince || Date.now())
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
    void meta.global.liveEdge?.flush()
    const exporter = meta.global.exporter
    if (!exporter) return Promise.resolve(undefined)
    return exporter.close(Date.now() + TEARDOWN_BUDGET_MS).then((report) => {
        exporter.sayHandedOver('teardown', report)
        // the last metrics of this copy, and a recovered event if the final uploads succeeded
        meta.global.monitor?.stop()
        return report
    })
}
