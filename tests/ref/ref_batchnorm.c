#include "ref/ref_batchnorm.h"

#include <math.h>
#include <stddef.h>

#define AT(x, ni, ci, j) (x)[((size_t)(ni) * c + (ci)) * hw + (j)]

void ref_batchnorm_forward_train(double *y, double *save_mean, double *save_invstd,
                                 double *running_mean, double *running_var, const double *x,
                                 const double *gamma, const double *beta, int n, int c, int h,
                                 int w, double momentum, double eps)
{
    const size_t hw = (size_t)h * w;
    const double m = (double)n * hw;
    for (int ci = 0; ci < c; ci++) {
        double s = 0;
        for (int ni = 0; ni < n; ni++)
            for (size_t j = 0; j < hw; j++) s += AT(x, ni, ci, j);
        const double mean = s / m;
        double q = 0;
        for (int ni = 0; ni < n; ni++)
            for (size_t j = 0; j < hw; j++) {
                double d = AT(x, ni, ci, j) - mean;
                q += d * d;
            }
        const double var = q / m;
        const double invstd = 1.0 / sqrt(var + eps);
        for (int ni = 0; ni < n; ni++)
            for (size_t j = 0; j < hw; j++)
                AT(y, ni, ci, j) = (AT(x, ni, ci, j) - mean) * invstd * gamma[ci] + beta[ci];
        if (save_mean) save_mean[ci] = mean;
        if (save_invstd) save_invstd[ci] = invstd;
        if (running_mean && running_var) {
            running_mean[ci] = (1 - momentum) * running_mean[ci] + momentum * mean;
            running_var[ci] = (1 - momentum) * running_var[ci] + momentum * var * m / (m - 1);
        }
    }
}

void ref_batchnorm_forward_eval(double *y, const double *x, const double *gamma,
                                const double *beta, const double *rmean, const double *rvar,
                                int n, int c, int h, int w, double eps)
{
    const size_t hw = (size_t)h * w;
    for (int ni = 0; ni < n; ni++)
        for (int ci = 0; ci < c; ci++)
            for (size_t j = 0; j < hw; j++)
                AT(y, ni, ci, j) = (AT(x, ni, ci, j) - rmean[ci]) / sqrt(rvar[ci] + eps) *
                                       gamma[ci] + beta[ci];
}

void ref_batchnorm_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                            const double *x, const double *gamma, const double *save_mean,
                            const double *save_invstd, int n, int c, int h, int w)
{
    const size_t hw = (size_t)h * w;
    const double m = (double)n * hw;
    for (int ci = 0; ci < c; ci++) {
        const double mean = save_mean[ci], is = save_invstd[ci];
        double sdy = 0, sdyx = 0;
        for (int ni = 0; ni < n; ni++)
            for (size_t j = 0; j < hw; j++) {
                sdy += AT(dy, ni, ci, j);
                sdyx += AT(dy, ni, ci, j) * (AT(x, ni, ci, j) - mean) * is;
            }
        if (dbeta) dbeta[ci] = sdy;
        if (dgamma) dgamma[ci] = sdyx;
        if (dx)
            for (int ni = 0; ni < n; ni++)
                for (size_t j = 0; j < hw; j++) {
                    double xhat = (AT(x, ni, ci, j) - mean) * is;
                    AT(dx, ni, ci, j) =
                        gamma[ci] * is / m * (m * AT(dy, ni, ci, j) - sdy - xhat * sdyx);
                }
    }
}
