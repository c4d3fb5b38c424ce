/* Residual add and the option-A shortcut of the CIFAR ResNets.
 *
 * add: one work-item per element, y[i] = a[i] + b[i] (y may alias a or b:
 * each item reads its own element before writing it).
 *
 * shortcut_forward: one work-item per element o of y (N,C2,OH,OW) with
 * OH = ceil(H/S), OW = ceil(W/S), PAD = (C2-C)/2 zero channels each side:
 *
 *      y[n, c2, oh, ow] = x[n, c2-PAD, oh*S, ow*S]   if PAD <= c2 < PAD+C
 *                       = 0                          otherwise
 *
 * shortcut_backward: one work-item per element i of dx (N,C,H,W):
 *
 *      dx[n, c, h, w] = dy[n, c+PAD, h/S, w/S]   if h%S == 0 and w%S == 0
 *                     = 0                        otherwise
 *
 * Tunable: WG (work-group size, common.h).
 */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void add_forward(__global float *y, __global const float *a, __global const float *b,
                 const int n)
{
    const int i = get_global_id(0);
    if (i < n) y[i] = a[i] + b[i];
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void shortcut_forward(__global float *y, __global const float *x, const int C, const int H,
                      const int W, const int C2, const int OH, const int OW, const int S,
                      const int PAD, const int total)
{
    const int o = get_global_id(0);
    if (o >= total) return;
    const int ow = o % OW;
    const int oh = (o / OW) % OH;
    const int c2 = (o / (OW * OH)) % C2;
    const int n = o / (OW * OH * C2);
    const int c = c2 - PAD;
    y[o] = (c >= 0 && c < C) ? x[((n * C + c) * H + oh * S) * W + ow * S] : 0.0f;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void shortcut_backward(__global float *dx, __global const float *dy, const int C, const int H,
                       const int W, const int C2, const int OH, const int OW, const int S,
                       const int PAD, const int total)
{
    const int i = get_global_id(0);
    if (i >= total) return;
    const int w = i % W;
    const int h = (i / W) % H;
    const int c = (i / (W * H)) % C;
    const int n = i / (W * H * C);
    dx[i] = (h % S == 0 && w % S == 0)
                ? dy[((n * C2 + c + PAD) * OH + h / S) * OW + w / S]
                : 0.0f;
}
