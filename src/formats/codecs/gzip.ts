/** gzip: what every reader takes (Athena, DuckDB, Spark, Snowflake); members concatenate. */
import { zlibCodec } from './zlib-codec'
import { zlib } from './zlib'

export const gzip = zlibCodec(
    // deflate's window and hash chains ~290 KiB (measured as RSS per stream on Node 20; zlib allocates outside V8)
    { setting: 'gzip', extension: '.gz', contentEncoding: 'gzip', levels: { min: 1, max: 9, default: 6 }, concatenates: true, stateBytes: 320 * 1024 },
    ['createGzip', 'gzip', 'gunzip', 'gzipSync'],
    (level) => ({ level }),
    // a sync flush keeps the dictionary across chunks (the default full flush resets it, costing compression at
    // every chunk boundary)
    (stream, done) => stream.flush(zlib.constants.Z_SYNC_FLUSH, done)
)
