/* Test harness: runs a cmocka group once per OpenCL device, plus helpers for
 * random data, tolerance checks and finite differences in double. */
#ifndef RCL_TEST_HARNESS_H
#define RCL_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rcl.h"

/* The context of the device under test (valid inside tests). */
extern rcl_ctx *T_CTX;

/* Run `tests` on every device (or the one named by --device N). Returns the
 * number of failures (non-zero if no device exists or the index is bad). */
int rcl_test_main(int argc, char **argv, const char *suite, const struct CMUnitTest *tests,
                  size_t n);
#define RCL_TEST_MAIN(suite, tests)                                                     \
    int main(int argc, char **argv)                                                     \
    {                                                                                   \
        return rcl_test_main(argc, argv, suite, tests, sizeof(tests) / sizeof(tests[0])); \
    }

/* The CLI training tests (test_train_*): without --device they run on one
 * device, the first that is not a software rasterizer (Mesa's llvmpipe
 * trains an epoch in hours), or the one RESNET_CL_TEST_TRAIN_DEVICE names;
 * they print which and why. --device N still forces N. */
int rcl_test_main_fast(int argc, char **argv, const char *suite, const struct CMUnitTest *tests,
                       size_t n);
#define RCL_TEST_MAIN_FAST(suite, tests)                                                \
    int main(int argc, char **argv)                                                     \
    {                                                                                   \
        return rcl_test_main_fast(argc, argv, suite, tests, sizeof(tests) / sizeof(tests[0])); \
    }

/* Kernel-variant sweeps (test_gemm, test_conv2d): every combination runs
 * where variants compile quickly: CPU drivers that want explicit vectors
 * (rcl_gemm_vec_width >= 4: PoCL compiles one in about a second). Other
 * drivers (Mesa's llvmpipe JITs one in 3-30 s at its first launch; GPU
 * drivers) run a covering subset: each kernel, parameter value and code
 * branch at least once, not every combination (and not the 16-tile
 * Winograd layouts, which such drivers never pick: test_conv_wino_vx).
 * RESNET_CL_TEST_SWEEP=all runs every combination everywhere, =cover the
 * subset everywhere. tu_sweep_all() says which;
 * tu_sweep(i, stride) is 1 if item i of a sweep runs: always under
 * tu_sweep_all(), else when i % stride == 0. */
int tu_sweep_all(void);
int tu_sweep(int i, int stride);

/* Assert a library call succeeded, printing the status and detail if not. */
#define T_OK(expr)                                                                       \
    do {                                                                                 \
        int t_st_ = (expr);                                                              \
        if (t_st_ != RCL_OK)                                                             \
            fail_msg("%s -> %s: %s", #expr, rcl_strerror(t_st_), rcl_last_error());      \
    } while (0)

/* Deterministic uniform random numbers in [lo, hi). */
typedef struct tu_rng { uint64_t s; } tu_rng;
tu_rng tu_rng_seed(uint64_t seed);
double tu_uniform(tu_rng *r, double lo, double hi);
void tu_fill(tu_rng *r, float *x, size_t n, double lo, double hi);
/* Values of magnitude in [gap, hi] with random sign: keeps finite differences
 * away from the kinks of ReLU / max. */
void tu_fill_away_from_zero(tu_rng *r, float *x, size_t n, double gap, double hi);

double *tu_f2d(const float *x, size_t n);   /* malloc'd copy */
float *tu_d2f(const double *x, size_t n);   /* malloc'd copy */

/* |got - want| <= atol + rtol*|want| everywhere; prints the worst element
 * on failure and returns 0, else 1. */
int tu_close_f(const char *what, const float *got, const double *want, size_t n, double rtol,
               double atol);
int tu_close_d(const char *what, const double *got, const double *want, size_t n, double rtol,
               double atol);

/* Central finite differences of f at x (modified in place, restored):
 * grad[i] = (f(x+h e_i) - f(x-h e_i)) / 2h. */
typedef double (*tu_scalar_fn)(void *ud, const double *x);
void tu_fd_grad(tu_scalar_fn f, void *ud, double *x, size_t n, double h, double *grad);

/* Device tensor created and filled from host floats (NULL data: zeros). */
void tu_tensor(rcl_tensor *t, int n, int c, int h, int w, const float *data);
/* malloc'd host copy of a device tensor. */
float *tu_read(const rcl_tensor *t);
/* Int32 buffer from host data. */
cl_mem tu_ibuf(const int *data, size_t n);
void tu_iread(cl_mem b, int *out, size_t n);

/* The whole file at path, malloc'd and NUL-terminated (*len its size when
 * len is given), or NULL when it cannot be opened. */
char *tu_read_file(const char *path, size_t *len);

/* Write `out` as PyTorch's safetensors.torch.save_file(model.state_dict())
 * would from resnet-cl checkpoint `ckpt`: its tensors but the optimizer's
 * ("optim.*") and the input record's ("input.mean"), and no metadata. */
void tu_write_state_dict(const char *ckpt, const char *out);

/* Remove dir and everything under it (symbolic links are removed, not
 * followed); 0 on success, -1 with errno otherwise. */
int tu_remove_tree(const char *dir);

/* Extracted CIFAR-10 JPEG tree (train/CLASS/NNNN.jpg, test/...), malloc'd
 * path; extracted from $RESNET_CL_DATA on first use. */
char *tu_cifar_jpeg_root(void);

/* An environment variable as it was (tu_env_save), to put back after a test
 * changed it (tu_env_restore). */
typedef struct tu_env {
    char name[64], value[512];
    int set;
} tu_env;
void tu_env_save(tu_env *e, const char *name);
void tu_env_restore(const tu_env *e);
/* Run `$RESNET_CL_BIN <printf args>` with stderr merged into *out (malloc'd,
 * may be NULL); returns the exit status. */
#if defined(__GNUC__)
#define TU_PRINTF_2_3 __attribute__((format(printf, 2, 3)))
#else
#define TU_PRINTF_2_3
#endif
int tu_run(char **out, const char *fmt, ...) TU_PRINTF_2_3;
/* The same for build/resnet-cl-tune (RESNET_CL_BUILD_DIR). */
int tu_run_tune(char **out, const char *fmt, ...) TU_PRINTF_2_3;

#endif
