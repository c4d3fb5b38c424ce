/* Per-channel bias gradient and bias add (kernels in cl/bias.cl). */
#include "ops/bias.h"

#include <stdio.h>

static int bias_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg, size_t *red_wg)
{
    *wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_BIAS_WG));
    *red_wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_BIAS_RED_WG));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu -DRED_WG=%zu", *wg, *red_wg);
    return rcl_ctx_kernel(ctx, "bias.cl", name, opts, k);
}

int rcl_bias_grad(rcl_ctx *ctx, cl_mem db, cl_mem dy, int N, int C, int P)
{
    cl_kernel k;
    size_t wg, red_wg;
    RCL_TRY(bias_kernel(ctx, "bias_grad", &k, &wg, &red_wg));
    size_t g = (size_t)C * red_wg;
    return RCL_LAUNCH(ctx, k, "bias", 1, &g, &red_wg, RCL_MEM(db), RCL_MEM(dy), RCL_I32(N),
                      RCL_I32(C), RCL_I32(P));
}

int rcl_bias_add(rcl_ctx *ctx, cl_mem y, cl_mem b, int N, int C, int P)
{
    cl_kernel k;
    size_t wg, red_wg;
    RCL_TRY(bias_kernel(ctx, "bias_add", &k, &wg, &red_wg));
    size_t total = (size_t)N * C * P;
    return RCL_LAUNCH(ctx, k, "bias", 1, &total, &wg, RCL_MEM(y), RCL_MEM(b), RCL_I32(total),
                      RCL_I32(C), RCL_I32(P));
}
