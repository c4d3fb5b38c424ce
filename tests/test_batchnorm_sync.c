/* Synchronised BatchNorm2d (rcl/batchnorm_sync.h) without MPI: two "ranks"
 * are two threads, each with its own context on the device under test,
 * joined by an in-process reducer (a sum behind barriers). Their batches
 * (odd shapes, unequal) together must give the double reference over the
 * union: y, saved and running statistics, dx rows; dgamma and dbeta summed
 * over the ranks; dx also against finite differences of the union's
 * reference forward. One rank with an identity reducer is plain BN; a
 * failing reducer and a missing one are reported. */
#include "harness.h"
#include "ref/ref_batchnorm.h"
#include "rcl/batchnorm_sync.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MOMENTUM 0.1
#define EPS 1e-5
#define MAXV 4096

/* The in-process reducer of two threads. */
typedef struct fake_comm {
    pthread_barrier_t bar;
    pthread_mutex_t mu;
    double sum[MAXV];
    int calls;
} fake_comm;

static int fake_reduce(void *user, double *v, int n)
{
    fake_comm *c = user;
    if (n > MAXV) return RCL_ERR_INVALID;
    if (pthread_barrier_wait(&c->bar) == PTHREAD_BARRIER_SERIAL_THREAD) {
        memset(c->sum, 0, sizeof c->sum);
        c->calls++;
    }
    pthread_barrier_wait(&c->bar);
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < n; i++) c->sum[i] += v[i];
    pthread_mutex_unlock(&c->mu);
    pthread_barrier_wait(&c->bar);
    memcpy(v, c->sum, (size_t)n * sizeof *v);
    pthread_barrier_wait(&c->bar);
    return RCL_OK;
}

static int identity_reduce(void *user, double *v, int n)
{
    (void)v, (void)n;
    ++*(int *)user;
    return RCL_OK;
}

static int failing_reduce(void *user, double *v, int n)
{
    (void)user, (void)v, (void)n;
    return rcl_fail(RCL_ERR_IO, "the test's reducer fails");
}

/* One rank's tensors and results. */
typedef struct rank_job {
    rcl_ctx *ctx;
    int n, c, h, w;
    const float *x, *dy, *gamma, *beta, *rm0, *rv0;
    rcl_bn_reduce_fn reduce;
    void *user;
    float *y, *sm, *si, *rm, *rv, *dx, *dg, *db; /* results (malloc'd) */
    int st;
} rank_job;

static int put(rcl_ctx *ctx, rcl_tensor *t, int n, int c, int h, int w, const float *data)
{
    RCL_TRY(rcl_tensor_create(ctx, t, n, c, h, w));
    return data ? rcl_tensor_write(ctx, t, data) : RCL_OK;
}

static float *get(rcl_ctx *ctx, const rcl_tensor *t, int *st)
{
    float *p = malloc(rcl_tensor_bytes(t));
    if (!*st) *st = rcl_tensor_read(ctx, t, p);
    return p;
}

static void *rank_run(void *arg)
{
    rank_job *j = arg;
    rcl_ctx *ctx = j->ctx;
    int n = j->n, c = j->c, h = j->h, w = j->w, st = RCL_OK;
    rcl_tensor tx = {0}, ty = {0}, tdy = {0}, tdx = {0}, tg = {0}, tb = {0}, trm = {0}, trv = {0},
               tsm = {0}, tsi = {0}, tdg = {0}, tdb = {0};
    if (!st) st = put(ctx, &tx, n, c, h, w, j->x);
    if (!st) st = put(ctx, &ty, n, c, h, w, NULL);
    if (!st) st = put(ctx, &tdy, n, c, h, w, j->dy);
    if (!st) st = put(ctx, &tdx, n, c, h, w, NULL);
    if (!st) st = put(ctx, &tg, c, 1, 1, 1, j->gamma);
    if (!st) st = put(ctx, &tb, c, 1, 1, 1, j->beta);
    if (!st) st = put(ctx, &trm, c, 1, 1, 1, j->rm0);
    if (!st) st = put(ctx, &trv, c, 1, 1, 1, j->rv0);
    if (!st) st = put(ctx, &tsm, c, 1, 1, 1, NULL);
    if (!st) st = put(ctx, &tsi, c, 1, 1, 1, NULL);
    if (!st) st = put(ctx, &tdg, c, 1, 1, 1, NULL);
    if (!st) st = put(ctx, &tdb, c, 1, 1, 1, NULL);
    /* a rank must not leave the other waiting in the reducer: the setup
     * above cannot fail on one rank only in this test */
    if (!st)
        st = rcl_batchnorm_sync_forward_train(ctx, &ty, &tsm, &tsi, &trm, &trv, &tx, &tg, &tb,
                                              (float)MOMENTUM, (float)EPS, j->reduce, j->user);
    if (!st)
        st = rcl_batchnorm_sync_backward(ctx, &tdx, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi,
                                         j->reduce, j->user);
    j->y = get(ctx, &ty, &st);
    j->sm = get(ctx, &tsm, &st);
    j->si = get(ctx, &tsi, &st);
    j->rm = get(ctx, &trm, &st);
    j->rv = get(ctx, &trv, &st);
    j->dx = get(ctx, &tdx, &st);
    j->dg = get(ctx, &tdg, &st);
    j->db = get(ctx, &tdb, &st);
    rcl_tensor *ts[] = {&tx, &ty, &tdy, &tdx, &tg, &tb, &trm, &trv, &tsm, &tsi, &tdg, &tdb};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    j->st = st;
    return NULL;
}

static void free_job(rank_job *j)
{
    void *p[] = {j->y, j->sm, j->si, j->rm, j->rv, j->dx, j->dg, j->db};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

/* rank r's rows of a union NCHW array: images off..off+n-1 */
static size_t rows(int off, int c, int h, int w) { return (size_t)off * c * h * w; }

/* Two ranks of n0 and n1 images (C, H, W) against the union's reference. */
static void sync_case(int n0, int n1, int c, int h, int w, int fd, uint64_t seed)
{
    const int N = n0 + n1;
    const size_t cnt = (size_t)N * c * h * w;
    tu_rng r = tu_rng_seed(seed);
    float *x = malloc(cnt * 4), *dy = malloc(cnt * 4), *g = malloc(c * 4), *b = malloc(c * 4);
    float *rm = malloc(c * 4), *rv = malloc(c * 4);
    tu_fill(&r, x, cnt, 2, 4); /* a mean away from 0 */
    tu_fill(&r, dy, cnt, -1, 1);
    tu_fill(&r, g, c, 0.5, 1.5);
    tu_fill(&r, b, c, -0.5, 0.5);
    tu_fill(&r, rm, c, -0.2, 0.2);
    tu_fill(&r, rv, c, 0.5, 1.5);
    double *xd = tu_f2d(x, cnt), *dyd = tu_f2d(dy, cnt), *gd = tu_f2d(g, c), *bd = tu_f2d(b, c);
    double *rmd = tu_f2d(rm, c), *rvd = tu_f2d(rv, c);
    double *yref = malloc(cnt * 8), *sm = malloc(c * 8), *si = malloc(c * 8);
    double *dxref = malloc(cnt * 8), *dgref = malloc(c * 8), *dbref = malloc(c * 8);
    ref_batchnorm_forward_train(yref, sm, si, rmd, rvd, xd, gd, bd, N, c, h, w, MOMENTUM, EPS);
    ref_batchnorm_backward(dxref, dgref, dbref, dyd, xd, gd, sm, si, N, c, h, w);

    fake_comm comm;
    memset(&comm, 0, sizeof comm);
    pthread_barrier_init(&comm.bar, NULL, 2);
    pthread_mutex_init(&comm.mu, NULL);
    rcl_ctx *ctx1 = NULL;
    T_OK(rcl_ctx_create(&ctx1, rcl_ctx_device(T_CTX)->index, NULL));
    rank_job j[2] = {
        {.ctx = T_CTX, .n = n0, .c = c, .h = h, .w = w, .x = x, .dy = dy},
        {.ctx = ctx1, .n = n1, .c = c, .h = h, .w = w, .x = x + rows(n0, c, h, w),
         .dy = dy + rows(n0, c, h, w)},
    };
    pthread_t th[2];
    for (int k = 0; k < 2; k++) {
        j[k].gamma = g, j[k].beta = b, j[k].rm0 = rm, j[k].rv0 = rv;
        j[k].reduce = fake_reduce, j[k].user = &comm;
        assert_int_equal(pthread_create(&th[k], NULL, rank_run, &j[k]), 0);
    }
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    T_OK(j[0].st);
    T_OK(j[1].st);
    assert_int_equal(comm.calls, 3); /* forward: sums, deviations; backward: sums */
    const double M = (double)N * h * w, sum_atol = 1e-6 * M + 1e-5;
    for (int k = 0; k < 2; k++) {
        size_t off = k ? rows(n0, c, h, w) : 0, n = rows(j[k].n, c, h, w);
        assert_true(tu_close_f("sync y", j[k].y, yref + off, n, 1e-4, 1e-4));
        assert_true(tu_close_f("sync dx", j[k].dx, dxref + off, n, 1e-4, 1e-4));
        assert_true(tu_close_f("sync save_mean", j[k].sm, sm, c, 1e-6, 1e-5));
        assert_true(tu_close_f("sync save_invstd", j[k].si, si, c, 1e-4, 0));
        assert_true(tu_close_f("sync running_mean", j[k].rm, rmd, c, 1e-6, 1e-5));
        assert_true(tu_close_f("sync running_var", j[k].rv, rvd, c, 1e-4, 1e-6));
    }
    float *dg = malloc(c * 4), *db = malloc(c * 4);
    for (int i = 0; i < c; i++) {
        dg[i] = j[0].dg[i] + j[1].dg[i];
        db[i] = j[0].db[i] + j[1].db[i];
    }
    assert_true(tu_close_f("sync dgamma (sum over ranks)", dg, dgref, c, 1e-4, sum_atol));
    assert_true(tu_close_f("sync dbeta (sum over ranks)", db, dbref, c, 1e-4, sum_atol));
    if (fd) { /* the device's dx rows against finite differences of the union's loss */
        double *grad = malloc(cnt * 8), *yb = malloc(cnt * 8);
        for (size_t i = 0; i < cnt; i++) {
            double s0 = xd[i], e = 1e-4, lp = 0, lm = 0;
            xd[i] = s0 + e;
            ref_batchnorm_forward_train(yb, NULL, NULL, NULL, NULL, xd, gd, bd, N, c, h, w, MOMENTUM, EPS);
            for (size_t k = 0; k < cnt; k++) lp += yb[k] * dyd[k];
            xd[i] = s0 - e;
            ref_batchnorm_forward_train(yb, NULL, NULL, NULL, NULL, xd, gd, bd, N, c, h, w, MOMENTUM, EPS);
            for (size_t k = 0; k < cnt; k++) lm += yb[k] * dyd[k];
            xd[i] = s0;
            grad[i] = (lp - lm) / (2 * e);
        }
        assert_true(tu_close_f("sync dx rank 0 vs fd", j[0].dx, grad, rows(n0, c, h, w), 1e-3, 1e-3));
        assert_true(tu_close_f("sync dx rank 1 vs fd", j[1].dx, grad + rows(n0, c, h, w),
                               rows(n1, c, h, w), 1e-3, 1e-3));
        free(grad);
        free(yb);
    }
    rcl_ctx_destroy(ctx1);
    pthread_barrier_destroy(&comm.bar);
    pthread_mutex_destroy(&comm.mu);
    free_job(&j[0]);
    free_job(&j[1]);
    void *hs[] = {x, dy, g, b, rm, rv, xd, dyd, gd, bd, rmd, rvd, yref, sm, si, dxref, dgref, dbref, dg, db};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

static void test_two_ranks(void **state)
{
    (void)state;
    sync_case(2, 3, 5, 3, 7, 1, 21);   /* unequal, odd shapes, with finite differences */
    sync_case(1, 1, 3, 1, 2, 1, 22);   /* one image per rank, M = 4 */
    sync_case(4, 4, 70, 5, 5, 0, 23);  /* more channels than a work-group */
}

/* One rank, an identity reducer: the plain BatchNorm of rcl_batchnorm_*. */
static void test_one_rank(void **state)
{
    (void)state;
    const int n = 3, c = 4, h = 5, w = 3;
    const size_t cnt = (size_t)n * c * h * w;
    tu_rng r = tu_rng_seed(5);
    float x[180], dy[180], g[4], b[4], rm[4] = {0}, rv[4] = {1, 1, 1, 1};
    tu_fill(&r, x, cnt, -1, 2);
    tu_fill(&r, dy, cnt, -1, 1);
    tu_fill(&r, g, c, 0.5, 1.5);
    tu_fill(&r, b, c, -0.5, 0.5);
    int calls = 0;
    rank_job j = {.ctx = T_CTX, .n = n, .c = c, .h = h, .w = w, .x = x, .dy = dy, .gamma = g,
                  .beta = b, .rm0 = rm, .rv0 = rv, .reduce = identity_reduce, .user = &calls};
    rank_run(&j);
    T_OK(j.st);
    assert_int_equal(calls, 3);
    rcl_tensor tx, ty, tdy, tdx, tg, tb, trm, trv, tsm, tsi, tdg, tdb;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&ty, n, c, h, w, NULL);
    tu_tensor(&tdy, n, c, h, w, dy);
    tu_tensor(&tdx, n, c, h, w, NULL);
    tu_tensor(&tg, c, 1, 1, 1, g);
    tu_tensor(&tb, c, 1, 1, 1, b);
    tu_tensor(&trm, c, 1, 1, 1, rm);
    tu_tensor(&trv, c, 1, 1, 1, rv);
    tu_tensor(&tsm, c, 1, 1, 1, NULL);
    tu_tensor(&tsi, c, 1, 1, 1, NULL);
    tu_tensor(&tdg, c, 1, 1, 1, NULL);
    tu_tensor(&tdb, c, 1, 1, 1, NULL);
    T_OK(rcl_batchnorm_forward_train(T_CTX, &ty, &tsm, &tsi, &trm, &trv, &tx, &tg, &tb,
                                     (float)MOMENTUM, (float)EPS));
    T_OK(rcl_batchnorm_backward(T_CTX, &tdx, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi));
    float *y = tu_read(&ty), *dx = tu_read(&tdx), *dg = tu_read(&tdg), *rvv = tu_read(&trv);
    double *yd = tu_f2d(y, cnt), *dxd = tu_f2d(dx, cnt), *dgd = tu_f2d(dg, c), *rvd = tu_f2d(rvv, c);
    assert_true(tu_close_f("one rank y", j.y, yd, cnt, 1e-5, 1e-5));
    assert_true(tu_close_f("one rank dx", j.dx, dxd, cnt, 1e-4, 1e-5));
    assert_true(tu_close_f("one rank dgamma", j.dg, dgd, c, 1e-4, 1e-5));
    assert_true(tu_close_f("one rank running_var", j.rv, rvd, c, 1e-5, 1e-6));
    rcl_tensor *ts[] = {&tx, &ty, &tdy, &tdx, &tg, &tb, &trm, &trv, &tsm, &tsi, &tdg, &tdb};
    /* a reducer's failure comes back; no reducer is an invalid argument */
    assert_int_equal(rcl_batchnorm_sync_forward_train(T_CTX, &ty, &tsm, &tsi, NULL, NULL, &tx, &tg,
                                                      &tb, 0.1f, 1e-5f, failing_reduce, NULL),
                     RCL_ERR_IO);
    assert_int_equal(rcl_batchnorm_sync_backward(T_CTX, &tdx, &tdg, &tdb, &tdy, &tx, &tg, &tsm, &tsi,
                                                 NULL, NULL),
                     RCL_ERR_INVALID);
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    free_job(&j);
    void *hs[] = {y, dx, dg, rvv, yd, dxd, dgd, rvd};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) free(hs[i]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_one_rank),
    cmocka_unit_test(test_two_ranks),
};

RCL_TEST_MAIN("batchnorm_sync", tests)
