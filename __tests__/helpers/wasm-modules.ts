/** The WebAssembly compression modules by name, for tests that run each codec in turn. */
import { GZIP_MODULE } from '../../src/formats/codecs/wasm/gzip-module'
import { ZSTD_MODULE } from '../../src/formats/codecs/wasm/zstd-module'

export const WASM = { gzip: GZIP_MODULE, zstd: ZSTD_MODULE } as const
