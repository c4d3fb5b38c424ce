/* conv2d: reference backward vs finite differences, device forward and
 * backward vs the reference, over the im2col path (several strides, pads,
 * non-square kernels), the 1x1 GEMM path, a multi-chunk run (small column
 * budget, counted through the profiler), and invalid arguments. The path
 * chooser: each pass forced onto the direct kernels (cl/conv_direct.cl) and
 * onto im2col + GEMM, on odd shapes, with the kernels that ran counted by
 * profiling tag; a shape's own FWD/DX/DW entries; dropped dead taps (1x1
 * and 2x2 maps); the pure rules (live taps, the chooser) on the host. */
#include "harness.h"
#include "ref/ref_conv2d.h"
#include "ops/conv2d_direct.h"
#include "ops/conv2d_dw_rows.h"
#include "ops/conv2d_wino.h"
#include "gemm/gemm_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* > 0: conv_case's forward pass and data gradient may be off by this much
 * of the tensor's largest |value| (Winograd F(4x4)'s error follows the
 * magnitude of the tile's terms, not of each output: docs/semantics.md) */
static double conv_rel_atol;

/* conv_case's absolute tolerance for ref (n values): 1e-4, or
 * conv_rel_atol of its largest |value| where that is more */
static double wide_atol(const double *ref, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(ref[i]) > m ? fabs(ref[i]) : m;
    return conv_rel_atol * m > 1e-4 ? conv_rel_atol * m : 1e-4;
}

/* loss = sum(conv(x, w) + b) * proj); `which` selects the argument varied */
typedef struct conv_fd {
    const ref_conv2d_shape *s;
    const double *x, *w, *b, *proj;
    int which;   /* 0 x, 1 w, 2 b */
    double *y;
} conv_fd;

static double conv_loss(void *ud, const double *v)
{
    conv_fd *f = ud;
    ref_conv2d_forward(f->y, f->which == 0 ? v : f->x, f->which == 1 ? v : f->w,
                       f->which == 2 ? v : f->b, f->s);
    size_t ny = (size_t)f->s->n * f->s->oc * f->s->oh * f->s->ow;
    double acc = 0;
    for (size_t i = 0; i < ny; i++) acc += f->y[i] * f->proj[i];
    return acc;
}

static void fd_check(const char *what, conv_fd *f, int which, const double *v, size_t n,
                     const double *want)
{
    double *copy = malloc(n * sizeof *copy), *g = malloc(n * sizeof *g);
    memcpy(copy, v, n * sizeof *copy);
    f->which = which;
    tu_fd_grad(conv_loss, f, copy, n, 1e-3, g);
    /* the loss is linear in each argument: central differences are exact
     * up to rounding */
    assert_true(tu_close_d(what, want, g, n, 1e-7, 1e-8));
    free(copy), free(g);
}

typedef struct conv_case_t {
    int n, c, h, w, oc, kh, kw, sh, sw, ph, pw;
    int bias;
    int fd;   /* check the reference against finite differences */
} conv_case_t;

static void conv_case(const conv_case_t *cc, uint64_t seed)
{
    ref_conv2d_shape s = {cc->n, cc->c, cc->h, cc->w, cc->oc, cc->kh, cc->kw,
                          cc->sh, cc->sw, cc->ph, cc->pw, 0, 0};
    assert_true(ref_conv2d_shape_init(&s));
    assert_int_equal(rcl_conv_out_size(s.h, s.kh, s.sh, s.ph), s.oh);
    assert_int_equal(rcl_conv_out_size(s.w, s.kw, s.sw, s.pw), s.ow);
    size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.oc * s.c * s.kh * s.kw;
    size_t ny = (size_t)s.n * s.oc * s.oh * s.ow, nb = (size_t)s.oc;

    tu_rng r = tu_rng_seed(seed);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(nb * 4), *dy = malloc(ny * 4);
    tu_fill(&r, x, nx, -1, 1);
    tu_fill(&r, w, nw, -1, 1);
    tu_fill(&r, b, nb, -1, 1);
    tu_fill(&r, dy, ny, -1, 1);
    double *xd = tu_f2d(x, nx), *wd = tu_f2d(w, nw), *bd = tu_f2d(b, nb), *dyd = tu_f2d(dy, ny);
    double *yref = malloc(ny * 8), *dxref = malloc(nx * 8), *dwref = malloc(nw * 8);
    double *dbref = malloc(nb * 8);
    ref_conv2d_forward(yref, xd, wd, cc->bias ? bd : NULL, &s);
    ref_conv2d_backward(dxref, dwref, dbref, dyd, xd, wd, &s);

    if (cc->fd) {
        double *ytmp = malloc(ny * 8);
        conv_fd f = {&s, xd, wd, bd, dyd, 0, ytmp};
        fd_check("conv ref dx vs fd", &f, 0, xd, nx, dxref);
        fd_check("conv ref dw vs fd", &f, 1, wd, nw, dwref);
        fd_check("conv ref db vs fd", &f, 2, bd, nb, dbref);
        free(ytmp);
    }

    rcl_tensor tx, tw, tb, ty, tdy, tdx, tdw, tdb;
    tu_tensor(&tx, s.n, s.c, s.h, s.w, x);
    tu_tensor(&tw, s.oc, s.c, s.kh, s.kw, w);
    tu_tensor(&tb, s.oc, 1, 1, 1, b);
    tu_tensor(&ty, s.n, s.oc, s.oh, s.ow, NULL);
    tu_tensor(&tdy, s.n, s.oc, s.oh, s.ow, dy);
    tu_tensor(&tdx, s.n, s.c, s.h, s.w, NULL);
    tu_tensor(&tdw, s.oc, s.c, s.kh, s.kw, NULL);
    tu_tensor(&tdb, s.oc, 1, 1, 1, NULL);
    /* garbage in the outputs: forward and backward must overwrite */
    T_OK(rcl_tensor_fill(T_CTX, &ty, 1234.5f));
    T_OK(rcl_tensor_fill(T_CTX, &tdx, 1234.5f));
    T_OK(rcl_tensor_fill(T_CTX, &tdw, 1234.5f));
    T_OK(rcl_tensor_fill(T_CTX, &tdb, 1234.5f));
    rcl_conv2d_desc d = {s.kh, s.kw, s.sh, s.sw, s.ph, s.pw};
    T_OK(rcl_conv2d_forward(T_CTX, &ty, &tx, &tw, cc->bias ? &tb : NULL, &d));
    T_OK(rcl_conv2d_backward(T_CTX, &tdx, &tdw, &tdb, &tdy, &tx, &tw, &d));
    float *y = tu_read(&ty), *dx = tu_read(&tdx), *dw = tu_read(&tdw), *db = tu_read(&tdb);
    assert_true(tu_close_f("conv forward", y, yref, ny, 1e-4, wide_atol(yref, ny)));
    assert_true(tu_close_f("conv dx", dx, dxref, nx, 1e-4, wide_atol(dxref, nx)));
    assert_true(tu_close_f("conv dw", dw, dwref, nw, 1e-4, 1e-4));
    assert_true(tu_close_f("conv db", db, dbref, nb, 1e-4, 1e-4));
    free(dx), free(dw);

    /* each gradient alone (the others NULL) gives the same result */
    T_OK(rcl_tensor_fill(T_CTX, &tdx, 1234.5f));
    T_OK(rcl_tensor_fill(T_CTX, &tdw, 1234.5f));
    T_OK(rcl_conv2d_backward(T_CTX, &tdx, NULL, NULL, &tdy, &tx, &tw, &d));
    T_OK(rcl_conv2d_backward(T_CTX, NULL, &tdw, NULL, &tdy, &tx, &tw, &d));
    dx = tu_read(&tdx), dw = tu_read(&tdw);
    assert_true(tu_close_f("conv dx alone", dx, dxref, nx, 1e-4, wide_atol(dxref, nx)));
    assert_true(tu_close_f("conv dw alone", dw, dwref, nw, 1e-4, 1e-4));

    rcl_tensor *all[] = {&tx, &tw, &tb, &ty, &tdy, &tdx, &tdw, &tdb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rcl_tensor_destroy(all[i]);
    free(x), free(w), free(b), free(dy), free(xd), free(wd), free(bd), free(dyd);
    free(yref), free(dxref), free(dwref), free(dbref), free(y), free(dx), free(dw), free(db);
}

static void test_conv_3x3(void **state)
{
    (void)state;
    conv_case(&(conv_case_t){3, 5, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1}, 1);
    conv_case(&(conv_case_t){3, 5, 7, 7, 4, 3, 3, 1, 1, 1, 1, 0, 0}, 2);
    /* stride 2 pad 1 on odd, non-square sizes */
    conv_case(&(conv_case_t){2, 3, 9, 7, 4, 3, 3, 2, 2, 1, 1, 0, 1}, 3);
    conv_case(&(conv_case_t){3, 4, 7, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1}, 4);
    /* pad 0, and pad > k/2 with stride 3 */
    conv_case(&(conv_case_t){2, 3, 6, 5, 2, 3, 3, 1, 1, 0, 0, 1, 1}, 5);
    conv_case(&(conv_case_t){2, 2, 5, 5, 3, 3, 3, 3, 3, 2, 2, 1, 1}, 6);
}

static void test_conv_stem(void **state)
{
    (void)state;
    /* ResNet stem: 7x7 stride 2 pad 3 (the rule: the forward on the direct
     * kernel, its 49 taps in a loop; the gradients on im2col) */
    conv_case(&(conv_case_t){2, 3, 11, 11, 4, 7, 7, 2, 2, 3, 3, 0, 1}, 11);
    conv_case(&(conv_case_t){2, 3, 16, 13, 8, 7, 7, 2, 2, 3, 3, 1, 0}, 12);
}

static void test_conv_1x1(void **state)
{
    (void)state;
    /* stride 1 pad 0, one image: the direct GEMM path */
    conv_case(&(conv_case_t){1, 5, 7, 7, 6, 1, 1, 1, 1, 0, 0, 1, 1}, 25);
    conv_case(&(conv_case_t){1, 16, 5, 3, 8, 1, 1, 1, 1, 0, 0, 0, 0}, 26);
    /* stride 1 pad 0, several images: through im2col */
    conv_case(&(conv_case_t){3, 5, 7, 7, 6, 1, 1, 1, 1, 0, 0, 1, 1}, 21);
    conv_case(&(conv_case_t){2, 16, 5, 3, 8, 1, 1, 1, 1, 0, 0, 0, 0}, 22);
    /* stride 2 (projection shortcut): through im2col */
    conv_case(&(conv_case_t){3, 5, 7, 7, 6, 1, 1, 2, 2, 0, 0, 0, 1}, 23);
    conv_case(&(conv_case_t){2, 4, 8, 8, 8, 1, 1, 2, 2, 0, 0, 1, 0}, 24);
}

static void test_conv_nonsquare_kernel(void **state)
{
    (void)state;
    /* 3x2 kernel, different strides and pads per axis */
    conv_case(&(conv_case_t){2, 3, 8, 6, 4, 3, 2, 2, 1, 1, 0, 1, 1}, 31);
    conv_case(&(conv_case_t){2, 2, 7, 9, 3, 2, 3, 1, 2, 0, 1, 0, 1}, 32);
}

static int im2col_launches;
static void count_im2col(void *user, const char *tag, cl_event ev)
{
    (void)user, (void)ev;
    if (!strcmp(tag, "im2col")) im2col_launches++;
}

/* launches per profiling tag of the path test below */
enum { T_FWD_GEMM, T_DX_GEMM, T_DW_GEMM, T_FWD_DIRECT, T_DX_DIRECT, T_DW_DIRECT, T_PAD, T_TAPS,
       T_FWD_WINO, T_DX_WINO, T_DW_WINO, T_RELU, T_ADD, T_IM2COL, T_COL2IM, T_REORDER,
       T_DENSE, T_TRANSPOSE, T_DW_ROWS, T_NTAGS };
static const char *const tag_names[T_NTAGS] = {
    "conv_fwd_gemm",       "conv_bwd_data_gemm",   "conv_bwd_weight_gemm",
    "conv_fwd_direct",     "conv_bwd_data_direct", "conv_bwd_weight_direct",
    "conv_pad",            "conv_taps",            "conv_fwd_wino",
    "conv_bwd_data_wino",  "conv_bwd_weight_wino", "relu",
    "add",                 "im2col",               "col2im",
    "reorder",             "conv_dense",           "transpose",
    "conv_bwd_weight_rows"};
static int tag_count[T_NTAGS];
static void count_tags(void *user, const char *tag, cl_event ev)
{
    (void)user, (void)ev;
    for (int i = 0; i < T_NTAGS; i++)
        if (!strcmp(tag, tag_names[i])) tag_count[i]++;
}

static void test_conv_multichunk(void **state)
{
    (void)state;
    /* 11 images, 3x3 pad 1 on 16x14x14: col is 144 x 196 floats = 110 KiB
     * per image, so a 1 MiB budget gives 9 images per chunk, balanced into
     * 2 chunks (6 + 5); the weight gradient accumulates over them. Run on a
     * profiling context to count the im2col launches. */
    rcl_ctx *keep = T_CTX, *prof;
    rcl_ctx_options opt = {.profiling = 1};
    T_OK(rcl_ctx_create(&prof, rcl_ctx_device(keep)->index, &opt));
    T_CTX = prof;
    T_OK(rcl_ctx_set_param(prof, "conv", "COL_BUDGET_MB", 1));
    T_OK(rcl_ctx_set_param(prof, "conv", "PATH", RCL_CONV_PATH_GEMM));
    T_OK(rcl_ctx_set_param(prof, "conv", "WINO_GEMM", 0)); /* im2col itself */
    rcl_ctx_set_profiler(prof, count_im2col, NULL);
    im2col_launches = 0;
    conv_case(&(conv_case_t){11, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 0}, 41);
    /* forward 2, backward all 2, dx alone 0, dw alone 2 */
    assert_int_equal(im2col_launches, 6);
    /* stride 2, non-square: 5 images of 8 x 3*3 x 8*7 floats = 16 KiB each
     * fit one 1 MiB chunk; shows the count above is not a constant */
    im2col_launches = 0;
    conv_case(&(conv_case_t){5, 8, 15, 13, 8, 3, 3, 2, 2, 1, 1, 1, 0}, 42);
    assert_int_equal(im2col_launches, 3);
    T_CTX = keep;
    rcl_ctx_destroy(prof);
}

/* Hand-computed: x = 1..9 on 3x3; no kernel flip (cross-correlation). */
static void test_conv_exact(void **state)
{
    (void)state;
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float w1[4] = {1, 0, 0, 0}, ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, y[4];
    rcl_tensor tx, tw1, tw3, ty;
    tu_tensor(&tx, 1, 1, 3, 3, x);
    tu_tensor(&tw1, 1, 1, 2, 2, w1);
    tu_tensor(&tw3, 1, 1, 3, 3, ones);
    tu_tensor(&ty, 1, 1, 2, 2, NULL);
    T_OK(rcl_conv2d_forward(T_CTX, &ty, &tx, &tw1, NULL, &(rcl_conv2d_desc){2, 2, 1, 1, 0, 0}));
    T_OK(rcl_tensor_read(T_CTX, &ty, y));
    const double want1[4] = {1, 2, 4, 5};
    assert_true(tu_close_f("conv exact 2x2", y, want1, 4, 0, 0));
    T_OK(rcl_conv2d_forward(T_CTX, &ty, &tx, &tw3, NULL, &(rcl_conv2d_desc){3, 3, 2, 2, 1, 1}));
    T_OK(rcl_tensor_read(T_CTX, &ty, y));
    const double want3[4] = {12, 16, 24, 28};
    assert_true(tu_close_f("conv exact 3x3 s2 p1", y, want3, 4, 0, 0));
    /* the reference agrees */
    ref_conv2d_shape s = {1, 1, 3, 3, 1, 3, 3, 2, 2, 1, 1, 0, 0};
    assert_true(ref_conv2d_shape_init(&s));
    double xd[9], wd[9], yd[4];
    for (int i = 0; i < 9; i++) xd[i] = x[i], wd[i] = 1;
    ref_conv2d_forward(yd, xd, wd, NULL, &s);
    assert_true(tu_close_d("ref exact 3x3 s2 p1", yd, want3, 4, 0, 0));
    rcl_tensor_destroy(&tx), rcl_tensor_destroy(&tw1), rcl_tensor_destroy(&tw3);
    rcl_tensor_destroy(&ty);
}

static void test_conv_out_size(void **state)
{
    (void)state;
    assert_int_equal(rcl_conv_out_size(7, 3, 1, 1), 7);
    assert_int_equal(rcl_conv_out_size(9, 3, 2, 1), 5);
    assert_int_equal(rcl_conv_out_size(224, 7, 2, 3), 112);
    assert_int_equal(rcl_conv_out_size(56, 1, 2, 0), 28);
    assert_int_equal(rcl_conv_out_size(8, 3, 2, 1), 4);
    assert_true(rcl_conv_out_size(3, 5, 1, 0) < 1);
    assert_true(rcl_conv_out_size(7, 3, 0, 0) < 1);
    assert_true(rcl_conv_out_size(7, 3, 1, -1) < 1);
}

static void test_conv_invalid(void **state)
{
    (void)state;
    rcl_tensor x, w, w4, y, ybad, b, bbad, dx, dxbad, dw;
    tu_tensor(&x, 2, 3, 5, 5, NULL);
    tu_tensor(&w, 4, 3, 3, 3, NULL);
    tu_tensor(&w4, 4, 4, 3, 3, NULL);
    tu_tensor(&y, 2, 4, 5, 5, NULL);
    tu_tensor(&ybad, 2, 4, 4, 5, NULL);
    tu_tensor(&b, 4, 1, 1, 1, NULL);
    tu_tensor(&bbad, 3, 1, 1, 1, NULL);
    tu_tensor(&dx, 2, 3, 5, 5, NULL);
    tu_tensor(&dxbad, 2, 3, 5, 4, NULL);
    tu_tensor(&dw, 4, 3, 3, 3, NULL);
    rcl_conv2d_desc ok = {3, 3, 1, 1, 1, 1};
    T_OK(rcl_conv2d_forward(T_CTX, &y, &x, &w, &b, &ok));
    T_OK(rcl_conv2d_backward(T_CTX, &dx, &dw, &b, &y, &x, &w, &ok));
    assert_int_equal(rcl_conv2d_forward(T_CTX, &y, &x, &w4, NULL, &ok), RCL_ERR_INVALID);
    assert_int_equal(rcl_conv2d_forward(T_CTX, &ybad, &x, &w, NULL, &ok), RCL_ERR_INVALID);
    assert_int_equal(rcl_conv2d_forward(T_CTX, &y, &x, &w, &bbad, &ok), RCL_ERR_INVALID);
    rcl_conv2d_desc bad[] = {
        {3, 3, 0, 1, 1, 1},   /* stride 0 */
        {3, 3, 1, 1, -1, 1},  /* negative pad */
        {0, 3, 1, 1, 1, 1},   /* kernel 0 */
        {3, 2, 1, 1, 1, 1},   /* kernel does not match w */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rcl_conv2d_forward(T_CTX, &y, &x, &w, NULL, &bad[i]), RCL_ERR_INVALID);
        assert_int_equal(rcl_conv2d_backward(T_CTX, &dx, &dw, NULL, &y, &x, &w, &bad[i]),
                         RCL_ERR_INVALID);
    }
    /* no output: 5x5 kernel on a 3x3 image without padding */
    rcl_tensor xs, w5, y1;
    tu_tensor(&xs, 1, 3, 3, 3, NULL);
    tu_tensor(&w5, 4, 3, 5, 5, NULL);
    tu_tensor(&y1, 1, 4, 1, 1, NULL);
    assert_int_equal(rcl_conv2d_forward(T_CTX, &y1, &xs, &w5, NULL,
                                        &(rcl_conv2d_desc){5, 5, 1, 1, 0, 0}),
                     RCL_ERR_INVALID);
    /* backward: wrong dy, dx, dw, db shapes */
    assert_int_equal(rcl_conv2d_backward(T_CTX, &dx, NULL, NULL, &ybad, &x, &w, &ok),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_conv2d_backward(T_CTX, &dxbad, NULL, NULL, &y, &x, &w, &ok),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_conv2d_backward(T_CTX, NULL, &w4, NULL, &y, &x, &w, &ok),
                     RCL_ERR_INVALID);
    assert_int_equal(rcl_conv2d_backward(T_CTX, NULL, NULL, &bbad, &y, &x, &w, &ok),
                     RCL_ERR_INVALID);
    rcl_tensor *all[] = {&x, &w, &w4, &y, &ybad, &b, &bbad, &dx, &dxbad, &dw, &xs, &w5, &y1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rcl_tensor_destroy(all[i]);
}


/* A profiling context on T_CTX's device with conv.PATH = path (and a
 * column budget of budget_mb MiB when > 0) counting launches per tag.
 * path: 0 im2col + GEMM, 1 direct wherever it can run (on CPU drivers with
 * conv_direct WOCB the other of the two per-device defaults: 5 where the
 * device's is 3 and 3 where it is 5, so that both are checked on every
 * machine; llvmpipe keeps its 3: each variant costs seconds of JIT), 2 the
 * same with the weight gradient's other work-item layout (conv_direct
 * WSPLIT 0: all taps per work-item, WOCB 4 on CPU drivers, 2 elsewhere),
 * -1 the rule. Winograd off (the direct kernels themselves; test_conv_wino
 * turns it on). */
static rcl_ctx *path_ctx(int path, int budget_mb)
{
    rcl_ctx *prof;
    rcl_ctx_options opt = {.profiling = 1};
    T_OK(rcl_ctx_create(&prof, rcl_ctx_device(T_CTX)->index, &opt));
    const int cpu = rcl_gemm_vec_width(prof) >= 4; /* CPU drivers (compiling is quick) */
    if (path == 1 && cpu)
        T_OK(rcl_ctx_set_param(prof, "conv_direct", "WOCB",
                               rcl_tun(prof, RCL_TUN_CONV_DIRECT_WOCB) ==
                                       RCL_CONV_DIRECT_WOCB_W16
                                   ? rcl_tunables[RCL_TUN_CONV_DIRECT_WOCB].def
                                   : RCL_CONV_DIRECT_WOCB_W16));
    if (path == 2) {
        T_OK(rcl_ctx_set_param(prof, "conv_direct", "WSPLIT", 0));
        /* 2 where vectors are narrow (llvmpipe: its JIT took 26-30 s for
         * each 3x3 variant with 4, 36 accumulators; 11-12 s with 2) */
        T_OK(rcl_ctx_set_param(prof, "conv_direct", "WOCB", cpu ? 4 : 2));
    }
    path = path == 0 ? RCL_CONV_PATH_GEMM : path >= 1 ? RCL_CONV_PATH_DIRECT : RCL_CONV_PATH_RULE;
    T_OK(rcl_ctx_set_param(prof, "conv", "PATH", path));
    if (budget_mb > 0) T_OK(rcl_ctx_set_param(prof, "conv", "COL_BUDGET_MB", budget_mb));
    T_OK(rcl_ctx_set_param(prof, "conv", "WINOGRAD", 0));
    T_OK(rcl_ctx_set_param(prof, "conv", "WINO_GEMM", 0));
    rcl_ctx_set_profiler(prof, count_tags, NULL);
    memset(tag_count, 0, sizeof tag_count);
    return prof;
}

/* conv_case on ctx (exact against the reference: forward, dx, dw, db) */
static void case_on(rcl_ctx *ctx, const conv_case_t *cc, uint64_t seed)
{
    rcl_ctx *keep = T_CTX;
    T_CTX = ctx;
    conv_case(cc, seed);
    T_CTX = keep;
}

/* The stem forced onto each path (im2col + GEMM, direct): every pass exact
 * against the reference; the direct path runs the forward alone (its loop
 * over 49 taps), the gradients on im2col */
static void test_conv_stem_paths(void **state)
{
    (void)state;
    for (int path = 0; path <= 1; path++) {
        rcl_ctx *ctx = path_ctx(path, 0);
        case_on(ctx, &(conv_case_t){3, 3, 19, 17, 10, 7, 7, 2, 2, 3, 3, 1, 0}, 13);
        assert_int_equal(tag_count[T_FWD_DIRECT] > 0, path == 1);
        assert_int_equal(tag_count[T_FWD_GEMM] > 0, path == 0);
        assert_int_equal(tag_count[T_DW_DIRECT] + tag_count[T_DX_DIRECT], 0);
        rcl_ctx_destroy(ctx);
    }
}

/* The scratch the memory estimate predicts for cc (training) is what its
 * passes on ctx took: slots COL, TMP and CONV_W; `what` v names the context
 * in the message */
static void scratch_as_predicted(rcl_ctx *ctx, const conv_case_t *cc, const char *what, int i,
                                 int v)
{
    rcl_conv2d_desc cd = {cc->kh, cc->kw, cc->sh, cc->sw, cc->ph, cc->pw};
    rcl_conv2d_scratch sc;
    T_OK(rcl_conv2d_scratch_bytes(ctx, cc->n, cc->c, cc->h, cc->w, cc->oc, &cd, 1, &sc));
    if (ctx->scratch_bytes[RCL_SCRATCH_COL] != sc.col ||
        ctx->scratch_bytes[RCL_SCRATCH_TMP] != sc.tmp ||
        ctx->scratch_bytes[RCL_SCRATCH_CONV_W] != sc.conv_w)
        fail_msg("case %d %s %d: scratch COL %zu TMP %zu CONV_W %zu, predicted %llu %llu %llu",
                 i, what, v, ctx->scratch_bytes[RCL_SCRATCH_COL],
                 ctx->scratch_bytes[RCL_SCRATCH_TMP], ctx->scratch_bytes[RCL_SCRATCH_CONV_W],
                 (unsigned long long)sc.col, (unsigned long long)sc.tmp,
                 (unsigned long long)sc.conv_w);
}

/* The weight gradient on input rows (conv.DW_ROWS; on every device with
 * mode 2, and from the first product with DW_ROWS_MIN_K 1): each case exact
 * against the reference (forward, dx, dw, db; finite differences on the
 * first), the rows kernel launched and no weight-gradient GEMM, the scratch
 * as predicted; in chunks of the default size, and on two cases also in one
 * chunk and one row a chunk (DW_ROWS_KB 0: the sum over chunks); then the
 * rule's bounds */
static void test_conv_dw_rows(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {3, 3, 19, 17, 8, 7, 7, 2, 2, 3, 3, 1, 1},   /* the stem on an odd map */
        {2, 2, 9, 11, 12, 5, 5, 1, 1, 2, 2, 0, 0},   /* 5x5 stride 1: 12 channels, 4-wide */
        {3, 1, 8, 13, 16, 7, 5, 2, 2, 3, 1, 1, 0},   /* 7x5, pads 3 and 1 */
        {5, 3, 23, 21, 32, 7, 7, 2, 2, 3, 3, 0, 0},  /* two vectors an item where 16 wide */
        {2, 2, 6, 5, 8, 5, 5, 1, 1, 0, 0, 0, 0},     /* no padding: a row shorter than 2 taps' */
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int kb = 0; kb < 3; kb++) {
        for (int i = 0; i < ncases; i++) {
            /* the chunking's extremes on two cases (each case compiles its
             * own variants: test time) */
            if (kb != 1 && i != 0 && i != 3) continue;
            conv_case_t cv = cases[i], *cc = &cv;
            cv.fd = cv.fd && kb == 1;
            rcl_ctx *ctx = path_ctx(-1, 0);
            T_OK(rcl_ctx_set_param(ctx, "conv", "DW_ROWS", 2));
            T_OK(rcl_ctx_set_param(ctx, "conv", "DW_ROWS_MIN_K", 1));
            if (kb != 1) T_OK(rcl_ctx_set_param(ctx, "conv", "DW_ROWS_KB", kb ? 1 << 20 : 0));
            rcl_conv_shape s = {cc->n, cc->c, cc->h, cc->w, cc->oc, cc->kh, cc->kw, cc->sh,
                                cc->ph, cc->pw, rcl_conv_out_size(cc->h, cc->kh, cc->sh, cc->ph),
                                rcl_conv_out_size(cc->w, cc->kw, cc->sw, cc->pw)};
            rcl_conv_dw_rows_plan p;
            assert_true(rcl_conv_dw_rows_plan_for(ctx, &s, &p));
            if (kb == 0) assert_int_equal(p.g, s.N * s.OH); /* one row a chunk */
            if (kb == 2) assert_true(p.g <= 16 * (int)rcl_ctx_device(ctx)->compute_units);
            case_on(ctx, cc, 1300 + (uint64_t)i + 10 * (uint64_t)kb);
            assert_true(tag_count[T_DW_ROWS] > 0);
            assert_int_equal(tag_count[T_DW_GEMM] + tag_count[T_DW_DIRECT], 0);
            scratch_as_predicted(ctx, cc, "DW_ROWS_KB", i, kb);
            rcl_ctx_destroy(ctx);
        }
    }
    /* the rule: more than 16 taps, OC a multiple of 4, a reduction of at
     * least DW_ROWS_MIN_K, on vector devices (mode 1) or all (2); else the
     * GEMM, exact too */
    rcl_ctx *ctx = path_ctx(-1, 0);
    rcl_conv_shape stem = {8, 3, 32, 32, 64, 7, 7, 2, 3, 3, 16, 16}; /* K 2048 */
    assert_int_equal(rcl_tun(ctx, RCL_TUN_CONV_DW_ROWS_MIN_K), 8192);
    assert_false(rcl_conv_dw_rows_use(ctx, &stem)); /* a parity fixture's batch */
    stem.N = 32;
    assert_int_equal(rcl_conv_dw_rows_use(ctx, &stem), rcl_gemm_vec_width(ctx) >= 4);
    T_OK(rcl_ctx_set_param(ctx, "conv", "DW_ROWS", 2));
    assert_true(rcl_conv_dw_rows_use(ctx, &stem));
    rcl_conv_shape k3 = {64, 16, 32, 32, 16, 3, 3, 1, 1, 1, 32, 32}, oc6 = stem, s0 = stem;
    assert_false(rcl_conv_dw_rows_use(ctx, &k3)); /* 9 taps: the direct kernels' */
    oc6.OC = 6;
    assert_false(rcl_conv_dw_rows_use(ctx, &oc6));
    s0.S = 0; /* strides that differ per axis */
    assert_false(rcl_conv_dw_rows_use(ctx, &s0));
    T_OK(rcl_ctx_set_param(ctx, "conv", "DW_ROWS", 0));
    assert_false(rcl_conv_dw_rows_use(ctx, &stem));
    T_OK(rcl_ctx_set_param(ctx, "conv", "DW_ROWS_MIN_K", 1));
    case_on(ctx, &cases[0], 1399);
    assert_int_equal(tag_count[T_DW_ROWS], 0);
    assert_true(tag_count[T_DW_GEMM] > 0);
    rcl_ctx_destroy(ctx);
}

/* Chunks of the direct path for `pass` of cc on T_CTX's device with the
 * default tunables, its dead taps dropped (rcl_conv_direct_plan_for); 0
 * where the direct path cannot run it (the pass falls back to im2col) */
static int direct_chunks(const conv_case_t *cc, int pass)
{
    int oh = rcl_conv_out_size(cc->h, cc->kh, cc->sh, cc->ph);
    int ow = rcl_conv_out_size(cc->w, cc->kw, cc->sw, cc->pw);
    int h0, h1, w0, w1;
    rcl_conv_live_taps(oh, cc->h, cc->sh, cc->ph, cc->kh, &h0, &h1);
    rcl_conv_live_taps(ow, cc->w, cc->sw, cc->pw, cc->kw, &w0, &w1);
    rcl_conv_shape s = {cc->n, cc->c, cc->h, cc->w, cc->oc, h1 - h0, w1 - w0, cc->sh,
                        cc->ph - h0, cc->pw - w0, oh, ow};
    rcl_conv_direct_plan p;
    const rcl_device_info *dev = rcl_ctx_device(T_CTX);
    if (!rcl_conv_direct_plan_for(&s, pass, rcl_conv_direct_vw(T_CTX), 256, dev->max_alloc,
                                  (int)dev->compute_units, rcl_tun(T_CTX, RCL_TUN_CONV_CHUNK_KB),
                                  &p))
        return 0;
    return (cc->n + p.nb - 1) / p.nb;
}

/* 1x1 stride-1 pad-0 convs of several images with at least conv.IMAGE_GEMM_P
 * output pixels per image: one GEMM per image and pass on the tensors
 * themselves (no im2col, col2im or layout reorder; the forward's bias in
 * one epilogue pass, tag "reorder"; the weight gradient as dW^T where
 * there are fewer output than input channels), exact against the
 * reference, with the scratch the memory estimate predicts; below the
 * threshold, and with 0 (never), through im2col. Odd sizes, a partial
 * last tile. */
static void test_conv_1x1_per_image(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {3, 5, 7, 7, 6, 1, 1, 1, 1, 0, 0, 1, 1},    /* P 49 */
        {2, 16, 5, 3, 8, 1, 1, 1, 1, 0, 0, 0, 0},   /* P 15 */
        {4, 33, 9, 11, 17, 1, 1, 1, 1, 0, 0, 1, 0}, /* P 99 */
    };
    const int thresholds[] = {16, 49, 0};
    for (size_t t = 0; t < 3; t++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            rcl_ctx *ctx = path_ctx(0, 0); /* im2col + GEMM, not the direct kernels */
            T_OK(rcl_ctx_set_param(ctx, "conv", "IMAGE_GEMM_P", thresholds[t]));
            /* the per-image GEMMs, not one over all images (test_conv_images_b) */
            T_OK(rcl_ctx_set_param(ctx, "conv", "IMAGES_B", 0));
            const conv_case_t *cc = &cases[i];
            int p = cc->h * cc->w, per_image = thresholds[t] > 0 && p >= thresholds[t];
            memset(tag_count, 0, sizeof tag_count);
            case_on(ctx, cc, 60 + i);
            /* the scratch the memory estimate predicts is what the passes
             * took (the weight gradient summed as dW^T where OC < C: slot TMP) */
            rcl_conv2d_desc cd = {1, 1, 1, 1, 0, 0};
            rcl_conv2d_scratch sc;
            T_OK(rcl_conv2d_scratch_bytes(ctx, cc->n, cc->c, cc->h, cc->w, cc->oc, &cd, 1, &sc));
            assert_int_equal(ctx->scratch_bytes[RCL_SCRATCH_COL], sc.col);
            assert_int_equal(ctx->scratch_bytes[RCL_SCRATCH_TMP], sc.tmp);
            if (per_image)
                assert_int_equal(sc.tmp, cc->oc < cc->c ? (uint64_t)cc->oc * cc->c * 4 : 0);
            /* conv_case: one forward, a backward of both, then each alone */
            const int *c = tag_count;
            if (per_image) {
                assert_int_equal(c[T_FWD_GEMM], cc->n);
                assert_int_equal(c[T_DX_GEMM], 2 * cc->n);
                assert_int_equal(c[T_DW_GEMM], 2 * cc->n);
                assert_int_equal(c[T_IM2COL] + c[T_COL2IM], 0);
                assert_int_equal(c[T_REORDER], cc->bias ? 1 : 0);
            } else {
                assert_true(c[T_IM2COL] > 0 && c[T_COL2IM] > 0 && c[T_REORDER] > 0);
                assert_int_equal(c[T_FWD_GEMM], 1);
            }
            rcl_ctx_destroy(ctx);
        }
    }
}

/* Every pass of conv_case (forward, backward of all, dx alone, dw alone):
 * forward 1, dx 2, dw 2 calls, each on its chunks */
static void test_conv_paths(void **state)
{
    (void)state;
    /* N=3, C=5, OC=7 on 9x9, 2x2 and 1x1 maps, stride 1 and 2; odd sizes */
    const conv_case_t cases[] = {
        {3, 5, 9, 9, 7, 3, 3, 1, 1, 1, 1, 1, 0},
        {3, 5, 9, 9, 7, 3, 3, 2, 2, 1, 1, 0, 0},
        {3, 5, 2, 2, 7, 3, 3, 1, 1, 1, 1, 1, 0},
        {3, 5, 2, 2, 7, 3, 3, 2, 2, 1, 1, 0, 0},
        {3, 5, 1, 1, 7, 3, 3, 1, 1, 1, 1, 1, 0},
        {3, 5, 9, 7, 7, 1, 1, 2, 2, 0, 0, 0, 0},  /* 1x1 stride 2 (shortcut) */
        {3, 5, 9, 9, 7, 1, 1, 1, 1, 0, 0, 1, 0},  /* 1x1 stride 1, several images */
        {3, 5, 11, 10, 7, 3, 3, 2, 2, 1, 1, 1, 0}, /* odd W, output 6x5 */
        {2, 3, 5, 5, 17, 3, 3, 1, 1, 1, 1, 1, 0}, /* OC past two OCB blocks */
        {2, 3, 21, 19, 4, 3, 3, 1, 1, 1, 1, 0, 0}, /* several vector tiles per row */
        {2, 3, 7, 7, 4, 3, 3, 1, 1, 0, 0, 1, 0},  /* pad 0 */
        {2, 2, 6, 6, 3, 2, 2, 1, 1, 0, 0, 1, 0},  /* even kernel */
        {2, 3, 5, 37, 4, 3, 3, 2, 2, 1, 1, 0, 0}, /* stride 2 on 37 columns: conv_pad's split
                                                     by vectors inside the row, by columns at
                                                     its ends */
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    int direct = 0, several = 0;
    for (int i = 0; i < ncases; i++) {
        const conv_case_t *cc = &cases[i];
        int cf = direct_chunks(cc, RCL_CONV_FWD), cx = direct_chunks(cc, RCL_CONV_DX);
        int cw = direct_chunks(cc, RCL_CONV_DW);
        for (int path = 0; path <= 2; path++) {
            /* the covering subset (tu_sweep_all): the weight gradient's
             * other layout (path 2) on every other case */
            if (path == 2 && !tu_sweep(i, 2)) continue;
            rcl_ctx *ctx = path_ctx(path, 0);
            case_on(ctx, cc, 100 + (uint64_t)i);
            scratch_as_predicted(ctx, cc, "path", i, path);
            const int *t = tag_count;
            /* forced direct, each pass the direct path can run goes there */
            int f = path && cf, x = path && cx, w = path && cw;
            assert_int_equal(t[T_FWD_GEMM], f ? 0 : 1);
            assert_int_equal(t[T_DX_GEMM], x ? 0 : 2);
            assert_int_equal(t[T_DW_GEMM], w ? 0 : 2);
            assert_int_equal(t[T_FWD_DIRECT], f ? cf : 0);
            assert_int_equal(t[T_DX_DIRECT], x ? 2 * (1 + cx) : 0); /* flip, conv per chunk */
            assert_int_equal(t[T_DW_DIRECT], w ? 2 * 2 * cw : 0);   /* partials + sum */
            assert_int_equal(t[T_PAD], (f ? cf : 0) + (x ? 2 * cx : 0) + (w ? 2 * cw : 0));
            rcl_ctx_destroy(ctx);
        }
        /* 3x3 on maps of 5x5 and more: every pass fits the direct path; the
         * smallest maps (and the 1x1 stride-2 case, whose column matrix is
         * smaller than its input) fall back where the padded copy would
         * outgrow the im2col path's buffers */
        if (cc->kh == 3 && cc->h >= 5) assert_true(cf > 0 && cx > 0 && cw > 0);
        direct += (cf > 0) + (cx > 0) + (cw > 0);
        several += (cf > 1) + (cx > 1) + (cw > 1);
    }
    /* both outcomes occur, and some pass ran on several chunks (the last
     * one partial) */
    assert_true(direct > 0 && direct < 3 * ncases);
    assert_true(several > 0);
}

/* A column budget of 1 MiB: several chunks on both paths, the last one
 * smaller (partial batch); the weight gradient accumulates over them. */
static void test_conv_paths_multichunk(void **state)
{
    (void)state;
    /* 13 images of 16x20x20, 3x3 pad 1: col = 144 x 400 floats = 225 KiB per
     * image: 4 images per chunk, 4 chunks (4, 4, 4, 1) on the im2col path;
     * the direct path fits its padded copies (16 x 22 x 34 floats, 47 KiB)
     * in the same bytes: one chunk of all 13 */
    const conv_case_t cc = {13, 16, 20, 20, 16, 3, 3, 1, 1, 1, 1, 1, 0};
    rcl_ctx *ctx = path_ctx(0, 1);
    case_on(ctx, &cc, 201);
    assert_int_equal(tag_count[T_FWD_GEMM], 4);
    rcl_ctx_destroy(ctx);
    ctx = path_ctx(1, 1);
    case_on(ctx, &cc, 201);
    assert_int_equal(tag_count[T_FWD_DIRECT], 1);
    rcl_ctx_destroy(ctx);
    /* 64 channels of 30x30 stride 2 to 8: col = 576 x 225 floats = 506 KiB
     * per image (2 per chunk: 3 chunks) and a padded image 64 x 32 x 34
     * floats = 272 KiB: 3 per chunk on the direct path, 2 chunks (3, 2).
     * The gradients fall back to im2col + GEMM even when forced: the flipped
     * weights or partial sums (8 x 576 floats) would not fit the reordered
     * output's bytes (8 x 2 x 225) */
    const conv_case_t c2 = {5, 64, 30, 30, 8, 3, 3, 2, 2, 1, 1, 1, 0};
    ctx = path_ctx(1, 1);
    case_on(ctx, &c2, 202);
    assert_int_equal(tag_count[T_FWD_DIRECT], 2);
    assert_int_equal(tag_count[T_DW_DIRECT] + tag_count[T_DX_DIRECT], 0);
    assert_int_equal(tag_count[T_DW_GEMM], 2 * 3);
    assert_int_equal(tag_count[T_DX_GEMM], 2 * 3);
    rcl_ctx_destroy(ctx);
}

/* Chunks of the Winograd kernels for `pass` of cc (3x3, no dead taps) on
 * T_CTX's device with conv_wino TILE `tile` and a column budget of
 * budget_mb MiB, and in *m (unless NULL) the plan's output tile; 0 where
 * they cannot run it */
static int wino_chunks(const conv_case_t *cc, int pass, int tile, int budget_mb, int *m)
{
    int oh = rcl_conv_out_size(cc->h, cc->kh, cc->sh, cc->ph);
    int ow = rcl_conv_out_size(cc->w, cc->kw, cc->sw, cc->pw);
    rcl_conv_shape s = {cc->n, cc->c, cc->h, cc->w, cc->oc, cc->kh, cc->kw,
                        cc->sh == cc->sw ? cc->sh : 0, cc->ph, cc->pw, oh, ow};
    rcl_conv_wino_plan p;
    if (!rcl_conv_wino_plan_for(&s, pass, rcl_conv_direct_vw(T_CTX), tile, budget_mb,
                                rcl_ctx_device(T_CTX)->max_alloc, &p))
        return 0;
    if (m) *m = p.m;
    return (cc->n + p.nb - 1) / p.nb;
}

/* max |a - ref| / max |ref| */
static double rel_err(const float *a, const double *ref, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(a[i] - ref[i]) > e) e = fabs(a[i] - ref[i]);
        if (fabs(ref[i]) > m) m = fabs(ref[i]);
    }
    return m > 0 ? e / m : e;
}

/* e[k][0], e[k][1]: rel_err of the forward pass and data gradient of cc
 * (3x3, stride 1, pad 1, no bias) against the double reference, with the
 * direct kernels (k = 0), Winograd TILE 2 (k = 1) and TILE 4 (k = 2). With
 * f4, cc's plan takes F(4x4, 3x3) at TILE 4, and its outputs are not
 * bitwise TILE 2's (so another kernel ran). gemm: the im2col path (k = 0)
 * and Winograd's GEMM form (WINO_GEMM 2 and 4) instead */
static void wino_error_on(const conv_case_t *cc, uint64_t seed, double e[3][2], int f4, int gemm)
{
    ref_conv2d_shape s = {cc->n, cc->c, cc->h, cc->w, cc->oc, 3, 3, 1, 1, 1, 1, 0, 0};
    assert_true(ref_conv2d_shape_init(&s));
    size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.oc * s.c * 9;
    size_t ny = (size_t)s.n * s.oc * s.oh * s.ow;
    tu_rng r = tu_rng_seed(seed);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *dy = malloc(ny * 4);
    tu_fill(&r, x, nx, -1, 1), tu_fill(&r, w, nw, -1, 1), tu_fill(&r, dy, ny, -1, 1);
    double *xd = tu_f2d(x, nx), *wd = tu_f2d(w, nw), *dyd = tu_f2d(dy, ny);
    double *yref = malloc(ny * 8), *dxref = malloc(nx * 8), *dwref = malloc(nw * 8);
    double *dbref = malloc((size_t)s.oc * 8);
    ref_conv2d_forward(yref, xd, wd, NULL, &s);
    ref_conv2d_backward(dxref, dwref, dbref, dyd, xd, wd, &s);
    int mf = 0, mx = 0;
    if (!gemm) {
        wino_chunks(cc, RCL_CONV_FWD, 4, 256, &mf), wino_chunks(cc, RCL_CONV_DX, 4, 256, &mx);
        assert_int_equal(mf == 4 && mx == 4, f4);
    }
    float *out[3][2];
    for (int k = 0; k < 3; k++) {
        rcl_ctx *ctx = path_ctx(!gemm, 0);
        if (gemm) {
            T_OK(rcl_ctx_set_param(ctx, "conv", "WINO_GEMM", 2 * k));
        } else {
            T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", k > 0));
            T_OK(rcl_ctx_set_param(ctx, "conv_wino", "TILE", k == 2 ? 4 : 2));
        }
        rcl_ctx *keep = T_CTX;
        T_CTX = ctx;
        rcl_tensor tx, tw, ty, tdy, tdx;
        tu_tensor(&tx, s.n, s.c, s.h, s.w, x);
        tu_tensor(&tw, s.oc, s.c, 3, 3, w);
        tu_tensor(&ty, s.n, s.oc, s.oh, s.ow, NULL);
        tu_tensor(&tdy, s.n, s.oc, s.oh, s.ow, dy);
        tu_tensor(&tdx, s.n, s.c, s.h, s.w, NULL);
        rcl_conv2d_desc d = {3, 3, 1, 1, 1, 1};
        T_OK(rcl_conv2d_forward(ctx, &ty, &tx, &tw, NULL, &d));
        T_OK(rcl_conv2d_backward(ctx, &tdx, NULL, NULL, &tdy, &tx, &tw, &d));
        out[k][0] = tu_read(&ty), out[k][1] = tu_read(&tdx);
        assert_int_equal(tag_count[T_FWD_WINO] > 0, k > 0);
        assert_int_equal(tag_count[T_DX_WINO] > 0, k > 0);
        e[k][0] = rel_err(out[k][0], yref, ny), e[k][1] = rel_err(out[k][1], dxref, nx);
        rcl_tensor *all[] = {&tx, &tw, &ty, &tdy, &tdx};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rcl_tensor_destroy(all[i]);
        T_CTX = keep;
        rcl_ctx_destroy(ctx);
    }
    assert_int_equal(memcmp(out[1][0], out[2][0], ny * 4) != 0, f4);
    assert_int_equal(memcmp(out[1][1], out[2][1], nx * 4) != 0, f4);
    for (int k = 0; k < 3; k++) free(out[k][0]), free(out[k][1]);
    free(x), free(w), free(dy), free(xd), free(wd), free(dyd);
    free(yref), free(dxref), free(dwref), free(dbref);
}

/* The weight gradient by Winograd (conv.WINOGRAD 2: cl/conv_wino_dw.cl
 * conv_wino_dwf) on shapes that take each of its paths: tiles per unit
 * (VT) 4, 8 and 16 and two units per tile row (35 wide); output-gradient
 * channels in vectors, whole (transposed from row loads: fewer lanes than
 * a row segment, as many, more) or cut (OC not a multiple of the vector:
 * the gathering path); input windows past the map on every side, pad 0
 * and 1, odd heights (the last tile row half outside). Each with the
 * chunk budget conv_wino DW_KB at 1 KiB (one unit per chunk: many
 * chunks per group, the partial sums carried across them) and at its
 * default; exact against the reference (conv_case), the scratch as
 * predicted. Then pad 2 stays direct, and the error against the double
 * reference next to the direct kernel's on resnet20's layer1 and layer3
 * shapes (docs/semantics.md). */
static void test_conv_wino_dw(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {3, 16, 8, 8, 32, 3, 3, 1, 1, 1, 1, 0, 0},   /* 4 tiles per unit */
        {2, 8, 16, 16, 16, 3, 3, 1, 1, 1, 1, 0, 0},  /* 8 */
        {2, 4, 32, 32, 16, 3, 3, 1, 1, 1, 1, 0, 0},  /* 16 */
        {3, 5, 9, 9, 7, 3, 3, 1, 1, 1, 1, 0, 0},     /* odd: 7 output channels */
        {2, 3, 11, 35, 20, 3, 3, 1, 1, 0, 0, 0, 0},  /* pad 0, 2 units per row, OC 20 */
        {1, 6, 13, 7, 5, 3, 3, 1, 1, 1, 1, 0, 0},    /* 13x7, one image */
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < 2 * ncases; i++) {
        /* the covering subset (tu_sweep_all): DW_KB 1 on cases 0, 2, 4,
         * the default on 1, 3, 5 */
        if (!tu_sweep(i + (i >= ncases), 2)) continue;
        const conv_case_t *cc = &cases[i % ncases];
        rcl_ctx *ctx = path_ctx(1, 0);
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 2));
        if (i < ncases) T_OK(rcl_ctx_set_param(ctx, "conv_wino", "DW_KB", 1));
        case_on(ctx, cc, 560 + (uint64_t)i);
        if (tag_count[T_DW_WINO] == 0 || tag_count[T_DW_DIRECT] != 0)
            fail_msg("case %d: the weight gradient did not run through Winograd", i);
        scratch_as_predicted(ctx, cc, "DW_KB", i, i < ncases);
        rcl_ctx_destroy(ctx);
    }
    /* pad 2: the direct kernel */
    rcl_ctx *ctx = path_ctx(1, 0);
    T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 2));
    case_on(ctx, &(conv_case_t){2, 3, 6, 6, 4, 3, 3, 1, 1, 2, 2, 0, 0}, 580);
    assert_int_equal(tag_count[T_DW_WINO], 0);
    assert_true(tag_count[T_DW_DIRECT] > 0);
    rcl_ctx_destroy(ctx);
    /* error against the double reference */
    const conv_case_t shapes[2] = {{8, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 0, 0},
                                   {32, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 0, 0}};
    for (int k = 0; k < 2; k++) {
        const conv_case_t *cc = &shapes[k];
        ref_conv2d_shape s = {cc->n, cc->c, cc->h, cc->w, cc->oc, 3, 3, 1, 1, 1, 1, 0, 0};
        assert_true(ref_conv2d_shape_init(&s));
        size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.oc * s.c * 9;
        size_t ny = (size_t)s.n * s.oc * s.oh * s.ow;
        tu_rng r = tu_rng_seed(590 + (uint64_t)k);
        float *x = malloc(nx * 4), *dy = malloc(ny * 4), *w = calloc(nw, 4);
        tu_fill(&r, x, nx, -1, 1), tu_fill(&r, dy, ny, -1, 1);
        double *xd = tu_f2d(x, nx), *wd = tu_f2d(w, nw), *dyd = tu_f2d(dy, ny);
        double *dwref = malloc(nw * 8), *dbref = malloc((size_t)s.oc * 8);
        ref_conv2d_backward(NULL, dwref, dbref, dyd, xd, wd, &s);
        double e[2];
        for (int mode = 0; mode < 2; mode++) {
            ctx = path_ctx(1, 0);
            T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 2 * mode));
            rcl_ctx *keep = T_CTX;
            T_CTX = ctx;
            rcl_tensor tx, tw, tdy, tdw;
            tu_tensor(&tx, s.n, s.c, s.h, s.w, x);
            tu_tensor(&tw, s.oc, s.c, 3, 3, w);
            tu_tensor(&tdy, s.n, s.oc, s.oh, s.ow, dy);
            tu_tensor(&tdw, s.oc, s.c, 3, 3, NULL);
            rcl_conv2d_desc d = {3, 3, 1, 1, 1, 1};
            T_OK(rcl_conv2d_backward(ctx, NULL, &tdw, NULL, &tdy, &tx, &tw, &d));
            assert_int_equal(tag_count[T_DW_WINO] > 0, mode);
            float *got = tu_read(&tdw);
            e[mode] = rel_err(got, dwref, nw);
            free(got);
            rcl_tensor *all[] = {&tx, &tw, &tdy, &tdw};
            for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) rcl_tensor_destroy(all[j]);
            T_CTX = keep;
            rcl_ctx_destroy(ctx);
        }
        print_message("weight gradient of conv %dx%dx%d -> %d, batch %d, max error / max |value| "
                      "against the double reference: direct %.2e Winograd F(2x2) %.2e\n",
                      s.c, s.h, s.w, s.oc, s.n, e[0], e[1]);
        /* Winograd's rounding: a few units of float's epsilon (2^-23 = 1.2e-7)
         * like the direct sum's */
        assert_true(e[0] < 2e-6 && e[1] < 2e-6);
        free(x), free(dy), free(w), free(xd), free(wd), free(dyd), free(dwref), free(dbref);
    }
}

static void wino_error(const conv_case_t *cc, uint64_t seed, double e[3][2], int f4)
{
    wino_error_on(cc, seed, e, f4, 0);
}

/* The forward and data-gradient kernel's vector layouts (conv_wino VX: 4,
 * 8, 16 tiles per vector, forced here whatever the device prefers; a
 * vector holds 4 or 8 tiles of several tile rows on narrow outputs) and
 * the prefetch off (conv_wino PF 0): each exact against the reference
 * (forward, dx; the weight gradient direct), every layout of the plan
 * reached, rows and columns cut at the edges. The same channel count
 * throughout: one kernel variant per layout. */
static void test_conv_wino_vx(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {2, 5, 29, 29, 5, 3, 3, 1, 1, 1, 1, 1, 0}, /* 15 tiles per row: 16 lanes, the
                                                      last row of outputs 13 wide */
        {3, 5, 14, 15, 5, 3, 3, 1, 1, 1, 1, 0, 0}, /* 8 tiles of 7 tile rows: the last
                                                      pair cut */
        {3, 5, 10, 8, 5, 3, 3, 1, 1, 1, 1, 1, 0},  /* 4 tiles of 5 tile rows */
        {2, 5, 7, 7, 5, 3, 3, 1, 1, 1, 1, 0, 0},   /* 4 tiles of 4 tile rows, the last
                                                      1 high */
        {8, 5, 2, 8, 5, 3, 3, 1, 1, 1, 1, 1, 0},   /* one tile row */
    };
    /* (VX, case): each layout once, with its cut rows or columns. A driver
     * preferring narrower vectors never picks 16 tiles itself, and
     * llvmpipe spends ~20 s compiling each 16-tile variant at its first
     * launch: the CPU drivers run every layout, the others (tu_sweep_all)
     * those of 8 and 4 tiles */
    const int runs[][2] = {{16, 2}, {16, 0}, {16, 1}, {16, 4}, {8, 1}, {8, 3}, {4, 0}};
    const int all = tu_sweep_all();
    int seen[17][5] = {{0}}; /* [vx][rows] */
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        const int vx = runs[k][0];
        if (!all && vx == 16) continue;
        const conv_case_t *cc = &cases[runs[k][1]];
        rcl_ctx *ctx = path_ctx(1, 0);
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
        T_OK(rcl_ctx_set_param(ctx, "conv_wino", "TILE", 2));
        T_OK(rcl_ctx_set_param(ctx, "conv_wino", "VX", vx));
        case_on(ctx, cc, 900 + (uint64_t)k);
        assert_int_equal(tag_count[T_FWD_WINO], 2); /* the weight transform, the conv */
        assert_int_equal(tag_count[T_DX_WINO], 4);
        rcl_ctx_destroy(ctx);
        rcl_conv_shape sh = {cc->n, cc->c, cc->h, cc->w, cc->oc, 3, 3, 1, 1, 1, cc->h, cc->w};
        rcl_conv_wino_plan q;
        assert_true(rcl_conv_wino_plan_for(&sh, RCL_CONV_FWD, vx, 2, 256, 0, &q));
        assert_true(q.vx <= vx && q.vx / q.rows >= 4);
        seen[q.vx][q.rows]++;
    }
    assert_true(seen[8][1] && seen[8][2] && seen[4][1]);
    if (all) assert_true(seen[16][4] && seen[16][1] && seen[16][2]);
    /* F(4x4) (the 29x29 case at TILE 4) without the prefetch (test_conv_wino
     * runs the default, 2) */
    for (int pf = 0; pf <= 0; pf++) {
        rcl_ctx *ctx = path_ctx(1, 0);
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
        T_OK(rcl_ctx_set_param(ctx, "conv_wino", "TILE", 4));
        T_OK(rcl_ctx_set_param(ctx, "conv_wino", "PF", pf));
        case_on(ctx, &cases[0], 950 + (uint64_t)pf);
        assert_int_equal(tag_count[T_FWD_WINO], 2);
        rcl_ctx_destroy(ctx);
    }
    /* F(4x4) on 16 lanes (conv_wino VX 16) of several tile rows: 2 rows of
     * 8 tiles (19x29: 5 tile rows, the last pair's second row past the
     * output), 4 rows of 4 tiles (17x15: 5 tile rows, the second group's
     * last three past it), the same with pad 0 (its data gradient, pad 2
     * over 19x17, takes 2 rows of 5 tiles), 29x29 (the last tile row 1
     * high), and pad 0 on outputs 32 and 16 wide, whose last tile reads the
     * input right of the vector's block (column 5 of its last lane);
     * rows of more than 8 tiles, two vectors of 2 rows of 8 per row pair
     * (resnet50's 56x56 maps: 14 tiles): 11x37 (10 tiles, the second
     * vector's last 6 lanes past the row; 3 tile rows, the last pair cut)
     * and pad 0 on 9x50 (7x48 out, 12 tiles; its data gradient 13 tiles of
     * 3 tile rows).
     * CPU drivers only (tu_sweep_all): llvmpipe never picks 16 lanes itself
     * and each such variant costs it ~30 s to compile. */
    const conv_case_t f4[] = {
        {2, 5, 19, 29, 5, 3, 3, 1, 1, 1, 1, 1, 0},
        {2, 5, 17, 15, 5, 3, 3, 1, 1, 1, 1, 0, 0},
        {2, 5, 19, 17, 5, 3, 3, 1, 1, 0, 0, 0, 0},
        {2, 5, 29, 29, 5, 3, 3, 1, 1, 1, 1, 0, 0},
        {2, 5, 10, 34, 5, 3, 3, 1, 1, 0, 0, 1, 0},
        {2, 5, 18, 18, 5, 3, 3, 1, 1, 0, 0, 1, 0},
        {2, 5, 11, 37, 5, 3, 3, 1, 1, 1, 1, 1, 0},
        {2, 5, 9, 50, 5, 3, 3, 1, 1, 0, 0, 0, 0},
    };
    const int f4_rows[] = {2, 4, 4, 2, 2, 4, 2, 2};
    const int f4_twv[] = {1, 1, 1, 1, 1, 1, 2, 2}; /* vectors per tile row (pair) */
    for (int k = 0; k < (int)(sizeof f4 / sizeof f4[0]); k++) {
        if (!all) continue;
        rcl_ctx *ctx = path_ctx(1, 0);
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
        T_OK(rcl_ctx_set_param(ctx, "conv_wino", "TILE", 4));
        T_OK(rcl_ctx_set_param(ctx, "conv_wino", "VX", 16));
        case_on(ctx, &f4[k], 960 + (uint64_t)k);
        assert_int_equal(tag_count[T_FWD_WINO], 2);
        assert_int_equal(tag_count[T_DX_WINO], 4);
        rcl_ctx_destroy(ctx);
        const conv_case_t *c = &f4[k];
        rcl_conv_shape sh = {c->n, c->c, c->h, c->w, c->oc, 3, 3, 1, c->ph, c->pw,
                             c->h + 2 * c->ph - 2, c->w + 2 * c->pw - 2};
        rcl_conv_wino_plan q;
        assert_true(rcl_conv_wino_plan_for(&sh, RCL_CONV_FWD, 16, 4, 256, 0, &q));
        assert_int_equal(q.m, 4), assert_int_equal(q.vx, 16);
        assert_int_equal(q.rows, f4_rows[k]);
        assert_int_equal(q.twv, f4_twv[k]);
    }
}

/* F(4x4) with the lanes across images (cl/conv_wino.cl conv_wino4_img:
 * outputs of 5 to 8 rows and columns, vx/4 images per vector) at VX 8 and
 * 16, forward and data gradient against the reference: 9 images of 8x8
 * (pad 1: each window row one vector load; the last vector holds one
 * image), 7 of 7x6 (the last tile row and column cut, the rows read
 * element by element), pad 0 on 10x9 (8x7 out; its data gradient, 10x9
 * out, takes another kernel); the plans' layout, and a 4x4 output (one
 * tile) left to F(2x2). The 16-lane variants on the CPU drivers only
 * (tu_sweep_all), as test_conv_wino_vx's. */
static void test_conv_wino_img(void **state)
{
    (void)state;
    /* 5 channels in and out throughout: one kernel variant per width */
    const conv_case_t cases[] = {
        {9, 5, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 0},
        {7, 5, 7, 6, 5, 3, 3, 1, 1, 1, 1, 0, 0},
        {6, 5, 10, 9, 5, 3, 3, 1, 1, 0, 0, 1, 0},
    };
    const int all = tu_sweep_all();
    int runs = 0;
    for (int vx = 8; vx <= 16; vx += 8) {
        if (!all && vx == 16) continue;
        for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
            const conv_case_t *cc = &cases[k];
            rcl_conv_shape sh = {cc->n, cc->c, cc->h, cc->w, cc->oc, 3, 3, 1, cc->ph, cc->pw,
                                 cc->h + 2 * cc->ph - 2, cc->w + 2 * cc->pw - 2};
            rcl_conv_wino_plan qf, qx;
            assert_true(rcl_conv_wino_plan_for(&sh, RCL_CONV_FWD, vx, 4, 256, 0, &qf));
            assert_int_equal(qf.m, 4), assert_int_equal(qf.img, vx / 4);
            assert_int_equal(qf.vx, vx);
            int dxw = rcl_conv_wino_plan_for(&sh, RCL_CONV_DX, vx, 4, 256, 0, &qx);
            assert_true(dxw);
            assert_int_equal(qx.img, k < 2 ? vx / 4 : 0);
            rcl_ctx *ctx = path_ctx(1, 0);
            T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
            T_OK(rcl_ctx_set_param(ctx, "conv_wino", "TILE", 4));
            T_OK(rcl_ctx_set_param(ctx, "conv_wino", "VX", vx));
            case_on(ctx, cc, 980 + (uint64_t)(vx + k));
            assert_int_equal(tag_count[T_FWD_WINO], 2); /* the weight transform, the conv */
            assert_int_equal(tag_count[T_DX_WINO], 4);
            rcl_ctx_destroy(ctx);
            runs++;
        }
    }
    assert_true(runs >= 3);
    /* one tile of 4 (4x4 outputs): F(2x2) */
    rcl_conv_shape one = {9, 6, 4, 4, 5, 3, 3, 1, 1, 1, 4, 4};
    rcl_conv_wino_plan q;
    if (rcl_conv_wino_plan_for(&one, RCL_CONV_FWD, 16, 4, 256, 0, &q)) {
        assert_int_equal(q.img, 0);
        assert_int_equal(q.m, 2);
    }
}

/* Non-temporal stores of the Winograd kernels' outputs (cl/common.h
 * STREAM16; `stream MIN_KB` 1: every output streams, where the device
 * compiler has the builtins): the same results as the cached stores, on
 * rows of 32 and 16 outputs (whole aligned cache lines: streamed) and on
 * an odd width (misaligned rows: stored as before), F(2x2) and F(4x4), the
 * forward pass and the data gradient; the channel counts of
 * test_conv_wino's cases (their kernel variants) */
static void test_conv_wino_stream(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {2, 3, 16, 32, 4, 3, 3, 1, 1, 1, 1, 1, 0}, /* 16x32 out: 32-float rows */
        {3, 5, 16, 16, 7, 3, 3, 1, 1, 1, 1, 0, 0}, /* 16x16 out */
        {2, 3, 21, 19, 4, 3, 3, 1, 1, 1, 1, 0, 0}, /* odd width */
    };
    for (int i = 0; i < 6; i++) {
        rcl_ctx *ctx = path_ctx(1, 0);
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
        T_OK(rcl_ctx_set_param(ctx, "conv_wino", "TILE", i < 3 ? 2 : 4));
        T_OK(rcl_ctx_set_param(ctx, "stream", "MIN_KB", 1));
        case_on(ctx, &cases[i % 3], 700 + (uint64_t)i);
        assert_true(tag_count[T_FWD_WINO] > 0 && tag_count[T_DX_WINO] > 0);
        rcl_ctx_destroy(ctx);
    }
}

/* Winograd F(2x2, 3x3) (cl/conv_wino.cl) and F(4x4, 3x3)
 * (conv_wino4 there, conv_wino TILE 4, outputs at least 17 wide; each case
 * runs with TILE 2 and 4): with conv.WINOGRAD 1 and the
 * direct path forced, the forward pass and data gradient of 3x3 stride-1
 * convs run through it (the weight transform, then one launch for every
 * image, reading the input itself: counted by tag), exact against the reference (conv_case) on odd shapes,
 * and with conv.WINOGRAD 2 the weight gradient too (its plan on every
 * case, its kernels on two: test_conv_wino_dw); stride 2 and, for the
 * forward pass and data gradient, more than 64 input channels or fewer than
 * 4 tiles per row (outputs under 7 wide) stay on the direct kernels, and so does a pass whose transformed weights (16 *
 * C * OC floats) outgrow the im2col path's reordered output (a batch of
 * very few small images). Then its error against the double reference next to
 * the direct kernels' on a resnet-sized layer (docs/semantics.md). */
static void test_conv_wino(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {3, 5, 9, 9, 7, 3, 3, 1, 1, 1, 1, 1, 0},    /* odd map and channels */
        {2, 3, 5, 9, 17, 3, 3, 1, 1, 1, 1, 1, 0},   /* OC past two OCB blocks */
        {2, 3, 21, 19, 4, 3, 3, 1, 1, 1, 1, 0, 0},  /* odd width, vector tiles per row */
        {2, 3, 7, 11, 4, 3, 3, 1, 1, 0, 0, 1, 0},   /* pad 0: 5x9 out, dx pad 2 */
        {20, 64, 6, 10, 9, 3, 3, 1, 1, 1, 1, 1, 0}, /* 64 input channels, the most */
        {2, 9, 12, 40, 64, 3, 3, 1, 1, 1, 1, 0, 0}, /* dx with 64 input channels, 8-wide */
        {40, 5, 2, 8, 7, 3, 3, 1, 1, 1, 1, 1, 0},   /* one tile row */
        {70, 65, 8, 8, 3, 3, 3, 1, 1, 1, 1, 1, 0},  /* 65 channels: forward (in) and dx (out) direct */
        {2, 5, 9, 9, 7, 3, 3, 2, 2, 1, 1, 0, 0},    /* stride 2: direct */
        {3, 6, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 0},    /* 7x7: two tile rows per vector, the
                                                       last row and column cut */
        {2, 4, 10, 8, 6, 3, 3, 1, 1, 1, 1, 0, 0},   /* 5 tile rows of 4: one row per vector */
        {3, 5, 14, 17, 9, 3, 3, 1, 1, 1, 1, 1, 0},  /* F(4x4): 5 tiles of 4 per row, the last
                                                       1 wide; the last tile row 2 high */
        {2, 4, 11, 35, 10, 3, 3, 1, 1, 0, 0, 0, 0}, /* F(4x4): 9x33 out, two vectors of 8
                                                       tiles per row; dx 11x35 */
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    int fw = 0, xw = 0, ww = 0, m4 = 0;
    for (int i = 0; i < 2 * ncases; i++) {
        const conv_case_t *cc = &cases[i % ncases];
        const int tile = i < ncases ? 2 : 4;
        int mf = 0, mx = 0;
        int cf = wino_chunks(cc, RCL_CONV_FWD, tile, 256, &mf);
        int cx = wino_chunks(cc, RCL_CONV_DX, tile, 256, &mx);
        int cw = wino_chunks(cc, RCL_CONV_DW, tile, 256, NULL);
        int dwd = direct_chunks(cc, RCL_CONV_DW) > 0; /* the dw pass takes the direct path */
        /* the covering subset (tu_sweep_all): a case whose plan takes
         * F(4x4) at TILE 4 runs there only, the others at TILE 2 only
         * (TILE 4 runs F(2x2) on them); each compiles its own variants
         * (the channel count is compiled in: 2-3 s each on llvmpipe) */
        int f4 = 0, f4x = 0;
        wino_chunks(cc, RCL_CONV_FWD, 4, 256, &f4), wino_chunks(cc, RCL_CONV_DX, 4, 256, &f4x);
        const int takes4 = f4 == 4 || f4x == 4;
        if (tile == 2) fw += cf > 0, xw += cx > 0, ww += cw > 0 && dwd;
        else m4 += (mf == 4) + (mx == 4);
        if (!tu_sweep_all() && takes4 != (tile == 4)) continue;
        /* mode 2 (the weight gradient too) on the first two cases: every
         * other case would compile another variant of conv_wino_dwf (5 s
         * each on PoCL), whose paths test_conv_wino_dw covers */
        for (int mode = 1; mode <= (i < 2 ? 2 : 1); mode++) {
            rcl_ctx *ctx = path_ctx(1, 0);
            T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", mode));
            T_OK(rcl_ctx_set_param(ctx, "conv_wino", "TILE", tile));
            case_on(ctx, cc, 500 + (uint64_t)i);
            /* the scratch the memory estimate predicts is what the passes took */
            rcl_conv2d_desc cd = {cc->kh, cc->kw, cc->sh, cc->sw, cc->ph, cc->pw};
            rcl_conv2d_scratch sc;
            T_OK(rcl_conv2d_scratch_bytes(ctx, cc->n, cc->c, cc->h, cc->w, cc->oc, &cd, 1, &sc));
            assert_int_equal(ctx->scratch_bytes[RCL_SCRATCH_COL], sc.col);
            assert_int_equal(ctx->scratch_bytes[RCL_SCRATCH_TMP], sc.tmp);
            const int *t = tag_count;
            /* forward 1 call, dx 2 (backward of all, dx alone): the weight
             * transform and a conv per chunk each */
            assert_int_equal(t[T_FWD_WINO], cf ? 1 + cf : 0);
            assert_int_equal(t[T_DX_WINO], cx ? 2 * (1 + cx) : 0);
            assert_int_equal(t[T_FWD_DIRECT], cf ? 0 : 1);
            assert_int_equal(t[T_DX_DIRECT] > 0, cx == 0 && direct_chunks(cc, RCL_CONV_DX) > 0);
            /* the weight gradient: Winograd only with mode 2 */
            int dww = mode == 2 && cw && dwd;
            assert_int_equal(t[T_DW_WINO] > 0, dww);
            assert_int_equal(t[T_DW_DIRECT] > 0, dwd && !dww);
            rcl_ctx_destroy(ctx);
        }
        if (tile == 2) {
            assert_true(mf <= 2 && mx <= 2);
            assert_true(cf <= 1 && cx <= 1); /* every image in one launch */
        }
    }
    assert_int_equal(fw, ncases - 2); /* not: stride 2, 65 channels */
    assert_int_equal(xw, ncases - 2); /* not: stride 2, 65 channels */
    assert_int_equal(ww, ncases - 1); /* the plan takes all but stride 2 */
    /* TILE 4: 21x19, 12x40, 14x17, 11x35: forward and dx; and 7x7 (F(4x4)
     * across images) with 8-wide vectors or more */
    assert_int_equal(m4, 8 + (rcl_conv_direct_vw(T_CTX) >= 8 ? 2 : 0));
    /* fewer than 4 tiles per row (outputs under 7 wide): direct */
    assert_int_equal(wino_chunks(&(conv_case_t){8, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 0},
                                 RCL_CONV_FWD, 2, 256, NULL), 0);
    /* the transformed weights' rule: one image of 64 channels on 6x10 */
    assert_int_equal(wino_chunks(&(conv_case_t){1, 64, 6, 10, 9, 3, 3, 1, 1, 1, 1, 1, 0},
                                 RCL_CONV_FWD, 2, 256, NULL), 0);

    rcl_ctx *ctx;
    /* per image: the outputs and data gradients of images 0-1 are the same
     * bits in a batch of 2 as in a batch of 4 (data-parallel training's
     * ranks see fewer images per conv; test_train_mpi); the 8x8 conv takes
     * F(4x4) across images where the vectors are 8 wide or more, the last
     * vector of a batch of 10 partly filled */
    for (int k = 0; k < 4; k++) {
        /* (with narrower vectors the 8x8 conv takes F(2x2) from 16 images,
         * another kernel below: not per image) */
        if (k == 3 && rcl_conv_direct_vw(T_CTX) < 8) continue;
        const int C[4] = {3, 16, 32, 64}, HW[4] = {32, 32, 16, 8}, OC[4] = {16, 16, 32, 64};
        ctx = path_ctx(k == 3 ? 1 : -1, 0); /* (the rule leaves 64 channels of 2 images to GEMMs) */
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
        rcl_ctx *keep = T_CTX;
        T_CTX = ctx;
        /* the 8x8 conv: batches of 10 and 20 (its data gradient's direct
         * plan needs 9 images: the flipped weights in the im2col path's
         * buffers) */
        const int n1 = k == 3 ? 10 : 2, n2 = 2 * n1;
        size_t per_x = (size_t)C[k] * HW[k] * HW[k], per_y = (size_t)OC[k] * HW[k] * HW[k];
        float *x = malloc(n2 * per_x * 4), *w = malloc((size_t)OC[k] * C[k] * 9 * 4);
        float *dy = malloc(n2 * per_y * 4);
        tu_rng r = tu_rng_seed(530 + (uint64_t)k);
        tu_fill(&r, x, n2 * per_x, -1, 1), tu_fill(&r, w, (size_t)OC[k] * C[k] * 9, -1, 1);
        tu_fill(&r, dy, n2 * per_y, -1, 1);
        float *got[2][2];
        for (int b = 0; b < 2; b++) {
            int n = b ? n2 : n1;
            rcl_tensor tx, tw, ty, tdy, tdx;
            tu_tensor(&tx, n, C[k], HW[k], HW[k], x);
            tu_tensor(&tw, OC[k], C[k], 3, 3, w);
            tu_tensor(&ty, n, OC[k], HW[k], HW[k], NULL);
            tu_tensor(&tdy, n, OC[k], HW[k], HW[k], dy);
            tu_tensor(&tdx, n, C[k], HW[k], HW[k], NULL);
            rcl_conv2d_desc d = {3, 3, 1, 1, 1, 1};
            T_OK(rcl_conv2d_forward(ctx, &ty, &tx, &tw, NULL, &d));
            T_OK(rcl_conv2d_backward(ctx, &tdx, NULL, NULL, &tdy, &tx, &tw, &d));
            got[b][0] = tu_read(&ty), got[b][1] = tu_read(&tdx);
            rcl_tensor *all[] = {&tx, &tw, &ty, &tdy, &tdx};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rcl_tensor_destroy(all[i]);
        }
        assert_true(tag_count[T_FWD_WINO] > 0 && tag_count[T_DX_WINO] > 0);
        if (memcmp(got[0][0], got[1][0], n1 * per_y * 4))
            fail_msg("conv %d: forward of the first %d images differs between batches of %d and %d",
                     k, n1, n1, n2);
        if (memcmp(got[0][1], got[1][1], n1 * per_x * 4))
            fail_msg("conv %d: data gradient of the first %d images differs between batches of %d "
                     "and %d", k, n1, n1, n2);
        for (int b = 0; b < 2; b++) free(got[b][0]), free(got[b][1]);
        free(x), free(w), free(dy);
        T_CTX = keep;
        rcl_ctx_destroy(ctx);
    }
    /* error against the double reference: resnet20's layer3 conv (64 to 64
     * channels on 8x8: at TILE 4 F(4x4) across images on devices of 8-wide
     * vectors or more, else F(2x2)), layer1 conv (16 to 16 on 32x32) and a
     * 64 to 64 conv on 32x32 (the most input channels Winograd takes),
     * inputs and weights in [-1, 1] */
    const conv_case_t l3 = {32, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 0, 0};
    const conv_case_t l1 = {8, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 0, 0};
    const conv_case_t c64 = {4, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 0, 0};
    double e3[3][2], e1[3][2], e64[3][2];
    wino_error(&l3, 520, e3, rcl_conv_direct_vw(T_CTX) >= 8);
    wino_error(&l1, 521, e1, 1);
    wino_error(&c64, 522, e64, 1);
    print_message("conv 64x32x32 -> 64: forward direct %.2e F(2x2) %.2e F(4x4) %.2e, data "
                  "gradient direct %.2e F(2x2) %.2e F(4x4) %.2e\n",
                  e64[0][0], e64[1][0], e64[2][0], e64[0][1], e64[1][1], e64[2][1]);
    print_message("conv 64x8x8 -> 64, max error / max |value| against the double reference: "
                  "forward direct %.2e F(2x2) %.2e TILE 4 %.2e, data gradient direct %.2e "
                  "F(2x2) %.2e TILE 4 %.2e\n",
                  e3[0][0], e3[1][0], e3[2][0], e3[0][1], e3[1][1], e3[2][1]);
    print_message("conv 16x32x32 -> 16: forward direct %.2e F(2x2) %.2e F(4x4) %.2e, data "
                  "gradient direct %.2e F(2x2) %.2e F(4x4) %.2e\n",
                  e1[0][0], e1[1][0], e1[2][0], e1[0][1], e1[1][1], e1[2][1]);
    /* both stay within a few float roundings of the direct sum */
    for (int k = 1; k <= 2; k++)
        for (int j = 0; j < 2; j++)
            assert_true(e3[k][j] < 1e-5 && e1[k][j] < 1e-5 && e64[k][j] < 1e-5);
}

/* The rule (PATH 0): direct for small channel counts, im2col + GEMM for
 * wide ones; a shape's own entries override it pass by pass. */
/* The forward GEMM reading im2col's output as its packed op(B) panels
 * (cl/im2col.cl im2col_panels, im2col.PANELS): on both devices (the tiled
 * GEMM made the default path, so CLBlast devices take it too), against
 * im2col + pack: no pack launch in the forward pass where the panels are
 * written, the same im2col launches, the output bitwise equal (the GEMM
 * reads the same panels), and the whole case exact against the reference
 * with the scratch the memory estimate predicts. Shapes: the last panel
 * partial (NP not a multiple of the panel width), several chunks (a 1 MiB
 * column budget), stride 2, 1x1, 7x7, an even kernel; the threshold on the
 * output pixels per image is applied per conv. */
static int count_pack;
static void count_pack_tag(void *user, const char *tag, cl_event ev)
{
    (void)user, (void)ev;
    if (!strcmp(tag, "pack")) count_pack++;
    if (!strcmp(tag, "im2col")) im2col_launches++;
}

static rcl_ctx *panels_ctx(const conv_case_t *cc, int max_p, int budget_mb)
{
    rcl_ctx *ctx;
    rcl_ctx_options opt = {.profiling = 1};
    T_OK(rcl_ctx_create(&ctx, rcl_ctx_device(T_CTX)->index, &opt));
    T_OK(rcl_ctx_set_param(ctx, "conv", "PATH", RCL_CONV_PATH_GEMM));
    T_OK(rcl_ctx_set_param(ctx, "conv", "WINO_GEMM", 0)); /* im2col itself */
    T_OK(rcl_ctx_set_param(ctx, "gemm", "DEFAULT_PATH", RCL_GEMM_TILED));
    /* the forward GEMM packs op(B) (XB 2) for every chunk size, as the
     * CPU defaults do (scalar devices' defaults read it in place) */
    int p = rcl_conv_out_size(cc->h, cc->kh, cc->sh, cc->ph) *
            rcl_conv_out_size(cc->w, cc->kw, cc->sw, cc->pw);
    for (int nb = 1; nb <= cc->n; nb++) {
        char cls[48], key[64];
        rcl_gemm_class(0, 0, cc->oc, nb * p, cc->c * cc->kh * cc->kw, cls, sizeof cls);
        snprintf(key, sizeof key, "gemm.%s", cls);
        T_OK(rcl_ctx_set_param(ctx, key, "XB", 2));
    }
    /* the weight gradient's GEMM (NT) likewise, on every device: the outer
     * form on packed op(B) (the CPU defaults at vector width 4) */
    rcl_gemm_tiled_params nt = rcl_gemm_tiled_defaults(4, 0, 1);
    assert_int_equal(nt.xb, 2);
    assert_true(rcl_gemm_tiled_valid(&nt, 0, 1));
    for (int nb = 1; nb <= cc->n; nb++) {
        char cls[48], key[64];
        rcl_gemm_class(0, 1, cc->oc, cc->c * cc->kh * cc->kw, nb * p, cls, sizeof cls);
        snprintf(key, sizeof key, "gemm.%s", cls);
        T_OK(rcl_ctx_set_param(ctx, key, "PATH", RCL_GEMM_TILED));
        for (int f = 0; f < RCL_GEMM_TILED_NPARAMS; f++)
            T_OK(rcl_ctx_set_param(ctx, key, rcl_gemm_tiled_names[f],
                                   *rcl_gemm_tiled_field(&nt, f)));
    }
    T_OK(rcl_ctx_set_param(ctx, "conv", "IMAGES_B", 0)); /* 1x1 convs copy too */
    T_OK(rcl_ctx_set_param(ctx, "im2col", "PANELS", max_p));
    T_OK(rcl_ctx_set_param(ctx, "im2col", "WPANELS", max_p));
    if (budget_mb > 0) T_OK(rcl_ctx_set_param(ctx, "conv", "COL_BUDGET_MB", budget_mb));
    rcl_ctx_set_profiler(ctx, count_pack_tag, NULL);
    return ctx;
}

/* one pass of cc on ctx from x, w and v: the forward (v the bias) -> y,
 * or the weight gradient alone (dw: v is dy) -> dw; the result malloc'd,
 * *packs, *im2cols its launches */
static float *panels_pass(rcl_ctx *ctx, const conv_case_t *cc, int dw, const float *x,
                          const float *w, const float *v, int *packs, int *im2cols)
{
    rcl_ctx *keep = T_CTX;
    T_CTX = ctx;
    int oh = rcl_conv_out_size(cc->h, cc->kh, cc->sh, cc->ph);
    int ow = rcl_conv_out_size(cc->w, cc->kw, cc->sw, cc->pw);
    rcl_tensor tx, tw, tv, tout;
    tu_tensor(&tx, cc->n, cc->c, cc->h, cc->w, x);
    tu_tensor(&tw, cc->oc, cc->c, cc->kh, cc->kw, w);
    if (dw) {
        tu_tensor(&tv, cc->n, cc->oc, oh, ow, v);
        tu_tensor(&tout, cc->oc, cc->c, cc->kh, cc->kw, NULL);
    } else {
        tu_tensor(&tv, cc->oc, 1, 1, 1, v);
        tu_tensor(&tout, cc->n, cc->oc, oh, ow, NULL);
    }
    T_OK(rcl_tensor_fill(ctx, &tout, 1234.5f));
    count_pack = im2col_launches = 0;
    rcl_conv2d_desc d = {cc->kh, cc->kw, cc->sh, cc->sw, cc->ph, cc->pw};
    if (dw) T_OK(rcl_conv2d_backward(ctx, NULL, &tout, NULL, &tv, &tx, &tw, &d));
    else T_OK(rcl_conv2d_forward(ctx, &tout, &tx, &tw, cc->bias ? &tv : NULL, &d));
    float *out = tu_read(&tout);
    *packs = count_pack, *im2cols = im2col_launches;
    rcl_tensor *all[] = {&tx, &tw, &tv, &tout};
    for (int i = 0; i < 4; i++) rcl_tensor_destroy(all[i]);
    T_CTX = keep;
    return out;
}

/* panels_pass `dw` of case i on the contexts with panels on, off and just
 * below their threshold (ctx[0..2]): no pack launch with panels, the same
 * im2col launches, below the threshold as off, and the n outputs bitwise
 * equal */
static void panels_compare(rcl_ctx *const ctx[3], const conv_case_t *cc, int dw, const float *x,
                           const float *w, const float *v, size_t n, size_t i)
{
    int p[3], im[3];
    float *out[3];
    for (int c = 0; c < 3; c++) out[c] = panels_pass(ctx[c], cc, dw, x, w, v, &p[c], &im[c]);
    const char *what = dw ? "weight gradient" : "forward";
    if (p[0] != 0 || p[1] < 1 || p[2] != p[1] || im[0] != im[1] || im[0] < 1 || im[2] != im[1])
        fail_msg("case %zu: %s: pack launches %d / %d / %d, im2col %d / %d / %d (panels on / "
                 "off / below the threshold)", i, what, p[0], p[1], p[2], im[0], im[1], im[2]);
    if (memcmp(out[0], out[1], n * 4) || memcmp(out[2], out[1], n * 4))
        fail_msg("case %zu: the %s outputs with and without panels differ", i, what);
    for (int c = 0; c < 3; c++) free(out[c]);
}

static void test_conv_panels(void **state)
{
    (void)state;
    const struct {
        conv_case_t cc;
        int budget_mb;
    } cases[] = {
        {{3, 5, 9, 9, 7, 3, 3, 1, 1, 1, 1, 1, 0}, 0},   /* NP 243: last panel partial */
        {{3, 5, 11, 10, 7, 3, 3, 2, 2, 1, 1, 1, 0}, 0}, /* stride 2, output 6x5 */
        {{2, 3, 16, 13, 8, 7, 7, 2, 2, 3, 3, 0, 0}, 0}, /* 7x7 stem */
        {{3, 6, 9, 7, 5, 1, 1, 1, 1, 0, 0, 1, 0}, 0},   /* 1x1, several images: panels
                                                           inside an image and across two */
        {{3, 20, 8, 8, 6, 1, 1, 1, 1, 0, 0, 1, 0}, 0},  /* 1x1, every panel inside an image
                                                           (rows copied whole), 2 row blocks */
        {{2, 2, 6, 6, 3, 2, 2, 1, 1, 0, 0, 1, 0}, 0},   /* even kernel, pad 0 */
        {{11, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 0}, 1}, /* chunks of 6 + 5 images */
        {{5, 3, 2, 2, 9, 3, 3, 1, 1, 1, 1, 0, 0}, 0},   /* 2x2 maps, 45 columns */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case_t *cc = &cases[i].cc;
        size_t nx = (size_t)cc->n * cc->c * cc->h * cc->w, nw = (size_t)cc->oc * cc->c * cc->kh * cc->kw;
        tu_rng r = tu_rng_seed(300 + i);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)cc->oc * 4);
        tu_fill(&r, x, nx, -1, 1);
        tu_fill(&r, w, nw, -1, 1);
        tu_fill(&r, b, (size_t)cc->oc, -1, 1);
        int oh = rcl_conv_out_size(cc->h, cc->kh, cc->sh, cc->ph);
        int ow = rcl_conv_out_size(cc->w, cc->kw, cc->sw, cc->pw);
        size_t ny = (size_t)cc->n * cc->oc * oh * ow;
        rcl_ctx *ctx[3] = {panels_ctx(cc, 1 << 30, cases[i].budget_mb),
                           panels_ctx(cc, 0, cases[i].budget_mb),
                           panels_ctx(cc, oh * ow - 1, cases[i].budget_mb)}; /* the threshold */
        rcl_ctx *on = ctx[0];
        panels_compare(ctx, cc, 0, x, w, b, ny, i);
        /* the weight gradient: im2col straight into its GEMM's panels of
         * col^T (im2col_wpanels) instead of im2col + pack, the same numbers */
        float *dy = malloc(ny * 4);
        tu_fill(&r, dy, ny, -1, 1);
        panels_compare(ctx, cc, 1, x, w, dy, nw, i);
        free(dy);
        /* forward and gradients against the reference; the scratch slot
         * COL (panels: padded to whole panels) as the estimate predicts */
        case_on(on, cc, 400 + i);
        rcl_conv2d_desc cd = {cc->kh, cc->kw, cc->sh, cc->sw, cc->ph, cc->pw};
        rcl_conv2d_scratch sc;
        T_OK(rcl_conv2d_scratch_bytes(on, cc->n, cc->c, cc->h, cc->w, cc->oc, &cd, 1, &sc));
        if (on->scratch_bytes[RCL_SCRATCH_COL] != sc.col)
            fail_msg("case %zu: scratch COL %zu, predicted %llu", i,
                     on->scratch_bytes[RCL_SCRATCH_COL], (unsigned long long)sc.col);
        for (int c = 0; c < 3; c++) rcl_ctx_destroy(ctx[c]);
        free(x), free(w), free(b);
    }
}

/* A context for test_conv_images_b: the im2col path, our GEMM, and the
 * forward (NN) and data-gradient (TN) GEMM classes of cc with explicit
 * 4-wide tiles on every device (so that P % 4 decides the chooser); the
 * forward's op(B) packed (XB 2), the data gradient's read in place (XB 0);
 * conv.IMAGES_B `mode` */
static rcl_ctx *images_ctx(const conv_case_t *cc, int mode)
{
    rcl_ctx *ctx = path_ctx(0, 0);
    T_OK(rcl_ctx_set_param(ctx, "gemm", "DEFAULT_PATH", RCL_GEMM_TILED));
    T_OK(rcl_ctx_set_param(ctx, "conv", "IMAGES_B", mode));
    int np = cc->n * cc->h * cc->w;
    struct {
        int ta, m, k;
        rcl_gemm_tiled_params p;
    } cls[2] = {
        {0, cc->oc, cc->c,
         {.mwi = 3, .nwi = 8, .vw = 4, .ku = 2, .wgm = 2, .wgn = 2, .ms = 1, .xb = 2}},
        {1, cc->c, cc->oc,
         {.mwi = 5, .nwi = 12, .vw = 4, .ku = 3, .wgm = 2, .wgn = 2, .ms = 0, .xa = 1}},
    };
    /* the covering subset (tu_sweep_all): the data gradient's tile 3 x 4,
     * k unrolled once (the 5 x 12 tile unrolled 3 times took llvmpipe
     * 13.4 s to compile at its first launch, each of its two variants) */
    if (!tu_sweep_all()) {
        cls[1].p.mwi = 3;
        cls[1].p.nwi = 4;
        cls[1].p.ku = 1;
    }
    for (int i = 0; i < 2; i++) {
        char c[48], key[64];
        rcl_gemm_class(cls[i].ta, 0, cls[i].m, np, cls[i].k, c, sizeof c);
        snprintf(key, sizeof key, "gemm.%s", c);
        assert_true(rcl_gemm_tiled_valid(&cls[i].p, cls[i].ta, 0));
        T_OK(rcl_ctx_set_param(ctx, key, "PATH", RCL_GEMM_TILED));
        rcl_gemm_tiled_params p = cls[i].p;
        for (int f = 0; f < RCL_GEMM_TILED_NPARAMS; f++)
            T_OK(rcl_ctx_set_param(ctx, key, rcl_gemm_tiled_names[f], *rcl_gemm_tiled_field(&p, f)));
    }
    return ctx;
}

/* cc's fused forward (bias, residual, ReLU) and backward (dx + dx_add, dw,
 * db) on ctx from the host data; outputs malloc'd into out[0..3] (y, dx,
 * dw, db); tag_count holds the launches */
static void images_run(rcl_ctx *ctx, const conv_case_t *cc, float *const in[6], float *out[4])
{
    rcl_ctx *keep = T_CTX;
    T_CTX = ctx;
    rcl_tensor x, w, b, res, y, dy, add, dx, dw, db;
    tu_tensor(&x, cc->n, cc->c, cc->h, cc->w, in[0]);
    tu_tensor(&w, cc->oc, cc->c, 1, 1, in[1]);
    tu_tensor(&b, cc->oc, 1, 1, 1, in[2]);
    tu_tensor(&res, cc->n, cc->oc, cc->h, cc->w, in[3]);
    tu_tensor(&dy, cc->n, cc->oc, cc->h, cc->w, in[4]);
    tu_tensor(&add, cc->n, cc->c, cc->h, cc->w, in[5]);
    tu_tensor(&y, cc->n, cc->oc, cc->h, cc->w, NULL);
    tu_tensor(&dx, cc->n, cc->c, cc->h, cc->w, NULL);
    tu_tensor(&dw, cc->oc, cc->c, 1, 1, NULL);
    tu_tensor(&db, cc->oc, 1, 1, 1, NULL);
    T_OK(rcl_tensor_fill(ctx, &y, 1234.5f));
    T_OK(rcl_tensor_fill(ctx, &dx, 1234.5f));
    rcl_conv2d_desc d = {1, 1, 1, 1, 0, 0};
    memset(tag_count, 0, sizeof tag_count);
    T_OK(rcl_conv2d_forward_fused(ctx, &y, &x, &w, &b, &res, 1, &d));
    T_OK(rcl_conv2d_backward_acc(ctx, &dx, &dw, &db, &dy, &x, &w, &add, &d));
    out[0] = tu_read(&y), out[1] = tu_read(&dx), out[2] = tu_read(&dw), out[3] = tu_read(&db);
    rcl_tensor *all[] = {&x, &w, &b, &res, &y, &dy, &add, &dx, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rcl_tensor_destroy(all[i]);
    T_CTX = keep;
}

/* 1x1 stride-1 unpadded convs on small maps (the im2col path) with
 * conv.IMAGES_B: the forward GEMM reads x and the data gradient's reads dy
 * in place as images (cl/gemm.cl BI; mode 2: vectors across two images
 * blended), storing y (bias, residual, ReLU) and dx (+ dx_add) themselves:
 * no im2col for the forward, no reorder, no col2im; bitwise the outputs of
 * the copying path (mode 0) with the same tiles, exact against the
 * reference; NP not a multiple of the vector width, P not a multiple of it
 * (mode 1) or under it (mode 2) keeps the copies (the chooser: each path
 * reached) */
static void test_conv_images_b(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {3, 6, 4, 3, 5, 1, 1, 1, 1, 0, 0, 1, 0},  /* P 12, NP 36: the last NN tile half past N */
        {5, 7, 2, 2, 9, 1, 1, 1, 1, 0, 0, 1, 0},  /* P 4, NP 20: last tiles cut in both */
        {4, 6, 5, 1, 5, 1, 1, 1, 1, 0, 0, 1, 0},  /* P 5: vectors across two images */
        {4, 5, 3, 3, 7, 1, 1, 1, 1, 0, 0, 1, 0},  /* P 9, NP 36 */
        {3, 9, 5, 5, 4, 1, 1, 1, 1, 0, 0, 1, 0},  /* NP 75 not whole vectors: copies */
        {4, 3, 1, 2, 6, 1, 1, 1, 1, 0, 0, 1, 0},  /* P 2: a vector would span 3 images */
    };
    /* llvmpipe (scalar vectors) compiles each GEMM variant for seconds (all
     * six shapes: 106 s cold): there only the shape whose vectors cross
     * images (the blend, mode 1 refusing it, the copies); every shape on
     * CPU drivers (tu_sweep_all) */
    const int all = tu_sweep_all();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!all && i != 2) continue;
        const conv_case_t *cc = &cases[i];
        int P = cc->h * cc->w, whole = cc->n * P % 4 == 0;
        int img[3] = {0, whole && P % 4 == 0, whole && P >= 4}; /* per IMAGES_B mode */
        size_t nx = (size_t)cc->n * cc->c * P, ny = (size_t)cc->n * cc->oc * P;
        size_t nw = (size_t)cc->oc * cc->c, sz[6] = {nx, nw, (size_t)cc->oc, ny, ny, nx};
        size_t osz[4] = {ny, nx, nw, (size_t)cc->oc};
        float *in[6], *out[3][4];
        tu_rng r = tu_rng_seed(900 + i);
        for (int k = 0; k < 6; k++) {
            in[k] = malloc(sz[k] * 4);
            tu_fill(&r, in[k], sz[k], -1, 1);
        }
        for (int mode = 2; mode >= 0; mode--) {
            rcl_ctx *ctx = images_ctx(cc, mode);
            int np = cc->n * P, via = img[mode];
            assert_int_equal(rcl_gemm_images_b_ok(ctx, 0, cc->oc, np, cc->c, P), via);
            assert_int_equal(rcl_gemm_images_b_ok(ctx, 1, cc->c, np, cc->oc, P), via);
            images_run(ctx, cc, in, out[mode]);
            if (via) { /* one GEMM each for y and dx; im2col only for dw */
                assert_int_equal(tag_count[T_FWD_GEMM], 1);
                assert_int_equal(tag_count[T_DX_GEMM], 1);
                assert_int_equal(tag_count[T_COL2IM], 0);
                assert_int_equal(tag_count[T_IM2COL], 1);
                assert_int_equal(tag_count[T_ADD], 0);
            } else {
                assert_true(tag_count[T_COL2IM] >= 1);
                assert_true(tag_count[T_IM2COL] >= 2);
            }
            if (mode) case_on(ctx, cc, 950 + i);
            rcl_ctx_destroy(ctx);
        }
        for (int k = 0; k < 4; k++) {
            for (int mode = 1; mode <= 2; mode++)
                if (memcmp(out[0][k], out[mode][k], osz[k] * 4))
                    fail_msg("case %zu: output %d differs with IMAGES_B %d and 0", i, k, mode);
            for (int mode = 0; mode <= 2; mode++) free(out[mode][k]);
        }
        for (int k = 0; k < 6; k++) free(in[k]);
    }
}

static void test_conv_path_rule(void **state)
{
    (void)state;
    rcl_ctx *ctx = path_ctx(-1, 0);
    T_OK(rcl_ctx_set_param(ctx, "conv", "DIRECT_MAX_C", 8));
    case_on(ctx, &(conv_case_t){2, 5, 9, 9, 7, 3, 3, 1, 1, 1, 1, 1, 0}, 301);
    assert_int_equal(tag_count[T_FWD_DIRECT], 1);
    assert_int_equal(tag_count[T_FWD_GEMM], 0);
    memset(tag_count, 0, sizeof tag_count);
    case_on(ctx, &(conv_case_t){2, 5, 9, 9, 9, 3, 3, 1, 1, 1, 1, 1, 0}, 302);
    assert_int_equal(tag_count[T_FWD_DIRECT], 0);
    assert_int_equal(tag_count[T_FWD_GEMM], 1);
    /* the same wide shape with its own entries: forward and dw direct, dx GEMM */
    T_OK(rcl_ctx_set_param(ctx, "conv.5x9x9_9_3x3s1x1p1x1", "FWD", 1));
    T_OK(rcl_ctx_set_param(ctx, "conv.5x9x9_9_3x3s1x1p1x1", "DX", 0));
    T_OK(rcl_ctx_set_param(ctx, "conv.5x9x9_9_3x3s1x1p1x1", "DW", 1));
    memset(tag_count, 0, sizeof tag_count);
    case_on(ctx, &(conv_case_t){2, 5, 9, 9, 9, 3, 3, 1, 1, 1, 1, 1, 0}, 303);
    assert_int_equal(tag_count[T_FWD_DIRECT], 1);
    assert_int_equal(tag_count[T_DX_GEMM], 2);
    assert_int_equal(tag_count[T_DW_DIRECT], 2 * 2);
    assert_int_equal(tag_count[T_FWD_GEMM] + tag_count[T_DX_DIRECT] + tag_count[T_DW_GEMM], 0);
    /* a weight gradient that Winograd's F(2x2) takes (conv.WINOGRAD 2):
     * direct (so F(2x2)) up to conv_wino DW_MAX_C channels each way on
     * outputs at least 8 wide, the forward and dx still by DIRECT_MAX_C;
     * not without Winograd's weight gradient (WINOGRAD 1), nor above
     * DW_MAX_C, nor on a 7-wide map */
    static const int cases[4][4] = {/* WINOGRAD, DW_MAX_C, map, F(2x2) dw */
                                    {2, 16, 9, 1}, {1, 16, 9, 0}, {2, 9, 9, 0}, {2, 16, 7, 0}};
    for (int i = 0; i < 4; i++) {
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", cases[i][0]));
        T_OK(rcl_ctx_set_param(ctx, "conv_wino", "DW_MAX_C", cases[i][1]));
        memset(tag_count, 0, sizeof tag_count);
        const int m = cases[i][2];
        case_on(ctx, &(conv_case_t){2, 6, m, m, 10, 3, 3, 1, 1, 1, 1, 1, 0}, 304 + i);
        assert_int_equal(tag_count[T_FWD_GEMM], 1);
        assert_int_equal(tag_count[T_DX_GEMM], 2);
        assert_int_equal(tag_count[T_DW_WINO] > 0, cases[i][3]);
        assert_int_equal(tag_count[T_DW_GEMM] > 0, !cases[i][3]);
    }
    rcl_ctx_destroy(ctx);
}

/* Dead taps dropped: on a 1x1 map a 3x3 pad-1 conv is its centre tap (one
 * slice per call, and the weight gradient scattered back: 2 conv_taps per
 * backward with dw), on 2x2 stride 2 the 2x2 taps at the bottom right; on a
 * 2x2 stride-1 map every tap reads the image somewhere: nothing dropped.
 * Exactness (zeros at the dead taps of dw) is conv_case's. */
static void test_conv_dead_taps(void **state)
{
    (void)state;
    for (int path = 0; path <= 1; path++) {
        rcl_ctx *ctx = path_ctx(path, 0);
        case_on(ctx, &(conv_case_t){3, 5, 1, 1, 7, 3, 3, 1, 1, 1, 1, 1, 0}, 401);
        /* forward 1; backward all 2; dx alone 1; dw alone 2 */
        assert_int_equal(tag_count[T_TAPS], 6);
        memset(tag_count, 0, sizeof tag_count);
        case_on(ctx, &(conv_case_t){3, 5, 2, 2, 7, 3, 3, 2, 2, 1, 1, 0, 0}, 402);
        assert_int_equal(tag_count[T_TAPS], 6);
        memset(tag_count, 0, sizeof tag_count);
        case_on(ctx, &(conv_case_t){3, 5, 2, 2, 7, 3, 3, 1, 1, 1, 1, 0, 0}, 403);
        assert_int_equal(tag_count[T_TAPS], 0);
        rcl_ctx_destroy(ctx);
    }
}

/* rcl_conv2d_trim (eval's folded weights: the live taps sliced once): on a
 * 1x1 map a 3x3 pad-1 conv keeps its centre (1x1, pad 0), on a 2x2 map at
 * stride 2 the bottom-right 2x2 taps (pad 0); wt holds those taps of w, and
 * the conv with (wt, t) gives bitwise the floats of (w, d) without a
 * conv_taps launch; on a 2x2 stride-1 map every tap is live (0, *t = *d). */
static void test_conv_trim(void **state)
{
    (void)state;
    const struct {
        int h, s, want, kh, ph;
    } cases[] = {{1, 1, 1, 1, 0}, {2, 2, 1, 2, 0}, {2, 1, 0, 3, 1}};
    const int N = 3, C = 5, OC = 7;
    for (int path = 0; path <= 1; path++) {
        rcl_ctx *ctx = path_ctx(path, 0), *keep = T_CTX;
        T_CTX = ctx;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const int H = cases[i].h;
            tu_rng r = tu_rng_seed(700 + i);
            float hx[3 * 5 * 2 * 2], hw[7 * 5 * 9], hb[7];
            tu_fill(&r, hx, (size_t)N * C * H * H, -1, 1);
            tu_fill(&r, hw, sizeof hw / sizeof hw[0], -1, 1);
            tu_fill(&r, hb, 7, -1, 1);
            rcl_tensor x, w, b, wt, y1, y2;
            tu_tensor(&x, N, C, H, H, hx);
            tu_tensor(&w, OC, C, 3, 3, hw);
            tu_tensor(&b, OC, 1, 1, 1, hb);
            const rcl_conv2d_desc d = {3, 3, cases[i].s, cases[i].s, 1, 1};
            rcl_conv2d_desc t;
            assert_int_equal(rcl_conv2d_trim(ctx, &wt, &t, &w, H, H, &d), cases[i].want);
            assert_int_equal(t.kh, cases[i].kh);
            assert_int_equal(t.kw, cases[i].kh);
            assert_int_equal(t.ph, cases[i].ph);
            assert_int_equal(t.pw, cases[i].ph);
            assert_int_equal(t.sh, d.sh);
            const int OH = rcl_conv_out_size(H, 3, d.sh, 1);
            T_OK(rcl_tensor_create(ctx, &y1, N, OC, OH, OH));
            T_OK(rcl_tensor_create(ctx, &y2, N, OC, OH, OH));
            T_OK(rcl_conv2d_forward(ctx, &y1, &x, &w, &b, &d));
            memset(tag_count, 0, sizeof tag_count);
            T_OK(rcl_conv2d_forward(ctx, &y2, &x, cases[i].want ? &wt : &w, &b, &t));
            assert_int_equal(tag_count[T_TAPS], 0);
            float *a = tu_read(&y1), *c = tu_read(&y2);
            assert_memory_equal(a, c, (size_t)N * OC * OH * OH * sizeof(float));
            if (cases[i].want) {
                /* the live taps start at kernel row and column 1 in both cases */
                float *ht = tu_read(&wt);
                for (int pl = 0; pl < OC * C; pl++)
                    for (int kh = 0; kh < t.kh; kh++)
                        for (int kw = 0; kw < t.kw; kw++)
                            assert_true(ht[(pl * t.kh + kh) * t.kw + kw] ==
                                        hw[pl * 9 + (1 + kh) * 3 + 1 + kw]);
                free(ht);
                rcl_tensor_destroy(&wt);
            }
            free(a), free(c);
            rcl_tensor_destroy(&x), rcl_tensor_destroy(&w), rcl_tensor_destroy(&b);
            rcl_tensor_destroy(&y1), rcl_tensor_destroy(&y2);
        }
        /* bad arguments: a status, nothing created */
        rcl_tensor w0 = {0};
        rcl_conv2d_desc t0, d0 = {3, 3, 1, 1, 1, 1};
        assert_true(rcl_conv2d_trim(ctx, NULL, &t0, &w0, 1, 1, &d0) < 0);
        T_CTX = keep;
        rcl_ctx_destroy(ctx);
    }
}

/* The pure rules, no device. */
static void test_conv_rules(void **state)
{
    (void)state;
    /* the dense rule: Q <= live taps, the P x Q cap, D within the budget
     * and max_alloc, and off */
    assert_int_equal(rcl_conv_is_dense(1, 4, 4, 9, 256, 256, 256, 0), 1);
    assert_int_equal(rcl_conv_is_dense(0, 4, 4, 9, 256, 256, 256, 0), 0);
    assert_int_equal(rcl_conv_is_dense(1, 16, 16, 9, 8, 8, 256, 0), 0);  /* 4x4 map */
    assert_int_equal(rcl_conv_is_dense(1, 1, 1, 1, 2048, 512, 256, 0), 1); /* identity */
    assert_int_equal(rcl_conv_is_dense(1, 4, 1, 1, 64, 64, 256, 0), 0);  /* 1x1 kernel, 2x2 */
    assert_int_equal(rcl_conv_is_dense(1, 9, 9, 9, 4, 4, 256, 0), 1);    /* 3x3 map */
    assert_int_equal(rcl_conv_is_dense(1, 49, 49, 49, 4, 4, 256, 0), 0); /* P*Q over the cap */
    /* D of 256 -> 256 at 2x2 is 4 MiB: not within 1 MiB, nor a 2 MiB max_alloc */
    assert_int_equal(rcl_conv_is_dense(1, 4, 4, 9, 256, 256, 4, 0), 1);
    assert_int_equal(rcl_conv_is_dense(1, 4, 4, 9, 256, 256, 3, 0), 0);
    assert_int_equal(rcl_conv_is_dense(1, 4, 4, 9, 256, 256, 256, 2u << 20), 0);
    int lo, hi;
    rcl_conv_live_taps(1, 1, 1, 1, 3, &lo, &hi); /* 1x1 map, 3x3 pad 1 */
    assert_int_equal(lo, 1), assert_int_equal(hi, 2);
    rcl_conv_live_taps(1, 2, 2, 1, 3, &lo, &hi); /* 2 -> 1, stride 2 */
    assert_int_equal(lo, 1), assert_int_equal(hi, 3);
    rcl_conv_live_taps(2, 2, 1, 1, 3, &lo, &hi); /* 2x2 stride 1: all */
    assert_int_equal(lo, 0), assert_int_equal(hi, 3);
    rcl_conv_live_taps(32, 32, 1, 1, 3, &lo, &hi);
    assert_int_equal(lo, 0), assert_int_equal(hi, 3);
    rcl_conv_live_taps(1, 1, 1, 3, 7, &lo, &hi); /* 7x7 pad 3 on 1x1 */
    assert_int_equal(lo, 3), assert_int_equal(hi, 4);
    /* chooser: resnet20's layer1 conv goes direct, 128 channels not (by the
     * rule; forced or by its own entry, it does) */
    rcl_conv_shape a = {128, 16, 32, 32, 16, 3, 3, 1, 1, 1, 32, 32};
    rcl_conv_shape b = {100, 128, 8, 8, 128, 3, 3, 1, 1, 1, 8, 8};
    for (int pass = 0; pass < 3; pass++) {
        assert_int_equal(rcl_conv_use_direct(&a, pass, RCL_CONV_PATH_RULE, 64, -1, 16, 256, 0), 1);
        assert_int_equal(rcl_conv_use_direct(&a, pass, RCL_CONV_PATH_GEMM, 64, 1, 16, 256, 0), 0);
        assert_int_equal(rcl_conv_use_direct(&a, pass, RCL_CONV_PATH_RULE, 64, 0, 16, 256, 0), 0);
        assert_int_equal(rcl_conv_use_direct(&b, pass, RCL_CONV_PATH_RULE, 64, -1, 16, 256, 0), 0);
        assert_int_equal(rcl_conv_use_direct(&b, pass, RCL_CONV_PATH_DIRECT, 64, -1, 16, 256, 0), 1);
        assert_int_equal(rcl_conv_use_direct(&b, pass, RCL_CONV_PATH_RULE, 64, 1, 16, 256, 0), 1);
    }
    /* the rule keeps stride-2 data gradients on im2col + GEMM */
    rcl_conv_shape s2 = {128, 16, 32, 32, 32, 3, 3, 2, 1, 1, 16, 16};
    assert_int_equal(rcl_conv_use_direct(&s2, RCL_CONV_FWD, RCL_CONV_PATH_RULE, 64, -1, 16, 256, 0), 1);
    assert_int_equal(rcl_conv_use_direct(&s2, RCL_CONV_DW, RCL_CONV_PATH_RULE, 64, -1, 16, 256, 0), 1);
    assert_int_equal(rcl_conv_use_direct(&s2, RCL_CONV_DX, RCL_CONV_PATH_RULE, 64, -1, 16, 256, 0), 0);
    assert_int_equal(rcl_conv_use_direct(&s2, RCL_CONV_DX, RCL_CONV_PATH_DIRECT, 64, -1, 16, 256, 0), 1);
    /* strides that differ per axis or above 2: never; more than 16 taps:
     * the forward only (its loop over taps), up to 7x7 */
    rcl_conv_shape c = a;
    c.S = 0;
    assert_int_equal(rcl_conv_use_direct(&c, RCL_CONV_FWD, RCL_CONV_PATH_DIRECT, 64, 1, 16, 256, 0), 0);
    c.S = 3;
    assert_int_equal(rcl_conv_use_direct(&c, RCL_CONV_FWD, RCL_CONV_PATH_DIRECT, 64, 1, 16, 256, 0), 0);
    c = a;
    c.KH = c.KW = 5;
    assert_int_equal(rcl_conv_use_direct(&c, RCL_CONV_FWD, RCL_CONV_PATH_DIRECT, 64, 1, 16, 256, 0), 1);
    assert_int_equal(rcl_conv_use_direct(&c, RCL_CONV_DX, RCL_CONV_PATH_DIRECT, 64, 1, 16, 256, 0), 0);
    assert_int_equal(rcl_conv_use_direct(&c, RCL_CONV_DW, RCL_CONV_PATH_DIRECT, 64, 1, 16, 256, 0), 0);
    rcl_conv_shape stem = {100, 3, 32, 32, 64, 7, 7, 2, 3, 3, 16, 16}; /* the rule's pick */
    assert_int_equal(rcl_conv_use_direct(&stem, RCL_CONV_FWD, RCL_CONV_PATH_RULE, 64, -1, 16, 256, 0), 1);
    assert_int_equal(rcl_conv_use_direct(&stem, RCL_CONV_DW, RCL_CONV_PATH_RULE, 64, -1, 16, 256, 0), 0);
    c.KH = 7, c.KW = 8;
    assert_int_equal(rcl_conv_use_direct(&c, RCL_CONV_FWD, RCL_CONV_PATH_DIRECT, 64, 1, 16, 256, 0), 0);
    /* plan: vector width narrowed for narrow maps; stride 2 splits rows
     * into even and odd columns (wp even, each half holding a whole tile
     * plus the kernel's reach) */
    rcl_conv_direct_plan p;
    assert_true(rcl_conv_direct_plan_for(&a, RCL_CONV_FWD, 16, 256, 0, 2, 0, &p));
    assert_int_equal(p.vx, 16), assert_int_equal(p.tw, 2), assert_int_equal(p.nb, 128);
    assert_int_equal(p.hp, 34), assert_int_equal(p.wp, 34);
    rcl_conv_shape d = {128, 16, 32, 32, 32, 3, 3, 2, 1, 1, 16, 16};
    assert_true(rcl_conv_direct_plan_for(&d, RCL_CONV_FWD, 16, 256, 0, 2, 0, &p));
    assert_int_equal(p.vx, 16), assert_int_equal(p.tw, 1), assert_int_equal(p.wp, 34);
    rcl_conv_shape e = {128, 32, 16, 16, 64, 3, 3, 2, 1, 1, 8, 8};
    assert_true(rcl_conv_direct_plan_for(&e, RCL_CONV_FWD, 16, 256, 0, 2, 0, &p));
    assert_int_equal(p.vx, 8), assert_int_equal(p.tw, 1), assert_int_equal(p.wp, 18);
    assert_true(rcl_conv_direct_plan_for(&d, RCL_CONV_DX, 16, 256, 0, 2, 0, &p));
    assert_int_equal(p.vx, 16), assert_int_equal(p.tw, 2), assert_int_equal(p.hp, 34);
    /* Winograd: 3x3 stride 1, forward and data gradient, at most 64 input
     * channels; 16 tiles per row of 32: one vector of 16 (two of 8 with
     * 8-wide vectors); every image in one launch (the kernels read the
     * input itself) */
    rcl_conv_wino_plan q;
    assert_true(rcl_conv_wino_plan_for(&a, RCL_CONV_FWD, 16, 2, 256, 0, &q));
    assert_int_equal(q.vx, 16), assert_int_equal(q.rows, 1), assert_int_equal(q.twv, 1);
    assert_int_equal(q.th, 16), assert_int_equal(q.nb, 128);
    assert_true(rcl_conv_wino_plan_for(&a, RCL_CONV_FWD, 8, 2, 256, 0, &q));
    assert_int_equal(q.vx, 8), assert_int_equal(q.twv, 2), assert_int_equal(q.th, 16);
    assert_true(rcl_conv_wino_plan_for(&a, RCL_CONV_DX, 4, 2, 256, 0, &q));
    assert_int_equal(q.vx, 4), assert_int_equal(q.twv, 4), assert_int_equal(q.nb, 128);
    /* the weight gradient: 16x16 tiles of the output per image, no channel
     * limit (its transforms go to global memory, its sums are GEMMs) */
    assert_true(rcl_conv_wino_plan_for(&a, RCL_CONV_DW, 16, 2, 256, 0, &q));
    assert_int_equal(q.th, 16), assert_int_equal(q.tt, 16), assert_int_equal(q.nb, 128);
    assert_int_equal(rcl_conv_wino_plan_for(&b, RCL_CONV_FWD, 16, 2, 256, 0, &q), 0);
    assert_true(rcl_conv_wino_plan_for(&b, RCL_CONV_DW, 16, 2, 256, 0, &q));
    assert_int_equal(q.th, 4), assert_int_equal(q.tt, 4), assert_int_equal(q.nb, 100);
    assert_int_equal(rcl_conv_wino_plan_for(&d, RCL_CONV_FWD, 16, 2, 256, 0, &q), 0);
    c = a;
    c.KH = c.KW = 5;
    assert_int_equal(rcl_conv_wino_plan_for(&c, RCL_CONV_FWD, 16, 2, 256, 0, &q), 0);
    /* 4 tiles per row: a vector holds 4 tiles of as many tile rows as it
     * has room for (16-wide: 4, 8-wide: 2), at most the tile rows there
     * are; 4-wide vectors only: 4 */
    rcl_conv_shape e8 = {128, 64, 8, 8, 64, 3, 3, 1, 1, 1, 8, 8};
    assert_true(rcl_conv_wino_plan_for(&e8, RCL_CONV_FWD, 16, 2, 256, 0, &q));
    assert_int_equal(q.vx, 16), assert_int_equal(q.rows, 4), assert_int_equal(q.twv, 1);
    assert_int_equal(q.th, 4);
    assert_true(rcl_conv_wino_plan_for(&e8, RCL_CONV_FWD, 8, 2, 256, 0, &q));
    assert_int_equal(q.vx, 8), assert_int_equal(q.rows, 2), assert_int_equal(q.twv, 1);
    assert_true(rcl_conv_wino_plan_for(&e8, RCL_CONV_FWD, 4, 2, 256, 0, &q));
    assert_int_equal(q.vx, 4), assert_int_equal(q.rows, 1), assert_int_equal(q.twv, 1);
    rcl_conv_shape e7 = {8, 16, 7, 7, 16, 3, 3, 1, 1, 1, 7, 7}; /* 4 tile rows, the last half */
    assert_true(rcl_conv_wino_plan_for(&e7, RCL_CONV_DX, 8, 2, 256, 0, &q));
    assert_int_equal(q.vx, 8), assert_int_equal(q.rows, 2), assert_int_equal(q.th, 4);
    rcl_conv_shape e9 = {8, 16, 10, 8, 16, 3, 3, 1, 1, 1, 10, 8}; /* 5 tile rows: the last
                                                                     vector's cut */
    assert_true(rcl_conv_wino_plan_for(&e9, RCL_CONV_FWD, 16, 2, 256, 0, &q));
    assert_int_equal(q.vx, 16), assert_int_equal(q.rows, 4), assert_int_equal(q.th, 5);
    rcl_conv_shape e2 = {32, 16, 2, 8, 16, 3, 3, 1, 1, 1, 2, 8}; /* one tile row */
    assert_true(rcl_conv_wino_plan_for(&e2, RCL_CONV_FWD, 16, 2, 256, 0, &q));
    assert_int_equal(q.vx, 4), assert_int_equal(q.rows, 1);
    rcl_conv_shape e16 = {8, 16, 9, 9, 16, 3, 3, 1, 1, 1, 9, 9}; /* 5 tiles: 8 of 2 rows */
    assert_true(rcl_conv_wino_plan_for(&e16, RCL_CONV_FWD, 16, 2, 256, 0, &q));
    assert_int_equal(q.vx, 16), assert_int_equal(q.rows, 2);
    assert_true(rcl_conv_wino_plan_for(&e16, RCL_CONV_FWD, 8, 2, 256, 0, &q));
    assert_int_equal(q.vx, 8), assert_int_equal(q.rows, 1);
    assert_int_equal(q.m, 2), assert_int_equal(q.npos, 16);
    /* TILE 4: F(4x4, 3x3) where a row has more than 4 tiles of 4 (17 wide):
     * 32 wide: one vector of 8 tiles per row (16-wide vectors: of two tile
     * rows), 8 tile rows, read from the input itself (no padded chunk:
     * every image in one launch); the weight gradient and 9-wide outputs
     * keep F(2x2, 3x3) */
    assert_true(rcl_conv_wino_plan_for(&a, RCL_CONV_FWD, 16, 4, 256, 0, &q));
    assert_int_equal(q.m, 4), assert_int_equal(q.npos, 36), assert_int_equal(q.vx, 16);
    assert_int_equal(q.rows, 2), assert_int_equal(q.twv, 1), assert_int_equal(q.th, 8);
    assert_int_equal(q.tt, 8), assert_int_equal(q.nb, a.N);
    assert_true(rcl_conv_wino_plan_for(&a, RCL_CONV_FWD, 8, 4, 256, 0, &q));
    assert_int_equal(q.m, 4), assert_int_equal(q.vx, 8), assert_int_equal(q.rows, 1);
    rcl_conv_shape a1 = a;
    a1.H = a1.OH = 4; /* one tile row: 8 tiles of it */
    assert_true(rcl_conv_wino_plan_for(&a1, RCL_CONV_FWD, 16, 4, 256, 0, &q));
    assert_int_equal(q.m, 4), assert_int_equal(q.vx, 8), assert_int_equal(q.rows, 1);
    assert_true(rcl_conv_wino_plan_for(&a, RCL_CONV_DW, 16, 4, 256, 0, &q));
    assert_int_equal(q.m, 2), assert_int_equal(q.th, 16);
    assert_true(rcl_conv_wino_plan_for(&e16, RCL_CONV_FWD, 16, 4, 256, 0, &q));
    assert_int_equal(q.m, 2);
    /* 4 tiles of 4 (13 to 16 wide): F(4x4) with 4-wide vectors, and with
     * 16-wide ones where there are 4 tile rows to fill them (resnet20's
     * 16x16 maps); with 8-wide ones F(2x2) (its 7 or 8 tiles fill a vector
     * where F(4x4)'s would fill half) */
    rcl_conv_shape e13 = {8, 16, 14, 13, 16, 3, 3, 1, 1, 1, 14, 13}; /* 4 tiles, 4 tile rows */
    assert_true(rcl_conv_wino_plan_for(&e13, RCL_CONV_FWD, 4, 4, 256, 0, &q));
    assert_int_equal(q.m, 4), assert_int_equal(q.vx, 4), assert_int_equal(q.twv, 1);
    assert_int_equal(q.th, 4), assert_int_equal(q.nb, e13.N);
    assert_true(rcl_conv_wino_plan_for(&e13, RCL_CONV_FWD, 8, 4, 256, 0, &q));
    assert_int_equal(q.m, 2), assert_int_equal(q.vx, 8), assert_int_equal(q.tt, 7);
    assert_true(rcl_conv_wino_plan_for(&e13, RCL_CONV_FWD, 16, 4, 256, 0, &q));
    assert_int_equal(q.m, 4), assert_int_equal(q.vx, 16), assert_int_equal(q.rows, 4);
    assert_int_equal(q.th, 4), assert_int_equal(q.tt, 4), assert_int_equal(q.twv, 1);
    rcl_conv_shape e13s = e13;
    e13s.H = e13s.OH = 12; /* 3 tile rows: F(2x2) */
    assert_true(rcl_conv_wino_plan_for(&e13s, RCL_CONV_FWD, 16, 4, 256, 0, &q));
    assert_int_equal(q.m, 2);
    /* F(4x4)'s transformed weights (36 * C * OC floats) outgrow the im2col
     * path's reordered output (OC * N * OH * OW) of 2 images of 64x32x32:
     * F(2x2) (16 * C * OC fits); 4 images: F(4x4) */
    rcl_conv_shape f2 = {2, 64, 32, 32, 64, 3, 3, 1, 1, 1, 32, 32};
    assert_true(rcl_conv_wino_plan_for(&f2, RCL_CONV_FWD, 16, 4, 256, 0, &q));
    assert_int_equal(q.m, 2), assert_int_equal(q.npos, 16), assert_int_equal(q.th, 16);
    f2.N = 4;
    assert_true(rcl_conv_wino_plan_for(&f2, RCL_CONV_FWD, 16, 4, 256, 0, &q));
    assert_int_equal(q.m, 4), assert_int_equal(q.npos, 36), assert_int_equal(q.th, 8);
}

/* cc's descriptor, output size and the float counts of x, w and y */
static void case_dims(const conv_case_t *cc, rcl_conv2d_desc *d, int *oh, int *ow, size_t *nx,
                      size_t *nw, size_t *ny)
{
    *d = (rcl_conv2d_desc){cc->kh, cc->kw, cc->sh, cc->sw, cc->ph, cc->pw};
    *oh = rcl_conv_out_size(cc->h, cc->kh, cc->sh, cc->ph);
    *ow = rcl_conv_out_size(cc->w, cc->kw, cc->sw, cc->pw);
    *nx = (size_t)cc->n * cc->c * cc->h * cc->w;
    *nw = (size_t)cc->oc * cc->c * cc->kh * cc->kw;
    *ny = (size_t)cc->n * cc->oc * *oh * *ow;
}

/* rcl_conv2d_forward_fused (y = relu?(conv + b + res), the eval-mode
 * epilogue): bitwise the conv's output followed by the add and ReLU in that
 * order (NaN stays NaN), with and without res and ReLU, on the im2col path
 * (its forward GEMM's store, or its reorder pass, applies it; a 1x1
 * stride-1 conv of one image, or of
 * large enough maps, runs a GEMM per image straight into y and one
 * epilogue pass), the direct kernels and Winograd (one row of
 * tiles per vector, and two rows on 7- and 8-wide outputs), whose stores
 * apply it (no add or ReLU launch); partial vectors and odd channel counts;
 * res of the wrong shape refused. */
static void test_conv_fused(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {3, 5, 9, 9, 7, 3, 3, 1, 1, 1, 1, 1, 0},   /* Winograd: 5 tiles a row, 9 = 8 + 1 */
        {2, 6, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 0},   /* Winograd: two tile rows a vector */
        {2, 4, 8, 8, 17, 3, 3, 1, 1, 1, 1, 1, 0},  /* the same, 8 wide; OC past OCB blocks */
        {9, 6, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 0},   /* F(4x4) across images (TILE 4) */
        {3, 5, 11, 10, 7, 3, 3, 2, 2, 1, 1, 1, 0}, /* stride 2: the direct kernels */
        {2, 3, 6, 13, 9, 1, 1, 1, 1, 0, 0, 1, 0},  /* 1x1 */
        {1, 3, 6, 13, 9, 1, 1, 1, 1, 0, 0, 1, 0},  /* 1x1, one image: a plain GEMM */
    };
    /* contexts: im2col + GEMM, direct without Winograd, direct with it,
     * im2col + GEMM with a GEMM per image for 1x1 convs of 16 pixels or
     * more, im2col + GEMM with the reorder pass (conv.FWD_STORE 0) */
    int stored = 0; /* cases whose forward GEMM wrote y itself (conv.FWD_STORE) */
    for (int c = 0; c < 5; c++) {
        rcl_ctx *ctx = path_ctx(c == 0 || c >= 3 ? 0 : 1, 0);
        if (c == 2) T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
        if (c == 3) T_OK(rcl_ctx_set_param(ctx, "conv", "IMAGE_GEMM_P", 16));
        if (c == 3) T_OK(rcl_ctx_set_param(ctx, "conv", "IMAGES_B", 0)); /* test_conv_images_b */
        if (c == 4) T_OK(rcl_ctx_set_param(ctx, "conv", "FWD_STORE", 0));
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const conv_case_t *cc = &cases[i];
            rcl_conv2d_desc d;
            int oh, ow;
            size_t nx, nw, ny;
            case_dims(cc, &d, &oh, &ow, &nx, &nw, &ny);
            float *hx = malloc(nx * 4), *hw = malloc(nw * 4), *hb = malloc(cc->oc * 4);
            float *hr = malloc(ny * 4), *y0 = malloc(ny * 4), *y1 = malloc(ny * 4);
            tu_rng r = tu_rng_seed(700 + i);
            tu_fill(&r, hx, nx, -1, 1), tu_fill(&r, hw, nw, -1, 1), tu_fill(&r, hb, cc->oc, -1, 1);
            tu_fill(&r, hr, ny, -1, 1);
            hr[ny / 2] = NAN; /* stays NaN through the ReLU (as cl/relu.cl's) */
            rcl_tensor x, w, b, res, y, bad;
            T_OK(rcl_tensor_create(ctx, &x, cc->n, cc->c, cc->h, cc->w));
            T_OK(rcl_tensor_create(ctx, &w, cc->oc, cc->c, cc->kh, cc->kw));
            T_OK(rcl_tensor_create(ctx, &b, cc->oc, 1, 1, 1));
            T_OK(rcl_tensor_create(ctx, &res, cc->n, cc->oc, oh, ow));
            T_OK(rcl_tensor_create(ctx, &y, cc->n, cc->oc, oh, ow));
            T_OK(rcl_tensor_create(ctx, &bad, cc->n, cc->oc, oh, ow + 1));
            T_OK(rcl_tensor_write(ctx, &x, hx));
            T_OK(rcl_tensor_write(ctx, &w, hw));
            T_OK(rcl_tensor_write(ctx, &b, hb));
            T_OK(rcl_tensor_write(ctx, &res, hr));
            T_OK(rcl_conv2d_forward(ctx, &y, &x, &w, &b, &d));
            T_OK(rcl_tensor_read(ctx, &y, y0));
            for (int mode = 1; mode <= 3; mode++) { /* bit 0: res, bit 1: relu */
                int with_res = mode & 1, relu = mode >> 1;
                T_OK(rcl_tensor_fill(ctx, &y, 12345.0f));
                memset(tag_count, 0, sizeof tag_count);
                T_OK(rcl_conv2d_forward_fused(ctx, &y, &x, &w, &b, with_res ? &res : NULL, relu,
                                              &d));
                T_OK(rcl_tensor_read(ctx, &y, y1));
                for (size_t j = 0; j < ny; j++) {
                    float e = y0[j];
                    if (with_res) e = e + hr[j];
                    if (relu) e = e < 0 ? 0.0f : e;
                    if (isnan(e) ? !isnan(y1[j]) : memcmp(&e, &y1[j], 4) != 0)
                        fail_msg("context %d case %zu mode %d: y[%zu] = %.9g, want %.9g", c, i,
                                 mode, j, (double)y1[j], (double)e);
                }
                /* the direct kernels, the im2col path's GEMM (reading the
                 * column matrix in panels, conv.FWD_STORE) or its reorder,
                 * or (1x1 stride-1 convs, GEMMs straight into y: one image,
                 * or context 3) the epilogue pass apply it: no add or ReLU op */
                assert_int_equal(tag_count[T_RELU] + tag_count[T_ADD], 0);
                int per_image = cc->kh == 1 && cc->sh == 1 && (cc->n == 1 || c == 3);
                if (per_image) assert_int_equal(tag_count[T_FWD_GEMM], cc->n);
                if (per_image) assert_int_equal(tag_count[T_IM2COL], 0);
                int store = !per_image && tag_count[T_FWD_GEMM] > 0 && c != 4 &&
                            rcl_gemm_b_panels(ctx, 0, 0, cc->oc, cc->n * oh * ow,
                                              cc->c * cc->kh * cc->kw) > 0;
                stored += store;
                assert_int_equal(tag_count[T_REORDER] > 0,
                                 per_image || (tag_count[T_FWD_GEMM] > 0 && !store));
                if (c == 2 && cc->kh == 3 && cc->sh == 1) assert_true(tag_count[T_FWD_WINO] > 0);
                if (c == 1) assert_int_equal(tag_count[T_FWD_WINO], 0);
            }
            assert_int_equal(rcl_conv2d_forward_fused(ctx, &y, &x, &w, &b, &bad, 1, &d),
                             RCL_ERR_INVALID);
            rcl_tensor *all[] = {&x, &w, &b, &res, &y, &bad};
            for (size_t k = 0; k < 6; k++) rcl_tensor_destroy(all[k]);
            free(hx), free(hw), free(hb), free(hr), free(y0), free(y1);
        }
        rcl_ctx_destroy(ctx);
    }
    /* the GEMM's own store ran on this device (its default GEMM parameters
     * read op(B) in panels on PoCL and llvmpipe), and bitwise as above */
    if (rcl_gemm_vec_width(T_CTX) >= 4) assert_true(stored > 0);
}

/* rcl_conv2d_backward_acc: dx = the data gradient + dx_add, bitwise the
 * data gradient then rcl_add, on every path; the add is a separate launch
 * only on the im2col + GEMM path. dw and db unchanged by dx_add. */
static void test_conv_backward_acc(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {3, 5, 9, 9, 7, 3, 3, 1, 1, 1, 1, 1, 0},   /* Winograd F(2x2) */
        {2, 4, 7, 22, 5, 3, 3, 1, 1, 1, 1, 1, 0},  /* Winograd F(4x4): 22 wide */
        {3, 5, 11, 10, 7, 3, 3, 2, 2, 1, 1, 1, 0}, /* stride 2: the direct kernels */
        {2, 3, 6, 13, 9, 1, 1, 1, 1, 0, 0, 1, 0},  /* 1x1 */
        {1, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 0},   /* one image */
    };
    /* contexts: im2col + GEMM, direct without Winograd, Winograd F(2x2) only,
     * Winograd with F(4x4) where planned, im2col + GEMM with a GEMM per
     * image for the 1x1 conv */
    for (int c = 0; c < 5; c++) {
        rcl_ctx *ctx = path_ctx(c == 0 || c == 4 ? 0 : 1, 0);
        if (c == 4) T_OK(rcl_ctx_set_param(ctx, "conv", "IMAGE_GEMM_P", 16));
        int wino = c == 2 || c == 3;
        if (wino) T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
        if (wino) T_OK(rcl_ctx_set_param(ctx, "conv_wino", "TILE", c == 2 ? 2 : 4));
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const conv_case_t *cc = &cases[i];
            rcl_conv2d_desc d;
            int oh, ow;
            size_t nx, nw, ny;
            case_dims(cc, &d, &oh, &ow, &nx, &nw, &ny);
            float *hx = malloc(nx * 4), *hw = malloc(nw * 4), *hdy = malloc(ny * 4);
            float *ha = malloc(nx * 4), *dx0 = malloc(nx * 4), *dx1 = malloc(nx * 4);
            float *dw0 = malloc(nw * 4), *dw1 = malloc(nw * 4);
            tu_rng r = tu_rng_seed(900 + i);
            tu_fill(&r, hx, nx, -1, 1), tu_fill(&r, hw, nw, -1, 1), tu_fill(&r, hdy, ny, -1, 1);
            tu_fill(&r, ha, nx, -1, 1);
            ha[nx / 2] = NAN; /* an add passes NaN on */
            rcl_tensor x, w, dy, add, dx, dw, bad;
            T_OK(rcl_tensor_create(ctx, &x, cc->n, cc->c, cc->h, cc->w));
            T_OK(rcl_tensor_create(ctx, &w, cc->oc, cc->c, cc->kh, cc->kw));
            T_OK(rcl_tensor_create(ctx, &dy, cc->n, cc->oc, oh, ow));
            T_OK(rcl_tensor_create(ctx, &add, cc->n, cc->c, cc->h, cc->w));
            T_OK(rcl_tensor_create(ctx, &dx, cc->n, cc->c, cc->h, cc->w));
            T_OK(rcl_tensor_create(ctx, &dw, cc->oc, cc->c, cc->kh, cc->kw));
            T_OK(rcl_tensor_create(ctx, &bad, cc->n, cc->c, cc->h, cc->w + 1));
            T_OK(rcl_tensor_write(ctx, &x, hx));
            T_OK(rcl_tensor_write(ctx, &w, hw));
            T_OK(rcl_tensor_write(ctx, &dy, hdy));
            T_OK(rcl_tensor_write(ctx, &add, ha));
            T_OK(rcl_conv2d_backward(ctx, &dx, &dw, NULL, &dy, &x, &w, &d));
            T_OK(rcl_tensor_read(ctx, &dx, dx0));
            T_OK(rcl_tensor_read(ctx, &dw, dw0));
            T_OK(rcl_tensor_fill(ctx, &dx, 12345.0f));
            memset(tag_count, 0, sizeof tag_count);
            T_OK(rcl_conv2d_backward_acc(ctx, &dx, &dw, NULL, &dy, &x, &w, &add, &d));
            T_OK(rcl_tensor_read(ctx, &dx, dx1));
            T_OK(rcl_tensor_read(ctx, &dw, dw1));
            for (size_t j = 0; j < nx; j++) {
                float e = dx0[j] + ha[j];
                if (isnan(e) ? !isnan(dx1[j]) : memcmp(&e, &dx1[j], 4) != 0)
                    fail_msg("context %d case %zu: dx[%zu] = %.9g, want %.9g", c, i, j,
                             (double)dx1[j], (double)e);
            }
            assert_memory_equal(dw0, dw1, nw * 4);
            /* a data gradient by GEMM (the im2col path; 1x1 stride-1 convs on
             * every path) adds after it, the direct and Winograd kernels as they
             * store: on the direct contexts the 3x3 cases of several channels */
            int gemm = tag_count[T_DX_GEMM] > 0;
            if (tag_count[T_ADD] != (gemm ? 1 : 0))
                fail_msg("context %d case %zu: %d adds", c, i, tag_count[T_ADD]);
            assert_int_equal(gemm, c == 0 || c == 4 || i == 3 ||
                                       (i == 4 && tag_count[T_DX_DIRECT] == 0));
            if (c == 4 && i == 3) /* one GEMM per image, no col2im */
                assert_true(tag_count[T_DX_GEMM] == cc->n && tag_count[T_COL2IM] == 0);
            if (c >= 1 && c <= 3 && i <= 2) assert_int_equal(tag_count[T_ADD], 0);
            if (wino && i <= 1) assert_true(tag_count[T_DX_WINO] > 0); /* F(2x2), F(4x4) cases */
            if (c == 1) assert_int_equal(tag_count[T_DX_WINO], 0);
            if (c == 3 && i == 1) { /* the F(4x4) kernel's epilogue */
                int m = 0;
                assert_true(wino_chunks(cc, RCL_CONV_DX, 4, 256, &m) > 0);
                assert_int_equal(m, 4);
            }
            if (!gemm && c < 2) assert_true(tag_count[T_DX_DIRECT] > 0);
            /* bad: dx_add of another shape, dx_add without dx, dx_add = dx */
            assert_int_equal(rcl_conv2d_backward_acc(ctx, &dx, NULL, NULL, &dy, &x, &w, &bad, &d),
                             RCL_ERR_INVALID);
            assert_int_equal(rcl_conv2d_backward_acc(ctx, NULL, &dw, NULL, &dy, &x, &w, &add, &d),
                             RCL_ERR_INVALID);
            assert_int_equal(rcl_conv2d_backward_acc(ctx, &dx, NULL, NULL, &dy, &x, &w, &dx, &d),
                             RCL_ERR_INVALID);
            rcl_tensor *all[] = {&x, &w, &dy, &add, &dx, &dw, &bad};
            for (size_t k = 0; k < 7; k++) rcl_tensor_destroy(all[k]);
            free(hx), free(hw), free(hdy), free(ha), free(dx0), free(dx1), free(dw0), free(dw1);
        }
        rcl_ctx_destroy(ctx);
    }
}

/* Small maps as one dense GEMM per pass (rcl_conv_is_dense, conv2d_dense.c,
 * cl/conv_dense.cl), under the path rule with conv.DENSE on: every pass
 * exact against the reference (conv_case: forward, backward of all, dx
 * alone, dw alone), the launches it takes (D built once per forward and per
 * data gradient, dD folded once per weight gradient, P data-gradient GEMMs,
 * none of im2col, col2im, conv_taps; a 1x1 conv on a 1x1 map is the
 * identity: no D), the scratch the estimate predicts; the data gradient
 * bitwise the im2col path's (per pixel, summed as col2im sums taps); the
 * forward's epilogue (bias, residual with a NaN, ReLU) and backward_acc's
 * dx_add bitwise the separate ops'; the prepared D^T
 * (rcl_conv2d_dense_prepare / _forward_dense) bitwise the fused forward;
 * conv.DENSE 0 and a 4x4 map take the other paths. */
/* 1 if the dense path's forward GEMM applies the bias and epilogue in its
 * store for case cc (conv.FWD_STORE on, not the transposed identity, our
 * kernel's outer form: rcl_gemm_epi_ok); 0: the epilogue pass does */
static int dense_store(rcl_ctx *ctx, const conv_case_t *cc, int P, int Q)
{
    int ident = cc->kh == 1 && cc->kw == 1 && P == 1 && Q == 1;
    if (ident && cc->oc > cc->n) return 0;
    return rcl_tun(ctx, RCL_TUN_CONV_FWD_STORE) && rcl_gemm_epi_ok(ctx, 0, ident, cc->n, cc->oc * P, cc->c * Q);
}

static void test_conv_dense(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {3, 5, 2, 2, 7, 3, 3, 1, 1, 1, 1, 1, 1},  /* layer3's 2x2: P = Q = 4, every pair */
        {4, 6, 1, 1, 9, 3, 3, 1, 1, 1, 1, 1, 1},  /* 1x1 map: the centre taps */
        {3, 5, 2, 2, 7, 3, 3, 2, 2, 1, 1, 0, 1},  /* 2x2 -> 1x1 stride 2: 4 live taps */
        {2, 4, 3, 3, 5, 3, 3, 1, 1, 1, 1, 1, 0},  /* 3x3 map: Q = 9, 49 of 81 pairs */
        {3, 5, 2, 1, 4, 3, 3, 1, 1, 1, 1, 0, 1},  /* 2x1 map */
        {5, 7, 1, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1},  /* identity, OC <= N */
        {2, 3, 1, 1, 9, 1, 1, 1, 1, 0, 0, 1, 1},  /* identity, OC > N: y^T, a transpose */
        {3, 5, 4, 4, 7, 3, 3, 1, 1, 1, 1, 1, 0},  /* 4x4: Q 16 > 9, im2col */
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    int stored = 0, can_store = 0; /* cases whose GEMM applied the bias; could it */
    for (int on = 1; on >= 0; on--) {
        for (int i = 0; i < ncases; i++) {
            const conv_case_t *cc = &cases[i];
            rcl_ctx *ctx = path_ctx(-1, 0); /* the rule, no Winograd */
            T_OK(rcl_ctx_set_param(ctx, "conv", "DENSE", on));
            int oh = rcl_conv_out_size(cc->h, cc->kh, cc->sh, cc->ph);
            int ow = rcl_conv_out_size(cc->w, cc->kw, cc->sw, cc->pw);
            int P = oh * ow, Q = cc->h * cc->w;
            int dense = on && Q <= 9 && cc->kh * cc->kw >= Q, ident = dense && cc->kh == 1;
            case_on(ctx, cc, 1100 + (uint64_t)i);
            scratch_as_predicted(ctx, cc, "DENSE", i, on);
            const int *t = tag_count;
            if (dense) { /* forward 1, dx 2, dw 2 calls */
                assert_int_equal(t[T_IM2COL] + t[T_COL2IM] + t[T_TAPS], 0);
                /* the bias: in the GEMM's store, or in the epilogue pass */
                assert_int_equal(t[T_REORDER], cc->bias && !dense_store(ctx, cc, P, Q));
                stored += cc->bias && dense_store(ctx, cc, P, Q);
                assert_int_equal(t[T_FWD_GEMM], 1);
                assert_int_equal(t[T_DX_GEMM], 2 * P);
                assert_int_equal(t[T_DW_GEMM], 2);
                assert_int_equal(t[T_DENSE], ident ? 0 : 5);
                assert_int_equal(t[T_TRANSPOSE], (ident && cc->oc > cc->n) + (P > 1 ? 2 : 0));
            } else {
                assert_int_equal(t[T_DENSE], 0); /* im2col, or the direct kernels (4x4) */
                assert_true(t[T_IM2COL] + t[T_FWD_DIRECT] > 0);
            }
            if (i == 0) can_store = rcl_gemm_epi_ok(ctx, 0, 0, cc->n, cc->oc * P, cc->c * Q);
            rcl_ctx_destroy(ctx);
        }
    }
    assert_int_equal(stored > 0, can_store); /* the store's path ran where it can */
    /* the data gradient bitwise the im2col path's; the epilogue and dx_add
     * bitwise the separate ops' (the 2x2 and 1x1-map cases) */
    for (int i = 0; i < 2; i++) {
        const conv_case_t *cc = &cases[i];
        rcl_conv2d_desc d;
        int oh, ow;
        size_t nx, nw, ny;
        case_dims(cc, &d, &oh, &ow, &nx, &nw, &ny);
        float *hx = malloc(nx * 4), *hw = malloc(nw * 4), *hb = malloc(cc->oc * 4);
        float *hr = malloc(ny * 4), *hdy = malloc(ny * 4), *ha = malloc(nx * 4);
        float *y0 = malloc(ny * 4), *y1 = malloc(ny * 4), *dx[2], *dxa = malloc(nx * 4);
        tu_rng r = tu_rng_seed(1200 + i);
        tu_fill(&r, hx, nx, -1, 1), tu_fill(&r, hw, nw, -1, 1), tu_fill(&r, hb, cc->oc, -1, 1);
        tu_fill(&r, hr, ny, -1, 1), tu_fill(&r, hdy, ny, -1, 1), tu_fill(&r, ha, nx, -1, 1);
        hr[ny / 2] = NAN, ha[nx / 2] = NAN;
        for (int on = 0; on < 2; on++) {
            rcl_ctx *ctx = path_ctx(-1, 0);
            T_OK(rcl_ctx_set_param(ctx, "conv", "DENSE", on));
            rcl_tensor x, w, b, res, y, dy, tdx, add;
            T_OK(rcl_tensor_create(ctx, &x, cc->n, cc->c, cc->h, cc->w));
            T_OK(rcl_tensor_create(ctx, &w, cc->oc, cc->c, cc->kh, cc->kw));
            T_OK(rcl_tensor_create(ctx, &b, cc->oc, 1, 1, 1));
            T_OK(rcl_tensor_create(ctx, &res, cc->n, cc->oc, oh, ow));
            T_OK(rcl_tensor_create(ctx, &y, cc->n, cc->oc, oh, ow));
            T_OK(rcl_tensor_create(ctx, &dy, cc->n, cc->oc, oh, ow));
            T_OK(rcl_tensor_create(ctx, &tdx, cc->n, cc->c, cc->h, cc->w));
            T_OK(rcl_tensor_create(ctx, &add, cc->n, cc->c, cc->h, cc->w));
            T_OK(rcl_tensor_write(ctx, &x, hx));
            T_OK(rcl_tensor_write(ctx, &w, hw));
            T_OK(rcl_tensor_write(ctx, &b, hb));
            T_OK(rcl_tensor_write(ctx, &res, hr));
            T_OK(rcl_tensor_write(ctx, &dy, hdy));
            T_OK(rcl_tensor_write(ctx, &add, ha));
            dx[on] = malloc(nx * 4);
            T_OK(rcl_conv2d_backward(ctx, &tdx, NULL, NULL, &dy, &x, &w, &d));
            T_OK(rcl_tensor_read(ctx, &tdx, dx[on]));
            if (on) {
                T_OK(rcl_conv2d_forward(ctx, &y, &x, &w, &b, &d));
                T_OK(rcl_tensor_read(ctx, &y, y0));
                T_OK(rcl_tensor_fill(ctx, &y, 12345.0f));
                memset(tag_count, 0, sizeof tag_count);
                /* in the GEMM's store (conv.FWD_STORE 1 where it can) or the
                 * epilogue pass (0): bitwise the same */
                for (int fs = 1; fs >= 0; fs--) {
                    T_OK(rcl_ctx_set_param(ctx, "conv", "FWD_STORE", fs));
                    int P = oh * ow, Q = cc->h * cc->w;
                    T_OK(rcl_tensor_fill(ctx, &y, 12345.0f));
                    memset(tag_count, 0, sizeof tag_count);
                    T_OK(rcl_conv2d_forward_fused(ctx, &y, &x, &w, &b, &res, 1, &d));
                    assert_int_equal(tag_count[T_RELU] + tag_count[T_ADD], 0);
                    assert_int_equal(tag_count[T_REORDER], !dense_store(ctx, cc, P, Q));
                    T_OK(rcl_tensor_read(ctx, &y, y1));
                    for (size_t j = 0; j < ny; j++) {
                        float e = y0[j] + hr[j];
                        e = e < 0 ? 0.0f : e;
                        if (isnan(e) ? !isnan(y1[j]) : memcmp(&e, &y1[j], 4) != 0)
                            fail_msg("case %d store %d: fused y[%zu] = %.9g, want %.9g", i, fs,
                                     j, (double)y1[j], (double)e);
                    }
                }
                T_OK(rcl_ctx_set_param(ctx, "conv", "FWD_STORE", 1));
                T_OK(rcl_conv2d_backward_acc(ctx, &tdx, NULL, NULL, &dy, &x, &w, &add, &d));
                T_OK(rcl_tensor_read(ctx, &tdx, dxa));
                for (size_t j = 0; j < nx; j++) {
                    float e = dx[1][j] + ha[j];
                    if (isnan(e) ? !isnan(dxa[j]) : memcmp(&e, &dxa[j], 4) != 0)
                        fail_msg("case %d: dx + dx_add [%zu] = %.9g, want %.9g", i, j,
                                 (double)dxa[j], (double)e);
                }
            }
            rcl_tensor *all[] = {&x, &w, &b, &res, &y, &dy, &tdx, &add};
            for (size_t k = 0; k < 8; k++) rcl_tensor_destroy(all[k]);
            rcl_ctx_destroy(ctx);
        }
        for (size_t j = 0; j < nx; j++)
            if (memcmp(&dx[0][j], &dx[1][j], 4) != 0)
                fail_msg("case %d: dense dx[%zu] = %.9g, the im2col path's %.9g", i, j,
                         (double)dx[1][j], (double)dx[0][j]);
        /* the prepared D^T (eval's folded copies): the same floats as the
         * fused forward, no D built per call; its size as the estimate's */
        rcl_ctx *ctx = path_ctx(-1, 0);
        rcl_tensor x, w, b, res, y, dt, bad;
        T_OK(rcl_tensor_create(ctx, &x, cc->n, cc->c, cc->h, cc->w));
        T_OK(rcl_tensor_create(ctx, &w, cc->oc, cc->c, cc->kh, cc->kw));
        T_OK(rcl_tensor_create(ctx, &b, cc->oc, 1, 1, 1));
        T_OK(rcl_tensor_create(ctx, &res, cc->n, cc->oc, oh, ow));
        T_OK(rcl_tensor_create(ctx, &y, cc->n, cc->oc, oh, ow));
        T_OK(rcl_tensor_write(ctx, &x, hx));
        T_OK(rcl_tensor_write(ctx, &w, hw));
        T_OK(rcl_tensor_write(ctx, &b, hb));
        T_OK(rcl_tensor_write(ctx, &res, hr));
        assert_int_equal(rcl_conv2d_dense_prepare(ctx, &dt, &w, cc->h, cc->w, &d), 1);
        /* packed in panels where the GEMMs default to our kernel on them */
        int nwi = rcl_gemm_const_b_panels(ctx), ocp = cc->oc * oh * ow;
        assert_int_equal(dt.c, nwi ? nwi : 1);
        assert_int_equal(dt.h, cc->c * cc->h * cc->w);
        assert_int_equal(dt.w, nwi ? (ocp + nwi - 1) / nwi : ocp);
        /* the estimate drops dead taps first: the 1x1 map's is the identity
         * (prepared only where packed: w^T in panels) */
        uint64_t ident_bytes = nwi ? (uint64_t)cc->c * ((cc->oc + nwi - 1) / nwi * nwi) * 4 : 0;
        assert_int_equal(rcl_conv2d_dense_bytes(ctx, cc->c, cc->h, cc->w, cc->oc, &d),
                         i == 0 ? rcl_tensor_bytes(&dt) : ident_bytes);
        memset(tag_count, 0, sizeof tag_count);
        T_OK(rcl_conv2d_forward_dense(ctx, &y, &x, &dt, &b, &res, 1, &d));
        assert_int_equal(tag_count[T_DENSE], 0);
        assert_int_equal(tag_count[T_FWD_GEMM], 1);
        T_OK(rcl_tensor_read(ctx, &y, y0));
        T_OK(rcl_conv2d_forward_fused(ctx, &y, &x, &w, &b, &res, 1, &d));
        T_OK(rcl_tensor_read(ctx, &y, y1));
        for (size_t j = 0; j < ny; j++)
            if (isnan(y0[j]) ? !isnan(y1[j]) : memcmp(&y0[j], &y1[j], 4) != 0)
                fail_msg("case %d: prepared y[%zu] = %.9g, fused %.9g", i, j, (double)y0[j],
                         (double)y1[j]);
        /* a D^T of another input size; x of another size than prepared */
        T_OK(rcl_tensor_create(ctx, &bad, 1, dt.c, dt.h + 1, dt.w));
        assert_int_equal(rcl_conv2d_forward_dense(ctx, &y, &x, &bad, &b, NULL, 0, &d),
                         RCL_ERR_INVALID);
        assert_int_equal(rcl_conv2d_forward_dense(ctx, &y, &res, &dt, &b, NULL, 0, &d),
                         RCL_ERR_INVALID);
        rcl_tensor_destroy(&bad);
        rcl_tensor_destroy(&dt);
        /* nothing to prepare: off, a 4x4 map, the identity */
        T_OK(rcl_ctx_set_param(ctx, "conv", "DENSE", 0));
        assert_int_equal(rcl_conv2d_dense_prepare(ctx, &dt, &w, cc->h, cc->w, &d), 0);
        assert_null(dt.buf);
        T_OK(rcl_ctx_set_param(ctx, "conv", "DENSE", 1));
        assert_int_equal(rcl_conv2d_dense_prepare(ctx, &dt, &w, 4, 4, &d), 0);
        /* the identity: D is w, prepared only where packed once (its
         * forward then y = x D^T on the panels, bitwise the fused one) */
        rcl_tensor w1 = {NULL, 0, 0, 0, 0}, x1, y1t, b1;
        T_OK(rcl_tensor_create(ctx, &w1, cc->oc, cc->c, 1, 1));
        T_OK(rcl_tensor_create(ctx, &x1, cc->n, cc->c, 1, 1));
        T_OK(rcl_tensor_create(ctx, &y1t, cc->n, cc->oc, 1, 1));
        T_OK(rcl_tensor_write(ctx, &w1, hw));
        T_OK(rcl_tensor_write(ctx, &x1, hx));
        rcl_conv2d_desc d1 = {1, 1, 1, 1, 0, 0};
        assert_int_equal(rcl_conv2d_dense_prepare(ctx, &dt, &w1, 1, 1, &d1), nwi > 0);
        assert_int_equal(rcl_conv2d_dense_bytes(ctx, cc->c, 1, 1, cc->oc, &d1),
                         nwi ? (uint64_t)cc->c * ((cc->oc + nwi - 1) / nwi * nwi) * 4 : 0);
        if (nwi) {
            assert_int_equal(dt.c, nwi);
            b1 = (rcl_tensor){b.buf, cc->oc, 1, 1, 1};
            size_t n1 = (size_t)cc->n * cc->oc;
            T_OK(rcl_conv2d_forward_dense(ctx, &y1t, &x1, &dt, &b1, NULL, 1, &d1));
            T_OK(rcl_tensor_read(ctx, &y1t, y0));
            T_OK(rcl_conv2d_forward_fused(ctx, &y1t, &x1, &w1, &b1, NULL, 1, &d1));
            T_OK(rcl_tensor_read(ctx, &y1t, y1));
            if (memcmp(y0, y1, n1 * 4)) fail_msg("case %d: prepared identity y differs", i);
            rcl_tensor_destroy(&dt);
        }
        assert_null(dt.buf);
        rcl_tensor *all[] = {&x, &w, &b, &res, &y, &w1, &x1, &y1t};
        for (size_t k = 0; k < 8; k++) rcl_tensor_destroy(all[k]);
        rcl_ctx_destroy(ctx);
        free(hx), free(hw), free(hb), free(hr), free(hdy), free(ha), free(y0), free(y1);
        free(dx[0]), free(dx[1]), free(dxa);
    }
}

/* conv.CHUNK_KB: the chunk cap (pure), then on a context whose cap holds
 * one image, every pass of a Winograd and a direct case exact against the
 * reference with one conv_pad per image and pass that pads (Winograd's
 * forward pass and data gradient read their input itself: only the
 * weight gradient pads there) */
static void test_conv_chunk_cap(void **state)
{
    (void)state;
    assert_int_equal(rcl_conv_chunk_cap(10, 1000, 0), 10);  /* 0: no cap */
    assert_int_equal(rcl_conv_chunk_cap(10, 256, 4), 4);    /* 1 KiB an image, 4 KiB */
    assert_int_equal(rcl_conv_chunk_cap(3, 256, 4), 3);     /* never more than nb */
    assert_int_equal(rcl_conv_chunk_cap(10, 1 << 20, 1), 1); /* at least 1 */
    assert_int_equal(rcl_conv_chunk_cap(10, 0, 1), 10);
    const conv_case_t cases[] = {
        {3, 5, 9, 9, 7, 3, 3, 1, 1, 1, 1, 1, 0},   /* Winograd F(2x2) forward and dx */
        {2, 4, 7, 22, 5, 3, 3, 1, 1, 1, 1, 1, 0},  /* F(4x4) */
        {3, 5, 11, 10, 7, 3, 3, 2, 2, 1, 1, 1, 0}, /* stride 2: direct */
    };
    const int padding_calls[] = {2, 2, 5};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rcl_ctx *ctx = path_ctx(1, 0);
        T_OK(rcl_ctx_set_param(ctx, "conv", "WINOGRAD", 1));
        T_OK(rcl_ctx_set_param(ctx, "conv", "CHUNK_KB", 1));
        case_on(ctx, &cases[i], 950 + i);
        /* forward 1, dx 2, dw 2 calls (conv_case), each one pad per image
         * (conv.PATH direct: the stride-2 data gradient too); Winograd: the
         * dw calls only */
        assert_int_equal(tag_count[T_PAD], padding_calls[i] * cases[i].n);
        rcl_ctx_destroy(ctx);
    }
}

/* conv.WINO_GEMM: Winograd's GEMM form (F(2x2): conv_wino_vt, 16 GEMMs,
 * conv_wino_yt; F(4x4): conv_wino4_vt, 36 GEMMs in one launch on its
 * packed output, or one GEMM per position where the GEMMs do not read
 * op(B) in panels (the CLBlast path), conv_wino4_yt) for the forward pass
 * and data gradient of the 3x3 stride-1 convs on the im2col path: every
 * pass exact against the double reference on odd shapes (partial tiles,
 * pad 0, more channels than the direct path takes, one image, several
 * chunks, one tile per image), no im2col GEMM for those passes (the weight
 * gradient keeps it), the launches of each route, the epilogue and dx_add
 * bitwise the separate add / ReLU, the chooser's limits and the scratch
 * estimate */
static void test_conv_wino_gemm(void **state)
{
    (void)state;
    const conv_case_t cases[] = {
        {2, 70, 9, 11, 66, 3, 3, 1, 1, 1, 1, 1, 0}, /* 70 > 64 channels, odd: partial tiles */
        {3, 5, 8, 7, 9, 3, 3, 1, 1, 0, 0, 0, 0},    /* pad 0: 6x5 out */
        {1, 4, 5, 6, 3, 3, 3, 1, 1, 1, 1, 1, 0},    /* one image */
        {3, 40, 30, 29, 40, 3, 3, 1, 1, 1, 1, 1, 0}, /* several chunks (budget 1 MiB) */
        {7, 67, 4, 4, 65, 3, 3, 1, 1, 1, 1, 1, 0},  /* F(4x4): one tile per image */
    };
    /* route 0: F(2x2); 1: F(4x4) as the device runs it; 2: F(4x4) with
     * the GEMMs on CLBlast (one per position) */
    for (int route = 0; route < 3; route++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            /* the covering subset (tu_sweep_all): F(4x4) on every case,
             * as the device runs it (route 1) or on CLBlast (route 2) in
             * turn (where the default GEMM is CLBlast's, the two are one) */
            if (route && !tu_sweep((int)i + route, 2)) continue;
            const conv_case_t *cc = &cases[i];
            const int tile = route ? 4 : 2;
            int budget = i == 3 ? 1 : 0;
            rcl_ctx *ctx = path_ctx(0, budget);
            T_OK(rcl_ctx_set_param(ctx, "conv", "WINO_GEMM", tile));
            if (route == 2) T_OK(rcl_ctx_set_param(ctx, "gemm", "DEFAULT_PATH", RCL_GEMM_CLBLAST));
            conv_rel_atol = tile == 4 ? 1e-5 : 0;
            case_on(ctx, cc, 1000 + i);
            conv_rel_atol = 0;
            /* forward 1, dx 2 calls: Winograd; dw 2 calls: im2col + GEMM */
            if (tag_count[T_FWD_GEMM] + tag_count[T_DX_GEMM])
                fail_msg("route %d case %zu: fwd gemm %d dx gemm %d wino %d/%d", route, i,
                         tag_count[T_FWD_GEMM], tag_count[T_DX_GEMM], tag_count[T_FWD_WINO],
                         tag_count[T_DX_WINO]);
            assert_true(tag_count[T_FWD_WINO] > 0 && tag_count[T_DX_WINO] > 0);
            assert_true(tag_count[T_DW_GEMM] > 0);
            int oh = rcl_conv_out_size(cc->h, 3, 1, cc->ph), ow = rcl_conv_out_size(cc->w, 3, 1, cc->pw);
            rcl_conv_shape sh = {cc->n, cc->c, cc->h, cc->w, cc->oc, 3, 3, 1, cc->ph, cc->pw, oh, ow};
            rcl_conv_wino_plan p;
            assert_true(rcl_conv_wino_gemm_plan_for(&sh, RCL_CONV_FWD, tile, budget ? budget : 256,
                                                    0, &p));
            assert_int_equal(p.th, (oh + tile - 1) / tile), assert_int_equal(p.tt, (ow + tile - 1) / tile);
            assert_int_equal(p.npos, (tile + 2) * (tile + 2));
            int chunks = (cc->n + p.nb - 1) / p.nb;
            if (i == 3) assert_true(chunks > 1);
            /* the forward pass's launches: the weight transform, then per
             * chunk the input transform, the GEMMs, the output transform */
            int batched = route == 1 && rcl_gemm_batch_panels(ctx, 0, p.co, p.nb * p.th * p.tt, p.ci);
            if (route == 1 && rcl_gemm_vec_width(ctx) >= 4) assert_true(batched); /* CPU drivers */
            int gemms = batched ? 1 : p.npos;
            if (route != 2) /* (CLBlast's launches carry the tag too, several per GEMM) */
                assert_int_equal(tag_count[T_FWD_WINO], 1 + chunks * (2 + gemms));
            /* the scratch estimate covers what the passes took */
            rcl_conv2d_desc d = {3, 3, 1, 1, cc->ph, cc->pw};
            rcl_conv2d_scratch est;
            T_OK(rcl_conv2d_scratch_bytes(ctx, cc->n, cc->c, cc->h, cc->w, cc->oc, &d, 1, &est));
            assert_true(est.col >= (uint64_t)p.npos * (p.ci + p.co) * p.nb * p.th * p.tt * 4);
            assert_true(est.col >= ctx->scratch_bytes[RCL_SCRATCH_COL]);
            assert_true(est.tmp >= ctx->scratch_bytes[RCL_SCRATCH_TMP]);
            rcl_ctx_destroy(ctx);
        }
    /* conv_wino.YT (the F(4x4) transforms' tiles per work-item: 1 one tile,
     * 4/8/16 vectors of consecutive tiles) on the partial-tile and the
     * one-tile-per-image shapes, with the batched GEMM (vector stores into
     * V's panels) and per-position GEMMs (V one matrix: the per-lane stores
     * of a last partial vector), exact as above. CPU drivers every width;
     * llvmpipe (YT 0 is 1 there: scalar vectors) the 4-wide form once (the
     * same code as 16: 4.5 s of JIT cold against 6.5) */
    const int yt_all = tu_sweep_all(), yts[] = {1, 4, 8, 16}, ycase[] = {0, 4};
    for (int k = 0; k < 4; k++)
        for (int route = 1; route < 3; route++)
            for (int j = 0; j < 2; j++) {
                if (!yt_all && (yts[k] != 4 || route != 1 || j)) continue;
                rcl_ctx *ctx = path_ctx(0, 0);
                T_OK(rcl_ctx_set_param(ctx, "conv", "WINO_GEMM", 4));
                T_OK(rcl_ctx_set_param(ctx, "conv_wino", "YT", yts[k]));
                if (route == 2) T_OK(rcl_ctx_set_param(ctx, "gemm", "DEFAULT_PATH", RCL_GEMM_CLBLAST));
                conv_rel_atol = 1e-5;
                case_on(ctx, &cases[ycase[j]], 1200 + ycase[j]);
                conv_rel_atol = 0;
                assert_int_equal(tag_count[T_FWD_GEMM] + tag_count[T_DX_GEMM], 0);
                assert_true(tag_count[T_FWD_WINO] > 0 && tag_count[T_DX_WINO] > 0);
                rcl_ctx_destroy(ctx);
            }
    /* the epilogue (bias + res, ReLU) and dx_add: bitwise the separate ops */
    const conv_case_t e = {2, 66, 7, 9, 67, 3, 3, 1, 1, 1, 1, 1, 0};
    for (int tile = 2; tile <= 4; tile += 2) {
    rcl_ctx *ctx = path_ctx(0, 0);
    T_OK(rcl_ctx_set_param(ctx, "conv", "WINO_GEMM", tile));
    rcl_conv2d_desc d = {3, 3, 1, 1, 1, 1};
    size_t nx = (size_t)e.n * e.c * e.h * e.w, nw = (size_t)e.oc * e.c * 9, ny = (size_t)e.n * e.oc * e.h * e.w;
    float *hx = malloc(nx * 4), *hw = malloc(nw * 4), *hb = malloc(e.oc * 4), *hr = malloc(ny * 4);
    float *y0 = malloc(ny * 4), *y1 = malloc(ny * 4), *hdx = malloc(nx * 4), *dx0 = malloc(nx * 4),
          *dx1 = malloc(nx * 4);
    tu_rng r = tu_rng_seed(1100);
    tu_fill(&r, hx, nx, -1, 1), tu_fill(&r, hw, nw, -1, 1), tu_fill(&r, hb, e.oc, -1, 1);
    tu_fill(&r, hr, ny, -1, 1), tu_fill(&r, hdx, nx, -1, 1);
    hr[ny / 3] = NAN;
    rcl_tensor x, w, b, res, y, dxa, dx;
    T_OK(rcl_tensor_create(ctx, &x, e.n, e.c, e.h, e.w));
    T_OK(rcl_tensor_create(ctx, &w, e.oc, e.c, 3, 3));
    T_OK(rcl_tensor_create(ctx, &b, e.oc, 1, 1, 1));
    T_OK(rcl_tensor_create(ctx, &res, e.n, e.oc, e.h, e.w));
    T_OK(rcl_tensor_create(ctx, &y, e.n, e.oc, e.h, e.w));
    T_OK(rcl_tensor_create(ctx, &dxa, e.n, e.c, e.h, e.w));
    T_OK(rcl_tensor_create(ctx, &dx, e.n, e.c, e.h, e.w));
    T_OK(rcl_tensor_write(ctx, &x, hx));
    T_OK(rcl_tensor_write(ctx, &w, hw));
    T_OK(rcl_tensor_write(ctx, &b, hb));
    T_OK(rcl_tensor_write(ctx, &res, hr));
    T_OK(rcl_tensor_write(ctx, &dxa, hdx));
    T_OK(rcl_conv2d_forward(ctx, &y, &x, &w, &b, &d));
    T_OK(rcl_tensor_read(ctx, &y, y0));
    memset(tag_count, 0, sizeof tag_count);
    T_OK(rcl_conv2d_forward_fused(ctx, &y, &x, &w, &b, &res, 1, &d));
    T_OK(rcl_tensor_read(ctx, &y, y1));
    assert_int_equal(tag_count[T_ADD] + tag_count[T_RELU], 0);
    for (size_t j = 0; j < ny; j++) {
        float v = y0[j] + hr[j];
        v = v < 0 ? 0.0f : v;
        if (isnan(v) ? !isnan(y1[j]) : memcmp(&v, &y1[j], 4) != 0)
            fail_msg("fused y[%zu] = %.9g, want %.9g", j, (double)y1[j], (double)v);
    }
    /* dy = y1 with the NaN replaced */
    y1[ny / 3] = 0.5f;
    T_OK(rcl_tensor_write(ctx, &y, y1));
    T_OK(rcl_conv2d_backward(ctx, &dx, NULL, NULL, &y, &x, &w, &d));
    T_OK(rcl_tensor_read(ctx, &dx, dx0));
    memset(tag_count, 0, sizeof tag_count);
    T_OK(rcl_conv2d_backward_acc(ctx, &dx, NULL, NULL, &y, &x, &w, &dxa, &d));
    T_OK(rcl_tensor_read(ctx, &dx, dx1));
    assert_int_equal(tag_count[T_ADD], 0);
    for (size_t j = 0; j < nx; j++) {
        float v = dx0[j] + hdx[j];
        if (memcmp(&v, &dx1[j], 4) != 0)
            fail_msg("dx + dx_add [%zu] = %.9g, want %.9g", j, (double)dx1[j], (double)v);
    }
    rcl_tensor *all[] = {&x, &w, &b, &res, &y, &dxa, &dx};
    for (size_t k = 0; k < 7; k++) rcl_tensor_destroy(all[k]);
    free(hx), free(hw), free(hb), free(hr), free(y0), free(y1), free(hdx), free(dx0), free(dx1);
    if (tile == 4) {
        rcl_ctx_destroy(ctx);
        continue;
    }
    /* the chooser: not 1x1, stride 2, 3x3 on maps under 4 wide, nor the
     * weight gradient; the direct path keeps its own */
    rcl_conv_shape a = {2, 8, 9, 9, 8, 3, 3, 2, 1, 1, 5, 5};
    rcl_conv_wino_plan q;
    assert_int_equal(rcl_conv_wino_gemm_plan_for(&a, RCL_CONV_FWD, 2, 256, 0, &q), 0);
    rcl_conv_shape c1 = {2, 8, 9, 9, 8, 1, 1, 1, 0, 0, 9, 9};
    assert_int_equal(rcl_conv_wino_gemm_plan_for(&c1, RCL_CONV_FWD, 2, 256, 0, &q), 0);
    rcl_conv_shape c3 = {2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 9, 9};
    assert_int_equal(rcl_conv_wino_gemm_plan_for(&c3, RCL_CONV_DW, 2, 256, 0, &q), 0);
    assert_true(rcl_conv_wino_gemm_plan_for(&c3, RCL_CONV_DX, 2, 256, 0, &q));
    assert_int_equal(q.ci, 8), assert_int_equal(q.th, 5);
    rcl_conv_shape small = {2, 128, 3, 3, 128, 3, 3, 1, 1, 1, 3, 3};
    assert_int_equal(rcl_conv_wino_gemm_choose(ctx, &small, RCL_CONV_FWD, &q), 0);
    assert_int_equal(rcl_conv_wino_gemm_plan_for(&c3, RCL_CONV_FWD, 3, 256, 0, &q), 0);
    assert_true(rcl_conv_wino_gemm_plan_for(&c3, RCL_CONV_FWD, 4, 256, 0, &q));
    assert_int_equal(q.th, 3), assert_int_equal(q.npos, 36);
    /* WINO_GEMM 1 (older caches) is F(2x2), 4 F(4x4), 0 off */
    T_OK(rcl_ctx_set_param(ctx, "conv", "WINO_GEMM", 1));
    assert_true(rcl_conv_wino_gemm_choose(ctx, &c3, RCL_CONV_FWD, &q));
    assert_int_equal(q.m, 2);
    T_OK(rcl_ctx_set_param(ctx, "conv", "WINO_GEMM", 4));
    assert_true(rcl_conv_wino_gemm_choose(ctx, &c3, RCL_CONV_FWD, &q));
    assert_int_equal(q.m, 4);
    T_OK(rcl_ctx_set_param(ctx, "conv", "WINO_GEMM", 0));
    assert_int_equal(rcl_conv_wino_gemm_choose(ctx, &c3, RCL_CONV_FWD, &q), 0);
    rcl_ctx_destroy(ctx);
    }
    /* error against the double reference (docs/semantics.md): the widest
     * convs of resnet18/34/50 that take it (128 channels on 4x4 maps at
     * 32x32 input; 256 on 14x14 and 512 on 7x7 at 224x224), inputs and
     * weights in [-1, 1] */
    const conv_case_t big[] = {{16, 128, 4, 4, 128, 3, 3, 1, 1, 1, 1, 0, 0},
                               {2, 256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 0, 0},
                               {2, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, 0, 0}};
    for (int i = 0; i < 3; i++) {
        double eb[3][2];
        wino_error_on(&big[i], 530 + i, eb, 1, 1);
        print_message("conv %dx%dx%d -> %d: forward im2col %.2e F(2x2) %.2e F(4x4) %.2e, data "
                      "gradient im2col %.2e F(2x2) %.2e F(4x4) %.2e\n",
                      big[i].c, big[i].h, big[i].w, big[i].oc, eb[0][0], eb[1][0], eb[2][0],
                      eb[0][1], eb[1][1], eb[2][1]);
        /* F(2x2) within the direct sum's 1e-5; F(4x4) grows with the
         * channels summed (1.3e-5 at 256 on this machine) */
        for (int j = 0; j < 2; j++) assert_true(eb[1][j] < 1e-5 && eb[2][j] < 5e-5);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conv_out_size),
    cmocka_unit_test(test_conv_exact),
    cmocka_unit_test(test_conv_3x3),
    cmocka_unit_test(test_conv_stem),
    cmocka_unit_test(test_conv_1x1),
    cmocka_unit_test(test_conv_1x1_per_image),
    cmocka_unit_test(test_conv_nonsquare_kernel),
    cmocka_unit_test(test_conv_multichunk),
    cmocka_unit_test(test_conv_invalid),
    cmocka_unit_test(test_conv_rules),
    cmocka_unit_test(test_conv_paths),
    cmocka_unit_test(test_conv_stem_paths),
    cmocka_unit_test(test_conv_dw_rows),
    cmocka_unit_test(test_conv_panels),
    cmocka_unit_test(test_conv_images_b),
    cmocka_unit_test(test_conv_paths_multichunk),
    cmocka_unit_test(test_conv_path_rule),
    cmocka_unit_test(test_conv_dead_taps),
    cmocka_unit_test(test_conv_trim),
    cmocka_unit_test(test_conv_wino),
    cmocka_unit_test(test_conv_wino_stream),
    cmocka_unit_test(test_conv_wino_vx),
    cmocka_unit_test(test_conv_wino_img),
    cmocka_unit_test(test_conv_wino_dw),
    cmocka_unit_test(test_conv_fused),
    cmocka_unit_test(test_conv_backward_acc),
    cmocka_unit_test(test_conv_chunk_cap),
    cmocka_unit_test(test_conv_wino_gemm),
    cmocka_unit_test(test_conv_dense),
};

RCL_TEST_MAIN("conv2d", tests)
