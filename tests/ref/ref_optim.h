/* Double-precision references for the optimizer steps, written as PyTorch's
 * single-tensor code (torch/optim/adam.py _single_tensor_adam, sgd.py
 * _single_tensor_sgd) elementwise. Same argument order as the device ops. */
#ifndef RCL_REF_OPTIM_H
#define RCL_REF_OPTIM_H

#include <stddef.h>

/* Adam (amsgrad off, maximize off), `step` counted from 1; m, v start at 0. */
void ref_adam_step(double *p, const double *g, double *m, double *v, size_t n, double lr,
                   double beta1, double beta2, double eps, double weight_decay, int step);

/* SGD; buf is unused (may be NULL) when momentum == 0. On step 1 the
 * momentum buffer is a copy of the (decayed) gradient. */
void ref_sgd_step(double *p, const double *g, double *buf, size_t n, double lr, double momentum,
                  double dampening, double weight_decay, int nesterov, int step);

#endif
