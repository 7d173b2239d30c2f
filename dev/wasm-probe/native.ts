/**
 * The host's zlib for the probe plugin's `gzip-native` codec: the app's own streaming compressor (src/compression.ts).
 * The default build replaces this module with one that exports nothing (dev/wasm-probe/build.ts), so the probe
 * loads where the host refuses `zlib`.
 */
import { createCompressor, type Compressor, type MemoryListener } from '../../src/compression'

export const nativeCompressor: ((codec: 'gzip', onChange: MemoryListener, memberMaxBytes: number) => Compressor) | undefined = (codec, onChange, memberMaxBytes) =>
    createCompressor(codec, undefined, onChange, memberMaxBytes)
