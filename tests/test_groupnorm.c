/* GroupNorm: reference backward vs finite differences; device forward (y,
 * saved statistics) and backward (dx, dgamma, dbeta, also with NULL outputs)
 * vs the reference for batch 1 and 3, C = 6 with G = 3, LayerNorm (G = 1),
 * InstanceNorm (G = C), 7x7 and 1x1 maps, large groups, large-mean data, a
 * partial batch (the view's n below the buffer's: the rest untouched),
 * non-default work-group sizes, and invalid arguments. */
#include "harness.h"
#include "ref/ref_groupnorm.h"
#include "runtime/tunables.h"

#include <math.h>
#include <stdlib.h>

#define EPS 1e-5
#define SENT 7.0f /* outputs beyond the view must keep it */

typedef struct { int n, c, h, w, groups; const double *proj; double *y; } gn_fd;

/* loss = sum(groupnorm(x; gamma, beta) * proj), p = [x, gamma, beta] */
static double gn_loss(void *ud, const double *p)
{
    gn_fd *f = ud;
    size_t cnt = (size_t)f->n * f->c * f->h * f->w;
    ref_groupnorm_forward(f->y, NULL, NULL, p, p + cnt, p + cnt + f->c, f->n, f->c, f->h, f->w,
                          f->groups, EPS);
    double s = 0;
    for (size_t i = 0; i < cnt; i++) s += f->y[i] * f->proj[i];
    return s;
}

/* Reference gradients vs central differences of the reference forward. */
static void gn_check_fd(int n, int c, int h, int w, int groups, const double *x,
                        const double *gamma, const double *beta, const double *dy)
{
    size_t cnt = (size_t)n * c * h * w, np = cnt + 2 * (size_t)c, ng = (size_t)n * groups;
    double *p = malloc(np * sizeof *p), *g = malloc(np * sizeof *g);
    double *y = malloc(cnt * sizeof *y), *sm = malloc(ng * sizeof *sm), *si = malloc(ng * sizeof *si);
    double *ref = malloc(np * sizeof *ref);
    for (size_t i = 0; i < cnt; i++) p[i] = x[i];
    for (int i = 0; i < c; i++) p[cnt + i] = gamma[i], p[cnt + c + i] = beta[i];
    ref_groupnorm_forward(y, sm, si, x, gamma, beta, n, c, h, w, groups, EPS);
    ref_groupnorm_backward(ref, ref + cnt, ref + cnt + c, dy, x, gamma, sm, si, n, c, h, w, groups);
    gn_fd f = {n, c, h, w, groups, dy, y};
    tu_fd_grad(gn_loss, &f, p, np, 1e-6, g);
    assert_true(tu_close_d("gn ref dx vs fd", ref, g, cnt, 1e-5, 1e-6));
    assert_true(tu_close_d("gn ref dgamma vs fd", ref + cnt, g + cnt, c, 1e-5, 1e-6));
    assert_true(tu_close_d("gn ref dbeta vs fd", ref + cnt + c, g + cnt + c, c, 1e-5, 1e-6));
    free(p), free(g), free(y), free(sm), free(si), free(ref);
}

/* Every element of got[0 .. n) is SENT. */
static void assert_sentinel(const char *what, const float *got, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != SENT) fail_msg("%s: element %zu beyond the view changed to %g", what, i, got[i]);
}

/* Buffers of nbuf images, the op on a view of the first n; x = offset +
 * U(-1,1) (the images beyond n far off, so using them would show); fd: also
 * check the reference against finite differences. */
static void gn_case(int nbuf, int n, int c, int h, int w, int groups, double offset, int fd,
                    uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    const size_t chw = (size_t)c * h * w, cnt = n * chw, bcnt = nbuf * chw;
    const size_t ng = (size_t)n * groups, bng = (size_t)nbuf * groups;
    const double M = (double)n * h * w;
    float *x = malloc(bcnt * sizeof *x), *dy = malloc(bcnt * sizeof *dy);
    float *gamma = malloc(c * sizeof *gamma), *beta = malloc(c * sizeof *beta);
    tu_fill(&r, x, cnt, offset - 1, offset + 1);
    tu_fill(&r, x + cnt, bcnt - cnt, 1000, 2000);
    tu_fill(&r, dy, cnt, -1, 1);
    tu_fill(&r, dy + cnt, bcnt - cnt, 1000, 2000);
    tu_fill(&r, gamma, c, 0.5, 1.5);
    tu_fill(&r, beta, c, -0.5, 0.5);
    double *xd = tu_f2d(x, cnt), *dyd = tu_f2d(dy, cnt), *gd = tu_f2d(gamma, c),
           *bd = tu_f2d(beta, c);
    if (fd) gn_check_fd(n, c, h, w, groups, xd, gd, bd, dyd);

    double *yref = malloc(cnt * sizeof *yref), *sm = malloc(ng * sizeof *sm),
           *si = malloc(ng * sizeof *si);
    ref_groupnorm_forward(yref, sm, si, xd, gd, bd, n, c, h, w, groups, EPS);
    double *dxref = malloc(cnt * sizeof *dxref), *dgref = malloc(c * sizeof *dgref),
           *dbref = malloc(c * sizeof *dbref);
    ref_groupnorm_backward(dxref, dgref, dbref, dyd, xd, gd, sm, si, n, c, h, w, groups);

    rcl_tensor bx, by, bdy, bdx, tg, tb, tsm, tsi, tdg, tdb;
    tu_tensor(&bx, nbuf, c, h, w, x);
    tu_tensor(&by, nbuf, c, h, w, NULL);
    tu_tensor(&bdy, nbuf, c, h, w, dy);
    tu_tensor(&bdx, nbuf, c, h, w, NULL);
    tu_tensor(&tg, c, 1, 1, 1, gamma);
    tu_tensor(&tb, c, 1, 1, 1, beta);
    tu_tensor(&tsm, (int)bng, 1, 1, 1, NULL); /* at least n*groups: the buffer's */
    tu_tensor(&tsi, (int)bng, 1, 1, 1, NULL);
    tu_tensor(&tdg, c, 1, 1, 1, NULL);
    tu_tensor(&tdb, c, 1, 1, 1, NULL);
    rcl_tensor tx = bx, ty = by, tdy = bdy, tdx = bdx; /* views of the first n images */
    tx.n = ty.n = tdy.n = tdx.n = n;
    T_OK(rcl_tensor_fill(T_CTX, &by, SENT));
    T_OK(rcl_tensor_fill(T_CTX, &tsm, SENT));
    T_OK(rcl_tensor_fill(T_CTX, &tsi, SENT));

    T_OK(rcl_groupnorm_forward(T_CTX, &ty, &tsm, &tsi, &tx, &tg, &tb, groups, (float)EPS));
    float *y = tu_read(&by), *gsm = tu_read(&tsm), *gsi = tu_read(&tsi);
    assert_true(tu_close_f("gn y", y, yref, cnt, 1e-4, 1e-4));
    /* the mean to float rounding (~|offset|*2^-24) */
    assert_true(tu_close_f("gn save_mean", gsm, sm, ng, 1e-6, 1e-6));
    assert_true(tu_close_f("gn save_invstd", gsi, si, ng, 1e-4, 0));
    assert_sentinel("gn y", y + cnt, bcnt - cnt);
    assert_sentinel("gn save_mean", gsm + ng, bng - ng);
    assert_sentinel("gn save_invstd", gsi + ng, bng - ng);

    /* backward from the device's saved statistics */
    T_OK(rcl_tensor_fill(T_CTX, &bdx, SENT));
    T_OK(rcl_groupnorm_backward(T_CTX, &tdx, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi, groups));
    float *dx = tu_read(&bdx), *dg = tu_read(&tdg), *db = tu_read(&tdb);
    const double sum_atol = 1e-6 * M + 1e-5; /* float sums over N*H*W terms */
    const double dx_atol = 1e-4 * (1 + fabs(offset) / 10);
    assert_true(tu_close_f("gn dx", dx, dxref, cnt, 1e-4, dx_atol));
    assert_true(tu_close_f("gn dgamma", dg, dgref, c, 1e-4, sum_atol));
    assert_true(tu_close_f("gn dbeta", db, dbref, c, 1e-4, sum_atol));
    assert_sentinel("gn dx", dx + cnt, bcnt - cnt);

    /* dx alone, then each of dgamma / dbeta alone, then both without dx */
    T_OK(rcl_tensor_fill(T_CTX, &bdx, SENT));
    T_OK(rcl_groupnorm_backward(T_CTX, &tdx, NULL, NULL, &tdy, &tx, &tg, &tsm, &tsi, groups));
    float *dx2 = tu_read(&bdx);
    assert_true(tu_close_f("gn dx (no dgamma/dbeta)", dx2, dxref, cnt, 1e-4, dx_atol));
    assert_sentinel("gn dx (no dgamma/dbeta)", dx2 + cnt, bcnt - cnt);
    T_OK(rcl_tensor_fill(T_CTX, &tdg, SENT));
    T_OK(rcl_tensor_fill(T_CTX, &tdb, SENT));
    T_OK(rcl_groupnorm_backward(T_CTX, NULL, &tdg, NULL, &tdy, &tx, &tg, &tsm, &tsi, groups));
    float *dg2 = tu_read(&tdg), *db2 = tu_read(&tdb);
    assert_true(tu_close_f("gn dgamma (alone)", dg2, dgref, c, 1e-4, sum_atol));
    assert_sentinel("gn dbeta (not asked for)", db2, c);
    T_OK(rcl_tensor_fill(T_CTX, &tdg, SENT));
    T_OK(rcl_groupnorm_backward(T_CTX, NULL, NULL, &tdb, &tdy, &tx, &tg, &tsm, &tsi, groups));
    float *dg3 = tu_read(&tdg), *db3 = tu_read(&tdb);
    assert_true(tu_close_f("gn dbeta (alone)", db3, dbref, c, 1e-4, sum_atol));
    assert_sentinel("gn dgamma (not asked for)", dg3, c);
    T_OK(rcl_tensor_fill(T_CTX, &tdg, SENT));
    T_OK(rcl_tensor_fill(T_CTX, &tdb, SENT));
    T_OK(rcl_tensor_fill(T_CTX, &bdx, SENT));
    T_OK(rcl_groupnorm_backward(T_CTX, NULL, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi, groups));
    float *dg4 = tu_read(&tdg), *db4 = tu_read(&tdb), *dx4 = tu_read(&bdx);
    assert_true(tu_close_f("gn dgamma (no dx)", dg4, dgref, c, 1e-4, sum_atol));
    assert_true(tu_close_f("gn dbeta (no dx)", db4, dbref, c, 1e-4, sum_atol));
    assert_sentinel("gn dx (not asked for)", dx4, bcnt);
    /* nothing asked for: a no-op */
    T_OK(rcl_groupnorm_backward(T_CTX, NULL, NULL, NULL, &tdy, &tx, &tg, &tsm, &tsi, groups));

    rcl_tensor *ts[] = {&bx, &by, &bdy, &bdx, &tg, &tb, &tsm, &tsi, &tdg, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    void *hs[] = {x, dy, gamma, beta, xd, dyd, gd, bd, yref, sm, si, dxref, dgref, dbref, y,
                  gsm, gsi, dx, dg, db, dx2, dg2, db2, dg3, db3, dg4, db4, dx4};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

static void test_gn_small_fd(void **state)
{
    (void)state;
    gn_case(3, 3, 6, 7, 7, 3, 0.0, 1, 11); /* C = 6, G = 3, 7x7 */
    gn_case(1, 1, 6, 7, 7, 3, 0.0, 1, 12); /* batch 1 */
    gn_case(3, 3, 6, 7, 7, 1, 0.0, 1, 13); /* LayerNorm */
    gn_case(1, 1, 6, 7, 7, 6, 0.0, 1, 14); /* InstanceNorm */
    gn_case(3, 3, 6, 1, 1, 3, 0.0, 1, 15); /* 1x1: 2 values per group */
    gn_case(3, 3, 6, 1, 1, 1, 0.0, 1, 16); /* LayerNorm 1x1 */
    gn_case(3, 3, 6, 1, 1, 6, 0.0, 1, 17); /* InstanceNorm 1x1: one value, y = beta */
    gn_case(2, 2, 4, 5, 3, 2, 100.0, 1, 18); /* large mean */
}

static void test_gn_larger(void **state)
{
    (void)state;
    gn_case(2, 2, 64, 16, 16, 2, 0.0, 0, 21);    /* 8192 values per group */
    gn_case(1, 1, 64, 16, 16, 1, 100.0, 0, 22);  /* LayerNorm, large mean, 16384 values */
    gn_case(3, 3, 64, 7, 7, 64, -3.0, 0, 23);    /* InstanceNorm, C above the work-group */
    gn_case(2, 2, 300, 1, 1, 30, 0.0, 0, 24);    /* many channels, 1x1 */
}

static void test_gn_partial_batch(void **state)
{
    (void)state;
    gn_case(3, 2, 6, 7, 7, 3, 0.0, 1, 31);
    gn_case(4, 1, 6, 5, 5, 1, 0.0, 0, 32);
    gn_case(3, 1, 6, 1, 1, 6, 0.0, 0, 33);
}

static void test_gn_workgroups(void **state)
{
    (void)state;
    const int wg = rcl_ctx_param(T_CTX, "gn", "WG", rcl_tunables[RCL_TUN_GN_WG].def);
    const int red = rcl_ctx_param(T_CTX, "gn", "RED_WG", rcl_tunables[RCL_TUN_GN_RED_WG].def);
    static const int sizes[][2] = {{32, 32}, {16, 256}, {256, 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        T_OK(rcl_ctx_set_param(T_CTX, "gn", "WG", sizes[i][0]));
        T_OK(rcl_ctx_set_param(T_CTX, "gn", "RED_WG", sizes[i][1]));
        gn_case(2, 2, 12, 9, 11, 4, 100.0, 0, 41 + i);
        gn_case(3, 2, 6, 1, 1, 3, 0.0, 0, 51 + i);
    }
    T_OK(rcl_ctx_set_param(T_CTX, "gn", "WG", wg));
    T_OK(rcl_ctx_set_param(T_CTX, "gn", "RED_WG", red));
}

static void test_gn_invalid(void **state)
{
    (void)state;
    rcl_tensor x, y, yb, d, v, vb, dv, dv2, s, s5, s12;
    tu_tensor(&x, 2, 6, 4, 5, NULL);
    tu_tensor(&y, 2, 6, 4, 5, NULL);
    tu_tensor(&yb, 2, 6, 5, 4, NULL);
    tu_tensor(&d, 2, 6, 4, 5, NULL);
    tu_tensor(&dv, 6, 1, 1, 1, NULL);
    tu_tensor(&dv2, 6, 1, 1, 1, NULL);
    tu_tensor(&v, 6, 1, 1, 1, NULL);
    tu_tensor(&vb, 5, 1, 1, 1, NULL);
    tu_tensor(&s, 6, 1, 1, 1, NULL);   /* N*G for G = 3 */
    tu_tensor(&s5, 5, 1, 1, 1, NULL);  /* one short for G = 3 */
    tu_tensor(&s12, 12, 1, 1, 1, NULL); /* N*G for G = 6 */
    const float e = 1e-5f;
    /* valid calls first, so the failures below are the arguments' */
    T_OK(rcl_groupnorm_forward(T_CTX, &y, &s, &s, &x, &v, &v, 3, e));
    T_OK(rcl_groupnorm_backward(T_CTX, &d, &dv, &dv2, &y, &x, &v, &s, &s, 3));
    /* groups: C % G != 0, G < 1, G > C */
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s12, &s12, &x, &v, &v, 4, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s, &s, &x, &v, &v, 0, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s, &s, &x, &v, &v, -3, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s12, &s12, &x, &v, &v, 12, e),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &d, &dv, &dv2, &y, &x, &v, &s12, &s12, 4),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &d, &dv, &dv2, &y, &x, &v, &s, &s, 0),
                     RCL_ERR_INVALID);
    /* shapes */
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &yb, &s, &s, &x, &v, &v, 3, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, NULL, &s, &s, &x, &v, &v, 3, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s, &s, &x, &vb, &v, 3, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s, &s, &x, &v, &vb, 3, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s, &s, &x, &v, NULL, 3, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &yb, &dv, &dv2, &y, &x, &v, &s, &s, 3),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &d, &dv, &dv2, &yb, &x, &v, &s, &s, 3),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &d, &dv, &dv2, NULL, &x, &v, &s, &s, 3),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &d, &vb, &dv2, &y, &x, &v, &s, &s, 3),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &d, &dv, &vb, &y, &x, &v, &s, &s, 3),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &d, &dv, &dv2, &y, &x, &vb, &s, &s, 3),
                     RCL_ERR_INVALID);
    /* save tensors too small (or missing) */
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s5, &s, &x, &v, &v, 3, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s, &s5, &x, &v, &v, 3, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s, &s, &x, &v, &v, 6, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, NULL, &s, &x, &v, &v, 3, e), RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &d, &dv, &dv2, &y, &x, &v, &s5, &s, 3),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, &d, &dv, &dv2, &y, &x, &v, &s, &s5, 3),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_groupnorm_backward(T_CTX, NULL, &dv, &dv2, &y, &x, &v, &s, &s, 6),
                     RCL_ERR_INVALID);
    /* eps <= 0 */
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y, &s, &s, &x, &v, &v, 3, 0.0f), RCL_ERR_INVALID);
    /* an empty view */
    rcl_tensor x0 = x, y0 = y;
    x0.n = y0.n = 0;
    assert_int_equal(rcl_groupnorm_forward(T_CTX, &y0, &s, &s, &x0, &v, &v, 3, e), RCL_ERR_INVALID);
    rcl_tensor *ts[] = {&x, &y, &yb, &d, &v, &vb, &dv, &dv2, &s, &s5, &s12};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_gn_small_fd),
    cmocka_unit_test(test_gn_larger),
    cmocka_unit_test(test_gn_partial_batch),
    cmocka_unit_test(test_gn_workgroups),
    cmocka_unit_test(test_gn_invalid),
};

RCL_TEST_MAIN("groupnorm", tests)
