/* op_softmax.c — softmax and log_softmax over the last dim, forward and backward side by side.
 * Both subtract the row's maximum first, so large inputs do not overflow; a row that is entirely
 * -inf (fully masked) gives zeros from softmax and -inf from log_softmax, never NaN. The row
 * kernels are shared with attention and cross-entropy (dense.h). */
#include "engine/dense.h"
#include "engine/ops.h"

#include <math.h>

void aspire_softmax_rows(float *y, const float *x, int64_t rows, int64_t n, int want_log) {
#pragma omp parallel for schedule(static) if (rows * n > ASPIRE_PAR_MIN / 4 && rows > 1)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float m = -INFINITY;
        for (int64_t j = 0; j < n; j++) m = xr[j] > m ? xr[j] : m;
        if (m == -INFINITY) {  /* nothing to normalise */
            for (int64_t j = 0; j < n; j++) yr[j] = want_log ? -INFINITY : 0.0f;
            continue;
        }
        double s = 0;
        for (int64_t j = 0; j < n; j++) {
            float e = expf(xr[j] - m);
            if (!want_log) yr[j] = e;
            s += e;
        }
        if (want_log) {
            /* (x - m) - log s, not x - (m + log s): m + log s would round at m's magnitude */
            float ls = (float)log(s);
            for (int64_t j = 0; j < n; j++) yr[j] = (xr[j] - m) - ls;
        } else {
            float inv = (float)(1.0 / s);
            for (int64_t j = 0; j < n; j++) yr[j] *= inv;
        }
    }
}

void aspire_softmax_rows_bwd(float *dx, const float *g, const float *y, int64_t rows, int64_t n, int want_log,
                             int acc) {
#pragma omp parallel for schedule(static) if (rows * n > ASPIRE_PAR_MIN / 4 && rows > 1)
    for (int64_t r = 0; r < rows; r++) {
        const float *gr = g + r * n, *yr = y + r * n;
        float *dr = dx + r * n;
        double s = 0;
        if (want_log) {  /* dx = g - softmax * sum(g) */
            for (int64_t j = 0; j < n; j++) s += gr[j];
            float fs = (float)s;
            for (int64_t j = 0; j < n; j++) {
                float v = gr[j] - expf(yr[j]) * fs;
                dr[j] = acc ? dr[j] + v : v;
            }
        } else {         /* dx = y * (g - sum(g * y)) */
            for (int64_t j = 0; j < n; j++) s += (double)gr[j] * yr[j];
            float fs = (float)s;
            for (int64_t j = 0; j < n; j++) {
                float v = yr[j] * (gr[j] - fs);
                dr[j] = acc ? dr[j] + v : v;
            }
        }
    }
}

static aspire_tensor *softmax_op(aspire_ctx *ctx, aspire_tensor *x, int op) {
    if (!x) return NULL;
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *y = aspire_tensor_new(ctx, x->ndim, x->shape);
    if (!y) return NULL;
    int64_t n = x->shape[x->ndim - 1], rows = n ? x->numel / n : 0;
    aspire_softmax_rows(y->data, x->data, rows, n, op == ASPIRE_OP_LOG_SOFTMAX);
    aspire_record(ctx, op, y, 1, &x);
    aspire_prof_end(ctx, op, t0);
    return y;
}

aspire_tensor *aspire_softmax(aspire_ctx *ctx, aspire_tensor *x) { return softmax_op(ctx, x, ASPIRE_OP_SOFTMAX); }
aspire_tensor *aspire_log_softmax(aspire_ctx *ctx, aspire_tensor *x) { return softmax_op(ctx, x, ASPIRE_OP_LOG_SOFTMAX); }

static void softmax_bwd(aspire_ctx *ctx, aspire_node *node, int want_log) {
    aspire_tensor *x = node->in[0], *y = node->out;
    int acc;
    float *d = aspire_grad_dst(ctx, x, &acc);
    if (!d) return;
    int64_t n = x->shape[x->ndim - 1], rows = n ? x->numel / n : 0;
    aspire_softmax_rows_bwd(d, y->grad, y->data, rows, n, want_log, acc);
}

void aspire_bwd_softmax(aspire_ctx *ctx, aspire_node *node) { softmax_bwd(ctx, node, 0); }
void aspire_bwd_log_softmax(aspire_ctx *ctx, aspire_node *node) { softmax_bwd(ctx, node, 1); }
