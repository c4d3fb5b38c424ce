/* Device tensors and raw buffers. */
#include "runtime/internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- device memory accounting: every buffer adds its size at creation and
 * takes it back in its destructor callback (whoever releases it) */
static atomic_uint_least64_t mem_live, mem_peak;

void rcl_device_bytes(uint64_t *live, uint64_t *peak)
{
    if (live) *live = atomic_load(&mem_live);
    if (peak) *peak = atomic_load(&mem_peak);
}

void rcl_device_bytes_reset_peak(void) { atomic_store(&mem_peak, atomic_load(&mem_live)); }

static void CL_CALLBACK mem_gone(cl_mem m, void *user)
{
    (void)m;
    atomic_fetch_sub(&mem_live, (uint64_t)(uintptr_t)user);
}

static void mem_add(uint64_t bytes)
{
    uint64_t now = atomic_fetch_add(&mem_live, bytes) + bytes;
    uint64_t peak = atomic_load(&mem_peak);
    while (now > peak && !atomic_compare_exchange_weak(&mem_peak, &peak, now)) {
    }
}

/* "on device 0 (NAME): it has 10.6 GiB, 3.2 GiB of it held by resnet-cl" */
static void device_memory_note(const rcl_ctx *ctx, char *buf, size_t cap)
{
    char has[32], held[32];
    uint64_t live = 0;
    rcl_device_bytes(&live, NULL);
    snprintf(buf, cap, "device %d (%s) has %s, %s of it already held by resnet-cl",
             ctx->dev.index, ctx->dev.name, rcl_bytes_str(ctx->dev.global_mem, has, sizeof has),
             rcl_bytes_str(live, held, sizeof held));
}

int rcl_buffer_create(rcl_ctx *ctx, cl_mem *buf, size_t bytes)
{
    *buf = NULL;
    if (bytes == 0) return rcl_fail(RCL_ERR_INVALID, "zero-size buffer");
    if (ctx->dev.max_alloc && bytes > ctx->dev.max_alloc)
        return rcl_fail(RCL_ERR_DEVICE_NOMEM,
                        "buffer of %zu bytes exceeds the device's largest allocation (%llu bytes)",
                        bytes, (unsigned long long)ctx->dev.max_alloc);
    if (ctx->counting) {
        ctx->counted_bytes += bytes;
        if (bytes > ctx->counted_largest) ctx->counted_largest = bytes;
        return RCL_OK;
    }
    cl_int e = CL_SUCCESS;
    if (rcl_fault_hit(RCL_FAULT_ALLOC)) e = CL_MEM_OBJECT_ALLOCATION_FAILURE; /* test hook */
    else *buf = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &e);
    if (e != CL_SUCCESS) {
        if (*buf) clReleaseMemObject(*buf);
        *buf = NULL;
        char sz[32], note[400];
        device_memory_note(ctx, note, sizeof note);
        int st = rcl_cl_fail(e, "clCreateBuffer");
        return rcl_fail(st, "cannot allocate %s of device memory (clCreateBuffer: %s); %s",
                        rcl_bytes_str(bytes, sz, sizeof sz), rcl_cl_error_name(e), note);
    }
    if (clSetMemObjectDestructorCallback(*buf, mem_gone, (void *)(uintptr_t)bytes) == CL_SUCCESS)
        mem_add(bytes);
    /* RESNET_CL_POISON=1: every new buffer starts as quiet NaNs, so that a
     * kernel reading memory nothing wrote shows up as NaN in the results
     * (GPUs hand out memory an earlier process left; CPU drivers mostly
     * fresh zero pages, which hide such reads). A debugging aid: slow. */
    if (ctx->poison < 0) {
        const char *pv = getenv("RESNET_CL_POISON");
        ctx->poison = pv && *pv && strcmp(pv, "0") != 0;
    }
    if (ctx->poison) {
        const cl_uint nan_bits = 0x7fc00000u;
        size_t whole = bytes / sizeof nan_bits * sizeof nan_bits;
        e = whole ? clEnqueueFillBuffer(ctx->queue, *buf, &nan_bits, sizeof nan_bits, 0, whole, 0,
                                        NULL, NULL)
                  : CL_SUCCESS;
        if (e == CL_SUCCESS) e = clFinish(ctx->queue);
        if (e != CL_SUCCESS) {
            rcl_buffer_release(buf);
            return rcl_cl_fail(e, "RESNET_CL_POISON: clEnqueueFillBuffer");
        }
    }
    return RCL_OK;
}

void rcl_buffer_release(cl_mem *buf)
{
    if (buf && *buf) {
        clReleaseMemObject(*buf);
        *buf = NULL;
    }
}

/* A blocking read is where an earlier kernel's failure surfaces: name the
 * last kernel enqueued. */
static int read_fail(rcl_ctx *ctx, cl_int e, size_t bytes)
{
    char kname[128] = "";
    if (ctx->last_kernel &&
        clGetKernelInfo(ctx->last_kernel, CL_KERNEL_FUNCTION_NAME, sizeof kname, kname, NULL) !=
            CL_SUCCESS)
        kname[0] = 0;
    kname[sizeof kname - 1] = 0;
    int st = e == CL_MEM_OBJECT_ALLOCATION_FAILURE ? RCL_ERR_DEVICE_NOMEM : RCL_ERR_OPENCL;
    if (kname[0])
        return rcl_fail(st, "reading %zu bytes from the device (clEnqueueReadBuffer) failed with "
                        "%s after kernel %s (%s), the last one enqueued: the device failed or was lost",
                        bytes, rcl_cl_error_name(e), kname, ctx->last_tag ? ctx->last_tag : "?");
    return rcl_fail(st, "reading %zu bytes from the device (clEnqueueReadBuffer) failed with %s: "
                    "the device failed or was lost", bytes, rcl_cl_error_name(e));
}

static int read_blocking(rcl_ctx *ctx, cl_mem buf, size_t bytes, void *dst)
{
    if (ctx->counting) return rcl_fail(RCL_ERR_UNSUPPORTED, "read on a counting context");
    cl_int e = rcl_fault_hit(RCL_FAULT_READ)  /* test hook */
                   ? CL_OUT_OF_RESOURCES
                   : clEnqueueReadBuffer(ctx->queue, buf, CL_TRUE, 0, bytes, dst, 0, NULL, NULL);
    return e == CL_SUCCESS ? RCL_OK : read_fail(ctx, e, bytes);
}

int rcl_buffer_write(rcl_ctx *ctx, cl_mem buf, size_t bytes, const void *src)
{
    if (ctx->counting) return RCL_OK;
    RCL_CL(clEnqueueWriteBuffer(ctx->queue, buf, CL_TRUE, 0, bytes, src, 0, NULL, NULL),
           "clEnqueueWriteBuffer");
    return RCL_OK;
}

int rcl_buffer_read(rcl_ctx *ctx, cl_mem buf, size_t bytes, void *dst)
{
    return read_blocking(ctx, buf, bytes, dst);
}

int rcl_tensor_create(rcl_ctx *ctx, rcl_tensor *t, int n, int c, int h, int w)
{
    memset(t, 0, sizeof *t);
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "tensor shape (%d,%d,%d,%d)", n, c, h, w);
    t->n = n;
    t->c = c;
    t->h = h;
    t->w = w;
    return rcl_buffer_create(ctx, &t->buf, rcl_tensor_bytes(t));
}

void rcl_tensor_destroy(rcl_tensor *t)
{
    if (!t) return;
    rcl_buffer_release(&t->buf);
}

size_t rcl_tensor_count(const rcl_tensor *t) { return rcl_t_count(t); }
size_t rcl_tensor_bytes(const rcl_tensor *t) { return rcl_t_count(t) * sizeof(float); }

int rcl_tensor_write(rcl_ctx *ctx, rcl_tensor *t, const float *src)
{
    if (ctx->counting) return RCL_OK;
    RCL_CL(clEnqueueWriteBuffer(ctx->queue, t->buf, CL_TRUE, 0, rcl_tensor_bytes(t), src, 0, NULL,
                                NULL),
           "clEnqueueWriteBuffer");
    return RCL_OK;
}

int rcl_tensor_read(rcl_ctx *ctx, const rcl_tensor *t, float *dst)
{
    return read_blocking(ctx, t->buf, rcl_tensor_bytes(t), dst);
}

int rcl_tensor_fill(rcl_ctx *ctx, rcl_tensor *t, float value)
{
    if (ctx->counting) return RCL_OK;
    cl_event ev = NULL;
    RCL_CL(clEnqueueFillBuffer(ctx->queue, t->buf, &value, sizeof value, 0, rcl_tensor_bytes(t), 0,
                               NULL, rcl_event_slot(ctx, &ev)),
           "clEnqueueFillBuffer");
    rcl_profile_event(ctx, "fill", ev);
    return RCL_OK;
}

int rcl_tensor_copy(rcl_ctx *ctx, rcl_tensor *dst, const rcl_tensor *src)
{
    if (rcl_t_count(dst) != rcl_t_count(src))
        return rcl_fail(RCL_ERR_INVALID, "tensor copy: %zu != %zu elements", rcl_t_count(dst),
                        rcl_t_count(src));
    if (ctx->counting) return RCL_OK;
    cl_event ev = NULL;
    RCL_CL(clEnqueueCopyBuffer(ctx->queue, src->buf, dst->buf, 0, 0, rcl_tensor_bytes(src), 0, NULL,
                               rcl_event_slot(ctx, &ev)),
           "clEnqueueCopyBuffer");
    rcl_profile_event(ctx, "copy", ev);
    return RCL_OK;
}

int rcl_scratch(rcl_ctx *ctx, int slot, size_t bytes, cl_mem *out)
{
    if (slot < 0 || slot >= RCL_SCRATCH_SLOTS) return rcl_fail(RCL_ERR_INVALID, "scratch slot");
    if (bytes == 0) bytes = 4;
    if (ctx->counting) return rcl_fail(RCL_ERR_UNSUPPORTED, "scratch on a counting context");
    if (ctx->scratch_bytes[slot] < bytes) {
        /* The queue is in order, but earlier commands may still read the old
         * buffer: OpenCL keeps it alive until they finish after release. */
        rcl_buffer_release(&ctx->scratch[slot]);
        ctx->scratch_bytes[slot] = 0;
        RCL_TRY(rcl_buffer_create(ctx, &ctx->scratch[slot], bytes));
        ctx->scratch_bytes[slot] = bytes;
    }
    *out = ctx->scratch[slot];
    return RCL_OK;
}
