/* SGD step (torch.optim.SGD, single-tensor path), one work-item per element
 * i of the parameter tensor (global n rounded up to WG):
 *
 *     work-item i:  gr = g[i] + wd*p[i]                        (if wd != 0)
 *                   if momentum != 0:
 *                     buf[i] = first ? gr : momentum*buf[i] + (1-dampening)*gr
 *                     gr = nesterov ? gr + momentum*buf[i] : buf[i]
 *                   p[i] -= lr*gr
 *
 * buf is not touched when momentum == 0; g is read only.
 * Tunable: WG (work-group size). */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void sgd_step(__global float *p, __global const float *g, __global float *buf, const int n,
              const float lr, const float momentum, const float dampening, const float wd,
              const int nesterov, const int first)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    const float pi = p[i];
    float gr = g[i];
    if (wd != 0.0f) gr = gr + wd * pi;
    if (momentum != 0.0f) {
        const float b = first ? gr : momentum * buf[i] + (1.0f - dampening) * gr;
        buf[i] = b;
        gr = nesterov ? gr + momentum * b : b;
    }
    p[i] = pi - lr * gr;
}
