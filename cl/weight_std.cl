/* Weight Standardization of a conv weight w (O, K = C*KH*KW), one
 * work-group of WG items per output channel o (global O*WG): item l visits
 * k = l, l + WG, ... of the channel's contiguous K values, the group folds
 * the partials with a local-memory tree (WG a power of two; deterministic,
 * no atomics).
 *
 *   wstd_forward   mean = sum w / K; var = sum (w - mean)^2 / (K-1) (two
 *                  passes, so a large mean keeps its variance);
 *                  std = sqrt(var); w_hat = (w - mean) / (std + eps)
 *   wstd_backward  with g = dw_hat, s = std + eps:
 *                  dw = (g - mean(g)) / s
 *                       - sum(g*w_hat) / ((K-1)*std) * (w_hat - mean(w_hat))
 *                  (mean(w_hat) is 0 up to rounding; the std term is 0 when
 *                  std = 0, its limit: w_hat is 0 then)
 */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

/* Sum of v over the work-group (every item gets it); red holds WG floats. */
static float group_sum(__local float *red, const float v)
{
    const int l = get_local_id(0);
    red[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = WG / 2; h > 0; h >>= 1) {
        if (l < h) red[l] += red[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* red is reused by the next call */
    return r;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void wstd_forward(__global float *w_hat, __global float *save_mean, __global float *save_std,
                  __global const float *w, const int K, const float eps)
{
    __local float red[WG];
    const int o = get_group_id(0), l = get_local_id(0);
    __global const float *p = w + o * K;
    __global float *q = w_hat + o * K;
    float s = 0.0f;
    for (int i = l; i < K; i += WG) s += p[i];
    const float mean = group_sum(red, s) / (float)K;
    float m2 = 0.0f;
    for (int i = l; i < K; i += WG) {
        const float d = p[i] - mean;
        m2 += d * d;
    }
    const float sd = sqrt(group_sum(red, m2) / (float)(K - 1));
    const float den = sd + eps;
    for (int i = l; i < K; i += WG) q[i] = (p[i] - mean) / den;
    if (l == 0) {
        save_mean[o] = mean;
        save_std[o] = sd;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void wstd_backward(__global float *dw, __global const float *dw_hat,
                   __global const float *w_hat, __global const float *save_std, const int K,
                   const float eps)
{
    __local float red[WG];
    const int o = get_group_id(0), l = get_local_id(0);
    __global const float *g = dw_hat + o * K;
    __global const float *wh = w_hat + o * K;
    float a = 0.0f, b = 0.0f, c = 0.0f;
    for (int i = l; i < K; i += WG) {
        const float gi = g[i], hi = wh[i];
        a += gi;
        b += gi * hi;
        c += hi;
    }
    const float sg = group_sum(red, a), sgw = group_sum(red, b), sw = group_sum(red, c);
    const float sd = save_std[o], s = sd + eps;
    const float mg = sg / (float)K, mw = sw / (float)K;
    const float coef = sd > 0.0f ? sgw / ((float)(K - 1) * sd) : 0.0f;
    __global float *out = dw + o * K;
    for (int i = l; i < K; i += WG) out[i] = (g[i] - mg) / s - coef * (wh[i] - mw);
}
