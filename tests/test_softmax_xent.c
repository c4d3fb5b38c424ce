/* Softmax cross-entropy: reference gradient vs finite differences, device
 * loss / gradient / correct count vs reference, numerical stability at large
 * logits, argmax ties, out-of-range labels (NaN), determinism, bad shapes. */
#include "harness.h"
#include "ref/ref_softmax_xent.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int n, k; const int *labels; } xent_fd;

static double xent_loss(void *ud, const double *x)
{
    xent_fd *f = ud;
    double loss;
    ref_softmax_xent(&loss, NULL, NULL, x, f->labels, f->n, f->k);
    return loss;
}

/* Device run; returns loss and fills dlogits (if dx) and *correct (if hits). */
static float run_device(const float *x, const int *labels, int n, int k, float *dx, int *hits)
{
    rcl_tensor tx, tl, tdx;
    tu_tensor(&tx, n, k, 1, 1, x);
    tu_tensor(&tl, 1, 1, 1, 1, NULL);
    if (dx) tu_tensor(&tdx, n, k, 1, 1, NULL);
    cl_mem lab = tu_ibuf(labels, (size_t)n);
    int minus1 = -1;
    cl_mem cor = hits ? tu_ibuf(&minus1, 1) : NULL;
    T_OK(rcl_softmax_xent(T_CTX, &tl, dx ? &tdx : NULL, cor, &tx, lab));
    float loss;
    T_OK(rcl_tensor_read(T_CTX, &tl, &loss));
    if (dx) {
        T_OK(rcl_tensor_read(T_CTX, &tdx, dx));
        rcl_tensor_destroy(&tdx);
    }
    if (hits) {
        tu_iread(cor, hits, 1);
        rcl_buffer_release(&cor);
    }
    rcl_buffer_release(&lab);
    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&tl);
    return loss;
}

/* logits uniform in [lo, hi); every third row's label is its argmax so the
 * correct count is neither 0 nor n. `fd`: also check the reference gradient
 * against finite differences. */
static void xent_case(int n, int k, double lo, double hi, int fd, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    size_t cnt = (size_t)n * k;
    float *x = malloc(cnt * sizeof *x), *dx = malloc(cnt * sizeof *dx);
    int *labels = malloc((size_t)n * sizeof *labels);
    tu_fill(&r, x, cnt, lo, hi);
    for (int i = 0; i < n; i++) {
        labels[i] = (int)tu_uniform(&r, 0, k);
        if (i % 3 == 0) {
            int am = 0;
            for (int j = 1; j < k; j++)
                if (x[(size_t)i * k + j] > x[(size_t)i * k + am]) am = j;
            labels[i] = am;
        }
    }
    double *xd = tu_f2d(x, cnt), *dref = malloc(cnt * sizeof(double));
    double lref;
    int href;
    ref_softmax_xent(&lref, dref, &href, xd, labels, n, k);
    assert_true(isfinite(lref));
    assert_true(href >= (n + 2) / 3);

    if (fd) {
        double *dfd = malloc(cnt * sizeof(double));
        xent_fd f = {n, k, labels};
        tu_fd_grad(xent_loss, &f, xd, cnt, 1e-5, dfd);
        assert_true(tu_close_d("xent ref backward vs fd", dref, dfd, cnt, 1e-6, 1e-8));
        free(dfd);
    }

    int hits = -1;
    float loss = run_device(x, labels, n, k, dx, &hits);
    assert_true(tu_close_f("xent loss", &loss, &lref, 1, 1e-5, 1e-6));
    assert_true(tu_close_f("xent dlogits", dx, dref, cnt, 1e-4, 1e-7));
    assert_int_equal(hits, href);

    /* Without the optional outputs: the same loss, bit for bit. */
    float loss2 = run_device(x, labels, n, k, NULL, NULL);
    assert_memory_equal(&loss, &loss2, sizeof loss);

    free(x), free(dx), free(labels), free(xd), free(dref);
}

static void test_xent_shapes(void **state)
{
    (void)state;
    xent_case(1, 1, -3, 3, 1, 1);
    xent_case(1, 10, -3, 3, 1, 2);
    xent_case(3, 5, -3, 3, 1, 3);
    xent_case(7, 10, -4, 4, 1, 4);
    xent_case(16, 10, -2, 2, 1, 5);
    xent_case(300, 10, -5, 5, 0, 6);   /* more rows than both work-group sizes */
    xent_case(1025, 3, -5, 5, 0, 7);
    xent_case(33, 1000, -5, 5, 0, 8);
}

/* exp(x) overflows float above ~88.7 and underflows to 0 below ~-103: the
 * max shift must keep everything finite. */
static void test_xent_large_logits(void **state)
{
    (void)state;
    xent_case(7, 10, -80, 80, 1, 11);
    xent_case(5, 1000, -80, 80, 0, 12);
    xent_case(9, 10, 90, 200, 1, 13);     /* exp(x) = inf without the shift */
    xent_case(9, 10, -200, -110, 1, 14);  /* exp(x) = 0, log(0) without the shift */
}

/* Ties: the first maximum is the prediction (torch.argmax). */
static void test_xent_ties(void **state)
{
    (void)state;
    const int n = 4, k = 4;
    float x[] = {1, 5, 5, 0,   1, 5, 5, 0,   2, 2, 2, 2,   2, 2, 2, 2};
    int labels[] = {1, 2, 0, 0};   /* first max: hit, miss, hit, hit */
    double xd[16], lref;
    for (int i = 0; i < 16; i++) xd[i] = x[i];
    int href;
    ref_softmax_xent(&lref, NULL, &href, xd, labels, n, k);
    assert_int_equal(href, 3);
    int hits = -1;
    float loss = run_device(x, labels, n, k, NULL, &hits);
    assert_int_equal(hits, 3);
    assert_true(tu_close_f("xent ties loss", &loss, &lref, 1, 1e-6, 1e-6));
}

/* A label outside [0,K) makes the loss NaN (and that row's gradient), is
 * never used as an index, and does not count as correct; other rows are
 * unaffected. */
static void test_xent_bad_label(void **state)
{
    (void)state;
    const int n = 6, k = 5;
    tu_rng r = tu_rng_seed(21);
    float x[30], dx[30];
    tu_fill(&r, x, 30, -2, 2);
    int bads[] = {-1, 5, INT_MAX, INT_MIN, 1 << 30};
    for (int b = 0; b < 5; b++) {
        int labels[] = {0, 1, 2, 3, 4, 0};
        labels[2] = bads[b];
        for (int i = 0; i < n; i++) {
            int am = 0;
            for (int j = 1; j < k; j++)
                if (x[i * k + j] > x[i * k + am]) am = j;
            if (i != 2) labels[i] = am;   /* every valid row is correct */
        }
        double *xd = tu_f2d(x, 30), dref[30], lref;
        int href;
        ref_softmax_xent(&lref, dref, &href, xd, labels, n, k);
        assert_true(isnan(lref));
        assert_int_equal(href, n - 1);
        int hits = -1;
        float loss = run_device(x, labels, n, k, dx, &hits);
        assert_true(isnan(loss));
        assert_int_equal(hits, n - 1);
        for (int j = 0; j < k; j++) assert_true(isnan(dx[2 * k + j]));
        assert_true(tu_close_f("xent bad-label dlogits", dx, dref, 30, 1e-4, 1e-7));
        free(xd);
    }
}

/* Same inputs, same loss bits (fixed reduction order). */
static void test_xent_deterministic(void **state)
{
    (void)state;
    const int n = 517, k = 10;
    tu_rng r = tu_rng_seed(31);
    float *x = malloc((size_t)n * k * sizeof *x);
    int *labels = malloc((size_t)n * sizeof *labels);
    tu_fill(&r, x, (size_t)n * k, -6, 6);
    for (int i = 0; i < n; i++) labels[i] = (int)tu_uniform(&r, 0, k);
    float a = run_device(x, labels, n, k, NULL, NULL);
    float b = run_device(x, labels, n, k, NULL, NULL);
    assert_memory_equal(&a, &b, sizeof a);
    free(x), free(labels);
}

static void test_xent_invalid(void **state)
{
    (void)state;
    rcl_tensor x, loss, loss2, dx_bad, dx_bad2;
    tu_tensor(&x, 4, 10, 1, 1, NULL);
    tu_tensor(&loss, 1, 1, 1, 1, NULL);
    tu_tensor(&loss2, 2, 1, 1, 1, NULL);
    tu_tensor(&dx_bad, 4, 9, 1, 1, NULL);
    tu_tensor(&dx_bad2, 10, 4, 1, 1, NULL);
    int lab4[4] = {0, 1, 2, 3};
    cl_mem labels = tu_ibuf(lab4, 4), short_labels = tu_ibuf(lab4, 3);
    assert_int_equal(rcl_softmax_xent(T_CTX, &loss2, NULL, NULL, &x, labels), RCL_ERR_INVALID);
    assert_int_equal(rcl_softmax_xent(T_CTX, &loss, &dx_bad, NULL, &x, labels), RCL_ERR_INVALID);
    assert_int_equal(rcl_softmax_xent(T_CTX, &loss, &dx_bad2, NULL, &x, labels), RCL_ERR_INVALID);
    assert_int_equal(rcl_softmax_xent(T_CTX, &loss, NULL, NULL, &x, NULL), RCL_ERR_INVALID);
    assert_int_equal(rcl_softmax_xent(T_CTX, &loss, NULL, NULL, &x, short_labels),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_softmax_xent(T_CTX, NULL, NULL, NULL, &x, labels), RCL_ERR_INVALID);
    T_OK(rcl_softmax_xent(T_CTX, &loss, NULL, NULL, &x, labels));
    rcl_buffer_release(&labels);
    rcl_buffer_release(&short_labels);
    rcl_tensor_destroy(&x);
    rcl_tensor_destroy(&loss);
    rcl_tensor_destroy(&loss2);
    rcl_tensor_destroy(&dx_bad);
    rcl_tensor_destroy(&dx_bad2);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_xent_shapes),
    cmocka_unit_test(test_xent_large_logits),
    cmocka_unit_test(test_xent_ties),
    cmocka_unit_test(test_xent_bad_label),
    cmocka_unit_test(test_xent_deterministic),
    cmocka_unit_test(test_xent_invalid),
};

RCL_TEST_MAIN("softmax_xent", tests)
