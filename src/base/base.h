/* Base helpers with no OpenCL: hashing, statistics, files. The lowest layer
 * of the library (docs/architecture.md); not installed. */
#ifndef RCL_BASE_H
#define RCL_BASE_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a, continued from `h` (start with RCL_FNV_INIT; hash.c). */
#define RCL_FNV_INIT 0xcbf29ce484222325ull
uint64_t rcl_fnv1a(uint64_t h, const void *data, size_t len);

/* Median of v[0 .. n) (sorts v in place; 0 for n < 1; stats.c). */
double rcl_median(double *v, int n);

/* mkdir -p (mode 0755); 0 on success, -1 with errno set (fs_util.c). */
int rcl_mkdir_p(const char *path);

#endif
