/* Normalization and initialization through the CLI on real CIFAR-10 (the
 * JPEG copy in ../shared/data): a short run of the course's one-block model
 * trains with every --norm kind and every --init scheme (finite loss that
 * falls), and eval on the checkpoint, without --norm / --init on its command
 * line, prints the test line of the run. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dev(void) { return rcl_ctx_device(T_CTX)->index; }

/* Losses of the "step [k/10] Loss: x" lines into l[0..9]. */
static void losses(const char *out, float *l)
{
    for (int k = 1; k <= 10; k++) {
        char key[48];
        snprintf(key, sizeof key, "step [%d/10] Loss: ", k);
        const char *p = strstr(out, key);
        if (!p) fail_msg("no '%s' line in:\n%s", key, out);
        l[k - 1] = strtof(p + strlen(key), NULL);
    }
}

/* Trains 10 steps with `opts`; checks the loss and, when `eval`, that eval
 * reproduces the test line from the checkpoint alone. */
static void run(const char *opts, int eval)
{
    char *root = tu_cifar_jpeg_root(), dir[64] = "/tmp/rcl-norm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *out = NULL;
    int rc = tu_run(&out, "--device %d train --model basicblock --data %s --epochs 1 "
                    "--train-per-class 50 --test-per-class 10 --batch-size 50 --log-interval 1 "
                    "--out %s %s", dev(), root, dir, opts);
    if (rc) fail_msg("train %s failed:\n%s", opts, out);
    float l[10];
    losses(out, l);
    double first = (l[0] + l[1] + l[2]) / 3, last = (l[7] + l[8] + l[9]) / 3;
    printf("  %-24s loss %.4f .. %.4f\n", opts, first, last);
    for (int k = 0; k < 10; k++)
        if (!isfinite(l[k])) fail_msg("%s: step %d loss %g", opts, k + 1, l[k]);
    if (!(last < first)) fail_msg("%s: loss did not fall (%.4f -> %.4f)", opts, first, last);
    if (eval) {
        const char *t = strstr(out, "Test set: Average loss: ");
        assert_non_null(t);
        char line[256], *ev = NULL;
        snprintf(line, sizeof line, "%.*s", (int)strcspn(t, "\n"), t);
        assert_int_equal(tu_run(&ev, "--device %d eval --checkpoint %s/last.safetensors --data %s "
                                "--per-class 10", dev(), dir, root), 0);
        if (!strstr(ev, line)) fail_msg("%s: eval printed\n%s\nnot the run's\n%s", opts, ev, line);
        free(ev);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(out);
    free(root);
}

static void test_every_norm(void **state)
{
    (void)state;
    static const char *const kinds[] = {"gn", "ln", "none", "in", "lrn", "ws", "brn", "bn"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char opts[64];
        snprintf(opts, sizeof opts, "--norm %s", kinds[i]);
        run(opts, i < 3); /* eval from the checkpoint: gn, ln, none */
    }
}

static void test_every_init(void **state)
{
    (void)state;
    static const char *const schemes[] = {"kaiming-normal", "kaiming-uniform", "xavier-normal",
                                          "xavier-uniform", "orthogonal"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        char opts[64];
        snprintf(opts, sizeof opts, "--init %s", schemes[i]);
        run(opts, i == 2);
    }
}

/* summary prints torchvision's parameter counts (10 classes, norm_layer
 * GroupNorm(32, C) / identity + conv bias: see test_norm_model.c) and the
 * groups gn uses per layer */
static void test_summary(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(tu_run(&out, "--device %d summary --model resnet50 --norm gn", dev()), 0);
    assert_non_null(strstr(out, "total parameters: 23528522\n"));
    assert_non_null(strstr(out, "gn groups per layer (requested 32"));
    assert_non_null(strstr(out, "layer1.0.bn1"));
    free(out);
    assert_int_equal(tu_run(&out, "--device %d summary --model resnet50 --norm none", dev()), 0);
    assert_non_null(strstr(out, "total parameters: 23501962\n"));
    free(out);
    assert_int_equal(tu_run(&out, "--device %d summary --model resnet20 --norm gn --groups 12", dev()), 0);
    /* 16 channels: the largest divisor of 16 not above 12 is 8 */
    assert_non_null(strstr(out, "C   16  groups    8"));
    free(out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_summary),
    cmocka_unit_test(test_every_norm),
    cmocka_unit_test(test_every_init),
};

RCL_TEST_MAIN_FAST("train_norm", tests)
