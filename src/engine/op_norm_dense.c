/* op_norm_dense.c — layer normalisation over the last dim, forward and backward side by side
 * (batch and group norm, which normalise over images, live with the convolution ops). Statistics
 * are accumulated in double; the variance is the biased one, as in PyTorch's LayerNorm. */
#include "engine/dense.h"
#include "engine/ops.h"

#include <math.h>

/* x (..., D) viewed as (R, D); gamma, beta (D) or NULL. saved: mean and rstd, (R) each. */
typedef struct ln_saved { float *mean, *rstd; } ln_saved;

aspire_tensor *aspire_layernorm(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *gamma, aspire_tensor *beta,
                                float eps) {
    if (!x) return NULL;
    int64_t D = x->shape[x->ndim - 1], R = D ? x->numel / D : 0;
    if ((gamma && gamma->numel != D) || (beta && beta->numel != D)) {
        char b[96];
        aspire_abort(__FILE__, __LINE__, "layernorm: gamma/beta of %lld/%lld elements for x %s",
                     (long long)(gamma ? gamma->numel : -1), (long long)(beta ? beta->numel : -1),
                     aspire_shape_str(x, b, sizeof b));
    }
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *y = aspire_tensor_new(ctx, x->ndim, x->shape);
    float *mean = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)R);
    float *rstd = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)R);
    if (!y || !mean || !rstd) return NULL;
    const float *gm = gamma ? gamma->data : NULL, *bt = beta ? beta->data : NULL;
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_PAR_MIN / 4 && R > 1)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->data + r * D;
        float *yr = y->data + r * D;
        double s = 0, s2 = 0;
        for (int64_t j = 0; j < D; j++) s += xr[j];
        double mu = s / (double)D;
        for (int64_t j = 0; j < D; j++) s2 += (xr[j] - mu) * (xr[j] - mu);
        float m = (float)mu, rs = (float)(1.0 / sqrt(s2 / (double)D + (double)eps));
        mean[r] = m;
        rstd[r] = rs;
        for (int64_t j = 0; j < D; j++) {
            float v = (xr[j] - m) * rs;
            if (gm) v *= gm[j];
            if (bt) v += bt[j];
            yr[j] = v;
        }
    }
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_LAYERNORM, y, 3, (aspire_tensor *[]){x, gamma, beta});
    if (node) {
        ln_saved *sv = aspire_ctx_alloc(ctx, sizeof *sv);
        if (!sv) return NULL;
        sv->mean = mean;
        sv->rstd = rstd;
        node->saved = sv;
    }
    aspire_prof_end(ctx, ASPIRE_OP_LAYERNORM, t0);
    return y;
}

void aspire_bwd_layernorm(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0], *gamma = node->in[1], *beta = node->in[2];
    const ln_saved *sv = node->saved;
    const float *g = node->out->grad;
    int64_t D = x->shape[x->ndim - 1], R = D ? x->numel / D : 0;
    /* xhat (R, D), needed by d gamma and d x */
    float *xhat = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)x->numel);
    if (!xhat) return;
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_PAR_MIN && R > 1)
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < D; j++) xhat[r * D + j] = (x->data[r * D + j] - sv->mean[r]) * sv->rstd[r];
    int acc;
    if (aspire_needs_grad(gamma)) {
        float *d = aspire_grad_dst(ctx, gamma, &acc);
        if (!d) return;
        aspire_colsum(d, g, xhat, R, D, 1.0f, acc);
    }
    if (aspire_needs_grad(beta)) {
        float *d = aspire_grad_dst(ctx, beta, &acc);
        if (!d) return;
        aspire_colsum(d, g, NULL, R, D, 1.0f, acc);
    }
    if (aspire_needs_grad(x)) {
        /* dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = g * gamma */
        float *d = aspire_grad_dst(ctx, x, &acc);
        if (!d) return;
        const float *gm = gamma ? gamma->data : NULL;
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_PAR_MIN / 4 && R > 1)
        for (int64_t r = 0; r < R; r++) {
            const float *gr = g + r * D, *xh = xhat + r * D;
            float *dr = d + r * D;
            double a = 0, b = 0;
            for (int64_t j = 0; j < D; j++) {
                float dh = gm ? gr[j] * gm[j] : gr[j];
                a += dh;
                b += (double)dh * xh[j];
            }
            float ma = (float)(a / (double)D), mb = (float)(b / (double)D), rs = sv->rstd[r];
            for (int64_t j = 0; j < D; j++) {
                float dh = gm ? gr[j] * gm[j] : gr[j];
                float v = rs * (dh - ma - xh[j] * mb);
                dr[j] = acc ? dr[j] + v : v;
            }
        }
    }
}
