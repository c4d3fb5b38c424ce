/* Residual add (incl. y aliasing a or b) and the option-A shortcut:
 * reference backward vs finite differences, device forward/backward vs the
 * reference (stride 2 on odd sizes, 16 -> 32 channels, stride 1), invalid
 * shapes; the fused add + ReLU against add then ReLU (exact), in place too. */
#include "harness.h"
#include "ref/ref_add.h"
#include "ref/ref_relu.h"

#include <stdlib.h>

static void test_add_shapes(void **state)
{
    (void)state;
    const int shapes[][4] = {{1, 1, 1, 1}, {3, 5, 7, 7}, {2, 16, 9, 11}, {8, 32, 16, 16}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *d = shapes[s];
        size_t cnt = (size_t)d[0] * d[1] * d[2] * d[3];
        tu_rng r = tu_rng_seed(100 + s);
        float *a = malloc(cnt * sizeof *a), *b = malloc(cnt * sizeof *b);
        tu_fill(&r, a, cnt, -2, 2);
        tu_fill(&r, b, cnt, -2, 2);
        double *ad = tu_f2d(a, cnt), *bd = tu_f2d(b, cnt), *want = malloc(cnt * sizeof *want);
        ref_add(want, ad, bd, cnt);
        rcl_tensor ta, tb, ty;
        tu_tensor(&ta, d[0], d[1], d[2], d[3], a);
        tu_tensor(&tb, d[0], d[1], d[2], d[3], b);
        tu_tensor(&ty, d[0], d[1], d[2], d[3], NULL);
        T_OK(rcl_add(T_CTX, &ty, &ta, &tb));
        float *y = tu_read(&ty);
        /* a float sum of two floats is the correctly rounded double sum */
        float *wantf = tu_d2f(want, cnt);
        double *wantr = tu_f2d(wantf, cnt);
        assert_true(tu_close_f("add", y, wantr, cnt, 0, 0));
        T_OK(rcl_add(T_CTX, &ta, &ta, &tb)); /* y == a */
        float *ya = tu_read(&ta);
        assert_true(tu_close_f("add y==a", ya, wantr, cnt, 0, 0));
        T_OK(rcl_tensor_write(T_CTX, &ta, a));
        T_OK(rcl_add(T_CTX, &tb, &ta, &tb)); /* y == b */
        float *yb = tu_read(&tb);
        assert_true(tu_close_f("add y==b", yb, wantr, cnt, 0, 0));
        T_OK(rcl_add(T_CTX, &ta, &ta, &ta)); /* all three the same */
        float *y2 = tu_read(&ta);
        for (size_t i = 0; i < cnt; i++) assert_true(y2[i] == 2 * a[i]);
        rcl_tensor_destroy(&ta);
        rcl_tensor_destroy(&tb);
        rcl_tensor_destroy(&ty);
        free(a), free(b), free(ad), free(bd), free(want), free(y), free(wantf), free(wantr),
            free(ya), free(yb), free(y2);
    }
}

static void test_add_relu(void **state)
{
    (void)state;
    const int shapes[][4] = {{1, 1, 1, 1}, {3, 5, 7, 7}, {2, 16, 9, 11}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *d = shapes[s];
        size_t cnt = (size_t)d[0] * d[1] * d[2] * d[3];
        tu_rng r = tu_rng_seed(200 + s);
        float *a = malloc(cnt * sizeof *a), *b = malloc(cnt * sizeof *b);
        tu_fill(&r, a, cnt, -2, 2);
        tu_fill(&r, b, cnt, -2, 2);
        if (cnt == 1) a[0] = 0.5f, b[0] = -1.0f; /* a negative sum */
        /* the float sum, rounded as the device rounds it, then ReLU */
        double *want = malloc(cnt * sizeof *want);
        size_t zeros = 0;
        for (size_t i = 0; i < cnt; i++) want[i] = (double)(a[i] + b[i]);
        ref_relu_forward(want, want, cnt);
        for (size_t i = 0; i < cnt; i++) zeros += want[i] == 0.0;
        assert_true(zeros > 0);
        rcl_tensor ta, tb, ty;
        tu_tensor(&ta, d[0], d[1], d[2], d[3], a);
        tu_tensor(&tb, d[0], d[1], d[2], d[3], b);
        tu_tensor(&ty, d[0], d[1], d[2], d[3], NULL);
        T_OK(rcl_add_relu(T_CTX, &ty, &ta, &tb));
        float *y = tu_read(&ty);
        assert_true(tu_close_f("add_relu", y, want, cnt, 0, 0));
        T_OK(rcl_add_relu(T_CTX, &ta, &ta, &tb)); /* in place */
        float *ya = tu_read(&ta);
        assert_true(tu_close_f("add_relu y==a", ya, want, cnt, 0, 0));
        rcl_tensor_destroy(&ta);
        rcl_tensor_destroy(&tb);
        assert_int_equal(rcl_add_relu(T_CTX, &ty, &ty, &ta), RCL_ERR_INVALID); /* no buffer */
        rcl_tensor_destroy(&ty);
        free(a), free(b), free(want), free(y), free(ya);
    }
}

static void test_add_invalid(void **state)
{
    (void)state;
    rcl_tensor a, b, c;
    tu_tensor(&a, 2, 3, 4, 5, NULL);
    tu_tensor(&b, 2, 3, 5, 4, NULL);
    tu_tensor(&c, 2, 3, 4, 5, NULL);
    assert_int_equal(rcl_add(T_CTX, &c, &a, &b), RCL_ERR_INVALID);
    assert_int_equal(rcl_add(T_CTX, &b, &a, &c), RCL_ERR_INVALID);
    rcl_tensor_destroy(&a);
    rcl_tensor_destroy(&b);
    rcl_tensor_destroy(&c);
}

typedef struct { int n, c, h, w, c2, s; const double *proj; double *y; size_t ycnt; } sc_fd;

/* loss = sum(shortcut(x) * proj) */
static double sc_loss(void *ud, const double *x)
{
    sc_fd *f = ud;
    ref_shortcut_pad_forward(f->y, x, f->n, f->c, f->h, f->w, f->c2, f->s);
    double s = 0;
    for (size_t i = 0; i < f->ycnt; i++) s += f->y[i] * f->proj[i];
    return s;
}

static void sc_case(int n, int c, int h, int w, int c2, int s, int fd, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    const int oh = (h + s - 1) / s, ow = (w + s - 1) / s;
    size_t cnt = (size_t)n * c * h * w, ycnt = (size_t)n * c2 * oh * ow;
    float *x = malloc(cnt * sizeof *x), *dy = malloc(ycnt * sizeof *dy);
    tu_fill(&r, x, cnt, -2, 2);
    tu_fill(&r, dy, ycnt, -1, 1);
    double *xd = tu_f2d(x, cnt), *dyd = tu_f2d(dy, ycnt);
    double *yref = malloc(ycnt * sizeof *yref), *dxref = malloc(cnt * sizeof *dxref);
    ref_shortcut_pad_forward(yref, xd, n, c, h, w, c2, s);
    ref_shortcut_pad_backward(dxref, dyd, n, c, h, w, c2, s);
    if (fd) {
        double *g = malloc(cnt * sizeof *g), *yt = malloc(ycnt * sizeof *yt);
        sc_fd f = {n, c, h, w, c2, s, dyd, yt, ycnt};
        tu_fd_grad(sc_loss, &f, xd, cnt, 1e-6, g);
        assert_true(tu_close_d("shortcut ref dx vs fd", dxref, g, cnt, 1e-8, 1e-8));
        free(g), free(yt);
    }
    rcl_tensor tx, ty, tdy, tdx;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&ty, n, c2, oh, ow, NULL);
    tu_tensor(&tdy, n, c2, oh, ow, dy);
    tu_tensor(&tdx, n, c, h, w, NULL);
    T_OK(rcl_tensor_fill(T_CTX, &ty, 9.0f));  /* padding must be written as 0 */
    T_OK(rcl_tensor_fill(T_CTX, &tdx, 9.0f)); /* so must skipped positions */
    T_OK(rcl_shortcut_pad_forward(T_CTX, &ty, &tx, s));
    T_OK(rcl_shortcut_pad_backward(T_CTX, &tdx, &tdy, s));
    float *y = tu_read(&ty), *dx = tu_read(&tdx);
    assert_true(tu_close_f("shortcut forward", y, yref, ycnt, 0, 0));
    assert_true(tu_close_f("shortcut backward", dx, dxref, cnt, 0, 0));
    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&ty);
    rcl_tensor_destroy(&tdy);
    rcl_tensor_destroy(&tdx);
    free(x), free(dy), free(xd), free(dyd), free(yref), free(dxref), free(y), free(dx);
}

static void test_shortcut_shapes(void **state)
{
    (void)state;
    sc_case(3, 5, 7, 7, 9, 2, 1, 1);      /* 7x7 -> 4x4, 2 zero channels each side */
    sc_case(2, 16, 7, 7, 32, 2, 1, 2);    /* 16 -> 32 channels on an odd size */
    sc_case(2, 16, 32, 32, 32, 2, 0, 3);  /* CIFAR stage transition */
    sc_case(2, 3, 9, 8, 3, 2, 1, 4);      /* no channel padding */
    sc_case(2, 4, 5, 6, 8, 1, 1, 5);      /* stride 1: channel padding only */
    sc_case(1, 2, 10, 7, 4, 3, 1, 6);     /* stride 3 */
}

static void test_shortcut_invalid(void **state)
{
    (void)state;
    rcl_tensor x, y, yodd, ysmall, yhw;
    tu_tensor(&x, 2, 16, 7, 7, NULL);
    tu_tensor(&y, 2, 32, 4, 4, NULL);
    tu_tensor(&yodd, 2, 31, 4, 4, NULL);
    tu_tensor(&ysmall, 2, 8, 4, 4, NULL);
    tu_tensor(&yhw, 2, 32, 3, 3, NULL);
    T_OK(rcl_shortcut_pad_forward(T_CTX, &y, &x, 2));
    assert_int_equal(rcl_shortcut_pad_forward(T_CTX, &yodd, &x, 2), RCL_ERR_INVALID);
    assert_int_equal(rcl_shortcut_pad_forward(T_CTX, &ysmall, &x, 2), RCL_ERR_INVALID);
    assert_int_equal(rcl_shortcut_pad_forward(T_CTX, &yhw, &x, 2), RCL_ERR_INVALID);
    assert_int_equal(rcl_shortcut_pad_forward(T_CTX, &y, &x, 0), RCL_ERR_INVALID);
    assert_int_equal(rcl_shortcut_pad_forward(T_CTX, &y, &x, 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_shortcut_pad_backward(T_CTX, &x, &yodd, 2), RCL_ERR_INVALID);
    assert_int_equal(rcl_shortcut_pad_backward(T_CTX, &x, &yhw, 2), RCL_ERR_INVALID);
    rcl_tensor_destroy(&x);
    rcl_tensor_destroy(&y);
    rcl_tensor_destroy(&yodd);
    rcl_tensor_destroy(&ysmall);
    rcl_tensor_destroy(&yhw);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_add_shapes),
    cmocka_unit_test(test_add_invalid),
    cmocka_unit_test(test_add_relu),
    cmocka_unit_test(test_shortcut_shapes),
    cmocka_unit_test(test_shortcut_invalid),
};

RCL_TEST_MAIN("add", tests)
