/* `resnet-cl train`'s options: usage, --recipe, parsing (train.h). */
#include "cli/train.h"

#include "cli/cli.h"
#include "tools/cli_model_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            "  --out DIR            last.safetensors, best.safetensors, log.jsonl and steps.jsonl\n"
            "                       (the loss every --log-interval steps) (default\n"
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
            "  --warmup-steps N     the first N optimizer updates at --warmup-lr, then the\n"
            "                       schedule's lr (He et al. 2016 warm ResNet-110 up at 0.01\n"
            "                       for about 400 iterations: --warmup-steps 400)\n"
            "  --warmup-lr LR       the warm-up's lr (default --lr / 10)\n"
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
int train_apply_recipe(int argc, char **argv, train_opts *o)
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

void train_print_recipe(const train_opts *o)
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
int train_parse_args(int argc, char **argv, train_opts *o)
{
    enum {
        O_MODEL = CLI_OPT_FIRST, O_DATA, O_OUT, O_RESUME, O_EPOCHS, O_BATCH, O_SEED, O_LOG_INTERVAL,
        O_TRAIN_PER_CLASS, O_TEST_PER_CLASS, O_STEP_SIZE, O_LR, O_LR_FACTOR, O_MOMENTUM,
        O_WEIGHT_DECAY, O_MILESTONES, O_OPTIMIZER, O_NESTEROV, O_NO_AUGMENT, O_NORMALIZE,
        O_PAPER_STRIDE, O_NO_SAVE, O_OVERWRITE, O_CHECKPOINT_EVERY, O_ACCUMULATE, O_NO_OVERLAP,
        O_CHECK_SYNC, O_SYNC_BN, O_LR_SCHEDULE, O_PL_PATIENCE, O_PL_THRESHOLD, O_PL_THRESHOLD_MODE,
        O_PL_COOLDOWN, O_MIN_LR, O_ITERATIONS, O_WEIGHTS, O_RESET_HEAD, O_RECIPE, O_PIPELINE,
        O_VAL_SPLIT, O_CROP, O_SCALE, O_RESIZE, O_LIGHTING, O_MEAN_IMAGE, O_THREADS, O_STRICT,
        O_CACHE_DIR, O_NO_INDEX_CACHE, O_WARMUP_STEPS, O_WARMUP_LR,
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
        {"warmup-steps", required_argument, NULL, O_WARMUP_STEPS},
        {"warmup-lr", required_argument, NULL, O_WARMUP_LR},
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
        case O_WARMUP_STEPS: {
            int v;
            bad = cli_getopt_int(&g, 1, 2147483647, &v);
            o->warmup_steps = v;
            break;
        }
        case O_WARMUP_LR:
            bad = cli_getopt_float(&g, 0, 1, &o->warmup_lr);
            o->warmup_lr_given = 1;
            break;
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
