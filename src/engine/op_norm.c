/* op_norm.c — batch norm (over the last dim of any-rank input; optionally fused with a residual add
 * and a ReLU, see fused.h) and group norm (NHWC), forward and backward side by side. Batch norm has
 * a plain C reference path (double accumulators) and a oneDNN path (its batch-normalisation
 * primitive on an NHWC view, ReLU fused in the primitive when there is no residual). oneDNN 2.6
 * has no group-norm primitive: one C implementation serves both modes. */
#include "engine/dense.h"
#include "engine/dnnl_glue.h"
#include "engine/fused.h"
#include "engine/ops.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* ---- batch norm -------------------------------------------------------------------------------
 * x (..., C) viewed as (M, C). Training: batch statistics (biased variance normalises; the running
 * variance takes the unbiased one, as PyTorch), running stats updated with momentum. Eval: running
 * statistics. y = act((x - mean) / sqrt(var + eps) * gamma + beta + residual). */
typedef struct bn_saved {
    int64_t m, c;
    float *mean, *var;  /* (C) the statistics used (batch or running), copied at forward time */
    float eps;
    int batch_stats;    /* 1: batch statistics (training), 0: running (eval) */
    int relu;
    aspire_prim *fwd;   /* oneDNN forward primitive (NULL: the reference ran) */
    void *ws;           /* oneDNN's ReLU workspace when the primitive fused the ReLU */
} bn_saved;

static unsigned bn_flags(int has_gamma, int has_beta, int batch_stats, int dnnl_relu) {
    return (has_gamma ? dnnl_use_scale : 0u) | (has_beta ? dnnl_use_shift : 0u) |
           (batch_stats ? 0u : dnnl_use_global_stats) | (dnnl_relu ? dnnl_fuse_norm_relu : 0u);
}

/* The NHWC view oneDNN sees: (N, C, H, W) for 4-D x, (M, C, 1, 1) otherwise. */
static void bn_dims(const aspire_tensor *x, int64_t *d) {
    int64_t c = x->shape[x->ndim - 1];
    if (x->ndim == 4) { d[0] = x->shape[0]; d[1] = c; d[2] = x->shape[1]; d[3] = x->shape[2]; }
    else { d[0] = c ? x->numel / c : 0; d[1] = c; d[2] = 1; d[3] = 1; }
}

static int bn_prim(aspire_dnnl *d, int bwd, const int64_t *dims, unsigned flags, float eps, int train, int full_bwd,
                   aspire_prim **out) {
    int rc = ASPIRE_OK;
    aspire_dnnl_key k;
    aspire_key_init(&k, bwd ? ASPIRE_PK_BN_BWD : ASPIRE_PK_BN_FWD);
    aspire_key_add(&k, omp_get_max_threads());
    aspire_key_dims(&k, 4, dims);
    uint32_t eb;
    memcpy(&eb, &eps, sizeof eb);
    const int64_t more[] = {flags, eb, bwd ? full_bwd : train};
    aspire_key_dims(&k, 3, more);
    aspire_prim *p = aspire_dnnl_find(d, &k);
    if (p) { *out = p; return ASPIRE_OK; }
    aspire_prim *hint = NULL;
    if (bwd) ASPIRE_TRY(bn_prim(d, 0, dims, flags, eps, 1, 0, &hint));
    dnnl_memory_desc_t md;
    ASPIRE_TRY(aspire_dnnl_md(&md, 4, dims, dnnl_nhwc));
    dnnl_batch_normalization_desc_t bd;
    if (!bwd)
        DNNL_TRY(dnnl_batch_normalization_forward_desc_init(&bd, train ? dnnl_forward_training : dnnl_forward_inference,
                                                            &md, eps, flags));
    else
        DNNL_TRY(dnnl_batch_normalization_backward_desc_init(&bd, full_bwd ? dnnl_backward : dnnl_backward_data, &md, &md,
                                                             eps, flags));
    ASPIRE_TRY(aspire_dnnl_make(d, &k, &bd, NULL, hint ? hint->pd : NULL, out));
    return ASPIRE_OK;
fail:
    return rc;
}

/* Reference statistics: mean and biased variance per channel, in double. */
static void ref_bn_stats(float *mean, float *var, const float *x, int64_t m, int64_t c) {
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < c; j++) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < m; i++) s += x[i * c + j];
        double mu = m ? s / (double)m : 0.0;
        for (int64_t i = 0; i < m; i++) s2 += (x[i * c + j] - mu) * (x[i * c + j] - mu);
        mean[j] = (float)mu;
        var[j] = m ? (float)(s2 / (double)m) : 0.0f;
    }
}

/* oneDNN forward into y; mean/var: batch statistics out (training) or running ones in (eval). */
static int bn_fwd_dnnl(aspire_ctx *ctx, const aspire_tensor *x, aspire_tensor *y, const float *gm, const float *bt,
                       float *mean, float *var, float eps, int batch_stats, int dnnl_relu, bn_saved *sv) {
    int rc;
    aspire_dnnl *d = aspire_dnnl_get(ctx);
    if (!d) return ASPIRE_ERR_BACKEND;
    unsigned flags = bn_flags(gm != NULL, bt != NULL, batch_stats, dnnl_relu);
    int64_t dims[4];
    bn_dims(x, dims);
    aspire_prim *p;
    /* Batch statistics are outputs only of a training-kind primitive. */
    ASPIRE_TRY(bn_prim(d, 0, dims, flags, eps, sv != NULL || batch_stats, 0, &p));
    aspire_dnnl_arg args[7] = {{DNNL_ARG_SRC, x->data}, {DNNL_ARG_DST, y->data}, {DNNL_ARG_MEAN, mean},
                               {DNNL_ARG_VARIANCE, var}};
    int n = 4;
    if (gm) args[n++] = (aspire_dnnl_arg){DNNL_ARG_SCALE, gm};
    if (bt) args[n++] = (aspire_dnnl_arg){DNNL_ARG_SHIFT, bt};
    const dnnl_memory_desc_t *wmd = aspire_prim_md(p, DNNL_ARG_WORKSPACE);
    size_t wbytes = wmd ? dnnl_memory_desc_get_size(wmd) : 0;
    if (wbytes) {
        void *ws = sv ? aspire_ctx_alloc(ctx, wbytes) : aspire_dnnl_tmp(d, 0, wbytes);
        if (!ws) return ASPIRE_ERR_NOMEM;
        args[n++] = (aspire_dnnl_arg){DNNL_ARG_WORKSPACE, ws};
        if (sv) sv->ws = ws;
    }
    ASPIRE_TRY(aspire_dnnl_exec(d, p, n, args));
    if (sv) sv->fwd = p;
    return ASPIRE_OK;
fail:
    return rc;
}

aspire_tensor *aspire_batchnorm_act(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *gamma, aspire_tensor *beta,
                                    aspire_tensor *running_mean, aspire_tensor *running_var, float momentum, float eps,
                                    aspire_tensor *residual, int relu) {
    if (!x) return NULL;
    char b1[64], b2[64];
    const int64_t C = x->shape[x->ndim - 1], M = C ? x->numel / C : 0;
    ASPIRE_ASSERT((!gamma || gamma->numel == C) && (!beta || beta->numel == C), "(batchnorm: gamma/beta must be (%lld))",
                  (long long)C);
    ASPIRE_ASSERT((!running_mean || running_mean->numel == C) && (!running_var || running_var->numel == C),
                  "(batchnorm: running statistics must be (%lld))", (long long)C);
    if (residual)
        ASPIRE_ASSERT(aspire_tensor_same_shape(x, residual), "(batchnorm: residual %s differs from x %s)",
                      aspire_shape_str(residual, b1, sizeof b1), aspire_shape_str(x, b2, sizeof b2));
    const int batch_stats = aspire_ctx_training(ctx);
    ASPIRE_ASSERT(batch_stats || (running_mean && running_var), "(batchnorm: eval mode needs running statistics)");
    ASPIRE_ASSERT(!batch_stats || M > 0, "(batchnorm: no elements)");
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *y = aspire_tensor_new(ctx, x->ndim, x->shape);
    float *mean = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)C), *var = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)C);
    if (!y || !mean || !var) return NULL;
    if (!batch_stats) {
        memcpy(mean, running_mean->data, sizeof(float) * (size_t)C);
        memcpy(var, running_var->data, sizeof(float) * (size_t)C);
    }
    aspire_tensor *in[4] = {x, gamma, beta, residual};
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_BATCHNORM, y, 4, in);
    bn_saved *sv = NULL;
    if (node) {
        sv = aspire_ctx_alloc(ctx, sizeof *sv);
        if (!sv) return NULL;
        *sv = (bn_saved){.m = M, .c = C, .mean = mean, .var = var, .eps = eps, .batch_stats = batch_stats, .relu = relu};
        node->saved = sv;
    }
    const float *gm = gamma ? gamma->data : NULL, *bt = beta ? beta->data : NULL;
    int post_pass = residual != NULL; /* residual add (and ReLU) after the normalisation */
    if (aspire_ctx_reference(ctx)) {
        if (batch_stats) ref_bn_stats(mean, var, x->data, M, C);
        post_pass = 1;
        const float *xd = x->data;
        float *yd = y->data;
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < C; j++) {
                double v = (xd[i * C + j] - (double)mean[j]) / sqrt((double)var[j] + (double)eps);
                yd[i * C + j] = (float)(v * (gm ? gm[j] : 1.0f) + (bt ? bt[j] : 0.0f));
            }
    } else {
        int rc = bn_fwd_dnnl(ctx, x, y, gm, bt, mean, var, eps, batch_stats, relu && !residual, sv);
        if (rc != ASPIRE_OK) {
            aspire_error_prefix(rc, "batchnorm");
            return NULL;
        }
    }
    if (post_pass && (residual || relu)) {
        const float *r = residual ? residual->data : NULL;
        float *yd = y->data;
        int64_t n = y->numel;
        if (r && relu) {
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
            for (int64_t i = 0; i < n; i++) yd[i] = fmaxf(yd[i] + r[i], 0.0f);
        } else if (r) {
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
            for (int64_t i = 0; i < n; i++) yd[i] += r[i];
        } else {
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
            for (int64_t i = 0; i < n; i++) yd[i] = fmaxf(yd[i], 0.0f);
        }
    }
    if (batch_stats && running_mean && running_var) {
        /* PyTorch: running = (1 - momentum) * running + momentum * batch; variance unbiased. */
        float corr = M > 1 ? (float)M / (float)(M - 1) : 1.0f;
        for (int64_t j = 0; j < C; j++) {
            running_mean->data[j] = (1.0f - momentum) * running_mean->data[j] + momentum * mean[j];
            running_var->data[j] = (1.0f - momentum) * running_var->data[j] + momentum * var[j] * corr;
        }
    }
    aspire_prof_end(ctx, ASPIRE_OP_BATCHNORM, t0);
    return y;
}

aspire_tensor *aspire_batchnorm(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *gamma, aspire_tensor *beta,
                                aspire_tensor *running_mean, aspire_tensor *running_var, float momentum, float eps) {
    return aspire_batchnorm_act(ctx, x, gamma, beta, running_mean, running_var, momentum, eps, NULL, 0);
}

/* Reference backward. dz (M, C): gradient at the normalisation's output (ReLU mask applied). */
static void ref_bn_bwd(const bn_saved *sv, const float *x, const float *dz, const float *gm, float *gx, int ax,
                       float *gg, int ag, float *gb, int ab) {
    const int64_t M = sv->m, C = sv->c;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < C; j++) {
        double mu = sv->mean[j], inv = 1.0 / sqrt((double)sv->var[j] + (double)sv->eps);
        double sdz = 0, sdzx = 0;
        for (int64_t i = 0; i < M; i++) {
            double g = dz[i * C + j];
            sdz += g;
            sdzx += g * (x[i * C + j] - mu) * inv;
        }
        if (gg) gg[j] = (float)((ag ? gg[j] : 0.0f) + sdzx);
        if (gb) gb[j] = (float)((ab ? gb[j] : 0.0f) + sdz);
        if (gx) {
            double s = (gm ? gm[j] : 1.0) * inv;
            for (int64_t i = 0; i < M; i++) {
                double v;
                if (sv->batch_stats) {
                    double xh = (x[i * C + j] - mu) * inv;
                    v = s * (dz[i * C + j] - sdz / (double)M - xh * sdzx / (double)M);
                } else {
                    v = s * dz[i * C + j];
                }
                gx[i * C + j] = (float)((ax ? gx[i * C + j] : 0.0f) + v);
            }
        }
    }
}

static int bn_bwd_dnnl(aspire_ctx *ctx, const bn_saved *sv, const aspire_tensor *x, const float *gm, const float *bt,
                       const float *dz, const void *ws, float *gx, float *gg, float *gb) {
    int rc;
    aspire_dnnl *d = aspire_dnnl_get(ctx);
    if (!d) return ASPIRE_ERR_BACKEND;
    int full = gg || gb;
    unsigned flags = bn_flags(gm != NULL, bt != NULL, sv->batch_stats, ws != NULL);
    int64_t dims[4];
    bn_dims(x, dims);
    aspire_prim *p;
    ASPIRE_TRY(bn_prim(d, 1, dims, flags, sv->eps, 1, full, &p));
    aspire_dnnl_arg args[10] = {{DNNL_ARG_SRC, x->data}, {DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_MEAN, sv->mean},
                                {DNNL_ARG_VARIANCE, sv->var}, {DNNL_ARG_DIFF_SRC, gx}};
    int n = 5;
    if (gm) args[n++] = (aspire_dnnl_arg){DNNL_ARG_SCALE, gm};
    if (ws) args[n++] = (aspire_dnnl_arg){DNNL_ARG_WORKSPACE, ws};
    if (full && gm) {
        float *t = gg ? gg : aspire_dnnl_tmp(d, 1, sizeof(float) * (size_t)sv->c);
        if (!t) return ASPIRE_ERR_NOMEM;
        args[n++] = (aspire_dnnl_arg){DNNL_ARG_DIFF_SCALE, t};
    }
    if (full && bt) {
        float *t = gb ? gb : aspire_dnnl_tmp(d, 2, sizeof(float) * (size_t)sv->c);
        if (!t) return ASPIRE_ERR_NOMEM;
        args[n++] = (aspire_dnnl_arg){DNNL_ARG_DIFF_SHIFT, t};
    }
    ASPIRE_TRY(aspire_dnnl_exec(d, p, n, args));
    return ASPIRE_OK;
fail:
    return rc;
}

void aspire_bwd_batchnorm(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0], *gamma = node->in[1], *beta = node->in[2], *res = node->in[3], *y = node->out;
    const bn_saved *sv = node->saved;
    const float *dy = y->grad;
    const int64_t n = y->numel;
    /* dz: the gradient at the normalisation's output, i.e. dy through the ReLU mask (read from y)
     * unless oneDNN applies the mask itself from its workspace. It is also the residual's
     * gradient, so it is written straight into the residual's gradient buffer when there is one. */
    const int mask = sv->relu && !(sv->fwd && sv->ws);
    const float *dz = dy;
    int ar = 0;
    float *gr = aspire_needs_grad(res) ? aspire_grad_begin(ctx, res, &ar) : NULL;
    if (aspire_needs_grad(res) && !gr) return;
    if (mask) {
        float *buf = gr ? gr : aspire_ctx_alloc(ctx, sizeof(float) * (size_t)n);
        if (!buf) return;
        const float *yd = y->data;
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_PAR_MIN)
        for (int64_t i = 0; i < n; i++) buf[i] = yd[i] > 0.0f ? dy[i] : 0.0f;
        dz = buf;
    } else if (gr) {
        memcpy(gr, dy, sizeof(float) * (size_t)n);
    }
    if (gr) aspire_grad_end(ctx, res, gr, ar);

    int ax = 0, ag = 0, ab = 0;
    int want_x = aspire_needs_grad(x), want_g = aspire_needs_grad(gamma), want_b = aspire_needs_grad(beta);
    if (sv->fwd) {
        float *gx = want_x ? aspire_grad_begin(ctx, x, &ax) : NULL;
        float *gg = want_g ? aspire_grad_begin(ctx, gamma, &ag) : NULL;
        float *gb = want_b ? aspire_grad_begin(ctx, beta, &ab) : NULL;
        if ((want_x && !gx) || (want_g && !gg) || (want_b && !gb)) return;
        /* oneDNN always writes diff_src: give it scratch when x needs no gradient. */
        float *dxs = gx ? gx : aspire_ctx_alloc(ctx, sizeof(float) * (size_t)n);
        if (!dxs) return;
        if (bn_bwd_dnnl(ctx, sv, x, gamma ? gamma->data : NULL, beta ? beta->data : NULL, dz, sv->ws, dxs, gg, gb) ==
            ASPIRE_OK) {
            if (gx) aspire_grad_end(ctx, x, gx, ax);
            if (gg) aspire_grad_end(ctx, gamma, gg, ag);
            if (gb) aspire_grad_end(ctx, beta, gb, ab);
            return;
        }
        /* oneDNN failed (not expected after its forward ran): the reference computes the same.
         * The grad_begin buffers are reused below with their assign/accumulate mode. */
        if (sv->ws && sv->relu) {
            float *buf = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)n);
            if (!buf) return;
            for (int64_t i = 0; i < n; i++) buf[i] = y->data[i] > 0.0f ? dy[i] : 0.0f;
            dz = buf;
        }
        ref_bn_bwd(sv, x->data, dz, gamma ? gamma->data : NULL, gx, 0, gg, 0, gb, 0);
        if (gx) aspire_grad_end(ctx, x, gx, ax);
        if (gg) aspire_grad_end(ctx, gamma, gg, ag);
        if (gb) aspire_grad_end(ctx, beta, gb, ab);
        return;
    }
    float *gx = want_x ? aspire_grad_dst(ctx, x, &ax) : NULL;
    float *gg = want_g ? aspire_grad_dst(ctx, gamma, &ag) : NULL;
    float *gb = want_b ? aspire_grad_dst(ctx, beta, &ab) : NULL;
    if ((want_x && !gx) || (want_g && !gg) || (want_b && !gb)) return;
    ref_bn_bwd(sv, x->data, dz, gamma ? gamma->data : NULL, gx, ax, gg, ag, gb, ab);
}

/* ---- group norm ------------------------------------------------------------------------------
 * x (N, ..., C) with S = numel / (N C) positions; G groups of C/G consecutive channels; statistics
 * per (image, group) over S * C/G values, in double; biased variance. */
typedef struct gn_saved { int64_t n, s, c, g; float *mean, *rstd; /* (N, G) */ } gn_saved;

aspire_tensor *aspire_groupnorm(aspire_ctx *ctx, aspire_tensor *x, int groups, aspire_tensor *gamma, aspire_tensor *beta,
                                float eps) {
    if (!x) return NULL;
    char b[64];
    ASPIRE_ASSERT(x->ndim >= 2, "(groupnorm: x %s must be (N, ..., C))", aspire_shape_str(x, b, sizeof b));
    const int64_t N = x->shape[0], C = x->shape[x->ndim - 1], G = groups;
    const int divisible = G >= 1 && C % G == 0;
    ASPIRE_ASSERT(divisible, "(groupnorm: %lld channels in %lld groups)", (long long)C, (long long)G);
    ASPIRE_ASSERT((!gamma || gamma->numel == C) && (!beta || beta->numel == C), "(groupnorm: gamma/beta must be (%lld))",
                  (long long)C);
    const int64_t S = N * C != 0 ? x->numel / (N * C) : 0, CG = C / G;
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *y = aspire_tensor_new(ctx, x->ndim, x->shape);
    float *mean = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(N * G));
    float *rstd = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(N * G));
    if (!y || !mean || !rstd) return NULL;
    const float *xd = x->data, *gm = gamma ? gamma->data : NULL, *bt = beta ? beta->data : NULL;
    float *yd = y->data;
#pragma omp parallel for collapse(2) schedule(static) if (x->numel > ASPIRE_PAR_MIN)
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            const float *xn = xd + n * S * C + g * CG;
            double s = 0, s2 = 0, k = (double)(S * CG);
            for (int64_t p = 0; p < S; p++)
                for (int64_t j = 0; j < CG; j++) s += xn[p * C + j];
            double mu = k > 0 ? s / k : 0.0;
            for (int64_t p = 0; p < S; p++)
                for (int64_t j = 0; j < CG; j++) s2 += (xn[p * C + j] - mu) * (xn[p * C + j] - mu);
            float m = (float)mu, r = (float)(1.0 / sqrt((k > 0 ? s2 / k : 0.0) + (double)eps));
            mean[n * G + g] = m;
            rstd[n * G + g] = r;
            float *yn = yd + n * S * C + g * CG;
            for (int64_t p = 0; p < S; p++)
                for (int64_t j = 0; j < CG; j++) {
                    int64_t c = g * CG + j;
                    yn[p * C + j] = (xn[p * C + j] - m) * r * (gm ? gm[c] : 1.0f) + (bt ? bt[c] : 0.0f);
                }
        }
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_GROUPNORM, y, 3, (aspire_tensor *[]){x, gamma, beta});
    if (node) {
        gn_saved *sv = aspire_ctx_alloc(ctx, sizeof *sv);
        if (!sv) return NULL;
        *sv = (gn_saved){N, S, C, G, mean, rstd};
        node->saved = sv;
    }
    aspire_prof_end(ctx, ASPIRE_OP_GROUPNORM, t0);
    return y;
}

void aspire_bwd_groupnorm(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0], *gamma = node->in[1], *beta = node->in[2];
    const gn_saved *sv = node->saved;
    const float *dy = node->out->grad, *xd = x->data, *gm = gamma ? gamma->data : NULL;
    const int64_t N = sv->n, S = sv->s, C = sv->c, G = sv->g, CG = C / G;
    if (aspire_needs_grad(x)) {
        int ax;
        float *gx = aspire_grad_dst(ctx, x, &ax);
        if (!gx) return;
#pragma omp parallel for collapse(2) schedule(static) if (x->numel > ASPIRE_PAR_MIN)
        for (int64_t n = 0; n < N; n++)
            for (int64_t g = 0; g < G; g++) {
                const int64_t off = n * S * C + g * CG;
                const double mu = sv->mean[n * G + g], r = sv->rstd[n * G + g], k = (double)(S * CG);
                double s1 = 0, s2 = 0;
                for (int64_t p = 0; p < S; p++)
                    for (int64_t j = 0; j < CG; j++) {
                        int64_t i = off + p * C + j;
                        double dxh = dy[i] * (gm ? gm[g * CG + j] : 1.0f);
                        s1 += dxh;
                        s2 += dxh * (xd[i] - mu) * r;
                    }
                for (int64_t p = 0; p < S; p++)
                    for (int64_t j = 0; j < CG; j++) {
                        int64_t i = off + p * C + j;
                        double dxh = dy[i] * (gm ? gm[g * CG + j] : 1.0f), xh = (xd[i] - mu) * r;
                        float v = (float)(r * (dxh - s1 / k - xh * s2 / k));
                        gx[i] = ax ? gx[i] + v : v;
                    }
            }
    }
    int want_g = aspire_needs_grad(gamma), want_b = aspire_needs_grad(beta);
    if (want_g || want_b) {
        int ag = 0, ab = 0;
        float *gg = want_g ? aspire_grad_dst(ctx, gamma, &ag) : NULL;
        float *gb = want_b ? aspire_grad_dst(ctx, beta, &ab) : NULL;
        if ((want_g && !gg) || (want_b && !gb)) return;
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_PAR_MIN)
        for (int64_t c = 0; c < C; c++) {
            double sg = 0, sb = 0;
            for (int64_t n = 0; n < N; n++) {
                const double mu = sv->mean[n * G + c / CG], r = sv->rstd[n * G + c / CG];
                for (int64_t p = 0; p < S; p++) {
                    int64_t i = (n * S + p) * C + c;
                    sg += dy[i] * (xd[i] - mu) * r;
                    sb += dy[i];
                }
            }
            if (gg) gg[c] = ag ? gg[c] + (float)sg : (float)sg;
            if (gb) gb[c] = ab ? gb[c] + (float)sb : (float)sb;
        }
    }
}
