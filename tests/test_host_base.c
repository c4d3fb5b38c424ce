/* Base layer without a device: the status table (every code has its own
 * name and message, unknown codes get a fallback), splitmix64's
 * published output, through the shared inline and through rcl_rng, and
 * rcl_icd_hint on made-up ICD directories. */
#include "harness.h"
#include "base/base.h"
#include "runtime/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CODE_(name, code, msg) code,
static const int CODES[] = {RCL_STATUS_TABLE(CODE_)};
#undef CODE_
#define NCODES ((int)(sizeof CODES / sizeof CODES[0]))

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(rcl_status_name(RCL_OK), "RCL_OK");
    assert_string_equal(rcl_status_name(RCL_ERR_INVALID), "RCL_ERR_INVALID");
    assert_string_equal(rcl_status_name(RCL_ERR_UNSUPPORTED), "RCL_ERR_UNSUPPORTED");
    assert_string_equal(rcl_strerror(RCL_OK), "success");
    assert_string_equal(rcl_strerror(RCL_ERR_IO), "I/O error");
    assert_true(NCODES >= 14);
    for (int i = 0; i < NCODES; i++) {
        const char *n = rcl_status_name(CODES[i]), *m = rcl_strerror(CODES[i]);
        assert_non_null(n);
        assert_non_null(m);
        assert_true(strncmp(n, "RCL_", 4) == 0);
        assert_true(strlen(m) > 0);
        assert_string_not_equal(n, "RCL_ERR_UNKNOWN");
        assert_string_not_equal(m, "unknown error");
        for (int j = 0; j < i; j++) {
            if (CODES[i] == CODES[j]) fail_msg("code %d listed twice", CODES[i]);
            if (!strcmp(n, rcl_status_name(CODES[j]))) fail_msg("name %s used twice", n);
            if (!strcmp(m, rcl_strerror(CODES[j]))) fail_msg("message '%s' used twice", m);
        }
    }
}

static void test_status_unknown(void **state)
{
    (void)state;
    const int unknown[] = {1, 7, -14, -99, -1001, 1 << 30, -(1 << 30)};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(rcl_status_name(unknown[i]), "RCL_ERR_UNKNOWN");
        assert_string_equal(rcl_strerror(unknown[i]), "unknown error");
    }
}

static void test_splitmix64(void **state)
{
    (void)state;
    /* splitmix64 seeded with 0 (Steele, Lea, Flood; Vigna's reference code) */
    uint64_t s = 0;
    assert_true(rcl_splitmix64_next(&s) == 0xe220a8397b1dcdafull);
    assert_true(rcl_splitmix64_next(&s) == 0x6e789e6aa1b965f4ull);
    assert_true(rcl_splitmix64_next(&s) == 0x06c45d188009454full);
    assert_true(s == 3 * RCL_SPLITMIX64_GAMMA);
    assert_true(rcl_splitmix64_mix(RCL_SPLITMIX64_GAMMA) == 0xe220a8397b1dcdafull);
    /* rcl_rng: the same stream from seed ^ 0x6A09E667F3BCC909 */
    rcl_rng r;
    rcl_rng_seed(&r, 42);
    assert_true(rcl_rng_u64(&r) == 0xd86e1008eac15bc5ull);
    assert_true(rcl_rng_u64(&r) == 0x35db6426726e5376ull);
}

/* Program-cache entry validation (runtime/internal.h; the fuzz target
 * tests/fuzz/fuzz_program_entry.c): exact size, checksum, key. */
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_program_entry_check(void **state)
{
    (void)state;
    const char *key = "rcl-program-v1\nkey";
    const unsigned char bin[5] = {1, 2, 3, 4, 5};
    size_t kl = strlen(key), len = 32 + kl + sizeof bin;
    unsigned char e[64];
    memcpy(e, "RCLPROG1", 8);
    put64(e + 8, kl);
    put64(e + 16, sizeof bin);
    memcpy(e + 32, key, kl);
    memcpy(e + 32 + kl, bin, sizeof bin);
    put64(e + 24, rcl_fnv1a(RCL_FNV_INIT, e + 32, kl + sizeof bin));
    size_t off = 0, bl = 0;
    assert_int_equal(rcl_program_entry_check(e, len, key, &off, &bl), 0);
    assert_int_equal(off, 32 + kl);
    assert_int_equal(bl, sizeof bin);
    assert_int_equal(rcl_program_entry_check(e, len - 1, key, &off, &bl), -1);  /* truncated */
    assert_int_equal(rcl_program_entry_check(e, len + 1, key, &off, &bl), -1);  /* trailing byte */
    assert_int_equal(rcl_program_entry_check(e, 31, key, &off, &bl), -1);       /* short header */
    assert_int_equal(rcl_program_entry_check(e, len, "rcl-program-v1\nkez", &off, &bl), -1);
    e[len - 1] ^= 1; /* checksum */
    assert_int_equal(rcl_program_entry_check(e, len, key, &off, &bl), -1);
    e[len - 1] ^= 1;
    put64(e + 16, (uint64_t)-1 - kl + 33); /* lengths whose sum wraps to the real size */
    assert_int_equal(rcl_program_entry_check(e, len, key, &off, &bl), -1);
    put64(e + 16, 0); /* empty binary */
    assert_int_equal(rcl_program_entry_check(e, 32 + kl, key, &off, &bl), -1);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* rcl_icd_hint: each breakage it knows, named with the fix; a sound setup
 * gets no hint; a short buffer is cut, not overrun */
static void test_icd_hint(void **state)
{
    (void)state;
    char root[] = "/tmp/rcl-icd-XXXXXX";
    assert_non_null(mkdtemp(root));
    char ven[600], lib[600], none[600], fake[700];
    snprintf(ven, sizeof ven, "%s/vendors", root);
    snprintf(lib, sizeof lib, "%s/lib", root);
    snprintf(none, sizeof none, "%s/missing", root);
    assert_int_equal(mkdir(ven, 0700), 0);
    assert_int_equal(mkdir(lib, 0700), 0);
    put_file(lib, "libnvidia-opencl.so.1", "");
    snprintf(fake, sizeof fake, "%s/libnvidia-opencl.so.1", lib);
    setenv("RESNET_CL_ICD_LIB_DIRS", lib, 1);
    unsetenv("RUSTICL_ENABLE");
    char h[2048];

    /* NVIDIA's library there, no .icd (the device tool's H200 image) */
    setenv("OCL_ICD_VENDORS", ven, 1);
    assert_true(rcl_icd_hint(h, sizeof h) > 0);
    assert_non_null(strstr(h, "NVIDIA"));
    assert_non_null(strstr(h, fake));
    assert_non_null(strstr(h, "nvidia.icd"));
    assert_non_null(strstr(h, "OCL_ICD_VENDORS"));

    /* an .icd naming it (a path, or a bare name): nothing to say */
    put_file(ven, "nv.icd", fake);
    assert_int_equal(rcl_icd_hint(h, sizeof h), 0);
    assert_string_equal(h, "");
    put_file(ven, "nv.icd", "libnvidia-opencl.so.1\n");
    assert_int_equal(rcl_icd_hint(h, sizeof h), 0);
    /* OCL_ICD_VENDORS may name one .icd file */
    char one[700];
    snprintf(one, sizeof one, "%s/nv.icd", ven);
    setenv("OCL_ICD_VENDORS", one, 1);
    assert_int_equal(rcl_icd_hint(h, sizeof h), 0);
    setenv("OCL_ICD_VENDORS", ven, 1);

    /* an .icd naming a known library that is not installed (a more specific
     * version of its soname, as Debian's pocl.icd) */
    put_file(ven, "pocl.icd", "libpocl.so.2.10.0");
    assert_true(rcl_icd_hint(h, sizeof h) > 0);
    assert_non_null(strstr(h, "pocl.icd names libpocl.so.2.10.0, which is not installed"));
    assert_null(strstr(h, "NVIDIA"));
    put_file(lib, "libpocl.so.2.10.0", ""); /* the name the loader opens */
    assert_int_equal(rcl_icd_hint(h, sizeof h), 0);

    /* rusticl without RUSTICL_ENABLE */
    put_file(ven, "rusticl.icd", "libRusticlOpenCL.so.1\n");
    put_file(lib, "libRusticlOpenCL.so.1", "");
    assert_true(rcl_icd_hint(h, sizeof h) > 0);
    assert_non_null(strstr(h, "RUSTICL_ENABLE=llvmpipe"));
    setenv("RUSTICL_ENABLE", "llvmpipe", 1);
    assert_int_equal(rcl_icd_hint(h, sizeof h), 0);
    unsetenv("RUSTICL_ENABLE");

    /* no vendor directory and no driver at all */
    setenv("OCL_ICD_VENDORS", none, 1);
    setenv("RESNET_CL_ICD_LIB_DIRS", none, 1);
    assert_true(rcl_icd_hint(h, sizeof h) > 0);
    assert_non_null(strstr(h, "no ICD file in"));
    assert_non_null(strstr(h, "pocl-opencl-icd"));

    /* a short buffer: cut and terminated */
    setenv("OCL_ICD_VENDORS", ven, 1);
    setenv("RESNET_CL_ICD_LIB_DIRS", lib, 1);
    memset(h, 'x', sizeof h);
    int n = rcl_icd_hint(h, 16);
    assert_true(n > 0 && n < 16);
    assert_int_equal((int)strlen(h), n);
    assert_int_equal(h[16], 'x');

    unsetenv("OCL_ICD_VENDORS");
    unsetenv("RESNET_CL_ICD_LIB_DIRS");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_status_unknown),
        cmocka_unit_test(test_splitmix64),
        cmocka_unit_test(test_program_entry_check),
        cmocka_unit_test(test_icd_hint),
    };
    return cmocka_run_group_tests_name("host_base", tests, NULL, NULL);
}
