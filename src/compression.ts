/**
 * gzip / brotli / zstd / none as a streaming compressor: events are compressed while they are buffered (~173 B per
 * buffered 1.2 KB event with gzip instead of ~1.3 KB), and the work runs on the host's zlib thread pool, so sealing
 * a batch never blocks the event loop the way gzipSync of a whole batch did (only a batch of at most
 * SMALL_BODY_BYTES of text is compressed at once, on the event loop: below).
 */
import * as zlib from 'zlib'
import { bodyOf, type Body } from './body'
import { payloadHasher } from './s3/payload-hash'

/** The codecs of the jsonl format (the `compression` setting: config.ts maps its choices onto these). */
export type Compression = 'gzip' | 'brotli' | 'zstd' | 'none'

export const GZIP_LEVEL = 6
/** brotli's default quality 11 compresses at ~0.6 MB/s; 5 keeps ~70 MB/s at a ratio close to gzip 9's */
export const BROTLI_QUALITY = 5
export const ZSTD_LEVEL = 3

/** zlib's options for compressing at `level` (the compression's default when undefined): streams and one-shots alike. */
function compressOptions(compression: Exclude<Compression, 'none'>, level?: number): Record<string, unknown> {
    const constants = zlib.constants as unknown as Record<string, number>
    if (compression === 'gzip') return { level: level ?? GZIP_LEVEL }
    if (compression === 'zstd') return { params: { [constants.ZSTD_c_compressionLevel]: level ?? ZSTD_LEVEL } }
    return { params: { [constants.BROTLI_PARAM_QUALITY]: level ?? BROTLI_QUALITY, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT } }
}

/** Node ≥ 22.15 only (the config parser refuses zstd elsewhere); typed loosely because @types/node 20 lacks it. */
function createZstd(level?: number): zlib.Gzip {
    const z = zlib as unknown as { createZstdCompress(o: object): zlib.Gzip }
    return z.createZstdCompress({ chunkSize: CHUNK_BYTES, ...compressOptions('zstd', level) })
}

/**
 * zlib output chunks of 64 KiB. Each open stream allocates one such chunk up front, and with partitioned layouts a
 * thread may hold hundreds of open streams: 1 MiB chunks made 32 open partitions cost 32 MiB that nothing counted.
 * Inputs are written in ≥ 64 KiB pieces compressing ~6×, so one write still yields only a few callbacks.
 */
export const CHUNK_BYTES = 64 * 1024

/**
 * Native memory an open stream holds besides its output (measured as RSS per stream on Node 20, 64 KiB chunks):
 * deflate's window and hash chains ~290 KiB; brotli quality ≤ 9 with its default window ~1.4 MiB; zstd level 3
 * ~1.3 MiB. zlib allocates it outside V8, so process.memoryUsage() does not show it, but RSS does.
 */
export const STREAM_STATE_BYTES: Record<Compression, number> = {
    gzip: 320 * 1024 + CHUNK_BYTES,
    brotli: 1536 * 1024 + CHUNK_BYTES,
    zstd: 1536 * 1024 + CHUNK_BYTES,
    none: 0,
}

/** zlib.crc32 exists from Node 20.15 / 22.2: the host's Node decides, so the config parser asks. */
export function hostHasCrc32(): boolean {
    return typeof (zlib as { crc32?: unknown }).crc32 === 'function'
}

/** zstd joined Node's zlib in 22.15 / 23.8; an npm zstd is a native addon the host's import allowlist refuses. */
export function hostHasZstd(): boolean {
    return typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function'
}

export interface FileFormat {
    extension: string
    contentType: string
    contentEncoding?: string
}

export function fileFormat(compression: Compression): FileFormat {
    if (compression === 'gzip') return { extension: '.jsonl.gz', contentType: 'application/x-ndjson', contentEncoding: 'gzip' }
    if (compression === 'brotli') return { extension: '.jsonl.br', contentType: 'application/x-ndjson', contentEncoding: 'br' }
    if (compression === 'zstd') return { extension: '.jsonl.zst', contentType: 'application/x-ndjson', contentEncoding: 'zstd' }
    return { extension: '.jsonl', contentType: 'application/x-ndjson' }
}

/**
 * Bodies are written as a series of independent members (gzip members; zstd frames; plain text for `none`), each cut
 * at a line boundary before it passes this many compressed bytes: a member fits one job payload (spill.ts: 900,000
 * bytes of JSON, base64 = 4/3 of the body, with room for the key and metadata), so handing a big batch to the job
 * queue is slicing at member boundaries, never decompressing or compressing again. gunzip, zstd, DuckDB, Athena and
 * Spark read concatenated members as one stream. Brotli has no such framing (node's brotliDecompress silently stops
 * after the first stream), so a brotli body stays one stream and is cut by re-compressing (formats.ts).
 */
export const MEMBER_MAX_BYTES = 640 * 1024

/** Codecs whose decoders read concatenated members as one stream. */
export function membersConcatenate(compression: Compression): boolean {
    return compression !== 'brotli'
}

/** One member of a body: its compressed size and the events (whole lines) in it. */
export interface Member {
    bytes: number
    events: number
}

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

/** Called with every change of a compressor's memoryBytes(), so an owner can keep a running total. */
export type MemoryListener = (deltaBytes: number) => void

/** Compressed / raw size assumed for input before any of it has come out of the compressor. */
const UNSEEN_RATIO = 0.5

/** Room kept below MEMBER_MAX_BYTES for a member's framing (header, the last block, trailer). */
const MEMBER_MARGIN_BYTES = 1024

/** Stores chunks as they are: the `none` compression (members are runs of chunks, measured exactly). */
function passThrough(onChange: MemoryListener, memberMaxBytes: number): Compressor {
    const chunks: Buffer[] = []
    const members: Member[] = []
    const hasher = payloadHasher()
    let bytes = 0
    return {
        write(chunk, events = 0) {
            const last = members[members.length - 1]
            if (!last || (last.bytes > 0 && last.bytes + chunk.length > memberMaxBytes)) members.push({ bytes: 0, events: 0 })
            const member = members[members.length - 1]
            member.bytes += chunk.length
            member.events += events
            chunks.push(chunk)
            hasher.update(chunk)
            bytes += chunk.length
            onChange(chunk.length)
        },
        end() {
            return Promise.resolve(hasher.finish(bodyOf(chunks, bytes)))
        },
        memoryBytes: () => bytes,
        members: () => members.filter((m) => m.bytes > 0),
    }
}

/** One zlib stream of a body: a member. */
interface Segment {
    stream: zlib.Gzip
    chunks: Buffer[]
    /** chunks already given to the body's hash (members are hashed in order, whichever finishes first) */
    hashed: number
    outputBytes: number
    inputBytes: number
    flushedInput: number
    events: number
    ended: boolean
    done: Promise<void>
}

/**
 * `level`: gzip 1-9 (default 6), brotli quality 0-9 (default 5), zstd 1-19 (default 3); validated by the config
 * parser. `memberMaxBytes`: where members are cut (MEMBER_MAX_BYTES), for the codecs whose members concatenate;
 * brotli is one stream.
 */
export function createCompressor(compression: Compression, level?: number, onChange: MemoryListener = () => undefined, memberMaxBytes = MEMBER_MAX_BYTES): Compressor {
    if (compression === 'none') return passThrough(onChange, memberMaxBytes)
    const open = (): zlib.Gzip =>
        compression === 'gzip'
            ? zlib.createGzip({ chunkSize: CHUNK_BYTES, ...compressOptions('gzip', level) })
            : compression === 'zstd'
            ? createZstd(level)
            : zlib.createBrotliCompress({ chunkSize: CHUNK_BYTES, ...compressOptions('brotli', level) })
    const cuts = membersConcatenate(compression)
    const segments: Segment[] = []
    // the upload signs the body's hash: taken piece by piece here instead of all at once before the upload
    const hasher = payloadHasher()
    let hashing = 0
    /** hash what has arrived, member by member in order: a later member may finish before an earlier one */
    const catchUp = () => {
        while (hashing < segments.length) {
            const s = segments[hashing]
            for (; s.hashed < s.chunks.length; s.hashed++) hasher.update(s.chunks[s.hashed])
            if (!s.ended) return
            hashing++
        }
    }
    let outputBytes = 0
    let unflushed = 0
    /** input whose output has come out, and the output by then: the ratio members are cut by */
    let flushedTotal = 0
    let flushedOutput = 0
    let stateBytes = 0
    let failure: Error | undefined
    const start = (): Segment => {
        const stream = open()
        const state = STREAM_STATE_BYTES[compression]
        stateBytes += state
        onChange(state)
        let released = false
        const release = () => {
            if (released) return
            released = true
            stateBytes -= state
            onChange(-state)
        }
        const segment: Segment = { stream, chunks: [], hashed: 0, outputBytes: 0, inputBytes: 0, flushedInput: 0, events: 0, ended: false, done: Promise.resolve() }
        stream.on('data', (chunk: Buffer) => {
            segment.chunks.push(chunk)
            segment.outputBytes += chunk.length
            outputBytes += chunk.length
            onChange(chunk.length)
            if (segments[hashing] === segment) catchUp()
        })
        segment.done = new Promise<void>((resolve, reject) => {
            stream.on('end', () => {
                release()
                segment.ended = true
                catchUp()
                resolve()
            })
            // Without a listener an 'error' event would crash the host process; end() reports it instead.
            stream.on('error', (error: Error) => {
                failure = failure ?? error
                release()
                reject(error)
            })
        })
        // handled by end(); a member that fails before end() must not be an unhandled rejection meanwhile
        segment.done.catch(() => undefined)
        segments.push(segment)
        return segment
    }
    let current = start()
    return {
        write(chunk, events = 0) {
            // Cut before this chunk could carry the member past its limit. Input not yet compressed is estimated at
            // twice the ratio seen so far (at half its size before any is seen: JSON lines compress 5-7x): counting
            // it at full size cut members at ~80 KB when zlib lags behind a burst of events, costing ~1.4% of gzip's
            // ratio. A member that still outgrows a job (data far less compressible than the batch so far) is cut
            // by re-compressing that member alone at hand-over (formats.ts): rare, and bounded by one member.
            const ratio = flushedTotal > 0 ? Math.min(1, (2 * flushedOutput) / flushedTotal) : UNSEEN_RATIO
            const pending = (current.inputBytes - current.flushedInput + chunk.length) * ratio
            if (cuts && current.inputBytes > 0 && current.outputBytes + pending + MEMBER_MARGIN_BYTES > memberMaxBytes) {
                current.stream.end()
                current = start()
            }
            const segment = current
            segment.stream.write(chunk)
            segment.inputBytes += chunk.length
            segment.events += events
            unflushed += chunk.length
            onChange(chunk.length)
            const upTo = segment.inputBytes
            // Compressors keep input they have consumed but not yet emitted (brotli: up to ~60% of a chunk), invisible
            // in writableLength. A flush after each (≥ 64 KiB) write emits it; until its callback, that input still
            // counts at full size, so memoryBytes() is an upper bound of both the memory held and the final body.
            const after = () => {
                if (upTo <= segment.flushedInput) return
                flushedTotal += upTo - segment.flushedInput
                flushedOutput = outputBytes
                unflushed -= upTo - segment.flushedInput
                onChange(segment.flushedInput - upTo)
                segment.flushedInput = upTo
            }
            // gzip: a sync flush keeps the dictionary across chunks (the default full flush resets it, costing
            // compression at every chunk boundary); brotli and zstd flush in their own default way
            if (compression === 'gzip') segment.stream.flush(zlib.constants.Z_SYNC_FLUSH, after)
            else segment.stream.flush(after)
        },
        end() {
            current.stream.end()
            return Promise.all(segments.map((s) => s.done)).then(() => {
                if (failure) throw failure
                const pieces: Buffer[] = []
                for (const s of segments) for (const c of s.chunks) pieces.push(c)
                return hasher.finish(bodyOf(pieces, outputBytes))
            })
        },
        memoryBytes: () => outputBytes + unflushed + stateBytes,
        members: () => segments.map((s) => ({ bytes: s.outputBytes, events: s.events })),
    }
}

type OneShot = (input: Buffer, options: object, callback: (error: Error | null, result: Buffer) => void) => void

/** One-shot (de)compression of a whole body, on the host's zlib thread pool: used to split a batch too big for one job. */
function oneShot(compression: Compression, direction: 'compress' | 'decompress', level?: number): (input: Buffer) => Promise<Buffer> {
    if (compression === 'none') return (input) => Promise.resolve(input)
    const z = zlib as unknown as Record<string, OneShot>
    const name =
        compression === 'gzip'
            ? direction === 'compress' ? 'gzip' : 'gunzip'
            : compression === 'brotli'
            ? direction === 'compress' ? 'brotliCompress' : 'brotliDecompress'
            : direction === 'compress' ? 'zstdCompress' : 'zstdDecompress'
    const options = direction === 'decompress' ? {} : compressOptions(compression, level)
    return (input) => new Promise((resolve, reject) => z[name](input, options, (error, result) => (error ? reject(error) : resolve(result))))
}

/**
 * A batch sealed with at most this much text and no stream yet is compressed at once, on the event loop (≤ ~1 ms
 * at gzip 6): a stream would hold its native state (~384 KiB gzip, ~1.6 MiB brotli or zstd) until the thread pool
 * got to it, so with many partitions sealed in turn those states, not the text, filled the memory limit.
 */
export const SMALL_BODY_BYTES = 64 * 1024

type Sync = (input: Buffer, options: object) => Buffer

/** Compress a small body now (see SMALL_BODY_BYTES); throws what zlib throws. */
export function compressSmall(compression: Compression, input: Buffer, level?: number): Buffer {
    if (compression === 'none') return input
    const z = zlib as unknown as Record<string, Sync>
    const name = compression === 'gzip' ? 'gzipSync' : compression === 'zstd' ? 'zstdCompressSync' : 'brotliCompressSync'
    return exactCopy(z[name](input, compressOptions(compression, level)))
}

/**
 * zlib's one-shot result is a view of its 16 KiB output chunk: kept as is, a 2 KB body of a small partition holds
 * 16 KiB (measured: 300 partitions sealed in turn held 47 MB while 8 MB was counted). A copy of its own size lets
 * the chunk go (allocUnsafeSlow: not a slice of the shared 8 KiB pool either).
 */
function exactCopy(body: Buffer): Buffer {
    if (body.buffer.byteLength === body.length) return body
    const copy = Buffer.allocUnsafeSlow(body.length)
    body.copy(copy)
    return copy
}

export function compressWhole(compression: Compression, input: Buffer, level?: number): Promise<Buffer> {
    return oneShot(compression, 'compress', level)(input)
}

export function decompressWhole(compression: Compression, body: Buffer): Promise<Buffer> {
    return oneShot(compression, 'decompress')(body)
}
