/**
 * The aws-sdk v2 request handler (src/s3/v2-http-handler.ts) against the fetch handler the app has always sent with
 * (node-fetch 2, the sandbox's fetch): the same signed PUT, GET, HEAD and DELETE requests to the local S3 (SigV4
 * checked) get the same answers through both; and the faults only a handler meets (a server that never answers, a
 * connection reset, an answer cut off or far too long) end as the request deadline says, with nothing left open.
 */
import { Sha256 } from '@aws-crypto/sha256-js'
import { HttpRequest } from '@smithy/core/protocols'
import { SignatureV4 } from '@smithy/signature-v4'
import type { HttpResponse } from '@smithy/types'
import { createServer, type Server } from 'http'
import type { AddressInfo } from 'net'
import nodeFetch from 'node-fetch'
import { startS3Server, type RunningS3 } from '../../dev/s3server'
import { FetchRequestHandler } from '../../src/s3/client'
import { createV2Handler, isStreamBody, readAnswer, type AwsSdkV2 } from '../../src/s3/v2-http-handler'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const awsSdk = require('aws-sdk') as AwsSdkV2

const BUCKET = 'handlers'
let s3: RunningS3
beforeAll(async () => {
    s3 = await startS3Server({ buckets: [BUCKET] })
})
afterAll(async () => {
    await s3.close()
})

type Handler = { handle(request: HttpRequest): Promise<{ response: HttpResponse }>; onTheWire(): Promise<unknown> | undefined }
const HANDLERS: Array<[string, (timeoutMs: number) => Handler]> = [
    ['fetch (node-fetch 2)', (timeoutMs) => new FetchRequestHandler(nodeFetch as never, () => timeoutMs) as unknown as Handler],
    ['aws-sdk v2', (timeoutMs) => createV2Handler(awsSdk, { timeoutMs: () => timeoutMs }) as unknown as Handler],
]

function signed(method: string, key: string, body?: Buffer): Promise<HttpRequest> {
    const url = new URL(s3.endpoint)
    const request = new HttpRequest({
        method,
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: `/${BUCKET}/${key}`,
        headers: {
            host: url.host,
            'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
            ...(body ? { 'content-length': String(body.length), 'content-type': 'application/x-ndjson' } : {}),
        },
        body,
    })
    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, sha256: Sha256, uriEscapePath: false })
    return signer.sign(request) as Promise<HttpRequest>
}

/** What a caller reads of an answer: status, the headers S3 sets for the object, and the body's text. */
async function answerOf(handler: Handler, request: HttpRequest) {
    const { response } = await handler.handle(request)
    const body = isStreamBody(response.body) ? await readAnswer(response.body) : (response.body as Uint8Array)
    const h = response.headers
    return { status: response.statusCode, etag: h.etag, contentLength: h['content-length'], contentType: h['content-type'], body: Buffer.from(body).toString('utf8') }
}

/** PUT, GET, HEAD, DELETE, GET again: every answer in order. */
async function roundTrip(handler: Handler, key: string) {
    const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ uuid: `u-${i}`, event: 'é ✓ 🎉' })).join('\n')
    const body = Buffer.from(lines)
    const answers = []
    answers.push(await answerOf(handler, await signed('PUT', key, body)))
    answers.push(await answerOf(handler, await signed('GET', key)))
    answers.push(await answerOf(handler, await signed('HEAD', key)))
    answers.push(await answerOf(handler, await signed('DELETE', key)))
    const missing = await answerOf(handler, await signed('GET', key))
    // the error document names the key it did not find: the same key in both runs
    answers.push({ ...missing, body: missing.body.replace(/<RequestId>[^<]*<\/RequestId>/, '') })
    return { body: lines, answers }
}

describe('the aws-sdk v2 handler answers as the fetch handler does', () => {
    it('PUT, GET, HEAD, DELETE and a GET of the deleted key: the same status, object headers and body', async () => {
        const viaFetch = await roundTrip(HANDLERS[0][1](5_000), 'same/object.jsonl')
        const viaV2 = await roundTrip(HANDLERS[1][1](5_000), 'same/object.jsonl')
        expect(viaFetch.answers.map((a) => a.status)).toEqual([200, 200, 200, 204, 404])
        expect(viaFetch.answers[1].body).toBe(viaFetch.body)
        expect(viaFetch.answers[4].body).toMatch(/<Code>NoSuchKey<\/Code>/)
        expect(viaV2.answers).toEqual(viaFetch.answers)
    })

    it('a wrong signature: the same 403 and SignatureDoesNotMatch document', async () => {
        const bodies: string[] = []
        for (const [, make] of HANDLERS) {
            const request = await signed('PUT', 'bad/signature', Buffer.from('x'))
            request.headers.authorization = request.headers.authorization.replace(/Signature=[0-9a-f]+/, `Signature=${'0'.repeat(64)}`)
            const answer = await answerOf(make(5_000), request)
            expect(answer.status).toBe(403)
            bodies.push(answer.body.replace(/<RequestId>[^<]*<\/RequestId>/, ''))
        }
        expect(bodies[1]).toBe(bodies[0])
        expect(bodies[0]).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/)
    })
})

/** A server that does something bad with each request, and tells when each connection ended. */
function badServer(behave: (req: any, res: any) => void): Promise<{ server: Server; endpoint: URL; closed: number[] }> {
    const closed: number[] = []
    const server = createServer((req, res) => {
        req.socket.once('close', () => closed.push(Date.now()))
        behave(req, res)
    })
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, endpoint: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), closed })))
}

function requestTo(endpoint: URL, body = Buffer.from('{"event":"x"}\n')): HttpRequest {
    return new HttpRequest({ method: 'PUT', protocol: 'http:', hostname: endpoint.hostname, port: Number(endpoint.port), path: '/bucket/key', headers: { host: endpoint.host, 'content-length': String(body.length) }, body })
}

describe.each(HANDLERS)('faults a request handler meets, through %s', (_name, make) => {
    it('a server that never answers: the request fails after its deadline and its connection is closed', async () => {
        const { server, endpoint, closed } = await badServer(() => undefined)
        const handler = make(300)
        const started = Date.now()
        await expect(handler.handle(requestTo(endpoint))).rejects.toThrow(/time|abort/i)
        await handler.onTheWire()
        // ended by the client, at its deadline: well before anything else would end it
        for (let i = 0; i < 100 && closed.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
        expect(closed).toHaveLength(1)
        expect(closed[0] - started).toBeGreaterThanOrEqual(250)
        server.close()
    })

    it('a connection reset before any answer: the request fails, nothing stays on the wire', async () => {
        const { server, endpoint } = await badServer((req) => req.socket.destroy())
        const handler = make(5_000)
        await expect(handler.handle(requestTo(endpoint))).rejects.toThrow()
        expect(handler.onTheWire()).toBeUndefined()
        server.close()
    })

    it('an answer cut off in its body: reading it fails, nothing stays on the wire', async () => {
        const { server, endpoint } = await badServer((_req, res) => {
            res.writeHead(503, { 'content-type': 'application/xml', 'content-length': '5000' })
            res.write('<Error><Code>SlowDown</Code>')
            setTimeout(() => res.socket.destroy(), 20)
        })
        const handler = make(5_000)
        const read = handler.handle(requestTo(endpoint)).then(({ response }) => (isStreamBody(response.body) ? readAnswer(response.body) : response.body))
        await expect(read).rejects.toThrow()
        await handler.onTheWire()
        expect(handler.onTheWire()).toBeUndefined()
        server.close()
    })

    it('an answer whose body is 10 MB: its first 64 K characters are read, as S3’s error', async () => {
        const body = `<Error><Code>InternalError</Code><Message>m</Message>${'x'.repeat(10 * 1024 * 1024)}`
        const { server, endpoint } = await badServer((_req, res) => {
            res.writeHead(500, { 'content-type': 'application/xml', 'content-length': String(body.length) })
            res.end(body)
        })
        const handler = make(5_000)
        const { response } = await handler.handle(requestTo(endpoint))
        const bytes = isStreamBody(response.body) ? await readAnswer(response.body) : (response.body as Uint8Array)
        expect(response.statusCode).toBe(500)
        expect(Buffer.from(bytes).toString('utf8')).toBe(body.slice(0, 64 * 1024))
        await handler.onTheWire()
        server.close()
    })
})

describe('the aws-sdk v2 handler alone', () => {
    it('a request node’s http refuses before sending (a header holding a line break): it fails at once, nothing on the wire', async () => {
        const { server, endpoint } = await badServer((_req, res) => res.end())
        const handler = HANDLERS[1][1](5_000)
        const request = requestTo(endpoint)
        request.headers['x-amz-meta-note'] = 'two\r\nlines'
        await expect(handler.handle(request)).rejects.toThrow(/header/i)
        expect(handler.onTheWire()).toBeUndefined()
        server.close()
    })

    it('an abort signal ends a request in flight: it fails as aborted and its connection is closed', async () => {
        const { server, endpoint, closed } = await badServer(() => undefined)
        const handler = createV2Handler(awsSdk, { timeoutMs: () => 30_000 })
        const controller = new AbortController()
        const sending = handler.handle(requestTo(endpoint) as never, { abortSignal: controller.signal })
        setTimeout(() => controller.abort(), 100)
        await expect(sending).rejects.toThrow(/aborted/)
        expect(handler.onTheWire()).toBeUndefined()
        for (let i = 0; i < 100 && closed.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
        expect(closed).toHaveLength(1)
        server.close()
    })
})
