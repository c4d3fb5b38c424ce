/* Synchronised BatchNorm2d (ops layer; src/ops/batchnorm_sync.c): the batch
 * statistics of every channel are those of the union of the batches of
 * several processes (ranks), summed through the caller's reducer, so that
 * K ranks normalise as one batch (PyTorch's SyncBatchNorm). Used by the
 * model's BN layers when a reducer is set (rcl_model_set_bn_reducer). */
#ifndef RCL_BATCHNORM_SYNC_H
#define RCL_BATCHNORM_SYNC_H

#include "rcl/tensor.h"

/* Sum v[0..n) in place over every rank (every rank calls it with the same
 * n, in the same order). Non-zero: failure (returned by the op). */
typedef int (*rcl_bn_reduce_fn)(void *user, double *v, int n);

/* Training forward over this rank's x (N,C,H,W) with the union's mean and
 * biased variance (counts weighted: the union's sum, then the sum of
 * squared deviations from its mean, exact per plane); save_* (C,1,1,1) get
 * them, running_* (both or neither) the update with the union's unbiased
 * variance. Two reductions of C+1 and C doubles. */
int rcl_batchnorm_sync_forward_train(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                                     rcl_tensor *save_invstd, rcl_tensor *running_mean,
                                     rcl_tensor *running_var, const rcl_tensor *x,
                                     const rcl_tensor *gamma, const rcl_tensor *beta,
                                     float momentum, float eps, rcl_bn_reduce_fn reduce,
                                     void *user);
/* Backward: dx from the union's sum(dy) and sum(dy*xhat) (one reduction of
 * 2C+1 doubles), i.e. this rank's rows of the union's dx when every rank
 * gives its rows of the union's dy; dgamma and dbeta (may be NULL) get this
 * rank's own sums (summed over the ranks they are the union's: the gradient
 * all-reduce does that). dx may be NULL. */
int rcl_batchnorm_sync_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma,
                                rcl_tensor *dbeta, const rcl_tensor *dy, const rcl_tensor *x,
                                const rcl_tensor *gamma, const rcl_tensor *save_mean,
                                const rcl_tensor *save_invstd, rcl_bn_reduce_fn reduce,
                                void *user);

#endif
