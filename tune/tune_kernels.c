/* The TRIAL_KERNELS child of the tuner: times whole training steps of a
 * model under different values of the non-GEMM kernel parameters
 * (TUNE_KPARAMS) and reports the device time per profiling tag.
 *
 * Every candidate is checked against the defaults first: the optimizer runs
 * with lr 0, so each step computes the same loss and gradients from the
 * same weights, and a candidate whose loss or gradient sum of squares
 * differs by more than 1e-4 (relative) from the defaults' is rejected. */
#include "tune_space.h"
#include "tune_trial.h"

#include "rcl/profile.h"
#include "rcl/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the first n kernel parameters (the job's nparams) from v */
static void set_point(rcl_ctx *ctx, const int *v, int n)
{
    for (int k = 0; k < n && k < TUNE_NKPARAMS; k++)
        if (v[k] != TUNE_KP_DEVICE) /* else as rcl_ctx_create set it for this device */
            rcl_ctx_set_param(ctx, TUNE_KPARAMS[k].key, TUNE_KPARAMS[k].param, v[k]);
}

/* one training step; *loss and *gsq (sum of squares of every gradient) */
static int step(rcl_model *m, rcl_optimizer *opt, rcl_batch *b, int n, double *loss, double *gsq,
                float *host)
{
    rcl_step_result r;
    int st = rcl_train_step(m, opt, b, n, &r);
    if (st == RCL_OK) st = rcl_ctx_finish(rcl_model_ctx(m));
    if (st != RCL_OK) return st;
    *loss = r.loss;
    if (!gsq) return RCL_OK;
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    double s = 0;
    for (int i = 0; i < np; i++) {
        size_t cnt = rcl_tensor_count(&ps[i]->grad);
        RCL_TRY(rcl_tensor_read(rcl_model_ctx(m), &ps[i]->grad, host));
        for (size_t j = 0; j < cnt; j++) s += (double)host[j] * host[j];
    }
    *gsq = s;
    return RCL_OK;
}

static int close_to(double a, double b) { return isfinite(a) && fabs(a - b) <= 1e-4 * fabs(b) + 1e-30; }

void trial_kernels_child(const trial_job *job, int start, int fd)
{
    trial_quiet_stderr();
    const trial_model *tm = job->model;
    char line[4096];
    rcl_ctx *ctx = NULL;
    rcl_ctx_options co = {.profiling = 1};
    if (rcl_ctx_create(&ctx, job->device, &co) != RCL_OK) {
        snprintf(line, sizeof line, "E cannot open device %d: %s\n", job->device, rcl_last_error());
        trial_say(fd, line);
        _exit(1);
    }
    for (int i = 0; i < tm->nbase; i++)
        rcl_ctx_set_param(ctx, tm->base[i].key, tm->base[i].param, tm->base[i].value);
    rcl_model_config mc = rcl_model_config_default();
    mc.batch = tm->batch;
    mc.norm = tm->norm;
    mc.in_h = mc.in_w = tm->hw;
    mc.num_classes = tm->classes;
    rcl_model *m = NULL;
    rcl_batch b = {0};
    rcl_optimizer opt;
    int st = rcl_model_create(&m, ctx, tm->arch, &mc);
    if (st == RCL_OK) st = rcl_batch_init(&b, m);
    if (st == RCL_OK) st = rcl_optimizer_init(&opt, m, RCL_OPTIM_ADAM, NULL, NULL);
    size_t maxp = 0;
    rcl_param **ps;
    int np = st == RCL_OK ? rcl_model_params(m, &ps) : 0;
    for (int i = 0; i < np; i++)
        if (rcl_tensor_count(&ps[i]->grad) > maxp) maxp = rcl_tensor_count(&ps[i]->grad);
    float *host = malloc((maxp ? maxp : 1) * sizeof *host);
    if (st == RCL_OK && host) {
        rcl_optimizer_set_lr(&opt, 0.0f); /* every step: same weights, same answer */
        size_t nx = rcl_tensor_count(&b.x);
        for (size_t i = 0; i < nx; i++) b.host_x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
        for (int i = 0; i < tm->batch; i++) b.host_labels[i] = i % tm->classes;
        st = rcl_batch_upload(&b, ctx, tm->batch);
    }
    /* reference: point 0 (the defaults) */
    double ref_loss = 0, ref_gsq = 0;
    if (st == RCL_OK && host) {
        set_point(ctx, job->points, job->nparams);
        st = step(m, &opt, &b, tm->batch, &ref_loss, &ref_gsq, host);
    }
    if (st != RCL_OK || !host || !isfinite(ref_loss)) {
        snprintf(line, sizeof line, "E %s training step: %s\n", tm->arch, rcl_last_error());
        trial_say(fd, line);
        _exit(1);
    }
    rcl_prof prof = {0};
    rcl_prof_attach(ctx, &prof);
    for (int i = start; i < job->npoints; i++) {
        snprintf(line, sizeof line, "S %d\n", i);
        trial_say(fd, line);
        set_point(ctx, job->points + (size_t)i * job->nparams, job->nparams);
        double loss = 0, gsq = 0;
        int status = TRIAL_OK;
        /* first step: compiles what changed; its answer must be the defaults' */
        st = step(m, &opt, &b, tm->batch, &loss, &gsq, host);
        rcl_prof_drain(&prof, 0);
        if (st != RCL_OK) status = TRIAL_ERROR;
        else if (!close_to(loss, ref_loss) || !close_to(gsq, ref_gsq)) status = TRIAL_WRONG;
        for (int w = 1; w < job->warm && status == TRIAL_OK; w++) {
            if (step(m, &opt, &b, tm->batch, &loss, NULL, host) != RCL_OK) status = TRIAL_ERROR;
            rcl_prof_drain(&prof, 0);
        }
        rcl_prof_reset(&prof);
        for (int r = 0; r < job->reps && status == TRIAL_OK; r++) {
            if (step(m, &opt, &b, tm->batch, &loss, NULL, host) != RCL_OK) status = TRIAL_ERROR;
            rcl_prof_drain(&prof, 1);
        }
        /* device seconds per step of each reported tag */
        size_t len = (size_t)snprintf(line, sizeof line, "R %d %d", i, status);
        for (int t = 0; t < job->nshapes && status == TRIAL_OK; t++)
            len += (size_t)snprintf(line + len, sizeof line - len, " %.9g",
                                    rcl_prof_ms(&prof, tm->tags[t]) * 1e-3 / job->reps);
        snprintf(line + len, sizeof line - len, "\n");
        trial_say(fd, line);
    }
    rcl_prof_detach(ctx);
    rcl_prof_free(&prof);
    _exit(0);
}
