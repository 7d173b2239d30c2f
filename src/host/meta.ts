/**
 * What the host hands the app besides its hooks, turned into the small parts the rest of the app takes: the job
 * queue, the metrics sink, the health events' capture. Built from `meta` (and the sandbox's globals) here, so no
 * other module reads `meta`.
 */
import type { Enqueue } from '../export/spill'
import type { MetricSink } from '../health/metrics'
import type { Capture } from '../health/monitor'
import type { HostStorage } from './storage'

/** `meta.jobs`: the host's durable job queue (every PostHog since 1.25; gone from plugin-servers after Feb 2025). */
export type HostJobs = Record<string, (payload: any) => { runIn(duration: number, unit: string): Promise<void>; runNow(): Promise<void> }>

/** The job queue for one job name, when this host has one. */
export function hostEnqueue(jobs: HostJobs | undefined, name: string): Enqueue | undefined {
    const job = jobs?.[name]
    if (!job) return undefined
    return (payload, delaySeconds) => job(payload).runIn(delaySeconds, 'seconds')
}

/** `meta.metrics` as a sink. The host's getter throws for a name the app did not declare; a host without metrics has none. */
export function hostMetricSink(metrics: unknown): MetricSink | undefined {
    if (!metrics || typeof metrics !== 'object') return undefined
    return (name, delta) => {
        try {
            const metric = (metrics as Record<string, { increment?: (n: number) => unknown } | undefined>)[name]
            metric?.increment?.(delta)
        } catch {
            // a metric the host refuses is not worth failing an upload job (it would run again and store twice)
        }
    }
}

/** The sandbox's global that sends an event into the team's own project; other hosts (and tests) may have none. */
declare const posthog: { capture: Capture } | undefined

export function hostCapture(): Capture | undefined {
    if (typeof posthog === 'undefined' || !posthog || typeof posthog.capture !== 'function') return undefined
    return (event, properties) => posthog!.capture(event, properties)
}

/** Run the host's job `name` now (the backfill starts the host's "Export historical events" this way), when there is one. */
export function hostRunNow<P>(jobs: HostJobs | undefined, name: string): ((payload: P) => Promise<void>) | undefined {
    const job = jobs?.[name]
    return job ? (payload) => job(payload).runNow() : undefined
}

/** `meta.utils.cursor`: a storage row the host sets once (INSERT that loses to an earlier one) and increments atomically. */
export interface HostUtils {
    cursor?: { init(key: string, initialValue?: number): Promise<void>; increment?(key: string, incrementBy?: number): Promise<number> }
}

/** Set a storage key once, the first writer winning, where the host offers it. */
export function hostSetOnce(utils: HostUtils | undefined): ((key: string, value: number) => Promise<void>) | undefined {
    const cursor = utils?.cursor
    return cursor?.init ? (key, value) => cursor.init(key, value) : undefined
}

/** Increment a storage counter by one atomically, where the host offers it. */
export function hostIncrement(utils: HostUtils | undefined): ((key: string) => Promise<number>) | undefined {
    const cursor = utils?.cursor
    return cursor?.increment ? (key) => cursor.increment!(key, 1) : undefined
}

/** The parts of `meta` the app reads besides the hooks' own: its settings, its per-copy state, and the host's services. */
export interface HostMeta<Global> {
    config: Record<string, string>
    global: Global
    jobs?: HostJobs
    storage?: HostStorage
    utils?: HostUtils
}
