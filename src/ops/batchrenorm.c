/* Batch Renormalization host side (include/rcl/norm.h): the plane partials
 * come from batchnorm.cl's bn_plane_stats / bn_bwd_plane, the rest from
 * cl/batchrenorm.cl; every kernel of the op (batchnorm.cl's included) is
 * compiled with the op's own tunables "brn" WG and "brn_stats" BN_WG. The
 * plane partials (2 floats per plane) live in scratch slot COL, the backward
 * per-channel sums (2*C floats) in RED. Profiling tag "norm". */
#include "ops/batchnorm_plane.h"
#include "runtime/internal.h"
#include "rcl/norm.h"

#include <limits.h>
#include <stdio.h>

/* Kernel `name` of `file` (batchnorm.cl or batchrenorm.cl) with the op's
 * tunables; *wg receives the plane-kernel work-group size, *bn_wg the
 * per-channel one. */
static int brn_kernel(rcl_ctx *ctx, const char *file, const char *name, cl_kernel *k,
                      size_t *wg, size_t *bn_wg)
{
    size_t w = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_BRN_WG));
    size_t b = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_BRN_STATS_WG));
    size_t cw = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_BN_CHAN_WG));
    char opts[96];
    /* (CHAN_WG: batchnorm.cl's per-channel kernels, built with the file, not run here) */
    snprintf(opts, sizeof opts, "-DWG=%zu -DBN_WG=%zu -DCHAN_WG=%zu", w, b, cw);
    if (wg) *wg = w;
    if (bn_wg) *bn_wg = b;
    return rcl_ctx_kernel(ctx, file, name, opts, k);
}

/* A per-channel vector must hold exactly C floats, e.g. (C,1,1,1). */
static int brn_check_vec(const rcl_tensor *t, int c, const char *op, const char *what)
{
    if (!t || !t->buf) return rcl_fail(RCL_ERR_INVALID, "%s: %s missing", op, what);
    if (rcl_t_count(t) != (size_t)c)
        return rcl_fail(RCL_ERR_INVALID, "%s: %s (%d,%d,%d,%d) must hold C=%d values", op, what,
                        t->n, t->c, t->h, t->w, c);
    return RCL_OK;
}

/* x present, non-empty, int-indexable, more than one value per channel. */
static int brn_check_x(const rcl_tensor *x, const char *op)
{
    if (!x || !x->buf || x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty or missing input", op);
    if (rcl_t_count(x) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    const long long m = (long long)x->n * x->h * x->w;
    if (m < 2)
        return rcl_fail(RCL_ERR_INVALID,
                        "%s: need more than 1 value per channel in training (N*H*W = %lld)", op,
                        m);
    return RCL_OK;
}

/* x,y (N,C,H,W); save_*, running_*, gamma, beta (C,1,1,1), all required. */
int rcl_batchrenorm_forward_train(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                                  rcl_tensor *save_invstd, rcl_tensor *save_r, rcl_tensor *save_d,
                                  rcl_tensor *running_mean, rcl_tensor *running_var,
                                  const rcl_tensor *x, const rcl_tensor *gamma,
                                  const rcl_tensor *beta, float momentum, float eps, float r_max,
                                  float d_max)
{
    static const char op[] = "batchrenorm_forward_train";
    RCL_TRY(brn_check_x(x, op));
    if (!y || !y->buf) return rcl_fail(RCL_ERR_INVALID, "%s: y missing", op);
    RCL_TRY(rcl_check_same(y, x, op));
    if (!(eps > 0.0f)) return rcl_fail(RCL_ERR_INVALID, "%s: eps must be > 0", op);
    if (!(r_max >= 1.0f)) return rcl_fail(RCL_ERR_INVALID, "%s: r_max must be >= 1", op);
    if (!(d_max >= 0.0f)) return rcl_fail(RCL_ERR_INVALID, "%s: d_max must be >= 0", op);
    const int C = x->c, HW = x->h * x->w, N = x->n;
    RCL_TRY(brn_check_vec(save_mean, C, op, "save_mean"));
    RCL_TRY(brn_check_vec(save_invstd, C, op, "save_invstd"));
    RCL_TRY(brn_check_vec(save_r, C, op, "save_r"));
    RCL_TRY(brn_check_vec(save_d, C, op, "save_d"));
    RCL_TRY(brn_check_vec(running_mean, C, op, "running_mean"));
    RCL_TRY(brn_check_vec(running_var, C, op, "running_var"));
    RCL_TRY(brn_check_vec(gamma, C, op, "gamma"));
    RCL_TRY(brn_check_vec(beta, C, op, "beta"));

    cl_kernel kp, ks, ka;
    size_t wg, bn_wg;
    RCL_TRY(brn_kernel(ctx, "batchnorm.cl", "bn_plane_stats", &kp, &wg, &bn_wg));
    RCL_TRY(brn_kernel(ctx, "batchrenorm.cl", "brn_stats", &ks, NULL, NULL));
    RCL_TRY(brn_kernel(ctx, "batchrenorm.cl", "brn_apply", &ka, NULL, NULL));
    cl_mem part;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, 2 * (size_t)N * C * sizeof(float), &part));
    size_t g2[2] = {(size_t)N, (size_t)C}, l2[2] = {wg, 1}, gp[2], lp[2];
    const int cpi = rcl_bn_plane_range(N, C, HW, wg, gp, lp); /* batchnorm.cl's layout */
    RCL_TRY(RCL_LAUNCH(ctx, kp, "norm", 2, gp, lp, RCL_MEM(part), RCL_MEM(x->buf), RCL_I32(N),
                       RCL_I32(C), RCL_I32(HW), RCL_I32(cpi)));
    size_t gs = (size_t)C;
    RCL_TRY(RCL_LAUNCH(ctx, ks, "norm", 1, &gs, &bn_wg, RCL_MEM(save_mean->buf),
                       RCL_MEM(save_invstd->buf), RCL_MEM(save_r->buf), RCL_MEM(save_d->buf),
                       RCL_MEM(running_mean->buf), RCL_MEM(running_var->buf), RCL_MEM(part),
                       RCL_I32(N), RCL_I32(C), RCL_I32(HW), RCL_F32(momentum), RCL_F32(eps),
                       RCL_F32(r_max), RCL_F32(d_max)));
    return RCL_LAUNCH(ctx, ka, "norm", 2, g2, l2, RCL_MEM(y->buf), RCL_MEM(x->buf),
                      RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf), RCL_MEM(save_r->buf),
                      RCL_MEM(save_d->buf), RCL_MEM(gamma->buf), RCL_MEM(beta->buf), RCL_I32(N),
                      RCL_I32(C), RCL_I32(HW));
}

/* dy, x, dx (N,C,H,W); gamma, save_*, dgamma, dbeta (C,1,1,1); dx/dgamma/dbeta may be NULL */
int rcl_batchrenorm_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma, rcl_tensor *dbeta,
                             const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *gamma,
                             const rcl_tensor *save_mean, const rcl_tensor *save_invstd,
                             const rcl_tensor *save_r, const rcl_tensor *save_d)
{
    static const char op[] = "batchrenorm_backward";
    RCL_TRY(brn_check_x(x, op));
    if (!dy || !dy->buf) return rcl_fail(RCL_ERR_INVALID, "%s: dy missing", op);
    RCL_TRY(rcl_check_same(dy, x, op));
    if (dx) {
        if (!dx->buf) return rcl_fail(RCL_ERR_INVALID, "%s: dx has no buffer", op);
        RCL_TRY(rcl_check_same(dx, x, op));
    }
    const int C = x->c, HW = x->h * x->w, N = x->n;
    RCL_TRY(brn_check_vec(gamma, C, op, "gamma"));
    RCL_TRY(brn_check_vec(save_mean, C, op, "save_mean"));
    RCL_TRY(brn_check_vec(save_invstd, C, op, "save_invstd"));
    RCL_TRY(brn_check_vec(save_r, C, op, "save_r"));
    RCL_TRY(brn_check_vec(save_d, C, op, "save_d"));
    if (dgamma) RCL_TRY(brn_check_vec(dgamma, C, op, "dgamma"));
    if (dbeta) RCL_TRY(brn_check_vec(dbeta, C, op, "dbeta"));
    if (!dx && !dgamma && !dbeta) return RCL_OK;

    cl_kernel kp, kr;
    size_t wg, bn_wg;
    RCL_TRY(brn_kernel(ctx, "batchnorm.cl", "bn_bwd_plane", &kp, &wg, &bn_wg));
    RCL_TRY(brn_kernel(ctx, "batchrenorm.cl", "brn_bwd_reduce", &kr, NULL, NULL));
    cl_mem part, sums;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, 2 * (size_t)N * C * sizeof(float), &part));
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_RED, 2 * (size_t)C * sizeof(float), &sums));
    size_t g2[2] = {(size_t)N, (size_t)C}, l2[2] = {wg, 1}, gp[2], lp[2];
    const int cpi = rcl_bn_plane_range(N, C, HW, wg, gp, lp); /* batchnorm.cl's layout */
    RCL_TRY(RCL_LAUNCH(ctx, kp, "norm", 2, gp, lp, RCL_MEM(part), RCL_MEM(dy->buf),
                       RCL_MEM(x->buf), RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf),
                       RCL_I32(N), RCL_I32(C), RCL_I32(HW), RCL_I32(cpi)));
    /* a gradient not asked for is not written: its argument is a stand-in */
    size_t gs = (size_t)C;
    RCL_TRY(RCL_LAUNCH(ctx, kr, "norm", 1, &gs, &bn_wg, RCL_MEM(sums),
                       RCL_MEM(dgamma ? dgamma->buf : sums), RCL_MEM(dbeta ? dbeta->buf : sums),
                       RCL_MEM(part), RCL_MEM(save_r->buf), RCL_MEM(save_d->buf), RCL_I32(N),
                       RCL_I32(C), RCL_I32(dgamma != NULL), RCL_I32(dbeta != NULL)));
    if (!dx) return RCL_OK;
    cl_kernel kd;
    RCL_TRY(brn_kernel(ctx, "batchrenorm.cl", "brn_bwd_dx", &kd, NULL, NULL));
    return RCL_LAUNCH(ctx, kd, "norm", 2, g2, l2, RCL_MEM(dx->buf), RCL_MEM(dy->buf),
                      RCL_MEM(x->buf), RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf),
                      RCL_MEM(gamma->buf), RCL_MEM(save_r->buf), RCL_MEM(sums), RCL_I32(N),
                      RCL_I32(C), RCL_I32(HW));
}
