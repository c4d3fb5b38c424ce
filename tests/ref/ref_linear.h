/* Reference Linear (PyTorch nn.Linear) in double precision:
 * x (n,in), w (out,in), b (out) -> y (n,out) = x w^T + b. */
#ifndef RCL_REF_LINEAR_H
#define RCL_REF_LINEAR_H

/* b may be NULL */
void ref_linear_forward(double *y, const double *x, const double *w, const double *b, int n,
                        int in, int out);
/* dy (n,out) -> dx (n,in), dw (out,in), db (out); each may be NULL */
void ref_linear_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, int n, int in, int out);

#endif
