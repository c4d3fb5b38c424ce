/* Bilinear resize of planar uint8 images (half-pixel centres, as PyTorch's
 * upsample_bilinear2d with align_corners=False, antialias=False). */
#include "data/data_internal.h"
#include "rcl/status.h"

#include <stdlib.h>

/* Source index pair and weight of the second for each of `dst` outputs. */
static void axis_weights(int src, int dst, int *i0, int *i1, float *f)
{
    float scale = (float)src / (float)dst;
    for (int d = 0; d < dst; d++) {
        float s = scale * ((float)d + 0.5f) - 0.5f;
        if (s < 0) s = 0;
        int a = (int)s;
        if (a > src - 1) a = src - 1;
        i0[d] = a;
        i1[d] = a < src - 1 ? a + 1 : a;
        f[d] = s - (float)a;
    }
}

int rcl_resize_bilinear(uint8_t *dst, int dh, int dw, const uint8_t *src, int c, int sh, int sw)
{
    if (!dst || !src || dh <= 0 || dw <= 0 || c <= 0 || sh <= 0 || sw <= 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_resize_bilinear: bad arguments %dx%d <- %dx%dx%d",
                        dh, dw, c, sh, sw);
    int *ix = malloc(sizeof(int) * 2 * ((size_t)dw + dh));
    float *fx = malloc(sizeof(float) * ((size_t)dw + dh));
    if (!ix || !fx) {
        free(ix);
        free(fx);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_resize_bilinear: out of memory");
    }
    int *x0 = ix, *x1 = ix + dw, *y0 = ix + 2 * dw, *y1 = y0 + dh;
    float *fy = fx + dw;
    axis_weights(sw, dw, x0, x1, fx);
    axis_weights(sh, dh, y0, y1, fy);
    for (int ch = 0; ch < c; ch++) {
        const uint8_t *plane = src + (size_t)ch * sh * sw;
        uint8_t *out = dst + (size_t)ch * dh * dw;
        for (int y = 0; y < dh; y++) {
            const uint8_t *ra = plane + (size_t)y0[y] * sw, *rb = plane + (size_t)y1[y] * sw;
            float wy = fy[y];
            for (int x = 0; x < dw; x++) {
                float wx = fx[x];
                float top = (1 - wx) * ra[x0[x]] + wx * ra[x1[x]];
                float bot = (1 - wx) * rb[x0[x]] + wx * rb[x1[x]];
                float v = (1 - wy) * top + wy * bot + 0.5f;
                out[(size_t)y * dw + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    free(ix);
    free(fx);
    return RCL_OK;
}

void rcl_resize_short_dims(int h, int w, int s, int *rh, int *rw)
{
    if (h <= w) {
        *rh = s;
        *rw = (int)((int64_t)s * w / h);
    } else {
        *rw = s;
        *rh = (int)((int64_t)s * h / w);
    }
}

/* axis_weights for outputs off .. off+n-1 of a src -> dst resize. */
static void window_weights(int src, int dst, int off, int n, int *i0, int *i1, float *f)
{
    float scale = (float)src / (float)dst;
    for (int k = 0; k < n; k++) {
        float s = scale * ((float)(off + k) + 0.5f) - 0.5f;
        if (s < 0) s = 0;
        int a = (int)s;
        if (a > src - 1) a = src - 1;
        i0[k] = a;
        i1[k] = a < src - 1 ? a + 1 : a;
        f[k] = s - (float)a;
    }
}

static int crop_args_ok(int ch, int cw, int top, int left, int rh, int rw, int sh, int sw)
{
    return ch > 0 && cw > 0 && rh > 0 && rw > 0 && sh > 0 && sw > 0 && top >= 0 && left >= 0 &&
           top <= rh - ch && left <= rw - cw;
}

int rcl_resize_crop(uint8_t *dst, int ch, int cw, int top, int left, int rh, int rw,
                    const uint8_t *src, int c, int sh, int sw)
{
    if (!dst || !src || c <= 0 || !crop_args_ok(ch, cw, top, left, rh, rw, sh, sw))
        return rcl_fail(RCL_ERR_INVALID,
                        "rcl_resize_crop: bad arguments: window %dx%d at (%d, %d) of %dx%d <- "
                        "%dx%dx%d",
                        ch, cw, top, left, rh, rw, c, sh, sw);
    int *ix = malloc(sizeof(int) * 2 * ((size_t)cw + ch));
    float *fx = malloc(sizeof(float) * ((size_t)cw + ch));
    if (!ix || !fx) {
        free(ix);
        free(fx);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_resize_crop: out of memory");
    }
    int *x0 = ix, *x1 = ix + cw, *y0 = ix + 2 * cw, *y1 = y0 + ch;
    float *fy = fx + cw;
    window_weights(sw, rw, left, cw, x0, x1, fx);
    window_weights(sh, rh, top, ch, y0, y1, fy);
    for (int k = 0; k < c; k++) {
        const uint8_t *plane = src + (size_t)k * sh * sw;
        uint8_t *out = dst + (size_t)k * ch * cw;
        for (int y = 0; y < ch; y++) {
            const uint8_t *ra = plane + (size_t)y0[y] * sw, *rb = plane + (size_t)y1[y] * sw;
            float wy = fy[y];
            for (int x = 0; x < cw; x++) {
                float wx = fx[x];
                float t = (1 - wx) * ra[x0[x]] + wx * ra[x1[x]];
                float b = (1 - wx) * rb[x0[x]] + wx * rb[x1[x]];
                float v = (1 - wy) * t + wy * b + 0.5f;
                out[(size_t)y * cw + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    free(ix);
    free(fx);
    return RCL_OK;
}

int rcl_resize_crop_hwc(uint8_t *dst, int ch, int cw, int top, int left, int rh, int rw,
                        const uint8_t *src, int sh, int sw)
{
    /* windows are crops (at most 1024 a side): the tables live on the stack */
    enum { MAXW = 1024 };
    int x0[MAXW], x1[MAXW], y0[MAXW], y1[MAXW];
    float fx[MAXW], fy[MAXW];
    if (ch > MAXW || cw > MAXW || !crop_args_ok(ch, cw, top, left, rh, rw, sh, sw))
        return rcl_fail(RCL_ERR_INVALID,
                        "rcl_resize_crop_hwc: bad arguments: window %dx%d at (%d, %d) of %dx%d "
                        "<- %dx%d",
                        ch, cw, top, left, rh, rw, sh, sw);
    window_weights(sw, rw, left, cw, x0, x1, fx);
    window_weights(sh, rh, top, ch, y0, y1, fy);
    size_t plane = (size_t)ch * cw;
    for (int y = 0; y < ch; y++) {
        const uint8_t *ra = src + (size_t)y0[y] * sw * 3, *rb = src + (size_t)y1[y] * sw * 3;
        float wy = fy[y];
        uint8_t *o = dst + (size_t)y * cw;
        for (int x = 0; x < cw; x++) {
            float wx = fx[x];
            const uint8_t *a0 = ra + 3 * x0[x], *a1 = ra + 3 * x1[x];
            const uint8_t *b0 = rb + 3 * x0[x], *b1 = rb + 3 * x1[x];
            for (int k = 0; k < 3; k++) {
                float t = (1 - wx) * a0[k] + wx * a1[k];
                float b = (1 - wx) * b0[k] + wx * b1[k];
                float v = (1 - wy) * t + wy * b + 0.5f;
                o[(size_t)k * plane + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    return RCL_OK;
}
