/* The data of a training run (train_data.h). */
#include "cli/train_data.h"

#include "cli/cli.h"
#include "tools/cli_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *root, const char *sub)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", root, sub);
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The checkpoint --resume continues must hold the index's classes. */
static int check_resume_classes(const train_data *d, const char *resume)
{
    rcl_checkpoint_info info = {0};
    /* an unreadable file is reported where the run loads it */
    if (rcl_checkpoint_info_read(resume, &info) != RCL_OK) return 0;
    int bad = cli_check_index_classes(resume, &info, &d->train_ix);
    free(info.class_names);
    return bad;
}

/* The mean image and std of the ImageNet inputs: --normalize: torchvision's
 * per-channel statistics; else the checkpoint's mean image (resuming), the
 * --mean-image file, or mean.bin next to the index. */
static int find_mean(train_data *d, const train_data_opts *o, const char *resume)
{
    int crop = o->crop;
    rcl_input_record *in = &d->input;
    *in = (rcl_input_record){.pipeline = RCL_PIPELINE_IMAGENET, .resize = o->resize, .crop = crop,
                             .std = {1, 1, 1}};
    if (o->normalize) {
        if (!(d->mean = cli_channel_image(cli_torchvision_mean, crop)))
            return cli_report("mean", RCL_ERR_NOMEM), 1;
        for (int c = 0; c < 3; c++) in->std[c] = cli_torchvision_std[c];
        return 0;
    }
    if (resume) {
        rcl_input_record rec;
        float *m = NULL;
        int st = rcl_checkpoint_read_input(resume, &rec, &m);
        if (st) return cli_report("resuming", st), 1;
        if (m && rec.crop == crop) {
            d->mean = m;
            return 0;
        }
        free(m);
    }
    char *path = o->mean_file ? strdup(o->mean_file)
                              : rcl_file_index_side_path(&d->train_ix, "mean.bin");
    float *m = NULL;
    int c = 0, h = 0, w = 0;
    int64_t count = 0;
    int st = path ? rcl_mean_image_load(path, &m, &c, &h, &w, &count) : RCL_ERR_NOT_FOUND;
    if (st == RCL_ERR_NOT_FOUND || st == RCL_ERR_IO) {
        fprintf(stderr,
                "resnet-cl: the ImageNet pipeline subtracts the training set's per-pixel mean, and "
                "%s%s holds none: make it once with 'resnet-cl mean-image --data %s%s%s' (or "
                "train with --normalize: torchvision's per-channel mean and std)\n",
                path ? path : "the index cache", path ? "" : " (no cache directory)", o->data,
                o->cache_dir ? " --cache-dir " : "", o->cache_dir ? o->cache_dir : "");
        free(path);
        return 1;
    }
    if (st) {
        free(path);
        return cli_report("reading the mean image", st), 1;
    }
    if (c != 3 || h != crop || w != crop) {
        fprintf(stderr, "resnet-cl: %s is a %d x %d x %d mean image; the crop is 3 x %d x %d "
                        "(resnet-cl mean-image makes 224 x 224; give --crop 224)\n",
                path, c, h, w, crop, crop);
        free(m);
        free(path);
        return 1;
    }
    printf("mean image: %s (%lld images)\n", path, (long long)count);
    free(path);
    d->mean = m;
    return 0;
}

static int open_imagenet(train_data *d, const train_data_opts *o, const char *resume)
{
    const char *tsplit = is_dir(o->data, "train") ? "train" : "";
    const char *vsplit = o->val_split ? o->val_split : "val";
    if (!strcmp(vsplit, ".")) vsplit = "";
    if (*vsplit && !is_dir(o->data, vsplit)) {
        fprintf(stderr, "resnet-cl: %s has no %s/ folder to validate on; give --val-split S (a "
                        "folder under it), or --val-split . to validate on the training folder "
                        "itself (a smoke test only)\n", o->data, vsplit);
        return 1;
    }
    cli_index_args ia = {.data = o->data, .split = tsplit, .cache_dir = o->cache_dir,
                         .no_cache = o->no_index_cache};
    if (cli_index_open(&ia, &d->train_ix)) return 1;
    ia.split = vsplit;
    if (cli_index_open(&ia, &d->val_ix)) return 1;
    if (rcl_class_lists_check("train/", d->train_ix.class_ids, d->train_ix.num_classes,
                              *vsplit ? vsplit : "the validation folder", d->val_ix.class_ids,
                              d->val_ix.num_classes)) {
        fprintf(stderr, "resnet-cl: %s\n", rcl_last_error());
        return 1;
    }
    if (resume && check_resume_classes(d, resume)) return 1;
    if (find_mean(d, o, resume)) return 1;
    d->n_train = d->train_ix.n;
    d->n_test = d->val_ix.n;
    d->num_classes = d->train_ix.num_classes;
    d->c = 3;
    d->h = d->w = o->crop;
    d->class_csv = cli_join_names(d->train_ix.class_ids, d->train_ix.num_classes);
    snprintf(d->desc, sizeof d->desc, "%d train / %d validation images (%d of %d classes) from %s",
             d->n_train, d->n_test, d->train_ix.classes_present, d->num_classes, o->data);
    return 0;
}

int train_data_open(train_data *d, const train_data_opts *o, const char *resume)
{
    memset(d, 0, sizeof *d);
    d->imagenet = o->imagenet;
    if (o->imagenet) return open_imagenet(d, o, resume);
    rcl_dataset_options dopt = {.per_class_limit = o->per_class_train};
    int st;
    if ((st = rcl_dataset_load(&d->train_ds, o->data, "train", &dopt)))
        return cli_report("loading training data", st), 1;
    dopt.per_class_limit = o->per_class_test;
    if ((st = rcl_dataset_load(&d->test_ds, o->data, "test", &dopt)))
        return cli_report("loading test data", st), 1;
    if (cli_check_classes(stderr, &d->train_ds, &d->test_ds, resume)) return 1;
    d->n_train = d->train_ds.n;
    d->n_test = d->test_ds.n;
    d->num_classes = d->train_ds.num_classes;
    d->c = d->train_ds.c;
    d->h = d->train_ds.h;
    d->w = d->train_ds.w;
    d->class_csv = cli_join_names(d->train_ds.class_names, d->train_ds.num_classes);
    d->input = (rcl_input_record){.pipeline = RCL_PIPELINE_CIFAR};
    snprintf(d->desc, sizeof d->desc, "%d train / %d test images from %s", d->n_train, d->n_test,
             o->data);
    return 0;
}

int train_data_start(train_data *d, const train_data_opts *o)
{
    int st;
    if (d->imagenet) {
        rcl_stream_options so = {.batch_size = o->batch, .threads = o->threads, .train = o->augment,
                                 .shuffle = 1, .seed = o->seed, .crop = o->crop,
                                 .scale_min = o->scale_min, .scale_max = o->scale_max,
                                 .resize = o->resize, .lighting = o->augment ? o->lighting : 0,
                                 .mean = d->mean, .strict = o->strict};
        memcpy(so.std, d->input.std, sizeof so.std);
        if ((st = rcl_stream_create(&d->train_st, &d->train_ix, &so)))
            return cli_report("creating the training loader", st), 1;
        so.train = 0;
        so.shuffle = 0;
        so.lighting = 0;
        if ((st = rcl_stream_create(&d->val_st, &d->val_ix, &so)))
            return cli_report("creating the validation loader", st), 1;
        d->train.stream = d->train_st;
        d->test.stream = d->val_st;
        return 0;
    }
    rcl_loader_options lo = {.batch_size = o->batch, .shuffle = 1, .augment = o->augment, .pad = 4,
                             .seed = o->seed, .normalize = o->normalize,
                             .mean = {0.4914f, 0.4822f, 0.4465f},
                             .std = {0.2470f, 0.2435f, 0.2616f}};
    if ((st = rcl_loader_create(&d->train_ld, &d->train_ds, &lo)))
        return cli_report("creating the training loader", st), 1;
    lo.shuffle = 0;
    lo.augment = 0;
    if ((st = rcl_loader_create(&d->test_ld, &d->test_ds, &lo)))
        return cli_report("creating the test loader", st), 1;
    d->train.loader = d->train_ld;
    d->test.loader = d->test_ld;
    return 0;
}

void train_data_report_skipped(const train_data *d, int epoch, int test)
{
    if (!d->imagenet) return;
    char when[64];
    snprintf(when, sizeof when, "%s %d", test ? "the validation pass after epoch" : "epoch", epoch);
    cli_report_skipped(test ? d->val_st : d->train_st, when);
}

void train_data_close(train_data *d)
{
    rcl_loader_destroy(d->train_ld);
    rcl_loader_destroy(d->test_ld);
    rcl_stream_destroy(d->train_st);
    rcl_stream_destroy(d->val_st);
    rcl_dataset_destroy(&d->train_ds);
    rcl_dataset_destroy(&d->test_ds);
    rcl_file_index_destroy(&d->train_ix);
    rcl_file_index_destroy(&d->val_ix);
    free(d->mean);
    free(d->class_csv);
    memset(d, 0, sizeof *d);
}
