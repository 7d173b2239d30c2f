/**
 * A capture request's bytes → the JSON text inside, unwrapped as PostHog capture does (wire facts from the
 * sources named in server.ts):
 *  - posthog-node sends JSON with `Content-Encoding: gzip` (unless `disableCompression`).
 *  - posthog-js may send a JSON array, a single event, gzip with `?compression=gzip-js`, base64,
 *    or `application/x-www-form-urlencoded` with `data=<base64 or JSON>` (form field
 *    `compression` too); GET requests carry `data` in the query string. Gzip is also detected
 *    by its magic bytes, since clients do not always say so.
 *  - Bodies over 2 MB (20 MB for /batch), also after decompression → 413.
 *
 * Not supported: lz64 (lz-string) payloads; they get a non-retryable error that says so.
 */
import type http from 'node:http'
import { promisify } from 'node:util'
import zlib from 'node:zlib'

import { CaptureHttpError } from './http'

export const EVENT_BODY_LIMIT = 2 * 1024 * 1024
export const BATCH_BODY_LIMIT = 20 * 1024 * 1024

const gunzip = promisify(zlib.gunzip)

type Compression = 'gzip' | 'lz64' | 'none'

/**
 * Unwraps the payload the way PostHog capture does: query `data` (GET) or body; whole-body
 * base64; form field `data`; gzip by hint or magic bytes; a base64 layer left after that.
 */
export async function decodePayload(
    body: Buffer,
    query: URLSearchParams,
    headers: http.IncomingHttpHeaders,
    limit: number = BATCH_BODY_LIMIT
): Promise<string> {
    let payload: Buffer = query.get('data') ? Buffer.from(query.get('data')!, 'utf8') : body
    if (payload.length === 0) throw new CaptureHttpError(400, 'failed to decode request: empty payload')

    let formCompression: string | null = null
    const contentType = String(headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
    if (contentType === 'application/x-www-form-urlencoded' && !query.get('data')) {
        const form = new URLSearchParams(payload.toString('utf8'))
        const data = form.get('data')
        if (!data) throw new CaptureHttpError(400, 'failed to decode request: expected form data with a `data` field')
        formCompression = form.get('compression')
        // URL decoding turned base64 '+' into ' '; put them back.
        payload = Buffer.from(isLikelyBase64(data.replace(/ /g, '+')) ? data.replace(/ /g, '+') : data, 'utf8')
    }
    if (isLikelyBase64(payload.toString('latin1'))) {
        payload = Buffer.from(payload.toString('latin1'), 'base64')
    }

    const compression = compressionHint(formCompression ?? query.get('compression'), headers['content-encoding'])
    let text: string
    if (compression === 'gzip' || isGzip(payload)) {
        try {
            text = (await gunzip(payload, { maxOutputLength: limit })).toString('utf8')
        } catch (error) {
            if (error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
                throw new CaptureHttpError(413, 'maximum event size exceeded')
            }
            throw new CaptureHttpError(400, 'failed to decode request: invalid gzip data')
        }
    } else if (compression === 'lz64') {
        throw new CaptureHttpError(400, 'failed to decode request: lz64 payloads are not supported by the dev capture server; use gzip')
    } else {
        text = payload.toString('utf8')
    }
    // Old posthog-js versions wrap the JSON in one more base64 layer.
    const trimmed = text.trim()
    if (!trimmed.startsWith('{') && !trimmed.startsWith('[') && isLikelyBase64(trimmed)) {
        text = Buffer.from(trimmed, 'base64').toString('utf8')
    }
    return text
}

function compressionHint(hint: string | null, contentEncoding: string | string[] | undefined): Compression {
    const value = (hint ?? '').toLowerCase()
    if (value === 'gzip' || value === 'gzip-js') return 'gzip'
    if (value === 'lz64' || value === 'lz-string') return 'lz64'
    return String(contentEncoding ?? '').toLowerCase().includes('gzip') ? 'gzip' : 'none'
}

function isGzip(bytes: Buffer): boolean {
    return bytes.length >= 3 && bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 0x08
}

/** Strict base64: the alphabet, padded to a multiple of 4. JSON can never look like this. */
function isLikelyBase64(text: string): boolean {
    return text.length >= 4 && text.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(text)
}
