/* Device time per profiling tag ("bn", "conv_fwd_gemm", ...) from the
 * OpenCL events of a context created with `profiling` (rcl/runtime.h).
 * Caller-owned, zero-initialised:
 *
 *   rcl_prof p = {0};
 *   rcl_prof_attach(ctx, &p);   ... enqueue work ...; rcl_ctx_finish(ctx);
 *   rcl_prof_drain(&p, 1);      p.names[k] / p.ms[k], or rcl_prof_ms(&p, "bn")
 *   rcl_prof_detach(ctx);  rcl_prof_free(&p);
 *
 * Used by `resnet-cl bench` and by resnet-cl-tune's kernel phase. */
#ifndef RCL_PROFILE_H
#define RCL_PROFILE_H

#include "rcl/runtime.h"

#define RCL_PROF_MAX_TAGS 32

typedef struct rcl_prof {
    cl_event *evs;          /* retained, not yet drained */
    const char **ev_tags;
    int n, cap;
    const char *names[RCL_PROF_MAX_TAGS]; /* tags in order of first appearance */
    double ms[RCL_PROF_MAX_TAGS];         /* accumulated device milliseconds */
    int ntags;
} rcl_prof;

/* Collect every event of ctx into p (replaces ctx's profiler). */
void rcl_prof_attach(rcl_ctx *ctx, rcl_prof *p);
void rcl_prof_detach(rcl_ctx *ctx);
/* After the queue has finished: add each collected event's device time to
 * its tag's total (only if `keep`), then release the events. */
void rcl_prof_drain(rcl_prof *p, int keep);
/* Accumulated milliseconds of `tag` (0 if never seen). */
double rcl_prof_ms(const rcl_prof *p, const char *tag);
/* Zero the totals (tags are forgotten too). */
void rcl_prof_reset(rcl_prof *p);
/* Release pending events and storage. */
void rcl_prof_free(rcl_prof *p);

#endif
