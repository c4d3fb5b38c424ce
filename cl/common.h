/* Prepended to every program in cl/. Tunables (WG, BN_WG, RED_WG, TS, KC)
 * have no default here: the host always passes them as -D options, with
 * the values of src/runtime/tunables.def (or the tune cache); a kernel file
 * that uses one stops with #error when it is missing. */
#ifndef RCL_CL_COMMON_H
#define RCL_CL_COMMON_H

/* PREFETCH(p): ask the cache for the line of p ahead of its loads (a CPU
 * compiler for x86-64 or AArch64: one prefetch instruction, never a fault;
 * elsewhere nothing, HAS_PREFETCH 0). cl/batchnorm.cl, conv_wino.cl */
#if defined(__x86_64__) || defined(__aarch64__)
#define HAS_PREFETCH 1
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define HAS_PREFETCH 0
#define PREFETCH(p) ((void)(p))
#endif

/* STREAM16(nt, v, p): store the float16 v at p (16 floats); where nt is
 * non-zero (the host's choice for large outputs, src/runtime/internal.h
 * rcl_stream_out) and p is 64-byte aligned, past the caches (a
 * non-temporal store): an output that the next kernel reads from memory
 * anyway then costs no read for ownership first (docs/speed.md, Session
 * 30). x86-64 compilers with the builtins only (HAS_STREAM); elsewhere
 * vstore16. Non-temporal stores are weakly ordered, so a work-item that
 * streamed ends with a fence before the kernel reports done:
 * STREAM_FENCE(nt) (an sfence) in each such work-item, or
 * STREAM_FENCE_GROUP(nt) in a kernel whose every work-item reaches its
 * end: only the group's last work-item fences (a CPU driver runs a group's
 * items in order on one thread; the kernels with many small work-items,
 * cl/batchnorm.cl). */
#if defined(__x86_64__) && defined(__has_builtin)
#if __has_builtin(__builtin_nontemporal_store) && __has_builtin(__builtin_ia32_sfence)
#define HAS_STREAM 1
#endif
#endif
#ifdef HAS_STREAM
#define STREAM16(nt, v, p)                                            \
    do {                                                              \
        __global float *p_ = (p);                                     \
        if ((nt) && ((ulong)p_ & 63) == 0)                            \
            __builtin_nontemporal_store((v), (__global float16 *)p_); \
        else                                                          \
            vstore16((v), 0, p_);                                     \
    } while (0)
#define STREAM_FENCE(nt)                     \
    do {                                     \
        if (nt) __builtin_ia32_sfence();     \
    } while (0)
#define STREAM_FENCE_GROUP(nt)                                          \
    do {                                                                \
        if ((nt) && get_local_id(0) == get_local_size(0) - 1 &&         \
            get_local_id(1) == get_local_size(1) - 1 &&                 \
            get_local_id(2) == get_local_size(2) - 1)                   \
            __builtin_ia32_sfence();                                    \
    } while (0)
#else
#define HAS_STREAM 0
#define STREAM16(nt, v, p) vstore16((v), 0, (p))
#define STREAM_FENCE(nt) ((void)(nt))
#define STREAM_FENCE_GROUP(nt) ((void)(nt))
#endif

/* Unrolling by the preprocessor (cl/conv_direct.cl, conv_wino.cl, gemm.cl): n is
 * a literal 1..16 (or a macro that expands to one). */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
/* REP(n, X) expands to X(0) X(1) ... X(n-1); REP2 is the same (for nesting) */
#define REP(n, X) CAT(REP_, n)(X)
#define REP_1(X) X(0)
#define REP_2(X) REP_1(X) X(1)
#define REP_3(X) REP_2(X) X(2)
#define REP_4(X) REP_3(X) X(3)
#define REP_5(X) REP_4(X) X(4)
#define REP_6(X) REP_5(X) X(5)
#define REP_7(X) REP_6(X) X(6)
#define REP_8(X) REP_7(X) X(7)
#define REP_9(X) REP_8(X) X(8)
#define REP_10(X) REP_9(X) X(9)
#define REP_11(X) REP_10(X) X(10)
#define REP_12(X) REP_11(X) X(11)
#define REP_13(X) REP_12(X) X(12)
#define REP_14(X) REP_13(X) X(13)
#define REP_15(X) REP_14(X) X(14)
#define REP_16(X) REP_15(X) X(15)
#define REP2(n, X, a) CAT(REP2_, n)(X, a)
#define REP2_1(X, a) X(0, a)
#define REP2_2(X, a) REP2_1(X, a) X(1, a)
#define REP2_3(X, a) REP2_2(X, a) X(2, a)
#define REP2_4(X, a) REP2_3(X, a) X(3, a)
#define REP2_5(X, a) REP2_4(X, a) X(4, a)
#define REP2_6(X, a) REP2_5(X, a) X(5, a)
#define REP2_7(X, a) REP2_6(X, a) X(6, a)
#define REP2_8(X, a) REP2_7(X, a) X(7, a)
#define REP2_9(X, a) REP2_8(X, a) X(8, a)
#define REP2_10(X, a) REP2_9(X, a) X(9, a)
#define REP2_11(X, a) REP2_10(X, a) X(10, a)
#define REP2_12(X, a) REP2_11(X, a) X(11, a)
#define REP2_13(X, a) REP2_12(X, a) X(12, a)
#define REP2_14(X, a) REP2_13(X, a) X(13, a)
#define REP2_15(X, a) REP2_14(X, a) X(14, a)
#define REP2_16(X, a) REP2_15(X, a) X(15, a)
/* REP3: REP2 again, to nest inside REP2 */
#define REP3(n, X, a) CAT(REP3_, n)(X, a)
#define REP3_1(X, a) X(0, a)
#define REP3_2(X, a) REP3_1(X, a) X(1, a)
#define REP3_3(X, a) REP3_2(X, a) X(2, a)
#define REP3_4(X, a) REP3_3(X, a) X(3, a)
#define REP3_5(X, a) REP3_4(X, a) X(4, a)
#define REP3_6(X, a) REP3_5(X, a) X(5, a)
#define REP3_7(X, a) REP3_6(X, a) X(6, a)
#define REP3_8(X, a) REP3_7(X, a) X(7, a)
#define REP3_9(X, a) REP3_8(X, a) X(8, a)
#define REP3_10(X, a) REP3_9(X, a) X(9, a)
#define REP3_11(X, a) REP3_10(X, a) X(10, a)
#define REP3_12(X, a) REP3_11(X, a) X(11, a)
#define REP3_13(X, a) REP3_12(X, a) X(12, a)
#define REP3_14(X, a) REP3_13(X, a) X(13, a)
#define REP3_15(X, a) REP3_14(X, a) X(14, a)
#define REP3_16(X, a) REP3_15(X, a) X(15, a)

/* The element-wise optimizer kernels (cl/adam.cl, cl/sgd.cl) take VEC
 * consecutive floats per work-item: floatV is that vector, floatV_u the
 * same for unaligned loads and stores (one instruction each). Only where
 * the host passes VEC; other programs define their own floatV. */
#ifdef VEC
#if VEC == 1
#define floatV float
#elif VEC == 4
#define floatV float4
#elif VEC == 8
#define floatV float8
#elif VEC == 16
#define floatV float16
#else
#error "VEC must be 1, 4, 8 or 16"
#endif
typedef floatV floatV_u __attribute__((aligned(4)));
#endif

/* The conv epilogue on one value already biased: + the residual *r (epi
 * bit 0; r is read only then), then ReLU (bit 1; NaN and -0 kept), as the
 * vector forms in cl/conv_direct.cl and cl/conv_wino.cl (cl/im2col.cl's
 * reorder passes, cl/gemm.cl's CP/CE stores) */
static inline float conv_epi(float v, __global const float *r, const int epi)
{
    if (epi & 1) v += *r;
    return epi & 2 && v < 0.0f ? 0.0f : v;
}

#endif
