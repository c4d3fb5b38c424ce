/* Strict number parsing for the command lines of resnet-cl and
 * resnet-cl-tune (both link this file): the whole string must be a number
 * in range, so a bad value is an error, never a silent 0. */
#include "tools/cli_parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int cli_parse_int(const char *s, long lo, long hi, int *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int cli_parse_float(const char *s, float *out)
{
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = (float)v;
    return 0;
}
