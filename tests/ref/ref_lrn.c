#include "ref/ref_lrn.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#define AT(x, ni, ci, j) (x)[((size_t)(ni) * c + (ci)) * hw + (j)]

/* s[ci] = k + alpha * avg_pool(pad(x^2)) for one image and pixel j: the
 * padded channel axis has size/2 zeros before the C squares and (size-1)/2
 * after; output channel ci averages padded entries [ci, ci + size). */
static void scales(double *s, double *pad, const double *x, int ni, size_t j, int c, size_t hw,
                   int size, double alpha, double k)
{
    const int before = size / 2, after = (size - 1) / 2, len = c + before + after;
    for (int i = 0; i < len; i++) pad[i] = 0;
    for (int ci = 0; ci < c; ci++) {
        double v = AT(x, ni, ci, j);
        pad[before + ci] = v * v;
    }
    /* avg_pool3d, kernel (size,1,1), stride 1: len - size + 1 = C outputs */
    for (int ci = 0; ci < c; ci++) {
        double q = 0;
        for (int t = 0; t < size; t++) q += pad[ci + t];
        s[ci] = k + alpha * (q / size);
    }
}

void ref_lrn_forward(double *y, const double *x, int n, int c, int h, int w, int size,
                     double alpha, double beta, double k)
{
    const size_t hw = (size_t)h * w;
    double *s = malloc((size_t)c * sizeof *s), *pad = malloc(((size_t)c + size) * sizeof *pad);
    for (int ni = 0; ni < n; ni++)
        for (size_t j = 0; j < hw; j++) {
            scales(s, pad, x, ni, j, c, hw, size, alpha, k);
            for (int ci = 0; ci < c; ci++) AT(y, ni, ci, j) = AT(x, ni, ci, j) / pow(s[ci], beta);
        }
    free(s), free(pad);
}

void ref_lrn_backward(double *dx, const double *dy, const double *x, int n, int c, int h, int w,
                      int size, double alpha, double beta, double k)
{
    const size_t hw = (size_t)h * w;
    double *s = malloc((size_t)c * sizeof *s), *pad = malloc(((size_t)c + size) * sizeof *pad);
    for (int ni = 0; ni < n; ni++)
        for (size_t j = 0; j < hw; j++) {
            scales(s, pad, x, ni, j, c, hw, size, alpha, k);
            for (int ci = 0; ci < c; ci++) AT(dx, ni, ci, j) = AT(dy, ni, ci, j) / pow(s[ci], beta);
            /* y[ci] = x[ci] * s[ci]^-beta; ds[ci]/dx[cp] = 2*alpha/size*x[cp] for the
             * cp of padded positions ci .. ci+size-1, i.e. cp = ci - size/2 + t */
            for (int ci = 0; ci < c; ci++) {
                const double g = AT(dy, ni, ci, j) * AT(x, ni, ci, j) * -beta *
                                 pow(s[ci], -beta - 1);
                for (int t = 0; t < size; t++) {
                    const int cp = ci - size / 2 + t;
                    if (cp < 0 || cp >= c) continue;
                    AT(dx, ni, cp, j) += g * 2 * alpha / size * AT(x, ni, cp, j);
                }
            }
        }
    free(s), free(pad);
}
