/* Batch Renormalization (Ioffe 2017), training mode, over x (N,C,H,W):
 * statistics per channel c over M = N*HW as BatchNorm2d (cl/batchnorm.cl).
 *
 * The op reuses batchnorm.cl's plane kernels, compiled with this file's
 * tunables (src/ops/batchrenorm.c):
 *
 *   bn_plane_stats  part[c*N + n] = (sum, sum of squared deviations) of a plane
 *   bn_bwd_plane    part[c*N + n] = (sum dy, sum dy*xhat) of a plane
 *
 * and adds, with the same layout (plane kernels: a 2-D range, dimension 0 =
 * image n rounded up to WG, dimension 1 = channel c; per-channel kernels:
 * 1-D over c rounded up to BN_WG, folding the N plane partials in order
 * n = 0 .. N-1, deterministic):
 *
 *   brn_stats       mean, invstd, r, d of channel c from the plane partials
 *                   and the running statistics before this call, then the
 *                   running-statistics update (exactly as bn_stats)
 *   brn_apply       y = ((x - mean)*invstd*r + d)*gamma + beta
 *   brn_bwd_reduce  sums[c] = sum dy, sums[C + c] = sum dy*xhat; dbeta =
 *                   sum dy, dgamma = r*sum(dy*xhat) + d*sum(dy)
 *   brn_bwd_dx      dx = gamma*r*invstd/M * (M*dy - sum dy - xhat*sum dy*xhat)
 *
 * r and d are constants in backward (stop-gradient). With r_max = 1 and
 * d_max = 0 every value equals batchnorm.cl's: r = 1 and d = 0 exactly, and
 * multiplying by 1 / adding 0 is exact in float.
 */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef BN_WG
#error "BN_WG (work-group size of the per-channel kernels) is passed by the host: src/runtime/tunables.def"
#endif

/* From the plane partials of channel c: save_mean, save_invstd = 1/sqrt(var_B
 * + eps) (biased), r = clamp(sigma_B/sigma, 1/r_max, r_max), d = clamp((mean
 * - running_mean)/sigma, -d_max, d_max) with sigma = sqrt(running_var + eps)
 * read before the update; then running = (1-momentum)*running +
 * momentum*batch (unbiased variance). M = N*HW > 1. */
__kernel __attribute__((reqd_work_group_size(BN_WG, 1, 1)))
void brn_stats(__global float *save_mean, __global float *save_invstd, __global float *save_r,
               __global float *save_d, __global float *running_mean,
               __global float *running_var, __global const float *part, const int N,
               const int C, const int HW, const float momentum, const float eps,
               const float r_max, const float d_max)
{
    const int c = get_global_id(0);
    if (c >= C) return;
    __global const float *pc = part + 2 * c * N;
    const float M = (float)N * (float)HW;
    float s = 0.0f;
    for (int n = 0; n < N; n++) s += pc[2 * n];
    const float mean = s / M;
    float q = 0.0f;
    for (int n = 0; n < N; n++) {
        const float dv = pc[2 * n] / (float)HW - mean;
        q += pc[2 * n + 1] + (float)HW * dv * dv;
    }
    const float var = q / M;
    const float rm = running_mean[c], rv = running_var[c];
    const float sigma_b = sqrt(var + eps), sigma = sqrt(rv + eps);
    save_mean[c] = mean;
    save_invstd[c] = 1.0f / sqrt(var + eps);
    save_r[c] = clamp(sigma_b / sigma, 1.0f / r_max, r_max);
    save_d[c] = clamp((mean - rm) / sigma, -d_max, d_max);
    const float unbiased = var * (M / (M - 1.0f));
    running_mean[c] = (1.0f - momentum) * rm + momentum * mean;
    running_var[c] = (1.0f - momentum) * rv + momentum * unbiased;
}

/* y = ((x - mean[c]) * invstd[c] * r[c] + d[c]) * gamma[c] + beta[c]. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void brn_apply(__global float *y, __global const float *x, __global const float *mean,
               __global const float *invstd, __global const float *r, __global const float *d,
               __global const float *gamma, __global const float *beta, const int N,
               const int C, const int HW)
{
    const int n = get_global_id(0);
    const int c = get_global_id(1);
    const float mu = mean[c], is = invstd[c], rc = r[c], dc = d[c], g = gamma[c], b = beta[c];
    if (n >= N) return;
    const int base = (n * C + c) * HW;
    for (int i = base; i < base + HW; i++) y[i] = ((x[i] - mu) * is * rc + dc) * g + b;
}

/* Per channel from the bn_bwd_plane partials: sums[c] = sum dy, sums[C + c]
 * = sum dy*xhat (always); dbeta[c] = sum dy when want_db, dgamma[c] =
 * r*sum(dy*xhat) + d*sum(dy) when want_dg (otherwise not written: the host
 * may pass any buffer). */
__kernel __attribute__((reqd_work_group_size(BN_WG, 1, 1)))
void brn_bwd_reduce(__global float *sums, __global float *dgamma, __global float *dbeta,
                    __global const float *part, __global const float *r,
                    __global const float *d, const int N, const int C, const int want_dg,
                    const int want_db)
{
    const int c = get_global_id(0);
    if (c >= C) return;
    __global const float *pc = part + 2 * c * N;
    float a = 0.0f, b = 0.0f;
    for (int n = 0; n < N; n++) {
        a += pc[2 * n];
        b += pc[2 * n + 1];
    }
    sums[c] = a;
    sums[C + c] = b;
    if (want_db) dbeta[c] = a;
    if (want_dg) dgamma[c] = r[c] * b + d[c] * a;
}

/* dx = gamma*r*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)): BatchNorm's
 * backward of xhat with dxhat = dy*gamma*r. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void brn_bwd_dx(__global float *dx, __global const float *dy, __global const float *x,
                __global const float *mean, __global const float *invstd,
                __global const float *gamma, __global const float *r,
                __global const float *sums, const int N, const int C, const int HW)
{
    const int n = get_global_id(0);
    const int c = get_global_id(1);
    const float mu = mean[c], is = invstd[c], fm = (float)N * (float)HW;
    const float k = gamma[c] * r[c] * is / fm, s1 = sums[c], s2 = sums[C + c];
    if (n >= N) return;
    const int base = (n * C + c) * HW;
    for (int i = base; i < base + HW; i++) {
        const float xhat = (x[i] - mu) * is;
        dx[i] = k * (fm * dy[i] - s1 - xhat * s2);
    }
}
