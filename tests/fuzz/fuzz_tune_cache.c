/* libFuzzer target: the tune-cache file reader (src/gemm/tune_cache.c,
 * rcl_tune_file_read: host only, it takes the device key as text). Each
 * input is read twice from a per-process temporary file: as it is (the
 * checksum line, truncation, size), and with a correct "checksum" line
 * appended, so that the fuzzer reaches the magic line, the device key,
 * the entry count and the entries behind the FNV-1a checksum. */
#include "fuzz_util.h"
#include "base/base.h"
#include "rcl/tune_cache.h"

/* The device key of the seeds (tests/fuzz/corpus/tune_cache). */
static const char KEY[] = "platform OpenCL 3.0 PoCL 3.1\n"
                          "device cpu-haswell-AMD EPYC\n"
                          "driver 3.1\n"
                          "compute_units 2\n"
                          "env POCL_MAX_PTHREAD_COUNT=- POCL_CPU_MAX_CU_COUNT=- POCL_AFFINITY=-";

static void read_once(const char *path)
{
    rcl_tune_entry *e = NULL;
    int n = -1;
    char msg[256];
    int st = rcl_tune_file_read(path, KEY, &e, &n, msg, sizeof msg);
    if (st == 0) {
        if (n < 0 || (n > 0 && !e)) abort();
        for (int i = 0; i < n; i++)
            if (strlen(e[i].key) >= sizeof e[i].key || strlen(e[i].param) >= sizeof e[i].param) abort();
    } else if (e || n != 0) {
        abort(); /* nothing handed out on failure */
    }
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0;
    read_once(fuzz_write("tune.txt", data, size));
    char *buf = malloc(size + 32);
    if (!buf) return 0;
    memcpy(buf, data, size);
    uint64_t h = rcl_fnv1a(RCL_FNV_INIT, buf, size);
    int k = snprintf(buf + size, 32, "checksum %016llx\n", (unsigned long long)h);
    read_once(fuzz_write("tune.txt", buf, size + (size_t)k));
    free(buf);
    return 0;
}
