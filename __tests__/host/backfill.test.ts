/**
 * The backfill through the host's own "Export historical events" job, in the dev host, against the local S3: 50,000
 * past events in the project's event store, live events flowing the whole time (some of them late: timestamped
 * inside the backfilled range), and a restart halfway (a new host on the same storage and job queue). Read back from
 * S3: every event once, none twice.
 */
import { DevHost, type DevHostOptions } from '../../dev/host'
import { EventStore } from '../../dev/event-store'
import { CHAIN_JOB_NAME, INTERFACE_JOB_NAME, KEYS } from '../../dev/historical-export'
import { DevStorage } from '../../dev/storage'
import { proxySettings, startRig, tally, type Rig } from '../helpers/faults'
import { ROOT, shutdownAndDrain, sleep, startSending } from '../helpers/lifecycle'
import { POSTHOG_2024 } from '../helpers/bundles'
import { BACKFILL_JOB, CANNOT_BACKFILL } from '../../src/backfill/boundary'

/** A dev host with the past events in `store`, uploads every 3 s, one job at a time (the plugin-server's JOB_QUEUE_GRAPHILE_CONCURRENCY default). */
function backfillHost(store: EventStore, storage: DevStorage, threads: number, prefix?: string): DevHostOptions {
    const settings: Record<string, string> = { eventsToIgnore: '', uploadMinutes: '0.05', ...(prefix ? { prefix } : {}) }
    return { pluginDir: ROOT, threads, log: () => undefined, config: proxySettings(rig, 'backfill', settings), storage, eventStore: store, jobConcurrency: 1 }
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const PAST = 50_000
const MINUTE = 60_000
let rig: Rig

beforeAll(async () => {
    rig = await startRig(['backfill'])
})
afterAll(async () => {
    await rig.close()
})

function event(uuid: string, i: number, timestamp: number) {
    return {
        uuid,
        event: i % 10 === 0 ? '$autocapture' : '$pageview',
        distinct_id: `user-${i % 331}`,
        team_id: 1,
        ip: '127.0.0.1',
        timestamp: new Date(timestamp).toISOString(),
        properties: { $current_url: `https://example.com/p/${i}`, $browser: 'Firefox', $lib: 'web', n: i, pad: 'y'.repeat(200) },
    }
}

const pastUuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`
const liveUuid = (i: number) => `11111111-0000-4000-8000-${i.toString(16).padStart(12, '0')}`

async function until(what: string, ready: () => boolean, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs
    while (!ready()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
        await sleep(100)
    }
}

it('backfills 50,000 past events while live ones flow, resumes after a restart halfway, and stores every event exactly once', async () => {
    const store = new EventStore()
    const storage = new DevStorage()
    // ingested over the last ~4 h 50 min, the last one 2 s ago: the host's last 10-minute interval then reaches ~9.5
    // minutes past its boundary, into the live events below (as it does in PostHog when the job starts right away)
    const now = Date.now()
    const first = now - (290 * MINUTE + 30_000)
    const span = now - 2_000 - first
    for (let i = 0; i < PAST; i++) {
        const createdAt = first + Math.floor((i * span) / (PAST - 1))
        store.add(event(pastUuid(i), i, createdAt - (i % 7) * MINUTE), createdAt)
    }
    const opts = backfillHost(store, storage, 2)
    // one live event in four is late: timestamped inside the backfilled range, but ingested now
    const live = (i: number) => event(liveUuid(i), i, i % 4 === 0 ? first + ((i * 7_919) % span) : Date.now())
    let sentLive: string[] = []

    const host1 = await DevHost.start(opts)
    const liveSince = Number(storage.get('s3_export_live_since'))
    expect(liveSince).toBeGreaterThan(now - 2_000)
    let sender = startSending(host1, live, { perTick: 2, tickMs: 20 })
    host1.runPublicJob(INTERFACE_JOB_NAME) // the button the host adds for an exportEvents app
    await until('half of the backfill', () => host1.upgradeStats.eventsExported >= PAST / 2, 120_000)
    await sender.stop()
    sentLive = [...sender.sent]
    const down = await host1.shutdown()
    const pagesBefore = host1.upgradeStats.pagesExported
    expect(down.queuedJobs.some((j) => j.name === CHAIN_JOB_NAME)).toBe(true) // the chain waits in the queue

    // the restart: a new host on the same PostgreSQL (storage, job queue) and ClickHouse (event store)
    const host2 = await DevHost.start(opts)
    for (const job of down.queuedJobs) host2.enqueue(job.name, job.payload, 0)
    sender = startSending(host2, (i) => live(i + sentLive.length), { perTick: 2, tickMs: 20 })
    await until('the end of the backfill', () => storage.get(KEYS.running, false) === false, 180_000)
    await sleep(1_000)
    await sender.stop()
    sentLive = sentLive.concat(sender.sent)
    const stats2 = { ...host2.upgradeStats }
    const metrics = host1.metrics
    const metrics2 = host2.metrics
    const drained = await shutdownAndDrain(host2, opts)
    expect(drained.leftQueued).toBe(0)

    const past = Array.from({ length: PAST }, (_, i) => pastUuid(i))
    const t = await tally(rig.reader, 'backfill', [...past, ...sentLive])
    const late = sentLive.filter((u) => parseInt(u.slice(-12), 16) % 4 === 0)
    expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
    expect(t.stored).toBe(PAST + sentLive.length)
    expect(late.length).toBeGreaterThan(100)

    // objects hold one kind of event: the backfill's objects only past events, the live export's only live ones
    const pastSet = new Set(past)
    const kinds = new Set(t.objects.map((o) => (o.events.every((e) => pastSet.has(e.uuid)) ? 'backfill' : o.events.some((e) => pastSet.has(e.uuid)) ? 'mixed' : 'live')))
    expect(kinds).toEqual(new Set(['backfill', 'live']))

    // the second host resumed the chain instead of starting over, and the host's pages did reach past the boundary
    // (live events, late ones included, were in them and were left to the live export)
    expect(stats2.eventsExported).toBeLessThan(PAST)
    expect(stats2.pagesExported).toBeGreaterThan(0)
    expect(pagesBefore).toBeGreaterThan(0)
    const leftToLive = (metrics.backfill_events_left_to_live ?? 0) + (metrics2.backfill_events_left_to_live ?? 0)
    expect(leftToLive).toBeGreaterThan(0)
    // the host's buffer around onEvent kept no live event for exportEvents: the app's setup told it to leave them to onEvent
    expect(host1.upgradeStats.liveEventsToExportEvents + stats2.liveEventsToExportEvents).toBe(0)
    if (process.env.S3_EXPORT_TEST_REPORT) {
        const summary = { past: PAST, live: sentLive.length, late: late.length, stored: t.stored, objects: t.objects.length, duplicated: t.duplicated, lost: t.lost, pagesBeforeRestart: pagesBefore, eventsBeforeRestart: host1.upgradeStats.eventsExported, pagesAfterRestart: stats2.pagesExported, leftToLive, liveHandedToExportEvents: host1.upgradeStats.liveEventsToExportEvents + stats2.liveEventsToExportEvents }
        console.log(JSON.stringify(summary))
    }
    // the app metrics the host shows, summed over both hosts, match S3
    const backfillObjects = t.objects.filter((o) => o.events.every((e) => pastSet.has(e.uuid))).length
    expect((metrics.backfill_events_stored ?? 0) + (metrics2.backfill_events_stored ?? 0)).toBeGreaterThanOrEqual(PAST)
    expect((metrics.backfill_objects_stored ?? 0) + (metrics2.backfill_objects_stored ?? 0)).toBeGreaterThanOrEqual(backfillObjects)
}, 300_000)

it('backfills only the events ingested from the date the app’s own job was given, each once, through the host’s job', async () => {
    const store = new EventStore()
    const storage = new DevStorage()
    const n = 2_000
    // whole seconds, so the host's second-precision bounds and ours agree on every event
    const first = Math.floor((Date.now() - 3 * 60 * MINUTE) / 1000) * 1000
    for (let i = 0; i < n; i++) store.add(event(pastUuid(1_000_000 + i), i, first + i * 5_000), first + i * 5_000)
    const dateFrom = first + 1_000 * 5_000 // the 1,000th event on
    const opts = backfillHost(store, storage, 1, 'range/')
    const host = await DevHost.start(opts)
    host.runPublicJob('Backfill S3 (date range)', { dateFrom: new Date(dateFrom).toISOString() })
    await until('the host job to start', () => storage.get(KEYS.running, false) === true, 30_000)
    await until('the end of the backfill', () => storage.get(KEYS.running, false) === false, 60_000)
    await host.shutdown()

    const expected = Array.from({ length: n - 1_000 }, (_, i) => pastUuid(1_001_000 + i))
    const t = await tally(rig.reader, 'backfill', expected, 'range/')
    expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
    expect(t.objects.every((o) => o.key.startsWith('range/'))).toBe(true)
}, 120_000)

it('keeps each date-range backfill to its own range: after January, a March backfill still finds March and the host’s own export of February–May still takes them as past events', async () => {
    const store = new EventStore()
    const storage = new DevStorage()
    // five "months" of an hour each, ingested before the app was installed; whole seconds, as the host's bounds
    const HOUR = 60 * MINUTE
    const t0 = Math.floor((Date.now() - 6 * HOUR) / HOUR) * HOUR
    const month = (m: number) => t0 + (m - 1) * HOUR
    const perMonth = 120
    const uuids: string[][] = [[], [], [], [], [], []]
    for (let m = 1; m <= 5; m++) {
        for (let i = 0; i < perMonth; i++) {
            const n = 2_000_000 + m * 1_000 + i
            const at = month(m) + i * 30_000
            store.add(event(pastUuid(n), n, at), at)
            uuids[m].push(pastUuid(n))
        }
    }
    const opts = backfillHost(store, storage, 1, 'ranges/')
    const host = await DevHost.start(opts)
    const liveSince = Number(storage.get('s3_export_live_since'))
    const iso = (ms: number) => new Date(ms).toISOString()
    host.runPublicJob('Backfill S3 (date range)', { dateFrom: iso(month(1)), dateTo: iso(month(2)) })
    expect(await host.waitForJobs(60_000)).toBe(true)
    expect(Number(storage.get('s3_export_live_since'))).toBe(liveSince) // the January job did not move the boundary
    host.runPublicJob('Backfill S3 (date range)', { dateFrom: iso(month(3)), dateTo: iso(month(4)) })
    expect(await host.waitForJobs(60_000)).toBe(true)
    const afterMarch = await tally(rig.reader, 'backfill', [...uuids[1], ...uuids[3]], 'ranges/')
    expect({ lost: afterMarch.lost, duplicated: afterMarch.duplicated, unexpected: afterMarch.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
    // the host's own job over February–May: all past events, none taken for live
    host.runPublicJob(INTERFACE_JOB_NAME, { dateFrom: iso(month(2)), dateTo: iso(month(6)) })
    expect(await host.waitForJobs(60_000)).toBe(true)
    await host.shutdown()

    const t = await tally(rig.reader, 'backfill', uuids.flat(), 'ranges/')
    expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
    expect(t.stored).toBe(5 * perMonth)
}, 180_000)

it('notes an ingestion backlog that reaches onEvent after the install in few storage writes, and the backfill still stores every event once', async () => {
    const store = new EventStore()
    const storage = new DevStorage()
    const opts = backfillHost(store, storage, 2, 'backlog/')
    const host = await DevHost.start(opts)
    const liveSince = Number(storage.get('s3_export_live_since'))
    const writes = () => storage.sets + storage.increments
    const writesAtSetup = writes()
    // the backlog: ingested in the minute before the install, handed to onEvent only now (every one may predate the
    // boundary, so each is noted); past events of the same minutes and of two hours before that never reach onEvent
    const BACKLOG = 6_000
    const at = (i: number) => liveSince - 60_000 + i * 8
    const backlog = Array.from({ length: BACKLOG }, (_, i) => ({ ...event(liveUuid(3_000_000 + i), i, at(i) - 1), now: new Date(at(i)).toISOString() }))
    const past = Array.from({ length: 1_000 }, (_, i) => {
        const ingested = i % 2 === 0 ? at(i * 6 + 3) : liveSince - 2 * 60 * MINUTE + i * 1_000
        // timestamped apart from every backlog event (what names an event on both paths is its name, person and time)
        const e = event(pastUuid(3_000_000 + i), 50_000 + i, ingested - 4)
        store.add(e, ingested)
        return e.uuid
    })
    for (let i = 0; i < BACKLOG; i += 200) await Promise.all(backlog.slice(i, i + 200).map((e, k) => host.onEvent(e, at(i + k))))
    const live = backlog.map((e) => e.uuid)
    expect((await waitStoredUnder(live, 'backlog/')).lost).toBe(0)
    await sleep(1_500) // the notes' last record: written within 1 s of its first note
    const noteWrites = writes() - writesAtSetup
    // one write per event was the cost (6,000); one record (two writes: its slot and itself) per 2,000 events or per second
    expect(noteWrites).toBeLessThanOrEqual(BACKLOG / 100)

    host.runPublicJob('Backfill S3 (date range)', { dateFrom: new Date(liveSince - 3 * 60 * MINUTE).toISOString() })
    expect(await host.waitForJobs(60_000)).toBe(true)
    await host.shutdown()
    const t = await tally(rig.reader, 'backfill', [...live, ...past], 'backlog/')
    expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
    if (process.env.S3_EXPORT_TEST_REPORT) console.log(JSON.stringify({ backlog: BACKLOG, noteWrites, stored: t.stored }))
}, 180_000)

async function waitStoredUnder(uuids: string[], prefix: string) {
    const end = Date.now() + 60_000
    let t = await tally(rig.reader, 'backfill', uuids, prefix)
    while (t.lost > 0 && Date.now() < end) {
        await sleep(250)
        t = await tally(rig.reader, 'backfill', uuids, prefix)
    }
    return t
}

it('says, when the backfill button is pressed under the 2024 plugin server (no historical export there), that this PostHog cannot backfill, and starts nothing', async () => {
    const lines: Array<{ level: string; message: string }> = []
    const opts: DevHostOptions = {
        ...backfillHost(new EventStore(), new DevStorage(), 1),
        pluginDir: POSTHOG_2024.pluginDir,
        config: proxySettings(rig, 'backfill', { ...POSTHOG_2024.settings, eventsToIgnore: '' }),
        ...POSTHOG_2024.host,
        log: (level, message) => void lines.push({ level, message }),
    }
    const host = await DevHost.start(opts)
    try {
        host.runPublicJob(BACKFILL_JOB, { dateFrom: '2024-01-01' })
        expect(await host.waitForJobs(30_000)).toBe(true)
        expect(lines.filter((l) => l.message.includes(CANNOT_BACKFILL))).toHaveLength(1)
        // nothing was started: no job but the button's ran, and the app did not fail
        expect(host.jobQueue.size).toBe(0)
        expect(host.disabled).toBe(false)
    } finally {
        await host.shutdown()
    }
}, 120_000)
