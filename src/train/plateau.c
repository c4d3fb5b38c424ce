/* ReduceLROnPlateau with PyTorch's semantics (include/rcl/plateau.h). */
#include "rcl/plateau.h"
#include "rcl/status.h"

#include <math.h>
#include <stddef.h>

rcl_plateau_options rcl_plateau_defaults(void)
{
    rcl_plateau_options o = {RCL_PLATEAU_MIN, 0.1, 10, 1e-4, RCL_PLATEAU_REL, 0, 0.0, 1e-8};
    return o;
}

int rcl_plateau_init(rcl_plateau *p, const rcl_plateau_options *opt, double lr)
{
    if (!p) return rcl_fail(RCL_ERR_INVALID, "rcl_plateau_init: NULL argument");
    rcl_plateau_options o = opt ? *opt : rcl_plateau_defaults();
    if (o.mode != RCL_PLATEAU_MIN && o.mode != RCL_PLATEAU_MAX)
        return rcl_fail(RCL_ERR_INVALID, "plateau: mode must be min or max");
    if (o.threshold_mode != RCL_PLATEAU_REL && o.threshold_mode != RCL_PLATEAU_ABS)
        return rcl_fail(RCL_ERR_INVALID, "plateau: threshold mode must be rel or abs");
    if (!(o.factor >= 0 && o.factor < 1))
        return rcl_fail(RCL_ERR_INVALID, "plateau: factor %g must be in [0, 1)", o.factor);
    if (o.patience < 0 || o.cooldown < 0)
        return rcl_fail(RCL_ERR_INVALID, "plateau: patience %d and cooldown %d must be >= 0",
                        o.patience, o.cooldown);
    if (!(o.threshold >= 0) || !isfinite(o.threshold) || !(o.min_lr >= 0) || !isfinite(o.min_lr) ||
        !(o.eps >= 0) || !isfinite(o.eps))
        return rcl_fail(RCL_ERR_INVALID,
                        "plateau: threshold %g, min lr %g and eps %g must be finite and >= 0",
                        o.threshold, o.min_lr, o.eps);
    if (!(lr > 0) || !isfinite(lr))
        return rcl_fail(RCL_ERR_INVALID, "plateau: learning rate %g must be > 0", lr);
    p->o = o;
    p->lr = lr;
    p->best = o.mode == RCL_PLATEAU_MIN ? INFINITY : -INFINITY;
    p->num_bad_epochs = 0;
    p->cooldown_counter = 0;
    p->last_epoch = 0;
    p->reductions = 0;
    return RCL_OK;
}

static int is_better(const rcl_plateau_options *o, double a, double best)
{
    if (o->mode == RCL_PLATEAU_MIN)
        return o->threshold_mode == RCL_PLATEAU_REL ? a < best * (1.0 - o->threshold)
                                                    : a < best - o->threshold;
    return o->threshold_mode == RCL_PLATEAU_REL ? a > best * (o->threshold + 1.0)
                                                : a > best + o->threshold;
}

int rcl_plateau_step(rcl_plateau *p, double metric)
{
    if (!p) return rcl_fail(RCL_ERR_INVALID, "rcl_plateau_step: NULL argument");
    p->last_epoch++;
    if (is_better(&p->o, metric, p->best)) {
        p->best = metric;
        p->num_bad_epochs = 0;
    } else {
        p->num_bad_epochs++;
    }
    if (p->cooldown_counter > 0) {   /* bad epochs in the cooldown do not count */
        p->cooldown_counter--;
        p->num_bad_epochs = 0;
    }
    if (p->num_bad_epochs > p->o.patience) {
        int reduced = 0;
        double nl = p->lr * p->o.factor;
        if (nl < p->o.min_lr) nl = p->o.min_lr;
        if (p->lr - nl > p->o.eps) {
            p->lr = nl;
            p->reductions++;
            reduced = 1;
        }
        p->cooldown_counter = p->o.cooldown;
        p->num_bad_epochs = 0;
        return reduced;
    }
    return 0;
}
