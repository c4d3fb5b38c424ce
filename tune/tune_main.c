/* resnet-cl-tune: tune the GEMM paths for the shapes of a training step and
 * write the device's tune cache.
 *
 *   resnet-cl-tune --device N [--budget SECONDS] [--shapes resnet18-cifar|FILE]
 *                  [--batch-size B] [--dry-run] [--if-missing]
 *
 * Phases (all OpenCL work runs in forked children, tune_trial.c):
 *   A  CLBlast with its database on every shape (the untuned baseline)
 *   B  CLBlast Xgemm + XGEMM_MIN_INDIRECT_SIZE candidates (one set per device:
 *      overriding CLBlast recompiles it) on the classes with the most time
 *   C  the best CLBlast set on every shape
 *   D  our kernel per transposition kind: the defaults, their one-parameter
 *      neighbours, then a random sample of the outer-form space of
 *      tune_space.c (tune_space_around), until its share of the budget is
 *      spent; for NT every other candidate is one of the dot-form space
 *      instead (the defaults and a few seeds first). XA (op(A) packed
 *      first) and XB (op(B) packed first, staged in local memory, or, where
 *      op(B) = B^T, transposed first) are parameters of the outer space.
 *      Each class notes its best candidate
 *   E  confirmation: the defaults and each class's winner timed again with
 *      more runs; each class takes the best of these timings
 * Then each class picks the faster of CLBlast (tuned if that won) and our
 * best and the table is printed;
 *   F  (model shapes only) tunes the other kernels' parameters, TUNE_KPARAMS,
 *      in whole training steps of every listed model with those GEMM
 *      choices applied;
 * and the cache is written (rcl/tune_cache.h).
 * RESNET_CL_TUNE_DEBUG=1 prints every timed candidate of phases D and E
 * (its parameters and each class's time) to stderr. */
#include "tune_main.h"
#include "base/base.h"
#include "tools/cli_env.h"
#include "tools/cli_model_opts.h"
#include "tools/cli_parse.h"
#include "ops/conv2d_chunk.h" /* RCL_CONV_COL_BUDGET_MB_DEFAULT */
#include "tools/progress.h"
#include "rcl/tune_cache.h"
#include "tune_space.h"
#include "tune_trial.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SHAPES 1024
#define MAX_CLASSES 256
#define MAX_MODELS 32
#define MAX_POINTS 400
#define NTP RCL_GEMM_TILED_NPARAMS /* our kernel's parameters per point */

typedef struct tclass {
    char name[48];
    int shapes[64];   /* indices into the shape list */
    int n;
    double t_default, t_clb, t_ours;   /* weighted seconds per step, <0: unknown */
    int ours_point;   /* index into the kind's point list, -1: none */
    int kind;         /* 0 NN, 1 NT, 2 TN, 3 TT */
    rcl_gemm_tiled_params ours;
    int choose_ours;
} tclass;

/* the progress bar of the running phase (tools/progress.h), on stderr */
static struct {
    cli_progress bar;
    double t0, budget;
    unsigned char kp_decided[RCL_TUN_COUNT]; /* phase F timed a candidate of it */
} G;

static void progress(void *ud, int done, int total)
{
    (void)ud;
    char extra[64];
    snprintf(extra, sizeof extra, "%4.0fs of %.0fs", rcl_now_s() - G.t0, G.budget);
    cli_progress_update(&G.bar, done, total, done, extra);
}

static void phase(const char *name)
{
    cli_progress_start(&G.bar, stderr, name, NULL);
    progress(NULL, 0, 1);
}

static void end_phase(void)
{
    cli_progress_finish(&G.bar, 1);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: resnet-cl-tune --device N [--model M[,M...]|all] [--batch-size B] [--image-size S]\n"
            "                      [--classes K] [--budget SECONDS] [--shapes FILE]\n"
            "                      [--dry-run] [--if-missing]\n"
            "Tunes CLBlast and resnet-cl's own GEMM kernel for the GEMM shapes of a\n"
            "training step of model M (default resnet18, batch 100, 32x32 input, 10\n"
            "classes; the shapes are recorded from the real layer code on the device)\n"
            "or of every model of a comma-separated list (all: every architecture of\n"
            "resnet-cl summary --list), their shapes merged and tuned in one run\n"
            "within one budget, weighted by their time per step; phase F then times\n"
            "whole steps of every model of the list, each within its share of the\n"
            "time left (a kernel parameter wins on its mean time relative to the\n"
            "defaults over the models that run its kernels)\n"
            "and writes the device's tune cache, which resnet-cl loads at start;\n"
            "classes tuned earlier for other models or batch sizes are kept. The\n"
            "last 20%% of the budget tunes the other kernels (the TUNED rows of\n"
            "src/runtime/tunables.def) in whole training steps (not with --shapes).\n"
            "--budget bounds the search (default 600 s; the whole run stays\n"
            "within about budget + 1 minute). FILE: lines 'TA TB M N K [count]'.\n"
            "--dry-run: print the table, do not write the cache.\n"
            "--if-missing: do nothing when a valid cache for the device exists.\n"
            "Model options (phase F times the chosen normalization's kernels; the init\n"
            "options are accepted and do not matter here):\n" CLI_MODEL_OPTIONS_HELP);
}

static double weighted(const rcl_gemm_shape *sh, const tclass *c, const double *secs)
{
    double t = 0;
    for (int j = 0; j < c->n; j++) {
        double s = secs[c->shapes[j]];
        if (s < 0) return -1;
        t += s * sh[c->shapes[j]].count;
    }
    return t;
}

/* The shapes of one transposition kind (ta*2 + tb): copies into ks, their
 * indices in sh into kidx; returns how many. */
static int kind_shapes(const rcl_gemm_shape *sh, int ns, int kind, rcl_gemm_shape *ks, int *kidx)
{
    int nk = 0;
    for (int i = 0; i < ns; i++)
        if (sh[i].ta * 2 + sh[i].tb == kind) kidx[nk] = i, ks[nk++] = sh[i];
    return nk;
}

/* Class c's step time under candidate i of a job over the kind's nk shapes
 * (psecs[i*nk + k], kidx: kind index -> shape index); keeps it in c->ours
 * if it beats c->t_ours. */
static void take_if_faster(tclass *c, int i, const double *psecs, const int *kidx, int nk,
                           const rcl_gemm_shape *sh, const int *pts)
{
    double t = 0;
    for (int j = 0; j < c->n; j++) {
        int k = 0;
        while (k < nk && kidx[k] != c->shapes[j]) k++;
        t += psecs[(size_t)i * nk + k] * sh[c->shapes[j]].count;
    }
    if (getenv("RESNET_CL_TUNE_DEBUG")) {
        fprintf(stderr, "cand %d:", i);
        for (int f = 0; f < NTP; f++) fprintf(stderr, " %d", pts[(size_t)i * NTP + f]);
        fprintf(stderr, " -> %s %.2f ms\n", c->name, t * 1e3);
    }
    if (c->t_ours < 0 || t < c->t_ours) {
        c->t_ours = t;
        c->ours_point = i;
        c->ours = rcl_gemm_tiled_from_ints(pts + (size_t)i * NTP);
    }
}

/* device seconds per step of the kernels kp moves: the sum of its tags'
 * entries in one result row (secs[t] for tags[t]) */
static double kparam_time(const tune_kparam *kp, const char *const *tags, int nt, const double *secs)
{
    double t = 0;
    for (int i = 0; i < nt; i++)
        if (strstr(kp->tags, tags[i])) t += secs[i];
    return t;
}

/* ---- F: the non-GEMM kernels (TUNE_KPARAMS), one parameter at a time
 * from the defaults, timed in whole training steps of each of the nm
 * models (in turn, each within its share of the time left) with the GEMM
 * choices `ent` applied. A parameter's candidate is scored by its device
 * time relative to the defaults', averaged over the models whose steps run
 * that parameter's kernels (each model counts the same, whatever its step
 * time); it wins where that mean is 3% under the best so far and it ran,
 * with the defaults' answer, on every one of those models. Appends the
 * winners to ent (returns how many) and prints default vs tuned device time
 * per parameter, summed over the models. */
static int tune_other_kernels(int device, const char *const *models, int nm,
                              const rcl_norm_config *norm, int batch, int image, int classes,
                              rcl_tune_entry *ent, int ne, int cap, double deadline)
{
    static const char *const tags[] = {"im2col", "col2im", "reorder", "optim", "bn",
                                       "relu",   "pool",   "add",     "loss",  "bias",
                                       "transpose", "pack", "norm",
                                       /* conv2d's paths (tunables conv, conv_direct) */
                                       "conv_fwd_gemm", "conv_bwd_data_gemm",
                                       "conv_bwd_weight_gemm", "conv_pad", "conv_fwd_direct",
                                       "conv_bwd_data_direct", "conv_bwd_weight_direct",
                                       "conv_taps", "conv_fwd_wino", "conv_bwd_data_wino",
                                       "conv_bwd_weight_wino", "conv_dense",
                                       "conv_bwd_weight_rows"};
    enum { NT = sizeof tags / sizeof tags[0], NK_MAX = TUNE_NK_MAX, NP_MAX = 1 + NK_MAX * TUNE_MAX_VALUES };
    int nk = TUNE_NKPARAMS < NK_MAX ? TUNE_NKPARAMS : NK_MAX;
    static int pts[NP_MAX * NK_MAX];
    static int owner[NP_MAX]; /* kparam varied by point i (-1: none) */
    /* the kernels of the norms other than BatchNorm (tag "norm") run only
     * in a model that uses one, and the separate ReLU kernel (tag "relu")
     * only beside them (BatchNorm's pass applies the ReLU itself): no
     * candidates otherwise */
    int np = tune_kparam_points(pts, owner, nk, NP_MAX, norm->kind == RCL_NORM_BN);
    /* per model: status of each point, device seconds per (point, tag) */
    int *status = malloc((size_t)nm * NP_MAX * sizeof *status);
    double *secs = calloc((size_t)nm * NP_MAX * NT, sizeof *secs);
    int *ran = calloc((size_t)nm, sizeof *ran); /* the model's default step ran */
    if (!status || !secs || !ran) {
        free(status), free(secs), free(ran);
        printf("other kernels: out of host memory; left at their defaults\n");
        return 0;
    }
    phase("F: other kernels");
    int nran = 0;
    for (int m = 0; m < nm; m++) {
        int *st_m = status + (size_t)m * NP_MAX;
        double *se_m = secs + (size_t)m * NP_MAX * NT;
        double left = deadline - rcl_now_s();
        trial_model tm = {models[m], *norm, batch, image, classes, ent, ne, tags};
        trial_results res = {st_m, se_m, 0};
        trial_job jf = {.device = device, .kind = TRIAL_KERNELS, .nshapes = NT, .points = pts,
                        .npoints = np, .nparams = nk, .warm = 1, .reps = 3,
                        .trial_timeout_s = 300,
                        .deadline = rcl_now_s() + (left > 0 ? left / (nm - m) : 0),
                        .min_points = 1, .model = &tm};
        int rc = trial_run(&jf, &res, progress, NULL);
        ran[m] = !rc && st_m[0] == TRIAL_OK;
        if (!ran[m])
            printf("\nother kernels: the default training step of %s failed on this device; "
                   "%s left out\n", models[m], models[m]);
        nran += ran[m];
    }
    end_phase();
    if (!nran) {
        printf("other kernels: no default training step ran; left at their defaults\n");
        free(status), free(secs), free(ran);
        return 0;
    }
    printf("\n%-22s %8s %12s %8s %12s  %s\n", "kernel parameter", "default", "ms/step", "tuned",
           "ms/step", "tried");
    int added = 0, tried_all = 0;
    double *tdef = malloc((size_t)nm * sizeof *tdef);
    double *tc = malloc((size_t)TUNE_MAX_VALUES * nm * sizeof *tc);
    int *sc = malloc((size_t)TUNE_MAX_VALUES * nm * sizeof *sc);
    int *ci = malloc(TUNE_MAX_VALUES * sizeof *ci);
    for (int k = 0; k < nk && tdef && tc && sc && ci; k++) {
        const tune_kparam *kp = &TUNE_KPARAMS[k];
        double t_def = 0, best_t;
        for (int m = 0; m < nm; m++) {
            tdef[m] = ran[m] ? kparam_time(kp, tags, NT, secs + (size_t)m * NP_MAX * NT) : -1;
            if (ran[m]) t_def += tdef[m];
        }
        /* this parameter's candidates: time and outcome per model */
        int nc = 0, tried = 0, wrong = 0;
        for (int i = 1; i < np && nc < TUNE_MAX_VALUES; i++) {
            if (owner[i] != k) continue;
            int any = 0;
            for (int m = 0; m < nm; m++) {
                int st = status[(size_t)m * NP_MAX + i];
                tc[nc * nm + m] = kparam_time(kp, tags, NT, secs + ((size_t)m * NP_MAX + i) * NT);
                sc[nc * nm + m] = st == TRIAL_NOT_RUN ? -1 : st == TRIAL_OK ? 0 : 1;
                if (ran[m] && st != TRIAL_NOT_RUN) any = 1, wrong += st != TRIAL_OK;
            }
            tried += any;
            ci[nc++] = i;
        }
        /* 3% margin: timings of the default and a candidate are separate runs */
        int w = tune_pick(nc, nm, tdef, tc, sc, 0.97, NULL);
        /* no winner: the defaults stay, the device's own where it has one */
        int dev = RCL_TUN_DEVICE_DEFAULT(kp->id);
        int best_v = w < 0 ? (dev ? TUNE_KP_DEVICE : kp->def) : pts[(size_t)ci[w] * nk + k];
        best_t = t_def;
        if (w >= 0) {
            best_t = 0;
            for (int m = 0; m < nm; m++)
                if (ran[m]) best_t += tc[w * nm + m];
        }
        tried_all += tried;
        if (tried) G.kp_decided[kp->id] = 1;
        char key[40];
        snprintf(key, sizeof key, "%s %s", kp->key, kp->param);
        char dv[16], bv[16];
        snprintf(dv, sizeof dv, dev ? "device" : "%d", kp->def);
        snprintf(bv, sizeof bv, best_v == TUNE_KP_DEVICE ? "device" : "%d", best_v);
        printf("%-22s %8s %12.2f %8s %12.2f  %d of %d%s\n", key, dv, t_def * 1e3, bv,
               best_t * 1e3, tried, kp->nvalues + dev, wrong ? " (some rejected)" : "");
        /* a per-device parameter is written whenever a candidate won (its
         * value may be the table's default, which is not the device's) */
        if (best_v != TUNE_KP_DEVICE && (best_v != kp->def || dev) && ne + added < cap) {
            rcl_tune_entry *e = &ent[ne + added++];
            snprintf(e->key, sizeof e->key, "%s", kp->key);
            snprintf(e->param, sizeof e->param, "%s", kp->param);
            e->value = best_v;
        }
    }
    free(tdef), free(tc), free(sc), free(ci);
    printf("other kernels: %d of %d candidates timed in training steps of ", tried_all, np - 1);
    for (int m = 0, first = 1; m < nm; m++)
        if (ran[m]) printf("%s%s", first ? "" : ", ", models[m]), first = 0;
    printf(" (batch %d)\n", batch);
    free(status), free(secs), free(ran);
    return added;
}

/* Right after pts[0] (the defaults o), changes of two or more parameters
 * that its one-parameter neighbours cannot reach: XB 3 (local staging)
 * with k blocks of 128 and 256 (XB 3 needs KB > 0; groups of 16 down M
 * where o's block would not fit), and the other tile of 12 accumulator
 * vectors (4 x 3 <-> 6 x 2). Points already in pts are skipped; the list
 * (np >= 2) stays within MAX_POINTS. Returns the new count. */
static int insert_seeds(const rcl_gemm_tiled_params *o, int *pts, int np)
{
    int seeds[3 * NTP], ns = 0;
    for (int j = 0; j < 3; j++) {
        rcl_gemm_tiled_params x = *o;
        if (j < 2) {
            x.xb = 3;
            x.kb = j ? 256 : 128;
            if (!rcl_gemm_tiled_valid(&x, 1, 0)) x.wgm = 16, x.wgn = 1, x.ms = 1;
        } else if (x.nwi == 3 * x.vw) {
            x.mwi = 6, x.nwi = 2 * x.vw;
        } else if (x.nwi == 2 * x.vw) {
            x.mwi = 4, x.nwi = 3 * x.vw;
        }
        int v[NTP];
        rcl_gemm_tiled_to_ints(&x, v);
        if (TUNE_OURS_OUTER.valid(v) && !tune_points_have(pts, np, NTP, v))
            memcpy(seeds + (size_t)ns++ * NTP, v, sizeof v);
    }
    if (np + ns > MAX_POINTS) np = MAX_POINTS - ns;
    memmove(pts + (size_t)(1 + ns) * NTP, pts + NTP, (size_t)(np - 1) * NTP * sizeof(int));
    memcpy(pts + NTP, seeds, (size_t)ns * NTP * sizeof(int));
    return np + ns;
}

int tune_main(int argc, char **argv)
{
    int device = -1, batch = 100, dry = 0, if_missing = 0, image = 32, classes = 10;
    double budget = 600;
    const char *shapes_arg = NULL, *model = "resnet18";
    rcl_model_config mc = rcl_model_config_default(); /* --norm etc. (phase F) */
    cli_env_pin_pocl_workers(); /* as resnet-cl does; before any OpenCL call */
    enum { O_DEVICE = CLI_OPT_FIRST, O_BUDGET, O_SHAPES, O_MODEL, O_IMAGE, O_CLASSES, O_BATCH,
           O_DRY_RUN, O_IF_MISSING };
    static const struct option opts[] = {
        {"device", required_argument, NULL, O_DEVICE},
        {"model", required_argument, NULL, O_MODEL},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"image-size", required_argument, NULL, O_IMAGE},
        {"classes", required_argument, NULL, O_CLASSES},
        {"budget", required_argument, NULL, O_BUDGET},
        {"shapes", required_argument, NULL, O_SHAPES},
        {"dry-run", no_argument, NULL, O_DRY_RUN},
        {"if-missing", no_argument, NULL, O_IF_MISSING},
        CLI_MODEL_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    /* numbers parsed strictly (cli_parse.c): a bad value is an error, never a silent 0 */
    cli_getopt go;
    cli_getopt_init(&go, "resnet-cl-tune", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&go)) != -1;) {
        int bad = 0;
        float b;
        switch (c) {
        case O_DEVICE:
            if (cli_parse_int(go.arg, 0, 1000, &device))
                bad = cli_getopt_bad(&go, "a device index, see resnet-cl devices");
            break;
        case O_BUDGET:
            if (cli_parse_float(go.arg, &b) || b < 10) bad = cli_getopt_bad(&go, "seconds, at least 10");
            else budget = b;
            break;
        case O_SHAPES: shapes_arg = go.arg; break;
        case O_MODEL: model = go.arg; break;
        case O_IMAGE: bad = cli_getopt_int(&go, 8, 4096, &image); break;
        case O_CLASSES: bad = cli_getopt_int(&go, 1, 1 << 20, &classes); break;
        case O_BATCH:
            if (cli_parse_int(go.arg, 2, 1 << 20, &batch))
                bad = cli_getopt_bad(&go, "an integer in 2..1048576: BatchNorm's training "
                                          "statistics need at least 2 samples per batch");
            break;
        case O_DRY_RUN: dry = 1; break;
        case O_IF_MISSING: if_missing = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            if (c < CLI_MO_FIRST || c >= CLI_MO_LAST) return 2;
            bad = cli_model_opt(&go, c, &mc);
        }
        if (bad) return 2;
    }
    if (cli_getopt_no_operands(&go)) return 2;
    static const char *models[MAX_MODELS];
    static char model_buf[1024];
    int nmodels = 0;
    if (!strcmp(model, "all")) {
        for (const char *const *a = rcl_model_arch_names(); *a && nmodels < MAX_MODELS; a++)
            models[nmodels++] = *a;
    } else {
        snprintf(model_buf, sizeof model_buf, "%s", model);
        for (char *save = NULL, *t = strtok_r(model_buf, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            if (!rcl_model_arch_known(t)) {
                fprintf(stderr, "resnet-cl-tune: unknown model '%s' (see resnet-cl summary --list; "
                                "--model all tunes every one)\n", t);
                return 2;
            }
            for (int i = 0; i < nmodels; i++)
                if (!strcmp(models[i], t)) {
                    fprintf(stderr, "resnet-cl-tune: --model lists %s twice\n", t);
                    return 2;
                }
            if (nmodels == MAX_MODELS) {
                fprintf(stderr, "resnet-cl-tune: --model lists more than %d models\n", MAX_MODELS);
                return 2;
            }
            models[nmodels++] = t;
        }
        if (!nmodels) {
            fprintf(stderr, "resnet-cl-tune: --model: want M, M1,M2,... or all\n");
            return 2;
        }
    }
    model = models[0]; /* the one model's name in messages */
    /* a tune runs for minutes on one device: never start on a default */
    const char *env = getenv("RESNET_CL_DEVICE");
    if (device < 0 && !(env && *env)) {
        fprintf(stderr, "resnet-cl-tune: --device N is required: the OpenCL device to tune (index "
                        "from resnet-cl devices, or set RESNET_CL_DEVICE); a tune takes about "
                        "--budget (default 600 s) plus a minute\n");
        return 2;
    }
    if (device < 0 && (device = rcl_device_default_index(-1)) < 0) {
        fprintf(stderr, "resnet-cl-tune: RESNET_CL_DEVICE='%s' is not a device index (want a "
                        "number from resnet-cl devices)\n", env);
        return 2;
    }
    if (cli_parse_only) return CLI_PARSED;
    G.t0 = rcl_now_s();
    G.budget = budget;
    double deadline = G.t0 + budget;

    tune_probe pr;
    if (trial_probe(device, &pr) != 0) {
        fprintf(stderr, "resnet-cl-tune: cannot open device %d: %s\n", device, pr.error);
        return 1;
    }
    printf("device %d: %s, %u compute units\n", device, pr.name, pr.compute_units);
    if (if_missing) {
        rcl_tune_entry *have = NULL;
        int nhave = 0;
        char msg[512];
        if (rcl_tune_file_read(pr.path, pr.key, &have, &nhave, msg, sizeof msg) == RCL_OK) {
            free(have);
            printf("tune cache present: %s (%d entries); nothing to do\n", pr.path, nhave);
            return 0;
        }
    }

    static rcl_gemm_shape sh[MAX_SHAPES];
    int ns = 0, st;
    if (shapes_arg && !strcmp(shapes_arg, "resnet18-cifar"))
        st = rcl_gemm_shapes_resnet18(RCL_CONV_COL_BUDGET_MB_DEFAULT, pr.max_alloc, batch, 32, 10, sh, MAX_SHAPES, &ns);
    else if (shapes_arg) st = rcl_gemm_shapes_file(shapes_arg, sh, MAX_SHAPES, &ns);
    else {
        /* every model's shapes, merged: the same GEMM in two models is one
         * shape with both counts */
        static rcl_gemm_shape one[MAX_SHAPES];
        st = RCL_OK;
        for (int mi = 0; mi < nmodels && st == RCL_OK; mi++) {
            char err[256];
            int n1 = 0;
            if (trial_collect_shapes(device, models[mi], batch, image, classes, one, MAX_SHAPES,
                                     &n1, err, sizeof err)) {
                fprintf(stderr, "resnet-cl-tune: collecting the GEMM shapes of %s: %s\n",
                        models[mi], err);
                return 1;
            }
            for (int i = 0; i < n1; i++) {
                int j = 0;
                while (j < ns && !(sh[j].ta == one[i].ta && sh[j].tb == one[i].tb &&
                                   sh[j].M == one[i].M && sh[j].N == one[i].N && sh[j].K == one[i].K))
                    j++;
                if (j < ns) {
                    sh[j].count += one[i].count;
                } else if (ns == MAX_SHAPES) {
                    fprintf(stderr, "resnet-cl-tune: the models have more than %d GEMM shapes; "
                                    "tune fewer at a time\n", MAX_SHAPES);
                    return 1;
                } else {
                    sh[ns++] = one[i];
                }
            }
            if (nmodels > 1) printf("model %s: %d GEMM shapes\n", models[mi], n1);
        }
    }
    if (st != RCL_OK) {
        fprintf(stderr, "resnet-cl-tune: shapes: %s\n", rcl_last_error());
        return 1;
    }
    if (!shapes_arg && nmodels == 1)
        printf("model %s, batch %d, %dx%d input, %d classes\n", model, batch, image, image, classes);
    else if (!shapes_arg)
        printf("%d models (%s ... %s), batch %d, %dx%d input, %d classes; phase F on each\n",
               nmodels, models[0], models[nmodels - 1], batch, image, image, classes);
    /* shape classes */
    static tclass cl[MAX_CLASSES];
    int nc = 0;
    for (int i = 0; i < ns; i++) {
        char name[48];
        rcl_gemm_class(sh[i].ta, sh[i].tb, sh[i].M, sh[i].N, sh[i].K, name, sizeof name);
        int c = 0;
        while (c < nc && strcmp(cl[c].name, name)) c++;
        if (c == nc) {
            if (nc == MAX_CLASSES) continue;
            memset(&cl[nc], 0, sizeof cl[nc]);
            snprintf(cl[nc].name, sizeof cl[nc].name, "%s", name);
            cl[nc].kind = sh[i].ta * 2 + sh[i].tb;
            cl[nc].ours_point = -1;
            nc++;
        }
        if (cl[c].n < 64) cl[c].shapes[cl[c].n++] = i;
    }
    printf("%d GEMM shapes in %d classes (batch %d)\n", ns, nc, batch);

    static double secs[MAX_SHAPES];
    static int status[MAX_POINTS];
    static double psecs[(size_t)MAX_POINTS * MAX_SHAPES];
    trial_results res = {status, psecs, 0};

    /* ---- A: CLBlast default on everything */
    phase("A: CLBlast default");
    trial_job ja = {.device = device, .kind = TRIAL_CLBLAST_DEFAULT, .shapes = sh, .nshapes = ns,
                    .points = (int[1]){0}, .npoints = 1, .nparams = 1, .warm = 0, .reps = 1,
                    .trial_timeout_s = 600, .deadline = 0, .min_points = 1};
    if (trial_run(&ja, &res, progress, NULL) || status[0] != TRIAL_OK) {
        end_phase();
        fprintf(stderr, "resnet-cl-tune: CLBlast default failed on this device (status %d)\n",
                status[0]);
        return 1;
    }
    end_phase();
    double t_default = 0;
    for (int i = 0; i < ns; i++) secs[i] = psecs[i];
    for (int c = 0; c < nc; c++) {
        cl[c].t_default = weighted(sh, &cl[c], secs);
        cl[c].t_clb = cl[c].t_default;
        cl[c].t_ours = -1;
        t_default += cl[c].t_default;
    }
    double remaining = deadline - rcl_now_s();

    /* ---- B: CLBlast candidates on the (up to) 3 classes with the most time */
    int top[3] = {-1, -1, -1};
    for (int c = 0; c < nc; c++)
        for (int k = 0; k < 3; k++)
            if (top[k] < 0 || cl[c].t_default > cl[top[k]].t_default) {
                for (int m = 2; m > k; m--) top[m] = top[m - 1];
                top[k] = c;
                break;
            }
    static rcl_gemm_shape sub[48];
    int nsub = 0;
    double t_sub_default = 0;
    for (int k = 0; k < 3; k++)
        if (top[k] >= 0)
            for (int j = 0; j < cl[top[k]].n && nsub < 48; j++) {
                sub[nsub] = sh[cl[top[k]].shapes[j]];
                t_sub_default += secs[cl[top[k]].shapes[j]] * sub[nsub].count;
                nsub++;
            }
    static int clb_pts[MAX_POINTS * 17];
    int nclb = tune_space_points(&TUNE_CLBLAST, clb_pts, MAX_POINTS, 12345);
    int best_clb = -1;
    double best_clb_t = t_sub_default;
    if (nclb > 0 && remaining > 0) {
        phase("B: CLBlast parameters");
        trial_job jb = {.device = device, .kind = TRIAL_CLBLAST, .shapes = sub, .nshapes = nsub,
                        .points = clb_pts, .npoints = nclb, .nparams = 17, .warm = 0, .reps = 2,
                        .trial_timeout_s = 60 + 3 * t_sub_default, .deadline = rcl_now_s() + 0.25 * remaining,
                        .min_points = 1};
        trial_run(&jb, &res, progress, NULL);
        end_phase();
        int tried = 0;
        for (int i = 0; i < nclb; i++) {
            if (status[i] != TRIAL_NOT_RUN) tried++;
            if (status[i] != TRIAL_OK) continue;
            double t = 0;
            for (int s = 0; s < nsub; s++) t += psecs[(size_t)i * nsub + s] * sub[s].count;
            if (t < best_clb_t) best_clb_t = t, best_clb = i;
        }
        printf("CLBlast: %d of %d candidates tried; best %.1f ms vs default %.1f ms on the top "
               "classes\n", tried, nclb, best_clb_t * 1e3, t_sub_default * 1e3);
    }
    /* ---- C: best CLBlast set on everything */
    if (best_clb >= 0) {
        phase("C: CLBlast tuned");
        trial_job jc = {.device = device, .kind = TRIAL_CLBLAST, .shapes = sh, .nshapes = ns,
                        .points = clb_pts + (size_t)best_clb * 17, .npoints = 1, .nparams = 17,
                        .warm = 0, .reps = 2, .trial_timeout_s = 60 + 3 * t_default,
                        .deadline = 0, .min_points = 1};
        trial_run(&jc, &res, progress, NULL);
        end_phase();
        if (status[0] == TRIAL_OK) {
            double tot = 0;
            for (int c = 0; c < nc; c++) {
                cl[c].t_clb = weighted(sh, &cl[c], psecs);
                tot += cl[c].t_clb;
            }
            if (tot >= t_default) best_clb = -1; /* no gain over the whole step */
        } else best_clb = -1;
        if (best_clb < 0)
            for (int c = 0; c < nc; c++) cl[c].t_clb = cl[c].t_default;
    }
    /* ---- D: our kernel, per transposition kind (15% of what is left stays
     * for the confirmation phase E) */
    /* phase F (the other kernels, in whole training steps) gets the last
     * 20% of the budget when the shapes come from a model */
    double f_reserve = shapes_arg ? 0 : 0.2 * budget;
    remaining = 0.85 * (deadline - f_reserve - rcl_now_s());
    double d_end = rcl_now_s() + remaining;
    double kind_t[4] = {0}, all_t = 0;
    for (int c = 0; c < nc; c++) kind_t[cl[c].kind] += cl[c].t_default, all_t += cl[c].t_default;
    static const char *kind_name[4] = {"D: ours NN", "D: ours NT", "D: ours TN", "D: ours TT"};
    for (int kind = 0; kind < 4; kind++) {
        static rcl_gemm_shape ks[MAX_SHAPES];
        static int kidx[MAX_SHAPES];
        int nk = kind_shapes(sh, ns, kind, ks, kidx);
        if (!nk) continue;
        static int pts[MAX_POINTS * NTP], alt[MAX_POINTS * NTP], base[NTP];
        /* the defaults, their one-parameter neighbours, then random points:
         * of the outer space and, for NT, of the dot space (half each) */
        rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(pr.vec_width, kind >> 1, kind & 1);
        int dot_default = kind == 1 && !d.xb;
        /* outer points start from the defaults (from NN's where those are
         * the dot form); the space's XB is 0, 2 or 3, and 0 means XB 1 (B
         * transposed first) where op(B) = B^T */
        rcl_gemm_tiled_params o = dot_default ? rcl_gemm_tiled_defaults(pr.vec_width, 0, 0) : d;
        if (o.xb == 1) o.xb = 0;
        rcl_gemm_tiled_to_ints(&o, base);
        int np = tune_space_around(&TUNE_OURS_OUTER, base, pts, kind == 1 ? MAX_POINTS / 2 : MAX_POINTS,
                                   777 + (uint64_t)kind);
        if (o.xb != 3 && np > 1) np = insert_seeds(&o, pts, np);
        for (int i = 0; i < np && (kind & 1); i++) {
            rcl_gemm_tiled_params x = rcl_gemm_tiled_from_ints(pts + (size_t)i * NTP);
            if (!x.xb) x.xb = 1;
            rcl_gemm_tiled_to_ints(&x, pts + (size_t)i * NTP);
        }
        if (kind == 1) {
            rcl_gemm_tiled_params dd = rcl_gemm_tiled_dot_defaults(pr.vec_width);
            rcl_gemm_tiled_to_ints(&dd, base);
            int na = tune_space_around(&TUNE_OURS_DOT, base, alt, MAX_POINTS - np,
                                       778 + (uint64_t)kind);
            /* interleaved, the list holding the defaults first */
            const int *first = dot_default ? alt : pts, *second = dot_default ? pts : alt;
            int n1 = dot_default ? na : np, n2 = dot_default ? np : na;
            static int mix[MAX_POINTS * NTP];
            int n = 0, i = 0, j = 0;
            while (i < n1 || j < n2) {
                if (i < n1) memcpy(mix + (size_t)n++ * NTP, first + (size_t)i++ * NTP, NTP * sizeof(int));
                if (j < n2) memcpy(mix + (size_t)n++ * NTP, second + (size_t)j++ * NTP, NTP * sizeof(int));
            }
            memcpy(pts, mix, (size_t)n * NTP * sizeof(int));
            np = n;
        }
        double share = all_t > 0 ? kind_t[kind] / all_t : 0.25;
        if (share < 0.1) share = 0.1;
        phase(kind_name[kind]);
        trial_job jd = {.device = device, .kind = TRIAL_OURS, .shapes = ks, .nshapes = nk,
                        .points = pts, .npoints = np, .nparams = NTP, .warm = 1, .reps = 3,
                        .trial_timeout_s = 60 + 4 * kind_t[kind],
                        .deadline = rcl_now_s() + share * (remaining > 0 ? remaining : 0),
                        .min_points = 1};
        trial_run(&jd, &res, progress, NULL);
        end_phase();
        int tried = 0, failed = 0;
        for (int i = 0; i < np; i++) {
            if (status[i] == TRIAL_NOT_RUN) continue;
            tried++;
            if (status[i] != TRIAL_OK) {
                failed++;
                continue;
            }
            for (int c = 0; c < nc; c++)
                if (cl[c].kind == kind) take_if_faster(&cl[c], i, psecs, kidx, nk, sh, pts);
        }
        printf("%s: %d of %d candidates tried (%d rejected: wrong result, error, crash or "
               "timeout)\n", kind_name[kind] + 3, tried, np, failed);
        remaining = d_end - rcl_now_s();
        all_t -= kind_t[kind];
    }

    /* ---- E: confirm. The search picks each class's minimum over many noisy
     * timings (winner's curse), so every class's winner and the defaults
     * are timed again together, with more runs, and only these timings
     * decide. */
    for (int kind = 0; kind < 4; kind++) {
        static rcl_gemm_shape ks[MAX_SHAPES];
        static int kidx[MAX_SHAPES];
        int nk = kind_shapes(sh, ns, kind, ks, kidx);
        if (!nk) continue;
        static int pts[MAX_CLASSES * NTP + NTP];
        rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(pr.vec_width, kind >> 1, kind & 1);
        int np = 1;
        rcl_gemm_tiled_to_ints(&d, pts);
        for (int c = 0; c < nc; c++) {
            if (cl[c].kind != kind || cl[c].ours_point < 0) continue;
            int v[NTP];
            rcl_gemm_tiled_to_ints(&cl[c].ours, v);
            if (!tune_points_have(pts, np, NTP, v)) memcpy(pts + (size_t)np++ * NTP, v, sizeof v);
        }
        phase(kind == 0 ? "E: confirm NN" : kind == 1 ? "E: confirm NT" : kind == 2 ? "E: confirm TN" : "E: confirm TT");
        trial_job je = {.device = device, .kind = TRIAL_OURS, .shapes = ks, .nshapes = nk,
                        .points = pts, .npoints = np, .nparams = NTP, .warm = 1, .reps = 5,
                        .trial_timeout_s = 60 + 6 * kind_t[kind], .deadline = 0, .min_points = np};
        trial_run(&je, &res, progress, NULL);
        end_phase();
        for (int c = 0; c < nc; c++) {
            if (cl[c].kind != kind) continue;
            cl[c].t_ours = -1;
            cl[c].ours_point = -1;
            for (int i = 0; i < np; i++)
                if (status[i] == TRIAL_OK) take_if_faster(&cl[c], i, psecs, kidx, nk, sh, pts);
        }
    }

    /* ---- choose, print, write */
    printf("\n%-16s %5s %12s %12s %12s  %-8s %8s  %s\n", "class", "calls", "default ms",
           "clblast* ms", "ours* ms", "chosen", "speedup", "our parameters MWI NWI VW KU KB WGM WGN MS XB XA");
    double tot_def = 0, tot_new = 0;
    static rcl_tune_entry ent[4096];
    int ne = 0;
    if (best_clb >= 0)
        for (int f = 0; f < 17; f++) {
            rcl_tune_entry *e = &ent[ne++];
            snprintf(e->key, sizeof e->key, "%s", RCL_GEMM_CLBLAST_KEY);
            snprintf(e->param, sizeof e->param, "%s",
                     f < RCL_XGEMM_NPARAMS ? rcl_xgemm_names[f] : "XGEMM_MIN_INDIRECT_SIZE");
            e->value = clb_pts[(size_t)best_clb * 17 + f];
        }
    for (int c = 0; c < nc; c++) {
        tclass *k = &cl[c];
        int calls = 0;
        for (int j = 0; j < k->n; j++) calls += sh[k->shapes[j]].count;
        k->choose_ours = k->t_ours > 0 && (k->t_clb < 0 || k->t_ours < k->t_clb);
        double t = k->choose_ours ? k->t_ours : k->t_clb;
        tot_def += k->t_default;
        tot_new += t;
        printf("%-16s %5d %12.2f %12.2f %12.2f  %-8s %7.2fx", k->name, calls, k->t_default * 1e3,
               k->t_clb * 1e3, k->t_ours * 1e3, k->choose_ours ? "ours" : "clblast",
               t > 0 ? k->t_default / t : 0);
        if (k->choose_ours)
            for (int f = 0; f < RCL_GEMM_TILED_NPARAMS; f++)
                printf("%s%d", f ? " " : "  ", *rcl_gemm_tiled_field(&k->ours, f));
        printf("\n");
        char key[64];
        snprintf(key, sizeof key, RCL_GEMM_KEY_PREFIX "%.47s", k->name);
        rcl_tune_entry *e = &ent[ne++];
        snprintf(e->key, sizeof e->key, "%s", key);
        snprintf(e->param, sizeof e->param, "PATH");
        e->value = k->choose_ours ? RCL_GEMM_TILED : RCL_GEMM_CLBLAST;
        if (k->choose_ours)
            for (int f = 0; f < RCL_GEMM_TILED_NPARAMS; f++) {
                e = &ent[ne++];
                snprintf(e->key, sizeof e->key, "%s", key);
                snprintf(e->param, sizeof e->param, "%s", rcl_gemm_tiled_names[f]);
                e->value = *rcl_gemm_tiled_field(&k->ours, f);
            }
    }
    /* Classes the tuner did not see (other models, batch sizes) take the
     * path that won most of this step's time. */
    double t_ours_won = 0, t_all = 0;
    for (int c = 0; c < nc; c++) {
        t_all += cl[c].t_default;
        if (cl[c].choose_ours) t_ours_won += cl[c].t_default;
    }
    rcl_tune_entry *dp = &ent[ne++];
    snprintf(dp->key, sizeof dp->key, "gemm");
    snprintf(dp->param, sizeof dp->param, "DEFAULT_PATH");
    dp->value = t_ours_won * 2 > t_all ? RCL_GEMM_TILED : RCL_GEMM_CLBLAST;
    printf("%-16s %5s %12.2f %12s %12s  %-8s %7.2fx\n", "total", "", tot_def * 1e3, "", "", "",
           tot_new > 0 ? tot_def / tot_new : 0);
    printf("CLBlast parameters: %s\n", best_clb >= 0 ? "tuned set" : "its database (no gain found)");
    if (!shapes_arg)
        ne += tune_other_kernels(device, models, nmodels, &mc.norm, batch, image, classes, ent, ne,
                                 (int)(sizeof ent / sizeof ent[0]), deadline);
    printf("tuning took %.0f s\n", rcl_now_s() - G.t0);
    if (dry) {
        printf("dry run: cache not written\n");
        return 0;
    }
    /* Keep what an earlier run (another model or batch size) tuned for
     * classes this run did not see, and its CLBlast set if this run has none. */
    rcl_tune_entry *old = NULL;
    int nold = 0, kept = 0;
    char omsg[512];
    if (rcl_tune_file_read(pr.path, pr.key, &old, &nold, omsg, sizeof omsg) == RCL_OK) {
        int ne_run = ne; /* compare with this run's entries only */
        for (int i = 0; i < nold && ne < (int)(sizeof ent / sizeof ent[0]); i++) {
            int have = 0;
            for (int j = 0; j < ne_run && !have; j++)
                /* a GEMM class ("gemm.<class>", "gemm.clblast") is replaced
                 * as a whole; other entries one parameter at a time */
                have = !strcmp(ent[j].key, old[i].key) &&
                       (!strncmp(old[i].key, "gemm.", 5) || !strcmp(ent[j].param, old[i].param));
            /* a kernel parameter phase F timed here and left at its
             * default (no entry) drops the earlier run's choice too */
            int id = rcl_tunable_find(old[i].key, old[i].param);
            if (id >= 0 && G.kp_decided[id]) have = 1;
            if (!have) ent[ne++] = old[i], kept++;
        }
        free(old);
    }
    if (kept) printf("kept %d entries of the earlier cache for classes not tuned here\n", kept);
    st = rcl_tune_file_write(pr.path, pr.key, ent, ne);
    if (st != RCL_OK) {
        fprintf(stderr, "resnet-cl-tune: writing %s: %s\n", pr.path, rcl_last_error());
        return 1;
    }
    printf("wrote %s (%d entries)\n", pr.path, ne);
    return 0;
}
