/* Per-channel bias of conv2d and Linear, on a tensor viewed as (N, C, P)
 * (P = OH*OW for conv, P = 1 for Linear).
 *
 * bias_grad:  one work-group of RED_WG work-items per channel c
 *             (get_group_id(0) = c). Work-item l sums the elements
 *             l, l+RED_WG, l+2*RED_WG, ... of the flattened (n, p) range of
 *             channel c, then the group reduces the partial sums in a tree in
 *             local memory. db[c] = sum_{n,p} dy[n, c, p]. Fixed order:
 *             deterministic.
 * bias_add:   1-D over the N*C*P elements; y[i] += b[(i / P) % C].
 *
 * Tunables: RED_WG (reduction work-group size, a power of two),
 *           WG (elementwise work-group size). */

#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef RED_WG
#error "RED_WG (work-items per channel in bias_grad; power of two) is passed by the host: src/runtime/tunables.def"
#endif

__kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1)))
void bias_grad(__global float *db, __global const float *dy, const int N, const int C,
               const int P)
{
    __local float part[RED_WG];
    const int c = get_group_id(0);
    const int l = get_local_id(0);
    const int NP = N * P;
    float s = 0.0f;
    for (int i = l; i < NP; i += RED_WG) {
        const int n = i / P;
        const int p = i - n * P;
        s += dy[(n * C + c) * P + p];
    }
    part[l] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = RED_WG / 2; h > 0; h >>= 1) {
        if (l < h) part[l] += part[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) db[c] = part[0];
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void bias_add(__global float *y, __global const float *b, const int total, const int C,
              const int P)
{
    const int i = get_global_id(0);
    if (i < total) y[i] += b[(i / P) % C];
}
