/* GEMM internals of the core library: shared by the dispatcher (gemm.c),
 * our register-tiled kernel (gemm_tiled.c, cl/gemm.cl) and the tune cache.
 * What the tools (tuner, bench, src/tools) use is in gemm/gemm_params.h. */
#ifndef RCL_GEMM_INTERNAL_H
#define RCL_GEMM_INTERNAL_H

#include "gemm/gemm_params.h"

/* ---- our kernel (cl/gemm.cl) with parameters p */
int rcl_gemm_tiled(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int trans_b, int M,
                   int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem B,
                   size_t off_b, int ldb, float beta, cl_mem C, size_t off_c, int ldc,
                   const char *tag);

/* The same with B already holding op(B) packed in p's XB 2 panels
 * (p->xb == 2): Bp[(q*K + k)*nwi + j] = op(B)[k, q*nwi + j], zero past N. */
typedef struct rcl_gemm_conv_out rcl_gemm_conv_out;
/* co: NULL, or C stored as a conv's output (rcl_gemm_packed_b_conv) */
int rcl_gemm_tiled_packed_b(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int M,
                            int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem Bp,
                            float beta, cl_mem C, size_t off_c, int ldc,
                            const rcl_gemm_conv_out *co, const char *tag);

/* ---- for callers that write op(B) in the packed layout themselves
 * (conv2d's im2col_panels): the panel width nwi where rcl_gemm would run
 * this shape (M, N, K, trans_b as the caller would pass them) on the tiled
 * kernel packing op(B) first (XB 2), else 0 (CLBlast, another XB, a GEMM
 * hook); then rcl_gemm_packed_b runs it on Bp, which holds op(B) in panels
 * of nwi columns, ceil(N/nwi)*nwi*K floats. */
int rcl_gemm_b_panels(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K);
int rcl_gemm_packed_b(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                      cl_mem A, size_t off_a, int lda, cl_mem Bp, float beta, cl_mem C,
                      size_t off_c, int ldc, const char *tag);

/* C written as a conv's output instead of a row-major matrix (cl/gemm.cl
 * CP): C[n/p, m, n%p] (the (N/p, M, p) tensor at off_c) = alpha * (A
 * op(B))[m, n] (+ bias[m] where bias), then epi: bit 0 + res[the same
 * index] (res at off_c too), bit 1 ReLU; in that order, as conv2d's reorder
 * pass. N a multiple of p; beta 0. */
struct rcl_gemm_conv_out {
    int p;
    cl_mem bias; /* NULL: none */
    cl_mem res;  /* read only with epi bit 0 */
    int epi;
};
/* rcl_gemm_packed_b (trans_a = trans_b = 0) storing C so */
int rcl_gemm_packed_b_conv(rcl_ctx *ctx, int M, int N, int K, float alpha, cl_mem A,
                           size_t off_a, int lda, cl_mem Bp, cl_mem C, size_t off_c,
                           const rcl_gemm_conv_out *co, const char *tag);

/* ---- CLBlast */
int rcl_gemm_clblast(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     cl_mem A, size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, float beta,
                     cl_mem C, size_t off_c, int ldc, const char *tag);

/* Forget which CLBlast overrides were applied, so the next rcl_gemm re-reads
 * "gemm.clblast" (call after changing the tunable table). */
void rcl_gemm_reset(rcl_ctx *ctx);

#endif
