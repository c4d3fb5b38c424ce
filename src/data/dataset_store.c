/* The rcl_dataset container: allocation, destruction, image access. The
 * loaders (data_cifar_bin.c, data_imagefolder.c) fill it; dataset.c picks
 * the loader, so the calls run one way: dataset -> loaders -> store. */
#include "data/data_internal.h"

#include "rcl/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rcl_dataset_alloc(rcl_dataset *ds, int n, int c, int h, int w, int num_classes)
{
    if (!ds) return rcl_fail(RCL_ERR_INVALID, "rcl_dataset_alloc: NULL dataset");
    memset(ds, 0, sizeof *ds);
    if (n < 0 || c <= 0 || h <= 0 || w <= 0 || num_classes <= 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_dataset_alloc: bad shape n=%d c=%d h=%d w=%d classes=%d",
                        n, c, h, w, num_classes);
    size_t img = (size_t)c * h * w;
    ds->pixels = malloc(img * (size_t)n + 1);
    ds->labels = malloc(sizeof(int32_t) * (size_t)n + 1);
    ds->class_names = calloc((size_t)num_classes, sizeof(char *));
    if (!ds->pixels || !ds->labels || !ds->class_names) goto nomem;
    ds->num_classes = num_classes;
    for (int k = 0; k < num_classes; k++) {
        ds->class_names[k] = malloc(16);
        if (!ds->class_names[k]) goto nomem;
        snprintf(ds->class_names[k], 16, "%d", k);
    }
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    return RCL_OK;
nomem:
    ds->num_classes = num_classes;
    rcl_dataset_destroy(ds);
    return rcl_fail(RCL_ERR_NOMEM, "rcl_dataset_alloc: cannot allocate %d images of %zu bytes", n,
                    img);
}

void rcl_dataset_destroy(rcl_dataset *ds)
{
    if (!ds) return;
    free(ds->pixels);
    free(ds->labels);
    if (ds->class_names)
        for (int k = 0; k < ds->num_classes; k++) free(ds->class_names[k]);
    free(ds->class_names);
    memset(ds, 0, sizeof *ds);
}

uint8_t *rcl_dataset_image(const rcl_dataset *ds, int i)
{
    return ds->pixels + (size_t)i * rcl_dataset_image_size(ds);
}

size_t rcl_dataset_image_size(const rcl_dataset *ds)
{
    return (size_t)ds->c * ds->h * ds->w;
}

/* "N (a, b, c, ...)" into buf: the names, cut after about `cap` bytes with
 * how many were left out. */
static void describe_list(char *buf, size_t cap, char *const *names, int n)
{
    size_t len = (size_t)snprintf(buf, cap, "%d (", n);
    int i = 0;
    for (; i < n && len + strlen(names[i]) + 40 < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i]);
    if (i < n) len += (size_t)snprintf(buf + len, cap - len, "%s... %d more", i ? ", " : "", n - i);
    snprintf(buf + len, cap - len, ")");
}

int rcl_class_lists_check(const char *a_what, char *const *a, int na, const char *b_what,
                          char *const *b, int nb)
{
    if (!a_what || !b_what || na < 0 || nb < 0 || (na && !a) || (nb && !b))
        return rcl_fail(RCL_ERR_INVALID, "rcl_class_lists_check: bad argument");
    int first = -1;
    for (int k = 0; k < na || k < nb; k++)
        if (k >= na || k >= nb || strcmp(a[k], b[k]) != 0) {
            first = k;
            break;
        }
    if (first < 0) return RCL_OK;
    char la[1024], lb[1024], diff[600];
    describe_list(la, sizeof la, a, na);
    describe_list(lb, sizeof lb, b, nb);
    if (first < na && first < nb)
        snprintf(diff, sizeof diff, "label %d is '%.200s' in one and '%.200s' in the other", first,
                 a[first], b[first]);
    else
        snprintf(diff, sizeof diff, "label %d ('%.200s') exists only in %s", first,
                 first < na ? a[first] : b[first], first < na ? a_what : b_what);
    return rcl_fail(RCL_ERR_INVALID,
                    "class lists differ: %s has %s, %s has %s; %s (labels are the positions in "
                    "the sorted lists, so both must name the same classes)",
                    a_what, la, b_what, lb, diff);
}

int rcl_dataset_check_classes(const rcl_dataset *a, const char *a_what, const rcl_dataset *b,
                              const char *b_what)
{
    if (!a || !b) return rcl_fail(RCL_ERR_INVALID, "rcl_dataset_check_classes: NULL dataset");
    return rcl_class_lists_check(a_what, a->class_names, a->num_classes, b_what, b->class_names,
                                 b->num_classes);
}

int rcl_dataset_check_class_csv(const rcl_dataset *ds, const char *ds_what, const char *csv,
                                const char *csv_what)
{
    if (!ds || !csv) return rcl_fail(RCL_ERR_INVALID, "rcl_dataset_check_class_csv: NULL argument");
    int n = 1;
    for (const char *p = csv; *p; p++) n += *p == ',';
    char *copy = malloc(strlen(csv) + 1);
    char **names = malloc((size_t)n * sizeof *names);
    if (!copy || !names) {
        free(copy);
        free(names);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_dataset_check_class_csv: out of memory");
    }
    strcpy(copy, csv);
    int k = 0;
    names[k++] = copy;
    for (char *p = copy; *p; p++)
        if (*p == ',') {
            *p = 0;
            names[k++] = p + 1;
        }
    int st = rcl_class_lists_check(csv_what, names, n, ds_what, ds->class_names, ds->num_classes);
    free(names);
    free(copy);
    return st;
}
