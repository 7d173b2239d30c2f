/**
 * An SDK v3 request handler that sends the requests our v3 client signs through aws-sdk v2's own HTTP client
 * (`AWS.HttpClient.getInstance().handleRequest`, which is node's `http`/`https` in the host).
 *
 * Why: in PostHog's 2024 plugin-servers the sandbox's `fetch` (and the `node-fetch` import, the same function there)
 * refuses loopback and private addresses when NODE_ENV is production (`FetchError: Internal hostname`), so a MinIO on
 * the self-hoster's LAN cannot be reached through it. `aws-sdk` (v2) is on every host's import list, and its HTTP
 * client is host code outside that guard: the same signed bytes go out, by another road.
 *
 * What it keeps from the fetch handler (src/s3.ts): the same headers and body on the wire (request-body.ts); a
 * request that hangs ends after the deadline (here the socket's idle timeout and v2's connect timeout, both timers of
 * the host's own code: the sandbox has none); `onTheWire` knows when a request has really ended. The response body
 * is the host's stream, read by the caller (`readAnswer` reads at most what an error document can say).
 */
import { HttpResponse, buildQueryString } from '@smithy/core/protocols'
import type { HttpRequest } from '@smithy/types'
import { utf8ToBytes } from '../bytes'
import { ERROR_BODY_LIMIT_CHARS } from './protocol'
import { sendable, withoutExpect } from './request-body'

/** The host's response, as aws-sdk v2 hands it over: node's IncomingMessage. */
export interface HostResponse {
    statusCode?: number
    statusMessage?: string
    headers: Record<string, string | string[] | undefined>
    on(event: string, listener: (...args: any[]) => void): unknown
    once(event: string, listener: (...args: any[]) => void): unknown
    removeListener(event: string, listener: (...args: any[]) => void): unknown
    destroy(error?: Error): unknown
    destroyed?: boolean
    readableEnded?: boolean
}

/** aws-sdk v2's low-level request: what NodeHttpClient.handleRequest reads. */
interface V2HttpRequest {
    endpoint: { protocol: string; hostname: string; port: number }
    method: string
    path: string
    headers: Record<string, string>
    body?: unknown
}

interface V2HttpClient {
    handleRequest(
        request: V2HttpRequest,
        options: { timeout?: number; connectTimeout?: number },
        onResponse: (response: HostResponse) => void,
        onError: (error: Error) => void
    ): { abort(): void }
}

/** The part of the `aws-sdk` (v2) module this uses. */
export interface AwsSdkV2 {
    HttpClient: { getInstance(): V2HttpClient }
}

/** Whether a module is aws-sdk v2 with its low-level HTTP client (every 2.x release has `HttpClient.getInstance`). */
export function hasV2HttpClient(module: unknown): module is AwsSdkV2 {
    const client = (module as { HttpClient?: { getInstance?: unknown } } | undefined)?.HttpClient
    return !!client && typeof client.getInstance === 'function'
}

export interface V2HandlerOptions {
    /** the deadline of one request, in ms: a connection not made, or silent, this long is ended */
    timeoutMs: () => number
}

/** `AbortSignal` as the SDK hands it in (there is none inside the sandbox; tests and SDK callers may pass one). */
interface AbortSignalLike {
    aborted: boolean
    addEventListener?(type: 'abort', listener: () => void): void
}

/** Errors that came after the answer had begun, for a reader that arrives once the stream has already failed. */
const failedAnswers = new WeakMap<object, Error>()

export class V2HttpHandler {
    constructor(
        private readonly client: V2HttpClient,
        private readonly opts: V2HandlerOptions
    ) {}

    /** requests sent and not yet ended (answered to the last byte, failed, or cut) */
    private readonly wires = new Set<Promise<unknown>>()

    /** settles when every request out now has ended; undefined when none is */
    onTheWire(): Promise<unknown> | undefined {
        return this.wires.size === 0 ? undefined : Promise.all([...this.wires])
    }

    handle(request: HttpRequest, options: { abortSignal?: AbortSignalLike } = {}): Promise<{ response: HttpResponse }> {
        const query = buildQueryString(request.query || {})
        const https = request.protocol === 'https:'
        const v2Request: V2HttpRequest = {
            // node's http takes an IPv6 host without the brackets a URL has
            endpoint: { protocol: request.protocol, hostname: request.hostname.replace(/^\[(.*)\]$/, '$1'), port: request.port || (https ? 443 : 80) },
            method: request.method,
            path: `${request.path}${query ? `?${query}` : ''}`,
            headers: withoutExpect(request.headers),
            body: request.method === 'GET' || request.method === 'HEAD' ? undefined : sendable(request.body),
        }
        const timeout = this.opts.timeoutMs()
        let endWire: () => void = () => undefined
        const wire = new Promise<void>((resolve) => (endWire = resolve))
        this.wires.add(wire)
        wire.finally(() => this.wires.delete(wire))

        return new Promise<{ response: HttpResponse }>((resolve, reject) => {
            const signal = options.abortSignal
            if (signal?.aborted) {
                endWire()
                reject(abortError())
                return
            }
            let answer: HostResponse | undefined
            let sent: { abort(): void }
            try {
                sent = this.send(v2Request, timeout, (response) => {
                    answer = response
                    // heard from the first moment: an error with no listener would be thrown in the host's process
                    response.on('error', (error: Error) => failedAnswers.set(response, error))
                    for (const event of ['end', 'close', 'error']) response.once(event, () => endWire())
                    resolve({ response: new HttpResponse({ statusCode: response.statusCode ?? 0, reason: response.statusMessage, headers: headersOf(response), body: response }) })
                }, (error) => {
                    // v2 also reports errors after the answer began (a reset or a silent socket while the body comes):
                    // they end the body's stream, so its reader hears them
                    if (answer) {
                        failedAnswers.set(answer, error)
                        answer.destroy(error)
                        return
                    }
                    endWire()
                    reject(error)
                })
            } catch (error) {
                // node's http refused the request before sending it (an invalid header): nothing is on the wire
                endWire()
                reject(error)
                return
            }
            signal?.addEventListener?.('abort', () => {
                if (answer) {
                    answer.destroy(abortError())
                    return
                }
                sent.abort()
                endWire()
                reject(abortError())
            })
        })
    }

    /**
     * One request by v2's client. `timeout` is the socket's idle timeout in v2 (a request silent this long is ended
     * with a TimeoutError), `connectTimeout` bounds the connection: both run on the host's timers, inside v2's code.
     */
    private send(request: V2HttpRequest, timeoutMs: number, onResponse: (response: HostResponse) => void, onError: (error: Error) => void): { abort(): void } {
        return this.client.handleRequest(request, { timeout: timeoutMs, connectTimeout: timeoutMs }, onResponse, onError)
    }

    updateHttpClientConfig(): void {}
    httpHandlerConfigs(): Record<string, never> {
        return {}
    }
    destroy(): void {}
}

/** The handler the S3 store sends with when the sandbox's fetch refuses its endpoint. */
export function createV2Handler(awsSdk: AwsSdkV2, opts: V2HandlerOptions): V2HttpHandler {
    return new V2HttpHandler(awsSdk.HttpClient.getInstance(), opts)
}

function headersOf(response: HostResponse): Record<string, string> {
    const headers: Record<string, string> = {}
    for (const name of Object.keys(response.headers)) {
        const value = response.headers[name]
        if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    }
    return headers
}

function abortError(): Error {
    const error = new Error('The request was aborted')
    error.name = 'AbortError'
    return error
}

/** Whether an SDK response body is a host stream (this handler's) rather than bytes (the fetch handler's). */
export function isStreamBody(body: unknown): body is HostResponse {
    return !!body && typeof (body as { on?: unknown }).on === 'function' && typeof (body as { destroy?: unknown }).destroy === 'function'
}

/**
 * An answer's body as the fetch handler hands it to the SDK: its text, cut to its first ERROR_BODY_LIMIT_CHARS, as
 * UTF-8 bytes of this realm. An answer to PutObject is empty or an error document, so at most 4 bytes per kept
 * character are read and the rest is not waited for (the response is ended): a proxy's page of megabytes costs
 * neither the time to receive it nor the memory to hold it.
 */
export function readAnswer(body: HostResponse, limitChars: number = ERROR_BODY_LIMIT_CHARS): Promise<Uint8Array> {
    const limitBytes = 4 * limitChars
    return new Promise<Uint8Array>((resolve, reject) => {
        const chunks: Buffer[] = []
        let bytes = 0
        let settled = false
        const finish = (error?: Error) => {
            if (settled) return
            settled = true
            body.removeListener('data', onData)
            if (error) {
                reject(error)
                return
            }
            // the chunks are the host's Buffers: joined and decoded by host code, then made bytes of this realm
            const text = Buffer.concat(chunks, Math.min(bytes, limitBytes)).toString('utf8')
            resolve(utf8ToBytes(text.length > limitChars ? text.slice(0, limitChars) : text))
        }
        const onData = (chunk: Buffer) => {
            chunks.push(chunk)
            bytes += chunk.length
            if (bytes >= limitBytes) {
                finish()
                body.destroy()
            }
        }
        const failed = failedAnswers.get(body)
        if (failed || body.destroyed) {
            finish(failed ?? new Error('the connection closed before the answer ended'))
            return
        }
        body.on('data', onData)
        body.once('end', () => finish())
        body.once('error', (error: Error) => finish(failedAnswers.get(body) ?? error))
        // closed without its end: cut off (node 14 reports an aborted answer so, without an error)
        body.once('close', () => finish(failedAnswers.get(body) ?? (body.readableEnded ? undefined : new Error('the connection closed before the answer ended'))))
    })
}
