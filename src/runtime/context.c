/* Context lifetime, kernel launches, profiling hook, tunable parameters. */
#include "runtime/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rcl_program_cache_free(rcl_ctx *ctx); /* program.c */

int rcl_ctx_create(rcl_ctx **out, int index, const rcl_ctx_options *opt)
{
    *out = NULL;
    rcl_device_info devs[RCL_MAX_DEVICES];
    int n = 0;
    RCL_TRY(rcl_devices_list(devs, RCL_MAX_DEVICES, &n));
    if (index < 0 || index >= n)
        return rcl_fail(RCL_ERR_DEVICE_INDEX, "device %d does not exist (%d device%s found)",
                        index, n, n == 1 ? "" : "s");
    rcl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return rcl_fail(RCL_ERR_NOMEM, "context");
    ctx->dev = devs[index];
    ctx->poison = -1;
    for (int i = 0; i < RCL_TUN_COUNT; i++) ctx->tun[i] = rcl_tunables[i].def;
    /* GEMMs of classes no tune cache names: on devices that want explicit
     * vectors (CPU drivers: preferred float width >= 4) our tiled kernel,
     * whose defaults were picked there (src/gemm/gemm_tiled.c); elsewhere
     * CLBlast, whose database knows the GPUs. The same devices run 3x3
     * stride-1 convs through Winograd (tunables.def conv WINOGRAD and
     * WINO_GEMM), and
     * those with 16-float vectors take more output channels per
     * weight-gradient work-item (conv_direct WOCB). A tune cache overrides
     * all of them. */
    cl_uint vw = 1;
    if (clGetDeviceInfo(ctx->dev.device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof vw, &vw,
                        NULL) == CL_SUCCESS && vw >= 4) {
        ctx->tun[RCL_TUN_GEMM_DEFAULT_PATH] = 1; /* RCL_GEMM_TILED */
        ctx->tun[RCL_TUN_CONV_WINOGRAD] = RCL_CONV_WINO_CPU_DEFAULT; /* ops/conv2d_wino.c */
        ctx->tun[RCL_TUN_CONV_WINO_GEMM] = RCL_CONV_WINO_GEMM_CPU_DEFAULT;
        /* 16-float vectors (AVX-512): twice the registers of AVX2 */
        if (vw >= 16) ctx->tun[RCL_TUN_CONV_DIRECT_WOCB] = RCL_CONV_DIRECT_WOCB_W16;
    } else if (ctx->dev.type & CL_DEVICE_TYPE_CPU) {
        /* a CPU driver that prefers scalars (rusticl on llvmpipe) vectorizes
         * across work-items, where the direct kernels' per-work-item vectors
         * (cl/conv_direct.cl) become gathers: im2col + GEMM for every conv
         * (conv PATH 1 = RCL_CONV_PATH_GEMM, ops/conv2d_chunk.h; with
         * CLBlast's indirect Xgemm, gemm/gemm.c) took a resnet20 training
         * step at batch 8 from 6.7 to 3.5 s there, resnet18's at 33x33,
         * batch 3 from 7.8 to 3.2 s (docs/speed.md "Session 28") */
        ctx->scalar_cpu = 1;
        ctx->tun[RCL_TUN_CONV_PATH] = 1;
    }
    if (opt) ctx->opt = *opt;
    if (getenv("RESNET_CL_NO_PROGRAM_CACHE")) ctx->opt.no_disk_cache = 1;
    cl_int e = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->dev.platform, 0};
    ctx->context = clCreateContext(props, 1, &ctx->dev.device, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        free(ctx);
        return rcl_cl_fail(e, "clCreateContext");
    }
    cl_command_queue_properties qp = ctx->opt.profiling ? CL_QUEUE_PROFILING_ENABLE : 0;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->dev.device, qp, &e);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    if (e != CL_SUCCESS) {
        clReleaseContext(ctx->context);
        free(ctx);
        return rcl_cl_fail(e, "clCreateCommandQueue");
    }
    *out = ctx;
    return RCL_OK;
}

int rcl_ctx_create_counting(rcl_ctx **out, const rcl_ctx *like)
{
    *out = NULL;
    rcl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return rcl_fail(RCL_ERR_NOMEM, "context");
    if (like) {
        ctx->dev = like->dev;
        ctx->scalar_cpu = like->scalar_cpu;
        memcpy(ctx->tun, like->tun, sizeof ctx->tun);
        memcpy(ctx->tun_set, like->tun_set, sizeof ctx->tun_set);
    } else {
        for (int i = 0; i < RCL_TUN_COUNT; i++) ctx->tun[i] = rcl_tunables[i].def;
    }
    ctx->dev.platform = NULL;
    ctx->dev.device = NULL;
    ctx->opt.no_disk_cache = 1;
    ctx->counting = 1;
    *out = ctx;
    return RCL_OK;
}

void rcl_ctx_destroy(rcl_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    if (ctx->gemm_state_free) ctx->gemm_state_free(ctx->gemm_state);
    rcl_program_cache_free(ctx);
    for (int i = 0; i < RCL_SCRATCH_SLOTS; i++) /* not rcl_buffer_release: tensor.c calls us */
        if (ctx->scratch[i]) clReleaseMemObject(ctx->scratch[i]);
    free(ctx->params);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    free(ctx);
}

const rcl_device_info *rcl_ctx_device(const rcl_ctx *ctx) { return &ctx->dev; }
cl_context rcl_ctx_cl_context(const rcl_ctx *ctx) { return ctx->context; }
cl_command_queue rcl_ctx_queue(const rcl_ctx *ctx) { return ctx->queue; }
rcl_ctx_stats rcl_ctx_get_stats(const rcl_ctx *ctx) { return ctx->stats; }

int rcl_ctx_finish(rcl_ctx *ctx)
{
    if (ctx->counting) return RCL_OK;
    RCL_CL(clFinish(ctx->queue), "clFinish");
    return RCL_OK;
}

void rcl_ctx_set_profiler(rcl_ctx *ctx, rcl_profile_fn fn, void *user)
{
    ctx->prof_fn = ctx->opt.profiling ? fn : NULL;
    ctx->prof_user = user;
}

void rcl_profile_event(rcl_ctx *ctx, const char *tag, cl_event ev)
{
    if (!ev) return;
    if (ctx->prof_fn) ctx->prof_fn(ctx->prof_user, tag, ev);
    clReleaseEvent(ev);
}

size_t rcl_wg_clamp(const rcl_ctx *ctx, size_t want)
{
    size_t lim = ctx->dev.max_wg_size ? ctx->dev.max_wg_size : 64;
    size_t w = 1;
    while (w * 2 <= want && w * 2 <= lim) w *= 2;
    return w;
}

/* A failed enqueue of kernel k: its name (clGetKernelInfo) and the error's. */
static int launch_fail(rcl_ctx *ctx, cl_kernel k, const char *tag, cl_int e)
{
    char kname[128] = "?";
    if (clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof kname, kname, NULL) != CL_SUCCESS)
        snprintf(kname, sizeof kname, "?");
    kname[sizeof kname - 1] = 0;
    if (e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_HOST_MEMORY) {
        char has[32], held[32];
        uint64_t live = 0;
        rcl_device_bytes(&live, NULL);
        return rcl_fail(RCL_ERR_DEVICE_NOMEM,
                        "kernel %s (%s): clEnqueueNDRangeKernel: %s: the device could not back "
                        "its buffers; device %d (%s) has %s, %s of it held by resnet-cl",
                        kname, tag, rcl_cl_error_name(e), ctx->dev.index, ctx->dev.name,
                        rcl_bytes_str(ctx->dev.global_mem, has, sizeof has),
                        rcl_bytes_str(live, held, sizeof held));
    }
    const char *name = rcl_cl_error_name(e);
    char num[32] = "";
    if (!strcmp(name, "CL_UNKNOWN_ERROR")) snprintf(num, sizeof num, " %d", (int)e);
    return rcl_fail(RCL_ERR_OPENCL, "kernel %s (%s): clEnqueueNDRangeKernel: %s%s%s", kname, tag,
                    name, num,
                    e == CL_OUT_OF_RESOURCES ? " (the device ran out of resources or was lost)" : "");
}

int rcl_launch(rcl_ctx *ctx, cl_kernel k, const char *tag, int dims, const size_t *global,
               const size_t *local, const rcl_arg *args, int nargs)
{
    if (ctx->counting) return rcl_fail(RCL_ERR_UNSUPPORTED, "launch on a counting context");
    for (int i = 0; i < nargs; i++) {
        cl_int e = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].ptr);
        if (e != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clSetKernelArg(%s arg %d)", tag, i);
            return rcl_cl_fail(e, what);
        }
    }
    size_t g[3];
    for (int d = 0; d < dims; d++) {
        g[d] = local ? rcl_round_up(global[d], local[d]) : global[d];
        if (g[d] == 0) return RCL_OK; /* nothing to do */
    }
    cl_event ev = NULL;
    cl_int e = rcl_fault_hit(RCL_FAULT_LAUNCH) /* test hook */
                   ? CL_OUT_OF_RESOURCES
                   : clEnqueueNDRangeKernel(ctx->queue, k, (cl_uint)dims, NULL, g, local, 0, NULL,
                                            rcl_event_slot(ctx, &ev));
    if (e != CL_SUCCESS) return launch_fail(ctx, k, tag, e);
    ctx->last_kernel = k;
    ctx->last_tag = tag;
    rcl_profile_event(ctx, tag, ev);
    return RCL_OK;
}

/* By name: the table's tunables (runtime/tunables.def) map to their slot
 * by id, once per call; the library itself reads those with rcl_tun. */
int rcl_ctx_param(const rcl_ctx *ctx, const char *key, const char *param, int def)
{
    int id = rcl_tunable_find(key, param);
    if (id >= 0) return ctx->tun_set[id] ? ctx->tun[id] : def;
    for (int i = 0; i < ctx->nparams; i++)
        if (!strcmp(ctx->params[i].key, key) && !strcmp(ctx->params[i].param, param))
            return ctx->params[i].value;
    return def;
}

int rcl_tunable_known(const char *key, const char *param)
{
    return key && param && rcl_tunable_find(key, param) >= 0;
}

int rcl_ctx_set_param(rcl_ctx *ctx, const char *key, const char *param, int value)
{
    if (strlen(key) >= sizeof ctx->params[0].key || strlen(param) >= sizeof ctx->params[0].param)
        return rcl_fail(RCL_ERR_INVALID, "tunable name too long: %s.%s", key, param);
    int id = rcl_tunable_find(key, param);
    if (id >= 0) {
        ctx->tun[id] = value;
        ctx->tun_set[id] = 1;
        return RCL_OK;
    }
    for (int i = 0; i < ctx->nparams; i++)
        if (!strcmp(ctx->params[i].key, key) && !strcmp(ctx->params[i].param, param)) {
            ctx->params[i].value = value;
            return RCL_OK;
        }
    rcl_param_entry *p = realloc(ctx->params, (size_t)(ctx->nparams + 1) * sizeof *p);
    if (!p) return rcl_fail(RCL_ERR_NOMEM, "tunable table");
    ctx->params = p;
    rcl_param_entry *n = &p[ctx->nparams++];
    snprintf(n->key, sizeof n->key, "%s", key);
    snprintf(n->param, sizeof n->param, "%s", param);
    n->value = value;
    return RCL_OK;
}

int rcl_check_same(const rcl_tensor *a, const rcl_tensor *b, const char *what)
{
    if (a->n != b->n || a->c != b->c || a->h != b->h || a->w != b->w)
        return rcl_fail(RCL_ERR_INVALID, "%s: shape (%d,%d,%d,%d) != (%d,%d,%d,%d)", what, a->n,
                        a->c, a->h, a->w, b->n, b->c, b->h, b->w);
    return RCL_OK;
}
