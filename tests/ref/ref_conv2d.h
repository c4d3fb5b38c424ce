/* Reference conv2d in double precision by direct loops (PyTorch semantics:
 * cross-correlation, zero padding). Outputs first, as the device ops. */
#ifndef RCL_REF_CONV2D_H
#define RCL_REF_CONV2D_H

/* Geometry: x (n,c,h,w), w (oc,c,kh,kw), y (n,oc,oh,ow). */
typedef struct ref_conv2d_shape {
    int n, c, h, w;
    int oc, kh, kw;
    int sh, sw, ph, pw;
    int oh, ow;   /* floor((h + 2*ph - kh)/sh) + 1, likewise ow */
} ref_conv2d_shape;

/* Fill oh/ow from the rest; returns 0 when there is no output. */
int ref_conv2d_shape_init(ref_conv2d_shape *s);

/* y = conv(x, w) + b (b may be NULL) */
void ref_conv2d_forward(double *y, const double *x, const double *w, const double *b,
                        const ref_conv2d_shape *s);
/* dy -> dx, dw, db (each may be NULL; overwritten) */
void ref_conv2d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, const ref_conv2d_shape *s);

#endif
