/* Direct convolution host side (conv2d_direct.h): zero-padded copies of a
 * chunk of images in scratch slot COL, the kernels of cl/conv_direct.cl on
 * it; the data gradient's flipped weights and the weight gradient's partial
 * sums in slot TMP. The layout of each pass (vector width, padded planes,
 * images per chunk, row groups) is rcl_conv_direct_plan_for's
 * (conv2d_chunk.c), which keeps both slots within what the im2col path
 * would use for the same shape. */
#include "ops/conv2d_direct.h"
#include "ops/conv2d_wino.h"
#include "gemm/gemm_internal.h" /* rcl_gemm_vec_width */

#include <stdio.h>

typedef struct direct_kernels {
    rcl_conv_direct_plan p;
    size_t wg;
    char opts[160];
} direct_kernels;

int rcl_conv_direct_vw(const rcl_ctx *ctx)
{
    int vw = rcl_tun(ctx, RCL_TUN_CONV_DIRECT_VW), pref = rcl_gemm_vec_width(ctx);
    if (pref < 4) pref = 4;
    return vw < pref ? vw : pref;
}

/* the build options of one variant (the tunables, then the shape) */
static void options(rcl_ctx *ctx, direct_kernels *k, int kh, int kw, int stride)
{
    k->wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_CONV_DIRECT_WG));
    snprintf(k->opts, sizeof k->opts,
             "-DVW=%d -DOCB=%d -DWOCB=%d -DWG=%zu -DWSPLIT=%d -DVX=%d -DKH=%d -DKW=%d -DKK=%d "
             "-DS=%d",
             rcl_tun(ctx, RCL_TUN_CONV_DIRECT_VW), rcl_tun(ctx, RCL_TUN_CONV_DIRECT_OCB),
             rcl_tun(ctx, RCL_TUN_CONV_DIRECT_WOCB), k->wg,
             kh * kw > 16 ? 1 : rcl_tun(ctx, RCL_TUN_CONV_DIRECT_WSPLIT), k->p.vx, kh, kw,
             kh * kw, stride);
}

static int plan(rcl_ctx *ctx, const rcl_conv_shape *s, int pass, direct_kernels *k)
{
    if (!rcl_conv_direct_plan_for(s, pass, rcl_conv_direct_vw(ctx),
                                  rcl_tun(ctx, RCL_TUN_CONV_COL_BUDGET_MB),
                                  rcl_ctx_device(ctx)->max_alloc,
                                  (int)rcl_ctx_device(ctx)->compute_units,
                                  rcl_tun(ctx, RCL_TUN_CONV_CHUNK_KB), &k->p))
        return rcl_fail(RCL_ERR_UNSUPPORTED,
                        "conv2d direct: %dx%d kernel, stride %d on %dx%d x %d channels does not "
                        "fit the direct path",
                        s->KH, s->KW, s->S, s->H, s->W, s->C);
    options(ctx, k, s->KH, s->KW, pass == RCL_CONV_DX ? 1 : s->S);
    return RCL_OK;
}

static int kernel(rcl_ctx *ctx, const direct_kernels *k, const char *name, cl_kernel *out)
{
    return rcl_ctx_kernel(ctx, "conv_direct.cl", name, k->opts, out);
}

/* xp[nl, c, hp, wp] of images n0 .. n0+nb-1 of src (N, C, H, W): see
 * cl/conv_direct.cl conv_pad */
static int pad(rcl_ctx *ctx, const direct_kernels *k, cl_mem xp, cl_mem src, int n0, int nb,
               int C, int H, int W, int ds, int offh, int offw, int split)
{
    cl_kernel kp;
    RCL_TRY(kernel(ctx, k, "conv_pad", &kp));
    int rows = nb * C * k->p.hp;
    size_t gl[1] = {(size_t)rows}, lo[1] = {k->wg};
    return RCL_LAUNCH(ctx, kp, "conv_pad", 1, gl, lo, RCL_MEM(xp), RCL_MEM(src), RCL_I32(n0),
                      RCL_I32(rows), RCL_I32(C), RCL_I32(H), RCL_I32(W), RCL_I32(k->p.hp),
                      RCL_I32(k->p.wp), RCL_I32(ds), RCL_I32(offh), RCL_I32(offw),
                      RCL_I32(split));
}

/* conv_fwd over a padded chunk: out (.., OC, OH, OW) images n0 .. n0+nb-1 */
static int fwd(rcl_ctx *ctx, const direct_kernels *k, const char *tag, cl_mem out, cl_mem xp,
               cl_mem w, cl_mem b, cl_mem res, int epi, int n0, int nb, int C, int OC, int OH,
               int OW)
{
    cl_kernel kf;
    RCL_TRY(kernel(ctx, k, "conv_fwd", &kf));
    int ocb = rcl_tun(ctx, RCL_TUN_CONV_DIRECT_OCB);
    size_t gl[3] = {(size_t)k->p.tw * OH, (size_t)((OC + ocb - 1) / ocb), (size_t)nb};
    size_t lo[3] = {k->wg, 1, 1};
    return RCL_LAUNCH(ctx, kf, tag, 3, gl, lo, RCL_MEM(out), RCL_MEM(xp), RCL_MEM(w),
                      RCL_MEM(b ? b : w), RCL_I32(b != NULL), RCL_MEM(res ? res : out),
                      RCL_I32(res ? epi : epi & ~RCL_CONV_EPI_RES), RCL_I32(n0), RCL_I32(C),
                      RCL_I32(k->p.hp), RCL_I32(k->p.wp), RCL_I32(OC), RCL_I32(OH), RCL_I32(OW),
                      RCL_I32(k->p.tw));
}

int rcl_conv_direct_forward(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem w, cl_mem b, cl_mem res,
                            int epi, const rcl_conv_shape *s)
{
    rcl_conv_wino_plan wp;
    if (rcl_conv_wino_choose(ctx, s, RCL_CONV_FWD, &wp))
        return rcl_conv_wino_forward(ctx, y, x, w, b, res, epi, s, &wp);
    direct_kernels k;
    RCL_TRY(plan(ctx, s, RCL_CONV_FWD, &k));
    cl_mem xp;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL,
                        (size_t)k.p.nb * s->C * k.p.hp * k.p.wp * sizeof(float), &xp));
    for (int n0 = 0; n0 < s->N; n0 += k.p.nb) {
        int cur = s->N - n0 < k.p.nb ? s->N - n0 : k.p.nb;
        RCL_TRY(pad(ctx, &k, xp, x, n0, cur, s->C, s->H, s->W, 1, s->PH, s->PW, s->S == 2));
        RCL_TRY(fwd(ctx, &k, "conv_fwd_direct", y, xp, w, b, res, epi, n0, cur, s->C, s->OC,
                    s->OH, s->OW));
    }
    return RCL_OK;
}

int rcl_conv_direct_dx(rcl_ctx *ctx, cl_mem dx, cl_mem dy, cl_mem w, cl_mem dx_add,
                       const rcl_conv_shape *s)
{
    rcl_conv_wino_plan wp;
    if (rcl_conv_wino_choose(ctx, s, RCL_CONV_DX, &wp))
        return rcl_conv_wino_dx(ctx, dx, dy, w, dx_add, s, &wp);
    direct_kernels k;
    RCL_TRY(plan(ctx, s, RCL_CONV_DX, &k));
    int KK = s->KH * s->KW, M = s->OC * s->C * KK;
    cl_mem dyp, wf;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL,
                        (size_t)k.p.nb * s->OC * k.p.hp * k.p.wp * sizeof(float), &dyp));
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, (size_t)M * sizeof(float), &wf));
    cl_kernel kf;
    RCL_TRY(kernel(ctx, &k, "conv_flip", &kf));
    size_t gl[1] = {(size_t)M}, lo[1] = {k.wg};
    RCL_TRY(RCL_LAUNCH(ctx, kf, "conv_bwd_data_direct", 1, gl, lo, RCL_MEM(wf), RCL_MEM(w),
                       RCL_I32(s->OC), RCL_I32(s->C)));
    for (int n0 = 0; n0 < s->N; n0 += k.p.nb) {
        int cur = s->N - n0 < k.p.nb ? s->N - n0 : k.p.nb;
        /* dy dilated by the stride, padded by K-1-pad: a stride-1 conv with
         * the flipped weights gives dx */
        RCL_TRY(pad(ctx, &k, dyp, dy, n0, cur, s->OC, s->OH, s->OW, s->S, s->KH - 1 - s->PH,
                    s->KW - 1 - s->PW, 0));
        RCL_TRY(fwd(ctx, &k, "conv_bwd_data_direct", dx, dyp, wf, NULL, dx_add,
                    dx_add ? RCL_CONV_EPI_RES : 0, n0, cur, s->OC, s->C, s->H, s->W));
    }
    return RCL_OK;
}

int rcl_conv_direct_dw(rcl_ctx *ctx, cl_mem dw, cl_mem dy, cl_mem x, const rcl_conv_shape *s)
{
    rcl_conv_wino_plan wp;
    if (rcl_conv_wino_choose(ctx, s, RCL_CONV_DW, &wp))
        return rcl_conv_wino_dw(ctx, dw, dy, x, s);
    direct_kernels k;
    RCL_TRY(plan(ctx, s, RCL_CONV_DW, &k));
    int KK = s->KH * s->KW, M = s->OC * s->C * KK, G = k.p.g;
    cl_mem xp, part;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL,
                        (size_t)k.p.nb * s->C * k.p.hp * k.p.wp * sizeof(float), &xp));
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, (size_t)G * M * sizeof(float), &part));
    cl_kernel kw, ks;
    RCL_TRY(kernel(ctx, &k, "conv_dw", &kw));
    RCL_TRY(kernel(ctx, &k, "conv_dw_sum", &ks));
    int wocb = rcl_tun(ctx, RCL_TUN_CONV_DIRECT_WOCB);
    size_t rows = rcl_tun(ctx, RCL_TUN_CONV_DIRECT_WSPLIT) ? (size_t)s->KH : 1; /* per c */
    for (int n0 = 0; n0 < s->N; n0 += k.p.nb) {
        int cur = s->N - n0 < k.p.nb ? s->N - n0 : k.p.nb;
        RCL_TRY(pad(ctx, &k, xp, x, n0, cur, s->C, s->H, s->W, 1, s->PH, s->PW, s->S == 2));
        size_t gl[3] = {(size_t)s->C * rows, (size_t)((s->OC + wocb - 1) / wocb), (size_t)G};
        size_t lo[3] = {k.wg, 1, 1};
        RCL_TRY(RCL_LAUNCH(ctx, kw, "conv_bwd_weight_direct", 3, gl, lo, RCL_MEM(part),
                           RCL_MEM(dy), RCL_MEM(xp), RCL_I32(n0), RCL_I32(cur), RCL_I32(s->C),
                           RCL_I32(k.p.hp), RCL_I32(k.p.wp), RCL_I32(s->OC), RCL_I32(s->OH),
                           RCL_I32(s->OW), RCL_I32(G)));
        size_t gs[1] = {(size_t)M}, ls[1] = {k.wg};
        RCL_TRY(RCL_LAUNCH(ctx, ks, "conv_bwd_weight_direct", 1, gs, ls, RCL_MEM(dw),
                           RCL_MEM(part), RCL_I32(M), RCL_I32(G), RCL_I32(n0 > 0)));
    }
    return RCL_OK;
}

int rcl_conv_taps(rcl_ctx *ctx, cl_mem w, cl_mem wt, int planes, int fkh, int fkw, int kh0,
                  int kw0, int tkh, int tkw, int dir)
{
    /* the kernel reads no shape macro: the 1x1 stride-1 variant's build */
    direct_kernels k = {.p = {.vx = 4}};
    options(ctx, &k, 1, 1, 1);
    cl_kernel kt;
    RCL_TRY(kernel(ctx, &k, "conv_taps", &kt));
    size_t gl[1] = {(size_t)planes}, lo[1] = {k.wg};
    return RCL_LAUNCH(ctx, kt, "conv_taps", 1, gl, lo, RCL_MEM(w), RCL_MEM(wt), RCL_I32(planes),
                      RCL_I32(fkh), RCL_I32(fkw), RCL_I32(kh0), RCL_I32(kw0), RCL_I32(tkh),
                      RCL_I32(tkw), RCL_I32(dir));
}
