#include "ref/ref_weight_std.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

void ref_weight_std_forward(double *w_hat, double *save_mean, double *save_std, const double *w,
                            int o, int k, double eps)
{
    for (int r = 0; r < o; r++) {
        const double *p = w + (size_t)r * k;
        double s = 0;
        for (int i = 0; i < k; i++) s += p[i];
        const double mean = s / k;
        double q = 0;
        for (int i = 0; i < k; i++) q += (p[i] - mean) * (p[i] - mean);
        const double sd = sqrt(q / (k - 1));
        for (int i = 0; i < k; i++) w_hat[(size_t)r * k + i] = (p[i] - mean) / (sd + eps);
        if (save_mean) save_mean[r] = mean;
        if (save_std) save_std[r] = sd;
    }
}

void ref_weight_std_backward(double *dw, const double *dw_hat, const double *w_hat,
                             const double *save_std, int o, int k, double eps)
{
    double *du = malloc((size_t)k * sizeof *du);
    for (int r = 0; r < o; r++) {
        const double *g = dw_hat + (size_t)r * k, *wh = w_hat + (size_t)r * k;
        const double sd = save_std[r], s = sd + eps;
        double sgw = 0;
        for (int i = 0; i < k; i++) sgw += g[i] * wh[i];
        const double c = sd > 0 ? sgw / ((k - 1) * sd) : 0;
        double m = 0;
        for (int i = 0; i < k; i++) {
            du[i] = g[i] / s - c * wh[i];
            m += du[i];
        }
        m /= k;
        for (int i = 0; i < k; i++) dw[(size_t)r * k + i] = du[i] - m;
    }
    free(du);
}
