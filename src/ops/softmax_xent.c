/* Softmax cross-entropy host side (kernels in cl/softmax_xent.cl): one
 * launch of xent_rows (per-row loss, hit, gradient) into scratch, then one
 * single-work-group xent_reduce (mean loss, correct count). */
#include "runtime/internal.h"
#include "rcl/ops.h"

#include <limits.h>
#include <stdio.h>

/* Size in bytes of a buffer object, 0 on error. */
static size_t mem_size(cl_mem m)
{
    size_t sz = 0;
    if (clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof sz, &sz, NULL) != CL_SUCCESS) return 0;
    return sz;
}

/* logits (N,K,1,1), labels int32[N] -> loss (1,1,1,1), dlogits (N,K,1,1) or
 * NULL, correct int32[1] or NULL. A label outside [0,K) gives a NaN loss
 * (and NaN dlogits row); it is never used as an index. */
int rcl_softmax_xent(rcl_ctx *ctx, rcl_tensor *loss, rcl_tensor *dlogits, cl_mem correct,
                     const rcl_tensor *logits, cl_mem labels)
{
    if (!ctx || !loss || !logits || !labels || !loss->buf || !logits->buf)
        return rcl_fail(RCL_ERR_INVALID, "softmax_xent: NULL argument");
    if (logits->n <= 0 || logits->c <= 0 || logits->h <= 0 || logits->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "softmax_xent: empty logits (%d,%d,%d,%d)", logits->n,
                        logits->c, logits->h, logits->w);
    if (rcl_t_count(loss) != 1)
        return rcl_fail(RCL_ERR_INVALID, "softmax_xent: loss has %zu elements, want 1",
                        rcl_t_count(loss));
    if (dlogits) {
        if (!dlogits->buf) return rcl_fail(RCL_ERR_INVALID, "softmax_xent: NULL dlogits buffer");
        RCL_TRY(rcl_check_same(dlogits, logits, "softmax_xent dlogits"));
    }
    size_t cnt = rcl_t_count(logits);
    if (cnt > INT_MAX / 2) return rcl_fail(RCL_ERR_INVALID, "softmax_xent: logits too large");
    const int n = logits->n;
    const int k = (int)(cnt / (size_t)n); /* classes: C*H*W */
    if (mem_size(labels) < (size_t)n * sizeof(cl_int))
        return rcl_fail(RCL_ERR_INVALID, "softmax_xent: labels buffer smaller than %d int32", n);
    if (correct && mem_size(correct) < sizeof(cl_int))
        return rcl_fail(RCL_ERR_INVALID, "softmax_xent: correct buffer smaller than one int32");

    size_t wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_SOFTMAX_XENT_WG));
    size_t rwg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_SOFTMAX_XENT_RED_WG));
    char opts[64];
    snprintf(opts, sizeof opts, "-DWG=%zu -DRED_WG=%zu", wg, rwg);
    cl_kernel krows, kred;
    RCL_TRY(rcl_ctx_kernel(ctx, "softmax_xent.cl", "xent_rows", opts, &krows));
    RCL_TRY(rcl_ctx_kernel(ctx, "softmax_xent.cl", "xent_reduce", opts, &kred));

    cl_mem rows;
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_RED, 2 * (size_t)n * sizeof(cl_float), &rows));
    /* Unused outputs get a harmless stand-in buffer; the kernels skip them. */
    cl_mem dx = dlogits ? dlogits->buf : rows;
    size_t gn = (size_t)n;
    RCL_TRY(RCL_LAUNCH(ctx, krows, "loss", 1, &gn, &wg, RCL_MEM(rows), RCL_MEM(dx),
                       RCL_MEM(logits->buf), RCL_MEM(labels), RCL_I32(n), RCL_I32(k),
                       RCL_I32(dlogits != NULL)));
    return RCL_LAUNCH(ctx, kred, "loss", 1, &rwg, &rwg, RCL_MEM(loss->buf),
                      RCL_MEM(correct ? correct : rows), RCL_MEM(rows), RCL_I32(n),
                      RCL_I32(correct != NULL));
}
