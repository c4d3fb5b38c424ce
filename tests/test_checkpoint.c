/* Checkpoints: save/load round trip (weights, BN statistics, counters,
 * optimizer state, progress, the input record and mean image), PyTorch-style
 * files without metadata, and refusal of truncated, corrupt or mismatched
 * files. */
#include "harness.h"
#include "rcl/checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Expect `st` == want and the detail message to contain `needle`. */
static void expect_fail(int st, int want, const char *needle)
{
    if (st != want)
        fail_msg("got %s (%d), expected %s: %s", rcl_strerror(st), st, rcl_strerror(want),
                 rcl_last_error());
    if (!strstr(rcl_last_error(), needle))
        fail_msg("message \"%s\" does not mention \"%s\"", rcl_last_error(), needle);
}

static rcl_model *make(const char *arch, uint64_t seed)
{
    rcl_model_config c = rcl_model_config_default();
    c.in_h = c.in_w = 16;
    c.batch = 2;
    c.seed = seed;
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, T_CTX, arch, &c));
    return m;
}

/* One Adam training step so that BN stats, counters and optimizer state
 * are non-trivial. */
static void one_step(rcl_model *m, rcl_optimizer *o)
{
    rcl_tensor x, dl;
    float hx[2 * 3 * 16 * 16];
    tu_rng r = tu_rng_seed(9);
    tu_fill(&r, hx, sizeof hx / sizeof hx[0], 0, 1);
    tu_tensor(&x, 2, 3, 16, 16, hx);
    tu_tensor(&dl, 2, 10, 1, 1, NULL);
    T_OK(rcl_tensor_fill(T_CTX, &dl, 0.05f));
    const rcl_tensor *l;
    T_OK(rcl_model_forward(m, &x, 1, &l));
    T_OK(rcl_model_backward(m, &dl));
    T_OK(rcl_optimizer_step(o));
    rcl_tensor_destroy(&x);
    rcl_tensor_destroy(&dl);
}

static void assert_same_tensor(const rcl_tensor *a, const rcl_tensor *b)
{
    float *x = tu_read(a), *y = tu_read(b);
    assert_memory_equal(x, y, rcl_tensor_bytes(a));
    free(x);
    free(y);
}

static char g_tmp_dir[64];

static void remove_tmp_dir(void)
{
    tu_remove_tree(g_tmp_dir);
}

/* a file in this process's temporary directory, removed at exit */
static char *tmp_path(const char *name)
{
    char *dir = g_tmp_dir;
    if (!dir[0]) {
        snprintf(dir, sizeof g_tmp_dir, "/tmp/rcl-ckpt-XXXXXX");
        assert_non_null(mkdtemp(dir));
        atexit(remove_tmp_dir);
    }
    char *p = malloc(256);
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static void test_round_trip(void **state)
{
    (void)state;
    rcl_model *a = make("resnet20", 1), *b = make("resnet20", 2);
    rcl_optimizer oa, ob;
    T_OK(rcl_optimizer_init(&oa, a, RCL_OPTIM_ADAM, NULL, NULL));
    T_OK(rcl_optimizer_init(&ob, b, RCL_OPTIM_ADAM, NULL, NULL));
    one_step(a, &oa);
    char *path = tmp_path("a.safetensors");
    rcl_train_progress pa = {.epoch = 3, .seed = 77, .lr = 0.0005f, .best_acc = 0.5, .normalize = 1};
    rcl_checkpoint_set_class_names(a, "cat,dog");
    T_OK(rcl_checkpoint_save(a, &oa, &pa, path));
    rcl_train_progress pb = {0};
    T_OK(rcl_checkpoint_load(b, &ob, &pb, path));
    assert_int_equal(pb.epoch, 3);
    assert_int_equal(pb.seed, 77);
    assert_true(pb.lr == 0.0005f && pb.best_acc == 0.5 && pb.normalize == 1);
    assert_int_equal(ob.step, 1);
    rcl_param **ps_a, **ps_b;
    int np = rcl_model_params(a, &ps_a);
    rcl_model_params(b, &ps_b);
    for (int i = 0; i < np; i++) {
        assert_same_tensor(&ps_a[i]->value, &ps_b[i]->value);
        assert_same_tensor(&ps_a[i]->state[0], &ps_b[i]->state[0]);
        assert_same_tensor(&ps_a[i]->state[1], &ps_b[i]->state[1]);
    }
    rcl_buffer *ba, *bb;
    int nb = rcl_model_buffers(a, &ba);
    rcl_model_buffers(b, &bb);
    for (int i = 0; i < nb; i++) assert_same_tensor(ba[i].t, bb[i].t);
    rcl_counter *ca, *cb;
    int nc = rcl_model_counters(a, &ca);
    rcl_model_counters(b, &cb);
    for (int i = 0; i < nc; i++) {
        assert_int_equal(*ca[i].value, 1);
        assert_int_equal(*cb[i].value, 1);
    }
    rcl_checkpoint_info info;
    T_OK(rcl_checkpoint_info_read(path, &info));
    assert_string_equal(info.arch, "resnet20");
    assert_int_equal(info.num_classes, 10);
    assert_int_equal(info.in_h, 16);
    assert_string_equal(info.class_names, "cat,dog");
    free(info.class_names);
    /* the file is plain safetensors with torchvision names and shapes */
    rcl_st_file f;
    T_OK(rcl_st_open(&f, path));
    const rcl_st_tensor *t = rcl_st_find(&f, "layer2.0.conv1.weight");
    assert_non_null(t);
    assert_int_equal(t->ndim, 4);
    assert_true(t->shape[0] == 32 && t->shape[1] == 16 && t->shape[2] == 3 && t->shape[3] == 3);
    t = rcl_st_find(&f, "fc.weight");
    assert_true(t && t->ndim == 2 && t->shape[0] == 10 && t->shape[1] == 64);
    t = rcl_st_find(&f, "bn1.num_batches_tracked");
    assert_true(t && t->ndim == 0 && t->dtype == RCL_ST_I64);
    assert_non_null(rcl_st_find(&f, "optim.layer1.0.bn1.weight.exp_avg_sq"));
    rcl_st_close(&f);

    /* wrong architecture and optimizer kind are refused */
    rcl_model *c = make("resnet32", 1);
    assert_int_equal(rcl_checkpoint_load(c, NULL, NULL, path), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "resnet20"));
    rcl_optimizer os;
    rcl_sgd_hparams sh = {.lr = 0.1f, .momentum = 0.9f};
    T_OK(rcl_optimizer_init(&os, b, RCL_OPTIM_SGD, NULL, &sh));
    assert_int_equal(rcl_checkpoint_load(b, &os, NULL, path), RCL_ERR_FORMAT);
    rcl_model_destroy(c);
    rcl_model_destroy(a);
    rcl_model_destroy(b);
    unlink(path);
    free(path);
}

static void test_pytorch_style_file(void **state)
{
    (void)state;
    /* A state_dict written by safetensors.torch.save_file has no metadata
     * and no optimizer state: weights-only load must work. */
    rcl_model *a = make("basicblock", 3), *b = make("basicblock", 4);
    char *full = tmp_path("full.safetensors"), *plain = tmp_path("plain.safetensors");
    T_OK(rcl_checkpoint_save(a, NULL, NULL, full));
    tu_write_state_dict(full, plain);
    T_OK(rcl_checkpoint_load(b, NULL, NULL, plain));
    rcl_param **pa, **pb;
    int np = rcl_model_params(a, &pa);
    rcl_model_params(b, &pb);
    for (int i = 0; i < np; i++) assert_same_tensor(&pa[i]->value, &pb[i]->value);
    rcl_train_progress prog;
    assert_int_equal(rcl_checkpoint_load(b, NULL, &prog, plain), RCL_ERR_FORMAT); /* no progress */
    rcl_checkpoint_info info;
    expect_fail(rcl_checkpoint_info_read(plain, &info), RCL_ERR_FORMAT,
                "metadata 'arch', 'num_classes', 'in_h' and 'in_w' are missing");
    rcl_model_destroy(a);
    rcl_model_destroy(b);
    unlink(full);
    unlink(plain);
    free(full);
    free(plain);
}

static void test_bad_files(void **state)
{
    (void)state;
    rcl_model *a = make("basicblock", 3);
    char *path = tmp_path("t.safetensors");
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    /* truncated at several points: refused, model untouched by a failed header */
    long cuts[] = {0, 7, 8, 100, size / 2, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
        assert_int_equal(truncate(path, cuts[i]), 0);
        int st = rcl_checkpoint_load(a, NULL, NULL, path);
        assert_int_equal(st, RCL_ERR_FORMAT);
        assert_non_null(strstr(rcl_last_error(), path));
    }
    /* huge header length */
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    fp = fopen(path, "r+b");
    unsigned char big[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    fwrite(big, 1, 8, fp);
    fclose(fp);
    assert_int_equal(rcl_checkpoint_load(a, NULL, NULL, path), RCL_ERR_FORMAT);
    assert_int_equal(rcl_checkpoint_load(a, NULL, NULL, "/nonexistent/x.safetensors"), RCL_ERR_IO);
    /* a save into a missing directory fails and leaves nothing */
    assert_int_equal(rcl_checkpoint_save(a, NULL, NULL, "/nonexistent/dir/x.safetensors"), RCL_ERR_IO);
    unlink(path);
    free(path);
    rcl_model_destroy(a);
}

/* Rewrite `path` with one byte of tensor `name` XOR-ed with `mask`
 * (offset `byte` into its data), keeping the header as it is. */
static void flip_byte(const char *path, const char *name, size_t byte, unsigned char mask)
{
    rcl_st_file f;
    T_OK(rcl_st_open(&f, path));
    const rcl_st_tensor *t = rcl_st_find(&f, name);
    assert_non_null(t);
    assert_true(byte < t->nbytes);
    /* the data section starts after the 8-byte length and the header */
    uint64_t hlen = 0;
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    unsigned char lb[8];
    assert_int_equal(fread(lb, 1, 8, fp), 8);
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | lb[k];
    long pos = (long)(8 + hlen + t->offset + byte);
    rcl_st_close(&f);
    assert_int_equal(fseek(fp, pos, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_true(c != EOF);
    assert_int_equal(fseek(fp, pos, SEEK_SET), 0);
    assert_int_equal(fputc(c ^ mask, fp), c ^ mask);
    assert_int_equal(fclose(fp), 0);
}

/* The tensor data's checksum (metadata data_fnv1a64) is verified on load: a
 * flipped exponent bit in fc.weight is refused by rcl_checkpoint_load and
 * rcl_checkpoint_info_read; a file without the entry (from elsewhere) still
 * loads. */
static void test_checksum(void **state)
{
    (void)state;
    rcl_model *a = make("resnet20", 5), *b = make("resnet20", 6);
    char *path = tmp_path("sum.safetensors"), *nosum = tmp_path("nosum.safetensors");
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    rcl_st_file f;
    T_OK(rcl_st_open(&f, path));
    const char *sum = rcl_st_metadata(&f, "data_fnv1a64");
    assert_non_null(sum);
    assert_int_equal(strlen(sum), 16);
    rcl_st_close(&f);
    T_OK(rcl_checkpoint_load(b, NULL, NULL, path));
    /* byte 3 of a little-endian float holds the sign and the top 7 exponent
     * bits: 0x40 turns a weight of ~0.1 into ~1e37 */
    flip_byte(path, "fc.weight", 3, 0x40);
    expect_fail(rcl_checkpoint_load(b, NULL, NULL, path), RCL_ERR_FORMAT,
                "tensor data checksum mismatch (file corrupted?)");
    assert_non_null(strstr(rcl_last_error(), path));
    rcl_checkpoint_info info;
    expect_fail(rcl_checkpoint_info_read(path, &info), RCL_ERR_FORMAT, "checksum mismatch");
    /* the same bytes without the checksum entry load (nothing to check) */
    T_OK(rcl_st_open(&f, path));
    rcl_st_writer w;
    rcl_st_writer_init(&w);
    for (size_t i = 0; i < f.n_meta; i++)
        if (strcmp(f.meta[i].key, "data_fnv1a64")) T_OK(rcl_st_writer_metadata(&w, f.meta[i].key, f.meta[i].value));
    for (size_t i = 0; i < f.n_tensors; i++) {
        const rcl_st_tensor *t = rcl_st_tensor_at(&f, i);
        T_OK(rcl_st_writer_add(&w, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    T_OK(rcl_st_write(&w, nosum));
    rcl_st_writer_free(&w);
    rcl_st_close(&f);
    T_OK(rcl_checkpoint_info_read(nosum, &info));
    free(info.class_names);
    T_OK(rcl_checkpoint_load(b, NULL, NULL, nosum));
    /* a flip in the optimizer state or a counter is caught the same way */
    rcl_optimizer oa;
    T_OK(rcl_optimizer_init(&oa, a, RCL_OPTIM_ADAM, NULL, NULL));
    one_step(a, &oa);
    rcl_train_progress pa = {.epoch = 1, .seed = 1, .lr = 0.001f};
    T_OK(rcl_checkpoint_save(a, &oa, &pa, path));
    flip_byte(path, "optim.conv1.weight.exp_avg", 0, 0x01);
    expect_fail(rcl_checkpoint_load(a, &oa, &pa, path), RCL_ERR_FORMAT, "checksum mismatch");
    T_OK(rcl_checkpoint_save(a, &oa, &pa, path));
    flip_byte(path, "bn1.num_batches_tracked", 0, 0x01);
    expect_fail(rcl_checkpoint_load(a, &oa, &pa, path), RCL_ERR_FORMAT, "checksum mismatch");
    rcl_model_destroy(a);
    rcl_model_destroy(b);
    unlink(path);
    unlink(nosum);
    free(path);
    free(nosum);
}

/* Set element 0 of a device tensor to v. */
static void poke(rcl_tensor *t, float v)
{
    float *h = tu_read(t);
    h[0] = v;
    T_OK(rcl_tensor_write(T_CTX, t, h));
    free(h);
}

/* NaN/inf weights or BN statistics (a diverged run saved, or a file from
 * elsewhere) are refused with the tensor's name, even with a valid checksum:
 * eval, predict and --resume all load through rcl_checkpoint_load. */
static void test_non_finite(void **state)
{
    (void)state;
    rcl_model *a = make("resnet20", 7), *b = make("resnet20", 8);
    char *path = tmp_path("nan.safetensors");
    rcl_param **ps;
    int np = rcl_model_params(a, &ps);
    rcl_param *fc = NULL;
    for (int i = 0; i < np; i++)
        if (!strcmp(ps[i]->name, "fc.weight")) fc = ps[i];
    assert_non_null(fc);
    float *keep = tu_read(&fc->value);
    poke(&fc->value, NAN);
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    expect_fail(rcl_checkpoint_load(b, NULL, NULL, path), RCL_ERR_NAN, "tensor 'fc.weight' holds NaN");
    poke(&fc->value, INFINITY);
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    expect_fail(rcl_checkpoint_load(b, NULL, NULL, path), RCL_ERR_NAN, "tensor 'fc.weight' holds inf");
    T_OK(rcl_tensor_write(T_CTX, &fc->value, keep));
    free(keep);
    /* a BN running statistic */
    rcl_buffer *bufs;
    int nb = rcl_model_buffers(a, &bufs);
    rcl_buffer *rv = NULL;
    for (int i = 0; i < nb; i++)
        if (!strcmp(bufs[i].name, "layer1.0.bn2.running_var")) rv = &bufs[i];
    assert_non_null(rv);
    poke(rv->t, -INFINITY);
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    expect_fail(rcl_checkpoint_load(b, NULL, NULL, path), RCL_ERR_NAN,
                "tensor 'layer1.0.bn2.running_var' holds inf");
    poke(rv->t, 1.0f);
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    T_OK(rcl_checkpoint_load(b, NULL, NULL, path));
    rcl_model_destroy(a);
    rcl_model_destroy(b);
    unlink(path);
    free(path);
}


/* Copy `src` to `dst` without its checksum (a file from elsewhere), with
 * metadata `key` set to `value` (NULL: as it is) and, when mean_side > 0,
 * tensor input.mean replaced by one of 3 x mean_side x mean_side. */
static void rewrite(const char *src, const char *dst, const char *key, const char *value,
                    int mean_side)
{
    rcl_st_file f;
    T_OK(rcl_st_open(&f, src));
    rcl_st_writer w;
    rcl_st_writer_init(&w);
    for (size_t i = 0; i < f.n_meta; i++)
        if (strcmp(f.meta[i].key, "data_fnv1a64") && (!key || strcmp(f.meta[i].key, key)))
            T_OK(rcl_st_writer_metadata(&w, f.meta[i].key, f.meta[i].value));
    if (key && value) T_OK(rcl_st_writer_metadata(&w, key, value));
    float small[3 * 8 * 8] = {0};
    for (size_t i = 0; i < f.n_tensors; i++) {
        const rcl_st_tensor *t = rcl_st_tensor_at(&f, i);
        if (mean_side > 0 && !strcmp(t->name, "input.mean")) {
            int64_t shape[3] = {3, mean_side, mean_side};
            assert_true(mean_side <= 8);
            T_OK(rcl_st_writer_add(&w, t->name, RCL_ST_F32, 3, shape, small));
        } else {
            T_OK(rcl_st_writer_add(&w, t->name, t->dtype, t->ndim, t->shape, t->data));
        }
    }
    T_OK(rcl_st_write(&w, dst));
    rcl_st_writer_free(&w);
    rcl_st_close(&f);
}

/* The input record (rcl_checkpoint_set_input / read_input): both pipelines
 * round trip, with and without a mean image; a file without a record reads
 * as cifar; malformed records are refused naming what is wrong. */
static void test_input_record(void **state)
{
    (void)state;
    rcl_model *a = make("basicblock", 3), *b = make("basicblock", 4);
    char *path = tmp_path("in.safetensors"), *bad = tmp_path("in-bad.safetensors"),
         *plain = tmp_path("in-plain.safetensors");
    rcl_input_record in;
    float *mean = NULL;
    /* nothing recorded: cifar */
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    T_OK(rcl_checkpoint_read_input(path, &in, &mean));
    assert_int_equal(in.pipeline, RCL_PIPELINE_CIFAR);
    assert_null(mean);
    /* imagenet with a mean image and torchvision's std */
    enum { R = 20, C = 16 };
    float m[3 * C * C];
    tu_rng r = tu_rng_seed(4);
    tu_fill(&r, m, 3 * C * C, 0, 1);
    rcl_input_record rec = {RCL_PIPELINE_IMAGENET, R, C, {0.229f, 0.224f, 0.225f}};
    T_OK(rcl_checkpoint_set_input(a, &rec, m));
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    T_OK(rcl_checkpoint_read_input(path, &in, &mean));
    assert_int_equal(in.pipeline, RCL_PIPELINE_IMAGENET);
    assert_int_equal(in.resize, R);
    assert_int_equal(in.crop, C);
    for (int c = 0; c < 3; c++) assert_true(in.std[c] == rec.std[c]);
    assert_non_null(mean);
    assert_memory_equal(mean, m, sizeof m);
    free(mean);
    T_OK(rcl_checkpoint_load(b, NULL, NULL, path));   /* the extra tensor loads */
    /* imagenet without a mean (std 0 means 1); the mean not asked for */
    rcl_input_record nomean = {RCL_PIPELINE_IMAGENET, 32, 24, {0, 0, 0}};
    T_OK(rcl_checkpoint_set_input(a, &nomean, NULL));
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    T_OK(rcl_checkpoint_read_input(path, &in, &mean));
    assert_int_equal(in.pipeline, RCL_PIPELINE_IMAGENET);
    assert_int_equal(in.resize, 32);
    assert_int_equal(in.crop, 24);
    for (int c = 0; c < 3; c++) assert_true(in.std[c] == 1.0f);
    assert_null(mean);
    T_OK(rcl_checkpoint_read_input(path, &in, NULL));
    /* back to cifar: the record and mean go */
    rcl_input_record cifar = {RCL_PIPELINE_CIFAR, 0, 0, {0, 0, 0}};
    T_OK(rcl_checkpoint_set_input(a, &rec, m));
    T_OK(rcl_checkpoint_set_input(a, &cifar, m));
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    T_OK(rcl_checkpoint_read_input(path, &in, &mean));
    assert_int_equal(in.pipeline, RCL_PIPELINE_CIFAR);
    assert_null(mean);
    /* a PyTorch state dict (no metadata at all): cifar */
    tu_write_state_dict(path, plain);
    T_OK(rcl_checkpoint_read_input(plain, &in, &mean));
    assert_int_equal(in.pipeline, RCL_PIPELINE_CIFAR);
    assert_null(mean);
    /* bad records are refused by set_input */
    rcl_input_record small = {RCL_PIPELINE_IMAGENET, 10, 16, {1, 1, 1}};
    assert_int_equal(rcl_checkpoint_set_input(a, &small, NULL), RCL_ERR_INVALID);
    rcl_input_record unknown = {(rcl_pipeline)7, 20, 16, {1, 1, 1}};
    assert_int_equal(rcl_checkpoint_set_input(a, &unknown, NULL), RCL_ERR_INVALID);
    /* malformed metadata in a file is refused, naming it */
    T_OK(rcl_checkpoint_set_input(a, &rec, m));
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    rewrite(path, bad, NULL, NULL, 0);   /* unchanged but for the checksum: reads */
    T_OK(rcl_checkpoint_read_input(bad, &in, &mean));
    assert_non_null(mean);
    free(mean);
    static const char *const pipelines[] = {"imagenet", "imagenet resize=10 crop=16",
                                            "imagenet resize=20 crop=16 x", "cifar10",
                                            "imagenet resize=20 crop=0", ""};
    for (size_t i = 0; i < sizeof pipelines / sizeof pipelines[0]; i++) {
        rewrite(path, bad, "pipeline", pipelines[i], 0);
        expect_fail(rcl_checkpoint_read_input(bad, &in, &mean), RCL_ERR_FORMAT,
                    "metadata 'pipeline'");
        assert_null(mean);
    }
    static const char *const stds[] = {"1 2", "1 0 1", "a b c", "-1 1 1"};
    for (size_t i = 0; i < sizeof stds / sizeof stds[0]; i++) {
        rewrite(path, bad, "input_std", stds[i], 0);
        expect_fail(rcl_checkpoint_read_input(bad, &in, &mean), RCL_ERR_FORMAT,
                    "metadata 'input_std'");
    }
    rewrite(path, bad, "input_std", NULL, 0);   /* missing */
    expect_fail(rcl_checkpoint_read_input(bad, &in, &mean), RCL_ERR_FORMAT, "'input_std'");
    rewrite(path, bad, NULL, NULL, 8);          /* a mean of another size */
    expect_fail(rcl_checkpoint_read_input(bad, &in, &mean), RCL_ERR_FORMAT,
                "tensor 'input.mean' is not 3 x 16 x 16");
    assert_null(mean);
    /* the file's checksum covers the mean image */
    T_OK(rcl_checkpoint_save(a, NULL, NULL, path));
    flip_byte(path, "input.mean", 5, 0x40);
    assert_int_equal(rcl_checkpoint_read_input(path, &in, &mean), RCL_ERR_FORMAT);
    assert_null(mean);
    rcl_model_destroy(a);
    rcl_model_destroy(b);
    unlink(path);
    unlink(bad);
    unlink(plain);
    free(path);
    free(bad);
    free(plain);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_pytorch_style_file),
    cmocka_unit_test(test_bad_files),
    cmocka_unit_test(test_checksum),
    cmocka_unit_test(test_non_finite),
    cmocka_unit_test(test_input_record),
};

RCL_TEST_MAIN("checkpoint", tests)
