/**
 * The fault suite's rig: a signature-checking local S3, the fault proxy in front of it, an Exporter built directly on
 * a scaled clock (virtual time runs `scale` times faster than real time, so a 60 s backoff takes 60 ms at scale 1000),
 * a fake durable job queue behind `spill`, and the read-back that counts every uuid over every object.
 */
import type { S3Client } from '@aws-sdk/client-s3'
import { randomBytes } from 'crypto'
import { appendFileSync } from 'fs'
import { settingsFor } from './plugin'
import { startFaultProxy, type FaultProxy, type Schedule as FaultSchedule } from '../../dev/fault-proxy'
import { readAll, readerClient, type StoredObject } from '../../dev/s3-read'
import { startS3Server, type RunningS3 } from '../../dev/s3server'
import { parseConfig, type Config } from '../../src/config'
import { Exporter, type Cancel, type ExporterOptions, type Spill } from '../../src/export/exporter'
import { createS3Store, type ObjectStore, type S3StoreDeps } from '../../src/s3/client'
import { spillBatch, type SpilledBatchPayload } from '../../src/export/spill'
import { runSpilledBatch } from '../../src/export/spill-job'
import { DevStorage } from '../../dev/storage'
import { makeEvent } from './events'
import { transportDeps, type Transport } from './transports'

export const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0)
export const KIB = 1024

/** Virtual time: `scale` virtual ms per real ms. Timers fire after delay / scale real ms. */
export class ScaledClock {
    private readonly start = performance.now()
    private readonly timers = new Set<NodeJS.Timeout>()
    constructor(
        readonly scale: number,
        private readonly t0 = T0
    ) {}
    now = (): number => this.t0 + Math.floor((performance.now() - this.start) * this.scale)
    schedule = (delayMs: number, fn: () => void): Cancel => {
        const timer = setTimeout(() => {
            this.timers.delete(timer)
            fn()
        }, Math.max(0, delayMs / this.scale))
        this.timers.add(timer)
        return {
            cancel: () => {
                clearTimeout(timer)
                this.timers.delete(timer)
            },
        }
    }
    /** real ms for `virtualMs` of this clock */
    real(virtualMs: number): number {
        return virtualMs / this.scale
    }
    /** wait until the virtual clock reads at least `at` */
    async until(at: number): Promise<void> {
        for (let i = 0; i < 100_000 && this.now() < at; i++) await sleep(Math.max(1, Math.ceil((at - this.now()) / this.scale)))
    }
    dispose(): void {
        for (const timer of this.timers) clearTimeout(timer)
        this.timers.clear()
    }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A ~1.2 KB event with 600 random characters, so it compresses poorly (makeEvent's compresses ~65x): memory shows. */
export function noisyEvent(i: number) {
    const event = makeEvent(i)
    ;(event.properties as Record<string, unknown>).padding = randomBytes(450).toString('base64')
    return event
}

export class LogRecorder {
    readonly lines: Array<{ level: 'info' | 'warn' | 'error'; message: string; at: number }> = []
    constructor(private readonly now: () => number = Date.now) {}
    info = (message: string) => void this.lines.push({ level: 'info', message, at: this.now() })
    warn = (message: string) => void this.lines.push({ level: 'warn', message, at: this.now() })
    error = (message: string) => void this.lines.push({ level: 'error', message, at: this.now() })
    matching(re: RegExp, level?: 'info' | 'warn' | 'error') {
        return this.lines.filter((l) => re.test(l.message) && (!level || l.level === level))
    }
}

/**
 * PostHog's job queue, faked: `spill` offers batches as job payloads (split by the app's own rule); `runAll` runs
 * them (and their re-queues). It can be slow (each enqueue takes `delayMs` real ms), refuse everything, or refuse
 * payloads over `maxPayloadBytes` as Kafka does (MessageSizeTooLarge).
 */
export class FakeJobQueue {
    readonly queued: Array<{ payload: SpilledBatchPayload; delaySeconds: number }> = []
    accepted = 0
    acceptedEvents = 0
    stored = 0
    storedEvents = 0
    requeued = 0
    dropped = 0
    /** payloads refused for their size */
    tooLarge = 0
    largestPayloadBytes = 0
    /** set to make the queue itself refuse */
    refuse = false
    /** meta.storage (PostgreSQL in PostHog): where slices of a batch handed over under its own key wait */
    readonly storage = new DevStorage()
    constructor(readonly opts: { delayMs?: number; maxPayloadBytes?: number } = {}) {}
    /** one payload, as the host's runIn: rejects when refused */
    enqueue = (payload: SpilledBatchPayload, delaySeconds: number): Promise<void> => {
        const json = JSON.stringify(payload)
        const bytes = Buffer.byteLength(json)
        const wait = this.opts.delayMs ? sleep(this.opts.delayMs) : Promise.resolve()
        return wait.then(() => {
            if (this.refuse) throw new Error('the job queue is unavailable')
            if (this.opts.maxPayloadBytes !== undefined && bytes > this.opts.maxPayloadBytes) {
                this.tooLarge++
                throw new Error(`MessageSizeTooLarge: ${bytes} bytes`)
            }
            this.largestPayloadBytes = Math.max(this.largestPayloadBytes, bytes)
            // the payload is stored as JSON, as PostgreSQL / Kafka would
            this.queued.push({ payload: JSON.parse(json), delaySeconds })
            this.accepted++
            this.acceptedEvents += payload.events
        })
    }
    readonly spill: Spill = (batch) => (spillBatch as (...args: unknown[]) => ReturnType<typeof spillBatch>)(batch, this.enqueue, undefined, this.storage.facade())
    /** Run every queued job (jobs that re-queue themselves run again next round), at most `rounds` rounds. */
    async runAll(store: ObjectStore, opts: { rounds?: number; bucket?: string; log?: LogRecorder } = {}): Promise<void> {
        for (let round = 0; round < (opts.rounds ?? 20) && this.queued.length > 0; round++) {
            const jobs = this.queued.splice(0, this.queued.length)
            for (const job of jobs) {
                const result = await runSpilledBatch(job.payload, {
                    store,
                    enqueue: (payload: SpilledBatchPayload, delaySeconds: number) => {
                        this.requeued++
                        this.queued.push({ payload: JSON.parse(JSON.stringify(payload)), delaySeconds })
                        return Promise.resolve()
                    },
                    random: () => 0.5,
                    log: opts.log ?? { info: () => undefined, error: () => undefined },
                    bucket: opts.bucket ?? 'bucket',
                    storage: this.storage.facade() as unknown,
                } as unknown as Parameters<typeof runSpilledBatch>[1])
                if (result.outcome === 'stored') {
                    this.stored++
                    this.storedEvents += job.payload.events
                }
                if (result.outcome === 'dropped') this.dropped += job.payload.events
            }
        }
    }
}

export interface Rig {
    s3: RunningS3
    proxy: FaultProxy
    reader: S3Client
    /** the proxy's clock: set it to the test's ScaledClock so proxy phases and outages run in virtual time */
    clock?: ScaledClock
    close(): Promise<void>
}

/** A local S3 with `buckets` and the fault proxy in front of it, on `rig.clock` when one is set. */
export async function startRig(buckets: string[]): Promise<Rig> {
    const s3 = await startS3Server({ buckets })
    const rig: Rig = { s3, proxy: undefined as unknown as FaultProxy, reader: readerClient(s3), close: async () => undefined }
    rig.proxy = await startFaultProxy({ upstream: s3.endpoint, now: () => (rig.clock ? rig.clock.now() : Date.now()) })
    rig.close = async () => {
        rig.clock?.dispose()
        await rig.proxy.close()
        await s3.close()
    }
    return rig
}

export function rigConfig(rig: Rig, bucket: string, overrides: Record<string, string> = {}): Config {
    return parseConfig(proxySettings(rig, bucket, { eventsToIgnore: '', ...overrides }))
}

/** Plugin settings that reach the local S3 through the fault proxy, under the prefix faults/. */
export function proxySettings(rig: Rig, bucket: string, overrides: Record<string, string> = {}): Record<string, string> {
    return settingsFor({ ...rig.s3, endpoint: rig.proxy.endpoint }, bucket, { prefix: 'faults/', ...overrides })
}

export interface ExporterRig {
    exporter: Exporter
    store: ObjectStore
    log: LogRecorder
    jobs: FakeJobQueue
    config: Config
    /** largest memory held in batches (open + sealed, without those on their way into the job queue) seen by `send` and `drain` */
    maxMemory: () => number
    /** largest exporter.memoryBytes(), spills in progress included */
    maxTotalMemory: () => number
    sample: () => void
}

/**
 * An Exporter on the clock, through the proxy: small batches (64 KiB raw) and a 2 MiB memory limit (each gzip stream
 * alone holds ~384 KiB while it compresses), so a few thousand events make ~100 objects and memory pressure is real. `timeoutMs` bounds each request in REAL ms.
 */
export function buildExporter(
    rig: Rig,
    clock: ScaledClock,
    opts: {
        bucket: string
        config?: Partial<Pick<Config, 'maxBatchBytes' | 'bufferLimitBytes' | 'uploadIntervalMs' | 'format' | 'keyTemplate'>>
        credentials?: { accessKeyId: string; secretAccessKey: string }
        timeoutMs?: number
        spill?: boolean
        exporter?: Partial<ExporterOptions>
        /** the fake job queue's behaviour: slow, or refusing payloads over a size (Kafka) */
        queue?: ConstructorParameters<typeof FakeJobQueue>[0]
        /** the road to S3 (default: fetch) */
        transport?: Transport
    }
): ExporterRig {
    const base = rigConfig(rig, opts.bucket, opts.credentials ? { awsAccessKey: opts.credentials.accessKeyId, awsSecretAccessKey: opts.credentials.secretAccessKey } : {})
    const config: Config = { ...base, maxBatchBytes: 64 * KIB, bufferLimitBytes: 2048 * KIB, uploadIntervalMs: 60_000, ...opts.config }
    const timeoutMs = opts.timeoutMs ?? 300
    const store = createS3Store(config, transportDeps(opts.transport ?? 'fetch', { timeoutMs }))
    const log = new LogRecorder(clock.now)
    const jobs = new FakeJobQueue(opts.queue)
    const exporter = new Exporter({
        config,
        store,
        now: clock.now,
        random: Math.random,
        randomBytes: (n) => randomBytes(n),
        schedule: clock.schedule,
        log,
        spill: opts.spill === false ? undefined : jobs.spill,
        fatalRetryMs: 60_000,
        reportEveryMs: 60_000,
        ...opts.exporter,
    })
    let max = 0
    let maxTotal = 0
    const sample = () => {
        const m = exporter.memory()
        max = Math.max(max, m.open + m.queued)
        maxTotal = Math.max(maxTotal, m.open + m.queued + m.spilling)
    }
    return { exporter, store, log, jobs, config, maxMemory: () => max, maxTotalMemory: () => maxTotal, sample }
}

/**
 * Send `count` events (from index `first`) spread evenly over `overVirtualMs` of the clock, in chunks, sampling
 * memory after every event. Returns the uuids sent (ignored events are not sent: the config ignores none).
 */
export async function send(
    x: ExporterRig,
    clock: ScaledClock,
    opts: { count: number; first?: number; overVirtualMs: number; chunk?: number; event?: (i: number) => any; onChunk?: (sentSoFar: number) => void }
): Promise<string[]> {
    const chunk = opts.chunk ?? 100
    const first = opts.first ?? 0
    const make = opts.event ?? noisyEvent
    const start = clock.now()
    const uuids: string[] = []
    for (let sent = 0; sent < opts.count; ) {
        const n = Math.min(chunk, opts.count - sent)
        for (let k = 0; k < n; k++) {
            const event = make(first + sent + k)
            x.exporter.add(event)
            uuids.push(event.uuid)
            x.sample()
        }
        sent += n
        opts.onChunk?.(sent)
        await clock.until(start + Math.round((opts.overVirtualMs * sent) / opts.count))
        await new Promise((r) => setImmediate(r))
    }
    return uuids
}

/** PostHog runs runEveryMinute once a minute: the fault scenarios tick at that pace on their clock, no faster. */
export const HOST_TICK_MS = 60_000

/**
 * Wait (real time bounded) until the exporter holds nothing, sampling memory meanwhile; true when it drained. The
 * exporter must get there on its own timers: tick() only runs at the host's pace, once a virtual minute.
 */
export async function drain(x: ExporterRig, clock: ScaledClock, realTimeoutMs = 20_000): Promise<boolean> {
    const until = Date.now() + realTimeoutMs
    let nextTick = clock.now() + HOST_TICK_MS
    while (Date.now() < until) {
        x.sample()
        if (x.exporter.pendingEvents() === 0) return true
        await sleep(2)
        if (clock.now() >= nextTick) {
            x.exporter.tick()
            nextTick = clock.now() + HOST_TICK_MS
        }
    }
    return x.exporter.pendingEvents() === 0
}

export interface Tally {
    objects: StoredObject[]
    stored: number
    lost: number
    duplicated: number
    /** uuids stored that were never sent */
    unexpected: number
}

/** Read every object back and count each sent uuid. */
export async function tally(reader: S3Client, bucket: string, sent: string[], prefix = 'faults/'): Promise<Tally> {
    const objects = await readAll(reader, bucket, prefix)
    const counts = new Map<string, number>()
    for (const o of objects) for (const e of o.events) counts.set(e.uuid, (counts.get(e.uuid) ?? 0) + 1)
    let lost = 0
    let duplicated = 0
    for (const uuid of sent) {
        const n = counts.get(uuid) ?? 0
        if (n === 0) lost++
        if (n > 1) duplicated += n - 1
    }
    const sentSet = new Set(sent)
    const unexpected = [...counts.keys()].filter((u) => !sentSet.has(u)).length
    const stored = [...counts.values()].reduce((a, b) => a + b, 0)
    return { objects, stored, lost, duplicated, unexpected }
}

/** Object keys the proxy saw PUT requests for (data objects only), with how many attempts each. */
export function putAttempts(proxy: FaultProxy, bucket: string): Map<string, number> {
    const attempts = new Map<string, number>()
    for (const r of proxy.log) {
        if (r.method !== 'PUT' || !r.path.startsWith(`/${bucket}/`)) continue
        const key = decodeURIComponent(r.path.slice(bucket.length + 2).split('?')[0])
        if (key.endsWith('.s3-export-write-check')) continue
        attempts.set(key, (attempts.get(key) ?? 0) + 1)
    }
    return attempts
}

export type { FaultSchedule }

export interface ScenarioResult {
    sent: string[]
    tally: Tally
    drained: boolean
    x: ExporterRig
    /** PUT attempts per data key, as the proxy saw them */
    attempts: Map<string, number>
    closeRealMs: number
    faultsInjected: number
    injected: Record<string, number>
    requests: number
}

/**
 * One run: `count` events over `overVirtualMs` through the proxy on `schedule`, wait until the exporter holds
 * nothing, close, then run the job queue's spilled batches with S3 healthy, and read everything back.
 */
export async function runScenario(
    rig: Rig,
    opts: {
        bucket: string
        schedule: FaultSchedule
        scale: number
        count?: number
        overVirtualMs?: number
        timeoutMs?: number
        event?: (i: number) => any
        config?: Partial<Pick<Config, 'maxBatchBytes' | 'bufferLimitBytes' | 'uploadIntervalMs'>>
        credentials?: { accessKeyId: string; secretAccessKey: string }
        /** false: no job queue (the exporter must drop, count and report past the memory limit) */
        spill?: boolean
        /** called with the clock once sending starts (switch an outage on, ...) */
        during?: (clock: ScaledClock, x: ExporterRig) => void
        onChunk?: (sentSoFar: number, clock: ScaledClock, x: ExporterRig) => void
        /** exporter options made with the scenario's clock (e.g. a schedule that records what is armed) */
        exporter?: (clock: ScaledClock) => Partial<ExporterOptions>
        /** the road to S3 (default: fetch) */
        transport?: Transport
    }
): Promise<ScenarioResult> {
    const clock = new ScaledClock(opts.scale)
    rig.clock = clock
    const requestsBefore = rig.proxy.stats.requests
    const faultsBefore = rig.proxy.faultsInjected()
    const injectedBefore: Record<string, number> = { ...rig.proxy.stats.injected, refusedConnections: rig.proxy.stats.refusedConnections }
    rig.proxy.setSchedule(opts.schedule)
    const x = buildExporter(rig, clock, { bucket: opts.bucket, timeoutMs: opts.timeoutMs, config: opts.config, credentials: opts.credentials, spill: opts.spill, exporter: opts.exporter?.(clock), transport: opts.transport })
    opts.during?.(clock, x)
    const sent = await send(x, clock, {
        count: opts.count ?? 5000,
        overVirtualMs: opts.overVirtualMs ?? 20 * 60_000,
        event: opts.event,
        onChunk: opts.onChunk ? (n) => opts.onChunk!(n, clock, x) : undefined,
    })
    const drained = await drain(x, clock)
    const t = performance.now()
    await x.exporter.close(clock.now() + 4_500)
    const closeRealMs = performance.now() - t
    rig.proxy.setSchedule(() => ({ kind: 'pass' }))
    rig.proxy.outage(0)
    await x.jobs.runAll(x.store, { bucket: opts.bucket })
    const result: ScenarioResult = {
        sent,
        tally: await tally(rig.reader, opts.bucket, sent),
        drained,
        x,
        attempts: putAttempts(rig.proxy, opts.bucket),
        closeRealMs,
        faultsInjected: rig.proxy.faultsInjected() - faultsBefore,
        injected: Object.fromEntries(
            Object.entries({ ...rig.proxy.stats.injected, refusedConnections: rig.proxy.stats.refusedConnections })
                .map(([k, v]): [string, number] => [k, v - (injectedBefore[k] ?? 0)])
                .filter(([, v]) => v > 0)
        ),
        requests: rig.proxy.stats.requests - requestsBefore,
    }
    record(opts.bucket, result)
    clock.dispose()
    return result
}

/** The invariants every fault schedule must keep. */
export function expectNothingLost(r: ScenarioResult): void {
    const { tally: t, x } = r
    expect(r.drained).toBe(true) // the exporter stored (or spilled) everything by itself once S3 answered again
    expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected, dropped: x.exporter.stats.dropped }).toEqual({
        lost: 0,
        duplicated: 0,
        unexpected: 0,
        dropped: 0,
    })
    expect(t.stored).toBe(r.sent.length)
    // one object per batch: a retried batch kept its key, so retries made no extra objects
    expect(t.objects.length).toBe(x.exporter.stats.objects + x.jobs.stored)
    expect(new Set(t.objects.map((o) => o.key))).toEqual(new Set(r.attempts.keys()))
    // memory, sampled after every event and while draining, stayed within the limit. Spills in progress come on top:
    // bodies the queue has not yet taken (at most the limit) and, for batches still being compressed on a busy
    // machine, their compressor state (~384 KiB each, for the milliseconds compression takes)
    expect(x.maxMemory()).toBeLessThanOrEqual(x.config.bufferLimitBytes)
    expect(x.maxTotalMemory()).toBeLessThanOrEqual(3 * x.config.bufferLimitBytes)
}

/** With FAULT_METRICS=<file>, append one JSON line of measurements (for the note). */
export function recordMetric(line: Record<string, unknown>): void {
    if (process.env.FAULT_METRICS) appendFileSync(process.env.FAULT_METRICS, JSON.stringify(line) + '\n')
}

function record(name: string, r: ScenarioResult): void {
    const file = process.env.FAULT_METRICS
    if (!file) return
    const s = r.x.exporter.stats
    const line = {
        name,
        events: r.sent.length,
        stored: r.tally.stored,
        lost: r.tally.lost,
        duplicated: r.tally.duplicated,
        objects: r.tally.objects.length,
        requests: r.requests,
        faults: r.faultsInjected,
        injected: r.injected,
        retries: s.retries,
        fatal: s.failures,
        spilledEvents: s.spilled,
        jobsStored: r.x.jobs.stored,
        maxRetriesOneKey: Math.max(0, ...r.attempts.values()),
        memoryPeakBytes: r.x.maxMemory(),
        bufferLimitBytes: r.x.config.bufferLimitBytes,
        closeRealMs: Math.round(r.closeRealMs),
    }
    recordMetric(line)
}
