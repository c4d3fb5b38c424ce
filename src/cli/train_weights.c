/* train --weights FILE [--reset-head]: a run that starts from a file's
 * weights (a resnet-cl checkpoint or a PyTorch state dict, e.g. torchvision's
 * or timm's ResNet saved with safetensors) instead of a fresh initialization:
 * fine-tuning. */
#include "cli/cli.h"
#include "cli/train_data.h"
#include "rcl/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy every parameter, BN statistic and counter of `from` into `to` but
 * the classifier's (fc.*): the two models differ only in their classes. */
static int copy_but_head(rcl_ctx *ctx, rcl_model *to, rcl_model *from)
{
    rcl_param **pt, **pf;
    int n = rcl_model_params(to, &pt);
    if (rcl_model_params(from, &pf) != n) return rcl_fail(RCL_ERR_INVALID, "--weights: models differ");
    size_t most = 1;
    for (int i = 0; i < n; i++)
        if (rcl_tensor_count(&pt[i]->value) > most) most = rcl_tensor_count(&pt[i]->value);
    float *h = malloc(most * sizeof *h);
    if (!h) return rcl_fail(RCL_ERR_NOMEM, "--weights");
    int st = RCL_OK;
    for (int i = 0; !st && i < n; i++) {
        if (!strncmp(pt[i]->name, "fc.", 3)) continue;
        if (strcmp(pt[i]->name, pf[i]->name) ||
            rcl_tensor_count(&pt[i]->value) != rcl_tensor_count(&pf[i]->value))
            st = rcl_fail(RCL_ERR_INVALID, "--weights: %s differs", pt[i]->name);
        if (!st) st = rcl_tensor_read(ctx, &pf[i]->value, h);
        if (!st) st = rcl_tensor_write(ctx, &pt[i]->value, h);
    }
    rcl_buffer *bt, *bf;
    int nb = rcl_model_buffers(to, &bt);
    rcl_model_buffers(from, &bf);
    for (int i = 0; !st && i < nb; i++) {
        st = rcl_tensor_read(ctx, bf[i].t, h);
        if (!st) st = rcl_tensor_write(ctx, bt[i].t, h);
    }
    rcl_counter *ct, *cf;
    int nc = rcl_model_counters(to, &ct);
    rcl_model_counters(from, &cf);
    for (int i = 0; i < nc; i++) *ct[i].value = *cf[i].value;
    free(h);
    return st ? st : rcl_ctx_finish(ctx);
}

int cli_train_init_weights(rcl_ctx *ctx, rcl_model *m, const char *arch, const char *path,
                           int reset_head)
{
    const rcl_model_config *mc = rcl_model_get_config(m);
    cli_weights_opts wo = {.arch = arch, .mc = *mc, .in_h = mc->in_h, .in_w = mc->in_w};
    rcl_checkpoint_info info;
    rcl_st_file f; /* --model is for a bare state dict only: a checkpoint names its own */
    int own = 0;
    if (rcl_st_open(&f, path) == RCL_OK) {
        own = rcl_st_metadata(&f, "arch") != NULL;
        rcl_st_close(&f);
    }
    if (cli_checkpoint_info(path, own ? NULL : &wo, &info)) return 1;
    free(info.class_names);
    int st = RCL_OK;
    if (strcmp(info.arch, arch)) {
        fprintf(stderr, "resnet-cl: --weights %s holds a %s; the run trains a %s (give --model %s)\n",
                path, info.arch, arch, info.arch);
        return 1;
    }
    if (info.norm.kind != mc->norm.kind) {
        fprintf(stderr, "resnet-cl: --weights %s holds a model with --norm %s; the run uses --norm "
                        "%s (give --norm %s)\n", path, rcl_norm_kind_name(info.norm.kind),
                rcl_norm_kind_name(mc->norm.kind), rcl_norm_kind_name(info.norm.kind));
        return 1;
    }
    if (!reset_head) {
        if (info.num_classes != mc->num_classes) {
            fprintf(stderr, "resnet-cl: --weights %s has %d classes, the data %d: give --reset-head "
                            "to train a new classifier (fc) on the file's other weights\n",
                    path, info.num_classes, mc->num_classes);
            return 1;
        }
        if ((st = rcl_checkpoint_load(m, NULL, NULL, path)))
            return cli_report("loading --weights", st), 1;
        printf("weights from %s (every tensor)\n", path);
        return 0;
    }
    info.in_h = mc->in_h;
    info.in_w = mc->in_w;
    rcl_model *from = NULL;
    if ((st = cli_model_from_checkpoint(ctx, path, 1, &info, &from)))
        return cli_report("loading --weights", st), 1;
    st = copy_but_head(ctx, m, from);
    rcl_model_destroy(from);
    if (st) return cli_report("loading --weights", st), 1;
    printf("weights from %s but the classifier (--reset-head: fc starts afresh for %d classes; the "
           "file's has %d)\n", path, mc->num_classes, info.num_classes);
    return 0;
}
