/* BatchNorm2d over x (N,C,H,W), statistics per channel c over M = N*HW.
 *
 * Plane kernels: a 2-D range, dimension 0 = a block of cpi consecutive
 * channels (an argument: the host makes cpi*HW at least a few hundred
 * floats, so that the 1x1 and 2x2 maps do not pay a work-item per plane
 * of 1 or 4 floats; rounded up to WG), dimension 1 = image n. Work-item
 * (b, n) loops over its channels c, each over the contiguous plane
 * x[(n*C + c)*HW .. +HW) (no division per element): one contiguous run of
 * cpi*HW floats, and neighbouring items take the next runs, so a
 * work-group reads one stretch of memory:
 *
 *      dim 0 (b) ->   b=0                  b=1  ...
 *      dim 1 (n)   | planes (n, 0..cpi-1) | planes (n, cpi..2*cpi-1) | ...
 *
 * ONE_MAP: on 1x1 maps (HW 1) the training kernels loop over the channels
 * of the block with the plane loops written out for one float (the same
 * operations: the float4 partials of a 1-float plane are +0, hence the
 * 0.0f + ...), which the compiler vectorizes across channels; FOUR_MAP:
 * on 2x2 maps the elementwise ones take a plane as one float4.
 *
 *   bn_plane_stats  part[c*N + n] = (sum of the plane, sum of squared
 *                   deviations from the plane's own mean)
 *   bn_apply, bn_apply_eval, bn_bwd_dx   elementwise over the plane
 *   bn_bwd_plane    part[c*N + n] = (sum dy, sum dy*xhat) over the plane
 *
 * Per-channel kernels: 1-D over c in [0, C) (rounded up to BN_WG); item c
 * folds the N plane partials of its channel in order n = 0 .. N-1
 * (deterministic, no atomics):
 *
 *   bn_stats        mean = sum/M; var = (sum_n m2_n + HW*(mean_n - mean)^2)/M
 *                   (exact decomposition into within- and between-plane
 *                   parts: data with a large mean keeps its variance)
 *   bn_bwd_reduce   sdy[c] = sum_n, sdyx[c] = sum_n (dbeta, dgamma)
 *
 * The plane loops take 16 floats (a cache line) per step as one float16,
 * then the tail; plane sums keep four interleaved partials in element
 * order (ADD_QUARTERS).
 * part holds float2 pairs: part[2*(c*N + n)] and part[2*(c*N + n) + 1].
 *
 * nt (the elementwise kernels and bn_bwd_plane_relu's dres): the host's
 * choice to store the output past the caches (cl/common.h STREAM16,
 * src/runtime/internal.h rcl_stream_out); same values either way.
 */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif
/* Work-group size of the per-channel kernels bn_stats / bn_bwd_reduce. */
#ifndef BN_WG
#error "BN_WG (work-group size of the per-channel kernels) is passed by the host: src/runtime/tunables.def"
#endif

/* The plane kernels ask the cache (PREFETCH, cl/common.h) for the floats
 * `ahead` (pf_ahead) on as they read each 16 floats of a plane (one cache
 * line): a plane of a few KiB starts on a page the hardware prefetchers
 * have not seen */
static int pf_ahead(const int HW) { return max(HW, 256); }

/* The plane sums keep four interleaved partials (float4) in element
 * order: a cache line read as one float16 adds its four float4 quarters in
 * turn, then the float4 tail, then the scalar one, the same additions in
 * the same order whatever the step, each multiply-add one contractible
 * expression as in the float4 loop: the sums are the float4 loop's to the
 * bit. (The rounding is part of the result: resnet50's
 * layer3.5.bn3.bias gradient in test_parity is a sum of dy close to 0,
 * which Adam's first steps amplify; 16 partials took its error from 0.067
 * to 0.42 against a tolerance of 0.3.) */
#define ADD_QUARTERS(a4, v) ((a4) += (v).lo.lo, (a4) += (v).lo.hi, (a4) += (v).hi.lo, (a4) += (v).hi.hi)
/* a4 += u * v by quarters, each a4 += u4 * v4 as the float4 loop writes it
 * (one contractible multiply-add, as there) */
#define MAD_QUARTERS(a4, u, v)                                                     \
    ((a4) += (u).lo.lo * (v).lo.lo, (a4) += (u).lo.hi * (v).lo.hi,                 \
     (a4) += (u).hi.lo * (v).hi.lo, (a4) += (u).hi.hi * (v).hi.hi)

static float relu1(const float v) { return v < 0.0f ? 0.0f : v; }

/* Planes summed side by side in bn_chan_*: independent chains of float4
 * additions (4: the 128-bit adder's latency over its issue rate, with room
 * in the vector registers for the backward's two chains a plane). The
 * plane kernels sum one plane at a time (lanes 1) with the same code. */
#ifndef PK
#define PK 4
#endif

/* Sum and sum of squared deviations from its own mean of each plane of n
 * floats j = 0 .. k-1 at p + j*stride (1 <= k <= lanes) into m[j], the
 * planes side by side: the same operations for each plane (the lanes
 * j >= k repeat plane k-1 and are dropped). lanes: 1 or PK, a constant at
 * every call (the loops over j unrolled, the arrays in registers); ahead:
 * prefetch distance. */
static void plane_moments_k(float2 *m, __global const float *p, const int stride, const int k,
                            const int n, const int ahead, const int lanes)
{
    __global const float *q[PK];
    float4 a[PK], q4[PK];
    float s[PK], qs[PK], mean[PK];
#pragma unroll
    for (int j = 0; j < lanes; j++) q[j] = p + min(j, k - 1) * stride, a[j] = 0.0f, q4[j] = 0.0f;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
#pragma unroll
        for (int j = 0; j < lanes; j++) {
            PREFETCH(q[j] + ahead + i);
            const float16 v = vload16(0, q[j] + i);
            ADD_QUARTERS(a[j], v);
        }
    }
    const int i16 = i;
    for (; i + 4 <= n; i += 4) {
#pragma unroll
        for (int j = 0; j < lanes; j++) a[j] += vload4(0, q[j] + i);
    }
    const int i4 = i;
#pragma unroll
    for (int j = 0; j < lanes; j++) {
        s[j] = (a[j].x + a[j].y) + (a[j].z + a[j].w);
        for (int t = i4; t < n; t++) s[j] += q[j][t];
        mean[j] = s[j] / (float)n;
    }
    for (i = 0; i < i16; i += 16) {
#pragma unroll
        for (int j = 0; j < lanes; j++) {
            const float16 d = vload16(0, q[j] + i) - mean[j];
            MAD_QUARTERS(q4[j], d, d);
        }
    }
    for (; i < i4; i += 4) {
#pragma unroll
        for (int j = 0; j < lanes; j++) {
            const float4 d = vload4(0, q[j] + i) - mean[j];
            q4[j] += d * d;
        }
    }
#pragma unroll
    for (int j = 0; j < lanes; j++) {
        qs[j] = (q4[j].x + q4[j].y) + (q4[j].z + q4[j].w);
        for (int t = i4; t < n; t++) {
            const float d = q[j][t] - mean[j];
            qs[j] += d * d;
        }
        m[j] = (float2)(s[j], qs[j]);
    }
}

/* (sum g, sum g*xhat) of each plane of HW floats j = 0 .. k-1 at base +
 * j*stride into r[j], g = dy (relu 0) or (y > 0 ? dy : 0) (relu 1; with
 * has_dres also dres = g), side by side as plane_moments_k (dres of the
 * dropped lanes j >= k is the last plane's, written again with the same
 * values) */
static void bwd_plane_sums_k(float2 *r, __global float *dres, __global const float *dy,
                             __global const float *y, __global const float *x, const int base,
                             const int stride, const int k, const int HW, const float mu,
                             const float is, const int relu, const int has_dres, const int nt,
                             const int ahead, const int lanes)
{
    int o[PK];
    float4 a4[PK], b4[PK];
#pragma unroll
    for (int j = 0; j < lanes; j++) o[j] = base + min(j, k - 1) * stride, a4[j] = 0.0f, b4[j] = 0.0f;
    int i = 0;
    if (!relu) {
        for (; i + 16 <= HW; i += 16) {
#pragma unroll
            for (int j = 0; j < lanes; j++) {
                __global const float *g = dy + o[j], *xp = x + o[j];
                PREFETCH(g + ahead + i), PREFETCH(xp + ahead + i);
                const float16 gv = vload16(0, g + i), xh = (vload16(0, xp + i) - mu) * is;
                ADD_QUARTERS(a4[j], gv);
                MAD_QUARTERS(b4[j], gv, xh);
            }
        }
        for (; i + 4 <= HW; i += 4) {
#pragma unroll
            for (int j = 0; j < lanes; j++) {
                const float4 gv = vload4(0, dy + o[j] + i);
                a4[j] += gv;
                b4[j] += gv * ((vload4(0, x + o[j] + i) - mu) * is);
            }
        }
#pragma unroll
        for (int j = 0; j < lanes; j++) {
            __global const float *g = dy + o[j], *xp = x + o[j];
            float a = (a4[j].x + a4[j].y) + (a4[j].z + a4[j].w),
                  b = (b4[j].x + b4[j].y) + (b4[j].z + b4[j].w);
            for (int t = i; t < HW; t++) {
                a += g[t];
                b += g[t] * ((xp[t] - mu) * is);
            }
            r[j] = (float2)(a, b);
        }
        return;
    }
    for (; i + 16 <= HW; i += 16) {
#pragma unroll
        for (int j = 0; j < lanes; j++) {
            __global const float *g = dy + o[j], *yp = y + o[j], *xp = x + o[j];
            PREFETCH(g + ahead + i), PREFETCH(yp + ahead + i), PREFETCH(xp + ahead + i);
            const float16 gv =
                select((float16)0.0f, vload16(0, g + i), vload16(0, yp + i) > 0.0f);
            if (has_dres) STREAM16(nt, gv, dres + o[j] + i);
            const float16 xh = (vload16(0, xp + i) - mu) * is;
            ADD_QUARTERS(a4[j], gv);
            MAD_QUARTERS(b4[j], gv, xh);
        }
    }
    for (; i + 4 <= HW; i += 4) {
#pragma unroll
        for (int j = 0; j < lanes; j++) {
            const float4 gv =
                select((float4)0.0f, vload4(0, dy + o[j] + i), vload4(0, y + o[j] + i) > 0.0f);
            if (has_dres) vstore4(gv, 0, dres + o[j] + i);
            a4[j] += gv;
            b4[j] += gv * ((vload4(0, x + o[j] + i) - mu) * is);
        }
    }
#pragma unroll
    for (int j = 0; j < lanes; j++) {
        __global const float *g = dy + o[j], *yp = y + o[j], *xp = x + o[j];
        float a = (a4[j].x + a4[j].y) + (a4[j].z + a4[j].w),
              b = (b4[j].x + b4[j].y) + (b4[j].z + b4[j].w);
        for (int t = i; t < HW; t++) {
            const float gi = yp[t] > 0.0f ? g[t] : 0.0f;
            if (has_dres) dres[o[j] + t] = gi;
            a += gi;
            b += gi * ((xp[t] - mu) * is);
        }
        r[j] = (float2)(a, b);
    }
}

/* One plane: plane_moments_k's sums of p[0 .. n) */
static float2 plane_moments(__global const float *p, const int n, const int ahead)
{
    float2 m[PK];
    plane_moments_k(m, p, 0, 1, n, ahead, 1);
    return m[0];
}

/* One plane: bwd_plane_sums_k's sums of the plane at base */
static float2 bwd_plane_sums(__global float *dres, __global const float *dy,
                             __global const float *y, __global const float *x, const int base,
                             const int HW, const float mu, const float is, const int relu,
                             const int has_dres, const int nt, const int ahead)
{
    float2 r[PK];
    bwd_plane_sums_k(r, dres, dy, y, x, base, 0, 1, HW, mu, is, relu, has_dres, nt, ahead, 1);
    return r[0];
}

/* The generic plane loops (HW not 1 or 4), shared by the plane kernels
 * and the per-channel ones (bn_chan_*, below) so that both compute the
 * same floats: the plane of channel c and image n starts at
 * base = (n*C + c)*HW. */

/* y = (x - mu)*is*g + b over the plane; relu: y = relu(that [+ res]) */
static void apply_plane(__global float *y, __global const float *x, __global const float *res,
                        const int base, const int HW, const float mu, const float is,
                        const float g, const float b, const int relu, const int has_res,
                        const int nt, const int ahead)
{
    const int end = base + HW;
    int i = base;
    if (!relu) {
        for (; i + 16 <= end; i += 16) {
            PREFETCH(x + ahead + i);
            STREAM16(nt, (vload16(0, x + i) - mu) * is * g + b, y + i);
        }
        for (; i < end; i++) y[i] = (x[i] - mu) * is * g + b;
    } else if (has_res) {
        for (; i + 16 <= end; i += 16) {
            PREFETCH(x + ahead + i), PREFETCH(res + ahead + i);
            const float16 z = (vload16(0, x + i) - mu) * is * g + b + vload16(0, res + i);
            STREAM16(nt, select(z, (float16)0.0f, z < 0.0f), y + i);
        }
        for (; i < end; i++) {
            const float t = (x[i] - mu) * is * g + b;
            y[i] = relu1(t + res[i]);
        }
    } else {
        for (; i + 16 <= end; i += 16) {
            PREFETCH(x + ahead + i);
            const float16 z = (vload16(0, x + i) - mu) * is * g + b;
            STREAM16(nt, select(z, (float16)0.0f, z < 0.0f), y + i);
        }
        for (; i < end; i++) y[i] = relu1((x[i] - mu) * is * g + b);
    }
}

/* dx = k*(fm*g - s1 - xhat*s2) over the plane, g as in bwd_plane_sums */
static void dx_plane(__global float *dx, __global const float *dy, __global const float *y,
                     __global const float *x, const int base, const int HW, const float mu,
                     const float is, const float k, const float fm, const float s1,
                     const float s2, const int relu, const int nt, const int ahead)
{
    const int end = base + HW;
    int i = base;
    if (!relu) {
        for (; i + 16 <= end; i += 16) {
            PREFETCH(x + ahead + i), PREFETCH(dy + ahead + i);
            const float16 xhat = (vload16(0, x + i) - mu) * is;
            STREAM16(nt, k * (fm * vload16(0, dy + i) - s1 - xhat * s2), dx + i);
        }
        for (; i < end; i++) {
            const float xhat = (x[i] - mu) * is;
            dx[i] = k * (fm * dy[i] - s1 - xhat * s2);
        }
        return;
    }
    for (; i + 16 <= end; i += 16) {
        PREFETCH(x + ahead + i), PREFETCH(y + ahead + i), PREFETCH(dy + ahead + i);
        const float16 xhat = (vload16(0, x + i) - mu) * is;
        const float16 gi = select((float16)0.0f, vload16(0, dy + i), vload16(0, y + i) > 0.0f);
        STREAM16(nt, k * (fm * gi - s1 - xhat * s2), dx + i);
    }
    for (; i < end; i++) {
        const float xhat = (x[i] - mu) * is;
        const float gi = y[i] > 0.0f ? dy[i] : 0.0f;
        dx[i] = k * (fm * gi - s1 - xhat * s2);
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_plane_stats(__global float *part, __global const float *x, const int N, const int C,
                    const int HW, const int cpi)
{
    const int n = get_global_id(1), c1 = min(((int)get_global_id(0) + 1) * cpi, C);
    if (HW == 1) { /* 1x1 maps (ONE_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = n * C + c;
            const float v = x[i], sm = 0.0f + v, d = v - sm;
            vstore2((float2)(sm, 0.0f + d * d), c * N + n, part);
        }
        return;
    }
    for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
        vstore2(plane_moments(x + (n * C + c) * HW, HW, pf_ahead(HW)), c * N + n, part);
    }
}

/* Batch mean and 1/sqrt(var_biased + eps) of channel c from its N plane
 * partials, written to save_mean[c] / save_invstd[c] and returned; with
 * update != 0 also running = (1-momentum)*running + momentum*batch
 * (unbiased variance into running_var). M = N*HW > 1. */
static float2 fold_stats(__global float *save_mean, __global float *save_invstd,
                         __global float *running_mean, __global float *running_var,
                         __global const float *part, const int N, const int HW,
                         const float momentum, const float eps, const int update, const int c)
{
    __global const float *pc = part + 2 * c * N;
    const float M = (float)N * (float)HW;
    float s = 0.0f;
    for (int n = 0; n < N; n++) s += pc[2 * n];
    const float mean = s / M;
    float q = 0.0f;
    for (int n = 0; n < N; n++) {
        const float d = pc[2 * n] / (float)HW - mean;
        q += pc[2 * n + 1] + (float)HW * d * d;
    }
    const float var = q / M, invstd = 1.0f / sqrt(var + eps);
    save_mean[c] = mean;
    save_invstd[c] = invstd;
    if (update) {
        const float unbiased = var * (M / (M - 1.0f));
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
    }
    return (float2)(mean, invstd);
}

__kernel __attribute__((reqd_work_group_size(BN_WG, 1, 1)))
void bn_stats(__global float *save_mean, __global float *save_invstd,
              __global float *running_mean, __global float *running_var,
              __global const float *part, const int N, const int C, const int HW,
              const float momentum, const float eps, const int update)
{
    const int c = get_global_id(0);
    if (c >= C) return;
    fold_stats(save_mean, save_invstd, running_mean, running_var, part, N, HW, momentum, eps,
               update, c);
}

/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c] (training mode). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_apply(__global float *y, __global const float *x, __global const float *mean,
              __global const float *invstd, __global const float *gamma,
              __global const float *beta, const int N, const int C, const int HW, const int cpi,
              const int nt)
{
    const int n = get_global_id(1), c1 = min(((int)get_global_id(0) + 1) * cpi, C);
    if (HW == 1) { /* 1x1 maps (ONE_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = n * C + c;
            y[i] = (x[i] - mean[c]) * invstd[c] * gamma[c] + beta[c];
        }
        return;
    }
    if (HW == 4) { /* 2x2 maps: one float4 per plane (FOUR_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = (n * C + c) * 4;
            vstore4((vload4(0, x + i) - mean[c]) * invstd[c] * gamma[c] + beta[c], 0, y + i);
        }
        return;
    }
    for (int c = (int)get_global_id(0) * cpi; c < c1; c++)
        apply_plane(y, x, x, (n * C + c) * HW, HW, mean[c], invstd[c], gamma[c], beta[c], 0, 0,
                    nt, pf_ahead(HW));
    STREAM_FENCE_GROUP(nt);
}

/* y = (x - rmean[c]) / sqrt(rvar[c] + eps) * gamma[c] + beta[c] (eval mode). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_apply_eval(__global float *y, __global const float *x, __global const float *rmean,
                   __global const float *rvar, __global const float *gamma,
                   __global const float *beta, const float eps, const int N, const int C,
                   const int HW, const int cpi)
{
    const int n = get_global_id(1), c1 = min(((int)get_global_id(0) + 1) * cpi, C);
    for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
        const float mu = rmean[c], is = 1.0f / sqrt(rvar[c] + eps), g = gamma[c], b = beta[c];
        const int base = (n * C + c) * HW;
        for (int i = base; i < base + HW; i++) y[i] = (x[i] - mu) * is * g + b;
    }
}

/* Plane partials of sum(dy) and sum(dy * xhat), xhat = (x-mean)*invstd. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_bwd_plane(__global float *part, __global const float *dy, __global const float *x,
                  __global const float *mean, __global const float *invstd, const int N,
                  const int C, const int HW, const int cpi)
{
    const int n = get_global_id(1), c1 = min(((int)get_global_id(0) + 1) * cpi, C);
    if (HW == 1) { /* 1x1 maps (ONE_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = n * C + c;
            const float gi = dy[i];
            vstore2((float2)(0.0f + gi, 0.0f + gi * ((x[i] - mean[c]) * invstd[c])), c * N + n, part);
        }
        return;
    }
    for (int c = (int)get_global_id(0) * cpi; c < c1; c++)
        vstore2(bwd_plane_sums(part, dy, x, x, (n * C + c) * HW, HW, mean[c], invstd[c], 0, 0, 0,
                               pf_ahead(HW)),
                c * N + n, part);
}

/* sdy[c], sdyx[c] = the sums of channel c's N plane partials, in order
 * n = 0 .. N-1, also returned */
static float2 fold_sums(__global float *sdy, __global float *sdyx, __global const float *part,
                        const int N, const int c)
{
    __global const float *pc = part + 2 * c * N;
    float a = 0.0f, b = 0.0f;
    for (int n = 0; n < N; n++) {
        a += pc[2 * n];
        b += pc[2 * n + 1];
    }
    sdy[c] = a;
    sdyx[c] = b;
    return (float2)(a, b);
}

/* Per channel: sdy[c] = sum(dy), sdyx[c] = sum(dy * xhat) from the plane
 * partials. These are dbeta and dgamma. */
__kernel __attribute__((reqd_work_group_size(BN_WG, 1, 1)))
void bn_bwd_reduce(__global float *sdy, __global float *sdyx, __global const float *part,
                   const int N, const int C)
{
    const int c = get_global_id(0);
    if (c >= C) return;
    fold_sums(sdy, sdyx, part, N, c);
}

/* dx = gamma*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_bwd_dx(__global float *dx, __global const float *dy, __global const float *x,
               __global const float *mean, __global const float *invstd,
               __global const float *gamma, __global const float *sdy,
               __global const float *sdyx, const int N, const int C, const int HW, const int cpi,
               const int nt)
{
    const int n = get_global_id(1), c1 = min(((int)get_global_id(0) + 1) * cpi, C);
    if (HW == 1) { /* 1x1 maps (ONE_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = n * C + c;
            const float is = invstd[c], fm = (float)N;
            const float xhat = (x[i] - mean[c]) * is;
            dx[i] = gamma[c] * is / fm * (fm * dy[i] - sdy[c] - xhat * sdyx[c]);
        }
        return;
    }
    if (HW == 4) { /* 2x2 maps: one float4 per plane (FOUR_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = (n * C + c) * 4;
            const float is = invstd[c], fm = (float)N * 4.0f;
            const float k = gamma[c] * is / fm, s1 = sdy[c], s2 = sdyx[c];
            const float4 xhat = (vload4(0, x + i) - mean[c]) * is;
            vstore4(k * (fm * vload4(0, dy + i) - s1 - xhat * s2), 0, dx + i);
        }
        return;
    }
    for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
        const float is = invstd[c], fm = (float)N * (float)HW;
        dx_plane(dx, dy, x, x, (n * C + c) * HW, HW, mean[c], is, gamma[c] * is / fm, fm, sdy[c],
                 sdyx[c], 0, nt, pf_ahead(HW));
    }
    STREAM_FENCE_GROUP(nt);
}

/* ---- Fused BatchNorm + (residual add) + ReLU, the same float operations
 * in the same order as bn_apply / add_forward / relu_forward (one pass
 * instead of three):
 *
 *   bn_apply_relu       y = relu((x - mean)*invstd*gamma + beta [+ res])
 *   bn_apply_eval_relu  the same from the running statistics
 *   bn_bwd_plane_relu   bn_bwd_plane of g = (y > 0 ? dy : 0), g computed on
 *                       the fly; with has_dres also dres = g (the shortcut's
 *                       gradient, written in the same pass)
 *   bn_bwd_dx_relu      bn_bwd_dx of the same g
 *
 * res / dres are not touched when has_res / has_dres is 0 (the host passes
 * another buffer of the call in their place). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_apply_relu(__global float *y, __global const float *x, __global const float *res,
                   __global const float *mean, __global const float *invstd,
                   __global const float *gamma, __global const float *beta, const int N,
                   const int C, const int HW, const int has_res, const int cpi, const int nt)
{
    const int n = get_global_id(1), c1 = min(((int)get_global_id(0) + 1) * cpi, C);
    if (HW == 1) { /* 1x1 maps (ONE_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = n * C + c;
            const float t = (x[i] - mean[c]) * invstd[c] * gamma[c] + beta[c];
            y[i] = relu1(has_res ? t + res[i] : t);
        }
        return;
    }
    if (HW == 4) { /* 2x2 maps: one float4 per plane (FOUR_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = (n * C + c) * 4;
            const float4 t = (vload4(0, x + i) - mean[c]) * invstd[c] * gamma[c] + beta[c];
            const float4 z = has_res ? t + vload4(0, res + i) : t;
            vstore4(select(z, (float4)0.0f, z < 0.0f), 0, y + i);
        }
        return;
    }
    for (int c = (int)get_global_id(0) * cpi; c < c1; c++)
        apply_plane(y, x, res, (n * C + c) * HW, HW, mean[c], invstd[c], gamma[c], beta[c], 1,
                    has_res, nt, pf_ahead(HW));
    STREAM_FENCE_GROUP(nt);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_apply_eval_relu(__global float *y, __global const float *x, __global const float *res,
                        __global const float *rmean, __global const float *rvar,
                        __global const float *gamma, __global const float *beta, const float eps,
                        const int N, const int C, const int HW, const int has_res, const int cpi)
{
    const int n = get_global_id(1), c1 = min(((int)get_global_id(0) + 1) * cpi, C);
    for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
        const float mu = rmean[c], is = 1.0f / sqrt(rvar[c] + eps), g = gamma[c], b = beta[c];
        const int base = (n * C + c) * HW;
        if (has_res)
            for (int i = base; i < base + HW; i++) {
                const float t = (x[i] - mu) * is * g + b;
                y[i] = relu1(t + res[i]);
            }
        else
            for (int i = base; i < base + HW; i++) y[i] = relu1((x[i] - mu) * is * g + b);
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_bwd_plane_relu(__global float *part, __global float *dres, __global const float *dy,
                       __global const float *y, __global const float *x,
                       __global const float *mean, __global const float *invstd, const int N,
                       const int C, const int HW, const int has_dres, const int cpi, const int nt)
{
    const int n = get_global_id(1), c1 = min(((int)get_global_id(0) + 1) * cpi, C);
    if (HW == 1) { /* 1x1 maps (ONE_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = n * C + c;
            const float gi = y[i] > 0.0f ? dy[i] : 0.0f;
            if (has_dres) dres[i] = gi;
            vstore2((float2)(0.0f + gi, 0.0f + gi * ((x[i] - mean[c]) * invstd[c])), c * N + n, part);
        }
        return;
    }
    for (int c = (int)get_global_id(0) * cpi; c < c1; c++)
        vstore2(bwd_plane_sums(dres, dy, y, x, (n * C + c) * HW, HW, mean[c], invstd[c], 1,
                               has_dres, nt, pf_ahead(HW)),
                c * N + n, part);
    STREAM_FENCE_GROUP(nt);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_bwd_dx_relu(__global float *dx, __global const float *dy, __global const float *y,
                    __global const float *x, __global const float *mean,
                    __global const float *invstd, __global const float *gamma,
                    __global const float *sdy, __global const float *sdyx, const int N,
                    const int C, const int HW, const int cpi, const int nt)
{
    const int n = get_global_id(1), c1 = min(((int)get_global_id(0) + 1) * cpi, C);
    if (HW == 1) { /* 1x1 maps (ONE_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = n * C + c;
            const float is = invstd[c], fm = (float)N;
            const float xhat = (x[i] - mean[c]) * is;
            const float gi = y[i] > 0.0f ? dy[i] : 0.0f;
            dx[i] = gamma[c] * is / fm * (fm * gi - sdy[c] - xhat * sdyx[c]);
        }
        return;
    }
    if (HW == 4) { /* 2x2 maps: one float4 per plane (FOUR_MAP) */
        for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
            const int i = (n * C + c) * 4;
            const float is = invstd[c], fm = (float)N * 4.0f;
            const float k = gamma[c] * is / fm, s1 = sdy[c], s2 = sdyx[c];
            const float4 xhat = (vload4(0, x + i) - mean[c]) * is;
            const float4 gi = select((float4)0.0f, vload4(0, dy + i), vload4(0, y + i) > 0.0f);
            vstore4(k * (fm * gi - s1 - xhat * s2), 0, dx + i);
        }
        return;
    }
    for (int c = (int)get_global_id(0) * cpi; c < c1; c++) {
        const float is = invstd[c], fm = (float)N * (float)HW;
        dx_plane(dx, dy, y, x, (n * C + c) * HW, HW, mean[c], is, gamma[c] * is / fm, fm, sdy[c],
                 sdyx[c], 1, nt, pf_ahead(HW));
    }
    STREAM_FENCE_GROUP(nt);
}

/* ---- Per-channel kernels (the host's choice where C is large against
 * the compute units and the planes are not tiny, src/ops/batchnorm.c
 * rcl_bn_chan_use): work-group c takes channel c whole, its CHAN_WG items
 * consecutive runs of images (item t: n in [t*N/CHAN_WG,
 * (t+1)*N/CHAN_WG)), PK planes at a time; the plane sums, a barrier, item
 * 0's fold of the N plane partials (in order n = 0 .. N-1), a barrier, the
 * second pass over the same planes while they are still in the core's
 * cache (the plane kernels read the whole tensor twice). The same
 * operations in the same order as the plane kernels, so the same floats:
 *
 *   bn_chan_train  bn_plane_stats, bn_stats, then bn_apply (relu 0) or
 *                  bn_apply_relu (relu 1, res when has_res)
 *   bn_chan_bwd    bn_bwd_plane (relu 0) or bn_bwd_plane_relu (relu 1,
 *                  dres when has_dres), bn_bwd_reduce into sdy/sdyx, then
 *                  with has_dx bn_bwd_dx / bn_bwd_dx_relu from dy and y
 *
 * The sums of a plane are chains of dependent float4 additions (their
 * order is the result's rounding, ADD_QUARTERS): one plane at a time runs
 * at the adder's latency, not its throughput (resnet20's 32x32 maps: the
 * statistics took twice as long as the normalisation's read and write).
 * PK planes side by side are PK independent chains. part holds the plane
 * partials as for the plane kernels (2*C*N floats). */
#ifndef CHAN_WG
#error "CHAN_WG (work-group size of bn_chan_*) is passed by the host: src/runtime/tunables.def"
#endif
__kernel __attribute__((reqd_work_group_size(CHAN_WG, 1, 1)))
void bn_chan_train(__global float *y, __global float *save_mean, __global float *save_invstd,
                   __global float *running_mean, __global float *running_var,
                   __global float *part, __global const float *x, __global const float *res,
                   __global const float *gamma, __global const float *beta, const int N,
                   const int C, const int HW, const float momentum, const float eps,
                   const int update, const int relu, const int has_res, const int nt)
{
    const int c = get_group_id(0), t = get_local_id(0), CHW = C * HW;
    const int n0 = t * N / CHAN_WG, n1 = (t + 1) * N / CHAN_WG;
    __local float stat[2];
    for (int n = n0; n < n1; n += PK) {
        const int k = min(PK, n1 - n);
        float2 m[PK];
        plane_moments_k(m, x + (n * C + c) * HW, CHW, k, HW, PK * CHW, PK);
#pragma unroll
        for (int j = 0; j < PK; j++)
            if (j < k) vstore2(m[j], c * N + n + j, part);
    }
    barrier(CLK_GLOBAL_MEM_FENCE);
    if (t == 0) {
        const float2 ms = fold_stats(save_mean, save_invstd, running_mean, running_var, part, N,
                                     HW, momentum, eps, update, c);
        stat[0] = ms.x, stat[1] = ms.y;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const float mu = stat[0], is = stat[1], g = gamma[c], b = beta[c];
    for (int n = n0; n < n1; n++)
        apply_plane(y, x, res, (n * C + c) * HW, HW, mu, is, g, b, relu, has_res, nt, CHW);
    STREAM_FENCE_GROUP(nt);
}

__kernel __attribute__((reqd_work_group_size(CHAN_WG, 1, 1)))
void bn_chan_bwd(__global float *dx, __global float *sdy, __global float *sdyx,
                 __global float *dres, __global float *part, __global const float *dy,
                 __global const float *y, __global const float *x, __global const float *mean,
                 __global const float *invstd, __global const float *gamma, const int N,
                 const int C, const int HW, const int relu, const int has_dres, const int has_dx,
                 const int nt)
{
    const int c = get_group_id(0), t = get_local_id(0), CHW = C * HW;
    const int n0 = t * N / CHAN_WG, n1 = (t + 1) * N / CHAN_WG;
    const float mu = mean[c], is = invstd[c];
    __local float sums[2];
    for (int n = n0; n < n1; n += PK) {
        const int k = min(PK, n1 - n);
        float2 r[PK];
        bwd_plane_sums_k(r, dres, dy, y, x, (n * C + c) * HW, CHW, k, HW, mu, is, relu, has_dres,
                         nt, PK * CHW, PK);
#pragma unroll
        for (int j = 0; j < PK; j++)
            if (j < k) vstore2(r[j], c * N + n + j, part);
    }
    barrier(CLK_GLOBAL_MEM_FENCE);
    if (t == 0) {
        const float2 ab = fold_sums(sdy, sdyx, part, N, c);
        sums[0] = ab.x, sums[1] = ab.y;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (has_dx) {
        const float fm = (float)N * (float)HW, k = gamma[c] * is / fm, s1 = sums[0], s2 = sums[1];
        for (int n = n0; n < n1; n++)
            dx_plane(dx, dy, y, x, (n * C + c) * HW, HW, mu, is, k, fm, s1, s2, relu, nt, CHW);
    }
    STREAM_FENCE_GROUP(nt);
}

/* BN folded into the conv before it (eval): per output channel o with
 * s = gamma[o] / sqrt(rvar[o] + eps), over a 1-D range of O*K weights
 * (rounded up to WG):
 *   wf[o*K + k] = w[o*K + k] * s
 *   bf[o]       = beta[o] - rmean[o] * s      (written by the item k == 0)
 * so that conv(x, wf) + bf = bn_eval(conv(x, w)) up to float rounding. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bn_fold(__global float *wf, __global float *bf, __global const float *w,
             __global const float *gamma, __global const float *beta,
             __global const float *rmean, __global const float *rvar, const float eps,
             const int O, const int K)
{
    const int i = get_global_id(0);
    if (i >= O * K) return;
    const int o = i / K;
    const float s = gamma[o] / sqrt(rvar[o] + eps);
    wf[i] = w[i] * s;
    if (i - o * K == 0) bf[o] = beta[o] - rmean[o] * s;
}
