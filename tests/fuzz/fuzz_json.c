/* libFuzzer target: the JSON parser alone (src/io/json.c), on an exact-size
 * copy of the input (no terminating NUL, so that ASan sees any overread). */
#include "fuzz_util.h"
#include "io/json.h"

static size_t walk(const json_value *v, int depth)
{
    size_t n = 1;
    if (depth > JSON_MAX_DEPTH + 1) abort(); /* the parser promised a limit */
    switch (v->kind) {
    case JSON_OBJECT:
        for (size_t i = 0; i < v->n; i++) {
            const json_member *m = &v->u.members[i];
            if (strlen(m->key) != m->key_len) abort();
            if (rcl_json_get(v, m->key) != &m->value) abort(); /* keys are unique */
            n += walk(&m->value, depth + 1);
        }
        break;
    case JSON_ARRAY:
        for (size_t i = 0; i < v->n; i++) n += walk(&v->u.items[i], depth + 1);
        break;
    case JSON_STRING:
        if (strlen(v->u.str) != v->n || !rcl_json_utf8_valid(v->u.str, v->n)) abort();
        break;
    case JSON_INT: break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text) return 0;
    memcpy(text, data, size);
    json_value v;
    json_error err;
    int rc = rcl_json_parse(text, size, &v, &err);
    if (rc == 0) {
        walk(&v, 0);
        rcl_json_free(&v);
    } else if (rc == -1 && (!err.msg || err.pos > size)) {
        abort(); /* an error names what and where */
    }
    (void)rcl_json_utf8_valid((const char *)data, size);
    /* the writer side: a string escaped and parsed back */
    if (size < 4096) {
        char *s = malloc(size + 1);
        if (s) {
            memcpy(s, data, size);
            s[size] = 0;
            json_buf b = {0};
            rcl_json_buf_string(&b, s);
            if (!b.oom && b.p && rcl_json_utf8_valid(s, strlen(s))) {
                json_value w;
                json_error we;
                int wr = rcl_json_parse(b.p, b.len, &w, &we);
                if (wr == -1) abort(); /* what the writer escapes, the parser reads */
                if (wr == 0) {
                    if (w.kind != JSON_STRING || strcmp(w.u.str, s)) abort(); /* round trip */
                    rcl_json_free(&w);
                }
            }
            rcl_json_buf_free(&b);
            free(s);
        }
    }
    free(text);
    return 0;
}
