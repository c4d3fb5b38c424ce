/* Shared real data for tests: the CIFAR-10 JPEG tree extracted once from
 * ../shared/data into the build directory. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *join2(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    b[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

char *tu_cifar_jpeg_root(void)
{
    const char *data = getenv("RESNET_CL_DATA"), *build = getenv("RESNET_CL_BUILD_DIR");
    if (!data || !build) fail_msg("RESNET_CL_DATA / RESNET_CL_BUILD_DIR not set (run via ctest)");
    char *tarball = join2(data, "cifar10/cifar10-jpeg.tar.gz");
    char *root = join2(build, "cifar10-jpeg");
    char *probe = join2(root, "test/truck/0999.jpg");
    struct stat sb;
    if (stat(probe, &sb) != 0) {
        if (stat(tarball, &sb) != 0)
            fail_msg("%s missing: configure with -DRCL_DATA_DIR=<shared data dir>", tarball);
        /* Extract into a temporary name, then rename: safe if tests race. */
        char *tmp = malloc(strlen(build) + 40);
        sprintf(tmp, "%s/cifar10-jpeg.tmpXXXXXX", build);
        assert_non_null(mkdtemp(tmp));
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "tar xzf '%s' -C '%s'", tarball, tmp);
        assert_int_equal(system(cmd), 0);
        if (rename(tmp, root) != 0) {
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp); /* another test won the race */
            assert_int_equal(system(cmd), 0);
        }
        free(tmp);
        assert_int_equal(stat(probe, &sb), 0);
    }
    free(tarball);
    free(probe);
    return root;
}
