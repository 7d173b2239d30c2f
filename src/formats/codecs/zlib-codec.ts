/**
 * The zlib codecs (gzip, brotli, zstd) as streaming compressors: events are compressed while they are buffered
 * (~173 B per buffered 1.2 KB event with gzip instead of ~1.3 KB), and the work runs on the host's zlib thread pool,
 * so sealing a batch never blocks the event loop the way gzipSync of a whole batch did (only a small batch is
 * compressed at once, on the event loop: formats/line-batch.ts SMALL_BODY_BYTES).
 */
import { bodyOf, type Body } from '../../body'
import { payloadHasher } from '../../s3/payload-hash'
import { MEMBER_MAX_BYTES, type Codec, type Compressor, type MemoryListener } from './codec'
import { zlib } from './zlib'

/**
 * zlib output chunks of 64 KiB. Each open stream allocates one such chunk up front, and with partitioned layouts a
 * thread may hold hundreds of open streams: 1 MiB chunks made 32 open partitions cost 32 MiB that nothing counted.
 * Inputs are written in ≥ 64 KiB pieces compressing ~6×, so one write still yields only a few callbacks.
 */
export const CHUNK_BYTES = 64 * 1024

/** Compressed / raw size assumed for input before any of it has come out of the compressor. */
const UNSEEN_RATIO = 0.5

/** Room kept below MEMBER_MAX_BYTES for a member's framing (header, the last block, trailer). */
const MEMBER_MARGIN_BYTES = 1024

type Stream = ReturnType<typeof zlib.createGzip>
type OneShot = (input: Buffer, options: object, callback: (error: Error | null, result: Buffer) => void) => void
type Sync = (input: Buffer, options: object) => Buffer

/** What an object says of a zlib codec's bodies, and what its streams cost (Codec's fields of the same names). */
type ZlibCodecFacts = Pick<Codec, 'setting' | 'extension' | 'contentEncoding' | 'levels' | 'concatenates' | 'hostZlibOnly'> & {
    /** native memory an open stream holds besides its output, at 64 KiB chunks */
    stateBytes: number
    /** why this host's zlib lacks the codec, or undefined */
    unavailable?: () => string | undefined
}

/** zlib's names of a codec's stream, one-shot and sync functions. */
type ZlibNames = [stream: string, compress: string, decompress: string, sync: string]

/**
 * A codec on the host's zlib: `options(level)` are zlib's options for streams and one-shots alike; `flush` emits what
 * a stream has consumed, then calls `done`. Functions are looked up by name when called: a Node without zstd loads.
 */
export function zlibCodec<F extends ZlibCodecFacts>(facts: F, [stream, compress, decompress, sync]: ZlibNames, options: (level: number) => object, flush: StreamSpec['flush']): Codec & Pick<F, 'levels'> {
    const z = zlib as unknown as Record<string, (...args: any[]) => any>
    const oneShot = (name: string, input: Buffer, opts: object) =>
        new Promise<Buffer>((resolve, reject) => (z[name] as OneShot)(input, opts, (error, result) => (error ? reject(error) : resolve(result))))
    // the 2024 bundle's zlib is an empty stand-in (scripts/build.mjs): a codec left on it says so at setup
    const noZlib = () => (typeof z.createGzip === 'function' ? undefined : "this PostHog's plugin server has no zlib (builds from December 2023 on)")
    const { stateBytes: nativeBytes, unavailable: lacking = () => undefined, ...described } = facts
    const unavailable = () => noZlib() ?? lacking()
    const stateBytes = nativeBytes + CHUNK_BYTES
    return {
        ...described,
        streamStateBytes: stateBytes,
        unavailable,
        compressor: (level, onChange = () => undefined, memberMaxBytes = MEMBER_MAX_BYTES) =>
            streamCompressor({ open: () => z[stream]({ chunkSize: CHUNK_BYTES, ...options(level) }) as Stream, flush, cuts: facts.concatenates, stateBytes }, onChange, memberMaxBytes),
        compressNow: (input, level) => exactCopy((z[sync] as Sync)(input, options(level))),
        compress: (input, level) => oneShot(compress, input, options(level)),
        decompress: (body) => oneShot(decompress, body, {}),
    }
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

/** One zlib stream of a body: a member. */
interface Segment {
    stream: Stream
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

interface StreamSpec {
    open(): Stream
    flush(stream: Stream, done: () => void): void
    /** cut the body into members (the codec's members concatenate) */
    cuts: boolean
    stateBytes: number
}

/** `memberMaxBytes`: where members are cut, for the codecs whose members concatenate; brotli is one stream. */
function streamCompressor({ open, flush, cuts, stateBytes: state }: StreamSpec, onChange: MemoryListener, memberMaxBytes: number): Compressor {
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
            // by re-compressing that member alone at hand-over (formats/lines.ts): rare, and bounded by one member.
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
            flush(segment.stream, () => {
                if (upTo <= segment.flushedInput) return
                flushedTotal += upTo - segment.flushedInput
                flushedOutput = outputBytes
                unflushed -= upTo - segment.flushedInput
                onChange(segment.flushedInput - upTo)
                segment.flushedInput = upTo
            })
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
