/* LocalResponseNorm host side (kernels in cl/lrn.cl): one work-item per
 * element over a 1-D range of N*C*H*W; backward stages
 * t = dy * x * s^(-beta-1) in scratch slot COL (N*C*H*W floats). */
#include "runtime/internal.h"
#include "rcl/norm.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

static int lrn_kernel(rcl_ctx *ctx, const char *name, const rcl_lrn_desc *d, cl_kernel *k,
                      size_t *wg)
{
    *wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_LRN_WG));
    char opts[96];
    snprintf(opts, sizeof opts, "-DWG=%zu -DLRN_LO=%d -DLRN_HI=%d", *wg, d->size / 2,
             (d->size - 1) / 2);
    return rcl_ctx_kernel(ctx, "lrn.cl", name, opts, k);
}

static int lrn_check(const rcl_tensor *x, const rcl_lrn_desc *d, const char *op)
{
    if (!x || !x->buf || x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty or missing input", op);
    if (rcl_t_count(x) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    if (!d) return rcl_fail(RCL_ERR_INVALID, "%s: descriptor missing", op);
    if (d->size < 1 || d->size > RCL_LRN_MAX_SIZE)
        return rcl_fail(RCL_ERR_INVALID, "%s: size %d must be in 1..%d", op, d->size,
                        RCL_LRN_MAX_SIZE);
    if (!(d->k > 0.0f) || !isfinite(d->k))
        return rcl_fail(RCL_ERR_INVALID, "%s: k must be finite and > 0", op);
    if (!(d->alpha >= 0.0f) || !isfinite(d->alpha))
        return rcl_fail(RCL_ERR_INVALID, "%s: alpha must be finite and >= 0", op);
    if (!isfinite(d->beta)) return rcl_fail(RCL_ERR_INVALID, "%s: beta must be finite", op);
    return RCL_OK;
}

int rcl_lrn_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x, const rcl_lrn_desc *d)
{
    static const char op[] = "lrn_forward";
    RCL_TRY(lrn_check(x, d, op));
    if (!y || !y->buf) return rcl_fail(RCL_ERR_INVALID, "%s: y missing", op);
    RCL_TRY(rcl_check_same(y, x, op));
    cl_kernel k;
    size_t wg;
    RCL_TRY(lrn_kernel(ctx, "lrn_forward", d, &k, &wg));
    size_t total = rcl_t_count(x);
    return RCL_LAUNCH(ctx, k, "norm", 1, &total, &wg, RCL_MEM(y->buf), RCL_MEM(x->buf),
                      RCL_I32(total), RCL_I32(x->c), RCL_I32(x->h * x->w), RCL_I32(d->size),
                      RCL_F32(d->alpha), RCL_F32(d->beta),
                      RCL_F32(d->k));
}

int rcl_lrn_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy, const rcl_tensor *x,
                     const rcl_lrn_desc *d)
{
    static const char op[] = "lrn_backward";
    RCL_TRY(lrn_check(x, d, op));
    if (!dy || !dy->buf) return rcl_fail(RCL_ERR_INVALID, "%s: dy missing", op);
    RCL_TRY(rcl_check_same(dy, x, op));
    if (!dx) return RCL_OK;
    if (!dx->buf) return rcl_fail(RCL_ERR_INVALID, "%s: dx has no buffer", op);
    RCL_TRY(rcl_check_same(dx, x, op));
    cl_kernel kt, kd;
    size_t wg;
    RCL_TRY(lrn_kernel(ctx, "lrn_bwd_t", d, &kt, &wg));
    RCL_TRY(lrn_kernel(ctx, "lrn_bwd_dx", d, &kd, &wg));
    size_t total = rcl_t_count(x);
    cl_mem t;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, total * sizeof(float), &t));
    const int C = x->c, HW = x->h * x->w;
    RCL_TRY(RCL_LAUNCH(ctx, kt, "norm", 1, &total, &wg, RCL_MEM(t), RCL_MEM(dy->buf),
                       RCL_MEM(x->buf), RCL_I32(total), RCL_I32(C), RCL_I32(HW),
                       RCL_I32(d->size), RCL_F32(d->alpha), RCL_F32(d->beta), RCL_F32(d->k)));
    const float coef = (float)(2.0 * d->alpha * d->beta / d->size);
    return RCL_LAUNCH(ctx, kd, "norm", 1, &total, &wg, RCL_MEM(dx->buf), RCL_MEM(dy->buf),
                      RCL_MEM(x->buf), RCL_MEM(t), RCL_I32(total), RCL_I32(C), RCL_I32(HW),
                      RCL_I32(d->size), RCL_F32(d->alpha),
                      RCL_F32(d->beta), RCL_F32(d->k), RCL_F32(coef));
}
