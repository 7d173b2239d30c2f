/**
 * npm run bench [-- --quick]: S3 Export against the ceiling (JSON.stringify + gzip, no app, no network) and the
 * naive way (the original plugin's), in one process tree and one run; every case at least 5 times, and what loading
 * the bundle costs each plugin-server worker thread under each host generation (bench/hosts.ts: dist/index.js under
 * 1.10.5, Babel 7.13.7 and vm2 3.9.5; posthog-2024/index.js under 2024, Babel 7.21.4 and vm2 3.9.18).
 *
 * Before the closing lines, a `transport:` line: requests/s through aws-sdk v2 against fetch (bench/transport.ts).
 *
 * Writes bench/results.json (the full run; --quick writes bench/out/results-quick.json), prints the tables, and a
 * full run rewrites the README's marked section. Before them, the `compression:` lines of bench/compression.ts (the
 * WebAssembly codecs in the sandbox beside native zlib), under each generation's profile. The closing lines, a `host:` line per host generation
 * (1.10.5 then 2024, each measured under its own profile with its own bundle), then the `bench:` line:
 *   host: profile=<p> bundle_kb=<n> babel_ms=<median> rss_mb_per_thread=<median> onevent_vs_floor=<x>
 *   bench: app_vs_ceiling=<x> app_vs_naive=<x> app_vs_naive_10mb=<x> cpu_vs_ceiling=<x> max_stall_ms=<n>
 *          bytes_per_buffered_event=<n> gzip_ratio=<x>
 * Every figure is a ratio against baselines measured in the same run, or a median of repeated runs.
 *
 * Files, one concern each: options.ts (flags), events.ts (the two event cases), local-s3.ts (the S3 child and
 * reading back), measure.ts (stalls, CPU, feeding), cases.ts (ceiling / naive / app / sandbox runs), memory.ts
 * (bytes per buffered event), transport.ts (fetch vs aws-sdk v2 requests/s), host-load.ts (+ worker: Babel and RSS per fresh thread), plugins.ts (bundles and probe
 * apps), hosts.ts (the host generations and the bundle each loads), report.ts (summaries, tables, README), stats.ts (spreads). How each number is made is in METHOD below,
 * and written into results.json.
 */
import { spawnSync } from 'child_process'
import { mkdirSync, writeFileSync } from 'fs'
import os from 'os'
import path from 'path'
import nodeFetch from 'node-fetch'

import type { S3StoreDeps } from '../src/s3/client'
import { packageVersion, resolveHostProfile } from '../dev/sandbox/profile'
import { probeLargeBody, runApp, runCeiling, runNaive, runSandbox, type CaseContext, type RunResult } from './cases'
import { measureCompression } from './compression'
import { eventCase, GZIP_LEVEL, POOL_SIZE } from './events'
import { measureHostLoad, type HostLoadSummary } from './host-load'
import { benchHosts, type BenchHost } from './hosts'
import { listStored, startS3Child, verifyStored } from './local-s3'
import { gc } from './measure'
import { memoryApp, memoryNaive } from './memory'
import { CAPS_MB, parseArgs } from './options'
import { preparePlugins } from './plugins'
import { fmt, fmtSpread, hostLine, mdTable, pairedRatio, ratioCells, summarize, table, writeReadmeSection, type HostFigures, type Summary } from './report'
import { spread } from './stats'
import { measureTransport, refusingFetch, transportLine } from './transport'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
// aws-sdk v2 (the sandbox's, for the aws-sdk v2 road) announces its maintenance mode once loaded: noise here
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'

const ROOT = path.join(__dirname, '..')
const OUT = path.join(__dirname, 'out')

function git(args: string[]): string {
    const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trim() : ''
}

async function main(): Promise<void> {
    const opts = parseArgs(process.argv.slice(2))
    const startedAt = Date.now()
    const loadAtStart = os.loadavg().map((x) => Number(x.toFixed(2)))
    const log = (message: string) => console.error(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(3)} s] ${message}`)
    if (loadAtStart[0] > 1) log(`note: load average ${loadAtStart[0]} at start: other work shares the 2 cores, figures will be noisier`)
    if (!(globalThis as { gc?: unknown }).gc) log('warning: no --expose-gc; memory figures include uncollected garbage')

    mkdirSync(OUT, { recursive: true })
    const plugins = preparePlugins(opts.useDist)
    const profile = resolveHostProfile(opts.hostProfile)
    const { hosts, primary } = benchHosts(plugins, profile.name)

    // first, while nothing else of ours runs: what loading each generation's bundle costs one worker thread under its
    // profile (and, SETTLE_MS later, what V8 has handed back), then the same for a no-op app: the host's own share
    const loads = new Map<BenchHost, { app: HostLoadSummary; noop: HostLoadSummary }>()
    for (const h of hosts) {
        const appLoad = await measureHostLoad(h.pluginDir, h.profile, opts.hostLoads, SETTLE_MS)
        const noop = await measureHostLoad(plugins.noop, h.profile, opts.hostLoads)
        loads.set(h, { app: appLoad, noop })
        log(
            `host load (${h.profile}, ${fmt(appLoad.bundleBytes / 1024)} KB): Babel ${fmt(appLoad.transformMs.median)} ms, RSS +${fmt(appLoad.rssAddedMb.median, 1)} MB per thread, ` +
                `+${fmt(appLoad.rssSettledMb!.median, 1)} MB after ${SETTLE_MS / 1000} s idle (no-op app: ${fmt(noop.transformMs.median)} ms, +${fmt(noop.rssAddedMb.median, 1)} MB; medians of ${opts.hostLoads} fresh threads)`
        )
    }
    const { app: hostLoad, noop: noopLoad } = loads.get(primary)!

    const s3 = await startS3Child()
    log(`local S3 at ${s3.endpoint} (child process ${s3.proc.pid}); ${opts.quick ? 'quick' : 'full'} run, ${opts.reps} runs per case, feed ${opts.feed} events per macrotask`)

    // PostHog's sandbox hands the app node-fetch 2 as `fetch`; Node's own fetch (undici) refuses the SDK's
    // `Expect: 100-continue` header, which it adds to bodies over 2 MB: probe both, then use the host's
    const largeBody = {
        builtinFetch: await probeLargeBody(s3, globalThis.fetch as unknown as S3StoreDeps['fetch']),
        nodeFetch: await probeLargeBody(s3, nodeFetch as unknown as S3StoreDeps['fetch']),
    }
    if (largeBody.builtinFetch !== 'ok') log(`note: a 3 MB PutObject through createS3Store with Node's built-in fetch fails: ${largeBody.builtinFetch}`)
    if (opts.fetch === 'node-fetch') (globalThis as { fetch: unknown }).fetch = nodeFetch

    const client = eventCase('client')
    const fixture = eventCase('fixture')
    const counters = { setupRetries: 0, naivePutRetries: 0 }
    const ctx: CaseContext = { s3, events: client, feed: opts.feed, hostProfile: primary.profile, hostOptions: primary.host, counters }
    const fixtureCtx: CaseContext = { ...ctx, events: fixture }
    log(`events: client ${fmt(client.meanLineBytes)} B, gzip ${client.gzipRatio.toFixed(2)}×; fixture ${fmt(fixture.meanLineBytes)} B, gzip ${fixture.gzipRatio.toFixed(2)}×`)

    const verifyFirst = async (run: RunResult, prefix: string) => {
        const { stored, keys } = await listStored(s3, prefix)
        run.stored = stored
        run.verified = await verifyStored(s3, keys, run.events)
        if (!run.verified.ok) throw new Error(`${prefix}: ${run.verified.events} events read back, expected ${run.events}`)
    }
    const listOnly = async (run: RunResult, prefix: string) => {
        run.stored = (await listStored(s3, prefix)).stored
    }

    // warm-up (JIT, sockets, zlib): not recorded
    const warm = Math.min(20_000, opts.events)
    await runCeiling(ctx, warm)
    await runNaive(ctx, warm, 'warmup/naive/')
    await runApp(ctx, warm, 'warmup/app/')
    log('warm-up done')

    // throughput on the client events, interleaved so drift hits every case alike
    const ceiling: RunResult[] = []
    const naive: RunResult[] = []
    const app: RunResult[] = []
    const naiveSink: RunResult[] = []
    const appSink: RunResult[] = []
    for (let rep = 0; rep < opts.reps; rep++) {
        const order = [0, 1, 2, 3, 4].map((k) => (k + rep) % 5)
        for (const which of order) {
            if (which === 3) naiveSink.push(await runNaive(ctx, opts.events, `sink/naive/${rep}/`, 1, 'sink'))
            if (which === 4) appSink.push(await runApp(ctx, opts.events, `sink/app/${rep}/`, 1, 'sink'))
            if (which === 0) ceiling.push(await runCeiling(ctx, opts.events))
            if (which === 1) {
                const prefix = `naive/${rep}/`
                const r = await runNaive(ctx, opts.events, prefix)
                await (rep === 0 ? verifyFirst(r, prefix) : listOnly(r, prefix))
                naive.push(r)
            }
            if (which === 2) {
                const prefix = `app/${rep}/`
                const r = await runApp(ctx, opts.events, prefix)
                await (rep === 0 ? verifyFirst(r, prefix) : listOnly(r, prefix))
                app.push(r)
            }
        }
        log(`throughput run ${rep + 1}/${opts.reps}: ceiling ${fmt(ceiling[rep].eventsPerSec)}, naive ${fmt(naive[rep].eventsPerSec)}, app ${fmt(app[rep].eventsPerSec)} events/s`)
    }

    // the second case: the old fixture, same three pipelines
    const fxCeiling: RunResult[] = []
    const fxNaive: RunResult[] = []
    const fxApp: RunResult[] = []
    for (let rep = 0; rep < opts.reps; rep++) {
        fxCeiling.push(await runCeiling(fixtureCtx, opts.events))
        fxNaive.push(await runNaive(fixtureCtx, opts.events, `fixture/naive/${rep}/`))
        fxApp.push(await runApp(fixtureCtx, opts.events, `fixture/app/${rep}/`))
    }
    log(`fixture: app/ceiling ${pairedRatio(fxApp, fxCeiling).median.toFixed(2)}, app/naive ${pairedRatio(fxApp, fxNaive).median.toFixed(2)}`)

    // stalls and throughput per cap (app and naive)
    const capApp: Record<number, RunResult[]> = {}
    const capNaive: Record<number, RunResult[]> = {}
    for (const cap of CAPS_MB) {
        capApp[cap] = []
        capNaive[cap] = []
        const n = opts.capEvents[cap]
        for (let rep = 0; rep < opts.reps; rep++) {
            const pa = `cap${cap}/app/${rep}/`
            const ra = await runApp(ctx, n, pa, cap)
            await (rep === 0 ? verifyFirst(ra, pa) : listOnly(ra, pa))
            capApp[cap].push(ra)
            const pn = `cap${cap}/naive/${rep}/`
            const rn = await runNaive(ctx, n, pn, cap)
            await listOnly(rn, pn)
            capNaive[cap].push(rn)
        }
        log(`cap ${cap} MB: app/naive ${pairedRatio(capApp[cap], capNaive[cap]).median.toFixed(2)}, app max stall ${fmt(Math.max(...capApp[cap].map((r) => r.maxStallMs)), 1)} ms, naive ${fmt(Math.max(...capNaive[cap].map((r) => r.maxStallMs)), 1)} ms`)
    }

    // memory per buffered event: as many events as fit one open 100 MB batch (90 MB of them, so none is sealed)
    const memoryEvents = Math.min(opts.memoryEvents, Math.floor((90 * 1024 * 1024) / client.meanLineBytes))
    const memApp: Array<Record<string, number>> = []
    const memNaive: Array<Record<string, number>> = []
    for (let rep = 0; rep < opts.reps; rep++) {
        memApp.push(await memoryApp(ctx, memoryEvents, `memory/app/${rep}/`))
        memNaive.push(await memoryNaive(ctx, memoryEvents))
        gc()
    }
    log(`memory: app ${fmt(spread(memApp.map((m) => m.bytesPerEvent)).median)} B/event, naive ${fmt(spread(memNaive.map((m) => m.bytesPerEvent)).median)} B/event`)

    // the sandbox (distinct event objects: vm2 caches a proxy per host object), the app against its floor
    const nSb = opts.sandboxEvents
    const nProbe = Math.min(opts.probeEvents, nSb)
    let sbEvents = client.fresh(nSb)
    const sbApp: RunResult[] = []
    const sbNoop: RunResult[] = []
    const sbStringify: RunResult[] = []
    const sbNoBuffer: RunResult[] = []
    const sbFirstMinutes: RunResult[] = []
    const sbV2: RunResult[] = []
    // the other generation(s): the app against the same floor, under its own profile and bundle, in the same rounds
    const others = hosts.filter((h) => h !== primary).map((h) => ({ h, ctx: { ...ctx, hostProfile: h.profile, hostOptions: h.host } as CaseContext, app: [] as RunResult[], floor: [] as RunResult[] }))
    await runSandbox(ctx, primary.pluginDir, sbEvents, Math.min(1_000, nSb), 'warmup/sandbox/', true)
    for (const o of others) await runSandbox(o.ctx, o.h.pluginDir, sbEvents, Math.min(1_000, nSb), `warmup/sandbox-${o.h.profile}/`, true)
    for (let rep = 0; rep < opts.reps; rep++) {
        const prefix = `sandbox/${rep}/`
        const r = await runSandbox(ctx, primary.pluginDir, sbEvents, nSb, prefix, true)
        await (rep === 0 ? verifyFirst(r, prefix) : listOnly(r, prefix))
        sbApp.push(r)
        sbNoop.push(await runSandbox(ctx, plugins.noop, sbEvents, nProbe, 'probe/', false))
        sbStringify.push(await runSandbox(ctx, plugins.stringify, sbEvents, nProbe, 'probe/', false))
        // apart: what the host's exportEvents buffer adds, and the first ten minutes after install (edge notes)
        sbNoBuffer.push(await runSandbox(ctx, primary.pluginDir, sbEvents, nProbe, `sandbox-no-buffer/${rep}/`, true, { exportEventsBuffer: false }))
        sbFirstMinutes.push(await runSandbox(ctx, primary.pluginDir, sbEvents, nProbe, `sandbox-first-minutes/${rep}/`, true, { phase: 'first-10-minutes' }))
        // the same app whose sandbox fetch refuses the endpoint (a 2024 host, private endpoint): it sends by aws-sdk v2
        sbV2.push(await runSandbox(ctx, primary.pluginDir, sbEvents, nSb, `sandbox-v2/${rep}/`, true, { fetch: refusingFetch }))
        log(`sandbox run ${rep + 1}/${opts.reps}: app ${fmt(r.eventsPerSec)}, stringify-only ${fmt(sbStringify[rep].eventsPerSec)} events/s`)
        for (const o of others) {
            const prefixOther = `sandbox-${o.h.profile}/${rep}/`
            const ro = await runSandbox(o.ctx, o.h.pluginDir, sbEvents, nSb, prefixOther, true)
            await (rep === 0 ? verifyFirst(ro, prefixOther) : listOnly(ro, prefixOther))
            o.app.push(ro)
            o.floor.push(await runSandbox(o.ctx, plugins.stringify, sbEvents, nProbe, `probe-${o.h.profile}/`, false))
            log(`sandbox run ${rep + 1}/${opts.reps} under ${o.h.profile}: app ${fmt(ro.eventsPerSec)}, stringify-only ${fmt(o.floor[rep].eventsPerSec)} events/s`)
        }
    }
    sbEvents = []

    // compression without the host's zlib: the WebAssembly codecs in the sandbox beside native zlib (bench/compression.ts),
    // under each generation's profile: the 2024 bundle is the one that compresses with them (issue 22's targets are
    // there), the classic host still gives zlib, so its lines also hold native zlib inside the sandbox
    const compressions = []
    for (const h of hosts) {
        const c = await measureCompression(client, h.profile, opts)
        compressions.push({ profile: h.profile, ...c })
        log(c.lines.join('; '))
    }
    const compression = compressions.find((c) => c.profile === primary.profile)!
    // the two roads to S3: the sandbox's fetch and aws-sdk v2's HTTP client (a 2024 host's private endpoint)
    const transport = await measureTransport(s3, { rounds: opts.reps, quick: opts.quick, log })
    const sandboxV2VsFetch = pairedRatio(sbV2, sbApp)
    log(`sandbox end to end, aws-sdk v2 / fetch: ${sandboxV2VsFetch.median.toFixed(2)} (events/s, paired by round)`)

    // ---------------------------------------------------------------------------------------------------
    const appVsCeiling = pairedRatio(app, ceiling)
    const appVsNaive = pairedRatio(app, naive)
    // time per event, paired with the ceiling run of the same round: the main thread's own CPU (where Linux accounts
    // it per thread, else its busy wall time), its busy wall time, and the whole process's CPU
    const perEventVsCeiling = (ms: (r: RunResult) => number) => spread(app.map((r, i) => ms(r) / r.events / (ms(ceiling[i]) / ceiling[i].events)))
    const cpuVsCeiling = perEventVsCeiling((r) => r.mainThreadCpuMs ?? r.mainThreadMs)
    const busyVsCeiling = perEventVsCeiling((r) => r.mainThreadMs)
    const processCpuVsCeiling = perEventVsCeiling((r) => r.cpuMs)
    const capSummary = CAPS_MB.map((cap) => ({
        capMb: cap,
        events: opts.capEvents[cap],
        app: summarize(capApp[cap]),
        naive: summarize(capNaive[cap]),
        appVsNaive: pairedRatio(capApp[cap], capNaive[cap]),
    }))
    const appVsNaive10 = capSummary.find((c) => c.capMb === 10)!.appVsNaive
    const appVsNaive1 = capSummary.find((c) => c.capMb === 1)!.appVsNaive
    const maxStallMs = Math.max(...CAPS_MB.flatMap((cap) => capApp[cap].map((r) => r.maxStallMs)), ...app.map((r) => r.maxStallMs))
    // the machine's own floor for stalls: the ceiling (no app: stringify and a gzip stream) stalls too (GC, page faults, scheduling)
    const ceilingMaxStallMs = Math.max(...ceiling.map((r) => r.maxStallMs))
    const memAppSpread = spread(memApp.map((m) => m.bytesPerEvent))
    const noop = summarize(sbNoop)
    const strf = summarize(sbStringify)
    const sbSummary = summarize(sbApp)
    // onEvent's own rate (the feed until the last call returned, uploads meanwhile included), paired by round
    const feedRate = (r: RunResult) => Number(r.extra?.feedEventsPerSec)
    const vsFloor = (runs: RunResult[], floor = sbStringify) => spread(runs.map((r, i) => feedRate(r) / feedRate(floor[i])))
    const onEventVsFloor = vsFloor(sbApp)
    const noBufferVsFloor = vsFloor(sbNoBuffer)
    const firstMinutesVsFloor = vsFloor(sbFirstMinutes)
    // every generation under its own profile, bundle and floor, in the order of bench/hosts.ts
    const perHost = hosts.map((h) => {
        const runs = h === primary ? { app: sbApp, floor: sbStringify } : others.find((o) => o.h === h)!
        const load = loads.get(h)!
        const vs = vsFloor(runs.app, runs.floor)
        const figures: HostFigures = { profile: h.profile, bundleBytes: load.app.bundleBytes, babelMs: load.app.transformMs.median, rssMbPerThread: load.app.rssAddedMb.median, onEventVsFloor: vs.median }
        return { h, load, runs, vs, figures }
    })

    const results = {
        generatedAt: new Date().toISOString(),
        loadAverage: { atStart: loadAtStart, atEnd: os.loadavg().map((x) => Number(x.toFixed(2))) },
        mode: opts.quick ? 'quick' : 'full',
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGb: Math.round(os.totalmem() / 1e9), node: process.version, platform: `${os.platform()} ${os.release()}` },
        git: { commit: git(['rev-parse', '--short', 'HEAD']), uncommitted: git(['status', '--porcelain', '--', 'index.ts', 'src', 'dev']).split('\n').filter(Boolean) },
        hostProfile: { name: profile.name, babel: packageVersion(profile.babelPackage), vm2: packageVersion(profile.vm2Package) },
        hostLoad: { ...hostLoad, bundle: primary.bundle },
        hosts: perHost.map(({ h, load, runs, vs, figures }) => ({
            profile: h.profile,
            babel: packageVersion(resolveHostProfile(h.profile).babelPackage),
            vm2: packageVersion(resolveHostProfile(h.profile).vm2Package),
            bundle: h.bundle,
            devHostOptions: h.host,
            figures,
            hostLoad: { ...load.app, perLoad: undefined },
            noopAppLoad: { ...load.noop, perLoad: undefined },
            sandbox: summarize(runs.app),
            sandboxStringifyOnlyApp: summarize(runs.floor),
            onEventVsFloor: vs,
        })),
        noopAppLoad: { ...noopLoad, perLoad: undefined },
        largeBodyPut: largeBody,
        events: {
            client: { describe: client.describe, meanLineBytes: client.meanLineBytes, gzipRatio: client.gzipRatio },
            fixture: { describe: fixture.describe, meanLineBytes: fixture.meanLineBytes, gzipRatio: fixture.gzipRatio },
        },
        options: { ...opts, gzipLevel: GZIP_LEVEL, poolSize: POOL_SIZE, sandboxBundle: primary.bundle },
        method: METHOD,
        throughput: {
            ceiling: summarize(ceiling),
            naive: summarize(naive),
            app: summarize(app),
            naiveToNullS3: summarize(naiveSink),
            appToNullS3: summarize(appSink),
            sandbox: sbSummary,
            sandboxNoopApp: noop,
            sandboxStringifyOnlyApp: strf,
            fixture: { ceiling: summarize(fxCeiling), naive: summarize(fxNaive), app: summarize(fxApp) },
        },
        ratios: {
            appVsCeiling,
            appVsNaive,
            cpuVsCeiling,
            processCpuVsCeiling,
            appVsNaive1mbCap: appVsNaive1,
            appVsNaive10mbCap: appVsNaive10,
            appVsCeilingNullS3: pairedRatio(appSink, ceiling),
            appVsNaiveNullS3: pairedRatio(appSink, naiveSink),
            mainThreadBusyVsCeiling: busyVsCeiling,
            onEventVsFloor,
            onEventWithoutExportEventsBufferVsFloor: noBufferVsFloor,
            onEventFirstTenMinutesVsFloor: firstMinutesVsFloor,
            fixture: { appVsCeiling: pairedRatio(fxApp, fxCeiling), appVsNaive: pairedRatio(fxApp, fxNaive) },
        },
        stallsByCap: capSummary,
        transport: { requests: transport, sandboxV2VsFetch, sandboxV2: summarize(sbV2) },
        memory: { app: { bytesPerEvent: memAppSpread, runs: memApp }, naive: { bytesPerEvent: spread(memNaive.map((m) => m.bytesPerEvent)), runs: memNaive } },
        sandboxHostCost: { noop, stringify: strf },
        compression: compression.results,
        compressionByProfile: Object.fromEntries(compressions.map((c) => [c.profile, c.results])),
        targets: {
            babelMs: { goal: 1000, floor: 1500, median: hostLoad.transformMs.median },
            rssMbPerThread: { goal: 40, floor: 60, median: hostLoad.rssAddedMb.median },
            onEventVsFloor: { target: 0.97, median: onEventVsFloor.median, met: onEventVsFloor.median >= 0.97 },
            cpuVsCeiling: { target: 1.2, median: cpuVsCeiling.median, met: cpuVsCeiling.median <= 1.2 },
            appVsNaive10mb: { target: 1.5, median: appVsNaive10.median, met: appVsNaive10.median >= 1.5 },
            appVsNaive1mb: { target: 1.0, median: appVsNaive.median, met: appVsNaive.median >= 1.0 },
            maxStallMs: { target: 25, value: maxStallMs, met: maxStallMs <= 25, ceilingSameRun: ceilingMaxStallMs },
            bytesPerBufferedEvent: { target: 150, median: memAppSpread.median, met: memAppSpread.median <= 150 },
        },
        setupRetries: counters.setupRetries,
        naivePutRetries: counters.naivePutRetries,
        uploadRetries: [...app, ...appSink, ...CAPS_MB.flatMap((cap) => capApp[cap])].reduce((n, r) => n + Number(r.extra?.retries ?? 0), 0),
        wallSeconds: (Date.now() - startedAt) / 1000,
    }
    const file = opts.quick ? path.join(OUT, 'results-quick.json') : path.join(__dirname, 'results.json')
    writeFileSync(file, JSON.stringify(results, null, 2) + '\n')

    // ---------------------------------------------------------------------------------------------------
    const thr = results.throughput
    const mbps = (s: Summary, bytes: number) => fmt((s.eventsPerSec.median * bytes) / 1e6)
    const row = (name: string, s: Summary, bytes = client.meanLineBytes) => [
        name,
        fmt(s.events),
        fmtSpread(s.eventsPerSec),
        mbps(s, bytes),
        s.objects === undefined ? '—' : fmt(s.objects),
        s.bytesStored === undefined ? (s.compressedBytes ? `(${fmt(s.compressedBytes / 1e6, 1)} MB gz)` : '—') : `${fmt(s.bytesStored / 1e6, 1)} MB`,
        fmt(s.mainThreadCpuMsPer1kEvents.median, 1),
        fmt(s.mainThreadMsPer1kEvents.median, 1),
        fmt(s.cpuMsPer1kEvents.median, 1),
        fmt(s.s3CpuMsPer1kEvents.median, 1),
        fmt(s.maxStallMs.max, 1),
    ]
    const throughputRows = [
        row('ceiling: stringify + gzip stream', thr.ceiling),
        row('naive: array → join → gzipSync → PUT', thr.naive),
        row('app: hooks → local S3', thr.app),
        row('naive → null S3 (no server work)', thr.naiveToNullS3),
        row('app → null S3 (no server work)', thr.appToNullS3),
        row(`app in the sandbox (${profile.name}, 1 thread)`, thr.sandbox),
        row('no-op app in the sandbox', thr.sandboxNoopApp),
        row('stringify-only app in the sandbox (floor)', thr.sandboxStringifyOnlyApp),
        ...others.flatMap((o) => [row(`app in the sandbox (${o.h.profile}, its bundle, 1 thread)`, summarize(o.app)), row(`stringify-only app in the sandbox (${o.h.profile}, floor)`, summarize(o.floor))]),
        row('fixture events: ceiling', thr.fixture.ceiling, fixture.meanLineBytes),
        row('fixture events: naive', thr.fixture.naive, fixture.meanLineBytes),
        row('fixture events: app', thr.fixture.app, fixture.meanLineBytes),
    ]
    const throughputHeaders = ['case (1 MB cap)', 'events', 'events/s min / median / max', 'MB/s raw', 'objects', 'stored', 'main thread CPU ms/1k ev', 'main thread busy (wall) ms/1k ev', 'process CPU ms/1k ev', 'S3 CPU ms/1k ev', 'max stall ms']
    const met = (ok: boolean) => (ok ? 'met' : 'MISSED')
    const t = results.targets
    const targetRows = [
        ['Babel at load, median of 5 fresh threads', `${fmt(hostLoad.transformMs.median)} ms`, '≤ 1,000 ms (floor 1,500)', hostLoad.transformMs.median <= 1000 ? 'met' : hostLoad.transformMs.median <= 1500 ? 'floor met' : 'MISSED'],
        ['RSS added per thread right after the load, median', `${fmt(hostLoad.rssAddedMb.median, 1)} MB (${SETTLE_MS / 1000} s later: ${fmt(hostLoad.rssSettledMb!.median, 1)} MB)`, '≤ 40 MB (floor 60)', hostLoad.rssAddedMb.median <= 40 ? 'met' : hostLoad.rssAddedMb.median <= 60 ? 'floor met' : 'MISSED'],
        ['onEvent in the sandbox / stringify-only', fmt(onEventVsFloor.median, 2), '≥ 0.97', met(t.onEventVsFloor.met)],
        ['main-thread CPU per event / ceiling', fmt(cpuVsCeiling.median, 2), '≤ 1.20', met(t.cpuVsCeiling.met)],
        ['app / naive events/s, 10 MB cap', fmt(appVsNaive10.median, 2), '≥ 1.50', met(t.appVsNaive10mb.met)],
        ['app / naive events/s, 1 MB cap', fmt(appVsNaive.median, 2), '≥ 1.00', met(t.appVsNaive1mb.met)],
        ['longest event-loop stall, any cap', `${fmt(maxStallMs, 1)} ms (the ceiling's own: ${fmt(ceilingMaxStallMs, 1)} ms)`, '≤ 25 ms', met(t.maxStallMs.met)],
        ['memory per buffered event', `${fmt(memAppSpread.median)} B`, '≤ 150 B', met(t.bytesPerBufferedEvent.met)],
    ]
    const ratioRows = [
        ['app / ceiling', ...ratioCells(appVsCeiling)],
        ['app / naive', ...ratioCells(appVsNaive)],
        ['app main-thread CPU per event / ceiling', ...ratioCells(cpuVsCeiling)],
        ['app main-thread busy (wall) time per event / ceiling', ...ratioCells(busyVsCeiling)],
        ['app process CPU per event / ceiling (zlib and network threads too)', ...ratioCells(processCpuVsCeiling)],
        ['app / ceiling, null S3', ...ratioCells(results.ratios.appVsCeilingNullS3)],
        ['app / naive, both to null S3', ...ratioCells(results.ratios.appVsNaiveNullS3)],
        ['sandbox app / sandbox stringify-only', ...ratioCells(onEventVsFloor)],
        ...perHost.filter((p) => p.h !== primary).map((p) => [`sandbox app / sandbox stringify-only, under ${p.h.profile} with its bundle`, ...ratioCells(p.vs)]),
        ["sandbox app without the host's exportEvents buffer / stringify-only", ...ratioCells(noBufferVsFloor)],
        ['sandbox app in its first 10 minutes (every event noted for the backfill) / stringify-only', ...ratioCells(firstMinutesVsFloor)],
        ['fixture events: app / ceiling', ...ratioCells(results.ratios.fixture.appVsCeiling)],
        ['fixture events: app / naive', ...ratioCells(results.ratios.fixture.appVsNaive)],
    ]
    const us = (s: Summary) => [fmt(s.onEventUs!.p50, 1), fmt(s.onEventUs!.p99, 1), fmt(s.onEventUs!.max, 0), fmt(s.onEventUs!.samples)]
    const costRows = [
        ['app, direct (synchronous call)', ...us(thr.app)],
        ['naive, direct (push; flush every ~1 MB)', ...us(thr.naive)],
        ['app in the sandbox (call + await)', ...us(sbSummary)],
        ['no-op app in the sandbox (host cost)', ...us(noop)],
        ['stringify-only app in the sandbox', ...us(strf)],
    ]
    const capRows = capSummary.map((c) => [
        `${c.capMb} MB`,
        fmt(c.events),
        fmt(c.app.eventsPerSec.median),
        fmt(c.naive.eventsPerSec.median),
        fmt(c.appVsNaive.median, 2),
        fmt(c.app.objects ?? 0),
        fmt(Math.max(...c.app.perRun.map((r) => Number(r.extra?.peakAppBytes ?? 0))) / 1e6, 1),
        `${fmt(c.app.maxStallMs.median, 1)} / ${fmt(c.app.maxStallMs.max, 1)}`,
        `${fmt(c.naive.maxStallMs.median, 1)} / ${fmt(c.naive.maxStallMs.max, 1)}`,
    ])
    const capHeaders = ['upload cap', 'events', 'app events/s', 'naive events/s', 'app / naive', 'app objects', 'app peak held MB', 'app max stall ms (median / max)', 'naive max stall ms (median / max)']
    const med = (runs: Array<Record<string, number>>, key: string) => fmt(spread(runs.map((m) => m[key])).median)
    const memRow = (name: string, runs: Array<Record<string, number>>, isApp: boolean) => [
        name,
        fmt(runs[0].events),
        fmtSpread(spread(runs.map((m) => m.bytesPerEvent))),
        med(runs, 'heapPerEvent'),
        med(runs, 'externalPerEvent'),
        med(runs, 'rssPerEvent'),
        isApp ? med(runs, 'appAccountedPerEvent') : '—',
    ]
    const memHeaders = ['memory per buffered event (bytes)', 'events', 'heap+external min / median / max', 'heap', 'external', 'RSS', "app's own count"]
    const memRows = [memRow('app (gzip, one open 100 MB batch), settled', memApp, true), memRow('naive (the event objects in an array)', memNaive, false)]
    const heading =
        `S3 Export bench (${results.mode}, ${opts.reps} runs per case; ${results.machine.cpus} × ${results.machine.cpuModel}, Node ${process.version}; gzip level ${GZIP_LEVEL}; ` +
        `client events ~${fmt(client.meanLineBytes)} B, gzip ${client.gzipRatio.toFixed(2)}× (fixture ~${fmt(fixture.meanLineBytes)} B, ${fixture.gzipRatio.toFixed(2)}×); ` +
        `host profile ${profile.name} (Babel ${results.hostProfile.babel}, vm2 ${results.hostProfile.vm2}); load average ${loadAtStart[0]} at start, ${results.loadAverage.atEnd[0]} at end)`
    const hostNoteOf = ({ h, load }: (typeof perHost)[number]) =>
        `loading the bundle under ${h.profile} (${fmt(load.app.bundleBytes / 1024)} KB, ${h.bundle}) in ${opts.hostLoads} fresh worker threads: Babel ${fmtSpread(load.app.transformMs)} ms, ` +
        `RSS +${fmtSpread(load.app.rssAddedMb, 1)} MB right after the load, +${fmtSpread(load.app.rssSettledMb!, 1)} MB after ${SETTLE_MS / 1000} s idle ` +
        `(V8's memory reducer), +${fmtSpread(load.app.rssSettledGcMb!, 1)} MB after a full GC on top; heap kept +${fmt(load.app.heapAddedMb.median, 1)} MB per thread (min / median / max). ` +
        `A no-op app in the same threads: Babel ${fmt(load.noop.transformMs.median)} ms, RSS +${fmt(load.noop.rssAddedMb.median, 1)} MB.`
    const hostNotes = perHost.map(hostNoteOf)

    const out: string[] = ['', heading, '', table(['target', 'measured', 'goal', ''], targetRows), '', table(throughputHeaders, throughputRows), '']
    out.push(table(['ratio (paired runs)', 'min', 'median', 'max'], ratioRows), '', table(['onEvent cost (every 8th call)', 'p50 µs', 'p99 µs', 'max µs', 'samples'], costRows), '')
    out.push(table(capHeaders, capRows), '', table(memHeaders, memRows), '', ...hostNotes)
    out.push(`PutObject of a 3 MB body via createS3Store: Node's built-in fetch → ${largeBody.builtinFetch}; node-fetch 2 → ${largeBody.nodeFetch}; direct runs use ${opts.fetch === 'node-fetch' ? "node-fetch 2 (the sandbox's fetch)" : "Node's built-in fetch"}`)
    if (results.setupRetries > 0 || results.uploadRetries > 0 || results.naivePutRetries > 0) {
        out.push(
            `transient S3 failures: setupPlugin retried ${results.setupRetries}×, app uploads retried ${results.uploadRetries}× (these runs include the backoff), naive PutObjects tried again ${results.naivePutRetries}×`
        )
    }
    out.push(`results: ${path.relative(ROOT, file)}; wall time ${fmt(results.wallSeconds)} s`)
    out.push(...compressions.flatMap((c) => c.lines))
    out.push(`${transportLine(transport)} sandbox_v2_vs_fetch=${sandboxV2VsFetch.median.toFixed(2)}`)
    out.push(...perHost.map((p) => hostLine(p.figures)))
    out.push(
        `bench: app_vs_ceiling=${appVsCeiling.median.toFixed(2)} app_vs_naive=${appVsNaive.median.toFixed(2)} app_vs_naive_10mb=${appVsNaive10.median.toFixed(2)} cpu_vs_ceiling=${cpuVsCeiling.median.toFixed(2)} ` +
            `max_stall_ms=${Math.round(maxStallMs)} bytes_per_buffered_event=${Math.round(memAppSpread.median)} gzip_ratio=${client.gzipRatio.toFixed(2)}`
    )
    console.log(out.join('\n'))

    if (!opts.quick) {
        const section = [
            `Latest full run (\`npm run bench\`, ${results.generatedAt.slice(0, 10)}): ${heading.replace(/^S3 Export bench /, '')}.`,
            '',
            mdTable(['target', 'measured', 'goal', ''], targetRows),
            '',
            mdTable(throughputHeaders, throughputRows),
            '',
            mdTable(['ratio (paired runs)', 'min', 'median', 'max'], ratioRows),
            '',
            mdTable(capHeaders, capRows),
            '',
            mdTable(memHeaders, memRows),
            '',
            hostNotes.join('\n\n'),
        ].join('\n')
        if (writeReadmeSection(path.join(ROOT, 'README.md'), section)) log('README.md: the bench section is rewritten')
        else log('README.md has no bench markers: not rewritten')
    }
    s3.proc.disconnect()
}

/** how long a loaded thread idles before RSS is read again (V8's memory reducer needs ~10 s; measured +52 MB at 5 s, +47 MB from 15 s on) */
const SETTLE_MS = 15_000

const METHOD = {
    events: "client: dev/client-events.ts clientEvents(7), events as PostHog's clients send them (uuids, sessions, windows, URLs, referrers, UTM, user agents, feature flags); fixture: dev/sample-events.ts pageviewEvent(i). Throughput cases cycle a pool of 20,000 pre-built events; the sandbox and memory cases use fresh objects. gzip_ratio: the pool as one JSON-lines text / gzipSync at GZIP_LEVEL",
    arrival: 'every case is fed `feed` events per macrotask (setImmediate between), the same for all cases',
    ceiling: 'JSON.stringify(event) + "\\n" concatenated into >= 1 MiB strings, Buffer.from each into one native zlib gzip stream (level GZIP_LEVEL, chunkSize 1 MiB); no app, no network; ends at the stream\'s end event',
    naive: "the original plugin's pipeline: event objects kept in an array; every K events (cap MiB of raw JSON / mean line size) events.map(JSON.stringify).join('\\n'), gzipSync(level GZIP_LEVEL), one PutObject via createS3Store, fire-and-forget; ends when all PutObjects answered",
    app: 'index.ts setupPlugin (outside the timing) → onEvent for every event → teardownPlugin, which resolves when every batch is stored; plugin.json defaults (gzip, 1 MB cap, 64 MB memory limit)',
    cpu: "main thread CPU: utime + stime of the main thread from /proc/self/task/<pid>/stat (10 ms ticks) over the timed run / events (cpu_vs_ceiling, paired with the ceiling run of the same round); main thread busy: performance.eventLoopUtilization() active time, which is wall time and so also counts the thread's waits for one of the 2 cores (zlib's threads, GC helpers and the local S3 share them); process: process.cpuUsage(), every thread (zlib pool, network) included",
    sandbox: 'dist/index.js (a fresh build of the working tree into bench/out/plugin/ when dist is stale) in dev/host.ts DevHost with 1 thread under the host profile (vm2 + that Babel), each onEvent awaited; the same with posthog-2024/index.js (bench/out/plugin-2024/ when stale) under the 2024 profile, fetch guard off (the local S3 is on loopback), against the stringify-only app under 2024, in the same rounds (hosts[].onEventVsFloor); teardownPlugin through the host; the stringify-only probe app is the floor (onevent_vs_floor = the app\'s onEvent rate / the probe\'s, paired by round; the rate counts until the last onEvent returned, uploads sealed meanwhile included, not the drain at teardown), the no-op app the host per-call cost',
    hostLoad: 'bench/host-load.ts: each load in a fresh worker thread that first loads the profile\'s Babel and vm2, then loadPluginInSandbox (Babel pass + VM run of the bundle); babel_ms = the transform alone; RSS added = process RSS after the load and a forced GC minus before (rss_mb_per_thread); then, the app still loaded, RSS again after SETTLE_MS idle with no forced GC (V8\'s memory reducer) and after one more forced GC; one thread at a time; median of 5; the same for the no-op probe app as the host\'s own share; once per host generation (bench/hosts.ts), each bundle under its own profile',
    fetch: "direct runs (app and naive) set the global fetch to node-fetch 2, the fetch PostHog's sandbox gives the app (index.ts passes the global fetch to createS3Store); --undici keeps Node's built-in fetch, which rejects the SDK's Expect: 100-continue header on bodies over 2 MB",
    localS3: 'dev/s3server.ts (@20minutes/s3rver, SigV4 checked) in a child process; its CPU is reported separately (it shares the 2 cores)',
    onEventCost: 'process.hrtime.bigint() around every 8th onEvent call: direct = the synchronous call; sandbox = call + await of its promise',
    stall: 'setInterval(…, 1) drift monitor over the whole timed run (feed, seals, compression callbacks, uploads, teardown); longest gap minus the 1 ms period',
    memory: 'heapUsed + external after onEvent of N fresh events into one open batch (100 MB cap, nothing sealed, compression settled), minus the same after setupPlugin; both after forced GCs (node --expose-gc); divided by N',
    transport: 'bench/transport.ts: sequential PutObjects through createS3Store by each road (node-fetch 2 with the global agent; node-fetch 2 with a new agent per request, as a 2024 host\'s guarded fetch; aws-sdk v2 with its shared agent, reached by a fetch that refuses), 0 B / 160 KiB / 3 MiB bodies, to the null S3 and the local S3; rounds rotate the order; ratios paired by round',
    stalls_by_cap: 'uploadMegabytes 1 / 10 / 100 with bufferLimitMegabytes max(64, 4 × cap); the naive row uses the same cap per object; app/naive paired by round',
}

// Re-run under --expose-gc (for the memory figures) when started without it.
if (!(globalThis as { gc?: unknown }).gc && !process.env.S3_EXPORT_BENCH_CHILD) {
    const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', __filename, ...process.argv.slice(2)], {
        stdio: 'inherit',
        env: { ...process.env, S3_EXPORT_BENCH_CHILD: '1' },
    })
    process.exit(r.status ?? 1)
} else {
    main().catch((error) => {
        console.error(error)
        process.exit(1)
    })
}
