/** Bodies: small ones joined when made, large ones kept in the pieces their compressor emitted (src/body.ts). */
import { createHash, randomBytes } from 'crypto'
import { gunzipSync } from 'zlib'
import { bodyOf, JOIN_BELOW_BYTES, joinBody, PiecesBody, piecesOf } from '../../src/body'
import { CODECS } from '../../src/formats/codecs/registry'
import { payloadSha256 } from '../../src/s3/payload-hash'

const pieces = (sizes: number[]) => sizes.map((n, i) => Buffer.alloc(n, i + 1))

describe('a body', () => {
    it('of one piece is that Buffer, not a copy', () => {
        const [only] = pieces([5])
        expect(bodyOf([only], 5)).toBe(only)
    })

    it('below the join size is joined into one Buffer when made', () => {
        const parts = pieces([100, 200, 300])
        const body = bodyOf(parts, 600)
        expect(Buffer.isBuffer(body)).toBe(true)
        expect((body as Buffer).equals(Buffer.concat(parts))).toBe(true)
    })

    it('at the join size or above keeps its pieces, in order, with their total as its length', () => {
        const parts = pieces([JOIN_BELOW_BYTES / 2, JOIN_BELOW_BYTES / 2, 7])
        const body = bodyOf(parts, JOIN_BELOW_BYTES + 7)
        expect(body).toBeInstanceOf(PiecesBody)
        expect(body.length).toBe(JOIN_BELOW_BYTES + 7)
        expect(piecesOf(body)).toEqual(parts)
        expect(joinBody(body).equals(Buffer.concat(parts))).toBe(true)
    })

    it('that is a Buffer is its own single piece and joins to itself', () => {
        const [b] = pieces([9])
        expect(piecesOf(b)).toEqual([b])
        expect(joinBody(b)).toBe(b)
    })

    it('from a compressor whose output passes the join size stays in pieces, round-trips, and carries its SHA-256', async () => {
        const compressor = CODECS.gzip.compressor(CODECS.gzip.levels.default)
        // random bytes as hex: gzip gets them down to about half, so 3 MB of text gives ~1.5 MB of output
        for (let i = 0; i < 12; i++) compressor.write(Buffer.from(randomBytes(128 * 1024).toString('hex')))
        const body = await compressor.end()
        expect(body).toBeInstanceOf(PiecesBody)
        expect(piecesOf(body).length).toBeGreaterThan(1)
        const whole = joinBody(body)
        expect(gunzipSync(whole).length).toBe(12 * 256 * 1024)
        expect(payloadSha256(body)).toBe(createHash('sha256').update(whole).digest('hex'))
    })
})
