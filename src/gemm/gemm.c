/* GEMM dispatch (see gemm_params.h): per shape class, CLBlast (the default
 * when nothing is tuned) or our register-tiled kernel with the class's
 * parameters from the tunable table. */
#include "gemm/gemm_internal.h"
#include "runtime/internal.h"

#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rcl_xgemm_names[RCL_XGEMM_NPARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG",  "SA",  "SB",  "STRM",  "STRN",  "VWM", "VWN"};
enum { X_GEMMK, X_KREG, X_KWG, X_KWI, X_MDIMA, X_MDIMC, X_MWG, X_NDIMB,
       X_NDIMC, X_NWG, X_SA, X_SB, X_STRM, X_STRN, X_VWM, X_VWN };

/* per-context state: whether "gemm.clblast" has been applied */
typedef struct gemm_state {
    int clblast_applied;
    rcl_gemm_hook hook;      /* non-NULL: called instead of computing */
    void *hook_user;
} gemm_state;

static gemm_state *state_of(rcl_ctx *ctx)
{
    if (!ctx->gemm_state) {
        ctx->gemm_state = calloc(1, sizeof(gemm_state));
        ctx->gemm_state_free = free;
    }
    return ctx->gemm_state;
}

void rcl_gemm_reset(rcl_ctx *ctx)
{
    gemm_state *s = state_of(ctx);
    if (s) s->clblast_applied = 0;
}

static int floor_log2(int x)
{
    int b = 0;
    while (x > 1) x >>= 1, b++;
    return b;
}

int rcl_gemm_set_hook(rcl_ctx *ctx, rcl_gemm_hook hook, void *user)
{
    gemm_state *s = state_of(ctx);
    if (!s) return rcl_fail(RCL_ERR_NOMEM, "gemm state");
    s->hook = hook;
    s->hook_user = user;
    return RCL_OK;
}

const char *rcl_gemm_class(int trans_a, int trans_b, int M, int N, int K, char *buf, size_t cap)
{
    int m = floor_log2(M), n = floor_log2(N), k = floor_log2(K);
    if (m > 13) m = 13;
    if (n > 13) n = 13;
    if (k > 13) k = 13;
    snprintf(buf, cap, "%c%c_m%d_n%d_k%d", trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k);
    return buf;
}

static int is_pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }

int rcl_xgemm_valid(const int *v)
{
    for (int i = 0; i < RCL_XGEMM_NPARAMS; i++)
        if (v[i] < 0) return 0;
    if (v[X_GEMMK] > 1 || v[X_SA] > 1 || v[X_SB] > 1 || v[X_STRM] > 1 || v[X_STRN] > 1) return 0;
    if (!is_pow2(v[X_VWM]) || !is_pow2(v[X_VWN]) || v[X_VWM] > 16 || v[X_VWN] > 16) return 0;
    if (!v[X_MWG] || !v[X_NWG] || !v[X_KWG] || !v[X_KWI] || !v[X_MDIMC] || !v[X_NDIMC] ||
        !v[X_MDIMA] || !v[X_NDIMB] || !v[X_KREG])
        return 0;
    if (v[X_MWG] % (v[X_MDIMC] * v[X_VWM]) || v[X_NWG] % (v[X_NDIMC] * v[X_VWN])) return 0;
    if (v[X_KWG] % v[X_KWI]) return 0;
    if (v[X_GEMMK] == 0) {
        if (v[X_KREG] != 1) return 0;
        if (v[X_MWG] % (v[X_MDIMA] * v[X_VWM]) || v[X_NWG] % (v[X_NDIMB] * v[X_VWN])) return 0;
        int t = v[X_MDIMC] * v[X_NDIMC];
        if (t % v[X_MDIMA] || t % v[X_NDIMB]) return 0;
        if (v[X_KWG] % (t / v[X_MDIMA]) || v[X_KWG] % (t / v[X_NDIMB])) return 0;
    } else {
        /* 2D register tiling: no local memory, one KREG-wide k block; CLBlast
         * < 1.6.3 is wrong with MWG != NWG */
        if (v[X_MWG] != v[X_NWG]) return 0;
        if (v[X_MDIMA] != v[X_MDIMC] || v[X_NDIMB] != v[X_NDIMC] || v[X_SA] || v[X_SB]) return 0;
        if (v[X_KWG] % v[X_KREG] || v[X_KREG] % v[X_VWN]) return 0;
    }
    return 1;
}

int rcl_gemm_clblast_override(rcl_ctx *ctx, const int *xgemm, int min_indirect)
{
    if (xgemm) {
        if (!rcl_xgemm_valid(xgemm))
            return rcl_fail(RCL_ERR_INVALID, "CLBlast Xgemm parameters violate its constraints");
        size_t vals[RCL_XGEMM_NPARAMS];
        for (int i = 0; i < RCL_XGEMM_NPARAMS; i++) vals[i] = (size_t)xgemm[i];
        CLBlastStatusCode s = CLBlastOverrideParameters(ctx->dev.device, "Xgemm",
                                                        CLBlastPrecisionSingle, RCL_XGEMM_NPARAMS,
                                                        (const char **)rcl_xgemm_names, vals);
        if (s != CLBlastSuccess)
            return rcl_fail(RCL_ERR_GEMM, "CLBlastOverrideParameters(Xgemm) failed: status %d",
                            (int)s);
    }
    if (min_indirect > 0) {
        const char *name[1] = {"XGEMM_MIN_INDIRECT_SIZE"};
        size_t val[1] = {(size_t)min_indirect};
        CLBlastStatusCode s = CLBlastOverrideParameters(ctx->dev.device, "GemmRoutine",
                                                        CLBlastPrecisionSingle, 1, name, val);
        if (s != CLBlastSuccess)
            return rcl_fail(RCL_ERR_GEMM, "CLBlastOverrideParameters(GemmRoutine) failed: status %d",
                            (int)s);
    }
    return RCL_OK;
}

int rcl_gemm_clblast_table(rcl_ctx *ctx, int *xgemm, int *min_indirect)
{
    int have = 1;
    for (int i = 0; i < RCL_XGEMM_NPARAMS; i++) {
        xgemm[i] = rcl_ctx_param(ctx, RCL_GEMM_CLBLAST_KEY, rcl_xgemm_names[i], -1);
        if (xgemm[i] < 0) have = 0;
    }
    *min_indirect = rcl_ctx_param(ctx, RCL_GEMM_CLBLAST_KEY, "XGEMM_MIN_INDIRECT_SIZE",
                                  rcl_ctx_scalar_cpu(ctx));
    return have;
}

/* Apply "gemm.clblast" from the table once per context (all 16 Xgemm
 * names must be present, else CLBlast's database stays). Without an entry,
 * XGEMM_MIN_INDIRECT_SIZE stays CLBlast's except on CPU drivers that
 * prefer scalars (rusticl on llvmpipe: its compiler vectorizes across
 * work-items), where 1 sends every size to the indirect Xgemm: CLBlast's
 * XgemmDirect kernels ran 2-3x slower there (resnet20 batch 8 with conv
 * PATH 1, rcl_ctx_create: a training step 4.9 -> 3.5 s; docs/speed.md
 * "Session 28") */
static int apply_clblast_table(rcl_ctx *ctx)
{
    gemm_state *s = state_of(ctx);
    if (!s) return rcl_fail(RCL_ERR_NOMEM, "gemm state");
    if (s->clblast_applied) return RCL_OK;
    int v[RCL_XGEMM_NPARAMS], mi;
    int have = rcl_gemm_clblast_table(ctx, v, &mi);
    s->clblast_applied = 1;
    if (have || mi > 0) RCL_TRY(rcl_gemm_clblast_override(ctx, have ? v : NULL, mi));
    return RCL_OK;
}

int rcl_gemm_clblast(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     cl_mem A, size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, float beta,
                     cl_mem C, size_t off_c, int ldc, const char *tag)
{
    /* Called column-major with the operands swapped: row-major C = op(A) op(B)
     * is column-major C^T = op(B)^T op(A)^T over the same storage. CLBlast's
     * row-major path would transpose C through a temporary buffer (an extra
     * kernel and allocation per call, and the returned event covers only
     * that copy). */
    cl_event ev = NULL;
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutColMajor, trans_b ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_a ? CLBlastTransposeYes : CLBlastTransposeNo, (size_t)N, (size_t)M, (size_t)K, alpha,
        B, off_b, (size_t)ldb, A, off_a, (size_t)lda, beta, C, off_c, (size_t)ldc, &ctx->queue,
        rcl_event_slot(ctx, &ev));
    if (s != CLBlastSuccess) {
        if (s == CLBlastOpenCLOutOfResources || s == CLBlastOpenCLOutOfHostMemory ||
            s == CLBlastTempBufferAllocFailure)
            return rcl_fail(RCL_ERR_DEVICE_NOMEM, "CLBlastSgemm %s (%dx%dx%d): out of resources (%d)",
                            tag, M, N, K, (int)s);
        return rcl_fail(RCL_ERR_GEMM, "CLBlastSgemm %s (%dx%dx%d) failed: status %d", tag, M, N, K,
                        (int)s);
    }
    rcl_profile_event(ctx, tag, ev);
    return RCL_OK;
}

int rcl_gemm_with(rcl_ctx *ctx, rcl_gemm_path path, const rcl_gemm_tiled_params *p, int trans_a,
                  int trans_b, int M, int N, int K, float alpha, cl_mem A, size_t off_a, int lda,
                  cl_mem B, size_t off_b, int ldb, float beta, cl_mem C, size_t off_c, int ldc,
                  const char *tag)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: M=%d N=%d K=%d", tag, M, N, K);
    if (path == RCL_GEMM_TILED) {
        rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(rcl_gemm_vec_width(ctx), trans_a, trans_b);
        return rcl_gemm_tiled(ctx, p ? p : &d, trans_a, trans_b, M, N, K, alpha, A, off_a, lda, B,
                              off_b, ldb, beta, C, off_c, ldc, NULL, tag);
    }
    if (path != RCL_GEMM_CLBLAST) return rcl_fail(RCL_ERR_INVALID, "gemm %s: path %d", tag, path);
    return rcl_gemm_clblast(ctx, trans_a, trans_b, M, N, K, alpha, A, off_a, lda, B, off_b, ldb,
                            beta, C, off_c, ldc, tag);
}

/* 1 and the class's parameters *p where rcl_gemm runs this shape on the
 * tiled kernel, 0 where on CLBlast; *key its table key. The tile as the
 * class says (or the defaults), before tiled_choice's narrow-N rule */
static int tiled_class(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K,
                       rcl_gemm_tiled_params *p, char key[64])
{
    char cls[48];
    rcl_gemm_class(trans_a, trans_b, M, N, K, cls, sizeof cls);
    snprintf(key, 64, RCL_GEMM_KEY_PREFIX "%s", cls);
    /* A class the tuner did not see takes the path the tuner chose for most
     * of the step's GEMM time on this device ("gemm DEFAULT_PATH"); with no
     * tune cache at all, the device's default (tiled on CPU-like devices,
     * CLBlast elsewhere: rcl_ctx_create). */
    int fallback = rcl_tun(ctx, RCL_TUN_GEMM_DEFAULT_PATH);
    if (rcl_ctx_param(ctx, key, "PATH", fallback) != RCL_GEMM_TILED) return 0;
    *p = rcl_gemm_tiled_from_table(ctx, key, trans_a, trans_b);
    /* a deep k range (a weight gradient's K = images x pixels) in the outer
     * form, its class not tuned for k blocks: every work-item of a group
     * streams the same op(B) panel, too large for the cache, so the group
     * sweeps it in blocks of RCL_GEMM_DEEP_KB between barriers (resnet50
     * at 224x224: the stem's weight gradient 88 -> 27 ms;
     * docs/speed.md "Session 23") */
    if (K >= RCL_GEMM_DEEP_K && p->kb == 0 && rcl_ctx_param(ctx, key, "KB", -1) < 0 &&
        p->wgm * p->wgn > 1 && !rcl_gemm_tiled_dot(p, trans_a, trans_b)) {
        rcl_gemm_tiled_params q = *p;
        q.kb = RCL_GEMM_DEEP_KB;
        if (rcl_gemm_tiled_valid(&q, trans_a, trans_b)) *p = q;
    }
    return 1;
}

/* tiled_class, and where the class's tile was not tuned, the vectors are
 * 16 wide (measured with AVX-512 only) and N is narrow
 * (the last panel of 3 vectors' columns mostly padding: more than 1/8 of
 * N computed in vain, e.g. a weight gradient's N = C x taps of 64, 128,
 * 147 or 256) 6 rows of 2 vectors (as many accumulators) where their
 * panels waste less: resnet50 at 224x224, NT 256x64x3136 (a 1x1 conv's
 * weight gradient) 1.36x, docs/speed.md "Session 33". The same sums in
 * the same order: every output is one chain of FMAs over k whatever the
 * tile (cl/gemm.cl's outer form) */
static int tiled_choice(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K,
                        rcl_gemm_tiled_params *p)
{
    char key[64];
    if (!tiled_class(ctx, trans_a, trans_b, M, N, K, p, key)) return 0;
    if (rcl_ctx_param(ctx, key, "NWI", -1) < 0 && rcl_ctx_param(ctx, key, "MWI", -1) < 0 &&
        p->vw >= 16 && p->mwi == 4 && p->nwi == 3 * p->vw &&
        !rcl_gemm_tiled_dot(p, trans_a, trans_b)) {
        const int w3 = (N + p->nwi - 1) / p->nwi * p->nwi - N;
        const int w2 = (N + 2 * p->vw - 1) / (2 * p->vw) * (2 * p->vw) - N;
        rcl_gemm_tiled_params q = *p;
        q.mwi = 6, q.nwi = 2 * p->vw;
        if (8 * w3 > N && w2 < w3 && rcl_gemm_tiled_valid(&q, trans_a, trans_b)) *p = q;
    }
    return 1;
}

int rcl_gemm_tiled_choice(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K,
                          rcl_gemm_tiled_params *p)
{
    return tiled_choice(ctx, trans_a, trans_b, M, N, K, p);
}

/* 1 and the class's parameters *p where rcl_gemm would run this shape on
 * the tiled kernel packing op(B) into panels first (XB 2, no GEMM hook);
 * *p not yet checked for validity */
static int panels_class(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K,
                        rcl_gemm_tiled_params *p)
{
    gemm_state *gs = state_of(ctx);
    return M > 0 && N > 0 && K > 0 && gs && !gs->hook &&
           tiled_choice(ctx, trans_a, trans_b, M, N, K, p) && p->xb == 2;
}

/* panels_class with valid parameters */
static int panels_choice(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K,
                         rcl_gemm_tiled_params *p)
{
    return panels_class(ctx, trans_a, trans_b, M, N, K, p) &&
           rcl_gemm_tiled_valid(p, trans_a, trans_b);
}

int rcl_gemm_b_panels(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K)
{
    rcl_gemm_tiled_params p;
    return panels_choice(ctx, trans_a, trans_b, M, N, K, &p) ? p.nwi : 0;
}

int rcl_gemm_packed_b(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                      cl_mem A, size_t off_a, int lda, cl_mem Bp, float beta, cl_mem C,
                      size_t off_c, int ldc, const rcl_gemm_conv_out *co, const char *tag)
{
    rcl_gemm_tiled_params p;
    if (!panels_choice(ctx, trans_a, trans_b, M, N, K, &p))
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: %dx%dx%d does not read op(B) in panels", tag,
                        M, N, K);
    return rcl_gemm_tiled_packed_b(ctx, &p, trans_a, M, N, K, alpha, A, off_a, lda, Bp, beta, C,
                                   off_c, ldc, co, NULL, tag);
}

/* 1 and the class's parameters *p where rcl_gemm runs this shape (op(B)
 * not transposed) on the tiled kernel with op(B) packed or read in place
 * (XB 2 or 0; no GEMM hook), valid, its vector width dividing N and P
 * (conv IMAGES_B 1) or dividing N and at most P (IMAGES_B 2: vectors
 * across two images, cl/gemm.cl BI) */
static int images_choice(rcl_ctx *ctx, int trans_a, int M, int N, int K, int P,
                         rcl_gemm_tiled_params *p)
{
    gemm_state *gs = state_of(ctx);
    int mode = rcl_tun(ctx, RCL_TUN_GEMM_IMAGES_B);
    return mode > 0 && M > 0 && N > 0 && K > 0 && P > 0 && N % P == 0 && gs && !gs->hook &&
           tiled_choice(ctx, trans_a, 0, M, N, K, p) && (p->xb == 0 || p->xb == 2) &&
           rcl_gemm_tiled_valid(p, trans_a, 0) && N % p->vw == 0 &&
           (P % p->vw == 0 || (mode == 2 && P >= p->vw));
}

int rcl_gemm_images_b_ok(rcl_ctx *ctx, int trans_a, int M, int N, int K, int P)
{
    rcl_gemm_tiled_params p;
    return images_choice(ctx, trans_a, M, N, K, P, &p);
}

int rcl_gemm_images_b(rcl_ctx *ctx, int trans_a, int M, int N, int K, float alpha, cl_mem A,
                      size_t off_a, int lda, cl_mem X, size_t off_x, int P, float beta, cl_mem C,
                      size_t off_c, int ldc, const rcl_gemm_conv_out *co, const char *tag)
{
    rcl_gemm_tiled_params p;
    if (!images_choice(ctx, trans_a, M, N, K, P, &p))
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: %dx%dx%d does not read op(B) as images of %d",
                        tag, M, N, K, P);
    return rcl_gemm_tiled_images_b(ctx, &p, trans_a, M, N, K, alpha, A, off_a, lda, X, off_x, P,
                                   beta, C, off_c, ldc, co, tag);
}

int rcl_gemm_const_b_panels(rcl_ctx *ctx)
{
    if (rcl_tun(ctx, RCL_TUN_GEMM_DEFAULT_PATH) != RCL_GEMM_TILED) return 0;
    rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(rcl_gemm_vec_width(ctx), 0, 0);
    return d.xb == 2 && rcl_gemm_tiled_valid(&d, 0, 0) ? d.nwi : 0;
}

int rcl_gemm_packed_b_nwi(rcl_ctx *ctx, int M, int N, int K, int nwi, float alpha, cl_mem A,
                          size_t off_a, int lda, cl_mem Bp, float beta, cl_mem C, size_t off_c,
                          int ldc, const rcl_gemm_conv_out *co, const char *tag)
{
    /* the class's tiles where it runs on our kernel, else the defaults'; the
     * panel width is Bp's (every output is the same chain of FMAs over k
     * whatever the tile, cl/gemm.cl's outer form) */
    rcl_gemm_tiled_params d = rcl_gemm_tiled_defaults(rcl_gemm_vec_width(ctx), 0, 0), p = d;
    gemm_state *gs = state_of(ctx);
    char key[64];
    if (gs && !gs->hook) tiled_class(ctx, 0, 0, M, N, K, &p, key); /* p untouched where 0 */
    p.nwi = nwi, p.xb = 2;
    if (!rcl_gemm_tiled_valid(&p, 0, 0)) p = d, p.nwi = nwi, p.xb = 2;
    return rcl_gemm_tiled_packed_b(ctx, &p, 0, M, N, K, alpha, A, off_a, lda, Bp, beta, C, off_c,
                                   ldc, co, NULL, tag);
}

/* a batch's parameters: the class's (panels_class), with op(A) read in
 * place (each GEMM has its own) and panels one vector wide under 8-row
 * tiles: Winograd's GEMMs have few columns (tiles: 64-100 for a batch of
 * CIFAR images on 4x4 maps), which wider panels pad (N = 100 in panels of
 * 48: 144); measured in docs/speed.md "Session 19"; wider with 16-wide vectors */
static int batch_choice(rcl_ctx *ctx, int trans_a, int M, int N, int K, rcl_gemm_tiled_params *p)
{
    if (!panels_class(ctx, trans_a, 0, M, N, K, p)) return 0;
    rcl_gemm_tiled_params q = *p;
    q.xa = 0, q.nwi = q.vw, q.mwi = 8;
    /* 16-wide vectors (AVX-512 drivers: 32 registers): 2 vectors a row
     * from 2 vectors of columns, 3 from 16 (the 8 x 2 tile's 16
     * accumulators beat 8 x 1 on a 2-FMA core despite the padding of 100
     * columns to 128; docs/speed.md "Session 23") */
    if (q.vw >= 16) q.nwi = (N >= 16 * q.vw ? 3 : N >= 2 * q.vw ? 2 : 1) * q.vw;
    if (rcl_gemm_tiled_valid(&q, trans_a, 0)) *p = q;
    p->xa = 0;
    return rcl_gemm_tiled_valid(p, trans_a, 0);
}

int rcl_gemm_batch_panels(rcl_ctx *ctx, int trans_a, int M, int N, int K)
{
    rcl_gemm_tiled_params p;
    return batch_choice(ctx, trans_a, M, N, K, &p) ? p.nwi : 0;
}

int rcl_gemm_packed_b_batch(rcl_ctx *ctx, int trans_a, int M, int N, int K, float alpha, cl_mem A,
                            size_t off_a, int lda, cl_mem Bp, float beta, cl_mem C, size_t off_c,
                            int ldc, const rcl_gemm_batch *bt, const char *tag)
{
    rcl_gemm_tiled_params p;
    if (!bt || !batch_choice(ctx, trans_a, M, N, K, &p))
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: %dx%dx%d does not read op(B) in panels", tag,
                        M, N, K);
    return rcl_gemm_tiled_packed_b(ctx, &p, trans_a, M, N, K, alpha, A, off_a, lda, Bp, beta, C,
                                   off_c, ldc, NULL, bt, tag);
}

/* 1 with our kernel's parameters in *p if rcl_gemm runs this shape on its
 * outer form (no GEMM hook) */
static int epi_choice(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K,
                      rcl_gemm_tiled_params *p)
{
    gemm_state *gs = state_of(ctx);
    return M > 0 && N > 0 && K > 0 && !(gs && gs->hook) &&
           tiled_choice(ctx, trans_a, trans_b, M, N, K, p) &&
           rcl_gemm_tiled_valid(p, trans_a, trans_b) && !rcl_gemm_tiled_dot(p, trans_a, trans_b);
}

int rcl_gemm_epi_ok(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K)
{
    rcl_gemm_tiled_params p;
    return epi_choice(ctx, trans_a, trans_b, M, N, K, &p);
}

int rcl_gemm_epi(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                 cl_mem A, size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, cl_mem C,
                 size_t off_c, int ldc, const rcl_gemm_conv_out *co, const char *tag)
{
    rcl_gemm_tiled_params p;
    if (!co || !epi_choice(ctx, trans_a, trans_b, M, N, K, &p))
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: %dx%dx%d does not run on the tiled kernel's "
                        "outer form", tag, M, N, K);
    return rcl_gemm_tiled(ctx, &p, trans_a, trans_b, M, N, K, alpha, A, off_a, lda, B, off_b, ldb,
                          0.0f, C, off_c, ldc, co, tag);
}

int rcl_gemm(rcl_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, cl_mem A,
             size_t off_a, int lda, cl_mem B, size_t off_b, int ldb, float beta, cl_mem C,
             size_t off_c, int ldc, const char *tag)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return rcl_fail(RCL_ERR_INVALID, "gemm %s: M=%d N=%d K=%d", tag, M, N, K);
    gemm_state *gs = state_of(ctx);
    if (gs && gs->hook) return gs->hook(gs->hook_user, trans_a, trans_b, M, N, K, tag);
    rcl_gemm_tiled_params p;
    if (tiled_choice(ctx, trans_a, trans_b, M, N, K, &p))
        return rcl_gemm_tiled(ctx, &p, trans_a, trans_b, M, N, K, alpha, A, off_a, lda, B, off_b,
                              ldb, beta, C, off_c, ldc, NULL, tag);
    RCL_TRY(apply_clblast_table(ctx));
    return rcl_gemm_clblast(ctx, trans_a, trans_b, M, N, K, alpha, A, off_a, lda, B, off_b, ldb,
                            beta, C, off_c, ldc, tag);
}
