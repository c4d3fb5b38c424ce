/* rcl_dataset: allocation, destruction and layout detection for loading. */
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

int rcl_dataset_load(rcl_dataset *ds, const char *root, const char *split,
                     const rcl_dataset_options *opts)
{
    if (!ds || !root) return rcl_fail(RCL_ERR_INVALID, "rcl_dataset_load: NULL argument");
    memset(ds, 0, sizeof *ds);
    rcl_dataset_options o = {0, 0};
    if (opts) o = *opts;
    if (o.per_class_limit < 0 || o.resize < 0 || o.resize > 32768)
        return rcl_fail(RCL_ERR_INVALID, "rcl_dataset_load: bad options per_class_limit=%d resize=%d",
                        o.per_class_limit, o.resize);

    char *bin = rcl_cifar_bin_dir(root);
    if (bin) {
        int st;
        if (!split || (strcmp(split, "train") != 0 && strcmp(split, "test") != 0))
            st = rcl_fail(RCL_ERR_INVALID, "%s: CIFAR-10 binary split must be \"train\" or \"test\", got \"%s\"",
                          bin, split ? split : "(null)");
        else
            st = rcl_dataset_load_cifar_bin(ds, bin, split, &o);
        free(bin);
        return st;
    }

    char *dir = (split && *split) ? rcl_path_join(root, split) : rcl_path_join(root, "");
    if (!dir) return rcl_fail(RCL_ERR_NOMEM, "rcl_dataset_load: out of memory");
    int st;
    if (rcl_is_dir(dir))
        st = rcl_dataset_load_folder(ds, dir, &o);
    else
        st = rcl_fail(RCL_ERR_NOT_FOUND,
                      "%s: no data set found: looked for CIFAR-10 binary batches "
                      "(data_batch_1.bin..data_batch_5.bin / test_batch.bin in it or in "
                      "cifar-10-batches-bin/) and for a class-folder tree %s/<class>/*.{jpg,jpeg,png}",
                      root, dir);
    free(dir);
    return st;
}
