/* Kernel programs: built from the embedded cl/ sources per (file, options),
 * kept per context, and cached as device binaries on disk.
 *
 * Disk entry ($XDG_CACHE_HOME/resnet-cl/programs/<fnv64 of key>.bin):
 *   "RCLPROG1" | u64 key_len | u64 bin_len | u64 fnv64(key ++ bin) | key | bin
 * where key = platform version, device name, driver version, options and the
 * full source text. An entry whose size, checksum or key does not match, or
 * that the driver refuses, is counted in stats.cache_rejected and rebuilt.
 * Off on a driver with a cache of its own (rcl_device_info
 * own_program_cache: PoCL), where storing a binary costs more than it saves. */
#include "runtime/internal.h"
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMON_HEADER "common.h"
static const char MAGIC[8] = {'R', 'C', 'L', 'P', 'R', 'O', 'G', '1'};

const char *rcl_cache_dir(char *buf, size_t cap)
{
    const char *x = getenv("XDG_CACHE_HOME");
    int n;
    if (x && *x) n = snprintf(buf, cap, "%s/resnet-cl", x);
    else {
        const char *home = getenv("HOME");
        if (!home || !*home) return NULL;
        n = snprintf(buf, cap, "%s/.cache/resnet-cl", home);
    }
    return (n > 0 && (size_t)n < cap) ? buf : NULL;
}

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* RESNET_CL_LOG_BUILDS=1 (or a verbose context): a line per program built
 * from source and per kernel created, with its seconds */
static int log_builds(const rcl_ctx *ctx)
{
    return ctx->opt.verbose || getenv("RESNET_CL_LOG_BUILDS");
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The entry's path for key; -1 where the disk cache is off for ctx (the
 * caller's no_disk_cache, or a driver with a cache of its own) or there is
 * no cache directory. */
static int entry_path(const rcl_ctx *ctx, const char *key, char *path, size_t cap)
{
    if (ctx->opt.no_disk_cache || ctx->dev.own_program_cache) return -1;
    char dir[900];
    if (!rcl_cache_dir(dir, sizeof dir)) return -1;
    uint64_t h = rcl_fnv1a(RCL_FNV_INIT, key, strlen(key));
    int n = snprintf(path, cap, "%s/programs/%016llx.bin", dir, (unsigned long long)h);
    return (n > 0 && (size_t)n < cap) ? 0 : -1;
}

int rcl_program_entry_check(const unsigned char *entry, size_t len, const char *key,
                            size_t *bin_off, size_t *bin_len)
{
    size_t keylen = strlen(key);
    if (len < 32 || memcmp(entry, MAGIC, 8)) return -1;
    uint64_t klen = get_u64(entry + 8), blen = get_u64(entry + 16), sum = get_u64(entry + 24);
    if (klen != keylen || blen == 0 || blen > RCL_PROGRAM_MAX_BINARY) return -1;
    if (len - 32 != klen + blen) return -1; /* truncated, or trailing garbage */
    if (rcl_fnv1a(RCL_FNV_INIT, entry + 32, (size_t)(klen + blen)) != sum) return -1;
    if (memcmp(entry + 32, key, keylen)) return -1; /* hash collision or stale */
    *bin_off = 32 + (size_t)klen;
    *bin_len = (size_t)blen;
    return 0;
}

/* Try the disk cache; returns a built program or NULL. */
static cl_program load_cached(rcl_ctx *ctx, const char *key, const char *options)
{
    char path[1024];
    if (entry_path(ctx, key, path, sizeof path)) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cl_program prog = NULL;
    unsigned char hdr[32];
    unsigned char *data = NULL;
    size_t keylen = strlen(key), bin_off = 0, bl = 0;
    /* the size the header announces, then the whole entry in memory */
    if (fread(hdr, 1, 32, f) != 32 || memcmp(hdr, MAGIC, 8)) goto reject;
    uint64_t klen = get_u64(hdr + 8), blen = get_u64(hdr + 16);
    if (klen != keylen || blen == 0 || blen > RCL_PROGRAM_MAX_BINARY) goto reject;
    size_t total = 32 + (size_t)(klen + blen);
    data = malloc(total);
    if (!data) goto reject;
    memcpy(data, hdr, 32);
    if (fread(data + 32, 1, total - 32, f) != total - 32) goto reject;
    if (fgetc(f) != EOF) goto reject; /* trailing garbage */
    if (rcl_program_entry_check(data, total, key, &bin_off, &bl)) goto reject;
    const unsigned char *bin = data + bin_off;
    cl_int bst = CL_SUCCESS, e = CL_SUCCESS;
    prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->dev.device, &bl, &bin, &bst, &e);
    if (e != CL_SUCCESS || bst != CL_SUCCESS) {
        if (prog) clReleaseProgram(prog);
        prog = NULL;
        goto reject;
    }
    if (clBuildProgram(prog, 1, &ctx->dev.device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(prog);
        prog = NULL;
        goto reject;
    }
    fclose(f);
    free(data);
    ctx->stats.programs_loaded++;
    return prog;
reject:
    fclose(f);
    free(data);
    ctx->stats.cache_rejected++;
    if (ctx->opt.verbose) fprintf(stderr, "resnet-cl: discarding bad cache entry %s\n", path);
    remove(path);
    return NULL;
}

typedef struct {
    const unsigned char *hdr;
    const char *key;
    size_t keylen;
    const unsigned char *bin;
    size_t binlen;
} cache_entry;

static int write_entry(FILE *f, void *user)
{
    const cache_entry *c = user;
    if (fwrite(c->hdr, 1, 32, f) != 32 || fwrite(c->key, 1, c->keylen, f) != c->keylen ||
        fwrite(c->bin, 1, c->binlen, f) != c->binlen)
        return rcl_fail(RCL_ERR_IO, "program cache entry: write failed");
    return RCL_OK;
}

static void store_cached(rcl_ctx *ctx, const char *key, cl_program prog)
{
    char path[1024], dir[1024];
    if (entry_path(ctx, key, path, sizeof path)) return;
    size_t bl = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bl, &bl, NULL) != CL_SUCCESS || !bl)
        return;
    unsigned char *bin = malloc(bl);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) {
        free(bin);
        return;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    if (rcl_mkdir_p(dir)) {
        free(bin);
        return;
    }
    size_t keylen = strlen(key);
    unsigned char hdr[32];
    memcpy(hdr, MAGIC, 8);
    put_u64(hdr + 8, keylen);
    put_u64(hdr + 16, bl);
    uint64_t h = rcl_fnv1a(RCL_FNV_INIT, key, keylen);
    put_u64(hdr + 24, rcl_fnv1a(h, bin, bl));
    /* a failed store only costs a rebuild next time */
    cache_entry c = {hdr, key, keylen, bin, bl};
    if (rcl_atomic_write(path, write_entry, &c) != RCL_OK && ctx->opt.verbose)
        fprintf(stderr, "resnet-cl: not caching program: %s\n", rcl_last_error());
    free(bin);
}

static int build_program_with(rcl_ctx *ctx, const char *file, const char *options,
                              cl_program *out)
{
    const rcl_cl_source *src = rcl_cl_source_find(file);
    if (!src) return rcl_fail(RCL_ERR_NOT_FOUND, "kernel source cl/%s is not embedded", file);
    const rcl_cl_source *common = rcl_cl_source_find(COMMON_HEADER);
    const char *ctext = common ? common->text : "";
    size_t n = strlen(ctext) + strlen(src->text) + 64;
    char *text = malloc(n);
    if (!text) return rcl_fail(RCL_ERR_NOMEM, "program text");
    snprintf(text, n, "%s\n#line 1\n%s", ctext, src->text);

    /* Cache key: everything that can change the binary. */
    size_t kn = n + strlen(options) + 1024;
    char *key = malloc(kn);
    if (!key) {
        free(text);
        return rcl_fail(RCL_ERR_NOMEM, "program key");
    }
    snprintf(key, kn, "rcl-program-v1\n%s\n%s\n%s\n%s\n%s\n%s", ctx->dev.platform_version,
             ctx->dev.name, ctx->dev.driver_version, file, options, text);

    cl_program prog = load_cached(ctx, key, options);
    if (prog) {
        free(text);
        free(key);
        *out = prog;
        return RCL_OK;
    }
    const double t0 = rcl_now_s();
    cl_int e = CL_SUCCESS;
    const char *texts[1] = {text};
    prog = clCreateProgramWithSource(ctx->context, 1, texts, NULL, &e);
    free(text);
    if (e != CL_SUCCESS) {
        free(key);
        return rcl_cl_fail(e, "clCreateProgramWithSource");
    }
    e = clBuildProgram(prog, 1, &ctx->dev.device, options, NULL, NULL);
    if (e != CL_SUCCESS) {
        char log[6000];
        size_t ll = 0;
        log[0] = 0;
        clGetProgramBuildInfo(prog, ctx->dev.device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, &ll);
        log[sizeof log - 1] = 0;
        clReleaseProgram(prog);
        free(key);
        return rcl_fail(RCL_ERR_BUILD, "building cl/%s with \"%s\" on %s failed (%s):\n%s", file,
                        options, ctx->dev.name, rcl_cl_error_name(e), log);
    }
    ctx->stats.programs_built++;
    if (log_builds(ctx))
        fprintf(stderr, "resnet-cl: built cl/%s [%s] on %s in %.2f s\n", file, options,
                ctx->dev.name, rcl_now_s() - t0);
    store_cached(ctx, key, prog);
    free(key);
    *out = prog;
    return RCL_OK;
}

/* The options every program is built with, ahead of its own: float32
 * division and sqrt correctly rounded where the device offers it (as
 * PyTorch's are, on CPUs and on CUDA; OpenCL lets a driver's `/` and
 * sqrt be 2.5 and 3 ulp off otherwise, and GPU drivers use that) */
static const char *base_options(const rcl_ctx *ctx)
{
    return ctx->dev.fp32_correct_div_sqrt ? "-cl-fp32-correctly-rounded-divide-sqrt " : "";
}

static int build_program(rcl_ctx *ctx, const char *file, const char *own_options,
                         cl_program *out)
{
    char *options = malloc(strlen(base_options(ctx)) + strlen(own_options) + 1);
    if (!options) return rcl_fail(RCL_ERR_NOMEM, "program options");
    strcpy(options, base_options(ctx));
    strcat(options, own_options);
    int st = build_program_with(ctx, file, options, out);
    free(options);
    return st;
}

int rcl_ctx_kernel(rcl_ctx *ctx, const char *file, const char *name, const char *options,
                   cl_kernel *out)
{
    if (ctx->counting) return rcl_fail(RCL_ERR_UNSUPPORTED, "kernel %s on a counting context", name);
    if (!options) options = "";
    rcl_program_entry *pe = NULL;
    for (int i = 0; i < ctx->nprograms; i++)
        if (!strcmp(ctx->programs[i].file, file) && !strcmp(ctx->programs[i].options, options)) {
            pe = &ctx->programs[i];
            break;
        }
    if (!pe) {
        cl_program prog;
        RCL_TRY(build_program(ctx, file, options, &prog));
        rcl_program_entry *np = realloc(ctx->programs, (size_t)(ctx->nprograms + 1) * sizeof *np);
        if (!np) {
            clReleaseProgram(prog);
            return rcl_fail(RCL_ERR_NOMEM, "program table");
        }
        ctx->programs = np;
        pe = &np[ctx->nprograms];
        memset(pe, 0, sizeof *pe);
        pe->file = str_dup(file);
        pe->options = str_dup(options);
        pe->program = prog;
        if (!pe->file || !pe->options) {
            free(pe->file);
            free(pe->options);
            clReleaseProgram(prog);
            return rcl_fail(RCL_ERR_NOMEM, "program table");
        }
        ctx->nprograms++;
    }
    for (int i = 0; i < pe->nkernels; i++)
        if (!strcmp(pe->kernels[i].name, name)) {
            *out = pe->kernels[i].kernel;
            return RCL_OK;
        }
    cl_int e = CL_SUCCESS;
    const double t0 = rcl_now_s();
    cl_kernel k = clCreateKernel(pe->program, name, &e);
    /* rusticl runs its NIR passes here (llvmpipe generates the code at the
     * kernel's first launch), not in clBuildProgram */
    if (e == CL_SUCCESS && log_builds(ctx))
        fprintf(stderr, "resnet-cl: created kernel %s of cl/%s [%s] in %.2f s\n", name, file,
                pe->options ? pe->options : "", rcl_now_s() - t0);
    if (e != CL_SUCCESS)
        return rcl_fail(e == CL_INVALID_KERNEL_NAME ? RCL_ERR_NOT_FOUND : RCL_ERR_OPENCL,
                        "kernel %s in cl/%s: %s", name, file, rcl_cl_error_name(e));
    rcl_kernel_entry *nk = realloc(pe->kernels, (size_t)(pe->nkernels + 1) * sizeof *nk);
    char *nm = str_dup(name);
    if (!nk || !nm) {
        if (nk) pe->kernels = nk;
        free(nm);
        clReleaseKernel(k);
        return rcl_fail(RCL_ERR_NOMEM, "kernel table");
    }
    pe->kernels = nk;
    nk[pe->nkernels].name = nm;
    nk[pe->nkernels].kernel = k;
    pe->nkernels++;
    *out = k;
    return RCL_OK;
}

void rcl_program_cache_free(rcl_ctx *ctx)
{
    for (int i = 0; i < ctx->nprograms; i++) {
        rcl_program_entry *pe = &ctx->programs[i];
        for (int j = 0; j < pe->nkernels; j++) {
            clReleaseKernel(pe->kernels[j].kernel);
            free(pe->kernels[j].name);
        }
        free(pe->kernels);
        clReleaseProgram(pe->program);
        free(pe->file);
        free(pe->options);
    }
    free(ctx->programs);
    ctx->programs = NULL;
    ctx->nprograms = 0;
}
