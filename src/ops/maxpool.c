/* MaxPool2d host side (kernels in cl/maxpool.cl). */
#include "runtime/internal.h"
#include "rcl/ops.h"

#include <limits.h>
#include <stdio.h>

static int pool_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg)
{
    *wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_MAXPOOL_WG));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu", *wg);
    return rcl_ctx_kernel(ctx, "maxpool.cl", name, opts, k);
}

/* Validate the descriptor, the input x (N,C,H,W) and output (N,C,OH,OW)
 * shapes and the idx buffer size. */
static int pool_check(const rcl_tensor *x, const rcl_tensor *y, cl_mem idx,
                      const rcl_pool_desc *d, const char *op)
{
    if (!x || !y || !d || !x->buf || !y->buf || !idx)
        return rcl_fail(RCL_ERR_INVALID, "%s: missing argument", op);
    if (d->k < 1 || d->stride < 1 || d->pad < 0 || d->pad > d->k / 2)
        return rcl_fail(RCL_ERR_INVALID, "%s: bad window k=%d stride=%d pad=%d (need pad <= k/2)",
                        op, d->k, d->stride, d->pad);
    if (x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty input", op);
    if (x->h + 2 * d->pad < d->k || x->w + 2 * d->pad < d->k)
        return rcl_fail(RCL_ERR_INVALID, "%s: input %dx%d smaller than window %d (pad %d)", op,
                        x->h, x->w, d->k, d->pad);
    if (rcl_t_count(x) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    int oh = (x->h + 2 * d->pad - d->k) / d->stride + 1; /* floor mode, numerator >= 0 */
    int ow = (x->w + 2 * d->pad - d->k) / d->stride + 1;
    if (y->n != x->n || y->c != x->c || y->h != oh || y->w != ow)
        return rcl_fail(RCL_ERR_INVALID, "%s: output (%d,%d,%d,%d) must be (%d,%d,%d,%d)", op,
                        y->n, y->c, y->h, y->w, x->n, x->c, oh, ow);
    size_t bytes = 0;
    RCL_CL(clGetMemObjectInfo(idx, CL_MEM_SIZE, sizeof bytes, &bytes, NULL), "maxpool idx size");
    if (bytes < rcl_t_count(y) * sizeof(cl_int))
        return rcl_fail(RCL_ERR_INVALID, "%s: idx holds %zu bytes, need %zu", op, bytes,
                        rcl_t_count(y) * sizeof(cl_int));
    return RCL_OK;
}

/* The window 3, stride 2, pad 1 (the ResNet stem's) where maxpool VEC
 * allows it: cl/maxpool.cl maxpool3s2_forward, 8 output columns of R rows
 * of one plane per work-item (the kernel's header: why R = OH where one
 * segment spans the row, else 1). The same values and idx as
 * maxpool_forward. */
static int pool3s2_forward(rcl_ctx *ctx, rcl_tensor *y, cl_mem idx, const rcl_tensor *x)
{
    cl_kernel k;
    size_t wg;
    RCL_TRY(pool_kernel(ctx, "maxpool3s2_forward", &k, &wg));
    const int nc = x->n * x->c; /* pool_check: the tensor's count fits an int */
    const int nseg = (y->w + 7) / 8, r = nseg == 1 ? y->h : 1, nrb = (y->h + r - 1) / r;
    /* items <= NC*OH*OW outputs: the kernel's int ids do not overflow */
    size_t items = (size_t)nc * nrb * nseg;
    return RCL_LAUNCH(ctx, k, "pool", 1, &items, &wg, RCL_MEM(y->buf), RCL_MEM(idx),
                      RCL_MEM(x->buf), RCL_I32(x->h), RCL_I32(x->w), RCL_I32(y->h),
                      RCL_I32(y->w), RCL_I32(nseg), RCL_I32(r), RCL_I32(nrb), RCL_I32(nc));
}

/* x (N,C,H,W) -> y (N,C,OH,OW), idx int32[N*C*OH*OW] */
int rcl_maxpool2d_forward(rcl_ctx *ctx, rcl_tensor *y, cl_mem idx, const rcl_tensor *x,
                          const rcl_pool_desc *d)
{
    RCL_TRY(pool_check(x, y, idx, d, "maxpool2d_forward"));
    if (d->k == 3 && d->stride == 2 && d->pad == 1 && rcl_tun(ctx, RCL_TUN_MAXPOOL_VEC))
        return pool3s2_forward(ctx, y, idx, x);
    cl_kernel k;
    size_t wg;
    RCL_TRY(pool_kernel(ctx, "maxpool_forward", &k, &wg));
    size_t nc = (size_t)x->n * x->c;
    return RCL_LAUNCH(ctx, k, "pool", 1, &nc, &wg, RCL_MEM(y->buf), RCL_MEM(idx), RCL_MEM(x->buf),
                      RCL_I32(x->h), RCL_I32(x->w), RCL_I32(y->h), RCL_I32(y->w), RCL_I32(d->k),
                      RCL_I32(d->stride), RCL_I32(d->pad), RCL_I32(nc));
}

/* dy (N,C,OH,OW), idx -> dx (N,C,H,W) */
int rcl_maxpool2d_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy, cl_mem idx,
                           const rcl_pool_desc *d)
{
    if (!dx) return RCL_OK;
    RCL_TRY(pool_check(dx, dy, idx, d, "maxpool2d_backward"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(pool_kernel(ctx, "maxpool_backward", &k, &wg));
    size_t nc = (size_t)dx->n * dx->c;
    return RCL_LAUNCH(ctx, k, "pool", 1, &nc, &wg, RCL_MEM(dx->buf), RCL_MEM(dy->buf),
                      RCL_MEM(idx), RCL_I32(dx->h), RCL_I32(dx->w), RCL_I32(dy->h),
                      RCL_I32(dy->w), RCL_I32(nc));
}
