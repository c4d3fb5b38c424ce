/* BatchNorm2d reference in double precision (PyTorch semantics), NCHW
 * row-major, per-channel vectors of length C. Outputs first. */
#ifndef RCL_REF_BATCHNORM_H
#define RCL_REF_BATCHNORM_H

/* Training forward: batch mean / biased variance over M = N*H*W per channel
 * (two-pass), y = (x-mean)*invstd*gamma + beta, invstd = 1/sqrt(var+eps).
 * save_mean/save_invstd may be NULL; running_mean/running_var (NULL: no
 * update) become (1-momentum)*running + momentum*{mean, var*M/(M-1)}. */
void ref_batchnorm_forward_train(double *y, double *save_mean, double *save_invstd,
                                 double *running_mean, double *running_var, const double *x,
                                 const double *gamma, const double *beta, int n, int c, int h,
                                 int w, double momentum, double eps);
/* Eval forward: y = (x - rmean)/sqrt(rvar + eps)*gamma + beta. */
void ref_batchnorm_forward_eval(double *y, const double *x, const double *gamma,
                                const double *beta, const double *rmean, const double *rvar,
                                int n, int c, int h, int w, double eps);
/* Training backward from saved stats: xhat = (x-mean)*invstd,
 * dbeta = sum dy, dgamma = sum dy*xhat,
 * dx = gamma*invstd/M*(M*dy - dbeta - xhat*dgamma). Any output may be NULL. */
void ref_batchnorm_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                            const double *x, const double *gamma, const double *save_mean,
                            const double *save_invstd, int n, int c, int h, int w);

#endif
