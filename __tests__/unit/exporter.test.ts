/**
 * The Exporter with fakes only: a scripted ObjectStore, a fake clock, a fake one-shot scheduler the test fires by
 * advancing the clock, a fixed random and counting random bytes. Nothing here sleeps; the only real asynchrony is
 * zlib's thread pool, awaited with `waitFor` / `settle`.
 */
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { brotliDecompressSync, gunzipSync, gzipSync } from 'zlib'
import { joinBody, type Body } from '../../src/body'
import type { Config } from '../../src/config'
import { utf8Length } from '../../src/event/json-line'
import { CODECS } from '../../src/formats/codecs/registry'
import { BATCH_OVERHEAD_BYTES, PENDING_LINE_OVERHEAD_BYTES } from '../../src/formats/line-batch'
import { jsonLine } from '../helpers/json-line'
import { Exporter, LATE_SEAL_MS, SEALED_BATCH_OVERHEAD_BYTES, type Cancel, type ExporterOptions, type Spill } from '../../src/export/exporter'
import { LAYOUTS } from '../../src/event/keys'
import { version as PACKAGE_VERSION } from '../../package.json'
import { backoffMs } from '../../src/export/retry-policy'
import type { ObjectStore, PutObjectRequest, PutOutcome } from '../../src/s3/client'

// ---------------------------------------------------------------------------------------------------------------
// fakes

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0)
const OK: PutOutcome = { kind: 'ok', etag: '"etag"' }
const SLOW_DOWN: PutOutcome = { kind: 'retry', failure: { code: 'SlowDown', statusCode: 503, message: 'Please reduce your request rate.' } }
const CONN_RESET: PutOutcome = { kind: 'retry', failure: { code: 'ECONNRESET', message: 'socket hang up' } }
const ACCESS_DENIED: PutOutcome = { kind: 'fatal', failure: { code: 'AccessDenied', statusCode: 403, message: 'Access Denied' } }

interface FakeTimer {
    delayMs: number
    at: number
    fn: () => void
    cancelled: boolean
    fired: boolean
}

class FakeClock {
    t = T0
    readonly timers: FakeTimer[] = []
    now = (): number => this.t
    schedule = (delayMs: number, fn: () => void): Cancel => {
        const timer: FakeTimer = { delayMs, at: this.t + delayMs, fn, cancelled: false, fired: false }
        this.timers.push(timer)
        return {
            cancel: () => {
                timer.cancelled = true
            },
        }
    }
    pending(): FakeTimer[] {
        return this.timers.filter((t) => !t.cancelled && !t.fired)
    }
    /** Move the clock forward and fire every timer that is due by then, earliest first. */
    advance(ms: number): void {
        const until = this.t + ms
        for (;;) {
            const due = this.pending()
                .filter((t) => t.at <= until)
                .sort((a, b) => a.at - b.at)[0]
            if (!due) break
            this.t = Math.max(this.t, due.at)
            due.fired = true
            due.fn()
        }
        this.t = until
    }
    /** Fire one timer without moving the clock (a host timer that runs a little early). */
    fire(timer: FakeTimer): void {
        timer.fired = true
        timer.fn()
    }
}

type Step = PutOutcome | 'hang' | 'hold'

/** A put as recorded: its body joined (a large body comes in pieces, body.ts). */
type RecordedPut = PutObjectRequest & { body: Buffer }

/** An ObjectStore that records every put, answers from a script (then ok), and checks puts never overlap. */
class FakeStore implements ObjectStore {
    readonly requests: RecordedPut[] = []
    readonly outcomes: Array<PutOutcome | undefined> = []
    readonly script: Step[] = []
    inFlight = 0
    maxInFlight = 0
    private readonly held: Array<(outcome: PutOutcome) => void> = []

    put(request: PutObjectRequest): Promise<PutOutcome> {
        this.inFlight++
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
        const index = this.requests.push({ ...request, body: joinBody(request.body) }) - 1
        const step = this.script.shift() ?? OK
        const answer = (outcome: PutOutcome): PutOutcome => {
            this.inFlight--
            this.outcomes[index] = outcome
            return outcome
        }
        if (step === 'hang') return new Promise<PutOutcome>(() => undefined)
        if (step === 'hold') return new Promise<PutOutcome>((resolve) => this.held.push((o) => resolve(answer(o))))
        // answer a few turns later, like a network would, so an overlapping put would be seen
        return new Promise<PutOutcome>((resolve) => setImmediate(() => setImmediate(() => resolve(answer(step)))))
    }

    /** Answer the oldest held put. */
    release(outcome: PutOutcome = OK): void {
        const next = this.held.shift()
        if (!next) throw new Error('no held put to release')
        next(outcome)
    }

    stored(): RecordedPut[] {
        return this.requests.filter((_, i) => this.outcomes[i]?.kind === 'ok')
    }
}

class FakeLog {
    readonly lines: Array<{ level: 'info' | 'warn' | 'error'; message: string }> = []
    info = (message: string) => void this.lines.push({ level: 'info', message })
    warn = (message: string) => void this.lines.push({ level: 'warn', message })
    error = (message: string) => void this.lines.push({ level: 'error', message })
    at(level: 'info' | 'warn' | 'error'): string[] {
        return this.lines.filter((l) => l.level === level).map((l) => l.message)
    }
}

type ExporterConfig = ExporterOptions['config']

function setup(config: Partial<ExporterConfig> = {}, options: Partial<ExporterOptions> = {}) {
    const clock = new FakeClock()
    const store = new FakeStore()
    const log = new FakeLog()
    let counter = 0
    const compression = config.compression ?? 'gzip'
    const fullConfig: ExporterConfig = {
        bucket: 'test-bucket',
        prefix: 'exports/',
        format: 'jsonl',
        compression,
        // what parseConfig resolves when the level is left empty
        compressionLevel: CODECS[compression].levels?.default ?? 0,
        maxBatchBytes: 1_000_000,
        uploadIntervalMs: 60_000,
        bufferLimitBytes: 64 * 1_048_576,
        keyTemplate: LAYOUTS.original,
        eventsToIgnore: new Set<string>(),
        eventsToInclude: new Set<string>(),
        propertiesToRemove: [],
        stripPersonalData: false,
        ...config,
    }
    const exporter = new Exporter({
        config: fullConfig,
        store,
        now: clock.now,
        random: () => 0.5,
        // counting bytes: deterministic, yet every batch id differs
        randomBytes: (n) => {
            counter++
            return Array.from({ length: n }, (_, i) => (i === n - 1 ? counter & 0xff : i === n - 2 ? (counter >> 8) & 0xff : 0))
        },
        schedule: clock.schedule,
        log,
        fatalRetryMs: 30_000,
        ...options,
    })
    return { clock, store, log, exporter, config: fullConfig }
}

/** A recording spill that accepts everything. */
function recordingSpill() {
    const batches: Array<Parameters<Spill>[0]> = []
    const spill: Spill = (batch) => {
        batches.push(batch)
        return Promise.resolve({ accepted: batch.events, refused: 0, jobs: 1 })
    }
    return { spill, batches }
}

function makeEvent(i: number, opts: { name?: string; padBytes?: number } = {}): ProcessedPluginEvent {
    return {
        distinct_id: `user-${i % 7}`,
        ip: null,
        team_id: 1,
        event: opts.name ?? '$pageview',
        properties: { i, pad: 'x'.repeat(opts.padBytes ?? 0), text: 'ü😀漢' },
        timestamp: new Date(T0 + i).toISOString(),
        uuid: `00000000-0000-7000-8000-${i.toString().padStart(12, '0')}`,
    }
}

const lineBytes = (event: ProcessedPluginEvent) => utf8Length(jsonLine(event))

function decode(body: Body, contentEncoding?: string): Buffer {
    const whole = joinBody(body)
    if (contentEncoding === 'gzip') return gunzipSync(whole)
    if (contentEncoding === 'br') return brotliDecompressSync(whole)
    return whole
}

function linesOf(request: { body: Body; contentEncoding?: string; file?: { contentEncoding?: string } }): string[] {
    const text = decode(request.body, request.contentEncoding ?? request.file?.contentEncoding).toString('utf8')
    expect(text.endsWith('\n')).toBe(true)
    return text.slice(0, -1).split('\n')
}

const uuidsOf = (request: { body: Body; contentEncoding?: string }) => linesOf(request).map((l) => JSON.parse(l).uuid as string)

/** Every uuid in `expected` appears exactly once across `requests`, and nothing else does. */
function expectEachExactlyOnce(requests: Array<{ body: Body; contentEncoding?: string }>, expected: string[]): void {
    const seen = requests.flatMap(uuidsOf)
    const counts = new Map<string, number>()
    for (const uuid of seen) counts.set(uuid, (counts.get(uuid) ?? 0) + 1)
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([])
    expect([...counts.keys()].sort()).toEqual([...expected].sort())
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
    const started = Date.now()
    while (!condition()) {
        if (Date.now() - started > 3_000) throw new Error(`timed out waiting for ${what}`)
        await new Promise((resolve) => setImmediate(resolve))
    }
}

/** Let pending zlib work and promise chains run, for checks that something did NOT happen. */
async function settle(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 2))
    for (let i = 0; i < 30; i++) await new Promise((resolve) => setImmediate(resolve))
}

function track<T>(promise: Promise<T>): { done: () => boolean; value: () => T | undefined } {
    let done = false
    let value: T | undefined
    promise.then((v) => {
        done = true
        value = v
    })
    return { done: () => done, value: () => value }
}

// ---------------------------------------------------------------------------------------------------------------

describe('Exporter', () => {
    describe('filtering', () => {
        it('does not upload ignored events, and counts them', async () => {
            const { exporter, store } = setup({ eventsToIgnore: new Set(['$feature_flag_called', 'secret event']) })
            const kept = [makeEvent(1), makeEvent(2), makeEvent(3)]
            exporter.add(makeEvent(10, { name: '$feature_flag_called' }))
            exporter.add(kept[0])
            exporter.add(makeEvent(11, { name: 'secret event' }))
            exporter.add(kept[1])
            exporter.add(makeEvent(12, { name: '$feature_flag_called' }))
            exporter.add(kept[2])
            await exporter.flush()

            expect(exporter.stats.seen).toBe(6)
            expect(exporter.stats.ignored).toBe(3)
            expect(exporter.stats.delivered).toBe(3)
            expectEachExactlyOnce(store.requests, kept.map((e) => e.uuid))
            expect(store.requests.flatMap(linesOf).map((l) => JSON.parse(l).event)).not.toContain('$feature_flag_called')
        })

        it('uploads nothing when every event is ignored', async () => {
            const { exporter, store, clock } = setup({ eventsToIgnore: new Set(['$pageview']) })
            for (let i = 0; i < 5; i++) exporter.add(makeEvent(i))
            await exporter.flush()
            clock.advance(120_000)
            await settle()
            expect(store.requests).toHaveLength(0)
            expect(exporter.pendingEvents()).toBe(0) // nothing was ever buffered
            expect(exporter.stats.ignored).toBe(5)
            expect(exporter.pendingEvents()).toBe(0)
        })
    })

    describe('objects', () => {
        it('stores each batch under {prefix}{day}/{stamp}Z-{id}.jsonl.gz with the gzip content encoding', async () => {
            const { exporter, store } = setup()
            exporter.add(makeEvent(1))
            await exporter.flush()
            expect(store.requests).toHaveLength(1)
            const [put] = store.requests
            expect(put.key).toBe('exports/2026-11-25/20261125-100000.000Z-0000000000000001.jsonl.gz')
            expect(put.contentEncoding).toBe('gzip')
            expect(put.contentType).toBe('application/x-ndjson')
            expect(uuidsOf(put)).toEqual([makeEvent(1).uuid])
        })

        it('writes events in the order they were added, batches in the order they were sealed', async () => {
            const events = Array.from({ length: 60 }, (_, i) => makeEvent(i, { padBytes: 100 }))
            const { exporter, store } = setup({ maxBatchBytes: 5 * lineBytes(events[0]) })
            for (const e of events) exporter.add(e)
            await exporter.flush()
            expect(store.requests.length).toBeGreaterThan(5)
            expect(store.requests.flatMap(uuidsOf)).toEqual(events.map((e) => e.uuid))
        })
    })

    describe('the size cap', () => {
        it('seals a batch before the size cap would be crossed, so every object holds at most the cap', async () => {
            const cap = 4_000
            // sizes that do not divide the cap evenly
            const events = Array.from({ length: 200 }, (_, i) => makeEvent(i, { padBytes: (i * 137) % 900 }))
            const { exporter, store } = setup({ maxBatchBytes: cap })
            for (const e of events) exporter.add(e)
            await exporter.flush()

            const raw = store.requests.map((r) => decode(r.body, r.contentEncoding).length)
            expect(raw.every((bytes) => bytes <= cap)).toBe(true)
            // and not sealed early: the next object's first event would not have fitted into the previous one
            for (let i = 0; i + 1 < store.requests.length; i++) {
                const firstOfNext = Buffer.byteLength(linesOf(store.requests[i + 1])[0] + '\n')
                expect(raw[i] + firstOfNext).toBeGreaterThan(cap)
            }
            expectEachExactlyOnce(store.requests, events.map((e) => e.uuid))
            expect(exporter.stats.objects).toBe(store.requests.length)
        })

        it('seals as soon as a batch reaches the cap exactly, without waiting for the next event', async () => {
            const event = makeEvent(1, { padBytes: 300 })
            const { exporter, store } = setup({ maxBatchBytes: 2 * lineBytes(event) })
            exporter.add(event)
            exporter.add(makeEvent(2, { padBytes: 300 }))
            await waitFor(() => store.requests.length === 1, 'the full batch to be uploaded')
            expect(uuidsOf(store.requests[0])).toEqual([makeEvent(1).uuid, makeEvent(2).uuid])
        })

        it('uploads an event bigger than the cap alone', async () => {
            const cap = 2_000
            const small1 = makeEvent(1)
            const big = makeEvent(2, { padBytes: 5_000 })
            const small2 = makeEvent(3)
            const { exporter, store } = setup({ maxBatchBytes: cap })
            exporter.add(small1)
            exporter.add(big)
            exporter.add(small2)
            await exporter.flush()
            expect(store.requests.map(uuidsOf)).toEqual([[small1.uuid], [big.uuid], [small2.uuid]])
        })
    })

    describe('the time trigger', () => {
        it('seals after uploadIntervalMs when the scheduled timer fires, with no new event', async () => {
            const { exporter, store, clock } = setup({ uploadIntervalMs: 60_000 })
            exporter.add(makeEvent(1))
            clock.advance(10_000)
            exporter.add(makeEvent(2))
            expect(clock.pending().map((t) => t.delayMs)).toEqual([60_000])

            clock.advance(49_999)
            await settle()
            expect(store.requests).toHaveLength(0)
            expect(exporter.pendingEvents()).toBe(2) // still open: sealing is synchronous, so this cannot pass by luck

            clock.advance(1)
            await waitFor(() => store.requests.length === 1, 'the timed upload')
            expect(store.requests[0].key).toContain('/20261125-100100.000Z-') // sealed at T0 + 60 s
            expect(uuidsOf(store.requests[0])).toEqual([makeEvent(1).uuid, makeEvent(2).uuid])
            await waitFor(() => exporter.stats.delivered === 2, 'delivery')
        })

        it('seals when its timer fires even if the clock reads a millisecond short of the interval', async () => {
            // Host timers may fire ~1 ms early against Date.now(); the batch must not then wait for another minute.
            const { exporter, store, clock } = setup({ uploadIntervalMs: 60_000 })
            exporter.add(makeEvent(1))
            const [timer] = clock.pending()
            clock.t = T0 + 59_999
            clock.fire(timer)
            clock.advance(1) // the interval has now passed; fires whatever the exporter scheduled meanwhile
            await waitFor(() => store.requests.length === 1, 'the upload')
        })

        it('seals an overdue batch on tick() even when its timer never fired', async () => {
            const { exporter, store, clock } = setup({ uploadIntervalMs: 60_000 })
            exporter.add(makeEvent(1))
            clock.t = T0 + 30_000
            exporter.tick()
            await settle()
            expect(store.requests).toHaveLength(0)
            expect(exporter.pendingEvents()).toBe(1) // still open: sealing is synchronous, so this cannot pass by luck
            clock.t = T0 + 60_000
            exporter.tick()
            await waitFor(() => store.requests.length === 1, 'the upload after tick')
        })

        it('seals an overdue batch when the next event arrives', async () => {
            const { exporter, store, clock } = setup({ uploadIntervalMs: 60_000 })
            exporter.add(makeEvent(1))
            clock.t = T0 + 60_000
            exporter.add(makeEvent(2))
            await waitFor(() => store.requests.length === 1, 'the upload')
            expect(uuidsOf(store.requests[0])).toEqual([makeEvent(1).uuid, makeEvent(2).uuid])
        })
    })

    describe('retries', () => {
        it('retries a retryable failure under the same key after the backoff and delivers exactly once', async () => {
            const { exporter, store, clock, log } = setup()
            store.script.push(SLOW_DOWN)
            const events = Array.from({ length: 20 }, (_, i) => makeEvent(i))
            for (const e of events) exporter.add(e)
            void exporter.flush()
            await waitFor(() => store.outcomes[0] !== undefined, 'the first attempt')

            const wait = backoffMs(1, 0.5)
            expect(clock.pending().map((t) => t.delayMs)).toEqual([wait])
            clock.advance(wait - 1)
            await settle()
            expect(store.requests).toHaveLength(1)

            clock.advance(1)
            await waitFor(() => exporter.stats.delivered === 20, 'the retried upload')
            expect(store.requests).toHaveLength(2)
            expect(store.requests[1].key).toBe(store.requests[0].key)
            expect(store.requests[1].body.equals(store.requests[0].body)).toBe(true)
            expect(store.stored()).toHaveLength(1)
            expectEachExactlyOnce(store.stored(), events.map((e) => e.uuid))
            expect(exporter.stats).toMatchObject({ delivered: 20, objects: 1, retries: 1, failures: 0 })
            expect(log.at('warn').join('\n')).toContain('SlowDown')
            expect(log.at('error')).toEqual([])
        })

        it('honours the server Retry-After as the least wait', async () => {
            const { exporter, store, clock } = setup()
            store.script.push({ kind: 'retry', failure: { code: 'SlowDown', statusCode: 503, message: 'slow', retryAfterMs: 20_000 } })
            exporter.add(makeEvent(1))
            void exporter.flush()
            await waitFor(() => store.outcomes[0] !== undefined, 'the first attempt')
            expect(clock.pending().map((t) => t.delayMs)).toEqual([20_000])
        })

        it('resume() (S3 took another write) uploads a batch waiting out its backoff at once, with no time passing', async () => {
            const { exporter, store, clock } = setup()
            store.script.push(SLOW_DOWN, SLOW_DOWN, SLOW_DOWN)
            exporter.add(makeEvent(1))
            void exporter.flush()
            for (let n = 1; n <= 3; n++) {
                await waitFor(() => store.outcomes[n - 1] !== undefined, `attempt ${n}`)
                await settle()
                if (n < 3) clock.advance(clock.pending()[0].delayMs)
            }
            expect(clock.pending()).toHaveLength(1) // the third backoff is armed and nothing else
            exporter.resume()
            await waitFor(() => exporter.stats.delivered === 1, 'the upload after resume')
            expect(store.requests).toHaveLength(4)
            expect(store.stored()).toHaveLength(1)
            expect(clock.pending()).toEqual([]) // the backoff's timer is gone with it
        })

        it('flush() does not resolve while a batch waits out a retryable backoff', async () => {
            const { exporter, store, clock } = setup()
            store.script.push(SLOW_DOWN)
            exporter.add(makeEvent(1))
            const flushed = track(exporter.flush())
            await waitFor(() => store.outcomes[0] !== undefined, 'the first attempt')
            await settle()
            expect(flushed.done()).toBe(false) // nothing is stored yet

            clock.advance(backoffMs(1, 0.5))
            await waitFor(() => flushed.done(), 'flush after the retry')
            expect(exporter.stats.delivered).toBe(1)
        })
    })

    describe('a fatal failure', () => {
        it('is reported once with the bucket and the fix, the batch is kept, retried after fatalRetryMs and delivered once S3 answers ok', async () => {
            const events = Array.from({ length: 50 }, (_, i) => makeEvent(i, { padBytes: 200 }))
            const { exporter, store, clock, log } = setup({ maxBatchBytes: 20 * lineBytes(events[0]) })
            store.script.push(ACCESS_DENIED, ACCESS_DENIED)
            for (const e of events) exporter.add(e)
            void exporter.flush()
            await waitFor(() => store.outcomes[0] !== undefined, 'the first attempt')
            await settle()

            expect(store.requests).toHaveLength(1) // the later batches wait behind the failing one
            expect(exporter.pendingEvents()).toBe(50)
            const errors = log.at('error')
            expect(errors).toHaveLength(1)
            expect(errors[0]).toContain('test-bucket')
            expect(errors[0]).toContain('s3:PutObject')
            expect(clock.pending().map((t) => t.delayMs)).toEqual([30_000])

            clock.advance(29_999)
            await settle()
            expect(store.requests).toHaveLength(1)

            clock.advance(1) // second attempt: still denied, within the report interval
            await waitFor(() => store.outcomes[1] !== undefined, 'the second attempt')
            await settle()
            expect(log.at('error')).toHaveLength(1)
            expect(exporter.pendingEvents()).toBe(50)

            clock.advance(30_000) // third attempt: the user fixed the policy
            await waitFor(() => exporter.stats.delivered === 50, 'delivery after the fix')
            expect(store.requests[1].key).toBe(store.requests[0].key)
            expect(store.requests[2].key).toBe(store.requests[0].key)
            expect(log.at('error')).toHaveLength(1)
            expect(exporter.stats.failures).toBe(2)
            expect(exporter.pendingEvents()).toBe(0)
            expectEachExactlyOnce(store.stored(), events.map((e) => e.uuid))
            expect(log.at('info').join('\n')).toContain('after 3 attempts')
        })
    })

    describe('uploads in flight', () => {
        it('never overlaps two uploads, even while events keep arriving', async () => {
            const events = Array.from({ length: 300 }, (_, i) => makeEvent(i, { padBytes: 50 }))
            const { exporter, store } = setup({ maxBatchBytes: 10 * lineBytes(events[0]) })
            for (let i = 0; i < events.length; i++) {
                exporter.add(events[i])
                if (i % 25 === 0) await new Promise((resolve) => setImmediate(resolve)) // let uploads start meanwhile
            }
            await exporter.flush()
            expect(store.requests.length).toBeGreaterThanOrEqual(30)
            expect(store.maxInFlight).toBe(1)
            expectEachExactlyOnce(store.requests, events.map((e) => e.uuid))
        })

        it('flush() resolves once every batch is stored', async () => {
            const events = Array.from({ length: 40 }, (_, i) => makeEvent(i, { padBytes: 100 }))
            const { exporter, store } = setup({ maxBatchBytes: 8 * lineBytes(events[0]) })
            for (const e of events) exporter.add(e)
            await exporter.flush()
            expect(store.inFlight).toBe(0)
            expect(exporter.stats.delivered).toBe(40)
            expect(exporter.pendingEvents()).toBe(0)
            expect(store.stored()).toHaveLength(store.requests.length)
        })

        it('flush() waits for an upload that is held by the store', async () => {
            const { exporter, store } = setup()
            store.script.push('hold')
            exporter.add(makeEvent(1))
            const flushed = track(exporter.flush())
            await waitFor(() => store.requests.length === 1, 'the upload')
            await settle()
            expect(flushed.done()).toBe(false)
            store.release()
            await waitFor(() => flushed.done(), 'flush')
            expect(exporter.stats.delivered).toBe(1)
        })
    })

    describe('close()', () => {
        it('seals the open batch, uploads it and resolves with a report', async () => {
            const { exporter, store, clock } = setup()
            const events = Array.from({ length: 10 }, (_, i) => makeEvent(i))
            for (const e of events) exporter.add(e)
            const report = await exporter.close(T0 + 4_500)
            expect(report).toEqual({ delivered: 10, spilled: 0, jobs: 0, dropped: 0, unconfirmed: 0, pendingEvents: 0, timedOut: false })
            expectEachExactlyOnce(store.stored(), events.map((e) => e.uuid))
            expect(clock.pending()).toEqual([]) // the deadline timer and the open batch's timer are cancelled
        })

        it('resolves at once with an empty report when nothing is buffered', async () => {
            const { exporter, store } = setup()
            await expect(exporter.close(T0 + 4_500)).resolves.toEqual({ delivered: 0, spilled: 0, jobs: 0, dropped: 0, unconfirmed: 0, pendingEvents: 0, timedOut: false })
            expect(store.requests).toHaveLength(0)
        })

        it('stores events added after close within a second, without throwing, each exactly once', async () => {
            const { exporter, store, clock } = setup()
            const early = makeEvent(1)
            exporter.add(early)
            await exporter.close(T0 + 4_500)
            const late = [makeEvent(2), makeEvent(3)]
            for (const e of late) expect(() => exporter.add(e)).not.toThrow()
            expect(exporter.stats.late).toBe(2)
            expect(exporter.pendingEvents()).toBe(2) // buffered, not sealed before LATE_SEAL_MS
            clock.advance(LATE_SEAL_MS)
            await waitFor(() => exporter.pendingEvents() === 0, 'the late drain')
            expectEachExactlyOnce(store.stored(), [early, ...late].map((e) => e.uuid))
            expect(new Set(store.requests.map((r) => r.key)).size).toBe(2)
        })

        it('says at info, never at error, that events which came after the hand-over are still in memory, and says when they are stored', async () => {
            let release!: () => void
            const held = new Promise<void>((resolve) => (release = resolve))
            const handed: string[] = []
            const spill: Spill = (batch) => {
                handed.push(batch.key)
                return held.then(() => ({ accepted: batch.events, refused: 0, jobs: 1 }))
            }
            const { exporter, store, clock, log } = setup({}, { spill })
            store.script.push(SLOW_DOWN) // teardown's one try fails: the batch goes to the job queue
            const early = [makeEvent(1), makeEvent(2), makeEvent(3)]
            for (const e of early) exporter.add(e)
            const closing = track(exporter.close(T0 + 4_500))
            await waitFor(() => handed.length === 1, 'the hand-over')
            // a reload: the host keeps calling onEvent of this copy while the job queue takes the batch
            const late = [makeEvent(4), makeEvent(5)]
            for (const e of late) exporter.add(e)
            release()
            await waitFor(() => closing.done(), 'close')
            const report = closing.value()!
            expect(report).toMatchObject({ spilled: 3, dropped: 0, unconfirmed: 0, pendingEvents: 2 })
            exporter.sayHandedOver('teardown', report)
            expect(log.at('info').join('\n')).toMatch(/teardown: 2 events arrived after the hand-over and are still in memory/)

            clock.advance(LATE_SEAL_MS)
            await waitFor(() => exporter.pendingEvents() === 0 && log.at('info').some((m) => /^S3 Export after teardown/.test(m)), 'the late drain')
            expectEachExactlyOnce(store.stored(), late.map((e) => e.uuid))
            expect(log.at('info').filter((m) => /^S3 Export after teardown/.test(m))).toEqual(['S3 Export after teardown: stored 2 events in S3'])
            expect(log.at('error')).toEqual([]) // nothing was lost
        })

        it('logs at error the events a drain really lost', () => {
            const { exporter, log } = setup()
            exporter.sayHandedOver('teardown', { delivered: 0, spilled: 0, jobs: 0, dropped: 4, unconfirmed: 0, pendingEvents: 0, timedOut: true })
            expect(log.at('error')).toEqual(['S3 Export teardown: 4 events could not be stored or queued and are lost'])
        })

        it('hands events added after close to spill when S3 does not take them within the late drain', async () => {
            const { spill, batches } = recordingSpill()
            const { exporter, store, clock } = setup({}, { spill })
            await exporter.close(T0 + 4_500)
            store.script.push(SLOW_DOWN)
            const late = [makeEvent(2), makeEvent(3)]
            for (const e of late) exporter.add(e)
            clock.advance(LATE_SEAL_MS)
            await waitFor(() => batches.length === 1, 'the late spill')
            expectEachExactlyOnce(batches, late.map((e) => e.uuid))
            expect(store.stored()).toHaveLength(0)
            expect(exporter.stats.spilled).toBe(2)
        })

        it('resolves at the deadline when the store never answers, and hands the batch to spill', async () => {
            const { spill, batches } = recordingSpill()
            const { exporter, store, clock } = setup({}, { spill })
            store.script.push('hang')
            const events = Array.from({ length: 7 }, (_, i) => makeEvent(i))
            for (const e of events) exporter.add(e)
            const closing = track(exporter.close(T0 + 4_500))
            await waitFor(() => store.requests.length === 1, 'the upload')
            await settle()
            expect(closing.done()).toBe(false)
            expect(clock.pending().map((t) => t.delayMs)).toEqual([4_000]) // uploads may take the budget but its last 500 ms, kept for the job queue

            clock.advance(4_500)
            await waitFor(() => closing.done(), 'close at the deadline')
            expect(closing.value()).toEqual({ delivered: 0, spilled: 7, jobs: 1, dropped: 0, unconfirmed: 0, pendingEvents: 0, timedOut: true })
            expect(batches).toHaveLength(1)
            expect(batches[0]).toMatchObject({ key: store.requests[0].key, events: 7, file: { contentEncoding: 'gzip', contentType: 'application/x-ndjson' } })
            expectEachExactlyOnce(batches, events.map((e) => e.uuid))
        })

        it('tells spill a batch may be in S3 when a PUT of it went unanswered, even if a later try was refused', async () => {
            const { spill, batches } = recordingSpill()
            const { exporter, store, clock } = setup({ maxBatchBytes: 2_000 }, { spill })
            // batch 1: no answer before close, then 503 at teardown; batch 2: 503 at teardown
            store.script.push(CONN_RESET, SLOW_DOWN, SLOW_DOWN)
            for (let i = 0; i < 2; i++) exporter.add(makeEvent(i, { padBytes: 1_500 }))
            await waitFor(() => store.outcomes[0] !== undefined, 'the first answer')
            const closing = track(exporter.close(T0 + 4_500))
            await waitFor(() => store.requests.length === 3, 'the uploads at teardown')
            const k1 = store.requests[0].key
            const k2 = store.requests.map((r) => r.key).find((k) => k !== k1)!
            expect(store.requests.map((r) => r.key).sort()).toEqual([k1, k1, k2].sort())
            await waitFor(() => closing.done(), 'close')
            expect(new Map(batches.map((b) => [b.key, Boolean(b.maybeStored)]))).toEqual(new Map([[k1, true], [k2, false]]))
        })

        it('tells spill a batch S3 only refused is not in S3', async () => {
            const { spill, batches } = recordingSpill()
            const { exporter, store } = setup({}, { spill })
            store.script.push(SLOW_DOWN)
            exporter.add(makeEvent(0))
            await exporter.close(T0 + 4_500)
            expect(store.requests).toHaveLength(1)
            expect(batches.map((b) => Boolean(b.maybeStored))).toEqual([false])
        })

        it('counts the batch as dropped at the deadline when there is no spill, and reports it', async () => {
            const { exporter, store, clock, log } = setup()
            store.script.push('hang')
            for (let i = 0; i < 7; i++) exporter.add(makeEvent(i))
            const closing = track(exporter.close(T0 + 4_500))
            await waitFor(() => store.requests.length === 1, 'the upload')
            clock.advance(4_500)
            await waitFor(() => closing.done(), 'close at the deadline')
            expect(closing.value()).toEqual({ delivered: 0, spilled: 0, jobs: 0, dropped: 7, unconfirmed: 0, pendingEvents: 0, timedOut: true })
            expect(exporter.stats.dropped).toBe(7)
            expect(log.at('error').join('\n')).toMatch(/dropped 7 events/)
        })

        it('hands a batch that fails fatally at teardown to spill without waiting for the deadline', async () => {
            const { spill, batches } = recordingSpill()
            const { exporter, store } = setup({}, { spill })
            store.script.push(ACCESS_DENIED)
            for (let i = 0; i < 3; i++) exporter.add(makeEvent(i))
            const report = await exporter.close(T0 + 4_500)
            expect(report).toEqual({ delivered: 0, spilled: 3, jobs: 1, dropped: 0, unconfirmed: 0, pendingEvents: 0, timedOut: false })
            expect(store.requests).toHaveLength(1)
            expect(batches.map((b) => b.key)).toEqual([store.requests[0].key])
        })

        it('gives a batch waiting out a backoff one more try at once', async () => {
            const { exporter, store } = setup()
            store.script.push(SLOW_DOWN)
            exporter.add(makeEvent(1))
            void exporter.flush()
            await waitFor(() => store.outcomes[0] !== undefined, 'the first attempt')
            const report = await exporter.close(T0 + 4_500)
            expect(report).toMatchObject({ delivered: 1, dropped: 0, pendingEvents: 0, timedOut: false })
            expect(store.requests.map((r) => r.key)).toEqual([store.requests[0].key, store.requests[0].key])
        })
    })

    describe('the memory limit', () => {
        /** 'none' compression: a sealed batch's memory is its raw bytes, so the arithmetic is exact. */
        function overLimit(spill?: Spill) {
            // two-digit numbers only, so every line has the same length
            // ASCII only, so buffered text counts a byte a character (formats/line-batch.ts)
            const events = Array.from({ length: 30 }, (_, i) => ({ ...makeEvent(10 + i, { padBytes: 200 }), properties: { i: 10 + i, pad: 'x'.repeat(200) } }))
            const bytes = lineBytes(events[0])
            expect(events.every((e) => lineBytes(e) === bytes)).toBe(true)
            // 3 events per batch; room for exactly 3 full sealed batches (with their bookkeeping, and an open batch's),
            // not one event more
            const h = setup({ compression: 'none', maxBatchBytes: 3 * bytes, bufferLimitBytes: 9 * bytes + 3 * SEALED_BATCH_OVERHEAD_BYTES + BATCH_OVERHEAD_BYTES }, { spill })
            h.store.script.push('hold')
            return { ...h, events, bytes }
        }

        it('spills the oldest sealed batch past bufferLimitBytes, never the one in flight', async () => {
            const { spill, batches } = recordingSpill()
            const { exporter, store, events, bytes, config } = overLimit(spill)
            for (const e of events.slice(0, 3)) exporter.add(e) // batch 1: sealed, its upload held
            await waitFor(() => store.requests.length === 1, 'the first upload')
            for (const e of events.slice(3, 9)) exporter.add(e) // batches 2 and 3 sealed, waiting
            expect(batches).toHaveLength(0)
            exporter.add(events[9]) // 10 events buffered, 9 fit: batch 2 must go
            await waitFor(() => batches.length === 1, 'the spill')

            expect(uuidsOf(batches[0])).toEqual(events.slice(3, 6).map((e) => e.uuid)) // batch 2, the oldest waiting
            expect(batches[0].key).not.toBe(store.requests[0].key)
            await waitFor(() => exporter.stats.spilled === 3, 'the spill count')
            expect(exporter.memoryBytes()).toBeLessThanOrEqual(config.bufferLimitBytes)
            expect(exporter.memoryBytes()).toBe(7 * bytes + 2 * SEALED_BATCH_OVERHEAD_BYTES + PENDING_LINE_OVERHEAD_BYTES + BATCH_OVERHEAD_BYTES) // 2 sealed batches + the open one
            expect(exporter.stats.dropped).toBe(0)

            store.release()
            // one event per turn, as the host calls onEvent: spills finish in between
            for (const e of events.slice(10)) {
                exporter.add(e)
                await settle()
            }
            await exporter.flush()
            expectEachExactlyOnce([...store.stored(), ...batches], events.map((e) => e.uuid))
            expect(store.maxInFlight).toBe(1)
        })

        it('drops and counts the oldest sealed batch past the limit when there is no spill', async () => {
            const { exporter, store, events, log } = overLimit()
            for (const e of events.slice(0, 3)) exporter.add(e)
            await waitFor(() => store.requests.length === 1, 'the first upload')
            for (const e of events.slice(3, 10)) exporter.add(e)
            expect(exporter.stats.dropped).toBe(3)
            expect(log.at('error').join('\n')).toMatch(/dropped 3 events/)
            store.release()
            await exporter.flush()
            const stored = store.stored().flatMap(uuidsOf)
            expect(stored).toEqual([...events.slice(0, 3), ...events.slice(6, 10)].map((e) => e.uuid))
        })
    })

    describe('end to end through fakes', () => {
        it('stores every event exactly once across all puts through retries, fatal failures and timers', async () => {
            const events = Array.from({ length: 400 }, (_, i) => makeEvent(i, { padBytes: (i * 53) % 400, name: i % 9 === 0 ? 'ignored' : '$pageview' }))
            const { exporter, store, clock } = setup({ maxBatchBytes: 3_000, uploadIntervalMs: 5_000, eventsToIgnore: new Set(['ignored']) })
            store.script.push(SLOW_DOWN, OK, CONN_RESET, CONN_RESET, OK, ACCESS_DENIED, OK, OK, SLOW_DOWN, OK)
            for (let i = 0; i < events.length; i++) {
                exporter.add(events[i])
                if (i % 40 === 0) {
                    clock.advance(1_000)
                    await new Promise((resolve) => setImmediate(resolve))
                }
            }
            for (let round = 0; round < 200 && exporter.pendingEvents() > 0; round++) {
                // flush() waits out retryable backoffs, which only the fake clock can end: do not await it here
                void exporter.flush()
                await settle()
                const next = clock.pending().sort((a, b) => a.at - b.at)[0]
                if (next) clock.advance(next.at - clock.t)
                await settle()
            }
            expect(exporter.pendingEvents()).toBe(0)
            expect(store.maxInFlight).toBe(1)
            const exported = events.filter((e) => e.event !== 'ignored').map((e) => e.uuid)
            expectEachExactlyOnce(store.stored(), exported)
            expect(exporter.stats.delivered).toBe(exported.length)
            expect(exporter.stats.ignored).toBe(events.length - exported.length)
            // a key is stored at most once, and every attempt under a key sent the same body
            const storedKeys = store.stored().map((r) => r.key)
            expect(new Set(storedKeys).size).toBe(storedKeys.length)
            for (const request of store.requests) {
                const first = store.requests.find((r) => r.key === request.key)!
                expect(request.body.equals(first.body)).toBe(true)
            }
            expect(store.requests.length).toBeGreaterThan(storedKeys.length) // the failures really happened
        })
    })
})

// ---------------------------------------------------------------------------------------------------------------
// layouts, partitions, the stored-size cap, object metadata and event selection


/** An event at an explicit event time (ISO string), independent of the fake clock. */
function eventAt(i: number, timestamp: string, opts: { name?: string; padBytes?: number } = {}): ProcessedPluginEvent {
    return { ...makeEvent(i, opts), timestamp }
}

/** Deterministic text that gzip cannot shrink much: uniform over 93 printable ASCII characters (no quote, no backslash). */
function noise(seed: number, length: number): string {
    const alphabet = Buffer.from(Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => c !== '"' && c !== '\\').join(''), 'latin1')
    const bytes = Buffer.allocUnsafe(length)
    let state = (seed * 2654435761) >>> 0 || 1
    for (let i = 0; i < length; i++) {
        // xorshift32
        state ^= state << 13
        state ^= state >>> 17
        state ^= state << 5
        state >>>= 0
        bytes[i] = alphabet[state % alphabet.length]
    }
    return bytes.toString('latin1')
}

const hourOf = (key: string) => /\/hour=(\d\d)\//.exec(key)?.[1]
const eventTimesOf = (request: { body: Body; contentEncoding?: string }) => linesOf(request).map((l) => JSON.parse(l).timestamp as string)

describe('Exporter with layouts and selection', () => {
    describe('the hive layout', () => {
        it('writes one object per event hour on flush, keyed by the event hour, each holding exactly its events in order', async () => {
            const { exporter, store } = setup({ keyTemplate: LAYOUTS.hive })
            const hours = ['09', '10', '11']
            // interleaved: the hour changes from one event to the next
            const events = Array.from({ length: 30 }, (_, i) => eventAt(i, `2026-11-25T${hours[i % 3]}:${String(i).padStart(2, '0')}:00.000Z`))
            for (const e of events) exporter.add(e)
            expect(store.requests).toHaveLength(0) // nothing is sealed before the flush
            await exporter.flush()

            expect(store.requests).toHaveLength(3)
            expect(store.requests.map((r) => hourOf(r.key)).sort()).toEqual(hours)
            for (const put of store.requests) {
                const hour = hourOf(put.key)!
                // the folders come from the event time, the file name from the moment of the flush (T0 = 10:00:00.000)
                expect(put.key).toMatch(new RegExp(`^exports/year=2026/month=11/day=25/hour=${hour}/20261125-100000\\.000Z-[0-9a-f]{16}\\.jsonl\\.gz$`))
                expect(uuidsOf(put)).toEqual(events.filter((e) => e.timestamp!.slice(11, 13) === hour).map((e) => e.uuid))
            }
            expect(new Set(store.requests.map((r) => r.key)).size).toBe(3)
            expect(exporter.stats).toMatchObject({ delivered: 30, objects: 3 })
        })

        it('puts events from different days with the same hour into different objects', async () => {
            const { exporter, store } = setup({ keyTemplate: LAYOUTS.hive })
            exporter.add(eventAt(1, '2026-11-24T09:00:00.000Z'))
            exporter.add(eventAt(2, '2026-11-25T09:00:00.000Z'))
            await exporter.flush()
            expect(store.requests.map((r) => r.key.split('/').slice(1, 5).join('/')).sort()).toEqual([
                'year=2026/month=11/day=24/hour=09',
                'year=2026/month=11/day=25/hour=09',
            ])
        })

        it('seals every partition at once when the time window ends, on one timer', async () => {
            const { exporter, store, clock } = setup({ keyTemplate: LAYOUTS.hive, uploadIntervalMs: 60_000 })
            exporter.add(eventAt(1, '2026-11-25T09:10:00.000Z'))
            clock.advance(10_000)
            exporter.add(eventAt(2, '2026-11-25T10:10:00.000Z'))
            clock.advance(20_000)
            exporter.add(eventAt(3, '2026-11-25T11:10:00.000Z'))
            exporter.add(eventAt(4, '2026-11-25T09:20:00.000Z'))
            expect(clock.pending().map((t) => t.delayMs)).toEqual([60_000]) // one window, not one timer per partition

            clock.advance(29_999)
            await settle()
            expect(store.requests).toHaveLength(0)
            expect(exporter.pendingEvents()).toBe(4) // still open: sealing is synchronous, so this cannot pass by luck

            clock.advance(1)
            await waitFor(() => exporter.stats.delivered === 4, 'the three partitions to be stored')
            expect(store.requests).toHaveLength(3)
            for (const put of store.requests) expect(put.key).toContain('/20261125-100100.000Z-') // all sealed at T0 + 60 s
            const byHour = Object.fromEntries(store.requests.map((r) => [hourOf(r.key), uuidsOf(r)]))
            expect(byHour).toEqual({
                '09': [makeEvent(1).uuid, makeEvent(4).uuid],
                '10': [makeEvent(2).uuid],
                '11': [makeEvent(3).uuid],
            })
            expect(clock.pending()).toEqual([])
        })

        it('opens a new window with a new timer for the first event after the window was sealed', async () => {
            const { exporter, store, clock } = setup({ keyTemplate: LAYOUTS.hive, uploadIntervalMs: 60_000 })
            exporter.add(eventAt(1, '2026-11-25T09:10:00.000Z'))
            clock.advance(60_000)
            await waitFor(() => store.requests.length === 1, 'the first window')
            exporter.add(eventAt(2, '2026-11-25T10:10:00.000Z'))
            expect(clock.pending().map((t) => t.at)).toEqual([T0 + 120_000])
            clock.advance(60_000)
            await waitFor(() => exporter.stats.delivered === 2, 'the second window')
            expect(store.requests.map((r) => hourOf(r.key))).toEqual(['09', '10'])
        })

        it('applies the raw size cap to each partition on its own', async () => {
            const events9 = Array.from({ length: 5 }, (_, i) => eventAt(10 + i, `2026-11-25T09:0${i}:00.000Z`, { padBytes: 300 }))
            const events10 = Array.from({ length: 2 }, (_, i) => eventAt(20 + i, `2026-11-25T10:0${i}:00.000Z`, { padBytes: 300 }))
            const bytes = lineBytes(events9[0])
            expect([...events9, ...events10].every((e) => lineBytes(e) === bytes)).toBe(true)
            const { exporter, store } = setup({ keyTemplate: LAYOUTS.hive, maxBatchBytes: 3 * bytes })
            // 09, 10, 09, 10, 09 (hour 09 is full: sealed), 09, 09
            for (const e of [events9[0], events10[0], events9[1], events10[1], events9[2], events9[3], events9[4]]) exporter.add(e)
            await waitFor(() => store.requests.length === 1, 'the full partition')
            await settle()
            expect(store.requests).toHaveLength(1) // hour 10 holds 2 of 3: not sealed
            expect(hourOf(store.requests[0].key)).toBe('09')
            expect(uuidsOf(store.requests[0])).toEqual(events9.slice(0, 3).map((e) => e.uuid))

            await exporter.flush()
            const byHour = store.requests.map((r) => [hourOf(r.key), uuidsOf(r)])
            expect(byHour.slice(1).sort()).toEqual(
                [
                    ['09', events9.slice(3).map((e) => e.uuid)],
                    ['10', events10.map((e) => e.uuid)],
                ].sort()
            )
            for (const put of store.requests) expect(decode(put.body, put.contentEncoding).length).toBeLessThanOrEqual(3 * bytes)
        })
    })

    describe('many partitions in rotation', () => {
        it.each([33, 100, 1_000])('writes one object per name when %i event names arrive in turn, not one per event', async (names) => {
            const { exporter, store } = setup({ keyTemplate: 'event={event}/{batch_id}' })
            const events = Array.from({ length: 4_000 }, (_, i) => makeEvent(i, { name: `e${i % names}` }))
            for (const e of events) exporter.add(e)
            expect(exporter.pendingEvents()).toBe(events.length) // nothing sealed while memory allows
            await exporter.flush()
            expect(store.requests).toHaveLength(names)
            expectEachExactlyOnce(store.requests, events.map((e) => e.uuid))
            for (const put of store.requests) {
                const name = /^exports\/event=([^/]+)\//.exec(put.key)![1]
                expect(linesOf(put).map((l) => JSON.parse(l).event)).toEqual(linesOf(put).map(() => name))
            }
        })

        it('seals the least recently used partition when open batches pass half the memory limit', async () => {
            // ASCII only (a byte a character while buffered), two-digit numbers so every line has the same length
            const events = Array.from({ length: 12 }, (_, i) => ({ ...makeEvent(10 + i, { name: `e${i % 4}` }), properties: { i: 10 + i, pad: 'x'.repeat(2000) } }))
            const bytes = lineBytes(events[0])
            const perEvent = bytes + PENDING_LINE_OVERHEAD_BYTES + BATCH_OVERHEAD_BYTES
            // room for 4 one-event open batches in the open half of the limit
            const { exporter, store } = setup({ keyTemplate: 'event={event}/{batch_id}', compression: 'none', bufferLimitBytes: 2 * 4 * perEvent + 10 })
            for (const e of events.slice(0, 4)) exporter.add(e) // e0..e3 open, one event each: just under the share
            expect(store.requests).toHaveLength(0)
            exporter.add(events[4]) // e0 again: e0 is now the most recent, e1 the least
            await waitFor(() => store.requests.length === 1, 'the early seal')
            expect(store.requests[0].key).toMatch(/^exports\/event=e1\//)
            // one event per turn, as the host calls onEvent: the early seals upload in between, nothing is dropped
            for (const e of events.slice(5)) {
                exporter.add(e)
                await settle()
            }
            await exporter.flush()
            expectEachExactlyOnce(store.requests, events.map((e) => e.uuid))
            expect(exporter.stats.dropped).toBe(0)
        })
    })

    describe('the stored-size cap', () => {
        const CAP = 1_048_576 // 1 MB, the smallest the settings allow

        function noisyEvents(count: number, padBytes: number): ProcessedPluginEvent[] {
            return Array.from({ length: count }, (_, i) => ({ ...makeEvent(i), properties: { i, noise: noise(i + 1, padBytes) } }))
        }

        it('the test data really is nearly incompressible with gzip', () => {
            const text = noisyEvents(20, 8_000).map(jsonLine).join('')
            expect(gzipSync(text).length).toBeGreaterThan(0.8 * Buffer.byteLength(text))
        })

        it('keeps every stored body within maxStoredBytes when events are added in one go, and loses no event', async () => {
            const events = noisyEvents(500, 8_000) // ~4 MB raw, ~3.3 MB gzipped
            const { exporter, store } = setup({ compression: 'gzip', maxBatchBytes: 50 * CAP, maxStoredBytes: CAP })
            for (const e of events) exporter.add(e)
            await exporter.flush()
            expect(store.requests.length).toBeGreaterThanOrEqual(3)
            for (const put of store.requests) expect(put.body.length).toBeLessThanOrEqual(CAP)
            expectEachExactlyOnce(store.requests, events.map((e) => e.uuid))
            expect(exporter.stats.delivered).toBe(events.length)
        })

        it('keeps every stored body within maxStoredBytes when zlib runs between events, as in production, and loses no event', async () => {
            const events = noisyEvents(500, 8_000)
            const { exporter, store } = setup({ compression: 'gzip', maxBatchBytes: 50 * CAP, maxStoredBytes: CAP })
            for (let i = 0; i < events.length; i++) {
                exporter.add(events[i])
                if (i % 8 === 7) await settle() // let the thread pool compress what was handed over
            }
            await exporter.flush()
            expect(store.requests.length).toBeGreaterThanOrEqual(3)
            const over = store.requests.map((r) => r.body.length).filter((n) => n > CAP)
            expect(over).toEqual([])
            expectEachExactlyOnce(store.requests, events.map((e) => e.uuid))
            expect(exporter.stats.delivered).toBe(events.length)
        })

        it('keeps every stored body within maxStoredBytes with brotli too, when the compressor runs between events', async () => {
            const events = noisyEvents(500, 8_000)
            const { exporter, store } = setup({ compression: 'brotli', maxBatchBytes: 50 * CAP, maxStoredBytes: CAP })
            for (let i = 0; i < events.length; i++) {
                exporter.add(events[i])
                if (i % 8 === 7) await settle()
            }
            await exporter.flush()
            expect(store.requests.length).toBeGreaterThanOrEqual(3)
            const over = store.requests.map((r) => r.body.length).filter((n) => n > CAP)
            expect(over).toEqual([])
            expectEachExactlyOnce(store.requests, events.map((e) => e.uuid))
        })

        it('uploads an event larger than maxStoredBytes alone rather than losing it', async () => {
            const small = noisyEvents(3, 1_000)
            const big = { ...makeEvent(99), properties: { noise: noise(99, CAP + 10_000) } }
            const { exporter, store } = setup({ compression: 'gzip', maxBatchBytes: 50 * CAP, maxStoredBytes: CAP })
            exporter.add(small[0])
            exporter.add(big)
            exporter.add(small[1])
            await exporter.flush()
            expect(store.requests.map(uuidsOf)).toEqual([[small[0].uuid], [big.uuid], [small[1].uuid]])
        })
    })

    describe('object metadata', () => {
        it('gives each object its event count, earliest and latest event time and the app version', async () => {
            const { exporter, store } = setup()
            // out of time order, and one with an offset that lands earliest once converted to UTC
            exporter.add(eventAt(1, '2026-11-25T09:30:00.000Z'))
            exporter.add(eventAt(2, '2026-11-25T11:15:00.000Z'))
            exporter.add(eventAt(3, '2026-11-25T10:05:00+02:00')) // 08:05Z
            exporter.add(eventAt(4, '2026-11-25T10:00:00.000Z'))
            await exporter.flush()
            expect(store.requests).toHaveLength(1)
            expect(store.requests[0].metadata).toEqual({
                'event-count': '4',
                'min-event-timestamp': '2026-11-25T08:05:00.000Z',
                'max-event-timestamp': '2026-11-25T11:15:00.000Z',
                'app-version': `posthog-s3-export/${PACKAGE_VERSION}`,
            })
        })

        it('gives each hive partition the metadata of its own events', async () => {
            const { exporter, store } = setup({ keyTemplate: LAYOUTS.hive })
            const times = ['2026-11-25T09:40:00.000Z', '2026-11-25T10:20:00.000Z', '2026-11-25T09:05:00.000Z', '2026-11-25T11:59:59.999Z', '2026-11-25T09:59:00.000Z']
            times.forEach((t, i) => exporter.add(eventAt(i, t)))
            await exporter.flush()
            expect(store.requests).toHaveLength(3)
            for (const put of store.requests) {
                const mine = eventTimesOf(put)
                const sorted = [...mine].sort()
                expect(put.metadata).toEqual({
                    'event-count': String(mine.length),
                    'min-event-timestamp': sorted[0],
                    'max-event-timestamp': sorted[sorted.length - 1],
                    'app-version': `posthog-s3-export/${PACKAGE_VERSION}`,
                })
            }
            const byHour = Object.fromEntries(store.requests.map((r) => [hourOf(r.key), r.metadata!['event-count']]))
            expect(byHour).toEqual({ '09': '3', '10': '1', '11': '1' })
        })

        it('splits metadata with the batches when the size cap seals a batch', async () => {
            const events = Array.from({ length: 6 }, (_, i) => eventAt(i, `2026-11-25T10:0${i}:00.000Z`, { padBytes: 300 }))
            const { exporter, store } = setup({ maxBatchBytes: 3 * lineBytes(events[0]) })
            for (const e of events) exporter.add(e)
            await exporter.flush()
            expect(store.requests.map((r) => [r.metadata!['event-count'], r.metadata!['min-event-timestamp'], r.metadata!['max-event-timestamp']])).toEqual([
                ['3', '2026-11-25T10:00:00.000Z', '2026-11-25T10:02:00.000Z'],
                ['3', '2026-11-25T10:03:00.000Z', '2026-11-25T10:05:00.000Z'],
            ])
        })

        it('orders event times by time, not as text, when their precision differs', async () => {
            const { exporter, store } = setup()
            exporter.add(eventAt(1, '2026-11-25T10:00:00.500Z'))
            exporter.add(eventAt(2, '2026-11-25T10:00:00Z')) // the earliest, written without milliseconds
            exporter.add(eventAt(3, '2026-11-25T10:00:00.250Z'))
            await exporter.flush()
            const metadata = store.requests[0].metadata!
            expect(Date.parse(metadata['min-event-timestamp'])).toBe(Date.parse('2026-11-25T10:00:00Z'))
            expect(Date.parse(metadata['max-event-timestamp'])).toBe(Date.parse('2026-11-25T10:00:00.500Z'))
        })

        it('sends the same metadata on a retry as on the first attempt', async () => {
            const { exporter, store, clock } = setup()
            store.script.push(SLOW_DOWN)
            exporter.add(eventAt(1, '2026-11-25T09:00:00.000Z'))
            void exporter.flush()
            await waitFor(() => store.outcomes[0] !== undefined, 'the first attempt')
            clock.advance(backoffMs(1, 0.5))
            await waitFor(() => exporter.stats.delivered === 1, 'the retry')
            expect(store.requests[1].metadata).toEqual(store.requests[0].metadata)
            expect(store.requests[0].metadata!['event-count']).toBe('1')
        })
    })

    describe('event selection', () => {
        it('counts events outside the include list and ignored events as ignored, and stores only the rest', async () => {
            const { exporter, store } = setup({
                eventsToIgnore: new Set(['order_refunded', '$feature_flag*']),
                eventsToInclude: new Set(['order_*', '$pageview', '$feature_flag_called']),
            })
            const names = ['$pageview', 'order_paid', 'order_refunded', '$feature_flag_called', 'signup', '$autocapture', 'order_shipped']
            const events = names.map((name, i) => makeEvent(i, { name }))
            for (const e of events) exporter.add(e)
            await exporter.flush()
            expect(exporter.stats).toMatchObject({ seen: 7, ignored: 4, delivered: 3 })
            expect(store.requests.flatMap(linesOf).map((l) => JSON.parse(l).event)).toEqual(['$pageview', 'order_paid', 'order_shipped'])
        })

        it('leaves removed properties and personal data out of every stored line, and keeps the rest', async () => {
            const { exporter, store } = setup({ propertiesToRemove: ['pad', 'email'], stripPersonalData: true })
            const events = Array.from({ length: 5 }, (_, i) => ({
                ...makeEvent(i, { padBytes: 10 }),
                ip: '198.51.100.23',
                properties: { i, pad: 'xxxxxxxxxx', email: `u${i}@example.com`, plan: 'pro', $ip: '198.51.100.23', $set: { name: 'Ada' }, $set_once: { a: 1 } },
                person: { uuid: 'p', properties: { email: 'person@example.com' }, created_at: '2026-01-01T00:00:00Z' },
            })) as unknown as ProcessedPluginEvent[]
            for (const e of events) exporter.add(e)
            await exporter.flush()
            const lines = store.requests.flatMap(linesOf).map((l) => JSON.parse(l))
            expect(lines).toHaveLength(5)
            lines.forEach((line, i) => {
                expect(line.properties).toEqual({ i, plan: 'pro' })
                expect(line).not.toHaveProperty('ip')
                expect(line).not.toHaveProperty('person')
                expect(line.uuid).toBe(events[i].uuid)
                expect(line.distinct_id).toBe(events[i].distinct_id)
            })
            // the host's events were not touched
            expect(events[0].properties).toHaveProperty('email', 'u0@example.com')
            expect(events[0].ip).toBe('198.51.100.23')
        })

        it('measures the size cap on the line as stored, after properties are removed', async () => {
            const kept = makeEvent(1)
            const bytes = lineBytes(kept)
            // each event carries 5 KB that is removed: without removal not even one would fit the cap
            const events = Array.from({ length: 3 }, (_, i) => makeEvent(i + 1, { padBytes: 5_000 }))
            const { exporter, store } = setup({ propertiesToRemove: ['pad'], maxBatchBytes: 3 * (bytes + 10) })
            for (const e of events) exporter.add(e)
            await exporter.flush()
            expect(store.requests).toHaveLength(1)
            expect(uuidsOf(store.requests[0])).toEqual(events.map((e) => e.uuid))
        })
    })
})
