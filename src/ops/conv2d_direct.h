/* The direct convolution's host side (conv2d_direct.c, kernels in
 * cl/conv_direct.cl), called by conv2d.c for the passes its chooser gives
 * to the direct path. Shapes are conv2d.c's, already validated, with the
 * dead taps dropped; each call fails with RCL_ERR_UNSUPPORTED where
 * rcl_conv_direct_plan_for says the pass cannot run directly. */
#ifndef RCL_OPS_CONV2D_DIRECT_H
#define RCL_OPS_CONV2D_DIRECT_H

#include "ops/conv2d_chunk.h"
#include "runtime/internal.h"

/* The widest vector the direct kernels use on this context: the tunable
 * conv_direct VW, at most the device's preferred float vector width (at
 * least 4), so that the default of 16 does not spill registers where the
 * hardware's vectors hold 8 floats. */
int rcl_conv_direct_vw(const rcl_ctx *ctx);

/* y (N,OC,OH,OW) = conv(x, w) (+ b: (OC) or NULL), then the epilogue epi
 * (RCL_CONV_EPI_*: + res, laid out as y; ReLU); profiling tags conv_pad,
 * conv_fwd_direct; a 3x3 stride-1 conv runs through Winograd where
 * rcl_conv_wino_choose says so (conv2d_wino.h) */
enum { RCL_CONV_EPI_RES = 1, RCL_CONV_EPI_RELU = 2 };
int rcl_conv_direct_forward(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem w, cl_mem b, cl_mem res,
                            int epi, const rcl_conv_shape *s);
/* dx (N,C,H,W) from dy (N,OC,OH,OW) and w: the transposed convolution as a
 * gather (or Winograd, as the forward), then dx += dx_add (laid out as dx;
 * NULL: none) as the kernel stores; tags conv_pad, conv_bwd_data_direct */
int rcl_conv_direct_dx(rcl_ctx *ctx, cl_mem dx, cl_mem dy, cl_mem w, cl_mem dx_add,
                       const rcl_conv_shape *s);
/* dw (OC,C,KH,KW) from dy and x (overwritten); tags conv_pad,
 * conv_bwd_weight_direct */
int rcl_conv_direct_dw(rcl_ctx *ctx, cl_mem dw, cl_mem dy, cl_mem x, const rcl_conv_shape *s);

/* Copy the taps [kh0, kh0+tkh) x [kw0, kw0+tkw) of w (planes x fkh x fkw)
 * into wt (planes x tkh x tkw), dir 0; or back, dir 1: w gets wt's values
 * there and 0 at every other tap. Tag conv_taps. */
int rcl_conv_taps(rcl_ctx *ctx, cl_mem w, cl_mem wt, int planes, int fkh, int fkw, int kh0,
                  int kw0, int tkh, int tkw, int dir);

#endif
