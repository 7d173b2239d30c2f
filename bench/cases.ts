/**
 * The bench's cases, each one timed run: the ceiling (no app, no network), the naive way (the original plugin's),
 * the app through its real hooks, and the app (or a probe app) inside the local plugin-server's sandbox.
 */
import { setImmediate as nextMacrotask } from 'timers/promises'
import { createGzip, gzipSync } from 'zlib'

import { setupPlugin, onEvent, teardownPlugin } from '../index'
import { parseConfig } from '../src/config'
import { MEGABYTE } from '../src/units'
import { createS3Store, type PutOutcome, type S3StoreDeps } from '../src/s3/client'
import type { Exporter } from '../src/export/exporter'
import { DevHost, type DevHostOptions } from '../dev/host'
import { DevStorage } from '../dev/storage'
import { LIVE_SINCE_KEY } from '../src/backfill/boundary'
import type { HostProfileName } from '../dev/sandbox/profile'
import { GZIP_LEVEL, type EventCase } from './events'
import { BUCKET, type S3Child, type Stored } from './local-s3'
import { cpuMs, feedSync, gc, mainThreadCpuMs, StallMonitor } from './measure'

const MiB = 1024 * 1024

export interface RunResult {
    events: number
    ms: number
    eventsPerSec: number
    /** process CPU: every thread (zlib's pool, the network) */
    cpuMs: number
    /** the event loop's busy time (performance.eventLoopUtilization): wall time, waits for a core included */
    mainThreadMs: number
    /** CPU time the main thread really ran (Linux per-thread accounting, 10 ms ticks); undefined without /proc */
    mainThreadCpuMs?: number
    s3CpuMs: number
    maxStallMs: number
    stalledOver25: number
    stored?: Stored
    compressedBytes?: number
    verified?: { events: number; rawBytes: number; ok: boolean }
    onEventNs: number[]
    extra?: Record<string, unknown>
}

export type Target = 's3' | 'sink'

/** What every case needs: the local S3, the events, how they arrive, and counters of transient failures. */
export interface CaseContext {
    s3: S3Child
    events: EventCase
    feed: number
    hostProfile: HostProfileName
    /** the dev host's options for that generation besides the profile (bench/hosts.ts) */
    hostOptions?: Partial<DevHostOptions>
    counters: { setupRetries: number; naivePutRetries: number }
}

export function settingsFor(s3: S3Child, prefix: string, capMb = 1, target: Target = 's3'): Record<string, string> {
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
        // room for the open batch, one uploading and one sealed batch counted raw until its body is made: with client
        // events 2 × the cap dropped a third of a 100 MB-cap run while the local S3 stored the previous batch
        bufferLimitMegabytes: String(Math.max(64, 4 * capMb)),
    }
}

export async function timed(
    s3: S3Child,
    body: (samples: number[]) => Promise<Partial<RunResult> | void>,
    n: number
): Promise<RunResult> {
    const monitor = new StallMonitor()
    const samples: number[] = []
    gc()
    const s3cpu0 = await s3.cpuMs()
    const cpu0 = process.cpuUsage()
    const elu0 = performance.eventLoopUtilization()
    const mainCpu0 = mainThreadCpuMs()
    monitor.start()
    const t0 = performance.now()
    const extra = (await body(samples)) || {}
    const ms = performance.now() - t0
    const maxStallMs = monitor.stop()
    const cpu = cpuMs(cpu0)
    // the event loop's busy time: the main thread's share (process CPU also counts zlib's and the network's threads)
    const mainThreadMs = performance.eventLoopUtilization(elu0).active
    const mainCpu1 = mainThreadCpuMs()
    const mainCpu = mainCpu0 === undefined || mainCpu1 === undefined ? undefined : mainCpu1 - mainCpu0
    const s3cpu = (await s3.cpuMs()) - s3cpu0
    return { events: n, ms, eventsPerSec: (n * 1000) / ms, cpuMs: cpu, mainThreadMs, mainThreadCpuMs: mainCpu, s3CpuMs: s3cpu, maxStallMs, stalledOver25: monitor.over25, onEventNs: samples, ...extra }
}

/** 1. Ceiling: stringify → ≥1 MiB strings → one native gzip stream. No app, no network. */
export function runCeiling(ctx: CaseContext, n: number): Promise<RunResult> {
    const { s3, feed } = ctx
    const poolEvent = ctx.events.poolEvent
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
export function runNaive(ctx: CaseContext, n: number, prefix: string, capMb = 1, target: Target = 's3'): Promise<RunResult> {
    const { s3, feed } = ctx
    const poolEvent = ctx.events.poolEvent
    const meanLineBytes = ctx.events.meanLineBytes
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
                const put = () => store.put({ key, body, contentType: 'application/x-ndjson', contentEncoding: 'gzip' })
                // one more try for a transient failure (a pooled connection the local S3 closed while the batch
                // filled: EPIPE), so the baseline does not end the whole bench; counted and reported
                const retried = (outcome: PutOutcome): Promise<PutOutcome> => {
                    if (outcome.kind !== 'retry') return Promise.resolve(outcome)
                    ctx.counters.naivePutRetries++
                    return put()
                }
                puts.push(
                    put()
                        .then(retried)
                        .then((outcome: PutOutcome) => {
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
export async function probeLargeBody(s3: S3Child, fetchFn: S3StoreDeps['fetch']): Promise<string> {
    const store = createS3Store(parseConfig(settingsFor(s3, 'probe/')), { fetch: fetchFn })
    const outcome = await store.put({ key: 'probe/large-body', body: Buffer.alloc(3 * MiB, 7), contentType: 'application/octet-stream' })
    return outcome.kind === 'ok' ? 'ok' : `${outcome.kind}: ${outcome.failure.code} ${outcome.failure.message}`
}

/**
 * setupPlugin may throw RetryError on a transient S3 failure (e.g. a keep-alive socket the server closed while
 * idle: node-fetch 2 on Node 20 uses the keep-alive global agent); PostHog then runs setup again later. So does the
 * bench, at most 3 times, and counts it.
 */
async function withSetupRetry<T>(ctx: CaseContext, setup: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await setup()
        } catch (error) {
            const retryable = (error as Error)?.name === 'RetryError' || /RetryError/.test(String(error))
            if (!retryable || attempt >= 3) throw error
            ctx.counters.setupRetries++
            await new Promise((r) => setTimeout(r, 500))
        }
    }
}

export interface AppMeta {
    config: Record<string, string>
    global: { exporter?: Exporter }
}

/** 3. The app through its real hooks. */
export async function runApp(ctx: CaseContext, n: number, prefix: string, capMb = 1, target: Target = 's3'): Promise<RunResult> {
    const { s3, feed } = ctx
    const poolEvent = ctx.events.poolEvent
    const meta: AppMeta = { config: settingsFor(s3, prefix, capMb, target), global: {} }
    await withSetupRetry(ctx, () => setupPlugin(meta as any))
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

/**
 * How the sandboxed app is found by its events. `steady` (the default): installed over ten minutes ago, as a host is
 * at every moment but its first ten minutes: the backfill's boundary is an hour old in meta.storage, so onEvent notes
 * nothing for it. `first-10-minutes`: the boundary was set by this start, and every bench event (each captured
 * before it) is noted in meta.storage for the backfill — the worst case of those ten minutes.
 * `exportEventsBuffer: false` leaves out the buffer the host keeps of every live event for an app exporting
 * `exportEvents` (what the backfill costs the host per live event, measured apart).
 */
export interface SandboxPhase {
    phase?: 'steady' | 'first-10-minutes'
    exportEventsBuffer?: boolean
    /** the sandbox's fetch (default node-fetch 2): bench/transport.ts's refusing one sends by aws-sdk v2 */
    fetch?: unknown
}

function storageFor(phase: SandboxPhase['phase']): DevStorage | undefined {
    if (phase === 'first-10-minutes') return undefined
    const storage = new DevStorage()
    storage.set(LIVE_SINCE_KEY, Date.now() - 3_600_000)
    return storage
}

/** The app (or a probe app) inside the local plugin-server's sandbox, one event per awaited call. */
export async function runSandbox(ctx: CaseContext, pluginDir: string, events: unknown[], n: number, prefix: string, isApp: boolean, how: SandboxPhase = {}): Promise<RunResult> {
    const { s3, feed } = ctx
    const logs: string[] = []
    const host = await withSetupRetry(ctx, () =>
        DevHost.start({
            ...ctx.hostOptions,
            pluginDir,
            config: settingsFor(s3, prefix),
            threads: 1,
            hostProfile: ctx.hostProfile,
            storage: storageFor(how.phase),
            exportEventsUpgrade: how.exportEventsBuffer,
            fetch: how.fetch,
            // a failed setup must reach withSetupRetry, not leave the host skipping the benchmark's events
            setupFailure: 'throw',
            log: (level, message) => logs.push(`${level}: ${message}`),
        })
    )
    // the thread's copy, once ready: the 2024 host readies an app without jobs (the probe apps) at its first event
    const thread = () => host.threads[0]
    try {
        const result = await timed(
            s3,
            async (samples) => {
                const feedStarted = performance.now()
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
                // onEvent's rate: until the last call returned, uploads sealed meanwhile included; the drain at
                // teardown below is waiting on S3, which the host does not spend per event
                const feedEventsPerSec = (n * 1000) / (performance.now() - feedStarted)
                if (!isApp) return { extra: { feedEventsPerSec } }
                const report = (await thread().methods.teardownPlugin!()) as any
                const stats = (thread().meta.global as any).exporter.stats
                if (!report || stats.delivered !== n || report.dropped !== 0 || report.pendingEvents !== 0) {
                    throw new Error(`sandbox run under ${prefix} did not store every event: ${JSON.stringify({ report, stats })}; log: ${logs.slice(-5).join(' | ')}`)
                }
                return { compressedBytes: stats.bytesStored, extra: { appObjects: stats.objects, feedEventsPerSec } }
            },
            n
        )
        result.extra = { ...result.extra, transformMs: thread().transformMs, bundleBytes: thread().bundleBytes, ...thread().stats() }
        return result
    } finally {
        await host.shutdown()
    }
}
