/**
 * End to end from a real browser: posthog-js (the npm package's browser bundle) in headless Chromium → the local
 * plugin-server's capture API → dist/index.js in sandboxed worker threads → the local S3 → read back.
 *
 * The browser is the headless Chromium that the npm package @sparticuz/chromium ships (dev/chromium.mjs unpacks it
 * once and checks its hash), so `npm ci && npm test` needs nothing installed by hand. The test never skips: a
 * skipped browser test would hide the one client most events come from.
 */
import { execFileSync } from 'child_process'
import { mkdtempSync, readFileSync, rmSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'
import { chromium, type BrowserContext } from 'playwright-core'
import { startCaptureServer, type CaptureAnswer } from '../dev/capture/server'
import { DevHost } from '../dev/host'
import { settingsFor } from './helpers/plugin'
import { withS3, readAll, countByUuid, waitFor } from './helpers/s3'
import { startStaticServer } from './helpers/static-server'

const ROOT = path.join(__dirname, '..')
/** What Chromium needs to run headless as root, offline and quietly (playwright adds the headless switch). */
const CHROMIUM_FLAGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
]
const CAPTURES = 300
const CLICKS = 4
const TEXT = 'Ünïcödé ✓ 日本語 🚀 مرحبا 👋🏽'

/** The properties of the i-th capture call: unicode, nesting, every JSON type. */
function captureProperties(i: number) {
    return { n: i, text: TEXT, nested: { list: [i, 'x', { deep: [true, null, 1.5] }], empty: {}, none: [] }, odd: i % 2 === 1 }
}

const SET = { email: 'zoë@example.com', name: 'Zoë 🚀', plan: { tier: 'pro', seats: 3 } }

it('stores every event posthog-js sends from headless Chromium exactly once, with autocaptured clicks and the identify $set', async () => {
    // unpacked on first use (~2 s), then found in node_modules/.cache
    const chromiumFromNpm: { executablePath: string; env: Record<string, string> } = JSON.parse(
        execFileSync(process.execPath, [path.join(ROOT, 'dev', 'chromium.mjs')], { encoding: 'utf8' })
    )
    const bundle = readFileSync(require.resolve('posthog-js/dist/array.js'))
    const s3 = await withS3(['browser'])
    const host = await DevHost.start({
        pluginDir: ROOT,
        threads: 2,
        log: () => undefined,
        config: settingsFor(s3, 'browser', { eventsToIgnore: '' }),
    })
    const answers: CaptureAnswer[] = []
    const arrived: Array<{ event: string; properties: Record<string, any> }> = []
    const capture = await startCaptureServer({
        port: 0,
        onResponse: (answer) => answers.push(answer),
        onEvents: async (events) => {
            await Promise.all(events.map((e) => host.onEvent(e)))
            arrived.push(...events)
        },
    })
    const site = await startStaticServer({
        '/': {
            contentType: 'text/html; charset=utf-8',
            body: `<!doctype html><html><head><meta charset="utf-8"><title>S3 Export shop</title><script src="/array.js"></script></head>
<body><main><h1>Shop</h1><button id="buy" class="buy-button" type="button">Buy 🛒</button></main></body></html>`,
        },
        '/array.js': { contentType: 'application/javascript; charset=utf-8', body: bundle },
        // Chromium asks for one; a 404 would show up as a console error among posthog-js's
        '/favicon.ico': { contentType: 'image/x-icon', body: Buffer.alloc(0) },
    })
    const userDataDir = mkdtempSync(path.join(tmpdir(), 's3-export-chromium-'))
    let context: BrowserContext | undefined
    let hostStopped = false
    const pageProblems: string[] = []
    try {
        context = await chromium.launchPersistentContext(userDataDir, {
            executablePath: chromiumFromNpm.executablePath,
            env: { ...process.env, ...chromiumFromNpm.env } as Record<string, string>,
            headless: true,
            args: CHROMIUM_FLAGS,
        })
        const page = context.pages()[0] ?? (await context.newPage())
        // What the page saw from the capture server, including requests the browser itself refused (CORS, resets).
        page.on('response', (response) => {
            if (response.url().startsWith(capture.url) && (response.status() < 200 || response.status() > 299)) {
                pageProblems.push(`${response.status()} ${response.request().method()} ${response.url()}`)
            }
        })
        page.on('requestfailed', (request) => {
            if (request.url().startsWith(capture.url)) pageProblems.push(`failed ${request.method()} ${request.url()}: ${request.failure()?.errorText}`)
        })
        page.on('console', (message) => {
            if (message.type() === 'error') pageProblems.push(`console: ${message.text()}`)
        })
        await page.goto(site.url + '/')

        const distinctId = `browser-user-${Date.now()}`
        await page.evaluate((apiHost) => {
            ;(globalThis as any).posthog.init('phc_test', {
                api_host: apiHost,
                autocapture: true,
                // posthog-js drops events from user agents it takes for bots, and HeadlessChrome is one
                opt_out_useragent_filter: true,
                // its default client rate limit (10/s, burst 100) would drop most of 300 calls made at once
                rate_limiting: { events_per_second: 1000, events_burst_limit: 10000 },
            })
        }, capture.url)
        // posthog-js turns autocapture on only once it has read the remote config: wait for that, not for a time.
        await page.waitForFunction(() => (globalThis as any).posthog.autocapture?.isEnabled === true, undefined, { timeout: 30_000 })

        const sent = Array.from({ length: CAPTURES }, (_, i) => captureProperties(i))
        await page.evaluate((list) => list.forEach((properties) => (globalThis as any).posthog.capture('checkout step', properties)), sent)
        for (let i = 0; i < CLICKS; i++) await page.click('#buy')
        await page.evaluate(({ id, set }) => (globalThis as any).posthog.identify(id, set), { id: distinctId, set: SET })

        // posthog-js sends in batches on its own schedule; wait for the outcome with a generous deadline.
        const clicksOn = (events: typeof arrived) =>
            events.filter((e) => e.event === '$autocapture' && e.properties.$event_type === 'click' && String(e.properties.$elements_chain).includes('attr__id="buy"'))
        await waitFor(
            () => {
                const ns = new Set(arrived.filter((e) => e.event === 'checkout step').map((e) => e.properties.n))
                const done = ns.size === CAPTURES && clicksOn(arrived).length >= CLICKS && arrived.some((e) => e.event === '$identify')
                // the recorder sends its first snapshots on a timer of its own: wait for them too
                return done && capture.recordings() > 0 ? true : undefined
            },
            60_000,
            200
        ).catch((error) => {
            const names = arrived.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e.event]: (acc[e.event] ?? 0) + 1 }), {})
            throw new Error(`${error.message}; arrived ${JSON.stringify(names)}, recordings ${capture.recordings()}; page: ${pageProblems.join(' | ')}`)
        })
        // Leaving the page makes posthog-js send $pageleave (and what it still holds) with sendBeacon.
        const seenByPage = [...pageProblems]
        await page.goto('about:blank')
        await waitFor(() => (arrived.some((e) => e.event === '$pageleave') ? true : undefined), 30_000, 200)
        await context.close()
        context = undefined
        await capture.close() // answers whatever the closing page still sent ($pageleave)
        const report = await host.shutdown()
        hostStopped = true
        expect(report.cappedAt5s).toBe(false)

        const objects = await readAll(s3.client, 'browser')
        const stored = objects.flatMap((o) => o.events)
        // Nothing stored twice, across every kind of event.
        expect([...countByUuid(objects).values()].filter((times) => times !== 1)).toEqual([])

        // Every capture call exactly once, its properties intact.
        const steps = stored.filter((e) => e.event === 'checkout step')
        expect(steps.map((e) => e.properties.n).sort((a, b) => a - b)).toEqual([...Array(CAPTURES).keys()])
        for (const e of steps) {
            const { n, text, nested, odd } = e.properties
            expect({ n, text, nested, odd }).toEqual(captureProperties(n))
            expect(e.properties.$lib).toBe('web')
        }

        // One $autocapture per click on the button. (posthog-js may add a $rageclick for four quick clicks:
        // whether they were quick enough depends on the machine, so it is counted, not asserted.)
        const clicks = clicksOn(stored)
        expect(clicks).toHaveLength(CLICKS)
        expect(clicks.every((e) => e.properties.$current_url === site.url + '/')).toBe(true)

        // $identify carries the person properties it was given.
        const identifies = stored.filter((e) => e.event === '$identify')
        expect(identifies).toHaveLength(1)
        expect(identifies[0].distinct_id).toBe(distinctId)
        expect(identifies[0].$set).toEqual(expect.objectContaining(SET))
        expect(stored.filter((e) => e.event === '$pageview')).toHaveLength(1)
        expect(stored.filter((e) => e.event === '$pageleave')).toHaveLength(1)

        // Recordings were sent to the endpoint the remote config named, and none became an exported event.
        expect(capture.recordings()).toBeGreaterThan(0)
        expect(stored.filter((e) => e.event === '$snapshot')).toEqual([])

        // posthog-js never got anything but a 2xx, seen from both ends.
        expect(answers.filter((a) => a.status < 200 || a.status > 299)).toEqual([])
        expect(seenByPage).toEqual([])
        const byEvent = stored.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e.event]: (acc[e.event] ?? 0) + 1 }), {})
        console.info(
            `browser e2e: ${CAPTURES} captures sent, ${steps.length} stored; stored by event ${JSON.stringify(byEvent)}; ` +
                `${capture.recordings()} recording requests (not exported); ${answers.length} answers, all 2xx: ${answers.map((a) => `${a.method} ${a.path} ${a.status}`).join(', ')}`
        )
    } finally {
        await context?.close().catch(() => undefined)
        await site.close()
        await capture.close().catch(() => undefined)
        if (!hostStopped) await host.shutdown().catch(() => undefined)
        await s3.close()
        rmSync(userDataDir, { recursive: true, force: true })
    }
}, 120_000)
