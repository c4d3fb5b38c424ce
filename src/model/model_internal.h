/* Model internals: modules (one struct per kind, with an ops table) and the
 * conv/BN layer helpers they are built from. */
#ifndef RCL_MODEL_INTERNAL_H
#define RCL_MODEL_INTERNAL_H

#include "runtime/internal.h"
#include "rcl/model.h"
#include "rcl/norm.h"
#include "rcl/ops.h"
#include "rcl/batchnorm_sync.h"
#include "rcl/rng.h"

typedef struct rcl_module rcl_module;
typedef struct rcl_norm_layer rcl_norm_layer;

typedef struct rcl_module_ops {
    const char *kind;
    /* x (N, in) -> self->y (N, out); train selects BN batch statistics */
    int (*forward)(rcl_module *self, rcl_model *m, const rcl_tensor *x, int train);
    /* dy (N, out) -> dx (N, in) (NULL: not needed) and parameter grads */
    int (*backward)(rcl_module *self, rcl_model *m, const rcl_tensor *x, const rcl_tensor *dy,
                    rcl_tensor *dx);
    void (*destroy)(rcl_module *self);
} rcl_module_ops;

struct rcl_module {
    const rcl_module_ops *ops;
    char name[64];
    int out_c, out_h, out_w;
    rcl_tensor y;     /* output at the model's largest batch */
    rcl_tensor dy;    /* gradient of the output */
    int64_t params;
    double flops;     /* per image */
    int param_hi;     /* m->nparams when it was added: its parameters end there */
};

/* A conv layer as built, for the memory estimate's scratch (model.c): its
 * input resolution follows from the modules around it. */
typedef struct rcl_conv_note {
    int c, oc, k, stride, pad;
    int mod;          /* index of the module it belongs to (built before it is added) */
    int downsample;   /* a shortcut projection: reads the module's input */
} rcl_conv_note;

struct rcl_model {
    rcl_ctx *ctx;
    rcl_model_config cfg;
    char arch[32];
    rcl_module **mods;
    int nmods;
    rcl_param **params;
    int nparams;
    rcl_buffer *bufs;
    int nbufs;
    rcl_counter *ctrs;
    int nctrs;
    rcl_rng rng;
    rcl_tensor x_last;      /* input of the last forward (borrowed handle) */
    rcl_tensor logits;      /* view of the last forward's logits (n of its input) */
    char *class_names;      /* comma-separated, recorded in checkpoints */
    /* the data pipeline, recorded in checkpoints (rcl_checkpoint_set_input) */
    int input_pipeline, input_resize, input_crop;
    float input_std[3];
    float *input_mean;      /* its per-pixel mean image, 3 x crop x crop (owned), or NULL */
    rcl_norm_layer **norms; /* every norm layer, in build order (owned by modules) */
    int nnorms;
    int last_train;
    rcl_conv_note *convs;   /* every conv layer, in build order */
    int nconvs;
    /* rcl_model_flatten: slot 0 values, 1 grads, 2.. optimizer state; each
     * parameter's tensor of a slot is a sub-buffer of flat[slot] at float
     * offset flat_off[i] (aligned for sub-buffers; the gaps are zeros) */
    cl_mem flat[2 + 2];
    size_t *flat_off;
    size_t flat_count;      /* floats per flat buffer, gaps included */
    int fold_bn;            /* eval folds BN into the conv before it (default 1) */
    /* rcl_model_bn_recompute_*: batches averaged so far (-1: not recomputing),
     * the momentum and num_batches_tracked counters to put back at the end */
    int bn_recompute_k;
    float bn_saved_momentum;
    int64_t *bn_saved_tracked;
    int64_t fold_gen;       /* bumped whenever weights or BN statistics may change */
    rcl_grad_hook grad_hook; /* rcl_model_set_grad_hook */
    void *grad_hook_user;
    rcl_bn_reduce_fn bn_reduce; /* rcl_model_set_bn_reducer: synchronised BN */
    void *bn_reduce_user;
};

/* First n images of t (NCHW is contiguous per image). */
static inline rcl_tensor rcl_view_n(const rcl_tensor *t, int n)
{
    rcl_tensor v = *t;
    v.n = n;
    return v;
}

/* ---- registry (model.c) */
/* ndim: the tensor's rank in PyTorch (4 conv weight, 2 linear weight, 1 vector). */
int rcl_model_add_param(rcl_model *m, rcl_param **out, const char *name, int ndim, int n, int c, int h,
                    int w);
int rcl_model_add_buffer(rcl_model *m, const char *name, rcl_tensor *t);
int rcl_model_add_counter(rcl_model *m, const char *name, int64_t *v);
int rcl_model_add_module(rcl_model *m, rcl_module *mod);
/* Allocate mod->y and mod->dy at the model's batch. */
int rcl_module_alloc_io(rcl_model *m, rcl_module *mod, int c, int h, int w);
void rcl_module_free_io(rcl_module *mod);
/* A work tensor at the model's batch (for module intermediates). */
int rcl_model_tensor(rcl_model *m, rcl_tensor *t, int c, int h, int w);

/* Record a conv layer for the memory estimate (rcl_conv_layer_init calls
 * it): a name containing "downsample" is a shortcut projection. */
int rcl_model_note_conv(rcl_model *m, const char *name, int in_c, int out_c, int k, int stride,
                        int pad);

/* ---- initialisation (init.c), from m->rng (docs/semantics.md) */
/* Host fill of a weight (o, c, kh, kw) under cfg (a linear weight (o, in) is
 * c = in, kh = kw = 1, is_conv 0), torch.nn.init's formulas with
 * fan_in = c*kh*kw, fan_out = o*kh*kw. RCL_INIT_DEFAULT: conv (is_conv)
 * kaiming_normal fan_out ReLU, linear U(+-1/sqrt(fan_in)). cfg->gain 0 is
 * the scheme's default; RCL_ERR_INVALID for a bad shape, gain or scheme. */
int rcl_init_fill(float *out, int o, int c, int kh, int kw, int is_conv, const rcl_init_config *cfg,
                  rcl_rng *rng);
/* nn.Linear's bias, U(+-1/sqrt(fan_in)), under every scheme. */
void rcl_init_linear_bias_fill(float *out, int n, int fan_in, rcl_rng *rng);
/* Fill and upload under m->cfg.init: a conv weight (O, C, KH, KW); a linear
 * weight (O, I, 1, 1) then its bias (b may be NULL). */
int rcl_init_conv_weight(rcl_model *m, rcl_param *p);
int rcl_init_linear(rcl_model *m, rcl_param *w, rcl_param *b);
/* torchvision's defaults whatever m->cfg.init says */
int rcl_init_kaiming_normal_fan_out(rcl_model *m, rcl_param *p); /* conv weights, ReLU gain */
int rcl_init_linear_default(rcl_model *m, rcl_param *w, rcl_param *b); /* U(+-1/sqrt(fan_in)) */
int rcl_init_constant(rcl_model *m, rcl_tensor *t, float v);
/* U(+-1/sqrt(fan_in)): the default conv bias (norm none) */
int rcl_init_uniform_fan_in(rcl_model *m, rcl_param *p, int fan_in);

/* ---- conv layer (layers.c): no bias when a norm follows (the ResNet way); a
 * bias "<name>.bias" when the model has no normalization (PyTorch's conv
 * default); under norm "ws" the weight is standardized on every forward and
 * the backward goes through the standardization (the raw weight is the
 * parameter, as in checkpoints). */
typedef struct conv_layer {
    rcl_conv2d_desc d;
    rcl_param *w, *b;          /* b NULL unless the model's norm is none */
    int in_c, out_c;
    int ws;                    /* weight standardization */
    rcl_tensor w_hat, ws_mean, ws_std, dw_hat;
    /* eval: the BN after it folded in (wf = w*s, bf = beta - mean*s), made
     * on first use and remade when fold_gen != m->fold_gen or the input
     * size (fold_h x fold_w) changes; where taps read only padding on that
     * input, wf holds the live taps alone and fd is the trimmed
     * descriptor (rcl_conv2d_trim: no slicing per call), else fd = d;
     * where that conv runs dense (small maps), dt its prepared D^T
     * (rcl_conv2d_dense_prepare: no D built per call), else empty */
    rcl_tensor wf, bf, dt;
    rcl_conv2d_desc fd;
    int fold_h, fold_w;
    int64_t fold_gen;
} conv_layer;
int rcl_conv_layer_init(rcl_model *m, conv_layer *l, const char *name, int in_c, int out_c, int k,
                        int stride, int pad);
int rcl_conv_layer_forward(rcl_model *m, conv_layer *l, rcl_tensor *y, const rcl_tensor *x);
int rcl_conv_layer_backward(rcl_model *m, conv_layer *l, rcl_tensor *dx, const rcl_tensor *dy,
                            const rcl_tensor *x);
/* the same, then dx += dx_add (a shortcut's gradient; NULL: none) in the
 * data gradient's pass where the conv's kernels allow (rcl_conv2d_backward_acc) */
int rcl_conv_layer_backward_acc(rcl_model *m, conv_layer *l, rcl_tensor *dx, const rcl_tensor *dy,
                                const rcl_tensor *x, const rcl_tensor *dx_add);
double rcl_conv_layer_flops(const conv_layer *l, int out_h, int out_w);
int64_t rcl_conv_layer_params(const conv_layer *l);
void rcl_conv_layer_free(conv_layer *l);

/* ---- the model's normalization layer (norm_layer.c): one interface over
 * every rcl_norm_kind, chosen by m->cfg.norm */
struct rcl_norm_layer {
    rcl_norm_kind kind;
    char name[80];             /* torchvision's, e.g. "layer1.0.bn1" */
    int c, groups;             /* groups: gn, ln (1), in (C), ws */
    rcl_param *gamma, *beta;   /* NULL for lrn and none */
    rcl_tensor running_mean, running_var;   /* bn, brn */
    rcl_tensor save_mean, save_invstd;      /* bn, brn: C; group kinds: batch * groups */
    rcl_tensor save_r, save_d;              /* brn */
    int64_t num_batches_tracked;
};
int rcl_norm_layer_init(rcl_model *m, rcl_norm_layer *l, const char *name, int c);
int rcl_norm_layer_forward(rcl_model *m, rcl_norm_layer *l, rcl_tensor *y, const rcl_tensor *x,
                           int train);
int rcl_norm_layer_backward(rcl_model *m, rcl_norm_layer *l, rcl_tensor *dx, const rcl_tensor *dy,
                            const rcl_tensor *x);
/* y = relu(norm(x) + res) (res NULL: no add). BatchNorm runs it as one
 * fused pass (rcl_batchnorm_relu_*); every other kind as norm, add, ReLU. */
int rcl_norm_layer_forward_relu(rcl_model *m, rcl_norm_layer *l, rcl_tensor *y,
                                const rcl_tensor *x, const rcl_tensor *res, int train);
/* Its backward from the output y: g = dy * (y > 0), then the norm's
 * backward of g into dx. g receives the masked gradient when keep_g (the
 * shortcut's gradient); otherwise it is only a work tensor (the fused BN
 * path leaves it alone). g may alias dy. */
int rcl_norm_layer_backward_relu(rcl_model *m, rcl_norm_layer *l, rcl_tensor *dx, rcl_tensor *g,
                                 int keep_g, const rcl_tensor *dy, const rcl_tensor *y,
                                 const rcl_tensor *x);
/* conv then norm, with ReLU (relu != 0) and the residual res (NULL: none)
 * before it: y = [relu](norm(conv(x)) [+ res]), t the conv's output. In
 * eval with BN (or BRN) and m->fold_bn the BN is folded into the conv
 * (rcl_batchnorm_fold, remade after any change of the weights) and t is
 * not written. */
int rcl_conv_norm_forward(rcl_model *m, conv_layer *c, rcl_norm_layer *l, rcl_tensor *t,
                          rcl_tensor *y, const rcl_tensor *x, const rcl_tensor *res, int relu,
                          int train);
/* Move every parameter's value, grad and first nstate (<= 2) optimizer
 * state tensors into one flat buffer per kind, each tensor becoming a
 * sub-buffer view of it (contents kept; a missing state tensor is created,
 * zero). Idempotent per slot. One launch can then update every parameter
 * (the optimizer). Nothing to do on a counting context. */
int rcl_model_flatten(rcl_model *m, int nstate);
/* Mark the folded weights stale (weights or BN statistics may change). */
void rcl_model_fold_invalidate(rcl_model *m);
/* gamma := 0 (zero_init_residual); nothing for kinds without parameters */
int rcl_norm_layer_zero_gamma(rcl_model *m, rcl_norm_layer *l);
int64_t rcl_norm_layer_params(const rcl_norm_layer *l);
void rcl_norm_layer_free(rcl_norm_layer *l);
/* Registered in the model (for summary): called by rcl_norm_layer_init. */
int rcl_model_add_norm(rcl_model *m, rcl_norm_layer *l);

/* ---- module constructors (modules_*.c) */
typedef enum shortcut_kind {
    SHORTCUT_NONE = 0,       /* plain nets: no shortcut at all */
    SHORTCUT_IDENTITY_OR_PROJ, /* identity, or 1x1 conv + BN when shape changes */
    SHORTCUT_OPTION_A        /* identity, or subsample + zero-pad channels */
} shortcut_kind;

int rcl_module_stem_create(rcl_model *m, const char *conv_name, const char *bn_name, int in_c,
                       int out_c, int k, int stride, int pad, int in_h, int in_w);
int rcl_module_maxpool_create(rcl_model *m, const char *name, int k, int stride, int pad, int c,
                          int in_h, int in_w);
int rcl_module_avgpool_create(rcl_model *m, const char *name, int c, int in_h, int in_w);
int rcl_module_linear_create(rcl_model *m, const char *name, int in_features, int out_features);
int rcl_module_basic_create(rcl_model *m, const char *name, int in_c, int planes, int stride,
                        shortcut_kind sc, int in_h, int in_w);
int rcl_module_bottleneck_create(rcl_model *m, const char *name, int in_c, int planes, int stride,
                             shortcut_kind sc, rcl_stride_on stride_on, int in_h, int in_w);

/* The last module's output shape. */
void rcl_model_out_shape(const rcl_model *m, int *c, int *h, int *w);

#endif
