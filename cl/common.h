/* Prepended to every program in cl/. Host passes tunables as -D options;
 * each kernel file gives its own defaults with #ifndef. */
#ifndef RCL_CL_COMMON_H
#define RCL_CL_COMMON_H

/* Work-group size for plain elementwise kernels (1-D). */
#ifndef WG
#define WG 64
#endif

#endif
