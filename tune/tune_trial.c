/* Forked trial children (see tune_trial.h). Child -> parent protocol, one
 * line each: "S <i>" when candidate i starts, "R <i> <status> <secs>..." when
 * it is done, "E <message>" if the child cannot set up. */
#include "tune_trial.h"
#include "base/base.h"

#include "rcl/tune_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) continue;
            _exit(3);
        }
        s += w;
        n -= (size_t)w;
    }
}

static void quiet_stderr(void)
{
    /* driver compile chatter (e.g. PoCL's "N warnings generated.") would
     * break the parent's progress bar */
    int dn = open("/dev/null", O_WRONLY);
    if (dn >= 0) {
        dup2(dn, 2);
        close(dn);
    }
}

/* read C of shape s into host memory */
static int read_c(rcl_ctx *ctx, const rcl_gemm_shape *s, const rcl_gemm_bufs *b, float *out)
{
    cl_int e = clEnqueueReadBuffer(rcl_ctx_queue(ctx), b->C, CL_TRUE, 0,
                                   (size_t)s->M * s->N * sizeof(float), out, 0, NULL, NULL);
    return e == CL_SUCCESS ? RCL_OK : RCL_ERR_OPENCL;
}

/* max |c - r| <= 1e-3 * max |r| and no NaN */
static int matches(const float *c, const float *r, size_t n)
{
    double maxr = 0, maxd = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(c[i])) return 0;
        double d = fabs((double)c[i] - r[i]);
        if (d > maxd) maxd = d;
        if (fabs(r[i]) > maxr) maxr = fabs(r[i]);
    }
    return maxd <= 1e-3 * maxr + 1e-30;
}

void trial_say(int fd, const char *s) { say(fd, s); }
void trial_quiet_stderr(void) { quiet_stderr(); }

static void child_main(const trial_job *job, int start, int fd)
{
    if (job->kind == TRIAL_KERNELS) {
        trial_kernels_child(job, start, fd);
        _exit(0);
    }
    quiet_stderr();
    char line[8192];
    rcl_ctx *ctx = NULL;
    if (rcl_ctx_create(&ctx, job->device, NULL) != RCL_OK) {
        snprintf(line, sizeof line, "E cannot open device %d: %s\n", job->device, rcl_last_error());
        say(fd, line);
        _exit(1);
    }
    int ns = job->nshapes;
    rcl_gemm_bufs *bufs = calloc((size_t)ns, sizeof *bufs);
    float **ref = calloc((size_t)ns, sizeof *ref);
    size_t maxc = 0;
    for (int s = 0; s < ns; s++)
        if ((size_t)job->shapes[s].M * job->shapes[s].N > maxc)
            maxc = (size_t)job->shapes[s].M * job->shapes[s].N;
    float *got = malloc(maxc * sizeof *got);
    if (!bufs || !ref || !got) _exit(2);
    /* reference: our kernel with its default parameters (tested against a
     * double-precision reference in tests/test_gemm.c) */
    for (int s = 0; s < ns; s++) {
        const rcl_gemm_shape *sh = &job->shapes[s];
        ref[s] = malloc((size_t)sh->M * sh->N * sizeof(float));
        int st = ref[s] ? rcl_gemm_bufs_create(ctx, sh, (uint64_t)s + 1, &bufs[s]) : RCL_ERR_NOMEM;
        if (st == RCL_OK) st = rcl_gemm_run_shape(ctx, RCL_GEMM_TILED, NULL, sh, &bufs[s]);
        if (st == RCL_OK) st = read_c(ctx, sh, &bufs[s], ref[s]);
        if (st != RCL_OK) {
            snprintf(line, sizeof line, "E reference for %dx%dx%d: %s\n", sh->M, sh->N, sh->K,
                     rcl_last_error());
            say(fd, line);
            _exit(1);
        }
    }
    /* fault injection for testing the parent: "crash=I" or "hang=I" makes
     * candidate I of every job crash or hang */
    const char *inj = getenv("RESNET_CL_TUNE_INJECT");
    int inj_crash = -1, inj_hang = -1;
    if (inj && sscanf(inj, "crash=%d", &inj_crash) != 1) inj_crash = -1;
    if (inj && sscanf(inj, "hang=%d", &inj_hang) != 1) inj_hang = -1;
    for (int i = start; i < job->npoints; i++) {
        snprintf(line, sizeof line, "S %d\n", i);
        say(fd, line);
        if (i == inj_crash) abort();
        while (i == inj_hang) pause();
        const int *v = job->points + (size_t)i * job->nparams;
        int st = RCL_OK, path = RCL_GEMM_CLBLAST;
        rcl_gemm_tiled_params p = {0};
        if (job->kind == TRIAL_CLBLAST) {
            st = rcl_gemm_clblast_override(ctx, v, v[RCL_XGEMM_NPARAMS]);
        } else if (job->kind == TRIAL_OURS) {
            path = RCL_GEMM_TILED;
            p = rcl_gemm_tiled_from_ints(v);
        }
        int status = st == RCL_OK ? TRIAL_OK : TRIAL_ERROR;
        char times[6000];
        size_t len = 0;
        times[0] = 0;
        for (int s = 0; s < ns && status == TRIAL_OK; s++) {
            const rcl_gemm_shape *sh = &job->shapes[s];
            double t = 0;
            /* first run (compiles): NaN-filled C must come back matching the reference */
            if (clEnqueueFillBuffer(rcl_ctx_queue(ctx), bufs[s].C, &(float){NAN}, sizeof(float), 0,
                                    (size_t)sh->M * sh->N * sizeof(float), 0, NULL,
                                    NULL) != CL_SUCCESS) {
                status = TRIAL_ERROR;
                break;
            }
            st = rcl_gemm_run_shape(ctx, path, &p, sh, &bufs[s]);
            if (st == RCL_OK) st = read_c(ctx, sh, &bufs[s], got);
            if (st != RCL_OK) {
                status = TRIAL_ERROR;
                break;
            }
            if (!matches(got, ref[s], (size_t)sh->M * sh->N)) {
                status = TRIAL_WRONG;
                break;
            }
            st = rcl_gemm_time_shape(ctx, path, &p, sh, &bufs[s], job->warm, job->reps, &t);
            if (st != RCL_OK) {
                status = TRIAL_ERROR;
                break;
            }
            if (len < sizeof times - 32) len += (size_t)snprintf(times + len, sizeof times - len, " %.9g", t);
        }
        snprintf(line, sizeof line, "R %d %d%s\n", i, status, status == TRIAL_OK ? times : "");
        say(fd, line);
    }
    _exit(0);
}

/* parse "R i status t..." */
static void parse_result(const char *l, const trial_job *job, trial_results *res)
{
    int i, status, off = 0;
    if (sscanf(l, "R %d %d%n", &i, &status, &off) != 2 || i < 0 || i >= job->npoints) return;
    res->status[i] = status;
    const char *p = l + off;
    for (int s = 0; s < job->nshapes; s++) {
        char *end;
        double t = status == TRIAL_OK ? strtod(p, &end) : -1;
        if (status == TRIAL_OK && end == p) {
            res->status[i] = TRIAL_ERROR;
            break;
        }
        if (status == TRIAL_OK) p = end;
        res->secs[(size_t)i * job->nshapes + s] = t;
    }
}

int trial_run(const trial_job *job, trial_results *res, trial_progress_fn fn, void *ud)
{
    for (int i = 0; i < job->npoints; i++) {
        res->status[i] = TRIAL_NOT_RUN;
        for (int s = 0; s < job->nshapes; s++) res->secs[(size_t)i * job->nshapes + s] = -1;
    }
    res->done = 0;
    int start = 0, setup_failures = 0, out_of_budget = 0;
    while (start < job->npoints && !out_of_budget) {
        if (job->deadline > 0 && rcl_now_s() > job->deadline && start >= job->min_points) break;
        int fds[2];
        if (pipe(fds)) return -1;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
        if (pid == 0) {
            close(fds[0]);
            child_main(job, start, fds[1]);
            _exit(0);
        }
        close(fds[1]);
        char buf[16384];
        size_t have = 0;
        int cur = -1, eof = 0;
        /* the child's setup (context, reference) gets extra time */
        double t_mark = rcl_now_s(), limit = job->trial_timeout_s + 120;
        while (!eof && !out_of_budget) {
            double left = t_mark + limit - rcl_now_s();
            if (left <= 0) { /* hung: kill it, blame the candidate */
                kill(pid, SIGKILL);
                if (cur >= 0 && res->status[cur] == TRIAL_NOT_RUN) {
                    res->status[cur] = TRIAL_TIMEOUT;
                    res->done++;
                    if (fn) fn(ud, res->done, job->npoints);
                }
                break;
            }
            struct pollfd pf = {fds[0], POLLIN, 0};
            int pr = poll(&pf, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
            if (pr < 0 && errno != EINTR) break;
            if (pr <= 0) continue;
            ssize_t r = read(fds[0], buf + have, sizeof buf - 1 - have);
            if (r <= 0) {
                eof = 1;
                break;
            }
            have += (size_t)r;
            buf[have] = 0;
            char *nl;
            while ((nl = memchr(buf, '\n', have))) {
                *nl = 0;
                if (buf[0] == 'S') {
                    cur = atoi(buf + 2);
                    t_mark = rcl_now_s();
                    limit = job->trial_timeout_s;
                } else if (buf[0] == 'R') {
                    parse_result(buf, job, res);
                    res->done++;
                    if (fn) fn(ud, res->done, job->npoints);
                    if (job->deadline > 0 && rcl_now_s() > job->deadline &&
                        res->done >= job->min_points) {
                        kill(pid, SIGKILL);
                        out_of_budget = 1;
                    }
                } else if (buf[0] == 'E') {
                    fprintf(stderr, "\nresnet-cl-tune: trial child: %s\n", buf + 2);
                }
                size_t used = (size_t)(nl - buf) + 1;
                memmove(buf, nl + 1, have - used);
                have -= used;
                buf[have] = 0;
            }
        }
        close(fds[0]);
        int wst = 0;
        waitpid(pid, &wst, 0);
        if (out_of_budget) break;
        if (cur < 0) { /* died before its first candidate: setup failed */
            if (++setup_failures >= 2) return -1;
            continue;
        }
        if (res->status[cur] == TRIAL_NOT_RUN) { /* crashed during candidate cur */
            res->status[cur] = TRIAL_CRASHED;
            res->done++;
            if (fn) fn(ud, res->done, job->npoints);
        }
        start = cur + 1;
    }
    return 0;
}

/* write all of buf to fd; 0 on success */
static int write_all(int fd, const void *buf, size_t n)
{
    const char *c = buf;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t read_all(int fd, void *buf, size_t n)
{
    char *c = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, c + got, n - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

int trial_probe(int device, tune_probe *out)
{
    memset(out, 0, sizeof *out);
    int fds[2];
    if (pipe(fds)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fds[0]);
        quiet_stderr();
        tune_probe p;
        memset(&p, 0, sizeof p);
        rcl_ctx *ctx = NULL;
        if (rcl_ctx_create(&ctx, device, NULL) != RCL_OK) {
            snprintf(p.error, sizeof p.error, "%s", rcl_last_error());
        } else {
            const rcl_device_info *d = rcl_ctx_device(ctx);
            snprintf(p.name, sizeof p.name, "%s", d->name);
            p.compute_units = d->compute_units;
            p.vec_width = rcl_gemm_vec_width(ctx);
            p.max_alloc = d->max_alloc;
            p.ok = rcl_tune_device_key(ctx, p.key, sizeof p.key) == RCL_OK &&
                   rcl_tune_cache_path(ctx, p.path, sizeof p.path) == RCL_OK;
            if (!p.ok) snprintf(p.error, sizeof p.error, "%s", rcl_last_error());
            rcl_ctx_destroy(ctx);
        }
        _exit(write_all(fds[1], &p, sizeof p) ? 1 : 0);
    }
    close(fds[1]);
    int complete = read_all(fds[0], out, sizeof *out) == sizeof *out;
    close(fds[0]);
    int wst;
    waitpid(pid, &wst, 0);
    if (!complete) {
        memset(out, 0, sizeof *out);
        snprintf(out->error, sizeof out->error, "probe child died");
        return -1;
    }
    return out->ok ? 0 : -1;
}

int trial_collect_shapes(int device, const char *arch, int batch, int hw, int classes,
                         rcl_gemm_shape *out, int cap, int *n, char *err, size_t err_cap)
{
    *n = 0;
    int fds[2];
    if (pipe(fds)) return snprintf(err, err_cap, "pipe: %s", strerror(errno)), -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return snprintf(err, err_cap, "fork: %s", strerror(errno)), -1;
    if (pid == 0) {
        /* child: status int, message[256], count int, shapes */
        close(fds[0]);
        quiet_stderr();
        char msg[256] = "";
        int cnt = 0, ok = 0;
        rcl_ctx *ctx = NULL;
        if (rcl_ctx_create(&ctx, device, NULL) == RCL_OK &&
            rcl_gemm_shapes_model(ctx, arch, batch, hw, classes, out, cap, &cnt) == RCL_OK)
            ok = 1;
        else snprintf(msg, sizeof msg, "%s", rcl_last_error());
        rcl_ctx_destroy(ctx);
        if (write_all(fds[1], &ok, sizeof ok) || write_all(fds[1], msg, sizeof msg) ||
            write_all(fds[1], &cnt, sizeof cnt) ||
            write_all(fds[1], out, (size_t)cnt * sizeof *out))
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    int ok = 0, cnt = 0;
    char msg[256] = "";
    int good = read_all(fds[0], &ok, sizeof ok) == sizeof ok &&
               read_all(fds[0], msg, sizeof msg) == sizeof msg &&
               read_all(fds[0], &cnt, sizeof cnt) == sizeof cnt && cnt >= 0 && cnt <= cap &&
               read_all(fds[0], out, (size_t)cnt * sizeof *out) == (size_t)cnt * sizeof *out;
    close(fds[0]);
    int wst;
    waitpid(pid, &wst, 0);
    if (!good) return snprintf(err, err_cap, "shape collection child died"), -1;
    msg[sizeof msg - 1] = 0;
    if (!ok) return snprintf(err, err_cap, "%s", msg), -1;
    *n = cnt;
    return 0;
}
