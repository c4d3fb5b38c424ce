/* Synchronised BatchNorm2d (src/ops/batchnorm_sync.c): the statistics of
 * channel c are those of the union of every rank's batch. The device does
 * the plane partials and the elementwise passes; the host folds the
 * partials per channel in double and sums them over the ranks through the
 * caller's reducer. Kernels own to this file (not batchnorm.cl's), same
 * layout: 2-D range (n, c) over the planes, dimension 0 rounded up to WG,
 * part[c*N + n] a float2 per plane.
 *
 *   bns_plane_stats  part = (sum of the plane, sum of squared deviations
 *                    from the plane's own mean)
 *   bns_apply        y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]
 *   bns_bwd_plane    part = (sum dy, sum dy*xhat) over the plane
 *   bns_bwd_dx       dx = gamma*invstd/M * (M*dy - sdy - xhat*sdyx) with
 *                    the union's M and sums (sums[c], sums[C + c])
 *
 * Tunable: WG (the plane kernels' work-group size; batchnorm's "bn" value).
 */

#ifndef WG
#error "WG (work-group size) is passed by the host (src/ops/batchnorm_sync.c)"
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bns_plane_stats(__global float *part, __global const float *x, const int N, const int C,
                     const int HW)
{
    const int n = get_global_id(0);
    const int c = get_global_id(1);
    if (n >= N) return;
    __global const float *p = x + (n * C + c) * HW;
    float s = 0.0f;
    for (int i = 0; i < HW; i++) s += p[i];
    const float m = s / (float)HW;
    float q = 0.0f;
    for (int i = 0; i < HW; i++) {
        const float d = p[i] - m;
        q += d * d;
    }
    vstore2((float2)(s, q), c * N + n, part);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bns_apply(__global float *y, __global const float *x, __global const float *mean,
               __global const float *invstd, __global const float *gamma,
               __global const float *beta, const int N, const int C, const int HW)
{
    const int n = get_global_id(0);
    const int c = get_global_id(1);
    const float mu = mean[c], is = invstd[c], g = gamma[c], b = beta[c];
    if (n >= N) return;
    const int base = (n * C + c) * HW;
    for (int i = base; i < base + HW; i++) y[i] = (x[i] - mu) * is * g + b;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bns_bwd_plane(__global float *part, __global const float *dy, __global const float *x,
                   __global const float *mean, __global const float *invstd, const int N,
                   const int C, const int HW)
{
    const int n = get_global_id(0);
    const int c = get_global_id(1);
    const float mu = mean[c], is = invstd[c];
    if (n >= N) return;
    __global const float *g = dy + (n * C + c) * HW;
    __global const float *xp = x + (n * C + c) * HW;
    float a = 0.0f, b = 0.0f;
    for (int i = 0; i < HW; i++) {
        a += g[i];
        b += g[i] * ((xp[i] - mu) * is);
    }
    vstore2((float2)(a, b), c * N + n, part);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bns_bwd_dx(__global float *dx, __global const float *dy, __global const float *x,
                __global const float *mean, __global const float *invstd,
                __global const float *gamma, __global const float *sums, const float M,
                const int N, const int C, const int HW)
{
    const int n = get_global_id(0);
    const int c = get_global_id(1);
    const float mu = mean[c], is = invstd[c];
    const float k = gamma[c] * is / M, s1 = sums[c], s2 = sums[C + c];
    if (n >= N) return;
    const int base = (n * C + c) * HW;
    for (int i = base; i < base + HW; i++) {
        const float xhat = (x[i] - mu) * is;
        dx[i] = k * (M * dy[i] - s1 - xhat * s2);
    }
}
