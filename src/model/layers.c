/* The conv layer used inside modules: parameters registered under
 * torchvision names, forward/backward over explicit tensors. (The norm that
 * follows it: norm_layer.c.) */
#include "model/model_internal.h"

#include <stdio.h>
#include <string.h>

int rcl_conv_layer_init(rcl_model *m, conv_layer *l, const char *name, int in_c, int out_c, int k,
                        int stride, int pad)
{
    char pname[96];
    memset(l, 0, sizeof *l);
    l->d = (rcl_conv2d_desc){.kh = k, .kw = k, .sh = stride, .sw = stride, .ph = pad, .pw = pad};
    l->in_c = in_c;
    l->out_c = out_c;
    RCL_TRY(rcl_model_note_conv(m, name, in_c, out_c, k, stride, pad));
    snprintf(pname, sizeof pname, "%s.weight", name);
    RCL_TRY(rcl_model_add_param(m, &l->w, pname, 4, out_c, in_c, k, k));
    RCL_TRY(rcl_init_conv_weight(m, l->w));
    if (m->cfg.norm.kind == RCL_NORM_NONE) {
        /* nn.Conv2d's default bias: U(+-1/sqrt(fan_in)) */
        snprintf(pname, sizeof pname, "%s.bias", name);
        RCL_TRY(rcl_model_add_param(m, &l->b, pname, 1, out_c, 1, 1, 1));
        RCL_TRY(rcl_init_uniform_fan_in(m, l->b, in_c * k * k));
    }
    if (m->cfg.norm.kind == RCL_NORM_WS) {
        if (in_c * k * k < 2)
            return rcl_fail(RCL_ERR_INVALID, "%s: weight standardization needs >= 2 weights per "
                            "output channel", name);
        l->ws = 1;
        RCL_TRY(rcl_tensor_create(m->ctx, &l->w_hat, out_c, in_c, k, k));
        RCL_TRY(rcl_tensor_create(m->ctx, &l->dw_hat, out_c, in_c, k, k));
        RCL_TRY(rcl_tensor_create(m->ctx, &l->ws_mean, out_c, 1, 1, 1));
        RCL_TRY(rcl_tensor_create(m->ctx, &l->ws_std, out_c, 1, 1, 1));
    }
    return RCL_OK;
}

int rcl_conv_layer_forward(rcl_model *m, conv_layer *l, rcl_tensor *y, const rcl_tensor *x)
{
    const rcl_tensor *w = &l->w->value;
    if (l->ws) {
        RCL_TRY(rcl_weight_std_forward(m->ctx, &l->w_hat, &l->ws_mean, &l->ws_std, w,
                                       m->cfg.norm.eps));
        w = &l->w_hat;
    }
    return rcl_conv2d_forward(m->ctx, y, x, w, l->b ? &l->b->value : NULL, &l->d);
}

int rcl_conv_layer_backward(rcl_model *m, conv_layer *l, rcl_tensor *dx, const rcl_tensor *dy,
                            const rcl_tensor *x)
{
    return rcl_conv_layer_backward_acc(m, l, dx, dy, x, NULL);
}

int rcl_conv_layer_backward_acc(rcl_model *m, conv_layer *l, rcl_tensor *dx, const rcl_tensor *dy,
                                const rcl_tensor *x, const rcl_tensor *dx_add)
{
    rcl_tensor *db = l->b ? &l->b->grad : NULL;
    if (!dx) dx_add = NULL;
    if (!l->ws)
        return rcl_conv2d_backward_acc(m->ctx, dx, &l->w->grad, db, dy, x, &l->w->value, dx_add,
                                       &l->d);
    RCL_TRY(rcl_conv2d_backward_acc(m->ctx, dx, &l->dw_hat, db, dy, x, &l->w_hat, dx_add, &l->d));
    return rcl_weight_std_backward(m->ctx, &l->w->grad, &l->dw_hat, &l->w_hat, &l->ws_std,
                                   m->cfg.norm.eps);
}

/* Remake the folded weights of c (followed by the BN l) for h x w inputs
 * when stale: the full fold, then its live taps alone where some read only
 * padding on this input (so the folded conv slices nothing per call), and
 * its D^T where it runs dense there (so it builds no D per call). */
static int conv_fold(rcl_model *m, conv_layer *c, rcl_norm_layer *l, int h, int w_in)
{
    if (c->fold_gen == m->fold_gen && c->wf.buf && c->fold_h == h && c->fold_w == w_in)
        return RCL_OK;
    const rcl_tensor *w = &c->w->value;
    if (c->wf.buf && (c->wf.h != w->h || c->wf.w != w->w))
        rcl_tensor_destroy(&c->wf); /* the live taps of an earlier fold */
    if (!c->wf.buf) RCL_TRY(rcl_tensor_create(m->ctx, &c->wf, w->n, w->c, w->h, w->w));
    if (!c->bf.buf) RCL_TRY(rcl_tensor_create(m->ctx, &c->bf, w->n, 1, 1, 1));
    RCL_TRY(rcl_batchnorm_fold(m->ctx, &c->wf, &c->bf, w, &l->gamma->value, &l->beta->value,
                               &l->running_mean, &l->running_var, m->cfg.norm.eps));
    rcl_tensor live;
    int st = rcl_conv2d_trim(m->ctx, &live, &c->fd, &c->wf, h, w_in, &c->d);
    if (st < 0) return st;
    if (st == 1) {
        rcl_tensor_destroy(&c->wf);
        c->wf = live;
    }
    rcl_tensor_destroy(&c->dt);
    st = rcl_conv2d_dense_prepare(m->ctx, &c->dt, &c->wf, h, w_in, &c->fd);
    if (st < 0) return st;
    c->fold_gen = m->fold_gen, c->fold_h = h, c->fold_w = w_in;
    return RCL_OK;
}

int rcl_conv_norm_forward(rcl_model *m, conv_layer *c, rcl_norm_layer *l, rcl_tensor *t,
                          rcl_tensor *y, const rcl_tensor *x, const rcl_tensor *res, int relu,
                          int train)
{
    int fold = !train && m->fold_bn && !c->ws && !c->b &&
               (l->kind == RCL_NORM_BN || l->kind == RCL_NORM_BRN);
    if (fold) {
        RCL_TRY(conv_fold(m, c, l, x->h, x->w));
        if (c->dt.buf)
            return rcl_conv2d_forward_dense(m->ctx, y, x, &c->dt, &c->bf, res, relu, &c->fd);
        return rcl_conv2d_forward_fused(m->ctx, y, x, &c->wf, &c->bf, res, relu, &c->fd);
    }
    RCL_TRY(rcl_conv_layer_forward(m, c, t, x));
    if (relu) return rcl_norm_layer_forward_relu(m, l, y, t, res, train);
    RCL_TRY(rcl_norm_layer_forward(m, l, y, t, train));
    return res ? rcl_add(m->ctx, y, y, res) : RCL_OK;
}

double rcl_conv_layer_flops(const conv_layer *l, int out_h, int out_w)
{
    return 2.0 * l->out_c * out_h * out_w * (double)l->in_c * l->d.kh * l->d.kw;
}

int64_t rcl_conv_layer_params(const conv_layer *l)
{
    return (int64_t)l->out_c * l->in_c * l->d.kh * l->d.kw + (l->b ? l->out_c : 0);
}

void rcl_conv_layer_free(conv_layer *l)
{
    rcl_tensor_destroy(&l->wf);
    rcl_tensor_destroy(&l->bf);
    rcl_tensor_destroy(&l->dt);
    rcl_tensor_destroy(&l->w_hat);
    rcl_tensor_destroy(&l->dw_hat);
    rcl_tensor_destroy(&l->ws_mean);
    rcl_tensor_destroy(&l->ws_std);
}
