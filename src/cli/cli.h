/* Shared declarations of the resnet-cl subcommands. Only the CLI exits. */
#ifndef RCL_CLI_H
#define RCL_CLI_H

#include "tools/cli_parse.h"
#include "rcl.h"
#include "rcl/checkpoint.h"

typedef struct cli_globals {
    int device;          /* -1: not given on the command line */
    int no_tune_cache;   /* --no-tune-cache */
    double t_start;      /* cli_now_s() when main() began */
    int argc;            /* main's arguments (study records its command line) */
    char **argv;
    const char *argv0;
} cli_globals;

/* Print "resnet-cl: <what>: <strerror>: <detail>" for a failed call. */
void cli_report(const char *what, int status);
/* Open the user's device (reports and returns non-zero on failure); with
 * `tuned`, load its tune cache unless --no-tune-cache, saying so on stderr. */
int cli_open_device(const cli_globals *g, rcl_ctx **ctx, const rcl_ctx_options *opt, int tuned);

/* Comma-joined class names (malloc'd; NULL on failure). */
char *cli_join_names(char **names, int n);
/* Build a model from a checkpoint's metadata and load its weights. */
int cli_model_from_checkpoint(rcl_ctx *ctx, const char *path, int batch, rcl_model **m,
                              rcl_checkpoint_info *info);

/* Monotonic clock in seconds. */
double cli_now_s(void);

/* Validate a checkpoint's header before any device work (reports errors). */
int cli_check_checkpoint(const char *path);

/* One line: the bad index and the devices that exist. */
void cli_report_bad_device(int idx, const rcl_device_info *devs, int n);

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

#endif
