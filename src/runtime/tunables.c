/* The tunable table (src/runtime/tunables.def). */
#include "runtime/tunables.h"

#include <stddef.h>
#include <string.h>

const rcl_tunable_info rcl_tunables[RCL_TUN_COUNT] = {
#define RCL_TUNABLE(id, key, param, def, file, search, tags, cands) \
    [RCL_TUN_##id] = {key, param, def, file},
#include "runtime/tunables.def"
#undef RCL_TUNABLE
};

int rcl_tunable_find(const char *key, const char *param)
{
    for (int i = 0; i < RCL_TUN_COUNT; i++)
        if (!strcmp(rcl_tunables[i].key, key) && !strcmp(rcl_tunables[i].param, param)) return i;
    return -1;
}
