/* Residual add and the option-A shortcut of the CIFAR ResNets.
 *
 * add: one work-item per element, y[i] = a[i] + b[i] (y may alias a or b:
 * each item reads its own element before writing it); add_relu the same
 * with ReLU applied (the eval path's end of a residual block).
 *
 * shortcut_forward: 2-D range (n, c2) over (N, C2), dimension 0 rounded up
 * to WG; work-item (n, c2) writes the plane y[n, c2] (N,C2,OH,OW) with
 * OH = ceil(H/S), OW = ceil(W/S), PAD = (C2-C)/2 zero channels each side:
 *
 *      y[n, c2, oh, ow] = x[n, c2-PAD, oh*S, ow*S]   if PAD <= c2 < PAD+C
 *                       = 0                          otherwise
 *
 * shortcut_backward: 2-D range (n, c) over (N, C); work-item (n, c) zeroes
 * the plane dx[n, c] (N,C,H,W), then writes its strided positions:
 *
 *      dx[n, c, h, w] = dy[n, c+PAD, h/S, w/S]   if h%S == 0 and w%S == 0
 *                     = 0                        otherwise
 *
 * Tunable: WG (work-group size).
 */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void add_forward(__global float *y, __global const float *a, __global const float *b,
                 const int n)
{
    const int i = get_global_id(0);
    if (i < n) y[i] = a[i] + b[i];
}

/* y[i] = relu(a[i] + b[i]): add_forward then relu_forward in one pass */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void add_relu_forward(__global float *y, __global const float *a, __global const float *b,
                      const int n)
{
    const int i = get_global_id(0);
    if (i < n) {
        const float v = a[i] + b[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void shortcut_forward(__global float *y, __global const float *x, const int N, const int C,
                      const int H, const int W, const int C2, const int OH, const int OW,
                      const int S, const int PAD)
{
    const int n = get_global_id(0);
    const int c2 = get_global_id(1);
    if (n >= N) return;
    __global float *d = y + (n * C2 + c2) * (OH * OW);
    const int c = c2 - PAD;
    if (c < 0 || c >= C) {
        for (int o = 0; o < OH * OW; o++) d[o] = 0.0f;
        return;
    }
    __global const float *s = x + (n * C + c) * (H * W);
    for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) d[oh * OW + ow] = s[(oh * S) * W + ow * S];
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void shortcut_backward(__global float *dx, __global const float *dy, const int N, const int C,
                       const int H, const int W, const int C2, const int OH, const int OW,
                       const int S, const int PAD)
{
    const int n = get_global_id(0);
    const int c = get_global_id(1);
    if (n >= N) return;
    __global float *d = dx + (n * C + c) * (H * W);
    __global const float *s = dy + (n * C2 + c + PAD) * (OH * OW);
    for (int i = 0; i < H * W; i++) d[i] = 0.0f;
    for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) d[(oh * S) * W + ow * S] = s[oh * OW + ow];
}
