/* MaxPool2d, square window K, stride S, padding P (floor mode), on planes
 * of NC = N*C images, x plane H x W, y plane OH x OW.
 *
 * maxpool_forward and maxpool_backward: 1-D range over the planes nc in
 * [0, NC) (rounded up to WG); work-item nc handles one whole plane with
 * loops over rows and columns (no per-element division; planes are
 * contiguous, so each item streams its own memory).
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
 * maxpool3s2_forward: the same results (values and idx, bit for bit) for
 * the ResNet stem's window K=3, S=2, P=1, with explicit vectors inside each
 * work-item. maxpool_forward's items are vectorised by PoCL across 16
 * planes, so every load there is a gather with stride H*W (on PoCL/AVX-512
 * the `pool` time of a resnet18 32x32 batch-100 inference step went from
 * 3.8-4.8 to 0.37-0.39 ms, resnet50 224x224 batch 16 from 17.4 to 3.9). An
 * item takes a segment of 8 output columns ow0 .. ow0+7 (ow0 = 8*seg) of
 * R consecutive output rows of one plane; items are numbered segment
 * fastest, then block of R rows, then plane, so the items a CPU runs one
 * after the other read neighbouring memory. For each input row it loads the
 * columns 2*ow0-1 .. 2*ow0+15 (one vload16 where they lie inside the row,
 * else element loads, -inf outside the plane: the padding, which never wins
 * since -inf > m is false) and splits them with .even / .odd into three
 * float8 (window column offsets -1, 0, +1 of the 8 outputs):
 *
 *      input row  c0-1 | c0 c0+1 c0+2 c0+3 ... c0+14 c0+15     (c0 = 2*ow0)
 *      offset -1:  l   = (c0-1, c0+1, ..., c0+13)
 *      offset  0:  c   = (c0,   c0+2, ..., c0+14)   v.even
 *      offset +1:  r   = (c0+1, c0+3, ..., c0+15)   v.odd
 *
 * The 9 candidates are folded in maxpool_forward's order (window rows top
 * to bottom, columns left to right) with the same rule and the same start
 * (m = -inf, mi = the first in-plane position of the window), as selects
 * on float8 / int8. Output row oh's bottom input row 2*oh+1 is row oh+1's
 * top, so an item of R rows loads 2*R+1 input rows, not 3*R. Lanes past OW
 * (the last segment) are computed on padding and not stored. The host picks
 * R = OH where one segment covers the row (OW <= 8: the item walks its
 * whole, contiguous plane; 100x64 planes of 16x16: 0.31 against 0.45 ms
 * for R = 1) and R = 1 otherwise (a strip of a wider plane is a strided
 * stream; 16x64 planes of 112x112: 3.8 against 4.7 ms for R = OH).
 *
 * maxpool_backward serves both forward kernels (same idx). It was timed
 * apart and left as it is: 0.16-0.3 ms for 100x64x16x16 and ~3 ms for
 * 16x64x112x112 (it writes dx once, as a plane stream), at most 0.2% of
 * either training step, so a vector form could gain little.
 *
 * Tunable: WG (work-group size, all three kernels). The host's maxpool VEC (0/1)
 * chooses maxpool3s2_forward where it applies (src/ops/maxpool.c).
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

/* Input row ih of plane xp, columns c0-1 .. c0+15, as the window columns
 * of 8 outputs: *l offset -1, *c offset 0, *r offset +1 (-inf outside the
 * plane). */
static inline void mp3_row(__global const float *xp, const int ih, const int H, const int W,
                           const int c0, float8 *l, float8 *c, float8 *r)
{
    float16 v = (float16)(-INFINITY);
    float left = -INFINITY;
    if (ih >= 0 && ih < H) {
        __global const float *row = xp + ih * W;
        if (c0 > 0) left = row[c0 - 1];
        if (c0 + 16 <= W) {
            v = vload16(0, row + c0);
        } else {
            float t[16];
            for (int k = 0; k < 16; k++) t[k] = c0 + k < W ? row[c0 + k] : -INFINITY;
            v = vload16(0, t);
        }
    }
    *l = (float8)(left, v.odd.s012, v.odd.s3456);
    *c = v.even;
    *r = v.odd;
}

/* maxpool_forward's `v > m || isnan(v)` on 8 lanes (-1 where true). */
#define MP3_FOLD(v, id)                                                                      \
    do {                                                                                     \
        const int8 upd_ = ((v) > m) | isnan(v);                                              \
        m = select(m, (v), upd_);                                                            \
        mi = select(mi, (id), upd_);                                                         \
    } while (0)

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void maxpool3s2_forward(__global float *y, __global int *idx, __global const float *x,
                        const int H, const int W, const int OH, const int OW, const int NSEG,
                        const int R, const int NRB, const int NC)
{
    const int g = get_global_id(0);
    const int seg = g % NSEG, t = g / NSEG;
    const int rb = t % NRB, nc = t / NRB;
    if (nc >= NC) return;
    __global const float *xp = x + nc * (H * W);
    const int ow0 = seg * 8, c0 = 2 * ow0;
    const int8 col = c0 + (int8)(0, 2, 4, 6, 8, 10, 12, 14); /* input column, offset 0 */
    const int8 ws = max(col - 1, 0);                          /* first in-plane column */
    const int oh0 = rb * R, oh1 = min(oh0 + R, OH);
    float8 tl, tc, tr; /* the top input row of the current output row */
    mp3_row(xp, 2 * oh0 - 1, H, W, c0, &tl, &tc, &tr);
    for (int oh = oh0; oh < oh1; oh++) {
        const int ih = 2 * oh; /* the middle row, always inside the plane */
        float8 ml, mc, mr, bl, bc, br;
        mp3_row(xp, ih, H, W, c0, &ml, &mc, &mr);
        mp3_row(xp, ih + 1, H, W, c0, &bl, &bc, &br);
        float8 m = (float8)(-INFINITY);
        int8 mi = max(ih - 1, 0) * W + ws;
        int8 b = (ih - 1) * W + col; /* index of offset 0 in the top row (never stored
                                        when that row is padding: -inf never wins) */
        MP3_FOLD(tl, b - 1);
        MP3_FOLD(tc, b);
        MP3_FOLD(tr, b + 1);
        b += W;
        MP3_FOLD(ml, b - 1);
        MP3_FOLD(mc, b);
        MP3_FOLD(mr, b + 1);
        b += W;
        MP3_FOLD(bl, b - 1);
        MP3_FOLD(bc, b);
        MP3_FOLD(br, b + 1);
        const int o = (nc * OH + oh) * OW + ow0;
        if (ow0 + 8 <= OW) {
            vstore8(m, 0, y + o);
            vstore8(mi, 0, idx + o);
        } else {
            float tm[8];
            int ti[8];
            vstore8(m, 0, tm);
            vstore8(mi, 0, ti);
            for (int j = 0; j < OW - ow0; j++) {
                y[o + j] = tm[j];
                idx[o + j] = ti[j];
            }
        }
        tl = bl, tc = bc, tr = br;
    }
}
