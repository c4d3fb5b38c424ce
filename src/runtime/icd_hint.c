/* Why no OpenCL device shows up, for the "no OpenCL device found" message:
 * the ICD loader lists only drivers that an .icd file in its vendor
 * directory names. Two common breakages, both met on real machines:
 *  - a driver installed, no .icd naming it (container images with NVIDIA's
 *    driver mounted under /usr/local/nvidia: libnvidia-opencl.so.1 is
 *    there, /etc/OpenCL/vendors does not name it; docs/gpu.md);
 *  - an .icd naming a library that is not installed (pocl.icd left behind);
 * and one of Mesa's: rusticl lists no device unless RUSTICL_ENABLE names a
 * driver. Host code only (no OpenCL call), so it can run when OpenCL
 * cannot. */
#include "runtime/internal.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* driver libraries we know, and whose they are */
static const struct {
    const char *lib, *vendor, *icd;
} KNOWN[] = {
    {"libnvidia-opencl.so.1", "NVIDIA's OpenCL driver", "nvidia.icd"},
    {"libamdocl64.so", "AMD's ROCm OpenCL driver", "amdocl64.icd"},
    {"libigdrcl.so", "Intel's compute-runtime", "intel.icd"},
    {"libpocl.so.2", "PoCL", "pocl.icd"},
    {"libRusticlOpenCL.so.1", "Mesa's rusticl", "rusticl.icd"},
};
#define NKNOWN (sizeof KNOWN / sizeof KNOWN[0])

/* where drivers live; RESNET_CL_ICD_LIB_DIRS (colon-separated) replaces
 * the list (the tests point it at a temporary directory) */
static const char *const LIB_DIRS =
    "/usr/local/nvidia/lib64:/usr/lib/x86_64-linux-gnu:/usr/lib/aarch64-linux-gnu:/usr/lib64:"
    "/usr/lib:/lib/x86_64-linux-gnu:/lib64:/lib:/opt/rocm/lib:/opt/rocm/opencl/lib";

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* the first directory of the list holding `lib`, into out; 0 if none */
static int find_lib(const char *dirs, const char *lib, char *out, size_t cap)
{
    const char *p = dirs;
    while (*p) {
        size_t n = strcspn(p, ":");
        if (n > 0 && n < 512) {
            snprintf(out, cap, "%.*s/%s", (int)n, p, lib);
            if (is_file(out)) return 1;
        }
        p += n;
        if (*p == ':') p++;
    }
    return 0;
}

/* the .icd files' contents, concatenated with newlines ("" if none) */
static void read_icds(const char *vendors, char *all, size_t cap, int *nfiles)
{
    all[0] = 0;
    *nfiles = 0;
    if (is_file(vendors)) { /* ocl-icd takes one .icd file there too */
        FILE *f = fopen(vendors, "r");
        char line[512];
        if (f && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            const char *slash = strrchr(vendors, '/');
            snprintf(all, cap, "%s|%s\n", slash ? slash + 1 : vendors, line);
            *nfiles = 1;
        }
        if (f) fclose(f);
        return;
    }
    DIR *d = opendir(vendors);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".icd") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", vendors, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char line[512];
        if (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            size_t used = strlen(all);
            snprintf(all + used, cap - used, "%s|%s\n", e->d_name, line);
            (*nfiles)++;
        }
        fclose(f);
    }
    closedir(d);
}

/* Is `a` (a file name) the same library as `b`, one maybe a more specific
 * version of the other (libpocl.so.2 and libpocl.so.2.10.0)? */
static int same_lib(const char *a, size_t al, const char *b)
{
    size_t bl = strlen(b), m = al < bl ? al : bl;
    if (m == 0 || strncmp(a, b, m) != 0) return 0;
    const char *longer = al > bl ? a : b;
    return al == bl || longer[m] == '.';
}

/* does some .icd line name `lib` (as a bare name or a path ending in it)? */
static int icd_names(const char *all, const char *lib)
{
    for (const char *p = all; *p;) {
        const char *bar = strchr(p, '|'), *nl = strchr(p, '\n');
        if (!bar || !nl) break;
        const char *v = bar + 1, *base = v;
        for (const char *q = v; q < nl; q++)
            if (*q == '/') base = q + 1;
        if (same_lib(base, (size_t)(nl - base), lib)) return 1;
        p = nl + 1;
    }
    return 0;
}

/* append to buf (truncating at cap) */
static void add(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (k > 0) *used += (size_t)k < cap - *used ? (size_t)k : cap - *used - 1;
}

int rcl_icd_hint(char *buf, size_t cap)
{
    if (!buf || cap == 0) return 0;
    buf[0] = 0;
    const char *env = getenv("OCL_ICD_VENDORS");
    const char *vendors = env && *env ? env : "/etc/OpenCL/vendors";
    const char *dirs = getenv("RESNET_CL_ICD_LIB_DIRS");
    if (!dirs || !*dirs) dirs = LIB_DIRS;
    char all[8192];
    int nicd = 0;
    read_icds(vendors, all, sizeof all, &nicd);
    size_t used = 0;
    /* installed, not named */
    for (size_t i = 0; i < NKNOWN; i++) {
        char path[1024];
        if (!find_lib(dirs, KNOWN[i].lib, path, sizeof path) || icd_names(all, KNOWN[i].lib))
            continue;
        add(buf, cap, &used, "%s%s is installed (%s) but no ICD file in %s names it: `echo %s > %s/%s` "
            "(as root), or put that line in a file DIR/%s and set OCL_ICD_VENDORS=DIR",
            used ? "; " : "", KNOWN[i].vendor, path, vendors, path, vendors, KNOWN[i].icd,
            KNOWN[i].icd);
    }
    /* named, not installed (only libraries we know: others may sit in a
     * directory the loader searches and we do not) */
    for (const char *p = all; *p;) {
        const char *bar = strchr(p, '|'), *nl = strchr(p, '\n');
        if (!bar || !nl) break;
        char file[256], lib[512];
        snprintf(file, sizeof file, "%.*s", (int)(bar - p), p);
        snprintf(lib, sizeof lib, "%.*s", (int)(nl - bar - 1), bar + 1);
        const char *base = strrchr(lib, '/') ? strrchr(lib, '/') + 1 : lib;
        char path[1024];
        int known = 0;
        for (size_t i = 0; i < NKNOWN; i++) known |= same_lib(base, strlen(base), KNOWN[i].lib);
        int found = lib[0] == '/' ? is_file(lib) : find_lib(dirs, base, path, sizeof path);
        if (known && !found)
            add(buf, cap, &used, "%s%s/%s names %s, which is not installed", used ? "; " : "", vendors, file, lib);
        p = nl + 1;
    }
    /* rusticl lists devices only for the drivers RUSTICL_ENABLE names */
    const char *re = getenv("RUSTICL_ENABLE");
    if (icd_names(all, "libRusticlOpenCL.so.1") && !(re && *re))
        add(buf, cap, &used, "%sMesa's rusticl is installed and lists no device unless RUSTICL_ENABLE names a "
            "driver (RUSTICL_ENABLE=llvmpipe for the CPU, radeonsi, iris, ...)",
            used ? "; " : "");
    if (nicd == 0 && used == 0)
        add(buf, cap, &used, "no ICD file in %s: install a driver (pocl-opencl-icd for the CPU) or set "
            "OCL_ICD_VENDORS to a directory of .icd files", vendors);
    return (int)used;
}
