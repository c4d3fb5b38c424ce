/* Normalization ops beyond BatchNorm (rcl/ops.h), each a forward/backward
 * pair over explicit device tensors: outputs first, inputs next, sizes last.
 * Backward functions overwrite their gradient outputs; a gradient output
 * passed as NULL is not computed. Semantics follow PyTorch (docs/semantics.md).
 * Every op works on the tensors' n (a partial batch of a larger buffer). */
#ifndef RCL_NORM_H
#define RCL_NORM_H

#include "rcl/tensor.h"

/* ---- GroupNorm (nn.GroupNorm): per sample, the C channels in `groups`
 * groups of C/groups (C % groups == 0), mean and biased variance over each
 * group's (C/groups)*H*W values; y = (x - mean) * invstd * gamma[c] + beta[c].
 * LayerNorm over (C,H,W) is groups = 1, InstanceNorm groups = C.
 * x,y (N,C,H,W); gamma, beta (C,1,1,1); save_mean, save_invstd hold at least
 * N*groups floats (index n*groups + g): the group mean and
 * 1/sqrt(var_biased + eps). */
int rcl_groupnorm_forward(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                          rcl_tensor *save_invstd, const rcl_tensor *x, const rcl_tensor *gamma,
                          const rcl_tensor *beta, int groups, float eps);
/* dy (N,C,H,W) -> dx (N,C,H,W), dgamma, dbeta (C,1,1,1) */
int rcl_groupnorm_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma, rcl_tensor *dbeta,
                           const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *gamma,
                           const rcl_tensor *save_mean, const rcl_tensor *save_invstd,
                           int groups);

/* ---- LocalResponseNorm (nn.LocalResponseNorm): across channels,
 * y[c] = x[c] / (k + alpha/size * sum_{c' in window(c)} x[c']^2)^beta with
 * window(c) = [c - size/2, c + (size-1)/2] clipped to [0, C) (zero padding).
 * No parameters. x,y (N,C,H,W); backward needs x (and recomputes the rest). */
/* The window is unrolled in the kernels (one program per size): sizes above
 * this are refused (PyTorch has no limit). */
#define RCL_LRN_MAX_SIZE 1024
typedef struct rcl_lrn_desc {
    int size;     /* 5 */
    float alpha;  /* 1e-4 */
    float beta;   /* 0.75 */
    float k;      /* 1 */
} rcl_lrn_desc;
int rcl_lrn_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x, const rcl_lrn_desc *d);
int rcl_lrn_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy, const rcl_tensor *x,
                     const rcl_lrn_desc *d);

/* ---- Batch Renormalization (Ioffe 2017), training mode: with the batch
 * mean mu_B and biased variance var_B per channel, sigma_B = sqrt(var_B+eps),
 * sigma = sqrt(running_var + eps),
 *   r = clip(sigma_B / sigma, 1/r_max, r_max),
 *   d = clip((mu_B - running_mean) / sigma, -d_max, d_max),
 *   y = gamma * ((x - mu_B) / sigma_B * r + d) + beta,
 * r and d constants in backward; running stats then updated exactly as
 * BatchNorm2d (momentum, unbiased variance). Eval: rcl_batchnorm_forward_eval.
 * save_mean, save_invstd (C) as BatchNorm; save_r, save_d (C) receive r, d. */
int rcl_batchrenorm_forward_train(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                                  rcl_tensor *save_invstd, rcl_tensor *save_r, rcl_tensor *save_d,
                                  rcl_tensor *running_mean, rcl_tensor *running_var,
                                  const rcl_tensor *x, const rcl_tensor *gamma,
                                  const rcl_tensor *beta, float momentum, float eps, float r_max,
                                  float d_max);
int rcl_batchrenorm_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma, rcl_tensor *dbeta,
                             const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *gamma,
                             const rcl_tensor *save_mean, const rcl_tensor *save_invstd,
                             const rcl_tensor *save_r, const rcl_tensor *save_d);

/* ---- Weight Standardization (Qiao et al. 2019) of a conv weight, per output
 * channel o over its K = C*KH*KW values: w_hat = (w - mean_o) / (std_o + eps)
 * with the unbiased std (the paper's code: w.view(O,-1).std(dim=1) + eps),
 * K >= 2. w, w_hat (O,C,KH,KW); save_mean, save_std (O,1,1,1) receive mean_o
 * and std_o. Backward: dw from dw_hat through the standardization (mean and
 * std included), with the same eps. */
int rcl_weight_std_forward(rcl_ctx *ctx, rcl_tensor *w_hat, rcl_tensor *save_mean,
                           rcl_tensor *save_std, const rcl_tensor *w, float eps);
int rcl_weight_std_backward(rcl_ctx *ctx, rcl_tensor *dw, const rcl_tensor *dw_hat,
                            const rcl_tensor *w_hat, const rcl_tensor *save_std, float eps);

#endif
