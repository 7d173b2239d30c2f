/**
 * The codecs, one line each: the `compression` setting picks one by its `setting` text (plugin.json lists the same
 * choices; a unit test holds them equal). A codec is one file implementing codec.ts's Codec, plus its line here.
 */
import type { Codec } from './codec'
import { brotli } from './brotli'
import { gzip } from './gzip'
import { none } from './none'
import { zstd } from './zstd'

export const CODECS = {
    gzip,
    brotli,
    zstd,
    none,
} satisfies Record<string, Codec>

export type Compression = keyof typeof CODECS
