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

/* ---- CLBlast */
int rcl_gemm_clblast(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     cl_mem A, size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, float beta,
                     cl_mem C, size_t off_c, int ldc, const char *tag);

/* Forget which CLBlast overrides were applied, so the next rcl_gemm re-reads
 * "gemm.clblast" (call after changing the tunable table). */
void rcl_gemm_reset(rcl_ctx *ctx);

#endif
