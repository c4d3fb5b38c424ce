/* The file index of a streaming image set (ImageNet layouts): which files a
 * split holds, their labels and sizes, built by walking the tree once and
 * cached in a text file that later starts read instead of walking.
 *
 * Cache file (index-<split>.tsv), one record a line:
 *   rcl-file-index 1
 *   stamp <16 hex digits>
 *   source <where the class list came from>
 *   classes <K>
 *   <id> TAB <words>                      K lines, label order
 *   files <N>
 *   <label> TAB <size> TAB <relative path>  N lines
 * The stamp hashes the mtime and size of the split directory, of every
 * class folder and of the label files: adding or removing a file changes
 * its folder's mtime, so the next start rebuilds the index. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "data/data_internal.h"

#include "base/base.h"
#include "rcl/status.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CLASSES (1 << 20)
#define MAX_ID 255

/* ------------------------------------------------------------ small helpers */

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *dup_s(const char *s) { return dup_n(s, strlen(s)); }

/* Next line of buf[*pos .. len): start and length without '\n' / '\r'. 0 at
 * the end. */
static int next_line(const uint8_t *buf, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len) return 0;
    size_t a = *pos, b = a;
    while (b < len && buf[b] != '\n') b++;
    *pos = b < len ? b + 1 : b;
    size_t e = b;
    if (e > a && buf[e - 1] == '\r') e--;
    *line = (const char *)buf + a;
    *n = e - a;
    return 1;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
                   strcasecmp(dot, ".png") == 0);
}

/* A class id as it may appear in a path and a comma-separated list. */
static int id_ok(const char *s, size_t n)
{
    if (n == 0 || n > MAX_ID) return 0;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == 0x7f || c == '/' || c == ',' || c == ':') return 0;
    }
    return 1;
}

/* Sorted view of string list for lookups: idx[] sorted by names[idx[k]]. */
typedef struct name_lookup {
    char *const *names;
    int *idx;
    int n;
} name_lookup;

static char *const *g_sort_names;   /* qsort has no context argument; guarded below */
static int cmp_idx(const void *a, const void *b)
{
    return strcmp(g_sort_names[*(const int *)a], g_sort_names[*(const int *)b]);
}

#include <pthread.h>
static pthread_mutex_t g_sort_mu = PTHREAD_MUTEX_INITIALIZER;

static int lookup_init(name_lookup *l, char *const *names, int n)
{
    l->names = names;
    l->n = n;
    l->idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!l->idx) return RCL_ERR_NOMEM;
    for (int i = 0; i < n; i++) l->idx[i] = i;
    pthread_mutex_lock(&g_sort_mu);
    g_sort_names = names;
    qsort(l->idx, (size_t)n, sizeof(int), cmp_idx);
    pthread_mutex_unlock(&g_sort_mu);
    return RCL_OK;
}

/* Index of `key` (first n bytes) in the list, -1 if absent. */
static int lookup_find(const name_lookup *l, const char *key, size_t n)
{
    int lo = 0, hi = l->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const char *s = l->names[l->idx[mid]];
        int c = strncmp(key, s, n);
        if (c == 0 && s[n] != '\0') c = -1;
        if (c == 0) return l->idx[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

/* A duplicate in the list (its index), or -1. */
static int lookup_duplicate(const name_lookup *l)
{
    for (int k = 1; k < l->n; k++)
        if (strcmp(l->names[l->idx[k - 1]], l->names[l->idx[k]]) == 0) return l->idx[k];
    return -1;
}

/* ------------------------------------------------------------ label files */

int rcl_parse_class_list(const uint8_t *buf, size_t len, const char *what, char ***ids_out,
                         char ***words_out, int *n_out)
{
    *ids_out = *words_out = NULL;
    *n_out = 0;
    char **ids = NULL, **words = NULL;
    int n = 0, cap = 0, st = RCL_OK, lineno = 0;
    size_t pos = 0, ln;
    const char *line;
    while (st == RCL_OK && next_line(buf, len, &pos, &line, &ln)) {
        lineno++;
        while (ln > 0 && is_space(line[0])) line++, ln--;
        while (ln > 0 && is_space(line[ln - 1])) ln--;
        if (ln == 0) continue;
        size_t a = 0;
        while (a < ln && !is_space(line[a]) && line[a] != ':') a++;
        if (!id_ok(line, a) || memchr(line, '\0', ln)) {
            st = rcl_fail(RCL_ERR_FORMAT,
                          "%s:%d: not a class line (want '<id> <words>', e.g. 'n01440764 "
                          "tench, Tinca tinca'; ids without '/', ',', ':' or spaces)",
                          what, lineno);
            break;
        }
        size_t b = a;
        while (b < ln && is_space(line[b])) b++;
        if (b < ln && line[b] == ':') b++;
        while (b < ln && is_space(line[b])) b++;
        if (n == MAX_CLASSES) {
            st = rcl_fail(RCL_ERR_FORMAT, "%s: more than %d classes", what, MAX_CLASSES);
            break;
        }
        if (n == cap) {
            int nc = cap ? cap * 2 : 1024;
            char **ni = realloc(ids, sizeof(char *) * (size_t)nc);
            if (ni) ids = ni;
            char **nw = ni ? realloc(words, sizeof(char *) * (size_t)nc) : NULL;
            if (nw) words = nw;
            if (!ni || !nw) { st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what); break; }
            cap = nc;
        }
        ids[n] = dup_n(line, a);
        words[n] = b < ln ? dup_n(line + b, ln - b) : dup_n(line, a);
        if (!ids[n] || !words[n]) {
            free(ids[n]);
            free(words[n]);
            st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what);
            break;
        }
        for (char *c = words[n]; *c; c++)
            if (*c == '\t') *c = ' ';
        n++;
    }
    if (st == RCL_OK && n == 0) st = rcl_fail(RCL_ERR_FORMAT, "%s: no class lines", what);
    if (st == RCL_OK) {
        name_lookup l;
        if (lookup_init(&l, ids, n) != RCL_OK) st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what);
        else {
            int d = lookup_duplicate(&l);
            if (d >= 0) st = rcl_fail(RCL_ERR_FORMAT, "%s: class '%s' listed twice", what, ids[d]);
            free(l.idx);
        }
    }
    if (st != RCL_OK) {
        rcl_free_names(ids, n);
        rcl_free_names(words, n);
        return st;
    }
    *ids_out = ids;
    *words_out = words;
    *n_out = n;
    return RCL_OK;
}

/* "ILSVRC2012_val_00000001.JPEG" -> its stem length. */
static size_t stem_len(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

int rcl_parse_val_labels(const uint8_t *buf, size_t len, const char *what, int kind,
                         char *const *order, int norder, char *const *names, int nnames,
                         char **wnid_of)
{
    for (int i = 0; i < nnames; i++) wnid_of[i] = NULL;
    /* stems of the file names, for lookups by image id */
    char **stems = malloc(sizeof(char *) * (size_t)(nnames > 0 ? nnames : 1));
    if (!stems) return rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what);
    int st = RCL_OK, made = 0;
    for (; made < nnames; made++) {
        stems[made] = dup_n(names[made], stem_len(names[made]));
        if (!stems[made]) { st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what); break; }
    }
    name_lookup l = {0};
    if (st == RCL_OK && lookup_init(&l, stems, nnames) != RCL_OK)
        st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what);
    size_t pos = 0, ln;
    const char *line;
    int lineno = 0;
    while (st == RCL_OK && next_line(buf, len, &pos, &line, &ln)) {
        lineno++;
        while (ln > 0 && is_space(line[ln - 1])) ln--;
        if (ln == 0) continue;
        char stem[64];
        const char *id;
        size_t idn;
        if (kind == 0) {   /* ImageId,PredictionString: "<wnid> x0 y0 x1 y1 ..." */
            if (lineno == 1 && ln >= 7 && memcmp(line, "ImageId", 7) == 0) continue;
            const char *comma = memchr(line, ',', ln);
            size_t sn = comma ? (size_t)(comma - line) : 0;
            if (!comma || sn == 0 || sn >= sizeof stem) {
                st = rcl_fail(RCL_ERR_FORMAT,
                              "%s:%d: not a LOC_val_solution line (want "
                              "'ILSVRC2012_val_00000001,n01751748 x0 y0 x1 y1 ...')",
                              what, lineno);
                break;
            }
            memcpy(stem, line, sn);
            stem[sn] = '\0';
            id = comma + 1;
            size_t rest = ln - sn - 1;
            idn = 0;
            while (idn < rest && !is_space(id[idn])) idn++;
        } else {   /* one ILSVRC2012_ID (1..norder) a line, for val image <lineno> */
            long v = 0;
            size_t k = 0;
            while (k < ln && is_space(line[k])) k++;
            size_t d0 = k;
            while (k < ln && line[k] >= '0' && line[k] <= '9' && v <= 100000000)
                v = v * 10 + (line[k++] - '0');
            if (k == d0 || k != ln || v < 1 || v > norder) {
                st = rcl_fail(RCL_ERR_FORMAT,
                              "%s:%d: want one class number in 1..%d (the devkit's "
                              "ILSVRC2012_ID)",
                              what, lineno, norder);
                break;
            }
            snprintf(stem, sizeof stem, "ILSVRC2012_val_%08d", lineno);
            id = order[v - 1];
            idn = strlen(id);
        }
        if (!id_ok(id, idn)) {
            st = rcl_fail(RCL_ERR_FORMAT, "%s:%d: bad class id", what, lineno);
            break;
        }
        int f = lookup_find(&l, stem, strlen(stem));
        if (f < 0) continue;   /* a file this folder does not hold (a subset) */
        if (wnid_of[f]) {
            st = rcl_fail(RCL_ERR_FORMAT, "%s:%d: %s listed twice", what, lineno, stem);
            break;
        }
        wnid_of[f] = dup_n(id, idn);
        if (!wnid_of[f]) st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what);
    }
    free(l.idx);
    rcl_free_names(stems, made);
    if (st != RCL_OK)
        for (int i = 0; i < nnames; i++) {
            free(wnid_of[i]);
            wnid_of[i] = NULL;
        }
    return st;
}

/* ------------------------------------------------------------- the index */

void rcl_file_index_destroy(rcl_file_index *ix)
{
    if (!ix) return;
    free(ix->dir);
    rcl_free_names(ix->paths, ix->n);
    free(ix->labels);
    free(ix->sizes);
    rcl_free_names(ix->class_ids, ix->num_classes);
    rcl_free_names(ix->class_words, ix->num_classes);
    free(ix->cache_dir);
    free(ix->cache_path);
    memset(ix, 0, sizeof *ix);
}

char *rcl_file_index_side_path(const rcl_file_index *ix, const char *name)
{
    return ix && ix->cache_dir && name ? rcl_path_join(ix->cache_dir, name) : NULL;
}

static int ix_alloc_files(rcl_file_index *ix, int n)
{
    size_t k = (size_t)(n > 0 ? n : 1);
    ix->paths = calloc(k, sizeof(char *));
    ix->labels = malloc(k * sizeof(int32_t));
    ix->sizes = malloc(k * sizeof(int64_t));
    return ix->paths && ix->labels && ix->sizes ? RCL_OK : RCL_ERR_NOMEM;
}

/* Parse a decimal in [0, max] from s[0..n). */
static int parse_dec(const char *s, size_t n, long long max, long long *v)
{
    if (n == 0 || n > 19) return -1;
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        int d = s[i] - '0';
        if (d > max || x > (max - d) / 10) return -1; /* x * 10 + d > max, before it can overflow */
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

int rcl_file_index_parse(rcl_file_index *ix, const uint8_t *buf, size_t len, uint64_t stamp,
                         const char *what)
{
    memset(ix, 0, sizeof *ix);
    size_t pos = 0, ln;
    const char *line;
    int st = RCL_OK;
    long long k = 0, n = 0;
    char want[64];
#define BAD(...) do { st = rcl_fail(RCL_ERR_FORMAT, __VA_ARGS__); goto done; } while (0)
    if (!next_line(buf, len, &pos, &line, &ln) || ln != 16 || memcmp(line, "rcl-file-index 1", 16))
        BAD("%s: not a resnet-cl file index (first line)", what);
    snprintf(want, sizeof want, "stamp %016llx", (unsigned long long)stamp);
    if (!next_line(buf, len, &pos, &line, &ln) || ln != strlen(want) || memcmp(line, want, ln))
        BAD("%s: stale (the data changed since it was written)", what);
    if (!next_line(buf, len, &pos, &line, &ln) || ln < 7 || memcmp(line, "source ", 7) ||
        ln - 7 >= sizeof ix->class_source || memchr(line, '\0', ln))
        BAD("%s: bad 'source' line", what);
    memcpy(ix->class_source, line + 7, ln - 7);
    ix->class_source[ln - 7] = '\0';
    if (!next_line(buf, len, &pos, &line, &ln) || ln < 9 || memcmp(line, "classes ", 8) ||
        parse_dec(line + 8, ln - 8, MAX_CLASSES, &k) || k < 1)
        BAD("%s: bad 'classes' line", what);
    ix->class_ids = calloc((size_t)k, sizeof(char *));
    ix->class_words = calloc((size_t)k, sizeof(char *));
    if (!ix->class_ids || !ix->class_words) {
        st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what);
        goto done;
    }
    ix->num_classes = (int)k;
    for (long long c = 0; c < k; c++) {
        if (!next_line(buf, len, &pos, &line, &ln)) BAD("%s: %lld class lines, want %lld", what, c, k);
        const char *tab = memchr(line, '\t', ln);
        size_t a = tab ? (size_t)(tab - line) : ln;
        if (!tab || !id_ok(line, a) || memchr(line, '\0', ln))
            BAD("%s: bad class line %lld", what, c + 1);
        ix->class_ids[c] = dup_n(line, a);
        ix->class_words[c] = dup_n(tab + 1, ln - a - 1);
        if (!ix->class_ids[c] || !ix->class_words[c]) {
            st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what);
            goto done;
        }
    }
    /* at least 6 bytes per file line: bounds the allocation by the input */
    if (!next_line(buf, len, &pos, &line, &ln) || ln < 7 || memcmp(line, "files ", 6) ||
        parse_dec(line + 6, ln - 6, INT_MAX, &n) || (size_t)n > (len - pos) / 6 + 1)
        BAD("%s: bad 'files' line", what);
    if (ix_alloc_files(ix, (int)n) != RCL_OK) {
        st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what);
        goto done;
    }
    for (long long i = 0; i < n; i++) {
        ix->n = (int)i;
        if (!next_line(buf, len, &pos, &line, &ln)) BAD("%s: %lld file lines, want %lld", what, i, n);
        const char *t1 = memchr(line, '\t', ln);
        const char *t2 = t1 ? memchr(t1 + 1, '\t', ln - (size_t)(t1 + 1 - line)) : NULL;
        long long lab, size;
        if (!t2 || parse_dec(line, (size_t)(t1 - line), k - 1, &lab) ||
            parse_dec(t1 + 1, (size_t)(t2 - t1 - 1), LLONG_MAX / 2, &size))
            BAD("%s: bad file line %lld", what, i + 1);
        const char *p = t2 + 1;
        size_t pn = ln - (size_t)(p - line);
        /* relative, no "..", no NUL: the path stays under the split */
        int bad = pn == 0 || p[0] == '/' || memchr(p, '\0', pn) != NULL;
        for (size_t j = 0; !bad && j + 1 < pn + 1; j++)
            if (p[j] == '.' && j + 1 < pn && p[j + 1] == '.' && (j == 0 || p[j - 1] == '/') &&
                (j + 2 == pn || p[j + 2] == '/'))
                bad = 1;
        if (bad) BAD("%s: bad path on file line %lld", what, i + 1);
        ix->paths[i] = dup_n(p, pn);
        if (!ix->paths[i]) {
            st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", what);
            goto done;
        }
        ix->labels[i] = (int32_t)lab;
        ix->sizes[i] = size;
    }
    ix->n = (int)n;
    if (next_line(buf, len, &pos, &line, &ln)) BAD("%s: trailing data after %lld files", what, n);
#undef BAD
done:
    if (st != RCL_OK) {
        if (ix->paths) ix->n = (int)n;   /* calloc'd: unset entries are NULL */
        rcl_file_index_destroy(ix);
        return st;
    }
    int *seen = calloc((size_t)ix->num_classes, sizeof(int));
    if (seen) {
        for (int i = 0; i < ix->n; i++) seen[ix->labels[i]] = 1;
        for (int c = 0; c < ix->num_classes; c++) ix->classes_present += seen[c];
        free(seen);
    }
    return RCL_OK;
}

typedef struct write_ctx {
    const rcl_file_index *ix;
    uint64_t stamp;
} write_ctx;

static int write_index(FILE *f, void *user)
{
    const write_ctx *w = user;
    const rcl_file_index *ix = w->ix;
    fprintf(f, "rcl-file-index 1\nstamp %016llx\nsource ", (unsigned long long)w->stamp);
    for (const char *p = ix->class_source; *p; p++) fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
    fprintf(f, "\nclasses %d\n", ix->num_classes);
    for (int c = 0; c < ix->num_classes; c++) {
        fprintf(f, "%s\t", ix->class_ids[c]);
        for (const char *p = ix->class_words[c]; *p; p++) fputc(*p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p, f);
        fputc('\n', f);
    }
    fprintf(f, "files %d\n", ix->n);
    for (int i = 0; i < ix->n; i++)
        fprintf(f, "%d\t%lld\t%s\n", (int)ix->labels[i], (long long)ix->sizes[i], ix->paths[i]);
    return ferror(f) ? rcl_fail(RCL_ERR_IO, "writing the file index failed") : RCL_OK;
}

/* ------------------------------------------------------------- the walk */

static uint64_t stamp_path(uint64_t h, const char *path)
{
    struct stat sb;
    h = rcl_fnv1a(h, path, strlen(path) + 1);
    if (stat(path, &sb) == 0) {
        int64_t v[3] = {(int64_t)sb.st_mtim.tv_sec, (int64_t)sb.st_mtim.tv_nsec,
                        (int64_t)sb.st_size};
        h = rcl_fnv1a(h, v, sizeof v);
    }
    return h;
}

/* The first of dir/name, root/name, root/../name that is a file (malloc'd). */
static char *find_near(const char *dir, const char *root, const char *name)
{
    const char *bases[3] = {dir, root, NULL};
    char *up = rcl_path_join(root, "..");
    bases[2] = up;
    for (int b = 0; b < 3; b++) {
        if (!bases[b]) continue;
        char *p = rcl_path_join(bases[b], name);
        if (p && rcl_is_file(p)) {
            free(up);
            return p;
        }
        free(p);
    }
    free(up);
    return NULL;
}

/* Image files of a folder with their sizes, sorted by name: one stat per
 * image file (the walk's cost on a million files), none for other names. */
typedef struct named_size {
    char *name;
    int64_t size;
} named_size;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named_size *)a)->name, ((const named_size *)b)->name);
}

static int list_images(const char *dir, char ***names, int64_t **sizes, int *count)
{
    *names = NULL;
    *sizes = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return rcl_fail(errno == ENOENT ? RCL_ERR_NOT_FOUND : RCL_ERR_IO,
                        "%s: cannot open directory: %s", dir, strerror(errno));
    named_size *v = NULL;
    int n = 0, cap = 0, st = RCL_OK;
    size_t dl = strlen(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name)) continue;
        size_t nl = strlen(e->d_name);
        char *p = malloc(dl + nl + 2);
        if (!p) { st = RCL_ERR_NOMEM; break; }
        memcpy(p, dir, dl);
        p[dl] = '/';
        memcpy(p + dl + 1, e->d_name, nl + 1);
        struct stat sb;
        int ok = stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
        free(p);
        if (!ok) continue;
        if (n == cap) {
            int nc = cap ? cap * 2 : 256;
            named_size *nv = realloc(v, sizeof *nv * (size_t)nc);
            if (!nv) { st = RCL_ERR_NOMEM; break; }
            v = nv;
            cap = nc;
        }
        v[n].name = dup_n(e->d_name, nl);
        v[n].size = (int64_t)sb.st_size;
        if (!v[n].name) { st = RCL_ERR_NOMEM; break; }
        n++;
    }
    closedir(d);
    char **nm = NULL;
    int64_t *sz = NULL;
    if (st == RCL_OK) {
        if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_named);
        nm = malloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
        sz = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
        if (!nm || !sz) st = RCL_ERR_NOMEM;
    }
    if (st != RCL_OK) {
        for (int i = 0; i < n; i++) free(v[i].name);
        free(v);
        free(nm);
        free(sz);
        return rcl_fail(st, "%s: out of memory listing directory", dir);
    }
    for (int i = 0; i < n; i++) {
        nm[i] = v[i].name;
        sz[i] = v[i].size;
    }
    free(v);
    *names = nm;
    *sizes = sz;
    *count = n;
    return RCL_OK;
}

/* Is every name an ILSVRC-2012 class id? */
static int all_ilsvrc(char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (names[i] && rcl_imagenet_wnid_label(names[i]) < 0) return 0;
    return n > 0;
}

static int set_builtin_classes(rcl_file_index *ix)
{
    ix->class_ids = calloc(RCL_IMAGENET_CLASSES, sizeof(char *));
    ix->class_words = calloc(RCL_IMAGENET_CLASSES, sizeof(char *));
    if (!ix->class_ids || !ix->class_words) return RCL_ERR_NOMEM;
    ix->num_classes = RCL_IMAGENET_CLASSES;
    for (int k = 0; k < RCL_IMAGENET_CLASSES; k++) {
        ix->class_ids[k] = dup_s(rcl_imagenet_wnid(k));
        ix->class_words[k] = dup_s(rcl_imagenet_wnid(k));
        if (!ix->class_ids[k] || !ix->class_words[k]) return RCL_ERR_NOMEM;
    }
    snprintf(ix->class_source, sizeof ix->class_source, "the 1000 ILSVRC-2012 classes");
    return RCL_OK;
}

/* Classes = the sorted distinct names (names may hold NULLs and repeats). */
static int set_present_classes(rcl_file_index *ix, char *const *names, int n)
{
    char **u = malloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
    if (!u) return RCL_ERR_NOMEM;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (names[i]) u[k++] = names[i];
    name_lookup l;
    if (lookup_init(&l, u, k) != RCL_OK) {
        free(u);
        return RCL_ERR_NOMEM;
    }
    ix->class_ids = calloc((size_t)(k > 0 ? k : 1), sizeof(char *));
    ix->class_words = calloc((size_t)(k > 0 ? k : 1), sizeof(char *));
    int st = ix->class_ids && ix->class_words ? RCL_OK : RCL_ERR_NOMEM;
    int m = 0;
    for (int j = 0; j < k && st == RCL_OK; j++) {
        const char *s = u[l.idx[j]];
        if (m > 0 && strcmp(ix->class_ids[m - 1], s) == 0) continue;
        ix->class_ids[m] = dup_s(s);
        ix->class_words[m] = dup_s(s);
        ix->num_classes = m + 1;   /* counts what destroy frees */
        if (!ix->class_ids[m] || !ix->class_words[m]) st = RCL_ERR_NOMEM;
        m++;
    }
    ix->num_classes = m;
    free(l.idx);
    free(u);
    snprintf(ix->class_source, sizeof ix->class_source, "the classes present (sorted)");
    return st;
}

static int label_of(const name_lookup *classes, const char *id)
{
    return lookup_find(classes, id, strlen(id));
}

static int push_file(rcl_file_index *ix, int *cap, char *rel, int label, int64_t size)
{
    if (!rel) return RCL_ERR_NOMEM;
    if (ix->n == *cap) {
        int nc = *cap ? *cap * 2 : 4096;
        char **np = realloc(ix->paths, sizeof(char *) * (size_t)nc);
        if (np) ix->paths = np;
        int32_t *nl = np ? realloc(ix->labels, sizeof(int32_t) * (size_t)nc) : NULL;
        if (nl) ix->labels = nl;
        int64_t *ns = nl ? realloc(ix->sizes, sizeof(int64_t) * (size_t)nc) : NULL;
        if (ns) ix->sizes = ns;
        if (!ns) {
            free(rel);
            return RCL_ERR_NOMEM;
        }
        *cap = nc;
    }
    ix->paths[ix->n] = rel;
    ix->labels[ix->n] = label;
    ix->sizes[ix->n] = size;
    ix->n++;
    return RCL_OK;
}

/* Class list from a file (explicit or found): ids in its order. */
static int classes_from_file(rcl_file_index *ix, const char *path)
{
    uint8_t *buf;
    size_t len;
    RCL_TRY(rcl_read_file(path, &buf, &len));
    char **ids, **words;
    int n;
    int st = rcl_parse_class_list(buf, len, path, &ids, &words, &n);
    free(buf);
    if (st != RCL_OK) return st;
    ix->class_ids = ids;
    ix->class_words = words;
    ix->num_classes = n;
    return RCL_OK;
}

static const char *const WORDS_FILES[] = {"synset_words.txt", "LOC_synset_mapping.txt"};

/* Walk the split directory `dir` (root: for label files) into ix. *stamp
 * receives the stamp of what was read. */
static int walk(rcl_file_index *ix, const char *dir, const char *root, const char *classes_file,
                uint64_t *stamp_out)
{
    char **cls = NULL, **files = NULL, **wnid_of = NULL, *gt = NULL, *order_path = NULL,
         *words_path = NULL;
    int ncls = 0, nfiles = 0, cap = 0, st = RCL_OK;
    int64_t *fsizes = NULL;
    name_lookup lk = {0};
    uint64_t h = rcl_fnv1a(RCL_FNV_INIT, "rcl-file-index 1", 16);
    h = stamp_path(h, dir);
    RCL_TRY(rcl_list_dir(dir, 1, &cls, &ncls));
    int flat = ncls == 0;

    /* the class list */
    if (classes_file) {
        h = stamp_path(h, classes_file);
        if ((st = classes_from_file(ix, classes_file)) != RCL_OK) goto done;
        snprintf(ix->class_source, sizeof ix->class_source, "the classes file %s", classes_file);
    } else {
        for (int i = 0; i < 2 && !words_path; i++) words_path = find_near(dir, root, WORDS_FILES[i]);
        if (words_path) h = stamp_path(h, words_path);
    }

    if (!flat) {
        for (int k = 0; k < ncls; k++) {
            char *p = rcl_path_join(dir, cls[k]);
            if (!p) { st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", dir); goto done; }
            h = stamp_path(h, p);
            free(p);
        }
    } else {
        if ((st = list_images(dir, &files, &fsizes, &nfiles)) != RCL_OK) goto done;
        if (nfiles == 0) {
            st = rcl_fail(RCL_ERR_NOT_FOUND,
                          "%s: no class folders and no .JPEG/.jpg/.png files (want "
                          "%s/<wnid>/*.JPEG, or a flat folder with LOC_val_solution.csv or "
                          "ILSVRC2012_validation_ground_truth.txt)",
                          dir, dir);
            goto done;
        }
        int kind = 0;
        gt = find_near(dir, root, "LOC_val_solution.csv");
        if (!gt) {
            kind = 1;
            gt = find_near(dir, root, "ILSVRC2012_validation_ground_truth.txt");
            if (!gt) {
                char *dk = rcl_path_join(root, "ILSVRC2012_devkit_t12/data");
                gt = dk ? find_near(dk, root, "ILSVRC2012_validation_ground_truth.txt") : NULL;
                if (gt) order_path = find_near(dk, root, "ILSVRC2012_devkit_synsets.txt");
                free(dk);
            }
            if (gt && !order_path) order_path = find_near(dir, root, "ILSVRC2012_devkit_synsets.txt");
        }
        if (!gt) {
            st = rcl_fail(RCL_ERR_NOT_FOUND,
                          "%s: %d images without class folders and no ground truth: put "
                          "LOC_val_solution.csv or ILSVRC2012_validation_ground_truth.txt (with "
                          "ILSVRC2012_devkit_synsets.txt) in %s or %s, or sort the images "
                          "into <wnid>/ folders",
                          dir, nfiles, dir, root);
            goto done;
        }
        if (kind == 1 && !order_path) {
            st = rcl_fail(RCL_ERR_NOT_FOUND,
                          "%s: ILSVRC2012_validation_ground_truth.txt numbers classes in the "
                          "devkit's order: put that order (1000 wnids, one a line, as "
                          "meta.mat's synsets 1..1000) in ILSVRC2012_devkit_synsets.txt next to it",
                          gt);
            goto done;
        }
        h = stamp_path(h, gt);
        char **order = NULL, **owords = NULL;
        int norder = 0;
        if (order_path) {
            h = stamp_path(h, order_path);
            uint8_t *ob;
            size_t ol;
            if ((st = rcl_read_file(order_path, &ob, &ol)) != RCL_OK) goto done;
            st = rcl_parse_class_list(ob, ol, order_path, &order, &owords, &norder);
            free(ob);
            if (st != RCL_OK) goto done;
        }
        uint8_t *gb;
        size_t gl;
        wnid_of = calloc((size_t)nfiles, sizeof(char *));
        if (!wnid_of) st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", dir);
        if (st == RCL_OK && (st = rcl_read_file(gt, &gb, &gl)) == RCL_OK) {
            st = rcl_parse_val_labels(gb, gl, gt, kind, order, norder, files, nfiles, wnid_of);
            free(gb);
        }
        rcl_free_names(order, norder);
        rcl_free_names(owords, norder);
        if (st != RCL_OK) goto done;
        for (int i = 0; i < nfiles; i++)
            if (!wnid_of[i]) {
                st = rcl_fail(RCL_ERR_FORMAT,
                              "%s/%s: not listed in %s; remove the file or use the ground "
                              "truth that lists it",
                              dir, files[i], gt);
                goto done;
            }
    }

    /* classes: file > words file > ILSVRC-2012 > present */
    char *const *present = flat ? wnid_of : cls;
    int npresent = flat ? nfiles : ncls;
    if (!ix->class_ids && words_path) {
        if ((st = classes_from_file(ix, words_path)) != RCL_OK) goto done;
        snprintf(ix->class_source, sizeof ix->class_source, "%s", words_path);
    }
    if (!ix->class_ids) {
        if (all_ilsvrc(present, npresent)) st = set_builtin_classes(ix);
        else st = set_present_classes(ix, present, npresent);
        if (st != RCL_OK) { st = rcl_fail(st, "%s: out of memory", dir); goto done; }
    }
    if ((st = lookup_init(&lk, ix->class_ids, ix->num_classes)) != RCL_OK) {
        st = rcl_fail(st, "%s: out of memory", dir);
        goto done;
    }

    if (flat) {
        for (int i = 0; i < nfiles && st == RCL_OK; i++) {
            int lab = label_of(&lk, wnid_of[i]);
            if (lab < 0) {
                st = rcl_fail(RCL_ERR_FORMAT,
                              "%s/%s: class '%s' is not in %s; add it there or remove the file",
                              dir, files[i], wnid_of[i], ix->class_source);
                break;
            }
            st = push_file(ix, &cap, dup_s(files[i]), lab, fsizes[i]);
            if (st != RCL_OK) st = rcl_fail(st, "%s: out of memory", dir);
        }
    } else {
        int shifted = strcmp(ix->class_source, "the classes present (sorted)") == 0;
        for (int k = 0; k < ncls && st == RCL_OK; k++) {
            int lab = label_of(&lk, cls[k]);
            if (lab < 0) {
                st = rcl_fail(RCL_ERR_FORMAT,
                              "%s/%s: folder is not a class of %s; remove it, or give a classes "
                              "file that lists it",
                              dir, cls[k], ix->class_source);
                break;
            }
            char *cdir = rcl_path_join(dir, cls[k]);
            char **names;
            int64_t *sizes;
            int n;
            if (!cdir) { st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", dir); break; }
            st = list_images(cdir, &names, &sizes, &n);
            free(cdir);
            if (st != RCL_OK) break;
            if (n == 0 && shifted)
                st = rcl_fail(RCL_ERR_FORMAT,
                              "%s: class folder '%s' has no .JPEG/.jpg/.png files; add its "
                              "images or remove the folder (its classes are the folders "
                              "present, so an empty one shifts the labels after it)",
                              dir, cls[k]);
            for (int i = 0; i < n && st == RCL_OK; i++) {
                size_t len = strlen(cls[k]) + strlen(names[i]) + 2;
                char *rel = malloc(len);
                if (rel) snprintf(rel, len, "%s/%s", cls[k], names[i]);
                st = push_file(ix, &cap, rel, lab, sizes[i]);
                if (st != RCL_OK) st = rcl_fail(st, "%s: out of memory", dir);
            }
            rcl_free_names(names, n);
            free(sizes);
        }
        if (st == RCL_OK && ix->n == 0)
            st = rcl_fail(RCL_ERR_NOT_FOUND, "%s: %d class folders but no .JPEG/.jpg/.png files",
                          dir, ncls);
    }
    if (st == RCL_OK) {
        int *seen = calloc((size_t)ix->num_classes, sizeof(int));
        if (!seen) st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", dir);
        else {
            for (int i = 0; i < ix->n; i++) seen[ix->labels[i]] = 1;
            for (int c = 0; c < ix->num_classes; c++) ix->classes_present += seen[c];
            free(seen);
        }
    }
    *stamp_out = h;
done:
    free(lk.idx);
    rcl_free_names(cls, ncls);
    if (wnid_of) rcl_free_names(wnid_of, nfiles);
    rcl_free_names(files, nfiles);
    free(fsizes);
    free(gt);
    free(order_path);
    free(words_path);
    return st;
}

/* The stamp without walking the files: what walk() hashes before it lists
 * the class folders' contents. */
static int stamp_only(const char *dir, const char *root, const char *classes_file, uint64_t *out)
{
    char **cls = NULL;
    int ncls = 0;
    uint64_t h = rcl_fnv1a(RCL_FNV_INIT, "rcl-file-index 1", 16);
    h = stamp_path(h, dir);
    RCL_TRY(rcl_list_dir(dir, 1, &cls, &ncls));
    if (classes_file) h = stamp_path(h, classes_file);
    else {
        char *wp = NULL;
        for (int i = 0; i < 2 && !wp; i++) wp = find_near(dir, root, WORDS_FILES[i]);
        if (wp) h = stamp_path(h, wp);
        free(wp);
    }
    if (ncls > 0) {
        for (int k = 0; k < ncls; k++) {
            char *p = rcl_path_join(dir, cls[k]);
            if (!p) {
                rcl_free_names(cls, ncls);
                return rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", dir);
            }
            h = stamp_path(h, p);
            free(p);
        }
    } else {
        /* flat: the label files found the same way as walk() finds them */
        char *gt = find_near(dir, root, "LOC_val_solution.csv"), *order = NULL;
        if (!gt) {
            gt = find_near(dir, root, "ILSVRC2012_validation_ground_truth.txt");
            if (!gt) {
                char *dk = rcl_path_join(root, "ILSVRC2012_devkit_t12/data");
                gt = dk ? find_near(dk, root, "ILSVRC2012_validation_ground_truth.txt") : NULL;
                if (gt) order = find_near(dk, root, "ILSVRC2012_devkit_synsets.txt");
                free(dk);
            }
            if (gt && !order) order = find_near(dir, root, "ILSVRC2012_devkit_synsets.txt");
        }
        if (gt) h = stamp_path(h, gt);
        if (order) h = stamp_path(h, order);
        free(gt);
        free(order);
    }
    rcl_free_names(cls, ncls);
    *out = h;
    return RCL_OK;
}

/* Where the cache goes: the given dir, else the user's cache dir
 * ($XDG_CACHE_HOME or ~/.cache)/resnet-cl/data-<hash of the split's real
 * path>: data sets are often read-only or shared, so nothing is written
 * into them unless asked (--cache-dir). NULL: nowhere writable. */
static char *pick_cache_dir(const char *dir, const rcl_index_options *o)
{
    if (o && o->cache_dir) {
        if (rcl_mkdir_p(o->cache_dir) == 0 && access(o->cache_dir, W_OK) == 0)
            return dup_s(o->cache_dir);
        return NULL;
    }
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char base[4096];
    if (xdg && *xdg) snprintf(base, sizeof base, "%s/resnet-cl", xdg);
    else if (home && *home) snprintf(base, sizeof base, "%s/.cache/resnet-cl", home);
    else return NULL;
    char real[PATH_MAX];
    const char *key = realpath(dir, real) ? real : dir;
    char sub[4096 + 32];
    snprintf(sub, sizeof sub, "%s/data-%016llx", base,
             (unsigned long long)rcl_fnv1a(RCL_FNV_INIT, key, strlen(key)));
    if (rcl_mkdir_p(sub) == 0 && access(sub, W_OK) == 0) return dup_s(sub);
    return NULL;
}

int rcl_file_index_open(rcl_file_index *ix, const char *root, const char *split,
                        const rcl_index_options *opt)
{
    if (!ix || !root) return rcl_fail(RCL_ERR_INVALID, "rcl_file_index_open: NULL argument");
    memset(ix, 0, sizeof *ix);
    rcl_index_options o = {0};
    if (opt) o = *opt;
    int has_split = split && *split;
    char *dir = has_split ? rcl_path_join(root, split) : dup_s(root);
    if (!dir) return rcl_fail(RCL_ERR_NOMEM, "rcl_file_index_open: out of memory");
    if (!rcl_is_dir(dir)) {
        int st = rcl_fail(RCL_ERR_NOT_FOUND, "%s: no such directory (want %s/<wnid>/*.JPEG)", dir,
                          dir);
        free(dir);
        return st;
    }
    if (has_split && (strchr(split, '/') || !id_ok(split, strlen(split)))) {
        free(dir);
        return rcl_fail(RCL_ERR_INVALID, "rcl_file_index_open: bad split name '%s'", split);
    }
    char name[300];
    snprintf(name, sizeof name, "index-%s.tsv", has_split ? split : "all");
    char *cdir = o.no_cache ? NULL : pick_cache_dir(dir, &o);
    char *cpath = cdir ? rcl_path_join(cdir, name) : NULL;
    uint64_t stamp = 0;
    int st = RCL_OK;
    if (cpath && rcl_is_file(cpath) && stamp_only(dir, root, o.classes_file, &stamp) == RCL_OK) {
        uint8_t *buf;
        size_t len;
        if (rcl_read_file(cpath, &buf, &len) == RCL_OK) {
            st = rcl_file_index_parse(ix, buf, len, stamp, cpath);
            free(buf);
            if (st == RCL_OK) ix->from_cache = 1;
        }
    }
    if (!ix->from_cache) {
        rcl_file_index_destroy(ix);
        st = walk(ix, dir, root, o.classes_file, &stamp);
        if (st == RCL_OK && cpath) {
            write_ctx w = {ix, stamp};
            /* a cache that cannot be written is not an error: the next
             * start walks again */
            (void)rcl_atomic_write(cpath, write_index, &w);
        }
        if (st != RCL_OK) {
            rcl_file_index_destroy(ix);
            free(dir);
            free(cdir);
            free(cpath);
            return st;
        }
    }
    ix->dir = dir;
    ix->cache_dir = cdir;
    ix->cache_path = cpath;
    return RCL_OK;
}

/* ------------------------------------------------------- display names */

void rcl_class_words_free(char **words, int n)
{
    rcl_free_names(words, n);
}

int rcl_class_words_load(const char *path, char *const *ids, int n, char ***out)
{
    if (!path || !out || n < 0) return rcl_fail(RCL_ERR_INVALID, "rcl_class_words_load: bad arguments");
    *out = NULL;
    uint8_t *buf;
    size_t len;
    RCL_TRY(rcl_read_file(path, &buf, &len));
    char **fid, **fwords;
    int fn;
    int st = rcl_parse_class_list(buf, len, path, &fid, &fwords, &fn);
    free(buf);
    if (st != RCL_OK) return st;
    name_lookup l = {0};
    char **w = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
    if (!w || lookup_init(&l, fid, fn) != RCL_OK) st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", path);
    for (int k = 0; k < n && st == RCL_OK; k++) {
        int j = ids ? (ids[k] ? lookup_find(&l, ids[k], strlen(ids[k])) : -1) : (k < fn ? k : -1);
        if (j >= 0) w[k] = dup_s(fwords[j]);
        else if (ids && ids[k]) w[k] = dup_s(ids[k]);
        else {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "class %d", k);
            w[k] = dup_s(tmp);
        }
        if (!w[k]) st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", path);
    }
    free(l.idx);
    rcl_free_names(fid, fn);
    rcl_free_names(fwords, fn);
    if (st != RCL_OK) {
        if (w) rcl_free_names(w, n);
        return st;
    }
    *out = w;
    return RCL_OK;
}
