/* File-system helpers of the data pipeline: whole-file reads, path joins,
 * sorted directory listings. */
#include "data/data_internal.h"

#include "rcl/status.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int rcl_read_file(const char *path, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rcl_fail(errno == ENOENT ? RCL_ERR_NOT_FOUND : RCL_ERR_IO, "%s: cannot open: %s",
                        path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return rcl_fail(RCL_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        fclose(f);
        return rcl_fail(RCL_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n);
    }
    size_t got = fread(b, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(b);
        return rcl_fail(RCL_ERR_IO, "%s: read %zu of %zu bytes", path, got, n);
    }
    *buf = b;
    *len = n;
    return RCL_OK;
}

char *rcl_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    size_t k = la;
    if (k > 0 && p[k - 1] != '/') p[k++] = '/';
    memcpy(p + k, b, lb + 1);
    return p;
}

int rcl_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int rcl_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void rcl_free_names(char **names, int count)
{
    if (!names) return;
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rcl_list_dir(const char *dir, int want_dirs, char ***names, int *count)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return rcl_fail(errno == ENOENT ? RCL_ERR_NOT_FOUND : RCL_ERR_IO,
                        "%s: cannot open directory: %s", dir, strerror(errno));
    char **list = NULL;
    int n = 0, cap = 0, st = RCL_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *full = rcl_path_join(dir, e->d_name);
        if (!full) { st = RCL_ERR_NOMEM; break; }
        int ok = want_dirs ? rcl_is_dir(full) : rcl_is_file(full);
        free(full);
        if (!ok) continue;
        if (n == cap) {
            int nc = cap ? cap * 2 : 64;
            char **nl = realloc(list, (size_t)nc * sizeof *nl);
            if (!nl) { st = RCL_ERR_NOMEM; break; }
            list = nl;
            cap = nc;
        }
        list[n] = malloc(strlen(e->d_name) + 1);
        if (!list[n]) { st = RCL_ERR_NOMEM; break; }
        strcpy(list[n], e->d_name);
        n++;
    }
    closedir(d);
    if (st != RCL_OK) {
        rcl_free_names(list, n);
        return rcl_fail(st, "%s: out of memory listing directory", dir);
    }
    if (n > 1) qsort(list, (size_t)n, sizeof *list, cmp_names);
    *names = list;
    *count = n;
    return RCL_OK;
}
