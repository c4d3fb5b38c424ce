/* libFuzzer target: the safetensors reader (src/io/safetensors_read.c:
 * header length, JSON header, dtypes, shapes, offsets, metadata) through its
 * real entry point rcl_st_open on a per-process temporary file, every
 * accessor on what it accepts, and the checkpoint metadata reader
 * (rcl_checkpoint_info_read: arch, classes, input size, norm and init) on
 * the same file. */
#include "fuzz_util.h"
#include "rcl/checkpoint.h"
#include "rcl/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("in.safetensors", data, size);
    rcl_st_file f;
    if (rcl_st_open(&f, path) == 0) {
        for (size_t i = 0; i < f.n_tensors; i++) {
            const rcl_st_tensor *t = rcl_st_tensor_at(&f, i);
            if (!t || rcl_st_find(&f, t->name) != t) abort(); /* names are unique */
            if (t->nbytes != t->numel * rcl_st_dtype_size(t->dtype)) abort();
            if (t->offset + t->nbytes > f.data_bytes) abort(); /* inside the data */
            void *dst = malloc(t->nbytes ? t->nbytes : 1);
            if (dst) {
                if (rcl_st_read(&f, t->name, t->dtype, dst, t->numel)) abort();
                free(dst);
            }
        }
        (void)rcl_st_tensor_at(&f, f.n_tensors);
        (void)rcl_st_metadata(&f, "arch");
        (void)rcl_st_find(&f, "fc.weight");
        rcl_st_close(&f);
    }
    rcl_checkpoint_info info = {0};
    (void)rcl_checkpoint_info_read(path, &info);
    free(info.class_names);
    return 0;
}
