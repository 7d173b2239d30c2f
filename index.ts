/**
 * S3 Export for PostHog: the plugin-server hooks, wiring only. Each worker thread has its own copy of this app and
 * so its own Exporter in `meta.global`.
 */
import { createBuffer } from '@posthog/plugin-contrib'
import type { Meta, PluginEvent, ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { randomBytes } from 'crypto'
import { parseConfig, type Config } from './src/config'
import { checkWrite } from './src/health'
import { Exporter, type Cancel, type CloseReport } from './src/exporter'
import { createS3Store, type ObjectStore, type S3StoreDeps } from './src/s3'
import { JOB_NAME, runSpilledBatch, toPayload, type Enqueue, type SpilledBatchPayload } from './src/spill'

/** The host waits at most 5 s for teardownPlugin; keep 0.5 s to hand leftovers to the job queue and report. */
export const TEARDOWN_BUDGET_MS = 4_500

interface S3ExportMeta {
    config: Record<string, string>
    global: { exporter?: Exporter; config?: Config; store?: ObjectStore }
    jobs?: Record<string, (payload: SpilledBatchPayload) => { runIn(duration: number, unit: string): Promise<void> }>
}

type AnyMeta = S3ExportMeta & Partial<Omit<Meta, 'config' | 'global'>>

/**
 * A one-shot timer that fires in every worker thread of the real host: the sandbox has no setTimeout, but
 * plugin-contrib's createBuffer is host code and arms a host timer. A zero-point add arms it without "filling" it.
 */
export function hostSchedule(delayMs: number, fn: () => void): Cancel {
    let done = false
    const timer = createBuffer({
        limit: 1,
        timeoutSeconds: delayMs / 1000,
        onFlush: () => {
            if (done) return
            done = true
            fn()
        },
    })
    timer.add(true, 0)
    return {
        cancel() {
            if (done) return
            done = true
            // flush() clears the host timer (so nothing keeps the process alive); onFlush is a no-op now
            void timer.flush()
        },
    }
}

/** Parse the settings (a bad one throws a message naming it), check the bucket takes writes, start the exporter. */
export function setupPlugin(meta: AnyMeta): Promise<void> {
    let config: Config
    try {
        config = parseConfig(meta.config)
    } catch (error) {
        return Promise.reject(error) // one way to fail, whatever the cause: a rejected promise
    }
    const store = createS3Store(config, { fetch: fetch as unknown as S3StoreDeps['fetch'] })
    meta.global.config = config
    meta.global.store = store
    const enqueue = enqueueFor(meta)
    return checkWrite(store, config).then(() => {
        meta.global.exporter = new Exporter({
            config,
            store,
            now: () => Date.now(),
            random: () => Math.random(),
            randomBytes: (n) => randomBytes(n),
            schedule: hostSchedule,
            log: console,
            spill: enqueue ? (batch) => enqueue(toPayload(batch), 30).then(() => true) : undefined,
        })
    })
}

/** The host's durable job queue, when this host has one (every PostHog since 1.25 does). */
function enqueueFor(meta: AnyMeta): Enqueue | undefined {
    const job = meta.jobs?.[JOB_NAME]
    if (!job) return undefined
    return (payload, delaySeconds) => job(payload).runIn(delaySeconds, 'seconds')
}

/** Jobs the host runs from its queue in any thread: uploads of batches spilled from memory. */
export const jobs = {
    [JOB_NAME]: (payload: SpilledBatchPayload, meta: AnyMeta): Promise<void> => {
        const store = meta.global.store
        const enqueue = enqueueFor(meta)
        if (!store || !enqueue) throw new Error('S3 Export: a spilled batch job ran before setupPlugin finished')
        return runSpilledBatch(payload, { store, enqueue, random: Math.random, log: console, bucket: meta.global.config!.bucket }).then(() => undefined)
    },
}

export function onEvent(event: ProcessedPluginEvent | PluginEvent, meta: AnyMeta): void {
    meta.global.exporter!.add(event)
}

export function runEveryMinute(meta: AnyMeta): void {
    meta.global.exporter?.tick()
}

export function teardownPlugin(meta: AnyMeta): Promise<CloseReport | undefined> {
    const exporter = meta.global.exporter
    if (!exporter) return Promise.resolve(undefined)
    return exporter.close(Date.now() + TEARDOWN_BUDGET_MS).then((report) => {
        if (report.dropped > 0 || report.pendingEvents > 0) {
            console.error(`S3 Export teardown: ${report.dropped} events could not be stored or queued (${report.pendingEvents} left in memory)`)
        }
        return report
    })
}
