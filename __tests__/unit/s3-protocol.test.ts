/**
 * src/s3/protocol.ts against the SDK's own S3RestXmlProtocol: the same PutObject input must become the same request,
 * and the same S3 answer the same output or the same error fields (what toFailure and the retry policy read).
 * The answers are those S3 and the stores we support really give (XML errors, empty 5xx, a proxy's HTML or text).
 */
import { PutObjectCommand, S3Client, S3ServiceException, type PutObjectCommandInput } from '@aws-sdk/client-s3'
import { HttpResponse, type HttpRequest } from '@smithy/core/protocols'
import { classifyFailure, toFailure } from '../../src/s3/failure'
import { utf8ToBytes } from '../../src/bytes'
import { ERROR_BODY_LIMIT_CHARS, parseErrorXml, PutObjectProtocol } from '../../src/s3/protocol'

interface Answer {
    status: number
    headers?: Record<string, string>
    body?: string
}

function client(protocol: 'sdk' | 'ours', answer: Answer, sent: HttpRequest[], extra: Record<string, unknown> = {}) {
    return new S3Client({
        region: 'eu-west-1',
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
        maxAttempts: 1,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        ...extra,
        ...(protocol === 'ours' ? { protocol: new PutObjectProtocol() as never } : {}),
        requestHandler: {
            handle: (request: HttpRequest) => {
                sent.push(request)
                return Promise.resolve({ response: new HttpResponse({ statusCode: answer.status, headers: { ...(answer.headers ?? {}) }, body: utf8ToBytes(answer.body ?? '') }) })
            },
        } as never,
    })
}

/** Both protocols on one input and one answer: the request each sent, and what each returned or threw. */
async function both(input: PutObjectCommandInput, answer: Answer, extra?: Record<string, unknown>) {
    const run = async (protocol: 'sdk' | 'ours') => {
        const sent: HttpRequest[] = []
        try {
            const output = await client(protocol, answer, sent, extra).send(new PutObjectCommand(input))
            return { request: sent[0], output, error: undefined }
        } catch (error) {
            return { request: sent[0], output: undefined, error: error as Record<string, any> }
        }
    }
    return { sdk: await run('sdk'), ours: await run('ours') }
}

const VOLATILE = new Set(['authorization', 'x-amz-date', 'amz-sdk-invocation-id', 'amz-sdk-request', 'x-amz-user-agent', 'user-agent'])
function comparable(request: HttpRequest) {
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !VOLATILE.has(name.toLowerCase())))
    const signed = /SignedHeaders=([^,]+)/.exec(request.headers.authorization ?? '')?.[1]
    return { method: request.method, protocol: request.protocol, hostname: request.hostname, port: request.port, path: request.path, query: request.query, headers, signed, body: request.body }
}

/** The fields of an SDK error anything of ours reads, or a user would see. */
function errorFields(error: Record<string, any> | undefined) {
    if (!error) return undefined
    const failure = toFailure(error)
    return {
        name: error.name,
        Code: error.Code,
        $fault: error.$fault,
        $metadata: error.$metadata,
        RequestId: error.RequestId,
        HostId: error.HostId,
        isServiceException: error instanceof S3ServiceException,
        failure: { ...failure, message: failure.message.split('\n')[0] },
        classified: classifyFailure(failure),
    }
}

const body = Buffer.from('{"event":"$pageview"}\n')
const EVERY_MEMBER_WE_SEND: PutObjectCommandInput = {
    Bucket: 'my-archive',
    Key: 'posthog/2026/12/01/events-a b+c=d&e?f#g!h\'i(j)k*l~ü.jsonl.gz',
    Body: body,
    ContentType: 'application/x-ndjson',
    ContentEncoding: 'gzip',
    ContentLength: body.length,
    Metadata: { 'Event-Count': '1', 'first-timestamp': '2026-12-01T00:00:00.000Z', batch: 'ab12' },
    StorageClass: 'STANDARD_IA',
    ACL: 'bucket-owner-full-control',
    ServerSideEncryption: 'aws:kms',
    SSEKMSKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    ContentMD5: 'XUFAKrxLKna5cZ2REBfFkg==',
    ChecksumCRC32: 'AAAAAA==',
}

const s3Error = (code: string, message: string, extra = '') =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>4442587FB7D0A2F9</RequestId><HostId>host+id/2=</HostId></Error>`

describe('the PutObject protocol sends what the SDK’s S3RestXmlProtocol sends', () => {
    it('for every member we send: headers, metadata, the encoded key and the body', async () => {
        const { sdk, ours } = await both(EVERY_MEMBER_WE_SEND, { status: 200, headers: { etag: '"e"' } })
        expect(comparable(ours.request)).toEqual(comparable(sdk.request))
        expect(ours.request.headers['x-amz-meta-event-count']).toBe('1')
        expect(ours.request.headers['x-amz-storage-class']).toBe('STANDARD_IA')
        expect(ours.request.body).toBe(body)
    })

    it('for the members a default batch sends, with the SDK’s default content type when none is given', async () => {
        const input = { Bucket: 'my-archive', Key: 'posthog/x.jsonl.gz', Body: body, ContentLength: body.length }
        const { sdk, ours } = await both(input, { status: 200 })
        expect(comparable(ours.request)).toEqual(comparable(sdk.request))
        expect(ours.request.headers['content-type']).toBe('application/octet-stream')
    })

    it.each([
        ['a custom endpoint in path style', { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true }, 'my-archive'],
        ['a custom endpoint as a virtual host', { endpoint: 'https://0123abcd.r2.cloudflarestorage.com' }, 'events'],
        ['a dotted bucket', {}, 'my.archive'],
        ['a China region', { region: 'cn-north-1' }, 'my-archive'],
    ])('to %s', async (_what, extra, bucket) => {
        const { sdk, ours } = await both({ ...EVERY_MEMBER_WE_SEND, Bucket: bucket }, { status: 200 }, extra)
        expect(comparable(ours.request)).toEqual(comparable(sdk.request))
    })

    it('and refuses a member it does not know how to send, instead of dropping it', async () => {
        const { ours } = await both({ ...EVERY_MEMBER_WE_SEND, Expires: new Date() }, { status: 200 })
        expect(ours.error?.message).toMatch(/Expires .* not a member this app sends/)
    })
})

describe('the PutObject protocol reads S3’s answers as the SDK does', () => {
    it('an OK answer: the ETag, version, encryption and the metadata', async () => {
        const headers = { etag: '"9b2cf535f27731c974343645a3985328"', 'x-amz-version-id': 'v1', 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-bucket-key-enabled': 'true', 'x-amz-request-id': 'R1', 'x-amz-id-2': 'H1' }
        const { sdk, ours } = await both(EVERY_MEMBER_WE_SEND, { status: 200, headers })
        expect(ours.output).toEqual(sdk.output)
        expect(ours.output?.ETag).toBe('"9b2cf535f27731c974343645a3985328"')
    })

    it.each<[string, Answer, string, 'retry' | 'fatal']>([
        ['InvalidAccessKeyId', { status: 403, body: s3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', '<AWSAccessKeyId>AKIDEXAMPLE</AWSAccessKeyId>') }, 'InvalidAccessKeyId', 'fatal'],
        ['SignatureDoesNotMatch', { status: 403, body: s3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', '<StringToSign>AWS4-HMAC-SHA256&#10;20261201T000000Z</StringToSign>') }, 'SignatureDoesNotMatch', 'fatal'],
        ['AccessDenied', { status: 403, body: s3Error('AccessDenied', 'Access Denied') }, 'AccessDenied', 'fatal'],
        ['NoSuchBucket', { status: 404, body: s3Error('NoSuchBucket', 'The specified bucket does not exist', '<BucketName>my-archive</BucketName>') }, 'NoSuchBucket', 'fatal'],
        ['a KMS refusal', { status: 400, body: s3Error('KMS.NotFoundException', 'Invalid keyId &apos;arn:aws:kms:eu-west-1:1:key/x&apos; &amp; more') }, 'KMS.NotFoundException', 'fatal'],
        ['SlowDown with Retry-After', { status: 503, headers: { 'retry-after': '7', 'x-amz-request-id': 'R2' }, body: s3Error('SlowDown', 'Please reduce your request rate.') }, 'SlowDown', 'retry'],
        ['a 500 with an empty body', { status: 500, headers: { 'x-amz-request-id': 'R3' } }, 'Unknown', 'retry'],
        ['a 404 with an empty body', { status: 404 }, 'NotFound', 'fatal'],
        ['a 502 from a proxy, in HTML', { status: 502, headers: { 'content-type': 'text/html' }, body: '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>' }, 'Unknown', 'retry'],
        ['an XML error without a declaration', { status: 400, body: '<Error><Code>InvalidArgument</Code><Message>x-amz-server-side-encryption header is not supported for this operation.</Message></Error>' }, 'InvalidArgument', 'fatal'],
    ])('%s', async (_what, answer, code, classified) => {
        const { sdk, ours } = await both(EVERY_MEMBER_WE_SEND, answer)
        expect(errorFields(ours.error)).toEqual(errorFields(sdk.error))
        expect(ours.error?.name).toBe(code)
        expect(errorFields(ours.error)?.classified).toBe(classified)
        if (answer.headers?.['retry-after']) expect(toFailure(ours.error).retryAfterMs).toBe(7000)
    })

    it('a body that is not XML at all fails as the SDK fails: an error with the status, worth a retry on 5xx', async () => {
        for (const status of [503, 400]) {
            const { sdk, ours } = await both(EVERY_MEMBER_WE_SEND, { status, headers: { 'content-type': 'text/plain' }, body: 'Service Unavailable' })
            const [a, b] = [toFailure(sdk.error), toFailure(ours.error)]
            expect({ ...b, message: undefined }).toEqual({ ...a, message: undefined })
            expect(classifyFailure(b)).toBe(status === 503 ? 'retry' : 'fatal')
            expect(ours.error?.$response?.statusCode).toBe(status)
        }
    })
})

describe('parseErrorXml', () => {
    it('reads the simple children of the root, decoding entities', () => {
        expect(parseErrorXml(s3Error('AccessDenied', 'a &lt;b&gt; &amp; &quot;c&quot; &#233;&#xe9;'))).toEqual({ Code: 'AccessDenied', Message: 'a <b> & "c" éé', RequestId: '4442587FB7D0A2F9', HostId: 'host+id/2=' })
    })
    it('takes an empty root as no fields, and text that is not XML as an error', () => {
        expect(parseErrorXml('<Error/>')).toEqual({})
        expect(() => parseErrorXml('Service Unavailable')).toThrow(/not XML/)
    })
    it('leaves a character reference past Unicode as written instead of throwing', () => {
        expect(parseErrorXml('<Error><Code>SlowDown</Code><Message>&#99999999; &#x41;</Message></Error>')).toEqual({ Code: 'SlowDown', Message: '&#99999999; A' })
    })
})

/**
 * Error bodies a user can meet that are large and malformed: a gateway's page or a broken store's answer, tags that
 * never close. The old regex parse backtracked quadratically over the whole body (117 KB: 2.7 s on an idle machine;
 * 10 MB would be hours). The bounds below are generous (a linear parse of the bounded prefix takes milliseconds):
 * they hold on a busy machine and are orders of magnitude below what the quadratic parse needs.
 */
describe('parseErrorXml on large, malformed error bodies', () => {
    const neverClosing = (bytes: number) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message>${'<a'.repeat(bytes / 2)}`
    const timed = <T>(fn: () => T): { value: T; ms: number } => {
        const t = performance.now()
        const value = fn()
        return { value, ms: performance.now() - t }
    }

    it('reads the code of a 117 KB body full of tags that never close, at once', () => {
        const { value, ms } = timed(() => parseErrorXml(neverClosing(117 * 1024)))
        expect(value).toMatchObject({ Code: 'InternalError', Message: 'We encountered an internal error.' })
        expect(ms).toBeLessThan(1_000)
    })

    it('refuses a 117 KB body whose first tag never closes as not XML, at once', () => {
        const { ms } = timed(() => expect(() => parseErrorXml('<' + 'a'.repeat(117 * 1024))).toThrow(/not XML/))
        expect(ms).toBeLessThan(1_000)
    })

    it('reads a 10 MB body in time linear in a bounded prefix', () => {
        const { value, ms } = timed(() => parseErrorXml(neverClosing(10 * 1024 * 1024)))
        expect(value.Code).toBe('InternalError')
        expect(ms).toBeLessThan(2_000)
    })

    it('keeps the text read so far of an element cut off at the limit', () => {
        const fields = parseErrorXml(`<Error><Code>SlowDown</Code><Message>${'x'.repeat(10 * 1024 * 1024)}</Message></Error>`)
        expect(fields.Code).toBe('SlowDown')
        expect(fields.Message).toMatch(/^x+$/)
        expect(fields.Message.length).toBeLessThan(ERROR_BODY_LIMIT_CHARS)
    })
})
