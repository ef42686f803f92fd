/* op_attention.c — scaled dot-product attention, forward and backward side by side:
 * softmax(q k^T / sqrt(D) + mask) v per batch and head, with an optional additive mask and a
 * causal flag. The probabilities are saved for the backward pass. The products run as batches of
 * small GEMMs (aspire_bgemm_run), the softmax through the shared max-subtracted row kernel. */
#include "engine/dense.h"
#include "engine/ops.h"

#include <math.h>

/* q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv); mask (Tq, Tk) or NULL; causal masks key j >
 * query i (PyTorch's is_causal alignment, top-left) -> (B, H, Tq, Dv). saved: P (B, H, Tq, Tk).
 * f[0] = 1/sqrt(D). */
aspire_tensor *aspire_attention(aspire_ctx *ctx, aspire_tensor *q, aspire_tensor *k, aspire_tensor *v,
                                const aspire_tensor *mask, int causal) {
    if (!q || !k || !v) return NULL;
    int ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && q->shape[0] == k->shape[0] &&
             q->shape[1] == k->shape[1] && v->shape[0] == k->shape[0] && v->shape[1] == k->shape[1] &&
             q->shape[3] == k->shape[3] && v->shape[2] == k->shape[2];
    if (ok && mask) ok = mask->numel == q->shape[2] * k->shape[2];
    if (!ok) {
        char a[96], b[96], c[96];
        aspire_abort(__FILE__, __LINE__, "attention: q %s, k %s, v %s (want (B, H, T, D)), mask of %lld elements",
                     aspire_shape_str(q, a, sizeof a), aspire_shape_str(k, b, sizeof b),
                     aspire_shape_str(v, c, sizeof c), (long long)(mask ? mask->numel : -1));
    }
    double t0 = aspire_prof_begin(ctx);
    int64_t nb = q->shape[0] * q->shape[1], Tq = q->shape[2], Tk = k->shape[2], D = q->shape[3], Dv = v->shape[3];
    float scale = 1.0f / sqrtf((float)D);
    aspire_tensor *out = aspire_tensor_new(ctx, 4, (int64_t[]){q->shape[0], q->shape[1], Tq, Dv});
    float *P = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(nb * Tq * Tk));
    if (!out || !P) return NULL;
    aspire_bgemm s = {.ta = 0, .tb = 1, .M = Tq, .N = Tk, .K = D, .A = q->data, .lda = D, .sA = Tq * D,
                      .B = k->data, .ldb = D, .sB = Tk * D, .alpha = scale, .beta = 0.0f,
                      .C = P, .ldc = Tk, .sC = Tq * Tk};
    int rc = aspire_bgemm_run(ctx, &s, nb, 0);
    if (rc != ASPIRE_OK) { aspire_error_prefix(rc, "attention"); return NULL; }
    if (mask || causal) {
        const float *m = mask ? mask->data : NULL;
#pragma omp parallel for schedule(static) if (nb * Tq * Tk > ASPIRE_PAR_MIN)
        for (int64_t r = 0; r < nb * Tq; r++) {
            int64_t i = r % Tq;
            float *row = P + r * Tk;
            if (m)
                for (int64_t j = 0; j < Tk; j++) row[j] += m[i * Tk + j];
            if (causal)
                for (int64_t j = i + 1; j < Tk; j++) row[j] = -INFINITY;
        }
    }
    aspire_softmax_rows(P, P, nb * Tq, Tk, 0);
    aspire_bgemm o = {.ta = 0, .tb = 0, .M = Tq, .N = Dv, .K = Tk, .A = P, .lda = Tk, .sA = Tq * Tk,
                      .B = v->data, .ldb = Dv, .sB = Tk * Dv, .alpha = 1.0f, .beta = 0.0f,
                      .C = out->data, .ldc = Dv, .sC = Tq * Dv};
    rc = aspire_bgemm_run(ctx, &o, nb, 0);
    if (rc != ASPIRE_OK) { aspire_error_prefix(rc, "attention"); return NULL; }
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_ATTENTION, out, 3, (aspire_tensor *[]){q, k, v});
    if (node) {
        node->saved = P;
        node->i[0] = causal;
        node->f[0] = scale;
    }
    aspire_prof_end(ctx, ASPIRE_OP_ATTENTION, t0);
    return out;
}

void aspire_bwd_attention(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *q = node->in[0], *k = node->in[1], *v = node->in[2];
    const float *P = node->saved, *G = node->out->grad;  /* P (nb, Tq, Tk), G (nb, Tq, Dv) */
    float scale = node->f[0];
    int64_t nb = q->shape[0] * q->shape[1], Tq = q->shape[2], Tk = k->shape[2], D = q->shape[3], Dv = v->shape[3];
    int acc;
    if (aspire_needs_grad(v)) {  /* dV = P^T G */
        float *d = aspire_grad_dst(ctx, v, &acc);
        if (!d) return;
        aspire_bgemm g = {.ta = 1, .tb = 0, .M = Tk, .N = Dv, .K = Tq, .A = P, .lda = Tk, .sA = Tq * Tk,
                          .B = G, .ldb = Dv, .sB = Tq * Dv, .alpha = 1.0f, .beta = acc ? 1.0f : 0.0f,
                          .C = d, .ldc = Dv, .sC = Tk * Dv};
        aspire_bgemm_run(ctx, &g, nb, 1);
    }
    if (!aspire_needs_grad(q) && !aspire_needs_grad(k)) return;
    /* dP = G V^T, then dS = P * (dP - rowsum(dP * P)) in place */
    float *dS = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(nb * Tq * Tk));
    if (!dS) return;
    aspire_bgemm gp = {.ta = 0, .tb = 1, .M = Tq, .N = Tk, .K = Dv, .A = G, .lda = Dv, .sA = Tq * Dv,
                       .B = v->data, .ldb = Dv, .sB = Tk * Dv, .alpha = 1.0f, .beta = 0.0f,
                       .C = dS, .ldc = Tk, .sC = Tq * Tk};
    aspire_bgemm_run(ctx, &gp, nb, 1);
    aspire_softmax_rows_bwd(dS, dS, P, nb * Tq, Tk, 0, 0);
    if (aspire_needs_grad(q)) {  /* dQ = scale * dS K */
        float *d = aspire_grad_dst(ctx, q, &acc);
        if (!d) return;
        aspire_bgemm g = {.ta = 0, .tb = 0, .M = Tq, .N = D, .K = Tk, .A = dS, .lda = Tk, .sA = Tq * Tk,
                          .B = k->data, .ldb = D, .sB = Tk * D, .alpha = scale, .beta = acc ? 1.0f : 0.0f,
                          .C = d, .ldc = D, .sC = Tq * D};
        aspire_bgemm_run(ctx, &g, nb, 1);
    }
    if (aspire_needs_grad(k)) {  /* dK = scale * dS^T Q */
        float *d = aspire_grad_dst(ctx, k, &acc);
        if (!d) return;
        aspire_bgemm g = {.ta = 1, .tb = 0, .M = Tk, .N = D, .K = Tq, .A = dS, .lda = Tk, .sA = Tq * Tk,
                          .B = q->data, .ldb = D, .sB = Tq * D, .alpha = scale, .beta = acc ? 1.0f : 0.0f,
                          .C = d, .ldc = D, .sC = Tk * D};
        aspire_bgemm_run(ctx, &g, nb, 1);
    }
}
