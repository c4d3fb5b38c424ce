/* resnet-cl mean-image: the per-pixel mean of a training set, as the paper
 * subtracts it (He et al. 2016, section 3.4, after Krizhevsky et al. 2012):
 * each image's shorter side resized to 256 and its centre 224 x 224 crop,
 * averaged over every image, saved next to the set's index (mean.bin). */
#include "cli/cli.h"
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_mean_image(const cli_globals *g, int argc, char **argv)
{
    (void)g;
    cli_index_args ia = {0};
    rcl_stream_options so = {.batch_size = 32, .threads = 1};
    const char *out = NULL;
    enum { O_DATA = CLI_OPT_FIRST, O_SPLIT, O_THREADS, O_OUT, O_CACHE, O_NO_CACHE, O_CLASSES,
           O_STRICT };
    static const struct option opts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"split", required_argument, NULL, O_SPLIT},
        {"threads", required_argument, NULL, O_THREADS},
        {"out", required_argument, NULL, O_OUT},
        {"cache-dir", required_argument, NULL, O_CACHE},
        {"no-index-cache", no_argument, NULL, O_NO_CACHE},
        {"classes", required_argument, NULL, O_CLASSES},
        {"strict-data", no_argument, NULL, O_STRICT},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl mean-image", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        int bad = 0;
        switch (c) {
        case O_DATA: ia.data = go.arg; break;
        case O_SPLIT: ia.split = go.arg; break;
        case O_THREADS: bad = cli_getopt_int(&go, 1, 256, &so.threads); break;
        case O_OUT: out = go.arg; break;
        case O_CACHE: ia.cache_dir = go.arg; break;
        case O_NO_CACHE: ia.no_cache = 1; break;
        case O_CLASSES: ia.classes_file = go.arg; break;
        case O_STRICT: so.strict = 1; break;
        case 'h':
            printf("usage: resnet-cl mean-image --data DIR [--threads T] [--out FILE] [--split S]\n"
                   "                 [--strict-data] [--cache-dir D] [--no-index-cache]\n"
                   "                 [--classes FILE]\n"
                   "  The per-pixel mean (3 x 224 x 224, values in [0, 1]) of the training\n"
                   "  images, each resized to shorter side 256 and centre-cropped to 224, saved\n"
                   "  as mean.bin next to the data's index (or --out FILE), where training and\n"
                   "  bench-loader find it. Undecodable files are named and left out.\n");
            return 0;
        default: return 2;
        }
        if (bad) return 2;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    if (!ia.data) {
        fprintf(stderr, "resnet-cl mean-image: --data DIR is required (the training set, e.g. "
                        "/data/imagenet)\n");
        return 2;
    }
    if (cli_parse_only) return CLI_PARSED;

    rcl_file_index ix;
    if (cli_index_open(&ia, &ix)) return 1;
    char *path = out ? strdup(out) : rcl_file_index_side_path(&ix, "mean.bin");
    if (!path) {
        fprintf(stderr, "resnet-cl mean-image: no writable place for the index next to %s or in "
                        "the user cache; give --out FILE or --cache-dir DIR\n", ia.data);
        rcl_file_index_destroy(&ix);
        return 1;
    }
    size_t n = (size_t)3 * 224 * 224;
    double *sum = calloc(n, sizeof(double));
    float *x = malloc(sizeof(float) * n * (size_t)so.batch_size), *mean = malloc(sizeof(float) * n);
    int *y = malloc(sizeof(int) * (size_t)so.batch_size);
    rcl_stream *s = NULL;
    int st = sum && x && mean && y ? rcl_stream_create(&s, &ix, &so) : RCL_ERR_NOMEM;
    if (st == RCL_OK) st = rcl_stream_begin_epoch(s, 0);
    long long count = 0;
    double t0 = rcl_now_s();
    for (int got; st == RCL_OK;) {
        st = rcl_stream_next(s, x, y, &got);
        if (st != RCL_OK || got == 0) break;
        for (int k = 0; k < got; k++) {
            const float *p = x + n * (size_t)k;
            for (size_t i = 0; i < n; i++) sum[i] += p[i];
        }
        count += got;
    }
    if (st == RCL_OK) cli_report_skipped(s, "mean image");
    if (st == RCL_OK && count == 0) {
        fprintf(stderr, "resnet-cl mean-image: no image of %s could be decoded\n", ix.dir);
        st = RCL_ERR_FORMAT;
    } else if (st == RCL_OK) {
        double ch[3] = {0, 0, 0};
        for (size_t i = 0; i < n; i++) {
            mean[i] = (float)(sum[i] / (double)count);
            ch[i / (224 * 224)] += sum[i] / (double)count / (224.0 * 224.0);
        }
        st = rcl_mean_image_save(path, mean, 3, 224, 224, count);
        if (st != RCL_OK) cli_report("writing the mean image", st);
        else
            printf("mean image of %lld images (%.1f s): %s; channel means R %.4f G %.4f B %.4f\n",
                   count, rcl_now_s() - t0, path, ch[0], ch[1], ch[2]);
    } else {
        cli_report("computing the mean image", st);
    }
    rcl_stream_destroy(s);
    free(sum);
    free(x);
    free(mean);
    free(y);
    free(path);
    rcl_file_index_destroy(&ix);
    return st == RCL_OK ? 0 : 1;
}
