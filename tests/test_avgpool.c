/* Global average pool: reference backward vs finite differences, device
 * forward and backward vs the reference (planes smaller and larger than the
 * reduction work-group, a non-default work-group size), invalid shapes. */
#include "harness.h"
#include "ref/ref_avgpool.h"

#include <stdlib.h>

typedef struct { int n, c, h, w; const double *proj; double *y; } ap_fd;

/* loss = sum(avgpool(x) * proj) */
static double ap_loss(void *ud, const double *x)
{
    ap_fd *f = ud;
    ref_avgpool_global_forward(f->y, x, f->n, f->c, f->h, f->w);
    double s = 0;
    for (int i = 0; i < f->n * f->c; i++) s += f->y[i] * f->proj[i];
    return s;
}

static void ap_case(int n, int c, int h, int w, int fd, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    size_t cnt = (size_t)n * c * h * w, rows = (size_t)n * c;
    float *x = malloc(cnt * sizeof *x), *dy = malloc(rows * sizeof *dy);
    tu_fill(&r, x, cnt, -2, 3);
    tu_fill(&r, dy, rows, -1, 1);
    double *xd = tu_f2d(x, cnt), *dyd = tu_f2d(dy, rows);
    double *yref = malloc(rows * sizeof *yref), *dxref = malloc(cnt * sizeof *dxref);
    ref_avgpool_global_forward(yref, xd, n, c, h, w);
    ref_avgpool_global_backward(dxref, dyd, n, c, h, w);
    if (fd) {
        double *g = malloc(cnt * sizeof *g), *yt = malloc(rows * sizeof *yt);
        ap_fd f = {n, c, h, w, dyd, yt};
        tu_fd_grad(ap_loss, &f, xd, cnt, 1e-6, g);
        assert_true(tu_close_d("avgpool ref dx vs fd", dxref, g, cnt, 1e-6, 1e-8));
        free(g), free(yt);
    }
    rcl_tensor tx, ty, tdy, tdx;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&ty, n, c, 1, 1, NULL);
    tu_tensor(&tdy, n, c, 1, 1, dy);
    tu_tensor(&tdx, n, c, h, w, NULL);
    T_OK(rcl_avgpool_global_forward(T_CTX, &ty, &tx));
    T_OK(rcl_avgpool_global_backward(T_CTX, &tdx, &tdy));
    float *y = tu_read(&ty), *dx = tu_read(&tdx);
    assert_true(tu_close_f("avgpool forward", y, yref, rows, 1e-5, 1e-6));
    assert_true(tu_close_f("avgpool backward", dx, dxref, cnt, 1e-6, 0));
    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&ty);
    rcl_tensor_destroy(&tdy);
    rcl_tensor_destroy(&tdx);
    free(x), free(dy), free(xd), free(dyd), free(yref), free(dxref), free(y), free(dx);
}

static void test_avgpool_shapes(void **state)
{
    (void)state;
    ap_case(3, 5, 7, 7, 1, 1);
    ap_case(2, 3, 1, 1, 1, 2);
    ap_case(2, 4, 9, 8, 1, 3);
    ap_case(4, 64, 8, 8, 0, 4);    /* CIFAR ResNet head */
    ap_case(2, 16, 56, 56, 0, 5);  /* plane much larger than the work-group */
}

static void test_avgpool_small_workgroup(void **state)
{
    (void)state;
    T_OK(rcl_ctx_set_param(T_CTX, "avgpool", "WG", 8));
    ap_case(3, 5, 7, 7, 0, 11);
    ap_case(2, 3, 1, 1, 0, 12);
    T_OK(rcl_ctx_set_param(T_CTX, "avgpool", "WG", 64));
}

static void test_avgpool_invalid(void **state)
{
    (void)state;
    rcl_tensor x, y, yb, yc;
    tu_tensor(&x, 2, 3, 4, 5, NULL);
    tu_tensor(&y, 2, 3, 1, 1, NULL);
    tu_tensor(&yb, 2, 4, 1, 1, NULL);
    tu_tensor(&yc, 2, 3, 1, 2, NULL);
    T_OK(rcl_avgpool_global_forward(T_CTX, &y, &x));
    assert_int_equal(rcl_avgpool_global_forward(T_CTX, &yb, &x), RCL_ERR_INVALID);
    assert_int_equal(rcl_avgpool_global_forward(T_CTX, &yc, &x), RCL_ERR_INVALID);
    assert_int_equal(rcl_avgpool_global_backward(T_CTX, &x, &yb), RCL_ERR_INVALID);
    assert_int_equal(rcl_avgpool_global_backward(T_CTX, &x, &yc), RCL_ERR_INVALID);
    rcl_tensor_destroy(&x);
    rcl_tensor_destroy(&y);
    rcl_tensor_destroy(&yb);
    rcl_tensor_destroy(&yc);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_avgpool_shapes),
    cmocka_unit_test(test_avgpool_small_workgroup),
    cmocka_unit_test(test_avgpool_invalid),
};

RCL_TEST_MAIN("avgpool", tests)
