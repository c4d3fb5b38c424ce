/* Synchronised BatchNorm2d host side (rcl/batchnorm_sync.h, kernels in
 * cl/batchnorm_sync.cl): the device computes per-plane partials, the host
 * folds them per channel in double, the reducer sums them over the ranks,
 * and the device applies. Plane partials in scratch slot COL, the union's
 * backward sums in RED. */
#include "runtime/internal.h"
#include "rcl/batchnorm_sync.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int bns_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg)
{
    size_t w = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_BN_WG));
    char opts[32];
    snprintf(opts, sizeof opts, "-DWG=%zu", w);
    *wg = w;
    return rcl_ctx_kernel(ctx, "batchnorm_sync.cl", name, opts, k);
}

static int check_vec(const rcl_tensor *t, int c, const char *op, const char *what)
{
    if (!t || !t->buf) return rcl_fail(RCL_ERR_INVALID, "%s: %s missing", op, what);
    if (rcl_t_count(t) != (size_t)c)
        return rcl_fail(RCL_ERR_INVALID, "%s: %s (%d,%d,%d,%d) must hold C=%d values", op, what,
                        t->n, t->c, t->h, t->w, c);
    return RCL_OK;
}

static int check_x(const rcl_tensor *x, const char *op)
{
    if (!x || !x->buf || x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty or missing input", op);
    if (rcl_t_count(x) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    return RCL_OK;
}

/* Plane partials of kernel kp into host part[2*N*C] (float pairs). */
static int plane_partials(rcl_ctx *ctx, cl_kernel kp, size_t wg, cl_mem part, float *host,
                          int N, int C, int HW, const rcl_tensor *a, const rcl_tensor *b,
                          const rcl_tensor *mean, const rcl_tensor *invstd)
{
    size_t g2[2] = {(size_t)N, (size_t)C}, l2[2] = {wg, 1};
    if (!b)
        RCL_TRY(RCL_LAUNCH(ctx, kp, "bn_sync", 2, g2, l2, RCL_MEM(part), RCL_MEM(a->buf),
                           RCL_I32(N), RCL_I32(C), RCL_I32(HW)));
    else
        RCL_TRY(RCL_LAUNCH(ctx, kp, "bn_sync", 2, g2, l2, RCL_MEM(part), RCL_MEM(a->buf),
                           RCL_MEM(b->buf), RCL_MEM(mean->buf), RCL_MEM(invstd->buf), RCL_I32(N),
                           RCL_I32(C), RCL_I32(HW)));
    return rcl_buffer_read(ctx, part, 2 * (size_t)N * C * sizeof(float), host);
}

int rcl_batchnorm_sync_forward_train(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                                     rcl_tensor *save_invstd, rcl_tensor *running_mean,
                                     rcl_tensor *running_var, const rcl_tensor *x,
                                     const rcl_tensor *gamma, const rcl_tensor *beta,
                                     float momentum, float eps, rcl_bn_reduce_fn reduce,
                                     void *user)
{
    static const char op[] = "batchnorm_sync_forward_train";
    RCL_TRY(check_x(x, op));
    if (!y || !reduce) return rcl_fail(RCL_ERR_INVALID, "%s: y or reducer missing", op);
    RCL_TRY(rcl_check_same(y, x, op));
    if (!(eps > 0.0f)) return rcl_fail(RCL_ERR_INVALID, "%s: eps must be > 0", op);
    const int N = x->n, C = x->c, HW = x->h * x->w;
    RCL_TRY(check_vec(save_mean, C, op, "save_mean"));
    RCL_TRY(check_vec(save_invstd, C, op, "save_invstd"));
    RCL_TRY(check_vec(gamma, C, op, "gamma"));
    RCL_TRY(check_vec(beta, C, op, "beta"));
    if ((running_mean == NULL) != (running_var == NULL))
        return rcl_fail(RCL_ERR_INVALID, "%s: running_mean and running_var go together", op);
    if (running_mean) {
        RCL_TRY(check_vec(running_mean, C, op, "running_mean"));
        RCL_TRY(check_vec(running_var, C, op, "running_var"));
    }
    cl_kernel kp, ka;
    size_t wg;
    RCL_TRY(bns_kernel(ctx, "bns_plane_stats", &kp, &wg));
    RCL_TRY(bns_kernel(ctx, "bns_apply", &ka, &wg));
    cl_mem part;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, 2 * (size_t)N * C * sizeof(float), &part));
    float *host = malloc(2 * (size_t)N * C * sizeof(float) + 4 * (size_t)C * sizeof(float));
    double *v = malloc(((size_t)C + 1) * sizeof(double));
    int st = host && v ? RCL_OK : rcl_fail(RCL_ERR_NOMEM, "%s: host buffers", op);
    if (!st) st = plane_partials(ctx, kp, wg, part, host, N, C, HW, x, NULL, NULL, NULL);
    float *fm = host + 2 * (size_t)N * C, *fs = fm + C, *rm = fs + C, *rv = rm + C;
    double M = 0;
    if (!st) { /* the union's count and sums */
        v[0] = (double)N * HW;
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += host[2 * ((size_t)c * N + n)];
            v[1 + c] = s;
        }
        st = reduce(user, v, C + 1);
        M = v[0];
        if (!st && !(M >= 2))
            st = rcl_fail(RCL_ERR_INVALID, "%s: need more than 1 value per channel over the ranks "
                          "(%g)", op, M);
    }
    if (!st) { /* squared deviations from the union's mean: within + between planes */
        for (int c = 0; c < C; c++) {
            double mean = v[1 + c] / M, q = 0;
            for (int n = 0; n < N; n++) {
                const float *p = host + 2 * ((size_t)c * N + n);
                double d = p[0] / (double)HW - mean;
                q += p[1] + (double)HW * d * d;
            }
            fm[c] = (float)mean;
            v[c] = q;
        }
        st = reduce(user, v, C);
    }
    if (!st) {
        for (int c = 0; c < C; c++) fs[c] = (float)(1.0 / sqrt(v[c] / M + eps));
        st = rcl_tensor_write(ctx, save_mean, fm);
    }
    if (!st) st = rcl_tensor_write(ctx, save_invstd, fs);
    if (!st && running_mean) {
        st = rcl_tensor_read(ctx, running_mean, rm);
        if (!st) st = rcl_tensor_read(ctx, running_var, rv);
        for (int c = 0; !st && c < C; c++) {
            float var = (float)(v[c] / M), unbiased = var * (float)(M / (M - 1));
            rm[c] = (1.0f - momentum) * rm[c] + momentum * fm[c];
            rv[c] = (1.0f - momentum) * rv[c] + momentum * unbiased;
        }
        if (!st) st = rcl_tensor_write(ctx, running_mean, rm);
        if (!st) st = rcl_tensor_write(ctx, running_var, rv);
    }
    free(host);
    free(v);
    RCL_TRY(st);
    size_t g2[2] = {(size_t)N, (size_t)C}, l2[2] = {wg, 1};
    return RCL_LAUNCH(ctx, ka, "bn_sync", 2, g2, l2, RCL_MEM(y->buf), RCL_MEM(x->buf),
                      RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf), RCL_MEM(gamma->buf),
                      RCL_MEM(beta->buf), RCL_I32(N), RCL_I32(C), RCL_I32(HW));
}

int rcl_batchnorm_sync_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma,
                                rcl_tensor *dbeta, const rcl_tensor *dy, const rcl_tensor *x,
                                const rcl_tensor *gamma, const rcl_tensor *save_mean,
                                const rcl_tensor *save_invstd, rcl_bn_reduce_fn reduce,
                                void *user)
{
    static const char op[] = "batchnorm_sync_backward";
    RCL_TRY(check_x(x, op));
    if (!dy || !reduce) return rcl_fail(RCL_ERR_INVALID, "%s: dy or reducer missing", op);
    RCL_TRY(rcl_check_same(dy, x, op));
    if (dx) RCL_TRY(rcl_check_same(dx, x, op));
    const int N = x->n, C = x->c, HW = x->h * x->w;
    RCL_TRY(check_vec(gamma, C, op, "gamma"));
    RCL_TRY(check_vec(save_mean, C, op, "save_mean"));
    RCL_TRY(check_vec(save_invstd, C, op, "save_invstd"));
    if (dgamma) RCL_TRY(check_vec(dgamma, C, op, "dgamma"));
    if (dbeta) RCL_TRY(check_vec(dbeta, C, op, "dbeta"));
    cl_kernel kp, kd;
    size_t wg;
    RCL_TRY(bns_kernel(ctx, "bns_bwd_plane", &kp, &wg));
    RCL_TRY(bns_kernel(ctx, "bns_bwd_dx", &kd, &wg));
    cl_mem part, sums;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, 2 * (size_t)N * C * sizeof(float), &part));
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_RED, 2 * (size_t)C * sizeof(float), &sums));
    float *host = malloc(2 * (size_t)N * C * sizeof(float) + 2 * (size_t)C * sizeof(float));
    double *v = malloc((2 * (size_t)C + 1) * sizeof(double));
    int st = host && v ? RCL_OK : rcl_fail(RCL_ERR_NOMEM, "%s: host buffers", op);
    if (!st) st = plane_partials(ctx, kp, wg, part, host, N, C, HW, dy, x, save_mean, save_invstd);
    float *fsum = host + 2 * (size_t)N * C; /* sdy[C], sdyx[C] */
    if (!st) {
        for (int c = 0; c < C; c++) {
            double a = 0, b = 0;
            for (int n = 0; n < N; n++) {
                a += host[2 * ((size_t)c * N + n)];
                b += host[2 * ((size_t)c * N + n) + 1];
            }
            v[c] = a;
            v[C + c] = b;
            fsum[c] = (float)a;
            fsum[C + c] = (float)b;
        }
        v[2 * C] = (double)N * HW;
        if (dbeta) st = rcl_tensor_write(ctx, dbeta, fsum);
        if (!st && dgamma) st = rcl_tensor_write(ctx, dgamma, fsum + C);
    }
    if (!st) st = reduce(user, v, 2 * C + 1);
    float M = 0;
    if (!st) {
        M = (float)v[2 * C];
        for (int c = 0; c < 2 * C; c++) fsum[c] = (float)v[c];
        st = rcl_buffer_write(ctx, sums, 2 * (size_t)C * sizeof(float), fsum);
    }
    free(host);
    free(v);
    RCL_TRY(st);
    if (!dx) return RCL_OK;
    size_t g2[2] = {(size_t)N, (size_t)C}, l2[2] = {wg, 1};
    return RCL_LAUNCH(ctx, kd, "bn_sync", 2, g2, l2, RCL_MEM(dx->buf), RCL_MEM(dy->buf),
                      RCL_MEM(x->buf), RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf),
                      RCL_MEM(gamma->buf), RCL_MEM(sums), RCL_F32(M), RCL_I32(N), RCL_I32(C),
                      RCL_I32(HW));
}
