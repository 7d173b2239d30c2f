/**
 * A fault-injecting HTTP proxy in front of the local S3, for the fault suite and the soak run (loopback only).
 *
 * Every request is forwarded unchanged, Host header included, so SigV4 signatures made for the proxy's address still
 * verify upstream. A schedule decides, per request, what happens instead:
 *
 *   pass                  forward as is
 *   error                 answer an S3-style XML error (500 InternalError, 503 SlowDown, 429, 403 ...), optional Retry-After
 *   answer                answer a status with a body of its own (empty, or not XML: what a load balancer or proxy says)
 *   reset                 TCP reset as soon as the request head arrives (the client sees ECONNRESET)
 *   close                 read the whole request, then close the connection without a word (socket hang up)
 *   hang                  read the whole request and never answer, until the client gives up or the proxy closes
 *   delay                 wait `ms`, then forward; with `after: true` forward at once and hold S3's answer back instead
 *                         (the object IS stored, yet the client may time out and retry: the duplicate trap)
 *
 * and an outage (`outage(forMs)` or a schedule returning `refuse`): every connection and request is destroyed on
 * arrival. Schedules are `(requestNo, now) => Fault`; `phases([...])` builds one from a list of phases by request
 * count and/or time. `now` is injectable, so a test on a scaled clock can have "a 2-minute outage" last 120 ms.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type Fault =
    | { kind: 'pass' }
    | { kind: 'error'; status: number; code: string; message?: string; retryAfterSeconds?: number; retryAfter?: string }
    | { kind: 'answer'; status: number; body: string; contentType?: string }
    | { kind: 'reset' }
    | { kind: 'close' }
    | { kind: 'hang' }
    | { kind: 'delay'; ms: number; after?: boolean }
    | { kind: 'refuse' }

export type FaultKind = Fault['kind']

/** `requestNo` counts from 1 over the proxy's life; `now` is the proxy's clock (epoch ms). */
export type Schedule = (requestNo: number, now: number, request?: { method: string; path: string }) => Fault

export const PASS: Fault = { kind: 'pass' }
export const faults = {
    internalError: (): Fault => ({ kind: 'error', status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' }),
    slowDown: (retryAfterSeconds?: number): Fault => ({ kind: 'error', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.', retryAfterSeconds }),
    /** 503 SlowDown with a Retry-After header exactly as given (an HTTP date, a huge number) */
    slowDownUntil: (retryAfter: string): Fault => ({ kind: 'error', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.', retryAfter }),
    tooManyRequests: (retryAfterSeconds?: number): Fault => ({ kind: 'error', status: 429, code: 'TooManyRequests', message: 'Too Many Requests', retryAfterSeconds }),
    accessDenied: (): Fault => ({ kind: 'error', status: 403, code: 'AccessDenied', message: 'Access Denied' }),
    answer: (status: number, body = '', contentType?: string): Fault => ({ kind: 'answer', status, body, contentType }),
    reset: (): Fault => ({ kind: 'reset' }),
    close: (): Fault => ({ kind: 'close' }),
    hang: (): Fault => ({ kind: 'hang' }),
    delay: (ms: number, after = false): Fault => ({ kind: 'delay', ms, after }),
    refuse: (): Fault => ({ kind: 'refuse' }),
}

export interface Phase {
    /** the phase ends after this many requests... */
    requests?: number
    /** ...or this many ms (proxy clock) after its first request, whichever comes first; neither: it never ends */
    ms?: number
    /** default: pass */
    fault?: Fault | Schedule
}

/** A schedule from phases run in order; after the last one, every request passes. */
export function phases(list: Phase[]): Schedule {
    let index = 0
    let count = 0
    let startedAt: number | undefined
    return (requestNo, now) => {
        for (;;) {
            const phase = list[index]
            if (!phase) return PASS
            if (startedAt === undefined) startedAt = now
            const overByCount = phase.requests !== undefined && count >= phase.requests
            const overByTime = phase.ms !== undefined && now - startedAt >= phase.ms
            if (!overByCount && !overByTime) {
                count++
                return typeof phase.fault === 'function' ? phase.fault(requestNo, now) : (phase.fault ?? PASS)
            }
            index++
            count = 0
            startedAt = undefined
        }
    }
}

/** Every `every`-th request gets `fault` (the first `offset` requests are skipped), the rest pass. */
export function everyNth(every: number, fault: Fault | (() => Fault), offset = 0): Schedule {
    return (n) => (n > offset && (n - offset) % every === 0 ? (typeof fault === 'function' ? fault() : fault) : PASS)
}

/** Random faults with the given weights (a `pass` weight included), from a seeded generator: reproducible runs. */
export function randomFaults(random: () => number, mix: Array<{ weight: number; fault: Fault | (() => Fault) }>): Schedule {
    const total = mix.reduce((s, m) => s + m.weight, 0)
    return () => {
        let r = random() * total
        for (const m of mix) {
            r -= m.weight
            if (r < 0) return typeof m.fault === 'function' ? m.fault() : m.fault
        }
        return PASS
    }
}

export { seededRandom } from './random'

export interface ProxyRecord {
    n: number
    /** proxy clock when the request arrived */
    at: number
    method: string
    path: string
    fault: FaultKind
    /** the status S3 (or the proxy) answered with; undefined when no answer was sent */
    status?: number
    /** proxy clock when the exchange ended (answer sent, or connection gone): with `at`, when it was on the wire */
    endedAt?: number
}

export interface FaultProxyStats {
    requests: number
    forwarded: number
    /** faults injected, by kind (`pass` not counted; `delay` counted) */
    injected: Record<string, number>
    /** connections destroyed on arrival during an outage */
    refusedConnections: number
}

export interface FaultProxy {
    endpoint: string
    port: number
    stats: FaultProxyStats
    /** every request, in arrival order (the first 200,000) */
    log: ProxyRecord[]
    /** total faults injected: every kind but pass, plus connections refused during an outage */
    faultsInjected(): number
    setSchedule(schedule: Schedule): void
    /** refuse everything from now for `forMs` (proxy clock), or until `outage(0)`; no argument: until switched off */
    outage(forMs?: number): void
    inOutage(): boolean
    /** end every request that hangs or waits in a delay right now, by destroying its connection */
    dropHanging(): number
    /** destroys hanging and delayed requests and every open connection, then stops listening */
    close(): Promise<void>
}

const LOG_LIMIT = 200_000

export async function startFaultProxy(opts: { upstream: string; schedule?: Schedule; now?: () => number; port?: number }): Promise<FaultProxy> {
    const upstream = new URL(opts.upstream)
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(upstream.hostname)) throw new Error(`the fault proxy only forwards to loopback, not ${upstream.hostname}`)
    const now = opts.now ?? (() => Date.now())
    let schedule: Schedule = opts.schedule ?? (() => PASS)
    let outageUntil = 0
    const sockets = new Set<Socket>()
    /** connections of requests held by hang or delay: what dropHanging() ends */
    const held = new Set<Socket>()
    const timers = new Set<NodeJS.Timeout>()
    const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })
    const stats: FaultProxyStats = { requests: 0, forwarded: 0, injected: {}, refusedConnections: 0 }
    const log: ProxyRecord[] = []
    let closing = false

    const inOutage = () => now() < outageUntil
    const count = (kind: FaultKind) => {
        if (kind !== 'pass') stats.injected[kind] = (stats.injected[kind] ?? 0) + 1
    }
    const later = (ms: number, fn: () => void) => {
        const timer = setTimeout(() => {
            timers.delete(timer)
            fn()
        }, ms)
        timers.add(timer)
    }
    const hold = (socket: Socket) => {
        if (held.has(socket)) return
        held.add(socket)
        socket.once('close', () => held.delete(socket))
    }
    /** read the request body to its end, then run `fn` (an answer sent before the body is read confuses clients) */
    const afterBody = (req: http.IncomingMessage, fn: () => void) => {
        if (req.complete) return fn()
        req.on('end', fn)
        req.on('error', () => undefined)
        req.resume()
    }

    const forward = (req: http.IncomingMessage, res: http.ServerResponse, record: ProxyRecord, holdAnswerMs = 0) => {
        stats.forwarded++
        const up = http.request(
            { host: upstream.hostname.replace(/^\[|\]$/g, ''), port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent: upstreamAgent },
            (upRes) => {
                const answer = () => {
                    if (res.destroyed) return void upRes.resume()
                    record.status = upRes.statusCode
                    res.writeHead(upRes.statusCode ?? 502, upRes.headers)
                    upRes.pipe(res)
                }
                if (holdAnswerMs > 0) later(holdAnswerMs, answer)
                else answer()
            }
        )
        up.on('error', (error) => {
            if (!res.headersSent && !res.destroyed) {
                record.status = 502
                res.writeHead(502, { 'content-type': 'text/plain' })
                res.end(`fault proxy: upstream failed: ${error.message}`)
            } else res.destroy()
        })
        req.pipe(up)
    }

    const server = http.createServer((req, res) => {
        const n = ++stats.requests
        const at = now()
        let fault = inOutage() ? faults.refuse() : schedule(n, at, { method: req.method ?? '', path: req.url ?? '' })
        if (closing) fault = faults.refuse()
        const record: ProxyRecord = { n, at, method: req.method ?? '', path: req.url ?? '', fault: fault.kind }
        if (log.length < LOG_LIMIT) log.push(record)
        res.on('close', () => (record.endedAt = now()))
        count(fault.kind)
        switch (fault.kind) {
            case 'pass':
                return forward(req, res, record)
            case 'delay':
                hold(req.socket)
                if (fault.after) return forward(req, res, record, fault.ms)
                return later(fault.ms, () => (res.destroyed ? undefined : forward(req, res, record)))
            case 'error':
                return afterBody(req, () => {
                    const body =
                        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code><Message>${fault.message ?? fault.code}</Message>` +
                        `<Resource>${escapeXml(req.url ?? '')}</Resource><RequestId>fault-${n}</RequestId></Error>`
                    const headers: Record<string, string | number> = { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': `fault-${n}` }
                    if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = fault.retryAfterSeconds
                    if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter
                    record.status = fault.status
                    res.writeHead(fault.status, headers)
                    res.end(body)
                })
            case 'answer':
                return afterBody(req, () => {
                    const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(fault.body) }
                    if (fault.contentType) headers['content-type'] = fault.contentType
                    record.status = fault.status
                    res.writeHead(fault.status, headers)
                    res.end(fault.body)
                })
            case 'reset':
            case 'refuse':
                return void req.socket.resetAndDestroy()
            case 'close':
                return afterBody(req, () => req.socket.destroy())
            case 'hang':
                // read it all so the client is sure it was sent, then say nothing; close() or the client ends it
                hold(req.socket)
                return afterBody(req, () => undefined)
        }
    })
    server.keepAliveTimeout = 5_000
    server.on('connection', (socket: Socket) => {
        if (inOutage() || closing) {
            stats.refusedConnections++
            return void socket.resetAndDestroy()
        }
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => undefined)
    })
    server.on('clientError', (_error, socket) => socket.destroy())

    await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
    })
    const port = (server.address() as AddressInfo).port

    return {
        endpoint: `http://127.0.0.1:${port}`,
        port,
        stats,
        log,
        faultsInjected: () => Object.values(stats.injected).reduce((a, b) => a + b, 0) + stats.refusedConnections,
        setSchedule(next) {
            schedule = next
        },
        outage(forMs = Number.POSITIVE_INFINITY) {
            outageUntil = forMs > 0 ? now() + forMs : 0
        },
        inOutage,
        dropHanging() {
            const n = held.size
            for (const socket of held) socket.destroy()
            held.clear()
            return n
        },
        async close() {
            closing = true
            for (const timer of timers) clearTimeout(timer)
            timers.clear()
            for (const socket of sockets) socket.destroy()
            sockets.clear()
            upstreamAgent.destroy()
            await new Promise<void>((resolve) => server.close(() => resolve()))
        },
    }
}

function escapeXml(s: string): string {
    return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)
}
