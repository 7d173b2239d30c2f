/**
 * App metrics: what the plugin server shows a user about this app, summed across worker threads and restarts.
 *
 * The host (plugin-server `src/worker/vm/extensions/metrics.ts`) reads `export const metrics` at load, and
 * `meta.metrics.<name>.increment(n)` adds n to a per-thread total that it sends as a `$$plugin_metrics` event now and
 * then; PostHog sums those events per plugin. So each copy reports only what changed since it last reported
 * (deltas), and never a running total: totals from several threads and restarts would be counted twice.
 */
import { noStats, type ExporterStats } from '../export/stats'

/**
 * Every metric, all summed. The first five are the names the host gives exportEvents apps, with the same meaning,
 * so a user who knows those reads these the same way.
 */
export const METRICS = {
    /** events handed to the app (onEvent), ignored ones included */
    events_seen: 'sum',
    /** events stored in S3 by the exporter itself (those stored later from the job queue are in spilled_events_stored) */
    events_delivered_successfully: 'sum',
    /** events lost for good: memory limit with no job queue, a refusing queue, a body that could not be made, a job that gave up */
    undelivered_events: 'sum',
    /** uploads that failed and are retried with backoff (S3 down, 5xx, throttling, timeouts) */
    retry_errors: 'sum',
    /** uploads S3 refused for a reason only the user can fix (credentials, bucket, permissions, KMS): retried once a minute */
    other_errors: 'sum',
    /** events skipped by "Events to ignore" / "Only export these events" */
    events_ignored: 'sum',
    /** events handed to PostHog's job queue (memory limit, teardown); a job stores them later */
    events_spilled_to_job_queue: 'sum',
    /** events stored in S3 by jobs from the job queue */
    spilled_events_stored: 'sum',
    /** objects the exporter stored in S3 */
    objects_stored: 'sum',
    /** bytes of those objects as stored (after compression) */
    bytes_stored: 'sum',
    /** s3_export_unhealthy events this app captured */
    unhealthy_alerts: 'sum',
    /** past events the backfill stored in S3 (pages of the host's "Export historical events" job) */
    backfill_events_stored: 'sum',
    /** objects the backfill stored */
    backfill_objects_stored: 'sum',
    /** events in the host's pages that were ingested after the backfill's boundary: the live export has them */
    backfill_events_left_to_live: 'sum',
} as const

export type MetricName = keyof typeof METRICS

export type Totals = Record<MetricName, number>

/**
 * Metrics that are not a copy's running totals: a job's outcome (any thread runs it) and the backfill's pages (the
 * host's job calls exportEvents in any thread) are incremented where they happen.
 */
export const INCREMENTED_WHERE_THEY_HAPPEN = ['spilled_events_stored', 'backfill_events_stored', 'backfill_objects_stored', 'backfill_events_left_to_live'] as const

/** Totals of this copy (the exporter's counts and the health events). */
export type CopyTotals = Omit<Totals, (typeof INCREMENTED_WHERE_THEY_HAPPEN)[number]>

/** The exporter's counters, and the health events captured, as the metrics' totals for this copy. */
export function metricTotals(stats: ExporterStats, unhealthyAlerts = 0): CopyTotals {
    return {
        events_seen: stats.seen,
        events_delivered_successfully: stats.delivered,
        undelivered_events: stats.dropped,
        retry_errors: stats.retries,
        other_errors: stats.failures,
        events_ignored: stats.ignored,
        events_spilled_to_job_queue: stats.spilled,
        objects_stored: stats.objects,
        bytes_stored: stats.bytesStored,
        unhealthy_alerts: unhealthyAlerts,
    }
}

/** Where increments go: `meta.metrics` of the host (src/host/meta.ts hostMetricSink). */
export type MetricSink = (name: MetricName, delta: number) => void

/** Reports the change of each total since the last report: the host adds them up. */
export class MetricsReporter {
    private reported: CopyTotals = metricTotals(noStats())

    constructor(private readonly sink: MetricSink) {}

    /** Increment every metric whose total grew; returns the increments made (for logs and tests). */
    report(totals: CopyTotals): Partial<CopyTotals> {
        const made: Partial<CopyTotals> = {}
        for (const name of Object.keys(totals) as Array<keyof CopyTotals>) {
            const delta = totals[name] - this.reported[name]
            if (delta <= 0) continue
            try {
                this.sink(name, delta)
            } catch {
                // a host that refuses a metric must not stop the export; the same delta is offered again next time
                continue
            }
            this.reported[name] = totals[name]
            made[name] = delta
        }
        return made
    }
}
