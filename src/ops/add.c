/* Residual add host side (kernels in cl/add.cl). */
#include "runtime/internal.h"
#include "rcl/ops.h"

#include <limits.h>
#include <stdio.h>

/* Kernel `name` of add.cl (src/shortcut.c builds the same program). */
static int add_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg)
{
    *wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_ADD_WG));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu", *wg);
    return rcl_ctx_kernel(ctx, "add.cl", name, opts, k);
}

/* a, b, y (N,C,H,W), y may alias a or b; relu != 0: y = relu(a + b) */
static int add_launch(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *a, const rcl_tensor *b,
                      int relu, const char *op)
{
    if (!y || !a || !b || !y->buf || !a->buf || !b->buf)
        return rcl_fail(RCL_ERR_INVALID, "%s: missing tensor", op);
    RCL_TRY(rcl_check_same(y, a, op));
    RCL_TRY(rcl_check_same(a, b, op));
    if (rcl_t_count(y) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    cl_kernel k;
    size_t wg;
    RCL_TRY(add_kernel(ctx, relu ? "add_relu_forward" : "add_forward", &k, &wg));
    size_t n = rcl_t_count(y);
    return RCL_LAUNCH(ctx, k, "add", 1, &n, &wg, RCL_MEM(y->buf), RCL_MEM(a->buf),
                      RCL_MEM(b->buf), RCL_I32(n));
}

int rcl_add(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *a, const rcl_tensor *b)
{
    return add_launch(ctx, y, a, b, 0, "add");
}

int rcl_add_relu(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *a, const rcl_tensor *b)
{
    return add_launch(ctx, y, a, b, 1, "add_relu");
}
