/* Temporary directories of the tests: removed whole at the end, so that a
 * test run leaves nothing of ours in /tmp. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "harness.h"

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int tu_remove_tree(const char *dir)
{
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
