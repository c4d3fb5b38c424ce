/* Checkpoint save/load over safetensors (see include/rcl/checkpoint.h). */
#include "base/base.h"
#include "model/model_internal.h"
#include "rcl/checkpoint.h"
#include "rcl/safetensors.h"
#include "base/base.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_TAG "resnet-cl-checkpoint-1"
/* Metadata key of the checksum of the byte buffer (every tensor's bytes in
 * file order): 64-bit FNV-1a, 16 lowercase hex digits. */
#define CHECKSUM_KEY "data_fnv1a64"

/* Host copies of device tensors kept alive until the write. */
typedef struct host_pool {
    void **blocks;
    int n;
} host_pool;

static void *pool_alloc(host_pool *p, size_t bytes)
{
    void **nb = realloc(p->blocks, (size_t)(p->n + 1) * sizeof *nb);
    if (!nb) return NULL;
    p->blocks = nb;
    void *b = malloc(bytes ? bytes : 1);
    if (b) p->blocks[p->n++] = b;
    return b;
}

static void pool_free(host_pool *p)
{
    for (int i = 0; i < p->n; i++) free(p->blocks[i]);
    free(p->blocks);
}

/* PyTorch's shape of a tensor of rank `ndim` (4: NCHW as is; 2: (n, c*h*w);
 * 1: flat). */
static void torch_shape(const rcl_tensor *t, int ndim, int64_t shape[4])
{
    shape[0] = t->n, shape[1] = t->c, shape[2] = t->h, shape[3] = t->w;
    if (ndim == 2) shape[1] = (int64_t)t->c * t->h * t->w;
    if (ndim == 1) shape[0] = (int64_t)rcl_tensor_count(t);
}

/* Add a device tensor under `name` with PyTorch's rank `ndim` (4: NCHW as
 * is; 2: (n, c*h*w); 1: flat). */
static int add_tensor(rcl_st_writer *w, host_pool *pool, rcl_ctx *ctx, const char *name,
                      const rcl_tensor *t, int ndim, uint64_t *hash)
{
    float *h = pool_alloc(pool, rcl_tensor_bytes(t));
    if (!h) return rcl_fail(RCL_ERR_NOMEM, "checkpoint buffer");
    RCL_TRY(rcl_tensor_read(ctx, t, h));
    int64_t shape[4];
    torch_shape(t, ndim, shape);
    RCL_TRY(rcl_st_writer_add(w, name, RCL_ST_F32, ndim, shape, h));
    *hash = rcl_fnv1a(*hash, h, rcl_tensor_bytes(t)); /* the writer writes in this order */
    return RCL_OK;
}

/* The checksum of an open file's byte buffer: the tensors' bytes in offset
 * order, which tile it exactly (rcl_st_open checks that). */
static uint64_t data_checksum(const rcl_st_file *f)
{
    uint64_t h = RCL_FNV_INIT;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const rcl_st_tensor *t = rcl_st_tensor_at(f, i);
        h = rcl_fnv1a(h, t->data, t->nbytes);
    }
    return h;
}

/* Refuse a file whose recorded checksum does not match its bytes (files
 * without one, e.g. from PyTorch, pass). */
static int verify_checksum(const rcl_st_file *f, const char *path)
{
    const char *want = rcl_st_metadata(f, CHECKSUM_KEY);
    if (!want) return RCL_OK;
    char got[17];
    snprintf(got, sizeof got, "%016" PRIx64, data_checksum(f));
    if (strcmp(want, got) != 0)
        return rcl_fail(RCL_ERR_FORMAT,
                        "checkpoint %s: tensor data checksum mismatch (file corrupted?): metadata "
                        "%s is %s, the data hashes to %s; use another copy of the file",
                        path, CHECKSUM_KEY, want, got);
    return RCL_OK;
}

static rcl_checkpoint_write_hook write_hook;
static void *write_hook_user;

void rcl_checkpoint_set_write_hook(rcl_checkpoint_write_hook fn, void *user)
{
    write_hook = fn;
    write_hook_user = user;
}

typedef struct ckpt_body {
    const rcl_st_writer *w;
    const char *path;
} ckpt_body;

/* The file's bytes to the atomic writer's temporary file, then the hook. */
static int write_ckpt(FILE *f, void *user)
{
    const ckpt_body *b = user;
    RCL_TRY(rcl_st_write_stream(b->w, f, b->path));
    if (write_hook) {
        if (fflush(f) != 0) return rcl_fail(RCL_ERR_IO, "cannot write %s: flush", b->path);
        write_hook(b->path, write_hook_user);
    }
    return RCL_OK;
}

int rcl_checkpoint_save(rcl_model *m, const rcl_optimizer *opt, const rcl_train_progress *prog,
                        const char *path)
{
    rcl_st_writer w;
    rcl_st_writer_init(&w);
    host_pool pool = {0};
    rcl_ctx *ctx = m->ctx;
    char key[160], val[256];
    int st = RCL_OK;
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    uint64_t hash = RCL_FNV_INIT;
    /* I64 counters first, so that every tensor's data stays aligned. */
    for (int i = 0; !st && i < m->nctrs; i++) {
        int64_t *v = pool_alloc(&pool, sizeof *v);
        if (!v) st = rcl_fail(RCL_ERR_NOMEM, "checkpoint");
        else {
            *v = *m->ctrs[i].value;
            st = rcl_st_writer_add(&w, m->ctrs[i].name, RCL_ST_I64, 0, NULL, v);
            hash = rcl_fnv1a(hash, v, sizeof *v);
        }
    }
    if (!st && opt) {
        int64_t *stp = pool_alloc(&pool, sizeof *stp);
        if (!stp) st = rcl_fail(RCL_ERR_NOMEM, "checkpoint");
        else {
            *stp = opt->step;
            st = rcl_st_writer_add(&w, "optim.step", RCL_ST_I64, 0, NULL, stp);
            hash = rcl_fnv1a(hash, stp, sizeof *stp);
        }
    }
    for (int i = 0; !st && i < np; i++)
        st = add_tensor(&w, &pool, ctx, ps[i]->name, &ps[i]->value, ps[i]->ndim, &hash);
    for (int i = 0; !st && i < m->nbufs; i++)
        st = add_tensor(&w, &pool, ctx, m->bufs[i].name, m->bufs[i].t, 1, &hash);
    if (!st && opt) {
        int ns = rcl_optimizer_state_count(opt);
        for (int i = 0; !st && i < np; i++)
            for (int s = 0; !st && s < ns; s++) {
                snprintf(key, sizeof key, "optim.%s.%s", ps[i]->name, rcl_optimizer_state_name(opt, s));
                st = add_tensor(&w, &pool, ctx, key, &ps[i]->state[s], ps[i]->ndim, &hash);
            }
        if (!st) st = rcl_st_writer_metadata(&w, "optimizer", opt->kind == RCL_OPTIM_ADAM ? "adam" : "sgd");
    }
    const rcl_model_config *c = &m->cfg;
    if (!st) st = rcl_st_writer_metadata(&w, "format", FORMAT_TAG);
    if (!st) st = rcl_st_writer_metadata(&w, "arch", m->arch);
#define META_INT(k, v)                                                                        \
    if (!st) {                                                                                \
        snprintf(val, sizeof val, "%lld", (long long)(v));                                    \
        st = rcl_st_writer_metadata(&w, k, val);                                              \
    }
    META_INT("num_classes", c->num_classes);
    META_INT("in_h", c->in_h);
    META_INT("in_w", c->in_w);
    META_INT("stride_on_1x1", c->stride_on == RCL_STRIDE_ON_1X1);
    /* the model's normalization and initialization: eval, predict and
     * --resume rebuild the same model from these */
    if (!st) st = rcl_st_writer_metadata(&w, "norm", rcl_norm_kind_name(c->norm.kind));
    if (!st) {
        const rcl_norm_config *n = &c->norm;
        snprintf(val, sizeof val, "groups=%d eps=%.9g momentum=%.9g lrn=%d,%.9g,%.9g,%.9g "
                 "brn=%.9g,%.9g,%d,%d", n->groups, n->eps, n->momentum, n->lrn.size, n->lrn.alpha,
                 n->lrn.beta, n->lrn.k, n->brn_r_max, n->brn_d_max, n->brn_warmup, n->brn_ramp);
        st = rcl_st_writer_metadata(&w, "norm_config", val);
    }
    if (!st) st = rcl_st_writer_metadata(&w, "init", rcl_init_scheme_name(c->init.scheme));
    if (!st) {
        snprintf(val, sizeof val, "mode=%s gain=%.9g zero_init_residual=%d",
                 c->init.fan_out ? "fan_out" : "fan_in", c->init.gain, c->init.zero_init_residual);
        st = rcl_st_writer_metadata(&w, "init_config", val);
    }
    if (prog) {
        META_INT("epoch", prog->epoch);
        if (!st) {
            snprintf(val, sizeof val, "%" PRIu64, prog->seed);
            st = rcl_st_writer_metadata(&w, "seed", val);
        }
        if (!st) {
            snprintf(val, sizeof val, "%.9g", prog->lr);
            st = rcl_st_writer_metadata(&w, "lr", val);
        }
        if (!st) {
            snprintf(val, sizeof val, "%.17g", prog->best_acc); /* exact: best.safetensors */
            st = rcl_st_writer_metadata(&w, "best_acc", val);
        }
        META_INT("normalize", prog->normalize);
        /* the mid-epoch position: doubles with 17 digits round-trip exactly */
        META_INT("step", prog->step);
        if (!st && prog->log_line[0]) st = rcl_st_writer_metadata(&w, "log_line", prog->log_line);
        if (!st && prog->plateau) {
            snprintf(val, sizeof val, "best=%.17g bad=%d cooldown=%d reductions=%d",
                     prog->plateau_best, prog->plateau_bad, prog->plateau_cooldown,
                     prog->plateau_reductions);
            st = rcl_st_writer_metadata(&w, "plateau", val);
        }
        META_INT("batch_size", prog->batch_size);
        META_INT("epoch_correct", prog->correct);
        META_INT("epoch_seen", prog->seen);
        META_INT("window_steps", prog->win);
        if (!st) {
            snprintf(val, sizeof val, "%.17g", prog->loss_sum);
            st = rcl_st_writer_metadata(&w, "epoch_loss_sum", val);
        }
        if (!st) {
            snprintf(val, sizeof val, "%.17g", prog->win_loss);
            st = rcl_st_writer_metadata(&w, "window_loss", val);
        }
    }
#undef META_INT
    if (!st && m->class_names) st = rcl_st_writer_metadata(&w, "classes", m->class_names);
    if (!st && m->input_pipeline == RCL_PIPELINE_IMAGENET) {
        snprintf(val, sizeof val, "imagenet resize=%d crop=%d", m->input_resize, m->input_crop);
        st = rcl_st_writer_metadata(&w, "pipeline", val);
        if (!st) {
            snprintf(val, sizeof val, "%.9g %.9g %.9g", m->input_std[0], m->input_std[1],
                     m->input_std[2]);
            st = rcl_st_writer_metadata(&w, "input_std", val);
        }
        if (!st && m->input_mean) { /* last: the data of every tensor stays in add order */
            int64_t shape[3] = {3, m->input_crop, m->input_crop};
            st = rcl_st_writer_add(&w, "input.mean", RCL_ST_F32, 3, shape, m->input_mean);
            hash = rcl_fnv1a(hash, m->input_mean,
                             (size_t)3 * m->input_crop * m->input_crop * sizeof(float));
        }
    } else if (!st) {
        st = rcl_st_writer_metadata(&w, "pipeline", "cifar");
    }
    if (!st) {
        snprintf(val, sizeof val, "%016" PRIx64, hash);
        st = rcl_st_writer_metadata(&w, CHECKSUM_KEY, val);
    }
    if (!st) {
        ckpt_body b = {&w, path};
        st = rcl_atomic_write(path, write_ckpt, &b);
    }
    rcl_st_writer_free(&w);
    pool_free(&pool);
    return st;
}

/* `finite`: refuse NaN/inf (weights and BN statistics: a model holding one
 * computes NaN or garbage for every input). */
static int load_f32(rcl_ctx *ctx, const rcl_st_file *f, const char *path, const char *name,
                    rcl_tensor *t, int ndim, float *scratch, int finite)
{
    const rcl_st_tensor *st = rcl_st_find(f, name);
    if (!st) return rcl_fail(RCL_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
    size_t n = rcl_tensor_count(t);
    int64_t shape[4];
    torch_shape(t, ndim, shape);
    int same = st->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = st->shape[d] == shape[d];
    if (st->dtype != RCL_ST_F32 || !same || st->numel != n)
        return rcl_fail(RCL_ERR_FORMAT, "%s: tensor '%s' is %s with %zu elements in %d dims, expected F32 with %zu in %d",
                        path, name, rcl_st_dtype_name(st->dtype), st->numel, st->ndim, n, ndim);
    RCL_TRY(rcl_st_read(f, name, RCL_ST_F32, scratch, n));
    for (size_t i = 0; finite && i < n; i++)
        if (!isfinite(scratch[i]))
            return rcl_fail(RCL_ERR_NAN,
                            "%s: tensor '%s' holds %s at element %zu: the model is broken (a "
                            "diverged run or a corrupt file); use an earlier checkpoint",
                            path, name, isnan(scratch[i]) ? "NaN" : "inf", i);
    return rcl_tensor_write(ctx, t, scratch);
}

static int parse_meta_int(const rcl_st_file *f, const char *path, const char *key, long long *out)
{
    const char *v = rcl_st_metadata(f, key);
    char *end = NULL;
    if (!v) return rcl_fail(RCL_ERR_FORMAT, "%s: metadata '%s' is missing", path, key);
    *out = strtoll(v, &end, 10);
    if (!*v || *end) return rcl_fail(RCL_ERR_FORMAT, "%s: metadata '%s' is not an integer", path, key);
    return RCL_OK;
}

/* The model config's norm and init fields from a checkpoint's metadata;
 * files written before they were recorded are BatchNorm with the default
 * init. */
static int read_model_choices(const rcl_st_file *f, const char *path, rcl_norm_config *n,
                              rcl_init_config *i)
{
    rcl_model_config d = rcl_model_config_default();
    *n = d.norm;
    *i = d.init;
    const char *kind = rcl_st_metadata(f, "norm"), *nc = rcl_st_metadata(f, "norm_config");
    const char *init = rcl_st_metadata(f, "init"), *ic = rcl_st_metadata(f, "init_config");
    if (kind && rcl_norm_kind_parse(kind, &n->kind))
        return rcl_fail(RCL_ERR_FORMAT, "%s: unknown normalization '%s' in metadata", path, kind);
    if (nc && sscanf(nc, "groups=%d eps=%g momentum=%g lrn=%d,%g,%g,%g brn=%g,%g,%d,%d", &n->groups,
                     &n->eps, &n->momentum, &n->lrn.size, &n->lrn.alpha, &n->lrn.beta, &n->lrn.k,
                     &n->brn_r_max, &n->brn_d_max, &n->brn_warmup, &n->brn_ramp) != 11)
        return rcl_fail(RCL_ERR_FORMAT, "%s: malformed norm_config metadata '%s'", path, nc);
    if (init && rcl_init_scheme_parse(init, &i->scheme))
        return rcl_fail(RCL_ERR_FORMAT, "%s: unknown init scheme '%s' in metadata", path, init);
    char mode[16] = "";
    if (ic && (sscanf(ic, "mode=%15s gain=%g zero_init_residual=%d", mode, &i->gain,
                      &i->zero_init_residual) != 3 ||
               (strcmp(mode, "fan_in") && strcmp(mode, "fan_out"))))
        return rcl_fail(RCL_ERR_FORMAT, "%s: malformed init_config metadata '%s'", path, ic);
    i->fan_out = !strcmp(mode, "fan_out");
    return RCL_OK;
}

/* The optional mid-epoch position (absent: an epoch boundary). */
static int read_position(const rcl_st_file *f, const char *path, rcl_train_progress *p)
{
    static const char *const ikeys[] = {"step", "batch_size", "epoch_correct", "epoch_seen",
                                        "window_steps"};
    long long iv[5] = {0};
    for (int k = 0; k < 5; k++)
        if (rcl_st_metadata(f, ikeys[k])) {
            RCL_TRY(parse_meta_int(f, path, ikeys[k], &iv[k]));
            if (iv[k] < 0 || (k != 2 && k != 3 && iv[k] > (1 << 30)))
                return rcl_fail(RCL_ERR_FORMAT, "%s: metadata '%s' is out of range", path, ikeys[k]);
        }
    p->step = (int)iv[0];
    p->batch_size = (int)iv[1];
    p->correct = iv[2];
    p->seen = iv[3];
    p->win = (int)iv[4];
    const char *ls = rcl_st_metadata(f, "epoch_loss_sum"), *wl = rcl_st_metadata(f, "window_loss");
    p->loss_sum = ls ? strtod(ls, NULL) : 0;
    p->win_loss = wl ? strtod(wl, NULL) : 0;
    /* the epoch's log line: one line of JSON that fits, or nothing */
    const char *ll = rcl_st_metadata(f, "log_line");
    p->log_line[0] = 0;
    if (ll && !strncmp(ll, "{\"epoch\": ", 10) && !strpbrk(ll, "\r\n") &&
        strlen(ll) < sizeof p->log_line)
        snprintf(p->log_line, sizeof p->log_line, "%s", ll);
    return RCL_OK;
}

int rcl_checkpoint_load(rcl_model *m, rcl_optimizer *opt, rcl_train_progress *prog,
                        const char *path)
{
    rcl_st_file f;
    RCL_TRY(rcl_st_open(&f, path));
    int st = verify_checksum(&f, path);
    const char *arch = rcl_st_metadata(&f, "arch");
    if (!st && arch && strcmp(arch, m->arch))
        st = rcl_fail(RCL_ERR_FORMAT, "%s holds a %s model, not the %s asked for (pass --model %s)",
                      path, arch, m->arch, arch);
    rcl_norm_config nc;
    rcl_init_config ic;
    if (!st) st = read_model_choices(&f, path, &nc, &ic);
    if (!st && rcl_st_metadata(&f, "norm") && nc.kind != m->cfg.norm.kind)
        st = rcl_fail(RCL_ERR_FORMAT, "%s holds a model with norm %s, not %s", path,
                      rcl_norm_kind_name(nc.kind), rcl_norm_kind_name(m->cfg.norm.kind));
    size_t maxn = 1;
    rcl_param **ps;
    int np = rcl_model_params(m, &ps);
    for (int i = 0; i < np; i++)
        if (rcl_tensor_count(&ps[i]->value) > maxn) maxn = rcl_tensor_count(&ps[i]->value);
    float *scratch = malloc(maxn * sizeof *scratch);
    if (!st && !scratch) st = rcl_fail(RCL_ERR_NOMEM, "checkpoint");
    for (int i = 0; !st && i < np; i++)
        st = load_f32(m->ctx, &f, path, ps[i]->name, &ps[i]->value, ps[i]->ndim, scratch, 1);
    for (int i = 0; !st && i < m->nbufs; i++)
        st = load_f32(m->ctx, &f, path, m->bufs[i].name, m->bufs[i].t, 1, scratch, 1);
    for (int i = 0; !st && i < m->nctrs; i++) {
        int64_t v;
        st = rcl_st_read(&f, m->ctrs[i].name, RCL_ST_I64, &v, 1);
        if (st == RCL_ERR_NOT_FOUND)
            st = rcl_fail(RCL_ERR_FORMAT, "%s: tensor '%s' is missing", path, m->ctrs[i].name);
        if (!st) *m->ctrs[i].value = v;
    }
    if (!st && opt) {
        const char *kind = rcl_st_metadata(&f, "optimizer");
        const char *want = opt->kind == RCL_OPTIM_ADAM ? "adam" : "sgd";
        if (!kind || strcmp(kind, want))
            st = rcl_fail(RCL_ERR_FORMAT, "%s: optimizer state is %s, expected %s", path,
                          kind ? kind : "absent", want);
        int ns = rcl_optimizer_state_count(opt);
        char key[160];
        for (int i = 0; !st && i < np; i++)
            for (int s = 0; !st && s < ns; s++) {
                snprintf(key, sizeof key, "optim.%s.%s", ps[i]->name, rcl_optimizer_state_name(opt, s));
                st = load_f32(m->ctx, &f, path, key, &ps[i]->state[s], ps[i]->ndim, scratch, 0);
            }
        int64_t step = 0;
        if (!st) st = rcl_st_read(&f, "optim.step", RCL_ST_I64, &step, 1);
        if (st == RCL_ERR_NOT_FOUND) st = rcl_fail(RCL_ERR_FORMAT, "%s: optim.step is missing", path);
        if (!st) opt->step = step;
    }
    if (!st && prog) {
        long long ep = 0;
        st = parse_meta_int(&f, path, "epoch", &ep);
        const char *seed = rcl_st_metadata(&f, "seed"), *lr = rcl_st_metadata(&f, "lr"),
                   *best = rcl_st_metadata(&f, "best_acc");
        if (!st && (!seed || !lr || !best))
            st = rcl_fail(RCL_ERR_FORMAT, "%s: training progress metadata is missing", path);
        if (!st) {
            prog->epoch = (int)ep;
            prog->seed = strtoull(seed, NULL, 10);
            prog->lr = strtof(lr, NULL);
            prog->best_acc = strtod(best, NULL);
            const char *nz = rcl_st_metadata(&f, "normalize");
            prog->normalize = nz && !strcmp(nz, "1");
            st = read_position(&f, path, prog);
        }
        const char *pl = rcl_st_metadata(&f, "plateau");
        prog->plateau = 0;
        if (!st && pl) {
            char best[64];
            int used = 0;
            if (sscanf(pl, "best=%63s bad=%d cooldown=%d reductions=%d%n", best,
                       &prog->plateau_bad, &prog->plateau_cooldown, &prog->plateau_reductions,
                       &used) != 4 || pl[used] || prog->plateau_bad < 0 ||
                prog->plateau_cooldown < 0 || prog->plateau_reductions < 0)
                st = rcl_fail(RCL_ERR_FORMAT, "%s: malformed plateau metadata '%s'", path, pl);
            else {
                prog->plateau_best = strtod(best, NULL); /* "inf" before the first epoch */
                prog->plateau = 1;
            }
        }
    }
    free(scratch);
    rcl_st_close(&f);
    if (!st) st = rcl_ctx_finish(m->ctx);
    return st;
}

int rcl_checkpoint_info_read(const char *path, rcl_checkpoint_info *info)
{
    rcl_st_file f;
    RCL_TRY(rcl_st_open(&f, path));
    memset(info, 0, sizeof *info);
    int st = RCL_OK;
    const char *arch = rcl_st_metadata(&f, "arch");
    long long k = 0, h = 0, w = 0;
    if (!arch)
        st = rcl_fail(RCL_ERR_FORMAT,
                      "%s: not a resnet-cl checkpoint: metadata 'arch', 'num_classes', 'in_h' "
                      "and 'in_w' are missing, so the model cannot be built from the file alone "
                      "(a state dict saved by PyTorch has tensors only): give --model M (eval, "
                      "predict, summary, train --weights), and --norm etc. if the model is not "
                      "BatchNorm",
                      path);
    if (!st) st = verify_checksum(&f, path);
    if (!st) st = parse_meta_int(&f, path, "num_classes", &k);
    if (!st) st = parse_meta_int(&f, path, "in_h", &h);
    if (!st) st = parse_meta_int(&f, path, "in_w", &w);
    if (!st && (k < 1 || h < 1 || w < 1 || k > (1 << 24) || h > (1 << 16) || w > (1 << 16)))
        st = rcl_fail(RCL_ERR_FORMAT, "%s: implausible classes/input size in metadata", path);
    if (!st) st = read_model_choices(&f, path, &info->norm, &info->init);
    if (!st) {
        snprintf(info->arch, sizeof info->arch, "%s", arch);
        info->num_classes = (int)k;
        info->in_h = (int)h;
        info->in_w = (int)w;
        const char *s1 = rcl_st_metadata(&f, "stride_on_1x1"), *nz = rcl_st_metadata(&f, "normalize");
        const char *cls = rcl_st_metadata(&f, "classes");
        info->stride_on_1x1 = s1 && !strcmp(s1, "1");
        info->normalize = nz && !strcmp(nz, "1");
        const char *bs = rcl_st_metadata(&f, "batch_size");
        long long b = bs ? strtoll(bs, NULL, 10) : 0;
        info->batch_size = b > 0 && b <= (1 << 16) ? (int)b : 0;
        if (cls) {
            size_t n = strlen(cls) + 1;
            info->class_names = malloc(n);
            if (info->class_names) memcpy(info->class_names, cls, n);
        }
    }
    rcl_st_close(&f);
    return st;
}

void rcl_checkpoint_set_class_names(rcl_model *m, const char *csv)
{
    free(m->class_names);
    m->class_names = NULL;
    if (csv) {
        size_t n = strlen(csv) + 1;
        m->class_names = malloc(n);
        if (m->class_names) memcpy(m->class_names, csv, n);
    }
}

int rcl_checkpoint_set_input(rcl_model *m, const rcl_input_record *in, const float *mean)
{
    if (!in || (in->pipeline != RCL_PIPELINE_CIFAR && in->pipeline != RCL_PIPELINE_IMAGENET))
        return rcl_fail(RCL_ERR_INVALID, "input record: unknown pipeline");
    if (in->pipeline == RCL_PIPELINE_IMAGENET &&
        (in->crop < 1 || in->crop > 8192 || in->resize < in->crop || in->resize > 8192))
        return rcl_fail(RCL_ERR_INVALID, "input record: resize %d / crop %d", in->resize, in->crop);
    float *copy = NULL;
    if (mean && in->pipeline == RCL_PIPELINE_IMAGENET) {
        size_t n = (size_t)3 * in->crop * in->crop;
        if (!(copy = malloc(n * sizeof *copy))) return rcl_fail(RCL_ERR_NOMEM, "mean image");
        memcpy(copy, mean, n * sizeof *copy);
    }
    free(m->input_mean);
    m->input_mean = copy;
    m->input_pipeline = in->pipeline;
    m->input_resize = in->resize;
    m->input_crop = in->crop;
    for (int c = 0; c < 3; c++) m->input_std[c] = in->std[c] > 0 ? in->std[c] : 1.0f;
    return RCL_OK;
}

int rcl_checkpoint_read_input(const char *path, rcl_input_record *in, float **mean)
{
    rcl_st_file f;
    RCL_TRY(rcl_st_open(&f, path));
    memset(in, 0, sizeof *in);
    if (mean) *mean = NULL;
    int st = verify_checksum(&f, path);
    const char *p = rcl_st_metadata(&f, "pipeline");
    if (!st && p && strcmp(p, "cifar")) {
        const char *sd = rcl_st_metadata(&f, "input_std");
        int r = 0, c = 0, used = 0;
        if (sscanf(p, "imagenet resize=%d crop=%d%n", &r, &c, &used) != 2 || p[used] ||
            c < 1 || c > 8192 || r < c || r > 8192)
            st = rcl_fail(RCL_ERR_FORMAT, "%s: metadata 'pipeline' is \"%s\", not \"cifar\" or "
                          "\"imagenet resize=R crop=C\"", path, p);
        else if (!sd || sscanf(sd, "%f %f %f", &in->std[0], &in->std[1], &in->std[2]) != 3 ||
                 !(in->std[0] > 0) || !(in->std[1] > 0) || !(in->std[2] > 0))
            st = rcl_fail(RCL_ERR_FORMAT, "%s: metadata 'input_std' is missing or not three "
                          "positive numbers", path);
        if (!st) {
            in->pipeline = RCL_PIPELINE_IMAGENET;
            in->resize = r;
            in->crop = c;
        }
        const rcl_st_tensor *t = rcl_st_find(&f, "input.mean");
        if (!st && t && mean) {
            size_t n = (size_t)3 * c * c;
            if (t->ndim != 3 || t->shape[0] != 3 || t->shape[1] != c || t->shape[2] != c)
                st = rcl_fail(RCL_ERR_FORMAT, "%s: tensor 'input.mean' is not 3 x %d x %d", path,
                              c, c);
            else if (!(*mean = malloc(n * sizeof **mean)))
                st = rcl_fail(RCL_ERR_NOMEM, "mean image");
            else if ((st = rcl_st_read(&f, "input.mean", RCL_ST_F32, *mean, n))) {
                free(*mean);
                *mean = NULL;
            }
        }
    }
    rcl_st_close(&f);
    return st;
}
