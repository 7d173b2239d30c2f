/**
 * S3 unreachable (every connection refused) for the first 60 seconds of a load: the bundle's timers are the host's
 * real timers (plugin-contrib's createBuffer), so the outage is 60 real seconds; the test sends lightly and mostly
 * waits, and lives in its own file so Jest runs it beside the others.
 */
import { DevHost } from '../../dev/host'
import { makeEvent } from '../helpers/events'
import { proxySettings, startRig, type Rig } from '../helpers/faults'
import { EXACTLY_ONCE, ROOT, shutdownAndDrain, sleep, startSending, verdict, waitStored } from '../helpers/lifecycle'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

let rig: Rig
beforeAll(async () => {
    rig = await startRig(['outage60'])
})
afterAll(async () => {
    await rig.close()
})

it('sets up while S3 refuses every connection for the first 60 seconds of the load, skips no event, and stores them all once S3 is back', async () => {
    const opts = { pluginDir: ROOT, threads: 1, log: () => undefined, config: proxySettings(rig, 'outage60', { eventsToIgnore: '', uploadMinutes: '0.05' }) }
    rig.proxy.outage(60_000)
    const host = await DevHost.start(opts)
    const sender = startSending(host, (i) => makeEvent(i), { perTick: 1, tickMs: 20 })
    while (rig.proxy.inOutage()) await sleep(250)
    await sleep(1_000)
    await sender.stop()
    expect({ skippedEvents: host.skippedEvents, setupFailures: host.setupFailures, disabled: host.disabled }).toEqual({ skippedEvents: 0, setupFailures: 0, disabled: false })

    await waitStored(rig, 'outage60', sender.sent, 30_000)
    await shutdownAndDrain(host, opts)
    expect(verdict(await waitStored(rig, 'outage60', sender.sent, 15_000), sender)).toEqual(EXACTLY_ONCE)
}, 150_000)
