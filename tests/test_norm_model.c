/* Normalization as a model choice: every kind builds and trains a step on
 * resnet20 and a Bottleneck net; parameter counts equal torchvision's with
 * the same norm_layer; names stay torchvision's; per-sample kinds give each
 * image the same logits alone or in a batch; batch 1 trains where no batch
 * statistics are used and BN/BRN refuse it; zero_init_residual; the
 * checkpoint records the kind. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rcl_model *make(const char *arch, rcl_norm_kind kind, int classes, int size, int batch)
{
    rcl_model_config c = rcl_model_config_default();
    c.num_classes = classes;
    c.in_h = c.in_w = size;
    c.batch = batch;
    c.norm.kind = kind;
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, T_CTX, arch, &c));
    return m;
}

static int find_param(rcl_model *m, const char *name)
{
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    for (int i = 0; i < np; i++)
        if (!strcmp(ps[i]->name, name)) return i;
    return -1;
}

/* torchvision.models.<arch>(num_classes=10, norm_layer=...) parameter counts
 * (torchvision 0.29): bn and GroupNorm(32, C) have the same count; none is
 * the identity norm with a bias on every conv:
 *   python3 -c "import torchvision as tv; print(sum(p.numel() for p in
 *     tv.models.resnet50(num_classes=10).parameters()))"   (23528522) */
static void test_param_counts(void **state)
{
    (void)state;
    static const struct {
        const char *arch;
        rcl_norm_kind kind;
        long long params;
    } want[] = {
        {"resnet18", RCL_NORM_BN, 11181642},   {"resnet18", RCL_NORM_GN, 11181642},
        {"resnet18", RCL_NORM_NONE, 11176842}, {"resnet50", RCL_NORM_BN, 23528522},
        {"resnet50", RCL_NORM_GN, 23528522},   {"resnet50", RCL_NORM_NONE, 23501962},
        {"resnet18", RCL_NORM_LN, 11181642},   {"resnet18", RCL_NORM_WS, 11181642},
        {"resnet18", RCL_NORM_BRN, 11181642},
        /* LRN has no parameters: the BN counts gone, no conv biases */
        {"resnet18", RCL_NORM_LRN, 11181642 - 2 * (64 + 4 * 64 + 4 * 128 + 128 + 4 * 256 + 256 +
                                                   4 * 512 + 512)},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rcl_model *m = make(want[i].arch, want[i].kind, 10, 32, 2);
        long long got = (long long)rcl_model_param_count(m);
        if (got != want[i].params)
            fail_msg("%s --norm %s: %lld params, want %lld", want[i].arch,
                     rcl_norm_kind_name(want[i].kind), got, want[i].params);
        rcl_model_destroy(m);
    }
}

static void test_names(void **state)
{
    (void)state;
    rcl_model *m = make("resnet18", RCL_NORM_GN, 10, 32, 2);
    assert_true(find_param(m, "layer1.0.bn1.weight") >= 0);
    assert_true(find_param(m, "layer2.0.downsample.1.bias") >= 0);
    rcl_buffer *b;
    assert_int_equal(rcl_model_buffers(m, &b), 0); /* GroupNorm has no running statistics */
    rcl_model_destroy(m);
    m = make("resnet18", RCL_NORM_NONE, 10, 32, 2);
    assert_true(find_param(m, "layer1.0.conv1.bias") >= 0);
    assert_true(find_param(m, "conv1.bias") >= 0);
    assert_true(find_param(m, "layer1.0.bn1.weight") < 0);
    rcl_model_destroy(m);
    m = make("resnet18", RCL_NORM_BRN, 10, 32, 2);
    assert_true(rcl_model_buffers(m, &b) > 0);
    assert_string_equal(b[0].name, "bn1.running_mean");
    rcl_model_destroy(m);
    assert_int_equal(rcl_norm_groups(64, 32), 32);
    assert_int_equal(rcl_norm_groups(16, 32), 16);
    assert_int_equal(rcl_norm_groups(48, 32), 24);
    assert_int_equal(rcl_norm_groups(5, 32), 5);
    assert_int_equal(rcl_norm_groups(6, 4), 3);
    rcl_norm_kind k;
    for (int i = 0; i < RCL_NORM_COUNT; i++) {
        T_OK(rcl_norm_kind_parse(rcl_norm_kind_name((rcl_norm_kind)i), &k));
        assert_int_equal(k, i);
    }
    assert_int_equal(rcl_norm_kind_parse("batchnorm", &k), RCL_ERR_INVALID);
}

/* A train step (forward, loss, backward, Adam) on `n` images of a model
 * built for `batch`; returns the loss. */
static float train_step(rcl_model *m, int n, int batch, int size, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    size_t cnt = (size_t)batch * 3 * size * size;
    float *x = malloc(cnt * sizeof *x);
    tu_fill(&r, x, cnt, 0, 1);
    rcl_tensor tx, loss, dl;
    tu_tensor(&tx, batch, 3, size, size, x);
    tu_tensor(&loss, 1, 1, 1, 1, NULL);
    tu_tensor(&dl, batch, 10, 1, 1, NULL);
    int lab[64];
    for (int i = 0; i < batch; i++) lab[i] = i % 10;
    cl_mem labels = tu_ibuf(lab, (size_t)batch);
    rcl_tensor xv = tx, dv = dl;
    xv.n = dv.n = n;
    rcl_optimizer opt;
    T_OK(rcl_optimizer_init(&opt, m, RCL_OPTIM_ADAM, NULL, NULL));
    const rcl_tensor *logits;
    T_OK(rcl_model_forward(m, &xv, 1, &logits));
    T_OK(rcl_softmax_xent(T_CTX, &loss, &dv, NULL, logits, labels));
    T_OK(rcl_model_backward(m, &dv));
    T_OK(rcl_optimizer_step(&opt));
    float l;
    T_OK(rcl_tensor_read(T_CTX, &loss, &l));
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    for (int i = 0; i < np; i++) { /* every gradient finite */
        float *g = tu_read(&ps[i]->grad);
        for (size_t j = 0; j < rcl_tensor_count(&ps[i]->grad); j++)
            if (!isfinite(g[j])) fail_msg("%s grad[%zu] = %g", ps[i]->name, j, g[j]);
        free(g);
    }
    rcl_tensor_destroy(&tx), rcl_tensor_destroy(&loss), rcl_tensor_destroy(&dl);
    rcl_buffer_release(&labels);
    free(x);
    return l;
}

static void test_every_kind_trains(void **state)
{
    (void)state;
    static const char *const archs[] = {"resnet20", "resnet50"};
    for (int a = 0; a < 2; a++)
        for (int k = 0; k < RCL_NORM_COUNT; k++) {
            int size = 16; /* resnet50: layer3 and layer4 on 1x1 maps, cheap on llvmpipe */
            rcl_model *m = make(archs[a], (rcl_norm_kind)k, 10, size, 4);
            float l = train_step(m, 3, 4, size, 7); /* a partial batch */
            printf("  %s --norm %s: loss %.4f\n", archs[a], rcl_norm_kind_name((rcl_norm_kind)k), l);
            assert_true(isfinite(l) && l > 0);
            rcl_model_destroy(m);
        }
}

static void test_batch_of_one(void **state)
{
    (void)state;
    for (int k = 0; k < RCL_NORM_COUNT; k++) {
        rcl_model *m = make("resnet20", (rcl_norm_kind)k, 10, 16, 2);
        if (k == RCL_NORM_BN || k == RCL_NORM_BRN) {
            rcl_tensor x;
            tu_tensor(&x, 1, 3, 16, 16, NULL);
            const rcl_tensor *logits;
            assert_int_equal(rcl_model_forward(m, &x, 1, &logits), RCL_ERR_INVALID);
            assert_non_null(strstr(rcl_last_error(), "batch of at least 2"));
            rcl_tensor_destroy(&x);
        } else {
            assert_true(isfinite(train_step(m, 1, 2, 16, 3)));
        }
        rcl_model_destroy(m);
    }
}

/* Per-sample normalizations: image i's train-mode logits do not depend on the
 * other images of the batch. */
static void test_per_sample_independent(void **state)
{
    (void)state;
    static const rcl_norm_kind kinds[] = {RCL_NORM_GN, RCL_NORM_LN, RCL_NORM_IN, RCL_NORM_LRN,
                                          RCL_NORM_WS, RCL_NORM_NONE};
    const int size = 16, batch = 3;
    tu_rng r = tu_rng_seed(11);
    size_t cnt = (size_t)batch * 3 * size * size;
    float *x = malloc(cnt * sizeof *x);
    tu_fill(&r, x, cnt, 0, 1);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        rcl_model *m = make("resnet20", kinds[k], 10, size, batch);
        rcl_tensor tx, t1;
        tu_tensor(&tx, batch, 3, size, size, x);
        tu_tensor(&t1, 1, 3, size, size, x + cnt / batch); /* image 1 alone */
        const rcl_tensor *logits;
        T_OK(rcl_model_forward(m, &tx, 1, &logits));
        float all[30], one[10];
        T_OK(rcl_tensor_read(T_CTX, logits, all));
        T_OK(rcl_model_forward(m, &t1, 1, &logits));
        T_OK(rcl_tensor_read(T_CTX, logits, one));
        double want[10];
        for (int i = 0; i < 10; i++) want[i] = all[10 + i];
        if (!tu_close_f(rcl_norm_kind_name(kinds[k]), one, want, 10, 1e-5, 1e-6))
            fail_msg("--norm %s: image 1's logits depend on the batch", rcl_norm_kind_name(kinds[k]));
        rcl_tensor_destroy(&tx), rcl_tensor_destroy(&t1);
        rcl_model_destroy(m);
    }
    free(x);
}

static void test_zero_init_residual(void **state)
{
    (void)state;
    rcl_model_config c = rcl_model_config_default();
    c.batch = 2;
    c.init.zero_init_residual = 1;
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, T_CTX, "resnet18", &c));
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    int zeroed = 0;
    for (int i = 0; i < np; i++) {
        float *v = tu_read(&ps[i]->value);
        int last = strstr(ps[i]->name, ".bn2.weight") != NULL;
        if (last) zeroed++;
        if (last && v[0] != 0.0f) fail_msg("%s[0] = %g, want 0", ps[i]->name, v[0]);
        if (!last && strstr(ps[i]->name, "bn1.weight") && v[0] != 1.0f)
            fail_msg("%s[0] = %g, want 1", ps[i]->name, v[0]);
        free(v);
    }
    assert_int_equal(zeroed, 8); /* every BasicBlock of resnet18 */
    rcl_model_destroy(m);
}

/* The checkpoint records the kind: info gives it back, and loading into a
 * model of another kind names both. */
static void test_checkpoint_records_norm(void **state)
{
    (void)state;
    rcl_model_config c = rcl_model_config_default();
    c.batch = 2;
    c.in_h = c.in_w = 16;
    c.norm.kind = RCL_NORM_GN;
    c.norm.groups = 8;
    c.init.scheme = RCL_INIT_XAVIER_NORMAL;
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, T_CTX, "resnet20", &c));
    char path[] = "/tmp/rcl-norm-ckpt-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    T_OK(rcl_checkpoint_save(m, NULL, NULL, path));
    rcl_checkpoint_info info = {0};
    T_OK(rcl_checkpoint_info_read(path, &info));
    free(info.class_names);
    assert_int_equal(info.norm.kind, RCL_NORM_GN);
    assert_int_equal(info.norm.groups, 8);
    assert_int_equal(info.init.scheme, RCL_INIT_XAVIER_NORMAL);
    assert_true(info.norm.eps == c.norm.eps);
    rcl_model *bn = make("resnet20", RCL_NORM_BN, 10, 16, 2);
    assert_int_equal(rcl_checkpoint_load(bn, NULL, NULL, path), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "norm gn, not bn"));
    rcl_model_destroy(bn);
    rcl_model_destroy(m);
    unlink(path);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_param_counts),
    cmocka_unit_test(test_names),
    cmocka_unit_test(test_every_kind_trains),
    cmocka_unit_test(test_batch_of_one),
    cmocka_unit_test(test_per_sample_independent),
    cmocka_unit_test(test_zero_init_residual),
    cmocka_unit_test(test_checkpoint_records_norm),
};

RCL_TEST_MAIN("norm_model", tests)
