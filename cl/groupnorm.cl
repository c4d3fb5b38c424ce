/* GroupNorm over x (N,C,H,W) with G groups of Cg = C/G channels: the
 * statistics of group (n, g) are over its L = Cg*H*W values, which are
 * contiguous in NCHW: x[ng*L .. ng*L + L) with ng = n*G + g. LayerNorm is
 * G = 1, InstanceNorm G = C.
 *
 * Group kernels: one work-group of RED_WG work-items per (n, g)
 * (get_group_id(0) = ng). Work-item l takes the elements l, l+RED_WG, ...
 * of the group, then the work-group folds the partials in a tree in local
 * memory (fixed order: deterministic, no atomics).
 *
 *   gn_stats      corrected two-pass: m0 = sum(x)/L (pass 1, rounded by the
 *                 large sum when the data has a large mean), then the
 *                 deviations d = x - m0 (pass 2): mean = m0 + sum(d)/L,
 *                 var = sum(d^2)/L - (sum(d)/L)^2 (both small, accurate),
 *                 invstd = 1/sqrt(var + eps)
 *   gn_bwd_group  part[2*ng] = sum(dy*gamma[c]),
 *                 part[2*ng+1] = sum(dy*gamma[c]*xhat), xhat = (x-mean)*invstd
 *
 * Channel kernel: one work-group of RED_WG per channel c, over the N*HW
 * values of that channel (each image with its own group's statistics):
 *
 *   gn_bwd_param  dbeta[c] = sum(dy), dgamma[c] = sum(dy*xhat)
 *
 * Elementwise kernels: 1-D over the N*C*HW elements (WG per work-group):
 *
 *   gn_apply      y = (x - mean[ng]) * invstd[ng] * gamma[c] + beta[c]
 *   gn_bwd_dx     dx = invstd[ng] * (gamma[c]*dy - (part[2ng] + xhat*part[2ng+1]) / L)
 */

#ifndef WG
#error "WG (work-group size of the elementwise kernels) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef RED_WG
#error "RED_WG (work-items per group / channel reduction; power of two) is passed by the host: src/runtime/tunables.def"
#endif

/* Sum of v over the work-group (every work-item gets it). sh holds RED_WG
 * floats; free again on return. */
static float wg_sum(__local float *sh, const float v)
{
    const int l = get_local_id(0);
    sh[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = RED_WG / 2; h > 0; h >>= 1) {
        if (l < h) sh[l] += sh[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = sh[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* The same for a pair of sums in one tree. sh holds RED_WG float2. */
static float2 wg_sum2(__local float2 *sh, const float2 v)
{
    const int l = get_local_id(0);
    sh[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = RED_WG / 2; h > 0; h >>= 1) {
        if (l < h) sh[l] += sh[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float2 r = sh[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

__kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1)))
void gn_stats(__global float *mean, __global float *invstd, __global const float *x,
              const int L, const float eps)
{
    __local float sh[RED_WG];
    __local float2 sh2[RED_WG];
    const int ng = get_group_id(0);
    const int l = get_local_id(0);
    __global const float *p = x + ng * L;
    float s = 0.0f;
    for (int i = l; i < L; i += RED_WG) s += p[i];
    const float m0 = wg_sum(sh, s) / (float)L;
    float2 dq = 0.0f;
    for (int i = l; i < L; i += RED_WG) {
        const float d = p[i] - m0;
        dq += (float2)(d, d * d);
    }
    dq = wg_sum2(sh2, dq);
    if (l == 0) {
        const float sd = dq.x / (float)L;
        mean[ng] = m0 + sd;
        invstd[ng] = 1.0f / sqrt(fmax(dq.y / (float)L - sd * sd, 0.0f) + eps);
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void gn_apply(__global float *y, __global const float *x, __global const float *mean,
              __global const float *invstd, __global const float *gamma,
              __global const float *beta, const int total, const int C, const int HW,
              const int L)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = (i / HW) % C;
    const int ng = i / L;
    y[i] = (x[i] - mean[ng]) * invstd[ng] * gamma[c] + beta[c];
}

__kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1)))
void gn_bwd_group(__global float *part, __global const float *dy, __global const float *x,
                  __global const float *gamma, __global const float *mean,
                  __global const float *invstd, const int G, const int Cg, const int HW)
{
    __local float2 sh[RED_WG];
    const int ng = get_group_id(0);
    const int l = get_local_id(0);
    const int L = Cg * HW;
    const int c0 = (ng % G) * Cg;
    const float mu = mean[ng], is = invstd[ng];
    __global const float *g = dy + ng * L;
    __global const float *xp = x + ng * L;
    float a = 0.0f, b = 0.0f;
    for (int i = l; i < L; i += RED_WG) {
        const float gd = g[i] * gamma[c0 + i / HW];
        a += gd;
        b += gd * ((xp[i] - mu) * is);
    }
    const float2 ab = wg_sum2(sh, (float2)(a, b));
    if (l == 0) vstore2(ab, ng, part);
}

__kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1)))
void gn_bwd_param(__global float *dgamma, __global float *dbeta, __global const float *dy,
                  __global const float *x, __global const float *mean,
                  __global const float *invstd, const int N, const int C, const int HW,
                  const int G, const int Cg)
{
    __local float2 sh[RED_WG];
    const int c = get_group_id(0);
    const int l = get_local_id(0);
    const int g = c / Cg;
    const int M = N * HW;
    float a = 0.0f, b = 0.0f;
    for (int i = l; i < M; i += RED_WG) {
        const int n = i / HW;
        const int k = (n * C + c) * HW + (i - n * HW);
        const int ng = n * G + g;
        const float d = dy[k];
        a += d;
        b += d * ((x[k] - mean[ng]) * invstd[ng]);
    }
    const float2 ab = wg_sum2(sh, (float2)(a, b));
    if (l == 0) {
        dbeta[c] = ab.x;
        dgamma[c] = ab.y;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void gn_bwd_dx(__global float *dx, __global const float *dy, __global const float *x,
               __global const float *gamma, __global const float *mean,
               __global const float *invstd, __global const float *part, const int total,
               const int C, const int HW, const int L)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int c = (i / HW) % C;
    const int ng = i / L;
    const float is = invstd[ng];
    const float xhat = (x[i] - mean[ng]) * is;
    const float2 s = vload2(ng, part);
    dx[i] = is * (gamma[c] * dy[i] - (s.x + xhat * s.y) / (float)L);
}
