/* conv2d host side. Each pass (forward, data gradient, weight gradient)
 * takes one of two paths, chosen per shape (rcl_conv_use_direct,
 * conv2d_chunk.c; tunables conv.PATH, conv.DIRECT_MAX_C and a shape's own
 * "conv.<shape>" FWD/DX/DW entries): the direct kernels of
 * cl/conv_direct.cl (conv2d_direct.c: no column matrix), or im2col/col2im +
 * GEMM over chunks of nb images (kernels in cl/im2col.cl, cl/bias.cl), below.
 * Before either, taps that read only padding for every output position are
 * dropped (a 3x3 pad-1 conv on a 1x1 map is a 1x1 conv on its centre tap):
 * the conv runs with the smaller kernel on the weights' slice (slot
 * CONV_W), and the weight gradient is scattered back with zeros there.
 * The weight gradient of kernels of more than 16 taps (the ImageNet stem),
 * which the direct kernels do not take, runs on input rows where
 * conv.DW_ROWS says so (conv2d_dw_rows.c: no column matrix).
 *
 * On the im2col path, a 1x1 stride-1 pad-0 conv of a single image, or of
 * maps of at least conv.IMAGE_GEMM_P output pixels, skips im2col and runs
 * one GEMM per image on the tensors themselves (the forward's bias,
 * residual and ReLU then in one in-place pass, cl/im2col.cl
 * conv_epilogue); with smaller maps it takes the chunked path (one large
 * GEMM per chunk beats a GEMM per image of few columns by far, even with
 * the layout copies; at 56x56 and 28x28 the copies cost more: resnet50 at
 * 224x224, docs/speed.md). On the smaller maps, where the
 * GEMM's vector width divides N*P and P (conv.IMAGES_B, conv_images_pass),
 * the forward and the data gradient
 * are one GEMM each over all images that reads x or dy in place as images
 * (cl/gemm.cl BI) and stores y (bias, residual, ReLU) or dx (+ dx_add)
 * itself: no im2col, reorder or col2im for them.
 *
 * Chunk of nb images, P = OH*OW, CKK = C*KH*KW, NP = nb*P:
 *   forward      col[CKK,NP] = im2col(x);  Y'[OC,NP] = W[OC,CKK] col;  y <- reorder(Y') (+b)
 *                (col in the GEMM's panels, conv.FWD_STORE: the GEMM writes
 *                y itself, (+b) and the epilogue included: no Y', no reorder)
 *   backward     dY'[OC,NP] = reorder(dy)
 *     weights    col = im2col(x);  dW (+)= dY' col^T   (beta 0 on the first chunk)
 *     data       dcol[CKK,NP] = W^T dY';  dx <- col2im(dcol)
 *     bias       db[oc] = sum_{n,p} dy[n,oc,p]
 * col lives in scratch slot COL, Y'/dY' in slot TMP; nb keeps both under
 * the tunable byte budget conv.COL_BUDGET_MB and the device's max_alloc
 * (the rule: conv2d_chunk.c, shared with the tools' GEMM shapes). */
#include "ops/bias.h"
#include "ops/conv2d_chunk.h"
#include "ops/conv2d_dense.h"
#include "ops/conv2d_direct.h"
#include "ops/conv2d_dw_rows.h"
#include "ops/conv2d_wino.h"
#include "gemm/gemm_internal.h"
#include "runtime/internal.h"
#include "rcl/gemm.h"
#include "rcl/ops.h"

#include <limits.h>
#include <stdio.h>

int rcl_conv_out_size(int in, int k, int stride, int pad)
{
    if (in <= 0 || k <= 0 || stride <= 0 || pad < 0) return 0;
    int num = in + 2 * pad - k;
    if (num < 0) return 0;
    return num / stride + 1;
}

/* Validated geometry of one conv call. */
typedef struct conv_geom {
    int N, C, H, W, OC, KH, KW, OH, OW, P, CKK;
    int direct;   /* 1x1, stride 1, pad 0, one image or P >= conv.IMAGE_GEMM_P:
                     a GEMM per image on the tensors */
} conv_geom;

static int shape_is(const rcl_tensor *t, int n, int c, int h, int w)
{
    return t->n == n && t->c == c && t->h == h && t->w == w;
}

static int conv_geometry(rcl_ctx *ctx, const char *what, const rcl_tensor *x,
                         const rcl_tensor *w, const rcl_conv2d_desc *d, conv_geom *g)
{
    if (!x || !w || !d) return rcl_fail(RCL_ERR_INVALID, "%s: NULL x, w or descriptor", what);
    if (d->kh <= 0 || d->kw <= 0 || d->sh <= 0 || d->sw <= 0 || d->ph < 0 || d->pw < 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: kernel %dx%d stride %dx%d pad %dx%d", what, d->kh,
                        d->kw, d->sh, d->sw, d->ph, d->pw);
    if (x->n <= 0 || x->c <= 0 || x->h <= 0 || x->w <= 0 || w->n <= 0)
        return rcl_fail(RCL_ERR_INVALID, "%s: empty x (%d,%d,%d,%d) or w", what, x->n, x->c,
                        x->h, x->w);
    if (w->c != x->c || w->h != d->kh || w->w != d->kw)
        return rcl_fail(RCL_ERR_INVALID,
                        "%s: w (%d,%d,%d,%d) does not match x channels %d, kernel %dx%d", what,
                        w->n, w->c, w->h, w->w, x->c, d->kh, d->kw);
    g->N = x->n, g->C = x->c, g->H = x->h, g->W = x->w;
    g->OC = w->n, g->KH = d->kh, g->KW = d->kw;
    g->OH = rcl_conv_out_size(x->h, d->kh, d->sh, d->ph);
    g->OW = rcl_conv_out_size(x->w, d->kw, d->sw, d->pw);
    if (g->OH < 1 || g->OW < 1)
        return rcl_fail(RCL_ERR_INVALID, "%s: no output for input %dx%d, kernel %dx%d, pad %dx%d",
                        what, x->h, x->w, d->kh, d->kw, d->ph, d->pw);
    g->P = g->OH * g->OW;
    g->CKK = g->C * g->KH * g->KW;
    if (rcl_t_count(x) > INT_MAX || (size_t)g->N * g->OC * g->P > INT_MAX ||
        rcl_t_count(w) > INT_MAX)
        return rcl_fail(RCL_ERR_UNSUPPORTED, "%s: tensor of 2^31 or more elements", what);
    g->direct = rcl_conv_is_direct(g->N, g->P, rcl_tun(ctx, RCL_TUN_CONV_IMAGE_GEMM_P), d->kh,
                                   d->kw, d->sh, d->sw, d->ph, d->pw);
    return RCL_OK;
}

static int bias_ok(const char *what, const rcl_tensor *b, int oc)
{
    if (b && rcl_t_count(b) != (size_t)oc)
        return rcl_fail(RCL_ERR_INVALID, "%s: bias (%d,%d,%d,%d) is not %d values", what, b->n,
                        b->c, b->h, b->w, oc);
    return RCL_OK;
}

/* Images per chunk: col (CKK*P per image) and Y' (OC*P) within the budget. */
static int conv_chunk(rcl_ctx *ctx, const conv_geom *g, int *nb)
{
    uint64_t max_alloc = rcl_ctx_device(ctx)->max_alloc;
    uint64_t per = (uint64_t)(g->CKK > g->OC ? g->CKK : g->OC) * (uint64_t)g->P;
    if (max_alloc && per * sizeof(float) > max_alloc)
        return rcl_fail(RCL_ERR_DEVICE_NOMEM,
                        "conv2d: one image's column matrix (%llu bytes) exceeds max_alloc %llu",
                        (unsigned long long)(per * sizeof(float)), (unsigned long long)max_alloc);
    *nb = rcl_conv_chunk_images(rcl_tun(ctx, RCL_TUN_CONV_COL_BUDGET_MB), max_alloc, g->N, g->CKK,
                                g->OC, g->P);
    return RCL_OK;
}

/* cl/im2col.cl's kernel `name` and its work-group size; r > 0: a panel
 * kernel, panels of r (-DR) */
static int im2col_kernel(rcl_ctx *ctx, const char *name, int r, cl_kernel *k, size_t *wg)
{
    *wg = rcl_wg_clamp(ctx, (size_t)rcl_tun(ctx, RCL_TUN_IM2COL_WG));
    char opts[64];
    if (r > 0) snprintf(opts, sizeof opts, "-DWG=%zu -DR=%d", *wg, r);
    else snprintf(opts, sizeof opts, "-DWG=%zu", *wg);
    return rcl_ctx_kernel(ctx, "im2col.cl", name, opts, k);
}

/* Images per work-item of the cl/im2col.cl kernels: enough planes of
 * `plane` floats to fill the tunable span im2col.SPAN (runtime/tunables.def),
 * so tiny planes (4x4, 2x2, 1x1 maps) do not pay a work-item each. */
static int images_per_item(rcl_ctx *ctx, int plane, int nb)
{
    int span = rcl_tun(ctx, RCL_TUN_IM2COL_SPAN);
    int ipi = span > plane ? (span + plane - 1) / plane : 1;
    return ipi < nb ? ipi : nb;
}

/* im2col (x -> col) or col2im (col -> dx) of images n0 .. n0+nb-1: a 2-D
 * range (image groups, col rows) or (image groups, channels), see
 * cl/im2col.cl */
static int launch_cols(rcl_ctx *ctx, int is_im2col, cl_mem dst, cl_mem src, int n0, int nb,
                       const conv_geom *g, const rcl_conv2d_desc *d)
{
    const char *name = is_im2col ? "im2col" : "col2im";
    cl_kernel k;
    size_t wg;
    RCL_TRY(im2col_kernel(ctx, name, 0, &k, &wg));
    int ipi = images_per_item(ctx, is_im2col ? g->P : g->H * g->W, nb);
    size_t gl[2] = {(size_t)((nb + ipi - 1) / ipi), (size_t)(is_im2col ? g->CKK : g->C)};
    size_t lo[2] = {wg, 1};
    return RCL_LAUNCH(ctx, k, name, 2, gl, lo, RCL_MEM(dst), RCL_MEM(src), RCL_I32(n0),
                      RCL_I32(nb), RCL_I32(ipi), RCL_I32(g->C), RCL_I32(g->H), RCL_I32(g->W),
                      RCL_I32(g->KH), RCL_I32(g->KW), RCL_I32(d->sh), RCL_I32(d->sw),
                      RCL_I32(d->ph), RCL_I32(d->pw), RCL_I32(g->OH), RCL_I32(g->OW));
}

/* The forward GEMM of a chunk of np columns reads its op(B) (col) in
 * packed panels where the output has at most im2col.PANELS pixels per
 * image and rcl_gemm would run it on the tiled kernel packing op(B) (XB
 * 2): *nwi the panel width, and the columns the panels take, np rounded up
 * to it; else *nwi = 0 and np. */
static int fwd_panel_cols(rcl_ctx *ctx, const conv_geom *g, int np, int *nwi)
{
    *nwi = 0;
    if (g->P <= rcl_tun(ctx, RCL_TUN_IM2COL_PANELS))
        *nwi = rcl_gemm_b_panels(ctx, 0, 0, g->OC, np, g->CKK);
    return *nwi ? (np + *nwi - 1) / *nwi * *nwi : np;
}

/* Columns of slot COL for the forward pass in chunks of nb images: the
 * larger of a whole chunk's and the last chunk's */
static int fwd_col_cols(rcl_ctx *ctx, const conv_geom *g, int nb)
{
    int last = g->N - (g->N - 1) / nb * nb, nwi;
    int a = fwd_panel_cols(ctx, g, nb * g->P, &nwi), b = fwd_panel_cols(ctx, g, last * g->P, &nwi);
    return a > b ? a : b;
}

/* The weight gradient's GEMM of a chunk of np columns (dW = dY' col^T,
 * NT) reads its op(B) = col^T in packed panels of rows of col where the
 * output has at most im2col.WPANELS pixels per image and rcl_gemm would run
 * it on the tiled kernel packing op(B) (XB 2): *nwi the panel height, and
 * the rows the panels take, CKK rounded up to it; else *nwi = 0 and CKK.
 * The threshold is its own (im2col.WPANELS), not the forward's. */
static int dw_panel_rows(rcl_ctx *ctx, const conv_geom *g, int np, int *nwi)
{
    *nwi = 0;
    if (g->P <= rcl_tun(ctx, RCL_TUN_IM2COL_WPANELS))
        *nwi = rcl_gemm_b_panels(ctx, 0, 1, g->OC, g->CKK, np);
    return *nwi ? (g->CKK + *nwi - 1) / *nwi * *nwi : g->CKK;
}

/* Floats of slot COL for the backward pass in chunks of nb images: the
 * larger of a whole chunk's and the last chunk's column matrix */
static uint64_t bwd_col_floats(rcl_ctx *ctx, const conv_geom *g, int nb)
{
    int last = g->N - (g->N - 1) / nb * nb, nwi;
    uint64_t a = (uint64_t)dw_panel_rows(ctx, g, nb * g->P, &nwi) * nb * g->P;
    uint64_t b = (uint64_t)dw_panel_rows(ctx, g, last * g->P, &nwi) * last * g->P;
    return a > b ? a : b;
}

/* im2col_wpanels: col of images n0 .. n0+nb-1 as the weight gradient
 * GEMM's packed op(B) = col^T, panels of nwi rows (cl/im2col.cl) */
static int launch_wpanels(rcl_ctx *ctx, cl_mem dst, cl_mem src, int n0, int nb, int nwi,
                          const conv_geom *g, const rcl_conv2d_desc *d)
{
    cl_kernel k;
    size_t wg;
    RCL_TRY(im2col_kernel(ctx, "im2col_wpanels", nwi, &k, &wg));
    size_t np = (size_t)nb * g->P;
    size_t gl[2] = {(np + wg - 1) / wg * wg, (size_t)((g->CKK + nwi - 1) / nwi)}, lo[2] = {wg, 1};
    return RCL_LAUNCH(ctx, k, "im2col", 2, gl, lo, RCL_MEM(dst), RCL_MEM(src), RCL_I32(n0),
                      RCL_I32(nb), RCL_I32(g->C), RCL_I32(g->H), RCL_I32(g->W), RCL_I32(g->KH),
                      RCL_I32(g->KW), RCL_I32(d->sh), RCL_I32(d->sw), RCL_I32(d->ph),
                      RCL_I32(d->pw), RCL_I32(g->OH), RCL_I32(g->OW));
}

/* im2col_panels: col of images n0 .. n0+nb-1 as the GEMM's packed op(B),
 * panels of nwi columns (cl/im2col.cl) */
static int launch_panels(rcl_ctx *ctx, cl_mem dst, cl_mem src, int n0, int nb, int nwi,
                         const conv_geom *g, const rcl_conv2d_desc *d)
{
    cl_kernel k;
    size_t wg;
    RCL_TRY(im2col_kernel(ctx, "im2col_panels", nwi, &k, &wg));
    int rows = rcl_tun(ctx, RCL_TUN_IM2COL_ROWS);
    if (rows < 1) return rcl_fail(RCL_ERR_INVALID, "conv2d: im2col ROWS %d < 1", rows);
    size_t panels = (size_t)(nb * g->P + nwi - 1) / nwi;
    size_t gl[2] = {(size_t)((g->CKK + rows - 1) / rows), panels}, lo[2] = {wg, 1};
    return RCL_LAUNCH(ctx, k, "im2col", 2, gl, lo, RCL_MEM(dst), RCL_MEM(src), RCL_I32(n0),
                      RCL_I32(nb), RCL_I32(rows), RCL_I32(g->C), RCL_I32(g->H), RCL_I32(g->W),
                      RCL_I32(g->KH), RCL_I32(g->KW), RCL_I32(d->sh), RCL_I32(d->sw),
                      RCL_I32(d->ph), RCL_I32(d->pw), RCL_I32(g->OH), RCL_I32(g->OW));
}

/* reorder_fwd (tmp -> y, + bias) or reorder_bwd (dy -> tmp) of images
 * n0 .. n0+nb-1 */
static int launch_reorder(rcl_ctx *ctx, int fwd, cl_mem dst, cl_mem src, cl_mem b, cl_mem res,
                          int epi, int n0, int nb, const conv_geom *g)
{
    cl_kernel k;
    size_t wg;
    RCL_TRY(im2col_kernel(ctx, fwd ? "reorder_fwd" : "reorder_bwd", 0, &k, &wg));
    int ipi = images_per_item(ctx, g->P, nb);
    size_t gl[2] = {(size_t)((nb + ipi - 1) / ipi), (size_t)g->OC}, lo[2] = {wg, 1};
    if (fwd)
        return RCL_LAUNCH(ctx, k, "reorder", 2, gl, lo, RCL_MEM(dst), RCL_MEM(src),
                          RCL_MEM(b ? b : src), RCL_I32(b != NULL), RCL_MEM(res ? res : src),
                          RCL_I32(res ? epi : epi & ~RCL_CONV_EPI_RES), RCL_I32(n0), RCL_I32(nb),
                          RCL_I32(ipi), RCL_I32(g->OC), RCL_I32(g->P));
    return RCL_LAUNCH(ctx, k, "reorder", 2, gl, lo, RCL_MEM(dst), RCL_MEM(src), RCL_I32(n0),
                      RCL_I32(nb), RCL_I32(ipi), RCL_I32(g->OC), RCL_I32(g->P));
}

/* 1x1 stride 1 pad 0: y[n] = W[OC,C] x[n][C,HW] per image */
static int conv_forward_direct(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                               const rcl_tensor *w, const conv_geom *g)
{
    size_t hw = (size_t)g->P;
    for (int n = 0; n < g->N; n++)
        RCL_TRY(rcl_gemm(ctx, 0, 0, g->OC, g->P, g->C, 1.0f, w->buf, 0, g->C, x->buf,
                         n * g->C * hw, g->P, 0.0f, y->buf, n * g->OC * hw, g->P,
                         "conv_fwd_gemm"));
    return RCL_OK;
}

/* Images per chunk, and the scratch buffers for one chunk: col
 * [CKK, nb*P] (forward: as packed panels where fwd_panel_cols says so) and
 * the reordered output/gradient [OC, nb*P]. */
static int conv_chunk_buffers(rcl_ctx *ctx, const conv_geom *g, int fwd, int *nb, cl_mem *col,
                              cl_mem *tmp)
{
    RCL_TRY(conv_chunk(ctx, g, nb));
    size_t floats = fwd ? (size_t)g->CKK * (size_t)fwd_col_cols(ctx, g, *nb)
                        : (size_t)bwd_col_floats(ctx, g, *nb);
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_COL, floats * sizeof(float), col));
    return rcl_scratch(ctx, RCL_SCRATCH_TMP, (size_t)g->OC * *nb * g->P * sizeof(float), tmp);
}

/* The shape for the path rule and the direct kernels (S 0: strides differ
 * per axis, which the direct path does not run). */
static rcl_conv_shape conv_shape(const conv_geom *g, const rcl_conv2d_desc *d)
{
    return (rcl_conv_shape){g->N, g->C, g->H, g->W, g->OC, g->KH, g->KW,
                            d->sh == d->sw ? d->sh : 0, d->ph, d->pw, g->OH, g->OW};
}

/* The shape's own key in the tunable table ("conv.<shape>": FWD DX DW) */
static void conv_key(const conv_geom *g, const rcl_conv2d_desc *d, char key[64])
{
    snprintf(key, 64, "conv.%dx%dx%d_%d_%dx%ds%dx%dp%dx%d", g->C, g->H, g->W, g->OC, g->KH,
             g->KW, d->sh, d->sw, d->ph, d->pw);
}

/* 1 if `pass` of this conv takes the direct path */
static int conv_direct_pass(rcl_ctx *ctx, const conv_geom *g, const rcl_conv2d_desc *d, int pass)
{
    if (g->direct) return 0; /* one GEMM on the tensors themselves */
    rcl_conv_shape s = conv_shape(g, d);
    char key[64];
    conv_key(g, d, key);
    static const char *const names[3] = {"FWD", "DX", "DW"};
    int mode = rcl_tun(ctx, RCL_TUN_CONV_PATH), own = rcl_ctx_param(ctx, key, names[pass], -1);
    int max_c = rcl_tun(ctx, RCL_TUN_CONV_DIRECT_MAX_C);
    /* a weight gradient that Winograd's F(2x2) takes on the direct path:
     * up to conv_wino DW_MAX_C channels on outputs at least 8 wide
     * (runtime/tunables.def) */
    rcl_conv_wino_plan wp;
    if (pass == RCL_CONV_DW && rcl_tun(ctx, RCL_TUN_CONV_WINO_DW_MAX_C) > max_c && s.OW >= 8 &&
        rcl_conv_wino_choose(ctx, &s, RCL_CONV_DW, &wp))
        max_c = rcl_tun(ctx, RCL_TUN_CONV_WINO_DW_MAX_C);
    return rcl_conv_use_direct(&s, pass, mode, max_c, own, rcl_conv_direct_vw(ctx),
                               rcl_tun(ctx, RCL_TUN_CONV_COL_BUDGET_MB),
                               rcl_ctx_device(ctx)->max_alloc);
}

/* 1 if the weight gradient of this conv, off the direct path, runs on input
 * rows (rcl_conv_dw_rows_use: more than 16 taps) under the rule, the shape
 * without a DW entry of its own */
static int conv_dw_rows_pass(rcl_ctx *ctx, const conv_geom *g, const rcl_conv2d_desc *d)
{
    if (g->direct || rcl_tun(ctx, RCL_TUN_CONV_PATH) != RCL_CONV_PATH_RULE) return 0;
    char key[64];
    conv_key(g, d, key);
    rcl_conv_shape s = conv_shape(g, d);
    return rcl_ctx_param(ctx, key, "DW", -1) < 0 && rcl_conv_dw_rows_use(ctx, &s);
}

/* 1 and *p if `pass` (FWD or DX) of this conv, off the direct path, takes
 * Winograd's GEMM form (rcl_conv_wino_gemm_choose) */
static int conv_wino_gemm_pass(rcl_ctx *ctx, const conv_geom *g, const rcl_conv2d_desc *d,
                               int pass, rcl_conv_wino_plan *p)
{
    if (g->direct) return 0; /* (unequal strides: conv_shape's S 0, which the plan refuses) */
    rcl_conv_shape s = conv_shape(g, d);
    return rcl_conv_wino_gemm_choose(ctx, &s, pass, p);
}

/* The live taps: 1 and the trimmed descriptor *t, (*kh0, *kw0) its first tap
 * in the full kernel, when some taps read only padding; 0 otherwise. */
static int conv_trim(const conv_geom *g, const rcl_conv2d_desc *d, rcl_conv2d_desc *t, int *kh0,
                     int *kw0)
{
    int h0, h1, w0, w1;
    rcl_conv_live_taps(g->OH, g->H, d->sh, d->ph, g->KH, &h0, &h1);
    rcl_conv_live_taps(g->OW, g->W, d->sw, d->pw, g->KW, &w0, &w1);
    if (h1 <= h0 || w1 <= w0 || (h1 - h0 == g->KH && w1 - w0 == g->KW)) return 0;
    *t = (rcl_conv2d_desc){h1 - h0, w1 - w0, d->sh, d->sw, d->ph - h0, d->pw - w0};
    /* same outputs from the same input windows (checked, not assumed) */
    if (t->ph < 0 || t->pw < 0 || rcl_conv_out_size(g->H, t->kh, t->sh, t->ph) != g->OH ||
        rcl_conv_out_size(g->W, t->kw, t->sw, t->pw) != g->OW)
        return 0;
    *kh0 = h0, *kw0 = w0;
    return 1;
}

/* w's live taps into slot CONV_W: *wt, shaped (OC, C, t->kh, t->kw) */
static int conv_slice(rcl_ctx *ctx, const rcl_tensor *w, const rcl_conv2d_desc *t, int kh0,
                      int kw0, rcl_tensor *wt)
{
    *wt = (rcl_tensor){NULL, w->n, w->c, t->kh, t->kw};
    RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_CONV_W, rcl_t_count(wt) * sizeof(float), &wt->buf));
    return rcl_conv_taps(ctx, w->buf, wt->buf, w->n * w->c, w->h, w->w, kh0, kw0, t->kh, t->kw,
                         0);
}

int rcl_conv2d_trim(rcl_ctx *ctx, rcl_tensor *wt, rcl_conv2d_desc *t, const rcl_tensor *w,
                    int h, int w_in, const rcl_conv2d_desc *d)
{
    if (!wt || !t || !w || !d) return rcl_fail(RCL_ERR_INVALID, "conv2d_trim: NULL argument");
    const rcl_tensor x = {NULL, 1, w->c, h, w_in}; /* the geometry only */
    conv_geom g;
    RCL_TRY(conv_geometry(ctx, "conv2d_trim", &x, w, d, &g));
    int kh0, kw0;
    if (!conv_trim(&g, d, t, &kh0, &kw0)) {
        *t = *d;
        return 0;
    }
    RCL_TRY(rcl_tensor_create(ctx, wt, w->n, w->c, t->kh, t->kw));
    int st = rcl_conv_taps(ctx, w->buf, wt->buf, w->n * w->c, w->h, w->w, kh0, kw0, t->kh,
                           t->kw, 0);
    if (st < 0) {
        rcl_tensor_destroy(wt);
        return st;
    }
    return 1;
}

/* y (+ b), + res, ReLU (epi) in one in-place pass over y: after GEMMs that
 * wrote y themselves (1x1 convs per image, the dense path) */
static int launch_epilogue(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *b,
                           const rcl_tensor *res, int epi, const conv_geom *g)
{
    if (!res) epi &= ~RCL_CONV_EPI_RES;
    if (!b && !epi) return RCL_OK;
    cl_kernel k;
    size_t wg;
    RCL_TRY(im2col_kernel(ctx, "conv_epilogue", 0, &k, &wg));
    int ipi = images_per_item(ctx, g->P, g->N);
    size_t gl[2] = {(size_t)((g->N + ipi - 1) / ipi), (size_t)g->OC}, lo[2] = {wg, 1};
    return RCL_LAUNCH(ctx, k, "reorder", 2, gl, lo, RCL_MEM(y->buf),
                      RCL_MEM(b ? b->buf : y->buf), RCL_I32(b != NULL),
                      RCL_MEM(res ? res->buf : y->buf), RCL_I32(epi), RCL_I32(g->N),
                      RCL_I32(ipi), RCL_I32(g->OC), RCL_I32(g->P));
}

/* The dense path's bias and epilogue for its GEMM's store (conv.FWD_STORE)
 * in *co, or NULL: none to apply, or the switch off */
static const rcl_gemm_conv_out *dense_epi(rcl_ctx *ctx, rcl_gemm_conv_out *co,
                                          const rcl_tensor *b, const rcl_tensor *res, int epi,
                                          const conv_geom *g)
{
    if (!res) epi &= ~RCL_CONV_EPI_RES;
    if ((!b && !epi) || !rcl_tun(ctx, RCL_TUN_CONV_FWD_STORE)) return NULL;
    *co = (rcl_gemm_conv_out){g->P, 1, b ? b->buf : NULL, res ? res->buf : NULL, epi};
    return co;
}

/* 1 if this conv takes the dense path: the path rule, conv.DENSE on, equal
 * strides, rcl_conv_is_dense with its live taps (conv_trim). It runs on the
 * full kernel: D has no entry at a dead tap, and the weight gradient's
 * fold writes 0 there, so no slice and no scatter back. */
static int conv_dense_pass(rcl_ctx *ctx, const conv_geom *g, const rcl_conv2d_desc *d)
{
    rcl_conv2d_desc t;
    int kh0, kw0, live = conv_trim(g, d, &t, &kh0, &kw0) ? t.kh * t.kw : g->KH * g->KW;
    return rcl_tun(ctx, RCL_TUN_CONV_PATH) == RCL_CONV_PATH_RULE && d->sh == d->sw &&
           rcl_conv_is_dense(rcl_tun(ctx, RCL_TUN_CONV_DENSE), g->H * g->W, g->P, live, g->C,
                             g->OC,
                             rcl_tun(ctx, RCL_TUN_CONV_COL_BUDGET_MB),
                             rcl_ctx_device(ctx)->max_alloc);
}

/* 1 if `pass` (FWD or DX) of this 1x1 stride-1 unpadded conv on the im2col
 * path runs one GEMM that reads x (FWD) or dy (DX) in place as images
 * (rcl_gemm_images_b_ok, conv.IMAGES_B) and stores y or dx itself */
static int conv_images_pass(rcl_ctx *ctx, const conv_geom *g, const rcl_conv2d_desc *d, int pass)
{
    /* not on maps of IMAGE_GEMM_P pixels or more (g->direct): rows of
     * 3136 pixels a k apart read in place ran the GEMM 36% slower than the
     * per-image GEMMs on packed panels with their copies (resnet50 at
     * 224x224, docs/speed.md "Session 23") */
    if (g->direct || g->KH != 1 || g->KW != 1 || d->sh != 1 || d->sw != 1 || d->ph || d->pw)
        return 0;
    if (pass == RCL_CONV_FWD)
        return rcl_tun(ctx, RCL_TUN_CONV_FWD_STORE) &&
               rcl_gemm_images_b_ok(ctx, 0, g->OC, g->N * g->P, g->C, g->P);
    return rcl_gemm_images_b_ok(ctx, 1, g->C, g->N * g->P, g->OC, g->P);
}

/* y = conv(x, w) (+ b), then the epilogue epi (+ res, ReLU): in the
 * reorder pass, or (1x1 stride-1 convs, GEMMs straight into y) the bias
 * pass and the add / ReLU ops */
static int conv_forward_gemm(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                             const rcl_tensor *w, const rcl_tensor *b, const rcl_tensor *res,
                             int epi, const rcl_conv2d_desc *d, const conv_geom *gp)
{
    conv_geom g = *gp;
    if (g.direct) {
        RCL_TRY(conv_forward_direct(ctx, y, x, w, &g));
        return launch_epilogue(ctx, y, b, res, epi, &g);
    }
    if (conv_images_pass(ctx, &g, d, RCL_CONV_FWD)) { /* y = W x, x read in place */
        rcl_gemm_conv_out co = {g.P, 0, b ? b->buf : NULL, res ? res->buf : NULL,
                                res ? epi : epi & ~RCL_CONV_EPI_RES};
        return rcl_gemm_images_b(ctx, 0, g.OC, g.N * g.P, g.C, 1.0f, w->buf, 0, g.C, x->buf, 0,
                                 g.P, 0.0f, y->buf, 0, g.N * g.P, &co, "conv_fwd_gemm");
    }
    int nb = 1; /* (set by conv_chunk_buffers) */
    cl_mem col, tmp;
    RCL_TRY(conv_chunk_buffers(ctx, &g, 1, &nb, &col, &tmp));
    for (int n0 = 0; n0 < g.N; n0 += nb) {
        int cur = g.N - n0 < nb ? g.N - n0 : nb;
        int np = cur * g.P, nwi;
        fwd_panel_cols(ctx, &g, np, &nwi);
        if (nwi) { /* col straight into the GEMM's panels: no pack pass */
            RCL_TRY(launch_panels(ctx, col, x->buf, n0, cur, nwi, &g, d));
            if (rcl_tun(ctx, RCL_TUN_CONV_FWD_STORE)) { /* and y straight from it */
                rcl_gemm_conv_out co = {g.P, 0, b ? b->buf : NULL, res ? res->buf : NULL,
                                        res ? epi : epi & ~RCL_CONV_EPI_RES};
                RCL_TRY(rcl_gemm_packed_b(ctx, 0, 0, g.OC, np, g.CKK, 1.0f, w->buf, 0, g.CKK, col,
                                          0.0f, y->buf, (size_t)n0 * g.OC * g.P, np, &co,
                                          "conv_fwd_gemm"));
                continue;
            }
            RCL_TRY(rcl_gemm_packed_b(ctx, 0, 0, g.OC, np, g.CKK, 1.0f, w->buf, 0, g.CKK, col,
                                      0.0f, tmp, 0, np, NULL, "conv_fwd_gemm"));
        } else {
            RCL_TRY(launch_cols(ctx, 1, col, x->buf, n0, cur, &g, d));
            RCL_TRY(rcl_gemm(ctx, 0, 0, g.OC, np, g.CKK, 1.0f, w->buf, 0, g.CKK, col, 0, np,
                             0.0f, tmp, 0, np, "conv_fwd_gemm"));
        }
        RCL_TRY(launch_reorder(ctx, 1, y->buf, tmp, b ? b->buf : NULL, res ? res->buf : NULL,
                               epi, n0, cur, &g));
    }
    return RCL_OK;
}

int rcl_conv2d_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x, const rcl_tensor *w,
                       const rcl_tensor *b, const rcl_conv2d_desc *d)
{
    return rcl_conv2d_forward_fused(ctx, y, x, w, b, NULL, 0, d);
}

int rcl_conv2d_forward_fused(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                             const rcl_tensor *w, const rcl_tensor *b, const rcl_tensor *res,
                             int relu, const rcl_conv2d_desc *d)
{
    conv_geom g;
    RCL_TRY(conv_geometry(ctx, "conv2d_forward", x, w, d, &g));
    RCL_TRY(bias_ok("conv2d_forward", b, g.OC));
    if (!y || !shape_is(y, g.N, g.OC, g.OH, g.OW))
        return rcl_fail(RCL_ERR_INVALID, "conv2d_forward: y must be (%d,%d,%d,%d)", g.N, g.OC,
                        g.OH, g.OW);
    if (res && !shape_is(res, g.N, g.OC, g.OH, g.OW))
        return rcl_fail(RCL_ERR_INVALID, "conv2d_forward: res must be (%d,%d,%d,%d) like y", g.N,
                        g.OC, g.OH, g.OW);
    /* the direct and Winograd kernels, and the im2col path's reorder,
     * apply the epilogue as they store */
    int epi = (res ? RCL_CONV_EPI_RES : 0) | (relu ? RCL_CONV_EPI_RELU : 0);
    if (conv_dense_pass(ctx, &g, d)) { /* on the full kernel */
        rcl_conv_shape s = conv_shape(&g, d);
        rcl_gemm_conv_out co;
        int st = rcl_conv_dense_forward(ctx, y->buf, x->buf, w->buf, &s,
                                        dense_epi(ctx, &co, b, res, epi, &g));
        return st < 0 ? st : st ? RCL_OK : launch_epilogue(ctx, y, b, res, epi, &g);
    }
    rcl_conv2d_desc t;
    rcl_tensor wt;
    int kh0, kw0;
    if (conv_trim(&g, d, &t, &kh0, &kw0)) {
        RCL_TRY(conv_slice(ctx, w, &t, kh0, kw0, &wt));
        RCL_TRY(conv_geometry(ctx, "conv2d_forward", x, &wt, &t, &g));
        w = &wt;
        d = &t;
    }
    if (conv_direct_pass(ctx, &g, d, RCL_CONV_FWD)) {
        rcl_conv_shape s = conv_shape(&g, d);
        return rcl_conv_direct_forward(ctx, y->buf, x->buf, w->buf, b ? b->buf : NULL,
                                       res ? res->buf : NULL, epi, &s);
    }
    rcl_conv_wino_plan wp;
    if (conv_wino_gemm_pass(ctx, &g, d, RCL_CONV_FWD, &wp)) {
        rcl_conv_shape s = conv_shape(&g, d);
        return rcl_conv_wino_gemm(ctx, y->buf, x->buf, w->buf, b ? b->buf : NULL,
                                  res ? res->buf : NULL, epi, &s, RCL_CONV_FWD, &wp);
    }
    return conv_forward_gemm(ctx, y, x, w, b, res, epi, d, &g);
}

/* 1x1 stride 1 pad 0: dx[n] = W^T dy[n];  dW = sum_n dy[n] x[n]^T, or
 * (rcl_conv_dw_swapped) dW^T = sum_n x[n] dy[n]^T in scratch slot TMP, transposed
 * into dW at the end */
static int conv_backward_direct(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dw,
                                const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *w,
                                const conv_geom *g)
{
    size_t hw = (size_t)g->P;
    cl_mem dwt = NULL;
    if (dw && rcl_conv_dw_swapped(g->N, g->C, g->OC))
        RCL_TRY(rcl_scratch(ctx, RCL_SCRATCH_TMP, (size_t)g->C * g->OC * sizeof(float), &dwt));
    for (int n = 0; n < g->N; n++) {
        if (dx)
            RCL_TRY(rcl_gemm(ctx, 1, 0, g->C, g->P, g->OC, 1.0f, w->buf, 0, g->C, dy->buf,
                             n * g->OC * hw, g->P, 0.0f, dx->buf, n * g->C * hw, g->P,
                             "conv_bwd_data_gemm"));
        if (dw && dwt)
            RCL_TRY(rcl_gemm(ctx, 0, 1, g->C, g->OC, g->P, 1.0f, x->buf, n * g->C * hw, g->P,
                             dy->buf, n * g->OC * hw, g->P, n ? 1.0f : 0.0f, dwt, 0, g->OC,
                             "conv_bwd_weight_gemm"));
        else if (dw)
            RCL_TRY(rcl_gemm(ctx, 0, 1, g->OC, g->C, g->P, 1.0f, dy->buf, n * g->OC * hw, g->P,
                             x->buf, n * g->C * hw, g->P, n ? 1.0f : 0.0f, dw->buf, 0, g->C,
                             "conv_bwd_weight_gemm"));
    }
    /* dW^T (C x OC) -> dW (OC x C) */
    return dwt ? rcl_transpose(ctx, dw->buf, dwt, 0, g->OC, g->C, g->OC) : RCL_OK;
}

/* the im2col + GEMM backward of dx and/or dw (either may be NULL) */
static int conv_backward_gemm(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dw, const rcl_tensor *dy,
                              const rcl_tensor *x, const rcl_tensor *w, const rcl_conv2d_desc *d,
                              const conv_geom *gp)
{
    if (!dx && !dw) return RCL_OK;
    conv_geom g = *gp;
    if (g.direct) return conv_backward_direct(ctx, dx, dw, dy, x, w, &g);
    int nb = 1; /* (set by conv_chunk_buffers) */
    cl_mem col, tmp;
    RCL_TRY(conv_chunk_buffers(ctx, &g, 0, &nb, &col, &tmp));
    for (int n0 = 0; n0 < g.N; n0 += nb) {
        int cur = g.N - n0 < nb ? g.N - n0 : nb;
        int np = cur * g.P;
        RCL_TRY(launch_reorder(ctx, 0, tmp, dy->buf, NULL, NULL, 0, n0, cur, &g));
        if (dw) {
            int nwi;
            dw_panel_rows(ctx, &g, np, &nwi);
            if (nwi) { /* col^T straight into the GEMM's panels: no pack pass */
                RCL_TRY(launch_wpanels(ctx, col, x->buf, n0, cur, nwi, &g, d));
                RCL_TRY(rcl_gemm_packed_b(ctx, 0, 1, g.OC, g.CKK, np, 1.0f, tmp, 0, np, col,
                                          n0 ? 1.0f : 0.0f, dw->buf, 0, g.CKK, NULL,
                                          "conv_bwd_weight_gemm"));
            } else {
                RCL_TRY(launch_cols(ctx, 1, col, x->buf, n0, cur, &g, d));
                RCL_TRY(rcl_gemm(ctx, 0, 1, g.OC, g.CKK, np, 1.0f, tmp, 0, np, col, 0, np,
                                 n0 ? 1.0f : 0.0f, dw->buf, 0, g.CKK, "conv_bwd_weight_gemm"));
            }
        }
        if (dx) {
            RCL_TRY(rcl_gemm(ctx, 1, 0, g.CKK, np, g.OC, 1.0f, w->buf, 0, g.CKK, tmp, 0, np, 0.0f,
                             col, 0, np, "conv_bwd_data_gemm"));
            RCL_TRY(launch_cols(ctx, 0, dx->buf, col, n0, cur, &g, d));
        }
    }
    return RCL_OK;
}

int rcl_conv2d_dense_prepare(rcl_ctx *ctx, rcl_tensor *dt, const rcl_tensor *w, int h, int w_in,
                             const rcl_conv2d_desc *d)
{
    if (!dt || !w) return rcl_fail(RCL_ERR_INVALID, "conv2d_dense_prepare: NULL argument");
    const rcl_tensor x = {NULL, 1, w->c, h, w_in}; /* the geometry only */
    conv_geom g;
    RCL_TRY(conv_geometry(ctx, "conv2d_dense_prepare", &x, w, d, &g));
    rcl_conv_shape s = conv_shape(&g, d);
    int nwi = rcl_gemm_const_b_panels(ctx), CQ = g.C * g.H * g.W, OCP = g.OC * g.P;
    if (!conv_dense_pass(ctx, &g, d) || (rcl_conv_dense_identity(&s) && !nwi)) return 0;
    int st;
    if (nwi) { /* packed once for the GEMM: (1, nwi, CQ, panels) */
        RCL_TRY(rcl_tensor_create(ctx, dt, 1, nwi, CQ, (OCP + nwi - 1) / nwi));
        st = rcl_conv_dense_pack_t(ctx, dt->buf, w->buf, nwi, &s);
    } else {
        RCL_TRY(rcl_tensor_create(ctx, dt, 1, 1, CQ, OCP));
        st = rcl_conv_dense_build_t(ctx, dt->buf, w->buf, &s);
    }
    if (st < 0) {
        rcl_tensor_destroy(dt);
        return st;
    }
    return 1;
}

uint64_t rcl_conv2d_dense_bytes(const rcl_ctx *cctx, int c, int h, int w_in, int oc,
                                const rcl_conv2d_desc *d)
{
    rcl_ctx *ctx = (rcl_ctx *)cctx; /* only read: tunables, device */
    if (!d) return 0;
    const rcl_tensor x = {NULL, 1, c, h, w_in}, w = {NULL, oc, c, d->kh, d->kw};
    conv_geom g;
    if (conv_geometry(ctx, "conv2d_dense_bytes", &x, &w, d, &g) < 0) return 0; /* bad sizes */
    rcl_conv2d_desc t; /* its live taps, as eval's fold trims before it prepares */
    int kh0, kw0;
    if (conv_trim(&g, d, &t, &kh0, &kw0)) {
        const rcl_tensor wt = {NULL, oc, c, t.kh, t.kw};
        if (conv_geometry(ctx, "conv2d_dense_bytes", &x, &wt, &t, &g) < 0) return 0;
        d = &t;
    }
    rcl_conv_shape s = conv_shape(&g, d);
    int nwi = rcl_gemm_const_b_panels(ctx);
    if (!conv_dense_pass(ctx, &g, d) || (rcl_conv_dense_identity(&s) && !nwi)) return 0;
    uint64_t cols = nwi ? ((uint64_t)g.OC * g.P + nwi - 1) / nwi * nwi : (uint64_t)g.OC * g.P;
    return (uint64_t)g.C * g.H * g.W * cols * sizeof(float);
}

int rcl_conv2d_forward_dense(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                             const rcl_tensor *dt, const rcl_tensor *b, const rcl_tensor *res,
                             int relu, const rcl_conv2d_desc *d)
{
    if (!y || !x || !dt || !d)
        return rcl_fail(RCL_ERR_INVALID, "conv2d_forward_dense: NULL argument");
    const rcl_tensor w = {NULL, y->c, x->c, d->kh, d->kw}; /* the geometry only */
    conv_geom g;
    RCL_TRY(conv_geometry(ctx, "conv2d_forward_dense", x, &w, d, &g));
    RCL_TRY(bias_ok("conv2d_forward_dense", b, g.OC));
    if (!shape_is(y, g.N, g.OC, g.OH, g.OW) || (res && !shape_is(res, g.N, g.OC, g.OH, g.OW)))
        return rcl_fail(RCL_ERR_INVALID, "conv2d_forward_dense: y and res must be (%d,%d,%d,%d)",
                        g.N, g.OC, g.OH, g.OW);
    int OCP = g.OC * g.P, nwi = dt->c; /* > 1: packed in panels of nwi columns */
    if (dt->n != 1 || dt->h != g.C * g.H * g.W || dt->c < 1 ||
        dt->w != (nwi > 1 ? (OCP + nwi - 1) / nwi : OCP))
        return rcl_fail(RCL_ERR_INVALID,
                        "conv2d_forward_dense: dt (%d,%d,%d,%d) is not the D^T of a %dx%d input "
                        "(rcl_conv2d_dense_prepare)", dt->n, dt->c, dt->h, dt->w, g.H, g.W);
    rcl_conv_shape s = conv_shape(&g, d);
    int epi = (res ? RCL_CONV_EPI_RES : 0) | (relu ? RCL_CONV_EPI_RELU : 0);
    rcl_gemm_conv_out co;
    const rcl_gemm_conv_out *cop = dense_epi(ctx, &co, b, res, epi, &g);
    int st = nwi > 1 ? rcl_conv_dense_forward_packed(ctx, y->buf, x->buf, dt->buf, nwi, &s, cop)
                     : rcl_conv_dense_forward_t(ctx, y->buf, x->buf, dt->buf, &s, cop);
    return st < 0 ? st : st ? RCL_OK : launch_epilogue(ctx, y, b, res, epi, &g);
}

/* dy (N,OC,OH,OW) -> dx (N,C,H,W), dw (OC,C,KH,KW), db (OC,1,1,1); any may be NULL */
int rcl_conv2d_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dw, rcl_tensor *db,
                        const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *w,
                        const rcl_conv2d_desc *d)
{
    return rcl_conv2d_backward_acc(ctx, dx, dw, db, dy, x, w, NULL, d);
}

/* the same, then dx += dx_add: in the data gradient's epilogue where it runs
 * on the direct or Winograd kernels, else by rcl_add after the GEMM path */
int rcl_conv2d_backward_acc(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dw, rcl_tensor *db,
                            const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *w,
                            const rcl_tensor *dx_add, const rcl_conv2d_desc *d)
{
    conv_geom g;
    RCL_TRY(conv_geometry(ctx, "conv2d_backward", x, w, d, &g));
    if (!dy || !shape_is(dy, g.N, g.OC, g.OH, g.OW))
        return rcl_fail(RCL_ERR_INVALID, "conv2d_backward: dy must be (%d,%d,%d,%d)", g.N, g.OC,
                        g.OH, g.OW);
    if (dx) RCL_TRY(rcl_check_same(dx, x, "conv2d_backward dx"));
    if (dx_add) {
        if (!dx)
            return rcl_fail(RCL_ERR_INVALID, "conv2d_backward: dx_add needs dx");
        RCL_TRY(rcl_check_same(dx_add, x, "conv2d_backward dx_add"));
        if (dx_add->buf == dx->buf)
            return rcl_fail(RCL_ERR_INVALID, "conv2d_backward: dx_add must not be dx");
    }
    if (dw) RCL_TRY(rcl_check_same(dw, w, "conv2d_backward dw"));
    RCL_TRY(bias_ok("conv2d_backward db", db, g.OC));
    if (db) RCL_TRY(rcl_bias_grad(ctx, db->buf, dy->buf, g.N, g.OC, g.P));
    if (!dx && !dw) return RCL_OK;
    if (conv_dense_pass(ctx, &g, d)) { /* on the full kernel */
        rcl_conv_shape s = conv_shape(&g, d);
        RCL_TRY(rcl_conv_dense_backward(ctx, dx ? dx->buf : NULL, dw ? dw->buf : NULL, dy->buf,
                                        x->buf, w->buf, &s));
        return dx_add ? rcl_add(ctx, dx, dx, dx_add) : RCL_OK;
    }
    rcl_conv2d_desc t;
    rcl_tensor wt, dwt;
    int kh0, kw0, trim = conv_trim(&g, d, &t, &kh0, &kw0);
    rcl_tensor *dw_full = dw;
    if (trim) {
        RCL_TRY(conv_slice(ctx, w, &t, kh0, kw0, &wt));
        RCL_TRY(conv_geometry(ctx, "conv2d_backward", x, &wt, &t, &g));
        w = &wt;
        d = &t;
        if (dw) { /* the live taps' gradient, compact at the start of dw */
            dwt = (rcl_tensor){dw->buf, wt.n, wt.c, wt.h, wt.w};
            dw = &dwt;
        }
    }
    int dx_direct = dx && conv_direct_pass(ctx, &g, d, RCL_CONV_DX);
    int dw_direct = dw && conv_direct_pass(ctx, &g, d, RCL_CONV_DW);
    int dw_rows = dw && !dw_direct && conv_dw_rows_pass(ctx, &g, d);
    rcl_conv_wino_plan wp;
    int dx_wino = dx && !dx_direct && conv_wino_gemm_pass(ctx, &g, d, RCL_CONV_DX, &wp);
    int dx_img = dx && !dx_direct && !dx_wino && conv_images_pass(ctx, &g, d, RCL_CONV_DX);
    int dx_fused = dx_direct || dx_wino || dx_img; /* dx (dx_add included) by these */
    rcl_conv_shape s = conv_shape(&g, d);
    if (dx_img) { /* dx = W^T dy, dy read in place, dx (+ dx_add) stored by the GEMM */
        rcl_gemm_conv_out co = {g.P, 0, NULL, dx_add ? dx_add->buf : NULL,
                                dx_add ? RCL_CONV_EPI_RES : 0};
        RCL_TRY(rcl_gemm_images_b(ctx, 1, g.C, g.N * g.P, g.OC, 1.0f, w->buf, 0, g.C, dy->buf,
                                  0, g.P, 0.0f, dx->buf, 0, g.N * g.P, &co,
                                  "conv_bwd_data_gemm"));
    }
    if (dw_direct) RCL_TRY(rcl_conv_direct_dw(ctx, dw->buf, dy->buf, x->buf, &s));
    if (dw_rows) RCL_TRY(rcl_conv_dw_rows(ctx, dw->buf, dy->buf, x->buf, &s));
    if (dx_direct)
        RCL_TRY(rcl_conv_direct_dx(ctx, dx->buf, dy->buf, w->buf, dx_add ? dx_add->buf : NULL,
                                   &s));
    if (dx_wino)
        RCL_TRY(rcl_conv_wino_gemm(ctx, dx->buf, dy->buf, w->buf, NULL,
                                   dx_add ? dx_add->buf : NULL, dx_add ? RCL_CONV_EPI_RES : 0, &s,
                                   RCL_CONV_DX, &wp));
    RCL_TRY(conv_backward_gemm(ctx, dx_fused ? NULL : dx, dw_direct || dw_rows ? NULL : dw, dy,
                               x, w, d, &g));
    if (dx_add && !dx_fused) RCL_TRY(rcl_add(ctx, dx, dx, dx_add));
    if (trim && dw) {
        /* compact gradient -> slot CONV_W (the slice is no longer read) ->
         * dw with zeros at the dead taps */
        rcl_tensor tmp = wt;
        RCL_TRY(rcl_tensor_copy(ctx, &tmp, dw));
        RCL_TRY(rcl_conv_taps(ctx, dw_full->buf, wt.buf, wt.n * wt.c, dw_full->h, dw_full->w, kh0,
                              kw0, t.kh, t.kw, 1));
    }
    return RCL_OK;
}

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

int rcl_conv2d_scratch_bytes(const rcl_ctx *cctx, int n, int c, int h, int w, int oc,
                             const rcl_conv2d_desc *d, int train, rcl_conv2d_scratch *out)
{
    rcl_ctx *ctx = (rcl_ctx *)cctx; /* only read: tunables, tune cache, device */
    *out = (rcl_conv2d_scratch){0};
    /* a batch whose tensors reach 2^31 elements cannot run (conv_geometry
     * refuses it); the estimate still wants a number: the scratch at the
     * largest batch that can, which chunking keeps from growing further */
    if (d && n > 0) {
        uint64_t oh = (uint64_t)rcl_conv_out_size(h, d->kh, d->sh, d->ph);
        uint64_t ow = (uint64_t)rcl_conv_out_size(w, d->kw, d->sw, d->pw);
        uint64_t per = (uint64_t)c * h * w > oc * oh * ow ? (uint64_t)c * h * w : oc * oh * ow;
        if (per && per * (uint64_t)n > INT_MAX) n = per > INT_MAX ? 1 : (int)(INT_MAX / per);
    }
    rcl_tensor x = {NULL, n, c, h, w}, wt = {NULL, oc, c, d ? d->kh : 0, d ? d->kw : 0};
    conv_geom g;
    RCL_TRY(conv_geometry(ctx, "conv2d_scratch", &x, &wt, d, &g));
    if (conv_dense_pass(ctx, &g, d)) { /* as rcl_conv_dense_forward / _backward */
        uint64_t Q = (uint64_t)g.H * g.W, db = (uint64_t)g.OC * g.P * g.C * Q * sizeof(float);
        uint64_t xb = (uint64_t)g.N * g.C * Q * sizeof(float);
        uint64_t yb = (uint64_t)g.N * g.OC * g.P * sizeof(float);
        rcl_conv_shape s = conv_shape(&g, d);
        if (!rcl_conv_dense_identity(&s)) {
            out->tmp = db; /* D or D^T */
            if (train) out->col = g.P > 1 ? max64(db, yb) : db; /* dD; dy by pixel */
        } else if (rcl_conv_dense_y_transposed(&s)) {
            out->tmp = yb; /* y^T */
        }
        out->gemm_a = train ? max64(xb, yb) : xb; /* x; dy; dy^T */
        out->gemm_b = train ? max64(db, xb) : db; /* D^T (or w); D; x */
        return RCL_OK;
    }
    rcl_conv2d_desc t;
    int kh0, kw0;
    if (conv_trim(&g, d, &t, &kh0, &kw0)) { /* the slice in slot CONV_W, as conv_slice */
        out->conv_w = (uint64_t)oc * c * t.kh * t.kw * sizeof(float);
        wt = (rcl_tensor){NULL, oc, c, t.kh, t.kw};
        RCL_TRY(conv_geometry(ctx, "conv2d_scratch", &x, &wt, &t, &g));
        d = &t;
    }
    uint64_t wbytes = (uint64_t)g.OC * g.CKK * sizeof(float);
    for (int pass = RCL_CONV_FWD; pass <= (train ? RCL_CONV_DW : RCL_CONV_FWD); pass++) {
        if (g.direct) { /* one GEMM per image on the tensors themselves */
            out->gemm_a = max64(out->gemm_a, wbytes);
            out->gemm_b = max64(out->gemm_b, (uint64_t)g.CKK * g.P * sizeof(float));
            if (pass == RCL_CONV_DW && rcl_conv_dw_swapped(g.N, g.C, g.OC)) /* dW^T */
                out->tmp = max64(out->tmp, wbytes);
            continue;
        }
        if (conv_direct_pass(ctx, &g, d, pass)) { /* as rcl_conv_direct_forward/_dx/_dw */
            rcl_conv_shape s = conv_shape(&g, d);
            rcl_conv_wino_plan wp; /* as rcl_conv_wino_forward/_dx/_dw */
            if (rcl_conv_wino_choose(ctx, &s, pass, &wp)) {
                if (pass != RCL_CONV_DW) { /* the transformed weights; then the tensors */
                    out->tmp = max64(out->tmp, (uint64_t)wp.npos * wp.ci * wp.co * sizeof(float));
                    continue;
                }
                rcl_conv_wino_dw_plan dp; /* its chunks' V and Z, the partial sums */
                rcl_conv_wino_dw_plan_for(ctx, &s, &dp);
                out->col = max64(out->col, dp.col);
                out->tmp = max64(out->tmp, dp.tmp);
                continue;
            }
            rcl_conv_direct_plan pl;
            if (!rcl_conv_direct_plan_for(&s, pass, rcl_conv_direct_vw(ctx),
                                          rcl_tun(ctx, RCL_TUN_CONV_COL_BUDGET_MB),
                                          rcl_ctx_device(ctx)->max_alloc,
                                          (int)rcl_ctx_device(ctx)->compute_units,
                                          rcl_tun(ctx, RCL_TUN_CONV_CHUNK_KB), &pl))
                return rcl_fail(RCL_ERR_UNSUPPORTED, "conv2d_scratch: no direct plan");
            uint64_t M = (uint64_t)g.OC * g.C * g.KH * g.KW;
            out->col = max64(out->col, (uint64_t)pl.nb * (pass == RCL_CONV_DX ? g.OC : g.C) *
                                           pl.hp * pl.wp * sizeof(float));
            if (pass == RCL_CONV_DX) out->tmp = max64(out->tmp, M * sizeof(float));
            if (pass == RCL_CONV_DW) out->tmp = max64(out->tmp, (uint64_t)pl.g * M * sizeof(float));
            continue;
        }
        if (pass == RCL_CONV_DW && conv_dw_rows_pass(ctx, &g, d)) { /* as rcl_conv_dw_rows */
            rcl_conv_shape s = conv_shape(&g, d);
            rcl_conv_dw_rows_plan rp;
            rcl_conv_dw_rows_plan_for(ctx, &s, &rp);
            out->col = max64(out->col, rp.col);
            out->tmp = max64(out->tmp, rp.tmp);
            continue;
        }
        rcl_conv_wino_plan gp; /* as rcl_conv_wino_gemm: V and M, U, the GEMMs' operands */
        if (pass != RCL_CONV_DW && conv_wino_gemm_pass(ctx, &g, d, pass, &gp)) {
            rcl_conv_wino_bytes wb;
            rcl_conv_wino_gemm_scratch(ctx, &gp, &wb);
            out->col = max64(out->col, wb.col);
            out->tmp = max64(out->tmp, wb.tmp);
            out->gemm_a = max64(out->gemm_a, wb.gemm_a);
            out->gemm_b = max64(out->gemm_b, wb.gemm_b);
            continue;
        }
        int nb = 1; /* as conv_chunk_buffers; the GEMMs' operands: col/Y' and W */
        RCL_TRY(conv_chunk(ctx, &g, &nb));
        uint64_t cb = (uint64_t)g.CKK * nb * g.P * sizeof(float);
        uint64_t tb = (uint64_t)g.OC * nb * g.P * sizeof(float);
        uint64_t cols = pass == RCL_CONV_FWD ? (uint64_t)fwd_col_cols(ctx, &g, nb) : 0;
        out->col = max64(out->col, max64(cb, (uint64_t)g.CKK * cols * sizeof(float)));
        if (pass != RCL_CONV_FWD) /* the backward's chunks hold the weight gradient's
                                     panels (conv_backward_gemm), dx alone too */
            out->col = max64(out->col, bwd_col_floats(ctx, &g, nb) * sizeof(float));
        out->tmp = max64(out->tmp, tb);
        out->gemm_b = max64(out->gemm_b, max64(cb, tb));
        out->gemm_a = max64(out->gemm_a, max64(wbytes, tb));
    }
    return RCL_OK;
}
