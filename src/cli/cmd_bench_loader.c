/* resnet-cl bench-loader: the throughput of the streaming data pipeline
 * (read, decode, resize, crop/augment on --threads workers), with the time
 * each stage took per image. No device is opened. */
#include "cli/cli.h"
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

int cli_bench_loader(const cli_globals *g, int argc, char **argv)
{
    (void)g;
    cli_index_args ia = {0};
    rcl_stream_options so = {.batch_size = 32, .threads = 1, .train = 1, .shuffle = 1,
                             .lighting = 0.1f, .seed = 1};
    int images = 1000, seed = 1;
    enum { O_DATA = CLI_OPT_FIRST, O_SPLIT, O_THREADS, O_BATCH, O_IMAGES, O_EVAL, O_FULL,
           O_LIGHTING, O_SEED, O_CACHE, O_NO_CACHE, O_CLASSES, O_STRICT, O_PREFETCH };
    static const struct option opts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"split", required_argument, NULL, O_SPLIT},
        {"threads", required_argument, NULL, O_THREADS},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"images", required_argument, NULL, O_IMAGES},
        {"eval", no_argument, NULL, O_EVAL},
        {"full-decode", no_argument, NULL, O_FULL},
        {"lighting", required_argument, NULL, O_LIGHTING},
        {"seed", required_argument, NULL, O_SEED},
        {"cache-dir", required_argument, NULL, O_CACHE},
        {"no-index-cache", no_argument, NULL, O_NO_CACHE},
        {"classes", required_argument, NULL, O_CLASSES},
        {"strict-data", no_argument, NULL, O_STRICT},
        {"prefetch", required_argument, NULL, O_PREFETCH},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl bench-loader", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        int bad = 0;
        switch (c) {
        case O_DATA: ia.data = go.arg; break;
        case O_SPLIT: ia.split = go.arg; break;
        case O_THREADS: bad = cli_getopt_int(&go, 1, 256, &so.threads); break;
        case O_BATCH: bad = cli_getopt_int(&go, 1, 4096, &so.batch_size); break;
        case O_IMAGES: bad = cli_getopt_int(&go, 1, 1 << 30, &images); break;
        case O_EVAL: so.train = 0; break;
        case O_FULL: so.full_decode = 1; break;
        case O_LIGHTING: bad = cli_getopt_float(&go, 0, 1, &so.lighting); break;
        case O_SEED: bad = cli_getopt_int(&go, 0, 1 << 30, &seed); break;
        case O_CACHE: ia.cache_dir = go.arg; break;
        case O_NO_CACHE: ia.no_cache = 1; break;
        case O_CLASSES: ia.classes_file = go.arg; break;
        case O_STRICT: so.strict = 1; break;
        case O_PREFETCH: bad = cli_getopt_int(&go, 2, 64, &so.prefetch); break;
        case 'h':
            printf("usage: resnet-cl bench-loader --data DIR [--threads T] [--batch-size B]\n"
                   "                 [--images N] [--eval] [--full-decode] [--lighting S]\n"
                   "                 [--split S] [--seed N] [--prefetch K] [--strict-data]\n"
                   "                 [--cache-dir D] [--no-index-cache] [--classes FILE]\n"
                   "  Runs the ImageNet input pipeline (docs/imagenet.md) without a device and\n"
                   "  reports images/s and the time per image of each stage (read, decode,\n"
                   "  resize, crop/augment; summed over the workers).\n"
                   "  --data DIR       DIR/train/<wnid>/*.JPEG, or DIR/<wnid>/*.JPEG, or a flat\n"
                   "                   val folder with its ground truth (--split val)\n"
                   "  --threads T      decoding workers (default 1)\n"
                   "  --images N       images to prepare, over as many epochs as it takes\n"
                   "                   (default 1000); the first batch is not timed\n"
                   "  --eval           the evaluation transform (shorter side 256, centre 224)\n"
                   "                   instead of the paper's training augmentation\n"
                   "  --full-decode    no DCT scaling (decode every JPEG at full size)\n"
                   "  --lighting S     PCA colour noise sigma (default 0.1; 0: off)\n");
            return 0;
        default: return 2;
        }
        if (bad) return 2;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    if (!ia.data) {
        fprintf(stderr, "resnet-cl bench-loader: --data DIR is required (an ImageNet-style "
                        "folder, e.g. ../shared/data/imagenet-sample)\n");
        return 2;
    }
    if (cli_parse_only) return CLI_PARSED;
    so.seed = (uint64_t)seed;

    rcl_file_index ix;
    if (cli_index_open(&ia, &ix)) return 1;
    float *mean = NULL;
    char *mean_path = rcl_file_index_side_path(&ix, "mean.bin");
    int mc, mh, mw;
    int64_t mcount;
    if (mean_path && rcl_mean_image_load(mean_path, &mean, &mc, &mh, &mw, &mcount) == RCL_OK) {
        if (mc == 3 && mh == 224 && mw == 224) {
            so.mean = mean;
            fprintf(stderr, "resnet-cl: subtracting the mean image %s\n", mean_path);
        } else {
            fprintf(stderr, "resnet-cl: not using the mean image %s: it is %dx%dx%d, not 3x224x224\n",
                    mean_path, mc, mh, mw);
        }
    }
    free(mean_path);
    rcl_stream *s = NULL;
    int st = rcl_stream_create(&s, &ix, &so);
    if (st != RCL_OK) {
        cli_report("starting the loader", st);
        free(mean);
        rcl_file_index_destroy(&ix);
        return 1;
    }
    size_t sample = (size_t)3 * 224 * 224;
    float *x = malloc(sizeof(float) * sample * (size_t)so.batch_size);
    int *y = malloc(sizeof(int) * (size_t)so.batch_size);
    if (!x || !y) {
        fprintf(stderr, "resnet-cl bench-loader: out of memory for a batch of %d\n", so.batch_size);
        st = RCL_ERR_NOMEM;
    }
    long long done = 0, timed = 0;
    double t0 = 0, c0 = 0;
    rcl_stream_stats s0 = {0};
    int epoch = 0, count = 0, batches = 0;
    if (st == RCL_OK) st = rcl_stream_begin_epoch(s, 0);
    while (st == RCL_OK && done < images) {
        st = rcl_stream_next(s, x, y, &count);
        if (st != RCL_OK) break;
        if (count == 0) {   /* end of the epoch */
            cli_report_skipped(s, "epoch end");
            st = rcl_stream_begin_epoch(s, ++epoch);
            continue;
        }
        done += count;
        if (++batches == 1) {   /* the clock starts after the first batch */
            t0 = rcl_now_s();
            c0 = cpu_s();
            rcl_stream_stats_get(s, &s0);
        } else {
            timed += count;
        }
    }
    double wall = rcl_now_s() - t0, cpu = cpu_s() - c0;
    rcl_stream_stats s1;
    rcl_stream_stats_get(s, &s1);
    if (st != RCL_OK) {
        cli_report("loading", st);
    } else {
        cli_report_skipped(s, "last epoch");
        long long n = (long long)(s1.images - s0.images);
        double per = n > 0 ? 1e3 / (double)n : 0;
        printf("bench-loader: %s, %s transform%s, %d thread%s, batch %d\n", ix.dir,
               so.train ? "training (scale 256-480, crop 224, flip, lighting)" : "evaluation (256, centre 224)",
               so.full_decode ? ", full decode" : ", DCT scaling", so.threads,
               so.threads == 1 ? "" : "s", so.batch_size);
        if (timed == 0 || wall <= 0) {
            printf("too few images to time (%lld): use --images N with N above the batch size\n",
                   done);
        } else {
            printf("images/s: %.1f (%lld images in %.2f s; %.1f per CPU-second, %.2f CPU cores busy)\n",
                   (double)timed / wall, timed, wall, cpu > 0 ? (double)timed / cpu : 0.0,
                   cpu / wall);
            printf("per image (worker time): read %.3f ms, decode %.3f ms, resize %.3f ms, "
                   "crop/augment %.3f ms\n",
                   (s1.read_s - s0.read_s) * per, (s1.decode_s - s0.decode_s) * per,
                   (s1.resize_s - s0.resize_s) * per, (s1.augment_s - s0.augment_s) * per);
        }
    }
    free(x);
    free(y);
    rcl_stream_destroy(s);
    free(mean);
    rcl_file_index_destroy(&ix);
    return st == RCL_OK ? 0 : 1;
}
