/* The Winograd F(2x2, 3x3) weight gradient (conv2d_wino.h
 * rcl_conv_wino_dw; kernels cl/conv_wino_dw.cl): one launch of conv_wino_dwf
 * (every group transforms chunks of its tiles into its part of slot COL
 * and sums their products into its partial sums in slot TMP), one of
 * conv_wino_dws (the partial sums' total, transformed back to 3x3). */
#include "ops/conv2d_wino.h"
#include "ops/conv2d_direct.h"

#include "gemm/gemm_internal.h"

#include <stdio.h>

/* the most accumulator vectors of one work-item: 16 of 16 floats fill
 * half of AVX-512's 32 registers; narrower vectors (AVX2's 16 registers of
 * 8) get 8 */
static int acc_budget(int vc) { return vc >= 16 ? 16 : 8; }

void rcl_conv_wino_dw_plan_for(const rcl_ctx *ctx, const rcl_conv_shape *s, rcl_conv_wino_dw_plan *d)
{
    int tt = (s->OW + 1) / 2;
    d->th = (s->OH + 1) / 2;
    d->vt = tt <= 4 ? 4 : tt <= 8 ? 8 : 16;
    d->seg = (tt + d->vt - 1) / d->vt;
    int vw = rcl_conv_direct_vw(ctx);
    d->vc = vw >= 16 ? 16 : vw >= 8 ? 8 : 4;
    while (d->vc > 4 && d->vc >= 2 * s->OC) d->vc /= 2;
    d->ocp = (s->OC + d->vc - 1) / d->vc * d->vc;
    int nvec = d->ocp / d->vc, budget = acc_budget(d->vc);
    d->nv = nvec % 2 == 0 ? 2 : 1;
    /* input channels per accumulator block: the largest power of two
     * dividing C within the budget (few kernel variants to compile) */
    d->bc = 1;
    while (d->bc * 2 <= budget / d->nv && s->C % (d->bc * 2) == 0) d->bc *= 2;
    int units = s->N * d->th * d->seg;
    int cu = (int)rcl_ctx_device(ctx)->compute_units;
    if (cu < 1) cu = 1;
    /* 4 groups per compute unit (their tiles vary in cost at the map's
     * edges), 2 where their partial sums pass 256 KiB each */
    d->g = (uint64_t)16 * s->C * d->ocp * sizeof(float) > 256 * 1024 ? 2 * cu : 4 * cu;
    if (d->g > units) d->g = units;
    /* a chunk's V and Z: about conv_wino DW_KB, which a core's cache holds
     * between the transforms and the products */
    int kb = rcl_tun(ctx, RCL_TUN_CONV_WINO_DW_KB);
    int per_unit = 16 * d->vt * (s->C + d->ocp) * (int)sizeof(float);
    d->tr = kb * 1024 / per_unit;
    int per_group = (units + d->g - 1) / d->g;
    if (d->tr > per_group) d->tr = per_group;
    if (d->tr < 1) d->tr = 1;
    /* CPU drivers (explicit vectors): one work-item per group, whose
     * barriers then cost nothing (several kept each item's private arrays
     * in memory across them); elsewhere 64 */
    d->wg = rcl_gemm_vec_width(ctx) >= 4 ? 1 : (int)rcl_wg_clamp(ctx, 64);
    d->wgs = (int)rcl_wg_clamp(ctx, 64);
    d->col = (uint64_t)d->g * 16 * ((uint64_t)d->tr * d->vt * (s->C + d->ocp) + 32) * sizeof(float);
    d->tmp = (uint64_t)d->g * 16 * ((uint64_t)s->C * d->ocp + 16) * sizeof(float);
}

int rcl_conv_wino_dw(rcl_ctx *ctx, cl_mem dw, cl_mem dy, cl_mem x, const rcl_conv_shape *s)
{
    rcl_conv_wino_dw_plan d;
    rcl_conv_wino_dw_plan_for(ctx, s, &d);
    char opts[128];
    snprintf(opts, sizeof opts, "-DVT=%d -DVC=%d -DNV=%d -DBC=%d -DWG=%d -DWGS=%d", d.vt, d.vc,
             d.nv, d.bc, d.wg, d.wgs);
    cl_kernel kf, ks;
    RCL_TRY(rcl_ctx_kernel(ctx, "conv_wino_dw.cl", "conv_wino_dwf", opts, &kf));
    RCL_TRY(rcl_ctx_kernel(ctx, "conv_wino_dw.cl", "conv_wino_dws", opts, &ks));
    cl_mem scr, part;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, d.col, &scr));
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, d.tmp, &part));
    size_t gf[1] = {(size_t)d.g * d.wg}, lf[1] = {(size_t)d.wg};
    RCL_TRY(RCL_LAUNCH(ctx, kf, "conv_bwd_weight_wino", 1, gf, lf, RCL_MEM(part), RCL_MEM(scr),
                       RCL_MEM(x), RCL_MEM(dy), RCL_I32(s->N), RCL_I32(s->C), RCL_I32(s->H),
                       RCL_I32(s->W), RCL_I32(s->PH), RCL_I32(s->PW), RCL_I32(s->OC),
                       RCL_I32(d.ocp), RCL_I32(s->OH), RCL_I32(s->OW), RCL_I32(d.th),
                       RCL_I32(d.seg), RCL_I32(d.g), RCL_I32(d.tr)));
    size_t n = (size_t)s->OC * s->C;
    size_t gs[1] = {(n + d.wgs - 1) / d.wgs * d.wgs}, ls[1] = {(size_t)d.wgs};
    return RCL_LAUNCH(ctx, ks, "conv_bwd_weight_wino", 1, gs, ls, RCL_MEM(dw), RCL_MEM(part),
                      RCL_I32(s->OC), RCL_I32(s->C), RCL_I32(d.ocp), RCL_I32(d.g));
}
