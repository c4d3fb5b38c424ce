/* Matrix transpose host side (kernel in cl/transpose.cl). */
#include "runtime/internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

int rcl_transpose(rcl_ctx *ctx, cl_mem out, cl_mem in, size_t off, int ld, int rows, int cols)
{
    return rcl_transpose_batch(ctx, out, in, off, ld, rows, cols, 1);
}

int rcl_transpose_batch(rcl_ctx *ctx, cl_mem out, cl_mem in, size_t off, int ld, int rows,
                        int cols, int batch)
{
    if (rows <= 0 || cols <= 0 || ld < cols || batch < 1)
        return rcl_fail(RCL_ERR_INVALID, "transpose: rows %d cols %d ld %d batch %d", rows, cols,
                        ld, batch);
    if ((int64_t)rows * batch > INT_MAX || (int64_t)rows * batch * cols > INT_MAX ||
        !rcl_fits_int(off, rows * batch, cols, ld))
        return rcl_fail(RCL_ERR_UNSUPPORTED, "transpose: matrix of 2^31 or more floats");
    int ts = rcl_tun(ctx, RCL_TUN_TRANSPOSE_TS);
    if (ts < 1 || ts > 32) return rcl_fail(RCL_ERR_INVALID, "transpose: TS %d not in 1..32", ts);
    char opts[32];
    snprintf(opts, sizeof opts, "-DTS=%d", ts);
    cl_kernel k;
    RCL_TRY(rcl_ctx_kernel(ctx, "transpose.cl", "transpose", opts, &k));
    size_t global[3] = {(size_t)(cols + ts - 1) / ts, (size_t)(rows + ts - 1) / ts,
                        (size_t)batch};
    return RCL_LAUNCH(ctx, k, "transpose", 3, global, NULL, RCL_MEM(out), RCL_MEM(in), RCL_I32(off),
                      RCL_I32(ld), RCL_I32(rows), RCL_I32(cols));
}
