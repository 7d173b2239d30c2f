/** The local plugin-server's host semantics, shown with tiny plugins: schedules, jobs, the 5 s teardown cap. */
import { mkdtempSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'
import { DevHost, HOST_TEARDOWN_CAP_MS } from '../../dev/host'

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

    it('gives teardownPlugin at most 5 seconds at shutdown, then destroys the threads', async () => {
        const dir = pluginDir(`export function teardownPlugin() { return new Promise(() => {}) }`)
        const host = await DevHost.start({ pluginDir: dir, config: {}, threads: 2, log: () => undefined })
        const report = await host.shutdown()
        expect(report.cappedAt5s).toBe(true)
        expect(report.ms).toBeGreaterThanOrEqual(HOST_TEARDOWN_CAP_MS - 50)
        expect(report.ms).toBeLessThan(HOST_TEARDOWN_CAP_MS + 1_000)
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
