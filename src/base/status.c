#include "rcl/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[8192];

const char *rcl_strerror(int status)
{
    switch (status) {
    case RCL_OK: return "success";
    case RCL_ERR_INVALID: return "invalid argument";
    case RCL_ERR_NOMEM: return "out of host memory";
    case RCL_ERR_NO_PLATFORM: return "no OpenCL platform or device found";
    case RCL_ERR_DEVICE_INDEX: return "device index out of range";
    case RCL_ERR_OPENCL: return "OpenCL call failed";
    case RCL_ERR_BUILD: return "OpenCL kernel build failed";
    case RCL_ERR_DEVICE_NOMEM: return "out of device memory";
    case RCL_ERR_GEMM: return "CLBlast GEMM failed";
    case RCL_ERR_IO: return "I/O error";
    case RCL_ERR_FORMAT: return "malformed or truncated file";
    case RCL_ERR_NOT_FOUND: return "not found";
    case RCL_ERR_NAN: return "non-finite value";
    case RCL_ERR_UNSUPPORTED: return "unsupported";
    default: return "unknown error";
    }
}

const char *rcl_last_error(void) { return last_error; }

int rcl_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

const char *rcl_cl_error_name(int e)
{
    switch (e) {
    case 0: return "CL_SUCCESS";
    case -1: return "CL_DEVICE_NOT_FOUND";
    case -2: return "CL_DEVICE_NOT_AVAILABLE";
    case -3: return "CL_COMPILER_NOT_AVAILABLE";
    case -4: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case -5: return "CL_OUT_OF_RESOURCES";
    case -6: return "CL_OUT_OF_HOST_MEMORY";
    case -7: return "CL_PROFILING_INFO_NOT_AVAILABLE";
    case -11: return "CL_BUILD_PROGRAM_FAILURE";
    case -30: return "CL_INVALID_VALUE";
    case -33: return "CL_INVALID_DEVICE";
    case -34: return "CL_INVALID_CONTEXT";
    case -36: return "CL_INVALID_COMMAND_QUEUE";
    case -38: return "CL_INVALID_MEM_OBJECT";
    case -42: return "CL_INVALID_BINARY";
    case -43: return "CL_INVALID_BUILD_OPTIONS";
    case -44: return "CL_INVALID_PROGRAM";
    case -45: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case -46: return "CL_INVALID_KERNEL_NAME";
    case -48: return "CL_INVALID_KERNEL";
    case -49: return "CL_INVALID_ARG_INDEX";
    case -50: return "CL_INVALID_ARG_VALUE";
    case -51: return "CL_INVALID_ARG_SIZE";
    case -52: return "CL_INVALID_KERNEL_ARGS";
    case -53: return "CL_INVALID_WORK_DIMENSION";
    case -54: return "CL_INVALID_WORK_GROUP_SIZE";
    case -55: return "CL_INVALID_WORK_ITEM_SIZE";
    case -56: return "CL_INVALID_GLOBAL_OFFSET";
    case -61: return "CL_INVALID_BUFFER_SIZE";
    case -63: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL_UNKNOWN_ERROR";
    }
}
