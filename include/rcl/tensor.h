/* Device tensors: a float32 buffer with an NCHW shape. Caller-owned struct. */
#ifndef RCL_TENSOR_H
#define RCL_TENSOR_H

#include "rcl/runtime.h"

typedef struct rcl_tensor {
    cl_mem buf;
    int n, c, h, w;   /* NCHW; a vector is (n,1,1,1), a matrix (n,c,1,1) */
} rcl_tensor;

/* Allocate an uninitialised n*c*h*w float tensor. */
int rcl_tensor_create(rcl_ctx *ctx, rcl_tensor *t, int n, int c, int h, int w);
void rcl_tensor_destroy(rcl_tensor *t);
size_t rcl_tensor_count(const rcl_tensor *t);
size_t rcl_tensor_bytes(const rcl_tensor *t);

/* Blocking copies between host floats and the tensor (whole tensor). */
int rcl_tensor_write(rcl_ctx *ctx, rcl_tensor *t, const float *src);
int rcl_tensor_read(rcl_ctx *ctx, const rcl_tensor *t, float *dst);
/* Set every element to `value`. */
int rcl_tensor_fill(rcl_ctx *ctx, rcl_tensor *t, float value);
/* dst <- src (same count). */
int rcl_tensor_copy(rcl_ctx *ctx, rcl_tensor *dst, const rcl_tensor *src);

/* Raw buffers (for index/label arrays etc.). */
int rcl_buffer_create(rcl_ctx *ctx, cl_mem *buf, size_t bytes);
void rcl_buffer_release(cl_mem *buf);
/* Blocking copies of `bytes` from the start of a raw buffer. */
int rcl_buffer_write(rcl_ctx *ctx, cl_mem buf, size_t bytes, const void *src);
int rcl_buffer_read(rcl_ctx *ctx, cl_mem buf, size_t bytes, void *dst);

#endif
