/*
 * The calls gzip.c and zstd.c both export to the JavaScript driver (src/formats/codecs/wasm/engine.ts): where the
 * driver writes input and reads output, how much output waits, and whether the last step left more to write out
 * (gzip.c describes the protocol). Each codec file sets has_more and output_used in its own step().
 */
#define EXPORT(name) __attribute__((export_name(#name)))

#define IO_BYTES (64 * 1024)

/* aligned: the driver fills it 32 bits at a time */
static unsigned char input[IO_BYTES] __attribute__((aligned(16)));
static unsigned char output[IO_BYTES];
static unsigned output_used;
static int has_more;

EXPORT(input_buffer) unsigned char *input_buffer(void) { return input; }
EXPORT(output_buffer) unsigned char *output_buffer(void) { return output; }
EXPORT(io_bytes) int io_bytes(void) { return IO_BYTES; }
EXPORT(output_used) int get_output_used(void) { return (int)output_used; }
EXPORT(output_clear) void output_clear(void) { output_used = 0; }
EXPORT(more) int more(void) { return has_more; }
