/* Batch loader (no OpenCL device): coverage of every sample once per epoch,
 * partial last batch, determinism in (seed, epoch) across instances and
 * buffer counts, starting an epoch at a batch, pad + crop + flip exactness, normalisation, restarting
 * and destroying mid-epoch, invalid arguments. */
#include "harness.h"
#include "rcl/data.h"

#include <stdlib.h>
#include <string.h>

/* Image i: channel 0 = i & 255, channel 1 = i >> 8, channel 2 = a pattern. */
static void make_indexed(rcl_dataset *ds, int n, int h, int w)
{
    T_OK(rcl_dataset_alloc(ds, n, 3, h, w, 7));
    size_t plane = (size_t)h * w;
    for (int i = 0; i < n; i++) {
        uint8_t *img = rcl_dataset_image(ds, i);
        memset(img, i & 255, plane);
        memset(img + plane, i >> 8, plane);
        for (size_t k = 0; k < plane; k++) img[2 * plane + k] = (uint8_t)(k * 13 + i);
        ds->labels[i] = i % 7;
    }
}

static int sample_index(const float *x, size_t plane)
{
    int lo = (int)(x[0] * 255.0f + 0.5f), hi = (int)(x[plane] * 255.0f + 0.5f);
    return lo + 256 * hi;
}

/* One epoch into a flat array of samples and labels; returns the count and
 * checks batch sizes (all full but the last). */
static int run_epoch(rcl_loader *ld, int epoch, int bs, size_t sample, float *xs, int *ys)
{
    T_OK(rcl_loader_begin_epoch(ld, epoch));
    float *x = malloc(sizeof(float) * sample * bs);
    int *y = malloc(sizeof(int) * bs);
    int total = 0, count, batches = 0, last = bs;
    for (;;) {
        T_OK(rcl_loader_next(ld, x, y, &count));
        if (count == 0) break;
        assert_int_equal(last, bs);   /* only the final batch may be short */
        assert_true(count > 0 && count <= bs);
        memcpy(xs + sample * total, x, sizeof(float) * sample * count);
        memcpy(ys + total, y, sizeof(int) * count);
        total += count;
        last = count;
        batches++;
    }
    assert_int_equal(batches, rcl_loader_num_batches(ld));
    T_OK(rcl_loader_next(ld, x, y, &count));   /* stays at the end */
    assert_int_equal(count, 0);
    free(x);
    free(y);
    return total;
}

static void test_epoch_covers_all(void **state)
{
    (void)state;
    enum { N = 1000, H = 4, W = 5, BS = 64 };
    size_t plane = H * W, sample = 3 * plane;
    rcl_dataset ds;
    make_indexed(&ds, N, H, W);
    rcl_loader *ld;
    rcl_loader_options o = {.batch_size = BS, .shuffle = 1, .seed = 7};
    T_OK(rcl_loader_create(&ld, &ds, &o));
    assert_int_equal(rcl_loader_num_batches(ld), 16);
    float *xs = malloc(sizeof(float) * sample * N);
    int *ys = malloc(sizeof(int) * N), order[2][N];
    for (int e = 0; e < 2; e++) {
        assert_int_equal(run_epoch(ld, e, BS, sample, xs, ys), N);
        int seen[N] = {0}, in_order = 0;
        for (int k = 0; k < N; k++) {
            const float *x = xs + sample * k;
            int i = sample_index(x, plane);
            assert_true(i >= 0 && i < N);
            seen[i]++;
            order[e][k] = i;
            in_order += i == k;
            assert_int_equal(ys[k], i % 7);
            const uint8_t *img = rcl_dataset_image(&ds, i);
            for (size_t j = 0; j < sample; j++)
                if (x[j] != (float)img[j] / 255.0f) fail_msg("sample %d value %zu", i, j);
        }
        for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
        assert_true(in_order < 50);   /* shuffled */
    }
    assert_true(memcmp(order[0], order[1], sizeof order[0]) != 0);
    rcl_loader_destroy(ld);

    /* no shuffle: dataset order; last batch 1000 - 15*64 = 40 */
    o.shuffle = 0;
    T_OK(rcl_loader_create(&ld, &ds, &o));
    assert_int_equal(run_epoch(ld, 3, BS, sample, xs, ys), N);
    for (int k = 0; k < N; k++) assert_int_equal(sample_index(xs + sample * k, plane), k);
    T_OK(rcl_loader_begin_epoch(ld, 0));
    float *x = malloc(sizeof(float) * sample * BS);
    int y[BS], count;
    for (int b = 0; b < 16; b++) {
        T_OK(rcl_loader_next(ld, x, y, &count));
        assert_int_equal(count, b < 15 ? BS : 40);
    }
    free(x);
    rcl_loader_destroy(ld);
    free(xs);
    free(ys);
    rcl_dataset_destroy(&ds);
}

/* Exact multiples and a dataset smaller than a batch. */
static void test_batch_sizes(void **state)
{
    (void)state;
    rcl_dataset ds;
    make_indexed(&ds, 10, 2, 2);
    const int bss[] = {5, 8, 10, 3, 1};
    const int want_batches[] = {2, 2, 1, 4, 10};
    float xs[10 * 12];
    int ys[10];
    for (int k = 0; k < 5; k++) {
        rcl_loader *ld;
        rcl_loader_options o = {.batch_size = bss[k], .shuffle = 1, .augment = 1, .seed = 1};
        T_OK(rcl_loader_create(&ld, &ds, &o));
        assert_int_equal(rcl_loader_num_batches(ld), want_batches[k]);
        assert_int_equal(run_epoch(ld, 0, bss[k], 12, xs, ys), 10);
        rcl_loader_destroy(ld);
    }
    rcl_dataset_destroy(&ds);
}

static void test_determinism(void **state)
{
    (void)state;
    enum { N = 300, H = 6, W = 6, BS = 32 };
    size_t sample = 3 * H * W;
    rcl_dataset ds;
    make_indexed(&ds, N, H, W);
    rcl_loader *a, *b;
    rcl_loader_options o = {.batch_size = BS, .shuffle = 1, .augment = 1, .seed = 42};
    T_OK(rcl_loader_create(&a, &ds, &o));
    o.buffers = 2;
    T_OK(rcl_loader_create(&b, &ds, &o));
    size_t bytes = sizeof(float) * sample * N;
    float *xa = malloc(bytes), *xb = malloc(bytes), *x0 = malloc(bytes);
    int ya[N], yb[N], y0[N];
    /* a runs epochs 0..3, b starts at 3 (resume) */
    for (int e = 0; e < 4; e++) {
        run_epoch(a, e, BS, sample, xa, ya);
        if (e == 0) {
            memcpy(x0, xa, bytes);
            memcpy(y0, ya, sizeof ya);
        }
    }
    run_epoch(b, 3, BS, sample, xb, yb);
    assert_memory_equal(xa, xb, bytes);
    assert_memory_equal(ya, yb, sizeof ya);
    /* different epoch: different order and augmentation */
    assert_true(memcmp(x0, xa, bytes) != 0);
    assert_true(memcmp(y0, ya, sizeof ya) != 0);
    /* b back to epoch 0 equals a's epoch 0 */
    run_epoch(b, 0, BS, sample, xb, yb);
    assert_memory_equal(x0, xb, bytes);
    rcl_loader_destroy(b);
    /* another seed differs */
    o.seed = 43;
    T_OK(rcl_loader_create(&b, &ds, &o));
    run_epoch(b, 0, BS, sample, xb, yb);
    assert_true(memcmp(x0, xb, bytes) != 0);
    rcl_loader_destroy(b);
    rcl_loader_destroy(a);
    free(xa);
    free(xb);
    free(x0);
    rcl_dataset_destroy(&ds);
}

/* begin_epoch_at(k) yields batches k.. of the whole epoch, bit for bit
 * (order and augmentation), for every k; k = num_batches is an empty
 * epoch, beyond it is refused. */
static void test_begin_at_batch(void **state)
{
    (void)state;
    enum { N = 100, H = 6, W = 6, BS = 16 };
    size_t sample = 3 * H * W;
    rcl_dataset ds;
    make_indexed(&ds, N, H, W);
    rcl_loader *ld;
    rcl_loader_options o = {.batch_size = BS, .shuffle = 1, .augment = 1, .seed = 9};
    T_OK(rcl_loader_create(&ld, &ds, &o));
    size_t bytes = sizeof(float) * sample * N;
    float *xa = malloc(bytes), *x = malloc(sizeof(float) * sample * BS);
    int ya[N], y[BS], count;
    assert_int_equal(run_epoch(ld, 5, BS, sample, xa, ya), N);
    int nb = rcl_loader_num_batches(ld);
    for (int k = 0; k <= nb; k++) {
        T_OK(rcl_loader_begin_epoch_at(ld, 5, k));
        int pos = k * BS;
        for (;;) {
            T_OK(rcl_loader_next(ld, x, y, &count));
            if (!count) break;
            assert_memory_equal(x, xa + sample * pos, sizeof(float) * sample * count);
            assert_memory_equal(y, ya + pos, sizeof(int) * count);
            pos += count;
        }
        assert_int_equal(pos, k == nb ? nb * BS : N);
    }
    assert_int_equal(rcl_loader_begin_epoch_at(ld, 5, nb + 1), RCL_ERR_INVALID);
    assert_int_equal(rcl_loader_begin_epoch_at(ld, 5, -1), RCL_ERR_INVALID);
    rcl_loader_destroy(ld);
    free(xa);
    free(x);
    rcl_dataset_destroy(&ds);
}

/* Reference: output of crop offset (oy, ox) in [-p, p] and flip. */
static float ref_aug(const uint8_t *img, int c, int H, int W, int y, int x, int oy, int ox, int flip)
{
    int sy = y + oy, sx = (flip ? W - 1 - x : x) + ox;
    if (sy < 0 || sy >= H || sx < 0 || sx >= W) return 0.0f;
    return (float)img[((size_t)c * H + sy) * W + sx] / 255.0f;
}

static int matches(const float *out, const uint8_t *img, int H, int W, int oy, int ox, int flip)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (out[((size_t)c * H + y) * W + x] != ref_aug(img, c, H, W, y, x, oy, ox, flip))
                    return 0;
    return 1;
}

/* Unique pixel values: each output is exactly one (oy, ox, flip) of the
 * zero-padded image; every offset and both flips occur. */
static void test_augment_exact(void **state)
{
    (void)state;
    enum { N = 600, H = 5, W = 7, P = 4 };
    size_t sample = 3 * H * W;
    rcl_dataset ds;
    T_OK(rcl_dataset_alloc(&ds, N, 3, H, W, 1));
    for (int i = 0; i < N; i++) {
        uint8_t *img = rcl_dataset_image(&ds, i);
        for (int k = 0; k < 3 * H * W; k++) img[k] = (uint8_t)(k + 1);   /* 1..105 */
        ds.labels[i] = 0;
    }
    rcl_loader *ld;
    rcl_loader_options o = {.batch_size = 50, .shuffle = 1, .augment = 1, .seed = 5};
    T_OK(rcl_loader_create(&ld, &ds, &o));
    float *xs = malloc(sizeof(float) * sample * N);
    int *ys = malloc(sizeof(int) * N);
    run_epoch(ld, 0, 50, sample, xs, ys);
    int hist_y[2 * P + 1] = {0}, hist_x[2 * P + 1] = {0}, flips = 0, borders = 0;
    for (int k = 0; k < N; k++) {
        const float *out = xs + sample * k;
        int found = 0;
        for (int oy = -P; oy <= P && !found; oy++)
            for (int ox = -P; ox <= P && !found; ox++)
                for (int f = 0; f < 2 && !found; f++)
                    if (matches(out, rcl_dataset_image(&ds, 0), H, W, oy, ox, f)) {
                        found = 1;
                        hist_y[oy + P]++;
                        hist_x[ox + P]++;
                        flips += f;
                        borders += oy != 0 || ox != 0;
                    }
        if (!found) fail_msg("sample %d is no pad/crop/flip of the image", k);
    }
    for (int v = 0; v <= 2 * P; v++) {
        assert_true(hist_y[v] > 0);
        assert_true(hist_x[v] > 0);
    }
    assert_true(flips > N * 4 / 10 && flips < N * 6 / 10);
    assert_true(borders > N / 2);
    rcl_loader_destroy(ld);

    /* augment off: exact image; custom pad 1 limits offsets */
    o.augment = 0;
    T_OK(rcl_loader_create(&ld, &ds, &o));
    run_epoch(ld, 0, 50, sample, xs, ys);
    for (int k = 0; k < N; k++) assert_true(matches(xs + sample * k, rcl_dataset_image(&ds, 0), H, W, 0, 0, 0));
    rcl_loader_destroy(ld);
    o.augment = 1;
    o.pad = 1;
    T_OK(rcl_loader_create(&ld, &ds, &o));
    run_epoch(ld, 0, 50, sample, xs, ys);
    for (int k = 0; k < N; k++) {
        int found = 0;
        for (int oy = -1; oy <= 1; oy++)
            for (int ox = -1; ox <= 1; ox++)
                for (int f = 0; f < 2; f++)
                    found |= matches(xs + sample * k, rcl_dataset_image(&ds, 0), H, W, oy, ox, f);
        assert_true(found);
    }
    rcl_loader_destroy(ld);
    free(xs);
    free(ys);
    rcl_dataset_destroy(&ds);
}

static int row_zero(const float *out, int W, int y)
{
    for (int x = 0; x < W; x++)
        if (out[y * W + x] != 0.0f) return 0;
    return 1;
}

static int col_zero(const float *out, int H, int W, int x)
{
    for (int y = 0; y < H; y++)
        if (out[y * W + x] != 0.0f) return 0;
    return 1;
}

/* Constant image: values are 0 (border) or the constant, and the border
 * is exactly the rows/columns a crop offset leaves outside the image. */
static void test_augment_constant_border(void **state)
{
    (void)state;
    enum { N = 400, H = 6, W = 8, P = 4 };
    size_t sample = 3 * H * W;
    rcl_dataset ds;
    T_OK(rcl_dataset_alloc(&ds, N, 3, H, W, 1));
    memset(ds.pixels, 200, (size_t)N * sample);
    memset(ds.labels, 0, sizeof(int32_t) * N);
    rcl_loader *ld;
    rcl_loader_options o = {.batch_size = 64, .augment = 1, .seed = 9};
    T_OK(rcl_loader_create(&ld, &ds, &o));
    float *xs = malloc(sizeof(float) * sample * N);
    int *ys = malloc(sizeof(int) * N), plain = 0;
    run_epoch(ld, 2, 64, sample, xs, ys);
    const float v = 200.0f / 255.0f;
    for (int k = 0; k < N; k++) {
        const float *out = xs + sample * k;
        /* zero rows / columns (channel 0) form bands of width |oy|, |ox| */
        int top = 0, bottom = 0, left = 0, right = 0;
        while (top < H && row_zero(out, W, top)) top++;
        while (bottom < H && row_zero(out, W, H - 1 - bottom)) bottom++;
        while (left < W && col_zero(out, H, W, left)) left++;
        while (right < W && col_zero(out, H, W, W - 1 - right)) right++;
        assert_true(top == 0 || bottom == 0);
        assert_true(left == 0 || right == 0);
        assert_true(top <= P && bottom <= P && left <= P && right <= P);
        plain += top + bottom + left + right == 0;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int inside = y >= top && y < H - bottom && x >= left && x < W - right;
                    float want = inside ? v : 0.0f;
                    if (out[(c * H + y) * W + x] != want)
                        fail_msg("sample %d c%d y%d x%d: %g want %g", k, c, y, x,
                                 (double)out[(c * H + y) * W + x], (double)want);
                }
    }
    assert_true(plain > 0 && plain < N / 4);   /* about 1/81 + flips of it */
    rcl_loader_destroy(ld);
    free(xs);
    free(ys);
    rcl_dataset_destroy(&ds);
}

/* (x/255 - mean)/std in float, zero padding normalised like any 0 pixel. */
static void test_normalize(void **state)
{
    (void)state;
    enum { N = 20, H = 3, W = 3 };
    size_t sample = 3 * H * W;
    rcl_dataset ds;
    T_OK(rcl_dataset_alloc(&ds, N, 3, H, W, 2));
    for (size_t k = 0; k < (size_t)N * sample; k++) ds.pixels[k] = (uint8_t)(k * 37 + 1);
    for (int i = 0; i < N; i++) ds.labels[i] = i & 1;
    rcl_loader_options o = {.batch_size = 8, .normalize = 1, .mean = {0.4914f, 0.4822f, 0.4465f},
                            .std = {0.2470f, 0.2435f, 0.2616f}};
    rcl_loader *ld;
    T_OK(rcl_loader_create(&ld, &ds, &o));
    float xs[N * 27];
    int ys[N];
    run_epoch(ld, 0, 8, sample, xs, ys);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
            for (int j = 0; j < H * W; j++) {
                float x = (float)rcl_dataset_image(&ds, i)[c * H * W + j] / 255.0f;
                float want = (x - o.mean[c]) / o.std[c];
                assert_true(xs[i * 27 + c * 9 + j] == want);
            }
    rcl_loader_destroy(ld);
    /* with augmentation the padding value is (0 - mean) / std */
    o.augment = 1;
    o.pad = 3;   /* pad 3 on a 3x3 image: oy = +-3 gives an all-padding image */
    T_OK(rcl_loader_create(&ld, &ds, &o));
    int found_border = 0;
    for (int e = 0; e < 20 && !found_border; e++) {
        run_epoch(ld, e, 8, sample, xs, ys);
        for (int i = 0; i < N * 27; i += 9) {
            int c = (i / 9) % 3;
            if (xs[i] == (0.0f - o.mean[c]) / o.std[c]) found_border = 1;
        }
    }
    assert_true(found_border);
    rcl_loader_destroy(ld);
    rcl_dataset_destroy(&ds);
}

/* begin_epoch mid-epoch restarts cleanly; destroy joins from any state. */
static void test_restart_and_destroy(void **state)
{
    (void)state;
    enum { N = 100, H = 8, W = 8 };
    size_t sample = 3 * H * W;
    rcl_dataset ds;
    make_indexed(&ds, N, H, W);
    for (int i = 0; i < N; i++) ds.labels[i] = i;   /* identify augmented samples */
    rcl_loader_options o = {.batch_size = 3, .shuffle = 1, .augment = 1, .seed = 3, .buffers = 2};
    float x[3 * 3 * H * W], first[3 * 3 * H * W], *xs = malloc(sizeof(float) * sample * N);
    int y[3], count, ys[N];
    for (int rep = 0; rep < 30; rep++) {
        rcl_loader *ld;
        T_OK(rcl_loader_create(&ld, &ds, &o));
        if (rep % 3 == 0) {   /* never started */
            rcl_loader_destroy(ld);
            continue;
        }
        T_OK(rcl_loader_begin_epoch(ld, 1));
        T_OK(rcl_loader_next(ld, first, y, &count));
        assert_int_equal(count, 3);
        for (int k = 0; k < rep % 5; k++) T_OK(rcl_loader_next(ld, x, y, &count));
        T_OK(rcl_loader_begin_epoch(ld, 1));   /* restart mid-epoch */
        T_OK(rcl_loader_next(ld, x, y, &count));
        assert_memory_equal(x, first, sizeof x);
        if (rep % 3 == 1) {   /* a full epoch after the restart covers everything */
            assert_int_equal(run_epoch(ld, 4, 3, sample, xs, ys), N);
            int seen[N] = {0};
            for (int k = 0; k < N; k++) seen[ys[k]]++;
            for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
        }
        T_OK(rcl_loader_begin_epoch(ld, 2));
        rcl_loader_destroy(ld);   /* mid-epoch, ring full or filling */
    }
    free(xs);
    rcl_dataset_destroy(&ds);
}

static void test_invalid(void **state)
{
    (void)state;
    rcl_dataset ds;
    make_indexed(&ds, 4, 2, 2);
    rcl_loader *ld = NULL;
    rcl_loader_options o = {.batch_size = 0};
    assert_int_equal(rcl_loader_create(&ld, &ds, &o), RCL_ERR_INVALID);
    assert_null(ld);
    o.batch_size = 2;
    o.buffers = 1;
    assert_int_equal(rcl_loader_create(&ld, &ds, &o), RCL_ERR_INVALID);
    o.buffers = 0;
    o.normalize = 1;   /* std 0 */
    assert_int_equal(rcl_loader_create(&ld, &ds, &o), RCL_ERR_INVALID);
    o.normalize = 0;
    assert_int_equal(rcl_loader_create(&ld, NULL, &o), RCL_ERR_INVALID);
    assert_int_equal(rcl_loader_create(&ld, &ds, NULL), RCL_ERR_INVALID);
    rcl_dataset empty = {0};
    assert_int_equal(rcl_loader_create(&ld, &empty, &o), RCL_ERR_INVALID);
    T_OK(rcl_loader_create(&ld, &ds, &o));
    float x[24];
    int y[2], count = -1;
    assert_int_equal(rcl_loader_next(ld, x, y, &count), RCL_ERR_INVALID);   /* no epoch */
    assert_int_equal(rcl_loader_begin_epoch(ld, -1), RCL_ERR_INVALID);
    assert_int_equal(rcl_loader_next(ld, NULL, y, &count), RCL_ERR_INVALID);
    rcl_loader_destroy(ld);
    rcl_loader_destroy(NULL);
    assert_int_equal(rcl_dataset_alloc(&empty, 1, 0, 2, 2, 1), RCL_ERR_INVALID);
    rcl_dataset_destroy(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_covers_all),
        cmocka_unit_test(test_batch_sizes),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_begin_at_batch),
        cmocka_unit_test(test_augment_exact),
        cmocka_unit_test(test_augment_constant_border),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_restart_and_destroy),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests_name("host_loader", tests, NULL, NULL);
}
