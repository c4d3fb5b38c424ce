/* ReLU host side (kernels in cl/relu.cl). */
#include "runtime/internal.h"
#include "rcl/ops.h"

#include <stdio.h>

static int relu_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg)
{
    *wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_RELU_WG));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu", *wg);
    return rcl_ctx_kernel(ctx, "relu.cl", name, opts, k);
}

int rcl_relu_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x)
{
    RCL_TRY(rcl_check_same(y, x, "relu_forward"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(relu_kernel(ctx, "relu_forward", &k, &wg));
    size_t n = rcl_t_count(x);
    return RCL_LAUNCH(ctx, k, "relu", 1, &n, &wg, RCL_MEM(y->buf), RCL_MEM(x->buf), RCL_I32(n));
}

int rcl_relu_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy, const rcl_tensor *y)
{
    RCL_TRY(rcl_check_same(dx, dy, "relu_backward"));
    RCL_TRY(rcl_check_same(dy, y, "relu_backward"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(relu_kernel(ctx, "relu_backward", &k, &wg));
    size_t n = rcl_t_count(y);
    return RCL_LAUNCH(ctx, k, "relu", 1, &n, &wg, RCL_MEM(dx->buf), RCL_MEM(dy->buf),
                      RCL_MEM(y->buf), RCL_I32(n));
}
