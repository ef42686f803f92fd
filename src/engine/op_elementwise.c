/* op_elementwise.c — elementwise ops, forward and backward side by side: add, sub, mul (same shape
 * or y broadcast over x's leading dims), scale, the activations (relu, silu, gelu, sigmoid, tanh),
 * dropout, and the full reductions sum and mean. add and relu sit on the ResNet's hot path: their
 * loops are OpenMP-parallel and vectorisable, and relu's backward reads its own output instead of
 * saving a mask. */
#include "engine/dense.h"
#include "engine/ops.h"

#include <math.h>
#include <string.h>

/* Loops over [0, n) that either assign or add EXPR into d[i] (the gradient destination), in
 * parallel for large n. EXPR may use i. */
#define GRAD_LOOP(n, d, acc, EXPR)                                                             \
    do {                                                                                       \
        int64_t n_ = (n);                                                                      \
        float *d_ = (d);                                                                       \
        if (acc) {                                                                             \
            _Pragma("omp parallel for simd schedule(static) if (n_ > ASPIRE_PAR_MIN)")          \
            for (int64_t i = 0; i < n_; i++) d_[i] += (EXPR);                                  \
        } else {                                                                               \
            _Pragma("omp parallel for simd schedule(static) if (n_ > ASPIRE_PAR_MIN)")          \
            for (int64_t i = 0; i < n_; i++) d_[i] = (EXPR);                                   \
        }                                                                                      \
    } while (0)

static aspire_tensor *new_like(aspire_ctx *ctx, const aspire_tensor *x) {
    return aspire_tensor_new(ctx, x->ndim, x->shape);
}

/* ---- add, sub, mul ------------------------------------------------------------------------- */
/* x (...), y (...) same shape, y (x's trailing dims) or y (1): rows = x->numel / y->numel. */
#define BINARY_FWD(OP)                                                                         \
    do {                                                                                       \
        if (cols == n) {                                                                       \
            _Pragma("omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)")           \
            for (int64_t i = 0; i < n; i++) o[i] = a[i] OP b[i];                               \
        } else if (cols == 1) {                                                                \
            float s = b[0];                                                                    \
            _Pragma("omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)")           \
            for (int64_t i = 0; i < n; i++) o[i] = a[i] OP s;                                  \
        } else {                                                                               \
            _Pragma("omp parallel for schedule(static) if (n > ASPIRE_PAR_MIN)")                \
            for (int64_t r = 0; r < rows; r++) {                                               \
                const float *ar = a + r * cols;                                                \
                float *orow = o + r * cols;                                                    \
                _Pragma("omp simd")                                                            \
                for (int64_t c = 0; c < cols; c++) orow[c] = ar[c] OP b[c];                    \
            }                                                                                  \
        }                                                                                      \
    } while (0)

static aspire_tensor *binary(aspire_ctx *ctx, int op, aspire_tensor *x, aspire_tensor *y) {
    if (!x || !y) return NULL;
    aspire_check_broadcast(aspire_op_table[op].name, x, y);
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *out = new_like(ctx, x);
    if (!out) return NULL;
    const float *a = x->data, *b = y->data;
    float *o = out->data;
    int64_t n = x->numel, cols = y->numel, rows = cols ? n / cols : 0;
    if (op == ASPIRE_OP_ADD) BINARY_FWD(+);
    else if (op == ASPIRE_OP_SUB) BINARY_FWD(-);
    else BINARY_FWD(*);
    aspire_record(ctx, op, out, 2, (aspire_tensor *[]){x, y});
    aspire_prof_end(ctx, op, t0);
    return out;
}

aspire_tensor *aspire_add(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *y) { return binary(ctx, ASPIRE_OP_ADD, x, y); }
aspire_tensor *aspire_sub(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *y) { return binary(ctx, ASPIRE_OP_SUB, x, y); }
aspire_tensor *aspire_mul(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *y) { return binary(ctx, ASPIRE_OP_MUL, x, y); }

/* d(x) += g for add and sub. */
static void pass_through(aspire_ctx *ctx, aspire_tensor *x, const float *g) {
    int acc;
    float *d = aspire_grad_dst(ctx, x, &acc);
    if (!d) return;
    if (!acc) { memcpy(d, g, sizeof(float) * (size_t)x->numel); return; }
    GRAD_LOOP(x->numel, d, 1, g[i]);
}

/* d(y) for add (sign 1) and sub (sign -1): g summed over the broadcast rows. */
static void add_bwd_y(aspire_ctx *ctx, aspire_node *node, float sign) {
    aspire_tensor *x = node->in[0], *y = node->in[1];
    const float *g = node->out->grad;
    int acc;
    float *d = aspire_grad_dst(ctx, y, &acc);
    if (!d) return;
    if (y->numel == x->numel) GRAD_LOOP(y->numel, d, acc, sign * g[i]);
    else aspire_colsum(d, g, NULL, x->numel / y->numel, y->numel, sign, acc);
}

void aspire_bwd_add(aspire_ctx *ctx, aspire_node *node) {
    if (aspire_needs_grad(node->in[0])) pass_through(ctx, node->in[0], node->out->grad);
    if (aspire_needs_grad(node->in[1])) add_bwd_y(ctx, node, 1.0f);
}

void aspire_bwd_sub(aspire_ctx *ctx, aspire_node *node) {
    if (aspire_needs_grad(node->in[0])) pass_through(ctx, node->in[0], node->out->grad);
    if (aspire_needs_grad(node->in[1])) add_bwd_y(ctx, node, -1.0f);
}

void aspire_bwd_mul(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0], *y = node->in[1];
    const float *g = node->out->grad;
    int64_t n = x->numel, cols = y->numel, rows = n / cols;
    int acc;
    if (aspire_needs_grad(x)) {  /* d(x) = g * y, y broadcast */
        float *d = aspire_grad_dst(ctx, x, &acc);
        if (!d) return;
        const float *b = y->data;
        if (cols == n) {
            GRAD_LOOP(n, d, acc, g[i] * b[i]);
        } else if (cols == 1) {
            float s = b[0];
            GRAD_LOOP(n, d, acc, g[i] * s);
        } else {
#pragma omp parallel for schedule(static) if (n > ASPIRE_PAR_MIN)
            for (int64_t r = 0; r < rows; r++) {
                float *dr = d + r * cols;
                const float *gr = g + r * cols;
                if (acc)
                    for (int64_t c = 0; c < cols; c++) dr[c] += gr[c] * b[c];
                else
                    for (int64_t c = 0; c < cols; c++) dr[c] = gr[c] * b[c];
            }
        }
    }
    if (aspire_needs_grad(y)) {  /* d(y) = g * x, summed over the broadcast rows */
        float *d = aspire_grad_dst(ctx, y, &acc);
        if (!d) return;
        const float *a = x->data;
        if (cols == n) GRAD_LOOP(n, d, acc, g[i] * a[i]);
        else aspire_colsum(d, g, a, rows, cols, 1.0f, acc);
    }
}

/* ---- scale --------------------------------------------------------------------------------- */
aspire_tensor *aspire_scale(aspire_ctx *ctx, aspire_tensor *x, float a, float b) {
    if (!x) return NULL;
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *out = new_like(ctx, x);
    if (!out) return NULL;
    const float *xi = x->data;
    float *o = out->data;
    int64_t n = x->numel;
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) o[i] = a * xi[i] + b;
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_SCALE, out, 1, &x);
    if (node) node->f[0] = a;
    aspire_prof_end(ctx, ASPIRE_OP_SCALE, t0);
    return out;
}

void aspire_bwd_scale(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0];
    const float *g = node->out->grad;
    float a = node->f[0];
    int acc;
    float *d = aspire_grad_dst(ctx, x, &acc);
    if (d) GRAD_LOOP(x->numel, d, acc, a * g[i]);
}

/* ---- activations --------------------------------------------------------------------------- */
#define GELU_C 0.7978845608028654f  /* sqrt(2 / pi) */
#define GELU_A 0.044715f

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

static aspire_tensor *unary(aspire_ctx *ctx, int op, aspire_tensor *x) {
    if (!x) return NULL;
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *out = new_like(ctx, x);
    if (!out) return NULL;
    const float *a = x->data;
    float *o = out->data;
    int64_t n = x->numel;
    switch (op) {
    case ASPIRE_OP_RELU:
        /* a < 0 ? 0 : a keeps NaN as NaN (as PyTorch does), and compiles to a vector max/blend. */
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
        for (int64_t i = 0; i < n; i++) o[i] = a[i] < 0.0f ? 0.0f : a[i];
        break;
    case ASPIRE_OP_SILU:
#pragma omp parallel for schedule(static) if (n > ASPIRE_PAR_MIN / 4)
        for (int64_t i = 0; i < n; i++) o[i] = a[i] * sigmoidf(a[i]);
        break;
    case ASPIRE_OP_GELU:
#pragma omp parallel for schedule(static) if (n > ASPIRE_PAR_MIN / 4)
        for (int64_t i = 0; i < n; i++) {
            float v = a[i];
            o[i] = 0.5f * v * (1.0f + tanhf(GELU_C * (v + GELU_A * v * v * v)));
        }
        break;
    case ASPIRE_OP_SIGMOID:
#pragma omp parallel for schedule(static) if (n > ASPIRE_PAR_MIN / 4)
        for (int64_t i = 0; i < n; i++) o[i] = sigmoidf(a[i]);
        break;
    case ASPIRE_OP_TANH:
#pragma omp parallel for schedule(static) if (n > ASPIRE_PAR_MIN / 4)
        for (int64_t i = 0; i < n; i++) o[i] = tanhf(a[i]);
        break;
    default: ASPIRE_ASSERT(0, "(not a unary op: %d)", op);
    }
    aspire_record(ctx, op, out, 1, &x);
    aspire_prof_end(ctx, op, t0);
    return out;
}

aspire_tensor *aspire_relu(aspire_ctx *ctx, aspire_tensor *x) { return unary(ctx, ASPIRE_OP_RELU, x); }
aspire_tensor *aspire_silu(aspire_ctx *ctx, aspire_tensor *x) { return unary(ctx, ASPIRE_OP_SILU, x); }
aspire_tensor *aspire_gelu(aspire_ctx *ctx, aspire_tensor *x) { return unary(ctx, ASPIRE_OP_GELU, x); }
aspire_tensor *aspire_sigmoid(aspire_ctx *ctx, aspire_tensor *x) { return unary(ctx, ASPIRE_OP_SIGMOID, x); }
aspire_tensor *aspire_tanh(aspire_ctx *ctx, aspire_tensor *x) { return unary(ctx, ASPIRE_OP_TANH, x); }

void aspire_bwd_relu(aspire_ctx *ctx, aspire_node *node) {
    const float *y = node->out->data, *g = node->out->grad;
    int acc;
    float *d = aspire_grad_dst(ctx, node->in[0], &acc);
    if (d) GRAD_LOOP(node->out->numel, d, acc, y[i] > 0.0f ? g[i] : 0.0f);
}

static inline float silu_grad(float v) {
    float s = sigmoidf(v);
    return s * (1.0f + v * (1.0f - s));
}

static inline float gelu_grad(float v) {
    float u = GELU_C * (v + GELU_A * v * v * v), t = tanhf(u);
    return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_C * (1.0f + 3.0f * GELU_A * v * v);
}

void aspire_bwd_silu(aspire_ctx *ctx, aspire_node *node) {
    const float *x = node->in[0]->data, *g = node->out->grad;
    int acc;
    float *d = aspire_grad_dst(ctx, node->in[0], &acc);
    if (d) GRAD_LOOP(node->out->numel, d, acc, g[i] * silu_grad(x[i]));
}

void aspire_bwd_gelu(aspire_ctx *ctx, aspire_node *node) {
    const float *x = node->in[0]->data, *g = node->out->grad;
    int acc;
    float *d = aspire_grad_dst(ctx, node->in[0], &acc);
    if (d) GRAD_LOOP(node->out->numel, d, acc, g[i] * gelu_grad(x[i]));
}

void aspire_bwd_sigmoid(aspire_ctx *ctx, aspire_node *node) {
    const float *y = node->out->data, *g = node->out->grad;
    int acc;
    float *d = aspire_grad_dst(ctx, node->in[0], &acc);
    if (d) GRAD_LOOP(node->out->numel, d, acc, g[i] * y[i] * (1.0f - y[i]));
}

void aspire_bwd_tanh(aspire_ctx *ctx, aspire_node *node) {
    const float *y = node->out->data, *g = node->out->grad;
    int acc;
    float *d = aspire_grad_dst(ctx, node->in[0], &acc);
    if (d) GRAD_LOOP(node->out->numel, d, acc, g[i] * (1.0f - y[i] * y[i]));
}

/* ---- dropout ------------------------------------------------------------------------------- */
/* Training mode: each element is kept with probability 1 - p and scaled by 1 / (1 - p) (inverted
 * dropout), drawn from the context's generator in element order, so the mask depends on the seed
 * only. Outside training, or with p == 0, returns x itself. */
aspire_tensor *aspire_dropout(aspire_ctx *ctx, aspire_tensor *x, float p) {
    if (!x) return NULL;
    ASPIRE_ASSERT(p >= 0.0f && p <= 1.0f, "(dropout p = %g)", (double)p);
    if (!aspire_ctx_training(ctx) || p == 0.0f) return x;
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *out = new_like(ctx, x);
    uint8_t *mask = aspire_ctx_alloc(ctx, (size_t)x->numel);
    if (!out || !mask) return NULL;
    aspire_rng *rng = aspire_ctx_rng(ctx);
    int64_t n = x->numel;
    for (int64_t i = 0; i < n; i++) mask[i] = aspire_rng_uniform(rng) >= (double)p;
    float s = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    const float *a = x->data;
    float *o = out->data;
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) o[i] = mask[i] ? a[i] * s : 0.0f;
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_DROPOUT, out, 1, &x);
    if (node) { node->saved = mask; node->f[0] = s; }
    aspire_prof_end(ctx, ASPIRE_OP_DROPOUT, t0);
    return out;
}

void aspire_bwd_dropout(aspire_ctx *ctx, aspire_node *node) {
    const uint8_t *mask = node->saved;
    const float *g = node->out->grad;
    float s = node->f[0];
    int acc;
    float *d = aspire_grad_dst(ctx, node->in[0], &acc);
    if (d) GRAD_LOOP(node->out->numel, d, acc, mask[i] ? g[i] * s : 0.0f);
}

/* ---- sum, mean ----------------------------------------------------------------------------- */
static aspire_tensor *reduce_all(aspire_ctx *ctx, int op, aspire_tensor *x) {
    if (!x) return NULL;
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *out = aspire_tensor_new(ctx, 1, (int64_t[]){1});
    if (!out) return NULL;
    double s = aspire_dot_det(x->data, NULL, x->numel);
    if (op == ASPIRE_OP_MEAN) s = x->numel ? s / (double)x->numel : NAN;
    out->data[0] = (float)s;
    aspire_record(ctx, op, out, 1, &x);
    aspire_prof_end(ctx, op, t0);
    return out;
}

aspire_tensor *aspire_sum(aspire_ctx *ctx, aspire_tensor *x) { return reduce_all(ctx, ASPIRE_OP_SUM, x); }
aspire_tensor *aspire_mean(aspire_ctx *ctx, aspire_tensor *x) { return reduce_all(ctx, ASPIRE_OP_MEAN, x); }

static void reduce_bwd(aspire_ctx *ctx, aspire_node *node, int mean) {
    aspire_tensor *x = node->in[0];
    float g = node->out->grad[0];
    if (mean) g /= (float)x->numel;
    int acc;
    float *d = aspire_grad_dst(ctx, x, &acc);
    if (d) GRAD_LOOP(x->numel, d, acc, g);
}

void aspire_bwd_sum(aspire_ctx *ctx, aspire_node *node) { reduce_bwd(ctx, node, 0); }
void aspire_bwd_mean(aspire_ctx *ctx, aspire_node *node) { reduce_bwd(ctx, node, 1); }
