/* resnet-cl command line: global flags, then a subcommand with its own
 * (each parsed with getopt_long, tools/cli_parse.h). main() (main.c) only
 * calls cli_main, so that the fuzz target tests/fuzz/fuzz_cli.c can run the
 * same parsing with cli_parse_only set. */
#include "cli/cli.h"
#include "base/base.h"
#include "tools/cli_env.h"
#include "rcl/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: resnet-cl [--device N] <command> [options]\n"
            "\n"
            "commands:\n"
            "  devices            list OpenCL devices (index, platform, name, type, driver, memory, CUs)\n"
            "  train              train a ResNet on CIFAR-10 (the course recipe by default)\n"
            "  bench              training/inference throughput and per-layer-type breakdown\n"
            "  eval               test-set loss and accuracy of a checkpoint\n"
            "  predict            top-5 classes of image files from a checkpoint\n"
            "  summary            layers, output shapes, parameters and FLOPs of a model\n"
            "  study              train the variants of a comparison (norm, init, depth, plain, or\n"
            "                     --spec FILE) and write a report with plots\n"
            "  bench-loader       images/s and per-stage time of the ImageNet data pipeline\n"
            "  mean-image         the per-pixel mean image of a training set (saved next to its index)\n"
            "  recompute-bn       a checkpoint's BN statistics averaged over many training batches\n"
            "\n"
            "global options:\n"
            "  --device N         OpenCL device index from 'resnet-cl devices' (default: $RESNET_CL_DEVICE or 0)\n"
            "  --devices A,B,..   under MPI: the device of local rank 0, 1, .. (docs/distributed.md)\n"
            "  --no-tune-cache    ignore the tuned kernel parameters of resnet-cl-tune\n"
            "  -h, --help         this help\n");
}

int cli_main(int argc, char **argv)
{
    cli_globals g = {.device = -1, .t_start = rcl_now_s(), .argc = argc, .argv = argv, .argv0 = argv[0]};
    /* before any OpenCL call; not under MPI, where every rank's PoCL would
     * pin its workers to the same first CPUs */
    if (rcl_dist_launch_size(NULL) == 1) cli_env_pin_pocl_workers();
    enum { O_DEVICE = CLI_OPT_FIRST, O_NO_TUNE_CACHE, O_DEVICES };
    static const struct option opts[] = {
        {"device", required_argument, NULL, O_DEVICE},
        {"devices", required_argument, NULL, O_DEVICES},
        {"no-tune-cache", no_argument, NULL, O_NO_TUNE_CACHE},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        switch (c) {
        case O_DEVICE:
            if (cli_getopt_int(&go, 0, 1 << 20, &g.device)) return 2;
            break;
        case O_NO_TUNE_CACHE: g.no_tune_cache = 1; break;
        case O_DEVICES: g.devices = go.arg; break;
        case 'h': usage(stdout); return 0;
        default: return 2;
        }
    }
    int i = cli_getopt_operand(&go);
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (!strcmp(cmd, "devices")) return cli_devices(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "train")) return cli_dist_run(cli_train, &g, sub_argc, sub_argv);
    if (!strcmp(cmd, "bench")) return cli_dist_run(cli_bench, &g, sub_argc, sub_argv);
    if (!strcmp(cmd, "eval")) return cli_eval(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "predict")) return cli_predict(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "summary")) return cli_summary(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "study")) return cli_study(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "bench-loader")) return cli_bench_loader(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "mean-image")) return cli_mean_image(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "recompute-bn")) return cli_recompute_bn(&g, sub_argc, sub_argv);
    fprintf(stderr, "resnet-cl: unknown command '%s' (see resnet-cl --help)\n", cmd);
    return 2;
}
