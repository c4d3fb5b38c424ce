/* `resnet-cl study` through the CLI on real CIFAR-10 (the JPEG copy in
 * ../shared/data), tiny budgets: a built-in study restricted to two
 * variants writes report.md, results.csv and the plots (SVG well-formed,
 * PNG of the asked size); a study killed after its first run, rerun with the
 * same command, skips that run and trains the other; rerun with more epochs,
 * it resumes both. A --spec file with seeds reports mean ± std, and a
 * diverging variant is recorded as diverged while the study goes on. With
 * RESNET_CL_STUDY_SMOKE=1 (.ci/run): every built-in study, every variant. */
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dev(void) { return rcl_ctx_device(T_CTX)->index; }

/* dir/name's whole text (tu_read_file), or NULL */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return tu_read_file(path, len);
}

static int exists(const char *dir, const char *name)
{
    char path[1300];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* A small XML well-formedness check: every element closed in order, quoted
 * attributes, comments / processing instructions / CDATA / DOCTYPE skipped,
 * one root element, nothing but white space around it. 1 if well-formed. */
static int xml_well_formed(const char *s)
{
    char stack[64][64];
    int depth = 0, roots = 0;
    const char *p = s;
    while (*p) {
        if (*p != '<') {
            if (depth == 0 && !strchr(" \t\r\n", *p)) return 0;
            p++;
            continue;
        }
        if (!strncmp(p, "<?", 2)) {
            if (!(p = strstr(p, "?>"))) return 0;
            p += 2;
        } else if (!strncmp(p, "<!--", 4)) {
            if (!(p = strstr(p, "-->"))) return 0;
            p += 3;
        } else if (!strncmp(p, "<![CDATA[", 9)) {
            if (!(p = strstr(p, "]]>"))) return 0;
            p += 3;
        } else if (!strncmp(p, "<!", 2)) { /* DOCTYPE, possibly with [ ... ] */
            int br = 0;
            for (p += 2; *p && (br || *p != '>'); p++) br += (*p == '[') - (*p == ']');
            if (!*p++) return 0;
        } else if (p[1] == '/') {
            p += 2;
            size_t n = strcspn(p, " \t\r\n>");
            if (depth == 0 || strlen(stack[depth - 1]) != n || strncmp(stack[depth - 1], p, n)) return 0;
            depth--;
            if (!(p = strchr(p, '>'))) return 0;
            p++;
        } else {
            p++;
            size_t n = strcspn(p, " \t\r\n/>");
            if (n == 0 || n >= 64 || depth >= 64) return 0;
            if (depth == 0 && roots++) return 0;
            snprintf(stack[depth], sizeof stack[depth], "%.*s", (int)n, p);
            p += n;
            for (; *p && *p != '>'; p++) { /* attributes */
                if (*p == '"' || *p == '\'') {
                    const char *q = strchr(p + 1, *p);
                    if (!q) return 0;
                    p = q;
                } else if (*p == '<') return 0;
            }
            if (!*p) return 0;
            if (p[-1] != '/') depth++;
            p++;
        }
    }
    return depth == 0 && roots == 1;
}

static void check_svg(const char *dir, const char *name)
{
    char *svg = slurp(dir, name, NULL);
    assert_non_null(svg);
    const char *start = svg + strspn(svg, " \t\r\n");
    assert_true(!strncmp(start, "<?xml", 5) || !strncmp(start, "<svg", 4));
    size_t n = strlen(svg);
    while (n && strchr(" \t\r\n", svg[n - 1])) n--;
    assert_true(n >= 6 && !strncmp(svg + n - 6, "</svg>", 6));
    if (!xml_well_formed(svg)) fail_msg("%s/%s is not well-formed XML", dir, name);
    free(svg);
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void check_png(const char *dir, const char *name, uint32_t w, uint32_t h)
{
    size_t len = 0;
    unsigned char *png = (unsigned char *)slurp(dir, name, &len);
    assert_non_null(png);
    assert_true(len > 33);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    assert_memory_equal(png + 12, "IHDR", 4);
    assert_int_equal(be32(png + 16), w);
    assert_int_equal(be32(png + 20), h);
    free(png);
}

/* The report's row of `variant` (its line, malloc'd). */
static char *row(const char *report, const char *variant)
{
    char key[80];
    snprintf(key, sizeof key, "\n| %s | ", variant);
    const char *p = strstr(report, key);
    if (!p) fail_msg("no row for %s in:\n%s", variant, report);
    p++;
    size_t n = strcspn(p, "\n");
    char *r = malloc(n + 1);
    memcpy(r, p, n);
    r[n] = 0;
    return r;
}

static int plots_drawn(const char *report)
{
    if (strstr(report, "gnuplot was not found")) {
        printf("  note: gnuplot is not installed (apt-get install gnuplot-nox): plots not checked\n");
        return 0;
    }
    return 1;
}

static void test_study_norm_resume(void **state)
{
    (void)state;
    char *root = tu_cifar_jpeg_root(), dir[64] = "/tmp/rcl-study-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char args[2048];
    snprintf(args, sizeof args,
             "--device %d study norm --model basicblock --train-per-class 10 --test-per-class 5 "
             "--batch-size 50 --variants bn,gn --data %s --out %s", dev(), root, dir);
    char *out = NULL;

    /* killed after its first run (the test hook raises SIGKILL) */
    setenv("RESNET_CL_STUDY_KILL_AFTER", "1", 1);
    int rc = tu_run(&out, "%s --epochs 1", args);
    unsetenv("RESNET_CL_STUDY_KILL_AFTER");
    printf("%s", out);
    assert_int_not_equal(rc, 0);
    assert_true(exists(dir, "bn/log.jsonl"));
    assert_false(exists(dir, "gn/log.jsonl"));
    char *rep = slurp(dir, "report.md", NULL);
    assert_non_null(rep);
    assert_non_null(strstr(rep, "1 of 2 runs finished"));
    free(rep);
    free(out);

    /* rerun: bn is skipped, gn trained */
    rc = tu_run(&out, "%s --epochs 1", args);
    printf("%s", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "[1/2] bn: already done"));
    assert_non_null(strstr(out, "[2/2] gn: training"));
    free(out);
    rep = slurp(dir, "report.md", NULL);
    assert_non_null(rep);
    assert_non_null(strstr(rep, "# Study: norm"));
    assert_non_null(strstr(rep, "study norm --model basicblock")); /* the command line */
    assert_non_null(strstr(rep, "resnet-cl commit: "));
    assert_non_null(strstr(rep, "device: "));
    assert_non_null(strstr(rep, "1 epoch per run"));
    assert_non_null(strstr(rep, "2 of 2 runs finished, 0 diverged, 0 failed"));
    for (int v = 0; v < 2; v++) {
        char *r = row(rep, v ? "gn" : "bn");
        assert_non_null(strstr(r, "% | ")); /* accuracies */
        assert_non_null(strstr(r, " | 1/1 | "));
        assert_non_null(strstr(r, " | no |"));
        free(r);
    }
    int drawn = plots_drawn(rep);
    free(rep);
    char *csv = slurp(dir, "results.csv", NULL);
    assert_non_null(csv);
    assert_int_equal(strncmp(csv, "variant,seed,epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds\n", 70), 0);
    assert_int_equal(count_lines(csv), 3);
    assert_non_null(strstr(csv, "\nbn,0,1,"));
    assert_non_null(strstr(csv, "\ngn,0,1,"));
    free(csv);
    /* the loss per step: 2 steps an epoch, one window (the epoch's rest) */
    csv = slurp(dir, "steps.csv", NULL);
    assert_non_null(csv);
    assert_int_equal(strncmp(csv, "variant,seed,epoch,step,global_step,train_loss\nbn,0,1,2,2,", 58), 0);
    assert_int_equal(count_lines(csv), 3);
    assert_non_null(strstr(csv, "\ngn,0,1,2,2,"));
    free(csv);
    char *gp = slurp(dir, "plots.gp", NULL);
    assert_non_null(gp);
    assert_non_null(strstr(gp, "train loss per step"));
    assert_non_null(strstr(gp, "set xlabel 'step'"));
    free(gp);
    assert_true(exists(dir, "plots.gp"));
    if (drawn) {
        check_svg(dir, "test_acc.svg");
        check_svg(dir, "train_loss.svg");
        check_png(dir, "test_acc.png", 900, 560);
        check_png(dir, "train_loss.png", 900, 560);
    }

    /* more epochs: both runs are continued from their checkpoints */
    rc = tu_run(&out, "%s --epochs 2", args);
    printf("%s", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "[1/2] bn: resuming"));
    assert_non_null(strstr(out, "[2/2] gn: resuming"));
    free(out);
    char *tl = slurp(dir, "gn/train.log", NULL);
    assert_non_null(tl);
    assert_non_null(strstr(tl, "resumed from"));
    free(tl);
    csv = slurp(dir, "results.csv", NULL);
    assert_int_equal(count_lines(csv), 5);
    assert_non_null(strstr(csv, "\ngn,0,2,"));
    free(csv);
    csv = slurp(dir, "steps.csv", NULL);
    assert_int_equal(count_lines(csv), 5);
    assert_non_null(strstr(csv, "\ngn,0,2,2,4,"));
    free(csv);

    /* a copy without checkpoints (the logs of a run committed elsewhere):
     * finished runs are still skipped; one with some epochs logged but no
     * checkpoint starts over */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm %s/*/*.safetensors && head -n 1 %s/gn/log.jsonl > %s/gn/l && "
                              "mv %s/gn/l %s/gn/log.jsonl", dir, dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    rc = tu_run(&out, "%s --epochs 2", args);
    printf("%s", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "[1/2] bn: already done (2 epochs logged)"));
    assert_non_null(strstr(out, "gn: 1 epoch logged but no "));
    assert_non_null(strstr(out, "starting the run over"));
    assert_non_null(strstr(out, "[2/2] gn: training"));
    free(out);
    csv = slurp(dir, "steps.csv", NULL);
    assert_int_equal(count_lines(csv), 5);
    free(csv);
    rep = slurp(dir, "report.md", NULL);
    char *r = row(rep, "bn");
    assert_non_null(strstr(r, " | 2/2 | "));
    free(r);
    free(rep);

    /* a bad train option is refused before any training */
    rc = tu_run(&out, "%s --epochs 1 --norm nope", args);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "bad value 'nope' for --norm"));
    free(out);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    assert_int_equal(system(args), 0);
    free(root);
}

static void test_study_spec_seeds_diverged(void **state)
{
    (void)state;
    char *root = tu_cifar_jpeg_root(), dir[64] = "/tmp/rcl-study-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char spec[600];
    snprintf(spec, sizeof spec, "%s/grid.txt", dir);
    FILE *f = fopen(spec, "w");
    assert_non_null(f);
    fprintf(f, "# three variants\nname: grid\nbase: --model basicblock --epochs 1\n"
               "base: --train-per-class 10 --test-per-class 5\n\n"
               "variant adam: --optimizer adam\n"
               "variant blowup: --optimizer sgd --lr 1e30\n"
               "variant same:\n");
    fclose(f);
    char *out = NULL;
    int rc = tu_run(&out, "--device %d study --spec %s --seeds 2 --batch-size 50 --data %s --out %s/out",
                    dev(), spec, root, dir);
    printf("%s", out);
    assert_int_equal(rc, 0); /* a diverged variant does not fail the study */
    assert_non_null(strstr(out, "blowup seed 0: diverged at epoch 1"));
    free(out);
    char od[600];
    snprintf(od, sizeof od, "%s/out", dir);
    assert_true(exists(od, "adam-seed0/log.jsonl"));
    assert_true(exists(od, "adam-seed1/log.jsonl"));
    char *rep = slurp(od, "report.md", NULL);
    assert_non_null(rep);
    assert_non_null(strstr(rep, "# Study: grid"));
    assert_non_null(strstr(rep, "seeds 0..1 per variant"));
    char *r = row(rep, "adam");
    assert_non_null(strstr(r, "±"));
    assert_non_null(strstr(r, " | no |"));
    free(r);
    r = row(rep, "blowup");
    assert_non_null(strstr(r, "2 of 2 seeds (epoch 1, 1)"));
    free(r);
    r = row(rep, "same"); /* a variant of no options of its own: the base alone */
    assert_non_null(strstr(r, "| same | (none: the base) |"));
    free(r);
    free(rep);
    char *csv = slurp(od, "results.csv", NULL);
    assert_int_equal(count_lines(csv), 5); /* header + adam's and same's two seeds each */
    free(csv);

    /* rerun: everything is skipped, the diverged runs too */
    rc = tu_run(&out, "--device %d study --spec %s --seeds 2 --batch-size 50 --data %s --out %s/out",
                dev(), spec, root, dir);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "adam seed 1: already done"));
    assert_non_null(strstr(out, "blowup seed 1: diverged before"));
    free(out);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(root);
}

/* Every built-in study, every variant, on a tiny subset for one short
 * epoch: the report (a row per variant), the CSV and both plot formats.
 * Run by .ci/run (RESNET_CL_STUDY_SMOKE=1); the main test command skips it
 * to stay within its time budget (23 training runs, about a minute). */
static void test_study_builtins(void **state)
{
    (void)state;
    const char *on = getenv("RESNET_CL_STUDY_SMOKE");
    if (!on || strcmp(on, "1")) {
        printf("  skipped: every built-in study runs in .ci/run (RESNET_CL_STUDY_SMOKE=1)\n");
        skip();
    }
    static const struct {
        const char *name;
        int n;
        const char *variants[8];
    } studies[] = {
        {"norm", 8, {"bn", "gn", "ln", "in", "lrn", "brn", "ws", "none"}},
        {"init", 8, {"xavier-normal-bn", "xavier-normal-none", "kaiming-normal-bn",
                     "kaiming-normal-none", "xavier-uniform-bn", "xavier-uniform-none",
                     "kaiming-uniform-bn", "kaiming-uniform-none"}},
        {"depth", 3, {"resnet18", "resnet34", "resnet50"}},
        {"plain", 4, {"plain20", "plain56", "resnet20", "resnet56"}},
    };
    char *root = tu_cifar_jpeg_root(), dir[64] = "/tmp/rcl-studies-XXXXXX", out_dir[128];
    assert_non_null(mkdtemp(dir));
    for (size_t k = 0; k < sizeof studies / sizeof studies[0]; k++) {
        snprintf(out_dir, sizeof out_dir, "%s/%s", dir, studies[k].name);
        char *out = NULL;
        int rc = tu_run(&out, "--device %d study %s --train-per-class 4 --test-per-class 2 "
                        "--epochs 1 --batch-size 4 --data %s --out %s", dev(), studies[k].name,
                        root, out_dir);
        if (rc != 0) fail_msg("study %s: rc %d\n%s", studies[k].name, rc, out);
        free(out);
        char *rep = slurp(out_dir, "report.md", NULL), want[128];
        assert_non_null(rep);
        snprintf(want, sizeof want, "# Study: %s", studies[k].name);
        assert_non_null(strstr(rep, want));
        snprintf(want, sizeof want, "%d of %d runs finished, 0 diverged, 0 failed", studies[k].n,
                 studies[k].n);
        if (!strstr(rep, want)) fail_msg("study %s: want '%s' in\n%s", studies[k].name, want, rep);
        for (int v = 0; v < studies[k].n; v++) free(row(rep, studies[k].variants[v]));
        int drawn = plots_drawn(rep);
        free(rep);
        char *csv = slurp(out_dir, "results.csv", NULL);
        assert_non_null(csv);
        assert_int_equal(count_lines(csv), studies[k].n + 1);
        free(csv);
        if (drawn) {
            check_svg(out_dir, "test_acc.svg");
            check_svg(out_dir, "train_loss.svg");
            check_png(out_dir, "test_acc.png", 900, 560);
            check_png(out_dir, "train_loss.png", 900, 560);
        }
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(root);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_study_norm_resume),
    cmocka_unit_test(test_study_spec_seeds_diverged),
    cmocka_unit_test(test_study_builtins),
};

RCL_TEST_MAIN_FAST("train_study", tests)
