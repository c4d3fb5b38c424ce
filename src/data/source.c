/* A batch source: a loader or a stream behind one interface
 * (include/rcl/data.h). */
#include "rcl/data.h"
#include "rcl/status.h"
#include "base/base.h"

static int check(const rcl_batch_source *s)
{
    if (!s || !s->loader == !s->stream)
        return rcl_fail(RCL_ERR_INVALID, "batch source: exactly one of loader and stream");
    return RCL_OK;
}

int rcl_source_begin_epoch_at(const rcl_batch_source *s, int epoch, int first_batch)
{
    RCL_TRY(check(s));
    return s->loader ? rcl_loader_begin_epoch_at(s->loader, epoch, first_batch)
                     : rcl_stream_begin_epoch_at(s->stream, epoch, first_batch);
}

int rcl_source_next(const rcl_batch_source *s, float *images, int *labels, int *count)
{
    RCL_TRY(check(s));
    return s->loader ? rcl_loader_next(s->loader, images, labels, count)
                     : rcl_stream_next(s->stream, images, labels, count);
}

int rcl_source_num_batches(const rcl_batch_source *s)
{
    if (check(s)) return 0;
    return s->loader ? rcl_loader_num_batches(s->loader) : rcl_stream_num_batches(s->stream);
}
