/* Base helpers with no OpenCL: hashing, random numbers, statistics, files.
 * The lowest layer of the library (docs/architecture.md); not installed. */
#ifndef RCL_BASE_H
#define RCL_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 64-bit FNV-1a, continued from `h` (start with RCL_FNV_INIT; hash.c). */
#define RCL_FNV_INIT 0xcbf29ce484222325ull
uint64_t rcl_fnv1a(uint64_t h, const void *data, size_t len);

/* splitmix64 (Steele, Lea, Flood 2014): the one copy behind rcl_rng
 * (rng.c), the data loader's shuffles and the tuner's sampling.
 * rcl_splitmix64_mix is the output function, rcl_splitmix64_next advances
 * the state by the golden gamma and mixes it. */
#define RCL_SPLITMIX64_GAMMA 0x9E3779B97F4A7C15ull
static inline uint64_t rcl_splitmix64_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline uint64_t rcl_splitmix64_next(uint64_t *state)
{
    return rcl_splitmix64_mix(*state += RCL_SPLITMIX64_GAMMA);
}

/* Seconds on the monotonic clock (clock.c): every layer's timings. */
double rcl_now_s(void);

/* Median of v[0 .. n) (sorts v in place; 0 for n < 1; stats.c). */
double rcl_median(double *v, int n);

/* mkdir -p (mode 0755); 0 on success, -1 with errno set (fs_util.c). */
int rcl_mkdir_p(const char *path);

/* Atomic file replacement (fs_util.c). `fn` writes the whole content to `f`
 * and returns RCL_OK, or a status recorded with rcl_fail. The content goes
 * to a new uniquely named temporary file in the directory of `path`
 * ("<path>.tmp.*", created with mode 0666 less the umask, like fopen), which
 * is flushed, fsync'ed, closed and renamed over `path`; the directory is then
 * fsync'ed (best effort: the rename has happened). On any failure, of `fn`
 * or of the system, the temporary file is removed, `path` is left as it was,
 * and the status is returned (RCL_ERR_IO with the file name and errno text
 * for system errors). The directory must exist. */
typedef int (*rcl_write_fn)(FILE *f, void *user);
int rcl_atomic_write(const char *path, rcl_write_fn fn, void *user);

/* The errno of the system failure that made this thread's last
 * rcl_atomic_write fail (ENOSPC, EACCES, EROFS, ...; also a failed write
 * inside `fn` when the stream has its error flag set), 0 if it succeeded or
 * failed otherwise. The message (rcl_last_error) reads "cannot write P:
 * <strerror> (<step> of <temporary file>)". */
int rcl_atomic_write_errno(void);

/* rcl_atomic_write of the bytes data[0 .. len). */
int rcl_atomic_write_buf(const char *path, const void *data, size_t len);

/* Test hooks (fault.c, docs/errors.md): RESNET_CL_FAULT_<KIND>=N in the
 * environment makes the Nth event of that kind in the process fail, once:
 * LAUNCH a kernel enqueue (CL_OUT_OF_RESOURCES), READ a device-to-host read
 * (CL_OUT_OF_RESOURCES), ALLOC a device buffer creation
 * (CL_MEM_OBJECT_ALLOCATION_FAILURE), WRITE an rcl_atomic_write (ENOSPC at
 * the flush: the temporary file is removed, the target left as it was).
 * Read once, at the first event. */
typedef enum rcl_fault_kind {
    RCL_FAULT_LAUNCH = 0,
    RCL_FAULT_READ,
    RCL_FAULT_ALLOC,
    RCL_FAULT_WRITE,
    RCL_FAULT_KINDS
} rcl_fault_kind;
/* Counts one event of `kind`; 1 if it is the one to fail. */
int rcl_fault_hit(rcl_fault_kind kind);
/* Re-read the environment and restart the counts (tests that set the
 * variables in-process). */
void rcl_fault_reset(void);

#endif
