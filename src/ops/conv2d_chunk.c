/* conv2d's batching rule (conv2d_chunk.h). */
#include "ops/conv2d_chunk.h"

#include <limits.h>

int rcl_conv_is_direct(int N, int P, int min_p, int kh, int kw, int sh, int sw, int ph, int pw)
{
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 &&
           (N == 1 || (min_p > 0 && P >= min_p));
}

int rcl_conv_dw_swapped(int N, int C, int OC) { return N > 1 && OC < C; }

int rcl_conv_is_dense(int on, int Q, int P, int KK, int C, int OC, int budget_mb,
                      uint64_t max_alloc)
{
    if (!on || Q > KK || P * Q > RCL_CONV_DENSE_MAX_PQ) return 0;
    if (budget_mb < 1) budget_mb = 1;
    uint64_t bytes = (uint64_t)OC * P * C * Q * sizeof(float);
    return bytes <= ((uint64_t)budget_mb << 20) && (!max_alloc || bytes <= max_alloc) &&
           bytes / sizeof(float) < (1u << 31);
}

int rcl_conv_dense_identity(const rcl_conv_shape *s)
{
    return s->KH == 1 && s->KW == 1 && s->H * s->W == 1 && s->OH * s->OW == 1;
}

int rcl_conv_dense_y_transposed(const rcl_conv_shape *s)
{
    return rcl_conv_dense_identity(s) && s->OC > s->N;
}

int rcl_conv_chunk_images(int budget_mb, uint64_t max_alloc, int N, int CKK, int OC, int P)
{
    if (budget_mb < 1) budget_mb = 1;
    uint64_t budget = (uint64_t)budget_mb << 20;
    if (max_alloc && max_alloc < budget) budget = max_alloc;
    uint64_t per = (uint64_t)(CKK > OC ? CKK : OC) * (uint64_t)P;
    uint64_t n = budget / (per * sizeof(float));
    if (n > (uint64_t)INT_MAX / per) n = (uint64_t)INT_MAX / per;
    if (n < 1) n = 1;
    if (n > (uint64_t)N) n = (uint64_t)N;
    /* balance the chunks: same count, sizes as even as possible */
    int chunks = (int)(((uint64_t)N + n - 1) / n);
    return (N + chunks - 1) / chunks;
}

void rcl_conv_live_taps(int O, int I, int S, int P, int K, int *lo, int *hi)
{
    *lo = K, *hi = 0;
    for (int k = 0; k < K; k++) {
        /* outputs o with 0 <= o*S - P + k <= I - 1 */
        int a = P - k, b = I - 1 + P - k;
        int first = a > 0 ? (a + S - 1) / S : 0;
        if (b < 0 || first > O - 1 || first * S > b) continue;
        if (k < *lo) *lo = k;
        *hi = k + 1;
    }
    if (*hi == 0) *lo = 0; /* no output reads the input at all */
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* the weight gradient's row groups: at most DW_GMAX, of at most DW_ROWS
 * output rows each where that many fit (resnet20, batch 128 on the 2-core
 * PoCL VM: conv_bwd_weight_direct ~600-730 -> ~350-390 ms a step) */
#define DW_GMAX 64
#define DW_ROWS 32

uint64_t rcl_conv_chunk_cap(uint64_t nb, uint64_t per, int chunk_kb)
{
    if (chunk_kb <= 0 || !per) return nb;
    uint64_t c = ((uint64_t)chunk_kb << 10) / (per * sizeof(float));
    if (c < 1) c = 1;
    return c < nb ? c : nb;
}

int rcl_conv_direct_plan_for(const rcl_conv_shape *s, int pass, int vw_max, int budget_mb,
                             uint64_t max_alloc, int units, int chunk_kb, rcl_conv_direct_plan *p)
{
    if (s->S != 1 && s->S != 2) return 0;
    /* the forward loops over the taps (up to 7x7: the ImageNet stem); the
     * weight gradient unrolls them, the data gradient reuses its kernel */
    int KK = s->KH * s->KW; /* more than 16: conv_dw's unrolled row alone (KW <= 16) */
    if (s->KH < 1 || s->KW < 1 || KK > (pass == RCL_CONV_FWD ? 49 : 16) || (KK > 16 && s->KW > 16))
        return 0;
    int CKK = s->C * KK, P = s->OH * s->OW;
    /* the im2col path's scratch for the same shape: col and tmp chunks */
    int nbg = rcl_conv_chunk_images(budget_mb, max_alloc, s->N, CKK, s->OC, P);
    uint64_t colf = (uint64_t)CKK * nbg * P, tmpf = (uint64_t)s->OC * nbg * P;
    int S = pass == RCL_CONV_DX ? 1 : s->S;
    int ow = pass == RCL_CONV_DX ? s->W : s->OW;
    int vx = vw_max >= 16 ? 16 : vw_max >= 8 ? 8 : 4;
    while (vx > 4 && vx / 2 >= ow) vx /= 2;
    p->vx = vx;
    p->tw = (ow + vx - 1) / vx;
    uint64_t per;
    if (pass == RCL_CONV_DX) {
        p->hp = s->H + s->KH - 1;
        p->wp = p->tw * vx + s->KW - 1;
        per = (uint64_t)s->OC * p->hp * p->wp;
        if ((uint64_t)s->OC * CKK > tmpf) return 0; /* the flipped weights */
    } else {
        p->hp = imax(s->H + 2 * s->PH, (s->OH - 1) * S + s->KH);
        p->wp = imax(s->W + 2 * s->PW, p->tw * vx * S + s->KW - 1);
        if (S == 2) /* split rows: even columns, then odd, wp/2 each */
            p->wp = 2 * imax((s->W + 2 * s->PW + 1) / 2, p->tw * vx + s->KW / 2);
        per = (uint64_t)s->C * p->hp * p->wp;
    }
    uint64_t nb = per ? colf / per : 0;
    if (nb < 1) return 0;
    if (nb > (uint64_t)s->N) nb = (uint64_t)s->N;
    nb = rcl_conv_chunk_cap(nb, per, chunk_kb);
    int chunks = (int)(((uint64_t)s->N + nb - 1) / nb);
    p->nb = (s->N + chunks - 1) / chunks;
    p->g = 1;
    if (pass == RCL_CONV_DW) {
        uint64_t gmax = tmpf / ((uint64_t)s->OC * CKK);
        if (gmax < 1) return 0;
        /* enough work-items (C x OC/2 x g) to keep every compute unit busy,
         * and groups of at most DW_ROWS output rows: a work-group (WG
         * input channels, the same output channels) then rereads its rows
         * of dy from cache instead of streaming all N*OH of them per item */
        int items = s->C * ((s->OC + 1) / 2);
        int want = (64 * imax(units, 1) + items - 1) / items;
        want = imax(want, (p->nb * s->OH + DW_ROWS - 1) / DW_ROWS);
        p->g = imax(1, imin(imin(want, DW_GMAX),
                            imin((int)(gmax < DW_GMAX ? gmax : DW_GMAX), p->nb * s->OH)));
    }
    return 1;
}

int rcl_conv_wino_plan_for(const rcl_conv_shape *s, int pass, int vw_max, int tile,
                           int budget_mb, uint64_t max_alloc, rcl_conv_wino_plan *p)
{
    if (s->KH != 3 || s->KW != 3 || s->S != 1) return 0;
    int dx = pass == RCL_CONV_DX;
    p->ci = dx ? s->OC : s->C;
    p->co = dx ? s->C : s->OC;
    int oh = dx ? s->H : s->OH, ow = dx ? s->W : s->OW;
    /* F(4x4, 3x3) (the forward and data gradient kernel, cl/conv_wino.cl conv_wino4)
     * where a row has at least 4 tiles of 4, and with 8-wide vectors more
     * than 4 (a row of 4 would leave half of each vector idle where
     * F(2x2, 3x3) fills it with 8 tiles) unless 16-wide vectors take 4
     * tile rows of 4 (resnet20's 16x16 maps: 0.7-0.8x the CPU time of
     * F(2x2) on 8 tiles of 2 rows, PoCL/AVX-512), else F(2x2, 3x3) */
    int t4 = (ow + 3) / 4;
    int rows4 = vw_max >= 16 && t4 == 4 && (oh + 3) / 4 >= 4;
    /* 2 x 2 tiles of 4 (outputs of 5 to 8 rows and columns: the CIFAR
     * nets' 8x8 maps) on 8- or 16-wide vectors: conv_wino4_img, the lanes
     * across vx/4 images */
    int f4 = tile == 4 && pass != RCL_CONV_DW;
    int img = f4 && vw_max >= 8 && t4 == 2 && (oh + 3) / 4 == 2;
    p->img = 0;
    p->m = f4 && (img || (t4 >= 4 && (vw_max < 8 || t4 > 4 || rows4))) ? 4 : 2;
    p->npos = (p->m + 2) * (p->m + 2);
    p->tt = (ow + p->m - 1) / p->m; /* tiles per row */
    p->th = (oh + p->m - 1) / p->m;
    int vmax = vw_max >= 16 ? 16 : vw_max >= 8 ? 8 : 4;
    p->rows = 1;
    if (img) {
        /* conv_wino4_img: RV as the other F(4x4) builds of the width */
        p->vx = vmax, p->rows = vmax == 16 ? 2 : 1, p->img = vmax / 4;
    } else if (p->m == 4) {
        /* conv_wino4: 4 or 8 tiles of one row; on 16-wide vectors 8 tiles
         * of two tile rows where a row has more than 4 tiles (resnet20's
         * 32x32 maps: 0.8x the CPU time of one row on 8-wide vectors;
         * rows of more than 8 tiles take several such vectors per row
         * pair, as one row did on 8-wide ones: resnet50's 56x56 maps,
         * forward 0.7-0.85x, data gradient 0.55-0.7x the time, docs/speed.md
         * "Session 31") and 4 of four (rows4) */
        if (vmax >= 16 && p->tt > 4 && p->th >= 2)
            p->vx = 16, p->rows = 2;
        else if (rows4)
            p->vx = 16, p->rows = 4;
        else
            p->vx = vmax >= 8 && p->tt > 4 ? 8 : 4;
    } else {
        /* F(2x2): the fewest of 4, 8, 16 tiles of a row that hold its
         * tiles, at most vmax; a vector's other lanes take the next tile
         * rows (up to the rows there are: 8-wide outputs on 16-wide
         * vectors, 4 tiles of 4 rows) */
        int hv = p->tt > 8 ? 16 : p->tt > 4 ? 8 : 4;
        if (hv > vmax) hv = vmax;
        int rv = vmax / hv;
        while (rv > 1 && rv > p->th) rv /= 2;
        p->vx = hv * rv, p->rows = rv;
    }
    int per_row = p->img ? 2 : p->vx / p->rows; /* tiles of one tile row per vector */
    p->twv = (p->tt + per_row - 1) / per_row;
    if (pass == RCL_CONV_DW) {
        /* conv_wino_dwf (conv2d_wino_dw.c) chunks its tiles itself; it
         * reads a window's columns from two vector loads at even columns,
         * which needs PW <= 1 */
        p->nb = s->N;
        return s->PW <= 1;
    }
    int CKK = s->C * 9, P = s->OH * s->OW;
    int nbg = rcl_conv_chunk_images(budget_mb, max_alloc, s->N, CKK, s->OC, P);
    uint64_t tmpf = (uint64_t)s->OC * nbg * P;
    /* F(4x4)'s buffers do not fit where F(2x2)'s may: try that instead.
     * Not for conv_wino4_img: at most 36 * 64 * 64 floats (576 KiB), and
     * its plan then holds for any batch (a small one, e.g. a micro-batch
     * of --accumulate or a rank's share, computes each image as a large
     * one does) */
#define WINO_NO_FIT \
    (p->m == 4 ? rcl_conv_wino_plan_for(s, pass, vw_max, 2, budget_mb, max_alloc, p) : 0)
    if (!p->img && (uint64_t)p->npos * s->C * s->OC > tmpf) return WINO_NO_FIT;
#undef WINO_NO_FIT
    /* a vector's lanes are tiles of one row: fewer than 4 would leave
     * lanes idle (resnet18's 2x2 and 4x4 maps ran slower than direct);
     * the kernels keep both the transformed input and the sums of every
     * output channel in private memory */
    if (p->ci > RCL_CONV_WINO_MAX_C || p->co > RCL_CONV_WINO_MAX_C || (p->tt < 4 && !p->img))
        return 0;
    p->nb = s->N; /* the kernels read the input itself: one launch */
    return 1;
}

int rcl_conv_wino_gemm_plan_for(const rcl_conv_shape *s, int pass, int tile, int budget_mb,
                                uint64_t max_alloc, rcl_conv_wino_plan *p)
{
    if (s->KH != 3 || s->KW != 3 || s->S != 1 || (pass != RCL_CONV_FWD && pass != RCL_CONV_DX) ||
        (tile != 2 && tile != 4))
        return 0;
    int dx = pass == RCL_CONV_DX;
    *p = (rcl_conv_wino_plan){0};
    p->ci = dx ? s->OC : s->C;
    p->co = dx ? s->C : s->OC;
    int oh = dx ? s->H : s->OH, ow = dx ? s->W : s->OW;
    p->th = (oh + tile - 1) / tile, p->tt = (ow + tile - 1) / tile;
    p->m = tile, p->npos = (tile + 2) * (tile + 2);
    int CKK = s->C * 9, P = s->OH * s->OW;
    int nbg = rcl_conv_chunk_images(budget_mb, max_alloc, s->N, CKK, s->OC, P);
    uint64_t colf = (uint64_t)CKK * nbg * P;
    /* U: npos/9 of the weights, within the budget and one allocation */
    uint64_t ub = (uint64_t)p->npos * p->ci * p->co * sizeof(float);
    if (ub > ((uint64_t)(budget_mb < 1 ? 1 : budget_mb) << 20) || (max_alloc && ub > max_alloc))
        return 0;
    uint64_t per = (uint64_t)p->npos * (p->ci + p->co) * p->th * p->tt;
    uint64_t nb = colf / per;
    if (nb < 1) return 0;
    if (nb > (uint64_t)s->N) nb = (uint64_t)s->N;
    /* the kernels index V (with up to RCL_CONV_WINO_PAD_TILES tiles of
     * padding to whole GEMM panels) and M with int */
    uint64_t pad = (uint64_t)p->npos * p->ci * RCL_CONV_WINO_PAD_TILES;
    if (pad >= (uint64_t)INT_MAX) return 0;
    if (nb > ((uint64_t)INT_MAX - pad) / per) nb = ((uint64_t)INT_MAX - pad) / per;
    if (nb < 1) return 0;
    int chunks = (int)(((uint64_t)s->N + nb - 1) / nb);
    p->nb = (s->N + chunks - 1) / chunks;
    return 1;
}

int rcl_conv_use_direct(const rcl_conv_shape *s, int pass, int mode, int max_c, int per_shape,
                        int vw_max, int budget_mb, uint64_t max_alloc)
{
    rcl_conv_direct_plan p;
    if (mode == RCL_CONV_PATH_GEMM ||
        !rcl_conv_direct_plan_for(s, pass, vw_max, budget_mb, max_alloc, 1, 0, &p))
        return 0;
    if (per_shape >= 0) return per_shape != 0;
    if (mode == RCL_CONV_PATH_DIRECT) return 1;
    return s->C <= max_c && s->OC <= max_c && s->OW >= 4 && (pass != RCL_CONV_DX || s->S == 1);
}
