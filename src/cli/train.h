/* `resnet-cl train`'s pieces beyond the training loop (cmd_train.c): its
 * options (train_opts.c: usage, --recipe, parsing) and its output folder
 * (train_output.c: a fresh --out, stale temporary files, the log trimmed to
 * a resumed checkpoint, the test hook of slow checkpoint writes). */
#ifndef RCL_CLI_TRAIN_H
#define RCL_CLI_TRAIN_H

#include "cli/train_data.h"
#include "rcl/optim.h"
#include "rcl/plateau.h"
#include "rcl/trainer.h"

typedef struct train_opts {
    const char *model, *data, *out, *resume;
    int epochs, batch, seed, log_interval, per_class_train, per_class_test, augment, normalize;
    int stride_on_1x1, save, overwrite, checkpoint_every;
    int model_given, batch_given;
    int accumulate, no_overlap, check_sync, sync_bn; /* micro-batches per step; MPI */
    rcl_optim_kind optim;
    float lr, momentum, weight_decay;
    int nesterov;
    rcl_lr_schedule sched;
    int plateau;          /* --lr-schedule plateau */
    rcl_plateau_options po;
    long long iterations; /* --iterations: steps in all (0: --epochs decides) */
    long long warmup_steps; /* --warmup-steps: the first N updates at warmup_lr (0: none) */
    float warmup_lr;        /* --warmup-lr (default --lr / 10) */
    int warmup_lr_given;
    int epochs_given;
    rcl_model_config mc;  /* norm and init (model options) */
    int model_opts;       /* any given on the command line */
    const char *recipe;   /* NULL, "course" or "imagenet" */
    const char *weights;  /* --weights FILE */
    int reset_head;
    train_data_opts dopt; /* --pipeline imagenet and its options */
} train_opts;

/* --recipe R, looked for before the other options are parsed so that the
 * ones given override it: 0, or 2 after printing a bad name. */
int train_apply_recipe(int argc, char **argv, train_opts *o);
/* Returns 0 to train, 1 after --help, 2 after a usage error (printed). */
int train_parse_args(int argc, char **argv, train_opts *o);
/* --recipe imagenet: the recipe with the values in force, on stdout. */
void train_print_recipe(const train_opts *o);

/* RESNET_CL_TEST_SLOW_WRITE=MS (tests only): 0, or 2 after a bad value. */
int train_setup_slow_write(void);
/* A fresh run into a folder that holds one: refused (1), or with
 * --overwrite the old run's files are deleted. */
int train_check_fresh_out(const train_opts *o, const char *out_dir);
/* Our temporary files whose process is gone: removed, with a note each. */
void train_remove_stale_temps(const char *dir);
/* log.jsonl follows the checkpoint: keep the lines of epochs 1..epochs;
 * *last: the last epoch kept. 1 on failure (printed). */
int train_trim_log(const char *logp, int epochs, int *last);
/* steps.jsonl (the training loss every --log-interval steps) follows the
 * checkpoint too: the lines of epochs 1..epochs and of epoch epochs+1 up to
 * its step `step`. 1 on failure (printed). */
int train_trim_steps(const char *path, int epochs, int step);

#endif
