/* rcl_dataset_load: layout detection, dispatching to the CIFAR-binary and
 * class-folder loaders (the container itself: dataset_store.c). */
#include "data/data_internal.h"

#include "rcl/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
