/* op_norm.c — batch norm (over the last dim of any-rank input; optionally fused with a residual add
 * and a ReLU, see fused.h) and group norm (NHWC), forward and backward side by side. Batch norm has
 * a plain C reference path (double accumulators) and a oneDNN path (its batch-normalisation
 * primitive on an NHWC view, ReLU fused in the primitive when there is no residual). oneDNN 2.6
 * has no group-norm primitive: one C implementation serves both modes. */
#include "engine/dense.h"
#include "engine/onednn_glue.h"
#include "engine/fused.h"
#include "engine/ops.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* ---- batch norm -------------------------------------------------------------------------------
 * x (..., C) viewed as (M, C). Training: batch statistics (biased variance normalises; the running
 * variance takes the unbiased one, as PyTorch), running stats updated with momentum. Eval: running
 * statistics. y = act((x - mean) / sqrt(var + eps) * gamma + beta + residual). */
enum { BN_REFERENCE, BN_FAST, BN_ONEDNN };

typedef struct bn_saved {
    int64_t m, c;
    float *mean, *var;  /* (C) the statistics used (batch or running), copied at forward time */
    float eps;
    int batch_stats;    /* 1: batch statistics (training), 0: running (eval) */
    int relu;
    int path;           /* BN_* that ran the forward */
    aspire_prim *fwd;   /* oneDNN forward primitive (BN_ONEDNN) */
    void *ws;           /* oneDNN's ReLU workspace when the primitive fused the ReLU */
} bn_saved;

/* ---- fused C kernels: the default fast path --------------------------------------------------
 * Chosen over oneDNN 2.6's batch-norm primitive (still selectable: ASPIRE_BN=onednn) for two
 * reasons. Speed: on this network's shapes (one thread, data not in cache) the forward takes 2.2 vs
 * 3.6 ms at (64, 64, 64, 16) (statistics in one pass instead of two), a residual add + ReLU ride
 * along instead of costing one more pass, and the backward with the ReLU mask and the residual's
 * gradient fused takes 7.0 vs 8.7 ms (without a residual the primitive's ReLU bitmask makes its
 * backward a little cheaper; over a whole training step the two measured the same). Accuracy: the
 * primitive's single-threaded statistics (it runs single-threaded on small tensors, see
 * aspire_threads_limit) lost precision on the reference network's stage-1 activations behind
 * Winograd convolutions: its gradients then differed from PyTorch's by 1.2e-3 (relative), against
 * 3e-6 with these kernels, which shift each channel by a pivot before summing and add tiles in
 * double.
 *
 * x is walked as tiles: runs of rows sharing one range of channels. Plain (M, C): BN_RB rows by
 * all C channels; blocked nChw16c: per (image, block of 16 channels), BN_RB positions by 16.
 * Reductions sum a tile in float, then tiles in double in tile order, so results do not depend on
 * the number of threads. */
#define BN_RB 256

typedef struct bn_tiles {
    int64_t ntiles, c, w; /* tiles; channels; channels per tile (C, or 16 when blocked) */
    int blocked;
    int64_t rows;         /* plain: M; blocked: H*W positions per (image, channel block) */
    int64_t cb, per;      /* blocked: channel blocks; tiles per (image, channel block) */
} bn_tiles;

static bn_tiles bn_tiling(const aspire_tensor *x) {
    bn_tiles t = {.c = x->shape[x->ndim - 1], .blocked = x->layout == ASPIRE_LAYOUT_NCHW16C};
    if (!t.blocked) {
        t.w = t.c;
        t.rows = t.c ? x->numel / t.c : 0;
        t.ntiles = (t.rows + BN_RB - 1) / BN_RB;
    } else {
        t.w = 16;
        t.cb = t.c / 16;
        t.rows = x->shape[1] * x->shape[2];
        t.per = (t.rows + BN_RB - 1) / BN_RB;
        t.ntiles = x->shape[0] * t.cb * t.per;
    }
    return t;
}

/* Tile k: offset of its first element, its rows, its first channel. */
static inline void bn_tile(const bn_tiles *t, int64_t k, int64_t *off, int64_t *rows, int64_t *c0) {
    if (!t->blocked) {
        int64_t r0 = k * BN_RB;
        *off = r0 * t->c;
        *rows = t->rows - r0 < BN_RB ? t->rows - r0 : BN_RB;
        *c0 = 0;
    } else {
        int64_t g = k / t->per, r0 = (k % t->per) * BN_RB; /* g = image * cb + channel block */
        *off = (g * t->rows + r0) * 16;
        *rows = t->rows - r0 < BN_RB ? t->rows - r0 : BN_RB;
        *c0 = (g % t->cb) * 16;
    }
}

/* Adds tile partials part[k][2][w] into s1, s2 (C each, double), tile by tile. */
static void bn_combine(const bn_tiles *t, const float *part, double *s1, double *s2) {
    for (int64_t c = 0; c < t->c; c++) s1[c] = s2[c] = 0.0;
    for (int64_t k = 0; k < t->ntiles; k++) {
        int64_t off, rows, c0;
        bn_tile(t, k, &off, &rows, &c0);
        const float *p = part + k * 2 * t->w;
        for (int64_t j = 0; j < t->w; j++) {
            s1[c0 + j] += p[j];
            s2[c0 + j] += p[t->w + j];
        }
    }
}

/* Batch statistics: mean and biased variance (C), sums shifted by each channel's first value. */
static int bn_fast_stats(aspire_ctx *ctx, const aspire_tensor *x, float *mean, float *var) {
    const bn_tiles t = bn_tiling(x);
    const int64_t C = t.c, W = t.w, M = x->numel / C;
    float *part = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(t.ntiles * 2 * W));
    float *pivot = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)C);
    double *s1 = aspire_ctx_alloc(ctx, sizeof(double) * (size_t)C), *s2 = aspire_ctx_alloc(ctx, sizeof(double) * (size_t)C);
    if (!part || !pivot || !s1 || !s2) return ASPIRE_ERR_NOMEM;
    const float *xd = x->data;
    for (int64_t c = 0; c < C; c++) pivot[c] = t.blocked ? xd[(c / 16) * t.rows * 16 + c % 16] : xd[c];
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_SMALL_WORK)
    for (int64_t k = 0; k < t.ntiles; k++) {
        int64_t off, rows, c0;
        bn_tile(&t, k, &off, &rows, &c0);
        float *p1 = part + k * 2 * W, *p2 = p1 + W;
        const float *pv = pivot + c0;
        for (int64_t j = 0; j < W; j++) p1[j] = p2[j] = 0.0f;
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = xd + off + r * W;
#pragma omp simd
            for (int64_t j = 0; j < W; j++) {
                float v = xr[j] - pv[j];
                p1[j] += v;
                p2[j] += v * v;
            }
        }
    }
    bn_combine(&t, part, s1, s2);
    for (int64_t c = 0; c < C; c++) {
        double m1 = s1[c] / (double)M, v = s2[c] / (double)M - m1 * m1;
        mean[c] = (float)(pivot[c] + m1);
        var[c] = (float)(v > 0.0 ? v : 0.0);
    }
    return ASPIRE_OK;
}

/* The per-tile loops. Each is inlined with constant flags at its call sites below, inside the
 * parallel loops, so that every combination compiles to its own branch-free vectorised loop. */
typedef struct bn_tile_args {
    int64_t off, rows, w;
    const float *x, *r, *y, *dy, *a, *b, *k, *mean; /* a, b, k, mean: offset to the tile's channels */
    float *out, *out2, *part;
} bn_tile_args;

/* y = act((x - mean) * a + b (+ r)); the mean subtracted first, not folded into b: x and the mean
 * may be large next to their difference */
static inline __attribute__((always_inline)) void bn_apply_tile(const bn_tile_args *t, const int has_r, const int relu) {
    const int64_t W = t->w;
    for (int64_t i = 0; i < t->rows; i++) {
        const int64_t o = t->off + i * W;
        const float *xr = t->x + o, *rr = t->r + (has_r ? o : 0), *ak = t->a, *bk = t->b, *mk = t->mean;
        float *yr = t->out + o;
#pragma omp simd
        for (int64_t j = 0; j < W; j++) {
            float v = (xr[j] - mk[j]) * ak[j] + bk[j];
            if (has_r) v += rr[j];
            if (relu) v = v > 0.0f ? v : 0.0f;
            yr[j] = v;
        }
    }
}

/* part[0..W) = sum dz, part[W..2W) = sum dz (x - mean); dz = dy, masked by y > 0 if relu */
static inline __attribute__((always_inline)) void bn_reduce_tile(const bn_tile_args *t, const int relu) {
    const int64_t W = t->w;
    float *p1 = t->part, *p2 = t->part + W;
    for (int64_t j = 0; j < W; j++) p1[j] = p2[j] = 0.0f;
    for (int64_t i = 0; i < t->rows; i++) {
        const int64_t o = t->off + i * W;
        const float *dr = t->dy + o, *xr = t->x + o, *yr = t->y + (relu ? o : 0), *mk = t->mean;
#pragma omp simd
        for (int64_t j = 0; j < W; j++) {
            float d = dr[j];
            if (relu) d = yr[j] > 0.0f ? d : 0.0f;
            p1[j] += d;
            p2[j] += d * (xr[j] - mk[j]);
        }
    }
}

/* dx (+)= a dz + b (x - mean) + k into out (if want_x); dr (+)= dz into out2 (if want_r) */
static inline __attribute__((always_inline)) void bn_grad_tile(const bn_tile_args *t, const int relu, const int want_x,
                                                               const int ax, const int want_r, const int ar) {
    const int64_t W = t->w;
    for (int64_t i = 0; i < t->rows; i++) {
        const int64_t o = t->off + i * W;
        const float *dr = t->dy + o, *xr = t->x + o, *yr = t->y + (relu ? o : 0);
        const float *ak = t->a, *bk = t->b, *kc = t->k, *mk = t->mean;
        float *gx = t->out + (want_x ? o : 0), *gr = t->out2 + (want_r ? o : 0);
#pragma omp simd
        for (int64_t j = 0; j < W; j++) {
            float d = dr[j];
            if (relu) d = yr[j] > 0.0f ? d : 0.0f;
            if (want_x) {
                float v = ak[j] * d + bk[j] * (xr[j] - mk[j]) + kc[j];
                gx[j] = ax ? gx[j] + v : v;
            }
            if (want_r) gr[j] = ar ? gr[j] + d : d;
        }
    }
}

/* Fills the tile-specific fields of args for tile k. */
static inline void bn_tile_at(const bn_tiles *t, int64_t k, const bn_tile_args *base, bn_tile_args *a, int64_t nparts) {
    int64_t c0;
    *a = *base;
    bn_tile(t, k, &a->off, &a->rows, &c0);
    a->w = t->w;
    if (base->a) a->a = base->a + c0;
    if (base->b) a->b = base->b + c0;
    if (base->k) a->k = base->k + c0;
    if (base->mean) a->mean = base->mean + c0;
    if (base->part) a->part = base->part + k * nparts;
}

/* y = act((x - mean) * a + b + r) per channel (mean, a, b (C)); r NULL or like x. */
static void bn_fast_apply(const aspire_tensor *x, float *y, const float *r, const float *mean, const float *a,
                          const float *b, int relu) {
    const bn_tiles t = bn_tiling(x);
    const bn_tile_args base = {.x = x->data, .r = r, .mean = mean, .a = a, .b = b, .out = y};
    const int mode = (r ? 2 : 0) | (relu ? 1 : 0);
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_SMALL_WORK)
    for (int64_t k = 0; k < t.ntiles; k++) {
        bn_tile_args ta;
        bn_tile_at(&t, k, &base, &ta, 0);
        switch (mode) {
        case 3: bn_apply_tile(&ta, 1, 1); break;
        case 2: bn_apply_tile(&ta, 1, 0); break;
        case 1: bn_apply_tile(&ta, 0, 1); break;
        default: bn_apply_tile(&ta, 0, 0); break;
        }
    }
}

/* The whole backward on the fast path. */
static void bn_fast_backward(aspire_ctx *ctx, const bn_saved *sv, aspire_tensor *x, aspire_tensor *gamma,
                             aspire_tensor *beta, aspire_tensor *res, aspire_tensor *y) {
    const bn_tiles t = bn_tiling(x);
    const int64_t C = sv->c, M = sv->m;
    const int relu = sv->relu;
    int want_x = aspire_needs_grad(x), want_g = aspire_needs_grad(gamma), want_b = aspire_needs_grad(beta);
    int want_r = aspire_needs_grad(res);
    double *s1 = aspire_ctx_alloc(ctx, sizeof(double) * (size_t)C), *s2 = aspire_ctx_alloc(ctx, sizeof(double) * (size_t)C);
    float *a = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)C * 3);
    if (!s1 || !s2 || !a) return;
    float *b = a + C, *kk = b + C;
    const int need_sums = want_g || want_b || (want_x && sv->batch_stats);
    if (need_sums) {
        float *part = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(t.ntiles * 2 * t.w));
        if (!part) return;
        const bn_tile_args base = {.x = x->data, .y = y->data, .dy = y->grad, .mean = sv->mean, .part = part};
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_SMALL_WORK)
        for (int64_t k = 0; k < t.ntiles; k++) {
            bn_tile_args ta;
            bn_tile_at(&t, k, &base, &ta, 2 * t.w);
            if (relu) bn_reduce_tile(&ta, 1);
            else bn_reduce_tile(&ta, 0);
        }
        bn_combine(&t, part, s1, s2);
    }
    const float *gm = gamma ? gamma->data : NULL;
    for (int64_t c = 0; c < C; c++) {
        double inv = 1.0 / sqrt((double)sv->var[c] + (double)sv->eps), s = (gm ? gm[c] : 1.0) * inv;
        if (sv->batch_stats) {
            /* dx = s (dz - mean(dz) - xhat mean(dz xhat)), xhat = (x - mean) inv */
            double bb = -s * inv * inv * s2[c] / (double)M;
            a[c] = (float)s;
            b[c] = (float)bb;
            kk[c] = (float)(-s * s1[c] / (double)M);
        } else {
            a[c] = (float)s;
            b[c] = 0.0f;
            kk[c] = 0.0f;
        }
        s2[c] *= inv; /* sum dz xhat: d gamma */
    }
    int ag = 0, ab = 0, ax = 0, ar = 0;
    float *gg = want_g ? aspire_grad_dst(ctx, gamma, &ag) : NULL;
    float *gb = want_b ? aspire_grad_dst(ctx, beta, &ab) : NULL;
    if ((want_g && !gg) || (want_b && !gb)) return;
    for (int64_t c = 0; c < C; c++) {
        if (gg) gg[c] = ag ? gg[c] + (float)s2[c] : (float)s2[c];
        if (gb) gb[c] = ab ? gb[c] + (float)s1[c] : (float)s1[c];
    }
    /* x's gradient first, then the residual's: should they be one tensor, the second adds. */
    float *gx = want_x ? aspire_grad_dst(ctx, x, &ax) : NULL;
    float *gr = want_r ? aspire_grad_dst(ctx, res, &ar) : NULL;
    if ((want_x && !gx) || (want_r && !gr) || (!gx && !gr)) return;
    const bn_tile_args base = {.x = x->data, .y = y->data, .dy = y->grad, .mean = sv->mean, .a = a, .b = b, .k = kk,
                               .out = gx, .out2 = gr};
    const int mode = (relu ? 16 : 0) | (gx ? 8 : 0) | (ax ? 4 : 0) | (gr ? 2 : 0) | (ar ? 1 : 0);
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_SMALL_WORK)
    for (int64_t k = 0; k < t.ntiles; k++) {
        bn_tile_args ta;
        bn_tile_at(&t, k, &base, &ta, 0);
        switch (mode) {
#define BN_G(m) case m: bn_grad_tile(&ta, (m >> 4) & 1, (m >> 3) & 1, (m >> 2) & 1, (m >> 1) & 1, m & 1); break;
        BN_G(0x1a) BN_G(0x1b) BN_G(0x1e) BN_G(0x1f) BN_G(0x18) BN_G(0x1c) BN_G(0x12) BN_G(0x13)
        BN_G(0x0a) BN_G(0x0b) BN_G(0x0e) BN_G(0x0f) BN_G(0x08) BN_G(0x0c) BN_G(0x02) BN_G(0x03)
#undef BN_G
        default: break;
        }
    }
}


static unsigned bn_flags(int has_gamma, int has_beta, int batch_stats, int dnnl_relu) {
    return (has_gamma ? dnnl_use_scale : 0u) | (has_beta ? dnnl_use_shift : 0u) |
           (batch_stats ? 0u : dnnl_use_global_stats) | (dnnl_relu ? dnnl_fuse_norm_relu : 0u);
}

/* The view oneDNN sees: (N, C, H, W) in x's layout for 4-D x, (M, C, 1, 1) NHWC otherwise. */
static dnnl_format_tag_t bn_view(const aspire_tensor *x, int64_t *d) {
    int64_t c = x->shape[x->ndim - 1];
    if (x->ndim == 4) { d[0] = x->shape[0]; d[1] = c; d[2] = x->shape[1]; d[3] = x->shape[2]; }
    else { d[0] = c ? x->numel / c : 0; d[1] = c; d[2] = 1; d[3] = 1; }
    return x->layout == ASPIRE_LAYOUT_NCHW16C ? dnnl_nChw16c : dnnl_nhwc;
}

static int bn_prim(aspire_dnnl *d, int bwd, const int64_t *dims, dnnl_format_tag_t tag, unsigned flags, float eps,
                   int train, int full_bwd, aspire_prim **out) {
    int rc = ASPIRE_OK;
    aspire_dnnl_key k;
    aspire_key_init(&k, bwd ? ASPIRE_PK_BN_BWD : ASPIRE_PK_BN_FWD);
    aspire_key_add(&k, omp_get_max_threads());
    aspire_key_dims(&k, 4, dims);
    uint32_t eb;
    memcpy(&eb, &eps, sizeof eb);
    const int64_t more[] = {flags, eb, bwd ? full_bwd : train, tag};
    aspire_key_dims(&k, 4, more);
    aspire_prim *p = aspire_dnnl_find(d, &k);
    if (p) { *out = p; return ASPIRE_OK; }
    aspire_prim *hint = NULL;
    if (bwd) ASPIRE_TRY(bn_prim(d, 0, dims, tag, flags, eps, 1, 0, &hint));
    dnnl_memory_desc_t md;
    ASPIRE_TRY(aspire_dnnl_md(&md, 4, dims, tag));
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
#pragma omp parallel for schedule(static) if (m * c > ASPIRE_SMALL_WORK)
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
static int bn_fwd_dnnl_run(aspire_ctx *ctx, const aspire_tensor *x, aspire_tensor *y, const float *gm, const float *bt,
                           float *mean, float *var, float eps, int batch_stats, int dnnl_relu, bn_saved *sv);

static int bn_fwd_dnnl(aspire_ctx *ctx, const aspire_tensor *x, aspire_tensor *y, const float *gm, const float *bt,
                       float *mean, float *var, float eps, int batch_stats, int dnnl_relu, bn_saved *sv) {
    const int prev = aspire_threads_limit(x->numel);
    int rc = bn_fwd_dnnl_run(ctx, x, y, gm, bt, mean, var, eps, batch_stats, dnnl_relu, sv);
    aspire_threads_restore(prev);
    return rc;
}

static int bn_fwd_dnnl_run(aspire_ctx *ctx, const aspire_tensor *x, aspire_tensor *y, const float *gm, const float *bt,
                           float *mean, float *var, float eps, int batch_stats, int dnnl_relu, bn_saved *sv) {
    int rc;
    aspire_dnnl *d = aspire_dnnl_get(ctx);
    if (!d) return ASPIRE_ERR_BACKEND;
    unsigned flags = bn_flags(gm != NULL, bt != NULL, batch_stats, dnnl_relu);
    int64_t dims[4];
    dnnl_format_tag_t tag = bn_view(x, dims);
    aspire_prim *p;
    /* Batch statistics are outputs only of a training-kind primitive. */
    ASPIRE_TRY(bn_prim(d, 0, dims, tag, flags, eps, sv != NULL || batch_stats, 0, &p));
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
        ASPIRE_ASSERT(aspire_tensor_same_shape(x, residual) && residual->layout == x->layout,
                      "(batchnorm: residual %s (layout %d) differs from x %s (layout %d))",
                      aspire_shape_str(residual, b1, sizeof b1), residual->layout, aspire_shape_str(x, b2, sizeof b2),
                      x->layout);
    const int layout_ok = x->layout == ASPIRE_LAYOUT_PLAIN || (x->ndim == 4 && !aspire_ctx_reference(ctx));
    ASPIRE_ASSERT(layout_ok, "(batchnorm: a blocked x must be 4-D, on the oneDNN path)");
    const int batch_stats = aspire_ctx_training(ctx);
    ASPIRE_ASSERT(batch_stats || (running_mean && running_var), "(batchnorm: eval mode needs running statistics)");
    ASPIRE_ASSERT(!batch_stats || M > 0, "(batchnorm: no elements)");
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *y = aspire_tensor_new(ctx, x->ndim, x->shape);
    float *mean = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)C), *var = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)C);
    if (!y || !mean || !var) return NULL;
    y->layout = x->layout; /* the post pass below is elementwise: any layout */
    if (!batch_stats) {
        memcpy(mean, running_mean->data, sizeof(float) * (size_t)C);
        memcpy(var, running_var->data, sizeof(float) * (size_t)C);
    }
    int path = BN_REFERENCE;
    if (!aspire_ctx_reference(ctx)) {
        aspire_dnnl *d = aspire_dnnl_get(ctx);
        if (!d) return NULL;
        path = aspire_dnnl_bn_path(d) == 2 ? BN_ONEDNN : BN_FAST;
    }
    aspire_tensor *in[4] = {x, gamma, beta, residual};
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_BATCHNORM, y, 4, in);
    bn_saved *sv = NULL;
    if (node) {
        sv = aspire_ctx_alloc(ctx, sizeof *sv);
        if (!sv) return NULL;
        *sv = (bn_saved){.m = M, .c = C, .mean = mean, .var = var, .eps = eps, .batch_stats = batch_stats, .relu = relu,
                         .path = path};
        node->saved = sv;
    }
    const float *gm = gamma ? gamma->data : NULL, *bt = beta ? beta->data : NULL;
    int post_pass = residual != NULL; /* residual add (and ReLU) after the normalisation */
    if (path == BN_FAST) {
        if (batch_stats && bn_fast_stats(ctx, x, mean, var) != ASPIRE_OK) return NULL;
        float *a = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)C * 2);
        if (!a) return NULL;
        for (int64_t c = 0; c < C; c++) {
            double sc = (gm ? gm[c] : 1.0) / sqrt((double)var[c] + (double)eps);
            a[c] = (float)sc;
            a[C + c] = bt ? bt[c] : 0.0f;
        }
        bn_fast_apply(x, y->data, residual ? residual->data : NULL, mean, a, a + C, relu);
        post_pass = 0;
    } else if (path == BN_REFERENCE) {
        if (batch_stats) ref_bn_stats(mean, var, x->data, M, C);
        post_pass = 1;
        const float *xd = x->data;
        float *yd = y->data;
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_SMALL_WORK)
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
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_SMALL_WORK)
            for (int64_t i = 0; i < n; i++) {
                float v = yd[i] + r[i];
                yd[i] = v > 0.0f ? v : 0.0f; /* not fmaxf: GCC calls it per element instead of vectorising */
            }
        } else if (r) {
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_SMALL_WORK)
            for (int64_t i = 0; i < n; i++) yd[i] += r[i];
        } else {
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_SMALL_WORK)
            for (int64_t i = 0; i < n; i++) yd[i] = yd[i] > 0.0f ? yd[i] : 0.0f;
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
#pragma omp parallel for schedule(static) if (M * C > ASPIRE_SMALL_WORK)
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

static int bn_bwd_dnnl_run(aspire_ctx *ctx, const bn_saved *sv, const aspire_tensor *x, const float *gm, const float *bt,
                           const float *dz, const void *ws, float *gx, float *gg, float *gb);

static int bn_bwd_dnnl(aspire_ctx *ctx, const bn_saved *sv, const aspire_tensor *x, const float *gm, const float *bt,
                       const float *dz, const void *ws, float *gx, float *gg, float *gb) {
    const int prev = aspire_threads_limit(x->numel);
    int rc = bn_bwd_dnnl_run(ctx, sv, x, gm, bt, dz, ws, gx, gg, gb);
    aspire_threads_restore(prev);
    return rc;
}

static int bn_bwd_dnnl_run(aspire_ctx *ctx, const bn_saved *sv, const aspire_tensor *x, const float *gm, const float *bt,
                           const float *dz, const void *ws, float *gx, float *gg, float *gb) {
    int rc;
    aspire_dnnl *d = aspire_dnnl_get(ctx);
    if (!d) return ASPIRE_ERR_BACKEND;
    int full = gg || gb;
    unsigned flags = bn_flags(gm != NULL, bt != NULL, sv->batch_stats, ws != NULL);
    int64_t dims[4];
    dnnl_format_tag_t tag = bn_view(x, dims);
    aspire_prim *p;
    ASPIRE_TRY(bn_prim(d, 1, dims, tag, flags, sv->eps, 1, full, &p));
    aspire_dnnl_arg args[11] = {{DNNL_ARG_SRC, x->data}, {DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_MEAN, sv->mean},
                                {DNNL_ARG_VARIANCE, sv->var}, {DNNL_ARG_DIFF_SRC, gx}};
    int n = 5;
    if (gm) args[n++] = (aspire_dnnl_arg){DNNL_ARG_SCALE, gm};
    if (bt) args[n++] = (aspire_dnnl_arg){DNNL_ARG_SHIFT, bt}; /* unused by the maths, required by oneDNN 2.6 */
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
    if (sv->path == BN_FAST) {
        bn_fast_backward(ctx, sv, x, gamma, beta, res, y);
        return;
    }
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
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_SMALL_WORK)
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
        aspire_dnnl_note_fallback(ctx);
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
    ASPIRE_ASSERT(x->layout == ASPIRE_LAYOUT_PLAIN, "(groupnorm: x must be plain NHWC)");
    const int64_t S = N * C != 0 ? x->numel / (N * C) : 0, CG = C / G;
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *y = aspire_tensor_new(ctx, x->ndim, x->shape);
    float *mean = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(N * G));
    float *rstd = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(N * G));
    if (!y || !mean || !rstd) return NULL;
    const float *xd = x->data, *gm = gamma ? gamma->data : NULL, *bt = beta ? beta->data : NULL;
    float *yd = y->data;
#pragma omp parallel for collapse(2) schedule(static) if (x->numel > ASPIRE_SMALL_WORK)
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
#pragma omp parallel for collapse(2) schedule(static) if (x->numel > ASPIRE_SMALL_WORK)
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
#pragma omp parallel for schedule(static) if (x->numel > ASPIRE_SMALL_WORK)
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
