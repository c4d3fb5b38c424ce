/* Process environment that resnet-cl and resnet-cl-tune set up before the
 * first OpenCL call. */
#ifndef RCL_CLI_ENV_H
#define RCL_CLI_ENV_H

/* Pin PoCL's CPU worker threads, one per core (POCL_AFFINITY=1), unless the
 * environment already says otherwise. Unpinned, the workers sleep between
 * kernels and Linux often wakes two of them on one core: measured on a
 * 2-core VM, about a third of GEMM timings ran at half speed (README,
 * "Speed"). Must run before the first OpenCL call (PoCL reads it when its
 * pthread device starts); other drivers ignore the variable. Returns the
 * value in effect. */
const char *cli_env_pin_pocl_workers(void);

#endif
