/**
 * The local plugin-server's host semantics, shown with tiny plugins: schedules, jobs, the 5 s teardown cap, and the
 * lifecycle of the real host (reload without awaiting teardown, lazy setup with retries, the Kafka job size limit).
 */
import { mkdtempSync, writeFileSync } from 'fs'
import http from 'http'
import type { AddressInfo } from 'net'
import { tmpdir } from 'os'
import path from 'path'
import { DevHost, HOST_TEARDOWN_CAP_MS, KAFKA_JOB_MESSAGE_LIMIT_BYTES } from '../../dev/host'

function pluginDir(code: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'dev-host-plugin-'))
    writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ name: 'probe', main: 'index.js', config: [] }))
    writeFileSync(path.join(dir, 'index.js'), code)
    return dir
}

describe('the local plugin-server', () => {
    it('runs a scheduled task in one thread only per tick', async () => {
        const dir = pluginDir(`
            export function setupPlugin(meta) { meta.global.ticks = 0 }
            export function runEveryMinute(meta) { meta.global.ticks++ }
        `)
        const host = await DevHost.start({ pluginDir: dir, config: {}, threads: 3, log: () => undefined })
        await host.runSchedule('runEveryMinute')
        await host.runSchedule('runEveryMinute')
        const ticks = host.threads.map((t) => (t.meta.global as any).ticks)
        expect(ticks.reduce((a: number, b: number) => a + b, 0)).toBe(2)
        expect(ticks.filter((n: number) => n > 0)).toHaveLength(1)
        await host.shutdown()
    })

    it('runs a job enqueued with runIn later, in some thread, with the payload copied', async () => {
        const dir = pluginDir(`
            export const jobs = { later: (payload, meta) => { meta.global.got = payload.n } }
            export function onEvent(event, meta) { return meta.jobs.later({ n: event.n }).runIn(100, 'milliseconds') }
        `)
        const host = await DevHost.start({ pluginDir: dir, config: {}, threads: 2, log: () => undefined })
        await host.onEvent({ n: 42 })
        expect(host.jobQueue.size).toBe(1)
        const until = Date.now() + 3_000
        while (host.jobsRun === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
        expect(host.jobsRun).toBe(1)
        expect(host.threads.map((t) => (t.meta.global as any).got)).toContain(42)
        await host.shutdown()
    })

    it('sums each declared metric over every thread and reload, and refuses a name the app did not declare, as the host does', async () => {
        const dir = pluginDir(`
            export const metrics = { handled: 'SUM', biggest: 'max' }
            export function onEvent(event, meta) {
                meta.metrics.handled.increment(1)
                meta.metrics.biggest.max(event.n)
                try { meta.metrics.undeclared.increment(1) } catch (e) { meta.global.refused = e.message }
            }
        `)
        const host = await DevHost.start({ pluginDir: dir, config: {}, threads: 2, log: () => undefined })
        for (const n of [3, 9, 4]) await host.onEvent({ n })
        await host.reload()
        await host.onEvent({ n: 5 })
        expect(host.metrics).toEqual({ handled: 4, biggest: 9 })
        expect(host.threads[0].metrics).toEqual({ handled: 'sum', biggest: 'max' })
        expect(host.threads.map((t) => (t.meta.global as any).refused)).toContain('Invalid metric name')
        await host.shutdown()
    })

    it('ingests what the app captures with posthog.capture back into onEvent, as PostHog ingests it into the project', async () => {
        const dir = pluginDir(`
            export function onEvent(event, meta) {
                meta.global.seen = [...(meta.global.seen || []), event.event + ':' + event.distinct_id + ':' + event.properties.$lib]
                if (event.event === 'first') posthog.capture('from_the_app', { note: 'hi' })
            }
        `)
        const host = await DevHost.start({ pluginDir: dir, config: {}, threads: 1, log: () => undefined })
        await host.onEvent({ event: 'first', distinct_id: 'u1', properties: {} })
        const until = Date.now() + 3_000
        const seen = () => ((host.threads[0].meta.global as any).seen ?? []) as string[]
        while (seen().length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
        expect(seen()).toEqual(['first:u1:undefined', 'from_the_app:probe:posthog-plugin-server'])
        expect(host.capturedEvents.map((e) => e.properties.note)).toEqual(['hi'])
        await host.shutdown()
    })

    it('gives teardownPlugin at most 5 seconds at shutdown, then destroys the threads', async () => {
        const dir = pluginDir(`export function teardownPlugin() { return new Promise(() => {}) }`)
        const host = await DevHost.start({ pluginDir: dir, config: {}, threads: 2, log: () => undefined })
        const report = await host.shutdown()
        expect(report.cappedAt5s).toBe(true)
        expect(report.ms).toBeGreaterThanOrEqual(HOST_TEARDOWN_CAP_MS - 50)
        expect(report.ms).toBeLessThan(HOST_TEARDOWN_CAP_MS + 1_000)
    })

    it('catches a teardown that blocks the event loop past the 5 s cap, by the wall clock, and loses what the app did after it', async () => {
        // one synchronous step of 5.5 s: the cap's own timer cannot fire during it, so only the clock can tell
        const dir = pluginDir(`
            export const jobs = { late: () => undefined }
            export function teardownPlugin(meta) {
                const until = Date.now() + ${HOST_TEARDOWN_CAP_MS + 500}
                while (Date.now() < until) {}
                return meta.jobs.late({}).runNow()
            }
        `)
        const host = await DevHost.start({ pluginDir: dir, config: {}, threads: 1, log: () => undefined })
        const report = await host.shutdown()
        expect(report.cappedAt5s).toBe(true)
        expect(report.teardownMs).toBeGreaterThan(HOST_TEARDOWN_CAP_MS)
        expect(report.longestStallMs).toBeGreaterThan(HOST_TEARDOWN_CAP_MS)
        expect(report.errors).toContainEqual(expect.stringMatching(/teardownPlugin took \d+ ms by the wall clock, past the host.s 5000 ms cap/))
        // the job came after the thread would have been destroyed: it must not be in the queue for the next start
        expect(host.jobsAfterCap).toBe(1)
        expect(report.queuedJobs).toEqual([])
    })

    it('gives each thread its own copy of the app', async () => {
        const dir = pluginDir(`
            let loads = 0
            export function setupPlugin(meta) { loads++; meta.global.copy = loads }
        `)
        const host = await DevHost.start({ pluginDir: dir, config: {}, threads: 3, log: () => undefined })
        expect(host.threads.map((t) => (t.meta.global as any).copy)).toEqual([1, 1, 1])
        await host.shutdown()
    })
})

/**
 * A local HTTP server a test plugin's setupPlugin calls with the sandbox's fetch: the test decides when setup
 * finishes (hold) and whether it fails (status), and sees when each setup ran.
 */
async function setupGate(opts: { status?: (n: number) => number } = {}) {
    const arrivals: number[] = []
    const held: http.ServerResponse[] = []
    let holding = false
    const server = http.createServer((req, res) => {
        arrivals.push(Date.now())
        const status = opts.status?.(arrivals.length) ?? 200
        if (holding) return void held.push(res)
        res.writeHead(status).end(String(status))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/setup`
    return {
        url,
        arrivals,
        hold: () => void (holding = true),
        release: () => {
            holding = false
            for (const res of held.splice(0)) res.writeHead(200).end('ok')
        },
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    }
}

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<boolean> {
    const end = Date.now() + timeoutMs
    while (!condition() && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
    return condition()
}

/** setupPlugin asks the gate (fetch) and fails unless it answers 200; onEvent records the event in its copy. */
const GATED_PLUGIN = `
    export function setupPlugin(meta) {
        meta.global.seen = []
        meta.global.tornDown = false
        return fetch(meta.config.gate).then((r) => { if (r.status !== 200) throw new Error('setup refused with ' + r.status) })
    }
    export function onEvent(event, meta) {
        meta.global.seen.push({ n: event.n, afterTeardown: meta.global.tornDown })
    }
    export function teardownPlugin(meta) {
        meta.global.tornDown = true
        // never finishes, when asked: the host must not wait for it on a reload
        if (meta.config.hangTeardown) return new Promise(() => {})
    }
`

const seenBy = (t: { meta: Record<string, unknown> }) => [...((t.meta.global as any).seen as Array<{ n: number; afterTeardown: boolean }>)].map((e) => ({ ...e }))

describe('the local plugin-server, on a reload', () => {
    it('tears the previous copies down without waiting, feeds them until the new copies are set up, then switches', async () => {
        const gate = await setupGate()
        const dir = pluginDir(GATED_PLUGIN)
        const host = await DevHost.start({ pluginDir: dir, config: { gate: gate.url, hangTeardown: true }, threads: 2, log: () => undefined })
        try {
            const previous = host.threads
            for (let n = 0; n < 10; n++) await host.onEvent({ n })
            gate.hold() // the new copies' setupPlugin will wait until released
            const reloading = host.reload({ gate: gate.url, generation: 2 })
            expect(await until(() => gate.arrivals.length === 4)).toBe(true)
            // both previous copies have been told to tear down, yet the new copies are not set up: the old ones get the events
            expect(previous.map((t) => (t.meta.global as any).tornDown)).toEqual([true, true])
            for (let n = 10; n < 20; n++) await host.onEvent({ n })
            gate.release()
            const report = await reloading // resolves although the previous copies' teardown never does
            for (let n = 20; n < 30; n++) await host.onEvent({ n })

            const old = previous.flatMap(seenBy)
            expect(old.map((e) => e.n).sort((a, b) => a - b)).toEqual([...Array(20).keys()])
            expect(old.filter((e) => e.afterTeardown).map((e) => e.n).sort((a, b) => a - b)).toEqual([...Array(10).keys()].map((k) => k + 10))
            expect(report.eventsAfterTeardown).toBe(10)
            const fresh = host.threads
            expect(fresh.some((t) => previous.includes(t))).toBe(false)
            expect(fresh.flatMap(seenBy).map((e) => e.n).sort((a, b) => a - b)).toEqual([...Array(10).keys()].map((k) => k + 20))
            expect(fresh.map((t) => (t.meta.global as any).tornDown)).toEqual([false, false])
            expect(host.skippedEvents).toBe(0)
            expect(await host.retiredTeardowns(50)).toBe(false) // still running: nobody waited for it
        } finally {
            gate.release()
            await host.shutdown()
            await gate.close()
        }
    })

    it('lets an event already handed to the previous copy finish there after the switch', async () => {
        const gate = await setupGate()
        // onEvent waits for the gate too, so an event can be in flight while the reload switches copies
        const dir = pluginDir(`
            export function setupPlugin(meta) { meta.global.done = [] }
            export function onEvent(event, meta) {
                return fetch(meta.config.gate).then(() => { meta.global.done.push(event.n) })
            }
        `)
        const host = await DevHost.start({ pluginDir: dir, config: { gate: gate.url }, threads: 1, log: () => undefined })
        try {
            const previous = host.threads[0]
            gate.hold()
            const inFlight = host.onEvent({ n: 1 })
            expect(await until(() => gate.arrivals.length === 1)).toBe(true)
            await host.reload()
            expect(host.threads[0]).not.toBe(previous)
            gate.release()
            await inFlight
            expect([...(previous.meta.global as any).done]).toEqual([1])
            expect([...(host.threads[0].meta.global as any).done]).toEqual([])
        } finally {
            gate.release()
            await host.shutdown()
            await gate.close()
        }
    })
})

describe('the local plugin-server, when setupPlugin fails', () => {
    it('skips the events of a copy whose setup failed, retries with doubling delays, and delivers once setup succeeds', async () => {
        const gate = await setupGate({ status: (n) => (n <= 3 ? 503 : 200) })
        const dir = pluginDir(GATED_PLUGIN)
        const base = 100
        const host = await DevHost.start({ pluginDir: dir, config: { gate: gate.url }, threads: 1, setupRetryBaseMs: base, log: () => undefined })
        try {
            expect(host.threads).toHaveLength(0) // the first setup failed: no copy is loaded
            for (let n = 0; n < 5; n++) await host.onEvent({ n })
            expect(host.skippedEvents).toBe(5) // not queued for later: gone

            expect(await until(() => host.readyThreads() === 1)).toBe(true)
            expect(host.setupFailures).toBe(3)
            expect(host.setupErrors[0]).toMatch(/setup refused with 503/)
            // the n-th retry waited at least base x 2^(n-1) after the failure before it
            const gaps = gate.arrivals.slice(1).map((t, i) => t - gate.arrivals[i])
            expect(gaps[0]).toBeGreaterThanOrEqual(base)
            expect(gaps[1]).toBeGreaterThanOrEqual(2 * base)
            expect(gaps[2]).toBeGreaterThanOrEqual(4 * base)

            for (let n = 5; n < 10; n++) await host.onEvent({ n })
            expect(seenBy(host.threads[0]).map((e) => e.n)).toEqual([5, 6, 7, 8, 9])
            expect(host.skippedEvents).toBe(5)
            expect(host.disabled).toBe(false)
        } finally {
            await host.shutdown()
            await gate.close()
        }
    })

    it('treats a RetryError like any error, and disables the app after the 10th failed setup', async () => {
        const dir = pluginDir(`
            export function setupPlugin(meta) { meta.global.attempt = true; throw new RetryError('S3 is not answering') }
            export function onEvent(event, meta) { meta.global.got = true }
        `)
        const host = await DevHost.start({ pluginDir: dir, config: {}, threads: 1, setupRetryBaseMs: 2, log: () => undefined })
        try {
            expect(await until(() => host.disabled)).toBe(true)
            expect(host.setupFailures).toBe(10)
            expect(host.setupErrors.every((m) => /S3 is not answering/.test(m))).toBe(true)
            await new Promise((r) => setTimeout(r, 100))
            expect(host.setupFailures).toBe(10) // no 11th attempt
            await host.onEvent({ n: 1 })
            expect(host.skippedEvents).toBe(1)
        } finally {
            await host.shutdown()
        }
    })

    it('can instead fail the start with the setup message, for tools that must stop on a bad setting', async () => {
        const dir = pluginDir(`export function setupPlugin() { throw new Error('Bad setting: s3BucketName is empty') }`)
        await expect(DevHost.start({ pluginDir: dir, config: {}, threads: 1, setupFailure: 'throw', log: () => undefined })).rejects.toThrow(/s3BucketName is empty/)
    })
})

describe('the local plugin-server job queue', () => {
    const JOB_PLUGIN = `
        export const jobs = { carry: (payload, meta) => { meta.global.carried = (meta.global.carried || 0) + payload.text.length } }
        export function onEvent(event, meta) { return meta.jobs.carry({ text: 'x'.repeat(event.size) }).runIn(1, 'milliseconds') }
    `

    it('refuses, as Kafka does, a job whose message is over 1,000,012 bytes, and takes one just under', async () => {
        const host = await DevHost.start({ pluginDir: pluginDir(JOB_PLUGIN), config: {}, threads: 1, log: () => undefined })
        try {
            await expect(host.onEvent({ size: KAFKA_JOB_MESSAGE_LIMIT_BYTES })).rejects.toThrow(/MessageSizeTooLarge/)
            expect(host.refusedJobs).toBe(1)
            expect(host.jobQueue.size).toBe(0)
            await host.onEvent({ size: 900_000 })
            expect(await host.waitForJobs()).toBe(true)
            expect((host.threads[0].meta.global as any).carried).toBe(900_000)
            expect(Math.max(...host.jobMessageBytes)).toBeGreaterThan(KAFKA_JOB_MESSAGE_LIMIT_BYTES)
        } finally {
            await host.shutdown()
        }
    })

    it('takes a job of any size with the 2021 PostgreSQL queue', async () => {
        const host = await DevHost.start({ pluginDir: pluginDir(JOB_PLUGIN), config: {}, threads: 1, jobQueue: 'postgres', log: () => undefined })
        try {
            await host.onEvent({ size: 5_000_000 })
            expect(await host.waitForJobs()).toBe(true)
            expect((host.threads[0].meta.global as any).carried).toBe(5_000_000)
            expect(host.refusedJobs).toBe(0)
        } finally {
            await host.shutdown()
        }
    })
})
