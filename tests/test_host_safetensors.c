/* safetensors reader/writer (host only): round trips, a golden file written by
 * the reference Python library, and rejection of malformed or truncated files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/json.h"
#include "rcl/safetensors.h"
#include "rcl/status.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Written by safetensors 0.8.0 (Rust core, serde_json header):
 *   python3 -c 'import numpy as np; from safetensors.numpy import save_file; save_file({
 *     "fc.weight": np.arange(6, dtype=np.float32).reshape(2,3) * np.float32(0.5) - np.float32(1),
 *     "bn1.num_batches_tracked": np.array(7, dtype=np.int64),
 *     "idx": np.array([-3, 2147483647], dtype=np.int32),
 *     "mask": np.array([1, 0, 255], dtype=np.uint8)}, "golden.safetensors",
 *     metadata={"note": "q\" b\\ n\n t\t c\x01 \u00e9\U0001F642"})'
 * The library sorts tensors by dtype alignment, then name. */
static const unsigned char golden[363] = {
    0x38, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65, 0x74, 0x61,
    0x64, 0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x6e, 0x6f, 0x74, 0x65, 0x22, 0x3a,
    0x22, 0x71, 0x5c, 0x22, 0x20, 0x62, 0x5c, 0x5c, 0x20, 0x6e, 0x5c, 0x6e, 0x20, 0x74, 0x5c, 0x74,
    0x20, 0x63, 0x5c, 0x75, 0x30, 0x30, 0x30, 0x31, 0x20, 0xc3, 0xa9, 0xf0, 0x9f, 0x99, 0x82, 0x22,
    0x7d, 0x2c, 0x22, 0x62, 0x6e, 0x31, 0x2e, 0x6e, 0x75, 0x6d, 0x5f, 0x62, 0x61, 0x74, 0x63, 0x68,
    0x65, 0x73, 0x5f, 0x74, 0x72, 0x61, 0x63, 0x6b, 0x65, 0x64, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74,
    0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x49, 0x36, 0x34, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x22, 0x3a, 0x5b, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73,
    0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x30, 0x2c, 0x38, 0x5d, 0x7d, 0x2c, 0x22, 0x66, 0x63, 0x2e,
    0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22,
    0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b,
    0x32, 0x2c, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65,
    0x74, 0x73, 0x22, 0x3a, 0x5b, 0x38, 0x2c, 0x33, 0x32, 0x5d, 0x7d, 0x2c, 0x22, 0x69, 0x64, 0x78,
    0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x49, 0x33, 0x32, 0x22,
    0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61,
    0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x33, 0x32, 0x2c,
    0x34, 0x30, 0x5d, 0x7d, 0x2c, 0x22, 0x6d, 0x61, 0x73, 0x6b, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74,
    0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x55, 0x38, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65,
    0x22, 0x3a, 0x5b, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73,
    0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x34, 0x30, 0x2c, 0x34, 0x33, 0x5d, 0x7d, 0x7d, 0x20, 0x20,
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xbf, 0x00, 0x00, 0x00, 0xbf,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0xc0, 0x3f,
    0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x00, 0xff,
};
static const char golden_note[] = "q\" b\\ n\n t\t c\x01 \xc3\xa9\xf0\x9f\x99\x82";

static char g_dir[256];

/* "<tmpdir>/<name>" in one of a few rotating buffers. */
static const char *tpath(const char *name)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
    return b;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_tree(p);
            rmdir(p);
        } else
            unlink(p);
    }
    closedir(d);
}

/* Entries of the temp dir, sorted and joined with ' ' (e.g. "a b"). */
static const char *dir_listing(void)
{
    static char out[4096];
    char names[64][256];
    int n = 0;
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[256];
            memcpy(t, names[j], sizeof t);
            memcpy(names[j], names[j - 1], sizeof t);
            memcpy(names[j - 1], t, sizeof t);
        }
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(out, " ");
        strncat(out, names[i], sizeof out - strlen(out) - 2);
    }
    return out;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/rcl_st_test_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(g_dir);
    return rmdir(g_dir);
}

/* Each test starts with an empty temp dir. */
static int clean(void **state)
{
    (void)state;
    remove_tree(g_dir);
    return 0;
}

#define EXPECT_ST(expr, want)                                                                 \
    do {                                                                                      \
        int st_ = (expr);                                                                     \
        if (st_ != (want))                                                                    \
            fail_msg("%s -> %d (%s), want %d; detail: %s", #expr, st_, rcl_strerror(st_),     \
                     (int)(want), rcl_last_error());                                          \
    } while (0)

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (n) assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    assert_true(sz >= 0);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    *n = (size_t)sz;
    return b;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}

/* A file with header length `hlen_field`, header bytes hdr[0..hlen) and
 * `data_len` bytes of data (a byte pattern). */
static void write_framed(const char *path, uint64_t hlen_field, const char *hdr, size_t hlen,
                         size_t data_len)
{
    size_t n = 8 + hlen + data_len;
    unsigned char *b = malloc(n);
    assert_non_null(b);
    put_u64(b, hlen_field);
    memcpy(b + 8, hdr, hlen);
    for (size_t k = 0; k < data_len; k++) b[8 + hlen + k] = (unsigned char)(k * 37 + 1);
    write_bytes(path, b, n);
    free(b);
}

/* Open a file made of `hdr` + data_len bytes; returns the status. A
 * RCL_ERR_FORMAT message must name the file. */
static int try_header(const char *hdr, size_t hlen, size_t data_len)
{
    const char *p = tpath("case.safetensors");
    write_framed(p, hlen, hdr, hlen, data_len);
    rcl_st_file f;
    int st = rcl_st_open(&f, p);
    if (st == RCL_ERR_FORMAT && !strstr(rcl_last_error(), p))
        fail_msg("message does not name the file: %s", rcl_last_error());
    if (st == RCL_OK) {
        /* every tensor's data lies within the buffer */
        for (size_t k = 0; k < f.n_tensors; k++)
            assert_true(f.tensors[k].offset + f.tensors[k].nbytes <= f.data_bytes);
    } else {
        assert_null(f.tensors);
        assert_int_equal(f.n_tensors, 0);
    }
    rcl_st_close(&f);
    return st;
}

/* ------------------------------------------------------------------ tests */

static void check_golden_contents(const rcl_st_file *f)
{
    assert_int_equal(f->n_tensors, 4);
    /* data-offset order */
    assert_string_equal(f->tensors[0].name, "bn1.num_batches_tracked");
    assert_string_equal(f->tensors[1].name, "fc.weight");
    assert_string_equal(f->tensors[2].name, "idx");
    assert_string_equal(f->tensors[3].name, "mask");

    const rcl_st_tensor *t = rcl_st_find(f, "bn1.num_batches_tracked");
    assert_non_null(t);
    assert_int_equal(t->dtype, RCL_ST_I64);
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    assert_int_equal(t->nbytes, 8);
    int64_t nbt;
    memcpy(&nbt, t->data, 8);
    assert_int_equal(nbt, 7);

    t = rcl_st_find(f, "fc.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, RCL_ST_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_int_equal(t->offset, 8);
    assert_int_equal(((uintptr_t)t->data) % 4, 0);
    float w[6];
    EXPECT_ST(rcl_st_read(f, "fc.weight", RCL_ST_F32, w, 6), RCL_OK);
    for (int k = 0; k < 6; k++) assert_true(w[k] == (float)k * 0.5f - 1.0f);

    int32_t idx[2];
    EXPECT_ST(rcl_st_read(f, "idx", RCL_ST_I32, idx, 2), RCL_OK);
    assert_int_equal(idx[0], -3);
    assert_int_equal(idx[1], 2147483647);

    uint8_t mask[3];
    EXPECT_ST(rcl_st_read(f, "mask", RCL_ST_U8, mask, 3), RCL_OK);
    assert_int_equal(mask[0], 1);
    assert_int_equal(mask[1], 0);
    assert_int_equal(mask[2], 255);

    assert_int_equal(f->n_meta, 1);
    assert_non_null(rcl_st_metadata(f, "note"));
    assert_string_equal(rcl_st_metadata(f, "note"), golden_note);
    assert_null(rcl_st_metadata(f, "format"));
}

static void test_golden_read(void **state)
{
    (void)state;
    const char *p = tpath("golden.safetensors");
    write_bytes(p, golden, sizeof golden);
    rcl_st_file f;
    EXPECT_ST(rcl_st_open(&f, p), RCL_OK);
    check_golden_contents(&f);
    assert_null(rcl_st_find(&f, "fc.bias"));
    assert_null(rcl_st_find(&f, ""));
    assert_null(rcl_st_tensor_at(&f, 4));
    assert_ptr_equal(rcl_st_tensor_at(&f, 1), &f.tensors[1]);
    float w[6];
    EXPECT_ST(rcl_st_read(&f, "fc.bias", RCL_ST_F32, w, 6), RCL_ERR_NOT_FOUND);
    EXPECT_ST(rcl_st_read(&f, "fc.weight", RCL_ST_F64, w, 3), RCL_ERR_FORMAT);
    EXPECT_ST(rcl_st_read(&f, "fc.weight", RCL_ST_F32, w, 5), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "fc.weight"));
    rcl_st_close(&f);
    rcl_st_close(&f);   /* idempotent */
}

/* Our writer, given the tensors in the reference library's order, produces
 * the reference bytes exactly (header text, escapes, padding, data). */
static void test_golden_write_byte_exact(void **state)
{
    (void)state;
    int64_t nbt = 7;
    float w[6];
    for (int k = 0; k < 6; k++) w[k] = (float)k * 0.5f - 1.0f;
    int32_t idx[2] = {-3, 2147483647};
    uint8_t mask[3] = {1, 0, 255};
    int64_t s23[2] = {2, 3}, s2[1] = {2}, s3[1] = {3};
    rcl_st_writer wr;
    rcl_st_writer_init(&wr);
    EXPECT_ST(rcl_st_writer_metadata(&wr, "note", golden_note), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&wr, "bn1.num_batches_tracked", RCL_ST_I64, 0, NULL, &nbt), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&wr, "fc.weight", RCL_ST_F32, 2, s23, w), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&wr, "idx", RCL_ST_I32, 1, s2, idx), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&wr, "mask", RCL_ST_U8, 1, s3, mask), RCL_OK);
    const char *p = tpath("ours.safetensors");
    EXPECT_ST(rcl_st_write(&wr, p), RCL_OK);
    rcl_st_writer_free(&wr);
    size_t n;
    unsigned char *b = read_bytes(p, &n);
    assert_int_equal(n, sizeof golden);
    assert_memory_equal(b, golden, sizeof golden);
    free(b);
    assert_string_equal(dir_listing(), "ours.safetensors");
}

static void test_roundtrip(void **state)
{
    (void)state;
    float a[2 * 3 * 4];
    for (int k = 0; k < 24; k++) a[k] = (float)k * 0.25f - 3.0f;
    int64_t nbt = 123456789012345LL;
    int64_t i64[3] = {INT64_MIN, -1, INT64_MAX};
    int32_t i32[5] = {INT32_MIN, -7, 0, 7, INT32_MAX};
    uint8_t u8[7] = {0, 1, 2, 127, 128, 254, 255};
    double f64[2] = {3.141592653589793, -1e-300};
    const int64_t sa[3] = {2, 3, 4}, s3[1] = {3}, s5[1] = {5}, s7[1] = {7}, s2[1] = {2},
                  s0[2] = {0, 3};
    const char *meta_key = "key with \"quotes\" and \\ and \n";
    const char *meta_val = "tab\t nl\n cr\r bs\b ff\f c01\x01 c1f\x1f del\x7f slash/ "
                           "\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82";

    rcl_st_writer w = {0};
    EXPECT_ST(rcl_st_writer_add(&w, "layer1.0.conv1.weight", RCL_ST_F32, 3, sa, a), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&w, "bn1.num_batches_tracked", RCL_ST_I64, 0, NULL, &nbt), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&w, "u8", RCL_ST_U8, 1, s7, u8), RCL_OK);   /* unaligned after it */
    EXPECT_ST(rcl_st_writer_add(&w, "i64", RCL_ST_I64, 1, s3, i64), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&w, "i32", RCL_ST_I32, 1, s5, i32), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&w, "empty", RCL_ST_F32, 2, s0, NULL), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&w, "f64", RCL_ST_F64, 1, s2, f64), RCL_OK);
    EXPECT_ST(rcl_st_writer_metadata(&w, "format", "pt"), RCL_OK);
    EXPECT_ST(rcl_st_writer_metadata(&w, meta_key, meta_val), RCL_OK);
    EXPECT_ST(rcl_st_writer_metadata(&w, "", ""), RCL_OK);
    const char *p = tpath("rt.safetensors");
    EXPECT_ST(rcl_st_write(&w, p), RCL_OK);
    rcl_st_writer_free(&w);
    assert_string_equal(dir_listing(), "rt.safetensors");

    size_t n;
    unsigned char *raw = read_bytes(p, &n);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | raw[k];
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(raw[8], '{');
    assert_int_equal(n, 8 + hlen + sizeof a + 8 + 7 + 24 + 20 + 16);
    /* serde_json's escapes */
    char *hdr = malloc(hlen + 1);
    memcpy(hdr, raw + 8, hlen);
    hdr[hlen] = '\0';
    assert_non_null(strstr(hdr, "c01\\u0001 c1f\\u001f del\x7f slash/"));
    assert_non_null(strstr(hdr, "\\t nl\\n cr\\r bs\\b ff\\f"));
    assert_non_null(strstr(hdr, "\"bn1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"));
    free(hdr);
    free(raw);

    rcl_st_file f;
    EXPECT_ST(rcl_st_open(&f, p), RCL_OK);
    assert_int_equal(f.n_tensors, 7);
    static const char *order[7] = {"layer1.0.conv1.weight", "bn1.num_batches_tracked", "u8", "i64",
                                   "i32", "empty", "f64"};
    for (int k = 0; k < 7; k++) assert_string_equal(f.tensors[k].name, order[k]);

    const rcl_st_tensor *t = rcl_st_find(&f, "layer1.0.conv1.weight");
    assert_non_null(t);
    assert_int_equal(t->ndim, 3);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_int_equal(t->shape[2], 4);
    assert_memory_equal(t->data, a, sizeof a);

    t = rcl_st_find(&f, "bn1.num_batches_tracked");
    assert_int_equal(t->ndim, 0);
    assert_null(t->shape);
    assert_int_equal(t->numel, 1);
    int64_t v;
    EXPECT_ST(rcl_st_read(&f, "bn1.num_batches_tracked", RCL_ST_I64, &v, 1), RCL_OK);
    assert_true(v == nbt);

    uint8_t u8b[7];
    int64_t i64b[3];
    int32_t i32b[5];
    double f64b[2];
    EXPECT_ST(rcl_st_read(&f, "u8", RCL_ST_U8, u8b, 7), RCL_OK);
    EXPECT_ST(rcl_st_read(&f, "i64", RCL_ST_I64, i64b, 3), RCL_OK);
    EXPECT_ST(rcl_st_read(&f, "i32", RCL_ST_I32, i32b, 5), RCL_OK);
    EXPECT_ST(rcl_st_read(&f, "f64", RCL_ST_F64, f64b, 2), RCL_OK);
    assert_memory_equal(u8b, u8, sizeof u8);
    assert_memory_equal(i64b, i64, sizeof i64);
    assert_memory_equal(i32b, i32, sizeof i32);
    assert_memory_equal(f64b, f64, sizeof f64);

    t = rcl_st_find(&f, "empty");
    assert_int_equal(t->numel, 0);
    assert_int_equal(t->nbytes, 0);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 0);
    assert_int_equal(t->shape[1], 3);
    EXPECT_ST(rcl_st_read(&f, "empty", RCL_ST_F32, NULL, 0), RCL_OK);

    assert_int_equal(f.n_meta, 3);
    assert_string_equal(rcl_st_metadata(&f, "format"), "pt");
    assert_string_equal(rcl_st_metadata(&f, meta_key), meta_val);
    assert_string_equal(rcl_st_metadata(&f, ""), "");
    assert_null(rcl_st_metadata(&f, "missing"));
    rcl_st_close(&f);
}

static void test_empty_file_and_overwrite(void **state)
{
    (void)state;
    const char *p = tpath("x.safetensors");
    rcl_st_writer w;
    rcl_st_writer_init(&w);
    EXPECT_ST(rcl_st_write(&w, p), RCL_OK);
    /* reference: serialize({}) == [8,0,0,0,0,0,0,0,'{','}',6 spaces] */
    static const unsigned char want[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    size_t n;
    unsigned char *b = read_bytes(p, &n);
    assert_int_equal(n, 16);
    assert_memory_equal(b, want, 16);
    free(b);
    rcl_st_file f;
    EXPECT_ST(rcl_st_open(&f, p), RCL_OK);
    assert_int_equal(f.n_tensors, 0);
    assert_int_equal(f.n_meta, 0);
    assert_null(rcl_st_find(&f, "a"));
    rcl_st_close(&f);

    /* overwrite the existing file */
    float x = 2.5f;
    int64_t s1[1] = {1};
    EXPECT_ST(rcl_st_writer_add(&w, "x", RCL_ST_F32, 1, s1, &x), RCL_OK);
    EXPECT_ST(rcl_st_write(&w, p), RCL_OK);
    EXPECT_ST(rcl_st_open(&f, p), RCL_OK);
    assert_int_equal(f.n_tensors, 1);
    float y = 0;
    EXPECT_ST(rcl_st_read(&f, "x", RCL_ST_F32, &y, 1), RCL_OK);
    assert_true(y == 2.5f);
    rcl_st_close(&f);
    rcl_st_writer_free(&w);
    assert_string_equal(dir_listing(), "x.safetensors");
}

static void test_writer_errors(void **state)
{
    (void)state;
    float x[4] = {0};
    int64_t s[2] = {2, 2}, neg[2] = {2, -1}, huge[2] = {INT64_MAX, 4};
    rcl_st_writer w;
    rcl_st_writer_init(&w);
    EXPECT_ST(rcl_st_writer_add(&w, "a", RCL_ST_F32, 2, s, x), RCL_OK);
    EXPECT_ST(rcl_st_writer_add(&w, "a", RCL_ST_F32, 2, s, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, "__metadata__", RCL_ST_F32, 2, s, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, "b", RCL_ST_F32, 2, neg, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, "b", RCL_ST_F32, 2, huge, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, "b", RCL_ST_NDTYPES, 2, s, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, "b", RCL_ST_F32, -1, s, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, "b", RCL_ST_F32, 2, NULL, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, "b", RCL_ST_F32, 2, s, NULL), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, "bad\xff", RCL_ST_F32, 2, s, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, "bad\xc0\xaf", RCL_ST_F32, 2, s, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_add(&w, NULL, RCL_ST_F32, 2, s, x), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_metadata(&w, "k", "v"), RCL_OK);
    EXPECT_ST(rcl_st_writer_metadata(&w, "k", "w"), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_metadata(&w, "k2", "\xed\xa0\x80"), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_writer_metadata(&w, "k3", NULL), RCL_ERR_INVALID);
    assert_int_equal(w.n_tensors, 1);
    assert_int_equal(w.n_meta, 1);

    /* missing directory: clean failure, nothing left behind */
    EXPECT_ST(rcl_st_write(&w, tpath("no/such/dir/x.safetensors")), RCL_ERR_IO);
    assert_non_null(strstr(rcl_last_error(), "no/such/dir"));
    assert_string_equal(dir_listing(), "");

    /* rename fails (destination is a directory): temp file removed */
    assert_int_equal(mkdir(tpath("sub"), 0777), 0);
    EXPECT_ST(rcl_st_write(&w, tpath("sub")), RCL_ERR_IO);
    assert_string_equal(dir_listing(), "sub");

    /* and a good write still works */
    EXPECT_ST(rcl_st_write(&w, tpath("ok.safetensors")), RCL_OK);
    assert_string_equal(dir_listing(), "ok.safetensors sub");
    rcl_st_writer_free(&w);
    rcl_st_writer_free(&w);
}

static void test_missing_file(void **state)
{
    (void)state;
    rcl_st_file f;
    EXPECT_ST(rcl_st_open(&f, tpath("does-not-exist.safetensors")), RCL_ERR_IO);
    assert_non_null(strstr(rcl_last_error(), "does-not-exist.safetensors"));
    rcl_st_close(&f);
    EXPECT_ST(rcl_st_open(&f, g_dir), RCL_ERR_IO);   /* a directory */
    EXPECT_ST(rcl_st_open(NULL, g_dir), RCL_ERR_INVALID);
    EXPECT_ST(rcl_st_open(&f, NULL), RCL_ERR_INVALID);
}

/* Every proper prefix of a valid file, and the file with a byte appended,
 * is refused as RCL_ERR_FORMAT. */
static void test_truncated_prefixes(void **state)
{
    (void)state;
    const char *p = tpath("trunc.safetensors");
    unsigned char buf[sizeof golden + 1];
    memcpy(buf, golden, sizeof golden);
    buf[sizeof golden] = 0;
    for (size_t len = 0; len <= sizeof golden + 1; len++) {
        write_bytes(p, buf, len);
        rcl_st_file f;
        int st = rcl_st_open(&f, p);
        int want = len == sizeof golden ? RCL_OK : RCL_ERR_FORMAT;
        if (st != want)
            fail_msg("length %zu of %zu: got %d (%s), want %d", len, sizeof golden, st,
                     rcl_last_error(), want);
        if (st == RCL_OK) check_golden_contents(&f);
        rcl_st_close(&f);
    }
}

static void test_header_length_field(void **state)
{
    (void)state;
    const char *hdr = (const char *)golden + 8;
    size_t hlen = 0x138, dlen = sizeof golden - 8 - 0x138;
    const char *p = tpath("len.safetensors");
    static const uint64_t bad_lens[] = {
        0, 1, 0x137, 0x139, 0x138 + 43 + 1,              /* wrong but within range */
        (uint64_t)sizeof golden,                         /* larger than the file */
        100000001, (uint64_t)1 << 32, (uint64_t)1 << 63, /* absurd */
        UINT64_MAX, UINT64_MAX - 7,
    };
    for (size_t k = 0; k < sizeof bad_lens / sizeof bad_lens[0]; k++) {
        write_framed(p, bad_lens[k], hdr, hlen, 0);   /* then the real data */
        FILE *fp = fopen(p, "ab");
        assert_non_null(fp);
        assert_int_equal(fwrite(golden + 8 + hlen, 1, dlen, fp), dlen);
        fclose(fp);
        rcl_st_file f;
        int st = rcl_st_open(&f, p);
        if (st != RCL_ERR_FORMAT)
            fail_msg("header length %llu: got %d (%s)", (unsigned long long)bad_lens[k], st,
                     rcl_last_error());
        assert_non_null(strstr(rcl_last_error(), p));
        rcl_st_close(&f);
    }
    write_framed(p, 0x138, hdr, hlen, 0);
    FILE *fp = fopen(p, "ab");
    assert_int_equal(fwrite(golden + 8 + hlen, 1, dlen, fp), dlen);
    fclose(fp);
    rcl_st_file f;
    EXPECT_ST(rcl_st_open(&f, p), RCL_OK);   /* control */
    rcl_st_close(&f);
}

#define A_F32_1 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"
#define T(dtype, shape, offs) "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

typedef struct hcase {
    const char *hdr;
    size_t data_len;
    int want;
    size_t hlen;   /* 0: strlen(hdr) */
} hcase;

static const hcase header_cases[] = {
    /* accepted (controls, so the rejections below are meaningful) */
    {"{" A_F32_1 "}", 4, RCL_OK, 0},
    {"{" A_F32_1 "}        ", 4, RCL_OK, 0},
    {"{ \"a\" :\n{\t\"dtype\" : \"F32\",\r\n\"shape\":[ 1 ],\"data_offsets\":[ 0 , 4 ] } }  ", 4, RCL_OK, 0},
    {"{\"__metadata__\":{},\"a\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_OK, 0},
    {"{\"b\":" T("U8", "[2]", "[4,6]") "," A_F32_1 "}", 6, RCL_OK, 0},   /* any order */
    {"{\"z\":" T("F32", "[0,3]", "[4,4]") "," A_F32_1 "}", 4, RCL_OK, 0}, /* empty tensor */
    {"{\"z\":" T("F32", "[0,9223372036854775807]", "[0,0]") "}", 0, RCL_OK, 0},
    {"{\"s\":" T("I64", "[]", "[0,8]") "}", 8, RCL_OK, 0},
    {"{}", 0, RCL_OK, 0},
    {"{\"\":" T("BOOL", "[1]", "[0,1]") "}", 1, RCL_OK, 0},
    /* framing / JSON syntax */
    {"", 4, RCL_ERR_FORMAT, 0},
    {" {" A_F32_1 "}", 4, RCL_ERR_FORMAT, 0},
    {"[]", 0, RCL_ERR_FORMAT, 0},
    {"{", 0, RCL_ERR_FORMAT, 0},
    {"{" A_F32_1, 4, RCL_ERR_FORMAT, 0},
    {"{" A_F32_1 ",}", 4, RCL_ERR_FORMAT, 0},
    {"{" A_F32_1 "}x", 4, RCL_ERR_FORMAT, 0},
    {"{" A_F32_1 "}{}", 4, RCL_ERR_FORMAT, 0},
    {"{" A_F32_1 "}\0  ", 4, RCL_ERR_FORMAT, sizeof(A_F32_1) - 1 + 5},
    {"{\"a\":}", 0, RCL_ERR_FORMAT, 0},
    {"{\"a\" " T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1]", "[0,4]") " \"b\":" T("F32", "[1]", "[4,8]") "}", 8, RCL_ERR_FORMAT, 0},
    {"{a:" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{'a':" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a", 0, RCL_ERR_FORMAT, 0},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]\"data_offsets\":[0,4]}}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1 1],\"data_offsets\":[0,4]}}", 4, RCL_ERR_FORMAT, 0},
    /* strings */
    {"{\"a\\x\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"\\ud800\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"\\udc00\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"\\ud800\\u0041\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"\\ud800\\n\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"\\u12g4\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"\\u12\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"\\u0000\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\x01\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\n\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\xff\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\xc0\xaf\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\xed\xa0\x80\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\xf4\x90\x80\x80\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\xe6\x97\":" T("F32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1]", "[0,4]") "}\xff", 4, RCL_ERR_FORMAT, 0},
    /* numbers and literals */
    {"{\"a\":" T("F32", "[01]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1.0]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1e0]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[-1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[-0,1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[+1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[-]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[true]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[null]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "null", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[\"1\"]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[18446744073709551616]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[9223372036854775808,0]", "[0,0]") "}", 0, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1]", "[0,4.0]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1]", "[-0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    /* structure */
    {"{\"a\":[1]}", 0, RCL_ERR_FORMAT, 0},
    {"{\"a\":\"x\"}", 0, RCL_ERR_FORMAT, 0},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1]", "[0,4,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1]", "[4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1]", "{}") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1]", "[\"0\",\"4\"]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, RCL_ERR_FORMAT, 0},
    {"{\"__metadata__\":\"x\"," A_F32_1 "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"__metadata__\":{\"k\":1}," A_F32_1 "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"__metadata__\":{\"k\":{}}," A_F32_1 "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}," A_F32_1 "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"__metadata__\":{},\"__metadata__\":{}," A_F32_1 "}", 4, RCL_ERR_FORMAT, 0},
    /* dtype */
    {"{\"a\":" T("F33", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("f32", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    /* duplicate names */
    {"{" A_F32_1 "," A_F32_1 "}", 4, RCL_ERR_FORMAT, 0},
    {"{" A_F32_1 ",\"a\":" T("F32", "[1]", "[4,8]") "}", 8, RCL_ERR_FORMAT, 0},
    /* offsets */
    {"{\"a\":" T("F32", "[2]", "[0,8]") "}", 4, RCL_ERR_FORMAT, 0},        /* out of range */
    {"{\"a\":" T("F32", "[1]", "[4,8]") "}", 4, RCL_ERR_FORMAT, 0},        /* out of range */
    {"{\"a\":" T("F32", "[1]", "[18446744073709551612,0]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("F32", "[1]", "[4,0]") "}", 4, RCL_ERR_FORMAT, 0},        /* end < begin */
    {"{\"a\":" T("F32", "[2]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},        /* shape mismatch */
    {"{\"a\":" T("F32", "[]", "[0,8]") "}", 8, RCL_ERR_FORMAT, 0},         /* shape mismatch */
    {"{\"a\":" T("F64", "[1]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},        /* dtype mismatch */
    {"{" A_F32_1 ",\"b\":" T("U8", "[4]", "[2,6]") "}", 6, RCL_ERR_FORMAT, 0},  /* overlap */
    {"{" A_F32_1 ",\"b\":" T("F32", "[1]", "[0,4]") "}", 8, RCL_ERR_FORMAT, 0}, /* same range */
    {"{" A_F32_1 ",\"b\":" T("U8", "[0]", "[2,2]") "}", 4, RCL_ERR_FORMAT, 0},  /* inside a */
    {"{" A_F32_1 ",\"b\":" T("U8", "[2]", "[6,8]") "}", 8, RCL_ERR_FORMAT, 0},  /* gap */
    {"{\"a\":" T("F32", "[1]", "[4,8]") "}", 8, RCL_ERR_FORMAT, 0},        /* gap at start */
    {"{" A_F32_1 "}", 6, RCL_ERR_FORMAT, 0},                                /* unused tail */
    {"{}", 1, RCL_ERR_FORMAT, 0},                                           /* unused tail */
    {"{\"a\":" T("F32", "[4611686018427387904,8]", "[0,4]") "}", 4, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("U64", "[2305843009213693952,8]", "[0,0]") "}", 0, RCL_ERR_FORMAT, 0},
    {"{\"a\":" T("I64", "[2305843009213693952]", "[0,0]") "}", 0, RCL_ERR_FORMAT, 0},
};

static void test_header_cases(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof header_cases / sizeof header_cases[0]; k++) {
        const hcase *c = &header_cases[k];
        size_t hlen = c->hlen ? c->hlen : strlen(c->hdr);
        int st = try_header(c->hdr, hlen, c->data_len);
        if (st != c->want)
            fail_msg("case %zu <%s> (+%zu data bytes): got %d (%s), want %d", k, c->hdr, c->data_len,
                     st, rcl_last_error(), c->want);
    }
}

/* Random byte mutations of the golden file: never a crash (the test also runs
 * under ASan/UBSan), only RCL_OK with consistent tables or RCL_ERR_FORMAT. */
static void test_mutations(void **state)
{
    (void)state;
    const char *p = tpath("mut.safetensors");
    static const unsigned char interesting[] = {'{', '}', '[', ']', '"', '\\', ',', ':', '0', '9',
                                                '-', ' ', 'u', 0x00, 0x7f, 0x80, 0xc3, 0xff};
    uint64_t s = 0x9e3779b97f4a7c15ull;
    unsigned char buf[sizeof golden];
    int ok = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, golden, sizeof golden);
        int nmut = 1 + it % 3;
        for (int m = 0; m < nmut; m++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(s >> 33) % (8 + 0x138);   /* length field and header */
            unsigned r = (unsigned)(s >> 20);
            buf[pos] = (r & 1) ? interesting[(r >> 1) % sizeof interesting] : (unsigned char)(r >> 8);
        }
        write_bytes(p, buf, sizeof golden);
        rcl_st_file f;
        int st = rcl_st_open(&f, p);
        if (st != RCL_OK && st != RCL_ERR_FORMAT)
            fail_msg("mutation %d: status %d (%s)", it, st, rcl_last_error());
        if (st == RCL_OK) {
            ok++;
            size_t pos = 0;
            for (size_t k = 0; k < f.n_tensors; k++) {
                const rcl_st_tensor *t = &f.tensors[k];
                assert_int_equal(t->offset, pos);
                assert_int_equal(t->nbytes, t->numel * rcl_st_dtype_size(t->dtype));
                assert_ptr_equal(rcl_st_find(&f, t->name), t);
                pos += t->nbytes;
            }
            assert_int_equal(pos, f.data_bytes);
        }
        rcl_st_close(&f);
    }
    assert_true(ok > 0);   /* some mutations (inside names or the note) stay valid */
}

/* Names with escapes decode to the right UTF-8 and can be looked up. */
static void test_escaped_names(void **state)
{
    (void)state;
    const char *hdr = "{\"caf\\u00e9 \\ud83d\\ude42 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \xe6\x97\xa5\":"
                      T("U8", "[1]", "[0,1]") ",\"plain\":" T("U8", "[1]", "[1,2]") "}";
    const char *p = tpath("names.safetensors");
    write_framed(p, strlen(hdr), hdr, strlen(hdr), 2);
    rcl_st_file f;
    EXPECT_ST(rcl_st_open(&f, p), RCL_OK);
    const char *want = "caf\xc3\xa9 \xf0\x9f\x99\x82 \"q\" \\ / \b\f\n\r\t \xe6\x97\xa5";
    assert_string_equal(f.tensors[0].name, want);
    assert_non_null(rcl_st_find(&f, want));
    assert_non_null(rcl_st_find(&f, "plain"));
    assert_null(rcl_st_find(&f, "plai"));
    assert_null(rcl_st_find(&f, "plainx"));
    rcl_st_close(&f);
}

/* The JSON parser on its own: nesting limit and decoded values. */
static void test_json_parser(void **state)
{
    (void)state;
    char buf[4 * JSON_MAX_DEPTH + 8];
    json_value v;
    json_error e;
    for (int depth = JSON_MAX_DEPTH; depth <= JSON_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        for (int k = 0; k < depth; k++) buf[n++] = '[';
        for (int k = 0; k < depth; k++) buf[n++] = ']';
        int rc = rcl_json_parse(buf, n, &v, &e);
        assert_int_equal(rc, depth <= JSON_MAX_DEPTH ? 0 : -1);
        rcl_json_free(&v);
    }
    char text[] = " {\"k\" : [0, 18446744073709551615, -5, \"s\\u0041\"], \"e\":{}} ";
    assert_int_equal(rcl_json_parse(text, strlen(text), &v, &e), 0);
    assert_int_equal(v.kind, JSON_OBJECT);
    assert_int_equal(v.n, 2);
    const json_value *k = rcl_json_get(&v, "k");
    assert_non_null(k);
    assert_int_equal(k->kind, JSON_ARRAY);
    assert_int_equal(k->n, 4);
    assert_true(k->u.items[1].u.num.mag == UINT64_MAX);
    assert_true(k->u.items[2].u.num.neg && k->u.items[2].u.num.mag == 5);
    assert_string_equal(k->u.items[3].u.str, "sA");
    assert_int_equal(k->u.items[3].n, 2);
    assert_null(rcl_json_get(&v, "missing"));
    rcl_json_free(&v);
    char bad[] = "{\"a\":1,\"b\":2,\"c\":3,\"b\":4}";
    assert_int_equal(rcl_json_parse(bad, strlen(bad), &v, &e), -1);
    assert_string_equal(e.msg, "duplicate key in object");
    assert_true(rcl_json_utf8_valid("\xf0\x9f\x99\x82", 4));
    assert_false(rcl_json_utf8_valid("\xf0\x9f\x99", 3));
    assert_false(rcl_json_utf8_valid("\xe0\x80\x80", 3));
}

static void test_dtype_names(void **state)
{
    (void)state;
    for (int k = 0; k < RCL_ST_NDTYPES; k++) {
        rcl_st_dtype d;
        EXPECT_ST(rcl_st_dtype_from_name(rcl_st_dtype_name((rcl_st_dtype)k), &d), RCL_OK);
        assert_int_equal(d, k);
    }
    assert_int_equal(rcl_st_dtype_size(RCL_ST_F32), 4);
    assert_int_equal(rcl_st_dtype_size(RCL_ST_I64), 8);
    assert_int_equal(rcl_st_dtype_size(RCL_ST_BF16), 2);
    assert_int_equal(rcl_st_dtype_size(RCL_ST_NDTYPES), 0);
    assert_null(rcl_st_dtype_name(RCL_ST_NDTYPES));
    rcl_st_dtype d;
    EXPECT_ST(rcl_st_dtype_from_name("F33", &d), RCL_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_dtype_names, clean),
        cmocka_unit_test_setup(test_json_parser, clean),
        cmocka_unit_test_setup(test_golden_read, clean),
        cmocka_unit_test_setup(test_golden_write_byte_exact, clean),
        cmocka_unit_test_setup(test_roundtrip, clean),
        cmocka_unit_test_setup(test_empty_file_and_overwrite, clean),
        cmocka_unit_test_setup(test_writer_errors, clean),
        cmocka_unit_test_setup(test_missing_file, clean),
        cmocka_unit_test_setup(test_truncated_prefixes, clean),
        cmocka_unit_test_setup(test_header_length_field, clean),
        cmocka_unit_test_setup(test_header_cases, clean),
        cmocka_unit_test_setup(test_escaped_names, clean),
        cmocka_unit_test_setup(test_mutations, clean),
    };
    return cmocka_run_group_tests_name("safetensors", tests, setup, teardown);
}
