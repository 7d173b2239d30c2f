/**
 * A large body goes to S3 in the pieces its compressor emitted, never joined (src/body.ts says why): stored intact by
 * a signature-checking local S3, through both fetches the app meets (node-fetch 2 in PostHog's sandbox, Node's own in
 * tests and tools), with each checksum option computed over the whole body, and sent again whole on a retry.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { createHash, randomBytes } from 'crypto'
import nodeFetch from 'node-fetch'
import * as zlib from 'zlib'
import { joinBody, PiecesBody } from '../../src/body'
import { parseConfig } from '../../src/config'
import { createS3Store, type S3StoreDeps } from '../../src/s3/client'
import { withS3 } from '../helpers/s3'
import { settingsFor } from '../helpers/plugin'

const BUCKET = 'large-bodies'
let s3: Awaited<ReturnType<typeof withS3>>
beforeAll(async () => {
    s3 = await withS3([BUCKET])
})
afterAll(async () => {
    await s3.close()
})

/** ~3 MB that does not compress, in the 64 KiB pieces a gzip stream emits (the last one shorter) */
function largeBody(): PiecesBody {
    const pieces = Array.from({ length: 48 }, () => randomBytes(64 * 1024))
    pieces.push(randomBytes(1234))
    return new PiecesBody(pieces)
}

interface Sent {
    headers: Record<string, string>
    bodyWasBuffer: boolean
}

/** The fetch under test, noting the headers each request went out with. */
function recording(fetchFn: unknown, sent: Sent[]): S3StoreDeps['fetch'] {
    return ((url: string, init: Record<string, unknown>) => {
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(init.headers as Record<string, string>)) headers[name.toLowerCase()] = value
        sent.push({ headers, bodyWasBuffer: Buffer.isBuffer(init.body) })
        return (fetchFn as (u: string, i: unknown) => Promise<unknown>)(url, init)
    }) as S3StoreDeps['fetch']
}

async function readBack(key: string): Promise<Buffer> {
    const out = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
    return Buffer.from(await out.Body!.transformToByteArray())
}

const fetches: Array<[string, unknown]> = [
    ["PostHog's node-fetch 2", nodeFetch],
    ["Node's own fetch", globalThis.fetch],
]

describe.each(fetches)('a body in pieces, through %s', (_name, fetchFn) => {
    it.each(['none', 'Content-MD5', 'CRC32'])('is stored byte for byte with checksum %s, its headers computed over the whole body', async (checksum) => {
        const sent: Sent[] = []
        const store = createS3Store(parseConfig(settingsFor(s3, BUCKET, { checksum })), { fetch: recording(fetchFn, sent) })
        const body = largeBody()
        const whole = joinBody(body)
        const key = `pieces/${checksum}/${Math.random().toString(36).slice(2)}.bin`
        const outcome = await store.put({ key, body, contentType: 'application/octet-stream' })
        expect(outcome).toMatchObject({ kind: 'ok' })
        expect((await readBack(key)).equals(whole)).toBe(true)

        const [request] = sent
        expect(request.bodyWasBuffer).toBe(false) // streamed as pieces, not joined first
        expect(request.headers['content-length']).toBe(String(whole.length))
        expect(request.headers['transfer-encoding']).toBeUndefined()
        expect(request.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(whole).digest('hex'))
        if (checksum === 'Content-MD5') expect(request.headers['content-md5']).toBe(createHash('md5').update(whole).digest('base64'))
        if (checksum === 'CRC32') {
            const crc = Buffer.alloc(4)
            crc.writeUInt32BE((zlib as unknown as { crc32(b: Buffer): number }).crc32(whole) >>> 0)
            expect(request.headers['x-amz-checksum-crc32']).toBe(crc.toString('base64'))
        }
    })

    it('is sent whole again when the same body is put a second time (a retry reads a fresh stream)', async () => {
        const store = createS3Store(parseConfig(settingsFor(s3, BUCKET)), { fetch: fetchFn as S3StoreDeps['fetch'] })
        const body = largeBody()
        const key = `pieces/retry/${Math.random().toString(36).slice(2)}.bin`
        expect(await store.put({ key, body, contentType: 'application/octet-stream' })).toMatchObject({ kind: 'ok' })
        expect(await store.put({ key, body, contentType: 'application/octet-stream' })).toMatchObject({ kind: 'ok' })
        expect((await readBack(key)).equals(joinBody(body))).toBe(true)
    })
})
