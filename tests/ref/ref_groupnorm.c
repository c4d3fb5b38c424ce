#include "ref/ref_groupnorm.h"

#include <math.h>
#include <stddef.h>

#define AT(x, ni, ci, j) (x)[((size_t)(ni) * c + (ci)) * hw + (j)]

void ref_groupnorm_forward(double *y, double *save_mean, double *save_invstd, const double *x,
                           const double *gamma, const double *beta, int n, int c, int h, int w,
                           int groups, double eps)
{
    const size_t hw = (size_t)h * w;
    const int cg = c / groups;
    const double L = (double)cg * hw;
    for (int ni = 0; ni < n; ni++)
        for (int g = 0; g < groups; g++) {
            double s = 0;
            for (int ci = g * cg; ci < (g + 1) * cg; ci++)
                for (size_t j = 0; j < hw; j++) s += AT(x, ni, ci, j);
            const double mean = s / L;
            double q = 0;
            for (int ci = g * cg; ci < (g + 1) * cg; ci++)
                for (size_t j = 0; j < hw; j++) {
                    const double d = AT(x, ni, ci, j) - mean;
                    q += d * d;
                }
            const double invstd = 1.0 / sqrt(q / L + eps);
            for (int ci = g * cg; ci < (g + 1) * cg; ci++)
                for (size_t j = 0; j < hw; j++)
                    AT(y, ni, ci, j) =
                        (AT(x, ni, ci, j) - mean) * invstd * gamma[ci] + beta[ci];
            if (save_mean) save_mean[ni * groups + g] = mean;
            if (save_invstd) save_invstd[ni * groups + g] = invstd;
        }
}

void ref_groupnorm_backward(double *dx, double *dgamma, double *dbeta, const double *dy,
                            const double *x, const double *gamma, const double *save_mean,
                            const double *save_invstd, int n, int c, int h, int w, int groups)
{
    const size_t hw = (size_t)h * w;
    const int cg = c / groups;
    const double L = (double)cg * hw;
    for (int ci = 0; ci < c; ci++) {
        double sdy = 0, sdyx = 0;
        for (int ni = 0; ni < n; ni++) {
            const int k = ni * groups + ci / cg;
            for (size_t j = 0; j < hw; j++) {
                sdy += AT(dy, ni, ci, j);
                sdyx += AT(dy, ni, ci, j) * (AT(x, ni, ci, j) - save_mean[k]) * save_invstd[k];
            }
        }
        if (dbeta) dbeta[ci] = sdy;
        if (dgamma) dgamma[ci] = sdyx;
    }
    if (!dx) return;
    for (int ni = 0; ni < n; ni++)
        for (int g = 0; g < groups; g++) {
            const int k = ni * groups + g;
            const double mean = save_mean[k], is = save_invstd[k];
            double a = 0, b = 0;
            for (int ci = g * cg; ci < (g + 1) * cg; ci++)
                for (size_t j = 0; j < hw; j++) {
                    const double gd = AT(dy, ni, ci, j) * gamma[ci];
                    a += gd;
                    b += gd * (AT(x, ni, ci, j) - mean) * is;
                }
            for (int ci = g * cg; ci < (g + 1) * cg; ci++)
                for (size_t j = 0; j < hw; j++) {
                    const double xhat = (AT(x, ni, ci, j) - mean) * is;
                    AT(dx, ni, ci, j) =
                        is / L * (L * AT(dy, ni, ci, j) * gamma[ci] - a - xhat * b);
                }
        }
}
