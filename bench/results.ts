/**
 * From the runs to the figures (paired ratios, per-host figures against their floor) and to results.json
 * (bench/out/results-quick.json for --quick): its shape is what the README's tables and the closing lines read.
 */
import { spawnSync } from 'child_process'
import { writeFileSync } from 'fs'
import os from 'os'
import path from 'path'

import { packageVersion, resolveHostProfile, type HostProfile, type HostProfileName } from '../dev/sandbox/profile'
import type { CaseContext, RunResult } from './cases'
import type { CompressionFigures } from './compression'
import { GZIP_LEVEL, POOL_SIZE, type EventCase } from './events'
import type { HostLoads } from './host-load'
import type { BenchHost } from './hosts'
import type { MemoryRuns } from './memory'
import { METHOD } from './method'
import { CAPS_MB, type Options } from './options'
import { pairedRatio, summarize, type HostFigures } from './report'
import type { SandboxRuns } from './sandbox'
import { spread, type Spread } from './stats'
import type { ThroughputRuns } from './throughput'
import type { TransportCase } from './transport'

export const ROOT = path.join(__dirname, '..')
export const OUT = path.join(__dirname, 'out')

function git(args: string[]): string {
    const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trim() : ''
}

/** Everything one run measured, phase by phase (bench/run.ts gathers it). */
export interface Measured {
    opts: Options
    startedAt: number
    loadAtStart: number[]
    profile: HostProfile
    hosts: BenchHost[]
    primary: BenchHost
    loads: HostLoads
    largeBody: { builtinFetch: string; nodeFetch: string }
    client: EventCase
    fixture: EventCase
    counters: CaseContext['counters']
    throughput: ThroughputRuns
    memory: MemoryRuns
    sandbox: SandboxRuns
    compressions: Array<{ profile: HostProfileName } & CompressionFigures>
    transport: TransportCase[]
    sandboxV2VsFetch: Spread
}

/** The ratios and summaries the results, the tables and the closing lines state: every one paired by round or a spread. */
export function figuresOf(m: Measured) {
    const { hosts, primary, loads } = m
    const { ceiling, naive, app, capApp, capNaive } = m.throughput
    const { memApp } = m.memory
    const { sbApp, sbNoop, sbStringify, sbNoBuffer, sbFirstMinutes, others } = m.sandbox
    const opts = m.opts
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
    const { app: hostLoad, noop: noopLoad } = loads.get(primary)!
    return {
        appVsCeiling,
        appVsNaive,
        cpuVsCeiling,
        busyVsCeiling,
        processCpuVsCeiling,
        capSummary,
        appVsNaive10,
        appVsNaive1,
        maxStallMs,
        ceilingMaxStallMs,
        memAppSpread,
        noop,
        strf,
        sbSummary,
        onEventVsFloor,
        noBufferVsFloor,
        firstMinutesVsFloor,
        perHost,
        hostLoad,
        noopLoad,
    }
}

export type Figures = ReturnType<typeof figuresOf>

/** results.json: the options, the method, every summary and ratio, the targets and whether they were met. */
export function resultsOf(m: Measured, f: Figures) {
    const { opts, startedAt, loadAtStart, profile, primary, largeBody, client, fixture, counters, compressions, transport, sandboxV2VsFetch } = m
    const { ceiling, naive, app, naiveSink, appSink, fxCeiling, fxNaive, fxApp, capApp } = m.throughput
    const { memApp, memNaive } = m.memory
    const { sbV2 } = m.sandbox
    const { appVsCeiling, appVsNaive, cpuVsCeiling, busyVsCeiling, processCpuVsCeiling, capSummary, appVsNaive10, appVsNaive1, maxStallMs, ceilingMaxStallMs } = f
    const { memAppSpread, noop, strf, sbSummary, onEventVsFloor, noBufferVsFloor, firstMinutesVsFloor, perHost, hostLoad, noopLoad } = f
    const compression = compressions.find((c) => c.profile === primary.profile)!
    return {
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
}

export type Results = ReturnType<typeof resultsOf>

/** Writes results.json (a full run) or bench/out/results-quick.json (--quick); returns the file's path. */
export function writeResults(results: Results, quick: boolean): string {
    const file = quick ? path.join(OUT, 'results-quick.json') : path.join(__dirname, 'results.json')
    writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
    return file
}
