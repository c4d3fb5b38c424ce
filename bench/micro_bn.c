/* micro_bn: device time of BatchNorm + ReLU in training (forward, then
 * backward) for one shape, through the public API. docs/speed.md,
 * "Session 22".
 *
 *   build/micro_bn N C H W [calls] [device] [chan]
 *
 * Four inputs rotate so that they come from memory as in a training step;
 * one warm-up call, then `calls` (default 10); prints the mean device time
 * of a call (OpenCL profiling events of every launch). chan: bn CHAN
 * (src/runtime/tunables.def; 0 the plane kernels, 1 the per-channel ones
 * where they apply), default the tunable's default. */
#include "rcl.h"

#include <stdio.h>
#include <stdlib.h>

static cl_event events[4096];
static int nevents;

static void on_launch(void *user, const char *tag, cl_event ev)
{
    (void)user, (void)tag;
    if (nevents < (int)(sizeof events / sizeof events[0])) {
        clRetainEvent(ev);
        events[nevents++] = ev;
    }
}

static double drain(void)
{
    double ms = 0;
    for (int i = 0; i < nevents; i++) {
        cl_ulong a = 0, b = 0;
        clGetEventProfilingInfo(events[i], CL_PROFILING_COMMAND_START, sizeof a, &a, NULL);
        clGetEventProfilingInfo(events[i], CL_PROFILING_COMMAND_END, sizeof b, &b, NULL);
        ms += (double)(b - a) * 1e-6;
        clReleaseEvent(events[i]);
    }
    nevents = 0;
    return ms;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: micro_bn N C H W [calls] [device] [chan]\n");
        return 2;
    }
    int n = atoi(argv[1]), c = atoi(argv[2]), h = atoi(argv[3]), w = atoi(argv[4]);
    int calls = argc > 5 ? atoi(argv[5]) : 10, dev = argc > 6 ? atoi(argv[6]) : 0;
    if (n < 1 || c < 1 || h < 1 || w < 1 || calls < 1 || n * h * w < 2) {
        fprintf(stderr, "micro_bn: need positive sizes, N*H*W >= 2 and calls >= 1\n");
        return 2;
    }
    rcl_ctx *ctx;
    rcl_ctx_options opt = {.profiling = 1};
    if (rcl_ctx_create(&ctx, dev, &opt) != RCL_OK) {
        fprintf(stderr, "micro_bn: no OpenCL device %d (resnet-cl devices lists them)\n", dev);
        return 1;
    }
    if (argc > 7 && rcl_ctx_set_param(ctx, "bn", "CHAN", atoi(argv[7])) != RCL_OK) {
        fprintf(stderr, "micro_bn: bad chan %s (0 or 1)\n", argv[7]);
        return 2;
    }
    size_t count = (size_t)n * c * h * w;
    float *buf = malloc(count * sizeof(float));
    if (!buf) return 1;
    for (size_t i = 0; i < count; i++) buf[i] = (float)(i * 7919 % 1000) / 500.0f - 1.0f;
    rcl_tensor x[4], y[4], dy, dx, vec[8];
    int st = RCL_OK;
    for (int i = 0; i < 4; i++) {
        st |= rcl_tensor_create(ctx, &x[i], n, c, h, w);
        st |= rcl_tensor_create(ctx, &y[i], n, c, h, w);
        st |= rcl_tensor_write(ctx, &x[i], buf);
    }
    st |= rcl_tensor_create(ctx, &dy, n, c, h, w);
    st |= rcl_tensor_write(ctx, &dy, buf);
    st |= rcl_tensor_create(ctx, &dx, n, c, h, w);
    for (int i = 0; i < c; i++) buf[i] = 1.0f;
    for (int i = 0; i < 8; i++) {
        st |= rcl_tensor_create(ctx, &vec[i], c, 1, 1, 1);
        st |= rcl_tensor_write(ctx, &vec[i], buf);
    }
    if (st != RCL_OK) {
        fprintf(stderr, "micro_bn: could not allocate the tensors on device %d\n", dev);
        return 1;
    }
    /* vec: gamma, beta, running mean, running var, saved mean, saved
     * 1/std, dgamma, dbeta */
    rcl_ctx_set_profiler(ctx, on_launch, NULL);
    double total = 0;
    for (int r = 0; r <= calls; r++) {
        int k = r % 4;
        st = rcl_batchnorm_relu_forward_train(ctx, &y[k], &vec[4], &vec[5], &vec[2], &vec[3],
                                              &x[k], NULL, &vec[0], &vec[1], 0.1f, 1e-5f);
        if (st == RCL_OK)
            st = rcl_batchnorm_relu_backward(ctx, &dx, &vec[6], &vec[7], NULL, &dy, &y[k], &x[k],
                                             &vec[0], &vec[4], &vec[5]);
        if (st == RCL_OK) st = rcl_ctx_finish(ctx);
        if (st != RCL_OK) {
            fprintf(stderr, "micro_bn: BatchNorm failed (status %d)\n", st);
            return 1;
        }
        double ms = drain();
        if (r > 0) total += ms;
    }
    printf("%d %d %d %d: %.3f ms per forward + backward\n", n, c, h, w, total / calls);
    free(buf);
    rcl_ctx_destroy(ctx);
    return 0;
}
