/**
 * What happens when a batch cannot be made, is too big for one job, or is closed twice; what setup and onEvent do
 * when the settings are wrong or setup has not run. Fakes only: a recording store, a fake one-shot scheduler.
 */
import { joinBody } from '../../src/body'
import { gunzipSync } from 'zlib'
import { onEvent } from '../../index'
import { parseConfig } from '../../src/config'
import { LAYOUTS } from '../../src/event/keys'
import { ConfigError } from '../../src/errors'
import { Exporter, type Cancel, type ExporterOptions } from '../../src/export/exporter'
import type { Format } from '../../src/formats/format'
import { configuredFormat } from '../../src/pipeline'
import { toParquetRow } from '../../src/formats/parquet-rows'
import type { PutObjectRequest, PutOutcome } from '../../src/s3/client'
import { partKey, spillBatch, toPayloads, MAX_JOB_PAYLOAD_BYTES, type SpillableBatch, type SpilledBatchPayload } from '../../src/export/spill'
import { runSpilledBatch } from '../../src/export/spill-job'
import { MEMBER_MAX_BYTES } from '../../src/formats/codecs/codec'
import { CODECS } from '../../src/formats/codecs/registry'
import type { Codec } from '../../src/formats/codecs/codec'
import { CompressionError } from '../../src/formats/codecs/wasm/engine'
import { createFormat } from '../../src/formats/registry'
import type { BodyPart, FileFormat } from '../../src/formats/format'
import { jsonLinesFile } from '../../src/formats/jsonl'
import { DevStorage } from '../../dev/storage'
import { randomBytes } from 'crypto'
import { makeEvent } from '../helpers/events'
import { settingsFor } from '../helpers/plugin'

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0)

function rig(config: Partial<ExporterOptions['config']> = {}, options: Partial<ExporterOptions> = {}) {
    const puts: PutObjectRequest[] = []
    const lines: string[] = []
    const timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = []
    let t = T0
    let n = 0
    const exporter = new Exporter({
        config: {
            bucket: 'b',
            prefix: 'p/',
            format: 'jsonl',
            compression: 'gzip',
            compressionLevel: 6,
            maxBatchBytes: 1_000_000,
            uploadIntervalMs: 60_000,
            bufferLimitBytes: 64 << 20,
            keyTemplate: LAYOUTS.original,
            eventsToIgnore: new Set(),
            eventsToInclude: new Set(),
            propertiesToRemove: [],
            stripPersonalData: false,
            ...config,
        },
        store: { put: (r) => (puts.push(r), Promise.resolve<PutOutcome>({ kind: 'ok' })) },
        now: () => t,
        random: () => 0.5,
        randomBytes: (k) => Array.from({ length: k }, (_, i) => (i === k - 1 ? ++n & 0xff : 0)),
        schedule: (delayMs, fn): Cancel => {
            const timer = { at: t + delayMs, fn, cancelled: false }
            timers.push(timer)
            return { cancel: () => void (timer.cancelled = true) }
        },
        log: { info: (m) => void lines.push(m), warn: (m) => void lines.push(m), error: (m) => void lines.push(m) },
        ...options,
    })
    const advance = (ms: number) => {
        t += ms
        for (const timer of timers.filter((x) => !x.cancelled && x.at <= t)) {
            timer.cancelled = true
            timer.fn()
        }
    }
    return { exporter, puts, lines, advance }
}

async function until(condition: () => boolean, what: string): Promise<void> {
    const started = Date.now()
    while (!condition()) {
        if (Date.now() - started > 5_000) throw new Error(`timed out waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 1))
    }
}

describe('a batch whose body cannot be made', () => {
    it('is stored as gzipped JSON lines when Parquet refuses a value, and the batches after it are stored too', async () => {
        const unhandled: unknown[] = []
        const onUnhandled = (reason: unknown) => void unhandled.push(reason)
        process.on('unhandledRejection', onUnhandled)
        try {
            const { exporter, puts, lines } = rig({ format: 'parquet', maxBatchBytes: 5_000 })
            const bad = makeEvent(1, { team_id: 2 ** 40 }) // Parquet's team_id column is int32
            exporter.add(bad)
            await exporter.flush()
            exporter.add(makeEvent(2))
            await exporter.flush()
            expect(puts.map((p) => p.key)).toEqual([expect.stringMatching(/\.jsonl\.gz$/), expect.stringMatching(/\.parquet$/)])
            const stored = gunzipSync(joinBody(puts[0].body)).toString().trim().split('\n').map((l) => JSON.parse(l))
            expect(stored).toEqual([expect.objectContaining({ uuid: bad.uuid, team_id: 2 ** 40, event: bad.event, properties: bad.properties })])
            expect(puts[0].contentEncoding).toBe('gzip')
            expect(lines.join('\n')).toMatch(/could not encode .*int32.*stored as JSON lines/)
            expect(exporter.stats).toMatchObject({ delivered: 2, dropped: 0 })
            await new Promise((r) => setImmediate(r))
            expect(unhandled).toEqual([])
        } finally {
            process.off('unhandledRejection', onUnhandled)
        }
    })

    it('is handed to the job queue as parts of gzipped JSON lines when Parquet refused a value and S3 is down', async () => {
        const handed: BodyPart[][] = []
        const store = { put: () => Promise.resolve<PutOutcome>({ kind: 'retry', failure: { code: 'SlowDown', statusCode: 503, message: '' } }) }
        const spill = (b: SpillableBatch) => b.split(b.body, 3_000).then((parts) => (handed.push(parts), { accepted: b.events, refused: 0, jobs: parts.length }))
        const { exporter } = rig({ format: 'parquet' }, { store, spill })
        const noisy = (i: number, extra = {}) => makeEvent(i, { ...extra, properties: { i, noise: randomBytes(300).toString('base64') } } as any)
        const sent = [noisy(0, { team_id: 2 ** 40 }), ...Array.from({ length: 40 }, (_, i) => noisy(i + 1))]
        for (const event of sent) exporter.add(event)
        expect(await exporter.close(T0 + 4_500)).toMatchObject({ spilled: 41, dropped: 0 })
        expect(handed).toHaveLength(1)
        expect(handed[0].length).toBeGreaterThan(1)
        const uuids = handed[0].flatMap((part) => gunzipSync(part.body).toString().trim().split('\n').map((l) => JSON.parse(l).uuid))
        expect(uuids).toEqual(sent.map((e) => e.uuid))
    })

    it('is set aside, counted and reported when nothing can re-encode it, and the queue moves on', async () => {
        const real = configuredFormat({ format: 'jsonl', compression: 'gzip', compressionLevel: 6, maxBatchBytes: 1_048_576 })
        let failNext = true
        const failing: Format<unknown> = {
            ...real,
            open: (now, onChange) => {
                const batch = real.open(now, onChange)
                const fail = failNext
                failNext = false
                return Object.assign(Object.create(batch), {
                    add: batch.add.bind(batch),
                    seal: () => (fail ? { ...batch.seal(), body: Promise.reject(new Error('compressor exploded')) } : batch.seal()),
                })
            },
        }
        const { exporter, puts, lines } = rig({}, { format: failing })
        exporter.add(makeEvent(1))
        await exporter.flush()
        exporter.add(makeEvent(2))
        await exporter.flush()
        expect(puts).toHaveLength(1)
        expect(exporter.stats).toMatchObject({ delivered: 1, dropped: 1 })
        expect(lines.join('\n')).toMatch(/could not make the body .*compressor exploded.*1 events are dropped/)
        expect(exporter.pendingEvents()).toBe(0)
    })
})

describe('a batch whose compressor cannot start', () => {
    // what a WebAssembly codec does past the instances a process can hold (a Node 14 process: ~100)
    const cannotStart = () => {
        throw new CompressionError('zstd', 'no WebAssembly instance could be made (Out of memory): too many compressors open at once in this process?')
    }
    const codec: Codec = { ...CODECS.gzip, compressor: cannotStart, compressNow: cannotStart }
    const format = createFormat('jsonl', { codec, level: 6, maxBatchBytes: 1_000_000, createdBy: 'test' })
    const big = (i: number) => makeEvent(i, { properties: { i, noise: randomBytes(600).toString('base64') } } as any)

    it.each([
        ['a batch past the size compressed at once, whose stream never starts', 400],
        ['a small batch compressed at once', 3],
    ])('stores %s as uncompressed JSON lines, every event once, and says so', async (_what, count) => {
        const { exporter, puts, lines } = rig({}, { format })
        const sent = Array.from({ length: count }, (_, i) => big(i))
        for (const event of sent) exporter.add(event) // never throws, though each chunk's start fails
        await exporter.flush()
        expect(puts).toHaveLength(1)
        expect(puts[0].key).toMatch(/\.jsonl$/)
        expect(puts[0].contentEncoding).toBeUndefined()
        const stored = joinBody(puts[0].body).toString('utf8').trim().split('\n').map((l) => JSON.parse(l).uuid)
        expect(stored).toEqual(sent.map((e) => e.uuid))
        expect(lines.join('\n')).toMatch(/could not encode .*\.jsonl\.gz \(zstd compression failed: no WebAssembly instance.*\); its \d+ events are stored as JSON lines in .*\.jsonl instead/)
        expect(exporter.stats).toMatchObject({ delivered: count, dropped: 0 })
    })

    it('hands such a batch to the job queue in parts of whole lines when S3 is down, every event once', async () => {
        const handed: Array<{ key: string; file: FileFormat; parts: BodyPart[] }> = []
        const store = { put: () => Promise.resolve<PutOutcome>({ kind: 'retry', failure: { code: 'SlowDown', statusCode: 503, message: '' } }) }
        const spill = (b: SpillableBatch) =>
            b.split(b.body, 20_000).then((parts) => {
                handed.push({ key: b.key, file: b.file, parts })
                return { accepted: b.events, refused: 0, jobs: parts.length }
            })
        const { exporter } = rig({}, { format, store, spill })
        const sent = Array.from({ length: 400 }, (_, i) => big(i))
        for (const event of sent) exporter.add(event)
        expect(await exporter.close(T0 + 4_500)).toMatchObject({ spilled: 400, dropped: 0 })
        expect(handed).toHaveLength(1)
        expect(handed[0].key).toMatch(/\.jsonl$/)
        expect(handed[0].file).toEqual({ extension: '.jsonl', contentType: 'application/x-ndjson' })
        expect(handed[0].parts.length).toBeGreaterThan(1)
        const uuids: string[] = []
        for (const part of handed[0].parts) {
            expect(part.body.length).toBeLessThanOrEqual(20_000)
            const read = part.body.toString('utf8').trim().split('\n').map((l) => JSON.parse(l).uuid)
            expect(read).toHaveLength(part.events)
            uuids.push(...read)
        }
        expect(uuids).toEqual(sent.map((e) => e.uuid))
    })
})

describe('close()', () => {
    it('reports only what that call did: a second close reports nothing again', async () => {
        const spilled: number[] = []
        const { exporter } = rig({}, { store: { put: () => Promise.resolve<PutOutcome>({ kind: 'retry', failure: { code: 'SlowDown', statusCode: 503, message: '' } }) }, spill: (b) => (spilled.push(b.events), Promise.resolve({ accepted: b.events, refused: 0, jobs: 1 })) })
        for (let i = 0; i < 5; i++) exporter.add(makeEvent(i))
        const first = await exporter.close(T0 + 4_500)
        expect(first).toMatchObject({ spilled: 5, jobs: 1, dropped: 0 })
        const second = await exporter.close(T0 + 4_500)
        expect(second).toMatchObject({ delivered: 0, spilled: 0, jobs: 0, dropped: 0, pendingEvents: 0 })
        expect(spilled).toEqual([5])
    })
})

describe('Parquet sizes', () => {
    it('counts text in UTF-8 bytes, so non-ASCII properties weigh what they take in the file', () => {
        const cjk = '漢字かな交じり文'.repeat(100)
        const event = makeEvent(1, { properties: { text: cjk } })
        const { bytes } = toParquetRow(event, '2026-11-25T10:00:00.000Z')
        expect(bytes).toBeGreaterThanOrEqual(Buffer.byteLength(cjk, 'utf8'))
        expect(bytes).toBeGreaterThan(cjk.length * 2.9)
    })

    it('keeps every body within the stored cap with CJK properties', async () => {
        const { exporter, puts } = rig({ format: 'parquet', maxBatchBytes: 1 << 20, maxStoredBytes: 256 * 1024 })
        for (let i = 0; i < 600; i++) exporter.add(makeEvent(i, { properties: { text: `${i}:${'東京大阪名古屋札幌'.repeat(60)}` } }))
        await exporter.flush()
        expect(puts.length).toBeGreaterThan(1)
        for (const put of puts) expect(put.body.length).toBeLessThanOrEqual(256 * 1024)
    })
})

describe('splitting a batch for the job queue', () => {
    function sealedWith(format: 'jsonl' | 'parquet', count: number) {
        const f = configuredFormat({ format, compression: 'gzip', compressionLevel: 6, maxBatchBytes: 1_048_576 })
        const batch = f.open(T0)
        for (let i = 0; i < count; i++) {
            const { payload, bytes } = f.measure({ ...makeEvent(i), properties: { i, noise: Math.random().toString(36).repeat(20) } }, '2026-11-25T10:00:00.000Z')
            batch.add(payload, bytes, '2026-11-25T10:00:00.000Z')
        }
        return { sealed: batch.seal(), file: f.file }
    }

    it.each(['jsonl', 'parquet'] as const)('cuts a %s body into parts of at most the given size that hold every event once, in order', async (format) => {
        const { sealed } = sealedWith(format, 3_000)
        const body = await sealed.body
        const parts = await sealed.split(body, Math.ceil(body.length / 5))
        expect(parts.length).toBeGreaterThanOrEqual(5)
        for (const part of parts) expect(part.body.length).toBeLessThanOrEqual(Math.ceil(body.length / 5))
        expect(parts.reduce((n, p) => n + p.events, 0)).toBe(3_000)
        if (format === 'jsonl') {
            const uuids = parts.flatMap((p) => gunzipSync(p.body).toString().trim().split('\n').map((l) => JSON.parse(l).uuid))
            expect(uuids).toEqual(Array.from({ length: 3_000 }, (_, i) => makeEvent(i).uuid))
        } else {
            for (const part of parts) expect([part.body.subarray(0, 4).toString(), part.body.subarray(-4).toString()]).toEqual(['PAR1', 'PAR1'])
        }
    })

    it('cuts a 16 MB JSON-lines body of barely compressible events into parts that each fit one job, every event once in order', async () => {
        const f = configuredFormat({ format: 'jsonl', compression: 'gzip', compressionLevel: 6, maxBatchBytes: 16 << 20 })
        const batch = f.open(T0)
        for (let i = 0; i < 6_000; i++) {
            const { payload, bytes } = f.measure({ ...makeEvent(i), properties: { i, noise: randomBytes(600).toString('base64') } }, '2026-11-25T10:00:00.000Z')
            batch.add(payload, bytes, '2026-11-25T10:00:00.000Z')
        }
        const sealed = batch.seal()
        const body = await sealed.body
        const [payload] = await toPayloads({ key: 'p/k.jsonl.gz', body, events: 6_000, file: f.file, metadata: {}, split: sealed.split })
        const maxPart = Math.floor(((MAX_JOB_PAYLOAD_BYTES - Buffer.byteLength(JSON.stringify({ ...payload, bodyBase64: '' }))) * 3) / 4) - 2_000
        const parts = await sealed.split(body, maxPart)
        for (const part of parts) expect(part.body.length).toBeLessThanOrEqual(maxPart)
        const uuids = parts.flatMap((p) => gunzipSync(p.body).toString().trim().split('\n').map((l) => JSON.parse(l).uuid))
        expect(uuids).toEqual(Array.from({ length: 6_000 }, (_, i) => makeEvent(i).uuid))
    })

    it('names parts after the batch key, keeping its extension, the same way every time', async () => {
        expect(partKey('posthog/2026-11-25/20261125-102936.123Z-3fac8794e45c5d73.jsonl.gz', '.jsonl.gz', 2, 5)).toBe(
            'posthog/2026-11-25/20261125-102936.123Z-3fac8794e45c5d73-part2of5.jsonl.gz'
        )
        const { sealed, file } = sealedWith('jsonl', 3_000)
        const body = await sealed.body
        const batch = { key: 'p/k.jsonl.gz', body, events: 3_000, file, metadata: { 'event-count': '3000' }, split: sealed.split }
        const limit = Math.floor(body.length / 2)
        const [a, b] = [await toPayloads(batch, limit), await toPayloads(batch, limit)]
        expect(a.map((p) => p.key)).toEqual(b.map((p) => p.key))
        expect(a.map((p) => p.bodyBase64)).toEqual(b.map((p) => p.bodyBase64))
        for (const p of a) expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThanOrEqual(limit)
        expect(a.map((p) => p.metadata?.part)).toEqual(a.map((_, i) => `${i + 1}/${a.length}`))
    })

    it('sends a batch that fits as one payload under its own key', async () => {
        const { sealed, file } = sealedWith('jsonl', 10)
        const body = await sealed.body
        const queued: SpilledBatchPayload[] = []
        const outcome = await spillBatch({ key: 'p/k.jsonl.gz', body, events: 10, file, metadata: {}, split: sealed.split }, (p) => (queued.push(p), Promise.resolve()))
        expect(outcome).toEqual({ accepted: 10, refused: 0, jobs: 1 })
        expect(queued.map((p) => p.key)).toEqual(['p/k.jsonl.gz'])
        expect(Buffer.byteLength(JSON.stringify(queued[0]))).toBeLessThanOrEqual(MAX_JOB_PAYLOAD_BYTES)
    })
})

describe('handing over a body no job payload can carry: a batch that may be stored already, one event bigger than a job', () => {
    /** a 2 MB body cut into three slices by a fake split (the cut itself is tested above) */
    function bigBatch(maybeStored: boolean): SpillableBatch {
        const body = randomBytes(2_000_000)
        const cuts = [0, 700_000, 1_400_000, 2_000_000]
        return {
            key: 'p/k.jsonl.gz',
            body,
            events: 30,
            file: jsonLinesFile(CODECS.gzip),
            metadata: { 'event-count': '30' },
            maybeStored,
            split: () => Promise.resolve([0, 1, 2].map((i) => ({ body: body.subarray(cuts[i], cuts[i + 1]), events: 10 }))),
        }
    }
    const quiet = { info: () => undefined, error: () => undefined }

    it('keeps its key: its slices wait in storage and one job stores the same bytes under it, once', async () => {
        const storage = new DevStorage()
        const batch = bigBatch(true)
        const queued: SpilledBatchPayload[] = []
        const outcome = await spillBatch(batch, (p) => (queued.push(JSON.parse(JSON.stringify(p))), Promise.resolve()), 30, storage.facade() as any)
        expect(outcome).toEqual({ accepted: 30, refused: 0, jobs: 1 })
        expect(queued.map((p) => p.key)).toEqual(['p/k.jsonl.gz'])
        expect(Buffer.byteLength(JSON.stringify(queued[0]))).toBeLessThanOrEqual(MAX_JOB_PAYLOAD_BYTES)
        expect([...storage.values.keys()]).toHaveLength(3)

        const puts: PutObjectRequest[] = []
        const store = { put: (r: PutObjectRequest) => (puts.push(r), Promise.resolve<PutOutcome>({ kind: 'ok' })) }
        const deps = { store, enqueue: () => Promise.resolve(), random: () => 0.5, log: quiet, bucket: 'b', storage: storage.facade() as any }
        expect(await runSpilledBatch(queued[0], deps)).toEqual({ outcome: 'stored' })
        expect(puts.map((p) => p.key)).toEqual(['p/k.jsonl.gz'])
        expect(joinBody(puts[0].body).equals(batch.body as Buffer)).toBe(true)
        expect(puts[0].metadata).toEqual({ 'event-count': '30' })
        expect([...storage.values.keys()]).toHaveLength(1) // the "stored" mark
        // the queue runs the job again (at least once delivery): nothing is added
        expect(await runSpilledBatch(queued[0], deps)).toEqual({ outcome: 'stored' })
        expect(puts).toHaveLength(1)
    })

    it('says the events are lost, never "stored", when the slices are gone and no run stored them', async () => {
        const storage = new DevStorage()
        const queued: SpilledBatchPayload[] = []
        await spillBatch(bigBatch(true), (p) => (queued.push(JSON.parse(JSON.stringify(p))), Promise.resolve()), 30, storage.facade() as any)
        storage.values.clear() // a host that lost its storage
        const errors: string[] = []
        const store = { put: () => Promise.resolve<PutOutcome>({ kind: 'ok' }) }
        const result = await runSpilledBatch(queued[0], { store, enqueue: () => Promise.resolve(), random: () => 0.5, log: { info: () => undefined, error: (m: string) => void errors.push(m) }, bucket: 'b', storage: storage.facade() as any })
        expect(result).toEqual({ outcome: 'dropped' })
        expect(errors.join('\n')).toMatch(/30 events of p\/k\.jsonl\.gz .* lost/)
    })

    it('parks one event bigger than a job alone, under its part key, and its job stores it whole', async () => {
        const storage = new DevStorage()
        const body = randomBytes(1_500_000)
        // three parts from the format's split; the middle one is a single event no payload can carry
        const cuts = [0, 200_000, 1_300_000, 1_500_000]
        const batch: SpillableBatch = {
            key: 'p/k.jsonl.gz',
            body,
            events: 21,
            file: jsonLinesFile(CODECS.gzip),
            metadata: { 'event-count': '21' },
            split: () => Promise.resolve([10, 1, 10].map((events, i) => ({ body: body.subarray(cuts[i], cuts[i + 1]), events }))),
        }
        const queued: SpilledBatchPayload[] = []
        const outcome = await spillBatch(batch, (p) => (queued.push(JSON.parse(JSON.stringify(p))), Promise.resolve()), 30, storage.facade() as any)
        expect(outcome).toEqual({ accepted: 21, refused: 0, jobs: 3 })
        expect(queued.map((p) => [p.key, p.events, Boolean(p.parked)])).toEqual([
            [partKey('p/k.jsonl.gz', '.jsonl.gz', 1, 3), 10, false],
            [partKey('p/k.jsonl.gz', '.jsonl.gz', 2, 3), 1, true],
            [partKey('p/k.jsonl.gz', '.jsonl.gz', 3, 3), 10, false],
        ])
        for (const p of queued) expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThanOrEqual(MAX_JOB_PAYLOAD_BYTES)
        const puts: PutObjectRequest[] = []
        const store = { put: (r: PutObjectRequest) => (puts.push(r), Promise.resolve<PutOutcome>({ kind: 'ok' })) }
        const deps = { store, enqueue: () => Promise.resolve(), random: () => 0.5, log: quiet, bucket: 'b', storage: storage.facade() as any }
        expect(await runSpilledBatch(queued[1], deps)).toEqual({ outcome: 'stored' })
        expect(joinBody(puts[0].body).equals(body.subarray(cuts[1], cuts[2]))).toBe(true)
        expect(puts[0].metadata).toMatchObject({ 'event-count': '1', part: '2/3' })
    })

    it('re-queues a parked job that S3 refused with its reference alone, writing no slice again', async () => {
        const storage = new DevStorage()
        const queued: SpilledBatchPayload[] = []
        await spillBatch(bigBatch(true), (p) => (queued.push(JSON.parse(JSON.stringify(p))), Promise.resolve()), 30, storage.facade() as any)
        const writes = storage.values.size
        const requeued: SpilledBatchPayload[] = []
        const store = { put: () => Promise.resolve<PutOutcome>({ kind: 'retry', failure: { code: 'SlowDown', status: 503, message: 'slow down' } as any }) }
        const result = await runSpilledBatch(queued[0], { store, enqueue: (p) => (requeued.push(p), Promise.resolve()), random: () => 0.5, log: quiet, bucket: 'b', storage: storage.facade() as any })
        expect(result).toEqual({ outcome: 'requeued' })
        expect(requeued).toHaveLength(1)
        expect(requeued[0]).toMatchObject({ key: 'p/k.jsonl.gz', bodyBase64: '', parked: queued[0].parked, attempt: 1 })
        expect(storage.values.size).toBe(writes)
    })

    it('leaves no slices in storage when the queue refuses the parked job, and counts its events refused', async () => {
        const storage = new DevStorage()
        const outcome = await spillBatch(bigBatch(true), () => Promise.reject(new Error('MessageSizeTooLarge')), 30, storage.facade() as any)
        expect(outcome).toMatchObject({ accepted: 0, refused: 30, jobs: 0, why: 'MessageSizeTooLarge' })
        expect(storage.values.size).toBe(0)
    })

    it('goes in part objects when no PUT of it started', async () => {
        const queued: SpilledBatchPayload[] = []
        await spillBatch(bigBatch(false), (p) => (queued.push(p), Promise.resolve()), 30, new DevStorage().facade() as any)
        expect(queued.map((p) => p.key)).toEqual([1, 2, 3].map((i) => partKey('p/k.jsonl.gz', '.jsonl.gz', i, 3)))
    })

    it('fits a whole member in one job payload under the longest key S3 allows', async () => {
        const key = `p/${'k'.repeat(1_010)}.jsonl.gz`
        const metadata = { 'event-count': '99999', 'min-event-timestamp': '2026-11-25T09:00:00.000Z', 'max-event-timestamp': '2026-11-25T09:00:00.000Z', 'app-version': 'posthog-s3-export/1.0.0' }
        const members = [MEMBER_MAX_BYTES, MEMBER_MAX_BYTES]
        const body = randomBytes(2 * MEMBER_MAX_BYTES)
        const batch = { key, body, events: 2, file: jsonLinesFile(CODECS.gzip), metadata, split: () => Promise.resolve(members.map((n, i) => ({ body: body.subarray(i * n, (i + 1) * n), events: 1 }))) }
        const payloads = await toPayloads(batch)
        expect(payloads).toHaveLength(2)
        for (const p of payloads) expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThanOrEqual(MAX_JOB_PAYLOAD_BYTES)
    })
})

describe('settings and hooks before a working setup', () => {
    it('never echoes credentials pasted into the endpoint', () => {
        let error: unknown
        try {
            parseConfig({ ...settingsFor({ endpoint: 'http://127.0.0.1:1', accessKeyId: 'AKIA', secretAccessKey: 's' } as any, 'bucket'), s3BucketEndpoint: 'https://user:hunter2@minio.local:9000/x' })
        } catch (e) {
            error = e
        }
        expect(error).toBeInstanceOf(ConfigError)
        expect(String(error)).not.toContain('hunter2')
        expect(String(error)).toContain('https://***@minio.local:9000/x')
    })

    it('does not throw from onEvent before setup ran or after it failed, and says why the event is not exported', () => {
        const errors: string[] = []
        const spy = jest.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m))
        try {
            expect(() => onEvent(makeEvent(1), { config: {}, global: {} })).not.toThrow()
            expect(() => onEvent(makeEvent(2), { config: {}, global: { setupError: 'S3 Export is not configured correctly' } })).not.toThrow()
            expect(errors.join('\n')).toMatch(/not set up.*not exported/)
        } finally {
            spy.mockRestore()
        }
    })
})
