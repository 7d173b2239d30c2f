/**
 * The requests dist/index.js sends, with every SDK cut of scripts/build.mjs in place: the bundle is loaded as it is
 * built and its setupPlugin write check goes to a recording fetch. Each store we support gets its URL, host, path
 * and signing scope checked (the signature itself is checked by the local S3 in the sandbox tests).
 */
import path from 'path'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

interface Sent {
    url: string
    method: string
    headers: Record<string, string>
}

const sent: Sent[] = []
interface Answer {
    status: number
    headers: Record<string, string>
    body: string
}
const OK: Answer = { status: 200, headers: { etag: '"etag"' }, body: '' }
let answer: Answer = OK
const recordingFetch = (url: string, init: { method: string; headers: Record<string, string> }) => {
    sent.push({ url, method: init.method, headers: Object.fromEntries(Object.entries(init.headers).map(([k, v]) => [k.toLowerCase(), String(v)])) })
    const { status, headers, body } = answer
    return Promise.resolve({ status, headers: { forEach: (cb: (v: string, k: string) => void) => Object.entries(headers).forEach(([k, v]) => cb(v, k)) }, text: () => Promise.resolve(body) })
}
const s3Error = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>R1</RequestId></Error>`

// eslint-disable-next-line @typescript-eslint/no-var-requires
const bundle = require(path.join(__dirname, '../../dist/index.js')) as { setupPlugin(meta: unknown): Promise<void>; teardownPlugin(meta: unknown): Promise<unknown> }

/**
 * The bundle's setupPlugin with the recording fetch as the global one, S3 answering `withAnswer`: its outcome and what
 * the app logged. Teardown follows, so a check left retrying in the background stops.
 */
async function setup(settings: Record<string, string>, withAnswer: Answer = OK): Promise<{ error?: Error; logged: string }> {
    sent.length = 0
    answer = withAnswer
    const saved = globalThis.fetch
    const lines: string[] = []
    const spies = (['log', 'info', 'warn', 'error'] as const).map((level) => jest.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' '))))
    ;(globalThis as { fetch: unknown }).fetch = recordingFetch
    const meta = { config: { awsAccessKey: 'AKIDEXAMPLE', awsSecretAccessKey: 'secret', prefix: 'posthog/', ...settings }, global: {} }
    try {
        await bundle.setupPlugin(meta)
        return { logged: lines.join('\n') }
    } catch (error) {
        return { error: error as Error, logged: lines.join('\n') }
    } finally {
        await bundle.teardownPlugin(meta).catch(() => undefined)
        ;(globalThis as { fetch: unknown }).fetch = saved
        spies.forEach((spy) => spy.mockRestore())
    }
}

async function writeCheck(settings: Record<string, string>): Promise<Sent> {
    const { error } = await setup(settings)
    expect(error).toBeUndefined()
    expect(sent).toHaveLength(1)
    return sent[0]
}

const scope = (request: Sent) => /Credential=AKIDEXAMPLE\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(request.headers.authorization)?.slice(1)

describe('the bundle sends its PutObject', () => {
    it('to the bucket’s virtual host in an AWS region', async () => {
        const request = await writeCheck({ s3BucketName: 'my-archive', awsRegion: 'us-west-1' })
        expect(request.method).toBe('PUT')
        expect(request.url).toBe('https://my-archive.s3.us-west-1.amazonaws.com/posthog/.s3-export-write-check?x-id=PutObject')
        expect(request.headers.host).toBe('my-archive.s3.us-west-1.amazonaws.com')
        expect(scope(request)).toEqual(['us-west-1', 's3'])
    })

    it('to the regional host with the bucket in the path when path style is on', async () => {
        const request = await writeCheck({ s3BucketName: 'my-archive', awsRegion: 'eu-central-1', s3ForcePathStyle: 'true' })
        expect(request.url).toBe('https://s3.eu-central-1.amazonaws.com/my-archive/posthog/.s3-export-write-check?x-id=PutObject')
        expect(scope(request)).toEqual(['eu-central-1', 's3'])
    })

    it('with a dotted bucket name in the path, where a virtual host would break TLS', async () => {
        const request = await writeCheck({ s3BucketName: 'my.archive', awsRegion: 'us-east-1' })
        expect(request.url).toBe('https://s3.us-east-1.amazonaws.com/my.archive/posthog/.s3-export-write-check?x-id=PutObject')
    })

    it('to amazonaws.com.cn in a China region', async () => {
        const request = await writeCheck({ s3BucketName: 'my-archive', awsRegion: 'cn-north-1' })
        expect(request.url).toBe('https://my-archive.s3.cn-north-1.amazonaws.com.cn/posthog/.s3-export-write-check?x-id=PutObject')
        expect(scope(request)).toEqual(['cn-north-1', 's3'])
    })

    it('to a MinIO endpoint in path style', async () => {
        const request = await writeCheck({ s3BucketName: 'events', awsRegion: 'us-east-1', s3BucketEndpoint: 'http://minio.local:9000', s3ForcePathStyle: 'true' })
        expect(request.url).toBe('http://minio.local:9000/events/posthog/.s3-export-write-check?x-id=PutObject')
        expect(request.headers.host).toBe('minio.local:9000')
    })

    it('to an R2 account endpoint as a virtual host, signed for region auto', async () => {
        const request = await writeCheck({ s3BucketName: 'events', awsRegion: 'auto', s3BucketEndpoint: 'https://0123abcd.r2.cloudflarestorage.com' })
        expect(request.url).toBe('https://events.0123abcd.r2.cloudflarestorage.com/posthog/.s3-export-write-check?x-id=PutObject')
        expect(scope(request)).toEqual(['auto', 's3'])
    })

    it('to a B2 endpoint as a virtual host, signed for its own region', async () => {
        const request = await writeCheck({ s3BucketName: 'events', awsRegion: 'us-west-004', s3BucketEndpoint: 'https://s3.us-west-004.backblazeb2.com' })
        expect(request.url).toBe('https://events.s3.us-west-004.backblazeb2.com/posthog/.s3-export-write-check?x-id=PutObject')
        expect(scope(request)).toEqual(['us-west-004', 's3'])
    })

    it('with the payload hash and the checksum header computed by the host’s crypto', async () => {
        const crc = await writeCheck({ s3BucketName: 'events', awsRegion: 'us-east-1', checksum: 'CRC32' })
        // the write check's body is empty: SHA-256 and CRC32 of no bytes
        expect(crc.headers['x-amz-content-sha256']).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
        expect(crc.headers['x-amz-checksum-crc32']).toBe('AAAAAA==')
        const md5 = await writeCheck({ s3BucketName: 'events', awsRegion: 'us-east-1', checksum: 'Content-MD5' })
        expect(md5.headers['content-md5']).toBe('1B2M2Y8AsgTpgAmY7PhCfg==')
        expect(Object.keys(md5.headers).filter((h) => h.startsWith('x-amz-checksum-'))).toEqual([])
    })

    it('with every object option as the header S3 expects, each one signed (the protocol of src/s3/protocol.ts)', async () => {
        const request = await writeCheck({ s3BucketName: 'events', awsRegion: 'eu-west-1', checksum: 'CRC32', storageClass: 'STANDARD_IA', cannedAcl: 'bucket-owner-full-control', sse: 'aws:kms', sseKmsKeyId: 'arn:aws:kms:eu-west-1:1:key/k' })
        expect(request.headers).toMatchObject({
            'x-amz-storage-class': 'STANDARD_IA',
            'x-amz-acl': 'bucket-owner-full-control',
            'x-amz-server-side-encryption': 'aws:kms',
            'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:eu-west-1:1:key/k',
            'x-amz-checksum-crc32': 'AAAAAA==',
            'amz-sdk-request': 'attempt=1; max=1',
        })
        const signed = /SignedHeaders=([^,]+)/.exec(request.headers.authorization)?.[1].split(';')
        expect(signed).toEqual(expect.arrayContaining(['x-amz-storage-class', 'x-amz-acl', 'x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id', 'x-amz-checksum-crc32', 'x-amz-content-sha256', 'content-type', 'host']))
        expect(Object.keys(request.headers).filter((h) => h === 'expect' || h.startsWith('x-amz-sdk-checksum'))).toEqual([])
    })

    it('and reads S3’s XML error answers back through the cut SDK: a refused key is named as such', async () => {
        const { error } = await setup({ s3BucketName: 'events', awsRegion: 'us-east-1' }, { status: 403, headers: { 'content-type': 'application/xml' }, body: s3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.') })
        expect(error?.message).toMatch(/AWS Access Key/)
        expect(error?.message).not.toMatch(/cut from the bundle/)
    })

    it('and takes a throttling answer with an HTTP-date Retry-After as transient: setup goes on, the log names SlowDown', async () => {
        const { error, logged } = await setup({ s3BucketName: 'events', awsRegion: 'us-east-1' }, { status: 503, headers: { 'content-type': 'application/xml', 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT' }, body: s3Error('SlowDown', 'Please reduce your request rate.') })
        expect(error).toBeUndefined()
        expect(logged).toMatch(/SlowDown/)
        expect(logged).not.toMatch(/cut from the bundle/)
        expect(sent[0].url).toBe('https://events.s3.us-east-1.amazonaws.com/posthog/.s3-export-write-check?x-id=PutObject')
    })
})
