/* Command-line parsing shared by resnet-cl and resnet-cl-tune: strict
 * number parsers, and a getopt_long loop with one set of error messages. */
#ifndef RCL_CLI_PARSE_H
#define RCL_CLI_PARSE_H

#include <getopt.h> /* struct option, no_argument, required_argument */

/* Parse a decimal integer in [lo, hi]; 0 on success, -1 otherwise. */
int cli_parse_int(const char *s, long lo, long hi, int *out);
/* Parse a finite number; 0 on success, -1 otherwise. */
int cli_parse_float(const char *s, float *out);

/* ---- getopt_long over one command's options.
 *
 * Each command has a `struct option` table (ending in {0}); every entry has
 * flag == NULL and a val that cli_getopt_next returns: 'h' for --help (-h
 * is always accepted as well), values >= 256 (CLI_OPT_FIRST) for the rest.
 * Parsing stops at the first operand or "--" (getopt's "+": global options
 * before the subcommand, its options after it), and restarts getopt for
 * every command (optind = 0). --opt=value and --opt value are both
 * accepted, as are unambiguous abbreviations (--epo for --epochs).
 * getopt itself prints nothing (opterr = 0): the messages are these, one
 * line on stderr each, starting with the command's name:
 *   unknown option '--wat' (see <prog> --help)
 *   ambiguous option '--n' (--nesterov, --normalize) (see <prog> --help)
 *   missing value for --epochs (see <prog> --help)
 *   option --nesterov takes no value (see <prog> --help)
 *   bad value 'x' for --epochs (want an integer in 1..100000)
 *   unexpected argument 'foo' (see <prog> --help) */
enum { CLI_OPT_FIRST = 256 };

typedef struct cli_getopt {
    const char *prog;              /* "resnet-cl train": starts each message */
    int argc;
    char **argv;                   /* argv[0]: the command's name, not parsed */
    const struct option *opts;
    int index;                     /* opts index of the last option (-1: -h) */
    const char *arg;               /* its value; NULL where it takes none */
    char name[64];                 /* "--epochs": how messages name it */
    int started;
} cli_getopt;

void cli_getopt_init(cli_getopt *g, const char *prog, int argc, char **argv,
                     const struct option *opts);
/* The next option's val; -1 when none is left (cli_getopt_operand gives the
 * first operand); CLI_OPT_ERROR after printing an unknown option, a missing
 * or unexpected value. */
enum { CLI_OPT_ERROR = -2 };
int cli_getopt_next(cli_getopt *g);
/* After -1: the index in argv of the first operand (argc: none). */
int cli_getopt_operand(const cli_getopt *g);
/* After -1, for commands without operands: 0, or 2 after printing
 * "unexpected argument" for the first one. */
int cli_getopt_no_operands(const cli_getopt *g);

/* The value of the current option as an integer in [lo, hi] (0), or 2
 * after printing "bad value 'v' for --opt (want ...)". The want text: "a
 * non-negative integer" or "a positive integer" for open-ended ranges
 * (hi >= 2^20), else "an integer in lo..hi". */
int cli_getopt_int(const cli_getopt *g, long lo, long hi, int *out);
/* The value as a finite number greater than `above` (or at least `above`
 * with or_equal); 2 after printing a bad value otherwise. */
int cli_getopt_float(const cli_getopt *g, double above, int or_equal, float *out);
/* Print "bad value 'v' for --opt (want <want>)"; returns 2. */
int cli_getopt_bad(const cli_getopt *g, const char *want);

/* Parse only (the fuzz target tests/fuzz/fuzz_cli.c sets it): every command
 * of resnet-cl and resnet-cl-tune returns CLI_PARSED right after its
 * command line has been parsed and checked, before it reads a file, opens a
 * device or starts work. 0 in the programs. */
extern int cli_parse_only;
enum { CLI_PARSED = 0 };

#endif
