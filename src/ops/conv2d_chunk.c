/* conv2d's batching rule (conv2d_chunk.h). */
#include "ops/conv2d_chunk.h"

#include <limits.h>

int rcl_conv_is_direct(int N, int kh, int kw, int sh, int sw, int ph, int pw)
{
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && N == 1;
}

int rcl_conv_chunk_images(int budget_mb, uint64_t max_alloc, int N, int CKK, int OC, int P)
{
    if (budget_mb < 1) budget_mb = 1;
    uint64_t budget = (uint64_t)budget_mb << 20;
    if (max_alloc && max_alloc < budget) budget = max_alloc;
    uint64_t per = (uint64_t)(CKK > OC ? CKK : OC) * (uint64_t)P;
    uint64_t n = budget / (per * sizeof(float));
    if (n > (uint64_t)INT_MAX / per) n = (uint64_t)INT_MAX / per;
    if (n < 1) n = 1;
    if (n > (uint64_t)N) n = (uint64_t)N;
    /* balance the chunks: same count, sizes as even as possible */
    int chunks = (int)(((uint64_t)N + n - 1) / n);
    return (N + chunks - 1) / chunks;
}
