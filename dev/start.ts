/**
 * npm start: the app in a local plugin-server, the way PostHog runs it, against an embedded S3.
 *
 *   1. starts the embedded S3-compatible server (signatures checked), data in .s3-data/
 *   2. loads dist/index.js into N sandboxed worker threads (import allowlist, host globals, 30 s per call) and
 *      runs setupPlugin in each
 *   3. serves PostHog's capture API (/batch/, /capture/, /e/, /i/v0/e/) on 127.0.0.1, and what posthog-js asks
 *      besides (remote config, its lazy files, /s/ recordings: accepted, not exported); prints each refused request
 *   4. sends sample events through posthog-node, waits until they are stored, prints what was written
 *   4b. with --backfill N: the project's event store holds N past sample events (ingested over the day before), and
 *      the app's "Backfill S3 (date range)" job is run as a user would press it: it starts the host's "Export
 *      historical events" job, whose pages the app writes next to the live export; prints its progress and outcome
 *   5. keeps accepting events until Ctrl-C (or exits at once with --once), then teardownPlugin under the 5 s cap,
 *      and prints the app metrics as PostHog would show them (summed over threads and reloads; press m for them
 *      meanwhile) and the health events the app captured (they were ingested back into the app, as PostHog does)
 *
 * Settings: plugin.json defaults, then a JSON file (--config FILE), then S3_EXPORT_<key>=value variables.
 * With an access key set there, it writes to that bucket instead and starts no local S3.
 */
import { existsSync, readFileSync } from 'fs'
import path from 'path'
import { PostHog } from 'posthog-node'
import type { ProcessedPluginEvent } from '@posthog/plugin-scaffold'
import { startCaptureServer, type CaptureAnswer } from './capture/server'
import { randomUUID } from 'crypto'
import { EventStore } from './event-store'
import { DevHost, type ShutdownReport } from './host'
import { KEYS } from './historical-export'
import { DevStorage } from './storage'
import { resolveFetchGuard } from './sandbox/fetch-guard'
import { resolveHostProfile, type HostProfileName } from './sandbox/profile'
import { readerClient, listKeys, readObject } from './s3-read'
import { startS3Server, type RunningS3 } from './s3server'
import { sampleEvents } from './sample-events'

// We pin an SDK release that supports Node 20 in the lockfile; its notice about future releases is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const ROOT = path.join(__dirname, '..')
const DEFAULT_BUCKET = 'posthog-events'

interface Options {
    config?: string
    events: number
    threads: number
    port: number
    data: string
    once: boolean
    /** reload the app every N seconds (0: never), as PostHog does on a config change */
    reloadEvery: number
    /** whose Babel and vm2 load the app, and that host's rules: 1.10.5 (default), newest or 2024 */
    hostProfile: HostProfileName
    /** 2024 profile: the host's fetch guard (default on, or S3_EXPORT_FETCH_GUARD); --no-fetch-guard turns it off */
    fetchGuard?: boolean
    /** a build after 2025-02-28: no job queue, no schedules */
    noJobs: boolean
    /** past events in the event store, backfilled by the app's job (0: no backfill) */
    backfill: number
    /** the app's folder (its plugin.json names the bundle): the repository root (dist/index.js) or posthog-2024 */
    pluginDir: string
}

function parseArgs(argv: string[]): Options {
    const opts: Options = { events: 1000, threads: 2, port: 8010, data: path.join(ROOT, '.s3-data'), once: false, reloadEvery: 0, hostProfile: resolveHostProfile().name, backfill: 0, noJobs: false, pluginDir: '' }
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i]
        const value = () => {
            const v = argv[++i]
            if (v === undefined) throw new Error(`${arg} needs a value`)
            return v
        }
        if (arg === '--config') opts.config = value()
        else if (arg === '--events') opts.events = Number(value())
        else if (arg === '--threads') opts.threads = Number(value())
        else if (arg === '--port') opts.port = Number(value())
        else if (arg === '--data') opts.data = path.resolve(value())
        else if (arg === '--once') opts.once = true
        else if (arg === '--reload-every') opts.reloadEvery = Number(value())
        else if (arg === '--host-profile') opts.hostProfile = resolveHostProfile(value()).name
        else if (arg === '--backfill') opts.backfill = Number(value())
        else if (arg === '--no-fetch-guard') opts.fetchGuard = false
        else if (arg === '--no-jobs') opts.noJobs = true
        else if (arg === '--plugin-dir') opts.pluginDir = path.resolve(value())
        else if (arg === '--help' || arg === '-h') {
            console.log(readFileSync(__filename, 'utf8').split('*/')[0])
            console.log('Flags: --config FILE  --events N (1000)  --threads N (2)  --port N (8010)  --data DIR (.s3-data)  --once  --reload-every N (s)  --host-profile 1.10.5|newest|2024 (or S3_EXPORT_HOST_PROFILE)  --no-fetch-guard (2024: reach loopback/private endpoints)  --no-jobs (a build after 2025-02-28)  --backfill N (past events to backfill)  --plugin-dir DIR (the folder of the app: . or posthog-2024, the build for PostHog Dec 2023+; default: the one for the profile)\nPress r (in a terminal) to reload the app now, m to print its metrics.')
            process.exit(0)
        } else throw new Error(`unknown flag ${arg} (try --help)`)
    }
    // the build for the profile's PostHog: the root (dist/index.js) for the classic hosts, posthog-2024/ for the 2024 one
    if (!opts.pluginDir) opts.pluginDir = opts.hostProfile === '2024' ? path.join(ROOT, 'posthog-2024') : ROOT
    return opts
}

/** plugin.json defaults ← --config file ← S3_EXPORT_<key> environment variables */
function loadSettings(opts: Options): Record<string, string> {
    const manifest = JSON.parse(readFileSync(path.join(opts.pluginDir, 'plugin.json'), 'utf8'))
    const settings: Record<string, string> = {}
    for (const field of manifest.config) if (field.key) settings[field.key] = field.default ?? ''
    const file = opts.config ?? process.env.S3_EXPORT_CONFIG
    if (file) {
        if (!existsSync(file)) throw new Error(`config file ${file} not found`)
        Object.assign(settings, JSON.parse(readFileSync(file, 'utf8')))
    }
    for (const key of Object.keys(settings)) {
        const env = process.env[`S3_EXPORT_${key}`]
        if (env !== undefined) settings[key] = env
    }
    return settings
}

/** The app metrics as the host sums them, one line, in the order the app declares them. */
function metricsLine(host: DevHost): string {
    const values = host.metrics
    const declared = host.threads[0]?.metrics ?? {}
    const names = [...Object.keys(declared), ...Object.keys(values).filter((n) => !(n in declared))]
    return names.map((name) => `${name}=${values[name] ?? 0}`).join('  ')
}

/** What the app captured with posthog.capture (health events), one line each. */
function capturedLines(host: DevHost): string[] {
    return host.capturedEvents.map((e) => {
        const p = e.properties as Record<string, unknown>
        return `  ${e.timestamp} ${e.event}: ${p.minutes_failing ?? '?'} min failing, ${p.events_waiting ?? '?'} events waiting${p.last_error ? `, last error ${p.last_error}` : ''}`
    })
}

function kb(bytes: number): string {
    return bytes < 10_240 ? `${bytes} B` : `${(bytes / 1024).toFixed(0)} KB`
}

async function main(): Promise<void> {
    const opts = parseArgs(process.argv.slice(2))
    const settings = loadSettings(opts)
    let s3: RunningS3 | undefined
    if (!settings.awsAccessKey) {
        s3 = await startS3Server({ buckets: [settings.s3BucketName || DEFAULT_BUCKET], directory: opts.data })
        Object.assign(settings, {
            awsAccessKey: s3.accessKeyId,
            awsSecretAccessKey: s3.secretAccessKey,
            s3BucketName: settings.s3BucketName || DEFAULT_BUCKET,
            s3BucketEndpoint: s3.endpoint,
            s3ForcePathStyle: 'true',
            awsRegion: 'us-east-1',
        })
        // a demo should show files within seconds; PostHog's default stays 1 minute
        if (!process.env.S3_EXPORT_uploadMinutes && !opts.config) settings.uploadMinutes = '0.2'
        console.log(`embedded S3 at ${s3.endpoint} (data in ${path.relative(process.cwd(), opts.data) || '.'}/${settings.s3BucketName}/), key ${s3.accessKeyId}`)
    } else {
        console.log(`writing to the bucket from your settings: s3://${settings.s3BucketName}/${settings.prefix}`)
    }
    const reader = readerClient({
        endpoint: settings.s3BucketEndpoint || undefined,
        accessKeyId: settings.awsAccessKey,
        secretAccessKey: settings.awsSecretAccessKey,
        region: settings.awsRegion,
        forcePathStyle: settings.s3ForcePathStyle === 'true',
    })
    const bucket = settings.s3BucketName
    const before = new Set(await listKeys(reader, bucket, settings.prefix).catch(() => [] as string[]))

    // setupFailure 'throw': a bad setting stops npm start with its message (PostHog would retry it for ~25 minutes)
    // the project's past events (ClickHouse), ingested over the day before the app is installed
    const eventStore = new EventStore()
    if (opts.backfill > 0) {
        const dayAgo = Date.now() - 86_400_000
        const past = sampleEvents(opts.backfill, 2)
        past.forEach((s, i) => {
            const ingestedAt = dayAgo + Math.floor((i * (86_400_000 - 60_000)) / Math.max(1, past.length))
            eventStore.add({ uuid: randomUUID(), event: s.event, distinct_id: s.distinctId, team_id: 1, ip: null, site_url: '', timestamp: new Date(ingestedAt - 1_000).toISOString(), properties: s.properties ?? {} }, ingestedAt)
        })
        console.log(`event store: ${past.length} past events, ingested from ${new Date(dayAgo).toISOString()} on`)
    }
    const hostOptions = {
        pluginDir: opts.pluginDir,
        config: settings,
        threads: opts.threads,
        setupFailure: 'throw',
        hostProfile: opts.hostProfile,
        fetchGuard: opts.fetchGuard,
        jobQueue: opts.noJobs ? 'none' : undefined,
        storage: new DevStorage(),
        eventStore,
        jobConcurrency: 1,
        log: (level: string, message: string) => {
            // the host's own lines about each historical page are many: --backfill prints a summary instead
            if (message.startsWith('[host] Successfully processed') || message.startsWith('[host] Export progress')) return
            console.log(`  [app ${level}] ${message}`)
        },
    }
    const guard = resolveHostProfile(opts.hostProfile).generation.trackedFetch && resolveFetchGuard(opts.fetchGuard, true)
    if (guard) console.log(`host profile ${opts.hostProfile}: its fetch guard is on, so the sandbox's fetch refuses loopback and private endpoints (FetchError: Internal hostname) and the app sends through the host's aws-sdk instead; --no-fetch-guard turns the guard off`)
    const host = await DevHost.start(hostOptions as any)
    const t0 = host.threads[0]
    console.log(
        `loaded ${path.relative(ROOT, t0.mainFile)} (${kb(t0.bundleBytes)}) into ${opts.threads} sandboxed worker threads (host profile ${opts.hostProfile}); ` +
            `host transform ${t0.transformMs.toFixed(0)} ms per thread; uploads every ${settings.uploadMinutes} min or ${settings.uploadMegabytes} MB`
    )

    let accepted = 0
    const captureOptions = {
        port: opts.port,
        onEvents: async (events: ProcessedPluginEvent[]) => {
            accepted += events.length
            await Promise.all(events.map((e) => host.onEvent(e)))
        },
        // A client that is refused (an endpoint we lack, a bad payload) often carries on silently: say so here.
        onResponse: (answer: CaptureAnswer) => {
            if (answer.status >= 200 && answer.status < 300) return
            console.log(`  [capture] ${answer.method} ${answer.path} -> ${answer.status}${answer.reason ? `: ${answer.reason}` : ''}`)
        },
    }
    const capture = await startCaptureServer(captureOptions).catch(() => startCaptureServer({ ...captureOptions, port: 0 }))
    console.log(`capture API at ${capture.url} (/batch/, /capture/, /e/, /i/v0/e/): point posthog-js or posthog-node here`)
    console.log(
        `  for posthog-js: remote config (autocapture on) at /array/<token>/config.js, its lazy files at /static/; ` +
            `session recordings (/s/) are accepted but not exported: they are not events`
    )
    console.log('  every request the capture API refuses is printed as "[capture] METHOD /path -> status: reason"')

    // a reload, as PostHog does when a setting is saved: new copies load, the old ones are torn down unawaited
    let reloading: Promise<void> | undefined
    const reload = () => {
        if (reloading) return
        console.log('reloading the app (new copies load; the old ones get teardownPlugin and keep receiving events until then)...')
        reloading = host.reload().then(
            (r) => console.log(`reloaded in ${r.ms} ms; ${r.eventsAfterTeardown} events reached the old copies after their teardown`),
            (error) => console.log(`reload failed: ${String(error)}`)
        ).finally(() => (reloading = undefined))
    }
    const reloadTimer = opts.reloadEvery > 0 ? setInterval(reload, opts.reloadEvery * 1000) : undefined
    if (process.stdin.isTTY && !opts.once) {
        process.stdin.setRawMode(true)
        process.stdin.on('data', (key) => {
            if (String(key) === 'r') reload()
            else if (String(key) === 'm') console.log(`app metrics: ${metricsLine(host)}`)
            else if (String(key) === '\u0003') process.emit('SIGINT')
        })
        console.log('press r to reload the app, m to print its metrics')
    }

    // every copy seen so far: after a reload the old copies' counts still belong to the tally
    const copies = new Set(host.threads)
    const stats = () => {
        const sum = { seen: 0, ignored: 0, delivered: 0 }
        for (const t of host.threads) copies.add(t)
        for (const t of copies) {
            const s = (t.meta.global as any)?.exporter?.stats
            if (s) for (const k of Object.keys(sum) as Array<keyof typeof sum>) sum[k] += s[k]
        }
        return sum
    }

    // 4. sample events through a real PostHog client
    const client = new PostHog('phc_local_dev_host', { host: capture.url, flushAt: 100, flushInterval: 250 })
    const samples = sampleEvents(opts.events, 1)
    for (const s of samples) {
        if (s.event === '$identify') client.identify({ distinctId: s.distinctId, properties: s.properties })
        else client.capture({ distinctId: s.distinctId, event: s.event, properties: s.properties, timestamp: s.timestamp })
    }
    await client.shutdown()
    console.log(`sent ${samples.length} sample events through posthog-node; waiting for the upload timer...`)
    const until = Date.now() + 90_000
    while (Date.now() < until) {
        const s = stats()
        if (s.seen >= samples.length && s.delivered + s.ignored >= s.seen) break
        await new Promise((r) => setTimeout(r, 200))
    }

    if (opts.backfill > 0) {
        const storage = hostOptions.storage
        console.log(`backfill: running the app's "Backfill S3 (date range)" job (no dates: everything ingested before the app's first setup)...`)
        host.runPublicJob('Backfill S3 (date range)')
        const started = Date.now()
        let seenRunning = false
        let lastPrint = 0
        while (Date.now() - started < 600_000) {
            const running = storage.get(KEYS.running, false) === true
            seenRunning = seenRunning || running
            if (seenRunning && !running) break
            if (Date.now() - lastPrint > 2_000) {
                lastPrint = Date.now()
                const m = host.metrics
                console.log(`  backfill: ${host.upgradeStats.pagesExported} pages, ${m.backfill_events_stored ?? 0} events in ${m.backfill_objects_stored ?? 0} objects, ${m.backfill_events_left_to_live ?? 0} left to the live export`)
            }
            await new Promise((r) => setTimeout(r, 100))
        }
        const m = host.metrics
        console.log(
            `backfill done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${m.backfill_events_stored ?? 0} past events in ${m.backfill_objects_stored ?? 0} objects from ${host.upgradeStats.pagesExported} host pages; ` +
                `the host also handed ${host.upgradeStats.liveEventsToExportEvents} live events to exportEvents (ignored: onEvent exported them)`
        )
    }

    const tally = async (print: boolean) => {
        const keys = (await listKeys(reader, bucket, settings.prefix)).filter((k) => !before.has(k) && !k.endsWith('.s3-export-write-check'))
        let events = 0
        for (const key of keys) {
            const object = await readObject(reader, bucket, key)
            events += object.events.length
            if (print) console.log(`  s3://${bucket}/${key}  ${kb(object.size)} stored, ${kb(object.raw.length)} raw, ${object.events.length} events`)
        }
        return { events, objects: keys.length }
    }
    const shown = await tally(true).catch((error) => {
        console.log(`  (could not list the bucket: ${String(error)}; the app needs only s3:PutObject, listing needs s3:ListBucket)`)
        return undefined
    })
    const st = stats()
    console.log(`${st.ignored} ignored by eventsToIgnore; stored ${shown?.events ?? st.delivered} events in ${shown?.objects ?? '?'} objects so far`)

    const stop = async () => {
        if (reloadTimer) clearInterval(reloadTimer)
        if (process.stdin.isTTY) process.stdin.setRawMode(false)
        await reloading
        await host.retiredTeardowns(10_000)
        const report: ShutdownReport = await host.shutdown()
        await capture.close()
        const final = await tally(false).catch(() => undefined)
        console.log(
            `teardown took ${report.ms} ms${report.cappedAt5s ? ' (cut at the 5 s cap!)' : ''}; ${report.queuedJobs.length} jobs left queued; ` +
                `${accepted} events received from clients, ${capture.recordings()} session recording requests (not exported)`
        )
        console.log(`app metrics (summed over threads${host.reloads ? ' and reloads' : ''}, as PostHog shows them): ${metricsLine(host)}`)
        console.log(`health events the app captured: ${host.capturedEvents.length} (${host.ingestedCaptured} ingested back into the app before the shutdown)`)
        for (const line of capturedLines(host)) console.log(line)
        if (s3) await s3.close()
        console.log(
            `stored ${final?.events ?? stats().delivered} events in ${final?.objects ?? '?'} objects` +
                `${host.reloads ? ` across ${host.reloads} reloads` : ''}${host.skippedEvents ? `; ${host.skippedEvents} events skipped by the host (setup not done)` : ''}`
        )
        process.exit(report.errors.length > 0 ? 1 : 0)
    }
    if (opts.once) return stop()
    console.log('accepting events until Ctrl-C ...')
    process.once('SIGINT', () => void stop())
    process.once('SIGTERM', () => void stop())
}

main().catch((error) => {
    console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
})
