#include "ref/ref_optim.h"

#include <math.h>

void ref_adam_step(double *p, const double *g, double *m, double *v, size_t n, double lr,
                   double beta1, double beta2, double eps, double weight_decay, int step)
{
    /* bias_correction1 = 1 - beta1**step; step_size = lr / bias_correction1;
     * bias_correction2_sqrt = (1 - beta2**step) ** 0.5 */
    double bias_correction1 = 1 - pow(beta1, step);
    double bias_correction2 = 1 - pow(beta2, step);
    double step_size = lr / bias_correction1;
    double bias_correction2_sqrt = sqrt(bias_correction2);
    for (size_t i = 0; i < n; i++) {
        double grad = g[i];
        if (weight_decay != 0) grad = grad + weight_decay * p[i];   /* grad.add(param, alpha=wd) */
        m[i] = m[i] + (1 - beta1) * (grad - m[i]);                  /* exp_avg.lerp_(grad, 1-beta1) */
        v[i] = v[i] * beta2 + (1 - beta2) * grad * grad;            /* mul_(beta2).addcmul_ */
        double denom = sqrt(v[i]) / bias_correction2_sqrt + eps;    /* (sqrt / bc2_sqrt).add_(eps) */
        p[i] = p[i] - step_size * (m[i] / denom);                   /* addcdiv_(m, denom, -step_size) */
    }
}

void ref_sgd_step(double *p, const double *g, double *buf, size_t n, double lr, double momentum,
                  double dampening, double weight_decay, int nesterov, int step)
{
    for (size_t i = 0; i < n; i++) {
        double grad = g[i];
        if (weight_decay != 0) grad = grad + weight_decay * p[i];
        if (momentum != 0) {
            if (step == 1) buf[i] = grad;                             /* torch.clone(grad) */
            else buf[i] = buf[i] * momentum + (1 - dampening) * grad; /* mul_.add_(alpha=1-d) */
            grad = nesterov ? grad + momentum * buf[i] : buf[i];
        }
        p[i] = p[i] - lr * grad;                                      /* add_(grad, alpha=-lr) */
    }
}
