/* MaxPool2d: reference backward vs finite differences (values away from
 * ties), device forward (values and argmax) and backward vs the reference,
 * PyTorch's tie rule on constant input, NaN propagation, -inf input, and
 * invalid arguments. */
#include "harness.h"
#include "ref/ref_maxpool.h"

#include <math.h>
#include <stdlib.h>

typedef struct { int n, c, h, w, k, s, p; const double *proj; double *y; int *idx; } mp_fd;

/* loss = sum(maxpool(x) * proj) */
static double mp_loss(void *ud, const double *x)
{
    mp_fd *f = ud;
    ref_maxpool_forward(f->y, f->idx, x, f->n, f->c, f->h, f->w, f->k, f->s, f->p);
    size_t m = (size_t)f->n * f->c * ref_pool_out_size(f->h, f->k, f->s, f->p) *
               ref_pool_out_size(f->w, f->k, f->s, f->p);
    double s = 0;
    for (size_t i = 0; i < m; i++) s += f->y[i] * f->proj[i];
    return s;
}

/* Distinct values 0.01 apart in random order: no ties, safe for differences. */
static void fill_distinct(tu_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(((double)i - (double)n / 2) * 0.01);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)tu_uniform(r, 0, (double)i);
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

/* Device forward/backward on x vs the reference; returns the device idx
 * (malloc'd) when want_idx, else NULL. dy random. */
static int *mp_run(const float *x, int n, int c, int h, int w, int k, int s, int p, int fd,
                   uint64_t seed, int want_idx)
{
    tu_rng r = tu_rng_seed(seed);
    const int oh = ref_pool_out_size(h, k, s, p), ow = ref_pool_out_size(w, k, s, p);
    size_t cnt = (size_t)n * c * h * w, ocnt = (size_t)n * c * oh * ow;
    float *dy = malloc(ocnt * sizeof *dy);
    tu_fill(&r, dy, ocnt, -1, 1);
    double *xd = tu_f2d(x, cnt), *dyd = tu_f2d(dy, ocnt);
    double *yref = malloc(ocnt * sizeof *yref), *dxref = malloc(cnt * sizeof *dxref);
    int *iref = malloc(ocnt * sizeof *iref);
    ref_maxpool_forward(yref, iref, xd, n, c, h, w, k, s, p);
    ref_maxpool_backward(dxref, dyd, iref, n, c, h, w, k, s, p);
    if (fd) {
        double *g = malloc(cnt * sizeof *g), *yt = malloc(ocnt * sizeof *yt);
        int *it = malloc(ocnt * sizeof *it);
        mp_fd f = {n, c, h, w, k, s, p, dyd, yt, it};
        tu_fd_grad(mp_loss, &f, xd, cnt, 1e-4, g);
        assert_true(tu_close_d("maxpool ref dx vs fd", dxref, g, cnt, 1e-8, 1e-8));
        free(g), free(yt), free(it);
    }

    rcl_pool_desc d = {k, s, p};
    rcl_tensor tx, ty, tdy, tdx;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&ty, n, c, oh, ow, NULL);
    tu_tensor(&tdy, n, c, oh, ow, dy);
    tu_tensor(&tdx, n, c, h, w, NULL);
    int *minus = malloc(ocnt * sizeof *minus);
    for (size_t i = 0; i < ocnt; i++) minus[i] = -7;
    cl_mem idx = tu_ibuf(minus, ocnt);
    T_OK(rcl_maxpool2d_forward(T_CTX, &ty, idx, &tx, &d));
    T_OK(rcl_tensor_fill(T_CTX, &tdx, 3.0f));
    T_OK(rcl_maxpool2d_backward(T_CTX, &tdx, &tdy, idx, &d));
    float *y = tu_read(&ty), *dx = tu_read(&tdx);
    int *gi = malloc(ocnt * sizeof *gi);
    tu_iread(idx, gi, ocnt);
    assert_true(tu_close_f("maxpool forward", y, yref, ocnt, 0, 0));
    size_t bad = 0;
    for (size_t i = 0; i < ocnt; i++) bad += gi[i] != iref[i];
    if (bad) fail_msg("maxpool idx: %zu of %zu differ", bad, ocnt);
    assert_true(tu_close_f("maxpool backward", dx, dxref, cnt, 1e-6, 1e-6));

    rcl_buffer_release(&idx);
    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&ty);
    rcl_tensor_destroy(&tdy);
    rcl_tensor_destroy(&tdx);
    free(dy), free(xd), free(dyd), free(yref), free(dxref), free(iref), free(minus), free(y),
        free(dx);
    if (want_idx) return gi;
    free(gi);
    return NULL;
}

static void mp_case(int n, int c, int h, int w, int k, int s, int p, int fd, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed * 7 + 1);
    size_t cnt = (size_t)n * c * h * w;
    float *x = malloc(cnt * sizeof *x);
    fill_distinct(&r, x, cnt);
    mp_run(x, n, c, h, w, k, s, p, fd, seed, 0);
    free(x);
}

static void test_maxpool_shapes(void **state)
{
    (void)state;
    mp_case(3, 5, 7, 7, 3, 2, 1, 1, 1);   /* ResNet stem pool on an odd size */
    mp_case(2, 3, 9, 8, 3, 2, 1, 1, 2);
    mp_case(2, 4, 8, 8, 2, 2, 0, 1, 3);
    mp_case(1, 2, 6, 5, 3, 1, 1, 1, 4);   /* stride 1: every input in many windows */
    mp_case(2, 2, 5, 7, 4, 3, 2, 1, 5);   /* even k with pad = k/2 */
    mp_case(2, 3, 13, 13, 4, 4, 0, 1, 6); /* k=4 s=4, floor drops the last row/column */
    mp_case(4, 16, 32, 32, 4, 4, 0, 0, 7); /* the course model */
    mp_case(2, 8, 56, 56, 3, 2, 1, 0, 8);
    mp_case(1, 1, 1, 1, 1, 1, 0, 1, 9);
}

/* Constant input: every window ties, the first in-bounds position wins. */
static void test_maxpool_ties(void **state)
{
    (void)state;
    const int n = 2, c = 3, h = 7, w = 7;
    float *x = malloc((size_t)n * c * h * w * sizeof *x);
    for (int i = 0; i < n * c * h * w; i++) x[i] = 1.25f;
    int *gi = mp_run(x, n, c, h, w, 3, 2, 1, 0, 41, 1);
    /* 4x4 outputs per plane: window rows/cols start at max(2*o-1, 0) */
    for (int pl = 0; pl < n * c; pl++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                int hs = i ? 2 * i - 1 : 0, ws = j ? 2 * j - 1 : 0;
                assert_int_equal(gi[(pl * 4 + i) * 4 + j], hs * w + ws);
            }
    free(gi);
    /* 2x2 stride 2 on a plane of equal pairs: ties inside each window */
    float x2[16] = {5, 5, 2, 3, 5, 5, 3, 3, 0, 1, 4, 4, 1, 1, 4, 4};
    gi = mp_run(x2, 1, 1, 4, 4, 2, 2, 0, 0, 42, 1);
    assert_int_equal(gi[0], 0);
    assert_int_equal(gi[1], 3);
    assert_int_equal(gi[2], 9);
    assert_int_equal(gi[3], 10);
    free(gi);
    free(x);
}

/* A NaN wins every window containing it (and its index is stored). */
static void test_maxpool_nan(void **state)
{
    (void)state;
    const int h = 7, w = 7;
    float x[2 * 7 * 7];
    tu_rng r = tu_rng_seed(51);
    fill_distinct(&r, x, 2 * h * w);
    x[3 * w + 3] = NAN;          /* plane 0, (3,3): in windows (1,1),(1,2),(2,1),(2,2) */
    x[h * w + 0] = NAN;          /* plane 1, (0,0): window (0,0) only */
    int *gi = mp_run(x, 1, 2, h, w, 3, 2, 1, 0, 52, 1);
    rcl_pool_desc d = {3, 2, 1};
    rcl_tensor tx, ty;
    tu_tensor(&tx, 1, 2, h, w, x);
    tu_tensor(&ty, 1, 2, 4, 4, NULL);
    cl_mem idx;
    T_OK(rcl_buffer_create(T_CTX, &idx, 32 * sizeof(int)));
    T_OK(rcl_maxpool2d_forward(T_CTX, &ty, idx, &tx, &d));
    float *y = tu_read(&ty);
    for (int o = 0; o < 32; o++) {
        int pl = o / 16, i = (o % 16) / 4, j = o % 4;
        int has = pl == 0 ? (i == 1 || i == 2) && (j == 1 || j == 2) : (i == 0 && j == 0);
        if (has) {
            assert_true(isnan(y[o]));
            assert_int_equal(gi[o], pl == 0 ? 3 * w + 3 : 0);
        } else {
            assert_false(isnan(y[o]));
        }
    }
    free(y), free(gi);
    rcl_buffer_release(&idx);
    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&ty);
}

/* -inf everywhere: y = -inf, idx = first in-bounds position. */
static void test_maxpool_neg_inf(void **state)
{
    (void)state;
    float x[5 * 5];
    for (int i = 0; i < 25; i++) x[i] = -INFINITY;
    rcl_pool_desc d = {3, 2, 1};
    rcl_tensor tx, ty;
    tu_tensor(&tx, 1, 1, 5, 5, x);
    tu_tensor(&ty, 1, 1, 3, 3, NULL);
    cl_mem idx;
    T_OK(rcl_buffer_create(T_CTX, &idx, 9 * sizeof(int)));
    T_OK(rcl_maxpool2d_forward(T_CTX, &ty, idx, &tx, &d));
    float *y = tu_read(&ty);
    int gi[9];
    tu_iread(idx, gi, 9);
    for (int o = 0; o < 9; o++) {
        int i = o / 3, j = o % 3;
        assert_true(isinf(y[o]) && y[o] < 0);
        assert_int_equal(gi[o], (i ? 2 * i - 1 : 0) * 5 + (j ? 2 * j - 1 : 0));
    }
    free(y);
    rcl_buffer_release(&idx);
    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&ty);
}

static void test_maxpool_invalid(void **state)
{
    (void)state;
    rcl_tensor x, y, yb, big;
    tu_tensor(&x, 2, 3, 7, 7, NULL);
    tu_tensor(&y, 2, 3, 4, 4, NULL);
    tu_tensor(&yb, 2, 3, 3, 4, NULL);
    tu_tensor(&big, 1, 1, 2, 2, NULL);
    cl_mem idx, small;
    T_OK(rcl_buffer_create(T_CTX, &idx, 96 * sizeof(int)));
    T_OK(rcl_buffer_create(T_CTX, &small, 95 * sizeof(int)));
    rcl_pool_desc ok = {3, 2, 1}, pad = {3, 2, 2}, k0 = {0, 1, 0}, s0 = {3, 0, 1};
    T_OK(rcl_maxpool2d_forward(T_CTX, &y, idx, &x, &ok));
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, idx, &x, &pad), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, idx, &x, &k0), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, idx, &x, &s0), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &yb, idx, &x, &ok), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, small, &x, &ok), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_backward(T_CTX, &x, &yb, idx, &ok), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_backward(T_CTX, &x, &y, small, &ok), RCL_ERR_INVALID);
    rcl_pool_desc k5 = {5, 1, 0};
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, idx, &big, &k5), RCL_ERR_INVALID);
    rcl_buffer_release(&idx);
    rcl_buffer_release(&small);
    rcl_tensor_destroy(&x);
    rcl_tensor_destroy(&y);
    rcl_tensor_destroy(&yb);
    rcl_tensor_destroy(&big);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_maxpool_shapes),
    cmocka_unit_test(test_maxpool_ties),
    cmocka_unit_test(test_maxpool_nan),
    cmocka_unit_test(test_maxpool_neg_inf),
    cmocka_unit_test(test_maxpool_invalid),
};

RCL_TEST_MAIN("maxpool", tests)
