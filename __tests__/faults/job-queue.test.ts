/**
 * The job queue as it is since late 2022 (Kafka: at most 1,000,012 bytes a message) and as it is on a bad day
 * (slow): a batch too big for one job is spilled as parts that each fit and are each stored once, with the object
 * metadata of any other upload; teardown with S3 hung and a slow queue still ends at its deadline and says what did
 * not make it. Real time here (scale 1): splitting a 20 MB batch is real CPU work that a scaled clock would not wait for.
 */
import { clientEvents } from '../../dev/client-events'
import { faults } from '../../dev/fault-proxy'
import { MAX_JOB_PAYLOAD_BYTES } from '../../src/export/spill'
import type { Codec } from '../../src/formats/codecs/codec'
import { CODECS } from '../../src/formats/codecs/registry'
import { CompressionError } from '../../src/formats/codecs/wasm/engine'
import { createFormat } from '../../src/formats/registry'
import { buildExporter, KIB, noisyEvent, recordMetric, ScaledClock, send, sleep, startRig, tally, type Rig } from '../helpers/faults'

const KAFKA_MESSAGE_LIMIT = 1_000_012
let rig: Rig
beforeAll(async () => {
    rig = await startRig(['jobs-split', 'jobs-slow', 'jobs-big', 'jobs-late', 'jobs-uncompressed', 'jobs-parquet-fallback'])
})
afterAll(async () => {
    await rig.close()
})

/**
 * An exporter whose S3 refuses (503) until its jobs run: teardown must hand its batches to a 1 MB job queue. A
 * refusal says a batch is not in S3, so it may go as part objects; one whose PUT went unanswered keeps its key (the
 * 6 s late PUT below), hence the 30 s request deadline: a several-MB PUT past 300 ms on a busy machine is unanswered.
 */
function refusedByS3(bucket: string, config: { maxBatchBytes: number; format: 'jsonl' | 'parquet' }, exporter: Parameters<typeof buildExporter>[2]['exporter'] = {}) {
    const clock = new ScaledClock(1)
    rig.clock = clock
    rig.proxy.setSchedule(() => faults.slowDown())
    const x = buildExporter(rig, clock, { bucket, timeoutMs: 30_000, config: { ...config, bufferLimitBytes: 256 * 1024 * KIB }, queue: { maxPayloadBytes: KAFKA_MESSAGE_LIMIT }, exporter })
    return { clock, x }
}

/** S3 answers again; the queued jobs run; what the bucket holds is counted against what was sent. */
async function runJobsWithS3Back(x: ReturnType<typeof buildExporter>, bucket: string, sent: string[]) {
    rig.proxy.setSchedule(() => ({ kind: 'pass' }))
    await x.jobs.runAll(x.store, { bucket })
    return tally(rig.reader, bucket, sent)
}

// Parquet parts are cut the same way (tested in unit/formats-split.test.ts); the read-back here parses JSON lines
describe.each([['JSON lines', 'jobs-split', 'jsonl' as const]])('a %s batch of 20 MB spilled through a 1 MB job queue', (_name, bucket, format) => {
    it('goes as several jobs of at most 900,000 bytes each, and every event is stored once with its metadata', async () => {
        const { clock, x } = refusedByS3(bucket, { maxBatchBytes: 20 * 1024 * KIB, format })
        // ~1.2 KB events that compress ~2x: the 20 MB batch's body is several MB, far more than one job takes
        const sent = await send(x, clock, { count: 16_000, overVirtualMs: 0, chunk: 2_000 })
        // a deadline far enough that the final try's 503 is heard on a busy machine too: a PUT still unanswered at the
        // hand-over may have landed, and that batch would rightly keep its key (the test below) instead of going in parts.
        // The drain ends as soon as every batch had its try, so this costs no time.
        const report = await x.exporter.close(clock.now() + 60_000)
        expect(report).toMatchObject({ dropped: 0, unconfirmed: 0, pendingEvents: 0 })
        expect(report.spilled).toBe(sent.length)
        expect(report.jobs).toBeGreaterThan(1)
        expect(x.jobs.tooLarge).toBe(0)
        expect(x.jobs.largestPayloadBytes).toBeLessThanOrEqual(MAX_JOB_PAYLOAD_BYTES)

        const t = await runJobsWithS3Back(x, bucket, sent)
        expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
        expect(t.objects).toHaveLength(report.jobs)
        const keys = t.objects.map((o) => o.key).sort()
        expect(keys.every((k) => /-part\d+of\d+\.(jsonl\.gz|parquet)$/.test(k))).toBe(true)
        for (const o of t.objects) {
            expect(o.metadata?.['event-count']).toBe(String(o.events.length))
            expect(o.metadata?.['app-version']).toMatch(/^posthog-s3-export\//)
            expect(o.metadata?.['min-event-timestamp']).toMatch(/^\d{4}-\d\d-\d\dT/)
        }
        clock.dispose()
    })
})

describe('a batch stored in its fallback form, spilled through a 1 MB job queue while S3 refuses', () => {
    // what a WebAssembly codec does past the instances a process can hold (a Node 14 process: ~100)
    const cannotStart = () => {
        throw new CompressionError('zstd', 'no WebAssembly instance could be made: too many compressors open at once in this process?')
    }
    const noStream: Codec = { ...CODECS.gzip, compressor: cannotStart, compressNow: cannotStart }

    it.each([
        ['uncompressed JSON lines, its compressor never having started', 'jobs-uncompressed', 'jsonl' as const, /-part\d+of\d+\.jsonl$/],
        ['gzipped JSON lines, Parquet having refused a value', 'jobs-parquet-fallback', 'parquet' as const, /-part\d+of\d+\.jsonl\.gz$/],
    ])('goes in parts of %s, and every event is stored once', async (_what, bucket, format, partKey) => {
        const jsonl = format === 'jsonl' ? { format: createFormat('jsonl', { codec: noStream, level: 6, maxBatchBytes: 8 * 1024 * KIB, createdBy: 'test' }) } : {}
        const { clock, x } = refusedByS3(bucket, { maxBatchBytes: 8 * 1024 * KIB, format }, jsonl)
        // Parquet's team_id column is int32: the first event makes its batch fall back to JSON lines
        const event = (i: number) => (i === 0 ? { ...noisyEvent(i), team_id: 2 ** 40 } : noisyEvent(i))
        const sent = await send(x, clock, { count: 3_000, overVirtualMs: 0, chunk: 1_000, event })
        const report = await x.exporter.close(clock.now() + 60_000)
        expect(report).toMatchObject({ dropped: 0, unconfirmed: 0, pendingEvents: 0, spilled: sent.length })
        expect(report.jobs).toBeGreaterThan(1)
        expect(x.jobs.tooLarge).toBe(0)

        const t = await runJobsWithS3Back(x, bucket, sent)
        expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
        expect(t.objects.map((o) => o.key).filter((k) => !partKey.test(k))).toEqual([])
        expect(x.log.matching(/stored as JSON lines in .* instead/).length).toBeGreaterThan(0)
        clock.dispose()
    })
})

describe('teardown with S3 hung and a slow job queue', () => {
    it('ends at its deadline and says how many events were still on their way into the queue', async () => {
        const clock = new ScaledClock(1)
        rig.clock = clock
        rig.proxy.setSchedule(() => faults.hang())
        const x = buildExporter(rig, clock, { bucket: 'jobs-slow', timeoutMs: 30_000, queue: { delayMs: 3_000 } })
        const sent = await send(x, clock, { count: 600, overVirtualMs: 0, chunk: 600, event: noisyEvent })
        const started = performance.now()
        const report = await x.exporter.close(clock.now() + 1_000)
        const ms = performance.now() - started
        expect(ms).toBeLessThan(1_000 + 250)
        expect(report.timedOut).toBe(true)
        expect(report.unconfirmed).toBe(sent.length)
        x.exporter.sayHandedOver('teardown', report)
        expect(x.log.matching(new RegExp(`${sent.length} events were still being handed to the job queue at the deadline`), 'error')).toHaveLength(1)
        rig.proxy.dropHanging()
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        clock.dispose()
    })
})

/** The host's cap on teardownPlugin at shutdown: the thread is gone after it, with whatever it still held. */
const HOST_TEARDOWN_CAP_MS = 5_000

describe('teardown with uploadMegabytes 16, 60,000 client events waiting and S3 hung', () => {
    it('hands every batch to the job queue within the host cap, counting what it holds, and the jobs store every event once', async () => {
        const clock = new ScaledClock(1)
        rig.clock = clock
        rig.proxy.outage(0)
        rig.proxy.setSchedule(() => faults.hang())
        // room for all of them to wait in memory (~17 MB compressed, more while zlib lags on a busy machine)
        const limit = 64 * 1024 * KIB
        const x = buildExporter(rig, clock, { bucket: 'jobs-big', timeoutMs: 30_000, config: { maxBatchBytes: 16 * 1024 * KIB, bufferLimitBytes: limit } })
        const next = clientEvents(20)
        const sent = await send(x, clock, { count: 60_000, overVirtualMs: 0, chunk: 2_000, event: () => next() })
        const sampler = setInterval(x.sample, 2)
        const rssBefore = process.memoryUsage().rss
        let rssPeak = rssBefore
        const rss = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 10)
        const started = performance.now()
        const report = await x.exporter.close(clock.now() + 4_500)
        const ms = performance.now() - started
        clearInterval(sampler)
        clearInterval(rss)
        x.sample()
        recordMetric({ name: 'teardown-16MB-60k-hung', ms: Math.round(ms), report, peakCounted: x.maxTotalMemory(), limit, rssGrowth: rssPeak - rssBefore })
        expect(ms).toBeLessThan(HOST_TEARDOWN_CAP_MS)
        expect(report).toMatchObject({ dropped: 0, unconfirmed: 0, pendingEvents: 0 })
        expect(x.exporter.stats).toMatchObject({ spilled: sent.length, dropped: 0 })
        // what the hand-over held besides the bodies (parts, one payload's text) was counted, and stayed in bounds
        expect(x.maxTotalMemory()).toBeLessThanOrEqual(limit + MAX_JOB_PAYLOAD_BYTES * 3)
        expect(x.jobs.largestPayloadBytes).toBeLessThanOrEqual(MAX_JOB_PAYLOAD_BYTES)

        rig.proxy.dropHanging()
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        await x.jobs.runAll(x.store, { bucket: 'jobs-big' })
        const t = await tally(rig.reader, 'jobs-big', sent)
        expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
        clock.dispose()
    }, 120_000)
})

describe('a batch too big for one job whose PUT lands ~6 s late, after teardown handed it over', () => {
    it('is handed over under its own key, so the job overwrites the late object and every event is stored once', async () => {
        const clock = new ScaledClock(1)
        rig.clock = clock
        rig.proxy.outage(0)
        // S3 stores the object at once but its answer comes 6 s later: the PUT is in flight through teardown
        rig.proxy.setSchedule(() => faults.delay(6_000, true))
        const x = buildExporter(rig, clock, { bucket: 'jobs-late', timeoutMs: 30_000, config: { maxBatchBytes: 16 * 1024 * KIB, bufferLimitBytes: 64 * 1024 * KIB } })
        const next = clientEvents(21)
        const sent = await send(x, clock, { count: 8_000, overVirtualMs: 0, chunk: 2_000, event: () => next() })
        void x.exporter.flush()
        while (!rig.proxy.log.some((r) => r.method === 'PUT' && r.path.startsWith('/jobs-late/'))) await sleep(20)
        const report = await x.exporter.close(clock.now() + 4_500)
        expect(report).toMatchObject({ dropped: 0, unconfirmed: 0, spilled: sent.length })
        // the late answer arrives; only then do the jobs run
        const lateKey = rig.proxy.log.find((r) => r.method === 'PUT' && r.path.startsWith('/jobs-late/'))!.path
        while (!rig.proxy.log.some((r) => r.path === lateKey && r.endedAt !== undefined)) await sleep(50)
        rig.proxy.setSchedule(() => ({ kind: 'pass' }))
        await x.jobs.runAll(x.store, { bucket: 'jobs-late' })
        const t = await tally(rig.reader, 'jobs-late', sent)
        expect({ lost: t.lost, duplicated: t.duplicated, unexpected: t.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 })
        expect(t.objects).toHaveLength(1)
        expect(x.jobs.largestPayloadBytes).toBeLessThanOrEqual(MAX_JOB_PAYLOAD_BYTES)
        clock.dispose()
    }, 120_000)
})
