/* Class-folder trees as torchvision's ImageFolder: dir/<class>/<file> with
 * .jpg/.jpeg/.png files (case-insensitive); classes are the sorted
 * subfolder names (label = index), files sorted by name. */
#include "data/data_internal.h"

#include "rcl/status.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct folder_item {
    char *path;
    int label;
} folder_item;

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
           strcasecmp(dot, ".png") == 0;
}

static void free_items(folder_item *it, int n)
{
    if (!it) return;
    for (int i = 0; i < n; i++) free(it[i].path);
    free(it);
}

/* Collect (path, label) of every kept image. */
static int collect(const char *dir, char **classes, int nclasses, int limit, folder_item **out,
                   int *nout)
{
    folder_item *items = NULL;
    int n = 0, cap = 0, st = RCL_OK;
    for (int k = 0; k < nclasses && st == RCL_OK; k++) {
        char *cdir = rcl_path_join(dir, classes[k]);
        char **files = NULL;
        int nfiles = 0;
        if (!cdir) { st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", dir); break; }
        st = rcl_list_dir(cdir, 0, &files, &nfiles);
        int kept = 0;
        for (int i = 0; i < nfiles && st == RCL_OK && (limit == 0 || kept < limit); i++) {
            if (!is_image_name(files[i])) continue;
            if (n == cap) {
                int nc = cap ? cap * 2 : 1024;
                folder_item *ni = realloc(items, (size_t)nc * sizeof *ni);
                if (!ni) { st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", dir); break; }
                items = ni;
                cap = nc;
            }
            items[n].path = rcl_path_join(cdir, files[i]);
            items[n].label = k;
            if (!items[n].path) { st = rcl_fail(RCL_ERR_NOMEM, "%s: out of memory", dir); break; }
            n++;
            kept++;
        }
        rcl_free_names(files, nfiles);
        free(cdir);
    }
    if (st != RCL_OK) {
        free_items(items, n);
        return st;
    }
    *out = items;
    *nout = n;
    return RCL_OK;
}

/* Decode item i into its slot (size check or resize). */
static int decode_into(rcl_dataset *ds, const folder_item *it, int i, int resize)
{
    rcl_image img;
    RCL_TRY(rcl_image_load(it->path, &img));
    int st = RCL_OK;
    uint8_t *dst = rcl_dataset_image(ds, i);
    if (resize > 0) {
        if (img.h == resize && img.w == resize)
            memcpy(dst, img.data, rcl_dataset_image_size(ds));
        else
            st = rcl_resize_bilinear(dst, resize, resize, img.data, 3, img.h, img.w);
    } else if (img.h != ds->h || img.w != ds->w) {
        st = rcl_fail(RCL_ERR_FORMAT,
                      "%s: image is %dx%d (HxW) but the split's first image is %dx%d; "
                      "every image of a split must have one size: resize the odd ones "
                      "(e.g. with ImageMagick: mogrify -resize %dx%d! FILE) or remove them",
                      it->path, img.h, img.w, ds->h, ds->w, ds->w, ds->h);
    } else {
        memcpy(dst, img.data, rcl_dataset_image_size(ds));
    }
    rcl_image_free(&img);
    return st;
}

int rcl_dataset_load_folder(rcl_dataset *ds, const char *dir, const rcl_dataset_options *o)
{
    char **classes = NULL;
    int nclasses = 0;
    folder_item *items = NULL;
    int n = 0;
    memset(ds, 0, sizeof *ds);
    RCL_TRY(rcl_list_dir(dir, 1, &classes, &nclasses));
    int st = RCL_OK;
    if (nclasses == 0) {
        st = rcl_fail(RCL_ERR_NOT_FOUND,
                      "%s: no class subfolders (expected %s/<class>/*.{jpg,jpeg,png}) and no "
                      "CIFAR-10 binary batches",
                      dir, dir);
        goto done;
    }
    if ((st = collect(dir, classes, nclasses, o->per_class_limit, &items, &n)) != RCL_OK) goto done;
    if (n == 0) {
        st = rcl_fail(RCL_ERR_NOT_FOUND, "%s: %d class folders but no .jpg/.jpeg/.png files", dir,
                      nclasses);
        goto done;
    }

    /* An empty class folder would still take a label and shift the labels
     * of every class after it (and no longer match a checkpoint's). Items
     * are in label order. */
    for (int k = 0, i = 0; k < nclasses; k++) {
        int kept = 0;
        for (; i < n && items[i].label == k; i++) kept++;
        if (kept == 0) {
            st = rcl_fail(RCL_ERR_FORMAT,
                          "%s: class folder '%s' has no .jpg/.jpeg/.png files; add its images or "
                          "remove the folder (every folder is a class: an empty one shifts the "
                          "labels of the classes after it)",
                          dir, classes[k]);
            goto done;
        }
    }

    /* Image size from the first image unless resizing. */
    int h = o->resize, w = o->resize;
    if (o->resize == 0) {
        rcl_image first;
        if ((st = rcl_image_load(items[0].path, &first)) != RCL_OK) goto done;
        h = first.h;
        w = first.w;
        rcl_image_free(&first);
    }
    if ((st = rcl_dataset_alloc(ds, n, 3, h, w, nclasses)) != RCL_OK) goto done;
    ds->layout = RCL_LAYOUT_FOLDER;
    for (int k = 0; k < nclasses; k++) {   /* take ownership of the names */
        free(ds->class_names[k]);
        ds->class_names[k] = classes[k];
        classes[k] = NULL;
    }
    for (int i = 0; i < n && st == RCL_OK; i++) {
        ds->labels[i] = items[i].label;
        st = decode_into(ds, &items[i], i, o->resize);
    }
done:
    free_items(items, n);
    rcl_free_names(classes, nclasses);
    if (st != RCL_OK) rcl_dataset_destroy(ds);
    return st;
}
