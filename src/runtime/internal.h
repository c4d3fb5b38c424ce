/* Runtime internals shared by the library's device-side layers (gemm, ops,
 * model, train): the context struct, kernel launches, scratch buffers.
 * Not installed. */
#ifndef RCL_INTERNAL_H
#define RCL_INTERNAL_H

#include "base/base.h"
#include "rcl/runtime.h"
#include "rcl/status.h"
#include "rcl/tensor.h"
#include "runtime/tunables.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rcl_kernel_entry {
    char *name;
    cl_kernel kernel;
} rcl_kernel_entry;

typedef struct rcl_program_entry {
    char *file;
    char *options;
    cl_program program;
    rcl_kernel_entry *kernels;
    int nkernels;
} rcl_program_entry;

/* A tunable outside the table of runtime/tunables.def: the GEMM's
 * per-shape-class entries ("gemm.NN_m6_n12_k9" MWI, "gemm.clblast" ...). */
typedef struct rcl_param_entry {
    char key[64];
    char param[32];
    int value;
} rcl_param_entry;

/* Scratch slots: each op uses fixed slots, valid only during one call. */
enum {
    RCL_SCRATCH_COL = 0,
    RCL_SCRATCH_TMP = 1,
    RCL_SCRATCH_RED = 2,
    RCL_SCRATCH_GEMM = 3,   /* the tiled GEMM's transposed or packed op(B) (XB 1, 2) */
    RCL_SCRATCH_GEMM_A = 4, /* the tiled GEMM's packed op(A) (XA) */
    RCL_SCRATCH_CONV_W = 5, /* conv2d's weights without their dead taps (conv2d.c) */
    RCL_SCRATCH_SLOTS = 6
};

struct rcl_ctx {
    rcl_device_info dev;
    cl_context context;
    cl_command_queue queue;
    rcl_ctx_options opt;
    rcl_program_entry *programs;
    int nprograms;
    rcl_ctx_stats stats;
    rcl_profile_fn prof_fn;
    void *prof_user;
    int tun[RCL_TUN_COUNT];             /* tunables by id: defaults, then the tune cache */
    int poison; /* RESNET_CL_POISON: fill new buffers with NaN (-1: not read yet) */
    int scalar_cpu; /* a CPU driver preferring scalars (rcl_ctx_scalar_cpu) */
    unsigned char tun_set[RCL_TUN_COUNT]; /* set by rcl_ctx_set_param (the tune cache) */
    rcl_param_entry *params;            /* the other tunables, by name */
    int nparams;
    cl_mem scratch[RCL_SCRATCH_SLOTS];  /* grow-only work buffers */
    size_t scratch_bytes[RCL_SCRATCH_SLOTS];
    void *gemm_state;   /* owned by gemm.c */
    void (*gemm_state_free)(void *);
    cl_kernel last_kernel;  /* the last kernel enqueued (named when a later read fails) */
    const char *last_tag;
    /* A counting context (rcl_ctx_create_counting): no OpenCL objects;
     * buffer creation only adds to counted_bytes and hands out NULL, and
     * writes, fills, copies and finish do nothing. */
    int counting;
    uint64_t counted_bytes, counted_largest;
};

/* A context that allocates nothing: it has `like`'s device description and
 * tunables (or the defaults when NULL) and counts the bytes of every buffer
 * created on it (model memory estimates, model.c). Kernels, launches,
 * reads and scratch buffers are refused (RCL_ERR_UNSUPPORTED): it can
 * build a model, not run one. Free with rcl_ctx_destroy. */
int rcl_ctx_create_counting(rcl_ctx **out, const rcl_ctx *like);

/* Every embedded cl/ source (cmake/embed_cl.cmake), ended by a NULL name. */
const rcl_cl_source *rcl_cl_source_list(void);

/* 1 on a CPU driver whose preferred float vector width is under 4: its
 * compiler vectorizes across work-items (rusticl on llvmpipe). Such a
 * context runs every conv as im2col + GEMM (rcl_ctx_create) and every GEMM
 * size on CLBlast's indirect Xgemm (gemm/gemm.c). */
static inline int rcl_ctx_scalar_cpu(const rcl_ctx *ctx) { return ctx->scalar_cpu; }

/* The context's value of tunable `id` (runtime/tunables.def): its default
 * unless the tune cache or rcl_ctx_set_param set it. */
static inline int rcl_tun(const rcl_ctx *ctx, rcl_tunable_id id)
{
    return ctx->tun[id];
}

/* 1 if a kernel's output of `bytes` goes past the caches (cl/common.h
 * STREAM16, non-temporal stores where the device compiler has them): at
 * least `stream MIN_KB` KiB (runtime/tunables.def; 0: never). The kernels
 * that stream take it as their `nt` argument. */
static inline int rcl_stream_out(const rcl_ctx *ctx, size_t bytes)
{
    int kb = rcl_tun(ctx, RCL_TUN_STREAM_MIN_KB);
    return kb > 0 && bytes >= (size_t)kb * 1024;
}

/* Map an OpenCL error to a status, recording `what` and the error's name
 * (CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_RESOURCES,
 * CL_OUT_OF_HOST_MEMORY, CL_INVALID_BUFFER_SIZE: RCL_ERR_DEVICE_NOMEM). */
int rcl_cl_fail(int cl_err, const char *what);
/* "1.50 GiB", "12.0 MiB", "512 bytes" (buf of at least 32 bytes). */
const char *rcl_bytes_str(uint64_t bytes, char *buf, size_t cap);
#define RCL_CL(call, what)                                                    \
    do {                                                                      \
        cl_int rcl_cl_e_ = (call);                                            \
        if (rcl_cl_e_ != CL_SUCCESS) return rcl_cl_fail(rcl_cl_e_, (what));   \
    } while (0)

/* One kernel argument: a pointer to the value and its size (ptr NULL with
 * a size means __local memory of that many bytes). */
typedef struct rcl_arg {
    size_t size;
    const void *ptr;
} rcl_arg;
#define RCL_MEM(m) ((rcl_arg){sizeof(cl_mem), &(cl_mem){(m)}})
#define RCL_I32(v) ((rcl_arg){sizeof(cl_int), &(cl_int){(cl_int)(v)}})
#define RCL_F32(v) ((rcl_arg){sizeof(cl_float), &(cl_float){(cl_float)(v)}})
#define RCL_LOCAL(bytes) ((rcl_arg){(bytes), NULL})

/* Set `args` and enqueue `k` over `global` (rounded up to a multiple of
 * `local` when `local` is given; kernels bound-check). `tag` is the
 * profiling category. */
int rcl_launch(rcl_ctx *ctx, cl_kernel k, const char *tag, int dims,
               const size_t *global, const size_t *local,
               const rcl_arg *args, int nargs);
#define RCL_LAUNCH(ctx, k, tag, dims, g, l, ...)                              \
    rcl_launch((ctx), (k), (tag), (dims), (g), (l),                           \
               (const rcl_arg[]){__VA_ARGS__},                                \
               (int)(sizeof((const rcl_arg[]){__VA_ARGS__}) / sizeof(rcl_arg)))

/* Hand a finished-enqueue event to the profiler (or release it). */
void rcl_profile_event(rcl_ctx *ctx, const char *tag, cl_event ev);
/* Pointer to pass as the `event` out-parameter of an enqueue: NULL when not
 * profiling. */
static inline cl_event *rcl_event_slot(rcl_ctx *ctx, cl_event *slot)
{
    return ctx->prof_fn ? slot : NULL;
}

/* Round x up to a multiple of m. */
static inline size_t rcl_round_up(size_t x, size_t m)
{
    return m ? (x + m - 1) / m * m : x;
}

/* Largest power of two <= both `want` and the device's work-group limit. */
size_t rcl_wg_clamp(const rcl_ctx *ctx, size_t want);

/* A device buffer of at least `bytes` in scratch slot `slot` (grown on
 * demand, owned by the context). */
int rcl_scratch(rcl_ctx *ctx, int slot, size_t bytes, cl_mem *out);

/* Does [off, off + extent) of a row-major rows x cols matrix (rows, cols >= 1)
 * with stride ld stay below 2^31 floats, so that kernels can index it with int? */
static inline int rcl_fits_int(size_t off, int rows, int cols, int ld)
{
    uint64_t end = (uint64_t)off + (uint64_t)(rows - 1) * (uint64_t)ld + (uint64_t)cols;
    return end <= (uint64_t)INT_MAX;
}

/* out[c*rows + r] = in[off + r*ld + c] for r < rows, c < cols (a rows x cols
 * row-major matrix with stride ld becomes cols x rows, tight); cl/transpose.cl,
 * tunable "transpose" TS, profiling tag "transpose". */
int rcl_transpose(rcl_ctx *ctx, cl_mem out, cl_mem in, size_t off, int ld, int rows, int cols);
/* The same for `batch` matrices one after the other: matrix b of in at off +
 * b*rows*ld, its transpose at b*rows*cols of out */
int rcl_transpose_batch(rcl_ctx *ctx, cl_mem out, cl_mem in, size_t off, int ld, int rows,
                        int cols, int batch);

/* out[p*K*R + k*R + i] = op(A)[p*R + i, k] for p < ceil(M/R), i < R, k < K,
 * zero for rows p*R + i >= M; op(A)[m, k] = trans ? in[off + k*ld + m] :
 * in[off + m*ld + k]; 1 <= R <= 256. out holds ceil(M/R)*R*K floats.
 * cl/pack.cl, profiling tag "pack". Packing op(B) (K x N) into panels of R
 * columns is the same call on op(B)^T: trans = !trans_b, M = N. */
int rcl_pack_panels(rcl_ctx *ctx, cl_mem out, cl_mem in, size_t off, int ld, int trans, int M,
                    int K, int R);

/* Shape helpers. */
static inline size_t rcl_t_count(const rcl_tensor *t)
{
    return (size_t)t->n * t->c * t->h * t->w;
}
int rcl_check_same(const rcl_tensor *a, const rcl_tensor *b, const char *what);

/* Program cache entries (format in program.c): 0 if entry[0..len) is a
 * whole, intact entry for `key` (magic, key length, binary length of 1 byte
 * to RCL_PROGRAM_MAX_BINARY, exact size, checksum, key bytes), with the
 * binary at entry + *bin_off, *bin_len bytes; -1 if it must be rejected.
 * Host only (no OpenCL call): the fuzz target tests/fuzz/fuzz_program_entry.c
 * calls it. */
#define RCL_PROGRAM_MAX_BINARY ((uint64_t)1 << 30)
int rcl_program_entry_check(const unsigned char *entry, size_t len, const char *key,
                            size_t *bin_off, size_t *bin_len);

#endif
