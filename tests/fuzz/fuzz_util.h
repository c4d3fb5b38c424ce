/* Helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): a
 * per-process temporary directory for the entry points that take a path,
 * removed at exit. */
#ifndef RCL_FUZZ_UTIL_H
#define RCL_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char fuzz_dir[256];
static char fuzz_files[8][320];
static int fuzz_nfiles;

static inline void fuzz_cleanup(void)
{
    for (int i = 0; i < fuzz_nfiles; i++) unlink(fuzz_files[i]);
    if (fuzz_dir[0]) rmdir(fuzz_dir);
}

/* The per-process directory (created on first use). */
static inline const char *fuzz_tmpdir(void)
{
    if (!fuzz_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/rcl-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_dir)) {
            perror("rcl fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    return fuzz_dir;
}

/* Write data to <tmpdir>/<name> (overwritten each call); returns its path. */
static inline const char *fuzz_write(const char *name, const void *data, size_t size)
{
    static char path[320];
    snprintf(path, sizeof path, "%s/%s", fuzz_tmpdir(), name);
    int known = 0;
    for (int i = 0; i < fuzz_nfiles; i++) known |= !strcmp(fuzz_files[i], path);
    if (!known && fuzz_nfiles < 8) snprintf(fuzz_files[fuzz_nfiles++], sizeof fuzz_files[0], "%s", path);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror("rcl fuzz: writing the input");
        abort();
    }
    return path;
}

#endif
