/* Parameter initialisation: torchvision's defaults and torch.nn.init's
 * schemes, filled on the host from the model's seeded RNG (the same seed
 * gives the same weights on every device) and uploaded. */
#include "model/model_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- scheme names */

static const char *const SCHEME_NAMES[RCL_INIT_COUNT] = {
    [RCL_INIT_DEFAULT] = "default",
    [RCL_INIT_KAIMING_NORMAL] = "kaiming-normal",
    [RCL_INIT_KAIMING_UNIFORM] = "kaiming-uniform",
    [RCL_INIT_XAVIER_NORMAL] = "xavier-normal",
    [RCL_INIT_XAVIER_UNIFORM] = "xavier-uniform",
    [RCL_INIT_ORTHOGONAL] = "orthogonal",
};

const char *rcl_init_scheme_name(rcl_init_scheme s)
{
    if ((int)s < 0 || s >= RCL_INIT_COUNT) return "unknown";
    return SCHEME_NAMES[s];
}

/* Exact names; '_' is accepted for '-' (torch's spelling, "xavier_normal"). */
int rcl_init_scheme_parse(const char *name, rcl_init_scheme *out)
{
    if (!name || !out) return rcl_fail(RCL_ERR_INVALID, "init scheme: NULL argument");
    for (int s = 0; s < RCL_INIT_COUNT; s++) {
        const char *a = SCHEME_NAMES[s], *b = name;
        while (*a && (*a == *b || (*a == '-' && *b == '_'))) a++, b++;
        if (!*a && !*b) {
            *out = (rcl_init_scheme)s;
            return RCL_OK;
        }
    }
    return rcl_fail(RCL_ERR_INVALID,
                    "unknown init scheme '%s' (default, kaiming-normal, kaiming-uniform, "
                    "xavier-normal, xavier-uniform, orthogonal)",
                    name);
}

/* ---- host fills */

static void fill_normal(float *out, size_t n, double std, rcl_rng *rng)
{
    for (size_t i = 0; i < n; i++) out[i] = (float)(std * rcl_rng_normal(rng));
}

/* U(-bound, bound) */
static void fill_uniform(float *out, size_t n, double bound, rcl_rng *rng)
{
    for (size_t i = 0; i < n; i++) out[i] = (float)((2 * rcl_rng_uniform(rng) - 1) * bound);
}

/* dot product with four partial sums (the compiler may not reorder a
 * double reduction itself) */
static double dot(const double *a, const double *b, int n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* c -= tau (v . c) v, the reflector I - tau v v^T applied to c */
static void reflect(double *c, const double *v, double tau, int n)
{
    double d = tau * dot(v, c, n);
    for (int i = 0; i < n; i++) c[i] -= d * v[i];
}

/* Householder QR of a (column-major m x n, a[j*m + i], m >= n), replaced by
 * the m x n factor Q with its columns multiplied by sign(diag(R)) (torch's
 * orthogonal_: the Q of the QR with a non-negative diagonal, whatever sign
 * convention the factorisation uses; sign(0) = 0 as torch.sign). */
static int qr_q_signed(double *a, int m, int n)
{
    double *q = malloc((size_t)m * n * sizeof *q);
    double *tau = malloc((size_t)n * sizeof *tau);
    double *rd = malloc((size_t)n * sizeof *rd);
    if (!q || !tau || !rd) {
        free(q), free(tau), free(rd);
        return rcl_fail(RCL_ERR_NOMEM, "init: orthogonal %dx%d", m, n);
    }
    /* factor: column k below the diagonal becomes the reflector v_k,
     * H_k = I - tau_k v_k v_k^T, R_kk = rd[k] */
    for (int k = 0; k < n; k++) {
        double *v = a + (size_t)k * m + k;
        int len = m - k;
        double s = dot(v, v, len);
        double alpha = sqrt(s);
        if (v[0] > 0) alpha = -alpha; /* v = x - alpha e1 without cancellation */
        double vv = s - 2 * alpha * v[0] + alpha * alpha; /* |x - alpha e1|^2 */
        v[0] -= alpha;
        rd[k] = alpha;
        tau[k] = vv > 0 ? 2.0 / vv : 0.0;
        for (int j = k + 1; j < n; j++) reflect(a + (size_t)j * m + k, v, tau[k], len);
    }
    /* Q = H_0 ... H_{n-1} I[:, :n], accumulated backwards: before H_k is
     * applied, columns j < k are still e_j, which H_k leaves alone */
    memset(q, 0, (size_t)m * n * sizeof *q);
    for (int j = 0; j < n; j++) q[(size_t)j * m + j] = 1.0;
    for (int k = n - 1; k >= 0; k--) {
        const double *v = a + (size_t)k * m + k;
        int len = m - k;
        for (int j = k; j < n; j++) reflect(q + (size_t)j * m + k, v, tau[k], len);
    }
    for (int j = 0; j < n; j++) {
        double sg = rd[j] > 0 ? 1.0 : rd[j] < 0 ? -1.0 : 0.0;
        for (int i = 0; i < m; i++) a[(size_t)j * m + i] = sg * q[(size_t)j * m + i];
    }
    free(q), free(tau), free(rd);
    return RCL_OK;
}

/* nn.init.orthogonal_: rows = O, cols = numel / O; N(0,1) drawn in row-major
 * (rows, cols) order; QR of it (of its transpose when rows < cols); Q times
 * sign(diag(R)), transposed back; times gain. */
static int fill_orthogonal(float *out, int rows, size_t cols, double gain, rcl_rng *rng)
{
    if (cols > (size_t)INT_MAX) return rcl_fail(RCL_ERR_INVALID, "init: orthogonal too large");
    size_t n = (size_t)rows * cols;
    double *w = malloc(n * sizeof *w);
    if (!w) return rcl_fail(RCL_ERR_NOMEM, "init: orthogonal %dx%zu", rows, cols);
    for (size_t i = 0; i < n; i++) w[i] = rcl_rng_normal(rng);
    int st;
    if ((size_t)rows < cols) {
        /* the row-major (rows, cols) array is the column-major (cols, rows)
         * transpose, and Q (column-major) read back row-major is Q^T */
        st = qr_q_signed(w, (int)cols, rows);
        if (st == RCL_OK)
            for (size_t i = 0; i < n; i++) out[i] = (float)(gain * w[i]);
    } else {
        double *a = malloc(n * sizeof *a);
        if (!a) {
            free(w);
            return rcl_fail(RCL_ERR_NOMEM, "init: orthogonal %dx%zu", rows, cols);
        }
        for (int i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) a[j * rows + i] = w[(size_t)i * cols + j];
        st = qr_q_signed(a, rows, (int)cols);
        if (st == RCL_OK)
            for (int i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++)
                    out[(size_t)i * cols + j] = (float)(gain * a[j * rows + i]);
        free(a);
    }
    free(w);
    return st;
}

/* Weight (o, c, kh, kw) (a linear weight (o, c) is kh = kw = 1). Fans as
 * torch.nn.init._calculate_fan_in_and_fan_out: fan_in = c*kh*kw,
 * fan_out = o*kh*kw. */
int rcl_init_fill(float *out, int o, int c, int kh, int kw, int is_conv, const rcl_init_config *cfg,
                  rcl_rng *rng)
{
    if (!out || !cfg || !rng) return rcl_fail(RCL_ERR_INVALID, "init: NULL argument");
    if (o < 1 || c < 1 || kh < 1 || kw < 1)
        return rcl_fail(RCL_ERR_INVALID, "init: weight %dx%dx%dx%d", o, c, kh, kw);
    if (!(cfg->gain >= 0) || isinf(cfg->gain))
        return rcl_fail(RCL_ERR_INVALID, "init: gain %g (0 for the scheme's default)",
                        (double)cfg->gain);
    size_t rf = (size_t)kh * kw, n = (size_t)o * c * rf;
    double fan_in = (double)c * rf, fan_out = (double)o * rf;
    double g = cfg->gain;
    switch (cfg->scheme) {
    case RCL_INIT_DEFAULT:
        /* torchvision's ResNet: conv kaiming_normal_(mode="fan_out",
         * nonlinearity="relu"); nn.Linear.reset_parameters:
         * kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)). gain and
         * fan_out are not used. */
        if (is_conv)
            fill_normal(out, n, sqrt(2.0) / sqrt(fan_out), rng);
        else
            fill_uniform(out, n, 1.0 / sqrt(fan_in), rng);
        return RCL_OK;
    case RCL_INIT_KAIMING_NORMAL: /* std = gain / sqrt(fan), gain sqrt(2) */
        if (g == 0) g = sqrt(2.0);
        fill_normal(out, n, g / sqrt(cfg->fan_out ? fan_out : fan_in), rng);
        return RCL_OK;
    case RCL_INIT_KAIMING_UNIFORM: /* bound = gain * sqrt(3 / fan) */
        if (g == 0) g = sqrt(2.0);
        fill_uniform(out, n, g * sqrt(3.0 / (cfg->fan_out ? fan_out : fan_in)), rng);
        return RCL_OK;
    case RCL_INIT_XAVIER_NORMAL: /* std = gain * sqrt(2 / (fan_in + fan_out)) */
        if (g == 0) g = 1.0;
        fill_normal(out, n, g * sqrt(2.0 / (fan_in + fan_out)), rng);
        return RCL_OK;
    case RCL_INIT_XAVIER_UNIFORM: /* bound = gain * sqrt(6 / (fan_in + fan_out)) */
        if (g == 0) g = 1.0;
        fill_uniform(out, n, g * sqrt(6.0 / (fan_in + fan_out)), rng);
        return RCL_OK;
    case RCL_INIT_ORTHOGONAL:
        if (g == 0) g = 1.0;
        return fill_orthogonal(out, o, (size_t)c * rf, g, rng);
    default:
        return rcl_fail(RCL_ERR_INVALID, "init: scheme %d", (int)cfg->scheme);
    }
}

/* nn.Linear's bias: U(+-1/sqrt(fan_in)), under every scheme. */
void rcl_init_linear_bias_fill(float *out, int n, int fan_in, rcl_rng *rng)
{
    fill_uniform(out, (size_t)n, 1.0 / sqrt((double)fan_in), rng);
}

/* ---- device wrappers */

static int upload(rcl_model *m, rcl_tensor *t, float *h)
{
    int st = rcl_tensor_write(m->ctx, t, h);
    free(h);
    return st;
}

static int init_weight(rcl_model *m, rcl_param *p, int is_conv, const rcl_init_config *cfg)
{
    const rcl_tensor *t = &p->value;
    float *h = malloc(rcl_tensor_count(t) * sizeof *h);
    if (!h) return rcl_fail(RCL_ERR_NOMEM, "init");
    int st = rcl_init_fill(h, t->n, t->c, t->h, t->w, is_conv, cfg, &m->rng);
    if (st != RCL_OK) {
        free(h);
        return st;
    }
    return upload(m, &p->value, h);
}

/* The weight follows cfg; the bias keeps nn.Linear's default
 * U(+-1/sqrt(fan_in)) under every scheme (drawn after the weight). */
static int init_linear(rcl_model *m, rcl_param *w, rcl_param *b, const rcl_init_config *cfg)
{
    RCL_TRY(init_weight(m, w, 0, cfg));
    if (!b) return RCL_OK;
    float *h = malloc(rcl_tensor_count(&b->value) * sizeof *h);
    if (!h) return rcl_fail(RCL_ERR_NOMEM, "init");
    rcl_init_linear_bias_fill(h, (int)rcl_tensor_count(&b->value),
                              w->value.c * w->value.h * w->value.w, &m->rng);
    return upload(m, &b->value, h);
}

int rcl_init_conv_weight(rcl_model *m, rcl_param *p) { return init_weight(m, p, 1, &m->cfg.init); }

int rcl_init_linear(rcl_model *m, rcl_param *w, rcl_param *b)
{
    return init_linear(m, w, b, &m->cfg.init);
}

/* torchvision's defaults whatever m->cfg.init says. */
static const rcl_init_config DEFAULT_INIT = {.scheme = RCL_INIT_DEFAULT};

int rcl_init_kaiming_normal_fan_out(rcl_model *m, rcl_param *p)
{
    return init_weight(m, p, 1, &DEFAULT_INIT);
}

int rcl_init_linear_default(rcl_model *m, rcl_param *w, rcl_param *b)
{
    return init_linear(m, w, b, &DEFAULT_INIT);
}

int rcl_init_constant(rcl_model *m, rcl_tensor *t, float v) { return rcl_tensor_fill(m->ctx, t, v); }

/* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): nn.Conv2d's and nn.Linear's default bias. */
int rcl_init_uniform_fan_in(rcl_model *m, rcl_param *p, int fan_in)
{
    size_t n = rcl_tensor_count(&p->value);
    double bound = 1.0 / sqrt((double)fan_in);
    float *h = malloc(n * sizeof *h);
    if (!h) return rcl_fail(RCL_ERR_NOMEM, "init");
    for (size_t i = 0; i < n; i++) h[i] = (float)((2 * rcl_rng_uniform(&m->rng) - 1) * bound);
    return upload(m, &p->value, h);
}
