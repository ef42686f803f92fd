/* unet.c — the generator's denoiser: a small U-Net over patch features with residual blocks
 * (group norm, SiLU, 3×3 convs, the time embedding added per channel), cross-attention to the text
 * after every block, stride-2 downsampling, nearest upsampling with skip concatenation. */
#include "models/generator_internal.h"

#include <math.h>

aspire_tensor *gen_time_features(aspire_ctx *ctx, const int *t, int N, int dim, int T) {
    aspire_tensor *e = aspire_tensor_new(ctx, 2, (int64_t[]){N, dim});
    if (!e) return NULL;
    const int half = dim / 2;
    for (int n = 0; n < N; n++) {
        ASPIRE_ASSERT(t[n] >= 0 && t[n] < T, "(timestep %d of %d)", t[n], T);
        for (int i = 0; i < dim; i++) {
            int j = i < half ? i : i - half;
            double f = exp(-log(10000.0) * j / (half > 1 ? half : 1));
            double a = (double)t[n] * f;
            e->data[(size_t)n * dim + i] = (float)(i < half ? sin(a) : (i < 2 * half ? cos(a) : 0.0));
        }
    }
    return e;
}

static aspire_tensor *conv(aspire_ctx *ctx, aspire_tensor *x, const gen_conv *c, int stride, int pad) {
    return aspire_conv2d(ctx, x, c->w, c->b, (aspire_conv_params){stride, stride, pad, pad, 1, 1});
}

static aspire_tensor *norm_act(aspire_ctx *ctx, aspire_tensor *x, const gen_norm *n, int groups) {
    return aspire_silu(ctx, aspire_groupnorm(ctx, x, groups, n->g, n->b, GEN_GN_EPS));
}

/* h (N, H, W, C) + e (N, C) broadcast over H and W, as a batched outer product with ones. */
static aspire_tensor *add_per_channel(aspire_ctx *ctx, aspire_tensor *h, aspire_tensor *e) {
    if (!h || !e) return NULL;
    int64_t N = h->shape[0], HW = h->shape[1] * h->shape[2], C = h->shape[3];
    aspire_tensor *ones = aspire_tensor_new(ctx, 3, (int64_t[]){N, HW, 1});
    if (!ones) return NULL;
    for (int64_t i = 0; i < N * HW; i++) ones->data[i] = 1.0f;
    aspire_tensor *b = aspire_matmul(ctx, ones, aspire_reshape(ctx, e, 3, (int64_t[]){N, 1, C}), 0, 0);
    return aspire_add(ctx, h, aspire_reshape(ctx, b, 4, h->shape));
}

/* One residual block and its cross-attention: x (N, H, W, in), temb (N, d_time) after SiLU,
 * text (N, L, d_text) -> (N, H, W, out). */
static aspire_tensor *block(aspire_ctx *ctx, const aspire_generator *g, const res_block *r, aspire_tensor *x,
                            aspire_tensor *temb, aspire_tensor *text) {
    if (!x) return NULL;
    const int G = g->cfg.groups;
    aspire_tensor *h = conv(ctx, norm_act(ctx, x, &r->n1, G), &r->c1, 1, 1);
    h = add_per_channel(ctx, h, aspire_linear(ctx, temb, r->temb.w, r->temb.b));
    h = conv(ctx, norm_act(ctx, h, &r->n2, G), &r->c2, 1, 1);
    h = aspire_add(ctx, r->skip.w ? conv(ctx, x, &r->skip, 1, 0) : x, h);
    if (!h) return NULL;
    int64_t N = h->shape[0], HW = h->shape[1] * h->shape[2];
    aspire_tensor *a = aspire_groupnorm(ctx, h, G, r->an.g, r->an.b, GEN_GN_EPS);
    a = aspire_reshape(ctx, a, 3, (int64_t[]){N, HW, r->out});
    a = gen_attend(ctx, a, text, &r->q, &r->k, &r->v, &r->o, g->cfg.heads);
    return aspire_add(ctx, h, aspire_reshape(ctx, a, 4, h->shape));
}

/* The conditioning vector: SiLU(time MLP(sinusoid(t)) + pool(text[:, 0])) -> (N, d_time). */
static aspire_tensor *conditioning(aspire_ctx *ctx, const aspire_generator *g, const int *t, int N,
                                   aspire_tensor *text) {
    const aspire_generator_config *c = &g->cfg;
    aspire_tensor *e = gen_time_features(ctx, t, N, c->widths[0], c->timesteps);
    e = aspire_linear(ctx, aspire_silu(ctx, aspire_linear(ctx, e, g->t1.w, g->t1.b)), g->t2.w, g->t2.b);
    aspire_tensor *first = aspire_reshape(ctx, aspire_slice(ctx, text, 1, 0, 1), 2, (int64_t[]){N, c->d_text});
    e = aspire_add(ctx, e, aspire_linear(ctx, first, g->pool.w, g->pool.b));
    return aspire_silu(ctx, e);
}

aspire_tensor *aspire_generator_denoise(aspire_ctx *ctx, aspire_generator *g, aspire_tensor *x, const int *t,
                                        aspire_tensor *text) {
    if (!x || !text) return NULL;
    const aspire_generator_config *c = &g->cfg;
    const int N = (int)x->shape[0], L = c->nlevels, P = c->patch;
    ASPIRE_ASSERT(x->ndim == 4 && x->shape[1] == c->image_size && x->shape[2] == c->image_size && x->shape[3] == 3);
    ASPIRE_ASSERT(text->ndim == 3 && text->shape[0] == N && text->shape[2] == c->d_text);
    aspire_tensor *temb = conditioning(ctx, g, t, N, text);
    aspire_tensor *skips[ASPIRE_GENERATOR_MAX_LEVELS];
    aspire_tensor *h = conv(ctx, x, &g->stem, P, 0);
    for (int l = 0; l < L; l++) {
        h = skips[l] = block(ctx, g, &g->down[l], h, temb, text);
        if (l + 1 < L) h = conv(ctx, h, &g->ds[l], 2, 1);
    }
    h = block(ctx, g, &g->mid, h, temb, text);
    for (int l = L - 1; l >= 0; l--) {
        if (l + 1 < L) h = aspire_upsample_nearest(ctx, h, 2);
        aspire_tensor *cat[2] = {h, skips[l]};
        h = block(ctx, g, &g->up[l], aspire_concat(ctx, cat, 2, 3), temb, text);
    }
    h = norm_act(ctx, h, &g->out_n, c->groups);
    return aspire_conv_transpose2d(ctx, h, g->out.w, g->out.b, (aspire_conv_params){P, P, 0, 0, 1, 1});
}
