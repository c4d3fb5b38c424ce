/* Linear: reference backward vs finite differences, device forward and
 * backward vs the reference (4-D input flattened to IN = C*H*W, with and
 * without bias), a hand-computed case, and invalid arguments. */
#include "harness.h"
#include "ref/ref_linear.h"

#include <stdlib.h>
#include <string.h>

/* loss = sum((x w^T + b) * proj); `which` selects the argument varied */
typedef struct lin_fd {
    int n, in, out;
    const double *x, *w, *b, *proj;
    int which;   /* 0 x, 1 w, 2 b */
    double *y;
} lin_fd;

static double lin_loss(void *ud, const double *v)
{
    lin_fd *f = ud;
    ref_linear_forward(f->y, f->which == 0 ? v : f->x, f->which == 1 ? v : f->w,
                       f->which == 2 ? v : f->b, f->n, f->in, f->out);
    double acc = 0;
    for (size_t i = 0; i < (size_t)f->n * f->out; i++) acc += f->y[i] * f->proj[i];
    return acc;
}

static void fd_check(const char *what, lin_fd *f, int which, const double *v, size_t n,
                     const double *want)
{
    double *copy = malloc(n * sizeof *copy), *g = malloc(n * sizeof *g);
    memcpy(copy, v, n * sizeof *copy);
    f->which = which;
    tu_fd_grad(lin_loss, f, copy, n, 1e-3, g);
    /* linear in each argument: central differences exact up to rounding */
    assert_true(tu_close_d(what, want, g, n, 1e-7, 1e-8));
    free(copy), free(g);
}

/* x (n,c,h,w) -> y (n,out,1,1) */
static void linear_case(int n, int c, int h, int w, int out, int bias, uint64_t seed)
{
    int in = c * h * w;
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out, nb = (size_t)out;
    tu_rng r = tu_rng_seed(seed);
    float *x = malloc(nx * 4), *wt = malloc(nw * 4), *b = malloc(nb * 4), *dy = malloc(ny * 4);
    tu_fill(&r, x, nx, -1, 1);
    tu_fill(&r, wt, nw, -1, 1);
    tu_fill(&r, b, nb, -1, 1);
    tu_fill(&r, dy, ny, -1, 1);
    double *xd = tu_f2d(x, nx), *wd = tu_f2d(wt, nw), *bd = tu_f2d(b, nb), *dyd = tu_f2d(dy, ny);
    double *yref = malloc(ny * 8), *dxref = malloc(nx * 8), *dwref = malloc(nw * 8);
    double *dbref = malloc(nb * 8), *ytmp = malloc(ny * 8);
    ref_linear_forward(yref, xd, wd, bias ? bd : NULL, n, in, out);
    ref_linear_backward(dxref, dwref, dbref, dyd, xd, wd, n, in, out);
    lin_fd f = {n, in, out, xd, wd, bd, dyd, 0, ytmp};
    fd_check("linear ref dx vs fd", &f, 0, xd, nx, dxref);
    fd_check("linear ref dw vs fd", &f, 1, wd, nw, dwref);
    fd_check("linear ref db vs fd", &f, 2, bd, nb, dbref);

    rcl_tensor tx, tw, tb, ty, tdy, tdx, tdw, tdb;
    tu_tensor(&tx, n, c, h, w, x);
    tu_tensor(&tw, out, in, 1, 1, wt);
    tu_tensor(&tb, out, 1, 1, 1, b);
    tu_tensor(&ty, n, out, 1, 1, NULL);
    tu_tensor(&tdy, n, out, 1, 1, dy);
    tu_tensor(&tdx, n, c, h, w, NULL);
    tu_tensor(&tdw, out, in, 1, 1, NULL);
    tu_tensor(&tdb, out, 1, 1, 1, NULL);
    /* garbage in the outputs: forward and backward must overwrite */
    T_OK(rcl_tensor_fill(T_CTX, &ty, 1234.5f));
    T_OK(rcl_tensor_fill(T_CTX, &tdx, 1234.5f));
    T_OK(rcl_tensor_fill(T_CTX, &tdw, 1234.5f));
    T_OK(rcl_tensor_fill(T_CTX, &tdb, 1234.5f));
    T_OK(rcl_linear_forward(T_CTX, &ty, &tx, &tw, bias ? &tb : NULL));
    T_OK(rcl_linear_backward(T_CTX, &tdx, &tdw, &tdb, &tdy, &tx, &tw));
    float *y = tu_read(&ty), *dx = tu_read(&tdx), *dw = tu_read(&tdw), *db = tu_read(&tdb);
    assert_true(tu_close_f("linear forward", y, yref, ny, 1e-4, 1e-4));
    assert_true(tu_close_f("linear dx", dx, dxref, nx, 1e-4, 1e-4));
    assert_true(tu_close_f("linear dw", dw, dwref, nw, 1e-4, 1e-4));
    assert_true(tu_close_f("linear db", db, dbref, nb, 1e-4, 1e-4));
    free(dw);
    /* dw alone, the others NULL */
    T_OK(rcl_tensor_fill(T_CTX, &tdw, 1234.5f));
    T_OK(rcl_linear_backward(T_CTX, NULL, &tdw, NULL, &tdy, &tx, &tw));
    dw = tu_read(&tdw);
    assert_true(tu_close_f("linear dw alone", dw, dwref, nw, 1e-4, 1e-4));

    rcl_tensor *all[] = {&tx, &tw, &tb, &ty, &tdy, &tdx, &tdw, &tdb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rcl_tensor_destroy(all[i]);
    free(x), free(wt), free(b), free(dy), free(xd), free(wd), free(bd), free(dyd);
    free(yref), free(dxref), free(dwref), free(dbref), free(ytmp), free(y), free(dx), free(dw);
    free(db);
}

static void test_linear_shapes(void **state)
{
    (void)state;
    linear_case(3, 5, 2, 2, 7, 1, 1);    /* 4-D input flattened: IN = 20 */
    linear_case(3, 5, 2, 2, 7, 0, 2);
    linear_case(1, 1, 1, 1, 1, 1, 3);
    linear_case(4, 10, 1, 1, 3, 1, 4);   /* (N,IN,1,1) as after global pooling */
    linear_case(5, 3, 3, 3, 10, 0, 5);
    linear_case(67, 16, 1, 1, 10, 1, 6); /* batch larger than one reduction group pass */
}

/* Hand-computed: y = x W^T + b */
static void test_linear_exact(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4}, w[6] = {1, 0, 0, 1, 1, 1}, b[3] = {10, 20, 30}, y[6];
    const double want[6] = {11, 22, 33, 13, 24, 37};
    rcl_tensor tx, tw, tb, ty;
    tu_tensor(&tx, 2, 2, 1, 1, x);
    tu_tensor(&tw, 3, 2, 1, 1, w);
    tu_tensor(&tb, 3, 1, 1, 1, b);
    tu_tensor(&ty, 2, 3, 1, 1, NULL);
    T_OK(rcl_linear_forward(T_CTX, &ty, &tx, &tw, &tb));
    T_OK(rcl_tensor_read(T_CTX, &ty, y));
    assert_true(tu_close_f("linear exact", y, want, 6, 0, 0));
    rcl_tensor_destroy(&tx), rcl_tensor_destroy(&tw), rcl_tensor_destroy(&tb);
    rcl_tensor_destroy(&ty);
}

static void test_linear_invalid(void **state)
{
    (void)state;
    rcl_tensor x, w, wbad, w4d, y, ybad, b, bbad, dx, dxbad, dw, db;
    tu_tensor(&x, 3, 4, 2, 2, NULL);     /* IN = 16 */
    tu_tensor(&w, 5, 16, 1, 1, NULL);
    tu_tensor(&wbad, 5, 15, 1, 1, NULL);
    tu_tensor(&w4d, 5, 4, 2, 2, NULL);   /* not (OUT,IN,1,1) */
    tu_tensor(&y, 3, 5, 1, 1, NULL);
    tu_tensor(&ybad, 3, 5, 1, 2, NULL);
    tu_tensor(&b, 5, 1, 1, 1, NULL);
    tu_tensor(&bbad, 4, 1, 1, 1, NULL);
    tu_tensor(&dx, 3, 4, 2, 2, NULL);
    tu_tensor(&dxbad, 3, 16, 1, 1, NULL);
    tu_tensor(&dw, 5, 16, 1, 1, NULL);
    tu_tensor(&db, 5, 1, 1, 1, NULL);
    T_OK(rcl_linear_forward(T_CTX, &y, &x, &w, &b));
    T_OK(rcl_linear_backward(T_CTX, &dx, &dw, &db, &y, &x, &w));
    assert_int_equal(rcl_linear_forward(T_CTX, &y, &x, &wbad, NULL), RCL_ERR_INVALID);
    assert_int_equal(rcl_linear_forward(T_CTX, &y, &x, &w4d, NULL), RCL_ERR_INVALID);
    assert_int_equal(rcl_linear_forward(T_CTX, &ybad, &x, &w, NULL), RCL_ERR_INVALID);
    assert_int_equal(rcl_linear_forward(T_CTX, &y, &x, &w, &bbad), RCL_ERR_INVALID);
    assert_int_equal(rcl_linear_backward(T_CTX, &dx, NULL, NULL, &ybad, &x, &w), RCL_ERR_INVALID);
    assert_int_equal(rcl_linear_backward(T_CTX, &dxbad, NULL, NULL, &y, &x, &w), RCL_ERR_INVALID);
    assert_int_equal(rcl_linear_backward(T_CTX, NULL, &wbad, NULL, &y, &x, &w), RCL_ERR_INVALID);
    assert_int_equal(rcl_linear_backward(T_CTX, NULL, NULL, &bbad, &y, &x, &w), RCL_ERR_INVALID);
    rcl_tensor *all[] = {&x, &w, &wbad, &w4d, &y, &ybad, &b, &bbad, &dx, &dxbad, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rcl_tensor_destroy(all[i]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_linear_exact),
    cmocka_unit_test(test_linear_shapes),
    cmocka_unit_test(test_linear_invalid),
};

RCL_TEST_MAIN("linear", tests)
