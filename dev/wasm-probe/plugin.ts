/**
 * A test plugin for the WebAssembly codecs (src/formats/codecs/wasm/): loaded into the local plugin-server like the
 * app, it compresses what it is given inside the sandbox, so tests and the bench see the codecs behind the host's
 * Babel pass, loop guard, vm2 realm and import allowlist. Built by dev/wasm-probe/build.ts (with `native`, the
 * host's zlib through src/compression.ts as well: that build needs a host that still provides `zlib`).
 *
 * onEvent does what the app's per-event path does: the JSON line, made once, into a host Buffer, written to the
 * compressor (`codec` setting: gzip-wasm, zstd-wasm, gzip-native, or none to measure the rest alone), one event at a
 * time or, with `coalesceBytes`, in chunks of that many bytes of whole lines as the jsonl format hands them over;
 * `finish` ends it and hands the body back.
 */
import type { Compressor } from '../../src/formats/codecs/codec'
import { createWasmCompressor } from '../../src/formats/codecs/wasm/compressor'
import { GZIP_MODULE } from '../../src/formats/codecs/wasm/gzip-module'
import { ZSTD_MODULE } from '../../src/formats/codecs/wasm/zstd-module'
import { pageCompressor } from '../../src/formats/codecs/wasm/page'
import { nativeCompressor } from './native'

/** MEMBER_MAX_BYTES of src/compression.ts (not imported: that module imports zlib) */
const MEMBER_MAX_BYTES = 640 * 1024

interface Meta {
    config: Record<string, string>
    global: { compressor?: Compressor; memory: number; peak: number; events: number; pending: string; pendingEvents: number }
}

/** `none`: lines are made and dropped (what the other codecs cost is then the difference) */
function dropping(): Compressor {
    return { write: () => undefined, end: () => Promise.resolve(Buffer.alloc(0)), memoryBytes: () => 0, members: () => [] }
}

function open(codec: string, memberMaxBytes: number, state: { memory: number; peak: number }): Compressor {
    const onChange = (delta: number) => {
        state.memory += delta
        if (state.memory > state.peak) state.peak = state.memory
    }
    if (codec === 'gzip-wasm') return createWasmCompressor(GZIP_MODULE, undefined, onChange, memberMaxBytes)
    if (codec === 'zstd-wasm') return createWasmCompressor(ZSTD_MODULE, undefined, onChange, memberMaxBytes)
    if (codec === 'gzip-native' && nativeCompressor) return nativeCompressor('gzip', onChange, memberMaxBytes)
    if (codec === 'none') return dropping()
    throw new Error(`this probe has no codec ${codec}`)
}

export function setupPlugin(meta: Meta): void {
    meta.global.memory = 0
    meta.global.peak = 0
    meta.global.events = 0
    meta.global.pending = ''
    meta.global.pendingEvents = 0
}

function compressorOf(meta: Meta): Compressor {
    const state = meta.global
    if (!state.compressor) state.compressor = open(meta.config.codec, Number(meta.config.memberMaxBytes || MEMBER_MAX_BYTES), state)
    return state.compressor
}

/** lines held back until they make a chunk (coalesceBytes), handed over now */
function handOver(meta: Meta): void {
    const state = meta.global
    if (state.pending.length === 0) return
    compressorOf(meta).write(Buffer.from(state.pending), state.pendingEvents)
    state.pending = ''
    state.pendingEvents = 0
}

export function onEvent(event: unknown, meta: Meta): void {
    const state = meta.global
    const line = JSON.stringify(event) + '\n'
    state.events++
    const coalesce = Number(meta.config.coalesceBytes || 0)
    if (coalesce === 0) {
        compressorOf(meta).write(Buffer.from(line), 1)
        return
    }
    state.pending += line
    state.pendingEvents++
    if (state.pending.length >= coalesce) handOver(meta)
}

/** What finish() and compressChunks() hand back (tests and the bench read it). */
export interface Finished {
    body: Buffer
    members: Array<{ bytes: number; events: number }>
    peakBytes: number
    /** memoryBytes() after end(): the output only */
    heldBytes: number
    /** the sum of every onChange delta after end(): must equal heldBytes */
    countedBytes: number
    events: number
    ms: number
}

function finished(compressor: Compressor, state: { memory: number; peak: number; events: number }, started: number): Promise<Finished> {
    return compressor.end().then((body) => {
        const pieces = (body as { pieces?: Buffer[] }).pieces
        return {
            body: pieces ? Buffer.concat(pieces) : (body as Buffer),
            members: compressor.members(),
            peakBytes: state.peak,
            heldBytes: compressor.memoryBytes(),
            countedBytes: state.memory,
            events: state.events,
            ms: Date.now() - started,
        }
    })
}

/** Ends the compressor onEvent fed. */
export function finish(meta: Meta): Promise<Finished> {
    const state = meta.global
    handOver(meta)
    const compressor = compressorOf(meta)
    state.compressor = undefined
    return finished(compressor, state, Date.now())
}

/**
 * Compresses host Buffers of whole lines (`eventsPerChunk` each) with a fresh compressor: the codec alone, timed
 * inside the sandbox from the first write to the body.
 */
export function compressChunks(codec: string, chunks: Buffer[], eventsPerChunk: number, memberMaxBytes: number): Promise<Finished> {
    const state = { memory: 0, peak: 0, events: 0 }
    const started = Date.now()
    const compressor = open(codec, memberMaxBytes || MEMBER_MAX_BYTES, state)
    for (const chunk of chunks) {
        compressor.write(chunk, eventsPerChunk)
        state.events += eventsPerChunk
    }
    return finished(compressor, state, started)
}

/** A Parquet page's way: bytes of this realm in, bytes of this realm out; the result crosses back as latin1. */
export function compressPage(codec: 'gzip' | 'zstd', text: string): string {
    const page = new Uint8Array(text.length)
    for (let i = 0; i < text.length; i++) page[i] = text.charCodeAt(i)
    const out = pageCompressor(codec === 'gzip' ? GZIP_MODULE : ZSTD_MODULE)(page)
    let binary = ''
    for (let i = 0; i < out.length; i++) binary += String.fromCharCode(out[i])
    return binary
}
