/* Save and restore an environment variable around a test's changes. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tu_env_save(tu_env *e, const char *name)
{
    const char *v = getenv(name);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->set = v != NULL;
    snprintf(e->value, sizeof e->value, "%s", v ? v : "");
}

void tu_env_restore(const tu_env *e)
{
    if (e->set) assert_int_equal(setenv(e->name, e->value, 1), 0);
    else assert_int_equal(unsetenv(e->name), 0);
}
