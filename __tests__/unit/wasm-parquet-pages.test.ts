/**
 * Parquet's page codecs without zlib: pageCompressor (src/formats/codecs/wasm/page.ts) is a function the Parquet
 * writer calls for each page, as src/parquet.ts's gzipPage does with the host's zlib. Files written with it are
 * read back by DuckDB, with GZIP pages and with ZSTD pages.
 */
import { mkdtempSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'
import { gunzipSync } from 'zlib'

import { parquetWriteBuffer } from 'hyparquet-writer'

import { pageCompressor } from '../../src/formats/codecs/wasm/page'
import { makeEvent } from '../helpers/events'
import { query } from '../helpers/parquet'
import { WASM } from '../helpers/wasm-modules'
import { zstdText } from '../helpers/zstd'

const dir = mkdtempSync(path.join(tmpdir(), 'wasm-pages-'))

describe('pageCompressor', () => {
    it('compresses each page as a gzip member of its own, bytes of this realm in and out', () => {
        const compress = pageCompressor(WASM.gzip)
        for (const text of ['first page', 'second page, longer: ' + 'x'.repeat(100_000)]) {
            const out = compress(new Uint8Array(Buffer.from(text)))
            expect(out).toBeInstanceOf(Uint8Array)
            expect(gunzipSync(out).toString()).toBe(text)
        }
    })

    it('compresses each page as a zstd frame of its own', async () => {
        const compress = pageCompressor(WASM.zstd)
        const out = compress(new Uint8Array(Buffer.from('a line\n'.repeat(20_000))))
        expect(await zstdText(Buffer.from(out))).toBe('a line\n'.repeat(20_000))
    })

    it('reports the memory of the one instance it keeps for all pages', () => {
        let held = 0
        const compress = pageCompressor(WASM.gzip, undefined, (delta) => void (held += delta))
        const before = held
        expect(before).toBeGreaterThan(128 * 1024)
        for (let i = 0; i < 20; i++) compress(new Uint8Array(Buffer.from(JSON.stringify(makeEvent(i)).repeat(50))))
        expect(held).toBe(before)
    })

    it.each([
        ['GZIP', 'gzip'],
        ['ZSTD', 'zstd'],
    ] as const)('serves the Parquet writer as its %s codec: DuckDB reads every row back', async (parquetCodec, codec) => {
        const events = Array.from({ length: 3_000 }, (_, i) => makeEvent(i))
        const file = path.join(dir, `${codec}.parquet`)
        const buffer = parquetWriteBuffer({
            columnData: [
                { name: 'uuid', data: events.map((e) => e.uuid), type: 'STRING' },
                { name: 'event', data: events.map((e) => e.event), type: 'STRING' },
                { name: 'properties', data: events.map((e) => JSON.stringify(e.properties)), type: 'STRING' },
            ],
            codec: parquetCodec,
            compressors: { [parquetCodec]: pageCompressor(WASM[codec]) },
            rowGroupSize: 1_000,
        } as any)
        writeFileSync(file, Buffer.from(buffer))
        const codecs = await query(`SELECT DISTINCT compression FROM parquet_metadata('${file}')`)
        expect(codecs.map((r) => r.compression)).toEqual([parquetCodec])
        const rows = await query(`SELECT uuid, properties FROM read_parquet('${file}') ORDER BY uuid`)
        expect(rows).toHaveLength(3_000)
        expect(rows[1234]).toEqual({ uuid: events[1234].uuid, properties: JSON.stringify(events[1234].properties) })
    })
})
