/* The weight gradient on input rows (conv2d_dw_rows.c, kernels in
 * cl/conv_dw_rows.cl), called by conv2d.c for convs with more than 16 taps
 * (the ImageNet stem) in place of im2col + GEMM. Shapes are conv2d.c's,
 * already validated, with the dead taps dropped. */
#ifndef RCL_OPS_CONV2D_DW_ROWS_H
#define RCL_OPS_CONV2D_DW_ROWS_H

#include "ops/conv2d_chunk.h"
#include "runtime/internal.h"

/* The plan for shape s: the vector width (output channels a vector) and
 * the vectors a work-item (at most conv.DW_ROWS_NV), the chunks of rows
 * (their count g and rows each r: about conv.DW_ROWS_KB of dy each, at
 * least 16 work-items a compute unit), and the scratch: dy transposed (col
 * bytes) and the partial sums (tmp bytes, 0 with one chunk). 0 where the
 * kernel cannot run the shape (stride not 1 or 2, OC not a multiple of a
 * vector width of 4 or more). */
typedef struct rcl_conv_dw_rows_plan {
    int vw, nv, g, r;
    uint64_t col, tmp;
} rcl_conv_dw_rows_plan;
int rcl_conv_dw_rows_plan_for(const rcl_ctx *ctx, const rcl_conv_shape *s,
                              rcl_conv_dw_rows_plan *p);

/* 1 where conv.DW_ROWS takes the weight gradient of s (more than 16 taps,
 * the reduction at least conv.DW_ROWS_MIN_K long, a plan) */
int rcl_conv_dw_rows_use(const rcl_ctx *ctx, const rcl_conv_shape *s);

/* dw (OC,C,KH,KW) from dy (N,OC,OH,OW) and x (N,C,H,W), overwritten; tags
 * transpose, conv_bwd_weight_rows */
int rcl_conv_dw_rows(rcl_ctx *ctx, cl_mem dw, cl_mem dy, cl_mem x, const rcl_conv_shape *s);

#endif
