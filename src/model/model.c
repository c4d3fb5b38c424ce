/* Model registry, forward/backward drivers, summary. Architectures are in
 * model_arch.c, modules in module_*.c. */
#include "model/model_internal.h"

#include <stdlib.h>
#include <string.h>

rcl_model_config rcl_model_config_default(void)
{
    rcl_model_config c = {.num_classes = 10, .in_channels = 3, .in_h = 32, .in_w = 32,
                          .batch = 100, .seed = 0, .stride_on = RCL_STRIDE_ON_3X3,
                          .norm = {.kind = RCL_NORM_BN, .groups = 32, .momentum = 0.1f,
                                   .eps = 1e-5f,
                                   .lrn = {.size = 5, .alpha = 1e-4f, .beta = 0.75f, .k = 1.0f},
                                   .brn_r_max = 3.0f, .brn_d_max = 5.0f, .brn_warmup = 5000,
                                   .brn_ramp = 20000},
                          .init = {.scheme = RCL_INIT_DEFAULT}};
    return c;
}

static int grow(void **arr, int n, size_t elem)
{
    void *p = realloc(*arr, (size_t)(n + 1) * elem);
    if (!p) return rcl_fail(RCL_ERR_NOMEM, "model tables");
    *arr = p;
    return RCL_OK;
}

int rcl_model_add_param(rcl_model *m, rcl_param **out, const char *name, int ndim, int n, int c, int h,
                    int w)
{
    RCL_TRY(grow((void **)&m->params, m->nparams, sizeof *m->params));
    rcl_param *p = calloc(1, sizeof *p);
    if (!p) return rcl_fail(RCL_ERR_NOMEM, "param");
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    m->params[m->nparams++] = p;
    RCL_TRY(rcl_tensor_create(m->ctx, &p->value, n, c, h, w));
    RCL_TRY(rcl_tensor_create(m->ctx, &p->grad, n, c, h, w));
    RCL_TRY(rcl_tensor_fill(m->ctx, &p->grad, 0.0f));
    *out = p;
    return RCL_OK;
}

int rcl_model_add_buffer(rcl_model *m, const char *name, rcl_tensor *t)
{
    RCL_TRY(grow((void **)&m->bufs, m->nbufs, sizeof *m->bufs));
    rcl_buffer *b = &m->bufs[m->nbufs++];
    snprintf(b->name, sizeof b->name, "%s", name);
    b->t = t;
    return RCL_OK;
}

int rcl_model_add_counter(rcl_model *m, const char *name, int64_t *v)
{
    RCL_TRY(grow((void **)&m->ctrs, m->nctrs, sizeof *m->ctrs));
    rcl_counter *c = &m->ctrs[m->nctrs++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->value = v;
    return RCL_OK;
}

int rcl_model_add_norm(rcl_model *m, rcl_norm_layer *l)
{
    RCL_TRY(grow((void **)&m->norms, m->nnorms, sizeof *m->norms));
    m->norms[m->nnorms++] = l;
    return RCL_OK;
}

int rcl_model_add_module(rcl_model *m, rcl_module *mod)
{
    int st = grow((void **)&m->mods, m->nmods, sizeof *m->mods);
    if (st != RCL_OK) {
        mod->ops->destroy(mod);
        return st;
    }
    m->mods[m->nmods++] = mod;
    return RCL_OK;
}

int rcl_model_tensor(rcl_model *m, rcl_tensor *t, int c, int h, int w)
{
    return rcl_tensor_create(m->ctx, t, m->cfg.batch, c, h, w);
}

int rcl_module_alloc_io(rcl_model *m, rcl_module *mod, int c, int h, int w)
{
    mod->out_c = c;
    mod->out_h = h;
    mod->out_w = w;
    RCL_TRY(rcl_model_tensor(m, &mod->y, c, h, w));
    return rcl_model_tensor(m, &mod->dy, c, h, w);
}

void rcl_module_free_io(rcl_module *mod)
{
    rcl_tensor_destroy(&mod->y);
    rcl_tensor_destroy(&mod->dy);
}

void rcl_model_out_shape(const rcl_model *m, int *c, int *h, int *w)
{
    if (m->nmods == 0) {
        *c = m->cfg.in_channels, *h = m->cfg.in_h, *w = m->cfg.in_w;
        return;
    }
    const rcl_module *l = m->mods[m->nmods - 1];
    *c = l->out_c, *h = l->out_h, *w = l->out_w;
}

int rcl_model_arch_build(rcl_model *m, const char *arch); /* model_arch.c */

int rcl_model_create(rcl_model **out, rcl_ctx *ctx, const char *arch, const rcl_model_config *cfg)
{
    *out = NULL;
    rcl_model_config c = cfg ? *cfg : rcl_model_config_default();
    if (c.num_classes < 1 || c.in_channels < 1 || c.in_h < 1 || c.in_w < 1 || c.batch < 1)
        return rcl_fail(RCL_ERR_INVALID, "model config: classes %d, input %dx%dx%d, batch %d",
                        c.num_classes, c.in_channels, c.in_h, c.in_w, c.batch);
    const rcl_norm_config *nc = &c.norm;
    if ((unsigned)nc->kind >= RCL_NORM_COUNT || nc->groups < 1 || !(nc->eps > 0) ||
        !(nc->momentum >= 0 && nc->momentum <= 1) || nc->lrn.size < 1 || !(nc->lrn.k > 0) ||
        !(nc->brn_r_max >= 1) || !(nc->brn_d_max >= 0) || nc->brn_warmup < 0 || nc->brn_ramp < 0)
        return rcl_fail(RCL_ERR_INVALID, "model config: normalization kind %d, groups %d, eps %g, "
                        "momentum %g, lrn size %d k %g, brn r_max %g d_max %g warmup %d ramp %d",
                        (int)nc->kind, nc->groups, nc->eps, nc->momentum, nc->lrn.size, nc->lrn.k,
                        nc->brn_r_max, nc->brn_d_max, nc->brn_warmup, nc->brn_ramp);
    if ((unsigned)c.init.scheme >= RCL_INIT_COUNT || c.init.gain < 0)
        return rcl_fail(RCL_ERR_INVALID, "model config: init scheme %d, gain %g", (int)c.init.scheme,
                        c.init.gain);
    rcl_model *m = calloc(1, sizeof *m);
    if (!m) return rcl_fail(RCL_ERR_NOMEM, "model");
    m->ctx = ctx;
    m->cfg = c;
    snprintf(m->arch, sizeof m->arch, "%s", arch);
    rcl_rng_seed(&m->rng, c.seed);
    int st = rcl_model_arch_build(m, arch);
    if (st == RCL_OK) st = rcl_ctx_finish(ctx);
    if (st != RCL_OK) {
        rcl_model_destroy(m);
        return st;
    }
    *out = m;
    return RCL_OK;
}

void rcl_model_destroy(rcl_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->nmods; i++) m->mods[i]->ops->destroy(m->mods[i]);
    for (int i = 0; i < m->nparams; i++) {
        rcl_param *p = m->params[i];
        rcl_tensor_destroy(&p->value);
        rcl_tensor_destroy(&p->grad);
        rcl_tensor_destroy(&p->state[0]);
        rcl_tensor_destroy(&p->state[1]);
        free(p);
    }
    free(m->mods);
    free(m->params);
    free(m->bufs);
    free(m->ctrs);
    free(m->class_names);
    free(m->norms);
    free(m);
}

int rcl_model_forward(rcl_model *m, const rcl_tensor *x, int train, const rcl_tensor **logits)
{
    const rcl_model_config *c = &m->cfg;
    if (x->n < 1 || x->n > c->batch || x->c != c->in_channels || x->h != c->in_h || x->w != c->in_w)
        return rcl_fail(RCL_ERR_INVALID,
                        "model input (%d,%d,%d,%d) does not fit (<=%d,%d,%d,%d)", x->n, x->c, x->h,
                        x->w, c->batch, c->in_channels, c->in_h, c->in_w);
    if (train && x->n < 2 && (c->norm.kind == RCL_NORM_BN || c->norm.kind == RCL_NORM_BRN))
        return rcl_fail(RCL_ERR_INVALID, "training with %s needs a batch of at least 2 (batch "
                        "statistics); use --norm gn, ln, in, lrn, ws or none for a batch of 1",
                        rcl_norm_kind_name(c->norm.kind));
    /* Every module sees the input's n, never the buffers' batch: module i's
     * input is the first n images of module i-1's output. */
    rcl_tensor in = *x;
    for (int i = 0; i < m->nmods; i++) {
        rcl_module *mod = m->mods[i];
        RCL_TRY(mod->ops->forward(mod, m, &in, train));
        in = rcl_view_n(&mod->y, x->n);
    }
    m->x_last = *x;
    m->last_train = train;
    m->logits = in; /* owned by the model: valid until its next forward */
    *logits = &m->logits;
    return RCL_OK;
}

int rcl_model_backward(rcl_model *m, const rcl_tensor *dlogits)
{
    if (!m->last_train || !m->x_last.buf)
        return rcl_fail(RCL_ERR_INVALID, "backward needs a training-mode forward first");
    int n = m->x_last.n;
    rcl_module *last = m->mods[m->nmods - 1];
    if (dlogits->n != n || dlogits->c != last->out_c || dlogits->h != last->out_h ||
        dlogits->w != last->out_w)
        return rcl_fail(RCL_ERR_INVALID, "dlogits shape does not match the last forward");
    for (int i = m->nmods - 1; i >= 0; i--) {
        rcl_module *mod = m->mods[i];
        rcl_tensor x = i > 0 ? rcl_view_n(&m->mods[i - 1]->y, n) : m->x_last;
        rcl_tensor dy = i == m->nmods - 1 ? *dlogits : rcl_view_n(&mod->dy, n);
        rcl_tensor dx;
        if (i > 0) dx = rcl_view_n(&m->mods[i - 1]->dy, n);
        RCL_TRY(mod->ops->backward(mod, m, &x, &dy, i > 0 ? &dx : NULL));
    }
    return RCL_OK;
}

int rcl_model_params(rcl_model *m, rcl_param ***params)
{
    *params = m->params;
    return m->nparams;
}

int rcl_model_buffers(rcl_model *m, rcl_buffer **bufs)
{
    *bufs = m->bufs;
    return m->nbufs;
}

int rcl_model_counters(rcl_model *m, rcl_counter **ctrs)
{
    *ctrs = m->ctrs;
    return m->nctrs;
}

int64_t rcl_model_param_count(const rcl_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->nparams; i++) n += (int64_t)rcl_tensor_count(&m->params[i]->value);
    return n;
}

double rcl_model_flops(const rcl_model *m)
{
    double f = 0;
    for (int i = 0; i < m->nmods; i++) f += m->mods[i]->flops;
    return f;
}

const rcl_model_config *rcl_model_get_config(const rcl_model *m) { return &m->cfg; }
rcl_ctx *rcl_model_ctx(const rcl_model *m) { return m->ctx; }

void rcl_model_summary(const rcl_model *m, FILE *out)
{
    fprintf(out, "%-22s %-12s %-18s %12s %14s\n", "layer", "kind", "output (C,H,W)", "params",
            "MFLOPs/image");
    fprintf(out, "%-22s %-12s (%d,%d,%d)%*s %12s %14s\n", "input", "-", m->cfg.in_channels,
            m->cfg.in_h, m->cfg.in_w, 0, "", "0", "0");
    for (int i = 0; i < m->nmods; i++) {
        const rcl_module *d = m->mods[i];
        char shape[48];
        snprintf(shape, sizeof shape, "(%d,%d,%d)", d->out_c, d->out_h, d->out_w);
        fprintf(out, "%-22s %-12s %-18s %12lld %14.2f\n", d->name, d->ops->kind, shape,
                (long long)d->params, d->flops / 1e6);
    }
    fprintf(out, "total parameters: %lld\n", (long long)rcl_model_param_count(m));
    if (m->cfg.norm.kind == RCL_NORM_GN || m->cfg.norm.kind == RCL_NORM_WS) {
        fprintf(out, "%s groups per layer (requested %d; the largest divisor of C not above it):\n",
                rcl_norm_kind_name(m->cfg.norm.kind), m->cfg.norm.groups);
        for (int i = 0; i < m->nnorms; i++)
            fprintf(out, "  %-24s C %4d  groups %4d\n", m->norms[i]->name, m->norms[i]->c,
                    m->norms[i]->groups);
    }
    fprintf(out, "forward FLOPs per image: %.4g G (2 x multiply-adds of conv and fc layers)\n",
            rcl_model_flops(m) / 1e9);
}
