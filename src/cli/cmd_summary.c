/* resnet-cl summary: per-layer output shapes and parameters, totals. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cli_summary(const cli_globals *g, int argc, char **argv)
{
    const char *model = "resnet18";
    int classes = 10, h = 32, w = 32, paper = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, takes = 1;
        if (!strcmp(a, "--model")) bad = !(model = v);
        else if (!strcmp(a, "--classes")) bad = cli_parse_int(v, 1, 1 << 20, &classes);
        else if (!strcmp(a, "--input")) bad = !v || sscanf(v, "%dx%d", &h, &w) != 2 || h < 1 || w < 1 || h > 8192 || w > 8192;
        else if (!strcmp(a, "--paper-stride")) takes = 0, paper = 1;
        else if (!strcmp(a, "--list")) {
            for (const char *const *n = rcl_model_arch_names(); *n; n++) printf("%s\n", *n);
            return 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: resnet-cl [--device N] summary --model M [--classes K] [--input HxW]\n"
                   "                 [--paper-stride] | --list\n");
            return 0;
        } else {
            fprintf(stderr, "resnet-cl summary: unknown option '%s'\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "resnet-cl summary: bad or missing value for %s\n", a);
            return 2;
        }
        i += takes;
    }
    rcl_ctx *ctx = NULL;
    if (cli_open_device(g, &ctx, NULL, 0)) return 1;
    rcl_model_config mc = rcl_model_config_default();
    mc.num_classes = classes;
    mc.in_h = h;
    mc.in_w = w;
    mc.batch = 1;
    mc.stride_on = paper ? RCL_STRIDE_ON_1X1 : RCL_STRIDE_ON_3X3;
    rcl_model *m = NULL;
    int st = rcl_model_create(&m, ctx, model, &mc);
    if (st) cli_report("building the model", st);
    else {
        printf("%s, %d classes, input 3x%dx%d\n", model, classes, h, w);
        rcl_model_summary(m, stdout);
    }
    rcl_model_destroy(m);
    rcl_ctx_destroy(ctx);
    return st ? 1 : 0;
}
