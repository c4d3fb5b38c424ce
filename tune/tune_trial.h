/* Trials in forked children: the tuner's parent process never touches
 * OpenCL (its state does not survive fork); each child creates its own
 * context, checks and times candidates one after another and reports each
 * over a pipe. A candidate that crashes or hangs (per-trial timeout) kills
 * only the child; the parent restarts a child after it. */
#ifndef RCL_TUNE_TRIAL_H
#define RCL_TUNE_TRIAL_H

#include "tools/gemm_tools.h"
#include "rcl.h"
#include "rcl/tune_cache.h"

typedef enum trial_kind {
    TRIAL_CLBLAST_DEFAULT,  /* CLBlast with its database (points ignored, one trial) */
    TRIAL_CLBLAST,          /* points: 16 Xgemm values + XGEMM_MIN_INDIRECT_SIZE */
    TRIAL_OURS,             /* points: rcl_gemm_tiled_names order
                               (rcl_gemm_tiled_from_ints) */
    TRIAL_KERNELS           /* points: one value per TUNE_KPARAMS entry; a whole
                               training step of job->model is timed per point,
                               "shapes" are the profiling tags (job->tags) */
} trial_kind;

/* TRIAL_KERNELS: the model whose training step is timed, and the tunable
 * table entries (e.g. the GEMM winners) applied before any point. */
typedef struct trial_model {
    const char *arch;
    rcl_norm_config norm;      /* the model's normalization (phase F tunes its kernels) */
    int batch, hw, classes;
    const rcl_tune_entry *base;
    int nbase;
    const char *const *tags;   /* job->nshapes profiling tags to report */
} trial_model;

typedef enum trial_status {
    TRIAL_NOT_RUN = -1,
    TRIAL_OK = 0,
    TRIAL_WRONG = 1,    /* output differs from the default configuration */
    TRIAL_ERROR = 2,    /* build/launch error */
    TRIAL_CRASHED = 3,
    TRIAL_TIMEOUT = 4
} trial_status;

typedef struct trial_job {
    int device;
    trial_kind kind;
    const rcl_gemm_shape *shapes;
    int nshapes;
    const int *points;   /* npoints x nparams */
    int npoints, nparams;
    int warm, reps;
    double trial_timeout_s;  /* per candidate (child setup gets extra) */
    double deadline;         /* rcl_now_s() after which no new candidate starts; 0: none */
    int min_points;          /* run at least this many even past the deadline */
    const trial_model *model; /* TRIAL_KERNELS only */
} trial_job;

/* The TRIAL_KERNELS child (tune_kernels.c): reports "S i" / "R i status
 * t_tag..." lines on fd like the GEMM child. */
void trial_kernels_child(const trial_job *job, int start, int fd);
void trial_say(int fd, const char *s);
void trial_quiet_stderr(void);

/* Result of candidate i: status[i], secs[i*nshapes + s] (median seconds). */
typedef struct trial_results {
    int *status;
    double *secs;
    int done;    /* candidates finished (any status) */
} trial_results;

typedef void (*trial_progress_fn)(void *ud, int done, int total);

/* Run the job; res arrays must hold npoints (x nshapes). Returns 0, or -1
 * if no child could be started / no context could be created. */
int trial_run(const trial_job *job, trial_results *res, trial_progress_fn fn, void *ud);

/* Device facts the parent needs, fetched by a child. */
typedef struct tune_probe {
    int ok;
    char name[256];
    unsigned compute_units;
    int vec_width;    /* rcl_gemm_vec_width */
    uint64_t max_alloc;
    char key[1200];   /* rcl_tune_device_key */
    char path[1024];  /* rcl_tune_cache_path */
    char error[256];
} tune_probe;
int trial_probe(int device, tune_probe *out);

/* The GEMM shapes of one training step of model `arch` (batch, hw x hw
 * input, classes), recorded by a child on the device
 * (rcl_gemm_shapes_model). 0 on success; -1 with `err` filled. */
int trial_collect_shapes(int device, const char *arch, int batch, int hw, int classes,
                         rcl_gemm_shape *out, int cap, int *n, char *err, size_t err_cap);

#endif
