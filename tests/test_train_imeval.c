/* ImageNet evaluation and recompute-bn (issue #17): the ten-crop stream
 * against rcl_imagenet_ten_crop, the softmax averaging against the model
 * run crop by crop, recomputed BN statistics against a C computation of the
 * per-batch statistics, and `resnet-cl eval --ten-crop / --center-crop`,
 * --json, a corrupt JPEG skipped and named (--strict-data: exit 1) and
 * `resnet-cl recompute-bn` through the CLI, on a few photos of
 * ../shared/data/imagenet-sample (skipped when it is missing). Runs once,
 * on the first device that is not a software rasterizer (test_train_*). */
#include "harness.h"
#include "data/data_internal.h" /* rcl_read_file */

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { RESIZE = 40, CROP = 32, NPHOTO = 4 };
static const float STD[3] = {0.5f, 0.6f, 0.7f};

static int dev(void) { return rcl_ctx_device(T_CTX)->index; }

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
}

/* The sample (NULL, after skip(), when it is missing) */
static const char *sample_dir(void)
{
    static char p[4096];
    const char *data = getenv("RESNET_CL_DATA");
    if (!data) fail_msg("RESNET_CL_DATA not set (run via ctest)");
    snprintf(p, sizeof p, "%s/imagenet-sample", data);
    struct stat sb;
    if (stat(p, &sb) != 0) {
        fprintf(stderr, "%s missing: skipped (configure with -DRCL_DATA_DIR=<shared data dir>)\n", p);
        return NULL;
    }
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* root/val/<wnid>/<file> for the first n classes of the sample (links);
 * returns a malloc'd temporary root. */
static char *make_tree(const char *sample, int n)
{
    const char *t = getenv("TMPDIR");
    char *root = malloc(4096);
    snprintf(root, 4096, "%s/rcl-imeval-XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(root));
    DIR *d = opendir(sample);
    assert_non_null(d);
    char *w[128];
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && k < 128)
        if (e->d_name[0] == 'n') w[k++] = strdup(e->d_name);
    closedir(d);
    assert_true(k >= n);
    qsort(w, (size_t)k, sizeof(char *), cmp_str);
    for (int i = 0; i < n; i++)
        sh("mkdir -p '%s/val/%s' && ln -s '%s/%s/'* '%s/val/%s/'", root, w[i], sample, w[i], root,
           w[i]);
    for (int i = 0; i < k; i++) free(w[i]);
    return root;
}

static float *pattern_mean(void)
{
    float *m = malloc(sizeof(float) * 3 * CROP * CROP);
    for (int i = 0; i < 3 * CROP * CROP; i++) m[i] = 0.3f + 0.2f * (float)((i * 37) % 101) / 101.0f;
    return m;
}

/* resnet20 with 1000 outputs at CROP x CROP, fc scaled so that the crops'
 * softmaxes differ clearly (a fresh model's are nearly uniform). */
static rcl_model *make_model(int batch, rcl_norm_kind norm)
{
    rcl_model_config c = rcl_model_config_default();
    c.num_classes = 1000;
    c.in_h = c.in_w = CROP;
    c.batch = batch;
    c.seed = 7;
    c.norm.kind = norm;
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, T_CTX, "resnet20", &c));
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    for (int i = 0; i < np; i++)
        if (!strcmp(ps[i]->name, "fc.weight")) {
            float *w = tu_read(&ps[i]->value);
            size_t n = rcl_tensor_count(&ps[i]->value);
            for (size_t j = 0; j < n; j++) w[j] *= 40.0f;
            T_OK(rcl_tensor_write(T_CTX, &ps[i]->value, w));
            free(w);
        }
    return m;
}

/* ---------------------------------------------------------- averaging */

static void test_crop_average(void **state)
{
    (void)state;
    /* 2 images x 3 crops x 6 classes */
    const float z[36] = {1, 2, 3, 4, 5, 6,   6, 5, 4, 3, 2, 1,   0, 0, 0, 0, 0, 9,
                         2, 2, 2, 2, 2, 2,   2, 2, 2, 2, 2, 2,   2, 2, 2, 2, 2, 2};
    const int y[2] = {5, 3};
    float p[12];
    rcl_topk_counts r = {0};
    T_OK(rcl_crop_average(z, 2, 3, 6, y, p, &r));
    double want[12] = {0};
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 3; c++) {
            double s = 0;
            for (int k = 0; k < 6; k++) s += exp(z[(i * 3 + c) * 6 + k]);
            for (int k = 0; k < 6; k++) want[i * 6 + k] += exp(z[(i * 3 + c) * 6 + k]) / s / 3;
        }
    assert_true(tu_close_f("averaged probabilities", p, want, 12, 1e-6, 1e-7));
    /* image 0: class 5 highest; image 1: all tied, class 3 ranks 4th (ties:
     * lower class first) -> in the top 5, not the top 1 */
    assert_int_equal(r.images, 2);
    assert_int_equal(r.top1, 1);
    assert_int_equal(r.top5, 2);
    assert_true(fabs(r.nll - (-log(want[5]) - log(want[9]))) < 1e-9);
    const int bad[2] = {5, 6};
    assert_int_equal(rcl_crop_average(z, 2, 3, 6, bad, NULL, &r), RCL_ERR_INVALID);
}

/* ---------------------------------------- ten-crop stream and averaging */

typedef struct collect { float *probs; int *labels; int n; } collect;

static void hook(void *user, const float *probs, const int *labels, int n, int classes)
{
    collect *c = user;
    memcpy(c->probs + (size_t)c->n * classes, probs, sizeof(float) * (size_t)n * classes);
    memcpy(c->labels + c->n, labels, sizeof(int) * (size_t)n);
    c->n += n;
}

/* Reference: the ten crops of rcl_imagenet_ten_crop (image decoded as the
 * stream decodes it: DCT scaling down to the resize), divided by STD. */
static void ref_crops(const char *path, const float *mean, float *dst)
{
    uint8_t *buf;
    size_t len;
    T_OK(rcl_read_file(path, &buf, &len));
    rcl_image img;
    T_OK(rcl_image_decode_scaled(buf, len, path, RESIZE, &img));
    T_OK(rcl_imagenet_ten_crop(dst, &img, RESIZE, CROP, mean));
    size_t plane = (size_t)CROP * CROP;
    for (int k = 0; k < 10; k++)
        for (int c = 0; c < 3; c++) {
            float inv = 1.0f / STD[c];
            for (size_t i = 0; i < plane; i++) dst[(k * 3 + c) * plane + i] *= inv;
        }
    rcl_image_free(&img);
    free(buf);
}

static void test_ten_crop_average(void **state)
{
    (void)state;
    const char *sample = sample_dir();
    if (!sample) skip();
    char *root = make_tree(sample, 3);
    rcl_file_index ix = {0};
    rcl_index_options io = {.no_cache = 1};
    T_OK(rcl_file_index_open(&ix, root, "val", &io));
    assert_int_equal(ix.n, 3);
    float *mean = pattern_mean();
    rcl_stream_options so = {.batch_size = 2, .threads = 2, .crop = CROP, .resize = RESIZE,
                             .mean = mean, .std = {STD[0], STD[1], STD[2]}, .ten_crop = 1};
    size_t sample10 = (size_t)10 * 3 * CROP * CROP;
    float *want = malloc(sizeof(float) * sample10 * 3);
    for (int i = 0; i < 3; i++) {
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", ix.dir, ix.paths[i]);
        ref_crops(p, mean, want + (size_t)i * sample10);
    }
    /* the stream's ten crops are those bytes */
    rcl_stream *s = NULL;
    T_OK(rcl_stream_create(&s, &ix, &so));
    float *x = malloc(sizeof(float) * sample10 * 2);
    int y[2], n = 0, seen = 0;
    T_OK(rcl_stream_begin_epoch(s, 0));
    while (rcl_stream_next(s, x, y, &n) == RCL_OK && n > 0) {
        assert_memory_equal(x, want + (size_t)seen * sample10, sizeof(float) * sample10 * (size_t)n);
        for (int k = 0; k < n; k++) assert_int_equal(y[k], ix.labels[seen + k]);
        seen += n;
    }
    assert_int_equal(seen, 3);

    /* rcl_evaluate_stream's probabilities: the mean over the ten crops of
     * the softmax of the model's logits, each crop run alone */
    rcl_model *m = make_model(20, RCL_NORM_BN);
    rcl_batch b;
    T_OK(rcl_batch_init(&b, m));
    collect c = {malloc(sizeof(float) * 3 * 1000), malloc(sizeof(int) * 3), 0};
    rcl_topk_counts r;
    T_OK(rcl_evaluate_stream(m, &b, s, 10, &r, hook, &c));
    assert_int_equal(c.n, 3);
    assert_int_equal(r.images, 3);
    double *ref = calloc(3 * 1000, sizeof(double));
    rcl_tensor one;
    tu_tensor(&one, 1, 3, CROP, CROP, NULL);
    double spread = 0;   /* how much the crops disagree: the test must be able to fail */
    for (int i = 0; i < 3; i++) {
        double first = -1;
        for (int k = 0; k < 10; k++) {
            T_OK(rcl_tensor_write(T_CTX, &one, want + (size_t)i * sample10 + (size_t)k * 3 * CROP * CROP));
            const rcl_tensor *lg;
            T_OK(rcl_model_forward(m, &one, 0, &lg));
            float *z = tu_read(lg);
            double zmax = z[0], sum = 0;
            for (int j = 1; j < 1000; j++) zmax = z[j] > zmax ? z[j] : zmax;
            for (int j = 0; j < 1000; j++) sum += exp(z[j] - zmax);
            for (int j = 0; j < 1000; j++) ref[i * 1000 + j] += exp(z[j] - zmax) / sum / 10;
            double p0 = exp(z[ix.labels[i]] - zmax) / sum;
            if (first < 0) first = p0;
            spread = fmax(spread, fabs(p0 - first) / fmax(first, 1e-12));
            free(z);
        }
    }
    assert_true(spread > 0.05);
    assert_true(tu_close_f("ten-crop probabilities", c.probs, ref, 3 * 1000, 1e-3, 1e-6));
    for (int i = 0; i < 3; i++) assert_int_equal(c.labels[i], ix.labels[i]);
    /* a stream that does not fit the model is refused */
    rcl_stream *s1 = NULL;
    so.ten_crop = 0;
    so.batch_size = 30;
    T_OK(rcl_stream_create(&s1, &ix, &so));
    assert_int_equal(rcl_evaluate_stream(m, &b, s1, 1, &r, NULL, NULL), RCL_ERR_INVALID);
    so.train = 1;
    so.ten_crop = 1;
    rcl_stream *s2 = NULL;
    assert_int_equal(rcl_stream_create(&s2, &ix, &so), RCL_ERR_INVALID);
    rcl_stream_destroy(s1);
    rcl_tensor_destroy(&one);
    free(ref);
    free(c.probs);
    free(c.labels);
    rcl_batch_free(&b);
    rcl_model_destroy(m);
    rcl_stream_destroy(s);
    free(x);
    free(want);
    free(mean);
    rcl_file_index_destroy(&ix);
    sh("rm -rf '%s'", root);
    free(root);
}

/* ------------------------------------------------------------ recompute-bn */

static float *buffer(rcl_model *m, const char *name)
{
    rcl_buffer *bs;
    int nb = rcl_model_buffers(m, &bs);
    for (int i = 0; i < nb; i++)
        if (!strcmp(bs[i].name, name)) return tu_read(bs[i].t);
    fail_msg("no buffer %s", name);
    return NULL;
}

/* every buffer's floats, concatenated (malloc'd; *n their count) */
static float *all_buffers(rcl_model *m, size_t *n)
{
    rcl_buffer *bs;
    int nb = rcl_model_buffers(m, &bs);
    size_t tot = 0;
    for (int i = 0; i < nb; i++) tot += rcl_tensor_count(bs[i].t);
    float *all = malloc(sizeof(float) * tot), *p = all;
    for (int i = 0; i < nb; i++) {
        float *v = tu_read(bs[i].t);
        size_t k = rcl_tensor_count(bs[i].t);
        memcpy(p, v, sizeof(float) * k);
        p += k;
        free(v);
    }
    *n = tot;
    return all;
}

static void test_recompute_bn(void **state)
{
    (void)state;
    enum { B = 4, NB = 3 };
    rcl_model *m = make_model(B, RCL_NORM_BN);
    size_t img = (size_t)3 * CROP * CROP;
    float *data = malloc(sizeof(float) * img * B * NB);
    tu_rng rng = tu_rng_seed(11);
    tu_fill(&rng, data, img * B * NB, -1, 1);
    for (size_t i = 0; i < img * B; i++) data[i] += 0.5f;   /* batches that differ */
    rcl_tensor x;
    tu_tensor(&x, B, 3, CROP, CROP, NULL);
    rcl_counter *cs;
    int nc = rcl_model_counters(m, &cs);
    int64_t tracked0 = *cs[0].value;
    rcl_param **ps;
    rcl_model_params(m, &ps);
    float *w0 = tu_read(&ps[0]->value);   /* conv1.weight (16, 3, 3, 3) */
    assert_string_equal(ps[0]->name, "conv1.weight");

    /* each batch alone: its own statistics */
    size_t nbuf = 0;
    double *avg = NULL;
    for (int j = 0; j < NB; j++) {
        T_OK(rcl_model_bn_recompute_begin(m));
        T_OK(rcl_tensor_write(T_CTX, &x, data + (size_t)j * img * B));
        T_OK(rcl_model_bn_recompute_step(m, &x));
        T_OK(rcl_model_bn_recompute_end(m));
        float *v = all_buffers(m, &nbuf);
        if (!avg) avg = calloc(nbuf, sizeof(double));
        for (size_t i = 0; i < nbuf; i++) avg[i] += (double)v[i] / NB;
        free(v);
    }
    /* all three: their average */
    T_OK(rcl_model_bn_recompute_begin(m));
    for (int j = 0; j < NB; j++) {
        T_OK(rcl_tensor_write(T_CTX, &x, data + (size_t)j * img * B));
        T_OK(rcl_model_bn_recompute_step(m, &x));
    }
    T_OK(rcl_model_bn_recompute_end(m));
    size_t n2;
    float *got = all_buffers(m, &n2);
    assert_int_equal(n2, nbuf);
    assert_true(tu_close_f("recomputed BN statistics", got, avg, nbuf, 1e-4, 1e-5));
    /* bn1 from C: conv1 (3x3, stride 1, pad 1) of each batch, its per-channel
     * mean and unbiased variance, averaged over the batches */
    double cm[16] = {0}, cv[16] = {0};
    int hw = CROP * CROP;
    double *t = malloc(sizeof(double) * (size_t)B * hw);
    for (int j = 0; j < NB; j++)
        for (int o = 0; o < 16; o++) {
            const float *xb = data + (size_t)j * img * B;
            double s = 0, ss = 0;
            for (int bi = 0; bi < B; bi++)
                for (int yy = 0; yy < CROP; yy++)
                    for (int xx = 0; xx < CROP; xx++) {
                        double acc = 0;
                        for (int ci = 0; ci < 3; ci++)
                            for (int ky = 0; ky < 3; ky++)
                                for (int kx = 0; kx < 3; kx++) {
                                    int sy = yy + ky - 1, sx = xx + kx - 1;
                                    if (sy < 0 || sy >= CROP || sx < 0 || sx >= CROP) continue;
                                    acc += (double)w0[((o * 3 + ci) * 3 + ky) * 3 + kx] *
                                           xb[((size_t)bi * 3 + ci) * hw + sy * CROP + sx];
                                }
                        t[(size_t)bi * hw + yy * CROP + xx] = acc;
                        s += acc;
                    }
            double mu = s / ((double)B * hw);
            for (size_t i = 0; i < (size_t)B * hw; i++) ss += (t[i] - mu) * (t[i] - mu);
            cm[o] += mu / NB;
            cv[o] += ss / ((double)B * hw - 1) / NB;
        }
    free(t);
    float *rm = buffer(m, "bn1.running_mean"), *rv = buffer(m, "bn1.running_var");
    assert_true(tu_close_f("bn1.running_mean vs C", rm, cm, 16, 1e-3, 1e-4));
    assert_true(tu_close_f("bn1.running_var vs C", rv, cv, 16, 1e-3, 1e-4));
    /* weights and counters unchanged */
    float *w1 = tu_read(&ps[0]->value);
    assert_memory_equal(w0, w1, sizeof(float) * 16 * 27);
    assert_int_equal(*cs[0].value, tracked0);
    (void)nc;
    /* the result evaluates (save, load into a fresh model, eval forward) */
    char path[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/rcl-imeval-bn-%d.safetensors", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    T_OK(rcl_checkpoint_save(m, NULL, NULL, path));
    rcl_model *m2 = make_model(B, RCL_NORM_BN);
    T_OK(rcl_checkpoint_load(m2, NULL, NULL, path));
    size_t n3;
    float *got2 = all_buffers(m2, &n3);
    assert_memory_equal(got, got2, sizeof(float) * nbuf);
    const rcl_tensor *lg;
    T_OK(rcl_model_forward(m2, &x, 0, &lg));
    float *z = tu_read(lg);
    for (int i = 0; i < B * 1000; i++) assert_true(isfinite(z[i]));
    remove(path);
    /* without BN: refused */
    rcl_model *g = make_model(B, RCL_NORM_GN);
    assert_int_equal(rcl_model_bn_recompute_begin(g), RCL_ERR_UNSUPPORTED);
    assert_non_null(strstr(rcl_last_error(), "gn"));
    rcl_model_destroy(g);
    free(z);
    free(got2);
    rcl_model_destroy(m2);
    free(rm);
    free(rv);
    free(w0);
    free(w1);
    free(got);
    free(avg);
    free(data);
    rcl_tensor_destroy(&x);
    rcl_model_destroy(m);
}

/* ------------------------------------------------------------------ CLI */

/* A minimal JSON validator (objects, strings, numbers): 1 if well-formed. */
static const char *js_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
    return p;
}
static const char *js_value(const char *p);
static const char *js_string(const char *p)
{
    if (*p++ != '"') return NULL;
    for (; *p && *p != '"'; p++)
        if (*p == '\\' && !*++p) return NULL;
    return *p == '"' ? p + 1 : NULL;
}
static const char *js_value(const char *p)
{
    p = js_ws(p);
    if (*p == '"') return js_string(p);
    if (*p == '{') {
        p = js_ws(p + 1);
        if (*p == '}') return p + 1;
        for (;;) {
            if (!(p = js_string(js_ws(p)))) return NULL;
            p = js_ws(p);
            if (*p++ != ':' || !(p = js_value(p))) return NULL;
            p = js_ws(p);
            if (*p == '}') return p + 1;
            if (*p++ != ',') return NULL;
        }
    }
    char *end;
    strtod(p, &end);
    return end == p ? NULL : end;
}

static double json_num(const char *text, const char *key)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(text, k);
    if (!p) fail_msg("no \"%s\" in\n%s", key, text);
    return strtod(p + strlen(k), NULL);
}

static char *read_json(const char *path)
{
    char *j = tu_read_file(path, NULL);
    if (!j) fail_msg("%s not written", path);
    const char *end = js_value(j);
    if (!end || *js_ws(end)) fail_msg("%s is not well-formed JSON:\n%s", path, j);
    return j;
}

static void make_checkpoint(const char *path, rcl_norm_kind norm)
{
    rcl_model *m = make_model(2, norm);
    char *csv = malloc(1000 * 10 + 1);
    csv[0] = 0;
    for (int k = 0; k < 1000; k++) {
        if (k) strcat(csv, ",");
        strcat(csv, rcl_imagenet_wnid(k));
    }
    rcl_checkpoint_set_class_names(m, csv);
    float *mean = pattern_mean();
    rcl_input_record in = {RCL_PIPELINE_IMAGENET, RESIZE, CROP, {STD[0], STD[1], STD[2]}};
    T_OK(rcl_checkpoint_set_input(m, &in, mean));
    rcl_train_progress prog = {.epoch = 3, .seed = 5, .lr = 0.01f, .batch_size = 2};
    T_OK(rcl_checkpoint_save(m, NULL, &prog, path));
    free(mean);
    free(csv);
    rcl_model_destroy(m);
}

static void test_cli(void **state)
{
    (void)state;
    const char *sample = sample_dir();
    if (!sample) skip();
    char *root = make_tree(sample, NPHOTO);
    char ck[4200], ck2[4200], ckg[4200], j[4200], cmd[16384];
    snprintf(ck, sizeof ck, "%s/m.safetensors", root);
    snprintf(ck2, sizeof ck2, "%s/m-bn.safetensors", root);
    snprintf(ckg, sizeof ckg, "%s/gn.safetensors", root);
    snprintf(j, sizeof j, "%s/eval.json", root);
    make_checkpoint(ck, RCL_NORM_BN);
    char *out = NULL;

    /* ten crops: JSON with the counts */
    snprintf(cmd, sizeof cmd, "--device %d eval --checkpoint '%s' --data '%s' --ten-crop "
             "--threads 2 --no-index-cache --json '%s'", dev(), ck, root, j);
    int rc = tu_run(&out, "%s", cmd);
    if (rc != 0 || !strstr(out, "ten-crop") || !strstr(out, "top-1 error") || !strstr(out, "top-5 error"))
        fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    char *js = read_json(j);
    assert_non_null(strstr(js, "\"protocol\": \"ten-crop\""));
    assert_int_equal((int)json_num(js, "images"), NPHOTO);
    assert_int_equal((int)json_num(js, "skipped"), 0);
    assert_int_equal((int)json_num(js, "resize"), RESIZE);
    assert_int_equal((int)json_num(js, "crop"), CROP);
    double e1 = json_num(js, "top1_error"), a1 = json_num(js, "top1_accuracy");
    assert_true(fabs(e1 + a1 - 1) < 1e-6);
    assert_true(fabs(a1 - json_num(js, "top1_correct") / NPHOTO) < 1e-6);
    assert_true(json_num(js, "top5_correct") >= json_num(js, "top1_correct"));
    free(js);

    /* centre crop: the checkpoint's record makes it the default */
    snprintf(cmd, sizeof cmd, "--device %d eval --checkpoint '%s' --data '%s' --threads 2 "
             "--no-index-cache --json '%s'", dev(), ck, root, j);
    rc = tu_run(&out, "%s", cmd);
    if (rc != 0 || !strstr(out, "center-crop (")) fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    js = read_json(j);
    assert_non_null(strstr(js, "\"protocol\": \"center-crop\""));
    assert_int_equal((int)json_num(js, "images"), NPHOTO);
    free(js);

    /* predict: the recorded resize, centre crop, mean and std (as eval's
     * centre crop); its top class and probability against the model run
     * here on rcl_imagenet_center_crop of the same photo */
    {
        char photo[8192];
        rcl_file_index ix = {0};
        rcl_index_options io = {.no_cache = 1};
        T_OK(rcl_file_index_open(&ix, root, "val", &io));
        snprintf(photo, sizeof photo, "%s/%s", ix.dir, ix.paths[1]);
        uint8_t *buf;
        size_t len;
        T_OK(rcl_read_file(photo, &buf, &len));
        rcl_image img;
        T_OK(rcl_image_decode_scaled(buf, len, photo, RESIZE, &img));
        float x[3 * CROP * CROP], *mean = pattern_mean();
        T_OK(rcl_imagenet_center_crop(x, &img, RESIZE, CROP, mean));
        for (int i = 0; i < 3 * CROP * CROP; i++) x[i] *= 1.0f / STD[i / (CROP * CROP)];
        rcl_model *m = make_model(2, RCL_NORM_BN);
        T_OK(rcl_checkpoint_load(m, NULL, NULL, ck));
        rcl_tensor t;
        tu_tensor(&t, 1, 3, CROP, CROP, x);
        const rcl_tensor *lg;
        T_OK(rcl_model_forward(m, &t, 0, &lg));
        float *z = tu_read(lg);
        int best = 0;
        double sum = 0;
        for (int k = 1; k < 1000; k++) best = z[k] > z[best] ? k : best;
        for (int k = 0; k < 1000; k++) sum += exp((double)z[k] - z[best]);
        char want[64];
        snprintf(want, sizeof want, "  %6.2f%%  %s\n", 100.0 / sum, rcl_imagenet_wnid(best));
        snprintf(cmd, sizeof cmd, "--device %d predict --checkpoint '%s' '%s'", dev(), ck, photo);
        rc = tu_run(&out, "%s", cmd);
        if (rc != 0 || !strstr(out, want))
            fail_msg("resnet-cl %s: rc %d\n%s(want the line '%s')", cmd, rc, out, want);
        free(out);
        free(z);
        rcl_tensor_destroy(&t);
        rcl_model_destroy(m);
        free(mean);
        rcl_image_free(&img);
        free(buf);
        rcl_file_index_destroy(&ix);
    }

    /* a weights-only file (a torchvision state dict: no metadata) with
     * --model --normalize: torchvision's ImageNet mean and std; the mean
     * loss equals the library's evaluation with those */
    {
        char plain[4300];
        snprintf(plain, sizeof plain, "%s/plain.safetensors", root);
        tu_write_state_dict(ck, plain);
        snprintf(cmd, sizeof cmd, "--device %d eval --checkpoint '%s' --model resnet20 --normalize "
                 "--center-crop --resize %d --crop %d --data '%s' --threads 2 --no-index-cache "
                 "--json '%s'", dev(), plain, RESIZE, CROP, root, j);
        rc = tu_run(&out, "%s", cmd);
        if (rc != 0 || !strstr(out, "torchvision's ImageNet mean and std"))
            fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
        free(out);
        js = read_json(j);
        double loss = json_num(js, "mean_loss");
        free(js);
        rcl_file_index ix = {0};
        rcl_index_options io = {.no_cache = 1};
        T_OK(rcl_file_index_open(&ix, root, "val", &io));
        const float tm[3] = {0.485f, 0.456f, 0.406f};
        float *mean = malloc(sizeof(float) * 3 * CROP * CROP);
        for (int i = 0; i < 3 * CROP * CROP; i++) mean[i] = tm[i / (CROP * CROP)];
        rcl_stream_options so = {.batch_size = 2, .threads = 1, .crop = CROP, .resize = RESIZE,
                                 .mean = mean, .std = {0.229f, 0.224f, 0.225f}};
        rcl_stream *s = NULL;
        T_OK(rcl_stream_create(&s, &ix, &so));
        rcl_model *m = make_model(2, RCL_NORM_BN);
        T_OK(rcl_checkpoint_load(m, NULL, NULL, plain));
        rcl_batch b;
        T_OK(rcl_batch_init(&b, m));
        rcl_topk_counts r;
        T_OK(rcl_evaluate_stream(m, &b, s, 1, &r, NULL, NULL));
        assert_int_equal(r.images, NPHOTO);
        if (fabs(r.nll / NPHOTO - loss) > 1e-4 * fmax(1, loss))
            fail_msg("eval --normalize mean loss %.6f, library with torchvision's mean/std %.6f",
                     loss, r.nll / NPHOTO);
        rcl_batch_free(&b);
        rcl_model_destroy(m);
        rcl_stream_destroy(s);
        free(mean);
        rcl_file_index_destroy(&ix);
    }

    /* recompute-bn, then eval of its output */
    snprintf(cmd, sizeof cmd, "--device %d recompute-bn --checkpoint '%s' --data '%s' --split val "
             "--batches 3 --batch-size 2 --threads 2 --no-index-cache --out '%s'", dev(), ck, root, ck2);
    rc = tu_run(&out, "%s", cmd);
    if (rc != 0 || !strstr(out, "averaged over 3 training batches"))
        fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    rcl_input_record in;
    float *mean = NULL, *want = pattern_mean();
    T_OK(rcl_checkpoint_read_input(ck2, &in, &mean));
    assert_int_equal(in.pipeline, RCL_PIPELINE_IMAGENET);
    assert_int_equal(in.resize, RESIZE);
    assert_int_equal(in.crop, CROP);
    assert_true(in.std[1] == STD[1]);
    assert_non_null(mean);
    assert_memory_equal(mean, want, sizeof(float) * 3 * CROP * CROP);
    rcl_checkpoint_info info;
    T_OK(rcl_checkpoint_info_read(ck2, &info));
    assert_non_null(info.class_names);
    assert_int_equal(strncmp(info.class_names, "n01440764,", 10), 0);
    free(info.class_names);
    free(mean);
    free(want);
    snprintf(cmd, sizeof cmd, "--device %d eval --checkpoint '%s' --data '%s' --threads 2 "
             "--no-index-cache", dev(), ck2, root);
    rc = tu_run(&out, "%s", cmd);
    if (rc != 0 || !strstr(out, "top-1 error")) fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    /* a model without BN: one line */
    make_checkpoint(ckg, RCL_NORM_GN);
    snprintf(cmd, sizeof cmd, "--device %d recompute-bn --checkpoint '%s' --data '%s' --split val "
             "--out '%s.out'", dev(), ckg, root, ckg);
    rc = tu_run(&out, "%s", cmd);
    if (rc != 1 || !strstr(out, "has no BatchNorm layers (its normalization is gn)"))
        fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);

    /* a corrupt JPEG: named and skipped; --strict-data stops with exit 1 */
    DIR *d = opendir(root);
    (void)d;
    closedir(d);
    char val[4200];
    snprintf(val, sizeof val, "%s/val", root);
    d = opendir(val);
    struct dirent *e;
    char first[256] = "";
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] == 'n' && (!first[0] || strcmp(e->d_name, first) < 0))
            snprintf(first, sizeof first, "%s", e->d_name);
    closedir(d);
    sh("head -c 2000 \"$(ls '%s/%s/'* | head -1)\" > '%s/%s/zz_bad.JPEG'", val, first, val, first);
    snprintf(cmd, sizeof cmd, "--device %d eval --checkpoint '%s' --data '%s' --ten-crop "
             "--threads 2 --no-index-cache --json '%s'", dev(), ck, root, j);
    rc = tu_run(&out, "%s", cmd);
    if (rc != 0 || !strstr(out, "resnet-cl: skipped ") || !strstr(out, "zz_bad.JPEG: ") ||
        !strstr(out, "1 undecodable file skipped"))
        fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    js = read_json(j);
    assert_int_equal((int)json_num(js, "images"), NPHOTO);
    assert_int_equal((int)json_num(js, "skipped"), 1);
    free(js);
    remove(j);
    snprintf(cmd, sizeof cmd, "--device %d eval --checkpoint '%s' --data '%s' --ten-crop "
             "--threads 2 --no-index-cache --json '%s' --strict-data", dev(), ck, root, j);
    rc = tu_run(&out, "%s", cmd);
    if (rc != 1 || !strstr(out, "zz_bad.JPEG") || !strstr(out, "strict"))
        fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    struct stat sb;
    assert_int_not_equal(stat(j, &sb), 0);   /* no result written */

    sh("rm -rf '%s'", root);
    free(root);
}

/* recompute-bn on a CIFAR checkpoint: the training split with the random
 * crop and flip; the statistics change, the weights do not, eval reads the
 * result ("Test set: ..."), the classes are checked. */
static void test_cli_cifar(void **state)
{
    (void)state;
    char *cifar = tu_cifar_jpeg_root();
    const char *t = getenv("TMPDIR");
    char root[4096], ck[4200], out2[4200], cmd[16384];
    snprintf(root, sizeof root, "%s/rcl-imeval-cifar-XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(root));
    static const char *const cls[] = {"airplane", "automobile", "bird"};
    for (int c = 0; c < 3; c++)
        for (int sp = 0; sp < 2; sp++) {
            const char *split = sp ? "test" : "train";
            sh("mkdir -p '%s/%s/%s'", root, split, cls[c]);
            for (int k = 0; k < 6; k++)
                sh("ln -s '%s/%s/%s/000%d.jpg' '%s/%s/%s/'", cifar, split, cls[c], k, root, split,
                   cls[c]);
        }
    snprintf(ck, sizeof ck, "%s/c.safetensors", root);
    snprintf(out2, sizeof out2, "%s/c-bn.safetensors", root);
    rcl_model_config c = rcl_model_config_default();
    c.num_classes = 3;
    c.batch = 2;
    rcl_model *m = NULL;
    T_OK(rcl_model_create(&m, T_CTX, "resnet20", &c));
    rcl_checkpoint_set_class_names(m, "airplane,automobile,bird");
    T_OK(rcl_checkpoint_save(m, NULL, NULL, ck));
    snprintf(cmd, sizeof cmd, "--device %d recompute-bn --checkpoint '%s' --data '%s' --batches 4 "
             "--batch-size 4 --out '%s'", dev(), ck, root, out2);
    char *out = NULL;
    int rc = tu_run(&out, "%s", cmd);
    if (rc != 0 || !strstr(out, "averaged over 4 training batches of up to 4 (16 images"))
        fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    rcl_model *m2 = NULL;
    T_OK(rcl_model_create(&m2, T_CTX, "resnet20", &c));
    T_OK(rcl_checkpoint_load(m2, NULL, NULL, out2));
    float *v0 = buffer(m, "layer1.0.bn1.running_var"), *v1 = buffer(m2, "layer1.0.bn1.running_var");
    assert_true(v0[0] == 1.0f && v1[0] != 1.0f);   /* a fresh model's 1, recomputed */
    rcl_param **p0, **p1;
    int np = rcl_model_params(m, &p0);
    rcl_model_params(m2, &p1);
    for (int i = 0; i < np; i++) {
        float *a = tu_read(&p0[i]->value), *b = tu_read(&p1[i]->value);
        assert_memory_equal(a, b, rcl_tensor_bytes(&p0[i]->value));
        free(a);
        free(b);
    }
    snprintf(cmd, sizeof cmd, "--device %d eval --checkpoint '%s' --data '%s'", dev(), out2, root);
    rc = tu_run(&out, "%s", cmd);
    if (rc != 0 || !strstr(out, "Test set: Average loss: ") || !strstr(out, "/18 ("))
        fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    /* the ImageNet options on a cifar checkpoint: one line */
    snprintf(cmd, sizeof cmd, "--device %d eval --checkpoint '%s' --data '%s' --json '%s.json'",
             dev(), out2, root, root);
    rc = tu_run(&out, "%s", cmd);
    if (rc != 2 || !strstr(out, "are for the ImageNet transforms") || strchr(out, '\n') != strrchr(out, '\n'))
        fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    /* data whose classes are not the checkpoint's */
    sh("mv '%s/train/bird' '%s/train/cat'", root, root);
    snprintf(cmd, sizeof cmd, "--device %d recompute-bn --checkpoint '%s' --data '%s' --out '%s.x'",
             dev(), ck, root, out2);
    rc = tu_run(&out, "%s", cmd);
    if (rc != 1 || !strstr(out, "cat")) fail_msg("resnet-cl %s: rc %d\n%s", cmd, rc, out);
    free(out);
    free(v0);
    free(v1);
    rcl_model_destroy(m);
    rcl_model_destroy(m2);
    sh("rm -rf '%s'", root);
    free(cifar);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_crop_average),
    cmocka_unit_test(test_ten_crop_average),
    cmocka_unit_test(test_recompute_bn),
    cmocka_unit_test(test_cli),
    cmocka_unit_test(test_cli_cifar),
};
RCL_TEST_MAIN_FAST("imeval", tests)
