/* The tuner's search spaces (see tune_space.h). */
#include "tune_space.h"

#include "base/base.h"
#include "gemm/gemm_params.h"
#include "runtime/tunables.h"

#include <stdlib.h>
#include <string.h>

/* ---- our kernel: the constraints are the kernel's own (rcl_gemm_tiled_valid)
 * plus a register budget: accumulators + loaded vectors within 32 vectors.
 * XA (op(A) packed first) and XB (op(B) packed first, 2, or staged in
 * local memory per k block, 3) are searched in the outer space only: the
 * dot form reads both in place. Where op(B) = B^T the tuner runs the outer
 * space's XB 0 as XB 1 (B transposed first). */
static int ours_valid(const int *v, int dot)
{
    rcl_gemm_tiled_params p = rcl_gemm_tiled_from_ints(v);
    if (!rcl_gemm_tiled_valid(&p, dot ? 0 : 1, dot ? 1 : 0)) return 0;
    int regs = dot ? p.mwi * p.nwi + p.mwi + p.nwi : p.mwi * (p.nwi / p.vw) + p.nwi / p.vw + 1;
    if (regs > 32) return 0;
    if (p.wgm * p.wgn > 256) return 0;
    return 1;
}
static int outer_valid(const int *v) { return ours_valid(v, 0); }
static int dot_valid(const int *v) { return ours_valid(v, 1); }

const tune_space TUNE_OURS_OUTER = {
    "ours.outer", 10,
    {{"MWI", 6, {1, 2, 3, 4, 6, 8}},
     {"NWI", 6, {4, 8, 16, 24, 32, 64}},
     {"VW", 4, {1, 4, 8, 16}},
     {"KU", 3, {1, 2, 4}},
     {"KB", 5, {0, 32, 64, 128, 256}},
     {"WGM", 5, {1, 2, 4, 8, 16}},
     {"WGN", 5, {1, 2, 4, 8, 16}},
     {"MS", 2, {1, 0}},
     {"XB", 3, {0, 2, 3}},
     {"XA", 2, {0, 1}}},
    outer_valid};

const tune_space TUNE_OURS_DOT = {
    "ours.dot", 10,
    {{"MWI", 5, {1, 2, 3, 4, 6}},
     {"NWI", 5, {1, 2, 3, 4, 6}},
     {"VW", 4, {1, 4, 8, 16}},
     {"KU", 3, {1, 2, 4}},
     {"KB", 4, {0, 256, 512, 1024}},
     {"WGM", 3, {1, 2, 4}},
     {"WGN", 4, {1, 4, 8, 16}},
     {"MS", 2, {1, 0}},
     {"XB", 1, {0}},
     {"XA", 1, {0}}},
    dot_valid};

/* ---- CLBlast: a curated Xgemm space (GEMMK=0: the 2-D register tiling of
 * GEMMK=1 is wrong before 1.6.3 unless MWG == NWG, and slow on CPUs) */
static int clblast_valid(const int *v)
{
    if (!rcl_xgemm_valid(v)) return 0;
    /* threads per work-group */
    int t = v[5] * v[8]; /* MDIMC * NDIMC */
    return t >= 16 && t <= 256;
}

const tune_space TUNE_CLBLAST = {
    "clblast", 17,
    {{"GEMMK", 1, {0}},
     {"KREG", 1, {1}},
     {"KWG", 2, {16, 32}},
     {"KWI", 2, {2, 8}},
     {"MDIMA", 2, {8, 16}},
     {"MDIMC", 2, {8, 16}},
     {"MWG", 3, {32, 64, 128}},
     {"NDIMB", 2, {8, 16}},
     {"NDIMC", 2, {8, 16}},
     {"NWG", 3, {32, 64, 128}},
     {"SA", 2, {0, 1}},
     {"SB", 2, {0, 1}},
     {"STRM", 1, {0}},
     {"STRN", 1, {0}},
     {"VWM", 4, {1, 2, 4, 8}},
     {"VWN", 4, {1, 2, 4, 8}},
     {"XGEMM_MIN_INDIRECT_SIZE", 4, {64, 128, 256, 512}}},
    clblast_valid};

/* The TUNED rows of src/runtime/tunables.def, in its order (the order the
 * tuner runs them in): names, default, tags and candidates all come from
 * that one declaration. */
#define RCL_TV(...) __VA_ARGS__
#define TUNE_ROW_TUNED(id, key, param, def, tags, ...)                                 \
    {key, param, tags, def, (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)),     \
     {__VA_ARGS__}, RCL_TUN_##id},
#define TUNE_ROW_FIXED(id, key, param, def, tags, ...)
#define TUNE_ROW(search, ...) TUNE_ROW_##search(__VA_ARGS__)
const tune_kparam TUNE_KPARAMS[] = {
#define RCL_TUNABLE(id, key, param, def, file, search, tags, cands) \
    TUNE_ROW(search, id, key, param, def, tags, cands)
#include "runtime/tunables.def"
#undef RCL_TUNABLE
};
const int TUNE_NKPARAMS = (int)(sizeof TUNE_KPARAMS / sizeof TUNE_KPARAMS[0]);

int tune_kparam_valid(const tune_kparam *kp, int v)
{
    size_t n = strlen(kp->param);
    int wg = n >= 2 && !strcmp(kp->param + n - 2, "WG");
    if (wg) return v >= 1 && (v & (v - 1)) == 0;
    switch (kp->id) {
    case RCL_TUN_CONV_PATH: return v >= 0 && v <= 2;
    case RCL_TUN_CONV_DIRECT_VW: return v == 4 || v == 8 || v == 16;
    case RCL_TUN_CONV_DIRECT_OCB: return v >= 1 && v <= 16;
    case RCL_TUN_CONV_DIRECT_WOCB: return v >= 1 && v <= 6;
    case RCL_TUN_CONV_DIRECT_WSPLIT: return v == 0 || v == 1;
    case RCL_TUN_CONV_WINOGRAD: return v >= 0 && v <= 2;
    case RCL_TUN_CONV_WINO_GEMM: return v == 0 || v == 1 || v == 2 || v == 4; /* tile; 1 = 2 */
    case RCL_TUN_CONV_DENSE:
    case RCL_TUN_CONV_FWD_STORE: return v == 0 || v == 1;
    case RCL_TUN_GEMM_IMAGES_B: return v >= 0 && v <= 2;
    case RCL_TUN_CONV_WINO_OCB: return v >= 1 && v <= 16;
    case RCL_TUN_CONV_WINO_TILE: return v == 2 || v == 4;
    case RCL_TUN_CONV_WINO_VX: return v == 0 || v == 4 || v == 8 || v == 16; /* 0: the device's */
    case RCL_TUN_CONV_WINO_PF: return v >= 0 && v <= 8; /* channels ahead; 0 off */
    case RCL_TUN_CONV_WINO_YT: return v == 0 || v == 1 || v == 4 || v == 8 || v == 16; /* 0: the device's */
    case RCL_TUN_ADAM_VEC:
    case RCL_TUN_SGD_VEC: return v == 1 || v == 4 || v == 8 || v == 16;
    case RCL_TUN_IM2COL_PANELS:
    case RCL_TUN_IM2COL_WPANELS:
    case RCL_TUN_CONV_IMAGE_GEMM_P: return v >= 0; /* output pixels per image; 0 off */
    case RCL_TUN_CONV_CHUNK_KB: return v >= 0; /* 0: no cap */
    case RCL_TUN_STREAM_MIN_KB: return v >= 0; /* 0: never stream */
    default: return v >= 1;
    }
}

int tune_points_have(const int *pts, int n, int np, const int *v)
{
    for (int j = 0; j < n; j++)
        if (!memcmp(pts + (size_t)j * np, v, sizeof(int) * (size_t)np)) return 1;
    return 0;
}

double tune_space_size(const tune_space *s)
{
    double n = 1;
    for (int i = 0; i < s->nparams; i++) n *= s->params[i].nvalues;
    return n;
}

static void point_of(const tune_space *s, uint64_t idx, int *v)
{
    for (int i = s->nparams - 1; i >= 0; i--) {
        const tune_param *p = &s->params[i];
        v[i] = p->values[idx % (uint64_t)p->nvalues];
        idx /= (uint64_t)p->nvalues;
    }
}

int tune_space_points(const tune_space *s, int *out, int cap, uint64_t seed)
{
    double total = tune_space_size(s);
    int np = s->nparams, n = 0;
    int v[TUNE_MAX_PARAMS];
    /* count valid points when the grid is small enough to walk */
    if (total <= 2e6) {
        int valid = 0;
        for (uint64_t i = 0; i < (uint64_t)total; i++) {
            point_of(s, i, v);
            valid += s->valid(v);
        }
        if (valid <= cap) {
            for (uint64_t i = 0; i < (uint64_t)total; i++) {
                point_of(s, i, v);
                if (s->valid(v)) memcpy(out + (size_t)n++ * np, v, sizeof(int) * (size_t)np);
            }
            return n;
        }
    }
    /* random sample without repeats */
    uint64_t st = seed;
    for (long tries = 0; n < cap && tries < 200L * cap; tries++) {
        uint64_t idx = rcl_splitmix64_next(&st) % (uint64_t)total;
        point_of(s, idx, v);
        if (!s->valid(v) || tune_points_have(out, n, np, v)) continue;
        memcpy(out + (size_t)n++ * np, v, sizeof(int) * (size_t)np);
    }
    return n;
}

int tune_space_around(const tune_space *s, const int *base, int *out, int cap, uint64_t seed)
{
    int np = s->nparams, n = 0;
    int v[TUNE_MAX_PARAMS];
    if (cap < 1) return 0;
    memcpy(out, base, sizeof(int) * (size_t)np);
    n = 1;
    for (int i = 0; i < np && n < cap; i++)
        for (int k = 0; k < s->params[i].nvalues && n < cap; k++) {
            memcpy(v, base, sizeof(int) * (size_t)np);
            v[i] = s->params[i].values[k];
            if (v[i] == base[i] || !s->valid(v) || tune_points_have(out, n, np, v)) continue;
            memcpy(out + (size_t)n++ * np, v, sizeof(int) * (size_t)np);
        }
    if (n >= cap) return n;
    int *rnd = malloc(sizeof(int) * (size_t)np * (size_t)cap);
    if (!rnd) return n;
    int nr = tune_space_points(s, rnd, cap, seed);
    for (int j = 0; j < nr && n < cap; j++)
        if (!tune_points_have(out, n, np, rnd + (size_t)j * np))
            memcpy(out + (size_t)n++ * np, rnd + (size_t)j * np, sizeof(int) * (size_t)np);
    free(rnd);
    return n;
}

int tune_pick(int ncand, int nm, const double *tdef, const double *t, const int *st,
              double margin, double *score)
{
    int best = -1;
    double best_score = 1.0;
    for (int c = 0; c < ncand; c++) {
        double rsum = 0;
        int used = 0, ok = 1;
        for (int m = 0; m < nm && ok; m++) {
            if (tdef[m] < 0) continue;
            if (st[c * nm + m] != 0) ok = 0;
            else if (tdef[m] > 0) rsum += t[c * nm + m] / tdef[m], used++;
        }
        if (ok && used && rsum / used < margin * best_score) best = c, best_score = rsum / used;
    }
    if (score) *score = best_score;
    return best;
}

int tune_kparam_points(int *pts, int *owner, int nk, int cap, int skip_norm)
{
    if (cap < 1 || nk < 0 || nk > TUNE_NKPARAMS) return 0;
    int np = 1;
    for (int k = 0; k < nk; k++)
        pts[k] = RCL_TUN_DEVICE_DEFAULT(TUNE_KPARAMS[k].id) ? TUNE_KP_DEVICE : TUNE_KPARAMS[k].def;
    owner[0] = -1;
    for (int k = 0; k < nk; k++) {
        const tune_kparam *kp = &TUNE_KPARAMS[k];
        const char *kt = kp->tags;
        if (skip_norm && kt && (strstr(kt, "norm") || !strcmp(kt, "relu"))) continue;
        int dev = RCL_TUN_DEVICE_DEFAULT(kp->id);
        for (int j = -dev; j < kp->nvalues && np < cap; j++) {
            int v = j < 0 ? kp->def : kp->values[j];
            if (!tune_kparam_valid(kp, v)) continue;
            memcpy(pts + (size_t)np * nk, pts, (size_t)nk * sizeof(int));
            pts[(size_t)np * nk + k] = v;
            owner[np++] = k;
        }
    }
    return np;
}
