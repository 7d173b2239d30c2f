/**
 * A registry codec (codec.ts's Codec) computed by a WebAssembly module inside the sandbox: the same settings,
 * extensions and Content-Encodings as the native codecs, for hosts without `zlib` (PostHog builds from December
 * 2023: the posthog-2024 bundle takes gzip.ts and zstd.ts of this folder in place of the native ones, through
 * scripts/generations.mjs `seams`) and for zstd on a Node before 22.15 (../zstd.ts).
 *
 * Memory per open stream is the module instance's (engine.ts measures it: gzip ~448 KiB, zstd level 3 ~3.7 MiB);
 * the compressor reports what it really holds through `onChange`, so the ledger counts the instance, not this figure.
 */
import type { Codec } from '../codec'
import { MEMBER_MAX_BYTES } from '../codec'
import { compressWholeWasm, createWasmCompressor } from './compressor'
import type { WasmCodec } from './engine'

/** Only a brotli body is ever decompressed (to cut it by re-compressing): members of these concatenate. */
const noDecompress = (name: string) => (): Promise<Buffer> =>
    Promise.reject(new Error(`${name} bodies are cut at member boundaries, never decompressed (this codec has no ${name} decoder)`))

export function wasmCodec(module: WasmCodec, facts: Pick<Codec, 'setting' | 'extension' | 'contentEncoding' | 'streamStateBytes' | 'levelsNote'>): Codec & { levels: NonNullable<Codec['levels']> } {
    return {
        ...facts,
        levels: { ...module.levels },
        concatenates: true,
        unavailable: () => undefined,
        compressor: (level, onChange = () => undefined, memberMaxBytes = MEMBER_MAX_BYTES) => createWasmCompressor(module, level, onChange, memberMaxBytes),
        compressNow: (input, level) => compressWholeWasm(module, input, level),
        // synchronous here (no thread pool in the sandbox): only a body cut for the job queue or a fallback asks
        compress: (input, level) => new Promise((resolve) => resolve(compressWholeWasm(module, input, level))),
        decompress: noDecompress(module.name),
    }
}
