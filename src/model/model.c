/* Model registry, forward/backward drivers, summary. Architectures are in
 * model_arch.c, modules in module_*.c. */
#include "model/model_internal.h"

#include "gemm/gemm_internal.h" /* RCL_GEMM_TILED */
#include "rcl/ops.h" /* rcl_conv2d_scratch_bytes */

#include <limits.h>
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
    mod->param_hi = m->nparams;
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
        !(nc->momentum >= 0 && nc->momentum <= 1) || nc->lrn.size < 1 ||
        nc->lrn.size > RCL_LRN_MAX_SIZE || !(nc->lrn.k > 0) ||
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
    m->fold_bn = 1;
    m->fold_gen = 1;
    m->bn_recompute_k = -1;
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
    free(m->bn_saved_tracked);
    for (int i = 0; i < m->nmods; i++) m->mods[i]->ops->destroy(m->mods[i]);
    for (int i = 0; i < m->nparams; i++) {
        rcl_param *p = m->params[i];
        rcl_tensor_destroy(&p->value);
        rcl_tensor_destroy(&p->grad);
        rcl_tensor_destroy(&p->state[0]);
        rcl_tensor_destroy(&p->state[1]);
        free(p);
    }
    for (int i = 0; i < 4; i++) rcl_buffer_release(&m->flat[i]);
    free(m->flat_off);
    free(m->mods);
    free(m->params);
    free(m->bufs);
    free(m->ctrs);
    free(m->class_names);
    free(m->input_mean);
    free(m->norms);
    free(m->convs);
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
    if (train) rcl_model_fold_invalidate(m); /* BN running statistics move */
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
        if (m->grad_hook) RCL_TRY(m->grad_hook(m->grad_hook_user, i > 0 ? m->mods[i - 1]->param_hi : 0));
    }
    return RCL_OK;
}

/* Sub-buffer origins must be multiples of the device's base address
 * alignment (bits): the same in floats, at least 1. */
static size_t flat_align(const rcl_ctx *ctx)
{
    cl_uint bits = 0;
    if (clGetDeviceInfo(ctx->dev.device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof bits, &bits, NULL) !=
            CL_SUCCESS || bits < 32)
        bits = 4096; /* the largest any driver asks for that we know of */
    return bits / 32;
}

/* The tensor of kind `slot` (0 value, 1 grad, 2.. state) of parameter p. */
static rcl_tensor *slot_tensor(rcl_param *p, int slot)
{
    return slot == 0 ? &p->value : slot == 1 ? &p->grad : &p->state[slot - 2];
}

/* Move one kind into a flat buffer: each tensor in turn becomes a view of
 * it at its offset, its contents copied over on the device and its own
 * buffer released (every tensor stays valid, also after an error). The
 * queue is drained at the end, so the released buffers are gone before the
 * next kind: the device holds at most one extra copy of one kind, while
 * the optimizer starts, before its state exists (memory_at). */
static int flatten_slot(rcl_model *m, int slot)
{
    rcl_ctx *ctx = m->ctx;
    rcl_tensor flat = {NULL, 0, 0, 0, 0};
    RCL_TRY(rcl_tensor_create(ctx, &flat, (int)m->flat_count, 1, 1, 1));
    int st = rcl_tensor_fill(ctx, &flat, 0.0f);
    for (int i = 0; st == RCL_OK && i < m->nparams; i++) {
        rcl_tensor *t = slot_tensor(m->params[i], slot);
        const rcl_tensor *v = &m->params[i]->value;
        cl_buffer_region r = {m->flat_off[i] * sizeof(float), rcl_t_count(v) * sizeof(float)};
        cl_int e = CL_SUCCESS;
        cl_mem sub = clCreateSubBuffer(flat.buf, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION,
                                       &r, &e);
        if (e != CL_SUCCESS) {
            st = rcl_cl_fail(e, "clCreateSubBuffer (flat parameters)");
            break;
        }
        rcl_tensor view = {sub, v->n, v->c, v->h, v->w};
        if (t->buf) st = rcl_tensor_copy(ctx, &view, t);
        if (st != RCL_OK) {
            rcl_buffer_release(&sub);
            break;
        }
        rcl_tensor_destroy(t);
        *t = view;
    }
    if (st == RCL_OK) st = rcl_ctx_finish(ctx);
    if (st == RCL_OK) m->flat[slot] = flat.buf;
    else rcl_tensor_destroy(&flat); /* freed once the views made so far are */
    return st;
}

int rcl_model_flatten(rcl_model *m, int nstate)
{
    rcl_ctx *ctx = m->ctx;
    if (ctx->counting || m->nparams == 0) return RCL_OK;
    if (nstate < 0 || nstate > 2) return rcl_fail(RCL_ERR_INVALID, "flatten: %d state tensors", nstate);
    if (!m->flat_off) {
        size_t *off = calloc((size_t)m->nparams, sizeof *off);
        if (!off) return rcl_fail(RCL_ERR_NOMEM, "flat parameters");
        size_t a = flat_align(ctx), n = 0;
        for (int i = 0; i < m->nparams; i++) {
            off[i] = n;
            n += (rcl_tensor_count(&m->params[i]->value) + a - 1) / a * a;
        }
        if (n > (size_t)INT_MAX ||
            (ctx->dev.max_alloc && (uint64_t)n * sizeof(float) > ctx->dev.max_alloc)) {
            free(off);
            return rcl_fail(RCL_ERR_DEVICE_NOMEM, "flat parameters: %zu floats exceed the largest "
                            "allocation", n);
        }
        m->flat_off = off;
        m->flat_count = n;
    }
    for (int slot = 0; slot < 2 + nstate; slot++)
        if (!m->flat[slot]) RCL_TRY(flatten_slot(m, slot));
    return RCL_OK;
}

void rcl_model_fold_invalidate(rcl_model *m) { m->fold_gen++; }

void rcl_model_set_fold_bn(rcl_model *m, int on) { m->fold_bn = on != 0; }

int rcl_model_bn_recompute_begin(rcl_model *m)
{
    if (!m) return rcl_fail(RCL_ERR_INVALID, "rcl_model_bn_recompute_begin: NULL model");
    if (m->cfg.norm.kind != RCL_NORM_BN)
        return rcl_fail(RCL_ERR_UNSUPPORTED,
                        "the model has no BatchNorm layers to recompute (its normalization is %s)",
                        rcl_norm_kind_name(m->cfg.norm.kind));
    if (m->bn_recompute_k >= 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_model_bn_recompute_begin: already begun");
    free(m->bn_saved_tracked);
    m->bn_saved_tracked = malloc(sizeof(int64_t) * (size_t)(m->nnorms ? m->nnorms : 1));
    if (!m->bn_saved_tracked) return rcl_fail(RCL_ERR_NOMEM, "recompute-bn: out of memory");
    for (int i = 0; i < m->nnorms; i++) {
        rcl_norm_layer *l = m->norms[i];
        m->bn_saved_tracked[i] = l->num_batches_tracked;
        RCL_TRY(rcl_init_constant(m, &l->running_mean, 0.0f));
        RCL_TRY(rcl_init_constant(m, &l->running_var, 1.0f));
    }
    rcl_model_fold_invalidate(m);
    m->bn_saved_momentum = m->cfg.norm.momentum;
    m->bn_recompute_k = 0;
    return RCL_OK;
}

int rcl_model_bn_recompute_step(rcl_model *m, const rcl_tensor *x)
{
    if (!m || !x || m->bn_recompute_k < 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_model_bn_recompute_step: call begin first");
    /* running = (1 - 1/k) running + (1/k) batch: the mean of the k batches */
    m->cfg.norm.momentum = (float)(1.0 / (double)(m->bn_recompute_k + 1));
    const rcl_tensor *logits;
    int st = rcl_model_forward(m, x, 1, &logits);
    m->cfg.norm.momentum = m->bn_saved_momentum;
    if (st == RCL_OK) m->bn_recompute_k++;
    return st;
}

int rcl_model_bn_recompute_end(rcl_model *m)
{
    if (!m || m->bn_recompute_k < 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_model_bn_recompute_end: call begin first");
    for (int i = 0; i < m->nnorms; i++) m->norms[i]->num_batches_tracked = m->bn_saved_tracked[i];
    free(m->bn_saved_tracked);
    m->bn_saved_tracked = NULL;
    m->bn_recompute_k = -1;
    rcl_model_fold_invalidate(m);
    return RCL_OK;
}

void rcl_model_set_grad_hook(rcl_model *m, rcl_grad_hook hook, void *user)
{
    m->grad_hook = hook;
    m->grad_hook_user = user;
}

void rcl_model_set_bn_reducer(rcl_model *m, rcl_bn_reduce_fn reduce, void *user)
{
    m->bn_reduce = reduce;
    m->bn_reduce_user = user;
}

/* Whoever takes the parameters or buffers may write them (the optimizer,
 * checkpoint loading): the folded eval weights are remade before their next
 * use. */
int rcl_model_params(rcl_model *m, rcl_param ***params)
{
    rcl_model_fold_invalidate(m);
    *params = m->params;
    return m->nparams;
}

int rcl_model_buffers(rcl_model *m, rcl_buffer **bufs)
{
    rcl_model_fold_invalidate(m);
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

/* ---- memory estimate */

int rcl_model_note_conv(rcl_model *m, const char *name, int in_c, int out_c, int k, int stride,
                        int pad)
{
    RCL_TRY(grow((void **)&m->convs, m->nconvs, sizeof *m->convs));
    m->convs[m->nconvs++] = (rcl_conv_note){.c = in_c, .oc = out_c, .k = k, .stride = stride,
                                            .pad = pad, .mod = m->nmods,
                                            .downsample = strstr(name, "downsample") != NULL};
    return RCL_OK;
}

/* A conv layer's shape for the scratch formula. */
typedef struct conv_shape {
    int c, h, w, oc, k, stride, pad; /* input channels and size, outputs, kernel */
    int ckk, p;                      /* c*k*k, output pixels */
} conv_shape;

/* What the estimate needs of a model, from builds at batch 1 and 2: bytes =
 * fixed + per_image * batch, plus the scratch formula over the conv shapes. */
typedef struct mem_profile {
    uint64_t params, fixed, per_image; /* activations */
    uint64_t largest1, largest2;       /* the largest buffer at batch 1 and 2 */
    conv_shape *convs;
    int nconvs;
    int max_c;            /* channels of the widest norm layer */
    int max_groups;       /* groups of the group-norm kinds (batch x groups partial sums) */
    int norm_kind;
    int in_c, in_h, in_w, classes;
    uint64_t max_alloc;
    int gemm_tiled;       /* the context sends some GEMMs to the tiled kernel (tune cache) */
    const rcl_ctx *ctx;   /* its tunables and tune cache choose each conv's path */
} mem_profile;

/* Does ctx send any GEMM to the tiled kernel (which packs operands into the
 * context's GEMM scratch)? Its default path (CPU-like devices) or a tune
 * cache; CLBlast's own temporary buffers are not ours to count. */
static int uses_tiled_gemm(const rcl_ctx *ctx)
{
    if (!ctx) return 0;
    if (rcl_tun(ctx, RCL_TUN_GEMM_DEFAULT_PATH) == RCL_GEMM_TILED) return 1;
    for (int i = 0; i < ctx->nparams; i++)
        if (!strcmp(ctx->params[i].param, "PATH") && ctx->params[i].value == RCL_GEMM_TILED)
            return 1;
    return 0;
}

/* Build `arch` at `batch` on a counting context: its activation bytes (all
 * but params and grads), and the conv shapes (prof->convs, when wanted). */
static int count_build(const rcl_ctx *like, const char *arch, const rcl_model_config *cfg, int batch,
                       uint64_t *act, uint64_t *largest, mem_profile *prof)
{
    rcl_ctx *cc = NULL;
    RCL_TRY(rcl_ctx_create_counting(&cc, like));
    rcl_model_config c = *cfg;
    c.batch = batch;
    rcl_model *m = NULL;
    int st = rcl_model_create(&m, cc, arch, &c);
    if (st == RCL_OK) {
        uint64_t pv = 0;
        for (int i = 0; i < m->nparams; i++) pv += rcl_tensor_bytes(&m->params[i]->value);
        *act = cc->counted_bytes - 2 * pv;
        *largest = cc->counted_largest;
        if (prof) {
            prof->params = pv;
            for (int i = 0; i < m->nnorms; i++) {
                if (m->norms[i]->c > prof->max_c) prof->max_c = m->norms[i]->c;
                if (m->norms[i]->groups > prof->max_groups) prof->max_groups = m->norms[i]->groups;
            }
            prof->convs = calloc((size_t)m->nconvs + 1, sizeof *prof->convs);
            if (!prof->convs) st = rcl_fail(RCL_ERR_NOMEM, "memory estimate");
            /* each conv's input resolution: a module's first conv (and its
             * shortcut projection) reads the module's input, every other
             * conv the previous conv's output */
            int mod = -1, in_h = 0, in_w = 0, cur_h = 0, cur_w = 0;
            for (int i = 0; st == RCL_OK && i < m->nconvs; i++) {
                const rcl_conv_note *n = &m->convs[i];
                if (n->mod != mod) {
                    mod = n->mod;
                    if (mod == 0 || mod > m->nmods) in_h = c.in_h, in_w = c.in_w;
                    else in_h = m->mods[mod - 1]->out_h, in_w = m->mods[mod - 1]->out_w;
                    cur_h = in_h, cur_w = in_w;
                }
                int h = n->downsample ? in_h : cur_h, w = n->downsample ? in_w : cur_w;
                int oh = rcl_conv_out_size(h, n->k, n->stride, n->pad);
                int ow = rcl_conv_out_size(w, n->k, n->stride, n->pad);
                if (!n->downsample) cur_h = oh, cur_w = ow;
                prof->convs[prof->nconvs++] = (conv_shape){
                    .c = n->c, .h = h, .w = w, .oc = n->oc, .k = n->k, .stride = n->stride,
                    .pad = n->pad, .ckk = n->c * n->k * n->k, .p = oh * ow};
            }
        }
    }
    rcl_model_destroy(m);
    rcl_ctx_destroy(cc);
    return st;
}

static int profile_model(const rcl_ctx *ctx, const char *arch, const rcl_model_config *cfg,
                         mem_profile *p)
{
    memset(p, 0, sizeof *p);
    uint64_t a1 = 0, a2 = 0;
    RCL_TRY(count_build(ctx, arch, cfg, 1, &a1, &p->largest1, p));
    int st = count_build(ctx, arch, cfg, 2, &a2, &p->largest2, NULL);
    if (st != RCL_OK) {
        free(p->convs);
        p->convs = NULL;
        return st;
    }
    p->per_image = a2 > a1 ? a2 - a1 : 0;
    p->fixed = a1 > p->per_image ? a1 - p->per_image : 0;
    p->norm_kind = (int)cfg->norm.kind;
    p->in_c = cfg->in_channels, p->in_h = cfg->in_h, p->in_w = cfg->in_w;
    p->classes = cfg->num_classes;
    p->max_alloc = ctx ? ctx->dev.max_alloc : 0;
    p->ctx = ctx;
    p->gemm_tiled = uses_tiled_gemm(ctx);
    return RCL_OK;
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* The estimate at batch n. Scratch slots (runtime/internal.h) grow to the
 * largest request: COL a conv's columns or padded input (conv2d.c says how
 * much, rcl_conv2d_scratch_bytes, by the path each pass takes) or a norm's
 * partial sums, TMP a chunk's reordered output or the direct kernels'
 * partial sums, CONV_W the live taps' slice; with the tiled GEMM, GEMM and
 * GEMM_A one packed copy of the largest op(B) and op(A) (XB/XA). */
static int memory_at(const mem_profile *p, int n, int train, rcl_model_memory *out)
{
    rcl_model_memory r = {0};
    r.params = r.grads = p->params;
    if (!train && (p->norm_kind == RCL_NORM_BN || p->norm_kind == RCL_NORM_BRN))
        for (int i = 0; i < p->nconvs; i++) { /* the folded copy of every conv (w and a bias) */
            const conv_shape *c = &p->convs[i]; /* and its D^T where it runs dense */
            rcl_conv2d_desc d = {c->k, c->k, c->stride, c->stride, c->pad, c->pad};
            r.params += ((uint64_t)c->oc * c->ckk + c->oc) * 4 +
                        rcl_conv2d_dense_bytes(p->ctx, c->c, c->h, c->w, c->oc, &d);
        }
    r.optim = train ? 2 * p->params : 0;
    r.activations = p->fixed + p->per_image * (uint64_t)n;
    r.io = (uint64_t)n * ((uint64_t)p->in_c * p->in_h * p->in_w + 1 + (uint64_t)p->classes) * 4 + 8;
    uint64_t col = 0, tmp = 0, gb = 0, ga = 0, cw = 0, act_max = 0;
    for (int i = 0; i < p->nconvs; i++) {
        const conv_shape *c = &p->convs[i];
        act_max = max_u64(act_max, (uint64_t)n * c->oc * c->p * 4);
        rcl_conv2d_desc d = {c->k, c->k, c->stride, c->stride, c->pad, c->pad};
        rcl_conv2d_scratch cs;
        RCL_TRY(rcl_conv2d_scratch_bytes(p->ctx, n, c->c, c->h, c->w, c->oc, &d, train, &cs));
        col = max_u64(col, cs.col);
        tmp = max_u64(tmp, cs.tmp);
        cw = max_u64(cw, cs.conv_w);
        gb = max_u64(gb, cs.gemm_b);
        ga = max_u64(ga, cs.gemm_a);
    }
    uint64_t part = 2 * (uint64_t)n * p->max_c * 4; /* bn / brn partial sums */
    if (p->norm_kind == RCL_NORM_GN || p->norm_kind == RCL_NORM_LN || p->norm_kind == RCL_NORM_IN ||
        p->norm_kind == RCL_NORM_WS)
        part = 2 * (uint64_t)n * p->max_groups * 4;
    if (p->norm_kind == RCL_NORM_LRN) part = act_max;
    col = max_u64(col, part);
    uint64_t red = max_u64(2 * (uint64_t)p->max_c * 4, 2 * (uint64_t)n * 4);
    r.scratch = col + tmp + cw + red + (p->gemm_tiled ? gb + ga : 0);
    /* (training: the optimizer's move into flat buffers holds one extra copy
     * of the parameters for a moment, before its state and any scratch
     * exist: below the two state copies counted in optim) */
    r.total = r.params + r.grads + r.optim + r.activations + r.io + r.scratch;
    /* the largest single buffer: batch 1 and 2's extrapolated (a weight at
     * small batches, where no activation is larger yet), the input, the
     * largest conv output, and every scratch slot */
    uint64_t grow = p->largest2 > p->largest1 ? p->largest2 - p->largest1 : 0;
    r.largest = max_u64(p->largest1 + grow * (uint64_t)(n - 1),
                        (uint64_t)n * p->in_c * p->in_h * p->in_w * 4);
    r.largest = max_u64(r.largest, max_u64(act_max, max_u64(col, max_u64(tmp, cw))));
    if (p->gemm_tiled) r.largest = max_u64(r.largest, max_u64(gb, ga));
    *out = r;
    return RCL_OK;
}

int rcl_model_estimate_memory(const rcl_ctx *ctx, const char *arch, const rcl_model_config *cfg,
                              int train, rcl_model_memory *out)
{
    memset(out, 0, sizeof *out);
    rcl_model_config c = cfg ? *cfg : rcl_model_config_default();
    mem_profile p;
    if (!ctx) return rcl_fail(RCL_ERR_INVALID, "memory estimate: no context");
    RCL_TRY(profile_model(ctx, arch, &c, &p));
    int st = memory_at(&p, c.batch, train, out);
    free(p.convs);
    return st;
}

int rcl_model_max_batch(const rcl_ctx *ctx, const char *arch, const rcl_model_config *cfg, int train,
                        uint64_t limit, int *batch, rcl_model_memory *at_cfg)
{
    *batch = 0;
    rcl_model_config c = cfg ? *cfg : rcl_model_config_default();
    mem_profile p;
    if (!ctx) return rcl_fail(RCL_ERR_INVALID, "memory estimate: no context");
    RCL_TRY(profile_model(ctx, arch, &c, &p));
    int st = RCL_OK;
    if (at_cfg) st = memory_at(&p, c.batch, train, at_cfg);
    int lo = 0, hi = c.batch; /* memory_at(lo) fits (or lo = 0); find the largest */
    while (st == RCL_OK && lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        rcl_model_memory e;
        st = memory_at(&p, mid, train, &e);
        if (st == RCL_OK && e.total <= limit && (!p.max_alloc || e.largest <= p.max_alloc)) lo = mid;
        else hi = mid - 1;
    }
    *batch = lo;
    free(p.convs);
    return st;
}
