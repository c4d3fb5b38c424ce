/* Injected faults in a CLI training run (docs/errors.md), through the CLI
 * on real CIFAR-10 (a tiny subset), once, on the training tests' device
 * (the first that is not a software rasterizer; the faults are injected in
 * resnet-cl's own calls, not by the device):
 *  - injected faults (RESNET_CL_FAULT_LAUNCH / READ / ALLOC / WRITE) in a
 *    training run resumed for epoch 2 give one line naming the kernel or the
 *    file, exit status 1, and leave epoch 1's checkpoint as it was, loadable;
 *  - a read-only output directory likewise (skipped as root), and a real
 *    full disk, a small tmpfs (skipped where it cannot be mounted).
 * The memory estimate and the refused batch, on every device:
 * tests/test_faults.c. */
#include "harness.h"
#include "base/base.h" /* rcl_fault_reset, rcl_fnv1a */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dev(void) { return rcl_ctx_device(T_CTX)->index; }

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

/* The one line a failed checkpoint write prints, for checkpoint `ckpt`
 * and the system's `reason` (strerror) */
static const char *write_failure_line(const char *ckpt, const char *reason)
{
    static char want[700];
    snprintf(want, sizeof want,
             "resnet-cl: cannot write checkpoint %s: %s; the previous checkpoint is intact", ckpt,
             reason);
    return want;
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
    const char *line = failing_epoch2(&r, "RESNET_CL_FAULT_WRITE", "1", "cannot write checkpoint");
    assert_string_equal(line, write_failure_line(r.ckpt, "No space left on device"));
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
    const char *line = failing_epoch2(&r, "RESNET_CL_FAULT_NONE", "0", "cannot write checkpoint");
    assert_string_equal(line, write_failure_line(r.ckpt, "Permission denied"));
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
    assert_string_equal(line_with(out, "cannot write checkpoint"),
                        write_failure_line(ckpt, "No space left on device"));
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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_launch_fault),
    cmocka_unit_test(test_read_fault),
    cmocka_unit_test(test_alloc_fault),
    cmocka_unit_test(test_disk_full),
    cmocka_unit_test(test_read_only_dir),
    cmocka_unit_test(test_real_disk_full),
    cmocka_unit_test(test_cleanup),
};

RCL_TEST_MAIN_FAST("train_faults", tests)
