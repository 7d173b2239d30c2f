/**
 * What every request handler of the app does to a signed request before it goes out, whichever way it goes (the
 * sandbox's `fetch`, or aws-sdk v2's HTTP client): the same headers and the same body on the wire.
 */
import { PassThrough } from 'stream'
import { PiecesBody } from '../body'

/**
 * The SDK asks for `Expect: 100-continue` on bodies over 2 MB; Node's own fetch refuses that header outright
 * ("expect header not supported") and node-fetch does not wait for the 100 anyway, so it is never sent.
 */
export function withoutExpect(headers: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {}
    for (const name of Object.keys(headers)) if (name.toLowerCase() !== 'expect') out[name] = headers[name]
    return out
}

/**
 * A body in pieces goes out as a stream of its pieces, made anew for each attempt (a stream is read once); the
 * Content-Length header the SDK set from its size stays, so nothing is sent chunked. The host's `stream` module gives
 * apps `PassThrough` (and only that, in plugin-server 1.10.5): a host stream, which node-fetch and aws-sdk v2 both
 * pipe to the socket.
 */
export function sendable(body: unknown): unknown {
    if (!(body instanceof PiecesBody)) return body
    const stream = new PassThrough()
    for (const piece of body.pieces) stream.write(piece)
    stream.end()
    return stream
}
