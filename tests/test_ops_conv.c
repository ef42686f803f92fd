/* test_ops_conv.c — the image ops (conv2d, conv_transpose2d, pooling, upsampling, batch norm with
 * its fused residual/ReLU form, group norm): every backward against finite differences on both
 * paths (reference C and oneDNN), the oneDNN path against the reference for many shapes, strides,
 * paddings and dilations (forward and every gradient), forward values against loops written here,
 * batch-norm running statistics against hand-computed values, and the oneDNN primitive cache. */
#include "aspire/engine.h"
#include "engine/onednn_glue.h"
#include "engine/fused.h"
#include "gradcheck.h"
#include "test.h"

#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------- */
static int64_t numel_of(int ndim, const int64_t *s) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= s[i];
    return n;
}

static void fill_normal(float *x, int64_t n, uint64_t seed, float scale) {
    aspire_rng r;
    aspire_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) x[i] = scale * aspire_rng_normal(&r);
}

static aspire_ctx *new_ctx(int reference) {
    aspire_ctx *ctx = NULL;
    aspire_ctx_options o = gc_options;  /* the batch-norm kernel under test */
    o.seed = 1;
    o.reference = reference;
    CHECK(aspire_ctx_new(&ctx, &o) == ASPIRE_OK);
    return ctx;
}

/* Runs gradcheck once on the oneDNN path and once on the reference path (gc_options.reference
 * makes gradcheck's context a reference one). Inputs: normal(0, 1) * scale[k]. */
typedef struct gspec {
    int nin;
    int ndim[5];
    int64_t shape[5][ASPIRE_MAX_DIMS];
    int mask[5];
    float scale[5];
} gspec;

static void gc_both(const char *what, gc_fn fn, void *ud, const gspec *s, double eps, double tol) {
    float *data[5];
    for (int path = 0; path < 2; path++) {
        for (int k = 0; k < s->nin; k++) {
            int64_t n = numel_of(s->ndim[k], s->shape[k]);
            data[k] = malloc(sizeof(float) * (size_t)n);
            fill_normal(data[k], n, 100 + (uint64_t)k, s->scale[k] != 0.0f ? s->scale[k] : 1.0f);
        }
        gc_options.reference = path;
        char name[160];
        snprintf(name, sizeof name, "%s [%s]", what, path ? "reference" : "oneDNN");
        gradcheck(name, fn, ud, s->nin, data, s->ndim, (const int64_t(*)[ASPIRE_MAX_DIMS])s->shape, s->mask, eps, tol, 120);
        gc_options.reference = 0;
        for (int k = 0; k < s->nin; k++) free(data[k]);
    }
}

/* Runs `fn` on both paths with the same inputs and upstream gradients; compares the outputs and
 * every input gradient: max |a - b| <= tol * max(1, max |b|). */
static void paths_agree(const char *what, gc_fn fn, void *ud, const gspec *s, double tol) {
    float *out[2] = {0}, *grads[2][5] = {{0}};
    int64_t nout = 0;
    for (int path = 0; path < 2; path++) {
        aspire_ctx *ctx = new_ctx(path);
        aspire_ctx_set_training(ctx, 1);
        aspire_tensor *in[5];
        for (int k = 0; k < s->nin; k++) {
            in[k] = aspire_tensor_new(ctx, s->ndim[k], s->shape[k]);
            fill_normal(in[k]->data, in[k]->numel, 300 + (uint64_t)k, s->scale[k] != 0.0f ? s->scale[k] : 1.0f);
            in[k]->requires_grad = (uint8_t)s->mask[k];
        }
        aspire_tensor *y = fn(ctx, in, ud);
        CHECK_MSG(y != NULL, "%s: forward failed: %s", what, aspire_errmsg());
        if (!y) { aspire_ctx_free(ctx); return; }
        nout = y->numel;
        /* applied twice, so that every input gradient is also accumulated into once */
        aspire_tensor *y2 = fn(ctx, in, ud);
        aspire_tensor *r = aspire_tensor_new(ctx, y->ndim, y->shape), *r2 = aspire_tensor_new(ctx, y->ndim, y->shape);
        fill_normal(r->data, r->numel, 77, 1.0f);
        fill_normal(r2->data, r2->numel, 78, 1.0f);
        CHECK(aspire_backward(ctx, aspire_add(ctx, aspire_sum(ctx, aspire_mul(ctx, y, r)),
                                              aspire_sum(ctx, aspire_mul(ctx, y2, r2)))) == ASPIRE_OK);
        out[path] = malloc(sizeof(float) * (size_t)nout);
        memcpy(out[path], y->data, sizeof(float) * (size_t)nout);
        CHECK_MSG(aspire_dnnl_fallbacks(ctx) == 0, "%s: a oneDNN backward fell back to the reference", what);
        for (int k = 0; k < s->nin; k++) {
            if (!s->mask[k]) continue;
            grads[path][k] = calloc((size_t)in[k]->numel, sizeof(float));
            if (in[k]->grad_valid) memcpy(grads[path][k], in[k]->grad, sizeof(float) * (size_t)in[k]->numel);
        }
        aspire_ctx_free(ctx);
    }
    double worst = 0;
    const char *where = "output";
    for (int k = -1; k < s->nin; k++) {
        if (k >= 0 && !s->mask[k]) continue;
        const float *a = k < 0 ? out[0] : grads[0][k], *b = k < 0 ? out[1] : grads[1][k];
        int64_t n = k < 0 ? nout : numel_of(s->ndim[k], s->shape[k]);
        double mb = 1.0, md = 0;
        for (int64_t i = 0; i < n; i++) {
            mb = fmax(mb, fabs(b[i]));
            md = fmax(md, fabs((double)a[i] - b[i]));
        }
        if (md / mb > worst) {
            worst = md / mb;
            where = k < 0 ? "output" : "a gradient";
        }
    }
    CHECK_MSG(worst <= tol, "%s: oneDNN vs reference differ by %.3g (relative, in %s) > %.3g", what, worst, where, tol);
    for (int p = 0; p < 2; p++) {
        free(out[p]);
        for (int k = 0; k < s->nin; k++) free(grads[p][k]);
    }
}

/* ---- convolution ----------------------------------------------------------------------------- */
typedef struct conv_case {
    int n, h, w, c, o, kh, kw;
    aspire_conv_params p;
    int bias;
} conv_case;

static aspire_tensor *f_conv(aspire_ctx *c, aspire_tensor **in, void *ud) {
    const conv_case *cc = ud;
    return aspire_conv2d(c, in[0], in[1], cc->bias ? in[2] : NULL, cc->p);
}

static aspire_tensor *f_deconv(aspire_ctx *c, aspire_tensor **in, void *ud) {
    const conv_case *cc = ud;
    return aspire_conv_transpose2d(c, in[0], in[1], cc->bias ? in[2] : NULL, cc->p);
}

static gspec conv_spec(const conv_case *cc, int transposed) {
    gspec s = {.nin = cc->bias ? 3 : 2, .ndim = {4, 4, 1}, .mask = {1, 1, 1}, .scale = {1, 0.3f, 1}};
    int64_t x[4] = {cc->n, cc->h, cc->w, cc->c};
    int64_t w[4] = {transposed ? cc->c : cc->o, transposed ? cc->o : cc->c, cc->kh, cc->kw};
    memcpy(s.shape[0], x, sizeof x);
    memcpy(s.shape[1], w, sizeof w);
    s.shape[2][0] = cc->o;
    return s;
}

/* Forward values against a loop written here (direct definition of PyTorch's conv2d). */
static void test_conv_values(void) {
    conv_case cc = {2, 6, 5, 3, 4, 3, 2, {.stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 0, .dil_h = 1, .dil_w = 2}, 1};
    for (int path = 0; path < 2; path++) {
        aspire_ctx *ctx = new_ctx(path);
        gspec s = conv_spec(&cc, 0);
        aspire_tensor *x = aspire_tensor_new(ctx, 4, s.shape[0]), *w = aspire_tensor_new(ctx, 4, s.shape[1]),
                      *b = aspire_tensor_new(ctx, 1, s.shape[2]);
        fill_normal(x->data, x->numel, 1, 1);
        fill_normal(w->data, w->numel, 2, 1);
        fill_normal(b->data, b->numel, 3, 1);
        aspire_tensor *y = aspire_conv2d(ctx, x, w, b, cc.p);
        CHECK(y && y->shape[1] == 3 && y->shape[2] == 3 && y->shape[3] == 4);
        double worst = 0;
        for (int n = 0; n < 2; n++)
            for (int oy = 0; oy < 3; oy++)
                for (int ox = 0; ox < 3; ox++)
                    for (int o = 0; o < 4; o++) {
                        double acc = b->data[o];
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 2; kx++)
                                for (int c = 0; c < 3; c++) {
                                    int iy = oy * 2 - 1 + ky, ix = ox - 0 + kx * 2;
                                    if (iy < 0 || iy >= 6 || ix < 0 || ix >= 5) continue;
                                    acc += (double)x->data[((n * 6 + iy) * 5 + ix) * 3 + c] * w->data[((o * 3 + c) * 3 + ky) * 2 + kx];
                                }
                        worst = fmax(worst, fabs(acc - y->data[((n * 3 + oy) * 3 + ox) * 4 + o]));
                    }
        CHECK_MSG(worst < 1e-4, "conv2d values (%s): max error %g", path ? "reference" : "oneDNN", worst);
        aspire_ctx_free(ctx);
    }
}

static void test_conv_grads(void) {
    const conv_case cases[] = {
        {2, 5, 5, 3, 4, 3, 3, {1, 1, 1, 1, 1, 1}, 1},
        {2, 7, 6, 2, 3, 3, 3, {2, 2, 1, 1, 1, 1}, 0},
        {1, 7, 7, 3, 2, 3, 3, {1, 1, 2, 2, 2, 2}, 1},
        {2, 6, 5, 4, 3, 1, 1, {2, 1, 0, 0, 1, 1}, 0},
        {2, 5, 6, 2, 3, 2, 3, {1, 2, 0, 1, 1, 1}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gspec s = conv_spec(&cases[i], 0);
        char name[64];
        snprintf(name, sizeof name, "conv2d case %zu", i);
        gc_both(name, f_conv, (void *)&cases[i], &s, 1e-2, 2e-2);
    }
}

static void test_deconv_grads(void) {
    const conv_case cases[] = {
        {2, 4, 4, 3, 2, 3, 3, {2, 2, 1, 1, 1, 1}, 1},
        {1, 3, 4, 2, 3, 4, 4, {2, 2, 1, 1, 1, 1}, 0},
        {2, 4, 3, 2, 2, 3, 2, {1, 1, 0, 1, 2, 1}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gspec s = conv_spec(&cases[i], 1);
        char name[64];
        snprintf(name, sizeof name, "conv_transpose2d case %zu", i);
        gc_both(name, f_deconv, (void *)&cases[i], &s, 1e-2, 2e-2);
    }
}

/* The transposed convolution is the adjoint of the convolution: <conv(x), y> = <x, convT(y)>. */
static void test_deconv_adjoint(void) {
    for (int path = 0; path < 2; path++) {
        aspire_ctx *ctx = new_ctx(path);
        aspire_conv_params p = {2, 2, 1, 1, 1, 1};
        aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){2, 7, 7, 3});
        aspire_tensor *w = aspire_tensor_new(ctx, 4, (int64_t[]){5, 3, 3, 3}); /* conv: (O=5, C=3); convT: (CI=5, CO=3) */
        fill_normal(x->data, x->numel, 5, 1);
        fill_normal(w->data, w->numel, 6, 1);
        aspire_tensor *cx = aspire_conv2d(ctx, x, w, NULL, p);
        aspire_tensor *y = aspire_tensor_new(ctx, 4, cx->shape);
        fill_normal(y->data, y->numel, 7, 1);
        aspire_tensor *ty = aspire_conv_transpose2d(ctx, y, w, NULL, p);
        CHECK(ty && aspire_tensor_same_shape(ty, x));
        double a = 0, b = 0;
        for (int64_t i = 0; i < cx->numel; i++) a += (double)cx->data[i] * y->data[i];
        for (int64_t i = 0; i < x->numel; i++) b += (double)x->data[i] * ty->data[i];
        CHECK_CLOSE(a, b, 1e-4);
        aspire_ctx_free(ctx);
    }
}

static void test_conv_paths_agree(void) {
    const conv_case cases[] = {
        {2, 9, 9, 16, 32, 3, 3, {1, 1, 1, 1, 1, 1}, 0},   /* Winograd-eligible */
        {3, 8, 8, 32, 16, 3, 3, {1, 1, 1, 1, 1, 1}, 1},   /* Winograd with bias */
        {2, 10, 9, 16, 32, 3, 3, {2, 2, 1, 1, 1, 1}, 0},  /* stride 2 */
        {2, 9, 9, 16, 32, 1, 1, {2, 2, 0, 0, 1, 1}, 0},   /* 1x1 projection */
        {2, 16, 16, 3, 16, 3, 3, {1, 1, 1, 1, 1, 1}, 0},  /* reference-network stem */
        {2, 17, 15, 3, 8, 7, 7, {2, 2, 3, 3, 1, 1}, 1},   /* ImageNet stem */
        {2, 11, 12, 5, 6, 3, 3, {1, 1, 2, 2, 2, 2}, 1},   /* dilation 2 */
        {1, 12, 10, 4, 7, 3, 5, {1, 2, 0, 2, 3, 1}, 0},   /* non-square, asymmetric */
        {2, 9, 9, 16, 16, 3, 3, {1, 1, 0, 0, 1, 1}, 0},   /* valid padding */
        {2, 32, 32, 16, 16, 3, 3, {1, 1, 1, 1, 1, 1}, 0}, /* reference-network stage 1 */
        {2, 16, 16, 32, 32, 3, 3, {1, 1, 1, 1, 1, 1}, 0}, /* reference-network stage 2 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gspec s = conv_spec(&cases[i], 0);
        char name[64];
        snprintf(name, sizeof name, "conv2d agree case %zu", i);
        /* Float sums in different orders (and Winograd's transforms): a few 1e-6 relative. */
        paths_agree(name, f_conv, (void *)&cases[i], &s, 2e-5);
    }
    const conv_case dcases[] = {
        {2, 6, 6, 16, 8, 4, 4, {2, 2, 1, 1, 1, 1}, 1},
        {2, 5, 7, 3, 5, 3, 3, {2, 1, 0, 1, 1, 2}, 0},
    };
    for (size_t i = 0; i < sizeof dcases / sizeof dcases[0]; i++) {
        gspec s = conv_spec(&dcases[i], 1);
        char name[64];
        snprintf(name, sizeof name, "conv_transpose2d agree case %zu", i);
        paths_agree(name, f_deconv, (void *)&dcases[i], &s, 2e-5);
    }
}

/* ---- pooling and upsampling --------------------------------------------------------------- */
typedef struct pool_case { int kind, k, s, p; } pool_case; /* kind 0 max, 1 avg, 2 global, 3 upsample(k) */

static aspire_tensor *f_pool(aspire_ctx *c, aspire_tensor **in, void *ud) {
    const pool_case *pc = ud;
    switch (pc->kind) {
    case 0: return aspire_maxpool2d(c, in[0], pc->k, pc->s, pc->p);
    case 1: return aspire_avgpool2d(c, in[0], pc->k, pc->s, pc->p);
    case 2: return aspire_global_avgpool(c, in[0]);
    default: return aspire_upsample_nearest(c, in[0], pc->k);
    }
}

static void test_pool(void) {
    const pool_case cases[] = {{0, 2, 2, 0}, {0, 3, 2, 1}, {0, 3, 1, 1}, {1, 2, 2, 0}, {1, 3, 2, 1},
                               {1, 3, 1, 1}, {2, 0, 0, 0}, {3, 2, 0, 0}, {3, 3, 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gspec s = {.nin = 1, .ndim = {4}, .shape = {{2, 7, 6, 5}}, .mask = {1}};
        char name[64];
        snprintf(name, sizeof name, "pool case %zu", i);
        gc_both(name, f_pool, (void *)&cases[i], &s, 1e-3, 1e-2);
        gspec big = {.nin = 1, .ndim = {4}, .shape = {{3, 17, 16, 32}}, .mask = {1}};
        snprintf(name, sizeof name, "pool agree case %zu", i);
        paths_agree(name, f_pool, (void *)&cases[i], &big, 1e-6);
    }
    /* values: max of a 2x2 window with padding ignored; average counting padding */
    for (int path = 0; path < 2; path++) {
        aspire_ctx *ctx = new_ctx(path);
        aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){1, 3, 3, 1});
        for (int i = 0; i < 9; i++) x->data[i] = (float)(i - 4); /* -4 .. 4, negative near the top */
        aspire_tensor *m = aspire_maxpool2d(ctx, x, 2, 2, 1), *a = aspire_avgpool2d(ctx, x, 2, 2, 1);
        aspire_tensor *g = aspire_global_avgpool(ctx, x), *u = aspire_upsample_nearest(ctx, x, 2);
        CHECK(m->shape[1] == 2 && m->shape[2] == 2);
        CHECK(m->data[0] == -4.0f && m->data[1] == -2.0f && m->data[2] == 2.0f && m->data[3] == 4.0f);
        CHECK_CLOSE(a->data[0], -4.0 / 4, 1e-6);
        CHECK_CLOSE(a->data[3], (0 + 1 + 3 + 4) / 4.0, 1e-6);
        CHECK(g->ndim == 2 && g->shape[0] == 1 && g->shape[1] == 1);
        CHECK_CLOSE(g->data[0], 0.0, 1e-6);
        CHECK(u->shape[1] == 6 && u->data[0] == -4.0f && u->data[1] == -4.0f && u->data[6] == -4.0f && u->data[35] == 4.0f);
        aspire_ctx_free(ctx);
    }
}

/* ---- batch norm, group norm --------------------------------------------------------------- */
typedef struct bn_case {
    int eval, residual, relu;
    aspire_tensor *rm, *rv; /* persistent running statistics */
} bn_case;

static aspire_tensor *f_bn(aspire_ctx *c, aspire_tensor **in, void *ud) {
    const bn_case *bc = ud;
    aspire_ctx_set_training(c, !bc->eval);
    return aspire_batchnorm_act(c, in[0], in[1], in[2], bc->rm, bc->rv, 0.1f, 1e-5f, bc->residual ? in[3] : NULL,
                                bc->relu);
}

/* Every case on each of batch norm's non-reference kernels: the default (fused C), forced fused C,
 * oneDNN's primitive. */
static void test_batchnorm_grads(void) {
    const char *kernels[3] = {NULL, "fast", "onednn"};
    const int bn_kernels[3] = {ASPIRE_BN_DEFAULT, ASPIRE_BN_FAST, ASPIRE_BN_ONEDNN};
    const int shapes[3][4] = {{2, 4, 3, 5}, {6, 7, 0, 0}, {2, 3, 3, 16}};
    const int nd[3] = {4, 2, 4};
    for (int kn = 0; kn < 3; kn++)
    for (int si = 0; si < 3; si++) {
        gc_options.bn_kernel = bn_kernels[kn];
        for (int mode = 0; mode < 4; mode++) {
            int64_t c = shapes[si][nd[si] - 1];
            aspire_params *ps = aspire_params_new();
            aspire_tensor *rm = aspire_params_add(ps, "rm", 1, &c, 0), *rv = aspire_params_add(ps, "rv", 1, &c, 0);
            for (int j = 0; j < c; j++) { rm->data[j] = 0.1f * (float)j; rv->data[j] = 0.5f + 0.1f * (float)j; }
            bn_case bc = {.eval = mode == 1, .residual = mode >= 2, .relu = mode == 3 || mode == 1, .rm = rm, .rv = rv};
            gspec s = {.nin = bc.residual ? 4 : 3, .ndim = {nd[si], 1, 1, nd[si]}, .mask = {1, 1, 1, 1},
                       .scale = {2, 1, 1, 1}};
            for (int d = 0; d < nd[si]; d++) s.shape[0][d] = s.shape[3][d] = shapes[si][d];
            s.shape[1][0] = s.shape[2][0] = c;
            char name[80];
            snprintf(name, sizeof name, "batchnorm (%s) shape %d %s%s%s", kernels[kn] ? kernels[kn] : "default", si,
                     bc.eval ? "eval" : "train", bc.residual ? " +residual" : "", bc.relu ? " +relu" : "");
            gc_both(name, f_bn, &bc, &s, 1e-3, 2e-2);
            /* the same on a larger batch: oneDNN against the reference */
            gspec big = s;
            big.shape[0][0] = big.shape[3][0] = nd[si] == 4 ? 8 : 300;
            snprintf(name, sizeof name, "batchnorm (%s) agree shape %d mode %d", kernels[kn] ? kernels[kn] : "default", si,
                     mode);
            paths_agree(name, f_bn, &bc, &big, 1e-5);
            aspire_params_free(ps);
        }
    }
    gc_options.bn_kernel = ASPIRE_BN_DEFAULT;
}

/* Running statistics: PyTorch's update rule (unbiased variance), checked by hand on 3 rows. */
static void test_batchnorm_running(void) {
    for (int path = 0; path < 2; path++) {
        aspire_ctx *ctx = new_ctx(path);
        aspire_params *ps = aspire_params_new();
        aspire_tensor *rm = aspire_params_add(ps, "bn.running_mean", 1, (int64_t[]){2}, 0);
        aspire_tensor *rv = aspire_params_add(ps, "bn.running_var", 1, (int64_t[]){2}, 0);
        aspire_init_fill(rv, 1.0f);
        aspire_tensor *x = aspire_tensor_from(ctx, 2, (int64_t[]){3, 2}, (float[]){1, 10, 2, 20, 6, 60});
        aspire_ctx_set_training(ctx, 1);
        aspire_tensor *y = aspire_batchnorm(ctx, x, NULL, NULL, rm, rv, 0.1f, 1e-5f);
        /* channel 0: mean 3, biased var 14/3, unbiased 7; channel 1: mean 30, unbiased 700 */
        CHECK_CLOSE(rm->data[0], 0.3, 1e-6);
        CHECK_CLOSE(rm->data[1], 3.0, 1e-6);
        CHECK_CLOSE(rv->data[0], 0.9 + 0.7, 1e-5);
        CHECK_CLOSE(rv->data[1], 0.9 + 70.0, 1e-5);
        CHECK_CLOSE(y->data[0], (1 - 3) / sqrt(14.0 / 3 + 1e-5), 1e-5);
        CHECK_CLOSE(y->data[5], (60 - 30) / sqrt(1400.0 / 3 + 1e-5), 1e-5);
        aspire_batchnorm(ctx, x, NULL, NULL, rm, rv, 0.1f, 1e-5f);
        CHECK_CLOSE(rm->data[0], 0.9 * 0.3 + 0.3, 1e-6);
        CHECK_CLOSE(rv->data[1], 0.9 * 70.9 + 70.0, 1e-4);
        /* eval: running statistics, unchanged by the call */
        aspire_ctx_set_training(ctx, 0);
        float m0 = rm->data[0], v0 = rv->data[0];
        aspire_tensor *gamma = aspire_tensor_from(ctx, 1, (int64_t[]){2}, (float[]){2, 3});
        aspire_tensor *beta = aspire_tensor_from(ctx, 1, (int64_t[]){2}, (float[]){0.5f, -1});
        aspire_tensor *e = aspire_batchnorm(ctx, x, gamma, beta, rm, rv, 0.1f, 1e-5f);
        CHECK(rm->data[0] == m0 && rv->data[0] == v0);
        CHECK_CLOSE(e->data[2], (2 - m0) / sqrt(v0 + 1e-5) * 2 + 0.5, 1e-5);
        aspire_params_free(ps);
        aspire_ctx_free(ctx);
    }
}

typedef struct gn_case { int groups, affine; } gn_case;

static aspire_tensor *f_gn(aspire_ctx *c, aspire_tensor **in, void *ud) {
    const gn_case *g = ud;
    return aspire_groupnorm(c, in[0], g->groups, g->affine ? in[1] : NULL, g->affine ? in[2] : NULL, 1e-5f);
}

static void test_groupnorm(void) {
    const gn_case cases[] = {{2, 1}, {3, 1}, {6, 0}, {1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gspec s = {.nin = cases[i].affine ? 3 : 1, .ndim = {4, 1, 1}, .shape = {{2, 3, 4, 6}, {6}, {6}},
                   .mask = {1, 1, 1}, .scale = {2, 1, 1}};
        char name[64];
        snprintf(name, sizeof name, "groupnorm case %zu", i);
        gc_both(name, f_gn, (void *)&cases[i], &s, 1e-3, 2e-2);
    }
    /* values: each (image, group) normalised to mean 0, variance 1 */
    aspire_ctx *ctx = new_ctx(0);
    aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){2, 3, 3, 4});
    fill_normal(x->data, x->numel, 9, 3);
    aspire_tensor *y = aspire_groupnorm(ctx, x, 2, NULL, NULL, 0.0f);
    for (int n = 0; n < 2; n++)
        for (int g = 0; g < 2; g++) {
            double s = 0, s2 = 0;
            for (int p = 0; p < 9; p++)
                for (int j = 0; j < 2; j++) {
                    double v = y->data[(n * 9 + p) * 4 + g * 2 + j];
                    s += v;
                    s2 += v * v;
                }
            CHECK_CLOSE(s / 18, 0.0, 1e-5);
            CHECK_CLOSE(s2 / 18, 1.0, 1e-4);
        }
    aspire_ctx_free(ctx);
}

/* Eval-mode conv with batch norm folded in and post-op residual/ReLU, against the separate ops. */
static void test_conv_bn_eval(void) {
    const conv_case cases[] = {
        {2, 12, 12, 16, 32, 3, 3, {1, 1, 1, 1, 1, 1}, 0}, /* Winograd, blocked output */
        {2, 12, 12, 16, 16, 3, 3, {1, 1, 1, 1, 1, 1}, 0},
        {2, 13, 12, 16, 32, 3, 3, {2, 2, 1, 1, 1, 1}, 0}, /* NHWC direct, stride 2 */
        {2, 12, 12, 16, 32, 1, 1, {2, 2, 0, 0, 1, 1}, 0}, /* projection */
        {2, 16, 16, 3, 16, 3, 3, {1, 1, 1, 1, 1, 1}, 0},  /* stem */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int mode = 0; mode < 3; mode++) { /* plain, relu, residual + relu */
            const conv_case *cc = &cases[i];
            aspire_ctx *ctx = new_ctx(0);
            aspire_ctx_set_training(ctx, 0);
            aspire_ctx_set_recording(ctx, 0);
            gspec s = conv_spec(cc, 0);
            aspire_tensor *x = aspire_tensor_new(ctx, 4, s.shape[0]), *w = aspire_tensor_new(ctx, 4, s.shape[1]);
            fill_normal(x->data, x->numel, 1, 1);
            fill_normal(w->data, w->numel, 2, 0.3f);
            int64_t c = cc->o;
            aspire_tensor *bn[4];
            for (int k = 0; k < 4; k++) {
                bn[k] = aspire_tensor_new(ctx, 1, &c);
                fill_normal(bn[k]->data, c, 10 + (uint64_t)k, 0.5f);
            }
            for (int64_t j = 0; j < c; j++) { bn[0]->data[j] += 1.0f; bn[3]->data[j] = 0.5f + fabsf(bn[3]->data[j]); }
            aspire_tensor *ref = aspire_batchnorm_act(ctx, aspire_conv2d(ctx, x, w, NULL, cc->p), bn[0], bn[1], bn[2], bn[3],
                                                      0.1f, 1e-5f, NULL, 0);
            aspire_tensor *res = NULL;
            if (mode == 2) {
                res = aspire_tensor_new(ctx, 4, ref->shape);
                fill_normal(res->data, res->numel, 20, 1);
            }
            ref = aspire_batchnorm_act(ctx, aspire_conv2d(ctx, x, w, NULL, cc->p), bn[0], bn[1], bn[2], bn[3], 0.1f, 1e-5f,
                                       res, mode >= 1);
            aspire_tensor *y = aspire_conv_bn_eval(ctx, x, w, cc->p, bn[0], bn[1], bn[2], bn[3], 1e-5f, res, mode >= 1,
                                                   ASPIRE_LAYOUT_PLAIN);
            CHECK_MSG(y && aspire_tensor_same_shape(y, ref), "conv_bn_eval case %zu mode %d: %s", i, mode, aspire_errmsg());
            double md = 0, mb = 1;
            for (int64_t k = 0; y && k < y->numel; k++) {
                md = fmax(md, fabs((double)y->data[k] - ref->data[k]));
                mb = fmax(mb, fabs(ref->data[k]));
            }
            /* folding rounds differently (w * s before the sum): a few 1e-7 relative */
            CHECK_MSG(md / mb < 1e-5, "conv_bn_eval case %zu mode %d: differs by %g", i, mode, md / mb);
            aspire_ctx_free(ctx);
        }
}

/* The blocked nChw16c layout between oneDNN ops (as the ResNet runs) against plain NHWC: a chain of
 * conv (Winograd and strided), fused batch norm with a residual, max pooling and global pooling;
 * outputs and every gradient. */
typedef struct chain_case { int layout; } chain_case;

static aspire_tensor *f_chain(aspire_ctx *c, aspire_tensor **in, void *ud) {
    const chain_case *cc = ud;
    int l = cc->layout;
    aspire_conv_params p1 = {1, 1, 1, 1, 1, 1}, p2 = {2, 2, 1, 1, 1, 1};
    aspire_tensor *h = aspire_conv2d_ex(c, in[0], in[1], NULL, p1, l);          /* plain -> l, Winograd */
    CHECK(h->layout == l);
    h = aspire_batchnorm_act(c, h, in[3], in[4], NULL, NULL, 0.1f, 1e-5f, NULL, 1);
    aspire_tensor *h2 = aspire_conv2d_ex(c, h, in[2], NULL, p1, l);             /* l -> l */
    h = aspire_batchnorm_act(c, h2, in[3], in[4], NULL, NULL, 0.1f, 1e-5f, h, 1); /* residual in l */
    h = aspire_maxpool2d(c, h, 3, 2, 1);
    CHECK(h->layout == l);
    h = aspire_conv2d_ex(c, h, in[2], NULL, p2, l);                            /* strided, direct */
    aspire_tensor *g = aspire_global_avgpool(c, h);
    CHECK(g->layout == ASPIRE_LAYOUT_PLAIN);
    return g;
}

static void blocked_layout(void);
static void test_blocked_layout(void) {
    const int bn_kernels[2] = {ASPIRE_BN_FAST, ASPIRE_BN_ONEDNN};
    for (int kn = 0; kn < 2; kn++) {
        gc_options.bn_kernel = bn_kernels[kn];
        blocked_layout();
    }
    gc_options.bn_kernel = ASPIRE_BN_DEFAULT;
}

static void blocked_layout(void) {
    gspec s = {.nin = 5, .ndim = {4, 4, 4, 1, 1}, .shape = {{2, 12, 12, 32}, {32, 32, 3, 3}, {32, 32, 3, 3}, {32}, {32}},
               .mask = {1, 1, 1, 1, 1}, .scale = {1, 0.2f, 0.2f, 1, 1}};
    float *out[2], *grads[2][5];
    for (int l = 0; l < 2; l++) {
        chain_case cc = {l ? ASPIRE_LAYOUT_NCHW16C : ASPIRE_LAYOUT_PLAIN};
        aspire_ctx *ctx = new_ctx(0);
        aspire_ctx_set_training(ctx, 1);
        aspire_tensor *in[5];
        for (int k = 0; k < 5; k++) {
            in[k] = aspire_tensor_new(ctx, s.ndim[k], s.shape[k]);
            fill_normal(in[k]->data, in[k]->numel, 40 + (uint64_t)k, s.scale[k]);
            in[k]->requires_grad = 1;
        }
        aspire_tensor *y = f_chain(ctx, in, &cc);
        aspire_tensor *r = aspire_tensor_new(ctx, y->ndim, y->shape);
        fill_normal(r->data, r->numel, 50, 1);
        CHECK(aspire_backward(ctx, aspire_sum(ctx, aspire_mul(ctx, y, r))) == ASPIRE_OK);
        CHECK(aspire_dnnl_fallbacks(ctx) == 0);
        out[l] = malloc(sizeof(float) * (size_t)y->numel);
        memcpy(out[l], y->data, sizeof(float) * (size_t)y->numel);
        for (int k = 0; k < 5; k++) {
            grads[l][k] = malloc(sizeof(float) * (size_t)in[k]->numel);
            memcpy(grads[l][k], in[k]->grad, sizeof(float) * (size_t)in[k]->numel);
        }
        aspire_ctx_free(ctx);
    }
    double worst = 0;
    for (int64_t i = 0; i < 2 * 32; i++) worst = fmax(worst, fabs((double)out[0][i] - out[1][i]));
    for (int k = 0; k < 5; k++) {
        int64_t n = numel_of(s.ndim[k], s.shape[k]);
        double mb = 1e-3, md = 0;
        for (int64_t i = 0; i < n; i++) {
            mb = fmax(mb, fabs(grads[0][k][i]));
            md = fmax(md, fabs((double)grads[0][k][i] - grads[1][k][i]));
        }
        worst = fmax(worst, md / mb);
    }
    /* the same kernels on different layouts; only summation orders differ */
    CHECK_MSG(worst < 1e-4, "blocked vs plain layout: %g", worst);
    for (int l = 0; l < 2; l++) {
        free(out[l]);
        for (int k = 0; k < 5; k++) free(grads[l][k]);
    }
}

/* ---- the primitive cache -------------------------------------------------------------------- */
static void test_primitive_cache(void) {
    aspire_ctx *ctx = new_ctx(0);
    aspire_params *ps = aspire_params_new();
    aspire_tensor *w = aspire_params_add(ps, "w", 4, (int64_t[]){16, 16, 3, 3}, 1);
    aspire_tensor *g = aspire_params_add(ps, "g", 1, (int64_t[]){16}, 1);
    aspire_tensor *bt = aspire_params_add(ps, "b", 1, (int64_t[]){16}, 1);
    aspire_tensor *rm = aspire_params_add(ps, "rm", 1, (int64_t[]){16}, 0);
    aspire_tensor *rv = aspire_params_add(ps, "rv", 1, (int64_t[]){16}, 0);
    aspire_init_kaiming(w, 144, aspire_ctx_rng(ctx));
    aspire_init_fill(g, 1);
    aspire_init_fill(rv, 1);
    aspire_ctx_set_training(ctx, 1);
    int after_first = -1;
    for (int step = 0; step < 3; step++) {
        aspire_params_zero_grad(ps);
        aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){4, 8, 8, 16});
        fill_normal(x->data, x->numel, (uint64_t)step, 1);
        aspire_tensor *h = aspire_conv2d(ctx, x, w, NULL, (aspire_conv_params){1, 1, 1, 1, 1, 1});
        h = aspire_batchnorm_act(ctx, h, g, bt, rm, rv, 0.1f, 1e-5f, x, 1);
        h = aspire_maxpool2d(ctx, h, 2, 2, 0);
        CHECK(aspire_backward(ctx, aspire_mean(ctx, h)) == ASPIRE_OK);
        if (step == 0) after_first = aspire_dnnl_cache_size(ctx);
        aspire_ctx_reset(ctx);
    }
    CHECK(after_first > 0);
    CHECK(aspire_dnnl_fallbacks(ctx) == 0);
    CHECK_MSG(aspire_dnnl_cache_size(ctx) == after_first, "primitives made after the first step: %d -> %d", after_first,
              aspire_dnnl_cache_size(ctx));
    aspire_params_free(ps);
    aspire_ctx_free(ctx);
}

int main(void) {
    RUN(test_conv_values);
    RUN(test_conv_grads);
    RUN(test_deconv_grads);
    RUN(test_deconv_adjoint);
    RUN(test_conv_paths_agree);
    RUN(test_pool);
    RUN(test_batchnorm_grads);
    RUN(test_batchnorm_running);
    RUN(test_groupnorm);
    RUN(test_conv_bn_eval);
    RUN(test_blocked_layout);
    RUN(test_primitive_cache);
    return TEST_REPORT();
}
