/* Batch Renormalization (Ioffe 2017) reference in double precision, training
 * mode, NCHW row-major, per-channel vectors of length C. Outputs first. */
#ifndef RCL_REF_BATCHRENORM_H
#define RCL_REF_BATCHRENORM_H

/* Training forward: batch mean / biased variance over M = N*H*W per channel
 * (two-pass), sigma_B = sqrt(var + eps), sigma = sqrt(running_var + eps)
 * (before the update), r = clip(sigma_B/sigma, 1/r_max, r_max),
 * d = clip((mean - running_mean)/sigma, -d_max, d_max),
 * y = gamma*((x - mean)/sigma_B*r + d) + beta; then running_mean/var (both
 * required) become (1-momentum)*running + momentum*{mean, var*M/(M-1)}.
 * save_* may be NULL. */
void ref_batchrenorm_forward_train(double *y, double *save_mean, double *save_invstd,
                                   double *save_r, double *save_d, double *running_mean,
                                   double *running_var, const double *x, const double *gamma,
                                   const double *beta, int n, int c, int h, int w,
                                   double momentum, double eps, double r_max, double d_max);
/* The same forward with r and d given (the constants of backward): y from the
 * batch statistics of x and r, d; no running statistics. For finite
 * differences of the stop-gradient function. */
void ref_batchrenorm_forward_rd(double *y, const double *x, const double *gamma,
                                const double *beta, const double *r, const double *d, int n,
                                int c, int h, int w, double eps);
/* Backward from saved stats, r and d constants: xhat = (x-mean)*invstd,
 * dbeta = sum dy, dgamma = sum dy*(r*xhat + d),
 * dx = gamma*r*invstd/M*(M*dy - sum dy - xhat*sum dy*xhat). Any output may
 * be NULL. */
void ref_batchrenorm_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                              const double *x, const double *gamma, const double *save_mean,
                              const double *save_invstd, const double *save_r,
                              const double *save_d, int n, int c, int h, int w);

#endif
