/** The payload hash the upload signs is taken while the body is compressed, and is the body's real SHA-256. */
import { createHash } from 'crypto'
import { joinBody, type Body } from '../../src/body'
import { CODECS } from '../../src/formats/codecs/registry'
import { payloadSha256 } from '../../src/s3/payload-hash'

const sha256 = (b: Body) => createHash('sha256').update(joinBody(b)).digest('hex')

describe('the payload hash', () => {
    for (const compression of ['gzip', 'brotli', 'none'] as const) {
        it(`is the SHA-256 of the whole ${compression} body, however many pieces it was written in`, async () => {
            const compressor = CODECS[compression].compressor(CODECS[compression].levels?.default ?? 0)
            for (let i = 0; i < 5; i++) compressor.write(Buffer.from(`{"event":"e${i}","n":${i}}\n`.repeat(20_000)))
            const body = await compressor.end()
            expect(payloadSha256(body)).toBe(sha256(body))
        })
    }

    it('is computed on the spot for a body no compressor made (Parquet, spilled batches)', () => {
        const body = Buffer.from('PAR1 not compressed by us')
        expect(payloadSha256(body)).toBe(sha256(body))
    })

    it('belongs to the body object: an equal copy is hashed anew and gets the same value', async () => {
        const compressor = CODECS.gzip.compressor(CODECS.gzip.levels.default)
        compressor.write(Buffer.from('x'.repeat(100_000)))
        const body = await compressor.end()
        expect(payloadSha256(Buffer.from(joinBody(body)))).toBe(payloadSha256(body))
    })
})
