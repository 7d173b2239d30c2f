/**
 * The local plugin-server: several worker threads, each with its own sandboxed copy of the app (as PostHog runs
 * one copy per thread), one shared durable-ish job queue, schedules run in one thread only, and a shutdown that
 * broadcasts teardownPlugin and waits at most 5 s, as the real host does before it destroys its threads.
 *
 * The lifecycle follows the source of PostHog's plugin-server (v1.10.5 `src/worker/vm/lazy.ts`,
 * `src/worker/plugins/setup.ts`, `teardown.ts`, `run.ts`; later monorepo builds keep the same order):
 *
 *  - Each thread's copy is a "lazy VM" (lazy-copy.ts: loaded, then set up; events wait for it, and are skipped when
 *    its setup failed; a failed setup is retried with a full reload, 10 times, then the app is disabled).
 *  - A reload (config change) starts loading the new copy first, then calls teardown on the previous copy without
 *    waiting for it (`void teardownPlugins(hub, prevConfig)`), and swaps the thread over to the new copy only when
 *    the new copy's load settled. Until then the previous copy gets every event, torn down or not.
 *  - Metrics (`extensions/metrics.ts`, PluginMetricsManager): one value per declared name per plugin, which every
 *    thread's copy updates; here one store for all copies, reloads included, so `metrics` reads the sums PostHog
 *    shows. `posthog.capture()` (`extensions/posthog.ts`) ingests an event into the project with the plugin's
 *    name as distinct_id; PostHog then hands it to every app's onEvent like any other, and so does this host.
 *  - Jobs (job-queue.ts): PostgreSQL in v1.10.5, the Kafka topic `jobs` (1,000,012 bytes a message; librdkafka's
 *    1,000,000 in 2024) from late 2022,
 *    none in the builds after 2025-02-28 (`jobQueue: 'none'`).
 *
 * Under the `2024` host profile each thread's copy is a `LazyCopy2024` instead (lazy-copy-2024.ts: setup retried
 * only after a RetryError, on the same VM, 5 attempts from 5 s; any other error disables the app at once).
 */
import type { PluginEvent, ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { randomUUID } from 'crypto'
import { readFileSync } from 'fs'
import path from 'path'
import type { EventStore } from './event-store'
import { upgradeExportEventsApp, type UpgradeHost } from './historical-export'
import { DevJobQueue, KAFKA_JOB_MESSAGE_LIMIT_BYTES, type QueuedJob } from './job-queue'
import { LazyCopy } from './lazy-copy'
import { LazyCopy2024 } from './lazy-copy-2024'
import { loadPluginInSandbox, type LoadedPlugin } from './sandbox'
import type { CapturedEvent } from './sandbox/globals'
import { PluginMetricsStore, type LogFn } from './sandbox/meta'
import type { AllowlistName } from './sandbox/allowlist'
import { SETUP_2024, type HostGeneration } from './sandbox/generation'
import { resolveHostProfile, type HostProfileName } from './sandbox/profile'
import { stallWatch } from './stall-watch'
import { DevStorage } from './storage'
import type { ThreadCopy } from './thread-copy'

/** The real host waits this long for teardownPlugin at shutdown, then destroys the threads. */
export const HOST_TEARDOWN_CAP_MS = 5_000
/** lazy.ts: INITIALIZATION_RETRY_BASE_MS, doubled after each failure */
export const SETUP_RETRY_BASE_MS = 3_000
/** lazy.ts: MAX_SETUP_RETRIES; the failure with this number disables the app */
export const MAX_SETUP_ATTEMPTS = 10
export { KAFKA_JOB_MESSAGE_LIMIT_BYTES, type QueuedJob } from './job-queue'

export interface DevHostOptions {
    pluginDir: string
    config: Record<string, unknown>
    /** worker threads, each with its own copy of the app (PostHog: one per CPU core) */
    threads?: number
    log?: LogFn
    allowlist?: AllowlistName
    /** whose Babel and vm2 (default: S3_EXPORT_HOST_PROFILE, else `1.10.5`, the plugin-server our users run) */
    hostProfile?: HostProfileName
    taskTimeoutMs?: number
    /** run runEveryMinute every this many ms (60 s in PostHog) */
    scheduleEveryMs?: number
    /**
     * What a rejected setupPlugin does. `retry` (default, as PostHog): the copy stays unloaded, its events are
     * skipped, setup is retried with backoff and the app is disabled after 10 failures. `throw`: `start` rejects
     * with setup's message (for `npm start` and tools that want a bad setting to stop them at once).
     */
    setupFailure?: 'retry' | 'throw'
    /** first retry delay after a failed setup (PostHog: 3,000 ms; 2024: 5,000 ms; doubles each time). Scale it down in tests. */
    setupRetryBaseMs?: number
    /** the failure with this number disables the app (PostHog: 10; 2024: 5, RetryErrors only) */
    maxSetupAttempts?: number
    /**
     * `kafka` (default): the job queue since late 2022, which refuses a job whose message is over
     * `jobMessageLimitBytes` (1,000,012) as Kafka's MessageSizeTooLarge. `postgres`: v1.10.5's graphile queue, no limit.
     * `none`: the builds after 2025-02-28 (PR #29352): no `meta.jobs`, the app's jobs and `runEvery*` never run.
     */
    jobQueue?: 'kafka' | 'postgres' | 'none'
    /** the 2024 host's fetch guard (loopback and private addresses refused): default S3_EXPORT_FETCH_GUARD, else on under 2024 */
    fetchGuard?: boolean
    jobMessageLimitBytes?: number
    /**
     * `meta.storage` (and `meta.utils.cursor`): PostgreSQL rows shared by every thread and reload. Pass the previous
     * host's to start "after a restart" on the same database. Default: a new, empty one.
     */
    storage?: DevStorage
    /**
     * The project's stored events (ClickHouse): every event handed to `onEvent` is also stored here, ingested now,
     * and the host's historical export reads its pages from it. Add past events with `store.add(event, createdAt)`.
     */
    eventStore?: EventStore
    /**
     * Apply the host's upgrades to an app exporting `exportEvents` (its buffer around onEvent and the
     * "Export historical events" job), as every plugin-server up to Nov 2023 does. Default true.
     */
    exportEventsUpgrade?: boolean
    /** jobs run at once (graphile-worker's concurrency; the plugin-server's JOB_QUEUE_GRAPHILE_CONCURRENCY is 1). Default: no limit. */
    jobConcurrency?: number
    /** the sandbox's `fetch` (default: node-fetch 2, unguarded) */
    fetch?: unknown
}

export interface ShutdownReport {
    ms: number
    /** wall-clock ms from the teardownPlugin broadcast until every copy's teardown settled (or the cap cut it) */
    teardownMs: number
    /** the longest the event loop was blocked while the teardowns ran (one synchronous step), in ms */
    longestStallMs: number
    /**
     * true when teardown did not finish within the 5 s cap by the wall clock: the threads would now be destroyed.
     * Measured by the clock, not only by the cap's timer: a teardown that blocks the event loop keeps that timer from
     * firing, and would otherwise "finish" late without anyone noticing (the real host cuts it from another thread).
     */
    cappedAt5s: boolean
    errors: string[]
    /** jobs still queued: in PostHog they wait in PostgreSQL for the next start */
    queuedJobs: QueuedJob[]
}

export interface ReloadReport {
    /** until every thread was switched to its new copy */
    ms: number
    /** events the previous copies received after their teardownPlugin was called */
    eventsAfterTeardown: number
}

export class DevHost {
    /** the current copy of each thread */
    private copies: ThreadCopy[] = []
    /** copies replaced by a reload: their teardown may still run, and they may still finish events in flight */
    private readonly retired: ThreadCopy[] = []
    /** meta.jobs and what it enqueued: PostgreSQL or Kafka, by the options */
    private readonly jobs: DevJobQueue
    private next = 0
    private scheduleTimer?: NodeJS.Timeout
    private config: Record<string, unknown>
    stopped = false
    /** events handed to the host that reached no onEvent: the copy's setup had failed, or the app is disabled */
    skippedEvents = 0
    /** events whose onEvent threw or rejected (PostHog records each as an error of the app) */
    eventErrors = 0
    /** rejected setupPlugin calls, every copy and attempt */
    setupFailures = 0
    readonly setupErrors: string[] = []
    /** true after the 10th failed setup (2024: a setup error other than RetryError, or a failed load): PostHog disables the app, and no event reaches it any more */
    disabled = false
    /** why the app was disabled, as the host's log says it */
    disabledReason?: string
    reloads = 0
    /** @internal wall-clock time at which shutdown's teardown cap passes (set when shutdown starts) */
    capDeadline?: number
    readonly setupRetryBaseMs: number
    readonly maxSetupAttempts: number
    /** the plugin's metric values, summed over every thread and reload (what PostHog's app page shows) */
    private readonly metricsStore = new PluginMetricsStore()
    /** events the app sent with posthog.capture(), in order; each was ingested back into onEvent */
    readonly capturedEvents: ProcessedPluginEvent[] = []
    /** of those, how many reached onEvent (one captured just before shutdown is not: PostHog would ingest it after the restart) */
    ingestedCaptured = 0
    /** plugin.json's name: the distinct_id of the events the app captures */
    private readonly pluginName: string
    /** meta.storage of every copy: PostgreSQL, durable across restarts when passed to the next host */
    readonly storage: DevStorage
    /** the project's events, when the host has a store (the historical export reads it) */
    readonly eventStore?: EventStore
    /** what the exportEvents upgrades did (host-side counts) */
    readonly upgradeStats = { liveBatchesToExportEvents: 0, liveEventsToExportEvents: 0, pagesExported: 0, eventsExported: 0, pageFailures: 0 }
    /** the host's log lines about the app (its createLog: historical export progress) */
    readonly systemLog: string[] = []
    /** each copy's exportEvents buffer: flushed at shutdown */
    private readonly upgradeFlushes: Array<() => Promise<void>> = []

    /** the host profile's generation: how copies load and set up, and which Kafka client refuses a big job */
    private readonly rules: HostGeneration

    private constructor(private readonly opts: DevHostOptions) {
        this.config = opts.config
        this.rules = resolveHostProfile(opts.hostProfile).generation
        const only2024 = this.rules.setup === 'retry-only-RetryError'
        this.setupRetryBaseMs = opts.setupRetryBaseMs ?? (only2024 ? SETUP_2024.baseMs : SETUP_RETRY_BASE_MS)
        this.maxSetupAttempts = opts.maxSetupAttempts ?? (only2024 ? SETUP_2024.maxAttempts : MAX_SETUP_ATTEMPTS)
        let name = 'plugin'
        try {
            name = JSON.parse(readFileSync(path.join(opts.pluginDir, 'plugin.json'), 'utf8')).name ?? name
        } catch {
            // loadPluginInSandbox reports an unreadable plugin.json itself
        }
        this.pluginName = name
        this.storage = opts.storage ?? new DevStorage()
        this.eventStore = opts.eventStore
        this.jobs = new DevJobQueue(this, {
            kind: opts.jobQueue ?? 'kafka',
            messageLimitBytes: opts.jobMessageLimitBytes ?? KAFKA_JOB_MESSAGE_LIMIT_BYTES,
            kafkaClient: this.rules.kafkaClient,
            concurrency: opts.jobConcurrency,
            teardownCapMs: HOST_TEARDOWN_CAP_MS,
        })
    }

    /** jobs waiting to run (or running): the stand-in for PostHog's job queue */
    get jobQueue(): ReadonlySet<QueuedJob> {
        return this.jobs.queued
    }
    get jobsRun(): number {
        return this.jobs.jobsRun
    }
    get jobErrors(): number {
        return this.jobs.jobErrors
    }
    /** job enqueues refused by the Kafka queue (message over the limit) */
    get refusedJobs(): number {
        return this.jobs.refusedJobs
    }
    /** the size of each job message enqueued (JSON of the host's job envelope), accepted or refused */
    get jobMessageBytes(): readonly number[] {
        return this.jobs.messageBytes
    }
    /** the size of each job payload enqueued (its JSON alone), accepted or refused */
    get jobPayloadBytes(): readonly number[] {
        return this.jobs.payloadBytes
    }
    /** jobs an app enqueued after the 5 s teardown cap had passed: the real host had destroyed its thread, so they are lost */
    get jobsAfterCap(): number {
        return this.jobs.jobsAfterCap
    }

    /** The app's metrics as the host holds them: one value per name, every copy's updates together. */
    get metrics(): Record<string, number> {
        return { ...this.metricsStore.values }
    }

    /**
     * posthog.capture() from a copy: the host turns it into an event of the project (distinct_id: the plugin's
     * name, unless the properties set one; `$lib` posthog-plugin-server) and ingests it, so it reaches onEvent
     * later, asynchronously, in whichever thread is next.
     */
    private ingestCaptured(captured: CapturedEvent): void {
        const { timestamp, distinct_id, ...properties } = captured.properties as Record<string, unknown>
        const distinctId = typeof distinct_id === 'string' ? distinct_id : this.pluginName
        const event = {
            uuid: randomUUID(),
            event: captured.event,
            distinct_id: distinctId,
            team_id: 1,
            ip: null,
            site_url: '',
            timestamp: typeof timestamp === 'string' ? timestamp : new Date().toISOString(),
            properties: { $lib: 'posthog-plugin-server', distinct_id: distinctId, ...properties },
        } as unknown as ProcessedPluginEvent
        this.capturedEvents.push(event)
        setImmediate(() => {
            if (this.stopped) return
            this.ingestedCaptured++
            this.onEvent(event).catch((error: unknown) => this.log('error', `onEvent of a captured ${captured.event} failed: ${message(error)}`))
        })
    }

    /**
     * Load every thread's copy and run setupPlugin in each, as the host does at start (it waits for each copy's
     * first attempt). With `setupFailure: 'throw'` a failing setup fails the start, with its message.
     */
    static async start(opts: DevHostOptions): Promise<DevHost> {
        const host = new DevHost(opts)
        const count = opts.threads ?? 2
        const loaded: Array<LoadedPlugin | null> = []
        for (let i = 0; i < count; i++) {
            const copy = host.newCopy(opts.config, i)
            host.copies.push(copy)
            // loads run one after another here (Babel is synchronous, and this host is one process)
            loaded.push(await copy.vm)
        }
        if (opts.setupFailure === 'throw') {
            // a 2024 copy without jobs sets up at its first event: loaded is enough
            const failed = host.copies.find((c, i) => !c.plugin && (!loaded[i] || c.disabled))
            if (failed) {
                const error = new Error(host.setupErrors[0] ?? 'setupPlugin failed')
                host.stopped = true
                for (const c of host.copies) c.clearRetry()
                host.disposeAll()
                throw error
            }
        }
        host.scheduleTimer = setInterval(() => host.runSchedule('runEveryMinute'), opts.scheduleEveryMs ?? 60_000)
        host.scheduleTimer.unref()
        return host
    }

    /** The loaded current copy of each thread (a thread whose setup failed has none). */
    get threads(): LoadedPlugin[] {
        return this.copies.map((c) => c.plugin).filter((p): p is LoadedPlugin => p !== undefined)
    }

    /** Threads whose current copy has loaded and set up. */
    readyThreads(): number {
        return this.copies.filter((c) => c.plugin && !this.disabled).length
    }

    /**
     * Hand one event to the next thread, as the host spreads ingestion batches over its threads. The event is
     * bound to the thread's copy at arrival (a reload that swaps the copy meanwhile does not move it); it waits
     * for that copy's load, and is skipped when the load failed. Rejects when onEvent throws. `ingestedAt`: when
     * ClickHouse took it (default now) — earlier for an event of an ingestion backlog whose onEvent comes late.
     */
    onEvent(event: ProcessedPluginEvent | PluginEvent | Record<string, unknown>, ingestedAt = Date.now()): Promise<unknown> {
        if (this.stopped) return Promise.reject(new Error('the dev host is shut down'))
        if (this.disabled) {
            this.skippedEvents++
            return Promise.resolve()
        }
        // ClickHouse holds the event from its ingestion on, whatever the apps do with it
        this.eventStore?.add(event as Record<string, unknown>, ingestedAt)
        const copy = this.copies[this.next]
        this.next = (this.next + 1) % this.copies.length
        if (copy.tornDown) copy.eventsAfterTeardown++
        const run = (plugin: LoadedPlugin | null): Promise<unknown> => {
            if (!plugin || this.disabled) {
                this.skippedEvents++
                return Promise.resolve()
            }
            if (!plugin.methods.onEvent) return Promise.resolve()
            return plugin.methods.onEvent(event).catch((error: unknown) => {
                this.eventErrors++
                throw error
            })
        }
        // a loaded copy runs the event now (no extra tick), as the host's resolved promise nearly does
        return copy.plugin ? run(copy.plugin) : copy.forEvent().then(run)
    }

    /**
     * A config change, as the host handles it per thread: start loading a new copy (with `newConfig`, or the same
     * settings), call teardownPlugin on the previous copy WITHOUT awaiting it, keep sending the thread's events to
     * the previous copy until the new copy's load settled (setupPlugin resolved, or failed), then switch.
     * Resolves when every thread has switched; the previous copies' teardowns may still be running
     * (`retiredTeardowns()` awaits them).
     */
    async reload(newConfig?: Record<string, unknown>): Promise<ReloadReport> {
        if (this.stopped) throw new Error('the dev host is shut down')
        const started = Date.now()
        if (newConfig) this.config = newConfig
        // a reload reads the config again: an app disabled by failed setups stays so until a user re-enables it,
        // which is also a config change; so a reload re-enables it here, as saving the settings would
        this.disabled = false
        const previous = [...this.copies]
        await Promise.all(
            previous.map(async (old, i) => {
                const fresh = this.newCopy(this.config, i)
                void this.teardownCopy(old)
                await fresh.vm
                if (!this.stopped) this.copies[i] = fresh
                else fresh.clearRetry()
            })
        )
        this.reloads++
        return { ms: Date.now() - started, eventsAfterTeardown: previous.reduce((n, c) => n + c.eventsAfterTeardown, 0) }
    }

    /** Wait for the teardowns that reloads started (bounded by `timeoutMs`); true when all finished. */
    async retiredTeardowns(timeoutMs = 30_000): Promise<boolean> {
        let timer: NodeJS.Timeout | undefined
        const done = await Promise.race([
            Promise.all(this.retired.map((c) => c.teardown)).then(() => true),
            new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
        ])
        clearTimeout(timer)
        return done
    }

    /** teardownPlugins(hub, prevConfig): clear a pending setup retry, wait for the load, call teardownPlugin. */
    private teardownCopy(copy: ThreadCopy): Promise<void> {
        copy.clearRetry()
        copy.tornDown = true
        this.retired.push(copy)
        copy.teardown = copy.forTeardown().then((plugin) =>
            plugin?.methods.teardownPlugin
                ? plugin.methods.teardownPlugin().then(
                      () => undefined,
                      (error: unknown) => this.log('error', `teardownPlugin of a previous copy failed: ${message(error)}`)
                  )
                : undefined
        )
        return copy.teardown
    }

    /** A scheduled task runs in ONE thread per tick (PostHog: the thread holding the schedule lock). */
    runSchedule(name: 'runEveryMinute' | 'runEveryHour' | 'runEveryDay'): Promise<unknown> {
        if (this.disabled) return Promise.resolve()
        const task = this.copies[0]?.plugin?.methods[name]
        return task ? task().catch((error: unknown) => this.log('error', `${name} failed: ${String(error)}`)) : Promise.resolve()
    }

    /**
     * Broadcast teardownPlugin to every thread and wait at most 5 s for all of them, then "destroy the threads".
     * Jobs still queued are returned: in PostHog they stay in the queue for the next start.
     */
    async shutdown(): Promise<ShutdownReport> {
        this.stopped = true
        if (this.scheduleTimer) clearInterval(this.scheduleTimer)
        for (const c of [...this.copies, ...this.retired]) c.clearRetry()
        const started = Date.now()
        this.capDeadline = started + HOST_TEARDOWN_CAP_MS
        const errors: string[] = []
        const stalls = stallWatch()
        let capTimer: NodeJS.Timeout | undefined
        const timerCapped = await Promise.race([
            Promise.all(
                this.copies.map((c) => {
                    const t = c.plugin?.methods.teardownPlugin
                    return (t ? t() : Promise.resolve()).catch((error: unknown) => {
                        errors.push(String(error))
                    })
                })
            ).then(() => false),
            new Promise<boolean>((resolve) => {
                capTimer = setTimeout(() => resolve(true), HOST_TEARDOWN_CAP_MS)
            }),
        ])
        clearTimeout(capTimer)
        const longestStallMs = stalls.stop()
        const teardownMs = Date.now() - started
        // the timer above shares the event loop with the app: a synchronous step that outlasts the cap delays it, and
        // the teardown then looks finished. The real host's cap runs on another thread, so the clock decides here.
        const capped = timerCapped || teardownMs > HOST_TEARDOWN_CAP_MS
        if (capped) {
            const why =
                `teardownPlugin took ${timerCapped ? 'over ' : ''}${teardownMs} ms by the wall clock, past the host's ${HOST_TEARDOWN_CAP_MS} ms cap` +
                ` (longest event-loop stall ${longestStallMs} ms): the real host destroys the threads at the cap, and what the app had not done by then is lost`
            errors.push(why)
            this.log('error', why)
        }
        // the host's exportEvents buffers go with their threads: clear their timers (what they hold is live events,
        // which onEvent already had)
        await Promise.all(this.upgradeFlushes.map((flush) => flush().catch(() => undefined)))
        // jobs already running get the rest of the cap to finish; what does not stays queued for the next start
        await this.jobs.stop(Math.max(0, HOST_TEARDOWN_CAP_MS - (Date.now() - started)))
        this.disposeAll()
        return { ms: Date.now() - started, teardownMs, longestStallMs, cappedAt5s: capped, errors, queuedJobs: [...this.jobQueue] }
    }

    /** Run every queued job now, in a freshly started host: what PostHog does with its queue after a restart. */
    static async drainJobs(opts: DevHostOptions, jobs: QueuedJob[]): Promise<ShutdownReport> {
        const host = await DevHost.start(opts)
        for (const job of jobs) host.enqueue(job.name, job.payload, 0)
        // jobs may re-enqueue themselves with backoff; give them a bounded time
        const until = Date.now() + 30_000
        while (host.jobQueue.size > 0 && Date.now() < until && ([...host.jobQueue].some((j) => j.runAt <= Date.now() + 1_000) || host.jobs.runningCount > 0)) {
            await new Promise((r) => setTimeout(r, 50))
        }
        return host.shutdown()
    }

    /** Wait (bounded) until no job is queued or running; true when the queue is empty. */
    async waitForJobs(timeoutMs = 30_000): Promise<boolean> {
        const until = Date.now() + timeoutMs
        while ((this.jobQueue.size > 0 || this.jobs.runningCount > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 25))
        return this.jobQueue.size === 0 && this.jobs.runningCount === 0
    }

    /** One thread's copy, as this host generation loads it. */
    private newCopy(config: Record<string, unknown>, thread: number): ThreadCopy {
        return this.rules.setup === 'retry-only-RetryError' ? new LazyCopy2024(this, config, thread) : new LazyCopy(this, config, thread)
    }

    /** @internal the load of one attempt of a copy (LazyCopy calls it); `setup` false: the copy runs setupPlugin itself */
    async loadCopy(copy: ThreadCopy, setup = true): Promise<LoadedPlugin> {
        // the host reads the app's archive first (an await), so a reload's teardown call comes before the Babel work
        await new Promise((r) => setImmediate(r))
        const plugin = await loadPluginInSandbox({
            pluginDir: this.opts.pluginDir,
            config: copy.config,
            log: this.opts.log,
            allowlist: this.opts.allowlist,
            hostProfile: this.opts.hostProfile,
            taskTimeoutMs: this.opts.taskTimeoutMs,
            fetchGuard: this.opts.fetchGuard,
            noJobs: this.opts.jobQueue === 'none',
            meta: { jobs: this.jobs.facade(), storage: this.storage.facade(), utils: this.storage.utilsFacade() },
            metricsStore: this.metricsStore,
            onCapture: (event) => this.ingestCaptured(event),
            fetch: this.opts.fetch,
        })
        copy.loads.push(plugin)
        if (this.opts.exportEventsUpgrade !== false && plugin.methods.exportEvents) {
            const upgraded = upgradeExportEventsApp(plugin, this.upgradeHost(), copy.config)
            this.upgradeFlushes.push(upgraded.flush)
        }
        if (setup) await plugin.methods.setupPlugin?.()
        return plugin
    }

    private upgradeHost(): UpgradeHost {
        return {
            storage: this.storage,
            store: this.eventStore,
            enqueue: (name, payload, delayMs) => this.enqueue(name, payload, delayMs),
            log: (message) => {
                this.systemLog.push(message)
                if (this.opts.log) this.opts.log('info', `[host] ${message}`)
            },
            profile: this.opts.hostProfile ?? process.env.S3_EXPORT_HOST_PROFILE ?? '1.10.5',
            stats: this.upgradeStats,
        }
    }

    /** Flush every copy's exportEvents buffer now (the host does it on its 10 s timer; the bench measures the call). */
    async flushExportEventsBuffers(): Promise<void> {
        await Promise.all(this.upgradeFlushes.map((flush) => flush()))
    }

    /** A user pressing a job's button in PostHog (a public job: the app's plugin.json `publicJobs`, or one the host added). */
    runPublicJob(name: string, payload: Record<string, unknown> = {}): void {
        this.enqueue(name, payload, 0)
    }

    /** @internal `reloads`: the next attempt loads a new VM (classic), so this one is dropped; a 2024 copy keeps its VM */
    noteSetupFailure(copy: ThreadCopy, error: unknown, reloads = true): void {
        this.setupFailures++
        this.setupErrors.push(message(error))
        const last = copy.loads[copy.loads.length - 1]
        if (reloads && last && last !== copy.plugin) last.dispose()
    }

    /** @internal */
    disable(why: string): void {
        if (this.disabled) return
        this.disabled = true
        this.disabledReason = why
        this.log('error', why)
    }

    /** Queue a job (payload copied as JSON, like PostgreSQL stores it) and run it later in some thread. */
    enqueue(name: string, payload: unknown, delayMs: number): void {
        this.jobs.enqueue(name, payload, delayMs)
    }

    /** @internal a job can run: some thread's copy is ready and the app is not disabled */
    canRunJobs(): boolean {
        return !this.disabled && this.copies.some((c) => c.plugin)
    }

    /** @internal the next ready thread, in turn with the events */
    takeReadyThread(): LoadedPlugin {
        const ready = this.copies.filter((c) => c.plugin)
        const thread = ready[this.next % ready.length].plugin!
        this.next = (this.next + 1) % this.copies.length
        return thread
    }

    /** @internal */
    log(level: 'error' | 'info', message: string): void {
        if (this.opts.log) this.opts.log(level, `[dev host] ${message}`)
        else console[level](`[dev host] ${message}`)
    }

    private disposeAll(): void {
        for (const c of [...this.copies, ...this.retired]) for (const p of c.loads) p.dispose()
    }
}

function message(error: unknown): string {
    return error instanceof Error ? error.message : String(error)
}
