#include "harness.h"
#include "rcl/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tu_rng tu_rng_seed(uint64_t seed)
{
    tu_rng r = {seed * 0x9E3779B97F4A7C15ull + 0x1234567ull};
    return r;
}

double tu_uniform(tu_rng *r, double lo, double hi)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * ((double)(z >> 11) / 9007199254740992.0);
}

void tu_fill(tu_rng *r, float *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)tu_uniform(r, lo, hi);
}

void tu_fill_away_from_zero(tu_rng *r, float *x, size_t n, double gap, double hi)
{
    for (size_t i = 0; i < n; i++) {
        double m = tu_uniform(r, gap, hi);
        x[i] = (float)(tu_uniform(r, 0, 1) < 0.5 ? -m : m);
    }
}

double *tu_f2d(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

float *tu_d2f(const double *x, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

static int close_impl(const char *what, const double *gotd, const float *gotf, const double *want,
                      size_t n, double rtol, double atol)
{
    size_t bad = 0, worst = 0;
    double worst_ex = -1;
    for (size_t i = 0; i < n; i++) {
        double g = gotd ? gotd[i] : (double)gotf[i];
        double tol = atol + rtol * fabs(want[i]);
        double err = fabs(g - want[i]);
        int ok = err <= tol || (isnan(g) && isnan(want[i]));
        if (!ok) {
            bad++;
            double ex = isnan(err) ? INFINITY : err / tol;
            if (ex > worst_ex) {
                worst_ex = ex;
                worst = i;
            }
        }
    }
    if (bad) {
        double g = gotd ? gotd[worst] : (double)gotf[worst];
        fprintf(stderr, "  %s: %zu of %zu elements off; worst [%zu] got %.9g want %.9g (rtol %g atol %g)\n",
                what, bad, n, worst, g, want[worst], rtol, atol);
        return 0;
    }
    return 1;
}

int tu_close_f(const char *what, const float *got, const double *want, size_t n, double rtol,
               double atol)
{
    return close_impl(what, NULL, got, want, n, rtol, atol);
}

int tu_close_d(const char *what, const double *got, const double *want, size_t n, double rtol,
               double atol)
{
    return close_impl(what, got, NULL, want, n, rtol, atol);
}

void tu_fd_grad(tu_scalar_fn f, void *ud, double *x, size_t n, double h, double *grad)
{
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double fp = f(ud, x);
        x[i] = keep - h;
        double fm = f(ud, x);
        x[i] = keep;
        grad[i] = (fp - fm) / (2 * h);
    }
}

void tu_tensor(rcl_tensor *t, int n, int c, int h, int w, const float *data)
{
    T_OK(rcl_tensor_create(T_CTX, t, n, c, h, w));
    if (data) T_OK(rcl_tensor_write(T_CTX, t, data));
    else T_OK(rcl_tensor_fill(T_CTX, t, 0.0f));
}

float *tu_read(const rcl_tensor *t)
{
    float *h = malloc(rcl_tensor_bytes(t));
    T_OK(rcl_tensor_read(T_CTX, t, h));
    return h;
}

cl_mem tu_ibuf(const int *data, size_t n)
{
    cl_mem b;
    T_OK(rcl_buffer_create(T_CTX, &b, n * sizeof(int)));
    cl_int e = clEnqueueWriteBuffer(rcl_ctx_queue(T_CTX), b, CL_TRUE, 0, n * sizeof(int), data, 0,
                                    NULL, NULL);
    assert_int_equal(e, CL_SUCCESS);
    return b;
}

void tu_iread(cl_mem b, int *out, size_t n)
{
    cl_int e = clEnqueueReadBuffer(rcl_ctx_queue(T_CTX), b, CL_TRUE, 0, n * sizeof(int), out, 0,
                                   NULL, NULL);
    assert_int_equal(e, CL_SUCCESS);
}

void tu_write_state_dict(const char *ckpt, const char *out)
{
    rcl_st_file f;
    T_OK(rcl_st_open(&f, ckpt));
    rcl_st_writer w;
    rcl_st_writer_init(&w);
    for (size_t i = 0; i < f.n_tensors; i++) {
        const rcl_st_tensor *t = rcl_st_tensor_at(&f, i);
        if (strncmp(t->name, "optim.", 6) && strcmp(t->name, "input.mean"))
            T_OK(rcl_st_writer_add(&w, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    T_OK(rcl_st_write(&w, out));
    rcl_st_writer_free(&w);
    rcl_st_close(&f);
}
