/* Parameter initialisation, torchvision defaults, from the model's seeded
 * host RNG (reproducible on every device). */
#include "model/model_internal.h"

#include <math.h>
#include <stdlib.h>

static int upload(rcl_model *m, rcl_tensor *t, float *h)
{
    int st = rcl_tensor_write(m->ctx, t, h);
    free(h);
    return st;
}

/* nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"):
 * std = sqrt(2) / sqrt(fan_out), fan_out = out_channels * kh * kw. */
int rcl_init_kaiming_normal_fan_out(rcl_model *m, rcl_param *p)
{
    size_t n = rcl_tensor_count(&p->value);
    double fan_out = (double)p->value.n * p->value.h * p->value.w;
    double std = sqrt(2.0) / sqrt(fan_out);
    float *h = malloc(n * sizeof *h);
    if (!h) return rcl_fail(RCL_ERR_NOMEM, "init");
    for (size_t i = 0; i < n; i++) h[i] = (float)(std * rcl_rng_normal(&m->rng));
    return upload(m, &p->value, h);
}

/* nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight; the bias uses the same
 * bound. */
int rcl_init_linear_default(rcl_model *m, rcl_param *w, rcl_param *b)
{
    size_t fan_in = (size_t)w->value.c * w->value.h * w->value.w;
    double bound = 1.0 / sqrt((double)fan_in);
    rcl_param *ps[2] = {w, b};
    for (int k = 0; k < 2; k++) {
        if (!ps[k]) continue;
        size_t n = rcl_tensor_count(&ps[k]->value);
        float *h = malloc(n * sizeof *h);
        if (!h) return rcl_fail(RCL_ERR_NOMEM, "init");
        for (size_t i = 0; i < n; i++) h[i] = (float)((2 * rcl_rng_uniform(&m->rng) - 1) * bound);
        RCL_TRY(upload(m, &ps[k]->value, h));
    }
    return RCL_OK;
}

int rcl_init_constant(rcl_model *m, rcl_tensor *t, float v) { return rcl_tensor_fill(m->ctx, t, v); }

/* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): nn.Conv2d's and nn.Linear's default bias. */
int rcl_init_uniform_fan_in(rcl_model *m, rcl_param *p, int fan_in)
{
    size_t n = rcl_tensor_count(&p->value);
    double bound = 1.0 / sqrt((double)fan_in);
    float *h = malloc(n * sizeof *h);
    if (!h) return rcl_fail(RCL_ERR_NOMEM, "init");
    for (size_t i = 0; i < n; i++) h[i] = (float)((2 * rcl_rng_uniform(&m->rng) - 1) * bound);
    return upload(m, &p->value, h);
}
