/**
 * The bench's host generations (bench/hosts.ts): `npm run bench` prints a `host:` line for each, and each line must be
 * that generation's own: its bundle, loaded under its profile, and onEvent run through its host against the real
 * local S3. The bench itself is too long for a test; these run its pieces once, small.
 */
import { statSync } from 'fs'
import path from 'path'

import AWS from 'aws-sdk'

import { runSandbox, type CaseContext } from '../../bench/cases'
import { eventCase } from '../../bench/events'
import { measureHostLoad } from '../../bench/host-load'
import { benchHosts } from '../../bench/hosts'
import { BUCKET, type S3Child } from '../../bench/local-s3'
import { probeApps, type Plugins } from '../../bench/plugins'
import { hostLine } from '../../bench/report'
import { countByUuid, readAll, withS3 } from '../helpers/s3'
import { ROOT } from '../helpers/bundles'

// the committed bundles, as `npm run bench` uses them when they match the sources (the bundle test checks they do)
const PLUGINS: Plugins = {
    app: ROOT,
    app2024: path.join(ROOT, 'posthog-2024'),
    ...probeApps(),
    bundle: 'dist/index.js',
    bundle2024: 'posthog-2024/index.js',
}
const bytesOf = (file: string) => statSync(path.join(ROOT, file)).size

describe('the hosts the bench measures', () => {
    it('pairs dist/index.js with plugin-server 1.10.5 and posthog-2024/index.js with the 2024 plugin server', () => {
        const { hosts, primary } = benchHosts(PLUGINS, '1.10.5')
        expect(hosts.map((h) => [h.profile, h.pluginDir])).toEqual([
            ['1.10.5', ROOT],
            ['2024', path.join(ROOT, 'posthog-2024')],
        ])
        expect(primary.profile).toBe('1.10.5')
    })

    it('keeps 1.10.5 for the classic line when the run’s own profile is 2024, and newest when that is asked', () => {
        const run2024 = benchHosts(PLUGINS, '2024')
        expect(run2024.hosts.map((h) => h.profile)).toEqual(['1.10.5', '2024'])
        expect(run2024.primary.pluginDir).toBe(path.join(ROOT, 'posthog-2024'))
        expect(benchHosts(PLUGINS, 'newest').hosts.map((h) => h.profile)).toEqual(['newest', '2024'])
    })

    it('measures the load of each generation’s own bundle under its own profile', async () => {
        for (const h of benchHosts(PLUGINS, '1.10.5').hosts) {
            const load = await measureHostLoad(h.pluginDir, h.profile, 1)
            expect([h.profile, load.hostProfile, load.bundleBytes]).toEqual([h.profile, h.profile, bytesOf(h.profile === '2024' ? 'posthog-2024/index.js' : 'dist/index.js')])
            expect(load.transformMs.median).toBeGreaterThan(0)
        }
    }, 120_000)

    it('runs the stringify-only floor under the 2024 host too, whose copy of an app without jobs is ready only at its first event', async () => {
        const modern = benchHosts(PLUGINS, '1.10.5').hosts.find((h) => h.profile === '2024')!
        const child = { endpoint: 'http://127.0.0.1:9', cpuMs: async () => 0 } as unknown as S3Child
        const ctx: CaseContext = { s3: child, events: eventCase('fixture'), feed: 32, hostProfile: modern.profile, hostOptions: modern.host, counters: { setupRetries: 0, naivePutRetries: 0 } }
        const events = ctx.events.fresh(200)
        const run = await runSandbox(ctx, PLUGINS.stringify, events, events.length, 'probe/', false)
        expect(run.events).toBe(200)
        expect(run.extra?.feedEventsPerSec).toBeGreaterThan(0)
    }, 60_000)

    it('runs the 2024 bundle through the 2024 host into the local S3 by its fetch, every event stored exactly once', async () => {
        const s3 = await withS3([BUCKET])
        // the host's aws-sdk v2 (the module the sandbox's import gets): the app sends by its HTTP client only when the
        // host's fetch refuses the endpoint; the bench measures the 2024 host's fetch road (its other road is the
        // transport line's), so the loopback S3 must not meet the host's fetch guard here
        const v2Requests = jest.spyOn((AWS as unknown as { HttpClient: { getInstance(): { handleRequest(): unknown } } }).HttpClient.getInstance(), 'handleRequest')
        try {
            const modern = benchHosts(PLUGINS, '1.10.5').hosts.find((h) => h.profile === '2024')!
            // the bench's S3 child, but in this process: the sandbox case asks it for its CPU time, which is no concern here
            const child = { endpoint: s3.endpoint, sinkEndpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, client: s3.client, cpuMs: async () => 0 } as unknown as S3Child
            const ctx: CaseContext = { s3: child, events: eventCase('client'), feed: 32, hostProfile: modern.profile, hostOptions: modern.host, counters: { setupRetries: 0, naivePutRetries: 0 } }
            const events = ctx.events.fresh(1_500) as Array<{ uuid: string }>
            const run = await runSandbox(ctx, modern.pluginDir, events, events.length, 'bench-2024/', true)
            expect(run.extra?.bundleBytes).toBe(bytesOf('posthog-2024/index.js'))
            const counts = countByUuid(await readAll(s3.client, BUCKET, 'bench-2024/'))
            expect(counts.size).toBe(events.length)
            expect([...counts.values()].every((n) => n === 1)).toBe(true)
            expect(events.every((e) => counts.has(e.uuid))).toBe(true)
            expect(v2Requests).not.toHaveBeenCalled()
        } finally {
            v2Requests.mockRestore()
            await s3.close()
        }
    }, 120_000)
})

describe('the host: line', () => {
    it('names its profile and states the bundle’s KB, Babel ms, RSS per thread and onEvent against the floor', () => {
        const line = hostLine({ profile: '2024', bundleBytes: 503 * 1024, babelMs: 2345.6, rssMbPerThread: 123.45, onEventVsFloor: 0.934 })
        expect(line).toBe('host: profile=2024 bundle_kb=503 babel_ms=2346 rss_mb_per_thread=123.5 onevent_vs_floor=0.93')
    })
})
