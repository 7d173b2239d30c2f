/**
 * Reading what the app wrote, for the dev host's report and the tests: list, get, decompress, parse.
 * The client strips the trailing slash s3rver mis-signs on bucket-level requests (ListObjects): a quirk of the
 * local server, so the fix lives here and never in the app. Against a real bucket it changes nothing that matters.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import * as zlib from 'zlib'
import { brotliDecompressSync, gunzipSync } from 'zlib'
import { startS3Server, type RunningS3 } from './s3server'
import { WRITE_CHECK_NAME } from '../src/health/write-check'

export interface StoredObject {
    key: string
    /** bytes as stored (compressed) */
    size: number
    contentEncoding?: string
    contentType?: string
    metadata?: Record<string, string>
    /** decompressed JSON lines */
    raw: Buffer
    events: any[]
}

export interface ReaderTarget {
    endpoint?: string
    accessKeyId: string
    secretAccessKey: string
    region?: string
    forcePathStyle?: boolean
}

export function readerClient(s3: ReaderTarget): S3Client {
    const client = new S3Client({
        region: s3.region || 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: s3.forcePathStyle ?? Boolean(s3.endpoint),
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
    })
    client.middlewareStack.add(
        (next) => (args: any) => {
            const request = args.request
            if (request && typeof request.path === 'string' && /^\/[^/]+\/$/.test(request.path)) request.path = request.path.slice(0, -1)
            return next(args)
        },
        { step: 'build', name: 'stripBucketSlash' }
    )
    return client
}

export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000 }))
    // s3rver's continuation tokens need legacy OpenSSL (DES): callers keep to one page of 1000
    if (out.IsTruncated) throw new Error('more than 1000 objects under the prefix: list a narrower prefix')
    return (out.Contents ?? []).map((o) => o.Key!).sort()
}

export function decode(body: Buffer, key: string): Buffer {
    if (key.endsWith('.gz')) return gunzipSync(body)
    if (key.endsWith('.br')) return brotliDecompressSync(body)
    if (key.endsWith('.zst')) return (zlib as unknown as { zstdDecompressSync(b: Buffer): Buffer }).zstdDecompressSync(body)
    return body
}

export async function readObject(client: S3Client, bucket: string, key: string): Promise<StoredObject> {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    const body = Buffer.from(await out.Body!.transformToByteArray())
    const raw = decode(body, key)
    const text = raw.toString('utf8')
    const events = text === '' ? [] : text.replace(/\n$/, '').split('\n').map((line) => JSON.parse(line))
    return { key, size: body.length, contentEncoding: out.ContentEncoding, contentType: out.ContentType, metadata: out.Metadata, raw, events }
}

/** Every data object under the prefix (the setup write check is skipped), decompressed and parsed. */
export async function readAll(client: S3Client, bucket: string, prefix = ''): Promise<StoredObject[]> {
    const keys = (await listKeys(client, bucket, prefix)).filter((k) => !k.endsWith(WRITE_CHECK_NAME))
    const objects: StoredObject[] = []
    for (const key of keys) objects.push(await readObject(client, bucket, key))
    return objects
}

/** uuid → how many times it is stored: the exactly-once check. */
export function countByUuid(objects: StoredObject[]): Map<string, number> {
    const counts = new Map<string, number>()
    for (const o of objects) for (const e of o.events) counts.set(e.uuid, (counts.get(e.uuid) ?? 0) + 1)
    return counts
}

/** Start a local S3 with the given buckets, plus a client to read it. */
export async function withS3(buckets: string[]): Promise<RunningS3 & { client: S3Client }> {
    const s3 = await startS3Server({ buckets })
    return { ...s3, client: readerClient(s3) }
}

export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 100): Promise<T> {
    const until = Date.now() + timeoutMs
    for (;;) {
        const value = await probe()
        if (value !== undefined) return value
        if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`)
        await new Promise((r) => setTimeout(r, everyMs))
    }
}
