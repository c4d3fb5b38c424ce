/* Device failures and resources (docs/errors.md), on every device:
 *  - the memory estimate (rcl_model_estimate_memory) is within 25% of what
 *    a model, its optimizer, a batch and one training step allocate;
 *  - a batch too large for the device is refused by the CLI before any
 *    allocation, with the largest batch that fits;
 *  - injected faults (RESNET_CL_FAULT_LAUNCH / READ / ALLOC / WRITE) in a
 *    training run resumed for epoch 2 give one line naming the kernel or the
 *    file, exit status 1, and leave epoch 1's checkpoint as it was, loadable;
 *  - a read-only output directory likewise (skipped as root), and a real
 *    full disk, a small tmpfs (skipped where it cannot be mounted). */
#include "harness.h"
#include "base/base.h" /* rcl_fault_reset, rcl_fnv1a */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dev(void) { return rcl_ctx_device(T_CTX)->index; }

/* ---- the estimate against the bytes actually allocated */

typedef struct est_case {
    const char *arch;
    int batch, size;
    rcl_norm_kind norm;
} est_case;

/* Device bytes a model at c's batch holds at its peak: built, with Adam, a
 * batch, and one training step (scratch included), on a fresh context so
 * that no scratch buffer is left over from other tests. */
static uint64_t measured_bytes(const rcl_model_config *mc, const char *arch)
{
    rcl_ctx *ctx = NULL;
    T_OK(rcl_ctx_create(&ctx, dev(), NULL));
    T_OK(rcl_ctx_finish(ctx));
    uint64_t live0 = 0, peak = 0;
    rcl_device_bytes(&live0, NULL);
    rcl_device_bytes_reset_peak();
    rcl_model *m = NULL;
    rcl_batch b = {0};
    rcl_optimizer opt;
    T_OK(rcl_model_create(&m, ctx, arch, mc));
    T_OK(rcl_batch_init(&b, m));
    T_OK(rcl_optimizer_init(&opt, m, RCL_OPTIM_ADAM, NULL, NULL));
    tu_rng r = tu_rng_seed(7);
    tu_fill(&r, b.host_x, rcl_tensor_count(&b.x), 0, 1);
    for (int i = 0; i < mc->batch; i++) b.host_labels[i] = i % mc->num_classes;
    T_OK(rcl_batch_upload(&b, ctx, mc->batch));
    rcl_step_result res;
    T_OK(rcl_train_step(m, &opt, &b, mc->batch, &res));
    T_OK(rcl_ctx_finish(ctx));
    rcl_device_bytes(NULL, &peak);
    rcl_batch_free(&b);
    rcl_model_destroy(m);
    rcl_ctx_destroy(ctx);
    return peak - live0;
}

static void test_estimate_within_25_percent(void **state)
{
    (void)state;
    const est_case cases[] = {
        {"basicblock", 8, 32, RCL_NORM_BN}, {"resnet20", 16, 32, RCL_NORM_BN},
        {"resnet20", 4, 32, RCL_NORM_GN},   {"resnet18", 4, 32, RCL_NORM_BN},
        {"resnet50", 2, 64, RCL_NORM_BN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const est_case *c = &cases[i];
        rcl_model_config mc = rcl_model_config_default();
        mc.batch = c->batch;
        mc.in_h = mc.in_w = c->size;
        mc.norm.kind = c->norm;
        rcl_model_memory est;
        T_OK(rcl_model_estimate_memory(T_CTX, c->arch, &mc, 1, &est));
        assert_int_equal(est.total, est.params + est.grads + est.optim + est.activations + est.io +
                                        est.scratch);
        assert_true(est.largest >= (uint64_t)c->batch * 3 * c->size * c->size * 4);
        assert_true(est.largest < est.total);
        uint64_t got = measured_bytes(&mc, c->arch);
        double ratio = (double)est.total / (double)got;
        print_message("%-10s --norm %s batch %3d %3dx%-3d: estimate %8.2f MiB (params %.2f, "
                      "activations %.2f, scratch %.2f), allocated %8.2f MiB, ratio %.3f\n",
                      c->arch, rcl_norm_kind_name(c->norm), c->batch, c->size, c->size,
                      est.total / 1048576.0, est.params / 1048576.0, est.activations / 1048576.0,
                      est.scratch / 1048576.0, got / 1048576.0, ratio);
        if (ratio < 0.75 || ratio > 1.25)
            fail_msg("%s batch %d: estimate %llu bytes, allocated %llu", c->arch, c->batch,
                     (unsigned long long)est.total, (unsigned long long)got);
    }
}

/* The largest single buffer follows the activations, not the largest
 * weight of a small batch: resnet50 at 224 x 224, batch 64 holds conv1's
 * output, 64 x 64 x 112 x 112 floats (205 MB; its largest weight is 9 MB). */
static void test_estimate_largest_buffer(void **state)
{
    (void)state;
    rcl_model_config mc = rcl_model_config_default();
    mc.batch = 64;
    mc.in_h = mc.in_w = 224;
    mc.num_classes = 1000;
    rcl_model_memory est;
    T_OK(rcl_model_estimate_memory(T_CTX, "resnet50", &mc, 1, &est));
    uint64_t conv1 = (uint64_t)64 * 64 * 112 * 112 * 4;
    if (est.largest < conv1)
        fail_msg("largest buffer %llu bytes, below conv1's output (%llu)",
                 (unsigned long long)est.largest, (unsigned long long)conv1);
    assert_true(est.largest < est.total / 4);
}

/* Estimates grow with the batch, and the largest batch that fits a limit is
 * the bisection's answer: it fits, one more does not. */
static void test_max_batch(void **state)
{
    (void)state;
    rcl_model_config mc = rcl_model_config_default();
    mc.batch = 512;
    mc.in_h = mc.in_w = 64;
    rcl_model_memory at;
    T_OK(rcl_model_estimate_memory(T_CTX, "resnet18", &mc, 1, &at));
    uint64_t limit = at.total / 3;
    int best = 0;
    rcl_model_memory at2;
    T_OK(rcl_model_max_batch(T_CTX, "resnet18", &mc, 1, limit, &best, &at2));
    assert_int_equal(at2.total, at.total);
    assert_true(best > 1 && best < 512);
    rcl_model_memory e;
    mc.batch = best;
    T_OK(rcl_model_estimate_memory(T_CTX, "resnet18", &mc, 1, &e));
    assert_true(e.total <= limit);
    mc.batch = best + 1;
    T_OK(rcl_model_estimate_memory(T_CTX, "resnet18", &mc, 1, &e));
    assert_true(e.total > limit);
    mc.batch = 512;
    T_OK(rcl_model_max_batch(T_CTX, "resnet18", &mc, 1, 1000, &best, NULL));
    assert_int_equal(best, 0); /* 1000 bytes: nothing fits */
    /* inference needs no optimizer state */
    rcl_model_memory inf;
    T_OK(rcl_model_estimate_memory(T_CTX, "resnet18", &mc, 0, &inf));
    assert_int_equal(inf.optim, 0);
    assert_int_equal(at.optim, 2 * at.params);
}

/* The CLI refuses a batch the device cannot hold before allocating it, in
 * one line with the largest batch that fits (fast: nothing is allocated). */
static void test_cli_refuses_huge_batch(void **state)
{
    (void)state;
    char *out = NULL;
    /* --no-tune-cache: the estimate below uses the test context, which has
     * no tune cache (a cache moves conv paths, and so scratch) */
    int rc = tu_run(&out, "--device %d --no-tune-cache bench --model resnet50 --size 224 "
                          "--batch-size 65536 --steps 1",
                    dev());
    printf("%s", out);
    assert_int_equal(rc, 1);
    char want[128];
    snprintf(want, sizeof want, "resnet-cl: resnet50 at batch 65536 (224x224) needs about ");
    const char *line = strstr(out, want);
    assert_non_null(line);
    assert_non_null(strstr(line, " of device memory; device "));
    const char *fit = strstr(line, "the largest batch that fits is ");
    assert_non_null(fit);
    int best = 0;
    assert_int_equal(sscanf(fit, "the largest batch that fits is %d (--batch-size)", &best), 1);
    assert_true(best >= 1 && best < 65536);
    assert_null(strstr(out, "CL_")); /* no raw OpenCL error: nothing was allocated */
    /* the batch it names fits the device's memory */
    rcl_model_config mc = rcl_model_config_default();
    mc.batch = best;
    mc.in_h = mc.in_w = 224;
    rcl_model_memory e;
    T_OK(rcl_model_estimate_memory(T_CTX, "resnet50", &mc, 1, &e));
    assert_true(e.total <= rcl_ctx_device(T_CTX)->global_mem);
    uint64_t max_alloc = rcl_ctx_device(T_CTX)->max_alloc;
    assert_true(!max_alloc || e.largest <= max_alloc);
    free(out);
}

/* ---- injected faults in a training run */

static char *tmp_dir(void)
{
    char *d = malloc(64);
    snprintf(d, 64, "/tmp/rcl-faults-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static uint64_t file_hash(const char *path)
{
    size_t len = 0;
    char *d = tu_read_file(path, &len);
    if (!d) fail_msg("cannot read %s", path);
    uint64_t h = rcl_fnv1a(RCL_FNV_INIT, d, len);
    free(d);
    return h;
}

static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (strstr(de->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* The line of out containing `needle` (static copy), or fail. */
static const char *line_with(const char *out, const char *needle)
{
    static char line[2048];
    const char *p = strstr(out, needle);
    if (!p) fail_msg("no line contains '%s' in:\n%s", needle, out);
    const char *s = p;
    while (s > out && s[-1] != '\n') s--;
    size_t n = strcspn(s, "\n");
    snprintf(line, sizeof line, "%.*s", (int)n, s);
    return line;
}

/* The checkpoint loads into a model built from its own metadata. */
static void assert_checkpoint_loads(const char *path)
{
    rcl_checkpoint_info info = {0};
    T_OK(rcl_checkpoint_info_read(path, &info));
    rcl_model_config mc = rcl_model_config_default();
    mc.num_classes = info.num_classes;
    mc.in_h = info.in_h;
    mc.in_w = info.in_w;
    mc.batch = 2;
    mc.norm = info.norm;
    mc.init = info.init;
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, T_CTX, info.arch, &mc));
    rcl_train_progress prog;
    T_OK(rcl_checkpoint_load(m, NULL, &prog, path));
    assert_int_equal(prog.epoch, 1);
    rcl_model_destroy(m);
    free(info.class_names);
}

typedef struct run_dir {
    char *root, *dir, ckpt[256];
    uint64_t hash;
} run_dir;

#define TRAIN_ARGS "train --model basicblock --train-per-class 2 --test-per-class 1 --batch-size 10"

/* Epoch 1 of a tiny run, trained once per device; each test gets a copy in
 * a new directory. */
static char g_epoch1[64];
static int g_epoch1_dev = -1;

static void first_epoch(run_dir *r)
{
    rcl_fault_reset(); /* this process reads the variables unset */
    r->root = tu_cifar_jpeg_root();
    char cmd[600];
    if (g_epoch1_dev != dev()) {
        if (g_epoch1[0]) {
            snprintf(cmd, sizeof cmd, "rm -rf %s", g_epoch1);
            assert_int_equal(system(cmd), 0);
        }
        char *d = tmp_dir();
        snprintf(g_epoch1, sizeof g_epoch1, "%s", d);
        free(d);
        char *out = NULL;
        int rc = tu_run(&out, "--device %d " TRAIN_ARGS " --data %s --epochs 1 --out %s", dev(),
                        r->root, g_epoch1);
        if (rc) fail_msg("epoch 1 failed (%d):\n%s", rc, out);
        free(out);
        g_epoch1_dev = dev();
    }
    r->dir = tmp_dir();
    snprintf(cmd, sizeof cmd, "cp -p %s/last.safetensors %s/log.jsonl %s/", g_epoch1, g_epoch1,
             r->dir);
    assert_int_equal(system(cmd), 0);
    snprintf(r->ckpt, sizeof r->ckpt, "%s/last.safetensors", r->dir);
    r->hash = file_hash(r->ckpt);
}

/* Epoch 2, resumed from epoch 1's checkpoint, with `var`=`value` in the
 * environment: it fails with status 1; returns the line containing
 * `needle`, after checking that the checkpoint is unchanged, loads, and
 * that no temporary file was left. */
static const char *failing_epoch2(run_dir *r, const char *var, const char *value,
                                  const char *needle)
{
    tu_env saved, nocache;
    tu_env_save(&saved, var);
    tu_env_save(&nocache, "RESNET_CL_NO_PROGRAM_CACHE");
    setenv(var, value, 1);
    /* a write fault must hit the checkpoint, not a program cache entry */
    if (!strcmp(var, "RESNET_CL_FAULT_WRITE")) setenv("RESNET_CL_NO_PROGRAM_CACHE", "1", 1);
    char *out = NULL;
    int rc = tu_run(&out, "--device %d " TRAIN_ARGS " --data %s --epochs 2 --out %s --resume %s",
                    dev(), r->root, r->dir, r->ckpt);
    tu_env_restore(&saved);
    tu_env_restore(&nocache);
    printf("%s=%s: exit status %d\n%s", var, value, rc, out);
    assert_int_equal(rc, 1);
    const char *line = line_with(out, needle);
    assert_true(!strncmp(line, "resnet-cl: ", 11));
    free(out);
    assert_true(file_hash(r->ckpt) == r->hash);
    assert_checkpoint_loads(r->ckpt);
    assert_int_equal(count_temps(r->dir), 0);
    return line;
}

static void cleanup(run_dir *r)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+w %s; rm -rf %s", r->dir, r->dir);
    assert_int_equal(system(cmd), 0);
    free(r->root);
    free(r->dir);
}

static void test_launch_fault(void **state)
{
    (void)state;
    run_dir r;
    first_epoch(&r);
    const char *line = failing_epoch2(&r, "RESNET_CL_FAULT_LAUNCH", "5", "CL_OUT_OF_RESOURCES");
    assert_non_null(strstr(line, "training step: OpenCL call failed: kernel "));
    assert_non_null(strstr(line, "clEnqueueNDRangeKernel: CL_OUT_OF_RESOURCES"));
    assert_null(strstr(line, "(-5)"));
    char want[700];
    snprintf(want, sizeof want, "the last checkpoint %s is intact (continue with --resume %s)",
             r.ckpt, r.ckpt);
    assert_non_null(strstr(line, want));
    /* and the run continues from it */
    char *out = NULL;
    int rc = tu_run(&out, "--device %d " TRAIN_ARGS " --data %s --epochs 2 --out %s --resume %s",
                    dev(), r.root, r.dir, r.ckpt);
    if (rc) fail_msg("resume after the fault failed (%d):\n%s", rc, out);
    free(out);
    cleanup(&r);
}

static void test_read_fault(void **state)
{
    (void)state;
    run_dir r;
    first_epoch(&r);
    const char *line = failing_epoch2(&r, "RESNET_CL_FAULT_READ", "1", "clEnqueueReadBuffer");
    assert_non_null(strstr(line, "failed with CL_OUT_OF_RESOURCES after kernel "));
    assert_non_null(strstr(line, "the device failed or was lost"));
    assert_non_null(strstr(line, "is intact (continue with --resume "));
    cleanup(&r);
}

static void test_alloc_fault(void **state)
{
    (void)state;
    run_dir r;
    first_epoch(&r);
    const char *line = failing_epoch2(&r, "RESNET_CL_FAULT_ALLOC", "3", "cannot allocate ");
    assert_non_null(strstr(line, "out of device memory"));
    assert_non_null(strstr(line, "of device memory (clCreateBuffer: CL_MEM_OBJECT_ALLOCATION_FAILURE)"));
    char want[64];
    snprintf(want, sizeof want, "; device %d (", dev());
    assert_non_null(strstr(line, want));
    cleanup(&r);
}

static void test_disk_full(void **state)
{
    (void)state;
    run_dir r;
    first_epoch(&r);
    char want[700];
    snprintf(want, sizeof want, "resnet-cl: cannot write checkpoint %s: No space left on device; "
             "the previous checkpoint is intact", r.ckpt);
    const char *line = failing_epoch2(&r, "RESNET_CL_FAULT_WRITE", "1", "cannot write checkpoint");
    assert_string_equal(line, want);
    cleanup(&r);
}

static void test_read_only_dir(void **state)
{
    (void)state;
    run_dir r;
    first_epoch(&r);
    assert_int_equal(chmod(r.dir, 0555), 0);
    if (access(r.dir, W_OK) == 0) {
        printf("skipped the read-only directory case: running as root, which writes into a "
               "directory of mode 0555 anyway\n");
        cleanup(&r);
        return;
    }
    char want[700];
    snprintf(want, sizeof want, "resnet-cl: cannot write checkpoint %s: Permission denied; the "
             "previous checkpoint is intact", r.ckpt);
    const char *line = failing_epoch2(&r, "RESNET_CL_FAULT_NONE", "0", "cannot write checkpoint");
    assert_string_equal(line, want);
    cleanup(&r);
}

/* A real full disk: a tmpfs with room for one checkpoint and not two (the
 * new one is written beside the old before the rename). Needs mount
 * permission (root outside a restricted container); skipped, and says so,
 * without it. */
static void test_real_disk_full(void **state)
{
    (void)state;
    run_dir r;
    first_epoch(&r);
    size_t len = 0;
    char *d = tu_read_file(r.ckpt, &len);
    assert_non_null(d);
    free(d);
    char mnt[64], cmd[700];
    snprintf(mnt, sizeof mnt, "/tmp/rcl-faults-mnt-XXXXXX");
    assert_non_null(mkdtemp(mnt));
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=%zuk tmpfs %s 2>/dev/null", len * 3 / 2 / 1024 + 32,
             mnt);
    if (system(cmd) != 0) {
        printf("skipped the real full-disk case: cannot mount a tmpfs here (needs root and mount "
               "permission); the injected case (RESNET_CL_FAULT_WRITE) covers the same path\n");
        rmdir(mnt);
        cleanup(&r);
        return;
    }
    snprintf(cmd, sizeof cmd, "cp -p %s/last.safetensors %s/log.jsonl %s/", r.dir, r.dir, mnt);
    int cp_rc = system(cmd);
    char ckpt[256];
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", mnt);
    char *out = NULL;
    int rc = cp_rc ? -1
                   : tu_run(&out, "--device %d " TRAIN_ARGS " --data %s --epochs 2 --out %s --resume %s",
                            dev(), r.root, mnt, ckpt);
    uint64_t h = cp_rc ? 0 : file_hash(ckpt);
    int temps = count_temps(mnt);
    snprintf(cmd, sizeof cmd, "umount %s && rmdir %s", mnt, mnt);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(cp_rc, 0);
    printf("real full disk (tmpfs of %zu KiB): exit status %d\n%s", len * 3 / 2 / 1024 + 32, rc, out);
    assert_int_equal(rc, 1);
    char want[700];
    snprintf(want, sizeof want, "resnet-cl: cannot write checkpoint %s: No space left on device; "
             "the previous checkpoint is intact", ckpt);
    assert_string_equal(line_with(out, "cannot write checkpoint"), want);
    assert_true(h == r.hash);
    assert_int_equal(temps, 0);
    free(out);
    cleanup(&r);
}

/* Last: the shared epoch-1 directory goes. */
static void test_cleanup(void **state)
{
    (void)state;
    if (g_epoch1[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", g_epoch1);
        assert_int_equal(system(cmd), 0);
        g_epoch1[0] = 0;
        g_epoch1_dev = -1;
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate_within_25_percent),
        cmocka_unit_test(test_estimate_largest_buffer),
        cmocka_unit_test(test_max_batch),
        cmocka_unit_test(test_cli_refuses_huge_batch),
        cmocka_unit_test(test_launch_fault),
        cmocka_unit_test(test_read_fault),
        cmocka_unit_test(test_alloc_fault),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_read_only_dir),
        cmocka_unit_test(test_real_disk_full),
        cmocka_unit_test(test_cleanup),
    };
    return rcl_test_main(argc, argv, "faults", tests, sizeof tests / sizeof tests[0]);
}
