/* op_loss.c — the losses, forward and backward side by side: cross-entropy over logits with
 * optional per-example weights, and mean squared error; each with reduction mean, sum or none.
 * Cross-entropy goes through a max-subtracted log-softmax, so large logits are safe. */
#include "engine/dense.h"
#include "engine/ops.h"

#include <math.h>
#include <string.h>

/* Per-example gradient scale for the reductions: g (1) or (N). */
static inline float red_scale(const float *g, int r, int64_t i, int64_t n) {
    if (r == ASPIRE_REDUCE_NONE) return g[i];
    return r == ASPIRE_REDUCE_MEAN ? g[0] / (float)n : g[0];
}

static aspire_tensor *reduce_out(aspire_ctx *ctx, const float *per, int64_t n, int r) {
    if (r == ASPIRE_REDUCE_NONE) return aspire_tensor_from(ctx, 1, (int64_t[]){n}, per);
    aspire_tensor *out = aspire_tensor_new(ctx, 1, (int64_t[]){1});
    if (!out) return NULL;
    double s = aspire_dot_det(per, NULL, n);
    out->data[0] = (float)(r == ASPIRE_REDUCE_MEAN ? s / (double)n : s);
    return out;
}

/* ---- cross-entropy ------------------------------------------------------------------------- */
/* logits (N, K), targets[N], weights[N] or NULL. loss_i = -w_i log softmax(logits_i)[t_i].
 * saved: log-probabilities (N, K), then targets and weights copied into the arena. */
typedef struct ce_saved { float *logp; int32_t *targets; float *weights; } ce_saved;

aspire_tensor *aspire_cross_entropy(aspire_ctx *ctx, aspire_tensor *logits, const int32_t *targets,
                                    const float *weights, aspire_reduction r) {
    if (!logits) return NULL;
    if (logits->ndim != 2) {
        char b[96];
        aspire_abort(__FILE__, __LINE__, "cross_entropy: logits %s are not (N, K)", aspire_shape_str(logits, b, sizeof b));
    }
    ASPIRE_ASSERT(r == ASPIRE_REDUCE_MEAN || r == ASPIRE_REDUCE_SUM || r == ASPIRE_REDUCE_NONE);
    int64_t N = logits->shape[0], K = logits->shape[1];
    for (int64_t i = 0; i < N; i++)
        if (targets[i] < 0 || targets[i] >= K) {
            aspire_error(ASPIRE_ERR_ARG, "cross_entropy: target %d of example %lld is outside [0, %lld)",
                         (int)targets[i], (long long)i, (long long)K);
            return NULL;
        }
    double t0 = aspire_prof_begin(ctx);
    float *logp = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(N * K));
    float *per = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)N);
    if (!logp || !per) return NULL;
    aspire_softmax_rows(logp, logits->data, N, K, 1);
    for (int64_t i = 0; i < N; i++) per[i] = -(weights ? weights[i] : 1.0f) * logp[i * K + targets[i]];
    aspire_tensor *out = reduce_out(ctx, per, N, r);
    if (!out) return NULL;
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_CROSS_ENTROPY, out, 1, &logits);
    if (node) {
        ce_saved *s = aspire_ctx_alloc(ctx, sizeof *s);
        if (!s) return NULL;
        s->logp = logp;
        s->targets = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)N);
        s->weights = weights ? aspire_ctx_alloc(ctx, sizeof(float) * (size_t)N) : NULL;
        if (!s->targets || (weights && !s->weights)) return NULL;
        memcpy(s->targets, targets, sizeof(int32_t) * (size_t)N);
        if (weights) memcpy(s->weights, weights, sizeof(float) * (size_t)N);
        node->saved = s;
        node->i[0] = r;
    }
    aspire_prof_end(ctx, ASPIRE_OP_CROSS_ENTROPY, t0);
    return out;
}

void aspire_bwd_cross_entropy(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0];
    const ce_saved *s = node->saved;
    int r = (int)node->i[0];
    int64_t N = x->shape[0], K = x->shape[1];
    const float *g = node->out->grad;
    int acc;
    float *d = aspire_grad_dst(ctx, x, &acc);
    if (!d) return;
    /* d logits_i = scale_i * w_i * (softmax_i - onehot(t_i)) */
#pragma omp parallel for schedule(static) if (N * K > ASPIRE_PAR_MIN)
    for (int64_t i = 0; i < N; i++) {
        float c = red_scale(g, r, i, N) * (s->weights ? s->weights[i] : 1.0f);
        const float *lp = s->logp + i * K;
        float *dr = d + i * K;
        for (int64_t k = 0; k < K; k++) {
            float v = c * (expf(lp[k]) - (k == s->targets[i] ? 1.0f : 0.0f));
            dr[k] = acc ? dr[k] + v : v;
        }
    }
}

/* ---- mse ----------------------------------------------------------------------------------- */
/* x, y same shape; loss_i = (x_i - y_i)^2; mean divides by the element count. */
aspire_tensor *aspire_mse(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *y, aspire_reduction r) {
    if (!x || !y) return NULL;
    if (!aspire_tensor_same_shape(x, y)) {
        char a[96], b[96];
        aspire_abort(__FILE__, __LINE__, "mse: x %s and y %s differ in shape", aspire_shape_str(x, a, sizeof a),
                     aspire_shape_str(y, b, sizeof b));
    }
    ASPIRE_ASSERT(r == ASPIRE_REDUCE_MEAN || r == ASPIRE_REDUCE_SUM || r == ASPIRE_REDUCE_NONE);
    double t0 = aspire_prof_begin(ctx);
    int64_t n = x->numel;
    aspire_tensor *out;
    if (r == ASPIRE_REDUCE_NONE) {
        out = aspire_tensor_new(ctx, x->ndim, x->shape);
        if (!out) return NULL;
        const float *a = x->data, *b = y->data;
        float *o = out->data;
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
        for (int64_t i = 0; i < n; i++) o[i] = (a[i] - b[i]) * (a[i] - b[i]);
    } else {
        float *sq = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)n);
        if (!sq) return NULL;
        const float *a = x->data, *b = y->data;
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
        for (int64_t i = 0; i < n; i++) sq[i] = (a[i] - b[i]) * (a[i] - b[i]);
        out = reduce_out(ctx, sq, n, r);
        if (!out) return NULL;
    }
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_MSE, out, 2, (aspire_tensor *[]){x, y});
    if (node) node->i[0] = r;
    aspire_prof_end(ctx, ASPIRE_OP_MSE, t0);
    return out;
}

void aspire_bwd_mse(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0], *y = node->in[1];
    int r = (int)node->i[0];
    const float *g = node->out->grad, *a = x->data, *b = y->data;
    int64_t n = x->numel;
    for (int side = 0; side < 2; side++) {
        aspire_tensor *t = side ? y : x;
        if (!aspire_needs_grad(t)) continue;
        float sign = side ? -2.0f : 2.0f;
        int acc;
        float *d = aspire_grad_dst(ctx, t, &acc);
        if (!d) return;
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            float v = sign * (a[i] - b[i]) * red_scale(g, r, i, n);
            d[i] = acc ? d[i] + v : v;
        }
    }
}
