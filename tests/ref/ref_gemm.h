/* Reference SGEMM in double, row-major:
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C   (beta == 0: C not read)
 * op(A)[m,k] = ta ? A[k*lda + m] : A[m*lda + k]; likewise B. */
#ifndef REF_GEMM_H
#define REF_GEMM_H

void ref_gemm(int ta, int tb, int M, int N, int K, double alpha, const double *A, int lda,
              const double *B, int ldb, double beta, double *C, int ldc);

#endif
