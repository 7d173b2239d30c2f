/**
 * dist/index.js inside the local plugin-server's sandbox (the real host's Babel pass, import allowlist, globals
 * and vm2 realm), several worker threads, against the local S3; where marked, posthog-2024/index.js under the 2024
 * plugin server too (__tests__/helpers/bundles.ts).
 */
import path from 'path'
import { DevHost } from '../../dev/host'
import { randomBytes } from 'crypto'
import { withS3, readAll, countByUuid } from '../helpers/s3'
import { makeEvent } from '../helpers/events'
import { downloadAll, query } from '../helpers/parquet'
import { settingsFor } from '../helpers/plugin'
import { shutdownAndDrain } from '../helpers/lifecycle'
import { BUNDLE_CASES } from '../helpers/bundles'

const ROOT = path.join(__dirname, '../..')
let s3: Awaited<ReturnType<typeof withS3>>
const logs: string[] = []

beforeAll(async () => {
    s3 = await withS3(['sandbox-export', 'sandbox-export-2024', 'sandbox-schedule', 'sandbox-schedule-2024', 'sandbox-parquet', 'sandbox-parquet-2024', 'sandbox-gzip', 'sandbox-gzip-2024', 'sandbox-zstd', 'sandbox-zstd-2024', 'sandbox-large', 'sandbox-surrogate'])
})
afterAll(async () => {
    await s3.close()
})

function settings(bucket: string, overrides: Record<string, string> = {}) {
    return settingsFor(s3, bucket, overrides)
}

describe('the bundle in the plugin-server sandbox', () => {
    it.each(BUNDLE_CASES.map((c, i) => ({ ...c, bucket: ['sandbox-export', 'sandbox-export-2024'][i], events: [10_000, 20_000][i] })))('loads $name and exports $events events from two worker threads exactly once, in objects that never collide', async (bundle) => {
        logs.length = 0
        const opts = {
            pluginDir: bundle.pluginDir,
            config: settings(bundle.bucket, bundle.settings),
            threads: 2,
            log: (level: string, message: string) => void logs.push(`${level}: ${message}`),
            ...bundle.host,
        }
        const host = await DevHost.start(opts)
        const sent = Array.from({ length: bundle.events }, (_, i) => makeEvent(i))
        for (const event of sent) await host.onEvent(event)
        const report = await host.shutdown()
        expect(report.errors).toEqual([])
        expect(report.cappedAt5s).toBe(false)
        // a busy machine may leave the last batches to the job queue at teardown: the restart runs them, on the same
        // PostgreSQL (a batch whose upload may have landed waits there, parked: src/spill.ts)
        if (report.queuedJobs.length > 0) {
            const next = await DevHost.start({ ...opts, storage: host.storage })
            for (const job of report.queuedJobs) next.enqueue(job.name, job.payload, 0)
            expect(await next.waitForJobs(60_000)).toBe(true)
            await next.shutdown()
        }

        const objects = await readAll(s3.client, bundle.bucket)
        const counts = countByUuid(objects)
        expect(counts.size).toBe(bundle.events)
        expect([...counts.values()].every((n) => n === 1)).toBe(true)
        expect(new Set(objects.map((o) => o.key)).size).toBe(objects.length)
        const byUuid = new Map(objects.flatMap((o) => o.events).map((e) => [e.uuid, e]))
        expect(byUuid.get(sent[1234].uuid)).toEqual(sent[1234])
        expect(byUuid.get(sent[bundle.events - 1].uuid)).toEqual(sent[bundle.events - 1])
        expect(logs.filter((l) => l.startsWith('error'))).toEqual([])
    }, 240_000)

    it('stores a batch whose body passes 1 MiB, sent in pieces through the host stream module, byte for byte with its Content-MD5', async () => {
        const host = await DevHost.start({
            pluginDir: ROOT,
            config: settings('sandbox-large', { uploadMegabytes: '20', checksum: 'Content-MD5' }),
            threads: 1,
            log: (level, message) => void logs.push(`${level}: ${message}`),
        })
        // random base64 barely compresses: ~6 MB of events make a gzip body of several MB, one object
        const sent = Array.from({ length: 3_000 }, (_, i) => makeEvent(i, { properties: { noise: randomBytes(1500).toString('base64') } } as any))
        for (const event of sent) await host.onEvent(event)
        const report = await host.shutdown()
        expect(report.errors).toEqual([])
        expect(report.queuedJobs).toHaveLength(0)
        const objects = await readAll(s3.client, 'sandbox-large')
        expect(objects).toHaveLength(1)
        expect(objects[0].size).toBeGreaterThan(2 * 1024 * 1024)
        const counts = countByUuid(objects)
        expect(counts.size).toBe(3_000)
        expect([...counts.values()].every((n) => n === 1)).toBe(true)
        expect(objects[0].events[2999]).toEqual(sent[2999])
    })

    it.each(BUNDLE_CASES.map((c, i) => ({ ...c, bucket: ['sandbox-schedule', 'sandbox-schedule-2024'][i] })))('flushes every thread of $name on its own timer, with no schedule and no new event', async (bundle) => {
        const host = await DevHost.start({ pluginDir: bundle.pluginDir, config: settings(bundle.bucket, { uploadMinutes: '0.05', ...bundle.settings }), threads: 3, log: () => undefined, ...bundle.host })
        for (let i = 0; i < 6; i++) await host.onEvent(makeEvent(i)) // two events per thread
        // each thread arms its own timer (classic: plugin-contrib's createBuffer, a host timer; 2024: Atomics.waitAsync
        // in the thread itself): it fires after 3 s in every thread
        const deadline = Date.now() + 10_000
        let delivered = 0
        while (Date.now() < deadline && delivered < 6) {
            await new Promise((r) => setTimeout(r, 200))
            delivered = host.threads.reduce((n, t) => n + ((t.meta.global as any).exporter.stats.delivered as number), 0)
        }
        expect(delivered).toBe(6)
        expect(host.threads.map((t) => (t.meta.global as any).exporter.stats.delivered)).toEqual([2, 2, 2])
        await host.shutdown()
        expect(countByUuid(await readAll(s3.client, bundle.bucket)).size).toBe(6)
    }, 120_000)

    it.each(
        BUNDLE_CASES.flatMap((c, i) => [
            { ...c, format: 'parquet', compression: 'gzip', files: '*.parquet', bucket: ['sandbox-parquet', 'sandbox-parquet-2024'][i] },
            { ...c, format: 'jsonl', compression: 'gzip', files: '*.jsonl.gz', bucket: ['sandbox-gzip', 'sandbox-gzip-2024'][i] },
            // zstd compiled to WebAssembly in both bundles here (this Node has no zstd of its own)
            { ...c, format: 'jsonl', compression: 'zstd', files: '*.jsonl.zst', bucket: ['sandbox-zstd', 'sandbox-zstd-2024'][i] },
        ])
    )('writes $format ($files) from inside the sandbox of $name that DuckDB reads back whole', async (bundle) => {
        const config = settings(bundle.bucket, { ...bundle.settings, uploadFormat: bundle.format, compression: bundle.compression, uploadMegabytes: '5', uploadMinutes: '10' })
        const opts = { pluginDir: bundle.pluginDir, config, threads: 1, log: () => undefined, ...bundle.host }
        const host = await DevHost.start(opts)
        const sent = Array.from({ length: 2000 }, (_, i) => makeEvent(i))
        for (const event of sent) await host.onEvent(event)
        // teardown encodes and uploads the batch; on a busy machine 4.5 s may not be enough and the batch goes to the
        // job queue, which the next start runs
        expect((await shutdownAndDrain(host, opts)).leftQueued).toBe(0)
        // one object, unless a busy machine made sending take longer than the upload window or cut it into job parts
        const suffix = bundle.files.slice(1)
        const { dir, keys } = await downloadAll(s3.client, bundle.bucket, (k) => k.endsWith(suffix))
        expect(keys.length).toBeGreaterThanOrEqual(1)
        const read = bundle.format === 'parquet' ? `read_parquet('${dir}/${bundle.files}')` : `read_json_auto('${dir}/${bundle.files}', format = 'newline_delimited')`
        const [row] = await query(`SELECT count(*) AS rows, count(DISTINCT uuid) AS n, min(timestamp) AS first FROM ${read}`)
        expect(Number(row.n)).toBe(2000)
        expect(Number(row.rows)).toBe(2000)
        expect(new Date(row.first).toISOString()).toBe(sent[0].timestamp)
    })

    it('stores a Parquet batch holding lone surrogates as Parquet, each written as U+FFFD as TextEncoder does, not as JSON lines', async () => {
        const opts = { pluginDir: ROOT, config: settings('sandbox-surrogate', { uploadFormat: 'parquet', uploadMegabytes: '5', uploadMinutes: '10' }), threads: 1, log: () => undefined }
        const host = await DevHost.start(opts)
        const sent = Array.from({ length: 200 }, (_, i) => makeEvent(i))
        // an emoji cut in half by a client's truncation, and a lone low half: anyone with the project key can send these
        const odd = { ...sent[7], event: 'clicked \uD83D', distinct_id: 'user-\uDC00-x', properties: { ...sent[7].properties, label: 'a\uD800b' } }
        sent[7] = odd
        for (const event of sent) await host.onEvent(event)
        expect((await shutdownAndDrain(host, opts)).leftQueued).toBe(0)
        const { dir, keys } = await downloadAll(s3.client, 'sandbox-surrogate')
        expect(keys.length).toBeGreaterThanOrEqual(1)
        expect(keys.filter((k) => !k.endsWith('.parquet'))).toEqual([]) // no JSON-lines fallback
        const [row] = await query(`SELECT count(*) AS rows, count(DISTINCT uuid) AS n FROM read_parquet('${dir}/*.parquet')`)
        expect(Number(row.rows)).toBe(200)
        expect(Number(row.n)).toBe(200)
        const [stored] = await query(`SELECT event, distinct_id, properties FROM read_parquet('${dir}/*.parquet') WHERE uuid = '${odd.uuid}'`)
        expect(stored.event).toBe('clicked \uFFFD')
        expect(stored.distinct_id).toBe('user-\uFFFD-x')
        expect(JSON.parse(stored.properties).label).toBe('a\uD800b') // JSON text escapes it as \ud800, so it is kept
    })

    it('never shows a secret pasted into the endpoint in the setup error or the log, whatever characters it holds', async () => {
        const secret = 'wJalrXUtnFEMI/K7MDENG/bPx+RfiCY@EXA:MPLE%2FKEY'
        const seen: string[] = []
        const failure = await DevHost.start({
            pluginDir: ROOT,
            config: settings('sandbox-export', { s3BucketEndpoint: `http://AKIAUSER:${secret}@127.0.0.1:9` }),
            threads: 1,
            setupFailure: 'throw',
            log: (level, message) => void seen.push(`${level}: ${message}`),
        }).then(
            () => undefined,
            (error: Error) => error
        )
        expect(failure).toBeInstanceOf(Error)
        expect(failure!.message).toMatch(/\(s3BucketEndpoint\) "http:\/\/\*\*\*@127\.0\.0\.1:9" is not a valid endpoint/)
        const everything = [failure!.message, failure!.stack ?? '', ...seen].join('\n')
        for (const piece of ['wJalrXUtnFEMI', 'K7MDENG', 'bPx', 'RfiCY', 'EXA', 'MPLE', 'AKIAUSER']) expect(everything).not.toContain(piece)
    })

    it('fails to start with the setting named when the bucket refuses the write check', async () => {
        await expect(
            DevHost.start({ pluginDir: ROOT, config: settings('sandbox-export', { awsSecretAccessKey: 'not-the-secret' }), threads: 1, setupFailure: 'throw', log: () => undefined })
        ).rejects.toThrow(/AWS Secret Access Key/)
    })
})
