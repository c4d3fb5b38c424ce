/* Optimizer over every model parameter: the parameters, gradients and
 * state live in flat buffers (rcl_model_flatten) and one launch of the Adam
 * or SGD kernel updates them all; the per-tensor launches (o->flat = 0, or
 * when the flat buffers cannot be made) run the same kernel per tensor. */
#include "model/model_internal.h"
#include "rcl/optimizer.h"

#include <string.h>

int rcl_optimizer_state_count(const rcl_optimizer *o)
{
    if (o->kind == RCL_OPTIM_ADAM) return 2;
    return o->sgd.momentum != 0.0f ? 1 : 0;
}

const char *rcl_optimizer_state_name(const rcl_optimizer *o, int i)
{
    if (o->kind == RCL_OPTIM_ADAM) return i == 0 ? "exp_avg" : "exp_avg_sq";
    return "momentum_buffer";
}

int rcl_optimizer_init(rcl_optimizer *o, rcl_model *m, rcl_optim_kind kind,
                       const rcl_adam_hparams *adam, const rcl_sgd_hparams *sgd)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->model = m;
    o->adam = adam ? *adam : rcl_adam_defaults();
    if (sgd) o->sgd = *sgd;
    if (kind == RCL_OPTIM_SGD && !sgd) return rcl_fail(RCL_ERR_INVALID, "SGD needs hyper-parameters");
    if (kind != RCL_OPTIM_ADAM && kind != RCL_OPTIM_SGD) return rcl_fail(RCL_ERR_INVALID, "optimizer kind");
    rcl_ctx *ctx = rcl_model_ctx(m);
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    int ns = rcl_optimizer_state_count(o);
    /* one flat buffer per kind; where it does not fit (larger than the
     * device's largest allocation, or no memory for it) every tensor keeps
     * its own buffer; any other failure is the device's, and reported */
    int fst = rcl_model_flatten(m, ns);
    if (fst != RCL_OK && fst != RCL_ERR_DEVICE_NOMEM) return fst;
    o->flat = fst == RCL_OK && !ctx->counting;
    for (int i = 0; i < np; i++)
        for (int s = 0; s < ns; s++) {
            rcl_tensor *t = &ps[i]->state[s];
            if (!t->buf) {
                const rcl_tensor *v = &ps[i]->value;
                RCL_TRY(rcl_tensor_create(ctx, t, v->n, v->c, v->h, v->w));
            }
            RCL_TRY(rcl_tensor_fill(ctx, t, 0.0f));
        }
    return RCL_OK;
}

int rcl_optimizer_step(rcl_optimizer *o)
{
    rcl_ctx *ctx = rcl_model_ctx(o->model);
    rcl_param **ps;
    int np = rcl_model_params(o->model, &ps);
    o->step++;
    rcl_model *m = o->model;
    int flat = o->flat;
    for (int k = 0; flat && k < 2 + rcl_optimizer_state_count(o); k++) flat = m->flat[k] != NULL;
    if (flat) {
        const int n = (int)m->flat_count;
        rcl_tensor p = {m->flat[0], n, 1, 1, 1}, g = {m->flat[1], n, 1, 1, 1};
        rcl_tensor s0 = {m->flat[2], n, 1, 1, 1}, s1 = {m->flat[3], n, 1, 1, 1};
        if (o->kind == RCL_OPTIM_ADAM)
            return rcl_adam_step(ctx, &p, &g, &s0, &s1, &o->adam, (int)o->step);
        return rcl_sgd_step(ctx, &p, &g, o->sgd.momentum != 0.0f ? &s0 : NULL, &o->sgd,
                            (int)o->step);
    }
    for (int i = 0; i < np; i++) {
        rcl_param *p = ps[i];
        if (o->kind == RCL_OPTIM_ADAM)
            RCL_TRY(rcl_adam_step(ctx, &p->value, &p->grad, &p->state[0], &p->state[1], &o->adam,
                                  (int)o->step));
        else
            RCL_TRY(rcl_sgd_step(ctx, &p->value, &p->grad,
                                 o->sgd.momentum != 0.0f ? &p->state[0] : NULL, &o->sgd,
                                 (int)o->step));
    }
    return RCL_OK;
}

void rcl_optimizer_set_lr(rcl_optimizer *o, float lr)
{
    o->adam.lr = lr;
    o->sgd.lr = lr;
}

float rcl_optimizer_lr(const rcl_optimizer *o)
{
    return o->kind == RCL_OPTIM_ADAM ? o->adam.lr : o->sgd.lr;
}
