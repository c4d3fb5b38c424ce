/* Residual add and option-A shortcut references, double precision, NCHW. */
#ifndef RCL_REF_ADD_H
#define RCL_REF_ADD_H

#include <stddef.h>

/* y = a + b (y may alias a or b) */
void ref_add(double *y, const double *a, const double *b, size_t n);
/* y (n,c2,ceil(h/s),ceil(w/s)) = x[:, :, ::s, ::s] with (c2-c)/2 zero
 * channels on each side; backward routes dy back to the sampled positions. */
void ref_shortcut_pad_forward(double *y, const double *x, int n, int c, int h, int w, int c2,
                              int s);
void ref_shortcut_pad_backward(double *dx, const double *dy, int n, int c, int h, int w, int c2,
                               int s);

#endif
