/**
 * npm run bench [-- --quick]: S3 Export against the ceiling (JSON.stringify + gzip, no app, no network) and the
 * naive way (the original plugin's), in one process tree and one run; every case at least 5 times.
 *
 * Writes bench/results.json (the full run; --quick writes bench/out/results-quick.json) and prints a table. The
 * last line is `bench: app_vs_ceiling=<x> app_vs_naive=<x> max_stall_ms=<n> bytes_per_buffered_event=<n>`.
 *
 * How each number is made (also written into results.json under `method`):
 *   events       processed $pageview events from dev/sample-events.ts pageviewEvent(i) (~1.18 KB of JSON).
 *                Throughput cases cycle through a pool of 20,000 pre-built events (JSON.stringify caches nothing,
 *                and the 24 MB period is far beyond gzip's 32 KB window); the sandbox and memory cases use
 *                distinct objects (vm2 caches proxies per object; memory must include the events' own garbage).
 *   arrival      every case is fed the same way: `--feed` events (32, ~38 KB) per macrotask, then setImmediate,
 *                so zlib and the network get their callbacks as they would between ingestion batches.
 *   ceiling      no app, no network: stringify each event + "\n", concatenate into >= 1 MiB strings, one
 *                Buffer.from per string into ONE native zlib gzip stream (level GZIP_LEVEL, chunkSize 1 MiB),
 *                yielding like the feed; ends when the stream has emitted its last byte.
 *   naive        the original plugin's pipeline: keep the event objects in an array; every K events (K = 1 MiB of
 *                raw JSON / the mean line size, so objects match the app's 1 MB cap) serialize with
 *                events.map(JSON.stringify).join('\n'), gzipSync at GZIP_LEVEL, one PutObject through the app's own
 *                createS3Store, fire-and-forget (as createBuffer's flush was); ends when every PutObject answered.
 *   app          the real hooks of index.ts (setupPlugin, onEvent, teardownPlugin) with plugin.json's defaults
 *                (gzip, 1 MB cap) against the same local S3; from the first onEvent until teardownPlugin reports
 *                every event stored.
 *   sandbox      dist/index.js (or, when it is stale, a build of the working tree into bench/out/plugin/) loaded by
 *                the local plugin-server (dev/host.ts DevHost, 1 thread: vm2 + the host's Babel pass);
 *                events sent one at a time, each call awaited as the host does. A no-op app and a stringify-only
 *                app measure what the host itself costs per call.
 *   local S3     dev/s3server.ts (@20minutes/s3rver, SigV4 checked) in a child process: its work stays off the
 *                measured event loop, but it shares this machine's 2 cores (its CPU time is reported).
 *   onEvent cost process.hrtime.bigint() around every 8th call (direct: the synchronous call; sandbox: call+await).
 *   stall        setInterval(…, 1) drift monitor over the whole run (feed, seals, uploads, teardown): the longest
 *                gap minus the 1 ms period. A conservative upper bound of the stall "during flushes".
 *   memory       heapUsed + external after buffering N events into one open 100 MB batch (nothing sealed),
 *                minus the same before the first event, both after two forced GCs (node --expose-gc), over N.
 *   objects      listed from the local S3 after each run; the first run of each case is read back, decompressed
 *                and its lines counted.
 */
import { execFileSync, fork, spawnSync, type ChildProcess } from 'child_process'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'fs'
import os from 'os'
import path from 'path'
import { setImmediate as nextMacrotask } from 'timers/promises'
import { createGzip, gunzipSync, gzipSync } from 'zlib'
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import nodeFetch from 'node-fetch'

import { setupPlugin, onEvent, teardownPlugin } from '../index'
import { GZIP_LEVEL } from '../src/compression'
import { MEGABYTE, parseConfig } from '../src/config'
import { createS3Store, type PutOutcome, type S3StoreDeps } from '../src/s3'
import { WRITE_CHECK_NAME } from '../src/health'
import type { Exporter } from '../src/exporter'
import { DevHost } from '../dev/host'
import { readerClient } from '../dev/s3-read'
import { pageviewEvent } from '../dev/sample-events'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const ROOT = path.join(__dirname, '..')
const OUT = path.join(__dirname, 'out')
const BUCKET = 'bench'
const MiB = 1024 * 1024
const POOL_SIZE = 20_000
const CAPS_MB = [1, 10, 100]

// ------------------------------------------------------------------------------------------------------------
// options
// ------------------------------------------------------------------------------------------------------------

interface Options {
    quick: boolean
    reps: number
    events: number
    sandboxEvents: number
    probeEvents: number
    capEvents: Record<number, number>
    memoryEvents: number
    feed: number
    useDist: boolean
    /** the global fetch of the direct runs: 'node-fetch' (what the PostHog sandbox provides) or Node's own 'undici' */
    fetch: 'node-fetch' | 'undici'
}

function parseArgs(argv: string[]): Options {
    const quick = argv.includes('--quick')
    const opts: Options = quick
        ? { quick, reps: 5, events: 20_000, sandboxEvents: 2_000, probeEvents: 2_000, capEvents: { 1: 20_000, 10: 25_000, 100: 90_000 }, memoryEvents: 20_000, feed: 32, useDist: false, fetch: 'node-fetch' }
        : { quick, reps: 5, events: 200_000, sandboxEvents: 50_000, probeEvents: 20_000, capEvents: { 1: 200_000, 10: 200_000, 100: 200_000 }, memoryEvents: 80_000, feed: 32, useDist: false, fetch: 'node-fetch' }
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i]
        const num = () => {
            const v = Number(argv[++i])
            if (!Number.isFinite(v) || v <= 0) throw new Error(`${arg} needs a positive number`)
            return Math.floor(v)
        }
        if (arg === '--quick') continue
        else if (arg === '--reps') opts.reps = Math.max(5, num())
        else if (arg === '--events') opts.events = num()
        else if (arg === '--sandbox-events') opts.sandboxEvents = num()
        else if (arg === '--feed') opts.feed = num()
        else if (arg === '--dist') opts.useDist = true // use dist/index.js even when it is stale
        else if (arg === '--undici') opts.fetch = 'undici'
        else throw new Error(`unknown flag ${arg} (flags: --quick --reps N --events N --sandbox-events N --feed N --dist --undici)`)
    }
    return opts
}

// ------------------------------------------------------------------------------------------------------------
// measuring tools
// ------------------------------------------------------------------------------------------------------------

/** setInterval(…, 1) drift monitor: the longest gap between ticks, minus the period. */
class StallMonitor {
    private timer?: NodeJS.Timeout
    private last = 0
    maxMs = 0
    over25 = 0
    start(): void {
        this.maxMs = 0
        this.over25 = 0
        this.last = performance.now()
        this.timer = setInterval(() => {
            const now = performance.now()
            const stall = now - this.last - 1
            if (stall > this.maxMs) this.maxMs = stall
            if (stall > 25) this.over25++
            this.last = now
        }, 1)
    }
    stop(): number {
        clearInterval(this.timer)
        const tail = performance.now() - this.last - 1
        if (tail > this.maxMs) this.maxMs = tail
        return Math.max(0, this.maxMs)
    }
}

function gc(): void {
    const g = (globalThis as { gc?: () => void }).gc
    if (g) {
        g()
        g()
    }
}

function quantile(sorted: number[], q: number): number {
    if (sorted.length === 0) return NaN
    const pos = (sorted.length - 1) * q
    const lo = Math.floor(pos)
    const hi = Math.ceil(pos)
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

interface Spread {
    min: number
    median: number
    max: number
}

function spread(xs: number[]): Spread {
    const s = [...xs].sort((a, b) => a - b)
    return { min: s[0], median: quantile(s, 0.5), max: s[s.length - 1] }
}

function percentilesUs(samplesNs: number[]): { p50: number; p99: number; max: number; samples: number } {
    const s = Float64Array.from(samplesNs).sort()
    const arr = Array.from(s)
    return { p50: quantile(arr, 0.5) / 1000, p99: quantile(arr, 0.99) / 1000, max: arr[arr.length - 1] / 1000, samples: arr.length }
}

function cpuMs(since: NodeJS.CpuUsage): number {
    const d = process.cpuUsage(since)
    return (d.user + d.system) / 1000
}

/** Feed n events, `perTick` per macrotask; every 8th synchronous call is timed. */
async function feedSync(
    n: number,
    perTick: number,
    eventAt: (i: number) => unknown,
    call: (event: unknown) => void,
    samplesNs: number[],
    everyTick?: () => void
): Promise<void> {
    for (let i = 0; i < n; i++) {
        const event = eventAt(i)
        if ((i & 7) === 0) {
            const t = process.hrtime.bigint()
            call(event)
            samplesNs.push(Number(process.hrtime.bigint() - t))
        } else {
            call(event)
        }
        if ((i + 1) % perTick === 0) {
            everyTick?.()
            await nextMacrotask()
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// the local S3 (child process) and reading it back
// ------------------------------------------------------------------------------------------------------------

interface S3Child {
    endpoint: string
    /** the null S3: reads bodies, answers 200, stores nothing */
    sinkEndpoint: string
    accessKeyId: string
    secretAccessKey: string
    proc: ChildProcess
    client: S3Client
    cpuMs(): Promise<number>
}

function startS3Child(): Promise<S3Child> {
    return new Promise((resolve, reject) => {
        const proc = fork(path.join(__dirname, 's3-child.ts'), [], {
            execArgv: process.execArgv.filter((a) => a !== '--expose-gc'),
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        })
        proc.once('error', reject)
        proc.once('exit', (code) => reject(new Error(`local S3 exited with ${code}`)))
        proc.once('message', (m: any) => {
            const waiters: Array<(ms: number) => void> = []
            proc.on('message', (msg: any) => {
                if (msg && msg.cpu) waiters.shift()?.((msg.cpu.user + msg.cpu.system) / 1000)
            })
            resolve({
                endpoint: m.endpoint,
                sinkEndpoint: m.sinkEndpoint,
                accessKeyId: m.accessKeyId,
                secretAccessKey: m.secretAccessKey,
                proc,
                client: readerClient({ endpoint: m.endpoint, accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey }),
                cpuMs: () =>
                    new Promise((res) => {
                        waiters.push(res)
                        proc.send('cpu')
                    }),
            })
        })
    })
}

interface Stored {
    objects: number
    bytes: number
    largestObject: number
}

async function listStored(s3: S3Child, prefix: string): Promise<{ stored: Stored; keys: string[] }> {
    const out = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, MaxKeys: 1000 }))
    if (out.IsTruncated) throw new Error(`more than 1000 objects under ${prefix}`)
    const contents = (out.Contents ?? []).filter((o) => !o.Key!.endsWith(WRITE_CHECK_NAME))
    const stored = { objects: contents.length, bytes: 0, largestObject: 0 }
    for (const o of contents) {
        stored.bytes += o.Size ?? 0
        stored.largestObject = Math.max(stored.largestObject, o.Size ?? 0)
    }
    return { stored, keys: contents.map((o) => o.Key!) }
}

/** Read every object back, gunzip, count JSON lines and check a few parse: the stored data is the real thing. */
async function verifyStored(s3: S3Child, keys: string[], expectedEvents: number): Promise<{ events: number; rawBytes: number; ok: boolean }> {
    let events = 0
    let rawBytes = 0
    for (const key of keys) {
        const out = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
        const raw = gunzipSync(Buffer.from(await out.Body!.transformToByteArray()))
        rawBytes += raw.length
        let lines = 0
        for (let i = raw.indexOf(10); i !== -1; i = raw.indexOf(10, i + 1)) lines++
        if (raw.length > 0 && raw[raw.length - 1] !== 10) lines++
        events += lines
        const first = raw.subarray(0, raw.indexOf(10) === -1 ? raw.length : raw.indexOf(10)).toString('utf8')
        if (JSON.parse(first).event !== '$pageview') throw new Error(`${key}: first line is not a $pageview`)
    }
    return { events, rawBytes, ok: events === expectedEvents }
}

// ------------------------------------------------------------------------------------------------------------
// the cases
// ------------------------------------------------------------------------------------------------------------

interface RunResult {
    events: number
    ms: number
    eventsPerSec: number
    cpuMs: number
    s3CpuMs: number
    maxStallMs: number
    stalledOver25: number
    stored?: Stored
    compressedBytes?: number
    verified?: { events: number; rawBytes: number; ok: boolean }
    onEventNs: number[]
    extra?: Record<string, unknown>
}

type Target = 's3' | 'sink'

function settingsFor(s3: S3Child, prefix: string, capMb = 1, target: Target = 's3'): Record<string, string> {
    return {
        awsAccessKey: s3.accessKeyId,
        awsSecretAccessKey: s3.secretAccessKey,
        s3BucketName: BUCKET,
        awsRegion: 'us-east-1',
        s3BucketEndpoint: target === 's3' ? s3.endpoint : s3.sinkEndpoint,
        s3ForcePathStyle: 'true',
        prefix,
        compression: 'gzip',
        uploadMegabytes: String(capMb),
        // plugin.json's default (64) unless the cap needs more: a 100 MB cap needs at least 100
        bufferLimitMegabytes: String(Math.max(64, 2 * capMb)),
    }
}

let pool: unknown[] = []
let meanLineBytes = 0
const poolEvent = (i: number) => pool[i % POOL_SIZE]

async function timed(
    s3: S3Child,
    body: (samples: number[]) => Promise<Partial<RunResult> | void>,
    n: number
): Promise<RunResult> {
    const monitor = new StallMonitor()
    const samples: number[] = []
    gc()
    const s3cpu0 = await s3.cpuMs()
    const cpu0 = process.cpuUsage()
    monitor.start()
    const t0 = performance.now()
    const extra = (await body(samples)) || {}
    const ms = performance.now() - t0
    const maxStallMs = monitor.stop()
    const cpu = cpuMs(cpu0)
    const s3cpu = (await s3.cpuMs()) - s3cpu0
    return { events: n, ms, eventsPerSec: (n * 1000) / ms, cpuMs: cpu, s3CpuMs: s3cpu, maxStallMs, stalledOver25: monitor.over25, onEventNs: samples, ...extra }
}

/** 1. Ceiling: stringify → ≥1 MiB strings → one native gzip stream. No app, no network. */
function runCeiling(s3: S3Child, n: number, feed: number): Promise<RunResult> {
    return timed(
        s3,
        async () => {
            const gz = createGzip({ level: GZIP_LEVEL, chunkSize: MiB })
            let compressed = 0
            gz.on('data', (c: Buffer) => (compressed += c.length))
            const done = new Promise<void>((resolve, reject) => {
                gz.on('end', resolve)
                gz.on('error', reject)
            })
            let text = ''
            for (let i = 0; i < n; i++) {
                text += JSON.stringify(poolEvent(i)) + '\n'
                if (text.length >= MiB) {
                    gz.write(Buffer.from(text, 'utf8'))
                    text = ''
                }
                if ((i + 1) % feed === 0) await nextMacrotask()
            }
            gz.end(Buffer.from(text, 'utf8'))
            await done
            return { compressedBytes: compressed }
        },
        n
    )
}

/** 2. Naive: the original plugin's way, per 1 MB of raw JSON (or the given cap). */
function runNaive(s3: S3Child, n: number, feed: number, prefix: string, capMb = 1, target: Target = 's3'): Promise<RunResult> {
    const config = parseConfig(settingsFor(s3, prefix, capMb, target))
    const store = createS3Store(config, { fetch: fetch as unknown as S3StoreDeps['fetch'] })
    const perBatch = Math.max(1, Math.floor((capMb * MEGABYTE) / meanLineBytes))
    return timed(
        s3,
        async (samples) => {
            let events: unknown[] = []
            const puts: Array<Promise<void>> = []
            let seq = 0
            let compressed = 0
            const flush = () => {
                const batch = events
                events = []
                const body = gzipSync(batch.map((e) => JSON.stringify(e)).join('\n'), { level: GZIP_LEVEL })
                compressed += body.length
                const key = `${prefix}naive-${String(seq++).padStart(5, '0')}.jsonl.gz`
                puts.push(
                    store.put({ key, body, contentType: 'application/x-ndjson', contentEncoding: 'gzip' }).then((outcome: PutOutcome) => {
                        if (outcome.kind !== 'ok') throw new Error(`naive PutObject ${key}: ${outcome.failure.code}`)
                    })
                )
            }
            await feedSync(
                n,
                feed,
                poolEvent,
                (event) => {
                    events.push(event)
                    if (events.length >= perBatch) flush()
                },
                samples
            )
            if (events.length > 0) flush()
            await Promise.all(puts)
            return { compressedBytes: compressed, extra: { eventsPerObject: perBatch } }
        },
        n
    )
}

/** One 3 MB PutObject through the app's S3 adapter with the given fetch: 'ok' or what went wrong. */
async function probeLargeBody(s3: S3Child, fetchFn: S3StoreDeps['fetch']): Promise<string> {
    const store = createS3Store(parseConfig(settingsFor(s3, 'probe/')), { fetch: fetchFn })
    const outcome = await store.put({ key: 'probe/large-body', body: Buffer.alloc(3 * MiB, 7), contentType: 'application/octet-stream' })
    return outcome.kind === 'ok' ? 'ok' : `${outcome.kind}: ${outcome.failure.code} ${outcome.failure.message}`
}

/**
 * setupPlugin may throw RetryError on a transient S3 failure (e.g. a keep-alive socket the server closed while
 * idle: node-fetch 2 on Node 20 uses the keep-alive global agent); PostHog then runs setup again later. So does the
 * bench, at most 3 times, and counts it.
 */
let setupRetries = 0
async function withSetupRetry<T>(setup: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await setup()
        } catch (error) {
            const retryable = (error as Error)?.name === 'RetryError' || /RetryError/.test(String(error))
            if (!retryable || attempt >= 3) throw error
            setupRetries++
            await new Promise((r) => setTimeout(r, 500))
        }
    }
}

interface AppMeta {
    config: Record<string, string>
    global: { exporter?: Exporter }
}

/** 3. The app through its real hooks. */
async function runApp(s3: S3Child, n: number, feed: number, prefix: string, capMb = 1, target: Target = 's3'): Promise<RunResult> {
    const meta: AppMeta = { config: settingsFor(s3, prefix, capMb, target), global: {} }
    await withSetupRetry(() => setupPlugin(meta as any))
    return timed(
        s3,
        async (samples) => {
            let peak = 0
            await feedSync(
                n,
                feed,
                poolEvent,
                (event) => onEvent(event as any, meta as any),
                samples,
                () => (peak = Math.max(peak, meta.global.exporter!.memoryBytes()))
            )
            const report = await teardownPlugin(meta as any)
            const stats = meta.global.exporter!.stats
            // the report counts what close() delivered; the stats count the whole run
            if (!report || stats.delivered !== n || report.dropped !== 0 || report.pendingEvents !== 0) {
                throw new Error(`app run under ${prefix} did not store every event: ${JSON.stringify({ report, stats })}`)
            }
            return { compressedBytes: stats.bytesStored, extra: { appObjects: stats.objects, retries: stats.retries, peakAppBytes: peak } }
        },
        n
    )
}

/** The app (or a probe app) inside the local plugin-server's sandbox, one event per awaited call. */
async function runSandbox(s3: S3Child, pluginDir: string, events: unknown[], n: number, feed: number, prefix: string, isApp: boolean): Promise<RunResult> {
    const logs: string[] = []
    const host = await withSetupRetry(() =>
        DevHost.start({
            pluginDir,
            config: settingsFor(s3, prefix),
            threads: 1,
            // a failed setup must reach withSetupRetry, not leave the host skipping the benchmark's events
            setupFailure: 'throw',
            log: (level, message) => logs.push(`${level}: ${message}`),
        })
    )
    const thread = host.threads[0]
    try {
        const result = await timed(
            s3,
            async (samples) => {
                for (let i = 0; i < n; i++) {
                    if ((i & 7) === 0) {
                        const t = process.hrtime.bigint()
                        await host.onEvent(events[i] as any)
                        samples.push(Number(process.hrtime.bigint() - t))
                    } else {
                        await host.onEvent(events[i] as any)
                    }
                    if ((i + 1) % feed === 0) await nextMacrotask()
                }
                if (!isApp) return
                const report = (await thread.methods.teardownPlugin!()) as any
                const stats = (thread.meta.global as any).exporter.stats
                if (!report || stats.delivered !== n || report.dropped !== 0 || report.pendingEvents !== 0) {
                    throw new Error(`sandbox run under ${prefix} did not store every event: ${JSON.stringify({ report, stats })}; log: ${logs.slice(-5).join(' | ')}`)
                }
                return { compressedBytes: stats.bytesStored, extra: { appObjects: stats.objects } }
            },
            n
        )
        result.extra = { ...result.extra, transformMs: thread.transformMs, bundleBytes: thread.bundleBytes, ...thread.stats() }
        return result
    } finally {
        await host.shutdown()
    }
}

/**
 * 4c. Memory per buffered event: one open batch, nothing sealed. Measured twice: right after the last onEvent
 * (what zlib has not compressed yet is still held as input) and once the app's own byte count holds still.
 */
async function memoryApp(s3: S3Child, n: number, feed: number, prefix: string): Promise<Record<string, number>> {
    const meta: AppMeta = { config: settingsFor(s3, prefix, 100), global: {} }
    await withSetupRetry(() => setupPlugin(meta as any))
    gc()
    const m0 = process.memoryUsage()
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
        onEvent(pageviewEvent(1_000_000 + i), meta as any)
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
async function memoryNaive(n: number, feed: number): Promise<Record<string, number>> {
    gc()
    const m0 = process.memoryUsage()
    const kept: unknown[] = []
    for (let i = 0; i < n; i++) {
        kept.push(pageviewEvent(2_000_000 + i))
        if ((i + 1) % feed === 0) await nextMacrotask()
    }
    gc()
    const m1 = process.memoryUsage()
    const delta = m1.heapUsed + m1.external - (m0.heapUsed + m0.external)
    if (kept.length !== n) throw new Error('unreachable')
    return { events: n, bytesPerEvent: delta / n, heapPerEvent: (m1.heapUsed - m0.heapUsed) / n, externalPerEvent: (m1.external - m0.external) / n, rssPerEvent: (m1.rss - m0.rss) / n }
}

// ------------------------------------------------------------------------------------------------------------
// the sandbox bundle and probe apps
// ------------------------------------------------------------------------------------------------------------

function preparePlugins(useDist: boolean): { app: string; noop: string; stringify: string; bundle: string } {
    // dist/index.js is what PostHog loads; when it is stale (sources edited, not rebuilt) the sandbox runs a fresh
    // build of the working tree instead, so the direct and sandboxed runs measure the same code
    const fresh = spawnSync(process.execPath, ['scripts/build.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' }).status === 0
    let app = ROOT
    let bundle = 'dist/index.js (fresh: matches the sources)'
    if (!fresh && useDist) bundle = 'dist/index.js as committed (STALE: older than the sources)'
    if (!fresh && !useDist) {
        app = path.join(OUT, 'plugin')
        const outfile = path.join(app, 'dist', 'index.js')
        mkdirSync(path.dirname(outfile), { recursive: true })
        execFileSync(process.execPath, ['--input-type=module', '-e', `import { build } from './scripts/build.mjs'; await build({ outfile: ${JSON.stringify(outfile)} })`], {
            cwd: ROOT,
            stdio: 'inherit',
        })
        copyFileSync(path.join(ROOT, 'plugin.json'), path.join(app, 'plugin.json'))
        bundle = 'dist/index.js is stale, so the working tree was built by scripts/build.mjs into bench/out/plugin/'
    }
    const probe = (name: string, code: string) => {
        const dir = path.join(OUT, name)
        mkdirSync(dir, { recursive: true })
        writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ name, main: 'index.js', config: [] }))
        writeFileSync(path.join(dir, 'index.js'), code)
        return dir
    }
    return {
        app,
        bundle,
        noop: probe('probe-noop', 'export function onEvent(event, meta) {}\n'),
        stringify: probe('probe-stringify', 'export function onEvent(event, meta) { meta.global.n = (meta.global.n || 0) + JSON.stringify(event).length }\n'),
    }
}

// ------------------------------------------------------------------------------------------------------------
// reporting
// ------------------------------------------------------------------------------------------------------------

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a')
const fmtSpread = (s: Spread, digits = 0) => `${fmt(s.min, digits)} / ${fmt(s.median, digits)} / ${fmt(s.max, digits)}`

function table(headers: string[], rows: string[][]): string {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
    const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`
    return [line(headers), `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`, ...rows.map(line)].join('\n')
}

function summarize(runs: RunResult[]) {
    const samples = runs.flatMap((r) => r.onEventNs)
    const first = runs[0]
    return {
        runs: runs.length,
        events: first.events,
        eventsPerSec: spread(runs.map((r) => r.eventsPerSec)),
        ms: spread(runs.map((r) => r.ms)),
        cpuMsPer1kEvents: spread(runs.map((r) => (r.cpuMs / r.events) * 1000)),
        s3CpuMsPer1kEvents: spread(runs.map((r) => (r.s3CpuMs / r.events) * 1000)),
        maxStallMs: spread(runs.map((r) => r.maxStallMs)),
        onEventUs: samples.length > 0 ? percentilesUs(samples) : undefined,
        objects: first.stored?.objects,
        bytesStored: first.stored?.bytes,
        largestObject: first.stored?.largestObject,
        compressedBytes: first.compressedBytes,
        verified: first.verified,
        perRun: runs.map(({ onEventNs, ...rest }) => ({ ...rest, onEventSamples: onEventNs.length })),
    }
}

function git(args: string[]): string {
    const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trim() : ''
}

// ------------------------------------------------------------------------------------------------------------
// main
// ------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
    const opts = parseArgs(process.argv.slice(2))
    const startedAt = Date.now()
    const loadAtStart = os.loadavg().map((x) => Number(x.toFixed(2)))
    const log = (message: string) => console.error(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(3)} s] ${message}`)
    if (loadAtStart[0] > 1) log(`note: load average ${loadAtStart[0]} at start: other work shares the 2 cores, figures will be noisier`)
    if (!(globalThis as { gc?: unknown }).gc) log('warning: no --expose-gc; memory figures include uncollected garbage')

    mkdirSync(OUT, { recursive: true })
    const plugins = preparePlugins(opts.useDist)
    const s3 = await startS3Child()
    log(`local S3 at ${s3.endpoint} (child process ${s3.proc.pid}); ${opts.quick ? 'quick' : 'full'} run, ${opts.reps} runs per case, feed ${opts.feed} events per macrotask`)

    // PostHog's sandbox hands the app node-fetch 2 as `fetch`; Node's own fetch (undici) refuses the SDK's
    // `Expect: 100-continue` header, which it adds to bodies over 2 MB: probe both, then use the host's
    const largeBody = {
        builtinFetch: await probeLargeBody(s3, globalThis.fetch as unknown as S3StoreDeps['fetch']),
        nodeFetch: await probeLargeBody(s3, nodeFetch as unknown as S3StoreDeps['fetch']),
    }
    if (largeBody.builtinFetch !== 'ok') log(`note: a 3 MB PutObject through createS3Store with Node's built-in fetch fails: ${largeBody.builtinFetch}`)
    if (opts.fetch === 'node-fetch') (globalThis as { fetch: unknown }).fetch = nodeFetch

    pool = Array.from({ length: POOL_SIZE }, (_, i) => pageviewEvent(i))
    meanLineBytes = pool.reduce<number>((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)) + 1, 0) / POOL_SIZE
    const verifyFirst = async (run: RunResult, prefix: string) => {
        const { stored, keys } = await listStored(s3, prefix)
        run.stored = stored
        run.verified = await verifyStored(s3, keys, run.events)
        if (!run.verified.ok) throw new Error(`${prefix}: ${run.verified.events} events read back, expected ${run.events}`)
    }
    const listOnly = async (run: RunResult, prefix: string) => {
        run.stored = (await listStored(s3, prefix)).stored
    }

    // warm-up (JIT, sockets, zlib): not recorded
    const warm = Math.min(20_000, opts.events)
    await runCeiling(s3, warm, opts.feed)
    await runNaive(s3, warm, opts.feed, 'warmup/naive/')
    await runApp(s3, warm, opts.feed, 'warmup/app/')
    log('warm-up done')

    // 1-3. throughput, interleaved so drift hits every case alike
    const ceiling: RunResult[] = []
    const naive: RunResult[] = []
    const app: RunResult[] = []
    const naiveSink: RunResult[] = []
    const appSink: RunResult[] = []
    for (let rep = 0; rep < opts.reps; rep++) {
        const order = [0, 1, 2, 3, 4].map((k) => (k + rep) % 5)
        for (const which of order) {
            if (which === 3) naiveSink.push(await runNaive(s3, opts.events, opts.feed, `sink/naive/${rep}/`, 1, 'sink'))
            if (which === 4) appSink.push(await runApp(s3, opts.events, opts.feed, `sink/app/${rep}/`, 1, 'sink'))
            if (which === 0) ceiling.push(await runCeiling(s3, opts.events, opts.feed))
            if (which === 1) {
                const prefix = `naive/${rep}/`
                const r = await runNaive(s3, opts.events, opts.feed, prefix)
                await (rep === 0 ? verifyFirst(r, prefix) : listOnly(r, prefix))
                naive.push(r)
            }
            if (which === 2) {
                const prefix = `app/${rep}/`
                const r = await runApp(s3, opts.events, opts.feed, prefix)
                await (rep === 0 ? verifyFirst(r, prefix) : listOnly(r, prefix))
                app.push(r)
            }
        }
        log(`throughput run ${rep + 1}/${opts.reps}: ceiling ${fmt(ceiling[rep].eventsPerSec)}, naive ${fmt(naive[rep].eventsPerSec)}, app ${fmt(app[rep].eventsPerSec)} events/s`)
    }

    // 4b. stalls per cap (app and naive)
    const capApp: Record<number, RunResult[]> = {}
    const capNaive: Record<number, RunResult[]> = {}
    for (const cap of CAPS_MB) {
        capApp[cap] = []
        capNaive[cap] = []
        const n = opts.capEvents[cap]
        for (let rep = 0; rep < opts.reps; rep++) {
            const pa = `cap${cap}/app/${rep}/`
            const ra = await runApp(s3, n, opts.feed, pa, cap)
            await (rep === 0 ? verifyFirst(ra, pa) : listOnly(ra, pa))
            capApp[cap].push(ra)
            const pn = `cap${cap}/naive/${rep}/`
            const rn = await runNaive(s3, n, opts.feed, pn, cap)
            await listOnly(rn, pn)
            capNaive[cap].push(rn)
        }
        log(`cap ${cap} MB: app max stall ${fmt(Math.max(...capApp[cap].map((r) => r.maxStallMs)), 1)} ms, naive ${fmt(Math.max(...capNaive[cap].map((r) => r.maxStallMs)), 1)} ms`)
    }

    // 4c. memory per buffered event
    const memApp: Array<Record<string, number>> = []
    const memNaive: Array<Record<string, number>> = []
    for (let rep = 0; rep < opts.reps; rep++) {
        memApp.push(await memoryApp(s3, opts.memoryEvents, opts.feed, `memory/app/${rep}/`))
        memNaive.push(await memoryNaive(opts.memoryEvents, opts.feed))
        gc()
    }
    log(`memory: app ${fmt(spread(memApp.map((m) => m.bytesPerEvent)).median)} B/event, naive ${fmt(spread(memNaive.map((m) => m.bytesPerEvent)).median)} B/event`)

    // 3b. the sandbox (distinct event objects: vm2 caches a proxy per host object)
    const nSb = opts.sandboxEvents
    const nProbe = Math.min(opts.probeEvents, nSb)
    let sbEvents: unknown[] = Array.from({ length: nSb }, (_, i) => pageviewEvent(3_000_000 + i))
    const sbApp: RunResult[] = []
    const sbNoop: RunResult[] = []
    const sbStringify: RunResult[] = []
    await runSandbox(s3, plugins.app, sbEvents, Math.min(1_000, nSb), opts.feed, 'warmup/sandbox/', true)
    for (let rep = 0; rep < opts.reps; rep++) {
        const prefix = `sandbox/${rep}/`
        const r = await runSandbox(s3, plugins.app, sbEvents, nSb, opts.feed, prefix, true)
        await (rep === 0 ? verifyFirst(r, prefix) : listOnly(r, prefix))
        sbApp.push(r)
        sbNoop.push(await runSandbox(s3, plugins.noop, sbEvents, nProbe, opts.feed, 'probe/', false))
        sbStringify.push(await runSandbox(s3, plugins.stringify, sbEvents, nProbe, opts.feed, 'probe/', false))
        log(`sandbox run ${rep + 1}/${opts.reps}: app ${fmt(r.eventsPerSec)} events/s`)
    }
    sbEvents = []

    // ---------------------------------------------------------------------------------------------------
    const ratio = (a: RunResult[], b: RunResult[]) => spread(a.map((r, i) => r.eventsPerSec / b[i].eventsPerSec))
    const appVsCeiling = ratio(app, ceiling)
    const appVsNaive = ratio(app, naive)
    const sandboxVsDirect = spread(sbApp.map((r, i) => r.eventsPerSec / app[i].eventsPerSec))
    const capSummary = CAPS_MB.map((cap) => ({
        capMb: cap,
        events: opts.capEvents[cap],
        app: summarize(capApp[cap]),
        naive: summarize(capNaive[cap]),
    }))
    const maxStallMs = Math.max(...CAPS_MB.flatMap((cap) => capApp[cap].map((r) => r.maxStallMs)), ...app.map((r) => r.maxStallMs))
    const memAppSpread = spread(memApp.map((m) => m.bytesPerEvent))
    const noop = summarize(sbNoop)
    const strf = summarize(sbStringify)
    const sbSummary = summarize(sbApp)

    const results = {
        generatedAt: new Date().toISOString(),
        loadAverage: { atStart: loadAtStart, atEnd: os.loadavg().map((x) => Number(x.toFixed(2))) },
        mode: opts.quick ? 'quick' : 'full',
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGb: Math.round(os.totalmem() / 1e9), node: process.version, platform: `${os.platform()} ${os.release()}` },
        git: { commit: git(['rev-parse', '--short', 'HEAD']), uncommitted: git(['status', '--porcelain', '--', 'index.ts', 'src', 'dev']).split('\n').filter(Boolean) },
        largeBodyPut: largeBody,
        options: { ...opts, gzipLevel: GZIP_LEVEL, poolSize: POOL_SIZE, meanLineBytes, sandboxBundle: plugins.bundle },
        method: METHOD,
        throughput: {
            ceiling: summarize(ceiling),
            naive: summarize(naive),
            app: summarize(app),
            naiveToNullS3: summarize(naiveSink),
            appToNullS3: summarize(appSink),
            sandbox: sbSummary,
            sandboxNoopApp: noop,
            sandboxStringifyOnlyApp: strf,
        },
        ratios: { appVsCeiling, appVsNaive, sandboxVsDirect, appVsCeilingNullS3: ratio(appSink, ceiling), appVsNaiveNullS3: ratio(appSink, naiveSink), sandboxAppVsSandboxStringifyOnly: ratio(sbApp, sbStringify) },
        stallsByCap: capSummary,
        memory: { app: { bytesPerEvent: memAppSpread, runs: memApp }, naive: { bytesPerEvent: spread(memNaive.map((m) => m.bytesPerEvent)), runs: memNaive } },
        sandboxHostCost: { noop, stringify: strf },
        targets: {
            appVsCeiling: { target: 0.8, median: appVsCeiling.median, met: appVsCeiling.median >= 0.8 },
            appVsNaive: { target: 1.5, median: appVsNaive.median, met: appVsNaive.median >= 1.5 },
            maxStallMs: { target: 25, value: maxStallMs, met: maxStallMs <= 25 },
            bytesPerBufferedEvent: { target: 300, median: memAppSpread.median, met: memAppSpread.median <= 300 },
        },
        setupRetries,
        uploadRetries: [...app, ...appSink, ...CAPS_MB.flatMap((cap) => capApp[cap])].reduce((n, r) => n + Number(r.extra?.retries ?? 0), 0),
        wallSeconds: (Date.now() - startedAt) / 1000,
    }
    const file = opts.quick ? path.join(OUT, 'results-quick.json') : path.join(__dirname, 'results.json')
    writeFileSync(file, JSON.stringify(results, null, 2) + '\n')

    // ---------------------------------------------------------------------------------------------------
    const thr = results.throughput
    const mbps = (s: ReturnType<typeof summarize>) => fmt((s.eventsPerSec.median * meanLineBytes) / 1e6)
    const row = (name: string, s: ReturnType<typeof summarize>) => [
        name,
        fmt(s.events),
        fmtSpread(s.eventsPerSec),
        mbps(s),
        s.objects === undefined ? '—' : fmt(s.objects),
        s.bytesStored === undefined ? (s.compressedBytes ? `(${fmt(s.compressedBytes / 1e6, 1)} MB gz)` : '—') : `${fmt(s.bytesStored / 1e6, 1)} MB`,
        fmt(s.cpuMsPer1kEvents.median, 1),
        fmt(s.s3CpuMsPer1kEvents.median, 1),
        fmt(s.maxStallMs.max, 1),
    ]
    const out: string[] = []
    out.push('')
    out.push(
        `S3 Export bench (${results.mode}, ${opts.reps} runs per case; ${results.machine.cpus} × ${results.machine.cpuModel}, Node ${process.version}; gzip level ${GZIP_LEVEL}; ` +
            `events ~${fmt(meanLineBytes)} B of JSON; load average ${loadAtStart[0]} at start, ${results.loadAverage.atEnd[0]} at end)`
    )
    out.push('')
    out.push(
        table(
            ['case (1 MB cap)', 'events', 'events/s min / median / max', 'MB/s raw', 'objects', 'stored', 'CPU ms/1k ev', 'S3 CPU ms/1k ev', 'max stall ms'],
            [
                row('ceiling: stringify + gzip stream', thr.ceiling),
                row('naive: array → join → gzipSync → PUT', thr.naive),
                row('app: hooks → local S3', thr.app),
                row('naive → null S3 (no server work)', thr.naiveToNullS3),
                row('app → null S3 (no server work)', thr.appToNullS3),
                row('app in the sandbox (DevHost, 1 thread)', thr.sandbox),
                row('no-op app in the sandbox', thr.sandboxNoopApp),
                row('stringify-only app in the sandbox', thr.sandboxStringifyOnlyApp),
            ]
        )
    )
    out.push('')
    out.push(
        table(
            ['ratio (paired runs)', 'min', 'median', 'max', 'target'],
            [
                ['app / ceiling', fmt(appVsCeiling.min, 2), fmt(appVsCeiling.median, 2), fmt(appVsCeiling.max, 2), '≥ 0.80'],
                ['app / naive', fmt(appVsNaive.min, 2), fmt(appVsNaive.median, 2), fmt(appVsNaive.max, 2), '≥ 1.50'],
                ['app / ceiling, null S3', ...[results.ratios.appVsCeilingNullS3].flatMap((r) => [fmt(r.min, 2), fmt(r.median, 2), fmt(r.max, 2)]), '—'],
                ['app / naive, both to null S3', ...[results.ratios.appVsNaiveNullS3].flatMap((r) => [fmt(r.min, 2), fmt(r.median, 2), fmt(r.max, 2)]), '—'],
                ['sandbox / direct', fmt(sandboxVsDirect.min, 2), fmt(sandboxVsDirect.median, 2), fmt(sandboxVsDirect.max, 2), '—'],
                ['sandbox app / sandbox stringify-only', ...[results.ratios.sandboxAppVsSandboxStringifyOnly].flatMap((r) => [fmt(r.min, 2), fmt(r.median, 2), fmt(r.max, 2)]), '—'],
            ]
        )
    )
    out.push('')
    const us = (s: ReturnType<typeof summarize>) => [fmt(s.onEventUs!.p50, 1), fmt(s.onEventUs!.p99, 1), fmt(s.onEventUs!.max, 0), fmt(s.onEventUs!.samples)]
    out.push(
        table(
            ['onEvent cost (every 8th call)', 'p50 µs', 'p99 µs', 'max µs', 'samples'],
            [
                ['app, direct (synchronous call)', ...us(thr.app)],
                ['naive, direct (push; flush every ~885)', ...us(thr.naive)],
                ['app in the sandbox (call + await)', ...us(sbSummary)],
                ['no-op app in the sandbox (host cost)', ...us(noop)],
                ['stringify-only app in the sandbox', ...us(strf)],
            ]
        )
    )
    out.push('')
    out.push(
        table(
            ['upload cap', 'events', 'app events/s (median)', 'app objects', 'app peak held MB', 'app max stall ms (median / max)', 'naive max stall ms (median / max)'],
            capSummary.map((c) => [
                `${c.capMb} MB`,
                fmt(c.events),
                fmt(c.app.eventsPerSec.median),
                fmt(c.app.objects ?? 0),
                fmt(Math.max(...c.app.perRun.map((r) => Number(r.extra?.peakAppBytes ?? 0))) / 1e6, 1),
                `${fmt(c.app.maxStallMs.median, 1)} / ${fmt(c.app.maxStallMs.max, 1)}`,
                `${fmt(c.naive.maxStallMs.median, 1)} / ${fmt(c.naive.maxStallMs.max, 1)}`,
            ])
        )
    )
    out.push('')
    const med = (runs: Array<Record<string, number>>, key: string) => fmt(spread(runs.map((m) => m[key])).median)
    const memRow = (name: string, runs: Array<Record<string, number>>, app: boolean) => [
        name,
        fmt(runs[0].events),
        fmtSpread(spread(runs.map((m) => m.bytesPerEvent))),
        med(runs, 'heapPerEvent'),
        med(runs, 'externalPerEvent'),
        med(runs, 'rssPerEvent'),
        app ? med(runs, 'appAccountedPerEvent') : '—',
        app ? `${med(runs, 'atEndBytesPerEvent')} (${med(runs, 'atEndAppAccountedPerEvent')})` : '—',
    ]
    out.push(
        table(
            ['memory per buffered event (bytes)', 'events', 'heap+external min / median / max', 'heap', 'external', 'RSS', "app's own count", 'right after the last onEvent (app count)'],
            [memRow('app (gzip, one open 100 MB batch), settled', memApp, true), memRow('naive (the event objects in an array)', memNaive, false)]
        )
    )
    out.push('')
    out.push(
        `sandbox: ${fmt(nSb)} events per run (direct: ${fmt(opts.events)}); bundle ${fmt(sbApp[0].extra!.bundleBytes as number / 1024)} KB (${plugins.bundle}), host transform ${fmt(sbApp[0].extra!.transformMs as number)} ms per load; ` +
            `host cost per call ≈ ${fmt(noop.onEventUs!.p50, 1)} µs (no-op app), reading the event through vm2 ≈ ${fmt(strf.onEventUs!.p50 - noop.onEventUs!.p50, 1)} µs more (stringify-only app)`
    )
    out.push(`PutObject of a 3 MB body via createS3Store: Node's built-in fetch → ${largeBody.builtinFetch}; node-fetch 2 → ${largeBody.nodeFetch}; direct runs use ${opts.fetch === 'node-fetch' ? 'node-fetch 2 (the sandbox\'s fetch)' : "Node's built-in fetch"}`)
    if (results.setupRetries > 0 || results.uploadRetries > 0) {
        out.push(`transient S3 failures: setupPlugin retried ${results.setupRetries}×, app uploads retried ${results.uploadRetries}× (these runs include the backoff)`)
    }
    out.push(`targets: app/ceiling ${results.targets.appVsCeiling.met ? 'met' : 'MISSED'}, app/naive ${results.targets.appVsNaive.met ? 'met' : 'MISSED'}, stall ≤ 25 ms ${results.targets.maxStallMs.met ? 'met' : 'MISSED'}, ≤ 300 B/event ${results.targets.bytesPerBufferedEvent.met ? 'met' : 'MISSED'}`)
    out.push(`results: ${path.relative(ROOT, file)}; wall time ${fmt(results.wallSeconds)} s`)
    out.push(
        `bench: app_vs_ceiling=${appVsCeiling.median.toFixed(2)} app_vs_naive=${appVsNaive.median.toFixed(2)} max_stall_ms=${Math.round(maxStallMs)} bytes_per_buffered_event=${Math.round(memAppSpread.median)}`
    )
    console.log(out.join('\n'))

    s3.proc.disconnect()
}

const METHOD = {
    events: 'processed $pageview events from dev/sample-events.ts pageviewEvent(i); throughput cases cycle a pool of 20,000 pre-built events, the sandbox and memory cases use distinct objects',
    arrival: 'every case is fed `feed` events per macrotask (setImmediate between), the same for all cases',
    ceiling: 'JSON.stringify(event) + "\\n" concatenated into >= 1 MiB strings, Buffer.from each into one native zlib gzip stream (level GZIP_LEVEL, chunkSize 1 MiB); no app, no network; ends at the stream\'s end event',
    naive: "the original plugin's pipeline: event objects kept in an array; every K events (1 MiB of raw JSON / mean line size) events.map(JSON.stringify).join('\\n'), gzipSync(level GZIP_LEVEL), one PutObject via createS3Store, fire-and-forget; ends when all PutObjects answered",
    app: 'index.ts setupPlugin (outside the timing) → onEvent for every event → teardownPlugin, which resolves when every batch is stored; plugin.json defaults (gzip, 1 MB cap, 64 MB memory limit)',
    sandbox: 'dist/index.js (a fresh build of the working tree into bench/out/plugin/ when dist is stale) in dev/host.ts DevHost with 1 thread (vm2 + the host Babel pass), each onEvent awaited; teardownPlugin through the host; no-op and stringify-only probe apps measure the host per-call cost',
    fetch: "direct runs (app and naive) set the global fetch to node-fetch 2, the fetch PostHog's sandbox gives the app (index.ts passes the global fetch to createS3Store); --undici keeps Node's built-in fetch, which rejects the SDK's Expect: 100-continue header on bodies over 2 MB",
    localS3: 'dev/s3server.ts (@20minutes/s3rver, SigV4 checked) in a child process; its CPU is reported separately (it shares the 2 cores)',
    onEventCost: 'process.hrtime.bigint() around every 8th onEvent call: direct = the synchronous call; sandbox = call + await of its promise',
    stall: 'setInterval(…, 1) drift monitor over the whole timed run (feed, seals, compression callbacks, uploads, teardown); longest gap minus the 1 ms period',
    memory: 'heapUsed + external after onEvent of N distinct events into one open batch (100 MB cap, nothing sealed, compression settled), minus the same after setupPlugin; both after forced GCs (node --expose-gc); divided by N',
    stalls_by_cap: 'uploadMegabytes 1 / 10 / 100 with bufferLimitMegabytes max(64, 2 × cap); the naive row uses the same cap per object',
}

// Re-run under --expose-gc (for the memory figures) when started without it.
if (!(globalThis as { gc?: unknown }).gc && !process.env.S3_EXPORT_BENCH_CHILD) {
    const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', __filename, ...process.argv.slice(2)], {
        stdio: 'inherit',
        env: { ...process.env, S3_EXPORT_BENCH_CHILD: '1' },
    })
    process.exit(r.status ?? 1)
} else {
    main().catch((error) => {
        console.error(error)
        process.exit(1)
    })
}
