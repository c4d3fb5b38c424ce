#include "rcl/rng.h"

#include "base/base.h"

#include <math.h>

#define RCL_TWO_PI 6.283185307179586476925286766559

void rcl_rng_seed(rcl_rng *r, uint64_t seed)
{
    r->state = seed ^ 0x6A09E667F3BCC909ull;
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t rcl_rng_u64(rcl_rng *r) { return rcl_splitmix64_next(&r->state); }

double rcl_rng_uniform(rcl_rng *r) { return (double)(rcl_rng_u64(r) >> 11) / 9007199254740992.0; }

double rcl_rng_normal(rcl_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1, u2;
    do u1 = rcl_rng_uniform(r);
    while (u1 <= 0.0);
    u2 = rcl_rng_uniform(r);
    double m = sqrt(-2.0 * log(u1));
    r->spare = m * sin(RCL_TWO_PI * u2);
    r->has_spare = 1;
    return m * cos(RCL_TWO_PI * u2);
}
