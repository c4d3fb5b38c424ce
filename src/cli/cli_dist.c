/* resnet-cl under MPI (docs/distributed.md): starting MPI around train and
 * bench, this rank's device, quiet ranks, and stopping every rank when one
 * fails. The MPI calls themselves are in src/dist. */
#include "cli/cli.h"
#include "rcl/dist.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_dist_run(int (*cmd)(const cli_globals *, int, char **), const cli_globals *g, int argc,
                 char **argv)
{
    if (cli_parse_only) return cmd(g, argc, argv);
    int st = rcl_dist_init(NULL, NULL);
    if (st) {
        fprintf(stderr, "resnet-cl: %s\n", rcl_last_error());
        return 2;
    }
    int rc = cmd(g, argc, argv);
    if (rcl_dist_size() > 1 && rc != 0 && rc != 128 + SIGINT &&
        rc != 128 + SIGTERM) { /* a signal: every rank stopped at the same step */
        char host[256];
        rcl_dist_hostname(host, sizeof host);
        fflush(stdout);
        fprintf(stderr, "resnet-cl: rank %d of %d (%s, pid %ld) failed (exit %d, see above); "
                        "stopping every rank\n", rcl_dist_rank(), rcl_dist_size(), host,
                (long)getpid(), rc);
        fflush(stderr);
        rcl_dist_abort(rc);
    }
    /* stopped by a signal (on the same step everywhere): nobody exits before
     * rank 0 has written its checkpoint, or the launcher, seeing a non-zero
     * exit, would end rank 0 inside the write */
    if (rcl_dist_size() > 1 && rc) rcl_dist_barrier();
    rcl_dist_finalize();
    return rc;
}

/* --devices "0,2,3": the entry of local rank lr (-1: malformed or too short). */
static int devices_entry(const char *list, int lr)
{
    const char *p = list;
    for (int i = 0;; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 1 << 20 || (*end && *end != ',')) return -1;
        if (i == lr) return (int)v;
        if (!*end) return -1;
        p = end + 1;
    }
}

int cli_dist_open_device(const cli_globals *g, rcl_ctx **ctx, const rcl_ctx_options *opt, int tuned)
{
    if (rcl_dist_size() == 1 && !g->devices) return cli_open_device(g, ctx, opt, tuned);
    int lr = rcl_dist_local_rank(), idx, shared = 0;
    const char *how;
    cli_globals g2 = *g;
    rcl_device_info devs[RCL_MAX_DEVICES];
    int n = 0;
    if (rcl_devices_list(devs, RCL_MAX_DEVICES, &n) != RCL_OK) n = 0;
    if (g->device >= 0 || getenv("RESNET_CL_DEVICE")) {
        idx = rcl_device_default_index(g->device);
        how = "--device";
    } else if (g->devices) {
        idx = devices_entry(g->devices, lr);
        how = "--devices";
        if (idx < 0) {
            fprintf(stderr, "resnet-cl: rank %d: --devices %s has no entry for local rank %d "
                            "(want one device index per process on this host, e.g. --devices "
                            "0,1,2,3)\n", rcl_dist_rank(), g->devices, lr);
            return RCL_ERR_INVALID;
        }
    } else { /* local rank -> the devices of device 0's type */
        int same[RCL_MAX_DEVICES], ns = 0;
        for (int i = 0; i < n; i++)
            if (devs[i].type == devs[0].type) same[ns++] = i;
        idx = ns ? same[lr % ns] : 0;
        shared = ns && rcl_dist_local_size() > ns;
        how = "local rank";
    }
    g2.device = idx;
    char host[256];
    rcl_dist_hostname(host, sizeof host);
    int known = idx >= 0 && idx < n;
    fprintf(stderr, "rank %d of %d on %s (pid %ld, local rank %d): device %d%s%s (by %s)%s\n",
            rcl_dist_rank(), rcl_dist_size(), host, (long)getpid(), lr, idx, known ? ": " : "",
            known ? devs[idx].name : "", how,
            shared ? "; more local ranks than devices of this type: devices are shared" : "");
    fflush(stderr);
    return cli_open_device(&g2, ctx, opt, tuned);
}

void cli_dist_quiet_others(void)
{
    if (rcl_dist_rank() == 0) return;
    fflush(stdout);
    if (!freopen("/dev/null", "w", stdout)) fprintf(stderr, "resnet-cl: cannot silence stdout\n");
}
