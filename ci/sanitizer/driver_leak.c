/* The OpenCL drivers' own leaks (ci/sanitizer/lsan.supp, docs/sanitizers.md),
 * shown without any of resnet-cl: create a context, queue, program, kernel
 * and buffer on one platform, run the kernel once, release everything.
 *   cc -g -fsanitize=address -o driver_leak ci/sanitizer/driver_leak.c \
 *      -lOpenCL -Wl,--no-as-needed -lstdc++
 *   XDG_CACHE_HOME=$(mktemp -d) LD_PRELOAD=build-asan/keep_modules.so \
 *      ASAN_OPTIONS=verify_asan_link_order=0 ./driver_leak 0
 * (-lstdc++: Mesa's clover throws C++ exceptions while the ICD loader
 * loads it, which ASan's interceptor needs libstdc++ for.) With PoCL 3.1
 * and a cold program cache LeakSanitizer reports PoCL's code generation
 * (operator new, LLVM 15); a second run on the same cache reports only
 * rusticl's 72 bytes. Never part of the build. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    cl_platform_id ps[8];
    cl_uint np = 0;
    unsigned want = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
    if (clGetPlatformIDs(8, ps, &np) != CL_SUCCESS || want >= np) {
        fprintf(stderr, "driver_leak: no OpenCL platform %u\n", want);
        return 2;
    }
    cl_device_id d;
    cl_int e = clGetDeviceIDs(ps[want], CL_DEVICE_TYPE_ALL, 1, &d, NULL);
    if (e != CL_SUCCESS) return 2;
    cl_context c = clCreateContext(NULL, 1, &d, NULL, NULL, &e);
    cl_command_queue q = clCreateCommandQueue(c, d, 0, &e);
    const char *src = "__kernel void k(__global float *x) { x[get_global_id(0)] *= 2.0f; }";
    cl_program p = clCreateProgramWithSource(c, 1, &src, NULL, &e);
    e = clBuildProgram(p, 1, &d, "", NULL, NULL);
    cl_kernel k = clCreateKernel(p, "k", &e);
    cl_mem b = clCreateBuffer(c, CL_MEM_READ_WRITE, 4096, NULL, &e);
    clSetKernelArg(k, 0, sizeof b, &b);
    size_t g = 1024, l = 64;
    e = clEnqueueNDRangeKernel(q, k, 1, NULL, &g, &l, 0, NULL, NULL);
    clFinish(q);
    printf("driver_leak: platform %u, kernel run: %s\n", want, e == CL_SUCCESS ? "ok" : "failed");
    clReleaseMemObject(b);
    clReleaseKernel(k);
    clReleaseProgram(p);
    clReleaseCommandQueue(q);
    clReleaseContext(c);
    return e == CL_SUCCESS ? 0 : 1;
}
