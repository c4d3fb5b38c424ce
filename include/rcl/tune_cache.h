/* Tune cache: per-device text file of tuned kernel parameters written by
 * resnet-cl-tune and loaded into a context's tunable table
 * (rcl_ctx_set_param). One file per device under
 * $XDG_CACHE_HOME/resnet-cl/tune/ (rcl_cache_dir()):
 *
 *   resnet-cl tune cache v2            (v1 files are read without their
 *                                      "conv WINOGRAD" entry: their tuner
 *                                      wrote it without timing it against
 *                                      the device's default)
 *   platform <platform version>
 *   device <device name>
 *   driver <driver version>
 *   compute_units <n>
 *   env POCL_MAX_PTHREAD_COUNT=<value|-> POCL_CPU_MAX_CU_COUNT=<value|-> POCL_AFFINITY=<value|->
 *   entries <n>
 *   param <key> <param> <value>         (n lines, e.g. "param gemm.NN_m6_n12_k9 PATH 1")
 *   checksum <16 hex digits: FNV-1a 64 of every byte before this line>
 *
 * The platform..env lines form the device key. A file whose key differs
 * from the device's (stale: driver, runtime environment or compute units
 * changed; foreign: another device), whose checksum or entry count is wrong,
 * or that is truncated or malformed is never applied. Library calls do not
 * print: they return a status and a one-line message for the caller. */
#ifndef RCL_TUNE_CACHE_H
#define RCL_TUNE_CACHE_H

#include "rcl/runtime.h"

typedef struct rcl_tune_entry {
    char key[64];    /* kernel key and shape class, e.g. "gemm.NT_m6_n7_k13" */
    char param[32];  /* e.g. "MWI" */
    int value;
} rcl_tune_entry;

/* The device key (the header lines platform..env, '\n'-separated) of ctx's
 * device in the current environment. */
int rcl_tune_device_key(const rcl_ctx *ctx, char *buf, size_t cap);

/* Default cache file of ctx's device: <rcl_cache_dir()>/tune/<name>.txt,
 * <name> from the platform and device names. */
int rcl_tune_cache_path(const rcl_ctx *ctx, char *buf, size_t cap);

/* Write `n` entries under `device_key` to `path` atomically (temporary file,
 * fsync, rename); creates the directory. */
int rcl_tune_file_write(const char *path, const char *device_key, const rcl_tune_entry *e, int n);

/* Read `path` expecting `device_key`. On success *out is a malloc'd array of
 * *n entries (free() it). Errors: RCL_ERR_NOT_FOUND (no file), RCL_ERR_IO,
 * RCL_ERR_FORMAT (corrupt, truncated, stale or foreign); `msg` (may be NULL)
 * receives the reason, or on success a note on what was dropped ("" if
 * nothing). */
int rcl_tune_file_read(const char *path, const char *device_key, rcl_tune_entry **out, int *n,
                       char *msg, size_t msg_cap);

/* Save entries for ctx's device to `path` (NULL: rcl_tune_cache_path). */
int rcl_tune_cache_save(const rcl_ctx *ctx, const char *path, const rcl_tune_entry *e, int n);

/* Load the tune cache of ctx's device (`path` NULL: rcl_tune_cache_path)
 * into its tunable table, all entries or none. `msg` receives one line for
 * the user: "loaded tune cache <path> (N entries)", or why nothing was
 * loaded. Returns RCL_OK, RCL_ERR_NOT_FOUND (no cache: not an error for
 * callers), RCL_ERR_FORMAT (ignored: stale/foreign/corrupt; warn) or
 * another error. */
int rcl_tune_cache_load(rcl_ctx *ctx, const char *path, char *msg, size_t msg_cap);

#endif
