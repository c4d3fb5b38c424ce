/* MaxPool2d reference (PyTorch semantics), double precision, NCHW. */
#ifndef RCL_REF_MAXPOOL_H
#define RCL_REF_MAXPOOL_H

/* floor((h + 2*pad - k)/stride) + 1 */
int ref_pool_out_size(int h, int k, int stride, int pad);
/* y (n,c,oh,ow), idx[n*c*oh*ow] = argmax offset ih*w+iw. Window scanned in
 * row-major order over its in-bounds part, taking v when v > max || isnan(v)
 * (first maximum wins, NaN propagates); padding never wins. */
void ref_maxpool_forward(double *y, int *idx, const double *x, int n, int c, int h, int w, int k,
                         int stride, int pad);
/* dx (n,c,h,w) = scatter of dy to idx (sum where windows overlap). */
void ref_maxpool_backward(double *dx, const double *dy, const int *idx, int n, int c, int h,
                          int w, int k, int stride, int pad);

#endif
