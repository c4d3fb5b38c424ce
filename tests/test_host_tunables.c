/* The tunable table (src/runtime/tunables.def) against the kernels: every
 * entry with a kernel file names a macro that file takes from the host
 * (#ifndef NAME / #error, no literal default anywhere in cl/), and every
 * such macro of cl/ is in the table, so the table's default is the only
 * default a kernel can compile with. No device needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gemm/gemm_internal.h"
#include "runtime/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define HOST_MARK "is passed by the host: src/runtime/tunables.def"

static void test_table(void **state)
{
    (void)state;
    rcl_param_entry probe;
    for (int i = 0; i < RCL_TUN_COUNT; i++) {
        const rcl_tunable_info *t = &rcl_tunables[i];
        assert_non_null(t->key);
        assert_non_null(t->param);
        assert_true(t->key[0] && t->param[0]);
        assert_true(strlen(t->key) < sizeof probe.key && strlen(t->param) < sizeof probe.param);
        assert_int_equal(rcl_tunable_find(t->key, t->param), i); /* unique names */
        if (t->file) assert_non_null(rcl_cl_source_find(t->file));
    }
    assert_int_equal(rcl_tunable_find("gemm.NN_m6_n12_k9", "MWI"), -1);
    assert_int_equal(rcl_tunable_find("relu", "MWI"), -1);
    assert_int_equal(rcl_tunables[RCL_TUN_GEMM_DEFAULT_PATH].def, RCL_GEMM_CLBLAST);
}

/* Does `text` hold "#define NAME" (NAME a whole word)? */
static int defines(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(text, "#define"); p; p = strstr(p + 1, "#define")) {
        const char *q = p + 7;
        while (*q == ' ' || *q == '\t') q++;
        if (!strncmp(q, name, n) && !(isalnum((unsigned char)q[n]) || q[n] == '_')) return 1;
    }
    return 0;
}

/* Does `text` hold "#ifndef NAME" followed by an #error line naming the table? */
static int requires_from_host(const char *text, const char *name)
{
    char want[96];
    snprintf(want, sizeof want, "#ifndef %s\n#error \"%s ", name, name);
    const char *p = strstr(text, want);
    if (!p) return 0;
    const char *eol = strchr(p + strlen(want), '\n');
    const char *mark = strstr(p, HOST_MARK);
    return mark && eol && mark < eol;
}

static void test_kernels_take_table_values(void **state)
{
    (void)state;
    const char *common = rcl_cl_source_find("common.h")->text;
    for (int i = 0; i < RCL_TUN_COUNT; i++) {
        const rcl_tunable_info *t = &rcl_tunables[i];
        if (!t->file) continue;
        const char *text = rcl_cl_source_find(t->file)->text;
        if (!requires_from_host(text, t->param))
            fail_msg("cl/%s does not require %s from the host (tunable %s %s)", t->file,
                     t->param, t->key, t->param);
        if (defines(text, t->param) || defines(common, t->param))
            fail_msg("cl/%s or common.h defines %s: the default is the table's (%d)", t->file,
                     t->param, t->def);
    }
}

/* The other way round: every macro a cl/ file requires from the host is a
 * table entry of that file. */
static void test_table_covers_kernels(void **state)
{
    (void)state;
    int seen = 0;
    for (const rcl_cl_source *s = rcl_cl_source_list(); s->name; s++) {
        for (const char *p = strstr(s->text, HOST_MARK); p; p = strstr(p + 1, HOST_MARK)) {
            const char *l = p;
            while (l > s->text && l[-1] != '\n') l--;
            char name[32];
            assert_int_equal(sscanf(l, "#error \"%31[A-Z_0-9]", name), 1);
            int found = 0;
            for (int i = 0; i < RCL_TUN_COUNT; i++)
                found |= rcl_tunables[i].file && !strcmp(rcl_tunables[i].file, s->name) &&
                         !strcmp(rcl_tunables[i].param, name);
            if (!found) fail_msg("cl/%s requires %s: not in runtime/tunables.def", s->name, name);
            seen++;
        }
    }
    assert_true(seen >= 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_kernels_take_table_values),
        cmocka_unit_test(test_table_covers_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
