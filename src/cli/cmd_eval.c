/* resnet-cl eval: test-set loss and accuracy of a checkpoint. */
#include "cli/cli.h"
#include "rcl/trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The data must be what the checkpoint was trained on: its image size and
 * its classes, by name when the file records them (labels are positions
 * in the class list, so a renamed or extra class would be scored against
 * the wrong label). Reports and returns non-zero if not. */
static int check_data(const char *ckpt, const char *data, const char *split, const rcl_dataset *ds)
{
    rcl_checkpoint_info info = {0};
    int st = rcl_checkpoint_info_read(ckpt, &info);
    if (st) {
        cli_report("loading checkpoint", st);
        return st;
    }
    char what[1024];
    snprintf(what, sizeof what, "the data (%s, split %s)", data, split);
    if (info.class_names) {
        char from[1024];
        snprintf(from, sizeof from, "the checkpoint (%s)", ckpt);
        if ((st = rcl_dataset_check_class_csv(ds, what, info.class_names, from)))
            fprintf(stderr, "resnet-cl: %s\n", rcl_last_error());
    } else if (ds->num_classes != info.num_classes) {
        fprintf(stderr, "resnet-cl: %s has %d classes but %s has %d\n", ckpt, info.num_classes,
                what, ds->num_classes);
        st = RCL_ERR_INVALID;
    }
    if (!st && (ds->h != info.in_h || ds->w != info.in_w)) {
        fprintf(stderr, "resnet-cl: %s expects %dx%d images; %s has %dx%d\n", ckpt, info.in_h,
                info.in_w, what, ds->h, ds->w);
        st = RCL_ERR_INVALID;
    }
    free(info.class_names);
    return st;
}

int cli_eval(const cli_globals *g, int argc, char **argv)
{
    const char *ckpt = NULL, *data = NULL, *split = "test";
    int batch = 100, per_class = 0;
    enum { O_CHECKPOINT = CLI_OPT_FIRST, O_DATA, O_SPLIT, O_BATCH, O_PER_CLASS };
    static const struct option opts[] = {
        {"checkpoint", required_argument, NULL, O_CHECKPOINT},
        {"data", required_argument, NULL, O_DATA},
        {"split", required_argument, NULL, O_SPLIT},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"per-class", required_argument, NULL, O_PER_CLASS},
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
        case 'h':
            printf("usage: resnet-cl [--device N] eval --checkpoint FILE --data DIR [--split test|train]\n"
                   "                 [--batch-size B] [--per-class K]\n");
            return 0;
        default: return 2;
        }
        if (bad) return 2;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    if (!ckpt || !data) {
        fprintf(stderr, "resnet-cl eval: --checkpoint and --data are required\n");
        return 2;
    }
    if (cli_parse_only) return CLI_PARSED;
    if (cli_check_checkpoint(ckpt)) return 1;
    rcl_dataset ds = {0};
    rcl_dataset_options dopt = {.per_class_limit = per_class};
    int st = rcl_dataset_load(&ds, data, split, &dopt);
    if (st) {
        cli_report("loading data", st);
        return 1;
    }
    if (check_data(ckpt, data, split, &ds)) {
        rcl_dataset_destroy(&ds);
        return 1;
    }
    rcl_ctx *ctx = NULL;
    if (cli_open_device(g, &ctx, NULL, 1)) {
        rcl_dataset_destroy(&ds);
        return 1;
    }
    rcl_model *m = NULL;
    rcl_checkpoint_info info = {0};
    rcl_batch b = {0};
    rcl_loader *ld = NULL;
    st = cli_model_from_checkpoint(ctx, ckpt, batch, &m, &info);
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
