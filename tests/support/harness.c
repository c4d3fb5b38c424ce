#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rcl_ctx *T_CTX;

int rcl_test_main(int argc, char **argv, const char *suite, const struct CMUnitTest *tests,
                  size_t n)
{
    int only = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) only = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            cmocka_set_test_filter(argv[++i]); /* run only tests matching this name/pattern */
        else {
            fprintf(stderr, "%s: unknown argument '%s' (use --device N, --filter PATTERN)\n",
                    argv[0], argv[i]);
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
    int failures = 0;
    for (int d = 0; d < nd; d++) {
        if (only >= 0 && d != only) continue;
        st = rcl_ctx_create(&T_CTX, d, NULL);
        if (st != RCL_OK) {
            fprintf(stderr, "%s: device %d: %s: %s\n", suite, d, rcl_strerror(st), rcl_last_error());
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
