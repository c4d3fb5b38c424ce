/* GEMM shapes of a resnet18 training step (tuner, bench) and the shapes
 * file parser; the GEMM shape classes. No device needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tools/gemm_tools.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const rcl_gemm_shape *find(const rcl_gemm_shape *s, int n, int ta, int tb, int M, int N,
                                  int K)
{
    for (int i = 0; i < n; i++)
        if (s[i].ta == ta && s[i].tb == tb && s[i].M == M && s[i].N == N && s[i].K == K)
            return &s[i];
    return NULL;
}

static double step_flops(const rcl_gemm_shape *s, int n)
{
    double f = 0;
    for (int i = 0; i < n; i++) f += rcl_gemm_flops(&s[i]) * s[i].count;
    return f;
}

static void test_resnet18_cifar_b100(void **state)
{
    (void)state;
    rcl_gemm_shape s[256];
    int n = 0;
    assert_int_equal(rcl_gemm_shapes_resnet18(256, 0, 100, 32, 10, s, 256, &n), RCL_OK);
    /* stem 7x7/2 on 32x32 -> 16x16: the weight gradient's GEMM only (the
     * forward on the direct kernel, no data gradient) */
    assert_null(find(s, n, 0, 0, 64, 25600, 147));
    const rcl_gemm_shape *x = find(s, n, 0, 1, 64, 147, 25600);
    assert_non_null(x);
    assert_int_equal(x->count, 1);
    assert_null(find(s, n, 1, 0, 147, 25600, 64));
    /* layer1: four 3x3 64->64 convs at 8x8, on the direct kernels by the
     * default rule (conv.DIRECT_MAX_C 64): no GEMM */
    assert_null(find(s, n, 0, 0, 64, 6400, 576));
    assert_null(find(s, n, 1, 0, 576, 6400, 64));
    assert_null(find(s, n, 0, 1, 64, 576, 6400));
    /* layer2.0: 3x3/2 64->128 (8x8 -> 4x4), 1x1/2 projection, then 3 convs 128->128 */
    assert_non_null(find(s, n, 0, 0, 128, 1600, 576));
    assert_non_null(find(s, n, 0, 0, 128, 1600, 64));
    x = find(s, n, 0, 0, 128, 1600, 1152);
    assert_non_null(x);
    assert_int_equal(x->count, 3);
    /* layer3 at 2x2 and layer4 at 1x1 run as dense GEMMs on the full
     * kernel (rcl_conv_is_dense, conv2d_dense.c): y = x D^T (NN, M = batch,
     * N = OC*P, K = C*Q), dx = sum_p dy_p D_p (NN, K = OC, one per output
     * pixel), dD = dy^T x (TN); no 2304- or 4608-deep im2col GEMMs.
     * layer3's three 256 -> 256 3x3 convs: D is 1024 x 1024 */
    assert_null(find(s, n, 0, 0, 256, 400, 2304));
    x = find(s, n, 0, 0, 100, 1024, 1024);
    assert_non_null(x);
    assert_int_equal(x->count, 3);
    x = find(s, n, 0, 0, 100, 1024, 256);
    assert_non_null(x);
    assert_int_equal(x->count, 12);
    x = find(s, n, 1, 0, 1024, 1024, 100);
    assert_non_null(x);
    assert_int_equal(x->count, 3);
    /* layer4's three 3x3 convs on 1x1 maps (D 512 x 512: their centre
     * taps) and layer4.0.conv1 (2x2 -> 1x1, stride 2: D 512 x 1024) */
    assert_null(find(s, n, 0, 0, 512, 100, 4608));
    x = find(s, n, 0, 0, 100, 512, 512);
    assert_non_null(x);
    assert_int_equal(x->count, 6);
    assert_non_null(find(s, n, 0, 0, 100, 512, 1024));
    assert_non_null(find(s, n, 1, 0, 512, 1024, 100));
    /* its 1x1 stride-2 projection reads one pixel of 4: im2col + GEMM */
    assert_non_null(find(s, n, 0, 0, 512, 100, 256));
    /* fc 512 -> 10 as src/linear.c calls it */
    assert_non_null(find(s, n, 0, 1, 100, 10, 512));
    assert_non_null(find(s, n, 0, 0, 100, 512, 10));
    assert_non_null(find(s, n, 1, 0, 10, 512, 100));
    assert_int_equal(n, 30);
    /* 3 x forward conv flops minus the stem's forward and data grad,
     * layer1, the dead taps and layer3's dense saving (4 of 9 taps per
     * output), plus fc */
    double f = step_flops(s, n);
    assert_true(f > 8.5e9 && f < 9.5e9);
}

/* a small column budget splits the batch into chunks as src/conv2d.c does:
 * more and smaller GEMMs, the same work but for layer3's dense convs (their
 * D outgrows the budget) and layer1's weight and data gradients, which go
 * back to GEMMs (the direct path's partial sums and
 * flipped weights, 64 x 576 floats, outgrow the 1 MiB chunk's reordered
 * output, 64 x 7 x 64) */
static void test_chunking(void **state)
{
    (void)state;
    rcl_gemm_shape a[256], b[256];
    int na = 0, nb = 0;
    assert_int_equal(rcl_gemm_shapes_resnet18(256, 0, 100, 32, 10, a, 256, &na), RCL_OK);
    assert_int_equal(rcl_gemm_shapes_resnet18(1, 0, 100, 32, 10, b, 256, &nb), RCL_OK);
    assert_true(nb > na);
    double fa = step_flops(a, na), fb = step_flops(b, nb);
    double layer1_pass = 4 * 2.0 * 64 * 576 * 6400; /* one pass of its 4 convs */
    /* layer3's three dense convs (D 4 MiB) go back to im2col + GEMM: every
     * pass K = 2304 over 400 columns instead of K = 1024 over 1024 */
    double layer3_back = 9 * (2.0 * 256 * 2304 * 400 - 2.0 * 100 * 1024 * 1024);
    assert_true(fabs(fa + 2 * layer1_pass + layer3_back - fb) < 1e-9 * fa);
    /* stem: 150528 bytes of col per image -> 6 images per chunk, 17 chunks
     * (16 of 6, one of 4) of its weight gradient (its forward: the direct
     * kernel, whose padded chunk fits) */
    const rcl_gemm_shape *x = find(b, nb, 0, 1, 64, 147, 6 * 256);
    assert_non_null(x);
    assert_int_equal(x->count, 16);
    assert_non_null(find(b, nb, 0, 1, 64, 147, 4 * 256));
    assert_null(find(b, nb, 0, 0, 64, 6 * 256, 147));
    /* max_alloc below the budget limits the chunk too */
    assert_int_equal(rcl_gemm_shapes_resnet18(256, 1 << 20, 100, 32, 10, b, 256, &nb), RCL_OK);
    assert_non_null(find(b, nb, 0, 1, 64, 147, 6 * 256));
    assert_int_equal(rcl_gemm_shapes_resnet18(256, 0, 0, 32, 10, b, 256, &nb), RCL_ERR_INVALID);
    assert_int_equal(rcl_gemm_shapes_resnet18(256, 0, 100, 32, 10, b, 3, &nb), RCL_ERR_INVALID);
}

static void test_shapes_file(void **state)
{
    (void)state;
    char path[] = "/tmp/rcl-shapes-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# TA TB M N K count\n0 0 64 6400 576 4\n\n0 1 64 576 6400  # default count 1\n"
               "0 0 64 6400 576 2\n");
    fclose(f);
    rcl_gemm_shape s[8];
    int n = 0;
    assert_int_equal(rcl_gemm_shapes_file(path, s, 8, &n), RCL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(s[0].count, 6); /* merged */
    assert_int_equal(s[1].tb, 1);
    assert_int_equal(s[1].count, 1);
    f = fopen(path, "w");
    fprintf(f, "0 0 64 6400\n");
    fclose(f);
    assert_int_equal(rcl_gemm_shapes_file(path, s, 8, &n), RCL_ERR_FORMAT);
    f = fopen(path, "w");
    fprintf(f, "2 0 1 1 1\n");
    fclose(f);
    assert_int_equal(rcl_gemm_shapes_file(path, s, 8, &n), RCL_ERR_FORMAT);
    f = fopen(path, "w");
    fprintf(f, "# nothing\n");
    fclose(f);
    assert_int_equal(rcl_gemm_shapes_file(path, s, 8, &n), RCL_ERR_FORMAT);
    remove(path);
    assert_int_equal(rcl_gemm_shapes_file(path, s, 8, &n), RCL_ERR_IO);
}

static void test_classes(void **state)
{
    (void)state;
    char c[48];
    assert_string_equal(rcl_gemm_class(0, 0, 64, 25600, 147, c, sizeof c), "NN_m6_n13_k7");
    assert_string_equal(rcl_gemm_class(1, 1, 1, 1, 1, c, sizeof c), "TT_m0_n0_k0");
    /* same bucket within a power of two, capped at 2^13 */
    assert_string_equal(rcl_gemm_class(0, 1, 127, 100000, 64, c, sizeof c), "NT_m6_n13_k6");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet18_cifar_b100),
        cmocka_unit_test(test_chunking),
        cmocka_unit_test(test_shapes_file),
        cmocka_unit_test(test_classes),
    };
    return cmocka_run_group_tests_name("host_gemm_shapes", tests, NULL, NULL);
}
