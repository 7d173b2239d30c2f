/*
 * gzip members from zlib's deflate, for src/formats/codecs/wasm/ (one stream per WebAssembly instance; gzip.c and
 * zstd.c export the same calls, so one JavaScript driver serves both: engine.ts).
 *
 * The driver copies input into input_buffer() and calls step(n, mode); output collects in output_buffer() until the
 * driver copies it out and calls output_clear(). When more() is true after a step, the output buffer filled up
 * before the step was done: the driver empties it and calls step(0, mode) again. Modes:
 *   0 compress what fits (Z_NO_FLUSH)
 *   1 write out every byte taken so far (Z_BLOCK: the current block is ended and written, at most 7 bits stay
 *     behind; no empty stored block is added as Z_SYNC_FLUSH would)
 *   2 finish the member (Z_FINISH); the stream is then ready for the next member
 * bound(n) is zlib's own upper bound of what n more input bytes can add to a member (deflateBound, which counts
 * the whole gzip wrapper, +1 for the bits a Z_BLOCK leaves behind): how the driver keeps a member within its limit.
 */
#include "zlib.h"

#include "io.h"

static z_stream stream;

/* level 1-9; windowBits 15 + 16: a gzip wrapper; memLevel 8, zlib's default (~260 KiB of state) */
EXPORT(begin) int begin(int level) {
    has_more = 0;
    output_used = 0;
    return deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

/* the bytes now in output_buffer(), or -1 when zlib reports an error */
EXPORT(step) int step(int n, int mode) {
    static const int flush[3] = {Z_NO_FLUSH, Z_BLOCK, Z_FINISH};
    if (n > 0) {
        stream.next_in = input;
        stream.avail_in = (unsigned)n;
    }
    stream.next_out = output + output_used;
    stream.avail_out = IO_BYTES - output_used;
    int status = deflate(&stream, flush[mode]);
    if (status == Z_STREAM_ERROR) return -1;
    output_used = IO_BYTES - stream.avail_out;
    /* zlib's rule: when the output space ran out, call again with the same flush */
    has_more = stream.avail_out == 0;
    if (mode == 2 && status == Z_STREAM_END) {
        has_more = 0;
        if (deflateReset(&stream) != Z_OK) return -1;
    }
    return (int)output_used;
}

EXPORT(bound) unsigned long bound(unsigned long n) { return deflateBound(&stream, n) + 1; }
