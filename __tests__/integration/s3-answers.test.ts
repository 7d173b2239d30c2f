/**
 * What each S3 answer a user meets becomes, through the app's own PutObject protocol (src/s3/protocol.ts) and the
 * real SDK client: a signature-checking local S3 for the credential and bucket errors, the fault proxy in front of it
 * for what S3 and the boxes in front of it answer under load (SlowDown with Retry-After, an empty 5xx, a proxy's
 * text). The outcome and its failure fields are what the uploader and the user-facing hints read. Every answer is
 * read through both roads to S3: the sandbox's fetch, and aws-sdk v2's HTTP client (a 2024 host's private endpoint).
 */
import { createS3Store } from '../../src/s3/client'
import { classifyFailure } from '../../src/s3/failure'
import { fixFor } from '../../src/s3/messages'
import { faults, PASS, type Fault } from '../../dev/fault-proxy'
import { rigConfig, startRig, type Rig } from '../helpers/faults'
import { TRANSPORTS, transportDeps, type Transport } from '../helpers/transports'

let rig: Rig
let next: Fault = PASS
beforeAll(async () => {
    rig = await startRig(['answers'])
    rig.proxy.setSchedule(() => next)
})
afterAll(async () => {
    await rig.close()
})

let transport: Transport = 'fetch'

function put(overrides: Record<string, string> = {}, fault: Fault = PASS, bucket = 'answers') {
    next = fault
    const config = rigConfig(rig, bucket, overrides)
    const store = createS3Store(config, transportDeps(transport))
    return store.put({ key: `answers/${Math.random().toString(36).slice(2)}.jsonl.gz`, body: Buffer.from('{"event":"x"}\n'), contentType: 'application/x-ndjson', metadata: { 'event-count': '1' } })
}

describe.each(TRANSPORTS)('S3 answers, read through the app’s PutObject protocol, sent by %s', (road) => {
    beforeAll(() => {
        transport = road
    })

    it('stores an object: ok with its ETag', async () => {
        const outcome = await put()
        expect(outcome).toEqual({ kind: 'ok', etag: expect.stringMatching(/^"[0-9a-f]{32}"$/) })
    })

    it('an unknown access key: fatal InvalidAccessKeyId, with the hint to check the key', async () => {
        const outcome = await put({ awsAccessKey: 'NOSUCHKEY0000000' })
        expect(outcome).toMatchObject({ kind: 'fatal', failure: { code: 'InvalidAccessKeyId', statusCode: 403 } })
        if (outcome.kind !== 'ok') expect(fixFor(outcome.failure, { bucket: 'answers', prefix: '' })).toMatch(/AWS Access Key/)
    })

    it('a wrong secret: fatal SignatureDoesNotMatch', async () => {
        const outcome = await put({ awsSecretAccessKey: 'not-the-secret' })
        expect(outcome).toMatchObject({ kind: 'fatal', failure: { code: 'SignatureDoesNotMatch', statusCode: 403 } })
    })

    it('a bucket that does not exist: fatal NoSuchBucket', async () => {
        const outcome = await put({}, PASS, 'no-such-bucket')
        expect(outcome).toMatchObject({ kind: 'fatal', failure: { code: 'NoSuchBucket', statusCode: 404 } })
    })

    it('AccessDenied: fatal, with S3’s message', async () => {
        const outcome = await put({}, faults.accessDenied())
        expect(outcome).toMatchObject({ kind: 'fatal', failure: { code: 'AccessDenied', statusCode: 403, message: 'Access Denied' } })
    })

    it('503 SlowDown with Retry-After: retry, no sooner than S3 asked', async () => {
        const outcome = await put({}, faults.slowDown(7))
        expect(outcome).toEqual({ kind: 'retry', failure: { code: 'SlowDown', statusCode: 503, message: 'Please reduce your request rate.', retryAfterMs: 7000 } })
    })

    it('a 500 with an empty body: retry', async () => {
        const outcome = await put({}, faults.answer(500))
        expect(outcome).toMatchObject({ kind: 'retry', failure: { code: 'Unknown', statusCode: 500 } })
    })

    it('a 502 whose body is a proxy’s text, not XML: retry, the status kept', async () => {
        const outcome = await put({}, faults.answer(502, 'Bad Gateway', 'text/plain'))
        expect(outcome).toMatchObject({ kind: 'retry', failure: { statusCode: 502 } })
        if (outcome.kind !== 'ok') expect(classifyFailure(outcome.failure)).toBe('retry')
    })

    it.each([
        ['117 KB', 117 * 1024],
        ['10 MB', 10 * 1024 * 1024],
    ])('a 503 whose %s XML body is full of tags that never close: retry, with S3’s code', async (_size, bytes) => {
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message>${'<a'.repeat(bytes / 2)}`
        const outcome = await put({}, faults.answer(503, body, 'application/xml'))
        expect(outcome).toMatchObject({ kind: 'retry', failure: { code: 'InternalError', statusCode: 503, message: 'We encountered an internal error.' } })
    })

    it('a 403 whose body is a proxy’s HTML page: fatal, the status kept', async () => {
        const outcome = await put({}, faults.answer(403, '<html><body><h1>403 Forbidden</h1></body></html>', 'text/html'))
        expect(outcome).toMatchObject({ kind: 'fatal', failure: { statusCode: 403 } })
    })
})
