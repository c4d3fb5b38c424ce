#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    st = rcl_model_create(m, ctx, info->arch, &mc);
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
