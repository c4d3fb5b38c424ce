/* The model options shared by the commands (see cli_model_opts.h). */
#include "tools/cli_model_opts.h"

#include <stdio.h>
#include <string.h>

int cli_model_opt(const cli_getopt *g, int val, rcl_model_config *cfg)
{
    rcl_norm_config *n = &cfg->norm;
    rcl_init_config *i = &cfg->init;
    switch (val) {
    case CLI_MO_NORM:
        if (rcl_norm_kind_parse(g->arg, &n->kind))
            return cli_getopt_bad(g, "bn, gn, ln, in, lrn, brn, ws or none");
        return 0;
    case CLI_MO_GROUPS: return cli_getopt_int(g, 1, 1 << 16, &n->groups);
    case CLI_MO_LRN_SIZE: return cli_getopt_int(g, 1, RCL_LRN_MAX_SIZE, &n->lrn.size);
    case CLI_MO_LRN_ALPHA: return cli_getopt_float(g, 0, 1, &n->lrn.alpha);
    case CLI_MO_LRN_BETA: return cli_getopt_float(g, 0, 1, &n->lrn.beta);
    case CLI_MO_LRN_K: return cli_getopt_float(g, 0, 0, &n->lrn.k);
    case CLI_MO_BRN_R_MAX: return cli_getopt_float(g, 1, 1, &n->brn_r_max);
    case CLI_MO_BRN_D_MAX: return cli_getopt_float(g, 0, 1, &n->brn_d_max);
    case CLI_MO_BRN_WARMUP: return cli_getopt_int(g, 0, 1 << 30, &n->brn_warmup);
    case CLI_MO_BRN_RAMP: return cli_getopt_int(g, 0, 1 << 30, &n->brn_ramp);
    case CLI_MO_INIT:
        if (rcl_init_scheme_parse(g->arg, &i->scheme))
            return cli_getopt_bad(g, "default, kaiming-normal, kaiming-uniform, xavier-normal, "
                                     "xavier-uniform or orthogonal");
        return 0;
    case CLI_MO_INIT_MODE:
        if (!strcmp(g->arg, "fan_in")) i->fan_out = 0;
        else if (!strcmp(g->arg, "fan_out")) i->fan_out = 1;
        else return cli_getopt_bad(g, "fan_in or fan_out");
        return 0;
    case CLI_MO_INIT_GAIN: return cli_getopt_float(g, 0, 0, &i->gain);
    case CLI_MO_ZERO_INIT_RESIDUAL: i->zero_init_residual = 1; return 0;
    default: return cli_getopt_bad(g, "a model option");
    }
}

void cli_model_describe(const rcl_model_config *cfg, char *buf, size_t cap)
{
    const rcl_norm_config *n = &cfg->norm;
    const rcl_init_config *i = &cfg->init;
    char norm[160], init[128];
    switch (n->kind) {
    case RCL_NORM_GN:
    case RCL_NORM_WS:
        snprintf(norm, sizeof norm, "%s (groups %d, eps %g)", rcl_norm_kind_name(n->kind),
                 n->groups, n->eps);
        break;
    case RCL_NORM_LRN:
        snprintf(norm, sizeof norm, "lrn (size %d, alpha %g, beta %g, k %g)", n->lrn.size,
                 n->lrn.alpha, n->lrn.beta, n->lrn.k);
        break;
    case RCL_NORM_BRN:
        snprintf(norm, sizeof norm, "brn (r_max %g, d_max %g, warm-up %d, ramp %d, momentum %g)",
                 n->brn_r_max, n->brn_d_max, n->brn_warmup, n->brn_ramp, n->momentum);
        break;
    case RCL_NORM_NONE: snprintf(norm, sizeof norm, "none (conv biases)"); break;
    case RCL_NORM_BN:
        snprintf(norm, sizeof norm, "bn (momentum %g, eps %g)", n->momentum, n->eps);
        break;
    default: snprintf(norm, sizeof norm, "%s (eps %g)", rcl_norm_kind_name(n->kind), n->eps);
    }
    int k = i->scheme == RCL_INIT_KAIMING_NORMAL || i->scheme == RCL_INIT_KAIMING_UNIFORM;
    snprintf(init, sizeof init, "%s%s", rcl_init_scheme_name(i->scheme),
             k ? (i->fan_out ? " fan_out" : " fan_in") : "");
    if (i->gain > 0) snprintf(init + strlen(init), sizeof init - strlen(init), " gain %g", i->gain);
    if (i->zero_init_residual)
        snprintf(init + strlen(init), sizeof init - strlen(init), ", zero-init-residual");
    snprintf(buf, cap, "norm %s, init %s", norm, init);
}
