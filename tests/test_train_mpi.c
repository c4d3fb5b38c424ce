/* Data-parallel training under MPI (issue #18, docs/distributed.md): two
 * ranks on one PoCL device, each with one worker thread, on a tiny fixed
 * data set (2 classes x 8 CIFAR-10 JPEGs, no augmentation).
 *  - equivalence: two epochs of SGD and of Adam over 2 ranks (batch 8 = 4
 *    per rank, gradients all-reduced in many small buckets during the
 *    backward, and once with --no-overlap) give the losses and every
 *    parameter and optimizer state of one process with --accumulate 2
 *    (micro-batches of 4: BN statistics per micro-batch, as per rank), bit
 *    for bit; with --sync-bn they match one process at batch 8 (BN over
 *    the 8 images), running statistics included, to float tolerance;
 *  - --resume under MPI continues to the uninterrupted run's checkpoint;
 *  - a rank killed mid-run: mpirun and the other rank exit within seconds
 *    with a message naming the rank, and the checkpoint loads;
 *  - SIGTERM to rank 1 alone: every rank stops at the same step, rank 0
 *    checkpoints and says how to resume, which runs to the end on 2 ranks;
 *  - a batch that does not divide by the ranks is refused by every rank; a
 *    rank that fails alone (a bad device) stops the job with a line naming
 *    it.
 * Registered only in an MPI build (RCL_MPI). mpirun runs as root here:
 * OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM) stand for --allow-run-as-root, and
 * --oversubscribe lets two ranks share the machine's cores. */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int dev(void) { return rcl_ctx_device(T_CTX)->index; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char g_dir[1024], g_data[1100];

/* g_dir/data/{train,test}/{airplane,cat}/000k.jpg, k < 8, links to the
 * shared JPEGs */
static void make_data(void)
{
    const char *build = getenv("RESNET_CL_BUILD_DIR");
    assert_non_null(build);
    snprintf(g_dir, sizeof g_dir, "%s/test_train_mpi.%ld", build, (long)getpid());
    snprintf(g_data, sizeof g_data, "%s/data", g_dir);
    char *root = tu_cifar_jpeg_root(), cmd[4096];
    static const char *const cls[] = {"airplane", "cat"};
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 8; k++) {
                const char *split = s ? "test" : "train";
                snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s/%s' && ln -sf '%s/%s/%s/000%d.jpg' '%s/%s/%s/000%d.jpg'",
                         g_data, split, cls[c], root, split, cls[c], k, g_data, split, cls[c], k);
                assert_int_equal(system(cmd), 0);
            }
    free(root);
}

static const char *mpiexec(void)
{
    const char *m = getenv("RESNET_CL_MPIEXEC");
    return m && *m ? m : "mpirun";
}

/* mpirun -np 2 resnet-cl <args>, output (stderr merged) in *out */
static int run_mpi(char **out, const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' --oversubscribe -np 2 -x POCL_MAX_PTHREAD_COUNT=1 -x RESNET_CL_BUCKET_KB "
                              "'%s' %s 2>&1 </dev/null", mpiexec(), getenv("RESNET_CL_BIN"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap);
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0)
        if ((n += r) + 1 >= cap) buf = realloc(buf, cap *= 2);
    buf[n] = 0;
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The "Epoch [e/E], step [s/S] Loss: x" lines of a run, concatenated. */
static char *loss_lines(const char *out)
{
    char *res = calloc(1, strlen(out) + 1);
    for (const char *p = out; (p = strstr(p, "Epoch [")); p++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        strncat(res, p, len);
    }
    return res;
}

/* Every parameter and optimizer state of two checkpoints agree: exactly
 * (rtol = atol = 0; BN running statistics skipped, which differ: per
 * micro-batch there, rank 0's here), or within atol + rtol x the tensor's
 * largest magnitude (running statistics included). */
static void compare_checkpoints(const char *a, const char *b, const char *what, double rtol,
                                double atol, int skip_optim)
{
    rcl_st_file fa, fb;
    T_OK(rcl_st_open(&fa, a));
    T_OK(rcl_st_open(&fb, b));
    int compared = 0;
    double worst = 0;
    for (size_t i = 0; i < fa.n_tensors; i++) {
        const rcl_st_tensor *ta = rcl_st_tensor_at(&fa, i);
        if (rtol == 0 && atol == 0 && (strstr(ta->name, "running_") || strstr(ta->name, "num_batches_tracked")))
            continue;
        if (skip_optim && !strncmp(ta->name, "optim.", 6)) continue;
        const rcl_st_tensor *tb = rcl_st_find(&fb, ta->name);
        if (!tb) fail_msg("%s: %s missing from %s", what, ta->name, b);
        assert_int_equal(ta->nbytes, tb->nbytes);
        if (ta->dtype != RCL_ST_F32) {
            if (memcmp(ta->data, tb->data, ta->nbytes)) fail_msg("%s: %s differs", what, ta->name);
            continue;
        }
        const float *x = ta->data, *y = tb->data;
        double big = 0;
        for (size_t k = 0; k < ta->nbytes / 4; k++) big = fmax(big, fabs((double)x[k]));
        for (size_t k = 0; k < ta->nbytes / 4; k++) {
            double d = fabs((double)x[k] - y[k]), tol = rtol * big + atol;
            if (!(d <= tol))
                fail_msg("%s: %s[%zu]: %.9g (one process) vs %.9g (2 ranks)", what,
                         ta->name, k, (double)x[k], (double)y[k]);
            if (d > worst) worst = d;
        }
        compared++;
    }
    assert_true(compared > 60); /* resnet20's weights, BN affine, fc (and the optimizer state) */
    printf("  %s: %d tensors agree (largest difference %.3g)\n", what, compared, worst);
    rcl_st_close(&fa);
    rcl_st_close(&fb);
}

static void equivalence(const char *optim, const char *extra, const char *tag)
{
    char common[2048], args[4096], single[1200], multi[1200];
    snprintf(common, sizeof common, "--device %d train --model resnet20 --data %s --epochs 2 "
             "--batch-size 8 --no-augment --optimizer %s --lr %s --log-interval 1", dev(), g_data,
             optim, strcmp(optim, "sgd") ? "0.01" : "0.05");
    snprintf(single, sizeof single, "%s/%s-single", g_dir, tag);
    snprintf(multi, sizeof multi, "%s/%s-mpi", g_dir, tag);
    char *o1 = NULL, *o2 = NULL;
    int rc = tu_run(&o1, "%s --accumulate 2 --out %s", common, single);
    if (rc) fail_msg("one process: rc %d\n%s", rc, o1);
    snprintf(args, sizeof args, "%s %s --check-sync 1 --out %s", common, extra, multi);
    rc = run_mpi(&o2, args);
    if (rc) fail_msg("2 ranks: rc %d\n%s", rc, o2);
    if (!strstr(o2, "rank 0 of 2") || !strstr(o2, "rank 1 of 2") ||
        !strstr(o2, "BatchNorm statistics per rank"))
        fail_msg("2 ranks: the per-rank lines or the BN note are missing\n%s", o2);
    char *l1 = loss_lines(o1), *l2 = loss_lines(o2);
    if (strcmp(l1, l2) || !strstr(l1, "Epoch [2/2], step [2/2]"))
        fail_msg("%s: losses differ\none process:\n%s2 ranks:\n%s", tag, l1, l2);
    char a[1300], b[1300];
    snprintf(a, sizeof a, "%s/last.safetensors", single);
    snprintf(b, sizeof b, "%s/last.safetensors", multi);
    compare_checkpoints(a, b, tag, 0, 0, 0);
    free(l1);
    free(l2);
    free(o1);
    free(o2);
}

/* The "Loss: x" values of a run, in order (at most cap). */
static int losses(const char *out, double *v, int cap)
{
    int n = 0;
    for (const char *p = out; n < cap && (p = strstr(p, "] Loss: ")); p++) v[n++] = atof(p + 8);
    return n;
}

/* --sync-bn on 2 ranks of 2 images against one process at batch 4, 4 steps:
 * the sums run in another order (double on the host), so to float
 * tolerance. Adam's normalised step turns float-level differences of
 * near-zero gradients into weight differences up to lr (the sign of such a
 * gradient decides a whole step), so for Adam the weights are compared to
 * lr and its moments not at all; the losses still agree to 2e-4. */
static void sync_bn(const char *optim, const char *lr, const char *tag, double rtol, double atol,
                    int skip_optim)
{
    char common[2048], args[4096], single[1200], multi[1200];
    snprintf(common, sizeof common, "--device %d train --model resnet20 --data %s --epochs 1 "
             "--batch-size 4 --no-augment --optimizer %s --lr %s --log-interval 1", dev(), g_data,
             optim, lr);
    snprintf(single, sizeof single, "%s/%s-single", g_dir, tag);
    snprintf(multi, sizeof multi, "%s/%s-mpi", g_dir, tag);
    char *o1 = NULL, *o2 = NULL;
    int rc = tu_run(&o1, "%s --out %s", common, single);
    if (rc) fail_msg("one process: rc %d\n%s", rc, o1);
    snprintf(args, sizeof args, "%s --sync-bn --check-sync 1 --out %s", common, multi);
    rc = run_mpi(&o2, args);
    if (rc || !strstr(o2, "BatchNorm statistics over all ranks (--sync-bn)"))
        fail_msg("2 ranks --sync-bn: rc %d\n%s", rc, o2);
    double l1[8], l2[8];
    int n1 = losses(o1, l1, 8), n2 = losses(o2, l2, 8);
    assert_int_equal(n1, 4);
    assert_int_equal(n2, 4);
    for (int i = 0; i < 4; i++)
        if (fabs(l1[i] - l2[i]) > 2e-4)
            fail_msg("%s: step %d loss %.4f (one process) vs %.4f (2 ranks)", tag, i + 1, l1[i], l2[i]);
    char a[1300], b[1300];
    snprintf(a, sizeof a, "%s/last.safetensors", single);
    snprintf(b, sizeof b, "%s/last.safetensors", multi);
    compare_checkpoints(a, b, tag, rtol, atol, skip_optim);
    free(o1);
    free(o2);
}

static void test_sync_bn(void **state)
{
    (void)state;
    sync_bn("sgd", "0.002", "sgd-sync-bn", 1e-4, 1e-6, 0);
    sync_bn("adam", "0.0005", "adam-sync-bn", 0, 5e-4, 1);
}

static void test_equivalence(void **state)
{
    (void)state;
    equivalence("sgd", "", "sgd-overlap");
    equivalence("adam", "", "adam-overlap");
    equivalence("sgd", "--no-overlap", "sgd-no-overlap");
}

/* The batch must divide by the ranks: every rank says so, nobody hangs
 * (--accumulate alone: test_train_accumulate). */
static void test_refusals(void **state)
{
    (void)state;
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "--device %d train --model resnet20 --data %s --epochs 1 "
             "--batch-size 7 --no-save", dev(), g_data);
    int rc = run_mpi(&out, args);
    if (rc == 0 || !strstr(out, "--batch-size 7 does not divide by 2 (2 ranks x --accumulate 1)"))
        fail_msg("batch 7 on 2 ranks: rc %d\n%s", rc, out);
    free(out);
    /* rank 1 alone fails (a device that does not exist): every rank stops,
     * with a line naming rank 1, and the job ends (run_mpi returns) */
    snprintf(args, sizeof args, "--devices %d,99 train --model resnet20 --data %s --epochs 1 "
             "--batch-size 8 --no-save", dev(), g_data);
    rc = run_mpi(&out, args);
    if (rc == 0 || !strstr(out, "device 99 does not exist") ||
        !strstr(out, "resnet-cl: rank 1 of 2 (") || !strstr(out, "stopping every rank"))
        fail_msg("rank 1 on device 99: rc %d\n%s", rc, out);
    free(out);
}

/* log.jsonl lines without their "seconds" values, in place */
static void strip_seconds(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (!strncmp(r, "\"seconds\":", 10)) {
            r += 10;
            while (*r && *r != '}') r++;
            continue;
        }
        *w++ = *r++;
    }
    *w = 0;
}

/* --resume under MPI: 1 epoch on 2 ranks, resumed to 2 on 2 ranks, equals
 * 2 uninterrupted epochs on 2 ranks. */
static void test_resume(void **state)
{
    (void)state;
    char common[2048], args[8192], a[1300], b[1300], *out = NULL;
    snprintf(common, sizeof common, "--device %d train --model resnet20 --data %s --batch-size 8 "
             "--no-augment --optimizer adam --log-interval 1", dev(), g_data);
    snprintf(args, sizeof args, "%s --epochs 2 --out %s/whole", common, g_dir);
    int rc = run_mpi(&out, args);
    if (rc) fail_msg("2 epochs: rc %d\n%s", rc, out);
    free(out);
    snprintf(args, sizeof args, "%s --epochs 1 --out %s/parts", common, g_dir);
    rc = run_mpi(&out, args);
    if (rc) fail_msg("epoch 1: rc %d\n%s", rc, out);
    free(out);
    snprintf(args, sizeof args, "%s --epochs 2 --out %s/parts --resume %s/parts/last.safetensors",
             common, g_dir, g_dir);
    rc = run_mpi(&out, args);
    if (rc || !strstr(out, "resumed from")) fail_msg("resumed: rc %d\n%s", rc, out);
    free(out);
    snprintf(a, sizeof a, "%s/whole/last.safetensors", g_dir);
    snprintf(b, sizeof b, "%s/parts/last.safetensors", g_dir);
    compare_checkpoints(a, b, "resumed under MPI", 0, 0, 0);
    snprintf(a, sizeof a, "%s/whole/log.jsonl", g_dir);
    snprintf(b, sizeof b, "%s/parts/log.jsonl", g_dir);
    char *la = tu_read_file(a, NULL), *lb = tu_read_file(b, NULL);
    assert_non_null(la);
    assert_non_null(lb);
    strip_seconds(la);
    strip_seconds(lb);
    assert_string_equal(la, lb); /* the same lines but the seconds */
    free(la);
    free(lb);
}

/* Read the child's output into buf until `want` appears or the deadline. */
static int read_until(int fd, char *buf, size_t cap, size_t *n, const char *want, double deadline)
{
    while (!strstr(buf, want)) {
        double left = deadline - now_s();
        if (left <= 0) return 0;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = poll(&pf, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return 0;
        ssize_t r = read(fd, buf + *n, cap - *n - 1);
        if (r <= 0) return 0; /* EOF: the job ended */
        *n += (size_t)r;
        buf[*n] = 0;
    }
    return 1;
}

/* A run on 2 ranks stopped in epoch 2 through rank 1: term 0, SIGKILL;
 * term 1, SIGTERM, which every rank must agree on (the flag is all-reduced
 * before each step), rank 0 checkpointing the position. */
static void stop_run(int term)
{
    char out_dir[1200], cmd[8192];
    snprintf(out_dir, sizeof out_dir, "%s/%s", g_dir, term ? "terminated" : "killed");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t job = fork();
    assert_true(job >= 0);
    if (job == 0) {
        setpgid(0, 0); /* its own process group, as from a shell */
        sigset_t none; /* and the signal state of a shell's child (not cmocka's) */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        snprintf(cmd, sizeof cmd, "exec '%s' --oversubscribe -np 2 -x POCL_MAX_PTHREAD_COUNT=1 '%s' "
                 "--device %d train --model resnet20 --data %s --epochs 200 --batch-size 4 "
                 "--no-augment --log-interval 1 --checkpoint-every 1 --out %s </dev/null",
                 mpiexec(), getenv("RESNET_CL_BIN"), dev(), g_data, out_dir);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 1 << 20, n = 0;
    char *buf = calloc(1, cap);
    /* rank 1's pid, then a few steps (a checkpoint each) */
    double t0 = now_s();
    int ok = read_until(fds[0], buf, cap, &n, "Epoch [2/200], step [2/4]", t0 + 300);
    const char *line = strstr(buf, "rank 1 of 2 on ");
    const char *pidp = line ? strstr(line, "(pid ") : NULL;
    if (!ok || !pidp) {
        kill(job, SIGKILL);
        waitpid(job, NULL, 0);
        fail_msg("the run did not reach epoch 2 or named no rank 1 pid:\n%s", buf);
    }
    pid_t victim = (pid_t)atol(pidp + 5);
    assert_true(victim > 0);
    size_t before = n;
    double t_kill = now_s();
    assert_int_equal(kill(victim, term ? SIGTERM : SIGKILL), 0);
    /* everything must end within seconds: read to EOF with a deadline */
    read_until(fds[0], buf, cap, &n, "\x01never\x01", t_kill + 60);
    int status = 0;
    pid_t w = 0;
    while (now_s() < t_kill + 60 && (w = waitpid(job, &status, WNOHANG)) == 0) {
        struct timespec ts = {0, 50 * 1000000L}; /* polling a child's exit: no condition to wait on with a deadline */
        nanosleep(&ts, NULL);
    }
    double took = now_s() - t_kill;
    if (w != job) {
        kill(job, SIGKILL);
        waitpid(job, NULL, 0);
        fail_msg("the job still runs %.0f s after rank 1 (pid %ld) got %s:\n%s", took,
                 (long)victim, term ? "SIGTERM" : "SIGKILL", n > 6000 ? buf + n - 6000 : buf);
    }
    close(fds[0]);
    printf("  %s: the job ended %.1f s later, exit %d\n",
           term ? "SIGTERM to rank 1" : "rank 1 killed", took,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    assert_true(took < 30);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!term && !strstr(buf + before, "rank 1"))
        fail_msg("no message naming rank 1 after the kill:\n%s", buf + before);
    if (term && (!strstr(buf + before, "resnet-cl: SIGTERM: interrupted at epoch 2") ||
                 !strstr(buf + before, "resume with (launched as before, 2 ranks): resnet-cl")))
        fail_msg("no checkpoint and resume line after SIGTERM:\n%s", buf + before);
    free(buf);
    /* the last checkpoint is complete and loads */
    char *ev = NULL;
    int rc = tu_run(&ev, "--device %d eval --checkpoint %s/last.safetensors --data %s", dev(), out_dir,
                    g_data);
    if (rc != 0 || !strstr(ev, "Accuracy"))
        fail_msg("eval of the checkpoint left by the killed run: rc %d\n%s", rc, ev);
    free(ev);
}



static void test_rank_killed(void **state)
{
    (void)state;
    stop_run(0);
}

/* SIGTERM to rank 1 alone: every rank stops at the same step (this hung
 * when a rank decided on a signal that landed after the agreement), rank 0
 * checkpoints the position, and the run resumes on 2 ranks to its end. */
static void test_sigterm(void **state)
{
    (void)state;
    stop_run(1);
    char args[8192], *out = NULL;
    snprintf(args, sizeof args, "--device %d train --model resnet20 --data %s --epochs 3 "
             "--batch-size 4 --no-augment --log-interval 1 --out %s/terminated "
             "--resume %s/terminated/last.safetensors", dev(), g_data, g_dir, g_dir);
    int rc = run_mpi(&out, args);
    if (rc || !strstr(out, "resumed from") || !strstr(out, "Epoch [3/3], step [4/4]"))
        fail_msg("resuming after SIGTERM: rc %d\n%s", rc, out);
    free(out);
}

static int setup(void **state)
{
    (void)state;
    if (g_dir[0]) return 0;
    /* mpirun refuses root without these (= --allow-run-as-root); our CI runs as root */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("POCL_MAX_PTHREAD_COUNT", "1", 1); /* the one-process runs too */
    setenv("RESNET_CL_BUCKET_KB", "64", 1);   /* resnet20 (1 MB of gradients): ~16 buckets */
    make_data();
    return 0;
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(test_refusals, setup),
    cmocka_unit_test_setup(test_equivalence, setup),
    cmocka_unit_test_setup(test_sync_bn, setup),
    cmocka_unit_test_setup(test_resume, setup),
    cmocka_unit_test_setup(test_rank_killed, setup),
    cmocka_unit_test_setup(test_sigterm, setup),
};

int main(int argc, char **argv)
{
    int rc = rcl_test_main_fast(argc, argv, "train_mpi", tests, sizeof tests / sizeof tests[0]);
    if (g_dir[0]) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) rc++;
    }
    return rc;
}
