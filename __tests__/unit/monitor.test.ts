import { HealthAlert, UNHEALTHY_EVENT } from '../../src/health/alert'
import type { ExporterStats } from '../../src/export/exporter'
import type { MetricName } from '../../src/health/metrics'
import { Monitor, MONITOR_EVERY_MS } from '../../src/health/monitor'

const MIN = 60_000

/** A hand-driven timer queue: `fire()` runs what is due after advancing the clock. */
function manualTimers() {
    let now = 1_000
    let timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = []
    return {
        now: () => now,
        schedule: (delayMs: number, fn: () => void) => {
            const t = { at: now + delayMs, fn, cancelled: false }
            timers.push(t)
            return { cancel: () => void (t.cancelled = true) }
        },
        armed: () => timers.filter((t) => !t.cancelled).length,
        advance(ms: number) {
            now += ms
            const due = timers.filter((t) => !t.cancelled && t.at <= now)
            timers = timers.filter((t) => !due.includes(t))
            for (const t of due) t.fn()
        },
    }
}

function fakeExporter() {
    const stats: ExporterStats = { seen: 0, ignored: 0, delivered: 0, objects: 0, bytesStored: 0, retries: 0, failures: 0, spilled: 0, dropped: 0, late: 0 }
    return { stats, failingSince: 0, lastStoredAt: 0, lastFailure: undefined as any, pending: 0, pendingEvents() { return this.pending } }
}

function build(captureThrows = false) {
    const timers = manualTimers()
    const exporter = fakeExporter()
    const sums: Partial<Record<MetricName, number>> = {}
    const captured: string[] = []
    const warnings: string[] = []
    const monitor = new Monitor({
        exporter,
        alert: new HealthAlert({ alertAfterMs: 2 * MIN, bucket: 'b-1', prefix: '', copyId: 'c', appVersion: 'v', secrets: [] }),
        now: timers.now,
        schedule: timers.schedule,
        metrics: (name, delta) => void (sums[name] = (sums[name] ?? 0) + delta),
        capture: (event) => {
            if (captureThrows) throw new Error('no capture here')
            captured.push(event)
        },
        log: { info: () => undefined, warn: (m) => void warnings.push(m) },
    })
    return { timers, exporter, sums, captured, warnings, monitor }
}

describe('the monitor', () => {
    it('reports the metrics every period while events wait, and lets its timer end once the copy is idle', () => {
        const { timers, exporter, sums, monitor } = build()
        monitor.start()
        exporter.stats.seen = 10
        exporter.pending = 10
        timers.advance(MONITOR_EVERY_MS)
        expect(sums).toEqual({ events_seen: 10 })
        expect(timers.armed()).toBe(1)
        exporter.stats.delivered = 10
        exporter.stats.objects = 1
        exporter.pending = 0
        timers.advance(MONITOR_EVERY_MS)
        expect(sums).toEqual({ events_seen: 10, events_delivered_successfully: 10, objects_stored: 1 })
        expect(timers.armed()).toBe(0)
        // the next event wakes it, once
        monitor.wake()
        monitor.wake()
        expect(timers.armed()).toBe(1)
    })

    it('keeps watching while uploads fail, captures one unhealthy event after the threshold, and counts it as a metric', () => {
        const { timers, exporter, sums, captured, monitor } = build()
        monitor.start()
        exporter.pending = 5
        exporter.failingSince = timers.now()
        for (let i = 0; i < 30; i++) timers.advance(MONITOR_EVERY_MS)
        expect(captured).toEqual([UNHEALTHY_EVENT])
        expect(sums.unhealthy_alerts).toBe(1)
        // all spilled to the job queue, still failing: still watching, for the recovered event
        exporter.pending = 0
        timers.advance(MONITOR_EVERY_MS)
        expect(timers.armed()).toBe(1)
    })

    it('reports one last time at teardown, and a host whose capture throws stops nothing', () => {
        const { timers, exporter, sums, warnings, monitor } = build(true)
        monitor.start()
        exporter.pending = 5
        exporter.failingSince = timers.now()
        timers.advance(3 * MIN)
        for (let i = 0; i < 3; i++) timers.advance(MONITOR_EVERY_MS)
        expect(warnings.some((w) => /could not capture s3_export_unhealthy: no capture here/.test(w))).toBe(true)
        exporter.stats.seen = 7
        exporter.pending = 0
        monitor.stop()
        expect(sums.events_seen).toBe(7)
        expect(timers.armed()).toBe(0)
    })
})
