/* micro_conv: device time of one conv2d pass for one shape, per profiling
 * tag, through the public API. docs/speed.md, "Session 22".
 *
 *   build/micro_conv N C H W OC K STRIDE PAD [--pass fwd|dx|dw]
 *                    [--calls n] [--inputs n] [--device d]
 *                    [--param 'KEY PARAM VALUE']...
 *
 * --inputs (default 8) inputs rotate so that they come from memory as in a
 * training step (1: the same input, warm in the cache); one warm-up call
 * per input, then --calls (default 10); --param sets a tunable on the context (as
 * `resnet-cl bench --param`). Prints the mean device time per tag and the
 * total, with the direct conv's FLOPs over it (GFLOPS-equivalent). */
#include "rcl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TAGS 32
static const char *tags[MAX_TAGS];
static double tag_ms[MAX_TAGS];
static int ntags;
static cl_event events[4096];
static const char *event_tag[4096];
static int nevents;

static void on_launch(void *user, const char *tag, cl_event ev)
{
    (void)user;
    if (nevents < (int)(sizeof events / sizeof events[0])) {
        clRetainEvent(ev);
        event_tag[nevents] = tag;
        events[nevents++] = ev;
    }
}

static void drain(int keep)
{
    for (int i = 0; i < nevents; i++) {
        cl_ulong a = 0, b = 0;
        clGetEventProfilingInfo(events[i], CL_PROFILING_COMMAND_START, sizeof a, &a, NULL);
        clGetEventProfilingInfo(events[i], CL_PROFILING_COMMAND_END, sizeof b, &b, NULL);
        clReleaseEvent(events[i]);
        if (!keep) continue;
        int k = 0;
        while (k < ntags && strcmp(tags[k], event_tag[i])) k++;
        if (k == ntags) {
            if (ntags == MAX_TAGS) continue;
            tags[ntags] = event_tag[i], tag_ms[ntags++] = 0;
        }
        tag_ms[k] += (double)(b - a) * 1e-6;
    }
    nevents = 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: micro_conv N C H W OC K STRIDE PAD [--pass fwd|dx|dw] [--calls n] "
                    "[--inputs n] [--device d] [--param 'KEY PARAM VALUE']...\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 9) return usage();
    int v[8];
    for (int i = 0; i < 8; i++) v[i] = atoi(argv[1 + i]);
    int n = v[0], c = v[1], h = v[2], w = v[3], oc = v[4], k = v[5], s = v[6], p = v[7];
    int calls = 10, inputs = 8, dev = 0, pass = 0;
    const char *params[16];
    int nparams = 0;
    for (int i = 9; i < argc; i++) {
        if (i + 1 >= argc) return usage();
        const char *o = argv[i], *a = argv[++i];
        if (!strcmp(o, "--pass"))
            pass = !strcmp(a, "fwd") ? 0 : !strcmp(a, "dx") ? 1 : !strcmp(a, "dw") ? 2 : -1;
        else if (!strcmp(o, "--calls")) calls = atoi(a);
        else if (!strcmp(o, "--inputs")) inputs = atoi(a);
        else if (!strcmp(o, "--device")) dev = atoi(a);
        else if (!strcmp(o, "--param") && nparams < 16) params[nparams++] = a;
        else return usage();
    }
    if (pass < 0 || calls < 1 || inputs < 1 || inputs > 16 || n < 1 || c < 1 || oc < 1 || k < 1 ||
        s < 1 || p < 0)
        return usage();
    int oh = rcl_conv_out_size(h, k, s, p), ow = rcl_conv_out_size(w, k, s, p);
    if (oh < 1 || ow < 1) {
        fprintf(stderr, "micro_conv: the output would be empty\n");
        return 2;
    }
    rcl_ctx *ctx;
    rcl_ctx_options opt = {.profiling = 1};
    if (rcl_ctx_create(&ctx, dev, &opt) != RCL_OK) {
        fprintf(stderr, "micro_conv: no OpenCL device %d (resnet-cl devices lists them)\n", dev);
        return 1;
    }
    for (int i = 0; i < nparams; i++) {
        char key[64], name[64];
        int value;
        if (sscanf(params[i], "%63s %63s %d", key, name, &value) != 3 ||
            rcl_ctx_set_param(ctx, key, name, value) != RCL_OK) {
            fprintf(stderr, "micro_conv: bad --param '%s' (KEY PARAM VALUE)\n", params[i]);
            return 2;
        }
    }
    size_t nx = (size_t)n * c * h * w, nw = (size_t)oc * c * k * k, ny = (size_t)n * oc * oh * ow;
    size_t most = nx > nw ? nx : nw;
    most = most > ny ? most : ny;
    float *buf = malloc(most * sizeof(float));
    if (!buf) return 1;
    for (size_t i = 0; i < most; i++) buf[i] = (float)(i * 7919 % 1000) / 1000.0f - 0.5f;
    rcl_tensor x[16], y[16], wt, dy, dx, dw;
    int st = RCL_OK;
    for (int i = 0; i < inputs; i++) {
        st |= rcl_tensor_create(ctx, &x[i], n, c, h, w);
        st |= rcl_tensor_write(ctx, &x[i], buf);
        st |= rcl_tensor_create(ctx, &y[i], n, oc, oh, ow);
    }
    st |= rcl_tensor_create(ctx, &wt, oc, c, k, k);
    st |= rcl_tensor_write(ctx, &wt, buf);
    st |= rcl_tensor_create(ctx, &dy, n, oc, oh, ow);
    st |= rcl_tensor_write(ctx, &dy, buf);
    st |= rcl_tensor_create(ctx, &dx, n, c, h, w);
    st |= rcl_tensor_create(ctx, &dw, oc, c, k, k);
    if (st != RCL_OK) {
        fprintf(stderr, "micro_conv: could not allocate the tensors on device %d\n", dev);
        return 1;
    }
    rcl_conv2d_desc d = {k, k, s, s, p, p};
    rcl_ctx_set_profiler(ctx, on_launch, NULL);
    /* a warm-up call per input (the first write of each output faults its
     * pages in), then `calls` */
    for (int r = 0; r < inputs + calls; r++) {
        int i = r % inputs;
        st = pass == 0 ? rcl_conv2d_forward(ctx, &y[i], &x[i], &wt, NULL, &d)
                       : rcl_conv2d_backward(ctx, pass == 1 ? &dx : NULL, pass == 2 ? &dw : NULL,
                                             NULL, &dy, &x[i], &wt, &d);
        if (st == RCL_OK) st = rcl_ctx_finish(ctx);
        if (st != RCL_OK) {
            fprintf(stderr, "micro_conv: the conv failed (status %d)\n", st);
            return 1;
        }
        drain(r >= inputs);
    }
    double total = 0, flops = 2.0 * n * oc * oh * ow * (double)c * k * k;
    for (int i = 0; i < ntags; i++) {
        printf("  %-24s %8.3f ms\n", tags[i], tag_ms[i] / calls);
        total += tag_ms[i] / calls;
    }
    printf("total %.3f ms, %.1f GFLOPS-equivalent\n", total, flops / total * 1e-6);
    free(buf);
    rcl_ctx_destroy(ctx);
    return 0;
}
