/* Status codes: every library call returns RCL_OK (0) or a negative code. */
#ifndef RCL_STATUS_H
#define RCL_STATUS_H

/* The one table of status codes: X(NAME, code, message). It gives the enum
 * (RCL_<NAME> = code), rcl_strerror (the message) and rcl_status_name
 * ("RCL_<NAME>"); add new codes here only. */
#define RCL_STATUS_TABLE(X)                                                               \
    X(OK, 0, "success")                                                                   \
    X(ERR_INVALID, -1, "invalid argument")               /* bad argument or shape */      \
    X(ERR_NOMEM, -2, "out of host memory")               /* host allocation failed */     \
    X(ERR_NO_PLATFORM, -3, "no OpenCL platform or device found")                          \
    X(ERR_DEVICE_INDEX, -4, "device index out of range")                                  \
    X(ERR_OPENCL, -5, "OpenCL call failed")                                               \
    X(ERR_BUILD, -6, "OpenCL kernel build failed")       /* a kernel failed to compile */ \
    X(ERR_DEVICE_NOMEM, -7, "out of device memory")      /* or buffer too large */        \
    X(ERR_GEMM, -8, "CLBlast GEMM failed")               /* CLBlast returned an error */  \
    X(ERR_IO, -9, "I/O error")                           /* open/read/write failed */     \
    X(ERR_FORMAT, -10, "malformed or truncated file")    /* bad file content */           \
    X(ERR_NOT_FOUND, -11, "not found")                   /* kernel, tensor, file */       \
    X(ERR_NAN, -12, "non-finite value")                  /* a non-finite loss or value */ \
    X(ERR_UNSUPPORTED, -13, "unsupported")               /* valid, but not here */ 

#define RCL_STATUS_ENUM_(name, code, msg) RCL_##name = code,
typedef enum rcl_status { RCL_STATUS_TABLE(RCL_STATUS_ENUM_) } rcl_status;
#undef RCL_STATUS_ENUM_

/* Human-readable text for a status code, e.g. "invalid argument"; "unknown
 * error" for a code not in the table (never NULL). */
const char *rcl_strerror(int status);

/* Name of a status code, e.g. "RCL_ERR_INVALID"; "RCL_ERR_UNKNOWN" for a
 * code not in the table (never NULL). */
const char *rcl_status_name(int status);

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
