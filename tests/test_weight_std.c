/* Weight Standardization: reference backward vs finite differences, device
 * forward (w_hat, mean, std) and backward vs the reference for K = 2, 27,
 * 576 and O = 1, 3, 16, data with a large mean, constant rows (std = 0),
 * K below and above the work-group size, a view of the first O rows of a
 * larger buffer, NULL dw, and invalid arguments. */
#include "harness.h"
#include "ref/ref_weight_std.h"
#include "rcl/norm.h"

#include <math.h>
#include <stdlib.h>

#define EPS 1e-5

typedef struct { int o, k; const double *proj; double *y; } ws_fd;

static double ws_loss(void *ud, const double *p)
{
    ws_fd *f = ud;
    size_t cnt = (size_t)f->o * f->k;
    ref_weight_std_forward(f->y, NULL, NULL, p, f->o, f->k, EPS);
    double s = 0;
    for (size_t i = 0; i < cnt; i++) s += f->y[i] * f->proj[i];
    return s;
}

static double max_abs(const double *v, size_t n)
{
    double m = 1e-30;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* w (o, c, kh, kw) = offset + U(-scale, scale) (constant rows when
 * scale = 0); the op sees the first o rows of an (o+2)-row buffer. */
static void ws_case(int o, int c, int kh, int kw, double offset, double scale, int fd,
                    uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    const int k = c * kh * kw, ob = o + 2;
    size_t cnt = (size_t)o * k, cntb = (size_t)ob * k;
    float *w = malloc(cntb * sizeof *w), *g = malloc(cntb * sizeof *g);
    tu_fill(&r, w, cntb, offset - scale, offset + scale);
    tu_fill(&r, g, cntb, -1, 1);
    double *wd = tu_f2d(w, cnt), *gd = tu_f2d(g, cnt);
    double *whref = malloc(cnt * sizeof *whref), *dwref = malloc(cnt * sizeof *dwref);
    double *mref = malloc(o * sizeof *mref), *sref = malloc(o * sizeof *sref);
    ref_weight_std_forward(whref, mref, sref, wd, o, k, EPS);
    ref_weight_std_backward(dwref, gd, whref, sref, o, k, EPS);

    if (fd) {
        double *fg = malloc(cnt * sizeof *fg), *yb = malloc(cnt * sizeof *yb);
        ws_fd f = {o, k, gd, yb};
        tu_fd_grad(ws_loss, &f, wd, cnt, 1e-6 * (scale > 0 ? scale : 1), fg);
        assert_true(tu_close_d("weight_std ref dw vs fd", dwref, fg, cnt, 1e-5,
                               1e-6 * max_abs(dwref, cnt)));
        free(fg), free(yb);
    }

    rcl_tensor tw, twh, tg, tdw, tm, ts;
    tu_tensor(&tw, ob, c, kh, kw, w);
    tu_tensor(&tg, ob, c, kh, kw, g);
    tu_tensor(&twh, ob, c, kh, kw, NULL);
    tu_tensor(&tdw, ob, c, kh, kw, NULL);
    tu_tensor(&tm, o, 1, 1, 1, NULL);
    tu_tensor(&ts, o, 1, 1, 1, NULL);
    T_OK(rcl_tensor_fill(T_CTX, &twh, 7.0f));
    T_OK(rcl_tensor_fill(T_CTX, &tdw, 7.0f));
    rcl_tensor vw = tw, vwh = twh, vg = tg, vdw = tdw;
    vw.n = vwh.n = vg.n = vdw.n = o;
    T_OK(rcl_weight_std_forward(T_CTX, &vwh, &tm, &ts, &vw, (float)EPS));
    T_OK(rcl_weight_std_backward(T_CTX, &vdw, &vg, &vwh, &ts, (float)EPS));
    float *wh = tu_read(&twh), *dw = tu_read(&tdw), *m = tu_read(&tm), *sd = tu_read(&ts);
    /* (w - mean) loses ~|offset|*2^-24 in float, relative to std */
    const double rel = 1e-4 * (1 + fabs(offset) / (scale > 0 ? scale : 1));
    assert_true(tu_close_f("weight_std mean", m, mref, o, 1e-6, 1e-6 * (1 + fabs(offset))));
    assert_true(tu_close_f("weight_std std", sd, sref, o, rel, 1e-7));
    assert_true(tu_close_f("weight_std w_hat", wh, whref, cnt, rel, rel * 0.1));
    /* dw is a difference of terms of size |g|/(std+eps) that nearly cancel
     * where w_hat barely moves with w (K = 2: w_hat = +-1/sqrt(2) up to eps):
     * the float error scales with the terms, not with dw */
    double terms = 1e-30;
    for (int i = 0; i < o; i++)
        terms = fmax(terms, max_abs(gd + (size_t)i * k, (size_t)k) / (sref[i] + EPS));
    assert_true(tu_close_f("weight_std dw", dw, dwref, cnt, rel, rel * 0.1 * terms));
    for (size_t i = cnt; i < cntb; i++)
        if (wh[i] != 7.0f || dw[i] != 7.0f)
            fail_msg("weight_std wrote past the view's O=%d at %zu", o, i);
    for (size_t i = 0; i < cnt; i++)
        if (!isfinite(wh[i]) || !isfinite(dw[i])) fail_msg("weight_std: non-finite at %zu", i);
    /* NULL dw: nothing to compute */
    T_OK(rcl_weight_std_backward(T_CTX, NULL, &vg, &vwh, &ts, (float)EPS));

    rcl_tensor *tts[] = {&tw, &twh, &tg, &tdw, &tm, &ts};
    for (size_t i = 0; i < 6; i++) rcl_tensor_destroy(tts[i]);
    void *hs[] = {w, g, wd, gd, whref, dwref, mref, sref, wh, dw, m, sd};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

static void test_ws_fd(void **state)
{
    (void)state;
    ws_case(1, 2, 1, 1, 0.0, 1.0, 1, 1);   /* K = 2 */
    ws_case(3, 3, 3, 3, 0.0, 0.1, 1, 2);   /* K = 27 */
    ws_case(2, 64, 3, 3, 0.0, 0.05, 1, 3); /* K = 576 */
    ws_case(3, 3, 3, 3, 2.0, 0.5, 1, 4);   /* mean far from 0 */
}

static void test_ws_shapes(void **state)
{
    (void)state;
    static const int os[] = {1, 3, 16};
    uint64_t seed = 10;
    for (size_t i = 0; i < 3; i++) {
        ws_case(os[i], 2, 1, 1, 0.0, 1.0, 0, seed++);
        ws_case(os[i], 3, 3, 3, 0.0, 0.2, 0, seed++);
        ws_case(os[i], 64, 3, 3, 0.0, 0.05, 0, seed++);
        ws_case(os[i], 64, 3, 3, 10.0, 1.0, 0, seed++);
    }
    ws_case(5, 7, 5, 5, 0.0, 1.0, 0, 30);   /* K = 175 */
    ws_case(4, 3, 1, 1, 0.0, 1.0, 0, 31);   /* K = 3 */
}

/* every row constant: std = 0, w_hat = 0, dw = (g - mean g)/eps (no NaN; the
 * same as PyTorch autograd, which takes d std = 0 at std = 0) */
static void test_ws_constant(void **state)
{
    (void)state;
    ws_case(3, 3, 3, 3, 0.25, 0.0, 0, 40);
    ws_case(2, 2, 1, 1, -1.0, 0.0, 0, 41);
}

static void test_ws_workgroup(void **state)
{
    (void)state;
    T_OK(rcl_ctx_set_param(T_CTX, "weight_std", "WG", 16));
    ws_case(3, 64, 3, 3, 0.0, 0.05, 0, 50);
    ws_case(2, 2, 1, 1, 0.0, 1.0, 0, 51);
    T_OK(rcl_ctx_set_param(T_CTX, "weight_std", "WG", 256));
    ws_case(3, 3, 3, 3, 0.0, 0.1, 0, 52);
    ws_case(3, 64, 3, 3, 1.0, 0.05, 0, 53);
    T_OK(rcl_ctx_set_param(T_CTX, "weight_std", "WG", 64));
}

static void test_ws_invalid(void **state)
{
    (void)state;
    rcl_tensor w, wh, whb, w1, wh1, v, vb, v4;
    tu_tensor(&w, 3, 2, 3, 3, NULL);
    tu_tensor(&wh, 3, 2, 3, 3, NULL);
    tu_tensor(&whb, 3, 3, 3, 2, NULL);
    tu_tensor(&w1, 3, 1, 1, 1, NULL); /* K = 1 */
    tu_tensor(&wh1, 3, 1, 1, 1, NULL);
    tu_tensor(&v, 3, 1, 1, 1, NULL);
    tu_tensor(&vb, 2, 1, 1, 1, NULL);
    tu_tensor(&v4, 4, 1, 1, 1, NULL);
    const float e = (float)EPS;
    assert_int_equal(rcl_weight_std_forward(T_CTX, &wh1, &v, &v, &w1, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_forward(T_CTX, &whb, &v, &v, &w, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_forward(T_CTX, NULL, &v, &v, &w, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_forward(T_CTX, &wh, &vb, &v, &w, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_forward(T_CTX, &wh, &v, &v4, &w, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_forward(T_CTX, &wh, NULL, &v, &w, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_forward(T_CTX, &wh, &v, &v, &w, 0.0f), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_forward(T_CTX, &wh, &v, &v, &w, -1e-5f), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_forward(T_CTX, &wh, &v, &v, &w, NAN), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_backward(T_CTX, &wh1, &wh1, &w1, &v, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_backward(T_CTX, &whb, &wh, &w, &v, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_backward(T_CTX, &wh, &whb, &w, &v, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_backward(T_CTX, &wh, NULL, &w, &v, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_backward(T_CTX, &wh, &wh, &w, &vb, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_backward(T_CTX, NULL, &wh, &w, &vb, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_weight_std_backward(T_CTX, &wh, &wh, &w, &v, 0.0f), RCL_ERR_INVALID);
    rcl_tensor *ts[] = {&w, &wh, &whb, &w1, &wh1, &v, &vb, &v4};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ws_fd),
    cmocka_unit_test(test_ws_shapes),
    cmocka_unit_test(test_ws_constant),
    cmocka_unit_test(test_ws_workgroup),
    cmocka_unit_test(test_ws_invalid),
};

RCL_TEST_MAIN("weight_std", tests)
