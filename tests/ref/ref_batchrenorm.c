#include "ref/ref_batchrenorm.h"

#include <math.h>
#include <stddef.h>

#define AT(x, ni, ci, j) (x)[((size_t)(ni) * c + (ci)) * hw + (j)]

static double clip(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Two-pass batch mean and biased variance of channel ci. */
static void moments(const double *x, int n, int c, size_t hw, int ci, double *mean, double *var)
{
    const double m = (double)n * hw;
    double s = 0;
    for (int ni = 0; ni < n; ni++)
        for (size_t j = 0; j < hw; j++) s += AT(x, ni, ci, j);
    const double mu = s / m;
    double q = 0;
    for (int ni = 0; ni < n; ni++)
        for (size_t j = 0; j < hw; j++) {
            const double dv = AT(x, ni, ci, j) - mu;
            q += dv * dv;
        }
    *mean = mu;
    *var = q / m;
}

void ref_batchrenorm_forward_train(double *y, double *save_mean, double *save_invstd,
                                   double *save_r, double *save_d, double *running_mean,
                                   double *running_var, const double *x, const double *gamma,
                                   const double *beta, int n, int c, int h, int w,
                                   double momentum, double eps, double r_max, double d_max)
{
    const size_t hw = (size_t)h * w;
    const double m = (double)n * hw;
    for (int ci = 0; ci < c; ci++) {
        double mean, var;
        moments(x, n, c, hw, ci, &mean, &var);
        const double sigma_b = sqrt(var + eps), sigma = sqrt(running_var[ci] + eps);
        const double r = clip(sigma_b / sigma, 1.0 / r_max, r_max);
        const double d = clip((mean - running_mean[ci]) / sigma, -d_max, d_max);
        for (int ni = 0; ni < n; ni++)
            for (size_t j = 0; j < hw; j++)
                AT(y, ni, ci, j) =
                    gamma[ci] * ((AT(x, ni, ci, j) - mean) / sigma_b * r + d) + beta[ci];
        if (save_mean) save_mean[ci] = mean;
        if (save_invstd) save_invstd[ci] = 1.0 / sigma_b;
        if (save_r) save_r[ci] = r;
        if (save_d) save_d[ci] = d;
        running_mean[ci] = (1 - momentum) * running_mean[ci] + momentum * mean;
        running_var[ci] = (1 - momentum) * running_var[ci] + momentum * var * m / (m - 1);
    }
}

void ref_batchrenorm_forward_rd(double *y, const double *x, const double *gamma,
                                const double *beta, const double *r, const double *d, int n,
                                int c, int h, int w, double eps)
{
    const size_t hw = (size_t)h * w;
    for (int ci = 0; ci < c; ci++) {
        double mean, var;
        moments(x, n, c, hw, ci, &mean, &var);
        const double sigma_b = sqrt(var + eps);
        for (int ni = 0; ni < n; ni++)
            for (size_t j = 0; j < hw; j++)
                AT(y, ni, ci, j) =
                    gamma[ci] * ((AT(x, ni, ci, j) - mean) / sigma_b * r[ci] + d[ci]) + beta[ci];
    }
}

void ref_batchrenorm_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                              const double *x, const double *gamma, const double *save_mean,
                              const double *save_invstd, const double *save_r,
                              const double *save_d, int n, int c, int h, int w)
{
    const size_t hw = (size_t)h * w;
    const double m = (double)n * hw;
    for (int ci = 0; ci < c; ci++) {
        const double mean = save_mean[ci], is = save_invstd[ci], r = save_r[ci], d = save_d[ci];
        double sdy = 0, sdyx = 0;
        for (int ni = 0; ni < n; ni++)
            for (size_t j = 0; j < hw; j++) {
                sdy += AT(dy, ni, ci, j);
                sdyx += AT(dy, ni, ci, j) * (AT(x, ni, ci, j) - mean) * is;
            }
        if (dbeta) dbeta[ci] = sdy;
        if (dgamma) dgamma[ci] = r * sdyx + d * sdy;
        if (dx)
            for (int ni = 0; ni < n; ni++)
                for (size_t j = 0; j < hw; j++) {
                    const double xhat = (AT(x, ni, ci, j) - mean) * is;
                    AT(dx, ni, ci, j) =
                        gamma[ci] * r * is / m * (m * AT(dy, ni, ci, j) - sdy - xhat * sdyx);
                }
    }
}
