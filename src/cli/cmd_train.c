/* resnet-cl train: the course recipe by default (resnet18, Adam lr 0.001,
 * batch 100, 80 epochs, lr divided by 3 every 20 epochs, pad-4 crop + flip). */
#include "cli/cli.h"
#include "tools/cli_data.h"
#include "tools/cli_model_opts.h"
#include "base/base.h" /* rcl_mkdir_p */
#include "tools/progress.h"
#include "rcl/checkpoint.h"
#include "rcl/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct train_opts {
    const char *model, *data, *out, *resume;
    int epochs, batch, seed, log_interval, per_class_train, per_class_test, augment, normalize;
    int stride_on_1x1, save;
    rcl_optim_kind optim;
    float lr, momentum, weight_decay;
    int nesterov;
    rcl_lr_schedule sched;
    rcl_model_config mc;  /* norm and init (model options) */
    int model_opts;       /* any given on the command line */
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
            "  --out DIR            checkpoints and log.jsonl (default runs/<model>)\n"
            "  --resume FILE        continue from a checkpoint written by train\n"
            "  --no-save            do not write checkpoints\n"
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

/* Returns 0 to train, 1 after --help, 2 after a usage error (printed). */
static int parse_train_args(int argc, char **argv, train_opts *o)
{
    enum {
        O_MODEL = CLI_OPT_FIRST, O_DATA, O_OUT, O_RESUME, O_EPOCHS, O_BATCH, O_SEED, O_LOG_INTERVAL,
        O_TRAIN_PER_CLASS, O_TEST_PER_CLASS, O_STEP_SIZE, O_LR, O_LR_FACTOR, O_MOMENTUM,
        O_WEIGHT_DECAY, O_MILESTONES, O_OPTIMIZER, O_NESTEROV, O_NO_AUGMENT, O_NORMALIZE,
        O_PAPER_STRIDE, O_NO_SAVE,
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
        case O_MODEL: o->model = g.arg; break;
        case O_DATA: o->data = g.arg; break;
        case O_OUT: o->out = g.arg; break;
        case O_RESUME: o->resume = g.arg; break;
        case O_EPOCHS: bad = cli_getopt_int(&g, 1, 100000, &o->epochs); break;
        case O_BATCH: bad = cli_getopt_int(&g, 1, 1 << 16, &o->batch); break;
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

/* The cleanup-on-exit state of one training run. */
typedef struct train_run {
    rcl_ctx *ctx;
    rcl_model *model;
    rcl_dataset train_ds, test_ds;
    rcl_loader *train_ld, *test_ld;
    rcl_batch batch;
    rcl_optimizer opt;
    FILE *log;
} train_run;

static void run_free(train_run *r)
{
    if (r->log) fclose(r->log);
    rcl_loader_destroy(r->train_ld);
    rcl_loader_destroy(r->test_ld);
    rcl_batch_free(&r->batch);
    rcl_model_destroy(r->model);
    rcl_dataset_destroy(&r->train_ds);
    rcl_dataset_destroy(&r->test_ds);
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

static int train_loop(const train_opts *o, train_run *r, int start_epoch, double best_acc,
                      const char *ckpt_path, double t_start, double t_data)
{
    int first = 1;
    int steps = rcl_loader_num_batches(r->train_ld);
    cli_progress bar;
    for (int epoch = start_epoch; epoch < o->epochs; epoch++) {
        float lr = rcl_lr_at(&o->sched, epoch);
        rcl_optimizer_set_lr(&r->opt, lr);
        double t0 = cli_now_s(), loss_sum = 0, win_loss = 0;
        cli_progress_start(&bar, stdout, NULL, "img/s");
        int correct = 0, seen = 0, win = 0, n = 0, st;
        if ((st = rcl_loader_begin_epoch(r->train_ld, epoch))) return cli_report("loader", st), 1;
        for (int step = 1;; step++) {
            if ((st = rcl_loader_next(r->train_ld, r->batch.host_x, r->batch.host_labels, &n)))
                return cli_progress_finish(&bar, 1), cli_report("loading a batch", st), 1;
            if (n == 0) break;
            if (n < 2) break; /* BatchNorm cannot train on a single image */
            rcl_step_result res;
            st = rcl_batch_upload(&r->batch, r->ctx, n);
            if (!st) st = rcl_train_step(r->model, &r->opt, &r->batch, n, &res);
            if (!st && first) {
                first = 0;
                cli_progress_clear(&bar);
                report_startup(r, t_start, t_data);
            }
            if (st == RCL_ERR_NAN) {
                cli_progress_finish(&bar, 1);
                fprintf(stderr, "resnet-cl: loss became %s at epoch %d step %d; stopping (try a lower --lr)\n",
                        rcl_last_error() + 8, epoch + 1, step);
                return 1;
            }
            if (st)
                return cli_progress_finish(&bar, 1),
                       cli_report_run_failure("training step", st, ckpt_path, 0), 1;
            loss_sum += (double)res.loss * n;
            win_loss += res.loss;
            win++;
            correct += res.correct;
            seen += n;
            char loss[32];
            snprintf(loss, sizeof loss, "loss %.4f", res.loss);
            cli_progress_update(&bar, step, steps, seen, loss);
            if (step % o->log_interval == 0) {
                cli_progress_clear(&bar);
                printf("Epoch [%d/%d], step [%d/%d] Loss: %.4f\n", epoch + 1, o->epochs, step, steps,
                       win_loss / win);
                fflush(stdout);
                win_loss = 0;
                win = 0;
            }
        }
        cli_progress_finish(&bar, 0);
        double test_loss = 0;
        int test_correct = 0, test_total = 0;
        if ((st = rcl_evaluate(r->model, &r->batch, r->test_ld, &test_loss, &test_correct, &test_total)))
            return cli_report_run_failure("evaluating", st, ckpt_path, 0), 1;
        double secs = cli_now_s() - t0, acc = test_total ? (double)test_correct / test_total : 0;
        printf("Test set: Average loss: %.4f, Accuracy: %d/%d (%.0f%%)\n", test_loss, test_correct,
               test_total, 100.0 * acc);
        printf("epoch %d: %.1f s, %.1f train img/s, lr %g\n", epoch + 1, secs, seen / secs, (double)lr);
        fflush(stdout);
        if (acc > best_acc) best_acc = acc;
        if (r->log) {
            fprintf(r->log,
                    "{\"epoch\": %d, \"lr\": %.9g, \"train_loss\": %.6f, \"train_acc\": %.6f, "
                    "\"test_loss\": %.6f, \"test_acc\": %.6f, \"seconds\": %.3f}\n",
                    epoch + 1, (double)lr, seen ? loss_sum / seen : 0, seen ? (double)correct / seen : 0,
                    test_loss, acc, secs);
            fflush(r->log);
        }
        if (ckpt_path) {
            rcl_train_progress prog = {.epoch = epoch + 1, .seed = (uint64_t)o->seed,
                                       .lr = rcl_lr_at(&o->sched, epoch + 1), .best_acc = best_acc,
                                       .normalize = o->normalize};
            if ((st = rcl_checkpoint_save(r->model, &r->opt, &prog, ckpt_path)))
                return cli_report_run_failure("writing checkpoint", st, ckpt_path, 1), 1;
        }
    }
    return 0;
}

int cli_train(const cli_globals *g, int argc, char **argv)
{
    train_opts o = {.model = "resnet18", .epochs = 80, .batch = 100, .seed = 0,
                    .log_interval = 100, .augment = 1, .save = 1, .optim = RCL_OPTIM_ADAM,
                    .lr = 0.001f, .momentum = 0.9f,
                    .sched = {.factor = 3.0f, .step_size = 20},
                    .mc = rcl_model_config_default()};
    int pst = parse_train_args(argc, argv, &o);
    if (pst) return pst == 1 ? 0 : pst;
    if (cli_parse_only) return CLI_PARSED;
    o.sched.lr0 = o.lr;
    const char *data = find_data(o.data);
    if (!data) {
        fprintf(stderr, "resnet-cl: CIFAR-10 not found in data/cifar-10-batches-bin; run "
                        "data/get_cifar10.sh to download it, or pass --data DIR (binary batches, or "
                        "train/ and test/ class folders)\n");
        return 1;
    }
    train_run r = {0};
    int st;
    double t_data = cli_now_s();
    rcl_dataset_options dopt = {.per_class_limit = o.per_class_train};
    if ((st = rcl_dataset_load(&r.train_ds, data, "train", &dopt))) {
        cli_report("loading training data", st);
        return run_free(&r), 1;
    }
    dopt.per_class_limit = o.per_class_test;
    if ((st = rcl_dataset_load(&r.test_ds, data, "test", &dopt))) {
        cli_report("loading test data", st);
        return run_free(&r), 1;
    }
    t_data = cli_now_s() - t_data;
    if (cli_check_classes(stderr, &r.train_ds, &r.test_ds, o.resume)) return run_free(&r), 1;
    if (cli_open_device(g, &r.ctx, NULL, 1)) return run_free(&r), 1;
    rcl_model_config mc = o.mc;
    if (o.resume) { /* the checkpoint's normalization and initialization */
        rcl_checkpoint_info info = {0};
        if ((st = rcl_checkpoint_info_read(o.resume, &info))) {
            cli_report("resuming", st);
            return run_free(&r), 1;
        }
        free(info.class_names);
        if (o.model_opts &&
            (info.norm.kind != mc.norm.kind || info.init.scheme != mc.init.scheme))
            fprintf(stderr, "resnet-cl: note: %s was trained with --norm %s --init %s; using them\n",
                    o.resume, rcl_norm_kind_name(info.norm.kind),
                    rcl_init_scheme_name(info.init.scheme));
        mc.norm = info.norm;
        mc.init = info.init;
    }
    mc.num_classes = r.train_ds.num_classes;
    mc.in_channels = r.train_ds.c;
    mc.in_h = r.train_ds.h;
    mc.in_w = r.train_ds.w;
    /* The model's buffers hold the largest batch either loader yields: a
     * --batch-size above the data costs no memory (steps use the tensor's n). */
    int most = r.train_ds.n > r.test_ds.n ? r.train_ds.n : r.test_ds.n;
    mc.batch = o.batch < most ? o.batch : most;
    mc.seed = (uint64_t)o.seed;
    mc.stride_on = o.stride_on_1x1 ? RCL_STRIDE_ON_1X1 : RCL_STRIDE_ON_3X3;
    if (cli_check_memory(r.ctx, o.model, &mc, 1)) return run_free(&r), 1; /* before allocating */
    if ((st = rcl_model_create(&r.model, r.ctx, o.model, &mc))) {
        cli_report("building the model", st);
        return run_free(&r), 1;
    }
    char *csv = cli_join_names(r.train_ds.class_names, r.train_ds.num_classes);
    rcl_checkpoint_set_class_names(r.model, csv);
    free(csv);
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
    if (o.resume) {
        rcl_train_progress prog;
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
        printf("resumed from %s after epoch %d\n", o.resume, start_epoch);
        if (start_epoch >= o.epochs) {
            fprintf(stderr, "resnet-cl: %s already finished %d epochs (--epochs %d)\n", o.resume,
                    start_epoch, o.epochs);
            return run_free(&r), 1;
        }
    }
    /* The loaders come after --resume: data order and augmentation follow the
     * checkpoint's seed, not the command line's. */
    rcl_loader_options lo = {.batch_size = o.batch, .shuffle = 1, .augment = o.augment, .pad = 4,
                             .seed = (uint64_t)o.seed, .normalize = o.normalize,
                             .mean = {0.4914f, 0.4822f, 0.4465f}, .std = {0.2470f, 0.2435f, 0.2616f}};
    if ((st = rcl_loader_create(&r.train_ld, &r.train_ds, &lo))) {
        cli_report("creating the training loader", st);
        return run_free(&r), 1;
    }
    lo.shuffle = 0;
    lo.augment = 0;
    if ((st = rcl_loader_create(&r.test_ld, &r.test_ds, &lo)) || (st = rcl_batch_init(&r.batch, r.model))) {
        cli_report("creating the test loader", st);
        return run_free(&r), 1;
    }
    char out_dir[512], ckpt[600], logp[600];
    snprintf(out_dir, sizeof out_dir, "%s", o.out ? o.out : "runs");
    if (!o.out) snprintf(out_dir, sizeof out_dir, "runs/%s", o.model);
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", out_dir);
    snprintf(logp, sizeof logp, "%s/log.jsonl", out_dir);
    if (o.save) {
        if (rcl_mkdir_p(out_dir)) {
            fprintf(stderr, "resnet-cl: cannot create output directory %s: %s\n", out_dir, strerror(errno));
            return run_free(&r), 1;
        }
        r.log = fopen(logp, o.resume ? "a" : "w");
        if (!r.log) {
            fprintf(stderr, "resnet-cl: cannot write %s: %s\n", logp, strerror(errno));
            return run_free(&r), 1;
        }
    }
    const rcl_device_info *d = rcl_ctx_device(r.ctx);
    char desc[320];
    cli_model_describe(&mc, desc, sizeof desc);
    printf("device %d: %s (%s); model %s, %lld parameters; %d train / %d test images from %s\n"
           "%s\n", d->index, d->name, d->platform_name, o.model,
           (long long)rcl_model_param_count(r.model), r.train_ds.n, r.test_ds.n, data, desc);
    fflush(stdout);
    int rc = train_loop(&o, &r, start_epoch, best_acc, o.save ? ckpt : NULL, g->t_start, t_data);
    run_free(&r);
    return rc;
}
