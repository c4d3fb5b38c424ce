/* BasicBlock: 3x3 conv-BN-ReLU, 3x3 conv-BN, + shortcut, ReLU.
 * Shortcut: identity when shape is kept, else a 1x1 conv + BN projection
 * ("downsample.0/1") or, for the paper's CIFAR nets, option A (subsample +
 * zero channels); plain nets have none.
 *
 *   x ─conv1─t1─bn1,relu─r1─conv2─t2─bn2─┐
 *   └──────── shortcut (x | bn_d(conv_d(x)) | pad(x)) ──(+)─relu─ y       */
#include "model/model_internal.h"

#include <stdlib.h>

typedef struct basic_module {
    rcl_module base;
    conv_layer conv1, conv2, convd;
    rcl_norm_layer bn1, bn2, bnd;
    int proj, opt_a, identity, stride;
    rcl_tensor t1, r1, t2, tp, bp, sp;  /* activations */
    rcl_tensor gs, g1, g2, gx;          /* gradients */
} basic_module;

static int basic_forward(rcl_module *self, rcl_model *m, const rcl_tensor *x, int train)
{
    basic_module *b = (basic_module *)self;
    int n = x->n;
    rcl_tensor t1 = rcl_view_n(&b->t1, n), r1 = rcl_view_n(&b->r1, n), t2 = rcl_view_n(&b->t2, n);
    rcl_tensor tp = rcl_view_n(&b->tp, n), bp = rcl_view_n(&b->bp, n), sp = rcl_view_n(&b->sp, n);
    rcl_tensor y = rcl_view_n(&self->y, n);
    RCL_TRY(rcl_conv_norm_forward(m, &b->conv1, &b->bn1, &t1, &r1, x, NULL, 1, train));
    const rcl_tensor *res = NULL;
    if (b->proj) {
        RCL_TRY(rcl_conv_norm_forward(m, &b->convd, &b->bnd, &tp, &bp, x, NULL, 0, train));
        res = &bp;
    } else if (b->opt_a) {
        RCL_TRY(rcl_shortcut_pad_forward(m->ctx, &sp, x, b->stride));
        res = &sp;
    } else if (b->identity) {
        res = x;
    }
    /* bn2, the shortcut's add and the ReLU in one pass */
    return rcl_conv_norm_forward(m, &b->conv2, &b->bn2, &t2, &y, &r1, res, 1, train);
}

static int basic_backward(rcl_module *self, rcl_model *m, const rcl_tensor *x,
                          const rcl_tensor *dy, rcl_tensor *dx)
{
    basic_module *b = (basic_module *)self;
    int n = x->n;
    rcl_tensor y = rcl_view_n(&self->y, n), t1 = rcl_view_n(&b->t1, n), r1 = rcl_view_n(&b->r1, n),
               t2 = rcl_view_n(&b->t2, n);
    rcl_tensor gs = rcl_view_n(&b->gs, n), g1 = rcl_view_n(&b->g1, n), g2 = rcl_view_n(&b->g2, n);
    /* gs: the gradient at the sum (the shortcut's), written in bn2's pass */
    int shortcut = b->proj || b->opt_a || b->identity;
    RCL_TRY(rcl_norm_layer_backward_relu(m, &b->bn2, &g2, &gs, shortcut, dy, &y, &t2));
    RCL_TRY(rcl_conv_layer_backward(m, &b->conv2, &g1, &g2, &r1));
    RCL_TRY(rcl_norm_layer_backward_relu(m, &b->bn1, &g2, &g1, 0, &g1, &r1, &t1));
    /* the shortcut's gradient first, so that conv1's data gradient adds it
     * as it stores (dx = conv1's + the shortcut's, the same sum as an add) */
    const rcl_tensor *dx_add = NULL;
    rcl_tensor gx = rcl_view_n(&b->gx, n);
    if (b->proj) {
        rcl_tensor tp = rcl_view_n(&b->tp, n);
        RCL_TRY(rcl_norm_layer_backward(m, &b->bnd, &g1, &gs, &tp));
        RCL_TRY(rcl_conv_layer_backward(m, &b->convd, dx ? &gx : NULL, &g1, x));
        dx_add = &gx;
    } else if (b->opt_a) {
        if (dx) RCL_TRY(rcl_shortcut_pad_backward(m->ctx, &gx, &gs, b->stride));
        dx_add = &gx;
    } else if (b->identity) {
        dx_add = &gs;
    }
    RCL_TRY(rcl_conv_layer_backward_acc(m, &b->conv1, dx, &g2, x, dx_add));
    return RCL_OK;
}

static void basic_destroy(rcl_module *self)
{
    basic_module *b = (basic_module *)self;
    rcl_module_free_io(self);
    rcl_norm_layer_free(&b->bn1);
    rcl_norm_layer_free(&b->bn2);
    rcl_norm_layer_free(&b->bnd);
    rcl_conv_layer_free(&b->conv1);
    rcl_conv_layer_free(&b->conv2);
    rcl_conv_layer_free(&b->convd);
    rcl_tensor *ts[] = {&b->t1, &b->r1, &b->t2, &b->tp, &b->bp, &b->sp,
                        &b->gs, &b->g1, &b->g2, &b->gx};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    free(b);
}

static const rcl_module_ops basic_ops = {"basicblock", basic_forward, basic_backward,
                                         basic_destroy};

int rcl_module_basic_create(rcl_model *m, const char *name, int in_c, int planes, int stride,
                        shortcut_kind sc, int in_h, int in_w)
{
    basic_module *b = calloc(1, sizeof *b);
    if (!b) return rcl_fail(RCL_ERR_NOMEM, "module");
    b->base.ops = &basic_ops;
    snprintf(b->base.name, sizeof b->base.name, "%s", name);
    b->stride = stride;
    int oh = rcl_conv_out_size(in_h, 3, stride, 1), ow = rcl_conv_out_size(in_w, 3, stride, 1);
    int reshape = stride != 1 || in_c != planes;
    b->proj = reshape && sc == SHORTCUT_IDENTITY_OR_PROJ;
    b->opt_a = reshape && sc == SHORTCUT_OPTION_A;
    b->identity = !reshape && sc != SHORTCUT_NONE;
    char ln[96];
    int st = RCL_OK;
    if (oh < 1 || ow < 1) st = rcl_fail(RCL_ERR_INVALID, "%s: input %dx%d too small", name, in_h, in_w);
    if (b->opt_a && (planes < in_c || (planes - in_c) % 2))
        st = rcl_fail(RCL_ERR_INVALID, "%s: option-A shortcut %d -> %d channels", name, in_c, planes);
#define SUB(suffix) (snprintf(ln, sizeof ln, "%s." suffix, name), ln)
    if (!st) st = rcl_conv_layer_init(m, &b->conv1, SUB("conv1"), in_c, planes, 3, stride, 1);
    if (!st) st = rcl_norm_layer_init(m, &b->bn1, SUB("bn1"), planes);
    if (!st) st = rcl_conv_layer_init(m, &b->conv2, SUB("conv2"), planes, planes, 3, 1, 1);
    if (!st) st = rcl_norm_layer_init(m, &b->bn2, SUB("bn2"), planes);
    if (!st && b->proj) st = rcl_conv_layer_init(m, &b->convd, SUB("downsample.0"), in_c, planes, 1, stride, 0);
    if (!st && b->proj) st = rcl_norm_layer_init(m, &b->bnd, SUB("downsample.1"), planes);
#undef SUB
    if (!st) st = rcl_module_alloc_io(m, &b->base, planes, oh, ow);
    rcl_tensor *outs[] = {&b->t1, &b->r1, &b->t2, &b->gs, &b->g1, &b->g2};
    for (size_t i = 0; !st && i < sizeof outs / sizeof outs[0]; i++)
        st = rcl_model_tensor(m, outs[i], planes, oh, ow);
    if (!st && b->proj) st = rcl_model_tensor(m, &b->tp, planes, oh, ow);
    if (!st && b->proj) st = rcl_model_tensor(m, &b->bp, planes, oh, ow);
    if (!st && b->opt_a) st = rcl_model_tensor(m, &b->sp, planes, oh, ow);
    if (!st && (b->proj || b->opt_a)) st = rcl_model_tensor(m, &b->gx, in_c, in_h, in_w);
    if (st) {
        basic_destroy(&b->base);
        return st;
    }
    b->base.params = rcl_conv_layer_params(&b->conv1) + rcl_norm_layer_params(&b->bn1) +
                     rcl_conv_layer_params(&b->conv2) + rcl_norm_layer_params(&b->bn2) +
                     rcl_conv_layer_params(&b->convd) + rcl_norm_layer_params(&b->bnd);
    /* torchvision's zero_init_residual: the branch starts as zero (blocks with a shortcut) */
    if (m->cfg.init.zero_init_residual && (b->proj || b->opt_a || b->identity)) {
        int zst = rcl_norm_layer_zero_gamma(m, &b->bn2);
        if (zst) {
            basic_destroy(&b->base);
            return zst;
        }
    }
    b->base.flops = rcl_conv_layer_flops(&b->conv1, oh, ow) + rcl_conv_layer_flops(&b->conv2, oh, ow) +
                    (b->proj ? rcl_conv_layer_flops(&b->convd, oh, ow) : 0);
    return rcl_model_add_module(m, &b->base);
}
