/* The weight gradient of a 3x3 stride-1 conv by Winograd F(2x2, 3x3)
 * (host side src/ops/conv2d_wino_dw.c; the forward pass and data gradient
 * are in cl/conv_wino.cl). With d the 4x4 input window of a 2x2 output
 * tile and g that tile's output gradient,
 *   dw[oc, c] = G^T ( sum over tiles of (A g A^T)[oc] .* (B^T d B)[c] ) G
 * (Lavin & Gray 2016): 16 multiplications per tile and channel pair where
 * the direct sum takes 36.
 *
 *   conv_wino_dwf  work-group g of G takes the units u0 .. u1-1 (a unit:
 *                  VT consecutive tiles of one tile row of one image; the
 *                  N*TH*SEG units split evenly over the groups), TR units
 *                  at a time:
 *                  1. V[p, c, t] (16, C, TR*VT) = (B^T d B)[p] of the
 *                     chunk's tiles, tile fastest: per (unit, channel) VT
 *                     tiles at once in vectors, the window's columns the
 *                     even and odd lanes of two vector loads (PW <= 1);
 *                     Z[p, t, oc] (16, TR*VT, OCP) = (A g A^T)[p], output
 *                     channel fastest: per (unit, VC output channels) the
 *                     channels in vectors (oc >= OC and tiles past the
 *                     row's last: 0); both in the group's part of scr
 *                  2. part[g, p, c, oc] (G, 16, C, OCP) += sum over the
 *                     chunk's tiles t of V[p, c, t] * Z[p, t, oc]: one
 *                     work-item per (p, BC input channels, NV vectors of
 *                     VC output channels) at a time, BC*NV accumulator
 *                     vectors, NV vector loads of Z and BC scalars of V
 *                     per tile (no horizontal sums).
 *                  Inputs outside the map read 0 (no padded copy).
 *   conv_wino_dws  dw[oc, c, 3x3] = G^T (sum over g of part[g, ., c, oc]) G,
 *                  one work-item per (oc, c).
 *
 * Compile-time shape (set by the host per conv, not tunables): VT (tiles
 * per unit: 4, 8 or 16), VC (output channels per vector: 4, 8 or 16), NV
 * and BC (the accumulator block, NV*BC vectors), WG (work-group size),
 * WGS (conv_wino_dws'); TR (units per chunk) is an argument. Indices are
 * int: every buffer holds fewer than 2^31 floats. */

#if !defined(VT) || !defined(VC) || !defined(NV) || !defined(BC) || !defined(WG) || !defined(WGS)
#error "VT, VC, NV, BC, WG and WGS come from src/ops/conv2d_wino_dw.c"
#endif

#define floatC CAT(float, VC)
#define VLOADC CAT(vload, VC)
#define VSTOREC CAT(vstore, VC)
#define floatT CAT(float, VT)
#define uintT CAT(uint, VT)
#define VLOADT CAT(vload, VT)
#define VSTORET CAT(vstore, VT)
#define TC (TR * VT) /* tiles per chunk */
/* a position's planes apart, padded by 16 floats: planes a power of two
 * apart share cache sets */
#define PV (C * TC + 16)
#define PZ (TC * OCP + 16)
#define PP (C * OCP + 16) /* the partial sums' */

/* lanes k of a tile vector: even (2k) and odd (2k + 1) of 2*VT inputs;
 * left(v, f): lane k = v[k + 1], the last f; right(v, f): lane k = v[k - 1],
 * lane 0 f */
#if VT == 4
#define EVEN (uint4)(0, 2, 4, 6)
#define ODD (uint4)(1, 3, 5, 7)
#define LEFT (uint4)(1, 2, 3, 4)
#define RIGHT (uint4)(4, 0, 1, 2)
#elif VT == 8
#define EVEN (uint8)(0, 2, 4, 6, 8, 10, 12, 14)
#define ODD (uint8)(1, 3, 5, 7, 9, 11, 13, 15)
#define LEFT (uint8)(1, 2, 3, 4, 5, 6, 7, 8)
#define RIGHT (uint8)(8, 0, 1, 2, 3, 4, 5, 6)
#elif VT == 16
#define EVEN (uint16)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define ODD (uint16)(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#define LEFT (uint16)(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
#define RIGHT (uint16)(16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
#else
#error "VT is 4, 8 or 16"
#endif

/* row[w] for w in [0, W), else 0 (the address clamped: no branch) */
static float at(const __global float *row, const int w, const int W)
{
    const float v = row[clamp(w, 0, W - 1)];
    return w >= 0 && w < W ? v : 0.0f;
}

/* the four window columns j = 0..3 of the VT tiles of one input row from
 * column b - PW (PW 0 or 1; in: the row is inside the map): col[j] lane k =
 * row[b + 2k + j - PW], 0 outside */
static void row_cols(floatT col[4], const __global float *row, const int in, const int b,
                     const int W, const int PW)
{
    floatT lo, hi;
    if (!in) {
        col[0] = col[1] = col[2] = col[3] = (floatT)0.0f;
        return;
    }
    if (b + 2 * VT <= W) {
        lo = VLOADT(0, row + b);
        hi = VLOADT(0, row + b + VT);
    } else {
        float t[2 * VT];
#pragma unroll
        for (int j = 0; j < 2 * VT; j++) t[j] = at(row, b + j, W);
        lo = VLOADT(0, t);
        hi = VLOADT(0, t + VT);
    }
    const floatT e = shuffle2(lo, hi, EVEN), o = shuffle2(lo, hi, ODD);
    const floatT e1 = shuffle2(e, (floatT)at(row, b + 2 * VT, W), LEFT);
    if (PW) {
        col[0] = shuffle2(o, (floatT)at(row, b - 1, W), RIGHT);
        col[1] = e;
        col[2] = o;
        col[3] = e1;
    } else {
        col[0] = e;
        col[1] = o;
        col[2] = e1;
        col[3] = shuffle2(o, (floatT)at(row, b + 2 * VT + 1, W), LEFT);
    }
}

/* p[0..n) of a column of n floats `stride` apart as a vector (lanes past n: 0) */
static floatC gather(const __global float *p, const int stride, const int n)
{
    float t[VC];
#pragma unroll
    for (int l = 0; l < VC; l++) {
        const float v = p[min(l, n - 1) * stride];
        t[l] = l < n ? v : 0.0f;
    }
    return VLOADC(0, t);
}

/* m (VC vectors, row i = m[i]) transposed in place: log2(VC) stages of
 * pairwise lane exchanges, the rows b apart swapping blocks of b lanes */
#define T_LO(L, b) (((L) & (b)) ? VC + (L) - (b) : (L))
#define T_HI(L, b) (((L) & (b)) ? VC + (L) : (L) + (b))
#if VC == 4
#define T_MASK(F, b) (uint4)(F(0, b), F(1, b), F(2, b), F(3, b))
#define floatH float2
#define VLOADH vload2
#elif VC == 8
#define T_MASK(F, b) (uint8)(F(0, b), F(1, b), F(2, b), F(3, b), F(4, b), F(5, b), F(6, b), F(7, b))
#define floatH float4
#define VLOADH vload4
#elif VC == 16
#define T_MASK(F, b)                                                                         \
    (uint16)(F(0, b), F(1, b), F(2, b), F(3, b), F(4, b), F(5, b), F(6, b), F(7, b), F(8, b), \
             F(9, b), F(10, b), F(11, b), F(12, b), F(13, b), F(14, b), F(15, b))
#define floatH float8
#define VLOADH vload8
#else
#error "VC is 4, 8 or 16"
#endif
#define T_STAGE(b)                                                           \
    if ((b) < VC) {                                                          \
        _Pragma("unroll") for (int i = 0; i < VC; i++) if (!(i & (b))) {     \
            const floatC lo = m[i], hi = m[i + (b)];                         \
            m[i] = shuffle2(lo, hi, T_MASK(T_LO, (b)));                      \
            m[i + (b)] = shuffle2(lo, hi, T_MASK(T_HI, (b)));                \
        }                                                                    \
    }
static void transpose(floatC m[VC])
{
    T_STAGE(1) T_STAGE(2) T_STAGE(4) T_STAGE(8)
}

/* (A g A^T)[p] of one 2x2 output-gradient tile (g00 e0, g01 o0, g10 e1,
 * g11 o1), VC output channels in the lanes, at z + p*pz:
 * A g: rows g0, g0 + g1, g0 - g1, -g1; then the same along the row */
static void z_tile(__global float *z, const int pz, const floatC e0, const floatC o0,
                   const floatC e1, const floatC o1)
{
    const floatC ra[4] = {e0, e0 + e1, e0 - e1, -e1};
    const floatC rb[4] = {o0, o0 + o1, o0 - o1, -o1};
#pragma unroll
    for (int q = 0; q < 4; q++) {
        VSTOREC(ra[q], 0, z + (4 * q + 0) * pz);
        VSTOREC(ra[q] + rb[q], 0, z + (4 * q + 1) * pz);
        VSTOREC(ra[q] - rb[q], 0, z + (4 * q + 2) * pz);
        VSTOREC(-rb[q], 0, z + (4 * q + 3) * pz);
    }
}

/* part: G * 16 * PP floats; scr: G * 16 * (PV + PZ) */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_wino_dwf(__global float *restrict part, __global float *restrict scr,
                   __global const float *restrict x, __global const float *restrict dy,
                   const int N, const int C, const int H, const int W, const int PH, const int PW,
                   const int OC, const int OCP, const int OH, const int OW, const int TH,
                   const int SEG, const int G, const int TR)
{
    const int g = get_group_id(0), lid = get_local_id(0);
    const int U = N * TH * SEG;
    const int u0 = (int)((long)g * U / G), u1 = (int)((long)(g + 1) * U / G);
    __global float *V = scr + g * (16 * (PV + PZ));
    __global float *Z = V + 16 * PV;
    __global float *P = part + g * (16 * PP);
    const int nob = OCP / (NV * VC), ncb = C / BC, items = 16 * ncb * nob;
    for (int ub = u0; ub < u1; ub += TR) {
        const int nu = min(TR, u1 - ub);
        /* 1. V: per unit, its channels over the group's work-items (the
         * unit's position decoded once: divisions cost as much as a
         * channel's transform) */
        for (int ul = 0; ul < nu; ul++) {
            const int u = ub + ul, seg = u % SEG, th = (u / SEG) % TH, n = u / (SEG * TH);
            const int h0 = 2 * th - PH, b = 2 * seg * VT;
            for (int c = lid; c < C; c += WG) {
                const __global float *xs = x + (n * C + c) * (H * W);
                floatT d[4][4]; /* [row][column j] */
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    const int h = h0 + r;
                    row_cols(d[r], xs + clamp(h, 0, H - 1) * W, h >= 0 && h < H, b, W, PW);
                }
                __global float *v = V + c * TC + ul * VT;
#pragma unroll
                for (int j = 0; j < 4; j++) { /* B^T d: rows 0-2, 1+2, 2-1, 1-3 */
                    const floatT a0 = d[0][j], a1 = d[1][j], a2 = d[2][j], a3 = d[3][j];
                    d[0][j] = a0 - a2;
                    d[1][j] = a1 + a2;
                    d[2][j] = a2 - a1;
                    d[3][j] = a1 - a3;
                }
#pragma unroll
                for (int r = 0; r < 4; r++) { /* (B^T d) B: columns 0-2, 1+2, 2-1, 1-3 */
                    VSTORET(d[r][0] - d[r][2], 0, v + (4 * r + 0) * PV);
                    VSTORET(d[r][1] + d[r][2], 0, v + (4 * r + 1) * PV);
                    VSTORET(d[r][2] - d[r][1], 0, v + (4 * r + 2) * PV);
                    VSTORET(d[r][1] - d[r][3], 0, v + (4 * r + 3) * PV);
                }
            }
        }
        /* Z: per unit, its blocks of VC output channels */
        const int nzb = OCP / VC;
        for (int ul = 0; ul < nu; ul++) {
            const int u = ub + ul, seg = u % SEG, th = (u / SEG) % TH, n = u / (SEG * TH);
            for (int zb = lid; zb < nzb; zb += WG) {
                const int oc0 = zb * VC, noc = min(VC, OC - oc0);
                const int h = 2 * th, h1 = h + 1 < OH;
                const __global float *gs = dy + (n * OC + oc0) * (OH * OW) + h * OW;
                __global float *z = Z + (ul * VT) * OCP + oc0;
                const int b = 2 * seg * VT;
                if (noc == VC && h1 && b + 2 * VT <= OW) {
                    /* VC channels' 2 x 2VT inputs as rows, transposed in blocks
                     * of VC: raw[i] = input i (row-major) of every channel */
                    floatC raw[4 * VT];
#pragma unroll
                    for (int blk = 0; blk < 4 * VT / VC; blk++) {
                        floatC m[VC];
                        const int i0 = blk * VC, r = i0 / (2 * VT), col = b + i0 % (2 * VT);
#pragma unroll
                        for (int l = 0; l < VC; l++) {
                            const __global float *src = gs + l * (OH * OW) + r * OW + col;
#if VC > 2 * VT
                            m[l] = (floatC)(VLOADH(0, src), VLOADH(0, src + OW));
#else
                            m[l] = VLOADC(0, src);
#endif
                        }
                        transpose(m);
#pragma unroll
                        for (int l = 0; l < VC; l++) raw[i0 + l] = m[l];
                    }
#pragma unroll
                    for (int k = 0; k < VT; k++) {
                        z_tile(z + k * OCP, PZ, raw[2 * k], raw[2 * k + 1], raw[2 * VT + 2 * k],
                               raw[2 * VT + 2 * k + 1]);
                    }
                    continue;
                }
                for (int k = 0; k < VT; k++) {
                    const int w = 2 * (seg * VT + k), w1 = w + 1 < OW;
                    floatC e0 = (floatC)0.0f, o0 = e0, e1 = e0, o1 = e0;
                    if (w < OW) {
                        e0 = gather(gs + w, OH * OW, noc);
                        if (w1) o0 = gather(gs + w + 1, OH * OW, noc);
                        if (h1) {
                            e1 = gather(gs + OW + w, OH * OW, noc);
                            if (w1) o1 = gather(gs + OW + w + 1, OH * OW, noc);
                        }
                    }
                    z_tile(z + k * OCP, PZ, e0, o0, e1, o1);
                }
            }
        }
        barrier(CLK_GLOBAL_MEM_FENCE);
        /* 2. the products, summed over the chunk's tiles */
        const int nt = nu * VT;
        for (int it = lid; it < items; it += WG) {
            const int ob = it % nob, cb = (it / nob) % ncb, p = it / (nob * ncb);
            const int oc0 = ob * (NV * VC), c0 = cb * BC;
            __global float *pa = P + p * PP + c0 * OCP + oc0;
            const __global float *vp = V + p * PV + c0 * TC;
            const __global float *zp = Z + p * PZ + oc0;
            floatC acc[BC][NV];
#pragma unroll
            for (int o = 0; o < BC; o++)
#pragma unroll
                for (int v = 0; v < NV; v++)
                    acc[o][v] = ub == u0 ? (floatC)0.0f : VLOADC(0, pa + o * OCP + v * VC);
            for (int t = 0; t < nt; t++) {
                floatC zz[NV];
#pragma unroll
                for (int v = 0; v < NV; v++) zz[v] = VLOADC(0, zp + t * OCP + v * VC);
#pragma unroll
                for (int o = 0; o < BC; o++) {
                    const floatC s = (floatC)(vp[o * TC + t]);
#pragma unroll
                    for (int v = 0; v < NV; v++) acc[o][v] = fma(s, zz[v], acc[o][v]);
                }
            }
#pragma unroll
            for (int o = 0; o < BC; o++)
#pragma unroll
                for (int v = 0; v < NV; v++) VSTOREC(acc[o][v], 0, pa + o * OCP + v * VC);
        }
        barrier(CLK_GLOBAL_MEM_FENCE);
    }
}

/* dw (OC, C, 3, 3) from part (G, 16, C, OCP, positions PP apart); G^T = [1 .5 .5 0; 0 .5 -.5 0;
 * 0 .5 .5 1] */
__kernel __attribute__((reqd_work_group_size(WGS, 1, 1)))
void conv_wino_dws(__global float *restrict dw, __global const float *restrict part,
                   const int OC, const int C, const int OCP, const int G)
{
    const int i = get_global_id(0);
    if (i >= OC * C) return;
    const int c = i / OC, oc = i - c * OC; /* neighbours read neighbouring floats */
    float m[16], t[12];
    for (int p = 0; p < 16; p++) {
        float s = 0.0f;
        for (int g = 0; g < G; g++) s += part[(g * 16 + p) * PP + c * OCP + oc];
        m[p] = s;
    }
    /* t = G^T m (3x4) */
    for (int j = 0; j < 4; j++) {
        t[j] = m[j] + 0.5f * (m[4 + j] + m[8 + j]);
        t[4 + j] = 0.5f * (m[4 + j] - m[8 + j]);
        t[8 + j] = 0.5f * (m[4 + j] + m[8 + j]) + m[12 + j];
    }
    __global float *o = dw + (oc * C + c) * 9;
    for (int r = 0; r < 3; r++) {
        const float a = t[4 * r], b = t[4 * r + 1], c2 = t[4 * r + 2], d = t[4 * r + 3];
        o[3 * r + 0] = a + 0.5f * (b + c2);
        o[3 * r + 1] = 0.5f * (b - c2);
        o[3 * r + 2] = 0.5f * (b + c2) + d;
    }
}
