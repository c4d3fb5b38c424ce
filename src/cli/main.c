/* resnet-cl command line: global flags, then a subcommand. */
#include "cli/cli.h"
#include "tools/cli_env.h"

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
            "\n"
            "global options:\n"
            "  --device N         OpenCL device index from 'resnet-cl devices' (default: $RESNET_CL_DEVICE or 0)\n"
            "  --no-tune-cache    ignore the tuned kernel parameters of resnet-cl-tune\n"
            "  -h, --help         this help\n");
}

int main(int argc, char **argv)
{
    cli_globals g = {.device = -1, .t_start = cli_now_s()};
    cli_env_pin_pocl_workers(); /* before any OpenCL call */
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--device")) {
            if (i + 1 >= argc || cli_parse_int(argv[i + 1], 0, 1 << 20, &g.device)) {
                fprintf(stderr, "resnet-cl: --device needs a non-negative integer\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--no-tune-cache")) {
            g.no_tune_cache = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "resnet-cl: unknown option '%s' (see resnet-cl --help)\n", a);
            return 2;
        } else break;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (!strcmp(cmd, "devices")) return cli_devices(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "train")) return cli_train(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "bench")) return cli_bench(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "eval")) return cli_eval(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "predict")) return cli_predict(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "summary")) return cli_summary(&g, sub_argc, sub_argv);
    fprintf(stderr, "resnet-cl: unknown command '%s' (see resnet-cl --help)\n", cmd);
    return 2;
}
