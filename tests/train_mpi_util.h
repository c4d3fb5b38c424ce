/* Helpers of the MPI training tests (test_train_mpi*.c): a tiny fixed data
 * set (2 classes x 8 CIFAR-10 JPEGs), mpirun -np 2 of resnet-cl, checkpoint
 * comparison. mpirun runs as root here: OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM)
 * stand for --allow-run-as-root, and --oversubscribe lets two ranks share
 * the machine's cores. Each rank gets one PoCL worker thread. */
#ifndef RCL_TRAIN_MPI_UTIL_H
#define RCL_TRAIN_MPI_UTIL_H

#include "harness.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


#define TM_UNUSED __attribute__((unused))

TM_UNUSED static int dev(void) { return rcl_ctx_device(T_CTX)->index; }


static char g_dir[1024], g_data[1100];

/* g_dir/data/{train,test}/{airplane,cat}/000k.jpg, k < 8, links to the
 * shared JPEGs */
TM_UNUSED static void make_data(void)
{
    const char *build = getenv("RESNET_CL_BUILD_DIR");
    assert_non_null(build);
    snprintf(g_dir, sizeof g_dir, "%s/test_train_mpi.%ld", build, (long)getpid()); /* per process */
    snprintf(g_data, sizeof g_data, "%s/data", g_dir);
    char *root = tu_cifar_jpeg_root(), cmd[4096];
    static const char *const cls[] = {"airplane", "cat"};
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 8; k++) {
                const char *split = s ? "test" : "train";
                snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s/%s' && ln -sf '%s/%s/%s/000%d.jpg' '%s/%s/%s/000%d.jpg'",
                         g_data, split, cls[c], root, split, cls[c], k, g_data, split, cls[c], k);
                assert_int_equal(system(cmd), 0);
            }
    free(root);
}

TM_UNUSED static const char *mpiexec(void)
{
    const char *m = getenv("RESNET_CL_MPIEXEC");
    return m && *m ? m : "mpirun";
}

/* mpirun -np 2 resnet-cl <args>, output (stderr merged) in *out */
TM_UNUSED static int run_mpi(char **out, const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' --oversubscribe -np 2 -x POCL_MAX_PTHREAD_COUNT=1 -x RESNET_CL_BUCKET_KB "
                              "'%s' %s 2>&1 </dev/null", mpiexec(), getenv("RESNET_CL_BIN"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap);
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0)
        if ((n += r) + 1 >= cap) buf = realloc(buf, cap *= 2);
    buf[n] = 0;
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The "Epoch [e/E], step [s/S] Loss: x" lines of a run, concatenated. */
TM_UNUSED static char *loss_lines(const char *out)
{
    char *res = calloc(1, strlen(out) + 1);
    for (const char *p = out; (p = strstr(p, "Epoch [")); p++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        strncat(res, p, len);
    }
    return res;
}

/* Every parameter and optimizer state of two checkpoints agree: exactly
 * (rtol = atol = 0; BN running statistics skipped, which differ: per
 * micro-batch there, rank 0's here), or within atol + rtol x the tensor's
 * largest magnitude (running statistics included). */
TM_UNUSED static void compare_checkpoints(const char *a, const char *b, const char *what, double rtol,
                                double atol, int skip_optim)
{
    rcl_st_file fa, fb;
    T_OK(rcl_st_open(&fa, a));
    T_OK(rcl_st_open(&fb, b));
    int compared = 0;
    double worst = 0;
    for (size_t i = 0; i < fa.n_tensors; i++) {
        const rcl_st_tensor *ta = rcl_st_tensor_at(&fa, i);
        if (rtol == 0 && atol == 0 && (strstr(ta->name, "running_") || strstr(ta->name, "num_batches_tracked")))
            continue;
        if (skip_optim && !strncmp(ta->name, "optim.", 6)) continue;
        const rcl_st_tensor *tb = rcl_st_find(&fb, ta->name);
        if (!tb) fail_msg("%s: %s missing from %s", what, ta->name, b);
        assert_int_equal(ta->nbytes, tb->nbytes);
        if (ta->dtype != RCL_ST_F32) {
            if (memcmp(ta->data, tb->data, ta->nbytes)) fail_msg("%s: %s differs", what, ta->name);
            continue;
        }
        const float *x = ta->data, *y = tb->data;
        double big = 0;
        for (size_t k = 0; k < ta->nbytes / 4; k++) big = fmax(big, fabs((double)x[k]));
        for (size_t k = 0; k < ta->nbytes / 4; k++) {
            double d = fabs((double)x[k] - y[k]), tol = rtol * big + atol;
            if (!(d <= tol))
                fail_msg("%s: %s[%zu]: %.9g (one process) vs %.9g (2 ranks)", what,
                         ta->name, k, (double)x[k], (double)y[k]);
            if (d > worst) worst = d;
        }
        compared++;
    }
    assert_true(compared > 60); /* resnet20's weights, BN affine, fc (and the optimizer state) */
    printf("  %s: %d tensors agree (largest difference %.3g)\n", what, compared, worst);
    rcl_st_close(&fa);
    rcl_st_close(&fb);
}

/* The "Loss: x" values of a run, in order (at most cap). */
TM_UNUSED static int losses(const char *out, double *v, int cap)
{
    int n = 0;
    for (const char *p = out; n < cap && (p = strstr(p, "] Loss: ")); p++) v[n++] = atof(p + 8);
    return n;
}

TM_UNUSED static int setup(void **state)
{
    (void)state;
    if (g_dir[0]) return 0;
    /* mpirun refuses root without these (= --allow-run-as-root); our CI runs as root */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("POCL_MAX_PTHREAD_COUNT", "1", 1); /* the one-process runs too */
    setenv("RESNET_CL_BUCKET_KB", "64", 1);   /* resnet20 (1 MB of gradients): ~16 buckets */
    make_data();
    return 0;
}


/* rm -rf g_dir after the tests */
TM_UNUSED static int cleanup(int rc)
{
    if (g_dir[0]) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) rc++;
    }
    return rc;
}

#endif
