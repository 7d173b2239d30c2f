/**
 * A local stand-in for PostHog's capture service: accepts what posthog-node and posthog-js send,
 * turns every event into the `ProcessedPluginEvent` a plugin's `onEvent` receives, and hands
 * each request's events to `onEvents`.
 *
 * Wire facts used (PostHog/posthog rust/capture: router.rs, payload/common.rs,
 * payload/decompression.rs, v0_request.rs, api.rs; posthog-node 5.70.0 / @posthog/core source
 * in node_modules):
 *  - Event endpoints: /batch, /e, /i/v0/e, /capture, /track, /engage, each with or without a
 *    trailing slash, GET or POST, plus CORS preflight (OPTIONS).
 *  - posthog-node POSTs `{ api_key, batch: [...], sent_at }` to `${host}/batch/` as JSON with
 *    `Content-Encoding: gzip` (unless `disableCompression`). Each event has event, distinct_id,
 *    uuid (UUIDv7), timestamp (ISO) and properties carrying $lib "posthog-node", $lib_version,
 *    $is_server and $geoip_disable. It only checks for a 2xx and discards the body; 413 makes
 *    it halve the batch, 5xx/408/429 are retried.
 *  - posthog-js may send a JSON array, a single event, gzip with `?compression=gzip-js`, base64,
 *    or `application/x-www-form-urlencoded` with `data=<base64 or JSON>` (form field
 *    `compression` too); GET requests carry `data` in the query string. Gzip is also detected
 *    by its magic bytes, since clients do not always say so.
 *  - sent_at comes from the batch body, else from the `_` query parameter (epoch milliseconds).
 *  - The token is the batch's `api_key`/`token`, else each event's `token`/`$token`/`api_key`/
 *    `properties.token`; none, or different ones in one request → 401.
 *  - Success is `{"status":1}` (the legacy capture's answer; the Rust service writes the same
 *    enum as `{"status":"Ok"}` and no SDK reads either). Bad payloads → 400 with a plain-text
 *    reason; bodies over 2 MB (20 MB for /batch), also after decompression → 413.
 *  - posthog-node asks `/flags/?v=2` only for feature flags and `/flags/definitions` only with
 *    a personal API key; posthog-js still knows `/decide/`. We answer "no flags".
 *  - posthog-js (1.449.2, packages/browser/src/remote-config.ts and the RemoteConfig type in
 *    @posthog/browser-common) reads its project settings before turning features on: first the
 *    script `/array/<token>/config.js`, which sets `window._POSTHOG_REMOTE_CONFIG[token] =
 *    { config, siteApps }`, else the JSON `/array/<token>/config`. Without an answer it keeps
 *    autocapture off, stops compressing and never starts recordings. See `remoteConfig` below.
 *  - Session recordings are POSTed to the config's `sessionRecording.endpoint` (`/s/`) as
 *    `$snapshot` batches. They are not events (PostHog stores them apart), and the app exports
 *    events, so we accept them with 200 and drop them.
 *  - posthog-js loads its lazy parts (recorder.js, surveys.js, ...) and, with PostHog's HTML
 *    snippet, array.js itself from `<api_host>/static/<name>.js`, as PostHog's own server
 *    serves them from the posthog-js it ships. We serve the posthog-js installed here.
 *
 * Not supported: lz64 (lz-string) payloads and posthog-node's opt-in Capture V1 endpoint
 * (`POSTHOG_CAPTURE_MODE=v1`, /i/v1/analytics/events); both get a non-retryable error that says so.
 */
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'

import { InvalidEventError, toProcessedEvent } from './process-event'

export interface CaptureServerOptions {
    /** 0 (default) picks a free port. */
    port?: number
    /** Interface to bind; default 127.0.0.1 (a dev tool should not listen on the network). */
    host?: string
    /** team_id stamped on every event; default 1. */
    teamId?: number
    /** Receives each request's events, in arrival order, never two calls at once. The HTTP answer
     *  waits for it, so a client's `flush()`/`shutdown()` resolving means the events were handled.
     *  If it throws, the client gets 503 and (posthog-node) retries the batch. */
    onEvents: (events: ProcessedPluginEvent[]) => void | Promise<void>
    /** Server clock; inject to test clock-skew correction. Read once per request. */
    now?: () => Date
    /** `site_url` PostHog would report; default the server's own URL. */
    siteUrl?: string
    /** Emulates the project setting that drops `$ip`. */
    anonymizeIps?: boolean
    /** Uuid for events without one; default UUIDv7 as PostHog. */
    uuid?: () => string
    /** Told of every answer once it is sent, so a caller can show what a client did not get. */
    onResponse?: (answer: CaptureAnswer) => void
    /** Where `/static/<name>.js` is served from; default the installed posthog-js's dist/ and version. */
    staticAssets?: StaticAssets
}

export interface StaticAssets {
    dir: string
    /** The posthog-js version the files are from; a versioned path is served only for this one. */
    version?: string
}

export interface CaptureAnswer {
    method: string
    /** The path asked for, without the query string. */
    path: string
    status: number
    /** For an error, the plain-text reason the client was given. */
    reason?: string
}

export interface CaptureServer {
    /** Base URL to give a client as `host`, e.g. http://127.0.0.1:41234 */
    url: string
    port: number
    /** Events handed to `onEvents` successfully so far. */
    received: () => number
    /** Session recording requests accepted (and dropped: recordings are not events) so far. */
    recordings: () => number
    /** Stops listening and resolves once in-flight requests are answered. */
    close: () => Promise<void>
}

/** An HTTP answer other than success, carrying PostHog's status code and reason. */
class CaptureHttpError extends Error {
    constructor(
        readonly status: number,
        message: string
    ) {
        super(message)
    }
}

const EVENT_BODY_LIMIT = 2 * 1024 * 1024
const BATCH_BODY_LIMIT = 20 * 1024 * 1024

/** Paths (without trailing slash) that take events. */
const EVENT_PATHS = new Set(['/batch', '/e', '/i/v0/e', '/capture', '/track', '/engage'])

const gunzip = promisify(zlib.gunzip)

/** `/array/<token>/config` (JSON) and `/array/<token>/config.js` (script), after trailing-slash trimming. */
const REMOTE_CONFIG_PATH = /^\/array\/([^/]+)\/config(\.js)?$/
/** `/static/<name>.js`, or `/static/<version>/<name>.js` (posthog-js's default `strict_script_versioning:
 *  'fallback'` asks that first). Only plain file names: nothing outside the static folder can be asked for. */
const STATIC_PATH = /^\/static\/(?:([0-9][A-Za-z0-9.+-]*)\/)?([A-Za-z0-9_-][A-Za-z0-9._-]*\.js)$/

/**
 * posthog-js's remote config: the settings PostHog would give it for a project where everything that
 * becomes an event is on: autocapture allowed, gzip accepted, events to /i/v0/e/, recordings to /s/.
 * Parts that need a PostHog backend the local server does not have (surveys, heatmaps, product tours,
 * conversations, site apps, flags) are off, so posthog-js does not ask for what we cannot answer.
 * Field names and types are posthog-js's `RemoteConfig` (@posthog/browser-common, 1.449.2).
 */
export function remoteConfig(token: string): Record<string, unknown> {
    return { token, ...projectSettings() }
}

function projectSettings(): Record<string, unknown> {
    return {
        // posthog-js compresses only with a codec listed here; 'gzip-js' is its own fflate gzip
        supportedCompression: ['gzip', 'gzip-js'],
        // false is what a project with autocapture on sends; a missing field keeps autocapture off
        autocapture_opt_out: false,
        autocaptureExceptions: false,
        errorTracking: { autocaptureExceptions: false, suppressionRules: [] },
        analytics: { endpoint: '/i/v0/e/' },
        elementsChainAsString: true,
        capturePerformance: false,
        captureDeadClicks: false,
        sessionRecording: {
            endpoint: '/s/',
            consoleLogRecordingEnabled: false,
            recorderVersion: 'v2',
            sampleRate: null,
            minimumDurationMilliseconds: null,
            linkedFlag: null,
            networkPayloadCapture: null,
            urlTriggers: [],
            urlBlocklist: [],
            eventTriggers: [],
            scriptConfig: null,
        },
        heatmaps: false,
        surveys: false,
        productTours: false,
        conversations: false,
        logs: { captureConsoleLogs: false },
        defaultIdentifiedOnly: true,
        // the local server has no flags: posthog-js then does not ask /flags on load
        hasFeatureFlags: false,
        toolbarParams: {},
        isAuthenticated: false,
        siteApps: [],
    }
}

/** The script form: what PostHog's config.js does, with the same JSON inside. */
function remoteConfigScript(token: string): string {
    const config = JSON.stringify(remoteConfig(token))
    return (
        '(function () {\n' +
        '    window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};\n' +
        `    window._POSTHOG_REMOTE_CONFIG[${JSON.stringify(token)}] = { config: ${config}, siteApps: [] };\n` +
        '})();\n'
    )
}

/** posthog-js's dist/ folder, if posthog-js is installed (it is a devDependency of this repo). */
function posthogJsAssets(): StaticAssets | undefined {
    try {
        const manifest = require.resolve('posthog-js/package.json')
        return { dir: join(dirname(manifest), 'dist'), version: require(manifest).version }
    } catch {
        return undefined
    }
}

export async function startCaptureServer(opts: CaptureServerOptions): Promise<CaptureServer> {
    const teamId = opts.teamId ?? 1
    const clock = opts.now ?? (() => new Date())
    const newUuid = opts.uuid ?? uuidv7
    const assets = opts.staticAssets ?? posthogJsAssets()
    let received = 0
    let recordings = 0
    let siteUrl = opts.siteUrl ?? ''
    // One link per request: keeps onEvents calls ordered and never concurrent.
    let delivery: Promise<unknown> = Promise.resolve()

    const deliver = (events: ProcessedPluginEvent[]): Promise<void> => {
        const run = delivery.then(async () => {
            await opts.onEvents(events)
            received += events.length
        })
        delivery = run.catch(() => undefined) // one failed request must not block the next
        return run
    }

    const handleCapture = async (req: http.IncomingMessage, url: URL, path: string): Promise<void> => {
        const limit = path === '/batch' ? BATCH_BODY_LIMIT : EVENT_BODY_LIMIT
        const body = await readBody(req, limit)
        const text = await decodePayload(body, url.searchParams, req.headers, limit)
        const request = parseCaptureRequest(text, url.searchParams)
        const ctx = {
            teamId,
            ip: clientIp(req),
            now: clock(),
            siteUrl,
            uuid: newUuid,
            sentAt: request.sentAt,
            anonymizeIps: opts.anonymizeIps,
        }
        let events: ProcessedPluginEvent[]
        try {
            events = request.events.map((raw) => toProcessedEvent(raw, ctx))
        } catch (error) {
            // Like PostHog, one bad event rejects the whole request.
            if (error instanceof InvalidEventError) throw new CaptureHttpError(400, error.message)
            throw error
        }
        try {
            await deliver(events)
        } catch (error) {
            throw new CaptureHttpError(503, `transient error, please retry: onEvents failed: ${errorMessage(error)}`)
        }
    }

    const handleRecording = async (req: http.IncomingMessage): Promise<void> => {
        // Read to the end (and within PostHog's size limit) so the answer means "received"; then dropped.
        await readBody(req, BATCH_BODY_LIMIT)
        recordings++
    }

    const serveStatic = async (res: http.ServerResponse, version: string | undefined, name: string): Promise<void> => {
        if (!assets) return sendText(res, 404, `no ${name}: posthog-js is not installed here (npm ci installs it)`)
        // Another version's file could expect internals this bundle lacks; a 404 makes posthog-js fall back
        // to the unversioned path (unless it was told strict_script_versioning: true).
        if (version !== undefined && version !== assets.version) {
            return sendText(res, 404, `posthog-js ${version} files are not here; the installed posthog-js is ${assets.version}`)
        }
        let script: Buffer
        try {
            script = await readFile(join(assets.dir, name))
        } catch {
            return sendText(res, 404, `no ${name} in the installed posthog-js`)
        }
        res.writeHead(200, { 'Content-Type': 'application/javascript; charset=utf-8' })
        res.end(script)
    }

    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://capture.local')
        const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname
        if (opts.onResponse) {
            const report = opts.onResponse
            res.once('finish', () => report({ method: req.method ?? '?', path: url.pathname, status: res.statusCode, reason: reasons.get(res) }))
        }
        allowCors(req, res)

        if (req.method === 'OPTIONS') return send(res, 200, { status: 1 })

        if (EVENT_PATHS.has(path)) {
            if (req.method !== 'POST' && req.method !== 'GET') return sendText(res, 405, 'method not allowed')
            handleCapture(req, url, path).then(
                () => send(res, 200, { status: 1 }),
                (error) => {
                    if (error instanceof CaptureHttpError) return sendText(res, error.status, error.message)
                    sendText(res, 500, `internal error: ${errorMessage(error)}`)
                }
            )
            return
        }

        if (path === '/s') {
            if (req.method !== 'POST') return sendText(res, 405, 'method not allowed')
            handleRecording(req).then(
                () => send(res, 200, { status: 1 }),
                (error) => {
                    if (error instanceof CaptureHttpError) return sendText(res, error.status, error.message)
                    sendText(res, 500, `internal error: ${errorMessage(error)}`)
                }
            )
            return
        }

        // Drain request bodies we do not read, so keep-alive connections stay usable.
        req.resume()
        const config = REMOTE_CONFIG_PATH.exec(path)
        if (config) {
            const token = safeDecode(config[1])
            if (config[2]) {
                res.writeHead(200, { 'Content-Type': 'application/javascript; charset=utf-8' })
                return void res.end(remoteConfigScript(token))
            }
            return send(res, 200, remoteConfig(token))
        }
        const asset = STATIC_PATH.exec(path)
        if (asset && (req.method === 'GET' || req.method === 'HEAD')) {
            serveStatic(res, asset[1], asset[2]).catch((error) => sendText(res, 500, `internal error: ${errorMessage(error)}`))
            return
        }
        switch (path) {
            case '/flags/definitions':
            case '/api/feature_flag/local_evaluation':
                return send(res, 200, { flags: [], group_type_mapping: {}, cohorts: {} })
            case '/decide':
                // Older posthog-js read their remote config from /decide; newer ones ask /array/ and /flags.
                return send(res, 200, {
                    ...projectSettings(),
                    config: { enable_collect_everything: true },
                    featureFlags: {},
                    featureFlagPayloads: {},
                    errorsWhileComputingFlags: false,
                    quotaLimited: [],
                    requestId: newUuid(),
                })
            case '/flags':
                return send(res, 200, {
                    flags: {},
                    featureFlags: {},
                    featureFlagPayloads: {},
                    errorsWhileComputingFlags: false,
                    quotaLimited: [],
                    requestId: newUuid(),
                    supportedCompression: ['gzip', 'gzip-js'],
                })
            case '/i/v1/analytics/events':
                // 501 is outside posthog-node's retry list, so the client reports this at once.
                return sendText(
                    res,
                    501,
                    'Capture V1 is not supported by the dev capture server; unset POSTHOG_CAPTURE_MODE to use /batch/'
                )
            case '/':
            case '/_readiness':
            case '/_liveness':
                return sendText(res, 200, 'capture')
            default:
                return sendText(res, 404, `no capture endpoint at ${url.pathname}`)
        }
    })
    // posthog-node keeps connections alive; let them go idle quickly so close() is prompt.
    server.keepAliveTimeout = 1000

    await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
            server.off('error', reject)
            resolve()
        })
    })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('capture server has no TCP address')
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    const url = `http://${host}:${address.port}`
    siteUrl ||= url

    return {
        url,
        port: address.port,
        received: () => received,
        recordings: () => recordings,
        close: () =>
            new Promise<void>((resolve, reject) => {
                server.close((error) => (error ? reject(error) : resolve()))
                server.closeIdleConnections()
            }),
    }
}

// ---------------------------------------------------------------------------------------------
// Request body → JSON text
// ---------------------------------------------------------------------------------------------

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
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

// ---------------------------------------------------------------------------------------------
// JSON text → events
// ---------------------------------------------------------------------------------------------

interface CaptureRequest {
    events: unknown[]
    sentAt: string | null
}

/** The three shapes capture accepts: `[event, …]`, `{ api_key, batch: [...], sent_at }`, one event. */
function parseCaptureRequest(text: string, query: URLSearchParams): CaptureRequest {
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

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** First X-Forwarded-For hop, else the socket peer, without the IPv4-mapped IPv6 prefix. */
function clientIp(req: http.IncomingMessage): string | null {
    const forwarded = req.headers['x-forwarded-for']
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim()
    const ip = first || req.socket.remoteAddress || null
    return ip?.startsWith('::ffff:') ? ip.slice(7) : ip
}

/** Permissive CORS like PostHog's, so posthog-js on any local page can send here. */
function allowCors(req: http.IncomingMessage, res: http.ServerResponse): void {
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

function send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(body))
}

/** The reason given with each error answer, for `onResponse`. */
const reasons = new WeakMap<http.ServerResponse, string>()

function sendText(res: http.ServerResponse, status: number, message: string): void {
    if (status >= 400) reasons.set(res, message)
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(message)
}

/** A path segment as text; a malformed %-escape is kept as it came rather than failing the request. */
function safeDecode(segment: string): string {
    try {
        return decodeURIComponent(segment)
    } catch {
        return segment
    }
}

function errorMessage(error: unknown): string {
    return error instanceof Error ? error.message : String(error)
}

/** RFC 9562 UUIDv7: 48-bit ms timestamp, version 7, variant 10, random rest. */
export function uuidv7(): string {
    const bytes = randomBytes(16)
    const ms = Date.now()
    bytes.writeUIntBE(ms, 0, 6)
    bytes[6] = 0x70 | (bytes[6] & 0x0f)
    bytes[8] = 0x80 | (bytes[8] & 0x3f)
    const hex = bytes.toString('hex')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
