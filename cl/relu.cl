/* ReLU forward/backward, one work-item per element.
 *   y[i]  = max(x[i], 0)            (NaN stays NaN, as torch.relu)
 *   dx[i] = y[i] > 0 ? dy[i] : 0    (PyTorch's threshold_backward on the output)
 * Tunable: WG (work-group size). */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void relu_forward(__global float *y, __global const float *x, const int n)
{
    const int i = get_global_id(0);
    if (i < n) {
        const float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void relu_backward(__global float *dx, __global const float *dy, __global const float *y,
                   const int n)
{
    const int i = get_global_id(0);
    if (i < n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
