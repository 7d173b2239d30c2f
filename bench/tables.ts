/**
 * What a run shows: the tables and notes (one set of cells), printed with the `compression:`, `transport:`, `host:`
 * and `bench:` lines after them, and the README's marked section a full run rewrites from the same tables.
 */
import path from 'path'

import { GZIP_LEVEL } from './events'
import { SETTLE_MS } from './host-load'
import { fmt, fmtSpread, hostLine, mdTable, ratioCells, summarize, table, writeReadmeSection, type Summary } from './report'
import { ROOT, type Figures, type Measured, type Results } from './results'
import { spread } from './stats'
import { transportLine } from './transport'

/** The cells of every table and the notes, for the console and the README alike. */
function tablesOf(m: Measured, f: Figures, results: Results) {
    const { opts, profile, client, fixture, loadAtStart, primary } = m
    const { memApp, memNaive } = m.memory
    const { others } = m.sandbox
    const { appVsCeiling, appVsNaive, cpuVsCeiling, busyVsCeiling, processCpuVsCeiling, capSummary, appVsNaive10, maxStallMs, ceilingMaxStallMs } = f
    const { memAppSpread, noop, strf, sbSummary, onEventVsFloor, noBufferVsFloor, firstMinutesVsFloor, perHost, hostLoad } = f
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
    return { heading, targetRows, throughputHeaders, throughputRows, ratioRows, costRows, capHeaders, capRows, memHeaders, memRows, hostNotes }
}

/** Prints the tables, then the closing lines; a full run also rewrites the README's section. */
export function report(m: Measured, f: Figures, results: Results, file: string, log: (message: string) => void): void {
    const { opts, client, largeBody, compressions, transport, sandboxV2VsFetch } = m
    const { appVsCeiling, appVsNaive, cpuVsCeiling, appVsNaive10, maxStallMs, memAppSpread, perHost } = f
    const { heading, targetRows, throughputHeaders, throughputRows, ratioRows, costRows, capHeaders, capRows, memHeaders, memRows, hostNotes } = tablesOf(m, f, results)

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
}
