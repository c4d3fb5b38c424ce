/* Optimizer steps as device kernels, one launch per parameter tensor, with
 * PyTorch's update rules (torch.optim.Adam / torch.optim.SGD). */
#ifndef RCL_OPTIM_H
#define RCL_OPTIM_H

#include "rcl/tensor.h"

typedef struct rcl_adam_hparams {
    float lr;            /* 1e-3 */
    float beta1, beta2;  /* 0.9, 0.999 */
    float eps;           /* 1e-8 */
    float weight_decay;  /* L2, added to the gradient (not AdamW) */
} rcl_adam_hparams;
rcl_adam_hparams rcl_adam_defaults(void);

/* One Adam step, `step` counted from 1 (bias correction uses it):
 *   g += wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2
 *   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * p, g, m, v share one shape; m and v start at zero. */
int rcl_adam_step(rcl_ctx *ctx, rcl_tensor *p, const rcl_tensor *g, rcl_tensor *m, rcl_tensor *v,
                  const rcl_adam_hparams *hp, int step);

typedef struct rcl_sgd_hparams {
    float lr;
    float momentum;      /* 0 disables the buffer */
    float dampening;     /* 0 */
    float weight_decay;
    int nesterov;
} rcl_sgd_hparams;

/* One SGD step: g += wd*p; if momentum: buf = g on step 1, else
 * buf = momentum*buf + (1-dampening)*g; g = nesterov ? g + momentum*buf : buf;
 * p -= lr*g. `buf` may be NULL when momentum is 0. */
int rcl_sgd_step(rcl_ctx *ctx, rcl_tensor *p, const rcl_tensor *g, rcl_tensor *buf,
                 const rcl_sgd_hparams *hp, int step);

#endif
