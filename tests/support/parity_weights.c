/* Name-seeded parity weights (see tests/parity_weights.h). */
#include "parity_weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t pw_fnv1a64(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 0x100000001B3ull;
    return h;
}

double pw_uniform(uint64_t name_hash, uint64_t i)
{
    uint64_t z = name_hash + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53 * 2.0 - 1.0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

typedef enum { K_INPUT, K_MEAN, K_VAR, K_CONV, K_FC, K_FC_BIAS, K_BN_W, K_BN_W_LATE, K_BN_B } pw_kind;

int pw_generate(float *out, size_t n, const char *name, int ndim, size_t fan_in)
{
    pw_kind k;
    if (!strcmp(name, "input")) k = K_INPUT;
    else if (ends_with(name, "running_mean")) k = K_MEAN;
    else if (ends_with(name, "running_var")) k = K_VAR;
    else if (ndim == 4 && fan_in) k = K_CONV;
    else if (ndim == 2 && fan_in) k = K_FC;
    else if (ndim == 1 && !strcmp(name, "fc.bias")) k = K_FC_BIAS;
    else if (ndim == 1 && !strncmp(name, "layer", 5) &&
             (ends_with(name, "bn2.weight") || ends_with(name, "bn3.weight")))
        k = K_BN_W_LATE; /* a block's 2nd/3rd BN: gamma near 0.1 (docs/parity.md) */
    else if (ndim == 1 && ends_with(name, ".weight")) k = K_BN_W;
    else if (ndim == 1 && ends_with(name, ".bias")) k = K_BN_B;
    else return rcl_fail(RCL_ERR_INVALID, "parity weights: no formula for '%s' (ndim %d)", name, ndim);
    uint64_t h = pw_fnv1a64(name);
    double conv_scale = fan_in ? sqrt(3.0 / (double)fan_in) : 0, fc_div = sqrt((double)fan_in);
    /* The same double operations, in the same order, as make_fixture.py's
     * gen_value, so both round the identical double to float. */
    for (size_t i = 0; i < n; i++) {
        double u = pw_uniform(h, i), v;
        switch (k) {
        case K_INPUT: v = (u + 1) / 2; break;
        case K_VAR: v = 1 + 0.05 * (u + 1); break;
        case K_CONV: v = u * conv_scale; break;
        case K_FC: v = u / fc_div; break;
        case K_BN_W: v = 1 + 0.1 * u; break;
        case K_BN_W_LATE: v = (1 + 0.1 * u) * 0.1; break;
        default: v = 0.1 * u; break; /* running_mean, fc bias, BN bias */
        }
        out[i] = (float)v;
    }
    return RCL_OK;
}

static int fill_tensor(rcl_ctx *ctx, rcl_tensor *t, const char *name, int ndim)
{
    size_t n = rcl_tensor_count(t);
    float *h = malloc(n * sizeof *h);
    if (!h) return rcl_fail(RCL_ERR_NOMEM, "parity weights");
    int st = pw_generate(h, n, name, ndim, n / (size_t)t->n);
    if (st == RCL_OK) st = rcl_tensor_write(ctx, t, h);
    free(h);
    return st;
}

int pw_fill_model(rcl_model *m)
{
    rcl_ctx *ctx = rcl_model_ctx(m);
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    for (int i = 0; i < np; i++) RCL_TRY(fill_tensor(ctx, &ps[i]->value, ps[i]->name, ps[i]->ndim));
    rcl_buffer *bs;
    int nb = rcl_model_buffers(m, &bs);
    for (int i = 0; i < nb; i++) RCL_TRY(fill_tensor(ctx, bs[i].t, bs[i].name, 1));
    rcl_counter *cs;
    int nc = rcl_model_counters(m, &cs);
    for (int i = 0; i < nc; i++) *cs[i].value = 0;
    return RCL_OK;
}

void pw_sample_indices(const char *name, size_t numel, size_t idx[PW_SAMPLES])
{
    uint64_t h = pw_fnv1a64(name);
    for (uint64_t j = 0; j < PW_SAMPLES; j++) idx[j] = (size_t)((h + j * 2654435761ull) % numel);
}
