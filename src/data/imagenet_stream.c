/* The streaming loader (rcl_stream): a pool of worker threads reads,
 * decodes and augments the samples of the next batches while the caller
 * trains on the current one.
 *
 * Work is handed out one sample at a time, in epoch order, into a ring of
 * `prefetch` batch slots: batch b lives in slot b % nslots, and a worker may
 * claim a sample of batch b only while b < next_take + nslots (the slot has
 * been consumed). Each sample writes only its own place in its slot, and
 * its random choices come from a stream keyed by (seed, epoch, position in
 * the epoch), so the batches do not depend on the number of workers or on
 * their timing. A slot is READY when all its samples are done; the
 * consumer copies the good ones out (a file that failed is left out and
 * named in the skipped list, in epoch order) and frees it.
 *
 * begin_epoch waits until no worker holds a sample (busy == 0), then
 * resets the ring. */
#include "data/data_internal.h"

#include "base/base.h"
#include "rcl/status.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_TAKING };
#define MSG_LEN 512

typedef struct stream_slot {
    float *x;
    int *y;
    char *msg;        /* batch x MSG_LEN: why sample k failed ("" if it did not) */
    int *status;      /* batch: the failure's status, 0 if none */
    int count, done, state;
} stream_slot;

struct rcl_stream {
    const rcl_file_index *ix;
    rcl_stream_options o;
    float *mean;            /* 3 x crop x crop, or NULL */
    float lut[256];         /* v / 255.0f, as the evaluation crops compute it */
    int *perm;
    int nbatches, nslots;
    size_t sample;          /* crops * crop_sample: one sample's floats */
    size_t crop_sample;     /* 3 * crop * crop */
    stream_slot *slots;
    pthread_t *threads;
    int nthreads;
    uint8_t *crop_bufs;     /* threads x crop_sample: each worker's uint8 crop */
    int workers_started;

    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    int quit, active, epoch, busy;
    int claim_b, claim_k, next_take;
    int failed;             /* strict: the epoch stopped at a bad file */
    char fail_msg[MSG_LEN];
    int fail_status;
    char **skipped;
    int nskipped, capskipped;
    rcl_stream_stats stats;
};

/* ---- random streams (as loader.c: splitmix64, keyed by seed/epoch/pos) */

typedef struct sm64 { uint64_t s; } sm64;
static uint64_t sm_next(sm64 *r) { return rcl_splitmix64_next(&r->s); }
static uint32_t sm_below(sm64 *r, uint32_t n)   /* [0, n), Lemire */
{
    uint64_t m = (sm_next(r) >> 32) * (uint64_t)n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (sm_next(r) >> 32) * (uint64_t)n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
static double sm_unit(sm64 *r) { return (double)(sm_next(r) >> 11) * 0x1.0p-53; }   /* [0, 1) */
static double sm_normal(sm64 *r)   /* Box-Muller */
{
    double u = 1.0 - sm_unit(r), v = sm_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
static sm64 stream_rng(uint64_t seed, int epoch, uint64_t which)
{
    sm64 r = {rcl_splitmix64_mix(rcl_splitmix64_mix(seed ^ 0x1a9e1a9e1a9e1a9eULL) +
                                 rcl_splitmix64_mix((uint64_t)epoch + 0x200000000ULL) +
                                 rcl_splitmix64_mix(which ^ 0x5a5a5a5a5a5a5a5aULL))};
    return r;
}

/* ---- one sample (worker, no lock held) */

typedef struct stage_times { double read, decode, resize, augment; } stage_times;

/* One crop (uint8 planes) into the model's input: [flipped,] x/255 +
 * the lighting shift, minus the mean image, divided by std. */
static void to_input(const rcl_stream *s, float *dst, const uint8_t *crop_u8, int flip,
                     const float shift[3])
{
    int crop = s->o.crop;
    size_t plane = (size_t)crop * crop;
    float inv_std[3];
    for (int c = 0; c < 3; c++) inv_std[c] = s->o.std[c] > 0 ? 1.0f / s->o.std[c] : 1.0f;
    for (int c = 0; c < 3; c++) {
        const uint8_t *src = crop_u8 + c * plane;
        float *d = dst + c * plane;
        const float *m = s->mean ? s->mean + c * plane : NULL;
        for (int y = 0; y < crop; y++) {
            const uint8_t *row = src + (size_t)y * crop;
            float *dr = d + (size_t)y * crop;
            const float *mr = m ? m + (size_t)y * crop : NULL;
            for (int x = 0; x < crop; x++) {
                float v = s->lut[row[flip ? crop - 1 - x : x]] + shift[c];
                dr[x] = (mr ? v - mr[x] : v) * inv_std[c];
            }
        }
    }
}

static int prepare(const rcl_stream *s, int idx, int epoch, int pos, float *dst, uint8_t *crop_u8,
                   stage_times *t)
{
    const rcl_stream_options *o = &s->o;
    int crop = o->crop;
    /* every random draw first, in a fixed order: the sample's choices do not
     * depend on the file (or on whether it decodes) */
    sm64 r = stream_rng(o->seed, epoch, 1 + (uint64_t)pos);
    int S = o->resize;
    uint32_t u_top = 0, u_left = 0;
    int flip = 0;
    float alpha[3] = {0, 0, 0};
    if (o->train) {
        S = o->scale_min + (int)sm_below(&r, (uint32_t)(o->scale_max - o->scale_min + 1));
        u_top = (uint32_t)(sm_next(&r) >> 32);
        u_left = (uint32_t)(sm_next(&r) >> 32);
        flip = (int)(sm_next(&r) >> 63);
        for (int k = 0; k < 3; k++) alpha[k] = (float)(o->lighting * sm_normal(&r));
    }
    double t0 = rcl_now_s();
    char *path = rcl_path_join(s->ix->dir, s->ix->paths[idx]);
    if (!path) return rcl_fail(RCL_ERR_NOMEM, "out of memory");
    uint8_t *buf = NULL, *hwc = NULL;
    size_t len = 0;
    int h = 0, w = 0;
    int st = rcl_read_file(path, &buf, &len);
    double t1 = rcl_now_s();
    if (st == RCL_OK)
        st = rcl_image_decode_hwc(buf, len, path, o->full_decode ? 0 : S, &hwc, &h, &w);
    free(buf);
    free(path);
    double t2 = rcl_now_s();
    t->read += t1 - t0;
    t->decode += t2 - t1;
    if (st != RCL_OK) return st;
    int rh, rw;
    rcl_resize_short_dims(h, w, S, &rh, &rw);
    float shift[3] = {0, 0, 0};
    if (o->train && o->lighting > 0) rcl_pca_shift(alpha, shift);
    if (o->ten_crop) {   /* TenCrop: the five windows, then the five of the flip */
        int tops[5] = {0, 0, rh - crop, rh - crop, rcl_center_offset(rh, crop)};
        int lefts[5] = {0, rw - crop, 0, rw - crop, rcl_center_offset(rw, crop)};
        double tr = 0, ta = 0;
        for (int k = 0; k < 10 && st == RCL_OK; k++) {
            /* window (top, left) of the flipped image = the mirror of the
             * window (top, rw - left - crop) of the image */
            int f = k >= 5, left = f ? rw - lefts[k - 5] - crop : lefts[k];
            double a = rcl_now_s();
            st = rcl_resize_crop_hwc(crop_u8, crop, crop, tops[k % 5], left, rh, rw, hwc, h, w);
            double b = rcl_now_s();
            if (st == RCL_OK) to_input(s, dst + (size_t)k * s->crop_sample, crop_u8, f, shift);
            tr += b - a;
            ta += rcl_now_s() - b;
        }
        free(hwc);
        t->resize += tr;
        t->augment += ta;
        return st;
    }
    int top, left;
    if (o->train) {   /* uniform offsets in [0, side - crop] */
        top = (int)(((uint64_t)u_top * (uint64_t)(rh - crop + 1)) >> 32);
        left = (int)(((uint64_t)u_left * (uint64_t)(rw - crop + 1)) >> 32);
    } else {
        top = rcl_center_offset(rh, crop);
        left = rcl_center_offset(rw, crop);
    }
    st = rcl_resize_crop_hwc(crop_u8, crop, crop, top, left, rh, rw, hwc, h, w);
    free(hwc);
    double t3 = rcl_now_s();
    t->resize += t3 - t2;
    if (st != RCL_OK) return st;
    to_input(s, dst, crop_u8, flip, shift);
    t->augment += rcl_now_s() - t3;
    return RCL_OK;
}

static void *worker(void *arg)
{
    rcl_stream *s = arg;
    pthread_mutex_lock(&s->mu);
    uint8_t *crop_u8 = s->crop_bufs + (size_t)s->workers_started++ * s->crop_sample;
    for (;;) {
        while (!s->quit &&
               !(s->active && s->claim_b < s->nbatches &&
                 s->claim_b < s->next_take + s->nslots))
            pthread_cond_wait(&s->cv_work, &s->mu);
        if (s->quit) break;
        int b = s->claim_b, k = s->claim_k, epoch = s->epoch;
        stream_slot *sl = &s->slots[b % s->nslots];
        if (k == 0) {   /* first claim of this batch: set the slot up */
            int first = b * s->o.batch_size, n = s->ix->n;
            sl->count = n - first < s->o.batch_size ? n - first : s->o.batch_size;
            sl->done = 0;
            sl->state = SLOT_FILLING;
        }
        if (++s->claim_k == sl->count) {
            s->claim_b++;
            s->claim_k = 0;
        }
        s->busy++;
        pthread_mutex_unlock(&s->mu);

        int pos = b * s->o.batch_size + k, idx = s->perm[pos];
        stage_times t = {0, 0, 0, 0};
        int st = prepare(s, idx, epoch, pos, sl->x + (size_t)k * s->sample, crop_u8, &t);
        sl->y[k] = s->ix->labels[idx];
        sl->status[k] = st;
        if (st != RCL_OK) snprintf(sl->msg + (size_t)k * MSG_LEN, MSG_LEN, "%s", rcl_last_error());

        pthread_mutex_lock(&s->mu);
        s->stats.images++;
        s->stats.read_s += t.read;
        s->stats.decode_s += t.decode;
        s->stats.resize_s += t.resize;
        s->stats.augment_s += t.augment;
        s->busy--;
        if (++sl->done == sl->count) sl->state = SLOT_READY;
        pthread_cond_broadcast(&s->cv_done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- public API */

static void stream_free(rcl_stream *s)
{
    if (s->slots)
        for (int i = 0; i < s->nslots; i++) {
            free(s->slots[i].x);
            free(s->slots[i].y);
            free(s->slots[i].msg);
            free(s->slots[i].status);
        }
    free(s->slots);
    free(s->perm);
    free(s->mean);
    free(s->threads);
    free(s->crop_bufs);
    rcl_free_names(s->skipped, s->nskipped);
    free(s);
}

static void stop_threads(rcl_stream *s, int started)
{
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < started; i++) pthread_join(s->threads[i], NULL);
}

int rcl_stream_create(rcl_stream **out, const rcl_file_index *ix, const rcl_stream_options *opt)
{
    if (!out || !ix || !opt) return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: NULL argument");
    *out = NULL;
    if (ix->n <= 0 || !ix->paths || !ix->labels || !ix->dir)
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: empty index");
    rcl_stream_options o = *opt;
    if (o.threads == 0) o.threads = 1;
    if (o.prefetch == 0) o.prefetch = 3;   /* the workers share a batch: 3 slots keep them busy */
    if (o.crop == 0) o.crop = 224;
    if (o.scale_min == 0) o.scale_min = 256;
    if (o.scale_max == 0) o.scale_max = 480;
    if (o.resize == 0) o.resize = 256;
    if (o.batch_size <= 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: batch_size %d", o.batch_size);
    if (o.threads < 1 || o.threads > 256)
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: threads %d not in 1..256", o.threads);
    if (o.prefetch < 2 || o.prefetch > 64)
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: prefetch %d not in 2..64", o.prefetch);
    if (o.crop < 1 || o.crop > 1024)
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: crop %d not in 1..1024", o.crop);
    if (o.train && (o.scale_min < o.crop || o.scale_max < o.scale_min || o.scale_max > 8192))
        return rcl_fail(RCL_ERR_INVALID,
                        "rcl_stream_create: scale range [%d, %d] must hold crop %d <= min <= max "
                        "<= 8192",
                        o.scale_min, o.scale_max, o.crop);
    if (!o.train && (o.resize < o.crop || o.resize > 8192))
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: resize %d must be in crop %d..8192",
                        o.resize, o.crop);
    if (o.ten_crop && o.train)
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: ten_crop is an evaluation transform "
                        "(train must be 0)");
    if (!(o.lighting >= 0) || o.lighting > 10)
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: lighting sigma %g not in 0..10",
                        (double)o.lighting);
    for (int c = 0; c < 3; c++)
        if (!(o.std[c] >= 0) || o.std[c] > 1e6f)
            return rcl_fail(RCL_ERR_INVALID, "rcl_stream_create: std[%d] %g is not a positive "
                            "number (0: 1)", c, (double)o.std[c]);

    rcl_stream *s = calloc(1, sizeof *s);
    if (!s) return rcl_fail(RCL_ERR_NOMEM, "rcl_stream_create: out of memory");
    s->ix = ix;
    s->o = o;
    for (int v = 0; v < 256; v++) s->lut[v] = (float)v / 255.0f;
    s->o.mean = NULL;
    s->crop_sample = (size_t)3 * o.crop * o.crop;
    s->sample = s->crop_sample * (o.ten_crop ? 10 : 1);
    s->nbatches = (ix->n + o.batch_size - 1) / o.batch_size;
    s->nslots = o.prefetch;
    s->perm = malloc(sizeof(int) * (size_t)ix->n);
    s->slots = calloc((size_t)s->nslots, sizeof *s->slots);
    s->threads = calloc((size_t)o.threads, sizeof(pthread_t));
    s->crop_bufs = malloc(s->crop_sample * (size_t)o.threads);
    int ok = s->perm && s->slots && s->threads && s->crop_bufs;
    if (ok && opt->mean) {
        s->mean = malloc(sizeof(float) * s->crop_sample);
        ok = s->mean != NULL;
        if (ok) memcpy(s->mean, opt->mean, sizeof(float) * s->crop_sample);
    }
    for (int i = 0; ok && i < s->nslots; i++) {
        stream_slot *sl = &s->slots[i];
        sl->x = malloc(sizeof(float) * s->sample * (size_t)o.batch_size);
        sl->y = malloc(sizeof(int) * (size_t)o.batch_size);
        sl->msg = malloc((size_t)MSG_LEN * (size_t)o.batch_size);
        sl->status = malloc(sizeof(int) * (size_t)o.batch_size);
        ok = sl->x && sl->y && sl->msg && sl->status;
    }
    if (!ok) {
        stream_free(s);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_stream_create: cannot allocate %d batches of %d",
                        o.prefetch, o.batch_size);
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        stream_free(s);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_stream_create: pthread_mutex_init failed");
    }
    if (pthread_cond_init(&s->cv_work, NULL) != 0 || pthread_cond_init(&s->cv_done, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        stream_free(s);   /* a condition that was initialised holds no resources on Linux */
        return rcl_fail(RCL_ERR_NOMEM, "rcl_stream_create: pthread_cond_init failed");
    }
    for (int i = 0; i < o.threads; i++) {
        if (pthread_create(&s->threads[i], NULL, worker, s) != 0) {
            stop_threads(s, i);
            pthread_cond_destroy(&s->cv_done);
            pthread_cond_destroy(&s->cv_work);
            pthread_mutex_destroy(&s->mu);
            stream_free(s);
            return rcl_fail(RCL_ERR_NOMEM, "rcl_stream_create: cannot start worker %d of %d", i + 1,
                            o.threads);
        }
        s->nthreads++;
    }
    *out = s;
    return RCL_OK;
}

void rcl_stream_destroy(rcl_stream *s)
{
    if (!s) return;
    stop_threads(s, s->nthreads);
    pthread_cond_destroy(&s->cv_done);
    pthread_cond_destroy(&s->cv_work);
    pthread_mutex_destroy(&s->mu);
    stream_free(s);
}

int rcl_stream_begin_epoch(rcl_stream *s, int epoch)
{
    return rcl_stream_begin_epoch_at(s, epoch, 0);
}

int rcl_stream_begin_epoch_at(rcl_stream *s, int epoch, int first_batch)
{
    if (!s || epoch < 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_begin_epoch: bad loader or epoch %d", epoch);
    if (first_batch < 0 || first_batch > s->nbatches)
        return rcl_fail(RCL_ERR_INVALID,
                        "rcl_stream_begin_epoch_at: batch %d not in 0..%d (the epoch's batches)",
                        first_batch, s->nbatches);
    pthread_mutex_lock(&s->mu);
    s->active = 0;   /* no new claims while the ring is reset */
    while (s->busy > 0) pthread_cond_wait(&s->cv_done, &s->mu);
    int n = s->ix->n;
    for (int i = 0; i < n; i++) s->perm[i] = i;
    if (s->o.shuffle) {   /* Fisher-Yates */
        sm64 r = stream_rng(s->o.seed, epoch, 0);
        for (int i = n - 1; i > 0; i--) {
            int j = (int)sm_below(&r, (uint32_t)i + 1);
            int t = s->perm[i];
            s->perm[i] = s->perm[j];
            s->perm[j] = t;
        }
    }
    for (int i = 0; i < s->nslots; i++) s->slots[i].state = SLOT_FREE;
    rcl_free_names(s->skipped, s->nskipped);
    s->skipped = NULL;
    s->nskipped = s->capskipped = 0;
    s->stats.skipped = 0;
    s->failed = 0;
    s->epoch = epoch;
    s->claim_b = s->next_take = first_batch;
    s->claim_k = 0;
    s->active = 1;
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    return RCL_OK;
}

/* One batch slot taken (its good samples copied out); *count 0 at the end
 * of the epoch, or for a batch whose every file failed. */
static int take_batch(rcl_stream *s, float *images, int *labels, int *count)
{
    *count = 0;
    pthread_mutex_lock(&s->mu);
    if (!s->active) {
        pthread_mutex_unlock(&s->mu);
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_next: call rcl_stream_begin_epoch first");
    }
    if (s->failed) {
        int st = s->fail_status;
        pthread_mutex_unlock(&s->mu);
        return rcl_fail(st, "%s", s->fail_msg);
    }
    if (s->next_take >= s->nbatches) {
        pthread_mutex_unlock(&s->mu);
        return RCL_OK;
    }
    int b = s->next_take;
    stream_slot *sl = &s->slots[b % s->nslots];
    /* READY for this batch: the slot was set up for b (claim_b > b) and done */
    while (!(s->claim_b > b && sl->state == SLOT_READY)) pthread_cond_wait(&s->cv_done, &s->mu);
    sl->state = SLOT_TAKING;
    pthread_mutex_unlock(&s->mu);

    int m = 0, st = RCL_OK, first_bad = -1;
    for (int k = 0; k < sl->count; k++) {
        if (sl->status[k] != RCL_OK) {
            if (first_bad < 0) first_bad = k;
            continue;
        }
        memcpy(images + (size_t)m * s->sample, sl->x + (size_t)k * s->sample,
               sizeof(float) * s->sample);
        labels[m++] = sl->y[k];
    }

    pthread_mutex_lock(&s->mu);
    if (first_bad >= 0 && s->o.strict) {
        s->failed = 1;
        s->fail_status = sl->status[first_bad];
        snprintf(s->fail_msg, sizeof s->fail_msg, "%s (stopped: strict data)",
                 sl->msg + (size_t)first_bad * MSG_LEN);
        st = rcl_fail(s->fail_status, "%s", s->fail_msg);
        m = 0;
    } else if (first_bad >= 0) {
        for (int k = first_bad; k < sl->count; k++) {
            if (sl->status[k] == RCL_OK) continue;
            s->stats.skipped++;
            if (s->nskipped == s->capskipped) {
                int nc = s->capskipped ? 2 * s->capskipped : 16;
                char **nl = realloc(s->skipped, sizeof(char *) * (size_t)nc);
                if (!nl) continue;   /* counted, not named */
                s->skipped = nl;
                s->capskipped = nc;
            }
            const char *msg = sl->msg + (size_t)k * MSG_LEN;
            char *c = malloc(strlen(msg) + 1);
            if (c) {
                strcpy(c, msg);
                s->skipped[s->nskipped++] = c;
            }
        }
    }
    sl->state = SLOT_FREE;
    s->next_take++;
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    *count = m;
    return st;
}

int rcl_stream_next(rcl_stream *s, float *images, int *labels, int *count)
{
    if (!s || !images || !labels || !count)
        return rcl_fail(RCL_ERR_INVALID, "rcl_stream_next: NULL argument");
    int st;
    /* a batch of nothing but bad files is skipped whole: 0 means the end.
     * next_take is only written by this (the consumer's) thread. */
    do {
        st = take_batch(s, images, labels, count);
    } while (st == RCL_OK && *count == 0 && s->active && s->next_take < s->nbatches);
    return st;
}

int rcl_stream_num_batches(const rcl_stream *s)
{
    return s ? s->nbatches : 0;
}

void rcl_stream_get_options(const rcl_stream *s, rcl_stream_options *o)
{
    if (s && o) *o = s->o;   /* s->o.mean is NULL (the copy is s->mean) */
}

void rcl_stream_stats_get(const rcl_stream *s, rcl_stream_stats *out)
{
    if (!s || !out) return;
    rcl_stream *m = (rcl_stream *)s;   /* the lock only */
    pthread_mutex_lock(&m->mu);
    *out = s->stats;
    pthread_mutex_unlock(&m->mu);
}

const char *rcl_stream_skipped(const rcl_stream *s, int i)
{
    if (!s) return NULL;
    rcl_stream *m = (rcl_stream *)s;
    pthread_mutex_lock(&m->mu);
    const char *r = i >= 0 && i < s->nskipped ? s->skipped[i] : NULL;
    pthread_mutex_unlock(&m->mu);
    return r;
}
