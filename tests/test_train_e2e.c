/* End to end through the CLI on real CIFAR-10 (the JPEG copy in
 * ../shared/data): the course's one-block model trained for an epoch on a
 * subset must clear 20% test accuracy; eval and predict read its
 * checkpoint; a run stopped after epoch 1 and resumed matches an
 * uninterrupted run bit for bit. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    b[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

static char *tmp_dir(void)
{
    char *d = malloc(64);
    snprintf(d, 64, "/tmp/rcl-e2e-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static int dev(void) { return rcl_ctx_device(T_CTX)->index; }

static void test_basicblock_learns(void **state)
{
    (void)state;
    char *root = tu_cifar_jpeg_root(), *out_dir = tmp_dir(), *out = NULL;
    int rc = tu_run(&out,
                    "--device %d train --model basicblock --data %s --epochs 1 --train-per-class 500 "
                    "--test-per-class 50 --log-interval 10 --out %s",
                    dev(), root, out_dir);
    printf("%s", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "Epoch [1/1], step [50/50] Loss: "));
    const char *t = strstr(out, "Test set: Average loss: ");
    assert_non_null(t);
    float loss = 0;
    int correct = 0, total = 0;
    assert_int_equal(sscanf(t, "Test set: Average loss: %f, Accuracy: %d/%d", &loss, &correct, &total), 3);
    assert_int_equal(total, 500);
    assert_true(correct > 100); /* > 20% (PyTorch reaches ~28% with this recipe) */

    char path[512], args[2048];
    snprintf(path, sizeof path, "%s/log.jsonl", out_dir);
    char *log = read_file(path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "{\"epoch\": 1, \"lr\": 0.001"));
    free(log);

    /* eval on the checkpoint reproduces the test line exactly */
    char *ev = NULL;
    snprintf(args, sizeof args, "--device %d eval --checkpoint %s/last.safetensors --data %s --per-class 50",
             dev(), out_dir, root);
    assert_int_equal(tu_run(&ev, "%s", args), 0);
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(t, "\n"), t);
    assert_non_null(strstr(ev, line));
    free(ev);

    /* predict prints the top-5 classes of a real image */
    char *pr = NULL;
    snprintf(args, sizeof args, "--device %d predict --checkpoint %s/last.safetensors %s/test/ship/0000.jpg",
             dev(), out_dir, root);
    assert_int_equal(tu_run(&pr, "%s", args), 0);
    int pct = 0;
    for (const char *p = pr; (p = strchr(p, '%')); p++) pct++;
    assert_int_equal(pct, 5);
    assert_non_null(strstr(pr, "airplane") || strstr(pr, "ship") || strstr(pr, "truck") ? "ok" : NULL);
    free(pr);
    snprintf(args, sizeof args, "rm -rf %s", out_dir);
    assert_int_equal(system(args), 0);
    free(out);
    free(root);
    free(out_dir);
}

static void test_resume_matches(void **state)
{
    (void)state;
    char *root = tu_cifar_jpeg_root(), *a = tmp_dir(), *b = tmp_dir();
    const char *common = "train --model basicblock --train-per-class 20 --test-per-class 5 --batch-size 50";
    assert_int_equal(tu_run(NULL, "--device %d %s --data %s --epochs 2 --out %s", dev(), common, root, a), 0);
    assert_int_equal(tu_run(NULL, "--device %d %s --data %s --epochs 1 --out %s", dev(), common, root, b), 0);
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", b);
    char *out = NULL;
    assert_int_equal(tu_run(&out, "--device %d %s --data %s --epochs 2 --out %s --resume %s", dev(),
                            common, root, b, ckpt), 0);
    assert_non_null(strstr(out, "resumed from"));
    free(out);
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/last.safetensors", a);
    snprintf(pb, sizeof pb, "%s/last.safetensors", b);
    size_t la, lb;
    char *fa = read_file(pa, &la), *fb = read_file(pb, &lb);
    assert_non_null(fa);
    assert_non_null(fb);
    assert_int_equal(la, lb);
    assert_memory_equal(fa, fb, la); /* weights, BN stats, Adam state, counters, progress */
    free(fa);
    free(fb);
    /* the per-epoch logs agree on everything but the wall time */
    snprintf(pa, sizeof pa, "%s/log.jsonl", a);
    snprintf(pb, sizeof pb, "%s/log.jsonl", b);
    char *la_ = read_file(pa, NULL), *lb_ = read_file(pb, NULL);
    char *sa = strstr(la_, "{\"epoch\": 2"), *sb = strstr(lb_, "{\"epoch\": 2");
    assert_non_null(sa);
    assert_non_null(sb);
    assert_memory_equal(sa, sb, (size_t)(strstr(sa, "\"seconds\"") - sa));
    free(la_);
    free(lb_);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", a, b);
    assert_int_equal(system(cmd), 0);
    free(a);
    free(b);
    free(root);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_resume_matches),
    cmocka_unit_test(test_basicblock_learns),
};

RCL_TEST_MAIN("train_e2e", tests)
