/* GEMM: our register-tiled kernel (default and non-default parameters),
 * CLBlast (database and overridden parameters) and the dispatcher against a
 * double-precision reference, over odd shapes, offsets, ld > cols, all four
 * transpose combinations and alpha/beta; elements of C outside the matrix
 * must stay untouched. */
#include "gemm/gemm_internal.h"
#include "tools/gemm_tools.h"
#include "runtime/internal.h"
#include "harness.h"
#include "ref/ref_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gcase {
    int M, N, K;
    int off_a, off_b, off_c;  /* floats before each matrix */
    int pad;                  /* ld = cols + pad */
    float alpha, beta;
} gcase;

static const gcase CASES[] = {
    {1, 1, 1, 0, 0, 0, 0, 1.0f, 0.0f},
    {7, 33, 127, 3, 5, 1, 2, 1.0f, 0.0f},
    {33, 7, 1, 0, 1, 7, 0, 0.5f, -1.5f},
    {127, 1, 7, 2, 0, 0, 3, -1.0f, 1.0f},
    {1, 127, 33, 1, 1, 1, 1, 1.0f, 1.0f},
    {37, 61, 9, 0, 0, 5, 0, 2.0f, 0.25f},
    {16, 64, 40, 0, 0, 0, 0, 1.0f, 0.0f},
    {64, 100, 147, 4, 0, 9, 0, 1.0f, 0.0f},
    {130, 70, 300, 0, 3, 0, 5, 0.75f, 0.5f},
};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

typedef enum { VIA_PATH, VIA_DISPATCH } via_t;

static cl_mem make_buf(const float *h, size_t n)
{
    cl_mem b;
    T_OK(rcl_buffer_create(T_CTX, &b, n * sizeof(float)));
    cl_int e = clEnqueueWriteBuffer(rcl_ctx_queue(T_CTX), b, CL_TRUE, 0, n * sizeof(float), h, 0,
                                    NULL, NULL);
    assert_int_equal(e, CL_SUCCESS);
    return b;
}

/* One case; returns 1 if C matches the reference (and is untouched outside). */
static int run_case(const gcase *c, int ta, int tb, via_t via, rcl_gemm_path path,
                    const rcl_gemm_tiled_params *p, int nan_c, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    int ar = ta ? c->K : c->M, ac = ta ? c->M : c->K;
    int br = tb ? c->N : c->K, bc = tb ? c->K : c->N;
    int lda = ac + c->pad, ldb = bc + c->pad, ldc = c->N + c->pad;
    size_t na = (size_t)c->off_a + (size_t)ar * lda, nb = (size_t)c->off_b + (size_t)br * ldb;
    size_t nc = (size_t)c->off_c + (size_t)c->M * ldc;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    tu_fill(&r, A, na, -1, 1);
    tu_fill(&r, B, nb, -1, 1);
    tu_fill(&r, C, nc, -1, 1);
    if (nan_c)
        for (size_t i = 0; i < nc; i++) C[i] = NAN;
    double *Ad = tu_f2d(A, na), *Bd = tu_f2d(B, nb), *Cd = tu_f2d(C, nc);
    ref_gemm(ta, tb, c->M, c->N, c->K, c->alpha, Ad + c->off_a, lda, Bd + c->off_b, ldb, c->beta,
             Cd + c->off_c, ldc);
    cl_mem a = make_buf(A, na), b = make_buf(B, nb), cm = make_buf(C, nc);
    if (via == VIA_DISPATCH)
        T_OK(rcl_gemm(T_CTX, ta, tb, c->M, c->N, c->K, c->alpha, a, c->off_a, lda, b, c->off_b,
                      ldb, c->beta, cm, c->off_c, ldc, "test"));
    else
        T_OK(rcl_gemm_with(T_CTX, path, p, ta, tb, c->M, c->N, c->K, c->alpha, a, c->off_a, lda,
                           b, c->off_b, ldb, c->beta, cm, c->off_c, ldc, "test"));
    float *got = malloc(nc * sizeof *got);
    cl_int e = clEnqueueReadBuffer(rcl_ctx_queue(T_CTX), cm, CL_TRUE, 0, nc * sizeof(float), got,
                                   0, NULL, NULL);
    assert_int_equal(e, CL_SUCCESS);
    char what[160];
    snprintf(what, sizeof what, "gemm %c%c M=%d N=%d K=%d off %d/%d/%d pad %d a=%g b=%g",
             ta ? 'T' : 'N', tb ? 'T' : 'N', c->M, c->N, c->K, c->off_a, c->off_b, c->off_c,
             c->pad, c->alpha, c->beta);
    /* products of [-1,1] values: rounding grows with K */
    int ok = tu_close_f(what, got, Cd, nc, 1e-4, 2e-6 * c->K + 1e-6);
    rcl_buffer_release(&a);
    rcl_buffer_release(&b);
    rcl_buffer_release(&cm);
    free(A), free(B), free(C), free(Ad), free(Bd), free(Cd), free(got);
    return ok;
}

/* every case in every transposition; p: tiled parameters (NULL: defaults) */
static int run_all(via_t via, rcl_gemm_path path, const rcl_gemm_tiled_params *p)
{
    int bad = 0;
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < NCASES; i++)
            bad += !run_case(&CASES[i], t >> 1, t & 1, via, path, p, 0, (uint64_t)(100 * t + i));
    return bad;
}

/* every case in transposition t (trans_a = t >> 1, trans_b = t & 1) through
 * our kernel with p, which must be valid there; case i uses seed + i */
static int run_kind(const rcl_gemm_tiled_params *p, int t, int nan_c, uint64_t seed)
{
    assert_true(rcl_gemm_tiled_valid(p, t >> 1, t & 1));
    int bad = 0;
    for (int i = 0; i < NCASES; i++)
        bad += !run_case(&CASES[i], t >> 1, t & 1, VIA_PATH, RCL_GEMM_TILED, p, nan_c,
                         seed + (uint64_t)i);
    return bad;
}

static void test_tiled_default(void **state)
{
    (void)state;
    assert_int_equal(run_all(VIA_PATH, RCL_GEMM_TILED, NULL), 0);
}

/* non-default sets: scalar 1x1, odd tiles, k blocks that do not divide K,
 * 2-D work-groups, 2/4/16-wide vectors, both work-group orders (MS);
 * separate lists for the outer-product form (NN, TN, TT) and the dot form
 * (NT), kept small in registers so that drivers that vectorize across
 * work-items (llvmpipe) compile them quickly.
 * Few use k blocks: barriers are slow on llvmpipe (PSETS_*[2], PSETS_DOT[3]
 * and test_tiled_xb3 cover them). */
static const rcl_gemm_tiled_params PSETS_OUTER[] = {
    {.mwi = 1, .nwi = 1, .vw = 1, .ku = 1, .kb = 0, .wgm = 1, .wgn = 1},
    {.mwi = 3, .nwi = 8, .vw = 4, .ku = 3, .kb = 0, .wgm = 2, .wgn = 4, .ms = 1},
    {.mwi = 2, .nwi = 6, .vw = 2, .ku = 4, .kb = 6, .wgm = 4, .wgn = 2},
    {.mwi = 1, .nwi = 16, .vw = 16, .ku = 1, .kb = 0, .wgm = 1, .wgn = 2, .ms = 1},
};
static const rcl_gemm_tiled_params PSETS_DOT[] = {
    {.mwi = 1, .nwi = 1, .vw = 1, .ku = 1, .kb = 0, .wgm = 1, .wgn = 1},
    {.mwi = 3, .nwi = 2, .vw = 4, .ku = 3, .kb = 0, .wgm = 2, .wgn = 4, .ms = 1},
    {.mwi = 2, .nwi = 3, .vw = 2, .ku = 4, .kb = 6, .wgm = 4, .wgn = 2},
    {.mwi = 1, .nwi = 2, .vw = 16, .ku = 1, .kb = 32, .wgm = 1, .wgn = 2, .ms = 1},
};
#define NPSETS ((int)(sizeof PSETS_OUTER / sizeof PSETS_OUTER[0]))

static void test_tiled_params(void **state)
{
    (void)state;
    int bad = 0;
    for (int s = 0; s < NPSETS; s++)
        for (int t = 0; t < 4; t++) {
            const rcl_gemm_tiled_params *p = t == 1 ? &PSETS_DOT[s] : &PSETS_OUTER[s];
            assert_true(rcl_gemm_tiled_valid(p, t >> 1, t & 1));
            /* the covering subset (tu_sweep_all): kinds s and s ^ 3 of set s,
             * so each set runs twice, each kind twice, the dot form (NT)
             * with and without k blocks, the outer form with them (TN) */
            if (!tu_sweep_all() && t != s && t != (s ^ 3)) continue;
            bad += run_kind(p, t, 0, (uint64_t)(100 * t));
        }
    assert_int_equal(bad, 0);
    /* the defaults of both device styles are valid */
    for (int t = 0; t < 4; t++)
        for (int w = 1; w <= 16; w *= 2) {
            rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(w, t >> 1, t & 1);
            assert_true(rcl_gemm_tiled_valid(&d, t >> 1, t & 1));
        }
}

/* XB: op(B) = B^T transposed into scratch first, then the outer form (NT
 * becomes NN, TT becomes TN); odd blocks of the transpose (TS 3 and 8)
 * against the double reference, all cases */
static void test_tiled_xb(void **state)
{
    (void)state;
    int bad = 0;
    for (int s = 1; s < 3; s++) {
        rcl_gemm_tiled_params p = PSETS_OUTER[s];
        p.xb = 1;
        assert_false(rcl_gemm_tiled_valid(&p, 0, 0)); /* XB needs op(B) = B^T */
        assert_false(rcl_gemm_tiled_valid(&p, 1, 0));
        T_OK(rcl_ctx_set_param(T_CTX, "transpose", "TS", s == 1 ? 3 : 8));
        for (int t = 1; t < 4; t += 2) {
            if (!tu_sweep_all() && (t == 1) != (s == 1)) continue; /* NT on set 1, TT on 2 */
            bad += run_kind(&p, t, s == 2, (uint64_t)(500 + 100 * t));
        }
    }
    T_OK(rcl_ctx_set_param(T_CTX, "transpose", "TS", 8));
    assert_int_equal(bad, 0);
}

/* rcl_transpose against the plain loop: odd shapes, offset, ld > cols,
 * several block edges; nothing past rows*cols is written */
static void test_transpose(void **state)
{
    (void)state;
    /* rows, cols, off, ld */
    static const int SH[][4] = {
        {1, 1, 0, 1}, {7, 33, 3, 35}, {33, 7, 0, 7}, {100, 288, 5, 300}, {17, 64, 1, 64}};
    static const int TS[] = {1, 3, 8, 16};
    tu_rng r = tu_rng_seed(42);
    int bad = 0;
    for (int s = 0; s < (int)(sizeof SH / sizeof SH[0]); s++)
        for (int j = 0; j < (int)(sizeof TS / sizeof TS[0]); j++) {
            int rows = SH[s][0], cols = SH[s][1], off = SH[s][2], ld = SH[s][3];
            size_t nin = (size_t)off + (size_t)rows * ld, nout = (size_t)rows * cols + 5;
            float *in = malloc(nin * sizeof *in), *out = malloc(nout * sizeof *out);
            tu_fill(&r, in, nin, -1, 1);
            for (size_t i = 0; i < nout; i++) out[i] = 7.0f;
            cl_mem bi = make_buf(in, nin), bo = make_buf(out, nout);
            T_OK(rcl_ctx_set_param(T_CTX, "transpose", "TS", TS[j]));
            T_OK(rcl_transpose(T_CTX, bo, bi, (size_t)off, ld, rows, cols));
            assert_int_equal(clEnqueueReadBuffer(rcl_ctx_queue(T_CTX), bo, CL_TRUE, 0,
                                                 nout * sizeof(float), out, 0, NULL, NULL),
                             CL_SUCCESS);
            for (int c = 0; c < cols; c++)
                for (int i = 0; i < rows; i++)
                    bad += out[(size_t)c * rows + i] != in[off + (size_t)i * ld + c];
            for (size_t i = (size_t)rows * cols; i < nout; i++) bad += out[i] != 7.0f;
            rcl_buffer_release(&bi);
            rcl_buffer_release(&bo);
            free(in), free(out);
        }
    T_OK(rcl_ctx_set_param(T_CTX, "transpose", "TS", 8));
    assert_int_equal(bad, 0);
    assert_int_equal(rcl_transpose(T_CTX, NULL, NULL, 0, 2, 3, 4), RCL_ERR_INVALID);
}

/* XA: op(A) packed into panels of MWI rows first (cl/pack.cl), then the
 * outer form reads the panels; NN, TN, and NT and TT through XB, odd tiles
 * (MWI 3, 2, 1), k chunks of the pack that do not divide K (KC 5), NaN-filled
 * C once, against the double reference */
static void test_tiled_xa(void **state)
{
    (void)state;
    static const int KC[] = {5, 1, 16};
    int bad = 0;
    for (int s = 1; s < NPSETS; s++) {
        rcl_gemm_tiled_params p = PSETS_OUTER[s];
        p.xa = 1;
        T_OK(rcl_ctx_set_param(T_CTX, "pack", "KC", KC[s - 1]));
        for (int t = 0; t < 4; t++) {
            /* first set: all four kinds; then TN, TT; then NN (each kind compiles
             * a variant: slow on llvmpipe) */
            if ((s == 2 && t < 2) || (s == 3 && t > 0)) continue;
            /* the covering subset: NT and TN of the first set */
            if (!tu_sweep_all() && s == 1 && (t == 0 || t == 3)) continue;
            p.xb = t & 1; /* NT only through XB (the dot form reads A in place) */
            bad += run_kind(&p, t, s == 2, (uint64_t)(900 + 100 * t));
        }
        p.xb = 0;
        assert_false(rcl_gemm_tiled_valid(&p, 0, 1)); /* dot form: no XA */
        p.xa = 2;
        assert_false(rcl_gemm_tiled_valid(&p, 1, 0));
    }
    T_OK(rcl_ctx_set_param(T_CTX, "pack", "KC", 16));
    assert_int_equal(bad, 0);
}

/* XB 2: op(B) packed into panels of NWI columns first (cl/pack.cl, the
 * last panel zero-padded), then the outer form reads whole panels; all
 * four kinds, odd tiles (NWI 8, 6, 16 with N not a multiple), k blocks
 * (KB 6), with and without XA, NaN-filled C once, against the double
 * reference */
static void test_tiled_xb2(void **state)
{
    (void)state;
    static const int KC[] = {3, 16, 1};
    int bad = 0;
    for (int s = 1; s < NPSETS; s++) {
        rcl_gemm_tiled_params p = PSETS_OUTER[s];
        p.xb = 2;
        T_OK(rcl_ctx_set_param(T_CTX, "pack", "KC", KC[s - 1]));
        for (int t = 0; t < 4; t++) {
            /* first set: all four kinds; then NT, TN with XA; then NN, TT
             * with XA (each variant compiles: slow on llvmpipe) */
            if ((s == 2 && (t == 0 || t == 3)) || (s == 3 && (t == 1 || t == 2))) continue;
            /* the covering subset: NN of the first set (the others with XA) */
            if (!tu_sweep_all() && s == 1 && t > 0) continue;
            p.xa = s > 1;
            bad += run_kind(&p, t, s == 3, (uint64_t)(1300 + 100 * t));
        }
        p.xb = 4;
        assert_false(rcl_gemm_tiled_valid(&p, 0, 0));
        p.xb = -1;
        assert_false(rcl_gemm_tiled_valid(&p, 0, 1));
    }
    T_OK(rcl_ctx_set_param(T_CTX, "pack", "KC", 16));
    assert_int_equal(bad, 0);
}

/* CP and CE: our kernel storing C with a conv's bias and epilogue
 * (rcl_gemm_conv_out, what conv2d's forward runs with conv.FWD_STORE):
 * CP (row_major 0, packed op(B) as the im2col path passes it) as the
 * (nb, M, P) output, bias per row; CE (row_major 1, B in place: NN, and
 * NT through XB as the dense path's identity runs it) row-major with ld >
 * N, bias per group of P columns. Against the double reference computed
 * and stored that way; P a multiple of the vector width (whole-vector
 * stores), P = 1, odd P (vectors crossing images / bias groups), tiles
 * crossing N and M, an offset, each epilogue (none, bias, + res, ReLU, NaN
 * residuals that stay NaN); the floats around C stay untouched. Refusals:
 * N not a multiple of P, beta != 0. */
static void test_tiled_conv_out(void **state)
{
    (void)state;
    /* M, P, nb, K */
    static const int SH[][4] = {{13, 16, 3, 19}, {7, 1, 10, 5}, {9, 7, 3, 33}, {20, 25, 2, 8}};
    int bad = 0;
    for (int s = 1; s < NPSETS; s++)
        for (int rm = 0; rm < 2; rm++) {
            rcl_gemm_tiled_params p = PSETS_OUTER[s];
            p.xb = 2;
            p.xa = s == 2;
            for (int h = 0; h < (int)(sizeof SH / sizeof SH[0]); h++) {
                /* P is compiled in: one variant per (set, layout, shape).
                 * The covering subset runs 8 of the 24: each set and
                 * layout with one or two shapes, each shape twice, NT
                 * (odd h, rm 1) and the refusals (h 0) included */
                if (!tu_sweep(2 * (s - 1) + rm + h, 3)) continue;
                const int M = SH[h][0], P = SH[h][1], nbi = SH[h][2], K = SH[h][3];
                const int N = nbi * P, off = 3, ldc = rm ? N + 2 : N, tb = rm && h % 2;
                const int epi = (s + h + rm) % 4, has_bias = (s + h + rm) % 3 != 0;
                tu_rng r = tu_rng_seed((uint64_t)(2100 + 100 * rm + 10 * s + h));
                size_t na = (size_t)M * K, nbv = (size_t)K * N, nbias = (size_t)(M > nbi ? M : nbi);
                size_t ny = (size_t)off + (size_t)M * ldc + 5;
                float *A = malloc(na * 4), *B = malloc(nbv * 4), *bias = malloc(nbias * 4);
                float *res = malloc(ny * 4), *y = malloc(ny * 4);
                tu_fill(&r, A, na, -1, 1), tu_fill(&r, B, nbv, -1, 1);
                tu_fill(&r, bias, nbias, -1, 1), tu_fill(&r, res, ny, -1, 1);
                res[off + M * ldc / 2] = NAN;
                double *want = malloc(ny * sizeof *want);
                for (size_t i = 0; i < ny; i++) y[i] = 777.0f, want[i] = 777.0;
                const float alpha = s == 3 ? 0.5f : 1.0f;
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) {
                        double acc = 0; /* op(B)[k, n]: B is K x N, or N x K where tb */
                        for (int k = 0; k < K; k++)
                            acc += (double)A[m * K + k] * (tb ? B[n * K + k] : B[k * N + n]);
                        size_t o = (size_t)off + (rm ? (size_t)m * ldc + n
                                                     : (size_t)(n / P) * M * P + (size_t)m * P +
                                                           n % P);
                        double v = alpha * acc + (has_bias ? bias[rm ? n / P : m] : 0.0);
                        if (epi & 1) v += res[o];
                        if ((epi & 2) && v < 0) v = 0;
                        want[o] = v;
                    }
                cl_mem a = make_buf(A, na), b = make_buf(B, nbv), cb = make_buf(bias, nbias);
                cl_mem cr = make_buf(res, ny), cy = make_buf(y, ny), bp;
                size_t npan = (size_t)(N + p.nwi - 1) / p.nwi * p.nwi * K;
                T_OK(rcl_buffer_create(T_CTX, &bp, npan * 4));
                rcl_gemm_conv_out co = {P, rm, has_bias ? cb : NULL, cr, epi};
                if (rm) {
                    T_OK(rcl_gemm_tiled(T_CTX, &p, 0, tb, M, N, K, alpha, a, 0, K, b, 0,
                                        tb ? K : N, 0.0f, cy, off, ldc, &co, "test"));
                } else {
                    T_OK(rcl_pack_panels(T_CTX, bp, b, 0, N, 1, N, K, p.nwi));
                    T_OK(rcl_gemm_tiled_packed_b(T_CTX, &p, 0, M, N, K, alpha, a, 0, K, bp, 0.0f,
                                                 cy, off, N, &co, NULL, "test"));
                }
                cl_int e = clEnqueueReadBuffer(rcl_ctx_queue(T_CTX), cy, CL_TRUE, 0, ny * 4, y,
                                               0, NULL, NULL);
                assert_int_equal(e, CL_SUCCESS);
                char what[128];
                snprintf(what, sizeof what, "conv out %s set %d M=%d P=%d nb=%d K=%d epi %d bias %d",
                         rm ? (tb ? "CE NT" : "CE NN") : "CP", s, M, P, nbi, K, epi, has_bias);
                bad += !tu_close_f(what, y, want, ny, 1e-5, 2e-6 * K + 1e-6);
                if (h == 0) { /* refusals */
                    assert_int_equal(rcl_gemm_tiled(T_CTX, &p, 0, 0, M, N - 1, K, alpha, a, 0, K,
                                                    b, 0, N, 0.0f, cy, off, ldc, &co, "test"),
                                     RCL_ERR_INVALID);
                    assert_int_equal(rcl_gemm_tiled(T_CTX, &p, 0, 0, M, N, K, alpha, a, 0, K, b,
                                                    0, N, 1.0f, cy, off, ldc, &co, "test"),
                                     RCL_ERR_INVALID);
                }
                cl_mem all[] = {a, b, cb, cr, cy, bp};
                for (int i = 0; i < 6; i++) rcl_buffer_release(&all[i]);
                free(A), free(B), free(bias), free(res), free(y), free(want);
            }
        }
    assert_int_equal(bad, 0);
}

/* XB 3: each work-group stages its k blocks of op(B) in local memory (no
 * host copy); all four kinds, k blocks that do not divide K (KB 5, 6),
 * groups whose columns cross N (the scalar staging), with XA once,
 * NaN-filled C once, against the double reference; validity rules */
static void test_tiled_xb3(void **state)
{
    (void)state;
    int bad = 0;
    for (int s = 1; s < 3; s++) {
        rcl_gemm_tiled_params p = PSETS_OUTER[s];
        p.xb = 3;
        p.kb = 0;
        assert_false(rcl_gemm_tiled_valid(&p, 0, 0)); /* needs k blocks */
        p.kb = 9000 / (p.wgn * p.nwi);
        assert_false(rcl_gemm_tiled_valid(&p, 0, 0)); /* over 32 KiB of local memory */
        p.kb = s == 1 ? 5 : 6;
        for (int t = 0; t < 4; t++) {
            /* first set: all four kinds; then NT and TN with XA */
            if (s == 2 && (t == 0 || t == 3)) continue;
            /* the covering subset: NN and TT of the first set (NT, TN with XA) */
            if (!tu_sweep_all() && s == 1 && (t == 1 || t == 2)) continue;
            p.xa = s == 2;
            bad += run_kind(&p, t, s == 2, (uint64_t)(1700 + 100 * t));
        }
    }
    assert_int_equal(bad, 0);
}

/* rcl_pack_panels against the plain loop: both layouts, odd M (zero rows
 * in the last panel), K not a multiple of KC, offset, ld > cols, panels
 * of up to 48 rows (op(B) panels are NWI wide); nothing
 * past ceil(M/R)*R*K floats is written */
static void test_pack(void **state)
{
    (void)state;
    /* M, K, off, pad, R */
    static const int SH[][5] = {{1, 1, 0, 0, 1},   {7, 33, 3, 2, 3},  {33, 7, 0, 0, 4},
                                {100, 147, 5, 3, 16}, {17, 64, 1, 0, 6}, {64, 9, 0, 1, 4},
                                {50, 20, 2, 1, 24}, {100, 33, 0, 0, 48}};
    static const int KC[] = {1, 5, 16};
    tu_rng r = tu_rng_seed(43);
    int bad = 0;
    for (int s = 0; s < (int)(sizeof SH / sizeof SH[0]); s++)
        for (int trans = 0; trans < 2; trans++) {
            int j = (s + trans) % 3; /* one chunk per case: each variant compiles */
            int M = SH[s][0], K = SH[s][1], off = SH[s][2], R = SH[s][4];
            int rows = trans ? K : M, cols = trans ? M : K, ld = cols + SH[s][3];
            size_t nin = (size_t)off + (size_t)rows * ld;
            size_t np = (size_t)(M + R - 1) / R, nout = np * R * K + 5;
            float *in = malloc(nin * sizeof *in), *out = malloc(nout * sizeof *out);
            tu_fill(&r, in, nin, -1, 1);
            for (size_t i = 0; i < nout; i++) out[i] = 7.0f;
            cl_mem bi = make_buf(in, nin), bo = make_buf(out, nout);
            T_OK(rcl_ctx_set_param(T_CTX, "pack", "KC", KC[j]));
            T_OK(rcl_pack_panels(T_CTX, bo, bi, (size_t)off, ld, trans, M, K, R));
            assert_int_equal(clEnqueueReadBuffer(rcl_ctx_queue(T_CTX), bo, CL_TRUE, 0,
                                                 nout * sizeof(float), out, 0, NULL, NULL),
                             CL_SUCCESS);
            for (size_t p = 0; p < np; p++)
                for (int k = 0; k < K; k++)
                    for (int i = 0; i < R; i++) {
                        int m = (int)p * R + i;
                        float want = m >= M ? 0.0f
                                     : trans ? in[off + (size_t)k * ld + m]
                                             : in[off + (size_t)m * ld + k];
                        bad += out[(p * K + k) * R + i] != want;
                    }
            for (size_t i = np * R * K; i < nout; i++) bad += out[i] != 7.0f;
            rcl_buffer_release(&bi);
            rcl_buffer_release(&bo);
            free(in), free(out);
        }
    T_OK(rcl_ctx_set_param(T_CTX, "pack", "KC", 16));
    assert_int_equal(bad, 0);
    assert_int_equal(rcl_pack_panels(T_CTX, NULL, NULL, 0, 2, 0, 3, 4, 2), RCL_ERR_INVALID);
    assert_int_equal(rcl_pack_panels(T_CTX, NULL, NULL, 0, 4, 0, 3, 4, 257), RCL_ERR_INVALID);
}

static void test_tiled_beta_zero_ignores_c(void **state)
{
    (void)state;
    const gcase c = {37, 61, 9, 1, 2, 3, 1, 1.0f, 0.0f};
    /* NaN in C (inside and outside the matrix) must not leak in with beta 0 */
    for (int t = 0; t < 4; t++)
        assert_true(run_case(&c, t >> 1, t & 1, VIA_PATH, RCL_GEMM_TILED, NULL, 1, 7));
}

static void test_clblast_default(void **state)
{
    (void)state;
    assert_int_equal(run_all(VIA_PATH, RCL_GEMM_CLBLAST, NULL), 0);
}

static void test_dispatch(void **state)
{
    (void)state;
    /* empty table: CLBlast */
    assert_int_equal(run_all(VIA_DISPATCH, RCL_GEMM_CLBLAST, NULL), 0);
    /* every class of the cases routed to the tiled kernel with PSETS_*[1] */
    char cls[48], key[64];
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < NCASES; i++) {
            const gcase *c = &CASES[i];
            rcl_gemm_class(t >> 1, t & 1, c->M, c->N, c->K, cls, sizeof cls);
            snprintf(key, sizeof key, RCL_GEMM_KEY_PREFIX "%s", cls);
            T_OK(rcl_ctx_set_param(T_CTX, key, "PATH", RCL_GEMM_TILED));
            rcl_gemm_tiled_params p = t == 1 ? PSETS_DOT[1] : PSETS_OUTER[1];
            for (int f = 0; f < RCL_GEMM_TILED_NPARAMS; f++)
                T_OK(rcl_ctx_set_param(T_CTX, key, rcl_gemm_tiled_names[f],
                                       *rcl_gemm_tiled_field(&p, f)));
        }
    assert_int_equal(run_all(VIA_DISPATCH, RCL_GEMM_CLBLAST, NULL), 0);
    /* the class name */
    assert_string_equal(rcl_gemm_class(0, 1, 64, 147, 25600, cls, sizeof cls), "NT_m6_n7_k13");
    assert_string_equal(rcl_gemm_class(1, 0, 1, 2, 3, cls, sizeof cls), "TN_m0_n1_k1");
    /* reading a class from the table: no entries -> the defaults; entries
     * without XA (tuned before XA existed) -> XA 0, not the defaults' XA */
    int vw = rcl_gemm_vec_width(T_CTX);
    rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(vw, 1, 0);
    rcl_gemm_tiled_params got = rcl_gemm_tiled_from_table(T_CTX, "gemm.TN_none", 1, 0);
    assert_memory_equal(&got, &d, sizeof d);
    T_OK(rcl_ctx_set_param(T_CTX, "gemm.TN_old", "MWI", 2));
    got = rcl_gemm_tiled_from_table(T_CTX, "gemm.TN_old", 1, 0);
    assert_int_equal(got.mwi, 2);
    assert_int_equal(got.xa, 0);
    T_OK(rcl_ctx_set_param(T_CTX, "gemm.TN_old", "XA", 1));
    assert_int_equal(rcl_gemm_tiled_from_table(T_CTX, "gemm.TN_old", 1, 0).xa, 1);
    /* back to CLBlast for the remaining tests */
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < NCASES; i++) {
            const gcase *c = &CASES[i];
            rcl_gemm_class(t >> 1, t & 1, c->M, c->N, c->K, cls, sizeof cls);
            snprintf(key, sizeof key, RCL_GEMM_KEY_PREFIX "%s", cls);
            T_OK(rcl_ctx_set_param(T_CTX, key, "PATH", RCL_GEMM_CLBLAST));
        }
}

/* A deep k range (K >= RCL_GEMM_DEEP_K, a weight gradient's images x
 * pixels) in the outer form takes k blocks of RCL_GEMM_DEEP_KB unless the
 * class was tuned (its KB entry wins), and stays exact */
static void test_deep_k(void **state)
{
    (void)state;
    rcl_ctx *ctx;
    T_OK(rcl_ctx_create(&ctx, rcl_ctx_device(T_CTX)->index, NULL));
    T_OK(rcl_ctx_set_param(ctx, "gemm", "DEFAULT_PATH", RCL_GEMM_TILED));
    rcl_gemm_tiled_params p;
    rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(rcl_gemm_vec_width(ctx), 0, 1);
    int nt_outer = !rcl_gemm_tiled_dot(&d, 0, 1) && d.wgm * d.wgn > 1;
    assert_true(rcl_gemm_tiled_choice(ctx, 0, 1, 64, 147, 25600, &p));
    assert_int_equal(p.kb, nt_outer ? RCL_GEMM_DEEP_KB : 0);
    assert_true(rcl_gemm_tiled_choice(ctx, 0, 1, 64, 147, RCL_GEMM_DEEP_K - 1, &p));
    assert_int_equal(p.kb, 0);
    T_OK(rcl_ctx_set_param(ctx, "gemm.NT_m6_n7_k13", "KB", 0)); /* tuned: kept */
    assert_true(rcl_gemm_tiled_choice(ctx, 0, 1, 64, 147, 25600, &p));
    assert_int_equal(p.kb, 0);
    /* through the dispatcher, against the reference, K past a block edge */
    rcl_ctx *keep = T_CTX;
    T_CTX = ctx;
    const gcase deep = {5, 19, RCL_GEMM_DEEP_K + 1000 + 3, 1, 2, 3, 1, 1.0f, 0.0f};
    for (int t = 0; t < 4; t++)
        assert_true(run_case(&deep, t >> 1, t & 1, VIA_DISPATCH, RCL_GEMM_TILED, NULL, 0, 900 + t));
    T_CTX = keep;
    rcl_ctx_destroy(ctx);
}

/* A narrow N (the last panel of 3 vectors' columns more than 1/8 of N in
 * padding) on 16-wide vectors, its class's tile not tuned, takes 6 rows
 * of 2 vectors where those panels pad less (rcl_gemm_tiled_choice): NT
 * 256x64x3136 and NN 64x147x576 do, N = 3136 (1% padding) and a tuned
 * class do not; exact through the dispatcher against the reference */
static void test_narrow_n(void **state)
{
    (void)state;
    rcl_ctx *ctx;
    T_OK(rcl_ctx_create(&ctx, rcl_ctx_device(T_CTX)->index, NULL));
    T_OK(rcl_ctx_set_param(ctx, "gemm", "DEFAULT_PATH", RCL_GEMM_TILED));
    rcl_gemm_tiled_params p;
    for (int t = 0; t < 2; t++) { /* NN, NT */
        rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(rcl_gemm_vec_width(ctx), 0, t);
        const int narrow = d.vw >= 16 && d.mwi == 4 && d.nwi == 3 * d.vw &&
                           !rcl_gemm_tiled_dot(&d, 0, t);
        assert_true(rcl_gemm_tiled_choice(ctx, 0, t, 256, 64, 3136, &p));
        assert_int_equal(p.mwi, narrow ? 6 : d.mwi), assert_int_equal(p.nwi, narrow ? 32 : d.nwi);
        assert_true(rcl_gemm_tiled_choice(ctx, 0, t, 64, 147, 576, &p));
        assert_int_equal(p.nwi, narrow ? 32 : d.nwi);
        assert_true(rcl_gemm_tiled_choice(ctx, 0, t, 256, 3136, 64, &p));
        assert_int_equal(p.mwi, d.mwi), assert_int_equal(p.nwi, d.nwi);
    }
    char cls[48], key[64];
    rcl_gemm_class(0, 1, 256, 64, 3136, cls, sizeof cls);
    snprintf(key, sizeof key, RCL_GEMM_KEY_PREFIX "%s", cls);
    T_OK(rcl_ctx_set_param(ctx, key, "MWI", 4)); /* tuned: kept */
    assert_true(rcl_gemm_tiled_choice(ctx, 0, 1, 256, 64, 3136, &p));
    assert_int_equal(p.mwi, 4);
    rcl_ctx *keep = T_CTX;
    T_CTX = ctx;
    const gcase cases[] = {{37, 64, 45, 1, 2, 3, 1, 1.0f, 0.0f}, {21, 147, 30, 0, 0, 0, 2, 0.5f, 1.0f}};
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < 4; t++)
            assert_true(run_case(&cases[i], t >> 1, t & 1, VIA_DISPATCH, RCL_GEMM_TILED, NULL, 0,
                                 950 + 4 * i + t));
    T_CTX = keep;
    rcl_ctx_destroy(ctx);
}

/* The tuner's and bench's shapes of a model come from recording the real
 * layer code (rcl_gemm_shapes_model): for resnet18 they must equal the
 * hand-derived list (rcl_gemm_shapes_resnet18), counts included, and
 * recording must compute nothing (the GEMM is skipped). */
static void test_shapes_recorded(void **state)
{
    (void)state;
    enum { CAP = 64, B = 3 };
    rcl_gemm_shape rec[CAP], want[CAP];
    int nr = 0, nw = 0;
    /* the hand-derived list is the im2col path's: Winograd's GEMM form off
     * (the CPU default runs resnet18's 3x3 convs on 4x4 maps as F(4x4)),
     * under the table's conv path rule (llvmpipe's contexts start with
     * PATH 1, im2col + GEMM everywhere: rcl_ctx_create) */
    const int wgemm = rcl_tun(T_CTX, RCL_TUN_CONV_WINO_GEMM), path = rcl_tun(T_CTX, RCL_TUN_CONV_PATH);
    T_OK(rcl_ctx_set_param(T_CTX, "conv", "WINO_GEMM", 0));
    T_OK(rcl_ctx_set_param(T_CTX, "conv", "PATH", rcl_tunables[RCL_TUN_CONV_PATH].def));
    T_OK(rcl_gemm_shapes_model(T_CTX, "resnet18", B, 32, 10, rec, CAP, &nr));
    T_OK(rcl_ctx_set_param(T_CTX, "conv", "WINO_GEMM", wgemm));
    T_OK(rcl_ctx_set_param(T_CTX, "conv", "PATH", path));
    T_OK(rcl_gemm_shapes_resnet18(rcl_ctx_param(T_CTX, "conv", "COL_BUDGET_MB", 256),
                                  rcl_ctx_device(T_CTX)->max_alloc, B, 32, 10, want, CAP, &nw));
    assert_int_equal(nr, nw);
    for (int i = 0; i < nw; i++) {
        const rcl_gemm_shape *w = &want[i];
        int found = -1;
        for (int j = 0; j < nr && found < 0; j++)
            if (rec[j].ta == w->ta && rec[j].tb == w->tb && rec[j].M == w->M && rec[j].N == w->N &&
                rec[j].K == w->K)
                found = j;
        if (found < 0 || rec[found].count != w->count)
            fail_msg("%s (%d %d %d %d %d) x%d: recorded %s", w->what, w->ta, w->tb, w->M, w->N,
                     w->K, w->count, found < 0 ? "never" : "with another count");
    }
    /* a Bottleneck model records too (1x1 convs run per image) */
    T_OK(rcl_gemm_shapes_model(T_CTX, "resnet50", 2, 32, 10, rec, CAP, &nr));
    assert_true(nr > 20);
    /* recording computes nothing */
    float one = 1.0f, got = 0;
    cl_mem a, b, c;
    T_OK(rcl_buffer_create(T_CTX, &a, sizeof one));
    T_OK(rcl_buffer_create(T_CTX, &b, sizeof one));
    T_OK(rcl_buffer_create(T_CTX, &c, sizeof one));
    assert_int_equal(CL_SUCCESS, clEnqueueWriteBuffer(rcl_ctx_queue(T_CTX), a, CL_TRUE, 0, sizeof one, &one, 0, NULL, NULL));
    assert_int_equal(CL_SUCCESS, clEnqueueWriteBuffer(rcl_ctx_queue(T_CTX), b, CL_TRUE, 0, sizeof one, &one, 0, NULL, NULL));
    assert_int_equal(CL_SUCCESS, clEnqueueWriteBuffer(rcl_ctx_queue(T_CTX), c, CL_TRUE, 0, sizeof got, &got, 0, NULL, NULL));
    rcl_gemm_shape one_shape[1];
    rcl_gemm_recorder r = {one_shape, 0, 1, 0, 0};
    T_OK(rcl_gemm_record(T_CTX, &r));
    T_OK(rcl_gemm(T_CTX, 0, 0, 1, 1, 1, 1.0f, a, 0, 1, b, 0, 1, 0.0f, c, 0, 1, "rec"));
    T_OK(rcl_gemm_record(T_CTX, NULL));
    assert_int_equal(CL_SUCCESS, clEnqueueReadBuffer(rcl_ctx_queue(T_CTX), c, CL_TRUE, 0, sizeof got, &got, 0, NULL, NULL));
    assert_true(got == 0.0f);
    assert_int_equal(r.n, 1);
    assert_string_equal(one_shape[0].what, "rec #1");
    rcl_buffer_release(&a);
    rcl_buffer_release(&b);
    rcl_buffer_release(&c);
}

/* Non-default CLBlast parameters through the table: small tiles, local
 * memory for A, and XGEMM_MIN_INDIRECT_SIZE 8 so that nearly every case takes
 * the indirect (pad/transpose + Xgemm) path. Runs last: the override is
 * process-wide for the device. */
static void test_clblast_override(void **state)
{
    (void)state;
    /* GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN */
    const int x[RCL_XGEMM_NPARAMS] = {0, 1, 16, 2, 8, 8, 32, 8, 8, 64, 1, 0, 0, 1, 2, 4};
    assert_true(rcl_xgemm_valid(x));
    for (int i = 0; i < RCL_XGEMM_NPARAMS; i++)
        T_OK(rcl_ctx_set_param(T_CTX, RCL_GEMM_CLBLAST_KEY, rcl_xgemm_names[i], x[i]));
    T_OK(rcl_ctx_set_param(T_CTX, RCL_GEMM_CLBLAST_KEY, "XGEMM_MIN_INDIRECT_SIZE", 8));
    rcl_gemm_reset(T_CTX);
    assert_int_equal(run_all(VIA_DISPATCH, RCL_GEMM_CLBLAST, NULL), 0);
    /* the CLBlast < 1.6.3 trap is refused */
    int bad[RCL_XGEMM_NPARAMS] = {1, 1, 16, 2, 8, 8, 32, 8, 8, 64, 0, 0, 0, 0, 1, 1};
    assert_false(rcl_xgemm_valid(bad));
    assert_int_equal(rcl_gemm_clblast_override(T_CTX, bad, 0), RCL_ERR_INVALID);
}

static void test_invalid(void **state)
{
    (void)state;
    cl_mem b;
    T_OK(rcl_buffer_create(T_CTX, &b, 64 * sizeof(float)));
    assert_int_equal(rcl_gemm(T_CTX, 0, 0, 0, 2, 2, 1, b, 0, 2, b, 0, 2, 0, b, 0, 2, "t"),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_gemm(T_CTX, 0, 0, 2, 2, -1, 1, b, 0, 2, b, 0, 2, 0, b, 0, 2, "t"),
                     RCL_ERR_INVALID);
    rcl_gemm_tiled_params p = {.mwi = 2, .nwi = 6, .vw = 4, .ku = 1, .kb = 0, .wgm = 1, .wgn = 1};
    assert_false(rcl_gemm_tiled_valid(&p, 0, 0)); /* nwi % vw */
    assert_true(rcl_gemm_tiled_valid(&p, 0, 1));  /* dot form: vw runs along k */
    assert_int_equal(rcl_gemm_with(T_CTX, RCL_GEMM_TILED, &p, 0, 0, 2, 2, 2, 1, b, 0, 2, b, 0, 2,
                                   0, b, 0, 2, "t"),
                     RCL_ERR_INVALID);
    p.kb = 6; /* dot form: k blocks must hold whole vectors */
    assert_false(rcl_gemm_tiled_valid(&p, 0, 1));
    p.nwi = 8;
    assert_true(rcl_gemm_tiled_valid(&p, 1, 0));
    p.kb = 0;
    p.vw = 3;
    assert_false(rcl_gemm_tiled_valid(&p, 0, 1));
    /* lda smaller than the stored row */
    assert_int_equal(rcl_gemm_with(T_CTX, RCL_GEMM_TILED, NULL, 0, 0, 2, 2, 4, 1, b, 0, 3, b, 0, 2,
                                   0, b, 0, 2, "t"),
                     RCL_ERR_INVALID);
    rcl_buffer_release(&b);
}

/* A batch of GEMMs in one launch (cl/gemm.cl BA, rcl_gemm_packed_b_batch,
 * Winograd's GEMM form): each GEMM z reads its own op(A) (strided, lda >
 * K) and packed op(B) and writes its own C (ldc > N, gaps between the
 * GEMMs untouched), against the double reference; N across partial panels;
 * then the refusals (no batch, a hook) and the panel width it reports */
static void test_gemm_batch(void **state)
{
    (void)state;
    /* M, N, K, batch */
    static const int SH[][4] = {{37, 45, 29, 3}, {8, 100, 128, 36}, {5, 1, 7, 2}};
    for (int h = 0; h < 3; h++) {
        const int M = SH[h][0], N = SH[h][1], K = SH[h][2], nb = SH[h][3];
        int nwi = rcl_gemm_batch_panels(T_CTX, 0, M, N, K);
        if (!nwi) { /* a device whose classes run on CLBlast: nothing to batch */
            assert_int_equal(rcl_gemm_packed_b_batch(T_CTX, 0, M, N, K, 1.0f, NULL, 0, K, NULL,
                                                     0.0f, NULL, 0, N, NULL, "test"),
                             RCL_ERR_INVALID);
            continue;
        }
        const int lda = K + 3, ldc = N + 2, npan = (N + nwi - 1) / nwi * nwi;
        const size_t sa = (size_t)M * lda + 5, sb = (size_t)npan * K, sc = (size_t)M * ldc + 4;
        const size_t na = sa * nb, nbv = sb * nb, nc = sc * nb + 3;
        tu_rng r = tu_rng_seed((uint64_t)(2300 + h));
        float *A = malloc(na * 4), *B = malloc((size_t)K * N * nb * 4), *Bp = malloc(nbv * 4);
        float *y = malloc(nc * 4);
        double *want = malloc(nc * sizeof *want);
        tu_fill(&r, A, na, -1, 1), tu_fill(&r, B, (size_t)K * N * nb, -1, 1);
        for (size_t i = 0; i < nbv; i++) Bp[i] = NAN; /* past N: never read into C */
        for (int z = 0; z < nb; z++) /* op(B)_z (K x N) -> panels of nwi columns */
            for (int k = 0; k < K; k++)
                for (int n = 0; n < N; n++)
                    Bp[sb * z + ((size_t)(n / nwi) * K + k) * nwi + n % nwi] =
                        B[((size_t)z * K + k) * N + n];
        for (size_t i = 0; i < nc; i++) y[i] = 777.0f, want[i] = 777.0;
        for (int z = 0; z < nb; z++)
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++)
                        acc += (double)A[sa * z + (size_t)m * lda + k] *
                               B[((size_t)z * K + k) * N + n];
                    want[3 + sc * z + (size_t)m * ldc + n] = 0.5 * acc;
                }
        cl_mem a = make_buf(A, na), bp = make_buf(Bp, nbv), cy = make_buf(y, nc);
        rcl_gemm_batch bt = {nb, sa, sb, sc};
        T_OK(rcl_gemm_packed_b_batch(T_CTX, 0, M, N, K, 0.5f, a, 0, lda, bp, 0.0f, cy, 3, ldc,
                                     &bt, "test"));
        cl_int e = clEnqueueReadBuffer(rcl_ctx_queue(T_CTX), cy, CL_TRUE, 0, nc * 4, y, 0, NULL,
                                       NULL);
        assert_int_equal(e, CL_SUCCESS);
        char what[96];
        snprintf(what, sizeof what, "batch M=%d N=%d K=%d x%d (panels of %d)", M, N, K, nb, nwi);
        assert_true(tu_close_f(what, y, want, nc, 1e-5, 2e-6 * K + 1e-6));
        /* refusals: no batch; a batch where op(B) is not packed (CE / CP) */
        assert_int_equal(rcl_gemm_packed_b_batch(T_CTX, 0, M, N, K, 1.0f, a, 0, lda, bp, 0.0f, cy,
                                                 3, ldc, NULL, "test"),
                         RCL_ERR_INVALID);
        rcl_gemm_tiled_params p = rcl_gemm_tiled_defaults(rcl_gemm_vec_width(T_CTX), 0, 0);
        rcl_gemm_batch zero = {0, sa, sb, sc};
        p.xb = 2;
        assert_int_equal(rcl_gemm_tiled_packed_b(T_CTX, &p, 0, M, N, K, 1.0f, a, 0, lda, bp, 0.0f,
                                                 cy, 3, ldc, NULL, &zero, "test"),
                         RCL_ERR_INVALID);
        clReleaseMemObject(a), clReleaseMemObject(bp), clReleaseMemObject(cy);
        free(A), free(B), free(Bp), free(y), free(want);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_invalid),
    cmocka_unit_test(test_tiled_default),
    cmocka_unit_test(test_tiled_beta_zero_ignores_c),
    cmocka_unit_test(test_tiled_xb),
    cmocka_unit_test(test_transpose),
    cmocka_unit_test(test_tiled_xa),
    cmocka_unit_test(test_tiled_xb2),
    cmocka_unit_test(test_tiled_conv_out),
    cmocka_unit_test(test_gemm_batch),
    cmocka_unit_test(test_tiled_xb3),
    cmocka_unit_test(test_pack),
    cmocka_unit_test(test_tiled_params),
    cmocka_unit_test(test_clblast_default),
    cmocka_unit_test(test_dispatch),
    cmocka_unit_test(test_deep_k),
    cmocka_unit_test(test_narrow_n),
    cmocka_unit_test(test_shapes_recorded),
    cmocka_unit_test(test_clblast_override),
};

RCL_TEST_MAIN("gemm", tests)
