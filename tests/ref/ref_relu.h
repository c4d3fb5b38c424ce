/* Plain C reference implementations in double precision, one function per
 * op and direction, same argument order as the device ops (outputs first).
 * Shapes are NCHW, row-major. */
#ifndef RCL_REF_RELU_H
#define RCL_REF_RELU_H

#include <stddef.h>

/* relu: y = max(x,0); dx = dy * (y > 0) */
void ref_relu_forward(double *y, const double *x, size_t n);
void ref_relu_backward(double *dx, const double *dy, const double *y, size_t n);

#endif
