/* Prepended to every program in cl/. Tunables (WG, BN_WG, RED_WG, TS, KC)
 * have no default here: the host always passes them as -D options, with
 * the values of src/runtime/tunables.def (or the tune cache); a kernel file
 * that uses one stops with #error when it is missing. */
#ifndef RCL_CL_COMMON_H
#define RCL_CL_COMMON_H

#endif
