/* Small-map convolution as dense GEMMs (host side src/ops/conv2d_dense.c,
 * chosen by src/ops/conv2d.c where a map has no more pixels than the kernel
 * has live taps: rcl_conv_is_dense, src/ops/conv2d_chunk.h).
 *
 * With Q = H*W input and P = OH*OW output pixels the conv is the linear map
 *
 *   y[n, oc*P + p] = sum_{c, q} x[n, c*Q + q] * D[oc*P + p, c*Q + q]
 *   D[oc*P + p, c*Q + q] = w[oc, c, kh, kw],  kh = qh - ph*SH + PH,
 *                                             kw = qw - pw*SW + PW,
 *                          0 where (kh, kw) is outside the kernel
 *
 * (p = ph*OW + pw, q = qh*W + qw). x, y and their gradients are rows of
 * N x C*Q and N x OC*P matrices in their own NCHW layout, so the passes are
 * GEMMs on the tensors themselves (no im2col, col2im or reorder):
 *
 *   forward          y  = x D^T        (D^T built by conv_dense_w, TR 1)
 *   data gradient    dx = sum_p dy_p D_p, one GEMM per output pixel p, p
 *                    descending: dy_p = dy[:, :, p] (N x OC, from one
 *                    transpose of dy), D_p its OC rows of D (conv_dense_w,
 *                    TR 0, stores D with rows p*OC + oc): K = OC per GEMM,
 *                    summed over p as col2im sums a pixel's taps (kh, kw
 *                    ascending), so the rounding is the im2col path's; one
 *                    GEMM over K = OC*P rounds differently, enough to move
 *                    resnet50's third SGD step in tests/test_parity.c past
 *                    its tolerance (BatchNorm over 2x2 maps of 8 images)
 *   weight gradient  dD = dy^T x, then conv_dense_fold:
 *                    dw[oc, c, kh, kw] = sum_p dD[oc*P + p, c*Q + q(p, kh, kw)]
 *                    over the p whose tap (kh, kw) reads inside the map
 *                    (p ascending; 0 for a tap no p reads)
 *
 * Kernels, one work-item per (oc, c) pair: its P x Q block of D (or dD)
 * read or written in runs of Q (D) or P (D^T) consecutive floats; the loops
 * over the block are unrolled (compile-time geometry, below):
 *   conv_dense_w     TR 0: D with rows p*OC + oc, item (c, oc)
 *                    (neighbouring items: runs Q apart); TR 1: D^T (C*Q x
 *                    OC*P), item (oc, c) (runs P apart). Each weight is
 *                    read where the block uses it, so a 1x1 map reads only
 *                    the centre taps (all KH*KW first: twice the time).
 *   conv_dense_fold  item (c, oc): the gather above (p ascending) into
 *                    KH*KW sums in private memory, deterministic, no
 *                    atomics; a run of Q = 4 read as one vector and 3x3
 *                    gradients stored as a run of 8 and one (per-float
 *                    accesses 4 or 9 floats apart in neighbouring items
 *                    become gathers and scatters across the vectorised
 *                    work-items: twice the time, docs/speed.md "Session 35").
 * The geometry is compile-time (the host passes it; a few shapes per
 * model): PoCL vectorises a kernel across work-items, and a division by a
 * run-time value then runs lane by lane; an element per work-item with its
 * index arithmetic took twice a plain copy's time, these about that of the
 * copy (2-core PoCL VM).
 *
 * Indices are int: the host keeps D under 2^31 floats (and its byte budget).
 * Work-group size WG: the host's clamp of 256 to the device (PoCL pays a
 * fixed cost per work-group: 64 took 1.2-1.7x as long). */

#if !defined(WG) || !defined(DP) || !defined(DQ) || !defined(DW) || !defined(DOW) || \
    !defined(DKH) || !defined(DKW) || !defined(DS) || !defined(DPH) || !defined(DPW)
#error "WG and the geometry DP DQ DW DOW DKH DKW DS DPH DPW are passed by the host (src/ops/conv2d_dense.c)"
#endif
#define KK (DKH * DKW)

/* the tap of output pixel p that reads input pixel q, or -1 */
#define TAP(p, q)                                                                        \
    (((uint)((q) / DW - (p) / DOW * DS + DPH) < (uint)DKH &&                              \
      (uint)((q) % DW - (p) % DOW * DS + DPW) < (uint)DKW)                                \
         ? ((q) / DW - (p) / DOW * DS + DPH) * DKW + (q) % DW - (p) % DOW * DS + DPW      \
         : -1)

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_dense_w(__global float *restrict d, __global const float *restrict w, const int tr,
                  const int C, const int OC)
{
    const int a = get_global_id(0), b = get_global_id(1);
    if (a >= (tr ? OC : C)) return;
    const int oc = tr ? a : b, c = tr ? b : a;
    __global const float *wp = w + (oc * C + c) * KK;
    /* each tap read where it is used: the geometry is compile-time, so a
     * map of few pixels reads only its live taps (a 1x1 map: the centre) */
#define WT(p, q) (TAP(p, q) >= 0 ? wp[TAP(p, q) >= 0 ? TAP(p, q) : 0] : 0.0f)
    if (tr) {
        __global float *o = d + (c * DQ) * (OC * DP) + oc * DP;
        for (int q = 0; q < DQ; q++) {
#if DP == 4
            float4 v;
            v.s0 = WT(0, q);
            v.s1 = WT(1, q);
            v.s2 = WT(2, q);
            v.s3 = WT(3, q);
            vstore4(v, 0, o + q * (OC * DP));
#else
            for (int p = 0; p < DP; p++) {
                o[q * (OC * DP) + p] = WT(p, q);
            }
#endif
        }
        return;
    }
    __global float *o = d + oc * (C * DQ) + c * DQ; /* row p*OC + oc */
    for (int p = 0; p < DP; p++) {
#if DQ == 4
        float4 v;
        v.s0 = WT(p, 0);
        v.s1 = WT(p, 1);
        v.s2 = WT(p, 2);
        v.s3 = WT(p, 3);
        vstore4(v, 0, o + p * (OC * C * DQ));
#else
        for (int q = 0; q < DQ; q++) {
            o[p * (OC * C * DQ) + q] = WT(p, q);
        }
#endif
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_dense_fold(__global float *restrict dw, __global const float *restrict dd,
                     const int C, const int OC)
{
    const int c = get_global_id(0), oc = get_global_id(1);
    if (c >= C) return;
    __global const float *src = dd + (oc * DP) * (C * DQ) + c * DQ;
    float t[KK];
    for (int k = 0; k < KK; k++) t[k] = 0.0f;
    for (int p = 0; p < DP; p++) {
#if DQ == 4 /* the row's run as one vector load, not a gather per pixel */
        const float4 v = vload4(0, src + p * (C * DQ));
#define FOLD_Q(q, e) if (TAP(p, q) >= 0) t[TAP(p, q) >= 0 ? TAP(p, q) : 0] += v.e;
        FOLD_Q(0, s0) FOLD_Q(1, s1) FOLD_Q(2, s2) FOLD_Q(3, s3)
#else
        for (int q = 0; q < DQ; q++) {
            const int k = TAP(p, q);
            if (k >= 0) t[k] += src[p * (C * DQ) + q];
        }
#endif
    }
    __global float *o = dw + (oc * C + c) * KK;
#if KK == 9 /* a run of 8 and one: vector stores, where a store per tap
               would scatter across the work-items' slots 9 floats apart */
    vstore8((float8)(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]), 0, o);
    o[8] = t[8];
#else
    for (int k = 0; k < KK; k++) o[k] = t[k];
#endif
}
