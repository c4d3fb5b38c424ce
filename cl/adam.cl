/* Adam step (torch.optim.Adam, single-tensor path, amsgrad off) over the
 * elements i of the parameter tensor, VEC consecutive elements per
 * work-item (global ceil(n / VEC) rounded up to WG):
 *
 *     element i:    gr   = g[i] + wd*p[i]            (only if wd != 0)
 *                   m[i] = lerp(m[i], gr, 1-b1)      (= b1*m + (1-b1)*gr)
 *                   v[i] = b2*v[i] + (1-b2)*gr*gr
 *                   p[i] -= step_size * m[i] / (sqrt(v[i])/bc2_sqrt + eps)
 *
 * step_size = lr/(1-b1^t) and bc2_sqrt = sqrt(1-b2^t) come from the host
 * (computed in double). g is read only. A work-item whose VEC elements all
 * lie below n moves them as whole vectors (plain vector loads and stores:
 * with one element per work-item PoCL vectorises across work-items with
 * masked moves, which are slow on x86), the last one element by element;
 * the same operations per element either way.
 * Tunables: WG (work-group size), VEC (elements per work-item: 1, 4, 8, 16). */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

#ifndef VEC
#error "VEC (elements per work-item: 1, 4, 8, 16) is passed by the host: src/runtime/tunables.def"
#endif
/* floatV, floatV_u: VEC floats (cl/common.h) */

/* one element (T float) or VEC of them (T floatV), in place */
#define ADAM(T, P, G, M, V)                                          \
    {                                                                \
        const T pi = (P);                                            \
        T gr = (G);                                                  \
        if (wd != 0.0f) gr = gr + wd * pi;                           \
        const T mi = (M) + (1.0f - b1) * (gr - (M));                 \
        const T vi = b2 * (V) + (1.0f - b2) * gr * gr;               \
        (M) = mi;                                                    \
        (V) = vi;                                                    \
        const T denom = sqrt(vi) / bc2_sqrt + eps;                   \
        (P) = pi - step_size * (mi / denom);                         \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void adam_step(__global float *p, __global const float *g, __global float *m,
               __global float *v, const int n, const float b1, const float b2,
               const float eps, const float wd, const float step_size, const float bc2_sqrt)
{
    const int i0 = get_global_id(0) * VEC;
    if (i0 >= n) return;
    if (n - i0 >= VEC) {
        __global floatV_u *pv = (__global floatV_u *)(p + i0);
        __global floatV_u *mv = (__global floatV_u *)(m + i0);
        __global floatV_u *vv = (__global floatV_u *)(v + i0);
        ADAM(floatV, *pv, *(const __global floatV_u *)(g + i0), *mv, *vv)
        return;
    }
    for (int i = i0; i < n; i++) ADAM(float, p[i], g[i], m[i], v[i])
}
