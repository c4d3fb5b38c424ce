#include "ref/ref_avgpool.h"

#include <stddef.h>

void ref_avgpool_global_forward(double *y, const double *x, int n, int c, int h, int w)
{
    const size_t hw = (size_t)h * w;
    for (size_t r = 0; r < (size_t)n * c; r++) {
        double s = 0;
        for (size_t j = 0; j < hw; j++) s += x[r * hw + j];
        y[r] = s / (double)hw;
    }
}

void ref_avgpool_global_backward(double *dx, const double *dy, int n, int c, int h, int w)
{
    const size_t hw = (size_t)h * w;
    for (size_t r = 0; r < (size_t)n * c; r++)
        for (size_t j = 0; j < hw; j++) dx[r * hw + j] = dy[r] / (double)hw;
}
