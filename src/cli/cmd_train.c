/* resnet-cl train: the course recipe by default (resnet18, Adam lr 0.001,
 * batch 100, 80 epochs, lr divided by 3 every 20 epochs, pad-4 crop + flip). */
#include "cli/cli.h"
#include "cli/train.h"
#include "tools/cli_model_opts.h"
#include "base/base.h" /* rcl_mkdir_p */
#include "tools/progress.h"
#include "rcl/checkpoint.h"
#include "rcl/dist.h"
#include "rcl/plateau.h"
#include "rcl/trainer.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The cleanup-on-exit state of one training run. */
typedef struct train_run {
    rcl_ctx *ctx;
    rcl_model *model;
    train_data data;
    rcl_batch batch;
    rcl_optimizer opt;
    const cli_globals *g;
    /* outputs (NULL / "" with --no-save) */
    const char *ckpt, *best, *logp, *stepp;
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
static void report_startup(const train_opts *o, const train_run *r, double t_start,
                           double t_data)
{
    rcl_ctx_stats cs = rcl_ctx_get_stats(r->ctx);
    char progs[80];
    if (rcl_ctx_device(r->ctx)->own_program_cache) /* PoCL: its own cache, not ours */
        snprintf(progs, sizeof progs, "%d built through the driver's cache", cs.programs_built);
    else
        snprintf(progs, sizeof progs, "%d from cache, %d compiled", cs.programs_loaded,
                 cs.programs_built);
    printf("first training step done %.2f s after start (data %.2f s; OpenCL programs: %s)\n",
           rcl_now_s() - t_start, t_data, progs);
    if (o->warmup_steps && r->opt.step <= o->warmup_steps)
        printf("warm-up: lr %g for the first %lld updates\n", (double)o->warmup_lr,
               o->warmup_steps);
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

/* steps.jsonl: the mean training loss of the last window of --log-interval
 * steps (or the epoch's rest), for plots against the step. 1 on failure. */
static int log_steps(const train_run *r, int epoch, const epoch_pos *e, int steps)
{
    if (!r->stepp || !e->win) return 0;
    FILE *f = fopen(r->stepp, "a");
    if (!f || fprintf(f, "{\"epoch\": %d, \"step\": %d, \"steps\": %d, \"loss\": %.6f}\n",
                      epoch + 1, e->step, steps, e->win_loss / e->win) < 0 || fclose(f) != 0) {
        fprintf(stderr, "resnet-cl: cannot write %s: %s\n", r->stepp, strerror(errno));
        return 1;
    }
    return 0;
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
        double t0 = rcl_now_s();
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
            /* --warmup-steps: the first updates at --warmup-lr (by the
             * optimizer's step count, which checkpoints keep) */
            int warm = o->warmup_steps && r->opt.step < o->warmup_steps;
            rcl_optimizer_set_lr(&r->opt, warm ? o->warmup_lr : lr);
            if (!warm && o->warmup_steps && r->opt.step == o->warmup_steps &&
                rcl_dist_rank() == 0) {
                cli_progress_clear(&bar);
                printf("warm-up over after %lld updates: lr %g\n", o->warmup_steps, (double)lr);
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
                report_startup(o, r, t_start, t_data);
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
                if (log_steps(r, epoch, &e, steps)) return cli_progress_finish(&bar, 1), 1;
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
        double t_trained = rcl_now_s(); /* the epoch's training part ends here */
        if (log_steps(r, epoch, &e, steps)) return 1; /* the epoch's last partial window */
        e.win_loss = 0;
        e.win = 0;
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
        double secs = rcl_now_s() - t0, acc = test_total ? (double)test_correct / test_total : 0;
        printf("Test set: Average loss: %.4f, Accuracy: %d/%d (%.0f%%)\n", test_loss, test_correct,
               test_total, 100.0 * acc);
        /* images/s over the training part only (the test pass and the
         * checkpoint are not in it) */
        double t_train = t_trained - t0;
        printf("epoch %d%s: %.1f s (training %.1f s, %.1f img/s; test %.1f s), lr %g\n", epoch + 1,
               partial ? " (ended by --iterations)" : "", secs, t_train,
               t_train > 0 ? (e.seen - seen0) / t_train : 0.0, secs - t_train, (double)lr);
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
    int pst = train_apply_recipe(argc, argv, &o);
    if (!pst) pst = train_parse_args(argc, argv, &o);
    if (pst) return pst == 1 ? 0 : pst;
    if (cli_parse_only) return CLI_PARSED;
    if ((pst = train_setup_slow_write())) return pst;
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
    if (o.warmup_lr_given && !o.warmup_steps) {
        fprintf(stderr, "resnet-cl: --warmup-lr needs --warmup-steps N (the updates it lasts)\n");
        return 2;
    }
    if (o.warmup_steps && !o.warmup_lr_given) o.warmup_lr = o.lr / 10;
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
    char out_dir[512], ckpt[600], best[600], logp[600], stepp[600];
    if (o.out) snprintf(out_dir, sizeof out_dir, "%s", o.out);
    else snprintf(out_dir, sizeof out_dir, "runs/%s", o.model);
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", out_dir);
    snprintf(best, sizeof best, "%s/best.safetensors", out_dir);
    snprintf(logp, sizeof logp, "%s/log.jsonl", out_dir);
    snprintf(stepp, sizeof stepp, "%s/steps.jsonl", out_dir);
    if (rank0 && o.save && !o.resume && !o.overwrite) /* before minutes of loading */
        if (train_check_fresh_out(&o, out_dir)) return 1;
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
    double t_data = rcl_now_s();
    o.dopt.data = data;
    o.dopt.batch = o.batch;
    o.dopt.augment = o.augment;
    o.dopt.normalize = o.normalize;
    o.dopt.per_class_train = o.per_class_train;
    o.dopt.per_class_test = o.per_class_test;
    if (!o.dopt.threads) o.dopt.threads = cli_online_cpus();
    if (train_data_open(&r.data, &o.dopt, o.resume)) return run_free(&r), 1;
    t_data = rcl_now_s() - t_data;
    train_print_recipe(&o);
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
        train_remove_stale_temps(out_dir);
        if (!o.resume && train_check_fresh_out(&o, out_dir)) return run_free(&r), 1;
        int logged = 0;
        if (o.resume && (train_trim_log(logp, start_epoch, &logged) ||
                         train_trim_steps(stepp, start_epoch, pos.step)))
            return run_free(&r), 1;
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
        r.stepp = stepp;
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
