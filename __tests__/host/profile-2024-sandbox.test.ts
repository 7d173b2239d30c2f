/**
 * The 2024 host profile's sandbox (PostHog's monorepo plugin-server, December 2023 – February 2025): what reaches an
 * app, how its awaits are guarded, and its fetch. Each test loads a tiny plugin through dev/sandbox and checks one
 * rule of that host, beside what the classic host (1.10.5) does with the same plugin where they differ.
 */
import * as fs from 'fs'
import * as http from 'http'
import type { AddressInfo } from 'net'
import * as os from 'os'
import * as path from 'path'

import { RetryError } from '@posthog/plugin-scaffold'

import { LoadedPlugin, loadPluginInSandbox, LoadPluginOptions, transformPluginCode } from '../../dev/sandbox'
import { FETCH_GUARD_ENV, guardedLookup } from '../../dev/sandbox/fetch-guard'

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-2024-'))
const loaded: LoadedPlugin[] = []
let dirCount = 0

async function load(code: string, opts: Partial<LoadPluginOptions> = {}): Promise<LoadedPlugin> {
    const dir = path.join(tmpRoot, `plugin-${++dirCount}`)
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ name: 'probe-2024' }))
    fs.writeFileSync(path.join(dir, 'index.js'), code)
    const plugin = await loadPluginInSandbox({ pluginDir: dir, config: {}, log: () => undefined, hostProfile: '2024', ...opts })
    loaded.push(plugin)
    return plugin
}

afterAll(() => {
    loaded.forEach((plugin) => plugin.dispose())
    fs.rmSync(tmpRoot, { recursive: true, force: true })
})

const hostMessage = (name: string): string => `Cannot import '${name}'! This package is not provided by PostHog in plugins.`

describe('the 2024 host’s imports', () => {
    it('refuses zlib and @posthog/plugin-contrib with the host’s message, which 1.10.5 still provided', async () => {
        for (const name of ['zlib', '@posthog/plugin-contrib']) {
            const code = `import * as m from '${name}'\nexport function onEvent() { return typeof m }`
            await expect(load(code)).rejects.toThrow(hostMessage(name))
            await expect(load(code, { hostProfile: '1.10.5' })).resolves.toBeDefined()
        }
    })

    it('hands the sandbox only the modules the app imports', async () => {
        const code = `
            import { URL as UrlClass } from 'url'
            const crypto = require('crypto')
            export function probe() { return { names: Object.keys(__pluginHostImports).sort(), url: typeof UrlClass, hash: typeof crypto.createHash } }
        `
        const plugin = await load(code)
        expect(plugin.usedImports.sort()).toEqual(['crypto', 'url'])
        await expect(plugin.exported.probe()).resolves.toEqual({ names: ['crypto', 'url'], url: 'function', hash: 'function' })
        const classic = await load(code, { hostProfile: '1.10.5' })
        expect(((await classic.exported.probe()) as { names: string[] }).names).toContain('zlib')
    })
})

describe('the 2024 host’s guards', () => {
    it('evaluates an awaited call once, where 1.10.5 evaluated its callee a second time', async () => {
        const code = `
            export async function probe() {
                let calls = 0
                const start = () => { calls++; return Promise.resolve(1) }
                await start().then((n) => n + 1)
                return calls
            }
        `
        await expect((await load(code)).exported.probe()).resolves.toBe(1)
        await expect((await load(code, { hostProfile: '1.10.5' })).exported.probe()).resolves.toBe(2)
    })

    it('names each guarded step by its line instead of passing its callee again', () => {
        const source = `async function probe(f) {\n    await f().g()\n    return f().then((x) => x)\n}`
        const { code } = transformPluginCode(source, { hostProfile: '2024' })
        expect(code).toContain('await __asyncGuard(f().g(), "await on line 2:4")')
        expect(code).toContain('__asyncGuard(f(), "Promise.then on line 3:11").then')
        expect(transformPluginCode(source, { hostProfile: '1.10.5' }).code).toContain('await __asyncGuard(f().g(), f().g)')
    })

    it('cuts a call at the task timeout with a RetryError naming the plugin, the step and the config', async () => {
        const plugin = await load(`export async function setupPlugin() { await new Promise(() => undefined) }`, { taskTimeoutMs: 300 })
        const error = await plugin.methods.setupPlugin!().catch((e: unknown) => e)
        expect(error).toBeInstanceOf(RetryError)
        expect(error).toMatchObject({
            name: 'TimeoutError',
            message: 'Script execution timed out after promise waited for 0.3 seconds (probe-2024, name: setupPlugin, pluginConfigId: 1)',
        })
    })

    it('still stops a `while` loop at the task timeout, as before', async () => {
        const plugin = await load(`export function probe() { let n = 0; while (true) { n++ } }`, { loopTimeoutMs: 200 })
        await expect(plugin.exported.probe()).rejects.toThrow('Script execution timed out after looping for 0.2 seconds on line 1:37')
    })
})

describe('the 2024 host’s globals and meta', () => {
    it('has no google global, lets a top-level `var root` stick (vm2 3.9.18), and binds no exportEvents', async () => {
        const plugin = await load(`
            var root = 5
            export function exportEvents() {}
            export function probe() { return { google: typeof google, root, isVM: typeof isVM } }
        `)
        await expect(plugin.exported.probe()).resolves.toEqual({ google: 'undefined', root: 5, isVM: 'undefined' })
        expect(plugin.methods.exportEvents).toBeUndefined()
    })

    it('gives no meta.metrics and ignores an exported metrics declaration', async () => {
        const plugin = await load(`
            export const metrics = { handled: 'sum' }
            export function probe(meta) { return { metrics: typeof meta.metrics, jobs: typeof meta.jobs, storage: typeof meta.storage } }
        `)
        await expect(plugin.exported.probe()).resolves.toEqual({ metrics: 'undefined', jobs: 'object', storage: 'object' })
        expect(plugin.metrics).toEqual({})
    })

    it('has no meta.jobs in the builds after 2025-02-28, and collects neither jobs nor schedules', async () => {
        const plugin = await load(
            `
            export const jobs = { later() {} }
            export function runEveryMinute() {}
            export function probe(meta) { try { meta.jobs.later({}).runIn(1, 'second'); return 'enqueued' } catch (error) { return error.message } }
        `,
            { noJobs: true }
        )
        await expect(plugin.exported.probe()).resolves.toMatch(/Cannot read propert(y|ies) of undefined \(reading 'later'\)/)
        expect(plugin.jobs).toEqual({})
        expect(plugin.methods.runEveryMinute).toBeUndefined()
    })
})

describe('the 2024 host’s fetch', () => {
    let server: http.Server
    let url: string
    beforeAll(async () => {
        server = http.createServer((_req, res) => res.end('reached'))
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    })
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

    const FETCH_PROBE = (target: string) => `
        import nodeFetch from 'node-fetch'
        async function attempt(f, target) {
            try { const res = await f(target); return 'reached: ' + (await res.text()) } catch (error) { return error.name + ': ' + error.message }
        }
        export async function probe() {
            return {
                sameFunction: nodeFetch === fetch,
                headers: typeof fetch.Headers,
                global: await attempt(fetch, ${JSON.stringify(target)}),
                imported: await attempt(nodeFetch, ${JSON.stringify(target)}),
            }
        }
    `

    it('refuses loopback through the global fetch and the node-fetch import alike, which are one function without Headers', async () => {
        const plugin = await load(FETCH_PROBE(url))
        await expect(plugin.exported.probe()).resolves.toEqual({
            sameFunction: true,
            headers: 'undefined',
            global: 'FetchError: Internal hostname',
            imported: 'FetchError: Internal hostname',
        })
    })

    it('refuses a private address and a name that resolves to loopback', async () => {
        for (const target of ['http://10.20.30.40:9000/bucket', `http://localhost:${new URL(url).port}/`]) {
            const plugin = await load(FETCH_PROBE(target))
            expect(((await plugin.exported.probe()) as { global: string }).global).toBe('FetchError: Internal hostname')
        }
    })

    it('checks the addresses again when it connects, answering Node 20’s look-up for all addresses as well as Node 18’s for one', async () => {
        const lookup = (hostname: string, options: { all?: boolean }) =>
            new Promise<unknown[]>((resolve) => (guardedLookup as unknown as (...args: unknown[]) => void)(hostname, options, (...args: unknown[]) => resolve(args)))
        await expect(lookup('93.184.216.34', {})).resolves.toEqual([null, '93.184.216.34', 4])
        await expect(lookup('93.184.216.34', { all: true })).resolves.toEqual([null, [{ address: '93.184.216.34', family: 4 }]])
        const [refused] = (await lookup('127.0.0.1', { all: true })) as [Error]
        expect(refused.message).toBe('Internal hostname')
    })

    it('reaches loopback with the guard switched off, by option or by environment, and always under 1.10.5', async () => {
        const reached = { global: 'reached: reached', imported: 'reached: reached' }
        await expect((await load(FETCH_PROBE(url), { fetchGuard: false })).exported.probe()).resolves.toMatchObject(reached)
        await expect((await load(FETCH_PROBE(url), { hostProfile: '1.10.5' })).exported.probe()).resolves.toMatchObject(reached)
        process.env[FETCH_GUARD_ENV] = 'off'
        try {
            await expect((await load(FETCH_PROBE(url))).exported.probe()).resolves.toMatchObject(reached)
        } finally {
            delete process.env[FETCH_GUARD_ENV]
        }
    })
})
