/**
 * A capture request's JSON text → its raw events, its token checked and its send time (wire facts from the
 * sources named in server.ts):
 *  - posthog-node POSTs `{ api_key, batch: [...], sent_at }` to `${host}/batch/`. Each event has event,
 *    distinct_id, uuid (UUIDv7), timestamp (ISO) and properties carrying $lib "posthog-node", $lib_version,
 *    $is_server and $geoip_disable.
 *  - sent_at comes from the batch body, else from the `_` query parameter (epoch milliseconds).
 *  - The token is the batch's `api_key`/`token`, else each event's `token`/`$token`/`api_key`/
 *    `properties.token`; none, or different ones in one request → 401.
 */
import { CaptureHttpError, errorMessage } from './http'

export interface CaptureRequest {
    events: unknown[]
    sentAt: string | null
}

/** The three shapes capture accepts: `[event, …]`, `{ api_key, batch: [...], sent_at }`, one event. */
export function parseCaptureRequest(text: string, query: URLSearchParams): CaptureRequest {
    let json: unknown
    try {
        json = JSON.parse(text)
    } catch (error) {
        throw new CaptureHttpError(400, `failed to parse request: ${errorMessage(error)}`)
    }

    let events: unknown[]
    let token: unknown
    let sentAt: unknown = null
    if (Array.isArray(json)) {
        events = json
    } else if (json !== null && typeof json === 'object' && Array.isArray((json as any).batch)) {
        const batch = json as Record<string, any>
        events = batch.batch
        token = batch.api_key ?? batch.token
        sentAt = batch.sent_at
    } else if (json !== null && typeof json === 'object') {
        events = [json]
    } else {
        throw new CaptureHttpError(400, 'failed to parse request: expected an event, an array of events or a batch')
    }
    if (events.length === 0) throw new CaptureHttpError(400, 'request holds no event')

    checkToken(token ?? eventsToken(events))

    if (typeof sentAt !== 'string' || sentAt === '') sentAt = sentAtFromQuery(query)
    return { events, sentAt: sentAt as string | null }
}

/** The one token the events agree on; 401 when they carry several. */
function eventsToken(events: unknown[]): string | undefined {
    const tokens = new Set<string>()
    for (const event of events) {
        if (event === null || typeof event !== 'object') continue
        const e = event as Record<string, any>
        const token = e.token ?? e.$token ?? e.api_key ?? (typeof e.properties?.token === 'string' ? e.properties.token : undefined)
        if (typeof token === 'string') tokens.add(token)
    }
    if (tokens.size > 1) throw new CaptureHttpError(401, 'batch submitted with inconsistent api_key values')
    return tokens.values().next().value
}

function checkToken(token: unknown): void {
    if (token === undefined || token === null) throw new CaptureHttpError(401, 'event submitted without an api_key')
    if (typeof token !== 'string' || token.trim() === '') throw new CaptureHttpError(401, 'API key is not valid: empty')
    // A personal API key here is a leaked secret; PostHog refuses it.
    if (token.startsWith('phx_')) throw new CaptureHttpError(401, 'API key is not valid: personal API key')
}

/** posthog-js puts the send time in `_` as epoch ms; seconds (older SDKs) are ignored. */
function sentAtFromQuery(query: URLSearchParams): string | null {
    const ms = Number(query.get('_') ?? query.get('sent_at'))
    if (!Number.isSafeInteger(ms)) return null
    const date = new Date(ms)
    return date.getUTCFullYear() > 2020 ? date.toISOString() : null
}
