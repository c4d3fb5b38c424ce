/* Data-parallel training over MPI (docs/distributed.md): one process (rank)
 * per device, the global batch split over the ranks, gradients averaged
 * with MPI all-reduce in buckets while the backward still runs, identical
 * optimizer steps everywhere. Also gradient accumulation over micro-batches
 * (with or without MPI).
 *
 * The dist layer sits above the core library and is the only code that
 * calls MPI. It is compiled with and without MPI (-DRCL_MPI=ON|OFF): without
 * MPI the process is rank 0 of 1 and every collective is the identity. */
#ifndef RCL_DIST_H
#define RCL_DIST_H

#include "rcl/trainer.h"

#include <stddef.h>
#include <stdint.h>

/* 1 when built with MPI. */
int rcl_dist_have_mpi(void);
/* The number of processes a launcher started, from the environment it sets
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE, SLURM_STEP_NUM_TASKS); 1 when none of them says
 * more. *var (may be NULL): the variable that said so. */
int rcl_dist_launch_size(const char **var);
/* MPI_Init when built with MPI and launched as more than one process;
 * otherwise nothing (rank 0 of 1). RCL_ERR_UNSUPPORTED: launched as several
 * processes by a build without MPI. Call once, before anything else. */
int rcl_dist_init(int *argc, char ***argv);
void rcl_dist_finalize(void);
int rcl_dist_rank(void);
int rcl_dist_size(void);
/* Rank among the processes on this host (the launcher's
 * OMPI_COMM_WORLD_LOCAL_RANK / SLURM_LOCALID, else an MPI_COMM_TYPE_SHARED
 * split) and their number. */
int rcl_dist_local_rank(void);
int rcl_dist_local_size(void);
/* This host's name (gethostname). */
void rcl_dist_hostname(char *buf, size_t cap);
/* Stop every rank now (MPI_Abort); without MPI (or one rank) it returns. */
void rcl_dist_abort(int code);

/* Collectives over all ranks (identity for one rank). */
int rcl_dist_barrier(void);
int rcl_dist_bcast(void *buf, size_t bytes, int root);
int rcl_dist_sum_f64(double *v, int n);   /* in place */
int rcl_dist_max_i32(int *v, int n);      /* in place */
/* rcl_bn_reduce_fn over all ranks (user unused): --sync-bn is
 * rcl_model_set_bn_reducer(m, rcl_dist_bn_reduce, NULL). */
int rcl_dist_bn_reduce(void *user, double *v, int n);
/* Every rank's parameters, optimizer state and BN buffers become root's
 * (the identical start, and rank 0's running statistics before a test pass
 * or a checkpoint). */
int rcl_dist_bcast_model(rcl_model *m, rcl_optimizer *opt, int root);
/* 64-bit hash of every parameter's bytes; RCL_ERR_INVALID when it differs
 * between ranks (*first_bad: the lowest rank whose weights differ from rank
 * 0's). */
int rcl_dist_check_sync(rcl_model *m, uint64_t *hash, int *first_bad);

/* Part j of n images split into `parts` as evenly as possible (the first
 * n % parts parts one larger): its size, and its first image in *off. */
int rcl_dist_split(int n, int parts, int j, int *off);

/* The training step of one rank. */
typedef struct rcl_dist_trainer {
    rcl_model *model;
    rcl_optimizer *opt;
    rcl_batch *batch;       /* micro-batch buffers (model's batch >= a micro-batch) */
    rcl_grad_accum acc;
    int accumulate;         /* micro-batches per step on each rank (1: none) */
    int overlap;            /* all-reduce buckets during the last backward */
    size_t bucket_bytes;    /* a bucket is launched once it holds this many */
    /* cumulative timing since init (seconds) */
    double comm_wait_s;     /* blocked in the all-reduce (or waiting for it) */
    double step_s;          /* inside rcl_dist_train_step */
    int buckets;            /* all-reduces launched in the last step */
    /* the step in flight (internal) */
    int ready_lo, bucket_hi, first, nreq, reqcap, failed;
    float weight;
    void *reqs;
} rcl_dist_trainer;
int rcl_dist_trainer_init(rcl_dist_trainer *t, rcl_model *m, rcl_optimizer *opt, rcl_batch *b,
                          int accumulate, int overlap);
void rcl_dist_trainer_free(rcl_dist_trainer *t);
/* One optimizer step over the global batch of n images x (n,C,H,W floats)
 * and labels, the same on every rank: this rank takes part `rank` of
 * `size`, in `accumulate` micro-batches (part rank*accumulate+i of the
 * batch split into size*accumulate), each a forward and backward whose
 * gradients are summed with weight n_i / n; the sums are all-reduced over
 * the ranks and written back, then the optimizer steps. With one rank and
 * no accumulation it is rcl_train_step itself. r: the global batch's mean
 * loss and correct count (every rank). RCL_ERR_INVALID when a part would be
 * empty; RCL_ERR_NAN when this rank's loss is not finite (the step is then
 * abandoned: under MPI the caller must stop every rank). */
int rcl_dist_train_step(rcl_dist_trainer *t, const float *x, const int *labels, int n,
                        rcl_step_result *r);

/* The test pass sharded over the ranks: every rank reads each batch of src
 * (epoch 0, held in x/labels), evaluates its part in chunks of the model's
 * batch, and the sums are reduced. */
int rcl_dist_evaluate(rcl_model *m, rcl_batch *b, const rcl_batch_source *src, float *x,
                      int *labels, double *mean_loss, int *correct, int *total);

#endif
