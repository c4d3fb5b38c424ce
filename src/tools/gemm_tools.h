/* GEMM helpers of the tuner and `resnet-cl bench gemm` (not in the core
 * library): the GEMM shapes of a training step (gemm_shapes.c, recorded
 * through the core's rcl_gemm_set_hook), device buffers and timing for one
 * shape (gemm_time.c). */
#ifndef RCL_TOOLS_GEMM_TOOLS_H
#define RCL_TOOLS_GEMM_TOOLS_H

#include "gemm/gemm_params.h"

#include <stdint.h>

/* ---- GEMM shapes of a training step (tuner, bench) */
typedef struct rcl_gemm_shape {
    int ta, tb, M, N, K;   /* lda/ldb/ldc: tight (stored columns) */
    int count;             /* calls per training step */
    char what[40];         /* first layer that makes it, e.g. "layer2.0.conv1 wgrad" */
} rcl_gemm_shape;

/* The GEMMs of one resnet18 training step (forward + backward; conv chunking
 * exactly as src/ops/conv2d.c (ops/conv2d_chunk.h), given its tunable
 * conv.COL_BUDGET_MB (default RCL_CONV_COL_BUDGET_MB_DEFAULT, 256) and the
 * device's max_alloc (0: unknown); no input gradient for the stem)
 * at batch B and image size hw x hw (torchvision layout: 7x7/2 stem, 3x3/2
 * max pool, 4 stages of 2 BasicBlocks, fc to `classes`). Identical shapes
 * are merged (count). *n shapes are written (RCL_ERR_INVALID if more than
 * cap). */
int rcl_gemm_shapes_resnet18(int col_budget_mb, uint64_t max_alloc, int batch, int hw,
                             int classes, rcl_gemm_shape *out, int cap, int *n);
/* The GEMMs of one training step (train forward + backward at batch B,
 * hw x hw input, `classes` outputs) of any model rcl_model_create knows,
 * recorded from the real layer code on ctx's device (so chunking follows
 * the device and the conv.COL_BUDGET_MB in ctx's table): the model is built
 * and run once with every GEMM recorded instead of computed. `what` is the
 * GEMM's profiling tag and its call number, e.g. "conv_bwd_weight_gemm #12". */
int rcl_gemm_shapes_model(rcl_ctx *ctx, const char *arch, int batch, int hw, int classes,
                          rcl_gemm_shape *out, int cap, int *n);
/* Shapes from a text file, one "TA TB M N K [count]" per line, '#' comments. */
int rcl_gemm_shapes_file(const char *path, rcl_gemm_shape *out, int cap, int *n);

/* Record instead of compute (through rcl_gemm_set_hook): identical shapes merged
 * into count; overflow set when cap is exceeded. */
typedef struct rcl_gemm_recorder {
    rcl_gemm_shape *v;
    int n, cap, overflow;
    int calls;
} rcl_gemm_recorder;
int rcl_gemm_record(rcl_ctx *ctx, rcl_gemm_recorder *rec);
void rcl_gemm_recorder_add(rcl_gemm_recorder *r, int ta, int tb, int M, int N, int K, int count,
                           const char *what);

/* Device buffers for one shape (tight lds), filled with values in [-1, 1)
 * from `seed`. */
typedef struct rcl_gemm_bufs {
    cl_mem A, B, C;
    int lda, ldb, ldc;
} rcl_gemm_bufs;
int rcl_gemm_bufs_create(rcl_ctx *ctx, const rcl_gemm_shape *s, uint64_t seed, rcl_gemm_bufs *b);
void rcl_gemm_bufs_release(rcl_gemm_bufs *b);
/* C = A B (alpha 1, beta 0) for shape s through `path` with `p` (NULL:
 * defaults), or through rcl_gemm() when path is RCL_GEMM_DISPATCH. */
#define RCL_GEMM_DISPATCH (-1)
int rcl_gemm_run_shape(rcl_ctx *ctx, int path, const rcl_gemm_tiled_params *p,
                       const rcl_gemm_shape *s, const rcl_gemm_bufs *b);
/* `warm` untimed runs, then the median wall time (seconds, clFinish after
 * each) of `reps` runs. */
int rcl_gemm_time_shape(rcl_ctx *ctx, int path, const rcl_gemm_tiled_params *p,
                        const rcl_gemm_shape *s, const rcl_gemm_bufs *b, int warm, int reps,
                        double *median_s);
double rcl_gemm_flops(const rcl_gemm_shape *s); /* 2*M*N*K */

#endif
