/* Small-map convolution as dense GEMMs (conv2d_dense.h; the math in
 * cl/conv_dense.cl): y = x D^T, dx = sum_p dy_p D_p (one GEMM per output
 * pixel), dw = fold(dy^T x), with D (OC*P x C*Q) built from w per call (a
 * few MiB at most: the rule's budget). */
#include "ops/conv2d_dense.h"
#include "rcl/gemm.h"

#include <stdio.h>

/* cl/conv_dense.cl's kernel `name` built for this geometry */
static int dense_kernel(rcl_ctx *ctx, const char *name, const rcl_conv_shape *s, cl_kernel *k,
                        size_t *wg)
{
    *wg = rcl_wg_clamp(ctx, 256);
    char opts[160];
    snprintf(opts, sizeof opts,
             "-DWG=%zu -DDP=%d -DDQ=%d -DDW=%d -DDOW=%d -DDKH=%d -DDKW=%d -DDS=%d -DDPH=%d "
             "-DDPW=%d",
             *wg, s->OH * s->OW, s->H * s->W, s->W, s->OW, s->KH, s->KW, s->S, s->PH, s->PW);
    return rcl_ctx_kernel(ctx, "conv_dense.cl", name, opts, k);
}

/* D with rows p*OC + oc (tr 0) or D^T (tr 1) of w into d */
static int build_into(rcl_ctx *ctx, cl_mem d, cl_mem w, const rcl_conv_shape *s, int tr)
{
    cl_kernel k;
    size_t wg;
    RCL_TRY(dense_kernel(ctx, "conv_dense_w", s, &k, &wg));
    size_t gl[2] = {(size_t)(tr ? s->OC : s->C), (size_t)(tr ? s->C : s->OC)}, lo[2] = {wg, 1};
    return RCL_LAUNCH(ctx, k, "conv_dense", 2, gl, lo, RCL_MEM(d), RCL_MEM(w), RCL_I32(tr),
                      RCL_I32(s->C), RCL_I32(s->OC));
}

/* the same into slot TMP: *d */
static int build_d(rcl_ctx *ctx, cl_mem w, const rcl_conv_shape *s, int tr, cl_mem *d)
{
    size_t n = (size_t)s->C * s->H * s->W * s->OC * s->OH * s->OW;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, n * sizeof(float), d));
    return build_into(ctx, *d, w, s, tr);
}

int rcl_conv_dense_build_t(rcl_ctx *ctx, cl_mem dt, cl_mem w, const rcl_conv_shape *s)
{
    return build_into(ctx, dt, w, s, 1);
}

/* y = x op(B) (NN, or NT where tb), with co in the store where it can */
static int dense_gemm(rcl_ctx *ctx, int tb, cl_mem y, cl_mem x, cl_mem b, int ldb, int N, int OCP,
                      int CQ, const rcl_gemm_conv_out *co)
{
    if (co && rcl_gemm_epi_ok(ctx, 0, tb, N, OCP, CQ)) {
        RCL_TRY(rcl_gemm_epi(ctx, 0, tb, N, OCP, CQ, 1.0f, x, 0, CQ, b, 0, ldb, y, 0, OCP, co,
                             "conv_fwd_gemm"));
        return 1;
    }
    RCL_TRY(rcl_gemm(ctx, 0, tb, N, OCP, CQ, 1.0f, x, 0, CQ, b, 0, ldb, 0.0f, y, 0, OCP,
                     "conv_fwd_gemm"));
    return 0;
}

int rcl_conv_dense_forward_t(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem dt,
                             const rcl_conv_shape *s, const rcl_gemm_conv_out *co)
{
    int CQ = s->C * s->H * s->W, OCP = s->OC * s->OH * s->OW;
    return dense_gemm(ctx, 0, y, x, dt, OCP, s->N, OCP, CQ, co);
}

int rcl_conv_dense_pack_t(rcl_ctx *ctx, cl_mem dtp, cl_mem w, int nwi, const rcl_conv_shape *s)
{
    int CQ = s->C * s->H * s->W, OCP = s->OC * s->OH * s->OW;
    /* panels of op(B) = D^T are rows of D (OCP x CQ): w itself (OC x C)
     * for the identity, else D^T built plain (CQ x OCP) and read across */
    if (rcl_conv_dense_identity(s)) return rcl_pack_panels(ctx, dtp, w, 0, CQ, 0, OCP, CQ, nwi);
    cl_mem dt;
    RCL_TRY(build_d(ctx, w, s, 1, &dt));
    return rcl_pack_panels(ctx, dtp, dt, 0, OCP, 1, OCP, CQ, nwi);
}

int rcl_conv_dense_forward_packed(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem dtp, int nwi,
                                  const rcl_conv_shape *s, const rcl_gemm_conv_out *co)
{
    int CQ = s->C * s->H * s->W, OCP = s->OC * s->OH * s->OW;
    RCL_TRY(rcl_gemm_packed_b_nwi(ctx, s->N, OCP, CQ, nwi, 1.0f, x, 0, CQ, dtp, 0.0f, y, 0, OCP,
                                  co, "conv_fwd_gemm"));
    return co != NULL;
}

int rcl_conv_dense_forward(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem w, const rcl_conv_shape *s,
                           const rcl_gemm_conv_out *co)
{
    int CQ = s->C * s->H * s->W, OCP = s->OC * s->OH * s->OW;
    if (rcl_conv_dense_identity(s)) { /* y = x w^T, or y^T = w x^T in slot TMP transposed */
        if (!rcl_conv_dense_y_transposed(s))
            return dense_gemm(ctx, 1, y, x, w, CQ, s->N, OCP, CQ, co);
        cl_mem yt;
        RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, (size_t)s->OC * s->N * sizeof(float), &yt));
        RCL_TRY(rcl_gemm(ctx, 0, 1, s->OC, s->N, CQ, 1.0f, w, 0, CQ, x, 0, CQ, 0.0f, yt, 0, s->N,
                         "conv_fwd_gemm"));
        RCL_TRY(rcl_transpose(ctx, y, yt, 0, s->N, s->OC, s->N));
        return 0;
    }
    cl_mem dt;
    RCL_TRY(build_d(ctx, w, s, 1, &dt));
    return rcl_conv_dense_forward_t(ctx, y, x, dt, s, co);
}

int rcl_conv_dense_backward(rcl_ctx *ctx, cl_mem dx, cl_mem dw, cl_mem dy, cl_mem x, cl_mem w,
                            const rcl_conv_shape *s)
{
    int Q = s->H * s->W, P = s->OH * s->OW, CQ = s->C * Q, OCP = s->OC * P;
    int ident = rcl_conv_dense_identity(s);
    if (dx && P == 1) { /* dx = dy D, D = w where the conv is the identity's */
        cl_mem d = w;
        if (!ident) RCL_TRY(build_d(ctx, w, s, 0, &d));
        RCL_TRY(rcl_gemm(ctx, 0, 0, s->N, CQ, OCP, 1.0f, dy, 0, OCP, d, 0, CQ, 0.0f, dx, 0, CQ,
                         "conv_bwd_data_gemm"));
    } else if (dx) { /* dx = sum_p dy_p D_p, p descending (cl/conv_dense.cl) */
        cl_mem d, dyp;
        RCL_TRY(build_d(ctx, w, s, 0, &d));
        /* dy as (P, N*OC): dy_p at p*N*OC, N x OC */
        RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, (size_t)s->N * OCP * sizeof(float), &dyp));
        RCL_TRY(rcl_transpose(ctx, dyp, dy, 0, P, s->N * s->OC, P));
        for (int p = P - 1; p >= 0; p--)
            RCL_TRY(rcl_gemm(ctx, 0, 0, s->N, CQ, s->OC, 1.0f, dyp, (size_t)p * s->N * s->OC,
                             s->OC, d, (size_t)p * s->OC * CQ, CQ, p == P - 1 ? 0.0f : 1.0f, dx,
                             0, CQ, "conv_bwd_data_gemm"));
    }
    if (!dw) return RCL_OK;
    cl_mem dd = dw;
    if (!ident)
        RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, (size_t)CQ * OCP * sizeof(float), &dd));
    RCL_TRY(rcl_gemm(ctx, 1, 0, OCP, CQ, s->N, 1.0f, dy, 0, OCP, x, 0, CQ, 0.0f, dd, 0, CQ,
                     "conv_bwd_weight_gemm"));
    if (ident) return RCL_OK;
    cl_kernel k;
    size_t wg;
    RCL_TRY(dense_kernel(ctx, "conv_dense_fold", s, &k, &wg));
    size_t gl[2] = {(size_t)s->C, (size_t)s->OC}, lo[2] = {wg, 1};
    return RCL_LAUNCH(ctx, k, "conv_dense", 2, gl, lo, RCL_MEM(dw), RCL_MEM(dd), RCL_I32(s->C),
                      RCL_I32(s->OC));
}
