/* libFuzzer target: image decoding (src/data/image_decode.c: JPEG through
 * libjpeg-turbo, PNG through libpng, both with our longjmp error handlers),
 * from memory as the image-folder loader and predict use it; a decoded
 * image is also resized (src/data/image_resize.c). */
#include "fuzz_util.h"
#include "rcl/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rcl_image img;
    if (rcl_image_decode(data, size, "fuzz", &img) == 0) {
        if (!img.data || img.w <= 0 || img.h <= 0) abort();
        /* touch every byte (uninitialised or short buffers show up in ASan/UBSan) */
        unsigned sum = 0;
        size_t n = (size_t)3 * img.w * img.h;
        for (size_t i = 0; i < n; i++) sum += img.data[i];
        if ((size_t)img.w * img.h <= 1u << 20) {
            uint8_t out[3 * 17 * 13];
            if (rcl_resize_bilinear(out, 17, 13, img.data, 3, img.h, img.w)) abort();
        }
        rcl_image_free(&img);
        (void)sum;
    } else if (img.data) {
        abort(); /* a failed decode leaves nothing allocated */
    }
    return 0;
}
