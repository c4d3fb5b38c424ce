/* Modules without residual structure: the stem (conv-BN-ReLU), max pool,
 * global average pool and the final fully connected layer. */
#include "model/model_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- stem */
typedef struct stem_module {
    rcl_module base;
    conv_layer conv;
    rcl_norm_layer bn;
    rcl_tensor t;   /* conv output */
    rcl_tensor g;   /* grad wrt BN output */
    rcl_tensor gt;  /* grad wrt conv output */
} stem_module;

static int stem_forward(rcl_module *self, rcl_model *m, const rcl_tensor *x, int train)
{
    stem_module *s = (stem_module *)self;
    rcl_tensor t = rcl_view_n(&s->t, x->n), y = rcl_view_n(&self->y, x->n);
    return rcl_conv_norm_forward(m, &s->conv, &s->bn, &t, &y, x, NULL, 1, train);
}

static int stem_backward(rcl_module *self, rcl_model *m, const rcl_tensor *x, const rcl_tensor *dy,
                         rcl_tensor *dx)
{
    stem_module *s = (stem_module *)self;
    int n = x->n;
    rcl_tensor y = rcl_view_n(&self->y, n), t = rcl_view_n(&s->t, n);
    rcl_tensor g = rcl_view_n(&s->g, n), gt = rcl_view_n(&s->gt, n);
    RCL_TRY(rcl_norm_layer_backward_relu(m, &s->bn, &gt, &g, 0, dy, &y, &t));
    return rcl_conv_layer_backward(m, &s->conv, dx, &gt, x);
}

static void stem_destroy(rcl_module *self)
{
    stem_module *s = (stem_module *)self;
    rcl_module_free_io(self);
    rcl_norm_layer_free(&s->bn);
    rcl_conv_layer_free(&s->conv);
    rcl_tensor_destroy(&s->t);
    rcl_tensor_destroy(&s->g);
    rcl_tensor_destroy(&s->gt);
    free(s);
}

static const rcl_module_ops stem_ops = {"conv-bn-relu", stem_forward, stem_backward, stem_destroy};

int rcl_module_stem_create(rcl_model *m, const char *conv_name, const char *bn_name, int in_c,
                       int out_c, int k, int stride, int pad, int in_h, int in_w)
{
    stem_module *s = calloc(1, sizeof *s);
    if (!s) return rcl_fail(RCL_ERR_NOMEM, "module");
    s->base.ops = &stem_ops;
    snprintf(s->base.name, sizeof s->base.name, "%s", conv_name);
    int oh = rcl_conv_out_size(in_h, k, stride, pad), ow = rcl_conv_out_size(in_w, k, stride, pad);
    int st = RCL_OK;
    if (oh < 1 || ow < 1) st = rcl_fail(RCL_ERR_INVALID, "%s: input %dx%d too small", conv_name, in_h, in_w);
    if (!st) st = rcl_conv_layer_init(m, &s->conv, conv_name, in_c, out_c, k, stride, pad);
    if (!st) st = rcl_norm_layer_init(m, &s->bn, bn_name, out_c);
    if (!st) st = rcl_module_alloc_io(m, &s->base, out_c, oh, ow);
    if (!st) st = rcl_model_tensor(m, &s->t, out_c, oh, ow);
    if (!st) st = rcl_model_tensor(m, &s->g, out_c, oh, ow);
    if (!st) st = rcl_model_tensor(m, &s->gt, out_c, oh, ow);
    if (st) {
        stem_destroy(&s->base);
        return st;
    }
    s->base.params = rcl_conv_layer_params(&s->conv) + rcl_norm_layer_params(&s->bn);
    s->base.flops = rcl_conv_layer_flops(&s->conv, oh, ow);
    return rcl_model_add_module(m, &s->base);
}

/* ------------------------------------------------------------- maxpool */
typedef struct maxpool_module {
    rcl_module base;
    rcl_pool_desc d;
    cl_mem idx;
} maxpool_module;

static int maxpool_forward(rcl_module *self, rcl_model *m, const rcl_tensor *x, int train)
{
    (void)train;
    maxpool_module *p = (maxpool_module *)self;
    rcl_tensor y = rcl_view_n(&self->y, x->n);
    return rcl_maxpool2d_forward(m->ctx, &y, p->idx, x, &p->d);
}

static int maxpool_backward(rcl_module *self, rcl_model *m, const rcl_tensor *x,
                            const rcl_tensor *dy, rcl_tensor *dx)
{
    (void)x;
    maxpool_module *p = (maxpool_module *)self;
    if (!dx) return RCL_OK;
    return rcl_maxpool2d_backward(m->ctx, dx, dy, p->idx, &p->d);
}

static void maxpool_destroy(rcl_module *self)
{
    maxpool_module *p = (maxpool_module *)self;
    rcl_module_free_io(self);
    rcl_buffer_release(&p->idx);
    free(p);
}

static const rcl_module_ops maxpool_ops = {"maxpool", maxpool_forward, maxpool_backward,
                                           maxpool_destroy};

int rcl_module_maxpool_create(rcl_model *m, const char *name, int k, int stride, int pad, int c,
                          int in_h, int in_w)
{
    maxpool_module *p = calloc(1, sizeof *p);
    if (!p) return rcl_fail(RCL_ERR_NOMEM, "module");
    p->base.ops = &maxpool_ops;
    snprintf(p->base.name, sizeof p->base.name, "%s", name);
    p->d = (rcl_pool_desc){.k = k, .stride = stride, .pad = pad};
    int oh = rcl_conv_out_size(in_h, k, stride, pad), ow = rcl_conv_out_size(in_w, k, stride, pad);
    int st = RCL_OK;
    if (oh < 1 || ow < 1) st = rcl_fail(RCL_ERR_INVALID, "%s: input %dx%d too small", name, in_h, in_w);
    if (!st) st = rcl_module_alloc_io(m, &p->base, c, oh, ow);
    if (!st) st = rcl_buffer_create(m->ctx, &p->idx, rcl_tensor_count(&p->base.y) * sizeof(cl_int));
    if (st) {
        maxpool_destroy(&p->base);
        return st;
    }
    return rcl_model_add_module(m, &p->base);
}

/* ------------------------------------------------------------- avgpool */
static int avgpool_forward(rcl_module *self, rcl_model *m, const rcl_tensor *x, int train)
{
    (void)train;
    rcl_tensor y = rcl_view_n(&self->y, x->n);
    return rcl_avgpool_global_forward(m->ctx, &y, x);
}

static int avgpool_backward(rcl_module *self, rcl_model *m, const rcl_tensor *x,
                            const rcl_tensor *dy, rcl_tensor *dx)
{
    (void)self;
    (void)x;
    return dx ? rcl_avgpool_global_backward(m->ctx, dx, dy) : RCL_OK;
}

static void avgpool_destroy(rcl_module *self)
{
    rcl_module_free_io(self);
    free(self);
}

static const rcl_module_ops avgpool_ops = {"avgpool", avgpool_forward, avgpool_backward,
                                           avgpool_destroy};

int rcl_module_avgpool_create(rcl_model *m, const char *name, int c, int in_h, int in_w)
{
    (void)in_h;
    (void)in_w;
    rcl_module *a = calloc(1, sizeof *a);
    if (!a) return rcl_fail(RCL_ERR_NOMEM, "module");
    a->ops = &avgpool_ops;
    snprintf(a->name, sizeof a->name, "%s", name);
    int st = rcl_module_alloc_io(m, a, c, 1, 1);
    if (st) {
        avgpool_destroy(a);
        return st;
    }
    return rcl_model_add_module(m, a);
}

/* -------------------------------------------------------------- linear */
typedef struct linear_module {
    rcl_module base;
    rcl_param *w, *b;
} linear_module;

static int linear_forward(rcl_module *self, rcl_model *m, const rcl_tensor *x, int train)
{
    (void)train;
    linear_module *l = (linear_module *)self;
    rcl_tensor y = rcl_view_n(&self->y, x->n);
    return rcl_linear_forward(m->ctx, &y, x, &l->w->value, &l->b->value);
}

static int linear_backward(rcl_module *self, rcl_model *m, const rcl_tensor *x,
                           const rcl_tensor *dy, rcl_tensor *dx)
{
    linear_module *l = (linear_module *)self;
    return rcl_linear_backward(m->ctx, dx, &l->w->grad, &l->b->grad, dy, x, &l->w->value);
}

static void linear_destroy(rcl_module *self)
{
    rcl_module_free_io(self);
    free(self);
}

static const rcl_module_ops linear_ops = {"linear", linear_forward, linear_backward,
                                          linear_destroy};

int rcl_module_linear_create(rcl_model *m, const char *name, int in_features, int out_features)
{
    linear_module *l = calloc(1, sizeof *l);
    if (!l) return rcl_fail(RCL_ERR_NOMEM, "module");
    l->base.ops = &linear_ops;
    snprintf(l->base.name, sizeof l->base.name, "%s", name);
    char pn[96];
    snprintf(pn, sizeof pn, "%s.weight", name);
    int st = rcl_model_add_param(m, &l->w, pn, 2, out_features, in_features, 1, 1);
    snprintf(pn, sizeof pn, "%s.bias", name);
    if (!st) st = rcl_model_add_param(m, &l->b, pn, 1, out_features, 1, 1, 1);
    if (!st) st = rcl_init_linear(m, l->w, l->b); /* weight: m->cfg.init; bias: nn.Linear default */
    if (!st) st = rcl_module_alloc_io(m, &l->base, out_features, 1, 1);
    if (st) {
        linear_destroy(&l->base);
        return st;
    }
    l->base.params = (int64_t)out_features * in_features + out_features;
    l->base.flops = 2.0 * out_features * in_features;
    return rcl_model_add_module(m, &l->base);
}
