/* Crash-safe training through the CLI on real CIFAR-10 (tiny subsets):
 *  - test_kill_resume: a run killed with SIGKILL 24 times at random moments
 *    (a third aimed inside a checkpoint write, held open by the test hook
 *    RESNET_CL_TEST_SLOW_WRITE; the others anywhere in the process or in its
 *    training, in units of the start-up and epoch times measured by the
 *    uninterrupted run) and resumed each time: the checkpoint on
 *    disk always loads and never goes back, at most the current epoch's work
 *    is lost, the next start removes the temporaries a kill left, and the
 *    final weights, best.safetensors and log.jsonl equal an uninterrupted
 *    run's, bit for bit. The kill moments come from a seeded RNG
 *    (RESNET_CL_TEST_KILL_SEED, default 1) printed with every kill.
 *  - test_signals: SIGTERM inside epoch 1 and SIGINT inside epoch 2 write
 *    mid-epoch checkpoints, exit 143 / 130 and print a resume command, which
 *    continues exactly (same final checkpoint as an uninterrupted run; a
 *    resume without --batch-size takes the checkpoint's, another one is
 *    refused inside an epoch); a
 *    second SIGINT during the checkpoint write stops at once, leaving the
 *    last complete checkpoint.
 *  - test_study_interrupt: Ctrl-C to a study stops its run with a
 *    checkpoint inside epoch 1 (exit 130 of train, seen by the study as an
 *    interruption); the same command again resumes that run and finishes. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int dev(void) { return rcl_ctx_device(T_CTX)->index; }

static char *tmp_dir(const char *tag)
{
    char *d = malloc(80);
    snprintf(d, 80, "/tmp/rcl-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* ---- a resnet-cl child whose output (stdout + stderr) is read line by line */

typedef struct child {
    pid_t pid;
    int fd;
    char *out;
    size_t n, cap, scanned;
    int eof;
    /* from its output so far */
    int started;        /* "first training step done" */
    int setup_done;     /* "device N: ..." (after the output folder's clean-up) */
    int epoch, step;    /* last "Epoch [e/E], step [s/S]" */
    int hooks;          /* "test hook:" lines: checkpoint writes in their window */
    int interrupted;    /* "interrupted at epoch" */
} child;

/* Children started while this is set lead a process group of their own
 * (kill(-pid, sig) then signals it and its children, as a terminal would). */
static int g_new_group;

/* Start the binary with `args` (split at spaces) and, when slow_ms > 0,
 * RESNET_CL_TEST_SLOW_WRITE=slow_ms in its environment. */
static void child_start(child *c, int slow_ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void child_start(child *c, int slow_ms, const char *fmt, ...)
{
    memset(c, 0, sizeof *c);
    const char *bin = getenv("RESNET_CL_BIN");
    if (!bin) fail_msg("RESNET_CL_BIN not set (run via ctest)");
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)bin;
    for (char *t = strtok(args, " "); t && argc < 63; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    size_t ne = 0;
    while (environ[ne]) ne++;
    char **envp = calloc(ne + 2, sizeof *envp), slow[64];
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "RESNET_CL_TEST_SLOW_WRITE=", 26)) envp[k++] = environ[i];
    if (slow_ms > 0) {
        snprintf(slow, sizeof slow, "RESNET_CL_TEST_SLOW_WRITE=%d", slow_ms);
        envp[k++] = slow;
    }
    envp[k] = NULL;
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        if (g_new_group) setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        execve(bin, argv, envp);
        _exit(127);
    }
    free(envp);
    close(p[1]);
    c->fd = p[0];
    c->cap = 1 << 16;
    c->out = malloc(c->cap);
    c->out[0] = 0;
}

static void child_parse(child *c)
{
    for (;;) {
        char *line = c->out + c->scanned, *nl = strchr(line, '\n');
        if (!nl) break;
        int e, E, s, S;
        if (sscanf(line, "Epoch [%d/%d], step [%d/%d]", &e, &E, &s, &S) == 4) {
            c->epoch = e;
            c->step = s;
        }
        if (!strncmp(line, "first training step done", 24)) c->started = 1;
        if (!strncmp(line, "device ", 7)) c->setup_done = 1;
        if (!strncmp(line, "test hook: ", 11)) c->hooks++;
        char *intr = strstr(line, "interrupted at epoch");
        if (intr && intr < nl) c->interrupted = 1;
        c->scanned = (size_t)(nl + 1 - c->out);
    }
}

/* Read what the child writes until `deadline` (now_ms() clock) or its end
 * of output; parses complete lines. Returns 0 at the end of output. */
static int child_pump_until(child *c, double deadline)
{
    while (!c->eof) {
        int wait = (int)(deadline - now_ms());
        if (wait < 0) wait = 0;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        int r = poll(&pf, 1, wait);
        if (r < 0 && errno == EINTR) continue;
        assert_true(r >= 0);
        if (r == 0) return 1;
        if (c->n + 4096 >= c->cap) c->out = realloc(c->out, c->cap *= 2);
        ssize_t got = read(c->fd, c->out + c->n, c->cap - c->n - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            c->eof = 1;
            break;
        }
        c->n += (size_t)got;
        c->out[c->n] = 0;
        child_parse(c);
    }
    return 0;
}

/* Read until the end of its output; reap; the wait status. */
static int child_finish(child *c)
{
    while (child_pump_until(c, now_ms() + 600000)) {}
    close(c->fd);
    int status = 0;
    while (waitpid(c->pid, &status, 0) < 0) assert_int_equal(errno, EINTR);
    return status;
}

static void child_free(child *c)
{
    free(c->out);
    c->out = NULL;
}

/* ---- the output folder */

/* Names in `dir` containing ".tmp." (newline-separated into buf); count. */
static int list_temps(const char *dir, char *buf, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    size_t used = 0;
    buf[0] = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) {
            n++;
            used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s\n", e->d_name);
            if (used >= cap) used = cap - 1;
        }
    closedir(d);
    return n;
}

static int file_in(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* A model and Adam optimizer of the run's shape, to load checkpoints into. */
typedef struct loader_model {
    rcl_model *m;
    rcl_optimizer opt;
} loader_model;

static void lm_init(loader_model *lm)
{
    rcl_model_config mc = rcl_model_config_default();
    mc.num_classes = 10;
    mc.in_channels = 3;
    mc.in_h = mc.in_w = 32;
    mc.batch = 10;
    T_OK(rcl_model_create(&lm->m, T_CTX, "basicblock", &mc));
    rcl_adam_hparams ah = rcl_adam_defaults();
    T_OK(rcl_optimizer_init(&lm->opt, lm->m, RCL_OPTIM_ADAM, &ah, NULL));
}

/* Load dir/name completely (weights, BN statistics, Adam state, progress). */
static rcl_train_progress lm_load(loader_model *lm, const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    rcl_train_progress prog;
    int st = rcl_checkpoint_load(lm->m, &lm->opt, &prog, p);
    if (st) fail_msg("%s does not load: %s", p, rcl_last_error());
    return prog;
}

/* Every tensor of a/name and b/name equal bit for bit; the count. */
static int same_tensors(const char *a, const char *b, const char *name)
{
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/%s", a, name);
    snprintf(pb, sizeof pb, "%s/%s", b, name);
    rcl_st_file fa, fb;
    T_OK(rcl_st_open(&fa, pa));
    T_OK(rcl_st_open(&fb, pb));
    assert_int_equal(fa.n_tensors, fb.n_tensors);
    for (size_t i = 0; i < fa.n_tensors; i++) {
        const rcl_st_tensor *ta = rcl_st_tensor_at(&fa, i), *tb = rcl_st_find(&fb, ta->name);
        if (!tb) fail_msg("%s: tensor %s missing", pb, ta->name);
        assert_int_equal(ta->dtype, tb->dtype);
        assert_int_equal(ta->nbytes, tb->nbytes);
        if (memcmp(ta->data, tb->data, ta->nbytes))
            fail_msg("%s differs between %s and %s", ta->name, pa, pb);
    }
    int n = (int)fa.n_tensors;
    rcl_st_close(&fa);
    rcl_st_close(&fb);
    return n;
}

/* log.jsonl of a and b: the same lines but for "seconds"; the line count. */
static int same_log(const char *a, const char *b)
{
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/log.jsonl", a);
    snprintf(pb, sizeof pb, "%s/log.jsonl", b);
    char *la = tu_read_file(pa, NULL), *lb = tu_read_file(pb, NULL);
    assert_non_null(la);
    assert_non_null(lb);
    int lines = 0;
    char *sa = la, *sb = lb;
    while (*sa || *sb) {
        char *ea = strstr(sa, "\"seconds\""), *eb = strstr(sb, "\"seconds\"");
        if (!ea || !eb || ea - sa != eb - sb || memcmp(sa, sb, (size_t)(ea - sa)))
            fail_msg("log.jsonl differs at line %d:\n%s\n%s", lines + 1, sa, sb);
        lines++;
        sa = strchr(ea, '\n');
        sb = strchr(eb, '\n');
        assert_non_null(sa);
        assert_non_null(sb);
        sa++;
        sb++;
    }
    free(la);
    free(lb);
    return lines;
}

static char *read_log_lines(const char *dir)
{
    char p[800];
    snprintf(p, sizeof p, "%s/log.jsonl", dir);
    char *t = tu_read_file(p, NULL);
    assert_non_null(t);
    return t;
}

static int count_nl(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define KILLS 24
#define EPOCHS 40
#define SLOW_MS 400

static void test_kill_resume(void **state)
{
    (void)state;
    char *root = tu_cifar_jpeg_root(), *ref = tmp_dir("kill-ref"), *dir = tmp_dir("kill");
    char common[1024];
    snprintf(common, sizeof common,
             "--device %d train --model basicblock --data %s --train-per-class 4 --test-per-class 1 "
             "--batch-size 10 --epochs %d --log-interval 1 --checkpoint-every 2", dev(), root, EPOCHS);
    /* the uninterrupted run */
    child c;
    double t_ref = now_ms();
    child_start(&c, 0, "%s --out %s", common, ref);
    while (!c.started && child_pump_until(&c, now_ms() + 100)) {}
    double t_first = now_ms();
    int status = child_finish(&c);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) fail_msg("reference run failed:\n%s", c.out);
    child_free(&c);
    /* random kill moments in units of this machine's start-up and epoch */
    double startup_ms = t_first - t_ref, epoch_ms = (now_ms() - t_first) / EPOCHS;

    const char *sv = getenv("RESNET_CL_TEST_KILL_SEED");
    uint64_t seed = sv ? strtoull(sv, NULL, 10) : 1, rng = seed;
    printf("kill test: seed %llu (RESNET_CL_TEST_KILL_SEED), %d kills; start-up %.0f ms, epoch %.0f ms "
           "(4 steps, a checkpoint after step 2 and at the end); kills aimed inside a write hold it "
           "%d ms before the rename\n", (unsigned long long)seed, KILLS, startup_ms, epoch_ms, SLOW_MS);
    loader_model lm;
    lm_init(&lm);
    int write_kills = 0, write_missed = 0;
    int kills = 0, in_write = 0, resumed = 0, fresh = 0, removed = 0, in_startup = 0;
    int prev_epoch = 0, prev_step = 0; /* the checkpoint's position never goes back */
    for (int leg = 0;; leg++) {
        int resume = file_in(dir, "last.safetensors");
        char temps_before[4096];
        int ntemps_before = list_temps(dir, temps_before, sizeof temps_before);
        /* a third aimed inside a checkpoint write (held open), a third at a
         * random moment of the process, a third at one of its training */
        int mode = (int)(rng_next(&rng) % 3), write_mode = mode == 0;
        int hook = 1 + (int)(rng_next(&rng) % 3);
        double u = (double)(rng_next(&rng) >> 11) / 9007199254740992.0;
        int delay = (int)(write_mode ? u * SLOW_MS / 2
                                     : mode == 1 ? u * (startup_ms + 1.5 * epoch_ms) : u * 1.5 * epoch_ms);
        int slow = kills < KILLS && write_mode ? SLOW_MS : 0; /* the hold changes no result */
        double t0 = now_ms();
        if (resume) child_start(&c, slow, "%s --out %s --resume %s/last.safetensors", common, dir, dir);
        else child_start(&c, slow, "%s --out %s", common, dir);
        resumed += resume;
        fresh += !resume;
        if (kills == KILLS) { /* the last leg runs to the end */
            status = child_finish(&c);
            if (!WIFEXITED(status) || WEXITSTATUS(status)) fail_msg("final leg failed:\n%s", c.out);
        } else {
            double t_hook = 0;
            if (write_mode) {
                while (c.hooks < hook && child_pump_until(&c, now_ms() + 100)) {}
                t_hook = now_ms();
                child_pump_until(&c, t_hook + delay);
            } else if (mode == 1) {
                child_pump_until(&c, t0 + delay);
            } else {
                while (!c.started && child_pump_until(&c, now_ms() + 100)) {}
                t_hook = now_ms();
                child_pump_until(&c, t_hook + delay);
            }
            if (c.eof) fail_msg("the run ended before kill %d (more --epochs needed):\n%s", kills + 1, c.out);
            assert_int_equal(kill(c.pid, SIGKILL), 0);
            double t_kill = now_ms();
            status = child_finish(&c);
            assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
            kills++;
            /* where it landed: a temporary of the killed process is left */
            char temps[4096], mine[64];
            list_temps(dir, temps, sizeof temps);
            snprintf(mine, sizeof mine, ".tmp.%ld.", (long)c.pid);
            const char *t = strstr(temps, mine);
            char left[128] = "";
            if (t) {
                const char *s = t;
                while (s > temps && s[-1] != '\n') s--;
                snprintf(left, sizeof left, "%.*s", (int)strcspn(s, "\n"), s);
                in_write++;
            }
            write_kills += write_mode;
            write_missed += write_mode && !t; /* a machine too busy to kill within the hold */
            in_startup += !c.started;
            char where[256];
            if (!c.started) snprintf(where, sizeof where, "during start-up, before the first step");
            else snprintf(where, sizeof where, "at epoch %d step %d", c.epoch, c.step);
            /* the checkpoint: loads; at most the current epoch lost; never back */
            char ck[128] = "no checkpoint yet";
            if (file_in(dir, "last.safetensors")) {
                rcl_train_progress p = lm_load(&lm, dir, "last.safetensors");
                if (c.epoch && p.epoch < c.epoch - 1)
                    fail_msg("kill %d at epoch %d: the checkpoint is from epoch %d step %d", kills,
                             c.epoch, p.epoch + 1, p.step);
                assert_true(p.epoch > prev_epoch || (p.epoch == prev_epoch && p.step >= prev_step));
                prev_epoch = p.epoch;
                prev_step = p.step;
                if (p.step) snprintf(ck, sizeof ck, "epoch %d step %d (loads)", p.epoch + 1, p.step);
                else snprintf(ck, sizeof ck, "after epoch %d (loads)", p.epoch);
            } else {
                assert_int_equal(prev_epoch + prev_step, 0);
            }
            if (file_in(dir, "best.safetensors")) lm_load(&lm, dir, "best.safetensors");
            char when[160];
            if (write_mode)
                snprintf(when, sizeof when, "%.0f ms after start, %.0f ms after checkpoint write %d "
                         "reached its hold", t_kill - t0, t_kill - t_hook, hook);
            else if (mode == 1) snprintf(when, sizeof when, "%.0f ms after start (random)", t_kill - t0);
            else snprintf(when, sizeof when, "%.0f ms after start, %.0f ms after the first step "
                          "(random)", t_kill - t0, t_kill - t_hook);
            printf("kill %2d: %s: %s%s%s%s; on disk: %s\n", kills, when, where,
                   left[0] ? ", inside a write (left " : "", left, left[0] ? ")" : "", ck);
        }
        /* the start removed every temporary left before it, with a note. A
         * leg killed during its start-up may have removed some already
         * (the note not yet printed): counted here, as the next leg no
         * longer sees them */
        if (ntemps_before) {
            char now[4096];
            list_temps(dir, now, sizeof now);
            for (char *s = temps_before; *s;) {
                char *nl = strchr(s, '\n');
                *nl = 0;
                int gone = !strstr(now, s);
                if (c.setup_done) {
                    if (!gone) fail_msg("leg %d left %s in place:\n%s", leg, s, c.out);
                    char note[700];
                    snprintf(note, sizeof note, "note: removed %s/%.256s, left by an interrupted run",
                             dir, s);
                    if (!strstr(c.out, note)) fail_msg("leg %d: no note for %s:\n%s", leg, s, c.out);
                }
                removed += gone;
                s = nl + 1;
            }
        }
        child_free(&c);
        if (kills == KILLS && c.eof && WIFEXITED(status)) break;
    }
    char left[4096];
    assert_int_equal(list_temps(dir, left, sizeof left), 0);
    assert_int_equal(removed, in_write);
    /* a third of the kills aimed inside a write: at most one may miss */
    if (write_missed > 1 || in_write < 5)
        fail_msg("%d of %d kills aimed inside a checkpoint write missed it (%d inside in all)",
                 write_missed, write_kills, in_write);
    rcl_train_progress p = lm_load(&lm, dir, "last.safetensors");
    assert_int_equal(p.epoch, EPOCHS);
    assert_int_equal(p.step, 0);
    int nt = same_tensors(ref, dir, "last.safetensors");
    int nb = same_tensors(ref, dir, "best.safetensors");
    int nl = same_log(ref, dir);
    assert_int_equal(nl, EPOCHS);
    printf("kill test: %d kills (%d inside a write: %d of %d aimed there, the others by chance; %d "
           "during start-up), %d starts "
           "(%d resumed from last.safetensors, %d fresh); every checkpoint loaded and none went "
           "back; %d temporaries left by kills, all removed by the next start\n",
           kills, in_write, write_kills - write_missed, write_kills, in_startup, kills + 1, resumed,
           fresh, removed);
    printf("kill test: final last.safetensors equals the uninterrupted run's bit for bit (%d tensors: "
           "weights, BN statistics, Adam state, counters); best.safetensors too (%d tensors); "
           "log.jsonl: the same %d lines but for seconds\n", nt, nb, nl);
    rcl_model_destroy(lm.m);
    rm_rf(ref);
    rm_rf(dir);
    free(ref);
    free(dir);
    free(root);
}

/* Start a run and signal it once its output shows epoch `e` step >= `s`;
 * returns the wait status with the output in c. */
static int signal_at(child *c, int slow_ms, int e, int s, int sig, const char *args)
{
    child_start(c, slow_ms, "%s", args);
    while (!(c->epoch > e || (c->epoch == e && c->step >= s)) && child_pump_until(c, now_ms() + 100)) {}
    if (c->eof) fail_msg("the run ended before epoch %d step %d:\n%s", e, s, c->out);
    assert_int_equal(kill(c->pid, sig), 0);
    return child_finish(c);
}

/* The "resume with: resnet-cl ..." line's arguments (malloc'd). */
static char *resume_args(const char *out)
{
    const char *r = strstr(out, "resume with: resnet-cl ");
    if (!r) fail_msg("no resume command in:\n%s", out);
    r += strlen("resume with: resnet-cl ");
    size_t n = strcspn(r, "\n");
    char *a = malloc(n + 1);
    memcpy(a, r, n);
    a[n] = 0;
    return a;
}

static void test_signals(void **state)
{
    (void)state;
    char *root = tu_cifar_jpeg_root(), *ref = tmp_dir("sig-ref"), *dir = tmp_dir("sig");
    char common[1024], args[2048];
    snprintf(common, sizeof common,
             "--device %d train --model basicblock --data %s --train-per-class 10 --test-per-class 1 "
             "--batch-size 10 --epochs 3 --log-interval 1", dev(), root);
    child c;
    child_start(&c, 0, "%s --out %s", common, ref);
    int status = child_finish(&c);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    child_free(&c);

    /* SIGTERM inside epoch 1: a mid-epoch checkpoint, no log line yet, 143 */
    snprintf(args, sizeof args, "%s --out %s", common, dir);
    status = signal_at(&c, 0, 1, 2, SIGTERM, args);
    printf("%s", c.out + (c.n > 600 ? c.n - 600 : 0));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 143);
    assert_non_null(strstr(c.out, "SIGTERM: interrupted at epoch 1 step "));
    assert_false(file_in(dir, "log.jsonl"));
    loader_model lm;
    lm_init(&lm);
    rcl_train_progress p = lm_load(&lm, dir, "last.safetensors");
    assert_int_equal(p.epoch, 0);
    assert_true(p.step >= 2 && p.step <= 10);
    char want[600];
    snprintf(want, sizeof want, "interrupted at epoch 1 step %d; checkpoint written to %s/last.safetensors",
             p.step, dir);
    assert_non_null(strstr(c.out, want));
    char *ra = resume_args(c.out);
    child_free(&c);
    /* another batch size cannot continue inside an epoch; none given takes
     * the checkpoint's: a copy resumed so ends as the uninterrupted run */
    char copy[128];
    snprintf(copy, sizeof copy, "%s-copy", dir);
    snprintf(args, sizeof args, "cp -r %s %s", dir, copy);
    assert_int_equal(system(args), 0);
    snprintf(args, sizeof args, "%s --batch-size 20 --out %s --resume %s/last.safetensors", common, copy, copy);
    child_start(&c, 0, "%s", args);
    status = child_finish(&c);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    snprintf(want, sizeof want, "%s/last.safetensors stopped inside epoch 1 with --batch-size 10; resume "
             "it with that batch size (not 20)", copy);
    if (!strstr(c.out, want)) fail_msg("want '%s' in:\n%s", want, c.out);
    child_free(&c);
    child_start(&c, 0, "--device %d train --data %s --train-per-class 10 --test-per-class 1 --epochs 3 "
                "--out %s --resume %s/last.safetensors", dev(), root, copy, copy);
    status = child_finish(&c);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) fail_msg("resume failed:\n%s", c.out);
    child_free(&c);
    same_tensors(ref, copy, "last.safetensors");
    rm_rf(copy);

    /* the printed command resumes it; SIGINT inside epoch 2: 130 */
    status = signal_at(&c, 0, 2, 3, SIGINT, ra);
    free(ra);
    printf("%s", c.out + (c.n > 600 ? c.n - 600 : 0));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    assert_non_null(strstr(c.out, "at epoch 1 step "));        /* "resumed from ... at epoch 1 step k" */
    p = lm_load(&lm, dir, "last.safetensors");
    assert_int_equal(p.epoch, 1);
    assert_true(p.step >= 3);
    snprintf(want, sizeof want, "SIGINT: interrupted at epoch 2 step %d; checkpoint written to", p.step);
    assert_non_null(strstr(c.out, want));
    ra = resume_args(c.out);
    child_free(&c);

    /* resumed to the end: the uninterrupted run's checkpoint and log */
    child_start(&c, 0, "%s", ra);
    free(ra);
    status = child_finish(&c);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) fail_msg("resume failed:\n%s", c.out);
    child_free(&c);
    int nt = same_tensors(ref, dir, "last.safetensors");
    assert_int_equal(same_log(ref, dir), 3);
    printf("signals: SIGTERM in epoch 1 (143) and SIGINT in epoch 2 (130), each resumed from its "
           "mid-epoch checkpoint by the printed command: final checkpoint equal to the uninterrupted "
           "run's (%d tensors), log.jsonl the same 3 lines; inside an epoch --batch-size 20 was "
           "refused, and a resume without --batch-size took the checkpoint's and matched too\n", nt);

    /* a second SIGINT during the interrupt's checkpoint write stops at once */
    rm_rf(dir);
    snprintf(args, sizeof args, "%s --out %s", common, dir);
    child_start(&c, 0, "%s", args);
    status = child_finish(&c); /* 3 epochs: last.safetensors after epoch 3 */
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    child_free(&c);
    snprintf(args, sizeof args, "%s --epochs 5 --out %s --resume %s/last.safetensors", common, dir, dir);
    child_start(&c, 2000, "%s", args);
    while (c.epoch < 4 && child_pump_until(&c, now_ms() + 100)) {}
    assert_int_equal(kill(c.pid, SIGINT), 0);
    while (!c.hooks && child_pump_until(&c, now_ms() + 100)) {}
    assert_int_equal(c.hooks, 1); /* the interrupt's checkpoint, held before its rename */
    assert_int_equal(kill(c.pid, SIGINT), 0);
    status = child_finish(&c);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
    char temps[1024];
    assert_int_equal(list_temps(dir, temps, sizeof temps), 1);
    temps[strcspn(temps, "\n")] = 0;
    p = lm_load(&lm, dir, "last.safetensors");
    assert_int_equal(p.epoch, 3);
    assert_int_equal(p.step, 0);
    printf("signals: a second SIGINT during the checkpoint write stopped the run at once; "
           "last.safetensors is still the complete one after epoch 3 (left: %s, which the next start "
           "removes)\n", temps);
    child_free(&c);
    /* the next start removes the temporary and continues */
    child_start(&c, 0, "%s", args);
    status = child_finish(&c);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) fail_msg("resume failed:\n%s", c.out);
    char note[1200];
    snprintf(note, sizeof note, "note: removed %s/%s, left by an interrupted run", dir, temps);
    assert_non_null(strstr(c.out, note));
    assert_int_equal(list_temps(dir, temps, sizeof temps), 0);
    child_free(&c);
    rcl_model_destroy(lm.m);
    rm_rf(ref);
    rm_rf(dir);
    free(ref);
    free(dir);
    free(root);
}

static void test_study_interrupt(void **state)
{
    (void)state;
    char *root = tu_cifar_jpeg_root(), *dir = tmp_dir("study-sig");
    char spec[600], args[2048], tlog[700];
    snprintf(spec, sizeof spec, "%s.txt", dir);
    FILE *f = fopen(spec, "w");
    assert_non_null(f);
    fputs("name: sig\nbase: --model basicblock --log-interval 1\nvariant a: --lr 0.001\n", f);
    fclose(f);
    snprintf(args, sizeof args, "--device %d study --spec %s --epochs 3 --train-per-class 10 "
             "--test-per-class 1 --batch-size 10 --data %s --out %s", dev(), spec, root, dir);
    snprintf(tlog, sizeof tlog, "%s/a/train.log", dir);
    child c;
    g_new_group = 1;
    child_start(&c, 0, "%s", args);
    g_new_group = 0;
    /* the run's output goes to its train.log: Ctrl-C once it has trained */
    for (;;) {
        char *t = tu_read_file(tlog, NULL);
        int trained = t && strstr(t, "Epoch [1/3], step [2/10]");
        free(t);
        if (trained) break;
        if (!child_pump_until(&c, now_ms() + 20)) fail_msg("the study ended first:\n%s", c.out);
    }
    assert_int_equal(kill(-c.pid, SIGINT), 0);
    int status = child_finish(&c);
    printf("%s", c.out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    assert_non_null(strstr(c.out, "a interrupted (signal 2); rerun the same command to continue"));
    char *t = tu_read_file(tlog, NULL);
    assert_non_null(strstr(t, "SIGINT: interrupted at epoch "));
    free(t);
    child_free(&c);
    child_start(&c, 0, "%s", args);
    status = child_finish(&c);
    printf("%s", c.out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(strstr(c.out, "a: resuming"));
    assert_non_null(strstr(c.out, "a: done in"));
    child_free(&c);
    char sub[700];
    snprintf(sub, sizeof sub, "%s/a", dir);
    char *log = read_log_lines(sub);
    assert_int_equal(count_nl(log), 3);
    free(log);
    unlink(spec);
    rm_rf(dir);
    free(dir);
    free(root);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_study_interrupt),
    cmocka_unit_test(test_signals),
    cmocka_unit_test(test_kill_resume),
};

RCL_TEST_MAIN_FAST("train_crash", tests)
