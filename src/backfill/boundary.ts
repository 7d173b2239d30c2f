/**
 * The backfill's boundary (`liveSince`, backfill.ts says what it means) as the host's storage keeps it, and the two
 * public jobs that act on it: a backfill of a date range, and the one action that moves the boundary.
 */
import type { Logger } from '../health/report'
import type { HostStorage } from '../host/storage'
import type { BackfillRange } from './pages'

/** meta.storage key of the boundary (epoch ms): set once, by the first copy whose setup succeeded */
export const LIVE_SINCE_KEY = 's3_export_live_since'
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

/** What the backfill button says on a PostHog whose plugin server has no historical export to start. */
export const CANNOT_BACKFILL = `S3 Export cannot backfill on this PostHog: its plugin server has no "${HOST_HISTORICAL_JOB}" job (PostHog removed the historical export with exportEvents in December 2023). Live events are exported as they arrive; nothing was started.`

/**
 * The "Backfill S3 (date range)" job as the host runs it: `startHostJob` is the host's own "Export historical events"
 * job, which only hosts with exportEvents apps have (plugin servers up to Nov 2023); elsewhere it says so instead of failing.
 */
export function backfillJob(
    payload: { dateFrom?: string; dateTo?: string } | undefined,
    deps: { storage?: BoundaryStorage; startHostJob?: (payload: { dateFrom?: string; dateTo: string }) => Promise<void>; log: Logger; now: number }
): Promise<void> {
    const { storage, startHostJob } = deps
    if (!startHostJob || !storage) {
        deps.log.error(CANNOT_BACKFILL)
        return Promise.resolve()
    }
    return startBackfill(payload, { storage, startHostJob, log: deps.log, now: deps.now })
}
