/**
 * Parquet page compression without `zlib`: a function hyparquet-writer can take as its GZIP or ZSTD compressor
 * (`compressors: { GZIP: pageCompressor('gzip') }`), which is what src/parquet.ts's gzipPage does today with the
 * host's zlib. A page is one gzip member (Parquet's GZIP codec is the gzip format) or one zstd frame.
 *
 * Pages are bytes of the sandbox's realm (the writer builds them there), and so is the WebAssembly memory: they are
 * copied in and out natively, with no trip through host Buffers at all.
 *
 * The returned function keeps one stream (one WebAssembly instance) for all the pages it compresses: gzip ~0.5 MiB,
 * zstd ~3.5 MiB, reported once to `onMemory` when it is made; it is freed with the function. Make one per file
 * being written, not one per page (each new instance would take and zero its memory again).
 */
import { WasmStream, type WasmCodec } from './engine'
import { wasmLevel } from './compressor'

export function pageCompressor(codec: WasmCodec, level?: number, onMemory: (deltaBytes: number) => void = () => undefined): (page: Uint8Array) => Uint8Array {
    let pieces: Uint8Array[] = []
    let length = 0
    const stream = new WasmStream(
        codec,
        wasmLevel(codec, level),
        (memory, from, to) => {
            pieces.push(memory.slice(from, to))
            length += to - from
        },
        onMemory
    )
    return (page) => {
        stream.writeBytes(page)
        stream.endMember()
        stream.drain()
        const out = pieces.length === 1 ? pieces[0] : new Uint8Array(length)
        if (pieces.length > 1) {
            let at = 0
            for (const piece of pieces) {
                out.set(piece, at)
                at += piece.length
            }
        }
        pieces = []
        length = 0
        return out
    }
}
