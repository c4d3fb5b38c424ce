#include "ref/ref_conv2d.h"

#include <string.h>

int ref_conv2d_shape_init(ref_conv2d_shape *s)
{
    int nh = s->h + 2 * s->ph - s->kh, nw = s->w + 2 * s->pw - s->kw;
    s->oh = nh < 0 ? 0 : nh / s->sh + 1;
    s->ow = nw < 0 ? 0 : nw / s->sw + 1;
    return s->oh > 0 && s->ow > 0;
}

/* Calls f(x index, w index, y index) for every multiply of the convolution. */
#define REF_CONV_LOOP(s, BODY)                                                                \
    for (int n = 0; n < (s)->n; n++)                                                          \
        for (int o = 0; o < (s)->oc; o++)                                                     \
            for (int oh = 0; oh < (s)->oh; oh++)                                              \
                for (int ow = 0; ow < (s)->ow; ow++) {                                        \
                    size_t yi = (((size_t)n * (s)->oc + o) * (s)->oh + oh) * (s)->ow + ow;    \
                    for (int c = 0; c < (s)->c; c++)                                          \
                        for (int kh = 0; kh < (s)->kh; kh++) {                                \
                            int ih = oh * (s)->sh - (s)->ph + kh;                             \
                            if (ih < 0 || ih >= (s)->h) continue;                             \
                            for (int kw = 0; kw < (s)->kw; kw++) {                            \
                                int iw = ow * (s)->sw - (s)->pw + kw;                         \
                                if (iw < 0 || iw >= (s)->w) continue;                         \
                                size_t xi = (((size_t)n * (s)->c + c) * (s)->h + ih) * (s)->w + iw; \
                                size_t wi = (((size_t)o * (s)->c + c) * (s)->kh + kh) * (s)->kw + kw; \
                                BODY;                                                         \
                            }                                                                 \
                        }                                                                     \
                }

void ref_conv2d_forward(double *y, const double *x, const double *w, const double *b,
                        const ref_conv2d_shape *s)
{
    size_t ny = (size_t)s->n * s->oc * s->oh * s->ow;
    for (size_t i = 0; i < ny; i++) y[i] = b ? b[(i / ((size_t)s->oh * s->ow)) % s->oc] : 0.0;
    REF_CONV_LOOP(s, y[yi] += x[xi] * w[wi]);
}

void ref_conv2d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, const ref_conv2d_shape *s)
{
    size_t nx = (size_t)s->n * s->c * s->h * s->w;
    size_t nw = (size_t)s->oc * s->c * s->kh * s->kw;
    size_t p = (size_t)s->oh * s->ow;
    if (dx) memset(dx, 0, nx * sizeof *dx);
    if (dw) memset(dw, 0, nw * sizeof *dw);
    if (dx) REF_CONV_LOOP(s, dx[xi] += dy[yi] * w[wi]);
    if (dw) REF_CONV_LOOP(s, dw[wi] += dy[yi] * x[xi]);
    if (db)
        for (int o = 0; o < s->oc; o++) {
            double acc = 0;
            for (int n = 0; n < s->n; n++)
                for (size_t i = 0; i < p; i++) acc += dy[((size_t)n * s->oc + o) * p + i];
            db[o] = acc;
        }
}
