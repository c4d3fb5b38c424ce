/* The small-map convolution as dense GEMMs (conv2d_dense.c, kernels and
 * the math in cl/conv_dense.cl), called by conv2d.c where rcl_conv_is_dense
 * (conv2d_chunk.h) says so. Shapes are conv2d.c's, already validated, on
 * the full kernel (D has no entry at a dead tap; the fold writes 0 there);
 * S is the stride of both axes. Scratch: slot TMP holds D or D^T, slot COL the weight gradient's dD
 * and (more than one output pixel) the data gradient's dy by pixel
 * (neither where the conv is 1x1 on a 1x1 map: D is w itself; its forward
 * with more output channels than images computes y^T in slot TMP). Tags
 * conv_fwd_gemm, conv_bwd_data_gemm, conv_bwd_weight_gemm (the GEMMs) and
 * conv_dense (building D, folding dD). */
#ifndef RCL_OPS_CONV2D_DENSE_H
#define RCL_OPS_CONV2D_DENSE_H

#include "gemm/gemm_internal.h"
#include "ops/conv2d_chunk.h"
#include "runtime/internal.h"

/* D^T (C*Q x OC*P) of w into dt (an existing buffer of that size) */
int rcl_conv_dense_build_t(rcl_ctx *ctx, cl_mem dt, cl_mem w, const rcl_conv_shape *s);
/* y (N, OC*P) = x (N, C*Q) dt, dt from rcl_conv_dense_build_t. co (NULL:
 * none): the bias and epilogue (row-major, p = P), applied by the GEMM's
 * store where it runs on our kernel's outer form (rcl_gemm_epi_ok).
 * Returns 1 if it applied co, 0 if the caller's epilogue pass must, or a
 * negative error code. */
int rcl_conv_dense_forward_t(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem dt,
                             const rcl_conv_shape *s, const rcl_gemm_conv_out *co);
/* D^T of w packed into dtp in panels of nwi columns (rcl_gemm_const_b_panels;
 * CQ x ceil(OCP/nwi)*nwi floats), through slot TMP where D^T is not w^T
 * itself (the identity); then the forward on it, co and the result as
 * above */
int rcl_conv_dense_pack_t(rcl_ctx *ctx, cl_mem dtp, cl_mem w, int nwi, const rcl_conv_shape *s);
int rcl_conv_dense_forward_packed(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem dtp, int nwi,
                                  const rcl_conv_shape *s, const rcl_gemm_conv_out *co);
/* y (N, OC*P) = x (N, C*Q) D^T; co and the result as above */
int rcl_conv_dense_forward(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem w, const rcl_conv_shape *s,
                           const rcl_gemm_conv_out *co);
/* dx = sum_p dy_p D_p and / or dw = fold(dy^T x) (either NULL), both
 * overwritten */
int rcl_conv_dense_backward(rcl_ctx *ctx, cl_mem dx, cl_mem dw, cl_mem dy, cl_mem x, cl_mem w,
                            const rcl_conv_shape *s);

#endif
