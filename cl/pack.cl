/* Panel packing of op(A) for the tiled GEMM's PA form (host side src/pack.c):
 *   out[p*K*R + k*R + i] = op(A)[p*R + i, k]      p < ceil(M/R), i < R, k < K
 *   op(A)[m, k] = TRANS ? in[off + k*ld + m] : in[off + m*ld + k]
 * rows m >= M are written as zeros. Panel p is then one contiguous stream of
 * K groups of R floats, read front to back by the GEMM work-items of rows
 * p*R .. p*R+R-1:
 *
 *   op(A), M x K                    out
 *   +--------------------+          +---------+---------+-----
 *   |   panel p: R rows  |  ---->   | panel 0 | panel 1 | ...
 *   +--------------------+          +---------+---------+-----
 *                                   panel p = [k=0: R floats][k=1: R floats]...
 *
 * Work-item (i0, i1) = (get_global_id(0), get_global_id(1)) moves the R x KC
 * block of panel i1 at k0 = i0*KC (a block crossing K or M takes the
 * bounds-checked loop). */

/* ---- layout (set by the host; not tunables) */
#ifndef TRANS
#define TRANS 0         /* 1: in is stored K x M */
#endif
#ifndef R
#define R 4             /* rows per panel (the GEMM's MWI, or NWI when packing op(B)), 1..256 */
#endif

/* ---- tunable */
#ifndef KC
#error "KC (k columns per work-item, 1..64) is passed by the host: src/runtime/tunables.def"
#endif

#if R < 1 || R > 256 || KC < 1 || KC > 64
#error "need 1 <= R <= 256 and 1 <= KC <= 64"
#endif

#if TRANS
#define IN_AT(m, k) in[(k) * ld + (m)]
#else
#define IN_AT(m, k) in[(m) * ld + (k)]
#endif

__kernel void pack_panels(__global float *out, __global const float *in, const int off,
                          const int ld, const int M, const int K)
{
    const int k0 = get_global_id(0) * KC, p = get_global_id(1), m0 = p * R;
    if (k0 >= K || m0 >= M) return;
    in += off;
    __global float *o = out + (p * K + k0) * R;
    if (m0 + R <= M && k0 + KC <= K) {
        for (int kk = 0; kk < KC; kk++)
            for (int i = 0; i < R; i++) o[kk * R + i] = IN_AT(m0 + i, k0 + kk);
        return;
    }
    const int nk = min(KC, K - k0);
    for (int kk = 0; kk < nk; kk++)
        for (int i = 0; i < R; i++) o[kk * R + i] = m0 + i < M ? IN_AT(m0 + i, k0 + kk) : 0.0f;
}
