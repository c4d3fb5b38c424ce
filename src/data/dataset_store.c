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
