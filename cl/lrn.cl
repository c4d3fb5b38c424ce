/* LocalResponseNorm across channels (PyTorch nn.LocalResponseNorm) over
 * x (N,C,H,W), one work-item per element i = (n*C + c)*HW + p (1-D range
 * of N*C*HW rounded up to WG; neighbouring items are neighbouring pixels of
 * one plane, so the strided channel reads coalesce):
 *
 *   s[c]  = k + alpha * (sum_{c' = c-LO .. c+HI, 0 <= c' < C} x[c']^2) / size
 *   y[c]  = x[c] / s[c]^beta
 *
 * with LO = size/2, HI = (size-1)/2 (zero padding, count_include_pad: the
 * divisor is always size). The host passes lo = min(size/2, C) and
 * hi = min((size-1)/2, C), so the window bounds cannot overflow.
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

/* s = k + alpha * (sum of x^2 over channels [c - lo, c + hi] clipped) / size;
 * xp points at channel 0 of the item's image and pixel. */
static float lrn_scale(__global const float *xp, const int c, const int C, const int HW,
                       const int lo, const int hi, const int size, const float alpha,
                       const float k)
{
    const int a = max(c - lo, 0), b = min(c + hi, C - 1);
    float q = 0.0f;
    for (int j = a; j <= b; j++) {
        const float v = xp[j * HW];
        q += v * v;
    }
    return k + alpha * (q / (float)size);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void lrn_forward(__global float *y, __global const float *x, const int total, const int C,
                 const int HW, const int lo, const int hi, const int size, const float alpha,
                 const float beta, const float k)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = (i / HW) % C;
    const float s = lrn_scale(x + (i - c * HW), c, C, HW, lo, hi, size, alpha, k);
    y[i] = x[i] / pow(s, beta);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void lrn_bwd_t(__global float *t, __global const float *dy, __global const float *x,
               const int total, const int C, const int HW, const int lo, const int hi,
               const int size, const float alpha, const float beta, const float k)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = (i / HW) % C;
    const float s = lrn_scale(x + (i - c * HW), c, C, HW, lo, hi, size, alpha, k);
    t[i] = dy[i] * x[i] * pow(s, -beta - 1.0f);
}

/* coef = 2*alpha*beta/size */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void lrn_bwd_dx(__global float *dx, __global const float *dy, __global const float *x,
                __global const float *t, const int total, const int C, const int HW,
                const int lo, const int hi, const int size, const float alpha,
                const float beta, const float k, const float coef)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = (i / HW) % C;
    const int base = i - c * HW;
    const float s = lrn_scale(x + base, c, C, HW, lo, hi, size, alpha, k);
    const int a = max(c - hi, 0), b = min(c + lo, C - 1);
    float acc = 0.0f;
    for (int j = a; j <= b; j++) acc += t[base + j * HW];
    dx[i] = dy[i] / pow(s, beta) - coef * x[i] * acc;
}
