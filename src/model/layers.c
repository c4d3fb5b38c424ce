/* Conv (no bias) and BatchNorm2d layers used inside modules: parameters
 * registered under torchvision names, forward/backward over explicit
 * tensors. */
#include "model/model_internal.h"

#include <stdio.h>

int rcl_conv_layer_init(rcl_model *m, conv_layer *l, const char *name, int in_c, int out_c, int k,
                    int stride, int pad)
{
    char pname[96];
    l->d = (rcl_conv2d_desc){.kh = k, .kw = k, .sh = stride, .sw = stride, .ph = pad, .pw = pad};
    l->in_c = in_c;
    l->out_c = out_c;
    snprintf(pname, sizeof pname, "%s.weight", name);
    RCL_TRY(rcl_model_add_param(m, &l->w, pname, 4, out_c, in_c, k, k));
    return rcl_init_conv_weight(m, l->w);
}

int rcl_conv_layer_forward(rcl_model *m, conv_layer *l, rcl_tensor *y, const rcl_tensor *x)
{
    return rcl_conv2d_forward(m->ctx, y, x, &l->w->value, NULL, &l->d);
}

int rcl_conv_layer_backward(rcl_model *m, conv_layer *l, rcl_tensor *dx, const rcl_tensor *dy,
                        const rcl_tensor *x)
{
    return rcl_conv2d_backward(m->ctx, dx, &l->w->grad, NULL, dy, x, &l->w->value, &l->d);
}

double rcl_conv_layer_flops(const conv_layer *l, int out_h, int out_w)
{
    return 2.0 * l->out_c * out_h * out_w * (double)l->in_c * l->d.kh * l->d.kw;
}

int rcl_bn_layer_init(rcl_model *m, bn_layer *l, const char *name, int c)
{
    char n[96];
    snprintf(n, sizeof n, "%s.weight", name);
    RCL_TRY(rcl_model_add_param(m, &l->gamma, n, 1, c, 1, 1, 1));
    RCL_TRY(rcl_init_constant(m, &l->gamma->value, 1.0f));
    snprintf(n, sizeof n, "%s.bias", name);
    RCL_TRY(rcl_model_add_param(m, &l->beta, n, 1, c, 1, 1, 1));
    RCL_TRY(rcl_init_constant(m, &l->beta->value, 0.0f));
    RCL_TRY(rcl_tensor_create(m->ctx, &l->running_mean, c, 1, 1, 1));
    RCL_TRY(rcl_tensor_create(m->ctx, &l->running_var, c, 1, 1, 1));
    RCL_TRY(rcl_tensor_create(m->ctx, &l->save_mean, c, 1, 1, 1));
    RCL_TRY(rcl_tensor_create(m->ctx, &l->save_invstd, c, 1, 1, 1));
    RCL_TRY(rcl_init_constant(m, &l->running_mean, 0.0f));
    RCL_TRY(rcl_init_constant(m, &l->running_var, 1.0f));
    l->num_batches_tracked = 0;
    snprintf(n, sizeof n, "%s.running_mean", name);
    RCL_TRY(rcl_model_add_buffer(m, n, &l->running_mean));
    snprintf(n, sizeof n, "%s.running_var", name);
    RCL_TRY(rcl_model_add_buffer(m, n, &l->running_var));
    snprintf(n, sizeof n, "%s.num_batches_tracked", name);
    return rcl_model_add_counter(m, n, &l->num_batches_tracked);
}

int rcl_bn_layer_forward(rcl_model *m, bn_layer *l, rcl_tensor *y, const rcl_tensor *x, int train)
{
    if (!train)
        return rcl_batchnorm_forward_eval(m->ctx, y, x, &l->gamma->value, &l->beta->value,
                                          &l->running_mean, &l->running_var, m->cfg.norm.eps);
    l->num_batches_tracked++;
    return rcl_batchnorm_forward_train(m->ctx, y, &l->save_mean, &l->save_invstd,
                                       &l->running_mean, &l->running_var, x, &l->gamma->value,
                                       &l->beta->value, m->cfg.norm.momentum, m->cfg.norm.eps);
}

int rcl_bn_layer_backward(rcl_model *m, bn_layer *l, rcl_tensor *dx, const rcl_tensor *dy,
                      const rcl_tensor *x)
{
    return rcl_batchnorm_backward(m->ctx, dx, &l->gamma->grad, &l->beta->grad, dy, x,
                                  &l->gamma->value, &l->save_mean, &l->save_invstd);
}

void rcl_bn_layer_free(bn_layer *l)
{
    rcl_tensor_destroy(&l->running_mean);
    rcl_tensor_destroy(&l->running_var);
    rcl_tensor_destroy(&l->save_mean);
    rcl_tensor_destroy(&l->save_invstd);
}
