/* Winograd host side (conv2d_wino.h): the transformed weights (npos * C
 * * OC floats) in scratch slot TMP, then one launch of cl/conv_wino.cl's
 * conv_wino (F(2x2, 3x3)) or conv_wino4 (F(4x4, 3x3); conv_wino4_img
 * where the plan's img is set), as the plan's tile m says, on the input
 * tensor itself (the kernels pad as they load). */
#include "ops/conv2d_wino.h"
#include "ops/conv2d_direct.h"
#include "gemm/gemm_internal.h"
#include "rcl/gemm.h"

#include <stdio.h>

int rcl_conv_wino_choose(const rcl_ctx *ctx, const rcl_conv_shape *s, int pass,
                       rcl_conv_wino_plan *p)
{
    int mode = rcl_tun(ctx, RCL_TUN_CONV_WINOGRAD);
    if (mode < 1 || (pass == RCL_CONV_DW && mode < 2)) return 0;
    int vx = rcl_tun(ctx, RCL_TUN_CONV_WINO_VX);
    return rcl_conv_wino_plan_for(s, pass, vx > 0 ? vx : rcl_conv_direct_vw(ctx),
                                  rcl_tun(ctx, RCL_TUN_CONV_WINO_TILE),
                                  rcl_tun(ctx, RCL_TUN_CONV_COL_BUDGET_MB),
                                  rcl_ctx_device(ctx)->max_alloc, p);
}

/* U from w by kernel kw (conv_wino_w or conv_wino4_w: cl/conv_wino.cl
 * FILTER_ITEM's 2-D range, dimension 0 ci for layout 1, else co) */
static int filter_transform(rcl_ctx *ctx, cl_kernel kw, const char *tag, cl_mem u, cl_mem w,
                            int ci, int co, int flip, int layout, size_t wg)
{
    size_t f = (size_t)(layout ? ci : co), s = (size_t)(layout ? co : ci);
    size_t gw[2] = {(f + wg - 1) / wg * wg, s}, lw[2] = {wg, 1};
    return RCL_LAUNCH(ctx, kw, tag, 2, gw, lw, RCL_MEM(u), RCL_MEM(w), RCL_I32(ci), RCL_I32(co),
                      RCL_I32(flip), RCL_I32(layout));
}

/* out (.., co, oh, ow) from in (.., ci, ih, iw) padded by (offh, offw):
 * the weight transform (flip 0: forward, 1: data gradient), then conv_wino
 * (F(2x2)), conv_wino4 or conv_wino4_img (F(4x4)) on in itself, zero
 * outside */
static int wino_run(rcl_ctx *ctx, const char *tag, cl_mem out, cl_mem in, cl_mem w, cl_mem b,
                    cl_mem res, int epi, int flip, int N, int ih, int iw, int offh, int offw, int oh, int ow,
                    const rcl_conv_wino_plan *p)
{
    size_t wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_CONV_WINO_WG));
    char opts[128];
    snprintf(opts, sizeof opts, "-DOCB=%d -DWG=%zu -DPF=%d -DVX=%d -DRV=%d -DWC=%d -DWO=%d -DIMG=%d",
             rcl_tun(ctx, RCL_TUN_CONV_WINO_OCB), wg, rcl_tun(ctx, RCL_TUN_CONV_WINO_PF), p->vx,
             p->rows, p->ci, p->co, p->img);
    cl_kernel kw, kc;
    RCL_TRY(rcl_ctx_kernel(ctx, "conv_wino.cl", p->m == 4 ? "conv_wino4_w" : "conv_wino_w", opts,
                           &kw));
    RCL_TRY(rcl_ctx_kernel(ctx, "conv_wino.cl",
                           p->img ? "conv_wino4_img" : p->m == 4 ? "conv_wino4" : "conv_wino", opts,
                           &kc));
    cl_mem u;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, (size_t)p->npos * p->ci * p->co * sizeof(float),
                        &u));
    RCL_TRY(filter_transform(ctx, kw, tag, u, w, p->ci, p->co, flip, 0, wg));
    int wrows = (p->th + p->rows - 1) / p->rows; /* work-items per column of vectors */
    /* the whole output past the caches or not (one launch per chunk of
     * images, each the next's neighbour in memory) */
    const int nt = rcl_stream_out(ctx, (size_t)N * p->co * oh * ow * sizeof(float));
    for (int n0 = 0; n0 < N; n0 += p->nb) {
        int cur = N - n0 < p->nb ? N - n0 : p->nb;
        /* conv_wino4_img: a work-item per img images */
        size_t items = p->img ? (size_t)(cur + p->img - 1) / p->img : (size_t)cur * wrows * p->twv;
        size_t gl[1] = {items}, lo[1] = {wg};
        RCL_TRY(RCL_LAUNCH(ctx, kc, tag, 1, gl, lo, RCL_MEM(out), RCL_MEM(in), RCL_MEM(u),
                           RCL_MEM(b ? b : u), RCL_I32(b != NULL), RCL_MEM(res ? res : out),
                           RCL_I32(res ? epi : epi & ~RCL_CONV_EPI_RES), RCL_I32(n0), RCL_I32(cur),
                           RCL_I32(ih), RCL_I32(iw), RCL_I32(offh), RCL_I32(offw), RCL_I32(p->co),
                           RCL_I32(oh), RCL_I32(ow), RCL_I32(p->twv), RCL_I32(wrows),
                           RCL_I32(nt)));
    }
    return RCL_OK;
}

int rcl_conv_wino_forward(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem w, cl_mem b, cl_mem res,
                          int epi, const rcl_conv_shape *s, const rcl_conv_wino_plan *p)
{
    return wino_run(ctx, "conv_fwd_wino", y, x, w, b, res, epi, 0, s->N, s->H, s->W, s->PH, s->PW, s->OH,
                    s->OW, p);
}

int rcl_conv_wino_dx(rcl_ctx *ctx, cl_mem dx, cl_mem dy, cl_mem w, cl_mem dx_add,
                     const rcl_conv_shape *s, const rcl_conv_wino_plan *p)
{
    /* the transposed conv: dy padded by 2 - pad, the rotated weights; + dx_add
     * in the epilogue */
    return wino_run(ctx, "conv_bwd_data_wino", dx, dy, w, NULL, dx_add,
                    dx_add ? RCL_CONV_EPI_RES : 0, 1, s->N, s->OH, s->OW,
                    2 - s->PH, 2 - s->PW, s->H, s->W, p);
}

/* tiles per work-item of conv_wino4_vt and conv_wino4_yt (conv_wino.YT): as set (1, 4, 8,
 * 16; other values the nearest below), 0 the device's float vector width
 * (at most 16) on drivers that prefer vectors (CPUs), else 1 */
static int yt_tiles(const rcl_ctx *ctx)
{
    int v = rcl_tun(ctx, RCL_TUN_CONV_WINO_YT);
    if (v <= 0) v = rcl_gemm_vec_width(ctx);
    return v >= 16 ? 16 : v >= 8 ? 8 : v >= 4 ? 4 : 1;
}

/* the work-group size and build options of the per-tile kernels
 * (conv_wino_vt/_yt and the F(2x2) filter transform): the shape
 * macros of conv_wino's private-memory kernels at dummy values; yv the
 * F(4x4) transforms' tiles per work-item (yt_tiles) */
static size_t tile_kernel_opts(rcl_ctx *ctx, int yv, char *opts, size_t n)
{
    size_t wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_CONV_WINO_WG));
    snprintf(opts, n, "-DOCB=%d -DWG=%zu -DPF=%d -DVX=4 -DRV=1 -DWC=1 -DWO=1 -DYV=%d",
             rcl_tun(ctx, RCL_TUN_CONV_WINO_OCB), wg, rcl_tun(ctx, RCL_TUN_CONV_WINO_PF), yv);
    return wg;
}

int rcl_conv_wino_gemm_choose(const rcl_ctx *ctx, const rcl_conv_shape *s, int pass,
                              rcl_conv_wino_plan *p)
{
    int mode = rcl_tun(ctx, RCL_TUN_CONV_WINO_GEMM);
    if (mode < 1) return 0;
    int dx = pass == RCL_CONV_DX;
    int oh = dx ? s->H : s->OH, ow = dx ? s->W : s->OW;
    if (oh < RCL_CONV_WINO_GEMM_MIN_HW || ow < RCL_CONV_WINO_GEMM_MIN_HW) return 0;
    return rcl_conv_wino_gemm_plan_for(s, pass, mode == 4 ? 4 : 2,
                                       rcl_tun(ctx, RCL_TUN_CONV_COL_BUDGET_MB),
                                       rcl_ctx_device(ctx)->max_alloc, p);
}

/* V's tiles for a chunk of T: with F(4x4) where the GEMMs read op(B) in
 * panels (then one launch for all of them), T rounded up to whole panels,
 * *nwi their width; else T (*nwi 0: V[q] is one row-major ci x T matrix,
 * one GEMM per position) */
static int wino_gemm_tiles(rcl_ctx *ctx, const rcl_conv_wino_plan *p, int T, int *nwi)
{
    *nwi = p->m == 4 ? rcl_gemm_batch_panels(ctx, 0, p->co, T, p->ci) : 0;
    return *nwi ? (T + *nwi - 1) / *nwi * *nwi : T;
}

void rcl_conv_wino_gemm_scratch(rcl_ctx *ctx, const rcl_conv_wino_plan *p,
                                rcl_conv_wino_bytes *b)
{
    int T = p->nb * p->th * p->tt, nwi; /* the first chunk is the largest */
    int TP = wino_gemm_tiles(ctx, p, T, &nwi);
    b->col = (uint64_t)p->npos * ((uint64_t)p->ci * TP + (uint64_t)p->co * T) * sizeof(float);
    b->tmp = (uint64_t)p->npos * p->ci * p->co * sizeof(float);
    /* one GEMM per position: what rcl_gemm may pack or copy of its operands */
    b->gemm_a = nwi ? 0 : (uint64_t)p->co * p->ci * sizeof(float);
    b->gemm_b = nwi ? 0 : (uint64_t)p->ci * T * sizeof(float);
}

int rcl_conv_wino_gemm(rcl_ctx *ctx, cl_mem out, cl_mem in, cl_mem w, cl_mem b, cl_mem res,
                       int epi, const rcl_conv_shape *s, int pass, const rcl_conv_wino_plan *p)
{
    int dx = pass == RCL_CONV_DX, f4 = p->m == 4;
    const char *tag = dx ? "conv_bwd_data_wino" : "conv_fwd_wino";
    /* the input and its padding: x padded by pad, or dy by 2 - pad (the
     * transposed conv, the rotated weights) */
    int ih = dx ? s->OH : s->H, iw = dx ? s->OW : s->W;
    int ph = dx ? 2 - s->PH : s->PH, pw = dx ? 2 - s->PW : s->PW;
    int oh = dx ? s->H : s->OH, ow = dx ? s->W : s->OW;
    char opts[128];
    /* yv for the build options; per: tiles per work-item of the transforms
     * (F(2x2)'s take one) */
    const int yv = yt_tiles(ctx), per = f4 ? yv : 1;
    size_t wg = tile_kernel_opts(ctx, yv, opts, sizeof opts);
    cl_kernel kw, kv, ky;
    RCL_TRY(rcl_ctx_kernel(ctx, "conv_wino.cl", f4 ? "conv_wino4_w" : "conv_wino_w", opts, &kw));
    RCL_TRY(rcl_ctx_kernel(ctx, "conv_wino.cl", f4 ? "conv_wino4_vt" : "conv_wino_vt", opts, &kv));
    RCL_TRY(rcl_ctx_kernel(ctx, "conv_wino.cl", f4 ? "conv_wino4_yt" : "conv_wino_yt", opts, &ky));
    int tiles = p->th * p->tt, CI = p->ci, CO = p->co, np = p->npos;
    rcl_conv_wino_bytes sb;
    rcl_conv_wino_gemm_scratch(ctx, p, &sb);
    cl_mem vm, u;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, sb.col, &vm));
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, sb.tmp, &u));
    RCL_TRY(filter_transform(ctx, kw, tag, u, w, CI, CO, dx, 1, wg));
    for (int n0 = 0; n0 < s->N; n0 += p->nb) {
        int cur = s->N - n0 < p->nb ? s->N - n0 : p->nb;
        int T = cur * tiles, nwi;
        int TP = wino_gemm_tiles(ctx, p, T, &nwi);
        size_t moff = (size_t)np * CI * TP; /* M after V */
        size_t tv = ((size_t)TP + per - 1) / per;
        size_t gv[2] = {(tv + wg - 1) / wg * wg, (size_t)CI}, lv[2] = {wg, 1};
        if (f4)
            RCL_TRY(RCL_LAUNCH(ctx, kv, tag, 2, gv, lv, RCL_MEM(vm), RCL_MEM(in), RCL_I32(n0),
                               RCL_I32(T), RCL_I32(TP), RCL_I32(nwi ? nwi : T), RCL_I32(CI), RCL_I32(ih),
                               RCL_I32(iw), RCL_I32(ph), RCL_I32(pw), RCL_I32(p->th),
                               RCL_I32(p->tt)));
        else
            RCL_TRY(RCL_LAUNCH(ctx, kv, tag, 2, gv, lv, RCL_MEM(vm), RCL_MEM(in), RCL_I32(n0),
                               RCL_I32(T), RCL_I32(CI), RCL_I32(ih), RCL_I32(iw), RCL_I32(ph),
                               RCL_I32(pw), RCL_I32(p->th), RCL_I32(p->tt)));
        /* M[q] (CO x T) = U[q] (CO x CI) V[q] (CI x T): one launch on V's
         * panels, else one GEMM per position */
        if (nwi) {
            rcl_gemm_batch bt = {np, (size_t)CI * CO, (size_t)CI * TP, (size_t)CO * T};
            RCL_TRY(rcl_gemm_packed_b_batch(ctx, 0, CO, T, CI, 1.0f, u, 0, CI, vm, 0.0f, vm,
                                            moff, T, &bt, tag));
        } else {
            for (int q = 0; q < np; q++)
                RCL_TRY(rcl_gemm(ctx, 0, 0, CO, T, CI, 1.0f, u, (size_t)q * CI * CO, CI, vm,
                                 (size_t)q * CI * T, T, 0.0f, vm, moff + (size_t)q * CO * T, T,
                                 tag));
        }
        size_t ty = ((size_t)T + per - 1) / per;
        size_t gy[2] = {(ty + wg - 1) / wg * wg, (size_t)CO};
        RCL_TRY(RCL_LAUNCH(ctx, ky, tag, 2, gy, lv, RCL_MEM(out), RCL_MEM(vm), RCL_I32((int)moff),
                           RCL_MEM(b ? b : u), RCL_I32(b != NULL), RCL_MEM(res ? res : out),
                           RCL_I32(res ? epi : epi & ~RCL_CONV_EPI_RES), RCL_I32(n0), RCL_I32(T),
                           RCL_I32(CO), RCL_I32(oh), RCL_I32(ow), RCL_I32(p->th),
                           RCL_I32(p->tt)));
    }
    return RCL_OK;
}
