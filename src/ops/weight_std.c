/* Weight Standardization host side (kernels in cl/weight_std.cl): one
 * work-group per output channel o of w (O = w->n, K = c*h*w). */
#include "runtime/internal.h"
#include "rcl/norm.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

static int wstd_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg)
{
    *wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_WEIGHT_STD_WG));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu", *wg);
    return rcl_ctx_kernel(ctx, "weight_std.cl", name, opts, k);
}

/* w (O,C,KH,KW) with K = C*KH*KW >= 2; eps finite and > 0. */
static int wstd_check_w(const rcl_tensor *w, float eps, const char *op)
{
    if (!w || !w->buf || w->n <= 0 || w->c <= 0 || w->h <= 0 || w->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty or missing weight", op);
    if (rcl_t_count(w) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    if ((size_t)w->c * w->h * w->w < 2)
        return rcl_fail(RCL_ERR_INVALID, "%s: need K = C*KH*KW >= 2 values per output channel "
                        "for the unbiased std (K = %d)", op, w->c * w->h * w->w);
    if (!(eps > 0.0f) || !isfinite(eps))
        return rcl_fail(RCL_ERR_INVALID, "%s: eps must be finite and > 0", op);
    return RCL_OK;
}

/* A per-output-channel vector must hold exactly O floats, e.g. (O,1,1,1). */
static int wstd_check_vec(const rcl_tensor *t, int o, const char *op, const char *what)
{
    if (!t || !t->buf) return rcl_fail(RCL_ERR_INVALID, "%s: %s missing", op, what);
    if (rcl_t_count(t) != (size_t)o)
        return rcl_fail(RCL_ERR_INVALID, "%s: %s (%d,%d,%d,%d) must hold O=%d values", op, what,
                        t->n, t->c, t->h, t->w, o);
    return RCL_OK;
}

int rcl_weight_std_forward(rcl_ctx *ctx, rcl_tensor *w_hat, rcl_tensor *save_mean,
                           rcl_tensor *save_std, const rcl_tensor *w, float eps)
{
    static const char op[] = "weight_std_forward";
    RCL_TRY(wstd_check_w(w, eps, op));
    if (!w_hat || !w_hat->buf) return rcl_fail(RCL_ERR_INVALID, "%s: w_hat missing", op);
    RCL_TRY(rcl_check_same(w_hat, w, op));
    const int O = w->n, K = w->c * w->h * w->w;
    RCL_TRY(wstd_check_vec(save_mean, O, op, "save_mean"));
    RCL_TRY(wstd_check_vec(save_std, O, op, "save_std"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(wstd_kernel(ctx, "wstd_forward", &k, &wg));
    size_t g = (size_t)O * wg;
    return RCL_LAUNCH(ctx, k, "norm", 1, &g, &wg, RCL_MEM(w_hat->buf), RCL_MEM(save_mean->buf),
                      RCL_MEM(save_std->buf), RCL_MEM(w->buf), RCL_I32(K), RCL_F32(eps));
}

int rcl_weight_std_backward(rcl_ctx *ctx, rcl_tensor *dw, const rcl_tensor *dw_hat,
                            const rcl_tensor *w_hat, const rcl_tensor *save_std, float eps)
{
    static const char op[] = "weight_std_backward";
    RCL_TRY(wstd_check_w(w_hat, eps, op));
    if (!dw_hat || !dw_hat->buf) return rcl_fail(RCL_ERR_INVALID, "%s: dw_hat missing", op);
    RCL_TRY(rcl_check_same(dw_hat, w_hat, op));
    const int O = w_hat->n, K = w_hat->c * w_hat->h * w_hat->w;
    RCL_TRY(wstd_check_vec(save_std, O, op, "save_std"));
    if (!dw) return RCL_OK;
    if (!dw->buf) return rcl_fail(RCL_ERR_INVALID, "%s: dw has no buffer", op);
    RCL_TRY(rcl_check_same(dw, w_hat, op));
    cl_kernel k;
    size_t wg;
    RCL_TRY(wstd_kernel(ctx, "wstd_backward", &k, &wg));
    size_t g = (size_t)O * wg;
    return RCL_LAUNCH(ctx, k, "norm", 1, &g, &wg, RCL_MEM(dw->buf), RCL_MEM(dw_hat->buf),
                      RCL_MEM(w_hat->buf), RCL_MEM(save_std->buf), RCL_I32(K), RCL_F32(eps));
}
