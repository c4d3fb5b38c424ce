/* End to end: a tiny conv net (conv-BN-ReLU-maxpool-linear) trained with
 * Adam for a few dozen steps on one fixed synthetic batch must at least
 * halve its loss. Uses the ops directly, as a C program would. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 8, C = 3, H = 8, W = 8, F = 8, K = 4, STEPS = 40 };

typedef struct tiny_net {
    rcl_tensor w, gw, mw, vw;          /* conv 3x3, F x C x 3 x 3, with bias */
    rcl_tensor b, gb, mb, vb;
    rcl_tensor gamma, ggamma, mgamma, vgamma, beta, gbeta, mbeta, vbeta;
    rcl_tensor rmean, rvar, smean, sinv;
    rcl_tensor fw, gfw, mfw, vfw, fb, gfb, mfb, vfb; /* linear F*4*4 -> K */
    rcl_tensor x, t, a, p, logits, loss, dlogits, dp, da, dt;
    cl_mem idx, labels;
} tiny_net;

static void param(rcl_tensor *v, rcl_tensor *g, rcl_tensor *m, rcl_tensor *s, int n, int c, int h,
                  int w, const float *init)
{
    tu_tensor(v, n, c, h, w, init);
    tu_tensor(g, n, c, h, w, NULL);
    tu_tensor(m, n, c, h, w, NULL);
    tu_tensor(s, n, c, h, w, NULL);
}

static void test_tiny_net_learns(void **state)
{
    (void)state;
    tiny_net z;
    tu_rng r = tu_rng_seed(42);
    float wconv[F * C * 9], bconv[F], fcw[K * F * 16], fcb[K], ones[F], zeros[F];
    tu_fill(&r, wconv, F * C * 9, -0.3, 0.3);
    tu_fill(&r, bconv, F, -0.1, 0.1);
    tu_fill(&r, fcw, K * F * 16, -0.1, 0.1);
    tu_fill(&r, fcb, K, -0.1, 0.1);
    for (int i = 0; i < F; i++) ones[i] = 1, zeros[i] = 0;
    param(&z.w, &z.gw, &z.mw, &z.vw, F, C, 3, 3, wconv);
    param(&z.b, &z.gb, &z.mb, &z.vb, F, 1, 1, 1, bconv);
    param(&z.gamma, &z.ggamma, &z.mgamma, &z.vgamma, F, 1, 1, 1, ones);
    param(&z.beta, &z.gbeta, &z.mbeta, &z.vbeta, F, 1, 1, 1, zeros);
    param(&z.fw, &z.gfw, &z.mfw, &z.vfw, K, F * 16, 1, 1, fcw);
    param(&z.fb, &z.gfb, &z.mfb, &z.vfb, K, 1, 1, 1, fcb);
    tu_tensor(&z.rmean, F, 1, 1, 1, zeros);
    tu_tensor(&z.rvar, F, 1, 1, 1, ones);
    tu_tensor(&z.smean, F, 1, 1, 1, NULL);
    tu_tensor(&z.sinv, F, 1, 1, 1, NULL);

    float *xin = malloc(N * C * H * W * sizeof *xin);
    tu_fill(&r, xin, N * C * H * W, 0, 1);
    int lab[N];
    for (int i = 0; i < N; i++) lab[i] = i % K;
    tu_tensor(&z.x, N, C, H, W, xin);
    tu_tensor(&z.t, N, F, H, W, NULL);
    tu_tensor(&z.a, N, F, H, W, NULL);
    tu_tensor(&z.p, N, F, 4, 4, NULL);
    tu_tensor(&z.dp, N, F, 4, 4, NULL);
    tu_tensor(&z.da, N, F, H, W, NULL);
    tu_tensor(&z.dt, N, F, H, W, NULL);
    tu_tensor(&z.logits, N, K, 1, 1, NULL);
    tu_tensor(&z.dlogits, N, K, 1, 1, NULL);
    tu_tensor(&z.loss, 1, 1, 1, 1, NULL);
    T_OK(rcl_buffer_create(T_CTX, &z.idx, (size_t)N * F * 16 * sizeof(int)));
    z.labels = tu_ibuf(lab, N);

    rcl_conv2d_desc cd = {3, 3, 1, 1, 1, 1};
    rcl_pool_desc pd = {2, 2, 0};
    rcl_adam_hparams hp = rcl_adam_defaults();
    hp.lr = 0.01f;
    rcl_tensor *pv[] = {&z.w, &z.b, &z.gamma, &z.beta, &z.fw, &z.fb};
    rcl_tensor *pg[] = {&z.gw, &z.gb, &z.ggamma, &z.gbeta, &z.gfw, &z.gfb};
    rcl_tensor *pm[] = {&z.mw, &z.mb, &z.mgamma, &z.mbeta, &z.mfw, &z.mfb};
    rcl_tensor *ps[] = {&z.vw, &z.vb, &z.vgamma, &z.vbeta, &z.vfw, &z.vfb};
    float first = 0, last = 0;
    for (int step = 1; step <= STEPS; step++) {
        T_OK(rcl_conv2d_forward(T_CTX, &z.t, &z.x, &z.w, &z.b, &cd));
        T_OK(rcl_batchnorm_forward_train(T_CTX, &z.a, &z.smean, &z.sinv, &z.rmean, &z.rvar, &z.t,
                                         &z.gamma, &z.beta, 0.1f, 1e-5f));
        T_OK(rcl_relu_forward(T_CTX, &z.a, &z.a));
        T_OK(rcl_maxpool2d_forward(T_CTX, &z.p, z.idx, &z.a, &pd));
        T_OK(rcl_linear_forward(T_CTX, &z.logits, &z.p, &z.fw, &z.fb));
        T_OK(rcl_softmax_xent(T_CTX, &z.loss, &z.dlogits, NULL, &z.logits, z.labels));
        float l;
        T_OK(rcl_tensor_read(T_CTX, &z.loss, &l));
        assert_true(isfinite(l));
        if (step == 1) first = l;
        last = l;
        T_OK(rcl_linear_backward(T_CTX, &z.dp, &z.gfw, &z.gfb, &z.dlogits, &z.p, &z.fw));
        T_OK(rcl_maxpool2d_backward(T_CTX, &z.da, &z.dp, z.idx, &pd));
        T_OK(rcl_relu_backward(T_CTX, &z.da, &z.da, &z.a));
        T_OK(rcl_batchnorm_backward(T_CTX, &z.dt, &z.ggamma, &z.gbeta, &z.da, &z.t, &z.gamma,
                                    &z.smean, &z.sinv));
        T_OK(rcl_conv2d_backward(T_CTX, NULL, &z.gw, &z.gb, &z.dt, &z.x, &z.w, &cd));
        for (int i = 0; i < 6; i++) T_OK(rcl_adam_step(T_CTX, pv[i], pg[i], pm[i], ps[i], &hp, step));
    }
    printf("  tiny net: loss %.4f -> %.4f after %d steps\n", first, last, STEPS);
    assert_true(last < 0.5f * first);

    rcl_tensor *all[] = {&z.w, &z.gw, &z.mw, &z.vw, &z.b, &z.gb, &z.mb, &z.vb, &z.gamma, &z.ggamma,
                         &z.mgamma, &z.vgamma, &z.beta, &z.gbeta, &z.mbeta, &z.vbeta, &z.rmean,
                         &z.rvar, &z.smean, &z.sinv, &z.fw, &z.gfw, &z.mfw, &z.vfw, &z.fb, &z.gfb,
                         &z.mfb, &z.vfb, &z.x, &z.t, &z.a, &z.p, &z.logits, &z.loss, &z.dlogits,
                         &z.dp, &z.da, &z.dt};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rcl_tensor_destroy(all[i]);
    rcl_buffer_release(&z.idx);
    rcl_buffer_release(&z.labels);
    free(xin);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tiny_net_learns),
};

RCL_TEST_MAIN("e2e_tiny", tests)
