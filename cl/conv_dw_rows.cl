/* The weight gradient of a conv with a large kernel and few input channels
 * (the ImageNet stem: 3 channels, 7x7, stride 2), without im2col: host side
 * src/ops/conv2d_dw_rows.c, chosen by src/ops/conv2d.c (rcl_conv_dw_rows_use).
 *
 *   dw[oc, c, kh, kw] = sum over n, oh, ow of
 *                       dy[n, oc, oh, ow] * x[n, c, oh*S + kh - PH, ow*S + kw - PW]
 *
 * (0 outside the input). The im2col path writes the C*KH*KW x N*OH*OW
 * column matrix (the stem of resnet18 at 32x32, batch 100: 15 MB) and runs
 * a GEMM of M = OC, N = 147, K = N*OH*OW: few columns, a deep k range.
 * Here dy is first transposed image by image to channels-last order
 * (dyt[n, p, oc], p = oh*OW + ow: the host's rcl_transpose_batch), so that
 * VW output channels of one pixel are one vector load and a row's pixels
 * follow each other:
 *
 *   conv_dw_rows     work-item (c*KH + kh, block of NV vectors of VW output
 *                    channels, g): NV x KW vector sums over rows (n, oh)
 *                    g*R .. g*R+R-1 (r = n*OH + oh ascending; rows whose
 *                    input row ih = oh*S + kh - PH is padding skipped), for
 *                    ow ascending NV vectors of dy and NV x KW multiply-adds
 *                    with the row's KW taps (read in place, bounds checked
 *                    only where ow*S - PW + kw can leave the row: its ends);
 *                    stores its partial sums to part[g, oc, c, kh, kw] (to
 *                    dw itself where there is one chunk). The chunks are
 *                    about DW_ROWS_KB of dy (the host's plan), so that a
 *                    chunk's work-items, which run one after the other,
 *                    read its rows of dy from the cache.
 *   conv_dw_rows_sum dw[i] = sum over g ascending of part[g, i]
 *                    (deterministic, no atomics).
 *
 * Build options (host): VW (4, 8 or 16: output channels per vector), NV
 * (vectors a work-item; OC a multiple of NV*VW), KW, S. Work-groups of one
 * item (the kernel's vectors are explicit). Indices are int: every buffer
 * holds fewer than 2^31 floats. */

#if !defined(VW) || !defined(NV) || !defined(KW) || !defined(S)
#error "VW, NV, KW and S are passed by the host (src/ops/conv2d_dw_rows.c)"
#endif

#if VW == 16
#define floatV float16
#define VLOAD vload16
#define VSTORE vstore16
#elif VW == 8
#define floatV float8
#define VLOAD vload8
#define VSTORE vstore8
#elif VW == 4
#define floatV float4
#define VLOAD vload4
#define VSTORE vstore4
#else
#error "VW must be 4, 8 or 16"
#endif

/* acc[v][kw] += x[ow*S + kw - PW] (0 outside the row) * dy's vector v,
 * kw = 0 .. KW-1, v = 0 .. NV-1 */
#define ROW_STEP(CHECK)                                                         \
    {                                                                           \
        floatV dv[NV];                                                          \
        _Pragma("unroll") for (int v = 0; v < NV; v++) dv[v] = VLOAD(0, d + ow * OC + v * VW); \
        __global const float *xo = xs + ow * S - PW;                            \
        _Pragma("unroll") for (int kw = 0; kw < KW; kw++) {                     \
            const float xv = CHECK ? ((uint)(ow * S - PW + kw) < (uint)W ? xo[kw] : 0.0f) \
                                   : xo[kw];                                    \
            _Pragma("unroll") for (int v = 0; v < NV; v++)                      \
                acc[v][kw] = fma((floatV)(xv), dv[v], acc[v][kw]);              \
        }                                                                       \
    }

__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void conv_dw_rows(__global float *restrict part, __global const float *restrict dyt,
                  __global const float *restrict x, const int N, const int C, const int H,
                  const int W, const int OC, const int OH, const int OW, const int KH,
                  const int PH, const int PW, const int R)
{
    const int ck = get_global_id(0), oc0 = get_global_id(1) * NV * VW, g = get_global_id(2);
    const int c = ck / KH, kh = ck % KH;
    floatV acc[NV][KW];
    _Pragma("unroll") for (int v = 0; v < NV; v++)
        _Pragma("unroll") for (int kw = 0; kw < KW; kw++) acc[v][kw] = (floatV)(0.0f);
    /* the outputs whose taps all read inside the row: [ow_lo, ow_hi) */
    const int ow_lo = min((PW + S - 1) / S, OW);
    const int ow_hi = max(ow_lo, min(OW, W - KW + PW >= 0 ? (W - KW + PW) / S + 1 : 0));
    const int r1 = min((g + 1) * R, N * OH);
    for (int r = g * R; r < r1; r++) {
        const int n = r / OH, oh = r % OH, ih = oh * S + kh - PH;
        if ((uint)ih >= (uint)H) continue;
        __global const float *xs = x + ((n * C + c) * H + ih) * W;
        __global const float *d = dyt + ((n * OH + oh) * OW) * OC + oc0;
        int ow = 0;
        for (; ow < ow_lo; ow++) ROW_STEP(1)
        for (; ow < ow_hi; ow++) ROW_STEP(0)
        for (; ow < OW; ow++) ROW_STEP(1)
    }
    /* part[g, oc0 + l, c, kh, kw] */
    const int KK = KH * KW;
    __global float *o = part + ((g * OC + oc0) * C + c) * KK + kh * KW;
    _Pragma("unroll") for (int v = 0; v < NV; v++)
        _Pragma("unroll") for (int kw = 0; kw < KW; kw++) {
            float t[VW];
            VSTORE(acc[v][kw], 0, t);
            for (int l = 0; l < VW; l++) o[(v * VW + l) * C * KK + kw] = t[l];
        }
}

/* dw[i] = sum_g part[g*M + i], g ascending */
__kernel void conv_dw_rows_sum(__global float *restrict dw, __global const float *restrict part,
                               const int M, const int G)
{
    const int i = get_global_id(0);
    if (i >= M) return;
    float s = part[i];
    for (int g = 1; g < G; g++) s += part[g * M + i];
    dw[i] = s;
}
