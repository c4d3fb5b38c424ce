#include "harness.h"
#include "gemm/gemm_params.h" /* rcl_gemm_vec_width */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rcl_ctx *T_CTX;

int tu_sweep_all(void)
{
    const char *e = getenv("RESNET_CL_TEST_SWEEP");
    if (e && !strcmp(e, "all")) return 1;
    if (e && !strcmp(e, "cover")) return 0;
    return rcl_gemm_vec_width(T_CTX) >= 4;
}

int tu_sweep(int i, int stride)
{
    return tu_sweep_all() || stride <= 1 || i % stride == 0;
}

/* A software rasterizer posing as an OpenCL device: correct, but far too
 * slow for the CLI training tests. */
static int slow_device(const rcl_device_info *d)
{
    static const char *const names[] = {"llvmpipe", "softpipe", "lavapipe", "swiftshader"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strstr(d->name, names[i])) return 1;
    return 0;
}

static int run_main(int argc, char **argv, const char *suite, const struct CMUnitTest *tests,
                    size_t n, int fast)
{
    int only = -1;
    /* --param "key PARAM value": set on every context before the tests run
     * (e.g. a GPU's defaults on a CPU driver: --param "gemm DEFAULT_PATH 0"
     * --param "conv WINOGRAD 0"; the tests that set parameters themselves
     * still do) */
    enum { MAXP = 16 };
    char pkey[MAXP][64], pname[MAXP][32];
    int pval[MAXP], np = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) only = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            cmocka_set_test_filter(argv[++i]); /* run only tests matching this name/pattern */
        else if (!strcmp(argv[i], "--param") && i + 1 < argc && np < MAXP &&
                 sscanf(argv[i + 1], "%63s %31s %d", pkey[np], pname[np], &pval[np]) == 3) {
            np++;
            i++;
        } else {
            fprintf(stderr, "%s: unknown argument '%s' (use --device N, --filter PATTERN, "
                    "--param \"key PARAM value\")\n", argv[0], argv[i]);
            return 2;
        }
    }
    rcl_device_info devs[RCL_MAX_DEVICES];
    int nd = 0;
    int st = rcl_devices_list(devs, RCL_MAX_DEVICES, &nd);
    if (st != RCL_OK) {
        fprintf(stderr, "%s: %s: %s\n", suite, rcl_strerror(st), rcl_last_error());
        return 1;
    }
    if (only >= nd) {
        fprintf(stderr, "%s: device %d does not exist (%d found)\n", suite, only, nd);
        return 1;
    }
    if (nd == 0) {
        fprintf(stderr, "%s: no OpenCL device found (install PoCL: ci/setup.sh)\n", suite);
        return 1;
    }
    if (fast && only < 0) {
        const char *env = getenv("RESNET_CL_TEST_TRAIN_DEVICE");
        if (env && *env) {
            only = atoi(env);
            if (only < 0 || only >= nd) {
                fprintf(stderr, "%s: RESNET_CL_TEST_TRAIN_DEVICE=%s: no such device (%d found)\n",
                        suite, env, nd);
                return 1;
            }
            printf("%s: training tests on device %d (RESNET_CL_TEST_TRAIN_DEVICE)\n", suite, only);
        } else {
            only = 0;
            while (only < nd - 1 && slow_device(&devs[only])) only++;
            printf("%s: training tests on device %d (%s), the first that is not a software "
                   "rasterizer; RESNET_CL_TEST_TRAIN_DEVICE=N or --device N picks another\n",
                   suite, only, devs[only].name);
        }
    }
    int failures = 0;
    for (int d = 0; d < nd; d++) {
        if (only >= 0 && d != only) continue;
        st = rcl_ctx_create(&T_CTX, d, NULL);
        if (st != RCL_OK) {
            fprintf(stderr, "%s: device %d: %s: %s\n", suite, d, rcl_strerror(st), rcl_last_error());
            failures++;
            continue;
        }
        for (int k = 0; k < np && st == RCL_OK; k++) {
            st = rcl_ctx_set_param(T_CTX, pkey[k], pname[k], pval[k]);
            if (st == RCL_OK) printf("%s: %s %s %d (--param)\n", suite, pkey[k], pname[k], pval[k]);
        }
        if (st != RCL_OK) {
            fprintf(stderr, "%s: --param: %s: %s\n", suite, rcl_strerror(st), rcl_last_error());
            rcl_ctx_destroy(T_CTX);
            T_CTX = NULL;
            failures++;
            continue;
        }
        char name[640];
        snprintf(name, sizeof name, "%s@dev%d (%s / %s)", suite, d, devs[d].platform_name,
                 devs[d].name);
        failures += _cmocka_run_group_tests(name, tests, n, NULL, NULL);
        rcl_ctx_destroy(T_CTX);
        T_CTX = NULL;
    }
    return failures ? 1 : 0;
}

int rcl_test_main(int argc, char **argv, const char *suite, const struct CMUnitTest *tests,
                  size_t n)
{
    return run_main(argc, argv, suite, tests, n, 0);
}

int rcl_test_main_fast(int argc, char **argv, const char *suite, const struct CMUnitTest *tests,
                       size_t n)
{
    return run_main(argc, argv, suite, tests, n, 1);
}
