/**
 * One copy's watch over its exporter: every MONITOR_EVERY_MS (and when the host ticks or tears down) it reports
 * the metrics' growth and decides on the health event. A timer of its own, not a hook in the exporter: the
 * per-event path stays as it is, and runEveryMinute runs in only one thread of the host while every thread has
 * its own exporter to watch.
 *
 * The timer runs only while there is something to watch (events held, uploads failing, an alert open), and an
 * event wakes it: an idle copy holds no host timer, so nothing keeps a process alive for it, and a copy torn down
 * by a reload stops once its late events are stored.
 */
import type { Exporter } from '../export/exporter'
import type { Logger } from './report'
import type { Cancel, Schedule } from '../host/timer'
import { HealthAlert, UNHEALTHY_EVENT, type HealthEvent, type HealthProperties } from './alert'
import { metricTotals, MetricsReporter, type MetricSink } from './metrics'

export const MONITOR_EVERY_MS = 10_000

/** The sandbox's `posthog.capture(event, properties)`: void in plugin-server 1.10.5, a promise in later hosts. */
export type Capture = (event: string, properties: HealthProperties) => unknown

export interface MonitorDeps {
    exporter: Pick<Exporter, 'stats' | 'failingSince' | 'lastStoredAt' | 'lastFailure' | 'pendingEvents'>
    alert: HealthAlert
    now: () => number
    schedule: Schedule
    metrics?: MetricSink
    capture?: Capture
    log: Pick<Logger, 'info' | 'warn'>
    everyMs?: number
}

export class Monitor {
    private timer?: Cancel
    /** teardown ran: from then on only held events keep the timer going */
    private closed = false
    private readonly reporter?: MetricsReporter
    /** health events captured by this copy */
    private readonly sent: HealthEvent[] = []

    constructor(private readonly deps: MonitorDeps) {
        if (deps.metrics) this.reporter = new MetricsReporter(deps.metrics)
    }

    /** health events captured by this copy, oldest first */
    get captured(): readonly HealthEvent[] {
        return this.sent
    }

    start(): void {
        this.wake()
    }

    /** onEvent: make sure the timer runs (one check of a field when it does). */
    wake(): void {
        if (!this.timer) this.arm()
    }

    /** Teardown, once the exporter has drained: report one last time; late events still wake the timer. */
    stop(): void {
        this.closed = true
        this.timer?.cancel()
        this.timer = undefined
        this.check()
    }

    /** Whether the next check could have something to say. */
    private watching(): boolean {
        const { exporter, alert } = this.deps
        if (exporter.pendingEvents() > 0) return true
        return !this.closed && (exporter.failingSince > 0 || alert.unhealthy)
    }

    check(): void {
        const { exporter, alert } = this.deps
        const event = alert.check({
            now: this.deps.now(),
            failingSince: exporter.failingSince,
            lastStoredAt: exporter.lastStoredAt,
            pendingEvents: exporter.pendingEvents(),
            lastFailure: exporter.lastFailure,
        })
        if (event) this.send(event)
        const unhealthyAlerts = this.sent.filter((e) => e.event === UNHEALTHY_EVENT).length
        this.reporter?.report(metricTotals(exporter.stats, unhealthyAlerts))
    }

    private send(event: HealthEvent): void {
        this.sent.push(event)
        const { log, capture } = this.deps
        const where = `s3://${event.properties.bucket}/${event.properties.prefix}`
        if (event.event === UNHEALTHY_EVENT) {
            log.warn(`S3 Export: no upload to ${where} has succeeded for ${event.properties.minutes_failing} minutes (${event.properties.last_error ?? 'no answer'}); captured ${event.event}`)
        } else {
            log.info(`S3 Export: uploads to ${where} succeed again after ${event.properties.minutes_failing} minutes; captured ${event.event}`)
        }
        if (!capture) return
        const failed = (error: unknown) => log.warn(`S3 Export could not capture ${event.event}: ${String((error as Error)?.message ?? error)}`)
        try {
            const result = capture(event.event, event.properties) as { then?: (ok: unknown, fail: (e: unknown) => void) => unknown } | undefined
            if (result && typeof result.then === 'function') result.then(undefined, failed)
        } catch (error) {
            failed(error)
        }
    }

    private arm(): void {
        this.timer = this.deps.schedule(this.deps.everyMs ?? MONITOR_EVERY_MS, () => {
            this.timer = undefined
            this.check()
            if (this.watching()) this.arm()
        })
    }
}
