/* MaxPool2d: reference backward vs finite differences (values away from
 * ties), device forward (values and argmax) and backward vs the reference,
 * PyTorch's tie rule on constant input, NaN propagation, -inf input, and
 * invalid arguments. Every device case runs with maxpool VEC 0 and 1: the
 * window 3, stride 2, pad 1 then takes cl/maxpool.cl's maxpool3s2_forward
 * (checked by the name of the kernel launched), whose values and idx must
 * be bitwise those of the generic maxpool_forward and the reference. */
#include "harness.h"
#include "ref/ref_maxpool.h"
#include "runtime/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The forward kernel the pool (k, s, p) takes with maxpool VEC = vec. */
static const char *mp_kernel(int k, int s, int p, int vec)
{
    return vec && k == 3 && s == 2 && p == 1 ? "maxpool3s2_forward" : "maxpool_forward";
}

/* The kernel T_CTX launched last (runtime/internal.h: ctx->last_kernel) is
 * `want`. */
static void mp_expect_kernel(const char *want)
{
    char name[64] = "";
    assert_non_null(T_CTX->last_kernel);
    assert_int_equal(clGetKernelInfo(T_CTX->last_kernel, CL_KERNEL_FUNCTION_NAME, sizeof name,
                                     name, NULL),
                     CL_SUCCESS);
    assert_string_equal(name, want);
}

/* The stem window's (3, stride 2, pad 1) forward with maxpool VEC = vec
 * (restored after), checked to run the kernel vec says; its output y,
 * read back (malloc'd). */
static float *mp_forward_3s2(rcl_tensor *ty, cl_mem idx, const rcl_tensor *tx, int vec)
{
    const rcl_pool_desc d = {3, 2, 1};
    const int keep = rcl_tun(T_CTX, RCL_TUN_MAXPOOL_VEC);
    T_OK(rcl_ctx_set_param(T_CTX, "maxpool", "VEC", vec));
    T_OK(rcl_maxpool2d_forward(T_CTX, ty, idx, tx, &d));
    mp_expect_kernel(mp_kernel(3, 2, 1, vec));
    T_OK(rcl_ctx_set_param(T_CTX, "maxpool", "VEC", keep));
    return tu_read(ty);
}

/* Bitwise the reference's values (exact in float: a max of the inputs),
 * -inf included, NaN where it has NaN. */
static void mp_expect_values(const float *y, const double *yref, size_t n)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        float want = (float)yref[i];
        int ok = isnan(want) ? isnan(y[i]) : memcmp(&y[i], &want, sizeof want) == 0;
        if (!ok && !bad++) first = i;
    }
    if (bad)
        fail_msg("maxpool forward: %zu of %zu differ, first [%zu] got %.9g want %.9g", bad, n,
                 first, y[first], yref[first]);
}

typedef struct { int n, c, h, w, k, s, p; const double *proj; double *y; int *idx; } mp_fd;

/* loss = sum(maxpool(x) * proj) */
static double mp_loss(void *ud, const double *x)
{
    mp_fd *f = ud;
    ref_maxpool_forward(f->y, f->idx, x, f->n, f->c, f->h, f->w, f->k, f->s, f->p);
    size_t m = (size_t)f->n * f->c * ref_pool_out_size(f->h, f->k, f->s, f->p) *
               ref_pool_out_size(f->w, f->k, f->s, f->p);
    double s = 0;
    for (size_t i = 0; i < m; i++) s += f->y[i] * f->proj[i];
    return s;
}

/* Distinct values 0.01 apart in random order: no ties, safe for differences. */
static void fill_distinct(tu_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(((double)i - (double)n / 2) * 0.01);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)tu_uniform(r, 0, (double)i);
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

/* Device forward/backward on x vs the reference; returns the device idx
 * (malloc'd) when want_idx, else NULL. dy random. */
static int *mp_run(const float *x, int n, int c, int h, int w, int k, int s, int p, int fd,
                   uint64_t seed, int want_idx)
{
    tu_rng r = tu_rng_seed(seed);
    const int oh = ref_pool_out_size(h, k, s, p), ow = ref_pool_out_size(w, k, s, p);
    size_t cnt = (size_t)n * c * h * w, ocnt = (size_t)n * c * oh * ow;
    float *dy = malloc(ocnt * sizeof *dy);
    tu_fill(&r, dy, ocnt, -1, 1);
    double *xd = tu_f2d(x, cnt), *dyd = tu_f2d(dy, ocnt);
    double *yref = malloc(ocnt * sizeof *yref), *dxref = malloc(cnt * sizeof *dxref);
    int *iref = malloc(ocnt * sizeof *iref);
    ref_maxpool_forward(yref, iref, xd, n, c, h, w, k, s, p);
    ref_maxpool_backward(dxref, dyd, iref, n, c, h, w, k, s, p);
    if (fd) {
        double *g = malloc(cnt * sizeof *g), *yt = malloc(ocnt * sizeof *yt);
        int *it = malloc(ocnt * sizeof *it);
        mp_fd f = {n, c, h, w, k, s, p, dyd, yt, it};
        tu_fd_grad(mp_loss, &f, xd, cnt, 1e-4, g);
        assert_true(tu_close_d("maxpool ref dx vs fd", dxref, g, cnt, 1e-8, 1e-8));
        free(g), free(yt), free(it);
    }

    rcl_pool_desc d = {k, s, p};
    rcl_tensor tx, ty, tdy, tdx;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&ty, n, c, oh, ow, NULL);
    tu_tensor(&tdy, n, c, oh, ow, dy);
    tu_tensor(&tdx, n, c, h, w, NULL);
    int *minus = malloc(ocnt * sizeof *minus);
    for (size_t i = 0; i < ocnt; i++) minus[i] = -7;
    const int keep = rcl_tun(T_CTX, RCL_TUN_MAXPOOL_VEC);
    float *y0 = NULL; /* the generic kernel's output (vec 0) */
    int *gi = NULL, *gi0 = NULL;
    for (int vec = 0; vec < 2; vec++) {
        T_OK(rcl_ctx_set_param(T_CTX, "maxpool", "VEC", vec));
        cl_mem idx = tu_ibuf(minus, ocnt);
        T_OK(rcl_tensor_fill(T_CTX, &ty, -12345.5f)); /* every output written */
        T_OK(rcl_maxpool2d_forward(T_CTX, &ty, idx, &tx, &d));
        mp_expect_kernel(mp_kernel(k, s, p, vec));
        T_OK(rcl_tensor_fill(T_CTX, &tdx, 3.0f));
        T_OK(rcl_maxpool2d_backward(T_CTX, &tdx, &tdy, idx, &d));
        float *y = tu_read(&ty), *dx = tu_read(&tdx);
        gi = malloc(ocnt * sizeof *gi);
        tu_iread(idx, gi, ocnt);
        mp_expect_values(y, yref, ocnt);
        size_t bad = 0;
        for (size_t i = 0; i < ocnt; i++) bad += gi[i] != iref[i];
        if (bad) fail_msg("maxpool idx (VEC %d): %zu of %zu differ", vec, bad, ocnt);
        assert_true(tu_close_f("maxpool backward", dx, dxref, cnt, 1e-6, 1e-6));
        if (vec) { /* both paths bitwise the same, NaN payloads included */
            assert_memory_equal(y, y0, ocnt * sizeof *y);
            assert_memory_equal(gi, gi0, ocnt * sizeof *gi);
            free(y), free(gi0);
        } else {
            y0 = y, gi0 = gi;
        }
        free(dx);
        rcl_buffer_release(&idx);
    }
    T_OK(rcl_ctx_set_param(T_CTX, "maxpool", "VEC", keep));

    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&ty);
    rcl_tensor_destroy(&tdy);
    rcl_tensor_destroy(&tdx);
    free(dy), free(xd), free(dyd), free(yref), free(dxref), free(iref), free(minus), free(y0);
    if (want_idx) return gi;
    free(gi);
    return NULL;
}

static void mp_case(int n, int c, int h, int w, int k, int s, int p, int fd, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed * 7 + 1);
    size_t cnt = (size_t)n * c * h * w;
    float *x = malloc(cnt * sizeof *x);
    fill_distinct(&r, x, cnt);
    mp_run(x, n, c, h, w, k, s, p, fd, seed, 0);
    free(x);
}

static void test_maxpool_shapes(void **state)
{
    (void)state;
    mp_case(3, 5, 7, 7, 3, 2, 1, 1, 1);   /* ResNet stem pool on an odd size */
    mp_case(2, 3, 9, 8, 3, 2, 1, 1, 2);
    mp_case(2, 4, 8, 8, 2, 2, 0, 1, 3);
    mp_case(1, 2, 6, 5, 3, 1, 1, 1, 4);   /* stride 1: every input in many windows */
    mp_case(2, 2, 5, 7, 4, 3, 2, 1, 5);   /* even k with pad = k/2 */
    mp_case(2, 3, 13, 13, 4, 4, 0, 1, 6); /* k=4 s=4, floor drops the last row/column */
    mp_case(4, 16, 32, 32, 4, 4, 0, 0, 7); /* the course model */
    mp_case(2, 8, 56, 56, 3, 2, 1, 0, 8);
    mp_case(1, 1, 1, 1, 1, 1, 0, 1, 9);
}

/* The stem's window (3, stride 2, pad 1) on the shapes maxpool3s2_forward
 * treats apart: W of one partial segment (2, 3, 5), of segments whose
 * 16-float loads fall inside the row (16, 56, 112) or not (17, 31, 33: a
 * whole and a partial segment), H odd and even, one segment per row (the
 * work-item walks the plane) or several (one row per item), N*C not a
 * multiple of the work-group size (67), 1x1 planes. */
static void test_maxpool_stem_shapes(void **state)
{
    (void)state;
    mp_case(2, 3, 5, 17, 3, 2, 1, 1, 11);
    mp_case(1, 3, 6, 33, 3, 2, 1, 1, 12);
    mp_case(2, 3, 7, 31, 3, 2, 1, 1, 13);
    mp_case(2, 5, 7, 5, 3, 2, 1, 1, 14);
    mp_case(3, 1, 4, 2, 3, 2, 1, 1, 15);
    mp_case(2, 3, 3, 3, 3, 2, 1, 1, 16);
    mp_case(1, 2, 16, 16, 3, 2, 1, 1, 17);
    mp_case(1, 2, 2, 9, 3, 2, 1, 1, 18);
    mp_case(2, 2, 9, 2, 3, 2, 1, 1, 19);
    mp_case(1, 3, 1, 1, 3, 2, 1, 1, 20);
    mp_case(2, 2, 5, 1, 3, 2, 1, 1, 21);
    mp_case(1, 67, 5, 6, 3, 2, 1, 0, 22);   /* 67 planes, one item each */
    mp_case(1, 67, 3, 17, 3, 2, 1, 0, 23);  /* 67 * 2 rows * 2 segments items */
    mp_case(1, 2, 112, 112, 3, 2, 1, 0, 24); /* resnet at 224x224 */
    mp_case(1, 3, 11, 112, 3, 2, 1, 0, 25);
    mp_case(100, 2, 16, 16, 3, 2, 1, 0, 26); /* resnet18 at 32x32, fewer channels */
}

/* Constant input (value v): every window ties, the first in-bounds
 * position wins (window rows/cols start at max(2*o-1, 0)). */
static void ties_3s2(int n, int c, int h, int w, float v, uint64_t seed)
{
    float *x = malloc((size_t)n * c * h * w * sizeof *x);
    for (int i = 0; i < n * c * h * w; i++) x[i] = v;
    int *gi = mp_run(x, n, c, h, w, 3, 2, 1, 0, seed, 1);
    const int oh = ref_pool_out_size(h, 3, 2, 1), ow = ref_pool_out_size(w, 3, 2, 1);
    for (int pl = 0; pl < n * c; pl++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                int hs = i ? 2 * i - 1 : 0, ws = j ? 2 * j - 1 : 0;
                assert_int_equal(gi[(pl * oh + i) * ow + j], hs * w + ws);
            }
    free(gi);
    free(x);
}

static void test_maxpool_ties(void **state)
{
    (void)state;
    ties_3s2(2, 3, 7, 7, 1.25f, 41);
    ties_3s2(1, 2, 6, 17, -3.0f, 43);
    ties_3s2(1, 2, 5, 33, 0.0f, 44);
    ties_3s2(1, 3, 16, 16, 2.0f, 45);
    ties_3s2(2, 1, 3, 2, 7.0f, 46);
    int *gi;
    /* 2x2 stride 2 on a plane of equal pairs: ties inside each window */
    float x2[16] = {5, 5, 2, 3, 5, 5, 3, 3, 0, 1, 4, 4, 1, 1, 4, 4};
    gi = mp_run(x2, 1, 1, 4, 4, 2, 2, 0, 0, 42, 1);
    assert_int_equal(gi[0], 0);
    assert_int_equal(gi[1], 3);
    assert_int_equal(gi[2], 9);
    assert_int_equal(gi[3], 10);
    free(gi);
    /* -0.0 and 0.0 compare equal: the first stays */
    float x3[9] = {-0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    gi = mp_run(x3, 1, 1, 3, 3, 3, 2, 1, 0, 47, 1);
    assert_int_equal(gi[0], 0);
    free(gi);
}

/* A NaN wins every window containing it (and its index is stored). */
static void test_maxpool_nan(void **state)
{
    (void)state;
    const int h = 7, w = 7;
    float x[2 * 7 * 7];
    tu_rng r = tu_rng_seed(51);
    fill_distinct(&r, x, 2 * h * w);
    x[3 * w + 3] = NAN;          /* plane 0, (3,3): in windows (1,1),(1,2),(2,1),(2,2) */
    x[h * w + 0] = NAN;          /* plane 1, (0,0): window (0,0) only */
    int *gi = mp_run(x, 1, 2, h, w, 3, 2, 1, 0, 52, 1);
    rcl_tensor tx, ty;
    tu_tensor(&tx, 1, 2, h, w, x);
    tu_tensor(&ty, 1, 2, 4, 4, NULL);
    cl_mem idx;
    T_OK(rcl_buffer_create(T_CTX, &idx, 32 * sizeof(int)));
    for (int vec = 0; vec < 2; vec++) {
        float *y = mp_forward_3s2(&ty, idx, &tx, vec);
        for (int o = 0; o < 32; o++) {
            int pl = o / 16, i = (o % 16) / 4, j = o % 4;
            int has = pl == 0 ? (i == 1 || i == 2) && (j == 1 || j == 2) : (i == 0 && j == 0);
            if (has) {
                assert_true(isnan(y[o]));
                assert_int_equal(gi[o], pl == 0 ? 3 * w + 3 : 0);
            } else {
                assert_false(isnan(y[o]));
            }
        }
        free(y);
    }
    free(gi);
    rcl_buffer_release(&idx);
    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&ty);
}

/* NaN and -inf where the stem's kernel splits its loads: the first and
 * last columns, columns 15 and 16 (the edge of a 16-float load), the first
 * and last rows; a plane of -inf, one of NaN, one of -inf with one NaN;
 * planes of W = 17, 33, 5, 16 (values and idx bitwise the reference's). */
static void special_3s2(int n, int c, int h, int w, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    const size_t pl = (size_t)h * w, cnt = (size_t)n * c * pl;
    assert_true(n * c >= 4);
    float *x = malloc(cnt * sizeof *x);
    fill_distinct(&r, x, cnt);
    const int cols[] = {0, 1, 15, 16, w - 1, w - 2};
    for (size_t p = 3; p < (size_t)n * c; p++)
        for (int i = 0; i < 6; i++) {
            if (cols[i] < 0 || cols[i] >= w) continue;
            int row = (int)tu_uniform(&r, 0, h);
            x[p * pl + (size_t)row * w + cols[i]] = (p + i) % 2 ? NAN : -INFINITY;
            const size_t edge = (size_t)((p + i) % 2 ? 0 : h - 1) * w + cols[i];
            x[p * pl + edge] = (p + i) % 3 ? -INFINITY : NAN;
        }
    for (size_t i = 0; i < pl; i++) x[i] = -INFINITY, x[pl + i] = NAN, x[2 * pl + i] = -INFINITY;
    x[2 * pl + pl / 2] = NAN;
    for (size_t i = 0; i < cnt / 7; i++) { /* more, at random places */
        size_t at = 3 * pl + (size_t)tu_uniform(&r, 0, (double)(cnt - 3 * pl));
        x[at] = i % 2 ? NAN : -INFINITY;
    }
    mp_run(x, n, c, h, w, 3, 2, 1, 0, seed + 1, 0);
    free(x);
}

static void test_maxpool_nan_inf_3s2(void **state)
{
    (void)state;
    special_3s2(2, 3, 5, 17, 53);
    special_3s2(1, 5, 6, 33, 54);
    special_3s2(2, 2, 7, 5, 55);
    special_3s2(1, 4, 16, 16, 56);
    special_3s2(1, 4, 9, 112, 57);
}

/* -inf everywhere: y = -inf, idx = first in-bounds position. */
static void test_maxpool_neg_inf(void **state)
{
    (void)state;
    float x[5 * 5];
    for (int i = 0; i < 25; i++) x[i] = -INFINITY;
    rcl_tensor tx, ty;
    tu_tensor(&tx, 1, 1, 5, 5, x);
    tu_tensor(&ty, 1, 1, 3, 3, NULL);
    cl_mem idx;
    T_OK(rcl_buffer_create(T_CTX, &idx, 9 * sizeof(int)));
    for (int vec = 0; vec < 2; vec++) {
        float *y = mp_forward_3s2(&ty, idx, &tx, vec);
        int gi[9];
        tu_iread(idx, gi, 9);
        for (int o = 0; o < 9; o++) {
            int i = o / 3, j = o % 3;
            assert_true(isinf(y[o]) && y[o] < 0);
            assert_int_equal(gi[o], (i ? 2 * i - 1 : 0) * 5 + (j ? 2 * j - 1 : 0));
        }
        free(y);
    }
    rcl_buffer_release(&idx);
    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&ty);
    /* wider planes, both paths against the reference (mp_run) */
    const int shapes[][2] = {{7, 17}, {4, 33}, {16, 16}, {3, 2}};
    for (int s = 0; s < 4; s++) {
        const int h = shapes[s][0], w = shapes[s][1];
        float *xs = malloc((size_t)2 * h * w * sizeof *xs);
        for (int i = 0; i < 2 * h * w; i++) xs[i] = -INFINITY;
        int *gi = mp_run(xs, 1, 2, h, w, 3, 2, 1, 0, 61 + s, 1);
        const int oh = ref_pool_out_size(h, 3, 2, 1), ow = ref_pool_out_size(w, 3, 2, 1);
        for (int o = 0; o < 2 * oh * ow; o++) {
            int i = o % (oh * ow) / ow, j = o % ow;
            assert_int_equal(gi[o], (i ? 2 * i - 1 : 0) * w + (j ? 2 * j - 1 : 0));
        }
        free(gi), free(xs);
    }
}

static void test_maxpool_invalid(void **state)
{
    (void)state;
    rcl_tensor x, y, yb, big;
    tu_tensor(&x, 2, 3, 7, 7, NULL);
    tu_tensor(&y, 2, 3, 4, 4, NULL);
    tu_tensor(&yb, 2, 3, 3, 4, NULL);
    tu_tensor(&big, 1, 1, 2, 2, NULL);
    cl_mem idx, small;
    T_OK(rcl_buffer_create(T_CTX, &idx, 96 * sizeof(int)));
    T_OK(rcl_buffer_create(T_CTX, &small, 95 * sizeof(int)));
    rcl_pool_desc ok = {3, 2, 1}, pad = {3, 2, 2}, k0 = {0, 1, 0}, s0 = {3, 0, 1};
    T_OK(rcl_maxpool2d_forward(T_CTX, &y, idx, &x, &ok));
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, idx, &x, &pad), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, idx, &x, &k0), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, idx, &x, &s0), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &yb, idx, &x, &ok), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, small, &x, &ok), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_backward(T_CTX, &x, &yb, idx, &ok), RCL_ERR_INVALID);
    assert_int_equal(rcl_maxpool2d_backward(T_CTX, &x, &y, small, &ok), RCL_ERR_INVALID);
    rcl_pool_desc k5 = {5, 1, 0};
    assert_int_equal(rcl_maxpool2d_forward(T_CTX, &y, idx, &big, &k5), RCL_ERR_INVALID);
    rcl_buffer_release(&idx);
    rcl_buffer_release(&small);
    rcl_tensor_destroy(&x);
    rcl_tensor_destroy(&y);
    rcl_tensor_destroy(&yb);
    rcl_tensor_destroy(&big);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_maxpool_shapes),
    cmocka_unit_test(test_maxpool_stem_shapes),
    cmocka_unit_test(test_maxpool_ties),
    cmocka_unit_test(test_maxpool_nan),
    cmocka_unit_test(test_maxpool_nan_inf_3s2),
    cmocka_unit_test(test_maxpool_neg_inf),
    cmocka_unit_test(test_maxpool_invalid),
};

RCL_TEST_MAIN("maxpool", tests)
