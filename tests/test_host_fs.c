/* Atomic file replacement (base/fs_util.c: rcl_atomic_write): new file,
 * overwrite, and every failure leaving the target as it was and no
 * temporary file behind. */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include "harness.h"
#include "base/base.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/rcl-fs-test-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return tu_remove_tree(g_dir);
}

static const char *tpath(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    return p;
}

/* Whole content of `path` (NUL-terminated), or NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *d = calloc(1, 1 << 16);
    *len = fread(d, 1, (1 << 16) - 1, f);
    fclose(f);
    return d;
}

static void expect_content(const char *path, const char *want)
{
    size_t len = 0;
    char *d = slurp(path, &len);
    if (!d) fail_msg("cannot read %s: %s", path, strerror(errno));
    if (len != strlen(want) || memcmp(d, want, len))
        fail_msg("%s holds '%.*s', wanted '%s'", path, (int)len, d, want);
    free(d);
}

/* Number of entries of `dir` whose name contains ".tmp." */
static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (strstr(de->d_name, ".tmp.")) {
            print_message("left behind: %s/%s\n", dir, de->d_name);
            n++;
        }
    closedir(d);
    return n;
}

static int write_text(FILE *f, void *user)
{
    return fputs((const char *)user, f) < 0 ? rcl_fail(RCL_ERR_IO, "fputs") : RCL_OK;
}

/* Writes part of the content, then fails like a serialiser would. */
static int write_then_fail(FILE *f, void *user)
{
    (void)user;
    fputs("partial", f);
    return rcl_fail(RCL_ERR_FORMAT, "callback gave up");
}

/* Writes to a stream it has broken: the writer must notice ferror. */
static int write_on_error(FILE *f, void *user)
{
    (void)user;
    fputs("x", f);
    fflush(f);
    close(fileno(f)); /* later writes fail with EBADF */
    for (int i = 0; i < 70000; i++) fputc('y', f);
    return RCL_OK;
}

static void test_new_file(void **state)
{
    (void)state;
    const char *p = tpath("new.txt");
    T_OK(rcl_atomic_write(p, write_text, "hello\n"));
    expect_content(p, "hello\n");
    /* 0666 less the umask, as fopen would create it */
    mode_t um = umask(022);
    umask(um);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0666 & ~um);
    assert_int_equal(count_temps(g_dir), 0);
}

static void test_overwrite(void **state)
{
    (void)state;
    const char *p = tpath("over.txt");
    T_OK(rcl_atomic_write_buf(p, "first version, longer\n", 22));
    expect_content(p, "first version, longer\n");
    T_OK(rcl_atomic_write_buf(p, "second\n", 7));
    expect_content(p, "second\n");
    T_OK(rcl_atomic_write_buf(p, "", 0)); /* empty content is a valid file */
    expect_content(p, "");
    assert_int_equal(count_temps(g_dir), 0);
}

static void test_callback_fails(void **state)
{
    (void)state;
    const char *p = tpath("keep.txt");
    T_OK(rcl_atomic_write_buf(p, "original\n", 9));
    assert_int_equal(rcl_atomic_write(p, write_then_fail, NULL), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "callback gave up"));
    expect_content(p, "original\n");
    assert_int_equal(count_temps(g_dir), 0);
    /* no target at all: none is created */
    const char *q = tpath("never.txt");
    assert_int_equal(rcl_atomic_write(q, write_then_fail, NULL), RCL_ERR_FORMAT);
    assert_int_not_equal(access(q, F_OK), 0);
    assert_int_equal(count_temps(g_dir), 0);
}

static void test_stream_error(void **state)
{
    (void)state;
    const char *p = tpath("stream.txt");
    T_OK(rcl_atomic_write_buf(p, "original\n", 9));
    assert_int_equal(rcl_atomic_write(p, write_on_error, NULL), RCL_ERR_IO);
    assert_non_null(strstr(rcl_last_error(), "stream.txt"));
    expect_content(p, "original\n");
    assert_int_equal(count_temps(g_dir), 0);
}

static void test_directory_missing(void **state)
{
    (void)state;
    const char *p = tpath("no/such/dir/x.txt");
    assert_int_equal(rcl_atomic_write_buf(p, "x", 1), RCL_ERR_IO);
    assert_non_null(strstr(rcl_last_error(), "no/such/dir/x.txt"));
    assert_non_null(strstr(rcl_last_error(), strerror(ENOENT)));
    assert_int_equal(rcl_atomic_write_errno(), ENOENT);
    assert_int_equal(count_temps(g_dir), 0);
}

static void test_directory_not_writable(void **state)
{
    (void)state;
    char sub[512];
    snprintf(sub, sizeof sub, "%s", tpath("ro"));
    assert_int_equal(mkdir(sub, 0755), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/target.txt", sub);
    T_OK(rcl_atomic_write_buf(p, "original\n", 9));
    assert_int_equal(chmod(sub, 0555), 0);
    if (access(sub, W_OK) == 0) { /* root ignores the mode */
        chmod(sub, 0755);
        print_message("skipped: the directory stays writable (running as root)\n");
        return;
    }
    int st = rcl_atomic_write_buf(p, "new\n", 4);
    chmod(sub, 0755);
    assert_int_equal(st, RCL_ERR_IO);
    assert_non_null(strstr(rcl_last_error(), "target.txt"));
    assert_int_equal(rcl_atomic_write_errno(), EACCES);
    expect_content(p, "original\n");
    assert_int_equal(count_temps(sub), 0);
}

static void test_target_is_directory(void **state)
{
    (void)state;
    /* the rename fails (EISDIR): the directory and its content stay */
    char sub[512], inner[600];
    snprintf(sub, sizeof sub, "%s", tpath("adir"));
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(inner, sizeof inner, "%s/inner", sub);
    T_OK(rcl_atomic_write_buf(inner, "inside\n", 7));
    assert_int_equal(rcl_atomic_write_buf(sub, "x", 1), RCL_ERR_IO);
    assert_non_null(strstr(rcl_last_error(), "rename"));
    struct stat sb;
    assert_int_equal(stat(sub, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    expect_content(inner, "inside\n");
    assert_int_equal(count_temps(g_dir), 0);
}

/* RESNET_CL_FAULT_WRITE=N (the test hook of a full disk): the Nth atomic
 * write of the process fails with ENOSPC, only that one; the target keeps
 * its old content and no temporary file is left. */
static void test_injected_disk_full(void **state)
{
    (void)state;
    tu_env saved;
    tu_env_save(&saved, "RESNET_CL_FAULT_WRITE");
    setenv("RESNET_CL_FAULT_WRITE", "2", 1);
    rcl_fault_reset();
    const char *p = tpath("full.txt");
    T_OK(rcl_atomic_write_buf(p, "epoch 1\n", 8)); /* the 1st */
    assert_int_equal(rcl_atomic_write_errno(), 0);
    assert_int_equal(rcl_atomic_write_buf(p, "epoch 2\n", 8), RCL_ERR_IO); /* the 2nd */
    assert_int_equal(rcl_atomic_write_errno(), ENOSPC);
    char want[600];
    snprintf(want, sizeof want, "cannot write %s: %s (flush of ", p, strerror(ENOSPC));
    if (strncmp(rcl_last_error(), want, strlen(want)))
        fail_msg("message '%s', wanted it to start with '%s'", rcl_last_error(), want);
    expect_content(p, "epoch 1\n");
    assert_int_equal(count_temps(g_dir), 0);
    T_OK(rcl_atomic_write_buf(p, "epoch 3\n", 8)); /* only the 2nd fails */
    expect_content(p, "epoch 3\n");
    tu_env_restore(&saved);
    rcl_fault_reset();
    T_OK(rcl_atomic_write_buf(p, "later\n", 6));
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(rcl_atomic_write(NULL, write_text, "x"), RCL_ERR_INVALID);
    assert_int_equal(rcl_atomic_write("", write_text, "x"), RCL_ERR_INVALID);
    assert_int_equal(rcl_atomic_write(tpath("n.txt"), NULL, NULL), RCL_ERR_INVALID);
    assert_int_equal(rcl_atomic_write_buf(tpath("n.txt"), NULL, 3), RCL_ERR_INVALID);
    assert_int_not_equal(access(tpath("n.txt"), F_OK), 0);
    assert_int_equal(count_temps(g_dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_file),
        cmocka_unit_test(test_overwrite),
        cmocka_unit_test(test_callback_fails),
        cmocka_unit_test(test_stream_error),
        cmocka_unit_test(test_directory_missing),
        cmocka_unit_test(test_directory_not_writable),
        cmocka_unit_test(test_target_is_directory),
        cmocka_unit_test(test_injected_disk_full),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("host_fs", tests, setup, teardown);
}
