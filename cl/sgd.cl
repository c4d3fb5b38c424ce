/* SGD step (torch.optim.SGD, single-tensor path) over the elements i of the
 * parameter tensor, VEC consecutive elements per work-item (global
 * ceil(n / VEC) rounded up to WG; as cl/adam.cl: whole vectors where all
 * VEC lie below n, the last one element by element):
 *
 *     element i:    gr = g[i] + wd*p[i]                        (if wd != 0)
 *                   if momentum != 0:
 *                     buf[i] = first ? gr : momentum*buf[i] + (1-dampening)*gr
 *                     gr = nesterov ? gr + momentum*buf[i] : buf[i]
 *                   p[i] -= lr*gr
 *
 * buf is not touched when momentum == 0; g is read only.
 * Tunables: WG (work-group size), VEC (elements per work-item: 1, 4, 8, 16). */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

#ifndef VEC
#error "VEC (elements per work-item: 1, 4, 8, 16) is passed by the host: src/runtime/tunables.def"
#endif
/* floatV, floatV_u: VEC floats (cl/common.h) */

/* one element (T float) or VEC of them (T floatV), in place */
#define SGD(T, P, G, B)                                                       \
    {                                                                         \
        const T pi = (P);                                                     \
        T gr = (G);                                                           \
        if (wd != 0.0f) gr = gr + wd * pi;                                    \
        if (momentum != 0.0f) {                                               \
            const T b = first ? gr : momentum * (B) + (1.0f - dampening) * gr; \
            (B) = b;                                                          \
            gr = nesterov ? gr + momentum * b : b;                            \
        }                                                                     \
        (P) = pi - lr * gr;                                                   \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sgd_step(__global float *p, __global const float *g, __global float *buf, const int n,
              const float lr, const float momentum, const float dampening, const float wd,
              const int nesterov, const int first)
{
    const int i0 = get_global_id(0) * VEC;
    if (i0 >= n) return;
    if (n - i0 >= VEC) {
        __global floatV_u *pv = (__global floatV_u *)(p + i0);
        __global floatV_u *bv = (__global floatV_u *)(buf + i0);
        SGD(floatV, *pv, *(const __global floatV_u *)(g + i0), *bv)
        return;
    }
    for (int i = i0; i < n; i++) SGD(float, p[i], g[i], buf[i])
}
