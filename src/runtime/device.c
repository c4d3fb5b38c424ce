/* Flat device list over all OpenCL platforms. */
#include "runtime/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rcl_cl_fail(int cl_err, const char *what)
{
    int st = RCL_ERR_OPENCL;
    if (cl_err == CL_MEM_OBJECT_ALLOCATION_FAILURE || cl_err == CL_OUT_OF_RESOURCES ||
        cl_err == CL_OUT_OF_HOST_MEMORY || cl_err == CL_INVALID_BUFFER_SIZE)
        st = RCL_ERR_DEVICE_NOMEM;
    const char *name = rcl_cl_error_name(cl_err);
    if (strcmp(name, "CL_UNKNOWN_ERROR")) return rcl_fail(st, "%s: %s", what, name);
    return rcl_fail(st, "%s: OpenCL error %d", what, cl_err);
}

const char *rcl_bytes_str(uint64_t b, char *buf, size_t cap)
{
    if (b >= (1ull << 30)) snprintf(buf, cap, "%.2f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20)) snprintf(buf, cap, "%.1f MiB", (double)b / (1ull << 20));
    else if (b >= 1024) snprintf(buf, cap, "%.1f KiB", (double)b / 1024);
    else snprintf(buf, cap, "%llu bytes", (unsigned long long)b);
    return buf;
}

/* MemAvailable of /proc/meminfo (free memory plus what the kernel can
 * reclaim), else free pages (sysconf), else 0. */
static uint64_t host_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb = 0;
        int found = 0;
        while (!found && fgets(line, sizeof line, f))
            found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
        fclose(f);
        if (found) return (uint64_t)kb * 1024;
    }
#if defined(_SC_AVPHYS_PAGES) && defined(_SC_PAGESIZE)
    long pages = sysconf(_SC_AVPHYS_PAGES), ps = sysconf(_SC_PAGESIZE);
    if (pages > 0 && ps > 0) return (uint64_t)pages * (uint64_t)ps;
#endif
    return 0;
}

uint64_t rcl_device_memory_limit(const rcl_device_info *d, uint64_t *host_avail)
{
    uint64_t lim = d->global_mem, host = 0;
    if (d->type & CL_DEVICE_TYPE_CPU) host = host_available();
    if (host_avail) *host_avail = host;
    if (host && (!lim || host < lim)) lim = host;
    return lim;
}

static void str_info_platform(cl_platform_id p, cl_platform_info what, char *buf, size_t cap)
{
    buf[0] = 0;
    if (clGetPlatformInfo(p, what, cap, buf, NULL) != CL_SUCCESS) buf[0] = 0;
    buf[cap - 1] = 0;
}

static void str_info_device(cl_device_id d, cl_device_info what, char *buf, size_t cap)
{
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, cap, buf, NULL) != CL_SUCCESS) buf[0] = 0;
    buf[cap - 1] = 0;
}

/* PoCL keeps what it builds in its own kernel cache (on unless
 * POCL_KERNEL_CACHE=0): the front end's output per source and options and
 * each kernel's code per work-group size, so a second start compiles
 * nothing. Asking it for a program's binary (clGetProgramInfo
 * CL_PROGRAM_BINARIES, what resnet-cl's program cache stores) makes PoCL 3.1
 * compile a generic work-group function for every kernel of the program,
 * used or not: test_conv2d's Winograd tests took 127 s from empty caches
 * with resnet-cl's cache and 50-56 s without it; warm, 7.5 s on PoCL's
 * cache alone (README "Cold start and diagnostics"). */
static int driver_caches_programs(const char *platform_name)
{
    if (!strstr(platform_name, "Portable Computing Language")) return 0;
    const char *kc = getenv("POCL_KERNEL_CACHE");
    return !(kc && !strcmp(kc, "0"));
}

int rcl_devices_list(rcl_device_info *out, int cap, int *count)
{
    cl_platform_id plats[16];
    cl_uint np = 0;
    *count = 0;
    cl_int e = clGetPlatformIDs(16, plats, &np);
    if (e != CL_SUCCESS || np == 0)
        return rcl_fail(RCL_ERR_NO_PLATFORM, "no OpenCL platform found (clGetPlatformIDs: %s)",
                        rcl_cl_error_name(e));
    if (np > 16) np = 16;
    int n = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[RCL_MAX_DEVICES];
        cl_uint nd = 0;
        /* A platform with no devices (Mesa Clover without a GPU) answers
         * CL_DEVICE_NOT_FOUND: skip it quietly. */
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, RCL_MAX_DEVICES, devs, &nd) != CL_SUCCESS)
            continue;
        if (nd > RCL_MAX_DEVICES) nd = RCL_MAX_DEVICES;
        for (cl_uint d = 0; d < nd; d++) {
            if (n >= cap) break;
            rcl_device_info *i = &out[n];
            memset(i, 0, sizeof *i);
            i->index = n;
            i->platform = plats[p];
            i->device = devs[d];
            str_info_platform(plats[p], CL_PLATFORM_NAME, i->platform_name, sizeof i->platform_name);
            str_info_platform(plats[p], CL_PLATFORM_VERSION, i->platform_version,
                              sizeof i->platform_version);
            str_info_device(devs[d], CL_DEVICE_NAME, i->name, sizeof i->name);
            str_info_device(devs[d], CL_DRIVER_VERSION, i->driver_version, sizeof i->driver_version);
            str_info_device(devs[d], CL_DEVICE_VERSION, i->device_version, sizeof i->device_version);
            cl_ulong u = 0;
            cl_uint cu = 0;
            size_t wg = 0;
            clGetDeviceInfo(devs[d], CL_DEVICE_TYPE, sizeof i->type, &i->type, NULL);
            if (clGetDeviceInfo(devs[d], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof u, &u, NULL) == CL_SUCCESS)
                i->global_mem = u;
            if (clGetDeviceInfo(devs[d], CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof u, &u, NULL) == CL_SUCCESS)
                i->max_alloc = u;
            if (clGetDeviceInfo(devs[d], CL_DEVICE_LOCAL_MEM_SIZE, sizeof u, &u, NULL) == CL_SUCCESS)
                i->local_mem = u;
            if (clGetDeviceInfo(devs[d], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL) == CL_SUCCESS)
                i->compute_units = cu;
            if (clGetDeviceInfo(devs[d], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL) == CL_SUCCESS)
                i->max_wg_size = wg;
            cl_device_fp_config fp = 0;
            if (clGetDeviceInfo(devs[d], CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) == CL_SUCCESS)
                i->fp32_correct_div_sqrt = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
            i->own_program_cache = driver_caches_programs(i->platform_name);
            n++;
        }
    }
    *count = n;
    if (n == 0)
        return rcl_fail(RCL_ERR_NO_PLATFORM,
                        "no OpenCL device found on %u platform(s)", (unsigned)np);
    return RCL_OK;
}

const char *rcl_device_type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "ACCELERATOR";
    return "OTHER";
}

int rcl_device_default_index(int flag)
{
    if (flag >= 0) return flag;
    const char *e = getenv("RESNET_CL_DEVICE");
    if (e && *e) {
        char *end = NULL;
        long v = strtol(e, &end, 10);
        if (end && *end == 0 && v >= 0 && v < 1000000) return (int)v;
        return -1; /* malformed: caller reports it as out of range */
    }
    return 0;
}
