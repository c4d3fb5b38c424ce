/* Helpers shared by the data pipeline's .c files (not installed). */
#ifndef RCL_DATA_INTERNAL_H
#define RCL_DATA_INTERNAL_H

#include "rcl/data.h"

#include <stddef.h>
#include <stdint.h>

/* Read a whole file into a malloc'd buffer. RCL_ERR_NOT_FOUND if it does
 * not exist, RCL_ERR_IO on other failures (message names the file). */
int rcl_read_file(const char *path, uint8_t **buf, size_t *len);

/* malloc'd "a/b" (NULL on allocation failure). */
char *rcl_path_join(const char *a, const char *b);

/* 1 if path is a directory / a regular file. */
int rcl_is_dir(const char *path);
int rcl_is_file(const char *path);

/* Names in directory `dir` (not starting with '.') sorted by strcmp;
 * want_dirs selects subdirectories (1) or regular files (0). The list and
 * each name are malloc'd; free with rcl_free_names. */
int rcl_list_dir(const char *dir, int want_dirs, char ***names, int *count);
void rcl_free_names(char **names, int count);

/* Load the class-folder / CIFAR binary layouts (split already resolved). */
int rcl_dataset_load_folder(rcl_dataset *ds, const char *dir, const rcl_dataset_options *o);
int rcl_dataset_load_cifar_bin(rcl_dataset *ds, const char *dir, const char *split,
                               const rcl_dataset_options *o);
/* Directory holding CIFAR batches under root (root itself or
 * root/cifar-10-batches-bin), malloc'd, or NULL if none. */
char *rcl_cifar_bin_dir(const char *root);

/* CIFAR-10 binary batches in memory (`what` names the source in messages;
 * records of 1 label byte + 3 x 32 x 32 pixels):
 *  - check: len is a whole number of records (exactly `records` of them
 *    unless 0) and every label is 0..9; RCL_ERR_FORMAT otherwise;
 *  - append: the first `records` records of a checked buffer to ds, which
 *    has room for them, keeping at most `limit` per class (0: all);
 *  - parse_names: the first n non-empty lines (trimmed) of a
 *    batches.meta.txt into names[0..n) (malloc'd; RCL_ERR_FORMAT if fewer). */
int rcl_cifar_bin_check(const uint8_t *buf, size_t len, size_t records, const char *what);
void rcl_cifar_bin_append(rcl_dataset *ds, const uint8_t *buf, size_t records, int *per_class,
                          int limit);
int rcl_cifar_bin_parse_names(char **names, int n, const uint8_t *buf, size_t len,
                              const char *what);

/* Decoding to interleaved RGB (h x w x 3, malloc'd in *hwc): what
 * rcl_image_decode_scaled does before splitting the planes. */
int rcl_image_decode_hwc(const uint8_t *buf, size_t len, const char *name, int min_short,
                         uint8_t **hwc, int *h, int *w);
/* rcl_resize_crop from an interleaved source (sh x sw x 3) to planar dst
 * (3 x ch x cw); same arithmetic, same bytes; window sides up to 1024. */
int rcl_resize_crop_hwc(uint8_t *dst, int ch, int cw, int top, int left, int rh, int rw,
                        const uint8_t *src, int sh, int sw);

/* The index cache file (imagenet_index.c): parse `buf` (any bytes) into
 * ix (classes and files, checked: labels in range, relative paths without
 * "..", sizes >= 0) when its stamp line equals `stamp`; RCL_ERR_FORMAT
 * naming `what` otherwise (ix left empty). */
int rcl_file_index_parse(rcl_file_index *ix, const uint8_t *buf, size_t len, uint64_t stamp,
                         const char *what);
/* Parse a classes / synset words file ("<id>[ :]<words>" a line; blank
 * lines skipped): ids and words malloc'd. RCL_ERR_FORMAT on an empty id
 * list, a duplicate id or a bad line. */
int rcl_parse_class_list(const uint8_t *buf, size_t len, const char *what, char ***ids,
                         char ***words, int *n);
/* Labels of a flat validation folder (`names`: its image file names):
 * from LOC_val_solution.csv (kind 0: the first id of each
 * PredictionString) or ILSVRC2012_validation_ground_truth.txt (kind 1:
 * line i is the ILSVRC2012_ID, 1..norder, of ILSVRC2012_val_<i 8 digits>,
 * named by order[id - 1]). wnid_of[i] receives the malloc'd class id of
 * names[i] (matched by the name without its extension), NULL for a file
 * the ground truth does not list. RCL_ERR_FORMAT naming the line. */
int rcl_parse_val_labels(const uint8_t *buf, size_t len, const char *what, int kind,
                         char *const *order, int norder, char *const *names, int nnames,
                         char **wnid_of);

/* torchvision CenterCrop's offset of a crop in a side: int(round((size -
 * crop) / 2.0)) with round-half-to-even (imagenet_augment.c). */
int rcl_center_offset(int size, int crop);
#endif
