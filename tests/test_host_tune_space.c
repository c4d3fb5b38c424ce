/* The tuner's search spaces (tune/tune_space.c): every declared candidate
 * list is valid for our kernel, and tune_space_around puts the base point
 * and its one-parameter neighbours first. No device needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemm/gemm_params.h"
#include "runtime/tunables.h"
#include "tune_space.h"

#include <math.h>

#include <stdlib.h>
#include <string.h>

enum { CAP = 400 };

static int distance(const int *a, const int *b, int n)
{
    int d = 0;
    for (int i = 0; i < n; i++) d += a[i] != b[i];
    return d;
}

static void check_around(const tune_space *sp, rcl_gemm_tiled_params d, int ta, int tb)
{
    int base[TUNE_MAX_PARAMS], np = sp->nparams;
    assert_int_equal(np, RCL_GEMM_TILED_NPARAMS);
    for (int f = 0; f < np; f++) {
        assert_string_equal(sp->params[f].name, rcl_gemm_tiled_names[f]);
        base[f] = *rcl_gemm_tiled_field(&d, f);
    }
    static int pts[CAP * TUNE_MAX_PARAMS];
    int n = tune_space_around(sp, base, pts, CAP, 5);
    assert_true(n > 30 && n <= CAP);
    assert_memory_equal(pts, base, sizeof(int) * (size_t)np);
    /* the neighbours: every valid one-parameter change, before any other point */
    int want = 0;
    for (int i = 0; i < np; i++)
        for (int k = 0; k < sp->params[i].nvalues; k++) {
            int v[TUNE_MAX_PARAMS];
            memcpy(v, base, sizeof v);
            v[i] = sp->params[i].values[k];
            if (v[i] != base[i] && sp->valid(v)) want++;
        }
    assert_true(want >= 10);
    for (int j = 1; j <= want; j++) assert_int_equal(distance(pts + j * np, base, np), 1);
    assert_true(distance(pts + (want + 1) * np, base, np) > 1);
    /* all distinct, all valid parameter sets of the kernel */
    for (int j = 0; j < n; j++) {
        rcl_gemm_tiled_params p;
        for (int f = 0; f < np; f++) *rcl_gemm_tiled_field(&p, f) = pts[j * np + f];
        assert_true(rcl_gemm_tiled_valid(&p, ta, tb));
        for (int k = 0; k < j; k++) assert_true(distance(pts + j * np, pts + k * np, np) > 0);
    }
    /* a small cap is respected */
    assert_int_equal(tune_space_around(sp, base, pts, 3, 5), 3);
}

static void test_around_outer(void **state)
{
    (void)state;
    /* around the defaults of every kind of an 8-wide device; the space's
     * XB 0 stands for XB 1 where op(B) = B^T (tune_main.c) */
    for (int t = 0; t < 4; t++) {
        rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(8, t >> 1, t & 1);
        assert_int_not_equal(d.xb, 1);
        check_around(&TUNE_OURS_OUTER, d, 1, 0);
    }
}

static void test_around_dot(void **state)
{
    (void)state;
    check_around(&TUNE_OURS_DOT, rcl_gemm_tiled_dot_defaults(8), 0, 1);
}

/* TUNE_KPARAMS is the TUNED rows of runtime/tunables.def: names and default
 * from the library's table, candidates distinct, non-negative, without the
 * default, within TUNE_MAX_VALUES */
static void test_kparams_from_table(void **state)
{
    (void)state;
    assert_true(TUNE_NKPARAMS >= 1 && TUNE_NKPARAMS <= RCL_TUN_COUNT);
    assert_true(TUNE_NKPARAMS <= TUNE_NK_MAX); /* phase F tunes every row */
    for (int k = 0; k < TUNE_NKPARAMS; k++) {
        const tune_kparam *kp = &TUNE_KPARAMS[k];
        assert_true(kp->id >= 0 && kp->id < RCL_TUN_COUNT);
        const rcl_tunable_info *t = &rcl_tunables[kp->id];
        assert_string_equal(kp->key, t->key);
        assert_string_equal(kp->param, t->param);
        assert_int_equal(kp->def, t->def);
        assert_non_null(kp->tags);
        assert_true(kp->tags[0]);
        assert_true(kp->nvalues >= 1 && kp->nvalues <= TUNE_MAX_VALUES);
        assert_true(tune_kparam_valid(kp, kp->def));
        for (int j = 0; j < kp->nvalues; j++) {
            assert_true(kp->values[j] >= 0); /* 0: an off switch (conv_direct WSPLIT) */
            assert_true(tune_kparam_valid(kp, kp->values[j]));
            assert_int_not_equal(kp->values[j], kp->def);
            for (int i = 0; i < j; i++) assert_int_not_equal(kp->values[i], kp->values[j]);
        }
        for (int i = 0; i < k; i++) assert_int_not_equal(TUNE_KPARAMS[i].id, kp->id);
    }
    /* the tuner's first: Winograd, then the direct kernels' and im2col's
     * parameters; conv2d's path rule is not tuned (it would move every
     * conv of every model from one model's steps) */
    assert_int_equal(TUNE_KPARAMS[0].id, RCL_TUN_CONV_WINOGRAD);
    for (int k = 0; k < TUNE_NKPARAMS; k++)
        assert_true(TUNE_KPARAMS[k].id != RCL_TUN_CONV_PATH &&
                    TUNE_KPARAMS[k].id != RCL_TUN_CONV_DIRECT_MAX_C);
    /* the declared constraints refuse what the kernels would not compile */
    for (int k = 0; k < TUNE_NKPARAMS; k++) {
        const tune_kparam *kp = &TUNE_KPARAMS[k];
        if (kp->id == RCL_TUN_CONV_DIRECT_VW) assert_false(tune_kparam_valid(kp, 12));
        if (kp->id == RCL_TUN_CONV_DIRECT_OCB) assert_false(tune_kparam_valid(kp, 17));
        if (kp->id == RCL_TUN_CONV_DIRECT_WOCB) assert_false(tune_kparam_valid(kp, 7));
        if (kp->id == RCL_TUN_CONV_DIRECT_WSPLIT) assert_false(tune_kparam_valid(kp, 2));
        if (kp->id == RCL_TUN_CONV_WINOGRAD) assert_false(tune_kparam_valid(kp, 3));
        if (kp->id == RCL_TUN_CONV_WINO_TILE) assert_false(tune_kparam_valid(kp, 3));
        if (kp->id == RCL_TUN_CONV_CHUNK_KB)
            assert_true(tune_kparam_valid(kp, 0)), assert_false(tune_kparam_valid(kp, -1));
        if (kp->id == RCL_TUN_CONV_DIRECT_WG) assert_false(tune_kparam_valid(kp, 24));
    }
}

/* Phase F's choice over several models (tune_pick): each model weighs the
 * same (relative times), a model whose default step did not run is left
 * out, one that does not run the kernels does not count, a candidate not
 * timed or wrong on a model that counts is out, and the 3% margin holds */
static void test_pick(void **state)
{
    (void)state;
    /* models: a big one (100 ms of these kernels), a small one (10 ms) */
    const double tdef[2] = {0.100, 0.010};
    /* 0: 10% faster on the big model, 5% slower on the small: mean 0.975;
     * 1: 20% faster on the small one, the same on the big: mean 0.9 */
    const double t[4] = {0.090, 0.0105, 0.100, 0.008};
    const int ok[4] = {0, 0, 0, 0};
    double score = 0;
    assert_int_equal(tune_pick(2, 2, tdef, t, ok, 0.97, &score), 1);
    assert_true(fabs(score - 0.9) < 1e-12);
    /* candidate 0 alone: 0.975 is within the margin: the defaults */
    assert_int_equal(tune_pick(1, 2, tdef, t, ok, 0.97, &score), -1);
    assert_true(score == 1.0);
    /* one model only (as before the lists): 10% faster wins */
    assert_int_equal(tune_pick(1, 1, tdef, (const double[]){0.090}, ok, 0.97, NULL), 0);
    /* candidate 1 wrong, or not timed, on the big model: out */
    assert_int_equal(tune_pick(2, 2, tdef, t, (const int[]){0, 0, 1, 0}, 0.97, NULL), -1);
    assert_int_equal(tune_pick(2, 2, tdef, t, (const int[]){0, 0, -1, 0}, 0.97, NULL), -1);
    /* ... unless that model's default step did not run (left out): then
     * the small model alone decides, and both candidates count */
    const double tdef_out[2] = {-1, 0.010};
    assert_int_equal(tune_pick(2, 2, tdef_out, t, (const int[]){1, 0, -1, 0}, 0.97, NULL), 1);
    /* a model whose steps do not run these kernels (0) does not count */
    const double tdef_none[2] = {0.100, 0};
    assert_int_equal(tune_pick(2, 2, tdef_none, t, ok, 0.97, &score), 0);
    assert_true(fabs(score - 0.9) < 1e-12);
    /* no model runs them: the defaults */
    const double tdef_zero[2] = {0, 0};
    assert_int_equal(tune_pick(2, 2, tdef_zero, t, ok, 0.97, NULL), -1);
}

/* Phase F's points: the baseline leaves the per-device tunables to the
 * context (conv WINOGRAD is 1 on CPU drivers although the table says 0: a
 * baseline at 0 ran every conv without Winograd, and a short tune wrote
 * "conv WINOGRAD 0" for nothing); their candidates include the table's
 * default; every other point is the baseline with one parameter moved */
static void test_kparam_points(void **state)
{
    (void)state;
    enum { CAP = 1 + 40 * TUNE_MAX_VALUES };
    const int nk = TUNE_NKPARAMS;
    int *pts = malloc((size_t)CAP * nk * sizeof *pts), owner[CAP];
    assert_non_null(pts);
    int np = tune_kparam_points(pts, owner, nk, CAP, 1);
    assert_true(np > 1 && np < CAP);
    assert_int_equal(owner[0], -1);
    int wino_vals = 0, norm_points = 0;
    for (int k = 0; k < nk; k++) {
        const tune_kparam *kp = &TUNE_KPARAMS[k];
        assert_int_equal(pts[k], RCL_TUN_DEVICE_DEFAULT(kp->id) ? TUNE_KP_DEVICE : kp->def);
    }
    for (int i = 1; i < np; i++) {
        int k = owner[i];
        assert_true(k >= 0 && k < nk);
        const tune_kparam *kp = &TUNE_KPARAMS[k];
        for (int j = 0; j < nk; j++)
            if (j != k) assert_int_equal(pts[(size_t)i * nk + j], pts[j]);
        int v = pts[(size_t)i * nk + k];
        assert_true(tune_kparam_valid(kp, v));
        if (!RCL_TUN_DEVICE_DEFAULT(kp->id)) assert_int_not_equal(v, kp->def);
        if (kp->id == RCL_TUN_CONV_WINOGRAD) wino_vals |= 1 << v;
        if (strstr(kp->tags, "norm")) norm_points++;
    }
    assert_int_equal(wino_vals, 7); /* 0 (the table's), 1, 2 */
    assert_int_equal(norm_points, 0);
    /* WOCB: per device as well, its table default a candidate */
    int wocb_def = 0;
    for (int i = 1; i < np; i++)
        if (TUNE_KPARAMS[owner[i]].id == RCL_TUN_CONV_DIRECT_WOCB &&
            pts[(size_t)i * nk + owner[i]] == rcl_tunables[RCL_TUN_CONV_DIRECT_WOCB].def)
            wocb_def++;
    assert_int_equal(wocb_def, 1);
    /* other norms' kernels get candidates when the model runs them */
    int np_all = tune_kparam_points(pts, owner, nk, CAP, 0);
    assert_true(np_all > np);
    norm_points = 0;
    for (int i = 1; i < np_all; i++)
        norm_points += strstr(TUNE_KPARAMS[owner[i]].tags, "norm") != NULL;
    assert_true(norm_points > 0);
    /* at most cap points */
    assert_int_equal(tune_kparam_points(pts, owner, nk, 3, 1), 3);
    free(pts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_around_outer),
        cmocka_unit_test(test_around_dot),
        cmocka_unit_test(test_kparams_from_table),
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_kparam_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
