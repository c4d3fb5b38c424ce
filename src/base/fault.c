/* Fault injection for tests (docs/errors.md): RESNET_CL_FAULT_LAUNCH=N,
 * RESNET_CL_FAULT_READ=N, RESNET_CL_FAULT_ALLOC=N and RESNET_CL_FAULT_WRITE=N
 * make the Nth event of that kind in the process fail (only that one). The
 * variables are read once, at the first event of any kind; unset, each hook
 * costs one relaxed atomic load. */
#include "base/base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static const char *const fault_env[RCL_FAULT_KINDS] = {
    "RESNET_CL_FAULT_LAUNCH", "RESNET_CL_FAULT_READ", "RESNET_CL_FAULT_ALLOC",
    "RESNET_CL_FAULT_WRITE"};

static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static long fault_at[RCL_FAULT_KINDS];        /* 0: off */
static atomic_int fault_any;
static atomic_long fault_count[RCL_FAULT_KINDS];

static void fault_read_env(void)
{
    int any = 0;
    for (int k = 0; k < RCL_FAULT_KINDS; k++) {
        const char *e = getenv(fault_env[k]);
        char *end = NULL;
        long v = e && *e ? strtol(e, &end, 10) : 0;
        fault_at[k] = end && *end == 0 && v > 0 ? v : 0;
        atomic_store(&fault_count[k], 0);
        any |= fault_at[k] > 0;
    }
    atomic_store(&fault_any, any);
}

int rcl_fault_hit(rcl_fault_kind kind)
{
    pthread_once(&fault_once, fault_read_env);
    if (!atomic_load_explicit(&fault_any, memory_order_relaxed) || (unsigned)kind >= RCL_FAULT_KINDS ||
        !fault_at[kind])
        return 0;
    return atomic_fetch_add(&fault_count[kind], 1) + 1 == fault_at[kind];
}

void rcl_fault_reset(void)
{
    pthread_once(&fault_once, fault_read_env);
    fault_read_env();
}
