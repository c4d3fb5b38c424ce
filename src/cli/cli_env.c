/* Process environment set up before the first OpenCL call (cli_env.h). */
#define _POSIX_C_SOURCE 200809L
#include "cli_env.h"

#include <stdlib.h>

const char *cli_env_pin_pocl_workers(void)
{
    const char *v = getenv("POCL_AFFINITY");
    if (v && *v) return v; /* the user's choice, e.g. POCL_AFFINITY=0 */
    if (setenv("POCL_AFFINITY", "1", 1) != 0) return "unset";
    return "1";
}
