/* resnet-cl predict: top-5 classes with probabilities for image files. */
#include "cli/cli.h"
#include "data/data_internal.h" /* rcl_read_file */
#include "tools/cli_model_opts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Display names from a synset words file: --synset-words FILE, else
 * synset_words.txt or LOC_synset_mapping.txt next to the checkpoint
 * (docs/imagenet.md); NULL without one. Reports and returns 1 on a bad
 * file. */
static int load_words(const char *given, const char *ckpt, const rcl_checkpoint_info *info,
                      char ***words)
{
    *words = NULL;
    char path[4096];
    const char *file = given;
    if (!file) {
        const char *slash = strrchr(ckpt, '/');
        int dn = slash ? (int)(slash - ckpt) : 1;
        const char *dir = slash ? ckpt : ".";
        static const char *const names[] = {"synset_words.txt", "LOC_synset_mapping.txt"};
        for (int i = 0; i < 2 && !file; i++) {
            snprintf(path, sizeof path, "%.*s/%s", dn, dir, names[i]);
            FILE *f = fopen(path, "r");
            if (f) {
                fclose(f);
                file = path;
            }
        }
        if (!file) return 0;
    }
    int K = info->num_classes;
    char **ids = NULL;
    if (info->class_names) {   /* the checkpoint's ids, split */
        ids = calloc((size_t)K, sizeof(char *));
        const char *p = info->class_names;
        for (int k = 0; ids && k < K && p; k++) {
            size_t n = strcspn(p, ",");
            ids[k] = malloc(n + 1);
            if (ids[k]) {
                memcpy(ids[k], p, n);
                ids[k][n] = 0;
            }
            p = p[n] ? p + n + 1 : NULL;
        }
    }
    int st = info->class_names && !ids ? RCL_ERR_NOMEM : rcl_class_words_load(file, ids, K, words);
    if (ids)
        for (int k = 0; k < K; k++) free(ids[k]);
    free(ids);
    if (st) {
        cli_report("reading the synset words", st);
        return 1;
    }
    return 0;
}

/* Name of class k from a comma-separated list, into buf. */
static const char *class_name(const char *csv, int k, char *buf, size_t cap)
{
    const char *p = csv;
    for (int i = 0; p && i < k; i++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    if (!p) {
        snprintf(buf, cap, "class %d", k);
        return buf;
    }
    size_t n = strcspn(p, ",");
    if (n >= cap) n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}

/* An ImageNet checkpoint's input: decoded as eval's stream decodes it (DCT
 * scaling down to the resize), shorter side resized, centre crop, minus the
 * mean image, divided by std (docs/imagenet.md, "Evaluation"). */
static int imagenet_input(const char *path, const cli_input_prep *prep, float **out)
{
    *out = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    rcl_image img = {0};
    int st = rcl_read_file(path, &buf, &len);
    if (!st) st = rcl_image_decode_scaled(buf, len, path, prep->resize, &img);
    free(buf);
    size_t plane = (size_t)prep->crop * prep->crop;
    float *f = st ? NULL : malloc(3 * plane * sizeof *f);
    if (!st && !f) st = rcl_fail(RCL_ERR_NOMEM, "image");
    if (!st) st = rcl_imagenet_center_crop(f, &img, prep->resize, prep->crop, prep->mean);
    for (size_t i = 0; !st && i < 3 * plane; i++) f[i] *= 1.0f / prep->std[i / plane];
    rcl_image_free(&img);
    if (st) free(f);
    else *out = f;
    return st;
}

static int predict_one(rcl_model *m, const rcl_checkpoint_info *info, rcl_tensor *x,
                       const char *path, char **words, const cli_input_prep *prep)
{
    rcl_image img = {0};
    int st = RCL_OK;
    int H = info->in_h, W = info->in_w;
    size_t plane = (size_t)H * W;
    uint8_t *px = NULL, *resized = NULL;
    float *f = NULL;
    if (prep) {
        st = imagenet_input(path, prep, &f);
    } else if ((st = rcl_image_load(path, &img)) == RCL_OK) {
        px = img.data;
    }
    if (!st && !prep && (img.h != H || img.w != W)) {
        resized = malloc(3 * plane);
        if (!resized) st = rcl_fail(RCL_ERR_NOMEM, "resize");
        else st = rcl_resize_bilinear(resized, H, W, img.data, 3, img.h, img.w);
        px = resized;
    }
    if (!st && !prep && !(f = malloc(3 * plane * sizeof *f))) st = rcl_fail(RCL_ERR_NOMEM, "image");
    static const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, sd[3] = {0.2470f, 0.2435f, 0.2616f};
    for (size_t i = 0; !st && !prep && i < 3 * plane; i++) {
        float v = px[i] / 255.0f;
        f[i] = info->normalize ? (v - mean[i / plane]) / sd[i / plane] : v;
    }
    rcl_ctx *ctx = rcl_model_ctx(m);
    const rcl_tensor *logits = NULL;
    rcl_tensor x1 = *x;
    x1.n = 1;
    if (!st) st = rcl_tensor_write(ctx, &x1, f);
    if (!st) st = rcl_model_forward(m, &x1, 0, &logits);
    int K = info->num_classes;
    float *l = st ? NULL : malloc((size_t)K * sizeof *l);
    if (!st && !l) st = rcl_fail(RCL_ERR_NOMEM, "logits");
    if (!st) st = rcl_tensor_read(ctx, logits, l);
    if (!st) {
        double mx = l[0], sum = 0;
        for (int k = 1; k < K; k++) mx = l[k] > mx ? l[k] : mx;
        for (int k = 0; k < K; k++) sum += exp(l[k] - mx);
        printf("%s:\n", path);
        int used[5] = {-1, -1, -1, -1, -1};
        for (int t = 0; t < 5 && t < K; t++) {
            int best = -1;
            for (int k = 0; k < K; k++) {
                int taken = 0;
                for (int u = 0; u < t; u++) taken |= used[u] == k;
                if (!taken && (best < 0 || l[k] > l[best])) best = k;
            }
            used[t] = best;
            char name[128];
            const char *id = class_name(info->class_names, best, name, sizeof name);
            if (words && strcmp(words[best], id) != 0 && info->class_names)
                printf("  %6.2f%%  %s (%s)\n", 100.0 * exp(l[best] - mx) / sum, words[best], id);
            else
                printf("  %6.2f%%  %s\n", 100.0 * exp(l[best] - mx) / sum, words ? words[best] : id);
        }
    }
    free(l);
    free(f);
    free(resized);
    rcl_image_free(&img);
    return st;
}

int cli_predict(const cli_globals *g, int argc, char **argv)
{
    const char *ckpt = NULL, *words_file = NULL;
    cli_weights_opts wo = {.mc = rcl_model_config_default(), .in_h = 32, .in_w = 32};
    enum { O_CHECKPOINT = CLI_OPT_FIRST, O_MODEL, O_INPUT, O_NORMALIZE, O_WORDS };
    static const struct option opts[] = {
        {"checkpoint", required_argument, NULL, O_CHECKPOINT},
        {"model", required_argument, NULL, O_MODEL},
        {"input", required_argument, NULL, O_INPUT},
        {"normalize", no_argument, NULL, O_NORMALIZE},
        {"synset-words", required_argument, NULL, O_WORDS},
        CLI_MODEL_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl predict", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        int bad = 0;
        switch (c) {
        case O_CHECKPOINT: ckpt = go.arg; break;
        case O_MODEL:
            if (!rcl_model_arch_known(go.arg))
                bad = cli_getopt_bad(&go, "a model from resnet-cl summary --list");
            wo.arch = go.arg;
            break;
        case O_INPUT: bad = cli_getopt_hxw(&go, &wo.in_h, &wo.in_w); break;
        case O_NORMALIZE: wo.normalize = 1; break;
        case O_WORDS: words_file = go.arg; break;
        case 'h':
            printf("usage: resnet-cl [--device N] predict --checkpoint FILE [--model M [...]] IMAGE...\n"
                   "  prints the top-5 classes with probabilities for each JPEG/PNG image\n"
                   "  (resized to the model's input size; a checkpoint that records the imagenet\n"
                   "  pipeline: shorter side to its resize, centre crop, its mean image and std,\n"
                   "  as eval --center-crop). A file without resnet-cl's metadata\n"
                   "  (a PyTorch state dict) needs the model given:\n"
                   "  --model M            its architecture (classes from fc.weight's rows)\n"
                   "  --input HxW          its input size (default 32x32)\n"
                   "  --normalize          it was trained on mean/std-normalized inputs\n"
                   "  --synset-words FILE  class names from FILE ('n01440764 tench, Tinca tinca'\n"
                   "                       lines); default: synset_words.txt or\n"
                   "                       LOC_synset_mapping.txt next to the checkpoint\n"
                   CLI_MODEL_OPTIONS_HELP);
            return 0;
        default:
            if (c < CLI_MO_FIRST || c >= CLI_MO_LAST) return 2;
            bad = cli_model_opt(&go, c, &wo.mc);
        }
        if (bad) return 2;
    }
    /* the images: everything from the first operand (or after "--") on */
    int first_image = cli_getopt_operand(&go);
    if (!ckpt || first_image >= argc) {
        fprintf(stderr, "resnet-cl predict: need --checkpoint FILE and at least one image\n");
        return 2;
    }
    if (cli_parse_only) return CLI_PARSED;
    rcl_checkpoint_info info = {0};
    if (cli_checkpoint_info(ckpt, &wo, &info)) return 1;
    char **words = NULL;
    if (load_words(words_file, ckpt, &info, &words)) {
        free(info.class_names);
        return 1;
    }
    /* an ImageNet checkpoint: its resize, centre crop, mean image and std */
    rcl_input_record rec;
    int rst = rcl_checkpoint_read_input(ckpt, &rec, NULL);
    cli_input_prep prep = {0};
    int imagenet = !rst && rec.pipeline == RCL_PIPELINE_IMAGENET;
    if (rst) cli_report("reading the checkpoint's input record", rst);
    if (rst || (imagenet && cli_input_prep_load(ckpt, &info, 0, 0, 0, &prep))) {
        rcl_class_words_free(words, info.num_classes);
        free(info.class_names);
        return 1;
    }
    if (imagenet) info.in_h = info.in_w = prep.crop;
    rcl_ctx *ctx = NULL;
    if (cli_open_device(g, &ctx, NULL, 1)) {
        rcl_class_words_free(words, info.num_classes);
        free(info.class_names);
        cli_input_prep_free(&prep);
        return 1;
    }
    rcl_model *m = NULL;
    rcl_tensor x = {0};
    int st = cli_model_from_checkpoint(ctx, ckpt, 1, &info, &m);
    if (st) cli_report("loading checkpoint", st);
    else if ((st = rcl_tensor_create(ctx, &x, 1, 3, info.in_h, info.in_w))) cli_report("input", st);
    int failed = st != 0;
    for (int i = first_image; !st && i < argc; i++) {
        int s = predict_one(m, &info, &x, argv[i], words, imagenet ? &prep : NULL);
        if (s) {
            cli_report(argv[i], s);
            failed = 1;
        }
    }
    rcl_tensor_destroy(&x);
    rcl_model_destroy(m);
    rcl_class_words_free(words, info.num_classes);
    free(info.class_names);
    cli_input_prep_free(&prep);
    rcl_ctx_destroy(ctx);
    return failed ? 1 : 0;
}
