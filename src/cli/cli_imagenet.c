/* Shared by the streaming-data commands (bench-loader, mean-image, eval,
 * predict, recompute-bn): the --data options, opening the index with one
 * line about it, the report of the files an epoch skipped, and how a
 * checkpoint's images are prepared. */
#include "cli/cli.h"
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cli_index_open(const cli_index_args *a, rcl_file_index *ix)
{
    const char *split = a->split;
    if (!split) {   /* DIR/train (eval: DIR/val) when there is one, else DIR itself */
        const char *want = a->eval ? "val" : "train";
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", a->data, want);
        split = stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) ? want : "";
    }
    rcl_index_options o = {.cache_dir = a->cache_dir, .classes_file = a->classes_file,
                           .no_cache = a->no_cache};
    double t0 = rcl_now_s();
    int st = rcl_file_index_open(ix, a->data, split, &o);
    if (st != RCL_OK) {
        cli_report("reading the data", st);
        return 1;
    }
    fprintf(stderr,
            "resnet-cl: %s: %d files, %d of %d classes (labels from %s); index %s in %.2f s%s%s\n",
            ix->dir, ix->n, ix->classes_present, ix->num_classes, ix->class_source,
            ix->from_cache ? "read from the cache" : "built", rcl_now_s() - t0,
            ix->cache_path ? ", " : " (not cached)", ix->cache_path ? ix->cache_path : "");
    return 0;
}

void cli_report_skipped(const rcl_stream *s, const char *when)
{
    rcl_stream_stats st;
    rcl_stream_stats_get(s, &st);
    if (st.skipped == 0) return;
    const char *line;
    for (int i = 0; (line = rcl_stream_skipped(s, i)) != NULL; i++)
        fprintf(stderr, "resnet-cl: skipped %s\n", line);
    fprintf(stderr,
            "resnet-cl: %s: %lld undecodable file%s skipped (--strict-data stops at the first "
            "instead)\n",
            when, (long long)st.skipped, st.skipped == 1 ? "" : "s");
}

int cli_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

const float cli_torchvision_mean[3] = {0.485f, 0.456f, 0.406f};
const float cli_torchvision_std[3] = {0.229f, 0.224f, 0.225f};

/* A 3 x crop x crop image of per-channel values. */
float *cli_channel_image(const float v[3], int crop)
{
    size_t plane = (size_t)crop * crop;
    float *m = malloc(sizeof(float) * 3 * plane);
    for (int c = 0; m && c < 3; c++)
        for (size_t i = 0; i < plane; i++) m[c * plane + i] = v[c];
    return m;
}

int cli_input_prep_load(const char *ckpt, const rcl_checkpoint_info *info, int weights_only,
                        int resize, int crop, cli_input_prep *p)
{
    memset(p, 0, sizeof *p);
    rcl_input_record rec;
    float *mean = NULL;
    int st = rcl_checkpoint_read_input(ckpt, &rec, &mean);
    if (st) {
        cli_report("reading the checkpoint's input record", st);
        return 1;
    }
    p->imagenet = rec.pipeline == RCL_PIPELINE_IMAGENET;
    p->resize = resize ? resize : p->imagenet ? rec.resize : 256;
    p->crop = crop ? crop : p->imagenet ? rec.crop : 224;
    for (int c = 0; c < 3; c++) p->std[c] = 1;
    p->norm = "x/255 (no mean, no std)";
    if (p->resize < p->crop) {
        fprintf(stderr, "resnet-cl: resize %d is below the crop %d: the shorter side must reach "
                "the crop (--resize R >= --crop C)\n", p->resize, p->crop);
        free(mean);
        return 1;
    }
    if (p->imagenet) {
        for (int c = 0; c < 3; c++) p->std[c] = rec.std[c];
        if (mean && rec.crop != p->crop) {
            fprintf(stderr, "resnet-cl: %s records a 3x%dx%d mean image; --crop %d needs one of "
                    "that size (omit --crop to use %d)\n", ckpt, rec.crop, rec.crop, p->crop,
                    rec.crop);
            free(mean);
            return 1;
        }
        p->mean = mean;
        p->norm = mean ? "the checkpoint's mean image and std"
                       : "the checkpoint's std (no mean image)";
        return 0;
    }
    free(mean);
    if (info->normalize) {   /* per-channel statistics, as torchvision's Normalize */
        static const float cf_mean[3] = {0.4914f, 0.4822f, 0.4465f},
                           cf_std[3] = {0.2470f, 0.2435f, 0.2616f};
        const float *m = weights_only ? cli_torchvision_mean : cf_mean,
                    *sd = weights_only ? cli_torchvision_std : cf_std;
        p->mean = cli_channel_image(m, p->crop);
        if (!p->mean) {
            cli_report("mean image", RCL_ERR_NOMEM);
            return 1;
        }
        for (int c = 0; c < 3; c++) p->std[c] = sd[c];
        p->norm = weights_only ? "torchvision's ImageNet mean and std (--normalize)"
                               : "CIFAR-10's mean and std (the checkpoint was trained normalized)";
    }
    return 0;
}

void cli_input_prep_free(cli_input_prep *p)
{
    free(p->mean);
    p->mean = NULL;
}

int cli_check_index_classes(const char *ckpt, const rcl_checkpoint_info *info,
                            const rcl_file_index *ix)
{
    char what[4096], from[4096];
    snprintf(what, sizeof what, "the data (%s)", ix->dir);
    snprintf(from, sizeof from, "the checkpoint (%s)", ckpt);
    if (!info->class_names) {
        if (info->num_classes == ix->num_classes) return 0;
        fprintf(stderr, "resnet-cl: %s has %d classes but %s has %d (labels from %s)\n", ckpt,
                info->num_classes, what, ix->num_classes, ix->class_source);
        return 1;
    }
    int n = 1;
    for (const char *c = info->class_names; *c; c++) n += *c == ',';
    char **ids = calloc((size_t)n, sizeof(char *));
    char *copy = strdup(info->class_names);
    int st = ids && copy ? RCL_OK : RCL_ERR_NOMEM;
    if (st == RCL_OK) {
        char *save = NULL, *tok = strtok_r(copy, ",", &save);
        for (int k = 0; k < n && tok; k++, tok = strtok_r(NULL, ",", &save)) ids[k] = tok;
        st = rcl_class_lists_check(what, ix->class_ids, ix->num_classes, from, ids, n);
    }
    free(ids);
    free(copy);
    if (st) {
        cli_report("checking the classes", st);
        return 1;
    }
    return 0;
}
