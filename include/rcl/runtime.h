/* OpenCL runtime: one flat device list over all platforms, a context per
 * device, kernels compiled from the embedded cl/ sources and cached on disk. */
#ifndef RCL_RUNTIME_H
#define RCL_RUNTIME_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#define RCL_MAX_DEVICES 32

typedef struct rcl_device_info {
    int index;                  /* position in the flat list */
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[128];
    char platform_version[128];
    char name[256];
    char driver_version[128];
    char device_version[128];
    cl_device_type type;
    uint64_t global_mem;        /* bytes */
    uint64_t max_alloc;         /* bytes, largest single buffer */
    uint64_t local_mem;         /* bytes */
    unsigned compute_units;
    size_t max_wg_size;
    int fp32_correct_div_sqrt;  /* offers -cl-fp32-correctly-rounded-divide-sqrt */
    int own_program_cache;      /* the driver keeps built programs on disk itself (PoCL's
                                   kernel cache): resnet-cl's program cache stays off */
} rcl_device_info;

/* Fill `out` (capacity `cap`) with every device of every platform; platforms
 * without devices are skipped. *count receives the number found. Returns
 * RCL_ERR_NO_PLATFORM when there is no device at all. */
int rcl_devices_list(rcl_device_info *out, int cap, int *count);

/* "GPU", "CPU", "ACCELERATOR" or "OTHER". */
const char *rcl_device_type_name(cl_device_type t);

/* Why the ICD loader may list no device, in one or more `; `-separated
 * sentences naming the fix (a driver library no .icd file names, an .icd
 * naming a missing library, rusticl without RUSTICL_ENABLE, no .icd at
 * all): written to buf (truncated at cap); returns its length, 0 when
 * nothing looks wrong. Reads $OCL_ICD_VENDORS (else /etc/OpenCL/vendors);
 * looks for drivers in the usual library directories, or in those of
 * $RESNET_CL_ICD_LIB_DIRS (colon-separated). No OpenCL call. */
int rcl_icd_hint(char *buf, size_t cap);

/* The memory a model on device `d` may plan for: its global memory and, for
 * a CPU device (whose buffers are host memory: PoCL, rusticl on llvmpipe),
 * at most the host memory available now (MemAvailable of /proc/meminfo).
 * *host_avail (may be NULL) receives that host figure, 0 when not used. */
uint64_t rcl_device_memory_limit(const rcl_device_info *d, uint64_t *host_avail);

/* Device memory held by the library's buffers in this process, all
 * contexts together (every rcl_buffer_create, scratch included; a buffer
 * counts until OpenCL destroys it): *live now, *peak the most since the
 * last rcl_device_bytes_reset_peak. Either pointer may be NULL. */
void rcl_device_bytes(uint64_t *live, uint64_t *peak);
void rcl_device_bytes_reset_peak(void);

/* Device index chosen by the user: `flag` if >= 0, else $RESNET_CL_DEVICE,
 * else 0. */
int rcl_device_default_index(int flag);

typedef struct rcl_ctx rcl_ctx;

typedef struct rcl_ctx_options {
    int profiling;       /* create the queue with profiling enabled */
    int no_disk_cache;   /* never read or write compiled programs on disk */
    int verbose;         /* print cache/compile messages to stderr */
} rcl_ctx_options;

/* Create a context + in-order queue on device `index` of the flat list.
 * `opt` may be NULL. */
int rcl_ctx_create(rcl_ctx **ctx, int index, const rcl_ctx_options *opt);
void rcl_ctx_destroy(rcl_ctx *ctx);

const rcl_device_info *rcl_ctx_device(const rcl_ctx *ctx);
cl_context rcl_ctx_cl_context(const rcl_ctx *ctx);
cl_command_queue rcl_ctx_queue(const rcl_ctx *ctx);
int rcl_ctx_finish(rcl_ctx *ctx);

/* Kernel `name` from cl/<file> built with `options` (e.g. "-DWG=64"). The
 * kernel object is owned by the context (cached); don't release it. */
int rcl_ctx_kernel(rcl_ctx *ctx, const char *file, const char *name,
                   const char *options, cl_kernel *out);

/* Counters for tests and diagnostics. */
typedef struct rcl_ctx_stats {
    int programs_built;     /* compiled from source */
    int programs_loaded;    /* loaded from the disk cache */
    int cache_rejected;     /* disk entries found corrupt or unusable */
} rcl_ctx_stats;
rcl_ctx_stats rcl_ctx_get_stats(const rcl_ctx *ctx);

/* Directory of the on-disk cache: $XDG_CACHE_HOME/resnet-cl or
 * ~/.cache/resnet-cl. Writes into buf; returns buf or NULL if unknown. */
const char *rcl_cache_dir(char *buf, size_t cap);

/* Embedded kernel sources (generated from cl/ at build time). */
typedef struct rcl_cl_source {
    const char *name;  /* file name, e.g. "relu.cl" */
    const char *text;  /* NUL-terminated */
} rcl_cl_source;
const rcl_cl_source *rcl_cl_source_find(const char *name);

/* Profiling hook: when the context was created with `profiling`, every
 * kernel launch and GEMM calls `fn(user, tag, event)` after enqueueing; the
 * callee may retain the event. `tag` names the layer type, e.g. "bn". */
typedef void (*rcl_profile_fn)(void *user, const char *tag, cl_event ev);
void rcl_ctx_set_profiler(rcl_ctx *ctx, rcl_profile_fn fn, void *user);

/* Tunable kernel parameters (filled from the tune cache, see tune/). A value
 * not set reads as `def`. `key` names a kernel and shape class, e.g.
 * "bn_stats", `param` a macro such as "WG". The names of
 * src/runtime/tunables.def map to the context's slot of that tunable (which
 * the library reads by index, its default until set); others (the GEMM's
 * per-class entries) to a table by name. */
int rcl_ctx_param(const rcl_ctx *ctx, const char *key, const char *param, int def);
int rcl_ctx_set_param(rcl_ctx *ctx, const char *key, const char *param, int value);
/* 1 if key/param names a row of src/runtime/tunables.def, else 0 */
int rcl_tunable_known(const char *key, const char *param);

#endif
