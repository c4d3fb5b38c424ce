/* Register-tiled SGEMM, row-major, no local memory (host side src/gemm_tiled.c):
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C    (beta == 0: C is not read)
 *   op(A)[m,k] = TA ? A[k*lda + m] : A[m*lda + k]
 *   op(B)[k,n] = TB ? B[n*ldb + k] : B[k*ldb + n]
 *   PA = 1 (the host's XA): A holds op(A) packed by cl/pack.cl instead,
 *   op(A)[m,k] = A[(m/MWI)*K*MWI + k*MWI + m%MWI]
 *   PB = 1 (the host's XB 2): B holds op(B) packed by cl/pack.cl instead,
 *   op(B)[k,n] = B[(n/NWI)*K*NWI + k*NWI + n%NWI]
 *   LB = 1 (the host's XB 3): B as TB says, but before each k block the
 *   work-group copies its block of op(B) into local memory in the PB
 *   layout (stage_b), and the work-items read it there
 *   CP = P > 0 (outer form, beta 0): C is a conv's output (nb, M, P) at
 *   off_c instead of a row-major matrix, column n being pixel n % P of
 *   image n / P: C[n/P, m, n%P] = alpha * (op(A) op(B))[m, n] (+ bias[m]),
 *   then the conv epilogue epi (+ res at the same index, ReLU), as
 *   cl/im2col.cl's reorder_fwd computes it (host: src/ops/conv2d.c)
 *   CE = P > 0 (outer form, beta 0): C row-major (ldc) as usual, with the
 *   same epilogue, the bias by column group: C[m, n] = alpha * (op(A)
 *   op(B))[m, n] (+ bias[n / P]), + res[m*ldc + n], ReLU (a dense conv's
 *   output (N, OC*P), src/ops/conv2d_dense.c)
 * off_a/off_b/off_c (in floats) are added to the buffer pointers (off_c to
 * res as well).
 *
 * Work-item (i0, i1) = (get_global_id(0), get_global_id(1)) owns one MWI x NWI
 * tile of C (with MS = 1 the group part of (i0, i1) is renumbered so that
 * consecutive groups go down M); a work-group of WGN x WGM work-items owns
 * (WGM*MWI) x (WGN*NWI):
 *
 *                 n0 = i0*NWI
 *                 |<-- NWI -->|
 *        +--------+-----------+---- N
 *        |        |           |
 *   m0 = +--------#===========#
 *  i1*MWI|        # acc tile  #  MWI rows of C, read rows m0.. of op(A)
 *        +--------#===========#
 *        M         NWI columns of C, read columns n0.. of op(B)
 *
 * The inner loop over k has two forms, chosen at compile time by TA/TB:
 *  outer product (NN, TN, TT): per k, the MWI scalars op(A)[m0+i, k] times the
 *      NV = NWI/VW vectors op(B)[k, n0+v*VW .. +VW) (one vector load each
 *      when TB == 0), accumulated into acc_<i>_<v> (floatVW), i < MWI, v < NV.
 *  dot (NT, i.e. C = A B^T of weight gradients): rows of A and rows of B are
 *      both contiguous in k, so acc_<i>_<j> (floatVW), j < NWI, holds VW-lane
 *      partial dot products over k, summed across lanes at the end.
 * The k loop runs KU steps per iteration (KU*VW floats in the dot form); the
 * K tail runs step by step. With KB > 0 the k range is cut into blocks of KB
 * with a work-group barrier after each, so that drivers running the
 * work-items of a group one after another (PoCL) sweep the whole group over
 * one block at a time while it is in cache.
 * Edges: rows/columns past M/N are clamped to M-1/N-1 for loads (no branch in
 * the k loop) and skipped on store. An outer-product tile that crosses N is
 * moved left to end at N (its loads stay whole vectors; it stores only the
 * columns from n_own = i0*NWI on, the rest belong to its left neighbour);
 * only when N < NWI are its op(B) vectors built from clamped scalar loads.
 * The register tile is unrolled by the preprocessor (REP2/REP3 of cl/common.h) into
 * scalar variables acc_<i>_<v>: kernel compilers that wrap work-item loops
 * around the body (PoCL) do not unroll nested loops over private arrays and
 * would keep the accumulators in memory.
 * Indices are int: every buffer holds fewer than 2^31 floats. */

/* ---- layout (set by the host; not tunables) */
#ifndef TA
#define TA 0            /* 1: A is stored K x M (op(A) = A^T) */
#endif
#ifndef TB
#define TB 0            /* 1: B is stored N x K (op(B) = B^T) */
#endif
#ifndef PB
#define PB 0            /* 1 (outer form only): B is op(B) packed in panels of NWI
                           columns, zero-padded to a whole panel, panel q =
                           columns q*NWI.. at B[q*K*NWI + k*NWI + j] (cl/pack.cl),
                           so each work-item reads one contiguous stream of
                           whole vectors; TB is then ignored */
#endif
#ifndef LB
#define LB 0            /* 1 (outer form, KB > 0): before each k block the work-group
                           copies its block of op(B), KB x WGN*NWI, into local
                           memory as WGN panels [KB][NWI] (stage_b), and each
                           work-item reads its panel there; no host-side copy */
#endif
#ifndef BI
#define BI 0            /* P > 0 (outer form, not with PB, LB or TB): B holds op(B) as a
                           batch of images (n, K, P) read in place, column c = pixel
                           c % P of image c / P: op(B)[k, c] = B[(c/P)*K*P + k*P + c%P]
                           (a 1x1 stride-1 unpadded conv's input or output gradient);
                           the host keeps N a multiple of VW and P a multiple of VW
                           (each vector in one image) or at least VW (BO_INIT) */
#endif
#ifndef CP
#define CP 0            /* P > 0 (outer form only): C is stored as a conv's
                           (nb, M, P) output with its epilogue (above); the
                           kernel then takes the epilogue's arguments */
#endif
#ifndef CE
#define CE 0            /* P > 0 (outer form only, not with CP): C row-major
                           with the epilogue, bias per group of P columns */
#endif
#define CO (CP || CE)   /* the kernel takes the epilogue's arguments */
#ifndef BA
#define BA 0            /* 1: a batch of GEMMs of one shape, one per index of
                           dimension 2 (z): A, B and C start bsa, bsb, bsc
                           floats further per z (the kernel's last arguments) */
#endif
#ifndef PA
#define PA 0            /* 1 (outer form only): A is op(A) packed in panels of MWI
                           rows, panel p = rows p*MWI.. at A[p*K*MWI + k*MWI + i]
                           (cl/pack.cl), so each work-item reads one contiguous
                           stream; TA is then ignored */
#endif

/* ---- tunables */
/* defaults here are those of PoCL on AVX2; the host passes every value
 * (rcl_gemm_tiled_defaults, or the tune cache) */
#ifndef MWI
#define MWI 4           /* rows of C per work-item, 1..16 */
#endif
#ifndef NWI
#define NWI 16          /* columns of C per work-item (outer form: multiple of VW, NWI/VW <= 16;
                           dot form: <= 16) */
#endif
#ifndef VW
#define VW 8            /* vector width: along n (outer form) or k (dot form); 1,2,4,8,16 */
#endif
#ifndef KU
#define KU 2            /* k steps per loop iteration */
#endif
#ifndef KB
#define KB 128          /* k block between work-group barriers, 0: none. A kernel
                           compiler that runs work-items in a loop (PoCL) then
                           sweeps the whole work-group over one k block at a time,
                           so the block of op(A)/op(B) stays in cache (dot form:
                           a multiple of VW) */
#endif
#ifndef WGM
#define WGM 4           /* work-group size along M (dimension 1) */
#endif
#ifndef WGN
#define WGN 4           /* work-group size along N (dimension 0) */
#endif
#ifndef MS
#define MS 1            /* order of the work-groups: 0 along N first (group
                           (g0, g1) -> columns g0, rows g1), 1 along M first
                           (the linear group id walks down M, so consecutive
                           groups, run back to back or side by side, share
                           one panel of op(B) in cache) */
#endif

/* ---- derived */
#define DOT_FORM (TB && !TA && !LB) /* LB stages op(B) whatever TB is */
/* NV = NWI / VW: vectors per row of the tile (outer form), as a literal for REP3 */
#if NWI / VW == 1
#define NV 1
#elif NWI / VW == 2
#define NV 2
#elif NWI / VW == 3
#define NV 3
#elif NWI / VW == 4
#define NV 4
#elif NWI / VW == 5
#define NV 5
#elif NWI / VW == 6
#define NV 6
#elif NWI / VW == 7
#define NV 7
#elif NWI / VW == 8
#define NV 8
#elif NWI / VW == 9
#define NV 9
#elif NWI / VW == 10
#define NV 10
#elif NWI / VW == 11
#define NV 11
#elif NWI / VW == 12
#define NV 12
#elif NWI / VW == 13
#define NV 13
#elif NWI / VW == 14
#define NV 14
#elif NWI / VW == 15
#define NV 15
#elif NWI / VW == 16
#define NV 16
#else
#define NV 0
#endif

/* intV, LANES: the select mask type of floatV and its lane numbers (BI) */
#if VW == 1
#define floatV float
#define intV int
#define LANES 0
#define VLOAD(p) (*(p))
#define VSTORE(x, p) (*(p) = (x))
#elif VW == 2
#define floatV float2
#define intV int2
#define LANES ((int2)(0, 1))
#define VSTORE(x, p) vstore2((x), 0, (p))
#elif VW == 4
#define floatV float4
#define intV int4
#define LANES ((int4)(0, 1, 2, 3))
#define VSTORE(x, p) vstore4((x), 0, (p))
#elif VW == 8
#define floatV float8
#define intV int8
#define LANES ((int8)(0, 1, 2, 3, 4, 5, 6, 7))
#define VSTORE(x, p) vstore8((x), 0, (p))
#elif VW == 16
#define floatV float16
#define intV int16
#define LANES ((int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#define VSTORE(x, p) vstore16((x), 0, (p))
#else
#error "VW must be 1, 2, 4, 8 or 16"
#endif
#if VW > 1
/* unaligned vector loads: a typedef may lower the alignment, and compilers
 * emit one unaligned vector load for it (vloadn is assembled from pieces by
 * some, e.g. PoCL) */
typedef floatV floatV_u __attribute__((aligned(4)));
#define VLOAD(p) (*(const __global floatV_u *)(p))
#define VLOADP(p) (*(const floatV_u *)(p))
/* aligned: lb is a floatV array, its rows NWI floats */
#define VLOADL(p) (*(const __local floatV *)(p))
#else
#define VLOADP(p) (*(p))
#define VLOADL(p) (*(p))
#endif

#if MWI < 1 || MWI > 16 || NWI < 1 || KU < 1 || WGM < 1 || WGN < 1 || (MS != 0 && MS != 1)
#error "need 1 <= MWI <= 16, positive NWI, KU, WGM, WGN and MS 0 or 1"
#endif
#if KB < 0 || (DOT_FORM && KB % VW != 0)
#error "KB must be 0 or positive (dot form: a multiple of VW)"
#endif
#if DOT_FORM && (PA || PB || LB || CO)
#error "PA, PB, LB, CP, CE: outer form only"
#endif
#if BI && (DOT_FORM || PB || LB || TB || (BI % VW != 0 && BI < VW))
#error "BI: outer form, B not packed, staged or transposed, P a multiple of VW or at least VW"
#endif
#if CP && CE
#error "CP or CE, not both"
#endif
#if LB && (PB || KB == 0)
#error "LB: with k blocks (KB > 0), not with PB"
#endif
#if DOT_FORM && NWI > 16
#error "dot form: NWI <= 16"
#endif
#if !DOT_FORM && ((NWI % VW) != 0 || NV < 1)
#error "outer form: NWI must be a multiple of VW, NWI/VW <= 16"
#endif

/* fused multiply-add (mad() is split into mul + add by some compilers) */
#define FMA(a, b, c) fma((a), (b), (c))

/* REP2 and REP3 (cl/common.h): two nesting families of X(0, a) .. X(n-1, a) */

/* sum of the lanes of a floatV */
inline float vsum(floatV x)
{
    float t[VW];
    VSTORE(x, t);
    float s = 0.0f;
    for (int l = 0; l < VW; l++) s += t[l];
    return s;
}

/* C[idx] = alpha*s + beta*C[idx] (C not read when beta == 0) */
inline void put(__global float *C, const int idx, const float s, const float alpha,
                const float beta)
{
    C[idx] = beta == 0.0f ? alpha * s : alpha * s + beta * C[idx];
}

#if !DOT_FORM
/* op(B)[k, n .. n+VW) with columns clamped to N-1 (edge tiles; TT) */
inline floatV gather_b(__global const float *B, const int k, const int n, const int N,
                       const int ldb)
{
    float t[VW];
    for (int l = 0; l < VW; l++) {
        const int c = min(n + l, N - 1);
        t[l] = TB ? B[c * ldb + k] : B[k * ldb + c];
    }
    return VLOADP(t);
}

/* C[m, n .. n+VW) from one accumulator vector, skipping m >= M and columns
 * outside [n_lo, N) */
inline void put_vec(__global float *C, const int m, const int n, const int n_lo, const int M,
                    const int N, const int ldc, const floatV acc, const float alpha,
                    const float beta)
{
    if (m >= M) return;
    __global float *c = C + m * ldc + n;
    if (n >= n_lo && n + VW <= N) {
        floatV r = alpha * acc;
        if (beta != 0.0f) r = FMA((floatV)(beta), VLOAD(c), r);
        VSTORE(r, c);
    } else {
        float t[VW];
        VSTORE(acc, t);
        for (int l = 0; l < VW && n + l < N; l++)
            if (n + l >= n_lo) put(C, m * ldc + n + l, t[l], alpha, beta);
    }
}

#if CO
#if CP /* where column c of row m goes; whether columns n .. n+VW are one run */
#define CO_IDX(m, c) ((c) / CP * M * CP + (m) * CP + (c) % CP)
#define CO_RUN(n) ((n) % CP + VW <= CP)
#define CO_BIAS(m, c) bias[m]
#else
#define CO_IDX(m, c) ((m) * ldc + (c))
#define CO_RUN(n) 1
#define CO_BIAS(m, c) bias[(c) / CE]
#endif

/* put_vec's columns n .. n+VW of row m, stored at their places (CP, CE)
 * with bias and epilogue (beta is 0). A whole vector in one run of C is
 * one vector load of res and one store. */
inline void put_vec_co(__global float *C, const int m, const int n, const int n_lo, const int M,
                       const int N, const int ldc, const floatV acc, const float alpha,
                       __global const float *bias, const int has_bias,
                       __global const float *res, const int epi)
{
    if (m >= M) return;
    if (CO_RUN(n) && n >= n_lo && n + VW <= N) {
        const int o = CO_IDX(m, n);
        floatV r = alpha * acc;
        if (has_bias) {
#if CP
            r += (floatV)(bias[m]);
#else
            float t[VW];
            for (int l = 0; l < VW; l++) t[l] = bias[(n + l) / CE];
            r += VLOADP(t);
#endif
        }
        if (epi & 1) r += VLOAD(res + o);
        if (epi & 2) r = select(r, (floatV)(0.0f), r < (floatV)(0.0f)); /* NaN, -0 kept */
        VSTORE(r, C + o);
    } else {
        float t[VW];
        VSTORE(acc, t);
        for (int l = 0; l < VW && n + l < N; l++) {
            if (n + l < n_lo) continue;
            const int c = n + l, o = CO_IDX(m, c);
            const float s = alpha * t[l];
            C[o] = conv_epi(has_bias ? s + CO_BIAS(m, c) : s, res + o, epi);
        }
    }
}
#endif
#endif

#if LB
/* The work-group's block of op(B), rows kb .. kb+KB, columns ng0 ..
 * ng0+WGN*NWI (clamped to N-1; zeros past K), into lb as WGN panels:
 * lb[(w*KB + kk)*NWI + j] = op(B)[kb + kk, ng0 + w*NWI + j].
 * TB == 0: work-item lid copies rows kk = lid, lid + WGN*WGM, ... as whole
 * vectors (scalars where the group's columns cross N);
 * TB == 1: it copies columns c = lid, lid + WGN*WGM, ..., each a
 * contiguous run of B, scattered into its panel. */
inline void stage_b(__local float *lb, __global const float *B, const int kb, const int K,
                    const int N, const int ldb, const int ng0, const int lid)
{
#if TB
    for (int c = lid; c < WGN * NWI; c += WGN * WGM) {
        __global const float *src = B + min(ng0 + c, N - 1) * ldb;
        __local float *dst = lb + (c / NWI) * KB * NWI + c % NWI;
        const int kn = min(KB, K - kb);
        for (int kk = 0; kk < kn; kk++) dst[kk * NWI] = src[kb + kk];
        for (int kk = kn; kk < KB; kk++) dst[kk * NWI] = 0.0f;
    }
#else
    const int whole = ng0 + WGN * NWI <= N;
    for (int kk = lid; kk < KB; kk += WGN * WGM) {
        const int kg = kb + kk;
        __global const float *src = B + min(kg, K - 1) * ldb;
        for (int w = 0; w < WGN; w++) {
            __local float *dst = lb + (w * KB + kk) * NWI;
            if (kg >= K) {
                for (int j = 0; j < NWI; j++) dst[j] = 0.0f;
            } else if (whole) {
                for (int v = 0; v < NWI / VW; v++)
                    *(__local floatV *)(dst + v * VW) = VLOAD(src + ng0 + w * NWI + v * VW);
            } else {
                for (int j = 0; j < NWI; j++) dst[j] = src[min(ng0 + w * NWI + j, N - 1)];
            }
        }
    }
#endif
}
#endif

/* ---- outer-product form: acc_<i>_<v> += op(A)[m0+i, k] * op(B)[k, n0+v*VW ..) */
#if PA
#define A_AT(i, kk) A[ap + (kk) * MWI + (i)]         /* ap = clamped panel start */
#define AO_INIT(i, _)
#elif TA
#define A_AT(i, kk) A[ao_##i + (kk) * lda]           /* ao_i = clamped m */
#define AO_INIT(i, _) const int ao_##i = min(m0 + (i), M - 1);
#else
#define A_AT(i, kk) A[ao_##i + (kk)]                 /* ao_i = clamped m * lda */
#define AO_INIT(i, _) const int ao_##i = min(m0 + (i), M - 1) * lda;
#endif
#if LB
#define B_FAST(v, kk) VLOADL(lbw + ((kk) - kb) * NWI + (v) * VW) /* this work-item's panel */
#elif PB
#define B_FAST(v, kk) VLOAD(B + bp + (kk) * NWI + (v) * VW) /* bp = clamped panel start */
#elif BI
#define B_FAST(v, kk) VLOAD(B + bo_##v + (kk) * BI)        /* bo_v: BO_INIT */
#elif TB
#define B_FAST(v, kk) gather_b(B, (kk), n0 + (v) * VW, N, ldb)
#else
#define B_FAST(v, kk) VLOAD(B + (kk) * ldb + n0 + (v) * VW)
#endif
#if BI
/* BI: vector v's first column, clamped to end by N (a vector past N loads
 * the last one again; its columns are not stored); bo_v where it starts in
 * B. Where P is not a multiple of VW, a vector may run past its image's
 * last pixel into the next image (P >= VW: at most two): then its lanes
 * l >= br_v (the pixels left in its image) come from the load at bq_v, the
 * next image's row shifted by br_v, blended by the mask bm_v, and the tile
 * takes the edge loop (full_n 0). Both loads stay inside B: the first runs
 * on into the next row of its image, the second starts in the row before */
#define BO_COL(v) min(n0 + (v) * VW, N - VW)
#define BO_INIT(v, _)                                                           \
    const int bi_##v = BO_COL(v) / BI, bx_##v = BO_COL(v) % BI;                 \
    const int bo_##v = bi_##v * K * BI + bx_##v, br_##v = BI - bx_##v;          \
    const int bq_##v = br_##v < VW ? (bi_##v + 1) * K * BI - br_##v : bo_##v;   \
    const intV bm_##v = LANES >= (intV)(br_##v);                                \
    full_n = full_n && br_##v >= VW;
#define B_EDGE(v, kk) select(VLOAD(B + bo_##v + (kk) * BI), VLOAD(B + bq_##v + (kk) * BI), bm_##v)
#else
#define B_EDGE(v, kk) gather_b(B, (kk), n0 + (v) * VW, N, ldb)
#endif

#define O_ACC_CELL(v, i) floatV acc_##i##_##v = (floatV)(0.0f);
#define O_ACC_ROW(i, _) REP3(NV, O_ACC_CELL, i)
#define O_LOAD_A(i, kk) const float a_##i = A_AT(i, kk);
#define O_LOAD_B_FAST(v, kk) const floatV b_##v = B_FAST(v, kk);
#define O_LOAD_B_EDGE(v, kk) const floatV b_##v = B_EDGE(v, kk);
#define O_FMA_CELL(v, i) acc_##i##_##v = FMA((floatV)(a_##i), b_##v, acc_##i##_##v);
#define O_FMA_ROW(i, _) REP3(NV, O_FMA_CELL, i)
#define O_STEP(kk, LOAD_B)                                                      \
    {                                                                           \
        REP2(MWI, O_LOAD_A, kk)                                                 \
        REP3(NV, LOAD_B, kk)                                                    \
        REP2(MWI, O_FMA_ROW, _)                                                 \
    }
#if CO
#define O_PUT_CELL(v, i) put_vec_co(C, m0 + (i), n0 + (v) * VW, n_own, M, N, ldc, acc_##i##_##v, alpha, bias, has_bias, res, epi);
#else
#define O_PUT_CELL(v, i) put_vec(C, m0 + (i), n0 + (v) * VW, n_own, M, N, ldc, acc_##i##_##v, alpha, beta);
#endif
#define O_PUT_ROW(i, _) REP3(NV, O_PUT_CELL, i)

/* ---- dot form: acc_<i>_<j> += A[m0+i, k .. k+VW) * B[n0+j, k .. k+VW) */
#define D_ROWA(i, _) __global const float *ar_##i = A + min(m0 + (i), M - 1) * lda;
#define D_ROWB(j, _) __global const float *br_##j = B + min(n0 + (j), N - 1) * ldb;
#define D_ACC_CELL(j, i) floatV acc_##i##_##j = (floatV)(0.0f);
#define D_ACC_ROW(i, _) REP3(NWI, D_ACC_CELL, i)
#define D_LOAD_A(i, kk) const floatV a_##i = VLOAD(ar_##i + (kk));
#define D_LOAD_B(j, kk) const floatV b_##j = VLOAD(br_##j + (kk));
#define D_FMA_CELL(j, i) acc_##i##_##j = FMA(a_##i, b_##j, acc_##i##_##j);
#define D_FMA_ROW(i, _) REP3(NWI, D_FMA_CELL, i)
#define D_STEP(kk)                                                              \
    {                                                                           \
        REP2(MWI, D_LOAD_A, kk)                                                 \
        REP3(NWI, D_LOAD_B, kk)                                                 \
        REP2(MWI, D_FMA_ROW, _)                                                 \
    }
#define D_SUM_CELL(j, i) float s_##i##_##j = vsum(acc_##i##_##j);
#define D_SUM_ROW(i, _) REP3(NWI, D_SUM_CELL, i)
#define D_TAIL_CELL(j, i) s_##i##_##j = FMA(ar_##i[k], br_##j[k], s_##i##_##j);
#define D_TAIL_ROW(i, _) REP3(NWI, D_TAIL_CELL, i)
#define D_PUT_CELL(j, i)                                                        \
    if (m0 + (i) < M && n0 + (j) < N) put(C, (m0 + (i)) * ldc + n0 + (j), s_##i##_##j, alpha, beta);
#define D_PUT_ROW(i, _) REP3(NWI, D_PUT_CELL, i)

__kernel __attribute__((reqd_work_group_size(WGN, WGM, 1)))
void gemm(const int M, const int N, const int K, const float alpha,
          __global const float *A, const int off_a, const int lda,
          __global const float *B, const int off_b, const int ldb, const float beta,
          __global float *C, const int off_c, const int ldc
#if CO
          , __global const float *bias, const int has_bias, __global const float *res,
          const int epi
#endif
#if BA
          , const int bsa, const int bsb, const int bsc
#endif
          )
{
#if MS
    /* consecutive work-groups walk down M, sharing one op(B) panel */
    const int lin = get_group_id(0) + get_group_id(1) * get_num_groups(0);
    const int gm = lin % get_num_groups(1), gn = lin / get_num_groups(1);
    const int n_own = (gn * WGN + get_local_id(0)) * NWI;
    const int m0 = (gm * WGM + get_local_id(1)) * MWI;
#else
    const int n_own = get_global_id(0) * NWI; /* first column this work-item stores */
    const int m0 = get_global_id(1) * MWI;
#endif
#if KB == 0
    if (m0 >= M || n_own >= N) return;
#endif
#if DOT_FORM || PB || LB || BI
    const int n0 = n_own; /* dot form: no vectors along n; PB/LB: panels are whole;
                             BI: each vector placed by BO_INIT */
#else
    /* a tile crossing N is moved left to end at N, so that all its op(B)
     * loads are whole vectors; it then stores only its own columns n_own.. */
    const int n0 = N >= NWI && n_own + NWI > N ? N - NWI : n_own;
#endif
    /* with barriers every work-item runs the loops (loads are clamped) and
     * only the stores are skipped */
    A += off_a;
    B += off_b;
    C += off_c;
#if CO
    res += off_c;
#endif
#if BA
    A += (int)get_global_id(2) * bsa;
    B += (int)get_global_id(2) * bsb;
    C += (int)get_global_id(2) * bsc;
#endif
    int k = 0;
#if DOT_FORM
    REP2(MWI, D_ROWA, _)
    REP3(NWI, D_ROWB, _)
    REP2(MWI, D_ACC_ROW, _)
#define D_BLOCK(kend)                                                           \
    for (; k + KU * VW <= (kend); k += KU * VW) {                               \
        for (int u = 0; u < KU; u++) D_STEP(k + u * VW)       \
    }                                                                           \
    for (; k + VW <= (kend); k += VW) D_STEP(k)
#if KB > 0
    for (int kb = 0; kb < K; kb += KB) {
        k = kb;
        D_BLOCK(min(kb + KB, K))
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#else
    D_BLOCK(K)
#endif
    /* k: first column not covered by whole vectors */
    REP2(MWI, D_SUM_ROW, _)
    for (; k < K; k++) {
        REP2(MWI, D_TAIL_ROW, _)
    }
    REP2(MWI, D_PUT_ROW, _)
#else
#if PA
    const int ap = min(m0, M - 1) / MWI * K * MWI;
#endif
#if PB
    const int bp = min(n0, N - 1) / NWI * K * NWI;
    const int full_n = 1;
#elif BI
    int full_n = 1; /* 0: a vector of the tile crosses images (BO_INIT) */
    REP3(NV, BO_INIT, _)
#elif LB
    /* declared as vectors: a __local float array is only float-aligned, and
     * the panels are read and written as whole floatV (a misaligned vector
     * access to local memory faults on NVIDIA's driver) */
    __local floatV lb_v[KB * WGN * NWI / VW];
    __local float *lb = (__local float *)lb_v;
    __local const float *lbw = lb + get_local_id(0) * KB * NWI;
    const int ng0 = n_own - (int)get_local_id(0) * NWI;
    const int lid = get_local_id(1) * WGN + get_local_id(0);
    const int full_n = 1;
#else
    const int full_n = n0 + NWI <= N; /* 0 only when N < NWI */
#endif
    REP2(MWI, AO_INIT, _)
    REP2(MWI, O_ACC_ROW, _)
#define O_BLOCK(kend)                                                           \
    if (full_n) {                                                               \
        for (; k + KU <= (kend); k += KU) {                                     \
            for (int u = 0; u < KU; u++) O_STEP(k + u, O_LOAD_B_FAST) \
        }                                                                       \
        for (; k < (kend); k++) O_STEP(k, O_LOAD_B_FAST)                        \
    } else {                                                                    \
        for (; k < (kend); k++) O_STEP(k, O_LOAD_B_EDGE)                        \
    }
#if KB > 0
    for (int kb = 0; kb < K; kb += KB) {
        k = kb;
#if LB
        stage_b(lb, B, kb, K, N, ldb, ng0, lid);
        barrier(CLK_LOCAL_MEM_FENCE);
#endif
        O_BLOCK(min(kb + KB, K))
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#else
    O_BLOCK(K)
#endif
    REP2(MWI, O_PUT_ROW, _)
#endif
}
