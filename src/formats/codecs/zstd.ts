/** zstd: in the host's zlib from Node 22.15 / 23.8 only (typed loosely: @types/node 20 lacks it); frames concatenate. */
import { zlibCodec } from './zlib-codec'
import { hostHasZstd, zlib } from './zlib'

const unavailable = () => (hostHasZstd() ? undefined : "this plugin server's Node has no zstd (Node 22.15+ has it built in)")

export const zstd = zlibCodec(
    // an open stream at level 3 holds ~1.3 MiB (measured as RSS per stream)
    { setting: 'zstd', extension: '.zst', contentEncoding: 'zstd', levels: { min: 1, max: 19, default: 3 }, concatenates: true, stateBytes: 1536 * 1024, unavailable },
    ['createZstdCompress', 'zstdCompress', 'zstdDecompress', 'zstdCompressSync'],
    (level) => ({ params: { [(zlib.constants as unknown as Record<string, number>).ZSTD_c_compressionLevel]: level } }),
    (stream, done) => stream.flush(done)
)
