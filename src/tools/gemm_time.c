/* Device buffers and timing for one GEMM shape (tuner, bench). */
#include "tools/gemm_tools.h"
#include "base/base.h" /* rcl_median */
#include "rcl/tensor.h"

#include <stdlib.h>
#include <string.h>

static int fill_buf(rcl_ctx *ctx, cl_mem *m, size_t n, uint64_t *state)
{
    float *h = malloc(n * sizeof *h);
    if (!h) return rcl_fail(RCL_ERR_NOMEM, "gemm bench host buffer");
    for (size_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        h[i] = (float)((double)(*state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
    int st = rcl_buffer_create(ctx, m, n * sizeof(float));
    if (st == RCL_OK) st = rcl_buffer_write(ctx, *m, n * sizeof(float), h);
    free(h);
    return st;
}

int rcl_gemm_bufs_create(rcl_ctx *ctx, const rcl_gemm_shape *s, uint64_t seed, rcl_gemm_bufs *b)
{
    memset(b, 0, sizeof *b);
    b->lda = s->ta ? s->M : s->K;
    b->ldb = s->tb ? s->K : s->N;
    b->ldc = s->N;
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
    int r = fill_buf(ctx, &b->A, (size_t)s->M * s->K, &st);
    if (r == RCL_OK) r = fill_buf(ctx, &b->B, (size_t)s->K * s->N, &st);
    if (r == RCL_OK) r = fill_buf(ctx, &b->C, (size_t)s->M * s->N, &st);
    if (r != RCL_OK) rcl_gemm_bufs_release(b);
    return r;
}

void rcl_gemm_bufs_release(rcl_gemm_bufs *b)
{
    rcl_buffer_release(&b->A);
    rcl_buffer_release(&b->B);
    rcl_buffer_release(&b->C);
}

int rcl_gemm_run_shape(rcl_ctx *ctx, int path, const rcl_gemm_tiled_params *p,
                       const rcl_gemm_shape *s, const rcl_gemm_bufs *b)
{
    if (path == RCL_GEMM_DISPATCH)
        return rcl_gemm(ctx, s->ta, s->tb, s->M, s->N, s->K, 1.0f, b->A, 0, b->lda, b->B, 0,
                        b->ldb, 0.0f, b->C, 0, b->ldc, "gemm_bench");
    return rcl_gemm_with(ctx, (rcl_gemm_path)path, p, s->ta, s->tb, s->M, s->N, s->K, 1.0f, b->A,
                         0, b->lda, b->B, 0, b->ldb, 0.0f, b->C, 0, b->ldc, "gemm_bench");
}

int rcl_gemm_time_shape(rcl_ctx *ctx, int path, const rcl_gemm_tiled_params *p,
                        const rcl_gemm_shape *s, const rcl_gemm_bufs *b, int warm, int reps,
                        double *median_s)
{
    for (int i = 0; i < warm; i++) RCL_TRY(rcl_gemm_run_shape(ctx, path, p, s, b));
    RCL_TRY(rcl_ctx_finish(ctx));
    if (reps < 1) reps = 1;
    double t[64];
    if (reps > 64) reps = 64;
    for (int i = 0; i < reps; i++) {
        double t0 = rcl_now_s();
        RCL_TRY(rcl_gemm_run_shape(ctx, path, p, s, b));
        RCL_TRY(rcl_ctx_finish(ctx));
        t[i] = rcl_now_s() - t0;
    }
    *median_s = rcl_median(t, reps);
    return RCL_OK;
}

double rcl_gemm_flops(const rcl_gemm_shape *s)
{
    return 2.0 * (double)s->M * (double)s->N * (double)s->K;
}
