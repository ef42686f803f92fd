/* op_pool.c — max, average and global average pooling and nearest-neighbour upsampling on NHWC
 * activations, forward and backward side by side; each with a plain C reference path and a
 * oneDNN path (pooling and resampling primitives, NHWC throughout). PyTorch's semantics: floor
 * output sizes, max pooling ignores padding, average pooling counts it (count_include_pad). */
#include "engine/onednn_glue.h"
#include "engine/ops.h"

#include <float.h>
#include <omp.h>
#include <string.h>

typedef struct pool_geom {
    int64_t n, h, w, c, oh, ow;
    int64_t kh, kw, sh, sw, ph, pw;
    int max; /* 1: max pooling, 0: average (padding counted) */
    int xl;  /* x's layout; y has it too, except global pooling's (N, C), which is plain */
} pool_geom;

typedef struct pool_saved {
    pool_geom g;
    aspire_prim *fwd;   /* oneDNN forward primitive, or NULL when the reference ran */
    void *ws;           /* oneDNN max pooling workspace */
    int32_t *argmax;    /* reference max pooling: flat input index (iy * W + ix) per output */
} pool_saved;

/* ---- reference ---------------------------------------------------------------------------- */
static void ref_pool_fwd(float *y, int32_t *argmax, const float *x, const pool_geom *g) {
    const int64_t C = g->c;
    const float inv = 1.0f / (float)(g->kh * g->kw);
    const int64_t work = g->n * g->oh * g->ow * C * g->kh * g->kw;
#pragma omp parallel for collapse(2) schedule(static) if (work > ASPIRE_SMALL_WORK)
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int64_t o = (n * g->oh + oy) * g->ow + ox;
                float *yp = y + o * C;
                int32_t *ap = argmax ? argmax + o * C : NULL;
                for (int64_t c = 0; c < C; c++) {
                    float best = -FLT_MAX, sum = 0.0f;
                    int32_t arg = -1;
                    for (int64_t ky = 0; ky < g->kh; ky++) {
                        int64_t iy = oy * g->sh - g->ph + ky;
                        if (iy < 0 || iy >= g->h) continue;
                        for (int64_t kx = 0; kx < g->kw; kx++) {
                            int64_t ix = ox * g->sw - g->pw + kx;
                            if (ix < 0 || ix >= g->w) continue;
                            float v = x[((n * g->h + iy) * g->w + ix) * C + c];
                            sum += v;
                            if (arg < 0 || v > best) { best = v; arg = (int32_t)(iy * g->w + ix); }
                        }
                    }
                    yp[c] = g->max ? best : sum * inv;
                    if (ap) ap[c] = arg;
                }
            }
}

/* dx (N, H, W, C) from dy (N, OH, OW, C); overwrites dx. Parallel over images: no races. */
static void ref_pool_bwd(float *dx, const float *dy, const int32_t *argmax, const pool_geom *g) {
    const int64_t C = g->c;
    const float inv = 1.0f / (float)(g->kh * g->kw);
    const int64_t work = g->n * g->oh * g->ow * C * g->kh * g->kw;
#pragma omp parallel for schedule(static) if (work > ASPIRE_SMALL_WORK)
    for (int64_t n = 0; n < g->n; n++) {
        float *xn = dx + n * g->h * g->w * C;
        memset(xn, 0, sizeof(float) * (size_t)(g->h * g->w * C));
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++) {
                int64_t o = (n * g->oh + oy) * g->ow + ox;
                const float *gp = dy + o * C;
                if (g->max) {
                    for (int64_t c = 0; c < C; c++)
                        if (argmax[o * C + c] >= 0) xn[(int64_t)argmax[o * C + c] * C + c] += gp[c];
                    continue;
                }
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh - g->ph + ky;
                    if (iy < 0 || iy >= g->h) continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = ox * g->sw - g->pw + kx;
                        if (ix < 0 || ix >= g->w) continue;
                        float *xp = xn + (iy * g->w + ix) * C;
                        for (int64_t c = 0; c < C; c++) xp[c] += gp[c] * inv;
                    }
                }
            }
    }
}

/* ---- oneDNN ------------------------------------------------------------------------------- */
static int pool_prim(aspire_dnnl *d, int bwd, const pool_geom *g, int train, aspire_prim **out) {
    int rc = ASPIRE_OK;
    aspire_dnnl_key k;
    aspire_key_init(&k, bwd ? ASPIRE_PK_POOL_BWD : ASPIRE_PK_POOL_FWD);
    const int64_t geo[] = {omp_get_max_threads(), g->n, g->h, g->w, g->c, g->oh, g->ow, g->kh, g->kw,
                           g->sh, g->sw, g->ph, g->pw, g->max, bwd ? 1 : train, g->xl};
    aspire_key_dims(&k, (int)(sizeof geo / sizeof geo[0]), geo);
    aspire_prim *p = aspire_dnnl_find(d, &k);
    if (p) { *out = p; return ASPIRE_OK; }
    aspire_prim *hint = NULL;
    if (bwd) ASPIRE_TRY(pool_prim(d, 0, g, 1, &hint));
    dnnl_memory_desc_t src, dst;
    /* dst in src's layout: for global pooling's (N, C, 1, 1) nChw16c is the bytes of plain (N, C)
     * (mixing layouts would get oneDNN's reference kernel) */
    dnnl_format_tag_t tag = g->xl == ASPIRE_LAYOUT_NCHW16C ? dnnl_nChw16c : dnnl_nhwc;
    ASPIRE_TRY(aspire_dnnl_md(&src, 4, (int64_t[]){g->n, g->c, g->h, g->w}, tag));
    ASPIRE_TRY(aspire_dnnl_md(&dst, 4, (int64_t[]){g->n, g->c, g->oh, g->ow}, tag));
    const dnnl_dims_t st = {g->sh, g->sw}, ker = {g->kh, g->kw}, dil = {0, 0}, pl = {g->ph, g->pw};
    dnnl_alg_kind_t alg = g->max ? dnnl_pooling_max : dnnl_pooling_avg_include_padding;
    dnnl_pooling_v2_desc_t pd;
    if (!bwd)
        DNNL_TRY(dnnl_pooling_v2_forward_desc_init(&pd, train ? dnnl_forward_training : dnnl_forward_inference, alg,
                                                   &src, &dst, st, ker, dil, pl, pl));
    else
        DNNL_TRY(dnnl_pooling_v2_backward_desc_init(&pd, alg, &src, &dst, st, ker, dil, pl, pl));
    ASPIRE_TRY(aspire_dnnl_make(d, &k, &pd, NULL, hint ? hint->pd : NULL, out));
    return ASPIRE_OK;
fail:
    return rc;
}

static int64_t pool_work(const pool_geom *g) { return g->n * g->oh * g->ow * g->c * g->kh * g->kw; }

static int pool_fwd_dnnl(aspire_ctx *ctx, float *y, const float *x, const pool_geom *g, pool_saved *sv) {
    int rc;
    aspire_dnnl *d = aspire_dnnl_get(ctx);
    if (!d) return ASPIRE_ERR_BACKEND;
    const int prev = aspire_threads_limit(pool_work(g));
    aspire_prim *p;
    int train = sv != NULL;
    ASPIRE_TRY(pool_prim(d, 0, g, train, &p));
    aspire_dnnl_arg args[3] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}, {DNNL_ARG_WORKSPACE, NULL}};
    int nargs = 2;
    const dnnl_memory_desc_t *wmd = aspire_prim_md(p, DNNL_ARG_WORKSPACE);
    size_t wbytes = wmd ? dnnl_memory_desc_get_size(wmd) : 0;
    if (wbytes) {
        void *ws = sv ? aspire_ctx_alloc(ctx, wbytes) : aspire_dnnl_tmp(d, 0, wbytes);
        if (!ws) { rc = ASPIRE_ERR_NOMEM; goto fail; }
        args[2].ptr = ws;
        nargs = 3;
        if (sv) sv->ws = ws;
    }
    ASPIRE_TRY(aspire_dnnl_exec(d, p, nargs, args));
    if (sv) sv->fwd = p;
fail:
    aspire_threads_restore(prev);
    return rc;
}

static int pool_bwd_dnnl(aspire_ctx *ctx, const pool_saved *sv, float *dx, const float *dy) {
    int rc;
    aspire_dnnl *d = aspire_dnnl_get(ctx);
    if (!d) return ASPIRE_ERR_BACKEND;
    const int prev = aspire_threads_limit(pool_work(&sv->g));
    aspire_prim *p;
    ASPIRE_TRY(pool_prim(d, 1, &sv->g, 1, &p));
    aspire_dnnl_arg args[3] = {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dx}, {DNNL_ARG_WORKSPACE, sv->ws}};
    rc = aspire_dnnl_exec(d, p, sv->ws ? 3 : 2, args);
fail:
    aspire_threads_restore(prev);
    return rc;
}

/* ---- ops -------------------------------------------------------------------------------- */
static aspire_tensor *pool_op(aspire_ctx *ctx, int op, aspire_tensor *x, pool_geom g, int out_ndim) {
    double t0 = aspire_prof_begin(ctx);
    int64_t shape4[4] = {g.n, g.oh, g.ow, g.c}, shape2[2] = {g.n, g.c};
    aspire_tensor *y = aspire_tensor_new(ctx, out_ndim, out_ndim == 4 ? shape4 : shape2);
    if (!y) return NULL;
    const int layout_ok = g.xl == ASPIRE_LAYOUT_PLAIN || (g.c % 16 == 0 && !aspire_ctx_reference(ctx));
    ASPIRE_ASSERT(layout_ok, "(%s: blocked x on the reference path)", aspire_op_table[op].name);
    if (out_ndim == 4) y->layout = (uint8_t)g.xl;
    aspire_node *node = aspire_record(ctx, op, y, 1, &x);
    pool_saved *sv = NULL;
    if (node) {
        sv = aspire_ctx_alloc(ctx, sizeof *sv);
        if (!sv) return NULL;
        memset(sv, 0, sizeof *sv);
        sv->g = g;
        node->saved = sv;
    }
    int rc = ASPIRE_OK;
    if (aspire_ctx_reference(ctx)) {
        int32_t *am = NULL;
        if (sv && g.max) {
            am = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)y->numel);
            if (!am) return NULL;
            sv->argmax = am;
        }
        ref_pool_fwd(y->data, am, x->data, &g);
    } else {
        rc = pool_fwd_dnnl(ctx, y->data, x->data, &g, sv);
    }
    if (rc != ASPIRE_OK) {
        aspire_error_prefix(rc, "%s", aspire_op_table[op].name);
        return NULL;
    }
    aspire_prof_end(ctx, op, t0);
    return y;
}

static void pool_backward(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0];
    pool_saved *sv = node->saved;
    if (!aspire_needs_grad(x)) return;
    int acc;
    float *gx = aspire_grad_begin(ctx, x, &acc);
    if (!gx) return;
    int rc = ASPIRE_ERR_BACKEND;
    if (sv->fwd) rc = pool_bwd_dnnl(ctx, sv, gx, node->out->grad);
    if (rc != ASPIRE_OK) {
        if (sv->fwd) aspire_dnnl_note_fallback(ctx);
        /* Reference path (also the stand-in should oneDNN fail here; backward cannot return errors).
         * A oneDNN max pool keeps its argmax in its own workspace: recompute it. */
        if (sv->g.max && !sv->argmax) {
            sv->argmax = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)node->out->numel);
            float *tmp = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)node->out->numel);
            if (!sv->argmax || !tmp) return;
            ref_pool_fwd(tmp, sv->argmax, x->data, &sv->g);
        }
        ref_pool_bwd(gx, node->out->grad, sv->argmax, &sv->g);
    }
    aspire_grad_end(ctx, x, gx, acc);
}

static pool_geom pool_geometry(aspire_tensor *x, int k, int stride, int pad, int max, const char *name) {
    char b[64];
    ASPIRE_ASSERT(x->ndim == 4, "(%s: x %s must be (N, H, W, C))", name, aspire_shape_str(x, b, sizeof b));
    ASPIRE_ASSERT(k >= 1 && stride >= 1 && pad >= 0 && 2 * pad <= k, "(%s: kernel %d, stride %d, padding %d)", name, k,
                  stride, pad);
    pool_geom g = {.n = x->shape[0], .h = x->shape[1], .w = x->shape[2], .c = x->shape[3],
                   .kh = k, .kw = k, .sh = stride, .sw = stride, .ph = pad, .pw = pad, .max = max, .xl = x->layout};
    g.oh = (g.h + 2 * pad - k) / stride + 1;
    g.ow = (g.w + 2 * pad - k) / stride + 1;
    ASPIRE_ASSERT(g.oh > 0 && g.ow > 0, "(%s: x %s is smaller than the kernel %d)", name, aspire_shape_str(x, b, sizeof b), k);
    return g;
}

aspire_tensor *aspire_maxpool2d(aspire_ctx *ctx, aspire_tensor *x, int k, int stride, int pad) {
    if (!x) return NULL;
    return pool_op(ctx, ASPIRE_OP_MAXPOOL2D, x, pool_geometry(x, k, stride, pad, 1, "maxpool2d"), 4);
}

aspire_tensor *aspire_avgpool2d(aspire_ctx *ctx, aspire_tensor *x, int k, int stride, int pad) {
    if (!x) return NULL;
    return pool_op(ctx, ASPIRE_OP_AVGPOOL2D, x, pool_geometry(x, k, stride, pad, 0, "avgpool2d"), 4);
}

aspire_tensor *aspire_global_avgpool(aspire_ctx *ctx, aspire_tensor *x) {
    if (!x) return NULL;
    char b[64];
    ASPIRE_ASSERT(x->ndim == 4, "(global_avgpool: x %s must be (N, H, W, C))", aspire_shape_str(x, b, sizeof b));
    pool_geom g = {.n = x->shape[0], .h = x->shape[1], .w = x->shape[2], .c = x->shape[3], .oh = 1, .ow = 1,
                   .kh = x->shape[1], .kw = x->shape[2], .sh = 1, .sw = 1, .ph = 0, .pw = 0, .max = 0, .xl = x->layout};
    return pool_op(ctx, ASPIRE_OP_GLOBAL_AVGPOOL, x, g, 2);
}

void aspire_bwd_maxpool2d(aspire_ctx *ctx, aspire_node *node) { pool_backward(ctx, node); }
void aspire_bwd_avgpool2d(aspire_ctx *ctx, aspire_node *node) { pool_backward(ctx, node); }
void aspire_bwd_global_avgpool(aspire_ctx *ctx, aspire_node *node) { pool_backward(ctx, node); }

/* ---- nearest-neighbour upsampling by an integer factor ------------------------------------- */
typedef struct up_saved { int64_t n, h, w, c, f; aspire_prim *fwd; } up_saved;

static int up_prim(aspire_dnnl *d, int bwd, const up_saved *u, int train, aspire_prim **out) {
    int rc = ASPIRE_OK;
    aspire_dnnl_key k;
    aspire_key_init(&k, bwd ? ASPIRE_PK_RESAMPLE_BWD : ASPIRE_PK_RESAMPLE_FWD);
    const int64_t geo[] = {omp_get_max_threads(), u->n, u->h, u->w, u->c, u->f, bwd ? 1 : train};
    aspire_key_dims(&k, (int)(sizeof geo / sizeof geo[0]), geo);
    aspire_prim *p = aspire_dnnl_find(d, &k);
    if (p) { *out = p; return ASPIRE_OK; }
    aspire_prim *hint = NULL;
    if (bwd) ASPIRE_TRY(up_prim(d, 0, u, 1, &hint));
    dnnl_memory_desc_t src, dst;
    ASPIRE_TRY(aspire_dnnl_md(&src, 4, (int64_t[]){u->n, u->c, u->h, u->w}, dnnl_nhwc));
    ASPIRE_TRY(aspire_dnnl_md(&dst, 4, (int64_t[]){u->n, u->c, u->h * u->f, u->w * u->f}, dnnl_nhwc));
    const float factors[2] = {(float)u->f, (float)u->f};
    dnnl_resampling_desc_t rd;
    if (!bwd)
        DNNL_TRY(dnnl_resampling_forward_desc_init(&rd, train ? dnnl_forward_training : dnnl_forward_inference,
                                                   dnnl_resampling_nearest, factors, &src, &dst));
    else
        DNNL_TRY(dnnl_resampling_backward_desc_init(&rd, dnnl_resampling_nearest, factors, &src, &dst));
    ASPIRE_TRY(aspire_dnnl_make(d, &k, &rd, NULL, hint ? hint->pd : NULL, out));
    return ASPIRE_OK;
fail:
    return rc;
}

aspire_tensor *aspire_upsample_nearest(aspire_ctx *ctx, aspire_tensor *x, int factor) {
    if (!x) return NULL;
    char b[64];
    ASPIRE_ASSERT(x->ndim == 4, "(upsample_nearest: x %s must be (N, H, W, C))", aspire_shape_str(x, b, sizeof b));
    ASPIRE_ASSERT(factor >= 1, "(upsample_nearest: factor %d)", factor);
    ASPIRE_ASSERT(x->layout == ASPIRE_LAYOUT_PLAIN, "(upsample_nearest: x must be plain NHWC)");
    double t0 = aspire_prof_begin(ctx);
    up_saved u = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], factor, NULL};
    aspire_tensor *y = aspire_tensor_new(ctx, 4, (int64_t[]){u.n, u.h * factor, u.w * factor, u.c});
    if (!y) return NULL;
    aspire_node *node = aspire_record(ctx, ASPIRE_OP_UPSAMPLE_NEAREST, y, 1, &x);
    up_saved *sv = NULL;
    if (node) {
        sv = aspire_ctx_alloc(ctx, sizeof *sv);
        if (!sv) return NULL;
        node->saved = sv;
    }
    if (aspire_ctx_reference(ctx)) {
        const int64_t C = u.c, OH = u.h * factor, OW = u.w * factor;
#pragma omp parallel for collapse(2) schedule(static) if (y->numel > ASPIRE_SMALL_WORK)
        for (int64_t n = 0; n < u.n; n++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++)
                    memcpy(y->data + ((n * OH + oy) * OW + ox) * C, x->data + ((n * u.h + oy / factor) * u.w + ox / factor) * C,
                           sizeof(float) * (size_t)C);
    } else {
        int rc;
        aspire_dnnl *d = aspire_dnnl_get(ctx);
        aspire_prim *p = NULL;
        const int prev = aspire_threads_limit(y->numel);
        rc = d ? up_prim(d, 0, &u, node != NULL, &p) : ASPIRE_ERR_BACKEND;
        if (rc == ASPIRE_OK) {
            aspire_dnnl_arg args[2] = {{DNNL_ARG_SRC, x->data}, {DNNL_ARG_DST, y->data}};
            rc = aspire_dnnl_exec(d, p, 2, args);
        }
        aspire_threads_restore(prev);
        if (rc != ASPIRE_OK) {
            aspire_error_prefix(rc, "upsample_nearest");
            return NULL;
        }
        u.fwd = p;
    }
    if (sv) *sv = u;
    aspire_prof_end(ctx, ASPIRE_OP_UPSAMPLE_NEAREST, t0);
    return y;
}

void aspire_bwd_upsample_nearest(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0];
    const up_saved *u = node->saved;
    if (!aspire_needs_grad(x)) return;
    int acc;
    float *gx = aspire_grad_begin(ctx, x, &acc);
    if (!gx) return;
    const float *dy = node->out->grad;
    int rc = ASPIRE_ERR_BACKEND;
    if (u->fwd) {
        aspire_dnnl *d = aspire_dnnl_get(ctx);
        aspire_prim *p;
        const int prev = aspire_threads_limit(node->out->numel);
        if (d && up_prim(d, 1, u, 1, &p) == ASPIRE_OK) {
            aspire_dnnl_arg args[2] = {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, gx}};
            rc = aspire_dnnl_exec(d, p, 2, args);
        }
        aspire_threads_restore(prev);
    }
    if (rc != ASPIRE_OK) { /* reference (or the stand-in should oneDNN fail) */
        if (u->fwd) aspire_dnnl_note_fallback(ctx);
        const int64_t C = u->c, f = u->f, OH = u->h * f, OW = u->w * f;
#pragma omp parallel for collapse(2) schedule(static) if (node->out->numel > ASPIRE_SMALL_WORK)
        for (int64_t n = 0; n < u->n; n++)
            for (int64_t iy = 0; iy < u->h; iy++)
                for (int64_t ix = 0; ix < u->w; ix++) {
                    float *xp = gx + ((n * u->h + iy) * u->w + ix) * C;
                    for (int64_t c = 0; c < C; c++) xp[c] = 0.0f;
                    for (int64_t a = 0; a < f; a++)
                        for (int64_t bb = 0; bb < f; bb++) {
                            const float *gp = dy + ((n * OH + iy * f + a) * OW + ix * f + bb) * C;
                            for (int64_t c = 0; c < C; c++) xp[c] += gp[c];
                        }
                }
    }
    aspire_grad_end(ctx, x, gx, acc);
}
