/* Register-tiled SGEMM, row-major, no local memory (host side src/gemm_tiled.c):
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C    (beta == 0: C is not read)
 *   op(A)[m,k] = TA ? A[k*lda + m] : A[m*lda + k]
 *   op(B)[k,n] = TB ? B[n*ldb + k] : B[k*ldb + n]
 * off_a/off_b/off_c (in floats) are added to the buffer pointers.
 *
 * Work-item (i0, i1) = (get_global_id(0), get_global_id(1)) owns one MWI x NWI
 * tile of C; a work-group of WGN x WGM work-items owns (WGM*MWI) x (WGN*NWI):
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
 *      NV = NWI/VW vectors op(B)[k, n0+v*VW .. +VW) (one vloadVW each when
 *      TB == 0), accumulated into acc[MWI][NV] (floatVW).
 *  dot (NT, i.e. C = A B^T of weight gradients): rows of A and rows of B are
 *      both contiguous in k, so acc[MWI][NWI] (floatVW) holds VW-lane partial
 *      dot products over k, summed across lanes at the end.
 * k advances KU steps per unrolled block (KU*VW floats in the dot form); the
 * K tail runs step by step.
 * Edges: rows/columns past M/N are clamped to M-1/N-1 for loads (no branch in
 * the k loop) and skipped on store. Only an outer-product tile that crosses N
 * builds its op(B) vectors from clamped scalar loads (slower, edge only).
 * Indices are int: every buffer holds fewer than 2^31 floats. */

/* ---- layout (set by the host; not tunables) */
#ifndef TA
#define TA 0            /* 1: A is stored K x M (op(A) = A^T) */
#endif
#ifndef TB
#define TB 0            /* 1: B is stored N x K (op(B) = B^T) */
#endif

/* ---- tunables */
#ifndef MWI
#define MWI 4           /* rows of C per work-item */
#endif
#ifndef NWI
#define NWI 16          /* columns of C per work-item (outer form: multiple of VW) */
#endif
#ifndef VW
#define VW 8            /* vector width: along n (outer form) or k (dot form); 1,2,4,8,16 */
#endif
#ifndef KU
#define KU 2            /* unroll of the k loop (steps per block) */
#endif
#ifndef WGM
#define WGM 1           /* work-group size along M (dimension 1) */
#endif
#ifndef WGN
#define WGN 8           /* work-group size along N (dimension 0) */
#endif

/* ---- derived */
#define DOT_FORM (TB && !TA)
#define NV (NWI / VW)   /* vectors per row of the tile (outer form) */

#if VW == 1
#define floatV float
#define VLOAD(p) (*(p))
#define VSTORE(x, p) (*(p) = (x))
#elif VW == 2
#define floatV float2
#define VLOAD(p) vload2(0, (p))
#define VSTORE(x, p) vstore2((x), 0, (p))
#elif VW == 4
#define floatV float4
#define VLOAD(p) vload4(0, (p))
#define VSTORE(x, p) vstore4((x), 0, (p))
#elif VW == 8
#define floatV float8
#define VLOAD(p) vload8(0, (p))
#define VSTORE(x, p) vstore8((x), 0, (p))
#elif VW == 16
#define floatV float16
#define VLOAD(p) vload16(0, (p))
#define VSTORE(x, p) vstore16((x), 0, (p))
#else
#error "VW must be 1, 2, 4, 8 or 16"
#endif

#if MWI < 1 || NWI < 1 || KU < 1 || WGM < 1 || WGN < 1
#error "MWI, NWI, KU, WGM, WGN must be positive"
#endif
#if !DOT_FORM && (NWI % VW) != 0
#error "NWI must be a multiple of VW"
#endif

/* sum of the lanes of a floatV */
inline float vsum(floatV x)
{
    float t[VW];
    VSTORE(x, t);
    float s = 0.0f;
    for (int l = 0; l < VW; l++) s += t[l];
    return s;
}

/* C[m, n] = alpha*s + beta*C[m, n] (C not read when beta == 0) */
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
    return VLOAD(t);
}
#endif

__kernel __attribute__((reqd_work_group_size(WGN, WGM, 1)))
void gemm(const int M, const int N, const int K, const float alpha,
          __global const float *A, const int off_a, const int lda,
          __global const float *B, const int off_b, const int ldb, const float beta,
          __global float *C, const int off_c, const int ldc)
{
    const int n0 = get_global_id(0) * NWI;
    const int m0 = get_global_id(1) * MWI;
    if (m0 >= M || n0 >= N) return;
    A += off_a;
    B += off_b;
    C += off_c;

#if DOT_FORM
    /* ---------------- dot form: C = A B^T */
    __global const float *ar[MWI];
    __global const float *br[NWI];
    for (int i = 0; i < MWI; i++) ar[i] = A + min(m0 + i, M - 1) * lda;
    for (int j = 0; j < NWI; j++) br[j] = B + min(n0 + j, N - 1) * ldb;
    floatV acc[MWI][NWI];
    for (int i = 0; i < MWI; i++)
        for (int j = 0; j < NWI; j++) acc[i][j] = (floatV)(0.0f);
    int k = 0;
    for (; k + KU * VW <= K; k += KU * VW) {
        for (int u = 0; u < KU; u++) {
            floatV a[MWI], b[NWI];
            for (int i = 0; i < MWI; i++) a[i] = VLOAD(ar[i] + k + u * VW);
            for (int j = 0; j < NWI; j++) b[j] = VLOAD(br[j] + k + u * VW);
            for (int i = 0; i < MWI; i++)
                for (int j = 0; j < NWI; j++) acc[i][j] = mad(a[i], b[j], acc[i][j]);
        }
    }
    for (; k + VW <= K; k += VW) {
        floatV a[MWI], b[NWI];
        for (int i = 0; i < MWI; i++) a[i] = VLOAD(ar[i] + k);
        for (int j = 0; j < NWI; j++) b[j] = VLOAD(br[j] + k);
        for (int i = 0; i < MWI; i++)
            for (int j = 0; j < NWI; j++) acc[i][j] = mad(a[i], b[j], acc[i][j]);
    }
    float s[MWI][NWI];
    for (int i = 0; i < MWI; i++)
        for (int j = 0; j < NWI; j++) s[i][j] = vsum(acc[i][j]);
    for (; k < K; k++)
        for (int i = 0; i < MWI; i++)
            for (int j = 0; j < NWI; j++) s[i][j] = mad(ar[i][k], br[j][k], s[i][j]);
    for (int i = 0; i < MWI; i++) {
        if (m0 + i >= M) break;
        for (int j = 0; j < NWI; j++)
            if (n0 + j < N) put(C, (m0 + i) * ldc + n0 + j, s[i][j], alpha, beta);
    }
#else
    /* ---------------- outer-product form */
    /* op(A)[m0+i, k] = A[ao[i] + k*as] */
#if TA
    const int as = lda;
#define AO(i) min(m0 + (i), M - 1)
#else
    const int as = 1;
#define AO(i) (min(m0 + (i), M - 1) * lda)
#endif
    int ao[MWI];
    for (int i = 0; i < MWI; i++) ao[i] = AO(i);
    floatV acc[MWI][NV];
    for (int i = 0; i < MWI; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = (floatV)(0.0f);

/* one k step; LOADB(kk, v) gives the v-th vector of op(B) row kk */
#define OUTER_STEP(kk, LOADB)                                                   \
    {                                                                           \
        float a_[MWI];                                                          \
        floatV b_[NV];                                                          \
        for (int i = 0; i < MWI; i++) a_[i] = A[ao[i] + (kk) * as];             \
        for (int v = 0; v < NV; v++) b_[v] = LOADB((kk), v);                    \
        for (int i = 0; i < MWI; i++)                                           \
            for (int v = 0; v < NV; v++) acc[i][v] = mad((floatV)(a_[i]), b_[v], acc[i][v]); \
    }
#if TB
#define LOADB_FAST(kk, v) gather_b(B, (kk), n0 + (v) * VW, N, ldb)
#else
#define LOADB_FAST(kk, v) VLOAD(B + (kk) * ldb + n0 + (v) * VW)
#endif
#define LOADB_EDGE(kk, v) gather_b(B, (kk), n0 + (v) * VW, N, ldb)

    const int full_n = n0 + NWI <= N;
    int k = 0;
    if (full_n) {
        for (; k + KU <= K; k += KU)
            for (int u = 0; u < KU; u++) OUTER_STEP(k + u, LOADB_FAST)
        for (; k < K; k++) OUTER_STEP(k, LOADB_FAST)
    } else {
        for (; k < K; k++) OUTER_STEP(k, LOADB_EDGE)
    }
    for (int i = 0; i < MWI; i++) {
        const int m = m0 + i;
        if (m >= M) break;
        for (int v = 0; v < NV; v++) {
            const int n = n0 + v * VW;
            if (n + VW <= N) {
                __global float *c = C + m * ldc + n;
                floatV r = alpha * acc[i][v];
                if (beta != 0.0f) r = mad((floatV)(beta), VLOAD(c), r);
                VSTORE(r, c);
            } else {
                float t[VW];
                VSTORE(acc[i][v], t);
                for (int l = 0; l < VW && n + l < N; l++) put(C, m * ldc + n + l, t[l], alpha, beta);
            }
        }
    }
#endif
}
