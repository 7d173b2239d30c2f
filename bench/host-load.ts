/**
 * What loading the app costs each plugin-server worker thread, under a host profile: the host's Babel pass and the
 * RSS it adds, each load in a fresh worker thread (cold, as every thread of a real host at every load and reload),
 * one thread at a time so the process-wide RSS is the one thread's.
 */
import path from 'path'
import { Worker } from 'worker_threads'

import type { HostLoadRequest, HostLoadResult } from './host-load-worker'
import type { BenchHost } from './hosts'
import { fmt } from './report'
import { spread, type Spread } from './stats'

/** how long a loaded thread idles before RSS is read again (V8's memory reducer needs ~10 s; measured +52 MB at 5 s, +47 MB from 15 s on) */
export const SETTLE_MS = 15_000

export interface HostLoadSummary {
    hostProfile: string
    loads: number
    bundleBytes: number
    transformMs: Spread
    rssAddedMb: Spread
    heapAddedMb: Spread
    /** with settleMs: RSS added once the thread idled that long (V8's memory reducer), then after a full GC */
    rssSettledMb?: Spread
    rssSettledGcMb?: Spread
    settleMs: number
    perLoad: HostLoadResult[]
}

function loadOnce(request: HostLoadRequest): Promise<HostLoadResult> {
    return new Promise((resolve, reject) => {
        const worker = new Worker(path.join(__dirname, 'host-load-worker.ts'), { workerData: request, execArgv: ['--require', 'tsx/cjs'] })
        worker.once('message', (message: HostLoadResult | { error: string }) => {
            void worker.terminate()
            if ('error' in message) reject(new Error(message.error))
            else resolve(message)
        })
        worker.once('error', reject)
    })
}

export async function measureHostLoad(pluginDir: string, hostProfile: string, loads = 5, settleMs = 0): Promise<HostLoadSummary> {
    const perLoad: HostLoadResult[] = []
    for (let i = 0; i < loads; i++) perLoad.push(await loadOnce({ pluginDir, hostProfile, settleMs }))
    const MiB = 1024 * 1024
    return {
        hostProfile,
        loads,
        bundleBytes: perLoad[0].bundleBytes,
        transformMs: spread(perLoad.map((r) => r.transformMs)),
        rssAddedMb: spread(perLoad.map((r) => r.rssAddedBytes / MiB)),
        heapAddedMb: spread(perLoad.map((r) => r.heapAddedBytes / MiB)),
        rssSettledMb: settleMs > 0 ? spread(perLoad.map((r) => (r.rssSettledBytes ?? 0) / MiB)) : undefined,
        rssSettledGcMb: settleMs > 0 ? spread(perLoad.map((r) => (r.rssSettledGcBytes ?? 0) / MiB)) : undefined,
        settleMs,
        perLoad,
    }
}

export type HostLoads = Map<BenchHost, { app: HostLoadSummary; noop: HostLoadSummary }>

/**
 * The bench's first phase, while nothing else of ours runs: what loading each generation's bundle costs one worker
 * thread under its profile (and, SETTLE_MS later, what V8 has handed back), then the same for a no-op app: the host's
 * own share.
 */
export async function measureHostLoads(hosts: BenchHost[], noopDir: string, loads: number, log: (message: string) => void): Promise<HostLoads> {
    const out: HostLoads = new Map()
    for (const h of hosts) {
        const appLoad = await measureHostLoad(h.pluginDir, h.profile, loads, SETTLE_MS)
        const noop = await measureHostLoad(noopDir, h.profile, loads)
        out.set(h, { app: appLoad, noop })
        log(
            `host load (${h.profile}, ${fmt(appLoad.bundleBytes / 1024)} KB): Babel ${fmt(appLoad.transformMs.median)} ms, RSS +${fmt(appLoad.rssAddedMb.median, 1)} MB per thread, ` +
                `+${fmt(appLoad.rssSettledMb!.median, 1)} MB after ${SETTLE_MS / 1000} s idle (no-op app: ${fmt(noop.transformMs.median)} ms, +${fmt(noop.rssAddedMb.median, 1)} MB; medians of ${loads} fresh threads)`
        )
    }
    return out
}

// npx tsx bench/host-load.ts [pluginDir] [profile]: just this measurement
if (require.main === module) {
    const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..'))
    measureHostLoad(dir, process.argv[3] ?? process.env.S3_EXPORT_HOST_PROFILE ?? '1.10.5').then(
        (s) => console.log(JSON.stringify({ ...s, perLoad: undefined })),
        (error) => {
            console.error(error)
            process.exit(1)
        }
    )
}
