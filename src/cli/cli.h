/* Shared declarations of the resnet-cl subcommands. Only the CLI exits. */
#ifndef RCL_CLI_H
#define RCL_CLI_H

#include "tools/cli_parse.h"
#include "base/base.h"
#include "rcl.h"
#include "rcl/checkpoint.h"

typedef struct cli_globals {
    int device;          /* -1: not given on the command line */
    const char *devices; /* --devices 0,1,..: device of each local rank under MPI (NULL) */
    int no_tune_cache;   /* --no-tune-cache */
    double t_start;      /* rcl_now_s() when main() began */
    int argc;            /* main's arguments (study records its command line) */
    char **argv;
    const char *argv0;
} cli_globals;

/* ---- MPI (cli_dist.c, docs/distributed.md) */
/* Run a command that trains under MPI (train, bench): MPI is started when
 * the process was launched as one of several, a build without MPI refuses
 * such a launch, and a rank that fails stops every rank (MPI_Abort) after
 * one line naming it. Ranks other than 0 print only errors. */
int cli_dist_run(int (*cmd)(const cli_globals *, int, char **), const cli_globals *g, int argc,
                 char **argv);
/* cli_open_device under MPI: the device of this rank (--device for all,
 * --devices by local rank, else local rank -> the devices of device 0's
 * type), and one line per rank (host, rank, pid, device) on stderr. */
int cli_dist_open_device(const cli_globals *g, rcl_ctx **ctx, const rcl_ctx_options *opt, int tuned);
/* Ranks other than 0: stdout to /dev/null from here on. */
void cli_dist_quiet_others(void);

/* Print "resnet-cl: <what>: <strerror>: <detail>" for a failed call. */
void cli_report(const char *what, int status);
/* Open the user's device (reports and returns non-zero on failure); with
 * `tuned`, load its tune cache unless --no-tune-cache, saying so on stderr. */
int cli_open_device(const cli_globals *g, rcl_ctx **ctx, const rcl_ctx_options *opt, int tuned);

/* Comma-joined class names (malloc'd; NULL on failure). */
char *cli_join_names(char **names, int n);

/* How eval and predict build the model of a weights-only file (a PyTorch
 * state dict without resnet-cl's metadata): --model (NULL: not given), the
 * model options, the input size and --normalize. */
typedef struct cli_weights_opts {
    const char *arch;
    rcl_model_config mc;   /* norm and init from the model options */
    int in_h, in_w;
    int normalize;
} cli_weights_opts;
/* The model a checkpoint holds (reports errors; free info->class_names):
 * from its metadata, or, for a file without it and wo->arch given, from
 * `wo` with the number of classes from fc.weight's rows. */
int cli_checkpoint_info(const char *path, const cli_weights_opts *wo, rcl_checkpoint_info *info);
/* Build the model `info` describes and load path's weights into it. */
int cli_model_from_checkpoint(rcl_ctx *ctx, const char *path, int batch,
                              const rcl_checkpoint_info *info, rcl_model **m);
/* --input HxW into *h, *w (each 1..8192): 0, or 2 after printing. */
int cli_getopt_hxw(const cli_getopt *g, int *h, int *w);

/* Does `arch` at mc->batch fit on the device of ctx (estimate against
 * rcl_device_memory_limit, before anything is allocated)? 0: it fits; 1:
 * it does not, and msg holds the line to print ("resnet50 at batch 256
 * (224x224) needs about 14.2 GiB of device memory; device 0 (...) has 11.6
 * GiB; the largest batch that fits is 180 (--batch-size)"); a negative
 * status when the estimate itself failed (rcl_last_error says why). */
int cli_memory_fits(rcl_ctx *ctx, const char *arch, const rcl_model_config *mc, int train,
                    char *msg, size_t cap);
/* cli_memory_fits that prints its line (or the estimate's error) to
 * stderr; non-zero when the command must stop. */
int cli_check_memory(rcl_ctx *ctx, const char *arch, const rcl_model_config *mc, int train);
/* A failed training step, evaluation or checkpoint write, in one line that
 * ends with the state of the checkpoint at ckpt (NULL: not saving): "...;
 * the last checkpoint P is intact (continue with --resume P)". For a write
 * of ckpt itself that failed with a system error: "cannot write checkpoint
 * P: No space left on device; the previous checkpoint is intact". */
void cli_report_run_failure(const char *what, int status, const char *ckpt, int writing);

/* One line: the bad index and the devices that exist. */
void cli_report_bad_device(int idx, const rcl_device_info *devs, int n);

/* Streaming data (cli_imagenet.c): the --data DIR [--split S]
 * [--cache-dir D] [--no-index-cache] [--classes FILE] of bench-loader and
 * mean-image. split NULL: DIR/train if it exists, else DIR itself. */
typedef struct cli_index_args {
    const char *data, *split, *cache_dir, *classes_file;
    int no_cache;
    int eval;   /* split NULL: DIR/val if it exists, else DIR itself */
} cli_index_args;
/* Open the index, printing one line about it (0) or the error (1). */
int cli_index_open(const cli_index_args *a, rcl_file_index *ix);
/* Name the files the current epoch skipped, and their count (stderr). */
void cli_report_skipped(const rcl_stream *s, const char *when);

/* How a model's images are prepared under the ImageNet transforms
 * (docs/imagenet.md, "Evaluation"): the shorter side resized to `resize`,
 * a crop x crop crop, minus `mean` (3 x crop x crop on [0, 1], or NULL),
 * divided by std. */
typedef struct cli_input_prep {
    int imagenet;      /* the checkpoint records the imagenet pipeline */
    int resize, crop;
    float *mean;       /* malloc'd, or NULL */
    float std[3];
    const char *norm;  /* what the mean/std are, for messages */
} cli_input_prep;
/* From the checkpoint's input record (its mean image and std; resize and
 * crop unless given: 0), else for a weights-only file with --normalize
 * (info->normalize) torchvision's ImageNet per-channel mean and std, else
 * for a CIFAR checkpoint trained normalized CIFAR-10's, else x/255 (256 and
 * 224 by default). Prints the problem and returns 1 on failure. */
int cli_input_prep_load(const char *ckpt, const rcl_checkpoint_info *info, int weights_only,
                        int resize, int crop, cli_input_prep *p);
void cli_input_prep_free(cli_input_prep *p);
/* A checkpoint's classes (info->class_names, or their number) against an
 * index's: 0, or 1 after one line naming the difference. */
int cli_check_index_classes(const char *ckpt, const rcl_checkpoint_info *info,
                            const rcl_file_index *ix);
/* Online CPUs (the default of --threads), at least 1. */
int cli_online_cpus(void);
/* torchvision's ImageNet normalization (Normalize(mean, std)): the inputs of
 * torchvision's and timm's pretrained ResNets. */
extern const float cli_torchvision_mean[3], cli_torchvision_std[3];
/* A malloc'd 3 x crop x crop image holding v[c] in every pixel of channel c
 * (a per-channel mean as a mean image), or NULL. */
float *cli_channel_image(const float v[3], int crop);

/* The whole program: global options, then the subcommand (main.c calls it). */
int cli_main(int argc, char **argv);

int cli_devices(const cli_globals *g, int argc, char **argv);
int cli_train(const cli_globals *g, int argc, char **argv);
int cli_bench(const cli_globals *g, int argc, char **argv);
/* argv: "gemm" and its options (bench passes argv + 1) */
int cli_bench_gemm(const cli_globals *g, int argc, char **argv);
int cli_eval(const cli_globals *g, int argc, char **argv);
int cli_predict(const cli_globals *g, int argc, char **argv);
int cli_summary(const cli_globals *g, int argc, char **argv);
int cli_study(const cli_globals *g, int argc, char **argv);
int cli_bench_loader(const cli_globals *g, int argc, char **argv);
int cli_mean_image(const cli_globals *g, int argc, char **argv);
int cli_recompute_bn(const cli_globals *g, int argc, char **argv);

#endif
