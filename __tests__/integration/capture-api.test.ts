import { readFileSync } from 'node:fs'
import { runInNewContext } from 'node:vm'
import { gzipSync } from 'node:zlib'

import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { PostHog } from 'posthog-node'

import { CaptureAnswer, CaptureServer, startCaptureServer } from '../../dev/capture/server'
import { SampleEvent, sampleEvents } from '../../dev/sample-events'
import { waitFor } from '../helpers/s3'

const TOKEN = 'phc_dev_capture_test'
/** What posthog-node adds to every event's properties. */
const LIB_PROPERTIES = ['$lib', '$lib_version', '$is_server', '$geoip_disable']
/** What ingestion adds to every event's properties. */
const INGESTION_PROPERTIES = ['$ip', '$sent_at']

let server: CaptureServer
let received: ProcessedPluginEvent[]

async function start(options: Partial<Parameters<typeof startCaptureServer>[0]> = {}): Promise<CaptureServer> {
    received = []
    server = await startCaptureServer({ teamId: 5, onEvents: (events) => void received.push(...events), ...options })
    return server
}

afterEach(async () => {
    await server?.close()
})

function client(options: Partial<ConstructorParameters<typeof PostHog>[1]> = {}): PostHog {
    return new PostHog(TOKEN, { host: server.url, flushAt: 50, flushInterval: 0, fetchRetryCount: 0, ...options })
}

/** Sends samples through posthog-node the way an app would; returns the messages it queued. */
async function sendThroughPostHogNode(samples: SampleEvent[], ph: PostHog): Promise<{ sent: any[]; errors: unknown[] }> {
    const sent: any[] = []
    const errors: unknown[] = []
    ph.on('capture', (message: any) => sent.push(message))
    ph.on('identify', (message: any) => sent.push(message))
    ph.on('error', (error: unknown) => errors.push(error))
    for (const sample of samples) {
        if (sample.event === '$identify') {
            ph.identify({ distinctId: sample.distinctId, properties: sample.properties })
        } else {
            ph.capture({ distinctId: sample.distinctId, event: sample.event, properties: sample.properties, timestamp: sample.timestamp })
        }
    }
    await ph.shutdown()
    return { sent, errors }
}

function without(object: Record<string, any>, keys: string[]): Record<string, any> {
    return Object.fromEntries(Object.entries(object).filter(([key]) => !keys.includes(key)))
}

/** Order-independent identity of an event's content, for comparing multisets. */
function canonical(value: unknown): string {
    const sort = (v: any): any =>
        Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])])) : v
    return JSON.stringify(sort(value))
}

async function post(path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } })
}

describe('capture API for a real posthog-node client', () => {
    it('hands over exactly the 500 events posthog-node sent, with uuid, distinct_id, event and properties intact', async () => {
        await start()
        const samples = sampleEvents(500, 11)
        // Record what goes over the wire, to know the server really got posthog-node's gzip batches.
        const requests: Array<{ url: string; encoding?: string }> = []
        const recordingFetch = (url: string, options: any) => {
            requests.push({ url, encoding: options.headers?.['Content-Encoding'] })
            return fetch(url, options)
        }
        const { sent, errors } = await sendThroughPostHogNode(samples, client({ fetch: recordingFetch as any }))

        expect(errors).toEqual([])
        expect(requests.length).toBeGreaterThan(1) // several batches (posthog-node sends up to 100 per request)
        expect(requests.every((r) => r.url === `${server.url}/batch/` && r.encoding === 'gzip')).toBe(true)
        expect(sent).toHaveLength(500)
        expect(received).toHaveLength(500)
        expect(server.received()).toBe(500)

        // Same uuids on both sides, none lost, none duplicated.
        const sentByUuid = new Map(sent.map((message) => [message.uuid, message]))
        expect(new Set(received.map((e) => e.uuid)).size).toBe(500)
        expect(new Set(received.map((e) => e.uuid))).toEqual(new Set(sentByUuid.keys()))

        for (const event of received) {
            const message = sentByUuid.get(event.uuid)
            expect(event.distinct_id).toBe(message.distinct_id)
            expect(event.event).toBe(message.event)
            expect(event.team_id).toBe(5)
            expect(event.ip).toBe('127.0.0.1')
            expect(event.properties.$ip).toBe('127.0.0.1')
            expect(typeof event.properties.$sent_at).toBe('string')
            // Every property the client sent arrives unchanged (unicode, nesting, nulls included).
            const derived = message.event === '$identify' ? [] : ['$set', '$set_once']
            expect(without(event.properties, [...INGESTION_PROPERTIES, ...derived])).toEqual(message.properties)
            // Client and server share a clock, so skew correction moves timestamps by milliseconds only.
            expect(event.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
            // (posthog-node keeps a caller's Date in the message and serialises it only when sending.)
            expect(Math.abs(Date.parse(event.timestamp) - new Date(message.timestamp).getTime())).toBeLessThan(2000)
        }

        // And what arrived is the sample data itself, including its explicit timestamps.
        const arrived = received.map((e) => {
            const derived = e.event === '$identify' ? [] : ['$set', '$set_once']
            return canonical([e.distinct_id, e.event, without(e.properties, [...LIB_PROPERTIES, ...INGESTION_PROPERTIES, ...derived])])
        })
        const expected = samples.map((s) => canonical([s.distinctId, s.event, s.properties]))
        expect(arrived.sort()).toEqual(expected.sort())
        const timed = samples.filter((s) => s.timestamp).map((s) => s.timestamp!.toISOString())
        expect(timed.length).toBeGreaterThan(100)
        const sentTimes = new Set(sent.map((message) => new Date(message.timestamp).toISOString()))
        for (const iso of timed) expect(sentTimes.has(iso)).toBe(true)
    })

    it('lifts $set and $set_once the way PostHog ingestion does', async () => {
        await start()
        const samples = sampleEvents(60, 4)
        await sendThroughPostHogNode(samples, client())

        const identifies = received.filter((e) => e.event === '$identify')
        const pageviews = received.filter((e) => e.event === '$pageview')
        expect(identifies.length).toBeGreaterThan(0)
        expect(pageviews.length).toBeGreaterThan(0)
        for (const e of identifies) {
            const sample = samples.find((s) => s.event === '$identify' && s.distinctId === e.distinct_id && canonical(s.properties.$set) === canonical(e.$set))
            expect(sample).toBeDefined()
            expect(e.$set_once).toEqual(sample!.properties.$set_once)
        }
        for (const e of pageviews) {
            expect(e.$set).toMatchObject({ $browser: e.properties.$browser, $current_url: e.properties.$current_url })
            expect(e.$set_once).toMatchObject({ $initial_browser: e.properties.$browser, $initial_os: e.properties.$os })
            expect(e.properties.$set).toEqual(e.$set)
        }
    })

    it('accepts uncompressed JSON when compression is turned off in the client', async () => {
        await start()
        const { errors } = await sendThroughPostHogNode(sampleEvents(30, 2), client({ disableCompression: true }))
        expect(errors).toEqual([])
        expect(received).toHaveLength(30)
    })

    it('corrects the client clock skew using sent_at', async () => {
        // Our server clock runs an hour ahead of the client's, so every event moves an hour later.
        await start({ now: () => new Date(Date.now() + 3600_000) })
        const when = new Date('2024-03-15T12:00:00.000Z')
        await sendThroughPostHogNode([{ distinctId: 'skewed', event: 'tick', properties: {}, timestamp: when }], client())
        expect(received).toHaveLength(1)
        const shift = Date.parse(received[0].timestamp) - when.getTime()
        expect(Math.abs(shift - 3600_000)).toBeLessThan(5000)
    })

    it('answers feature flag requests with no flags so a client keeps working', async () => {
        await start()
        const ph = client()
        const errors: unknown[] = []
        ph.on('error', (error: unknown) => errors.push(error))
        const flags = await ph.evaluateFlags('someone')
        expect(flags.isEnabled('anything', { sendFeatureFlagEvents: false })).toBe(false)
        await ph.shutdown()
        expect(errors).toEqual([])
    })
})

describe('capture API wire formats', () => {
    const one = (fields: Record<string, unknown> = {}) => ({
        event: 'wire test',
        distinct_id: 'wire-user',
        properties: { token: TOKEN, text: 'مرحبا 👋 你好' },
        ...fields,
    })

    it('accepts a gzip body announced by Content-Encoding and answers {"status":1}', async () => {
        await start()
        const body = gzipSync(JSON.stringify({ api_key: TOKEN, batch: [one(), one()], sent_at: new Date().toISOString() }))
        const res = await post('/batch/', body, { 'Content-Encoding': 'gzip' })
        expect(res.status).toBe(200)
        expect(await res.json()).toEqual({ status: 1 })
        expect(received).toHaveLength(2)
        expect(received[0].properties.text).toBe('مرحبا 👋 你好')
    })

    it('accepts gzip announced only by ?compression=gzip-js, as posthog-js sends it', async () => {
        await start()
        const body = gzipSync(JSON.stringify([one(), one(), one()]))
        const res = await post(`/i/v0/e/?compression=gzip-js&ver=1.200.0&_=${Date.now()}`, body, { 'Content-Type': 'text/plain' })
        expect(res.status).toBe(200)
        expect(received).toHaveLength(3)
        expect(typeof received[0].properties.$sent_at).toBe('string') // from the `_` parameter
    })

    it('accepts the legacy form encoding with base64 data, and a single event on /capture', async () => {
        await start()
        const data = Buffer.from(JSON.stringify([one({ properties: { token: TOKEN, n: 1 } })])).toString('base64')
        const form = await post('/e/', `data=${encodeURIComponent(data)}&compression=base64`, {
            'Content-Type': 'application/x-www-form-urlencoded',
        })
        expect(form.status).toBe(200)
        const single = await post('/capture', JSON.stringify(one({ api_key: TOKEN, properties: { n: 2 } })))
        expect(single.status).toBe(200)
        const viaGet = await fetch(`${server.url}/e/?data=${encodeURIComponent(Buffer.from(JSON.stringify(one())).toString('base64'))}`)
        expect(viaGet.status).toBe(200)
        expect(received.map((e) => e.properties.n)).toEqual([1, 2, undefined])
    })

    it('rejects a malformed body with 400 and a reason, delivering nothing', async () => {
        await start()
        const broken = await post('/batch/', '{"api_key": "phc_x", "batch": [')
        expect(broken.status).toBe(400)
        expect(await broken.text()).toMatch(/^failed to parse request/)

        const badGzip = await post('/batch/', Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2, 3]), { 'Content-Encoding': 'gzip' })
        expect(badGzip.status).toBe(400)
        expect(await badGzip.text()).toMatch(/invalid gzip/)

        const noDistinctId = await post('/batch/', JSON.stringify({ api_key: TOKEN, batch: [one(), one({ distinct_id: undefined })] }))
        expect(noDistinctId.status).toBe(400)
        expect(await noDistinctId.text()).toMatch(/without a distinct_id/)

        const empty = await post('/i/v0/e/', '')
        expect(empty.status).toBe(400)
        expect(received).toEqual([])
    })

    it('rejects requests without a project token with 401', async () => {
        await start()
        const res = await post('/batch/', JSON.stringify({ batch: [{ event: 'x', distinct_id: 'y' }] }))
        expect(res.status).toBe(401)
        expect(await res.text()).toMatch(/api_key/)
        expect(received).toEqual([])
    })

    it('answers 503 when onEvents fails, so the client retries, and counts only delivered events', async () => {
        let fail = true
        await start({
            onEvents: (events) => {
                if (fail) throw new Error('sink down')
                received.push(...events)
            },
        })
        const body = JSON.stringify({ api_key: TOKEN, batch: [one()] })
        const first = await post('/batch/', body)
        expect(first.status).toBe(503)
        expect(await first.text()).toMatch(/sink down/)
        expect(server.received()).toBe(0)
        fail = false
        expect((await post('/batch/', body)).status).toBe(200)
        expect(server.received()).toBe(1)
    })

    it('serves every documented capture path with and without a trailing slash', async () => {
        await start()
        const paths = ['/batch', '/capture', '/e', '/i/v0/e', '/track', '/engage']
        for (const path of paths) {
            for (const suffix of ['', '/']) {
                const res = await post(`${path}${suffix}?ver=1.0`, JSON.stringify([one()]))
                expect(`${path}${suffix} ${res.status}`).toBe(`${path}${suffix} 200`)
            }
        }
        expect(received).toHaveLength(paths.length * 2)
        expect((await post('/nope', '{}')).status).toBe(404)
    })
})

describe('capture API for posthog-js in a browser', () => {
    it('serves posthog-js its remote config for any token, as JSON and as the script that sets _POSTHOG_REMOTE_CONFIG', async () => {
        await start()
        const json = await fetch(`${server.url}/array/phc_any_token/config`)
        expect(json.status).toBe(200)
        const config = (await json.json()) as Record<string, any>
        // What posthog-js reads to turn itself on: autocapture allowed, gzip accepted, where events and recordings go.
        expect(config).toMatchObject({
            token: 'phc_any_token',
            autocapture_opt_out: false,
            analytics: { endpoint: '/i/v0/e/' },
            sessionRecording: { endpoint: '/s/' },
        })
        expect(config.supportedCompression).toEqual(expect.arrayContaining(['gzip-js']))

        const script = await fetch(`${server.url}/array/phc_any_token/config.js`)
        expect(script.status).toBe(200)
        expect(script.headers.get('content-type')).toMatch(/^application\/javascript/)
        const window: Record<string, any> = {}
        runInNewContext(await script.text(), { window })
        expect(window._POSTHOG_REMOTE_CONFIG).toEqual({ phc_any_token: { config, siteApps: [] } })
        expect(received).toEqual([])
    })

    it('answers /decide with autocapture on, for posthog-js versions that still ask it', async () => {
        await start()
        const res = await post('/decide/?v=3', JSON.stringify({ token: TOKEN, distinct_id: 'someone' }))
        expect(res.status).toBe(200)
        expect(await res.json()).toMatchObject({ autocapture_opt_out: false, config: { enable_collect_everything: true }, featureFlags: {} })
    })

    it('accepts session recordings at /s/ with 200 and hands none of them over as events', async () => {
        await start()
        const snapshot = [{ event: '$snapshot', distinct_id: 'viewer', properties: { token: TOKEN, $snapshot_data: [{ type: 2, data: {} }] } }]
        const res = await post(`/s/?compression=gzip-js&_=${Date.now()}`, gzipSync(JSON.stringify(snapshot)), { 'Content-Type': 'text/plain' })
        expect(res.status).toBe(200)
        expect(server.recordings()).toBe(1)
        expect(received).toEqual([])
        expect(server.received()).toBe(0)
    })

    it('serves the installed posthog-js files posthog-js loads lazily, unversioned and under its own version only', async () => {
        await start()
        const { version } = require('posthog-js/package.json')
        const plain = await fetch(`${server.url}/static/lazy-recorder.js?v=${version}`)
        expect(plain.status).toBe(200)
        expect(plain.headers.get('content-type')).toMatch(/^application\/javascript/)
        const body = await plain.text()
        expect(body).toBe(readFileSync(require.resolve('posthog-js/dist/lazy-recorder.js'), 'utf8'))
        expect(await (await fetch(`${server.url}/static/${version}/lazy-recorder.js`)).text()).toBe(body)

        // Another version's file is not ours to hand out: the 404 sends posthog-js to the unversioned path.
        const other = await fetch(`${server.url}/static/1.0.0/lazy-recorder.js`)
        expect(other.status).toBe(404)
        expect(await other.text()).toMatch(new RegExp(`installed posthog-js is ${version.replace(/\./g, '\\.')}`))
        expect((await fetch(`${server.url}/static/no-such-part.js`)).status).toBe(404)
        expect((await fetch(`${server.url}/static/..%2Fpackage.json`)).status).toBe(404)
    })

    it('tells onResponse of every answer, with the reason of each error', async () => {
        const answers: CaptureAnswer[] = []
        await start({ onResponse: (answer) => answers.push(answer) })
        await fetch(`${server.url}/array/phc_x/config`)
        await post('/nope/', '{}')
        await post('/batch/', '{"api_key": "phc_x", "batch": [')
        await waitFor(() => (answers.length === 3 ? true : undefined), 5000, 10)
        expect(answers.map(({ method, path, status }) => `${method} ${path} ${status}`)).toEqual([
            'GET /array/phc_x/config 200',
            'POST /nope/ 404',
            'POST /batch/ 400',
        ])
        expect(answers[0].reason).toBeUndefined()
        expect(answers[1].reason).toBe('no capture endpoint at /nope/')
        expect(answers[2].reason).toMatch(/^failed to parse request/)
    })
})
