/* Winograd F(2x2, 3x3) convolution for 3x3 stride-1 convs: the forward
 * pass and the data gradient (host side src/ops/conv2d_wino.c, chosen
 * inside the direct path by src/ops/conv2d_direct.c; F(4x4, 3x3) for wide
 * outputs, for 8x8 ones across images (conv_wino4_img) and the weight
 * gradient further below). Lavin & Gray 2016:
 * each 2x2 output tile is A^T [ (G g G^T) .* (B^T d B) ] A over its 4x4
 * input tile d, 16 multiplications per tile and channel pair where the
 * direct sum takes 36.
 *
 *   conv_wino_w  U[p, ci, co] = (G g G^T)[p] (p = 4*i + j, 16 positions) of
 *                the 3x3 filter g = w[co, ci] (FLIP 0: the forward pass,
 *                w is (CO, CI, 3, 3)); FLIP 1: g = w[ci, co] rotated by
 *                180 degrees (the data gradient: w is the forward conv's
 *                (OC, C, 3, 3) with CI = OC, CO = C), the transposed conv
 *                as a stride-1 conv over dy padded by 2 - pad.
 *   conv_wino    y[n0+nl, co, 2*th + a, 2*t + b] (+ bias[co]) for RV
 *                tile rows th .. th+RV-1 and HV = VX/RV consecutive tile
 *                columns t of each (one tile per vector lane: lanes
 *                k*HV .. k*HV+HV-1 hold tile row th+k) of one work-item,
 *                every output channel:
 *                first V[p, ci] = (B^T d B)[p] for every input channel
 *                (kept in private memory: 16 + 1 slots of SL vectors), then
 *                per position p and block of OCB output channels the sums
 *                M[p] = sum_ci U[p, ci, co] * V[p, ci] (OCB accumulator
 *                vectors; MV: M[p] into V[p - 1]'s slot), then per output
 *                channel y = A^T M A. It reads the input tensor
 *                itself, zero outside (no padded copy): tile t's 4
 *                columns are 2*t - OFFW .. 2*t + 3 - OFFW, so of the HV
 *                tiles t0 .. t0+HV-1 on a row the columns 1 and 2 are the
 *                even and odd lanes of 2*HV consecutive inputs (one or two
 *                vector loads: row_cols), column 0 is column 2 one tile to
 *                the left and column 3 column 1 one tile to the right. Rows
 *                outside the input, inputs outside a row and lanes past the
 *                last tile or tile row read 0 (the last compute on padding
 *                and are not stored).
 *
 * Compile-time shape (set by the host, not tunables): VX (tiles per
 * vector: 4, 8 or 16: the device's vector width), RV (tile rows per
 * vector: 1, 2 or 4, at most VX/4: narrow outputs fill a vector with
 * several tile rows), WC and WO (input and output channels: the private
 * array's size, each <= 64; OC == WO).
 * Tunables (runtime/tunables.def "conv_wino"): OCB, WG, PF (the prefetch
 * distance in channels, prefetch_rows). conv_wino and conv_wino4 take nt,
 * the host's choice to store whole 16-float rows past the caches
 * (cl/common.h STREAM16; same values either way).
 * Indices are int: every buffer holds fewer than 2^31 floats. */

/* ---- tunables (runtime/tunables.def "conv_wino") */
#ifndef OCB
#error "OCB (output channels per accumulator block: 1..16) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef PF
#error "PF (the prefetch distance in channels, 0 off) is passed by the host: src/runtime/tunables.def"
#endif
/* ---- the shape (set by the host per conv, not tunables) */
#if !defined(VX) || !defined(WC) || !defined(WO) || !defined(RV)
#error "VX (tiles per vector), RV (tile rows per vector), WC and WO (input and output channels) come from src/ops/conv2d_wino.c"
#endif
#if (RV != 1 && RV != 2 && RV != 4) || VX / RV < 4
#error "RV must be 1, 2 or 4 with VX / RV >= 4"
#endif
#if OCB < 1 || OCB > 16 || WC < 1 || WC > 64 || WO < 1 || WO > 64
#error "need 1 <= OCB <= 16, 1 <= WC <= 64, 1 <= WO <= 64"
#endif

#if VX == 4
#define floatV float4
#define ZIP(a, b) shuffle2((a), (b), (uint8)(0, 4, 1, 5, 2, 6, 3, 7))
#elif VX == 8
#define floatV float8
#define ZIP(a, b) shuffle2((a), (b), (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15))
#elif VX == 16
#define floatV float16
/* the two halves of the interleave of a and b (no 32-float vector) */
#define ZIP_LO(a, b) \
    shuffle2((a), (b), (uint16)(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23))
#define ZIP_HI(a, b) \
    shuffle2((a), (b), (uint16)(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31))
#else
#error "VX must be 4, 8 or 16"
#endif

/* unaligned vector loads (one instruction; see cl/conv_direct.cl) */
typedef float8 float8_u __attribute__((aligned(4)));
typedef float16 float16_u __attribute__((aligned(4)));
/* HV = VX / RV tiles of one tile row per vector (lanes k*HV .. k*HV+HV-1:
 * tile row th+k, 2*k input rows further down); floatH: HV floats */
#define HV (VX / RV)
#if HV == 4
#define floatH float4
#elif HV == 8
#define floatH float8
#else
#define floatH float16
#endif

/* F(2x2): the 4 tile columns of the tiles t0 .. t0+HV-1 on input row ih
 * (all 0 outside [0, H)), as vectors over the tiles: d[c] lane l =
 * row[b0 + 2*l + c - 1] (0 outside [0, W)), b0 = 2*t0 + 1 - OFFW. The 2*HV
 * inputs from b0 hold columns 1 (even lanes) and 2 (odd lanes), one vector
 * load (two for 16 tiles) where they lie inside the row, else gathered
 * with tests; column 0 is column 2 shifted one lane up with row[b0 - 1] in
 * lane 0, column 3 column 1 shifted down with row[b0 + 2*HV] in the last
 * lane */
static void row_cols(floatH d[4], const __global float *plane, const int ih, const int H,
                     const int b0, const int W)
{
    if (ih < 0 || ih >= H) {
        for (int c = 0; c < 4; c++) d[c] = (floatH)0.0f;
        return;
    }
    const __global float *row = plane + ih * W;
    float t[2 * HV];
    const int inside = b0 >= 0 && b0 + 2 * HV <= W;
    if (!inside) {
        for (int i = 0; i < 2 * HV; i++) {
            const int c = b0 + i;
            t[i] = c >= 0 && c < W ? row[c] : 0.0f;
        }
    }
#if HV == 4
    const float8 v = inside ? *(const __global float8_u *)(row + b0) : vload8(0, t);
    d[1] = v.even;
    d[2] = v.odd;
#elif HV == 8
    const float16 v = inside ? *(const __global float16_u *)(row + b0) : vload16(0, t);
    d[1] = v.even;
    d[2] = v.odd;
#else
    const float16 v0 = inside ? *(const __global float16_u *)(row + b0) : vload16(0, t);
    const float16 v1 = inside ? *(const __global float16_u *)(row + b0 + 16) : vload16(1, t);
    d[1] = (float16)(v0.even, v1.even);
    d[2] = (float16)(v0.odd, v1.odd);
#endif
    const float left = b0 >= 1 && b0 <= W ? row[b0 - 1] : 0.0f;
    const float right = b0 + 2 * HV >= 0 && b0 + 2 * HV < W ? row[b0 + 2 * HV] : 0.0f;
#if HV == 16
    d[0] = shuffle2(d[2], (float16)(left),
                    (uint16)(16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14));
    d[3] = shuffle2(d[1], (float16)(right),
                    (uint16)(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16));
#elif HV == 8
    d[0] = shuffle2(d[2], (float8)(left), (uint8)(8, 0, 1, 2, 3, 4, 5, 6));
    d[3] = shuffle2(d[1], (float8)(right), (uint8)(1, 2, 3, 4, 5, 6, 7, 8));
#else
    d[0] = shuffle2(d[2], (float4)(left), (uint4)(4, 0, 1, 2));
    d[3] = shuffle2(d[1], (float4)(right), (uint4)(1, 2, 3, 4));
#endif
}

#if RV > 1
/* rows per vector (RV 2, 4: HV 4 or 8): the rows' columns are built from
 * values, not from row_cols' arrays. PoCL kept those on the stack, stored
 * in 16-byte halves and read back whole: each read waited on the failed
 * store forwarding (perf: a quarter of conv_wino's samples on resnet56's
 * 32x16x16 layer). floatR: the 2*HV inputs of one row from b0. */
#if HV == 4
#define floatR float8
#else
#define floatR float16
#endif
#define EDGE(i) ((uint)(b0 + (i)) < (uint)W ? row[b0 + (i)] : 0.0f)
#define EDGE8(i)                                                                              \
    EDGE(i), EDGE(i + 1), EDGE(i + 2), EDGE(i + 3), EDGE(i + 4), EDGE(i + 5), EDGE(i + 6), \
        EDGE(i + 7)

/* row ih's inputs b0 .. b0+2*HV-1 (0 outside the map): one vector load
 * inside the row, lane by lane at its ends */
static inline __attribute__((always_inline)) floatR row_in(const __global float *plane,
                                                           const int ih, const int H,
                                                           const int b0, const int W)
{
    const __global float *row = plane + clamp(ih, 0, H - 1) * W;
    const int inside = b0 >= 0 && b0 + 2 * HV <= W;
#if HV == 4
    const floatR v = inside ? *(const __global float8_u *)(row + b0) : (floatR)(EDGE8(0));
#else
    const floatR v =
        inside ? *(const __global float16_u *)(row + b0) : (floatR)(EDGE8(0), EDGE8(8));
#endif
    return ih >= 0 && ih < H ? v : (floatR)0.0f;
}
#undef EDGE8
#undef EDGE

/* plane[ih, c], 0 outside the map */
static inline __attribute__((always_inline)) float px_in(const __global float *plane,
                                                         const int ih, const int H, const int c,
                                                         const int W)
{
    return ih >= 0 && ih < H && c >= 0 && c < W ? plane[ih * W + c] : 0.0f;
}

/* row_cols' columns 0 (odd inputs one lane up, l: the input left of b0)
 * and 3 (even inputs one lane down, r: the input at b0 + 2*HV) */
#if HV == 8
#define COL0(v, l) shuffle2((v).odd, (float8)(l), (uint8)(8, 0, 1, 2, 3, 4, 5, 6))
#define COL3(v, r) shuffle2((v).even, (float8)(r), (uint8)(1, 2, 3, 4, 5, 6, 7, 8))
#else
#define COL0(v, l) shuffle2((v).odd, (float4)(l), (uint4)(4, 0, 1, 2))
#define COL3(v, r) shuffle2((v).even, (float4)(r), (uint4)(1, 2, 3, 4))
#endif
#endif

#if PF && HAS_PREFETCH
/* Ask the cache for rows ih0 .. ih0+n-1 (those inside [0, H)), columns b0
 * .. b0+len-1 of plane (a channel PF ahead of the one being transformed:
 * without it the transforms waited on these loads) */
static void prefetch_rows(const __global float *plane, const int ih0, const int n, const int H,
                          const int b0, const int len, const int W)
{
    const int c0 = max(b0, 0), c1 = min(b0 + len, W) - 1;
    for (int r = max(ih0, 0); r < min(ih0 + n, H); r++) {
        PREFETCH(plane + r * W + c0);
        PREFETCH(plane + r * W + c1);
    }
}
#endif

/* CAT, REP: cl/common.h */

/* e = B^T d of a 4x4 tile d[4*r + q] (B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
 * 0 1 0 -1]), then OUT(p, (e B)[p]) for the 16 positions p = 4*i + j:
 * vectors in conv_wino, scalars in conv_wino_vt */
#define BT_D_B(d, e, OUT)                                 \
    for (int j = 0; j < 4; j++) {                         \
        e[j] = d[j] - d[8 + j];                           \
        e[4 + j] = d[4 + j] + d[8 + j];                   \
        e[8 + j] = d[8 + j] - d[4 + j];                   \
        e[12 + j] = d[4 + j] - d[12 + j];                 \
    }                                                     \
    for (int i = 0; i < 4; i++) {                         \
        OUT(4 * i + 0, e[4 * i] - e[4 * i + 2])           \
        OUT(4 * i + 1, e[4 * i + 1] + e[4 * i + 2])       \
        OUT(4 * i + 2, e[4 * i + 2] - e[4 * i + 1])       \
        OUT(4 * i + 3, e[4 * i + 1] - e[4 * i + 3])       \
    }


/* g = the 3x3 filter of (ci, co): w[co, ci] (FLIP 0: the forward pass, w
 * is (CO, CI, 3, 3)), or w[ci, co] rotated by 180 degrees (FLIP 1: the
 * data gradient) */
static void load_filter(float g[9], const __global float *w, const int ci, const int co,
                        const int CI, const int CO, const int FLIP)
{
    if (FLIP) {
        const __global float *s = w + (ci * CO + co) * 9;
#pragma unroll
        for (int k = 0; k < 9; k++) g[k] = s[8 - k];
    } else {
        const __global float *s = w + (co * CI + ci) * 9;
#pragma unroll
        for (int k = 0; k < 9; k++) g[k] = s[k];
    }
}

/* The filter transforms' work-item (f, s) of a 2-D range (dimension 0
 * rounded up to WG): (ci, co) = (f, s) for LAYOUT 1, U[p, co, ci] (the
 * GEMM form's op(A) = U[p], no transpose), else (s, f), U[p, ci, co]
 * (conv_wino, conv_wino4); its transformed filter's position 0 is at
 * U + s*F + f (positions CI*CO apart): consecutive work-items write
 * consecutive floats, which the compilers see (PoCL scattered the stores
 * with 64-bit addresses where ci, co came from one index by / and %) */
#define FILTER_ITEM                                                  \
    const int f = get_global_id(0), s = get_global_id(1);            \
    const int F = LAYOUT ? CI : CO;                                  \
    if (f >= F) return;                                              \
    const int ci = LAYOUT ? f : s, co = LAYOUT ? s : f;              \
    __global float *u = U + s * F + f;

/* one work-item per (ci, co) (FILTER_ITEM) */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino_w(__global float *restrict U, __global const float *restrict w, const int CI,
                 const int CO, const int FLIP, const int LAYOUT)
{
    FILTER_ITEM
    float g[9];
    load_filter(g, w, ci, co, CI, CO, FLIP);
    /* t = G g (4x3), then u = t G^T (4x4); G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1] */
    float t[12];
#pragma unroll
    for (int j = 0; j < 3; j++) {
        t[j] = g[j];
        t[3 + j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[6 + j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[9 + j] = g[6 + j];
    }
    const int stride = CI * CO;
#pragma unroll
    for (int r = 0; r < 4; r++) {
        const float a = t[3 * r], b = t[3 * r + 1], c = t[3 * r + 2];
        u[(4 * r + 0) * stride] = a;
        u[(4 * r + 1) * stride] = 0.5f * (a + b + c);
        u[(4 * r + 2) * stride] = 0.5f * (a - b + c);
        u[(4 * r + 3) * stride] = c;
    }
}

/* a whole 8 or 16 outputs at p; 16 (a cache line where p is aligned) past
 * the caches where nt says so (STREAM16: the kernels end with STREAM_FENCE) */
static inline __attribute__((always_inline)) void store8(const float8 z, __global float *p,
                                                         const int nt)
{
    (void)nt;
    *(__global float8_u *)p = z;
}
static inline __attribute__((always_inline)) void store16(const float16 z, __global float *p,
                                                          const int nt)
{
    STREAM16(nt, z, p);
}

/* the epilogue (conv_fwd's in cl/conv_direct.cl: bit 0 adds res at r, bit
 * 1 ReLU) and the store at p of 8 or 16 outputs (only the first n where n
 * is less; none where n <= 0) */
#define PUT_N(N)                                                                        \
    static inline __attribute__((always_inline)) void CAT(put, N)(                      \
        CAT(float, N) z, __global float *p, const __global float *r, const int n,        \
        const int epi, const int nt)                                                     \
    {                                                                                    \
        if (n >= N) {                                                                    \
            if (epi & 1) z += *(const __global CAT(CAT(float, N), _u) *)r;               \
            if (epi & 2) z = select(z, (CAT(float, N))0.0f, z < (CAT(float, N))0.0f);    \
            CAT(store, N)(z, p, nt);                                                     \
            return;                                                                      \
        }                                                                                \
        float t[N];                                                                      \
        CAT(vstore, N)(z, 0, t);                                                         \
        for (int l = 0; l < n; l++) {                                                    \
            float v = t[l];                                                              \
            if (epi & 1) v += r[l];                                                      \
            if (epi & 2) v = v < 0.0f ? 0.0f : v;                                        \
            p[l] = v;                                                                    \
        }                                                                                \
    }
PUT_N(8)
PUT_N(16)

/* The outputs of tile row th+k's output row 2*(th+k) + a (RV * 2 rows of a
 * work-item), 2*HV from column 2*t0: ya, yb lanes k*HV .. are the tiles'
 * columns 0 and 1, interleaved here; rows past OH are not stored; off:
 * the offset of the work-item's first output. Inlined, as put8/put16: as
 * calls PoCL passed the vectors through the stack (a quarter of put_rows'
 * samples sat on its entry, resnet56's 32x16x16 layer) */
static inline __attribute__((always_inline)) void put_rows(
    const floatV ya, const floatV yb, const int a, __global float *y, const __global float *res,
    const int off, const int th, const int OH, const int OW, const int ncol, const int epi,
    const int nt)
{
#define PUT_ROW(K, N, Z)                                          \
    if (2 * (th + (K)) + a < OH) {                                \
        const int o = off + (2 * (K) + a) * OW;                   \
        CAT(put, N)((Z), y + o, res + o, ncol, epi, nt);          \
    }
#if VX == 4
    PUT_ROW(0, 8, ZIP(ya, yb))
#elif VX == 8
    const float16 z = ZIP(ya, yb);
#if RV == 1
    PUT_ROW(0, 16, z)
#else
    PUT_ROW(0, 8, z.lo)
    PUT_ROW(1, 8, z.hi)
#endif
#else /* VX 16 */
    const float16 zl = ZIP_LO(ya, yb), zh = ZIP_HI(ya, yb);
#if RV == 1
    if (2 * th + a < OH) {
        const int o = off + a * OW;
        put16(zl, y + o, res + o, ncol, epi, nt);
        put16(zh, y + o + 16, res + o + 16, ncol - 16, epi, nt);
    }
#elif RV == 2
    PUT_ROW(0, 16, zl)
    PUT_ROW(1, 16, zh)
#else
    PUT_ROW(0, 8, zl.lo)
    PUT_ROW(1, 8, zl.hi)
    PUT_ROW(2, 8, zh.lo)
    PUT_ROW(3, 8, zh.hi)
#endif
#endif
#undef PUT_ROW
}

/* The sums M[p, co] = sum_ci U[p, ci, co] * V[p, ci] of NP positions,
 * position-major: for each p every block of OCB output channels (OCB
 * accumulator vectors over the WC input channels), so that V[p] and U[p]
 * stay in the L1 cache over the blocks (block-major, V's 16 to 36 KiB per
 * block came from L2: 64 channels on 8x8 maps 1.05-1.5x, on 56x56 1.35x
 * the time, docs/speed.md "Session 32"). V[p] is in slot p + 1 of SL
 * vectors; M[p] goes to slot p, which V[p - 1] has left (slot 0 is
 * spare): M[p * SL + co]. Lanes of a block past OC (o clamped to OC - 1)
 * land in slots below WOP. */
#define WOP ((WO + OCB - 1) / OCB * OCB)
#define SL (WC > WOP ? WC : WOP)
#define W_OFF(i) const int o##i = min(oc0 + i, OC - 1);
#define ACC_INIT(i) floatV acc##i = (floatV)0.0f;
#define ACC_FMA(i) acc##i = fma((floatV)(u[o##i]), v, acc##i);
#define ACC_OUT(i) V[p * SL + oc0 + i] = acc##i;
#define MV(NP)                                                                 \
    for (int p = 0; p < (NP); p++) {                                           \
        const floatV *vp = V + (p + 1) * SL;                                   \
        for (int oc0 = 0; oc0 < OC; oc0 += OCB) {                              \
            const __global float *u = U + p * (WC * OC);                       \
            REP(OCB, W_OFF)                                                    \
            REP(OCB, ACC_INIT)                                                 \
            for (int ci = 0; ci < WC; ci++) {                                  \
                const floatV v = vp[ci];                                       \
                REP(OCB, ACC_FMA)                                              \
                u += OC;                                                       \
            }                                                                  \
            REP(OCB, ACC_OUT)                                                  \
        }                                                                      \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino(__global float *restrict y, __global const float *restrict x,
               __global const float *restrict U, __global const float *restrict b,
               const int has_bias, __global const float *res, const int epi, const int n0,
               const int nb, const int H, const int W, const int OFFH, const int OFFW,
               const int OC, const int OH, const int OW, const int TWV, const int TH,
               const int nt)
{
    /* TH: work-items per column of vectors (tile rows / RV, rounded up) */
    const int t = get_global_id(0);
    const int per = TH * TWV;
    const int nl = t / per;
    if (nl >= nb) return;
    const int tr = (t - nl * per) / TWV;
    const int th = tr * RV;
    const int t0 = (t - nl * per - tr * TWV) * HV;
    const int ih0 = 2 * th - OFFH, b0 = 2 * t0 + 1 - OFFW;

    /* V[(p + 1) * SL + ci] = B^T d B of channel ci; slot 0 spare (MV) */
    floatV V[17 * SL];
    const __global float *xs = x + (n0 + nl) * WC * (H * W);
    for (int ci = 0; ci < WC; ci++) {
        floatV d[16], e[16];
#if PF && HAS_PREFETCH
        /* the rows of channel ci + PF into the cache (prefetch_rows) */
        if (ci + PF < WC) prefetch_rows(xs + PF * (H * W), ih0, 2 + 2 * RV, H, b0, 2 * HV, W);
#endif
        for (int r = 0; r < 4; r++) {
#if RV == 1
            row_cols(d + 4 * r, xs, ih0 + r, H, b0, W);
#else
            /* rows ih0 + r + 2k of the RV tile rows k */
#define RROW(k)                                                    \
    const floatR v##k = row_in(xs, ih0 + r + 2 * k, H, b0, W);     \
    const float l##k = px_in(xs, ih0 + r + 2 * k, H, b0 - 1, W);   \
    const float r##k = px_in(xs, ih0 + r + 2 * k, H, b0 + 2 * HV, W);
            RROW(0)
            RROW(1)
#if RV == 2
            d[4 * r] = (floatV)(COL0(v0, l0), COL0(v1, l1));
            d[4 * r + 1] = (floatV)(v0.even, v1.even);
            d[4 * r + 2] = (floatV)(v0.odd, v1.odd);
            d[4 * r + 3] = (floatV)(COL3(v0, r0), COL3(v1, r1));
#else
            RROW(2)
            RROW(3)
            d[4 * r] = (floatV)(COL0(v0, l0), COL0(v1, l1), COL0(v2, l2), COL0(v3, l3));
            d[4 * r + 1] = (floatV)(v0.even, v1.even, v2.even, v3.even);
            d[4 * r + 2] = (floatV)(v0.odd, v1.odd, v2.odd, v3.odd);
            d[4 * r + 3] = (floatV)(COL3(v0, r0), COL3(v1, r1), COL3(v2, r2), COL3(v3, r3));
#endif
#undef RROW
#endif
        }
#define V_OUT(p, value) V[((p) + 1) * SL + ci] = (value);
        BT_D_B(d, e, V_OUT)
        xs += H * W;
    }

    const int ncol = OW - 2 * t0; /* valid output columns from 2*t0 */
    MV(16)
    /* y = A^T M A, A^T = [1 1 1 0; 0 1 -1 -1] */
    for (int oc = 0; oc < OC; oc++) {
        floatV m[16], r[8];
        for (int p = 0; p < 16; p++) m[p] = V[p * SL + oc];
        for (int j = 0; j < 4; j++) {
            r[j] = m[j] + m[4 + j] + m[8 + j];
            r[4 + j] = m[4 + j] - m[8 + j] - m[12 + j];
        }
        const floatV bias = (floatV)(has_bias ? b[oc] : 0.0f);
        const floatV y00 = r[0] + r[1] + r[2] + bias, y01 = r[1] - r[2] - r[3] + bias;
        const floatV y10 = r[4] + r[5] + r[6] + bias, y11 = r[5] - r[6] - r[7] + bias;
        const int off = ((n0 + nl) * OC + oc) * (OH * OW) + 2 * th * OW + 2 * t0;
        put_rows(y00, y01, 0, y, res, off, th, OH, OW, ncol, epi, nt);
        put_rows(y10, y11, 1, y, res, off, th, OH, OW, ncol, epi, nt);
    }
    STREAM_FENCE(nt);
}

/* ---- Winograd F(4x4, 3x3) for the forward pass and the data gradient
 * where the output is at least 17 wide (13 with 4-wide vectors, or with
 * 16-wide ones and 13 rows: src/ops/conv2d_chunk.c rcl_conv_wino_plan_for;
 * conv_wino TILE 4). Each
 * 4x4 output tile is A^T [ (G g G^T) .* (B^T d B) ] A over its 6x6 input
 * tile d (interpolation points 0, 1, -1, 1/2, -2, infinity: about a third
 * of the float32 error of Lavin & Gray's 0, 1, -1, 2, -2 at 128 to 512
 * input channels, docs/semantics.md), 36 multiplications per tile and
 * channel pair where the direct sum takes 144 and F(2x2, 3x3) 64. Built
 * with RV 1 and VX 4 or 8, or VX 16 and RV 2 (8 tiles of two tile rows)
 * or 4 (4 tiles of four): lanes k*HV .. k*HV+HV-1 hold tile row th+k, as
 * in conv_wino.
 *
 *   conv_wino4_w  U[p, ci, co] = (G g G^T)[p] (p = 6*i + j, 36 positions),
 *                 FLIP as conv_wino_w.
 *   conv_wino4    y[n0+nl, co, 4*th + a, 4*t + b] (+ bias[co]) for the RV
 *                 tile rows from th and HV = VX/RV consecutive tile columns
 *                 t (one tile per vector lane) of one work-item, every
 *                 output channel, as
 *                 conv_wino: V[p, ci] = (B^T d B)[p] for every input
 *                 channel (37 slots of SL vectors in private memory), then
 *                 per position and block of OCB output channels M[p] =
 *                 sum_ci U[p, ci, co] * V[p, ci] (MV), then per output
 *                 channel y = A^T M A and the epilogue. It reads
 *                 the input tensor itself, zero outside (no padded copy):
 *                 tile t's 6 columns are 4*t - OFFW .. 4*t + 5 - OFFW, so
 *                 of tiles t0 .. t0+HV-1 the columns 1 to 4 are a block of
 *                 4*HV consecutive inputs (two or one float16 loads,
 *                 deinterleaved by 4: row_phases, PH4), column 0 is column 4
 *                 one tile to the left and column 5 column 1 one tile to
 *                 the right. Rows outside the input, the block's inputs
 *                 outside the row and lanes past the last tile read 0 (the
 *                 last compute on padding and are not stored). */

#if (RV == 1 && VX <= 8) || (VX == 16 && RV > 1) /* (the F(2x2) builds with 16 tiles of one row
                                                    leave it out) */

/* o = B^T d over 6 values d[0], d[S], .., d[5*S] (B^T = [2 -3 -4 3 2 0;
 * 0 -2 1 5 2 0; 0 2 -5 1 2 0; 0 -2 -1 2 1 0; 0 1 -2 -1 2 0;
 * 0 2 -3 -4 3 2]: points 0, 1, -1, 1/2, -2, infinity, rows 0-2, 4 and 5
 * scaled by 2, exact in float) into o[0], o[S], ..; of type TY (BT6:
 * floatV) */
#define BT6(d, o, S) BT6T(floatV, d, o, S)
#define BT6T(TY, d, o, S)                                             \
    {                                                                 \
        const TY a0 = d[0], a1 = d[S], a2 = d[2 * S];                 \
        const TY a3 = d[3 * S], a4 = d[4 * S], a5 = d[5 * S];         \
        const TY d31 = a3 - a1, d42 = a4 - a2;                        \
        o[0] = 2.0f * (a0 + a4) - 4.0f * a2 + 3.0f * d31;             \
        o[S] = 2.0f * (a4 - a1) + a2 + 5.0f * a3;                     \
        o[2 * S] = 2.0f * (a4 + a1) + a3 - 5.0f * a2;                 \
        o[3 * S] = 2.0f * d31 + d42;                                  \
        o[4 * S] = 2.0f * d42 - d31;                                  \
        o[5 * S] = 2.0f * (a1 + a5) - 4.0f * a3 + 3.0f * d42;         \
    }

/* o[0], o[SO], .., o[3*SO] = A^T m over m[0], m[SI], .., m[5*SI] (A^T =
 * [1 1 1 1 1 0; 0 1 -1 1/2 -2 0; 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1]: BT6's
 * points), of type TY */
#define AT6T(TY, m, SI, o, SO)                                                \
    {                                                                         \
        const TY s12 = m[SI] + m[2 * (SI)], d12 = m[SI] - m[2 * (SI)];        \
        const TY m3 = m[3 * (SI)], m4 = m[4 * (SI)];                          \
        o[0] = m[0] + s12 + (m3 + m4);                                        \
        o[SO] = d12 + (0.5f * m3 - 2.0f * m4);                                \
        o[2 * (SO)] = s12 + (0.25f * m3 + 4.0f * m4);                         \
        o[3 * (SO)] = d12 + (0.125f * m3 - 8.0f * m4) + m[5 * (SI)];          \
    }

/* conv_wino4's and conv_wino4_img's shared steps. V4_PUT: V's slots of
 * channel ci from its 6x6 windows d (e: 36 vectors of scratch), the
 * columns e = B^T d, then the rows (B^T d) B. M4_COLS: r = A^T M (4 rows
 * of 6) of output channel oc, M in V's slots (MV). Y4_ROW: row a of the
 * tiles' outputs, y0 .. y3 its columns, + bias. */
#define V4_PUT(d, e, ci)                                                  \
    {                                                                     \
        for (int j = 0; j < 6; j++) BT6((d + j), (e + j), 6)              \
        floatV *v = V + SL + (ci);                                        \
        for (int i = 0; i < 6; i++) {                                     \
            floatV o[6];                                                  \
            BT6((e + 6 * i), o, 1)                                        \
            for (int j = 0; j < 6; j++) v[(6 * i + j) * SL] = o[j];       \
        }                                                                 \
    }
#define M4_COLS(r, oc)                                                    \
    floatV r[24];                                                         \
    for (int j = 0; j < 6; j++) AT6T(floatV, (V + j * SL + (oc)), 6 * SL, (r + j), 6)
#define Y4_ROW(r, a, bias)                                                \
    floatV yr[4];                                                         \
    AT6T(floatV, (r + 6 * (a)), 1, yr, 1)                                 \
    const floatV y0 = yr[0] + (bias), y1 = yr[1] + (bias);                \
    const floatV y2 = yr[2] + (bias), y3 = yr[3] + (bias);

/* one work-item per (ci, co) (FILTER_ITEM) */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino4_w(__global float *restrict U, __global const float *restrict w, const int CI,
                  const int CO, const int FLIP, const int LAYOUT)
{
    FILTER_ITEM
    float g[9];
    load_filter(g, w, ci, co, CI, CO, FLIP);
    /* t = G g (6x3), then u = t G^T (6x6); G = [1/2 0 0; 1/6 1/6 1/6;
     * -1/6 1/6 -1/6; -16/15 -8/15 -4/15; 1/30 -1/15 2/15; 0 0 1/2] (BT6's
     * points; rows 0-2, 4 and 5 halved against its doubled rows) */
    float t[18];
#pragma unroll
    for (int j = 0; j < 3; j++) {
        const float a = g[j], b = g[3 + j], c = g[6 + j];
        t[j] = 0.5f * a;
        t[3 + j] = (a + b + c) / 6.0f;
        t[6 + j] = -(a - b + c) / 6.0f;
        t[9 + j] = -4.0f * (4.0f * a + 2.0f * b + c) / 15.0f;
        t[12 + j] = (a - 2.0f * b + 4.0f * c) / 30.0f;
        t[15 + j] = 0.5f * c;
    }
    const int stride = CI * CO;
#pragma unroll
    for (int r = 0; r < 6; r++) {
        const float a = t[3 * r], b = t[3 * r + 1], c = t[3 * r + 2];
        u[(6 * r + 0) * stride] = 0.5f * a;
        u[(6 * r + 1) * stride] = (a + b + c) / 6.0f;
        u[(6 * r + 2) * stride] = -(a - b + c) / 6.0f;
        u[(6 * r + 3) * stride] = -4.0f * (4.0f * a + 2.0f * b + c) / 15.0f;
        u[(6 * r + 4) * stride] = (a - 2.0f * b + 4.0f * c) / 30.0f;
        u[(6 * r + 5) * stride] = 0.5f * c;
    }
}

#if RV == 1
/* The 6 tile columns of the tiles t0 .. t0+VX-1 on one input row, as
 * vectors over the tiles: d[c] lane l = row[b0 + 4*l + c - 1] (0 outside
 * [0, W)), b0 = 4*t0 + 1 - OFFW. The block row[b0 .. b0 + 4*VX) holds
 * columns 1 to 4 (one vector load per 16 when it lies inside the row, else
 * gathered with tests); column 0 is column 4 shifted one lane up with
 * row[b0 - 1] in lane 0, column 5 column 1 shifted down with row[b0 + 4*VX]
 * in the last lane */
static void row_phases(floatV d[6], const __global float *row, const int b0, const int W)
{
    float16 v0;
#if VX == 8
    float16 v1;
#endif
    if (b0 >= 0 && b0 + 4 * VX <= W) {
        v0 = *(const __global float16_u *)(row + b0);
#if VX == 8
        v1 = *(const __global float16_u *)(row + b0 + 16);
#endif
    } else {
        float t[4 * VX];
        for (int i = 0; i < 4 * VX; i++) {
            const int c = b0 + i;
            t[i] = c >= 0 && c < W ? row[c] : 0.0f;
        }
        v0 = vload16(0, t);
#if VX == 8
        v1 = vload16(0, t + 16);
#endif
    }
    const float left = b0 >= 1 && b0 <= W ? row[b0 - 1] : 0.0f;
    const float right = b0 + 4 * VX >= 0 && b0 + 4 * VX < W ? row[b0 + 4 * VX] : 0.0f;
#if VX == 8
    d[1] = (float8)(v0.s048c, v1.s048c);
    d[2] = (float8)(v0.s159d, v1.s159d);
    d[3] = (float8)(v0.s26ae, v1.s26ae);
    d[4] = (float8)(v0.s37bf, v1.s37bf);
    d[0] = shuffle2(d[4], (float8)(left), (uint8)(8, 0, 1, 2, 3, 4, 5, 6));
    d[5] = shuffle2(d[1], (float8)(right), (uint8)(1, 2, 3, 4, 5, 6, 7, 8));
#else
    d[1] = v0.s048c;
    d[2] = v0.s159d;
    d[3] = v0.s26ae;
    d[4] = v0.s37bf;
    d[0] = shuffle2(d[4], (float4)(left), (uint4)(4, 0, 1, 2));
    d[5] = shuffle2(d[1], (float4)(right), (uint4)(1, 2, 3, 4));
#endif
}

#endif

/* the 16 outputs of 4 tiles (lanes) on one output row, in column order:
 * a[l], b[l], c[l], d[l] for lane l */
static float16 zip4(const float4 a, const float4 b, const float4 c, const float4 d)
{
    const float8 ac = shuffle2(a, c, (uint8)(0, 4, 1, 5, 2, 6, 3, 7));
    const float8 bd = shuffle2(b, d, (uint8)(0, 4, 1, 5, 2, 6, 3, 7));
    return shuffle2(ac, bd, (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
}

#if RV > 1
/* rows per vector (VX 16: RV 2 of 8 tiles, RV 4 of 4): each tile row's
 * row_phases columns built from values (row_in's reason). row16: the 16
 * inputs of input row ih from column b (0 outside the map) */
static inline __attribute__((always_inline)) float16 row16(const __global float *plane,
                                                           const int ih, const int H,
                                                           const int b, const int W)
{
    const __global float *row = plane + clamp(ih, 0, H - 1) * W;
#define EDGE(i) ((uint)(b + (i)) < (uint)W ? row[b + (i)] : 0.0f)
#define EDGE4(i) EDGE(i), EDGE(i + 1), EDGE(i + 2), EDGE(i + 3)
    const float16 v = b >= 0 && b + 16 <= W
                          ? *(const __global float16_u *)(row + b)
                          : (float16)(EDGE4(0), EDGE4(4), EDGE4(8), EDGE4(12));
#undef EDGE4
#undef EDGE
    return ih >= 0 && ih < H ? v : (float16)0.0f;
}

/* the 6 columns c<k>0 .. c<k>5 (floatH) of tile row k on input row q */
#if HV == 4
#define PH4(k, q)                                                                        \
    const float16 v##k = row16(xs, q, H, b0, W);                                       \
    const float4 c##k##1 = v##k.s048c, c##k##2 = v##k.s159d, c##k##3 = v##k.s26ae,      \
                 c##k##4 = v##k.s37bf;                                                  \
    const float4 c##k##0 =                                                              \
        shuffle2(c##k##4, (float4)(px_in(xs, q, H, b0 - 1, W)), (uint4)(4, 0, 1, 2));   \
    const float4 c##k##5 =                                                              \
        shuffle2(c##k##1, (float4)(px_in(xs, q, H, b0 + 16, W)), (uint4)(1, 2, 3, 4));
#else
#define PH4(k, q)                                                                        \
    const float16 v##k = row16(xs, q, H, b0, W), w##k = row16(xs, q, H, b0 + 16, W);  \
    const float8 c##k##1 = (float8)(v##k.s048c, w##k.s048c);                            \
    const float8 c##k##2 = (float8)(v##k.s159d, w##k.s159d);                            \
    const float8 c##k##3 = (float8)(v##k.s26ae, w##k.s26ae);                            \
    const float8 c##k##4 = (float8)(v##k.s37bf, w##k.s37bf);                            \
    const float8 c##k##0 = shuffle2(c##k##4, (float8)(px_in(xs, q, H, b0 - 1, W)),      \
                                    (uint8)(8, 0, 1, 2, 3, 4, 5, 6));                   \
    const float8 c##k##5 = shuffle2(c##k##1, (float8)(px_in(xs, q, H, b0 + 32, W)),     \
                                    (uint8)(1, 2, 3, 4, 5, 6, 7, 8));
#endif
/* lanes k*HV .. k*HV+HV-1 of v (tile row th+k) */
#if RV == 2
#define SUBV(v, k) ((k) == 0 ? (v).lo : (v).hi)
#else
#define SUBV(v, k) ((k) == 0 ? (v).lo.lo : (k) == 1 ? (v).lo.hi : (k) == 2 ? (v).hi.lo : (v).hi.hi)
#endif
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino4(__global float *restrict y, __global const float *restrict x,
                __global const float *restrict U, __global const float *restrict b,
                const int has_bias, __global const float *res, const int epi, const int n0,
                const int nb, const int H, const int W, const int OFFH, const int OFFW,
                const int OC, const int OH, const int OW, const int TWV, const int TH,
               const int nt)
{
    const int t = get_global_id(0);
    const int per = TH * TWV;
    const int nl = t / per;
    if (nl >= nb) return;
    const int tr = (t - nl * per) / TWV; /* TH: work-items per column (tile rows / RV) */
    const int th = tr * RV;
    const int t0 = (t - nl * per - tr * TWV) * HV;
    const int ih0 = 4 * th - OFFH, b0 = 4 * t0 + 1 - OFFW;

    /* V[(p + 1) * SL + ci] = B^T d B of channel ci; slot 0 spare (MV) */
    floatV V[37 * SL];
    const __global float *xs = x + (n0 + nl) * WC * (H * W);
    for (int ci = 0; ci < WC; ci++) {
        floatV d[36], e[36];
#if PF && HAS_PREFETCH
        if (ci + PF < WC) prefetch_rows(xs + PF * (H * W), ih0, 2 + 4 * RV, H, b0, 4 * HV, W);
#endif
        for (int r = 0; r < 6; r++) {
#if RV == 1
            const int ih = ih0 + r;
            if (ih >= 0 && ih < H) {
                row_phases(d + 6 * r, xs + ih * W, b0, W);
            } else {
                for (int c = 0; c < 6; c++) d[6 * r + c] = (floatV)0.0f;
            }
#else /* tile row k's input rows start 4*k further down */
            PH4(0, ih0 + r)
            PH4(1, ih0 + 4 + r)
#if RV == 2
#define D6(c) d[6 * r + c] = (floatV)(c0##c, c1##c);
#else
            PH4(2, ih0 + 8 + r)
            PH4(3, ih0 + 12 + r)
#define D6(c) d[6 * r + c] = (floatV)(c0##c, c1##c, c2##c, c3##c);
#endif
            D6(0) D6(1) D6(2) D6(3) D6(4) D6(5)
#undef D6
#endif
        }
        V4_PUT(d, e, ci)
        xs += H * W;
    }

    const int ncol = OW - 4 * t0; /* valid output columns from 4*t0 */
#if RV == 1
    const int nrow = min(4, OH - 4 * th);
#endif
    MV(36)
    for (int oc = 0; oc < OC; oc++) {
        /* y = A^T M A (AT6T) */
        M4_COLS(r, oc)
        const floatV bias = (floatV)(has_bias ? b[oc] : 0.0f);
        const int off = ((n0 + nl) * OC + oc) * (OH * OW) + 4 * th * OW + 4 * t0;
#if RV > 1
        for (int a = 0; a < 4; a++) {
            Y4_ROW(r, a, bias)
#pragma unroll
            for (int k = 0; k < RV; k++) {
                if (4 * (th + k) + a >= OH) break; /* rows past the output */
                const int ro = off + (4 * k + a) * OW;
#if HV == 4
                put16(zip4(SUBV(y0, k), SUBV(y1, k), SUBV(y2, k), SUBV(y3, k)), y + ro,
                      res + ro, ncol, epi, nt);
#else
                put16(zip4(SUBV(y0, k).lo, SUBV(y1, k).lo, SUBV(y2, k).lo, SUBV(y3, k).lo),
                      y + ro, res + ro, ncol, epi, nt);
                if (ncol > 16)
                    put16(zip4(SUBV(y0, k).hi, SUBV(y1, k).hi, SUBV(y2, k).hi,
                               SUBV(y3, k).hi),
                          y + ro + 16, res + ro + 16, ncol - 16, epi, nt);
#endif
            }
        }
#else
        for (int a = 0; a < nrow; a++) {
            Y4_ROW(r, a, bias)
            const int ro = off + a * OW;
#if VX == 4
            put16(zip4(y0, y1, y2, y3), y + ro, res + ro, ncol, epi, nt);
#else
            put16(zip4(y0.lo, y1.lo, y2.lo, y3.lo), y + ro, res + ro, ncol, epi, nt);
            if (ncol > 16)
                put16(zip4(y0.hi, y1.hi, y2.hi, y3.hi), y + ro + 16, res + ro + 16, ncol - 16,
                      epi, nt);
#endif
        }
#endif
    }
    STREAM_FENCE(nt);
}

/* ---- conv_wino4_img: F(4x4, 3x3) on outputs of 5 to 8 rows and columns
 * (2 x 2 tiles: the CIFAR nets' 8x8 maps, src/ops/conv2d_chunk.c
 * rcl_conv_wino_plan_for's img), the lanes across images: IMG = VX/4
 * images per work-item, lane 4*i + 2*tr + tc tile (tr, tc) of image
 * n0 + IMG*t + i (images past nb read 0 and are not stored). As
 * conv_wino4 otherwise: V[p, ci] for every input channel, MV's sums, then
 * per output channel y = A^T M A and the epilogue. Each input row of a
 * window is loaded once per image and tile row (e: e[k] = the input at
 * column k - OFFW, 0 outside the row; one vector load where the row is 8
 * wide from column 0 and OFFW 1), each window column the lanes c and c + 4
 * of the images' two e. Built with VX 8 (RV 1) or 16 (RV 2). */
#ifndef IMG
#define IMG 0
#endif
#if IMG
#if IMG * 4 != VX
#error "IMG must be VX / 4"
#endif
/* e[k] = row[k - OFFW] for k = 0 .. 9 (0 outside [0, W) or where !in) */
static inline __attribute__((always_inline)) float16 img_row(const __global float *row,
                                                            const int in, const int W,
                                                            const int OFFW)
{
    if (!in) return (float16)0.0f;
    if (W == 8 && OFFW == 1)
        return shuffle2(*(const __global float8_u *)row, (float8)0.0f,
                        (uint16)(8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8, 8, 8));
    float t[16];
#pragma unroll
    for (int k = 0; k < 16; k++) {
        const int w = k - OFFW;
        const float v = row[clamp(w, 0, W - 1)];
        t[k] = k < 10 && w >= 0 && w < W ? v : 0.0f;
    }
    return vload16(0, t);
}

/* the float4 of image k's lanes */
#if VX == 16
#define QUARTER(v, k) ((k) == 0 ? (v).lo.lo : (k) == 1 ? (v).lo.hi : (k) == 2 ? (v).hi.lo : (v).hi.hi)
#else
#define QUARTER(v, k) ((k) == 0 ? (v).lo : (v).hi)
#endif
/* window column c of image i: lanes (tr, tc) = e[tr][c + 4*tc] */
#define IMG_COL(i, c) shuffle2(e##i##0, e##i##1, (uint4)((c), (c) + 4, 16 + (c), 20 + (c)))

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino4_img(__global float *restrict y, __global const float *restrict x,
                    __global const float *restrict U, __global const float *restrict b,
                    const int has_bias, __global const float *res, const int epi, const int n0,
                    const int nb, const int H, const int W, const int OFFH, const int OFFW,
                    const int OC, const int OH, const int OW, const int TWV, const int TH,
                    const int nt)
{
    (void)TWV, (void)TH;
    const int t = get_global_id(0);
    if (t * IMG >= nb) return;
    /* the images' planes of channel 0 (a missing image reads image 0's,
     * masked to 0 by its `in`) */
    int ok[IMG];
    const __global float *xs[IMG];
#pragma unroll
    for (int i = 0; i < IMG; i++) {
        ok[i] = t * IMG + i < nb;
        xs[i] = x + (n0 + (ok[i] ? t * IMG + i : 0)) * WC * (H * W);
    }
    /* V[(p + 1) * SL + ci] = B^T d B of channel ci; slot 0 spare (MV) */
    floatV V[37 * SL];
    for (int ci = 0; ci < WC; ci++) {
        floatV d[36], e[36];
        for (int r = 0; r < 6; r++) {
            /* input rows of tile rows 0 and 1 */
            const int h0 = r - OFFH, h1 = 4 + r - OFFH;
            const int in0 = h0 >= 0 && h0 < H, in1 = h1 >= 0 && h1 < H;
            const int o0 = clamp(h0, 0, H - 1) * W, o1 = clamp(h1, 0, H - 1) * W;
            const float16 e00 = img_row(xs[0] + o0, in0 && ok[0], W, OFFW);
            const float16 e01 = img_row(xs[0] + o1, in1 && ok[0], W, OFFW);
            const float16 e10 = img_row(xs[1] + o0, in0 && ok[1], W, OFFW);
            const float16 e11 = img_row(xs[1] + o1, in1 && ok[1], W, OFFW);
#if IMG == 4
            const float16 e20 = img_row(xs[2] + o0, in0 && ok[2], W, OFFW);
            const float16 e21 = img_row(xs[2] + o1, in1 && ok[2], W, OFFW);
            const float16 e30 = img_row(xs[3] + o0, in0 && ok[3], W, OFFW);
            const float16 e31 = img_row(xs[3] + o1, in1 && ok[3], W, OFFW);
#define D6(c) d[6 * r + c] = (floatV)(IMG_COL(0, c), IMG_COL(1, c), IMG_COL(2, c), IMG_COL(3, c));
#else
#define D6(c) d[6 * r + c] = (floatV)(IMG_COL(0, c), IMG_COL(1, c));
#endif
            D6(0) D6(1) D6(2) D6(3) D6(4) D6(5)
#undef D6
        }
        V4_PUT(d, e, ci)
#pragma unroll
        for (int i = 0; i < IMG; i++) xs[i] += H * W;
    }
    MV(36)
    for (int oc = 0; oc < OC; oc++) {
        M4_COLS(r, oc)
        const floatV bias = (floatV)(has_bias ? b[oc] : 0.0f);
        for (int a = 0; a < 4; a++) {
            Y4_ROW(r, a, bias)
#pragma unroll
            for (int i = 0; i < IMG; i++) {
                if (!ok[i]) break;
                /* rows a (tile row 0) and 4 + a (tile row 1) of image i */
                const float16 z = zip4(QUARTER(y0, i), QUARTER(y1, i), QUARTER(y2, i),
                                       QUARTER(y3, i));
                const int off = ((n0 + t * IMG + i) * OC + oc) * (OH * OW) + a * OW;
                if (a < OH) put8(z.lo, y + off, res + off, OW, epi, nt);
                if (4 + a < OH) put8(z.hi, y + off + 4 * OW, res + off + 4 * OW, OW, epi, nt);
            }
        }
    }
    STREAM_FENCE(nt);
}
#undef IMG_COL
#endif /* IMG */
#endif /* (RV == 1 && VX <= 8) || (VX == 16 && RV > 1) */

/* ---- the weight gradient: dw[co, ci] = G^T [ sum over tiles of
 * (A dY A^T) .* (B^T d B) ] G (the forward's U = G g G^T is linear in g),
 * as three steps: the transforms of every tile of a chunk to global
 * memory, one GEMM per position p over the tiles (src/ops/conv2d_wino.c,
 * rcl_gemm), then the filter-side transform. Tiles: T = nb*TH*TT of the
 * chunk, tile index (nl*TH + th)*TT + tt; the kernels read the tensors
 * themselves (zero outside, no padded copy). */

/* image nl, tile row th and tile column tt of tile index
 * (nl*TH + th)*TT + tt */
static void tile_pos(const int tile, const int TH, const int TT, int *nl, int *th, int *tt)
{
    *nl = tile / (TH * TT);
    *th = (tile - *nl * TH * TT) / TT;
    *tt = tile - *nl * TH * TT - *th * TT;
}

/* tile_pos's (nl, th, tt) moved on to the next tile index */
static void tile_next(const int TH, const int TT, int *nl, int *th, int *tt)
{
    if (++*tt == TT) {
        *tt = 0;
        if (++*th == TH) *th = 0, ++*nl;
    }
}

/* v[p] = M[p, co, tile] for the np positions of M (np, CO, T) */
static void tile_column(float *v, const int np, const __global float *M, const int co,
                        const int tile, const int T, const int CO)
{
    const __global float *m = M + co * T + tile;
#pragma unroll
    for (int p = 0; p < np; p++) v[p] = m[p * (CO * T)];
}

/* the GEMM form's output tile: y[plane + (h + a)*OW + w + c] = o[m*a + c]
 * + bias, then conv_fwd's epilogue (bit 0 adds res at the same index, bit
 * 1 ReLU), for the outputs inside OH x OW (conv_wino_yt, conv_wino4_yt) */
static void tile_store(__global float *y, __global const float *res, const float *o,
                       const int m, const float bias, const int epi, const int plane,
                       const int h, const int w, const int OH, const int OW)
{
#pragma unroll
    for (int a = 0; a < m; a++)
#pragma unroll
        for (int c = 0; c < m; c++) {
            if (h + a >= OH || w + c >= OW) continue;
            const int i = plane + (h + a) * OW + w + c;
            float z = o[m * a + c] + bias;
            if (epi & 1) z += res[i];
            if (epi & 2) z = z < 0.0f ? 0.0f : z;
            y[i] = z;
        }
}

/* V[p, c, tile] = (B^T d B)[p] of the 4x4 input window at rows 2*th - PH,
 * columns 2*tt - PW of image n0+nl, channel c; one work-item per (tile, c) */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino_vt(__global float *restrict V, __global const float *restrict x, const int n0,
                  const int T, const int C, const int H, const int W, const int PH, const int PW,
                  const int TH, const int TT)
{
    const int tile = get_global_id(0);
    if (tile >= T) return;
    const int c = get_global_id(1);
    int nl, th, tt;
    tile_pos(tile, TH, TT, &nl, &th, &tt);
    const __global float *xs = x + ((n0 + nl) * C + c) * (H * W);
    const int h0 = 2 * th - PH, w0 = 2 * tt - PW;
    float d[16], e[16];
    for (int r = 0; r < 4; r++)
        for (int q = 0; q < 4; q++) {
            const int h = h0 + r, w = w0 + q;
            d[4 * r + q] = h >= 0 && h < H && w >= 0 && w < W ? xs[h * W + w] : 0.0f;
        }
    const int stride = C * T;
    __global float *v = V + c * T + tile;
#define VT_OUT(p, value) v[(p) * stride] = (value);
    BT_D_B(d, e, VT_OUT)
}

/* The GEMM form (src/ops/conv2d_wino.c rcl_conv_wino_gemm: convs with more
 * input channels than conv_wino keeps in private memory): conv_wino_vt's V
 * of the input (padded by PH, PW), 16 GEMMs M[p] = U[p]^T V[p] (U:
 * conv_wino_w's), then
 *   conv_wino_yt  y[n0+nl, co, 2*th + a, 2*tt + b] = (A^T M A)[a, b]
 *                 (+ bias[co]) of M[p, co, tile] (16, CO, T) at moff in M,
 *                 then conv_fwd's epilogue (bit 0 adds res, bit 1 ReLU),
 *                 for the outputs inside OH x OW; one work-item per
 *                 (tile, co) */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino_yt(__global float *restrict y, __global const float *restrict M, const int moff,
                  __global const float *restrict b, const int has_bias,
                  __global const float *res, const int epi, const int n0, const int T,
                  const int CO, const int OH, const int OW, const int TH, const int TT)
{
    const int tile = get_global_id(0);
    if (tile >= T) return;
    const int co = get_global_id(1);
    int nl, th, tt;
    tile_pos(tile, TH, TT, &nl, &th, &tt);
    float v[16];
    tile_column(v, 16, M + moff, co, tile, T, CO);
    /* r = A^T m (2x4), A^T = [1 1 1 0; 0 1 -1 -1]; then y = r A */
    float r[8];
    for (int j = 0; j < 4; j++) {
        r[j] = v[j] + v[4 + j] + v[8 + j];
        r[4 + j] = v[4 + j] - v[8 + j] - v[12 + j];
    }
    float o[4] = {r[0] + r[1] + r[2], r[1] - r[2] - r[3], r[4] + r[5] + r[6],
                  r[5] - r[6] - r[7]};
    tile_store(y, res, o, 2, has_bias ? b[co] : 0.0f, epi, ((n0 + nl) * CO + co) * (OH * OW),
               2 * th, 2 * tt, OH, OW);
}

#if RV == 1 && VX <= 8
/* ---- F(4x4, 3x3) in the GEMM form (src/ops/conv2d_wino.c
 * rcl_conv_wino_gemm with tile 4): conv_wino4_w's U (LAYOUT 1: U[p, co,
 * ci]), conv_wino4_vt's V, 36 GEMMs M[p] = U[p] V[p] in one launch
 * (cl/gemm.cl BA) where the GEMM reads op(B) in panels, conv_wino4_yt.
 *
 *   conv_wino4_vt  V[p] (CI x TP, p = 6*i + j, TP = T rounded up to whole
 *                  panels of NP tiles) = (B^T d B)[p] of the 6x6 input
 *                  window at rows 4*th - PH, columns 4*tt - PW of image
 *                  n0+nl, channel c, stored as the GEMM's packed op(B):
 *                  tile t = q*NP + j of channel c at V[p*CI*TP + (q*CI +
 *                  c)*NP + j] (NP = TP: one row-major CI x T matrix); the
 *                  tiles T .. TP-1 are 0. YV 1: one work-item per (tile,
 *                  c); YV 4, 8 or 16: one per YV consecutive tiles (each
 *                  tile's window gathered into private memory, the
 *                  transform on vectors of tiles, vector stores): PoCL's
 *                  vectorization of the per-tile form gathered every value
 *                  with 64-bit addresses (21% of resnet50's 28x28 3x3
 *                  forward) */
#ifndef YV
#define YV 1 /* tiles per work-item of conv_wino4_vt and conv_wino4_yt (1, 4, 8, 16) */
#endif
#if YV == 4
#define floatY float4
#define VLOADY vload4
#define VSTOREY vstore4
#elif YV == 8
#define floatY float8
#define VLOADY vload8
#define VSTOREY vstore8
#elif YV == 16
#define floatY float16
#define VLOADY vload16
#define VSTOREY vstore16
#elif YV != 1
#error "YV must be 1, 4, 8 or 16"
#endif
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino4_vt(__global float *restrict V, __global const float *restrict x, const int n0,
                   const int T, const int TP, const int NP, const int C, const int H,
                   const int W, const int PH, const int PW, const int TH, const int TT)
{
#if YV > 1
    /* YV consecutive tiles t0 .. t0+YV-1: each tile's 6x6 window gathered
     * into dd (dd[i * YV + l]: value i of tile t0 + l), the transform on
     * vectors of tiles, one vector store per position where the tiles lie
     * in one panel */
    const int t0 = get_global_id(0) * YV;
    if (t0 >= TP) return;
    const int c = get_global_id(1);
    float dd[36 * YV];
    int nl, th, tt;
    tile_pos(t0, TH, TT, &nl, &th, &tt);
    for (int l = 0; l < YV; l++) {
        if (t0 + l < T) {
            const __global float *xs = x + ((n0 + nl) * C + c) * (H * W);
            const int h0 = 4 * th - PH, w0 = 4 * tt - PW;
            /* clamped indices and masks, no branches: half the tiles of a
             * 28x28 map touch the padding */
            int hc[6], wc[6], hm[6], wm[6];
#pragma unroll
            for (int r = 0; r < 6; r++) {
                const int h = h0 + r, w = w0 + r;
                hc[r] = clamp(h, 0, H - 1) * W, wc[r] = clamp(w, 0, W - 1);
                hm[r] = h >= 0 && h < H, wm[r] = w >= 0 && w < W;
            }
#pragma unroll
            for (int r = 0; r < 6; r++)
#pragma unroll
                for (int q = 0; q < 6; q++) {
                    const float v = xs[hc[r] + wc[q]];
                    dd[(6 * r + q) * YV + l] = hm[r] & wm[q] ? v : 0.0f;
                }
        } else {
#pragma unroll
            for (int i = 0; i < 36; i++) dd[i * YV + l] = 0.0f;
        }
        tile_next(TH, TT, &nl, &th, &tt);
    }
    floatY d[36], e[36], o[36];
#pragma unroll
    for (int i = 0; i < 36; i++) d[i] = VLOADY(0, dd + i * YV);
#pragma unroll
    for (int j = 0; j < 6; j++) BT6T(floatY, (d + j), (e + j), 6)
#pragma unroll
    for (int i = 0; i < 6; i++) BT6T(floatY, (e + 6 * i), (o + 6 * i), 1)
    const int stride = C * TP;
    const int q0 = t0 / NP, j0 = t0 - q0 * NP;
    if (j0 + YV <= NP && t0 + YV <= TP) {
        __global float *v = V + (q0 * C + c) * NP + j0;
#pragma unroll
        for (int p = 0; p < 36; p++) VSTOREY(o[p], 0, v + p * stride);
    } else {
#pragma unroll
        for (int p = 0; p < 36; p++) VSTOREY(o[p], 0, dd + p * YV);
        for (int l = 0; l < YV && t0 + l < TP; l++) {
            const int t = t0 + l, q = t / NP;
            __global float *v = V + (q * C + c) * NP + (t - q * NP);
            for (int p = 0; p < 36; p++) v[p * stride] = dd[p * YV + l];
        }
    }
#else
    const int tile = get_global_id(0);
    if (tile >= TP) return;
    const int c = get_global_id(1);
    float d[36], e[36], o[36];
    if (tile < T) {
        int nl, th, tt;
        tile_pos(tile, TH, TT, &nl, &th, &tt);
        const __global float *xs = x + ((n0 + nl) * C + c) * (H * W);
        const int h0 = 4 * th - PH, w0 = 4 * tt - PW;
#pragma unroll
        for (int r = 0; r < 6; r++)
#pragma unroll
            for (int q = 0; q < 6; q++) {
                const int h = h0 + r, w = w0 + q;
                d[6 * r + q] = h >= 0 && h < H && w >= 0 && w < W ? xs[h * W + w] : 0.0f;
            }
    } else {
#pragma unroll
        for (int i = 0; i < 36; i++) d[i] = 0.0f;
    }
#pragma unroll
    for (int j = 0; j < 6; j++) BT6T(float, (d + j), (e + j), 6)
#pragma unroll
    for (int i = 0; i < 6; i++) BT6T(float, (e + 6 * i), (o + 6 * i), 1)
    const int q = tile / NP;
    __global float *v = V + (q * C + c) * NP + (tile - q * NP);
    const int stride = C * TP;
#pragma unroll
    for (int p = 0; p < 36; p++) v[p * stride] = o[p];
#endif
}

/*   conv_wino4_yt  y[n0+nl, co, 4*th + a, 4*tt + b] = (A^T M A)[a, b]
 *                  (+ bias[co]) of M[p, co, tile] (36, CO, T) at moff in
 *                  M, then conv_fwd's epilogue (bit 0 adds res, bit 1
 *                  ReLU), for the outputs inside OH x OW. YV 1: one
 *                  work-item per (tile, co); YV 4, 8 or 16 (the host's
 *                  vector width on CPU drivers): one work-item per YV
 *                  consecutive tiles (one vector load per position, the
 *                  transform on vectors of tiles, each tile's 4x4 block
 *                  stored as four 4-float rows): the per-tile form left
 *                  PoCL's scalar code (no vectorization across work-items,
 *                  28% of resnet50's 28x28 3x3 forward) */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino4_yt(__global float *restrict y, __global const float *restrict M, const int moff,
                   __global const float *restrict b, const int has_bias,
                   __global const float *res, const int epi, const int n0, const int T,
                   const int CO, const int OH, const int OW, const int TH, const int TT)
{
#if YV > 1
    const int t0 = get_global_id(0) * YV;
    if (t0 >= T) return;
    const int co = get_global_id(1);
    const __global float *m = M + moff + co * T + t0;
    const int stride = CO * T;
    floatY v[36], r[24], o[16];
    if (t0 + YV <= T) {
#pragma unroll
        for (int p = 0; p < 36; p++) v[p] = VLOADY(0, m + p * stride);
    } else {
        for (int p = 0; p < 36; p++) {
            float t[YV];
            for (int l = 0; l < YV; l++) t[l] = t0 + l < T ? m[p * stride + l] : 0.0f;
            v[p] = VLOADY(0, t);
        }
    }
#pragma unroll
    for (int j = 0; j < 6; j++) AT6T(floatY, (v + j), 6, (r + j), 6) /* r = A^T v (4x6) */
#pragma unroll
    for (int a = 0; a < 4; a++) AT6T(floatY, (r + 6 * a), 1, (o + 4 * a), 1) /* o = r A (4x4) */
    const float bias = has_bias ? b[co] : 0.0f;
    float ob[16 * YV]; /* ob[k * YV + l]: output k of tile t0 + l */
#pragma unroll
    for (int k = 0; k < 16; k++) VSTOREY(o[k] + bias, 0, ob + k * YV);
    int nl, th, tt;
    tile_pos(t0, TH, TT, &nl, &th, &tt);
    const int nt = min(YV, T - t0);
    for (int l = 0; l < nt; l++) {
        const int plane = ((n0 + nl) * CO + co) * (OH * OW), h = 4 * th, w = 4 * tt;
        if (h + 4 <= OH && w + 4 <= OW) {
#pragma unroll
            for (int a = 0; a < 4; a++) {
                const int i = plane + (h + a) * OW + w;
                float4 z = (float4)(ob[4 * a * YV + l], ob[(4 * a + 1) * YV + l],
                                    ob[(4 * a + 2) * YV + l], ob[(4 * a + 3) * YV + l]);
                if (epi & 1) z += vload4(0, res + i);
                if (epi & 2) z = select(z, (float4)0.0f, isless(z, (float4)0.0f));
                vstore4(z, 0, y + i);
            }
        } else {
            for (int a = 0; a < 4 && h + a < OH; a++)
                for (int c = 0; c < 4 && w + c < OW; c++) {
                    const int i = plane + (h + a) * OW + w + c;
                    float z = ob[(4 * a + c) * YV + l];
                    if (epi & 1) z += res[i];
                    if (epi & 2) z = z < 0.0f ? 0.0f : z;
                    y[i] = z;
                }
        }
        tile_next(TH, TT, &nl, &th, &tt);
    }
#else
    const int tile = get_global_id(0);
    if (tile >= T) return;
    const int co = get_global_id(1);
    int nl, th, tt;
    tile_pos(tile, TH, TT, &nl, &th, &tt);
    float v[36], r[24], o[16];
    tile_column(v, 36, M + moff, co, tile, T, CO);
#pragma unroll
    for (int j = 0; j < 6; j++) AT6T(float, (v + j), 6, (r + j), 6) /* r = A^T v (4x6) */
#pragma unroll
    for (int a = 0; a < 4; a++) AT6T(float, (r + 6 * a), 1, (o + 4 * a), 1) /* o = r A (4x4) */
    tile_store(y, res, o, 4, has_bias ? b[co] : 0.0f, epi, ((n0 + nl) * CO + co) * (OH * OW),
               4 * th, 4 * tt, OH, OW);
#endif
}
#endif /* RV == 1 && VX <= 8 */
