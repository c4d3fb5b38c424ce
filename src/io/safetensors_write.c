/* safetensors writer: header JSON in serde_json's compact form, tensors in
 * the order added, written atomically (rcl_atomic_write: a temporary file
 * that is fsync'ed and renamed over the destination). */
#include "rcl/safetensors.h"
#include "rcl/status.h"
#include "io/json.h"
#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rcl_st_wtensor {
    char *name;
    rcl_st_dtype dtype;
    int ndim;
    int64_t *shape;
    size_t nbytes;
    const void *data;
};

struct rcl_st_wmeta {
    char *key, *value;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void rcl_st_writer_init(rcl_st_writer *w) { memset(w, 0, sizeof *w); }

void rcl_st_writer_free(rcl_st_writer *w)
{
    if (!w) return;
    for (size_t k = 0; k < w->n_tensors; k++) {
        free(w->tensors[k].name);
        free(w->tensors[k].shape);
    }
    for (size_t k = 0; k < w->n_meta; k++) {
        free(w->meta[k].key);
        free(w->meta[k].value);
    }
    free(w->tensors);
    free(w->meta);
    memset(w, 0, sizeof *w);
}

int rcl_st_writer_add(rcl_st_writer *w, const char *name, rcl_st_dtype dtype, int ndim,
                      const int64_t *shape, const void *data)
{
    if (!w || !name) return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_add: NULL argument");
    size_t esize = rcl_st_dtype_size(dtype);
    if (!esize) return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_add '%s': bad dtype %d", name, (int)dtype);
    if (ndim < 0 || (ndim > 0 && !shape))
        return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_add '%s': bad ndim %d / shape", name, ndim);
    if (!rcl_json_utf8_valid(name, strlen(name)) || strcmp(name, "__metadata__") == 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_add: invalid tensor name '%s'", name);
    for (size_t k = 0; k < w->n_tensors; k++)
        if (strcmp(w->tensors[k].name, name) == 0)
            return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_add: duplicate tensor name '%s'", name);
    size_t numel = 1;
    int overflow = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_add '%s': shape[%d] = %lld < 0", name, d,
                            (long long)shape[d]);
        uint64_t v = (uint64_t)shape[d];
        if (v > SIZE_MAX || (v && numel > SIZE_MAX / v)) overflow = 1;
        else numel *= (size_t)v;
    }
    if (overflow || numel > SIZE_MAX / esize)
        return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_add '%s': size overflows", name);
    size_t nbytes = numel * esize;
    if (nbytes && !data) return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_add '%s': NULL data", name);

    if (w->n_tensors == w->cap_tensors) {
        size_t nc = w->cap_tensors ? w->cap_tensors * 2 : 16;
        struct rcl_st_wtensor *t = realloc(w->tensors, nc * sizeof *t);
        if (!t) return rcl_fail(RCL_ERR_NOMEM, "rcl_st_writer_add");
        w->tensors = t;
        w->cap_tensors = nc;
    }
    struct rcl_st_wtensor *t = &w->tensors[w->n_tensors];
    t->name = dup_str(name);
    t->shape = malloc((ndim ? (size_t)ndim : 1) * sizeof *t->shape);
    if (!t->name || !t->shape) {
        free(t->name);
        free(t->shape);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_st_writer_add");
    }
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->dtype = dtype;
    t->ndim = ndim;
    t->nbytes = nbytes;
    t->data = data;
    w->n_tensors++;
    return RCL_OK;
}

int rcl_st_writer_metadata(rcl_st_writer *w, const char *key, const char *value)
{
    if (!w || !key || !value) return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_metadata: NULL argument");
    if (!rcl_json_utf8_valid(key, strlen(key)) || !rcl_json_utf8_valid(value, strlen(value)))
        return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_metadata '%s': text is not valid UTF-8", key);
    for (size_t k = 0; k < w->n_meta; k++)
        if (strcmp(w->meta[k].key, key) == 0)
            return rcl_fail(RCL_ERR_INVALID, "rcl_st_writer_metadata: duplicate key '%s'", key);
    if (w->n_meta == w->cap_meta) {
        size_t nc = w->cap_meta ? w->cap_meta * 2 : 8;
        struct rcl_st_wmeta *m = realloc(w->meta, nc * sizeof *m);
        if (!m) return rcl_fail(RCL_ERR_NOMEM, "rcl_st_writer_metadata");
        w->meta = m;
        w->cap_meta = nc;
    }
    struct rcl_st_wmeta *m = &w->meta[w->n_meta];
    m->key = dup_str(key);
    m->value = dup_str(value);
    if (!m->key || !m->value) {
        free(m->key);
        free(m->value);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_st_writer_metadata");
    }
    w->n_meta++;
    return RCL_OK;
}

/* Header JSON padded with spaces to a multiple of 8; *data_total = bytes of
 * the byte buffer. */
static int build_header(const rcl_st_writer *w, json_buf *b, size_t *data_total)
{
    size_t off = 0;
    rcl_json_buf_puts(b, "{");
    if (w->n_meta) {
        rcl_json_buf_puts(b, "\"__metadata__\":{");
        for (size_t k = 0; k < w->n_meta; k++) {
            if (k) rcl_json_buf_puts(b, ",");
            rcl_json_buf_string(b, w->meta[k].key);
            rcl_json_buf_puts(b, ":");
            rcl_json_buf_string(b, w->meta[k].value);
        }
        rcl_json_buf_puts(b, "}");
    }
    for (size_t k = 0; k < w->n_tensors; k++) {
        const struct rcl_st_wtensor *t = &w->tensors[k];
        if (k || w->n_meta) rcl_json_buf_puts(b, ",");
        rcl_json_buf_string(b, t->name);
        rcl_json_buf_puts(b, ":{\"dtype\":");
        rcl_json_buf_string(b, rcl_st_dtype_name(t->dtype));
        rcl_json_buf_puts(b, ",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) rcl_json_buf_puts(b, ",");
            rcl_json_buf_u64(b, (uint64_t)t->shape[d]);
        }
        rcl_json_buf_puts(b, "],\"data_offsets\":[");
        if (t->nbytes > SIZE_MAX - off) return rcl_fail(RCL_ERR_INVALID, "rcl_st_write: total size overflows");
        rcl_json_buf_u64(b, off);
        rcl_json_buf_puts(b, ",");
        off += t->nbytes;
        rcl_json_buf_u64(b, off);
        rcl_json_buf_puts(b, "]}");
    }
    rcl_json_buf_puts(b, "}");
    while (!b->oom && b->len % 8) rcl_json_buf_puts(b, " ");
    if (b->oom) return rcl_fail(RCL_ERR_NOMEM, "rcl_st_write: header");
    *data_total = off;
    return RCL_OK;
}

typedef struct {
    const rcl_st_writer *w;
    const json_buf *hdr;
    const char *path;
} st_body;

static int write_all(FILE *fp, const void *p, size_t n, const char *path)
{
    if (n && fwrite(p, 1, n, fp) != n) return rcl_fail(RCL_ERR_IO, "%s: write: %s", path, strerror(errno));
    return RCL_OK;
}

static int write_body(FILE *fp, void *user)
{
    const st_body *b = user;
    unsigned char lenb[8];
    uint64_t n = b->hdr->len;
    for (int k = 0; k < 8; k++) lenb[k] = (unsigned char)(n >> (8 * k));
    RCL_TRY(write_all(fp, lenb, 8, b->path));
    RCL_TRY(write_all(fp, b->hdr->p, b->hdr->len, b->path));
    for (size_t k = 0; k < b->w->n_tensors; k++)
        RCL_TRY(write_all(fp, b->w->tensors[k].data, b->w->tensors[k].nbytes, b->path));
    return RCL_OK;
}

int rcl_st_write_stream(const rcl_st_writer *w, FILE *f, const char *name)
{
    if (!w || !f || !name) return rcl_fail(RCL_ERR_INVALID, "rcl_st_write_stream: NULL argument");
    const uint16_t one = 1;
    if (*(const unsigned char *)&one != 1)
        return rcl_fail(RCL_ERR_UNSUPPORTED, "%s: big-endian hosts are not supported", name);
    json_buf hdr = {0};
    size_t total = 0;
    int rc = build_header(w, &hdr, &total);
    if (!rc) {
        st_body b = {w, &hdr, name};
        rc = write_body(f, &b);
    }
    rcl_json_buf_free(&hdr);
    return rc;
}

int rcl_st_write(const rcl_st_writer *w, const char *path)
{
    if (!w || !path) return rcl_fail(RCL_ERR_INVALID, "rcl_st_write: NULL argument");
    const uint16_t one = 1;
    if (*(const unsigned char *)&one != 1)
        return rcl_fail(RCL_ERR_UNSUPPORTED, "%s: big-endian hosts are not supported", path);
    json_buf hdr = {0};
    size_t total = 0;
    int rc = build_header(w, &hdr, &total);
    if (!rc) {
        st_body b = {w, &hdr, path};
        rc = rcl_atomic_write(path, write_body, &b);
    }
    rcl_json_buf_free(&hdr);
    return rc;
}
