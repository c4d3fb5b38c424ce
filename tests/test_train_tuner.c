/* resnet-cl-tune end to end on a small model (device 0 only, like the
 * test_train_* CLI runs): it records resnet20's GEMM shapes, tunes them and
 * the other kernels (phase F) within a short budget, prints both tables,
 * writes a cache that loads, and keeps an earlier run's entries for classes
 * it did not see; a list of models tunes their merged shapes. */
#include "harness.h"
#include "tools/cli_env.h"
#include "rcl/tune_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int find(const rcl_tune_entry *e, int n, const char *key, const char *param, int *value)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(e[i].key, key) && !strcmp(e[i].param, param)) {
            if (value) *value = e[i].value;
            return 1;
        }
    return 0;
}

static void test_tuner_run(void **state)
{
    (void)state;
    /* a private tune cache; compiled programs (ours and PoCL's kernel
     * cache) shared with the suite's cache */
    char dir[256], sub[300], path[1024], cache[700], old_programs[1024], old_pocl[1024];
    const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    snprintf(cache, sizeof cache, "%s%s", x && *x ? x : home, x && *x ? "" : "/.cache");
    snprintf(old_programs, sizeof old_programs, "%s/resnet-cl/programs", cache);
    snprintf(old_pocl, sizeof old_pocl, "%s/pocl", cache);
    snprintf(dir, sizeof dir, "/tmp/rcl-tuner-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/resnet-cl", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(sub, sizeof sub, "%s/resnet-cl/programs", dir);
    if (access(old_programs, F_OK) == 0) assert_int_equal(symlink(old_programs, sub), 0);
    snprintf(sub, sizeof sub, "%s/pocl", dir);
    if (access(old_pocl, F_OK) == 0) assert_int_equal(symlink(old_pocl, sub), 0);
    assert_int_equal(setenv("XDG_CACHE_HOME", dir, 1), 0);
    /* the pinning of PoCL's workers is part of the cache key: the tuner's
     * rule here too, so that this process computes the tuner's key */
    cli_env_pin_pocl_workers();

    /* an earlier run's cache: a class resnet20 does not have, and a kernel entry */
    const rcl_tune_entry earlier[] = {
        {"gemm.NN_m13_n13_k13", "PATH", 1}, {"gemm.NN_m13_n13_k13", "MWI", 2},
        {"relu", "WG", 32},
    };
    T_OK(rcl_tune_cache_path(T_CTX, path, sizeof path));
    T_OK(rcl_tune_cache_save(T_CTX, path, earlier, 3));

    char *out = NULL;
    int rc = tu_run_tune(&out, "--device %d --model resnet20 --batch-size 8 --budget 10",
                         rcl_ctx_device(T_CTX)->index);
    if (rc != 0 || !strstr(out, "model resnet20, batch 8") || !strstr(out, "kernel parameter") ||
        !strstr(out, "im2col SPAN") || !strstr(out, "conv WINOGRAD") || !strstr(out, "kept ") ||
        !strstr(out, "wrote "))
        fail_msg("resnet-cl-tune: rc %d, output:\n%s", rc, out);
    free(out);

    char key[2048], msg[512];
    T_OK(rcl_tune_device_key(T_CTX, key, sizeof key));
    rcl_tune_entry *e = NULL;
    int n = 0, v = 0;
    int st = rcl_tune_file_read(path, key, &e, &n, msg, sizeof msg);
    if (st != RCL_OK) fail_msg("written cache does not load: %s", msg);
    assert_true(find(e, n, "gemm", "DEFAULT_PATH", NULL));
    assert_true(find(e, n, "gemm.NN_m13_n13_k13", "MWI", &v) && v == 2); /* kept */
    int classes = 0;
    for (int i = 0; i < n; i++) classes += !strncmp(e[i].key, "gemm.", 5) && !strcmp(e[i].param, "PATH");
    /* resnet20's classes plus the kept one: with its 3x3 convs on the
     * direct kernels (conv.PATH's rule), the fc layer's three GEMMs and the
     * stride-2 data gradients remain */
    assert_true(classes >= 5);
    free(e);

    /* a list: every model's shapes merged into one run (a dry run) */
    rc = tu_run_tune(&out, "--device %d --model resnet20,resnet56 --batch-size 8 --budget 10 "
                     "--dry-run", rcl_ctx_device(T_CTX)->index);
    if (rc != 0 || !strstr(out, "model resnet56: ") ||
        !strstr(out, "2 models (resnet20 ... resnet56), batch 8") ||
        !strstr(out, "phase F on each") ||
        !strstr(out, "training steps of resnet20, resnet56 (batch 8)") ||
        !strstr(out, "dry run: cache not written"))
        fail_msg("resnet-cl-tune --model resnet20,resnet56: rc %d, output:\n%s", rc, out);
    free(out);

    /* the private cache (the links, not what they point at; Mesa's cache
     * of the tuner's run, and PoCL's where the suite had none) */
    assert_int_equal(tu_remove_tree(dir), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tuner_run),
};

RCL_TEST_MAIN_FAST("train_tuner", tests)
