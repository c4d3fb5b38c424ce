/* MaxPool2d, square window K, stride S, padding P (floor mode), on planes
 * of NC = N*C images, x plane H x W, y plane OH x OW.
 *
 * maxpool_forward: one work-item per output element o = (nc*OH + oh)*OW + ow.
 * It scans the window rows ih = oh*S-P .. oh*S-P+K-1 (clipped to the plane)
 * and, inside each, the columns, in row-major order; padded positions are
 * never read (they act as -inf). PyTorch's rule: take a value when
 * `v > max || isnan(v)`, so the first maximum wins and NaN propagates.
 * idx[o] = ih*W + iw of the winner (offset within the input plane).
 *
 *      x plane            window of (oh, ow)
 *      +--------+        rows    [oh*S-P, oh*S-P+K)
 *      |  [KxK] |        columns [ow*S-P, ow*S-P+K)
 *      +--------+
 *
 * maxpool_backward: one work-item per input element i = (nc*H + ih)*W + iw.
 * It gathers dy over the output windows that contain (ih, iw):
 * oh in [ceil((ih+P-K+1)/S), floor((ih+P)/S)] clipped to [0, OH), same for
 * ow, adding dy[o] where idx[o] == ih*W + iw, in row-major order (no atomics,
 * deterministic).
 *
 * Tunable: WG (work-group size, common.h).
 */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void maxpool_forward(__global float *y, __global int *idx, __global const float *x,
                     const int H, const int W, const int OH, const int OW, const int K,
                     const int S, const int P, const int total)
{
    const int o = get_global_id(0);
    if (o >= total) return;
    const int ow = o % OW;
    const int oh = (o / OW) % OH;
    const int nc = o / (OW * OH);
    const int h0 = oh * S - P, w0 = ow * S - P;
    const int hs = max(h0, 0), he = min(h0 + K, H);
    const int ws = max(w0, 0), we = min(w0 + K, W);
    __global const float *xp = x + (size_t)nc * H * W;
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
    y[o] = m;
    idx[o] = mi;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void maxpool_backward(__global float *dx, __global const float *dy, __global const int *idx,
                      const int H, const int W, const int OH, const int OW, const int K,
                      const int S, const int P, const int total)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int iw = i % W;
    const int ih = (i / W) % H;
    const int nc = i / (W * H);
    /* windows with oh*S - P <= ih <= oh*S - P + K - 1: the lowest oh is
     * ceil((ih+P-K+1)/S) clipped at 0 (test the sign before dividing). */
    const int hl = ih + P - K + 1, wl = iw + P - K + 1;
    const int ohs = hl > 0 ? (hl + S - 1) / S : 0;
    const int ows = wl > 0 ? (wl + S - 1) / S : 0;
    const int ohe = min((ih + P) / S, OH - 1);
    const int owe = min((iw + P) / S, OW - 1);
    const int me = ih * W + iw;
    const int base = nc * OH * OW;
    float s = 0.0f;
    for (int oh = ohs; oh <= ohe; oh++) {
        for (int ow = ows; ow <= owe; ow++) {
            const int o = base + oh * OW + ow;
            if (idx[o] == me) s += dy[o];
        }
    }
    dx[i] = s;
}
