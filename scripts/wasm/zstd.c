/*
 * zstd frames from zstd's compressor, for src/formats/codecs/wasm/ (one stream per WebAssembly instance; the same
 * calls as gzip.c, which describes them). Modes of step(n, mode):
 *   0 compress what fits (ZSTD_e_continue)
 *   1 write out every byte taken so far (ZSTD_e_flush: the current block is ended and written)
 *   2 finish the frame (ZSTD_e_end); the next input starts a new frame
 * bound(n) is zstd's own worst case for n input bytes as a whole frame (ZSTD_compressBound): how the driver keeps
 * a frame within its limit.
 */
#include "zstd.h"

#include "io.h"

static ZSTD_CCtx *context;
static ZSTD_inBuffer in;

EXPORT(begin) int begin(int level) {
    has_more = 0;
    output_used = 0;
    if (!context) context = ZSTD_createCCtx();
    if (!context) return -1;
    if (ZSTD_isError(ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters))) return -1;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))) return -1;
    return 0;
}

/* the bytes now in output_buffer(), or -1 when zstd reports an error */
EXPORT(step) int step(int n, int mode) {
    static const ZSTD_EndDirective directive[3] = {ZSTD_e_continue, ZSTD_e_flush, ZSTD_e_end};
    if (n > 0) {
        in.src = input;
        in.size = (size_t)n;
        in.pos = 0;
    }
    ZSTD_outBuffer out = {output, IO_BYTES, output_used};
    size_t left = ZSTD_compressStream2(context, &out, &in, directive[mode]);
    if (ZSTD_isError(left)) return -1;
    output_used = (unsigned)out.pos;
    /* input not yet taken, or (flushing or ending) bytes still to be written */
    has_more = in.pos < in.size || (mode != 0 && left > 0);
    return (int)output_used;
}

EXPORT(bound) unsigned long bound(unsigned long n) { return ZSTD_compressBound(n); }
