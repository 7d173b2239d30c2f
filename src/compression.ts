/**
 * gzip / brotli / none as a streaming compressor: events are compressed while they are buffered (~173 B per
 * buffered 1.2 KB event with gzip instead of ~1.3 KB), and the work runs on the host's zlib thread pool,
 * so sealing a batch never blocks the event loop the way gzipSync of a whole batch did.
 */
import * as zlib from 'zlib'
import type { Compression } from './config'
import { payloadHasher } from './payload-hash'

export const GZIP_LEVEL = 6
/** brotli's default quality 11 compresses at ~0.6 MB/s; 5 keeps ~70 MB/s at a ratio close to gzip 9's */
export const BROTLI_QUALITY = 5
export const ZSTD_LEVEL = 3

/** Node ≥ 22.15 only (the config parser refuses zstd elsewhere); typed loosely because @types/node 20 lacks it. */
function createZstd(level: number): zlib.Gzip {
    const z = zlib as unknown as { createZstdCompress(o: object): zlib.Gzip; constants: Record<string, number> }
    return z.createZstdCompress({ chunkSize: CHUNK_BYTES, params: { [z.constants.ZSTD_c_compressionLevel]: level } })
}

/** zlib output chunks of 1 MiB: fewer, larger callbacks (small chunks multiply thread-pool round trips) */
const CHUNK_BYTES = 1024 * 1024

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

export interface Compressor {
    /** Queue bytes for compression. Takes a host Buffer (made with Buffer.from) so it crosses into zlib as is. */
    write(chunk: Buffer): void
    /** Finish the stream; resolves with the whole compressed body. */
    end(): Promise<Buffer>
    /** bytes this compressor holds right now: output so far plus input not yet compressed */
    memoryBytes(): number
}

/** Stores chunks as they are: the `none` compression. */
function passThrough(): Compressor {
    const chunks: Buffer[] = []
    const hasher = payloadHasher()
    let bytes = 0
    return {
        write(chunk) {
            chunks.push(chunk)
            hasher.update(chunk)
            bytes += chunk.length
        },
        end() {
            return Promise.resolve(hasher.finish(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes)))
        },
        memoryBytes: () => bytes,
    }
}

export function createCompressor(compression: Compression, level?: number): Compressor {
    if (compression === 'none') return passThrough()
    const stream =
        compression === 'gzip'
            ? zlib.createGzip({ level: level ?? GZIP_LEVEL, chunkSize: CHUNK_BYTES })
            : compression === 'zstd'
            ? createZstd(level ?? ZSTD_LEVEL)
            : zlib.createBrotliCompress({
                  chunkSize: CHUNK_BYTES,
                  params: {
                      [zlib.constants.BROTLI_PARAM_QUALITY]: level ?? BROTLI_QUALITY,
                      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
                  },
              })
    const chunks: Buffer[] = []
    // the upload signs the body's hash: taken piece by piece here instead of all at once before the upload
    const hasher = payloadHasher()
    let outputBytes = 0
    let failure: Error | undefined
    stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        hasher.update(chunk)
        outputBytes += chunk.length
    })
    // Without a listener an 'error' event would crash the host process; end() reports it instead.
    stream.on('error', (error: Error) => {
        failure = error
    })
    const done = new Promise<Buffer>((resolve, reject) => {
        stream.on('end', () => (failure ? reject(failure) : resolve(hasher.finish(Buffer.concat(chunks, outputBytes)))))
        stream.on('error', reject)
    })
    // Compressors keep input they have consumed but not yet emitted (brotli: up to ~60% of a chunk), invisible in
    // writableLength. A flush after each (≥ 64 KiB) write emits it; until its callback, that input still counts at
    // full size, so memoryBytes() is an upper bound of both the memory held and the final body (+ the trailer).
    let inputBytes = 0
    let flushedInput = 0
    return {
        write(chunk) {
            stream.write(chunk)
            inputBytes += chunk.length
            const upTo = inputBytes
            // gzip: a sync flush keeps the dictionary across chunks (the default full flush resets it, costing
            // compression at every chunk boundary); brotli and zstd flush in their own default way
            const after = () => {
                flushedInput = Math.max(flushedInput, upTo)
            }
            if (compression === 'gzip') stream.flush(zlib.constants.Z_SYNC_FLUSH, after)
            else stream.flush(after)
        },
        end() {
            stream.end()
            return done
        },
        memoryBytes: () => outputBytes + (inputBytes - flushedInput),
    }
}
