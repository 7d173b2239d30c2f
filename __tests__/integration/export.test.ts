/**
 * The real hooks (setupPlugin, onEvent, teardownPlugin) against a local S3 that checks SigV4 signatures;
 * every object is read back, decompressed and parsed.
 */
import { setupPlugin, onEvent, teardownPlugin } from '../../index'
import { withS3, readAll, countByUuid, waitFor } from '../helpers/s3'
import { makeEvent } from '../helpers/events'
import { MEGABYTE } from '../../src/units'
import { settingsFor } from '../helpers/plugin'
import { startFaultProxy } from '../../dev/fault-proxy'

const AWSAccount = require('@20minutes/s3rver/lib/models/account')

let s3: Awaited<ReturnType<typeof withS3>>
let bucketNo = 0
const buckets = Array.from({ length: 14 }, (_, i) => `export-test-${i}`)
/** an old us-east-1 bucket (made before March 2018): upper case and "_" were allowed then */
const LEGACY_BUCKET = 'Legacy_Bucket_2017'

beforeAll(async () => {
    s3 = await withS3([...buckets, LEGACY_BUCKET])
})
afterAll(async () => {
    await s3.close()
})

/** a fresh bucket per test, so tests never see each other's objects */
function nextBucket(): string {
    return buckets[bucketNo++]
}

function metaFor(bucket: string, overrides: Record<string, string> = {}) {
    return { config: settingsFor(s3, bucket, overrides), global: {} as any }
}

describe('exporting through the plugin hooks', () => {
    it('stores every event exactly once with identical content', async () => {
        const bucket = nextBucket()
        const meta = metaFor(bucket, { prefix: 'posthog/' })
        await setupPlugin(meta)
        const sent = Array.from({ length: 5000 }, (_, i) => makeEvent(i))
        for (const event of sent) onEvent(event, meta)
        const report = await teardownPlugin(meta)
        expect(report).toMatchObject({ delivered: 5000, dropped: 0, pendingEvents: 0, timedOut: false })

        const objects = await readAll(s3.client, bucket, 'posthog/')
        const counts = countByUuid(objects)
        expect(counts.size).toBe(5000)
        expect([...counts.values()].every((n) => n === 1)).toBe(true)
        const byUuid = new Map(objects.flatMap((o) => o.events).map((e) => [e.uuid, e]))
        for (const event of sent) expect(byUuid.get(event.uuid)).toEqual(event)
    })

    it('names objects in the original layout, gzipped, with the right content type and encoding', async () => {
        const bucket = nextBucket()
        const meta = metaFor(bucket, { prefix: 'backups/posthog/' })
        const before = new Date().toISOString().slice(0, 10)
        await setupPlugin(meta)
        onEvent(makeEvent(1), meta)
        await teardownPlugin(meta)
        const [object] = await readAll(s3.client, bucket, 'backups/')
        const after = new Date().toISOString().slice(0, 10) // before and after: a run across UTC midnight accepts either
        expect(object.key).toMatch(/^backups\/posthog\/\d{4}-\d{2}-\d{2}\/\d{8}-\d{6}\.\d{3}Z-[0-9a-f]{16}\.jsonl\.gz$/)
        const day = object.key.split('/')[2]
        expect([before, after]).toContain(day)
        expect(object.key.startsWith(`backups/posthog/${day}/${day.replace(/-/g, '')}-`)).toBe(true)
        expect(object.contentEncoding).toBe('gzip')
        expect(object.contentType).toBe('application/x-ndjson')
    })

    it('splits the stream into several objects each within the 1 MB cap', async () => {
        const bucket = nextBucket()
        const meta = metaFor(bucket, { uploadMegabytes: '1' })
        await setupPlugin(meta)
        for (let i = 0; i < 3000; i++) onEvent(makeEvent(i), meta)
        await teardownPlugin(meta)
        const objects = await readAll(s3.client, bucket)
        expect(objects.length).toBeGreaterThanOrEqual(4)
        for (const object of objects) expect(object.raw.length).toBeLessThanOrEqual(MEGABYTE)
        // all but the last are filled close to the cap: the cap is counted in bytes, not events
        const full = objects.filter((o) => o.raw.length > 0.9 * MEGABYTE)
        expect(full.length).toBeGreaterThanOrEqual(objects.length - 1)
        expect(countByUuid(objects).size).toBe(3000)
    })

    it('uploads on the timer when no new event arrives', async () => {
        const bucket = nextBucket()
        const meta = metaFor(bucket, { uploadMinutes: '0.05' }) // 3 seconds
        await setupPlugin(meta)
        for (let i = 0; i < 10; i++) onEvent(makeEvent(i), meta)
        const objects = await waitFor(async () => {
            const found = await readAll(s3.client, bucket)
            return found.length > 0 ? found : undefined
        }, 15_000)
        expect(objects.flatMap((o) => o.events)).toHaveLength(10)
        expect(meta.global.exporter.stats.delivered).toBe(10)
        await teardownPlugin(meta)
        expect(await readAll(s3.client, bucket)).toHaveLength(1)
    })

    it('never exports ignored events', async () => {
        const bucket = nextBucket()
        const meta = metaFor(bucket, { eventsToIgnore: ' $feature_flag_called ,$snapshot' })
        await setupPlugin(meta)
        for (let i = 0; i < 300; i++) {
            const name = ['$pageview', '$feature_flag_called', '$snapshot'][i % 3]
            onEvent(makeEvent(i, { event: name }), meta)
        }
        await teardownPlugin(meta)
        const events = (await readAll(s3.client, bucket)).flatMap((o) => o.events)
        expect(events).toHaveLength(100)
        expect(events.every((e) => e.event === '$pageview')).toBe(true)
        expect(meta.global.exporter.stats.ignored).toBe(200)
    })

    it.each([
        ['brotli', '.jsonl.br', 'br'],
        ['no compression', '.jsonl', undefined],
    ])('stores %s objects that read back intact', async (compression, extension, encoding) => {
        const bucket = nextBucket()
        const meta = metaFor(bucket, { compression, sse: 'AES256' })
        await setupPlugin(meta)
        for (let i = 0; i < 200; i++) onEvent(makeEvent(i), meta)
        await teardownPlugin(meta)
        const objects = await readAll(s3.client, bucket)
        expect(objects).toHaveLength(1)
        expect(objects[0].key.endsWith(extension)).toBe(true)
        expect(objects[0].contentEncoding).toBe(encoding)
        expect(countByUuid(objects).size).toBe(200)
    })
})

describe('large objects', () => {
    it('uploads bodies over 2 MB, for which the SDK would ask for Expect: 100-continue', async () => {
        const bucket = nextBucket()
        const meta = metaFor(bucket, { compression: 'no compression', uploadMegabytes: '5' })
        await setupPlugin(meta)
        for (let i = 0; i < 3000; i++) onEvent(makeEvent(i), meta)
        const report = await teardownPlugin(meta)
        expect(report).toMatchObject({ delivered: 3000, dropped: 0 })
        const objects = await readAll(s3.client, bucket)
        expect(objects).toHaveLength(1)
        expect(objects[0].size).toBeGreaterThan(2 * MEGABYTE)
    })
})

describe('a legacy bucket name', () => {
    it('stores every event once in a bucket named with upper case and "_", addressed path style even when the setting says virtual host', async () => {
        // the proxy sees each request's path; a host name (not an IP) leaves the choice of addressing to the app
        const proxy = await startFaultProxy({ upstream: s3.endpoint })
        try {
            const endpoint = proxy.endpoint.replace('127.0.0.1', 'localhost')
            const meta = { config: settingsFor(s3, LEGACY_BUCKET, { s3BucketEndpoint: endpoint, s3ForcePathStyle: 'false' }), global: {} as any }
            await setupPlugin(meta)
            const sent = Array.from({ length: 300 }, (_, i) => makeEvent(i))
            for (const event of sent) onEvent(event, meta)
            const report = await teardownPlugin(meta)
            expect(report?.pendingEvents).toBe(0)
            const counts = countByUuid(await readAll(s3.client, LEGACY_BUCKET))
            expect(counts.size).toBe(300)
            expect([...counts.values()].every((n) => n === 1)).toBe(true)
            const puts = proxy.log.filter((r) => r.method === 'PUT')
            expect(puts.length).toBeGreaterThan(0)
            for (const put of puts) expect(put.path.startsWith(`/${LEGACY_BUCKET}/`)).toBe(true)
        } finally {
            await proxy.close()
        }
    })
})

describe('a bucket that refuses', () => {
    it('fails setup with a message naming the secret setting when the secret is wrong, and never shows the secret', async () => {
        const bucket = nextBucket()
        const meta = metaFor(bucket, { awsSecretAccessKey: 'wrong-secret-5f3a9c' })
        const failure = setupPlugin(meta)
        await expect(failure).rejects.toThrow(/AWS Secret Access Key/)
        await expect(failure).rejects.toThrow(/SignatureDoesNotMatch/)
        await failure.catch((error: Error) => expect(error.message).not.toContain('wrong-secret-5f3a9c'))
    })

    it('fails setup naming the bucket when it does not exist', async () => {
        const meta = metaFor('no-such-bucket-here')
        await expect(setupPlugin(meta)).rejects.toThrow(/no-such-bucket-here.*S3 Bucket name|NoSuchBucket/s)
    })

    it('reports a key revoked after setup once, counts nothing as delivered, and says what it could not store', async () => {
        const bucket = nextBucket()
        AWSAccount.DUMMY_ACCOUNT.createKeyPair('REVOKEDKEY', 'revoked-secret')
        const meta = metaFor(bucket, { awsAccessKey: 'REVOKEDKEY', awsSecretAccessKey: 'revoked-secret' })
        await setupPlugin(meta)
        AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('REVOKEDKEY')
        const errors: string[] = []
        const spy = jest.spyOn(console, 'error').mockImplementation((message: string) => void errors.push(message))
        try {
            for (let i = 0; i < 3000; i++) onEvent(makeEvent(i), meta)
            await meta.global.exporter.flush()
            expect(meta.global.exporter.stats.delivered).toBe(0)
            const report = await teardownPlugin(meta)
            expect(report!.delivered).toBe(0)
            expect(report!.dropped).toBe(3000)
        } finally {
            spy.mockRestore()
        }
        const refusals = errors.filter((m) => m.includes('InvalidAccessKeyId'))
        expect(refusals).toHaveLength(1)
        expect(refusals[0]).toContain(`s3://${bucket}/`)
        expect(refusals[0]).toContain('AWS Access Key')
        expect(errors.some((m) => /3000 events/.test(m))).toBe(true)
        expect(await readAll(s3.client, bucket)).toHaveLength(0)
    })
})
