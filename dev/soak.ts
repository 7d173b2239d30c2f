/**
 * npm run soak -- --seconds N: the bundle (dist/index.js) in the local plugin-server, several sandboxed threads,
 * writing through the fault proxy into the local S3 for N seconds while the proxy injects random faults; then
 * shutdown (teardownPlugin under the 5 s cap), a restart that drains the job queue, and a read-back of every object.
 *
 *   faults   per request, seeded: 500 InternalError, 503 SlowDown (Retry-After 1), 429, TCP reset, close after the
 *            request, 0.2-1.5 s latency, 10 s latency, hang (bounded by the app's request deadline); plus two
 *            outages (every connection refused, each 10% of the run, at most 10 s) and one 403 InvalidAccessKeyId
 *            phase (5% of the run, at most 5 s: credentials revoked, then fixed). Loopback only.
 *   lifecycle the host's real lifecycle: S3 refuses every connection for the first --outage-at-load seconds, so
 *            setupPlugin runs during an outage; every --reload-every seconds a reload (as a config change in PostHog):
 *            new copies load while the old ones, told to tear down and not awaited, keep getting events.
 *   traffic  processed $pageview events (~1.2 KB) at a steady --rate per second straight into host.onEvent,
 *            spread round-robin over the threads; at most one tick of events in flight.
 *   verdict  the last line is `soak: sent=<n> stored=<n> lost=<n> duplicated=<n> max_rss_mb=<n> reloads=<n> outage_at_load_s=<n>`;
 *            exit code 1 when anything was lost or duplicated. An event the host skipped (setup not done) or whose
 *            onEvent threw counts as sent: PostHog handed it to the app, and the user expects it stored.
 *
 * Flags: --seconds N (60)  --threads N (3)  --rate N events/s (2000)  --seed N (1)  --upload-minutes X (0.05)
 *        --buffer-mb N (2: the app's memory limit per thread, small so that spilling to the job queue happens)
 *        --reload-every N seconds (10; 0: no reloads)  --outage-at-load N seconds (5; 0: S3 up at load)
 *        --job-queue kafka|postgres (kafka: job messages over 1,000,012 bytes are refused)
 *
 * max_rss_mb is the whole process: local S3, proxy and the dev host, whose sandboxes alone take ~750 MB at start
 * (printed as the baseline); the app's own buffers are printed per thread and checked against the memory limit.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import path from 'path'
import { setFlagsFromString } from 'v8'
import { runInNewContext } from 'vm'
import { faults, PASS, randomFaults, seededRandom, startFaultProxy, type Fault, type FaultProxy } from './fault-proxy'
import { DevHost, type DevHostOptions, type QueuedJob, type ShutdownReport } from './host'
import { readObject, readerClient } from './s3-read'
import { startS3Server, type RunningS3 } from './s3server'
import { pageviewEvent } from './sample-events'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const ROOT = path.join(__dirname, '..')
const BUCKET = 'soak'
const PREFIX = 'soak/'
const TICK_MS = 50
const WRITE_CHECK = '.s3-export-write-check'

interface Options {
    seconds: number
    threads: number
    rate: number
    seed: number
    uploadMinutes: number
    bufferMb: number
    reloadEvery: number
    outageAtLoad: number
    jobQueue: 'kafka' | 'postgres'
}

function parseArgs(argv: string[]): Options {
    const opts: Options = { seconds: 60, threads: 3, rate: 2000, seed: 1, uploadMinutes: 0.05, bufferMb: 2, reloadEvery: 10, outageAtLoad: 5, jobQueue: 'kafka' }
    const num = (flag: string, value: string | undefined, min: number, max: number) => {
        const n = Number(value)
        if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} needs a number between ${min} and ${max}, not ${value}`)
        return n
    }
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i]
        if (arg === '--seconds') opts.seconds = num(arg, argv[++i], 1, 86_400)
        else if (arg === '--threads') opts.threads = num(arg, argv[++i], 1, 16)
        else if (arg === '--rate') opts.rate = num(arg, argv[++i], 1, 20_000)
        else if (arg === '--seed') opts.seed = num(arg, argv[++i], 0, 2 ** 31)
        else if (arg === '--upload-minutes') opts.uploadMinutes = num(arg, argv[++i], 0.05, 60)
        else if (arg === '--buffer-mb') opts.bufferMb = num(arg, argv[++i], 1, 1024)
        else if (arg === '--reload-every') opts.reloadEvery = num(arg, argv[++i], 0, 86_400)
        else if (arg === '--outage-at-load') opts.outageAtLoad = num(arg, argv[++i], 0, 3_600)
        else if (arg === '--job-queue') {
            const kind = argv[++i]
            if (kind !== 'kafka' && kind !== 'postgres') throw new Error(`--job-queue takes kafka or postgres, not ${kind}`)
            opts.jobQueue = kind
        }
        else if (arg === '--help' || arg === '-h') {
            console.log('npm run soak -- --seconds N [--threads N] [--rate events/s] [--seed N] [--upload-minutes X] [--buffer-mb N] [--reload-every N] [--outage-at-load N] [--job-queue kafka|postgres]')
            process.exit(0)
        } else throw new Error(`unknown flag ${arg} (try --help)`)
    }
    return opts
}

/** A full GC between the run and the restart: in PostHog the restart is a new process, here it shares the heap. */
function collectGarbage(): void {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as (() => void) | undefined
    gc?.()
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The random per-request faults, plus the timed phases (outages, revoked credentials) the main loop switches. */
function faultSchedule(seed: number, revokedUntil: () => number) {
    const random = seededRandom(seed)
    const pick = randomFaults(random, [
        { weight: 70, fault: PASS },
        { weight: 6, fault: () => faults.internalError() },
        { weight: 5, fault: () => faults.slowDown(1) },
        { weight: 2, fault: () => faults.tooManyRequests() },
        { weight: 4, fault: () => faults.reset() },
        { weight: 4, fault: () => faults.close() },
        { weight: 6, fault: () => faults.delay(200 + Math.floor(random() * 1300)) },
        { weight: 2, fault: () => faults.delay(10_000) },
        { weight: 1, fault: () => faults.hang() },
    ])
    return (requestNo: number, now: number): Fault => {
        if (now < revokedUntil()) return { kind: 'error', status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' }
        return pick(requestNo, now)
    }
}

/** Every key under the prefix, page by page with start-after (s3rver's continuation tokens need legacy OpenSSL). */
async function listAll(client: S3Client): Promise<string[]> {
    const keys: string[] = []
    let startAfter: string | undefined
    for (let page = 0; page < 10_000; page++) {
        const out = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX, MaxKeys: 1000, StartAfter: startAfter }))
        const batch = (out.Contents ?? []).map((o) => o.Key!)
        keys.push(...batch)
        if (batch.length === 0 || !out.IsTruncated) break
        startAfter = batch[batch.length - 1]
    }
    return keys.filter((k) => !k.endsWith(WRITE_CHECK))
}

async function main(): Promise<number> {
    const opts = parseArgs(process.argv.slice(2))
    const started = Date.now()
    let maxRss = process.memoryUsage().rss
    const rssTimer = setInterval(() => {
        maxRss = Math.max(maxRss, process.memoryUsage().rss)
    }, 200)
    rssTimer.unref()

    let s3: RunningS3 | undefined
    let proxy: FaultProxy | undefined
    try {
        s3 = await startS3Server({ buckets: [BUCKET] })
        let revokedUntil = 0
        proxy = await startFaultProxy({ upstream: s3.endpoint })
        const logCounts = new Map<string, number>()
        const hostOptions: DevHostOptions = {
            pluginDir: ROOT,
            threads: opts.threads,
            scheduleEveryMs: 5_000,
            jobQueue: opts.jobQueue,
            config: {
                awsAccessKey: s3.accessKeyId,
                awsSecretAccessKey: s3.secretAccessKey,
                s3BucketName: BUCKET,
                awsRegion: 'us-east-1',
                s3BucketEndpoint: proxy.endpoint,
                s3ForcePathStyle: 'true',
                prefix: PREFIX,
                uploadMinutes: String(opts.uploadMinutes),
                // small, so a thread stuck behind a hung or refused upload reaches it and spills to the job queue
                bufferLimitMegabytes: String(opts.bufferMb),
                eventsToIgnore: '',
            },
            log: (level, message) => {
                // count the app's messages by their first words; print only the first of each kind
                const kind = `${level}: ${String(message).replace(/faults?\/|soak\/\S+|\d+/g, '#').slice(0, 80)}`
                const n = (logCounts.get(kind) ?? 0) + 1
                logCounts.set(kind, n)
                if (n === 1) console.log(`  [app ${level}] ${String(message).slice(0, 300)}`)
            },
        }
        // S3 down while the app loads: setupPlugin runs during the outage, as after a deploy during an S3 incident
        if (opts.outageAtLoad > 0) {
            proxy.outage(opts.outageAtLoad * 1000)
            console.log(`  [soak] S3 refuses every connection for the first ${opts.outageAtLoad} s, while the app loads`)
        }
        const host = await DevHost.start(hostOptions)
        const baselineRss = process.memoryUsage().rss
        // the app's own bound: buffered + pending bytes per thread, sampled against its memory limit
        let maxBuffer = 0
        const bufferTimer = setInterval(() => {
            for (const t of host.threads) maxBuffer = Math.max(maxBuffer, (t.meta.global as any)?.exporter?.memoryBytes?.() ?? 0)
        }, 50)
        bufferTimer.unref()
        console.log(`soak: ${opts.threads} threads of dist/index.js, ${opts.rate} events/s for ${opts.seconds} s, faults seeded ${opts.seed}, proxy ${proxy.endpoint} → S3 ${s3.endpoint}`)

        proxy.setSchedule(faultSchedule(opts.seed, () => revokedUntil))
        const runMs = opts.seconds * 1000
        const outageMs = Math.min(10_000, Math.round(runMs * 0.1))
        const revokedMs = Math.min(5_000, Math.round(runMs * 0.05))
        const phases = [
            { at: 0.2 * runMs, start: () => proxy!.outage(outageMs), what: `outage ${outageMs} ms` },
            { at: 0.4 * runMs, start: () => (revokedUntil = Date.now() + revokedMs), what: `credentials refused (403 InvalidAccessKeyId) ${revokedMs} ms` },
            { at: 0.7 * runMs, start: () => proxy!.outage(outageMs), what: `outage ${outageMs} ms` },
        ]

        // steady traffic: every tick sends rate*tick events and waits for them before the next tick
        const sent = new Set<string>()
        let sendErrors = 0
        const t0 = Date.now()
        // reloads run beside the traffic (not awaited by the loop): events keep flowing to the old copies meanwhile
        let reloading: Promise<unknown> | undefined
        let nextReloadAt = opts.reloadEvery > 0 ? opts.reloadEvery * 1000 : Number.POSITIVE_INFINITY
        let eventsAfterTeardown = 0
        const perTick = Math.max(1, Math.round((opts.rate * TICK_MS) / 1000))
        let i = 0
        const maxTicks = Math.ceil(runMs / TICK_MS) + 1
        for (let tick = 0; tick < maxTicks && Date.now() - t0 < runMs; tick++) {
            for (const phase of phases) {
                if (phase.at >= 0 && Date.now() - t0 >= phase.at) {
                    phase.start()
                    console.log(`  [soak] t=${((Date.now() - t0) / 1000).toFixed(1)} s: ${phase.what}`)
                    phase.at = -1
                }
            }
            // No reload around the revoked-credentials phase: a setup that meets a definitive refusal is rejected by
            // design (the user must fix the key), and the host then skips events until a retry succeeds.
            const revokedAt = t0 + 0.4 * runMs
            const nearRevoked = (Date.now() > revokedAt - 8_000 && Date.now() < revokedAt) || Date.now() < revokedUntil + 1_000
            if (!reloading && !nearRevoked && Date.now() - t0 >= nextReloadAt) {
                nextReloadAt += opts.reloadEvery * 1000
                const at = ((Date.now() - t0) / 1000).toFixed(1)
                reloading = host.reload().then(
                    (r) => {
                        eventsAfterTeardown += r.eventsAfterTeardown
                        console.log(`  [soak] t=${at} s: reload ${host.reloads} took ${r.ms} ms; ${r.eventsAfterTeardown} events reached the old copies after their teardown`)
                        reloading = undefined
                    },
                    (error) => {
                        console.log(`  [soak] reload failed: ${String(error)}`)
                        reloading = undefined
                    }
                )
            }
            const work: Array<Promise<unknown>> = []
            for (let k = 0; k < perTick; k++, i++) {
                const event = pageviewEvent(i)
                // handed to the host = expected in S3, whether the app stored, skipped or threw on it
                sent.add(event.uuid)
                work.push(host.onEvent(event).then(undefined, () => void sendErrors++))
            }
            await Promise.all(work)
            const wait = t0 + (tick + 1) * TICK_MS - Date.now()
            if (wait > 0) await sleep(wait)
        }
        const sendMs = Date.now() - t0
        if (reloading) await reloading
        const teardownsDone = await host.retiredTeardowns(10_000)
        console.log(
            `  [soak] lifecycle: ${host.reloads} reloads (${eventsAfterTeardown} events to torn-down copies; their teardowns ${teardownsDone ? 'finished' : 'still running after 10 s'}), ` +
                `${host.skippedEvents} events skipped by the host (setup not done), ${host.setupFailures} failed setups${host.disabled ? ', APP DISABLED' : ''}, ` +
                `${host.refusedJobs} jobs refused by the ${opts.jobQueue} queue (largest job payload ${Math.max(0, ...host.jobPayloadBytes)} bytes)`
        )
        console.log(
            `  [soak] sent ${sent.size} events in ${(sendMs / 1000).toFixed(1)} s (${sendErrors} refused by onEvent); ` +
                `${host.jobsRun} spilled-batch jobs ran during the run (${host.jobErrors} failed), ${host.jobQueue.size} queued`
        )

        const exporterStats = () =>
            host.threads.map((t, k) => {
                const e = (t.meta.global as any)?.exporter
                return e ? `#${k} ${JSON.stringify(e.stats)} pending=${e.pendingEvents()}` : `#${k} no exporter`
            })
        if (process.env.SOAK_VERBOSE) for (const line of exporterStats()) console.log(`  [soak] before shutdown ${line}`)
        // shutdown with the faults still on: teardown must finish under the host's 5 s cap
        const down: ShutdownReport = await host.shutdown()
        const reloads = host.reloads
        if (process.env.SOAK_VERBOSE) for (const line of exporterStats()) console.log(`  [soak] after shutdown ${line}`)
        clearInterval(bufferTimer)
        const limitMb = opts.bufferMb
        console.log(
            `  [soak] memory: process rss ${Math.round(baselineRss / 1048576)} MB after the host started, peak ${Math.round(maxRss / 1048576)} MB; ` +
                `largest exporter buffer ${(maxBuffer / 1048576).toFixed(1)} MB of its ${limitMb} MB limit`
        )
        console.log(
            `  [soak] shutdown in ${down.ms} ms${down.cappedAt5s ? ' (CUT AT THE 5 s CAP)' : ''}, ${down.queuedJobs.length} jobs left queued, errors: ${down.errors.length ? down.errors.join('; ') : 'none'}`
        )

        // restart with S3 healthy: the host drains the job queue
        const runPeakRss = maxRss
        collectGarbage()
        proxy.setSchedule(() => PASS)
        proxy.outage(0)
        revokedUntil = 0
        proxy.dropHanging()
        let jobs: QueuedJob[] = down.queuedJobs
        const jobKeys = new Set<string>()
        const reader = readerClient(s3)
        for (let round = 1; round <= 3 && jobs.length > 0; round++) {
            for (const job of jobs) jobKeys.add((job.payload as { key: string }).key)
            const drained = await DevHost.drainJobs(hostOptions, jobs)
            console.log(`  [soak] restart ${round}: ran ${jobs.length} queued jobs, the host shut down after ${drained.ms} ms of teardown, ${drained.queuedJobs.length} jobs still queued`)
            jobs = drained.queuedJobs
        }
        // DevHost.drainJobs can return while job uploads are still in flight (it stops waiting once no job is queued,
        // and a running job is no longer queued): give those uploads a bounded time to land before counting.
        const waitUntil = Date.now() + 20_000
        let missing = jobKeys.size
        for (let n = 0; n < 400 && Date.now() < waitUntil; n++) {
            const listed = new Set(await listAll(reader))
            missing = [...jobKeys].filter((k) => !listed.has(k)).length
            if (missing === 0) break
            if (n === 0) console.log(`  [soak] ${missing} of ${jobKeys.size} job uploads were still in flight when drainJobs returned; waiting for them`)
            await sleep(50)
        }
        if (missing > 0) console.log(`  [soak] ${missing} job uploads never landed`)

        // read back everything and count each uuid
        const keys = await listAll(reader)
        if (process.env.SOAK_VERBOSE) {
            const listed = new Set(keys)
            for (const job of down.queuedJobs) {
                const p = job.payload as { key: string; events: number; bodyBase64: string }
                console.log(`  [soak] job ${p.key} events=${p.events} body=${p.bodyBase64.length} listed=${listed.has(p.key)}`)
            }
        }
        const counts = new Map<string, number>()
        let stored = 0
        for (const key of keys) {
            const object = await readObject(reader, BUCKET, key)
            for (const e of object.events) {
                counts.set(e.uuid, (counts.get(e.uuid) ?? 0) + 1)
                stored++
            }
        }
        let lost = 0
        let duplicated = 0
        for (const uuid of sent) {
            const n = counts.get(uuid) ?? 0
            if (n === 0) lost++
            else if (n > 1) duplicated += n - 1
        }
        const unexpected = [...counts.keys()].filter((u) => !sent.has(u)).length
        duplicated += unexpected // anything stored that was never sent is as wrong as a duplicate
        for (const [kind, n] of [...logCounts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  [app log] ${n}x ${kind}`)
        console.log(
            `  [soak] ${keys.length} objects; faults injected ${proxy.faultsInjected()} over ${proxy.stats.requests} requests ` +
                `(${Object.entries(proxy.stats.injected).map(([k, v]) => `${k} ${v}`).join(', ')}, refused connections ${proxy.stats.refusedConnections}); ` +
                `${unexpected} unexpected uuids; total ${((Date.now() - started) / 1000).toFixed(1)} s`
        )
        await proxy.close()
        proxy = undefined
        await s3.close()
        s3 = undefined
        clearInterval(rssTimer)
        maxRss = Math.max(maxRss, process.memoryUsage().rss)
        console.log(`  [soak] rss peak ${Math.round(runPeakRss / 1048576)} MB during the run, ${Math.round(maxRss / 1048576)} MB overall (the restart loads the sandboxes again)`)
        console.log(`soak: sent=${sent.size} stored=${stored} lost=${lost} duplicated=${duplicated} max_rss_mb=${Math.round(maxRss / 1048576)} reloads=${reloads} outage_at_load_s=${opts.outageAtLoad}`)
        return lost > 0 || duplicated > 0 || sent.size === 0 ? 1 : 0
    } finally {
        clearInterval(rssTimer)
        await proxy?.close().catch(() => undefined)
        await s3?.close().catch(() => undefined)
    }
}

main().then(
    (code) => process.exit(code),
    (error) => {
        console.error(`soak failed: ${error instanceof Error ? error.stack || error.message : String(error)}`)
        process.exit(2)
    }
)
