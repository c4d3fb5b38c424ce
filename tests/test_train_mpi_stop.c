/* Data-parallel training under MPI (issue #18, docs/distributed.md), its
 * stops and failures: two ranks on one PoCL device (one worker thread
 * each) on a tiny fixed data set.
 *  - a batch that does not divide by the ranks is refused by every rank; a
 *    rank that fails alone (a bad device) stops the job with a line naming
 *    it;
 *  - --resume under MPI continues to the uninterrupted run's checkpoint;
 *  - a rank killed mid-run: mpirun and the other rank exit within seconds
 *    with a message naming the rank, and the checkpoint loads;
 *  - SIGTERM to rank 1 alone: every rank stops at the same step, rank 0
 *    checkpoints and says how to resume, which runs to the end on 2 ranks.
 * Registered only in an MPI build (RCL_MPI). */
#include "train_mpi_util.h"
#include "base/base.h"

#include <time.h> /* nanosleep */

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
        double left = deadline - rcl_now_s();
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
    double t0 = rcl_now_s();
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
    double t_kill = rcl_now_s();
    assert_int_equal(kill(victim, term ? SIGTERM : SIGKILL), 0);
    /* everything must end within seconds: read to EOF with a deadline */
    read_until(fds[0], buf, cap, &n, "\x01never\x01", t_kill + 60);
    int status = 0;
    pid_t w = 0;
    while (rcl_now_s() < t_kill + 60 && (w = waitpid(job, &status, WNOHANG)) == 0) {
        struct timespec ts = {0, 50 * 1000000L}; /* polling a child's exit: no condition to wait on with a deadline */
        nanosleep(&ts, NULL);
    }
    double took = rcl_now_s() - t_kill;
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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(test_refusals, setup),
    cmocka_unit_test_setup(test_resume, setup),
    cmocka_unit_test_setup(test_rank_killed, setup),
    cmocka_unit_test_setup(test_sigterm, setup),
};

int main(int argc, char **argv)
{
    return cleanup(rcl_test_main_fast(argc, argv, "train_mpi_stop", tests, sizeof tests / sizeof tests[0]));
}
