/* Data-parallel training over MPI and gradient accumulation (rcl/dist.h,
 * docs/distributed.md). The only file that calls MPI; RCL_HAVE_MPI=0 builds
 * the same API for a single process. */
#include "runtime/internal.h"
#include "base/base.h"
#include "rcl/dist.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if RCL_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_local_rank = 0, g_local_size = 1, g_inited = 0;

int rcl_dist_have_mpi(void) { return RCL_HAVE_MPI; }

static int env_int(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) return -1;
    char *end;
    long x = strtol(v, &end, 10);
    return *end || x < 0 || x > 1 << 24 ? -1 : (int)x;
}

int rcl_dist_launch_size(const char **var)
{
    /* SLURM_STEP_NUM_TASKS, not SLURM_NTASKS: srun sets it for the tasks of
     * a step, while SLURM_NTASKS is also in an sbatch script's own
     * environment, where a single process runs */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS",
                                       NULL};
    for (int i = 0; vars[i]; i++) {
        int v = env_int(vars[i]);
        if (v > 1) {
            if (var) *var = vars[i];
            return v;
        }
    }
    if (var) *var = NULL;
    return 1;
}

int rcl_dist_init(int *argc, char ***argv)
{
    if (g_inited) return RCL_OK;
    const char *var;
    int launched = rcl_dist_launch_size(&var);
#if RCL_HAVE_MPI
    if (launched > 1) {
        int provided = 0;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return rcl_fail(RCL_ERR_IO, "MPI_Init failed");
        g_inited = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &g_size);
        MPI_Comm local;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &local);
        MPI_Comm_rank(local, &g_local_rank);
        MPI_Comm_size(local, &g_local_size);
        MPI_Comm_free(&local);
        int lr = env_int("OMPI_COMM_WORLD_LOCAL_RANK");
        if (lr < 0) lr = env_int("SLURM_LOCALID");
        if (lr >= 0) g_local_rank = lr;
    }
    return RCL_OK;
#else
    (void)argc;
    (void)argv;
    if (launched > 1)
        return rcl_fail(RCL_ERR_UNSUPPORTED, "started as one of %d processes (%s=%d), but this "
                        "resnet-cl was built without MPI; rebuild it with -DRCL_MPI=ON "
                        "(libopenmpi-dev) or start a single process", launched, var, launched);
    return RCL_OK;
#endif
}

void rcl_dist_finalize(void)
{
#if RCL_HAVE_MPI
    if (g_inited) MPI_Finalize();
#endif
    g_inited = 0;
}

int rcl_dist_rank(void) { return g_rank; }
int rcl_dist_size(void) { return g_size; }
int rcl_dist_local_rank(void) { return g_local_rank; }
int rcl_dist_local_size(void) { return g_local_size; }

void rcl_dist_hostname(char *buf, size_t cap)
{
    if (gethostname(buf, cap) != 0) snprintf(buf, cap, "?");
    buf[cap - 1] = 0;
}

void rcl_dist_abort(int code)
{
#if RCL_HAVE_MPI
    if (g_inited && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)code;
#endif
}

/* ---- collectives */

int rcl_dist_barrier(void)
{
#if RCL_HAVE_MPI
    if (g_size > 1 && MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS)
        return rcl_fail(RCL_ERR_IO, "MPI_Barrier failed");
#endif
    return RCL_OK;
}

int rcl_dist_bcast(void *buf, size_t bytes, int root)
{
#if RCL_HAVE_MPI
    if (g_size < 2) return RCL_OK;
    char *p = buf;
    while (bytes) { /* counts are int */
        int c = bytes > (1u << 30) ? 1 << 30 : (int)bytes;
        if (MPI_Bcast(p, c, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            return rcl_fail(RCL_ERR_IO, "MPI_Bcast failed");
        p += c;
        bytes -= (size_t)c;
    }
#else
    (void)buf, (void)bytes, (void)root;
#endif
    return RCL_OK;
}

int rcl_dist_sum_f64(double *v, int n)
{
#if RCL_HAVE_MPI
    if (g_size > 1 && MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return rcl_fail(RCL_ERR_IO, "MPI_Allreduce failed");
#else
    (void)v, (void)n;
#endif
    return RCL_OK;
}

int rcl_dist_max_i32(int *v, int n)
{
#if RCL_HAVE_MPI
    if (g_size > 1 && MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
        return rcl_fail(RCL_ERR_IO, "MPI_Allreduce failed");
#else
    (void)v, (void)n;
#endif
    return RCL_OK;
}

int rcl_dist_bn_reduce(void *user, double *v, int n)
{
    (void)user;
    return rcl_dist_sum_f64(v, n);
}

/* Sum of float arrays in place over the ranks. */
static int sum_f32(float *v, size_t n)
{
#if RCL_HAVE_MPI
    while (n) {
        int c = n > (1u << 30) ? 1 << 30 : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, v, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return rcl_fail(RCL_ERR_IO, "MPI_Allreduce failed");
        v += c;
        n -= (size_t)c;
    }
#else
    (void)v, (void)n;
#endif
    return RCL_OK;
}

static int bcast_tensor(rcl_ctx *ctx, rcl_tensor *t, float *tmp, int root)
{
    if (!t->buf) return RCL_OK;
    RCL_TRY(rcl_tensor_read(ctx, t, tmp));
    RCL_TRY(rcl_dist_bcast(tmp, rcl_tensor_bytes(t), root));
    return rcl_tensor_write(ctx, t, tmp);
}

int rcl_dist_bcast_model(rcl_model *m, rcl_optimizer *opt, int root)
{
    if (g_size < 2) return RCL_OK;
    rcl_ctx *ctx = rcl_model_ctx(m);
    rcl_param **ps;
    rcl_buffer *bufs;
    rcl_counter *ctrs;
    int np = rcl_model_params(m, &ps), nb = rcl_model_buffers(m, &bufs), nc = rcl_model_counters(m, &ctrs);
    size_t most = 1;
    for (int i = 0; i < np; i++)
        if (rcl_tensor_count(&ps[i]->value) > most) most = rcl_tensor_count(&ps[i]->value);
    for (int i = 0; i < nb; i++)
        if (rcl_tensor_count(bufs[i].t) > most) most = rcl_tensor_count(bufs[i].t);
    float *tmp = malloc(most * sizeof(float));
    if (!tmp) return rcl_fail(RCL_ERR_NOMEM, "broadcast buffer");
    int st = RCL_OK, ns = opt ? rcl_optimizer_state_count(opt) : 0;
    for (int i = 0; st == RCL_OK && i < np; i++) {
        st = bcast_tensor(ctx, &ps[i]->value, tmp, root);
        for (int s = 0; st == RCL_OK && s < ns; s++) st = bcast_tensor(ctx, &ps[i]->state[s], tmp, root);
    }
    for (int i = 0; st == RCL_OK && i < nb; i++) st = bcast_tensor(ctx, bufs[i].t, tmp, root);
    for (int i = 0; st == RCL_OK && i < nc; i++) st = rcl_dist_bcast(ctrs[i].value, sizeof(int64_t), root);
    if (st == RCL_OK && opt) st = rcl_dist_bcast(&opt->step, sizeof opt->step, root);
    free(tmp);
    return st;
}

int rcl_dist_check_sync(rcl_model *m, uint64_t *hash, int *first_bad)
{
    rcl_ctx *ctx = rcl_model_ctx(m);
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    uint64_t h = RCL_FNV_INIT;
    size_t most = 1;
    for (int i = 0; i < np; i++)
        if (rcl_tensor_count(&ps[i]->value) > most) most = rcl_tensor_count(&ps[i]->value);
    float *tmp = malloc(most * sizeof(float));
    if (!tmp) return rcl_fail(RCL_ERR_NOMEM, "checksum buffer");
    int st = RCL_OK;
    for (int i = 0; st == RCL_OK && i < np; i++) {
        st = rcl_tensor_read(ctx, &ps[i]->value, tmp);
        if (st == RCL_OK) h = rcl_fnv1a(h, tmp, rcl_tensor_bytes(&ps[i]->value));
    }
    free(tmp);
    RCL_TRY(st);
    *hash = h;
    uint64_t h0 = h;
    RCL_TRY(rcl_dist_bcast(&h0, sizeof h0, 0));
    int bad = h0 != h ? g_rank : g_size; /* the lowest rank that differs */
    int neg = -bad;
    RCL_TRY(rcl_dist_max_i32(&neg, 1));
    *first_bad = -neg < g_size ? -neg : -1;
    if (*first_bad >= 0)
        return rcl_fail(RCL_ERR_INVALID, "the weights of rank %d differ from rank 0's", *first_bad);
    return RCL_OK;
}

int rcl_dist_split(int n, int parts, int j, int *off)
{
    int base = n / parts, rem = n % parts;
    *off = j * base + (j < rem ? j : rem);
    return base + (j < rem);
}

/* ---- the training step */

/* Launch the all-reduce of the host sums of parameters lo..hi-1. */
static int launch_bucket(rcl_dist_trainer *t, int lo, int hi)
{
    if (lo >= hi) return RCL_OK;
#if RCL_HAVE_MPI
    if (t->nreq == t->reqcap) {
        int cap = t->reqcap ? 2 * t->reqcap : 16;
        void *p = realloc(t->reqs, (size_t)cap * sizeof(MPI_Request));
        if (!p) return rcl_fail(RCL_ERR_NOMEM, "all-reduce requests");
        t->reqs = p;
        t->reqcap = cap;
    }
    size_t a = t->acc.offset[lo], n = t->acc.offset[hi] - a;
    if (n > (size_t)1 << 30) return rcl_fail(RCL_ERR_INVALID, "gradient bucket of %zu floats", n);
    MPI_Request *rq = (MPI_Request *)t->reqs + t->nreq;
    if (MPI_Iallreduce(MPI_IN_PLACE, t->acc.host + a, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                       rq) != MPI_SUCCESS)
        return rcl_fail(RCL_ERR_IO, "MPI_Iallreduce failed");
    t->nreq++;
    t->buckets++;
#else
    (void)t, (void)lo, (void)hi;
#endif
    return RCL_OK;
}

/* rcl_grad_hook during the last micro-batch's backward: parameters
 * first_ready..ready_lo-1 are new; add them (reading them waits for their
 * kernels), then launch the open bucket once it is large enough (or
 * complete), and let MPI progress the ones in flight. */
static int grad_ready(void *user, int first_ready)
{
    rcl_dist_trainer *t = user;
    if (first_ready >= t->ready_lo) return RCL_OK;
    RCL_TRY(rcl_grad_accum_add(&t->acc, first_ready, t->ready_lo, t->weight, t->first));
    t->ready_lo = first_ready;
    size_t bytes = (t->acc.offset[t->bucket_hi] - t->acc.offset[t->ready_lo]) * sizeof(float);
    if (bytes >= t->bucket_bytes || t->ready_lo == 0) {
        RCL_TRY(launch_bucket(t, t->ready_lo, t->bucket_hi));
        t->bucket_hi = t->ready_lo;
    }
#if RCL_HAVE_MPI
    if (t->nreq) {
        double t0 = rcl_now_s();
        int done;
        MPI_Testall(t->nreq, t->reqs, &done, MPI_STATUSES_IGNORE);
        t->comm_wait_s += rcl_now_s() - t0;
    }
#endif
    return RCL_OK;
}

int rcl_dist_trainer_init(rcl_dist_trainer *t, rcl_model *m, rcl_optimizer *opt, rcl_batch *b,
                          int accumulate, int overlap)
{
    memset(t, 0, sizeof *t);
    if (accumulate < 1) return rcl_fail(RCL_ERR_INVALID, "accumulate %d", accumulate);
    t->model = m;
    t->opt = opt;
    t->batch = b;
    t->accumulate = accumulate;
    t->overlap = overlap && g_size > 1;
    t->bucket_bytes = (size_t)25 << 20; /* PyTorch DDP's bucket_cap_mb */
    /* RESNET_CL_BUCKET_KB: another bucket size (tests: many buckets on a small model) */
    const char *v = getenv("RESNET_CL_BUCKET_KB");
    if (v && *v && atoi(v) > 0) t->bucket_bytes = (size_t)atoi(v) << 10;
    if (accumulate == 1 && g_size == 1) return RCL_OK;
    return rcl_grad_accum_init(&t->acc, m);
}

void rcl_dist_trainer_free(rcl_dist_trainer *t)
{
    rcl_model_set_grad_hook(t->model, NULL, NULL);
    rcl_grad_accum_free(&t->acc);
    free(t->reqs);
    memset(t, 0, sizeof *t);
}

/* Upload images off..off+k-1 of the global batch into the micro-batch. */
static int upload_part(rcl_batch *b, rcl_ctx *ctx, const float *x, const int *labels, int off, int k)
{
    size_t per = (size_t)b->x.c * b->x.h * b->x.w;
    memcpy(b->host_x, x + (size_t)off * per, (size_t)k * per * sizeof(float));
    memcpy(b->host_labels, labels + off, (size_t)k * sizeof(int));
    return rcl_batch_upload(b, ctx, k);
}

int rcl_dist_train_step(rcl_dist_trainer *t, const float *x, const int *labels, int n,
                        rcl_step_result *r)
{
    double t_step = rcl_now_s();
    rcl_ctx *ctx = rcl_model_ctx(t->model);
    int K = t->accumulate, parts = g_size * K, st = RCL_OK;
    if (n < parts)
        return rcl_fail(RCL_ERR_INVALID, "a batch of %d images cannot be split into %d parts "
                        "(%d ranks x %d micro-batches)", n, parts, g_size, K);
    if (K == 1 && g_size == 1) { /* the plain step, bit for bit */
        st = upload_part(t->batch, ctx, x, labels, 0, n);
        if (!st) st = rcl_train_step(t->model, t->opt, t->batch, n, r);
        t->step_s += rcl_now_s() - t_step;
        return st;
    }
    double sums[3] = {0, 0, 0}; /* loss * n_i, correct, images */
    t->buckets = 0;
    for (int i = 0; i < K && st == RCL_OK; i++) {
        int off, k = rcl_dist_split(n, parts, g_rank * K + i, &off);
        rcl_step_result ri;
        st = upload_part(t->batch, ctx, x, labels, off, k);
        float w = (float)k / (float)n;
        int last = i == K - 1, hooked = last && t->overlap;
        if (hooked) {
            t->ready_lo = t->bucket_hi = t->acc.nparams;
            t->weight = w;
            t->first = i == 0;
            t->nreq = 0;
            rcl_model_set_grad_hook(t->model, grad_ready, t);
        }
        if (!st) st = rcl_train_forward_backward(t->model, t->batch, k, &ri);
        if (hooked) rcl_model_set_grad_hook(t->model, NULL, NULL);
        if (!st && !hooked) st = rcl_grad_accum_add(&t->acc, 0, t->acc.nparams, w, i == 0);
        if (!st) {
            sums[0] += (double)ri.loss * k;
            sums[1] += ri.correct;
            sums[2] += k;
        }
    }
    double t0 = rcl_now_s();
#if RCL_HAVE_MPI
    if (t->nreq) { /* wait even after a failure: the buffers are in use */
        if (MPI_Waitall(t->nreq, t->reqs, MPI_STATUSES_IGNORE) != MPI_SUCCESS && !st)
            st = rcl_fail(RCL_ERR_IO, "MPI_Waitall failed");
        t->nreq = 0;
    }
#endif
    RCL_TRY(st);
    if (!t->overlap && g_size > 1) {
        t->buckets = 1;
        RCL_TRY(sum_f32(t->acc.host, t->acc.count));
    }
    t->comm_wait_s += rcl_now_s() - t0;
    RCL_TRY(rcl_grad_accum_store(&t->acc));
    RCL_TRY(rcl_optimizer_step(t->opt));
    t0 = rcl_now_s();
    RCL_TRY(rcl_dist_sum_f64(sums, 3));
    t->comm_wait_s += rcl_now_s() - t0;
    r->loss = (float)(sums[0] / sums[2]);
    r->correct = (int)sums[1];
    r->n = (int)sums[2];
    t->step_s += rcl_now_s() - t_step;
    return RCL_OK;
}

int rcl_dist_evaluate(rcl_model *m, rcl_batch *b, const rcl_batch_source *src, float *x,
                      int *labels, double *mean_loss, int *correct, int *total)
{
    rcl_ctx *ctx = rcl_model_ctx(m);
    double s[3] = {0, 0, 0}; /* loss * n, correct, n */
    int n = 0, cap = b->x.n;
    RCL_TRY(rcl_source_begin_epoch_at(src, 0, 0));
    for (;;) {
        RCL_TRY(rcl_source_next(src, x, labels, &n));
        if (n == 0) break;
        int off, k = rcl_dist_split(n, g_size, g_rank, &off);
        for (int done = 0; done < k;) {
            int c = k - done < cap ? k - done : cap;
            RCL_TRY(upload_part(b, ctx, x, labels, off + done, c));
            rcl_step_result r;
            RCL_TRY(rcl_eval_step(m, b, c, &r));
            s[0] += (double)r.loss * c;
            s[1] += r.correct;
            s[2] += c;
            done += c;
        }
    }
    RCL_TRY(rcl_dist_sum_f64(s, 3));
    *mean_loss = s[2] > 0 ? s[0] / s[2] : 0;
    *correct = (int)s[1];
    *total = (int)s[2];
    return RCL_OK;
}
