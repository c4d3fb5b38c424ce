/* Small file-system helpers shared by the program cache, the tune cache,
 * the safetensors writer and the CLI. */
#include "base/base.h"

#include "rcl/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rcl_mkdir_p(const char *path)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* ---- atomic replacement */

/* Temporary names "<path>.tmp.<pid>.<n>": unique within the process by the
 * counter, across processes by the pid, and O_EXCL skips any left over by a
 * crashed process with a recycled pid. (Not mkstemp: it creates mode 0600,
 * where the writers have always created 0666 less the umask.) */
static atomic_uint tmp_counter;

/* errno of the last rcl_atomic_write's system failure on this thread */
static _Thread_local int last_write_errno;

/* Create the temporary file; its name is left in *tmp (malloc'ed). */
static int open_temp(const char *path, char **tmp, int *fd)
{
    size_t cap = strlen(path) + 64;
    char *name = malloc(cap);
    if (!name) return rcl_fail(RCL_ERR_NOMEM, "%s: temporary file name", path);
    for (int attempt = 0; attempt < 1000; attempt++) {
        unsigned n = atomic_fetch_add(&tmp_counter, 1u);
        snprintf(name, cap, "%s.tmp.%ld.%u", path, (long)getpid(), n);
        int f = open(name, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (f >= 0) {
            *tmp = name;
            *fd = f;
            return RCL_OK;
        }
        if (errno != EEXIST) {
            int err = errno;
            last_write_errno = err;
            int st = rcl_fail(RCL_ERR_IO, "cannot write %s: %s (create %s)", path,
                              strerror(err), name);
            free(name);
            return st;
        }
    }
    free(name);
    return rcl_fail(RCL_ERR_IO, "cannot write %s: no free temporary file name", path);
}

/* Best effort: make the rename itself durable (some file systems refuse
 * fsync on a directory; the new content is in place either way). */
static void sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) dir = strdup(".");
    else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = 0;
        }
    }
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int rcl_atomic_write_errno(void) { return last_write_errno; }

/* Record a system failure of step `step` on the temporary file: "cannot
 * write P: <strerror> (<step> of P.tmp.*)", errno kept for
 * rcl_atomic_write_errno. */
static int write_fail(const char *path, const char *tmp, const char *step, int err)
{
    last_write_errno = err;
    return rcl_fail(RCL_ERR_IO, "cannot write %s: %s (%s of %s)", path, strerror(err), step, tmp);
}

int rcl_atomic_write(const char *path, rcl_write_fn fn, void *user)
{
    last_write_errno = 0;
    if (!path || !*path || !fn) return rcl_fail(RCL_ERR_INVALID, "rcl_atomic_write: bad arguments");
    char *tmp = NULL;
    int fd = -1;
    RCL_TRY(open_temp(path, &tmp, &fd));
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int st = write_fail(path, tmp, "fdopen", errno);
        close(fd);
        unlink(tmp);
        free(tmp);
        return st;
    }
    errno = 0;
    int st = fn(f, user);
    if (st != RCL_OK && ferror(f) && errno) last_write_errno = errno; /* fn's write failed */
    if (st == RCL_OK && ferror(f)) st = write_fail(path, tmp, "write", errno ? errno : EIO);
    if (st == RCL_OK && rcl_fault_hit(RCL_FAULT_WRITE)) /* test hook: a full disk */
        st = write_fail(path, tmp, "flush", ENOSPC);
    if (st == RCL_OK && fflush(f) != 0) st = write_fail(path, tmp, "flush", errno);
    if (st == RCL_OK && fsync(fileno(f)) != 0) st = write_fail(path, tmp, "fsync", errno);
    if (fclose(f) != 0 && st == RCL_OK) st = write_fail(path, tmp, "close", errno);
    if (st == RCL_OK && rename(tmp, path) != 0) st = write_fail(path, tmp, "rename", errno);
    if (st != RCL_OK) unlink(tmp);
    else sync_dir_of(path);
    free(tmp);
    return st;
}

typedef struct {
    const char *path;
    const void *data;
    size_t len;
} buf_span;

static int write_span(FILE *f, void *user)
{
    const buf_span *b = user;
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len)
        return rcl_fail(RCL_ERR_IO, "cannot write %s: %s", b->path, strerror(errno ? errno : EIO));
    return RCL_OK;
}

int rcl_atomic_write_buf(const char *path, const void *data, size_t len)
{
    if (len && !data) return rcl_fail(RCL_ERR_INVALID, "rcl_atomic_write_buf: NULL data");
    buf_span b = {path, data, len};
    return rcl_atomic_write(path, write_span, &b);
}
