import { joinBody, type Body } from '../../../src/body'
import { brotliDecompressSync, gunzipSync } from 'zlib'
import { utf8Length } from '../../../src/event/json-line'
import { CODECS, type Compression } from '../../../src/formats/codecs/registry'
import { BATCH_OVERHEAD_BYTES, OpenBatch, PENDING_LINE_OVERHEAD_BYTES } from '../../../src/formats/line-batch'

/** An open batch with the codec at its default level. */
const openBatch = (compression: Compression, openedAt: number, coalesceBytes?: number) =>
    new OpenBatch(CODECS[compression], CODECS[compression].levels?.default ?? 0, openedAt, coalesceBytes)

// zstd is read back by DuckDB (Node 20 cannot): codecs.test.ts and the sandbox tests cover it
const decompress: Record<Exclude<Compression, 'zstd'>, (body: Body) => Buffer> = {
    gzip: (body) => gunzipSync(joinBody(body)),
    brotli: (body) => brotliDecompressSync(joinBody(body)),
    none: (body) => joinBody(body),
}

const line = (i: number) => `{"event":"e${i}","uuid":"${i}","text":"${i % 3 === 0 ? 'ü😀漢' : 'plain'}"}\n`

function fill(batch: OpenBatch, count: number): string[] {
    const lines = Array.from({ length: count }, (_, i) => line(i))
    for (const l of lines) batch.add(l, utf8Length(l))
    return lines
}

describe('OpenBatch', () => {
    it('counts the raw UTF-8 bytes and the events added', () => {
        const batch = openBatch('gzip', 0)
        const lines = fill(batch, 10)
        expect(batch.events).toBe(10)
        expect(batch.rawBytes).toBe(Buffer.byteLength(lines.join(''), 'utf8'))
        return batch.seal()
    })

    it('remembers when it was opened', () => {
        const batch = openBatch('none', 1_234)
        expect(batch.openedAt).toBe(1_234)
    })

    describe.each<Exclude<Compression, 'zstd'>>(['gzip', 'brotli', 'none'])('with %s', (compression) => {
        it('seals into a body that decompresses to exactly the lines added, in order', async () => {
            const batch = openBatch(compression, 0)
            const lines = fill(batch, 500)
            const body = await batch.seal()
            expect(decompress[compression](body).toString('utf8')).toBe(lines.join(''))
        })

        it('keeps every line in order when lines are handed to the compressor in many small chunks', async () => {
            const batch = openBatch(compression, 0, 100)
            const lines = fill(batch, 500)
            const body = await batch.seal()
            expect(decompress[compression](body).toString('utf8').split('\n').slice(0, -1)).toEqual(lines.map((l) => l.slice(0, -1)))
        })
    })

    it('seals an empty batch into an empty body', async () => {
        const body = await openBatch('gzip', 0).seal()
        expect(gunzipSync(joinBody(body)).length).toBe(0)
    })

    it('holds far fewer bytes than it was given for repetitive content once sealed', async () => {
        const batch = openBatch('gzip', 0)
        const l = '{"event":"$pageview","properties":{"$browser":"Chrome","$os":"Mac OS X","$current_url":"https://example.com/"}}\n'
        for (let i = 0; i < 40_000; i++) batch.add(l, l.length)
        expect(batch.rawBytes).toBe(40_000 * l.length)
        const body = await batch.seal()
        expect(batch.memoryBytes()).toBe(body.length)
        expect(batch.memoryBytes()).toBeLessThan(batch.rawBytes / 50)
    })

    it('counts lines not yet handed to the compressor in its memory', () => {
        const batch = openBatch('gzip', 0)
        batch.add('{"a":1}\n', 8)
        // ASCII text at a byte a character, its rope node, the batch's bookkeeping; no compressor yet (it starts with the first chunk)
        expect(batch.memoryBytes()).toBe(8 + PENDING_LINE_OVERHEAD_BYTES + BATCH_OVERHEAD_BYTES)
        return batch.seal()
    })

    it('throws when a line is added after seal', async () => {
        const batch = openBatch('gzip', 0)
        fill(batch, 3)
        const sealed = batch.seal()
        expect(() => batch.add('{"late":true}\n', 14)).toThrow(/after seal/)
        expect(gunzipSync(joinBody(await sealed)).toString()).not.toContain('late')
    })

    it('throws when sealed twice', async () => {
        const batch = openBatch('none', 0)
        const sealed = batch.seal()
        expect(() => batch.seal()).toThrow(/twice/)
        await sealed
    })
})
