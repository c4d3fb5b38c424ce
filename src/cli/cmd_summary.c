/* resnet-cl summary: per-layer output shapes and parameters, totals; of an
 * architecture, or of the model a checkpoint or state dict holds. */
#include "cli/cli.h"
#include "rcl/checkpoint.h"
#include "tools/cli_model_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_summary(const cli_globals *g, int argc, char **argv)
{
    const char *model = "resnet18";
    const char *ckpt = NULL;
    int classes = 10, h = 32, w = 32, paper = 0, batch = 0, model_given = 0, input_given = 0;
    rcl_model_config mc = rcl_model_config_default();
    enum { O_MODEL = CLI_OPT_FIRST, O_CLASSES, O_INPUT, O_PAPER_STRIDE, O_LIST, O_BATCH,
           O_CHECKPOINT };
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"classes", required_argument, NULL, O_CLASSES},
        {"input", required_argument, NULL, O_INPUT},
        {"paper-stride", no_argument, NULL, O_PAPER_STRIDE},
        {"list", no_argument, NULL, O_LIST},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"checkpoint", required_argument, NULL, O_CHECKPOINT},
        CLI_MODEL_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl summary", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        int bad = 0;
        switch (c) {
        case O_MODEL:
            model = go.arg;
            model_given = 1;
            break;
        case O_CHECKPOINT: ckpt = go.arg; break;
        case O_CLASSES: bad = cli_getopt_int(&go, 1, 1 << 20, &classes); break;
        case O_INPUT: { /* HxW, each side parsed strictly */
            char hs[16];
            const char *x = strchr(go.arg, 'x');
            size_t n = x ? (size_t)(x - go.arg) : 0;
            if (n) snprintf(hs, sizeof hs, "%.*s", (int)(n < sizeof hs ? n : sizeof hs - 1), go.arg);
            if (!n || n >= sizeof hs || cli_parse_int(hs, 1, 8192, &h) || cli_parse_int(x + 1, 1, 8192, &w))
                bad = cli_getopt_bad(&go, "HxW, e.g. 32x32, each side 1..8192");
            input_given = 1;
            break;
        }
        case O_PAPER_STRIDE: paper = 1; break;
        case O_BATCH: bad = cli_getopt_int(&go, 1, 1 << 16, &batch); break;
        case O_LIST:
            for (const char *const *n = rcl_model_arch_names(); *n; n++) printf("%s\n", *n);
            return 0;
        case 'h':
            printf("usage: resnet-cl [--device N] summary --model M [--classes K] [--input HxW]\n"
                   "                 [--paper-stride] [--batch-size B] [model options] | --list\n"
                   "       resnet-cl [--device N] summary --checkpoint FILE [--model M [model options]]\n"
                   "                 [--input HxW] [--batch-size B]\n"
                   "  --checkpoint FILE    the model a checkpoint holds (its architecture, classes,\n"
                   "                       input size, norm and init, and its input pipeline); a\n"
                   "                       PyTorch state dict without resnet-cl's metadata needs\n"
                   "                       --model M (classes from fc.weight's rows; --input, else 32x32)\n"
                   "  --batch-size B       also the device memory a training step and an\n"
                   "                       inference pass at batch B need on this device\n"
                   "                       (the estimate train and eval check before they start)\n"
                   "model options:\n" CLI_MODEL_OPTIONS_HELP);
            return 0;
        default:
            if (c >= CLI_MO_FIRST && c < CLI_MO_LAST) bad = cli_model_opt(&go, c, &mc);
            else return 2;
        }
        if (bad) return 2;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    if (cli_parse_only) return CLI_PARSED;
    if (ckpt) { /* the checkpoint's model (a state dict: --model's) */
        cli_weights_opts wo = {.arch = model_given ? model : NULL, .mc = mc, .in_h = h, .in_w = w};
        rcl_checkpoint_info info;
        if (cli_checkpoint_info(ckpt, &wo, &info)) return 1;
        free(info.class_names);
        rcl_input_record in;
        int st = rcl_checkpoint_read_input(ckpt, &in, NULL);
        if (st) return cli_report("reading the checkpoint", st), 1;
        static char arch[32]; /* info.arch lives on the stack */
        snprintf(arch, sizeof arch, "%s", info.arch);
        model = arch;
        classes = info.num_classes;
        if (!input_given && info.in_h) h = info.in_h, w = info.in_w; /* --input overrides */
        paper = info.stride_on_1x1;
        mc.norm = info.norm;
        mc.init = info.init;
        if (in.pipeline == RCL_PIPELINE_IMAGENET)
            printf("%s: input pipeline imagenet (shorter side %d, centre %dx%d crop, mean image, "
                   "std %g %g %g)\n", ckpt, in.resize, in.crop, in.crop, (double)in.std[0],
                   (double)in.std[1], (double)in.std[2]);
        else
            printf("%s: input pipeline cifar (%dx%d images)\n", ckpt, h, w);
    }
    rcl_ctx *ctx = NULL;
    if (cli_open_device(g, &ctx, NULL, 0)) return 1;
    mc.num_classes = classes;
    mc.in_h = h;
    mc.in_w = w;
    mc.batch = 1;
    mc.stride_on = paper ? RCL_STRIDE_ON_1X1 : RCL_STRIDE_ON_3X3;
    rcl_model *m = NULL;
    int st = rcl_model_create(&m, ctx, model, &mc);
    if (st) cli_report("building the model", st);
    else {
        char desc[320];
        cli_model_describe(&mc, desc, sizeof desc);
        printf("%s, %d classes, input 3x%dx%d, %s\n", model, classes, h, w, desc);
        rcl_model_summary(m, stdout);
    }
    for (int train = 1; !st && batch && train >= 0; train--) {
        rcl_model_memory est;
        mc.batch = batch;
        st = rcl_model_estimate_memory(ctx, model, &mc, train, &est);
        if (st) cli_report("estimating memory", st);
        else
            printf("device memory at batch %d, %s: %.2f GiB (parameters %.0f MiB, gradients %.0f "
                   "MiB, optimizer %.0f MiB, activations %.2f GiB, batch %.0f MiB, work buffers "
                   "%.0f MiB; largest buffer %.0f MiB)\n", batch, train ? "training" : "inference",
                   est.total / 1073741824.0, est.params / 1048576.0, est.grads / 1048576.0,
                   est.optim / 1048576.0, est.activations / 1073741824.0, est.io / 1048576.0,
                   est.scratch / 1048576.0, est.largest / 1048576.0);
    }
    rcl_model_destroy(m);
    rcl_ctx_destroy(ctx);
    return st ? 1 : 0;
}
