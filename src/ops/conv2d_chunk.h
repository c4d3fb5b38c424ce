/* conv2d's batching rule (conv2d.c), exported so that the tools' hand-derived
 * GEMM shapes (src/tools/gemm_shapes.c) follow the same rule instead of a
 * copy. No OpenCL. */
#ifndef RCL_OPS_CONV2D_CHUNK_H
#define RCL_OPS_CONV2D_CHUNK_H

#include "runtime/tunables.h"

#include <stdint.h>

/* Default of the tunable conv.COL_BUDGET_MB (src/runtime/tunables.def): the
 * byte budget (MiB) of one chunk's column matrix and reordered output. */
#define RCL_CONV_COL_BUDGET_MB_DEFAULT (rcl_tunables[RCL_TUN_CONV_COL_BUDGET_MB].def)

/* 1 if a conv of N images with this kernel, stride and padding runs as
 * one GEMM per image on the tensors themselves (1x1, stride 1, pad 0, a
 * single image); 0 if it takes the im2col path over chunks of images. */
int rcl_conv_is_direct(int N, int kh, int kw, int sh, int sw, int ph, int pw);

/* Images per chunk on the im2col path for N images, CKK = C*KH*KW, OC output
 * channels and P = OH*OW output pixels: as many as keep the larger of col
 * (CKK*P floats per image) and the reordered output (OC*P) within
 * budget_mb MiB (< 1 counts as 1) and max_alloc bytes (0: no limit), at
 * least 1, at most N, with np = images*P below 2^31; then balanced: the
 * same number of chunks, sizes as even as possible (the last chunk may be
 * smaller). */
int rcl_conv_chunk_images(int budget_mb, uint64_t max_alloc, int N, int CKK, int OC, int P);

#endif
