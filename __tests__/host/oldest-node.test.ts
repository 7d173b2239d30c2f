/**
 * dist/index.js on Node 14, the Node of the oldest plugin-server our users run (the standalone plugin-server 1.x),
 * in the local plugin-server with plugin-server 1.10.5's Babel and vm2, against the local S3. The other tests run on
 * the Node that runs jest: a built-in or a syntax that only newer Node has (a bundled library's `.at()` once made
 * every Parquet batch fall back to JSON lines there) fails only here.
 */
import { randomBytes } from 'crypto'

import { faults, PASS, startFaultProxy, type FaultProxy } from '../../dev/fault-proxy'
import { makeEvent } from '../helpers/events'
import { ensureNode14, NODE14_VERSION } from '../helpers/node14'
import { downloadAll, query } from '../helpers/parquet'
import { prepareRunOnce, ROOT, runOnce, type RunOnce } from '../helpers/run-once'
import { settingsFor } from '../helpers/plugin'
import { countByUuid, readAll, withS3 } from '../helpers/s3'

jest.setTimeout(180_000)

let s3: Awaited<ReturnType<typeof withS3>>
let node14: string
let run: RunOnce
const sent = Array.from({ length: 3_000 }, (_, i) => makeEvent(i))

beforeAll(async () => {
    node14 = ensureNode14(ROOT)
    run = await prepareRunOnce('node14', 'node14', sent)
    s3 = await withS3(['node14-jsonl', 'node14-parquet', 'node14-brotli', 'node14-zstd', 'node14-many', 'node14-crc32', 'node14-hung'])
})
afterAll(async () => {
    await s3?.close()
})

interface Report {
    ms: number
    errors: string[]
    cappedAt5s: boolean
    queuedJobs: number
}

interface RunResult {
    status: number | null
    stderr: string
    out?: { node: string; events: number; report: Report; jobsLeft: number; loggedErrors: string[] }
}

/** `onShutDown`: called when the child's host has shut down, before its next start runs the queued jobs. */
function runOnNode14(bucket: string, overrides: Record<string, string>, threads = 1, target: { endpoint: string } = s3, onShutDown?: () => void): Promise<RunResult> {
    const settings = settingsFor({ ...s3, endpoint: target.endpoint }, bucket, overrides)
    const onStdout = (stdout: string) => {
        if (onShutDown && stdout.includes('"shutDown"')) {
            onShutDown()
            onShutDown = undefined
        }
    }
    return runOnce<RunResult['out']>(node14, run, { pluginDir: ROOT, settings, threads, onStdout })
}

function expectCleanRun(result: RunResult): void {
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' })
    expect(result.out!.node).toBe(`v${NODE14_VERSION}`)
    expect(result.out!.events).toBe(sent.length)
    expect(result.out!.report.errors).toEqual([])
    expect(result.out!.jobsLeft).toBe(0)
    expect(result.out!.loggedErrors).toEqual([])
}

/** Every event sent is stored exactly once, in objects of the given kind. */
async function expectEachEventOnce(bucket: string, extension: string): Promise<void> {
    const objects = await readAll(s3.client, bucket)
    const counts = countByUuid(objects)
    expect(counts.size).toBe(sent.length)
    expect([...counts.values()].every((n) => n === 1)).toBe(true)
    expect(objects.filter((o) => !o.key.endsWith(extension)).map((o) => o.key)).toEqual([])
}

describe(`the bundle on Node ${NODE14_VERSION}`, () => {
    it('exports every event exactly once as gzip JSON lines from two worker threads', async () => {
        expectCleanRun(await runOnNode14('node14-jsonl', {}, 2))
        await expectEachEventOnce('node14-jsonl', '.jsonl.gz')
    })

    it('writes Parquet, not the JSON lines fallback, that DuckDB reads back whole', async () => {
        expectCleanRun(await runOnNode14('node14-parquet', { uploadFormat: 'parquet', uploadMegabytes: '5', uploadMinutes: '10' }))
        const { dir, keys } = await downloadAll(s3.client, 'node14-parquet')
        expect(keys.length).toBeGreaterThan(0)
        expect(keys.filter((k) => !k.endsWith('.parquet'))).toEqual([])
        const [row] = await query(`SELECT count(*) AS rows, count(DISTINCT uuid) AS n FROM read_parquet('${dir}/*.parquet')`)
        expect({ rows: Number(row.rows), n: Number(row.n) }).toEqual({ rows: sent.length, n: sent.length })
    })

    it('exports every event exactly once with zstd compiled to WebAssembly (Node 14 has no zstd), which DuckDB reads back', async () => {
        expectCleanRun(await runOnNode14('node14-zstd', { compression: 'zstd', compressionLevel: '4' }))
        const { dir, keys } = await downloadAll(s3.client, 'node14-zstd')
        expect(keys.length).toBeGreaterThan(0)
        expect(keys.filter((k) => !k.endsWith('.jsonl.zst'))).toEqual([])
        const [row] = await query(`SELECT count(*) AS rows, count(DISTINCT uuid) AS n FROM read_json_auto('${dir}/*.jsonl.zst', format = 'newline_delimited')`)
        expect({ rows: Number(row.rows), n: Number(row.n) }).toEqual({ rows: sent.length, n: sent.length })
    })

    it('stores every event once with zstd when more partitions are open than Node 14 has WebAssembly instances for', async () => {
        // a Node 14 process holds ~100 WebAssembly memories (wasm-oldest-node.test.ts): 130 event names, each past the
        // 256 KiB chunk that starts a stream, want 130 zstd streams at once; those that cannot start keep their lines
        // and are stored uncompressed (.jsonl) instead
        const names = Array.from({ length: 130 }, (_, i) => `event-${i}`)
        const many = Array.from({ length: 130 * 36 }, (_, i) => makeEvent(10_000 + i, { event: names[i % 130], properties: { noise: randomBytes(6_000).toString('base64') } } as any))
        const manyRun = await prepareRunOnce('node14-many', 'node14', many)
        const settings = settingsFor(s3, 'node14-many', { compression: 'zstd', compressionLevel: '1', keyLayout: 'custom', keyTemplate: 'event={event}/{upload_time}-{batch_id}', uploadMinutes: '60', bufferLimitMegabytes: '1024' })
        const result = await runOnce<RunResult['out']>(node14, manyRun, { pluginDir: ROOT, settings, threads: 1 })
        expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' })
        expect(result.out!.events).toBe(many.length)
        // teardown seals 130 batches at once: a stream that could not start is not tried again there (each failed
        // try may cost a full GC), so the host's 5 s hold
        expect(result.out!.report).toMatchObject({ cappedAt5s: false, errors: [] })
        // read back by DuckDB (this Node has no zstd): each uuid once over both kinds of object
        const { dir, keys } = await downloadAll(s3.client, 'node14-many')
        const plain = keys.filter((k) => k.endsWith('.jsonl')).length
        const zst = keys.filter((k) => k.endsWith('.jsonl.zst')).length
        expect({ plain: plain > 0, zst: zst > 0, other: keys.length - plain - zst }).toEqual({ plain: true, zst: true, other: 0 })
        const rows = await query(
            `SELECT uuid, count(*) AS n FROM read_json_auto(['${dir}/**/*.jsonl', '${dir}/**/*.jsonl.zst'], format = 'newline_delimited', union_by_name = true) GROUP BY uuid`
        )
        expect(rows.length).toBe(many.length)
        expect(rows.filter((r) => Number(r.n) !== 1)).toEqual([])
        expect(result.out!.loggedErrors.concat(result.out!.report.errors).join('\n')).toMatch(/no WebAssembly instance could be made.*stored as JSON lines in .*\.jsonl instead/)
    })

    it('exports every event exactly once with brotli and a Content-MD5 on each upload', async () => {
        expectCleanRun(await runOnNode14('node14-brotli', { compression: 'brotli', checksum: 'Content-MD5' }))
        await expectEachEventOnce('node14-brotli', '.jsonl.br')
    })

    it('loses nothing when S3 never answers until the host has shut down: teardown keeps the 5 s cap, the next start stores every event once', async () => {
        let proxy: FaultProxy | undefined
        try {
            proxy = await startFaultProxy({ upstream: s3.endpoint, schedule: () => faults.hang() })
            const hung = proxy
            // every request hangs (the setup write check, every upload) until the host has shut down; then S3 answers
            const result = await runOnNode14('node14-hung', {}, 1, hung, () => {
                hung.setSchedule(() => PASS)
                hung.dropHanging()
            })
            expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' })
            expect(result.out!.node).toBe(`v${NODE14_VERSION}`)
            expect(result.out!.report.cappedAt5s).toBe(false)
            // nothing could be stored before the shutdown, so teardown handed every event to the job queue
            expect(result.out!.report.queuedJobs).toBeGreaterThan(0)
            expect(result.out!.report.errors).toEqual([])
            expect(result.out!.jobsLeft).toBe(0)
            expect(hung.stats.injected.hang).toBeGreaterThan(0)
            await expectEachEventOnce('node14-hung', '.jsonl.gz')
        } finally {
            await proxy?.close()
        }
    })

    it('refuses a CRC32 checksum at setup, naming the setting and the Node that has one', async () => {
        const result = await runOnNode14('node14-crc32', { checksum: 'CRC32' })
        expect(result.status).toBe(1)
        expect(result.stderr).toContain('(checksum) is CRC32')
        expect(result.stderr).toContain('Node 20.15+')
    })
})
