/* Per-tag device time from profiling events (see rcl/profile.h). */
#include "rcl/profile.h"

#include <stdlib.h>
#include <string.h>

static void on_event(void *user, const char *tag, cl_event ev)
{
    rcl_prof *p = user;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 4096;
        cl_event *e = realloc(p->evs, (size_t)cap * sizeof *e);
        if (e) p->evs = e;
        const char **t = realloc(p->ev_tags, (size_t)cap * sizeof *t);
        if (t) p->ev_tags = t;
        if (!e || !t) return; /* out of memory: this event is not counted */
        p->cap = cap;
    }
    clRetainEvent(ev);
    p->evs[p->n] = ev;
    p->ev_tags[p->n++] = tag;
}

void rcl_prof_attach(rcl_ctx *ctx, rcl_prof *p) { rcl_ctx_set_profiler(ctx, on_event, p); }

void rcl_prof_detach(rcl_ctx *ctx) { rcl_ctx_set_profiler(ctx, NULL, NULL); }

void rcl_prof_drain(rcl_prof *p, int keep)
{
    for (int i = 0; i < p->n; i++) {
        cl_ulong t0 = 0, t1 = 0;
        if (keep &&
            clGetEventProfilingInfo(p->evs[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) ==
                CL_SUCCESS &&
            clGetEventProfilingInfo(p->evs[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) ==
                CL_SUCCESS) {
            int k = 0;
            while (k < p->ntags && strcmp(p->names[k], p->ev_tags[i])) k++;
            if (k == p->ntags && p->ntags < RCL_PROF_MAX_TAGS) p->names[p->ntags++] = p->ev_tags[i];
            if (k < RCL_PROF_MAX_TAGS) p->ms[k] += (double)(t1 - t0) * 1e-6;
        }
        clReleaseEvent(p->evs[i]);
    }
    p->n = 0;
}

double rcl_prof_ms(const rcl_prof *p, const char *tag)
{
    for (int k = 0; k < p->ntags; k++)
        if (!strcmp(p->names[k], tag)) return p->ms[k];
    return 0;
}

void rcl_prof_reset(rcl_prof *p)
{
    memset(p->ms, 0, sizeof p->ms);
    p->ntags = 0;
}

void rcl_prof_free(rcl_prof *p)
{
    rcl_prof_drain(p, 0);
    free(p->evs);
    free(p->ev_tags);
    p->evs = NULL, p->ev_tags = NULL, p->cap = 0;
}
