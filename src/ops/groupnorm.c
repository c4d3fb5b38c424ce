/* GroupNorm host side (kernels in cl/groupnorm.cl): per-(n, group)
 * reductions with one work-group each, per-channel reductions for dgamma and
 * dbeta, elementwise kernels over the N*C*HW elements. The backward
 * per-group sums (2 floats per (n, group)) live in scratch slot COL; a
 * missing dgamma or dbeta is computed into slot RED. Profiling tag "norm". */
#include "runtime/internal.h"
#include "rcl/norm.h"

#include <limits.h>
#include <stdio.h>

/* Kernel `name` of groupnorm.cl; *wg receives the elementwise work-group
 * size, *red_wg the reduction one. One program per option pair. */
static int gn_kernel(rcl_ctx *ctx, const char *name, cl_kernel *k, size_t *wg, size_t *red_wg)
{
    size_t w = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_GN_WG));
    size_t r = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_GN_RED_WG));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu -DRED_WG=%zu", w, r);
    if (wg) *wg = w;
    if (red_wg) *red_wg = r;
    return rcl_ctx_kernel(ctx, "groupnorm.cl", name, opts, k);
}

/* A per-channel vector must hold exactly C floats, e.g. (C,1,1,1). */
static int gn_check_vec(const rcl_tensor *t, int c, const char *op, const char *what)
{
    if (!t || !t->buf) return rcl_fail(RCL_ERR_INVALID, "%s: %s missing", op, what);
    if (rcl_t_count(t) != (size_t)c)
        return rcl_fail(RCL_ERR_INVALID, "%s: %s (%d,%d,%d,%d) must hold C=%d values", op, what,
                        t->n, t->c, t->h, t->w, c);
    return RCL_OK;
}

/* A saved-statistics tensor must hold at least N*groups floats. */
static int gn_check_save(const rcl_tensor *t, size_t need, const char *op, const char *what)
{
    if (!t || !t->buf) return rcl_fail(RCL_ERR_INVALID, "%s: %s missing", op, what);
    if (t->n < 0 || t->c < 0 || t->h < 0 || t->w < 0 || rcl_t_count(t) < need)
        return rcl_fail(RCL_ERR_INVALID, "%s: %s (%d,%d,%d,%d) must hold N*groups=%zu values",
                        op, what, t->n, t->c, t->h, t->w, need);
    return RCL_OK;
}

/* x non-empty and int-indexable; groups >= 1 dividing C. */
static int gn_check_x(const rcl_tensor *x, int groups, const char *op)
{
    if (!x || !x->buf || x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty or missing input", op);
    if (rcl_t_count(x) > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_INVALID, "%s: tensor too large for int indexing", op);
    if (groups < 1) return rcl_fail(RCL_ERR_INVALID, "%s: groups = %d must be >= 1", op, groups);
    if (x->c % groups)
        return rcl_fail(RCL_ERR_INVALID, "%s: C = %d is not a multiple of groups = %d", op, x->c,
                        groups);
    return RCL_OK;
}

int rcl_groupnorm_forward(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                          rcl_tensor *save_invstd, const rcl_tensor *x, const rcl_tensor *gamma,
                          const rcl_tensor *beta, int groups, float eps)
{
    static const char op[] = "groupnorm_forward";
    RCL_TRY(gn_check_x(x, groups, op));
    if (!y) return rcl_fail(RCL_ERR_INVALID, "%s: y missing", op);
    RCL_TRY(rcl_check_same(y, x, op));
    if (!(eps > 0.0f)) return rcl_fail(RCL_ERR_INVALID, "%s: eps must be > 0", op);
    const int N = x->n, C = x->c, HW = x->h * x->w, L = C / groups * HW;
    const size_t ng = (size_t)N * groups;
    RCL_TRY(gn_check_save(save_mean, ng, op, "save_mean"));
    RCL_TRY(gn_check_save(save_invstd, ng, op, "save_invstd"));
    RCL_TRY(gn_check_vec(gamma, C, op, "gamma"));
    RCL_TRY(gn_check_vec(beta, C, op, "beta"));

    cl_kernel ks, ka;
    size_t wg, red_wg;
    RCL_TRY(gn_kernel(ctx, "gn_stats", &ks, &wg, &red_wg));
    RCL_TRY(gn_kernel(ctx, "gn_apply", &ka, NULL, NULL));
    size_t gs = ng * red_wg;
    RCL_TRY(RCL_LAUNCH(ctx, ks, "norm", 1, &gs, &red_wg, RCL_MEM(save_mean->buf),
                       RCL_MEM(save_invstd->buf), RCL_MEM(x->buf), RCL_I32(L), RCL_F32(eps)));
    const int total = (int)rcl_t_count(x);
    size_t ge = (size_t)total;
    return RCL_LAUNCH(ctx, ka, "norm", 1, &ge, &wg, RCL_MEM(y->buf), RCL_MEM(x->buf),
                      RCL_MEM(save_mean->buf), RCL_MEM(save_invstd->buf), RCL_MEM(gamma->buf),
                      RCL_MEM(beta->buf), RCL_I32(total), RCL_I32(C), RCL_I32(HW), RCL_I32(L));
}

int rcl_groupnorm_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma, rcl_tensor *dbeta,
                           const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *gamma,
                           const rcl_tensor *save_mean, const rcl_tensor *save_invstd,
                           int groups)
{
    static const char op[] = "groupnorm_backward";
    RCL_TRY(gn_check_x(x, groups, op));
    if (!dy) return rcl_fail(RCL_ERR_INVALID, "%s: dy missing", op);
    RCL_TRY(rcl_check_same(dy, x, op));
    if (dx) RCL_TRY(rcl_check_same(dx, x, op));
    const int N = x->n, C = x->c, HW = x->h * x->w, Cg = C / groups, L = Cg * HW;
    const size_t ng = (size_t)N * groups;
    RCL_TRY(gn_check_vec(gamma, C, op, "gamma"));
    RCL_TRY(gn_check_save(save_mean, ng, op, "save_mean"));
    RCL_TRY(gn_check_save(save_invstd, ng, op, "save_invstd"));
    if (dgamma) RCL_TRY(gn_check_vec(dgamma, C, op, "dgamma"));
    if (dbeta) RCL_TRY(gn_check_vec(dbeta, C, op, "dbeta"));
    if (!dx && !dgamma && !dbeta) return RCL_OK;

    size_t wg, red_wg;
    if (dgamma || dbeta) {
        /* the one not asked for lands in scratch */
        cl_mem dg, db;
        if (!dgamma || !dbeta) {
            cl_mem s;
            RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_RED, (size_t)C * sizeof(float), &s));
            dg = dgamma ? dgamma->buf : s;
            db = dbeta ? dbeta->buf : s;
        } else {
            dg = dgamma->buf;
            db = dbeta->buf;
        }
        cl_kernel kp;
        RCL_TRY(gn_kernel(ctx, "gn_bwd_param", &kp, &wg, &red_wg));
        size_t gs = (size_t)C * red_wg;
        RCL_TRY(RCL_LAUNCH(ctx, kp, "norm", 1, &gs, &red_wg, RCL_MEM(dg), RCL_MEM(db),
                           RCL_MEM(dy->buf), RCL_MEM(x->buf), RCL_MEM(save_mean->buf),
                           RCL_MEM(save_invstd->buf), RCL_I32(N), RCL_I32(C), RCL_I32(HW),
                           RCL_I32(groups), RCL_I32(Cg)));
    }
    if (!dx) return RCL_OK;

    cl_kernel kg, kd;
    RCL_TRY(gn_kernel(ctx, "gn_bwd_group", &kg, &wg, &red_wg));
    RCL_TRY(gn_kernel(ctx, "gn_bwd_dx", &kd, NULL, NULL));
    cl_mem part;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, 2 * ng * sizeof(float), &part));
    size_t gs = ng * red_wg;
    RCL_TRY(RCL_LAUNCH(ctx, kg, "norm", 1, &gs, &red_wg, RCL_MEM(part), RCL_MEM(dy->buf),
                       RCL_MEM(x->buf), RCL_MEM(gamma->buf), RCL_MEM(save_mean->buf),
                       RCL_MEM(save_invstd->buf), RCL_I32(groups), RCL_I32(Cg), RCL_I32(HW)));
    const int total = (int)rcl_t_count(x);
    size_t ge = (size_t)total;
    return RCL_LAUNCH(ctx, kd, "norm", 1, &ge, &wg, RCL_MEM(dx->buf), RCL_MEM(dy->buf),
                      RCL_MEM(x->buf), RCL_MEM(gamma->buf), RCL_MEM(save_mean->buf),
                      RCL_MEM(save_invstd->buf), RCL_MEM(part), RCL_I32(total), RCL_I32(C),
                      RCL_I32(HW), RCL_I32(L));
}
