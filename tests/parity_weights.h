/* Deterministic "parity" weights, generated from each tensor's name by the
 * same formula as tests/parity/make_fixture.py (docs/parity.md), so that the
 * PyTorch fixtures need not store any weights.
 *
 *   u_i = splitmix64(fnv1a64(name) + (i+1) * 0x9E3779B97F4A7C15) -> [-1, 1)
 *   conv weight u*sqrt(3/fan_in), fc weight u/sqrt(fan_in), fc bias 0.1u,
 *   BN weight 1+0.1u (0.1(1+0.1u) for layer*.bn2/bn3), BN bias 0.1u, running_mean 0.1u,
 *   running_var 1+0.05(u+1), "input" (u+1)/2; computed in double, stored
 *   as float. */
#ifndef RCL_TEST_PARITY_WEIGHTS_H
#define RCL_TEST_PARITY_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "rcl.h"
#include "rcl/model.h"

enum { PW_SAMPLES = 16 };

uint64_t pw_fnv1a64(const char *s);
/* Element i of the uniform stream of tensor `name`, in [-1, 1). */
double pw_uniform(uint64_t name_hash, uint64_t i);

/* Generated values of tensor `name` with n elements; ndim is PyTorch's rank
 * (4 conv weight, 2 fc weight, 1 vector) and fan_in = numel / out_features
 * (used by ndim 4 and 2). RCL_ERR_INVALID for a name with no formula. */
int pw_generate(float *out, size_t n, const char *name, int ndim, size_t fan_in);

/* Every parameter and BN buffer of m set to its generated value and every
 * counter to 0 (what make_fixture.py's load_generated does). */
int pw_fill_model(rcl_model *m);

/* The PW_SAMPLES sampled flat indices of tensor `name`:
 * (fnv1a64(name) + j*2654435761) mod numel, with 64-bit wrap-around. */
void pw_sample_indices(const char *name, size_t numel, size_t idx[PW_SAMPLES]);

#endif
