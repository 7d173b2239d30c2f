import pluginJson from '../../plugin.json'
import * as app from '../../index'
import { hostMetricSink } from '../../src/host/meta'
import { INCREMENTED_WHERE_THEY_HAPPEN, metricTotals, METRICS, MetricsReporter, type MetricName } from '../../src/health/metrics'
import type { ExporterStats } from '../../src/export/exporter'

const zero: ExporterStats = { seen: 0, ignored: 0, delivered: 0, objects: 0, bytesStored: 0, retries: 0, failures: 0, spilled: 0, dropped: 0, late: 0 }

/** The host's per-plugin sums: what PostHog shows once it adds up every thread's increments. */
function hostSums() {
    const sums: Partial<Record<MetricName, number>> = {}
    return { sums, sink: (name: MetricName, delta: number) => (sums[name] = (sums[name] ?? 0) + delta) }
}

describe('app metrics', () => {
    it('are exported from the app as sums only, the one kind the host adds up across threads', () => {
        expect(app.metrics).toBe(METRICS)
        expect(new Set(Object.values(METRICS))).toEqual(new Set(['sum']))
    })

    it('reuse the five names the host gives exportEvents apps', () => {
        expect(Object.keys(METRICS)).toEqual(expect.arrayContaining(['events_seen', 'events_delivered_successfully', 'undelivered_events', 'retry_errors', 'other_errors']))
    })

    it('map each exporter counter to the metric that names it', () => {
        const totals = metricTotals({ seen: 10, ignored: 1, delivered: 7, objects: 2, bytesStored: 900, retries: 3, failures: 4, spilled: 2, dropped: 5, late: 0 }, 1)
        expect(totals).toEqual({
            events_seen: 10,
            events_ignored: 1,
            events_delivered_successfully: 7,
            objects_stored: 2,
            bytes_stored: 900,
            retry_errors: 3,
            other_errors: 4,
            events_spilled_to_job_queue: 2,
            undelivered_events: 5,
            unhealthy_alerts: 1,
        })
        // every metric but the jobs' own is a copy total; the jobs' one is declared too
        expect([...Object.keys(totals), ...INCREMENTED_WHERE_THEY_HAPPEN].sort()).toEqual(Object.keys(METRICS).sort())
    })

    it('increment by what changed since the last report, so the host sums to the exporter totals across reports and copies', () => {
        const host = hostSums()
        const first = new MetricsReporter(host.sink)
        const second = new MetricsReporter(host.sink) // another thread, or the copy after a restart
        expect(first.report(metricTotals({ ...zero, seen: 5, delivered: 3, objects: 1 }))).toEqual({ events_seen: 5, events_delivered_successfully: 3, objects_stored: 1 })
        expect(first.report(metricTotals({ ...zero, seen: 5, delivered: 3, objects: 1 }))).toEqual({})
        first.report(metricTotals({ ...zero, seen: 9, delivered: 8, objects: 2 }))
        second.report(metricTotals({ ...zero, seen: 4, delivered: 4, objects: 1 }))
        expect(host.sums).toEqual({ events_seen: 13, events_delivered_successfully: 12, objects_stored: 3 })
    })

    it('offer a refused increment again at the next report instead of losing it', () => {
        const host = hostSums()
        let refuse = true
        const reporter = new MetricsReporter((name, delta) => {
            if (refuse) throw new Error('Invalid metric name')
            host.sink(name, delta)
        })
        expect(reporter.report(metricTotals({ ...zero, seen: 2 }))).toEqual({})
        refuse = false
        reporter.report(metricTotals({ ...zero, seen: 3 }))
        expect(host.sums).toEqual({ events_seen: 3 })
    })

    it('reach the host through meta.metrics.<name>.increment, and a host without metrics or refusing a name breaks nothing', () => {
        const calls: Array<[string, number]> = []
        const meta = new Proxy({} as Record<string, unknown>, {
            get(_target, key) {
                // as the host's createMetrics: undeclared names throw
                if (typeof key !== 'string' || !(key in METRICS)) throw new Error('Invalid metric name')
                return { increment: (n: number) => calls.push([key, n]) }
            },
        })
        hostMetricSink(meta)!('objects_stored', 2)
        expect(() => hostMetricSink(meta)!('no_such_metric' as MetricName, 1)).not.toThrow()
        expect(calls).toEqual([['objects_stored', 2]])
        expect(hostMetricSink(undefined)).toBeUndefined()
    })

    it('say in plugin.json nothing the host would reject: the host reads them from the code, not the manifest', () => {
        expect((pluginJson as Record<string, unknown>).metrics).toBeUndefined()
    })
})
