/**
 * What the host adds to an app that exports `exportEvents`, modelled from the plugin-server source:
 *
 * 1. The exportEvents buffer (`src/worker/vm/upgrades/export-events.ts` in PostHog/plugin-server, read at tag
 *    v1.10.5; in PostHog/posthog `plugin-server/src/worker/vm/upgrades/export-events.ts` +
 *    `utils/export-events-buffer.ts`). The host wraps `onEvent`: every live event for which
 *    `meta.global.exportEventsToIgnore.has(event.event)` is false is added to a host buffer as
 *    `JSON.stringify(event).length` points (1 MB / 10 s by default; so does every version of that file in
 *    PostHog/plugin-server's history, from its first commit a00dd0a2 of 2021-05-27, and the monorepo's), then the app's own onEvent runs. The set lives in the copy's
 *    `meta.global` and is read at every event, so an app can change it. A flush calls `exportEvents(batch)` through
 *    `exportEventsWithRetry`; a `RetryError` re-enqueues the batch as the job `exportEventsWithRetry` (v1.10.5: in
 *    3 s × 2^(n+1), 15 times). So an app exporting both onEvent and exportEvents gets every LIVE event twice: once
 *    in onEvent, once in an exportEvents batch — unless its set says to ignore them.
 *    v1.10.5 also counts every batch in app metrics (`incrementMetric` through `hub.pluginMetricsManager`):
 *    `events_seen` (first try), `events_delivered_successfully` (exportEvents resolved), `retry_errors`,
 *    `undelivered_events` (retries exhausted, or another error, which adds `other_errors`) — and `setupMetrics`
 *    (`extensions/metrics.ts`) declares those five names for every app exporting exportEvents. They are the same
 *    names an app may increment itself: both add up in one value. The monorepo version modelled here counts nothing
 *    (later ones count `exportEvents` successes in app metrics v2, not in these names).
 *
 * 2. The historical export (`addHistoricalEventsExportCapability`,
 *    `src/worker/vm/upgrades/historical-export/export-historical-events.ts`; vm.ts applies it whenever exportEvents
 *    exists): the public job "Export historical events" (added to the app's public jobs by the host,
 *    `addPublicJobIfNotExists`, with no payload fields; a payload `{ dateFrom, dateTo }` is honoured), the chained job
 *    `exportHistoricalEvents`, and a wrapped setupPlugin that records the team's `_timestamp` boundaries in
 *    `meta.global.timestampBoundariesForTeam` (here: host-side state per copy). The job walks 10-minute intervals of
 *    `_timestamp`, 100 events per run (`OFFSET` within the interval), hands each page to exportEvents, and stops once
 *    the interval's START is past the upper boundary — so the last interval reaches up to 10 minutes past it. Before
 *    exporting a page it already enqueues the next page (`runNow`), so a failed page does not hold the chain; a failure
 *    (fetch error, or a RetryError from exportEvents) enqueues a retry in 3 s × 2^n — whose payload carries no
 *    `batchId`, so the batch-id guard at the top of the job drops it: in this version a failed page is not retried.
 *    A restart keeps the queued jobs (graphile) and the storage keys, so the chain resumes where it was.
 *
 * The Nov-2023 builds (PostHog/posthog `historical-export/export-historical-events-v2.ts`) add a second job,
 * "Export historical events V2": 500 events a run, intervals of the event `timestamp` (not `_timestamp`), days
 * coordinated in parallel, a failed fetch stopping the export. Pages carry the same fields (utils/fetchEventsForInterval.ts).
 */
import { createBuffer } from '@posthog/plugin-contrib'
import { RetryError } from '@posthog/plugin-scaffold'
import type { EventStore } from './event-store'
import type { LoadedPlugin } from './sandbox'
import type { DevStorage } from './storage'

export const INTERFACE_JOB_NAME = 'Export historical events'
export const CHAIN_JOB_NAME = 'exportHistoricalEvents'
export const TEN_MINUTES = 10 * 60 * 1000
export const EVENTS_PER_RUN = 100
/** the metrics v1.10.5's setupMetrics declares for an app exporting exportEvents, and its wrapper increments */
export const EXPORT_EVENTS_METRICS = ['events_seen', 'events_delivered_successfully', 'undelivered_events', 'retry_errors', 'other_errors'] as const
/** storage keys of the v1 job (same file) */
export const KEYS = {
    timestampCursor: 'timestamp_cursor',
    max: 'max_timestamp',
    min: 'min_timestamp',
    running: 'is_export_running',
    runEveryMinuteLast: 'run_every_minute_last',
    batchId: 'batch_id',
    oldTimestampCursor: 'old_timestamp_cursor',
} as const

export interface UpgradeHost {
    storage: DevStorage
    store?: EventStore
    enqueue(name: string, payload: unknown, delayMs: number): void
    /** the host's createLog: a system entry in the app's log */
    log(message: string): void
    /** '1.10.5' counts the wrapper's batches in app metrics and retries 15 times; the monorepo version neither (3 retries) */
    profile: string
    /** host-side counters for tests and the bench */
    stats: { liveBatchesToExportEvents: number; liveEventsToExportEvents: number; pagesExported: number; eventsExported: number; pageFailures: number }
}

interface HistoricalPayload {
    timestampCursor?: number
    intraIntervalOffset?: number
    retriesPerformedSoFar: number
    incrementTimestampCursor?: boolean
    batchId?: number
}

/** The host's state in each copy's `meta.global` that the upgrade uses */
interface CopyState {
    timestampBoundariesForTeam: { min: Date | null; max: Date | null }
    maxTimestamp: number | null
    minTimestamp: number | null
}

/** Apply both upgrades to a freshly loaded copy (before setupPlugin), as vm.ts does when exportEvents exists. */
export function upgradeExportEventsApp(plugin: LoadedPlugin, host: UpgradeHost, config: Record<string, unknown>): { flush: () => Promise<void> } {
    const exportEvents = plugin.methods.exportEvents
    if (!exportEvents) return { flush: async () => undefined }

    // --- 1. the exportEvents buffer around onEvent
    const num = (v: unknown, d: number) => (Number.isNaN(parseInt(String(v))) ? d : parseInt(String(v)))
    const uploadBytes = Math.max(1, Math.min(num(config.exportEventsBufferBytes, 1024 * 1024), 100 * 1024 * 1024))
    const uploadSeconds = Math.max(1, Math.min(num(config.exportEventsBufferSeconds, 10), 600))
    const v1 = host.profile === '1.10.5'
    const maxRetries = v1 ? 15 : 3
    // the copy's meta.global (the sandbox's object): the host keeps its set there and reads it back at every event
    const global = plugin.meta.global as { exportEventsToIgnore?: { has(name: string): boolean } }
    global.exportEventsToIgnore = new Set(config.exportEventsToIgnore ? String(config.exportEventsToIgnore).split(',').map((e) => e.trim()) : [])
    // v1.10.5 setupMetrics: the five exportEvents metrics are declared for the app, whatever it declared itself
    if (v1) for (const name of EXPORT_EVENTS_METRICS) if (!(name in plugin.metrics)) plugin.metrics[name] = 'sum'
    const incrementMetric = (name: string, value: number) => {
        if (v1) plugin.metricsStore.update(name, 'sum', value)
    }
    const exportWithRetry = async (batch: unknown[], retries: number): Promise<void> => {
        try {
            if (!retries) incrementMetric('events_seen', batch.length)
            await exportEvents(batch)
            incrementMetric('events_delivered_successfully', batch.length)
        } catch (error) {
            if (error instanceof RetryError || (error as Error)?.name === 'RetryError') {
                incrementMetric('retry_errors', batch.length)
                if (retries < maxRetries) {
                    const nextSeconds = 2 ** (retries + 1) * 3
                    host.enqueue('exportEventsWithRetry', { batch, batchId: Math.floor(Math.random() * 1e6), retriesPerformedSoFar: retries + 1 }, nextSeconds * 1_000)
                } else {
                    incrementMetric('undelivered_events', batch.length)
                }
                return
            }
            incrementMetric('other_errors', batch.length)
            incrementMetric('undelivered_events', batch.length)
            throw error
        }
    }
    const buffer = createBuffer({
        limit: uploadBytes,
        timeoutSeconds: uploadSeconds,
        onFlush: async (batch: unknown[]) => {
            host.stats.liveBatchesToExportEvents++
            host.stats.liveEventsToExportEvents += batch.length
            await exportWithRetry(batch, 0).catch((error: unknown) => host.log(`exportEvents of a live batch failed: ${String(error)}`))
        },
    })
    const oldOnEvent = plugin.methods.onEvent
    plugin.methods.onEvent = async (event: any) => {
        if (!global.exportEventsToIgnore!.has(event.event)) buffer.add(event, JSON.stringify(event).length)
        await oldOnEvent?.(event)
    }
    plugin.jobs.exportEventsWithRetry = (payload: any) => exportWithRetry(payload.batch, payload.retriesPerformedSoFar)

    // --- 2. the historical export
    const storage = host.storage
    const state: CopyState = { timestampBoundariesForTeam: { min: null, max: null }, maxTimestamp: null, minTimestamp: null }
    const oldSetup = plugin.methods.setupPlugin
    plugin.methods.setupPlugin = async () => {
        // "make sure we set these boundaries at setupPlugin, because from here on out the new events will already be
        // exported via exportEvents": taken at every setup (so every reload moves them)
        state.timestampBoundariesForTeam = host.store ? host.store.boundaries() : { min: null, max: null }
        storage.cursorInit(KEYS.batchId)
        const storedCursor = storage.get(KEYS.timestampCursor, null)
        storage.set(KEYS.oldTimestampCursor, storedCursor || 0)
        storage.set(KEYS.runEveryMinuteLast, Date.now() + TEN_MINUTES)
        await oldSetup?.()
    }

    const progress = (cursor: number) => {
        const span = (state.maxTimestamp ?? 0) - (state.minTimestamp ?? 0)
        // the host's own arithmetic: Math.round(fraction) * 20, so the bar is empty until done (kept as it is)
        const filled = span === 0 ? 20 : Math.round((cursor - (state.minTimestamp ?? 0)) / span) * 20
        host.log(`Export progress: ${'■'.repeat(Math.max(0, Math.min(20, filled)))}${'□'.repeat(Math.max(0, 20 - filled))}`)
    }

    const initTimestampsAndCursor = (payload: { dateFrom?: string; dateTo?: string } | undefined) => {
        const from = payload?.dateFrom ? new Date(payload.dateFrom).getTime() : state.timestampBoundariesForTeam.min?.getTime()
        if (from === undefined || Number.isNaN(from)) throw new Error(`Unable to determine the lower timestamp bound for the export automatically. Please specify a 'dateFrom' value.`)
        storage.cursorInit(KEYS.timestampCursor, from - TEN_MINUTES)
        storage.set(KEYS.min, from)
        const to = payload?.dateTo ? new Date(payload.dateTo).getTime() : state.timestampBoundariesForTeam.max?.getTime()
        if (to === undefined || Number.isNaN(to)) throw new Error(`Unable to determine the upper timestamp bound for the export automatically. Please specify a 'dateTo' value.`)
        storage.set(KEYS.max, to)
    }

    plugin.jobs[INTERFACE_JOB_NAME] = async (payload: any) => {
        if (storage.get(KEYS.running, false)) return // only one export at a time
        storage.set(KEYS.runEveryMinuteLast, Date.now() + TEN_MINUTES)
        storage.set(KEYS.running, true)
        storage.del(KEYS.timestampCursor)
        storage.del(KEYS.max)
        storage.del(KEYS.min)
        state.maxTimestamp = null
        state.minTimestamp = null
        initTimestampsAndCursor(payload)
        const batchId = storage.cursorIncrement(KEYS.batchId)
        host.enqueue(CHAIN_JOB_NAME, { retriesPerformedSoFar: 0, incrementTimestampCursor: true, batchId }, 0)
    }

    plugin.jobs[CHAIN_JOB_NAME] = async (payload: any) => {
        const p = payload as HistoricalPayload
        if (p.retriesPerformedSoFar >= 15) return
        // "handling for duplicates when the plugin server restarts"
        if (storage.get(KEYS.batchId, 0) !== p.batchId) return
        let timestampCursor = p.timestampCursor
        let offset = p.intraIntervalOffset ?? 0
        if (!state.maxTimestamp) state.maxTimestamp = Number(storage.get(KEYS.max, null))
        if (!state.minTimestamp) state.minTimestamp = Number(storage.get(KEYS.min, null))
        if (p.incrementTimestampCursor || !timestampCursor) {
            offset = 0
            timestampCursor = storage.cursorIncrement(KEYS.timestampCursor, TEN_MINUTES)
            progress(timestampCursor)
        }
        if (timestampCursor > state.maxTimestamp!) {
            storage.del(KEYS.running)
            host.log('Done exporting all events')
            return
        }
        let events: unknown[] = []
        let fetchError: unknown = null
        try {
            if (!host.store) throw new Error('no event store')
            events = host.store.fetchEventsForInterval(new Date(timestampCursor), offset, TEN_MINUTES, EVENTS_PER_RUN)
        } catch (error) {
            fetchError = error
        }
        if (p.retriesPerformedSoFar === 0) {
            host.enqueue(
                CHAIN_JOB_NAME,
                { timestampCursor, incrementTimestampCursor: events.length === 0, retriesPerformedSoFar: 0, intraIntervalOffset: offset + EVENTS_PER_RUN, batchId: p.batchId },
                0
            )
        }
        let exportError: unknown = null
        if (!fetchError) {
            try {
                await exportEvents(events)
            } catch (error) {
                exportError = error
            }
        }
        const range = `events ${offset}-${offset + EVENTS_PER_RUN} from ${new Date(timestampCursor).toISOString()} to ${new Date(timestampCursor + TEN_MINUTES).toISOString()}`
        if (fetchError || exportError instanceof RetryError || (exportError as Error)?.name === 'RetryError') {
            host.stats.pageFailures++
            const next = 2 ** p.retriesPerformedSoFar * 3
            host.log(`Failed processing ${range}. Retrying in ${next}s`)
            // the host's retry payload, as it is: no batchId
            host.enqueue(CHAIN_JOB_NAME, { intraIntervalOffset: offset, timestampCursor, retriesPerformedSoFar: p.retriesPerformedSoFar + 1 }, next * 1000)
        }
        host.log(`Successfully processed ${range}.`)
        host.stats.pagesExported++
        host.stats.eventsExported += events.length
    }

    return { flush: () => buffer.flush() }
}
