/**
 * gzip and zstd for hosts without `zlib` (PostHog's plugin-servers from December 2023 on): the `Compressor` of
 * src/compression.ts, computed by WebAssembly inside the sandbox, event by event, in bounded memory.
 *
 * A body is a series of members (gzip members, zstd frames), each cut between lines and never larger than
 * `memberMaxBytes`, guaranteed rather than estimated: before a line goes in, the member's output so far plus the
 * codec's own worst-case bound for the input not yet written out (zlib's deflateBound, ZSTD_compressBound) must fit.
 * When it might not, the compressor first writes out what it holds (a flush: the output is then exact) and looks
 * again; only if the line still might not fit does it end the member. Flushes happen only in a member's last stretch
 * (the first when the input since the last one reaches the room left), ~20-35 per member, each costing a block
 * boundary. So a body can always be handed to the job queue by slicing at member boundaries.
 *
 * Memory: the instance's whole WebAssembly memory (gzip ~0.5 MiB, zstd level 3 ~3.5 MiB: its 2 MiB window and
 * tables) from creation until end(), plus the output kept as host Buffers; every change goes to `onChange`.
 */
import { bodyOf, type Body } from '../../../body'
import type { Compressor, Member, MemoryListener } from '../codec'
import { payloadHasher } from '../../../s3/payload-hash'
import { WasmStream, type WasmCodec } from './engine'
import { hostBufferOf } from './latin1'

/**
 * The level the module compresses at for a configured one (undefined: the module's default). Above the levels its
 * build keeps, its highest (the zstd module keeps levels 1-4: zstd-module.ts says why).
 */
export function wasmLevel(codec: WasmCodec, level?: number): number {
    return Math.min(level ?? codec.levels.default, codec.levels.max)
}

/**
 * `level`: within the module's levels (gzip 1-9, zstd 1-4), validated by the config parser; undefined for its default.
 * Throws CompressionError (engine.ts) only when the module cannot start; later failures reject end().
 */
export function createWasmCompressor(codec: WasmCodec, level: number | undefined, onChange: MemoryListener, memberMaxBytes: number): Compressor {
    const pieces: Buffer[] = []
    const members: Member[] = []
    const hasher = payloadHasher()
    let outputBytes = 0
    let failure: Error | undefined
    const keep = (memory: Uint8Array, from: number, to: number) => {
        const piece = hostBufferOf(memory, from, to)
        pieces.push(piece)
        hasher.update(piece)
        outputBytes += piece.length
        onChange(piece.length)
    }
    const stream = new WasmStream(codec, wasmLevel(codec, level), keep, onChange)

    /** the current member: where its output starts, its input so far, and the input since the last flush */
    let member: Member = { bytes: 0, events: 0 }
    let memberStart = 0
    let memberInput = 0
    let sinceFlush = 0

    /** Could `n` more bytes of input leave the current member within its limit, whatever they compress to? */
    const fits = (n: number) => stream.produced() - memberStart + stream.bound(sinceFlush + n) <= memberMaxBytes

    /** When `n` more bytes might not fit, write out what the member holds: the bound then covers only the new bytes. */
    const flushFor = (n: number) => {
        if (sinceFlush === 0 || fits(n)) return
        stream.flush()
        sinceFlush = 0
    }

    /** Make room for `n` bytes in the current member: flush, and if that is not enough, start a new member. */
    const roomFor = (n: number) => {
        if (memberInput === 0) return
        flushFor(n)
        if (!fits(n)) closeMember()
    }

    const closeMember = () => {
        stream.endMember()
        member.bytes = stream.produced() - memberStart
        members.push(member)
        member = { bytes: 0, events: 0 }
        memberStart = stream.produced()
        memberInput = 0
        sinceFlush = 0
    }

    const put = (text: string, from: number, to: number, events: number) => {
        stream.write(text, from, to)
        memberInput += to - from
        sinceFlush += to - from
        member.events += events
    }

    const fail = (error: unknown) => {
        failure = failure ?? (error instanceof Error ? error : new Error(String(error)))
        stream.release()
    }

    return {
        write(chunk, events = 0) {
            if (failure) return
            try {
                // one native call: the bytes cross the sandbox's boundary as a string (latin1.ts)
                const text = chunk.toString('latin1')
                flushFor(text.length)
                if (fits(text.length)) {
                    put(text, 0, text.length, events)
                    return
                }
                // the chunk does not fit as a whole: line by line, so the member is cut between two of its lines
                const lines = countLines(text)
                let at = 0
                let first = true
                while (at < text.length) {
                    const newline = text.indexOf('\n', at)
                    const end = newline < 0 ? text.length : newline + 1
                    roomFor(end - at)
                    // each line is one of `events` when they match; otherwise all of them go with the first line
                    put(text, at, end, lines === events ? 1 : first ? events : 0)
                    first = false
                    at = end
                }
            } catch (error) {
                fail(error)
            }
        },
        end() {
            if (!failure) {
                try {
                    // a body with no line at all is still a valid (empty) gzip member or zstd frame
                    if (memberInput > 0 || members.length === 0) closeMember()
                    stream.drain()
                    stream.release()
                } catch (error) {
                    fail(error)
                }
            }
            if (failure) return Promise.reject(failure)
            return Promise.resolve(hasher.finish(bodyOf(pieces, outputBytes)))
        },
        memoryBytes: () => outputBytes + stream.memoryBytes(),
        members: () => members.slice(),
    }
}

/** Newline-terminated lines in a text (a last line without its newline counts too). */
function countLines(text: string): number {
    let lines = 0
    let at = text.indexOf('\n')
    while (at >= 0) {
        lines++
        at = text.indexOf('\n', at + 1)
    }
    return text.length > 0 && text[text.length - 1] !== '\n' ? lines + 1 : lines
}

/**
 * A whole input as one member at once, synchronously (what compressSmall and compressWhole of src/compression.ts
 * do with the host's zlib): for a small batch sealed at once, or a Parquet batch that falls back to JSON lines.
 * Its instance is released before it returns.
 */
export function compressWholeWasm(codec: WasmCodec, input: Buffer, level?: number): Buffer {
    const pieces: Buffer[] = []
    const stream = new WasmStream(codec, wasmLevel(codec, level), (memory, from, to) => void pieces.push(hostBufferOf(memory, from, to)), () => undefined)
    try {
        stream.write(input.toString('latin1'))
        stream.endMember()
        stream.drain()
    } finally {
        stream.release()
    }
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces)
}
