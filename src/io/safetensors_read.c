/* safetensors reader: reads the whole file, validates the header against the
 * file size before allocating the data, and indexes tensors by name. */
#include "rcl/safetensors.h"
#include "rcl/status.h"
#include "io/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ST_MAX_HEADER 100000000ull   /* same limit as the reference implementation */

static const struct {
    const char *name;
    size_t size;
} st_dtypes[RCL_ST_NDTYPES] = {
    [RCL_ST_BOOL] = {"BOOL", 1},       [RCL_ST_U8] = {"U8", 1},
    [RCL_ST_I8] = {"I8", 1},           [RCL_ST_F8_E5M2] = {"F8_E5M2", 1},
    [RCL_ST_F8_E4M3] = {"F8_E4M3", 1}, [RCL_ST_I16] = {"I16", 2},
    [RCL_ST_U16] = {"U16", 2},         [RCL_ST_F16] = {"F16", 2},
    [RCL_ST_BF16] = {"BF16", 2},       [RCL_ST_I32] = {"I32", 4},
    [RCL_ST_U32] = {"U32", 4},         [RCL_ST_F32] = {"F32", 4},
    [RCL_ST_F64] = {"F64", 8},         [RCL_ST_I64] = {"I64", 8},
    [RCL_ST_U64] = {"U64", 8},
};

const char *rcl_st_dtype_name(rcl_st_dtype dt)
{
    return (unsigned)dt < RCL_ST_NDTYPES ? st_dtypes[dt].name : NULL;
}

size_t rcl_st_dtype_size(rcl_st_dtype dt)
{
    return (unsigned)dt < RCL_ST_NDTYPES ? st_dtypes[dt].size : 0;
}

int rcl_st_dtype_from_name(const char *name, rcl_st_dtype *dt)
{
    for (int k = 0; k < RCL_ST_NDTYPES; k++)
        if (name && strcmp(name, st_dtypes[k].name) == 0) {
            *dt = (rcl_st_dtype)k;
            return RCL_OK;
        }
    return RCL_ERR_NOT_FOUND;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* RCL_ERR_FORMAT with "<path>: <message>". */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int bad(const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rcl_fail(RCL_ERR_FORMAT, "%s: %s", path, msg);
}

/* Read exactly n bytes; RCL_ERR_FORMAT if the file ends early. */
static int read_exact(FILE *fp, void *dst, size_t n, const char *path, const char *what)
{
    if (n == 0) return RCL_OK;
    size_t got = fread(dst, 1, n, fp);
    if (got == n) return RCL_OK;
    if (ferror(fp)) return rcl_fail(RCL_ERR_IO, "%s: read error in %s: %s", path, what, strerror(errno));
    return bad(path, "truncated in %s (%zu of %zu bytes)", what, got, n);
}

/* A non-negative JSON integer that fits `max`, else -1. */
static int get_uint(const json_value *v, uint64_t max, uint64_t *out)
{
    if (!v || v->kind != JSON_INT || v->u.num.neg || v->u.num.mag > max) return -1;
    *out = v->u.num.mag;
    return 0;
}

static int parse_tensor(rcl_st_file *f, const json_member *m, rcl_st_tensor *t, int64_t *dims)
{
    const char *path = f->path, *name = m->key;
    const json_value *e = &m->value;
    if (e->kind != JSON_OBJECT) return bad(path, "tensor '%s': entry is not an object", name);
    for (size_t k = 0; k < e->n; k++) {
        const char *key = e->u.members[k].key;
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return bad(path, "tensor '%s': unknown field '%s'", name, key);
    }
    const json_value *dt = rcl_json_get(e, "dtype"), *sh = rcl_json_get(e, "shape"),
                     *off = rcl_json_get(e, "data_offsets");
    if (!dt || dt->kind != JSON_STRING)
        return bad(path, "tensor '%s': missing or non-string \"dtype\"", name);
    if (rcl_st_dtype_from_name(dt->u.str, &t->dtype) != RCL_OK)
        return bad(path, "tensor '%s': unknown dtype '%s'", name, dt->u.str);
    if (!sh || sh->kind != JSON_ARRAY) return bad(path, "tensor '%s': missing or non-array \"shape\"", name);
    if (!off || off->kind != JSON_ARRAY || off->n != 2)
        return bad(path, "tensor '%s': \"data_offsets\" must be an array [begin, end]", name);

    size_t numel = 1;
    int overflow = 0;
    for (size_t d = 0; d < sh->n; d++) {
        uint64_t v;
        if (get_uint(&sh->u.items[d], INT64_MAX, &v))
            return bad(path, "tensor '%s': shape[%zu] is not a non-negative integer < 2^63", name, d);
        dims[d] = (int64_t)v;
        if (v && numel > SIZE_MAX / v) overflow = 1;
        numel *= (size_t)v;
    }
    size_t esize = st_dtypes[t->dtype].size;
    if (overflow || numel > SIZE_MAX / esize) return bad(path, "tensor '%s': size overflows", name);

    uint64_t b, en;
    if (get_uint(&off->u.items[0], SIZE_MAX, &b) || get_uint(&off->u.items[1], SIZE_MAX, &en))
        return bad(path, "tensor '%s': data_offsets are not non-negative integers", name);
    if (en < b)
        return bad(path, "tensor '%s': data_offsets [%llu, %llu] end before they begin", name,
                   (unsigned long long)b, (unsigned long long)en);
    if (en > f->data_bytes)
        return bad(path, "tensor '%s': data_offsets [%llu, %llu] out of range (byte buffer is %zu bytes)",
                   name, (unsigned long long)b, (unsigned long long)en, f->data_bytes);
    if (en - b != numel * esize)
        return bad(path, "tensor '%s': data_offsets [%llu, %llu] span %llu bytes but %s shape needs %zu",
                   name, (unsigned long long)b, (unsigned long long)en,
                   (unsigned long long)(en - b), st_dtypes[t->dtype].name, numel * esize);
    t->name = name;
    t->ndim = (int)sh->n;   /* < 5e7: each dimension takes >= 2 of the <= 1e8 header bytes */
    t->shape = sh->n ? dims : NULL;
    t->numel = numel;
    t->nbytes = numel * esize;
    t->offset = (size_t)b;
    return RCL_OK;
}

static int parse_metadata(rcl_st_file *f, const json_value *v)
{
    if (v->kind != JSON_OBJECT) return bad(f->path, "\"__metadata__\" is not an object");
    if (v->n == 0) return RCL_OK;
    f->meta = malloc(v->n * sizeof *f->meta);
    if (!f->meta) return rcl_fail(RCL_ERR_NOMEM, "%s: metadata", f->path);
    for (size_t k = 0; k < v->n; k++) {
        const json_member *m = &v->u.members[k];
        if (m->value.kind != JSON_STRING)
            return bad(f->path, "metadata '%s': value is not a string", m->key);
        f->meta[k].key = m->key;
        f->meta[k].value = m->value.u.str;
    }
    f->n_meta = v->n;
    return RCL_OK;
}

static int cmp_offset(const void *a, const void *b)
{
    const rcl_st_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name_ptr(const void *a, const void *b)
{
    const rcl_st_tensor *x = *(const rcl_st_tensor *const *)a, *y = *(const rcl_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const rcl_st_meta *)a)->key, ((const rcl_st_meta *)b)->key);
}

/* Validate the parsed header and build the tensor and metadata tables. */
static int parse_header(rcl_st_file *f, const json_value *root)
{
    if (root->kind != JSON_OBJECT) return bad(f->path, "header is not a JSON object");
    size_t ntens = 0, ndims = 0;
    for (size_t k = 0; k < root->n; k++) {
        const json_member *m = &root->u.members[k];
        if (strcmp(m->key, "__metadata__") == 0) {
            RCL_TRY(parse_metadata(f, &m->value));
            continue;
        }
        ntens++;
        const json_value *sh = rcl_json_get(&m->value, "shape");
        if (sh && sh->kind == JSON_ARRAY) ndims += sh->n;
    }
    if (ntens) {
        f->tensors = calloc(ntens, sizeof *f->tensors);
        f->by_name = malloc(ntens * sizeof *f->by_name);
        f->dims = malloc((ndims ? ndims : 1) * sizeof *f->dims);
        if (!f->tensors || !f->by_name || !f->dims)
            return rcl_fail(RCL_ERR_NOMEM, "%s: %zu tensors", f->path, ntens);
    }
    size_t ti = 0, di = 0;
    for (size_t k = 0; k < root->n; k++) {
        const json_member *m = &root->u.members[k];
        if (strcmp(m->key, "__metadata__") == 0) continue;
        rcl_st_tensor *t = &f->tensors[ti];
        RCL_TRY(parse_tensor(f, m, t, f->dims + di));
        di += (size_t)t->ndim;
        ti++;
    }
    f->n_tensors = ntens;

    /* The offsets must tile the byte buffer exactly. */
    if (ntens) qsort(f->tensors, ntens, sizeof *f->tensors, cmp_offset);
    size_t pos = 0;
    for (size_t k = 0; k < ntens; k++) {
        const rcl_st_tensor *t = &f->tensors[k];
        if (t->offset < pos)
            return bad(f->path, "tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' (ends at %zu)",
                       t->name, t->offset, t->offset + t->nbytes, f->tensors[k - 1].name, pos);
        if (t->offset > pos)
            return bad(f->path, "gap of %zu unused bytes before tensor '%s' (at %zu)",
                       t->offset - pos, t->name, pos);
        pos = t->offset + t->nbytes;
    }
    if (pos != f->data_bytes)
        return bad(f->path, "%zu unused bytes after the last tensor (byte buffer is %zu bytes)",
                   f->data_bytes - pos, f->data_bytes);

    for (size_t k = 0; k < ntens; k++) f->by_name[k] = &f->tensors[k];
    if (ntens) qsort(f->by_name, ntens, sizeof *f->by_name, cmp_name_ptr);
    if (f->n_meta) qsort(f->meta, f->n_meta, sizeof *f->meta, cmp_meta);
    return RCL_OK;
}

static int open_file(rcl_st_file *f, const char *path, FILE *fp)
{
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) return rcl_fail(RCL_ERR_IO, "%s: stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return rcl_fail(RCL_ERR_IO, "%s: not a regular file", path);
    uint64_t fsize = (uint64_t)st.st_size;
    if (fsize < 8) return bad(path, "file is %llu bytes, too short for the 8-byte header length",
                              (unsigned long long)fsize);
    unsigned char lenb[8];
    RCL_TRY(read_exact(fp, lenb, 8, path, "header length"));
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | lenb[k];
    if (n > ST_MAX_HEADER)
        return bad(path, "header length %llu exceeds the %llu-byte limit", (unsigned long long)n,
                   ST_MAX_HEADER);
    if (n > fsize - 8)
        return bad(path, "header length %llu exceeds the %llu bytes after the length field",
                   (unsigned long long)n, (unsigned long long)(fsize - 8));
    if (fsize - 8 - n > SIZE_MAX) return bad(path, "byte buffer too large for this host");
    f->data_bytes = (size_t)(fsize - 8 - n);

    f->header = malloc((size_t)n + 1);
    if (!f->header) return rcl_fail(RCL_ERR_NOMEM, "%s: header of %llu bytes", path, (unsigned long long)n);
    RCL_TRY(read_exact(fp, f->header, (size_t)n, path, "header"));
    f->header[n] = '\0';
    if (n == 0 || f->header[0] != '{') return bad(path, "header does not start with '{'");

    json_value root;
    json_error err;
    int jr = rcl_json_parse(f->header, (size_t)n, &root, &err);
    if (jr == -2) return rcl_fail(RCL_ERR_NOMEM, "%s: parsing header", path);
    if (jr) return bad(path, "header JSON: %s at byte %zu", err.msg, err.pos);
    int rc = parse_header(f, &root);
    rcl_json_free(&root);   /* strings live on in f->header */
    RCL_TRY(rc);

    f->data = malloc(f->data_bytes ? f->data_bytes : 1);
    if (!f->data) return rcl_fail(RCL_ERR_NOMEM, "%s: %zu data bytes", path, f->data_bytes);
    RCL_TRY(read_exact(fp, f->data, f->data_bytes, path, "tensor data"));
    if (fgetc(fp) != EOF) return bad(path, "file grew while being read");
    for (size_t k = 0; k < f->n_tensors; k++) f->tensors[k].data = f->data + f->tensors[k].offset;
    return RCL_OK;
}

int rcl_st_open(rcl_st_file *f, const char *path)
{
    if (!f || !path) return rcl_fail(RCL_ERR_INVALID, "rcl_st_open: NULL argument");
    memset(f, 0, sizeof *f);
    if (!host_is_little_endian())
        return rcl_fail(RCL_ERR_UNSUPPORTED, "%s: big-endian hosts are not supported", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return rcl_fail(RCL_ERR_IO, "%s: %s", path, strerror(errno));
    f->path = malloc(strlen(path) + 1);
    int rc = f->path ? RCL_OK : rcl_fail(RCL_ERR_NOMEM, "%s: path", path);
    if (!rc) {
        strcpy(f->path, path);
        rc = open_file(f, path, fp);
    }
    fclose(fp);
    if (rc) rcl_st_close(f);
    return rc;
}

void rcl_st_close(rcl_st_file *f)
{
    if (!f) return;
    free(f->tensors);
    free(f->meta);
    free(f->path);
    free(f->header);
    free(f->data);
    free(f->by_name);
    free(f->dims);
    memset(f, 0, sizeof *f);
}

const rcl_st_tensor *rcl_st_find(const rcl_st_file *f, const char *name)
{
    if (!f || !name || !f->n_tensors) return NULL;
    rcl_st_tensor key = {0};
    key.name = name;
    const rcl_st_tensor *kp = &key;
    const rcl_st_tensor **hit = bsearch(&kp, f->by_name, f->n_tensors, sizeof *f->by_name, cmp_name_ptr);
    return hit ? *hit : NULL;
}

const rcl_st_tensor *rcl_st_tensor_at(const rcl_st_file *f, size_t i)
{
    return f && i < f->n_tensors ? &f->tensors[i] : NULL;
}

const char *rcl_st_metadata(const rcl_st_file *f, const char *key)
{
    if (!f || !key || !f->n_meta) return NULL;
    rcl_st_meta k = {key, NULL};
    const rcl_st_meta *hit = bsearch(&k, f->meta, f->n_meta, sizeof *f->meta, cmp_meta);
    return hit ? hit->value : NULL;
}

int rcl_st_read(const rcl_st_file *f, const char *name, rcl_st_dtype dtype, void *dst, size_t count)
{
    if (!f || !name || (!dst && count)) return rcl_fail(RCL_ERR_INVALID, "rcl_st_read: NULL argument");
    const rcl_st_tensor *t = rcl_st_find(f, name);
    if (!t) return rcl_fail(RCL_ERR_NOT_FOUND, "%s: no tensor '%s'", f->path ? f->path : "?", name);
    if (t->dtype != dtype)
        return bad(f->path, "tensor '%s' is %s, expected %s", name, st_dtypes[t->dtype].name,
                   rcl_st_dtype_name(dtype) ? rcl_st_dtype_name(dtype) : "?");
    if (t->numel != count)
        return bad(f->path, "tensor '%s' has %zu elements, expected %zu", name, t->numel, count);
    if (t->nbytes) memcpy(dst, t->data, t->nbytes);
    return RCL_OK;
}
