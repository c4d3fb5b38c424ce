/* Adam host side (kernel in cl/adam.cl): validation, bias corrections in
 * double, one launch per parameter tensor. */
#include "runtime/internal.h"
#include "rcl/optim.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

rcl_adam_hparams rcl_adam_defaults(void)
{
    rcl_adam_hparams hp = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f};
    return hp;
}

/* p, g, m, v: one shape; step >= 1. Hyperparameters are checked as
 * torch.optim.Adam does (lr, eps, wd >= 0; betas in [0,1)). */
int rcl_adam_step(rcl_ctx *ctx, rcl_tensor *p, const rcl_tensor *g, rcl_tensor *m, rcl_tensor *v,
                  const rcl_adam_hparams *hp, int step)
{
    if (!ctx || !p || !g || !m || !v || !hp)
        return rcl_fail(RCL_ERR_INVALID, "adam_step: NULL argument");
    if (step < 1) return rcl_fail(RCL_ERR_INVALID, "adam_step: step %d < 1", step);
    if (!(hp->lr >= 0) || !(hp->eps >= 0) || !(hp->weight_decay >= 0) || !(hp->beta1 >= 0) ||
        !(hp->beta1 < 1) || !(hp->beta2 >= 0) || !(hp->beta2 < 1) || isinf(hp->lr) ||
        isinf(hp->eps) || isinf(hp->weight_decay))
        return rcl_fail(RCL_ERR_INVALID,
                        "adam_step: bad hyperparameters lr %g betas (%g,%g) eps %g wd %g",
                        hp->lr, hp->beta1, hp->beta2, hp->eps, hp->weight_decay);
    RCL_TRY(rcl_check_same(g, p, "adam_step grad"));
    RCL_TRY(rcl_check_same(m, p, "adam_step exp_avg"));
    RCL_TRY(rcl_check_same(v, p, "adam_step exp_avg_sq"));
    size_t n = rcl_t_count(p);
    if (n > INT_MAX) return rcl_fail(RCL_ERR_INVALID, "adam_step: tensor too large");

    double bc1 = 1.0 - pow((double)hp->beta1, step);
    double bc2 = 1.0 - pow((double)hp->beta2, step);
    float step_size = (float)((double)hp->lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);

    size_t wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_ADAM_WG));
    int vec = rcl_tun(ctx, RCL_TUN_ADAM_VEC);
    char opts[48];
    snprintf(opts, sizeof opts, "-DWG=%zu -DVEC=%d", wg, vec);
    cl_kernel k;
    RCL_TRY(rcl_ctx_kernel(ctx, "adam.cl", "adam_step", opts, &k));
    size_t items = (n + (size_t)vec - 1) / (size_t)vec; /* VEC elements each */
    return RCL_LAUNCH(ctx, k, "optim", 1, &items, &wg, RCL_MEM(p->buf), RCL_MEM(g->buf),
                      RCL_MEM(m->buf), RCL_MEM(v->buf), RCL_I32(n), RCL_F32(hp->beta1),
                      RCL_F32(hp->beta2), RCL_F32(hp->eps), RCL_F32(hp->weight_decay),
                      RCL_F32(step_size), RCL_F32(bc2_sqrt));
}
