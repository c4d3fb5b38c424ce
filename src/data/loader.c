/* Batch loader: one background thread fills a ring of batch buffers
 * (shuffled order, optional pad + random crop + horizontal flip, x/255 and
 * optional per-channel normalisation) while the caller consumes them.
 *
 * Determinism: the epoch's permutation is drawn from a PRNG keyed by
 * (seed, epoch) and each sample's augmentation from one keyed by
 * (seed, epoch, position in the epoch), so batches never depend on thread
 * timing and resuming at an epoch, or at a batch inside one, reproduces it.
 *
 * Ring protocol (all state under `mu`): batch b lives in slot b % nslots.
 * The producer fills batch next_fill when its slot is FREE (FILLING while it
 * works without the lock); the consumer waits for slot next_take to be
 * READY, copies it out (TAKING) and frees it. begin_epoch waits until the
 * producer is not filling, then resets every slot and the counters. */
#include "rcl/data.h"
#include "rcl/status.h"
#include "base/base.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_TAKING };

typedef struct loader_slot {
    float *x;
    int *y;
    int count;
    int state;
} loader_slot;

struct rcl_loader {
    const rcl_dataset *ds;
    rcl_loader_options opt;
    size_t sample;          /* c*h*w */
    float *lut;             /* c x 256: value of each byte per channel */
    int *perm;              /* position -> dataset index for the current epoch */
    int nbatches;
    loader_slot *slots;
    int nslots;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;   /* producer waits: free slot / new epoch / quit */
    pthread_cond_t cv_done;   /* consumer waits: slot ready / producer idle */
    int quit, active, filling, epoch, next_fill, next_take;
};

/* ---- PRNG: splitmix64 (base/base.h) */
typedef struct sm64 { uint64_t s; } sm64;

static uint64_t sm_next(sm64 *r) { return rcl_splitmix64_next(&r->s); }

/* Uniform integer in [0, n), n >= 1 (Lemire's unbiased multiply-shift). */
static uint32_t sm_below(sm64 *r, uint32_t n)
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

/* Independent streams: 0 = epoch permutation, 1 + position = sample. */
static sm64 stream(uint64_t seed, int epoch, uint64_t which)
{
    sm64 r = {rcl_splitmix64_mix(rcl_splitmix64_mix(seed ^ 0x5eed5eed5eed5eedULL) +
                                 rcl_splitmix64_mix((uint64_t)epoch + 0x100000000ULL) +
                                 rcl_splitmix64_mix(which ^ 0xa5a5a5a5a5a5a5a5ULL))};
    return r;
}

/* ---- batch preparation (producer thread, no lock held) */

static void fill_sample(const rcl_loader *ld, float *dst, int idx, int epoch, int pos)
{
    const rcl_dataset *ds = ld->ds;
    const uint8_t *src = rcl_dataset_image(ds, idx);
    int C = ds->c, H = ds->h, W = ds->w;
    size_t plane = (size_t)H * W;
    if (!ld->opt.augment) {
        for (int c = 0; c < C; c++) {
            const float *lut = ld->lut + 256 * c;
            const uint8_t *s = src + c * plane;
            float *d = dst + c * plane;
            for (size_t i = 0; i < plane; i++) d[i] = lut[s[i]];
        }
        return;
    }
    /* RandomCrop(padding=p): top/left offsets in [0, 2p] of the padded
     * image, then RandomHorizontalFlip(0.5) of the crop. */
    int p = ld->opt.pad;
    sm64 r = stream(ld->opt.seed, epoch, 1 + (uint64_t)pos);
    int oy = (int)sm_below(&r, (uint32_t)(2 * p + 1)) - p;
    int ox = (int)sm_below(&r, (uint32_t)(2 * p + 1)) - p;
    int flip = (int)(sm_next(&r) >> 63);
    for (int c = 0; c < C; c++) {
        const float *lut = ld->lut + 256 * c;
        float zero = lut[0];
        for (int y = 0; y < H; y++) {
            float *d = dst + c * plane + (size_t)y * W;
            int sy = y + oy;
            if (sy < 0 || sy >= H) {
                for (int x = 0; x < W; x++) d[x] = zero;
                continue;
            }
            const uint8_t *s = src + c * plane + (size_t)sy * W;
            for (int x = 0; x < W; x++) {
                int sx = (flip ? W - 1 - x : x) + ox;
                d[x] = (sx < 0 || sx >= W) ? zero : lut[s[sx]];
            }
        }
    }
}

static void fill_batch(const rcl_loader *ld, loader_slot *s, int b, int epoch)
{
    int bs = ld->opt.batch_size, n = ld->ds->n;
    int first = b * bs, count = n - first < bs ? n - first : bs;
    for (int k = 0; k < count; k++) {
        int idx = ld->perm[first + k];
        s->y[k] = ld->ds->labels[idx];
        fill_sample(ld, s->x + (size_t)k * ld->sample, idx, epoch, first + k);
    }
    s->count = count;
}

static void *producer(void *arg)
{
    rcl_loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        while (!ld->quit &&
               !(ld->active && ld->next_fill < ld->nbatches &&
                 ld->slots[ld->next_fill % ld->nslots].state == SLOT_FREE))
            pthread_cond_wait(&ld->cv_work, &ld->mu);
        if (ld->quit) break;
        int b = ld->next_fill++, epoch = ld->epoch;
        loader_slot *s = &ld->slots[b % ld->nslots];
        s->state = SLOT_FILLING;
        ld->filling = 1;
        pthread_mutex_unlock(&ld->mu);
        fill_batch(ld, s, b, epoch);
        pthread_mutex_lock(&ld->mu);
        ld->filling = 0;
        s->state = SLOT_READY;
        pthread_cond_broadcast(&ld->cv_done);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* ---- public API */

static void loader_free(rcl_loader *ld)
{
    if (ld->slots)
        for (int i = 0; i < ld->nslots; i++) {
            free(ld->slots[i].x);
            free(ld->slots[i].y);
        }
    free(ld->slots);
    free(ld->perm);
    free(ld->lut);
    free(ld);
}

int rcl_loader_create(rcl_loader **out, const rcl_dataset *ds, const rcl_loader_options *opt)
{
    if (!out || !ds || !opt) return rcl_fail(RCL_ERR_INVALID, "rcl_loader_create: NULL argument");
    *out = NULL;
    if (ds->n <= 0 || !ds->pixels || !ds->labels || ds->c <= 0 || ds->h <= 0 || ds->w <= 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_loader_create: empty or invalid dataset (n=%d)",
                        ds->n);
    rcl_loader_options o = *opt;
    if (o.batch_size <= 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_loader_create: batch_size %d", o.batch_size);
    if (o.buffers == 0) o.buffers = 3;
    if (o.buffers < 2 || o.buffers > 16)
        return rcl_fail(RCL_ERR_INVALID, "rcl_loader_create: buffers %d not in 2..16", o.buffers);
    if (o.pad == 0) o.pad = 4;
    if (o.augment && (o.pad < 0 || o.pad > 1024))
        return rcl_fail(RCL_ERR_INVALID, "rcl_loader_create: pad %d", o.pad);
    if (o.normalize && ds->c > 3)
        return rcl_fail(RCL_ERR_INVALID, "rcl_loader_create: normalisation needs <= 3 channels");
    if (o.normalize)
        for (int c = 0; c < ds->c; c++)
            if (!(o.std[c] > 0))
                return rcl_fail(RCL_ERR_INVALID, "rcl_loader_create: std[%d] = %g", c,
                                (double)o.std[c]);

    rcl_loader *ld = calloc(1, sizeof *ld);
    if (!ld) return rcl_fail(RCL_ERR_NOMEM, "rcl_loader_create: out of memory");
    ld->ds = ds;
    ld->opt = o;
    ld->sample = rcl_dataset_image_size(ds);
    ld->nbatches = (ds->n + o.batch_size - 1) / o.batch_size;
    ld->nslots = o.buffers;
    ld->lut = malloc(sizeof(float) * 256 * (size_t)ds->c);
    ld->perm = malloc(sizeof(int) * (size_t)ds->n);
    ld->slots = calloc((size_t)ld->nslots, sizeof *ld->slots);
    int ok = ld->lut && ld->perm && ld->slots;
    for (int i = 0; ok && i < ld->nslots; i++) {
        ld->slots[i].x = malloc(sizeof(float) * ld->sample * (size_t)o.batch_size);
        ld->slots[i].y = malloc(sizeof(int) * (size_t)o.batch_size);
        ok = ld->slots[i].x && ld->slots[i].y;
    }
    if (!ok) {
        loader_free(ld);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_loader_create: cannot allocate %d batches of %d",
                        o.buffers, o.batch_size);
    }
    /* ToTensor: v / 255 in float; Normalize: (x - mean) / std in float. */
    for (int c = 0; c < ds->c; c++)
        for (int v = 0; v < 256; v++) {
            float x = (float)v / 255.0f;
            ld->lut[256 * c + v] = o.normalize ? (x - o.mean[c]) / o.std[c] : x;
        }
    if (pthread_mutex_init(&ld->mu, NULL) != 0) {
        loader_free(ld);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_loader_create: pthread_mutex_init failed");
    }
    if (pthread_cond_init(&ld->cv_work, NULL) != 0) {
        pthread_mutex_destroy(&ld->mu);
        loader_free(ld);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_loader_create: pthread_cond_init failed");
    }
    if (pthread_cond_init(&ld->cv_done, NULL) != 0) {
        pthread_cond_destroy(&ld->cv_work);
        pthread_mutex_destroy(&ld->mu);
        loader_free(ld);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_loader_create: pthread_cond_init failed");
    }
    if (pthread_create(&ld->thread, NULL, producer, ld) != 0) {
        pthread_cond_destroy(&ld->cv_done);
        pthread_cond_destroy(&ld->cv_work);
        pthread_mutex_destroy(&ld->mu);
        loader_free(ld);
        return rcl_fail(RCL_ERR_NOMEM, "rcl_loader_create: cannot start the loader thread");
    }
    *out = ld;
    return RCL_OK;
}

void rcl_loader_destroy(rcl_loader *ld)
{
    if (!ld) return;
    pthread_mutex_lock(&ld->mu);
    ld->quit = 1;
    pthread_cond_broadcast(&ld->cv_work);
    pthread_mutex_unlock(&ld->mu);
    pthread_join(ld->thread, NULL);
    pthread_cond_destroy(&ld->cv_done);
    pthread_cond_destroy(&ld->cv_work);
    pthread_mutex_destroy(&ld->mu);
    loader_free(ld);
}

int rcl_loader_begin_epoch(rcl_loader *ld, int epoch)
{
    return rcl_loader_begin_epoch_at(ld, epoch, 0);
}

int rcl_loader_begin_epoch_at(rcl_loader *ld, int epoch, int first_batch)
{
    if (!ld || epoch < 0)
        return rcl_fail(RCL_ERR_INVALID, "rcl_loader_begin_epoch: bad loader or epoch %d", epoch);
    if (first_batch < 0 || first_batch > ld->nbatches)
        return rcl_fail(RCL_ERR_INVALID, "rcl_loader_begin_epoch: batch %d of an epoch of %d",
                        first_batch, ld->nbatches);
    pthread_mutex_lock(&ld->mu);
    while (ld->filling) pthread_cond_wait(&ld->cv_done, &ld->mu);
    int n = ld->ds->n;
    for (int i = 0; i < n; i++) ld->perm[i] = i;
    if (ld->opt.shuffle) {   /* Fisher-Yates */
        sm64 r = stream(ld->opt.seed, epoch, 0);
        for (int i = n - 1; i > 0; i--) {
            int j = (int)sm_below(&r, (uint32_t)i + 1);
            int t = ld->perm[i];
            ld->perm[i] = ld->perm[j];
            ld->perm[j] = t;
        }
    }
    for (int i = 0; i < ld->nslots; i++) ld->slots[i].state = SLOT_FREE;
    ld->epoch = epoch;
    ld->next_fill = ld->next_take = first_batch;
    ld->active = 1;
    pthread_cond_broadcast(&ld->cv_work);
    pthread_mutex_unlock(&ld->mu);
    return RCL_OK;
}

int rcl_loader_next(rcl_loader *ld, float *images, int *labels, int *count)
{
    if (!ld || !images || !labels || !count)
        return rcl_fail(RCL_ERR_INVALID, "rcl_loader_next: NULL argument");
    *count = 0;
    pthread_mutex_lock(&ld->mu);
    if (!ld->active) {
        pthread_mutex_unlock(&ld->mu);
        return rcl_fail(RCL_ERR_INVALID, "rcl_loader_next: call rcl_loader_begin_epoch first");
    }
    if (ld->next_take >= ld->nbatches) {   /* end of epoch */
        pthread_mutex_unlock(&ld->mu);
        return RCL_OK;
    }
    loader_slot *s = &ld->slots[ld->next_take % ld->nslots];
    while (s->state != SLOT_READY) pthread_cond_wait(&ld->cv_done, &ld->mu);
    s->state = SLOT_TAKING;
    pthread_mutex_unlock(&ld->mu);

    memcpy(images, s->x, sizeof(float) * ld->sample * (size_t)s->count);
    memcpy(labels, s->y, sizeof(int) * (size_t)s->count);
    *count = s->count;

    pthread_mutex_lock(&ld->mu);
    s->state = SLOT_FREE;
    ld->next_take++;
    pthread_cond_broadcast(&ld->cv_work);
    pthread_mutex_unlock(&ld->mu);
    return RCL_OK;
}

int rcl_loader_num_batches(const rcl_loader *ld)
{
    return ld ? ld->nbatches : 0;
}
