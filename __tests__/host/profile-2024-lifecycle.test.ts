/**
 * The 2024 host profile's lifecycle in the local plugin-server (PostHog's monorepo, December 2023 – February 2025):
 * setup retried only after a RetryError, any other setup error disabling the app at once, setup at load only for
 * apps with jobs or schedules, `runEvery*` in one thread, no exportEvents, the Kafka job queue's limit, and the
 * builds after 2025-02-28 without jobs. Each test starts the host on a tiny plugin.
 */
import { mkdtempSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'

import { DevHost, KAFKA_JOB_MESSAGE_LIMIT_BYTES, type DevHostOptions } from '../../dev/host'

function pluginDir(code: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'dev-host-2024-'))
    writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ name: 'probe', main: 'index.js', config: [] }))
    writeFileSync(path.join(dir, 'index.js'), code)
    return dir
}

const hosts: DevHost[] = []
async function start(code: string, opts: Partial<DevHostOptions> = {}): Promise<DevHost> {
    const host = await DevHost.start({ pluginDir: pluginDir(code), config: {}, threads: 1, log: () => undefined, hostProfile: '2024', setupRetryBaseMs: 20, ...opts })
    hosts.push(host)
    return host
}
afterEach(async () => {
    await Promise.all(hosts.splice(0).map((host) => host.shutdown()))
})

async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
}

/** setupPlugin counts its attempts in meta.global (one VM: the count survives retries) and throws while `fails(tries)` */
const SETUP_PROBE = (fails: string, error = 'RetryError') => `
    export const jobs = { noop() {} }
    export function setupPlugin(meta) {
        meta.global.tries = (meta.global.tries || 0) + 1
        if (${fails}) throw new ${error}('S3 is not up yet')
    }
    export function onEvent(event, meta) { meta.global.seen = (meta.global.seen || 0) + 1 }
`

describe('setupPlugin under the 2024 host', () => {
    it('is run again on the same VM after a RetryError until it succeeds, and events reach onEvent meanwhile', async () => {
        const host = await start(SETUP_PROBE('meta.global.tries < 3'))
        await host.onEvent({ event: 'early' })
        const global = () => host.threads[0].meta.global as { tries: number; seen?: number }
        expect(global().seen).toBe(1)
        await until(() => global().tries >= 3)
        expect(global().tries).toBe(3)
        expect({ disabled: host.disabled, failures: host.setupFailures, skipped: host.skippedEvents }).toEqual({ disabled: false, failures: 2, skipped: 0 })
    })

    it('disables the app after the 5th RetryError, and events are skipped from then on', async () => {
        const host = await start(SETUP_PROBE('true'))
        await until(() => host.disabled)
        expect(host.disabled).toBe(true)
        expect(host.disabledReason).toBe('thread 0: setupPlugin failed with RetryError: S3 is not up yet. Disabled the app!')
        expect(host.setupFailures).toBe(5)
        await host.onEvent({ event: 'late' })
        expect(host.skippedEvents).toBe(1)
    })

    it('disables the app at once after any other error, where the 1.10.5 host retries it', async () => {
        const host = await start(SETUP_PROBE('true', 'Error'))
        expect(host.disabled).toBe(true)
        expect(host.disabledReason).toBe('thread 0: setupPlugin failed with Error: S3 is not up yet. Disabled the app!')
        await host.onEvent({ event: 'first' })
        await new Promise((r) => setTimeout(r, 200))
        expect({ failures: host.setupFailures, skipped: host.skippedEvents }).toEqual({ failures: 1, skipped: 1 })

        const classic = await start(SETUP_PROBE('true', 'Error'), { hostProfile: '1.10.5' })
        await until(() => classic.setupFailures > 1)
        expect(classic.setupFailures).toBeGreaterThan(1)
        expect(classic.disabled).toBe(false)
    })

    it('runs at load for an app with jobs, and only at the first event for an app without', async () => {
        const withJobs = await start(`export const jobs = { noop() {} }\nexport function setupPlugin(meta) { meta.global.order = ['setup'] }`)
        expect(withJobs.threads).toHaveLength(1)

        const host = await start(`
            export function setupPlugin(meta) { meta.global.order = ['setup'] }
            export function onEvent(event, meta) { meta.global.order.push('event') }
        `)
        expect(host.threads).toHaveLength(0)
        await host.onEvent({ event: 'first' })
        expect(host.threads.map((t) => (t.meta.global as { order: string[] }).order)).toEqual([['setup', 'event']])
    })

    it('fails the load of an app that imports zlib, with the host’s message, and reports the app disabled', async () => {
        const code = `import { gzipSync } from 'zlib'\nexport function onEvent() { return gzipSync('x') }`
        const message = "Cannot import 'zlib'! This package is not provided by PostHog in plugins."
        const host = await start(code)
        expect(host.disabled).toBe(true)
        expect(host.disabledReason).toContain(message)
        await expect(start(code, { setupFailure: 'throw' })).rejects.toThrow(message)
    })
})

describe('hooks and jobs under the 2024 host', () => {
    it('runs a scheduled task in one thread only per tick', async () => {
        const host = await start(
            `
            export function setupPlugin(meta) { meta.global.ticks = 0 }
            export function runEveryMinute(meta) { meta.global.ticks++ }
        `,
            { threads: 3 }
        )
        await host.runSchedule('runEveryMinute')
        await host.runSchedule('runEveryMinute')
        const ticks = host.threads.map((t) => (t.meta.global as { ticks: number }).ticks)
        expect(ticks.reduce((a, b) => a + b, 0)).toBe(2)
        expect(ticks.filter((n) => n > 0)).toHaveLength(1)
    })

    it('never calls exportEvents and has no "Export historical events" job', async () => {
        const host = await start(`
            export const jobs = { noop() {} }
            export function exportEvents(events, meta) { meta.global.exported = (meta.global.exported || 0) + events.length }
            export function onEvent(event, meta) { meta.global.seen = (meta.global.seen || 0) + 1 }
        `)
        for (let i = 0; i < 3; i++) await host.onEvent({ event: 'e' })
        await host.flushExportEventsBuffers()
        host.runPublicJob('Export historical events')
        await host.waitForJobs(2_000)
        expect(host.threads[0].meta.global).toEqual({ seen: 3 })
        expect(host.upgradeStats.liveEventsToExportEvents).toBe(0)
        expect(host.jobErrors).toBe(1)
    })

    it('refuses a job message that librdkafka finds over its 1,000,000 bytes (below the topic’s 1,000,012) with MessageSizeTooLarge, and queues a smaller one', async () => {
        const host = await start(`
            export const jobs = { carry() {} }
            export async function onEvent(event, meta) {
                try {
                    await meta.jobs.carry({ pad: 'x'.repeat(event.size) }).runIn(1, 'minute')
                    meta.global.outcomes = [...(meta.global.outcomes || []), 'queued']
                } catch (error) {
                    meta.global.outcomes = [...(meta.global.outcomes || []), error.name + ': ' + error.message]
                }
            }
        `)
        // a 999,983-byte message: with its 1-byte key and 36 bytes of overhead over librdkafka's limit, within the topic's
        await host.onEvent({ size: 999_880 })
        await host.onEvent({ size: 900_000 })
        expect((host.threads[0].meta.global as { outcomes: string[] }).outcomes).toEqual(['MessageSizeTooLarge: Broker: Message size too large', 'queued'])
        expect(host.jobMessageBytes[0]).toBeGreaterThan(1_000_000 - 37)
        expect(host.jobMessageBytes[0]).toBeLessThanOrEqual(KAFKA_JOB_MESSAGE_LIMIT_BYTES)
        expect(host.refusedJobs).toBe(1)
        expect(host.jobQueue.size).toBe(1)
    })

    it('has no meta.jobs and runs no schedule in the builds after 2025-02-28, and sets such an app up at its first event', async () => {
        const host = await start(
            `
            export const jobs = { later() {} }
            export function setupPlugin(meta) { meta.global.setUp = true; meta.global.ticks = 0 }
            export function runEveryMinute(meta) { meta.global.ticks++ }
            export function onEvent(event, meta) { meta.global.jobs = typeof meta.jobs }
        `,
            { jobQueue: 'none' }
        )
        expect(host.threads).toHaveLength(0)
        await host.onEvent({ event: 'first' })
        await host.runSchedule('runEveryMinute')
        expect(host.threads[0].meta.global).toEqual({ setUp: true, ticks: 0, jobs: 'undefined' })
    })
})
