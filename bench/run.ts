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
 * Files, one concern each: run.ts (this entry: the phases in order), options.ts (flags), events.ts (the two event
 * cases), local-s3.ts (the S3 child and reading back), measure.ts (stalls, CPU, feeding), cases.ts (ceiling / naive /
 * app / sandbox runs), throughput.ts (the event cases outside the sandbox, their repetitions and upload caps),
 * memory.ts (bytes per buffered event), sandbox.ts (the sandbox cases under each host generation), compression.ts
 * (the WebAssembly codecs in the sandbox), transport.ts (fetch vs aws-sdk v2 requests/s), host-load.ts (+ worker:
 * Babel and RSS per fresh thread), plugins.ts (bundles and probe apps), hosts.ts (the host generations and the bundle
 * each loads), results.ts (the figures and results.json), tables.ts (the tables, closing lines and README section),
 * report.ts (summaries, formatting, the README writer), stats.ts (spreads). How each number is made is in method.ts,
 * and written into results.json.
 */
import { spawnSync } from 'child_process'
import { mkdirSync } from 'fs'
import os from 'os'
import nodeFetch from 'node-fetch'

import type { S3StoreDeps } from '../src/s3/client'
import { resolveHostProfile } from '../dev/sandbox/profile'
import { probeLargeBody, type CaseContext } from './cases'
import { measureCompressions } from './compression'
import { eventCase } from './events'
import { measureHostLoads } from './host-load'
import { benchHosts } from './hosts'
import { startS3Child } from './local-s3'
import { measureMemory } from './memory'
import { parseArgs } from './options'
import { preparePlugins } from './plugins'
import { fmt, pairedRatio } from './report'
import { figuresOf, OUT, resultsOf, writeResults } from './results'
import { measureSandbox } from './sandbox'
import { report } from './tables'
import { measureThroughput } from './throughput'
import { measureTransport } from './transport'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
// aws-sdk v2 (the sandbox's, for the aws-sdk v2 road) announces its maintenance mode once loaded: noise here
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'

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

    // first, while nothing else of ours runs: the load of each generation's bundle (bench/host-load.ts)
    const loads = await measureHostLoads(hosts, plugins.noop, opts.hostLoads, log)

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

    const throughput = await measureThroughput(ctx, fixtureCtx, opts, log)
    const memory = await measureMemory(ctx, opts, log)
    const sandbox = await measureSandbox(ctx, hosts, primary, plugins, opts, log)

    // compression without the host's zlib: the WebAssembly codecs in the sandbox beside native zlib, per generation
    const compressions = await measureCompressions(client, hosts, opts, log)
    // the two roads to S3: the sandbox's fetch and aws-sdk v2's HTTP client (a 2024 host's private endpoint)
    const transport = await measureTransport(s3, { rounds: opts.reps, quick: opts.quick, log })
    const sandboxV2VsFetch = pairedRatio(sandbox.sbV2, sandbox.sbApp)
    log(`sandbox end to end, aws-sdk v2 / fetch: ${sandboxV2VsFetch.median.toFixed(2)} (events/s, paired by round)`)

    const measured = { opts, startedAt, loadAtStart, profile, hosts, primary, loads, largeBody, client, fixture, counters, throughput, memory, sandbox, compressions, transport, sandboxV2VsFetch }
    const figures = figuresOf(measured)
    const results = resultsOf(measured, figures)
    const file = writeResults(results, opts.quick)
    report(measured, figures, results, file, log)
    s3.proc.disconnect()
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
