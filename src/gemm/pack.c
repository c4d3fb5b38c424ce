/* Panel packing host side (kernel in cl/pack.cl). */
#include "runtime/internal.h"

#include <stdio.h>

int rcl_pack_panels(rcl_ctx *ctx, cl_mem out, cl_mem in, size_t off, int ld, int trans, int M,
                    int K, int R)
{
    if (M <= 0 || K <= 0 || R < 1 || R > 256 || ld < (trans ? M : K))
        return rcl_fail(RCL_ERR_INVALID, "pack: M %d K %d R %d ld %d", M, K, R, ld);
    size_t panels = (size_t)(M + R - 1) / R;
    if (!rcl_fits_int(off, trans ? K : M, trans ? M : K, ld) ||
        panels * R * (size_t)K > (size_t)INT_MAX)
        return rcl_fail(RCL_ERR_UNSUPPORTED, "pack: matrix of 2^31 or more floats");
    int kc = rcl_tun(ctx, RCL_TUN_PACK_KC);
    if (kc < 1 || kc > 64) return rcl_fail(RCL_ERR_INVALID, "pack: KC %d not in 1..64", kc);
    char opts[48];
    snprintf(opts, sizeof opts, "-DTRANS=%d -DR=%d -DKC=%d", trans ? 1 : 0, R, kc);
    cl_kernel k;
    RCL_TRY(rcl_ctx_kernel(ctx, "pack.cl", "pack_panels", opts, &k));
    size_t global[2] = {(size_t)(K + kc - 1) / kc, panels};
    return RCL_LAUNCH(ctx, k, "pack", 2, global, NULL, RCL_MEM(out), RCL_MEM(in), RCL_I32(off),
                      RCL_I32(ld), RCL_I32(M), RCL_I32(K));
}
