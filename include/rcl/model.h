/* ResNet models: a layer pipeline built on the host from named modules,
 * with parameters under torchvision's state_dict names.
 *
 *   rcl_model *m;  rcl_model_create(&m, ctx, "resnet18", &cfg);
 *   rcl_model_forward(m, &x, 1, &logits);   x (N,3,H,W), N <= cfg.batch
 *   rcl_model_backward(m, &dlogits);        fills every param->grad
 */
#ifndef RCL_MODEL_H
#define RCL_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "rcl/batchnorm_sync.h"
#include "rcl/norm.h"
#include "rcl/tensor.h"

typedef struct rcl_param {
    char name[96];        /* torchvision state_dict name, e.g. "layer1.0.conv1.weight" */
    rcl_tensor value;
    rcl_tensor grad;
    rcl_tensor state[2];  /* optimizer state (Adam m, v / SGD momentum), lazily created */
    int ndim;             /* PyTorch's view: 4 conv weight, 2 linear weight, 1 vector */
} rcl_param;

/* Non-trainable state saved in checkpoints: BN running statistics. */
typedef struct rcl_buffer {
    char name[96];        /* "bn1.running_mean", "bn1.running_var" */
    rcl_tensor *t;
} rcl_buffer;

/* Integer counters saved in checkpoints: BN num_batches_tracked. */
typedef struct rcl_counter {
    char name[96];        /* "bn1.num_batches_tracked" */
    int64_t *value;
} rcl_counter;

typedef enum rcl_stride_on {
    RCL_STRIDE_ON_3X3 = 0,  /* torchvision v1.5 (default): stride on the 3x3 of a Bottleneck */
    RCL_STRIDE_ON_1X1 = 1   /* the paper / v1: stride on the first 1x1 */
} rcl_stride_on;

/* The normalization every conv of the model is followed by (docs/semantics.md).
 * Parameters keep torchvision's names whatever the kind ("layer1.0.bn1.weight"). */
typedef enum rcl_norm_kind {
    RCL_NORM_BN = 0,  /* BatchNorm2d */
    RCL_NORM_GN,      /* GroupNorm(groups, C) */
    RCL_NORM_LN,      /* GroupNorm(1, C): LayerNorm over (C,H,W), per-channel affine */
    RCL_NORM_IN,      /* GroupNorm(C, C): InstanceNorm with per-channel affine */
    RCL_NORM_LRN,     /* LocalResponseNorm, no parameters */
    RCL_NORM_BRN,     /* Batch Renormalization */
    RCL_NORM_WS,      /* Weight Standardization of every conv + GroupNorm(groups, C) */
    RCL_NORM_NONE,    /* none: every conv gets a bias */
    RCL_NORM_COUNT
} rcl_norm_kind;

typedef struct rcl_norm_config {
    rcl_norm_kind kind;   /* RCL_NORM_BN */
    int groups;           /* gn, ws: 32; the largest divisor of C not above it */
    float momentum;       /* bn, brn running statistics: 0.1 */
    float eps;            /* bn, brn, gn, ln, in, ws: 1e-5 */
    rcl_lrn_desc lrn;     /* size 5, alpha 1e-4, beta 0.75, k 1 */
    float brn_r_max, brn_d_max; /* final clips: 3, 5 */
    int brn_warmup;       /* steps with r_max 1, d_max 0: 5000 */
    int brn_ramp;         /* steps over which they then grow to the final values: 20000 */
} rcl_norm_config;

/* Weight initialization (torch.nn.init's formulas; docs/semantics.md). */
typedef enum rcl_init_scheme {
    RCL_INIT_DEFAULT = 0,     /* torchvision: conv kaiming_normal fan_out/ReLU, Linear default */
    RCL_INIT_KAIMING_NORMAL,
    RCL_INIT_KAIMING_UNIFORM,
    RCL_INIT_XAVIER_NORMAL,
    RCL_INIT_XAVIER_UNIFORM,
    RCL_INIT_ORTHOGONAL,
    RCL_INIT_COUNT
} rcl_init_scheme;

typedef struct rcl_init_config {
    rcl_init_scheme scheme;   /* RCL_INIT_DEFAULT; conv and Linear weights (the Linear */
                              /* bias keeps nn.Linear's U(+-1/sqrt(fan_in))) */
    int fan_out;              /* kaiming: 1 mode fan_out, 0 fan_in (torch's default) */
    float gain;               /* 0: the scheme's default (kaiming sqrt(2), xavier and orthogonal 1) */
    int zero_init_residual;   /* the last norm gamma of every residual branch set to 0 */
} rcl_init_config;

/* "default", "kaiming-normal", "kaiming-uniform", "xavier-normal",
 * "xavier-uniform", "orthogonal"; "unknown" out of range (never NULL). */
const char *rcl_init_scheme_name(rcl_init_scheme s);
/* The scheme named `name` (as rcl_init_scheme_name; '_' may stand for '-'),
 * RCL_ERR_INVALID for an unknown name (*out untouched). */
int rcl_init_scheme_parse(const char *name, rcl_init_scheme *out);
/* "bn", "gn", "ln", "in", "lrn", "brn", "ws", "none" */
const char *rcl_norm_kind_name(rcl_norm_kind k);
int rcl_norm_kind_parse(const char *name, rcl_norm_kind *out);  /* RCL_ERR_INVALID if unknown */
/* The groups a gn/ws layer of c channels uses for a requested `groups`: the
 * largest divisor of c not above it. */
int rcl_norm_groups(int c, int groups);

typedef struct rcl_model_config {
    int num_classes;      /* 10 */
    int in_channels;      /* 3 */
    int in_h, in_w;       /* input image size, e.g. 32x32 or 224x224 */
    int batch;            /* largest batch the buffers hold */
    uint64_t seed;        /* initialisation seed */
    rcl_stride_on stride_on;
    rcl_norm_config norm;
    rcl_init_config init;
} rcl_model_config;
rcl_model_config rcl_model_config_default(void);

typedef struct rcl_model rcl_model;

/* Architectures: resnet18/34/50/101/152 (torchvision layout), resnet20/32/
 * 44/56/110 (paper's CIFAR nets, option-A shortcuts), plain<depth> twins of
 * all of these without shortcuts ("plain18", "plain20", ...), and
 * "basicblock" (the course's one-block verification model). */
int rcl_model_create(rcl_model **m, rcl_ctx *ctx, const char *arch, const rcl_model_config *cfg);
void rcl_model_destroy(rcl_model *m);
/* Names accepted by rcl_model_create, NULL-terminated. */
const char *const *rcl_model_arch_names(void);
/* 1 if `arch` is one of them (check a command line before opening a device). */
int rcl_model_arch_known(const char *arch);

/* Forward x (N,C,H,W) with N <= cfg.batch; `train` selects batch statistics
 * (and updates running stats) vs eval mode. *logits points into the model
 * (valid until the next forward) with shape (N,classes,1,1). */
int rcl_model_forward(rcl_model *m, const rcl_tensor *x, int train, const rcl_tensor **logits);
/* Backward from dlogits (N,classes,1,1) of the last training forward: every
 * parameter's grad is overwritten. */
int rcl_model_backward(rcl_model *m, const rcl_tensor *dlogits);
/* Called by rcl_model_backward after each module's backward has been
 * enqueued: parameters first_ready..count-1 (rcl_model_params order) hold
 * this backward's gradients once the queue reaches that point (gradient
 * all-reduce in buckets, src/dist). A non-zero return stops the backward. */
typedef int (*rcl_grad_hook)(void *user, int first_ready);
void rcl_model_set_grad_hook(rcl_model *m, rcl_grad_hook hook, void *user); /* NULL: none */
/* BN layers (--norm bn) train with synchronised statistics summed by
 * `reduce` over the ranks (rcl/batchnorm_sync.h); NULL: per process. */
void rcl_model_set_bn_reducer(rcl_model *m, rcl_bn_reduce_fn reduce, void *user);

/* Eval mode folds every BatchNorm into the conv before it (weights scaled,
 * a bias added; docs/semantics.md): on by default; off runs conv, BN, ReLU
 * as in training (for comparisons). The folded copy is remade after
 * anything that may change the weights or BN statistics: a training
 * forward, or taking the parameters or buffers below. */
void rcl_model_set_fold_bn(rcl_model *m, int on);

/* Recomputing the BatchNorm statistics after training (the paper's optional
 * step; PyTorch BatchNorm with momentum=None): begin resets every running
 * mean to 0 and variance to 1; each step is a training-mode forward of x
 * (n >= 2) after which every layer's running mean / variance is the mean,
 * over the steps so far, of its per-batch mean / unbiased variance; end
 * puts back the momentum and the num_batches_tracked counters. Weights are
 * not touched. begin: RCL_ERR_UNSUPPORTED naming the norm when the model's
 * is not bn (batch renormalization's training forward uses the running
 * statistics themselves). */
int rcl_model_bn_recompute_begin(rcl_model *m);
int rcl_model_bn_recompute_step(rcl_model *m, const rcl_tensor *x);
int rcl_model_bn_recompute_end(rcl_model *m);

/* Parameters, buffers, counters in torchvision state_dict order. The
 * caller may write what it gets (the folded eval weights are remade). */
int rcl_model_params(rcl_model *m, rcl_param ***params); /* returns count */
int rcl_model_buffers(rcl_model *m, rcl_buffer **bufs);   /* returns count */
int rcl_model_counters(rcl_model *m, rcl_counter **ctrs); /* returns count */
int64_t rcl_model_param_count(const rcl_model *m);
/* Multiply-accumulates x2 for one image's forward pass. */
double rcl_model_flops(const rcl_model *m);
const rcl_model_config *rcl_model_get_config(const rcl_model *m);
rcl_ctx *rcl_model_ctx(const rcl_model *m);

/* Device memory of a model at a batch, estimated without allocating on the
 * device (docs/errors.md): the model is built once at batch 1 and once at
 * batch 2 on a context that only counts its buffers (the same code path as
 * rcl_model_create, so parameters, gradients, every layer's outputs and
 * saved statistics are exact), and the context's work buffers follow from
 * the conv layers' shapes and conv2d's chunking rule. */
typedef struct rcl_model_memory {
    uint64_t params;       /* parameter values (eval with bn/brn: plus the conv weights
                              with the BN folded in) */
    uint64_t grads;        /* their gradients */
    uint64_t optim;        /* training only: optimizer state, two tensors per parameter (Adam) */
    uint64_t activations;  /* the rest of the model: layer outputs and their gradients,
                              saved statistics, running statistics */
    uint64_t io;           /* the batch: input, labels, logits' gradient, loss */
    uint64_t scratch;      /* the context's work buffers: im2col columns, reordered outputs,
                              norm partial sums and, where a tune cache sends GEMMs to the
                              tiled kernel, one packed copy of the largest GEMM operands */
    uint64_t total;        /* the sum */
    uint64_t largest;      /* the model's largest single buffer (against the device's
                              largest allocation) */
} rcl_model_memory;

/* The estimate for `arch` under `cfg` (its batch) on the device of `ctx`
 * (its largest allocation and tunables shape the chunking; NULL: no limit,
 * defaults); `train` adds the optimizer state. Errors as rcl_model_create
 * (a bad arch or config, a buffer above the device's largest allocation). */
int rcl_model_estimate_memory(const rcl_ctx *ctx, const char *arch, const rcl_model_config *cfg,
                              int train, rcl_model_memory *out);

/* The largest batch b <= cfg->batch whose estimate fits in `limit` bytes
 * and whose largest buffer fits the device's largest allocation (bisection
 * over the estimate; 0 if not even batch 1 fits), in *batch; the estimate
 * at cfg->batch in *at_cfg (may be NULL). */
int rcl_model_max_batch(const rcl_ctx *ctx, const char *arch, const rcl_model_config *cfg, int train,
                        uint64_t limit, int *batch, rcl_model_memory *at_cfg);

/* One line per layer (name, kind, output shape, params), then totals. */
void rcl_model_summary(const rcl_model *m, FILE *out);

#endif
