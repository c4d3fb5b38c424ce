/* Tune cache files (format in include/rcl/tune_cache.h). */
#include "rcl/tune_cache.h"

#include "gemm/gemm_internal.h"
#include "runtime/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAGIC_LINE "resnet-cl tune cache v2"
/* v1: written by a resnet-cl-tune whose phase F timed its candidates
 * against the table's defaults, not the device's, and wrote
 * "conv WINOGRAD" whatever it measured (0 when it had no time to try 1):
 * read, but without that entry (the device's own default applies) */
#define MAGIC_LINE_V1 "resnet-cl tune cache v1"
#define MAX_ENTRIES 100000
#define KEY_LINES 5 /* platform, device, driver, compute_units, env */

static void set_msg(char *msg, size_t cap, const char *fmt, const char *a, const char *b)
{
    if (msg && cap) snprintf(msg, cap, fmt, a, b);
}

int rcl_tune_device_key(const rcl_ctx *ctx, char *buf, size_t cap)
{
    const rcl_device_info *d = rcl_ctx_device(ctx);
    /* PoCL's thread count and pinning change which kernel parameters win */
    const char *pt = getenv("POCL_MAX_PTHREAD_COUNT"), *cu = getenv("POCL_CPU_MAX_CU_COUNT"),
               *af = getenv("POCL_AFFINITY");
    int n = snprintf(buf, cap,
                     "platform %s\ndevice %s\ndriver %s\ncompute_units %u\n"
                     "env POCL_MAX_PTHREAD_COUNT=%s POCL_CPU_MAX_CU_COUNT=%s POCL_AFFINITY=%s",
                     d->platform_version, d->name, d->driver_version, d->compute_units,
                     pt && *pt ? pt : "-", cu && *cu ? cu : "-", af && *af ? af : "-");
    if (n < 0 || (size_t)n >= cap) return rcl_fail(RCL_ERR_INVALID, "tune cache key too long");
    /* the key is line-based: no stray newlines or carriage returns inside fields */
    for (char *p = buf; *p; p++)
        if (*p == '\r') *p = ' ';
    return RCL_OK;
}

int rcl_tune_cache_path(const rcl_ctx *ctx, char *buf, size_t cap)
{
    char dir[900], name[80];
    if (!rcl_cache_dir(dir, sizeof dir))
        return rcl_fail(RCL_ERR_NOT_FOUND, "no cache directory ($XDG_CACHE_HOME and $HOME unset)");
    const rcl_device_info *d = rcl_ctx_device(ctx);
    /* readable prefix of the device name + hash of platform and device names */
    size_t j = 0;
    for (const char *p = d->name; *p && j < 40; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (ok) name[j++] = c;
        else if (j && name[j - 1] != '-') name[j++] = '-';
    }
    name[j] = 0;
    uint64_t h = rcl_fnv1a(RCL_FNV_INIT, d->platform_name, strlen(d->platform_name));
    h = rcl_fnv1a(h, "\n", 1);
    h = rcl_fnv1a(h, d->name, strlen(d->name));
    int n = snprintf(buf, cap, "%s/tune/%s-%08llx.txt", dir, name,
                     (unsigned long long)(h & 0xffffffffull));
    if (n < 0 || (size_t)n >= cap) return rcl_fail(RCL_ERR_INVALID, "tune cache path too long");
    return RCL_OK;
}

static int valid_name(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (!n || n >= cap) return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s == 0x7f) return 0;
    return 1;
}

int rcl_tune_file_write(const char *path, const char *device_key, const rcl_tune_entry *e, int n)
{
    if (!path || !device_key || n < 0 || n > MAX_ENTRIES || (n && !e))
        return rcl_fail(RCL_ERR_INVALID, "tune cache write: bad arguments");
    for (int i = 0; i < n; i++)
        if (!valid_name(e[i].key, sizeof e[i].key) || !valid_name(e[i].param, sizeof e[i].param))
            return rcl_fail(RCL_ERR_INVALID, "tune cache write: bad entry name '%s' '%s'",
                            e[i].key, e[i].param);
    /* the whole text in memory, then checksum */
    size_t cap = strlen(device_key) + 256 + (size_t)n * 120;
    char *text = malloc(cap);
    if (!text) return rcl_fail(RCL_ERR_NOMEM, "tune cache text");
    size_t len = (size_t)snprintf(text, cap, MAGIC_LINE "\n%s\nentries %d\n", device_key, n);
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(text + len, cap - len, "param %s %s %d\n", e[i].key, e[i].param,
                                e[i].value);
    if (len + 40 >= cap) {
        free(text);
        return rcl_fail(RCL_ERR_INVALID, "tune cache text overflow");
    }
    uint64_t h = rcl_fnv1a(RCL_FNV_INIT, text, len);
    len += (size_t)snprintf(text + len, cap - len, "checksum %016llx\n", (unsigned long long)h);

    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (rcl_mkdir_p(dir)) {
            free(text);
            return rcl_fail(RCL_ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
        }
    }
    int st = rcl_atomic_write_buf(path, text, len);
    free(text);
    return st;
}

/* Next '\n'-terminated line of [*p, end) into line (without '\n'); 0 at
 * the end or when the line is unterminated or too long. */
static int next_line(const char **p, const char *end, char *line, size_t cap)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl || (size_t)(nl - *p) >= cap) return 0;
    memcpy(line, *p, (size_t)(nl - *p));
    line[nl - *p] = 0;
    *p = nl + 1;
    return 1;
}

int rcl_tune_file_read(const char *path, const char *device_key, rcl_tune_entry **out, int *n,
                       char *msg, size_t msg_cap)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        set_msg(msg, msg_cap, "no tune cache %s%s", path, "");
        if (err == ENOENT) return rcl_fail(RCL_ERR_NOT_FOUND, "no tune cache %s", path);
        return rcl_fail(RCL_ERR_IO, "cannot read %s: %s", path, strerror(err));
    }
    /* at most 4 MiB - 1 bytes; the buffer sized by the file (4 MiB for
     * every read made fuzz_tune_cache ten times slower under ASan) */
    size_t cap = (size_t)1 << 22;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0 &&
        (unsigned long long)sb.st_size < cap)
        cap = (size_t)sb.st_size + 1;
    char *data = malloc(cap);
    size_t len = data ? fread(data, 1, cap - 1, f) : 0;
    int big = data && fgetc(f) != EOF;
    fclose(f);
    if (!data) return rcl_fail(RCL_ERR_NOMEM, "tune cache buffer");
    int st = RCL_ERR_FORMAT;
    const char *why = "malformed";
    char line[1024], detail[600] = "";
    const char *p = data, *end = data + len;
    rcl_tune_entry *e = NULL;
    int count = -1;
    if (big) {
        why = "too large";
        goto bad;
    }
    /* checksum line: the last line, covering every byte before it */
    if (len < 2 || data[len - 1] != '\n') {
        why = "truncated (no final newline)";
        goto bad;
    }
    const char *last = end - 1;
    while (last > data && last[-1] != '\n') last--;
    unsigned long long want = 0;
    char tail[64];
    if ((size_t)(end - last) >= sizeof tail) {
        why = "truncated or corrupt (no checksum line)";
        goto bad;
    }
    memcpy(tail, last, (size_t)(end - last));
    tail[end - last - 1] = 0;
    char extra;
    if (sscanf(tail, "checksum %16llx%c", &want, &extra) != 1 || strlen(tail) != 25) {
        why = "truncated or corrupt (no checksum line)";
        goto bad;
    }
    if (rcl_fnv1a(RCL_FNV_INIT, data, (size_t)(last - data)) != (uint64_t)want) {
        why = "checksum mismatch (corrupt)";
        goto bad;
    }
    end = last;
    if (!next_line(&p, end, line, sizeof line) ||
        (strcmp(line, MAGIC_LINE) && strcmp(line, MAGIC_LINE_V1))) {
        why = "not a resnet-cl tune cache v1 or v2 file";
        goto bad;
    }
    const int v1 = !strcmp(line, MAGIC_LINE_V1);
    /* device key, line by line */
    const char *kp = device_key;
    for (int i = 0; i < KEY_LINES; i++) {
        const char *knl = strchr(kp, '\n');
        size_t kl = knl ? (size_t)(knl - kp) : strlen(kp);
        if (!next_line(&p, end, line, sizeof line)) goto bad;
        if (strlen(line) != kl || memcmp(line, kp, kl)) {
            /* same device name line but another field: stale; else foreign */
            int is_device_line = !strncmp(kp, "device ", 7);
            snprintf(detail, sizeof detail, "file has '%.250s', this device '%.*s'", line,
                     (int)(kl < 250 ? kl : 250), kp);
            why = is_device_line ? "foreign: made for another device" : "stale: device key changed";
            goto bad;
        }
        kp = knl ? knl + 1 : kp + kl;
    }
    if (!next_line(&p, end, line, sizeof line) || sscanf(line, "entries %d%c", &count, &extra) != 1 ||
        count < 0 || count > MAX_ENTRIES)
        goto bad;
    e = calloc((size_t)(count ? count : 1), sizeof *e);
    if (!e) {
        free(data);
        return rcl_fail(RCL_ERR_NOMEM, "tune cache entries");
    }
    for (int i = 0; i < count; i++) {
        char k[1024], prm[1024];
        int v;
        if (!next_line(&p, end, line, sizeof line)) {
            why = "truncated (fewer entries than declared)";
            goto bad;
        }
        if (sscanf(line, "param %1023s %1023s %d%c", k, prm, &v, &extra) != 3 ||
            strlen(k) >= sizeof e[i].key || strlen(prm) >= sizeof e[i].param)
            goto bad;
        snprintf(e[i].key, sizeof e[i].key, "%s", k);
        snprintf(e[i].param, sizeof e[i].param, "%s", prm);
        e[i].value = v;
    }
    if (p != end) {
        why = "more entries than declared";
        goto bad;
    }
    free(data);
    int kept = 0, dropped = 0;
    for (int i = 0; i < count; i++) {
        if (v1 && !strcmp(e[i].key, "conv") && !strcmp(e[i].param, "WINOGRAD")) {
            dropped++;
            continue;
        }
        e[kept++] = e[i];
    }
    if (msg && msg_cap)
        snprintf(msg, msg_cap, "%s", dropped ? "its conv WINOGRAD entry, written by an older "
                                               "resnet-cl-tune, is ignored (re-run resnet-cl-tune "
                                               "to tune it)" : "");
    *out = e;
    *n = kept;
    return RCL_OK;
bad:
    free(data);
    free(e);
    if (msg && msg_cap)
        snprintf(msg, msg_cap, "ignoring tune cache %s: %s%s%s", path, why, *detail ? "; " : "",
                 detail);
    return rcl_fail(st, "tune cache %s: %s", path, why);
}

int rcl_tune_cache_save(const rcl_ctx *ctx, const char *path, const rcl_tune_entry *e, int n)
{
    char key[1200], def[1024];
    RCL_TRY(rcl_tune_device_key(ctx, key, sizeof key));
    if (!path) {
        RCL_TRY(rcl_tune_cache_path(ctx, def, sizeof def));
        path = def;
    }
    return rcl_tune_file_write(path, key, e, n);
}

int rcl_tune_cache_load(rcl_ctx *ctx, const char *path, char *msg, size_t msg_cap)
{
    char key[1200], def[1024];
    if (msg && msg_cap) msg[0] = 0;
    RCL_TRY(rcl_tune_device_key(ctx, key, sizeof key));
    if (!path) {
        int st = rcl_tune_cache_path(ctx, def, sizeof def);
        if (st != RCL_OK) {
            set_msg(msg, msg_cap, "no tune cache: %s%s", rcl_last_error(), "");
            return st;
        }
        path = def;
    }
    rcl_tune_entry *e = NULL;
    int n = 0;
    char note[200] = "";
    int st = rcl_tune_file_read(path, key, &e, &n, msg, msg_cap);
    if (st == RCL_OK && msg && msg_cap) snprintf(note, sizeof note, "%s", msg);
    if (st != RCL_OK) {
        if (st == RCL_ERR_NOT_FOUND && msg && msg_cap)
            snprintf(msg, msg_cap, "no tune cache for this device (%s); run resnet-cl-tune", path);
        return st;
    }
    for (int i = 0; i < n; i++) {
        st = rcl_ctx_set_param(ctx, e[i].key, e[i].param, e[i].value);
        if (st != RCL_OK) {
            free(e);
            return st;
        }
    }
    free(e);
    rcl_gemm_reset(ctx);
    if (msg && msg_cap)
        snprintf(msg, msg_cap, "loaded tune cache %s (%d entries)%s%s", path, n, *note ? "; " : "",
                 note);
    return RCL_OK;
}
