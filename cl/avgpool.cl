/* Global average pool over planes of HW = H*W values, R = N*C rows.
 *
 * avgpool_forward: one work-group of AP_WG items per row r = n*C + c
 * (group id = r). Item l adds x[r*HW + l], x[r*HW + l + AP_WG], ... and the
 * group folds the partials in a __local tree; item 0 writes y[r] = sum/HW.
 *
 *      row r:  hw = 0  1 ... AP_WG-1 | AP_WG ... | ...   (HW values)
 *      item :  l  = 0  1 ... AP_WG-1 | 0     ... | ...
 *
 * avgpool_backward: one work-item per element i of dx (N,C,H,W):
 * dx[i] = dy[i / HW] / HW.
 */

/* Work-group size of the per-row reduction (power of two). */
#ifndef AP_WG
#define AP_WG 64
#endif

__kernel __attribute__((reqd_work_group_size(AP_WG, 1, 1)))
void avgpool_forward(__global float *y, __global const float *x, const int HW)
{
    __local float red[AP_WG];
    const int r = get_group_id(0);
    const int l = get_local_id(0);
    __global const float *xr = x + (size_t)r * HW;
    float s = 0.0f;
    for (int j = l; j < HW; j += AP_WG) s += xr[j];
    red[l] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = AP_WG / 2; h > 0; h >>= 1) {
        if (l < h) red[l] += red[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) y[r] = red[0] / (float)HW;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void avgpool_backward(__global float *dx, __global const float *dy, const int HW, const int n)
{
    const int i = get_global_id(0);
    if (i < n) dx[i] = dy[i / HW] / (float)HW;
}
