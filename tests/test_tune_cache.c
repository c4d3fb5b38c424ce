/* Tune cache: round trip into the tunable table; corrupt, truncated, stale,
 * foreign and missing files are rejected with a message and change nothing. */
#include "harness.h"
#include "rcl/tune_cache.h"
#include "runtime/internal.h"
#include "base/base.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];

static void use_temp_cache_dir(void)
{
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/rcl-tune-test-XXXXXX");
        assert_non_null(mkdtemp(g_dir));
    }
    assert_int_equal(setenv("XDG_CACHE_HOME", g_dir, 1), 0);
}

static const rcl_tune_entry ENTRIES[] = {
    {"gemm.NN_m6_n12_k9", "PATH", 1},
    {"gemm.NN_m6_n12_k9", "MWI", 6},
    {"gemm.clblast", "XGEMM_MIN_INDIRECT_SIZE", 64},
    {"relu", "WG", -3},
};
#define NE ((int)(sizeof ENTRIES / sizeof ENTRIES[0]))

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *d = malloc(1 << 16);
    *len = fread(d, 1, 1 << 16, f);
    fclose(f);
    return d;
}

static void spit(const char *path, const char *d, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, len, f), len);
    fclose(f);
}

/* A load that must be refused: status, message, and the table untouched. */
static void expect_rejected(const char *path, int want_status, const char *msg_part)
{
    char msg[512];
    int st = rcl_tune_cache_load(T_CTX, path, msg, sizeof msg);
    if (st != want_status || !strstr(msg, msg_part))
        fail_msg("load %s -> %d '%s', wanted %d '%s'", path, st, msg, want_status, msg_part);
    assert_int_equal(rcl_ctx_param(T_CTX, "gemm.NN_m6_n12_k9", "MWI", -99), -99);
}

static void test_round_trip(void **state)
{
    (void)state;
    use_temp_cache_dir();
    char path[1024], msg[512];
    T_OK(rcl_tune_cache_path(T_CTX, path, sizeof path));
    assert_non_null(strstr(path, g_dir));
    assert_non_null(strstr(path, "/resnet-cl/tune/"));
    expect_rejected(NULL, RCL_ERR_NOT_FOUND, "no tune cache");
    T_OK(rcl_tune_cache_save(T_CTX, NULL, ENTRIES, NE));
    assert_int_equal(access(path, R_OK), 0);
    T_OK(rcl_tune_cache_load(T_CTX, NULL, msg, sizeof msg));
    assert_non_null(strstr(msg, "loaded tune cache"));
    assert_non_null(strstr(msg, "(4 entries)"));
    for (int i = 0; i < NE; i++)
        assert_int_equal(rcl_ctx_param(T_CTX, ENTRIES[i].key, ENTRIES[i].param, 12345),
                         ENTRIES[i].value);
    /* a table tunable is resolved to its slot at load: ops read it by id */
    assert_int_equal(rcl_tun(T_CTX, RCL_TUN_RELU_WG), -3);
    /* direct reader agrees */
    char key[1200];
    T_OK(rcl_tune_device_key(T_CTX, key, sizeof key));
    rcl_tune_entry *e = NULL;
    int n = 0;
    T_OK(rcl_tune_file_read(path, key, &e, &n, msg, sizeof msg));
    assert_int_equal(n, NE);
    assert_memory_equal(e, ENTRIES, sizeof ENTRIES);
    free(e);
    /* reset the table entry the rejection tests look at */
    T_OK(rcl_ctx_set_param(T_CTX, "gemm.NN_m6_n12_k9", "MWI", -99));
    /* no temporary file ("<name>.tmp.*") left behind next to it */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        if (strstr(de->d_name, ".tmp.")) fail_msg("temporary file left: %s/%s", dir, de->d_name);
    closedir(d);
}

static void test_corrupt_checksum(void **state)
{
    (void)state;
    use_temp_cache_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/corrupt.txt", g_dir);
    T_OK(rcl_tune_cache_save(T_CTX, path, ENTRIES, NE));
    size_t len;
    char *d = slurp(path, &len);
    char *v = strstr(d, "MWI 6");
    assert_non_null(v);
    v[4] = '7'; /* a plausible value, but not what was written */
    spit(path, d, len);
    expect_rejected(path, RCL_ERR_FORMAT, "checksum mismatch");
    free(d);
}

static void test_truncated(void **state)
{
    (void)state;
    use_temp_cache_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/trunc.txt", g_dir);
    T_OK(rcl_tune_cache_save(T_CTX, path, ENTRIES, NE));
    size_t len;
    char *d = slurp(path, &len);
    /* cut in the middle, at a line end before the checksum, and to nothing */
    spit(path, d, len / 2);
    expect_rejected(path, RCL_ERR_FORMAT, "truncated");
    char *ck = strstr(d, "checksum ");
    assert_non_null(ck);
    spit(path, d, (size_t)(ck - d));
    expect_rejected(path, RCL_ERR_FORMAT, "ignoring tune cache");
    spit(path, d, 0);
    expect_rejected(path, RCL_ERR_FORMAT, "truncated");
    free(d);
}

static void test_foreign_and_stale(void **state)
{
    (void)state;
    use_temp_cache_dir();
    char key[1200], other[1400], path[1024];
    T_OK(rcl_tune_device_key(T_CTX, key, sizeof key));
    snprintf(path, sizeof path, "%s/other.txt", g_dir);
    /* another device name: foreign */
    const char *dev = strstr(key, "\ndevice ");
    assert_non_null(dev);
    snprintf(other, sizeof other, "%.*s\ndevice Some Other GPU%s", (int)(dev - key), key,
             strchr(dev + 1, '\n'));
    T_OK(rcl_tune_file_write(path, other, ENTRIES, NE));
    expect_rejected(path, RCL_ERR_FORMAT, "foreign");
    /* same device, other driver version: stale */
    const char *drv = strstr(key, "\ndriver ");
    assert_non_null(drv);
    snprintf(other, sizeof other, "%.*s\ndriver 0.0-old%s", (int)(drv - key), key,
             strchr(drv + 1, '\n'));
    T_OK(rcl_tune_file_write(path, other, ENTRIES, NE));
    expect_rejected(path, RCL_ERR_FORMAT, "stale");
    /* the runtime environment is part of the key */
    T_OK(rcl_tune_file_write(path, key, ENTRIES, NE));
    tu_env pt, af;
    tu_env_save(&pt, "POCL_MAX_PTHREAD_COUNT");
    assert_int_equal(setenv("POCL_MAX_PTHREAD_COUNT", strcmp(pt.value, "1") ? "1" : "2", 1), 0);
    expect_rejected(path, RCL_ERR_FORMAT, "stale");
    tu_env_restore(&pt);
    /* ... PoCL's thread pinning too (resnet-cl sets POCL_AFFINITY=1) */
    tu_env_save(&af, "POCL_AFFINITY");
    assert_int_equal(setenv("POCL_AFFINITY", strcmp(af.value, "0") ? "0" : "1", 1), 0);
    expect_rejected(path, RCL_ERR_FORMAT, "stale");
    tu_env_restore(&af);
    /* not a cache file at all */
    spit(path, "hello\n", 6);
    expect_rejected(path, RCL_ERR_FORMAT, "ignoring");
}

static void test_invalid_entries(void **state)
{
    (void)state;
    use_temp_cache_dir();
    char path[1024];
    snprintf(path, sizeof path, "%s/bad.txt", g_dir);
    rcl_tune_entry bad = {"has space", "X", 1};
    assert_int_equal(rcl_tune_file_write(path, "k", &bad, 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_tune_file_write(path, "k", NULL, -1), RCL_ERR_INVALID);
}

/* A v1 file (written before the tuner timed conv WINOGRAD against the
 * device's default, and wrote it whatever it measured) loads without its
 * "conv WINOGRAD" entry, saying so; a v2 file keeps it. */
static void test_v1_winograd(void **state)
{
    (void)state;
    use_temp_cache_dir();
    char path[1024], key[1200], msg[512];
    snprintf(path, sizeof path, "%s/v1.txt", g_dir);
    T_OK(rcl_tune_device_key(T_CTX, key, sizeof key));
    const rcl_tune_entry two[] = {{"conv", "WINOGRAD", 0}, {"relu", "WG", 32}};
    T_OK(rcl_tune_file_write(path, key, two, 2));
    rcl_tune_entry *e = NULL;
    int n = 0;
    T_OK(rcl_tune_file_read(path, key, &e, &n, msg, sizeof msg));
    assert_int_equal(n, 2); /* v2: kept */
    assert_string_equal(msg, "");
    free(e);
    /* the same file as v1: first line "... v1", checksum recomputed */
    size_t len;
    char *d = slurp(path, &len);
    char *v = strstr(d, "tune cache v2\n");
    assert_non_null(v);
    v[strlen("tune cache v")] = '1';
    char *ck = strstr(d, "checksum ");
    assert_non_null(ck);
    int head = (int)(ck - d);
    unsigned long long sum = rcl_fnv1a(RCL_FNV_INIT, d, (size_t)head);
    len = (size_t)head + (size_t)snprintf(ck, 64, "checksum %016llx\n", sum);
    spit(path, d, len);
    free(d);
    T_OK(rcl_tune_file_read(path, key, &e, &n, msg, sizeof msg));
    assert_int_equal(n, 1);
    assert_string_equal(e[0].key, "relu");
    assert_int_equal(e[0].value, 32);
    assert_non_null(strstr(msg, "conv WINOGRAD"));
    free(e);
    /* loaded into a fresh context: WINOGRAD stays the device's default */
    rcl_ctx *ctx = NULL;
    T_OK(rcl_ctx_create(&ctx, rcl_ctx_device(T_CTX)->index, NULL));
    int wino = rcl_tun(ctx, RCL_TUN_CONV_WINOGRAD);
    T_OK(rcl_tune_cache_load(ctx, path, msg, sizeof msg));
    assert_non_null(strstr(msg, "(1 entries)"));
    assert_non_null(strstr(msg, "re-run resnet-cl-tune"));
    assert_int_equal(rcl_tun(ctx, RCL_TUN_CONV_WINOGRAD), wino);
    assert_int_equal(rcl_tun(ctx, RCL_TUN_RELU_WG), 32);
    rcl_ctx_destroy(ctx);
}

/* remove what the tests wrote (last test) */
static void test_cleanup(void **state)
{
    (void)state;
    use_temp_cache_dir();
    char path[1024];
    T_OK(rcl_tune_cache_path(T_CTX, path, sizeof path));
    remove(path);
    const char *files[] = {"corrupt.txt", "trunc.txt", "other.txt", "bad.txt", "v1.txt"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", g_dir, files[i]);
        remove(path);
    }
    snprintf(path, sizeof path, "%s/resnet-cl/tune", g_dir);
    assert_int_equal(rmdir(path), 0);
    snprintf(path, sizeof path, "%s/resnet-cl", g_dir);
    rmdir(path);
    assert_int_equal(rmdir(g_dir), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_corrupt_checksum),
    cmocka_unit_test(test_truncated),
    cmocka_unit_test(test_foreign_and_stale),
    cmocka_unit_test(test_invalid_entries),
    cmocka_unit_test(test_v1_winograd),
    cmocka_unit_test(test_cleanup),
};

RCL_TEST_MAIN("tune_cache", tests)
