/* Training and evaluation steps over a model, on device batches. */
#ifndef RCL_TRAINER_H
#define RCL_TRAINER_H

#include "rcl/data.h"
#include "rcl/model.h"
#include "rcl/optimizer.h"

/* Device-side batch buffers for a model: images (B,C,H,W), labels int32[B],
 * dlogits, loss and correct count. Caller-owned. */
typedef struct rcl_batch {
    rcl_tensor x;
    cl_mem labels;
    rcl_tensor dlogits;
    rcl_tensor loss;
    cl_mem correct;
    float *host_x;     /* B*C*H*W floats, for the loader */
    int *host_labels;  /* B ints */
} rcl_batch;
int rcl_batch_init(rcl_batch *b, rcl_model *m);
void rcl_batch_free(rcl_batch *b);
/* Upload the first n images/labels of the host buffers. */
int rcl_batch_upload(rcl_batch *b, rcl_ctx *ctx, int n);

typedef struct rcl_step_result {
    float loss;     /* mean cross-entropy of the batch */
    int correct;    /* argmax == label count */
    int n;
} rcl_step_result;

/* Forward (train mode), loss, backward, optimizer step on the uploaded
 * batch of n images. RCL_ERR_NAN if the loss is not finite (the optimizer
 * step is then skipped). */
int rcl_train_step(rcl_model *m, rcl_optimizer *opt, rcl_batch *b, int n, rcl_step_result *r);
/* The first half of a training step: forward (train mode), loss and
 * backward on the uploaded batch of n images; every param->grad then holds
 * this batch's mean gradient (overwritten). No optimizer step. RCL_ERR_NAN
 * if the loss is not finite (before the backward). */
int rcl_train_forward_backward(rcl_model *m, rcl_batch *b, int n, rcl_step_result *r);

/* Gradients summed over several backward passes in host memory (gradient
 * accumulation over micro-batches, and the buffer a data-parallel
 * all-reduce works on): one float array, the parameters in
 * rcl_model_params order, parameter i at host + offset[i]. */
typedef struct rcl_grad_accum {
    rcl_model *m;
    float *host;      /* count floats */
    float *tmp;       /* the largest parameter's floats (a read before adding) */
    size_t *offset;   /* nparams + 1 */
    size_t count;
    int nparams;
} rcl_grad_accum;
int rcl_grad_accum_init(rcl_grad_accum *a, rcl_model *m);
void rcl_grad_accum_free(rcl_grad_accum *a);
/* Parameters lo..hi-1: host = weight * grad (first) or host += weight *
 * grad. Reads the device gradients (waits for the queue). A micro-batch of
 * n_i images out of a step of n gets weight n_i / n, so that the sum is the
 * mean gradient over the n images. */
int rcl_grad_accum_add(rcl_grad_accum *a, int lo, int hi, float weight, int first);
/* Write the host sums back into every param->grad (before the optimizer). */
int rcl_grad_accum_store(rcl_grad_accum *a);

/* Forward (eval mode) and loss only. */
int rcl_eval_step(rcl_model *m, rcl_batch *b, int n, rcl_step_result *r);

/* Evaluate a whole dataset in eval mode: mean loss and correct count. */
int rcl_evaluate(rcl_model *m, rcl_batch *b, rcl_loader *ld, double *mean_loss, int *correct,
                 int *total);

/* Top-1 / top-5 evaluation (ImageNet, docs/imagenet.md): an image's class
 * probabilities are the softmax of the model's logits averaged over its
 * `crops` inputs (1: one crop; 10: the ten crops of rcl_stream's ten_crop). */
typedef struct rcl_topk_counts {
    int64_t images;   /* images scored */
    int64_t top1;     /* whose label has the highest probability */
    int64_t top5;     /* whose label is among the 5 highest */
    double nll;       /* sum of -log(probability of the label) */
} rcl_topk_counts;
/* On host logits (n*crops rows of `classes`, an image's crops consecutive):
 * probs (n x classes, may be NULL) receives the averaged probabilities
 * (softmax and mean in double), and r the counts of the n images (added).
 * Ties rank the lower class first (as argmax). */
int rcl_crop_average(const float *logits, int n, int crops, int classes, const int *labels,
                     float *probs, rcl_topk_counts *r);
/* Called with every batch's averaged probabilities and labels. */
typedef void (*rcl_probs_hook)(void *user, const float *probs, const int *labels, int n,
                               int classes);
/* One epoch (0) of `s` in eval mode; the model's batch must hold crops x
 * the stream's batch size inputs (b from rcl_batch_init). *r is zeroed
 * first. A stream error (a bad file under strict) is returned as is. */
int rcl_evaluate_stream(rcl_model *m, rcl_batch *b, rcl_stream *s, int crops, rcl_topk_counts *r,
                        rcl_probs_hook hook, void *user);

/* Learning-rate schedule: lr0 divided by `factor` at each milestone epoch
 * (0-based epochs completed), or every `step_size` epochs when no
 * milestones are given. */
typedef struct rcl_lr_schedule {
    float lr0;
    float factor;        /* 3: divide by 3 */
    int step_size;       /* 20; 0 = never */
    int milestones[16];
    int nmilestones;
} rcl_lr_schedule;
/* lr in force during epoch `epoch` (0-based). Divides step by step in float,
 * as the course's `curr_lr /= 3`. */
float rcl_lr_at(const rcl_lr_schedule *s, int epoch);

#endif
