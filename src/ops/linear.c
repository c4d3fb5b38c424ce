/* Linear (PyTorch nn.Linear) host side: GEMMs plus the bias kernels of
 * cl/bias.cl. x is read as the row-major matrix X[N, IN], IN = C*H*W.
 *   forward   Y[N,OUT] = X W^T (+ b)
 *   backward  dX[N,IN] = dY W;  dW[OUT,IN] = dY^T X;  db = sum_n dY[n,:] */
#include "ops/bias.h"
#include "runtime/internal.h"
#include "rcl/gemm.h"
#include "rcl/ops.h"

#include <limits.h>

typedef struct linear_geom {
    int N, IN, OUT;
} linear_geom;

static int linear_geometry(const char *what, const rcl_tensor *x, const rcl_tensor *w,
                           linear_geom *g)
{
    if (!x || !w) return rcl_fail(RCL_ERR_INVALID, "%s: NULL x or w", what);
    size_t in = (size_t)x->c * x->h * x->w;
    if (x->n <= 0 || in == 0 || w->n <= 0 || in > INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: bad x (%d,%d,%d,%d) or w", what, x->n, x->c, x->h,
                        x->w);
    if ((size_t)w->c != in || w->h != 1 || w->w != 1)
        return rcl_fail(RCL_ERR_INVALID, "%s: w (%d,%d,%d,%d) is not (OUT,%zu,1,1)", what, w->n,
                        w->c, w->h, w->w, in);
    g->N = x->n, g->IN = (int)in, g->OUT = w->n;
    return RCL_OK;
}

static int linear_out_ok(const char *what, const rcl_tensor *y, const linear_geom *g)
{
    if (!y || y->n != g->N || y->c != g->OUT || y->h != 1 || y->w != 1)
        return rcl_fail(RCL_ERR_INVALID, "%s: output must be (%d,%d,1,1)", what, g->N, g->OUT);
    return RCL_OK;
}

static int linear_bias_ok(const char *what, const rcl_tensor *b, int out)
{
    if (b && rcl_t_count(b) != (size_t)out)
        return rcl_fail(RCL_ERR_INVALID, "%s: bias (%d,%d,%d,%d) is not %d values", what, b->n,
                        b->c, b->h, b->w, out);
    return RCL_OK;
}

/* x (N,C,H,W) as (N,IN), w (OUT,IN,1,1), b (OUT,1,1,1) or NULL -> y (N,OUT,1,1) */
int rcl_linear_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x, const rcl_tensor *w,
                       const rcl_tensor *b)
{
    linear_geom g = {0};
    RCL_TRY(linear_geometry("linear_forward", x, w, &g));
    RCL_TRY(linear_out_ok("linear_forward y", y, &g));
    RCL_TRY(linear_bias_ok("linear_forward", b, g.OUT));
    RCL_TRY(rcl_gemm(ctx, 0, 1, g.N, g.OUT, g.IN, 1.0f, x->buf, 0, g.IN, w->buf, 0, g.IN, 0.0f,
                     y->buf, 0, g.OUT, "linear_gemm"));
    return b ? rcl_bias_add(ctx, y->buf, b->buf, g.N, g.OUT, 1) : RCL_OK;
}

/* dy (N,OUT,1,1) -> dx (N,C,H,W), dw (OUT,IN,1,1), db (OUT,1,1,1); any may be NULL */
int rcl_linear_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dw, rcl_tensor *db,
                        const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *w)
{
    linear_geom g = {0};
    RCL_TRY(linear_geometry("linear_backward", x, w, &g));
    RCL_TRY(linear_out_ok("linear_backward dy", dy, &g));
    if (dx) RCL_TRY(rcl_check_same(dx, x, "linear_backward dx"));
    if (dw) RCL_TRY(rcl_check_same(dw, w, "linear_backward dw"));
    RCL_TRY(linear_bias_ok("linear_backward db", db, g.OUT));
    if (dx)
        RCL_TRY(rcl_gemm(ctx, 0, 0, g.N, g.IN, g.OUT, 1.0f, dy->buf, 0, g.OUT, w->buf, 0, g.IN,
                         0.0f, dx->buf, 0, g.IN, "linear_gemm"));
    if (dw)
        RCL_TRY(rcl_gemm(ctx, 1, 0, g.OUT, g.IN, g.N, 1.0f, dy->buf, 0, g.OUT, x->buf, 0, g.IN,
                         0.0f, dw->buf, 0, g.IN, "linear_gemm"));
    if (db) RCL_TRY(rcl_bias_grad(ctx, db->buf, dy->buf, g.N, g.OUT, 1));
    return RCL_OK;
}
