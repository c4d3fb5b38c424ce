/* GEMM dispatch. Default path: CLBlast SGEMM (row-major). */
#include "internal.h"
#include "rcl/gemm.h"

#include <clblast_c.h>

int rcl_gemm(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, cl_mem A,
             size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, float beta, cl_mem C,
             size_t off_c, int ldc, const char *tag)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: M=%d N=%d K=%d", tag, M, N, K);
    cl_event ev = NULL;
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, (size_t)M, (size_t)N, (size_t)K, alpha,
        A, off_a, (size_t)lda, B, off_b, (size_t)ldb, beta, C, off_c, (size_t)ldc, &ctx->queue,
        rcl_event_slot(ctx, &ev));
    if (s != CLBlastSuccess) {
        if (s == CLBlastOpenCLOutOfResources || s == CLBlastOpenCLOutOfHostMemory ||
            s == CLBlastTempBufferAllocFailure)
            return rcl_fail(RCL_ERR_DEVICE_NOMEM, "CLBlastSgemm %s (%dx%dx%d): out of resources (%d)",
                            tag, M, N, K, (int)s);
        return rcl_fail(RCL_ERR_GEMM, "CLBlastSgemm %s (%dx%dx%d) failed: status %d", tag, M, N, K,
                        (int)s);
    }
    rcl_profile_event(ctx, tag, ev);
    return RCL_OK;
}
