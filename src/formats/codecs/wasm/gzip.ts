/** gzip compiled to WebAssembly: the posthog-2024 bundle's gzip codec (it has no zlib). */
import { wasmCodec } from './codec'
import { GZIP_MODULE } from './gzip-module'

export const gzip = wasmCodec(GZIP_MODULE, { setting: 'gzip', extension: '.gz', contentEncoding: 'gzip', streamStateBytes: 448 * 1024 })
