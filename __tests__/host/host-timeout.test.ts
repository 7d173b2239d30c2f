/**
 * The host races every `.then` of the app against its task timeout (30 s in PostHog; 1.5 s here) and rejects the
 * race while the promise runs on. An upload whose answer comes later than that must stay "in flight" until its PUT
 * really ends: a second upload started meanwhile would overlap it, and one never heard of again would stall the
 * thread. The bundle in the dev host, S3 answering the first uploads after 4 s, every verdict read back from S3.
 */
import { DevHost, type DevHostOptions } from '../../dev/host'
import { faults, PASS } from '../../dev/fault-proxy'
import { makeEvent } from '../helpers/events'
import { proxySettings, startRig, type Rig } from '../helpers/faults'
import { EXACTLY_ONCE, ROOT, shutdownAndDrain, sleep, startSending, verdict, waitStored } from '../helpers/lifecycle'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const TASK_TIMEOUT_MS = 1_500
const SLOW_ANSWER_MS = 4_000
let rig: Rig

beforeAll(async () => {
    rig = await startRig(['hostcut'])
})
afterAll(async () => {
    await rig.close()
})

it("keeps an upload in flight until its PUT ends when the host's promise timeout cuts the wait, and stores every event once", async () => {
    // data objects answer after 4 s until the third has started; the write check at setup answers at once
    let slowLeft = 2
    rig.proxy.setSchedule((_n, _at, request) => {
        if (request?.method !== 'PUT' || request.path.includes('.s3-export-write-check') || slowLeft === 0) return PASS
        slowLeft--
        return faults.delay(SLOW_ANSWER_MS, true)
    })
    const opts: DevHostOptions = {
        pluginDir: ROOT,
        threads: 1,
        log: () => undefined,
        taskTimeoutMs: TASK_TIMEOUT_MS,
        config: proxySettings(rig, 'hostcut', { eventsToIgnore: '', uploadMinutes: '0.05' }),
    }
    const host = await DevHost.start(opts)
    const sender = startSending(host, (i) => makeEvent(i), { perTick: 1, tickMs: 20 })
    await sleep(8_000)
    await sender.stop()
    const t = await waitStored(rig, 'hostcut', sender.sent, 30_000)
    await shutdownAndDrain(host, opts)
    expect(verdict(t, sender)).toEqual(EXACTLY_ONCE)

    const puts = rig.proxy.log
        .filter((r) => r.method === 'PUT' && r.path.startsWith('/hostcut/') && !r.path.includes('.s3-export-write-check'))
        .sort((a, b) => a.at - b.at)
    // the scenario itself: an upload outlived the host's timeout
    expect(puts.some((r) => r.endedAt! - r.at >= TASK_TIMEOUT_MS)).toBe(true)
    // one upload on the wire at a time: each PUT starts after the one before it ended
    for (let i = 1; i < puts.length; i++) expect(puts[i].at).toBeGreaterThanOrEqual(puts[i - 1].endedAt!)
})
