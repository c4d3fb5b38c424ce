/* The data of a `resnet-cl train` run: CIFAR-10 (an in-memory data set
 * through rcl_loader) or image files through the paper's ImageNet pipeline
 * (an index and rcl_stream), behind one batch source each for training and
 * the test pass. */
#ifndef RCL_CLI_TRAIN_DATA_H
#define RCL_CLI_TRAIN_DATA_H

#include <stdint.h>

#include "rcl/checkpoint.h"
#include "rcl/data.h"

typedef struct train_data_opts {
    const char *data;            /* the folder (found by the caller) */
    int imagenet;                /* 1: the ImageNet pipeline */
    int batch;                   /* the global batch */
    uint64_t seed;
    int augment, normalize;
    int per_class_train, per_class_test;            /* cifar */
    const char *val_split, *mean_file, *cache_dir;  /* imagenet */
    int no_index_cache, threads, strict;
    int crop, resize, scale_min, scale_max;
    float lighting;
} train_data_opts;

typedef struct train_data {
    int imagenet;
    rcl_dataset train_ds, test_ds;       /* cifar */
    rcl_loader *train_ld, *test_ld;
    rcl_file_index train_ix, val_ix;     /* imagenet */
    rcl_stream *train_st, *val_st;
    float *mean;                         /* imagenet: 3 x crop x crop */
    rcl_input_record input;              /* what checkpoints record */
    rcl_batch_source train, test;
    int n_train, n_test, num_classes, c, h, w;
    char *class_csv;                     /* the class ids, comma-separated */
    char desc[1024];                     /* "50000 train / 10000 test images from DIR" */
} train_data;

/* Load or index the data and check the class lists (train against test,
 * and against the checkpoint `resume` when it records them); for ImageNet
 * also find the mean image (`resume`'s, else --mean-image, else mean.bin
 * next to the index). Prints the problem and returns 1 on failure. */
int train_data_open(train_data *d, const train_data_opts *o, const char *resume);
/* The loaders or streams (after --resume has fixed the seed). 1 on failure
 * (printed). */
int train_data_start(train_data *d, const train_data_opts *o);
/* ImageNet: name the files the epoch's training (test 0) or validation
 * pass (test 1) skipped, and their count (stderr). */
void train_data_report_skipped(const train_data *d, int epoch, int test);
void train_data_close(train_data *d);

/* train --weights FILE (train_weights.c): load a file's weights into `m`
 * (a resnet-cl checkpoint, or a PyTorch state dict of architecture `arch`);
 * with reset_head every tensor but fc.* (which keeps its fresh
 * initialization, for another number of classes). Prints the problem and
 * returns 1 on failure. */
int cli_train_init_weights(rcl_ctx *ctx, rcl_model *m, const char *arch, const char *path,
                           int reset_head);

#endif
