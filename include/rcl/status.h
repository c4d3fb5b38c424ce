/* Status codes: every library call returns RCL_OK (0) or a negative code. */
#ifndef RCL_STATUS_H
#define RCL_STATUS_H

typedef enum rcl_status {
    RCL_OK = 0,
    RCL_ERR_INVALID = -1,       /* bad argument or shape */
    RCL_ERR_NOMEM = -2,         /* host allocation failed */
    RCL_ERR_NO_PLATFORM = -3,   /* no OpenCL platform / device at all */
    RCL_ERR_DEVICE_INDEX = -4,  /* device index out of range */
    RCL_ERR_OPENCL = -5,        /* an OpenCL call failed */
    RCL_ERR_BUILD = -6,         /* a kernel failed to compile */
    RCL_ERR_DEVICE_NOMEM = -7,  /* device out of memory / buffer too large */
    RCL_ERR_GEMM = -8,          /* CLBlast returned an error */
    RCL_ERR_IO = -9,            /* file could not be opened/read/written */
    RCL_ERR_FORMAT = -10,       /* file content is malformed or truncated */
    RCL_ERR_NOT_FOUND = -11,    /* named item (kernel, tensor, file) missing */
    RCL_ERR_NAN = -12,          /* a non-finite loss or value */
    RCL_ERR_UNSUPPORTED = -13   /* valid request the device/build cannot do */
} rcl_status;

/* Human-readable text for a status code (never NULL). */
const char *rcl_strerror(int status);

/* Last detail message recorded by the library on this thread (e.g. an
 * OpenCL error name, a file name, a build log excerpt); "" if none. */
const char *rcl_last_error(void);

/* Record a detail message (printf-style). Returns `status` unchanged so it
 * can be used as `return rcl_fail(RCL_ERR_IO, "open %s", path);`. */
int rcl_fail(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Name of an OpenCL error code, e.g. "CL_OUT_OF_RESOURCES". */
const char *rcl_cl_error_name(int cl_err);

#define RCL_TRY(expr)                                                         \
    do {                                                                      \
        int rcl_try_st_ = (expr);                                             \
        if (rcl_try_st_ != RCL_OK) return rcl_try_st_;                        \
    } while (0)

#endif
