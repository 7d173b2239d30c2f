/**
 * The capture server's small HTTP parts: its error answer, reading a body within PostHog's size limit, the
 * client's IP, CORS, and sending an answer (remembering an error's reason for `onResponse`).
 */
import http from 'node:http'

/** An HTTP answer other than success, carrying PostHog's status code and reason. */
export class CaptureHttpError extends Error {
    constructor(
        readonly status: number,
        message: string
    ) {
        super(message)
    }
}

export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
    const declared = Number(req.headers['content-length'])
    if (declared > limit) {
        req.resume()
        throw new CaptureHttpError(413, 'maximum event size exceeded')
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
        size += chunk.length
        if (size > limit) {
            req.resume()
            throw new CaptureHttpError(413, 'maximum event size exceeded')
        }
        chunks.push(chunk)
    }
    return Buffer.concat(chunks)
}

/** First X-Forwarded-For hop, else the socket peer, without the IPv4-mapped IPv6 prefix. */
export function clientIp(req: http.IncomingMessage): string | null {
    const forwarded = req.headers['x-forwarded-for']
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim()
    const ip = first || req.socket.remoteAddress || null
    return ip?.startsWith('::ffff:') ? ip.slice(7) : ip
}

/** Permissive CORS like PostHog's, so posthog-js on any local page can send here. */
export function allowCors(req: http.IncomingMessage, res: http.ServerResponse): void {
    const origin = req.headers.origin
    if (origin) {
        res.setHeader('Access-Control-Allow-Origin', origin)
        res.setHeader('Access-Control-Allow-Credentials', 'true')
        res.setHeader('Vary', 'Origin')
    }
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS')
    const requested = req.headers['access-control-request-headers']
    if (requested) res.setHeader('Access-Control-Allow-Headers', requested)
}

export function send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(body))
}

/** The reason given with each error answer, for `onResponse`. */
const reasons = new WeakMap<http.ServerResponse, string>()

export function sendText(res: http.ServerResponse, status: number, message: string): void {
    if (status >= 400) reasons.set(res, message)
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(message)
}

/** The plain-text reason `sendText` gave with an error answer, if it gave one. */
export function errorReason(res: http.ServerResponse): string | undefined {
    return reasons.get(res)
}

/** A path segment as text; a malformed %-escape is kept as it came rather than failing the request. */
export function safeDecode(segment: string): string {
    try {
        return decodeURIComponent(segment)
    } catch {
        return segment
    }
}

export function errorMessage(error: unknown): string {
    return error instanceof Error ? error.message : String(error)
}
