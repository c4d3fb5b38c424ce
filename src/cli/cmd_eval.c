/* resnet-cl eval: a split's loss and accuracy under a checkpoint. */
#include "cli/cli.h"
#include "rcl/trainer.h"
#include "tools/cli_model_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The data must be what the checkpoint was trained on: its image size and
 * its classes, by name when the file records them (labels are positions
 * in the class list, so a renamed or extra class would be scored against
 * the wrong label). Reports and returns non-zero if not. */
static int check_data(const char *ckpt, const rcl_checkpoint_info *info, const char *data,
                      const char *split, const rcl_dataset *ds)
{
    int st = RCL_OK;
    char what[1024];
    snprintf(what, sizeof what, "the data (%s, split %s)", data, split);
    if (info->class_names) {
        char from[1024];
        snprintf(from, sizeof from, "the checkpoint (%s)", ckpt);
        if ((st = rcl_dataset_check_class_csv(ds, what, info->class_names, from)))
            fprintf(stderr, "resnet-cl: %s\n", rcl_last_error());
    } else if (ds->num_classes != info->num_classes) {
        fprintf(stderr, "resnet-cl: %s has %d classes but %s has %d\n", ckpt, info->num_classes,
                what, ds->num_classes);
        st = RCL_ERR_INVALID;
    }
    if (!st && (ds->h != info->in_h || ds->w != info->in_w)) {
        fprintf(stderr, "resnet-cl: %s expects %dx%d images; %s has %dx%d\n", ckpt, info->in_h,
                info->in_w, what, ds->h, ds->w);
        st = RCL_ERR_INVALID;
    }
    return st;
}

int cli_eval(const cli_globals *g, int argc, char **argv)
{
    const char *ckpt = NULL, *data = NULL, *split = "test";
    int batch = 100, per_class = 0;
    cli_weights_opts wo = {.mc = rcl_model_config_default()};
    enum { O_CHECKPOINT = CLI_OPT_FIRST, O_DATA, O_SPLIT, O_BATCH, O_PER_CLASS, O_MODEL, O_NORMALIZE };
    static const struct option opts[] = {
        {"checkpoint", required_argument, NULL, O_CHECKPOINT},
        {"data", required_argument, NULL, O_DATA},
        {"split", required_argument, NULL, O_SPLIT},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"per-class", required_argument, NULL, O_PER_CLASS},
        {"model", required_argument, NULL, O_MODEL},
        {"normalize", no_argument, NULL, O_NORMALIZE},
        CLI_MODEL_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl eval", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        int bad = 0;
        switch (c) {
        case O_CHECKPOINT: ckpt = go.arg; break;
        case O_DATA: data = go.arg; break;
        case O_SPLIT: split = go.arg; break;
        case O_BATCH: bad = cli_getopt_int(&go, 1, 1 << 16, &batch); break;
        case O_PER_CLASS: bad = cli_getopt_int(&go, 1, 1 << 30, &per_class); break;
        case O_MODEL:
            if (!rcl_model_arch_known(go.arg))
                bad = cli_getopt_bad(&go, "a model from resnet-cl summary --list");
            wo.arch = go.arg;
            break;
        case O_NORMALIZE: wo.normalize = 1; break;
        case 'h':
            printf("usage: resnet-cl [--device N] eval --checkpoint FILE --data DIR [--split test|train]\n"
                   "                 [--batch-size B] [--per-class K] [--model M [model options]]\n"
                   "  prints the split's average loss and accuracy (\"Test set: ...\" or \"Train set: ...\");\n"
                   "  the data must have the checkpoint's classes (by name when it records them)\n"
                   "  and image size. A file without resnet-cl's metadata (a PyTorch state dict)\n"
                   "  needs the model given:\n"
                   "  --model M            its architecture (classes from fc.weight, input size from the data)\n"
                   "  --normalize          it was trained on mean/std-normalized inputs\n"
                   CLI_MODEL_OPTIONS_HELP);
            return 0;
        default:
            if (c < CLI_MO_FIRST || c >= CLI_MO_LAST) return 2;
            bad = cli_model_opt(&go, c, &wo.mc);
        }
        if (bad) return 2;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    if (!ckpt || !data) {
        fprintf(stderr, "resnet-cl eval: --checkpoint and --data are required\n");
        return 2;
    }
    if (cli_parse_only) return CLI_PARSED;
    rcl_checkpoint_info info = {0};
    if (cli_checkpoint_info(ckpt, &wo, &info)) return 1;
    rcl_dataset ds = {0};
    rcl_dataset_options dopt = {.per_class_limit = per_class};
    int st = rcl_dataset_load(&ds, data, split, &dopt);
    if (st) {
        cli_report("loading data", st);
        free(info.class_names);
        return 1;
    }
    if (!info.in_h) { /* a weights-only file (wo.in_h 0): the data's size */
        info.in_h = ds.h;
        info.in_w = ds.w;
    }
    if (check_data(ckpt, &info, data, split, &ds)) {
        free(info.class_names);
        rcl_dataset_destroy(&ds);
        return 1;
    }
    rcl_ctx *ctx = NULL;
    if (cli_open_device(g, &ctx, NULL, 1)) {
        free(info.class_names);
        rcl_dataset_destroy(&ds);
        return 1;
    }
    rcl_model *m = NULL;
    rcl_batch b = {0};
    rcl_loader *ld = NULL;
    st = cli_model_from_checkpoint(ctx, ckpt, batch, &info, &m);
    if (st) cli_report("loading checkpoint", st);
    rcl_loader_options lo = {.batch_size = batch, .normalize = info.normalize,
                             .mean = {0.4914f, 0.4822f, 0.4465f}, .std = {0.2470f, 0.2435f, 0.2616f}};
    if (!st && ((st = rcl_batch_init(&b, m)) || (st = rcl_loader_create(&ld, &ds, &lo))))
        cli_report("eval setup", st);
    double loss = 0;
    int correct = 0, total = 0;
    if (!st && (st = rcl_evaluate(m, &b, ld, &loss, &correct, &total))) cli_report("evaluating", st);
    if (!st)
        printf("%s set: Average loss: %.4f, Accuracy: %d/%d (%.0f%%)\n",
               strcmp(split, "train") ? "Test" : "Train", loss, correct, total,
               total ? 100.0 * correct / total : 0.0);
    rcl_loader_destroy(ld);
    rcl_batch_free(&b);
    rcl_model_destroy(m);
    free(info.class_names);
    rcl_ctx_destroy(ctx);
    rcl_dataset_destroy(&ds);
    return st ? 1 : 0;
}
