/**
 * zstd: the host's own from Node 22.15 / 23.8 (typed loosely: @types/node 20 lacks it), levels 1-19; on an older
 * Node, zstd compiled to WebAssembly (wasm/zstd.ts, the 2024 bundle's codec), levels 1-4. Frames concatenate
 * either way, and the files, Content-Encoding and readers are the same.
 */
import type { Codec } from './codec'
import { zstd as wasmZstd } from './wasm/zstd'
import { zlibCodec } from './zlib-codec'
import { hostHasZstd, zlib } from './zlib'

const native = zlibCodec(
    // an open stream at level 3 holds ~1.3 MiB (measured as RSS per stream)
    { setting: 'zstd', extension: '.zst', contentEncoding: 'zstd', levels: { min: 1, max: 19, default: 3 }, concatenates: true, stateBytes: 1536 * 1024, unavailable: () => undefined },
    ['createZstdCompress', 'zstdCompress', 'zstdDecompress', 'zstdCompressSync'],
    (level) => ({ params: { [(zlib.constants as unknown as Record<string, number>).ZSTD_c_compressionLevel]: level } }),
    (stream, done) => stream.flush(done)
)

/** Decided once, at load: the host's Node does not change under a running app. */
export const zstd: Codec = hostHasZstd() ? native : wasmZstd
