/* LocalResponseNorm: reference forward against a direct evaluation of the
 * header's window formula, reference backward vs finite differences, device
 * forward/backward vs the reference over channel counts 1..7 and sizes
 * 1, 2, 3, 5 (odd and even, size > C), 7x7 and 1x1 maps, non-default
 * alpha/beta/k, a partial batch of a larger buffer, NULL dx, a non-default
 * work-group size, and invalid arguments. */
#include "harness.h"
#include "ref/ref_lrn.h"
#include "rcl/norm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int n, c, h, w; rcl_lrn_desc d; const double *proj; double *y; } lrn_fd;

static double lrn_loss(void *ud, const double *p)
{
    lrn_fd *f = ud;
    size_t cnt = (size_t)f->n * f->c * f->h * f->w;
    ref_lrn_forward(f->y, p, f->n, f->c, f->h, f->w, f->d.size, f->d.alpha, f->d.beta, f->d.k);
    double s = 0;
    for (size_t i = 0; i < cnt; i++) s += f->y[i] * f->proj[i];
    return s;
}

/* max |v| (at least 1e-30) */
static double max_abs(const double *v, size_t n)
{
    double m = 1e-30;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* The reference forward (pad + avg_pool, as PyTorch) against the header's
 * window formula y[c] = x[c] / (k + alpha/size * sum_{c' in [c - size/2,
 * c + (size-1)/2] ∩ [0,C)} x[c']^2)^beta, evaluated here directly. */
static void check_ref_formula(int n, int c, int hw, const double *x, const double *yref,
                              const rcl_lrn_desc *d)
{
    for (int ni = 0; ni < n; ni++)
        for (int ci = 0; ci < c; ci++)
            for (int j = 0; j < hw; j++) {
                double q = 0;
                for (int cp = ci - d->size / 2; cp <= ci + (d->size - 1) / 2; cp++)
                    if (cp >= 0 && cp < c) q += x[((size_t)ni * c + cp) * hw + j] *
                                                x[((size_t)ni * c + cp) * hw + j];
                size_t i = ((size_t)ni * c + ci) * hw + j;
                double want = x[i] / pow(d->k + (double)d->alpha / d->size * q, d->beta);
                assert_true(fabs(yref[i] - want) <= 1e-12 * (1 + fabs(want)));
            }
}

/* x in U(lo, hi); also a partial batch: the first n of n+2 images. */
static void lrn_case(int n, int c, int h, int w, rcl_lrn_desc d, double lo, double hi,
                     uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    const int nb = n + 2; /* buffer images; the op sees the first n */
    size_t cnt = (size_t)n * c * h * w, cntb = (size_t)nb * c * h * w;
    float *x = malloc(cntb * sizeof *x), *dy = malloc(cntb * sizeof *dy);
    tu_fill(&r, x, cntb, lo, hi);
    tu_fill(&r, dy, cntb, -1, 1);
    double *xd = tu_f2d(x, cnt), *dyd = tu_f2d(dy, cnt);
    double *yref = malloc(cnt * sizeof *yref), *dxref = malloc(cnt * sizeof *dxref);
    ref_lrn_forward(yref, xd, n, c, h, w, d.size, d.alpha, d.beta, d.k);
    ref_lrn_backward(dxref, dyd, xd, n, c, h, w, d.size, d.alpha, d.beta, d.k);
    check_ref_formula(n, c, h * w, xd, yref, &d);

    /* reference backward vs central differences (small cases only) */
    if (cnt <= 400) {
        double *g = malloc(cnt * sizeof *g), *yb = malloc(cnt * sizeof *yb);
        lrn_fd f = {n, c, h, w, d, dyd, yb};
        tu_fd_grad(lrn_loss, &f, xd, cnt, 1e-6, g);
        assert_true(tu_close_d("lrn ref dx vs fd", dxref, g, cnt, 1e-5, 1e-7));
        free(g), free(yb);
    }

    rcl_tensor tx, ty, tdy, tdx;
    tu_tensor(&tx, nb, c, h, w, x);
    tu_tensor(&tdy, nb, c, h, w, dy);
    tu_tensor(&ty, nb, c, h, w, NULL);
    tu_tensor(&tdx, nb, c, h, w, NULL);
    T_OK(rcl_tensor_fill(T_CTX, &ty, 7.0f));
    T_OK(rcl_tensor_fill(T_CTX, &tdx, 7.0f));
    rcl_tensor vx = tx, vy = ty, vdy = tdy, vdx = tdx;
    vx.n = vy.n = vdy.n = vdx.n = n;
    T_OK(rcl_lrn_forward(T_CTX, &vy, &vx, &d));
    T_OK(rcl_lrn_backward(T_CTX, &vdx, &vdy, &vx, &d));
    float *y = tu_read(&ty), *dx = tu_read(&tdx);
    assert_true(tu_close_f("lrn y", y, yref, cnt, 1e-5, 1e-6 * max_abs(yref, cnt)));
    assert_true(tu_close_f("lrn dx", dx, dxref, cnt, 1e-4, 1e-5 * max_abs(dxref, cnt)));
    for (size_t i = cnt; i < cntb; i++) { /* the images past n are untouched */
        if (y[i] != 7.0f || dx[i] != 7.0f)
            fail_msg("lrn wrote past the view's n=%d at %zu", n, i);
    }
    /* NULL dx: nothing to compute */
    T_OK(rcl_lrn_backward(T_CTX, NULL, &vdy, &vx, &d));

    rcl_tensor *ts[] = {&tx, &ty, &tdy, &tdx};
    for (size_t i = 0; i < 4; i++) rcl_tensor_destroy(ts[i]);
    void *hs[] = {x, dy, xd, dyd, yref, dxref, y, dx};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

static const rcl_lrn_desc DEF = {5, 1e-4f, 0.75f, 1.0f};

static void test_lrn_default(void **state)
{
    (void)state;
    lrn_case(3, 5, 7, 7, DEF, -1, 1, 1);
    lrn_case(1, 7, 7, 7, DEF, -3, 3, 2);
    lrn_case(3, 2, 1, 1, DEF, -1, 1, 3); /* size > C */
}

static void test_lrn_sizes(void **state)
{
    (void)state;
    static const int cs[] = {1, 2, 5, 6, 7}, sizes[] = {1, 2, 3, 5};
    uint64_t seed = 100;
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            rcl_lrn_desc d = {sizes[j], 0.5f, 0.75f, 2.0f};
            lrn_case(1, cs[i], 1, 1, d, -2, 2, seed++);
            lrn_case(3, cs[i], 1, 1, d, -2, 2, seed++);
            lrn_case(1, cs[i], 7, 7, d, -2, 2, seed++);
            lrn_case(3, cs[i], 7, 7, d, -2, 2, seed++);
        }
}

static void test_lrn_params(void **state)
{
    (void)state;
    lrn_case(3, 6, 7, 7, (rcl_lrn_desc){2, 2.0f, 0.6f, 0.5f}, -1.5, 1.5, 201);
    lrn_case(1, 5, 3, 3, (rcl_lrn_desc){3, 1.0f, 1.3f, 1.0f}, -2, 2, 202);
    lrn_case(3, 7, 1, 1, (rcl_lrn_desc){5, 0.8f, -0.5f, 0.3f}, -1, 1, 203); /* beta < 0 */
    lrn_case(1, 6, 2, 3, (rcl_lrn_desc){4, 1.0f, 0.75f, 1.0f}, -1, 1, 204);  /* even, 4 */
    lrn_case(1, 3, 7, 7, (rcl_lrn_desc){9, 3.0f, 0.75f, 1.0f}, -1, 1, 205);  /* size >> C */
    lrn_case(1, 4, 2, 2, (rcl_lrn_desc){3, 0.0f, 0.75f, 2.0f}, -1, 1, 206);  /* alpha 0 */
}

static void test_lrn_workgroup(void **state)
{
    (void)state;
    T_OK(rcl_ctx_set_param(T_CTX, "lrn", "WG", 16));
    lrn_case(3, 5, 7, 7, (rcl_lrn_desc){3, 0.5f, 0.75f, 1.0f}, -1, 1, 301);
    T_OK(rcl_ctx_set_param(T_CTX, "lrn", "WG", 256));
    lrn_case(1, 6, 7, 7, (rcl_lrn_desc){2, 0.5f, 0.75f, 1.0f}, -1, 1, 302);
    T_OK(rcl_ctx_set_param(T_CTX, "lrn", "WG", 64));
}

static void test_lrn_invalid(void **state)
{
    (void)state;
    rcl_tensor x, y, yb, e;
    tu_tensor(&x, 2, 3, 4, 5, NULL);
    tu_tensor(&y, 2, 3, 4, 5, NULL);
    tu_tensor(&yb, 2, 3, 5, 4, NULL);
    tu_tensor(&e, 1, 1, 1, 1, NULL);
    rcl_tensor e0 = e;
    e0.n = 0;
    const rcl_lrn_desc bad[] = {
        {0, 1e-4f, 0.75f, 1.0f},  {-1, 1e-4f, 0.75f, 1.0f}, {5, 1e-4f, 0.75f, 0.0f},
        {5, 1e-4f, 0.75f, -1.0f}, {5, -1e-4f, 0.75f, 1.0f}, {5, 1e-4f, NAN, 1.0f},
        {5, INFINITY, 0.75f, 1.0f}, {5, 1e-4f, 0.75f, INFINITY},
        {RCL_LRN_MAX_SIZE + 1, 1e-4f, 0.75f, 1.0f},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rcl_lrn_forward(T_CTX, &y, &x, &bad[i]), RCL_ERR_INVALID);
        assert_int_equal(rcl_lrn_backward(T_CTX, &y, &y, &x, &bad[i]), RCL_ERR_INVALID);
        assert_int_equal(rcl_lrn_backward(T_CTX, NULL, &y, &x, &bad[i]), RCL_ERR_INVALID);
    }
    assert_int_equal(rcl_lrn_forward(T_CTX, &y, &x, NULL), RCL_ERR_INVALID);
    assert_int_equal(rcl_lrn_forward(T_CTX, &yb, &x, &DEF), RCL_ERR_INVALID);
    assert_int_equal(rcl_lrn_forward(T_CTX, NULL, &x, &DEF), RCL_ERR_INVALID);
    assert_int_equal(rcl_lrn_forward(T_CTX, &e0, &e0, &DEF), RCL_ERR_INVALID);
    assert_int_equal(rcl_lrn_backward(T_CTX, &yb, &y, &x, &DEF), RCL_ERR_INVALID);
    assert_int_equal(rcl_lrn_backward(T_CTX, &y, &yb, &x, &DEF), RCL_ERR_INVALID);
    assert_int_equal(rcl_lrn_backward(T_CTX, &y, NULL, &x, &DEF), RCL_ERR_INVALID);
    rcl_tensor *ts[] = {&x, &y, &yb, &e};
    for (size_t i = 0; i < 4; i++) rcl_tensor_destroy(ts[i]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lrn_default),
    cmocka_unit_test(test_lrn_sizes),
    cmocka_unit_test(test_lrn_params),
    cmocka_unit_test(test_lrn_workgroup),
    cmocka_unit_test(test_lrn_invalid),
};

RCL_TEST_MAIN("lrn", tests)
