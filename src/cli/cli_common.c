#include "cli/cli.h"
#include "base/base.h" /* rcl_atomic_write_errno */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_report(const char *what, int status)
{
    const char *d = rcl_last_error();
    if (d && *d) fprintf(stderr, "resnet-cl: %s: %s: %s\n", what, rcl_strerror(status), d);
    else fprintf(stderr, "resnet-cl: %s: %s\n", what, rcl_strerror(status));
}

void cli_report_bad_device(int idx, const rcl_device_info *devs, int n)
{
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

int cli_model_from_checkpoint(rcl_ctx *ctx, const char *path, int batch, rcl_model **m,
                              rcl_checkpoint_info *info)
{
    *m = NULL;
    int st = rcl_checkpoint_info_read(path, info);
    if (st) return st;
    rcl_model_config mc = rcl_model_config_default();
    mc.num_classes = info->num_classes;
    mc.in_h = info->in_h;
    mc.in_w = info->in_w;
    mc.batch = batch;
    mc.stride_on = info->stride_on_1x1 ? RCL_STRIDE_ON_1X1 : RCL_STRIDE_ON_3X3;
    mc.norm = info->norm;
    mc.init = info->init;
    char msg[1024];
    st = cli_memory_fits(ctx, info->arch, &mc, 0, msg, sizeof msg);
    if (st > 0) return rcl_fail(RCL_ERR_DEVICE_NOMEM, "%s", msg);
    if (st == RCL_OK) st = rcl_model_create(m, ctx, info->arch, &mc);
    if (!st) st = rcl_checkpoint_load(*m, NULL, NULL, path);
    if (st) {
        rcl_model_destroy(*m);
        *m = NULL;
    }
    return st;
}

int cli_check_checkpoint(const char *path)
{
    rcl_checkpoint_info info = {0};
    int st = rcl_checkpoint_info_read(path, &info);
    free(info.class_names);
    if (st) cli_report("loading checkpoint", st);
    return st;
}

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
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
