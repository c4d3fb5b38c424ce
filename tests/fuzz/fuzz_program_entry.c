/* libFuzzer target: validation of an OpenCL program-cache entry
 * (src/runtime/program.c, rcl_program_entry_check: magic, key and binary
 * lengths, exact size, FNV-1a checksum, key bytes), the host-only part of
 * load_cached before the driver sees the binary. Each input is checked as
 * it is, and again with its checksum field recomputed so that the fuzzer
 * gets past it to the key comparison. */
#include "fuzz_util.h"
#include "base/base.h"
#include "runtime/internal.h"

/* The cache key of the seed (tests/fuzz/corpus/program_entry). */
static const char KEY[] = "rcl-program-v1\nOpenCL 3.0 PoCL\ncpu\n3.1\nrelu.cl\n-DVW=4\n"
                          "__kernel void k(__global float *x) { x[0] = 0; }\n";

static void check(const unsigned char *e, size_t len)
{
    size_t off = 0, bl = 0;
    if (rcl_program_entry_check(e, len, KEY, &off, &bl) == 0) {
        if (off != 32 + strlen(KEY) || bl == 0 || off + bl != len) abort();
        unsigned sum = 0;
        for (size_t i = 0; i < bl; i++) sum += e[off + i]; /* inside the entry */
        (void)sum;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *e = malloc(size ? size : 1);
    if (!e) return 0;
    memcpy(e, data, size);
    check(e, size);
    if (size >= 32) {
        uint64_t h = rcl_fnv1a(RCL_FNV_INIT, e + 32, size - 32);
        for (int i = 0; i < 8; i++) e[24 + i] = (unsigned char)(h >> (8 * i));
        check(e, size);
    }
    free(e);
    return 0;
}
