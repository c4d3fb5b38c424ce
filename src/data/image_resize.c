/* Bilinear resize of planar uint8 images (half-pixel centres, as PyTorch's
 * upsample_bilinear2d with align_corners=False, antialias=False). */
#include "rcl/data.h"
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
