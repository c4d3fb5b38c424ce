/* Single-precision GEMM on device buffers, row-major:
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
 * op(X) = X or X^T; lda/ldb/ldc are row strides of the stored matrices;
 * offsets are in floats.
 * Dispatch: the shape class "<NN|NT|TN|TT>_m<log2 M>_n<log2 N>_k<log2 K>"
 * (floor, capped at 13) selects CLBlast (default) or resnet-cl's own
 * register-tiled kernel (cl/gemm.cl) with parameters from the context's
 * tunable table, key "gemm.<class>" (PATH 0/1, MWI NWI VW KU KB WGM WGN);
 * CLBlast's own parameters come from key "gemm.clblast". The table is
 * filled from the tune cache (rcl/tune_cache.h) that resnet-cl-tune writes.
 * Internals: src/gemm/gemm_params.h. */
#ifndef RCL_GEMM_H
#define RCL_GEMM_H

#include "rcl/runtime.h"

int rcl_gemm(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
             cl_mem A, size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, float beta,
             cl_mem C, size_t off_c, int ldc, const char *tag);

#endif
