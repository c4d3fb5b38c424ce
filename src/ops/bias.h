/* Per-channel bias kernels shared by conv2d.c and linear.c (cl/bias.cl).
 * A tensor is viewed as (N, C, P): P = OH*OW for conv, 1 for Linear. */
#ifndef RCL_BIAS_H
#define RCL_BIAS_H

#include "runtime/internal.h"

/* db[c] = sum_{n,p} dy[n, c, p]; db holds C floats, dy N*C*P */
int rcl_bias_grad(rcl_ctx *ctx, cl_mem db, cl_mem dy, int N, int C, int P);
/* y[n, c, p] += b[c]; y holds N*C*P floats, b C */
int rcl_bias_add(rcl_ctx *ctx, cl_mem y, cl_mem b, int N, int C, int P);

#endif
