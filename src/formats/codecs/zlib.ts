/**
 * Where zlib comes from: the one module that imports it. The classic plugin-servers provide the host's native zlib;
 * PostHog builds from December 2023 refuse the import, so a bundle for them swaps this file for another source
 * (codecs that never touch zlib then stand in its registry entries). Nothing else in src/ names the `zlib` module.
 */
import * as zlib from 'zlib'

export { zlib }

/** zlib.crc32 exists from Node 20.15 / 22.2: the host's Node decides, so the config parser asks. */
export function hostHasCrc32(): boolean {
    return typeof (zlib as { crc32?: unknown }).crc32 === 'function'
}

/** zstd joined Node's zlib in 22.15 / 23.8; an npm zstd is a native addon the host's import allowlist refuses. */
export function hostHasZstd(): boolean {
    return typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function'
}
