/* Run the resnet-cl binary from tests and capture its output. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int run_va(char **out, const char *bin, const char *fmt, va_list ap)
{
    char args[4096], cmd[8192];
    vsnprintf(args, sizeof args, fmt, ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1 </dev/null", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = 0;
    int status = pclose(p);
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int tu_run(char **out, const char *fmt, ...)
{
    const char *bin = getenv("RESNET_CL_BIN");
    if (!bin) fail_msg("RESNET_CL_BIN not set (run via ctest)");
    va_list ap;
    va_start(ap, fmt);
    int rc = run_va(out, bin, fmt, ap);
    va_end(ap);
    return rc;
}

int tu_run_tune(char **out, const char *fmt, ...)
{
    const char *dir = getenv("RESNET_CL_BUILD_DIR");
    if (!dir) fail_msg("RESNET_CL_BUILD_DIR not set (run via ctest)");
    char bin[2048];
    snprintf(bin, sizeof bin, "%s/resnet-cl-tune", dir);
    va_list ap;
    va_start(ap, fmt);
    int rc = run_va(out, bin, fmt, ap);
    va_end(ap);
    return rc;
}
