/** What each stored object carries: metadata, storage class, checksums, compression level and the stored-size cap. */
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { withS3, readAll, countByUuid, listKeys } from '../helpers/s3'
import { makeEvent } from '../helpers/events'
import { exportThroughHooks } from '../helpers/plugin'
import { MEGABYTE } from '../../src/units'
import { version } from '../../package.json'
import { randomBytes } from 'crypto'

let s3: Awaited<ReturnType<typeof withS3>>
const buckets = ['opt-meta', 'opt-class', 'opt-md5', 'opt-crc', 'opt-level1', 'opt-level9', 'opt-cap', 'opt-brotli']
beforeAll(async () => {
    s3 = await withS3(buckets)
})
afterAll(async () => {
    await s3.close()
})

const events = Array.from({ length: 500 }, (_, i) => makeEvent(i))

describe('object options', () => {
    it('describes each object in its metadata: event count, first and last event time, app version', async () => {
        await exportThroughHooks(s3, 'opt-meta', events)
        const [object] = await readAll(s3.client, 'opt-meta')
        expect(object.metadata).toEqual({
            'event-count': '500',
            'min-event-timestamp': events[0].timestamp,
            'max-event-timestamp': events[499].timestamp,
            'app-version': `posthog-s3-export/${version}`,
        })
    })

    it('stores objects in the chosen storage class', async () => {
        await exportThroughHooks(s3, 'opt-class', events.slice(0, 5), { storageClass: 'STANDARD_IA', cannedAcl: 'bucket-owner-full-control' })
        const [key] = await listKeys(s3.client, 'opt-class', '2')
        const head = await s3.client.send(new GetObjectCommand({ Bucket: 'opt-class', Key: key }))
        expect(head.StorageClass).toBe('STANDARD_IA')
    })

    it.each([
        ['Content-MD5', 'opt-md5'],
        ['CRC32', 'opt-crc'],
    ])('uploads with a %s checksum the server accepts', async (checksum, bucket) => {
        const { report } = await exportThroughHooks(s3, bucket, events, { checksum })
        expect(report).toMatchObject({ delivered: 500, dropped: 0 })
        expect(countByUuid(await readAll(s3.client, bucket)).size).toBe(500)
    })

    it('compresses harder at gzip level 9 than at level 1', async () => {
        await exportThroughHooks(s3, 'opt-level1', events, { compressionLevel: '1' })
        await exportThroughHooks(s3, 'opt-level9', events, { compressionLevel: '9' })
        const [fast] = await readAll(s3.client, 'opt-level1')
        const [small] = await readAll(s3.client, 'opt-level9')
        expect(small.raw.equals(fast.raw)).toBe(true)
        expect(small.size).toBeLessThan(fast.size)
    })

    it('keeps every stored object within the stored-size cap, even for data that barely compresses', async () => {
        const noisy = Array.from({ length: 3000 }, (_, i) => makeEvent(i, { properties: { noise: randomBytes(600).toString('base64') } } as any))
        await exportThroughHooks(s3, 'opt-cap', noisy, { uploadMegabytes: '10', storedMegabytesLimit: '1' })
        const objects = await readAll(s3.client, 'opt-cap')
        expect(objects.length).toBeGreaterThanOrEqual(3)
        for (const object of objects) expect(object.size).toBeLessThanOrEqual(MEGABYTE)
        expect(countByUuid(objects).size).toBe(3000)
    })

    it('honours the brotli quality setting and reads back intact', async () => {
        await exportThroughHooks(s3, 'opt-brotli', events, { compression: 'brotli', compressionLevel: '9' })
        const [object] = await readAll(s3.client, 'opt-brotli')
        expect(object.key.endsWith('.jsonl.br')).toBe(true)
        expect(object.events).toHaveLength(500)
    })
})
