/* Eval-mode BatchNorm folding (rcl_model_set_fold_bn): eval logits with the
 * BN folded into the convs against the unfolded eval path (conv, BN, ReLU)
 * on every block kind (stem, BasicBlock with option-A and projection
 * shortcuts, Bottleneck, plain nets), BRN, and a norm that does not fold
 * (GroupNorm: the same path both ways); the folded copy is remade after a
 * training forward and after the parameters are written.
 *
 * Tolerance: the two paths differ only by float rounding (w*s summed vs
 * the sum scaled by s); after a whole network the logits agree within
 * 1e-4 of the largest logit magnitude (+1e-5). */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 3

static rcl_model *make(const char *arch, int size, rcl_norm_kind norm)
{
    rcl_model_config c = rcl_model_config_default();
    c.num_classes = 7;
    c.in_h = c.in_w = size;
    c.batch = BATCH;
    c.norm.kind = norm;
    c.norm.momentum = 0.5f; /* running statistics far from their init after two steps */
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, T_CTX, arch, &c));
    return m;
}

static float *eval_logits(rcl_model *m, const rcl_tensor *x, int fold)
{
    rcl_model_set_fold_bn(m, fold);
    const rcl_tensor *l;
    T_OK(rcl_model_forward(m, x, 0, &l));
    return tu_read(l);
}

/* max |a - b| against the tolerance of the header; returns the difference */
static double check_close(const char *what, const float *a, const float *b, int n)
{
    double d = 0, s = 0;
    for (int i = 0; i < n; i++) {
        assert_true(isfinite(a[i]) && isfinite(b[i]));
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    if (d > 1e-4 * s + 1e-5) fail_msg("%s: folded vs unfolded logits differ by %g (max |logit| %g)", what, d, s);
    return d;
}

static double max_diff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void fold_case(const char *arch, int size, rcl_norm_kind norm)
{
    rcl_model *m = make(arch, size, norm);
    size_t nx = (size_t)BATCH * 3 * size * size;
    float *hx = malloc(nx * sizeof *hx);
    tu_rng r = tu_rng_seed(61);
    tu_fill(&r, hx, nx, -1, 2);
    rcl_tensor x;
    tu_tensor(&x, BATCH, 3, size, size, hx);
    const rcl_tensor *l;
    /* two training forwards move the running statistics */
    T_OK(rcl_model_forward(m, &x, 1, &l));
    T_OK(rcl_model_forward(m, &x, 1, &l));
    const int nl = BATCH * 7;
    float *a = eval_logits(m, &x, 1), *b = eval_logits(m, &x, 0);
    check_close(arch, a, b, nl);
    /* a partial batch */
    rcl_tensor x2 = x;
    x2.n = 2;
    float *a2 = eval_logits(m, &x2, 1), *b2 = eval_logits(m, &x2, 0);
    check_close(arch, a2, b2, 2 * 7);

    /* another training forward: the fold follows the new running stats */
    T_OK(rcl_model_forward(m, &x, 1, &l));
    float *c = eval_logits(m, &x, 1), *d = eval_logits(m, &x, 0);
    check_close(arch, c, d, nl);
    /* eval folded twice in a row: the cached copy gives the same answer */
    float *c2 = eval_logits(m, &x, 1);
    float *c3 = eval_logits(m, &x, 1);
    assert_true(max_diff(c2, c3, nl) == 0.0);

    /* write the parameters (every weight and gamma x1.5): the fold is remade */
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    for (int i = 0; i < np; i++) {
        float *v = tu_read(&ps[i]->value);
        size_t n = rcl_tensor_count(&ps[i]->value);
        for (size_t k = 0; k < n; k++) v[k] *= 1.5f;
        T_OK(rcl_tensor_write(T_CTX, &ps[i]->value, v));
        free(v);
    }
    float *e = eval_logits(m, &x, 1), *f = eval_logits(m, &x, 0);
    check_close(arch, e, f, nl);
    assert_true(max_diff(e, c3, nl) > 1e-3); /* the change reached the logits */

    void *hs[] = {hx, a, b, a2, b2, c, d, c2, c3, e, f};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
    rcl_tensor_destroy(&x);
    rcl_model_destroy(m);
}

static void test_fold_basic(void **state)
{
    (void)state;
    fold_case("resnet20", 8, RCL_NORM_BN);   /* option-A shortcuts */
    fold_case("basicblock", 9, RCL_NORM_BN); /* the course's block */
    fold_case("plain20", 8, RCL_NORM_BN);    /* no shortcut */
    /* stem 7x7/2, maxpool, projections (maps 9, 5, 5, 3, 2, 1) */
    fold_case("resnet18", 17, RCL_NORM_BN);
}

static void test_fold_bottleneck(void **state)
{
    (void)state;
    fold_case("resnet50", 20, RCL_NORM_BN); /* maps 10, 5, 5, 3, 2, 1 */
}

static void test_fold_other_norms(void **state)
{
    (void)state;
    fold_case("resnet20", 8, RCL_NORM_BRN); /* eval BRN is eval BN: folded */
    fold_case("resnet20", 8, RCL_NORM_GN);  /* not folded: fused ReLU fallbacks */
    fold_case("resnet20", 8, RCL_NORM_NONE);
}

static int taps_launches, dense_launches;
static void count_taps(void *user, const char *tag, cl_event ev)
{
    (void)user, (void)ev;
    if (!strcmp(tag, "conv_taps")) taps_launches++;
    if (!strcmp(tag, "conv_dense")) dense_launches++;
}

/* The folded copy keeps only the live taps (rcl_conv2d_trim): resnet20 at
 * 4x4 (layer3 on 1x1 maps: its 3x3 convs run on their centre taps, its
 * first conv, 2x2 to 1x1 at stride 2, on 4 of its 9) slices its weights
 * when the fold is made, then never again (nor builds the dense path's D:
 * layer2's 2x2 convs keep theirs, rcl_conv2d_dense_prepare), where the
 * unfolded eval slices
 * on every call off the dense path (conv.DENSE 0) and never on it (the
 * default: 1x1 and 2x2 maps run on the full kernel); the logits as
 * fold_case checks them. */
static void test_fold_live_taps(void **state)
{
    (void)state;
    rcl_ctx *keep = T_CTX, *prof;
    rcl_ctx_options opt = {.profiling = 1};
    T_OK(rcl_ctx_create(&prof, rcl_ctx_device(keep)->index, &opt));
    rcl_ctx_set_profiler(prof, count_taps, NULL);
    /* the path rule, whose dense path this counts (llvmpipe's contexts
     * start with conv PATH 1: rcl_ctx_create) */
    T_OK(rcl_ctx_set_param(prof, "conv", "PATH", 0));
    T_CTX = prof;
    rcl_model *m = make("resnet20", 4, RCL_NORM_BN);
    size_t nx = (size_t)BATCH * 3 * 4 * 4;
    float *hx = malloc(nx * sizeof *hx);
    tu_rng r = tu_rng_seed(62);
    tu_fill(&r, hx, nx, -1, 2);
    rcl_tensor x;
    tu_tensor(&x, BATCH, 3, 4, 4, hx);
    const rcl_tensor *l;
    T_OK(rcl_model_forward(m, &x, 1, &l));
    taps_launches = dense_launches = 0;
    float *a = eval_logits(m, &x, 1); /* the fold is made: its slices, layer2's D^T (2x2) */
    assert_true(taps_launches > 0);
    assert_true(dense_launches > 0);
    taps_launches = dense_launches = 0;
    float *a2 = eval_logits(m, &x, 1); /* the cached copy: none */
    assert_int_equal(taps_launches, 0);
    assert_int_equal(dense_launches, 0);
    assert_true(max_diff(a, a2, BATCH * 7) == 0.0);
    /* unfolded, off the dense path (conv.DENSE 0): every call slices */
    T_OK(rcl_ctx_set_param(prof, "conv", "DENSE", 0));
    float *b = eval_logits(m, &x, 0);
    assert_true(taps_launches > 0);
    check_close("resnet20 live taps", a, b, BATCH * 7);
    /* on it (the default), the 1x1 and 2x2 maps' convs run on their full
     * kernels: no slices */
    T_OK(rcl_ctx_set_param(prof, "conv", "DENSE", 1));
    taps_launches = 0;
    float *b2 = eval_logits(m, &x, 0);
    assert_int_equal(taps_launches, 0);
    check_close("resnet20 live taps, dense", a, b2, BATCH * 7);
    free(hx), free(a), free(a2), free(b), free(b2);
    rcl_tensor_destroy(&x);
    rcl_model_destroy(m);
    T_CTX = keep;
    rcl_ctx_destroy(prof);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fold_basic),
    cmocka_unit_test(test_fold_bottleneck),
    cmocka_unit_test(test_fold_other_norms),
    cmocka_unit_test(test_fold_live_taps),
};

RCL_TEST_MAIN("fold", tests)
