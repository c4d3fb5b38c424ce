/* Tunables on a device: a fresh context holds the defaults of
 * src/runtime/tunables.def, and every kernel file of the table is compiled
 * with -D<PARAM>=<that default> (WG-type values after rcl_wg_clamp) when
 * nothing overrides it; rcl_ctx_set_param by name lands in the slot the
 * library reads by id. */
#include "harness.h"
#include "gemm/gemm_params.h"
#include "ops/conv2d_chunk.h"
#include "runtime/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of -D<name>= in `options`, or -1 when absent. */
static long option_value(const char *options, const char *name)
{
    char want[64];
    int n = snprintf(want, sizeof want, "-D%s=", name);
    for (const char *p = strstr(options, want); p; p = strstr(p + 1, want))
        if (p == options || p[-1] == ' ') return strtol(p + n, NULL, 10);
    return -1;
}

static int is_wg(const char *param)
{
    size_t n = strlen(param);
    return n >= 2 && !strcmp(param + n - 2, "WG");
}

/* Build every kernel file of the table on ctx: a resnet18 training step
 * (conv/im2col, BN with its fused ReLU, max and average pooling, add,
 * linear/bias, softmax-xent, Adam), an SGD step, a transpose, a panel
 * packing, the separate ReLU and the norm ops outside the default model
 * (each forward and backward), and a conv through Winograd (conv_wino.cl:
 * on by default only on CPU drivers; turned on for it, then restored). */
static void run_everything(rcl_ctx *ctx)
{
    rcl_model_config mc = rcl_model_config_default();
    mc.batch = 2;
    mc.in_h = mc.in_w = 32;
    mc.num_classes = 10;
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, ctx, "resnet18", &mc));
    rcl_batch b = {0};
    T_OK(rcl_batch_init(&b, m));
    size_t nx = rcl_tensor_count(&b.x);
    for (size_t i = 0; i < nx; i++) b.host_x[i] = (float)(i % 17) / 17.0f;
    for (int i = 0; i < mc.batch; i++) b.host_labels[i] = i;
    T_OK(rcl_batch_upload(&b, ctx, mc.batch));
    rcl_optimizer opt;
    rcl_step_result r;
    T_OK(rcl_optimizer_init(&opt, m, RCL_OPTIM_ADAM, NULL, NULL));
    T_OK(rcl_train_step(m, &opt, &b, mc.batch, &r));
    rcl_sgd_hparams sgd = {.lr = 0.01f, .momentum = 0.9f};
    T_OK(rcl_optimizer_init(&opt, m, RCL_OPTIM_SGD, NULL, &sgd));
    T_OK(rcl_optimizer_step(&opt));
    cl_mem in, out;
    T_OK(rcl_scratch(ctx, RCL_SCRATCH_TMP, 64 * sizeof(float), &in));
    T_OK(rcl_scratch(ctx, RCL_SCRATCH_RED, 64 * sizeof(float), &out));
    T_OK(rcl_transpose(ctx, out, in, 0, 8, 8, 8));
    {
        int path = rcl_tun(ctx, RCL_TUN_CONV_PATH), wino = rcl_tun(ctx, RCL_TUN_CONV_WINOGRAD);
        T_OK(rcl_ctx_set_param(ctx, "conv", "PATH", RCL_CONV_PATH_DIRECT));
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
        rcl_tensor cx, cw, cy;
        T_OK(rcl_tensor_create(ctx, &cx, 16, 4, 8, 8));
        T_OK(rcl_tensor_create(ctx, &cw, 4, 4, 3, 3));
        T_OK(rcl_tensor_create(ctx, &cy, 16, 4, 8, 8));
        T_OK(rcl_tensor_fill(ctx, &cx, 0.5f));
        T_OK(rcl_tensor_fill(ctx, &cw, 0.25f));
        T_OK(rcl_conv2d_forward(ctx, &cy, &cx, &cw, NULL, &(rcl_conv2d_desc){3, 3, 1, 1, 1, 1}));
        rcl_tensor_destroy(&cx), rcl_tensor_destroy(&cw), rcl_tensor_destroy(&cy);
        T_OK(rcl_ctx_set_param(ctx, "conv", "PATH", path));
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", wino));
    }
    T_OK(rcl_pack_panels(ctx, out, in, 0, 8, 0, 8, 8, 4));
    /* ops outside the model: Batch Renormalization (batchrenorm.cl) */
    {
        rcl_tensor x, y, v[8];
        T_OK(rcl_tensor_create(ctx, &x, 2, 3, 2, 2));
        T_OK(rcl_tensor_create(ctx, &y, 2, 3, 2, 2));
        for (int i = 0; i < 8; i++) T_OK(rcl_tensor_create(ctx, &v[i], 3, 1, 1, 1));
        T_OK(rcl_tensor_fill(ctx, &x, 1.0f));
        for (int i = 0; i < 8; i++) T_OK(rcl_tensor_fill(ctx, &v[i], 1.0f));
        T_OK(rcl_batchrenorm_forward_train(ctx, &y, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &x,
                                           &v[6], &v[7], 0.1f, 1e-5f, 3.0f, 5.0f));
        T_OK(rcl_batchrenorm_backward(ctx, &y, &v[4], &v[5], &x, &x, &v[6], &v[0], &v[1], &v[2],
                                      &v[3]));
        rcl_tensor_destroy(&x);
        rcl_tensor_destroy(&y);
        for (int i = 0; i < 8; i++) rcl_tensor_destroy(&v[i]);
    }
    /* GroupNorm (rcl/norm.h; not in the default model): forward and backward */
    rcl_tensor gx, gy, gdx, gv, gdv, gm, gi;
    T_OK(rcl_tensor_create(ctx, &gx, 2, 4, 3, 3));
    T_OK(rcl_tensor_create(ctx, &gy, 2, 4, 3, 3));
    T_OK(rcl_tensor_create(ctx, &gdx, 2, 4, 3, 3));
    T_OK(rcl_tensor_create(ctx, &gv, 4, 1, 1, 1));
    T_OK(rcl_tensor_create(ctx, &gdv, 4, 1, 1, 1));
    T_OK(rcl_tensor_create(ctx, &gm, 4, 1, 1, 1));
    T_OK(rcl_tensor_create(ctx, &gi, 4, 1, 1, 1));
    T_OK(rcl_tensor_fill(ctx, &gx, 0.5f));
    T_OK(rcl_tensor_fill(ctx, &gv, 1.0f));
    T_OK(rcl_groupnorm_forward(ctx, &gy, &gm, &gi, &gx, &gv, &gv, 2, 1e-5f));
    T_OK(rcl_groupnorm_backward(ctx, &gdx, &gdv, NULL, &gy, &gx, &gv, &gm, &gi, 2));
    /* ReLU on its own (a BatchNorm model applies it inside BN's pass) */
    T_OK(rcl_relu_forward(ctx, &gy, &gx));
    T_OK(rcl_relu_backward(ctx, &gdx, &gx, &gy));
    /* LocalResponseNorm and Weight Standardization, forward and backward */
    rcl_lrn_desc lrn = {.size = 3, .alpha = 1e-4f, .beta = 0.75f, .k = 1.0f};
    T_OK(rcl_lrn_forward(ctx, &gy, &gx, &lrn));
    T_OK(rcl_lrn_backward(ctx, &gdx, &gy, &gx, &lrn));
    rcl_tensor wm, ws; /* gx as a weight: O = 2 rows of 36 */
    T_OK(rcl_tensor_create(ctx, &wm, 2, 1, 1, 1));
    T_OK(rcl_tensor_create(ctx, &ws, 2, 1, 1, 1));
    T_OK(rcl_weight_std_forward(ctx, &gy, &wm, &ws, &gx, 1e-5f));
    T_OK(rcl_weight_std_backward(ctx, &gdx, &gy, &gy, &ws, 1e-5f));
    rcl_tensor_destroy(&wm);
    rcl_tensor_destroy(&ws);
    T_OK(rcl_ctx_finish(ctx));
    rcl_tensor *gts[] = {&gx, &gy, &gdx, &gv, &gdv, &gm, &gi};
    for (size_t i = 0; i < sizeof gts / sizeof gts[0]; i++) rcl_tensor_destroy(gts[i]);
    rcl_batch_free(&b);
    rcl_model_destroy(m);
}

static void test_defaults_reach_kernels(void **state)
{
    (void)state;
    rcl_ctx *ctx = NULL;
    T_OK(rcl_ctx_create(&ctx, rcl_ctx_device(T_CTX)->index, NULL));
    /* the GEMM default path is the device's: tiled where the driver wants
     * explicit vectors (CPU), CLBlast elsewhere */
    cl_uint vw = 1;
    assert_int_equal(clGetDeviceInfo(rcl_ctx_device(ctx)->device,
                                     CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof vw, &vw, NULL),
                     CL_SUCCESS);
    assert_int_equal(rcl_tun(ctx, RCL_TUN_GEMM_DEFAULT_PATH),
                     vw >= 4 ? RCL_GEMM_TILED : RCL_GEMM_CLBLAST);
    /* and so is Winograd (on where the GEMMs are tiled) */
    assert_int_equal(rcl_tun(ctx, RCL_TUN_CONV_WINOGRAD), vw >= 4 ? RCL_CONV_WINO_CPU_DEFAULT : 0);
    assert_int_equal(rcl_tun(ctx, RCL_TUN_CONV_WINO_GEMM),
                     vw >= 4 ? RCL_CONV_WINO_GEMM_CPU_DEFAULT : 0);
    /* and the weight gradient's output channels per work-item (more where
     * 16-float vectors mean 32 registers) */
    const int wocb =
        vw >= 16 ? RCL_CONV_DIRECT_WOCB_W16 : rcl_tunables[RCL_TUN_CONV_DIRECT_WOCB].def;
    assert_int_equal(rcl_tun(ctx, RCL_TUN_CONV_DIRECT_WOCB), wocb);
    /* and the conv path: im2col + GEMM everywhere (1) on CPU drivers that
     * prefer scalars (rusticl on llvmpipe), the rule (0) elsewhere */
    const int scalar_cpu = vw < 4 && (rcl_ctx_device(ctx)->type & CL_DEVICE_TYPE_CPU);
    assert_int_equal(rcl_ctx_scalar_cpu(ctx), scalar_cpu);
    assert_int_equal(rcl_tun(ctx, RCL_TUN_CONV_PATH), scalar_cpu ? 1 : 0);
    /* and CLBlast's XGEMM_MIN_INDIRECT_SIZE (1 there, CLBlast's own elsewhere),
     * read through the one lookup the library and `bench gemm` share */
    int xg[RCL_XGEMM_NPARAMS], mi = -1;
    assert_int_equal(rcl_gemm_clblast_table(ctx, xg, &mi), 0);
    assert_int_equal(mi, scalar_cpu);
    for (int i = 0; i < RCL_XGEMM_NPARAMS; i++) assert_int_equal(xg[i], -1);
    for (int i = 0; i < RCL_TUN_COUNT; i++) {
        assert_int_equal(RCL_TUN_DEVICE_DEFAULT(i), i == RCL_TUN_GEMM_DEFAULT_PATH ||
                                                        i == RCL_TUN_CONV_WINOGRAD ||
                                                        i == RCL_TUN_CONV_DIRECT_WOCB ||
                                                        i == RCL_TUN_CONV_WINO_GEMM ||
                                                        i == RCL_TUN_CONV_PATH);
        if (!RCL_TUN_DEVICE_DEFAULT(i))
            assert_int_equal(rcl_tun(ctx, (rcl_tunable_id)i), rcl_tunables[i].def);
        /* not set: the by-name lookup still answers its caller's default */
        assert_int_equal(rcl_ctx_param(ctx, rcl_tunables[i].key, rcl_tunables[i].param, -7), -7);
    }
    run_everything(ctx);
    for (int i = 0; i < RCL_TUN_COUNT; i++) {
        const rcl_tunable_info *t = &rcl_tunables[i];
        if (!t->file) continue;
        long want = is_wg(t->param) ? (long)rcl_wg_clamp(ctx, (size_t)t->def) : t->def;
        if (i == RCL_TUN_CONV_DIRECT_WOCB) want = wocb;
        int built = 0;
        for (int p = 0; p < ctx->nprograms; p++) {
            if (strcmp(ctx->programs[p].file, t->file)) continue;
            built++;
            long got = option_value(ctx->programs[p].options, t->param);
            if (got != want)
                fail_msg("cl/%s built with \"%s\": %s %s should be %ld (default %d)", t->file,
                         ctx->programs[p].options, t->key, t->param, want, t->def);
        }
        if (!built) fail_msg("cl/%s (tunable %s %s) was not built", t->file, t->key, t->param);
    }
    rcl_ctx_destroy(ctx);
}

static void test_set_by_name_read_by_id(void **state)
{
    (void)state;
    rcl_ctx *ctx = NULL;
    T_OK(rcl_ctx_create(&ctx, rcl_ctx_device(T_CTX)->index, NULL));
    for (int i = 0; i < RCL_TUN_COUNT; i++)
        T_OK(rcl_ctx_set_param(ctx, rcl_tunables[i].key, rcl_tunables[i].param, 1000 + i));
    for (int i = 0; i < RCL_TUN_COUNT; i++) {
        assert_int_equal(rcl_tun(ctx, (rcl_tunable_id)i), 1000 + i);
        assert_int_equal(rcl_ctx_param(ctx, rcl_tunables[i].key, rcl_tunables[i].param, -7),
                         1000 + i);
    }
    /* names outside the table (the GEMM's classes) keep their own table */
    assert_int_equal(ctx->nparams, 0);
    T_OK(rcl_ctx_set_param(ctx, "gemm.NN_m6_n12_k9", "MWI", 6));
    assert_int_equal(rcl_ctx_param(ctx, "gemm.NN_m6_n12_k9", "MWI", -1), 6);
    assert_int_equal(ctx->nparams, 1);
    /* CLBlast's entry too, through the lookup the library and `bench gemm` share */
    int xg[RCL_XGEMM_NPARAMS], mi = -1;
    T_OK(rcl_ctx_set_param(ctx, RCL_GEMM_CLBLAST_KEY, "XGEMM_MIN_INDIRECT_SIZE", 64));
    assert_int_equal(rcl_gemm_clblast_table(ctx, xg, &mi), 0);
    assert_int_equal(mi, 64);
    for (int i = 0; i < RCL_XGEMM_NPARAMS; i++)
        T_OK(rcl_ctx_set_param(ctx, RCL_GEMM_CLBLAST_KEY, rcl_xgemm_names[i], i + 1));
    assert_int_equal(rcl_gemm_clblast_table(ctx, xg, &mi), 1);
    for (int i = 0; i < RCL_XGEMM_NPARAMS; i++) assert_int_equal(xg[i], i + 1);
    rcl_ctx_destroy(ctx);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults_reach_kernels),
    cmocka_unit_test(test_set_by_name_read_by_id),
};
RCL_TEST_MAIN("tunables", tests)
