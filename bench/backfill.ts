/**
 * `npx tsx bench/backfill.ts [--quick]`: what each way of backfilling costs the host, measured in the dev host with
 * the host's own Babel and vm2 (host profile 1.10.5 unless S3_EXPORT_HOST_PROFILE says otherwise).
 *
 *  (a) the host's "Export historical events" job driving `exportEvents` (the chosen way):
 *      1. the price every LIVE event pays once the app exports exportEvents: the host's buffer around onEvent and
 *         its exportEvents calls with live batches (the app ignores them) — app with the upgrade vs without;
 *      2. a backfill: time per page (100 events) and the memory the host process holds while it runs.
 *  (b) a job of our own reading pages through `posthog.api` (the events API): the sandbox's work per page — fetch
 *      the page from a local HTTP server, parse it, read every event — next to (a)'s work on a page the host hands
 *      in as objects. Probe apps, so both sides do exactly the same reading; the S3 write is the same for both.
 *
 * Each case runs in a fresh process (a load leaves ~100 MB behind); each figure is a median of runs made next to each other.
 */
import { createServer } from 'http'
import { mkdirSync, writeFileSync } from 'fs'
import path from 'path'
import { DevHost, type DevHostOptions } from '../dev/host'
import { EventStore } from '../dev/event-store'
import { INTERFACE_JOB_NAME, KEYS } from '../dev/historical-export'
import { startS3Server, type RunningS3 } from '../dev/s3server'
import { loadPluginInSandbox } from '../dev/sandbox'
import { DevStorage } from '../dev/storage'
import { makeEvent } from '../__tests__/helpers/events'

const ROOT = path.join(__dirname, '..')
const OUT = path.join(__dirname, 'out')
const quick = process.argv.includes('--quick')
const RUNS = quick ? 1 : 3
const LIVE_EVENTS = quick ? 5_000 : 20_000
const PAST_EVENTS = quick ? 3_000 : 10_000
const PROBE_PAGES = quick ? 50 : 200

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const gc = () => (globalThis as { gc?: () => void }).gc?.()

function settings(s3: RunningS3, prefix: string): Record<string, string> {
    return {
        awsAccessKey: s3.accessKeyId,
        awsSecretAccessKey: s3.secretAccessKey,
        s3BucketName: 'bench',
        awsRegion: 'us-east-1',
        s3BucketEndpoint: s3.endpoint,
        s3ForcePathStyle: 'true',
        prefix,
        eventsToIgnore: '',
    }
}

/** Peak RSS / heap above the start while `body` runs (sampled every 50 ms). */
async function sampled<T>(body: () => Promise<T>): Promise<{ result: T; rssMb: number; heapMb: number }> {
    gc()
    const base = process.memoryUsage()
    let rss = 0
    let heap = 0
    const timer = setInterval(() => {
        const m = process.memoryUsage()
        rss = Math.max(rss, m.rss - base.rss)
        heap = Math.max(heap, m.heapUsed + m.external - base.heapUsed - base.external)
    }, 50)
    const result = await body()
    clearInterval(timer)
    return { result, rssMb: rss / 1024 / 1024, heapMb: heap / 1024 / 1024 }
}

/** (a)1: live events through one thread, with or without the host's exportEvents upgrade. */
async function liveRun(s3: RunningS3, upgrade: boolean, run: number, bufferSeconds = '10'): Promise<{ usPerEvent: number; heapMb: number; liveToExportEvents: number; batches: number; storageKeys: number }> {
    // uploads every minute: the app's own buffer holds the events too, in both runs alike
    const config = { ...settings(s3, `live-${upgrade}-${run}/`), uploadMegabytes: '100', bufferLimitMegabytes: '256', exportEventsBufferSeconds: bufferSeconds }
    const opts: DevHostOptions = { pluginDir: ROOT, threads: 1, log: () => undefined, config, exportEventsUpgrade: upgrade }
    const host = await DevHost.start(opts)
    // a new object per event, as the host parses each one, and nothing here keeps it: only what the host's
    // buffer (or the app) holds stays alive
    gc()
    const before = process.memoryUsage()
    const started = performance.now()
    for (let i = 0; i < LIVE_EVENTS; i += 100) {
        const batch: Promise<unknown>[] = []
        // current events (a capture time after the app's boundary: no edge notes, as in steady operation)
        const at = new Date(Date.now() + 10_000).toISOString()
        for (let k = 0; k < 100; k++) batch.push(host.onEvent(makeEvent(i + k, { uuid: `${run}-${upgrade}-${i + k}`, timestamp: at, now: at } as any)))
        await Promise.all(batch)
        // the host reads its next batch from Kafka: I/O, so its timers (the buffer's flush) get their turn
        await new Promise((r) => setImmediate(r))
    }
    // what the host's buffer holds before its 10 s flush, then the flush itself (its exportEvents call)
    gc()
    const after = process.memoryUsage()
    await host.flushExportEventsBuffers()
    const ms = performance.now() - started
    const liveToExportEvents = host.upgradeStats.liveEventsToExportEvents
    const batches = host.upgradeStats.liveBatchesToExportEvents
    const storageKeys = host.storage.values.size
    await host.shutdown()
    const heapMb = (after.heapUsed + after.external - before.heapUsed - before.external) / 1024 / 1024
    return { usPerEvent: (ms * 1000) / LIVE_EVENTS, heapMb, liveToExportEvents, batches, storageKeys }
}

/** (a)2: a whole backfill of PAST_EVENTS through the host's job, one job at a time (graphile's default). */
async function backfillRun(s3: RunningS3, run: number): Promise<{ msPerPage: number; pages: number; rssMb: number; heapMb: number; retainedMb: number; retainedAfter30sMb: number }> {
    const store = new EventStore()
    const start = Date.now() - 60 * 60_000
    for (let i = 0; i < PAST_EVENTS; i++) store.add(makeEvent(i, { uuid: `past-${run}-${i}` }), start + i * 300)
    const storage = new DevStorage()
    const host = await DevHost.start({ pluginDir: ROOT, threads: 1, log: () => undefined, config: settings(s3, `backfill-${run}/`), storage, eventStore: store, jobConcurrency: 1 })
    // from a loaded host on: the load itself (Babel) is the same for every app
    gc()
    const base = process.memoryUsage()
    const { result, rssMb, heapMb } = await sampled(async () => {
        const started = performance.now()
        host.runPublicJob(INTERFACE_JOB_NAME)
        await new Promise((r) => setTimeout(r, 200))
        while (storage.get(KEYS.running, false) !== false) await new Promise((r) => setTimeout(r, 50))
        return { ms: performance.now() - started, pages: host.upgradeStats.pagesExported }
    })
    // what stays once garbage is collected, the backfill done (peak figures include garbage not yet collected)
    gc()
    const kept = process.memoryUsage()
    const retainedMb = (kept.heapUsed + kept.external - base.heapUsed - base.external) / 1024 / 1024
    // and 31 s later: the host's 30 s guard timers (one per awaited call, never cleared) have fired by then
    await new Promise((r) => setTimeout(r, 31_000))
    gc()
    const later = process.memoryUsage()
    const retainedAfter30sMb = (later.heapUsed + later.external - base.heapUsed - base.external) / 1024 / 1024
    await host.shutdown()
    return { msPerPage: result.ms / result.pages, pages: result.pages, rssMb, heapMb, retainedMb, retainedAfter30sMb }
}

/** (b) vs (a): the sandbox's work on one page, from a local events API (b) or handed in by the host (a). */
async function probeRun(pageSize: number): Promise<{ hostPageMs: number; apiTextMs: number; apiJsonMs: number }> {
    const page = Array.from({ length: pageSize }, (_, i) => makeEvent(i))
    const body = JSON.stringify({ next: null, results: page })
    const server = createServer((_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(body)
    })
    server.keepAliveTimeout = 60_000
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/projects/1/events/?limit=${pageSize}`
    const dir = path.join(OUT, 'probe-backfill')
    mkdirSync(dir, { recursive: true })
    writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ name: 'probe-backfill', main: 'index.js', config: [] }))
    writeFileSync(
        path.join(dir, 'index.js'),
        `function read(rows) { let n = 0; for (const e of rows) n += JSON.stringify(e).length; return n }
// a busy machine resets a local connection now and then: one more try, as a real app would
function get(url) { return fetch(url).catch(() => fetch(url)) }
export function exportEvents(events, meta) { meta.global.n = read(events) }
export const jobs = {
    apiText: (p, meta) => get(p.url).then((r) => r.text()).then((t) => { meta.global.n = read(JSON.parse(t).results) }),
    apiJson: (p, meta) => get(p.url).then((r) => r.json()).then((j) => { meta.global.n = read(j.results) }),
}
`
    )
    const plugin = await loadPluginInSandbox({ pluginDir: dir, config: {}, log: () => undefined })
    const time = async (fn: () => Promise<unknown>) => {
        for (let i = 0; i < 10; i++) await fn() // warm up
        const started = performance.now()
        for (let i = 0; i < PROBE_PAGES; i++) await fn()
        return (performance.now() - started) / PROBE_PAGES
    }
    // (a): the host's page is host objects (its ClickHouse rows, converted)
    const hostPage = () => plugin.methods.exportEvents!(page.map((e) => ({ ...e, properties: { ...e.properties } })))
    const result = {
        hostPageMs: await time(hostPage),
        apiTextMs: await time(() => plugin.jobs.apiText({ url })),
        apiJsonMs: await time(() => plugin.jobs.apiJson({ url })),
    }
    plugin.dispose()
    server.close()
    return result
}

/** One case in this (fresh) process: a load leaves ~100 MB behind, so cases never share a process. */
async function runCase(name: string, run: number): Promise<unknown> {
    if (name === 'probe100') return probeRun(100)
    if (name === 'probe500') return probeRun(500)
    const s3 = await startS3Server({ buckets: ['bench'] })
    try {
        if (name === 'live-off') return await liveRun(s3, false, run)
        if (name === 'live-on') return await liveRun(s3, true, run)
        if (name === 'live-on-1s') return await liveRun(s3, true, run, '1')
        if (name === 'backfill') return await backfillRun(s3, run)
        throw new Error(`unknown case ${name}`)
    } finally {
        await s3.close()
    }
}

/** The host's wrapper alone (host code, no sandbox): its per-event work for each profile. */
function wrapperCost(): { addUs: number; addWithSizeUs: number } {
    const { createBuffer } = require('@posthog/plugin-contrib') as typeof import('@posthog/plugin-contrib')
    const events = Array.from({ length: 20_000 }, (_, i) => makeEvent(i))
    const time = (add: (b: ReturnType<typeof createBuffer>, e: unknown) => void) => {
        const buffer = createBuffer({ limit: 100 * 1024 * 1024, timeoutSeconds: 600, onFlush: async () => undefined })
        const started = process.hrtime.bigint()
        for (const e of events) add(buffer, e)
        const ns = Number(process.hrtime.bigint() - started)
        void buffer.flush()
        return ns / events.length / 1000
    }
    time((b, e) => b.add(e)) // warm up
    return { addUs: median([0, 1, 2].map(() => time((b, e) => b.add(e)))), addWithSizeUs: median([0, 1, 2].map(() => time((b, e) => b.add(e, JSON.stringify(e).length)))) }
}

async function main(): Promise<void> {
    const caseArg = process.argv.indexOf('--case')
    if (caseArg > 0) {
        const result = await runCase(process.argv[caseArg + 1], Number(process.argv[caseArg + 2] ?? 0))
        process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
        return
    }
    const { execFileSync } = require('child_process') as typeof import('child_process')
    const child = (name: string, run: number): any => {
        const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, '--case', name, String(run), ...(quick ? ['--quick'] : [])], { cwd: ROOT, encoding: 'utf8', env: process.env })
        const line = out.split('\n').find((l) => l.startsWith('RESULT '))
        if (!line) throw new Error(`case ${name} printed no result:\n${out}`)
        return JSON.parse(line.slice(7))
    }
    const runs = (name: string) => Array.from({ length: RUNS }, (_, run) => child(name, run))
    const loadStart = require('os').loadavg()[0]
    const off = [] as any[]
    const on = [] as any[]
    const on1 = [] as any[]
    for (let run = 0; run < RUNS; run++) {
        off.push(child('live-off', run))
        on.push(child('live-on', run))
        on1.push(child('live-on-1s', run))
    }
    const liveOnly = process.argv.includes('--live-only')
    const backfills = liveOnly ? [] : runs('backfill')
    const probes100 = liveOnly ? [] : runs('probe100')
    const probes500 = liveOnly ? [] : runs('probe500')
    const wrapper = wrapperCost()
    const m = (xs: Array<Record<string, number>>, k: string) => (xs.length ? median(xs.map((x) => x[k])) : NaN)
    const profile = process.env.S3_EXPORT_HOST_PROFILE ?? '1.10.5'
    const lines = [
        `backfill bench (host profile ${profile}; ${RUNS} run(s) per case, each in a fresh process; events ~1.2 KB; node ${process.version}; load average ${loadStart.toFixed(2)} at start, ${require('os').loadavg()[0].toFixed(2)} at end)`,
        `(a) live events, 1 thread, ${LIVE_EVENTS} events, end to end: onEvent only ${m(off, 'usPerEvent').toFixed(1)} µs/event; with the host's exportEvents buffer ${m(on, 'usPerEvent').toFixed(1)} µs/event (${(m(on, 'usPerEvent') - m(off, 'usPerEvent')).toFixed(1)} µs); ` +
            `held after the feed (heap+external, after GC) ${m(off, 'heapMb').toFixed(1)} → ${m(on, 'heapMb').toFixed(1)} MB, i.e. ${(((m(on, 'heapMb') - m(off, 'heapMb')) * 1024 * 1024) / LIVE_EVENTS).toFixed(0)} B per live event until the host's 10 s flush; ${m(on, 'liveToExportEvents')} live events also handed to exportEvents (ignored)`,
        `(a) the same with exportEventsBufferSeconds = 1 (this app's default): ${m(on1, 'usPerEvent').toFixed(1)} µs/event; held after the feed ${m(on1, 'heapMb').toFixed(1)} MB (the last second's events only)`,
        `(a) the host's wrapper alone (host code): buffer.add(event) ${wrapper.addUs.toFixed(2)} µs/event (v1.10.5), add(event, JSON.stringify(event).length) ${wrapper.addWithSizeUs.toFixed(2)} µs/event (monorepo)`,
        `(a) backfill of ${PAST_EVENTS} events, 1 thread, 1 job at a time: ${m(backfills, 'msPerPage').toFixed(1)} ms per job run (${m(backfills, 'pages')} runs of up to 100 events, empty interval ends included), peak RSS +${m(backfills, 'rssMb').toFixed(1)} MB, peak heap+external +${m(backfills, 'heapMb').toFixed(1)} MB (garbage included), kept after a GC once done +${m(backfills, 'retainedMb').toFixed(1)} MB, 31 s later +${m(backfills, 'retainedAfter30sMb').toFixed(1)} MB`,
        `sandbox work per page (read every event), 100 events: host-handed page (a) ${m(probes100, 'hostPageMs').toFixed(2)} ms; events API page (b) text + JSON.parse ${m(probes100, 'apiTextMs').toFixed(2)} ms, res.json() ${m(probes100, 'apiJsonMs').toFixed(2)} ms`,
        `sandbox work per page (read every event), 500 events: host-handed page (a) ${m(probes500, 'hostPageMs').toFixed(2)} ms; events API page (b) text + JSON.parse ${m(probes500, 'apiTextMs').toFixed(2)} ms, res.json() ${m(probes500, 'apiJsonMs').toFixed(2)} ms`,
    ]
    for (const line of liveOnly ? lines.slice(0, 4) : lines) console.log(line)
}

main().catch((error) => {
    console.error(error)
    process.exit(1)
})
