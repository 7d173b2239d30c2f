/**
 * gzip and zstd through WebAssembly (src/formats/codecs/wasm/compressor.ts), the Compressor of hosts without zlib:
 * what comes out is read back by node's zlib (gzip) and DuckDB (zstd), member by member and as a whole.
 */
import { randomBytes } from 'crypto'
import { gunzipSync } from 'zlib'

import { joinBody } from '../../src/body'
import { MEMBER_MAX_BYTES } from '../../src/formats/codecs/codec'
import { compressWholeWasm, createWasmCompressor, wasmLevel } from '../../src/formats/codecs/wasm/compressor'
import { payloadSha256 } from '../../src/s3/payload-hash'
import { clientEvents } from '../../dev/client-events'
import { makeEvent } from '../helpers/events'
import { WASM } from '../helpers/wasm-modules'
import { zstdText } from '../helpers/zstd'

type Codec = 'gzip' | 'zstd'

const decompress = async (codec: Codec, body: Buffer): Promise<string> => (codec === 'gzip' ? gunzipSync(body).toString('utf8') : zstdText(body))

/** a compressor and the running total of its onChange deltas */
function counted(codec: Codec, memberMaxBytes = MEMBER_MAX_BYTES) {
    const ledger = { total: 0, peak: 0 }
    const compressor = createWasmCompressor(WASM[codec], undefined, (delta) => {
        ledger.total += delta
        ledger.peak = Math.max(ledger.peak, ledger.total)
    }, memberMaxBytes)
    return { compressor, ledger }
}

const lines = (n: number, from = 0) => Array.from({ length: n }, (_, i) => JSON.stringify(makeEvent(from + i)) + '\n')

describe.each<Codec>(['gzip', 'zstd'])('%s through WebAssembly', (codec) => {
    it('decompresses to exactly the lines written, one event at a time, unicode included', async () => {
        const text = lines(500)
        const { compressor } = counted(codec)
        for (const line of text) compressor.write(Buffer.from(line), 1)
        const body = joinBody(await compressor.end())
        expect(await decompress(codec, body)).toBe(text.join(''))
        expect(compressor.members().reduce((n, m) => n + m.events, 0)).toBe(500)
    })

    it('cuts members between lines, never past the limit, each readable alone, together one stream', async () => {
        // client events (~1.8 KB, ~6.5x) in 64 KiB chunks and one at a time, with a small limit: many members
        const make = clientEvents(3)
        const text = Array.from({ length: 3_000 }, () => JSON.stringify(make()) + '\n')
        const limit = 64 * 1024
        const { compressor } = counted(codec, limit)
        for (let i = 0; i < text.length; i += 40) {
            const part = text.slice(i, i + 40)
            if (i % 80 === 0) compressor.write(Buffer.from(part.join('')), part.length)
            else for (const line of part) compressor.write(Buffer.from(line), 1)
        }
        const body = joinBody(await compressor.end())
        const members = compressor.members()
        expect(members.length).toBeGreaterThan(5)
        expect(members.reduce((n, m) => n + m.bytes, 0)).toBe(body.length)
        expect(members.reduce((n, m) => n + m.events, 0)).toBe(text.length)
        for (const m of members) expect(m.bytes).toBeLessThanOrEqual(limit)
        let at = 0
        let line = 0
        for (const m of members) {
            expect(await decompress(codec, body.subarray(at, at + m.bytes))).toBe(text.slice(line, line + m.events).join(''))
            at += m.bytes
            line += m.events
        }
        expect(await decompress(codec, body)).toBe(text.join(''))
    })

    it('keeps members within the limit for data that does not compress at all', async () => {
        const text = Array.from({ length: 400 }, (_, i) => `{"i":${i},"noise":"${randomBytes(1500).toString('latin1').replace(/[^\x20-\x7e]/g, 'x')}${randomBytes(600).toString('base64')}"}\n`)
        const limit = 100 * 1024
        const { compressor } = counted(codec, limit)
        for (let i = 0; i < text.length; i += 50) compressor.write(Buffer.from(text.slice(i, i + 50).join('')), 50)
        const body = joinBody(await compressor.end())
        for (const m of compressor.members()) expect(m.bytes).toBeLessThanOrEqual(limit)
        expect(await decompress(codec, body)).toBe(text.join(''))
    })

    it('puts a line longer than the limit in a member of its own', async () => {
        const long = `{"noise":"${randomBytes(30_000).toString('base64')}"}\n`
        const text = ['{"a":1}\n', long, '{"b":2}\n']
        const { compressor } = counted(codec, 8 * 1024)
        for (const line of text) compressor.write(Buffer.from(line), 1)
        const body = joinBody(await compressor.end())
        expect(compressor.members().map((m) => m.events)).toEqual([1, 1, 1])
        expect(await decompress(codec, body)).toBe(text.join(''))
    })

    it('makes a valid empty body when no line was written', async () => {
        const { compressor } = counted(codec)
        const body = joinBody(await compressor.end())
        expect(body.length).toBeGreaterThan(0)
        expect(await decompress(codec, body)).toBe('')
    })

    it('reports every change of its memory: the instance while open, only the output once ended', async () => {
        const { compressor, ledger } = counted(codec)
        // counted from the start: the module's stack and buffers (zstd takes its window and tables at the first write)
        expect(ledger.total).toBe(compressor.memoryBytes())
        expect(ledger.total).toBeGreaterThan(128 * 1024)
        // gzip: ~0.5 MiB (deflate's window and hash chains); zstd level 3: its 2 MiB window and tables
        const instance = codec === 'gzip' ? 1024 * 1024 : 6 * 1024 * 1024
        const make = clientEvents(5)
        let raw = 0
        for (let i = 0; i < 6_000; i++) {
            const line = Buffer.from(JSON.stringify(make()) + '\n')
            raw += line.length
            compressor.write(line, 1)
            expect(ledger.total).toBe(compressor.memoryBytes())
        }
        // bounded: the instance and the compressed output, never the raw text (~11 MB here)
        expect(ledger.peak).toBeLessThan(instance + raw / 4)
        const body = joinBody(await compressor.end())
        expect(ledger.total).toBe(body.length)
        expect(compressor.memoryBytes()).toBe(body.length)
    })

    it('remembers the body’s SHA-256 as it compresses, for the upload to sign', async () => {
        const { compressor } = counted(codec)
        for (const line of lines(50)) compressor.write(Buffer.from(line), 1)
        const body = await compressor.end()
        const { createHash } = await import('crypto')
        expect(payloadSha256(body)).toBe(createHash('sha256').update(joinBody(body)).digest('hex'))
    })
})

describe.each<Codec>(['gzip', 'zstd'])('%s of a whole input at once', (codec) => {
    it('is one member that decompresses to the input', async () => {
        const text = lines(300).join('')
        const body = compressWholeWasm(WASM[codec], Buffer.from(text))
        expect(await decompress(codec, body)).toBe(text)
    })
})

describe('levels', () => {
    it('compresses gzip at the configured level, 6 by default', () => {
        expect(wasmLevel(WASM.gzip)).toBe(6)
        expect(wasmLevel(WASM.gzip, 9)).toBe(9)
    })

    it('compresses zstd at level 3 by default and at most at level 4, the highest the module has match finders for', () => {
        expect(wasmLevel(WASM.zstd)).toBe(3)
        expect(wasmLevel(WASM.zstd, 1)).toBe(1)
        expect(wasmLevel(WASM.zstd, 19)).toBe(4)
    })
})
