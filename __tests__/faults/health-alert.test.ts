/**
 * The health event and the metrics against a real outage: two exporters (two worker threads) on one scaled clock,
 * each watched by its own Monitor as index.ts wires it, S3 refusing every connection for a while in the middle of a
 * 12-minute stream. The host's metrics are one sum per name across both copies, as PostHog adds them up.
 */
import { HealthAlert, RECOVERED_EVENT, UNHEALTHY_EVENT, type HealthEvent } from '../../src/health/alert'
import type { MetricName } from '../../src/health/metrics'
import { Monitor } from '../../src/health/monitor'
import { buildExporter, drain, recordMetric, ScaledClock, send, startRig, tally, type ExporterRig, type Rig } from '../helpers/faults'

const MIN = 60_000
const THRESHOLD_MS = 3 * MIN
const EVENTS_PER_THREAD = 2_000

let rig: Rig
beforeAll(async () => {
    rig = await startRig(['health-long-outage', 'health-short-outage'])
})
afterAll(async () => {
    await rig.close()
})

interface Thread {
    x: ExporterRig
    monitor: Monitor
    /** what posthog.capture received in this thread, in order */
    captured: HealthEvent[]
}

/** Two threads through the proxy, an outage of `outageMs` from minute 2, then drain, close, and run the job queue. */
async function outageRun(bucket: string, outageMs: number) {
    const clock = new ScaledClock(250)
    rig.clock = clock
    rig.proxy.setSchedule(() => ({ kind: 'pass' }))
    const sums: Partial<Record<MetricName, number>> = {}
    const sink = (name: MetricName, delta: number) => void (sums[name] = (sums[name] ?? 0) + delta)
    const threads: Thread[] = [0, 1].map((i) => {
        // half the rig's memory limit: the outage fills it, so batches go to the job queue and their metrics count too
        const x = buildExporter(rig, clock, { bucket, config: { bufferLimitBytes: 1024 * 1024 } })
        const captured: HealthEvent[] = []
        const alert = new HealthAlert({
            alertAfterMs: THRESHOLD_MS,
            bucket,
            prefix: x.config.prefix,
            endpoint: x.config.endpoint,
            copyId: `thread-${i}`,
            appVersion: 'test',
            secrets: [x.config.accessKeyId, x.config.secretAccessKey],
        })
        const monitor = new Monitor({
            exporter: x.exporter,
            alert,
            now: clock.now,
            schedule: clock.schedule,
            metrics: sink,
            capture: (event, properties) => captured.push({ event: event as HealthEvent['event'], properties }),
            log: x.log,
        })
        monitor.start()
        return { x, monitor, captured }
    })
    const outageAt = clock.now() + 2 * MIN
    let outageStarted = false
    const startOutage = () => {
        if (outageStarted || clock.now() < outageAt) return
        outageStarted = true
        rig.proxy.outage(outageMs)
    }
    const sentPerThread = await Promise.all(
        threads.map((t, i) => send(t.x, clock, { count: EVENTS_PER_THREAD, first: i * 1_000_000, overVirtualMs: 12 * MIN, onChunk: startOutage }))
    )
    const drained = await Promise.all(threads.map((t) => drain(t.x, clock)))
    for (const t of threads) await t.x.exporter.close(clock.now() + 4_500)
    // teardownPlugin: the last report of each copy
    for (const t of threads) t.monitor.stop()
    rig.proxy.outage(0)
    for (const t of threads) {
        await t.x.jobs.runAll(t.x.store, { bucket })
        // index.ts's job handler increments this for each stored job (any thread runs jobs)
        if (t.x.jobs.storedEvents > 0) sink('spilled_events_stored', t.x.jobs.storedEvents)
    }
    const sent = sentPerThread.flat()
    const t = await tally(rig.reader, bucket, sent)
    clock.dispose()
    return { threads, sums, sent, tally: t, drained, outageStarted }
}

describe('the health event against an S3 outage', () => {
    it('comes once per thread as unhealthy and once as recovered when the outage outlasts the threshold, and the metrics add up to what S3 holds', async () => {
        const r = await outageRun('health-long-outage', 6 * MIN)
        expect(r.outageStarted).toBe(true)
        expect(r.drained).toEqual([true, true])
        for (const [i, thread] of r.threads.entries()) {
            expect({ thread: i, events: thread.captured.map((e) => e.event) }).toEqual({ thread: i, events: [UNHEALTHY_EVENT, RECOVERED_EVENT] })
            const [unhealthy, recovered] = thread.captured
            expect(unhealthy.properties).toMatchObject({ bucket: 'health-long-outage', prefix: 'faults/', copy_id: `thread-${i}`, alert_after_minutes: 3 })
            expect(unhealthy.properties.minutes_failing).toBeGreaterThanOrEqual(3)
            expect(unhealthy.properties.events_waiting).toBeGreaterThan(0)
            expect(typeof unhealthy.properties.last_error_code).toBe('string')
            expect(unhealthy.properties.advice).toMatch(/retried with backoff/)
            // recovered only after the outage: it failed for at least the threshold, at most the outage plus one backoff cap and a check
            expect(recovered.properties.minutes_failing).toBeGreaterThanOrEqual(3)
            const text = JSON.stringify(thread.captured)
            expect(text).not.toContain(thread.x.config.secretAccessKey)
            expect(text).not.toContain(thread.x.config.accessKeyId)
        }

        // every event stored exactly once, by an exporter or by a job
        expect({ lost: r.tally.lost, duplicated: r.tally.duplicated, unexpected: r.tally.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
        const stats = r.threads.map((t) => t.x.exporter.stats)
        const total = (f: (s: (typeof stats)[number]) => number) => stats.reduce((n, s) => n + f(s), 0)
        const jobsStored = r.threads.reduce((n, t) => n + t.x.jobs.stored, 0)
        const m = (name: MetricName) => r.sums[name] ?? 0
        expect(m('events_seen')).toBe(r.sent.length)
        expect(m('events_delivered_successfully') + m('spilled_events_stored')).toBe(r.tally.stored)
        expect(m('events_delivered_successfully')).toBe(total((s) => s.delivered))
        expect(m('events_spilled_to_job_queue')).toBe(total((s) => s.spilled))
        expect(m('spilled_events_stored')).toBe(m('events_spilled_to_job_queue'))
        expect(m('objects_stored') + jobsStored).toBe(r.tally.objects.length)
        const storedBytes = r.tally.objects.reduce((n, o) => n + o.size, 0)
        expect(m('bytes_stored')).toBe(total((s) => s.bytesStored))
        expect(m('bytes_stored')).toBeLessThanOrEqual(storedBytes)
        expect(m('undelivered_events')).toBe(0)
        expect(m('retry_errors')).toBe(total((s) => s.retries))
        expect(m('retry_errors')).toBeGreaterThan(0)
        expect(m('unhealthy_alerts')).toBe(2)
        recordMetric({
            name: 'health-long-outage',
            captured: r.threads.map((t) => t.captured.map((e) => `${e.event} after ${e.properties.minutes_failing} min`)),
            metrics: r.sums,
            s3: { events: r.tally.stored, objects: r.tally.objects.length, bytes: storedBytes, jobObjects: jobsStored },
        })
    })

    it('stays silent when the outage ends before the threshold', async () => {
        // 30 s: with the backoff after it, S3 fails for at most ~1.5 virtual minutes of the 3, so a stall of ~300 ms
        // real time (on the 250x clock) on a busy machine cannot carry it past the threshold
        const r = await outageRun('health-short-outage', 0.5 * MIN)
        expect(r.outageStarted).toBe(true)
        expect(r.threads.map((t) => t.captured.length)).toEqual([0, 0])
        expect(r.tally.lost).toBe(0)
        expect(r.sums.unhealthy_alerts ?? 0).toBe(0)
        expect((r.sums.events_delivered_successfully ?? 0) + (r.sums.spilled_events_stored ?? 0)).toBe(r.tally.stored)
    })
})
