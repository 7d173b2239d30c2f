/**
 * A codec: how a body's bytes are compressed (gzip / brotli / zstd / none). It carries what an object says about it
 * (its file extension and Content-Encoding), whether its members concatenate, what an open stream costs in memory,
 * and a streaming Compressor. The registry (registry.ts) holds one entry per codec; the `compression` setting
 * chooses one by its `setting` text.
 */
import type { Body } from '../../body'

/**
 * Bodies are written as a series of independent members (gzip members; zstd frames; plain text for `none`), each cut
 * at a line boundary before it passes this many compressed bytes: a member fits one job payload (spill.ts: 900,000
 * bytes of JSON, base64 = 4/3 of the body, with room for the key and metadata), so handing a big batch to the job
 * queue is slicing at member boundaries, never decompressing or compressing again. gunzip, zstd, DuckDB, Athena and
 * Spark read concatenated members as one stream. Brotli has no such framing (node's brotliDecompress silently stops
 * after the first stream), so a brotli body stays one stream and is cut by re-compressing (formats/lines.ts).
 */
export const MEMBER_MAX_BYTES = 640 * 1024

/** One member of a body: its compressed size and the events (whole lines) in it. */
export interface Member {
    bytes: number
    events: number
}

/** Called with every change of a compressor's memoryBytes(), so an owner can keep a running total. */
export type MemoryListener = (deltaBytes: number) => void

export interface Compressor {
    /** Queue bytes (whole lines: `events` of them) for compression. Takes a host Buffer (made with Buffer.from) so it crosses into zlib as is. */
    write(chunk: Buffer, events?: number): void
    /** Finish the stream; resolves with the whole compressed body (a large one in pieces: body.ts says why). */
    end(): Promise<Body>
    /** bytes this compressor holds right now: output so far, input not yet compressed, and (until end) its state */
    memoryBytes(): number
    /** the body's members in order, once end() resolved */
    members(): Member[]
}

export interface Codec {
    /** the `compression` setting's choice that picks it (plugin.json lists the same texts) */
    readonly setting: string
    /** appended to the format's extension ('.gz'); '' for none */
    readonly extension: string
    /** the object's Content-Encoding; undefined: none is sent */
    readonly contentEncoding?: string
    /** the levels the `compressionLevel` setting accepts and its default; undefined: the codec has none */
    readonly levels?: { readonly min: number; readonly max: number; readonly default: number }
    /** why the levels stop where they do, when a user might expect more (told with a level out of range) */
    readonly levelsNote?: string
    /** decoders read concatenated members as one stream: a body is cut into members, and split by slicing */
    readonly concatenates: boolean
    /** native memory one open stream holds besides its output (counted against the memory limit) */
    readonly streamStateBytes: number
    /** it runs only on the host's zlib (no WebAssembly build stands in for it where a PostHog has none) */
    readonly hostZlibOnly?: boolean
    /** why this host cannot use the codec (named at setup), or undefined when it can */
    unavailable(): string | undefined
    /** a streaming compressor at `level` (a level from `levels`: the config parser resolved it) */
    compressor(level: number, onChange?: MemoryListener, memberMaxBytes?: number): Compressor
    /** compress a small input now, on the event loop; throws what the codec throws */
    compressNow(input: Buffer, level: number): Buffer
    /** compress a whole input off the event loop where the codec can (a body cut into parts for the job queue) */
    compress(input: Buffer, level: number): Promise<Buffer>
    decompress(body: Buffer): Promise<Buffer>
}
