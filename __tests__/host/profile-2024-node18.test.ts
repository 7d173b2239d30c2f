/**
 * The local plugin-server under the 2024 host profile on Node 18.19.1, the Node of the 2024 monorepo images (the
 * other tests run on the Node that runs jest). dev/run-once.ts is built for Node 18 and run on it, with
 * S3_EXPORT_HOST_PROFILE=2024, on small test plugins.
 */
import { spawnSync } from 'child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import path from 'path'

import * as esbuild from 'esbuild'

import { ensureNode18, NODE18_VERSION } from '../helpers/node18'

jest.setTimeout(180_000)

const ROOT = path.join(__dirname, '../..')
const work = mkdtempSync(path.join(tmpdir(), 's3-export-node18-'))
let node18: string
let runner: string
let eventsFile: string

beforeAll(async () => {
    node18 = ensureNode18(ROOT)
    runner = path.join(work, 'run-once.js')
    await esbuild.build({ entryPoints: [path.join(ROOT, 'dev/run-once.ts')], bundle: true, platform: 'node', target: 'node18', format: 'cjs', packages: 'external', outfile: runner, logLevel: 'warning' })
    eventsFile = path.join(work, 'events.jsonl')
    writeFileSync(eventsFile, [1, 2, 3].map((n) => JSON.stringify({ event: 'e', uuid: `u${n}` })).join('\n'))
})

function runPlugin(code: string): { status: number | null; stderr: string; out?: { node: string; events: number; report: { errors: string[] }; loggedErrors: string[] } } {
    const dir = mkdtempSync(path.join(work, 'plugin-'))
    mkdirSync(dir, { recursive: true })
    writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify({ name: 'probe-node18', main: 'index.js' }))
    writeFileSync(path.join(dir, 'index.js'), code)
    const result = spawnSync(node18, [runner, dir, '{}', eventsFile, '2'], {
        env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), S3_EXPORT_HOST_PROFILE: '2024' },
        encoding: 'utf8',
    })
    if (result.error) throw result.error
    const line = result.stdout.trim().split('\n').pop()
    return { status: result.status, stderr: result.stderr, out: line ? JSON.parse(line) : undefined }
}

describe(`the local plugin-server on Node ${NODE18_VERSION} under the 2024 profile`, () => {
    it('runs an app whose setup waits on Atomics.waitAsync (a timer in its own thread), hands it every event and tears it down', () => {
        const result = runPlugin(`
            export const jobs = { noop() {} }
            export function setupPlugin(meta) {
                meta.global.seen = 0
                const waited = Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
                return waited.value.then((outcome) => { if (outcome !== 'timed-out') throw new Error('no timer: ' + outcome) })
            }
            export function onEvent(event, meta) { meta.global.seen++ }
            export function teardownPlugin(meta) { if (meta.global.seen < 1) throw new Error('this thread saw no event') }
        `)
        expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' })
        expect(result.out).toMatchObject({ node: `v${NODE18_VERSION}`, events: 3, report: { errors: [] }, loggedErrors: [] })
    })

    it('refuses an app that imports zlib with the host’s message', () => {
        const result = runPlugin(`import { gzipSync } from 'zlib'\nexport function onEvent() { gzipSync('x') }`)
        expect(result.status).toBe(1)
        expect(result.stderr).toContain("Cannot import 'zlib'! This package is not provided by PostHog in plugins.")
    })
})
