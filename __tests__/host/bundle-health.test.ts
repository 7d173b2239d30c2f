/**
 * The bundle (dist/index.js) in the dev host with S3 down for a few seconds: the app captures one
 * s3_export_unhealthy and one s3_export_recovered, the host ingests them back into onEvent, and they are stored
 * like any other event (once each: no loop). The host's summed metrics match what S3 holds.
 */
import { DevHost } from '../../dev/host'
import { readAll } from '../../dev/s3-read'
import { makeEvent } from '../helpers/events'
import { proxySettings, startRig, type Rig } from '../helpers/faults'
import { ROOT, sleep } from '../helpers/lifecycle'

const BUCKET = 'bundle-health'
let rig: Rig
beforeAll(async () => {
    rig = await startRig([BUCKET])
})
afterAll(async () => {
    await rig.close()
})

async function until(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs
    while (!ready() && Date.now() < end) await sleep(50)
    return ready()
}

it('captures one unhealthy and one recovered event during a short outage, stores both once, and its metrics add up to S3', async () => {
    // the health event after 3 s of failed uploads; runEveryMinute (one thread) every 200 ms makes the checks prompt
    const config = proxySettings(rig, BUCKET, { uploadMinutes: '0.05', alertAfterMinutes: '0.05', eventsToIgnore: '' })
    const appLog: string[] = []
    const host = await DevHost.start({ pluginDir: ROOT, config, threads: 1, scheduleEveryMs: 200, log: (level, message) => void appLog.push(`${level} ${message}`) })
    const sent: string[] = []
    const sendSome = async (n: number) => {
        for (let k = 0; k < n; k++) {
            const event = makeEvent(sent.length)
            sent.push(event.uuid)
            await host.onEvent(event)
        }
    }
    const names = () => host.capturedEvents.map((e) => e.event)
    try {
        await sendSome(50)
        // 12 s down: the first upload fails within the 3 s upload interval, so uploads fail for 9 s or more, 3 times the threshold
        rig.proxy.outage(12_000)
        for (let i = 0; i < 20; i++) {
            await sendSome(10)
            await sleep(500)
        }
        const recovered = await until(() => names().includes('s3_export_recovered'), 90_000)
        expect({ recovered, log: recovered ? [] : appLog }).toEqual({ recovered: true, log: [] })
        // the host ingests a captured event asynchronously, as PostHog does: let both reach onEvent before the shutdown
        expect(await until(() => host.ingestedCaptured === 2, 10_000)).toBe(true)
        await sendSome(20)
    } finally {
        // also on failure: the app's host timers would keep the test process alive
        await host.shutdown()
    }

    expect(names()).toEqual(['s3_export_unhealthy', 's3_export_recovered'])
    const unhealthy = host.capturedEvents[0]
    expect(unhealthy.distinct_id).toBe('S3 Export')
    expect(unhealthy.properties).toMatchObject({ bucket: BUCKET, prefix: 'faults/', $lib: 'posthog-plugin-server' })
    expect(JSON.stringify(host.capturedEvents)).not.toContain(config.awsSecretAccessKey)

    const stored = (await readAll(rig.reader, BUCKET, 'faults/')).flatMap((o) => o.events)
    const count = (name: string) => stored.filter((e) => e.event === name).length
    expect({ unhealthy: count('s3_export_unhealthy'), recovered: count('s3_export_recovered') }).toEqual({ unhealthy: 1, recovered: 1 })
    const storedUuids = new Set(stored.map((e) => e.uuid))
    expect(sent.filter((u) => !storedUuids.has(u))).toEqual([])
    expect(stored.length).toBe(sent.length + 2)

    const m = host.metrics
    expect(m.events_seen).toBe(sent.length + 2)
    expect(m.events_delivered_successfully + (m.spilled_events_stored ?? 0)).toBe(stored.length)
    expect(m.unhealthy_alerts).toBe(1)
    expect(m.retry_errors).toBeGreaterThan(0)
    expect(m.undelivered_events ?? 0).toBe(0)
}, 180_000)
