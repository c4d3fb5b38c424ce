/* Training / evaluation steps and the LR schedule. */
#include "runtime/internal.h"
#include "rcl/ops.h"
#include "rcl/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rcl_batch_init(rcl_batch *b, rcl_model *m)
{
    memset(b, 0, sizeof *b);
    const rcl_model_config *c = rcl_model_get_config(m);
    rcl_ctx *ctx = rcl_model_ctx(m);
    RCL_TRY(rcl_tensor_create(ctx, &b->x, c->batch, c->in_channels, c->in_h, c->in_w));
    RCL_TRY(rcl_buffer_create(ctx, &b->labels, (size_t)c->batch * sizeof(cl_int)));
    RCL_TRY(rcl_tensor_create(ctx, &b->dlogits, c->batch, c->num_classes, 1, 1));
    RCL_TRY(rcl_tensor_create(ctx, &b->loss, 1, 1, 1, 1));
    RCL_TRY(rcl_buffer_create(ctx, &b->correct, sizeof(cl_int)));
    b->host_x = malloc(rcl_tensor_bytes(&b->x));
    b->host_labels = malloc((size_t)c->batch * sizeof(int));
    if (!b->host_x || !b->host_labels) return rcl_fail(RCL_ERR_NOMEM, "batch buffers");
    return RCL_OK;
}

void rcl_batch_free(rcl_batch *b)
{
    rcl_tensor_destroy(&b->x);
    rcl_buffer_release(&b->labels);
    rcl_tensor_destroy(&b->dlogits);
    rcl_tensor_destroy(&b->loss);
    rcl_buffer_release(&b->correct);
    free(b->host_x);
    free(b->host_labels);
    memset(b, 0, sizeof *b);
}

int rcl_batch_upload(rcl_batch *b, rcl_ctx *ctx, int n)
{
    if (n < 1 || n > b->x.n) return rcl_fail(RCL_ERR_INVALID, "batch of %d (max %d)", n, b->x.n);
    rcl_tensor x = b->x;
    x.n = n;
    RCL_TRY(rcl_tensor_write(ctx, &x, b->host_x));
    return rcl_buffer_write(ctx, b->labels, (size_t)n * sizeof(int), b->host_labels);
}

static int loss_step(rcl_model *m, rcl_batch *b, int n, int train, rcl_step_result *r)
{
    rcl_ctx *ctx = rcl_model_ctx(m);
    rcl_tensor x = b->x, dl = b->dlogits;
    x.n = n;
    dl.n = n;
    const rcl_tensor *logits;
    RCL_TRY(rcl_model_forward(m, &x, train, &logits));
    RCL_TRY(rcl_softmax_xent(ctx, &b->loss, train ? &dl : NULL, b->correct, logits, b->labels));
    cl_int correct = 0;
    RCL_TRY(rcl_tensor_read(ctx, &b->loss, &r->loss));
    RCL_TRY(rcl_buffer_read(ctx, b->correct, sizeof correct, &correct));
    r->correct = correct;
    r->n = n;
    if (!isfinite(r->loss)) return rcl_fail(RCL_ERR_NAN, "loss is %f", (double)r->loss);
    return RCL_OK;
}

int rcl_train_step(rcl_model *m, rcl_optimizer *opt, rcl_batch *b, int n, rcl_step_result *r)
{
    RCL_TRY(loss_step(m, b, n, 1, r));
    rcl_tensor dl = b->dlogits;
    dl.n = n;
    RCL_TRY(rcl_model_backward(m, &dl));
    return rcl_optimizer_step(opt);
}

int rcl_train_forward_backward(rcl_model *m, rcl_batch *b, int n, rcl_step_result *r)
{
    RCL_TRY(loss_step(m, b, n, 1, r));
    rcl_tensor dl = b->dlogits;
    dl.n = n;
    return rcl_model_backward(m, &dl);
}

int rcl_grad_accum_init(rcl_grad_accum *a, rcl_model *m)
{
    memset(a, 0, sizeof *a);
    a->m = m;
    rcl_param **ps;
    a->nparams = rcl_model_params(m, &ps);
    a->offset = calloc((size_t)a->nparams + 1, sizeof *a->offset);
    if (!a->offset) return rcl_fail(RCL_ERR_NOMEM, "gradient accumulation offsets");
    size_t most = 1;
    for (int i = 0; i < a->nparams; i++) {
        size_t c = rcl_tensor_count(&ps[i]->grad);
        a->offset[i + 1] = a->offset[i] + c;
        if (c > most) most = c;
    }
    a->count = a->offset[a->nparams];
    a->host = malloc((a->count ? a->count : 1) * sizeof(float));
    a->tmp = malloc(most * sizeof(float));
    if (!a->host || !a->tmp) {
        rcl_grad_accum_free(a);
        return rcl_fail(RCL_ERR_NOMEM, "gradient accumulation buffer (%zu floats)", a->count);
    }
    return RCL_OK;
}

void rcl_grad_accum_free(rcl_grad_accum *a)
{
    free(a->host);
    free(a->tmp);
    free(a->offset);
    memset(a, 0, sizeof *a);
}

int rcl_grad_accum_add(rcl_grad_accum *a, int lo, int hi, float weight, int first)
{
    if (lo < 0 || hi > a->nparams || lo > hi)
        return rcl_fail(RCL_ERR_INVALID, "gradient range %d..%d of %d parameters", lo, hi, a->nparams);
    rcl_ctx *ctx = rcl_model_ctx(a->m);
    rcl_param **ps;
    rcl_model_params(a->m, &ps);
    for (int i = lo; i < hi; i++) {
        float *dst = a->host + a->offset[i];
        size_t c = a->offset[i + 1] - a->offset[i];
        if (first && weight == 1.0f) {
            RCL_TRY(rcl_tensor_read(ctx, &ps[i]->grad, dst));
            continue;
        }
        RCL_TRY(rcl_tensor_read(ctx, &ps[i]->grad, a->tmp));
        if (first)
            for (size_t k = 0; k < c; k++) dst[k] = weight * a->tmp[k];
        else
            for (size_t k = 0; k < c; k++) dst[k] += weight * a->tmp[k];
    }
    return RCL_OK;
}

int rcl_grad_accum_store(rcl_grad_accum *a)
{
    rcl_ctx *ctx = rcl_model_ctx(a->m);
    rcl_param **ps;
    rcl_model_params(a->m, &ps);
    for (int i = 0; i < a->nparams; i++)
        RCL_TRY(rcl_tensor_write(ctx, &ps[i]->grad, a->host + a->offset[i]));
    return RCL_OK;
}

int rcl_eval_step(rcl_model *m, rcl_batch *b, int n, rcl_step_result *r)
{
    return loss_step(m, b, n, 0, r);
}

int rcl_evaluate(rcl_model *m, rcl_batch *b, rcl_loader *ld, double *mean_loss, int *correct,
                 int *total)
{
    rcl_ctx *ctx = rcl_model_ctx(m);
    double loss_sum = 0;
    int corr = 0, tot = 0, n = 0;
    RCL_TRY(rcl_loader_begin_epoch(ld, 0));
    for (;;) {
        RCL_TRY(rcl_loader_next(ld, b->host_x, b->host_labels, &n));
        if (n == 0) break;
        RCL_TRY(rcl_batch_upload(b, ctx, n));
        rcl_step_result r;
        RCL_TRY(rcl_eval_step(m, b, n, &r));
        loss_sum += (double)r.loss * n;
        corr += r.correct;
        tot += n;
    }
    *mean_loss = tot ? loss_sum / tot : 0;
    *correct = corr;
    *total = tot;
    return RCL_OK;
}

float rcl_lr_at(const rcl_lr_schedule *s, int epoch)
{
    float lr = s->lr0;
    for (int e = 1; e <= epoch; e++) {
        int hit = 0;
        if (s->nmilestones) {
            for (int i = 0; i < s->nmilestones; i++) hit |= s->milestones[i] == e;
        } else if (s->step_size > 0) {
            hit = e % s->step_size == 0;
        }
        if (hit) lr /= s->factor;
    }
    return lr;
}

int rcl_crop_average(const float *logits, int n, int crops, int classes, const int *labels,
                     float *probs, rcl_topk_counts *r)
{
    if (!logits || !labels || !r || n < 0 || crops < 1 || classes < 1)
        return rcl_fail(RCL_ERR_INVALID, "rcl_crop_average: bad arguments");
    double *p = malloc(sizeof(double) * (size_t)classes);
    if (!p) return rcl_fail(RCL_ERR_NOMEM, "rcl_crop_average: out of memory");
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < classes; k++) p[k] = 0;
        for (int c = 0; c < crops; c++) {   /* softmax of crop c, in double */
            const float *z = logits + ((size_t)i * crops + c) * classes;
            double zmax = z[0], sum = 0;
            for (int k = 1; k < classes; k++) zmax = z[k] > zmax ? z[k] : zmax;
            for (int k = 0; k < classes; k++) sum += exp((double)z[k] - zmax);
            for (int k = 0; k < classes; k++) p[k] += exp((double)z[k] - zmax) / sum;
        }
        for (int k = 0; k < classes; k++) p[k] /= crops;
        int y = labels[i];
        if (y < 0 || y >= classes) {
            free(p);
            return rcl_fail(RCL_ERR_INVALID, "rcl_crop_average: label %d not in 0..%d", y,
                            classes - 1);
        }
        int rank = 0;   /* classes ranked above the label (ties: the lower class first) */
        for (int k = 0; k < classes; k++) rank += p[k] > p[y] || (p[k] == p[y] && k < y);
        r->images++;
        r->top1 += rank == 0;
        r->top5 += rank < 5;
        r->nll += -log(p[y] > 1e-300 ? p[y] : 1e-300);
        if (probs)
            for (int k = 0; k < classes; k++) probs[(size_t)i * classes + k] = (float)p[k];
    }
    free(p);
    return RCL_OK;
}

int rcl_evaluate_stream(rcl_model *m, rcl_batch *b, rcl_stream *s, int crops, rcl_topk_counts *r,
                        rcl_probs_hook hook, void *user)
{
    if (!m || !b || !s || !r || crops < 1)
        return rcl_fail(RCL_ERR_INVALID, "rcl_evaluate_stream: bad arguments");
    memset(r, 0, sizeof *r);
    const rcl_model_config *c = rcl_model_get_config(m);
    rcl_stream_options so;
    rcl_stream_get_options(s, &so);
    int ncrops = so.ten_crop ? 10 : 1;
    if (ncrops != crops || so.batch_size * crops > c->batch || so.crop != c->in_h ||
        so.crop != c->in_w || c->in_channels != 3)
        return rcl_fail(RCL_ERR_INVALID,
                        "rcl_evaluate_stream: a stream of %d crop%s of %dx%d x %d images does not "
                        "fit a model of batch %d, input %dx%dx%d (%d crops an image asked)",
                        ncrops, ncrops == 1 ? "" : "s", so.crop, so.crop, so.batch_size, c->batch,
                        c->in_channels, c->in_h, c->in_w, crops);
    rcl_ctx *ctx = rcl_model_ctx(m);
    int classes = c->num_classes;
    float *logits = malloc(sizeof(float) * (size_t)c->batch * classes);
    float *probs = malloc(sizeof(float) * (size_t)so.batch_size * classes);
    if (!logits || !probs) {
        free(logits);
        free(probs);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_evaluate_stream: out of memory");
    }
    int st = rcl_stream_begin_epoch(s, 0);
    for (int n = 0; st == RCL_OK;) {
        if ((st = rcl_stream_next(s, b->host_x, b->host_labels, &n)) != RCL_OK || n == 0) break;
        rcl_tensor x = b->x;
        x.n = n * crops;
        const rcl_tensor *out = NULL;
        if ((st = rcl_tensor_write(ctx, &x, b->host_x)) != RCL_OK) break;
        if ((st = rcl_model_forward(m, &x, 0, &out)) != RCL_OK) break;
        rcl_tensor lt = *out;
        lt.n = n * crops;
        if ((st = rcl_tensor_read(ctx, &lt, logits)) != RCL_OK) break;
        st = rcl_crop_average(logits, n, crops, classes, b->host_labels, probs, r);
        if (st == RCL_OK && hook) hook(user, probs, b->host_labels, n, classes);
    }
    free(logits);
    free(probs);
    return st;
}
