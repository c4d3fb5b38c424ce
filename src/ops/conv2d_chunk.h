/* conv2d's shape rules (conv2d.c): the batching of the im2col path, the
 * taps that read only padding, and the choice between im2col + GEMM and the
 * direct kernels (cl/conv_direct.cl), exported so that the tools'
 * hand-derived GEMM shapes (src/tools/gemm_shapes.c) follow the same rules
 * instead of a copy. No OpenCL. */
#ifndef RCL_OPS_CONV2D_CHUNK_H
#define RCL_OPS_CONV2D_CHUNK_H

#include "runtime/tunables.h"

#include <stdint.h>

/* Default of the tunable conv.COL_BUDGET_MB (src/runtime/tunables.def): the
 * byte budget (MiB) of one chunk's column matrix and reordered output. */
#define RCL_CONV_COL_BUDGET_MB_DEFAULT (rcl_tunables[RCL_TUN_CONV_COL_BUDGET_MB].def)

/* 1 if a conv of N images with this kernel, stride and padding and P
 * output pixels per image runs as one GEMM per image on the tensors
 * themselves: 1x1, stride 1, pad 0, and a single image or P >= min_p (the
 * tunable conv.IMAGE_GEMM_P; 0: never); 0 if it takes the im2col path
 * over chunks of images. */
int rcl_conv_is_direct(int N, int P, int min_p, int kh, int kw, int sh, int sw, int ph, int pw);

/* 1 if the per-image weight gradient of such a conv (N images, C input and
 * OC output channels) sums dW^T = sum_n x[n] dy[n]^T and transposes it once,
 * instead of dW = sum_n dy[n] x[n]^T: the NT GEMM packs its second operand
 * transposed, a transpose of a whole image's tensor, so the one with fewer
 * channels goes second (on PoCL the transposing pack runs at about a
 * quarter of the copy bandwidth). Several images only: one image's GEMM is
 * the same either way. */
int rcl_conv_dw_swapped(int N, int C, int OC);

/* 1 if a conv with Q = H*W input and P = OH*OW output pixels and KK live
 * taps (dead ones dropped) runs as dense GEMMs (conv2d_dense.h,
 * cl/conv_dense.cl): `on` (the tunable conv.DENSE, under the path rule
 * only), Q <= KK (the dense operator D, OC*P x C*Q, has no more entries
 * than the im2col path's OC x C*KK weights times P: no more
 * multiplications, and no column matrix), and D within budget_mb MiB (the
 * tunable conv.COL_BUDGET_MB), max_alloc (0: no limit) and 2^31 floats.
 * On 32x32 inputs the ImageNet-layout nets' layer3 (2x2 maps: Q 4 of 9
 * taps, every one live for some output) and layer4 (1x1). At most
 * RCL_CONV_DENSE_MAX_PQ pixel pairs P*Q: the kernels unroll the P x Q
 * block of each channel pair. */
#define RCL_CONV_DENSE_MAX_PQ 256
int rcl_conv_is_dense(int on, int Q, int P, int KK, int C, int OC, int budget_mb,
                      uint64_t max_alloc);

/* Images per chunk on the im2col path for N images, CKK = C*KH*KW, OC output
 * channels and P = OH*OW output pixels: as many as keep the larger of col
 * (CKK*P floats per image) and the reordered output (OC*P) within
 * budget_mb MiB (< 1 counts as 1) and max_alloc bytes (0: no limit), at
 * least 1, at most N, with np = images*P below 2^31; then balanced: the
 * same number of chunks, sizes as even as possible (the last chunk may be
 * smaller). */
int rcl_conv_chunk_images(int budget_mb, uint64_t max_alloc, int N, int CKK, int OC, int P);

/* The taps of one axis that read the input for at least one output
 * position: [*lo, *hi) of the k in [0, K) with 0 <= o*S - P + k < I for
 * some o in [0, O). A conv whose other taps are dropped is the conv with
 * kernel *hi - *lo and padding P - *lo on the weights' slice (exactly: the
 * dropped taps multiply only zero padding). */
void rcl_conv_live_taps(int O, int I, int S, int P, int K, int *lo, int *hi);

/* One conv's geometry for the path rule (after dropping dead taps). */
typedef struct rcl_conv_shape {
    int N, C, H, W, OC, KH, KW, S, PH, PW, OH, OW;
} rcl_conv_shape;

/* On the dense path: 1 if D is w itself (1x1 kernel, 1x1 input and output
 * map: no D built, no fold); rcl_conv_dense_y_transposed, 1 if that
 * identity's forward computes y^T = w x^T and transposes it, where there
 * are more output channels than images (the NT GEMM packs its second
 * operand transposed: x, the smaller, instead of w). */
int rcl_conv_dense_identity(const rcl_conv_shape *s);
int rcl_conv_dense_y_transposed(const rcl_conv_shape *s);

/* Which pass of a conv (forward, data gradient, weight gradient). */
enum { RCL_CONV_FWD = 0, RCL_CONV_DX = 1, RCL_CONV_DW = 2 };

/* The direct kernels' layout for one pass: vector width vx (<= vw_max,
 * narrower for narrow outputs), tw vector tiles per output row, padded
 * input planes hp x wp (stride 2: rows split into even and odd columns, wp
 * even), images per chunk nb and, for the weight gradient, the row groups
 * g (enough work-items for `units` compute units). Returns 0 when the
 * direct path cannot run the pass: stride other than 1 or 2 or unequal per
 * axis, more than 16 taps (the forward: more than 49, up to 7x7, the
 * ImageNet stem; its kernel loops over them), or buffers over those of
 * the im2col path for the same shape (its col and reordered-output chunks,
 * by the rule above: the direct path never needs more scratch memory). */
typedef struct rcl_conv_direct_plan {
    int vx, tw, hp, wp, nb, g;
} rcl_conv_direct_plan;
int rcl_conv_direct_plan_for(const rcl_conv_shape *s, int pass, int vw_max, int budget_mb,
                             uint64_t max_alloc, int units, int chunk_kb, rcl_conv_direct_plan *p);

/* Images per chunk nb capped so that a chunk's padded input (per floats an
 * image) stays within chunk_kb KiB (tunable conv.CHUNK_KB; <= 0: no cap),
 * at least 1: the kernels then read back from cache what conv_pad has just
 * written instead of from memory. The direct kernels' plan applies it
 * (its three passes) before balancing its chunks. */
uint64_t rcl_conv_chunk_cap(uint64_t nb, uint64_t per, int chunk_kb);

/* The Winograd kernels' layout (cl/conv_wino.cl: F(2x2, 3x3);
 * its conv_wino4: F(4x4, 3x3), the forward pass and data gradient where
 * tile (tunable conv_wino TILE) is 4 and the output at least 17 wide, 13
 * with vw_max 4) for
 * a pass of a 3x3 stride-1 conv: m x m output tiles. Forward pass and data
 * gradient: vx tiles per
 * vector (4, 8 or 16, at most vw_max; 4 or 8 for F(4x4)) of `rows` tile
 * rows (F(2x2) on outputs narrower than vx tiles; 1 for F(4x4)), twv
 * vectors of tiles per row, th tile
 * rows, ci input channels (C forward, OC for the data gradient; co the
 * other), nb = N images (one launch: the kernels read the input itself).
 * Weight gradient: th x tt tiles per image (of the output), nb images per
 * chunk. Returns 0 where it cannot run: another kernel or stride; for the
 * forward pass and data gradient more than RCL_CONV_WINO_MAX_C input
 * or output channels (the kernel keeps a work-item's transformed input and
 * its sums in private memory); buffers over the im2col path's for the same shape: the padded
 * chunk (forward, data gradient) or the transformed input and output
 * gradient of a chunk, 16 * (C + OC) floats per tile (weight gradient), in
 * its col bytes, and the transformed weights or their gradient, npos * C *
 * OC floats, in its reordered output's. The padded input's rows are split
 * into their m column phases (conv_pad's SPLIT). */
#define RCL_CONV_WINO_MAX_C 64
typedef struct rcl_conv_wino_plan {
    int vx, twv, th, tt, nb, ci, co;
    int rows; /* tile rows per vector: 1, 2 or 4 (vx / rows >= 4 tiles of each) */
    int m;    /* output tile: 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)) */
    int npos; /* (m + 2)^2 positions: the transformed weights' planes */
    int img;  /* F(4x4) on 2 x 2 tiles: images per vector (vx / 4; conv_wino4_img), else 0 */
} rcl_conv_wino_plan;
int rcl_conv_wino_plan_for(const rcl_conv_shape *s, int pass, int vw_max, int tile,
                           int budget_mb, uint64_t max_alloc, rcl_conv_wino_plan *p);

/* The GEMM form of Winograd F(m x m, 3x3), m = tile 2 or 4
 * (src/ops/conv2d_wino.c rcl_conv_wino_gemm) for the forward pass or data
 * gradient of a 3x3 stride-1 conv on the im2col path: per chunk of images
 * the transformed input V (npos x ci x T, T = nb*th*tt tiles of m x m
 * outputs, npos = (m + 2)^2) and the GEMMs' output M (npos x co x T) in the
 * im2col path's col bytes, the transformed weights (npos x ci x co) within
 * budget_mb and max_alloc; sets th, tt, ci, co, nb, m, npos (the other
 * fields 0). Returns 0 for another kernel, stride or tile, a pass other
 * than FWD / DX, or buffers that do not fit. */
#define RCL_CONV_WINO_PAD_TILES 256 /* the widest GEMM panel (cl/gemm.cl: 16 x 16) */
int rcl_conv_wino_gemm_plan_for(const rcl_conv_shape *s, int pass, int tile, int budget_mb,
                                uint64_t max_alloc, rcl_conv_wino_plan *p);

/* conv.PATH values */
enum { RCL_CONV_PATH_RULE = 0, RCL_CONV_PATH_GEMM = 1, RCL_CONV_PATH_DIRECT = 2 };

/* The path of one pass: 1 direct, 0 im2col + GEMM. mode (tunable conv.PATH)
 * RCL_CONV_PATH_RULE, the rule: direct where it can run, both C and OC are at most max_c
 * (tunable conv.DIRECT_MAX_C) and the output is at least 4 wide, and for
 * the data gradient the stride is 1 (the stride-2 transposed conv runs on
 * the dilated gradient, 3/4 zeros: im2col + GEMM is faster); _GEMM:
 * never; _DIRECT: wherever it can run. `per_shape` (-1: none) overrides the
 * rule (not _GEMM) where the direct path can run: the tune cache's "conv.<shape>"
 * FWD/DX/DW entries. */
int rcl_conv_use_direct(const rcl_conv_shape *s, int pass, int mode, int max_c, int per_shape,
                        int vw_max, int budget_mb, uint64_t max_alloc);

#endif
