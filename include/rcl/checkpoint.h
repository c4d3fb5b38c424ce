/* Checkpoints: safetensors files with every parameter, BN running statistic
 * and num_batches_tracked under torchvision state_dict names, plus the
 * optimizer state ("optim.<param>.exp_avg", ".exp_avg_sq" or
 * ".momentum_buffer", "optim.step") and training progress in __metadata__.
 * Written to a temporary file, flushed, then renamed. The metadata entry
 * "data_fnv1a64" holds the 64-bit FNV-1a of the byte buffer (every tensor's
 * bytes in file order) as 16 lowercase hex digits. */
#ifndef RCL_CHECKPOINT_H
#define RCL_CHECKPOINT_H

#include <stdint.h>

#include "rcl/model.h"
#include "rcl/optimizer.h"

typedef struct rcl_train_progress {
    int epoch;            /* epochs completed */
    uint64_t seed;        /* data/augmentation seed of the run */
    float lr;             /* learning rate in force after `epoch` */
    double best_acc;      /* best test accuracy so far, in [0,1] */
    int normalize;        /* inputs were mean/std normalised (CIFAR-10 statistics) */
    /* Mid-epoch position (all 0 at an epoch boundary, and in files written
     * before it was recorded): `step` batches of epoch `epoch` (0-based: the
     * one in progress) are trained, with these running sums of its train
     * loss/accuracy and of the progress lines' loss window. */
    int step;
    int batch_size;       /* the run's batch size (0: not recorded) */
    double loss_sum;      /* sum of batch loss * batch images */
    long long correct, seen;
    double win_loss;      /* sum of batch losses since the last progress line */
    int win;              /* batches in that window */
    /* log.jsonl's line for epoch `epoch` without its "seconds" and closing
     * brace ("" if none): written with the epoch's checkpoint, so that a kill
     * between the checkpoint and the log's append loses no line (train
     * restores it on --resume, with "seconds": null) */
    char log_line[384];
    /* --lr-schedule plateau: the scheduler's state after `epoch` (metadata
     * "plateau": "best=B bad=N cooldown=C reductions=R"; absent: not used) */
    int plateau;          /* 1: recorded */
    double plateau_best;  /* +inf before the first epoch */
    int plateau_bad, plateau_cooldown, plateau_reductions;
} rcl_train_progress;

/* Save model (+ optimizer state if `opt`, + progress if `prog`), with the
 * data checksum. */
int rcl_checkpoint_save(rcl_model *m, const rcl_optimizer *opt, const rcl_train_progress *prog,
                        const char *path);

/* Load weights, BN statistics and counters into `m` (its architecture must
 * match: every tensor present with the same shape, F32; counters I64).
 * When `opt` is non-NULL the optimizer state must be in the file and is
 * restored; when `prog` is non-NULL the progress metadata is restored.
 * Files written by PyTorch (safetensors.torch.save_file(model.state_dict()))
 * load with opt = prog = NULL. A truncated or corrupt file is refused with
 * RCL_ERR_FORMAT naming the file and the problem, among them a checksum
 * ("data_fnv1a64") that does not match the data (files without one load
 * unchecked); another architecture or norm kind is RCL_ERR_FORMAT too. A
 * NaN or inf in a weight or BN statistic is RCL_ERR_NAN naming the tensor.
 * On any error the model may hold part of the file. */
int rcl_checkpoint_load(rcl_model *m, rcl_optimizer *opt, rcl_train_progress *prog,
                        const char *path);

/* Architecture recorded in a checkpoint's metadata ("arch"), number of
 * classes and input size, for commands that build the model from a file. */
typedef struct rcl_checkpoint_info {
    char arch[32];
    int num_classes, in_h, in_w;
    int stride_on_1x1;    /* Bottleneck stride placement (paper variant) */
    int normalize;        /* see rcl_train_progress */
    int batch_size;       /* the training run's batch size (0: not recorded) */
    rcl_norm_config norm; /* the model's normalization ("norm", "norm_config"; bn if absent) */
    rcl_init_config init; /* its initialization ("init", "init_config") */
    char *class_names;    /* comma-separated, malloc'd (free()), or NULL */
} rcl_checkpoint_info;
/* RCL_ERR_FORMAT when the metadata is missing (a PyTorch state dict: the
 * message says which) or the checksum does not match. */
int rcl_checkpoint_info_read(const char *path, rcl_checkpoint_info *info);

/* Test hook: called by rcl_checkpoint_save after the whole file is written
 * to its temporary name and before it is renamed over `path` (NULL: none).
 * Process-wide; the CLI sets it for RESNET_CL_TEST_SLOW_WRITE. */
typedef void (*rcl_checkpoint_write_hook)(const char *path, void *user);
void rcl_checkpoint_set_write_hook(rcl_checkpoint_write_hook fn, void *user);

/* Class names to record with the next save (comma-separated), or NULL. */
void rcl_checkpoint_set_class_names(rcl_model *m, const char *csv);

/* The input pipeline a model was trained with, recorded by every save
 * (metadata "pipeline": "cifar" | "imagenet resize=R crop=C"), so that eval
 * and predict prepare images as training did. ImageNet runs also record
 * their per-pixel mean image (tensor "input.mean", F32 (3, crop, crop),
 * values in [0, 1]) and the per-channel std their inputs were divided by
 * (metadata "input_std", "1 1 1" for the paper's mean subtraction only). */
typedef enum rcl_pipeline { RCL_PIPELINE_CIFAR = 0, RCL_PIPELINE_IMAGENET = 1 } rcl_pipeline;
typedef struct rcl_input_record {
    rcl_pipeline pipeline;
    int resize, crop;     /* imagenet: evaluation resize (shorter side) and crop */
    float std[3];         /* imagenet: per-channel divisor after the mean (0: 1) */
} rcl_input_record;
/* Record `in` and (when non-NULL) a 3 x in->crop x in->crop mean image
 * (copied) with the next saves. RCL_ERR_INVALID for a bad record. */
int rcl_checkpoint_set_input(rcl_model *m, const rcl_input_record *in, const float *mean);
/* The record of a file (a file without one, e.g. from PyTorch or written
 * before it existed: cifar) and, when `mean` is non-NULL, its mean image
 * (*mean malloc'd, NULL when the file holds none). RCL_ERR_FORMAT for a
 * malformed record or a mean of the wrong shape. */
int rcl_checkpoint_read_input(const char *path, rcl_input_record *in, float **mean);

#endif
