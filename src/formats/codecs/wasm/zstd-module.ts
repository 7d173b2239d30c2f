/**
 * zstd 1.5.7's compressor writing frames (scripts/wasm/zstd.c). Its build keeps only the fast and double-fast
 * match finders, so levels 1-4 (3 by default as zstd's own): the lazy and binary-tree ones of levels 5 and up
 * would add 150 KB and more to every bundle that carries it (scripts/build-wasm.mjs).
 */
import type { WasmCodec } from './engine'
import { ZSTD_WASM } from './zstd-wasm'

export const ZSTD_MODULE: WasmCodec = { name: 'zstd', base64: ZSTD_WASM, levels: { min: 1, max: 4, default: 3 } }
