/* Data sets and image decoding (no OpenCL device): synthetic CIFAR-10
 * binary batches (exact round trip, errors naming the file), the real
 * CIFAR-10 JPEG tree (counts, labels, binary file built from its pixels
 * loads identically), PNGs written here with libpng (exact decode), the
 * greyscale ImageNet sample, truncated / corrupt files, bilinear resize. */
#include "harness.h"
#include "data/data_internal.h"
#include "rcl/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef RCL_HAVE_PNG
#include <png.h>
#endif
#ifdef RCL_HAVE_JPEG
#include <jpeglib.h>
#endif

#define REC 3073
#define RECS 10000

/* ---------------------------------------------------------------- helpers */

static char *tmp_dir(void)
{
    const char *base = getenv("RESNET_CL_BUILD_DIR");
    if (!base || !*base) base = "/tmp";
    char *p = malloc(strlen(base) + 32);
    assert_non_null(p);
    sprintf(p, "%s/rcl_data_XXXXXX", base);
    assert_non_null(mkdtemp(p));
    return p;
}

static void rm_rf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static char *join(const char *a, const char *b)
{
    char *p = malloc(strlen(a) + strlen(b) + 2);
    assert_non_null(p);
    sprintf(p, "%s/%s", a, b);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Expect `st` == want and the detail message to contain `needle`. */
static void expect_error(int st, int want, const char *needle)
{
    if (st != want)
        fail_msg("got %s (%d), expected %s: %s", rcl_strerror(st), st, rcl_strerror(want),
                 rcl_last_error());
    if (needle && !strstr(rcl_last_error(), needle))
        fail_msg("message \"%s\" does not mention \"%s\"", rcl_last_error(), needle);
}

/* Synthetic CIFAR record content for (file f, record r). */
static uint8_t syn_label(int f, int r) { return (uint8_t)((r * 7 + f * 3 + r / 13) % 10); }
static uint8_t syn_pixel(int f, int r, int j)
{
    uint32_t v = (uint32_t)r * 2654435761u + (uint32_t)j * 40503u + (uint32_t)f * 97531u;
    return (uint8_t)(v >> 15);
}

static void write_cifar(const char *path, int f, size_t bytes)
{
    uint8_t *b = malloc((size_t)REC * RECS);
    assert_non_null(b);
    for (int r = 0; r < RECS; r++) {
        uint8_t *rec = b + (size_t)r * REC;
        rec[0] = syn_label(f, r);
        for (int j = 0; j < 3072; j++) rec[1 + j] = syn_pixel(f, r, j);
    }
    write_bytes(path, b, bytes);
    free(b);
}

static const char *const std_names[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                          "dog", "frog", "horse", "ship", "truck"};

/* --------------------------------------------------- CIFAR-10 binary files */

static void test_cifar_bin_roundtrip(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    char *dir = join(tmp, "cifar-10-batches-bin");   /* nested layout */
    assert_int_equal(mkdir(dir, 0755), 0);
    char name[64];
    for (int f = 0; f < 5; f++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        char *p = join(dir, name);
        write_cifar(p, f, (size_t)REC * RECS);
        free(p);
    }
    char *p = join(dir, "test_batch.bin");
    write_cifar(p, 5, (size_t)REC * RECS);
    free(p);
    const char *meta = "c0\nc1\nc2\r\n  c3  \n\nc4\nc5\nc6\nc7\nc8\nc9\n\n";
    p = join(dir, "batches.meta.txt");
    write_bytes(p, meta, strlen(meta));
    free(p);

    rcl_dataset ds;
    T_OK(rcl_dataset_load(&ds, tmp, "train", NULL));
    assert_int_equal(ds.layout, RCL_LAYOUT_CIFAR_BIN);
    assert_int_equal(ds.n, 50000);
    assert_int_equal(ds.c, 3);
    assert_int_equal(ds.h, 32);
    assert_int_equal(ds.w, 32);
    assert_int_equal(ds.num_classes, 10);
    for (int k = 0; k < 10; k++) {
        snprintf(name, sizeof name, "c%d", k);
        assert_string_equal(ds.class_names[k], name);
    }
    for (int i = 0; i < ds.n; i++) {
        int f = i / RECS, r = i % RECS;
        assert_int_equal(ds.labels[i], syn_label(f, r));
        const uint8_t *img = rcl_dataset_image(&ds, i);
        for (int j = 0; j < 3072; j++)
            if (img[j] != syn_pixel(f, r, j))
                fail_msg("image %d byte %d: %u != %u", i, j, img[j], syn_pixel(f, r, j));
    }
    rcl_dataset_destroy(&ds);
    assert_null(ds.pixels);

    /* test split, first 3 per class in file order */
    rcl_dataset_options o = {.per_class_limit = 3};
    T_OK(rcl_dataset_load(&ds, tmp, "test", &o));
    assert_int_equal(ds.n, 30);
    int seen[10] = {0}, i = 0;
    for (int r = 0; r < RECS && i < 30; r++) {
        int l = syn_label(5, r);
        if (seen[l] >= 3) continue;
        seen[l]++;
        assert_int_equal(ds.labels[i], l);
        assert_int_equal(rcl_dataset_image(&ds, i)[100], syn_pixel(5, r, 100));
        i++;
    }
    assert_int_equal(i, 30);
    rcl_dataset_destroy(&ds);

    /* resize option on binary data = rcl_resize_bilinear of each image */
    rcl_dataset_options ro = {.per_class_limit = 1, .resize = 16};
    T_OK(rcl_dataset_load(&ds, dir, "test", &ro));   /* direct layout too */
    assert_int_equal(ds.h, 16);
    assert_int_equal(ds.w, 16);
    rcl_dataset full;
    T_OK(rcl_dataset_load(&full, dir, "test", &(rcl_dataset_options){.per_class_limit = 1}));
    uint8_t small[3 * 16 * 16];
    for (int k = 0; k < ds.n; k++) {
        T_OK(rcl_resize_bilinear(small, 16, 16, rcl_dataset_image(&full, k), 3, 32, 32));
        assert_memory_equal(small, rcl_dataset_image(&ds, k), sizeof small);
    }
    rcl_dataset_destroy(&full);
    rcl_dataset_destroy(&ds);

    rm_rf(tmp);
    free(dir);
    free(tmp);
}

static void test_cifar_bin_errors(void **state)
{
    (void)state;
    char *tmp = tmp_dir();
    rcl_dataset ds;

    /* nothing there */
    expect_error(rcl_dataset_load(&ds, tmp, "train", NULL), RCL_ERR_NOT_FOUND, "looked for");
    char *nowhere = join(tmp, "does-not-exist");
    expect_error(rcl_dataset_load(&ds, nowhere, "test", NULL), RCL_ERR_NOT_FOUND, "does-not-exist");
    free(nowhere);

    /* one valid batch, linked as data_batch_1,2,4,5: data_batch_3 missing */
    char *good = join(tmp, "good.bin");
    write_cifar(good, 0, (size_t)REC * RECS);
    const int present[4] = {1, 2, 4, 5};
    char name[64];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", present[k]);
        char *p = join(tmp, name);
        assert_int_equal(symlink(good, p), 0);
        free(p);
    }
    expect_error(rcl_dataset_load(&ds, tmp, "train", NULL), RCL_ERR_NOT_FOUND, "data_batch_3.bin");
    assert_null(ds.pixels);
    /* no test_batch.bin */
    expect_error(rcl_dataset_load(&ds, tmp, "test", NULL), RCL_ERR_NOT_FOUND, "test_batch.bin");
    /* split name */
    expect_error(rcl_dataset_load(&ds, tmp, "val", NULL), RCL_ERR_INVALID, "val");

    /* truncated by one byte */
    char *tb = join(tmp, "test_batch.bin");
    write_cifar(tb, 0, (size_t)REC * RECS - 1);
    expect_error(rcl_dataset_load(&ds, tmp, "test", NULL), RCL_ERR_FORMAT, "test_batch.bin");
    assert_non_null(strstr(rcl_last_error(), "30729999"));
    /* one byte too many */
    write_cifar(tb, 0, (size_t)REC * RECS);
    FILE *f = fopen(tb, "ab");
    fputc(0, f);
    fclose(f);
    expect_error(rcl_dataset_load(&ds, tmp, "test", NULL), RCL_ERR_FORMAT, "test_batch.bin");

    /* label 10 in record 1234 */
    size_t n;
    uint8_t *b = read_bytes(good, &n);
    b[(size_t)1234 * REC] = 10;
    write_bytes(tb, b, n);
    expect_error(rcl_dataset_load(&ds, tmp, "test", NULL), RCL_ERR_FORMAT, "test_batch.bin");
    assert_non_null(strstr(rcl_last_error(), "label 10"));
    assert_non_null(strstr(rcl_last_error(), "1234"));
    b[(size_t)1234 * REC] = 9;
    write_bytes(tb, b, n);
    free(b);
    T_OK(rcl_dataset_load(&ds, tmp, "test", NULL));
    assert_int_equal(ds.labels[1234], 9);
    assert_string_equal(ds.class_names[0], "airplane");   /* no meta file */
    assert_string_equal(ds.class_names[9], "truck");
    rcl_dataset_destroy(&ds);

    /* meta file with too few names */
    char *meta = join(tmp, "batches.meta.txt");
    write_bytes(meta, "a\nb\n", 4);
    expect_error(rcl_dataset_load(&ds, tmp, "test", NULL), RCL_ERR_FORMAT, "batches.meta.txt");
    free(meta);

    /* bad options / arguments */
    expect_error(rcl_dataset_load(&ds, tmp, "test", &(rcl_dataset_options){.per_class_limit = -1}),
                 RCL_ERR_INVALID, NULL);
    expect_error(rcl_dataset_load(NULL, tmp, "test", NULL), RCL_ERR_INVALID, NULL);

    rm_rf(tmp);
    free(tb);
    free(good);
    free(tmp);
}

/* -------------------------------------------------- real CIFAR-10 JPEGs */

static void test_cifar_jpeg_tree(void **state)
{
    (void)state;
    char *root = tu_cifar_jpeg_root();
    rcl_dataset ds;
    rcl_dataset_options o = {.per_class_limit = 200};
    T_OK(rcl_dataset_load(&ds, root, "train", &o));
    assert_int_equal(ds.layout, RCL_LAYOUT_FOLDER);
    assert_int_equal(ds.n, 2000);
    assert_int_equal(ds.c, 3);
    assert_int_equal(ds.h, 32);
    assert_int_equal(ds.w, 32);
    assert_int_equal(ds.num_classes, 10);
    for (int k = 0; k < 10; k++) assert_string_equal(ds.class_names[k], std_names[k]);
    for (int i = 0; i < ds.n; i++) assert_int_equal(ds.labels[i], i / 200);
    /* images in name order: #0 = airplane/0000, #1999 = truck/0199 */
    const int idx[2] = {0, 1999};
    const char *files[2] = {"train/airplane/0000.jpg", "train/truck/0199.jpg"};
    for (int k = 0; k < 2; k++) {
        char *p = join(root, files[k]);
        rcl_image img;
        T_OK(rcl_image_load(p, &img));
        assert_int_equal(img.h, 32);
        assert_int_equal(img.w, 32);
        assert_memory_equal(img.data, rcl_dataset_image(&ds, idx[k]), 3 * 32 * 32);
        rcl_image_free(&img);
        free(p);
    }
    /* real photographs: a plausible mean and a spread of values */
    double sum = 0;
    int lo = 255, hi = 0;
    size_t total = (size_t)ds.n * 3072;
    for (size_t i = 0; i < total; i++) {
        sum += ds.pixels[i];
        if (ds.pixels[i] < lo) lo = ds.pixels[i];
        if (ds.pixels[i] > hi) hi = ds.pixels[i];
    }
    double mean = sum / (double)total;
    if (mean < 90 || mean > 160) fail_msg("mean pixel %g", mean);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 255);
    rcl_dataset_destroy(&ds);

    /* whole test split -> test_batch.bin -> identical data */
    T_OK(rcl_dataset_load(&ds, root, "test", NULL));
    assert_int_equal(ds.n, 10000);
    uint8_t *bin = malloc((size_t)REC * RECS);
    for (int i = 0; i < ds.n; i++) {
        bin[(size_t)i * REC] = (uint8_t)ds.labels[i];
        memcpy(bin + (size_t)i * REC + 1, rcl_dataset_image(&ds, i), 3072);
    }
    char *tmp = tmp_dir();
    char *tb = join(tmp, "test_batch.bin");
    write_bytes(tb, bin, (size_t)REC * RECS);
    free(bin);
    rcl_dataset db;
    T_OK(rcl_dataset_load(&db, tmp, "test", NULL));
    assert_int_equal(db.n, ds.n);
    assert_memory_equal(db.labels, ds.labels, sizeof(int32_t) * ds.n);
    assert_memory_equal(db.pixels, ds.pixels, (size_t)ds.n * 3072);
    for (int k = 0; k < 10; k++) assert_string_equal(db.class_names[k], ds.class_names[k]);
    rcl_dataset_destroy(&db);
    rcl_dataset_destroy(&ds);
    rm_rf(tmp);
    free(tb);
    free(tmp);
    free(root);
}

/* ---------------------------------------------------------- PNG decoding */

#ifdef RCL_HAVE_PNG
/* rows: h rows of packed samples for (color_type, depth). */
static void write_png(const char *path, int w, int h, int ct, int depth, int interlace,
                      uint8_t **rows, const png_color *pal, int npal, const uint8_t *trns,
                      int ntrns)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_int_equal(setjmp(png_jmpbuf(png)), 0);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ct,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static uint8_t val(int c, int y, int x) { return (uint8_t)(c * 83 + y * 37 + x * 11 + 5); }

static void check_rgb(const char *path, int w, int h, uint8_t (*want)(int, int, int))
{
    rcl_image img;
    T_OK(rcl_image_load(path, &img));
    assert_int_equal(img.w, w);
    assert_int_equal(img.h, h);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (img.data[((size_t)c * h + y) * w + x] != want(c, y, x))
                    fail_msg("%s: (c%d,y%d,x%d) = %u, want %u", path, c, y, x,
                             img.data[((size_t)c * h + y) * w + x], want(c, y, x));
    rcl_image_free(&img);
}

static uint8_t grey_val(int c, int y, int x) { (void)c; return val(0, y, x); }
static uint8_t pal_val(int c, int y, int x) { return (uint8_t)(((y * 5 + x) % 7) * 30 + c * 10); }
static uint8_t bit_val(int c, int y, int x) { (void)c; return ((x + y) & 1) ? 255 : 0; }
#endif

static void test_png_decode(void **state)
{
    (void)state;
#ifdef RCL_HAVE_PNG
    char *tmp = tmp_dir();
    enum { W = 7, H = 5 };
    uint8_t buf[H][W * 8];
    uint8_t *rows[H];
    for (int y = 0; y < H; y++) rows[y] = buf[y];
    char *p = join(tmp, "rgb.png");

    /* RGB 8-bit, plain and interlaced */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) buf[y][3 * x + c] = val(c, y, x);
    for (int il = 0; il < 2; il++) {
        write_png(p, W, H, PNG_COLOR_TYPE_RGB, 8, il, rows, NULL, 0, NULL, 0);
        check_rgb(p, W, H, val);
    }
    /* RGBA 16-bit big-endian: high byte kept, alpha dropped */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            for (int c = 0; c < 3; c++) {
                buf[y][8 * x + 2 * c] = val(c, y, x);
                buf[y][8 * x + 2 * c + 1] = (uint8_t)(x * 31 + c);   /* low byte: ignored */
            }
            buf[y][8 * x + 6] = (uint8_t)(y * 40);
            buf[y][8 * x + 7] = 0;
        }
    write_png(p, W, H, PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, rows, NULL, 0, NULL, 0);
    check_rgb(p, W, H, val);
    /* grey 8-bit and grey+alpha 8-bit -> equal channels */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) buf[y][x] = val(0, y, x);
    write_png(p, W, H, PNG_COLOR_TYPE_GRAY, 8, 0, rows, NULL, 0, NULL, 0);
    check_rgb(p, W, H, grey_val);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            buf[y][2 * x] = val(0, y, x);
            buf[y][2 * x + 1] = (uint8_t)(x * 9);
        }
    write_png(p, W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, rows, NULL, 0, NULL, 0);
    check_rgb(p, W, H, grey_val);
    /* grey 1-bit: 0 -> 0, 1 -> 255 */
    memset(buf, 0, sizeof buf);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if ((x + y) & 1) buf[y][x / 8] |= (uint8_t)(0x80 >> (x % 8));
    write_png(p, W, H, PNG_COLOR_TYPE_GRAY, 1, 0, rows, NULL, 0, NULL, 0);
    check_rgb(p, W, H, bit_val);
    /* palette 4-bit with transparency (ignored) */
    png_color pal[7];
    uint8_t trns[7];
    for (int k = 0; k < 7; k++) {
        pal[k].red = (uint8_t)(k * 30);
        pal[k].green = (uint8_t)(k * 30 + 10);
        pal[k].blue = (uint8_t)(k * 30 + 20);
        trns[k] = (uint8_t)(k * 36);
    }
    memset(buf, 0, sizeof buf);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            buf[y][x / 2] |= (uint8_t)(((y * 5 + x) % 7) << (x % 2 ? 0 : 4));
    write_png(p, W, H, PNG_COLOR_TYPE_PALETTE, 4, 0, rows, pal, 7, trns, 7);
    check_rgb(p, W, H, pal_val);

    /* truncated PNG (every cut point from the signature on) -> FORMAT, no exit */
    size_t n;
    uint8_t *bytes = read_bytes(p, &n);
    char *cut = join(tmp, "cut.png");
    for (size_t len = 8; len < n; len += (len < 64 ? 1 : 7)) {
        write_bytes(cut, bytes, len);
        rcl_image img;
        expect_error(rcl_image_load(cut, &img), RCL_ERR_FORMAT, "cut.png");
        assert_null(img.data);
    }
    /* corrupt pixel data (CRC mismatch) */
    bytes[n - 20] ^= 0x55;
    write_bytes(cut, bytes, n);
    rcl_image img;
    expect_error(rcl_image_load(cut, &img), RCL_ERR_FORMAT, "cut.png");
    free(bytes);
    free(cut);
    free(p);
    rm_rf(tmp);
    free(tmp);
#else
    skip();
#endif
}

/* A class-folder tree of PNGs: upper-case extension, non-image files
 * ignored, size mismatch and corrupt file name the file. */
static void test_png_folder(void **state)
{
    (void)state;
#ifdef RCL_HAVE_PNG
    char *tmp = tmp_dir();
    const char *dirs[] = {"train", "train/zeta", "train/alpha"};
    for (int k = 0; k < 3; k++) {
        char *d = join(tmp, dirs[k]);
        assert_int_equal(mkdir(d, 0755), 0);
        free(d);
    }
    uint8_t buf[4][12];
    uint8_t *rows[4] = {buf[0], buf[1], buf[2], buf[3]};
    const char *files[] = {"train/zeta/b.PNG", "train/zeta/a.png", "train/alpha/x.Png"};
    for (int k = 0; k < 3; k++) {
        memset(buf, 10 * (k + 1), sizeof buf);
        char *p = join(tmp, files[k]);
        write_png(p, 4, 4, PNG_COLOR_TYPE_RGB, 8, 0, rows, NULL, 0, NULL, 0);
        free(p);
    }
    char *txt = join(tmp, "train/zeta/notes.txt");
    write_bytes(txt, "hi", 2);
    free(txt);
    rcl_dataset ds;
    T_OK(rcl_dataset_load(&ds, tmp, "train", NULL));
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.num_classes, 2);
    assert_string_equal(ds.class_names[0], "alpha");
    assert_string_equal(ds.class_names[1], "zeta");
    assert_int_equal(ds.labels[0], 0);
    assert_int_equal(ds.labels[1], 1);
    assert_int_equal(ds.labels[2], 1);
    /* sorted by name: alpha/x (30), zeta/a.png (20), zeta/b.PNG (10) */
    assert_int_equal(rcl_dataset_image(&ds, 0)[0], 30);
    assert_int_equal(rcl_dataset_image(&ds, 1)[0], 20);
    assert_int_equal(rcl_dataset_image(&ds, 2)[47], 10);
    rcl_dataset_destroy(&ds);

    /* a 3x4 image among 4x4 ones */
    char *odd = join(tmp, "train/zeta/c.png");
    write_png(odd, 4, 3, PNG_COLOR_TYPE_RGB, 8, 0, rows, NULL, 0, NULL, 0);
    expect_error(rcl_dataset_load(&ds, tmp, "train", NULL), RCL_ERR_FORMAT, "c.png");
    assert_null(ds.pixels);
    /* ... fine with resize */
    T_OK(rcl_dataset_load(&ds, tmp, "train", &(rcl_dataset_options){.resize = 4}));
    assert_int_equal(ds.n, 4);
    rcl_dataset_destroy(&ds);
    /* ... and per_class_limit 2 leaves c.png out */
    T_OK(rcl_dataset_load(&ds, tmp, "train", &(rcl_dataset_options){.per_class_limit = 2}));
    assert_int_equal(ds.n, 3);
    rcl_dataset_destroy(&ds);
    /* corrupt file */
    write_bytes(odd, "\x89PNG\r\n\x1a\nxxxx", 12);
    expect_error(rcl_dataset_load(&ds, tmp, "train", NULL), RCL_ERR_FORMAT, "c.png");
    free(odd);
    /* a class folder without images, a split without class folders */
    char *empty = join(tmp, "test");
    assert_int_equal(mkdir(empty, 0755), 0);
    expect_error(rcl_dataset_load(&ds, tmp, "test", NULL), RCL_ERR_NOT_FOUND, "test");
    free(empty);
    empty = join(tmp, "test/cls");
    assert_int_equal(mkdir(empty, 0755), 0);
    expect_error(rcl_dataset_load(&ds, tmp, "test", NULL), RCL_ERR_NOT_FOUND, "no .jpg");
    free(empty);
    /* an empty class folder among full ones is refused, naming it (it would
     * shift the labels of the classes after it) */
    char *mid = join(tmp, "train/mid");
    assert_int_equal(mkdir(mid, 0755), 0);
    expect_error(rcl_dataset_load(&ds, tmp, "train", &(rcl_dataset_options){.per_class_limit = 2}),
                 RCL_ERR_FORMAT, "class folder 'mid' has no .jpg/.jpeg/.png files");
    assert_null(ds.pixels);
    free(mid);
    /* an image of another size: the hint names no option that no command has */
    char *big = join(tmp, "train/alpha/y.png");
    uint8_t wide[4][18];
    uint8_t *wrows[4] = {wide[0], wide[1], wide[2], wide[3]};
    memset(wide, 7, sizeof wide);
    write_png(big, 6, 4, PNG_COLOR_TYPE_RGB, 8, 0, wrows, NULL, 0, NULL, 0);
    char *mid2 = join(tmp, "train/mid");
    assert_int_equal(rmdir(mid2), 0);
    free(mid2);
    expect_error(rcl_dataset_load(&ds, tmp, "train", &(rcl_dataset_options){.per_class_limit = 2}),
                 RCL_ERR_FORMAT, "y.png: image is 4x6 (HxW) but the split's first image is 4x4; "
                                 "every image of a split must have one size");
    assert_null(strstr(rcl_last_error(), "resize option"));
    free(big);
    rm_rf(tmp);
    free(tmp);
#else
    skip();
#endif
}

/* ---------------------------------------------------------- JPEG decoding */

static void test_grey_jpeg(void **state)
{
    (void)state;
    const char *data = getenv("RESNET_CL_DATA");
    if (!data) fail_msg("RESNET_CL_DATA not set");
    char *p = join(data, "imagenet-sample/n03908714/n03908714_pencil_sharpener.JPEG");
    rcl_image img;
#ifdef RCL_HAVE_JPEG
    T_OK(rcl_image_load(p, &img));
    assert_int_equal(img.w, 333);
    assert_int_equal(img.h, 500);
    size_t plane = (size_t)img.w * img.h;
    int lo = 255, hi = 0;
    for (size_t i = 0; i < plane; i++) {
        assert_int_equal(img.data[i], img.data[plane + i]);
        assert_int_equal(img.data[i], img.data[2 * plane + i]);
        if (img.data[i] < lo) lo = img.data[i];
        if (img.data[i] > hi) hi = img.data[i];
    }
    assert_true(hi - lo > 100);
    rcl_image_free(&img);
#else
    expect_error(rcl_image_load(p, &img), RCL_ERR_UNSUPPORTED, "JPEG");
#endif
    free(p);
}

/* The 100-image ImageNet sample as a class-folder tree (no split level):
 * varied sizes need the resize option. */
static void test_imagenet_folder(void **state)
{
    (void)state;
#ifdef RCL_HAVE_JPEG
    const char *data = getenv("RESNET_CL_DATA");
    if (!data) fail_msg("RESNET_CL_DATA not set");
    char *root = join(data, "imagenet-sample");
    rcl_dataset ds;
    expect_error(rcl_dataset_load(&ds, root, NULL, NULL), RCL_ERR_FORMAT, ".JPEG");
    T_OK(rcl_dataset_load(&ds, root, "", &(rcl_dataset_options){.resize = 48}));
    assert_int_equal(ds.n, 100);
    assert_int_equal(ds.num_classes, 100);
    assert_int_equal(ds.h, 48);
    assert_int_equal(ds.w, 48);
    assert_string_equal(ds.class_names[0], "n01440764");
    for (int i = 0; i < 100; i++) assert_int_equal(ds.labels[i], i);
    rcl_dataset_destroy(&ds);
    free(root);
#else
    skip();
#endif
}

static void test_truncated_jpeg(void **state)
{
    (void)state;
#ifdef RCL_HAVE_JPEG
    char *root = tu_cifar_jpeg_root();
    char *src = join(root, "test/cat/0000.jpg");
    size_t n;
    uint8_t *b = read_bytes(src, &n);
    char *tmp = tmp_dir();
    char *p = join(tmp, "cut.jpg");
    rcl_image img;
    for (size_t len = 0; len < n - 2; len += 23) {   /* cut before the EOI marker */
        write_bytes(p, b, len);
        int st = rcl_image_load(p, &img);
        expect_error(st, RCL_ERR_FORMAT, "cut.jpg");
        assert_null(img.data);
    }
    write_bytes(p, "hello, world", 12);
    expect_error(rcl_image_load(p, &img), RCL_ERR_FORMAT, "not a JPEG or PNG");
    /* inside a class tree: the error names the file */
    char *d = join(tmp, "train");
    assert_int_equal(mkdir(d, 0755), 0);
    free(d);
    d = join(tmp, "train/cat");
    assert_int_equal(mkdir(d, 0755), 0);
    char *good = join(d, "0.jpg"), *bad = join(d, "1.jpg");
    write_bytes(good, b, n);
    write_bytes(bad, b, n / 2);
    rcl_dataset ds;
    expect_error(rcl_dataset_load(&ds, tmp, "train", NULL), RCL_ERR_FORMAT, "train/cat/1.jpg");
    write_bytes(bad, b, n);
    T_OK(rcl_dataset_load(&ds, tmp, "train", NULL));
    assert_int_equal(ds.n, 2);
    assert_memory_equal(rcl_dataset_image(&ds, 0), rcl_dataset_image(&ds, 1), 3072);
    rcl_dataset_destroy(&ds);
    free(good);
    free(bad);
    free(d);
    free(b);
    free(p);
    free(src);
    free(root);
    rm_rf(tmp);
    free(tmp);
#else
    skip();
#endif
}

#ifdef RCL_HAVE_JPEG
/* CMYK JPEG written by libjpeg (which adds an Adobe marker: inverted
 * values, 255 = no ink); constant colour so compression is near exact. */
static void test_cmyk_jpeg(void **state)
{
    (void)state;
    enum { W = 16, H = 8 };
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned char *mem = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&ci, &mem, &len);
    ci.image_width = W;
    ci.image_height = H;
    ci.input_components = 4;
    ci.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 100, TRUE);
    jpeg_start_compress(&ci, TRUE);
    uint8_t row[W * 4];
    for (int x = 0; x < W; x++) {
        row[4 * x] = 200;
        row[4 * x + 1] = 100;
        row[4 * x + 2] = 50;
        row[4 * x + 3] = 128;
    }
    while (ci.next_scanline < H) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    rcl_image img;
    T_OK(rcl_image_decode(mem, len, "cmyk", &img));
    assert_int_equal(img.w, W);
    assert_int_equal(img.h, H);
    const int want[3] = {200 * 128 / 255, 100 * 128 / 255, 50 * 128 / 255};
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < W * H; i++) {
            int v = img.data[c * W * H + i];
            if (abs(v - want[c]) > 2) fail_msg("channel %d pixel %d: %d, want ~%d", c, i, v, want[c]);
        }
    rcl_image_free(&img);
    free(mem);
}
#endif

/* ---------------------------------------------------------------- resize */

static void test_resize(void **state)
{
    (void)state;
    uint8_t src[2 * 4 * 4], dst[2 * 8 * 8];
    for (int i = 0; i < 32; i++) src[i] = (uint8_t)(i * 7);
    /* same size: copy */
    T_OK(rcl_resize_bilinear(dst, 4, 4, src, 2, 4, 4));
    assert_memory_equal(dst, src, 32);
    /* 2x down: mean of each 2x2 block, rounded half up */
    T_OK(rcl_resize_bilinear(dst, 2, 2, src, 2, 4, 4));
    for (int c = 0; c < 2; c++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++) {
                const uint8_t *s = src + c * 16 + 2 * y * 4 + 2 * x;
                int sum = s[0] + s[1] + s[4] + s[5];
                assert_int_equal(dst[c * 4 + y * 2 + x], (sum + 2) / 4);
            }
    /* 2x up of a 1x2 ramp: 0 25 75 100 (edge clamped) */
    const uint8_t ramp[2] = {0, 100};
    T_OK(rcl_resize_bilinear(dst, 1, 4, ramp, 1, 1, 2));
    assert_int_equal(dst[0], 0);
    assert_int_equal(dst[1], 25);
    assert_int_equal(dst[2], 75);
    assert_int_equal(dst[3], 100);
    /* constant stays constant at any size */
    memset(src, 77, sizeof src);
    T_OK(rcl_resize_bilinear(dst, 7, 5, src, 1, 4, 4));
    for (int i = 0; i < 35; i++) assert_int_equal(dst[i], 77);
    expect_error(rcl_resize_bilinear(dst, 0, 4, src, 1, 4, 4), RCL_ERR_INVALID, NULL);
    expect_error(rcl_resize_bilinear(NULL, 4, 4, src, 1, 4, 4), RCL_ERR_INVALID, NULL);
}

static void test_image_load_errors(void **state)
{
    (void)state;
    rcl_image img;
    char *tmp = tmp_dir();
    char *p = join(tmp, "nope.jpg");
    expect_error(rcl_image_load(p, &img), RCL_ERR_NOT_FOUND, "nope.jpg");
    expect_error(rcl_image_load(tmp, &img), RCL_ERR_IO, "rcl_data_");
    write_bytes(p, "", 0);
    expect_error(rcl_image_load(p, &img), RCL_ERR_FORMAT, "nope.jpg");
    expect_error(rcl_image_load(NULL, &img), RCL_ERR_INVALID, NULL);
    free(p);
    rm_rf(tmp);
    free(tmp);
}

/* The in-memory CIFAR-10 batch checks the fuzz target tests/fuzz/fuzz_cifar_bin.c
 * drives: whole records only, labels 0..9, per-class limit, meta names. */
static void test_cifar_bin_memory(void **state)
{
    (void)state;
    enum { R = 3073 };
    uint8_t *buf = calloc(3, R);
    assert_non_null(buf);
    buf[0] = 1, buf[R] = 1, buf[2 * R] = 9;
    assert_int_equal(rcl_cifar_bin_check(buf, 3 * R, 0, "mem"), RCL_OK);
    assert_int_equal(rcl_cifar_bin_check(buf, 3 * R, 3, "mem"), RCL_OK);
    assert_int_equal(rcl_cifar_bin_check(buf, 3 * R, 2, "mem"), RCL_ERR_FORMAT);
    assert_int_equal(rcl_cifar_bin_check(buf, 3 * R - 1, 0, "mem"), RCL_ERR_FORMAT);
    assert_int_equal(rcl_cifar_bin_check(buf, 0, 0, "mem"), RCL_OK);
    rcl_dataset ds = {0};
    ds.pixels = malloc(3 * 3072);
    ds.labels = malloc(3 * sizeof(int32_t));
    int per_class[10] = {0};
    rcl_cifar_bin_append(&ds, buf, 3, per_class, 1); /* one of class 1, one of class 9 */
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.labels[0], 1);
    assert_int_equal(ds.labels[1], 9);
    free(ds.pixels);
    free(ds.labels);
    buf[R] = 10;
    assert_int_equal(rcl_cifar_bin_check(buf, 3 * R, 0, "mem"), RCL_ERR_FORMAT);
    assert_non_null(strstr(rcl_last_error(), "record 1 has label 10"));
    free(buf);

    char *names[3] = {0};
    const char *meta = " a \r\n\n\tb\nc\nignored";
    assert_int_equal(rcl_cifar_bin_parse_names(names, 3, (const uint8_t *)meta, strlen(meta), "m"),
                     RCL_OK);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "b");
    assert_string_equal(names[2], "c");
    for (int i = 0; i < 3; i++) free(names[i]), names[i] = NULL;
    assert_int_equal(rcl_cifar_bin_parse_names(names, 3, (const uint8_t *)"x\n\ny", 4, "m"),
                     RCL_ERR_FORMAT);
    for (int i = 0; i < 3; i++) free(names[i]);
    assert_int_equal(rcl_cifar_bin_parse_names(names, 3, NULL, 0, "m"), RCL_ERR_FORMAT);
}

/* Found by tests/fuzz/fuzz_image.c: a ~1 KB JPEG whose header claims
 * 16384x16384 made the decoder allocate 1.7 GB (progressive) and run for
 * 6-12 s before failing. An image may claim at most 16384 pixels per byte
 * of its file above 2^24 pixels; the check comes before libjpeg's
 * jpeg_start_decompress allocates anything. */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void test_image_claims_too_many_pixels(void **state)
{
    (void)state;
    rcl_image img;
#ifdef RCL_HAVE_JPEG
    char *root = tu_cifar_jpeg_root();
    char *src = join(root, "test/cat/0000.jpg");
    size_t n;
    uint8_t *b = read_bytes(src, &n);
    assert_int_equal(rcl_image_decode(b, n, "cat.jpg", &img), RCL_OK); /* as it is */
    rcl_image_free(&img);
    size_t sof = 2;
    while (sof + 9 < n && !(b[sof] == 0xFF && (b[sof + 1] == 0xC0 || b[sof + 1] == 0xC2))) sof++;
    assert_true(sof + 9 < n);
    b[sof + 5] = 0x40, b[sof + 6] = 0x00, b[sof + 7] = 0x40, b[sof + 8] = 0x00; /* 16384 x 16384 */
    expect_error(rcl_image_decode(b, n, "big.jpg", &img), RCL_ERR_FORMAT,
                 "claims 16384x16384 pixels");
    assert_null(img.data);
    free(b);
    free(src);
    free(root);
#endif
#ifdef RCL_HAVE_PNG
    char *tmp = tmp_dir();
    char *p = join(tmp, "small.png");
    uint8_t px[8 * 8 * 3] = {0}, *rows[8];
    for (int y = 0; y < 8; y++) rows[y] = px + y * 24;
    write_png(p, 8, 8, PNG_COLOR_TYPE_RGB, 8, 0, rows, NULL, 0, NULL, 0);
    size_t pn;
    uint8_t *pb = read_bytes(p, &pn);
    assert_int_equal(rcl_image_decode(pb, pn, "small.png", &img), RCL_OK);
    rcl_image_free(&img);
    put_be32(pb + 16, 16384); /* IHDR width, height, then its CRC */
    put_be32(pb + 20, 16384);
    put_be32(pb + 29, crc32_of(pb + 12, 17));
    expect_error(rcl_image_decode(pb, pn, "big.png", &img), RCL_ERR_FORMAT,
                 "claims 16384x16384 pixels");
    assert_null(img.data);
    free(pb);
    free(p);
    rm_rf(tmp);
    free(tmp);
#endif
    (void)img;
}

/* Class lists compared by name: a renamed, extra or missing class is
 * refused with both lists in the message; long lists are cut. */
static void test_class_lists(void **state)
{
    (void)state;
    char *a[] = {"cat", "dog", "frog"}, *b[] = {"cat", "dog", "horse"}, *c[] = {"cat", "dog", "frog", "horse"};
    T_OK(rcl_class_lists_check("train/", a, 3, "test/", a, 3));
    expect_error(rcl_class_lists_check("train/", a, 3, "test/", b, 3), RCL_ERR_INVALID,
                 "class lists differ: train/ has 3 (cat, dog, frog), test/ has 3 (cat, dog, horse); "
                 "label 2 is 'frog' in one and 'horse' in the other");
    expect_error(rcl_class_lists_check("train/", a, 3, "test/", c, 4), RCL_ERR_INVALID,
                 "label 3 ('horse') exists only in test/");
    expect_error(rcl_class_lists_check("train/", c, 4, "test/", a, 3), RCL_ERR_INVALID,
                 "label 3 ('horse') exists only in train/");
    /* a thousand classes: the message stays short and says how many were cut */
    char *many[1000], *other[1000];
    char names[1000][16];
    for (int k = 0; k < 1000; k++) {
        snprintf(names[k], sizeof names[k], "class%04d", k);
        many[k] = other[k] = names[k];
    }
    other[999] = "zebra";
    expect_error(rcl_class_lists_check("a", many, 1000, "b", other, 1000), RCL_ERR_INVALID,
                 "label 999 is 'class0999' in one and 'zebra' in the other");
    assert_non_null(strstr(rcl_last_error(), " more)"));
    assert_true(strlen(rcl_last_error()) < 3000);
    /* datasets and a checkpoint's comma-separated list */
    rcl_dataset tr, te;
    T_OK(rcl_dataset_alloc(&tr, 1, 3, 2, 2, 3));
    T_OK(rcl_dataset_alloc(&te, 1, 3, 2, 2, 3));
    T_OK(rcl_dataset_check_classes(&tr, "train/", &te, "test/"));
    T_OK(rcl_dataset_check_class_csv(&tr, "data", "0,1,2", "ckpt"));
    snprintf(te.class_names[1], 16, "one"); /* rcl_dataset_alloc: 16 bytes per name */
    expect_error(rcl_dataset_check_classes(&tr, "train/", &te, "test/"), RCL_ERR_INVALID,
                 "train/ has 3 (0, 1, 2), test/ has 3 (0, one, 2)");
    expect_error(rcl_dataset_check_class_csv(&tr, "data", "0,1", "ckpt"), RCL_ERR_INVALID,
                 "ckpt has 2 (0, 1), data has 3 (0, 1, 2); label 2 ('2') exists only in data");
    expect_error(rcl_dataset_check_class_csv(&tr, "data", "0,1,2,3", "ckpt"), RCL_ERR_INVALID,
                 "label 3 ('3') exists only in ckpt");
    rcl_dataset_destroy(&tr);
    rcl_dataset_destroy(&te);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cifar_bin_roundtrip),
        cmocka_unit_test(test_cifar_bin_errors),
        cmocka_unit_test(test_cifar_jpeg_tree),
        cmocka_unit_test(test_class_lists),
        cmocka_unit_test(test_png_decode),
        cmocka_unit_test(test_png_folder),
        cmocka_unit_test(test_grey_jpeg),
        cmocka_unit_test(test_imagenet_folder),
        cmocka_unit_test(test_truncated_jpeg),
#ifdef RCL_HAVE_JPEG
        cmocka_unit_test(test_cmyk_jpeg),
#endif
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_image_load_errors),
        cmocka_unit_test(test_cifar_bin_memory),
        cmocka_unit_test(test_image_claims_too_many_pixels),
    };
    return cmocka_run_group_tests_name("host_data", tests, NULL, NULL);
}
