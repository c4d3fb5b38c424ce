/* The monotonic clock every layer times with (base.h rcl_now_s). */
#include "base/base.h"

#include <time.h>

double rcl_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
