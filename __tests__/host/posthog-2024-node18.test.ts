/**
 * posthog-2024/index.js on Node 18.19.1, the Node of the 2024 monorepo images, in the local plugin-server under the
 * 2024 profile (its Babel 7.21.4 and vm2 3.9.18, its import list and lifecycle), against the local S3. The other
 * tests run it on the Node that runs jest. dev/run-once.ts is built for Node 18 and run on it.
 */
import { spawn } from 'child_process'
import { mkdtempSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'

import * as esbuild from 'esbuild'

import { makeEvent } from '../helpers/events'
import { POSTHOG_2024 } from '../helpers/bundles'
import { ensureNode18, NODE18_VERSION } from '../helpers/node18'
import { settingsFor } from '../helpers/plugin'
import { countByUuid, readAll, withS3 } from '../helpers/s3'

jest.setTimeout(180_000)

const ROOT = path.join(__dirname, '../..')
const work = mkdtempSync(path.join(tmpdir(), 's3-export-2024-node18-'))
let s3: Awaited<ReturnType<typeof withS3>>
let node18: string
let runner: string
let eventsFile: string
const sent = Array.from({ length: 3_000 }, (_, i) => makeEvent(i))

beforeAll(async () => {
    node18 = ensureNode18(ROOT)
    runner = path.join(work, 'run-once.js')
    await esbuild.build({ entryPoints: [path.join(ROOT, 'dev/run-once.ts')], bundle: true, platform: 'node', target: 'node18', format: 'cjs', packages: 'external', outfile: runner, logLevel: 'warning' })
    eventsFile = path.join(work, 'events.jsonl')
    writeFileSync(eventsFile, sent.map((e) => JSON.stringify(e)).join('\n'))
    s3 = await withS3(['node18-2024', 'node18-2024-gzip'])
})
afterAll(async () => {
    await s3?.close()
})

/** Asynchronous: the local S3 answers from this process, so it must not be blocked while the child runs. */
function runOnNode18(bucket: string, overrides: Record<string, string>, threads: number): Promise<{ status: number | null; stderr: string; out?: any }> {
    const settings = settingsFor(s3, bucket, { ...POSTHOG_2024.settings, ...overrides })
    const child = spawn(node18, [runner, POSTHOG_2024.pluginDir, JSON.stringify(settings), eventsFile, String(threads)], {
        // the local S3 is on loopback, which the 2024 host's fetch guard refuses: off, as on a host without it
        env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), S3_EXPORT_HOST_PROFILE: '2024', S3_EXPORT_FETCH_GUARD: 'off' },
        stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    return new Promise((resolve, reject) => {
        child.on('error', reject)
        child.on('close', (status) => {
            const line = stdout.trim().split('\n').pop()
            resolve({ status, stderr, out: line ? JSON.parse(line) : undefined })
        })
    })
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
