/* libFuzzer target: the CIFAR-10 binary batch reader (src/data/
 * data_cifar_bin.c). The input is, in turn:
 *  - a batch in memory: rcl_cifar_bin_check (whole records, labels 0..9),
 *    then rcl_cifar_bin_append with a per-class limit from the input, and a
 *    resize of the first image (as --resize does);
 *  - a batches.meta.txt: rcl_cifar_bin_parse_names;
 *  - test_batch.bin (and batches.meta.txt) of a dataset directory, through
 *    the real entry point rcl_dataset_load (which stats the exact size first). */
#include "fuzz_util.h"
#include "data/data_internal.h"

#define REC (1 + 3 * 32 * 32)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (rcl_cifar_bin_check(data, size, 0, "fuzz") == 0) {
        size_t records = size / REC;
        rcl_dataset ds = {0};
        ds.pixels = malloc(records * 3 * 32 * 32 + 1);
        ds.labels = malloc(records * sizeof(int32_t) + 1);
        int per_class[10] = {0};
        if (ds.pixels && ds.labels) {
            int limit = size ? data[size - 1] % 4 : 0;
            rcl_cifar_bin_append(&ds, data, records, per_class, limit);
            if ((size_t)ds.n > records) abort();
            for (int i = 0; i < ds.n; i++)
                if (ds.labels[i] < 0 || ds.labels[i] > 9) abort();
            if (ds.n > 0) {
                int side = 1 + data[1] % 64;
                uint8_t *out = malloc((size_t)3 * side * side);
                if (out && rcl_resize_bilinear(out, side, side, ds.pixels, 3, 32, 32)) abort();
                free(out);
            }
        }
        free(ds.pixels);
        free(ds.labels);
    }
    char *names[10] = {0};
    (void)rcl_cifar_bin_parse_names(names, 10, data, size, "fuzz");
    for (int i = 0; i < 10; i++) free(names[i]);

    fuzz_write("batches.meta.txt", data, size);
    fuzz_write("test_batch.bin", data, size);
    rcl_dataset ds;
    rcl_dataset_options o = {.per_class_limit = 1};
    if (rcl_dataset_load(&ds, fuzz_tmpdir(), "test", &o) == 0) rcl_dataset_destroy(&ds);
    return 0;
}
