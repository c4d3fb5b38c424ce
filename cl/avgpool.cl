/* Global average pool over planes of HW = H*W values, R = N*C rows.
 *
 * Both kernels: 1-D range over the rows r = n*C + c in [0, R) (rounded up to
 * WG); work-item r handles the contiguous plane x[r*HW .. r*HW + HW):
 *
 *      row r:  x[r*HW + 0]  x[r*HW + 1]  ...  x[r*HW + HW-1]
 *      item r: sums them in order (four interleaved partials, then the
 *              tail; deterministic) -> y[r] = sum/HW        (forward)
 *              writes dx[r*HW + hw] = dy[r] / HW for every hw (backward)
 *
 * Tunable: WG (work-group size).
 */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void avgpool_forward(__global float *y, __global const float *x, const int HW, const int R)
{
    const int r = get_global_id(0);
    if (r >= R) return;
    __global const float *xr = x + r * HW;
    float4 a = 0.0f;
    int i = 0;
    for (; i + 4 <= HW; i += 4) a += vload4(0, xr + i);
    float s = (a.x + a.y) + (a.z + a.w);
    for (; i < HW; i++) s += xr[i];
    y[r] = s / (float)HW;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void avgpool_backward(__global float *dx, __global const float *dy, const int HW, const int R)
{
    const int r = get_global_id(0);
    if (r >= R) return;
    const float v = dy[r] / (float)HW;
    __global float *d = dx + r * HW;
    for (int i = 0; i < HW; i++) d[i] = v;
}
