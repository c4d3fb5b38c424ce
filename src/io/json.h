/* Small strict JSON parser (internal): just what safetensors headers need.
 *
 * Accepted: objects, arrays, strings (all escapes, \uXXXX incl. surrogate
 * pairs decoded to UTF-8; raw bytes must be valid UTF-8) and integers
 * (-?(0|[1-9][0-9]*), magnitude < 2^64). Rejected as malformed/unsupported:
 * fractions, exponents, true/false/null, control characters in strings,
 * lone surrogates, U+0000 in strings (keys and values are C strings),
 * duplicate keys in an object, nesting deeper than JSON_MAX_DEPTH, and
 * anything but whitespace after the top-level value. */
#ifndef RCL_JSON_H
#define RCL_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

typedef enum json_kind { JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_INT } json_kind;

typedef struct json_member json_member;

typedef struct json_value {
    json_kind kind;
    size_t n;               /* object: members; array: items; string: bytes (no NUL) */
    union {
        json_member *members;       /* JSON_OBJECT, in document order */
        struct json_value *items;   /* JSON_ARRAY */
        char *str;                  /* JSON_STRING: NUL-terminated, points into the text */
        struct { int neg; uint64_t mag; } num;   /* JSON_INT: value = (neg ? -1 : 1) * mag */
    } u;
    size_t pos;             /* byte offset of the value in the text (for messages) */
} json_value;

struct json_member {
    char *key;              /* NUL-terminated, points into the text */
    size_t key_len;
    json_value value;
};

typedef struct json_error {
    const char *msg;        /* static string describing the problem */
    size_t pos;             /* byte offset in the text */
} json_error;

/* Parse text[0..len) into *out. Strings are decoded in place, so `text` is
 * modified and must outlive *out. Returns 0 on success; -1 on malformed
 * input (err filled, *out left empty) and -2 when out of memory. */
int rcl_json_parse(char *text, size_t len, json_value *out, json_error *err);

/* Free what rcl_json_parse allocated (not the text). Safe on a zeroed value. */
void rcl_json_free(json_value *v);

/* Member `key` of an object, or NULL. */
const json_value *rcl_json_get(const json_value *obj, const char *key);

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs/surrogates), else 0. */
int rcl_json_utf8_valid(const char *s, size_t len);

/* Growable output buffer, always NUL-terminated once non-empty; `oom` is set
 * (and further output dropped) when an allocation fails. Zero-initialise. */
typedef struct json_buf {
    char *p;
    size_t len, cap;
    int oom;
} json_buf;
void rcl_json_buf_puts(json_buf *b, const char *s);
void rcl_json_buf_u64(json_buf *b, uint64_t v);
/* A quoted JSON string, escaped like serde_json ("\\", "\"", \b \f \n \r \t,
 * other control characters as \u00xx; everything else verbatim). */
void rcl_json_buf_string(json_buf *b, const char *s);
void rcl_json_buf_free(json_buf *b);

#endif
