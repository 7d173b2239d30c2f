/**
 * The local plugin-server: several worker threads, each with its own sandboxed copy of the app (as PostHog runs
 * one copy per thread), one shared durable-ish job queue, schedules run in one thread only, and a shutdown that
 * broadcasts teardownPlugin and waits at most 5 s, as the real host does before it destroys its threads.
 */
import type { PluginEvent, ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { loadPluginInSandbox, type LoadedPlugin } from './sandbox'
import type { LogFn } from './sandbox/meta'
import type { AllowlistName } from './sandbox/allowlist'
import type { HostProfileName } from './sandbox/profile'

/** The real host waits this long for teardownPlugin at shutdown, then destroys the threads. */
export const HOST_TEARDOWN_CAP_MS = 5_000

const UNIT_MS: Record<string, number> = { millisecond: 1, second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 }

export interface QueuedJob {
    name: string
    payload: unknown
    runAt: number
}

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
}

export interface ShutdownReport {
    ms: number
    /** true when teardown did not finish within the 5 s cap: the threads would now be destroyed */
    cappedAt5s: boolean
    errors: string[]
    /** jobs still queued: in PostHog they wait in PostgreSQL for the next start */
    queuedJobs: QueuedJob[]
}

export class DevHost {
    readonly threads: LoadedPlugin[] = []
    /** jobs waiting to run: the stand-in for PostHog's PostgreSQL job queue */
    readonly jobQueue = new Set<QueuedJob>()
    private readonly jobTimers = new Map<QueuedJob, NodeJS.Timeout>()
    /** jobs running now: still "in the queue" until they settle (PostgreSQL keeps a job until it completes) */
    private readonly runningJobs = new Map<QueuedJob, Promise<void>>()
    private next = 0
    private scheduleTimer?: NodeJS.Timeout
    private stopped = false
    jobsRun = 0
    jobErrors = 0

    private constructor(private readonly opts: DevHostOptions) {}

    /** Load every thread's copy and run setupPlugin in each (a failing setup fails the start, with its message). */
    static async start(opts: DevHostOptions): Promise<DevHost> {
        const host = new DevHost(opts)
        const count = opts.threads ?? 2
        for (let i = 0; i < count; i++) {
            const plugin = await loadPluginInSandbox({
                pluginDir: opts.pluginDir,
                config: opts.config,
                log: opts.log,
                allowlist: opts.allowlist,
                hostProfile: opts.hostProfile,
                taskTimeoutMs: opts.taskTimeoutMs,
                meta: { jobs: host.jobsFacade() },
            })
            host.threads.push(plugin)
        }
        try {
            await Promise.all(host.threads.map((t) => t.methods.setupPlugin?.()))
        } catch (error) {
            host.disposeAll()
            throw error
        }
        host.scheduleTimer = setInterval(() => host.runSchedule('runEveryMinute'), opts.scheduleEveryMs ?? 60_000)
        host.scheduleTimer.unref()
        return host
    }

    /** Hand one event to the next thread, as the host spreads ingestion batches over its threads. */
    onEvent(event: ProcessedPluginEvent | PluginEvent | Record<string, unknown>): Promise<unknown> {
        if (this.stopped) return Promise.reject(new Error('the dev host is shut down'))
        const thread = this.threads[this.next]
        this.next = (this.next + 1) % this.threads.length
        return thread.methods.onEvent ? thread.methods.onEvent(event) : Promise.resolve()
    }

    /** A scheduled task runs in ONE thread per tick (PostHog: the thread holding the schedule lock). */
    runSchedule(name: 'runEveryMinute' | 'runEveryHour' | 'runEveryDay'): Promise<unknown> {
        const task = this.threads[0]?.methods[name]
        return task ? task().catch((error: unknown) => this.log('error', `${name} failed: ${String(error)}`)) : Promise.resolve()
    }

    /**
     * Broadcast teardownPlugin to every thread and wait at most 5 s for all of them, then "destroy the threads".
     * Jobs still queued are returned: in PostHog they stay in the queue for the next start.
     */
    async shutdown(): Promise<ShutdownReport> {
        this.stopped = true
        if (this.scheduleTimer) clearInterval(this.scheduleTimer)
        const started = Date.now()
        const errors: string[] = []
        let capTimer: NodeJS.Timeout | undefined
        const capped = await Promise.race([
            Promise.all(
                this.threads.map((t) =>
                    (t.methods.teardownPlugin ? t.methods.teardownPlugin() : Promise.resolve()).catch((error: unknown) => {
                        errors.push(String(error))
                    })
                )
            ).then(() => false),
            new Promise<boolean>((resolve) => {
                capTimer = setTimeout(() => resolve(true), HOST_TEARDOWN_CAP_MS)
            }),
        ])
        clearTimeout(capTimer)
        // jobs already running get the rest of the cap to finish; what does not stays queued for the next start
        const left = Math.max(0, HOST_TEARDOWN_CAP_MS - (Date.now() - started))
        if (this.runningJobs.size > 0 && left > 0) {
            let jobTimer: NodeJS.Timeout | undefined
            await Promise.race([Promise.all(this.runningJobs.values()), new Promise((r) => (jobTimer = setTimeout(r, left)))])
            clearTimeout(jobTimer)
        }
        for (const timer of this.jobTimers.values()) clearTimeout(timer)
        this.jobTimers.clear()
        this.disposeAll()
        return { ms: Date.now() - started, cappedAt5s: capped, errors, queuedJobs: [...this.jobQueue] }
    }

    /** Run every queued job now, in a freshly started host: what PostHog does with its queue after a restart. */
    static async drainJobs(opts: DevHostOptions, jobs: QueuedJob[]): Promise<ShutdownReport> {
        const host = await DevHost.start(opts)
        for (const job of jobs) host.enqueue(job.name, job.payload, 0)
        // jobs may re-enqueue themselves with backoff; give them a bounded time
        const until = Date.now() + 30_000
        while (host.jobQueue.size > 0 && Date.now() < until && ([...host.jobQueue].some((j) => j.runAt <= Date.now() + 1_000) || host.runningJobs.size > 0)) {
            await new Promise((r) => setTimeout(r, 50))
        }
        return host.shutdown()
    }

    private jobsFacade(): unknown {
        return new Proxy(
            {},
            {
                get: (_target, name) => {
                    if (typeof name !== 'string' || name === 'then') return undefined
                    return (payload: unknown) => ({
                        runNow: async () => this.enqueue(name, payload, 0),
                        runIn: async (amount: number, unit: string) => {
                            const perUnit = UNIT_MS[String(unit).replace(/s$/, '')]
                            if (!perUnit) throw new Error(`Unknown time unit '${unit}' for job ${name}`)
                            this.enqueue(name, payload, amount * perUnit)
                        },
                        runAt: async (date: Date) => this.enqueue(name, payload, new Date(date).getTime() - Date.now()),
                    })
                },
            }
        )
    }

    /** Queue a job (payload copied as JSON, like PostgreSQL stores it) and run it later in some thread. */
    enqueue(name: string, payload: unknown, delayMs: number): void {
        const job: QueuedJob = { name, payload: JSON.parse(JSON.stringify(payload)), runAt: Date.now() + Math.max(0, delayMs) }
        this.jobQueue.add(job)
        if (this.stopped) return
        const timer = setTimeout(() => this.runJob(job), Math.max(0, delayMs))
        timer.unref()
        this.jobTimers.set(job, timer)
    }

    private runJob(job: QueuedJob): void {
        this.jobTimers.delete(job)
        if (this.stopped) return
        const thread = this.threads[this.next]
        this.next = (this.next + 1) % this.threads.length
        const fn = thread.jobs[job.name]
        if (!fn) {
            this.jobQueue.delete(job)
            this.jobErrors++
            this.log('error', `no job named ${job.name}`)
            return
        }
        const running = fn(job.payload).then(
            () => {
                this.jobsRun++
            },
            (error: unknown) => {
                // PostHog's queue retries a failed job later; so do we (after a stop it stays queued)
                this.jobErrors++
                this.log('error', `job ${job.name} failed: ${String(error)}; retrying in 5 s`)
                this.enqueue(job.name, job.payload, 5_000)
            }
        )
        this.runningJobs.set(job, running)
        running.then(() => {
            this.runningJobs.delete(job)
            this.jobQueue.delete(job)
        })
    }

    private log(level: 'error' | 'info', message: string): void {
        ;(this.opts.log ?? ((l, m) => console[l](`[dev host] ${m}`)))(level, message)
    }

    private disposeAll(): void {
        for (const t of this.threads) t.dispose()
    }
}
