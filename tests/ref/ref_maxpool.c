#include "ref/ref_maxpool.h"

#include <math.h>
#include <stddef.h>

int ref_pool_out_size(int h, int k, int stride, int pad)
{
    return (h + 2 * pad - k) / stride + 1;
}

void ref_maxpool_forward(double *y, int *idx, const double *x, int n, int c, int h, int w, int k,
                         int stride, int pad)
{
    const int oh = ref_pool_out_size(h, k, stride, pad), ow = ref_pool_out_size(w, k, stride, pad);
    for (int p = 0; p < n * c; p++) {
        const double *xp = x + (size_t)p * h * w;
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                int h0 = i * stride - pad, w0 = j * stride - pad;
                int hs = h0 < 0 ? 0 : h0, ws = w0 < 0 ? 0 : w0;
                int he = h0 + k < h ? h0 + k : h, we = w0 + k < w ? w0 + k : w;
                double m = -INFINITY;
                int mi = hs * w + ws;
                for (int a = hs; a < he; a++)
                    for (int b = ws; b < we; b++) {
                        double v = xp[a * w + b];
                        if (v > m || isnan(v)) {
                            m = v;
                            mi = a * w + b;
                        }
                    }
                size_t o = ((size_t)p * oh + i) * ow + j;
                y[o] = m;
                idx[o] = mi;
            }
    }
}

void ref_maxpool_backward(double *dx, const double *dy, const int *idx, int n, int c, int h,
                          int w, int k, int stride, int pad)
{
    const int oh = ref_pool_out_size(h, k, stride, pad), ow = ref_pool_out_size(w, k, stride, pad);
    for (size_t i = 0; i < (size_t)n * c * h * w; i++) dx[i] = 0;
    for (int p = 0; p < n * c; p++)
        for (int o = 0; o < oh * ow; o++) {
            size_t oi = (size_t)p * oh * ow + o;
            dx[(size_t)p * h * w + idx[oi]] += dy[oi];
        }
}
