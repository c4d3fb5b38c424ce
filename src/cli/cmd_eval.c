/* resnet-cl eval: a split's loss and accuracy under a checkpoint; for the
 * ImageNet pipeline the paper's testing protocol (centre crop or ten crops,
 * top-1 / top-5 error; docs/imagenet.md, "Evaluation"). */
#include "cli/cli.h"
#include "base/base.h" /* rcl_atomic_write_buf */
#include "rcl/trainer.h"
#include "tools/cli_model_opts.h"

#include <stdarg.h>
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

/* The ImageNet options of eval (0: not given). */
typedef struct imagenet_opts {
    int ten_crop, center_crop, resize, crop, threads, strict, batch, full_decode;
    const char *json, *cache_dir;
    int no_cache;
} imagenet_opts;

/* A JSON string's body: the characters that need it escaped. */
static void json_str(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = 0;
}

typedef struct eval_report {
    const char *ckpt, *dir, *protocol;
    int resize, crop;
    rcl_topk_counts r;
    long long skipped;
    double seconds;
} eval_report;

static int write_json(const char *path, const eval_report *e)
{
    char ck[4096], dir[4096], buf[12288];
    json_str(ck, sizeof ck, e->ckpt);
    json_str(dir, sizeof dir, e->dir);
    double n = e->r.images > 0 ? (double)e->r.images : 1;
    double a1 = (double)e->r.top1 / n, a5 = (double)e->r.top5 / n;
    int len = snprintf(
        buf, sizeof buf,
        "{\n  \"checkpoint\": \"%s\",\n  \"data\": \"%s\",\n  \"protocol\": \"%s\",\n"
        "  \"resize\": %d,\n  \"crop\": %d,\n  \"images\": %lld,\n  \"skipped\": %lld,\n"
        "  \"top1_correct\": %lld,\n  \"top5_correct\": %lld,\n"
        "  \"top1_error\": %.6f,\n  \"top5_error\": %.6f,\n"
        "  \"top1_accuracy\": %.6f,\n  \"top5_accuracy\": %.6f,\n  \"mean_loss\": %.6f,\n"
        "  \"seconds\": %.3f,\n  \"images_per_s\": %.3f\n}\n",
        ck, dir, e->protocol, e->resize, e->crop, (long long)e->r.images, e->skipped,
        (long long)e->r.top1, (long long)e->r.top5, e->r.images ? 1 - a1 : 0.0,
        e->r.images ? 1 - a5 : 0.0, e->r.images ? a1 : 0.0, e->r.images ? a5 : 0.0,
        e->r.images ? e->r.nll / n : 0.0, e->seconds,
        e->seconds > 0 ? (double)e->r.images / e->seconds : 0.0);
    if (len < 0 || (size_t)len >= sizeof buf)
        return rcl_fail(RCL_ERR_INVALID, "%s: too long", path);
    return rcl_atomic_write_buf(path, buf, (size_t)len);
}

/* eval under the ImageNet transforms: the index of --data, the stream's
 * centre crop or ten crops, softmax averaged per image, top-1 / top-5. */
static int eval_imagenet(const cli_globals *g, const char *ckpt, rcl_checkpoint_info *info,
                         int weights_only, const char *data, const char *split,
                         const imagenet_opts *io)
{
    cli_input_prep prep;
    if (cli_input_prep_load(ckpt, info, weights_only, io->resize, io->crop, &prep)) return 1;
    int crops = io->ten_crop ? 10 : 1;
    int batch = io->batch ? io->batch : io->ten_crop ? 5 : 50;
    if (!weights_only && (info->in_h != prep.crop || info->in_w != prep.crop))
        fprintf(stderr, "resnet-cl: note: %s was trained on %dx%d inputs; evaluating %dx%d crops\n",
                ckpt, info->in_h, info->in_w, prep.crop, prep.crop);
    info->in_h = info->in_w = prep.crop;
    cli_index_args ia = {.data = data, .split = split, .cache_dir = io->cache_dir,
                         .no_cache = io->no_cache, .eval = 1};
    rcl_file_index ix = {0};
    if (cli_index_open(&ia, &ix)) {
        cli_input_prep_free(&prep);
        return 1;
    }
    if (cli_check_index_classes(ckpt, info, &ix)) {
        rcl_file_index_destroy(&ix);
        cli_input_prep_free(&prep);
        return 1;
    }
    rcl_ctx *ctx = NULL;
    if (cli_open_device(g, &ctx, NULL, 1)) {
        rcl_file_index_destroy(&ix);
        cli_input_prep_free(&prep);
        return 1;
    }
    rcl_model *m = NULL;
    rcl_batch b = {0};
    rcl_stream *s = NULL;
    int st = cli_model_from_checkpoint(ctx, ckpt, batch * crops, info, &m);
    if (st) cli_report("loading checkpoint", st);
    rcl_stream_options so = {.batch_size = batch,
                             .threads = io->threads ? io->threads : cli_online_cpus(),
                             .crop = prep.crop, .resize = prep.resize, .mean = prep.mean,
                             .strict = io->strict, .ten_crop = io->ten_crop,
                             .full_decode = io->full_decode};
    for (int c = 0; c < 3; c++) so.std[c] = prep.std[c];
    if (!st && ((st = rcl_batch_init(&b, m)) || (st = rcl_stream_create(&s, &ix, &so))))
        cli_report("eval setup", st);
    const char *protocol = io->ten_crop ? "ten-crop" : "center-crop";
    if (!st)
        fprintf(stderr, "resnet-cl: %s: shorter side %d, %s %d x %d, %s; %s; %d thread%s, %d "
                "image%s a batch\n", protocol, prep.resize,
                io->ten_crop ? "ten crops" : "centre crop", prep.crop, prep.crop, prep.norm,
                io->full_decode ? "full decode" : "DCT scaling",
                so.threads, so.threads == 1 ? "" : "s", batch, batch == 1 ? "" : "s");
    rcl_topk_counts r = {0};
    double t0 = rcl_now_s();
    if (!st && (st = rcl_evaluate_stream(m, &b, s, crops, &r, NULL, NULL))) {
        if (io->strict && (st == RCL_ERR_FORMAT || st == RCL_ERR_IO))
            fprintf(stderr, "resnet-cl: %s\n", rcl_last_error());
        else
            cli_report("evaluating", st);
    }
    double secs = rcl_now_s() - t0;
    if (!st) {
        rcl_stream_stats ss;
        rcl_stream_stats_get(s, &ss);
        cli_report_skipped(s, "eval");
        double n = r.images ? (double)r.images : 1;
        printf("%s (%s, resize %d, crop %d): %lld images, %lld skipped, %.1f s (%.1f images/s)\n",
               protocol, ix.dir, prep.resize, prep.crop, (long long)r.images, (long long)ss.skipped,
               secs, secs > 0 ? (double)r.images / secs : 0.0);
        printf("top-1 error %.2f%% (accuracy %.2f%%, %lld/%lld), top-5 error %.2f%% (accuracy "
               "%.2f%%, %lld/%lld)\n",
               100 * (1 - r.top1 / n), 100 * r.top1 / n, (long long)r.top1, (long long)r.images,
               100 * (1 - r.top5 / n), 100 * r.top5 / n, (long long)r.top5, (long long)r.images);
        if (io->json) {
            eval_report e = {ckpt, ix.dir, protocol, prep.resize, prep.crop, r,
                             (long long)ss.skipped, secs};
            if ((st = write_json(io->json, &e))) cli_report("writing --json", st);
        }
    }
    rcl_stream_destroy(s);
    rcl_batch_free(&b);
    rcl_model_destroy(m);
    rcl_ctx_destroy(ctx);
    rcl_file_index_destroy(&ix);
    cli_input_prep_free(&prep);
    return st ? 1 : 0;
}

int cli_eval(const cli_globals *g, int argc, char **argv)
{
    const char *ckpt = NULL, *data = NULL, *split = NULL;
    int batch = 0, per_class = 0;
    imagenet_opts io = {0};
    cli_weights_opts wo = {.mc = rcl_model_config_default()};
    enum { O_CHECKPOINT = CLI_OPT_FIRST, O_DATA, O_SPLIT, O_BATCH, O_PER_CLASS, O_MODEL, O_NORMALIZE,
           O_TEN, O_CENTER, O_RESIZE, O_CROP, O_THREADS, O_JSON, O_STRICT, O_CACHE, O_NO_CACHE,
           O_FULL };
    static const struct option opts[] = {
        {"checkpoint", required_argument, NULL, O_CHECKPOINT},
        {"data", required_argument, NULL, O_DATA},
        {"split", required_argument, NULL, O_SPLIT},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"per-class", required_argument, NULL, O_PER_CLASS},
        {"model", required_argument, NULL, O_MODEL},
        {"normalize", no_argument, NULL, O_NORMALIZE},
        {"ten-crop", no_argument, NULL, O_TEN},
        {"center-crop", no_argument, NULL, O_CENTER},
        {"resize", required_argument, NULL, O_RESIZE},
        {"crop", required_argument, NULL, O_CROP},
        {"threads", required_argument, NULL, O_THREADS},
        {"json", required_argument, NULL, O_JSON},
        {"strict-data", no_argument, NULL, O_STRICT},
        {"cache-dir", required_argument, NULL, O_CACHE},
        {"no-index-cache", no_argument, NULL, O_NO_CACHE},
        {"full-decode", no_argument, NULL, O_FULL},
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
        case O_TEN: io.ten_crop = 1; break;
        case O_CENTER: io.center_crop = 1; break;
        case O_RESIZE: bad = cli_getopt_int(&go, 1, 8192, &io.resize); break;
        case O_CROP: bad = cli_getopt_int(&go, 1, 1024, &io.crop); break;
        case O_THREADS: bad = cli_getopt_int(&go, 1, 256, &io.threads); break;
        case O_JSON: io.json = go.arg; break;
        case O_STRICT: io.strict = 1; break;
        case O_CACHE: io.cache_dir = go.arg; break;
        case O_NO_CACHE: io.no_cache = 1; break;
        case O_FULL: io.full_decode = 1; break;
        case 'h':
            printf("usage: resnet-cl [--device N] eval --checkpoint FILE --data DIR [--split test|train]\n"
                   "                 [--batch-size B] [--per-class K] [--model M [model options]]\n"
                   "       resnet-cl [--device N] eval --checkpoint FILE --data DIR [--split S]\n"
                   "                 [--ten-crop | --center-crop] [--resize R] [--crop C] [--threads T]\n"
                   "                 [--batch-size B] [--json FILE] [--strict-data] [--full-decode]\n"
                   "                 [--cache-dir D] [--no-index-cache] [--model M --normalize]\n"
                   "  prints the split's average loss and accuracy (\"Test set: ...\" or \"Train set: ...\");\n"
                   "  the data must have the checkpoint's classes (by name when it records them)\n"
                   "  and image size. A file without resnet-cl's metadata (a PyTorch state dict)\n"
                   "  needs the model given:\n"
                   "  --model M            its architecture (classes from fc.weight, input size from the data)\n"
                   "  --normalize          it was trained on mean/std-normalized inputs (with the\n"
                   "                       ImageNet transforms: torchvision's mean 0.485 0.456 0.406,\n"
                   "                       std 0.229 0.224 0.225)\n"
                   "  ImageNet (docs/imagenet.md, \"Evaluation\"): a checkpoint that records the\n"
                   "  imagenet pipeline, or --ten-crop / --center-crop, reads an ImageNet-style\n"
                   "  folder (DIR/val when it exists, else DIR; --split S: DIR/S) and prints the\n"
                   "  top-1 and top-5 error:\n"
                   "  --center-crop        shorter side R, the centre C x C (the default)\n"
                   "  --ten-crop           the paper's 10 crops (corners, centre, and their flips),\n"
                   "                       softmax averaged over the 10\n"
                   "  --resize R, --crop C the checkpoint's (else 256, 224)\n"
                   "  --threads T          decoding workers (default: the online CPUs)\n"
                   "  --batch-size B       images a batch (default 50; 5 with --ten-crop)\n"
                   "  --json FILE          the result as JSON too (written atomically)\n"
                   "  --strict-data        stop at the first undecodable file (default: name it, skip it)\n"
                   "  --full-decode        no DCT scaling (decode every JPEG at full size)\n"
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
    if (io.ten_crop && io.center_crop) {
        fprintf(stderr, "resnet-cl eval: --ten-crop and --center-crop exclude each other: give one\n");
        return 2;
    }
    if (cli_parse_only) return CLI_PARSED;
    rcl_checkpoint_info info = {0};
    if (cli_checkpoint_info(ckpt, &wo, &info)) return 1;
    int weights_only = info.in_h == 0;   /* a resnet-cl checkpoint records its input size */
    rcl_input_record rec;
    int rst = rcl_checkpoint_read_input(ckpt, &rec, NULL);
    if (rst) {
        cli_report("reading the checkpoint's input record", rst);
        free(info.class_names);
        return 1;
    }
    if (rec.pipeline == RCL_PIPELINE_IMAGENET || io.ten_crop || io.center_crop) {
        if (per_class) {
            fprintf(stderr, "resnet-cl eval: --per-class is for CIFAR-style data; the ImageNet "
                    "transforms evaluate every file of the split\n");
            free(info.class_names);
            return 2;
        }
        io.batch = batch;
        int rc = eval_imagenet(g, ckpt, &info, weights_only, data, split, &io);
        free(info.class_names);
        return rc;
    }
    if (io.resize || io.crop || io.threads || io.json || io.strict || io.cache_dir || io.no_cache ||
        io.full_decode) {
        fprintf(stderr, "resnet-cl eval: --resize, --crop, --threads, --json, --strict-data, "
                "--full-decode, --cache-dir and --no-index-cache are for the ImageNet transforms: "
                "%s records the cifar pipeline (add --center-crop or --ten-crop to use them)\n",
                ckpt);
        free(info.class_names);
        return 2;
    }
    if (!split) split = "test";
    if (!batch) batch = 100;
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
