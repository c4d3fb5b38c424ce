/* Global average pool host side (kernels in cl/avgpool.cl). */
#include "runtime/internal.h"
#include "rcl/ops.h"

#include <limits.h>
#include <stdio.h>

static int avgpool_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg)
{
    *wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_AVGPOOL_WG));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu", *wg);
    return rcl_ctx_kernel(ctx, "avgpool.cl", name, opts, k);
}

/* x (N,C,H,W) with y (N,C,1,1) */
static int avgpool_check(const rcl_tensor *x, const rcl_tensor *y, const char *op)
{
    if (!x || !y || !x->buf || !y->buf) return rcl_fail(RCL_ERR_INVALID, "%s: missing tensor", op);
    if (x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty input", op);
    if (rcl_t_count(x) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    if (y->n != x->n || y->c != x->c || y->h != 1 || y->w != 1)
        return rcl_fail(RCL_ERR_INVALID, "%s: pooled (%d,%d,%d,%d) must be (%d,%d,1,1)", op, y->n,
                        y->c, y->h, y->w, x->n, x->c);
    return RCL_OK;
}

/* x (N,C,H,W) -> y (N,C,1,1) */
int rcl_avgpool_global_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x)
{
    RCL_TRY(avgpool_check(x, y, "avgpool_global_forward"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(avgpool_kernel(ctx, "avgpool_forward", &k, &wg));
    size_t rows = (size_t)x->n * x->c;
    return RCL_LAUNCH(ctx, k, "pool", 1, &rows, &wg, RCL_MEM(y->buf), RCL_MEM(x->buf),
                      RCL_I32(x->h * x->w), RCL_I32(rows));
}

/* dy (N,C,1,1) -> dx (N,C,H,W) */
int rcl_avgpool_global_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy)
{
    if (!dx) return RCL_OK;
    RCL_TRY(avgpool_check(dx, dy, "avgpool_global_backward"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(avgpool_kernel(ctx, "avgpool_backward", &k, &wg));
    size_t rows = (size_t)dx->n * dx->c;
    return RCL_LAUNCH(ctx, k, "pool", 1, &rows, &wg, RCL_MEM(dx->buf), RCL_MEM(dy->buf),
                      RCL_I32(dx->h * dx->w), RCL_I32(rows));
}
