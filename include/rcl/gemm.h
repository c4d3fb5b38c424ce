/* Single-precision GEMM on device buffers, row-major:
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
 * op(X) = X or X^T; lda/ldb/ldc are row strides of the stored matrices;
 * offsets are in floats. Dispatches to CLBlast (default) or a tuned path. */
#ifndef RCL_GEMM_H
#define RCL_GEMM_H

#include "rcl/runtime.h"

int rcl_gemm(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
             cl_mem A, size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, float beta,
             cl_mem C, size_t off_c, int ldc, const char *tag);

#endif
