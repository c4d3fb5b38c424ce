/* The normalization layer a model chooses (rcl_norm_config.kind): one
 * interface over BatchNorm2d, GroupNorm (gn; ln = 1 group, in = C groups),
 * LocalResponseNorm, Batch Renormalization, GroupNorm after a standardized
 * conv (ws: the conv side is in layers.c) and none. Parameters keep
 * torchvision's names whatever the kind ("<name>.weight", "<name>.bias";
 * BN/BRN also "<name>.running_mean", ".running_var", ".num_batches_tracked"). */
#include "model/model_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const KIND_NAMES[RCL_NORM_COUNT] = {"bn", "gn", "ln", "in", "lrn", "brn", "ws",
                                                       "none"};

const char *rcl_norm_kind_name(rcl_norm_kind k)
{
    return (unsigned)k < RCL_NORM_COUNT ? KIND_NAMES[k] : "?";
}

int rcl_norm_kind_parse(const char *name, rcl_norm_kind *out)
{
    for (int k = 0; name && k < RCL_NORM_COUNT; k++)
        if (!strcmp(name, KIND_NAMES[k])) {
            *out = (rcl_norm_kind)k;
            return RCL_OK;
        }
    return rcl_fail(RCL_ERR_INVALID, "unknown normalization '%s' (known: bn, gn, ln, in, lrn, brn, "
                    "ws, none)", name ? name : "(null)");
}

int rcl_norm_groups(int c, int groups)
{
    if (groups > c) groups = c;
    if (groups < 1) groups = 1;
    while (c % groups) groups--;
    return groups;
}

static int uses_batch_stats(rcl_norm_kind k) { return k == RCL_NORM_BN || k == RCL_NORM_BRN; }
static int group_kind(rcl_norm_kind k)
{
    return k == RCL_NORM_GN || k == RCL_NORM_LN || k == RCL_NORM_IN || k == RCL_NORM_WS;
}

int rcl_norm_layer_init(rcl_model *m, rcl_norm_layer *l, const char *name, int c)
{
    const rcl_norm_config *nc = &m->cfg.norm;
    memset(l, 0, sizeof *l);
    l->kind = nc->kind;
    l->c = c;
    snprintf(l->name, sizeof l->name, "%s", name);
    char n[96];
    if (l->kind != RCL_NORM_LRN && l->kind != RCL_NORM_NONE) {
        snprintf(n, sizeof n, "%s.weight", name);
        RCL_TRY(rcl_model_add_param(m, &l->gamma, n, 1, c, 1, 1, 1));
        RCL_TRY(rcl_init_constant(m, &l->gamma->value, 1.0f));
        snprintf(n, sizeof n, "%s.bias", name);
        RCL_TRY(rcl_model_add_param(m, &l->beta, n, 1, c, 1, 1, 1));
        RCL_TRY(rcl_init_constant(m, &l->beta->value, 0.0f));
    }
    if (uses_batch_stats(l->kind)) {
        RCL_TRY(rcl_tensor_create(m->ctx, &l->running_mean, c, 1, 1, 1));
        RCL_TRY(rcl_tensor_create(m->ctx, &l->running_var, c, 1, 1, 1));
        RCL_TRY(rcl_tensor_create(m->ctx, &l->save_mean, c, 1, 1, 1));
        RCL_TRY(rcl_tensor_create(m->ctx, &l->save_invstd, c, 1, 1, 1));
        RCL_TRY(rcl_init_constant(m, &l->running_mean, 0.0f));
        RCL_TRY(rcl_init_constant(m, &l->running_var, 1.0f));
        if (l->kind == RCL_NORM_BRN) {
            RCL_TRY(rcl_tensor_create(m->ctx, &l->save_r, c, 1, 1, 1));
            RCL_TRY(rcl_tensor_create(m->ctx, &l->save_d, c, 1, 1, 1));
        }
        snprintf(n, sizeof n, "%s.running_mean", name);
        RCL_TRY(rcl_model_add_buffer(m, n, &l->running_mean));
        snprintf(n, sizeof n, "%s.running_var", name);
        RCL_TRY(rcl_model_add_buffer(m, n, &l->running_var));
        snprintf(n, sizeof n, "%s.num_batches_tracked", name);
        RCL_TRY(rcl_model_add_counter(m, n, &l->num_batches_tracked));
    } else if (group_kind(l->kind)) {
        l->groups = l->kind == RCL_NORM_LN ? 1
                    : l->kind == RCL_NORM_IN ? c
                                             : rcl_norm_groups(c, nc->groups);
        /* per (image, group) statistics at the model's largest batch */
        RCL_TRY(rcl_tensor_create(m->ctx, &l->save_mean, m->cfg.batch * l->groups, 1, 1, 1));
        RCL_TRY(rcl_tensor_create(m->ctx, &l->save_invstd, m->cfg.batch * l->groups, 1, 1, 1));
    }
    return rcl_model_add_norm(m, l);
}

/* Batch Renormalization's clips after `t` tracked batches: r_max 1 and
 * d_max 0 (plain BN) for brn_warmup steps, then linear to the final values
 * over brn_ramp steps. */
static void brn_clips(const rcl_norm_config *nc, int64_t t, float *r_max, float *d_max)
{
    double f = 0;
    if (t >= nc->brn_warmup)
        f = nc->brn_ramp > 0 ? (double)(t - nc->brn_warmup) / nc->brn_ramp : 1.0;
    if (f > 1) f = 1;
    *r_max = (float)(1.0 + f * (nc->brn_r_max - 1.0));
    *d_max = (float)(f * nc->brn_d_max);
}

int rcl_norm_layer_forward(rcl_model *m, rcl_norm_layer *l, rcl_tensor *y, const rcl_tensor *x,
                           int train)
{
    const rcl_norm_config *nc = &m->cfg.norm;
    switch (l->kind) {
    case RCL_NORM_BN:
    case RCL_NORM_BRN:
        if (!train)
            return rcl_batchnorm_forward_eval(m->ctx, y, x, &l->gamma->value, &l->beta->value,
                                              &l->running_mean, &l->running_var, nc->eps);
        if (l->kind == RCL_NORM_BRN) {
            float r_max, d_max;
            brn_clips(nc, l->num_batches_tracked, &r_max, &d_max);
            l->num_batches_tracked++;
            return rcl_batchrenorm_forward_train(
                m->ctx, y, &l->save_mean, &l->save_invstd, &l->save_r, &l->save_d,
                &l->running_mean, &l->running_var, x, &l->gamma->value, &l->beta->value,
                nc->momentum, nc->eps, r_max, d_max);
        }
        l->num_batches_tracked++;
        if (m->bn_reduce) /* synchronised over the ranks */
            return rcl_batchnorm_sync_forward_train(
                m->ctx, y, &l->save_mean, &l->save_invstd, &l->running_mean, &l->running_var, x,
                &l->gamma->value, &l->beta->value, nc->momentum, nc->eps, m->bn_reduce,
                m->bn_reduce_user);
        return rcl_batchnorm_forward_train(m->ctx, y, &l->save_mean, &l->save_invstd,
                                           &l->running_mean, &l->running_var, x, &l->gamma->value,
                                           &l->beta->value, nc->momentum, nc->eps);
    case RCL_NORM_GN:
    case RCL_NORM_LN:
    case RCL_NORM_IN:
    case RCL_NORM_WS:
        return rcl_groupnorm_forward(m->ctx, y, &l->save_mean, &l->save_invstd, x,
                                     &l->gamma->value, &l->beta->value, l->groups, nc->eps);
    case RCL_NORM_LRN:
        return rcl_lrn_forward(m->ctx, y, x, &nc->lrn);
    case RCL_NORM_NONE:
        return y->buf == x->buf ? RCL_OK : rcl_tensor_copy(m->ctx, y, x);
    default:
        return rcl_fail(RCL_ERR_INVALID, "%s: normalization kind %d", l->name, (int)l->kind);
    }
}

int rcl_norm_layer_backward(rcl_model *m, rcl_norm_layer *l, rcl_tensor *dx, const rcl_tensor *dy,
                            const rcl_tensor *x)
{
    const rcl_norm_config *nc = &m->cfg.norm;
    switch (l->kind) {
    case RCL_NORM_BN:
        if (m->bn_reduce)
            return rcl_batchnorm_sync_backward(m->ctx, dx, &l->gamma->grad, &l->beta->grad, dy, x,
                                               &l->gamma->value, &l->save_mean, &l->save_invstd,
                                               m->bn_reduce, m->bn_reduce_user);
        return rcl_batchnorm_backward(m->ctx, dx, &l->gamma->grad, &l->beta->grad, dy, x,
                                      &l->gamma->value, &l->save_mean, &l->save_invstd);
    case RCL_NORM_BRN:
        return rcl_batchrenorm_backward(m->ctx, dx, &l->gamma->grad, &l->beta->grad, dy, x,
                                        &l->gamma->value, &l->save_mean, &l->save_invstd,
                                        &l->save_r, &l->save_d);
    case RCL_NORM_GN:
    case RCL_NORM_LN:
    case RCL_NORM_IN:
    case RCL_NORM_WS:
        return rcl_groupnorm_backward(m->ctx, dx, &l->gamma->grad, &l->beta->grad, dy, x,
                                      &l->gamma->value, &l->save_mean, &l->save_invstd, l->groups);
    case RCL_NORM_LRN:
        return rcl_lrn_backward(m->ctx, dx, dy, x, &nc->lrn);
    case RCL_NORM_NONE:
        return dx->buf == dy->buf ? RCL_OK : rcl_tensor_copy(m->ctx, dx, dy);
    default:
        return rcl_fail(RCL_ERR_INVALID, "%s: normalization kind %d", l->name, (int)l->kind);
    }
}

int rcl_norm_layer_forward_relu(rcl_model *m, rcl_norm_layer *l, rcl_tensor *y,
                                const rcl_tensor *x, const rcl_tensor *res, int train)
{
    const rcl_norm_config *nc = &m->cfg.norm;
    /* synchronised BN (m->bn_reduce) takes the unfused path below, through
     * rcl_norm_layer_forward */
    if (l->kind == RCL_NORM_BN && train && !m->bn_reduce) {
        l->num_batches_tracked++;
        return rcl_batchnorm_relu_forward_train(m->ctx, y, &l->save_mean, &l->save_invstd,
                                                &l->running_mean, &l->running_var, x, res,
                                                &l->gamma->value, &l->beta->value, nc->momentum,
                                                nc->eps);
    }
    if ((l->kind == RCL_NORM_BN || l->kind == RCL_NORM_BRN) && !train)
        return rcl_batchnorm_relu_forward_eval(m->ctx, y, x, res, &l->gamma->value,
                                               &l->beta->value, &l->running_mean,
                                               &l->running_var, nc->eps);
    RCL_TRY(rcl_norm_layer_forward(m, l, y, x, train));
    if (res) return rcl_add_relu(m->ctx, y, y, res);
    return rcl_relu_forward(m->ctx, y, y);
}

int rcl_norm_layer_backward_relu(rcl_model *m, rcl_norm_layer *l, rcl_tensor *dx, rcl_tensor *g,
                                 int keep_g, const rcl_tensor *dy, const rcl_tensor *y,
                                 const rcl_tensor *x)
{
    if (l->kind == RCL_NORM_BN && !m->bn_reduce)
        return rcl_batchnorm_relu_backward(m->ctx, dx, &l->gamma->grad, &l->beta->grad,
                                           keep_g ? g : NULL, dy, y, x, &l->gamma->value,
                                           &l->save_mean, &l->save_invstd);
    RCL_TRY(rcl_relu_backward(m->ctx, g, dy, y));
    return rcl_norm_layer_backward(m, l, dx, g, x);
}

int rcl_norm_layer_zero_gamma(rcl_model *m, rcl_norm_layer *l)
{
    return l->gamma ? rcl_init_constant(m, &l->gamma->value, 0.0f) : RCL_OK;
}

int64_t rcl_norm_layer_params(const rcl_norm_layer *l)
{
    return l->gamma ? 2 * (int64_t)l->c : 0;
}

void rcl_norm_layer_free(rcl_norm_layer *l)
{
    rcl_tensor *ts[] = {&l->running_mean, &l->running_var, &l->save_mean,
                        &l->save_invstd,  &l->save_r,      &l->save_d};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rcl_tensor_destroy(ts[i]);
}
