/* Layer ops, each a forward/backward pair over explicit device tensors:
 * outputs first, inputs next, sizes/descriptors last. Backward functions
 * overwrite (never accumulate into) their gradient outputs; a gradient
 * output passed as NULL is not computed. Semantics follow PyTorch. */
#ifndef RCL_OPS_H
#define RCL_OPS_H

#include "rcl/tensor.h"

#include <stdint.h>

/* ---- conv2d: im2col/col2im + GEMM; 1x1 stride-1 pad-0 goes straight to GEMM */
typedef struct rcl_conv2d_desc {
    int kh, kw;          /* kernel size */
    int sh, sw;          /* stride */
    int ph, pw;          /* zero padding */
} rcl_conv2d_desc;
/* The scratch one conv of n images (x (n,c,h,w), oc outputs) takes in the
 * context's reusable slots, by the rules the conv itself follows (dead taps
 * dropped, each pass's path, the chunking): col (slot COL), tmp (TMP),
 * conv_w (CONV_W: the live taps' slice), and the largest op(A) / op(B) a
 * GEMM of it sees (what the tiled GEMM packs). Forward only, or forward and
 * both gradients when `train`. Nothing is allocated. A batch too large for
 * one conv call (2^31 elements per tensor) counts as the largest that fits:
 * the chunked passes need no more for more images. */
typedef struct rcl_conv2d_scratch {
    uint64_t col, tmp, conv_w, gemm_a, gemm_b;
} rcl_conv2d_scratch;
int rcl_conv2d_scratch_bytes(const rcl_ctx *ctx, int n, int c, int h, int w, int oc,
                             const rcl_conv2d_desc *d, int train, rcl_conv2d_scratch *out);
/* floor((in + 2*pad - k) / stride) + 1 */
int rcl_conv_out_size(int in, int k, int stride, int pad);
/* x (N,C,H,W), w (OC,C,KH,KW), b (OC,1,1,1) or NULL -> y (N,OC,OH,OW) */
int rcl_conv2d_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x, const rcl_tensor *w,
                       const rcl_tensor *b, const rcl_conv2d_desc *d);
/* The same, then y += res (N,OC,OH,OW, or NULL) and y = max(y, 0) if relu:
 * the eval-mode Conv + folded BN (+ shortcut) + ReLU of a block in one pass
 * where the conv runs on the direct or Winograd kernels (they apply it as
 * they store), else as the conv and then the add / ReLU ops. Same floats as
 * those ops in that order. */
int rcl_conv2d_forward_fused(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                             const rcl_tensor *w, const rcl_tensor *b, const rcl_tensor *res,
                             int relu, const rcl_conv2d_desc *d);
/* Every conv call first drops the taps of w that read only zero padding
 * for every output (on a 1x1 map a 3x3 pad-1 conv is its centre tap),
 * slicing them out of w on each call. For weights run many times unchanged
 * (eval's folded copies): on h x w_in inputs, 1 with *t the trimmed
 * descriptor and wt (OC, C, t->kh, t->kw; created here, release with
 * rcl_tensor_destroy) w's live taps, so that the conv with (wt, t) computes
 * the same floats as with (w, d) and slices nothing; 0 when every tap is
 * live (*t = *d, wt untouched); a negative status on bad arguments. */
int rcl_conv2d_trim(rcl_ctx *ctx, rcl_tensor *wt, rcl_conv2d_desc *t, const rcl_tensor *w,
                    int h, int w_in, const rcl_conv2d_desc *d);
/* Convs on small maps run as dense GEMMs (docs/semantics.md "Dense small
 * maps"), building their operator D from w on every call. For weights run
 * many times unchanged (eval's folded copies): on h x w_in inputs, 1 with
 * *dt (created here, release with rcl_tensor_destroy) holding D^T, for
 * rcl_conv2d_forward_dense: (1, 1, C*h*w_in, OC*OH*OW), or on devices whose
 * GEMMs read it packed (CPU drivers) already packed, (1, R, C*h*w_in,
 * ceil(OC*OH*OW / R)) for panels of R columns; 0 (dt untouched) where the
 * conv does not take the dense path on this context, or D is w itself (a
 * 1x1 conv on a 1x1 map) and nothing is packed; a negative status on bad
 * arguments. rcl_conv2d_dense_bytes: dt's size in bytes where the conv
 * of these sizes, its dead taps dropped first (as eval's fold does,
 * rcl_conv2d_trim), would prepare one, else 0 (nothing allocated). */
int rcl_conv2d_dense_prepare(rcl_ctx *ctx, rcl_tensor *dt, const rcl_tensor *w, int h, int w_in,
                             const rcl_conv2d_desc *d);
uint64_t rcl_conv2d_dense_bytes(const rcl_ctx *ctx, int c, int h, int w_in, int oc,
                                const rcl_conv2d_desc *d);
/* rcl_conv2d_forward_fused with w given as its prepared D^T (dt, made for
 * x's h x w): the same floats, without building D */
int rcl_conv2d_forward_dense(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                             const rcl_tensor *dt, const rcl_tensor *b, const rcl_tensor *res,
                             int relu, const rcl_conv2d_desc *d);
/* dy (N,OC,OH,OW) -> dx (N,C,H,W), dw (OC,C,KH,KW), db (OC,1,1,1); any may be NULL */
int rcl_conv2d_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dw, rcl_tensor *db,
                        const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *w,
                        const rcl_conv2d_desc *d);
/* The same, then dx += dx_add (N,C,H,W, not dx; NULL: none): a block's
 * shortcut gradient added as the data gradient's direct or Winograd kernel
 * stores (else by rcl_add after it). Same floats as the conv, then rcl_add. */
int rcl_conv2d_backward_acc(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dw, rcl_tensor *db,
                            const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *w,
                            const rcl_tensor *dx_add, const rcl_conv2d_desc *d);

/* ---- BatchNorm2d (PyTorch: biased batch variance to normalise, unbiased
 * variance into running_var, running = (1-momentum)*running + momentum*batch) */
/* x,y (N,C,H,W); gamma, beta, running_*, save_* (C,1,1,1).
 * save_mean/save_invstd receive the batch mean and 1/sqrt(var_biased+eps). */
int rcl_batchnorm_forward_train(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                                rcl_tensor *save_invstd, rcl_tensor *running_mean,
                                rcl_tensor *running_var, const rcl_tensor *x,
                                const rcl_tensor *gamma, const rcl_tensor *beta, float momentum,
                                float eps);
/* eval mode: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta */
int rcl_batchnorm_forward_eval(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                               const rcl_tensor *gamma, const rcl_tensor *beta,
                               const rcl_tensor *running_mean, const rcl_tensor *running_var,
                               float eps);
/* training-mode backward from the saved batch statistics */
int rcl_batchnorm_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma, rcl_tensor *dbeta,
                           const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *gamma,
                           const rcl_tensor *save_mean, const rcl_tensor *save_invstd);
/* Fused BatchNorm + (residual add) + ReLU, the unfused ops' math in one
 * pass: y = relu(bn(x) + res), res (N,C,H,W) or NULL (no add). Training
 * statistics and running updates as rcl_batchnorm_forward_train. */
int rcl_batchnorm_relu_forward_train(rcl_ctx *ctx, rcl_tensor *y, rcl_tensor *save_mean,
                                     rcl_tensor *save_invstd, rcl_tensor *running_mean,
                                     rcl_tensor *running_var, const rcl_tensor *x,
                                     const rcl_tensor *res, const rcl_tensor *gamma,
                                     const rcl_tensor *beta, float momentum, float eps);
int rcl_batchnorm_relu_forward_eval(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x,
                                    const rcl_tensor *res, const rcl_tensor *gamma,
                                    const rcl_tensor *beta, const rcl_tensor *running_mean,
                                    const rcl_tensor *running_var, float eps);
/* Its backward from the output y: g = dy * (y > 0); dres = g (the
 * residual's gradient, or NULL); dx, dgamma, dbeta = rcl_batchnorm_backward
 * of g. Any output may be NULL; dres may alias dy. */
int rcl_batchnorm_relu_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dgamma,
                                rcl_tensor *dbeta, rcl_tensor *dres, const rcl_tensor *dy,
                                const rcl_tensor *y, const rcl_tensor *x, const rcl_tensor *gamma,
                                const rcl_tensor *save_mean, const rcl_tensor *save_invstd);
/* Eval BN folded into the conv before it: s = gamma/sqrt(running_var+eps),
 * wf = w * s per output channel, bf = beta - running_mean * s.
 * w, wf (O,C,KH,KW); bf and the per-channel vectors (O,1,1,1). */
int rcl_batchnorm_fold(rcl_ctx *ctx, rcl_tensor *wf, rcl_tensor *bf, const rcl_tensor *w,
                       const rcl_tensor *gamma, const rcl_tensor *beta,
                       const rcl_tensor *running_mean, const rcl_tensor *running_var, float eps);

/* ---- ReLU: y = max(x, 0); backward dx = dy * (y > 0) (PyTorch uses the output) */
int rcl_relu_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x);
int rcl_relu_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy, const rcl_tensor *y);

/* ---- MaxPool2d (floor mode, -inf padding; the first maximum in window scan
 * order wins on ties, NaN propagates, as PyTorch) */
typedef struct rcl_pool_desc {
    int k;        /* square window */
    int stride;
    int pad;      /* <= k/2 */
} rcl_pool_desc;
/* x (N,C,H,W) -> y (N,C,OH,OW); idx int32[N*C*OH*OW] = argmax offset h*W+w */
int rcl_maxpool2d_forward(rcl_ctx *ctx, rcl_tensor *y, cl_mem idx, const rcl_tensor *x,
                          const rcl_pool_desc *d);
/* dy (N,C,OH,OW), idx -> dx (N,C,H,W) (gather, deterministic) */
int rcl_maxpool2d_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy, cl_mem idx,
                           const rcl_pool_desc *d);

/* ---- global average pool: x (N,C,H,W) -> y (N,C,1,1) */
int rcl_avgpool_global_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x);
int rcl_avgpool_global_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy);

/* ---- elementwise add (residual): y = a + b, same shapes; y may alias a or b.
 * Its backward is the identity to both inputs. */
int rcl_add(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *a, const rcl_tensor *b);
/* y = relu(a + b) in one pass; y may alias a or b */
int rcl_add_relu(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *a, const rcl_tensor *b);

/* ---- option-A shortcut of the paper's CIFAR nets: y = x[:, :, ::s, ::s]
 * zero-padded to y->c channels, (y->c - x->c)/2 zero channels each side.
 * x (N,C,H,W) -> y (N,C2,ceil(H/s),ceil(W/s)), C2 >= C, C2-C even. */
int rcl_shortcut_pad_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x, int stride);
int rcl_shortcut_pad_backward(rcl_ctx *ctx, rcl_tensor *dx, const rcl_tensor *dy, int stride);

/* ---- Linear: y = x W^T + b. x (N,IN) as (N,C,H,W) with IN = C*H*W,
 * w (OUT,IN,1,1), b (OUT,1,1,1) or NULL -> y (N,OUT,1,1) */
int rcl_linear_forward(rcl_ctx *ctx, rcl_tensor *y, const rcl_tensor *x, const rcl_tensor *w,
                       const rcl_tensor *b);
int rcl_linear_backward(rcl_ctx *ctx, rcl_tensor *dx, rcl_tensor *dw, rcl_tensor *db,
                        const rcl_tensor *dy, const rcl_tensor *x, const rcl_tensor *w);

/* ---- softmax cross-entropy, mean over the batch (log-sum-exp, stable).
 * logits (N,K,1,1), labels int32[N] in [0,K) -> loss (1,1,1,1) = mean;
 * dlogits (N,K,1,1) = (softmax - onehot)/N, or NULL; correct: int32[1]
 * receives the number of rows whose argmax equals the label, or NULL. */
int rcl_softmax_xent(rcl_ctx *ctx, rcl_tensor *loss, rcl_tensor *dlogits, cl_mem correct,
                     const rcl_tensor *logits, cl_mem labels);

#endif
