/* Architectures: torchvision ResNet-18..152, the paper's CIFAR ResNet-
 * 20..110, their plain twins, and the course's one-block model. */
#include "model/model_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const ARCHS[] = {
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
    "plain18", "plain34", "plain50", "plain101", "plain152",
    "plain20", "plain32", "plain44", "plain56", "plain110",
    "basicblock", NULL};

const char *const *rcl_model_arch_names(void) { return ARCHS; }

int rcl_model_arch_known(const char *arch)
{
    for (int i = 0; arch && ARCHS[i]; i++)
        if (!strcmp(ARCHS[i], arch)) return 1;
    return 0;
}

/* torchvision layout: 7x7/2 stem, 3x3/2 max pool, four stages, avgpool, fc. */
static int build_imagenet_style(rcl_model *m, const int blocks[4], int bottleneck, shortcut_kind sc)
{
    const rcl_model_config *c = &m->cfg;
    RCL_TRY(rcl_module_stem_create(m, "conv1", "bn1", c->in_channels, 64, 7, 2, 3, c->in_h, c->in_w));
    int ch, h, w;
    rcl_model_out_shape(m, &ch, &h, &w);
    RCL_TRY(rcl_module_maxpool_create(m, "maxpool", 3, 2, 1, ch, h, w));
    static const int planes[4] = {64, 128, 256, 512};
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < blocks[s]; b++) {
            char name[32];
            snprintf(name, sizeof name, "layer%d.%d", s + 1, b);
            int stride = (b == 0 && s > 0) ? 2 : 1;
            rcl_model_out_shape(m, &ch, &h, &w);
            if (bottleneck)
                RCL_TRY(rcl_module_bottleneck_create(m, name, ch, planes[s], stride, sc, c->stride_on, h, w));
            else
                RCL_TRY(rcl_module_basic_create(m, name, ch, planes[s], stride, sc, h, w));
        }
    rcl_model_out_shape(m, &ch, &h, &w);
    RCL_TRY(rcl_module_avgpool_create(m, "avgpool", ch, h, w));
    return rcl_module_linear_create(m, "fc", ch, c->num_classes);
}

/* He et al. Sec. 4.2: 3x3 stem with 16 filters, three stages of n blocks
 * (16/32/64 filters, 32/16/8 maps), option-A shortcuts, avgpool, fc. */
static int build_cifar_style(rcl_model *m, int n, shortcut_kind sc)
{
    const rcl_model_config *c = &m->cfg;
    RCL_TRY(rcl_module_stem_create(m, "conv1", "bn1", c->in_channels, 16, 3, 1, 1, c->in_h, c->in_w));
    static const int planes[3] = {16, 32, 64};
    int ch, h, w;
    for (int s = 0; s < 3; s++)
        for (int b = 0; b < n; b++) {
            char name[32];
            snprintf(name, sizeof name, "layer%d.%d", s + 1, b);
            rcl_model_out_shape(m, &ch, &h, &w);
            RCL_TRY(rcl_module_basic_create(m, name, ch, planes[s], (b == 0 && s > 0) ? 2 : 1, sc, h, w));
        }
    rcl_model_out_shape(m, &ch, &h, &w);
    RCL_TRY(rcl_module_avgpool_create(m, "avgpool", ch, h, w));
    return rcl_module_linear_create(m, "fc", ch, c->num_classes);
}

/* The course's verification model: BasicBlock(3, 64) at the input size,
 * max pool 4, fc(64 * H/4 * W/4, classes). */
static int build_course_block(rcl_model *m)
{
    const rcl_model_config *c = &m->cfg;
    RCL_TRY(rcl_module_basic_create(m, "block", c->in_channels, 64, 1, SHORTCUT_IDENTITY_OR_PROJ,
                                c->in_h, c->in_w));
    int ch, h, w;
    rcl_model_out_shape(m, &ch, &h, &w);
    RCL_TRY(rcl_module_maxpool_create(m, "pool", 4, 4, 0, ch, h, w));
    rcl_model_out_shape(m, &ch, &h, &w);
    return rcl_module_linear_create(m, "fc", ch * h * w, c->num_classes);
}

int rcl_model_arch_build(rcl_model *m, const char *arch)
{
    static const struct {
        int depth, blocks[4], bottleneck;
    } tv[] = {{18, {2, 2, 2, 2}, 0}, {34, {3, 4, 6, 3}, 0}, {50, {3, 4, 6, 3}, 1},
              {101, {3, 4, 23, 3}, 1}, {152, {3, 8, 36, 3}, 1}};
    if (!strcmp(arch, "basicblock")) return build_course_block(m);
    int plain = !strncmp(arch, "plain", 5);
    const char *num = plain ? arch + 5 : (!strncmp(arch, "resnet", 6) ? arch + 6 : NULL);
    int depth = 0;
    if (num && sscanf(num, "%d", &depth) == 1) {
        char check[32];
        snprintf(check, sizeof check, "%s%d", plain ? "plain" : "resnet", depth);
        if (strcmp(check, arch)) depth = 0;
    }
    for (size_t i = 0; depth && i < sizeof tv / sizeof tv[0]; i++)
        if (tv[i].depth == depth)
            return build_imagenet_style(m, tv[i].blocks, tv[i].bottleneck,
                                        plain ? SHORTCUT_NONE : SHORTCUT_IDENTITY_OR_PROJ);
    if (depth >= 20 && depth <= 110 && (depth - 2) % 6 == 0 &&
        (depth == 20 || depth == 32 || depth == 44 || depth == 56 || depth == 110))
        return build_cifar_style(m, (depth - 2) / 6, plain ? SHORTCUT_NONE : SHORTCUT_OPTION_A);
    char list[512] = "";
    for (int i = 0; ARCHS[i]; i++) {
        strncat(list, ARCHS[i], sizeof list - strlen(list) - 1);
        if (ARCHS[i + 1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return rcl_fail(RCL_ERR_INVALID, "unknown model '%s' (known: %s)", arch, list);
}
