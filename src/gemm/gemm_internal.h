/* GEMM internals of the core library: shared by the dispatcher (gemm.c),
 * our register-tiled kernel (gemm_tiled.c, cl/gemm.cl) and the tune cache.
 * What the tools (tuner, bench, src/tools) use is in gemm/gemm_params.h. */
#ifndef RCL_GEMM_INTERNAL_H
#define RCL_GEMM_INTERNAL_H

#include "gemm/gemm_params.h"

typedef struct rcl_gemm_conv_out rcl_gemm_conv_out;
typedef struct rcl_gemm_batch rcl_gemm_batch;
/* ---- our kernel (cl/gemm.cl) with parameters p; co: NULL, or C stored
 * with a conv's epilogue (struct rcl_gemm_conv_out below) */
int rcl_gemm_tiled(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int trans_b, int M,
                   int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem B,
                   size_t off_b, int ldb, float beta, cl_mem C, size_t off_c, int ldc,
                   const rcl_gemm_conv_out *co, const char *tag);

/* The same with B already holding op(B) packed in p's XB 2 panels
 * (p->xb == 2): Bp[(q*K + k)*nwi + j] = op(B)[k, q*nwi + j], zero past N. */
int rcl_gemm_tiled_packed_b(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int M,
                            int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem Bp,
                            float beta, cl_mem C, size_t off_c, int ldc,
                            const rcl_gemm_conv_out *co, const rcl_gemm_batch *bt,
                            const char *tag);

/* The same with X holding op(B) as a batch of images of P pixels, read
 * in place (cl/gemm.cl BI): op(B)[k, c] = X[off_x + (c/P)*K*P + k*P + c%P],
 * the input of a 1x1 stride-1 unpadded conv (or its output gradient); N a
 * multiple of p->vw, P a multiple of it or at least it, p->xb 0 or 2 (not
 * packed either way). */
int rcl_gemm_tiled_images_b(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int M,
                            int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem X,
                            size_t off_x, int P, float beta, cl_mem C, size_t off_c, int ldc,
                            const rcl_gemm_conv_out *co, const char *tag);

/* 1 and the parameters *p where rcl_gemm runs this shape on our kernel
 * (the class's tune cache entries over the defaults; from K >=
 * RCL_GEMM_DEEP_K on, in the outer form, k blocks of RCL_GEMM_DEEP_KB where
 * the class has no KB entry), 0 where on CLBlast */
#define RCL_GEMM_DEEP_K 8192
#define RCL_GEMM_DEEP_KB 1024
int rcl_gemm_tiled_choice(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K,
                          rcl_gemm_tiled_params *p);

/* ---- for callers that write op(B) in the packed layout themselves
 * (conv2d's im2col_panels): the panel width nwi where rcl_gemm would run
 * this shape (M, N, K, trans_b as the caller would pass them) on the tiled
 * kernel packing op(B) first (XB 2), else 0 (CLBlast, another XB, a GEMM
 * hook); then rcl_gemm_packed_b runs it on Bp, which holds op(B) in panels
 * of nwi columns, ceil(N/nwi)*nwi*K floats; co: NULL, or C stored with
 * a conv's epilogue (row_major 0 below, trans_a = trans_b = 0). */
int rcl_gemm_b_panels(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K);
int rcl_gemm_packed_b(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                      cl_mem A, size_t off_a, int lda, cl_mem Bp, float beta, cl_mem C,
                      size_t off_c, int ldc, const rcl_gemm_conv_out *co, const char *tag);

/* ---- for a 1x1 stride-1 unpadded conv (conv2d.c): 1 where rcl_gemm runs
 * this shape (op(B) not transposed) on the tiled kernel with op(B) packed
 * or read in place, and the class's vector width divides N and P (conv
 * IMAGES_B 1) or divides N and is at most P (IMAGES_B 2), no GEMM hook; then rcl_gemm_images_b runs it reading op(B) from X as
 * images of P pixels (rcl_gemm_tiled_images_b), no copy of B; co as for
 * rcl_gemm_packed_b. */
int rcl_gemm_images_b_ok(rcl_ctx *ctx, int trans_a, int M, int N, int K, int P);
int rcl_gemm_images_b(rcl_ctx *ctx, int trans_a, int M, int N, int K, float alpha, cl_mem A,
                      size_t off_a, int lda, cl_mem X, size_t off_x, int P, float beta, cl_mem C,
                      size_t off_c, int ldc, const rcl_gemm_conv_out *co, const char *tag);

/* ---- for an op(B) used many times unchanged (eval's prepared dense
 * convs, src/ops/conv2d.c): the panel width to pack it in once
 * (rcl_pack_panels of op(B)^T), the default tiles' on devices whose GEMMs
 * default to our kernel with op(B) packed, else 0 (keep it plain); then
 * rcl_gemm_packed_b_nwi runs C = alpha op(A) op(B) (+ co) on it, op(A)
 * not transposed, with the class's tiles (the defaults' where the class
 * runs elsewhere or cannot take this width) at that panel width. */
int rcl_gemm_const_b_panels(rcl_ctx *ctx);
int rcl_gemm_packed_b_nwi(rcl_ctx *ctx, int M, int N, int K, int nwi, float alpha, cl_mem A,
                          size_t off_a, int lda, cl_mem Bp, float beta, cl_mem C, size_t off_c,
                          int ldc, const rcl_gemm_conv_out *co, const char *tag);

/* A batch of GEMMs of one shape in one launch (cl/gemm.cl BA): GEMM z <
 * n reads A at off_a + z*sa, the packed op(B) at z*sb, writes C at off_c +
 * z*sc (floats); with the op(B) panels only (rcl_gemm_packed_b_batch) */
struct rcl_gemm_batch {
    int n;
    size_t sa, sb, sc;
};
/* rcl_gemm_packed_b for bt->n GEMMs, no conv output (Winograd's GEMM form,
 * src/ops/conv2d_wino.c): rcl_gemm_batch_panels gives the panel width of
 * Bp (0: this shape does not run on the tiled kernel with op(B) in panels:
 * call rcl_gemm per GEMM instead); op(A) is read in place */
int rcl_gemm_batch_panels(rcl_ctx *ctx, int trans_a, int M, int N, int K);
int rcl_gemm_packed_b_batch(rcl_ctx *ctx, int trans_a, int M, int N, int K, float alpha, cl_mem A,
                            size_t off_a, int lda, cl_mem Bp, float beta, cl_mem C, size_t off_c,
                            int ldc, const rcl_gemm_batch *bt, const char *tag);

/* C written as a conv's output with its epilogue (cl/gemm.cl CP, CE):
 * row_major 0: C[n/p, m, n%p] (the (N/p, M, p) tensor at off_c) = alpha *
 * (op(A) op(B))[m, n] (+ bias[m] where bias); row_major 1: C[m, n] (ldc) =
 * alpha * (op(A) op(B))[m, n] (+ bias[n / p]); then epi: bit 0 + res[the
 * same index] (res at off_c too), bit 1 ReLU; in that order, as conv2d's
 * reorder and epilogue passes. N a multiple of p; beta 0. */
struct rcl_gemm_conv_out {
    int p;
    int row_major;
    cl_mem bias; /* NULL: none */
    cl_mem res;  /* read only with epi bit 0 */
    int epi;
};
/* 1 if rcl_gemm would run this shape on our kernel in its outer form (no
 * GEMM hook): rcl_gemm_epi can then store C with an epilogue */
int rcl_gemm_epi_ok(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K);
/* rcl_gemm with beta 0 storing C as co says (rcl_gemm_epi_ok first) */
int rcl_gemm_epi(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                 cl_mem A, size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, cl_mem C,
                 size_t off_c, int ldc, const rcl_gemm_conv_out *co, const char *tag);

/* ---- CLBlast */
int rcl_gemm_clblast(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     cl_mem A, size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, float beta,
                     cl_mem C, size_t off_c, int ldc, const char *tag);

/* Forget which CLBlast overrides were applied, so the next rcl_gemm re-reads
 * "gemm.clblast" (call after changing the tunable table). */
void rcl_gemm_reset(rcl_ctx *ctx);

#endif
