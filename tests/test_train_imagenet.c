/* The ImageNet training protocol through the CLI (issue #17) on a few real
 * photos of ../shared/data/imagenet-sample: --recipe imagenet for a couple
 * of iterations (accumulated micro-batches, the mean image, PCA lighting),
 * the input record and mean image in its checkpoint, --iterations resumed
 * across an epoch boundary, a missing mean image, an undecodable file
 * (skipped and named, or --strict-data); on CIFAR-10 JPEGs: --lr-schedule
 * plateau against the scheduler replayed on the run's own test errors and
 * resumed, and --weights / --reset-head (a checkpoint and a bare state
 * dict). Runs once, on the first device that is not a software rasterizer
 * (test_train_*). */
#include "harness.h"
#include "rcl/checkpoint.h"
#include "rcl/data.h"
#include "rcl/plateau.h"
#include "rcl/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dev(void) { return rcl_ctx_device(T_CTX)->index; }

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    assert_int_equal(system(cmd), 0);
}

/* root/{train,val}/<wnid>/ linking the sample's photo of each of the first
 * `k` classes */
static void sample_tree(const char *root, int k)
{
    const char *data = getenv("RESNET_CL_DATA");
    if (!data) fail_msg("RESNET_CL_DATA not set (run via ctest)");
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "set -e; for s in train val; do n=0; for d in '%s'/imagenet-sample/n*; do "
             "[ $n -lt %d ] || break; n=$((n+1)); w=$(basename $d); mkdir -p '%s'/$s/$w; "
             "for f in $d/*; do ln -s \"$f\" '%s'/$s/$w/; done; done; done",
             data, k, root, root);
    assert_int_equal(system(cmd), 0);
}

static void expect(int rc_want, const char *needle, char **keep, const char *fmt, const char *a,
                   const char *b)
{
    char args[8192];
    snprintf(args, sizeof args, fmt, a, b);
    char *out = NULL;
    int rc = tu_run(&out, "--device %d %s", dev(), args);
    if (rc != rc_want || (needle && (!out || !strstr(out, needle))))
        fail_msg("resnet-cl %s: exit %d (want %d), want '%s' in:\n%s", args, rc, rc_want,
                 needle ? needle : "", out ? out : "");
    if (keep) *keep = out;
    else free(out);
}

static void test_recipe_imagenet(void **state)
{
    (void)state;
    char dir[] = "/tmp/rcl-imnet-XXXXXX", data[100], cache[100], run[100], p[400];
    assert_non_null(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    sample_tree(data, 8);

    /* no mean image yet: one line saying how to make it */
    expect(1, "make it once with 'resnet-cl mean-image --data", NULL,
           "train --recipe imagenet --data %s --cache-dir %s --no-save", data, cache);
    char *out = NULL;
    snprintf(p, sizeof p, "mean-image --data %s --cache-dir %s", data, cache);
    assert_int_equal(tu_run(&out, "%s", p), 0);
    free(out);

    /* 8 photos, batch 4 in 2 micro-batches of 2: 2 steps an epoch; 3
     * iterations end inside epoch 2 */
    char args[4096];
    snprintf(args, sizeof args,
             "train --recipe imagenet --data %s --batch-size 4 --accumulate 2 "
             "--lr 0.01 --threads 2 --log-interval 1 --iterations 2 --out %s", data, run);
    expect(0, "stopped after 2 iterations (--iterations)", &out, "%s --cache-dir %s", args, cache);
    const char *want[] = {"recipe imagenet (He et al. 2016, section 3.4",
                          "model resnet50 (stride on the first 1x1, as the paper)",
                          "--init kaiming-normal", "SGD momentum 0.9, weight decay 0.0001, batch 4",
                          "lr 0.01, divided by 10 when the validation error plateaus",
                          "shorter side random in [256, 480], random 224x224 crop",
                          "PCA lighting sigma 0.1", "gradient accumulation: 2 micro-batches of 2",
                          "8 train / 8 validation images (8 of 1000 classes)",
                          "2 iterations (optimizer updates): 1 epoch of 2", "Test set: Average loss:"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(out, want[i])) fail_msg("missing '%s' in:\n%s", want[i], out);
    free(out);

    /* the checkpoint records the pipeline and the mean image of mean.bin */
    snprintf(p, sizeof p, "%s/last.safetensors", run);
    rcl_input_record in;
    float *mean = NULL, *ref = NULL;
    T_OK(rcl_checkpoint_read_input(p, &in, &mean));
    assert_int_equal(in.pipeline, RCL_PIPELINE_IMAGENET);
    assert_int_equal(in.resize, 256);
    assert_int_equal(in.crop, 224);
    assert_true(in.std[0] == 1 && in.std[1] == 1 && in.std[2] == 1);
    assert_non_null(mean);
    char mp[700];
    snprintf(mp, sizeof mp, "%s/mean.bin", cache);
    int c, h, w;
    int64_t count;
    T_OK(rcl_mean_image_load(mp, &ref, &c, &h, &w, &count));
    assert_int_equal(count, 8);
    assert_memory_equal(mean, ref, sizeof(float) * 3 * 224 * 224);
    free(mean);
    free(ref);
    expect(0, "input pipeline imagenet (shorter side 256, centre 224x224 crop, mean image", NULL,
           "summary --checkpoint %s%s", p, "");
    rcl_checkpoint_info info;
    T_OK(rcl_checkpoint_info_read(p, &info));
    assert_string_equal(info.arch, "resnet50");
    assert_int_equal(info.num_classes, 1000);
    assert_int_equal(info.stride_on_1x1, 1);
    free(info.class_names);

    /* a larger --iterations continues it: epoch 1 is complete after step 2,
     * the third iteration ends inside epoch 2 */
    snprintf(args, sizeof args,
             "train --recipe imagenet --data %s --cache-dir %s --batch-size 4 --accumulate 2 "
             "--lr 0.01 --threads 2 --log-interval 1 --iterations 3", data, cache);
    char args2[8192];
    snprintf(args2, sizeof args2, "%s --out %s", args, run);
    expect(0, "resumed from", &out, "%s --resume %s", args2, p);
    if (!strstr(out, "step [1/2]") || !strstr(out, "epoch 2 (ended by --iterations)") ||
        !strstr(out, "stopped after 3 iterations"))
        fail_msg("resume to 3 iterations:\n%s", out);
    free(out);
    snprintf(p, sizeof p, "%s/log.jsonl", run);
    char *log = tu_read_file(p, NULL);
    assert_non_null(log);
    if (!strstr(log, "{\"epoch\": 1,") || !strstr(log, "{\"epoch\": 2,") ||
        !strstr(log, "\"steps\": 1, \"iterations\": 3"))
        fail_msg("log.jsonl:\n%s", log);
    free(log);
    snprintf(p, sizeof p, "%s/last.safetensors", run);
    expect(1, "already trained 3 iterations (--iterations 3); raise --iterations", NULL,
           "%s --resume %s", args2, p);

    /* an undecodable photo: named and skipped, or --strict-data stops (9
     * files: 3 iterations read the whole epoch; a small model and crop, and
     * torchvision's normalization instead of the 224 x 224 mean image) */
    sh("printf 'not a jpeg' > '%s/train/n01440764/broken%s.JPEG'", data, "");
    snprintf(args, sizeof args,
             "train --recipe imagenet --data %s --cache-dir %s --batch-size 4 --lr 0.01 "
             "--threads 2 --iterations 3 --no-save --model resnet18 --normalize --crop 64 "
             "--scale 64,80 --resize 72", data, cache);
    expect(0, "undecodable file skipped", &out, "%s%s", args, "");
    if (!strstr(out, "broken.JPEG")) fail_msg("the bad file is not named:\n%s", out);
    free(out);
    expect(1, "broken.JPEG", NULL, "%s%s", args, " --strict-data");

    sh("rm -rf '%s'%s", dir, "");
}

/* The lr of every epoch of a log, and its test accuracy. */
static int read_log(const char *path, double *lr, double *acc, int cap)
{
    char *log = tu_read_file(path, NULL);
    assert_non_null(log);
    int n = 0;
    for (char *l = log; l && *l && n < cap; n++) {
        const char *a = strstr(l, "\"lr\": "), *b = strstr(l, "\"test_acc\": ");
        assert_non_null(a);
        assert_non_null(b);
        lr[n] = strtod(a + 6, NULL);
        acc[n] = strtod(b + 12, NULL);
        l = strchr(l, '\n');
        if (l) l++;
    }
    free(log);
    return n;
}

/* root/split/cls/000k.jpg (k < 4) as links to the CIFAR-10 JPEGs of class cls */
static void cifar_tree(const char *root, int nclasses)
{
    static const char *const cls[] = {"cat", "dog", "frog"};
    char *src = tu_cifar_jpeg_root(), cmd[8192];
    for (int i = 0; i < nclasses; i++)
        for (int s = 0; s < 2; s++) {
            const char *split = s ? "test" : "train";
            snprintf(cmd, sizeof cmd,
                     "set -e; mkdir -p '%s/%s/%s'; for k in 0 1 2 3; do ln -sf "
                     "'%s/%s/%s/000'$k'.jpg' '%s/%s/%s/'; done",
                     root, split, cls[i], src, split, cls[i], root, split, cls[i]);
            assert_int_equal(system(cmd), 0);
        }
    free(src);
}

static void test_plateau_cli(void **state)
{
    (void)state;
    char dir[] = "/tmp/rcl-plateau-XXXXXX", data[100], a[100], b[100];
    assert_non_null(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    cifar_tree(data, 3);
    char base[2048];
    snprintf(base, sizeof base,
             "train --model resnet20 --data %s --batch-size 4 --optimizer sgd --lr 0.05 "
             "--lr-schedule plateau --plateau-patience 0 --plateau-threshold 0.5 --lr-factor 2",
             data);
    /* threshold 0.5 rel: an epoch must halve the error to count as better,
     * so cuts come quickly */
    expect(0, "Test set:", NULL, "%s --epochs 4 --out %s", base, a);
    double lr[8], acc[8];
    char p[700];
    snprintf(p, sizeof p, "%s/log.jsonl", a);
    assert_int_equal(read_log(p, lr, acc, 8), 4);
    rcl_plateau_options po = rcl_plateau_defaults();
    po.factor = 0.5;
    po.patience = 0;
    po.threshold = 0.5;
    rcl_plateau pl;
    T_OK(rcl_plateau_init(&pl, &po, 0.05));
    int cuts = 0;
    for (int e = 0; e < 4; e++) {
        if (fabs(lr[e] - pl.lr) > 1e-7 * pl.lr)
            fail_msg("epoch %d ran at lr %g; the scheduler replayed on the log's errors says %g",
                     e + 1, lr[e], pl.lr);
        cuts += rcl_plateau_step(&pl, 1.0 - acc[e]) == 1;
    }
    if (cuts == 0) fail_msg("no cut in 4 epochs with patience 0, threshold 0.5");
    /* stopped after 2 epochs and resumed: the same log */
    expect(0, "Test set:", NULL, "%s --epochs 2 --out %s", base, b);
    snprintf(p, sizeof p, "%s/last.safetensors", b);
    char more[4096];
    snprintf(more, sizeof more, "%s --epochs 4 --out %s", base, b);
    expect(0, "resumed from", NULL, "%s --resume %s", more, p);
    double lr2[8], acc2[8];
    snprintf(p, sizeof p, "%s/log.jsonl", b);
    assert_int_equal(read_log(p, lr2, acc2, 8), 4);
    for (int e = 0; e < 4; e++)
        if (lr2[e] != lr[e] || acc2[e] != acc[e])
            fail_msg("resumed run, epoch %d: lr %g acc %g; uninterrupted: lr %g acc %g", e + 1,
                     lr2[e], acc2[e], lr[e], acc[e]);
    sh("rm -rf '%s'%s", dir, "");
}

/* conv1.weight and fc.weight's shape of a file */
static float *read_tensor(const char *path, const char *name, int64_t *rows)
{
    rcl_st_file f;
    T_OK(rcl_st_open(&f, path));
    const rcl_st_tensor *t = rcl_st_find(&f, name);
    assert_non_null(t);
    float *v = malloc(t->nbytes);
    T_OK(rcl_st_read(&f, name, RCL_ST_F32, v, t->numel));
    if (rows) *rows = t->shape[0];
    rcl_st_close(&f);
    return v;
}

static void test_weights(void **state)
{
    (void)state;
    char dir[] = "/tmp/rcl-weights-XXXXXX", d3[600], d2[600], p[700], sd[700];
    assert_non_null(mkdtemp(dir));
    snprintf(d3, sizeof d3, "%s/d3", dir);
    snprintf(d2, sizeof d2, "%s/d2", dir);
    cifar_tree(d3, 3);
    cifar_tree(d2, 2);
    char run[700];
    snprintf(run, sizeof run, "%s/src", dir);
    expect(0, "Test set:", NULL, "train --model resnet20 --data %s --batch-size 4 --epochs 1 --out %s",
           d3, run);
    snprintf(p, sizeof p, "%s/src/last.safetensors", dir);
    /* a bare state dict of it: no metadata, no optimizer state */
    snprintf(sd, sizeof sd, "%s/state_dict.safetensors", dir);
    tu_write_state_dict(p, sd);
    /* lr 1e-30 (below half an ulp of every weight step), no momentum or
     * decay: the weights stay what was loaded */
    const char *frozen = "--optimizer sgd --lr 1e-30 --momentum 0 --batch-size 4 --epochs 1";
    char args[4096];
    snprintf(args, sizeof args, "train --model resnet20 %s --data %s", frozen, d2);
    expect(1, "has 3 classes, the data 2: give --reset-head", NULL, "%s --no-save --weights %s",
           args, p);
    expect(2, "--reset-head goes with --weights FILE", NULL, "%s --no-save --reset-head%s", args, "");
    char out2[800];
    snprintf(out2, sizeof out2, "%s/head", dir);
    char a2[8192];
    snprintf(a2, sizeof a2, "%s --out %s --reset-head", args, out2);
    expect(0, "fc starts afresh for 2 classes; the file's has 3", NULL, "%s --weights %s", a2, p);
    /* summary of the state dict: needs --model; classes from fc.weight */
    expect(1, "give --model M (eval, predict, summary, train --weights)", NULL,
           "summary --checkpoint %s%s", sd, "");
    char *sum = NULL;
    expect(0, "resnet20, 3 classes, input 3x32x32", &sum, "summary --checkpoint %s --model %s", sd,
           "resnet20");
    if (!strstr(sum, "input pipeline cifar") || !strstr(sum, "total parameters: "))
        fail_msg("summary of a state dict:\n%s", sum);
    free(sum);
    snprintf(args, sizeof args, "train --model resnet20 %s --data %s --out %s/sd", frozen, d3, dir);
    expect(0, "weights from", NULL, "%s --weights %s", args, sd);
    expect(1, "holds a resnet20; the run trains a resnet56", NULL,
           "train --model resnet56 --data %s --no-save --epochs 1 --weights %s", d3, p);

    int64_t rows;
    float *w0 = read_tensor(p, "conv1.weight", NULL);
    snprintf(p, sizeof p, "%s/head/last.safetensors", dir);
    float *w1 = read_tensor(p, "conv1.weight", NULL);
    float *fc = read_tensor(p, "fc.weight", &rows);
    assert_int_equal(rows, 2);
    snprintf(p, sizeof p, "%s/sd/last.safetensors", dir);
    float *w2 = read_tensor(p, "conv1.weight", NULL);
    assert_memory_equal(w0, w1, sizeof(float) * 16 * 3 * 3 * 3);
    assert_memory_equal(w0, w2, sizeof(float) * 16 * 3 * 3 * 3);
    free(w0);
    free(w1);
    free(w2);
    free(fc);
    sh("rm -rf '%s'%s", dir, "");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_recipe_imagenet),
    cmocka_unit_test(test_plateau_cli),
    cmocka_unit_test(test_weights),
};

RCL_TEST_MAIN_FAST("train_imagenet", tests)
