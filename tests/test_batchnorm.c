/* BatchNorm2d: reference backward vs finite differences, device training
 * forward (y, saved stats, running stats over two calls), eval forward and
 * backward (dx, dgamma, dbeta, also with NULL outputs) vs the reference,
 * large-mean data, channel counts above the reduction work-group size, a
 * non-default work-group size, and invalid arguments. The fused BN + (add)
 * + ReLU ops: forward (train, eval) and gradients (dx, dgamma, dbeta, the
 * residual's) against the double reference, finite differences and the
 * unfused device ops; the eval fold into conv weights against the reference.
 * The per-channel kernels (bn CHAN 1, cl/batchnorm.cl bn_chan_*): every
 * training op bitwise the plane kernels' (bn CHAN 0), the kernel each call
 * launches, the rule that picks them, and the reference on their path. */
#include "harness.h"
#include "ref/ref_add.h"
#include "ref/ref_batchnorm.h"
#include "ref/ref_conv2d.h"
#include "ref/ref_relu.h"
#include "ops/batchnorm_plane.h"
#include "runtime/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MOMENTUM 0.1
#define EPS 1e-5

typedef struct { int n, c, h, w; const double *proj; double *y; } bn_fd;

/* loss = sum(bn_train(x; gamma, beta) * proj), p = [x, gamma, beta] */
static double bn_loss(void *ud, const double *p)
{
    bn_fd *f = ud;
    size_t cnt = (size_t)f->n * f->c * f->h * f->w;
    ref_batchnorm_forward_train(f->y, NULL, NULL, NULL, NULL, p, p + cnt, p + cnt + f->c, f->n,
                                f->c, f->h, f->w, MOMENTUM, EPS);
    double s = 0;
    for (size_t i = 0; i < cnt; i++) s += f->y[i] * f->proj[i];
    return s;
}

/* Reference gradients vs central differences of the reference forward. */
static void bn_check_fd(int n, int c, int h, int w, const double *x, const double *gamma,
                        const double *beta, const double *dy)
{
    size_t cnt = (size_t)n * c * h * w, np = cnt + 2 * (size_t)c;
    double *p = malloc(np * sizeof *p), *g = malloc(np * sizeof *g);
    double *y = malloc(cnt * sizeof *y), *sm = malloc(c * sizeof *sm), *si = malloc(c * sizeof *si);
    double *ref = malloc(np * sizeof *ref);
    for (size_t i = 0; i < cnt; i++) p[i] = x[i];
    for (int i = 0; i < c; i++) p[cnt + i] = gamma[i], p[cnt + c + i] = beta[i];
    ref_batchnorm_forward_train(y, sm, si, NULL, NULL, x, gamma, beta, n, c, h, w, MOMENTUM, EPS);
    ref_batchnorm_backward(ref, ref + cnt, ref + cnt + c, dy, x, gamma, sm, si, n, c, h, w);
    bn_fd f = {n, c, h, w, dy, y};
    tu_fd_grad(bn_loss, &f, p, np, 1e-6, g);
    assert_true(tu_close_d("bn ref dx vs fd", ref, g, cnt, 1e-5, 1e-6));
    assert_true(tu_close_d("bn ref dgamma vs fd", ref + cnt, g + cnt, c, 1e-5, 1e-6));
    assert_true(tu_close_d("bn ref dbeta vs fd", ref + cnt + c, g + cnt + c, c, 1e-5, 1e-6));
    free(p), free(g), free(y), free(sm), free(si), free(ref);
}

/* x = offset + U(-1,1); fd: also check the reference against finite differences. */
static void bn_case(int n, int c, int h, int w, double offset, int fd, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    size_t cnt = (size_t)n * c * h * w;
    const double M = (double)n * h * w;
    float *x = malloc(cnt * sizeof *x), *x2 = malloc(cnt * sizeof *x2), *dy = malloc(cnt * sizeof *dy);
    float *gamma = malloc(c * sizeof *gamma), *beta = malloc(c * sizeof *beta);
    float *rm = malloc(c * sizeof *rm), *rv = malloc(c * sizeof *rv);
    tu_fill(&r, x, cnt, offset - 1, offset + 1);
    tu_fill(&r, x2, cnt, offset - 2, offset + 3);
    tu_fill(&r, dy, cnt, -1, 1);
    tu_fill(&r, gamma, c, 0.5, 1.5);
    tu_fill(&r, beta, c, -0.5, 0.5);
    tu_fill(&r, rm, c, -0.2, 0.2);
    tu_fill(&r, rv, c, 0.5, 1.5);
    double *xd = tu_f2d(x, cnt), *x2d = tu_f2d(x2, cnt), *dyd = tu_f2d(dy, cnt);
    double *gd = tu_f2d(gamma, c), *bd = tu_f2d(beta, c), *rmd = tu_f2d(rm, c), *rvd = tu_f2d(rv, c);
    if (fd) bn_check_fd(n, c, h, w, xd, gd, bd, dyd);

    /* reference: two training calls (x2 then x, so the saved stats are x's) */
    double *yref = malloc(cnt * sizeof *yref), *sm = malloc(c * sizeof *sm), *si = malloc(c * sizeof *si);
    ref_batchnorm_forward_train(yref, sm, si, rmd, rvd, x2d, gd, bd, n, c, h, w, MOMENTUM, EPS);
    ref_batchnorm_forward_train(yref, sm, si, rmd, rvd, xd, gd, bd, n, c, h, w, MOMENTUM, EPS);
    double *yeval = malloc(cnt * sizeof *yeval);
    ref_batchnorm_forward_eval(yeval, xd, gd, bd, rmd, rvd, n, c, h, w, EPS);
    double *dxref = malloc(cnt * sizeof *dxref), *dgref = malloc(c * sizeof *dgref),
           *dbref = malloc(c * sizeof *dbref);
    ref_batchnorm_backward(dxref, dgref, dbref, dyd, xd, gd, sm, si, n, c, h, w);

    rcl_tensor tx, tx2, ty, tdy, tdx, tg, tb, trm, trv, tsm, tsi, tdg, tdb;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&tx2, n, c, h, w, x2);
    tu_tensor(&ty, n, c, h, w, NULL);
    tu_tensor(&tdy, n, c, h, w, dy);
    tu_tensor(&tdx, n, c, h, w, NULL);
    tu_tensor(&tg, c, 1, 1, 1, gamma);
    tu_tensor(&tb, c, 1, 1, 1, beta);
    tu_tensor(&trm, c, 1, 1, 1, rm);
    tu_tensor(&trv, c, 1, 1, 1, rv);
    tu_tensor(&tsm, c, 1, 1, 1, NULL);
    tu_tensor(&tsi, c, 1, 1, 1, NULL);
    tu_tensor(&tdg, c, 1, 1, 1, NULL);
    tu_tensor(&tdb, c, 1, 1, 1, NULL);
    T_OK(rcl_batchnorm_forward_train(T_CTX, &ty, &tsm, &tsi, &trm, &trv, &tx2, &tg, &tb,
                                     (float)MOMENTUM, (float)EPS));
    T_OK(rcl_batchnorm_forward_train(T_CTX, &ty, &tsm, &tsi, &trm, &trv, &tx, &tg, &tb,
                                     (float)MOMENTUM, (float)EPS));
    float *y = tu_read(&ty), *gsm = tu_read(&tsm), *gsi = tu_read(&tsi);
    float *grm = tu_read(&trm), *grv = tu_read(&trv);
    assert_true(tu_close_f("bn train y", y, yref, cnt, 1e-4, 1e-4));
    assert_true(tu_close_f("bn save_mean", gsm, sm, c, 1e-6, 1e-5));
    assert_true(tu_close_f("bn save_invstd", gsi, si, c, 1e-4, 0));
    assert_true(tu_close_f("bn running_mean", grm, rmd, c, 1e-6, 1e-5));
    assert_true(tu_close_f("bn running_var", grv, rvd, c, 1e-4, 1e-6));

    T_OK(rcl_batchnorm_forward_eval(T_CTX, &ty, &tx, &tg, &tb, &trm, &trv, (float)EPS));
    float *ye = tu_read(&ty);
    /* (x - rmean) loses ~|x|*2^-24 in float; scale the tolerance with the offset */
    assert_true(tu_close_f("bn eval y", ye, yeval, cnt, 1e-4, 1e-4 * (1 + fabs(offset))));

    T_OK(rcl_batchnorm_backward(T_CTX, &tdx, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi));
    float *dx = tu_read(&tdx), *dg = tu_read(&tdg), *db = tu_read(&tdb);
    const double sum_atol = 1e-6 * M + 1e-5; /* float sums over M terms */
    assert_true(tu_close_f("bn dx", dx, dxref, cnt, 1e-4, 1e-4));
    assert_true(tu_close_f("bn dgamma", dg, dgref, c, 1e-4, sum_atol));
    assert_true(tu_close_f("bn dbeta", db, dbref, c, 1e-4, sum_atol));

    /* dx alone (sums go to scratch), then dgamma/dbeta alone */
    T_OK(rcl_tensor_fill(T_CTX, &tdx, 7.0f));
    T_OK(rcl_batchnorm_backward(T_CTX, &tdx, NULL, NULL, &tdy, &tx, &tg, &tsm, &tsi));
    float *dx2 = tu_read(&tdx);
    assert_true(tu_close_f("bn dx (no dgamma/dbeta)", dx2, dxref, cnt, 1e-4, 1e-4));
    T_OK(rcl_tensor_fill(T_CTX, &tdg, 7.0f));
    T_OK(rcl_tensor_fill(T_CTX, &tdb, 7.0f));
    T_OK(rcl_batchnorm_backward(T_CTX, NULL, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi));
    float *dg2 = tu_read(&tdg), *db2 = tu_read(&tdb);
    assert_true(tu_close_f("bn dgamma (no dx)", dg2, dgref, c, 1e-4, sum_atol));
    assert_true(tu_close_f("bn dbeta (no dx)", db2, dbref, c, 1e-4, sum_atol));

    rcl_tensor *ts[] = {&tx, &tx2, &ty, &tdy, &tdx, &tg, &tb, &trm, &trv, &tsm, &tsi, &tdg, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    void *hs[] = {x, x2, dy, gamma, beta, rm, rv, xd, x2d, dyd, gd, bd, rmd, rvd, yref, sm, si,
                  yeval, dxref, dgref, dbref, y, gsm, gsi, grm, grv, ye, dx, dg, db, dx2, dg2, db2};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

static void test_bn_small_fd(void **state)
{
    (void)state;
    bn_case(3, 5, 7, 7, 0.0, 1, 11);
    bn_case(2, 3, 1, 1, 0.0, 1, 12);   /* M = 2 */
    bn_case(1, 2, 3, 1, 0.5, 1, 13);   /* N = 1, M = 3 */
    bn_case(2, 3, 5, 4, 100.0, 1, 14); /* large mean */
    bn_case(5, 7, 2, 2, 1.0, 1, 15);   /* 2x2 maps: one float4 per plane */
}

static void test_bn_larger(void **state)
{
    (void)state;
    bn_case(4, 300, 3, 3, 0.0, 0, 21);   /* C above the work-group size */
    bn_case(2, 3, 33, 17, 0.0, 0, 22);   /* M = 1122 > work-group size */
    bn_case(8, 4, 16, 16, 100.0, 0, 23); /* large mean, M = 2048 */
    bn_case(16, 16, 32, 32, -3.0, 0, 24); /* M = 16384 */
    /* small planes: a work-item takes ceil(RCL_BN_PLANE_SPAN / HW) images,
     * 29 of 3x3 here: groups of 29 and 11 */
    bn_case(40, 6, 3, 3, 2.0, 0, 25);
    bn_case(9, 300, 1, 1, 0.5, 0, 26); /* 1x1 maps: 256 channels per work-item, then 44 */
}

static void test_bn_small_workgroup(void **state)
{
    (void)state;
    T_OK(rcl_ctx_set_param(T_CTX, "bn_stats", "BN_WG", 32));
    T_OK(rcl_ctx_set_param(T_CTX, "bn", "WG", 32));
    bn_case(2, 40, 9, 11, 100.0, 0, 31);
    bn_case(2, 3, 1, 1, 0.0, 0, 32);
    T_OK(rcl_ctx_set_param(T_CTX, "bn_stats", "BN_WG", 256));
    T_OK(rcl_ctx_set_param(T_CTX, "bn", "WG", 64));
}

/* Eval mode is fine with one value per channel (training is not). */
static void test_bn_eval_single(void **state)
{
    (void)state;
    float x[3] = {1.5f, -2.0f, 0.25f}, g[3] = {1.0f, 2.0f, 0.5f}, b[3] = {0.0f, 0.1f, -0.3f};
    float rm[3] = {0.5f, -1.0f, 0.0f}, rv[3] = {4.0f, 0.25f, 1.0f};
    rcl_tensor tx, ty, tg, tb, trm, trv;
    tu_tensor(&tx, 1, 3, 1, 1, x);
    tu_tensor(&ty, 1, 3, 1, 1, NULL);
    tu_tensor(&tg, 3, 1, 1, 1, g);
    tu_tensor(&tb, 3, 1, 1, 1, b);
    tu_tensor(&trm, 3, 1, 1, 1, rm);
    tu_tensor(&trv, 3, 1, 1, 1, rv);
    T_OK(rcl_batchnorm_forward_eval(T_CTX, &ty, &tx, &tg, &tb, &trm, &trv, 1e-5f));
    double xd[3], gd[3], bd[3], rmd[3], rvd[3], want[3];
    for (int i = 0; i < 3; i++) xd[i] = x[i], gd[i] = g[i], bd[i] = b[i], rmd[i] = rm[i], rvd[i] = rv[i];
    ref_batchnorm_forward_eval(want, xd, gd, bd, rmd, rvd, 1, 3, 1, 1, 1e-5);
    float *y = tu_read(&ty);
    assert_true(tu_close_f("bn eval 1x3x1x1", y, want, 3, 1e-6, 1e-6));
    free(y);
    rcl_tensor *ts[] = {&tx, &ty, &tg, &tb, &trm, &trv};
    for (size_t i = 0; i < 6; i++) rcl_tensor_destroy(ts[i]);
}

static void test_bn_invalid(void **state)
{
    (void)state;
    rcl_tensor x1, y1, x, y, yb, v, vb, s1, s2;
    tu_tensor(&x1, 1, 3, 1, 1, NULL);
    tu_tensor(&y1, 1, 3, 1, 1, NULL);
    tu_tensor(&x, 2, 3, 4, 5, NULL);
    tu_tensor(&y, 2, 3, 4, 5, NULL);
    tu_tensor(&yb, 2, 3, 5, 4, NULL);
    tu_tensor(&v, 3, 1, 1, 1, NULL);
    tu_tensor(&vb, 4, 1, 1, 1, NULL);
    tu_tensor(&s1, 3, 1, 1, 1, NULL);
    tu_tensor(&s2, 3, 1, 1, 1, NULL);
    /* M = N*H*W = 1 in training */
    assert_int_equal(rcl_batchnorm_forward_train(T_CTX, &y1, &s1, &s2, &v, &v, &x1, &v, &v, 0.1f,
                                                 1e-5f),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_forward_train(T_CTX, &yb, &s1, &s2, &v, &v, &x, &v, &v, 0.1f,
                                                 1e-5f),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_forward_train(T_CTX, &y, &s1, &s2, &v, &v, &x, &vb, &v, 0.1f,
                                                 1e-5f),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_forward_train(T_CTX, &y, &s1, &vb, &v, &v, &x, &v, &v, 0.1f,
                                                 1e-5f),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_forward_train(T_CTX, &y, &s1, &s2, &v, NULL, &x, &v, &v, 0.1f,
                                                 1e-5f),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_forward_eval(T_CTX, &y, &x, &v, &v, &vb, &v, 1e-5f),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_forward_eval(T_CTX, &yb, &x, &v, &v, &v, &v, 1e-5f),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_backward(T_CTX, &yb, &s1, &s2, &y, &x, &v, &v, &v),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_backward(T_CTX, &y, &vb, &s2, &y, &x, &v, &v, &v),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_backward(T_CTX, &y, &s1, &s2, &yb, &x, &v, &v, &v),
                     RCL_ERR_INVALID);
    rcl_tensor *ts[] = {&x1, &y1, &x, &y, &yb, &v, &vb, &s1, &s2};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
}

/* ---- fused BN + (residual) + ReLU */

typedef struct { int n, c, h, w, has_res; const double *proj; double *y; } bnr_fd;

/* y = relu(bn_train(x) + res) in double (the unfused ops' composition) */
static void ref_bnr_forward(double *y, double *sm, double *si, double *rm, double *rv,
                            const double *x, const double *res, const double *g,
                            const double *b, int n, int c, int h, int w)
{
    size_t cnt = (size_t)n * c * h * w;
    ref_batchnorm_forward_train(y, sm, si, rm, rv, x, g, b, n, c, h, w, MOMENTUM, EPS);
    if (res) ref_add(y, y, res, cnt);
    ref_relu_forward(y, y, cnt);
}

/* loss = sum(relu(bn(x) + res) * proj), p = [x, gamma, beta, res] */
static double bnr_loss(void *ud, const double *p)
{
    bnr_fd *f = ud;
    size_t cnt = (size_t)f->n * f->c * f->h * f->w;
    ref_bnr_forward(f->y, NULL, NULL, NULL, NULL, p, f->has_res ? p + cnt + 2 * f->c : NULL,
                    p + cnt, p + cnt + f->c, f->n, f->c, f->h, f->w);
    double s = 0;
    for (size_t i = 0; i < cnt; i++) s += f->y[i] * f->proj[i];
    return s;
}

static void bnr_case(int n, int c, int h, int w, int has_res, int fd, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    size_t cnt = (size_t)n * c * h * w, np = 2 * cnt + 2 * (size_t)c;
    const double M = (double)n * h * w;
    float *x = malloc(cnt * sizeof *x), *res = malloc(cnt * sizeof *res),
          *dy = malloc(cnt * sizeof *dy);
    float *gamma = malloc(c * sizeof *gamma), *beta = malloc(c * sizeof *beta);
    float *rm = malloc(c * sizeof *rm), *rv = malloc(c * sizeof *rv);
    tu_fill(&r, x, cnt, -1, 1);
    tu_fill(&r, res, cnt, -1, 1);
    tu_fill(&r, dy, cnt, -1, 1);
    tu_fill(&r, gamma, c, 0.5, 1.5);
    tu_fill(&r, beta, c, -0.5, 0.5);
    tu_fill(&r, rm, c, -0.2, 0.2);
    tu_fill(&r, rv, c, 0.5, 1.5);
    double *xd = tu_f2d(x, cnt), *resd = tu_f2d(res, cnt), *dyd = tu_f2d(dy, cnt);
    double *gd = tu_f2d(gamma, c), *bd = tu_f2d(beta, c), *rmd = tu_f2d(rm, c), *rvd = tu_f2d(rv, c);
    const double *rp = has_res ? resd : NULL;

    /* reference forward, running stats, and the backward through the mask */
    double *yref = malloc(cnt * sizeof *yref), *sm = malloc(c * sizeof *sm),
           *si = malloc(c * sizeof *si), *gref = malloc(cnt * sizeof *gref);
    ref_bnr_forward(yref, sm, si, rmd, rvd, xd, rp, gd, bd, n, c, h, w);
    ref_relu_backward(gref, dyd, yref, cnt);
    double *grad = malloc(np * sizeof *grad); /* [dx, dgamma, dbeta, dres] */
    ref_batchnorm_backward(grad, grad + cnt, grad + cnt + c, gref, xd, gd, sm, si, n, c, h, w);
    for (size_t i = 0; i < cnt; i++) grad[cnt + 2 * c + i] = gref[i];
    if (fd) {
        double *p = malloc(np * sizeof *p), *g = malloc(np * sizeof *g), *yt = malloc(cnt * sizeof *yt);
        for (size_t i = 0; i < cnt; i++) p[i] = xd[i], p[cnt + 2 * c + i] = resd[i];
        for (int i = 0; i < c; i++) p[cnt + i] = gd[i], p[cnt + c + i] = bd[i];
        bnr_fd f = {n, c, h, w, has_res, dyd, yt};
        tu_fd_grad(bnr_loss, &f, p, has_res ? np : cnt + 2 * (size_t)c, 1e-6, g);
        assert_true(tu_close_d("bn+relu ref dx vs fd", grad, g, cnt, 1e-5, 1e-6));
        assert_true(tu_close_d("bn+relu ref dgamma,dbeta vs fd", grad + cnt, g + cnt, 2 * c, 1e-5, 1e-6));
        if (has_res)
            assert_true(tu_close_d("bn+relu ref dres vs fd", grad + cnt + 2 * c, g + cnt + 2 * c,
                                   cnt, 1e-5, 1e-6));
        free(p), free(g), free(yt);
    }
    double *yeval = malloc(cnt * sizeof *yeval);
    ref_batchnorm_forward_eval(yeval, xd, gd, bd, rmd, rvd, n, c, h, w, EPS);
    if (has_res) ref_add(yeval, yeval, resd, cnt);
    ref_relu_forward(yeval, yeval, cnt);

    rcl_tensor tx, tres, ty, tyu, tdy, tdx, tdxu, tdres, tgs, tg, tb, trm, trv, trm2, trv2, tsm,
        tsi, tdg, tdb, tdgu, tdbu;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&tres, n, c, h, w, res);
    tu_tensor(&ty, n, c, h, w, NULL);
    tu_tensor(&tyu, n, c, h, w, NULL);
    tu_tensor(&tdy, n, c, h, w, dy);
    tu_tensor(&tdx, n, c, h, w, NULL);
    tu_tensor(&tdxu, n, c, h, w, NULL);
    tu_tensor(&tdres, n, c, h, w, NULL);
    tu_tensor(&tgs, n, c, h, w, NULL);
    tu_tensor(&tg, c, 1, 1, 1, gamma);
    tu_tensor(&tb, c, 1, 1, 1, beta);
    tu_tensor(&trm, c, 1, 1, 1, rm);
    tu_tensor(&trv, c, 1, 1, 1, rv);
    tu_tensor(&trm2, c, 1, 1, 1, rm);
    tu_tensor(&trv2, c, 1, 1, 1, rv);
    tu_tensor(&tsm, c, 1, 1, 1, NULL);
    tu_tensor(&tsi, c, 1, 1, 1, NULL);
    tu_tensor(&tdg, c, 1, 1, 1, NULL);
    tu_tensor(&tdb, c, 1, 1, 1, NULL);
    tu_tensor(&tdgu, c, 1, 1, 1, NULL);
    tu_tensor(&tdbu, c, 1, 1, 1, NULL);
    const rcl_tensor *tr = has_res ? &tres : NULL;

    /* unfused device path: bn, add, relu (running stats into trm2/trv2) */
    T_OK(rcl_batchnorm_forward_train(T_CTX, &tyu, &tsm, &tsi, &trm2, &trv2, &tx, &tg, &tb,
                                     (float)MOMENTUM, (float)EPS));
    if (has_res) T_OK(rcl_add(T_CTX, &tyu, &tyu, &tres));
    T_OK(rcl_relu_forward(T_CTX, &tyu, &tyu));
    /* fused */
    T_OK(rcl_batchnorm_relu_forward_train(T_CTX, &ty, &tsm, &tsi, &trm, &trv, &tx, tr, &tg, &tb,
                                          (float)MOMENTUM, (float)EPS));
    float *y = tu_read(&ty), *yu = tu_read(&tyu), *grm = tu_read(&trm), *grv = tu_read(&trv);
    double *yud = tu_f2d(yu, cnt);
    assert_true(tu_close_f("bn+relu train y", y, yref, cnt, 1e-4, 1e-4));
    assert_true(tu_close_f("bn+relu train y vs unfused", y, yud, cnt, 1e-6, 1e-6));
    assert_true(tu_close_f("bn+relu running_mean", grm, rmd, c, 1e-6, 1e-5));
    assert_true(tu_close_f("bn+relu running_var", grv, rvd, c, 1e-4, 1e-6));
    size_t zeros = 0;
    for (size_t i = 0; i < cnt; i++) zeros += y[i] == 0.0f;
    assert_true(zeros > 0 && zeros < cnt); /* the mask does something */

    /* backward: fused (with dres) vs reference and vs relu_backward + bn backward */
    T_OK(rcl_batchnorm_relu_backward(T_CTX, &tdx, &tdg, &tdb, has_res ? &tdres : NULL, &tdy, &ty,
                                     &tx, &tg, &tsm, &tsi));
    T_OK(rcl_relu_backward(T_CTX, &tgs, &tdy, &tyu));
    T_OK(rcl_batchnorm_backward(T_CTX, &tdxu, &tdgu, &tdbu, &tgs, &tx, &tg, &tsm, &tsi));
    float *dx = tu_read(&tdx), *dg = tu_read(&tdg), *db = tu_read(&tdb);
    float *dxu = tu_read(&tdxu), *dgu = tu_read(&tdgu), *dbu = tu_read(&tdbu);
    const double sum_atol = 1e-6 * M + 1e-5;
    assert_true(tu_close_f("bn+relu dx", dx, grad, cnt, 1e-4, 1e-4));
    assert_true(tu_close_f("bn+relu dgamma", dg, grad + cnt, c, 1e-4, sum_atol));
    assert_true(tu_close_f("bn+relu dbeta", db, grad + cnt + c, c, 1e-4, sum_atol));
    double *dxud = tu_f2d(dxu, cnt), *dgud = tu_f2d(dgu, c), *dbud = tu_f2d(dbu, c);
    assert_true(tu_close_f("bn+relu dx vs unfused", dx, dxud, cnt, 1e-6, 1e-6));
    assert_true(tu_close_f("bn+relu dgamma vs unfused", dg, dgud, c, 1e-6, 1e-6));
    assert_true(tu_close_f("bn+relu dbeta vs unfused", db, dbud, c, 1e-6, 1e-6));
    if (has_res) {
        float *dr = tu_read(&tdres);
        assert_true(tu_close_f("bn+relu dres", dr, gref, cnt, 0, 0));
        free(dr);
    }
    /* dx alone, then dres alone (in place over a copy of dy) */
    T_OK(rcl_tensor_fill(T_CTX, &tdx, 7.0f));
    T_OK(rcl_batchnorm_relu_backward(T_CTX, &tdx, NULL, NULL, NULL, &tdy, &ty, &tx, &tg, &tsm,
                                     &tsi));
    float *dx2 = tu_read(&tdx);
    assert_true(tu_close_f("bn+relu dx (alone)", dx2, grad, cnt, 1e-4, 1e-4));
    /* dx from g in dres (bn_bwd_dx), here with dres in place over a copy
     * of dy, and from dy and y (bn_bwd_dx_relu, dx alone above): the same
     * floats */
    double *dx2d = tu_f2d(dx2, cnt);
    T_OK(rcl_tensor_copy(T_CTX, &tdres, &tdy));
    T_OK(rcl_tensor_fill(T_CTX, &tdx, 7.0f));
    T_OK(rcl_batchnorm_relu_backward(T_CTX, &tdx, NULL, NULL, &tdres, &tdres, &ty, &tx, &tg, &tsm,
                                     &tsi));
    float *dx3 = tu_read(&tdx);
    assert_true(tu_close_f("bn+relu dx (from dres) vs (alone)", dx3, dx2d, cnt, 0, 0));
    free(dx3);
    free(dx2d);
    T_OK(rcl_tensor_copy(T_CTX, &tdres, &tdy));
    T_OK(rcl_batchnorm_relu_backward(T_CTX, NULL, NULL, NULL, &tdres, &tdres, &ty, &tx, &tg, &tsm,
                                     &tsi));
    float *dr2 = tu_read(&tdres);
    assert_true(tu_close_f("bn+relu dres (in place)", dr2, gref, cnt, 0, 0));

    /* eval: fused vs reference and vs the unfused eval ops */
    T_OK(rcl_batchnorm_relu_forward_eval(T_CTX, &ty, &tx, tr, &tg, &tb, &trm, &trv, (float)EPS));
    T_OK(rcl_batchnorm_forward_eval(T_CTX, &tyu, &tx, &tg, &tb, &trm, &trv, (float)EPS));
    if (has_res) T_OK(rcl_add(T_CTX, &tyu, &tyu, &tres));
    T_OK(rcl_relu_forward(T_CTX, &tyu, &tyu));
    float *ye = tu_read(&ty), *yeu = tu_read(&tyu);
    double *yeud = tu_f2d(yeu, cnt);
    assert_true(tu_close_f("bn+relu eval y", ye, yeval, cnt, 1e-4, 1e-4));
    assert_true(tu_close_f("bn+relu eval y vs unfused", ye, yeud, cnt, 1e-6, 1e-6));

    rcl_tensor *ts[] = {&tx, &tres, &ty, &tyu, &tdy, &tdx, &tdxu, &tdres, &tgs, &tg, &tb, &trm,
                        &trv, &trm2, &trv2, &tsm, &tsi, &tdg, &tdb, &tdgu, &tdbu};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    void *hs[] = {x, res, dy, gamma, beta, rm, rv, xd, resd, dyd, gd, bd, rmd, rvd, yref, sm, si,
                  gref, grad, yeval, y, yu, grm, grv, yud, dx, dg, db, dxu, dgu, dbu, dxud, dgud,
                  dbud, dx2, dr2, ye, yeu, yeud};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

static void test_bn_relu_fused(void **state)
{
    (void)state;
    bnr_case(3, 5, 7, 7, 1, 1, 41);   /* odd shapes, residual, finite differences */
    bnr_case(2, 3, 5, 3, 0, 1, 42);   /* no residual */
    bnr_case(2, 3, 1, 1, 1, 1, 43);   /* M = 2 */
    bnr_case(5, 300, 2, 3, 1, 0, 44); /* C above the work-group size, HW % 4 != 0 */
    bnr_case(7, 16, 8, 8, 0, 0, 45);  /* float16 body only */
    bnr_case(4, 16, 9, 9, 1, 0, 46);  /* float16 body + tail */
    bnr_case(70, 5, 2, 2, 1, 0, 47);  /* 2x2 maps: a float4 per plane */
    bnr_case(3, 4, 2, 2, 0, 1, 48);   /* 2x2 without the residual */
    bnr_case(6, 300, 1, 1, 0, 0, 49); /* 1x1: 256 channels per work-item, then 44 */
}

/* Non-temporal stores of the elementwise outputs (cl/common.h STREAM16;
 * `stream MIN_KB` 1: every output streams where the device compiler has
 * the builtins): the same results on planes of whole aligned cache lines
 * (8x8, 16x16) and on odd ones (misaligned: stored as before), with and
 * without the residual, plain and fused */
static void test_bn_stream(void **state)
{
    (void)state;
    const int kb = rcl_ctx_param(T_CTX, "stream", "MIN_KB", 0);
    T_OK(rcl_ctx_set_param(T_CTX, "stream", "MIN_KB", 1));
    bn_case(8, 4, 16, 16, 1.0, 0, 51);
    bn_case(3, 5, 7, 7, 0.0, 1, 52);
    bnr_case(7, 16, 8, 8, 1, 0, 53);
    bnr_case(7, 16, 8, 8, 0, 0, 54);
    bnr_case(4, 16, 9, 9, 1, 1, 55);
    T_OK(rcl_ctx_set_param(T_CTX, "stream", "MIN_KB", kb));
}

/* The fold: conv(x, wf) + bf against the double conv followed by eval BN. */
static void test_bn_fold(void **state)
{
    (void)state;
    const int N = 3, C = 5, H = 7, W = 6, O = 7, K = 3;
    tu_rng r = tu_rng_seed(51);
    size_t nx = (size_t)N * C * H * W, nw = (size_t)O * C * K * K;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
    float g[7], b[7], rm[7], rv[7];
    tu_fill(&r, x, nx, -1, 1);
    tu_fill(&r, w, nw, -0.5, 0.5);
    tu_fill(&r, g, O, 0.5, 1.5);
    tu_fill(&r, b, O, -0.5, 0.5);
    tu_fill(&r, rm, O, -0.3, 0.3);
    tu_fill(&r, rv, O, 0.2, 2.0);
    rcl_conv2d_desc d = {.kh = K, .kw = K, .sh = 2, .sw = 2, .ph = 1, .pw = 1};
    ref_conv2d_shape s = {.n = N, .c = C, .h = H, .w = W, .oc = O, .kh = K, .kw = K, .sh = 2,
                          .sw = 2, .ph = 1, .pw = 1};
    assert_true(ref_conv2d_shape_init(&s) != 0);
    size_t ny = (size_t)N * O * s.oh * s.ow;
    double *xd = tu_f2d(x, nx), *wd = tu_f2d(w, nw), *yd = malloc(ny * sizeof *yd);
    double gd[7], bd[7], rmd[7], rvd[7], wfd[7 * 5 * 9], bfd[7];
    for (int o = 0; o < O; o++) gd[o] = g[o], bd[o] = b[o], rmd[o] = rm[o], rvd[o] = rv[o];
    ref_conv2d_forward(yd, xd, wd, NULL, &s);
    ref_batchnorm_forward_eval(yd, yd, gd, bd, rmd, rvd, N, O, s.oh, s.ow, EPS);
    for (int o = 0; o < O; o++) {
        double sc = gd[o] / sqrt(rvd[o] + EPS);
        for (int k = 0; k < C * K * K; k++) wfd[o * C * K * K + k] = wd[o * C * K * K + k] * sc;
        bfd[o] = bd[o] - rmd[o] * sc;
    }
    rcl_tensor tx, tw, twf, tbf, ty, tg, tb, trm, trv;
    tu_tensor(&tx, N, C, H, W, x);
    tu_tensor(&tw, O, C, K, K, w);
    tu_tensor(&twf, O, C, K, K, NULL);
    tu_tensor(&tbf, O, 1, 1, 1, NULL);
    tu_tensor(&ty, N, O, s.oh, s.ow, NULL);
    tu_tensor(&tg, O, 1, 1, 1, g);
    tu_tensor(&tb, O, 1, 1, 1, b);
    tu_tensor(&trm, O, 1, 1, 1, rm);
    tu_tensor(&trv, O, 1, 1, 1, rv);
    T_OK(rcl_batchnorm_fold(T_CTX, &twf, &tbf, &tw, &tg, &tb, &trm, &trv, (float)EPS));
    float *wf = tu_read(&twf), *bf = tu_read(&tbf);
    assert_true(tu_close_f("fold w", wf, wfd, nw, 1e-6, 1e-7));
    assert_true(tu_close_f("fold b", bf, bfd, O, 1e-6, 1e-7));
    T_OK(rcl_conv2d_forward(T_CTX, &ty, &tx, &twf, &tbf, &d));
    float *y = tu_read(&ty);
    assert_true(tu_close_f("conv(fold) vs conv+bn", y, yd, ny, 1e-5, 1e-5));
    /* wrong shapes are refused */
    assert_int_equal(rcl_batchnorm_fold(T_CTX, &twf, &tg, &tw, &tg, &tb, &trm, &tx, (float)EPS),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_fold(T_CTX, &tx, &tbf, &tw, &tg, &tb, &trm, &trv, (float)EPS),
                     RCL_ERR_INVALID);
    rcl_tensor *ts[] = {&tx, &tw, &twf, &tbf, &ty, &tg, &tb, &trm, &trv};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    free(x), free(w), free(xd), free(wd), free(yd), free(wf), free(bf), free(y);
}

static void test_bn_relu_invalid(void **state)
{
    (void)state;
    rcl_tensor x, y, yb, v, s1, s2;
    tu_tensor(&x, 2, 3, 4, 5, NULL);
    tu_tensor(&y, 2, 3, 4, 5, NULL);
    tu_tensor(&yb, 2, 3, 5, 4, NULL);
    tu_tensor(&v, 3, 1, 1, 1, NULL);
    tu_tensor(&s1, 3, 1, 1, 1, NULL);
    tu_tensor(&s2, 3, 1, 1, 1, NULL);
    /* a residual of another shape */
    assert_int_equal(rcl_batchnorm_relu_forward_train(T_CTX, &y, &s1, &s2, &v, &v, &x, &yb, &v,
                                                      &v, 0.1f, 1e-5f),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_relu_forward_eval(T_CTX, &y, &x, &yb, &v, &v, &v, &v, 1e-5f),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_relu_backward(T_CTX, &y, &s1, &s2, &yb, &y, &y, &x, &v, &v,
                                                 &v),
                     RCL_ERR_INVALID);
    /* the output y (the mask) of another shape, or missing */
    assert_int_equal(rcl_batchnorm_relu_backward(T_CTX, &y, &s1, &s2, NULL, &y, &yb, &x, &v, &v,
                                                 &v),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_batchnorm_relu_backward(T_CTX, &y, &s1, &s2, NULL, &y, NULL, &x, &v, &v,
                                                 &v),
                     RCL_ERR_INVALID);
    rcl_tensor *ts[] = {&x, &y, &yb, &v, &s1, &s2};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
}

/* ---- The per-channel kernels (bn CHAN; src/ops/batchnorm.c
 * rcl_bn_chan_use) */

/* The kernel T_CTX launched last (runtime/internal.h ctx->last_kernel) is
 * `want`. */
static void bn_expect_kernel(const char *want, const char *what)
{
    char name[64] = "";
    assert_non_null(T_CTX->last_kernel);
    assert_int_equal(clGetKernelInfo(T_CTX->last_kernel, CL_KERNEL_FUNCTION_NAME, sizeof name,
                                     name, NULL),
                     CL_SUCCESS);
    if (strcmp(name, want) != 0) fail_msg("%s: launched %s, want %s", what, name, want);
}

/* Append t's values to out at *at. */
static void bn_take(float *out, size_t *at, const rcl_tensor *t)
{
    float *v = tu_read(t);
    memcpy(out + *at, v, rcl_t_count(t) * sizeof *v);
    *at += rcl_t_count(t);
    free(v);
}

/* Every BatchNorm training op on (n,c,h,w) with bn CHAN = chan: the
 * forward (plain, + residual + ReLU, + ReLU), the backward (dx + dgamma +
 * dbeta, dx alone, the sums alone) and the ReLU backward (with dres, without,
 * in place over dy, the sums alone), each output read back into one
 * malloc'd array (*len floats). Checks that each call launched the kernel
 * its path has: bn_chan_* where `chan` and rcl_bn_chan_use allow. */
static float *bn_chan_run(int n, int c, int h, int w, int chan, uint64_t seed, size_t *len)
{
    T_OK(rcl_ctx_set_param(T_CTX, "bn", "CHAN", chan));
    const int per_chan = rcl_bn_chan_use(T_CTX, c, h * w);
    assert_int_equal(per_chan, chan && h * w >= RCL_BN_CHAN_MIN_HW &&
                                   c >= RCL_BN_CHAN_PER_CU *
                                            (int)rcl_ctx_device(T_CTX)->compute_units);
    tu_rng r = tu_rng_seed(seed);
    const size_t cnt = (size_t)n * c * h * w;
    float *x = malloc(cnt * sizeof *x), *res = malloc(cnt * sizeof *res),
          *dy = malloc(cnt * sizeof *dy), *v = malloc(4 * (size_t)c * sizeof *v);
    tu_fill(&r, x, cnt, -1, 2);
    tu_fill(&r, res, cnt, -1, 1);
    tu_fill(&r, dy, cnt, -1, 1);
    tu_fill(&r, v, 2 * (size_t)c, 0.5, 1.5); /* gamma, running var */
    tu_fill(&r, v + 2 * c, 2 * (size_t)c, -0.5, 0.5); /* beta, running mean */
    rcl_tensor tx, tres, tdy, ty1, ty2, ty3, tdx, tt, tg, tb, trm, trv, tsm, tsi, tsm2, tsi2, tdg,
        tdb;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&tres, n, c, h, w, res);
    tu_tensor(&tdy, n, c, h, w, dy);
    tu_tensor(&ty1, n, c, h, w, NULL);
    tu_tensor(&ty2, n, c, h, w, NULL);
    tu_tensor(&ty3, n, c, h, w, NULL);
    tu_tensor(&tdx, n, c, h, w, NULL);
    tu_tensor(&tt, n, c, h, w, NULL);
    tu_tensor(&tg, c, 1, 1, 1, v);
    tu_tensor(&trv, c, 1, 1, 1, v + c);
    tu_tensor(&tb, c, 1, 1, 1, v + 2 * c);
    tu_tensor(&trm, c, 1, 1, 1, v + 3 * c);
    tu_tensor(&tsm, c, 1, 1, 1, NULL);
    tu_tensor(&tsi, c, 1, 1, 1, NULL);
    tu_tensor(&tsm2, c, 1, 1, 1, NULL);
    tu_tensor(&tsi2, c, 1, 1, 1, NULL);
    tu_tensor(&tdg, c, 1, 1, 1, NULL);
    tu_tensor(&tdb, c, 1, 1, 1, NULL);
    const size_t cap = 14 * cnt + 16 * (size_t)c;
    float *out = malloc(cap * sizeof *out);
    size_t at = 0;
    const char *fwd = per_chan ? "bn_chan_train" : NULL, *bwd = per_chan ? "bn_chan_bwd" : NULL;

    T_OK(rcl_batchnorm_forward_train(T_CTX, &ty1, &tsm, &tsi, &trm, &trv, &tx, &tg, &tb,
                                     (float)MOMENTUM, (float)EPS));
    bn_expect_kernel(fwd ? fwd : "bn_apply", "forward_train");
    rcl_tensor *f1[] = {&ty1, &tsm, &tsi, &trm, &trv};
    for (int i = 0; i < 5; i++) bn_take(out, &at, f1[i]);
    T_OK(rcl_batchnorm_relu_forward_train(T_CTX, &ty2, &tsm2, &tsi2, &trm, &trv, &tx, &tres, &tg,
                                          &tb, (float)MOMENTUM, (float)EPS));
    bn_expect_kernel(fwd ? fwd : "bn_apply_relu", "relu_forward_train (residual)");
    rcl_tensor *f2[] = {&ty2, &tsm2, &tsi2, &trm, &trv};
    for (int i = 0; i < 5; i++) bn_take(out, &at, f2[i]);
    T_OK(rcl_batchnorm_relu_forward_train(T_CTX, &ty3, &tsm2, &tsi2, NULL, NULL, &tx, NULL, &tg,
                                          &tb, (float)MOMENTUM, (float)EPS));
    bn_expect_kernel(fwd ? fwd : "bn_apply_relu", "relu_forward_train");
    bn_take(out, &at, &ty3);
    size_t zeros = 0;
    for (size_t i = at - cnt; i < at; i++) zeros += out[i] == 0.0f;
    assert_true(zeros > 0 && zeros < cnt); /* the mask does something */

    T_OK(rcl_batchnorm_backward(T_CTX, &tdx, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi));
    bn_expect_kernel(bwd ? bwd : "bn_bwd_dx", "backward");
    rcl_tensor *b1[] = {&tdx, &tdg, &tdb};
    for (int i = 0; i < 3; i++) bn_take(out, &at, b1[i]);
    T_OK(rcl_batchnorm_backward(T_CTX, &tdx, NULL, NULL, &tdy, &tx, &tg, &tsm, &tsi));
    bn_expect_kernel(bwd ? bwd : "bn_bwd_dx", "backward (dx alone)");
    bn_take(out, &at, &tdx);
    T_OK(rcl_batchnorm_backward(T_CTX, NULL, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi));
    bn_expect_kernel(bwd ? bwd : "bn_bwd_reduce", "backward (sums alone)");
    bn_take(out, &at, &tdg), bn_take(out, &at, &tdb);

    T_OK(rcl_batchnorm_relu_backward(T_CTX, &tdx, &tdg, &tdb, &tt, &tdy, &ty2, &tx, &tg, &tsm2,
                                     &tsi2));
    bn_expect_kernel(bwd ? bwd : "bn_bwd_dx", "relu_backward (dres)");
    rcl_tensor *b2[] = {&tdx, &tdg, &tdb, &tt};
    for (int i = 0; i < 4; i++) bn_take(out, &at, b2[i]);
    T_OK(rcl_batchnorm_relu_backward(T_CTX, &tdx, &tdg, &tdb, NULL, &tdy, &ty3, &tx, &tg, &tsm2,
                                     &tsi2));
    bn_expect_kernel(bwd ? bwd : "bn_bwd_dx_relu", "relu_backward");
    for (int i = 0; i < 3; i++) bn_take(out, &at, b2[i]);
    T_OK(rcl_tensor_copy(T_CTX, &tt, &tdy));
    T_OK(rcl_batchnorm_relu_backward(T_CTX, &tdx, NULL, NULL, &tt, &tt, &ty2, &tx, &tg, &tsm2,
                                     &tsi2));
    bn_expect_kernel(bwd ? bwd : "bn_bwd_dx", "relu_backward (dres in place over dy)");
    bn_take(out, &at, &tdx), bn_take(out, &at, &tt);
    T_OK(rcl_batchnorm_relu_backward(T_CTX, NULL, &tdg, &tdb, &tt, &tdy, &ty2, &tx, &tg, &tsm2,
                                     &tsi2));
    bn_expect_kernel(bwd ? bwd : "bn_bwd_reduce", "relu_backward (sums, dres)");
    bn_take(out, &at, &tdg), bn_take(out, &at, &tdb), bn_take(out, &at, &tt);
    assert_true(at <= cap);
    *len = at;

    T_OK(rcl_ctx_set_param(T_CTX, "bn", "CHAN", 1));
    rcl_tensor *ts[] = {&tx, &tres, &tdy, &ty1, &ty2, &ty3, &tdx, &tt, &tg, &tb, &trm, &trv,
                        &tsm, &tsi, &tsm2, &tsi2, &tdg, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    free(x), free(res), free(dy), free(v);
    return out;
}

/* bn_chan_run with bn CHAN 0 and 1: the same bits */
static void bn_chan_same(int n, int c, int h, int w, uint64_t seed)
{
    size_t l0, l1;
    float *a = bn_chan_run(n, c, h, w, 0, seed, &l0), *b = bn_chan_run(n, c, h, w, 1, seed, &l1);
    assert_int_equal(l0, l1);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < l0; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0 && !bad++) first = i;
    if (bad)
        fail_msg("bn CHAN 1 vs 0 on (%d,%d,%d,%d): %zu of %zu floats differ, first [%zu] %.9g vs "
                 "%.9g",
                 n, c, h, w, bad, l0, first, b[first], a[first]);
    free(a), free(b);
}

static void test_bn_chan(void **state)
{
    (void)state;
    const int cu = (int)rcl_ctx_device(T_CTX)->compute_units, c = RCL_BN_CHAN_PER_CU * cu;
    /* the rule: each bound, and bn CHAN 0 */
    assert_true(rcl_bn_chan_use(T_CTX, c, RCL_BN_CHAN_MIN_HW));
    assert_false(rcl_bn_chan_use(T_CTX, c - 1, 1024));
    assert_false(rcl_bn_chan_use(T_CTX, 4096, RCL_BN_CHAN_MIN_HW - 1));
    T_OK(rcl_ctx_set_param(T_CTX, "bn", "CHAN", 0));
    assert_false(rcl_bn_chan_use(T_CTX, 4096, 1024));
    T_OK(rcl_ctx_set_param(T_CTX, "bn", "CHAN", 1));

    bn_chan_same(5, c + 1, 9, 9, 61);  /* float16 body + scalar tail; planes 4 + 1 */
    bn_chan_same(13, c, 4, 9, 62);     /* float16 x2 + float4; planes 4+4+4+1 */
    bn_chan_same(3, c + 3, 5, 7, 63);  /* 35: float16 x2 + scalars; fewer images than PK */
    bn_chan_same(2, c, 16, 16, 64);    /* whole cache lines only */
    bn_chan_same(4, c, 4, 4, 65);      /* 4x4 maps: the plane kernels either way */
    bn_chan_same(3, c - 1, 8, 8, 66);  /* too few channels: the plane kernels either way */
    /* items taking runs of 1 or 2 images (and none: 3 images, 4 items) */
    const int keep = rcl_tun(T_CTX, RCL_TUN_BN_CHAN_WG);
    T_OK(rcl_ctx_set_param(T_CTX, "bn_chan", "CHAN_WG", 4));
    bn_chan_same(6, c, 4, 4, 67);
    bn_chan_same(3, c, 6, 6, 68);
    T_OK(rcl_ctx_set_param(T_CTX, "bn_chan", "CHAN_WG", keep));
    /* the per-channel path against the double reference and finite
     * differences */
    assert_true(rcl_bn_chan_use(T_CTX, c + 1, 81));
    bn_case(5, c + 1, 9, 9, 0.5, 1, 69);
    bnr_case(5, c + 1, 9, 9, 1, 1, 70);
    bnr_case(3, c, 4, 9, 0, 1, 71);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bn_small_fd),
    cmocka_unit_test(test_bn_larger),
    cmocka_unit_test(test_bn_small_workgroup),
    cmocka_unit_test(test_bn_eval_single),
    cmocka_unit_test(test_bn_invalid),
    cmocka_unit_test(test_bn_relu_fused),
    cmocka_unit_test(test_bn_stream),
    cmocka_unit_test(test_bn_fold),
    cmocka_unit_test(test_bn_relu_invalid),
    cmocka_unit_test(test_bn_chan),
};

RCL_TEST_MAIN("batchnorm", tests)
