/**
 * A copy's part in the backfill, started once its setup succeeded on a host with storage: the boundary (kept once,
 * the first copy's), onEvent's edge notes, and the writer of the host's pages.
 */
import type { Config } from '../config'
import type { MetricSink } from '../health/metrics'
import { hostIncrement, hostSetOnce, type HostUtils } from '../host/meta'
import { retryLater } from '../host/retry-error'
import type { HostStorage } from '../host/storage'
import type { Schedule } from '../host/timer'
import type { ObjectStore } from '../s3/client'
import { Backfill, type BackfillDeps } from './backfill'
import { markLiveSince } from './boundary'
import { EdgeNotes } from './edge-notes'
import { LiveEdge } from './live-edge'

export interface BackfillSetupDeps {
    config: Config
    store: ObjectStore
    storage: HostStorage
    utils?: HostUtils
    spill: BackfillDeps['spill']
    metrics?: MetricSink
    schedule: Schedule
    now: () => number
}

export function setupBackfill(deps: BackfillSetupDeps): Promise<{ liveSince: number; liveEdge: LiveEdge; backfill: Backfill }> {
    const { storage, utils, now } = deps
    const boundary = markLiveSince(storage, hostSetOnce(utils), now()).catch((error: unknown) => {
        // the host's storage (PostgreSQL) not answering is transient: ask for a retry, which the later hosts give
        // only after a RetryError (any other setup error disables the app there)
        throw retryLater(`S3 Export could not read or write its backfill boundary in the app's storage: ${String((error as Error)?.message ?? error)}`)
    })
    return boundary.then((liveSince) => {
        const notes = new EdgeNotes({ set: (key, value) => storage.set(key, value), increment: hostIncrement(utils), schedule: deps.schedule })
        const backfill = new Backfill({ config: deps.config, store: deps.store, storageGet: (key) => storage.get(key, null), spill: deps.spill, metrics: deps.metrics, log: console, now })
        return { liveSince, liveEdge: new LiveEdge(liveSince, notes, now), backfill }
    })
}
