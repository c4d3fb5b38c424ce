/* Matrix transpose host side (kernel in cl/transpose.cl). */
#include "runtime/internal.h"

#include <stdio.h>

int rcl_transpose(rcl_ctx *ctx, cl_mem out, cl_mem in, size_t off, int ld, int rows, int cols)
{
    if (rows <= 0 || cols <= 0 || ld < cols)
        return rcl_fail(RCL_ERR_INVALID, "transpose: rows %d cols %d ld %d", rows, cols, ld);
    if (!rcl_fits_int(off, rows, cols, ld))
        return rcl_fail(RCL_ERR_UNSUPPORTED, "transpose: matrix of 2^31 or more floats");
    int ts = rcl_tun(ctx, RCL_TUN_TRANSPOSE_TS);
    if (ts < 1 || ts > 32) return rcl_fail(RCL_ERR_INVALID, "transpose: TS %d not in 1..32", ts);
    char opts[32];
    snprintf(opts, sizeof opts, "-DTS=%d", ts);
    cl_kernel k;
    RCL_TRY(rcl_ctx_kernel(ctx, "transpose.cl", "transpose", opts, &k));
    size_t global[2] = {(size_t)(cols + ts - 1) / ts, (size_t)(rows + ts - 1) / ts};
    return RCL_LAUNCH(ctx, k, "transpose", 2, global, NULL, RCL_MEM(out), RCL_MEM(in), RCL_I32(off),
                      RCL_I32(ld), RCL_I32(rows), RCL_I32(cols));
}
