/* resnet-cl devices: the flat device list. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_devices(const cli_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl devices", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        if (c != 'h') return 2;
        printf("usage: resnet-cl [--device N] devices\n"
               "  lists the OpenCL devices (index, platform, name, type, driver, memory, CUs);\n"
               "  * marks the one --device / $RESNET_CL_DEVICE selects\n");
        return 0;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    if (cli_parse_only) return CLI_PARSED;
    rcl_device_info devs[RCL_MAX_DEVICES];
    int n = 0;
    int st = rcl_devices_list(devs, RCL_MAX_DEVICES, &n);
    if (st != RCL_OK) {
        char hint[2048];
        if (rcl_icd_hint(hint, sizeof hint) > 0)
            fprintf(stderr, "resnet-cl: no OpenCL device found (%s): %s\n", rcl_last_error(), hint);
        else
            fprintf(stderr, "resnet-cl: no OpenCL device found (%s); install an OpenCL driver such "
                            "as pocl-opencl-icd\n", rcl_last_error());
        return 1;
    }
    int sel = rcl_device_default_index(g->device);
    if (sel < 0 || sel >= n) {
        cli_report_bad_device(sel, devs, n);
        return 1;
    }
    printf("  %-3s %-28s %-36s %-5s %-14s %10s %9s %4s\n", "#", "platform", "device", "type", "driver",
           "global MiB", "alloc MiB", "CUs");
    for (int i = 0; i < n; i++) {
        const rcl_device_info *d = &devs[i];
        printf("%c %-3d %-28.28s %-36.36s %-5s %-14.14s %10llu %9llu %4u\n", i == sel ? '*' : ' ', d->index, d->platform_name,
               d->name, rcl_device_type_name(d->type), d->driver_version,
               (unsigned long long)(d->global_mem >> 20), (unsigned long long)(d->max_alloc >> 20),
               d->compute_units);
    }
    printf("(* = selected by --device / $RESNET_CL_DEVICE)\n");
    const char *af = getenv("POCL_AFFINITY"); /* set by main (cli_env.h) */
    printf("PoCL worker threads: POCL_AFFINITY=%s (%s)\n", af ? af : "unset",
           af && !strcmp(af, "1") ? "pinned one per core; POCL_AFFINITY=0 leaves them free"
                                  : "not pinned");
    return 0;
}
