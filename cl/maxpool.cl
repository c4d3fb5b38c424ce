/* MaxPool2d, square window K, stride S, padding P (floor mode), on planes
 * of NC = N*C images, x plane H x W, y plane OH x OW.
 *
 * Both kernels: 1-D range over the planes nc in [0, NC) (rounded up to WG);
 * work-item nc handles one whole plane with loops over rows and columns (no
 * per-element division; planes are contiguous, so each item streams its own
 * memory).
 *
 * maxpool_forward: for each output (oh, ow) of plane nc, in row-major order,
 * scan the window rows ih = oh*S-P .. oh*S-P+K-1 (clipped to the plane)
 * and, inside each, the columns, in row-major order; padded positions are
 * never read (they act as -inf). PyTorch's rule: take a value when
 * `v > max || isnan(v)`, so the first maximum wins and NaN propagates.
 * idx[o] = ih*W + iw of the winner (offset within the input plane),
 * o = (nc*OH + oh)*OW + ow.
 *
 *      x plane            window of (oh, ow)
 *      +--------+        rows    [oh*S-P, oh*S-P+K)
 *      |  [KxK] |        columns [ow*S-P, ow*S-P+K)
 *      +--------+
 *
 * maxpool_backward: zero the dx plane nc, then for each output o of the
 * plane in row-major order add dy[o] to dx[nc, idx[o]]. Every input value
 * thus receives the sum over the windows whose winner it is, in row-major
 * window order (one item per plane: no atomics, deterministic).
 *
 * Tunable: WG (work-group size).
 */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void maxpool_forward(__global float *y, __global int *idx, __global const float *x,
                     const int H, const int W, const int OH, const int OW, const int K,
                     const int S, const int P, const int NC)
{
    const int nc = get_global_id(0);
    if (nc >= NC) return;
    __global const float *xp = x + nc * (H * W);
    const int obase = nc * (OH * OW);
    for (int oh = 0; oh < OH; oh++) {
        const int h0 = oh * S - P;
        const int hs = max(h0, 0), he = min(h0 + K, H);
        for (int ow = 0; ow < OW; ow++) {
            const int w0 = ow * S - P;
            const int ws = max(w0, 0), we = min(w0 + K, W);
            float m = -INFINITY;
            int mi = hs * W + ws;
            for (int ih = hs; ih < he; ih++) {
                for (int iw = ws; iw < we; iw++) {
                    const float v = xp[ih * W + iw];
                    if (v > m || isnan(v)) {
                        m = v;
                        mi = ih * W + iw;
                    }
                }
            }
            const int o = obase + oh * OW + ow;
            y[o] = m;
            idx[o] = mi;
        }
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void maxpool_backward(__global float *dx, __global const float *dy, __global const int *idx,
                      const int H, const int W, const int OH, const int OW, const int NC)
{
    const int nc = get_global_id(0);
    if (nc >= NC) return;
    __global float *dp = dx + nc * (H * W);
    for (int i = 0; i < H * W; i++) dp[i] = 0.0f;
    const int obase = nc * (OH * OW);
    for (int o = obase; o < obase + OH * OW; o++) {
        const int t = idx[o];
        if ((uint)t < (uint)(H * W)) dp[t] += dy[o]; /* a foreign idx never writes outside */
    }
}
