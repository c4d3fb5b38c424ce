/* CIFAR-10 binary batches: data_batch_1..5.bin (train), test_batch.bin
 * (test), each 10000 records of 1 label byte + 1024 R + 1024 G + 1024 B
 * (32x32, row-major planes), and batches.meta.txt with the class names. */
#include "data/data_internal.h"

#include "rcl/status.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_CLASSES 10
#define CIFAR_PIXELS (3 * 32 * 32)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_RECORDS 10000
#define CIFAR_FILE_BYTES ((long long)CIFAR_RECORD * CIFAR_RECORDS)   /* 30,730,000 */

static const char *const cifar_files_train[] = {"data_batch_1.bin", "data_batch_2.bin",
                                                "data_batch_3.bin", "data_batch_4.bin",
                                                "data_batch_5.bin"};
static const char *const cifar_files_test[] = {"test_batch.bin"};
static const char *const cifar_names[CIFAR_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

static int has_batches(const char *dir)
{
    int found = 0;
    for (int i = 0; i < 5 && !found; i++) {
        char *p = rcl_path_join(dir, cifar_files_train[i]);
        found = p && rcl_is_file(p);
        free(p);
    }
    if (!found) {
        char *p = rcl_path_join(dir, cifar_files_test[0]);
        found = p && rcl_is_file(p);
        free(p);
    }
    return found;
}

char *rcl_cifar_bin_dir(const char *root)
{
    if (has_batches(root)) return rcl_path_join(root, "");
    char *sub = rcl_path_join(root, "cifar-10-batches-bin");
    if (sub && rcl_is_dir(sub)) return sub;
    free(sub);
    return NULL;
}

int rcl_cifar_bin_parse_names(char **names, int n, const uint8_t *buf, size_t len,
                              const char *what)
{
    int k = 0;
    size_t i = 0;
    while (i < len && k < n) {
        size_t e = i;
        while (e < len && buf[e] != '\n') e++;
        size_t a = i, b = e;
        while (a < b && isspace(buf[a])) a++;
        while (b > a && isspace(buf[b - 1])) b--;
        if (b > a) {
            names[k] = malloc(b - a + 1);
            if (!names[k]) return rcl_fail(RCL_ERR_NOMEM, "CIFAR-10: out of memory");
            memcpy(names[k], buf + a, b - a);
            names[k][b - a] = '\0';
            k++;
        }
        i = e + 1;
    }
    if (k < n) return rcl_fail(RCL_ERR_FORMAT, "%s: has %d class names, expected %d", what, k, n);
    return RCL_OK;
}

/* Class names: batches.meta.txt (first 10 non-empty lines) if present. */
static int load_names(rcl_dataset *ds, const char *dir)
{
    ds->class_names = calloc(CIFAR_CLASSES, sizeof(char *));
    if (!ds->class_names) return rcl_fail(RCL_ERR_NOMEM, "CIFAR-10: out of memory");
    ds->num_classes = CIFAR_CLASSES;
    char *meta = rcl_path_join(dir, "batches.meta.txt");
    if (!meta) return rcl_fail(RCL_ERR_NOMEM, "CIFAR-10: out of memory");
    uint8_t *buf = NULL;
    size_t len = 0;
    int st = RCL_OK;
    if (rcl_is_file(meta)) {
        st = rcl_read_file(meta, &buf, &len);
        if (st == RCL_OK) st = rcl_cifar_bin_parse_names(ds->class_names, CIFAR_CLASSES, buf, len, meta);
    } else {
        for (int k = 0; k < CIFAR_CLASSES; k++) {
            ds->class_names[k] = malloc(strlen(cifar_names[k]) + 1);
            if (!ds->class_names[k]) { st = rcl_fail(RCL_ERR_NOMEM, "CIFAR-10: out of memory"); break; }
            strcpy(ds->class_names[k], cifar_names[k]);
        }
    }
    free(buf);
    free(meta);
    return st;
}

/* Every file exists with the exact size, before any is read. */
static int check_files(char **paths, int nfiles, const char *split)
{
    for (int f = 0; f < nfiles; f++) {
        struct stat sb;
        if (stat(paths[f], &sb) != 0)
            return rcl_fail(errno == ENOENT ? RCL_ERR_NOT_FOUND : RCL_ERR_IO,
                            "%s: missing CIFAR-10 batch file (the %s split needs %s): %s",
                            paths[f], split,
                            nfiles == 1 ? "test_batch.bin" : "data_batch_1.bin..data_batch_5.bin",
                            strerror(errno));
        if (!S_ISREG(sb.st_mode))
            return rcl_fail(RCL_ERR_IO, "%s: not a regular file", paths[f]);
        if ((long long)sb.st_size != CIFAR_FILE_BYTES)
            return rcl_fail(RCL_ERR_FORMAT,
                            "%s: size %lld bytes, expected %lld (%d records of %d bytes): "
                            "truncated or not a CIFAR-10 batch",
                            paths[f], (long long)sb.st_size, CIFAR_FILE_BYTES, CIFAR_RECORDS,
                            CIFAR_RECORD);
    }
    return RCL_OK;
}

int rcl_cifar_bin_check(const uint8_t *buf, size_t len, size_t records, const char *what)
{
    if (len % CIFAR_RECORD || (records && len / CIFAR_RECORD != records))
        return rcl_fail(RCL_ERR_FORMAT, "%s: truncated: %zu bytes, expected %zu records of %d bytes",
                        what, len, records ? records : len / CIFAR_RECORD + 1, CIFAR_RECORD);
    for (size_t r = 0; r < len / CIFAR_RECORD; r++) {
        const uint8_t *rec = buf + r * CIFAR_RECORD;
        if (rec[0] >= CIFAR_CLASSES)
            return rcl_fail(RCL_ERR_FORMAT, "%s: record %zu has label %u, expected 0..9", what, r,
                            rec[0]);
    }
    return RCL_OK;
}

void rcl_cifar_bin_append(rcl_dataset *ds, const uint8_t *buf, size_t records, int *per_class,
                          int limit)
{
    for (size_t r = 0; r < records; r++) {
        const uint8_t *rec = buf + r * CIFAR_RECORD;
        if (limit > 0 && per_class[rec[0]] >= limit) continue;
        per_class[rec[0]]++;
        ds->labels[ds->n] = rec[0];
        memcpy(ds->pixels + (size_t)ds->n * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
        ds->n++;
    }
}

/* Read one batch file into buf, validate labels, append the kept records. */
static int read_batch(rcl_dataset *ds, const char *path, uint8_t *buf, int *per_class, int limit)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rcl_fail(RCL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(buf, 1, (size_t)CIFAR_FILE_BYTES, f);
    int err = ferror(f);
    fclose(f);
    if (err) return rcl_fail(RCL_ERR_IO, "%s: read error", path);
    RCL_TRY(rcl_cifar_bin_check(buf, got, CIFAR_RECORDS, path));
    rcl_cifar_bin_append(ds, buf, CIFAR_RECORDS, per_class, limit);
    return RCL_OK;
}

int rcl_dataset_load_cifar_bin(rcl_dataset *ds, const char *dir, const char *split,
                               const rcl_dataset_options *o)
{
    int train = strcmp(split, "train") == 0;
    const char *const *names = train ? cifar_files_train : cifar_files_test;
    int nfiles = train ? 5 : 1;
    char *paths[5] = {0};
    uint8_t *buf = NULL;
    int st = RCL_OK;
    memset(ds, 0, sizeof *ds);
    for (int f = 0; f < nfiles; f++)
        if (!(paths[f] = rcl_path_join(dir, names[f]))) st = RCL_ERR_NOMEM;
    if (st != RCL_OK) {
        st = rcl_fail(st, "CIFAR-10: out of memory");
        goto done;
    }
    if ((st = check_files(paths, nfiles, split)) != RCL_OK) goto done;
    if ((st = load_names(ds, dir)) != RCL_OK) goto done;

    size_t cap = (size_t)nfiles * CIFAR_RECORDS;
    if (o->per_class_limit > 0 && (size_t)o->per_class_limit * CIFAR_CLASSES < cap)
        cap = (size_t)o->per_class_limit * CIFAR_CLASSES;
    ds->pixels = malloc(cap * CIFAR_PIXELS);
    ds->labels = malloc(cap * sizeof(int32_t));
    buf = malloc((size_t)CIFAR_FILE_BYTES);
    if (!ds->pixels || !ds->labels || !buf) {
        st = rcl_fail(RCL_ERR_NOMEM, "CIFAR-10: cannot allocate %zu images", cap);
        goto done;
    }
    int per_class[CIFAR_CLASSES] = {0};
    for (int f = 0; f < nfiles && st == RCL_OK; f++)
        st = read_batch(ds, paths[f], buf, per_class, o->per_class_limit);
    ds->c = 3;
    ds->h = ds->w = 32;
    ds->layout = RCL_LAYOUT_CIFAR_BIN;
    if (st == RCL_OK && o->resize > 0 && o->resize != 32) {
        /* Resize in place into a new buffer. */
        size_t img = (size_t)3 * o->resize * o->resize;
        uint8_t *px = malloc(img * (size_t)ds->n + 1);
        if (!px) {
            st = rcl_fail(RCL_ERR_NOMEM, "CIFAR-10: cannot allocate resized images");
            goto done;
        }
        for (int i = 0; i < ds->n && st == RCL_OK; i++)
            st = rcl_resize_bilinear(px + img * i, o->resize, o->resize,
                                     ds->pixels + (size_t)i * CIFAR_PIXELS, 3, 32, 32);
        free(ds->pixels);
        ds->pixels = px;
        ds->h = ds->w = o->resize;
    }
done:
    free(buf);
    for (int f = 0; f < nfiles; f++) free(paths[f]);
    if (st != RCL_OK) rcl_dataset_destroy(ds);
    return st;
}
