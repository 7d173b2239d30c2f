/**
 * posthog-2024/index.js on Node 18.19.1, the Node of the 2024 monorepo images, in the local plugin-server under the
 * 2024 profile (its Babel 7.21.4 and vm2 3.9.18, its import list and lifecycle), against the local S3. The other
 * tests run it on the Node that runs jest. dev/run-once.ts is built for Node 18 and run on it.
 */
import { makeEvent } from '../helpers/events'
import { POSTHOG_2024 } from '../helpers/bundles'
import { ensureNode18, NODE18_VERSION } from '../helpers/node18'
import { settingsFor } from '../helpers/plugin'
import { prepareRunOnce, ROOT, runOnce, type RunOnce } from '../helpers/run-once'
import { countByUuid, readAll, withS3 } from '../helpers/s3'

jest.setTimeout(180_000)

let s3: Awaited<ReturnType<typeof withS3>>
let node18: string
let run: RunOnce
const sent = Array.from({ length: 3_000 }, (_, i) => makeEvent(i))

beforeAll(async () => {
    node18 = ensureNode18(ROOT)
    run = await prepareRunOnce('2024-node18', 'node18', sent)
    s3 = await withS3(['node18-2024', 'node18-2024-gzip'])
})
afterAll(async () => {
    await s3?.close()
})

function runOnNode18(bucket: string, overrides: Record<string, string>, threads: number) {
    const settings = settingsFor(s3, bucket, { ...POSTHOG_2024.settings, ...overrides })
    // the local S3 is on loopback, which the 2024 host's fetch guard refuses: off, as on a host without it
    return runOnce<any>(node18, run, { pluginDir: POSTHOG_2024.pluginDir, settings, threads, env: { S3_EXPORT_HOST_PROFILE: '2024', S3_EXPORT_FETCH_GUARD: 'off' } })
}

describe(`posthog-2024/index.js on Node ${NODE18_VERSION} under the 2024 plugin server`, () => {
    it('loads and exports every event exactly once as gzip JSON lines (zlib in WebAssembly) from two worker threads', async () => {
        const result = await runOnNode18('node18-2024', {}, 2)
        // the host's Babel notes (on the host's own stderr, not the app's log) that it prints a file over 500 KB compactly:
        // the embedded WebAssembly makes this bundle 503 KB
        const stderr = result.stderr.split('\n').filter((l) => l && !l.startsWith('[BABEL] Note: The code generator has deoptimised the styling'))
        expect({ status: result.status, stderr }).toEqual({ status: 0, stderr: [] })
        expect(result.out).toMatchObject({ node: `v${NODE18_VERSION}`, events: sent.length, jobsLeft: 0, loggedErrors: [] })
        expect(result.out.report.errors).toEqual([])
        const objects = await readAll(s3.client, 'node18-2024')
        const counts = countByUuid(objects)
        expect(counts.size).toBe(sent.length)
        expect([...counts.values()].every((n) => n === 1)).toBe(true)
        expect(objects.filter((o) => !o.key.endsWith('.jsonl.gz')).map((o) => o.key)).toEqual([])
    })

    it('refuses brotli at setup, naming the setting and that this PostHog has no zlib', async () => {
        const result = await runOnNode18('node18-2024-brotli', { compression: 'brotli' }, 1)
        expect(result.status).toBe(1)
        expect(result.stderr).toContain('(compression) is brotli, but this PostHog\'s plugin server has no zlib')
    })
})
