/** Which codecs a host generation can run (src/host/generation.ts builds it; parseConfig refuses the others). */
export interface HostCodecs {
    /** gzip and brotli (CRC32 and its own zstd too on a new enough Node) by the host's native zlib; Parquet's GZIP pages too */
    nativeZlib: boolean
}

/** The classic hosts' codecs: what parseConfig assumes when it is not told (the app run from its sources). */
export const NATIVE_CODECS: HostCodecs = { nativeZlib: true }
