/* core.c — the engine's context: arena for per-step tensors, the tape, the backward driver, the
 * gradient plumbing, the per-op profile, and parameter sets with their initialisers. */
#include "engine/internal.h"

#include <math.h>
#include <stdio.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena --------------------------------------------------------------------------------- */
typedef struct chunk { struct chunk *prev; size_t cap, used; char *mem; } chunk;

struct aspire_ctx {
    chunk *chunks;
    size_t arena_used, arena_peak;    /* bytes handed out this step / at most */
    aspire_node *tape;
    int tape_len, tape_cap;
    int training, recording, reference, failed;
    aspire_ctx_options opt;
    aspire_rng rng;
    struct aspire_dnnl *dnnl;
    void (*dnnl_free)(struct aspire_dnnl *);
    int profile;
    double prof_fwd[ASPIRE_OP_COUNT], prof_bwd[ASPIRE_OP_COUNT];
    long prof_fwd_n[ASPIRE_OP_COUNT], prof_bwd_n[ASPIRE_OP_COUNT];
};

static chunk *chunk_new(size_t cap) {
    chunk *c = aspire_malloc(sizeof *c);
    if (!c) return NULL;
    c->mem = aspire_malloc_aligned(cap);
    if (!c->mem) { aspire_free(c, sizeof *c); return NULL; }
    c->cap = cap; c->used = 0; c->prev = NULL;
    return c;
}

static void chunks_free(chunk *c) {
    while (c) {
        chunk *p = c->prev;
        aspire_free_aligned(c->mem);
        aspire_free(c, sizeof *c);
        c = p;
    }
}

void *aspire_ctx_alloc(aspire_ctx *ctx, size_t bytes) {
    bytes = (bytes + 63) & ~(size_t)63;
    if (!bytes) bytes = 64;
    chunk *c = ctx->chunks;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = c ? 2 * c->cap : ((size_t)64 << 20);
        if (cap < bytes) cap = bytes;
        chunk *n = chunk_new(cap);
        if (!n) { ctx->failed = 1; return NULL; }
        n->prev = c;
        ctx->chunks = c = n;
    }
    void *p = c->mem + c->used;
    c->used += bytes;
    ctx->arena_used += bytes;
    if (ctx->arena_used > ctx->arena_peak) ctx->arena_peak = ctx->arena_used;
    return p;
}

size_t aspire_ctx_arena_peak(const aspire_ctx *ctx) { return ctx->arena_peak; }

void aspire_ctx_reset(aspire_ctx *ctx) {
    /* Keep one chunk big enough for a whole step, so a steady loop allocates nothing. */
    chunk *c = ctx->chunks;
    if (c && c->prev) {
        size_t need = 0;
        for (chunk *k = c; k; k = k->prev) need += k->used;
        chunks_free(c);
        ctx->chunks = chunk_new(need + need / 8);
    } else if (c) {
        c->used = 0;
    }
    ctx->arena_used = 0;
    ctx->tape_len = 0;
    ctx->failed = 0;
}

/* ---- context ------------------------------------------------------------------------------- */
int aspire_ctx_new(aspire_ctx **out, const aspire_ctx_options *opt) {
    *out = NULL;
    aspire_ctx *ctx = aspire_calloc(1, sizeof *ctx);
    if (!ctx) return ASPIRE_ERR_NOMEM;
    aspire_ctx_options o = {0};
    if (opt) o = *opt;
    ctx->opt = o;
    ctx->recording = 1;
    ctx->reference = o.reference != 0;
    ctx->profile = o.profile != 0;
    aspire_rng_seed(&ctx->rng, o.seed);
    *out = ctx;
    return ASPIRE_OK;
}

void aspire_ctx_free(aspire_ctx *ctx) {
    if (!ctx) return;
    if (ctx->dnnl && ctx->dnnl_free) ctx->dnnl_free(ctx->dnnl);
    chunks_free(ctx->chunks);
    aspire_free(ctx->tape, sizeof(aspire_node) * (size_t)ctx->tape_cap);
    aspire_free(ctx, sizeof *ctx);
}

void aspire_ctx_set_training(aspire_ctx *ctx, int training) { ctx->training = training != 0; }
int aspire_ctx_training(const aspire_ctx *ctx) { return ctx->training; }
void aspire_ctx_set_recording(aspire_ctx *ctx, int recording) { ctx->recording = recording != 0; }
int aspire_ctx_recording(const aspire_ctx *ctx) { return ctx->recording; }
int aspire_ctx_reference(const aspire_ctx *ctx) { return ctx->reference; }
const aspire_ctx_options *aspire_ctx_get_options(const aspire_ctx *ctx) { return &ctx->opt; }

int aspire_threads_enter(int n) {
    int prev = omp_get_max_threads();
    if (n >= 0) aspire_set_threads(n);
    return prev;
}

void aspire_threads_leave(int prev) {
    if (prev > 0 && omp_get_max_threads() != prev) omp_set_num_threads(prev);
}
aspire_rng *aspire_ctx_rng(aspire_ctx *ctx) { return &ctx->rng; }
struct aspire_dnnl *aspire_ctx_dnnl(aspire_ctx *ctx) { return ctx->dnnl; }
void aspire_ctx_set_dnnl(aspire_ctx *ctx, struct aspire_dnnl *d, void (*free_fn)(struct aspire_dnnl *)) {
    ctx->dnnl = d;
    ctx->dnnl_free = free_fn;
}

/* ---- tensors ------------------------------------------------------------------------------- */
static int64_t shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        ASPIRE_ASSERT(shape[i] >= 0, "(dimension %d is %lld)", i, (long long)shape[i]);
        n *= shape[i];
    }
    return n;
}

aspire_tensor *aspire_tensor_new(aspire_ctx *ctx, int ndim, const int64_t *shape) {
    ASPIRE_ASSERT(ndim >= 1 && ndim <= ASPIRE_MAX_DIMS, "(ndim %d)", ndim);
    aspire_tensor *t = aspire_ctx_alloc(ctx, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->numel = shape_numel(ndim, shape);
    t->node = -1;
    t->data = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)t->numel);
    return t->data ? t : NULL;
}

aspire_tensor *aspire_tensor_zeros(aspire_ctx *ctx, int ndim, const int64_t *shape) {
    aspire_tensor *t = aspire_tensor_new(ctx, ndim, shape);
    if (t) memset(t->data, 0, sizeof(float) * (size_t)t->numel);
    return t;
}

aspire_tensor *aspire_tensor_from(aspire_ctx *ctx, int ndim, const int64_t *shape, const float *data) {
    aspire_tensor *t = aspire_tensor_new(ctx, ndim, shape);
    if (t) memcpy(t->data, data, sizeof(float) * (size_t)t->numel);
    return t;
}

int aspire_tensor_same_shape(const aspire_tensor *a, const aspire_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *aspire_shape_str(const aspire_tensor *t, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "(");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, ")");
    return buf;
}

/* ---- tape ---------------------------------------------------------------------------------- */
aspire_node *aspire_record(aspire_ctx *ctx, int op, aspire_tensor *out, int nin, aspire_tensor *const *in) {
    ASPIRE_ASSERT(nin <= ASPIRE_NODE_MAX_IN);
    out->requires_grad = 0;
    out->node = -1;
    if (!ctx->recording) return NULL;
    int any = 0;
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->requires_grad) any = 1;
    if (!any) return NULL;
    if (ctx->tape_len == ctx->tape_cap) {
        int cap = ctx->tape_cap ? 2 * ctx->tape_cap : 256;
        aspire_node *t = aspire_realloc(ctx->tape, sizeof(aspire_node) * (size_t)ctx->tape_cap,
                                        sizeof(aspire_node) * (size_t)cap);
        if (!t) { ctx->failed = 1; return NULL; }
        ctx->tape = t;
        ctx->tape_cap = cap;
    }
    aspire_node *n = &ctx->tape[ctx->tape_len];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->nin = nin;
    n->out = out;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    out->requires_grad = 1;
    out->node = ctx->tape_len++;
    return n;
}

static float *ensure_grad(aspire_ctx *ctx, aspire_tensor *t) {
    if (!t->grad) {
        ASPIRE_ASSERT(!t->persistent, "(parameter %s has no grad buffer)", t->name ? t->name : "?");
        t->grad = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)t->numel);
    }
    return t->grad;
}

float *aspire_grad_begin(aspire_ctx *ctx, aspire_tensor *t, int *acc) {
    if (!t->grad_valid) {
        *acc = 0;
        float *g = ensure_grad(ctx, t);
        if (g) t->grad_valid = 1;
        return g;
    }
    *acc = 1;
    return aspire_ctx_alloc(ctx, sizeof(float) * (size_t)t->numel);
}

void aspire_grad_end(aspire_ctx *ctx, aspire_tensor *t, float *buf, int acc) {
    (void)ctx;
    if (!acc || !buf) return;
    float *g = t->grad;
    int64_t n = t->numel;
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) g[i] += buf[i];
}

float *aspire_grad_accum(aspire_ctx *ctx, aspire_tensor *t) {
    float *g = ensure_grad(ctx, t);
    if (g && !t->grad_valid) {
        memset(g, 0, sizeof(float) * (size_t)t->numel);
        t->grad_valid = 1;
    }
    return g;
}

int aspire_backward(aspire_ctx *ctx, aspire_tensor *loss) {
    if (!loss) return aspire_error(ASPIRE_ERR_ARG, "backward: the loss is NULL (an op before it failed: %s)",
                                   aspire_errmsg());
    ASPIRE_ASSERT(loss->numel == 1, "(backward needs a scalar loss)");
    if (!loss->requires_grad) return aspire_error(ASPIRE_ERR_ARG, "backward: the loss does not depend on any parameter");
    float *g = aspire_grad_accum(ctx, loss);
    if (!g) return aspire_error_prefix(ASPIRE_ERR_NOMEM, "backward");
    g[0] += 1.0f;
    for (int i = ctx->tape_len - 1; i >= 0; i--) {
        aspire_node *n = &ctx->tape[i];
        if (!n->out->grad_valid) continue;  /* nothing flowed into this op's output */
        double t0 = ctx->profile ? aspire_now() : 0;
        aspire_op_table[n->op].backward(ctx, n);
        if (ctx->profile) { ctx->prof_bwd[n->op] += aspire_now() - t0; ctx->prof_bwd_n[n->op]++; }
        if (ctx->failed) return aspire_error_prefix(ASPIRE_ERR_NOMEM, "backward of %s", aspire_op_table[n->op].name);
    }
    return ASPIRE_OK;
}

/* ---- profile ------------------------------------------------------------------------------- */
double aspire_prof_begin(aspire_ctx *ctx) { return ctx->profile ? aspire_now() : 0.0; }

void aspire_prof_end(aspire_ctx *ctx, int op, double t0) {
    if (!ctx->profile) return;
    ctx->prof_fwd[op] += aspire_now() - t0;
    ctx->prof_fwd_n[op]++;
}

void aspire_prof_report(aspire_ctx *ctx, void *file) {
    FILE *f = file;
    double tot = 0;
    for (int i = 0; i < ASPIRE_OP_COUNT; i++) tot += ctx->prof_fwd[i] + ctx->prof_bwd[i];
    fprintf(f, "%-18s %10s %8s %10s %8s %6s\n", "op", "fwd ms", "calls", "bwd ms", "calls", "share");
    for (int i = 0; i < ASPIRE_OP_COUNT; i++) {
        if (!ctx->prof_fwd_n[i] && !ctx->prof_bwd_n[i]) continue;
        fprintf(f, "%-18s %10.1f %8ld %10.1f %8ld %5.1f%%\n", aspire_op_table[i].name, 1e3 * ctx->prof_fwd[i],
                ctx->prof_fwd_n[i], 1e3 * ctx->prof_bwd[i], ctx->prof_bwd_n[i],
                tot > 0 ? 100.0 * (ctx->prof_fwd[i] + ctx->prof_bwd[i]) / tot : 0.0);
    }
    memset(ctx->prof_fwd, 0, sizeof ctx->prof_fwd);
    memset(ctx->prof_bwd, 0, sizeof ctx->prof_bwd);
    memset(ctx->prof_fwd_n, 0, sizeof ctx->prof_fwd_n);
    memset(ctx->prof_bwd_n, 0, sizeof ctx->prof_bwd_n);
}

/* ---- parameters ---------------------------------------------------------------------------- */
struct aspire_params {
    aspire_tensor **t;
    uint8_t *trainable;
    int n, cap;
};

aspire_params *aspire_params_new(void) { return aspire_calloc(1, sizeof(aspire_params)); }

static void param_free(aspire_tensor *t) {
    aspire_free_aligned(t->data);
    aspire_free_aligned(t->grad);
    aspire_strfree((char *)t->name);
    aspire_free(t, sizeof *t);
}

void aspire_params_free(aspire_params *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) param_free(p->t[i]);
    aspire_free(p->t, sizeof(*p->t) * (size_t)p->cap);
    aspire_free(p->trainable, (size_t)p->cap);
    aspire_free(p, sizeof *p);
}

aspire_tensor *aspire_params_add(aspire_params *p, const char *name, int ndim, const int64_t *shape, int trainable) {
    ASPIRE_ASSERT(ndim >= 1 && ndim <= ASPIRE_MAX_DIMS);
    ASPIRE_ASSERT(aspire_params_find(p, name) == NULL, "(duplicate parameter name %s)", name);
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 32;
        aspire_tensor **t = aspire_realloc(p->t, sizeof(*t) * (size_t)p->cap, sizeof(*t) * (size_t)cap);
        if (!t) return NULL;
        p->t = t;
        uint8_t *tr = aspire_realloc(p->trainable, (size_t)p->cap, (size_t)cap);
        if (!tr) return NULL;
        p->trainable = tr;
        p->cap = cap;
    }
    aspire_tensor *t = aspire_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->numel = shape_numel(ndim, shape);
    t->node = -1;
    t->persistent = 1;
    t->requires_grad = trainable != 0;
    t->name = aspire_strdup(name);
    size_t bytes = sizeof(float) * (size_t)(t->numel ? t->numel : 1);
    t->data = aspire_malloc_aligned(bytes);
    if (trainable) t->grad = aspire_malloc_aligned(bytes);
    if (!t->name || !t->data || (trainable && !t->grad)) { param_free(t); return NULL; }
    memset(t->data, 0, bytes);
    if (t->grad) memset(t->grad, 0, bytes);
    p->trainable[p->n] = trainable != 0;
    p->t[p->n++] = t;
    return t;
}

int aspire_params_count(const aspire_params *p) { return p->n; }
aspire_tensor *aspire_params_at(const aspire_params *p, int i) { ASPIRE_ASSERT(i >= 0 && i < p->n); return p->t[i]; }
int aspire_params_trainable(const aspire_params *p, int i) { ASPIRE_ASSERT(i >= 0 && i < p->n); return p->trainable[i]; }

aspire_tensor *aspire_params_find(const aspire_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->t[i]->name, name) == 0) return p->t[i];
    return NULL;
}

int64_t aspire_params_numel(const aspire_params *p, int trainable_only) {
    int64_t n = 0;
    for (int i = 0; i < p->n; i++)
        if (!trainable_only || p->trainable[i]) n += p->t[i]->numel;
    return n;
}

void aspire_params_zero_grad(aspire_params *p) {
    /* A gradient that is not valid reads as zero: the first write of the next step assigns. */
    for (int i = 0; i < p->n; i++) p->t[i]->grad_valid = 0;
}

/* ---- initialisers -------------------------------------------------------------------------- */
void aspire_init_normal(aspire_tensor *t, float mean, float std, aspire_rng *rng) {
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = mean + std * aspire_rng_normal(rng);
}

void aspire_init_uniform(aspire_tensor *t, float lo, float hi, aspire_rng *rng) {
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = lo + (hi - lo) * (float)aspire_rng_uniform(rng);
}

void aspire_init_kaiming(aspire_tensor *t, int64_t fan_in, aspire_rng *rng) {
    aspire_init_normal(t, 0.0f, sqrtf(2.0f / (float)(fan_in > 0 ? fan_in : 1)), rng);
}

void aspire_init_fill(aspire_tensor *t, float v) {
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = v;
}
