/* JPEG (libjpeg-turbo) and PNG (libpng) decoding to uint8 RGB CHW. Both
 * libraries report errors through our own handlers that longjmp back here,
 * never through their default exit(). */
#include "data/data_internal.h"

#include "rcl/status.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RCL_HAVE_JPEG
#include <jpeglib.h>
#include <jerror.h>
#endif
#ifdef RCL_HAVE_PNG
#include <png.h>
#endif

/* Largest accepted image side and pixel count (guards allocations). */
#define RCL_IMAGE_MAX_SIDE 32768
#define RCL_IMAGE_MAX_PIXELS ((size_t)1 << 28)
/* Above RCL_IMAGE_FREE_PIXELS, an image must not claim more than
 * RCL_IMAGE_PIXELS_PER_BYTE pixels per byte of its file: a ~1 KB JPEG
 * header claiming 16384x16384 made the decoder allocate 1.7 GB and spend
 * 12 s (found by tests/fuzz/fuzz_image.c). Photographs take 1-3 bits per
 * pixel; zlib cannot exceed 1032:1, i.e. 8256 one-bit pixels per byte. */
#define RCL_IMAGE_FREE_PIXELS ((size_t)1 << 24)
#define RCL_IMAGE_PIXELS_PER_BYTE 16384

void rcl_image_free(rcl_image *img)
{
    if (!img) return;
    free(img->data);
    img->data = NULL;
    img->h = img->w = 0;
}

static int check_dims(const char *name, unsigned long w, unsigned long h, size_t len)
{
    if (w == 0 || h == 0 || w > RCL_IMAGE_MAX_SIDE || h > RCL_IMAGE_MAX_SIDE ||
        (size_t)w * h > RCL_IMAGE_MAX_PIXELS)
        return rcl_fail(RCL_ERR_FORMAT, "%s: unsupported image size %lux%lu", name, w, h);
    if ((size_t)w * h > RCL_IMAGE_FREE_PIXELS && (size_t)w * h / RCL_IMAGE_PIXELS_PER_BYTE > len)
        return rcl_fail(RCL_ERR_FORMAT, "%s: corrupt: claims %lux%lu pixels in a %zu-byte file",
                        name, w, h, len);
    return RCL_OK;
}

#ifdef RCL_HAVE_JPEG
typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr ci)
{
    jpeg_err *e = (jpeg_err *)ci->err;
    (*ci->err->format_message)(ci, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings are silent, except a premature end of data (libjpeg would pad
 * the image with grey and carry on): that is a truncated file, an error. */
static void jpeg_on_message(j_common_ptr ci, int level)
{
    if (level >= 0) return;
    ci->err->num_warnings++;
    if (ci->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(ci);
}

static int decode_jpeg(const uint8_t *buf, size_t len, const char *name, int min_short,
                       uint8_t **hwc, int *oh, int *ow)
{
    struct jpeg_decompress_struct ci;
    jpeg_err je;
    uint8_t *volatile row = NULL;
    uint8_t *volatile out = NULL;
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_on_error;
    je.pub.emit_message = jpeg_on_message;
    je.msg[0] = '\0';
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&ci);
        free(row);
        free(out);
        return rcl_fail(RCL_ERR_FORMAT, "%s: corrupt or truncated JPEG: %s", name, je.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, (unsigned char *)buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    /* before jpeg_start_decompress, which allocates whole-image buffers for
     * progressive files */
    int st = check_dims(name, ci.image_width, ci.image_height, len);
    if (st != RCL_OK) {
        jpeg_destroy_decompress(&ci);
        return st;
    }
    int cmyk = ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK;
    ci.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;   /* greyscale -> RGB by libjpeg */
    if (min_short > 0) {
        /* DCT scaling: the smallest k/8 of 1/8, 2/8, 4/8 whose shorter
         * side (libjpeg rounds up: ceil(side * k / 8)) still reaches
         * min_short, else full size. Only these scales: libjpeg-turbo's
         * other ones (3/8, 5/8, 6/8, 7/8) have no SIMD inverse DCT and
         * decode slower than the full size (measured on the ImageNet
         * sample: 6/8 1.25 ms a photo, 8/8 1.0 ms, 4/8 0.88 ms). */
        unsigned long s = ci.image_width < ci.image_height ? ci.image_width : ci.image_height;
        int k = 1;
        while (k < 8 && (s * (unsigned long)k + 7) / 8 < (unsigned long)min_short) k *= 2;
        ci.scale_num = (unsigned)k;
        ci.scale_denom = 8;
    }
    jpeg_start_decompress(&ci);
    st = check_dims(name, ci.output_width, ci.output_height, len);
    int comps = ci.output_components;
    if (st == RCL_OK && comps != (cmyk ? 4 : 3))
        st = rcl_fail(RCL_ERR_FORMAT, "%s: unexpected JPEG output with %d components", name,
                      comps);
    if (st != RCL_OK) {
        jpeg_destroy_decompress(&ci);
        return st;
    }
    size_t w = ci.output_width, h = ci.output_height;
    row = malloc(w * (size_t)comps);
    out = malloc(3 * w * h);
    if (!row || !out) {
        jpeg_destroy_decompress(&ci);
        free(row);
        free(out);
        return rcl_fail(RCL_ERR_NOMEM, "%s: cannot allocate a %zux%zu image", name, w, h);
    }
    /* Adobe CMYK JPEGs store inverted values (as PIL's "CMYK;I"). */
    int inverted = cmyk && ci.saw_Adobe_marker;
    while (ci.output_scanline < ci.output_height) {
        size_t y = ci.output_scanline;
        uint8_t *d = out + y * w * 3;
        if (!cmyk) {   /* RGB rows straight into the image */
            JSAMPROW rp = d;
            jpeg_read_scanlines(&ci, &rp, 1);
        } else {
            JSAMPROW rp = row;
            jpeg_read_scanlines(&ci, &rp, 1);
            const uint8_t *s = row;
            for (size_t x = 0; x < w; x++, s += 4, d += 3) {
                unsigned k = inverted ? s[3] : 255u - s[3];
                unsigned v[3];
                for (int c = 0; c < 3; c++) {
                    unsigned t = (inverted ? s[c] : 255u - s[c]) * k + 128;
                    v[c] = (t + (t >> 8)) >> 8;   /* round(a*k/255) */
                }
                d[0] = (uint8_t)v[0];
                d[1] = (uint8_t)v[1];
                d[2] = (uint8_t)v[2];
            }
        }
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    free(row);
    *hwc = out;
    *ow = (int)w;
    *oh = (int)h;
    return RCL_OK;
}
#endif

#ifdef RCL_HAVE_PNG
typedef struct png_src {
    const uint8_t *p;
    size_t len, pos;
    char msg[256];
} png_src;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_read_mem(png_structp png, png_bytep out, png_size_t n)
{
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "unexpected end of file (truncated)");
    memcpy(out, s->p + s->pos, n);
    s->pos += n;
}

static int decode_png(const uint8_t *buf, size_t len, const char *name, uint8_t **hwc, int *oh,
                      int *ow)
{
    png_src src = {buf, len, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error,
                                             png_on_warning);
    if (!png) return rcl_fail(RCL_ERR_NOMEM, "%s: cannot create PNG reader", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return rcl_fail(RCL_ERR_NOMEM, "%s: cannot create PNG reader", name);
    }
    uint8_t *volatile pix = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pix);
        free(rows);
        return rcl_fail(RCL_ERR_FORMAT, "%s: corrupt or truncated PNG: %s", name, src.msg);
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int st = check_dims(name, w, h, len);
    if (st != RCL_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    int ct = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((ct & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);                 /* high byte */
    /* Alpha dropped, also the alpha libpng makes from a palette's tRNS. */
    if ((ct & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png);
    if ((ct & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)w * 3) png_error(png, "unexpected row layout after conversion");
    pix = malloc((size_t)h * rowbytes);
    rows = malloc((size_t)h * sizeof(png_bytep));
    if (!pix || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pix + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *hwc = pix;
    *ow = (int)w;
    *oh = (int)h;
    return RCL_OK;
}
#endif

int rcl_image_decode_hwc(const uint8_t *buf, size_t len, const char *name, int min_short,
                         uint8_t **hwc, int *h, int *w)
{
    if (!hwc || !h || !w || (!buf && len))
        return rcl_fail(RCL_ERR_INVALID, "rcl_image_decode: NULL argument");
    *hwc = NULL;
    *h = *w = 0;
    if (!name) name = "(memory)";
    (void)min_short;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF) {
#ifdef RCL_HAVE_JPEG
        return decode_jpeg(buf, len, name, min_short, hwc, h, w);
#else
        return rcl_fail(RCL_ERR_UNSUPPORTED, "%s: JPEG support not built (no libjpeg)", name);
#endif
    }
    if (len >= 8 && memcmp(buf, png_sig, 8) == 0) {
#ifdef RCL_HAVE_PNG
        return decode_png(buf, len, name, hwc, h, w);
#else
        return rcl_fail(RCL_ERR_UNSUPPORTED, "%s: PNG support not built (no libpng)", name);
#endif
    }
    return rcl_fail(RCL_ERR_FORMAT, "%s: not a JPEG or PNG file (%zu bytes)", name, len);
}

int rcl_image_decode_scaled(const uint8_t *buf, size_t len, const char *name, int min_short,
                            rcl_image *img)
{
    if (!img) return rcl_fail(RCL_ERR_INVALID, "rcl_image_decode: NULL argument");
    img->data = NULL;
    img->h = img->w = 0;
    uint8_t *hwc;
    int h, w;
    RCL_TRY(rcl_image_decode_hwc(buf, len, name, min_short, &hwc, &h, &w));
    size_t plane = (size_t)h * w;
    uint8_t *out = malloc(3 * plane);
    if (!out) {
        free(hwc);
        return rcl_fail(RCL_ERR_NOMEM, "%s: cannot allocate a %dx%d image", name ? name : "(memory)",
                        w, h);
    }
    const uint8_t *s = hwc;
    for (size_t i = 0; i < plane; i++, s += 3) {   /* interleaved -> planes */
        out[i] = s[0];
        out[plane + i] = s[1];
        out[2 * plane + i] = s[2];
    }
    free(hwc);
    img->data = out;
    img->h = h;
    img->w = w;
    return RCL_OK;
}

int rcl_image_decode(const uint8_t *buf, size_t len, const char *name, rcl_image *img)
{
    return rcl_image_decode_scaled(buf, len, name, 0, img);
}

int rcl_image_load(const char *path, rcl_image *img)
{
    if (!path || !img) return rcl_fail(RCL_ERR_INVALID, "rcl_image_load: NULL argument");
    img->data = NULL;
    img->h = img->w = 0;
    uint8_t *buf;
    size_t len;
    RCL_TRY(rcl_read_file(path, &buf, &len));
    int st = rcl_image_decode(buf, len, path, img);
    free(buf);
    return st;
}
