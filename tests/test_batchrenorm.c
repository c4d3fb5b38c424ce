/* Batch Renormalization, training mode: reference backward vs finite
 * differences (r, d held constant), device forward (y, saved stats, r, d,
 * running stats over two calls) and backward (dx, dgamma, dbeta, also with
 * NULL outputs) vs the reference with clipping active and inactive, batch
 * 2 and 3, 7x7 and 1x1 planes, a partial batch (a view of the first n images
 * of a larger buffer, the rest untouched), channel counts above the
 * per-channel work-group size, a non-default work-group size; with r_max = 1,
 * d_max = 0 the op is BatchNorm training (vs ref_batchnorm and bit for bit
 * vs the device BatchNorm); invalid arguments. */
#include "harness.h"
#include "ref/ref_batchnorm.h"
#include "ref/ref_batchrenorm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MOMENTUM 0.1
#define EPS 1e-5
#define SENTINEL 7.0f

typedef struct {
    int n, c, h, w;
    int nfull;              /* images in the buffers (>= n): the op sees the first n */
    double offset;          /* x = offset + U(-1,1) */
    double rm_lo, rm_hi;    /* initial running mean ~ U(rm_lo, rm_hi) */
    double rv_lo, rv_hi;    /* initial running var ~ U(rv_lo, rv_hi) */
    double r_max, d_max;
    int clip;               /* 1: both calls clip r and d in some channel; 0: no clipping; -1: either */
    int fd;                 /* check the reference against finite differences */
    uint64_t seed;
} brn_spec;

typedef struct { int n, c, h, w; const double *proj, *r, *d; double *y; } brn_fd;

/* loss = sum(brn(x; gamma, beta; r, d fixed) * proj), p = [x, gamma, beta] */
static double brn_loss(void *ud, const double *p)
{
    brn_fd *f = ud;
    size_t cnt = (size_t)f->n * f->c * f->h * f->w;
    ref_batchrenorm_forward_rd(f->y, p, p + cnt, p + cnt + f->c, f->r, f->d, f->n, f->c, f->h,
                               f->w, EPS);
    double s = 0;
    for (size_t i = 0; i < cnt; i++) s += f->y[i] * f->proj[i];
    return s;
}

/* Reference gradients vs central differences of the reference forward with
 * r and d computed once from the unperturbed x and running stats. */
static void brn_check_fd(const brn_spec *s, const double *x, const double *gamma,
                         const double *beta, const double *rm0, const double *rv0,
                         const double *dy)
{
    const int n = s->n, c = s->c, h = s->h, w = s->w;
    size_t cnt = (size_t)n * c * h * w, np = cnt + 2 * (size_t)c;
    double *p = malloc(np * sizeof *p), *g = malloc(np * sizeof *g), *ref = malloc(np * sizeof *ref);
    double *y = malloc(cnt * sizeof *y), *sm = malloc(c * sizeof *sm), *si = malloc(c * sizeof *si);
    double *r = malloc(c * sizeof *r), *d = malloc(c * sizeof *d);
    double *rm = malloc(c * sizeof *rm), *rv = malloc(c * sizeof *rv);
    memcpy(rm, rm0, c * sizeof *rm);
    memcpy(rv, rv0, c * sizeof *rv);
    for (size_t i = 0; i < cnt; i++) p[i] = x[i];
    for (int i = 0; i < c; i++) p[cnt + i] = gamma[i], p[cnt + c + i] = beta[i];
    ref_batchrenorm_forward_train(y, sm, si, r, d, rm, rv, x, gamma, beta, n, c, h, w, MOMENTUM,
                                  EPS, s->r_max, s->d_max);
    /* the r,d variant reproduces the full forward at the unperturbed point */
    double *y2 = malloc(cnt * sizeof *y2);
    ref_batchrenorm_forward_rd(y2, x, gamma, beta, r, d, n, c, h, w, EPS);
    assert_true(tu_close_d("brn ref forward_rd == forward_train", y2, y, cnt, 1e-14, 1e-14));
    ref_batchrenorm_backward(ref, ref + cnt, ref + cnt + c, dy, x, gamma, sm, si, r, d, n, c, h,
                             w);
    brn_fd f = {n, c, h, w, dy, r, d, y};
    tu_fd_grad(brn_loss, &f, p, np, 1e-6, g);
    assert_true(tu_close_d("brn ref dx vs fd", ref, g, cnt, 1e-5, 1e-6));
    assert_true(tu_close_d("brn ref dgamma vs fd", ref + cnt, g + cnt, c, 1e-5, 1e-6));
    assert_true(tu_close_d("brn ref dbeta vs fd", ref + cnt + c, g + cnt + c, c, 1e-5, 1e-6));
    free(p), free(g), free(ref), free(y), free(y2), free(sm), free(si), free(r), free(d);
    free(rm), free(rv);
}

/* Does some channel clip r, and some channel clip d? Does any clip at all? */
static void clip_status(const double *r, const double *d, int c, double r_max, double d_max,
                        int *both, int *any)
{
    int cr = 0, cd = 0;
    for (int i = 0; i < c; i++) {
        cr += r[i] == r_max || r[i] == 1.0 / r_max;
        cd += d[i] == d_max || d[i] == -d_max;
    }
    *both = cr > 0 && cd > 0;
    *any = cr > 0 || cd > 0;
}

/* All of t[from .. count) equal SENTINEL (the part of the buffer past the view). */
static int untouched(const float *t, size_t from, size_t count)
{
    for (size_t i = from; i < count; i++)
        if (t[i] != SENTINEL) return 0;
    return 1;
}

static void brn_case(const brn_spec *s)
{
    const int n = s->n, c = s->c, h = s->h, w = s->w, nf = s->nfull > n ? s->nfull : n;
    tu_rng rg = tu_rng_seed(s->seed);
    const size_t cnt = (size_t)n * c * h * w, cntf = (size_t)nf * c * h * w;
    const double M = (double)n * h * w;
    float *x = malloc(cntf * sizeof *x), *x2 = malloc(cntf * sizeof *x2), *dy = malloc(cntf * sizeof *dy);
    float *gamma = malloc(c * sizeof *gamma), *beta = malloc(c * sizeof *beta);
    float *rm = malloc(c * sizeof *rm), *rv = malloc(c * sizeof *rv);
    tu_fill(&rg, x, cntf, s->offset - 1, s->offset + 1);
    tu_fill(&rg, x2, cntf, s->offset - 1.5, s->offset + 1.2);
    tu_fill(&rg, dy, cntf, -1, 1);
    tu_fill(&rg, gamma, c, 0.5, 1.5);
    tu_fill(&rg, beta, c, -0.5, 0.5);
    tu_fill(&rg, rm, c, s->rm_lo, s->rm_hi);
    tu_fill(&rg, rv, c, s->rv_lo, s->rv_hi);
    /* the reference sees the first n images */
    double *xd = tu_f2d(x, cnt), *x2d = tu_f2d(x2, cnt), *dyd = tu_f2d(dy, cnt);
    double *gd = tu_f2d(gamma, c), *bd = tu_f2d(beta, c), *rmd = tu_f2d(rm, c), *rvd = tu_f2d(rv, c);
    if (s->fd) brn_check_fd(s, xd, gd, bd, rmd, rvd, dyd);

    /* reference: two training calls (x2 then x, so the saved values are x's) */
    double *yref = malloc(cnt * sizeof *yref), *sm = malloc(c * sizeof *sm), *si = malloc(c * sizeof *si);
    double *sr = malloc(c * sizeof *sr), *sd = malloc(c * sizeof *sd);
    int both, any;
    ref_batchrenorm_forward_train(yref, sm, si, sr, sd, rmd, rvd, x2d, gd, bd, n, c, h, w,
                                  MOMENTUM, EPS, s->r_max, s->d_max);
    clip_status(sr, sd, c, s->r_max, s->d_max, &both, &any);
    if (s->clip == 1) assert_true(both);
    if (s->clip == 0) assert_false(any);
    ref_batchrenorm_forward_train(yref, sm, si, sr, sd, rmd, rvd, xd, gd, bd, n, c, h, w,
                                  MOMENTUM, EPS, s->r_max, s->d_max);
    clip_status(sr, sd, c, s->r_max, s->d_max, &both, &any);
    if (s->clip == 1) assert_true(both);
    if (s->clip == 0) assert_false(any);
    double *dxref = malloc(cnt * sizeof *dxref), *dgref = malloc(c * sizeof *dgref),
           *dbref = malloc(c * sizeof *dbref);
    ref_batchrenorm_backward(dxref, dgref, dbref, dyd, xd, gd, sm, si, sr, sd, n, c, h, w);

    /* device: full buffers, views of the first n images */
    rcl_tensor fx, fx2, fy, fdy, fdx, tg, tb, trm, trv, tsm, tsi, tsr, tsd, tdg, tdb;
    tu_tensor(&fx, nf, c, h, w, x);
    tu_tensor(&fx2, nf, c, h, w, x2);
    tu_tensor(&fy, nf, c, h, w, NULL);
    tu_tensor(&fdy, nf, c, h, w, dy);
    tu_tensor(&fdx, nf, c, h, w, NULL);
    tu_tensor(&tg, c, 1, 1, 1, gamma);
    tu_tensor(&tb, c, 1, 1, 1, beta);
    tu_tensor(&trm, c, 1, 1, 1, rm);
    tu_tensor(&trv, c, 1, 1, 1, rv);
    tu_tensor(&tsm, c, 1, 1, 1, NULL);
    tu_tensor(&tsi, c, 1, 1, 1, NULL);
    tu_tensor(&tsr, c, 1, 1, 1, NULL);
    tu_tensor(&tsd, c, 1, 1, 1, NULL);
    tu_tensor(&tdg, c, 1, 1, 1, NULL);
    tu_tensor(&tdb, c, 1, 1, 1, NULL);
    T_OK(rcl_tensor_fill(T_CTX, &fy, SENTINEL));
    T_OK(rcl_tensor_fill(T_CTX, &fdx, SENTINEL));
    rcl_tensor tx = fx, tx2 = fx2, ty = fy, tdy = fdy, tdx = fdx;
    tx.n = tx2.n = ty.n = tdy.n = tdx.n = n;

    T_OK(rcl_batchrenorm_forward_train(T_CTX, &ty, &tsm, &tsi, &tsr, &tsd, &trm, &trv, &tx2, &tg,
                                       &tb, (float)MOMENTUM, (float)EPS, (float)s->r_max,
                                       (float)s->d_max));
    T_OK(rcl_batchrenorm_forward_train(T_CTX, &ty, &tsm, &tsi, &tsr, &tsd, &trm, &trv, &tx, &tg,
                                       &tb, (float)MOMENTUM, (float)EPS, (float)s->r_max,
                                       (float)s->d_max));
    float *y = tu_read(&fy), *gsm = tu_read(&tsm), *gsi = tu_read(&tsi);
    float *gsr = tu_read(&tsr), *gsd = tu_read(&tsd), *grm = tu_read(&trm), *grv = tu_read(&trv);
    const double off = 1 + fabs(s->offset);
    assert_true(tu_close_f("brn train y", y, yref, cnt, 1e-4, 1e-4));
    assert_true(untouched(y, cnt, cntf));
    assert_true(tu_close_f("brn save_mean", gsm, sm, c, 1e-6, 1e-5));
    assert_true(tu_close_f("brn save_invstd", gsi, si, c, 1e-4, 0));
    assert_true(tu_close_f("brn save_r", gsr, sr, c, 1e-4, 0));
    assert_true(tu_close_f("brn save_d", gsd, sd, c, 1e-4, 1e-5 * off));
    assert_true(tu_close_f("brn running_mean", grm, rmd, c, 1e-6, 1e-5));
    assert_true(tu_close_f("brn running_var", grv, rvd, c, 1e-4, 1e-6));

    T_OK(rcl_batchrenorm_backward(T_CTX, &tdx, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi, &tsr, &tsd));
    float *dx = tu_read(&fdx), *dg = tu_read(&tdg), *db = tu_read(&tdb);
    const double sum_atol = 1e-6 * M * off + 1e-5; /* float sums over M terms */
    assert_true(tu_close_f("brn dx", dx, dxref, cnt, 1e-4, 1e-4));
    assert_true(untouched(dx, cnt, cntf));
    assert_true(tu_close_f("brn dgamma", dg, dgref, c, 1e-4, sum_atol));
    assert_true(tu_close_f("brn dbeta", db, dbref, c, 1e-4, sum_atol));

    /* dx alone (sums in scratch), then dgamma alone, dbeta alone */
    T_OK(rcl_tensor_fill(T_CTX, &fdx, SENTINEL));
    T_OK(rcl_batchrenorm_backward(T_CTX, &tdx, NULL, NULL, &tdy, &tx, &tg, &tsm, &tsi, &tsr, &tsd));
    float *dx2 = tu_read(&fdx);
    assert_true(tu_close_f("brn dx (no dgamma/dbeta)", dx2, dxref, cnt, 1e-4, 1e-4));
    assert_true(untouched(dx2, cnt, cntf));
    T_OK(rcl_tensor_fill(T_CTX, &tdg, SENTINEL));
    T_OK(rcl_tensor_fill(T_CTX, &tdb, SENTINEL));
    T_OK(rcl_batchrenorm_backward(T_CTX, NULL, &tdg, NULL, &tdy, &tx, &tg, &tsm, &tsi, &tsr, &tsd));
    float *dg2 = tu_read(&tdg), *db2 = tu_read(&tdb);
    assert_true(tu_close_f("brn dgamma (alone)", dg2, dgref, c, 1e-4, sum_atol));
    assert_true(untouched(db2, 0, c));
    T_OK(rcl_batchrenorm_backward(T_CTX, NULL, NULL, &tdb, &tdy, &tx, &tg, &tsm, &tsi, &tsr, &tsd));
    float *db3 = tu_read(&tdb), *dg3 = tu_read(&tdg);
    assert_true(tu_close_f("brn dbeta (alone)", db3, dbref, c, 1e-4, sum_atol));
    assert_true(tu_close_f("brn dgamma (kept)", dg3, dgref, c, 1e-4, sum_atol));
    /* nothing asked: a no-op */
    T_OK(rcl_batchrenorm_backward(T_CTX, NULL, NULL, NULL, &tdy, &tx, &tg, &tsm, &tsi, &tsr, &tsd));

    rcl_tensor *ts[] = {&fx, &fx2, &fy, &fdy, &fdx, &tg, &tb, &trm, &trv,
                        &tsm, &tsi, &tsr, &tsd, &tdg, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    void *hs[] = {x, x2, dy, gamma, beta, rm, rv, xd, x2d, dyd, gd, bd, rmd, rvd, yref, sm, si,
                  sr, sd, dxref, dgref, dbref, y, gsm, gsi, gsr, gsd, grm, grv, dx, dg, db, dx2,
                  dg2, db2, db3, dg3};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

/* running stats far from the batch's (x ~ U(-1,1): var ~ 1/3): r and d clip */
#define CLIPPED 3.0, 4.0, 25.0, 36.0, 2.0, 0.25, 1
/* running stats near the batch's and wide bounds: nothing clips */
#define FREE -0.1, 0.1, 0.25, 0.45, 3.0, 2.0, 0

static void test_brn_fd_clip(void **state)
{
    (void)state;
    const brn_spec cases[] = {
        {3, 5, 7, 7, 0, 0.0, CLIPPED, 1, 101},
        {2, 5, 7, 7, 0, 0.0, CLIPPED, 1, 102},
        {3, 5, 1, 1, 0, 0.0, CLIPPED, 1, 103},
        {2, 5, 1, 1, 0, 0.0, CLIPPED, 1, 104}, /* M = 2 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) brn_case(&cases[i]);
}

static void test_brn_fd_free(void **state)
{
    (void)state;
    const brn_spec cases[] = {
        {3, 5, 7, 7, 0, 0.0, FREE, 1, 111},
        {2, 5, 7, 7, 0, 0.0, FREE, 1, 112},
        /* M = 3, 2: the batch variance varies a lot; bounds wide enough */
        {3, 5, 1, 1, 0, 0.0, -0.1, 0.1, 0.25, 0.45, 1e3, 1e3, 0, 1, 113},
        {2, 5, 1, 1, 0, 0.0, -0.1, 0.1, 0.25, 0.45, 1e3, 1e3, 0, 1, 114},
        /* some channels clip, some not */
        {3, 5, 3, 3, 0, 0.0, -0.4, 0.4, 0.1, 0.8, 1.3, 0.3, -1, 1, 115},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) brn_case(&cases[i]);
}

static void test_brn_partial_and_shapes(void **state)
{
    (void)state;
    const brn_spec cases[] = {
        {3, 5, 4, 3, 5, 0.0, CLIPPED, 1, 121},            /* first 3 of 5 images */
        {2, 5, 7, 7, 3, 0.0, FREE, 0, 122},               /* first 2 of 3 */
        {2, 5, 1, 1, 4, 0.0, CLIPPED, 0, 123},            /* 1x1, first 2 of 4 */
        {2, 5, 3, 3, 0, 100.0, 99.9, 100.1, 0.25, 0.45, 3.0, 3.0, -1, 0, 124}, /* large mean */
        {2, 70, 2, 2, 3, 0.0, -0.5, 0.5, 0.1, 1.0, 1.5, 0.5, -1, 0, 125}, /* C > BN_WG */
        {3, 3, 11, 9, 0, -2.0, -2.2, -1.8, 0.2, 0.5, 2.0, 1.0, -1, 0, 126}, /* M = 297 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) brn_case(&cases[i]);
}

static void test_brn_small_workgroup(void **state)
{
    (void)state;
    T_OK(rcl_ctx_set_param(T_CTX, "brn", "WG", 16));
    T_OK(rcl_ctx_set_param(T_CTX, "brn_stats", "BN_WG", 32));
    const brn_spec a = {3, 40, 3, 3, 4, 0.0, -0.5, 0.5, 0.1, 1.0, 1.5, 0.5, -1, 0, 131};
    const brn_spec b = {2, 5, 1, 1, 0, 0.0, CLIPPED, 0, 132};
    brn_case(&a);
    brn_case(&b);
    T_OK(rcl_ctx_set_param(T_CTX, "brn", "WG", 64));
    T_OK(rcl_ctx_set_param(T_CTX, "brn_stats", "BN_WG", 64));
}

/* r_max = 1, d_max = 0: BatchNorm training, vs ref_batchnorm and bit for bit
 * vs rcl_batchnorm_forward_train / rcl_batchnorm_backward. */
static void brn_bn_case(int n, int c, int h, int w, uint64_t seed)
{
    tu_rng rg = tu_rng_seed(seed);
    const size_t cnt = (size_t)n * c * h * w;
    float *x = malloc(cnt * sizeof *x), *dy = malloc(cnt * sizeof *dy);
    float *gamma = malloc(c * sizeof *gamma), *beta = malloc(c * sizeof *beta);
    float *rm = malloc(c * sizeof *rm), *rv = malloc(c * sizeof *rv);
    tu_fill(&rg, x, cnt, -1, 2);
    tu_fill(&rg, dy, cnt, -1, 1);
    tu_fill(&rg, gamma, c, 0.5, 1.5);
    tu_fill(&rg, beta, c, -0.5, 0.5);
    tu_fill(&rg, rm, c, -3, 3);  /* far from the batch: would clip with any d_max > 0 */
    tu_fill(&rg, rv, c, 5, 10);
    double *xd = tu_f2d(x, cnt), *dyd = tu_f2d(dy, cnt), *gd = tu_f2d(gamma, c);
    double *bd = tu_f2d(beta, c), *rmd = tu_f2d(rm, c), *rvd = tu_f2d(rv, c);
    double *rmd2 = tu_f2d(rm, c), *rvd2 = tu_f2d(rv, c);

    /* the references agree: r = 1, d = 0 */
    double *yb = malloc(cnt * sizeof *yb), *yr = malloc(cnt * sizeof *yr);
    double *smb = malloc(c * sizeof *smb), *sib = malloc(c * sizeof *sib);
    double *smr = malloc(c * sizeof *smr), *sir = malloc(c * sizeof *sir);
    double *sr = malloc(c * sizeof *sr), *sd = malloc(c * sizeof *sd);
    ref_batchnorm_forward_train(yb, smb, sib, rmd, rvd, xd, gd, bd, n, c, h, w, MOMENTUM, EPS);
    ref_batchrenorm_forward_train(yr, smr, sir, sr, sd, rmd2, rvd2, xd, gd, bd, n, c, h, w,
                                  MOMENTUM, EPS, 1.0, 0.0);
    for (int i = 0; i < c; i++) assert_true(sr[i] == 1.0 && sd[i] == 0.0);
    assert_true(tu_close_d("brn ref y == bn ref y", yr, yb, cnt, 1e-13, 1e-13));
    assert_true(tu_close_d("brn ref running_var == bn", rvd2, rvd, c, 0, 0));
    double *dxb = malloc(cnt * sizeof *dxb), *dgb = malloc(c * sizeof *dgb), *dbb = malloc(c * sizeof *dbb);
    ref_batchnorm_backward(dxb, dgb, dbb, dyd, xd, gd, smb, sib, n, c, h, w);

    rcl_tensor tx, tdy, ty1, ty2, tdx1, tdx2, tg, tb, trm1, trv1, trm2, trv2;
    rcl_tensor tsm1, tsi1, tsm2, tsi2, tsr, tsd, tdg1, tdb1, tdg2, tdb2;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&tdy, n, c, h, w, dy);
    tu_tensor(&ty1, n, c, h, w, NULL);
    tu_tensor(&ty2, n, c, h, w, NULL);
    tu_tensor(&tdx1, n, c, h, w, NULL);
    tu_tensor(&tdx2, n, c, h, w, NULL);
    tu_tensor(&tg, c, 1, 1, 1, gamma);
    tu_tensor(&tb, c, 1, 1, 1, beta);
    tu_tensor(&trm1, c, 1, 1, 1, rm);
    tu_tensor(&trv1, c, 1, 1, 1, rv);
    tu_tensor(&trm2, c, 1, 1, 1, rm);
    tu_tensor(&trv2, c, 1, 1, 1, rv);
    rcl_tensor *vecs[] = {&tsm1, &tsi1, &tsm2, &tsi2, &tsr, &tsd, &tdg1, &tdb1, &tdg2, &tdb2};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) tu_tensor(vecs[i], c, 1, 1, 1, NULL);
    T_OK(rcl_batchnorm_forward_train(T_CTX, &ty1, &tsm1, &tsi1, &trm1, &trv1, &tx, &tg, &tb,
                                     (float)MOMENTUM, (float)EPS));
    T_OK(rcl_batchrenorm_forward_train(T_CTX, &ty2, &tsm2, &tsi2, &tsr, &tsd, &trm2, &trv2, &tx,
                                       &tg, &tb, (float)MOMENTUM, (float)EPS, 1.0f, 0.0f));
    T_OK(rcl_batchnorm_backward(T_CTX, &tdx1, &tdg1, &tdb1, &tdy, &tx, &tg, &tsm1, &tsi1));
    T_OK(rcl_batchrenorm_backward(T_CTX, &tdx2, &tdg2, &tdb2, &tdy, &tx, &tg, &tsm2, &tsi2, &tsr,
                                  &tsd));
    const double M = (double)n * h * w, sum_atol = 1e-6 * M + 1e-5;
    float *y2 = tu_read(&ty2), *rm2 = tu_read(&trm2), *rv2 = tu_read(&trv2);
    float *dx2 = tu_read(&tdx2), *dg2 = tu_read(&tdg2), *db2 = tu_read(&tdb2);
    float *r = tu_read(&tsr), *d = tu_read(&tsd);
    for (int i = 0; i < c; i++) assert_true(r[i] == 1.0f && d[i] == 0.0f);
    assert_true(tu_close_f("brn(1,0) y vs ref bn", y2, yb, cnt, 1e-4, 1e-4));
    assert_true(tu_close_f("brn(1,0) running_mean vs ref bn", rm2, rmd, c, 1e-6, 1e-5));
    assert_true(tu_close_f("brn(1,0) running_var vs ref bn", rv2, rvd, c, 1e-4, 1e-6));
    assert_true(tu_close_f("brn(1,0) dx vs ref bn", dx2, dxb, cnt, 1e-4, 1e-4));
    assert_true(tu_close_f("brn(1,0) dgamma vs ref bn", dg2, dgb, c, 1e-4, sum_atol));
    assert_true(tu_close_f("brn(1,0) dbeta vs ref bn", db2, dbb, c, 1e-4, sum_atol));
    /* the same float operations as the BatchNorm kernels: the same bits */
    struct { rcl_tensor *a, *b; const char *what; } same[] = {
        {&ty1, &ty2, "y"},          {&tsm1, &tsm2, "save_mean"}, {&tsi1, &tsi2, "save_invstd"},
        {&trm1, &trm2, "running_mean"}, {&trv1, &trv2, "running_var"}, {&tdx1, &tdx2, "dx"},
        {&tdg1, &tdg2, "dgamma"},   {&tdb1, &tdb2, "dbeta"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        float *a = tu_read(same[i].a), *b = tu_read(same[i].b);
        size_t k = rcl_tensor_count(same[i].a);
        if (memcmp(a, b, k * sizeof *a)) fail_msg("brn(1,0) %s differs from batchnorm's bits", same[i].what);
        free(a), free(b);
    }

    rcl_tensor *ts[] = {&tx, &tdy, &ty1, &ty2, &tdx1, &tdx2, &tg, &tb, &trm1, &trv1, &trm2, &trv2};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) rcl_tensor_destroy(vecs[i]);
    void *hs[] = {x, dy, gamma, beta, rm, rv, xd, dyd, gd, bd, rmd, rvd, rmd2, rvd2, yb, yr, smb,
                  sib, smr, sir, sr, sd, dxb, dgb, dbb, y2, rm2, rv2, dx2, dg2, db2, r, d};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

static void test_brn_is_batchnorm(void **state)
{
    (void)state;
    brn_bn_case(3, 5, 7, 7, 141);
    brn_bn_case(2, 5, 1, 1, 142);
    brn_bn_case(2, 70, 3, 2, 143);
}

static void test_brn_invalid(void **state)
{
    (void)state;
    rcl_tensor x1, y1, x11, x, y, yb, v, vb, s1, s2, s3, s4, rm, rv;
    tu_tensor(&x1, 1, 3, 1, 1, NULL);  /* N*H*W = 1 */
    tu_tensor(&y1, 1, 3, 1, 1, NULL);
    tu_tensor(&x11, 2, 3, 1, 1, NULL); /* N*H*W = 2: fine */
    tu_tensor(&x, 2, 3, 4, 5, NULL);
    tu_tensor(&y, 2, 3, 4, 5, NULL);
    tu_tensor(&yb, 2, 3, 5, 4, NULL);
    tu_tensor(&v, 3, 1, 1, 1, NULL);
    tu_tensor(&vb, 4, 1, 1, 1, NULL);
    tu_tensor(&s1, 3, 1, 1, 1, NULL);
    tu_tensor(&s2, 3, 1, 1, 1, NULL);
    tu_tensor(&s3, 3, 1, 1, 1, NULL);
    tu_tensor(&s4, 3, 1, 1, 1, NULL);
    tu_tensor(&rm, 3, 1, 1, 1, NULL);
    tu_tensor(&rv, 3, 1, 1, 1, NULL);
    T_OK(rcl_tensor_fill(T_CTX, &v, 1.0f));
    T_OK(rcl_tensor_fill(T_CTX, &rv, 1.0f));
    const float mo = 0.1f, ep = 1e-5f;
#define FWD(Y, SM, SI, SR, SD, RM, RV, X, G, B, RMAX, DMAX) \
    rcl_batchrenorm_forward_train(T_CTX, Y, SM, SI, SR, SD, RM, RV, X, G, B, mo, ep, RMAX, DMAX)
    /* valid baselines */
    T_OK(FWD(&y, &s1, &s2, &s3, &s4, &rm, &rv, &x, &v, &v, 2.0f, 1.0f));
    rcl_tensor y11, dxv;
    tu_tensor(&y11, 2, 3, 1, 1, NULL);
    tu_tensor(&dxv, 2, 3, 4, 5, NULL);
    T_OK(FWD(&y11, &s1, &s2, &s3, &s4, &rm, &rv, &x11, &v, &v, 1.0f, 0.0f));
    /* batch*H*W < 2 */
    assert_int_equal(FWD(&y1, &s1, &s2, &s3, &s4, &rm, &rv, &x1, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    /* r_max < 1, NaN; d_max < 0, NaN; eps <= 0 */
    assert_int_equal(FWD(&y, &s1, &s2, &s3, &s4, &rm, &rv, &x, &v, &v, 0.5f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &s3, &s4, &rm, &rv, &x, &v, &v, NAN, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &s3, &s4, &rm, &rv, &x, &v, &v, 2.0f, -0.1f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &s3, &s4, &rm, &rv, &x, &v, &v, 2.0f, NAN), RCL_ERR_INVALID);
    assert_int_equal(rcl_batchrenorm_forward_train(T_CTX, &y, &s1, &s2, &s3, &s4, &rm, &rv, &x, &v,
                                                   &v, mo, 0.0f, 2.0f, 1.0f),
                     RCL_ERR_INVALID);
    /* shapes and missing tensors */
    assert_int_equal(FWD(&yb, &s1, &s2, &s3, &s4, &rm, &rv, &x, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(NULL, &s1, &s2, &s3, &s4, &rm, &rv, &x, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &s3, &s4, &rm, &rv, NULL, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &s3, &s4, &rm, &rv, &x, &vb, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &s3, &s4, &rm, &rv, &x, &v, &vb, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &vb, &s2, &s3, &s4, &rm, &rv, &x, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &vb, &s3, &s4, &rm, &rv, &x, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &vb, &s4, &rm, &rv, &x, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &s3, NULL, &rm, &rv, &x, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &s3, &s4, NULL, &rv, &x, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
    assert_int_equal(FWD(&y, &s1, &s2, &s3, &s4, &rm, &vb, &x, &v, &v, 2.0f, 1.0f), RCL_ERR_INVALID);
#undef FWD
    /* backward */
#define BWD(DX, DG, DB, DY, X, G, SM, SI, SR, SD) \
    rcl_batchrenorm_backward(T_CTX, DX, DG, DB, DY, X, G, SM, SI, SR, SD)
    T_OK(BWD(&dxv, &rm, &rv, &y, &x, &v, &s1, &s2, &s3, &s4));
    assert_int_equal(BWD(&y1, &v, &rm, &y1, &x1, &v, &s1, &s2, &s3, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&yb, &v, &rm, &y, &x, &v, &s1, &s2, &s3, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&y, &v, &rm, &yb, &x, &v, &s1, &s2, &s3, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&y, &v, &rm, NULL, &x, &v, &s1, &s2, &s3, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&y, &vb, &rm, &y, &x, &v, &s1, &s2, &s3, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&y, &v, &vb, &y, &x, &v, &s1, &s2, &s3, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&y, &v, &rm, &y, &x, &vb, &s1, &s2, &s3, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&y, &v, &rm, &y, &x, &v, &vb, &s2, &s3, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&y, &v, &rm, &y, &x, &v, &s1, NULL, &s3, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&y, &v, &rm, &y, &x, &v, &s1, &s2, &vb, &s4), RCL_ERR_INVALID);
    assert_int_equal(BWD(&y, &v, &rm, &y, &x, &v, &s1, &s2, &s3, NULL), RCL_ERR_INVALID);
    /* a missing save_r is an error even when no gradient is asked for */
    assert_int_equal(BWD(NULL, NULL, NULL, &y, &x, &v, &s1, &s2, NULL, &s4), RCL_ERR_INVALID);
#undef BWD
    rcl_tensor *ts[] = {&x1, &y1, &x11, &y11, &dxv, &x, &y, &yb, &v, &vb, &s1, &s2, &s3, &s4, &rm, &rv};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_brn_fd_clip),
    cmocka_unit_test(test_brn_fd_free),
    cmocka_unit_test(test_brn_partial_and_shapes),
    cmocka_unit_test(test_brn_small_workgroup),
    cmocka_unit_test(test_brn_is_batchnorm),
    cmocka_unit_test(test_brn_invalid),
};

RCL_TEST_MAIN("batchrenorm", tests)
