/* SGD host side (kernel in cl/sgd.cl): validation, one launch per parameter
 * tensor. */
#include "runtime/internal.h"
#include "rcl/optim.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

/* p, g, buf: one shape (buf NULL only when momentum == 0); step >= 1.
 * Checked as torch.optim.SGD does: lr, momentum, wd >= 0; nesterov needs
 * momentum > 0 and dampening == 0. */
int rcl_sgd_step(rcl_ctx *ctx, rcl_tensor *p, const rcl_tensor *g, rcl_tensor *buf,
                 const rcl_sgd_hparams *hp, int step)
{
    if (!ctx || !p || !g || !hp) return rcl_fail(RCL_ERR_INVALID, "sgd_step: NULL argument");
    if (step < 1) return rcl_fail(RCL_ERR_INVALID, "sgd_step: step %d < 1", step);
    if (!(hp->lr >= 0) || !(hp->momentum >= 0) || !(hp->weight_decay >= 0) ||
        isnan(hp->dampening) || isinf(hp->lr) || isinf(hp->momentum) ||
        isinf(hp->weight_decay) || isinf(hp->dampening))
        return rcl_fail(RCL_ERR_INVALID, "sgd_step: bad hyperparameters lr %g momentum %g "
                        "dampening %g wd %g", hp->lr, hp->momentum, hp->dampening,
                        hp->weight_decay);
    if (hp->nesterov && (hp->momentum <= 0 || hp->dampening != 0))
        return rcl_fail(RCL_ERR_INVALID,
                        "sgd_step: nesterov needs momentum > 0 and zero dampening");
    RCL_TRY(rcl_check_same(g, p, "sgd_step grad"));
    if (hp->momentum != 0) {
        if (!buf) return rcl_fail(RCL_ERR_INVALID, "sgd_step: momentum %g needs a buffer",
                                  hp->momentum);
        RCL_TRY(rcl_check_same(buf, p, "sgd_step momentum buffer"));
    }
    size_t n = rcl_t_count(p);
    if (n > INT_MAX) return rcl_fail(RCL_ERR_INVALID, "sgd_step: tensor too large");

    size_t wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_SGD_WG));
    int vec = rcl_tun(ctx, RCL_TUN_SGD_VEC);
    char opts[48];
    snprintf(opts, sizeof opts, "-DWG=%zu -DVEC=%d", wg, vec);
    cl_kernel k;
    RCL_TRY(rcl_ctx_kernel(ctx, "sgd.cl", "sgd_step", opts, &k));
    /* Without momentum the buffer is never touched: p stands in for it. */
    cl_mem b = hp->momentum != 0 ? buf->buf : p->buf;
    size_t items = (n + (size_t)vec - 1) / (size_t)vec; /* VEC elements each */
    return RCL_LAUNCH(ctx, k, "optim", 1, &items, &wg, RCL_MEM(p->buf), RCL_MEM(g->buf), RCL_MEM(b),
                      RCL_I32(n), RCL_F32(hp->lr), RCL_F32(hp->momentum),
                      RCL_F32(hp->dampening), RCL_F32(hp->weight_decay),
                      RCL_I32(hp->nesterov != 0), RCL_I32(step == 1));
}
