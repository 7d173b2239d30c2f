/**
 * What loading the app costs each plugin-server worker thread, under a host profile: the host's Babel pass and the
 * RSS it adds, each load in a fresh worker thread (cold, as every thread of a real host at every load and reload),
 * one thread at a time so the process-wide RSS is the one thread's.
 */
import path from 'path'
import { Worker } from 'worker_threads'

import type { HostLoadRequest, HostLoadResult } from './host-load-worker'
import { spread, type Spread } from './stats'

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
