/* Softmax cross-entropy, mean over the batch (torch.nn.CrossEntropyLoss).
 * logits (N,K) row-major, labels int32[N].
 *
 * xent_rows: one work-item per row i (global N rounded up to WG):
 *
 *     work-item i ->  x[i*K .. i*K+K-1]      (three passes over the row)
 *       m    = max_j x[i,j]   (first maximum -> argmax a)
 *       s    = sum_j exp(x[i,j] - m)         (max shift: no overflow)
 *       rows[i]     = log(s) - (x[i,label] - m)   (= lse - x[label])
 *       rows[N + i] = (a == label) ? 1 : 0
 *       dlogits[i,j] = (exp(x[i,j] - m)/s - (j == label)) / N   (if want_dx)
 *   A label outside [0,K) is never used as an index: that row's loss and
 *   dlogits are NaN and it does not count as correct.
 *
 * xent_reduce: a single work-group of RED_WG work-items, fixed order:
 *
 *     work-item t sums rows[t], rows[t+RED_WG], ... (sequentially), then a
 *     tree reduction in __local memory; work-item 0 writes
 *     loss[0] = sum / N and correct[0] = number of hits (if want_correct).
 *   The order depends only on N and RED_WG, so the result is deterministic.
 *
 * Tunables: WG (xent_rows work-group size), RED_WG. */

/* Work-group size of the single-group reduction (power of two). */
#ifndef WG
#error "WG (work-group size) is passed by the host: src/runtime/tunables.def"
#endif
#ifndef RED_WG
#error "RED_WG (work-group size of the reduction) is passed by the host: src/runtime/tunables.def"
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void xent_rows(__global float *rows, __global float *dlogits, __global const float *x,
               __global const int *labels, const int n, const int k, const int want_dx)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    __global const float *xr = x + (size_t)i * k;
    const int label = labels[i];
    const int valid = label >= 0 && label < k;

    float m = xr[0];
    int am = 0;
    for (int j = 1; j < k; j++) {
        const float v = xr[j];
        if (v > m) {
            m = v;
            am = j;
        }
    }
    float s = 0.0f;
    for (int j = 0; j < k; j++) s += exp(xr[j] - m);

    const float inv_n = 1.0f / (float)n;
    if (valid) {
        rows[i] = log(s) - (xr[label] - m);
        rows[n + i] = am == label ? 1.0f : 0.0f;
    } else {
        rows[i] = NAN;
        rows[n + i] = 0.0f;
    }
    if (want_dx) {
        __global float *dr = dlogits + (size_t)i * k;
        const float inv_s = 1.0f / s;
        for (int j = 0; j < k; j++) {
            const float p = exp(xr[j] - m) * inv_s;
            dr[j] = valid ? (p - (j == label ? 1.0f : 0.0f)) * inv_n : NAN;
        }
    }
}

__kernel __attribute__((reqd_work_group_size(RED_WG, 1, 1)))
void xent_reduce(__global float *loss, __global int *correct, __global const float *rows,
                 const int n, const int want_correct)
{
    __local float sl[RED_WG];
    __local int sc[RED_WG];
    const int t = get_local_id(0);
    float s = 0.0f;
    int c = 0;
    for (int i = t; i < n; i += RED_WG) {
        s += rows[i];
        c += (int)rows[n + i];
    }
    sl[t] = s;
    sc[t] = c;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = RED_WG / 2; h > 0; h >>= 1) {
        if (t < h) {
            sl[t] += sl[t + h];
            sc[t] += sc[t + h];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0) {
        loss[0] = sl[0] / (float)n;
        if (want_correct) correct[0] = sc[0];
    }
}
