/**
 * Compression without the host's zlib: the WebAssembly codecs (src/formats/codecs/wasm/) measured where they run,
 * inside the local plugin-server's sandbox (dev/wasm-probe/, under the given host profile; measureCompressions asks for
 * each generation's: the 2024 host refuses an app importing zlib, so there the probe is built without it), beside the host's
 * native zlib measured outside the sandbox on the same input, and what they would cost the bundle. Prints:
 *   compression: codec=gzip-wasm mb_s=<median> ratio=<x> where=sandbox:<profile>
 *   compression: codec=zstd-wasm mb_s=<median> ratio=<x> where=sandbox:<profile>
 *   compression: codec=gzip-native mb_s=<median> ratio=<x> where=outside
 *   compression: codec=gzip-native mb_s=<median> ratio=<x> where=sandbox:<profile>   (hosts that still give zlib)
 *   compression_events: profile=<p> none=<events/s> gzip_native=<events/s> gzip_wasm=<events/s> wasm_vs_native=<x>
 *                       cpu_us_per_event: none=<µs> gzip_native=<µs> gzip_wasm=<µs>   (process CPU, zlib's threads included)
 *   compression_bundle: profile=<p> app_kb=<n> gzip_kb=<n> babel_ms_app=<n> babel_ms_app_gzip=<n>   (same)
 *     (the classic bundle, which carries the zstd module already, and what the gzip module would add to it: one
 *     bundle for every host)
 * mb_s and ratio: the bench's pool of client events (10,000 of them in a quick run) as JSON lines in 64 KiB chunks of whole lines (how the jsonl format
 * hands text to its compressor), one compressor per run from the first write to the body, median of the runs.
 * compression_events: onEvent (JSON line, 64 KiB chunks, compressor) of fresh client events, each awaited, then the
 * body: the app's per-event path without its buffer and upload, as events/s; `none` makes the lines and drops them.
 */
import { mkdirSync } from 'fs'
import path from 'path'

import * as esbuild from 'esbuild'

import { joinBody } from '../src/body'
import { CODECS } from '../src/formats/codecs/registry'
import { loadPluginInSandbox, type LoadedPlugin } from '../dev/sandbox'
import { ALLOWLISTS } from '../dev/sandbox/allowlist'
import { resolveHostProfile, type HostProfileName } from '../dev/sandbox/profile'
import { transformPluginCode } from '../dev/sandbox/transform'
import { buildWasmProbe } from '../dev/wasm-probe/build'
import type { EventCase } from './events'
import type { BenchHost } from './hosts'
import { spread } from './stats'

const OUT = path.join(__dirname, 'out')
const ROOT = path.join(__dirname, '..')
const CHUNK_BYTES = 64 * 1024

export interface CompressionFigures {
    lines: string[]
    results: Record<string, unknown>
}

/** Lines of the events in 64 KiB chunks of whole lines, and how many events each chunk holds. */
function chunksOf(events: unknown[]): { chunks: Buffer[]; perChunk: number; rawBytes: number } {
    const chunks: Buffer[] = []
    let text = ''
    let inChunk = 0
    let perChunk = 0
    for (const event of events) {
        text += JSON.stringify(event) + '\n'
        inChunk++
        if (text.length >= CHUNK_BYTES) {
            chunks.push(Buffer.from(text))
            perChunk = Math.max(perChunk, inChunk)
            text = ''
            inChunk = 0
        }
    }
    if (text) chunks.push(Buffer.from(text))
    return { chunks, perChunk, rawBytes: chunks.reduce((n, c) => n + c.length, 0) }
}

interface Finished {
    body: Buffer
    ms: number
}

/** The host's zlib outside the sandbox: the app's streaming compressor (src/compression.ts) on the same chunks. */
async function nativeOutside(chunks: Buffer[]): Promise<{ ms: number; bytes: number }> {
    const started = process.hrtime.bigint()
    const compressor = CODECS.gzip.compressor(CODECS.gzip.levels.default)
    for (const chunk of chunks) compressor.write(chunk)
    const body = joinBody(await compressor.end())
    return { ms: Number(process.hrtime.bigint() - started) / 1e6, bytes: body.length }
}

/** Median MB/s and the ratio of each codec, runs interleaved so drift hits each alike. */
async function throughput(probe: LoadedPlugin, events: unknown[], reps: number, withNative: boolean) {
    const { chunks, rawBytes } = chunksOf(events)
    const codecs = ['gzip-wasm', 'zstd-wasm', ...(withNative ? ['gzip-native'] : [])]
    const runs: Record<string, { mbS: number[]; ratio: number }> = {}
    for (let rep = 0; rep < reps; rep++) {
        for (const codec of codecs) {
            const out = (await probe.exported.compressChunks(codec, chunks, 0, 0)) as Finished
            const r = (runs[codec] ??= { mbS: [], ratio: rawBytes / out.body.length })
            r.mbS.push(rawBytes / 1e6 / (Math.max(1, out.ms) / 1000))
        }
        const native = await nativeOutside(chunks)
        const r = (runs['gzip-native-outside'] ??= { mbS: [], ratio: rawBytes / native.bytes })
        r.mbS.push(rawBytes / 1e6 / (native.ms / 1000))
    }
    return { rawBytes, runs }
}

/** events/s of onEvent → JSON line → 64 KiB chunk → compressor, then the body, per codec (fresh events each run). */
async function eventsPerSecond(probeDir: string, profile: HostProfileName, fresh: (n: number) => unknown[], n: number, reps: number, codecs: string[]) {
    const rates: Record<string, number[]> = {}
    const cpuUs: Record<string, number[]> = {}
    for (let rep = 0; rep < reps; rep++) {
        for (const codec of codecs) {
            const plugin = await loadPluginInSandbox({ pluginDir: probeDir, config: { codec, coalesceBytes: String(CHUNK_BYTES) }, hostProfile: profile, log: () => undefined })
            await plugin.methods.setupPlugin!()
            const events = fresh(n)
            const cpu = process.cpuUsage()
            const started = process.hrtime.bigint()
            for (const event of events) await plugin.methods.onEvent!(event)
            await plugin.exported.finish()
            const ms = Number(process.hrtime.bigint() - started) / 1e6
            const used = process.cpuUsage(cpu)
            ;(rates[codec] ??= []).push(n / (ms / 1000))
            // the whole process's CPU (zlib's thread pool included): on a shared machine steadier than wall time
            ;(cpuUs[codec] ??= []).push((used.user + used.system) / n)
            plugin.dispose()
        }
    }
    return { rates, cpuUs }
}

/** Median Babel ms of each source under the profile, in a rotating order (the first round warms up and is dropped). */
function babelMs(sources: Record<string, string>, profile: HostProfileName, reps: number): Record<string, number> {
    const times: Record<string, number[]> = {}
    const all = Object.entries(sources)
    for (let rep = 0; rep <= reps; rep++) {
        for (const [name, code] of all.map((_, k) => all[(k + rep) % all.length])) {
            const ms = transformPluginCode(code, { hostProfile: profile }).transformMs
            if (rep > 0) (times[name] ??= []).push(ms)
        }
    }
    return Object.fromEntries(Object.entries(times).map(([name, t]) => [name, spread(t).median]))
}

/** The gzip codec as it would enter the classic bundle (minified as scripts/build.mjs does). */
async function gzipBundlePart(): Promise<string> {
    // minified as scripts/build.mjs does
    const part = async (contents: string) =>
        (
            await esbuild.build({
                stdin: { contents, resolveDir: ROOT, loader: 'ts' },
                bundle: true,
                platform: 'browser',
                format: 'iife',
                target: 'es2020',
                minify: true,
                legalComments: 'none',
                external: ['crypto'],
                write: false,
                logLevel: 'warning',
            })
        ).outputFiles[0].text
    // its module and its codec; the engine it shares with zstd's is counted too, so this is an upper bound
    return part(`export { gzip } from './src/formats/codecs/wasm/gzip'`)
}

/** The classic bundle's Babel pass alone and with the gzip codec added, under the profile. */
async function bundleCost(profile: HostProfileName, reps: number) {
    const base = (await import('../scripts/build.mjs' as string)) as { build(o: { write: boolean }): Promise<{ code: string }> }
    const app = (await base.build({ write: false })).code
    const gzip = await gzipBundlePart()
    return { app, gzip, babel: babelMs({ app, appGzip: app + gzip }, profile, reps) }
}

export async function measureCompression(client: EventCase, profile: HostProfileName, opts: { quick: boolean; reps: number }): Promise<CompressionFigures> {
    mkdirSync(OUT, { recursive: true })
    // the host's own allowlist for the profile: 1.10.5 still provides zlib, so the native codec runs beside the others;
    // the 2024 host refuses to load an app importing zlib at all, so there the probe is built without it
    const withZlib = ALLOWLISTS[resolveHostProfile(profile).generation.allowlist].includes('zlib')
    const native = withZlib
        ? await buildWasmProbe(path.join(OUT, 'wasm-probe-native'), { native: true })
        : await buildWasmProbe(path.join(OUT, 'wasm-probe-no-zlib'))
    const probe = await loadPluginInSandbox({ pluginDir: native.dir, config: {}, hostProfile: profile, log: () => undefined })
    const hasZlib = await probe.exported.compressChunks('gzip-native', [Buffer.from('{}\n')], 1, 0).then(
        () => true,
        () => false
    )
    const reps = Math.max(3, Math.min(opts.reps, 5))
    // the pool the bench's gzip_ratio is taken from (the first events of it in a quick run)
    const events = client.pool.slice(0, opts.quick ? 10_000 : client.pool.length)
    const { rawBytes, runs } = await throughput(probe, events, reps, hasZlib)
    probe.dispose()
    const nEvents = opts.quick ? 2_000 : 10_000
    const { rates, cpuUs } = await eventsPerSecond(native.dir, profile, (n) => client.fresh(n), nEvents, reps, hasZlib ? ['none', 'gzip-native', 'gzip-wasm'] : ['none', 'gzip-wasm'])

    // what the codecs would add to the classic bundle's Babel pass; a host without zlib refuses that bundle (the one it
    // installs, posthog-2024/index.js, has them already: its load is its `host:` line)
    const bundle = withZlib ? await bundleCost(profile, opts.quick ? 3 : 5) : undefined

    const med = (xs: number[]) => spread(xs).median
    const lines: string[] = []
    const line = (codec: string, key: string, where: string) => {
        const r = runs[key]
        if (r) lines.push(`compression: codec=${codec} mb_s=${med(r.mbS).toFixed(1)} ratio=${r.ratio.toFixed(2)} where=${where}`)
    }
    line('gzip-wasm', 'gzip-wasm', `sandbox:${profile}`)
    line('zstd-wasm', 'zstd-wasm', `sandbox:${profile}`)
    line('gzip-native', 'gzip-native-outside', 'outside')
    line('gzip-native', 'gzip-native', `sandbox:${profile}`)
    const rate = (codec: string) => (rates[codec] ? Math.round(med(rates[codec])) : NaN)
    const cpu = (codec: string) => (cpuUs[codec] ? Math.round(med(cpuUs[codec])) : NaN)
    lines.push(
        `compression_events: profile=${profile} none=${rate('none')} gzip_native=${hasZlib ? rate('gzip-native') : 'n/a'} gzip_wasm=${rate('gzip-wasm')}` +
            (hasZlib ? ` wasm_vs_native=${(rate('gzip-wasm') / rate('gzip-native')).toFixed(2)}` : '') +
            ` cpu_us_per_event: none=${cpu('none')} gzip_native=${hasZlib ? cpu('gzip-native') : 'n/a'} gzip_wasm=${cpu('gzip-wasm')}`
    )
    if (bundle) {
        const { app, gzip, babel } = bundle
        lines.push(
            `compression_bundle: profile=${profile} app_kb=${Math.round(app.length / 1024)} gzip_kb=${Math.round(gzip.length / 1024)} ` +
                `babel_ms_app=${Math.round(babel.app)} babel_ms_app_gzip=${Math.round(babel.appGzip)}`
        )
    }
    return {
        lines,
        results: {
            rawBytes,
            runs,
            eventsPerSecond: { events: nEvents, rates, cpuUsPerEvent: cpuUs },
            bundle: bundle && { appKb: bundle.app.length / 1024, gzipKb: bundle.gzip.length / 1024, babelMs: bundle.babel },
        },
    }
}

/**
 * Compression without the host's zlib, under each generation's profile: the 2024 bundle is the one that compresses
 * with the WebAssembly codecs (issue 22's targets are there), the classic host still gives zlib, so its lines also
 * hold native zlib inside the sandbox.
 */
export async function measureCompressions(client: EventCase, hosts: BenchHost[], opts: { quick: boolean; reps: number }, log: (message: string) => void) {
    const compressions = []
    for (const h of hosts) {
        const c = await measureCompression(client, h.profile, opts)
        compressions.push({ profile: h.profile, ...c })
        log(c.lines.join('; '))
    }
    return compressions
}
