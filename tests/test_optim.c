/* Adam and SGD steps: device vs the double reference (PyTorch's
 * single-tensor code) after every one of several steps, for parameter,
 * gradient (unchanged) and optimizer state; invalid arguments. The model
 * optimizer's one launch over flat buffers against its per-tensor launches:
 * bit-identical parameters and state (Adam, SGD plain, momentum, nesterov,
 * weight decay), and the fallback to per-tensor buffers when the flat
 * buffer cannot be allocated. */
#include "harness.h"
#include "ref/ref_optim.h"
#include "base/base.h" /* rcl_fault_reset */
#include "rcl/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 6

/* Odd sizes: a single element, under one work-group, several groups + tail. */
static const int sizes[] = {1, 37, 1031};

static void adam_case(int n, rcl_adam_hparams hp, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    tu_fill(&r, p, n, -1, 1);
    double *pd = tu_f2d(p, n), *md = calloc(n, sizeof(double)), *vd = calloc(n, sizeof(double));
    rcl_tensor tp, tg, tm, tv;
    tu_tensor(&tp, n, 1, 1, 1, p);
    tu_tensor(&tg, n, 1, 1, 1, NULL);
    tu_tensor(&tm, n, 1, 1, 1, NULL);
    tu_tensor(&tv, n, 1, 1, 1, NULL);
    for (int step = 1; step <= STEPS; step++) {
        /* A fresh gradient each step, with a spread of magnitudes. */
        double scale = step % 2 ? 1.0 : 1e-3;
        tu_fill(&r, g, n, -scale, scale);
        T_OK(rcl_tensor_write(T_CTX, &tg, g));
        double *gd = tu_f2d(g, n);
        ref_adam_step(pd, gd, md, vd, n, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay,
                      step);
        T_OK(rcl_adam_step(T_CTX, &tp, &tg, &tm, &tv, &hp, step));
        float *pg = tu_read(&tp), *gg = tu_read(&tg), *mg = tu_read(&tm), *vg = tu_read(&tv);
        assert_true(tu_close_f("adam p", pg, pd, n, 1e-5, 1e-6));
        /* m can cancel towards 0: absolute slack near float eps times |g| ~ 1 */
        assert_true(tu_close_f("adam m", mg, md, n, 1e-5, 1e-7));
        assert_true(tu_close_f("adam v", vg, vd, n, 1e-5, 1e-12));
        assert_memory_equal(gg, g, n * sizeof *g);
        free(gd), free(pg), free(gg), free(mg), free(vg);
    }
    /* The parameters did move (the comparison above is not vacuous). */
    float *pg = tu_read(&tp);
    double moved = 0;
    for (int i = 0; i < n; i++) moved = fmax(moved, fabs(pg[i] - p[i]));
    assert_true(moved > 0.5 * hp.lr);
    free(pg);
    rcl_tensor_destroy(&tp);
    rcl_tensor_destroy(&tg);
    rcl_tensor_destroy(&tm);
    rcl_tensor_destroy(&tv);
    free(p), free(g), free(pd), free(md), free(vd);
}

static void test_adam(void **state)
{
    (void)state;
    rcl_adam_hparams d = rcl_adam_defaults();
    assert_true(d.lr == 1e-3f && d.beta1 == 0.9f && d.beta2 == 0.999f && d.eps == 1e-8f &&
                d.weight_decay == 0.0f);
    rcl_adam_hparams wd = {0.01f, 0.9f, 0.999f, 1e-8f, 0.1f};
    rcl_adam_hparams other = {0.05f, 0.8f, 0.99f, 1e-6f, 0.0f};
    /* every adam VEC: whole vectors, a last partial one, fewer elements
     * than one vector (sizes 1 and odd ones) */
    const int vecs[] = {8, 1, 4, 16};
    for (int k = 0; k < 4; k++) {
        T_OK(rcl_ctx_set_param(T_CTX, "adam", "VEC", vecs[k]));
        for (int s = 0; s < 3; s++) {
            adam_case(sizes[s], d, 10 + s);
            adam_case(sizes[s], wd, 20 + s);
            adam_case(sizes[s], other, 30 + s);
        }
    }
    T_OK(rcl_ctx_set_param(T_CTX, "adam", "VEC", 8));
}

static void sgd_case(int n, rcl_sgd_hparams hp, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    tu_fill(&r, p, n, -1, 1);
    double *pd = tu_f2d(p, n), *bd = calloc(n, sizeof(double));
    rcl_tensor tp, tg, tb;
    tu_tensor(&tp, n, 1, 1, 1, p);
    tu_tensor(&tg, n, 1, 1, 1, NULL);
    /* Without momentum the buffer must be left alone: fill it with a marker. */
    tu_tensor(&tb, n, 1, 1, 1, NULL);
    T_OK(rcl_tensor_fill(T_CTX, &tb, 7.0f));
    for (int step = 1; step <= STEPS; step++) {
        tu_fill(&r, g, n, -1, 1);
        T_OK(rcl_tensor_write(T_CTX, &tg, g));
        double *gd = tu_f2d(g, n);
        ref_sgd_step(pd, gd, bd, n, hp.lr, hp.momentum, hp.dampening, hp.weight_decay,
                     hp.nesterov, step);
        T_OK(rcl_sgd_step(T_CTX, &tp, &tg, &tb, &hp, step));
        float *pg = tu_read(&tp), *gg = tu_read(&tg), *bg = tu_read(&tb);
        assert_true(tu_close_f("sgd p", pg, pd, n, 1e-5, 1e-6));
        if (hp.momentum != 0) {
            assert_true(tu_close_f("sgd buf", bg, bd, n, 1e-5, 1e-6));
        } else {
            for (int i = 0; i < n; i++) assert_true(bg[i] == 7.0f);
        }
        assert_memory_equal(gg, g, n * sizeof *g);
        free(gd), free(pg), free(gg), free(bg);
    }
    rcl_tensor_destroy(&tp);
    rcl_tensor_destroy(&tg);
    rcl_tensor_destroy(&tb);
    free(p), free(g), free(pd), free(bd);
}

/* Plain SGD with buf == NULL. */
static void sgd_plain_null_buf(int n, uint64_t seed)
{
    tu_rng r = tu_rng_seed(seed);
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    tu_fill(&r, p, n, -1, 1);
    double *pd = tu_f2d(p, n);
    rcl_sgd_hparams hp = {0.1f, 0, 0, 1e-2f, 0};
    rcl_tensor tp, tg;
    tu_tensor(&tp, n, 1, 1, 1, p);
    tu_tensor(&tg, n, 1, 1, 1, NULL);
    for (int step = 1; step <= STEPS; step++) {
        tu_fill(&r, g, n, -1, 1);
        T_OK(rcl_tensor_write(T_CTX, &tg, g));
        double *gd = tu_f2d(g, n);
        ref_sgd_step(pd, gd, NULL, n, hp.lr, 0, 0, hp.weight_decay, 0, step);
        T_OK(rcl_sgd_step(T_CTX, &tp, &tg, NULL, &hp, step));
        float *pg = tu_read(&tp);
        assert_true(tu_close_f("sgd p (no buf)", pg, pd, n, 1e-5, 1e-6));
        free(gd), free(pg);
    }
    rcl_tensor_destroy(&tp);
    rcl_tensor_destroy(&tg);
    free(p), free(g), free(pd);
}

static void test_sgd(void **state)
{
    (void)state;
    /* lr, momentum, dampening, weight_decay, nesterov */
    const rcl_sgd_hparams hps[] = {
        {0.1f, 0, 0, 0, 0},          /* plain */
        {0.1f, 0.9f, 0, 0, 0},       /* momentum */
        {0.1f, 0.9f, 0.5f, 0, 0},    /* momentum + dampening */
        {0.1f, 0.9f, 0, 0, 1},       /* nesterov */
        {0.1f, 0, 0, 5e-4f, 0},      /* weight decay */
        {0.05f, 0.9f, 0, 1e-2f, 1},  /* nesterov + weight decay */
        {0.2f, 0.5f, 0.1f, 1e-1f, 0},
    };
    /* every sgd VEC (as test_adam) */
    const int vecs[] = {8, 1, 4, 16};
    for (int k = 0; k < 4; k++) {
        T_OK(rcl_ctx_set_param(T_CTX, "sgd", "VEC", vecs[k]));
        for (size_t h = 0; h < sizeof hps / sizeof hps[0]; h++)
            for (int s = 0; s < 3; s++) sgd_case(sizes[s], hps[h], 100 + 10 * h + s);
        for (int s = 0; s < 3; s++) sgd_plain_null_buf(sizes[s], 200 + s);
    }
    T_OK(rcl_ctx_set_param(T_CTX, "sgd", "VEC", 8));
}

static void test_optim_invalid(void **state)
{
    (void)state;
    rcl_tensor p, g, m, v, odd;
    tu_tensor(&p, 8, 1, 1, 1, NULL);
    tu_tensor(&g, 8, 1, 1, 1, NULL);
    tu_tensor(&m, 8, 1, 1, 1, NULL);
    tu_tensor(&v, 8, 1, 1, 1, NULL);
    tu_tensor(&odd, 9, 1, 1, 1, NULL);
    rcl_adam_hparams a = rcl_adam_defaults();
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, &v, &a, 0), RCL_ERR_INVALID);
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, &v, &a, -3), RCL_ERR_INVALID);
    assert_int_equal(rcl_adam_step(T_CTX, &p, &odd, &m, &v, &a, 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &odd, &v, &a, 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, &odd, &a, 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, NULL, &a, 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, &v, NULL, 1), RCL_ERR_INVALID);
    rcl_adam_hparams bad = a;
    bad.lr = -1e-3f;
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, &v, &bad, 1), RCL_ERR_INVALID);
    bad = a;
    bad.beta1 = 1.0f;
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, &v, &bad, 1), RCL_ERR_INVALID);
    bad = a;
    bad.beta2 = -0.1f;
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, &v, &bad, 1), RCL_ERR_INVALID);
    bad = a;
    bad.eps = NAN;
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, &v, &bad, 1), RCL_ERR_INVALID);
    bad = a;
    bad.weight_decay = -1.0f;
    assert_int_equal(rcl_adam_step(T_CTX, &p, &g, &m, &v, &bad, 1), RCL_ERR_INVALID);
    T_OK(rcl_adam_step(T_CTX, &p, &g, &m, &v, &a, 1));

    rcl_sgd_hparams s = {0.1f, 0.9f, 0, 0, 0};
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &g, &m, &s, 0), RCL_ERR_INVALID);
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &g, NULL, &s, 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &g, &odd, &s, 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &odd, &m, &s, 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &g, &m, NULL, 1), RCL_ERR_INVALID);
    rcl_sgd_hparams sb = {0.1f, 0, 0, 0, 1};       /* nesterov without momentum */
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &g, &m, &sb, 1), RCL_ERR_INVALID);
    sb = (rcl_sgd_hparams){0.1f, 0.9f, 0.5f, 0, 1}; /* nesterov with dampening */
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &g, &m, &sb, 1), RCL_ERR_INVALID);
    sb = (rcl_sgd_hparams){-0.1f, 0, 0, 0, 0};
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &g, NULL, &sb, 1), RCL_ERR_INVALID);
    sb = (rcl_sgd_hparams){0.1f, -0.9f, 0, 0, 0};
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &g, &m, &sb, 1), RCL_ERR_INVALID);
    sb = (rcl_sgd_hparams){0.1f, 0, 0, -1e-4f, 0};
    assert_int_equal(rcl_sgd_step(T_CTX, &p, &g, NULL, &sb, 1), RCL_ERR_INVALID);
    T_OK(rcl_sgd_step(T_CTX, &p, &g, &m, &s, 1));
    sb = (rcl_sgd_hparams){0.1f, 0, 0, 0, 0};      /* buf may be NULL without momentum */
    T_OK(rcl_sgd_step(T_CTX, &p, &g, NULL, &sb, 1));

    rcl_tensor_destroy(&p);
    rcl_tensor_destroy(&g);
    rcl_tensor_destroy(&m);
    rcl_tensor_destroy(&v);
    rcl_tensor_destroy(&odd);
}

/* ---- rcl_optimizer: one launch over the flat buffers vs one per tensor */

static rcl_model *tiny_model(void)
{
    rcl_model_config c = rcl_model_config_default();
    c.in_h = c.in_w = 8;
    c.batch = 2;
    c.num_classes = 5;
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, T_CTX, "resnet20", &c));
    return m;
}

static cl_mem parent_of(cl_mem b)
{
    cl_mem p = NULL;
    assert_int_equal(clGetMemObjectInfo(b, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof p, &p, NULL),
                     CL_SUCCESS);
    return p;
}

static int same_bytes(const rcl_tensor *a, const rcl_tensor *b)
{
    float *x = tu_read(a), *y = tu_read(b);
    int eq = !memcmp(x, y, rcl_tensor_bytes(a));
    free(x), free(y);
    return eq;
}

/* no_room: b's flat buffer allocation fails (an injected allocation fault),
 * so its optimizer falls back to per-tensor buffers and launches */
static void flat_case(rcl_optim_kind kind, const rcl_adam_hparams *adam, const rcl_sgd_hparams *sgd,
                      uint64_t seed, int no_room)
{
    rcl_model *a = tiny_model(), *b = tiny_model();
    rcl_optimizer oa, ob;
    T_OK(rcl_optimizer_init(&oa, a, kind, adam, sgd));
    if (no_room) {
        setenv("RESNET_CL_FAULT_ALLOC", "1", 1); /* the next allocation: the flat values */
        rcl_fault_reset();
    }
    int st = rcl_optimizer_init(&ob, b, kind, adam, sgd);
    if (no_room) {
        unsetenv("RESNET_CL_FAULT_ALLOC");
        rcl_fault_reset();
    }
    T_OK(st);
    assert_int_equal(oa.flat, 1);
    if (no_room) {
        assert_int_equal(ob.flat, 0);
        rcl_param **ps;
        rcl_model_params(b, &ps);
        assert_null(parent_of(ps[0]->value.buf)); /* still a buffer of its own */
    }
    ob.flat = 0; /* the per-tensor launches */
    rcl_param **pa, **pb;
    int np = rcl_model_params(a, &pa);
    assert_int_equal(rcl_model_params(b, &pb), np);
    int ns = rcl_optimizer_state_count(&oa);
    /* every tensor is a view of its kind's one buffer */
    cl_mem pv = parent_of(pa[0]->value.buf), pg = parent_of(pa[0]->grad.buf);
    assert_non_null(pv);
    assert_non_null(pg);
    assert_true(pv != pg);
    for (int i = 0; i < np; i++) {
        assert_true(parent_of(pa[i]->value.buf) == pv);
        assert_true(parent_of(pa[i]->grad.buf) == pg);
        for (int s = 0; s < ns; s++) assert_non_null(parent_of(pa[i]->state[s].buf));
    }
    tu_rng r = tu_rng_seed(seed);
    float *before = tu_read(&pa[np - 1]->value);
    for (int step = 1; step <= 4; step++) {
        for (int i = 0; i < np; i++) {
            size_t n = rcl_tensor_count(&pa[i]->grad);
            float *g = malloc(n * sizeof *g);
            tu_fill(&r, g, n, step % 2 ? -1 : -1e-3, step % 2 ? 1 : 1e-3);
            T_OK(rcl_tensor_write(T_CTX, &pa[i]->grad, g));
            T_OK(rcl_tensor_write(T_CTX, &pb[i]->grad, g));
            free(g);
        }
        T_OK(rcl_optimizer_step(&oa));
        T_OK(rcl_optimizer_step(&ob));
        for (int i = 0; i < np; i++) {
            if (!same_bytes(&pa[i]->value, &pb[i]->value))
                fail_msg("step %d: %s differs between one launch and per-tensor launches", step,
                         pa[i]->name);
            for (int s = 0; s < ns; s++)
                if (!same_bytes(&pa[i]->state[s], &pb[i]->state[s]))
                    fail_msg("step %d: %s state %d differs", step, pa[i]->name, s);
        }
    }
    float *after = tu_read(&pa[np - 1]->value);
    assert_true(memcmp(before, after, rcl_tensor_bytes(&pa[np - 1]->value)) != 0); /* it moved */
    free(before), free(after);
    rcl_model_destroy(a);
    rcl_model_destroy(b);
}

static void test_optimizer_flat(void **state)
{
    (void)state;
    rcl_adam_hparams ad = rcl_adam_defaults();
    flat_case(RCL_OPTIM_ADAM, &ad, NULL, 71, 0);
    rcl_adam_hparams awd = {0.01f, 0.8f, 0.99f, 1e-6f, 0.05f};
    flat_case(RCL_OPTIM_ADAM, &awd, NULL, 72, 0);
    rcl_sgd_hparams plain = {0.1f, 0, 0, 0, 0};
    flat_case(RCL_OPTIM_SGD, NULL, &plain, 73, 0);
    rcl_sgd_hparams mom = {0.1f, 0.9f, 0.1f, 1e-4f, 0};
    flat_case(RCL_OPTIM_SGD, NULL, &mom, 74, 0);
    rcl_sgd_hparams nest = {0.05f, 0.9f, 0, 5e-4f, 1};
    flat_case(RCL_OPTIM_SGD, NULL, &nest, 75, 0);
    /* the chooser's other path: no room for the flat buffer */
    flat_case(RCL_OPTIM_ADAM, &awd, NULL, 76, 1);
    flat_case(RCL_OPTIM_SGD, NULL, &mom, 77, 1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_adam),
    cmocka_unit_test(test_sgd),
    cmocka_unit_test(test_optim_invalid),
    cmocka_unit_test(test_optimizer_flat),
};

RCL_TEST_MAIN("optim", tests)
