/* Command-line parsing for resnet-cl and resnet-cl-tune (both link this
 * file): strict numbers (the whole string must be a number in range, so a
 * bad value is an error, never a silent 0) and getopt_long with one set of
 * messages. */
#include "tools/cli_parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- getopt_long (cli_parse.h) */

void cli_getopt_init(cli_getopt *g, const char *prog, int argc, char **argv,
                     const struct option *opts)
{
    memset(g, 0, sizeof *g);
    g->prog = prog;
    g->argc = argc;
    g->argv = argv;
    g->opts = opts;
    g->index = -1;
}

static const struct option *opt_by_val(const cli_getopt *g, int val)
{
    for (const struct option *o = g->opts; o->name; o++)
        if (o->val == val) return o;
    return NULL;
}

/* "--wat=3" -> prints "--wat" */
static int opt_len(const char *a)
{
    return (int)strcspn(a, "=");
}

int cli_getopt_next(cli_getopt *g)
{
    if (!g->started) {
        optind = 0; /* GNU: start afresh (another argv, another option table) */
        opterr = 0;
        g->started = 1;
    }
    int idx = -1;
    optarg = NULL;
    /* "+": stop at the first operand; ":": report a missing value as ':' */
    int c = getopt_long(g->argc, g->argv, "+:h", g->opts, &idx);
    g->index = idx;
    g->arg = optarg;
    g->name[0] = 0;
    if (c == -1) return -1;
    const char *at = optind > 1 && optind - 1 < g->argc ? g->argv[optind - 1] : "";
    if (c == ':') {
        const struct option *o = opt_by_val(g, optopt);
        if (o) snprintf(g->name, sizeof g->name, "--%s", o->name);
        else snprintf(g->name, sizeof g->name, "-%c", optopt);
        fprintf(stderr, "%s: missing value for %s (see %s --help)\n", g->prog, g->name, g->prog);
        return CLI_OPT_ERROR;
    }
    if (c == '?') {
        const struct option *o = optopt ? opt_by_val(g, optopt) : NULL;
        if (o) { /* --nesterov=1 */
            fprintf(stderr, "%s: option --%s takes no value (see %s --help)\n", g->prog, o->name,
                    g->prog);
        } else if (optopt) { /* -x */
            fprintf(stderr, "%s: unknown option '-%c' (see %s --help)\n", g->prog, optopt, g->prog);
        } else { /* --wat, or a prefix of more than one option */
            int n = opt_len(at), dashes = at[0] == '-' ? (at[1] == '-' ? 2 : 1) : 0, matches = 0;
            char list[512] = "";
            size_t len = 0;
            for (const struct option *p = g->opts; p->name && n > dashes; p++)
                if (!strncmp(p->name, at + dashes, (size_t)(n - dashes))) {
                    matches++;
                    int w = snprintf(list + len, sizeof list - len, "%s--%s", len ? ", " : "", p->name);
                    if (w > 0 && len + (size_t)w < sizeof list) len += (size_t)w;
                }
            if (matches > 1)
                fprintf(stderr, "%s: ambiguous option '%.*s' (%s) (see %s --help)\n", g->prog, n, at,
                        list, g->prog);
            else
                fprintf(stderr, "%s: unknown option '%.*s' (see %s --help)\n", g->prog, n, at,
                        g->prog);
        }
        return CLI_OPT_ERROR;
    }
    if (idx >= 0) snprintf(g->name, sizeof g->name, "--%s", g->opts[idx].name);
    else snprintf(g->name, sizeof g->name, "-%c", c);
    return c;
}

int cli_parse_only = 0;

int cli_getopt_operand(const cli_getopt *g)
{
    (void)g;
    return optind < 1 ? 1 : optind;
}

int cli_getopt_no_operands(const cli_getopt *g)
{
    int i = cli_getopt_operand(g);
    if (i >= g->argc) return 0;
    fprintf(stderr, "%s: unexpected argument '%s' (see %s --help)\n", g->prog, g->argv[i], g->prog);
    return 2;
}

int cli_getopt_bad(const cli_getopt *g, const char *want)
{
    fprintf(stderr, "%s: bad value '%s' for %s (want %s)\n", g->prog, g->arg ? g->arg : "",
            g->name, want);
    return 2;
}

int cli_getopt_int(const cli_getopt *g, long lo, long hi, int *out)
{
    if (!cli_parse_int(g->arg, lo, hi, out)) return 0;
    char want[64];
    if (hi >= (1L << 20) && (lo == 0 || lo == 1))
        snprintf(want, sizeof want, "a %s integer", lo ? "positive" : "non-negative");
    else snprintf(want, sizeof want, "an integer in %ld..%ld", lo, hi);
    return cli_getopt_bad(g, want);
}

int cli_getopt_float(const cli_getopt *g, double above, int or_equal, float *out)
{
    float v;
    if (!cli_parse_float(g->arg, &v) && (or_equal ? v >= above : v > above)) {
        *out = v;
        return 0;
    }
    char want[64];
    snprintf(want, sizeof want, "a number %s %g", or_equal ? ">=" : ">", above);
    return cli_getopt_bad(g, want);
}
