/**
 * A local stand-in for PostHog's capture service: accepts what posthog-node and posthog-js send,
 * turns every event into the `ProcessedPluginEvent` a plugin's `onEvent` receives, and hands
 * each request's events to `onEvents`. This file starts the server and routes its requests; the
 * files beside it each do one part (see README.md).
 *
 * Wire facts used here and in the files beside it (PostHog/posthog rust/capture: router.rs,
 * payload/common.rs, payload/decompression.rs, v0_request.rs, api.rs; posthog-node 5.70.0 /
 * @posthog/core source in node_modules):
 *  - Event endpoints: /batch, /e, /i/v0/e, /capture, /track, /engage, each with or without a
 *    trailing slash, GET or POST, plus CORS preflight (OPTIONS).
 *  - posthog-node only checks for a 2xx and discards the body; 413 makes it halve the batch,
 *    5xx/408/429 are retried.
 *  - Success is `{"status":1}` (the legacy capture's answer; the Rust service writes the same
 *    enum as `{"status":"Ok"}` and no SDK reads either). Bad payloads → 400 with a plain-text
 *    reason.
 *  - Session recordings are POSTed to the config's `sessionRecording.endpoint` (`/s/`) as
 *    `$snapshot` batches. They are not events (PostHog stores them apart), and the app exports
 *    events, so we accept them with 200 and drop them.
 *
 * Not supported: posthog-node's opt-in Capture V1 endpoint (`POSTHOG_CAPTURE_MODE=v1`,
 * /i/v1/analytics/events); it gets a non-retryable error that says so.
 */
import http from 'node:http'
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'

import { InvalidEventError, toProcessedEvent } from '../process-event'
import { decideAnswer, flagDefinitions, flagsAnswer } from './flags'
import { allowCors, CaptureHttpError, clientIp, errorMessage, errorReason, readBody, safeDecode, send, sendText } from './http'
import { BATCH_BODY_LIMIT, decodePayload, EVENT_BODY_LIMIT } from './payload'
import { REMOTE_CONFIG_PATH, remoteConfig, remoteConfigScript } from './remote-config'
import { parseCaptureRequest } from './request'
import { posthogJsAssets, serveStatic, STATIC_PATH, type StaticAssets } from './static-assets'
import { uuidv7 } from './uuid'

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

/** Paths (without trailing slash) that take events. */
const EVENT_PATHS = new Set(['/batch', '/e', '/i/v0/e', '/capture', '/track', '/engage'])

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


    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://capture.local')
        const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname
        if (opts.onResponse) {
            const report = opts.onResponse
            res.once('finish', () => report({ method: req.method ?? '?', path: url.pathname, status: res.statusCode, reason: errorReason(res) }))
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
            serveStatic(res, assets, asset[1], asset[2]).catch((error) => sendText(res, 500, `internal error: ${errorMessage(error)}`))
            return
        }
        switch (path) {
            case '/flags/definitions':
            case '/api/feature_flag/local_evaluation':
                return send(res, 200, flagDefinitions())
            case '/decide':
                return send(res, 200, decideAnswer(newUuid()))
            case '/flags':
                return send(res, 200, flagsAnswer(newUuid()))
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
