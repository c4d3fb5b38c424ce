/* Small strict JSON parser and writer helpers (see json.h). */
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
    char *s;
    size_t len, i;
    int depth;
    int oom;
    json_error *err;
} parser;

static int fail(parser *p, const char *msg, size_t pos)
{
    if (p->err && !p->err->msg) {
        p->err->msg = msg;
        p->err->pos = pos;
    }
    return -1;
}

static int oom(parser *p)
{
    p->oom = 1;
    return fail(p, "out of memory", p->i);
}

static void skip_ws(parser *p)
{
    while (p->i < p->len) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the well-formed UTF-8 sequence at s[0..avail) (Unicode table
 * 3-7: no overlongs, no surrogates, max U+10FFFF), or 0 if ill-formed. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (avail < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return n;
}

int rcl_json_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t k = utf8_seq((const unsigned char *)s + i, len - i);
        if (k == 0) return 0;
        i += k;
    }
    return 1;
}

static size_t utf8_encode(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Four hex digits at s[i..i+4) -> *cp. */
static int read_hex4(parser *p, size_t i, uint32_t *cp)
{
    if (i > p->len || p->len - i < 4) return fail(p, "truncated \\u escape", i);
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hex_val(p->s[i + (size_t)k]);
        if (h < 0) return fail(p, "invalid hex digit in \\u escape", i + (size_t)k);
        v = v * 16 + (uint32_t)h;
    }
    *cp = v;
    return 0;
}

/* p->s[p->i] == '"'. Decodes in place: every escape is at least as long as
 * its UTF-8 encoding, so the write position never passes the read position
 * and the NUL fits where the closing quote was. */
static int parse_string(parser *p, char **out, size_t *out_len)
{
    size_t open = p->i;
    size_t start = ++p->i, w = start;
    for (;;) {
        if (p->i >= p->len) return fail(p, "unterminated string", open);
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->s[w] = '\0';
            *out = p->s + start;
            *out_len = w - start;
            p->i++;
            return 0;
        }
        if (c < 0x20) return fail(p, "control character in string", p->i);
        if (c == '\\') {
            size_t esc = p->i;
            if (p->i + 1 >= p->len) return fail(p, "unterminated string", open);
            char e = p->s[p->i + 1];
            p->i += 2;
            switch (e) {
            case '"': p->s[w++] = '"'; break;
            case '\\': p->s[w++] = '\\'; break;
            case '/': p->s[w++] = '/'; break;
            case 'b': p->s[w++] = '\b'; break;
            case 'f': p->s[w++] = '\f'; break;
            case 'n': p->s[w++] = '\n'; break;
            case 'r': p->s[w++] = '\r'; break;
            case 't': p->s[w++] = '\t'; break;
            case 'u': {
                uint32_t cp;
                if (read_hex4(p, p->i, &cp)) return -1;
                p->i += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(p, "lone low surrogate", esc);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (p->len - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                        return fail(p, "high surrogate not followed by \\u low surrogate", esc);
                    if (read_hex4(p, p->i + 2, &lo)) return -1;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return fail(p, "high surrogate not followed by a low surrogate", esc);
                    p->i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) return fail(p, "\\u0000 in string not supported", esc);
                w += utf8_encode(p->s + w, cp);
                break;
            }
            default: return fail(p, "invalid escape in string", esc);
            }
        } else {
            size_t k = utf8_seq((const unsigned char *)p->s + p->i, p->len - p->i);
            if (k == 0) return fail(p, "invalid UTF-8 in string", p->i);
            memmove(p->s + w, p->s + p->i, k);
            w += k;
            p->i += k;
        }
    }
}

static int parse_int(parser *p, json_value *v)
{
    v->kind = JSON_INT;
    v->u.num.neg = 0;
    v->u.num.mag = 0;
    if (p->s[p->i] == '-') {
        v->u.num.neg = 1;
        p->i++;
    }
    if (p->i >= p->len || !is_digit(p->s[p->i])) return fail(p, "invalid number", v->pos);
    if (p->s[p->i] == '0') {
        p->i++;
        if (p->i < p->len && is_digit(p->s[p->i]))
            return fail(p, "number with a leading zero", v->pos);
    } else {
        uint64_t m = 0;
        while (p->i < p->len && is_digit(p->s[p->i])) {
            unsigned d = (unsigned)(p->s[p->i] - '0');
            if (m > (UINT64_MAX - d) / 10) return fail(p, "integer too large", v->pos);
            m = m * 10 + d;
            p->i++;
        }
        v->u.num.mag = m;
    }
    if (p->i < p->len) {
        char c = p->s[p->i];
        if (c == '.' || c == 'e' || c == 'E')
            return fail(p, "non-integer number not allowed", v->pos);
    }
    return 0;
}

static int parse_value(parser *p, json_value *v);

static int key_cmp(const void *a, const void *b)
{
    const json_member *x = *(const json_member *const *)a, *y = *(const json_member *const *)b;
    return strcmp(x->key, y->key);
}

static int check_duplicates(parser *p, const json_value *v)
{
    if (v->n < 2) return 0;
    if (v->n == 2)
        return strcmp(v->u.members[0].key, v->u.members[1].key) == 0
                   ? fail(p, "duplicate key in object", v->u.members[1].value.pos)
                   : 0;
    json_member **idx = malloc(v->n * sizeof *idx);
    if (!idx) return oom(p);
    for (size_t k = 0; k < v->n; k++) idx[k] = &v->u.members[k];
    qsort(idx, v->n, sizeof *idx, key_cmp);
    int rc = 0;
    for (size_t k = 1; k < v->n && !rc; k++)
        if (strcmp(idx[k - 1]->key, idx[k]->key) == 0)
            rc = fail(p, "duplicate key in object",
                      (idx[k - 1] > idx[k] ? idx[k - 1] : idx[k])->value.pos);
    free(idx);
    return rc;
}

static int parse_object(parser *p, json_value *v)
{
    size_t cap = 0;
    v->kind = JSON_OBJECT;
    p->i++;
    skip_ws(p);
    if (p->i < p->len && p->s[p->i] == '}') {
        p->i++;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (p->i >= p->len) return fail(p, "unterminated object", v->pos);
        if (p->s[p->i] != '"') return fail(p, "expected a string key", p->i);
        if (v->n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            json_member *m = realloc(v->u.members, nc * sizeof *m);
            if (!m) return oom(p);
            v->u.members = m;
            cap = nc;
        }
        json_member *m = &v->u.members[v->n++];
        memset(m, 0, sizeof *m);
        if (parse_string(p, &m->key, &m->key_len)) return -1;
        skip_ws(p);
        if (p->i >= p->len || p->s[p->i] != ':') return fail(p, "expected ':' after key", p->i);
        p->i++;
        skip_ws(p);
        if (parse_value(p, &m->value)) return -1;
        skip_ws(p);
        if (p->i >= p->len) return fail(p, "unterminated object", v->pos);
        if (p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->s[p->i] == '}') {
            p->i++;
            return check_duplicates(p, v);
        }
        return fail(p, "expected ',' or '}' in object", p->i);
    }
}

static int parse_array(parser *p, json_value *v)
{
    size_t cap = 0;
    v->kind = JSON_ARRAY;
    p->i++;
    skip_ws(p);
    if (p->i < p->len && p->s[p->i] == ']') {
        p->i++;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (v->n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            json_value *it = realloc(v->u.items, nc * sizeof *it);
            if (!it) return oom(p);
            v->u.items = it;
            cap = nc;
        }
        json_value *it = &v->u.items[v->n++];
        memset(it, 0, sizeof *it);
        if (parse_value(p, it)) return -1;
        skip_ws(p);
        if (p->i >= p->len) return fail(p, "unterminated array", v->pos);
        if (p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->s[p->i] == ']') {
            p->i++;
            return 0;
        }
        return fail(p, "expected ',' or ']' in array", p->i);
    }
}

static int parse_value(parser *p, json_value *v)
{
    memset(v, 0, sizeof *v);
    v->pos = p->i;
    if (p->i >= p->len) return fail(p, "unexpected end of input", p->i);
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        if (++p->depth > JSON_MAX_DEPTH) return fail(p, "nesting too deep", p->i);
        int rc = c == '{' ? parse_object(p, v) : parse_array(p, v);
        p->depth--;
        return rc;
    }
    if (c == '"') {
        v->kind = JSON_STRING;
        return parse_string(p, &v->u.str, &v->n);
    }
    if (c == '-' || is_digit(c)) return parse_int(p, v);
    if (c == 't' || c == 'f' || c == 'n')
        return fail(p, "true/false/null not allowed here", p->i);
    return fail(p, "unexpected character", p->i);
}

int rcl_json_parse(char *text, size_t len, json_value *out, json_error *err)
{
    parser p = {text, len, 0, 0, 0, err};
    if (err) {
        err->msg = NULL;
        err->pos = 0;
    }
    skip_ws(&p);
    int rc = parse_value(&p, out);
    if (!rc) {
        skip_ws(&p);
        if (p.i != p.len) rc = fail(&p, "trailing characters after JSON value", p.i);
    }
    if (rc) {
        rcl_json_free(out);
        return p.oom ? -2 : -1;
    }
    return 0;
}

void rcl_json_free(json_value *v)
{
    if (!v) return;
    if (v->kind == JSON_OBJECT) {
        for (size_t k = 0; k < v->n; k++) rcl_json_free(&v->u.members[k].value);
        free(v->u.members);
    } else if (v->kind == JSON_ARRAY) {
        for (size_t k = 0; k < v->n; k++) rcl_json_free(&v->u.items[k]);
        free(v->u.items);
    }
    memset(v, 0, sizeof *v);
}

const json_value *rcl_json_get(const json_value *obj, const char *key)
{
    if (!obj || obj->kind != JSON_OBJECT) return NULL;
    for (size_t k = 0; k < obj->n; k++)
        if (strcmp(obj->u.members[k].key, key) == 0) return &obj->u.members[k].value;
    return NULL;
}

/* ---- writing */

static void buf_put(json_buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) {
            if (nc > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            nc *= 2;
        }
        char *q = realloc(b->p, nc);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void rcl_json_buf_puts(json_buf *b, const char *s) { buf_put(b, s, strlen(s)); }

void rcl_json_buf_u64(json_buf *b, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_put(b, tmp + n, sizeof tmp - n);
}

void rcl_json_buf_string(json_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    buf_put(b, "\"", 1);
    size_t run = 0;   /* pending bytes copied verbatim */
    for (size_t i = 0;; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '\0' && c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        buf_put(b, s + i - run, run);
        run = 0;
        if (c == '\0') break;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            n = 6;
        }
        buf_put(b, esc, n);
    }
    buf_put(b, "\"", 1);
}

void rcl_json_buf_free(json_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
