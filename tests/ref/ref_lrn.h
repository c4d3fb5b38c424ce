/* LocalResponseNorm reference in double precision, literally PyTorch's
 * F.local_response_norm for 4-D input: div = avg_pool over channels of x^2
 * with window `size`, zero padding size/2 before and (size-1)/2 after,
 * divisor size (count_include_pad); y = x / (k + alpha*div)^beta.
 * NCHW row-major. */
#ifndef RCL_REF_LRN_H
#define RCL_REF_LRN_H

void ref_lrn_forward(double *y, const double *x, int n, int c, int h, int w, int size,
                     double alpha, double beta, double k);
/* dx = d(sum dy*y)/dx, accumulated in scatter form: every s[c] spreads its
 * derivative to the x[c'] of its window (the kernels gather instead). */
void ref_lrn_backward(double *dx, const double *dy, const double *x, int n, int c, int h, int w,
                      int size, double alpha, double beta, double k);

#endif
