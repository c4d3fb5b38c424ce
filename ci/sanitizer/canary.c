/* The sanitizer job's canary (ci/sanitize.sh): built with the job's flags
 * and run with its environment before the tests, it must produce a report
 * in the log directory -- "leak" leaks 10 bytes, "ub" shifts into the sign
 * bit -- so that a job whose report capture broke fails instead of passing
 * silently. Never part of the build. */
#include <stdlib.h>
#include <string.h>

void *volatile rcl_canary_sink;

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "leak")) {
        rcl_canary_sink = malloc(10);
        rcl_canary_sink = NULL;
    } else if (argc > 1 && !strcmp(argv[1], "ub")) {
        volatile int one = 1, bits = 31;
        return (one << bits) & 0x1000 ? 3 : 0;
    }
    return 0;
}
