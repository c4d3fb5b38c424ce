/* Device tensors and raw buffers. */
#include "runtime/internal.h"

#include <string.h>

int rcl_buffer_create(rcl_ctx *ctx, cl_mem *buf, size_t bytes)
{
    *buf = NULL;
    if (bytes == 0) return rcl_fail(RCL_ERR_INVALID, "zero-size buffer");
    if (ctx->dev.max_alloc && bytes > ctx->dev.max_alloc)
        return rcl_fail(RCL_ERR_DEVICE_NOMEM,
                        "buffer of %zu bytes exceeds the device's largest allocation (%llu bytes)",
                        bytes, (unsigned long long)ctx->dev.max_alloc);
    cl_int e = CL_SUCCESS;
    *buf = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &e);
    if (e != CL_SUCCESS) {
        *buf = NULL;
        return rcl_cl_fail(e, "clCreateBuffer");
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

int rcl_buffer_write(rcl_ctx *ctx, cl_mem buf, size_t bytes, const void *src)
{
    RCL_CL(clEnqueueWriteBuffer(ctx->queue, buf, CL_TRUE, 0, bytes, src, 0, NULL, NULL),
           "clEnqueueWriteBuffer");
    return RCL_OK;
}

int rcl_buffer_read(rcl_ctx *ctx, cl_mem buf, size_t bytes, void *dst)
{
    RCL_CL(clEnqueueReadBuffer(ctx->queue, buf, CL_TRUE, 0, bytes, dst, 0, NULL, NULL),
           "clEnqueueReadBuffer");
    return RCL_OK;
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
    RCL_CL(clEnqueueWriteBuffer(ctx->queue, t->buf, CL_TRUE, 0, rcl_tensor_bytes(t), src, 0, NULL,
                                NULL),
           "clEnqueueWriteBuffer");
    return RCL_OK;
}

int rcl_tensor_read(rcl_ctx *ctx, const rcl_tensor *t, float *dst)
{
    RCL_CL(clEnqueueReadBuffer(ctx->queue, t->buf, CL_TRUE, 0, rcl_tensor_bytes(t), dst, 0, NULL,
                               NULL),
           "clEnqueueReadBuffer");
    return RCL_OK;
}

int rcl_tensor_fill(rcl_ctx *ctx, rcl_tensor *t, float value)
{
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
