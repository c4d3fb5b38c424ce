/* Double-precision reference for softmax cross-entropy (mean reduction,
 * torch.nn.CrossEntropyLoss). Same argument order as the device op. */
#ifndef RCL_REF_SOFTMAX_XENT_H
#define RCL_REF_SOFTMAX_XENT_H

#include <stddef.h>

/* logits (n,k) row-major, labels[n] -> *loss = mean_i (lse_i - x[i,label_i]),
 * dlogits (n,k) = (softmax - onehot)/n (skipped when NULL), *correct = rows
 * whose first argmax equals the label (skipped when NULL). A label outside
 * [0,k) makes that row's loss (so the mean) and dlogits row NaN. */
void ref_softmax_xent(double *loss, double *dlogits, int *correct, const double *logits,
                      const int *labels, int n, int k);

#endif
