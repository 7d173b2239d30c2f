/**
 * Memory per buffered event: the app's one open batch (nothing sealed) against the naive way's array of event
 * objects, both after forced GCs (the bench runs under node --expose-gc).
 */
import { setImmediate as nextMacrotask } from 'timers/promises'

import { setupPlugin, onEvent, teardownPlugin } from '../index'
import { settingsFor, type AppMeta, type CaseContext } from './cases'
import { gc } from './measure'
import type { Options } from './options'
import { fmt } from './report'
import { spread } from './stats'

export interface MemoryRuns {
    memApp: Array<Record<string, number>>
    memNaive: Array<Record<string, number>>
}

/** Both ways, opts.reps times each, on the client events (ctx.events). */
export async function measureMemory(ctx: CaseContext, opts: Options, log: (message: string) => void): Promise<MemoryRuns> {
    // memory per buffered event: as many events as fit one open 100 MB batch (90 MB of them, so none is sealed)
    const memoryEvents = Math.min(opts.memoryEvents, Math.floor((90 * 1024 * 1024) / ctx.events.meanLineBytes))
    const memApp: Array<Record<string, number>> = []
    const memNaive: Array<Record<string, number>> = []
    for (let rep = 0; rep < opts.reps; rep++) {
        memApp.push(await memoryApp(ctx, memoryEvents, `memory/app/${rep}/`))
        memNaive.push(await memoryNaive(ctx, memoryEvents))
        gc()
    }
    log(`memory: app ${fmt(spread(memApp.map((m) => m.bytesPerEvent)).median)} B/event, naive ${fmt(spread(memNaive.map((m) => m.bytesPerEvent)).median)} B/event`)
    return { memApp, memNaive }
}

/**
 * 4c. Memory per buffered event: one open batch, nothing sealed. Measured twice: right after the last onEvent
 * (what zlib has not compressed yet is still held as input) and once the app's own byte count holds still.
 */
export async function memoryApp(ctx: CaseContext, n: number, prefix: string): Promise<Record<string, number>> {
    const { s3, feed } = ctx
    const meta: AppMeta = { config: settingsFor(s3, prefix, 100), global: {} }
    await setupPlugin(meta as any)
    gc()
    const m0 = process.memoryUsage()
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
        // each event made on the spot and dropped after onEvent, as the host's are: garbage by the second reading
        onEvent(ctx.events.fresh(1)[0] as any, meta as any)
        if ((i + 1) % feed === 0) await nextMacrotask()
    }
    const feedMs = performance.now() - t0
    const exporter = meta.global.exporter!
    const appBytesAtEnd = exporter.memoryBytes()
    gc()
    const mEnd = process.memoryUsage()
    // let zlib finish what it was handed: wait until the app's own byte count holds still
    let last = -1
    for (let still = 0, k = 0; still < 3 && k < 500; k++) {
        await new Promise((r) => setTimeout(r, 20))
        const now = exporter.memoryBytes()
        still = now === last ? still + 1 : 0
        last = now
    }
    gc()
    const m1 = process.memoryUsage()
    if (exporter.stats.objects !== 0 || exporter.pendingEvents() !== n) throw new Error('memory run: the batch was sealed early')
    const appBytes = exporter.memoryBytes()
    await teardownPlugin(meta as any)
    const per = (a: NodeJS.MemoryUsage, key: 'heapUsed' | 'external' | 'rss') => (a[key] - m0[key]) / n
    return {
        events: n,
        feedEventsPerSec: (n * 1000) / feedMs,
        bytesPerEvent: per(m1, 'heapUsed') + per(m1, 'external'),
        heapPerEvent: per(m1, 'heapUsed'),
        externalPerEvent: per(m1, 'external'),
        rssPerEvent: per(m1, 'rss'),
        appAccountedPerEvent: appBytes / n,
        atEndBytesPerEvent: per(mEnd, 'heapUsed') + per(mEnd, 'external'),
        atEndAppAccountedPerEvent: appBytesAtEnd / n,
    }
}

/** The naive way's memory: the event objects themselves, kept until the flush. */
export async function memoryNaive(ctx: CaseContext, n: number): Promise<Record<string, number>> {
    const feed = ctx.feed
    gc()
    const m0 = process.memoryUsage()
    const kept: unknown[] = []
    for (let i = 0; i < n; i++) {
        kept.push(...ctx.events.fresh(1))
        if ((i + 1) % feed === 0) await nextMacrotask()
    }
    gc()
    const m1 = process.memoryUsage()
    const delta = m1.heapUsed + m1.external - (m0.heapUsed + m0.external)
    if (kept.length !== n) throw new Error('unreachable')
    return { events: n, bytesPerEvent: delta / n, heapPerEvent: (m1.heapUsed - m0.heapUsed) / n, externalPerEvent: (m1.external - m0.external) / n, rssPerEvent: (m1.rss - m0.rss) / n }
}
