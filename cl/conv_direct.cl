/* Direct convolution: no im2col/col2im column matrix (host side
 * src/ops/conv2d_direct.c, chosen per shape by src/ops/conv2d.c).
 *
 * The input of a chunk of NB images is first copied by conv_pad into a
 * zero-padded buffer xp[nl][c][Hp][Wp] (one pass over the input, where
 * im2col writes KH*KW copies), so that the convolution kernels read whole
 * vectors without edge tests:
 *
 *   conv_pad      xp[nl, c, hp, wp] = x[n0+nl, c, (hp-OFFH)/DS, (wp-OFFW)/DS]
 *                 where both divisions are exact and in range, else 0; for
 *                 a stride-2 conv each row is stored as its even columns,
 *                 then its odd ones (SPLIT), so that tap column kw of
 *                 consecutive outputs (ow*2 + kw) is contiguous too.
 *                 DS = 1, OFF = pad: the padded input; DS = stride,
 *                 OFF = K-1-pad: the output gradient dilated by the stride
 *                 and padded for the transposed convolution below.
 *   conv_fwd      y[n0+nl, oc, oh, ow] (+)= b[oc] +
 *                   sum_{c,kh,kw} w[oc, c, kh, kw] * xp[nl, c, oh*S + kh, ow*S + kw]
 *                 Work-item (t, ocb, nl): output row oh = t / TW, columns
 *                 ow0 = (t % TW)*VX .. +VX (TW = ceil(OW/VX) tiles per row),
 *                 channels oc0 = ocb*OCB .. +OCB: OCB accumulator vectors of
 *                 VX lanes (unrolled by the preprocessor, REP below); per
 *                 (c, kh, kw) one vector load of xp and OCB broadcast
 *                 weights. Lanes past OW compute on padding and are not
 *                 stored.
 *   conv_flip     wf[c, oc, kh, kw] = w[oc, c, KH-1-kh, KW-1-kw]: the data
 *                 gradient dx is conv_fwd with stride 1 over the dilated,
 *                 padded dy (conv_pad with DS = S) with these weights (the
 *                 transposed convolution as a gather: no col2im, no atomics).
 *   conv_dw       partial weight gradients of a group g of output rows
 *                 (rows r = nl*OH + oh in [g*R/G, (g+1)*R/G), R = NB*OH):
 *                 part[g, oc, c, k] = sum dy[n0+nl, oc, oh, ow] *
 *                                         xp[nl, c, oh*S + kh, ow*S + kw]
 *                 Work-item (c*KH/WR + khb, ocb, g): WOCB output channels x
 *                 the WKK = WR*KW taps of kernel rows khb*WR .. +WR as
 *                 WOCB*WKK accumulator vectors along ow (WR = KH: all taps;
 *                 WR = 1: one kernel row, so that a larger WOCB still fits
 *                 the registers).
 *   conv_dw_sum   dw[i] = (ACC ? dw[i] : 0) + sum_g part[g, i] (the
 *                 second pass: deterministic, no atomics).
 *   conv_taps     copies the taps [kh0, kh0+TKH) x [kw0, kw0+TKW) of a
 *                 weight tensor out (dir 0: w -> wt, compact) or back (dir 1:
 *                 wt -> w, every other tap 0): the host drops taps that read
 *                 only padding for every output position.
 *
 * Compile-time shape (set by the host, not tunables): KH, KW, S (1 or 2),
 * KK = KH*KW (conv_dw's WKK = WR*KW taps <= 16, a literal for the
 * unrolling; the host runs only conv_fwd on kernels of more than 16 taps,
 * up to 7x7, with WSPLIT 1), VX the vector width of this shape (<= the
 * tunable VW).
 * Tunables (runtime/tunables.def "conv_direct"; the host always passes
 * them): VW, OCB, WOCB, WG, WSPLIT (conv_dw: WR = 1 kernel row per
 * work-item instead of WR = KH).
 * Indices are int: every buffer holds fewer than 2^31 floats. */

/* ---- tunables (runtime/tunables.def "conv_direct") */
#ifndef VW
#error "VW (widest vector along output columns: 4, 8, 16) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef OCB
#error "OCB (output channels per conv_fwd work-item: 1..16) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef WOCB
#error "WOCB (output channels per conv_dw work-item: 1..6) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef WG
#error "WG (work-group size along dimension 0) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef WSPLIT
#error "WSPLIT (conv_dw: 0 all kernel rows per work-item, 1 one row) is passed by the host: src/runtime/tunables.def"
#endif
/* ---- the shape (set by the host per conv, not tunables) */
#if !defined(VX) || !defined(KH) || !defined(KW) || !defined(KK) || !defined(S)
#error "VX (vector width of this shape, <= VW), KH, KW, KK = KH*KW (a literal) and S come from src/ops/conv2d_direct.c"
#endif
#if KK != KH * KW
#error "KK must be KH*KW"
#endif
/* conv_dw: WR kernel rows per work-item, WKK = WR*KW taps (a literal) */
#if WSPLIT
#define WR 1
#define WKK KW
#else
#define WR KH
#define WKK KK
#endif
#if VX > VW
#error "VX must not exceed VW"
#endif

#if VX == 4
#define floatV float4
#define floatV2 float8
#define VSTORE(v, p) vstore4((v), 0, (p))
#define VLOADP(p) vload4(0, (p))
#elif VX == 8
#define floatV float8
#define floatV2 float16
#define VSTORE(v, p) vstore8((v), 0, (p))
#define VLOADP(p) vload8(0, (p))
#elif VX == 16
#define floatV float16
#define VSTORE(v, p) vstore16((v), 0, (p))
#define VLOADP(p) vload16(0, (p))
#else
#error "VX must be 4, 8 or 16"
#endif
#if OCB < 1 || OCB > 16 || WOCB < 1 || WOCB > 6 || WKK > 16 || KK > 49
#error "need 1 <= OCB <= 16, 1 <= WOCB <= 6, WR*KW <= 16, KH*KW <= 49"
#endif

/* unaligned vector loads (one instruction; vloadn is assembled from pieces
 * by some compilers, e.g. PoCL) */
typedef floatV floatV_u __attribute__((aligned(4)));
#define VLOAD(p) (*(const __global floatV_u *)(p))
/* the VX input values of tap column kw for output columns ow0 .. ow0+VX-1
 * from padded row r: columns ow*S + kw. Stride 2 reads a row split by
 * conv_pad into its even columns, then its odd ones (WH = Wp/2 each), so
 * that they too are one contiguous vector */
#if S == 1
#define XLOAD(r, ow0, kw) VLOAD((r) + (ow0) + (kw))
#elif S == 2
#define XLOAD(r, ow0, kw) VLOAD((r) + ((kw) & 1) * WH + (ow0) + ((kw) >> 1))
#else
#error "S must be 1 or 2"
#endif

/* CAT, REP, REP2: cl/common.h */

/* sum of the lanes */
static float hsum(floatV v)
{
#if VX == 16
    float8 a = v.lo + v.hi;
#elif VX == 8
    float8 a = v;
#endif
#if VX >= 8
    float4 b = a.lo + a.hi;
#else
    float4 b = v;
#endif
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

/* the first n lanes of p, the rest 0 (n < VX) */
static floatV load_part(const __global float *p, const int n)
{
    float t[VX];
    for (int l = 0; l < VX; l++) t[l] = l < n ? p[l] : 0.0f;
    return VLOADP(t);
}

static void store_part(floatV v, __global float *p, const int n)
{
    float t[VX];
    VSTORE(v, t);
    for (int l = 0; l < n; l++) p[l] = t[l];
}

/* unaligned 16- and 8-float vectors (VLOAD's) */
typedef float16 float16_u __attribute__((aligned(4)));
typedef float8 float8_u __attribute__((aligned(4)));

/* One work-item per row (nl*C + c, hp) of the padded buffer. SPLIT = 1
 * (stride-2 input): the row's even columns first, then its odd ones, Wp/2
 * each (Wp even); DS = 1 only */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_pad(__global float *restrict xp, __global const float *restrict x, const int n0,
              const int rows, const int C, const int H, const int W, const int Hp, const int Wp,
              const int DS, const int OFFH, const int OFFW, const int SPLIT)
{
    const int row = get_global_id(0);
    if (row >= rows) return;
    const int pl = row / Hp;
    const int hp = row - pl * Hp;
    __global float *d = xp + row * Wp;
    const int ih = hp - OFFH;
    if (ih < 0 || ih % DS != 0 || ih / DS >= H) {
        for (int wp = 0; wp < Wp; wp++) d[wp] = 0.0f;
        return;
    }
    __global const float *s = x + (n0 * C + pl) * (H * W) + (ih / DS) * W;
    if (SPLIT == 1) {
        /* columns j and wh + j from inputs 2j - OFFW and the next; where
         * 8 columns' 16 inputs lie inside the row, one vector load split
         * into its even and odd lanes */
        const int wh = Wp >> 1;
        int j = 0;
#define SPLIT_ONE                                                 \
    {                                                             \
        const int iw0 = 2 * j - OFFW, iw1 = iw0 + 1;              \
        d[j] = iw0 >= 0 && iw0 < W ? s[iw0] : 0.0f;               \
        d[wh + j] = iw1 >= 0 && iw1 < W ? s[iw1] : 0.0f;          \
    }
        for (; j < wh && 2 * j < OFFW; j++) SPLIT_ONE
        for (; j + 8 <= wh && 2 * j - OFFW + 16 <= W; j += 8) {
            const float16 v = *(const __global float16_u *)(s + 2 * j - OFFW);
            *(__global float8_u *)(d + j) = v.even;
            *(__global float8_u *)(d + wh + j) = v.odd;
        }
        for (; j < wh; j++) SPLIT_ONE
#undef SPLIT_ONE
        return;
    }
    if (DS == 1) {
        /* columns [OFFW, OFFW + W) hold the row, clipped to [0, Wp) */
        const int lo = clamp(OFFW, 0, Wp), hi = clamp(OFFW + W, 0, Wp);
        for (int wp = 0; wp < lo; wp++) d[wp] = 0.0f;
        for (int wp = lo; wp < hi; wp++) d[wp] = s[wp - OFFW];
        for (int wp = hi; wp < Wp; wp++) d[wp] = 0.0f;
        return;
    }
    for (int wp = 0; wp < Wp; wp++) {
        const int iw = wp - OFFW;
        d[wp] = iw >= 0 && iw % DS == 0 && iw / DS < W ? s[iw / DS] : 0.0f;
    }
}

/* epi (the eval-mode epilogue, src/ops/conv2d.c rcl_conv2d_forward_fused):
 * bit 0 adds res (laid out as y), bit 1 applies ReLU (cl/relu.cl's: x < 0 ?
 * 0 : x, so NaN stays NaN), after the bias */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_fwd(__global float *restrict y, __global const float *restrict xp,
              __global const float *restrict w, __global const float *restrict b,
              const int has_bias, __global const float *res, const int epi, const int n0,
              const int C, const int Hp, const int Wp, const int OC, const int OH, const int OW,
              const int TW)
{
    const int t = get_global_id(0);
    const int oh = t / TW;
    if (oh >= OH) return;
    const int ow0 = (t - oh * TW) * VX;
    const int oc0 = get_global_id(1) * OCB;
    const int nl = get_global_id(2);
#if S == 2
    const int WH = Wp >> 1; /* XLOAD's split rows */
#endif
    const __global float *xs = xp + nl * C * (Hp * Wp) + oh * S * Wp;
#define W_PTR(i) const __global float *w##i = w + min(oc0 + i, OC - 1) * (C * KK);
#define ACC_INIT(i) floatV acc##i = (floatV)(has_bias ? b[min(oc0 + i, OC - 1)] : 0.0f);
    REP(OCB, W_PTR)
    REP(OCB, ACC_INIT)
    /* the tap loops unrolled (KH, KW are compile-time): each tap's offset
     * is then a constant, where the loop computed the stride-2 row half
     * and column per tap (perf: 6 integer instructions per 8 FMAs;
     * resnet20's stride-2 convs 0.8x, the 7x7 stem 0.83x the time,
     * docs/speed.md "Session 31") */
    for (int c = 0; c < C; c++) {
#pragma unroll
        for (int kh = 0; kh < KH; kh++) {
            const __global float *xr = xs + kh * Wp;
#pragma unroll
            for (int kw = 0; kw < KW; kw++) {
                const floatV xv = XLOAD(xr, ow0, kw);
                const int k = kh * KW + kw;
#define ACC_FMA(i) acc##i = fma((floatV)(w##i[k]), xv, acc##i);
                REP(OCB, ACC_FMA)
            }
        }
        xs += Hp * Wp;
#define W_NEXT(i) w##i += KK;
        REP(OCB, W_NEXT)
    }
    const int off = ((n0 + nl) * OC + oc0) * (OH * OW) + oh * OW + ow0;
    __global float *yo = y + off;
    const int n = OW - ow0;
#define EPI(i)                                                                         \
    if (epi & 1)                                                                       \
        acc##i += n >= VX ? VLOAD(res + off + i * (OH * OW))                           \
                          : load_part(res + off + i * (OH * OW), n);                   \
    if (epi & 2) acc##i = select(acc##i, (floatV)0.0f, acc##i < (floatV)0.0f);
#define STORE(i)                                                         \
    if (oc0 + i < OC) {                                                  \
        EPI(i)                                                           \
        if (n >= VX) VSTORE(acc##i, yo + i * (OH * OW));                 \
        else store_part(acc##i, yo + i * (OH * OW), n);                  \
    }
    REP(OCB, STORE)
}

/* one work-item per element of wf (C, OC, KH, KW) */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_flip(__global float *restrict wf, __global const float *restrict w, const int OC,
               const int C)
{
    const int i = get_global_id(0);
    if (i >= C * OC * KK) return;
    const int k = i % KK;
    const int oc = (i / KK) % OC;
    const int c = i / (KK * OC);
    wf[i] = w[(oc * C + c) * KK + (KK - 1 - k)];
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_dw(__global float *restrict part, __global const float *restrict dy,
             __global const float *restrict xp, const int n0, const int nb, const int C,
             const int Hp, const int Wp, const int OC, const int OH, const int OW, const int G)
{
    const int nkb = KH / WR; /* blocks of WR kernel rows */
    const int c = get_global_id(0) / nkb, kh0 = (get_global_id(0) % nkb) * WR;
    if (c >= C) return;
    const int oc0 = get_global_id(1) * WOCB;
    const int g = get_global_id(2);
    const int R = nb * OH;
    const int r0 = (int)((long)g * R / G), r1 = (int)((long)(g + 1) * R / G);
#define DECL_K(k, i) floatV acc##i##_##k = (floatV)0.0f;
#define DECL(i) REP2(WKK, DECL_K, i)
    REP(WOCB, DECL)
    const int tail = OW % VX, full = OW - tail;
#if S == 2
    const int WH = Wp >> 1; /* XLOAD's split rows */
#endif
    /* rows r0 .. r1-1: image nl, output row oh; the row pointers step by
     * one output row (no division per row: on 8x8 maps a row is one vector) */
    int nl = r0 / OH, oh = r0 - nl * OH;
    const __global float *xr = xp + (nl * C + c) * (Hp * Wp) + (oh * S + kh0) * Wp;
#define DY_PTR(i)                                                                           \
    const __global float *dyr##i = dy + ((n0 + nl) * OC + min(oc0 + i, OC - 1)) * (OH * OW) + \
                                   oh * OW;
    REP(WOCB, DY_PTR)
    for (int r = r0; r < r1; r++) {
        for (int ow0 = 0; ow0 <= OW - VX; ow0 += VX) {
#define DY_LOAD(i) const floatV dv##i = VLOAD(dyr##i + ow0);
            REP(WOCB, DY_LOAD)
#define TAP_FMA(i, k) acc##i##_##k = fma(dv##i, xv, acc##i##_##k);
#define TAP(k)                                                          \
    {                                                                   \
        const floatV xv = XLOAD(xr + ((k) / KW) * Wp, ow0, (k) % KW);     \
        REP2(WOCB, TAP_FMA, k)                                          \
    }
            REP(WKK, TAP)
        }
        if (tail) {
            const int ow0 = full;
#define DY_LOAD_PART(i) const floatV dv##i = load_part(dyr##i + ow0, tail);
            REP(WOCB, DY_LOAD_PART)
            REP(WKK, TAP)
        }
#define DY_NEXT(i) dyr##i += OW;
#define DY_NEXT_IMAGE(i) dyr##i += (OC - 1) * (OH * OW);
        REP(WOCB, DY_NEXT)
        xr += S * Wp;
        if (++oh == OH) { /* the next image: dy of the same channels, its padded planes */
            oh = 0;
            nl++;
            REP(WOCB, DY_NEXT_IMAGE)
            xr = xp + (nl * C + c) * (Hp * Wp) + kh0 * Wp;
        }
    }
#define OUT_K(k, i) o[k] = hsum(acc##i##_##k);
#define OUT(i)                                                                     \
    if (oc0 + i < OC) {                                                            \
        __global float *o = part + ((g * OC + oc0 + i) * C + c) * KK + kh0 * KW;   \
        REP2(WKK, OUT_K, i)                                                        \
    }
    REP(WOCB, OUT)
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_dw_sum(__global float *restrict dw, __global const float *restrict part, const int M,
                 const int G, const int acc)
{
    const int i = get_global_id(0);
    if (i >= M) return;
    float s = acc ? dw[i] : 0.0f;
    for (int g = 0; g < G; g++) s += part[g * M + i];
    dw[i] = s;
}

/* One work-item per plane (OC*C planes of FKH x FKW taps):
 * dir 0: wt[plane, kh - kh0, kw - kw0] = w[plane, kh, kw] inside the window;
 * dir 1: w[plane, kh, kw] = inside ? wt[...] : 0. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_taps(__global float *restrict w, __global float *restrict wt, const int planes,
               const int FKH, const int FKW, const int kh0, const int kw0, const int TKH,
               const int TKW, const int dir)
{
    const int pl = get_global_id(0);
    if (pl >= planes) return;
    __global float *f = w + pl * (FKH * FKW);
    __global float *t = wt + pl * (TKH * TKW);
    if (dir == 0) {
        for (int kh = 0; kh < TKH; kh++)
            for (int kw = 0; kw < TKW; kw++) t[kh * TKW + kw] = f[(kh0 + kh) * FKW + kw0 + kw];
        return;
    }
    for (int k = 0; k < FKH * FKW; k++) f[k] = 0.0f;
    for (int kh = 0; kh < TKH; kh++)
        for (int kw = 0; kw < TKW; kw++) f[(kh0 + kh) * FKW + kw0 + kw] = t[kh * TKW + kw];
}
