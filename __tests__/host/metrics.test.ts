/**
 * The app metrics a user sees, in the dev host with host profile 1.10.5, whose exportEvents wrapper (modelled from
 * PostHog/plugin-server v1.10.5 `src/worker/vm/upgrades/export-events.ts`) counts every live batch it hands to
 * exportEvents in `events_seen` and `events_delivered_successfully` — the names the app increments too. The numbers
 * must be what S3 holds: read back and counted by uuid.
 */
import { DevHost, type DevHostOptions } from '../../dev/host'
import { makeEvent } from '../helpers/events'
import { proxySettings, startRig, tally, type Rig } from '../helpers/faults'
import { ROOT, startSending, waitStored } from '../helpers/lifecycle'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

let rig: Rig
beforeAll(async () => {
    rig = await startRig(['metrics-steady', 'metrics-outage'])
})
afterAll(async () => {
    await rig.close()
})

function options(bucket: string): DevHostOptions {
    return {
        pluginDir: ROOT,
        threads: 2,
        hostProfile: '1.10.5',
        log: () => undefined,
        config: proxySettings(rig, bucket, { eventsToIgnore: '', uploadMinutes: '0.05', uploadMegabytes: '4' }),
    }
}

it('reports 20,000 events once on the v1.10.5 host: events seen and delivered equal the events in S3', async () => {
    const opts = options('metrics-steady')
    const host = await DevHost.start(opts)
    const sender = startSending(host, (i) => makeEvent(i), { perTick: 40, tickMs: 5 })
    while (sender.sent.length < 20_000) await new Promise((r) => setTimeout(r, 20))
    await sender.stop()
    const sent = sender.sent.slice()
    // the host's own 10 s flush of its exportEvents buffer, now
    await host.flushExportEventsBuffers()
    const stored = await waitStored(rig, 'metrics-steady', sent, 60_000)
    await host.shutdown()
    const m = host.metrics
    expect({ lost: stored.lost, duplicated: stored.duplicated }).toEqual({ lost: 0, duplicated: 0 })
    expect({ seen: m.events_seen, delivered: m.events_delivered_successfully + (m.spilled_events_stored ?? 0) }).toEqual({ seen: sent.length, delivered: stored.stored })
    if (process.env.S3_EXPORT_TEST_REPORT) console.log(JSON.stringify({ sent: sent.length, inS3: stored.stored, metrics: m }))
}, 180_000)

it('during an S3 outage on the v1.10.5 host reports as delivered exactly the events S3 holds, and after the restart the rest', async () => {
    const opts = options('metrics-outage')
    const host = await DevHost.start(opts)
    const before = startSending(host, (i) => makeEvent(i), { perTick: 20, tickMs: 5 })
    while (before.sent.length < 2_000) await new Promise((r) => setTimeout(r, 20))
    await before.stop()
    expect((await waitStored(rig, 'metrics-outage', before.sent, 60_000)).lost).toBe(0)
    rig.proxy.outage()
    const during = startSending(host, (i) => makeEvent(100_000 + i), { perTick: 20, tickMs: 5 })
    while (during.sent.length < 3_000) await new Promise((r) => setTimeout(r, 20))
    await during.stop()
    await host.flushExportEventsBuffers()
    const sent = [...before.sent, ...during.sent]
    // shut down while S3 is still down: teardown hands what waits to the job queue
    const down = await host.shutdown()
    const inS3 = await tally(rig.reader, 'metrics-outage', sent)
    const m = host.metrics
    expect({ seen: m.events_seen, delivered: m.events_delivered_successfully }).toEqual({ seen: sent.length, delivered: inS3.stored })
    expect(m.events_spilled_to_job_queue).toBe(sent.length - inS3.stored)
    if (process.env.S3_EXPORT_TEST_REPORT) console.log(JSON.stringify({ sent: sent.length, inS3DuringOutage: inS3.stored, metrics: m }))

    // S3 back, the restart runs the queued jobs: what they store is counted where they store it
    rig.proxy.outage(0)
    const next = await DevHost.start(opts)
    for (const job of down.queuedJobs) next.enqueue(job.name, job.payload, 0)
    expect(await next.waitForJobs(60_000)).toBe(true)
    await next.shutdown()
    const after = await tally(rig.reader, 'metrics-outage', sent)
    expect({ lost: after.lost, duplicated: after.duplicated }).toEqual({ lost: 0, duplicated: 0 })
    expect(m.events_delivered_successfully + (next.metrics.spilled_events_stored ?? 0)).toBe(after.stored)
}, 180_000)
