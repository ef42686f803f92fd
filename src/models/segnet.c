/* segnet.c — the built-in segmenter's network: a small U-Net that labels each pixel of a 64 × 64
 * image with a concept (the world's birds and context objects) or background. Building, forward
 * pass, loss, per-phrase probabilities; files in segnet_io.c, phrases in segnet_phrase.c,
 * pretraining in segnet_train.c. */
#include "models/segnet_internal.h"

#include "engine/fused.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

aspire_segnet_config aspire_segnet_default_config(void) {
    aspire_segnet_config c;
    memset(&c, 0, sizeof c);
    c.image_size = 64;
    c.nlevels = 4;
    c.widths[0] = 16; c.widths[1] = 24; c.widths[2] = 48; c.widths[3] = 64;
    return c;
}

static int check_config(const aspire_segnet_config *c) {
    if (c->nlevels < 1 || c->nlevels > ASPIRE_SEGNET_MAX_LEVELS)
        return aspire_error(ASPIRE_ERR_ARG, "segmenter: nlevels %d (1 to %d)", c->nlevels, ASPIRE_SEGNET_MAX_LEVELS);
    if (c->image_size < 4 || c->image_size > 1024 || c->image_size % (1 << (c->nlevels - 1)))
        return aspire_error(ASPIRE_ERR_ARG, "segmenter: image_size %d must be 4..1024 and a multiple of %d",
                            c->image_size, 1 << (c->nlevels - 1));
    for (int l = 0; l < c->nlevels; l++)
        if (c->widths[l] < 1 || c->widths[l] > 1024)
            return aspire_error(ASPIRE_ERR_ARG, "segmenter: widths[%d] = %d (1 to 1024)", l, c->widths[l]);
    if (c->nconcepts < 1 || c->nconcepts > ASPIRE_SEGNET_MAX_CONCEPTS)
        return aspire_error(ASPIRE_ERR_ARG, "segmenter: %d concepts (1 to %d)", c->nconcepts, ASPIRE_SEGNET_MAX_CONCEPTS);
    return ASPIRE_OK;
}

static aspire_tensor *add_conv(aspire_segnet *net, const char *name, int out, int in, int k, aspire_tensor **bias,
                               aspire_rng *rng) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s.weight", name);
    aspire_tensor *w = k ? aspire_params_add(net->params, buf, 4, (int64_t[]){out, in, k, k}, 1)
                         : aspire_params_add(net->params, buf, 2, (int64_t[]){out, in}, 1);
    snprintf(buf, sizeof buf, "%s.bias", name);
    *bias = aspire_params_add(net->params, buf, 1, (int64_t[]){out}, 1);
    if (w) aspire_init_kaiming(w, (int64_t)in * (k ? k * k : 1), rng);
    return w && *bias ? w : NULL;
}

static int build(aspire_segnet *net, uint64_t seed) {
    const aspire_segnet_config *c = &net->cfg;
    aspire_rng rng;
    aspire_rng_seed(&rng, seed);
    char name[32];
    for (int l = 0; l < c->nlevels; l++) {
        int in = l ? c->widths[l - 1] : 3, w = c->widths[l];
        snprintf(name, sizeof name, "enc%d.0", l);
        if (!(net->enc_w[l][0] = add_conv(net, name, w, in, 3, &net->enc_b[l][0], &rng))) return ASPIRE_ERR_NOMEM;
        snprintf(name, sizeof name, "enc%d.1", l);
        if (!(net->enc_w[l][1] = add_conv(net, name, w, w, 3, &net->enc_b[l][1], &rng))) return ASPIRE_ERR_NOMEM;
    }
    for (int l = c->nlevels - 2; l >= 0; l--) {
        snprintf(name, sizeof name, "lat%d", l);
        if (!(net->lat_w[l] = add_conv(net, name, c->widths[l], c->widths[l + 1], 0, &net->lat_b[l], &rng)))
            return ASPIRE_ERR_NOMEM;
        snprintf(name, sizeof name, "dec%d", l);
        if (!(net->dec_w[l] = add_conv(net, name, c->widths[l], c->widths[l], 3, &net->dec_b[l], &rng)))
            return ASPIRE_ERR_NOMEM;
    }
    net->head_w = add_conv(net, "head", c->nconcepts + 1, c->widths[0], 0, &net->head_b, &rng);
    if (!net->head_w) return ASPIRE_ERR_NOMEM;
    /* a quiet head: small logits at first, background favoured (most pixels are background) */
    aspire_init_normal(net->head_w, 0.0f, 0.01f, &rng);
    net->head_b->data[0] = 2.0f;
    return ASPIRE_OK;
}

int aspire_segnet_new(aspire_segnet **out, const aspire_segnet_config *cfg, const aspire_segnet_vocab *vocab,
                      uint64_t seed) {
    *out = NULL;
    aspire_segnet_config c = *cfg;
    c.nconcepts = vocab->nconcepts;
    int rc = check_config(&c);
    if (rc) return rc;
    aspire_segnet *net = aspire_calloc(1, sizeof *net);
    if (!net) return ASPIRE_ERR_NOMEM;
    net->cfg = c;
    net->th.pixel = 0.5f;
    net->th.min_peak = 0.5f;
    net->th.min_area = 4;
    net->params = aspire_params_new();
    rc = net->params ? segnet_set_vocab(net, vocab) : ASPIRE_ERR_NOMEM;
    if (!rc) rc = build(net, seed);
    if (rc) { aspire_segnet_free(net); return rc; }
    *out = net;
    return ASPIRE_OK;
}

void aspire_segnet_free(aspire_segnet *net) {
    if (!net) return;
    aspire_params_free(net->params);
    segnet_clear_vocab(net);
    aspire_free(net, sizeof *net);
}

aspire_params *aspire_segnet_params(aspire_segnet *net) { return net->params; }
const aspire_segnet_config *aspire_segnet_get_config(const aspire_segnet *net) { return &net->cfg; }
aspire_segnet_thresholds aspire_segnet_get_thresholds(const aspire_segnet *net) { return net->th; }
void aspire_segnet_set_thresholds(aspire_segnet *net, aspire_segnet_thresholds t) { net->th = t; }
const char *aspire_segnet_concept(const aspire_segnet *net, int c) {
    return c >= 0 && c < net->nconcepts ? net->concepts[c] : NULL;
}

double aspire_segnet_flops(const aspire_segnet *net) {
    const aspire_segnet_config *c = &net->cfg;
    double f = 0;
    for (int l = 0; l < c->nlevels; l++) {
        double px = (double)(c->image_size >> l) * (c->image_size >> l);
        int in = l ? c->widths[l - 1] : 3, w = c->widths[l];
        f += px * 9.0 * ((double)in * w + (double)w * w);
        if (l + 1 < c->nlevels)  /* lateral 1x1 at the coarser level, decoder 3x3 here */
            f += px / 4.0 * c->widths[l + 1] * w + px * 9.0 * w * w;
    }
    f += (double)c->image_size * c->image_size * c->widths[0] * (c->nconcepts + 1);
    return 2.0 * f;
}

/* ---- forward -------------------------------------------------------------------------------- */

/* relu(conv3x3(x, w) + b). For inference (no training, no tape, oneDNN) it goes through the engine's
 * fused eval convolution, with the bias as a batch norm's shift (mean 0, variance 1, eps 0: the
 * weights scaled by exactly 1) and the ReLU as a post-op: one pass over the output. */
static aspire_tensor *conv3(aspire_ctx *ctx, aspire_tensor *x, aspire_tensor *w, aspire_tensor *b) {
    aspire_conv_params p = {1, 1, 1, 1, 1, 1};
    if (aspire_ctx_training(ctx) || aspire_ctx_recording(ctx) || aspire_ctx_reference(ctx))
        return aspire_relu(ctx, aspire_conv2d(ctx, x, w, b, p));
    int64_t C = w->shape[0];
    aspire_tensor *mean = aspire_tensor_zeros(ctx, 1, &C), *var = aspire_tensor_new(ctx, 1, &C);
    if (!mean || !var) return NULL;
    for (int64_t c = 0; c < C; c++) var->data[c] = 1.0f;
    return aspire_conv_bn_eval(ctx, x, w, p, NULL, b, mean, var, 0.0f, NULL, 1, ASPIRE_LAYOUT_PLAIN);
}

aspire_tensor *aspire_segnet_forward(aspire_ctx *ctx, aspire_segnet *net, aspire_tensor *x) {
    const aspire_segnet_config *c = &net->cfg;
    aspire_tensor *skip[ASPIRE_SEGNET_MAX_LEVELS];
    aspire_tensor *h = x;
    for (int l = 0; l < c->nlevels; l++) {
        if (l) h = aspire_maxpool2d(ctx, h, 2, 2, 0);
        h = conv3(ctx, h, net->enc_w[l][0], net->enc_b[l][0]);
        h = conv3(ctx, h, net->enc_w[l][1], net->enc_b[l][1]);
        skip[l] = h;
    }
    for (int l = c->nlevels - 2; l >= 0; l--) {
        aspire_tensor *u = aspire_linear(ctx, h, net->lat_w[l], net->lat_b[l]);
        u = aspire_upsample_nearest(ctx, u, 2);
        h = conv3(ctx, aspire_add(ctx, u, skip[l]), net->dec_w[l], net->dec_b[l]);
    }
    return aspire_linear(ctx, h, net->head_w, net->head_b);
}

aspire_tensor *aspire_segnet_loss(aspire_ctx *ctx, aspire_segnet *net, aspire_tensor *x, const uint8_t *labels,
                                  float fg_weight) {
    aspire_tensor *logits = aspire_segnet_forward(ctx, net, x);
    if (!logits) return NULL;
    int64_t np = logits->numel / (net->cfg.nconcepts + 1);
    int32_t *t = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)np);
    float *wt = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)np);
    if (!t || !wt) return NULL;
    for (int64_t i = 0; i < np; i++) {
        ASPIRE_ASSERT(labels[i] <= net->cfg.nconcepts, "label %d at pixel %lld", labels[i], (long long)i);
        t[i] = labels[i];
        wt[i] = labels[i] ? fg_weight : 1.0f;
    }
    aspire_tensor *flat = aspire_reshape(ctx, logits, 2, (int64_t[]){np, net->cfg.nconcepts + 1});
    return aspire_cross_entropy(ctx, flat, t, wt, ASPIRE_REDUCE_MEAN);
}

aspire_tensor *aspire_segnet_input(aspire_ctx *ctx, const aspire_segnet *net, const aspire_image *images, int n) {
    const int S = net->cfg.image_size;
    aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){n, S, S, 3});
    if (!x) return NULL;
    static const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.25f, 0.25f, 0.25f};
    for (int i = 0; i < n; i++) {
        const aspire_image *im = &images[i];
        ASPIRE_ASSERT(im->c == 3, "image %d has %d channels", i, im->c);
        float *dst = x->data + (size_t)i * S * S * 3;
        if (im->w == S && im->h == S) { aspire_image_to_float(im, dst, mean, std); continue; }
        aspire_image r;
        if (aspire_image_resize(&r, im, S, S, ASPIRE_RESIZE_AREA)) return NULL;
        aspire_image_to_float(&r, dst, mean, std);
        aspire_image_destroy(&r);
    }
    return x;
}

/* prob[p] = sum over the set's concepts of softmax(logits[p])[c + 1]. A pixel where every concept
 * of the set trails the top logit by more than 16 gets 0 without the exponentials: its true value
 * is below 63 e^-16 < 7e-6, far under any threshold (most pixels are plain background). */
static void set_probs(const float *logits, int64_t np, int k1, uint64_t set, float *prob) {
    for (int64_t p = 0; p < np; p++) {
        const float *z = logits + p * k1;
        float m = z[0], ms = -1e30f;
        for (int c = 1; c < k1; c++) {
            m = z[c] > m ? z[c] : m;
            if ((set >> (c - 1) & 1) && z[c] > ms) ms = z[c];
        }
        if (ms < m - 16.0f) { prob[p] = 0.0f; continue; }
        float all = 0, in = 0;
        for (int c = 0; c < k1; c++) {
            float e = expf(z[c] - m);
            all += e;
            if (c && (set >> (c - 1) & 1)) in += e;
        }
        prob[p] = in / all;
    }
}

int aspire_segnet_probs(aspire_ctx *ctx, aspire_segnet *net, const aspire_image *images, int n, uint64_t set,
                        float *prob) {
    int was_training = aspire_ctx_training(ctx), was_recording = aspire_ctx_recording(ctx);
    aspire_ctx_set_training(ctx, 0);
    aspire_ctx_set_recording(ctx, 0);
    aspire_ctx_reset(ctx);
    const int S = net->cfg.image_size;
    aspire_tensor *x = aspire_segnet_input(ctx, net, images, n);
    aspire_tensor *logits = x ? aspire_segnet_forward(ctx, net, x) : NULL;
    int rc = logits ? ASPIRE_OK : (aspire_errmsg()[0] ? ASPIRE_ERR_BACKEND : ASPIRE_ERR_NOMEM);
    if (!rc) set_probs(logits->data, (int64_t)n * S * S, net->cfg.nconcepts + 1, set, prob);
    aspire_ctx_reset(ctx);
    aspire_ctx_set_training(ctx, was_training);
    aspire_ctx_set_recording(ctx, was_recording);
    return rc;
}
