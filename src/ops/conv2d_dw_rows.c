/* The weight gradient on input rows: host side of cl/conv_dw_rows.cl (the
 * math and the layout there). */
#include "ops/conv2d_dw_rows.h"
#include "gemm/gemm_internal.h" /* rcl_gemm_vec_width */
#include "ops/conv2d_direct.h"  /* rcl_conv_direct_vw */

#include <limits.h>
#include <stdio.h>

int rcl_conv_dw_rows_plan_for(const rcl_ctx *ctx, const rcl_conv_shape *s,
                              rcl_conv_dw_rows_plan *p)
{
    if (s->S != 1 && s->S != 2) return 0;
    int vw = rcl_conv_direct_vw(ctx);
    while (vw > 4 && s->OC % vw) vw /= 2;
    if (s->OC % vw) return 0;
    /* vectors of output channels a work-item: as many as the accumulators
     * (NV x KW vectors) leave registers for, each reading dy once */
    int nv = rcl_tun(ctx, RCL_TUN_CONV_DW_ROWS_NV);
    while (nv > 1 && (s->OC % (nv * vw) || nv * (s->KW + 1) > 28)) nv--;
    int rows = s->N * s->OH;
    /* chunks of about DW_ROWS_KB of dy rows: the work-items of a chunk
     * (every c, kh and block of output channels) run one after the other
     * and read the same rows, which then come from the cache; at least
     * enough chunks to keep every compute unit busy */
    int items = s->C * s->KH * (s->OC / (nv * vw));
    int units = (int)rcl_ctx_device(ctx)->compute_units;
    int64_t row_bytes = (int64_t)s->OW * s->OC * sizeof(float);
    int64_t r = ((int64_t)rcl_tun(ctx, RCL_TUN_CONV_DW_ROWS_KB) << 10) / row_bytes;
    int g = (int)((rows + (r > 0 ? r : 1) - 1) / (r > 0 ? r : 1));
    int gmin = (16 * (units > 0 ? units : 1) + items - 1) / items;
    if (g < gmin) g = gmin;
    if (g > rows) g = rows;
    int64_t M = (int64_t)s->OC * s->C * s->KH * s->KW; /* the partial sums' int indices */
    if ((int64_t)g * M > INT_MAX) g = (int)(INT_MAX / M);
    if (g < 1) g = 1;
    p->vw = vw, p->nv = nv;
    p->r = (rows + g - 1) / g;
    p->g = (rows + p->r - 1) / p->r;
    p->col = (uint64_t)s->N * s->OC * s->OH * s->OW * sizeof(float);
    p->tmp = p->g > 1 ? (uint64_t)p->g * s->OC * s->C * s->KH * s->KW * sizeof(float) : 0;
    return 1;
}

int rcl_conv_dw_rows_use(const rcl_ctx *ctx, const rcl_conv_shape *s)
{
    int mode = rcl_tun(ctx, RCL_TUN_CONV_DW_ROWS);
    rcl_conv_dw_rows_plan p;
    return (mode == 2 || (mode == 1 && rcl_gemm_vec_width(ctx) >= 4)) &&
           s->KH * s->KW > 16 &&
           (int64_t)s->N * s->OH * s->OW >= rcl_tun(ctx, RCL_TUN_CONV_DW_ROWS_MIN_K) &&
           rcl_conv_dw_rows_plan_for(ctx, s, &p);
}

int rcl_conv_dw_rows(rcl_ctx *ctx, cl_mem dw, cl_mem dy, cl_mem x, const rcl_conv_shape *s)
{
    rcl_conv_dw_rows_plan p;
    if (!rcl_conv_dw_rows_plan_for(ctx, s, &p))
        return rcl_fail(RCL_ERR_UNSUPPORTED, "conv2d dw rows: no plan for %dx%d stride %d, %d "
                        "output channels", s->KH, s->KW, s->S, s->OC);
    int P = s->OH * s->OW, M = s->OC * s->C * s->KH * s->KW;
    cl_mem dyt, part = dw;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, p.col, &dyt));
    if (p.g > 1) RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, p.tmp, &part));
    RCL_TRY(rcl_transpose_batch(ctx, dyt, dy, 0, P, s->OC, P, s->N)); /* dyt[n, p, oc] */
    char opts[96];
    snprintf(opts, sizeof opts, "-DVW=%d -DNV=%d -DKW=%d -DS=%d", p.vw, p.nv, s->KW, s->S);
    cl_kernel k;
    RCL_TRY(rcl_ctx_kernel(ctx, "conv_dw_rows.cl", "conv_dw_rows", opts, &k));
    size_t gl[3] = {(size_t)s->C * s->KH, (size_t)(s->OC / (p.nv * p.vw)), (size_t)p.g};
    size_t lo[3] = {1, 1, 1};
    RCL_TRY(RCL_LAUNCH(ctx, k, "conv_bwd_weight_rows", 3, gl, lo, RCL_MEM(part), RCL_MEM(dyt),
                       RCL_MEM(x), RCL_I32(s->N), RCL_I32(s->C), RCL_I32(s->H), RCL_I32(s->W),
                       RCL_I32(s->OC), RCL_I32(s->OH), RCL_I32(s->OW), RCL_I32(s->KH),
                       RCL_I32(s->PH), RCL_I32(s->PW), RCL_I32(p.r)));
    if (p.g == 1) return RCL_OK;
    cl_kernel ks;
    RCL_TRY(rcl_ctx_kernel(ctx, "conv_dw_rows.cl", "conv_dw_rows_sum", opts, &ks));
    size_t wg = rcl_wg_clamp(ctx, 64), gs = (size_t)M;
    return RCL_LAUNCH(ctx, ks, "conv_bwd_weight_rows", 1, &gs, &wg, RCL_MEM(dw), RCL_MEM(part),
                      RCL_I32(M), RCL_I32(p.g));
}
