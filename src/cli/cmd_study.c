/* resnet-cl study: one command per comparison (norm, init, depth, plain, or
 * a user's --spec file). Every variant is a `train` child process of this
 * same binary (a crash or divergence of one cannot take the study down),
 * writing into <out>/<variant>[-seed<k>]; finished runs are skipped and
 * unfinished ones continued with --resume, so rerunning a killed study
 * continues it. After every run the study rewrites report.md, results.csv,
 * plots.gp and the plots it draws with gnuplot. */
#include "cli/cli.h"
#include "base/base.h" /* rcl_mkdir_p, rcl_atomic_write_buf */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "rcl_git_commit.h" /* RCL_GIT_COMMIT, written at build time (cmake/git_commit.cmake) */

#define STUDY_DEFAULT_EPOCHS 30
#define PLOT_W 900
#define PLOT_H 560

/* ---- small helpers: a growable string and a growable argv */

typedef struct sbuf { char *s; size_t n, cap; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->n + (size_t)k) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) abort();
        b->s = s;
        b->cap = cap;
        if (b->n == 0) b->s[0] = 0;
    }
}

typedef struct strv { char **v; int n, cap; } strv;

static void sv_push(strv *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = realloc(a->v, (size_t)a->cap * sizeof *a->v);
        if (!a->v) abort();
    }
    a->v[a->n++] = strdup(s);
    a->v[a->n] = NULL;
}

static void sv_pushf(strv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sv_pushf(strv *a, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sv_push(a, buf);
}

static void sv_append(strv *a, const strv *b)
{
    for (int i = 0; i < b->n; i++) sv_push(a, b->v[i]);
}

static void sv_free(strv *a)
{
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* Split at white space (no quoting) and append. */
static void sv_split(strv *a, const char *s)
{
    while (*s) {
        while (*s && isspace((unsigned char)*s)) s++;
        const char *e = s;
        while (*e && !isspace((unsigned char)*e)) e++;
        if (e > s) {
            char buf[512];
            snprintf(buf, sizeof buf, "%.*s", (int)(e - s), s);
            sv_push(a, buf);
        }
        s = e;
    }
}

/* Shell-quoted when needed, for showing commands. */
static void sb_arg(sbuf *b, const char *a)
{
    int plain = *a != 0;
    for (const char *p = a; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_./=,:+@%", *p)) plain = 0;
    if (plain) {
        sb_printf(b, "%s", a);
        return;
    }
    sb_printf(b, "'");
    for (const char *p = a; *p; p++) {
        if (*p == '\'') sb_printf(b, "'\\''");
        else sb_printf(b, "%c", *p);
    }
    sb_printf(b, "'");
}

static void sb_args(sbuf *b, char **v, int n)
{
    for (int i = 0; i < n; i++) {
        if (i) sb_printf(b, " ");
        sb_arg(b, v[i]);
    }
}

/* The value of the last `--name V` or `--name=V` in v (NULL: none). */
static const char *sv_last_value(const strv *a, const char *name)
{
    const char *val = NULL;
    size_t ln = strlen(name);
    for (int i = 0; i < a->n; i++) {
        if (!strcmp(a->v[i], name) && i + 1 < a->n) val = a->v[++i];
        else if (!strncmp(a->v[i], name, ln) && a->v[i][ln] == '=') val = a->v[i] + ln + 1;
    }
    return val;
}

static int sv_has(const strv *a, const char *name)
{
    size_t ln = strlen(name);
    for (int i = 0; i < a->n; i++)
        if (!strncmp(a->v[i], name, ln) && (a->v[i][ln] == 0 || a->v[i][ln] == '=')) return 1;
    return 0;
}

/* The text of regular file `path` from byte `from` on, malloc'd; NULL with
 * errno set when it cannot be read (EISDIR for a directory, EFBIG above
 * 256 MiB: no spec or log of ours is that large). */
static char *read_text(const char *path, long from)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > (256L << 20)) {
        int e = errno;
        if (!e || S_ISDIR(st.st_mode)) e = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
        fclose(f);
        errno = e;
        return NULL;
    }
    long n = (long)st.st_size;
    if (from > n || from < 0) from = 0;
    char *b = malloc((size_t)(n - from) + 1);
    if (!b || fseek(f, from, SEEK_SET)) {
        free(b);
        fclose(f);
        errno = ENOMEM;
        return NULL;
    }
    size_t got = fread(b, 1, (size_t)(n - from), f);
    b[got] = 0;
    fclose(f);
    return b;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? 0 : (long)st.st_size;
}

/* ---- the study: variants and runs */

typedef struct variant {
    char name[64];
    strv args; /* this variant's own train options */
} variant;

typedef struct epoch_rec {
    int epoch;
    double lr, train_loss, train_acc, test_loss, test_acc, secs;
} epoch_rec;

/* One line of a run's steps.jsonl: the mean training loss of the window of
 * --log-interval steps (or the epoch's rest) that ends at (epoch, step). */
typedef struct step_rec {
    int epoch, step, steps;
    double loss;
} step_rec;

enum { RUN_PENDING, RUN_DONE, RUN_PARTIAL, RUN_DIVERGED, RUN_FAILED };

typedef struct run {
    int variant, seed;
    char dir[600];
    strv args;          /* train options, without --out / --resume */
    int epochs;         /* the budget (--epochs in args, train's default 80) */
    epoch_rec *ep;      /* epochs 1..nep read from log.jsonl (last line per epoch wins) */
    int nep;
    step_rec *st;       /* steps.jsonl, in order (none from runs made before it existed) */
    int nst;
    int status;
    int diverged_epoch; /* 0: not diverged */
    char note[200];     /* failure detail */
} run;

typedef struct study {
    char name[128];
    strv base;          /* options of every variant */
    variant *v;
    int nv;
    run *runs;
    int nruns;
    int seeds, seeds_given, epochs_given;
    int per_class_train, per_class_test, batch;
    char out[512];
    char self[1024];
    char device_desc[512];
    char command[4096];
} study;

static void study_usage(FILE *f)
{
    fprintf(f,
            "usage: resnet-cl [--device N] study NAME [options] [train options]\n"
            "       resnet-cl [--device N] study --spec FILE [options] [train options]\n"
            "Trains every variant of a comparison as a 'train' child process, everything else\n"
            "identical (seed, data order, augmentation, budget), and writes report.md,\n"
            "results.csv and plots (gnuplot) to --out. Rerun the same command to continue a\n"
            "stopped study: finished runs are skipped, unfinished ones resumed.\n"
            "studies (NAME):\n"
            "  norm     --norm bn, gn, ln, in, lrn, brn, ws, none on --model (default resnet20)\n"
            "  init     --init xavier-normal, kaiming-normal, xavier-uniform, kaiming-uniform,\n"
            "           each with --norm bn and --norm none, on --model (default plain20)\n"
            "  depth    --model resnet18, resnet34, resnet50\n"
            "  plain    plain20, plain56, resnet20, resnet56 with the paper's SGD recipe: --optimizer\n"
            "           sgd --lr 0.1 --momentum 0.9 --weight-decay 1e-4 --batch-size 128, lr divided\n"
            "           by 10 at 50%% and 75%% of --epochs\n"
            "options:\n"
            "  --spec FILE          the variants of a file instead of a built-in study (format below)\n"
            "  --model M            the model of norm and init (not for depth and plain)\n"
            "  --epochs E           epochs per run (default %d for built-in studies; a spec's\n"
            "                       base, or train's default, otherwise)\n"
            "  --train-per-class K, --test-per-class K, --batch-size B   passed to every run\n"
            "  --seeds S            run every variant with --seed 0..S-1; report mean +- std\n"
            "  --variants A,B,..    run only these variants\n"
            "  --out DIR            default runs/study-NAME\n"
            "Any other option is a train option given to every run (e.g. --data DIR); see\n"
            "'resnet-cl train --help'. --out, --resume and --no-save are the study's to set.\n"
            "spec file: one item per line; '#' at the start or after a space starts a comment:\n"
            "  name: my-study                  the study's name (default: the file's name)\n"
            "  base: --model resnet20 --epochs 10     train options of every variant\n"
            "  variant gn: --norm gn           a variant: its name ([A-Za-z0-9._-]) and options\n"
            "  Options are split at white space (no quoting); base lines add up; a variant's\n"
            "  options come after the base and the command line's, so they win.\n"
            "outputs in --out: report.md, results.csv (variant,seed,epoch,...), plots.gp,\n"
            "test_acc.svg/.png, train_loss.svg/.png (%dx%d), <variant>[-seed<k>]/ (log.jsonl,\n"
            "last.safetensors, train.log)\n",
            STUDY_DEFAULT_EPOCHS, PLOT_W, PLOT_H);
}

static variant *add_variant(study *s, const char *name)
{
    s->v = realloc(s->v, (size_t)(s->nv + 1) * sizeof *s->v);
    variant *v = &s->v[s->nv++];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    return v;
}

static int valid_name(const char *n)
{
    if (!*n || strlen(n) >= 64 || *n == '.') return 0;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) return 0;
    return 1;
}

/* Built-in study NAME into s (base options and variants); `model` may be NULL. */
static int builtin_study(study *s, const char *name, const char *model)
{
    if (!strcmp(name, "norm")) {
        static const char *const k[] = {"bn", "gn", "ln", "in", "lrn", "brn", "ws", "none"};
        sv_push(&s->base, "--model");
        sv_push(&s->base, model ? model : "resnet20");
        for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
            variant *v = add_variant(s, k[i]);
            sv_push(&v->args, "--norm");
            sv_push(&v->args, k[i]);
        }
    } else if (!strcmp(name, "init")) {
        static const char *const k[] = {"xavier-normal", "kaiming-normal", "xavier-uniform",
                                         "kaiming-uniform"};
        static const char *const nk[] = {"bn", "none"};
        sv_push(&s->base, "--model");
        sv_push(&s->base, model ? model : "plain20");
        for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
            for (size_t j = 0; j < 2; j++) {
                char vn[64];
                snprintf(vn, sizeof vn, "%s-%s", k[i], nk[j]);
                variant *v = add_variant(s, vn);
                sv_push(&v->args, "--init");
                sv_push(&v->args, k[i]);
                sv_push(&v->args, "--norm");
                sv_push(&v->args, nk[j]);
            }
    } else if (!strcmp(name, "depth") || !strcmp(name, "plain")) {
        if (model) {
            fprintf(stderr, "resnet-cl study: study %s sets --model per variant (use --spec for "
                            "other models)\n", name);
            return 2;
        }
        static const char *const depth[] = {"resnet18", "resnet34", "resnet50", NULL};
        static const char *const plain[] = {"plain20", "plain56", "resnet20", "resnet56", NULL};
        const char *const *m = name[0] == 'd' ? depth : plain;
        if (name[0] == 'p') {
            int e = s->epochs_given ? s->epochs_given : STUDY_DEFAULT_EPOCHS;
            int m1 = (int)lround(e * 0.5), m2 = (int)lround(e * 0.75);
            if (m1 < 1) m1 = 1;
            if (m2 < m1) m2 = m1;
            sv_split(&s->base, "--optimizer sgd --lr 0.1 --momentum 0.9 --weight-decay 1e-4 "
                               "--batch-size 128 --lr-factor 10");
            sv_push(&s->base, "--milestones");
            if (m2 > m1) sv_pushf(&s->base, "%d,%d", m1, m2);
            else sv_pushf(&s->base, "%d", m1);
        }
        for (int i = 0; m[i]; i++) {
            variant *v = add_variant(s, m[i]);
            sv_push(&v->args, "--model");
            sv_push(&v->args, m[i]);
        }
    } else {
        fprintf(stderr, "resnet-cl study: unknown study '%s' (norm, init, depth, plain, or --spec "
                        "FILE; see resnet-cl study --help)\n", name);
        return 2;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    return 0;
}

static int spec_study(study *s, const char *path)
{
    char *text = read_text(path, 0);
    if (!text) {
        fprintf(stderr, "resnet-cl study: cannot read spec file %s: %s\n", path, strerror(errno));
        return 2;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(s->name, sizeof s->name, "%.*s", (int)strcspn(base, "."), base);
    int lineno = 0, rc = 0;
    for (char *line = strtok(text, "\n"); line && !rc; line = strtok(NULL, "\n")) {
        lineno++;
        while (isspace((unsigned char)*line)) line++;
        for (char *h = line; *h; h++) /* a comment: '#' at the start or after white space */
            if (*h == '#' && (h == line || isspace((unsigned char)h[-1]))) {
                *h = 0;
                break;
            }
        size_t len = strlen(line);
        while (len && isspace((unsigned char)line[len - 1])) line[--len] = 0;
        if (!*line || *line == '#') continue;
        char *colon = strchr(line, ':');
        if (!colon) {
            fprintf(stderr, "resnet-cl study: %s:%d: want 'base: OPTIONS', 'variant NAME: OPTIONS' "
                            "or 'name: NAME', got '%s'\n", path, lineno, line);
            rc = 2;
            break;
        }
        *colon = 0;
        char *rest = colon + 1;
        while (isspace((unsigned char)*rest)) rest++;
        char key[64], vname[128] = "";
        int nf = sscanf(line, "%63s %127s", key, vname);
        if (nf >= 1 && !strcmp(key, "base") && nf == 1) {
            sv_split(&s->base, rest);
        } else if (nf >= 1 && !strcmp(key, "name") && nf == 1) {
            if (!valid_name(rest)) {
                fprintf(stderr, "resnet-cl study: %s:%d: bad name '%s' (letters, digits, '.', '_', '-')\n",
                        path, lineno, rest);
                rc = 2;
            } else snprintf(s->name, sizeof s->name, "%s", rest);
        } else if (nf == 2 && !strcmp(key, "variant")) {
            if (!valid_name(vname)) {
                fprintf(stderr, "resnet-cl study: %s:%d: bad variant name '%s' (letters, digits, '.', "
                                "'_', '-')\n", path, lineno, vname);
                rc = 2;
                break;
            }
            for (int i = 0; i < s->nv; i++)
                if (!strcmp(s->v[i].name, vname)) {
                    fprintf(stderr, "resnet-cl study: %s:%d: variant '%s' given twice\n", path, lineno, vname);
                    rc = 2;
                }
            if (!rc) sv_split(&add_variant(s, vname)->args, rest);
        } else {
            fprintf(stderr, "resnet-cl study: %s:%d: unknown item '%s' (base, variant NAME, name)\n",
                    path, lineno, line);
            rc = 2;
        }
    }
    free(text);
    if (!rc && s->nv == 0) {
        fprintf(stderr, "resnet-cl study: %s has no 'variant NAME: OPTIONS' line\n", path);
        rc = 2;
    }
    return rc;
}

/* Keep only the variants named in the comma list. */
static int filter_variants(study *s, const char *list)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    int *keep = calloc((size_t)s->nv, sizeof *keep), nkeep = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        int found = -1;
        for (int i = 0; i < s->nv; i++)
            if (!strcmp(s->v[i].name, t)) found = i;
        if (found < 0) {
            fprintf(stderr, "resnet-cl study: --variants: no variant '%s' in study %s (", t, s->name);
            for (int i = 0; i < s->nv; i++) fprintf(stderr, "%s%s", i ? ", " : "", s->v[i].name);
            fprintf(stderr, ")\n");
            free(keep);
            return 2;
        }
        if (!keep[found]) nkeep++;
        keep[found] = 1;
    }
    int j = 0;
    for (int i = 0; i < s->nv; i++) {
        if (keep[i]) s->v[j++] = s->v[i];
        else sv_free(&s->v[i].args);
    }
    s->nv = j;
    free(keep);
    return nkeep ? 0 : 2;
}

/* ---- per-run state from its folder */

static void run_read_steps(run *r);

static void run_read_log(run *r)
{
    free(r->ep);
    r->ep = NULL;
    r->nep = 0;
    char path[700];
    snprintf(path, sizeof path, "%s/log.jsonl", r->dir);
    char *text = read_text(path, 0);
    if (!text) return;
    epoch_rec *tmp = calloc((size_t)r->epochs + 1, sizeof *tmp);
    int *have = calloc((size_t)r->epochs + 1, sizeof *have);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        epoch_rec e = {0};
        char lr[64], tl[64], ta[64], vl[64], va[64], sc[64];
        if (sscanf(line, "{\"epoch\": %d, \"lr\": %63[^,], \"train_loss\": %63[^,], \"train_acc\": %63[^,], "
                         "\"test_loss\": %63[^,], \"test_acc\": %63[^,], \"seconds\": %63[^}]",
                   &e.epoch, lr, tl, ta, vl, va, sc) != 7)
            continue;
        if (e.epoch < 1 || e.epoch > r->epochs) continue;
        e.lr = strtod(lr, NULL);
        e.train_loss = strtod(tl, NULL);
        e.train_acc = strtod(ta, NULL);
        e.test_loss = strtod(vl, NULL);
        e.test_acc = strtod(va, NULL);
        e.secs = strtod(sc, NULL);
        tmp[e.epoch] = e;
        have[e.epoch] = 1;
    }
    free(text);
    /* epochs 1..k without a gap */
    int k = 0;
    while (k < r->epochs && have[k + 1]) k++;
    if (k) {
        r->ep = malloc((size_t)k * sizeof *r->ep);
        memcpy(r->ep, tmp + 1, (size_t)k * sizeof *r->ep);
    }
    r->nep = k;
    free(tmp);
    free(have);
    run_read_steps(r);
}

/* The global step of a steps.jsonl record (steps per epoch from the line). */
static long step_global(const step_rec *x)
{
    return (long)(x->epoch - 1) * x->steps + x->step;
}

static void run_read_steps(run *r)
{
    free(r->st);
    r->st = NULL;
    r->nst = 0;
    char path[700];
    snprintf(path, sizeof path, "%s/steps.jsonl", r->dir);
    char *text = read_text(path, 0);
    if (!text) return;
    size_t cap = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        step_rec x;
        char loss[64];
        if (sscanf(line, "{\"epoch\": %d, \"step\": %d, \"steps\": %d, \"loss\": %63[^}]",
                   &x.epoch, &x.step, &x.steps, loss) != 4 ||
            x.epoch < 1 || x.epoch > r->epochs || x.step < 1 || x.steps < x.step)
            continue;
        x.loss = strtod(loss, NULL);
        /* in order; a line at or before the previous one (cannot happen after
         * train's trimming) is skipped */
        if (r->nst && step_global(&x) <= step_global(&r->st[r->nst - 1])) continue;
        if ((size_t)r->nst == cap) {
            size_t nc = cap ? 2 * cap : 64;
            step_rec *nb = realloc(r->st, nc * sizeof *nb);
            if (!nb) break;
            r->st = nb;
            cap = nc;
        }
        r->st[r->nst++] = x;
    }
    free(text);
}

static int rec_finite(const epoch_rec *e)
{
    return isfinite(e->train_loss) && isfinite(e->test_loss);
}

static void write_status(const run *r)
{
    char path[700], buf[256];
    snprintf(path, sizeof path, "%s/study-status", r->dir);
    int n = snprintf(buf, sizeof buf, "diverged %d\n", r->diverged_epoch);
    rcl_atomic_write_buf(path, buf, (size_t)n);
}

/* The state of r from its folder: done, diverged (recorded or in the log),
 * partial (some epochs) or pending. */
static void run_scan(run *r)
{
    run_read_log(r);
    r->status = RUN_PENDING;
    r->diverged_epoch = 0;
    char path[700];
    snprintf(path, sizeof path, "%s/study-status", r->dir);
    char *st = read_text(path, 0);
    int de = 0;
    if (st && sscanf(st, "diverged %d", &de) == 1 && de > 0) r->diverged_epoch = de;
    free(st);
    for (int i = 0; i < r->nep && !r->diverged_epoch; i++)
        if (!rec_finite(&r->ep[i])) r->diverged_epoch = r->ep[i].epoch;
    if (r->diverged_epoch) r->status = RUN_DIVERGED;
    else if (r->nep >= r->epochs) r->status = RUN_DONE;
    else if (r->nep > 0) r->status = RUN_PARTIAL;
}

/* The options that identify a run (--epochs may grow between reruns). */
static void run_signature(const run *r, sbuf *b)
{
    for (int i = 0; i < r->args.n; i++) {
        const char *a = r->args.v[i];
        if (!strcmp(a, "--epochs") && i + 1 < r->args.n) {
            sb_printf(b, "--epochs E ");
            i++;
        } else if (!strncmp(a, "--epochs=", 9)) {
            sb_printf(b, "--epochs=E ");
        } else {
            sb_arg(b, a);
            sb_printf(b, " ");
        }
    }
}

/* 0 if r's folder is new or was made by the same options; otherwise prints
 * why and returns 1. Records the options in a new folder. */
static int run_check_signature(const run *r)
{
    char path[700];
    snprintf(path, sizeof path, "%s/study-args.txt", r->dir);
    sbuf b = {0};
    run_signature(r, &b);
    sb_printf(&b, "\n");
    char *old = read_text(path, 0);
    int rc = 0;
    if (old) {
        if (strcmp(old, b.s)) {
            fprintf(stderr, "resnet-cl study: %s was started with other train options:\n  %s"
                            "now:\n  %suse another --out or remove that folder\n", r->dir, old, b.s);
            rc = 1;
        }
    } else if (rcl_mkdir_p(r->dir) || rcl_atomic_write_buf(path, b.s, b.n)) {
        fprintf(stderr, "resnet-cl study: cannot write %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    free(old);
    free(b.s);
    return rc;
}

/* ---- child processes */

static volatile pid_t g_child;

/* SIGTERM / SIGHUP to the study while a run trains: passed on to the run,
 * whose death by that signal then stops the study. */
static void forward_signal(int sig)
{
    if (g_child > 0) kill(g_child, sig);
}

/* Run self with argv (NULL-terminated, argv[0] ignored), stdout and stderr
 * to `log` (appended; NULL: /dev/null). Ctrl-C reaches the child (same
 * process group) and the study waits for it; on Linux a child dies with a
 * killed study. Returns the wait status, or -1. */
static int spawn_wait(const char *self, char **argv, const char *log)
{
    struct sigaction ign = {0}, fwd = {0}, old_int, old_quit, old_term, old_hup;
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    fwd.sa_handler = forward_signal;
    sigemptyset(&fwd.sa_mask);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(126);
#else
        (void)parent;
#endif
        int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : open("/dev/null", O_WRONLY);
        int in = open("/dev/null", O_RDONLY);
        if (fd < 0 || in < 0) _exit(126);
        dup2(in, 0);
        dup2(fd, 1);
        if (log) dup2(fd, 2);
        execv(self, argv);
        _exit(127);
    }
    g_child = pid;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    sigaction(SIGTERM, &fwd, &old_term);
    sigaction(SIGHUP, &fwd, &old_hup);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            status = -1;
            break;
        }
    g_child = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    return status;
}

static void child_argv(const study *s, const cli_globals *g, const run *r, int resume, strv *out)
{
    sv_push(out, s->self);
    if (g->device >= 0) sv_pushf(out, "--device=%d", g->device);
    if (g->no_tune_cache) sv_push(out, "--no-tune-cache");
    sv_push(out, "train");
    sv_append(out, &r->args);
    sv_push(out, "--out");
    sv_push(out, r->dir);
    if (resume) {
        sv_push(out, "--resume");
        sv_pushf(out, "%s/last.safetensors", r->dir);
    } else if (r->nep || r->nst) {
        sv_push(out, "--overwrite"); /* epochs logged but no checkpoint: start over */
    }
}

/* Check every variant's options with `train ... --help` (parsing stops at a
 * bad option or value with exit status 2, before --help). */
static int validate(const study *s, const cli_globals *g)
{
    for (int i = 0; i < s->nruns; i += s->seeds) {
        const run *r = &s->runs[i];
        strv a = {0};
        child_argv(s, g, r, 0, &a);
        sv_push(&a, "--help");
        int st = spawn_wait(s->self, a.v, NULL);
        sv_free(&a);
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "resnet-cl study: variant %s: bad train options (above)\n",
                    s->v[r->variant].name);
            return 2;
        }
    }
    return 0;
}

/* ---- outputs */

static void mean_std(const double *x, int n, double *mean, double *sd)
{
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m = n ? m / n : 0;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = n > 1 ? sqrt(v / (n - 1)) : 0;
}

/* "12.3%" or "12.3 ± 0.4%" of n values (scale, decimals, suffix). */
static void sb_stat(sbuf *b, const double *x, int n, double scale, int dec, const char *suf)
{
    if (!n) {
        sb_printf(b, "—");
        return;
    }
    double m, sd;
    mean_std(x, n, &m, &sd);
    if (!isfinite(m)) sb_printf(b, "%g", m);
    else if (n == 1) sb_printf(b, "%.*f%s", dec, m * scale, suf);
    else sb_printf(b, "%.*f ± %.*f%s", dec, m * scale, dec, sd * scale, suf);
}

static const char *status_word(int st)
{
    switch (st) {
    case RUN_DONE: return "done";
    case RUN_PARTIAL: return "unfinished";
    case RUN_DIVERGED: return "diverged";
    case RUN_FAILED: return "failed";
    default: return "pending";
    }
}

static void write_csv(const study *s)
{
    sbuf b = {0};
    sb_printf(&b, "variant,seed,epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds\n");
    for (int i = 0; i < s->nruns; i++) {
        const run *r = &s->runs[i];
        for (int k = 0; k < r->nep; k++) {
            const epoch_rec *e = &r->ep[k];
            sb_printf(&b, "%s,%d,%d,%.7g,%.6f,%.6f,%.6f,%.6f,%.3f\n", s->v[r->variant].name, r->seed,
                      e->epoch, e->lr, e->train_loss, e->train_acc, e->test_loss, e->test_acc, e->secs);
        }
    }
    char path[700];
    snprintf(path, sizeof path, "%s/results.csv", s->out);
    if (rcl_atomic_write_buf(path, b.s, b.n)) cli_report("writing results.csv", RCL_ERR_IO);
    b.n = 0;
    sb_printf(&b, "variant,seed,epoch,step,global_step,train_loss\n");
    for (int i = 0; i < s->nruns; i++) {
        const run *r = &s->runs[i];
        for (int k = 0; k < r->nst; k++)
            sb_printf(&b, "%s,%d,%d,%d,%ld,%.6f\n", s->v[r->variant].name, r->seed, r->st[k].epoch,
                      r->st[k].step, step_global(&r->st[k]), r->st[k].loss);
    }
    snprintf(path, sizeof path, "%s/steps.csv", s->out);
    if (rcl_atomic_write_buf(path, b.s, b.n)) cli_report("writing steps.csv", RCL_ERR_IO);
    free(b.s);
}

static int max_epochs(const study *s)
{
    int e = 1;
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].epochs > e) e = s->runs[i].epochs;
    return e;
}

/* plots.gp: the data inline (mean over seeds per epoch), four outputs. */
/* Returns whether there is anything to plot. */
static int write_gnuplot(const study *s)
{
    sbuf b = {0};
    sb_printf(&b, "# Generated by resnet-cl study %s: test accuracy per epoch and train loss per\n"
                  "# logged step window (per epoch for runs without steps.jsonl), one line per\n"
                  "# variant (mean over seeds). Run in this folder: gnuplot plots.gp\n",
              s->name);
    int any = 0;
    int *has = calloc((size_t)s->nv * 2, sizeof *has); /* [v*2+p]: finite points to plot */
    for (int v = 0; v < s->nv; v++) {
        sb_printf(&b, "$d%d << EOD\n", v);
        int ne = 0;
        for (int i = 0; i < s->nruns; i++)
            if (s->runs[i].variant == v && s->runs[i].nep > ne) ne = s->runs[i].nep;
        for (int e = 0; e < ne; e++) {
            double acc = 0, loss = 0;
            int na = 0, nl = 0;
            for (int i = 0; i < s->nruns; i++) {
                const run *r = &s->runs[i];
                if (r->variant != v || r->nep <= e) continue;
                if (isfinite(r->ep[e].test_acc)) acc += r->ep[e].test_acc, na++;
                if (isfinite(r->ep[e].train_loss) && r->ep[e].train_loss > 0) loss += r->ep[e].train_loss, nl++;
            }
            if (na) sb_printf(&b, "%d %.4f", e + 1, 100 * acc / na);
            else sb_printf(&b, "%d ?", e + 1);
            if (nl) sb_printf(&b, " %.6g\n", loss / nl);
            else sb_printf(&b, " ?\n");
            has[v * 2] |= na > 0;
            has[v * 2 + 1] |= nl > 0;
            any |= na > 0 || nl > 0;
        }
        if (!ne) sb_printf(&b, "0 ? ?\n");
        sb_printf(&b, "EOD\n");
    }
    /* train loss against the step, from steps.jsonl: the mean over the
     * variant's runs (seeds) of each window, along the run with the most */
    int *hs = calloc((size_t)s->nv, sizeof *hs), any_steps = 0;
    for (int v = 0; v < s->nv; v++) {
        const run *t = NULL;
        for (int i = 0; i < s->nruns; i++)
            if (s->runs[i].variant == v && (!t || s->runs[i].nst > t->nst)) t = &s->runs[i];
        if (!t || !t->nst) continue;
        sb_printf(&b, "$s%d << EOD\n", v);
        for (int k = 0; k < t->nst; k++) {
            long gs = step_global(&t->st[k]);
            double loss = 0;
            int nl = 0;
            for (int i = 0; i < s->nruns; i++) {
                const run *r = &s->runs[i];
                if (r->variant != v || r->nst <= k || step_global(&r->st[k]) != gs) continue;
                if (isfinite(r->st[k].loss) && r->st[k].loss > 0) loss += r->st[k].loss, nl++;
            }
            if (nl) sb_printf(&b, "%ld %.6g\n", gs, loss / nl);
            else sb_printf(&b, "%ld ?\n", gs);
            hs[v] |= nl > 0;
        }
        sb_printf(&b, "EOD\n");
        any_steps |= hs[v];
    }
    sb_printf(&b,
              "set datafile missing '?'\n"
              "set key outside right top noenhanced\n"
              "set grid\n"
              "set xlabel 'epoch'\n"
              "set xrange [%s:%d]\n"
              "set xtics %d\n"
              "set mxtics default\n"
              "pngterm = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? 'pngcairo' : 'png'\n",
              max_epochs(s) > 1 ? "1" : "0", max_epochs(s), max_epochs(s) > 10 ? (max_epochs(s) + 9) / 10 : 1);
    static const char *const what[2][4] = {
        {"test_acc", "test accuracy", "test accuracy (%)", "2"},
        {"train_loss", "train loss", "train loss (log scale)", "3"},
    };
    for (int p = 0; p < 2; p++) {
        for (int t = 0; t < 2; t++) {
            if (t == 0)
                sb_printf(&b, "set terminal svg size %d,%d dynamic background rgb 'white' font 'sans,12'\n"
                              "set output '%s.svg'\n", PLOT_W, PLOT_H, what[p][0]);
            else
                sb_printf(&b, "set terminal @pngterm size %d,%d font 'sans,10'\n"
                              "set output '%s.png'\n", PLOT_W, PLOT_H, what[p][0]);
            int by_step = p == 1 && any_steps;
            if (by_step)
                sb_printf(&b, "set title 'study %s: train loss per step (mean of each logged window%s)' "
                              "noenhanced\nset xlabel 'step'\nset autoscale x\nset xtics autofreq\n",
                          s->name, s->seeds > 1 ? ", over seeds" : "");
            else
                sb_printf(&b, "set title 'study %s: %s per epoch%s' noenhanced\n", s->name, what[p][1],
                          s->seeds > 1 ? " (mean over seeds)" : "");
            sb_printf(&b, "set ylabel '%s'\n", what[p][2]);
            sb_printf(&b, p == 1 ? "set logscale y\n" : "unset logscale y\n");
            sb_printf(&b, "plot ");
            int first = 1;
            for (int v = 0; v < s->nv; v++) {
                /* gnuplot refuses a line without points */
                if (by_step ? !hs[v] : !has[v * 2 + p]) continue;
                if (by_step)
                    sb_printf(&b, "%s$s%d using 1:2 with lines lw 1.5 title '%s'",
                              first ? "" : ", \\\n     ", v, s->v[v].name);
                else
                    sb_printf(&b, "%s$d%d using 1:%s with linespoints title '%s'",
                              first ? "" : ", \\\n     ", v, what[p][3], s->v[v].name);
                first = 0;
            }
            if (first) sb_printf(&b, "NaN title 'no finite values yet'");
            sb_printf(&b, "\nset output\n");
        }
    }
    char path[700];
    snprintf(path, sizeof path, "%s/plots.gp", s->out);
    if (rcl_atomic_write_buf(path, b.s, b.n)) cli_report("writing plots.gp", RCL_ERR_IO);
    free(b.s);
    free(has);
    free(hs);
    return any;
}

/* Run gnuplot in the out dir: 0 drawn, 1 not installed, 2 failed (3, in
 * write_report: nothing to plot). */
static int run_gnuplot(const study *s)
{
    char log[700];
    snprintf(log, sizeof log, "%s/gnuplot.log", s->out);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (fd < 0 || in < 0 || chdir(s->out)) _exit(126);
        dup2(in, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execlp("gnuplot", "gnuplot", "plots.gp", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return 2;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return 1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 2;
}

static void write_report(const study *s, int plots)
{
    sbuf b = {0};
    int done = 0, diverged = 0, failed = 0;
    for (int i = 0; i < s->nruns; i++) {
        done += s->runs[i].status == RUN_DONE;
        diverged += s->runs[i].status == RUN_DIVERGED;
        failed += s->runs[i].status == RUN_FAILED;
    }
    time_t now = time(NULL);
    struct tm tm;
    char when[64];
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    sb_printf(&b, "# Study: %s\n\n", s->name);
    sb_printf(&b, "- command: `%s`\n", s->command);
    sb_printf(&b, "- device: %s\n", s->device_desc);
    sb_printf(&b, "- resnet-cl commit: %s\n", RCL_GIT_COMMIT);
    sb_printf(&b, "- budget: ");
    int e0 = s->runs[0].epochs, same = 1;
    for (int i = 0; i < s->nruns; i++) same &= s->runs[i].epochs == e0;
    if (same) sb_printf(&b, "%d epoch%s per run", e0, e0 == 1 ? "" : "s");
    else sb_printf(&b, "epochs per run differ (see the table)");
    const char *tpc = sv_last_value(&s->base, "--train-per-class");
    const char *epc = sv_last_value(&s->base, "--test-per-class");
    const char *bs = sv_last_value(&s->base, "--batch-size");
    sb_printf(&b, ", training images per class: %s, test images per class: %s, batch size: %s, ",
              tpc ? tpc : "all", epc ? epc : "all", bs ? bs : "100 (train's default)");
    if (s->seeds > 1) sb_printf(&b, "seeds 0..%d per variant (mean ± sample std over seeds)\n", s->seeds - 1);
    else sb_printf(&b, "one seed per variant\n");
    sb_printf(&b, "- train options of every variant: `");
    sb_args(&b, s->base.v, s->base.n);
    sb_printf(&b, "`; the variant's own come after them\n");
    sb_printf(&b, "- progress: %d of %d runs finished, %d diverged, %d failed (updated %s)\n\n",
              done, s->nruns, diverged, failed, when);
    sb_printf(&b, "| variant | options | final test acc | best test acc | final train loss | epochs "
                  "| s/epoch | diverged |\n|---|---|---|---|---|---|---|---|\n");
    for (int v = 0; v < s->nv; v++) {
        double fin[256], best[256], loss[256], spe[256];
        int n = 0, nloss = 0, nspe = 0, ndiv = 0, emin = 1 << 30, emax = 0, budget = 0;
        sbuf divs = {0}, notes = {0};
        for (int i = 0; i < s->nruns; i++) {
            const run *r = &s->runs[i];
            if (r->variant != v) continue;
            budget = r->epochs;
            if (r->nep < emin) emin = r->nep;
            if (r->nep > emax) emax = r->nep;
            if (r->status == RUN_DIVERGED) {
                sb_printf(&divs, "%s%d", ndiv ? ", " : "", r->diverged_epoch);
                ndiv++;
            }
            if (r->status == RUN_FAILED)
                sb_printf(&notes, "%sseed %d failed: %s", notes.n ? "; " : "", r->seed, r->note);
            if (r->status == RUN_PARTIAL || r->status == RUN_PENDING)
                sb_printf(&notes, "%sseed %d %s", notes.n ? "; " : "", r->seed, status_word(r->status));
            if (!r->nep || n >= 256) continue;
            const epoch_rec *last = &r->ep[r->nep - 1];
            fin[n] = last->test_acc;
            best[n] = 0;
            double secs = 0;
            for (int k = 0; k < r->nep; k++) {
                if (r->ep[k].test_acc > best[n]) best[n] = r->ep[k].test_acc;
                secs += r->ep[k].secs;
            }
            n++;
            if (isfinite(last->train_loss)) loss[nloss++] = last->train_loss;
            spe[nspe++] = secs / r->nep;
        }
        sb_printf(&b, "| %s | ", s->v[v].name);
        if (s->v[v].args.n) {
            sb_printf(&b, "`");
            sb_args(&b, s->v[v].args.v, s->v[v].args.n);
            sb_printf(&b, "` | ");
        } else {
            sb_printf(&b, "(none: the base) | ");
        }
        sb_stat(&b, fin, n, 100, 2, "%");
        sb_printf(&b, " | ");
        sb_stat(&b, best, n, 100, 2, "%");
        sb_printf(&b, " | ");
        sb_stat(&b, loss, nloss, 1, 4, "");
        if (nloss < n) sb_printf(&b, " (%d non-finite)", n - nloss);
        if (emin == emax) sb_printf(&b, " | %d/%d | ", emin, budget);
        else sb_printf(&b, " | %d-%d/%d | ", emin, emax, budget);
        sb_stat(&b, spe, nspe, 1, 1, "");
        if (ndiv == 0) sb_printf(&b, " | no");
        else if (s->seeds == 1) sb_printf(&b, " | yes (epoch %s)", divs.s);
        else sb_printf(&b, " | %d of %d seeds (epoch %s)", ndiv, s->seeds, divs.s);
        if (notes.n) sb_printf(&b, "; %s", notes.s);
        sb_printf(&b, " |\n");
        free(divs.s);
        free(notes.s);
    }
    sb_printf(&b, "\nFinal and best test accuracy are over the epochs run; \"diverged\": the run "
                  "stopped on a non-finite loss (train exits with the NaN/inf message) or logged one, "
                  "at that epoch; its row shows the epochs before it. s/epoch includes the test pass.\n\n");
    sb_printf(&b, "## Plots\n\n");
    if (plots == 0)
        sb_printf(&b, "![test accuracy](test_acc.svg)\n\n![train loss](train_loss.svg)\n\n"
                      "Also as PNG (%dx%d): `test_acc.png`, `train_loss.png`; drawn by gnuplot from "
                      "`plots.gp`.\n\n", PLOT_W, PLOT_H);
    else if (plots == 1)
        sb_printf(&b, "gnuplot was not found, so no plots were drawn. To draw them: install gnuplot "
                      "(Debian: `apt-get install gnuplot-nox`) and run `gnuplot plots.gp` in this "
                      "folder; it writes test_acc.svg/.png and train_loss.svg/.png.\n\n");
    else if (plots == 2)
        sb_printf(&b, "gnuplot failed (see `gnuplot.log`); the script is `plots.gp` in this folder.\n\n");
    else
        sb_printf(&b, "No epoch with a finite loss logged yet, so no plots (`plots.gp` is written "
                      "anyway).\n\n");
    sb_printf(&b, "## Files\n\n- `results.csv`: one row per variant, seed and epoch\n"
                  "- `steps.csv`: one row per variant, seed and logged window of steps (the mean "
                  "training loss of the --log-interval steps up to `step`)\n"
                  "- `<variant>%s/log.jsonl`: each run's per-epoch log; `steps.jsonl` its per-window "
                  "training loss; `train.log` its output, `last.safetensors` its checkpoint\n",
              s->seeds > 1 ? "-seed<k>" : "");
    char path[700];
    snprintf(path, sizeof path, "%s/report.md", s->out);
    if (rcl_atomic_write_buf(path, b.s, b.n)) cli_report("writing report.md", RCL_ERR_IO);
    free(b.s);
}

static void write_outputs(const study *s)
{
    write_csv(s);
    write_report(s, write_gnuplot(s) ? run_gnuplot(s) : 3);
}

/* ---- one run */

/* 0: went on (any outcome recorded in r), 1: interrupted, stop the study. */
static int do_run(study *s, const cli_globals *g, run *r, int idx)
{
    const char *vn = s->v[r->variant].name;
    char label[128];
    if (s->seeds > 1) snprintf(label, sizeof label, "%s seed %d", vn, r->seed);
    else snprintf(label, sizeof label, "%s", vn);
    run_scan(r);
    if (r->status == RUN_DONE || r->status == RUN_DIVERGED) {
        printf("study %s: [%d/%d] %s: %s (%d epochs logged), skipped\n", s->name, idx + 1, s->nruns,
               label, r->status == RUN_DONE ? "already done" : "diverged before", r->nep);
        return 0;
    }
    char ckpt[700], tlog[700];
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", r->dir);
    snprintf(tlog, sizeof tlog, "%s/train.log", r->dir);
    int resume = access(ckpt, R_OK) == 0; /* also one written inside epoch 1 */
    if (!resume && (r->nep || r->nst))
        printf("study %s: %s: %d epoch%s logged but no %s (a copy without checkpoints?): "
               "starting the run over\n", s->name, label, r->nep, r->nep == 1 ? "" : "s", ckpt);
    strv a = {0};
    child_argv(s, g, r, resume, &a);
    sbuf cmd = {0};
    sb_args(&cmd, a.v + 1, a.n - 1);
    printf("study %s: [%d/%d] %s: %s (output: %s)\n  resnet-cl %s\n", s->name, idx + 1, s->nruns, label,
           resume ? "resuming" : "training", tlog, cmd.s);
    fflush(stdout);
    long off = file_size(tlog);
    FILE *lf = fopen(tlog, "a");
    if (lf) {
        fprintf(lf, "=== resnet-cl %s\n", cmd.s);
        fclose(lf);
    }
    free(cmd.s);
    double t0 = rcl_now_s();
    int st = spawn_wait(s->self, a.v, tlog);
    sv_free(&a);
    run_read_log(r);
    /* train exits 130 / 143 after checkpointing on SIGINT / SIGTERM */
    int sig = st < 0 ? 0 : WIFSIGNALED(st) ? WTERMSIG(st)
                      : WIFEXITED(st) && (WEXITSTATUS(st) == 130 || WEXITSTATUS(st) == 143)
                          ? WEXITSTATUS(st) - 128 : 0;
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) {
        fprintf(stderr, "resnet-cl study: %s interrupted (signal %d); rerun the same command to "
                        "continue\n", label, sig);
        r->status = r->nep ? RUN_PARTIAL : RUN_PENDING;
        return 1;
    }
    run_scan(r);
    if (r->status == RUN_DIVERGED) {
        write_status(r);
    } else if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        if (r->status != RUN_DONE) {
            r->status = RUN_FAILED;
            snprintf(r->note, sizeof r->note, "exited 0 with %d of %d epochs logged", r->nep, r->epochs);
        }
    } else {
        char *out = read_text(tlog, off);
        const char *m = out ? strstr(out, "resnet-cl: loss became ") : NULL;
        int de = 0;
        const char *at = m ? strstr(m, " at epoch ") : NULL;
        if (at && sscanf(at, " at epoch %d", &de) == 1 && de > 0) {
            r->status = RUN_DIVERGED;
            r->diverged_epoch = de;
            write_status(r);
        } else {
            r->status = RUN_FAILED;
            if (st < 0) snprintf(r->note, sizeof r->note, "could not start %.150s", s->self);
            else if (WIFSIGNALED(st)) snprintf(r->note, sizeof r->note, "killed by signal %d, see train.log", WTERMSIG(st));
            else snprintf(r->note, sizeof r->note, "exit status %d, see train.log", WEXITSTATUS(st));
        }
        free(out);
    }
    double secs = rcl_now_s() - t0;
    if (r->status == RUN_DONE)
        printf("study %s: %s: done in %.1f s, final test acc %.2f%%, train loss %.4f\n", s->name, label,
               secs, 100 * r->ep[r->nep - 1].test_acc, r->ep[r->nep - 1].train_loss);
    else if (r->status == RUN_DIVERGED)
        printf("study %s: %s: diverged at epoch %d; going on\n", s->name, label, r->diverged_epoch);
    else
        printf("study %s: %s: %s; going on\n", s->name, label, r->note);
    fflush(stdout);
    return 0;
}

/* ---- the command */

static int parse_study_args(int argc, char **argv, study *s, const char **name, const char **spec,
                            const char **model, const char **variants, strv *extra)
{
    int i = 1;
    if (argc > 1 && argv[1][0] != '-') *name = argv[i++];
    static const char *const own[] = {"--spec", "--model", "--epochs", "--train-per-class",
                                      "--test-per-class", "--batch-size", "--seeds", "--variants",
                                      "--out", NULL};
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            study_usage(stdout);
            return 1;
        }
        int k = -1;
        const char *val = NULL;
        for (int j = 0; own[j]; j++) {
            size_t l = strlen(own[j]);
            if (!strncmp(a, own[j], l) && (a[l] == 0 || a[l] == '=')) {
                k = j;
                val = a[l] == '=' ? a + l + 1 : NULL;
            }
        }
        if (k < 0) {
            if (!strcmp(a, "--resume") || !strncmp(a, "--resume=", 9) || !strcmp(a, "--no-save")) {
                fprintf(stderr, "resnet-cl study: %s: the study sets --out and --resume of its runs "
                                "(see resnet-cl study --help)\n", a);
                return 2;
            }
            sv_push(extra, a); /* a train option (or its value) for every run */
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "resnet-cl study: missing value for %s (see resnet-cl study --help)\n", a);
                return 2;
            }
            val = argv[++i];
        }
        int bad = 0, *ip = NULL;
        long hi = 1 << 30;
        switch (k) {
        case 0: *spec = val; break;
        case 1: *model = val; break;
        case 2: ip = &s->epochs_given; hi = 100000; break;
        case 3: ip = &s->per_class_train; break;
        case 4: ip = &s->per_class_test; break;
        case 5: ip = &s->batch; hi = 1 << 16; break;
        case 6: ip = &s->seeds; hi = 1000; s->seeds_given = 1; break;
        case 7: *variants = val; break;
        case 8: snprintf(s->out, sizeof s->out, "%s", val); break;
        }
        if (ip && cli_parse_int(val, 1, hi, ip)) bad = 1;
        if (bad) {
            fprintf(stderr, "resnet-cl study: bad value '%s' for %s (want a positive integer)\n", val, own[k]);
            return 2;
        }
    }
    if (s->seeds_given && sv_has(extra, "--seed")) {
        fprintf(stderr, "resnet-cl study: --seed and --seeds: give one (--seeds S runs seeds 0..S-1)\n");
        return 2;
    }
    if (!*name == !*spec) {
        fprintf(stderr, *name ? "resnet-cl study: give a study NAME or --spec FILE, not both\n"
                              : "resnet-cl study: missing study NAME (norm, init, depth, plain) or --spec "
                                "FILE (see resnet-cl study --help)\n");
        return 2;
    }
    return 0;
}

static void device_description(const cli_globals *g, study *s)
{
    rcl_device_info devs[RCL_MAX_DEVICES];
    int n = 0, idx = rcl_device_default_index(g->device);
    if (rcl_devices_list(devs, RCL_MAX_DEVICES, &n) != RCL_OK || idx < 0 || idx >= n) {
        snprintf(s->device_desc, sizeof s->device_desc, "device %d (not listed by this process)", idx);
        return;
    }
    snprintf(s->device_desc, sizeof s->device_desc, "%d: %s (%s, driver %s)", idx, devs[idx].name,
             devs[idx].platform_name, devs[idx].driver_version);
}

static void study_free(study *s)
{
    for (int i = 0; i < s->nv; i++) sv_free(&s->v[i].args);
    free(s->v);
    for (int i = 0; i < s->nruns; i++) {
        sv_free(&s->runs[i].args);
        free(s->runs[i].ep);
        free(s->runs[i].st);
    }
    free(s->runs);
    sv_free(&s->base);
}

int cli_study(const cli_globals *g, int argc, char **argv)
{
    study s = {.seeds = 1};
    const char *name = NULL, *spec = NULL, *model = NULL, *variants = NULL;
    strv extra = {0};
    int rc = parse_study_args(argc, argv, &s, &name, &spec, &model, &variants, &extra);
    if (rc) {
        sv_free(&extra);
        return rc == 1 ? 0 : rc;
    }
    if (name) rc = builtin_study(&s, name, model);
    else rc = spec_study(&s, spec);
    if (!rc && variants) rc = filter_variants(&s, variants);
    if (rc || cli_parse_only) { /* the fuzz target stops after parsing */
        sv_free(&extra);
        study_free(&s);
        return rc ? rc : CLI_PARSED;
    }
    /* base: the study's (or spec's), then the budget and options given here */
    if (name && !s.epochs_given) sv_pushf(&s.base, "--epochs=%d", STUDY_DEFAULT_EPOCHS);
    if (s.epochs_given) sv_pushf(&s.base, "--epochs=%d", s.epochs_given);
    if (s.per_class_train) sv_pushf(&s.base, "--train-per-class=%d", s.per_class_train);
    if (s.per_class_test) sv_pushf(&s.base, "--test-per-class=%d", s.per_class_test);
    if (s.batch) sv_pushf(&s.base, "--batch-size=%d", s.batch);
    if (spec && model) sv_pushf(&s.base, "--model=%s", model);
    sv_append(&s.base, &extra);
    sv_free(&extra);
    if (!s.out[0]) snprintf(s.out, sizeof s.out, "runs/study-%s", s.name);
    ssize_t len = readlink("/proc/self/exe", s.self, sizeof s.self - 1);
    if (len > 0) s.self[len] = 0;
    else snprintf(s.self, sizeof s.self, "%s", g->argv0 ? g->argv0 : "resnet-cl");
    sbuf cmd = {0};
    sb_printf(&cmd, "resnet-cl ");
    sb_args(&cmd, g->argv + 1, g->argc - 1);
    snprintf(s.command, sizeof s.command, "%s", cmd.s);
    free(cmd.s);

    /* runs: every variant x seed */
    s.nruns = s.nv * s.seeds;
    s.runs = calloc((size_t)s.nruns, sizeof *s.runs);
    for (int v = 0, i = 0; v < s.nv; v++)
        for (int k = 0; k < s.seeds; k++, i++) {
            run *r = &s.runs[i];
            r->variant = v;
            r->seed = k;
            sv_append(&r->args, &s.base);
            sv_append(&r->args, &s.v[v].args);
            if (s.seeds > 1) sv_pushf(&r->args, "--seed=%d", k);
            else {
                const char *sd = sv_last_value(&r->args, "--seed");
                if (sd) r->seed = atoi(sd);
            }
            const char *ep = sv_last_value(&r->args, "--epochs");
            r->epochs = 80; /* train's default */
            if (ep && cli_parse_int(ep, 1, 100000, &r->epochs)) {
                fprintf(stderr, "resnet-cl study: bad --epochs '%s'\n", ep);
                study_free(&s);
                return 2;
            }
            if (s.seeds > 1) snprintf(r->dir, sizeof r->dir, "%s/%s-seed%d", s.out, s.v[v].name, k);
            else snprintf(r->dir, sizeof r->dir, "%s/%s", s.out, s.v[v].name);
        }
    if ((rc = validate(&s, g))) {
        study_free(&s);
        return rc;
    }
    if (rcl_mkdir_p(s.out)) {
        fprintf(stderr, "resnet-cl study: cannot create %s: %s\n", s.out, strerror(errno));
        study_free(&s);
        return 1;
    }
    for (int i = 0; i < s.nruns; i++) {
        if (run_check_signature(&s.runs[i])) {
            study_free(&s);
            return 1;
        }
        run_scan(&s.runs[i]);
    }
    device_description(g, &s);
    printf("study %s: %d variant%s x %d seed%s = %d runs on device %s; output in %s\n", s.name, s.nv,
           s.nv == 1 ? "" : "s", s.seeds, s.seeds == 1 ? "" : "s", s.nruns, s.device_desc, s.out);
    write_outputs(&s);
    /* test hook: die after this many runs were trained in this process, as a
     * killed study would */
    const char *kill_after = getenv("RESNET_CL_STUDY_KILL_AFTER");
    int trained = 0, stopped = 0;
    for (int i = 0; i < s.nruns && !stopped; i++) {
        run_scan(&s.runs[i]);
        int skip = s.runs[i].status == RUN_DONE || s.runs[i].status == RUN_DIVERGED;
        stopped = do_run(&s, g, &s.runs[i], i);
        write_outputs(&s);
        if (!skip && kill_after && ++trained >= atoi(kill_after)) raise(SIGKILL);
    }
    int bad = 0;
    for (int i = 0; i < s.nruns; i++) bad += s.runs[i].status == RUN_FAILED;
    printf("study %s: report in %s/report.md\n", s.name, s.out);
    study_free(&s);
    if (stopped) return 130;
    return bad ? 1 : 0;
}
