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
