/**
 * The bundle (dist/index.js) through the real host's lifecycle, in the dev host, against the local S3 behind the
 * fault proxy: a reload with events in flight, S3 down while the app loads, a definitive refusal at setup, and a
 * 20 MB batch spilled through the 1 MB (Kafka) job queue. The reload and the outage at load run for
 * posthog-2024/index.js under the 2024 plugin server too, and that bundle's teardown with S3 hung with and without a
 * job queue (the builds after 2025-02-28 have none). Every verdict is read back from S3.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3'
import { randomBytes } from 'crypto'
import { DevHost, type DevHostOptions } from '../../dev/host'
import { DevStorage } from '../../dev/storage'
import { faults, PASS } from '../../dev/fault-proxy'
import { makeEvent } from '../helpers/events'
import { noisyEvent, proxySettings, startRig, tally, type Rig } from '../helpers/faults'
import { EXACTLY_ONCE, ROOT, shutdownAndDrain, sleep, startSending, verdict, waitStored } from '../helpers/lifecycle'
import { BUNDLE_CASES, CLASSIC, POSTHOG_2024, type BundleCase } from '../helpers/bundles'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const BUCKETS = ['reload', 'reload-2024', 'reload-log', 'outage10', 'outage10-2024', 'refused', 'spill20', 'one-big-event', 'one-big-event-503', 'hung-jobs-2024', 'hung-no-jobs-2024']
let rig: Rig

beforeAll(async () => {
    rig = await startRig(BUCKETS)
})
afterAll(async () => {
    await rig.close()
})
afterEach(() => {
    rig.proxy.setSchedule(() => PASS)
    rig.proxy.outage(0)
})

function hostOptions(bucket: string, settings: Record<string, string> = {}, more: Partial<DevHostOptions> = {}, bundle: BundleCase = CLASSIC): DevHostOptions {
    return {
        pluginDir: bundle.pluginDir,
        threads: 1,
        log: () => undefined,
        config: proxySettings(rig, bucket, { eventsToIgnore: '', ...bundle.settings, ...settings }),
        ...bundle.host,
        ...more,
    }
}

/** Each bundle with a bucket of its own for a test. */
const eachBundle = (bucket: string) => BUNDLE_CASES.map((bundle) => ({ ...bundle, bucket: bundle === CLASSIC ? bucket : `${bucket}-2024` }))

it.each(eachBundle('reload'))('stores every event exactly once across a reload of $name, the old copy keeping its events apart from the new one', async (bundle) => {
    const opts = hostOptions(bundle.bucket, { uploadMinutes: '0.05' }, {}, bundle)
    const host = await DevHost.start(opts)
    const sender = startSending(host, (i) => makeEvent(i))
    await sleep(1_000)
    // while the new copy sets up, S3 answers slowly: the old copy, already told to tear down, keeps getting events
    rig.proxy.setSchedule(() => faults.delay(700))
    let swappedAt = -1
    const reload = host.reload().then((report) => {
        swappedAt = sender.sent.length // events handed over after this point reach the new copy
        return report
    })
    const report = await reload
    rig.proxy.setSchedule(() => PASS)
    await sleep(1_500)
    await sender.stop()
    expect(report.eventsAfterTeardown).toBeGreaterThan(0) // the scenario itself: events did reach the torn-down copy

    expect(await host.retiredTeardowns()).toBe(true)
    await shutdownAndDrain(host, opts)
    const t = await waitStored(rig, bundle.bucket, sender.sent, 15_000)
    expect(verdict(t, sender)).toEqual(EXACTLY_ONCE)
    // a batch holds the events of one copy only: the old copy's objects and the new copy's are different keys
    const oldCopy = new Set(sender.sent.slice(0, swappedAt))
    const kinds = t.objects.map((o) => {
        const fromOld = o.events.filter((e) => oldCopy.has(e.uuid)).length
        return fromOld === o.events.length ? 'old' : fromOld === 0 ? 'new' : 'mixed'
    })
    expect(kinds).not.toContain('mixed')
    expect(new Set(kinds)).toEqual(new Set(['old', 'new']))
    expect(new Set(t.objects.map((o) => o.key)).size).toBe(t.objects.length)
}, 180_000)

it('logs no ERROR in a reload race where nothing is lost, and says where the events the old copy got late went', async () => {
    const lines: Array<{ level: string; message: string }> = []
    const opts = hostOptions('reload-log', { uploadMinutes: '0.05' }, { log: (level, message) => void lines.push({ level, message }) })
    const host = await DevHost.start(opts)
    const sender = startSending(host, (i) => makeEvent(i))
    await sleep(1_000)
    // S3 answers slowly while the new copy loads: the old copy's teardown is still uploading when more events come
    rig.proxy.setSchedule(() => faults.delay(700))
    const report = await host.reload()
    rig.proxy.setSchedule(() => PASS)
    await sleep(1_500)
    await sender.stop()
    expect(report.eventsAfterTeardown).toBeGreaterThan(0)
    expect(await host.retiredTeardowns()).toBe(true)
    await shutdownAndDrain(host, opts)
    expect(verdict(await waitStored(rig, 'reload-log', sender.sent, 15_000), sender)).toEqual(EXACTLY_ONCE)

    // nothing was lost, so nothing may say ERROR; and the log accounts for the late events
    expect(lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([])
    // (whether a late event came before the teardown's hand-over, and went with it, or after it, and went with a late
    // drain, is the machine's timing; either way a line says where it went)
    const said = (from: number, pattern: RegExp) => lines.slice(from).some((l) => pattern.test(l.message))
    expect(said(0, /S3 Export (after )?teardown: (stored \d+ events in S3|handed \d+ events to the job queue)/)).toBe(true)
    const promised = lines.findIndex((l) => /are still in memory/.test(l.message))
    if (promised >= 0) expect(said(promised, /S3 Export after teardown: (stored \d+ events in S3|handed \d+ events to the job queue)/)).toBe(true)
}, 90_000)

it.each(eachBundle('outage10'))('sets up $name while S3 answers 503 for the first 10 seconds of the load, skips no event, and stores them all once S3 is back', async (bundle) => {
    const opts = hostOptions(bundle.bucket, { uploadMinutes: '0.05' }, {}, bundle)
    const until = Date.now() + 10_000
    rig.proxy.setSchedule((_n, now) => (now < until ? faults.slowDown() : PASS))
    const host = await DevHost.start(opts)
    const sender = startSending(host, (i) => makeEvent(i), { perTick: 2, tickMs: 10 })
    while (Date.now() < until + 1_000) await sleep(100)
    await sender.stop()
    expect({ skippedEvents: host.skippedEvents, setupFailures: host.setupFailures, disabled: host.disabled }).toEqual({ skippedEvents: 0, setupFailures: 0, disabled: false })

    await waitStored(rig, bundle.bucket, sender.sent, 30_000)
    await shutdownAndDrain(host, opts)
    expect(verdict(await waitStored(rig, bundle.bucket, sender.sent), sender)).toEqual(EXACTLY_ONCE)
}, 180_000)

describe('posthog-2024/index.js torn down with S3 hung, under the 2024 plugin server', () => {
    /** two threads, each holding batches S3 will not answer for: the teardown has 5 s */
    async function hungTeardown(bucket: string, more: Partial<DevHostOptions>) {
        const lines: Array<{ level: string; message: string }> = []
        const opts = hostOptions(bucket, { uploadMinutes: '60', uploadMegabytes: '1' }, { threads: 2, log: (level, message) => void lines.push({ level, message }), ...more }, POSTHOG_2024)
        const host = await DevHost.start(opts)
        const sent = Array.from({ length: 4_000 }, (_, i) => makeEvent(i))
        for (const event of sent) await host.onEvent(event)
        rig.proxy.setSchedule(() => faults.hang())
        const down = await host.shutdown()
        rig.proxy.dropHanging()
        rig.proxy.setSchedule(() => PASS)
        return { opts, host, down, lines, sent: sent.map((e) => e.uuid) }
    }

    it('with the job queue: within 5 s, and nothing lost once the restarted host runs the jobs', async () => {
        const { opts, host, down, sent } = await hungTeardown('hung-jobs-2024', {})
        expect({ cappedAt5s: down.cappedAt5s, errors: down.errors }).toEqual({ cappedAt5s: false, errors: [] })
        expect(down.queuedJobs.length).toBeGreaterThan(0) // the scenario: S3 took nothing, the queue took the rest
        // the restart, on the same PostgreSQL: a batch whose PUT hung may have landed, so it waits there (parked)
        const next = await DevHost.start({ ...opts, storage: host.storage })
        for (const job of down.queuedJobs) next.enqueue(job.name, job.payload, 0)
        expect(await next.waitForJobs(60_000)).toBe(true)
        await next.shutdown()
        expect(verdict(await waitStored(rig, 'hung-jobs-2024', sent, 20_000))).toEqual(EXACTLY_ONCE)
    }, 180_000)

    it('without a job queue (builds after 2025-02-28): within 5 s, and exactly the events its log reports lost are missing', async () => {
        const { down, lines, sent } = await hungTeardown('hung-no-jobs-2024', { jobQueue: 'none' })
        expect({ cappedAt5s: down.cappedAt5s, errors: down.errors, queuedJobs: down.queuedJobs.length }).toEqual({ cappedAt5s: false, errors: [], queuedJobs: 0 })
        const t = await tally(rig.reader, 'hung-no-jobs-2024', sent)
        expect({ duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ duplicated: 0, unexpected: 0 })
        expect(t.lost).toBeGreaterThan(0) // the scenario: S3 hung, nowhere to hand the rest
        // each thread says how many of its events are lost; together they are exactly the ones S3 lacks
        const reported = lines
            .map((l) => (l.level === 'error' ? /S3 Export teardown: (\d+) events could not be stored or queued and are lost/.exec(l.message) : null))
            .reduce((n, m) => n + (m ? Number(m[1]) : 0), 0)
        expect(reported).toBe(t.lost)
    }, 180_000)
})

it('rejects setup when S3 definitively refuses, naming the setting and the fix, and the host retries then disables the app', async () => {
    const wrongSecret = await refusedSetup('refused', { awsSecretAccessKey: 'not-the-secret' })
    const noBucket = await refusedSetup('no-such-bucket', {})
    try {
        expect([wrongSecret.disabled, noBucket.disabled]).toEqual([true, true])
        expect(wrongSecret.setupErrors).toHaveLength(2)
        for (const m of wrongSecret.setupErrors) expect(m).toMatch(/SignatureDoesNotMatch/)
        for (const m of wrongSecret.setupErrors) expect(m).toMatch(/check "AWS Secret Access Key"/)
        expect(noBucket.setupErrors).toHaveLength(2)
        for (const m of noBucket.setupErrors) expect(m).toMatch(/bucket does not exist: check "S3 Bucket name"/)
        await wrongSecret.onEvent(makeEvent(1))
        expect(wrongSecret.skippedEvents).toBe(1)
    } finally {
        await wrongSecret.shutdown()
        await noBucket.shutdown()
    }
}, 120_000)

/**
 * A host (2 setup attempts, 100 ms apart) whose every write check got S3's own answer. A round where a check met a
 * transient network failure instead (a keep-alive connection reset on a busy machine) never showed the app the
 * refusal, so it says nothing about it: that round is run again (at most 3 rounds).
 */
async function refusedSetup(bucket: string, settings: Record<string, string>): Promise<DevHost> {
    for (let round = 1; ; round++) {
        const from = rig.proxy.log.length
        const host = await DevHost.start(hostOptions(bucket, settings, { setupRetryBaseMs: 100, maxSetupAttempts: 2 }))
        const deadline = Date.now() + 30_000
        while (!host.disabled && host.readyThreads() === 0 && Date.now() < deadline) await sleep(50)
        const checks = rig.proxy.log.slice(from).filter((r) => r.path.includes('.s3-export-write-check'))
        const answered = checks.filter((r) => r.status !== undefined).length
        // a reset can also hit a reused connection before the proxy sees the request: the app then says it could not reach S3
        const transient = host.setupErrors.some((m) => /could not reach/.test(m)) || answered === 0 || answered < checks.length
        if (!transient || round === 3) return host
        await host.shutdown()
    }
}

it('spills a 20 MB batch through the 1 MB job queue when S3 is down at teardown, and stores it exactly once with its metadata', async () => {
    const opts = hostOptions('spill20', { uploadMegabytes: '20', uploadMinutes: '60', bufferLimitMegabytes: '64' })
    const host = await DevHost.start(opts)
    // ~19.5 MB of poorly compressible events: one open batch, never sealed by size before teardown
    const sent: string[] = []
    let raw = 0
    for (let i = 0; raw < 19.5 * 1_048_576; i += 200) {
        const events = Array.from({ length: 200 }, (_, k) => noisyEvent(i + k))
        for (const e of events) raw += Buffer.byteLength(JSON.stringify(e)) + 1
        await Promise.all(events.map((e) => host.onEvent(e)))
        sent.push(...events.map((e) => e.uuid))
    }
    rig.proxy.outage() // S3 unreachable from now: teardown cannot upload, it must hand the batch to the job queue
    const down = await shutdownAndDrainAfterOutage(host, opts)
    const t = await waitStored(rig, 'spill20', sent, 20_000)
    expect({ ...verdict(t), refusedJobs: down.refusedJobs, leftQueued: down.leftQueued }).toEqual({ ...EXACTLY_ONCE, refusedJobs: 0, leftQueued: 0 })
    // it did go through the queue: its PUT at teardown went unanswered (S3 down), so it may have landed and keeps its
    // key: one job, its slices parked in meta.storage (spill.ts)
    expect(down.jobPayloadBytes.length).toBeGreaterThanOrEqual(1)
    expect(t.objects).toHaveLength(1)
    expect(Math.max(...down.jobPayloadBytes)).toBeLessThanOrEqual(900_000)
    expect(t.objects.reduce((n, o) => n + o.size, 0)).toBeGreaterThan(3 * 1_048_576) // the gzip body was several MB
    for (const o of t.objects) {
        const head = await rig.reader.send(new HeadObjectCommand({ Bucket: 'spill20', Key: o.key }))
        expect(head.Metadata?.['event-count']).toBe(String(o.events.length))
        expect(head.Metadata?.['min-event-timestamp']).toBeTruthy()
        expect(head.Metadata?.['max-event-timestamp']).toBeTruthy()
    }
}, 120_000)

describe('a single event bigger than a job (~1 MB, barely compressible) that S3 could not take at teardown', () => {
    // down: its PUT went unanswered, so the batch may be stored and is parked whole under its key;
    // 503: S3 said "not stored", so the batch is cut into parts and the part that is one big event is parked alone
    it.each([
        ['S3 is down', 'one-big-event', () => rig.proxy.outage(), 'whole'],
        ['S3 answers 503', 'one-big-event-503', () => rig.proxy.setSchedule(() => faults.slowDown()), 'parts'],
    ])('is stored once through the 1 MB job queue when %s, its slices waiting in storage', async (_why, bucket, fail, objects) => {
        // the restart runs on the same PostgreSQL: job queue and the app's storage
        const storage = new DevStorage()
        const opts = hostOptions(bucket, { uploadMegabytes: '4', uploadMinutes: '60' }, { storage })
        const host = await DevHost.start(opts)
        const big = makeEvent(1)
        // random bytes as base64: gzip takes a quarter off at best, so the body as base64 in a job is ~1.07 MB
        ;(big.properties as Record<string, unknown>).blob = randomBytes(780_000).toString('base64')
        const small = Array.from({ length: 20 }, (_, i) => makeEvent(100 + i))
        for (const e of [...small.slice(0, 10), big, ...small.slice(10)]) await host.onEvent(e)
        const sent = [big, ...small].map((e) => e.uuid)
        fail() // teardown cannot upload: it hands the batch to the job queue
        const down = await shutdownAndDrainAfterOutage(host, opts)
        const t = await waitStored(rig, bucket, sent, 20_000)
        expect({ ...verdict(t), refusedJobs: down.refusedJobs, leftQueued: down.leftQueued }).toEqual({ ...EXACTLY_ONCE, refusedJobs: 0, leftQueued: 0 })
        expect(Math.max(...down.jobPayloadBytes)).toBeLessThanOrEqual(900_000)
        // one object under the batch's own key, or parts of whole members, the big event's alone
        if (objects === 'whole') expect(t.objects).toHaveLength(1)
        else expect(t.objects.filter((o) => o.events.length === 1 && o.events[0].uuid === big.uuid)).toHaveLength(1)
        expect(t.objects.length > 1).toBe(objects === 'parts')
        // the slices are gone once the job stored the object; only its small "stored" marks (slice 0) stay
        expect([...storage.values.keys()].filter((k) => k.startsWith('s3-export/slice/') && !/\/0of\d+$/.test(k))).toEqual([])
        expect([...storage.values.keys()].filter((k) => k.startsWith('s3-export/slice/')).length).toBeGreaterThan(0)
    }, 120_000)
})

/** Teardown with S3 down, then S3 back and the queued jobs run in a restarted host (Kafka queue, 1 MB). */
async function shutdownAndDrainAfterOutage(host: DevHost, opts: DevHostOptions) {
    const down = await host.shutdown()
    rig.proxy.outage(0)
    rig.proxy.setSchedule(() => PASS)
    const first = { jobPayloadBytes: [...host.jobPayloadBytes], refusedJobs: host.refusedJobs }
    // PostgreSQL (meta.storage) survives the restart like the job queue does
    const next = await DevHost.start({ ...opts, storage: host.storage })
    for (const job of down.queuedJobs) next.enqueue(job.name, job.payload, 0)
    await next.waitForJobs(60_000)
    const shut = await shutdownAndDrain(next, opts)
    return {
        jobPayloadBytes: [...first.jobPayloadBytes, ...shut.jobPayloadBytes],
        refusedJobs: first.refusedJobs + shut.refusedJobs,
        leftQueued: shut.leftQueued,
        queuedAtTeardown: down.queuedJobs.length,
    }
}
