/**
 * One fresh worker thread loading an app the way a plugin-server worker thread does (bench/host-load.ts starts it).
 * It first loads what every thread loads anyway (the profile's Babel and vm2), so what it reports is what the app
 * adds: the host's Babel pass over the bundle (cold, as in a new thread) and the RSS that pass and the app's load
 * leave behind (RSS is what the machine pays; V8 does not hand a transform's peak back to the OS).
 */
import { parentPort, workerData } from 'worker_threads'

import { loadPluginInSandbox } from '../dev/sandbox'
import { resolveHostProfile } from '../dev/sandbox/profile'
import { loadBabel } from '../dev/sandbox/transform'

export interface HostLoadRequest {
    pluginDir: string
    hostProfile: string
    /** then wait this long with the app loaded and nothing else to do, and measure again (0: do not) */
    settleMs?: number
}

export interface HostLoadResult {
    transformMs: number
    rssAddedBytes: number
    heapAddedBytes: number
    /** RSS added after settleMs idle, as V8's memory reducer leaves it (no forced GC) */
    rssSettledBytes?: number
    /** and after a forced full GC on top */
    rssSettledGcBytes?: number
    bundleBytes: number
}

async function main(): Promise<void> {
    const { pluginDir, hostProfile, settleMs = 0 } = workerData as HostLoadRequest
    const profile = resolveHostProfile(hostProfile)
    loadBabel(profile.babelPackage)
    require(profile.vm2Package)
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const before = process.memoryUsage()
    const plugin = await loadPluginInSandbox({ pluginDir, config: {}, hostProfile: profile.name, log: () => undefined })
    // a collection first, as the host's thread would have run several by the time it serves events: what stays is
    // the app's heap plus the pages V8 took for Babel's peak and has not handed back
    gc?.()
    const after = process.memoryUsage()
    const result: HostLoadResult = {
        transformMs: plugin.transformMs,
        rssAddedBytes: after.rss - before.rss,
        heapAddedBytes: after.heapUsed - before.heapUsed,
        bundleBytes: plugin.bundleBytes,
    }
    if (settleMs > 0) {
        // V8 hands back what Babel's peak took only later: its memory reducer runs once the thread has been idle for
        // a while (measured: +95 MB right after the load, +52 MB 5 s later, +47 MB from 15 s on), and a full GC frees
        // the rest. A plugin-server thread that serves events runs full GCs of its own.
        await new Promise((resolve) => setTimeout(resolve, settleMs))
        result.rssSettledBytes = process.memoryUsage().rss - before.rss
        gc?.()
        result.rssSettledGcBytes = process.memoryUsage().rss - before.rss
    }
    plugin.dispose()
    parentPort!.postMessage(result)
}

main().catch((error) => {
    parentPort!.postMessage({ error: String((error as Error)?.stack ?? error) })
})
