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

/* ------------------------------------------------------------- ImageNet
 * Streaming image sets (docs/imagenet.md): a cached index of files, and a
 * loader whose worker threads read, decode and augment each sample when
 * its batch is due (nothing is held in memory but the batches in flight). */

#define RCL_IMAGENET_CLASSES 1000
/* The k-th ILSVRC-2012 class id ("n01440764" ...; NULL outside 0..999) and
 * the label of a class id (-1 if it is not one of the 1000). */
const char *rcl_imagenet_wnid(int k);
int rcl_imagenet_wnid_label(const char *wnid);

/* rcl_image_decode with libjpeg-turbo's DCT scaling: a JPEG is decoded at
 * the smallest scale of 1/8, 1/4, 1/2 whose shorter side (ceil(side * k /
 * 8)) is still at least `min_short`, else at full size (0: full size); the
 * other eighths are slower than full size in libjpeg-turbo (no SIMD). PNG
 * is always decoded at full size. */
int rcl_image_decode_scaled(const uint8_t *buf, size_t len, const char *name, int min_short,
                            rcl_image *img);

/* The window rows top..top+ch-1, columns left..left+cw-1 of `src`
 * (c x sh x sw) resized to rh x rw by rcl_resize_bilinear, computed for the
 * window only: equal, byte for byte, to resizing and then cropping. */
int rcl_resize_crop(uint8_t *dst, int ch, int cw, int top, int left, int rh, int rw,
                    const uint8_t *src, int c, int sh, int sw);

/* The size of an image whose shorter side is resized to `s` (torchvision's
 * Resize(s): the longer side becomes int(s * long / short)). */
void rcl_resize_short_dims(int h, int w, int s, int *rh, int *rw);

/* A split's files, labels and byte sizes. Zero it or let
 * rcl_file_index_open fill it; free with rcl_file_index_destroy. */
typedef struct rcl_file_index {
    char *dir;             /* the split directory; paths are relative to it */
    int n;
    char **paths;          /* n relative paths ("n01440764/x.JPEG") */
    int32_t *labels;       /* n labels in [0, num_classes) */
    int64_t *sizes;        /* n file sizes in bytes */
    int num_classes;
    char **class_ids;      /* label -> class id (WordNet id or folder name) */
    char **class_words;    /* label -> display name (synset words, else the id) */
    int classes_present;   /* classes with at least one file */
    char class_source[128];   /* where the class list came from, for messages */
    int from_cache;        /* 1: read from the cache, the tree was not walked */
    char *cache_dir;       /* where the index (and the mean image) live; NULL: none */
    char *cache_path;      /* the index file; NULL: not cached */
} rcl_file_index;

typedef struct rcl_index_options {
    const char *cache_dir;    /* NULL: $XDG_CACHE_HOME (or ~/.cache)/resnet-cl/
                                 data-<hash of the split's path>; nothing is
                                 written into the data unless asked */
    const char *classes_file; /* NULL: synset_words.txt / LOC_synset_mapping.txt
                                 when present, else the 1000 ILSVRC-2012 ids */
    int no_cache;             /* 1: neither read nor write the cache */
} rcl_index_options;

/* Index split `split` of `root` (root/<split>, or root itself when split is
 * NULL or ""). Layouts:
 *  - class folders <dir>/<class>/<file>.{JPEG,jpg,jpeg,png};
 *  - a flat <dir>/<name>.JPEG with LOC_val_solution.csv (first id of each
 *    PredictionString), or ILSVRC2012_validation_ground_truth.txt (line i:
 *    the devkit's ILSVRC2012_ID of ILSVRC2012_val_<i>.JPEG) together with
 *    ILSVRC2012_devkit_synsets.txt (the devkit's 1000 ids in ILSVRC2012_ID
 *    order, one a line), looked for in dir, root and root/.. .
 * Labels (docs/imagenet.md): from a classes file (opts->classes_file, or a
 * synset words file "n01440764 tench, Tinca tinca" found in dir, root or
 * root/..: its ids in its order); else, when every class is an ILSVRC-2012
 * id, the sorted 1000 (a train/ with fewer classes keeps ImageNet's labels
 * and 1000 outputs); else the sorted classes present (as ImageFolder).
 * The index is cached as <cache dir>/index-<split>.tsv (written
 * atomically) and reused while the stamp of the split directory, of each
 * class folder and of the label files (mtime and size) is unchanged. */
int rcl_file_index_open(rcl_file_index *ix, const char *root, const char *split,
                        const rcl_index_options *opt);
void rcl_file_index_destroy(rcl_file_index *ix);
/* malloc'd "<cache_dir>/<name>" (NULL without a cache dir). */
char *rcl_file_index_side_path(const rcl_file_index *ix, const char *name);

/* Display names of n classes from a synset words file (synset_words.txt /
 * LOC_synset_mapping.txt: "n01440764 tench, Tinca tinca"): class k with id
 * ids[k] gets the words of that id; without ids (NULL: a file that records
 * no class names) class k gets the words of the file's k-th line; a class
 * the file does not name keeps its id (or "class k"). *words: n malloc'd
 * strings (free with rcl_class_words_free). RCL_ERR_FORMAT naming the file
 * and line for a file that is not a words file. */
int rcl_class_words_load(const char *path, char *const *ids, int n, char ***words);
void rcl_class_words_free(char **words, int n);

/* Per-pixel mean image files: "RCLMEAN1", int32 c, h, w, int64 count,
 * then c*h*w little-endian float32 (values in [0, 1]), written atomically. */
int rcl_mean_image_save(const char *path, const float *mean, int c, int h, int w, int64_t count);
/* *mean malloc'd; RCL_ERR_FORMAT naming the file when it is not one. */
int rcl_mean_image_load(const char *path, float **mean, int *c, int *h, int *w, int64_t *count);

/* AlexNet's PCA colour augmentation ("lighting", Krizhevsky et al. 2012, as
 * fb.resnet.torch publishes it, on [0, 1] RGB): shift[i] = sum_j
 * eigvec[i][j] * alpha[j] * eigval[j], added to channel i. */
extern const float rcl_pca_eigval[3];
extern const float rcl_pca_eigvec[3][3];
void rcl_pca_shift(const float alpha[3], float shift[3]);

/* The evaluation transforms on one decoded image (img: RGB CHW): shorter
 * side resized to `resize` (rcl_resize_short_dims), then
 *  - center: the centre crop x crop (torchvision CenterCrop rounding);
 *  - ten: TenCrop: top-left, top-right, bottom-left, bottom-right, centre
 *    of the image, then the same five of its horizontal flip;
 * each written as float x/255 minus `mean` (crop x crop x 3 CHW, or NULL). */
int rcl_imagenet_center_crop(float *dst, const rcl_image *img, int resize, int crop,
                             const float *mean);
int rcl_imagenet_ten_crop(float *dst, const rcl_image *img, int resize, int crop,
                          const float *mean);

typedef struct rcl_stream_options {
    int batch_size;        /* > 0 */
    int threads;           /* decoding workers; 0 = 1 */
    int prefetch;          /* batch slots, 2..64 (each batch_size x 3 x crop x crop
                              floats: 154 MB at 256 x 224 x 224); 0 = 3 */
    int train;             /* 1: the paper's scale augmentation: shorter side
                              random in [scale_min, scale_max], random crop x
                              crop, horizontal flip p=0.5, PCA lighting;
                              0: shorter side `resize`, centre crop */
    int shuffle;           /* permute each epoch (seeded by seed, epoch) */
    uint64_t seed;
    int crop;              /* 0 = 224 */
    int scale_min, scale_max; /* 0 = 256, 480 */
    int resize;            /* evaluation: 0 = 256 */
    float lighting;        /* PCA colour noise sigma (train only; paper 0.1); 0 off */
    const float *mean;     /* per-pixel mean, 3 x crop x crop in [0, 1], subtracted;
                              copied at create; NULL: none */
    float std[3];          /* then divided by std[c] (0: 1; torchvision models:
                              Normalize with ImageNet's per-channel std) */
    int full_decode;       /* 1: no DCT scaling (decode every JPEG at full size) */
    int strict;            /* 1: an undecodable file fails rcl_stream_next */
    int ten_crop;          /* evaluation (train 0): each sample is the 10 crops of
                              rcl_imagenet_ten_crop (10 x 3 x crop x crop floats,
                              one label), the paper's test protocol */
} rcl_stream_options;

typedef struct rcl_stream_stats {
    int64_t images;        /* samples prepared since create */
    int64_t skipped;       /* undecodable files in the current epoch */
    double read_s, decode_s, resize_s, augment_s; /* worker time per stage, summed */
} rcl_stream_stats;

typedef struct rcl_stream rcl_stream;

/* A loader over an index (which must outlive it). Batches are (x/255 (+ the
 * lighting shift) - mean) / std, float32 CHW, with the index's labels. Each
 * sample's augmentation depends only on (seed, epoch, position in the
 * epoch), so the batches are the same whatever `threads` is. */
int rcl_stream_create(rcl_stream **s, const rcl_file_index *ix, const rcl_stream_options *o);
void rcl_stream_destroy(rcl_stream *s);
int rcl_stream_begin_epoch(rcl_stream *s, int epoch);
/* The same epoch from batch `first_batch` on (0..num_batches): the batches
 * it gives are the tail of that epoch, byte for byte (a run resumed in the
 * middle of an epoch continues it exactly). */
int rcl_stream_begin_epoch_at(rcl_stream *s, int epoch, int first_batch);
/* Next batch (batch_size x 3 x crop x crop floats, or batch_size x 10 x 3 x
 * crop x crop with ten_crop; labels); *count = 0 at
 * the end of the epoch. A file that cannot be read or decoded is left out
 * of its batch (*count is then smaller; rcl_stream_skipped names it) or,
 * with strict, gives RCL_ERR_FORMAT / RCL_ERR_IO naming it (and again on
 * every later call of the epoch). */
int rcl_stream_next(rcl_stream *s, float *images, int *labels, int *count);
int rcl_stream_num_batches(const rcl_stream *s);
/* The options in force (defaults filled in; mean NULL). */
void rcl_stream_get_options(const rcl_stream *s, rcl_stream_options *o);
void rcl_stream_stats_get(const rcl_stream *s, rcl_stream_stats *st);
/* The i-th file skipped in the current epoch (in epoch order), as one line
 * "<path>: <why>"; NULL past the end. */
const char *rcl_stream_skipped(const rcl_stream *s, int i);

/* ---------------------------------------------------------- batch source */

/* A loader (in-memory data set) or a stream (image files) behind one
 * interface: the trainer's input and the test pass's. Exactly one of the
 * two is set; the source does not own it. */
typedef struct rcl_batch_source {
    rcl_loader *loader;
    rcl_stream *stream;
} rcl_batch_source;
/* rcl_loader_begin_epoch_at / rcl_stream_begin_epoch_at */
int rcl_source_begin_epoch_at(const rcl_batch_source *s, int epoch, int first_batch);
/* rcl_loader_next / rcl_stream_next */
int rcl_source_next(const rcl_batch_source *s, float *images, int *labels, int *count);
int rcl_source_num_batches(const rcl_batch_source *s);

#endif
