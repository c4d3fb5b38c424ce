/* Matrix transpose (host side src/gemm/transpose.c), used by the GEMM
 * dispatcher to turn op(B) = B^T into a plain K x N operand, and of a batch
 * of matrices one after the other (get_global_id(2) = b):
 *   out[b*rows*cols + c*rows + r] = in[off + b*rows*ld + r*ld + c]     r < rows, c < cols
 * Work-item (i0, i1) = (get_global_id(0), get_global_id(1)) moves one
 * TS x TS block through private memory:
 *
 *            c0 = i0*TS                           r0 = i1*TS
 *   in       |<- TS ->|              out          |<- TS ->|
 *   r0 = --- #========#  rows of in    c0 = ----- #========#  rows of out
 *   i1*TS    # block  #  read along c             # block^T#  written along r
 *            #========#                           #========#
 *
 * A block that crosses rows or cols takes the bounds-checked loop. */

/* ---- tunable */
#ifndef TS
#error "TS (block edge per work-item, 1..32) is passed by the host: src/runtime/tunables.def"
#endif
#if TS < 1 || TS > 32
#error "TS must be 1..32"
#endif

__kernel void transpose(__global float *out, __global const float *in, const int off,
                        const int ld, const int rows, const int cols)
{
    const int c0 = get_global_id(0) * TS, r0 = get_global_id(1) * TS, b = get_global_id(2);
    if (r0 >= rows || c0 >= cols) return;
    in += off + b * rows * ld;
    out += b * rows * cols;
    float t[TS][TS];
    if (r0 + TS <= rows && c0 + TS <= cols) {
        for (int i = 0; i < TS; i++)
            for (int j = 0; j < TS; j++) t[i][j] = in[(r0 + i) * ld + c0 + j];
        for (int j = 0; j < TS; j++)
            for (int i = 0; i < TS; i++) out[(c0 + j) * rows + r0 + i] = t[i][j];
        return;
    }
    const int nr = min(TS, rows - r0), nc = min(TS, cols - c0);
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++) t[i][j] = in[(r0 + i) * ld + c0 + j];
    for (int j = 0; j < nc; j++)
        for (int i = 0; i < nr; i++) out[(c0 + j) * rows + r0 + i] = t[i][j];
}
