/* Global average pool reference, double precision, NCHW. */
#ifndef RCL_REF_AVGPOOL_H
#define RCL_REF_AVGPOOL_H

/* y (n,c) = mean of x over h*w; dx = dy/(h*w) broadcast */
void ref_avgpool_global_forward(double *y, const double *x, int n, int c, int h, int w);
void ref_avgpool_global_backward(double *dx, const double *dy, int n, int c, int h, int w);

#endif
