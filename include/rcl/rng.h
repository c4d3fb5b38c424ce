/* Seeded host RNG (splitmix64 stream) for initialisation: reproducible across
 * devices and platforms. Caller-owned. */
#ifndef RCL_RNG_H
#define RCL_RNG_H

#include <stdint.h>

typedef struct rcl_rng {
    uint64_t state;
    int has_spare;
    double spare;
} rcl_rng;

void rcl_rng_seed(rcl_rng *r, uint64_t seed);
uint64_t rcl_rng_u64(rcl_rng *r);
double rcl_rng_uniform(rcl_rng *r);            /* [0, 1) */
double rcl_rng_normal(rcl_rng *r);             /* N(0, 1), Box-Muller */

#endif
