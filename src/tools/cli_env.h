/* Process environment that resnet-cl and resnet-cl-tune set up before the
 * first OpenCL call. */
#ifndef RCL_CLI_ENV_H
#define RCL_CLI_ENV_H

/* Pin PoCL's CPU worker threads, one per core (POCL_AFFINITY=1), unless the
 * environment already says otherwise. Unpinned, the workers sleep between
 * kernels and are at times woken two on one core: measured on a
 * 2-core VM, about a third of GEMM timings ran at half speed
 * (docs/speed.md). Not where the process may not run on every CPU
 * (taskset, a container's cpuset): PoCL pins worker i to CPU i. Must run
 * before the first OpenCL call (PoCL reads the variable when its pthread
 * device starts); other drivers ignore it. Returns the value in effect
 * ("unset" when left unset). */
const char *cli_env_pin_pocl_workers(void);

#endif
