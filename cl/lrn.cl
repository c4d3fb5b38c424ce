/* LocalResponseNorm across channels (PyTorch nn.LocalResponseNorm) over
 * x (N,C,H,W), one work-item per element i = (n*C + c)*HW + p (1-D range
 * of N*C*HW rounded up to WG; neighbouring items are neighbouring pixels of
 * one plane, so the strided channel reads coalesce):
 *
 *   s[c]  = k + alpha * (sum_{c' = c-LO .. c+HI, 0 <= c' < C} x[c']^2) / size
 *   y[c]  = x[c] / s[c]^beta
 *
 * with LO = size/2, HI = (size-1)/2 (zero padding, count_include_pad: the
 * divisor is always size). LRN_LO = size/2 and LRN_HI = (size-1)/2 are
 * compile-time (-D from the host, one program per size): the window loops
 * unroll into guarded loads, with no per-item trip count.
 *
 * Backward (x[c'] enters s[c] for c - LO <= c' <= c + HI, i.e. c in
 * [c' - HI, c' + LO]):
 *
 *   lrn_bwd_t   t[c]   = dy[c] * x[c] * s[c]^(-beta-1)       (scratch)
 *   lrn_bwd_dx  dx[c'] = dy[c'] / s[c']^beta
 *                        - (2*alpha*beta/size) * x[c'] * sum_{c = c'-HI .. c'+LO} t[c]
 *
 * Window sums are at most size (clipped to C) float terms in channel order:
 * deterministic, no atomics. */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

/* s^e for s > 0 (the host requires k > 0, so s >= k): exp2(e*log2(s)) is
 * accurate to a few ulp like pow, and several times faster on CPU OpenCL
 * implementations whose pow is a scalar library call. */
static float spow(const float s, const float e)
{
    return exp2(e * log2(s));
}

/* s = k + alpha * (sum of x^2 over channels [c - LRN_LO, c + LRN_HI] clipped) / size;
 * xp points at channel 0 of the item's image and pixel. */
static float lrn_scale(__global const float *xp, const int c, const int C, const int HW,
                       const int size, const float alpha,
                       const float k)
{
    float q = 0.0f;
#pragma unroll
    for (int o = -LRN_LO; o <= LRN_HI; o++) {
        const int j = c + o;
        const float v = j >= 0 && j < C ? xp[j * HW] : 0.0f;
        q += v * v;
    }
    return k + alpha * (q / (float)size);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void lrn_forward(__global float *y, __global const float *x, const int total, const int C,
                 const int HW, const int size, const float alpha,
                 const float beta, const float k)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = (i / HW) % C;
    const float s = lrn_scale(x + (i - c * HW), c, C, HW, size, alpha, k);
    y[i] = x[i] / spow(s, beta);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void lrn_bwd_t(__global float *t, __global const float *dy, __global const float *x,
               const int total, const int C, const int HW,
               const int size, const float alpha, const float beta, const float k)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = (i / HW) % C;
    const float s = lrn_scale(x + (i - c * HW), c, C, HW, size, alpha, k);
    t[i] = dy[i] * x[i] * spow(s, -beta - 1.0f);
}

/* coef = 2*alpha*beta/size */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void lrn_bwd_dx(__global float *dx, __global const float *dy, __global const float *x,
                __global const float *t, const int total, const int C, const int HW,
                const int size, const float alpha,
                const float beta, const float k, const float coef)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = (i / HW) % C;
    const int base = i - c * HW;
    const float s = lrn_scale(x + base, c, C, HW, size, alpha, k);
    float acc = 0.0f;
#pragma unroll
    for (int o = -LRN_HI; o <= LRN_LO; o++) {
        const int j = c + o;
        acc += j >= 0 && j < C ? t[base + j * HW] : 0.0f;
    }
    dx[i] = dy[i] / spow(s, beta) - coef * x[i] * acc;
}
