/* libFuzzer target: the ImageNet index and label files (src/data/
 * imagenet_index.c) and DCT-scaled decoding. The first byte picks:
 *  0: the index cache (rcl_file_index_parse); the expected stamp is taken
 *     from the input's own "stamp <16 hex>" line when it has one, so that
 *     the fuzzer gets past it to the class and file lines;
 *  1: a classes / synset words file (rcl_parse_class_list);
 *  2: LOC_val_solution.csv, 3: ILSVRC2012_validation_ground_truth.txt
 *     (rcl_parse_val_labels over 64 val file names, the devkit order being
 *     the 1000 ILSVRC-2012 ids);
 *  4: a JPEG/PNG decoded with rcl_image_decode_hwc at a minimum shorter
 *     side from the second byte, then a random-sized crop of it resized
 *     with rcl_resize_crop_hwc, as the loader does.
 * Properties: an accepted index has labels in range, relative paths
 * without "..", sizes >= 0; a parsed class list has unique, non-empty ids;
 * val labels name only listed files. */
#include "fuzz_util.h"
#include "data/data_internal.h"

static uint64_t stamp_in(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i + 22 <= n; i++)
        if (memcmp(d + i, "stamp ", 6) == 0) {
            uint64_t v = 0;
            for (size_t k = 0; k < 16; k++) {
                uint8_t c = d[i + 6 + k];
                int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
                if (x < 0) return 0;
                v = v << 4 | (uint64_t)x;
            }
            return v;
        }
    return 0;
}

/* A ".." component ("n01.." is a name, not one). */
static int has_dotdot(const char *p)
{
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.') return 1;
        c += n;
        if (*c == '/') c++;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 5;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    if (mode == 0) {
        rcl_file_index ix;
        if (rcl_file_index_parse(&ix, d, n, stamp_in(d, n), "fuzz") == 0) {
            for (int i = 0; i < ix.n; i++) {
                if (ix.labels[i] < 0 || ix.labels[i] >= ix.num_classes || ix.sizes[i] < 0) abort();
                if (ix.paths[i][0] == '/' || has_dotdot(ix.paths[i])) abort();
            }
            if (ix.classes_present > ix.num_classes) abort();
            rcl_file_index_destroy(&ix);
        }
    } else if (mode == 1) {
        char **ids, **words;
        int k;
        if (rcl_parse_class_list(d, n, "fuzz", &ids, &words, &k) == 0) {
            for (int i = 0; i < k; i++) {
                if (!ids[i][0] || strchr(ids[i], ',') || strchr(ids[i], '/')) abort();
                for (int j = 0; j < i && k < 64; j++)
                    if (strcmp(ids[i], ids[j]) == 0) abort();
            }
            rcl_free_names(ids, k);
            rcl_free_names(words, k);
        }
    } else if (mode <= 3) {
        char *names[64], *order[RCL_IMAGENET_CLASSES], *wn[64];
        for (int i = 0; i < 64; i++) {
            names[i] = malloc(40);
            snprintf(names[i], 40, "ILSVRC2012_val_%08d.JPEG", i + 1);
        }
        for (int k = 0; k < RCL_IMAGENET_CLASSES; k++) order[k] = (char *)rcl_imagenet_wnid(k);
        if (rcl_parse_val_labels(d, n, "fuzz", mode - 2, order, RCL_IMAGENET_CLASSES, names, 64,
                                 wn) == 0)
            for (int i = 0; i < 64; i++) {
                if (wn[i] && (!wn[i][0] || strchr(wn[i], ' '))) abort();
                free(wn[i]);
            }
        for (int i = 0; i < 64; i++) free(names[i]);
    } else if (n >= 1) {
        uint8_t *hwc;
        int h, w;
        int min_short = d[0] * 4;
        if (rcl_image_decode_hwc(d + 1, n - 1, "fuzz", min_short, &hwc, &h, &w) == 0) {
            int s = 1 + d[0] % 64, rh, rw;
            rcl_resize_short_dims(h, w, s, &rh, &rw);
            int crop = rh < rw ? rh : rw;
            if (crop > 64) crop = 64;
            uint8_t *out = malloc((size_t)3 * crop * crop);
            if (rh >= 1 && rw >= 1 && crop >= 1 && out &&
                rcl_resize_crop_hwc(out, crop, crop, rh - crop, rw - crop, rh, rw, hwc, h, w) != 0)
                abort();
            free(out);
            free(hwc);
        } else if (hwc) {
            abort();
        }
    }
    return 0;
}
