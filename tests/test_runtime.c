/* Runtime: device list, kernel build errors, the on-disk program cache
 * (hit on second start, corrupt entries detected and rebuilt), profiling
 * tags (rcl_prof), RESNET_CL_POISON. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_device_list(void **state)
{
    (void)state;
    rcl_device_info devs[RCL_MAX_DEVICES];
    int n = 0;
    T_OK(rcl_devices_list(devs, RCL_MAX_DEVICES, &n));
    assert_true(n >= 1);
    const rcl_device_info *me = rcl_ctx_device(T_CTX);
    assert_true(me->index < n);
    assert_string_equal(devs[me->index].name, me->name);
    assert_true(me->global_mem > 0 && me->max_alloc > 0 && me->compute_units > 0);
    rcl_ctx *bad = NULL;
    assert_int_equal(rcl_ctx_create(&bad, n, NULL), RCL_ERR_DEVICE_INDEX);
    assert_null(bad);
    assert_int_equal(rcl_ctx_create(&bad, -1, NULL), RCL_ERR_DEVICE_INDEX);
}

static void test_missing_kernel(void **state)
{
    (void)state;
    cl_kernel k;
    assert_int_equal(rcl_ctx_kernel(T_CTX, "no_such_file.cl", "x", "", &k), RCL_ERR_NOT_FOUND);
    assert_int_equal(rcl_ctx_kernel(T_CTX, "relu.cl", "no_such_kernel", "-DWG=64", &k),
                     RCL_ERR_NOT_FOUND);
}

static void test_build_error_has_log(void **state)
{
    (void)state;
    cl_kernel k;
    /* WG=+ turns reqd_work_group_size(WG,1,1) into a syntax error. */
    int st = rcl_ctx_kernel(T_CTX, "relu.cl", "relu_forward", "-DWG=+", &k);
    assert_int_equal(st, RCL_ERR_BUILD);
    const char *log = rcl_last_error();
    assert_non_null(strstr(log, "relu.cl"));
    assert_non_null(strstr(log, "error"));
}

/* Run relu on a fresh context whose cache lives in `dir`; returns stats. */
static rcl_ctx_stats relu_with_cache(const char *dir)
{
    setenv("XDG_CACHE_HOME", dir, 1);
    rcl_ctx *ctx = NULL;
    T_OK(rcl_ctx_create(&ctx, rcl_ctx_device(T_CTX)->index, NULL));
    rcl_tensor x, y;
    float in[5] = {-1, 2, -3, 4, 0.5f}, out[5];
    T_OK(rcl_tensor_create(ctx, &x, 1, 1, 1, 5));
    T_OK(rcl_tensor_create(ctx, &y, 1, 1, 1, 5));
    T_OK(rcl_tensor_write(ctx, &x, in));
    T_OK(rcl_relu_forward(ctx, &y, &x));
    T_OK(rcl_tensor_read(ctx, &y, out));
    assert_true(out[0] == 0 && out[1] == 2 && out[2] == 0 && out[3] == 4 && out[4] == 0.5f);
    rcl_ctx_stats s = rcl_ctx_get_stats(ctx);
    rcl_tensor_destroy(&x);
    rcl_tensor_destroy(&y);
    rcl_ctx_destroy(ctx);
    unsetenv("XDG_CACHE_HOME");
    return s;
}

static int only_entry(const char *dir, char *path, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/resnet-cl/programs/*.bin 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    int n = 0;
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        snprintf(path, cap, "%s", line);
        n++;
    }
    if (p) pclose(p);
    return n;
}

static void corrupt_byte(const char *path, long from_end)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, -from_end, SEEK_END);
    int c = fgetc(f);
    fseek(f, -from_end, SEEK_END);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void test_disk_cache(void **state)
{
    (void)state;
    char dir[] = "/tmp/rcl-cache-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[600];
    rcl_ctx_stats s;

    /* PoCL keeps its own kernel cache: resnet-cl writes and reads nothing
     * there unless PoCL's is off (POCL_KERNEL_CACHE=0), which the rest of
     * this test sets so that the entry's checks run on PoCL too */
    tu_env saved;
    tu_env_save(&saved, "POCL_KERNEL_CACHE");
    unsetenv("POCL_KERNEL_CACHE");
    rcl_ctx *probe = NULL;
    T_OK(rcl_ctx_create(&probe, rcl_ctx_device(T_CTX)->index, NULL));
    int own = rcl_ctx_device(probe)->own_program_cache;
    rcl_ctx_destroy(probe);
    assert_int_equal(own, strstr(rcl_ctx_device(T_CTX)->platform_name,
                                 "Portable Computing Language") != NULL);
    if (own) {
        for (int k = 0; k < 2; k++) {
            s = relu_with_cache(dir);
            assert_int_equal(s.programs_built, 1);
            assert_int_equal(s.programs_loaded, 0);
            assert_int_equal(only_entry(dir, path, sizeof path), 0);
        }
        setenv("POCL_KERNEL_CACHE", "0", 1);
        T_OK(rcl_ctx_create(&probe, rcl_ctx_device(T_CTX)->index, NULL));
        assert_int_equal(rcl_ctx_device(probe)->own_program_cache, 0);
        rcl_ctx_destroy(probe);
    }

    s = relu_with_cache(dir);
    assert_int_equal(s.programs_built, 1);
    assert_int_equal(s.programs_loaded, 0);
    assert_int_equal(only_entry(dir, path, sizeof path), 1);

    s = relu_with_cache(dir); /* second start: no compile */
    assert_int_equal(s.programs_built, 0);
    assert_int_equal(s.programs_loaded, 1);

    corrupt_byte(path, 3); /* flip a byte in the binary */
    s = relu_with_cache(dir);
    assert_int_equal(s.cache_rejected, 1);
    assert_int_equal(s.programs_built, 1);

    assert_int_equal(truncate(path, 40), 0); /* truncated entry */
    s = relu_with_cache(dir);
    assert_int_equal(s.cache_rejected, 1);
    assert_int_equal(s.programs_built, 1);

    s = relu_with_cache(dir); /* rebuilt entry is good again */
    assert_int_equal(s.programs_loaded, 1);
    assert_int_equal(s.cache_rejected, 0);
    tu_env_restore(&saved);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_tensor_basics(void **state)
{
    (void)state;
    rcl_tensor a, b;
    assert_int_equal(rcl_tensor_create(T_CTX, &a, 0, 1, 1, 1), RCL_ERR_INVALID);
    T_OK(rcl_tensor_create(T_CTX, &a, 2, 3, 5, 7));
    T_OK(rcl_tensor_create(T_CTX, &b, 2, 3, 5, 7));
    T_OK(rcl_tensor_fill(T_CTX, &a, 1.5f));
    T_OK(rcl_tensor_copy(T_CTX, &b, &a));
    float *h = tu_read(&b);
    for (size_t i = 0; i < rcl_tensor_count(&b); i++) assert_true(h[i] == 1.5f);
    free(h);
    rcl_tensor_destroy(&a);
    rcl_tensor_destroy(&b);
    /* a buffer larger than the device allows is refused up front */
    cl_mem m;
    uint64_t too_big = rcl_ctx_device(T_CTX)->max_alloc + 1;
    assert_int_equal(rcl_buffer_create(T_CTX, &m, (size_t)too_big), RCL_ERR_DEVICE_NOMEM);
}

/* RESNET_CL_POISON=1: a context's new buffers hold quiet NaNs until
 * written (the debugging aid for kernels reading memory nothing wrote);
 * unset, nothing is filled (a fill would cost every allocation). */
static void test_poison(void **state)
{
    (void)state;
    const int n = 37;
    for (int on = 1; on >= 0; on--) {
        if (on) assert_int_equal(setenv("RESNET_CL_POISON", "1", 1), 0);
        else assert_int_equal(unsetenv("RESNET_CL_POISON"), 0);
        rcl_ctx *ctx;
        T_OK(rcl_ctx_create(&ctx, rcl_ctx_device(T_CTX)->index, NULL));
        rcl_tensor t, u;
        T_OK(rcl_tensor_create(ctx, &t, n, 1, 1, 1));
        float h[37];
        T_OK(rcl_tensor_read(ctx, &t, h));
        int nans = 0;
        for (int i = 0; i < n; i++) nans += isnan(h[i]) != 0;
        if (on) assert_int_equal(nans, n);
        /* a written buffer reads back what was written */
        for (int i = 0; i < n; i++) h[i] = (float)i;
        T_OK(rcl_tensor_create(ctx, &u, n, 1, 1, 1));
        T_OK(rcl_tensor_write(ctx, &u, h));
        float g[37];
        T_OK(rcl_tensor_read(ctx, &u, g));
        assert_memory_equal(g, h, sizeof h);
        rcl_tensor_destroy(&t);
        rcl_tensor_destroy(&u);
        rcl_ctx_destroy(ctx);
    }
}

/* rcl_prof: device time per tag from a profiling context; drain without
 * `keep` and reset leave the totals as documented. */
static void test_profile_tags(void **state)
{
    (void)state;
    rcl_ctx *ctx = NULL;
    rcl_ctx_options opt = {.profiling = 1};
    T_OK(rcl_ctx_create(&ctx, rcl_ctx_device(T_CTX)->index, &opt));
    rcl_tensor x, y;
    T_OK(rcl_tensor_create(ctx, &x, 4, 16, 128, 128));
    T_OK(rcl_tensor_create(ctx, &y, 4, 16, 128, 128));
    T_OK(rcl_tensor_fill(ctx, &x, -1.0f));
    rcl_prof p = {0};
    rcl_prof_attach(ctx, &p);
    T_OK(rcl_relu_forward(ctx, &y, &x));
    T_OK(rcl_ctx_finish(ctx));
    assert_int_equal(p.n, 1); /* one kernel, one event */
    rcl_prof_drain(&p, 1);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.ntags, 1);
    assert_string_equal(p.names[0], "relu");
    double ms = rcl_prof_ms(&p, "relu");
    assert_true(ms > 0);
    assert_true(rcl_prof_ms(&p, "bn") == 0);
    T_OK(rcl_relu_forward(ctx, &y, &x));
    T_OK(rcl_ctx_finish(ctx));
    rcl_prof_drain(&p, 0); /* not counted */
    assert_true(rcl_prof_ms(&p, "relu") == ms);
    rcl_prof_reset(&p);
    assert_int_equal(p.ntags, 0);
    assert_true(rcl_prof_ms(&p, "relu") == 0);
    rcl_prof_detach(ctx);
    T_OK(rcl_relu_forward(ctx, &y, &x)); /* detached: nothing collected */
    T_OK(rcl_ctx_finish(ctx));
    assert_int_equal(p.n, 0);
    rcl_prof_free(&p);
    rcl_tensor_destroy(&x);
    rcl_tensor_destroy(&y);
    rcl_ctx_destroy(ctx);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_device_list),
    cmocka_unit_test(test_missing_kernel),
    cmocka_unit_test(test_build_error_has_log),
    cmocka_unit_test(test_disk_cache),
    cmocka_unit_test(test_tensor_basics),
    cmocka_unit_test(test_profile_tags),
    cmocka_unit_test(test_poison),
};

RCL_TEST_MAIN("runtime", tests)
