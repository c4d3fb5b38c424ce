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

#endif
