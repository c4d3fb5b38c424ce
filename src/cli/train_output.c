/* `resnet-cl train`'s output folder and its test hook (train.h). */
#include "cli/train.h"

#include "cli/cli.h"
#include "base/base.h" /* rcl_atomic_write_buf */
#include "rcl/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int train_setup_slow_write(void)
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

/* The files a run writes in its --out (last and log first: a folder with
 * either holds a run). */
static const char *const RUN_FILES[] = {"last.safetensors", "best.safetensors", "log.jsonl",
                                        "steps.jsonl"};
#define N_RUN_FILES (sizeof RUN_FILES / sizeof RUN_FILES[0])

static int file_exists(const char *dir, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Temporary files of our own atomic writes ("<file>.tmp.<pid>[.<n>]" of our
 * three files) whose process is gone: removed, with a note each. */
void train_remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *rest = NULL;
        for (size_t k = 0; k < N_RUN_FILES && !rest; k++) {
            size_t n = strlen(RUN_FILES[k]);
            if (!strncmp(e->d_name, RUN_FILES[k], n) && !strncmp(e->d_name + n, ".tmp.", 5))
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

/* The lines of a JSONL log that follow the checkpoint (complete lines
 * only), the file rewritten atomically when anything goes. log.jsonl keeps
 * the lines of epochs 1..epochs (max_step < 0); steps.jsonl also those of
 * epoch epochs+1 up to step max_step (a checkpoint inside that epoch). */
static int trim_jsonl(const char *path, int epochs, int max_step, int *last)
{
    *last = 0;
    FILE *f = fopen(path, "rb");
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
        fprintf(stderr, "resnet-cl: out of memory reading %s\n", path);
        return 1;
    }
    size_t kn = 0;
    int dropped = 0;
    for (size_t i = 0; i < n;) {
        char *nl = memchr(buf + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
        int ep = 0, step = 0, ok = 0;
        if (!nl) {
            ok = 0;
        } else if (max_step < 0) {
            ok = sscanf(buf + i, "{\"epoch\": %d,", &ep) == 1 && ep >= 1 && ep <= epochs;
        } else if (sscanf(buf + i, "{\"epoch\": %d, \"step\": %d,", &ep, &step) == 2) {
            ok = ep >= 1 && step >= 1 && (ep <= epochs || (ep == epochs + 1 && step <= max_step));
        }
        if (ok) {
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
        int st = rcl_atomic_write_buf(path, keep, kn);
        if (st) {
            cli_report("rewriting the log", st);
            rc = 1;
        } else {
            printf("note: %s: dropped %d line%s past the checkpoint (it finished %d epoch%s", path,
                   dropped, dropped == 1 ? "" : "s", epochs, epochs == 1 ? "" : "s");
            if (max_step > 0) printf(" and %d step%s of the next", max_step, max_step == 1 ? "" : "s");
            printf(")\n");
        }
    }
    free(buf);
    free(keep);
    return rc;
}

int train_trim_log(const char *logp, int epochs, int *last)
{
    return trim_jsonl(logp, epochs, -1, last);
}

int train_trim_steps(const char *path, int epochs, int step)
{
    int last;
    return trim_jsonl(path, epochs, step, &last);
}

/* A fresh run into a folder that holds one: refused, or with --overwrite
 * the old run's files are deleted. */
int train_check_fresh_out(const train_opts *o, const char *out_dir)
{
    int held = file_exists(out_dir, RUN_FILES[0]) || file_exists(out_dir, RUN_FILES[2]);
    if (!held) return 0;
    if (!o->overwrite) {
        fprintf(stderr, "resnet-cl: %s already holds a run (last.safetensors or log.jsonl); continue "
                        "it with --resume %s/last.safetensors, start over with --overwrite, or pick "
                        "another --out\n", out_dir, out_dir);
        return 1;
    }
    for (size_t k = 0; k < N_RUN_FILES; k++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", out_dir, RUN_FILES[k]);
        if (unlink(p) != 0 && errno != ENOENT) {
            fprintf(stderr, "resnet-cl: --overwrite: cannot remove %s: %s\n", p, strerror(errno));
            return 1;
        }
    }
    printf("note: --overwrite: removed the run in %s\n", out_dir);
    return 0;
}
