/* BatchNorm2d host side (kernels in cl/batchnorm.cl): plane kernels over a
 * 2-D range (images, channels), per-channel folds over a 1-D range of C;
 * the plane partials (2 floats per plane) live in scratch slot COL. */
#include "ops/batchnorm_plane.h"
#include "runtime/internal.h"
#include "rcl/ops.h"

#include <limits.h>
#include <stdio.h>

int rcl_bn_plane_range(int N, int C, int HW, size_t wg, size_t g[2], size_t l[2])
{
    int cpi = HW >= RCL_BN_PLANE_SPAN ? 1 : (RCL_BN_PLANE_SPAN + HW - 1) / HW;
    if (cpi > C) cpi = C;
    g[0] = (size_t)((C + cpi - 1) / cpi), g[1] = (size_t)N;
    l[0] = wg, l[1] = 1;
    return cpi;
}

/* The per-channel kernels' work-group size (bn_chan CHAN_WG) */
static size_t bn_chan_wg(rcl_ctx *ctx)
{
    return rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_BN_CHAN_WG));
}

/* Kernel `name` of batchnorm.cl; *wg receives the plane kernels' work-group
 * size (WG), *bn_wg that of the per-channel folds (the per-channel kernels
 * take bn_chan_wg). One program per option triple. */
static int bn_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg, size_t *bn_wg)
{
    size_t w = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_BN_WG));
    size_t b = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_BN_STATS_WG));
    char opts[96];
    snprintf(opts, sizeof opts, "-DWG=%zu -DBN_WG=%zu -DCHAN_WG=%zu", w, b, bn_chan_wg(ctx));
    if (wg) *wg = w;
    if (bn_wg) *bn_wg = b;
    return rcl_ctx_kernel(ctx, "batchnorm.cl", name, opts, k);
}

/* The elementwise kernels' nt argument: outputs shaped as x past the
 * caches (runtime/internal.h rcl_stream_out) */
static int bn_nt(const rcl_ctx *ctx, const rcl_tensor *x)
{
    return rcl_stream_out(ctx, rcl_t_count(x) * sizeof(float));
}

/* The per-channel kernels (cl/batchnorm.cl bn_chan_*) for this shape: bn
 * CHAN 1, planes of at least RCL_BN_CHAN_MIN_HW floats (smaller ones take
 * several channels a work-item in the plane kernels) and at least
 * RCL_BN_CHAN_PER_CU channels a compute unit (enough work-groups to share
 * out: a GPU's many units keep the plane kernels' N*C items) */
int rcl_bn_chan_use(const rcl_ctx *ctx, int C, int HW)
{
    return rcl_tun(ctx, RCL_TUN_BN_CHAN) && HW >= RCL_BN_CHAN_MIN_HW &&
           C >= RCL_BN_CHAN_PER_CU * (int)rcl_ctx_device(ctx)->compute_units;
}

/* bn_chan_train over C work-groups (relu 0: bn_apply's y, 1: bn_apply_relu's) */
static int bn_chan_train(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                         rcl_tensor *save_invstd, rcl_tensor *running_mean,
                         rcl_tensor *running_var, const rcl_tensor *x, const rcl_tensor *res,
                         const rcl_tensor *gamma, const rcl_tensor *beta, float momentum,
                         float eps, int relu, cl_mem part)
{
    cl_kernel k;
    size_t wg = bn_chan_wg(ctx);
    RCL_TRY(bn_kernel(ctx, "bn_chan_train", &k, NULL, NULL));
    const int update = running_mean || running_var;
    size_t gs = (size_t)x->c * wg;
    return RCL_LAUNCH(ctx, k, "bn", 1, &gs, &wg, RCL_MEM(y->buf), RCL_MEM(save_mean->buf),
                      RCL_MEM(save_invstd->buf),
                      RCL_MEM(update ? running_mean->buf : save_mean->buf),
                      RCL_MEM(update ? running_var->buf : save_invstd->buf), RCL_MEM(part),
                      RCL_MEM(x->buf), RCL_MEM(res ? res->buf : x->buf), RCL_MEM(gamma->buf),
                      RCL_MEM(beta->buf), RCL_I32(x->n), RCL_I32(x->c), RCL_I32(x->h * x->w),
                      RCL_F32(momentum), RCL_F32(eps), RCL_I32(update), RCL_I32(relu),
                      RCL_I32(res != NULL), RCL_I32(bn_nt(ctx, x)));
}

/* bn_chan_bwd over C work-groups: the sums into sdy/sdyx, dx when given;
 * relu 1: of g = (y > 0 ? dy : 0), also dres = g when given */
static int bn_chan_bwd(rcl_ctx *ctx, rcl_tensor *dx, cl_mem sdy, cl_mem sdyx, rcl_tensor *dres,
                       const rcl_tensor *dy, const rcl_tensor *y, const rcl_tensor *x,
                       const rcl_tensor *gamma, const rcl_tensor *save_mean,
                       const rcl_tensor *save_invstd, int relu, cl_mem part)
{
    cl_kernel k;
    size_t wg = bn_chan_wg(ctx);
    RCL_TRY(bn_kernel(ctx, "bn_chan_bwd", &k, NULL, NULL));
    size_t gs = (size_t)x->c * wg;
    return RCL_LAUNCH(ctx, k, "bn", 1, &gs, &wg, RCL_MEM(dx ? dx->buf : part), RCL_MEM(sdy),
                      RCL_MEM(sdyx), RCL_MEM(dres ? dres->buf : part), RCL_MEM(part),
                      RCL_MEM(dy->buf), RCL_MEM(y ? y->buf : x->buf), RCL_MEM(x->buf),
                      RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf), RCL_MEM(gamma->buf),
                      RCL_I32(x->n), RCL_I32(x->c), RCL_I32(x->h * x->w), RCL_I32(relu),
                      RCL_I32(dres != NULL), RCL_I32(dx != NULL), RCL_I32(bn_nt(ctx, x)));
}

/* A per-channel vector must hold exactly C floats, e.g. (C,1,1,1). */
static int bn_check_vec(const rcl_tensor *t, int c, const char *op, const char *what)
{
    if (!t || !t->buf) return rcl_fail(RCL_ERR_INVALID, "%s: %s missing", op, what);
    if (rcl_t_count(t) != (size_t)c)
        return rcl_fail(RCL_ERR_INVALID, "%s: %s (%d,%d,%d,%d) must hold C=%d values", op, what,
                        t->n, t->c, t->h, t->w, c);
    return RCL_OK;
}

static int bn_check_x(const rcl_tensor *x, const char *op)
{
    if (!x || !x->buf || x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty or missing input", op);
    if (rcl_t_count(x) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    return RCL_OK;
}

/* res must match x when given. */
static int bn_check_res(const rcl_tensor *res, const rcl_tensor *x, const char *op)
{
    if (!res) return RCL_OK;
    if (!res->buf) return rcl_fail(RCL_ERR_INVALID, "%s: residual has no buffer", op);
    return rcl_check_same(res, x, op);
}

/* The training forward of rcl_batchnorm_forward_train (relu 0: y =
 * bn_train(x)) and rcl_batchnorm_relu_forward_train (relu 1: y =
 * relu(bn_train(x) [+ res])): the statistics, then one pass for normalise
 * (add, ReLU); or both in bn_chan_train where rcl_bn_chan_use says. */
static int bn_forward_train(rcl_ctx *ctx, const char *op, rcl_tensor *y, rcl_tensor *save_mean,
                            rcl_tensor *save_invstd, rcl_tensor *running_mean,
                            rcl_tensor *running_var, const rcl_tensor *x, const rcl_tensor *res,
                            const rcl_tensor *gamma, const rcl_tensor *beta, float momentum,
                            float eps, int relu)
{
    RCL_TRY(bn_check_x(x, op));
    if (!y) return rcl_fail(RCL_ERR_INVALID, "%s: y missing", op);
    RCL_TRY(rcl_check_same(y, x, op));
    RCL_TRY(bn_check_res(res, x, op));
    const int C = x->c, HW = x->h * x->w, M = x->n * HW;
    if (M < 2)
        return rcl_fail(RCL_ERR_INVALID,
                        "%s: need more than 1 value per channel in training (N*H*W = %d)", op, M);
    if (!(eps > 0.0f)) return rcl_fail(RCL_ERR_INVALID, "%s: eps must be > 0", op);
    RCL_TRY(bn_check_vec(save_mean, C, op, "save_mean"));
    RCL_TRY(bn_check_vec(save_invstd, C, op, "save_invstd"));
    RCL_TRY(bn_check_vec(gamma, C, op, "gamma"));
    RCL_TRY(bn_check_vec(beta, C, op, "beta"));
    const int update = running_mean || running_var;
    if (update) {
        RCL_TRY(bn_check_vec(running_mean, C, op, "running_mean"));
        RCL_TRY(bn_check_vec(running_var, C, op, "running_var"));
    }

    const int N = x->n;
    cl_mem part;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, 2 * (size_t)N * C * sizeof(float), &part));
    if (rcl_bn_chan_use(ctx, C, HW))
        return bn_chan_train(ctx, y, save_mean, save_invstd, running_mean, running_var, x, res,
                             gamma, beta, momentum, eps, relu, part);
    cl_kernel kp, ks, ka;
    size_t wg, bn_wg;
    RCL_TRY(bn_kernel(ctx, "bn_plane_stats", &kp, &wg, &bn_wg));
    RCL_TRY(bn_kernel(ctx, "bn_stats", &ks, NULL, NULL));
    RCL_TRY(bn_kernel(ctx, relu ? "bn_apply_relu" : "bn_apply", &ka, NULL, NULL));
    size_t g2[2], l2[2];
    const int cpi = rcl_bn_plane_range(N, C, HW, wg, g2, l2);
    RCL_TRY(RCL_LAUNCH(ctx, kp, "bn", 2, g2, l2, RCL_MEM(part), RCL_MEM(x->buf), RCL_I32(N),
                       RCL_I32(C), RCL_I32(HW), RCL_I32(cpi)));
    size_t gs = (size_t)C;
    cl_mem rm = update ? running_mean->buf : save_mean->buf;
    cl_mem rv = update ? running_var->buf : save_invstd->buf;
    RCL_TRY(RCL_LAUNCH(ctx, ks, "bn", 1, &gs, &bn_wg, RCL_MEM(save_mean->buf),
                       RCL_MEM(save_invstd->buf), RCL_MEM(rm), RCL_MEM(rv), RCL_MEM(part),
                       RCL_I32(N), RCL_I32(C), RCL_I32(HW), RCL_F32(momentum), RCL_F32(eps),
                       RCL_I32(update)));
    if (!relu)
        return RCL_LAUNCH(ctx, ka, "bn", 2, g2, l2, RCL_MEM(y->buf), RCL_MEM(x->buf),
                          RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf),
                          RCL_MEM(gamma->buf), RCL_MEM(beta->buf), RCL_I32(N), RCL_I32(C),
                          RCL_I32(HW), RCL_I32(cpi), RCL_I32(bn_nt(ctx, x)));
    return RCL_LAUNCH(ctx, ka, "bn", 2, g2, l2, RCL_MEM(y->buf), RCL_MEM(x->buf),
                      RCL_MEM(res ? res->buf : x->buf), RCL_MEM(save_mean->buf),
                      RCL_MEM(save_invstd->buf), RCL_MEM(gamma->buf), RCL_MEM(beta->buf),
                      RCL_I32(N), RCL_I32(C), RCL_I32(HW), RCL_I32(res != NULL), RCL_I32(cpi),
                      RCL_I32(bn_nt(ctx, x)));
}

/* x,y (N,C,H,W); per-channel vectors (C,1,1,1); running_* may both be NULL
 * (no running-stat update, as track_running_stats=False). */
int rcl_batchnorm_forward_train(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                                rcl_tensor *save_invstd, rcl_tensor *running_mean,
                                rcl_tensor *running_var, const rcl_tensor *x,
                                const rcl_tensor *gamma, const rcl_tensor *beta, float momentum,
                                float eps)
{
    return bn_forward_train(ctx, "batchnorm_forward_train", y, save_mean, save_invstd,
                            running_mean, running_var, x, NULL, gamma, beta, momentum, eps, 0);
}

/* x,y (N,C,H,W); per-channel vectors (C,1,1,1) */
int rcl_batchnorm_forward_eval(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                               const rcl_tensor *gamma, const rcl_tensor *beta,
                               const rcl_tensor *running_mean, const rcl_tensor *running_var,
                               float eps)
{
    static const char op[] = "batchnorm_forward_eval";
    RCL_TRY(bn_check_x(x, op));
    if (!y) return rcl_fail(RCL_ERR_INVALID, "%s: y missing", op);
    RCL_TRY(rcl_check_same(y, x, op));
    if (!(eps > 0.0f)) return rcl_fail(RCL_ERR_INVALID, "%s: eps must be > 0", op);
    const int C = x->c, HW = x->h * x->w;
    RCL_TRY(bn_check_vec(gamma, C, op, "gamma"));
    RCL_TRY(bn_check_vec(beta, C, op, "beta"));
    RCL_TRY(bn_check_vec(running_mean, C, op, "running_mean"));
    RCL_TRY(bn_check_vec(running_var, C, op, "running_var"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(bn_kernel(ctx, "bn_apply_eval", &k, &wg, NULL));
    size_t g2[2], l2[2];
    const int cpi = rcl_bn_plane_range(x->n, C, HW, wg, g2, l2);
    return RCL_LAUNCH(ctx, k, "bn", 2, g2, l2, RCL_MEM(y->buf), RCL_MEM(x->buf),
                      RCL_MEM(running_mean->buf), RCL_MEM(running_var->buf), RCL_MEM(gamma->buf),
                      RCL_MEM(beta->buf), RCL_F32(eps), RCL_I32(x->n), RCL_I32(C), RCL_I32(HW), RCL_I32(cpi));
}

/* dx = bn_bwd_dx of the gradient g (dy, or bn+relu's masked dy) over the
 * plane range g2/l2 of rcl_bn_plane_range (cpi channels per item), from
 * the sums sdy, sdyx */
static int bn_dx(rcl_ctx *ctx, const size_t g2[2], const size_t l2[2], int cpi, rcl_tensor *dx,
                 cl_mem g, const rcl_tensor *x, const rcl_tensor *gamma,
                 const rcl_tensor *save_mean, const rcl_tensor *save_invstd, cl_mem sdy,
                 cl_mem sdyx)
{
    cl_kernel kd;
    RCL_TRY(bn_kernel(ctx, "bn_bwd_dx", &kd, NULL, NULL));
    return RCL_LAUNCH(ctx, kd, "bn", 2, g2, l2, RCL_MEM(dx->buf), RCL_MEM(g), RCL_MEM(x->buf),
                      RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf), RCL_MEM(gamma->buf),
                      RCL_MEM(sdy), RCL_MEM(sdyx), RCL_I32(x->n), RCL_I32(x->c),
                      RCL_I32(x->h * x->w), RCL_I32(cpi), RCL_I32(bn_nt(ctx, x)));
}

/* The backward's vectors (C,1,1,1): gamma, save_mean, save_invstd, and
 * dgamma / dbeta where given */
static int bn_bwd_vecs(const char *op, int C, const rcl_tensor *gamma,
                       const rcl_tensor *save_mean, const rcl_tensor *save_invstd,
                       const rcl_tensor *dgamma, const rcl_tensor *dbeta)
{
    RCL_TRY(bn_check_vec(gamma, C, op, "gamma"));
    RCL_TRY(bn_check_vec(save_mean, C, op, "save_mean"));
    RCL_TRY(bn_check_vec(save_invstd, C, op, "save_invstd"));
    if (dgamma) RCL_TRY(bn_check_vec(dgamma, C, op, "dgamma"));
    if (dbeta) RCL_TRY(bn_check_vec(dbeta, C, op, "dbeta"));
    return RCL_OK;
}

/* Where the backward's sums land: *sdy in dbeta, *sdyx in dgamma when given,
 * else in scratch; *part the per-plane partial sums (2 x N x C floats) */
static int bn_bwd_scratch(rcl_ctx *ctx, const rcl_tensor *x, const rcl_tensor *dgamma,
                          const rcl_tensor *dbeta, cl_mem *sdy, cl_mem *sdyx, cl_mem *part)
{
    const size_t C = (size_t)x->c;
    if (dbeta) *sdy = dbeta->buf;
    else RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_RED, C * sizeof(float), sdy));
    if (dgamma) *sdyx = dgamma->buf;
    else RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, C * sizeof(float), sdyx));
    return rcl_scratch(ctx, RCL_SCRATCH_COL, 2 * (size_t)x->n * C * sizeof(float), part);
}

/* dy, x, dx (N,C,H,W); gamma, save_*, dgamma, dbeta (C,1,1,1); dx/dgamma/dbeta may be NULL */
int rcl_batchnorm_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma, rcl_tensor *dbeta,
                           const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *gamma,
                           const rcl_tensor *save_mean, const rcl_tensor *save_invstd)
{
    static const char op[] = "batchnorm_backward";
    RCL_TRY(bn_check_x(x, op));
    if (!dy) return rcl_fail(RCL_ERR_INVALID, "%s: dy missing", op);
    RCL_TRY(rcl_check_same(dy, x, op));
    if (dx) RCL_TRY(rcl_check_same(dx, x, op));
    const int C = x->c, HW = x->h * x->w;
    RCL_TRY(bn_bwd_vecs(op, C, gamma, save_mean, save_invstd, dgamma, dbeta));
    if (!dx && !dgamma && !dbeta) return RCL_OK;

    const int N = x->n;
    cl_mem sdy, sdyx, part;
    RCL_TRY(bn_bwd_scratch(ctx, x, dgamma, dbeta, &sdy, &sdyx, &part));
    if (rcl_bn_chan_use(ctx, C, HW))
        return bn_chan_bwd(ctx, dx, sdy, sdyx, NULL, dy, NULL, x, gamma, save_mean, save_invstd,
                           0, part);
    cl_kernel kp, kr;
    size_t wg, bn_wg;
    RCL_TRY(bn_kernel(ctx, "bn_bwd_plane", &kp, &wg, &bn_wg));
    RCL_TRY(bn_kernel(ctx, "bn_bwd_reduce", &kr, NULL, NULL));
    size_t g2[2], l2[2];
    const int cpi = rcl_bn_plane_range(N, C, HW, wg, g2, l2);
    RCL_TRY(RCL_LAUNCH(ctx, kp, "bn", 2, g2, l2, RCL_MEM(part), RCL_MEM(dy->buf),
                       RCL_MEM(x->buf), RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf),
                       RCL_I32(N), RCL_I32(C), RCL_I32(HW), RCL_I32(cpi)));
    size_t gs = (size_t)C;
    RCL_TRY(RCL_LAUNCH(ctx, kr, "bn", 1, &gs, &bn_wg, RCL_MEM(sdy), RCL_MEM(sdyx), RCL_MEM(part),
                       RCL_I32(N), RCL_I32(C)));
    if (!dx) return RCL_OK;
    return bn_dx(ctx, g2, l2, cpi, dx, dy->buf, x, gamma, save_mean, save_invstd, sdy, sdyx);
}

/* y = relu(bn_train(x) [+ res]): rcl_batchnorm_forward_train's statistics,
 * then one pass for normalise, add and ReLU. */
int rcl_batchnorm_relu_forward_train(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                                     rcl_tensor *save_invstd, rcl_tensor *running_mean,
                                     rcl_tensor *running_var, const rcl_tensor *x,
                                     const rcl_tensor *res, const rcl_tensor *gamma,
                                     const rcl_tensor *beta, float momentum, float eps)
{
    return bn_forward_train(ctx, "batchnorm_relu_forward_train", y, save_mean, save_invstd,
                            running_mean, running_var, x, res, gamma, beta, momentum, eps, 1);
}

int rcl_batchnorm_relu_forward_eval(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                                    const rcl_tensor *res, const rcl_tensor *gamma,
                                    const rcl_tensor *beta, const rcl_tensor *running_mean,
                                    const rcl_tensor *running_var, float eps)
{
    static const char op[] = "batchnorm_relu_forward_eval";
    RCL_TRY(bn_check_x(x, op));
    if (!y) return rcl_fail(RCL_ERR_INVALID, "%s: y missing", op);
    RCL_TRY(rcl_check_same(y, x, op));
    RCL_TRY(bn_check_res(res, x, op));
    if (!(eps > 0.0f)) return rcl_fail(RCL_ERR_INVALID, "%s: eps must be > 0", op);
    const int C = x->c, HW = x->h * x->w;
    RCL_TRY(bn_check_vec(gamma, C, op, "gamma"));
    RCL_TRY(bn_check_vec(beta, C, op, "beta"));
    RCL_TRY(bn_check_vec(running_mean, C, op, "running_mean"));
    RCL_TRY(bn_check_vec(running_var, C, op, "running_var"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(bn_kernel(ctx, "bn_apply_eval_relu", &k, &wg, NULL));
    size_t g2[2], l2[2];
    const int cpi = rcl_bn_plane_range(x->n, C, HW, wg, g2, l2);
    return RCL_LAUNCH(ctx, k, "bn", 2, g2, l2, RCL_MEM(y->buf), RCL_MEM(x->buf),
                      RCL_MEM(res ? res->buf : x->buf), RCL_MEM(running_mean->buf),
                      RCL_MEM(running_var->buf), RCL_MEM(gamma->buf), RCL_MEM(beta->buf),
                      RCL_F32(eps), RCL_I32(x->n), RCL_I32(C), RCL_I32(HW),
                      RCL_I32(res != NULL), RCL_I32(cpi));
}

/* g = dy * (y > 0) on the fly; dres = g (NULL: not written); dx, dgamma,
 * dbeta as rcl_batchnorm_backward of g. */
int rcl_batchnorm_relu_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma,
                                rcl_tensor *dbeta, rcl_tensor *dres, const rcl_tensor *dy,
                                const rcl_tensor *y, const rcl_tensor *x, const rcl_tensor *gamma,
                                const rcl_tensor *save_mean, const rcl_tensor *save_invstd)
{
    static const char op[] = "batchnorm_relu_backward";
    RCL_TRY(bn_check_x(x, op));
    if (!dy || !dy->buf) return rcl_fail(RCL_ERR_INVALID, "%s: dy missing", op);
    if (!y || !y->buf) return rcl_fail(RCL_ERR_INVALID, "%s: y missing", op);
    RCL_TRY(rcl_check_same(dy, x, op));
    RCL_TRY(rcl_check_same(y, x, op));
    if (dx) RCL_TRY(rcl_check_same(dx, x, op));
    RCL_TRY(bn_check_res(dres, x, op));
    const int C = x->c, HW = x->h * x->w;
    RCL_TRY(bn_bwd_vecs(op, C, gamma, save_mean, save_invstd, dgamma, dbeta));
    if (!dx && !dgamma && !dbeta && !dres) return RCL_OK;

    const int N = x->n;
    cl_mem sdy, sdyx, part;
    RCL_TRY(bn_bwd_scratch(ctx, x, dgamma, dbeta, &sdy, &sdyx, &part));
    /* (dres alone: the plane kernel's one pass) */
    if ((dx || dgamma || dbeta) && rcl_bn_chan_use(ctx, C, HW))
        return bn_chan_bwd(ctx, dx, sdy, sdyx, dres, dy, y, x, gamma, save_mean, save_invstd, 1,
                           part);
    cl_kernel kp, kr;
    size_t wg, bn_wg;
    RCL_TRY(bn_kernel(ctx, "bn_bwd_plane_relu", &kp, &wg, &bn_wg));
    RCL_TRY(bn_kernel(ctx, "bn_bwd_reduce", &kr, NULL, NULL));
    size_t g2[2], l2[2];
    const int cpi = rcl_bn_plane_range(N, C, HW, wg, g2, l2);
    RCL_TRY(RCL_LAUNCH(ctx, kp, "bn", 2, g2, l2, RCL_MEM(part),
                       RCL_MEM(dres ? dres->buf : part), RCL_MEM(dy->buf), RCL_MEM(y->buf),
                       RCL_MEM(x->buf), RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf),
                       RCL_I32(N), RCL_I32(C), RCL_I32(HW), RCL_I32(dres != NULL), RCL_I32(cpi),
                       RCL_I32(bn_nt(ctx, x))));
    if (!dx && !dgamma && !dbeta) return RCL_OK;
    size_t gs = (size_t)C;
    RCL_TRY(RCL_LAUNCH(ctx, kr, "bn", 1, &gs, &bn_wg, RCL_MEM(sdy), RCL_MEM(sdyx), RCL_MEM(part),
                       RCL_I32(N), RCL_I32(C)));
    if (!dx) return RCL_OK;
    cl_kernel kd;
    if (dres) /* g is in dres: bn_bwd_dx of it reads two tensors, not three */
        return bn_dx(ctx, g2, l2, cpi, dx, dres->buf, x, gamma, save_mean, save_invstd, sdy,
                     sdyx);
    RCL_TRY(bn_kernel(ctx, "bn_bwd_dx_relu", &kd, NULL, NULL));
    return RCL_LAUNCH(ctx, kd, "bn", 2, g2, l2, RCL_MEM(dx->buf), RCL_MEM(dy->buf),
                      RCL_MEM(y->buf), RCL_MEM(x->buf), RCL_MEM(save_mean->buf),
                      RCL_MEM(save_invstd->buf), RCL_MEM(gamma->buf), RCL_MEM(sdy),
                      RCL_MEM(sdyx), RCL_I32(N), RCL_I32(C), RCL_I32(HW), RCL_I32(cpi),
                      RCL_I32(bn_nt(ctx, x)));
}

/* w (O,C,KH,KW) -> wf (same shape), bf (O,1,1,1): the eval BN after the
 * conv folded into its weights and a bias. */
int rcl_batchnorm_fold(rcl_ctx *ctx, rcl_tensor *wf, rcl_tensor *bf, const rcl_tensor *w,
                       const rcl_tensor *gamma, const rcl_tensor *beta,
                       const rcl_tensor *running_mean, const rcl_tensor *running_var, float eps)
{
    static const char op[] = "batchnorm_fold";
    RCL_TRY(bn_check_x(w, op));
    if (!wf) return rcl_fail(RCL_ERR_INVALID, "%s: wf missing", op);
    RCL_TRY(rcl_check_same(wf, w, op));
    if (!(eps > 0.0f)) return rcl_fail(RCL_ERR_INVALID, "%s: eps must be > 0", op);
    const int O = w->n, K = w->c * w->h * w->w;
    RCL_TRY(bn_check_vec(bf, O, op, "bf"));
    RCL_TRY(bn_check_vec(gamma, O, op, "gamma"));
    RCL_TRY(bn_check_vec(beta, O, op, "beta"));
    RCL_TRY(bn_check_vec(running_mean, O, op, "running_mean"));
    RCL_TRY(bn_check_vec(running_var, O, op, "running_var"));
    cl_kernel k;
    size_t wg;
    RCL_TRY(bn_kernel(ctx, "bn_fold", &k, &wg, NULL));
    size_t n = (size_t)O * K;
    return RCL_LAUNCH(ctx, k, "bn", 1, &n, &wg, RCL_MEM(wf->buf), RCL_MEM(bf->buf),
                      RCL_MEM(w->buf), RCL_MEM(gamma->buf), RCL_MEM(beta->buf),
                      RCL_MEM(running_mean->buf), RCL_MEM(running_var->buf), RCL_F32(eps),
                      RCL_I32(O), RCL_I32(K));
}
