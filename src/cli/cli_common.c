#include "cli/cli.h"
#include "base/base.h" /* rcl_atomic_write_errno */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_report(const char *what, int status)
{
    const char *d = rcl_last_error();
    /* RCL_ERR_FORMAT's text ("malformed or truncated file") is wrong for a
     * valid file of the wrong kind (another model, an image of another size);
     * the detail names the file and the problem either way */
    if (d && *d && status == RCL_ERR_FORMAT) fprintf(stderr, "resnet-cl: %s: %s\n", what, d);
    else if (d && *d) fprintf(stderr, "resnet-cl: %s: %s: %s\n", what, rcl_strerror(status), d);
    else fprintf(stderr, "resnet-cl: %s: %s\n", what, rcl_strerror(status));
}

void cli_report_bad_device(int idx, const rcl_device_info *devs, int n)
{
    const char *env = getenv("RESNET_CL_DEVICE");
    if (idx < 0 && env) /* rcl_device_default_index: malformed variable */
        fprintf(stderr, "resnet-cl: RESNET_CL_DEVICE='%s' is not a device index (want a number "
                        "from resnet-cl devices, or unset it); %d device%s found:", env, n,
                n == 1 ? "" : "s");
    else
        fprintf(stderr, "resnet-cl: device %d does not exist; %d device%s found:", idx, n,
                n == 1 ? "" : "s");
    for (int i = 0; i < n; i++)
        fprintf(stderr, " [%d] %s (%s)%s", i, devs[i].name, devs[i].platform_name, i + 1 < n ? ";" : "");
    fprintf(stderr, "\n");
}

int cli_open_device(const cli_globals *g, rcl_ctx **ctx, const rcl_ctx_options *opt, int tuned)
{
    int idx = rcl_device_default_index(g->device);
    rcl_device_info devs[RCL_MAX_DEVICES];
    int n = 0;
    int st = rcl_devices_list(devs, RCL_MAX_DEVICES, &n);
    if (st != RCL_OK) {
        char hint[2048];
        if (rcl_icd_hint(hint, sizeof hint) > 0)
            fprintf(stderr, "resnet-cl: no OpenCL device found: %s\n", hint);
        else
            fprintf(stderr, "resnet-cl: no OpenCL device found (install an OpenCL driver, e.g. "
                            "pocl-opencl-icd; see README)\n");
        return st;
    }
    if (idx < 0 || idx >= n) {
        cli_report_bad_device(idx, devs, n);
        return RCL_ERR_DEVICE_INDEX;
    }
    st = rcl_ctx_create(ctx, idx, opt);
    if (st != RCL_OK) {
        cli_report("opening device", st);
        return st;
    }
    if (tuned && !g->no_tune_cache) {
        char msg[1200];
        int ts = rcl_tune_cache_load(*ctx, NULL, msg, sizeof msg);
        if (ts == RCL_OK) fprintf(stderr, "resnet-cl: %s\n", msg);
        else if (ts != RCL_ERR_NOT_FOUND) fprintf(stderr, "resnet-cl: warning: tune cache ignored: %s\n", msg);
    }
    return RCL_OK;
}

char *cli_join_names(char **names, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(names[i]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) strcat(s, ",");
        strcat(s, names[i]);
    }
    return s;
}

/* info from `wo` and fc.weight's rows for a file without resnet-cl's
 * metadata: RCL_OK; RCL_ERR_FORMAT with a message; 1 when the file does
 * have the metadata (its own error stands). */
static int weights_only_info(const char *path, const cli_weights_opts *wo, rcl_checkpoint_info *info)
{
    rcl_st_file f;
    int st = rcl_st_open(&f, path);
    if (st) return st;
    const rcl_st_tensor *fc = rcl_st_find(&f, "fc.weight");
    if (rcl_st_metadata(&f, "arch")) {
        st = 1;
    } else if (!fc || fc->ndim != 2 || fc->shape[0] < 1 || fc->shape[0] > (1 << 24)) {
        st = rcl_fail(RCL_ERR_FORMAT, "%s: no 2-d tensor 'fc.weight' to take the number of "
                      "classes from", path);
    } else {
        memset(info, 0, sizeof *info);
        snprintf(info->arch, sizeof info->arch, "%s", wo->arch);
        info->num_classes = (int)fc->shape[0];
        info->in_h = wo->in_h;
        info->in_w = wo->in_w;
        info->norm = wo->mc.norm;
        info->init = wo->mc.init;
        info->normalize = wo->normalize;
    }
    rcl_st_close(&f);
    return st;
}

int cli_checkpoint_info(const char *path, const cli_weights_opts *wo, rcl_checkpoint_info *info)
{
    memset(info, 0, sizeof *info);
    int st = rcl_checkpoint_info_read(path, info);
    if (st == RCL_OK) {
        if (wo && wo->arch && strcmp(wo->arch, info->arch))
            fprintf(stderr, "resnet-cl: note: %s records its model (%s); --model %s ignored\n", path,
                    info->arch, wo->arch);
        return RCL_OK;
    }
    if (st == RCL_ERR_FORMAT && wo && wo->arch) {
        char first[2048];
        snprintf(first, sizeof first, "%s", rcl_last_error());
        int ws = weights_only_info(path, wo, info);
        if (ws == RCL_OK) return RCL_OK;
        if (ws < 0) st = ws;
        else rcl_fail(st, "%s", first);
    }
    cli_report("loading checkpoint", st);
    return st;
}

int cli_model_from_checkpoint(rcl_ctx *ctx, const char *path, int batch,
                              const rcl_checkpoint_info *info, rcl_model **m)
{
    *m = NULL;
    rcl_model_config mc = rcl_model_config_default();
    mc.num_classes = info->num_classes;
    mc.in_h = info->in_h;
    mc.in_w = info->in_w;
    mc.batch = batch;
    mc.stride_on = info->stride_on_1x1 ? RCL_STRIDE_ON_1X1 : RCL_STRIDE_ON_3X3;
    mc.norm = info->norm;
    mc.init = info->init;
    char msg[1024];
    int st = cli_memory_fits(ctx, info->arch, &mc, 0, msg, sizeof msg);
    if (st > 0) return rcl_fail(RCL_ERR_DEVICE_NOMEM, "%s", msg);
    if (st == RCL_OK) st = rcl_model_create(m, ctx, info->arch, &mc);
    if (!st) st = rcl_checkpoint_load(*m, NULL, NULL, path);
    if (st) {
        rcl_model_destroy(*m);
        *m = NULL;
    }
    return st;
}

int cli_getopt_hxw(const cli_getopt *g, int *h, int *w)
{
    char hs[16];
    const char *x = strchr(g->arg, 'x');
    size_t n = x ? (size_t)(x - g->arg) : 0;
    if (n) snprintf(hs, sizeof hs, "%.*s", (int)(n < sizeof hs ? n : sizeof hs - 1), g->arg);
    if (!n || n >= sizeof hs || cli_parse_int(hs, 1, 8192, h) || cli_parse_int(x + 1, 1, 8192, w))
        return cli_getopt_bad(g, "HxW, e.g. 32x32, each side 1..8192");
    return 0;
}

/* "1.50 GiB" */
static const char *gib(uint64_t b, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.1f GiB", (double)b / (1ull << 30));
    return buf;
}

int cli_memory_fits(rcl_ctx *ctx, const char *arch, const rcl_model_config *mc, int train,
                    char *msg, size_t cap)
{
    const rcl_device_info *d = rcl_ctx_device(ctx);
    uint64_t host = 0, limit = rcl_device_memory_limit(d, &host);
    if (!limit) return 0; /* the device does not say */
    rcl_model_memory est;
    int best = 0;
    int st = rcl_model_max_batch(ctx, arch, mc, train, limit, &best, &est);
    if (st) return st;
    if (est.total <= limit) return 0;
    char need[32], has[32], avail[32], fit[96];
    if (best > 0)
        snprintf(fit, sizeof fit, "the largest batch that fits is %d (--batch-size)", best);
    else
        snprintf(fit, sizeof fit, "not even a batch of 1 fits: choose a smaller model or input");
    if (host && host < d->global_mem)
        snprintf(msg, cap, "%s at batch %d (%dx%d) needs about %s of device memory; device %d (%s) "
                 "has %s, but its buffers are host memory, of which %s is available; %s", arch,
                 mc->batch, mc->in_h, mc->in_w, gib(est.total, need, sizeof need), d->index, d->name,
                 gib(d->global_mem, has, sizeof has), gib(host, avail, sizeof avail), fit);
    else
        snprintf(msg, cap, "%s at batch %d (%dx%d) needs about %s of device memory; device %d (%s) "
                 "has %s; %s", arch, mc->batch, mc->in_h, mc->in_w, gib(est.total, need, sizeof need),
                 d->index, d->name, gib(limit, has, sizeof has), fit);
    return 1;
}

int cli_check_memory(rcl_ctx *ctx, const char *arch, const rcl_model_config *mc, int train)
{
    char msg[1024];
    int st = cli_memory_fits(ctx, arch, mc, train, msg, sizeof msg);
    if (st > 0) fprintf(stderr, "resnet-cl: %s\n", msg);
    else if (st < 0) cli_report("building the model", st);
    return st != 0;
}

void cli_report_run_failure(const char *what, int status, const char *ckpt, int writing)
{
    int have = ckpt && access(ckpt, F_OK) == 0; /* written atomically: there iff complete */
    int err = writing ? rcl_atomic_write_errno() : 0;
    if (err)
        fprintf(stderr, "resnet-cl: cannot write checkpoint %s: %s; %s\n", ckpt, strerror(err),
                have ? "the previous checkpoint is intact" : "no checkpoint has been written yet");
    else {
        const char *d = rcl_last_error();
        fprintf(stderr, "resnet-cl: %s: %s%s%s", what, rcl_strerror(status), d && *d ? ": " : "",
                d ? d : "");
        if (!ckpt) fprintf(stderr, "\n");
        else if (have && writing) fprintf(stderr, "; the previous checkpoint is intact\n");
        else if (have)
            fprintf(stderr, "; the last checkpoint %s is intact (continue with --resume %s)\n", ckpt,
                    ckpt);
        else fprintf(stderr, "; no checkpoint has been written yet\n");
    }
}
