/* Option-A shortcut host side (kernels in cl/add.cl). */
#include "runtime/internal.h"
#include "rcl/ops.h"

#include <limits.h>
#include <stdio.h>

/* Kernel `name` of add.cl, with the options of src/add.c (one program). */
static int shortcut_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg)
{
    *wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_ADD_WG));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu", *wg);
    return rcl_ctx_kernel(ctx, "add.cl", name, opts, k);
}

/* x (N,C,H,W) and y (N,C2,ceil(H/s),ceil(W/s)), C2 >= C, C2-C even */
static int shortcut_check(const rcl_tensor *x, const rcl_tensor *y, int stride, const char *op)
{
    if (!x || !y || !x->buf || !y->buf) return rcl_fail(RCL_ERR_INVALID, "%s: missing tensor", op);
    if (stride < 1) return rcl_fail(RCL_ERR_INVALID, "%s: stride %d < 1", op, stride);
    if (x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty input", op);
    if (rcl_t_count(x) > (size_t)INT_MAX || rcl_t_count(y) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    const int oh = (x->h + stride - 1) / stride, ow = (x->w + stride - 1) / stride;
    if (y->n != x->n || y->h != oh || y->w != ow || y->c < x->c || (y->c - x->c) % 2)
        return rcl_fail(RCL_ERR_INVALID,
                        "%s: padded (%d,%d,%d,%d) must be (%d,C2,%d,%d) with C2 >= %d, C2-%d even",
                        op, y->n, y->c, y->h, y->w, x->n, oh, ow, x->c, x->c);
    return RCL_OK;
}

/* x (N,C,H,W) -> y (N,C2,ceil(H/s),ceil(W/s)) */
int rcl_shortcut_pad_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x, int stride)
{
    RCL_TRY(shortcut_check(x, y, stride, "shortcut_pad_forward"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(shortcut_kernel(ctx, "shortcut_forward", &k, &wg));
    size_t gl[2] = {(size_t)y->n, (size_t)y->c}, lo[2] = {wg, 1};
    return RCL_LAUNCH(ctx, k, "add", 2, gl, lo, RCL_MEM(y->buf), RCL_MEM(x->buf), RCL_I32(x->n),
                      RCL_I32(x->c), RCL_I32(x->h), RCL_I32(x->w), RCL_I32(y->c), RCL_I32(y->h),
                      RCL_I32(y->w), RCL_I32(stride), RCL_I32((y->c - x->c) / 2));
}

/* dy (N,C2,ceil(H/s),ceil(W/s)) -> dx (N,C,H,W) */
int rcl_shortcut_pad_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy, int stride)
{
    if (!dx) return RCL_OK;
    RCL_TRY(shortcut_check(dx, dy, stride, "shortcut_pad_backward"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(shortcut_kernel(ctx, "shortcut_backward", &k, &wg));
    size_t gl[2] = {(size_t)dx->n, (size_t)dx->c}, lo[2] = {wg, 1};
    return RCL_LAUNCH(ctx, k, "add", 2, gl, lo, RCL_MEM(dx->buf), RCL_MEM(dy->buf),
                      RCL_I32(dx->n), RCL_I32(dx->c), RCL_I32(dx->h), RCL_I32(dx->w),
                      RCL_I32(dy->c), RCL_I32(dy->h), RCL_I32(dy->w), RCL_I32(stride),
                      RCL_I32((dy->c - dx->c) / 2));
}
