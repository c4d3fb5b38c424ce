/* The command line's handling of bad input: one clear line naming the
 * problem and a non-zero exit. */
#define _GNU_SOURCE /* sched_setaffinity */
#include "harness.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h" /* rcl_fnv1a: the checkpoint checksum */
#include "tools/cli_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void expect(int want_rc, const char *needle, const char *args)
{
    char *out = NULL;
    int rc = tu_run(&out, "%s", args);
    if (rc != want_rc || !strstr(out, needle) || count_lines(out) != 1)
        fail_msg("resnet-cl %s: rc %d (want %d), output:\n%s(want one line containing '%s')", args,
                 rc, want_rc, out, needle);
    free(out);
}

static void test_bad_input(void **state)
{
    (void)state;
    expect(1, "device 99 does not exist", "--device 99 devices");
    expect(1, "device 99 does not exist", "--device 99 summary --model resnet20");
    expect(2, "bad value 'x' for --device (want a non-negative integer)", "--device x devices");
    expect(2, "unknown command 'fly'", "fly");
    expect(2, "unknown option '--wat'", "train --wat");
    expect(2, "bad value 'x' for --epochs", "train --epochs x");
    expect(2, "bad value '-1' for --lr", "train --lr -1");
    expect(1, "not found", "train --data /nonexistent/cifar");
    expect(1, "unknown model 'resnet19'", "summary --model resnet19");
    expect(2, "unknown model 'resnet19'", "bench gemm --model resnet19");
    expect(2, "bad value '0' for --rounds (want an integer in 1..15)", "bench gemm --rounds 0");
    expect(2, "bad value '16' for --rounds", "bench gemm --rounds 16");
    expect(1, "/nonexistent/m.safetensors", "eval --checkpoint /nonexistent/m.safetensors --data /nonexistent/d");
    char *root = tu_cifar_jpeg_root(), args[1024];
    snprintf(args, sizeof args, "eval --checkpoint /nonexistent/m.safetensors --data %s --per-class 1", root);
    expect(1, "/nonexistent/m.safetensors", args);
    free(root);
    expect(1, "/nonexistent/c.safetensors", "predict --checkpoint /nonexistent/c.safetensors x.jpg");
    expect(2, "bad value 'batchnorm' for --norm (want bn, gn, ln, in, lrn, brn, ws or none)",
           "train --norm batchnorm");
    expect(2, "bad value 'he' for --init", "summary --init he");
    expect(2, "bad value '0' for --groups", "bench --groups 0");
    expect(2, "bad value 'conv WINOGRAD' for --param", "bench --param 'conv WINOGRAD'");
    expect(2, "bad value 'conv WINOGRADX 1' for --param", "bench --param 'conv WINOGRADX 1'");
    expect(2, "bad value 'fan' for --init-mode (want fan_in or fan_out)", "train --init-mode fan");
    expect(2, "bad value '0.5' for --brn-r-max", "train --brn-r-max 0.5");
    /* fuzz_cli finding: a directory as the spec file made read_text malloc 2^63 bytes */
    expect(2, "cannot read spec file /: Is a directory", "study --spec /");
}

/* train --help lists every normalization and init scheme; summary shows the
 * groups gn uses per layer */
static void test_norm_help(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(tu_run(&out, "train --help"), 0);
    for (int k = 0; k < RCL_NORM_COUNT; k++)
        if (!strstr(out, rcl_norm_kind_name((rcl_norm_kind)k)))
            fail_msg("train --help does not name --norm %s", rcl_norm_kind_name((rcl_norm_kind)k));
    for (int k = 0; k < RCL_INIT_COUNT; k++)
        if (!strstr(out, rcl_init_scheme_name((rcl_init_scheme)k)))
            fail_msg("train --help does not name --init %s", rcl_init_scheme_name((rcl_init_scheme)k));
    free(out);
}

/* getopt_long (tools/cli_parse.h): every command reports an unknown option,
 * a missing value, a bad number and a value given to a flag the same way,
 * and takes --opt=value as well as --opt value */
static void test_getopt(void **state)
{
    (void)state;
    /* global options (before the command) */
    expect(2, "resnet-cl: unknown option '--wat' (see resnet-cl --help)", "--wat devices");
    expect(2, "resnet-cl: missing value for --device", "--device");
    expect(2, "bad value 'x' for --device", "--device=x devices");
    expect(1, "device 99 does not exist", "--device=99 devices");
    /* a subcommand's option before the subcommand is a global one */
    expect(2, "resnet-cl: unknown option '--epochs'", "--epochs 1 train");
    /* train */
    expect(2, "resnet-cl train: unknown option '--wat' (see resnet-cl train --help)", "train --wat=3");
    expect(2, "resnet-cl train: missing value for --epochs (see resnet-cl train --help)", "train --epochs");
    expect(2, "bad value 'x' for --epochs (want an integer in 1..100000)", "train --epochs=x");
    expect(2, "bad value '5x' for --batch-size", "train --batch-size 5x");
    expect(2, "bad value '0' for --lr (want a number > 0)", "train --lr=0");
    expect(2, "bad value 'rms' for --optimizer (want adam or sgd)", "train --optimizer=rms");
    expect(2, "bad value '3,x' for --milestones", "train --milestones 3,x");
    expect(2, "option --nesterov takes no value", "train --nesterov=1");
    expect(2, "ambiguous option '--n'", "train --n");
    expect(2, "unexpected argument 'extra'", "train extra");
    /* the = form reaches the strict parser, then the data: options all good */
    expect(1, "not found", "train --epochs=1 --lr=0.01 --batch-size=8 --data=/nonexistent/cifar");
    /* other commands */
    expect(2, "resnet-cl eval: bad value '0' for --per-class", "eval --per-class=0");
    expect(2, "resnet-cl summary: bad value '32x' for --input", "summary --input 32x");
    expect(2, "resnet-cl bench: missing value for --steps", "bench --steps");
    expect(2, "resnet-cl bench gemm: unknown option '--wat'", "bench gemm --wat");
    expect(2, "resnet-cl devices: unexpected argument 'x'", "devices x");
    expect(2, "resnet-cl predict: missing value for --checkpoint", "predict --checkpoint");
    expect(2, "resnet-cl eval: --ten-crop and --center-crop exclude each other",
           "eval --checkpoint x --data y --ten-crop --center-crop");
    expect(2, "resnet-cl eval: bad value '0' for --crop", "eval --crop 0");
    expect(2, "resnet-cl recompute-bn: --checkpoint IN, --data DIR and --out OUT are required",
           "recompute-bn --checkpoint x --data y");
    expect(2, "resnet-cl recompute-bn: bad value '1' for --batch-size", "recompute-bn --batch-size 1");
    expect(2, "resnet-cl recompute-bn: bad value '0' for --batches", "recompute-bn --batches 0");
    expect(2, "resnet-cl study: missing study NAME", "study");
    expect(2, "resnet-cl study: unknown study 'nope'", "study nope");
    expect(2, "study depth sets --model per variant", "study depth --model resnet20");
    expect(2, "bad value '0' for --seeds", "study norm --seeds 0");
    expect(2, "--resume: the study sets --out and --resume", "study norm --resume x.safetensors");
    expect(2, "no variant 'zz' in study norm (bn, gn, ln, in, lrn, brn, ws, none)", "study norm --variants bn,zz");
    expect(2, "cannot read spec file /nonexistent/spec.txt", "study --spec /nonexistent/spec.txt");
    {
        char spec[] = "/tmp/rcl-spec-XXXXXX";
        int fd = mkstemp(spec);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        fprintf(f, "base: --epochs 1\nvariant a: --norm gn\nvariant a: --norm bn\n");
        fclose(f);
        char args[128];
        snprintf(args, sizeof args, "study --spec %s", spec);
        expect(2, ":3: variant 'a' given twice", args);
        f = fopen(spec, "w");
        fprintf(f, "# no variants\nbase: --epochs 1\nvariants b --norm gn\n");
        fclose(f);
        expect(2, ":3: want 'base: OPTIONS', 'variant NAME: OPTIONS' or 'name: NAME'", args);
        unlink(spec);
    }
    /* --help for each command: usage on stdout, exit 0 */
    static const char *const helps[] = {"train", "eval", "predict", "summary", "bench", "bench gemm",
                                        "devices", "study", "recompute-bn"};
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        char *out = NULL, args[64];
        snprintf(args, sizeof args, "%s --help", helps[i]);
        int rc = tu_run(&out, "%s", args);
        if (rc != 0 || !strstr(out, "usage: resnet-cl"))
            fail_msg("resnet-cl %s: rc %d, output:\n%s", args, rc, out);
        free(out);
    }
}

static void expect_tune(const char *needle, const char *args)
{
    char *out = NULL;
    int rc = tu_run_tune(&out, "%s", args);
    if (rc != 2 || !strstr(out, needle) || count_lines(out) != 1)
        fail_msg("resnet-cl-tune %s: rc %d (want 2), output:\n%s(want one line containing '%s')",
                 args, rc, out, needle);
    free(out);
}

/* resnet-cl-tune's numbers are parsed strictly: no silent 0 */
static void test_tune_bad_input(void **state)
{
    (void)state;
    expect_tune("bad value 'x' for --device", "--device x --dry-run");
    expect_tune("bad value '-1' for --device", "--device -1 --dry-run");
    expect_tune("bad value '5x' for --budget", "--budget 5x --dry-run");
    expect_tune("bad value '0' for --batch-size", "--batch-size 0 --dry-run");
    expect_tune("unknown model 'resnet19'", "--model resnet19 --dry-run");
    /* getopt_long: unknown option, missing value, bad number, --opt=value */
    expect_tune("resnet-cl-tune: unknown option '--wat' (see resnet-cl-tune --help)", "--wat");
    expect_tune("resnet-cl-tune: missing value for --budget (see resnet-cl-tune --help)",
                "--dry-run --budget");
    expect_tune("bad value '5' for --budget (want seconds, at least 10)", "--budget=5 --dry-run");
    expect_tune("bad value '1' for --batch-size", "--batch-size=1 --dry-run");
    expect_tune("bad value 'x' for --device", "--device=x --dry-run");
    expect_tune("option --dry-run takes no value", "--dry-run=yes");
    expect_tune("unexpected argument 'extra'", "--dry-run extra");
    expect_tune("unknown model 'resnet19'", "--model=resnet19 --dry-run");
    expect_tune("unknown model 'resnet19'", "--model resnet20,resnet19 --dry-run");
    expect_tune("--model lists resnet20 twice", "--model resnet20,plain20,resnet20 --dry-run");
    expect_tune("--model: want M, M1,M2,... or all", "--model , --dry-run");
    char *out = NULL;
    assert_int_equal(tu_run_tune(&out, "--help"), 0);
    assert_non_null(strstr(out, "usage: resnet-cl-tune"));
    free(out);
}

static void test_help_and_devices(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(tu_run(&out, "--help"), 0);
    assert_non_null(strstr(out, "train"));
    free(out);
    assert_int_equal(tu_run(&out, "devices"), 0);
    assert_non_null(strstr(out, "platform"));
    free(out);
    /* PoCL's workers are pinned unless the environment says otherwise */
    tu_env af;
    tu_env_save(&af, "POCL_AFFINITY");
    unsetenv("POCL_AFFINITY");
    assert_int_equal(tu_run(&out, "devices"), 0);
    assert_non_null(strstr(out, "POCL_AFFINITY=1 (pinned"));
    free(out);
    setenv("POCL_AFFINITY", "0", 1);
    assert_int_equal(tu_run(&out, "devices"), 0);
    assert_non_null(strstr(out, "POCL_AFFINITY=0 (not pinned)"));
    free(out);
    /* ... and left unset where the process may not use every CPU (PoCL
     * would pin worker 0 to CPU 0): run it confined to the last CPU */
    unsetenv("POCL_AFFINITY");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t all, last;
    if (ncpu > 1 && ncpu <= CPU_SETSIZE && sched_getaffinity(0, sizeof all, &all) == 0 &&
        CPU_COUNT(&all) == ncpu) {
        CPU_ZERO(&last);
        CPU_SET((int)ncpu - 1, &last);
        assert_int_equal(sched_setaffinity(0, sizeof last, &last), 0);
        int rc = tu_run(&out, "devices");
        assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
        assert_int_equal(rc, 0);
        if (!strstr(out, "POCL_AFFINITY=unset (not pinned)"))
            fail_msg("confined to CPU %ld, resnet-cl devices said:\n%s", ncpu - 1, out);
        free(out);
    }
    tu_env_restore(&af);
    /* no device because no .icd names the installed driver: one line that
     * says which file to write (rcl_icd_hint) */
    char root[] = "/tmp/rcl-icd-cli-XXXXXX";
    assert_non_null(mkdtemp(root));
    char lib[600], fake[700];
    snprintf(lib, sizeof lib, "%s/lib", root);
    assert_int_equal(mkdir(lib, 0700), 0);
    snprintf(fake, sizeof fake, "%s/libnvidia-opencl.so.1", lib);
    FILE *ff = fopen(fake, "w");
    assert_non_null(ff);
    fclose(ff);
    tu_env ve, le;
    tu_env_save(&ve, "OCL_ICD_VENDORS");
    tu_env_save(&le, "RESNET_CL_ICD_LIB_DIRS");
    setenv("OCL_ICD_VENDORS", root, 1); /* holds no .icd */
    setenv("RESNET_CL_ICD_LIB_DIRS", lib, 1);
    assert_int_equal(tu_run(&out, "devices"), 1);
    assert_non_null(strstr(out, "no OpenCL device found"));
    assert_non_null(strstr(out, fake));
    assert_non_null(strstr(out, "nvidia.icd"));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
    free(out);
    assert_int_equal(tu_run(&out, "--device 0 bench --model resnet20"), 1);
    assert_non_null(strstr(out, "nvidia.icd"));
    free(out);
    tu_env_restore(&ve);
    tu_env_restore(&le);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tu_run(&out, "summary --list"), 0);
    assert_non_null(strstr(out, "resnet152"));
    free(out);
}

/* A checkpoint header without device work: one fc.weight tensor and the
 * given metadata (key, value pairs, NULL-terminated); with `sum`, the
 * data_fnv1a64 checksum of the data, then `flip` XOR-ed into its byte 3
 * (the exponent of a float). */
static void write_header_only(const char *path, const char *const *meta, int sum, unsigned flip)
{
    float w[4] = {0.1f, -0.2f, 0.3f, 0.05f};
    int64_t shape[2] = {2, 2};
    rcl_st_writer wr;
    rcl_st_writer_init(&wr);
    for (int i = 0; meta && meta[i]; i += 2) T_OK(rcl_st_writer_metadata(&wr, meta[i], meta[i + 1]));
    if (sum) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx",
                 (unsigned long long)rcl_fnv1a(RCL_FNV_INIT, w, sizeof w));
        T_OK(rcl_st_writer_metadata(&wr, "data_fnv1a64", hex));
    }
    ((unsigned char *)w)[3] ^= (unsigned char)flip;
    T_OK(rcl_st_writer_add(&wr, "fc.weight", RCL_ST_F32, 2, shape, w));
    T_OK(rcl_st_write(&wr, path));
    rcl_st_writer_free(&wr);
}

/* root/split/cls/0000.jpg as links to the shared CIFAR-10 JPEGs */
static void link_class(const char *root, const char *split, const char *cls, const char *from)
{
    char *data = tu_cifar_jpeg_root(), cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s/%s' && ln -sf '%s/%s/%s/0000.jpg' '%s/%s/%s/0000.jpg'",
             root, split, cls, data, split, from, root, split, cls);
    assert_int_equal(system(cmd), 0);
    free(data);
}

/* Issue #15's new-user messages that need no device: the data checked
 * against a checkpoint's class names, a checksum mismatch, a state dict
 * without our metadata, a malformed RESNET_CL_DEVICE, the tuner without
 * --device, get_cifar10.sh offline. */
static void test_integrity_messages(void **state)
{
    (void)state;
    char dir[] = "/tmp/rcl-cli-XXXXXX", ck[256], args[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(ck, sizeof ck, "%s/c.safetensors", dir);
    static const char *const meta[] = {"arch", "resnet20", "num_classes", "3", "in_h", "32",
                                       "in_w", "32", "classes", "cat,dog,frog", NULL};
    write_header_only(ck, meta, 1, 0);
    /* renamed and extra test classes: refused before any device work, both lists named */
    link_class(dir, "test", "cat", "cat");
    link_class(dir, "test", "dog", "dog");
    link_class(dir, "test", "horse", "horse");
    snprintf(args, sizeof args, "eval --checkpoint %s --data %s", ck, dir);
    expect(1, "class lists differ: the checkpoint (", args);
    expect(1, "has 3 (cat, dog, frog), the data (", args);
    expect(1, "has 3 (cat, dog, horse); label 2 is 'frog' in one and 'horse' in the other", args);
    link_class(dir, "test", "frog", "frog");
    expect(1, "label 3 ('horse') exists only in the data", args);
    /* an empty class folder: refused, named */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -r '%s/test/horse' && mkdir '%s/test/bird'", dir, dir);
    assert_int_equal(system(cmd), 0);
    expect(1, "class folder 'bird' has no .jpg/.jpeg/.png files", args);
    snprintf(cmd, sizeof cmd, "rmdir '%s/test/bird'", dir);
    assert_int_equal(system(cmd), 0);
    /* one flipped exponent bit in fc.weight: checksum mismatch (eval and predict) */
    write_header_only(ck, meta, 1, 0x40);
    expect(1, "tensor data checksum mismatch (file corrupted?)", args);
    snprintf(args, sizeof args, "predict --checkpoint %s x.jpg", ck);
    expect(1, "tensor data checksum mismatch (file corrupted?)", args);
    /* a state dict without our metadata (as safetensors.torch.save_file writes) */
    write_header_only(ck, NULL, 0, 0);
    snprintf(args, sizeof args, "eval --checkpoint %s --data %s", ck, dir);
    expect(1, "not a resnet-cl checkpoint: metadata 'arch', 'num_classes', 'in_h' and 'in_w' are missing", args);
    char *out = NULL;
    tu_run(&out, "%s", args);
    if (strstr(out, "malformed")) fail_msg("valid file called malformed:\n%s", out);
    free(out);
    /* ... with --model: the classes from fc.weight's rows (2 here; the data has 3) */
    snprintf(args, sizeof args, "eval --checkpoint %s --data %s --model resnet20", ck, dir);
    expect(1, "has 2 classes but the data (", args);
    expect(2, "bad value 'resnet19' for --model", "eval --checkpoint x --data y --model resnet19");
    expect(2, "bad value '32' for --input (want HxW", "predict --checkpoint x --model resnet20 --input 32 a.jpg");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);

    /* RESNET_CL_DEVICE that is not a number */
    tu_env dev;
    tu_env_save(&dev, "RESNET_CL_DEVICE");
    setenv("RESNET_CL_DEVICE", "abc", 1);
    expect(1, "RESNET_CL_DEVICE='abc' is not a device index", "devices");
    expect(1, "RESNET_CL_DEVICE='abc' is not a device index", "summary --model resnet20");
    expect_tune("RESNET_CL_DEVICE='abc' is not a device index", "--dry-run");
    /* the tuner never starts a tune of a default device */
    unsetenv("RESNET_CL_DEVICE");
    expect_tune("--device N is required", "");
    expect_tune("--device N is required", "--model resnet20 --budget 10");
    tu_env_restore(&dev);
    expect_tune("BatchNorm's training statistics need at least 2 samples", "--device 0 --batch-size 1");

    /* get_cifar10.sh offline: one line saying what failed and what to do */
    const char *src = getenv("RESNET_CL_SOURCE_DIR");
    assert_non_null(src);
    char dl[] = "/tmp/rcl-dl-XXXXXX";
    assert_non_null(mkdtemp(dl));
    snprintf(cmd, sizeof cmd,
             "CIFAR10_URL=http://127.0.0.1:9/cifar-10-binary.tar.gz bash '%s/data/get_cifar10.sh' '%s' 2>&1 >/dev/null",
             src, dl);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[2048] = "";
    size_t n = fread(line, 1, sizeof line - 1, p);
    line[n] = 0;
    int status = pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 || count_lines(line) != 1 ||
        !strstr(line, "data/get_cifar10.sh: could not download http://127.0.0.1:9/cifar-10-binary.tar.gz (") ||
        !strstr(line, "check the network or download it by hand and put it in"))
        fail_msg("get_cifar10.sh offline: status %d, stderr:\n%s", status, line);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dl);
    assert_int_equal(system(cmd), 0);
}

/* The train-time class check (tools/cli_data.h) as train calls it: its
 * one line, in a temporary file. */
static int check_classes(const rcl_dataset *tr, const rcl_dataset *te, const char *resume, char *msg,
                         size_t cap)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    int st = cli_check_classes(f, tr, te, resume);
    rewind(f);
    size_t n = fread(msg, 1, cap - 1, f);
    msg[n] = 0;
    fclose(f);
    return st;
}

static void test_train_class_check(void **state)
{
    (void)state;
    rcl_dataset tr, te;
    char msg[4096];
    T_OK(rcl_dataset_alloc(&tr, 2, 3, 2, 2, 3));
    T_OK(rcl_dataset_alloc(&te, 2, 3, 2, 2, 3));
    assert_int_equal(check_classes(&tr, &te, NULL, msg, sizeof msg), 0);
    assert_string_equal(msg, "");
    /* a renamed test class */
    snprintf(te.class_names[2], 16, "two");
    assert_int_equal(check_classes(&tr, &te, NULL, msg, sizeof msg), RCL_ERR_INVALID);
    if (count_lines(msg) != 1 || !strstr(msg, "resnet-cl: class lists differ: train/ has 3 (0, 1, 2), "
                                              "test/ has 3 (0, 1, two); label 2 is '2' in one and 'two'"))
        fail_msg("renamed class: %s", msg);
    rcl_dataset_destroy(&te);
    /* an extra test class (was: "loss is nan" after a whole epoch) */
    T_OK(rcl_dataset_alloc(&te, 2, 3, 2, 2, 4));
    assert_int_equal(check_classes(&tr, &te, NULL, msg, sizeof msg), RCL_ERR_INVALID);
    if (!strstr(msg, "label 3 ('3') exists only in test/")) fail_msg("extra class: %s", msg);
    rcl_dataset_destroy(&te);
    /* the checkpoint a run resumes must have the data's classes */
    T_OK(rcl_dataset_alloc(&te, 2, 3, 2, 2, 3));
    char dir[] = "/tmp/rcl-cls-XXXXXX", ck[128];
    assert_non_null(mkdtemp(dir));
    snprintf(ck, sizeof ck, "%s/c.safetensors", dir);
    static const char *const meta[] = {"arch", "resnet20", "num_classes", "3", "in_h", "2",
                                       "in_w", "2", "classes", "0,1,x", NULL};
    write_header_only(ck, meta, 0, 0);
    assert_int_equal(check_classes(&tr, &te, ck, msg, sizeof msg), RCL_ERR_INVALID);
    if (!strstr(msg, "has 3 (0, 1, x), train/ has 3 (0, 1, 2)")) fail_msg("resume: %s", msg);
    unlink(ck);
    rmdir(dir);
    rcl_dataset_destroy(&tr);
    rcl_dataset_destroy(&te);
    /* one class: trains, with a warning */
    T_OK(rcl_dataset_alloc(&tr, 2, 3, 2, 2, 1));
    T_OK(rcl_dataset_alloc(&te, 2, 3, 2, 2, 1));
    assert_int_equal(check_classes(&tr, &te, NULL, msg, sizeof msg), 0);
    if (count_lines(msg) != 1 || !strstr(msg, "resnet-cl: warning: the data has one class (0)"))
        fail_msg("one class: %s", msg);
    rcl_dataset_destroy(&tr);
    rcl_dataset_destroy(&te);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_getopt),
        cmocka_unit_test(test_norm_help),
        cmocka_unit_test(test_help_and_devices),
        cmocka_unit_test(test_tune_bad_input),
        cmocka_unit_test(test_integrity_messages),
        cmocka_unit_test(test_train_class_check),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
