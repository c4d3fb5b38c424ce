/* Base layer without a device: the status table (every code has its own
 * name and message, unknown codes get a fallback) and splitmix64's
 * published output, through the shared inline and through rcl_rng. */
#include "harness.h"
#include "base/base.h"
#include "runtime/internal.h"

#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_status_unknown),
        cmocka_unit_test(test_splitmix64),
        cmocka_unit_test(test_program_entry_check),
    };
    return cmocka_run_group_tests_name("host_base", tests, NULL, NULL);
}
