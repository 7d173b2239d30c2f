/**
 * The contract every registered format keeps, with every codec this Node has: a new format or codec added to a
 * registry is held to it here without a new test (only a reader for a new format, below).
 */
import { randomBytes } from 'crypto'
import { mkdtempSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'
import { joinBody } from '../../../src/body'
import { MEMBER_MAX_BYTES, type Codec } from '../../../src/formats/codecs/codec'
import { CODECS } from '../../../src/formats/codecs/registry'
import { createFormat, FORMATS, type FormatName } from '../../../src/formats/registry'
import { MEGABYTE } from '../../../src/units'
import { makeEvent } from '../../helpers/events'
import { query } from '../../helpers/parquet'
import { zstdText } from '../../helpers/zstd'

/** Each format's uuids read back as a user's tools would read them, in order. */
const READERS: Record<FormatName, (body: Buffer, codec: Codec) => Promise<string[]>> = {
    // zstd by DuckDB: this Node has no zstd decoder, and the WebAssembly zstd is a compressor only
    jsonl: async (body, codec) =>
        (codec.setting === 'zstd' ? await zstdText(body) : (await codec.decompress(body)).toString('utf8'))
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line).uuid),
    parquet: async (body) => {
        const file = path.join(mkdtempSync(path.join(tmpdir(), 'format-')), 'body.parquet')
        writeFileSync(file, body)
        return (await query(`SELECT uuid FROM read_parquet('${file}')`)).map((row) => row.uuid)
    },
}

const available = Object.entries(CODECS).filter(([, codec]) => codec.unavailable() === undefined)

describe.each(Object.keys(FORMATS) as FormatName[])('the %s format', (name) => {
    it('has a reader in this test', () => {
        expect(READERS[name]).toBeDefined()
    })

    it.each(available)('with %s stores every event once, in order, in one body and in job-sized parts, and names the first and last event time', async (_codec, codec) => {
        const format = createFormat(name, { codec, level: codec.levels?.default ?? 0, maxBatchBytes: MEGABYTE, createdBy: 'test' })
        const batch = format.open(1_000)
        const uuids: string[] = []
        const times: string[] = []
        for (let i = 0; i < 2_000; i++) {
            // times out of order: the batch's first and last event time are its min and max, not its ends
            const timestamp = new Date(Date.UTC(2026, 10, 25, 10, 0, (i * 7919) % 3600)).toISOString()
            const event = makeEvent(i, { timestamp, properties: { i, noise: randomBytes(700).toString('base64') } } as any)
            const { payload, bytes } = format.measure(event, timestamp)
            batch.add(payload, bytes, timestamp)
            uuids.push(event.uuid)
            times.push(timestamp)
        }
        expect([batch.events, batch.openedAt]).toEqual([2_000, 1_000])
        expect([batch.minTime, batch.maxTime]).toEqual([[...times].sort()[0], [...times].sort()[times.length - 1]])
        const sealed = batch.seal()
        const body = joinBody(await sealed.body)
        expect(body.length).toBeLessThanOrEqual(batch.storedBoundBytes())
        expect(await READERS[name](body, codec)).toEqual(uuids)

        // a member larger than a part is cut by decompressing it; the WebAssembly codecs have no decoder, so their
        // parts are at least a member (as the job queue's always are: codecs/codec.ts MEMBER_MAX_BYTES), and the
        // ~1.5 MB body still makes three
        const decodes = await codec.decompress(codec.compressNow(Buffer.from('{}\n'), codec.levels?.default ?? 0)).then(() => true, () => false)
        const maxBytes = Math.max(Math.ceil(body.length / 3), decodes ? 0 : MEMBER_MAX_BYTES)
        const parts = await sealed.split(body, maxBytes)
        expect(parts.length).toBeGreaterThan(1)
        const stored: string[] = []
        for (const part of parts) {
            expect(part.body.length).toBeLessThanOrEqual(maxBytes)
            const read = await READERS[name](part.body, codec)
            expect(read).toHaveLength(part.events)
            stored.push(...read)
        }
        expect(stored).toEqual(uuids)
    })
})
