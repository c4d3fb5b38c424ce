/* Data pipeline (host only): image decoding (JPEG/PNG -> uint8 RGB CHW),
 * bilinear resize, in-memory datasets (CIFAR-10 binary batches or
 * class-folder trees as torchvision's ImageFolder) and a batch loader that
 * prepares shuffled / augmented float batches on a background thread.
 * All functions return RCL_OK (0) or a negative rcl_status; details, with
 * the offending file name, are in rcl_last_error(). */
#ifndef RCL_DATA_H
#define RCL_DATA_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- images */

/* One decoded image: 3 x h x w uint8, planar RGB (CHW). Caller-owned;
 * release with rcl_image_free. */
typedef struct rcl_image {
    uint8_t *data;
    int h, w;
} rcl_image;

/* Decode one JPEG or PNG file (format detected from its first bytes, not
 * its name) to RGB CHW. Greyscale and CMYK JPEGs, palette / grey / 16-bit /
 * alpha PNGs are converted to 8-bit RGB (alpha dropped, 16-bit -> high
 * byte, as PIL's convert("RGB")). A corrupt or truncated file gives
 * RCL_ERR_FORMAT naming the file; a format this build lacks (no libjpeg /
 * libpng) gives RCL_ERR_UNSUPPORTED. */
int rcl_image_load(const char *path, rcl_image *img);
/* Same from a memory buffer; `name` is used in error messages only. */
int rcl_image_decode(const uint8_t *buf, size_t len, const char *name, rcl_image *img);
void rcl_image_free(rcl_image *img);

/* Bilinear resize of planar uint8 images: dst (c x dh x dw) from src
 * (c x sh x sw), half-pixel centres (align_corners=False), edge clamped,
 * no antialiasing (as torch.nn.functional.interpolate(mode="bilinear",
 * antialias=False) / OpenCV INTER_LINEAR), rounded to nearest. */
int rcl_resize_bilinear(uint8_t *dst, int dh, int dw, const uint8_t *src, int c, int sh,
                        int sw);

/* -------------------------------------------------------------- datasets */

typedef enum rcl_data_layout {
    RCL_LAYOUT_NONE = 0,
    RCL_LAYOUT_CIFAR_BIN = 1,   /* data_batch_{1..5}.bin / test_batch.bin */
    RCL_LAYOUT_FOLDER = 2       /* <root>/<split>/<class>/<file>.{jpg,jpeg,png} */
} rcl_data_layout;

typedef struct rcl_dataset_options {
    int per_class_limit;   /* 0 = all; else keep the first k images of each class
                              (file order for binary batches, name order in folders) */
    int resize;            /* 0 = every image of a split must have one size;
                              > 0 = resize each image to resize x resize (bilinear) */
} rcl_dataset_options;

/* An image set held in host memory. Caller-owned struct; zero it or let
 * rcl_dataset_load / rcl_dataset_alloc fill it, free with
 * rcl_dataset_destroy. */
typedef struct rcl_dataset {
    int n;                 /* number of images */
    int c, h, w;           /* image shape (c = 3) */
    uint8_t *pixels;       /* n x c x h x w, uint8 CHW per image */
    int32_t *labels;       /* n labels in [0, num_classes) */
    int num_classes;
    char **class_names;    /* num_classes NUL-terminated names */
    rcl_data_layout layout;
} rcl_dataset;

/* Load split "train" or "test" from `root` (opts may be NULL):
 *  1. CIFAR-10 binary batches in root or root/cifar-10-batches-bin: train =
 *     data_batch_1..5.bin, test = test_batch.bin, each exactly 10000 records
 *     of 1 label byte + 1024 R + 1024 G + 1024 B. Class names from
 *     batches.meta.txt if present, else the standard ten. Errors name the
 *     file: missing -> RCL_ERR_NOT_FOUND, wrong size or label > 9 ->
 *     RCL_ERR_FORMAT, read failure -> RCL_ERR_IO.
 *  2. Class folders root/<split>/<class>/<file>.{jpg,jpeg,png} (extension case-
 *     insensitive, files directly in the class folder): classes = sorted
 *     subfolder names (label = index), files sorted by name. `split` NULL or
 *     "" reads root/<class>/... directly. A class folder without image files
 *     is refused (RCL_ERR_FORMAT naming it): it would take a label and shift
 *     the labels of the classes after it. Every image of a split must have
 *     the size of the first unless opts->resize is set (RCL_ERR_FORMAT).
 * Neither found -> RCL_ERR_NOT_FOUND saying what was looked for. On error
 * `ds` is left empty (zeroed). */
int rcl_dataset_load(rcl_dataset *ds, const char *root, const char *split,
                     const rcl_dataset_options *opts);
/* Class lists must agree wherever labels cross from one set to another
 * (train -> test, a checkpoint -> data): label k is the k-th name. RCL_OK
 * when both lists hold the same names in the same order; else
 * RCL_ERR_INVALID with a message naming both sides (`*_what`, e.g.
 * "train/") and giving both lists (long ones cut) and the first label that
 * differs. */
int rcl_class_lists_check(const char *a_what, char *const *a, int na, const char *b_what,
                          char *const *b, int nb);
int rcl_dataset_check_classes(const rcl_dataset *a, const char *a_what, const rcl_dataset *b,
                              const char *b_what);
/* The same against a comma-separated list (a checkpoint's "classes"
 * metadata, rcl_checkpoint_info.class_names). */
int rcl_dataset_check_class_csv(const rcl_dataset *ds, const char *ds_what, const char *csv,
                                const char *csv_what);
/* Allocate an uninitialised dataset of n images c x h x w with
 * `num_classes` classes named "0", "1", ... (for synthetic data / tests). */
int rcl_dataset_alloc(rcl_dataset *ds, int n, int c, int h, int w, int num_classes);
void rcl_dataset_destroy(rcl_dataset *ds);
/* Pointer to image i (c*h*w bytes). */
uint8_t *rcl_dataset_image(const rcl_dataset *ds, int i);
/* c*h*w */
size_t rcl_dataset_image_size(const rcl_dataset *ds);

/* ---------------------------------------------------------------- loader */

typedef struct rcl_loader_options {
    int batch_size;        /* > 0 */
    int shuffle;           /* permute each epoch (seeded by seed, epoch) */
    int augment;           /* zero-pad `pad`, random h x w crop, random
                              horizontal flip p=0.5 (torchvision RandomCrop(
                              padding=pad) + RandomHorizontalFlip) */
    int pad;               /* crop padding when augment; 0 = 4 */
    uint64_t seed;
    int normalize;         /* 0: x/255; 1: (x/255 - mean[c]) / std[c] (float32,
                              as ToTensor + Normalize) */
    float mean[3], std[3];
    int buffers;           /* batches prepared ahead, 2..16; 0 = 3 */
} rcl_loader_options;

/* Opaque: owns a background thread and its batch buffers. */
typedef struct rcl_loader rcl_loader;

/* Create a loader over `ds` (which must outlive it and stay unchanged).
 * Bad options (batch_size <= 0, empty dataset, std <= 0 ...) ->
 * RCL_ERR_INVALID. */
int rcl_loader_create(rcl_loader **ld, const rcl_dataset *ds, const rcl_loader_options *opt);
/* Join the thread (also mid-epoch) and free everything. NULL is a no-op. */
void rcl_loader_destroy(rcl_loader *ld);

/* Start epoch `epoch` (>= 0): its order and augmentation depend only on
 * (seed, epoch) and each sample's position in the epoch, so resuming at an
 * epoch reproduces it exactly. May be called mid-epoch (the rest of the
 * previous epoch is dropped). */
int rcl_loader_begin_epoch(rcl_loader *ld, int epoch);
/* As begin_epoch, but the first batch yielded is batch `first_batch`
 * (0 .. num_batches; num_batches: the epoch is already over), with exactly
 * the samples and augmentation it has in a whole epoch: how a checkpoint
 * written mid-epoch continues. */
int rcl_loader_begin_epoch_at(rcl_loader *ld, int epoch, int first_batch);
/* Next batch: images (batch_size x c x h x w floats) and labels (batch_size
 * ints) receive *count samples; the last batch may be partial (drop_last =
 * False); *count = 0 marks the end of the epoch. Blocks until the batch is
 * ready. RCL_ERR_INVALID before the first begin_epoch. begin_epoch / next
 * must be called from one thread at a time. */
int rcl_loader_next(rcl_loader *ld, float *images, int *labels, int *count);
/* Batches per epoch: ceil(n / batch_size). */
int rcl_loader_num_batches(const rcl_loader *ld);

#endif
