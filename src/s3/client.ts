/**
 * The S3 client: with its protocol (protocol.ts) and endpoint provider (endpoint.ts), the only modules that
 * import the AWS SDK. It builds the client and sends one PutObject; it never retries and never throws: every answer
 * is a typed outcome, a failure labelled 'retry' or 'fatal' by failure.ts's classifyFailure. Whether and when to try
 * again is the one retry policy's (src/export/retry-policy.ts).
 *
 * Why a hand-made request handler: inside PostHog's plugin sandbox there is no `setTimeout`, `AbortController`,
 * `Request` or `Headers`, so the SDK's FetchHttpHandler cannot run there. The sandbox does have `fetch`
 * (node-fetch 2), whose own `timeout` option is enforced by the host's timers. Outside the sandbox (tests, bench)
 * Node's fetch is used and bounded with an AbortSignal instead. Where that fetch refuses a private endpoint (PostHog's
 * 2024 builds), requests go by aws-sdk v2's HTTP client instead (s3/private-endpoint.ts, s3/v2-http-handler.ts).
 */
import { PutObjectCommand, S3Client, type PutObjectCommandInput, type S3ClientConfig } from '@aws-sdk/client-s3'
import { HttpResponse, buildQueryString } from '@smithy/core/protocols'
import { SignatureV4 } from '@smithy/signature-v4'
import type { HttpRequest } from '@smithy/types'
import { PassThrough } from 'stream'
import { zlib } from '../formats/codecs/zlib'
import { digestOf, piecesOf, PiecesBody, type Body } from '../body'
import { utf8ToBytes } from '../bytes'
import type { Config } from '../config'
import { HostMd5, HostSha1, HostSha256 } from './hashes'
import { payloadSha256 } from './payload-hash'
import { ERROR_BODY_LIMIT_CHARS, PutObjectProtocol } from './protocol'
import { s3EndpointProvider } from './endpoint'
import { classifyFailure, toFailure, type S3Failure } from './failure'
import { parseRetryAfter } from './failure'
import { EndpointRoute } from './private-endpoint'
import { sendable, withoutExpect } from './request-body'
import { createV2Handler, isStreamBody, readAnswer, type AwsSdkV2 } from './v2-http-handler'

export interface PutObjectRequest {
    key: string
    /** a large body in pieces is streamed as it is (body.ts) */
    body: Body
    contentType: string
    contentEncoding?: string
    metadata?: Record<string, string>
}

export type PutOutcome =
    | { kind: 'ok'; etag?: string }
    | { kind: 'retry'; failure: S3Failure }
    | { kind: 'fatal'; failure: S3Failure }

/** What the rest of the app knows about S3: one verb. A fake is a few lines. */
export interface ObjectStore {
    put(request: PutObjectRequest): Promise<PutOutcome>
    /**
     * Settles when every request out now has ended; undefined when none is. The host's promise timeout can end our
     * wait for a PUT while the PUT itself goes on: this is how to know it has really ended.
     */
    onTheWire?(): Promise<unknown> | undefined
}

type FetchLike = (url: string, init: Record<string, unknown>) => Promise<{
    status: number
    headers: { forEach(cb: (value: string, name: string) => void): void }
    text(): Promise<string>
}>

/**
 * Upper bound of one request, connect to last byte: 25 s. Inside PostHog every promise step is raced against a
 * 30 s host timer; our own deadline must fire first so a hung S3 is seen as a retryable timeout, not an internal
 * error. 25 s still carries 100 MB at 4 MB/s, so one deadline serves every body size.
 */
export const REQUEST_DEADLINE_MS = 25_000

/**
 * A minimal SDK request handler on top of a `fetch`. Response bodies of PutObject are empty or a short XML error:
 * they are read as text (within the request's deadline) and their first ERROR_BODY_LIMIT_CHARS handed to the SDK as
 * UTF-8 bytes.
 */
export class FetchRequestHandler {
    constructor(
        private readonly fetchFn: FetchLike,
        private readonly timeoutMs: () => number = () => REQUEST_DEADLINE_MS
    ) {}

    /** requests sent and not yet answered (or failed) */
    private readonly wires = new Set<Promise<unknown>>()

    /** settles when every request out now has ended; undefined when none is */
    onTheWire(): Promise<unknown> | undefined {
        return this.wires.size === 0 ? undefined : Promise.all([...this.wires])
    }

    handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
        const query = buildQueryString(request.query || {})
        const port = request.port ? `:${request.port}` : ''
        const url = `${request.protocol}//${request.hostname}${port}${request.path}${query ? `?${query}` : ''}`
        const timeout = this.timeoutMs()
        const init: Record<string, unknown> = {
            method: request.method,
            headers: withoutExpect(request.headers),
            body: request.method === 'GET' || request.method === 'HEAD' ? undefined : sendable(request.body),
            // node-fetch 2 (the sandbox's fetch) enforces this with the host's timer
            timeout,
        }
        // Node's own fetch takes a stream body only half-duplex (node-fetch ignores the option)
        if (request.body instanceof PiecesBody) init.duplex = 'half'
        // Node's own fetch ignores `timeout`; bound it with a signal where signals exist
        if (typeof AbortSignal !== 'undefined' && typeof AbortSignal.timeout === 'function') {
            init.signal = AbortSignal.timeout(timeout)
        }
        const fetching = this.fetchFn(url, init)
        // heard through `.catch` and `.finally`, which the host's promise guard leaves alone (it rewrites `.then`):
        // a request counts as out until it really ends, even after the host stopped waiting for it
        const wire: Promise<unknown> = fetching.catch(() => undefined)
        this.wires.add(wire)
        wire.finally(() => this.wires.delete(wire))
        return fetching.then((res) =>
            res.text().then((text) => {
                const headers: Record<string, string> = {}
                res.headers.forEach((value, name) => {
                    headers[name.toLowerCase()] = value
                })
                // an answer to PutObject is empty or an error document: past the limit it says nothing we read (a cut
                // between the halves of a surrogate pair leaves a lone half, which utf8ToBytes writes as U+FFFD)
                const kept = text.length > ERROR_BODY_LIMIT_CHARS ? text.slice(0, ERROR_BODY_LIMIT_CHARS) : text
                return { response: new HttpResponse({ statusCode: res.status, headers, body: utf8ToBytes(kept) }) }
            })
        )
    }

    updateHttpClientConfig(): void {}
    httpHandlerConfigs(): Record<string, never> {
        return {}
    }
    destroy(): void {}
}

export interface S3StoreDeps {
    /** the `fetch` to send requests with: the sandbox's global one in PostHog */
    fetch: FetchLike
    /** overall deadline of one request (connect, send, answer) in ms; REQUEST_DEADLINE_MS unless a test shortens it */
    timeoutMs?: () => number
    /** the host's aws-sdk (v2), to send by if `fetch` refuses the endpoint as private (src/s3/private-endpoint.ts) */
    v2?: () => AwsSdkV2 | undefined
}

function sseParams(config: Config): Partial<PutObjectCommandInput> {
    if (config.sse.kind === 'AES256') return { ServerSideEncryption: 'AES256' }
    if (config.sse.kind === 'aws:kms') return { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: config.sse.kmsKeyId }
    return {}
}

/**
 * Checksums are computed with the host's native code (the SDK's pure-JS CRC32 would read a host Buffer byte by byte
 * through the sandbox's proxies). None by default: R2, B2 and older MinIO reject the newer checksum headers.
 */
function checksumParams(config: Pick<Config, 'checksum'>, body: Body): Partial<PutObjectCommandInput> {
    if (config.checksum === 'Content-MD5') return { ContentMD5: digestOf('md5', body, 'base64') }
    if (config.checksum === 'CRC32') {
        // zlib's crc32 continues from the value it is given: piece by piece is the CRC of the whole
        const crc32 = (zlib as unknown as { crc32(data: Buffer, value?: number): number }).crc32
        let crc = 0
        for (const piece of piecesOf(body)) crc = crc32(piece, crc)
        const bytes = Buffer.alloc(4)
        bytes.writeUInt32BE(crc >>> 0)
        return { ChecksumCRC32: bytes.toString('base64') }
    }
    return {}
}

/**
 * What `maxAttempts: 1` asks of the SDK's standard strategy, without building it (cut from the bundle): one attempt,
 * and the failure handed back as it came. The SDK's retry middleware still stamps attempts into `$metadata`.
 */
const singleAttempt = {
    mode: 'standard',
    acquireInitialRetryToken: () => Promise.resolve({ getRetryCount: () => 0, getRetryDelay: () => 0 }),
    refreshRetryTokenForRetry: (_token: unknown, info: { error?: unknown }) => Promise.reject(info.error ?? new Error('no retry')),
    recordSuccess: () => undefined,
} as unknown as S3ClientConfig['retryStrategy']

/** PutObject has no event stream: a stand-in the client can be built with, failing loudly if ever used. */
const noEventStreams = (() => {
    const fail = (): never => {
        throw new Error('S3 Export sends no event streams (cut from the bundle)')
    }
    return { serialize: fail, deserialize: fail }
}) as unknown as S3ClientConfig['eventStreamSerdeProvider']

/** Directory buckets (S3 Express) are refused by endpoint.ts, so no session is ever asked for. */
const noS3Express = {
    getS3ExpressIdentity: () => Promise.reject(new Error('S3 Export does not write to S3 Express directory buckets')),
} as unknown as S3ClientConfig['s3ExpressIdentityProvider']

/** Bodies are always whole Buffers (their hash is set by hostPayloadHash): nothing is hashed as a stream. */
const noStreamedBodies = (() => Promise.reject(new Error('S3 Export sends no streamed bodies (cut from the bundle)'))) as unknown as S3ClientConfig['streamHasher']

export function createS3Store(config: Config, deps: S3StoreDeps): ObjectStore {
    const timeoutMs = deps.timeoutMs ?? (() => REQUEST_DEADLINE_MS)
    const v2 = () => {
        const awsSdk = deps.v2?.()
        return awsSdk && createV2Handler(awsSdk, { timeoutMs })
    }
    const handler = new EndpointRoute(new FetchRequestHandler(deps.fetch, timeoutMs), v2, config.endpoint ?? `S3 in ${config.region}`)
    const client = new S3Client({
        region: config.region || 'us-east-1',
        endpoint: config.endpoint,
        forcePathStyle: config.forcePathStyle,
        credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
        // SDK retries sleep with setTimeout, which the sandbox lacks: our uploader retries instead
        maxAttempts: 1,
        retryStrategy: singleAttempt,
        // newer SDKs add CRC32 headers that R2, B2 and older MinIO reject (aws-sdk-js-v3 #6810)
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: handler,
        // the fetch handler answers with bytes already, v2's with the host's stream; the browser default would look for
        // a ReadableStream
        streamCollector: (body: unknown) => (isStreamBody(body) ? readAnswer(body) : Promise.resolve(body instanceof Uint8Array ? body : utf8ToBytes(body == null ? '' : String(body)))),
        // The SDK's defaults for these are cut from the bundle (scripts/build.mjs): hashes from the host's crypto,
        // our bucket's endpoint without S3's whole rule set, and no event streams (PutObject has none)
        sha256: HostSha256,
        md5: HostMd5,
        sha1: HostSha1,
        // the SDK's SigV4 signer itself: S3's default wraps it to add SigV4a (signing region '*', which needs the CRT
        // and our endpoints never ask for) and S3 Express sessions (refused); both are cut from the bundle
        signerConstructor: SignatureV4,
        endpointProvider: s3EndpointProvider as unknown as S3ClientConfig['endpointProvider'],
        eventStreamSerdeProvider: noEventStreams,
        s3ExpressIdentityProvider: noS3Express,
        streamHasher: noStreamedBodies,
        // PutObject's own serde (headers, path, raw body; S3's XML errors): the SDK's S3RestXmlProtocol and its
        // schema and XML machinery are cut from the bundle (src/s3/protocol.ts says what is kept)
        protocol: new PutObjectProtocol() as unknown as S3ClientConfig['protocol'],
    })
    // The SigV4 payload hash of a large body is the host's native crypto's, taken while the body was compressed
    // (payload-hash.ts): not the SDK's, which would hash the whole body at once on the event loop.
    client.middlewareStack.add(
        (next) => (args) => {
            const request = args.request as HttpRequest
            if (request && (Buffer.isBuffer(request.body) || request.body instanceof PiecesBody)) {
                request.headers['x-amz-content-sha256'] = payloadSha256(request.body)
            }
            return next(args)
        },
        { step: 'build', name: 'hostPayloadHash' }
    )

    return {
        onTheWire: () => handler.onTheWire(),
        put(request) {
            const command = new PutObjectCommand({
                Bucket: config.bucket,
                Key: request.key,
                // the SDK passes the body through untouched to our request handler (protocol.ts, sendable above)
                Body: request.body as PutObjectCommandInput['Body'],
                ContentType: request.contentType,
                ContentEncoding: request.contentEncoding,
                ContentLength: request.body.length,
                Metadata: request.metadata,
                StorageClass: config.storageClass as PutObjectCommandInput['StorageClass'],
                ACL: config.cannedAcl as PutObjectCommandInput['ACL'],
                ...sseParams(config),
                ...checksumParams(config, request.body),
            })
            return client.send(command).then(
                (out): PutOutcome => ({ kind: 'ok', etag: out.ETag }),
                (error: unknown): PutOutcome => {
                    const failure = toFailure(error, Date.now())
                    return { kind: classifyFailure(failure), failure } as PutOutcome
                }
            )
        },
    }
}

/**
 * The same store, calling `onStored` after each PUT that S3 took: how the parts that wait for S3 (the exporter's
 * backoff) hear that it is back when another part's write (the write check, a job) got through first.
 */
export function notifyingStore(store: ObjectStore, onStored: () => void): ObjectStore {
    return {
        onTheWire: () => store.onTheWire?.(),
        put: (request) =>
            store.put(request).then((outcome) => {
                if (outcome.kind === 'ok') onStored()
                return outcome
            }),
    }
}
