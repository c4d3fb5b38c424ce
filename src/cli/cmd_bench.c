/* resnet-cl bench: training-step and inference throughput of a model on
 * synthetic data, with a per-layer-type breakdown from OpenCL profiling
 * events (warm-up excluded, median over steps). */
#include "cli/cli.h"
#include "tools/cli_model_opts.h"
#include "base/base.h" /* rcl_median */
#include "rcl/profile.h"
#include "rcl/trainer.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_bench(const cli_globals *g, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "gemm")) return cli_bench_gemm(g, argc - 1, argv + 1);
    const char *model = "resnet18";
    int batch = 100, steps = 5, warmup = 2, size = 32, classes = 10, profile = 1;
    rcl_model_config mc = rcl_model_config_default();
    enum { O_MODEL = CLI_OPT_FIRST, O_BATCH, O_STEPS, O_WARMUP, O_SIZE, O_CLASSES, O_NO_PROFILE };
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"steps", required_argument, NULL, O_STEPS},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"size", required_argument, NULL, O_SIZE},
        {"classes", required_argument, NULL, O_CLASSES},
        {"no-profile", no_argument, NULL, O_NO_PROFILE},
        CLI_MODEL_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl bench", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        int bad = 0;
        switch (c) {
        case O_MODEL: model = go.arg; break;
        case O_BATCH:
            if (cli_parse_int(go.arg, 2, 1 << 16, &batch))
                bad = cli_getopt_bad(&go, "an integer in 2..65536: the benchmark trains, and "
                                          "BatchNorm's training statistics need at least 2 samples");
            break;
        case O_STEPS: bad = cli_getopt_int(&go, 1, 100000, &steps); break;
        case O_WARMUP: bad = cli_getopt_int(&go, 0, 100000, &warmup); break;
        case O_SIZE: bad = cli_getopt_int(&go, 8, 4096, &size); break;
        case O_CLASSES: bad = cli_getopt_int(&go, 1, 1 << 20, &classes); break;
        case O_NO_PROFILE: profile = 0; break;
        case 'h':
            printf("usage: resnet-cl [--device N] bench [--model M] [--batch-size B] [--steps S]\n"
                   "                 [--warmup W] [--size PIXELS] [--classes K] [--no-profile]\n"
                   "       --no-profile: time the steps without OpenCL profiling events (no\n"
                   "                     per-layer breakdown)\n"
                   "       resnet-cl [--device N] bench gemm ...   (GEMM paths, see bench gemm --help)\n"
                   "model options:\n" CLI_MODEL_OPTIONS_HELP);
            return 0;
        default:
            if (c < CLI_MO_FIRST || c >= CLI_MO_LAST) return 2;
            bad = cli_model_opt(&go, c, &mc);
        }
        if (bad) return 2;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    if (cli_parse_only) return CLI_PARSED;
    rcl_ctx *ctx = NULL;
    rcl_ctx_options co = {.profiling = profile};
    if (cli_open_device(g, &ctx, &co, 1)) return 1;
    mc.batch = batch;
    mc.in_h = mc.in_w = size;
    mc.num_classes = classes;
    rcl_model *m = NULL;
    rcl_batch b = {0};
    rcl_optimizer opt;
    rcl_prof prof = {0}; /* training steps after warm-up */
    if (cli_check_memory(ctx, model, &mc, 1)) { /* before allocating */
        rcl_ctx_destroy(ctx);
        return 1;
    }
    int st = rcl_model_create(&m, ctx, model, &mc);
    if (!st) st = rcl_batch_init(&b, m);
    if (!st) st = rcl_optimizer_init(&opt, m, RCL_OPTIM_ADAM, NULL, NULL);
    if (st) {
        cli_report("bench setup", st);
        rcl_batch_free(&b);
        rcl_model_destroy(m);
        rcl_ctx_destroy(ctx);
        return 1;
    }
    size_t nx = rcl_tensor_count(&b.x);
    for (size_t i = 0; i < nx; i++) b.host_x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    for (int i = 0; i < batch; i++) b.host_labels[i] = i % classes;
    st = rcl_batch_upload(&b, ctx, batch);
    rcl_prof_attach(ctx, &prof);
    double *train_t = calloc((size_t)steps, sizeof(double)), *infer_t = calloc((size_t)steps, sizeof(double));
    rcl_step_result r;
    for (int i = 0; !st && i < warmup + steps; i++) {
        double t0 = cli_now_s();
        st = rcl_train_step(m, &opt, &b, batch, &r);
        if (!st) st = rcl_ctx_finish(ctx);
        double t = cli_now_s() - t0;
        rcl_prof_drain(&prof, i >= warmup);
        if (i >= warmup) train_t[i - warmup] = t;
        if (!st && isatty(fileno(stderr))) fprintf(stderr, "\r  train step %d/%d: %.3f s ", i + 1, warmup + steps, t);
    }
    if (isatty(fileno(stderr))) fprintf(stderr, "\r\033[K");
    for (int i = 0; !st && i < warmup + steps; i++) {
        double t0 = cli_now_s();
        st = rcl_eval_step(m, &b, batch, &r);
        if (!st) st = rcl_ctx_finish(ctx);
        rcl_prof_drain(&prof, 0); /* inference: not counted */
        if (i >= warmup) infer_t[i - warmup] = cli_now_s() - t0;
    }
    if (st) cli_report("bench", st);
    else {
        const rcl_device_info *d = rcl_ctx_device(ctx);
        double fl = rcl_model_flops(m);
        double tt = rcl_median(train_t, steps), ti = rcl_median(infer_t, steps);
        double kernel_ms = 0;
        for (int k = 0; k < prof.ntags; k++) kernel_ms += prof.ms[k] / steps;
        printf("device %d: %s (%s, driver %s)\n", d->index, d->name, d->platform_name, d->driver_version);
        printf("model %s, batch %d, %dx%d input, %.3f GFLOPs/image forward\n", model, batch, size,
               size, fl / 1e9);
        printf("training step: %.3f s median of %d -> %.1f images/s, %.2f GFLOPS (3 x forward FLOPs)\n",
               tt, steps, batch / tt, 3 * fl * batch / tt / 1e9);
        printf("inference:     %.3f s median of %d -> %.1f images/s, %.2f GFLOPS\n", ti, steps,
               batch / ti, fl * batch / ti / 1e9);
        if (profile) {
            printf("\nper-layer-type device time in a training step (OpenCL profiling events):\n");
            printf("  %-22s %10s %7s\n", "kernel / GEMM", "ms/step", "share");
            for (int k = 0; k < prof.ntags; k++)
                printf("  %-22s %10.2f %6.1f%%\n", prof.names[k], prof.ms[k] / steps,
                       100.0 * prof.ms[k] / steps / kernel_ms);
            printf("  %-22s %10.2f\n  %-22s %10.2f\n", "sum of kernels", kernel_ms, "wall clock", tt * 1000);
        }
    }
    rcl_prof_detach(ctx);
    rcl_prof_free(&prof);
    free(train_t);
    free(infer_t);
    rcl_batch_free(&b);
    rcl_model_destroy(m);
    rcl_ctx_destroy(ctx);
    return st ? 1 : 0;
}
