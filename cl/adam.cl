/* Adam step (torch.optim.Adam, single-tensor path, amsgrad off), one
 * work-item per element i of the parameter tensor (global n rounded up to WG):
 *
 *     work-item i:  gr   = g[i] + wd*p[i]            (only if wd != 0)
 *                   m[i] = lerp(m[i], gr, 1-b1)      (= b1*m + (1-b1)*gr)
 *                   v[i] = b2*v[i] + (1-b2)*gr*gr
 *                   p[i] -= step_size * m[i] / (sqrt(v[i])/bc2_sqrt + eps)
 *
 * step_size = lr/(1-b1^t) and bc2_sqrt = sqrt(1-b2^t) come from the host
 * (computed in double). g is read only.
 * Tunable: WG (work-group size). */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void adam_step(__global float *p, __global const float *g, __global float *m,
               __global float *v, const int n, const float b1, const float b2,
               const float eps, const float wd, const float step_size, const float bc2_sqrt)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    const float pi = p[i];
    float gr = g[i];
    if (wd != 0.0f) gr = gr + wd * pi;
    const float mi = m[i] + (1.0f - b1) * (gr - m[i]);
    const float vi = b2 * v[i] + (1.0f - b2) * gr * gr;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrt(vi) / bc2_sqrt + eps;
    p[i] = pi - step_size * (mi / denom);
}
