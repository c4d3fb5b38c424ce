/* resnet-cl eval: test-set loss and accuracy of a checkpoint. */
#include "cli/cli.h"
#include "rcl/trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_eval(const cli_globals *g, int argc, char **argv)
{
    const char *ckpt = NULL, *data = NULL, *split = "test";
    int batch = 100, per_class = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--checkpoint")) bad = !(ckpt = v);
        else if (!strcmp(a, "--data")) bad = !(data = v);
        else if (!strcmp(a, "--split")) bad = !(split = v);
        else if (!strcmp(a, "--batch-size")) bad = cli_parse_int(v, 1, 1 << 16, &batch);
        else if (!strcmp(a, "--per-class")) bad = cli_parse_int(v, 1, 1 << 30, &per_class);
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: resnet-cl [--device N] eval --checkpoint FILE --data DIR [--split test|train]\n"
                   "                 [--batch-size B] [--per-class K]\n");
            return 0;
        } else {
            fprintf(stderr, "resnet-cl eval: unknown option '%s'\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "resnet-cl eval: bad or missing value for %s\n", a);
            return 2;
        }
        i++;
    }
    if (!ckpt || !data) {
        fprintf(stderr, "resnet-cl eval: --checkpoint and --data are required\n");
        return 2;
    }
    if (cli_check_checkpoint(ckpt)) return 1;
    rcl_dataset ds = {0};
    rcl_dataset_options dopt = {.per_class_limit = per_class};
    int st = rcl_dataset_load(&ds, data, split, &dopt);
    if (st) {
        cli_report("loading data", st);
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
    else if (ds.h != info.in_h || ds.w != info.in_w || ds.num_classes != info.num_classes) {
        fprintf(stderr, "resnet-cl: %s expects %dx%d images in %d classes; %s has %dx%d in %d\n", ckpt,
                info.in_h, info.in_w, info.num_classes, data, ds.h, ds.w, ds.num_classes);
        st = RCL_ERR_INVALID;
    }
    rcl_loader_options lo = {.batch_size = batch, .normalize = info.normalize,
                             .mean = {0.4914f, 0.4822f, 0.4465f}, .std = {0.2470f, 0.2435f, 0.2616f}};
    if (!st && ((st = rcl_batch_init(&b, m)) || (st = rcl_loader_create(&ld, &ds, &lo))))
        cli_report("eval setup", st);
    double loss = 0;
    int correct = 0, total = 0;
    if (!st && (st = rcl_evaluate(m, &b, ld, &loss, &correct, &total))) cli_report("evaluating", st);
    if (!st)
        printf("Test set: Average loss: %.4f, Accuracy: %d/%d (%.0f%%)\n", loss, correct, total,
               total ? 100.0 * correct / total : 0.0);
    rcl_loader_destroy(ld);
    rcl_batch_free(&b);
    rcl_model_destroy(m);
    free(info.class_names);
    rcl_ctx_destroy(ctx);
    rcl_dataset_destroy(&ds);
    return st ? 1 : 0;
}
