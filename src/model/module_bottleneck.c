/* Bottleneck (expansion 4): 1x1 conv-BN-ReLU (width), 3x3 conv-BN-ReLU,
 * 1x1 conv-BN (4*width), + shortcut, ReLU. Stride sits on the 3x3
 * (torchvision v1.5, default) or on the first 1x1 (the paper, v1).
 *
 *   x ─c1─t1─bn1,relu─r1─c2─t2─bn2,relu─r2─c3─t3─bn3─┐
 *   └──────── shortcut (x | bn_d(conv_d(x))) ─────────(+)─relu─ y     */
#include "model/model_internal.h"

#include <stdlib.h>

typedef struct bottleneck_module {
    rcl_module base;
    conv_layer c1, c2, c3, cd;
    rcl_norm_layer b1, b2, b3, bd;
    int proj, identity;
    rcl_tensor t1, r1, t2, r2, t3, tp, bp;   /* activations */
    rcl_tensor gs, g3, gb, gb2, ga, ga2, gx; /* gradients */
} bottleneck_module;

#define V(field) rcl_tensor field = rcl_view_n(&b->field, n)

static int bottleneck_forward(rcl_module *self, rcl_model *m, const rcl_tensor *x, int train)
{
    bottleneck_module *b = (bottleneck_module *)self;
    int n = x->n;
    V(t1); V(r1); V(t2); V(r2); V(t3); V(tp); V(bp);
    rcl_tensor y = rcl_view_n(&self->y, n);
    RCL_TRY(rcl_conv_norm_forward(m, &b->c1, &b->b1, &t1, &r1, x, NULL, 1, train));
    RCL_TRY(rcl_conv_norm_forward(m, &b->c2, &b->b2, &t2, &r2, &r1, NULL, 1, train));
    const rcl_tensor *res = NULL;
    if (b->proj) {
        RCL_TRY(rcl_conv_norm_forward(m, &b->cd, &b->bd, &tp, &bp, x, NULL, 0, train));
        res = &bp;
    } else if (b->identity) {
        res = x;
    }
    /* bn3, the shortcut's add and the ReLU in one pass */
    return rcl_conv_norm_forward(m, &b->c3, &b->b3, &t3, &y, &r2, res, 1, train);
}

static int bottleneck_backward(rcl_module *self, rcl_model *m, const rcl_tensor *x,
                               const rcl_tensor *dy, rcl_tensor *dx)
{
    bottleneck_module *b = (bottleneck_module *)self;
    int n = x->n;
    V(t1); V(r1); V(t2); V(r2); V(t3);
    V(gs); V(g3); V(gb); V(gb2); V(ga); V(ga2);
    rcl_tensor y = rcl_view_n(&self->y, n);
    /* gs: the gradient at the sum (the shortcut's), written in bn3's pass */
    RCL_TRY(rcl_norm_layer_backward_relu(m, &b->b3, &g3, &gs, b->proj || b->identity, dy, &y, &t3));
    RCL_TRY(rcl_conv_layer_backward(m, &b->c3, &gb, &g3, &r2));
    RCL_TRY(rcl_norm_layer_backward_relu(m, &b->b2, &gb2, &gb, 0, &gb, &r2, &t2));
    RCL_TRY(rcl_conv_layer_backward(m, &b->c2, &ga, &gb2, &r1));
    RCL_TRY(rcl_norm_layer_backward_relu(m, &b->b1, &ga2, &ga, 0, &ga, &r1, &t1));
    /* the shortcut's gradient first, added by c1's data gradient (as it
     * stores where its kernels allow, else by an add: the same sum) */
    const rcl_tensor *dx_add = NULL;
    V(gx);
    if (b->proj) {
        V(tp);
        RCL_TRY(rcl_norm_layer_backward(m, &b->bd, &g3, &gs, &tp));
        RCL_TRY(rcl_conv_layer_backward(m, &b->cd, dx ? &gx : NULL, &g3, x));
        dx_add = &gx;
    } else if (b->identity) {
        dx_add = &gs;
    }
    return rcl_conv_layer_backward_acc(m, &b->c1, dx, &ga2, x, dx_add);
}
#undef V

static void bottleneck_destroy(rcl_module *self)
{
    bottleneck_module *b = (bottleneck_module *)self;
    rcl_module_free_io(self);
    rcl_norm_layer *bns[] = {&b->b1, &b->b2, &b->b3, &b->bd};
    for (int i = 0; i < 4; i++) rcl_norm_layer_free(bns[i]);
    conv_layer *cs[] = {&b->c1, &b->c2, &b->c3, &b->cd};
    for (int i = 0; i < 4; i++) rcl_conv_layer_free(cs[i]);
    rcl_tensor *ts[] = {&b->t1, &b->r1, &b->t2, &b->r2, &b->t3, &b->tp, &b->bp,
                        &b->gs, &b->g3, &b->gb, &b->gb2, &b->ga, &b->ga2, &b->gx};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
    free(b);
}

static const rcl_module_ops bottleneck_ops = {"bottleneck", bottleneck_forward,
                                              bottleneck_backward, bottleneck_destroy};

int rcl_module_bottleneck_create(rcl_model *m, const char *name, int in_c, int planes, int stride,
                             shortcut_kind sc, rcl_stride_on stride_on, int in_h, int in_w)
{
    bottleneck_module *b = calloc(1, sizeof *b);
    if (!b) return rcl_fail(RCL_ERR_NOMEM, "module");
    b->base.ops = &bottleneck_ops;
    snprintf(b->base.name, sizeof b->base.name, "%s", name);
    int width = planes, out_c = planes * 4;
    int s1 = stride_on == RCL_STRIDE_ON_1X1 ? stride : 1;
    int s2 = stride_on == RCL_STRIDE_ON_1X1 ? 1 : stride;
    int h1 = rcl_conv_out_size(in_h, 1, s1, 0), w1 = rcl_conv_out_size(in_w, 1, s1, 0);
    int oh = rcl_conv_out_size(h1, 3, s2, 1), ow = rcl_conv_out_size(w1, 3, s2, 1);
    int reshape = stride != 1 || in_c != out_c;
    b->proj = reshape && sc != SHORTCUT_NONE;
    b->identity = !reshape && sc != SHORTCUT_NONE;
    char ln[96];
    int st = RCL_OK;
    if (oh < 1 || ow < 1) st = rcl_fail(RCL_ERR_INVALID, "%s: input %dx%d too small", name, in_h, in_w);
#define SUB(suffix) (snprintf(ln, sizeof ln, "%s." suffix, name), ln)
    if (!st) st = rcl_conv_layer_init(m, &b->c1, SUB("conv1"), in_c, width, 1, s1, 0);
    if (!st) st = rcl_norm_layer_init(m, &b->b1, SUB("bn1"), width);
    if (!st) st = rcl_conv_layer_init(m, &b->c2, SUB("conv2"), width, width, 3, s2, 1);
    if (!st) st = rcl_norm_layer_init(m, &b->b2, SUB("bn2"), width);
    if (!st) st = rcl_conv_layer_init(m, &b->c3, SUB("conv3"), width, out_c, 1, 1, 0);
    if (!st) st = rcl_norm_layer_init(m, &b->b3, SUB("bn3"), out_c);
    if (!st && b->proj) st = rcl_conv_layer_init(m, &b->cd, SUB("downsample.0"), in_c, out_c, 1, stride, 0);
    if (!st && b->proj) st = rcl_norm_layer_init(m, &b->bd, SUB("downsample.1"), out_c);
#undef SUB
    if (!st) st = rcl_module_alloc_io(m, &b->base, out_c, oh, ow);
    if (!st) st = rcl_model_tensor(m, &b->t1, width, h1, w1);
    if (!st) st = rcl_model_tensor(m, &b->r1, width, h1, w1);
    if (!st) st = rcl_model_tensor(m, &b->ga, width, h1, w1);
    if (!st) st = rcl_model_tensor(m, &b->ga2, width, h1, w1);
    if (!st) st = rcl_model_tensor(m, &b->t2, width, oh, ow);
    if (!st) st = rcl_model_tensor(m, &b->r2, width, oh, ow);
    if (!st) st = rcl_model_tensor(m, &b->gb, width, oh, ow);
    if (!st) st = rcl_model_tensor(m, &b->gb2, width, oh, ow);
    if (!st) st = rcl_model_tensor(m, &b->t3, out_c, oh, ow);
    if (!st) st = rcl_model_tensor(m, &b->gs, out_c, oh, ow);
    if (!st) st = rcl_model_tensor(m, &b->g3, out_c, oh, ow);
    if (!st && b->proj) st = rcl_model_tensor(m, &b->tp, out_c, oh, ow);
    if (!st && b->proj) st = rcl_model_tensor(m, &b->bp, out_c, oh, ow);
    if (!st && b->proj) st = rcl_model_tensor(m, &b->gx, in_c, in_h, in_w);
    if (st) {
        bottleneck_destroy(&b->base);
        return st;
    }
    b->base.params = rcl_conv_layer_params(&b->c1) + rcl_norm_layer_params(&b->b1) +
                     rcl_conv_layer_params(&b->c2) + rcl_norm_layer_params(&b->b2) +
                     rcl_conv_layer_params(&b->c3) + rcl_norm_layer_params(&b->b3) +
                     rcl_conv_layer_params(&b->cd) + rcl_norm_layer_params(&b->bd);
    /* torchvision's zero_init_residual: the branch starts as zero (blocks with a shortcut) */
    if (m->cfg.init.zero_init_residual && (b->proj || b->identity)) {
        int zst = rcl_norm_layer_zero_gamma(m, &b->b3);
        if (zst) {
            bottleneck_destroy(&b->base);
            return zst;
        }
    }
    b->base.flops = rcl_conv_layer_flops(&b->c1, h1, w1) + rcl_conv_layer_flops(&b->c2, oh, ow) +
                    rcl_conv_layer_flops(&b->c3, oh, ow) + (b->proj ? rcl_conv_layer_flops(&b->cd, oh, ow) : 0);
    return rcl_model_add_module(m, &b->base);
}
