/* op_conv.c — 2-D convolution and transposed convolution on NHWC activations with PyTorch-layout
 * weights, forward and backward side by side. Two paths: plain C loops (the reference, used when
 * the context asks for it) and oneDNN (direct or Winograd kernels; oneDNN's preferred layouts
 * inside, reorders at the edges, every primitive cached per context). */
#include "engine/onednn_glue.h"
#include "engine/fused.h"
#include "engine/ops.h"

#include <math.h>

#include <omp.h>
#include <string.h>

/* A convolution in its forward direction: input (N, H, W, C) -> output (N, OH, OW, O), weights
 * (O, C, KH, KW). A transposed convolution from x (N, IH, IW, CI) to y (N, OH, OW, CO) with PyTorch
 * weights (CI, CO, KH, KW) is the backward-data pass of the convolution y -> x, whose weights
 * (O = CI, C = CO) are those very bytes; the reference kernels below serve both. */
typedef struct conv_shape {
    int64_t n, h, w, c, oh, ow, o, kh, kw;
    int64_t sh, sw, ph, pw, dh, dw;
} conv_shape;

/* ---- reference kernels (plain C, NHWC) ---------------------------------------------------- */

/* y (N, OH, OW, O) = conv(x (N, H, W, C), w (O, C, KH, KW)) + b (O) or 0.
 * wt: scratch of KH*KW*C*O floats for the weights reordered to (KH, KW, C, O). */
static void ref_conv_fwd(float *y, const float *x, const float *w, const float *b, float *wt, const conv_shape *s) {
    const int64_t C = s->c, O = s->o, KH = s->kh, KW = s->kw;
    for (int64_t o = 0; o < O; o++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t k = 0; k < KH * KW; k++) wt[(k * C + c) * O + o] = w[(o * C + c) * KH * KW + k];
    const int64_t work = s->n * s->oh * s->ow * O * C * KH * KW;
#pragma omp parallel for collapse(2) schedule(static) if (work > ASPIRE_SMALL_WORK)
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t oy = 0; oy < s->oh; oy++)
            for (int64_t ox = 0; ox < s->ow; ox++) {
                float *yp = y + ((n * s->oh + oy) * s->ow + ox) * O;
                for (int64_t o = 0; o < O; o++) yp[o] = b ? b[o] : 0.0f;
                for (int64_t ky = 0; ky < KH; ky++) {
                    int64_t iy = oy * s->sh - s->ph + ky * s->dh;
                    if (iy < 0 || iy >= s->h) continue;
                    for (int64_t kx = 0; kx < KW; kx++) {
                        int64_t ix = ox * s->sw - s->pw + kx * s->dw;
                        if (ix < 0 || ix >= s->w) continue;
                        const float *xp = x + ((n * s->h + iy) * s->w + ix) * C;
                        const float *wp = wt + (ky * KW + kx) * C * O;
                        for (int64_t c = 0; c < C; c++) {
                            float xv = xp[c];
                            for (int64_t o = 0; o < O; o++) yp[o] += xv * wp[c * O + o];
                        }
                    }
                }
            }
}

/* dx (N, H, W, C) = the gradient of conv's input for dy (N, OH, OW, O); overwrites dx.
 * wt: scratch of KH*KW*O*C floats (weights reordered to (KH, KW, O, C)). */
static void ref_conv_bwd_data(float *dx, const float *dy, const float *w, float *wt, const conv_shape *s) {
    const int64_t C = s->c, O = s->o, KH = s->kh, KW = s->kw;
    for (int64_t o = 0; o < O; o++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t k = 0; k < KH * KW; k++) wt[(k * O + o) * C + c] = w[(o * C + c) * KH * KW + k];
    const int64_t work = s->n * s->oh * s->ow * O * C * KH * KW;
#pragma omp parallel for collapse(2) schedule(static) if (work > ASPIRE_SMALL_WORK)
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t iy = 0; iy < s->h; iy++)
            for (int64_t ix = 0; ix < s->w; ix++) {
                float *xp = dx + ((n * s->h + iy) * s->w + ix) * C;
                for (int64_t c = 0; c < C; c++) xp[c] = 0.0f;
                for (int64_t ky = 0; ky < KH; ky++) {
                    int64_t ty = iy + s->ph - ky * s->dh; /* = oy * sh */
                    if (ty < 0 || ty % s->sh) continue;
                    int64_t oy = ty / s->sh;
                    if (oy >= s->oh) continue;
                    for (int64_t kx = 0; kx < KW; kx++) {
                        int64_t tx = ix + s->pw - kx * s->dw;
                        if (tx < 0 || tx % s->sw) continue;
                        int64_t ox = tx / s->sw;
                        if (ox >= s->ow) continue;
                        const float *gp = dy + ((n * s->oh + oy) * s->ow + ox) * O;
                        const float *wp = wt + (ky * KW + kx) * O * C;
                        for (int64_t o = 0; o < O; o++) {
                            float gv = gp[o];
                            for (int64_t c = 0; c < C; c++) xp[c] += gv * wp[o * C + c];
                        }
                    }
                }
            }
}

/* dw (O, C, KH, KW) = sum over batch and positions of dy (N, OH, OW, O) x x (N, H, W, C);
 * db (O) = sum of dy, when db is not NULL. Both overwritten. Accumulates in double. */
static void ref_conv_bwd_weights(float *dw, float *db, const float *x, const float *dy, const conv_shape *s) {
    const int64_t C = s->c, O = s->o, KH = s->kh, KW = s->kw;
    const int64_t work = s->n * s->oh * s->ow * O * C * KH * KW;
#pragma omp parallel for schedule(static) if (work > ASPIRE_SMALL_WORK)
    for (int64_t o = 0; o < O; o++) {
        for (int64_t ky = 0; ky < KH; ky++)
            for (int64_t kx = 0; kx < KW; kx++)
                for (int64_t c = 0; c < C; c++) {
                    double acc = 0;
                    for (int64_t n = 0; n < s->n; n++)
                        for (int64_t oy = 0; oy < s->oh; oy++) {
                            int64_t iy = oy * s->sh - s->ph + ky * s->dh;
                            if (iy < 0 || iy >= s->h) continue;
                            for (int64_t ox = 0; ox < s->ow; ox++) {
                                int64_t ix = ox * s->sw - s->pw + kx * s->dw;
                                if (ix < 0 || ix >= s->w) continue;
                                acc += (double)dy[((n * s->oh + oy) * s->ow + ox) * O + o] *
                                       x[((n * s->h + iy) * s->w + ix) * C + c];
                            }
                        }
                    dw[((o * C + c) * KH + ky) * KW + kx] = (float)acc;
                }
        if (db) {
            double acc = 0;
            for (int64_t i = 0; i < s->n * s->oh * s->ow; i++) acc += dy[i * O + o];
            db[o] = (float)acc;
        }
    }
}

/* b (C) sum of g (M, C) over rows; overwrites b. */
static void ref_channel_sum(float *b, const float *g, int64_t m, int64_t c) {
    for (int64_t j = 0; j < c; j++) {
        double acc = 0;
        for (int64_t i = 0; i < m; i++) acc += g[i * c + j];
        b[j] = (float)acc;
    }
}

/* ---- the op's geometry and saved state ----------------------------------------------------- */
typedef struct conv_geom {
    int64_t n, ih, iw, ci, oh, ow, co, kh, kw; /* x (N, IH, IW, CI) -> y (N, OH, OW, CO) */
    int64_t sh, sw, ph, pw, dh, dw;
    int transposed;                            /* w (CI, CO, KH, KW) instead of (CO, CI, KH, KW) */
    int xl, yl;                                /* layouts of x and y (ASPIRE_LAYOUT_*) */
} conv_geom;

typedef struct conv_saved {
    conv_geom g;
    aspire_prim *fwd; /* the forward primitive when the forward ran on oneDNN, else NULL */
    const float *xp;  /* x->data when fwd's source layout is NHWC, else NULL (reordered again) */
    const float *wp;  /* w in fwd's weights layout */
} conv_saved;

/* The convolution that the reference kernels run for this op (see conv_shape). */
static conv_shape geom_shape(const conv_geom *g) {
    conv_shape s = {.n = g->n, .kh = g->kh, .kw = g->kw, .sh = g->sh, .sw = g->sw, .ph = g->ph, .pw = g->pw,
                    .dh = g->dh, .dw = g->dw};
    if (!g->transposed) {
        s.h = g->ih; s.w = g->iw; s.c = g->ci; s.oh = g->oh; s.ow = g->ow; s.o = g->co;
    } else {
        s.h = g->oh; s.w = g->ow; s.c = g->co; s.oh = g->ih; s.ow = g->iw; s.o = g->ci;
    }
    return s;
}

/* ---- oneDNN path ------------------------------------------------------------------------- */
enum { CK_FWD = 0, CK_BWD_DATA = 1, CK_BWD_WEIGHTS = 2 };

static void act_dims(int64_t *d, int64_t n, int64_t c, int64_t h, int64_t w) {
    d[0] = n; d[1] = c; d[2] = h; d[3] = w;
}

static dnnl_format_tag_t layout_tag(int layout) { return layout == ASPIRE_LAYOUT_NCHW16C ? dnnl_nChw16c : dnnl_nhwc; }

/* User-side descriptors: activations in their tensors' layouts (NHWC or nChw16c), weights
 * (CO, CI, KH, KW) or PyTorch's transposed (CI, CO, KH, KW). */
static int user_mds(const conv_geom *g, dnnl_memory_desc_t *x, dnnl_memory_desc_t *w, dnnl_memory_desc_t *y) {
    int rc;
    int64_t dx[4], dy[4], dw[4] = {g->co, g->ci, g->kh, g->kw};
    act_dims(dx, g->n, g->ci, g->ih, g->iw);
    act_dims(dy, g->n, g->co, g->oh, g->ow);
    ASPIRE_TRY(aspire_dnnl_md(x, 4, dx, layout_tag(g->xl)));
    ASPIRE_TRY(aspire_dnnl_md(y, 4, dy, layout_tag(g->yl)));
    ASPIRE_TRY(aspire_dnnl_md(w, 4, dw, g->transposed ? dnnl_iohw : dnnl_oihw));
    return ASPIRE_OK;
fail:
    return rc;
}

static int winograd_ok(const aspire_dnnl *d, const conv_geom *g) {
    return aspire_dnnl_winograd(d) && !g->transposed && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 &&
           g->dh == 1 && g->dw == 1 && g->ci % 16 == 0 && g->co % 16 == 0;
}

/* Post-ops of a forward primitive (inference only): bit 0 adds dst's prior contents (sum), bit 1
 * applies ReLU after it. */
enum { POST_SUM = 1, POST_RELU = 2 };

static int conv_prim_post(aspire_dnnl *d, int kind, const conv_geom *g, int has_bias, int train, int post,
                          aspire_prim **out);

static int conv_prim(aspire_dnnl *d, int kind, const conv_geom *g, int has_bias, int train, aspire_prim **out) {
    return conv_prim_post(d, kind, g, has_bias, train, 0, out);
}

/* Kernel and layout choices, tried in order: Winograd (blocked layouts), direct on the tensors' own
 * layouts (no reorders), direct on NHWC, then oneDNN's pick. A choice whose only kernel is oneDNN's
 * slow reference one is skipped (e.g. NHWC input with blocked output for 3 input channels), except
 * as the last resort. Backward primitives start from their forward's choice. */
enum { V_WINO, V_OWN, V_NHWC, V_ANY, V_COUNT };

static int conv_prim_post(aspire_dnnl *d, int kind, const conv_geom *g, int has_bias, int train, int post,
                          aspire_prim **out) {
    int rc = ASPIRE_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    aspire_dnnl_key k;
    int pk = g->transposed ? ASPIRE_PK_DECONV_FWD + kind : ASPIRE_PK_CONV_FWD + kind;
    aspire_key_init(&k, pk);
    aspire_key_add(&k, omp_get_max_threads());
    const int64_t geo[] = {g->n, g->ih, g->iw, g->ci, g->oh, g->ow, g->co, g->kh, g->kw,
                           g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, has_bias, post, g->xl, g->yl};
    aspire_key_dims(&k, (int)(sizeof geo / sizeof geo[0]), geo);
    aspire_prim *p = aspire_dnnl_find(d, &k);
    if (p) { *out = p; return ASPIRE_OK; }
    /* Forward primitives are always of the training kind, also for inference: oneDNN's Winograd
     * inference kernels want weights pre-transformed by a reorder, which costs more per call than
     * the training kernels' own transform (measured: 10.2 vs 4.5 ms for 128 -> 128 at 8x8, batch
     * 64); direct kernels are the same either way. */
    (void)train;
    if (post) {
        DNNL_TRY(dnnl_primitive_attr_create(&attr));
        DNNL_TRY(dnnl_post_ops_create(&po));
        if (post & POST_SUM) DNNL_TRY(dnnl_post_ops_append_sum(po, 1.0f));
        if (post & POST_RELU) DNNL_TRY(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        DNNL_TRY(dnnl_primitive_attr_set_post_ops(attr, po));
    }

    aspire_prim *hint = NULL;
    if (kind != CK_FWD) ASPIRE_TRY(conv_prim(d, CK_FWD, g, has_bias, 1, &hint));
    int first = hint ? hint->variant : winograd_ok(d, g) ? V_WINO : V_OWN;
    for (int v = first; v < V_COUNT; v++) {
        dnnl_alg_kind_t alg = v == V_WINO ? dnnl_convolution_winograd
                                          : (g->transposed ? dnnl_deconvolution_direct : dnnl_convolution_direct);
        dnnl_format_tag_t st = v == V_WINO ? dnnl_nChw16c : v == V_OWN ? layout_tag(g->xl) : v == V_NHWC ? dnnl_nhwc
                                                                                                          : dnnl_format_tag_any;
        dnnl_format_tag_t dt = v == V_WINO ? dnnl_nChw16c : v == V_OWN ? layout_tag(g->yl) : v == V_NHWC ? dnnl_nhwc
                                                                                                          : dnnl_format_tag_any;
        dnnl_memory_desc_t src, wei, bia, dst;
        int64_t ds[4], dd[4], dw[4] = {g->co, g->ci, g->kh, g->kw}, db[1] = {g->co};
        act_dims(ds, g->n, g->ci, g->ih, g->iw);
        act_dims(dd, g->n, g->co, g->oh, g->ow);
        ASPIRE_TRY(aspire_dnnl_md(&src, 4, ds, st));
        ASPIRE_TRY(aspire_dnnl_md(&dst, 4, dd, dt));
        ASPIRE_TRY(aspire_dnnl_md(&wei, 4, dw, dnnl_format_tag_any));
        ASPIRE_TRY(aspire_dnnl_md(&bia, 1, db, dnnl_a));
        const dnnl_dims_t sd = {g->sh, g->sw}, dl = {g->dh - 1, g->dw - 1}, pl = {g->ph, g->pw};
        const dnnl_memory_desc_t *bp = has_bias ? &bia : NULL;
        dnnl_convolution_desc_t cd;
        dnnl_deconvolution_desc_t dcd;
        dnnl_status_t s;
        if (!g->transposed) {
            if (kind == CK_FWD)
                s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training, alg, &src, &wei, bp, &dst, sd,
                                                               dl, pl, pl);
            else if (kind == CK_BWD_DATA)
                s = dnnl_dilated_convolution_backward_data_desc_init(&cd, alg, &src, &wei, &dst, sd, dl, pl, pl);
            else
                s = dnnl_dilated_convolution_backward_weights_desc_init(&cd, alg, &src, &wei, bp, &dst, sd, dl, pl, pl);
        } else {
            if (kind == CK_FWD)
                s = dnnl_dilated_deconvolution_forward_desc_init(&dcd, dnnl_forward_training, alg, &src, &wei, bp, &dst,
                                                                 sd, dl, pl, pl);
            else if (kind == CK_BWD_DATA)
                s = dnnl_dilated_deconvolution_backward_data_desc_init(&dcd, alg, &src, &wei, &dst, sd, dl, pl, pl);
            else
                s = dnnl_dilated_deconvolution_backward_weights_desc_init(&dcd, alg, &src, &wei, bp, &dst, sd, dl, pl, pl);
        }
        if (s != dnnl_success) {
            if (v < V_ANY) continue;
            rc = aspire_dnnl_fail(s, "convolution descriptor");
            goto fail;
        }
        const_dnnl_op_desc_t desc = g->transposed ? (const_dnnl_op_desc_t)&dcd : (const_dnnl_op_desc_t)&cd;
        const_dnnl_primitive_desc_t hpd = hint ? hint->pd : NULL;
        rc = v < V_ANY ? aspire_dnnl_make_fast(d, &k, desc, attr, hpd, &p) : aspire_dnnl_make(d, &k, desc, attr, hpd, &p);
        if (rc != ASPIRE_OK && v < V_ANY) { aspire_error_clear(); continue; }
        if (rc != ASPIRE_OK) goto fail;
        p->alg = (int)alg;
        p->variant = v;
        *out = p;
        goto fail; /* rc is ASPIRE_OK: only frees the attribute */
    }
    rc = aspire_error(ASPIRE_ERR_BACKEND, "oneDNN: no convolution kernel");
fail:
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* Returns data in layout `want`: `data` itself when its layout `have` is the same bytes, else a
 * reordered copy in `buf` (which must hold dnnl_memory_desc_get_size(want) bytes). */
static int as_layout(aspire_dnnl *d, const dnnl_memory_desc_t *have, const float *data, const dnnl_memory_desc_t *want,
                     float *buf, const float **out) {
    if (aspire_dnnl_md_same(have, want)) { *out = data; return ASPIRE_OK; }
    if (!buf) return aspire_error(ASPIRE_ERR_NOMEM, "convolution: out of memory for a layout copy");
    *out = buf;
    return aspire_dnnl_reorder(d, have, data, want, buf);
}

/* Forward on oneDNN. post (inference only): POST_SUM adds `residual` (NHWC, like y), POST_RELU
 * clamps; sv (when recording) receives what the backward pass needs. */
static int64_t conv_work(const conv_geom *g) { return g->n * g->oh * g->ow * g->co * g->ci * g->kh * g->kw; }

static int conv_fwd_dnnl_run(aspire_ctx *ctx, float *y, const float *x, const float *w, const float *b,
                             const conv_geom *g, int post, const float *residual, conv_saved *sv);

static int conv_fwd_dnnl(aspire_ctx *ctx, float *y, const float *x, const float *w, const float *b, const conv_geom *g,
                         int post, const float *residual, conv_saved *sv) {
    int prev = aspire_threads_limit(conv_work(g));
    int rc = conv_fwd_dnnl_run(ctx, y, x, w, b, g, post, residual, sv);
    aspire_threads_restore(prev);
    return rc;
}

static int conv_fwd_dnnl_run(aspire_ctx *ctx, float *y, const float *x, const float *w, const float *b,
                             const conv_geom *g, int post, const float *residual, conv_saved *sv) {
    int rc;
    aspire_dnnl *d = aspire_dnnl_get(ctx);
    if (!d) return ASPIRE_ERR_BACKEND;
    aspire_prim *p;
    ASPIRE_TRY(conv_prim_post(d, CK_FWD, g, b != NULL, sv != NULL, post, &p));
    dnnl_memory_desc_t ux, uw, uy;
    ASPIRE_TRY(user_mds(g, &ux, &uw, &uy));
    const dnnl_memory_desc_t *px = aspire_prim_md(p, DNNL_ARG_SRC), *pw = aspire_prim_md(p, DNNL_ARG_WEIGHTS),
                             *py = aspire_prim_md(p, DNNL_ARG_DST);
    const float *xs = NULL, *ws = NULL;
    int same_x = aspire_dnnl_md_same(&ux, px), same_y = aspire_dnnl_md_same(&uy, py);
    /* x in the primitive's layout is not kept for the backward pass (it is reordered again there):
     * activations dominate the arena and a reorder is cheap next to the convolution. */
    ASPIRE_TRY(as_layout(d, &ux, x, px, same_x ? NULL : aspire_dnnl_tmp(d, 0, dnnl_memory_desc_get_size(px)), &xs));
    /* w in the primitive's layout is kept (small) for the backward-data pass */
    float *wbuf = NULL;
    if (!aspire_dnnl_md_same(&uw, pw)) {
        size_t bytes = dnnl_memory_desc_get_size(pw);
        wbuf = sv ? aspire_ctx_alloc(ctx, bytes) : aspire_dnnl_tmp(d, 1, bytes);
    }
    ASPIRE_TRY(as_layout(d, &uw, w, pw, wbuf, &ws));
    float *ys = same_y ? y : aspire_dnnl_tmp(d, 2, dnnl_memory_desc_get_size(py));
    if (!ys) return ASPIRE_ERR_NOMEM;
    if (post & POST_SUM) {
        if (same_y) memcpy(ys, residual, sizeof(float) * (size_t)(g->n * g->oh * g->ow * g->co));
        else ASPIRE_TRY(aspire_dnnl_reorder(d, &uy, residual, py, ys));
    }
    aspire_dnnl_arg args[4] = {{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DST, ys}, {DNNL_ARG_BIAS, b}};
    ASPIRE_TRY(aspire_dnnl_exec(d, p, b ? 4 : 3, args));
    if (!same_y) ASPIRE_TRY(aspire_dnnl_reorder(d, py, ys, &uy, y));
    if (sv) {
        sv->fwd = p;
        sv->xp = same_x ? x : NULL;
        sv->wp = ws;
    }
    return ASPIRE_OK;
fail:
    return rc;
}

/* Gradients on oneDNN. gx, gw, gb: where to write d x, d w, d b (NULL: not wanted); acc_x: add
 * into gx instead of assigning. */
static int conv_bwd_dnnl_run(aspire_ctx *ctx, const conv_saved *sv, const float *dy, const float *x, const float *w,
                             int has_bias, float *gx, int acc_x, float *gw, float *gb);

static int conv_bwd_dnnl(aspire_ctx *ctx, const conv_saved *sv, const float *dy, const float *x, const float *w,
                         int has_bias, float *gx, int acc_x, float *gw, float *gb) {
    int prev = aspire_threads_limit(conv_work(&sv->g));
    int rc = conv_bwd_dnnl_run(ctx, sv, dy, x, w, has_bias, gx, acc_x, gw, gb);
    aspire_threads_restore(prev);
    return rc;
}

static int conv_bwd_dnnl_run(aspire_ctx *ctx, const conv_saved *sv, const float *dy, const float *x, const float *w,
                             int has_bias, float *gx, int acc_x, float *gw, float *gb) {
    int rc;
    const conv_geom *g = &sv->g;
    aspire_dnnl *d = aspire_dnnl_get(ctx);
    if (!d) return ASPIRE_ERR_BACKEND;
    dnnl_memory_desc_t ux, uw, uy;
    ASPIRE_TRY(user_mds(g, &ux, &uw, &uy));
    const dnnl_memory_desc_t *fx = aspire_prim_md(sv->fwd, DNNL_ARG_SRC), *fw = aspire_prim_md(sv->fwd, DNNL_ARG_WEIGHTS);
    const dnnl_memory_desc_t *dymd = NULL; /* layout of dys */
    const float *dys = NULL;
    if (gw || gb) {
        aspire_prim *p;
        ASPIRE_TRY(conv_prim(d, CK_BWD_WEIGHTS, g, has_bias, 1, &p));
        const dnnl_memory_desc_t *px = aspire_prim_md(p, DNNL_ARG_SRC), *pdy = aspire_prim_md(p, DNNL_ARG_DIFF_DST),
                                 *pdw = aspire_prim_md(p, DNNL_ARG_DIFF_WEIGHTS);
        const float *xs = NULL;
        if (sv->xp && aspire_dnnl_md_same(fx, px)) xs = sv->xp;
        else ASPIRE_TRY(as_layout(d, &ux, x, px, aspire_dnnl_tmp(d, 0, dnnl_memory_desc_get_size(px)), &xs));
        ASPIRE_TRY(as_layout(d, &uy, dy, pdy, aspire_dnnl_tmp(d, 1, dnnl_memory_desc_get_size(pdy)), &dys));
        dymd = pdy;
        int same_w = aspire_dnnl_md_same(&uw, pdw);
        float *dws = same_w && gw ? gw : aspire_dnnl_tmp(d, 2, dnnl_memory_desc_get_size(pdw));
        float *dbs = gb ? gb : aspire_dnnl_tmp(d, 3, sizeof(float) * (size_t)g->co);
        if (!dws || !dbs) return ASPIRE_ERR_NOMEM;
        aspire_dnnl_arg args[4] = {{DNNL_ARG_SRC, xs}, {DNNL_ARG_DIFF_DST, dys}, {DNNL_ARG_DIFF_WEIGHTS, dws},
                                   {DNNL_ARG_DIFF_BIAS, dbs}};
        ASPIRE_TRY(aspire_dnnl_exec(d, p, has_bias ? 4 : 3, args));
        if (gw && !same_w) ASPIRE_TRY(aspire_dnnl_reorder(d, pdw, dws, &uw, gw));
    }
    if (gx) {
        aspire_prim *p;
        ASPIRE_TRY(conv_prim(d, CK_BWD_DATA, g, has_bias, 1, &p));
        const dnnl_memory_desc_t *pw = aspire_prim_md(p, DNNL_ARG_WEIGHTS), *pdy = aspire_prim_md(p, DNNL_ARG_DIFF_DST),
                                 *pdx = aspire_prim_md(p, DNNL_ARG_DIFF_SRC);
        const float *ws = NULL, *dyd = NULL;
        if (aspire_dnnl_md_same(fw, pw)) ws = sv->wp;
        else ASPIRE_TRY(as_layout(d, &uw, w, pw, aspire_dnnl_tmp(d, 0, dnnl_memory_desc_get_size(pw)), &ws));
        if (dymd && aspire_dnnl_md_same(dymd, pdy)) dyd = dys;
        else ASPIRE_TRY(as_layout(d, &uy, dy, pdy, aspire_dnnl_tmp(d, 2, dnnl_memory_desc_get_size(pdy)), &dyd));
        int same_x = aspire_dnnl_md_same(&ux, pdx);
        float *dxs = same_x && !acc_x ? gx : aspire_dnnl_tmp(d, 3, dnnl_memory_desc_get_size(pdx));
        if (!dxs) return ASPIRE_ERR_NOMEM;
        aspire_dnnl_arg args[3] = {{DNNL_ARG_DIFF_DST, dyd}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DIFF_SRC, dxs}};
        ASPIRE_TRY(aspire_dnnl_exec(d, p, 3, args));
        if (!same_x) {
            float *plain = acc_x ? aspire_dnnl_tmp(d, 0, sizeof(float) * (size_t)(g->n * g->ih * g->iw * g->ci)) : gx;
            if (!plain) return ASPIRE_ERR_NOMEM;
            ASPIRE_TRY(aspire_dnnl_reorder(d, pdx, dxs, &ux, plain));
            dxs = plain;
        }
        if (acc_x) {
            /* gx already holds a gradient: add (through reused scratch, not the arena) */
            int64_t n = g->n * g->ih * g->iw * g->ci;
#pragma omp parallel for simd schedule(static) if (n > ASPIRE_SMALL_WORK)
            for (int64_t i = 0; i < n; i++) gx[i] += dxs[i];
        }
    }
    return ASPIRE_OK;
fail:
    return rc;
}

/* ---- reference path wrappers ---------------------------------------------------------------- */
static int conv_fwd_ref(aspire_ctx *ctx, float *y, const float *x, const float *w, const float *b, const conv_geom *g) {
    conv_shape s = geom_shape(g);
    float *wt = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(s.kh * s.kw * s.c * s.o));
    if (!wt) return ASPIRE_ERR_NOMEM;
    if (!g->transposed) {
        ref_conv_fwd(y, x, w, b, wt, &s);
    } else {
        ref_conv_bwd_data(y, x, w, wt, &s);
        if (b) {
            int64_t m = g->n * g->oh * g->ow;
#pragma omp parallel for schedule(static) if (m * g->co > ASPIRE_SMALL_WORK)
            for (int64_t i = 0; i < m; i++)
                for (int64_t o = 0; o < g->co; o++) y[i * g->co + o] += b[o];
        }
    }
    return ASPIRE_OK;
}

static int conv_bwd_ref(aspire_ctx *ctx, const conv_geom *g, const float *dy, const float *x, const float *w, float *gx,
                        float *gw, float *gb) {
    conv_shape s = geom_shape(g);
    float *wt = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(s.kh * s.kw * s.c * s.o));
    if (!wt) return ASPIRE_ERR_NOMEM;
    if (!g->transposed) {
        if (gx) ref_conv_bwd_data(gx, dy, w, wt, &s);
        if (gw) ref_conv_bwd_weights(gw, NULL, x, dy, &s);
    } else {
        if (gx) ref_conv_fwd(gx, dy, w, NULL, wt, &s);
        if (gw) ref_conv_bwd_weights(gw, NULL, dy, x, &s);
    }
    if (gb) ref_channel_sum(gb, dy, g->n * g->oh * g->ow, g->co);
    return ASPIRE_OK;
}

/* ---- the ops ---------------------------------------------------------------------------- */
/* The op's geometry from x (N, H, W, C), w and the parameters; aborts on a contract violation. */
static conv_geom conv_geometry(const aspire_tensor *x, const aspire_tensor *w, const aspire_tensor *b,
                               aspire_conv_params p, int transposed) {
    const char *name = transposed ? "conv_transpose2d" : "conv2d";
    char bx[64], bw[64];
    ASPIRE_ASSERT(x->ndim == 4 && w->ndim == 4, "(%s: x %s and w %s must be 4-D)", name,
                  aspire_shape_str(x, bx, sizeof bx), aspire_shape_str(w, bw, sizeof bw));
    conv_geom g = {.n = x->shape[0], .ih = x->shape[1], .iw = x->shape[2], .ci = x->shape[3],
                   .kh = w->shape[2], .kw = w->shape[3], .transposed = transposed};
    g.sh = p.stride_h > 0 ? p.stride_h : 1;
    g.sw = p.stride_w > 0 ? p.stride_w : 1;
    g.ph = p.pad_h;
    g.pw = p.pad_w;
    g.dh = p.dil_h > 0 ? p.dil_h : 1;
    g.dw = p.dil_w > 0 ? p.dil_w : 1;
    ASPIRE_ASSERT(g.ph >= 0 && g.pw >= 0, "(%s: negative padding)", name);
    ASPIRE_ASSERT(w->shape[transposed ? 0 : 1] == g.ci, "(%s: x %s has %lld channels, w %s expects %lld)", name,
                  aspire_shape_str(x, bx, sizeof bx), (long long)g.ci, aspire_shape_str(w, bw, sizeof bw),
                  (long long)w->shape[transposed ? 0 : 1]);
    g.co = w->shape[transposed ? 1 : 0];
    if (!transposed) {
        g.oh = (g.ih + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
        g.ow = (g.iw + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
    } else {
        g.oh = (g.ih - 1) * g.sh - 2 * g.ph + g.dh * (g.kh - 1) + 1;
        g.ow = (g.iw - 1) * g.sw - 2 * g.pw + g.dw * (g.kw - 1) + 1;
    }
    ASPIRE_ASSERT(g.oh > 0 && g.ow > 0, "(%s: x %s, w %s gives an empty output)", name, aspire_shape_str(x, bx, sizeof bx),
                  aspire_shape_str(w, bw, sizeof bw));
    if (b) ASPIRE_ASSERT(b->ndim == 1 && b->shape[0] == g.co, "(%s: bias must be (%lld))", name, (long long)g.co);
    g.xl = x->layout;
    const int x_ok = g.xl == ASPIRE_LAYOUT_PLAIN || g.ci % 16 == 0;
    ASPIRE_ASSERT(x_ok, "(%s: a blocked x needs channels in 16s)", name);
    return g;
}

/* Whether layout `l` is allowed for c channels on this context (the reference path is plain only). */
static int layout_ok(aspire_ctx *ctx, int l, int64_t c) {
    return l == ASPIRE_LAYOUT_PLAIN || (l == ASPIRE_LAYOUT_NCHW16C && c % 16 == 0 && !aspire_ctx_reference(ctx));
}

static aspire_tensor *conv_op(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_tensor *b,
                              aspire_conv_params p, int transposed, int out_layout) {
    const char *name = transposed ? "conv_transpose2d" : "conv2d";
    if (!x || !w) return NULL;
    conv_geom g = conv_geometry(x, w, b, p, transposed);
    g.yl = out_layout;
    ASPIRE_ASSERT(layout_ok(ctx, g.xl, g.ci) && layout_ok(ctx, g.yl, g.co), "(%s: layouts %d -> %d, %lld -> %lld channels)",
                  name, g.xl, g.yl, (long long)g.ci, (long long)g.co);
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *y = aspire_tensor_new(ctx, 4, (int64_t[]){g.n, g.oh, g.ow, g.co});
    if (!y) return NULL;
    y->layout = (uint8_t)out_layout;
    aspire_tensor *in[3] = {x, w, b};
    aspire_node *node = aspire_record(ctx, transposed ? ASPIRE_OP_CONV_TRANSPOSE2D : ASPIRE_OP_CONV2D, y, 3, in);
    conv_saved *sv = NULL;
    if (node) {
        sv = aspire_ctx_alloc(ctx, sizeof *sv);
        if (!sv) return NULL;
        memset(sv, 0, sizeof *sv);
        sv->g = g;
        node->saved = sv;
    }
    int rc;
    if (aspire_ctx_reference(ctx)) rc = conv_fwd_ref(ctx, y->data, x->data, w->data, b ? b->data : NULL, &g);
    else rc = conv_fwd_dnnl(ctx, y->data, x->data, w->data, b ? b->data : NULL, &g, 0, NULL, sv);
    if (rc != ASPIRE_OK) {
        aspire_error_prefix(rc, "%s", name);
        return NULL;
    }
    aspire_prof_end(ctx, transposed ? ASPIRE_OP_CONV_TRANSPOSE2D : ASPIRE_OP_CONV2D, t0);
    return y;
}

aspire_tensor *aspire_conv2d(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_tensor *b, aspire_conv_params p) {
    return conv_op(ctx, x, w, b, p, 0, ASPIRE_LAYOUT_PLAIN);
}

aspire_tensor *aspire_conv2d_ex(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_tensor *b, aspire_conv_params p,
                                int out_layout) {
    return conv_op(ctx, x, w, b, p, 0, out_layout);
}

aspire_tensor *aspire_conv_transpose2d(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_tensor *b,
                                       aspire_conv_params p) {
    return conv_op(ctx, x, w, b, p, 1, ASPIRE_LAYOUT_PLAIN);
}

static void conv_backward(aspire_ctx *ctx, aspire_node *node) {
    aspire_tensor *x = node->in[0], *w = node->in[1], *b = node->in[2], *y = node->out;
    const conv_saved *sv = node->saved;
    int ax = 0, aw = 0, ab = 0;
    /* d x is added straight into x->grad when x already has one (a shortcut's input): no arena
     * scratch for it on the oneDNN path. */
    const int acc_x = aspire_needs_grad(x) && x->grad_valid;
    float *gx = !aspire_needs_grad(x) ? NULL : acc_x ? x->grad : aspire_grad_begin(ctx, x, &ax);
    float *gw = aspire_needs_grad(w) ? aspire_grad_begin(ctx, w, &aw) : NULL;
    float *gb = aspire_needs_grad(b) ? aspire_grad_begin(ctx, b, &ab) : NULL;
    if ((aspire_needs_grad(x) && !gx) || (aspire_needs_grad(w) && !gw) || (aspire_needs_grad(b) && !gb)) return;
    int rc = ASPIRE_ERR_BACKEND;
    if (sv->fwd) rc = conv_bwd_dnnl(ctx, sv, y->grad, x->data, w->data, b != NULL, gx, acc_x, gw, gb);
    if (rc == ASPIRE_OK) {
        if (gw) aspire_grad_end(ctx, w, gw, aw);
        if (gb) aspire_grad_end(ctx, b, gb, ab);
        return;
    }
    /* The reference path (also the stand-in should oneDNN fail here: the forward already succeeded
     * on the same shapes, so this is not expected; backward functions cannot return errors). */
    if (sv->fwd) aspire_dnnl_note_fallback(ctx);
    if (acc_x && !(gx = aspire_grad_begin(ctx, x, &ax))) return;
    conv_bwd_ref(ctx, &sv->g, y->grad, x->data, w->data, gx, gw, gb);
    if (gx) aspire_grad_end(ctx, x, gx, ax);
    if (gw) aspire_grad_end(ctx, w, gw, aw);
    if (gb) aspire_grad_end(ctx, b, gb, ab);
}

void aspire_bwd_conv2d(aspire_ctx *ctx, aspire_node *node) { conv_backward(ctx, node); }
void aspire_bwd_conv_transpose2d(aspire_ctx *ctx, aspire_node *node) { conv_backward(ctx, node); }

/* ---- eval-mode convolution with batch norm folded in (fused.h) ------------------------------ */
aspire_tensor *aspire_conv_bn_eval(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_conv_params p,
                                   aspire_tensor *gamma, aspire_tensor *beta, aspire_tensor *running_mean,
                                   aspire_tensor *running_var, float eps, aspire_tensor *residual, int relu,
                                   int out_layout) {
    if (!x || !w) return NULL;
    if (aspire_ctx_training(ctx) || aspire_ctx_recording(ctx) || aspire_ctx_reference(ctx))
        return aspire_batchnorm_act(ctx, aspire_conv2d_ex(ctx, x, w, NULL, p, out_layout), gamma, beta, running_mean,
                                    running_var, 0.0f, eps, residual, relu);
    conv_geom g = conv_geometry(x, w, NULL, p, 0);
    g.yl = out_layout;
    ASPIRE_ASSERT(layout_ok(ctx, g.xl, g.ci) && layout_ok(ctx, g.yl, g.co), "(conv_bn_eval: layouts %d -> %d)", g.xl, g.yl);
    const int64_t C = g.co, K = g.ci * g.kh * g.kw;
    ASPIRE_ASSERT(running_mean && running_var && running_mean->numel == C && running_var->numel == C,
                  "(conv_bn_eval: running statistics must be (%lld))", (long long)C);
    ASPIRE_ASSERT((!gamma || gamma->numel == C) && (!beta || beta->numel == C), "(conv_bn_eval: gamma/beta must be (%lld))",
                  (long long)C);
    if (residual) {
        char b1[64];
        ASPIRE_ASSERT(residual->ndim == 4 && residual->shape[0] == g.n && residual->shape[1] == g.oh &&
                      residual->shape[2] == g.ow && residual->shape[3] == C && residual->layout == out_layout,
                      "(conv_bn_eval: residual %s, layout %d)", aspire_shape_str(residual, b1, sizeof b1), residual->layout);
    }
    double t0 = aspire_prof_begin(ctx);
    aspire_tensor *y = aspire_tensor_new(ctx, 4, (int64_t[]){g.n, g.oh, g.ow, C});
    if (y) y->layout = (uint8_t)out_layout;
    float *wf = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(C * K)), *bias = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)C);
    if (!y || !wf || !bias) return NULL;
    /* y = (conv(x, w) - mean) * s + beta with s = gamma / sqrt(var + eps): scale w per output
     * channel, shift by the bias. */
    for (int64_t o = 0; o < C; o++) {
        double s = (gamma ? gamma->data[o] : 1.0) / sqrt((double)running_var->data[o] + (double)eps);
        bias[o] = (float)((beta ? beta->data[o] : 0.0) - running_mean->data[o] * s);
        for (int64_t k = 0; k < K; k++) wf[o * K + k] = (float)(w->data[o * K + k] * s);
    }
    int post = (residual ? POST_SUM : 0) | (relu ? POST_RELU : 0);
    int rc = conv_fwd_dnnl(ctx, y->data, x->data, wf, bias, &g, post, residual ? residual->data : NULL, NULL);
    if (rc != ASPIRE_OK) {
        aspire_error_prefix(rc, "conv2d+batchnorm");
        return NULL;
    }
    aspire_prof_end(ctx, ASPIRE_OP_CONV2D, t0);
    return y;
}
