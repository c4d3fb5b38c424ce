/* ReduceLROnPlateau (no device): the learning rates of rcl_plateau equal,
 * bit for bit, those PyTorch's ReduceLROnPlateau gave for the same metric
 * sequences (tests/ref/plateau_ref.txt, written by
 * tests/ref/make_plateau_ref.py: seven option sets over min/max, rel/abs,
 * patience, cooldown, min lr, eps and NaN metrics); plus the defaults and
 * the refused options. */
#include "harness.h"
#include "rcl/plateau.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_matches_pytorch(void **state)
{
    (void)state;
    const char *src = getenv("RESNET_CL_SOURCE_DIR");
    if (!src) fail_msg("RESNET_CL_SOURCE_DIR not set (run via ctest)");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/ref/plateau_ref.txt", src);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    char line[512];
    int cases = 0, steps = 0, reductions = 0;
    rcl_plateau p;
    int left = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (!strncmp(line, "case ", 5)) {
            assert_int_equal(left, 0);
            char mode[8], tmode[8];
            rcl_plateau_options o;
            double lr0;
            int n = sscanf(line + 5, "%7s %7s %lf %d %lf %d %lf %lf %lf %d", mode, tmode,
                           &o.factor, &o.patience, &o.threshold, &o.cooldown, &o.min_lr, &o.eps,
                           &lr0, &left);
            assert_int_equal(n, 10);
            o.mode = !strcmp(mode, "max") ? RCL_PLATEAU_MAX : RCL_PLATEAU_MIN;
            o.threshold_mode = !strcmp(tmode, "abs") ? RCL_PLATEAU_ABS : RCL_PLATEAU_REL;
            T_OK(rcl_plateau_init(&p, &o, lr0));
            cases++;
            continue;
        }
        double m, want;
        assert_int_equal(sscanf(line, "%lf %lf", &m, &want), 2);
        double before = p.lr;
        int r = rcl_plateau_step(&p, m);
        assert_true(r == 0 || r == 1);
        assert_int_equal(r, p.lr != before);
        reductions += r;
        if (p.lr != want)
            fail_msg("case %d step %lld (metric %.17g): lr %.17g, PyTorch %.17g", cases,
                     (long long)p.last_epoch, m, p.lr, want);
        steps++;
        left--;
    }
    fclose(f);
    assert_int_equal(left, 0);
    assert_int_equal(cases, 7);
    assert_int_equal(steps, 7 * 80);
    assert_true(reductions >= 10);   /* the sequences do exercise the reductions */
}

static void test_defaults_and_invalid(void **state)
{
    (void)state;
    rcl_plateau_options d = rcl_plateau_defaults();
    assert_int_equal(d.mode, RCL_PLATEAU_MIN);
    assert_true(d.factor == 0.1 && d.patience == 10 && d.threshold == 1e-4 && d.cooldown == 0 &&
                d.min_lr == 0 && d.eps == 1e-8 && d.threshold_mode == RCL_PLATEAU_REL);
    rcl_plateau p;
    T_OK(rcl_plateau_init(&p, NULL, 0.1));
    assert_true(isinf(p.best) && p.best > 0);
    /* 11 equal errors: the first is an improvement, then 10 bad ones are
     * patience; the 11th bad one reduces */
    for (int i = 0; i < 11; i++) assert_int_equal(rcl_plateau_step(&p, 0.5), 0);
    assert_int_equal(rcl_plateau_step(&p, 0.5), 1);
    assert_true(p.lr == 0.1 * 0.1);
    rcl_plateau_options o = d;
    o.factor = 1.0;
    assert_int_equal(rcl_plateau_init(&p, &o, 0.1), RCL_ERR_INVALID);
    assert_non_null(strstr(rcl_last_error(), "factor"));
    o = d;
    o.patience = -1;
    assert_int_equal(rcl_plateau_init(&p, &o, 0.1), RCL_ERR_INVALID);
    o = d;
    o.min_lr = -1;
    assert_int_equal(rcl_plateau_init(&p, &o, 0.1), RCL_ERR_INVALID);
    assert_int_equal(rcl_plateau_init(&p, &d, 0), RCL_ERR_INVALID);
    assert_int_equal(rcl_plateau_init(&p, &d, NAN), RCL_ERR_INVALID);
    assert_int_equal(rcl_plateau_step(NULL, 1), RCL_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_pytorch),
        cmocka_unit_test(test_defaults_and_invalid),
    };
    return cmocka_run_group_tests_name("host_plateau", tests, NULL, NULL);
}
