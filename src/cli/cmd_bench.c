/* resnet-cl bench: training-step and inference throughput of a model on
 * synthetic data, with a per-layer-type breakdown from OpenCL profiling
 * events (warm-up excluded, median over steps). */
#include "cli/cli.h"
#include "tools/cli_model_opts.h"
#include "base/base.h" /* rcl_median */
#include "rcl/profile.h"
#include "rcl/dist.h"
#include "rcl/trainer.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --param KEY PARAM VALUE: tunables set on the context after its tune cache */
enum { BENCH_MAX_PARAMS = 16 };
typedef struct bench_param {
    char key[64], param[32];
    int value;
} bench_param;

static int set_params(rcl_ctx *ctx, const bench_param *set, int n)
{
    for (int i = 0; i < n; i++) {
        int st = rcl_ctx_set_param(ctx, set[i].key, set[i].param, set[i].value);
        if (st) {
            cli_report("bench --param", st);
            return 1;
        }
    }
    return 0;
}

/* bench under MPI: training steps over the global batch split over the
 * ranks (rcl_dist_train_step), per-rank and total images/s and the share of
 * the step spent waiting for communication. */
static int bench_dist(const cli_globals *g, const char *model, rcl_model_config *mc, int batch,
                      int steps, int warmup, int size, int classes, int overlap,
                      const bench_param *set, int nset)
{
    int ranks = rcl_dist_size(), rank = rcl_dist_rank();
    if (batch % ranks || batch / ranks < 2) {
        fprintf(stderr, "resnet-cl: bench: --batch-size %d (the global batch) must divide by the %d "
                        "ranks into parts of at least 2 images; pick a multiple of %d\n", batch, ranks,
                ranks);
        return 2;
    }
    rcl_ctx *ctx = NULL;
    if (cli_dist_open_device(g, &ctx, NULL, 1)) return 1;
    if (set_params(ctx, set, nset)) {
        rcl_ctx_destroy(ctx);
        return 1;
    }
    mc->batch = batch / ranks;
    mc->in_h = mc->in_w = size;
    mc->num_classes = classes;
    rcl_model *m = NULL;
    rcl_batch b = {0};
    rcl_optimizer opt;
    rcl_dist_trainer t = {0};
    float *gx = NULL;
    int *gl = NULL;
    double *step_t = calloc((size_t)steps, sizeof(double)), *wait_t = calloc((size_t)steps, sizeof(double));
    double *all = calloc((size_t)ranks * 3, sizeof(double));
    int reported = cli_check_memory(ctx, model, mc, 1) != 0; /* it printed why */
    int st = reported ? RCL_ERR_DEVICE_NOMEM : RCL_OK;
    if (!st) st = rcl_model_create(&m, ctx, model, mc);
    if (!st) st = rcl_batch_init(&b, m);
    if (!st) st = rcl_optimizer_init(&opt, m, RCL_OPTIM_ADAM, NULL, NULL);
    if (!st) st = rcl_dist_trainer_init(&t, m, &opt, &b, 1, overlap);
    if (!st) st = rcl_dist_bcast_model(m, &opt, 0);
    size_t per = (size_t)mc->in_channels * size * size;
    if (!st && (!(gx = malloc((size_t)batch * per * sizeof(float))) || !(gl = malloc((size_t)batch * sizeof(int))) ||
                !step_t || !wait_t || !all))
        st = rcl_fail(RCL_ERR_NOMEM, "bench buffers");
    for (size_t i = 0; !st && i < (size_t)batch * per; i++) gx[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    for (int i = 0; !st && i < batch; i++) gl[i] = i % classes;
    rcl_step_result r;
    for (int i = 0; !st && i < warmup + steps; i++) {
        double w0 = t.comm_wait_s, t0 = rcl_now_s();
        st = rcl_dist_train_step(&t, gx, gl, batch, &r);
        if (!st) st = rcl_ctx_finish(ctx);
        if (i >= warmup) {
            step_t[i - warmup] = rcl_now_s() - t0;
            wait_t[i - warmup] = t.comm_wait_s - w0;
        }
        if (!st && rank == 0 && isatty(fileno(stderr)))
            fprintf(stderr, "\r  train step %d/%d: %.3f s ", i + 1, warmup + steps, rcl_now_s() - t0);
    }
    if (rank == 0 && isatty(fileno(stderr))) fprintf(stderr, "\r\033[K");
    if (st) {
        if (!reported) cli_report("bench", st);
    } else {
        double tt = rcl_median(step_t, steps), tw = rcl_median(wait_t, steps);
        all[3 * rank] = tt;
        all[3 * rank + 1] = tw;
        all[3 * rank + 2] = rcl_ctx_device(ctx)->index;
        st = rcl_dist_sum_f64(all, 3 * ranks); /* a gather: each rank fills its slots */
        if (st) cli_report("bench", st);
    }
    if (!st && rank == 0) {
        const rcl_device_info *d = rcl_ctx_device(ctx);
        double fl = rcl_model_flops(m), slow = 0;
        printf("device %d: %s (%s, driver %s)\n", d->index, d->name, d->platform_name, d->driver_version);
        printf("model %s, global batch %d over %d ranks (%d each), %dx%d input, %.3f GFLOPs/image forward\n",
               model, batch, ranks, batch / ranks, size, size, fl / 1e9);
        printf("gradients: %.1f MB per step, all-reduced %s\n",
               (double)t.acc.count * 4 / 1e6,
               overlap ? "in buckets during the backward" : "after the backward (--no-overlap)");
        if (overlap) printf("  %d buckets of up to %.0f KB in the last step\n", t.buckets, t.bucket_bytes / 1024.0);
        for (int k = 0; k < ranks; k++) {
            double s = all[3 * k], w = all[3 * k + 1];
            if (s > slow) slow = s;
            printf("rank %d (device %d): training step %.3f s median of %d -> %.1f images/s; waiting "
                   "for communication %.3f s (%.1f%% of the step)\n", k, (int)all[3 * k + 2], s, steps,
                   (batch / ranks) / s, w, 100.0 * w / s);
        }
        printf("total: %.1f images/s (global batch / the slowest rank's median step), %.2f GFLOPS\n",
               batch / slow, 3 * fl * batch / slow / 1e9);
    }
    rcl_dist_trainer_free(&t);
    free(gx);
    free(gl);
    free(step_t);
    free(wait_t);
    free(all);
    rcl_batch_free(&b);
    rcl_model_destroy(m);
    rcl_ctx_destroy(ctx);
    return st ? 1 : 0;
}

/* The device time per profiling tag of `steps` steps, per step, and its
 * share; the sum and the step's wall clock (median, seconds) */
static void print_prof(const char *what, const rcl_prof *p, int steps, double wall)
{
    double kernel_ms = 0;
    for (int k = 0; k < p->ntags; k++) kernel_ms += p->ms[k] / steps;
    printf("\nper-layer-type device time in %s (OpenCL profiling events):\n", what);
    printf("  %-22s %10s %7s\n", "kernel / GEMM", "ms/step", "share");
    for (int k = 0; k < p->ntags; k++)
        printf("  %-22s %10.2f %6.1f%%\n", p->names[k], p->ms[k] / steps,
               100.0 * p->ms[k] / steps / kernel_ms);
    printf("  %-22s %10.2f\n  %-22s %10.2f\n", "sum of kernels", kernel_ms, "wall clock",
           wall * 1000);
}

int cli_bench(const cli_globals *g, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "gemm")) return cli_bench_gemm(g, argc - 1, argv + 1);
    const char *model = "resnet18";
    int batch = 100, steps = 5, warmup = 2, size = 32, classes = 10, profile = 1, overlap = 1;
    bench_param set[BENCH_MAX_PARAMS];
    int nset = 0;
    rcl_model_config mc = rcl_model_config_default();
    enum { O_MODEL = CLI_OPT_FIRST, O_BATCH, O_STEPS, O_WARMUP, O_SIZE, O_CLASSES, O_NO_PROFILE,
           O_NO_OVERLAP, O_PARAM };
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"steps", required_argument, NULL, O_STEPS},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"size", required_argument, NULL, O_SIZE},
        {"classes", required_argument, NULL, O_CLASSES},
        {"no-profile", no_argument, NULL, O_NO_PROFILE},
        {"no-overlap", no_argument, NULL, O_NO_OVERLAP},
        {"param", required_argument, NULL, O_PARAM},
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
        case O_NO_OVERLAP: overlap = 0; break;
        case O_PARAM: {
            char k[64], p[32], extra[2];
            int v;
            if (nset == BENCH_MAX_PARAMS)
                bad = cli_getopt_bad(&go, "at most 16 --param options");
            else if (sscanf(go.arg, "%63s %31s %d %1s", k, p, &v, extra) != 3)
                bad = cli_getopt_bad(&go, "KEY PARAM VALUE, e.g. 'conv WINOGRAD 1'");
            else if (!rcl_tunable_known(k, p) && strncmp(k, "gemm.", 5) &&
                     (strncmp(k, "conv.", 5) ||
                      (strcmp(p, "FWD") && strcmp(p, "DX") && strcmp(p, "DW"))))
                bad = cli_getopt_bad(&go, "a tunable of src/runtime/tunables.def, a GEMM class "
                                          "(gemm.<class>) or a conv's path (conv.<shape> "
                                          "FWD|DX|DW), e.g. 'conv WINOGRAD 1'");
            else {
                snprintf(set[nset].key, sizeof set[nset].key, "%s", k);
                snprintf(set[nset].param, sizeof set[nset].param, "%s", p);
                set[nset++].value = v;
            }
            break;
        }
        case 'h':
            printf("usage: resnet-cl [--device N] bench [--model M] [--batch-size B] [--steps S]\n"
                   "                 [--warmup W] [--size PIXELS] [--classes K] [--no-profile]\n"
                   "                 [--no-overlap] [--param 'KEY PARAM VALUE' ...]\n"
                   "       --no-profile: time the steps without OpenCL profiling events (no\n"
                   "                     per-layer breakdown)\n"
                   "       --param: set a tunable after the tune cache is loaded (repeatable, e.g.\n"
                   "                --param 'conv WINOGRAD 1': an A/B against the default), a\n"
                   "                GEMM class (gemm.<class>) or one conv's path: 'conv.<shape>\n"
                   "                FWD|DX|DW 0|1' (1 the direct kernels, 0 im2col + GEMM; the\n"
                   "                shape key as the tune cache writes it, e.g.\n"
                   "                conv.16x32x32_32_3x3s2x2p1x1)\n"
                   "       under MPI (mpirun -np P resnet-cl bench ...): --batch-size is the global\n"
                   "       batch, split over the ranks; per-rank and total images/s and the share\n"
                   "       of the step spent waiting for the gradient all-reduce; --no-overlap:\n"
                   "       all-reduce after the backward instead of in buckets during it\n"
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
    if (rcl_dist_size() > 1) return bench_dist(g, model, &mc, batch, steps, warmup, size, classes, overlap,
                                                set, nset);
    rcl_ctx *ctx = NULL;
    rcl_ctx_options co = {.profiling = profile};
    if (cli_open_device(g, &ctx, &co, 1)) return 1;
    if (set_params(ctx, set, nset)) {
        rcl_ctx_destroy(ctx);
        return 1;
    }
    if (nset) {
        printf("tunables set by --param: %d (", nset);
        for (int i = 0; i < nset; i++)
            printf("%s%s %s %d", i ? ", " : "", set[i].key, set[i].param, set[i].value);
        printf(")\n");
    }
    mc.batch = batch;
    mc.in_h = mc.in_w = size;
    mc.num_classes = classes;
    rcl_model *m = NULL;
    rcl_batch b = {0};
    rcl_optimizer opt;
    rcl_prof prof = {0}, iprof = {0}; /* training / inference steps after warm-up */
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
        double t0 = rcl_now_s();
        st = rcl_train_step(m, &opt, &b, batch, &r);
        if (!st) st = rcl_ctx_finish(ctx);
        double t = rcl_now_s() - t0;
        rcl_prof_drain(&prof, i >= warmup);
        if (i >= warmup) train_t[i - warmup] = t;
        if (!st && isatty(fileno(stderr))) fprintf(stderr, "\r  train step %d/%d: %.3f s ", i + 1, warmup + steps, t);
    }
    if (isatty(fileno(stderr))) fprintf(stderr, "\r\033[K");
    rcl_prof_attach(ctx, &iprof);
    for (int i = 0; !st && i < warmup + steps; i++) {
        double t0 = rcl_now_s();
        st = rcl_eval_step(m, &b, batch, &r);
        if (!st) st = rcl_ctx_finish(ctx);
        rcl_prof_drain(&iprof, i >= warmup);
        if (i >= warmup) infer_t[i - warmup] = rcl_now_s() - t0;
    }
    if (st) cli_report("bench", st);
    else {
        const rcl_device_info *d = rcl_ctx_device(ctx);
        double fl = rcl_model_flops(m);
        double tt = rcl_median(train_t, steps), ti = rcl_median(infer_t, steps);
        printf("device %d: %s (%s, driver %s)\n", d->index, d->name, d->platform_name, d->driver_version);
        printf("model %s, batch %d, %dx%d input, %.3f GFLOPs/image forward\n", model, batch, size,
               size, fl / 1e9);
        printf("training step: %.3f s median of %d -> %.1f images/s, %.2f GFLOPS (3 x forward FLOPs)\n",
               tt, steps, batch / tt, 3 * fl * batch / tt / 1e9);
        printf("inference:     %.3f s median of %d -> %.1f images/s, %.2f GFLOPS\n", ti, steps,
               batch / ti, fl * batch / ti / 1e9);
        if (profile) {
            print_prof("a training step", &prof, steps, tt);
            print_prof("an inference step (eval mode, BatchNorm folded)", &iprof, steps, ti);
        }
    }
    rcl_prof_detach(ctx);
    rcl_prof_free(&prof);
    rcl_prof_free(&iprof);
    free(train_t);
    free(infer_t);
    rcl_batch_free(&b);
    rcl_model_destroy(m);
    rcl_ctx_destroy(ctx);
    return st ? 1 : 0;
}
