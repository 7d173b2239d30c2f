/** brotli: ~40% smaller than gzip; its streams do not concatenate, so a body is one stream (split by re-compressing). */
import { zlibCodec } from './zlib-codec'
import { zlib } from './zlib'

const { BROTLI_PARAM_QUALITY, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT } = zlib.constants

export const brotli = zlibCodec(
    // quality 10 and 11 compress at well under 1 MB/s on the event loop's host; 5 keeps ~70 MB/s at a ratio close to
    // gzip 9's. An open stream at quality ≤ 9 with its default window holds ~1.4 MiB (measured as RSS on Node 20).
    { setting: 'brotli', extension: '.br', contentEncoding: 'br', levels: { min: 0, max: 9, default: 5 }, concatenates: false, stateBytes: 1536 * 1024, hostZlibOnly: true },
    ['createBrotliCompress', 'brotliCompress', 'brotliDecompress', 'brotliCompressSync'],
    (quality) => ({ params: { [BROTLI_PARAM_QUALITY]: quality, [BROTLI_PARAM_MODE]: BROTLI_MODE_TEXT } }),
    (stream, done) => stream.flush(done)
)
