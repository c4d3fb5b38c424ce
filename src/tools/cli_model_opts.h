/* The model options shared by `resnet-cl train`, `summary`, `bench` and
 * `resnet-cl-tune`: normalization and initialization. A command puts
 * CLI_MODEL_OPTIONS into its `struct option` table and hands every val
 * from CLI_MO_FIRST on to cli_model_opt. */
#ifndef RCL_CLI_MODEL_OPTS_H
#define RCL_CLI_MODEL_OPTS_H

#include "tools/cli_parse.h"
#include "rcl/model.h"

enum {
    CLI_MO_FIRST = 1000,
    CLI_MO_NORM = CLI_MO_FIRST, CLI_MO_GROUPS, CLI_MO_LRN_SIZE, CLI_MO_LRN_ALPHA, CLI_MO_LRN_BETA,
    CLI_MO_LRN_K, CLI_MO_BRN_R_MAX, CLI_MO_BRN_D_MAX, CLI_MO_BRN_WARMUP, CLI_MO_BRN_RAMP,
    CLI_MO_INIT, CLI_MO_INIT_MODE, CLI_MO_INIT_GAIN, CLI_MO_ZERO_INIT_RESIDUAL,
    CLI_MO_LAST
};

#define CLI_MODEL_OPTIONS                                                       \
    {"norm", required_argument, NULL, CLI_MO_NORM},                             \
    {"groups", required_argument, NULL, CLI_MO_GROUPS},                         \
    {"lrn-size", required_argument, NULL, CLI_MO_LRN_SIZE},                     \
    {"lrn-alpha", required_argument, NULL, CLI_MO_LRN_ALPHA},                   \
    {"lrn-beta", required_argument, NULL, CLI_MO_LRN_BETA},                     \
    {"lrn-k", required_argument, NULL, CLI_MO_LRN_K},                           \
    {"brn-r-max", required_argument, NULL, CLI_MO_BRN_R_MAX},                   \
    {"brn-d-max", required_argument, NULL, CLI_MO_BRN_D_MAX},                   \
    {"brn-warmup", required_argument, NULL, CLI_MO_BRN_WARMUP},                 \
    {"brn-ramp", required_argument, NULL, CLI_MO_BRN_RAMP},                     \
    {"init", required_argument, NULL, CLI_MO_INIT},                             \
    {"init-mode", required_argument, NULL, CLI_MO_INIT_MODE},                   \
    {"init-gain", required_argument, NULL, CLI_MO_INIT_GAIN},                   \
    {"zero-init-residual", no_argument, NULL, CLI_MO_ZERO_INIT_RESIDUAL}

#define CLI_MODEL_OPTIONS_HELP                                                                   \
    "  --norm KIND          normalization after every conv: bn (default), gn, ln, in, lrn,\n"   \
    "                       brn, ws (weight standardization + gn), none (conv biases)\n"         \
    "  --groups G           gn/ws groups (default 32; the largest divisor of C not above G)\n"   \
    "  --lrn-size N, --lrn-alpha A, --lrn-beta B, --lrn-k K\n"                                   \
    "                       LocalResponseNorm (default 5, 1e-4, 0.75, 1)\n"                      \
    "  --brn-r-max R, --brn-d-max D, --brn-warmup S, --brn-ramp S\n"                             \
    "                       Batch Renorm clips after the ramp (default 3, 5); r_max 1, d_max 0\n" \
    "                       for the first S warm-up steps (5000), then linear over S steps (20000)\n" \
    "  --init SCHEME        default (torchvision), kaiming-normal, kaiming-uniform,\n"           \
    "                       xavier-normal, xavier-uniform, orthogonal\n"                         \
    "  --init-mode M        kaiming fan: fan_in (default) or fan_out\n"                          \
    "  --init-gain G        gain (default: sqrt(2) for kaiming, 1 for xavier and orthogonal)\n"   \
    "  --zero-init-residual the last norm gamma of every residual branch starts at 0\n"

/* Apply option `val` (its value in g->arg) to cfg: 0, or 2 after printing a
 * bad value. */
int cli_model_opt(const cli_getopt *g, int val, rcl_model_config *cfg);

/* One line describing cfg's normalization and initialization, e.g.
 * "norm gn (groups 32, eps 1e-05), init default". */
void cli_model_describe(const rcl_model_config *cfg, char *buf, size_t cap);

#endif
