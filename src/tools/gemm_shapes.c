/* GEMM shapes of a training step, for the tuner and the bench. The conv
 * part mirrors the calls of src/ops/conv2d.c, with its batching rule
 * (ops/conv2d_chunk.h):
 *   forward      NN  M=OC   N=np  K=CKK
 *   weight grad  NT  M=OC   N=CKK K=np
 *   data grad    TN  M=CKK  N=np  K=OC
 * per chunk of nb images (np = nb*P, the last chunk possibly smaller); a
 * 1x1 stride-1 pad-0 conv of a single image runs directly with np = P and
 * K = C. Taps that read only padding are dropped first, and passes the
 * default path rule gives to the direct kernels (rcl_conv_use_direct) run
 * no GEMM. Linear (src/ops/linear.c): forward NT (N, OUT, IN), data grad NN
 * (N, IN, OUT), weight grad TN (OUT, IN, N). */
#include "tools/gemm_tools.h"
#include "ops/conv2d_chunk.h"
#include "rcl/model.h"
#include "rcl/tensor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int record_hook(void *user, int ta, int tb, int M, int N, int K, const char *tag)
{
    rcl_gemm_recorder *r = user;
    char what[48]; /* rcl_gemm_shape.what keeps the first 39 characters */
    snprintf(what, sizeof what, "%.24s #%d", tag ? tag : "gemm", ++r->calls % 1000000);
    rcl_gemm_recorder_add(r, ta, tb, M, N, K, 1, what);
    return 0;
}

int rcl_gemm_record(rcl_ctx *ctx, rcl_gemm_recorder *rec)
{
    return rcl_gemm_set_hook(ctx, rec ? record_hook : NULL, rec);
}

void rcl_gemm_recorder_add(rcl_gemm_recorder *l, int ta, int tb, int M, int N, int K, int count,
                           const char *what)
{
    for (int i = 0; i < l->n; i++) {
        rcl_gemm_shape *s = &l->v[i];
        if (s->ta == ta && s->tb == tb && s->M == M && s->N == N && s->K == K) {
            s->count += count;
            return;
        }
    }
    if (l->n >= l->cap) {
        l->overflow = 1;
        return;
    }
    rcl_gemm_shape *s = &l->v[l->n++];
    *s = (rcl_gemm_shape){.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .count = count};
    snprintf(s->what, sizeof s->what, "%s", what);
}

static void conv(rcl_gemm_recorder *l, int mb, uint64_t max_alloc, const char *name, int batch,
                 int C, int OC, int k, int stride, int pad, int hw, int data_grad)
{
    int o = (hw + 2 * pad - k) / stride + 1;
    /* dead taps dropped (square maps: the same on both axes) */
    int lo, hi;
    rcl_conv_live_taps(o, hw, stride, pad, k, &lo, &hi);
    int trim = hi > lo && hi - lo < k && pad - lo >= 0 &&
               (hw + 2 * (pad - lo) - (hi - lo)) / stride + 1 == o;
    int live = trim ? hi - lo : k, P = o * o;
    char w[48];
    /* small maps: dense GEMMs on the full kernel (conv2d_dense.c) */
    if (rcl_tunables[RCL_TUN_CONV_PATH].def == RCL_CONV_PATH_RULE &&
        rcl_conv_is_dense(rcl_tunables[RCL_TUN_CONV_DENSE].def, hw * hw, P, live * live, C, OC,
                          mb, max_alloc)) {
        rcl_conv_shape ds = {batch, C, hw, hw, OC, k, k, stride, pad, pad, o, o};
        int CQ = C * hw * hw, OCP = OC * P;
        snprintf(w, sizeof w, "%s fwd", name);
        if (rcl_conv_dense_y_transposed(&ds)) /* y^T = w x^T */
            rcl_gemm_recorder_add(l, 0, 1, OC, batch, C, 1, w);
        else /* y = x D^T; the identity's D^T is w^T (NT) */
            rcl_gemm_recorder_add(l, 0, rcl_conv_dense_identity(&ds), batch, OCP, CQ, 1, w);
        snprintf(w, sizeof w, "%s wgrad", name);
        rcl_gemm_recorder_add(l, 1, 0, OCP, CQ, batch, 1, w);
        if (data_grad) { /* one GEMM per output pixel, K = OC */
            snprintf(w, sizeof w, "%s dgrad", name);
            rcl_gemm_recorder_add(l, 0, 0, batch, CQ, OC, P, w);
        }
        return;
    }
    if (trim) {
        pad -= lo;
        k = hi - lo;
    }
    int CKK = C * k * k;
    if (rcl_conv_is_direct(batch, P, rcl_tunables[RCL_TUN_CONV_IMAGE_GEMM_P].def, k, k, stride,
                           stride, pad, pad)) {
        snprintf(w, sizeof w, "%s fwd", name);
        rcl_gemm_recorder_add(l, 0, 0, OC, P, C, batch, w);
        snprintf(w, sizeof w, "%s wgrad", name);
        if (rcl_conv_dw_swapped(batch, C, OC)) /* dW^T = sum x[n] dy[n]^T */
            rcl_gemm_recorder_add(l, 0, 1, C, OC, P, batch, w);
        else
            rcl_gemm_recorder_add(l, 0, 1, OC, C, P, batch, w);
        if (data_grad) {
            snprintf(w, sizeof w, "%s dgrad", name);
            rcl_gemm_recorder_add(l, 1, 0, C, P, OC, batch, w);
        }
        return;
    }
    /* passes the direct kernels take under the default rule (conv.PATH,
     * DIRECT_MAX_C, VW defaults; no per-shape entries) run no GEMM */
    rcl_conv_shape cs = {batch, C, hw, hw, OC, k, k, stride, pad, pad, o, o};
    int gemm[3];
    for (int pass = 0; pass < 3; pass++)
        gemm[pass] = !rcl_conv_use_direct(&cs, pass, rcl_tunables[RCL_TUN_CONV_PATH].def,
                                          rcl_tunables[RCL_TUN_CONV_DIRECT_MAX_C].def, -1,
                                          rcl_tunables[RCL_TUN_CONV_DIRECT_VW].def, mb, max_alloc);
    int nb = rcl_conv_chunk_images(mb, max_alloc, batch, CKK, OC, P);
    for (int n0 = 0; n0 < batch; n0 += nb) {
        int np = (batch - n0 < nb ? batch - n0 : nb) * P;
        snprintf(w, sizeof w, "%s fwd", name);
        if (gemm[RCL_CONV_FWD]) rcl_gemm_recorder_add(l, 0, 0, OC, np, CKK, 1, w);
        snprintf(w, sizeof w, "%s wgrad", name);
        if (gemm[RCL_CONV_DW]) rcl_gemm_recorder_add(l, 0, 1, OC, CKK, np, 1, w);
        if (data_grad && gemm[RCL_CONV_DX]) {
            snprintf(w, sizeof w, "%s dgrad", name);
            rcl_gemm_recorder_add(l, 1, 0, CKK, np, OC, 1, w);
        }
    }
}

int rcl_gemm_shapes_resnet18(int mb, uint64_t max_alloc, int batch, int hw, int classes,
                             rcl_gemm_shape *out, int cap, int *n)
{
    *n = 0;
    if (batch < 1 || hw < 8 || classes < 1)
        return rcl_fail(RCL_ERR_INVALID, "resnet18 shapes: batch %d, image %d, classes %d", batch,
                        hw, classes);
    rcl_gemm_recorder l = {out, 0, cap, 0, 0};
    /* stem 7x7/2 pad 3, then 3x3/2 pad 1 max pool */
    conv(&l, mb, max_alloc, "conv1", batch, 3, 64, 7, 2, 3, hw, 0);
    int s = (hw + 6 - 7) / 2 + 1;
    s = (s + 2 - 3) / 2 + 1;
    int c = 64;
    const int widths[4] = {64, 128, 256, 512};
    for (int st = 0; st < 4; st++) {
        for (int b = 0; b < 2; b++) {
            int oc = widths[st], stride = (st > 0 && b == 0) ? 2 : 1;
            char nm[32];
            snprintf(nm, sizeof nm, "layer%d.%d.conv1", st + 1, b);
            conv(&l, mb, max_alloc, nm, batch, c, oc, 3, stride, 1, s, 1);
            int so = (s + 2 - 3) / stride + 1;
            snprintf(nm, sizeof nm, "layer%d.%d.conv2", st + 1, b);
            conv(&l, mb, max_alloc, nm, batch, oc, oc, 3, 1, 1, so, 1);
            if (stride != 1 || c != oc) {
                snprintf(nm, sizeof nm, "layer%d.%d.downsample", st + 1, b);
                conv(&l, mb, max_alloc, nm, batch, c, oc, 1, stride, 0, s, 1);
            }
            c = oc;
            s = so;
        }
    }
    rcl_gemm_recorder_add(&l, 0, 1, batch, classes, 512, 1, "fc fwd");
    rcl_gemm_recorder_add(&l, 0, 0, batch, 512, classes, 1, "fc dgrad");
    rcl_gemm_recorder_add(&l, 1, 0, classes, 512, batch, 1, "fc wgrad");
    *n = l.n;
    if (l.overflow) return rcl_fail(RCL_ERR_INVALID, "resnet18 shapes: more than %d", cap);
    return RCL_OK;
}

int rcl_gemm_shapes_model(rcl_ctx *ctx, const char *arch, int batch, int hw, int classes,
                          rcl_gemm_shape *out, int cap, int *n)
{
    *n = 0;
    if (batch < 2 || hw < 8 || classes < 1)
        return rcl_fail(RCL_ERR_INVALID, "%s shapes: batch %d (>= 2), image %d, classes %d", arch,
                        batch, hw, classes);
    rcl_model_config cfg = rcl_model_config_default();
    cfg.batch = batch;
    cfg.in_h = cfg.in_w = hw;
    cfg.num_classes = classes;
    rcl_model *m = NULL;
    rcl_tensor x = {0}, dlogits = {0};
    const rcl_tensor *logits = NULL;
    rcl_gemm_recorder rec = {out, 0, cap, 0, 0};
    int st = rcl_model_create(&m, ctx, arch, &cfg);
    if (st == RCL_OK) st = rcl_tensor_create(ctx, &x, batch, cfg.in_channels, hw, hw);
    if (st == RCL_OK) st = rcl_tensor_create(ctx, &dlogits, batch, classes, 1, 1);
    if (st == RCL_OK) st = rcl_tensor_fill(ctx, &x, 0.5f);
    if (st == RCL_OK) st = rcl_tensor_fill(ctx, &dlogits, 0.0f);
    if (st == RCL_OK) st = rcl_gemm_record(ctx, &rec);
    if (st == RCL_OK) st = rcl_model_forward(m, &x, 1, &logits);
    if (st == RCL_OK) st = rcl_model_backward(m, &dlogits);
    if (st == RCL_OK) st = rcl_ctx_finish(ctx);
    rcl_gemm_record(ctx, NULL);
    rcl_tensor_destroy(&dlogits);
    rcl_tensor_destroy(&x);
    rcl_model_destroy(m);
    if (st != RCL_OK) return st;
    *n = rec.n;
    if (rec.overflow) return rcl_fail(RCL_ERR_INVALID, "%s shapes: more than %d", arch, cap);
    return RCL_OK;
}

int rcl_gemm_shapes_file(const char *path, rcl_gemm_shape *out, int cap, int *n)
{
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return rcl_fail(RCL_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    rcl_gemm_recorder l = {out, 0, cap, 0, 0};
    char line[256];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *h = strchr(line, '#');
        if (h) *h = 0;
        int ta, tb, M, N, K, cnt = 1, got;
        char extra[2];
        got = sscanf(line, "%d %d %d %d %d %d %1s", &ta, &tb, &M, &N, &K, &cnt, extra);
        if (got <= 0) continue; /* blank or comment */
        if ((got != 5 && got != 6) || (ta != 0 && ta != 1) || (tb != 0 && tb != 1) || M < 1 ||
            N < 1 || K < 1 || cnt < 1) {
            fclose(f);
            return rcl_fail(RCL_ERR_FORMAT, "%s:%d: expected 'TA TB M N K [count]'", path, lineno);
        }
        char w[40];
        snprintf(w, sizeof w, "%s:%d", path, lineno);
        rcl_gemm_recorder_add(&l, ta, tb, M, N, K, cnt, w);
    }
    fclose(f);
    *n = l.n;
    if (l.overflow) return rcl_fail(RCL_ERR_INVALID, "%s: more than %d shapes", path, cap);
    if (!l.n) return rcl_fail(RCL_ERR_FORMAT, "%s: no shapes", path);
    return RCL_OK;
}
