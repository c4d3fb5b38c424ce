/* The GEMM layer's interface for the tools above the core library (the
 * tuner, `resnet-cl bench gemm`, src/tools) and the tests: the paths, our
 * kernel's parameters, CLBlast's parameters, shape classes and the recorder
 * hook. The dispatcher's own internals are in gemm/gemm_internal.h.
 *
 * Paths:
 *   RCL_GEMM_CLBLAST  CLBlastSgemm with whatever Xgemm/GemmRoutine parameters
 *                     are active for the device (CLBlast's database, or the
 *                     overrides from the tunable table key "gemm.clblast").
 *   RCL_GEMM_TILED    cl/gemm.cl with rcl_gemm_tiled_params.
 * rcl_gemm() picks the path per shape class from the tunable table:
 *   key "gemm.<class>" (see rcl_gemm_class), param "PATH" (0 CLBlast, 1 tiled;
 *   default 0) and, for the tiled path, MWI NWI VW KU KB WGM WGN MS XB XA.
 * CLBlast's parameters cannot vary per class: overriding them makes CLBlast
 * drop its compiled program, so one set per device ("gemm.clblast": the 16
 * Xgemm names below + XGEMM_MIN_INDIRECT_SIZE) is applied once. */
#ifndef RCL_GEMM_PARAMS_H
#define RCL_GEMM_PARAMS_H

#include "rcl/gemm.h"
#include "rcl/status.h"

#include <stddef.h>

typedef enum rcl_gemm_path { RCL_GEMM_CLBLAST = 0, RCL_GEMM_TILED = 1 } rcl_gemm_path;

/* ---- our kernel (cl/gemm.cl) */
typedef struct rcl_gemm_tiled_params {
    int mwi, nwi;   /* C tile per work-item */
    int vw;         /* vector width (along n; along k for NT) */
    int ku;         /* k unroll */
    int kb;         /* k block between work-group barriers (0: none) */
    int wgm, wgn;   /* work-group size along M, N */
    int ms;         /* work-group order: 0 along N first, 1 along M first */
    int xb;         /* op(B) copied first (a scratch copy; the copy is part
                       of the call):
                       1 (only with op(B) = B^T): B transposed into K x N
                       (profiling tag "transpose"), then the outer form
                       (NN or TN) on it;
                       2: op(B) packed into panels of nwi columns
                       (cl/pack.cl, tag "pack"), each work-item then
                       streams one contiguous panel; any kind, always the
                       outer form;
                       3: no copy: before each k block (KB > 0) the
                       work-group stages its KB x wgn*nwi block of op(B)
                       in local memory as panels; any kind, outer form */
    int xa;         /* 1 (outer form only): pack op(A) into panels of mwi
                       rows first (cl/pack.cl, profiling tag "pack"), so
                       that each work-item streams its rows of A
                       contiguously */
} rcl_gemm_tiled_params;

#define RCL_GEMM_TILED_NPARAMS 10
extern const char *const rcl_gemm_tiled_names[RCL_GEMM_TILED_NPARAMS]; /* "MWI", ... */
int *rcl_gemm_tiled_field(rcl_gemm_tiled_params *p, int i); /* i-th named field */
/* All fields as RCL_GEMM_TILED_NPARAMS ints in rcl_gemm_tiled_names order
 * (the tuner's points), and back. */
void rcl_gemm_tiled_to_ints(const rcl_gemm_tiled_params *p, int *v);
rcl_gemm_tiled_params rcl_gemm_tiled_from_ints(const int *v);

/* Defaults for a transposition kind on a device
 * whose preferred float vector width is `vec_width` (rcl_gemm_vec_width):
 * explicit vectors where the compiler wants them (CPU drivers like PoCL
 * report 8 or 16), scalar tiles where it vectorizes across work-items
 * (GPUs, llvmpipe report 1). On vector devices every kind runs the outer
 * form on packed operands (NN, NT, TT: XB 2; TN, TT: XA 1); elsewhere NT
 * runs the dot form. */
rcl_gemm_tiled_params rcl_gemm_tiled_defaults(int vec_width, int trans_a, int trans_b);
/* The dot form's defaults (NT without XB; the tuner's starting point for it). */
rcl_gemm_tiled_params rcl_gemm_tiled_dot_defaults(int vec_width);
/* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT of ctx's device (1 if unknown). */
int rcl_gemm_vec_width(const rcl_ctx *ctx);
/* 1 if `p` is a valid parameter set (vw in 1,2,4,8,16; outer form: nwi % vw
 * == 0; all positive; register tile and work-group not absurd; ms, xa 0 or
 * 1, xb 0..3, xb 1 only with trans_b, xb 3 only with kb > 0 and kb *
 * wgn * nwi <= 8192 floats (32 KiB of local memory), xa only in the outer
 * form). The form is the
 * dot form for NT without xb. */
int rcl_gemm_tiled_valid(const rcl_gemm_tiled_params *p, int trans_a, int trans_b);
/* 1 if p runs trans_a/trans_b in the kernel's dot form (NT reading B in
 * place), 0 in its outer-product form */
static inline int rcl_gemm_tiled_dot(const rcl_gemm_tiled_params *p, int trans_a, int trans_b)
{
    return trans_b && !trans_a && !p->xb;
}
/* Read "gemm.<class>" MWI.. from the table, falling back to the defaults
 * (XA to 0 where the class has entries but no XA: tuned before XA). */
rcl_gemm_tiled_params rcl_gemm_tiled_from_table(const rcl_ctx *ctx, const char *key, int trans_a,
                                                int trans_b);

#define RCL_XGEMM_NPARAMS 16
extern const char *const rcl_xgemm_names[RCL_XGEMM_NPARAMS]; /* "GEMMK", "KREG", ... */
/* Override CLBlast's Xgemm parameters (values in rcl_xgemm_names order) and,
 * if min_indirect > 0, XGEMM_MIN_INDIRECT_SIZE, for the context's device
 * (process-wide in CLBlast). xgemm may be NULL to leave Xgemm alone. Rejects
 * GEMMK=1 with MWG != NWG (wrong results before CLBlast 1.6.3). */
int rcl_gemm_clblast_override(rcl_ctx *ctx, const int *xgemm, int min_indirect);
/* 1 if the Xgemm set satisfies CLBlast's kernel constraints (and the trap above). */
int rcl_xgemm_valid(const int *xgemm);
/* The CLBlast overrides the library applies for ctx's device: the 16 Xgemm
 * values of "gemm.clblast" into xgemm (-1 where absent), its
 * XGEMM_MIN_INDIRECT_SIZE into *min_indirect (absent: 1 on CPU drivers that
 * prefer scalars, see rcl_ctx_scalar_cpu, else 0 = CLBlast's own). Returns
 * 1 if all 16 Xgemm values are present. */
int rcl_gemm_clblast_table(rcl_ctx *ctx, int *xgemm, int *min_indirect);

/* ---- explicit path (tuner, bench); p NULL: the defaults */
int rcl_gemm_with(rcl_ctx *ctx, rcl_gemm_path path, const rcl_gemm_tiled_params *p, int trans_a,
                  int trans_b, int M, int N, int K, float alpha, cl_mem A, size_t off_a, int lda,
                  cl_mem B, size_t off_b, int ldb, float beta, cl_mem C, size_t off_c, int ldc,
                  const char *tag);

/* ---- shape classes: "<NN|NT|TN|TT>_m<a>_n<b>_k<c>" with a = floor(log2 M)
 * capped at 13 (likewise n, k); writes the class into buf (cap >= 32) and
 * returns buf. The tunable key is "gemm." + class. */
const char *rcl_gemm_class(int trans_a, int trans_b, int M, int N, int K, char *buf, size_t cap);
#define RCL_GEMM_KEY_PREFIX "gemm."
#define RCL_GEMM_CLBLAST_KEY "gemm.clblast"

/* The recorder hook (the tools' shape recording uses it): while set on ctx,
 * rcl_gemm() calls hook(user, ...) instead of computing and returns its
 * status; NULL computes again. */
typedef int (*rcl_gemm_hook)(void *user, int trans_a, int trans_b, int M, int N, int K,
                             const char *tag);
int rcl_gemm_set_hook(rcl_ctx *ctx, rcl_gemm_hook hook, void *user);

#endif
