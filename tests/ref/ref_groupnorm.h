/* GroupNorm reference in double precision (PyTorch nn.GroupNorm semantics),
 * NCHW row-major, `groups` groups of c/groups channels (c % groups == 0),
 * per-channel gamma/beta of length c, saved statistics of length n*groups
 * (index ni*groups + g). Outputs first. LayerNorm is groups = 1,
 * InstanceNorm groups = c. */
#ifndef RCL_REF_GROUPNORM_H
#define RCL_REF_GROUPNORM_H

/* Per (sample, group): mean and biased variance over the group's
 * (c/groups)*h*w values (two-pass), y = (x-mean)*invstd*gamma[c] + beta[c],
 * invstd = 1/sqrt(var+eps). save_mean/save_invstd may be NULL. */
void ref_groupnorm_forward(double *y, double *save_mean, double *save_invstd, const double *x,
                           const double *gamma, const double *beta, int n, int c, int h, int w,
                           int groups, double eps);
/* Backward from the saved statistics: xhat = (x-mean)*invstd,
 * dbeta[c] = sum_{n,hw} dy, dgamma[c] = sum_{n,hw} dy*xhat, and per group of
 * L values with g = dy*gamma[c]: dx = invstd/L*(L*g - sum(g) - xhat*sum(g*xhat)).
 * Any output may be NULL. */
void ref_groupnorm_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                            const double *x, const double *gamma, const double *save_mean,
                            const double *save_invstd, int n, int c, int h, int w, int groups);

#endif
