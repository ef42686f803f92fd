/* op_dense.c — the dense layers, forward and backward side by side: linear (x w^T + b), batched
 * matmul with transpose flags, and embedding lookup. The products go through aspire_gemm
 * (oneDNN's sgemm, or the reference loop in reference mode). */
#include "engine/dense.h"
#include "engine/ops.h"

#include <string.h>

/* ---- linear -------------------------------------------------------------------------------- */
/* x (..., in) viewed as (M, in); w (out, in); b (out) or NULL -> y (..., out) viewed as (M, out). */
aspire_tensor *aspire_linear(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_tensor *b) {
    if (!x || !w) return NULL;
    char sx[96], sw[96];
    if (w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1] || (b && b->numel != w->shape[0]))
        aspire_abort(__FILE__, __LINE__, "linear: x %s, w %s (want (out, in)), b of %lld elements",
                     aspire_shape_str(x, sx, sizeof sx), aspire_shape_str(w, sw, sizeof sw),
                     (long long)(b ? b->numel : -1));
    double t0 = aspire_prof_begin(ctx);
    int64_t in = w->shape[1], nout = w->shape[0], M = in ? x->numel / in : 0;
    int64_t s[ASPIRE_MAX_DIMS];
    memcpy(s, x->shape, sizeof s);
    s[x->ndim - 1] = nout;
    aspire_tensor *y = aspire_tensor_new(ctx, x->ndim, s);
    if (!y) return NULL;
    float beta = 0.0f;
    if (b) {  /* start from the bias rows, then add the product */
        const float *bb = b->data;
        float *yd = y->data;
#pragma omp parallel for schedule(static) if (M * nout > ASPIRE_PAR_MIN)
        for (int64_t m = 0; m < M; m++) memcpy(yd + m * nout, bb, sizeof(float) * (size_t)nout);
        beta = 1.0f;
    }
    int rc = aspire_gemm(ctx, 0, 1, M, nout, in, 1.0f, x->data, in, w->data, in, beta, y->data, nout);
    if (rc != ASPIRE_OK) { aspire_error_prefix(rc, "linear"); return NULL; }
    aspire_record(ctx, ASPIRE_OP_LINEAR, y, 3, (aspire_tensor *[]){x, w, b});
    aspire_prof_end(ctx, ASPIRE_OP_LINEAR, t0);
    return y;
}

void aspire_bwd_linear(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0], *w = node->in[1], *b = node->in[2];
    const float *g = node->out->grad;  /* (M, out) */
    int64_t in = w->shape[1], nout = w->shape[0], M = in ? x->numel / in : 0;
    int acc;
    if (aspire_needs_grad(x)) {  /* dx (M, in) = g (M, out) . w (out, in) */
        float *d = aspire_grad_dst(ctx, x, &acc);
        if (!d) return;
        aspire_gemm_bwd(ctx, 0, 0, M, in, nout, 1.0f, g, nout, w->data, in, acc ? 1.0f : 0.0f, d, in);
    }
    if (aspire_needs_grad(w)) {  /* dw (out, in) = g^T . x */
        float *d = aspire_grad_dst(ctx, w, &acc);
        if (!d) return;
        aspire_gemm_bwd(ctx, 1, 0, nout, in, M, 1.0f, g, nout, x->data, in, acc ? 1.0f : 0.0f, d, in);
    }
    if (aspire_needs_grad(b)) {  /* db (out) = column sums of g */
        float *d = aspire_grad_dst(ctx, b, &acc);
        if (!d) return;
        aspire_colsum(d, g, NULL, M, nout, 1.0f, acc);
    }
}

/* ---- matmul -------------------------------------------------------------------------------- */
/* a (B..., M, K), stored (B..., K, M) when ta; b (B..., K, N), stored (B..., N, K) when tb, or b
 * 2-D and shared by every batch -> c (B..., M, N). i[0..1] = ta, tb. */
typedef struct mm_dims { int64_t nb, M, N, K; int shared; } mm_dims;

static mm_dims mm_shape(const aspire_tensor *a, const aspire_tensor *b, int ta, int tb) {
    mm_dims d;
    int na = a->ndim, nbd = b->ndim;
    d.M = a->shape[na - (ta ? 1 : 2)];
    d.K = a->shape[na - (ta ? 2 : 1)];
    d.N = b->shape[nbd - (tb ? 2 : 1)];
    d.nb = 1;
    for (int i = 0; i < na - 2; i++) d.nb *= a->shape[i];
    d.shared = nbd == 2;
    return d;
}

aspire_tensor *aspire_matmul(aspire_ctx *ctx, aspire_tensor *a, aspire_tensor *b, int ta, int tb) {
    if (!a || !b) return NULL;
    int ok = a->ndim >= 2 && b->ndim >= 2 && (b->ndim == 2 || b->ndim == a->ndim);
    for (int i = 0; ok && b->ndim > 2 && i < a->ndim - 2; i++)
        if (a->shape[i] != b->shape[i]) ok = 0;
    if (ok && b->shape[b->ndim - (tb ? 1 : 2)] != a->shape[a->ndim - (ta ? 2 : 1)]) ok = 0;
    if (!ok) {
        char sa[96], sb[96];
        aspire_abort(__FILE__, __LINE__, "matmul: a %s (ta %d) and b %s (tb %d) do not multiply",
                     aspire_shape_str(a, sa, sizeof sa), ta, aspire_shape_str(b, sb, sizeof sb), tb);
    }
    double t0 = aspire_prof_begin(ctx);
    mm_dims d = mm_shape(a, b, ta, tb);
    int64_t s[ASPIRE_MAX_DIMS];
    memcpy(s, a->shape, sizeof s);
    s[a->ndim - 2] = d.M;
    s[a->ndim - 1] = d.N;
    aspire_tensor *c = aspire_tensor_new(ctx, a->ndim, s);
    if (!c) return NULL;
    aspire_bgemm g = {.ta = ta, .tb = tb, .M = d.M, .N = d.N, .K = d.K,
                      .A = a->data, .lda = ta ? d.M : d.K, .sA = d.M * d.K,
                      .B = b->data, .ldb = tb ? d.K : d.N, .sB = d.shared ? 0 : d.K * d.N,
                      .alpha = 1.0f, .beta = 0.0f, .C = c->data, .ldc = d.N, .sC = d.M * d.N};
    int64_t nb = d.nb;
    if (d.shared && !ta) { g.M *= nb; nb = 1; }  /* one tall product: (B*M, K) . (K, N) */
    int rc = aspire_bgemm_run(ctx, &g, nb, 0);
    if (rc != ASPIRE_OK) { aspire_error_prefix(rc, "matmul"); return NULL; }
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_MATMUL, c, 2, (aspire_tensor *[]){a, b});
    if (node) { node->i[0] = ta; node->i[1] = tb; }
    aspire_prof_end(ctx, ASPIRE_OP_MATMUL, t0);
    return c;
}

void aspire_bwd_matmul(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *a = node->in[0], *b = node->in[1];
    int ta = (int)node->i[0], tb = (int)node->i[1];
    mm_dims d = mm_shape(a, b, ta, tb);
    const float *G = node->out->grad;  /* (nb, M, N) */
    int64_t lda = ta ? d.M : d.K, ldb = tb ? d.K : d.N, sB = d.shared ? 0 : d.K * d.N;
    int acc;
    if (aspire_needs_grad(a)) {
        float *dA = aspire_grad_dst(ctx, a, &acc);
        if (!dA) return;
        aspire_bgemm g;
        if (!ta)  /* dA (M, K) = G (M, N) . op(B)^T */
            g = (aspire_bgemm){.ta = 0, .tb = !tb, .M = d.M, .N = d.K, .K = d.N, .A = G, .lda = d.N,
                               .sA = d.M * d.N, .B = b->data, .ldb = ldb, .sB = sB, .C = dA, .ldc = d.K};
        else      /* dA stored (K, M) = op(B) (K, N) . G^T */
            g = (aspire_bgemm){.ta = tb, .tb = 1, .M = d.K, .N = d.M, .K = d.N, .A = b->data, .lda = ldb,
                               .sA = sB, .B = G, .ldb = d.N, .sB = d.M * d.N, .C = dA, .ldc = d.M};
        g.alpha = 1.0f;
        g.beta = acc ? 1.0f : 0.0f;
        g.sC = d.M * d.K;
        int64_t nb = d.nb;
        if (d.shared && !ta) { g.M *= nb; nb = 1; }
        aspire_bgemm_run(ctx, &g, nb, 1);
    }
    if (aspire_needs_grad(b)) {
        float *dB = aspire_grad_dst(ctx, b, &acc);
        if (!dB) return;
        aspire_bgemm g;
        if (!tb)  /* dB (K, N) = op(A)^T (K, M) . G (M, N) */
            g = (aspire_bgemm){.ta = !ta, .tb = 0, .M = d.K, .N = d.N, .K = d.M, .A = a->data, .lda = lda,
                               .sA = d.M * d.K, .B = G, .ldb = d.N, .sB = d.M * d.N, .C = dB, .ldc = d.N};
        else      /* dB stored (N, K) = G^T (N, M) . op(A) (M, K) */
            g = (aspire_bgemm){.ta = 1, .tb = ta, .M = d.N, .N = d.K, .K = d.M, .A = G, .lda = d.N,
                               .sA = d.M * d.N, .B = a->data, .ldb = lda, .sB = d.M * d.K, .C = dB, .ldc = d.K};
        g.alpha = 1.0f;
        g.beta = acc ? 1.0f : 0.0f;
        g.sC = d.shared ? 0 : d.K * d.N;  /* shared b: the batch's products sum into one dB */
        int64_t nb = d.nb;
        if (d.shared && !ta) { g.K *= nb; nb = 1; }  /* the batch folds into the inner dimension */
        aspire_bgemm_run(ctx, &g, nb, 1);
    }
}

/* ---- embedding ----------------------------------------------------------------------------- */
/* table (V, D); ids (shape...) copied into the arena -> (shape..., D). An id outside [0, V) is bad
 * input: NULL and a message naming the position. */
aspire_tensor *aspire_embedding(aspire_ctx *ctx, aspire_tensor *table, const int32_t *ids, int ndim,
                                const int64_t *shape) {
    if (!table) return NULL;
    ASPIRE_ASSERT(table->ndim == 2, "(embedding table must be (V, D))");
    ASPIRE_ASSERT(ndim >= 1 && ndim < ASPIRE_MAX_DIMS, "(embedding ids of %d dims)", ndim);
    int64_t V = table->shape[0], D = table->shape[1], n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V) {
            aspire_error(ASPIRE_ERR_ARG, "embedding: id %d at position %lld is outside [0, %lld)", (int)ids[i],
                         (long long)i, (long long)V);
            return NULL;
        }
    double t0 = aspire_prof_begin(ctx);
    int64_t s[ASPIRE_MAX_DIMS];
    memcpy(s, shape, sizeof(int64_t) * (size_t)ndim);
    s[ndim] = D;
    aspire_tensor *out = aspire_tensor_new(ctx, ndim + 1, s);
    if (!out) return NULL;
#pragma omp parallel for schedule(static) if (n * D > ASPIRE_PAR_MIN)
    for (int64_t i = 0; i < n; i++) memcpy(out->data + i * D, table->data + (int64_t)ids[i] * D, sizeof(float) * (size_t)D);
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_EMBEDDING, out, 1, &table);
    if (node) {
        int32_t *keep = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)n);
        if (!keep) return NULL;
        memcpy(keep, ids, sizeof(int32_t) * (size_t)n);
        node->saved = keep;
        node->i[0] = n;
    }
    aspire_prof_end(ctx, ASPIRE_OP_EMBEDDING, t0);
    return out;
}

void aspire_bwd_embedding(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *table = node->in[0];
    const int32_t *ids = node->saved;
    int64_t n = node->i[0], D = table->shape[1];
    float *d = aspire_grad_accum(ctx, table);
    if (!d) return;
    const float *g = node->out->grad;
    /* Rows are added in id order (repeated ids sum deterministically); threads split the columns. */
    int64_t nblk = (D + 63) / 64;
#pragma omp parallel for schedule(static) if (n * D > ASPIRE_PAR_MIN && nblk > 1)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t c0 = blk * 64, c1 = c0 + 64 < D ? c0 + 64 : D;
        for (int64_t i = 0; i < n; i++) {
            float *row = d + (int64_t)ids[i] * D;
            const float *gr = g + i * D;
            for (int64_t c = c0; c < c1; c++) row[c] += gr[c];
        }
    }
}
