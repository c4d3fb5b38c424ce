/* The range of cl/batchnorm.cl's plane kernels, shared by batchnorm.c and
 * batchrenorm.c (which launches bn_plane_stats / bn_bwd_plane). */
#ifndef RCL_BATCHNORM_PLANE_H
#define RCL_BATCHNORM_PLANE_H

#include <stddef.h>

/* At least this many floats per work-item: a plane of 1 or 4 floats (the
 * 1x1 and 2x2 maps of the course nets' last stages) per work-item cost
 * more in set-up than in reading */
#define RCL_BN_PLANE_SPAN 256

/* g, l: dimension 0 blocks of the returned cpi channels (cpi * HW >=
 * RCL_BN_PLANE_SPAN where C allows; work-groups of wg blocks), dimension 1
 * the N images */
int rcl_bn_plane_range(int N, int C, int HW, size_t wg, size_t g[2], size_t l[2]);

/* batchnorm.c's per-channel kernels (bn_chan_*): planes of at least this
 * many floats, at least this many channels a compute unit */
#define RCL_BN_CHAN_MIN_HW 32
#define RCL_BN_CHAN_PER_CU 4

struct rcl_ctx;
/* 1 where BatchNorm of C channels on planes of HW floats runs the
 * per-channel kernels (src/ops/batchnorm.c) */
int rcl_bn_chan_use(const struct rcl_ctx *ctx, int C, int HW);

#endif
