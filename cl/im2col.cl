/* im2col / col2im and the layout reorders of the chunked convolution.
 *
 * A chunk holds NB images n0 .. n0+NB-1 of x (N,C,H,W). With P = OH*OW,
 * CKK = C*KH*KW and NP = NB*P, the column matrix is
 *   col[r, j]  r = (c*KH + kh)*KW + kw   in [0, CKK)   (row)
 *              j = nl*P + oh*OW + ow     in [0, NP)    (column, nl = n - n0)
 *   col[r, j] = x[n0+nl, c, oh*SH - PH + kh, ow*SW - PW + kw]  (0 outside)
 *
 * Every kernel but im2col_panels and im2col_wpanels (below, with their own
 * layouts) is a 2-D
 * range (NG, D1): dimension 0 runs over NG =
 * ceil(NB/IPI) groups of IPI consecutive images (rounded up to WG), dimension
 * 1 carries a row or channel index d. Work-item (i, d) handles the images
 * nl in [i*IPI, min(NB, i*IPI + IPI)), one whole P- or H*W-plane each, so
 * the per-element work has no integer division (the divisions of
 * get_global_id(1) are uniform over a work-group, and IPI > 1 amortises the
 * per-item set-up over several small planes) and the inner loops run over
 * contiguous memory. Per image nl of the item:
 *
 *                 D1    d
 *   im2col        CKK   r    writes col[r, nl*P .. nl*P+P); the IPI images
 *                            of an item form one contiguous span of IPI*P
 *   col2im        C     c    overwrites the plane dx[n0+nl, c]: zeroes it,
 *                            then adds the col rows r = (c*KH + kh)*KW + kw
 *                            in (kh, kw) row-major order (gather:
 *                            deterministic, no atomics)
 *   reorder_fwd   OC    oc   y[n0+nl, oc, p] = ycol[oc, nl*P + p] (+ b[oc]), then
 *                            the epilogue epi (+ res, ReLU: conv_direct.cl's)
 *   reorder_bwd   OC    oc   dycol[oc, nl*P + p] = dy[n0+nl, oc, p]
 *   conv_epilogue OC    oc   y[nl, oc, p] (+ b[oc]), + res, ReLU, in place
 *
 *         dim 1 (r) ->
 *   dim 0 | item (0, r): images 0 .. IPI-1     | item (0, r+1) ...
 *     |   | item (1, r): images IPI .. 2*IPI-1 | ...
 *     v
 *
 * The host picks IPI = ceil(SPAN / plane size) for a tunable number of
 * floats SPAN (a kernel argument: no recompile).
 *
 * For a row (kh, kw) the output columns that read inside the image are
 * oh in [oh_lo, oh_hi), ow in [ow_lo, ow_hi) (valid_range below); the rest
 * of the plane is zero padding.
 *
 * Indices are int: every buffer holds fewer than 2^31 floats.
 * Tunables: WG (work-group size along dimension 0); host-side
 * im2col.SPAN (floats per work-item that set IPI, see src/conv2d.c). */

/* [lo, hi) of the o in [0, O) with 0 <= o*S - Pd + k < I. The divisions
 * are unconditional, so the compiler may hoist them out of work-item loops. */
static void valid_range(int *lo, int *hi, const int O, const int I, const int S, const int Pd,
                        const int k)
{
    const int a = Pd - k;          /* need o*S >= a: o >= ceil(max(a,0)/S) */
    const int b = I - 1 + Pd - k;  /* need o*S <= b: o < floor(b/S) + 1, none if b < 0 */
    const int l = min((max(a, 0) + S - 1) / S, O);
    const int h = (max(b, -1) + S) / S;
    *lo = l;
    *hi = clamp(h, l, O);
}

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void im2col(__global float *restrict col, __global const float *restrict x, const int n0,
            const int nb, const int ipi, const int C, const int H, const int W, const int KH,
            const int KW, const int SH, const int SW, const int PH, const int PW, const int OH,
            const int OW)
{
    const int r = get_global_id(1);
    const int c = r / (KH * KW);
    const int k = r - c * (KH * KW);
    const int kh = k / KW;
    const int kw = k - kh * KW;
    int oh_lo, oh_hi, ow_lo, ow_hi;
    valid_range(&oh_lo, &oh_hi, OH, H, SH, PH, kh);
    valid_range(&ow_lo, &ow_hi, OW, W, SW, PW, kw);
    const int P = OH * OW;
    const int nl0 = get_global_id(0) * ipi;
    const int nl1 = min(nl0 + ipi, nb);
    for (int nl = nl0; nl < nl1; nl++) {
        __global float *dst = col + r * (nb * P) + nl * P;
        __global const float *src = x + ((n0 + nl) * C + c) * (H * W);
        for (int i = 0; i < oh_lo * OW; i++) dst[i] = 0.0f;
        for (int oh = oh_lo; oh < oh_hi; oh++) {
            __global float *d = dst + oh * OW;
            const int s0 = (oh * SH - PH + kh) * W - PW + kw;
            for (int ow = 0; ow < ow_lo; ow++) d[ow] = 0.0f;
            for (int ow = ow_lo; ow < ow_hi; ow++) d[ow] = src[s0 + ow * SW];
            for (int ow = ow_hi; ow < OW; ow++) d[ow] = 0.0f;
        }
        for (int i = oh_hi * OW; i < P; i++) dst[i] = 0.0f;
    }
}

#ifdef R
/* im2col straight into the tiled GEMM's packed op(B) layout (cl/gemm.cl's
 * PB, the layout cl/pack.cl would make of col): panels of R columns
 * (compile-time: the GEMM's NWI),
 *   out[(q*CKK + r)*R + j] = col[r, q*R + j]       q < ceil(NP/R), j < R
 * zero for the columns q*R + j >= NP that pad the last panel. The GEMM
 * reads it without the pack pass over col (one write and one read of the
 * column matrix fewer). Work-item (b, q) (dimension 0 the row blocks:
 * neighbouring items write neighbouring blocks of one panel) fills panel
 * q's rows r in [b*rows, b*rows + rows): it first works out where each of
 * its R columns reads the input (image, top-left tap; in private memory),
 * then per row (c, kh, kw) stores R consecutive floats (a 1x1 stride-1
 * unpadded conv's panel inside one image: copied whole per row). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void im2col_panels(__global float *restrict out, __global const float *restrict x,
                   const int n0, const int nb, const int rows, const int C, const int H,
                   const int W, const int KH, const int KW, const int SH, const int SW,
                   const int PH, const int PW, const int OH, const int OW)
{
    const int q = get_global_id(1);
    const int P = OH * OW, NP = nb * P, KK = KH * KW, CKK = C * KK, HW = H * W;
    const int r0 = get_global_id(0) * rows;
    if (q * R >= NP || r0 >= CKK) return;
    const int r1 = min(r0 + rows, CKK);
    int base[R], ih0[R], iw0[R];
    int j0 = q * R, nl = j0 / P, p = j0 - nl * P, oh = p / OW, ow = p - oh * OW;
    for (int j = 0; j < R; j++) {
        const int in = nl < nb; /* past NP: a padding column, never in range */
        base[j] = in ? (n0 + nl) * C * HW : 0;
        ih0[j] = in ? oh * SH - PH : -(1 << 28);
        iw0[j] = ow * SW - PW;
        if (++ow == OW) {
            ow = 0;
            if (++oh == OH) oh = 0, nl++;
        }
    }
    const int c0 = r0 / KK, k0 = r0 - c0 * KK;
    int kh = k0 / KW, kw = k0 - kh * KW, cb = c0 * HW;
    __global float *o = out + (q * CKK + r0) * R;
    /* a 1x1 stride-1 unpadded conv whose R columns lie in one image: each
     * row of the panel is R consecutive floats of a channel plane */
    if (KK == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0 && (j0 + R - 1) / P == j0 / P) {
        const __global float *src = x + base[0] + cb + (j0 - (j0 / P) * P);
        for (int r = r0; r < r1; r++, o += R, src += HW)
            for (int j = 0; j < R; j++) o[j] = src[j];
        return;
    }
    for (int r = r0; r < r1; r++, o += R) {
        for (int j = 0; j < R; j++) {
            const int ih = ih0[j] + kh, iw = iw0[j] + kw;
            o[j] = (uint)ih < (uint)H && (uint)iw < (uint)W ? x[base[j] + cb + ih * W + iw] : 0.0f;
        }
        if (++kw == KW) {
            kw = 0;
            if (++kh == KH) kh = 0, cb += HW;
        }
    }
}

/* im2col straight into the packed op(B) of the weight gradient's GEMM
 * dW = dY' col^T (NT: op(B) = col^T, K = NP, N = CKK): panels of R rows
 * of col,
 *   out[(q*NP + j)*R + i] = col[q*R + i, j]       q < ceil(CKK/R), i < R
 * zero for the rows q*R + i >= CKK that pad the last panel. Work-item
 * (j, q) works out where column j reads the input (image, top-left tap),
 * then stores its R consecutive floats (rows (c, kh, kw) of panel q);
 * neighbouring items take neighbouring columns, so they read neighbouring
 * input and write one contiguous run. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void im2col_wpanels(__global float *restrict out, __global const float *restrict x,
                    const int n0, const int nb, const int C, const int H, const int W,
                    const int KH, const int KW, const int SH, const int SW, const int PH,
                    const int PW, const int OH, const int OW)
{
    const int j = get_global_id(0), q = get_global_id(1);
    const int P = OH * OW, NP = nb * P, KK = KH * KW, CKK = C * KK, HW = H * W;
    if (j >= NP) return;
    const int nl = j / P, p = j - nl * P, oh = p / OW, ow = p - oh * OW;
    const int ih0 = oh * SH - PH, iw0 = ow * SW - PW;
    __global const float *src = x + (n0 + nl) * C * HW;
    const int r0 = q * R, c0 = r0 / KK, k0 = r0 - c0 * KK;
    int kh = k0 / KW, kw = k0 - kh * KW, cb = c0 * HW;
    __global float *o = out + (q * NP + j) * R;
    for (int i = 0; i < R; i++) {
        const int ih = ih0 + kh, iw = iw0 + kw;
        o[i] = r0 + i < CKK && (uint)ih < (uint)H && (uint)iw < (uint)W
                   ? src[cb + ih * W + iw] : 0.0f;
        if (++kw == KW) {
            kw = 0;
            if (++kh == KH) kh = 0, cb += HW;
        }
    }
}
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void col2im(__global float *restrict dx, __global const float *restrict col, const int n0,
            const int nb, const int ipi, const int C, const int H, const int W, const int KH,
            const int KW, const int SH, const int SW, const int PH, const int PW, const int OH,
            const int OW)
{
    const int c = get_global_id(1);
    const int P = OH * OW;
    const int NP = nb * P;
    const int nl0 = get_global_id(0) * ipi;
    const int nl1 = min(nl0 + ipi, nb);
    for (int nl = nl0; nl < nl1; nl++) {
        __global float *dst = dx + ((n0 + nl) * C + c) * (H * W);
        for (int i = 0; i < H * W; i++) dst[i] = 0.0f;
        for (int kh = 0; kh < KH; kh++) {
            int oh_lo, oh_hi;
            valid_range(&oh_lo, &oh_hi, OH, H, SH, PH, kh);
            for (int kw = 0; kw < KW; kw++) {
                int ow_lo, ow_hi;
                valid_range(&ow_lo, &ow_hi, OW, W, SW, PW, kw);
                __global const float *src = col + ((c * KH + kh) * KW + kw) * NP + nl * P;
                for (int oh = oh_lo; oh < oh_hi; oh++) {
                    const int d0 = (oh * SH - PH + kh) * W - PW + kw;
                    const int s0 = oh * OW;
                    for (int ow = ow_lo; ow < ow_hi; ow++) dst[d0 + ow * SW] += src[s0 + ow];
                }
            }
        }
    }
}

/* has_bias == 0: b is not read (the host passes any valid buffer). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void reorder_fwd(__global float *restrict y, __global const float *restrict ycol,
                 __global const float *restrict b, const int has_bias,
                 __global const float *res, const int epi, const int n0, const int nb,
                 const int ipi, const int OC, const int P)
{
    const int oc = get_global_id(1);
    const float bv = has_bias ? b[oc] : 0.0f;
    const int nl0 = get_global_id(0) * ipi;
    const int nl1 = min(nl0 + ipi, nb);
    for (int nl = nl0; nl < nl1; nl++) {
        __global float *d = y + ((n0 + nl) * OC + oc) * P;
        __global const float *s = ycol + oc * (nb * P) + nl * P;
        if (epi) { /* + res, ReLU (as cl/conv_direct.cl's conv_fwd) */
            __global const float *r = res + ((n0 + nl) * OC + oc) * P;
            for (int p = 0; p < P; p++) d[p] = conv_epi(has_bias ? s[p] + bv : s[p], r + p, epi);
        } else if (has_bias) {
            for (int p = 0; p < P; p++) d[p] = s[p] + bv;
        } else {
            for (int p = 0; p < P; p++) d[p] = s[p];
        }
    }
}

/* The epilogue of the per-image GEMMs (1x1 stride-1 convs that write y
 * directly, src/ops/conv2d.c), in place over images 0 .. nb-1 of y (N,OC,P):
 * y[n, oc, p] = y (+ b[oc]) then epi (+ res, ReLU), in reorder_fwd's order
 * of operations. has_bias == 0: b is not read; epi == 0: res is not read.
 * The same 2-D range as reorder_fwd (n0 = 0). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void conv_epilogue(__global float *y, __global const float *restrict b, const int has_bias,
                   __global const float *res, const int epi, const int nb, const int ipi,
                   const int OC, const int P)
{
    const int oc = get_global_id(1);
    const float bv = has_bias ? b[oc] : 0.0f;
    const int nl0 = get_global_id(0) * ipi;
    const int nl1 = min(nl0 + ipi, nb);
    for (int nl = nl0; nl < nl1; nl++) {
        __global float *d = y + (nl * OC + oc) * P;
        if (epi) {
            __global const float *r = res + (nl * OC + oc) * P;
            for (int p = 0; p < P; p++) d[p] = conv_epi(has_bias ? d[p] + bv : d[p], r + p, epi);
        } else {
            for (int p = 0; p < P; p++) d[p] += bv;
        }
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void reorder_bwd(__global float *restrict dycol, __global const float *restrict dy, const int n0,
                 const int nb, const int ipi, const int OC, const int P)
{
    const int oc = get_global_id(1);
    const int nl0 = get_global_id(0) * ipi;
    const int nl1 = min(nl0 + ipi, nb);
    for (int nl = nl0; nl < nl1; nl++) {
        __global float *d = dycol + oc * (nb * P) + nl * P;
        __global const float *s = dy + ((n0 + nl) * OC + oc) * P;
        for (int p = 0; p < P; p++) d[p] = s[p];
    }
}
