/* ReLU: device vs reference forward, reference backward vs finite
 * differences, device backward vs reference backward. */
#include "harness.h"
#include "ref/ref_relu.h"

#include <stdlib.h>

typedef struct { size_t n; const double *proj; } relu_fd;

/* loss = sum(relu(x) * proj) */
static double relu_loss(void *ud, const double *x)
{
    relu_fd *f = ud;
    double s = 0;
    for (size_t i = 0; i < f->n; i++) s += (x[i] > 0 ? x[i] : 0) * f->proj[i];
    return s;
}

static void relu_case(int n, int c, int h, int w, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    size_t cnt = (size_t)n * c * h * w;
    float *x = malloc(cnt * sizeof *x), *dy = malloc(cnt * sizeof *dy);
    tu_fill_away_from_zero(&r, x, cnt, 0.05, 2.0);
    tu_fill(&r, dy, cnt, -1, 1);

    double *xd = tu_f2d(x, cnt), *dyd = tu_f2d(dy, cnt);
    double *yref = malloc(cnt * sizeof(double)), *dxref = malloc(cnt * sizeof(double));
    double *dxfd = malloc(cnt * sizeof(double));
    ref_relu_forward(yref, xd, cnt);
    ref_relu_backward(dxref, dyd, yref, cnt);
    relu_fd f = {cnt, dyd};
    tu_fd_grad(relu_loss, &f, xd, cnt, 1e-6, dxfd);
    assert_true(tu_close_d("relu ref backward vs fd", dxref, dxfd, cnt, 1e-6, 1e-7));

    rcl_tensor tx, ty, tdy, tdx;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&ty, n, c, h, w, NULL);
    tu_tensor(&tdy, n, c, h, w, dy);
    tu_tensor(&tdx, n, c, h, w, NULL);
    T_OK(rcl_relu_forward(T_CTX, &ty, &tx));
    T_OK(rcl_relu_backward(T_CTX, &tdx, &tdy, &ty));
    float *y = tu_read(&ty), *dx = tu_read(&tdx);
    assert_true(tu_close_f("relu forward", y, yref, cnt, 0, 0));
    assert_true(tu_close_f("relu backward", dx, dxref, cnt, 0, 0));

    rcl_tensor_destroy(&tx);
    rcl_tensor_destroy(&ty);
    rcl_tensor_destroy(&tdy);
    rcl_tensor_destroy(&tdx);
    free(x), free(dy), free(xd), free(dyd), free(yref), free(dxref), free(dxfd), free(y), free(dx);
}

static void test_relu_shapes(void **state)
{
    (void)state;
    relu_case(1, 1, 1, 1, 1);
    relu_case(3, 5, 7, 7, 2);
    relu_case(2, 3, 13, 11, 3);
    relu_case(4, 16, 8, 8, 4);
}

static void test_relu_shape_mismatch(void **state)
{
    (void)state;
    rcl_tensor a, b;
    tu_tensor(&a, 2, 3, 4, 5, NULL);
    tu_tensor(&b, 2, 3, 4, 6, NULL);
    assert_int_equal(rcl_relu_forward(T_CTX, &a, &b), RCL_ERR_INVALID);
    rcl_tensor_destroy(&a);
    rcl_tensor_destroy(&b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_relu_shapes),
    cmocka_unit_test(test_relu_shape_mismatch),
};

RCL_TEST_MAIN("relu", tests)
