/**
 * The host's zlib for the probe plugin's `gzip-native` codec: the app's own streaming compressor (src/formats/codecs/gzip.ts).
 * The default build replaces this module with one that exports nothing (dev/wasm-probe/build.ts), so the probe
 * loads where the host refuses `zlib`.
 */
import type { Compressor, MemoryListener } from '../../src/formats/codecs/codec'
import { CODECS } from '../../src/formats/codecs/registry'

export const nativeCompressor: ((codec: 'gzip', onChange: MemoryListener, memberMaxBytes: number) => Compressor) | undefined = (codec, onChange, memberMaxBytes) =>
    CODECS[codec].compressor(CODECS[codec].levels.default, onChange, memberMaxBytes)
