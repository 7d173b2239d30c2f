/** zstd compiled to WebAssembly (levels 1-4): the posthog-2024 bundle's zstd codec, and the classic one's on a Node before 22.15. */
import { wasmCodec } from './codec'
import { ZSTD_MODULE } from './zstd-module'

export const zstd = wasmCodec(ZSTD_MODULE, {
    setting: 'zstd',
    extension: '.zst',
    contentEncoding: 'zstd',
    streamStateBytes: 3800 * 1024,
    levelsNote: 'the zstd built into the app keeps levels 1 to 4',
})
