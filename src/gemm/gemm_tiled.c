/* Host side of our register-tiled GEMM (cl/gemm.cl). Edges are handled in
 * the kernel (clamped loads, masked stores), so no padded copies are made;
 * the only copies are the optional transpose (XB 1) or packing (XB 2) of
 * op(B) and packing of op(A) (XA); XB 3 copies blocks of op(B) into local
 * memory inside the kernel. */
#include "gemm/gemm_internal.h"
#include "runtime/internal.h"

#include <stdio.h>

const char *const rcl_gemm_tiled_names[RCL_GEMM_TILED_NPARAMS] = {"MWI", "NWI", "VW", "KU",
                                                                  "KB",  "WGM", "WGN", "MS",
                                                                  "XB",  "XA"};

int *rcl_gemm_tiled_field(rcl_gemm_tiled_params *p, int i)
{
    switch (i) {
    case 0: return &p->mwi;
    case 1: return &p->nwi;
    case 2: return &p->vw;
    case 3: return &p->ku;
    case 4: return &p->kb;
    case 5: return &p->wgm;
    case 6: return &p->wgn;
    case 7: return &p->ms;
    case 8: return &p->xb;
    case 9: return &p->xa;
    default: return NULL;
    }
}

void rcl_gemm_tiled_to_ints(const rcl_gemm_tiled_params *p, int *v)
{
    rcl_gemm_tiled_params c = *p;
    for (int i = 0; i < RCL_GEMM_TILED_NPARAMS; i++) v[i] = *rcl_gemm_tiled_field(&c, i);
}

rcl_gemm_tiled_params rcl_gemm_tiled_from_ints(const int *v)
{
    rcl_gemm_tiled_params p = {0};
    for (int i = 0; i < RCL_GEMM_TILED_NPARAMS; i++) *rcl_gemm_tiled_field(&p, i) = v[i];
    return p;
}

int rcl_gemm_vec_width(const rcl_ctx *ctx)
{
    cl_uint w = 1;
    if (clGetDeviceInfo(ctx->dev.device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof w, &w,
                        NULL) != CL_SUCCESS || w < 1)
        w = 1;
    return (int)w;
}

rcl_gemm_tiled_params rcl_gemm_tiled_dot_defaults(int vec_width)
{
    if (vec_width < 4)
        return (rcl_gemm_tiled_params){.mwi = 2, .nwi = 2, .vw = 1, .ku = 1, .kb = 0, .wgm = 4,
                                       .wgn = 8};
    /* 4x2 dot products over vw k lanes */
    int vw = vec_width >= 16 ? 16 : vec_width >= 8 ? 8 : 4;
    return (rcl_gemm_tiled_params){.mwi = 4, .nwi = 2, .vw = vw, .ku = 2, .kb = 0, .wgm = 1,
                                   .wgn = 8, .ms = 1};
}

rcl_gemm_tiled_params rcl_gemm_tiled_defaults(int vec_width, int trans_a, int trans_b)
{
    if (vec_width < 4) {
        /* SIMD across work-items: small scalar tiles, 2-D work-groups */
        if (trans_b && !trans_a) return rcl_gemm_tiled_dot_defaults(vec_width);
        return (rcl_gemm_tiled_params){.mwi = 2, .nwi = 4, .vw = 1, .ku = 1, .kb = 0, .wgm = 4,
                                       .wgn = 8};
    }
    /* explicit vectors; picked on PoCL 3.1 / 2-core AVX2 (width 8, 16
     * registers): 12 accumulator vectors (4 x 3 or 6 x 2, + the op(B)
     * vectors + 1 for the broadcast op(A) = 16 or 15 registers), no k
     * blocks, every kind in the outer form on packed operands. */
    int vw = vec_width >= 16 ? 16 : vec_width >= 8 ? 8 : 4;
    if (trans_a && !trans_b) /* TN: op(A) = A^T packed into panels first
                              * (reading it in place strides a page per k);
                              * B is read in place; 6 x 2 vectors (N is as
                              * small as 100 here: 2*vw columns waste less
                              * of the last tile), groups of 8x8; of 8x1
                              * with 16-wide vectors (AVX-512: the tuner's
                              * pick on 4 of resnet50's 5 data-gradient
                              * classes at 224x224, docs/speed.md
                              * "Session 33") */
        return (rcl_gemm_tiled_params){.mwi = 6, .nwi = 2 * vw, .vw = vw, .ku = 4, .kb = 0,
                                       .wgm = 8, .wgn = vw >= 16 ? 1 : 8, .ms = 0, .xa = 1};
    /* NN, NT, TT: op(B) packed into panels of nwi columns (each work-item
     * then streams one contiguous panel instead of a row of B per k, and
     * NT needs no dot products); a group of 16 work-items goes down M
     * over one panel, which stays in cache; TT packs op(A) as well */
    return (rcl_gemm_tiled_params){.mwi = 4, .nwi = 3 * vw, .vw = vw, .ku = 4, .kb = 0,
                                   .wgm = 16, .wgn = 1, .ms = 1, .xb = 2,
                                   .xa = trans_a && trans_b};
}

int rcl_gemm_tiled_valid(const rcl_gemm_tiled_params *p, int trans_a, int trans_b)
{
    if (p->xb < 0 || p->xb > 3 || (p->xb == 1 && !trans_b)) return 0;
    /* XB 3 stages k blocks in local memory: KB x WGN*NWI floats, within
     * the 32 KiB every OpenCL device has */
    if (p->xb == 3 && (p->kb <= 0 || (long)p->kb * p->wgn * p->nwi > 8192)) return 0;
    int dot = rcl_gemm_tiled_dot(p, trans_a, trans_b);
    if (p->mwi < 1 || p->nwi < 1 || p->ku < 1 || p->wgm < 1 || p->wgn < 1) return 0;
    if (p->vw != 1 && p->vw != 2 && p->vw != 4 && p->vw != 8 && p->vw != 16) return 0;
    if (!dot && p->nwi % p->vw) return 0;
    /* the kernel unrolls at most 16 rows and 16 vectors (cl/gemm.cl) */
    if (p->mwi > 16 || (dot ? p->nwi : p->nwi / p->vw) > 16 || p->ku > 16) return 0;
    int acc = dot ? p->mwi * p->nwi * p->vw : p->mwi * p->nwi; /* accumulator floats */
    if (acc > 1024) return 0;
    if (p->wgm * p->wgn > 1024) return 0;
    if (p->kb < 0 || p->kb > 65536 || (dot && p->kb % p->vw)) return 0;
    if (p->ms != 0 && p->ms != 1) return 0;
    if (p->xa != 0 && (p->xa != 1 || dot)) return 0;
    return 1;
}

rcl_gemm_tiled_params rcl_gemm_tiled_from_table(const rcl_ctx *ctx, const char *key, int trans_a,
                                                int trans_b)
{
    rcl_gemm_tiled_params p = rcl_gemm_tiled_defaults(rcl_gemm_vec_width(ctx), trans_a, trans_b);
    /* a class tuned before XA existed (no "XA" entry) keeps reading A in
     * place, as it was timed, whatever the defaults say */
    if (rcl_ctx_param(ctx, key, "MWI", -1) >= 0) p.xa = 0;
    for (int i = 0; i < RCL_GEMM_TILED_NPARAMS; i++) {
        int *f = rcl_gemm_tiled_field(&p, i);
        *f = rcl_ctx_param(ctx, key, rcl_gemm_tiled_names[i], *f);
    }
    return p;
}

/* b_packed: B already holds op(B) in XB 2's panels (p->xb is 2), made by
 * the caller; ldb and trans_b are then not read. b_img > 0: B holds op(B)
 * as images of b_img pixels (cl/gemm.cl BI), read in place whatever XB
 * (0 or 2) says; ldb and trans_b are not read. bt: NULL, or a batch of
 * GEMMs (b_packed only: B is never copied) */
static int tiled_run(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int trans_b,
                     int M, int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem B,
                     size_t off_b, int ldb, int b_packed, int b_img, float beta, cl_mem C,
                     size_t off_c, int ldc, const rcl_gemm_conv_out *co,
                     const rcl_gemm_batch *bt, const char *tag)
{
    if (b_packed || b_img) trans_b = 0, ldb = N; /* as after the pack below */
    if (bt && (bt->n < 1 || !b_packed || co || p->xa))
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: a batch needs op(B) packed, no conv output "
                        "and op(A) read in place", tag);
    if (!p || !rcl_gemm_tiled_valid(p, trans_a, trans_b) || (b_packed && p->xb != 2) ||
        (b_img && (b_packed || (p->xb != 0 && p->xb != 2))))
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: invalid tiled parameters", tag);
    if (b_img && (b_img < 0 || (b_img % p->vw && b_img < p->vw) || N % b_img || N % p->vw))
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: op(B) as images of %d pixels needs N (%d) a "
                        "multiple of it and of the vector width %d, and the pixels a multiple "
                        "of that width or at least it", tag, b_img, N, p->vw);
    if (co && (co->p < 1 || N % co->p || beta != 0.0f || rcl_gemm_tiled_dot(p, trans_a, trans_b) ||
               ((co->epi & 1) && !co->res) || (!co->row_major && ldc != N)))
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: conv output needs N a multiple of P, beta 0, "
                        "the outer form, res for epi bit 0 (and ldc N in its layout)", tag);
    int ar = trans_a ? K : M, ac = trans_a ? M : K;
    int br = trans_b ? N : K, bc = trans_b ? K : N;
    if (lda < ac || ldb < bc || ldc < N)
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: lda %d ldb %d ldc %d too small", tag, lda, ldb,
                        ldc);
    size_t panels_b = (size_t)(N + p->nwi - 1) / p->nwi * p->nwi * (size_t)K;
    size_t za = 0, zb = 0, zc = 0; /* the last GEMM of a batch: its offsets past the first's */
    if (bt) {
        size_t z = (size_t)bt->n - 1;
        if (bt->sa > (size_t)INT_MAX || bt->sb > (size_t)INT_MAX || bt->sc > (size_t)INT_MAX)
            return rcl_fail(RCL_ERR_UNSUPPORTED, "gemm %s: batch of 2^31 or more floats", tag);
        za = bt->sa * z, zb = bt->sb * z, zc = bt->sc * z;
    }
    if (!rcl_fits_int(off_a + za, ar, ac, lda) ||
        (b_packed ? off_b + zb + panels_b > (size_t)INT_MAX
         : b_img  ? off_b + (size_t)K * N > (size_t)INT_MAX
                  : !rcl_fits_int(off_b, br, bc, ldb)) ||
        !rcl_fits_int(off_c + zc, M, N, ldc))
        return rcl_fail(RCL_ERR_UNSUPPORTED, "gemm %s: matrix of 2^31 or more floats", tag);
    if (p->xb == 3 && ctx->dev.local_mem &&
        (uint64_t)p->kb * p->wgn * p->nwi * sizeof(float) > ctx->dev.local_mem)
        return rcl_fail(RCL_ERR_UNSUPPORTED, "gemm %s: XB 3 block of %d x %d floats exceeds the "
                        "device's local memory", tag, p->kb, p->wgn * p->nwi);
    if ((size_t)p->wgm * p->wgn > ctx->dev.max_wg_size)
        return rcl_fail(RCL_ERR_UNSUPPORTED, "gemm %s: work-group %dx%d exceeds device limit %zu",
                        tag, p->wgn, p->wgm, ctx->dev.max_wg_size);
    if (b_img) {
        /* read in place */
    } else if (p->xb == 2 && !b_packed) { /* op(B) -> panels of nwi columns, K x ceil(N/nwi)*nwi */
        cl_mem bp;
        RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_GEMM, panels_b * sizeof(float), &bp));
        /* panel q of op(B) = rows q*nwi.. of op(B)^T, which is B read the
         * other way round */
        RCL_TRY(rcl_pack_panels(ctx, bp, B, off_b, ldb, !trans_b, N, K, p->nwi));
        B = bp, off_b = 0, ldb = N, trans_b = 0;
    } else if (p->xb == 1) { /* op(B) = B^T (N x K, ldb) -> K x N, tight, in scratch */
        cl_mem bt;
        RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_GEMM, (size_t)K * N * sizeof(float), &bt));
        RCL_TRY(rcl_transpose(ctx, bt, B, off_b, ldb, N, K));
        B = bt, off_b = 0, ldb = N, trans_b = 0;
    }
    if (p->xa) { /* op(A) -> panels of mwi rows, ceil(M/mwi)*mwi x K floats */
        cl_mem ap;
        size_t n = (size_t)(M + p->mwi - 1) / p->mwi * p->mwi * (size_t)K;
        RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_GEMM_A, n * sizeof(float), &ap));
        RCL_TRY(rcl_pack_panels(ctx, ap, A, off_a, lda, trans_a, M, K, p->mwi));
        A = ap, off_a = 0;
    }
    char opts[256];
    snprintf(opts, sizeof opts,
             "-DTA=%d -DTB=%d -DPA=%d -DPB=%d -DLB=%d -DMWI=%d -DNWI=%d -DVW=%d -DKU=%d "
             "-DKB=%d -DWGM=%d -DWGN=%d -DMS=%d -DCP=%d -DCE=%d -DBA=%d -DBI=%d",
             trans_a ? 1 : 0, trans_b ? 1 : 0, p->xa, p->xb == 2 && !b_img, p->xb == 3, p->mwi,
             p->nwi, p->vw, p->ku, p->kb, p->wgm, p->wgn, p->ms,
             co && !co->row_major ? co->p : 0, co && co->row_major ? co->p : 0, bt != NULL,
             b_img);
    cl_kernel k;
    RCL_TRY(rcl_ctx_kernel(ctx, "gemm.cl", "gemm", opts, &k));
    size_t global[3] = {(size_t)(N + p->nwi - 1) / p->nwi, (size_t)(M + p->mwi - 1) / p->mwi,
                        bt ? (size_t)bt->n : 1};
    size_t local[3] = {(size_t)p->wgn, (size_t)p->wgm, 1};
    if (bt)
        return RCL_LAUNCH(ctx, k, tag, 3, global, local, RCL_I32(M), RCL_I32(N), RCL_I32(K),
                          RCL_F32(alpha), RCL_MEM(A), RCL_I32(off_a), RCL_I32(lda), RCL_MEM(B),
                          RCL_I32(off_b), RCL_I32(ldb), RCL_F32(beta), RCL_MEM(C), RCL_I32(off_c),
                          RCL_I32(ldc), RCL_I32((int)bt->sa), RCL_I32((int)bt->sb),
                          RCL_I32((int)bt->sc));
    if (co)
        return RCL_LAUNCH(ctx, k, tag, 2, global, local, RCL_I32(M), RCL_I32(N), RCL_I32(K),
                          RCL_F32(alpha), RCL_MEM(A), RCL_I32(off_a), RCL_I32(lda), RCL_MEM(B),
                          RCL_I32(off_b), RCL_I32(ldb), RCL_F32(beta), RCL_MEM(C),
                          RCL_I32(off_c), RCL_I32(ldc), RCL_MEM(co->bias ? co->bias : C),
                          RCL_I32(co->bias != NULL), RCL_MEM(co->res ? co->res : C),
                          RCL_I32(co->res ? co->epi : co->epi & ~1));
    return RCL_LAUNCH(ctx, k, tag, 2, global, local, RCL_I32(M), RCL_I32(N), RCL_I32(K),
                      RCL_F32(alpha), RCL_MEM(A), RCL_I32(off_a), RCL_I32(lda), RCL_MEM(B),
                      RCL_I32(off_b), RCL_I32(ldb), RCL_F32(beta), RCL_MEM(C), RCL_I32(off_c),
                      RCL_I32(ldc));
}

int rcl_gemm_tiled(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int trans_b, int M,
                   int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem B,
                   size_t off_b, int ldb, float beta, cl_mem C, size_t off_c, int ldc,
                   const rcl_gemm_conv_out *co, const char *tag)
{
    return tiled_run(ctx, p, trans_a, trans_b, M, N, K, alpha, A, off_a, lda, B, off_b, ldb, 0,
                     0, beta, C, off_c, ldc, co, NULL, tag);
}

int rcl_gemm_tiled_packed_b(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int M,
                            int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem Bp,
                            float beta, cl_mem C, size_t off_c, int ldc,
                            const rcl_gemm_conv_out *co, const rcl_gemm_batch *bt,
                            const char *tag)
{
    return tiled_run(ctx, p, trans_a, 0, M, N, K, alpha, A, off_a, lda, Bp, 0, 0, 1, 0, beta, C,
                     off_c, ldc, co, bt, tag);
}

int rcl_gemm_tiled_images_b(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int M,
                            int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem X,
                            size_t off_x, int P, float beta, cl_mem C, size_t off_c, int ldc,
                            const rcl_gemm_conv_out *co, const char *tag)
{
    return tiled_run(ctx, p, trans_a, 0, M, N, K, alpha, A, off_a, lda, X, off_x, 0, 0, P, beta,
                     C, off_c, ldc, co, NULL, tag);
}
