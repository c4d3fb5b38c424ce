/* resnet-cl train: the course recipe by default (resnet18, Adam lr 0.001,
 * batch 100, 80 epochs, lr divided by 3 every 20 epochs, pad-4 crop + flip). */
#include "cli/cli.h"
#include "cli/train_data.h"
#include "tools/cli_model_opts.h"
#include "base/base.h" /* rcl_mkdir_p */
#include "tools/progress.h"
#include "rcl/checkpoint.h"
#include "rcl/dist.h"
#include "rcl/plateau.h"
#include "rcl/trainer.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct train_opts {
    const char *model, *data, *out, *resume;
    int epochs, batch, seed, log_interval, per_class_train, per_class_test, augment, normalize;
    int stride_on_1x1, save, overwrite, checkpoint_every;
    int model_given, batch_given;
    int accumulate, no_overlap, check_sync, sync_bn; /* micro-batches per step; MPI */
    rcl_optim_kind optim;
    float lr, momentum, weight_decay;
    int nesterov;
    rcl_lr_schedule sched;
    int plateau;          /* --lr-schedule plateau */
    rcl_plateau_options po;
    long long iterations; /* --iterations: steps in all (0: --epochs decides) */
    int epochs_given;
    rcl_model_config mc;  /* norm and init (model options) */
    int model_opts;       /* any given on the command line */
    const char *recipe;   /* NULL, "course" or "imagenet" */
    const char *weights;  /* --weights FILE */
    int reset_head;
    train_data_opts dopt; /* --pipeline imagenet and its options */
} train_opts;

static void train_usage(FILE *f)
{
    fprintf(f,
            "usage: resnet-cl [--device N] train [options]\n"
            "  --model M            architecture (default resnet18; see 'resnet-cl summary --list')\n"
            "  --data DIR           CIFAR-10 binary batches or train/ test/ class folders\n"
            "                       (default: data/cifar-10-batches-bin, fetched by data/get_cifar10.sh)\n"
            "  --epochs E           default 80\n"
            "  --batch-size B       default 100\n"
            "  --optimizer adam|sgd default adam\n"
            "  --lr LR              default 0.001\n"
            "  --momentum M         SGD momentum (default 0.9)\n"
            "  --nesterov           SGD with Nesterov momentum\n"
            "  --weight-decay WD    L2 weight decay (default 0)\n"
            "  --step-size S        divide lr by --lr-factor every S epochs (default 20)\n"
            "  --lr-factor F        default 3\n"
            "  --milestones A,B,..  divide lr at these epochs instead of every --step-size\n"
            "  --seed S             initialisation, shuffling and augmentation seed (default 0)\n"
            "  --no-augment         no random crop / flip\n"
            "  --normalize          subtract CIFAR-10 mean and divide by std per channel\n"
            "  --paper-stride       Bottleneck stride on the first 1x1 (paper) instead of the 3x3\n"
            "  --train-per-class K  use only the first K training images of each class\n"
            "  --test-per-class K   use only the first K test images of each class\n"
            "  --log-interval N     progress line every N steps (default 100)\n"
            "  --out DIR            last.safetensors, best.safetensors and log.jsonl (default\n"
            "                       runs/<model>); a folder that holds a run is refused\n"
            "  --overwrite          start over in an --out that holds a run (deletes it)\n"
            "  --resume FILE        continue from a checkpoint written by train (also one\n"
            "                       written mid-epoch); model options and the batch size\n"
            "                       come from it\n"
            "  --checkpoint-every N also write last.safetensors every N steps\n"
            "  --no-save            write nothing: no checkpoints, no log.jsonl\n"
            "  --accumulate K       sum gradients over K micro-batches per step (--batch-size\n"
            "                       stays the step's batch; BatchNorm statistics per micro-batch)\n"
            "  --lr-schedule S      step (default: --step-size / --milestones) or plateau: divide\n"
            "                       lr by --lr-factor when the test (validation) error stops\n"
            "                       improving (PyTorch ReduceLROnPlateau, mode min)\n"
            "  --plateau-patience N epochs without improvement before a cut (default 10)\n"
            "  --plateau-threshold T, --plateau-threshold-mode rel|abs (default 1e-4, rel)\n"
            "  --plateau-cooldown N epochs after a cut before counting again (default 0)\n"
            "  --min-lr LR          no cut below it (default 0)\n"
            "  --iterations N       stop after N optimizer updates in all (an epoch may end\n"
            "                       early; --epochs then defaults to the epochs they need)\n"
            "  --weights FILE       start from a file's weights (a checkpoint, or a PyTorch\n"
            "                       state dict of --model M, e.g. torchvision's resnet50)\n"
            "  --reset-head         ... all but fc, which starts afresh (other classes)\n"
            "  --recipe R           course (the defaults above) or imagenet: He et al. 2016's\n"
            "                       ImageNet protocol, printed at the start (docs/imagenet.md);\n"
            "                       options given with it override its values\n"
            "ImageNet pipeline (--pipeline imagenet, set by --recipe imagenet; --data DIR holds\n"
            "train/<wnid>/*.JPEG and val/ (docs/imagenet.md); DIR itself when there is no train/):\n"
            "  --pipeline P         cifar (default: 32x32 in memory) or imagenet (image files)\n"
            "  --val-split S        the validation folder under DIR (default val; '.' DIR itself)\n"
            "  --crop C             training and test crop (default 224)\n"
            "  --scale A,B          shorter side random in [A, B] (default 256,480)\n"
            "  --resize R           test: shorter side R, centre crop (default 256)\n"
            "  --lighting S         PCA colour noise sigma (default 0.1; 0 off)\n"
            "  --mean-image FILE    per-pixel mean (default: mean.bin of 'resnet-cl mean-image'\n"
            "                       next to the index; --normalize: torchvision's mean and std)\n"
            "  --threads T          decoding threads (default: the CPUs)\n"
            "  --strict-data        stop at an undecodable file (default: name it, skip it)\n"
            "  --cache-dir D, --no-index-cache   where the file index is cached (or not)\n"
            "under MPI (mpirun -np P resnet-cl train ..., docs/distributed.md): --batch-size is\n"
            "the global batch, split over the P ranks\n"
            "  --no-overlap         all-reduce the gradients after the backward, not in buckets\n"
            "                       during it\n"
            "  --check-sync N       compare a checksum of the weights of every rank every N steps\n"
            "  --sync-bn            BatchNorm statistics over the global batch (all ranks), not\n"
            "                       per rank\n"
            "Ctrl-C or SIGTERM: finish the step, write a checkpoint, print how to resume\n"
            "(under MPI a signal to any one rank stops them all)\n"
            "(exit 130 / 143); a second Ctrl-C stops at once.\n"
            "model options (recorded in checkpoints; --resume, eval and predict use them):\n"
            CLI_MODEL_OPTIONS_HELP);
}

static int parse_milestones(const char *s, rcl_lr_schedule *sc)
{
    sc->nmilestones = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int v;
        if (sc->nmilestones >= 16 || cli_parse_int(tok, 1, 1000000, &v)) return -1;
        sc->milestones[sc->nmilestones++] = v;
    }
    return sc->nmilestones ? 0 : -1;
}

/* --recipe R, looked for before the other options are parsed so that the
 * ones given override it: 0, or 2 after printing a bad name. */
static int apply_recipe(int argc, char **argv, train_opts *o)
{
    const char *r = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--recipe") && i + 1 < argc) r = argv[++i];
        else if (!strncmp(argv[i], "--recipe=", 9)) r = argv[i] + 9;
    }
    if (!r) return 0;
    o->recipe = r;
    if (!strcmp(r, "course")) return 0; /* the defaults */
    if (strcmp(r, "imagenet")) {
        fprintf(stderr, "resnet-cl train: bad value '%s' for --recipe (want course or imagenet)\n", r);
        return 2;
    }
    /* He et al. 2016, section 3.4 (docs/imagenet.md) */
    o->model = "resnet50";
    o->stride_on_1x1 = 1;                          /* the paper's Bottleneck */
    o->mc.init.scheme = RCL_INIT_KAIMING_NORMAL;   /* "as in [13]" */
    o->optim = RCL_OPTIM_SGD;
    o->lr = 0.1f;
    o->momentum = 0.9f;
    o->weight_decay = 1e-4f;
    o->batch = 256;
    o->plateau = 1;                                /* "divided by 10 when the error plateaus" */
    o->sched.factor = 10.0f;
    o->iterations = 600000;                        /* "up to 60 x 10^4 iterations" */
    o->dopt.imagenet = 1;
    return 0;
}

static void print_recipe(const train_opts *o)
{
    if (!o->recipe || strcmp(o->recipe, "imagenet")) return;
    printf("recipe imagenet (He et al. 2016, section 3.4; options given override it):\n"
           "  model %s%s, --norm %s, --init %s\n"
           "  SGD momentum %g, weight decay %g, batch %d%s\n"
           "  lr %g, divided by %g when the validation error plateaus%s (patience %d, "
           "threshold %g %s, cooldown %d, min lr %g)\n"
           "  %lld iterations; shorter side random in [%d, %d], random %dx%d crop, flip, "
           "%s, PCA lighting sigma %g\n"
           "  validation: shorter side %d, centre %dx%d crop, top-1 error\n",
           o->model, o->stride_on_1x1 ? " (stride on the first 1x1, as the paper)" : "",
           rcl_norm_kind_name(o->mc.norm.kind), rcl_init_scheme_name(o->mc.init.scheme),
           (double)o->momentum, (double)o->weight_decay, o->batch,
           o->accumulate > 1 ? " (accumulated over --accumulate micro-batches)" : "",
           (double)o->lr, (double)o->sched.factor, o->plateau ? "" : " [off: --lr-schedule step]",
           o->po.patience, o->po.threshold,
           o->po.threshold_mode == RCL_PLATEAU_ABS ? "abs" : "rel", o->po.cooldown, o->po.min_lr,
           o->iterations, o->dopt.scale_min, o->dopt.scale_max, o->dopt.crop, o->dopt.crop,
           o->normalize ? "torchvision's per-channel mean/std (--normalize)"
                        : "per-pixel mean subtracted",
           (double)o->dopt.lighting, o->dopt.resize, o->dopt.crop, o->dopt.crop);
}

/* Returns 0 to train, 1 after --help, 2 after a usage error (printed). */
static int parse_train_args(int argc, char **argv, train_opts *o)
{
    enum {
        O_MODEL = CLI_OPT_FIRST, O_DATA, O_OUT, O_RESUME, O_EPOCHS, O_BATCH, O_SEED, O_LOG_INTERVAL,
        O_TRAIN_PER_CLASS, O_TEST_PER_CLASS, O_STEP_SIZE, O_LR, O_LR_FACTOR, O_MOMENTUM,
        O_WEIGHT_DECAY, O_MILESTONES, O_OPTIMIZER, O_NESTEROV, O_NO_AUGMENT, O_NORMALIZE,
        O_PAPER_STRIDE, O_NO_SAVE, O_OVERWRITE, O_CHECKPOINT_EVERY, O_ACCUMULATE, O_NO_OVERLAP,
        O_CHECK_SYNC, O_SYNC_BN, O_LR_SCHEDULE, O_PL_PATIENCE, O_PL_THRESHOLD, O_PL_THRESHOLD_MODE,
        O_PL_COOLDOWN, O_MIN_LR, O_ITERATIONS, O_WEIGHTS, O_RESET_HEAD, O_RECIPE, O_PIPELINE,
        O_VAL_SPLIT, O_CROP, O_SCALE, O_RESIZE, O_LIGHTING, O_MEAN_IMAGE, O_THREADS, O_STRICT,
        O_CACHE_DIR, O_NO_INDEX_CACHE,
    };
    static const struct option opts[] = {
        {"model", required_argument, NULL, O_MODEL},
        {"data", required_argument, NULL, O_DATA},
        {"epochs", required_argument, NULL, O_EPOCHS},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"optimizer", required_argument, NULL, O_OPTIMIZER},
        {"lr", required_argument, NULL, O_LR},
        {"momentum", required_argument, NULL, O_MOMENTUM},
        {"nesterov", no_argument, NULL, O_NESTEROV},
        {"weight-decay", required_argument, NULL, O_WEIGHT_DECAY},
        {"step-size", required_argument, NULL, O_STEP_SIZE},
        {"lr-factor", required_argument, NULL, O_LR_FACTOR},
        {"milestones", required_argument, NULL, O_MILESTONES},
        {"seed", required_argument, NULL, O_SEED},
        {"no-augment", no_argument, NULL, O_NO_AUGMENT},
        {"normalize", no_argument, NULL, O_NORMALIZE},
        {"paper-stride", no_argument, NULL, O_PAPER_STRIDE},
        {"train-per-class", required_argument, NULL, O_TRAIN_PER_CLASS},
        {"test-per-class", required_argument, NULL, O_TEST_PER_CLASS},
        {"log-interval", required_argument, NULL, O_LOG_INTERVAL},
        {"out", required_argument, NULL, O_OUT},
        {"resume", required_argument, NULL, O_RESUME},
        {"no-save", no_argument, NULL, O_NO_SAVE},
        {"overwrite", no_argument, NULL, O_OVERWRITE},
        {"checkpoint-every", required_argument, NULL, O_CHECKPOINT_EVERY},
        {"accumulate", required_argument, NULL, O_ACCUMULATE},
        {"no-overlap", no_argument, NULL, O_NO_OVERLAP},
        {"check-sync", required_argument, NULL, O_CHECK_SYNC},
        {"sync-bn", no_argument, NULL, O_SYNC_BN},
        {"lr-schedule", required_argument, NULL, O_LR_SCHEDULE},
        {"plateau-patience", required_argument, NULL, O_PL_PATIENCE},
        {"plateau-threshold", required_argument, NULL, O_PL_THRESHOLD},
        {"plateau-threshold-mode", required_argument, NULL, O_PL_THRESHOLD_MODE},
        {"plateau-cooldown", required_argument, NULL, O_PL_COOLDOWN},
        {"min-lr", required_argument, NULL, O_MIN_LR},
        {"iterations", required_argument, NULL, O_ITERATIONS},
        {"weights", required_argument, NULL, O_WEIGHTS},
        {"reset-head", no_argument, NULL, O_RESET_HEAD},
        {"recipe", required_argument, NULL, O_RECIPE},
        {"pipeline", required_argument, NULL, O_PIPELINE},
        {"val-split", required_argument, NULL, O_VAL_SPLIT},
        {"crop", required_argument, NULL, O_CROP},
        {"scale", required_argument, NULL, O_SCALE},
        {"resize", required_argument, NULL, O_RESIZE},
        {"lighting", required_argument, NULL, O_LIGHTING},
        {"mean-image", required_argument, NULL, O_MEAN_IMAGE},
        {"threads", required_argument, NULL, O_THREADS},
        {"strict-data", no_argument, NULL, O_STRICT},
        {"cache-dir", required_argument, NULL, O_CACHE_DIR},
        {"no-index-cache", no_argument, NULL, O_NO_INDEX_CACHE},
        CLI_MODEL_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    cli_getopt g;
    cli_getopt_init(&g, "resnet-cl train", argc, argv, opts);
    for (int c; (c = cli_getopt_next(&g)) != -1;) {
        int bad = 0;
        switch (c) {
        case 'h': train_usage(stdout); return 1;
        case O_MODEL: o->model = g.arg; o->model_given = 1; break;
        case O_DATA: o->data = g.arg; break;
        case O_OUT: o->out = g.arg; break;
        case O_RESUME: o->resume = g.arg; break;
        case O_EPOCHS:
            bad = cli_getopt_int(&g, 1, 100000, &o->epochs);
            o->epochs_given = 1;
            break;
        case O_BATCH: bad = cli_getopt_int(&g, 1, 1 << 16, &o->batch); o->batch_given = 1; break;
        case O_SEED: bad = cli_getopt_int(&g, 0, 2147483647, &o->seed); break;
        case O_LOG_INTERVAL: bad = cli_getopt_int(&g, 1, 1 << 30, &o->log_interval); break;
        case O_TRAIN_PER_CLASS: bad = cli_getopt_int(&g, 1, 1 << 30, &o->per_class_train); break;
        case O_TEST_PER_CLASS: bad = cli_getopt_int(&g, 1, 1 << 30, &o->per_class_test); break;
        case O_STEP_SIZE: bad = cli_getopt_int(&g, 0, 1 << 30, &o->sched.step_size); break;
        case O_LR: bad = cli_getopt_float(&g, 0, 0, &o->lr); break;
        case O_LR_FACTOR: bad = cli_getopt_float(&g, 0, 0, &o->sched.factor); break;
        case O_MOMENTUM: bad = cli_getopt_float(&g, 0, 1, &o->momentum); break;
        case O_WEIGHT_DECAY: bad = cli_getopt_float(&g, 0, 1, &o->weight_decay); break;
        case O_MILESTONES:
            if (parse_milestones(g.arg, &o->sched))
                bad = cli_getopt_bad(&g, "up to 16 comma-separated epochs, e.g. 30,60");
            break;
        case O_OPTIMIZER:
            if (!strcmp(g.arg, "adam")) o->optim = RCL_OPTIM_ADAM;
            else if (!strcmp(g.arg, "sgd")) o->optim = RCL_OPTIM_SGD;
            else bad = cli_getopt_bad(&g, "adam or sgd");
            break;
        case O_NESTEROV: o->nesterov = 1; break;
        case O_NO_AUGMENT: o->augment = 0; break;
        case O_NORMALIZE: o->normalize = 1; break;
        case O_PAPER_STRIDE: o->stride_on_1x1 = 1; break;
        case O_NO_SAVE: o->save = 0; break;
        case O_OVERWRITE: o->overwrite = 1; break;
        case O_CHECKPOINT_EVERY: bad = cli_getopt_int(&g, 1, 1 << 30, &o->checkpoint_every); break;
        case O_ACCUMULATE: bad = cli_getopt_int(&g, 1, 1 << 16, &o->accumulate); break;
        case O_NO_OVERLAP: o->no_overlap = 1; break;
        case O_SYNC_BN: o->sync_bn = 1; break;
        case O_CHECK_SYNC: bad = cli_getopt_int(&g, 1, 1 << 30, &o->check_sync); break;
        case O_LR_SCHEDULE:
            if (!strcmp(g.arg, "step")) o->plateau = 0;
            else if (!strcmp(g.arg, "plateau")) o->plateau = 1;
            else bad = cli_getopt_bad(&g, "step or plateau");
            break;
        case O_PL_PATIENCE: bad = cli_getopt_int(&g, 0, 1 << 30, &o->po.patience); break;
        case O_PL_THRESHOLD: {
            float t;
            bad = cli_getopt_float(&g, 0, 1, &t);
            o->po.threshold = t;
            break;
        }
        case O_PL_THRESHOLD_MODE:
            if (!strcmp(g.arg, "rel")) o->po.threshold_mode = RCL_PLATEAU_REL;
            else if (!strcmp(g.arg, "abs")) o->po.threshold_mode = RCL_PLATEAU_ABS;
            else bad = cli_getopt_bad(&g, "rel or abs");
            break;
        case O_PL_COOLDOWN: bad = cli_getopt_int(&g, 0, 1 << 30, &o->po.cooldown); break;
        case O_MIN_LR: {
            float v;
            bad = cli_getopt_float(&g, 0, 1, &v);
            o->po.min_lr = v;
            break;
        }
        case O_ITERATIONS: {
            int v;
            bad = cli_getopt_int(&g, 1, 2147483647, &v);
            o->iterations = v;
            break;
        }
        case O_WEIGHTS: o->weights = g.arg; break;
        case O_RESET_HEAD: o->reset_head = 1; break;
        case O_RECIPE: /* applied before the other options (apply_recipe) */
            if (!o->recipe || strcmp(o->recipe, g.arg))
                bad = cli_getopt_bad(&g, "course or imagenet, with the option spelled out "
                                         "(--recipe NAME)");
            break;
        case O_PIPELINE:
            if (!strcmp(g.arg, "cifar")) o->dopt.imagenet = 0;
            else if (!strcmp(g.arg, "imagenet")) o->dopt.imagenet = 1;
            else bad = cli_getopt_bad(&g, "cifar or imagenet");
            break;
        case O_VAL_SPLIT: o->dopt.val_split = g.arg; break;
        case O_CROP: bad = cli_getopt_int(&g, 8, 4096, &o->dopt.crop); break;
        case O_SCALE:
            if (sscanf(g.arg, "%d,%d", &o->dopt.scale_min, &o->dopt.scale_max) != 2 ||
                o->dopt.scale_min < 8 || o->dopt.scale_max < o->dopt.scale_min ||
                o->dopt.scale_max > 8192)
                bad = cli_getopt_bad(&g, "MIN,MAX shorter sides, e.g. 256,480");
            break;
        case O_RESIZE: bad = cli_getopt_int(&g, 8, 8192, &o->dopt.resize); break;
        case O_LIGHTING: bad = cli_getopt_float(&g, 0, 1, &o->dopt.lighting); break;
        case O_MEAN_IMAGE: o->dopt.mean_file = g.arg; break;
        case O_THREADS: bad = cli_getopt_int(&g, 1, 256, &o->dopt.threads); break;
        case O_STRICT: o->dopt.strict = 1; break;
        case O_CACHE_DIR: o->dopt.cache_dir = g.arg; break;
        case O_NO_INDEX_CACHE: o->dopt.no_index_cache = 1; break;
        default:
            if (c < CLI_MO_FIRST || c >= CLI_MO_LAST) return 2;
            bad = cli_model_opt(&g, c, &o->mc);
            o->model_opts = 1;
        }
        if (bad) return 2;
    }
    return cli_getopt_no_operands(&g);
}

static const char *find_data(const char *given)
{
    if (given) return given;
    static const char *cands[] = {"data/cifar-10-batches-bin", "data", NULL};
    for (int i = 0; cands[i]; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/data_batch_1.bin", cands[i]);
        if (access(p, R_OK) == 0) return cands[i];
    }
    return NULL;
}

/* ---- signals: the handlers only set a flag, which the loop reads after
 * every step. The first SIGINT or SIGTERM puts back the default actions, so
 * that a second one stops the process at once (checkpoints are renamed into
 * place, so the last complete one survives). */
static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    if (!g_signal) g_signal = sig;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* RESNET_CL_TEST_SLOW_WRITE=MS (tests only): every checkpoint waits MS ms
 * between its complete temporary file and the rename, so that a test's kill
 * can land inside the write. */
static void slow_write_hook(const char *path, void *user)
{
    int ms = *(const int *)user;
    printf("test hook: %s is in its temporary file; renaming in %d ms\n", path, ms);
    fflush(stdout);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int setup_slow_write(void)
{
    static int ms;
    const char *v = getenv("RESNET_CL_TEST_SLOW_WRITE");
    if (!v || !*v) return 0;
    if (cli_parse_int(v, 0, 600000, &ms)) {
        fprintf(stderr, "resnet-cl: RESNET_CL_TEST_SLOW_WRITE=%s: expected milliseconds (0..600000); "
                        "it is a test hook, unset it\n", v);
        return 2;
    }
    rcl_checkpoint_set_write_hook(slow_write_hook, &ms);
    return 0;
}

/* ---- the output folder */

static int file_exists(const char *dir, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Temporary files of our own atomic writes ("<file>.tmp.<pid>[.<n>]" of our
 * three files) whose process is gone: removed, with a note each. */
static void remove_stale_temps(const char *dir)
{
    static const char *const ours[] = {"last.safetensors", "best.safetensors", "log.jsonl"};
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *rest = NULL;
        for (int k = 0; k < 3 && !rest; k++) {
            size_t n = strlen(ours[k]);
            if (!strncmp(e->d_name, ours[k], n) && !strncmp(e->d_name + n, ".tmp.", 5))
                rest = e->d_name + n + 5;
        }
        if (!rest || *rest < '0' || *rest > '9') continue;
        char *end;
        long pid = strtol(rest, &end, 10);
        if (*end == '.') {
            const char *c = end + 1;
            if (!*c) continue;
            while (*c >= '0' && *c <= '9') c++;
            if (*c) continue;
        } else if (*end) {
            continue;
        }
        /* ours only: pid is this process (nothing written yet) or a dead one */
        if (pid <= 0 || (pid != (long)getpid() && !(kill((pid_t)pid, 0) != 0 && errno == ESRCH)))
            continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) == 0)
            printf("note: removed %s, left by an interrupted run (process %ld)\n", p, pid);
    }
    closedir(d);
}

/* log.jsonl follows the checkpoint: keep the lines of epochs 1..epochs
 * (complete lines only), rewritten atomically when anything goes. */
static int trim_log(const char *logp, int epochs, int *last)
{
    *last = 0;
    FILE *f = fopen(logp, "rb");
    if (!f) return 0;
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += r) == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    fclose(f);
    char *keep = buf ? malloc(n + 1) : NULL;
    if (!keep) {
        free(buf);
        fprintf(stderr, "resnet-cl: out of memory reading %s\n", logp);
        return 1;
    }
    size_t kn = 0;
    int dropped = 0;
    for (size_t i = 0; i < n;) {
        char *nl = memchr(buf + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
        int ep = 0;
        if (nl && sscanf(buf + i, "{\"epoch\": %d,", &ep) == 1 && ep >= 1 && ep <= epochs) {
            memcpy(keep + kn, buf + i, len);
            kn += len;
            if (ep > *last) *last = ep;
        } else {
            dropped++;
        }
        i += len;
    }
    int rc = 0;
    if (dropped) {
        int st = rcl_atomic_write_buf(logp, keep, kn);
        if (st) {
            cli_report("rewriting the log", st);
            rc = 1;
        } else {
            printf("note: %s: dropped %d line%s past the checkpoint (it finished %d epoch%s)\n", logp,
                   dropped, dropped == 1 ? "" : "s", epochs, epochs == 1 ? "" : "s");
        }
    }
    free(buf);
    free(keep);
    return rc;
}

/* A fresh run into a folder that holds one: refused, or with --overwrite
 * the old run's files are deleted. */
static int check_fresh_out(const train_opts *o, const char *out_dir)
{
    static const char *const files[] = {"last.safetensors", "best.safetensors", "log.jsonl"};
    int held = file_exists(out_dir, files[0]) || file_exists(out_dir, files[2]);
    if (!held) return 0;
    if (!o->overwrite) {
        fprintf(stderr, "resnet-cl: %s already holds a run (last.safetensors or log.jsonl); continue "
                        "it with --resume %s/last.safetensors, start over with --overwrite, or pick "
                        "another --out\n", out_dir, out_dir);
        return 1;
    }
    for (int k = 0; k < 3; k++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", out_dir, files[k]);
        if (unlink(p) != 0 && errno != ENOENT) {
            fprintf(stderr, "resnet-cl: --overwrite: cannot remove %s: %s\n", p, strerror(errno));
            return 1;
        }
    }
    printf("note: --overwrite: removed the run in %s\n", out_dir);
    return 0;
}

/* The cleanup-on-exit state of one training run. */
typedef struct train_run {
    rcl_ctx *ctx;
    rcl_model *model;
    train_data data;
    rcl_batch batch;
    rcl_optimizer opt;
    const cli_globals *g;
    /* outputs (NULL / "" with --no-save) */
    const char *ckpt, *best, *logp;
    char last_good[600];   /* the last complete checkpoint, "" if none */
    int good_epoch, good_step;
    rcl_dist_trainer dt;   /* the step: micro-batches, ranks */
    rcl_plateau plateau;   /* --lr-schedule plateau */
    float *gx;             /* the global batch as the loader yields it */
    int *glabels;
} train_run;

static void run_free(train_run *r)
{
    if (r->dt.model) rcl_dist_trainer_free(&r->dt);
    free(r->gx);
    free(r->glabels);
    rcl_batch_free(&r->batch);
    rcl_model_destroy(r->model);
    train_data_close(&r->data);
    rcl_ctx_destroy(r->ctx);
}

/* One line after the process's first training step: how long the start
 * took, and how many OpenCL programs came from the disk cache. */
static void report_startup(const train_run *r, double t_start, double t_data)
{
    rcl_ctx_stats cs = rcl_ctx_get_stats(r->ctx);
    printf("first training step done %.2f s after start (data %.2f s; OpenCL programs: %d from "
           "cache, %d compiled)\n",
           cli_now_s() - t_start, t_data, cs.programs_loaded, cs.programs_built);
    fflush(stdout);
}

static int save_checkpoint(train_run *r, const rcl_train_progress *p, const char *path)
{
    int st = rcl_checkpoint_save(r->model, &r->opt, p, path);
    if (st) return cli_report_run_failure("writing checkpoint", st, path, 1), 1;
    if (path == r->ckpt) {
        snprintf(r->last_good, sizeof r->last_good, "%s", path);
        r->good_epoch = p->epoch;
        r->good_step = p->step;
    }
    return 0;
}

/* "P (after epoch E)" / "P (epoch E, step S)" / "none was written". */
static void describe_good(const train_run *r, char *buf, size_t cap)
{
    if (!r->last_good[0]) snprintf(buf, cap, "none was written");
    else if (r->good_step) snprintf(buf, cap, "%s (epoch %d, step %d), left untouched", r->last_good,
                                    r->good_epoch + 1, r->good_step);
    else snprintf(buf, cap, "%s (after epoch %d), left untouched", r->last_good, r->good_epoch);
}

/* Shell-quote `a` into buf when it needs it. */
static void put_arg(FILE *f, const char *a)
{
    if (*a && !a[strcspn(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!")]) {
        fprintf(f, " %s", a);
        return;
    }
    fputs(" '", f);
    for (; *a; a++) {
        if (*a == '\'') fputs("'\\''", f);
        else fputc(*a, f);
    }
    fputc('\'', f);
}

/* "resume with: resnet-cl <this command line without --resume/--overwrite>
 * --resume P" */
static void print_resume_hint(const train_run *r, const char *ckpt)
{
    if (rcl_dist_size() > 1) /* the launcher's command is not ours to know */
        fprintf(stderr, "resume with (launched as before, %d ranks): resnet-cl", rcl_dist_size());
    else
        fprintf(stderr, "resume with: resnet-cl");
    const cli_globals *g = r->g;
    for (int i = 1; i < g->argc; i++) {
        const char *a = g->argv[i];
        if (!strcmp(a, "--overwrite") || !strncmp(a, "--resume=", 9)) continue;
        if (!strcmp(a, "--resume")) {
            i++;
            continue;
        }
        put_arg(stderr, a);
    }
    fprintf(stderr, " --resume");
    put_arg(stderr, ckpt);
    fprintf(stderr, "\n");
}

/* The training position inside an epoch. */
typedef struct epoch_pos {
    int step;               /* batches trained */
    double loss_sum, win_loss;
    long long correct, seen;
    int win;
} epoch_pos;

static rcl_train_progress progress_at(const train_opts *o, const train_run *r, int epochs_done,
                                      float lr, double best_acc, const epoch_pos *e)
{
    rcl_train_progress p = {.epoch = epochs_done, .seed = (uint64_t)o->seed, .lr = lr,
                            .best_acc = best_acc, .normalize = o->normalize,
                            .batch_size = o->batch};
    if (o->plateau) {
        p.plateau = 1;
        p.plateau_best = r->plateau.best;
        p.plateau_bad = r->plateau.num_bad_epochs;
        p.plateau_cooldown = r->plateau.cooldown_counter;
        p.plateau_reductions = r->plateau.reductions;
    }
    if (e) {
        p.step = e->step;
        p.loss_sum = e->loss_sum;
        p.correct = e->correct;
        p.seen = e->seen;
        p.win_loss = e->win_loss;
        p.win = e->win;
    }
    return p;
}

/* SIGINT/SIGTERM seen before a step: the checkpoint of the position (when
 * anything trained since the last one), how to resume, 128 + signal. */
static int interrupted(const train_opts *o, train_run *r, int sig, int epoch, float lr,
                       double best_acc, const epoch_pos *e, int trained_since_save)
{
    const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    if (rcl_dist_rank() != 0) return 128 + sig; /* rank 0 checkpoints and says so */
    if (r->ckpt && trained_since_save) {
        rcl_train_progress p = progress_at(o, r, epoch, lr, best_acc, e);
        if (save_checkpoint(r, &p, r->ckpt)) return 1;
    }
    fprintf(stderr, "\nresnet-cl: %s: interrupted at epoch %d step %d; ", name, epoch + 1, e->step);
    if (!r->ckpt) {
        fprintf(stderr, "--no-save: no checkpoint written\n");
    } else if (!r->last_good[0]) {
        fprintf(stderr, "nothing trained yet, no checkpoint written\n");
    } else {
        fprintf(stderr, "checkpoint %s %s\n", trained_since_save ? "written to" : "unchanged:",
                r->last_good);
        print_resume_hint(r, r->last_good);
    }
    return 128 + sig;
}

static int train_loop(const train_opts *o, train_run *r, int start_epoch, double best_acc,
                      const epoch_pos *resume_pos, double t_start, double t_data)
{
    int first = 1, trained_since_save = 0, warned_single = 0;
    int steps = rcl_source_num_batches(&r->data.train);
    rcl_norm_kind norm = rcl_model_get_config(r->model)->norm.kind;
    int batch_stats = norm == RCL_NORM_BN || norm == RCL_NORM_BRN;
    cli_progress bar;
    char good[800];
    /* --iterations counts optimizer updates (the optimizer's step, kept in
     * checkpoints); --epochs, when not given, is their estimate, and the
     * loop goes on past it should skipped files leave updates missing */
    for (int epoch = start_epoch;
         epoch < o->epochs || (o->iterations && !o->epochs_given && r->opt.step < o->iterations);
         epoch++) {
        float lr = o->plateau ? (float)r->plateau.lr : rcl_lr_at(&o->sched, epoch);
        rcl_optimizer_set_lr(&r->opt, lr);
        double t0 = cli_now_s();
        epoch_pos e = {0};
        if (epoch == start_epoch && resume_pos) e = *resume_pos;
        long long seen0 = e.seen; /* images/s: of this process */
        int stop = 0;             /* --iterations reached */
        cli_progress_start(&bar, stdout, NULL, "img/s");
        int n = 0, st;
        if ((st = rcl_source_begin_epoch_at(&r->data.train, epoch, e.step)))
            return cli_report("loader", st), 1;
        while (!stop) {
            /* one snapshot of the flag decides; under MPI the ranks' snapshots
             * are agreed on (a signal that lands after it waits for the next
             * step on every rank), so that all stop at the same step */
            int sig = g_signal;
            if (rcl_dist_size() > 1 && (st = rcl_dist_max_i32(&sig, 1)))
                return cli_progress_finish(&bar, 1), cli_report("MPI", st), 1;
            if (sig) {
                cli_progress_finish(&bar, 1);
                return interrupted(o, r, sig, epoch, lr, best_acc, &e, trained_since_save);
            }
            int step = e.step + 1;
            if ((st = rcl_source_next(&r->data.train, r->gx, r->glabels, &n)))
                return cli_progress_finish(&bar, 1), cli_report("loading a batch", st), 1;
            if (n == 0) break;
            int parts = rcl_dist_size() * r->dt.accumulate, off;
            if (rcl_dist_split(n, parts, parts - 1, &off) < (batch_stats ? 2 : 1) ||
                (o->sync_bn && n % parts)) { /* sync-BN: equal parts (its sums are unweighted) */
                /* BatchNorm cannot train on a single image (per micro-batch and rank) */
                if (step < steps) { /* files skipped inside the epoch left too few */
                    cli_progress_clear(&bar);
                    if (rcl_dist_rank() == 0)
                        fprintf(stderr, "resnet-cl: note: epoch %d step %d: the batch holds %d "
                                        "image%s after skipped files, too few to train on; the "
                                        "step is skipped\n", epoch + 1, step, n, n == 1 ? "" : "s");
                    e.step = step;
                    continue;
                }
                if (!warned_single) {
                    cli_progress_clear(&bar);
                    if (parts == 1)
                        fprintf(stderr, "resnet-cl: note: the epoch's last batch holds 1 image, "
                                        "which --norm %s cannot train on; it is skipped every "
                                        "epoch\n", rcl_norm_kind_name(norm));
                    else if (rcl_dist_rank() == 0)
                        fprintf(stderr, "resnet-cl: note: the epoch's last batch holds %d images, "
                                        "%s %d parts (ranks x micro-batches)%s; it is skipped "
                                        "every epoch\n", n,
                                o->sync_bn ? "which do not split into" : "too few for", parts,
                                o->sync_bn ? " of equal size (--sync-bn)"
                                : batch_stats ? " of at least 2 for BatchNorm" : "");
                    warned_single = 1;
                }
                break;
            }
            rcl_step_result res;
            st = rcl_dist_train_step(&r->dt, r->gx, r->glabels, n, &res);
            if (!st && o->check_sync && step % o->check_sync == 0) {
                uint64_t h;
                int bad;
                st = rcl_dist_check_sync(r->model, &h, &bad);
                if (st == RCL_ERR_INVALID && bad >= 0) {
                    cli_progress_finish(&bar, 1);
                    fprintf(stderr, "resnet-cl: --check-sync: after epoch %d step %d the weights "
                                    "of rank %d differ from rank 0's; stopping\n", epoch + 1, step,
                            bad);
                    return 1;
                }
            }
            if (!st && first) {
                first = 0;
                cli_progress_clear(&bar);
                report_startup(r, t_start, t_data);
            }
            if (st == RCL_ERR_NAN) {
                cli_progress_finish(&bar, 1);
                describe_good(r, good, sizeof good);
                fprintf(stderr, "resnet-cl: loss became %s at epoch %d step %d; stopping (try a lower "
                                "--lr); last good checkpoint: %s\n",
                        rcl_last_error() + 8, epoch + 1, step, good);
                return 1;
            }
            if (st)
                return cli_progress_finish(&bar, 1),
                       cli_report_run_failure("training step", st, r->ckpt, 0), 1;
            e.step = step;
            trained_since_save = 1;
            e.loss_sum += (double)res.loss * n;
            e.win_loss += res.loss;
            e.win++;
            e.correct += res.correct;
            e.seen += n;
            stop = o->iterations && r->opt.step >= o->iterations;
            char loss[32];
            snprintf(loss, sizeof loss, "loss %.4f", res.loss);
            cli_progress_update(&bar, step, steps, (double)(e.seen - seen0), loss);
            if (step % o->log_interval == 0) {
                cli_progress_clear(&bar);
                printf("Epoch [%d/%d], step [%d/%d] Loss: %.4f\n", epoch + 1, o->epochs, step, steps,
                       e.win_loss / e.win);
                fflush(stdout);
                e.win_loss = 0;
                e.win = 0;
            }
            if (r->ckpt && o->checkpoint_every && step % o->checkpoint_every == 0 && step < steps &&
                !stop) {
                rcl_train_progress p = progress_at(o, r, epoch, lr, best_acc, &e);
                if (save_checkpoint(r, &p, r->ckpt)) return cli_progress_finish(&bar, 1), 1;
                trained_since_save = 0;
            }
        }
        cli_progress_finish(&bar, 0);
        if (rcl_dist_rank() == 0) train_data_report_skipped(&r->data, epoch + 1, 0);
        /* --iterations reached inside the epoch: the run ends at this
         * position (a mid-epoch checkpoint: a larger --iterations resumes it) */
        int partial = stop && e.step < steps;
        double test_loss = 0;
        int test_correct = 0, test_total = 0;
        /* every rank evaluates its part with rank 0's BN running statistics
         * (the ones checkpoints hold) */
        st = rcl_dist_bcast_model(r->model, &r->opt, 0);
        if (!st)
            st = rcl_dist_evaluate(r->model, &r->batch, &r->data.test, r->gx, r->glabels,
                                   &test_loss, &test_correct, &test_total);
        if (st == RCL_ERR_NAN) {
            describe_good(r, good, sizeof good);
            fprintf(stderr, "resnet-cl: loss became %s at epoch %d in the test pass after step %d; "
                            "stopping (try a lower --lr); last good checkpoint: %s\n",
                    rcl_last_error() + 8, epoch + 1, e.step, good);
            return 1;
        }
        if (st) return cli_report_run_failure("evaluating", st, r->ckpt, 0), 1;
        if (rcl_dist_rank() == 0) train_data_report_skipped(&r->data, epoch + 1, 1);
        double secs = cli_now_s() - t0, acc = test_total ? (double)test_correct / test_total : 0;
        printf("Test set: Average loss: %.4f, Accuracy: %d/%d (%.0f%%)\n", test_loss, test_correct,
               test_total, 100.0 * acc);
        printf("epoch %d%s: %.1f s, %.1f train img/s, lr %g\n", epoch + 1,
               partial ? " (ended by --iterations)" : "", secs, (e.seen - seen0) / secs, (double)lr);
        float next_lr = rcl_lr_at(&o->sched, epoch + 1);
        if (o->plateau && !partial) {
            int cut = rcl_plateau_step(&r->plateau, 1.0 - acc); /* the validation error */
            next_lr = (float)r->plateau.lr;
            if (cut == 1)
                printf("lr %g -> %g: the test error did not improve for %d epochs "
                       "(--lr-schedule plateau)\n", (double)lr, (double)next_lr,
                       o->po.patience + 1);
        } else if (o->plateau) {
            next_lr = lr;
        }
        fflush(stdout);
        int improved = acc > best_acc;
        if (improved) best_acc = acc;
        if (r->ckpt) {
            /* best before last: a kill between them replays this epoch, which
             * writes the same best again; then the log line */
            rcl_train_progress p = partial ? progress_at(o, r, epoch, lr, best_acc, &e)
                                           : progress_at(o, r, epoch + 1, next_lr, best_acc, NULL);
            /* the log line (but its time, which would make equal runs' files
             * differ) travels in the checkpoint too: a kill between the save
             * and the append below loses nothing (--resume restores it) */
            int k = snprintf(p.log_line, sizeof p.log_line,
                             "{\"epoch\": %d, \"lr\": %.9g, \"train_loss\": %.6f, \"train_acc\": "
                             "%.6f, \"test_loss\": %.6f, \"test_acc\": %.6f",
                             epoch + 1, (double)lr, e.seen ? e.loss_sum / e.seen : 0,
                             e.seen ? (double)e.correct / e.seen : 0, test_loss, acc);
            if (partial && k > 0 && (size_t)k < sizeof p.log_line)
                snprintf(p.log_line + k, sizeof p.log_line - (size_t)k,
                         ", \"steps\": %d, \"iterations\": %lld", e.step, o->iterations);
            if (improved && save_checkpoint(r, &p, r->best)) return 1;
            if (save_checkpoint(r, &p, r->ckpt)) return 1;
            trained_since_save = 0;
            FILE *lf = fopen(r->logp, "a");
            if (!lf) {
                fprintf(stderr, "resnet-cl: cannot write %s: %s\n", r->logp, strerror(errno));
                return 1;
            }
            fprintf(lf, "%s, \"seconds\": %.3f}\n", p.log_line, secs);
            if (fclose(lf) != 0) {
                fprintf(stderr, "resnet-cl: cannot write %s: %s\n", r->logp, strerror(errno));
                return 1;
            }
        }
        if (stop) {
            printf("stopped after %lld iterations (--iterations)%s%s\n", o->iterations,
                   r->last_good[0] ? "; checkpoint " : "", r->last_good);
            break;
        }
    }
    if (g_signal) { /* during the last test pass: the run is complete */
        fprintf(stderr, "resnet-cl: %s after the last epoch; the run is complete%s%s\n",
                g_signal == SIGINT ? "SIGINT" : "SIGTERM", r->last_good[0] ? ": " : "", r->last_good);
        return 128 + g_signal;
    }
    return 0;
}

int cli_train(const cli_globals *g, int argc, char **argv)
{
    train_opts o = {.model = "resnet18", .epochs = 80, .batch = 100, .seed = 0,
                    .log_interval = 100, .augment = 1, .save = 1, .optim = RCL_OPTIM_ADAM,
                    .lr = 0.001f, .momentum = 0.9f, .accumulate = 1,
                    .sched = {.factor = 3.0f, .step_size = 20},
                    .mc = rcl_model_config_default(), .po = rcl_plateau_defaults(),
                    .dopt = {.crop = 224, .resize = 256, .scale_min = 256, .scale_max = 480,
                             .lighting = 0.1f, .augment = 1}};
    int pst = apply_recipe(argc, argv, &o);
    if (!pst) pst = parse_train_args(argc, argv, &o);
    if (pst) return pst == 1 ? 0 : pst;
    if (cli_parse_only) return CLI_PARSED;
    if ((pst = setup_slow_write())) return pst;
    o.sched.lr0 = o.lr;
    if (o.resume && o.overwrite) {
        fprintf(stderr, "resnet-cl: --overwrite starts a new run and --resume continues one; give "
                        "one of them\n");
        return 2;
    }
    if (o.resume && o.weights) {
        fprintf(stderr, "resnet-cl: --weights starts a new run from a file's weights and --resume "
                        "continues a run; give one of them\n");
        return 2;
    }
    if (o.reset_head && !o.weights) {
        fprintf(stderr, "resnet-cl: --reset-head goes with --weights FILE (the classifier of the "
                        "file's model starts afresh)\n");
        return 2;
    }
    if (o.dopt.imagenet && (o.per_class_train || o.per_class_test)) {
        fprintf(stderr, "resnet-cl: --train-per-class / --test-per-class subset CIFAR-10; the "
                        "ImageNet pipeline reads every file of its folders (make a smaller folder "
                        "of links for a subset)\n");
        return 2;
    }
    if (o.dopt.imagenet && o.dopt.scale_min < o.dopt.crop) {
        fprintf(stderr, "resnet-cl: --scale %d,%d: the shorter side must be at least the crop (%d)\n",
                o.dopt.scale_min, o.dopt.scale_max, o.dopt.crop);
        return 2;
    }
    if (o.dopt.imagenet && o.dopt.resize < o.dopt.crop) {
        fprintf(stderr, "resnet-cl: --resize %d is smaller than --crop %d\n", o.dopt.resize,
                o.dopt.crop);
        return 2;
    }
    if (o.plateau && !(o.sched.factor > 1)) {
        fprintf(stderr, "resnet-cl: --lr-schedule plateau divides lr by --lr-factor, which must be "
                        "above 1 (got %g)\n", (double)o.sched.factor);
        return 2;
    }
    o.po.mode = RCL_PLATEAU_MIN;
    o.po.factor = 1.0 / o.sched.factor;
    /* --resume: the model and its options come from the checkpoint */
    rcl_model_config mc = o.mc;
    rcl_checkpoint_info info = {0};
    int st;
    if (o.resume) {
        if ((st = rcl_checkpoint_info_read(o.resume, &info))) {
            cli_report("resuming", st);
            return 1;
        }
        free(info.class_names);
        if (o.model_given && strcmp(o.model, info.arch)) {
            fprintf(stderr, "resnet-cl: --model %s conflicts with %s, which holds a %s; drop --model "
                            "to continue it\n", o.model, o.resume, info.arch);
            return 2;
        }
        o.model = info.arch;
        if (o.model_opts &&
            (info.norm.kind != mc.norm.kind || info.init.scheme != mc.init.scheme))
            fprintf(stderr, "resnet-cl: note: %s was trained with --norm %s --init %s; using them\n",
                    o.resume, rcl_norm_kind_name(info.norm.kind),
                    rcl_init_scheme_name(info.init.scheme));
        mc.norm = info.norm;
        mc.init = info.init;
        o.stride_on_1x1 = info.stride_on_1x1;
        if (info.normalize != o.normalize)
            fprintf(stderr, "resnet-cl: note: %s was trained %s --normalize; using that\n", o.resume,
                    info.normalize ? "with" : "without");
        o.normalize = info.normalize;
        if (info.batch_size && !o.batch_given) o.batch = info.batch_size;
    }
    if (o.batch < 2 && (mc.norm.kind == RCL_NORM_BN || mc.norm.kind == RCL_NORM_BRN)) {
        fprintf(stderr, "resnet-cl: --batch-size 1 cannot train with --norm %s: its training "
                        "statistics need at least 2 samples per batch; use --batch-size 2 or more, "
                        "or a per-sample norm (--norm gn, ln, in, lrn, ws or none)\n",
                rcl_norm_kind_name(mc.norm.kind));
        return 2;
    }
    int ranks = rcl_dist_size(), parts = ranks * o.accumulate;
    if (o.batch % parts) {
        fprintf(stderr, "resnet-cl: --batch-size %d does not divide by %d (%d rank%s x --accumulate "
                        "%d): each step splits its batch into equal parts; pick a multiple of %d\n",
                o.batch, parts, ranks, ranks == 1 ? "" : "s", o.accumulate, parts);
        return 2;
    }
    if (o.batch / parts < 2 && (mc.norm.kind == RCL_NORM_BN || mc.norm.kind == RCL_NORM_BRN)) {
        fprintf(stderr, "resnet-cl: --batch-size %d over %d parts (ranks x --accumulate) leaves 1 "
                        "image per part, which --norm %s cannot train on; use a batch of at least "
                        "%d\n", o.batch, parts, rcl_norm_kind_name(mc.norm.kind), 2 * parts);
        return 2;
    }
    if (o.sync_bn && mc.norm.kind != RCL_NORM_BN) {
        fprintf(stderr, "resnet-cl: --sync-bn synchronises BatchNorm, but the model uses --norm %s; "
                        "drop --sync-bn or use --norm bn\n", rcl_norm_kind_name(mc.norm.kind));
        return 2;
    }
    int rank0 = rcl_dist_rank() == 0;
    char out_dir[512], ckpt[600], best[600], logp[600];
    if (o.out) snprintf(out_dir, sizeof out_dir, "%s", o.out);
    else snprintf(out_dir, sizeof out_dir, "runs/%s", o.model);
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", out_dir);
    snprintf(best, sizeof best, "%s/best.safetensors", out_dir);
    snprintf(logp, sizeof logp, "%s/log.jsonl", out_dir);
    if (rank0 && o.save && !o.resume && !o.overwrite) /* before minutes of loading */
        if (check_fresh_out(&o, out_dir)) return 1;
    const char *data = o.dopt.imagenet ? o.data : find_data(o.data);
    if (!data && o.dopt.imagenet) {
        fprintf(stderr, "resnet-cl: the ImageNet pipeline needs --data DIR (train/<wnid>/*.JPEG and "
                        "val/, docs/imagenet.md)\n");
        return 2;
    }
    if (!data) {
        fprintf(stderr, "resnet-cl: CIFAR-10 not found in data/cifar-10-batches-bin; run "
                        "data/get_cifar10.sh to download it, or pass --data DIR (binary batches, or "
                        "train/ and test/ class folders)\n");
        return 1;
    }
    install_signal_handlers();
    train_run r = {.g = g};
    double t_data = cli_now_s();
    o.dopt.data = data;
    o.dopt.batch = o.batch;
    o.dopt.augment = o.augment;
    o.dopt.normalize = o.normalize;
    o.dopt.per_class_train = o.per_class_train;
    o.dopt.per_class_test = o.per_class_test;
    if (!o.dopt.threads) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        o.dopt.threads = nc < 1 ? 1 : nc > 64 ? 64 : (int)nc;
    }
    if (train_data_open(&r.data, &o.dopt, o.resume)) return run_free(&r), 1;
    t_data = cli_now_s() - t_data;
    print_recipe(&o);
    if (cli_dist_open_device(g, &r.ctx, NULL, 1)) return run_free(&r), 1;
    cli_dist_quiet_others();
    mc.num_classes = r.data.num_classes;
    mc.in_channels = r.data.c;
    mc.in_h = r.data.h;
    mc.in_w = r.data.w;
    /* The model's buffers hold the largest batch either loader yields: a
     * --batch-size above the data costs no memory (steps use the tensor's n). */
    int most = r.data.n_train > r.data.n_test ? r.data.n_train : r.data.n_test;
    mc.batch = o.batch / parts < most ? o.batch / parts : most; /* a micro-batch of a rank */
    mc.seed = (uint64_t)o.seed;
    mc.stride_on = o.stride_on_1x1 ? RCL_STRIDE_ON_1X1 : RCL_STRIDE_ON_3X3;
    if (cli_check_memory(r.ctx, o.model, &mc, 1)) return run_free(&r), 1; /* before allocating */
    if ((st = rcl_model_create(&r.model, r.ctx, o.model, &mc))) {
        cli_report("building the model", st);
        return run_free(&r), 1;
    }
    rcl_checkpoint_set_class_names(r.model, r.data.class_csv);
    if ((st = rcl_checkpoint_set_input(r.model, &r.data.input, r.data.mean))) {
        cli_report("building the model", st);
        return run_free(&r), 1;
    }
    if (o.weights && cli_train_init_weights(r.ctx, r.model, o.model, o.weights, o.reset_head))
        return run_free(&r), 1;
    rcl_adam_hparams ah = rcl_adam_defaults();
    ah.lr = o.lr;
    ah.weight_decay = o.weight_decay;
    rcl_sgd_hparams sh = {.lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay,
                          .nesterov = o.nesterov};
    if ((st = rcl_optimizer_init(&r.opt, r.model, o.optim, &ah, &sh))) {
        cli_report("optimizer", st);
        return run_free(&r), 1;
    }
    int start_epoch = 0;
    double best_acc = 0;
    epoch_pos pos = {0};
    if (o.plateau && (st = rcl_plateau_init(&r.plateau, &o.po, o.lr))) {
        cli_report("--lr-schedule plateau", st);
        return run_free(&r), 2;
    }
    char resume_line[sizeof ((rcl_train_progress *)0)->log_line] = "";
    if (o.resume) {
        rcl_train_progress prog = {0};
        if ((st = rcl_checkpoint_load(r.model, &r.opt, &prog, o.resume))) {
            cli_report("resuming", st);
            return run_free(&r), 1;
        }
        if (prog.seed != (uint64_t)o.seed)
            fprintf(stderr, "resnet-cl: note: checkpoint was trained with --seed %llu; using it\n",
                    (unsigned long long)prog.seed);
        o.seed = (int)prog.seed;
        start_epoch = prog.epoch;
        best_acc = prog.best_acc;
        int line_epoch = 0; /* the checkpoint's log line, when it is this epoch's */
        if (sscanf(prog.log_line, "{\"epoch\": %d,", &line_epoch) == 1 && line_epoch == start_epoch)
            snprintf(resume_line, sizeof resume_line, "%s", prog.log_line);
        pos = (epoch_pos){.step = prog.step, .loss_sum = prog.loss_sum, .win_loss = prog.win_loss,
                          .correct = prog.correct, .seen = prog.seen, .win = prog.win};
        if (pos.step && prog.batch_size != o.batch) {
            fprintf(stderr, "resnet-cl: %s stopped inside epoch %d with --batch-size %d; resume it "
                            "with that batch size (not %d)\n", o.resume, start_epoch + 1,
                    prog.batch_size, o.batch);
            return run_free(&r), 2;
        }
        if (pos.step) printf("resumed from %s at epoch %d step %d\n", o.resume, start_epoch + 1, pos.step);
        else printf("resumed from %s after epoch %d\n", o.resume, start_epoch);
        if (o.plateau) {
            if (!prog.plateau)
                fprintf(stderr, "resnet-cl: note: %s holds no --lr-schedule plateau state; the "
                                "scheduler starts afresh at lr %g\n", o.resume, (double)prog.lr);
            r.plateau.lr = prog.lr;
            if (prog.plateau) {
                r.plateau.best = prog.plateau_best;
                r.plateau.num_bad_epochs = prog.plateau_bad;
                r.plateau.cooldown_counter = prog.plateau_cooldown;
                r.plateau.reductions = prog.plateau_reductions;
            }
            r.plateau.last_epoch = start_epoch;
        }
        snprintf(r.last_good, sizeof r.last_good, "%s", o.resume);
        r.good_epoch = start_epoch;
        r.good_step = pos.step;
    }
    /* The loaders come after --resume: data order and augmentation follow the
     * checkpoint's seed, not the command line's. */
    o.dopt.seed = (uint64_t)o.seed;
    if (train_data_start(&r.data, &o.dopt)) return run_free(&r), 1;
    int steps = rcl_source_num_batches(&r.data.train);
    if (pos.step > steps) {
        fprintf(stderr, "resnet-cl: %s stopped at step %d of an epoch that now has %d steps; resume "
                        "with the same data options (--train-per-class, --data)\n", o.resume,
                pos.step, steps);
        return run_free(&r), 1;
    }
    /* the updates an epoch makes: a last batch too small to split is skipped */
    int rem = r.data.n_train % o.batch, per_epoch = steps;
    if (rem && (rem / parts < (mc.norm.kind == RCL_NORM_BN || mc.norm.kind == RCL_NORM_BRN ? 2 : 1) ||
                (o.sync_bn && rem % parts)))
        per_epoch--;
    if (o.iterations && per_epoch < 1) {
        fprintf(stderr, "resnet-cl: the training set (%d images) holds no batch of %d that can "
                        "train\n", r.data.n_train, o.batch);
        return run_free(&r), 1;
    }
    if (o.iterations && !o.epochs_given) /* the epochs the iterations need */
        o.epochs = (int)((o.iterations + per_epoch - 1) / per_epoch);
    if (o.iterations && r.opt.step >= o.iterations) {
        fprintf(stderr, "resnet-cl: %s already trained %lld iterations (--iterations %lld); raise "
                        "--iterations to train further\n", o.resume, (long long)r.opt.step,
                o.iterations);
        return run_free(&r), 1;
    }
    if (o.resume && start_epoch >= o.epochs) {
        fprintf(stderr, "resnet-cl: %s already finished %d epoch%s (--epochs %d); raise --epochs "
                        "to train further\n", o.resume, start_epoch, start_epoch == 1 ? "" : "s",
                o.epochs);
        return run_free(&r), 1;
    }
    if ((st = rcl_batch_init(&r.batch, r.model))) {
        cli_report("creating the test loader", st);
        return run_free(&r), 1;
    }
    /* the global batch (every rank reads all of it: the same permutation and
     * augmentation everywhere), and the step that splits it */
    size_t per = (size_t)mc.in_channels * mc.in_h * mc.in_w;
    r.gx = malloc((size_t)o.batch * per * sizeof(float));
    r.glabels = malloc((size_t)o.batch * sizeof(int));
    if (!r.gx || !r.glabels) {
        fprintf(stderr, "resnet-cl: out of host memory for a batch of %d images\n", o.batch);
        return run_free(&r), 1;
    }
    if (o.sync_bn && ranks > 1) rcl_model_set_bn_reducer(r.model, rcl_dist_bn_reduce, NULL);
    if ((st = rcl_dist_trainer_init(&r.dt, r.model, &r.opt, &r.batch, o.accumulate, !o.no_overlap)) ||
        (st = rcl_dist_bcast_model(r.model, &r.opt, 0))) {
        cli_report("setting up the training step", st);
        return run_free(&r), 1;
    }
    if (o.save && rank0) {
        if (rcl_mkdir_p(out_dir)) {
            fprintf(stderr, "resnet-cl: cannot create output directory %s: %s\n", out_dir, strerror(errno));
            return run_free(&r), 1;
        }
        remove_stale_temps(out_dir);
        if (!o.resume && check_fresh_out(&o, out_dir)) return run_free(&r), 1;
        int logged = 0;
        if (o.resume && trim_log(logp, start_epoch, &logged)) return run_free(&r), 1;
        if (o.resume && logged < start_epoch && resume_line[0]) { /* killed before the append */
            FILE *lf = fopen(logp, "a");
            if (!lf || fprintf(lf, "%s, \"seconds\": null}\n", resume_line) < 0 || fclose(lf) != 0) {
                fprintf(stderr, "resnet-cl: cannot write %s: %s\n", logp, strerror(errno));
                return run_free(&r), 1;
            }
            printf("note: %s: epoch %d's line restored from the checkpoint\n", logp, start_epoch);
        }
        r.ckpt = ckpt;
        r.best = best;
        r.logp = logp;
    }
    const rcl_device_info *d = rcl_ctx_device(r.ctx);
    char desc[320];
    cli_model_describe(&mc, desc, sizeof desc);
    printf("device %d: %s (%s); model %s, %lld parameters; %s\n"
           "%s\n", d->index, d->name, d->platform_name, o.model,
           (long long)rcl_model_param_count(r.model), r.data.desc, desc);
    if (o.iterations)
        printf("%lld iterations (optimizer updates): %d epoch%s of %d%s\n", o.iterations, o.epochs,
               o.epochs == 1 ? "" : "s", per_epoch,
               per_epoch < steps ? " (the last, too small batch of each is skipped)" : "");
    int bn = mc.norm.kind == RCL_NORM_BN || mc.norm.kind == RCL_NORM_BRN;
    if (ranks > 1)
        printf("data parallel: %d ranks, global batch %d = %d per rank%s; gradients all-reduced %s; "
               "%s\n", ranks, o.batch, o.batch / ranks,
               o.accumulate > 1 ? " in micro-batches" : "",
               o.no_overlap ? "after the backward (--no-overlap)" : "in buckets during the backward",
               !bn ? "no batch statistics"
               : o.sync_bn ? "BatchNorm statistics over all ranks (--sync-bn)"
                           : "BatchNorm statistics per rank (not synchronised; --sync-bn does)");
    if (o.accumulate > 1)
        printf("gradient accumulation: %d micro-batches of %d images per step%s\n", o.accumulate,
               o.batch / parts,
               !bn ? "" : o.sync_bn && ranks > 1 ? "; BatchNorm statistics per micro-batch over all ranks"
                                                 : "; BatchNorm statistics per micro-batch");
    fflush(stdout);
    int rc = train_loop(&o, &r, start_epoch, best_acc, o.resume ? &pos : NULL, g->t_start, t_data);
    run_free(&r);
    return rc;
}
