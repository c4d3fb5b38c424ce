/* The paper's image transforms (He et al. 2016, section 3.4, after
 * Krizhevsky et al. 2012): PCA colour augmentation, the per-pixel mean
 * image file, and the evaluation crops (centre crop, TenCrop). The random
 * training transform itself is applied per sample by the stream loader
 * (imagenet_stream.c), with the same pieces. */
#include "data/data_internal.h"

#include "base/base.h"
#include "rcl/status.h"

#include <stdlib.h>
#include <string.h>

/* ImageNet RGB statistics on [0, 1] pixels, as fb.resnet.torch publishes
 * them for AlexNet-style lighting (eigenvalues, and eigenvectors as
 * columns). */
const float rcl_pca_eigval[3] = {0.2175f, 0.0188f, 0.0045f};
const float rcl_pca_eigvec[3][3] = {
    {-0.5675f, 0.7192f, 0.4009f},
    {-0.5808f, -0.0045f, -0.8140f},
    {-0.5836f, -0.6948f, 0.4203f},
};

void rcl_pca_shift(const float alpha[3], float shift[3])
{
    for (int i = 0; i < 3; i++) {
        float s = 0;
        for (int j = 0; j < 3; j++) s += rcl_pca_eigvec[i][j] * alpha[j] * rcl_pca_eigval[j];
        shift[i] = s;
    }
}

/* ------------------------------------------------------------ mean image */

typedef struct mean_file {
    const float *mean;
    int c, h, w;
    int64_t count;
} mean_file;

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int write_mean(FILE *f, void *user)
{
    const mean_file *m = user;
    uint8_t head[28];
    memcpy(head, "RCLMEAN1", 8);
    put_le32(head + 8, (uint32_t)m->c);
    put_le32(head + 12, (uint32_t)m->h);
    put_le32(head + 16, (uint32_t)m->w);
    put_le32(head + 20, (uint32_t)((uint64_t)m->count & 0xffffffffu));
    put_le32(head + 24, (uint32_t)((uint64_t)m->count >> 32));
    fwrite(head, 1, sizeof head, f);
    size_t n = (size_t)m->c * m->h * m->w;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        uint8_t b[4];
        memcpy(&u, &m->mean[i], 4);
        put_le32(b, u);
        fwrite(b, 1, 4, f);
    }
    return ferror(f) ? rcl_fail(RCL_ERR_IO, "writing the mean image failed") : RCL_OK;
}

int rcl_mean_image_save(const char *path, const float *mean, int c, int h, int w, int64_t count)
{
    if (!path || !mean || c <= 0 || h <= 0 || w <= 0 || c > 4 || h > 8192 || w > 8192 || count < 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_mean_image_save: bad arguments");
    mean_file m = {mean, c, h, w, count};
    return rcl_atomic_write(path, write_mean, &m);
}

int rcl_mean_image_load(const char *path, float **mean, int *c, int *h, int *w, int64_t *count)
{
    if (!path || !mean || !c || !h || !w)
        return rcl_fail(RCL_ERR_INVALID, "rcl_mean_image_load: NULL argument");
    *mean = NULL;
    uint8_t *buf;
    size_t len;
    RCL_TRY(rcl_read_file(path, &buf, &len));
    uint32_t cc = len >= 28 ? get_le32(buf + 8) : 0, hh = len >= 28 ? get_le32(buf + 12) : 0,
             ww = len >= 28 ? get_le32(buf + 16) : 0;
    if (len < 28 || memcmp(buf, "RCLMEAN1", 8) || cc < 1 || cc > 4 || hh < 1 || hh > 8192 ||
        ww < 1 || ww > 8192 || len != 28 + 4 * (size_t)cc * hh * ww) {
        free(buf);
        return rcl_fail(RCL_ERR_FORMAT,
                        "%s: not a mean image (want 'RCLMEAN1', c, h, w, count, c*h*w float32; "
                        "make one with resnet-cl mean-image)",
                        path);
    }
    size_t n = (size_t)cc * hh * ww;
    float *m = malloc(sizeof(float) * n);
    if (!m) {
        free(buf);
        return rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = get_le32(buf + 28 + 4 * i);
        memcpy(&m[i], &u, 4);
    }
    if (count) *count = (int64_t)((uint64_t)get_le32(buf + 20) | (uint64_t)get_le32(buf + 24) << 32);
    free(buf);
    *mean = m;
    *c = (int)cc;
    *h = (int)hh;
    *w = (int)ww;
    return RCL_OK;
}

/* ------------------------------------------------------ evaluation crops */

/* torchvision CenterCrop's offset: int(round((size - crop) / 2.0)), with
 * Python's round-half-to-even. */
int rcl_center_offset(int size, int crop)
{
    int d = size - crop;
    int q = d / 2;
    if (d % 2 == 0) return q;
    return q % 2 == 0 ? q : q + 1;   /* q + 0.5 rounds to the even neighbour */
}

static void to_float(float *dst, const uint8_t *src, size_t n, const float *mean)
{
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i] / 255.0f - (mean ? mean[i] : 0.0f);
}

static void flip_planes(uint8_t *p, int c, int h, int w)
{
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++) {
            uint8_t *r = p + ((size_t)k * h + y) * w;
            for (int a = 0, b = w - 1; a < b; a++, b--) {
                uint8_t t = r[a];
                r[a] = r[b];
                r[b] = t;
            }
        }
}

static int check_eval(const float *dst, const rcl_image *img, int resize, int crop)
{
    if (!dst || !img || !img->data || img->h <= 0 || img->w <= 0 || crop <= 0 || resize < crop ||
        resize > 8192)
        return rcl_fail(RCL_ERR_INVALID,
                        "evaluation crop: bad arguments (crop %d, resize %d: want 0 < crop <= "
                        "resize <= 8192)",
                        crop, resize);
    return RCL_OK;
}

int rcl_imagenet_center_crop(float *dst, const rcl_image *img, int resize, int crop,
                             const float *mean)
{
    RCL_TRY(check_eval(dst, img, resize, crop));
    int rh, rw;
    rcl_resize_short_dims(img->h, img->w, resize, &rh, &rw);
    size_t n = (size_t)3 * crop * crop;
    uint8_t *u = malloc(n);
    if (!u) return rcl_fail(RCL_ERR_NOMEM, "evaluation crop: out of memory");
    int st = rcl_resize_crop(u, crop, crop, rcl_center_offset(rh, crop), rcl_center_offset(rw, crop),
                             rh, rw, img->data, 3, img->h, img->w);
    if (st == RCL_OK) to_float(dst, u, n, mean);
    free(u);
    return st;
}

int rcl_imagenet_ten_crop(float *dst, const rcl_image *img, int resize, int crop,
                          const float *mean)
{
    RCL_TRY(check_eval(dst, img, resize, crop));
    int rh, rw;
    rcl_resize_short_dims(img->h, img->w, resize, &rh, &rw);
    size_t n = (size_t)3 * crop * crop;
    uint8_t *full = malloc((size_t)3 * rh * rw), *u = malloc(n);
    if (!full || !u) {
        free(full);
        free(u);
        return rcl_fail(RCL_ERR_NOMEM, "ten-crop: out of memory");
    }
    int st = rcl_resize_bilinear(full, rh, rw, img->data, 3, img->h, img->w);
    /* torchvision five_crop: tl, tr, bl, br, centre; ten_crop repeats it on
     * the flipped image */
    int tops[5] = {0, 0, rh - crop, rh - crop, rcl_center_offset(rh, crop)};
    int lefts[5] = {0, rw - crop, 0, rw - crop, rcl_center_offset(rw, crop)};
    for (int f = 0; f < 2 && st == RCL_OK; f++) {
        if (f) flip_planes(full, 3, rh, rw);
        for (int k = 0; k < 5 && st == RCL_OK; k++) {
            st = rcl_resize_crop(u, crop, crop, tops[k], lefts[k], rh, rw, full, 3, rh, rw);
            if (st == RCL_OK) to_float(dst + (size_t)(5 * f + k) * n, u, n, mean);
        }
    }
    free(full);
    free(u);
    return st;
}
