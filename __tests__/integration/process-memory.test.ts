/**
 * The memory limit measured on the process, not on the exporter's own count: heap + external (array buffers
 * included) after a full GC, against a baseline taken the same way. Partitioned layouts with a healthy S3, where open
 * batches used to grow unchecked (Parquet + hive with late events reached twice the limit).
 */
import { randomBytes } from 'crypto'
import { setFlagsFromString } from 'v8'
import { runInNewContext } from 'vm'
import { fork, type ChildProcess } from 'child_process'
import path from 'path'
import { readAll, readerClient } from '../../dev/s3-read'
import { parseConfig, type Config } from '../../src/config'
import { Exporter } from '../../src/export/exporter'
import { createS3Store, type S3StoreDeps } from '../../src/s3/client'
import { makeEvent } from '../helpers/events'
import { settingsFor } from '../helpers/plugin'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
/** heap + external after full GCs: zlib's and Buffers' native memory is freed by finalizers a turn after the GC */
const processBytes = async () => {
    gc()
    await new Promise((r) => setImmediate(r))
    gc()
    const m = process.memoryUsage()
    return m.heapUsed + m.external
}

const LIMIT_MB = 8
// The local S3 runs in a child process (bench/s3-child.ts, bucket "bench"): in this process its request buffers
// would be measured as ours.
let s3: { endpoint: string; accessKeyId: string; secretAccessKey: string }
let child: ChildProcess
beforeAll(async () => {
    child = fork(path.join(__dirname, '../../bench/s3-child.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    s3 = await new Promise((resolve, reject) => {
        child.once('message', (m: any) => resolve(m))
        child.once('exit', (code) => reject(new Error(`local S3 exited with ${code}`)))
    })
})
afterAll(() => {
    child.kill()
})

describe.each([
    ['gzip JSON lines, 300 event names in turn', 'memory-events-gzip', { keyLayout: 'custom', keyTemplate: 'event={event}/{batch_id}' }, (i: number) => i % 300],
    ['Parquet, hive layout over 40 hours', 'memory-parquet-hive', { keyLayout: 'hive', uploadFormat: 'parquet' }, (i: number) => i % 40],
])('%s', (_name, bucket, overrides, partitionOf) => {
    it(`holds no more memory in the process than it counts, keeps waiting batches within bufferLimitMegabytes (${LIMIT_MB} MB), and stores or counts every event`, async () => {
        const configAt = (prefix: string) =>
            parseConfig(settingsFor(s3, 'bench', { prefix, bufferLimitMegabytes: String(LIMIT_MB), uploadMegabytes: '4', uploadMinutes: '10', ...overrides }))
        const config = configAt(`${bucket}/`)
        const t0 = Date.UTC(2026, 10, 25, 0, 0, 0)
        const newExporter = (config: Config) =>
            new Exporter({
                config,
                store: createS3Store(config, { fetch: fetch as unknown as S3StoreDeps['fetch'] }),
                now: Date.now,
                random: Math.random,
                randomBytes: (n) => randomBytes(n),
                schedule: (ms, fn) => {
                    const timer = setTimeout(fn, ms)
                    return { cancel: () => clearTimeout(timer) }
                },
                log: { info: () => undefined, warn: () => undefined, error: () => undefined },
            })
        /** `count` events as a host hands them over: 100 at a time, 10,000 a second (a fast host thread) */
        const feed = async (exporter: Exporter, count: number, every1000: () => Promise<void>) => {
            for (let i = 0; i < count; i++) {
                const p = partitionOf(i)
                const event = makeEvent(i, { event: `e${p}`, timestamp: new Date(t0 + p * 3_600_000 + (i % 1000)).toISOString() })
                ;(event.properties as Record<string, unknown>).noise = randomBytes(300).toString('base64')
                exporter.add(event)
                if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10))
                if (i % 1_000 === 999) await every1000()
            }
            await exporter.flush()
        }
        // a first run loads and compiles what the format, the SDK and zlib need (~3 MB measured on whichever test
        // ran first): the baseline is taken after it
        await feed(newExporter(configAt(`${bucket}-warm-up/`)), 3_000, async () => undefined)
        const exporter = newExporter(config)
        const baseline = await processBytes()
        let peak = 0
        let peakCounted = 0
        let peakHeld = 0
        const total = 30_000
        await feed(exporter, total, async () => {
            await new Promise((r) => setImmediate(r))
            const now = (await processBytes()) - baseline
            const m = exporter.memory()
            if (process.env.MEMORY_REPORT) console.log((now / 1048576).toFixed(1), JSON.stringify(m), exporter.memoryBytes())
            peak = Math.max(peak, now)
            peakCounted = Math.max(peakCounted, exporter.memoryBytes())
            peakHeld = Math.max(peakHeld, m.open + m.queued)
        })
        const limit = LIMIT_MB * 1024 * 1024
        // heap + external also hold the SDK's and zlib's working buffers and the strings of the events just made
        if (process.env.MEMORY_REPORT) console.log(`${bucket}: peak ${(peak / 1048576).toFixed(1)} MB added, limit ${LIMIT_MB} MB; ${exporter.stats.objects} objects, ${exporter.stats.dropped} dropped`)
        // what the exporter counts is true: the process holds no more than that, + 3 MB for the HTTP client's and
        // zlib's working memory (measured ~1.9 MB, the same with 200 or 2,400 batches queued); batches waiting or
        // open stay within the limit
        expect(peak).toBeLessThanOrEqual(peakCounted + 3 * 1024 * 1024)
        expect(peakHeld).toBeLessThanOrEqual(limit)
        // the README's worst case: twice the limit (what the job queue or zlib has not yet let go of comes on top)
        expect(peak).toBeLessThanOrEqual(2 * limit)
        // with no job queue, what did not fit was dropped: counted, and everything else stored
        expect(exporter.stats.delivered + exporter.stats.dropped).toBe(total)
        if ((overrides as Record<string, string>).uploadFormat !== 'parquet') {
            // one listing per event name: the local S3 lists at most 1,000 keys (s3-read.ts)
            const client = readerClient(s3)
            let stored = 0
            // ten names at a time: ~2,000 objects to read, on a busy machine too
            for (let p = 0; p < 300; p += 10) {
                const names = Array.from({ length: 10 }, (_, k) => readAll(client, 'bench', `${bucket}/event=e${p + k}/`))
                for (const objects of await Promise.all(names)) for (const o of objects) stored += o.events.length
            }
            expect(stored).toBe(exporter.stats.delivered)
        }
    }, 180_000)
})
