/* Winograd F(2x2, 3x3) host side (conv2d_wino.c, kernels in
 * cl/conv_wino.cl): the passes of 3x3 stride-1 convs on the direct path
 * that the tunable conv.WINOGRAD names (1: forward and data gradient, 2:
 * also the weight gradient) where rcl_conv_wino_plan_for (conv2d_chunk.c)
 * says the shape fits. */

#ifndef RCL_OPS_CONV2D_WINO_H
#define RCL_OPS_CONV2D_WINO_H

#include "ops/conv2d_chunk.h"
#include "runtime/internal.h"

/* 1 and *p where `pass` of s runs through Winograd on this context, else 0 */
int rcl_conv_wino_choose(const rcl_ctx *ctx, const rcl_conv_shape *s, int pass,
                       rcl_conv_wino_plan *p);
/* y (N,OC,OH,OW) = conv(x, w) (+ b: (OC) or NULL), then the epilogue epi
 * (conv2d_direct.h); tag conv_fwd_wino (the weight transform, then one
 * conv) */
int rcl_conv_wino_forward(rcl_ctx *ctx, cl_mem y, cl_mem x, cl_mem w, cl_mem b, cl_mem res,
                          int epi, const rcl_conv_shape *s, const rcl_conv_wino_plan *p);
/* dx (N,C,H,W) from dy (N,OC,OH,OW) and w (OC,C,3,3), then dx += dx_add
 * (laid out as dx; NULL: none) as the kernel stores; tag
 * conv_bwd_data_wino */
int rcl_conv_wino_dx(rcl_ctx *ctx, cl_mem dx, cl_mem dy, cl_mem w, cl_mem dx_add,
                     const rcl_conv_shape *s, const rcl_conv_wino_plan *p);
/* dw (OC,C,3,3) from dy (N,OC,OH,OW) and x, overwritten: F(2x2, 3x3)
 * fused (src/ops/conv2d_wino_dw.c, cl/conv_wino_dw.cl): one launch
 * transforms chunks of tiles into slot COL and sums their products into
 * per-group partial sums in slot TMP, one more adds those up and
 * transforms them back; tag conv_bwd_weight_wino. Its plan (the kernels'
 * compile-time shape, the groups, the scratch) comes from
 * rcl_conv_wino_dw_plan_for. */
typedef struct rcl_conv_wino_dw_plan {
    int th, vt, seg;     /* tile rows; tiles per unit (4, 8, 16); units per tile row */
    int vc, ocp, nv, bc; /* output channels per vector, OC padded to vectors, accumulator
                            block: bc input channels by nv vectors */
    int tr, g, wg, wgs;  /* units per chunk, work-groups and their size; conv_wino_dws' */
    uint64_t col, tmp;   /* scratch bytes: slot COL (V and Z), slot TMP (partial sums) */
} rcl_conv_wino_dw_plan;
void rcl_conv_wino_dw_plan_for(const rcl_ctx *ctx, const rcl_conv_shape *s, rcl_conv_wino_dw_plan *d);
int rcl_conv_wino_dw(rcl_ctx *ctx, cl_mem dw, cl_mem dy, cl_mem x, const rcl_conv_shape *s);

/* The GEMM form of F(2x2, 3x3) or F(4x4, 3x3) for the forward pass and
 * data gradient of 3x3 stride-1 convs on the im2col path (tunable
 * conv.WINO_GEMM: 0 off, 2 (or 1) F(2x2), 4 F(4x4); outputs at least
 * RCL_CONV_WINO_GEMM_MIN_HW in both dimensions): 1 and *p where it runs
 * `pass` of s on this context (rcl_conv_wino_gemm_plan_for), else 0 */
#define RCL_CONV_WINO_GEMM_MIN_HW 4
int rcl_conv_wino_gemm_choose(const rcl_ctx *ctx, const rcl_conv_shape *s, int pass,
                              rcl_conv_wino_plan *p);
/* pass FWD: out = y (N,OC,OH,OW) from in = x, w (OC,C,3,3), b (OC) or NULL;
 * DX: out = dx (N,C,H,W) from in = dy, b NULL; then the epilogue epi with
 * res laid out as out (conv2d_direct.h). The weight transform (slot TMP),
 * then per chunk conv_wino_vt / conv_wino4_vt (V), the npos GEMMs (M) in
 * slot COL (F(4x4): one launch on V written as their packed op(B) where
 * rcl_gemm_batch_panels says so) and conv_wino_yt / conv_wino4_yt; tags
 * conv_fwd_wino / conv_bwd_data_wino, the GEMMs too */
/* the scratch rcl_conv_wino_gemm takes for plan p: col (slot COL: a
 * chunk's V and M), tmp (slot TMP: U), and what its GEMMs may take
 * (slots GEMM_A, GEMM_B; 0 when they read V's panels in one launch) */
typedef struct rcl_conv_wino_bytes {
    uint64_t col, tmp, gemm_a, gemm_b;
} rcl_conv_wino_bytes;
void rcl_conv_wino_gemm_scratch(rcl_ctx *ctx, const rcl_conv_wino_plan *p,
                                rcl_conv_wino_bytes *b);
int rcl_conv_wino_gemm(rcl_ctx *ctx, cl_mem out, cl_mem in, cl_mem w, cl_mem b, cl_mem res,
                       int epi, const rcl_conv_shape *s, int pass, const rcl_conv_wino_plan *p);

#endif
