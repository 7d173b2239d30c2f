/**
 * gzip and zstd as registry codecs for the plugin-servers without `zlib` (PostHog builds from December 2023): the
 * same settings, extensions and Content-Encodings as the native codecs (gzip.ts, zstd.ts), compressed by zlib 1.3.1
 * and zstd 1.5.7 compiled to WebAssembly (compressor.ts). The posthog-2024 bundle takes these in place of gzip.ts and
 * zstd.ts (scripts/generations.mjs `seams`); the classic bundle carries none of this.
 *
 * Memory per open stream is the module instance's (engine.ts measures it: gzip ~448 KiB, zstd level 3 ~3.7 MiB);
 * the compressor reports what it really holds through `onChange`, so the ledger counts the instance, not this figure.
 */
import type { Codec } from '../codec'
import { MEMBER_MAX_BYTES } from '../codec'
import { compressWholeWasm, createWasmCompressor, WASM_ZSTD_MAX_LEVEL } from './compressor'
import type { WasmCodec } from './engine'

/** Only a brotli body is ever decompressed (to cut it by re-compressing): members of these concatenate. */
const noDecompress = (name: string) => (): Promise<Buffer> =>
    Promise.reject(new Error(`${name} bodies are cut at member boundaries, never decompressed (this bundle has no ${name} decoder)`))

function wasmCodec(codec: WasmCodec, facts: Pick<Codec, 'setting' | 'extension' | 'contentEncoding' | 'streamStateBytes'> & { levels: NonNullable<Codec['levels']> }): Codec & { levels: NonNullable<Codec['levels']> } {
    return {
        ...facts,
        concatenates: true,
        unavailable: () => undefined,
        compressor: (level, onChange = () => undefined, memberMaxBytes = MEMBER_MAX_BYTES) => createWasmCompressor(codec, level, onChange, memberMaxBytes),
        compressNow: (input, level) => compressWholeWasm(codec, input, level),
        // synchronous here (no thread pool in the sandbox): only a body cut for the job queue or a fallback asks
        compress: (input, level) => new Promise((resolve) => resolve(compressWholeWasm(codec, input, level))),
        decompress: noDecompress(codec),
    }
}

export const gzip = wasmCodec('gzip', { setting: 'gzip', extension: '.gz', contentEncoding: 'gzip', levels: { min: 1, max: 9, default: 6 }, streamStateBytes: 448 * 1024 })

/** levels above WASM_ZSTD_MAX_LEVEL are compressed at it (the module keeps only the fast match finders) */
export const zstd = wasmCodec('zstd', { setting: 'zstd', extension: '.zst', contentEncoding: 'zstd', levels: { min: 1, max: WASM_ZSTD_MAX_LEVEL, default: 3 }, streamStateBytes: 3800 * 1024 })
