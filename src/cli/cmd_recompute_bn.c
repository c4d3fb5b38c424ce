/* resnet-cl recompute-bn: a checkpoint's BatchNorm running statistics
 * recomputed as the average over many training batches (He et al. 2016:
 * "we average the BN statistics over many training batches"; PyTorch's
 * momentum=None), everything else kept (docs/imagenet.md, "Evaluation"). */
#include "cli/cli.h"
#include "base/base.h"
#include "rcl/trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rb_opts {
    const char *ckpt, *data, *out, *split, *cache_dir;
    int batches, batch, seed, threads, scale_min, scale_max, strict, no_cache;
    float lighting;
} rb_opts;

/* The source of training batches: the ImageNet stream or the CIFAR loader. */
typedef struct rb_source {
    rcl_file_index ix;
    rcl_stream *s;
    rcl_dataset ds;
    rcl_loader *ld;
    int epoch;
    long long images;
} rb_source;

static int source_next(rb_source *src, float *x, int *y, int *n)
{
    for (int tries = 0; tries < 2; tries++) {   /* at most one epoch change */
        int st = src->s ? rcl_stream_next(src->s, x, y, n) : rcl_loader_next(src->ld, x, y, n);
        if (st || *n > 0) return st;
        if (src->s) cli_report_skipped(src->s, "epoch end");
        src->epoch++;
        st = src->s ? rcl_stream_begin_epoch(src->s, src->epoch)
                    : rcl_loader_begin_epoch(src->ld, src->epoch);
        if (st) return st;
    }
    return rcl_fail(RCL_ERR_INVALID, "an epoch of the data gave no images");
}

static int run(const cli_globals *g, const rb_opts *o)
{
    rcl_checkpoint_info info;
    if (cli_checkpoint_info(o->ckpt, NULL, &info)) return 1;
    if (info.norm.kind != RCL_NORM_BN) {
        fprintf(stderr, "resnet-cl: %s has no BatchNorm layers (its normalization is %s): there "
                "are no BN statistics to recompute\n", o->ckpt, rcl_norm_kind_name(info.norm.kind));
        free(info.class_names);
        return 1;
    }
    rcl_input_record rec;
    float *mean = NULL;
    int st = rcl_checkpoint_read_input(o->ckpt, &rec, &mean);
    if (st) {
        cli_report("reading the checkpoint's input record", st);
        free(info.class_names);
        return 1;
    }
    int imagenet = rec.pipeline == RCL_PIPELINE_IMAGENET;
    int batch = o->batch ? o->batch : info.batch_size > 1 ? info.batch_size : 32;
    rb_source src = {0};
    rcl_ctx *ctx = NULL;
    rcl_model *m = NULL;
    rcl_batch b = {0};
    int bad = 0;
    if (imagenet) {
        cli_index_args ia = {.data = o->data, .split = o->split, .cache_dir = o->cache_dir,
                             .no_cache = o->no_cache};
        bad = cli_index_open(&ia, &src.ix) || cli_check_index_classes(o->ckpt, &info, &src.ix);
        int smin = o->scale_min ? o->scale_min : rec.resize;
        int smax = o->scale_max ? o->scale_max : (int)((long)rec.resize * 480 / 256);
        if (smax < smin) smax = smin;
        if (!bad && smin < rec.crop) {
            fprintf(stderr, "resnet-cl: --scale-min %d is below the crop %d of %s\n", smin,
                    rec.crop, o->ckpt);
            bad = 1;
        }
        rcl_stream_options so = {.batch_size = batch, .threads = o->threads ? o->threads
                                                                            : cli_online_cpus(),
                                 .train = 1, .shuffle = 1, .seed = (uint64_t)o->seed,
                                 .crop = rec.crop, .scale_min = smin, .scale_max = smax,
                                 .lighting = o->lighting, .mean = mean, .strict = o->strict};
        for (int c = 0; c < 3; c++) so.std[c] = rec.std[c];
        if (!bad && (st = rcl_stream_create(&src.s, &src.ix, &so))) {
            cli_report("starting the loader", st);
            bad = 1;
        }
        if (!bad)
            fprintf(stderr, "resnet-cl: training transform: shorter side in [%d, %d], random %d x "
                    "%d crop, flip, lighting %g, the checkpoint's mean image and std\n", smin, smax,
                    rec.crop, rec.crop, (double)o->lighting);
    } else {
        rcl_dataset_options dopt = {0};
        if ((st = rcl_dataset_load(&src.ds, o->data, o->split ? o->split : "train", &dopt))) {
            cli_report("loading data", st);
            bad = 1;
        } else if (info.class_names) {
            char what[4096], from[4096];
            snprintf(what, sizeof what, "the data (%s)", o->data);
            snprintf(from, sizeof from, "the checkpoint (%s)", o->ckpt);
            if ((st = rcl_dataset_check_class_csv(&src.ds, what, info.class_names, from))) {
                fprintf(stderr, "resnet-cl: %s\n", rcl_last_error());
                bad = 1;
            }
        }
        if (!bad && (src.ds.h != info.in_h || src.ds.w != info.in_w)) {
            fprintf(stderr, "resnet-cl: %s expects %dx%d images; %s has %dx%d\n", o->ckpt,
                    info.in_h, info.in_w, o->data, src.ds.h, src.ds.w);
            bad = 1;
        }
        rcl_loader_options lo = {.batch_size = batch, .shuffle = 1, .augment = 1, .pad = 4,
                                 .seed = (uint64_t)o->seed, .normalize = info.normalize,
                                 .mean = {0.4914f, 0.4822f, 0.4465f},
                                 .std = {0.2470f, 0.2435f, 0.2616f}};
        if (!bad && (st = rcl_loader_create(&src.ld, &src.ds, &lo))) {
            cli_report("creating the loader", st);
            bad = 1;
        }
    }
    if (!bad) bad = cli_open_device(g, &ctx, NULL, 1);
    if (!bad && (st = cli_model_from_checkpoint(ctx, o->ckpt, batch, &info, &m))) {
        cli_report("loading checkpoint", st);
        bad = 1;
    }
    /* everything the file records goes into the new one: progress (when it
     * has some), classes, the input record and mean image */
    rcl_train_progress prog;
    memset(&prog, 0, sizeof prog);
    int has_prog = !bad && rcl_checkpoint_load(m, NULL, &prog, o->ckpt) == RCL_OK;
    if (!bad && !has_prog && (st = rcl_checkpoint_load(m, NULL, NULL, o->ckpt))) {
        cli_report("loading checkpoint", st);
        bad = 1;
    }
    if (!bad) {
        rcl_checkpoint_set_class_names(m, info.class_names);
        if ((st = rcl_checkpoint_set_input(m, &rec, mean)) || (st = rcl_batch_init(&b, m))) {
            cli_report("recompute-bn setup", st);
            bad = 1;
        }
    }
    double t0 = rcl_now_s();
    int done = 0;
    if (!bad) {
        st = src.s ? rcl_stream_begin_epoch(src.s, 0) : rcl_loader_begin_epoch(src.ld, 0);
        if (!st) st = rcl_model_bn_recompute_begin(m);
        while (!st && done < o->batches) {
            int n = 0;
            if ((st = source_next(&src, b.host_x, b.host_labels, &n))) break;
            if (n < 2) continue;   /* batch statistics need 2 images (a last batch of 1) */
            rcl_tensor x = b.x;
            x.n = n;
            if ((st = rcl_tensor_write(ctx, &x, b.host_x))) break;
            if ((st = rcl_model_bn_recompute_step(m, &x))) break;
            src.images += n;
            done++;
        }
        if (!st) st = rcl_model_bn_recompute_end(m);
        if (!st) st = rcl_checkpoint_save(m, NULL, has_prog ? &prog : NULL, o->out);
        if (st) {
            if (o->strict && (st == RCL_ERR_FORMAT || st == RCL_ERR_IO) && done < o->batches)
                fprintf(stderr, "resnet-cl: %s\n", rcl_last_error());
            else
                cli_report("recomputing the BN statistics", st);
            fprintf(stderr, "resnet-cl: %s not written\n", o->out);
            bad = 1;
        }
    }
    if (!bad) {
        if (src.s) cli_report_skipped(src.s, "recompute-bn");
        printf("recompute-bn: BN statistics of %s averaged over %d training batches of up to %d "
               "(%lld images, %.1f s); wrote %s\n", o->ckpt, done, batch, src.images,
               rcl_now_s() - t0, o->out);
    }
    rcl_batch_free(&b);
    rcl_model_destroy(m);
    rcl_ctx_destroy(ctx);
    rcl_stream_destroy(src.s);
    rcl_file_index_destroy(&src.ix);
    rcl_loader_destroy(src.ld);
    rcl_dataset_destroy(&src.ds);
    free(mean);
    free(info.class_names);
    return bad ? 1 : 0;
}

int cli_recompute_bn(const cli_globals *g, int argc, char **argv)
{
    rb_opts o = {.batches = 100, .seed = 1, .lighting = 0.1f};
    enum { O_CHECKPOINT = CLI_OPT_FIRST, O_DATA, O_OUT, O_BATCHES, O_BATCH, O_SEED, O_SPLIT,
           O_THREADS, O_SCALE_MIN, O_SCALE_MAX, O_LIGHTING, O_STRICT, O_CACHE, O_NO_CACHE };
    static const struct option opts[] = {
        {"checkpoint", required_argument, NULL, O_CHECKPOINT},
        {"data", required_argument, NULL, O_DATA},
        {"out", required_argument, NULL, O_OUT},
        {"batches", required_argument, NULL, O_BATCHES},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"seed", required_argument, NULL, O_SEED},
        {"split", required_argument, NULL, O_SPLIT},
        {"threads", required_argument, NULL, O_THREADS},
        {"scale-min", required_argument, NULL, O_SCALE_MIN},
        {"scale-max", required_argument, NULL, O_SCALE_MAX},
        {"lighting", required_argument, NULL, O_LIGHTING},
        {"strict-data", no_argument, NULL, O_STRICT},
        {"cache-dir", required_argument, NULL, O_CACHE},
        {"no-index-cache", no_argument, NULL, O_NO_CACHE},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl recompute-bn", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        int bad = 0;
        switch (c) {
        case O_CHECKPOINT: o.ckpt = go.arg; break;
        case O_DATA: o.data = go.arg; break;
        case O_OUT: o.out = go.arg; break;
        case O_BATCHES: bad = cli_getopt_int(&go, 1, 1 << 24, &o.batches); break;
        case O_BATCH: bad = cli_getopt_int(&go, 2, 1 << 16, &o.batch); break;
        case O_SEED: bad = cli_getopt_int(&go, 0, 1 << 30, &o.seed); break;
        case O_SPLIT: o.split = go.arg; break;
        case O_THREADS: bad = cli_getopt_int(&go, 1, 256, &o.threads); break;
        case O_SCALE_MIN: bad = cli_getopt_int(&go, 1, 8192, &o.scale_min); break;
        case O_SCALE_MAX: bad = cli_getopt_int(&go, 1, 8192, &o.scale_max); break;
        case O_LIGHTING: bad = cli_getopt_float(&go, 0, 1, &o.lighting); break;
        case O_STRICT: o.strict = 1; break;
        case O_CACHE: o.cache_dir = go.arg; break;
        case O_NO_CACHE: o.no_cache = 1; break;
        case 'h':
            printf("usage: resnet-cl [--device N] recompute-bn --checkpoint IN --data DIR --out OUT\n"
                   "                 [--batches N] [--batch-size B] [--seed S] [--split S]\n"
                   "                 [--threads T] [--scale-min A] [--scale-max B] [--lighting S]\n"
                   "                 [--strict-data] [--cache-dir D] [--no-index-cache]\n"
                   "  Resets every BatchNorm running mean and variance of IN, runs N training-mode\n"
                   "  forward passes over batches of the training transform, and sets them to\n"
                   "  the average of the per-batch statistics (PyTorch's momentum=None; the\n"
                   "  variance unbiased); weights and everything else unchanged, OUT written\n"
                   "  atomically (docs/imagenet.md, \"Evaluation\").\n"
                   "  --batches N        training batches averaged (default 100)\n"
                   "  --batch-size B     images a batch (default: the training run's, else 32)\n"
                   "  --seed S           shuffling and augmentation seed (default 1)\n"
                   "  ImageNet checkpoints (the checkpoint's mean image, std and crop):\n"
                   "  --scale-min A, --scale-max B  the random shorter side (default: the\n"
                   "                     checkpoint's resize R and R * 480 / 256: 256-480)\n"
                   "  --lighting S       PCA colour noise sigma (default 0.1)\n"
                   "  --threads T        decoding workers (default: the online CPUs)\n"
                   "  CIFAR checkpoints: the training split of DIR with the random crop and flip.\n");
            return 0;
        default: return 2;
        }
        if (bad) return 2;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    if (!o.ckpt || !o.data || !o.out) {
        fprintf(stderr, "resnet-cl recompute-bn: --checkpoint IN, --data DIR and --out OUT are "
                "required\n");
        return 2;
    }
    if (cli_parse_only) return CLI_PARSED;
    return run(g, &o);
}
