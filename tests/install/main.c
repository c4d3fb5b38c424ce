/* Lists the OpenCL devices and builds a tiny model through the installed
 * library: proof that headers, library and dependencies are all found. */
#include <stdio.h>

#include "rcl.h"

int main(void)
{
    rcl_device_info devs[RCL_MAX_DEVICES];
    int n = 0;
    int st = rcl_devices_list(devs, RCL_MAX_DEVICES, &n);
    if (st) {
        fprintf(stderr, "rcl_devices_list: %s: %s\n", rcl_strerror(st), rcl_last_error());
        return 1;
    }
    printf("installed resnet-cl sees %d OpenCL device(s)\n", n);
    if (n == 0) return 0;
    rcl_ctx *ctx;
    if ((st = rcl_ctx_create(&ctx, 0, NULL))) {
        fprintf(stderr, "rcl_ctx_create: %s: %s\n", rcl_strerror(st), rcl_last_error());
        return 1;
    }
    rcl_model_config cfg = rcl_model_config_default();
    cfg.batch = 2;
    rcl_model *m;
    st = rcl_model_create(&m, ctx, "resnet20", &cfg);
    if (!st) {
        printf("resnet20: %lld parameters\n", (long long)rcl_model_param_count(m));
        rcl_model_destroy(m);
    } else {
        fprintf(stderr, "rcl_model_create: %s: %s\n", rcl_strerror(st), rcl_last_error());
    }
    rcl_ctx_destroy(ctx);
    return st ? 1 : 0;
}
