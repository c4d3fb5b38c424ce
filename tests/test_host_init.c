/* Weight initialization schemes without a device (rcl_init_fill): sample
 * mean and standard deviation of large conv and linear weights against
 * torch.nn.init's formulas, with tolerances of 6 standard errors of the
 * sample size (and the check shown to reject the neighbouring formula: the
 * other fan mode, the other scheme, the other gain); uniform bounds;
 * orthogonality and torch's sign convention (R = Q^T A upper triangular
 * with a positive diagonal); the default scheme bit for bit as torchvision's
 * init did before; reproducibility from the seed; names. */
#include "harness.h"
#include "model/model_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NSE 6.0 /* tolerance in standard errors */

/* big shapes: conv 256x128x3x3 (fan_in 1152, fan_out 2304), linear 1000x512 */
typedef struct shape {
    int o, c, kh, kw, is_conv;
} shape;
static const shape CONV = {256, 128, 3, 3, 1};
static const shape LIN = {1000, 512, 1, 1, 0};

static size_t numel(shape s) { return (size_t)s.o * s.c * s.kh * s.kw; }
static double fan_in(shape s) { return (double)s.c * s.kh * s.kw; }
static double fan_out(shape s) { return (double)s.o * s.kh * s.kw; }

static float *fill(shape s, rcl_init_scheme scheme, int mode_fan_out, float gain, uint64_t seed)
{
    rcl_init_config cfg = {.scheme = scheme, .fan_out = mode_fan_out, .gain = gain};
    rcl_rng r;
    rcl_rng_seed(&r, seed);
    float *w = malloc(numel(s) * sizeof *w);
    assert_non_null(w);
    int st = rcl_init_fill(w, s.o, s.c, s.kh, s.kw, s.is_conv, &cfg, &r);
    if (st != RCL_OK) fail_msg("rcl_init_fill: %s (%s)", rcl_status_name(st), rcl_last_error());
    return w;
}

typedef struct stats {
    double mean, std, maxabs;
    size_t n;
} stats;

static stats stats_of(const float *w, size_t n)
{
    stats s = {0, 0, 0, n};
    for (size_t i = 0; i < n; i++) s.mean += w[i];
    s.mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = w[i] - s.mean;
        s.std += d * d;
        if (fabs(w[i]) > s.maxabs) s.maxabs = fabs(w[i]);
    }
    s.std = sqrt(s.std / (double)(n - 1));
    return s;
}

/* Does the sample fit a zero-mean distribution of standard deviation sigma
 * and kurtosis kurt (normal 3, uniform 9/5)? SE(mean) = sigma/sqrt(n),
 * SE(std) = sigma*sqrt((kurt-1)/(4n)). */
static int fits(stats s, double sigma, double kurt)
{
    double se_mean = sigma / sqrt((double)s.n);
    double se_std = sigma * sqrt((kurt - 1) / (4.0 * (double)s.n));
    return fabs(s.mean) <= NSE * se_mean && fabs(s.std - sigma) <= NSE * se_std;
}

static void expect_normal(shape sh, rcl_init_scheme scheme, int mode_fan_out, float gain,
                          double sigma, double wrong_sigma)
{
    float *w = fill(sh, scheme, mode_fan_out, gain, 1234);
    stats s = stats_of(w, numel(sh));
    if (!fits(s, sigma, 3.0))
        fail_msg("%s %dx%dx%dx%d mode %d gain %g: mean %g std %g, expected std %g",
                 rcl_init_scheme_name(scheme), sh.o, sh.c, sh.kh, sh.kw, mode_fan_out, (double)gain,
                 s.mean, s.std, sigma);
    /* the test can fail: the neighbouring formula is rejected */
    assert_false(fits(s, wrong_sigma, 3.0));
    free(w);
}

static void expect_uniform(shape sh, rcl_init_scheme scheme, int mode_fan_out, float gain,
                           double bound, double wrong_bound)
{
    float *w = fill(sh, scheme, mode_fan_out, gain, 99);
    stats s = stats_of(w, numel(sh));
    if (!fits(s, bound / sqrt(3.0), 1.8))
        fail_msg("%s %dx%dx%dx%d mode %d gain %g: mean %g std %g, expected bound %g",
                 rcl_init_scheme_name(scheme), sh.o, sh.c, sh.kh, sh.kw, mode_fan_out, (double)gain,
                 s.mean, s.std, bound);
    assert_false(fits(s, wrong_bound / sqrt(3.0), 1.8));
    /* within the bound (up to float rounding), and near it:
     * P(max < b(1-1e-4)) = (1-1e-4)^n < e^-29 at these sizes */
    assert_true(s.maxabs <= bound * (1 + 1e-6));
    assert_true(s.maxabs > bound * (1 - 1e-4));
    free(w);
}

static void test_kaiming_normal(void **state)
{
    (void)state;
    const shape sh[2] = {CONV, LIN};
    for (int k = 0; k < 2; k++) {
        double fi = fan_in(sh[k]), fo = fan_out(sh[k]);
        /* torch's defaults: mode fan_in, gain sqrt(2) (ReLU) */
        expect_normal(sh[k], RCL_INIT_KAIMING_NORMAL, 0, 0, sqrt(2.0) / sqrt(fi), sqrt(2.0) / sqrt(fo));
        expect_normal(sh[k], RCL_INIT_KAIMING_NORMAL, 1, 0, sqrt(2.0) / sqrt(fo), sqrt(2.0) / sqrt(fi));
        /* gain 1 (nonlinearity "linear"), against the ReLU gain */
        expect_normal(sh[k], RCL_INIT_KAIMING_NORMAL, 0, 1.0f, 1 / sqrt(fi), sqrt(2.0) / sqrt(fi));
        expect_normal(sh[k], RCL_INIT_KAIMING_NORMAL, 1, 1.0f, 1 / sqrt(fo), sqrt(2.0) / sqrt(fo));
    }
}

static void test_kaiming_uniform(void **state)
{
    (void)state;
    const shape sh[2] = {CONV, LIN};
    for (int k = 0; k < 2; k++) {
        double fi = fan_in(sh[k]), fo = fan_out(sh[k]);
        expect_uniform(sh[k], RCL_INIT_KAIMING_UNIFORM, 0, 0, sqrt(2.0) * sqrt(3 / fi),
                       sqrt(2.0) * sqrt(3 / fo));
        expect_uniform(sh[k], RCL_INIT_KAIMING_UNIFORM, 1, 0, sqrt(2.0) * sqrt(3 / fo),
                       sqrt(2.0) * sqrt(3 / fi));
        /* nn.Linear's a=sqrt(5): gain sqrt(2/(1+5)) gives 1/sqrt(fan_in) */
        expect_uniform(sh[k], RCL_INIT_KAIMING_UNIFORM, 0, (float)sqrt(1 / 3.0), 1 / sqrt(fi),
                       sqrt(2.0) * sqrt(3 / fi));
    }
}

static void test_xavier(void **state)
{
    (void)state;
    const shape sh[2] = {CONV, LIN};
    for (int k = 0; k < 2; k++) {
        double fi = fan_in(sh[k]), fo = fan_out(sh[k]), s = fi + fo;
        /* gain 1 by default; fan mode is not used (the two modes agree) */
        for (int mode = 0; mode < 2; mode++) {
            /* against Kaiming normal fan_in, the course's comparison */
            expect_normal(sh[k], RCL_INIT_XAVIER_NORMAL, mode, 0, sqrt(2 / s), sqrt(2 / fi));
            expect_uniform(sh[k], RCL_INIT_XAVIER_UNIFORM, mode, 0, sqrt(6 / s), sqrt(6 / fi));
        }
        /* gain 5/3 (tanh), against gain 1 */
        expect_normal(sh[k], RCL_INIT_XAVIER_NORMAL, 0, 5.0f / 3, 5.0 / 3 * sqrt(2 / s), sqrt(2 / s));
        expect_uniform(sh[k], RCL_INIT_XAVIER_UNIFORM, 0, 5.0f / 3, 5.0 / 3 * sqrt(6 / s),
                       sqrt(6 / s));
    }
}

/* The default scheme is torchvision's init exactly as before the schemes
 * existed: conv N(0, 2/fan_out), linear U(+-1/sqrt(fan_in)), gain and mode
 * ignored; the same draws, bit for bit. */
static void test_default(void **state)
{
    (void)state;
    const shape sh[2] = {CONV, LIN};
    for (int k = 0; k < 2; k++) {
        size_t n = numel(sh[k]);
        float *w = fill(sh[k], RCL_INIT_DEFAULT, 0, 0, 5);
        float *w2 = fill(sh[k], RCL_INIT_DEFAULT, 1, 3.0f, 5);
        assert_memory_equal(w, w2, n * sizeof *w);
        rcl_rng r;
        rcl_rng_seed(&r, 5);
        if (sh[k].is_conv) {
            double std = sqrt(2.0) / sqrt(fan_out(sh[k]));
            for (size_t i = 0; i < n; i++) assert_true(w[i] == (float)(std * rcl_rng_normal(&r)));
            expect_normal(sh[k], RCL_INIT_DEFAULT, 0, 0, std, sqrt(2.0) / sqrt(fan_in(sh[k])));
        } else {
            double b = 1.0 / sqrt(fan_in(sh[k]));
            for (size_t i = 0; i < n; i++)
                assert_true(w[i] == (float)((2 * rcl_rng_uniform(&r) - 1) * b));
            expect_uniform(sh[k], RCL_INIT_DEFAULT, 0, 0, b, sqrt(2.0) * sqrt(3 / fan_in(sh[k])));
        }
        free(w);
        free(w2);
    }
}

static void test_linear_bias(void **state)
{
    (void)state;
    int n = 200000, fi = 512;
    float *b = malloc((size_t)n * sizeof *b);
    assert_non_null(b);
    rcl_rng r;
    rcl_rng_seed(&r, 3);
    rcl_init_linear_bias_fill(b, n, fi, &r);
    stats s = stats_of(b, (size_t)n);
    double bound = 1 / sqrt((double)fi);
    assert_true(fits(s, bound / sqrt(3.0), 1.8));
    assert_false(fits(s, sqrt(2.0) * bound, 1.8));
    assert_true(s.maxabs <= bound * (1 + 1e-6) && s.maxabs > bound * (1 - 1e-4));
    free(b);
}

/* W flattened to (rows, cols): rows < cols gives W W^T = gain^2 I, else
 * W^T W = gain^2 I. And torch's Q: redraw A (the same N(0,1) in row-major
 * (rows, cols) order); the QR was of A (tall, square) or A^T (wide), so
 * R = W^T A / gain (tall) or W A^T / gain (wide) is upper triangular
 * (n x n, n = min(rows, cols)) with a positive diagonal. */
static void check_orthogonal(shape sh, float gain)
{
    uint64_t seed = 77;
    float *w = fill(sh, RCL_INIT_ORTHOGONAL, 0, gain, seed);
    double g = gain == 0 ? 1.0 : gain;
    int rows = sh.o, cols = sh.c * sh.kh * sh.kw;
    int wide = rows < cols, n = wide ? rows : cols; /* torch transposes only when rows < cols */
    double *a = malloc((size_t)rows * cols * sizeof *a);
    assert_non_null(a);
    rcl_rng r;
    rcl_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)rows * cols; i++) a[i] = rcl_rng_normal(&r);
    double worst = 0, rmin = INFINITY, below = 0, rmax = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double d = 0, rij = 0;
            if (wide) /* (W W^T)_ij over the cols; R_ij = (W A^T)_ij / g */
                for (int k = 0; k < cols; k++) {
                    d += (double)w[(size_t)i * cols + k] * w[(size_t)j * cols + k];
                    rij += (double)w[(size_t)i * cols + k] * a[(size_t)j * cols + k];
                }
            else /* (W^T W)_ij over the rows; R_ij = (W^T A)_ij / g */
                for (int k = 0; k < rows; k++) {
                    d += (double)w[(size_t)k * cols + i] * w[(size_t)k * cols + j];
                    rij += (double)w[(size_t)k * cols + i] * a[(size_t)k * cols + j];
                }
            d /= g * g;
            rij /= g;
            double e = fabs(d - (i == j ? 1.0 : 0.0));
            if (e > worst) worst = e;
            if (fabs(rij) > rmax) rmax = fabs(rij);
            if (i == j && rij < rmin) rmin = rij;
            if (i > j && fabs(rij) > below) below = fabs(rij);
        }
    if (worst > 1e-4)
        fail_msg("orthogonal %dx%d gain %g: |W W^T / g^2 - I| = %g", rows, cols, g, worst);
    if (!(rmin > 0) || below > 1e-4 * rmax)
        fail_msg("orthogonal %dx%d: R min diag %g, max below diag %g (max %g)", rows, cols, rmin,
                 below, rmax);
    free(a);
    free(w);
}

static void test_orthogonal(void **state)
{
    (void)state;
    check_orthogonal((shape){64, 32, 3, 3, 1}, 0);      /* wide conv 64 x 288 */
    check_orthogonal((shape){64, 32, 3, 3, 1}, 2.0f);   /* gain 2: W W^T = 4 I */
    check_orthogonal((shape){300, 100, 1, 1, 0}, 0);    /* tall linear */
    check_orthogonal((shape){300, 100, 1, 1, 0}, 0.5f);
    check_orthogonal((shape){600, 16, 3, 3, 1}, 1.5f);  /* tall conv 600 x 144 */
    check_orthogonal((shape){10, 512, 1, 1, 0}, 0);     /* a classifier */
    check_orthogonal((shape){48, 48, 1, 1, 0}, 0);      /* square */
    check_orthogonal((shape){1, 7, 1, 1, 0}, 0);        /* one row: x / |x| */
    check_orthogonal((shape){7, 1, 1, 1, 0}, 0);        /* one column */
}

static void test_seed(void **state)
{
    (void)state;
    const shape sh = {32, 16, 3, 3, 1};
    size_t n = numel(sh);
    for (int s = 0; s < RCL_INIT_COUNT; s++) {
        float *a = fill(sh, (rcl_init_scheme)s, 0, 0, 11);
        float *b = fill(sh, (rcl_init_scheme)s, 0, 0, 11);
        float *c = fill(sh, (rcl_init_scheme)s, 0, 0, 12);
        assert_memory_equal(a, b, n * sizeof *a);
        size_t same = 0;
        for (size_t i = 0; i < n; i++) same += a[i] == c[i];
        if (same > n / 100) fail_msg("%s: seeds 11 and 12 agree on %zu of %zu",
                                     rcl_init_scheme_name((rcl_init_scheme)s), same, n);
        free(a);
        free(b);
        free(c);
    }
}

static void test_invalid(void **state)
{
    (void)state;
    float w[16];
    rcl_rng r;
    rcl_rng_seed(&r, 1);
    rcl_init_config cfg = {.scheme = RCL_INIT_KAIMING_NORMAL};
    assert_int_equal(rcl_init_fill(w, 0, 4, 1, 1, 0, &cfg, &r), RCL_ERR_INVALID);
    assert_int_equal(rcl_init_fill(w, 4, 4, 0, 1, 1, &cfg, &r), RCL_ERR_INVALID);
    assert_int_equal(rcl_init_fill(NULL, 4, 4, 1, 1, 0, &cfg, &r), RCL_ERR_INVALID);
    cfg.gain = -1.0f;
    assert_int_equal(rcl_init_fill(w, 4, 4, 1, 1, 0, &cfg, &r), RCL_ERR_INVALID);
    cfg.gain = NAN;
    assert_int_equal(rcl_init_fill(w, 4, 4, 1, 1, 0, &cfg, &r), RCL_ERR_INVALID);
    cfg.gain = INFINITY;
    assert_int_equal(rcl_init_fill(w, 4, 4, 1, 1, 0, &cfg, &r), RCL_ERR_INVALID);
    cfg.gain = 0;
    cfg.scheme = RCL_INIT_COUNT;
    assert_int_equal(rcl_init_fill(w, 4, 4, 1, 1, 0, &cfg, &r), RCL_ERR_INVALID);
    cfg.scheme = (rcl_init_scheme)-1;
    assert_int_equal(rcl_init_fill(w, 4, 4, 1, 1, 0, &cfg, &r), RCL_ERR_INVALID);
    cfg.scheme = RCL_INIT_ORTHOGONAL;
    assert_int_equal(rcl_init_fill(w, 4, 4, 1, 1, 0, &cfg, &r), RCL_OK);
}

static void test_names(void **state)
{
    (void)state;
    const char *expect[RCL_INIT_COUNT] = {"default", "kaiming-normal", "kaiming-uniform",
                                          "xavier-normal", "xavier-uniform", "orthogonal"};
    for (int s = 0; s < RCL_INIT_COUNT; s++) {
        const char *name = rcl_init_scheme_name((rcl_init_scheme)s);
        assert_string_equal(name, expect[s]);
        rcl_init_scheme out = RCL_INIT_COUNT;
        assert_int_equal(rcl_init_scheme_parse(name, &out), RCL_OK);
        assert_int_equal(out, s);
    }
    rcl_init_scheme out = RCL_INIT_COUNT;
    assert_int_equal(rcl_init_scheme_parse("xavier_normal", &out), RCL_OK);
    assert_int_equal(out, RCL_INIT_XAVIER_NORMAL);
    assert_int_equal(rcl_init_scheme_parse("kaiming_uniform", &out), RCL_OK);
    assert_int_equal(out, RCL_INIT_KAIMING_UNIFORM);
    const char *bad[] = {"", "kaiming", "xavier", "Xavier-normal", "orthogonal ", "default-",
                         "kaiming-normal-", "he", "xavier-normalx", "unknown"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = RCL_INIT_COUNT;
        assert_int_equal(rcl_init_scheme_parse(bad[i], &out), RCL_ERR_INVALID);
        assert_int_equal(out, RCL_INIT_COUNT);
        assert_non_null(strstr(rcl_last_error(), "init scheme"));
    }
    assert_int_equal(rcl_init_scheme_parse(NULL, &out), RCL_ERR_INVALID);
    assert_int_equal(rcl_init_scheme_parse("default", NULL), RCL_ERR_INVALID);
    assert_string_equal(rcl_init_scheme_name(RCL_INIT_COUNT), "unknown");
    assert_string_equal(rcl_init_scheme_name((rcl_init_scheme)-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kaiming_normal), cmocka_unit_test(test_kaiming_uniform),
        cmocka_unit_test(test_xavier),         cmocka_unit_test(test_default),
        cmocka_unit_test(test_linear_bias),    cmocka_unit_test(test_orthogonal),
        cmocka_unit_test(test_seed),           cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("host_init", tests, NULL, NULL);
}
