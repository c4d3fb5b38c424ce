/* safetensors files (https://github.com/huggingface/safetensors), host only.
 *
 * Layout: u64 little-endian N, N bytes of UTF-8 JSON header (starts with '{',
 * may be padded with trailing spaces), then the byte buffer. The header maps
 * tensor name -> {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * relative to the byte buffer) plus an optional "__metadata__" object of
 * string -> string. Tensor data is little-endian, C order; the offsets must
 * tile the byte buffer exactly (no gaps, no overlaps, nothing after).
 *
 * Checkpoints use PyTorch state_dict names, so files move both ways with
 * safetensors.torch.load_file / save_file. */
#ifndef RCL_SAFETENSORS_H
#define RCL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Element types, named as in the file ("F32", ...). */
typedef enum rcl_st_dtype {
    RCL_ST_BOOL, RCL_ST_U8, RCL_ST_I8, RCL_ST_F8_E5M2, RCL_ST_F8_E4M3,
    RCL_ST_I16, RCL_ST_U16, RCL_ST_F16, RCL_ST_BF16,
    RCL_ST_I32, RCL_ST_U32, RCL_ST_F32, RCL_ST_F64, RCL_ST_I64, RCL_ST_U64,
    RCL_ST_NDTYPES
} rcl_st_dtype;

/* "F32" etc.; NULL for an invalid value. */
const char *rcl_st_dtype_name(rcl_st_dtype dt);
/* Bytes per element; 0 for an invalid value. */
size_t rcl_st_dtype_size(rcl_st_dtype dt);
/* Parse a dtype name; RCL_OK or RCL_ERR_NOT_FOUND. */
int rcl_st_dtype_from_name(const char *name, rcl_st_dtype *dt);

/* One tensor of an open file (all pointers owned by the file). */
typedef struct rcl_st_tensor {
    const char *name;       /* NUL-terminated UTF-8 */
    rcl_st_dtype dtype;
    int ndim;               /* 0 for a scalar (shape []) */
    const int64_t *shape;   /* ndim entries, each >= 0 */
    size_t numel;           /* product of shape; 1 for a scalar */
    size_t nbytes;          /* numel * rcl_st_dtype_size(dtype) */
    size_t offset;          /* data_offsets[0], from the start of the byte buffer */
    const void *data;       /* nbytes little-endian bytes; aligned to the element
                             * size whenever `offset` is (PyTorch's writer ensures
                             * it), else use rcl_st_read / memcpy */
} rcl_st_tensor;

typedef struct rcl_st_meta {
    const char *key, *value;   /* NUL-terminated UTF-8 */
} rcl_st_meta;

/* An open file: caller-owned struct, fields read-only. The whole file is
 * read into memory by rcl_st_open; tensors are in data-offset order. */
typedef struct rcl_st_file {
    rcl_st_tensor *tensors;
    size_t n_tensors;
    rcl_st_meta *meta;         /* sorted by key */
    size_t n_meta;
    /* private */
    char *path;
    char *header;
    unsigned char *data;
    size_t data_bytes;
    const rcl_st_tensor **by_name;   /* sorted by name */
    int64_t *dims;
} rcl_st_file;

/* Read and validate `path` into *f (which must not be open). The header
 * length, JSON and every tensor's dtype/shape/offsets are checked against the
 * file size before the data is allocated; the JSON subset is strict (see
 * src/json.h), duplicate names are rejected.
 * RCL_ERR_IO: missing/unreadable file or not a regular file;
 * RCL_ERR_FORMAT: malformed or truncated (rcl_last_error() names the file and
 * the problem); RCL_ERR_NOMEM. On error *f is left closed (rcl_st_close is
 * harmless). */
int rcl_st_open(rcl_st_file *f, const char *path);
/* Free everything; *f is zeroed. Safe on a zeroed or already closed struct. */
void rcl_st_close(rcl_st_file *f);

/* Tensor `name`, or NULL (O(log n)). */
const rcl_st_tensor *rcl_st_find(const rcl_st_file *f, const char *name);
/* i-th tensor in data-offset order (i < f->n_tensors), else NULL. */
const rcl_st_tensor *rcl_st_tensor_at(const rcl_st_file *f, size_t i);
/* Metadata value for `key`, or NULL. */
const char *rcl_st_metadata(const rcl_st_file *f, const char *key);

/* Copy tensor `name` into dst, which holds `count` elements of `dtype`.
 * RCL_ERR_NOT_FOUND if absent; RCL_ERR_FORMAT (message naming the file and
 * tensor) if its dtype or element count differ. */
int rcl_st_read(const rcl_st_file *f, const char *name, rcl_st_dtype dtype, void *dst,
                size_t count);

/* ---- writing */

struct rcl_st_wtensor;
struct rcl_st_wmeta;

/* Collects tensors and metadata, then writes them in the order added.
 * Caller-owned; zero-initialise or call rcl_st_writer_init. */
typedef struct rcl_st_writer {
    struct rcl_st_wtensor *tensors;
    size_t n_tensors, cap_tensors;
    struct rcl_st_wmeta *meta;
    size_t n_meta, cap_meta;
} rcl_st_writer;

void rcl_st_writer_init(rcl_st_writer *w);
void rcl_st_writer_free(rcl_st_writer *w);

/* Add a tensor. Name and shape are copied; `data` (nbytes = product of
 * shape * dtype size, little-endian, C order) is only referenced and must
 * stay valid until rcl_st_write; it may be NULL when nbytes is 0.
 * RCL_ERR_INVALID: NULL/duplicate/non-UTF-8 name or "__metadata__", bad
 * dtype, ndim < 0, a negative dimension, size overflow. */
int rcl_st_writer_add(rcl_st_writer *w, const char *name, rcl_st_dtype dtype, int ndim,
                      const int64_t *shape, const void *data);
/* Add a "__metadata__" entry (copied). RCL_ERR_INVALID on a duplicate key
 * or non-UTF-8 text. Keys are written in the order added. */
int rcl_st_writer_metadata(rcl_st_writer *w, const char *key, const char *value);

/* Write the file atomically: to "<path>.tmp.<pid>", fflush + fsync, then
 * rename over `path`. The header is padded with spaces to a multiple of 8.
 * On error (RCL_ERR_IO, RCL_ERR_NOMEM) the temporary file is removed and
 * `path` is untouched. */
int rcl_st_write(const rcl_st_writer *w, const char *path);
/* The same bytes to an open stream (`name` for messages), for callers that
 * do their own atomic write (checkpoints: rcl_checkpoint_set_write_hook). */
int rcl_st_write_stream(const rcl_st_writer *w, FILE *f, const char *name);

#endif
