/** zlib 1.3.1's deflate writing gzip members (scripts/wasm/gzip.c): levels 1-9, 6 by default as zlib's own. */
import type { WasmCodec } from './engine'
import { GZIP_WASM } from './gzip-wasm'

export const GZIP_MODULE: WasmCodec = { name: 'gzip', base64: GZIP_WASM, levels: { min: 1, max: 9, default: 6 } }
