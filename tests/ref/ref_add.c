#include "ref/ref_add.h"

void ref_add(double *y, const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void ref_shortcut_pad_forward(double *y, const double *x, int n, int c, int h, int w, int c2,
                              int s)
{
    const int oh = (h + s - 1) / s, ow = (w + s - 1) / s, pad = (c2 - c) / 2;
    for (int ni = 0; ni < n; ni++)
        for (int k = 0; k < c2; k++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    int ci = k - pad;
                    y[(((size_t)ni * c2 + k) * oh + i) * ow + j] =
                        ci >= 0 && ci < c ? x[(((size_t)ni * c + ci) * h + i * s) * w + j * s] : 0;
                }
}

void ref_shortcut_pad_backward(double *dx, const double *dy, int n, int c, int h, int w, int c2,
                               int s)
{
    const int oh = (h + s - 1) / s, ow = (w + s - 1) / s, pad = (c2 - c) / 2;
    for (size_t i = 0; i < (size_t)n * c * h * w; i++) dx[i] = 0;
    for (int ni = 0; ni < n; ni++)
        for (int ci = 0; ci < c; ci++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                    dx[(((size_t)ni * c + ci) * h + i * s) * w + j * s] =
                        dy[(((size_t)ni * c2 + ci + pad) * oh + i) * ow + j];
}
