/* im2col / col2im and the layout reorders of the chunked convolution.
 *
 * A chunk holds NB images n0 .. n0+NB-1 of x (N,C,H,W). With P = OH*OW,
 * CKK = C*KH*KW and NP = NB*P, the column matrix is
 *   col[r, j]  r = (c*KH + kh)*KW + kw   in [0, CKK)   (row)
 *              j = nl*P + oh*OW + ow     in [0, NP)    (column, nl = n - n0)
 *   col[r, j] = x[n0+nl, c, oh*SH - PH + kh, ow*SW - PW + kw]  (0 outside)
 *
 * im2col:       2-D range (NP, CKK); work-item (j, r) writes col[r, j]
 *               (consecutive work-items write consecutive columns).
 * col2im:       1-D range over the chunk's NB*C*H*W input pixels; the
 *               work-item of pixel (nl, c, ih, iw) sums every col entry that
 *               read it (gather: deterministic, no atomics) and overwrites dx.
 * reorder_fwd:  1-D over NB*OC*P; y[n0+nl, oc, p] = ycol[oc, nl*P + p] (+ b[oc]).
 * reorder_bwd:  1-D over OC*NP;   dycol[oc, nl*P + p] = dy[n0+nl, oc, p].
 *
 * Indices are int: every buffer holds fewer than 2^31 floats.
 * Tunable: WG (work-group size along dimension 0, common.h). */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void im2col(__global float *col, __global const float *x, const int n0, const int nb,
            const int C, const int H, const int W, const int KH, const int KW, const int SH,
            const int SW, const int PH, const int PW, const int OH, const int OW)
{
    const int j = get_global_id(0);
    const int r = get_global_id(1);
    const int P = OH * OW;
    const int NP = nb * P;
    const int CKK = C * KH * KW;
    if (j >= NP || r >= CKK) return;
    const int nl = j / P;
    const int p = j - nl * P;
    const int oh = p / OW;
    const int ow = p - oh * OW;
    const int c = r / (KH * KW);
    const int k = r - c * (KH * KW);
    const int kh = k / KW;
    const int kw = k - kh * KW;
    const int ih = oh * SH - PH + kh;
    const int iw = ow * SW - PW + kw;
    float v = 0.0f;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W)
        v = x[((n0 + nl) * C + c) * (H * W) + ih * W + iw];
    col[r * NP + j] = v;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void col2im(__global float *dx, __global const float *col, const int n0, const int nb,
            const int C, const int H, const int W, const int KH, const int KW, const int SH,
            const int SW, const int PH, const int PW, const int OH, const int OW)
{
    const int i = get_global_id(0);
    const int HW = H * W;
    if (i >= nb * C * HW) return;
    const int nl = i / (C * HW);
    const int rem = i - nl * (C * HW);
    const int c = rem / HW;
    const int hw = rem - c * HW;
    const int ih = hw / W;
    const int iw = hw - ih * W;
    const int P = OH * OW;
    const int NP = nb * P;
    float s = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        const int th = ih + PH - kh;
        if (th < 0 || th % SH != 0) continue;
        const int oh = th / SH;
        if (oh >= OH) continue;
        for (int kw = 0; kw < KW; kw++) {
            const int tw = iw + PW - kw;
            if (tw < 0 || tw % SW != 0) continue;
            const int ow = tw / SW;
            if (ow >= OW) continue;
            const int r = (c * KH + kh) * KW + kw;
            s += col[r * NP + nl * P + oh * OW + ow];
        }
    }
    dx[n0 * C * HW + i] = s;
}

/* has_bias == 0: b is not read (the host passes any valid buffer). */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void reorder_fwd(__global float *y, __global const float *ycol, __global const float *b,
                 const int has_bias, const int n0, const int nb, const int OC, const int P)
{
    const int i = get_global_id(0);
    if (i >= nb * OC * P) return;
    const int nl = i / (OC * P);
    const int rem = i - nl * (OC * P);
    const int oc = rem / P;
    const int p = rem - oc * P;
    float v = ycol[oc * (nb * P) + nl * P + p];
    if (has_bias) v += b[oc];
    y[n0 * OC * P + i] = v;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void reorder_bwd(__global float *dycol, __global const float *dy, const int n0, const int nb,
                 const int OC, const int P)
{
    const int i = get_global_id(0);
    const int NP = nb * P;
    if (i >= OC * NP) return;
    const int oc = i / NP;
    const int j = i - oc * NP;
    const int nl = j / P;
    const int p = j - nl * P;
    dycol[i] = dy[((n0 + nl) * OC + oc) * P + p];
}
