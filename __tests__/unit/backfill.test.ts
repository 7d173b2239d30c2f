import { BACKFILL_RANGE_KEY, HOST_MAX_KEY, LIVE_SINCE_KEY, readPageBounds, setLiveSince, startBackfill } from '../../src/backfill/boundary'
import { EDGE_SLACK_MS, EDGE_WINDOW_MS, edgeId, hostTimeMs, isHistoricalBatch, mayPredateBoundary, pageBatchId, pageTime, selectPage } from '../../src/backfill/pages'
import { EDGE_PER_EVENT_FLAG, EDGE_RECORD_PREFIX, EDGE_SLOTS_KEY, EdgeLookup, EdgeNotes } from '../../src/backfill/edge-notes'

const L = Date.UTC(2026, 11, 1, 12, 0, 0)
const iso = (ms: number) => new Date(ms).toISOString()
const accepts = { accepts: (e: { event: string }) => e.event !== '$ignored' }

function pageEvent(i: number, ingestedAt: number | undefined, timestamp = ingestedAt ?? L, event = '$pageview') {
    return {
        uuid: `u-${i}`,
        event,
        distinct_id: `d-${i}`,
        team_id: 1,
        timestamp: iso(timestamp),
        now: iso(Date.now()),
        sent_at: ingestedAt === undefined ? undefined : iso(ingestedAt),
        properties: { $$is_historical_export_event: true },
    } as any
}

describe('telling the host’s pages from its live batches', () => {
    it('takes a batch with the historical export marker for a page', () => {
        expect(isHistoricalBatch([pageEvent(1, L)])).toBe(true)
    })
    it('takes a batch of events without a uuid for a page, as older hosts’ rows have none', () => {
        expect(isHistoricalBatch([{ event: 'x', distinct_id: 'd', properties: {} } as any])).toBe(true)
    })
    it('takes a batch of live events (uuid, no marker) for live, and an empty batch for nothing to do', () => {
        expect(isHistoricalBatch([{ uuid: 'u', event: 'x', distinct_id: 'd', properties: {} } as any])).toBe(false)
        expect(isHistoricalBatch([])).toBe(false)
    })
})

describe('host times', () => {
    it('reads ClickHouse’s zone-less times as UTC, whatever the machine’s zone', () => {
        expect(hostTimeMs('2026-12-01 12:00:00.123456')).toBe(L + 123)
        expect(hostTimeMs('2026-12-01 12:00:00')).toBe(L)
    })
    it('reads ISO times with their zone, and nothing from what is not a time', () => {
        expect(hostTimeMs('2026-12-01T13:00:00+01:00')).toBe(L)
        expect(hostTimeMs('')).toBeUndefined()
        expect(hostTimeMs(undefined)).toBeUndefined()
        expect(hostTimeMs('soon')).toBeUndefined()
    })
})

describe('the boundary', () => {
    it('keeps events ingested before it and leaves those ingested at or after it to the live export, whatever their timestamp', () => {
        const late = pageEvent(3, L + 5_000, L - 86_400_000) // last week's event, ingested after the boundary
        const s = selectPage([pageEvent(1, L - 1), pageEvent(2, L), late], L, accepts)
        expect(s.keep.map((e) => e.uuid)).toEqual(['u-1'])
        expect(s.live).toBe(2)
    })
    it('drops events the app does not export at all, and counts them', () => {
        const s = selectPage([pageEvent(1, L - 1_000, L - 1_000, '$ignored')], L, accepts)
        expect({ keep: s.keep.length, ignored: s.ignored }).toEqual({ keep: 0, ignored: 1 })
    })
    it('falls back to the event time for a page without ingestion times, and says so', () => {
        const s = selectPage([pageEvent(1, undefined, L - 1), pageEvent(2, undefined, L + 1)], L, accepts)
        expect({ keep: s.keep.map((e) => e.uuid), withoutIngestionTime: s.withoutIngestionTime }).toEqual({ keep: ['u-1'], withoutIngestionTime: 2 })
    })
    it('marks kept events ingested within the edge window before the boundary for the edge lookup, and no others', () => {
        const s = selectPage([pageEvent(1, L - EDGE_WINDOW_MS - 1), pageEvent(2, L - EDGE_WINDOW_MS), pageEvent(3, L - 1)], L, accepts)
        expect(s.nearEdge.map((e) => e.uuid)).toEqual(['u-2', 'u-3'])
    })
})

describe('the edge notes of live copies', () => {
    it('notes a live event captured before the boundary (plus the slack) while the window is open', () => {
        const e = { ...pageEvent(1, undefined), now: iso(L - 500) }
        expect(mayPredateBoundary(e, L, L + 1_000)).toBe(true)
        expect(mayPredateBoundary({ ...e, now: iso(L + EDGE_SLACK_MS - 1) }, L, L + 1_000)).toBe(true)
    })
    it('notes nothing captured well after the boundary, and nothing once the window has passed', () => {
        const e = { ...pageEvent(1, undefined), now: iso(L + EDGE_SLACK_MS) }
        expect(mayPredateBoundary(e, L, L + 1_000)).toBe(false)
        expect(mayPredateBoundary({ ...e, now: iso(L - 500) }, L, L + EDGE_WINDOW_MS)).toBe(false)
    })
    it('goes by the event time when the host gives no capture time (the monorepo’s onEvent events)', () => {
        const e = { ...pageEvent(1, undefined, L - 1), now: undefined }
        expect(mayPredateBoundary(e, L, L + 1_000)).toBe(true)
    })
    it('names an event the same on the live path and in a page, ClickHouse time format or ISO', () => {
        const liveEvent = { event: '$pageview', distinct_id: 'd', timestamp: '2026-12-01T12:00:00.123Z' } as any
        const fromPage = { event: '$pageview', distinct_id: 'd', timestamp: '2026-12-01 12:00:00.123000' } as any
        expect(edgeId(liveEvent)).toBe(edgeId(fromPage))
        expect(edgeId(liveEvent)).not.toBe(edgeId({ ...liveEvent, distinct_id: 'e' }))
    })
})

describe('backfill object names', () => {
    it('gives the same page the same batch id and time on every run, and another page another id', () => {
        const page = [pageEvent(1, L - 2_000), pageEvent(2, L - 1_000)]
        const again = page.map((e) => ({ ...e, now: iso(Date.now() + 1_000) }))
        expect(pageBatchId(again)).toBe(pageBatchId(page))
        expect(pageBatchId(page)).toMatch(/^[0-9a-f]{16}$/)
        expect(pageBatchId(page.slice(1))).not.toBe(pageBatchId(page))
        expect(pageTime(page)).toBe(L - 2_000)
    })
})

describe('backfill jobs and the boundary', () => {
    const JUNE = Date.UTC(2026, 5, 1)
    const day = (month: number, d = 1) => Date.UTC(2026, month - 1, d)
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, log: () => undefined } as any

    /** meta.storage as PostgreSQL keeps it (values copied as JSON), and the host's v1 job as it stores its bounds */
    function hostWithStorage() {
        const values = new Map<string, string>([[LIVE_SINCE_KEY, JSON.stringify(JUNE)]])
        const storage = {
            get: async (key: string, d: unknown) => (values.has(key) ? JSON.parse(values.get(key)!) : d),
            set: async (key: string, v: unknown) => void values.set(key, JSON.stringify(v)),
        }
        const started: Array<{ dateFrom?: string; dateTo: string }> = []
        const startHostJob = async (p: { dateFrom?: string; dateTo: string }) => {
            started.push(p)
            // export-historical-events.ts initTimestampsAndCursor: MAX_UNIX_TIMESTAMP_KEY from the payload's dateTo
            await storage.set(HOST_MAX_KEY, new Date(p.dateTo).getTime())
        }
        return { storage, started, startHostJob }
    }

    it('keeps a January backfill’s range to that job, so a March backfill after it still finds March', async () => {
        const host = hostWithStorage()
        await startBackfill({ dateFrom: '2026-01-01', dateTo: '2026-02-01' }, { ...host, log: quiet, now: day(12) })
        expect(await host.storage.get(LIVE_SINCE_KEY, null)).toBe(JUNE)
        await startBackfill({ dateFrom: '2026-03-01', dateTo: '2026-04-01' }, { ...host, log: quiet, now: day(12) })
        expect(host.started).toEqual([
            { dateFrom: iso(day(1)), dateTo: iso(day(2)) },
            { dateFrom: iso(day(3)), dateTo: iso(day(4)) },
        ])
        // the March run's pages: March kept, the host's overshoot past April 1 left to the job of that range
        const bounds = await readPageBounds(host.storage, 0)
        expect(bounds).toEqual({ liveSince: JUNE, range: { from: day(3), to: day(4) } })
        const page = [pageEvent(1, day(3, 15)), pageEvent(2, day(4) - 1), pageEvent(3, day(4) + 5 * 60_000)]
        const s = selectPage(page, bounds.liveSince, accepts, bounds.range)
        expect(s.keep.map((e) => e.uuid)).toEqual(['u-1', 'u-2'])
        expect(s.outsideRange).toBe(1)
        expect(s.live).toBe(0)
    })

    it('leaves February to May to the host’s own historical export after a January backfill: they are past events, not live', async () => {
        const host = hostWithStorage()
        await startBackfill({ dateFrom: '2026-01-01', dateTo: '2026-02-01' }, { ...host, log: quiet, now: day(12) })
        // the host's own button: its run's bound is the team's latest event, not the January job's
        await host.storage.set(HOST_MAX_KEY, JUNE + 60_000)
        const bounds = await readPageBounds(host.storage, 0)
        expect(bounds).toEqual({ liveSince: JUNE })
        const page = [2, 3, 4, 5].map((m) => pageEvent(m, day(m, 10)))
        const s = selectPage(page, bounds.liveSince, accepts, bounds.range)
        expect(s.keep).toHaveLength(4)
        expect(s.live).toBe(0)
    })

    it('cuts a range at the boundary, and refuses one that starts after it', async () => {
        const host = hostWithStorage()
        await startBackfill({ dateFrom: '2026-05-01', dateTo: '2026-08-01' }, { ...host, log: quiet, now: day(12) })
        await startBackfill({ dateFrom: '2026-07-01' }, { ...host, log: quiet, now: day(12) })
        expect(host.started).toEqual([{ dateFrom: iso(day(5)), dateTo: iso(JUNE) }])
        expect(await host.storage.get(BACKFILL_RANGE_KEY, null)).toEqual({ from: day(5), to: JUNE })
    })

    it('moves the boundary only through its own job, to a date not in the future', async () => {
        const host = hostWithStorage()
        await setLiveSince({ liveSince: '2026-03-01' }, { storage: host.storage, log: quiet, now: day(12) })
        expect(await host.storage.get(LIVE_SINCE_KEY, null)).toBe(day(3))
        await setLiveSince({ liveSince: '2027-01-01' }, { storage: host.storage, log: quiet, now: day(12) })
        await setLiveSince({ liveSince: 'soon' }, { storage: host.storage, log: quiet, now: day(12) })
        expect(await host.storage.get(LIVE_SINCE_KEY, null)).toBe(day(3))
    })
})

describe('the edge notes, many to a storage write', () => {
    /** meta.storage and utils.cursor as the host has them, counting writes; a schedule the test fires by hand */
    function fakeHost(withCursor = true) {
        const values = new Map<string, unknown>()
        const counts = { sets: 0, increments: 0 }
        const timers: Array<() => void> = []
        const set = async (key: string, value: unknown) => {
            counts.sets++
            values.set(key, JSON.parse(JSON.stringify(value)))
        }
        const increment = async (key: string) => {
            counts.increments++
            const next = Number(values.get(key) ?? 0) + 1
            values.set(key, next)
            return next
        }
        const schedule = (_ms: number, fn: () => void) => {
            timers.push(fn)
            return { cancel: () => undefined }
        }
        const get = async (key: string) => (values.has(key) ? values.get(key) : null)
        return { values, counts, timers, set, get, increment: withCursor ? increment : undefined, schedule }
    }

    it('writes 5,000 notes as three records (two writes each), the last when its timer fires, and the reader finds each note', async () => {
        const host = fakeHost()
        const notes = new EdgeNotes({ set: host.set, increment: host.increment, schedule: host.schedule })
        const ids = Array.from({ length: 5_000 }, (_, i) => `id-${i}`)
        for (const id of ids) notes.note(id)
        await notes.flush() // the two full records are on their way; wait for them
        host.timers.forEach((fire) => fire())
        await notes.flush()
        expect(host.counts).toEqual({ sets: 3, increments: 3 })
        const lookup = new EdgeLookup(host.get)
        const seen = await lookup.seenLive(['id-0', 'id-4999', 'id-2500', 'never'])
        expect([...seen].sort()).toEqual(['id-0', 'id-2500', 'id-4999'])
    })

    it('reads a slot whose record is not written yet again at the next lookup', async () => {
        const host = fakeHost()
        await host.increment!(EDGE_SLOTS_KEY) // a copy took slot 1 and has not written it yet
        const lookup = new EdgeLookup(host.get)
        expect((await lookup.seenLive(['late'])).size).toBe(0)
        await host.set(EDGE_RECORD_PREFIX + 1, ['late'])
        expect([...(await lookup.seenLive(['late']))]).toEqual(['late'])
    })

    it('falls back to one key per event on a host without the counter, and the reader looks those up too', async () => {
        const host = fakeHost(false)
        const notes = new EdgeNotes({ set: host.set, schedule: host.schedule })
        notes.note('a')
        notes.note('b')
        await notes.flush()
        await new Promise((r) => setImmediate(r))
        expect(host.values.get(EDGE_PER_EVENT_FLAG)).toBe(1)
        const seen = await new EdgeLookup(host.get).seenLive(['a', 'b', 'c'])
        expect([...seen].sort()).toEqual(['a', 'b'])
    })
})
