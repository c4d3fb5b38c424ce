/* Process environment set up before the first OpenCL call (cli_env.h). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */
#include "tools/cli_env.h"

#include <stdlib.h>
#ifdef __linux__
#include <sched.h>
#include <unistd.h>
#endif

/* PoCL pins its i-th worker to CPU i: safe only where this process may run
 * on CPUs 0..n-1, every online CPU (not under taskset or a container's
 * cpuset, where newer PoCL aborts on the failing pthread_setaffinity_np). */
static int may_run_on_every_cpu(void)
{
#ifdef __linux__
    cpu_set_t set;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0 || n > CPU_SETSIZE || sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    for (long i = 0; i < n; i++)
        if (!CPU_ISSET((int)i, &set)) return 0;
    return 1;
#else
    return 0;
#endif
}

const char *cli_env_pin_pocl_workers(void)
{
    const char *v = getenv("POCL_AFFINITY");
    if (v && *v) return v; /* the user's choice, e.g. POCL_AFFINITY=0 */
    if (!may_run_on_every_cpu() || setenv("POCL_AFFINITY", "1", 1) != 0) return "unset";
    return "1";
}
