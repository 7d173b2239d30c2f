import { randomBytes } from 'crypto'
import { joinBody, type Body } from '../../../src/body'
import { brotliCompressSync, brotliDecompressSync, gunzipSync } from 'zlib'
import { MEMBER_MAX_BYTES, type MemoryListener } from '../../../src/formats/codecs/codec'
import { CODECS, type Compression } from '../../../src/formats/codecs/registry'
import { zstdText } from '../../helpers/zstd'

/** A codec's compressor at its default level. */
const createCompressor = (compression: Compression, onChange?: MemoryListener, memberMaxBytes?: number) =>
    CODECS[compression].compressor(CODECS[compression].levels?.default ?? 0, onChange, memberMaxBytes)

// zstd is read back by DuckDB (Node 20 cannot): its own describe below
const decompress: Record<Exclude<Compression, 'zstd'>, (body: Body) => Buffer> = {
    gzip: (body) => gunzipSync(joinBody(body)),
    brotli: (body) => brotliDecompressSync(joinBody(body)),
    none: (body) => joinBody(body),
}

/** JSON-ish lines with some variety, as many separate chunks. */
function chunks(count: number): Buffer[] {
    return Array.from({ length: count }, (_, i) =>
        Buffer.from(`{"event":"$pageview","i":${i},"uuid":"${i.toString(16).padStart(12, '0')}","text":"ü😀漢 ${'x'.repeat(i % 97)}"}\n`, 'utf8')
    )
}

describe.each<Exclude<Compression, 'zstd'>>(['gzip', 'brotli', 'none'])('%s compression', (compression) => {
    it('round-trips many written chunks in order', async () => {
        const input = chunks(2_000)
        const compressor = createCompressor(compression)
        for (const chunk of input) compressor.write(chunk)
        const body = await compressor.end()
        expect(decompress[compression](body).equals(Buffer.concat(input))).toBe(true)
    })

    it('round-trips a single chunk', async () => {
        const compressor = createCompressor(compression)
        compressor.write(Buffer.from('{"a":1}\n'))
        expect(decompress[compression](await compressor.end()).toString()).toBe('{"a":1}\n')
    })

    it('holds as many bytes as its output once finished, and more for a larger input', async () => {
        const small = createCompressor(compression)
        small.write(randomBytes(16 * 1024))
        const smallBody = await small.end()
        const large = createCompressor(compression)
        for (let i = 0; i < 16; i++) large.write(randomBytes(16 * 1024))
        const largeBody = await large.end()
        expect(small.memoryBytes()).toBe(smallBody.length)
        expect(large.memoryBytes()).toBe(largeBody.length)
        expect(large.memoryBytes()).toBeGreaterThan(small.memoryBytes() * 8)
    })
})

describe('compression memory while writing', () => {
    it('counts its native state while open, written input that is not yet compressed, and no state once ended', async () => {
        const compressor = createCompressor('gzip')
        expect(compressor.memoryBytes()).toBe(CODECS.gzip.streamStateBytes)
        compressor.write(randomBytes(64 * 1024))
        expect(compressor.memoryBytes()).toBeGreaterThanOrEqual(CODECS.gzip.streamStateBytes + 64 * 1024)
        const body = await compressor.end()
        expect(compressor.memoryBytes()).toBe(body.length)
    })

    it('tells its listener every change, so a running total equals memoryBytes()', async () => {
        let total = 0
        const compressor = createCompressor('gzip', (delta) => (total += delta))
        for (let i = 0; i < 8; i++) {
            compressor.write(randomBytes(64 * 1024))
            expect(total).toBe(compressor.memoryBytes())
        }
        await compressor.end()
        expect(total).toBe(compressor.memoryBytes())
    })

    it('compresses repetitive JSON lines far below their raw size', async () => {
        const input = Buffer.from('{"event":"$pageview","properties":{"$browser":"Chrome"}}\n'.repeat(20_000))
        const compressor = createCompressor('gzip')
        compressor.write(input)
        const body = await compressor.end()
        expect(compressor.memoryBytes()).toBe(body.length)
        expect(body.length).toBeLessThan(input.length / 50)
    })
})

describe('zstd', () => {
    it('is compressed by zstd compiled to WebAssembly where the host Node has no zstd, levels 1 to 4, and DuckDB reads it', async () => {
        const zlib = require('zlib')
        const saved = zlib.createZstdCompress
        delete zlib.createZstdCompress
        try {
            let zstd: (typeof CODECS)['zstd'] | undefined
            jest.isolateModules(() => {
                zstd = require('../../../src/formats/codecs/registry').CODECS.zstd
            })
            expect(zstd!.unavailable()).toBeUndefined()
            expect(zstd!.levels).toEqual({ min: 1, max: 4, default: 3 })
            const compressor = zstd!.compressor(3)
            const text = Array.from({ length: 2_000 }, (_, i) => `{"i":${i},"é":"ü"}\n`).join('')
            compressor.write(Buffer.from(text), 2_000)
            expect(await zstdText(joinBody(await compressor.end()))).toBe(text)
        } finally {
            if (saved) zlib.createZstdCompress = saved
        }
    })

    // Where the host's Node has zstd (22.15+), the stream is made with the configured level and our chunk size; a
    // stand-in zlib.createZstdCompress shows what is asked of it.
    it('asks the host zlib for a zstd stream with the configured level and names the file .jsonl.zst', async () => {
        const zlib = require('zlib')
        const asked: any[] = []
        const hadConstant = 'ZSTD_c_compressionLevel' in zlib.constants
        const saved = zlib.createZstdCompress
        zlib.createZstdCompress = (options: unknown) => {
            asked.push(options)
            return zlib.createGzip() // a working stream in its place
        }
        if (!hadConstant) Object.defineProperty(zlib.constants, 'ZSTD_c_compressionLevel', { value: 100, configurable: true })
        try {
            let codecs: typeof import('../../../src/formats/codecs/registry') | undefined
            let jsonl: typeof import('../../../src/formats/jsonl') | undefined
            let chunkBytes = 0
            jest.isolateModules(() => {
                codecs = require('../../../src/formats/codecs/registry')
                jsonl = require('../../../src/formats/jsonl')
                chunkBytes = require('../../../src/formats/codecs/zlib-codec').CHUNK_BYTES
            })
            const zstd = codecs!.CODECS.zstd
            expect(zstd.unavailable()).toBeUndefined()
            const compressor = zstd.compressor(7)
            compressor.write(Buffer.from('{"a":1}\n'))
            await compressor.end()
            expect(asked).toEqual([{ chunkSize: chunkBytes, params: { [zlib.constants.ZSTD_c_compressionLevel]: 7 } }])
            expect(jsonl!.jsonLinesFile(zstd)).toEqual({ extension: '.jsonl.zst', contentType: 'application/x-ndjson', contentEncoding: 'zstd' })
        } finally {
            if (saved) zlib.createZstdCompress = saved
            else delete zlib.createZstdCompress
            if (!hadConstant) delete zlib.constants.ZSTD_c_compressionLevel
        }
    })
})

describe('a body in members', () => {
    /** 256 KiB chunks of whole lines that barely compress (base64 noise): ~190 KB of gzip each */
    const noisyChunks = (count: number) =>
        Array.from({ length: count }, (_, c) => {
            const lines = Array.from({ length: 256 }, (_, i) => `{"i":${c * 256 + i},"noise":"${randomBytes(760).toString('base64').slice(0, 1000)}"}\n`).join('')
            return { chunk: Buffer.from(lines, 'utf8'), events: 256 }
        })

    it.each<Exclude<Compression, 'zstd' | 'brotli'>>(['gzip', 'none'])('cuts a %s body at chunk boundaries into members, each readable alone, the last ones within MEMBER_MAX_BYTES once the ratio is known', async (compression) => {
        const input = noisyChunks(24)
        const compressor = createCompressor(compression)
        for (const { chunk, events } of input) {
            compressor.write(chunk, events)
            await new Promise((r) => setTimeout(r, 1))
        }
        const body = joinBody(await compressor.end())
        const members = compressor.members()
        expect(members.length).toBeGreaterThan(2)
        expect(members.reduce((n, m) => n + m.bytes, 0)).toBe(body.length)
        expect(members.reduce((n, m) => n + m.events, 0)).toBe(24 * 256)
        // the first member is cut by a guessed ratio (this noise compresses worse than the guess); the data's own
        // ratio cuts the rest (a member that outgrows a job anyway is re-compressed alone: failure-paths.test.ts)
        if (compression === 'none') for (const m of members) expect(m.bytes).toBeLessThanOrEqual(MEMBER_MAX_BYTES)
        let at = 0
        let line = 0
        for (const m of members) {
            const text = decompress[compression](body.subarray(at, at + m.bytes)).toString()
            const lines = text.trim().split('\n').map((l) => JSON.parse(l).i)
            expect(lines).toEqual(Array.from({ length: m.events }, (_, k) => line + k))
            at += m.bytes
            line += m.events
        }
        // and the whole body is one stream to a reader: gunzip reads concatenated members
        expect(decompress[compression](body).equals(Buffer.concat(input.map((c) => c.chunk)))).toBe(true)
    })

    it('keeps a brotli body one stream: node reads only the first of concatenated brotli streams', async () => {
        const twoStreams = Buffer.concat([brotliCompressSync('a\n'), brotliCompressSync('b\n')])
        expect(brotliDecompressSync(twoStreams).toString()).toBe('a\n')
        const compressor = createCompressor('brotli')
        for (const { chunk, events } of noisyChunks(8)) compressor.write(chunk, events)
        await compressor.end()
        expect(compressor.members()).toHaveLength(1)
    })
})
