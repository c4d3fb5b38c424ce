/* resnet-cl bench gemm: GFLOPS of every GEMM path on the conv/linear GEMM
 * shapes of a training step (whole calls: CLBlast's pad/transpose kernels,
 * our edge handling, all included), against cblas_sgemm when built with
 * OpenBLAS. */
#include "cli/cli.h"
#include "tools/gemm_tools.h"
#include "base/base.h" /* rcl_median */
#include "ops/conv2d_chunk.h" /* RCL_CONV_COL_BUDGET_MB_DEFAULT */
#include "rcl/tune_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef RCL_HAVE_BLAS
#include <cblas.h>
#endif

enum { P_CLB, P_TILED, P_TILED_T, P_CLB_T, P_AUTO, P_BLAS, NPATHS };
static const char *const PATH_NAMES[NPATHS] = {"clblast", "ours", "ours-tuned",
                                               "clblast-tuned", "auto", "openblas"};

#define MAX_SHAPES 256
#define MAX_ROUNDS 15

static void usage(FILE *f)
{
    fprintf(f,
            "usage: resnet-cl bench gemm [--device N] [--model M] [--batch-size B]\n"
            "                            [--image-size S] [--reps R] [--rounds N]\n"
            "                            [--no-tune-cache]\n"
            "Times the GEMMs of one training step through each path: CLBlast with its\n"
            "database (clblast), CLBlast as the library sets it up (clblast-tuned: the\n"
            "tuned parameters, and on CPU drivers that prefer scalars every size through\n"
            "the indirect Xgemm), our\n"
            "kernel with default (ours) and tuned (ours-tuned) parameters, the dispatcher\n"
            "as training uses it (auto) and cblas_sgemm (openblas, if built with it).\n"
            "GFLOPS = 2MNK / time, where time is the median wall time of R runs after\n"
            "one warm-up run (default 5), and for every path but the two CLBlast ones\n"
            "(CLBlast's overrides cannot be undone) the median of that over N rounds\n"
            "(default 3) of the whole table: a burst of load on a shared machine then\n"
            "spoils one round, not the result.\n"
            "M: any model of 'resnet-cl summary --list' (default resnet18, 10 classes).\n");
}

/* one shape's time through path p from its row of times (-1: not timed);
 * the tuned paths fall back to the untuned time where nothing is tuned */
static double path_secs(const double *row, int p, int have_clb_t)
{
    double t = row[p];
    if (t < 0 && p == P_TILED_T) t = row[P_TILED];
    if (t < 0 && p == P_CLB_T && !have_clb_t) t = row[P_CLB];
    return t;
}

/* has the table tiled parameters for this shape's class? */
static int tuned_tiled(rcl_ctx *ctx, const rcl_gemm_shape *s, rcl_gemm_tiled_params *p)
{
    char cls[48], key[64];
    rcl_gemm_class(s->ta, s->tb, s->M, s->N, s->K, cls, sizeof cls);
    snprintf(key, sizeof key, RCL_GEMM_KEY_PREFIX "%s", cls);
    if (rcl_ctx_param(ctx, key, "MWI", -1) < 0) return 0;
    *p = rcl_gemm_tiled_from_table(ctx, key, s->ta, s->tb);
    return 1;
}

#ifdef RCL_HAVE_BLAS
static double time_blas(const rcl_gemm_shape *s, int reps)
{
    size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return -1;
    }
    for (size_t i = 0; i < na; i++) a[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
    for (size_t i = 0; i < nb; i++) b[i] = (float)((i * 104729) % 2001) / 1000.0f - 1.0f;
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    double best[64];
    if (reps > 64) reps = 64;
    for (int r = -1; r < reps; r++) {
        double t0 = rcl_now_s();
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                    s->tb ? CblasTrans : CblasNoTrans, s->M, s->N, s->K, 1.0f, a, lda, b, ldb,
                    0.0f, c, s->N);
        if (r >= 0) best[r] = rcl_now_s() - t0;
    }
    free(a), free(b), free(c);
    return rcl_median(best, reps);
}
#endif

int cli_bench_gemm(const cli_globals *g, int argc, char **argv)
{
    cli_globals gl = *g;
    int batch = 100, image = 32, reps = 5, rounds = 3, use_cache = !g->no_tune_cache;
    const char *model = "resnet18";
    enum { O_DEVICE = CLI_OPT_FIRST, O_MODEL, O_BATCH, O_IMAGE, O_REPS, O_ROUNDS, O_NO_TUNE_CACHE };
    static const struct option opts[] = {
        {"device", required_argument, NULL, O_DEVICE},
        {"model", required_argument, NULL, O_MODEL},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"image-size", required_argument, NULL, O_IMAGE},
        {"reps", required_argument, NULL, O_REPS},
        {"rounds", required_argument, NULL, O_ROUNDS},
        {"no-tune-cache", no_argument, NULL, O_NO_TUNE_CACHE},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl bench gemm", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        int bad = 0;
        switch (c) {
        case O_DEVICE: bad = cli_getopt_int(&go, 0, 1 << 20, &gl.device); break;
        case O_MODEL: model = go.arg; break;
        case O_BATCH: bad = cli_getopt_int(&go, 1, 1 << 16, &batch); break;
        case O_IMAGE: bad = cli_getopt_int(&go, 8, 4096, &image); break;
        case O_REPS: bad = cli_getopt_int(&go, 1, 64, &reps); break;
        case O_ROUNDS: bad = cli_getopt_int(&go, 1, MAX_ROUNDS, &rounds); break;
        case O_NO_TUNE_CACHE: use_cache = 0; break;
        case 'h': usage(stdout); return 0;
        default: return 2;
        }
        if (bad) return 2;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    if (!rcl_model_arch_known(model)) {
        fprintf(stderr, "resnet-cl bench gemm: unknown model '%s' (see resnet-cl summary --list)\n",
                model);
        return 2;
    }
    if (cli_parse_only) return CLI_PARSED;
    rcl_ctx *ctx = NULL;
    if (cli_open_device(&gl, &ctx, NULL, 0) != RCL_OK) return 1;
    const rcl_device_info *dev = rcl_ctx_device(ctx);
    printf("device %d: %s (%s), %u compute units\n", dev->index, dev->name, dev->platform_version,
           dev->compute_units);
    if (use_cache) {
        char msg[1200];
        int st = rcl_tune_cache_load(ctx, NULL, msg, sizeof msg);
        printf("%s%s\n", st == RCL_ERR_FORMAT ? "warning: " : "", msg);
    }
    static rcl_gemm_shape shapes[MAX_SHAPES];
    int ns = 0;
    /* resnet18: the hand-derived list (layer names; test_gemm checks it equals
     * the recorded one); other models: recorded from the layer code */
    int budget_mb = rcl_ctx_param(ctx, "conv", "COL_BUDGET_MB", RCL_CONV_COL_BUDGET_MB_DEFAULT);
    int st = !strcmp(model, "resnet18")
                 ? rcl_gemm_shapes_resnet18(budget_mb, dev->max_alloc, batch, image, 10, shapes,
                                            MAX_SHAPES, &ns)
                 : rcl_gemm_shapes_model(ctx, model, batch, image, 10, shapes, MAX_SHAPES, &ns);
    if (st != RCL_OK) {
        cli_report("shapes", st);
        rcl_ctx_destroy(ctx);
        return 1;
    }
    static double secs[MAX_SHAPES][NPATHS], rsecs[MAX_ROUNDS][MAX_SHAPES][NPATHS];
    int xg[RCL_XGEMM_NPARAMS], mi = 0;
    int have_xg = rcl_gemm_clblast_table(ctx, xg, &mi);
    int have_clb_t = have_xg || mi > 0; /* the library's overrides differ from CLBlast's own */
    for (int r = 0; r < rounds; r++) {
        for (int p = 0; p < NPATHS; p++) {
            double(*sr)[NPATHS] = rsecs[r];
            for (int i = 0; i < ns; i++) sr[i][p] = -1;
            /* CLBlast's overrides are process-wide and cannot be undone: its
             * two paths run in the first round only */
            if (r > 0 && (p == P_CLB || p == P_CLB_T)) continue;
#ifndef RCL_HAVE_BLAS
            if (p == P_BLAS) continue;
#endif
            if (p == P_CLB_T && !have_clb_t) continue;
            if (p == P_CLB_T) { /* process-wide for the device: after the default runs */
                st = rcl_gemm_clblast_override(ctx, have_xg ? xg : NULL, mi);
                if (st != RCL_OK) {
                    cli_report("applying the tuned CLBlast parameters", st);
                    continue;
                }
            }
            fprintf(stderr, "round %d/%d: timing %s ...\n", r + 1, rounds, PATH_NAMES[p]);
            for (int i = 0; i < ns; i++) {
                const rcl_gemm_shape *s = &shapes[i];
#ifdef RCL_HAVE_BLAS
                if (p == P_BLAS) {
                    sr[i][p] = time_blas(s, reps);
                    continue;
                }
#endif
                rcl_gemm_tiled_params tp;
                if (p == P_TILED_T && !tuned_tiled(ctx, s, &tp)) continue;
                int path = p == P_CLB || p == P_CLB_T ? RCL_GEMM_CLBLAST
                           : p == P_AUTO              ? RCL_GEMM_DISPATCH
                                                      : RCL_GEMM_TILED;
                rcl_gemm_bufs b;
                st = rcl_gemm_bufs_create(ctx, s, (uint64_t)i + 1, &b);
                if (st == RCL_OK) {
                    st = rcl_gemm_time_shape(ctx, path, p == P_TILED_T ? &tp : NULL, s, &b, 1, reps,
                                             &sr[i][p]);
                    rcl_gemm_bufs_release(&b);
                }
                if (st != RCL_OK) {
                    cli_report(PATH_NAMES[p], st);
                    sr[i][p] = -1;
                }
            }
        }
    }
    /* per shape and path: the median over the rounds that timed it */
    for (int i = 0; i < ns; i++)
        for (int p = 0; p < NPATHS; p++) {
            double v[MAX_ROUNDS];
            int n = 0;
            for (int r = 0; r < rounds; r++)
                if (rsecs[r][i][p] > 0) v[n++] = rsecs[r][i][p];
            secs[i][p] = n ? rcl_median(v, n) : -1;
        }
    /* table: GFLOPS per shape and path */
    printf("\n%s, batch %d, %dx%d input: GEMMs of one training step (GFLOPS; x = calls)\n", model,
           batch, image, image);
    printf("%-28s %-2s %5s %6s %6s %3s", "first layer", "op", "M", "N", "K", "x");
    for (int p = 0; p < NPATHS; p++) printf(" %13s", PATH_NAMES[p]);
    printf(" %10s\n", "auto/oblas");
    double tot[NPATHS] = {0}, flops = 0;
    int complete[NPATHS];
    for (int p = 0; p < NPATHS; p++) complete[p] = 1;
    for (int i = 0; i < ns; i++) {
        const rcl_gemm_shape *s = &shapes[i];
        double f = rcl_gemm_flops(s);
        flops += f * s->count;
        printf("%-28.28s %c%c %5d %6d %6d %3d", s->what, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N',
               s->M, s->N, s->K, s->count);
        for (int p = 0; p < NPATHS; p++) {
            double t = path_secs(secs[i], p, have_clb_t);
            if (t > 0) {
                printf(" %13.1f", f / t * 1e-9);
                tot[p] += t * s->count;
            } else {
                printf(" %13s", "-");
                complete[p] = 0;
            }
        }
        if (secs[i][P_AUTO] > 0 && secs[i][P_BLAS] > 0)
            printf(" %9.0f%%", 100.0 * secs[i][P_BLAS] / secs[i][P_AUTO]);
        printf("\n");
    }
    printf("%-28s %-2s %5s %6s %6s %3s", "total (GFLOPS)", "", "", "", "", "");
    for (int p = 0; p < NPATHS; p++) {
        if (complete[p] && tot[p] > 0) printf(" %13.1f", flops / tot[p] * 1e-9);
        else printf(" %13s", "-");
    }
    if (complete[P_AUTO] && complete[P_BLAS] && tot[P_AUTO] > 0 && tot[P_BLAS] > 0)
        printf(" %9.0f%%", 100.0 * tot[P_BLAS] / tot[P_AUTO]);
    printf("\n%-28s %-2s %5s %6s %6s %3s", "total (ms per step)", "", "", "", "", "");
    for (int p = 0; p < NPATHS; p++) {
        if (complete[p] && tot[p] > 0) printf(" %13.1f", tot[p] * 1e3);
        else printf(" %13s", "-");
    }
    printf("\n%.2f GFLOP per step in %d distinct GEMM shapes. Tuned columns repeat the untuned "
           "time where nothing is tuned.\n",
           flops * 1e-9, ns);
    if (rounds > 1) { /* the spread of the rounds shows the machine's noise */
        printf("total GFLOPS of each round:\n");
        for (int p = 0; p < NPATHS; p++) {
            if (p == P_CLB || p == P_CLB_T || !complete[p]) continue;
            printf("  %-13s", PATH_NAMES[p]);
            for (int r = 0; r < rounds; r++) {
                double t = 0;
                for (int i = 0; i < ns; i++) {
                    double x = path_secs(rsecs[r][i], p, have_clb_t);
                    t = x > 0 && t >= 0 ? t + x * shapes[i].count : -1;
                }
                if (t > 0) printf(" %6.1f", flops / t * 1e-9);
                else printf(" %6s", "-");
            }
            printf("\n");
        }
    }
    rcl_ctx_destroy(ctx);
    return 0;
}
