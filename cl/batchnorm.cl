/* BatchNorm2d over x (N,C,H,W), statistics per channel c over M = N*H*W.
 *
 * Reductions (bn_stats, bn_bwd_reduce): one work-group of BN_WG items per
 * channel (group id = c). Item l visits the channel's elements j = l, l+BN_WG,
 * ... of the flattened (n, hw) range [0, M), at x[(n*C + c)*HW + hw], keeps a
 * private float partial and the group folds the partials in a __local tree:
 *
 *      channel c:  j = 0   1  ...  BN_WG-1 | BN_WG ... | ...   (M elements)
 *      item      : l = 0   1  ...  BN_WG-1 | 0     ... | ...
 *
 * bn_stats is two-pass (mean first, then the sum of squared deviations from
 * it), so data with a large mean relative to its spread keeps its variance.
 *
 * Elementwise kernels (bn_apply, bn_apply_eval, bn_bwd_dx): a 2-D range,
 * dim 0 = hw in [0, HW) (rounded up to WG), dim 1 = plane p = n*C + c; the
 * item handles x[p*HW + hw] with channel c = p % C (no per-element division).
 */

/* Work-group size of the per-channel reductions (power of two). */
#ifndef BN_WG
#define BN_WG 256
#endif

/* Advance (n, hw) of flat index j = n*HW + hw by BN_WG = sn*HW + shw
 * without a division. */
#define BN_STEP(n, hw)                                                        \
    do {                                                                      \
        (n) += sn;                                                            \
        (hw) += shw;                                                          \
        if ((hw) >= HW) {                                                     \
            (hw) -= HW;                                                       \
            (n)++;                                                            \
        }                                                                     \
    } while (0)

/* Sum of the BN_WG values in red[], result returned to every item. */
static float bn_group_sum(__local float *red, float v)
{
    const int l = get_local_id(0);
    red[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = BN_WG / 2; s > 0; s >>= 1) {
        if (l < s) red[l] += red[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* red[] may be reused right after */
    return r;
}

/* Batch mean and 1/sqrt(var_biased + eps) of channel get_group_id(0); with
 * update != 0 also running = (1-momentum)*running + momentum*batch
 * (unbiased variance into running_var). M > 1. */
__kernel __attribute__((reqd_work_group_size(BN_WG, 1, 1)))
void bn_stats(__global float *save_mean, __global float *save_invstd,
              __global float *running_mean, __global float *running_var,
              __global const float *x, const int C, const int HW, const int M,
              const float momentum, const float eps, const int update)
{
    __local float red[BN_WG];
    const int c = get_group_id(0);
    const int l = get_local_id(0);
    const int sn = BN_WG / HW, shw = BN_WG - sn * HW;
    float s = 0.0f;
    for (int j = l, n = l / HW, hw = l - n * HW; j < M; j += BN_WG) {
        s += x[(n * C + c) * HW + hw];
        BN_STEP(n, hw);
    }
    const float mean = bn_group_sum(red, s) / (float)M;
    float q = 0.0f;
    for (int j = l, n = l / HW, hw = l - n * HW; j < M; j += BN_WG) {
        const float d = x[(n * C + c) * HW + hw] - mean;
        q += d * d;
        BN_STEP(n, hw);
    }
    const float var = bn_group_sum(red, q) / (float)M;
    if (l == 0) {
        save_mean[c] = mean;
        save_invstd[c] = 1.0f / sqrt(var + eps);
        if (update) {
            const float unbiased = var * ((float)M / (float)(M - 1));
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
        }
    }
}

/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c] (training mode). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_apply(__global float *y, __global const float *x, __global const float *mean,
              __global const float *invstd, __global const float *gamma,
              __global const float *beta, const int C, const int HW)
{
    const int hw = get_global_id(0);
    const int plane = get_global_id(1);
    if (hw < HW) {
        const int c = plane % C;
        const int i = plane * HW + hw;
        y[i] = (x[i] - mean[c]) * invstd[c] * gamma[c] + beta[c];
    }
}

/* y = (x - rmean[c]) / sqrt(rvar[c] + eps) * gamma[c] + beta[c] (eval mode). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_apply_eval(__global float *y, __global const float *x, __global const float *rmean,
                   __global const float *rvar, __global const float *gamma,
                   __global const float *beta, const float eps, const int C, const int HW)
{
    const int hw = get_global_id(0);
    const int plane = get_global_id(1);
    if (hw < HW) {
        const int c = plane % C;
        const int i = plane * HW + hw;
        y[i] = (x[i] - rmean[c]) * (1.0f / sqrt(rvar[c] + eps)) * gamma[c] + beta[c];
    }
}

/* Per channel: sdy[c] = sum(dy), sdyx[c] = sum(dy * xhat), xhat = (x-mean)*invstd.
 * These are dbeta and dgamma. */
__kernel __attribute__((reqd_work_group_size(BN_WG, 1, 1)))
void bn_bwd_reduce(__global float *sdy, __global float *sdyx, __global const float *dy,
                   __global const float *x, __global const float *mean,
                   __global const float *invstd, const int C, const int HW, const int M)
{
    __local float red[BN_WG];
    const int c = get_group_id(0);
    const int l = get_local_id(0);
    const float mu = mean[c], is = invstd[c];
    const int sn = BN_WG / HW, shw = BN_WG - sn * HW;
    float a = 0.0f, b = 0.0f;
    for (int j = l, n = l / HW, hw = l - n * HW; j < M; j += BN_WG) {
        const int i = (n * C + c) * HW + hw;
        const float g = dy[i];
        a += g;
        b += g * ((x[i] - mu) * is);
        BN_STEP(n, hw);
    }
    a = bn_group_sum(red, a);
    b = bn_group_sum(red, b);
    if (l == 0) {
        sdy[c] = a;
        sdyx[c] = b;
    }
}

/* dx = gamma*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_bwd_dx(__global float *dx, __global const float *dy, __global const float *x,
               __global const float *mean, __global const float *invstd,
               __global const float *gamma, __global const float *sdy,
               __global const float *sdyx, const int C, const int HW, const int M)
{
    const int hw = get_global_id(0);
    const int plane = get_global_id(1);
    if (hw < HW) {
        const int c = plane % C;
        const int i = plane * HW + hw;
        const float is = invstd[c];
        const float xhat = (x[i] - mean[c]) * is;
        const float fm = (float)M;
        dx[i] = gamma[c] * is / fm * (fm * dy[i] - sdy[c] - xhat * sdyx[c]);
    }
}
