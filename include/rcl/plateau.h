/* ReduceLROnPlateau: the learning rate divided when a monitored metric
 * (the validation error, the paper's schedule) stops improving, with
 * PyTorch's exact semantics (torch.optim.lr_scheduler.ReduceLROnPlateau):
 *
 *   better(a, best):  min/rel a < best * (1 - threshold)
 *                     min/abs a < best - threshold
 *                     max/rel a > best * (1 + threshold)
 *                     max/abs a > best + threshold
 *   step(a): if better: best = a, bad = 0 else bad += 1
 *            if cooldown_counter > 0: cooldown_counter -= 1, bad = 0
 *            if bad > patience: new = max(lr * factor, min_lr), taken
 *                               when lr - new > eps; cooldown_counter =
 *                               cooldown; bad = 0
 * best starts at +inf (min) / -inf (max); a NaN metric is never better.
 * The state is the plain struct: a checkpoint stores its fields. */
#ifndef RCL_PLATEAU_H
#define RCL_PLATEAU_H

#include <stdint.h>

typedef enum rcl_plateau_mode { RCL_PLATEAU_MIN = 0, RCL_PLATEAU_MAX = 1 } rcl_plateau_mode;
typedef enum rcl_plateau_threshold_mode {
    RCL_PLATEAU_REL = 0,
    RCL_PLATEAU_ABS = 1
} rcl_plateau_threshold_mode;

typedef struct rcl_plateau_options {
    rcl_plateau_mode mode;                      /* min: a loss or an error */
    double factor;                              /* [0, 1); PyTorch 0.1 */
    int patience;                               /* >= 0; PyTorch 10 */
    double threshold;                           /* >= 0; PyTorch 1e-4 */
    rcl_plateau_threshold_mode threshold_mode;  /* PyTorch rel */
    int cooldown;                               /* >= 0; PyTorch 0 */
    double min_lr;                              /* >= 0; PyTorch 0 */
    double eps;                                 /* >= 0; PyTorch 1e-8 */
} rcl_plateau_options;

/* PyTorch's defaults (listed above). */
rcl_plateau_options rcl_plateau_defaults(void);

typedef struct rcl_plateau {
    rcl_plateau_options o;
    double lr;              /* the current learning rate */
    double best;            /* the best metric so far (+-inf before the first) */
    int num_bad_epochs;
    int cooldown_counter;
    int64_t last_epoch;     /* steps taken */
    int reductions;         /* times the rate was reduced */
} rcl_plateau;

/* Start at learning rate lr (> 0). Bad options -> RCL_ERR_INVALID naming
 * the option. */
int rcl_plateau_init(rcl_plateau *p, const rcl_plateau_options *o, double lr);
/* One step with this epoch's metric: 1 when the rate was reduced (p->lr is
 * the new one), 0 when not; RCL_ERR_INVALID for a NULL p. */
int rcl_plateau_step(rcl_plateau *p, double metric);

#endif
