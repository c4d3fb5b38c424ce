/* Search spaces of the tuner, CLBlast style: each kernel declares its
 * parameters with their candidate values, plus a constraint function. */
#ifndef RCL_TUNE_SPACE_H
#define RCL_TUNE_SPACE_H

#include <stdint.h>

#define TUNE_MAX_PARAMS 17
#define TUNE_MAX_VALUES 8

typedef struct tune_param {
    const char *name;
    int nvalues;
    int values[TUNE_MAX_VALUES];
} tune_param;

typedef struct tune_space {
    const char *name;                    /* "ours.outer", "ours.dot", "clblast" */
    int nparams;
    tune_param params[TUNE_MAX_PARAMS];
    int (*valid)(const int *v);          /* constraints on one point */
} tune_space;

/* Our kernel, outer-product form (NN, TN, TT): MWI NWI VW KU KB WGM WGN MS XB XA
 * (rcl_gemm_tiled_names order) */
extern const tune_space TUNE_OURS_OUTER;
/* Our kernel, dot form (NT): same names */
extern const tune_space TUNE_OURS_DOT;
/* CLBlast: the 16 Xgemm parameters (rcl_xgemm_names order), then
 * XGEMM_MIN_INDIRECT_SIZE */
extern const tune_space TUNE_CLBLAST;

/* The other kernels of cl/ (everything but the GEMM): the parameters
 * src/runtime/tunables.def marks TUNED, in its order, read by the library
 * from the context with rcl_tun(ctx, id) (by name: rcl_ctx_param(ctx, key,
 * param, def)). Constraints: WG values are powers of two and the library
 * clamps them to the device's maximum work-group size (rcl_wg_clamp); SPAN
 * (floats per im2col/col2im work-item) is any positive value. `tags` are
 * the profiling tags (resnet-cl bench) whose device time the parameter
 * moves: the tuner's objective for it. */
typedef struct tune_kparam {
    const char *key, *param;
    const char *tags;            /* comma-separated */
    int def;                     /* the library's default */
    int nvalues;
    int values[TUNE_MAX_VALUES]; /* candidates, the default excluded */
    int id;                      /* rcl_tunable_id */
} tune_kparam;
extern const tune_kparam TUNE_KPARAMS[];
extern const int TUNE_NKPARAMS;
/* the most TUNE_KPARAMS phase F times (its point table's width; a row past
 * it would not be tuned: test_host_tune_space checks the table fits) */
#define TUNE_NK_MAX 48

/* The constraints on one value of a TUNED parameter (the kernels' own
 * #error checks, declared here so that the tuner never builds a point that
 * cannot compile): WG-type values powers of two; conv.PATH 0..2 (rule,
 * im2col, direct); conv.DIRECT_MAX_C >= 1; cl/conv_direct.cl's VW 4, 8 or
 * 16, OCB 1..16, WOCB 1..6 (WOCB*9 accumulator vectors for 3x3 kernels,
 * WOCB*3 with WSPLIT 1), WSPLIT 0 or 1; other values positive. 1 if v is valid for kp. */
int tune_kparam_valid(const tune_kparam *kp, int v);

/* Number of points of the full grid (before constraints). */
double tune_space_size(const tune_space *s);

/* Candidates around a known-good point: `base` first, then every valid
 * point of s that differs from it in one parameter (parameter by parameter,
 * in the order of s's values), then a random sample of s (seeded) without
 * repeats; at most `cap` points into out[i*nparams ..]. Under a budget the
 * search thus tries the one-parameter neighbourhood of the defaults before
 * far-away points. Returns the count. */
int tune_space_around(const tune_space *s, const int *base, int *out, int cap, uint64_t seed);

/* 1 if the np-parameter point v equals one of pts[0 .. n). */
int tune_points_have(const int *pts, int n, int np, const int *v);

/* Up to `cap` distinct valid points into out[i*nparams ..]: the whole grid
 * in order if it has at most `cap` valid points, else a random sample
 * (seeded). Returns the count. */
int tune_space_points(const tune_space *s, int *out, int cap, uint64_t seed);

/* Phase F's choice for one kernel parameter from ncand candidates timed in
 * the training steps of nm models. tdef[m]: the defaults' device time of
 * the parameter's kernels in model m (< 0: m's default step did not run,
 * m is left out; 0: those kernels do not run in m); t[c*nm + m]: candidate
 * c's time there; st[c*nm + m]: 0 timed with the defaults' answer, < 0 not
 * run, > 0 failed or wrong. A candidate counts only if it was timed, right,
 * on every model left in; its score is its time over the defaults' averaged
 * over the models that run the kernels (each model weighs the same), and it
 * wins where the score is under `margin` times the best so far (starting
 * from the defaults' 1). Returns the winner's index, or -1 for the
 * defaults; *score (may be NULL) gets the winning score. */
int tune_pick(int ncand, int nm, const double *tdef, const double *t, const int *st,
              double margin, double *score);

/* A point value of phase F meaning "the device's own default": the
 * parameter is left as the context set it (rcl_ctx_create; the tunables
 * with RCL_TUN_DEVICE_DEFAULT, e.g. conv WINOGRAD, on by default on CPU
 * drivers although the table says 0). */
#define TUNE_KP_DEVICE (-1)

/* Phase F's points over the first nk TUNE_KPARAMS, nk values each, into
 * pts[i*nk ..] (owner[i]: the parameter point i varies, -1 for none): point
 * 0 the defaults, each parameter at the library's default
 * (TUNE_KP_DEVICE for those whose default the context sets per device,
 * RCL_TUN_DEVICE_DEFAULT), then per parameter each valid candidate with
 * the others at point 0's values; a per-device parameter's candidates start
 * with the table's default (so that a device can be tuned back to it).
 * Parameters whose tags name "norm" or are "relu" are skipped when
 * skip_norm (a BatchNorm model never runs those kernels). At most `cap`
 * points. Returns the count. */
int tune_kparam_points(int *pts, int *owner, int nk, int cap, int skip_norm);

#endif
