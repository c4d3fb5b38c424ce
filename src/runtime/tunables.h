/* The table of tunable parameters declared in src/runtime/tunables.def:
 * one enum entry per parameter, its names, default and kernel file. The
 * context holds one value per entry (rcl_tun in runtime/internal.h), set to
 * the defaults when it is created and overwritten by the tune cache, so a
 * launch reads its parameters by index. */
#ifndef RCL_TUNABLES_H
#define RCL_TUNABLES_H

typedef enum rcl_tunable_id {
#define RCL_TUNABLE(id, key, param, def, file, search, tags, cands) RCL_TUN_##id,
#include "runtime/tunables.def"
#undef RCL_TUNABLE
    RCL_TUN_COUNT
} rcl_tunable_id;

typedef struct rcl_tunable_info {
    const char *key;    /* e.g. "bn_stats" */
    const char *param;  /* e.g. "BN_WG"; the kernel macro where file is set */
    int def;            /* default value */
    const char *file;   /* cl/ file that takes -D<param>, or NULL (host side) */
} rcl_tunable_info;

/* Indexed by rcl_tunable_id. */
extern const rcl_tunable_info rcl_tunables[RCL_TUN_COUNT];

/* conv.WINOGRAD on devices whose preferred float vector width is >= 4
 * (CPU drivers; rcl_ctx_create): Winograd for the forward pass, the data
 * gradient and the weight gradient (tunables.def; src/ops/conv2d_wino.c,
 * conv2d_wino_dw.c). The weight gradient's fused kernel cut resnet20's
 * weight-gradient time per step at batch 128 from 73-106 ms to 49 ms on
 * the 2-core AVX-512 PoCL VM (docs/speed.md "Session 21", bench --param). */
#define RCL_CONV_WINO_CPU_DEFAULT 2

/* conv.WINO_GEMM on the same devices: F(4x4, 3x3) in its GEMM form for
 * the 3x3 stride-1 convs on the im2col path (tunables.def). Measured on
 * CPU drivers only; elsewhere (GPUs, CLBlast's GEMMs) it stays 0 until a
 * tune cache says otherwise. */
#define RCL_CONV_WINO_GEMM_CPU_DEFAULT 4

/* conv_direct.WOCB on devices whose preferred float vector width is >= 16
 * (PoCL on AVX-512: 32 vector registers; rcl_ctx_create): 5 output channels
 * per weight-gradient work-item, 15 accumulator vectors + 5 of dy + 1 of x.
 * The table's 3 (9 + 3 + 1) was picked for AVX2's 16 registers; on a
 * 2-core AVX-512 EPYC (Zen 4) 5 took the resnet20 / resnet56 weight
 * gradient from 77-97 / 230-258 ms to 72-73 / 214-222 ms per batch-128
 * step (docs/speed.md). */
#define RCL_CONV_DIRECT_WOCB_W16 5

/* 1 for the tunables whose default a context sets per device (above; and
 * gemm DEFAULT_PATH and conv PATH, which are not tuned): the tuner's
 * baseline leaves them as the context set them (tune/tune_space.h
 * TUNE_KP_DEVICE), tries the table's default as a candidate, and writes a
 * winning candidate even where it equals the table's default */
#define RCL_TUN_DEVICE_DEFAULT(id)                                                  \
    ((id) == RCL_TUN_CONV_WINOGRAD || (id) == RCL_TUN_GEMM_DEFAULT_PATH ||          \
     (id) == RCL_TUN_CONV_DIRECT_WOCB || (id) == RCL_TUN_CONV_WINO_GEMM ||          \
     (id) == RCL_TUN_CONV_PATH)

/* The id of (key, param), or -1 when it is not in the table (the GEMM's
 * per-class entries, anything unknown). */
int rcl_tunable_find(const char *key, const char *param);

#endif
