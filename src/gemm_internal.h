/* GEMM internals shared by the dispatcher (gemm.c), our register-tiled
 * kernel (gemm_tiled.c, cl/gemm.cl), the tune cache, the tuner and the bench.
 *
 * Paths:
 *   RCL_GEMM_CLBLAST  CLBlastSgemm with whatever Xgemm/GemmRoutine parameters
 *                     are active for the device (CLBlast's database, or the
 *                     overrides from the tunable table key "gemm.clblast").
 *   RCL_GEMM_TILED    cl/gemm.cl with rcl_gemm_tiled_params.
 * rcl_gemm() picks the path per shape class from the tunable table:
 *   key "gemm.<class>" (see rcl_gemm_class), param "PATH" (0 CLBlast, 1 tiled;
 *   default 0) and, for the tiled path, MWI NWI VW KU WGM WGN.
 * CLBlast's parameters cannot vary per class: overriding them makes CLBlast
 * drop its compiled program, so one set per device ("gemm.clblast": the 16
 * Xgemm names below + XGEMM_MIN_INDIRECT_SIZE) is applied once. */
#ifndef RCL_GEMM_INTERNAL_H
#define RCL_GEMM_INTERNAL_H

#include "rcl/gemm.h"

#include <stddef.h>

typedef enum rcl_gemm_path { RCL_GEMM_CLBLAST = 0, RCL_GEMM_TILED = 1 } rcl_gemm_path;

/* ---- our kernel (cl/gemm.cl) */
typedef struct rcl_gemm_tiled_params {
    int mwi, nwi;   /* C tile per work-item */
    int vw;         /* vector width (along n; along k for NT) */
    int ku;         /* k unroll */
    int wgm, wgn;   /* work-group size along M, N */
} rcl_gemm_tiled_params;

#define RCL_GEMM_TILED_NPARAMS 6
extern const char *const rcl_gemm_tiled_names[RCL_GEMM_TILED_NPARAMS]; /* "MWI", ... */
int *rcl_gemm_tiled_field(rcl_gemm_tiled_params *p, int i); /* i-th named field */

/* Defaults for a transposition kind (NT uses the dot form). */
rcl_gemm_tiled_params rcl_gemm_tiled_defaults(int trans_a, int trans_b);
/* 1 if `p` is a valid parameter set (vw in 1,2,4,8,16; outer form: nwi % vw
 * == 0; all positive; register tile and work-group not absurd). */
int rcl_gemm_tiled_valid(const rcl_gemm_tiled_params *p, int trans_a, int trans_b);
/* Read "gemm.<class>" MWI.. from the table, falling back to the defaults. */
rcl_gemm_tiled_params rcl_gemm_tiled_from_table(const rcl_ctx *ctx, const char *key, int trans_a,
                                                int trans_b);

int rcl_gemm_tiled(rcl_ctx *ctx, const rcl_gemm_tiled_params *p, int trans_a, int trans_b, int M,
                   int N, int K, float alpha, cl_mem A, size_t off_a, int lda, cl_mem B,
                   size_t off_b, int ldb, float beta, cl_mem C, size_t off_c, int ldc,
                   const char *tag);

/* ---- CLBlast */
int rcl_gemm_clblast(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     cl_mem A, size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, float beta,
                     cl_mem C, size_t off_c, int ldc, const char *tag);

#define RCL_XGEMM_NPARAMS 16
extern const char *const rcl_xgemm_names[RCL_XGEMM_NPARAMS]; /* "GEMMK", "KREG", ... */
/* Override CLBlast's Xgemm parameters (values in rcl_xgemm_names order) and,
 * if min_indirect > 0, XGEMM_MIN_INDIRECT_SIZE, for the context's device
 * (process-wide in CLBlast). xgemm may be NULL to leave Xgemm alone. Rejects
 * GEMMK=1 with MWG != NWG (wrong results before CLBlast 1.6.3). */
int rcl_gemm_clblast_override(rcl_ctx *ctx, const int *xgemm, int min_indirect);
/* 1 if the Xgemm set satisfies CLBlast's kernel constraints (and the trap above). */
int rcl_xgemm_valid(const int *xgemm);

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

/* Forget which CLBlast overrides were applied, so the next rcl_gemm re-reads
 * "gemm.clblast" (call after changing the tunable table). */
void rcl_gemm_reset(rcl_ctx *ctx);

#endif
