/* Weight Standardization reference in double precision: per output channel
 * o of w (O rows of K values), mean, unbiased std (two-pass),
 * w_hat = (w - mean)/(std + eps) (the paper's w.view(O,-1).std(dim=1) + eps). */
#ifndef RCL_REF_WEIGHT_STD_H
#define RCL_REF_WEIGHT_STD_H

/* save_mean / save_std (O values, std without eps) may be NULL. K >= 2. */
void ref_weight_std_forward(double *w_hat, double *save_mean, double *save_std, const double *w,
                            int o, int k, double eps);
/* dw from dw_hat through mean and std: with s = std + eps, u = w - mean,
 * d std/d u_i = u_i/((K-1)*std), and u_i = w_hat_i*s:
 *   du_i = g_i/s - sum_j(g_j*w_hat_j) * w_hat_i / ((K-1)*std),
 *   dw_i = du_i - mean(du)   (the mean's pass-through).
 * The std term is taken as 0 when std = 0 (its limit; w_hat = 0 there). */
void ref_weight_std_backward(double *dw, const double *dw_hat, const double *w_hat,
                             const double *save_std, int o, int k, double eps);

#endif
