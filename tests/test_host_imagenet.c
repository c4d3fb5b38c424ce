/* ImageNet data pipeline (no OpenCL device), on trees of symlinks to the
 * 100 photos of ../shared/data/imagenet-sample built in a temporary
 * directory: the 1000-class order, the index of every layout (class
 * folders, flat val with LOC_val_solution.csv or the devkit's ground
 * truth) and its cache, the odd JPEGs (made here with libjpeg / libpng),
 * DCT scaling, resize-crop exactness, the evaluation crops, the mean image
 * file, and the stream loader: the same batches with 1 and 4 workers,
 * corrupt files skipped or fatal (strict), PCA lighting. */
#include "harness.h"
#include "rcl/data.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef RCL_HAVE_JPEG
#include <jpeglib.h>
#endif
#ifdef RCL_HAVE_PNG
#include <png.h>
#endif

static char g_tmp[256];
static char g_sample[1024];
static char *g_wnids[100];   /* the sample's folders, sorted */
static char *g_files[100];   /* their photos (full paths) */

static void sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int setup(void **state)
{
    (void)state;
    const char *data = getenv("RESNET_CL_DATA");
    if (!data) {
        fprintf(stderr, "RESNET_CL_DATA not set (run via ctest)\n");
        return -1;
    }
    snprintf(g_sample, sizeof g_sample, "%s/imagenet-sample", data);
    DIR *d = opendir(g_sample);
    if (!d) {
        fprintf(stderr, "%s missing: configure with -DRCL_DATA_DIR=<shared data dir>\n", g_sample);
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 100)
        if (e->d_name[0] == 'n') g_wnids[n++] = strdup(e->d_name);
    closedir(d);
    if (n != 100) return -1;
    qsort(g_wnids, 100, sizeof(char *), cmp_str);
    for (int i = 0; i < 100; i++) {
        char dir[2048];
        snprintf(dir, sizeof dir, "%s/%s", g_sample, g_wnids[i]);
        DIR *cd = opendir(dir);
        if (!cd) return -1;
        while ((e = readdir(cd)) != NULL)
            if (e->d_name[0] != '.') {
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                g_files[i] = strdup(p);
            }
        closedir(cd);
        if (!g_files[i]) return -1;
    }
    const char *t = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/rcl-imagenet-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (g_tmp[0]) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        if (system(cmd) != 0) return -1;
    }
    for (int i = 0; i < 100; i++) {
        free(g_wnids[i]);
        free(g_files[i]);
    }
    return 0;
}

/* root/train/<wnid>/<file> for the first n photos (symlinks). */
static void make_train_tree(const char *root, int n)
{
    sh("rm -rf '%s' && mkdir -p '%s/train'", root, root);
    for (int i = 0; i < n; i++) {
        const char *base = strrchr(g_files[i], '/') + 1;
        sh("mkdir -p '%s/train/%s' && ln -s '%s' '%s/train/%s/%s'", root, g_wnids[i], g_files[i],
           root, g_wnids[i], base);
    }
}

/* ------------------------------------------------------------ classes */

static void test_wnids(void **state)
{
    (void)state;
    for (int k = 1; k < RCL_IMAGENET_CLASSES; k++)
        assert_true(strcmp(rcl_imagenet_wnid(k - 1), rcl_imagenet_wnid(k)) < 0);
    assert_string_equal(rcl_imagenet_wnid(0), "n01440764");
    assert_string_equal(rcl_imagenet_wnid(999), "n15075141");
    assert_null(rcl_imagenet_wnid(1000));
    assert_null(rcl_imagenet_wnid(-1));
    /* the sample is every tenth class */
    for (int i = 0; i < 100; i++) assert_int_equal(rcl_imagenet_wnid_label(g_wnids[i]), 10 * i);
    assert_int_equal(rcl_imagenet_wnid_label("n99999999"), -1);
}

/* ------------------------------------------------------------ the index */

static void test_index_folders_and_cache(void **state)
{
    (void)state;
    char root[512], cache[600];
    snprintf(root, sizeof root, "%s/folders", g_tmp);
    make_train_tree(root, 100);
    tu_env xdg;
    tu_env_save(&xdg, "XDG_CACHE_HOME");
    char xdir[600];
    snprintf(xdir, sizeof xdir, "%s/xdg", g_tmp);
    setenv("XDG_CACHE_HOME", xdir, 1);
    rcl_file_index ix;
    T_OK(rcl_file_index_open(&ix, root, "train", NULL));
    assert_int_equal(ix.n, 100);
    assert_int_equal(ix.num_classes, 1000);   /* ImageNet's labels, though 100 are present */
    assert_int_equal(ix.classes_present, 100);
    assert_int_equal(ix.from_cache, 0);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(ix.labels[i], 10 * i);
        assert_true(ix.sizes[i] > 1000);
        assert_memory_equal(ix.paths[i], g_wnids[i], 9);
    }
    /* cached in the user's cache dir, not in the data */
    assert_non_null(ix.cache_path);
    snprintf(cache, sizeof cache, "%s/xdg/resnet-cl/data-", g_tmp);
    assert_memory_equal(ix.cache_path, cache, strlen(cache));
    assert_non_null(strstr(ix.cache_path, "/index-train.tsv"));
    snprintf(cache, sizeof cache, "%s", ix.cache_path);
    sh("test ! -e '%s/.resnet-cl' && test ! -e '%s/train/.resnet-cl'", root, root);
    char *mean = rcl_file_index_side_path(&ix, "mean-train.bin");
    assert_non_null(mean);
    free(mean);
    rcl_file_index_destroy(&ix);
    /* no temporary left next to it */
    sh("test $(ls -a \"$(dirname '%s')\" | grep -c tmp) = 0", cache);

    /* second start: from the cache, same content */
    T_OK(rcl_file_index_open(&ix, root, "train", NULL));
    assert_int_equal(ix.from_cache, 1);
    assert_int_equal(ix.n, 100);
    assert_int_equal(ix.num_classes, 1000);
    assert_int_equal(ix.classes_present, 100);
    assert_int_equal(ix.labels[99], 990);
    rcl_file_index_destroy(&ix);

    /* a file added to a class folder changes its mtime: rebuilt */
    sh("ln -s '%s' '%s/train/%s/extra.JPEG'", g_files[5], root, g_wnids[0]);
    T_OK(rcl_file_index_open(&ix, root, "train", NULL));
    assert_int_equal(ix.from_cache, 0);
    assert_int_equal(ix.n, 101);
    assert_int_equal(ix.labels[1], 0);
    rcl_file_index_destroy(&ix);

    /* a stale or damaged cache is rebuilt, not trusted */
    sh("printf 'rcl-file-index 1\\nstamp 0000000000000000\\n' > '%s'", cache);
    T_OK(rcl_file_index_open(&ix, root, "train", NULL));
    assert_int_equal(ix.from_cache, 0);
    assert_int_equal(ix.n, 101);
    rcl_file_index_destroy(&ix);

    /* a current cache whose first file size does not fit (19 digits: x * 10
     * would overflow a long long) is rebuilt, not trusted (fuzz finding) */
    sh("awk -F'\t' -v OFS='\t' 'f == 1 { $2 = \"9988888888888888888\" } "
       "/^files / { f = 1; print; next } { if (f) f++; print }' '%s' > '%s.x' && mv '%s.x' '%s'",
       cache, cache, cache, cache);
    sh("grep -q '	9988888888888888888	' '%s'", cache);
    T_OK(rcl_file_index_open(&ix, root, "train", NULL));
    assert_int_equal(ix.from_cache, 0);
    assert_int_equal(ix.n, 101);
    assert_true(ix.sizes[0] > 1000);
    rcl_file_index_destroy(&ix);
    T_OK(rcl_file_index_open(&ix, root, "train", NULL));
    assert_int_equal(ix.from_cache, 1);
    rcl_file_index_destroy(&ix);

    /* an explicit cache dir; no_cache */
    char cdir[600];
    snprintf(cdir, sizeof cdir, "%s/cachedir", g_tmp);
    rcl_index_options o = {.cache_dir = cdir};
    T_OK(rcl_file_index_open(&ix, root, "train", &o));
    assert_non_null(strstr(ix.cache_path, "cachedir/index-train.tsv"));
    rcl_file_index_destroy(&ix);
    rcl_index_options nc = {.no_cache = 1};
    T_OK(rcl_file_index_open(&ix, root, "train", &nc));
    assert_null(ix.cache_path);
    assert_int_equal(ix.n, 101);
    rcl_file_index_destroy(&ix);
    tu_env_restore(&xdg);
}

static void test_index_words_and_foreign_folders(void **state)
{
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s/words", g_tmp);
    make_train_tree(root, 3);
    /* a synset words file gives the order and the names */
    sh("printf '%s first class, one\\n%s second\\n%s third\\n' > '%s/synset_words.txt'",
       g_wnids[2], g_wnids[0], g_wnids[1], root);
    rcl_file_index ix;
    rcl_index_options nc = {.no_cache = 1};
    T_OK(rcl_file_index_open(&ix, root, "train", &nc));
    assert_int_equal(ix.num_classes, 3);
    assert_string_equal(ix.class_ids[0], g_wnids[2]);
    assert_string_equal(ix.class_words[0], "first class, one");
    assert_int_equal(ix.labels[0], 1);   /* g_wnids[0]'s photo */
    assert_int_equal(ix.labels[2], 0);
    rcl_file_index_destroy(&ix);
    /* a folder the words file does not list: one line naming it */
    sh("mkdir '%s/train/n00000001'", root);
    assert_int_equal(rcl_file_index_open(&ix, root, "train", &nc), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "n00000001"));
    assert_non_null(strstr(rcl_last_error(), "synset_words.txt"));
    /* without the words file: not all ILSVRC ids -> the classes present,
     * and then an empty folder is refused (it would shift labels) */
    sh("rm '%s/synset_words.txt'", root);
    assert_int_equal(rcl_file_index_open(&ix, root, "train", &nc), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "n00000001"));
    sh("ln -s '%s' '%s/train/n00000001/a.JPEG'", g_files[9], root);
    T_OK(rcl_file_index_open(&ix, root, "train", &nc));
    assert_int_equal(ix.num_classes, 4);
    assert_string_equal(ix.class_ids[0], "n00000001");
    assert_int_equal(ix.labels[0], 0);
    assert_int_equal(ix.labels[1], 1);
    rcl_file_index_destroy(&ix);
    /* a missing split names what was looked for */
    assert_int_equal(rcl_file_index_open(&ix, root, "val", &nc), RCL_ERR_NOT_FOUND);
    assert_non_null(strstr(rcl_last_error(), "/val"));
}

static void test_index_flat_val(void **state)
{
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s/flat", g_tmp);
    sh("rm -rf '%s' && mkdir -p '%s/val'", root, root);
    /* val image i (1-based) is photo 7*i % 100 */
    for (int i = 1; i <= 12; i++)
        sh("ln -s '%s' '%s/val/ILSVRC2012_val_%08d.JPEG'", g_files[(7 * i) % 100], root, i);
    /* LOC_val_solution.csv, in another order, with an extra image not here */
    char p[700];
    snprintf(p, sizeof p, "%s/LOC_val_solution.csv", root);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "ImageId,PredictionString\n");
    for (int i = 13; i >= 1; i--)
        fprintf(f, "ILSVRC2012_val_%08d,%s 1 2 30 40 %s 5 6 70 80 \n", i, g_wnids[(7 * i) % 100],
                g_wnids[(7 * i) % 100]);
    fclose(f);
    rcl_file_index ix;
    rcl_index_options nc = {.no_cache = 1};
    T_OK(rcl_file_index_open(&ix, root, "val", &nc));
    assert_int_equal(ix.n, 12);
    assert_int_equal(ix.num_classes, 1000);
    for (int i = 1; i <= 12; i++) assert_int_equal(ix.labels[i - 1], 10 * ((7 * i) % 100));
    rcl_file_index_destroy(&ix);

    /* the devkit's ground truth: ids in the devkit order (here reversed
     * sorted order, to see the mapping) */
    sh("rm '%s/LOC_val_solution.csv'", root);
    assert_int_equal(rcl_file_index_open(&ix, root, "val", &nc), RCL_ERR_NOT_FOUND);
    assert_non_null(strstr(rcl_last_error(), "LOC_val_solution.csv"));
    snprintf(p, sizeof p, "%s/ILSVRC2012_validation_ground_truth.txt", root);
    f = fopen(p, "w");
    for (int i = 1; i <= 12; i++) fprintf(f, "%d\n", 1000 - 10 * ((7 * i) % 100));
    fclose(f);
    assert_int_equal(rcl_file_index_open(&ix, root, "val", &nc), RCL_ERR_NOT_FOUND);
    assert_non_null(strstr(rcl_last_error(), "ILSVRC2012_devkit_synsets.txt"));
    snprintf(p, sizeof p, "%s/ILSVRC2012_devkit_synsets.txt", root);
    f = fopen(p, "w");
    for (int k = 999; k >= 0; k--) fprintf(f, "%s\n", rcl_imagenet_wnid(k));
    fclose(f);
    T_OK(rcl_file_index_open(&ix, root, "val", &nc));
    assert_int_equal(ix.n, 12);
    for (int i = 1; i <= 12; i++) assert_int_equal(ix.labels[i - 1], 10 * ((7 * i) % 100));
    rcl_file_index_destroy(&ix);
    /* a file the ground truth does not list is named */
    sh("ln -s '%s' '%s/val/ILSVRC2012_val_00000099.JPEG'", g_files[0], root);
    assert_int_equal(rcl_file_index_open(&ix, root, "val", &nc), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "ILSVRC2012_val_00000099.JPEG"));
}

/* --------------------------------------------------------- odd JPEGs */

#ifdef RCL_HAVE_JPEG
/* A w x h JPEG of a smooth pattern in `cs` (JCS_RGB, JCS_GRAYSCALE,
 * JCS_CMYK; ycck: stored as YCCK), optionally progressive. */
static void write_jpeg(const char *path, int w, int h, J_COLOR_SPACE cs, int ycck, int progressive)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    jpeg_stdio_dest(&ci, f);
    int comps = cs == JCS_GRAYSCALE ? 1 : cs == JCS_CMYK ? 4 : 3;
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = comps;
    ci.in_color_space = cs;
    jpeg_set_defaults(&ci);
    if (ycck) jpeg_set_colorspace(&ci, JCS_YCCK);
    jpeg_set_quality(&ci, 95, TRUE);
    if (progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    unsigned char *row = malloc((size_t)w * comps);
    while (ci.next_scanline < ci.image_height) {
        int y = (int)ci.next_scanline;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < comps; c++)
                row[x * comps + c] = (unsigned char)((60 + x + y + 30 * c) % 256);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&ci, &rp, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
    free(row);
}
#endif

static void test_odd_files(void **state)
{
    (void)state;
#ifndef RCL_HAVE_JPEG
    skip();
#else
    char dir[512], p[700];
    snprintf(dir, sizeof dir, "%s/odd", g_tmp);
    sh("mkdir -p '%s'", dir);
    rcl_image img;
    struct { const char *name; int w, h; J_COLOR_SPACE cs; int ycck, prog; } cases[] = {
        {"grey.JPEG", 40, 30, JCS_GRAYSCALE, 0, 0},  {"cmyk.JPEG", 40, 30, JCS_CMYK, 0, 0},
        {"ycck.JPEG", 40, 30, JCS_CMYK, 1, 0},       {"progressive.JPEG", 97, 61, JCS_RGB, 0, 1},
        {"one.JPEG", 1, 1, JCS_RGB, 0, 0},           {"thin.JPEG", 3, 517, JCS_RGB, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, cases[i].name);
        write_jpeg(p, cases[i].w, cases[i].h, cases[i].cs, cases[i].ycck, cases[i].prog);
        T_OK(rcl_image_load(p, &img));
        assert_int_equal(img.w, cases[i].w);
        assert_int_equal(img.h, cases[i].h);
        if (cases[i].cs == JCS_GRAYSCALE) {   /* grey -> R = G = B */
            size_t plane = (size_t)img.w * img.h;
            assert_memory_equal(img.data, img.data + plane, plane);
            assert_memory_equal(img.data, img.data + 2 * plane, plane);
        }
        rcl_image_free(&img);
    }
    /* CMYK and YCCK hold the same picture: the same RGB within JPEG loss */
    rcl_image a, b;
    snprintf(p, sizeof p, "%s/cmyk.JPEG", dir);
    T_OK(rcl_image_load(p, &a));
    snprintf(p, sizeof p, "%s/ycck.JPEG", dir);
    T_OK(rcl_image_load(p, &b));
    int worst = 0;
    for (size_t i = 0; i < (size_t)3 * a.h * a.w; i++) {
        int d = abs((int)a.data[i] - (int)b.data[i]);
        if (d > worst) worst = d;
    }
    if (worst > 6) fail_msg("CMYK and YCCK decodes differ by up to %d", worst);
    rcl_image_free(&a);
    rcl_image_free(&b);
#ifdef RCL_HAVE_PNG
    /* a PNG named .JPEG (ImageNet has one) */
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = 5;
    pi.height = 4;
    pi.format = PNG_FORMAT_RGB;
    uint8_t px[60];
    for (int i = 0; i < 60; i++) px[i] = (uint8_t)(i * 4);
    snprintf(p, sizeof p, "%s/png_named.JPEG", dir);
    assert_true(png_image_write_to_file(&pi, p, 0, px, 0, NULL));
    T_OK(rcl_image_load(p, &img));
    assert_int_equal(img.w, 5);
    assert_int_equal(img.data[0], 0);
    assert_int_equal(img.data[20], 4);   /* G of pixel 0 */
    rcl_image_free(&img);
#endif
    /* a truncated file: one clear error naming it, never a crash */
    snprintf(p, sizeof p, "%s/truncated.JPEG", dir);
    sh("head -c 3000 '%s' > '%s'", g_files[0], p);
    assert_int_equal(rcl_image_load(p, &img), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "truncated.JPEG"));
    assert_null(img.data);
#endif
}

static void test_dct_scaling(void **state)
{
    (void)state;
    size_t len;
    for (int i = 0; i < 100; i += 9) {
        char *buf = tu_read_file(g_files[i], &len);
        assert_non_null(buf);
        rcl_image full, sc;
        T_OK(rcl_image_decode((uint8_t *)buf, len, g_files[i], &full));
        int s = full.h < full.w ? full.h : full.w;
        for (int want = 32; want <= 300; want += 67) {
            T_OK(rcl_image_decode_scaled((uint8_t *)buf, len, g_files[i], want, &sc));
            int k = 1;   /* smallest k/8 of 1/8, 2/8, 4/8 with ceil(s*k/8) >= want */
            while (k < 8 && (s * k + 7) / 8 < want) k *= 2;
            assert_int_equal(sc.w, (full.w * k + 7) / 8);
            assert_int_equal(sc.h, (full.h * k + 7) / 8);
            assert_true((sc.h < sc.w ? sc.h : sc.w) >= want || k == 8);
            rcl_image_free(&sc);
        }
        rcl_image_free(&full);
        free(buf);
    }
}

static void test_resize_crop_exact(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(17);
    for (int t = 0; t < 20; t++) {
        int sh_ = 5 + (int)tu_uniform(&r, 0, 60), sw = 5 + (int)tu_uniform(&r, 0, 60);
        int rh = 8 + (int)tu_uniform(&r, 0, 90), rw = 8 + (int)tu_uniform(&r, 0, 90);
        int ch = 1 + (int)tu_uniform(&r, 0, rh), cw = 1 + (int)tu_uniform(&r, 0, rw);
        int top = (int)tu_uniform(&r, 0, rh - ch + 1), left = (int)tu_uniform(&r, 0, rw - cw + 1);
        uint8_t *src = malloc((size_t)3 * sh_ * sw), *full = malloc((size_t)3 * rh * rw);
        uint8_t *crop = malloc((size_t)3 * ch * cw);
        for (int i = 0; i < 3 * sh_ * sw; i++) src[i] = (uint8_t)tu_uniform(&r, 0, 256);
        T_OK(rcl_resize_bilinear(full, rh, rw, src, 3, sh_, sw));
        T_OK(rcl_resize_crop(crop, ch, cw, top, left, rh, rw, src, 3, sh_, sw));
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < ch; y++)
                assert_memory_equal(crop + ((size_t)c * ch + y) * cw,
                                    full + ((size_t)c * rh + top + y) * rw + left, (size_t)cw);
        /* rcl_resize_crop_hwc (internal) is checked through the loader in
         * test_eval_transforms: same bytes as rcl_imagenet_center_crop */
        free(src);
        free(full);
        free(crop);
    }
    uint8_t b[12];
    assert_int_equal(rcl_resize_crop(b, 2, 2, 1, 0, 2, 2, b, 3, 2, 2), RCL_ERR_INVALID);
    int rh, rw;
    rcl_resize_short_dims(375, 500, 256, &rh, &rw);
    assert_int_equal(rh, 256);
    assert_int_equal(rw, 341);   /* int(256 * 500 / 375) */
    rcl_resize_short_dims(500, 333, 256, &rh, &rw);
    assert_int_equal(rw, 256);
    assert_int_equal(rh, 384);
}

/* ------------------------------------------------------------- loader */

static float *run_epoch(const rcl_file_index *ix, rcl_stream_options o, int epoch, int *total,
                        int **labels_out, rcl_stream_stats *stats)
{
    rcl_stream *s;
    T_OK(rcl_stream_create(&s, ix, &o));
    size_t sample = (size_t)3 * 224 * 224;
    float *all = malloc(sizeof(float) * sample * ix->n);
    int *labels = malloc(sizeof(int) * ix->n);
    float *x = malloc(sizeof(float) * sample * o.batch_size);
    int *y = malloc(sizeof(int) * o.batch_size), count, n = 0;
    T_OK(rcl_stream_begin_epoch(s, epoch));
    for (;;) {
        T_OK(rcl_stream_next(s, x, y, &count));
        if (count == 0) break;
        memcpy(all + sample * n, x, sizeof(float) * sample * count);
        memcpy(labels + n, y, sizeof(int) * count);
        n += count;
        if (n >= ix->n) {   /* no more batches may follow */
            T_OK(rcl_stream_next(s, x, y, &count));
            assert_int_equal(count, 0);
            break;
        }
    }
    if (stats) rcl_stream_stats_get(s, stats);
    rcl_stream_destroy(s);
    free(x);
    free(y);
    *total = n;
    *labels_out = labels;
    return all;
}

static void test_stream_threads_deterministic(void **state)
{
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s/det", g_tmp);
    make_train_tree(root, 40);
    rcl_file_index ix;
    rcl_index_options nc = {.no_cache = 1};
    T_OK(rcl_file_index_open(&ix, root, "train", &nc));
    rcl_stream_options o = {.batch_size = 6, .train = 1, .shuffle = 1, .seed = 99,
                            .lighting = 0.1f, .threads = 1};
    int n1, n4, n5, *y1, *y4, *y5;
    float *a = run_epoch(&ix, o, 3, &n1, &y1, NULL);
    o.threads = 4;
    o.prefetch = 3;
    rcl_stream_stats st;
    float *b = run_epoch(&ix, o, 3, &n4, &y4, &st);
    assert_int_equal(n1, 40);
    assert_int_equal(n4, 40);
    assert_memory_equal(y1, y4, sizeof(int) * 40);
    assert_memory_equal(a, b, sizeof(float) * 3 * 224 * 224 * 40);
    assert_int_equal(st.images, 40);
    assert_true(st.decode_s > 0 && st.resize_s > 0 && st.read_s >= 0 && st.augment_s > 0);
    /* every sample once, and another epoch is another order / crop */
    int seen[1000] = {0};
    for (int i = 0; i < 40; i++) seen[y1[i]]++;
    for (int i = 0; i < 40; i++) assert_int_equal(seen[10 * i], 1);
    float *c = run_epoch(&ix, o, 4, &n5, &y5, NULL);
    assert_true(memcmp(y1, y5, sizeof(int) * 40) != 0);
    /* resuming epoch 3 at batch 4 gives the tail of epoch 3 */
    rcl_stream *s;
    T_OK(rcl_stream_create(&s, &ix, &o));
    T_OK(rcl_stream_begin_epoch_at(s, 3, 4));
    size_t sample = (size_t)3 * 224 * 224;
    float *x = malloc(sizeof(float) * sample * 6);
    int y[6], count, at = 24;
    for (;;) {
        T_OK(rcl_stream_next(s, x, y, &count));
        if (count == 0) break;
        assert_memory_equal(y, y1 + at, sizeof(int) * count);
        assert_memory_equal(x, a + sample * at, sizeof(float) * sample * count);
        at += count;
    }
    assert_int_equal(at, 40);
    assert_int_equal(rcl_stream_begin_epoch_at(s, 3, 8), RCL_ERR_INVALID);   /* 7 batches */
    T_OK(rcl_stream_begin_epoch_at(s, 3, 7));   /* the end: nothing left */
    T_OK(rcl_stream_next(s, x, y, &count));
    assert_int_equal(count, 0);
    free(x);
    rcl_stream_destroy(s);
    free(a);
    free(b);
    free(c);
    free(y1);
    free(y4);
    free(y5);
    rcl_file_index_destroy(&ix);
}

static void test_stream_corrupt_files(void **state)
{
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s/corrupt", g_tmp);
    make_train_tree(root, 10);
    sh("head -c 2000 '%s' > '%s/train/%s/zz_truncated.JPEG'", g_files[3], root, g_wnids[3]);
    sh("echo 'not an image' > '%s/train/%s/zz_text.JPEG'", root, g_wnids[7]);
    rcl_file_index ix;
    rcl_index_options nc = {.no_cache = 1};
    T_OK(rcl_file_index_open(&ix, root, "train", &nc));
    assert_int_equal(ix.n, 12);
    rcl_stream_options o = {.batch_size = 4, .train = 1, .seed = 1, .threads = 2};
    rcl_stream *s;
    T_OK(rcl_stream_create(&s, &ix, &o));
    float *x = malloc(sizeof(float) * 3 * 224 * 224 * 4);
    int y[4], count, total = 0;
    T_OK(rcl_stream_begin_epoch(s, 0));
    for (;;) {
        T_OK(rcl_stream_next(s, x, y, &count));
        if (count == 0) break;
        total += count;
    }
    assert_int_equal(total, 10);
    rcl_stream_stats st;
    rcl_stream_stats_get(s, &st);
    assert_int_equal(st.skipped, 2);
    assert_non_null(rcl_stream_skipped(s, 0));
    assert_non_null(strstr(rcl_stream_skipped(s, 0), "zz_truncated.JPEG"));
    assert_non_null(strstr(rcl_stream_skipped(s, 1), "zz_text.JPEG"));
    assert_null(rcl_stream_skipped(s, 2));
    rcl_stream_destroy(s);
    /* batch 1: a batch of nothing but a bad file is passed over, not an
     * early end of the epoch */
    o.batch_size = 1;
    T_OK(rcl_stream_create(&s, &ix, &o));
    T_OK(rcl_stream_begin_epoch(s, 0));
    for (total = 0;;) {
        T_OK(rcl_stream_next(s, x, y, &count));
        if (count == 0) break;
        total += count;
    }
    assert_int_equal(total, 10);
    rcl_stream_destroy(s);
    o.batch_size = 4;

    /* strict: the epoch stops at the first bad file, named */
    o.strict = 1;
    T_OK(rcl_stream_create(&s, &ix, &o));
    T_OK(rcl_stream_begin_epoch(s, 0));
    int st_ = RCL_OK;
    for (int b = 0; b < 3 && st_ == RCL_OK; b++) st_ = rcl_stream_next(s, x, y, &count);
    assert_int_equal(st_, RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "zz_truncated.JPEG"));
    assert_int_equal(rcl_stream_next(s, x, y, &count), RCL_ERR_FORMAT);   /* and stays so */
    T_OK(rcl_stream_begin_epoch(s, 1));   /* a new epoch starts over */
    rcl_stream_destroy(s);
    free(x);
    rcl_file_index_destroy(&ix);
}

static void test_pca_lighting(void **state)
{
    (void)state;
    float alpha[3] = {0.3f, -1.2f, 2.0f}, shift[3];
    rcl_pca_shift(alpha, shift);
    for (int i = 0; i < 3; i++) {
        double want = 0;
        for (int j = 0; j < 3; j++)
            want += (double)rcl_pca_eigvec[i][j] * alpha[j] * rcl_pca_eigval[j];
        assert_true(fabs(shift[i] - want) < 1e-6);
    }
    /* the published numbers (fb.resnet.torch) */
    assert_true(fabsf(rcl_pca_eigval[0] - 0.2175f) < 1e-7f);
    assert_true(fabsf(rcl_pca_eigvec[2][1] + 0.6948f) < 1e-7f);
    /* in the loader: with and without lighting, the same crops differ by one
     * constant per channel, of the size sigma * eigval allows */
    char root[512];
    snprintf(root, sizeof root, "%s/pca", g_tmp);
    make_train_tree(root, 4);
    rcl_file_index ix;
    rcl_index_options nc = {.no_cache = 1};
    T_OK(rcl_file_index_open(&ix, root, "train", &nc));
    rcl_stream_options o = {.batch_size = 4, .train = 1, .seed = 5};
    int n, *y0, *y1;
    float *a = run_epoch(&ix, o, 0, &n, &y0, NULL);
    o.lighting = 0.1f;
    float *b = run_epoch(&ix, o, 0, &n, &y1, NULL);
    size_t plane = 224 * 224;
    int nonzero = 0;
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) {
            const float *pa = a + (size_t)(3 * i + c) * plane, *pb = b + (size_t)(3 * i + c) * plane;
            float d0 = pb[0] - pa[0];
            for (size_t k = 0; k < plane; k++) assert_true(fabsf(pb[k] - pa[k] - d0) < 1e-5f);
            assert_true(fabsf(d0) < 0.2f);
            nonzero += d0 != 0;
        }
    assert_true(nonzero >= 10);
    free(a);
    free(b);
    free(y0);
    free(y1);
    rcl_file_index_destroy(&ix);
}

static void test_eval_transforms(void **state)
{
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s/eval", g_tmp);
    make_train_tree(root, 6);
    rcl_file_index ix;
    rcl_index_options nc = {.no_cache = 1};
    T_OK(rcl_file_index_open(&ix, root, "train", &nc));
    size_t n = (size_t)3 * 224 * 224;
    float *mean = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) mean[i] = (float)(i % 97) / 200.0f;
    /* the loader's evaluation transform (full decode) == centre crop */
    rcl_stream_options o = {.batch_size = 4, .full_decode = 1, .mean = mean, .threads = 2};
    int total, *y;
    float *got = run_epoch(&ix, o, 0, &total, &y, NULL);
    assert_int_equal(total, 6);
    float *want = malloc(sizeof(float) * n), *ten = malloc(sizeof(float) * n * 10);
    for (int i = 0; i < 6; i++) {
        rcl_image img;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", ix.dir, ix.paths[i]);
        T_OK(rcl_image_load(p, &img));
        T_OK(rcl_imagenet_center_crop(want, &img, 256, 224, mean));
        assert_memory_equal(got + n * i, want, sizeof(float) * n);
        /* TenCrop: crop 4 is the centre crop; crop 5 is the flip of the
         * top-right crop (1) */
        T_OK(rcl_imagenet_ten_crop(ten, &img, 256, 224, NULL));
        T_OK(rcl_imagenet_center_crop(want, &img, 256, 224, NULL));
        assert_memory_equal(ten + 4 * n, want, sizeof(float) * n);
        for (int c = 0; c < 3; c++)
            for (int yy = 0; yy < 224; yy++)
                for (int x = 0; x < 224; x++)
                    assert_true(ten[5 * n + ((size_t)c * 224 + yy) * 224 + x] ==
                                ten[1 * n + ((size_t)c * 224 + yy) * 224 + 223 - x]);
        rcl_image_free(&img);
    }
    /* a per-channel std divides the same values (torchvision's Normalize) */
    rcl_stream_options os = o;
    os.std[0] = 0.229f, os.std[1] = 0.224f, os.std[2] = 0.225f;
    int *ys;
    float *div = run_epoch(&ix, os, 0, &total, &ys, NULL);
    assert_int_equal(total, 6);
    for (size_t i = 0; i < n * 6; i++) {
        float w = got[i] * (1.0f / os.std[(i % n) / (224 * 224)]);
        if (div[i] != w) fail_msg("std: element %zu is %.9g, want %.9g", i, div[i], w);
    }
    free(div);
    free(ys);
    os.std[1] = -1.0f;
    rcl_stream *bad = NULL;
    assert_int_equal(rcl_stream_create(&bad, &ix, &os), RCL_ERR_INVALID);
    /* DCT-scaled decoding (the default) stays close to the full decode */
    o.full_decode = 0;
    int *y2;
    float *scaled = run_epoch(&ix, o, 0, &total, &y2, NULL);
    double sum = 0;
    for (size_t i = 0; i < n * 6; i++) sum += fabs(scaled[i] - got[i]);
    assert_true(sum / (double)(n * 6) < 0.05);
    free(scaled);
    free(y2);
    free(got);
    free(y);
    free(want);
    free(ten);
    free(mean);
    rcl_file_index_destroy(&ix);
}

/* torchvision's TenCrop of Resize(256, bilinear, antialias=False) of the
 * same photos (tests/ref/imagenet_crops_ref.txt, written by
 * tests/ref/make_imagenet_crops_ref.py): channel sums and sampled pixels
 * within decoder / rounding differences. */
static void test_ten_crop_torchvision(void **state)
{
    (void)state;
    const char *src = getenv("RESNET_CL_SOURCE_DIR");
    if (!src) fail_msg("RESNET_CL_SOURCE_DIR not set (run via ctest)");
    char path[4096], line[8192];
    snprintf(path, sizeof path, "%s/tests/ref/imagenet_crops_ref.txt", src);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    size_t n = (size_t)3 * 224 * 224;
    float *ten = malloc(sizeof(float) * n * 10);
    int photos = 0, crops = 0, worst_px = 0;
    double worst_mean = 0;
    while (fgets(line, sizeof line, f)) {
        char rel[512];
        int h, w, rh, rw;
        if (sscanf(line, "photo %511s %d %d %d %d", rel, &h, &w, &rh, &rw) == 5) {
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", g_sample, rel);
            rcl_image img;
            T_OK(rcl_image_load(p, &img));
            assert_int_equal(img.h, h);
            assert_int_equal(img.w, w);
            int gh, gw;
            rcl_resize_short_dims(h, w, 256, &gh, &gw);
            assert_int_equal(gh, rh);
            assert_int_equal(gw, rw);
            T_OK(rcl_imagenet_ten_crop(ten, &img, 256, 224, NULL));
            rcl_image_free(&img);
            photos++;
            continue;
        }
        int k, used;
        long long sum[3];
        if (sscanf(line, "crop %d %lld %lld %lld%n", &k, &sum[0], &sum[1], &sum[2], &used) != 4)
            continue;
        assert_true(photos > 0 && k >= 0 && k < 10);
        const float *c = ten + (size_t)k * n;
        for (int ch = 0; ch < 3; ch++) {
            double s = 0;
            for (size_t i = 0; i < (size_t)224 * 224; i++)
                s += (double)lrintf(c[(size_t)ch * 224 * 224 + i] * 255.0f);
            double d = fabs(s - (double)sum[ch]) / (224.0 * 224.0);
            if (d > worst_mean) worst_mean = d;
        }
        const char *q = line + used;
        int ch, y, x, v, m;
        while (sscanf(q, " %d:%d:%d:%d%n", &ch, &y, &x, &v, &m) == 4) {
            int ours = (int)lrintf(c[((size_t)ch * 224 + y) * 224 + x] * 255.0f);
            if (abs(ours - v) > worst_px) worst_px = abs(ours - v);
            q += m;
        }
        crops++;
    }
    fclose(f);
    free(ten);
    assert_int_equal(photos, 4);
    assert_int_equal(crops, 40);
    print_message("ten-crop vs torchvision: worst channel-mean difference %.4f, worst pixel %d\n",
                  worst_mean, worst_px);
    if (worst_mean > 0.05 || worst_px > 2)
        fail_msg("ten crops differ from torchvision's: channel mean by %.4f, a pixel by %d",
                 worst_mean, worst_px);
}

/* Display names for predict (rcl_class_words_load) */
static void test_class_words(void **state)
{
    (void)state;
    char p[600];
    snprintf(p, sizeof p, "%s/words.txt", g_tmp);
    FILE *f = fopen(p, "w");
    fprintf(f, "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n"
               "n01484850 : great white shark\n");
    fclose(f);
    char *ids[3] = {"n01484850", "n99999999", "n01440764"};
    char **w;
    T_OK(rcl_class_words_load(p, ids, 3, &w));
    assert_string_equal(w[0], "great white shark");
    assert_string_equal(w[1], "n99999999");   /* not in the file: the id */
    assert_string_equal(w[2], "tench, Tinca tinca");
    rcl_class_words_free(w, 3);
    /* a file without class ids: by position */
    T_OK(rcl_class_words_load(p, NULL, 4, &w));
    assert_string_equal(w[1], "goldfish, Carassius auratus");
    assert_string_equal(w[3], "class 3");
    rcl_class_words_free(w, 4);
    f = fopen(p, "w");
    fprintf(f, "n01440764 tench\n/etc/passwd x\n");
    fclose(f);
    assert_int_equal(rcl_class_words_load(p, NULL, 2, &w), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "words.txt:2"));
    char *out = NULL;
    assert_int_equal(tu_run(&out, "predict --checkpoint x.safetensors --synset-words"), 2);
    assert_non_null(strstr(out, "missing value for --synset-words"));
    free(out);
}

static void test_mean_file(void **state)
{
    (void)state;
    char p[600];
    snprintf(p, sizeof p, "%s/mean.bin", g_tmp);
    float m[2 * 3 * 4];
    for (int i = 0; i < 24; i++) m[i] = (float)i / 24.0f;
    T_OK(rcl_mean_image_save(p, m, 2, 3, 4, 12345678901LL));
    float *back;
    int c, h, w;
    int64_t count;
    T_OK(rcl_mean_image_load(p, &back, &c, &h, &w, &count));
    assert_int_equal(c, 2);
    assert_int_equal(h, 3);
    assert_int_equal(w, 4);
    assert_true(count == 12345678901LL);
    assert_memory_equal(back, m, sizeof m);
    free(back);
    sh("head -c 30 '%s' > '%s.cut'", p, p);
    strcat(p, ".cut");
    assert_int_equal(rcl_mean_image_load(p, &back, &c, &h, &w, &count), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "mean.bin.cut"));
}

static void test_invalid(void **state)
{
    (void)state;
    rcl_file_index empty = {0};
    rcl_stream *s = NULL;
    rcl_stream_options o = {.batch_size = 4};
    assert_int_equal(rcl_stream_create(&s, &empty, &o), RCL_ERR_INVALID);
    char root[512];
    snprintf(root, sizeof root, "%s/inv", g_tmp);
    make_train_tree(root, 1);
    rcl_file_index ix;
    rcl_index_options nc = {.no_cache = 1};
    T_OK(rcl_file_index_open(&ix, root, "train", &nc));
    o.batch_size = 0;
    assert_int_equal(rcl_stream_create(&s, &ix, &o), RCL_ERR_INVALID);
    o.batch_size = 1;
    o.train = 1;
    o.scale_min = 200;   /* below the crop */
    assert_int_equal(rcl_stream_create(&s, &ix, &o), RCL_ERR_INVALID);
    o.scale_min = 0;
    o.lighting = -1;
    assert_int_equal(rcl_stream_create(&s, &ix, &o), RCL_ERR_INVALID);
    o.lighting = 0;
    T_OK(rcl_stream_create(&s, &ix, &o));
    float x[3];
    int y, count;
    assert_int_equal(rcl_stream_next(s, x, &y, &count), RCL_ERR_INVALID);   /* no epoch */
    rcl_stream_destroy(s);
    rcl_stream_destroy(NULL);
    rcl_file_index_destroy(&ix);
    assert_int_equal(rcl_file_index_open(&ix, root, "../x", &nc), RCL_ERR_NOT_FOUND);
}

static void test_cli_commands(void **state)
{
    (void)state;
    char root[512], cdir[600];
    snprintf(root, sizeof root, "%s/cli", g_tmp);
    snprintf(cdir, sizeof cdir, "%s/cli-cache", g_tmp);
    make_train_tree(root, 5);
    char *out = NULL;
    /* mean-image: saved next to the index */
    assert_int_equal(tu_run(&out, "mean-image --data '%s' --cache-dir '%s' --threads 2", root, cdir),
                     0);
    assert_non_null(strstr(out, "mean image of 5 images"));
    free(out);
    char mp[700];
    snprintf(mp, sizeof mp, "%s/mean.bin", cdir);
    float *mean;
    int c, h, w;
    int64_t count;
    T_OK(rcl_mean_image_load(mp, &mean, &c, &h, &w, &count));
    assert_true(c == 3 && h == 224 && w == 224 && count == 5);
    for (int i = 0; i < 3 * 224 * 224; i++) assert_true(mean[i] >= 0 && mean[i] <= 1);
    free(mean);
    /* bench-loader: finds the index in the cache and subtracts the mean */
    assert_int_equal(tu_run(&out, "bench-loader --data '%s' --cache-dir '%s' --images 12 "
                                  "--batch-size 4 --threads 2",
                            root, cdir),
                     0);
    assert_non_null(strstr(out, "read from the cache"));
    assert_non_null(strstr(out, "subtracting the mean image"));
    assert_non_null(strstr(out, "images/s: "));
    assert_non_null(strstr(out, "crop/augment"));
    free(out);
    /* an undecodable file: named, counted; --strict-data stops */
    sh("echo broken > '%s/train/%s/zz.JPEG'", root, g_wnids[1]);
    assert_int_equal(tu_run(&out, "bench-loader --data '%s' --no-index-cache --images 12 "
                                  "--batch-size 4",
                            root),
                     0);
    assert_non_null(strstr(out, "skipped"));
    assert_non_null(strstr(out, "zz.JPEG"));
    free(out);
    assert_int_equal(tu_run(&out, "bench-loader --data '%s' --no-index-cache --images 12 "
                                  "--batch-size 4 --strict-data",
                            root),
                     1);
    assert_non_null(strstr(out, "zz.JPEG"));
    free(out);
    /* bad input: one line, non-zero */
    assert_int_equal(tu_run(&out, "bench-loader --data '%s/nowhere'", root), 1);
    assert_non_null(strstr(out, "nowhere"));
    free(out);
    assert_int_equal(tu_run(&out, "bench-loader --threads 2"), 2);
    assert_non_null(strstr(out, "--data DIR is required"));
    free(out);
    assert_int_equal(tu_run(&out, "mean-image --data '%s' --threads 0", root), 2);
    assert_non_null(strstr(out, "bad value '0' for --threads"));
    free(out);
    assert_int_equal(tu_run(&out, "bench-loader --help"), 0);
    assert_non_null(strstr(out, "usage: resnet-cl bench-loader"));
    free(out);
    assert_int_equal(tu_run(&out, "mean-image --help"), 0);
    assert_non_null(strstr(out, "usage: resnet-cl mean-image"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wnids),
        cmocka_unit_test(test_index_folders_and_cache),
        cmocka_unit_test(test_index_words_and_foreign_folders),
        cmocka_unit_test(test_index_flat_val),
        cmocka_unit_test(test_odd_files),
        cmocka_unit_test(test_dct_scaling),
        cmocka_unit_test(test_resize_crop_exact),
        cmocka_unit_test(test_stream_threads_deterministic),
        cmocka_unit_test(test_stream_corrupt_files),
        cmocka_unit_test(test_pca_lighting),
        cmocka_unit_test(test_eval_transforms),
        cmocka_unit_test(test_ten_crop_torchvision),
        cmocka_unit_test(test_class_words),
        cmocka_unit_test(test_mean_file),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_cli_commands),
    };
    return cmocka_run_group_tests_name("host_imagenet", tests, setup, teardown);
}
