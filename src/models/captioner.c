/* captioner.c — the built-in captioner: conv encoder to a feature grid, transformer decoder with
 * cross-attention, teacher-forced loss, and cached greedy / beam decoding.
 *
 * Training runs the whole caption through the engine's ops (recorded on the tape). Generation
 * runs one token per step for all captions of a batch at once: the dense parts (layer norms,
 * projections, MLP, head) through the engine's ops, the single-query attention over the cached
 * keys and values in plain C here (cheaper than copying the caches into tensors every step). */
#include "aspire/captioner.h"

#include "aspire/fileio.h"
#include "aspire/safetensors.h"
#include "engine/fused.h"
#include "models/captioner_internal.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f
#define LN_EPS 1e-5f
#define PIX_MEAN 0.5f
#define PIX_STD 0.25f

typedef struct conv_bn {
    aspire_tensor *w;                       /* (O, I, 3, 3) */
    aspire_tensor *bias;                    /* (O), without batch norm */
    aspire_tensor *gamma, *beta, *rm, *rv;  /* (O), with batch norm */
    int stride;
} conv_bn;

typedef struct dec_layer {
    aspire_tensor *ln1_g, *ln1_b;                          /* (d) */
    aspire_tensor *q_w, *k_w, *v_w, *o_w;                  /* (d, d) self-attention */
    aspire_tensor *q_b, *k_b, *v_b, *o_b;                  /* (d) */
    aspire_tensor *ln2_g, *ln2_b;
    aspire_tensor *cq_w, *ck_w, *cv_w, *co_w;              /* (d, d) cross-attention */
    aspire_tensor *cq_b, *ck_b, *cv_b, *co_b;
    aspire_tensor *ln3_g, *ln3_b;
    aspire_tensor *fc1_w, *fc1_b;                          /* (ff, d), (ff) */
    aspire_tensor *fc2_w, *fc2_b;                          /* (d, ff), (d) */
} dec_layer;

#define MAX_CONVS (2 * ASPIRE_CAPTIONER_MAX_STAGES)
#define MAX_LAYERS 16

struct aspire_captioner {
    aspire_captioner_config cfg;
    aspire_vocab *vocab;
    aspire_params *params;
    conv_bn convs[MAX_CONVS];
    int nconvs;
    int grid;                                /* G = grid side² */
    aspire_tensor *proj_w, *proj_b;          /* (d, C_last), (d) */
    aspire_tensor *grid_pos;                 /* (G, d) */
    aspire_tensor *enc_ln_g, *enc_ln_b;      /* (d) */
    aspire_tensor *tok_emb;                  /* (V, d) */
    aspire_tensor *pos_emb;                  /* (max_len, d) */
    dec_layer layers[MAX_LAYERS];
    aspire_tensor *lnf_g, *lnf_b;            /* (d) */
    aspire_tensor *head_w, *head_b;          /* (V, d), (V) */
};

aspire_captioner_config aspire_captioner_default_config(void) {
    aspire_captioner_config c = {0};
    c.image_size = 64;
    c.stem_stride = 2;
    c.batchnorm = 0;
    c.nstages = 4;
    c.widths[0] = 24; c.widths[1] = 32; c.widths[2] = 64; c.widths[3] = 128;
    c.d_model = 128;
    c.n_layers = 2;
    c.n_heads = 4;
    c.d_ff = 512;
    c.max_len = 20;
    c.vocab_size = 0;
    return c;
}

static int check_config(const aspire_captioner_config *c) {
    if (c->nstages < 1 || c->nstages > ASPIRE_CAPTIONER_MAX_STAGES)
        return aspire_error(ASPIRE_ERR_ARG, "captioner: nstages %d not in 1..%d", c->nstages, ASPIRE_CAPTIONER_MAX_STAGES);
    for (int s = 0; s < c->nstages; s++)
        if (c->widths[s] < 1 || c->widths[s] > 4096)
            return aspire_error(ASPIRE_ERR_ARG, "captioner: stage %d width %d out of range", s, c->widths[s]);
    if (c->stem_stride != 1 && c->stem_stride != 2)
        return aspire_error(ASPIRE_ERR_ARG, "captioner: stem stride %d is not 1 or 2", c->stem_stride);
    if (c->batchnorm != 0 && c->batchnorm != 1) return aspire_error(ASPIRE_ERR_ARG, "captioner: batchnorm is 0 or 1");
    int down = c->stem_stride << (c->nstages - 1);
    if (c->image_size < down || c->image_size % down != 0 || c->image_size > 1024)
        return aspire_error(ASPIRE_ERR_ARG, "captioner: image size %d is not a multiple of %d (up to 1024)",
                            c->image_size, down);
    if (c->d_model < 1 || c->n_heads < 1 || c->d_model % c->n_heads != 0 || c->d_model > 4096)
        return aspire_error(ASPIRE_ERR_ARG, "captioner: d_model %d must be a multiple of n_heads %d", c->d_model,
                            c->n_heads);
    if (c->n_layers < 1 || c->n_layers > MAX_LAYERS)
        return aspire_error(ASPIRE_ERR_ARG, "captioner: n_layers %d not in 1..%d", c->n_layers, MAX_LAYERS);
    if (c->d_ff < 1 || c->d_ff > 65536) return aspire_error(ASPIRE_ERR_ARG, "captioner: d_ff %d out of range", c->d_ff);
    if (c->max_len < 3 || c->max_len > 512)
        return aspire_error(ASPIRE_ERR_ARG, "captioner: max_len %d not in 3..512", c->max_len);
    if (c->vocab_size <= ASPIRE_TOK_SPECIALS)
        return aspire_error(ASPIRE_ERR_ARG, "captioner: vocabulary of %d words has no words", c->vocab_size);
    return ASPIRE_OK;
}

int aspire_captioner_config_check(const aspire_captioner_config *cfg) {
    aspire_captioner_config c = *cfg;
    if (c.vocab_size == 0) c.vocab_size = ASPIRE_TOK_SPECIALS + 1;  /* not known yet */
    return check_config(&c);
}

/* ---- construction ---------------------------------------------------------------------------- */
typedef struct builder {
    aspire_params *p;
    aspire_rng rng;
    int failed;
} builder;

static aspire_tensor *add_param(builder *b, const char *name, int ndim, const int64_t *shape, int trainable) {
    aspire_tensor *t = aspire_params_add(b->p, name, ndim, shape, trainable);
    if (!t) b->failed = 1;
    return t;
}

static aspire_tensor *normal_param(builder *b, const char *name, int ndim, const int64_t *shape, float std) {
    aspire_tensor *t = add_param(b, name, ndim, shape, 1);
    if (t) aspire_init_normal(t, 0.0f, std, &b->rng);
    return t;
}

static aspire_tensor *fill_param(builder *b, const char *name, int64_t n, float v, int trainable) {
    aspire_tensor *t = add_param(b, name, 1, (int64_t[]){n}, trainable);
    if (t) aspire_init_fill(t, v);
    return t;
}

static void build_conv(builder *b, conv_bn *c, const char *prefix, int in, int out, int stride, int bn) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    c->w = add_param(b, name, 4, (int64_t[]){out, in, 3, 3}, 1);
    if (c->w) aspire_init_kaiming(c->w, (int64_t)in * 9, &b->rng);
    c->stride = stride;
    if (!bn) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        c->bias = fill_param(b, name, out, 0.0f, 1);
        return;
    }
    snprintf(name, sizeof name, "%s.bn.weight", prefix);
    c->gamma = fill_param(b, name, out, 1.0f, 1);
    snprintf(name, sizeof name, "%s.bn.bias", prefix);
    c->beta = fill_param(b, name, out, 0.0f, 1);
    snprintf(name, sizeof name, "%s.bn.running_mean", prefix);
    c->rm = fill_param(b, name, out, 0.0f, 0);
    snprintf(name, sizeof name, "%s.bn.running_var", prefix);
    c->rv = fill_param(b, name, out, 1.0f, 0);
}

/* A linear layer "prefix.weight" (out, in) ~ N(0, std²) and "prefix.bias" (out) = 0. */
static void build_linear(builder *b, aspire_tensor **w, aspire_tensor **bias, const char *prefix, int out, int in,
                         float std) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    *w = normal_param(b, name, 2, (int64_t[]){out, in}, std);
    snprintf(name, sizeof name, "%s.bias", prefix);
    *bias = fill_param(b, name, out, 0.0f, 1);
}

static void build_ln(builder *b, aspire_tensor **g, aspire_tensor **beta, const char *prefix, int d) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    *g = fill_param(b, name, d, 1.0f, 1);
    snprintf(name, sizeof name, "%s.bias", prefix);
    *beta = fill_param(b, name, d, 0.0f, 1);
}

int aspire_captioner_new(aspire_captioner **out, const aspire_captioner_config *cfg, const aspire_vocab *vocab,
                         uint64_t seed) {
    *out = NULL;
    aspire_captioner_config c = *cfg;
    c.vocab_size = aspire_vocab_size(vocab);
    int rc = check_config(&c);
    if (rc) return rc;
    aspire_captioner *cap = aspire_calloc(1, sizeof *cap);
    if (!cap) return ASPIRE_ERR_NOMEM;
    cap->cfg = c;
    char *vs = aspire_vocab_serialize(vocab);
    if (!vs || aspire_vocab_parse(&cap->vocab, vs) != ASPIRE_OK) {
        aspire_strfree(vs);
        aspire_captioner_free(cap);
        return ASPIRE_ERR_NOMEM;
    }
    aspire_strfree(vs);
    cap->params = aspire_params_new();
    if (!cap->params) { aspire_captioner_free(cap); return ASPIRE_ERR_NOMEM; }

    builder b = {.p = cap->params};
    aspire_rng_seed(&b.rng, seed);
    const int d = c.d_model, V = c.vocab_size;
    char name[96];
    /* encoder */
    build_conv(&b, &cap->convs[cap->nconvs++], "enc.stem", 3, c.widths[0], c.stem_stride, c.batchnorm);
    for (int s = 1; s < c.nstages; s++) {
        snprintf(name, sizeof name, "enc.stage%d.conv1", s);
        build_conv(&b, &cap->convs[cap->nconvs++], name, c.widths[s - 1], c.widths[s], 2, c.batchnorm);
        snprintf(name, sizeof name, "enc.stage%d.conv2", s);
        build_conv(&b, &cap->convs[cap->nconvs++], name, c.widths[s], c.widths[s], 1, c.batchnorm);
    }
    int side = c.image_size / c.stem_stride >> (c.nstages - 1);
    cap->grid = side * side;
    int clast = c.widths[c.nstages - 1];
    build_linear(&b, &cap->proj_w, &cap->proj_b, "enc.proj", d, clast, 1.0f / sqrtf((float)clast));
    cap->grid_pos = normal_param(&b, "enc.grid_pos", 2, (int64_t[]){cap->grid, d}, 0.02f);
    build_ln(&b, &cap->enc_ln_g, &cap->enc_ln_b, "enc.ln", d);
    /* decoder (GPT-2's initialisation: N(0, 0.02²), residual projections scaled by 1/sqrt(2L)) */
    const float std = 0.02f, rstd = 0.02f / sqrtf(2.0f * (float)c.n_layers);
    cap->tok_emb = normal_param(&b, "dec.tok_emb", 2, (int64_t[]){V, d}, std);
    cap->pos_emb = normal_param(&b, "dec.pos_emb", 2, (int64_t[]){c.max_len, d}, std);
    for (int l = 0; l < c.n_layers; l++) {
        dec_layer *L = &cap->layers[l];
        char pre[64];
#define NAME(suffix) (snprintf(name, sizeof name, "%s.%s", pre, suffix), name)
        snprintf(pre, sizeof pre, "dec.layer%d", l);
        build_ln(&b, &L->ln1_g, &L->ln1_b, NAME("ln1"), d);
        build_linear(&b, &L->q_w, &L->q_b, NAME("self.q"), d, d, std);
        build_linear(&b, &L->k_w, &L->k_b, NAME("self.k"), d, d, std);
        build_linear(&b, &L->v_w, &L->v_b, NAME("self.v"), d, d, std);
        build_linear(&b, &L->o_w, &L->o_b, NAME("self.o"), d, d, rstd);
        build_ln(&b, &L->ln2_g, &L->ln2_b, NAME("ln2"), d);
        build_linear(&b, &L->cq_w, &L->cq_b, NAME("cross.q"), d, d, std);
        build_linear(&b, &L->ck_w, &L->ck_b, NAME("cross.k"), d, d, std);
        build_linear(&b, &L->cv_w, &L->cv_b, NAME("cross.v"), d, d, std);
        build_linear(&b, &L->co_w, &L->co_b, NAME("cross.o"), d, d, rstd);
        build_ln(&b, &L->ln3_g, &L->ln3_b, NAME("ln3"), d);
        build_linear(&b, &L->fc1_w, &L->fc1_b, NAME("mlp.fc1"), c.d_ff, d, std);
        build_linear(&b, &L->fc2_w, &L->fc2_b, NAME("mlp.fc2"), d, c.d_ff, rstd);
#undef NAME
    }
    build_ln(&b, &cap->lnf_g, &cap->lnf_b, "dec.ln_f", d);
    build_linear(&b, &cap->head_w, &cap->head_b, "dec.head", V, d, std);
    if (b.failed) { aspire_captioner_free(cap); return ASPIRE_ERR_NOMEM; }
    *out = cap;
    return ASPIRE_OK;
}

void aspire_captioner_free(aspire_captioner *cap) {
    if (!cap) return;
    aspire_vocab_free(cap->vocab);
    aspire_params_free(cap->params);
    aspire_free(cap, sizeof *cap);
}

aspire_params *aspire_captioner_params(aspire_captioner *cap) { return cap->params; }
const aspire_vocab *aspire_captioner_vocab(const aspire_captioner *cap) { return cap->vocab; }
const aspire_captioner_config *aspire_captioner_get_config(const aspire_captioner *cap) { return &cap->cfg; }

double aspire_captioner_flops(const aspire_captioner *cap, int tokens) {
    const aspire_captioner_config *c = &cap->cfg;
    double macs = 0.0;
    int side = c->image_size, in = 3;
    for (int i = 0; i < cap->nconvs; i++) {
        const conv_bn *cv = &cap->convs[i];
        side /= cv->stride;
        int o = (int)cv->w->shape[0];
        macs += (double)side * side * o * in * 9;
        in = o;
    }
    const double d = c->d_model, G = cap->grid;
    macs += G * d * in;                                      /* projection */
    macs += c->n_layers * (2.0 * G * d * d);                 /* cross keys and values */
    macs += (double)tokens * c->n_layers * (6.0 * d * d + 2.0 * d * c->d_ff + G * d * 2.0);
    macs += (double)tokens * c->n_layers * (tokens * d);     /* self-attention (average over steps, ×2 / 2) */
    macs += (double)tokens * d * c->vocab_size;
    return 2.0 * macs;
}

/* ---- pixels ---------------------------------------------------------------------------------- */
int aspire_captioner_pixels(const aspire_captioner *cap, const aspire_image *img, float *dst) {
    const int S = cap->cfg.image_size;
    aspire_image tmp = {0};
    const aspire_image *src = img;
    if (img->w != S || img->h != S) {
        int rc = aspire_image_resize(&tmp, img, S, S, ASPIRE_RESIZE_AREA);
        if (rc) return rc;
        src = &tmp;
    }
    const int c = src->c;
    float lut[256];
    aspire_pixel_lut(lut, PIX_MEAN, PIX_STD);
    for (int64_t i = 0; i < (int64_t)S * S; i++) {
        const uint8_t *p = src->data + i * c;
        uint8_t r = p[0], g = c >= 3 ? p[1] : p[0], bl = c >= 3 ? p[2] : p[0];
        dst[3 * i + 0] = lut[r];
        dst[3 * i + 1] = lut[g];
        dst[3 * i + 2] = lut[bl];
    }
    aspire_image_destroy(&tmp);
    return ASPIRE_OK;
}

/* ---- forward ----------------------------------------------------------------------------------- */
aspire_tensor *aspire_captioner_encode(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x) {
    return aspire_captioner_encode_conv(ctx, cap, x, NULL);
}

aspire_tensor *aspire_captioner_encode_conv(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x,
                                            aspire_tensor **conv) {
    if (conv) *conv = NULL;
    if (!x) return NULL;
    const int S = cap->cfg.image_size;
    ASPIRE_ASSERT(x->ndim == 4 && x->shape[1] == S && x->shape[2] == S && x->shape[3] == 3,
                  "(captioner input must be (N, %d, %d, 3))", S, S);
    const int64_t N = x->shape[0];
    aspire_tensor *h = x;
    for (int i = 0; i < cap->nconvs; i++) {
        conv_bn *c = &cap->convs[i];
        aspire_conv_params p = {c->stride, c->stride, 1, 1, 1, 1};
        h = aspire_conv2d(ctx, h, c->w, c->bias, p);
        if (c->gamma)  /* batch norm and ReLU in one op and one backward pass */
            h = aspire_batchnorm_act(ctx, h, c->gamma, c->beta, c->rm, c->rv, BN_MOMENTUM, BN_EPS, NULL, 1);
        else
            h = aspire_relu(ctx, h);
    }
    if (!h) return NULL;
    if (conv) *conv = h;
    h = aspire_reshape(ctx, h, 3, (int64_t[]){N, cap->grid, h->shape[3]});
    h = aspire_linear(ctx, h, cap->proj_w, cap->proj_b);
    h = aspire_add(ctx, h, cap->grid_pos);
    return aspire_layernorm(ctx, h, cap->enc_ln_g, cap->enc_ln_b, LN_EPS);
}

/* (N, T, d) -> (N, H, T, d/H) */
static aspire_tensor *split_heads(aspire_ctx *ctx, aspire_tensor *x, int H) {
    if (!x) return NULL;
    int64_t N = x->shape[0], T = x->shape[1], d = x->shape[2];
    x = aspire_reshape(ctx, x, 4, (int64_t[]){N, T, H, d / H});
    return aspire_transpose(ctx, x, 1, 2);
}

/* (N, H, T, Dh) -> (N, T, H·Dh) */
static aspire_tensor *merge_heads(aspire_ctx *ctx, aspire_tensor *x) {
    if (!x) return NULL;
    int64_t N = x->shape[0], H = x->shape[1], T = x->shape[2], Dh = x->shape[3];
    x = aspire_transpose(ctx, x, 1, 2);
    return aspire_reshape(ctx, x, 3, (int64_t[]){N, T, H * Dh});
}

/* Decoder over whole sequences: mem (N, G, d), ids (N, T) -> logits (N, T, V). */
static aspire_tensor *decode_full(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *mem, const int32_t *ids,
                                  int64_t N, int T) {
    if (!mem) return NULL;
    const int H = cap->cfg.n_heads;
    aspire_tensor *x = aspire_embedding(ctx, cap->tok_emb, ids, 2, (int64_t[]){N, T});
    x = aspire_add(ctx, x, aspire_slice(ctx, cap->pos_emb, 0, 0, T));
    for (int l = 0; l < cap->cfg.n_layers; l++) {
        dec_layer *L = &cap->layers[l];
        aspire_tensor *h = aspire_layernorm(ctx, x, L->ln1_g, L->ln1_b, LN_EPS);
        aspire_tensor *q = split_heads(ctx, aspire_linear(ctx, h, L->q_w, L->q_b), H);
        aspire_tensor *k = split_heads(ctx, aspire_linear(ctx, h, L->k_w, L->k_b), H);
        aspire_tensor *v = split_heads(ctx, aspire_linear(ctx, h, L->v_w, L->v_b), H);
        aspire_tensor *a = merge_heads(ctx, aspire_attention(ctx, q, k, v, NULL, 1));
        x = aspire_add(ctx, x, aspire_linear(ctx, a, L->o_w, L->o_b));

        h = aspire_layernorm(ctx, x, L->ln2_g, L->ln2_b, LN_EPS);
        q = split_heads(ctx, aspire_linear(ctx, h, L->cq_w, L->cq_b), H);
        k = split_heads(ctx, aspire_linear(ctx, mem, L->ck_w, L->ck_b), H);
        v = split_heads(ctx, aspire_linear(ctx, mem, L->cv_w, L->cv_b), H);
        a = merge_heads(ctx, aspire_attention(ctx, q, k, v, NULL, 0));
        x = aspire_add(ctx, x, aspire_linear(ctx, a, L->co_w, L->co_b));

        h = aspire_layernorm(ctx, x, L->ln3_g, L->ln3_b, LN_EPS);
        h = aspire_gelu(ctx, aspire_linear(ctx, h, L->fc1_w, L->fc1_b));
        x = aspire_add(ctx, x, aspire_linear(ctx, h, L->fc2_w, L->fc2_b));
    }
    x = aspire_layernorm(ctx, x, cap->lnf_g, cap->lnf_b, LN_EPS);
    return aspire_linear(ctx, x, cap->head_w, cap->head_b);
}

static void check_tokens(const aspire_captioner *cap, const int32_t *tokens, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        ASPIRE_ASSERT(tokens[i] >= 0 && tokens[i] < cap->cfg.vocab_size, "(token %d at %lld, vocabulary of %d)",
                      tokens[i], (long long)i, cap->cfg.vocab_size);
}

aspire_tensor *aspire_captioner_loss(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x, const int32_t *tokens,
                                     int T) {
    return aspire_captioner_loss_conv(ctx, cap, x, tokens, T, NULL);
}

aspire_tensor *aspire_captioner_loss_conv(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x,
                                          const int32_t *tokens, int T, aspire_tensor **conv) {
    if (conv) *conv = NULL;
    if (!x) return NULL;
    ASPIRE_ASSERT(T >= 2 && T <= cap->cfg.max_len, "(T = %d, max_len %d)", T, cap->cfg.max_len);
    const int64_t N = x->shape[0];
    const int Tin = T - 1;
    check_tokens(cap, tokens, N * T);
    int32_t *in = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)(N * Tin));
    int32_t *tgt = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)(N * Tin));
    float *w = aspire_ctx_alloc(ctx, sizeof(float) * (size_t)(N * Tin));
    if (!in || !tgt || !w) return NULL;
    int64_t valid = 0;
    for (int64_t n = 0; n < N; n++)
        for (int t = 0; t < Tin; t++) {
            int64_t i = n * Tin + t;
            in[i] = tokens[n * T + t];
            tgt[i] = tokens[n * T + t + 1];
            w[i] = tgt[i] == ASPIRE_TOK_PAD ? 0.0f : 1.0f;
            valid += tgt[i] != ASPIRE_TOK_PAD;
        }
    aspire_tensor *mem = aspire_captioner_encode_conv(ctx, cap, x, conv);
    aspire_tensor *logits = decode_full(ctx, cap, mem, in, N, Tin);
    logits = aspire_reshape(ctx, logits, 2, (int64_t[]){N * Tin, cap->cfg.vocab_size});
    aspire_tensor *loss = aspire_cross_entropy(ctx, logits, tgt, w, ASPIRE_REDUCE_SUM);
    return aspire_scale(ctx, loss, 1.0f / (float)(valid > 0 ? valid : 1), 0.0f);
}

/* ---- generation -------------------------------------------------------------------------------- */
/* Caches of one generation batch, outside the arena (the arena is reset every step). */
typedef struct gen_state {
    int64_t N, M;        /* images, hypotheses (N × beam) */
    int beam, d, H, Dh, G, Tmax, L;
    float *ck, *cv;      /* (L, N, G, d) cross keys and values */
    float *sk, *sv;      /* (L, M, Tmax, d) self keys and values */
    float *sk2, *sv2;    /* the same, for reordering beams */
    size_t cross_n, self_n;
} gen_state;

static void gen_destroy(gen_state *g) {
    aspire_free(g->ck, sizeof(float) * g->cross_n);
    aspire_free(g->cv, sizeof(float) * g->cross_n);
    aspire_free(g->sk, sizeof(float) * g->self_n);
    aspire_free(g->sv, sizeof(float) * g->self_n);
    aspire_free(g->sk2, sizeof(float) * g->self_n);
    aspire_free(g->sv2, sizeof(float) * g->self_n);
}

/* out (M, d) = softmax(q kᵀ / sqrt(Dh)) v per head, over `nk` keys. Keys of hypothesis m live at
 * k + (m / kdiv) * kstride, one row of d floats per key. */
static void attend(float *out, const float *q, const float *k, const float *v, int64_t M, int H, int Dh, int nk,
                   int kdiv, int64_t kstride) {
    const float scale = 1.0f / sqrtf((float)Dh);
    const int d = H * Dh;
#pragma omp parallel for schedule(static)
    for (int64_t mh = 0; mh < M * H; mh++) {
        int64_t m = mh / H;
        int h = (int)(mh % H);
        const float *qm = q + m * d + h * Dh;
        const float *km = k + (m / kdiv) * kstride + h * Dh;
        const float *vm = v + (m / kdiv) * kstride + h * Dh;
        float s[1024];
        float mx = -FLT_MAX;
        for (int j = 0; j < nk; j++) {
            float dot = 0.0f;
            for (int i = 0; i < Dh; i++) dot += qm[i] * km[(int64_t)j * d + i];
            s[j] = dot * scale;
            if (s[j] > mx) mx = s[j];
        }
        float sum = 0.0f;
        for (int j = 0; j < nk; j++) { s[j] = expf(s[j] - mx); sum += s[j]; }
        float *om = out + m * d + h * Dh;
        for (int i = 0; i < Dh; i++) om[i] = 0.0f;
        for (int j = 0; j < nk; j++) {
            float p = s[j] / sum;
            for (int i = 0; i < Dh; i++) om[i] += p * vm[(int64_t)j * d + i];
        }
    }
}

/* One decoding step for all M hypotheses: tokens[m] at position t -> logits (M, V) written to
 * `logits`. Appends this position's keys and values to the self caches. */
static int gen_step(aspire_ctx *ctx, aspire_captioner *cap, gen_state *g, const int32_t *tokens, int t, float *logits) {
    const int64_t M = g->M;
    const int d = g->d, V = cap->cfg.vocab_size;
    aspire_ctx_reset(ctx);
    aspire_tensor *x = aspire_tensor_new(ctx, 2, (int64_t[]){M, d});
    if (!x) return ASPIRE_ERR_NOMEM;
    for (int64_t m = 0; m < M; m++)
        for (int i = 0; i < d; i++)
            x->data[m * d + i] = cap->tok_emb->data[(int64_t)tokens[m] * d + i] + cap->pos_emb->data[(int64_t)t * d + i];
    for (int l = 0; l < g->L; l++) {
        dec_layer *L = &cap->layers[l];
        aspire_tensor *h = aspire_layernorm(ctx, x, L->ln1_g, L->ln1_b, LN_EPS);
        aspire_tensor *q = aspire_linear(ctx, h, L->q_w, L->q_b);
        aspire_tensor *k = aspire_linear(ctx, h, L->k_w, L->k_b);
        aspire_tensor *v = aspire_linear(ctx, h, L->v_w, L->v_b);
        aspire_tensor *a = aspire_tensor_new(ctx, 2, (int64_t[]){M, d});
        if (!q || !k || !v || !a) return ASPIRE_ERR_NOMEM;
        float *sk = g->sk + (size_t)l * M * g->Tmax * d, *sv = g->sv + (size_t)l * M * g->Tmax * d;
        for (int64_t m = 0; m < M; m++) {
            memcpy(sk + (m * g->Tmax + t) * d, k->data + m * d, sizeof(float) * (size_t)d);
            memcpy(sv + (m * g->Tmax + t) * d, v->data + m * d, sizeof(float) * (size_t)d);
        }
        attend(a->data, q->data, sk, sv, M, g->H, g->Dh, t + 1, 1, (int64_t)g->Tmax * d);
        x = aspire_add(ctx, x, aspire_linear(ctx, a, L->o_w, L->o_b));

        h = aspire_layernorm(ctx, x, L->ln2_g, L->ln2_b, LN_EPS);
        q = aspire_linear(ctx, h, L->cq_w, L->cq_b);
        a = aspire_tensor_new(ctx, 2, (int64_t[]){M, d});
        if (!q || !a) return ASPIRE_ERR_NOMEM;
        size_t off = (size_t)l * g->N * g->G * d;
        attend(a->data, q->data, g->ck + off, g->cv + off, M, g->H, g->Dh, g->G, g->beam, (int64_t)g->G * d);
        x = aspire_add(ctx, x, aspire_linear(ctx, a, L->co_w, L->co_b));

        h = aspire_layernorm(ctx, x, L->ln3_g, L->ln3_b, LN_EPS);
        h = aspire_gelu(ctx, aspire_linear(ctx, h, L->fc1_w, L->fc1_b));
        x = aspire_add(ctx, x, aspire_linear(ctx, h, L->fc2_w, L->fc2_b));
    }
    x = aspire_layernorm(ctx, x, cap->lnf_g, cap->lnf_b, LN_EPS);
    aspire_tensor *y = aspire_linear(ctx, x, cap->head_w, cap->head_b);
    if (!y) return ASPIRE_ERR_NOMEM;
    memcpy(logits, y->data, sizeof(float) * (size_t)(M * V));
    return ASPIRE_OK;
}

/* log-softmax of each row, in place */
static void log_softmax_rows(float *x, int64_t rows, int V) {
    for (int64_t r = 0; r < rows; r++) {
        float *p = x + r * V, mx = -FLT_MAX;
        for (int i = 0; i < V; i++) if (p[i] > mx) mx = p[i];
        double s = 0.0;
        for (int i = 0; i < V; i++) s += exp((double)(p[i] - mx));
        float lse = mx + (float)log(s);
        for (int i = 0; i < V; i++) p[i] -= lse;
    }
}

typedef struct hyp {
    double logp;  /* sum of token log-probabilities */
    int len;      /* tokens generated (<eos> included) */
    int done;     /* ended with <eos> */
    int alive;    /* holds a hypothesis at all (beam search starts with one per image) */
} hyp;

static double hyp_score(double logp, int len) { return len > 0 ? logp / len : 0.0; }

/* The decoding's hypotheses: scores, tokens so far, parents (beam search reorders them), and a
 * second set to build the next step in. */
typedef struct beam_state {
    float *logits;        /* (M, V) */
    int32_t *tok;         /* (M) last token per hypothesis */
    int32_t *seq, *seq2;  /* (M, Tmax) tokens so far */
    hyp *hy, *hy2;        /* (M) */
    int64_t *parent;      /* (M) */
} beam_state;

static void beam_free(beam_state *b, int64_t M, int Tmax, int V) {
    aspire_free(b->logits, sizeof(float) * (size_t)(M * V));
    aspire_free(b->tok, sizeof(int32_t) * (size_t)M);
    aspire_free(b->seq, sizeof(int32_t) * (size_t)M * Tmax);
    aspire_free(b->seq2, sizeof(int32_t) * (size_t)M * Tmax);
    aspire_free(b->hy, sizeof(hyp) * (size_t)M);
    aspire_free(b->hy2, sizeof(hyp) * (size_t)M);
    aspire_free(b->parent, sizeof(int64_t) * (size_t)M);
}

/* The caches of g (sizes set) and the hypotheses' buffers. */
static int gen_alloc(gen_state *g, beam_state *b, int V) {
    const int64_t M = g->M;
    g->ck = aspire_malloc(sizeof(float) * g->cross_n);
    g->cv = aspire_malloc(sizeof(float) * g->cross_n);
    g->sk = aspire_malloc(sizeof(float) * g->self_n);
    g->sv = aspire_malloc(sizeof(float) * g->self_n);
    g->sk2 = g->beam > 1 ? aspire_malloc(sizeof(float) * g->self_n) : NULL;
    g->sv2 = g->beam > 1 ? aspire_malloc(sizeof(float) * g->self_n) : NULL;
    b->logits = aspire_malloc(sizeof(float) * (size_t)(M * V));
    b->tok = aspire_malloc(sizeof(int32_t) * (size_t)M);
    b->seq = aspire_calloc((size_t)M * g->Tmax, sizeof(int32_t));
    b->seq2 = aspire_calloc((size_t)M * g->Tmax, sizeof(int32_t));
    b->hy = aspire_calloc((size_t)M, sizeof(hyp));
    b->hy2 = aspire_calloc((size_t)M, sizeof(hyp));
    b->parent = aspire_malloc(sizeof(int64_t) * (size_t)M);
    int ok = g->ck && g->cv && g->sk && g->sv && (g->beam == 1 || (g->sk2 && g->sv2)) && b->logits && b->tok && b->seq &&
             b->seq2 && b->hy && b->hy2 && b->parent;
    return ok ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
}

/* The encoder and the cross keys / values of every layer. */
static int gen_encode(aspire_ctx *ctx, aspire_captioner *cap, gen_state *g, aspire_tensor *x) {
    const int64_t N = g->N;
    aspire_tensor *mem = aspire_captioner_encode(ctx, cap, x);
    for (int l = 0; l < g->L && mem; l++) {
        aspire_tensor *k = aspire_linear(ctx, mem, cap->layers[l].ck_w, cap->layers[l].ck_b);
        aspire_tensor *v = aspire_linear(ctx, mem, cap->layers[l].cv_w, cap->layers[l].cv_b);
        if (!k || !v) { mem = NULL; break; }
        memcpy(g->ck + (size_t)l * N * g->G * g->d, k->data, sizeof(float) * (size_t)k->numel);
        memcpy(g->cv + (size_t)l * N * g->G * g->d, v->data, sizeof(float) * (size_t)v->numel);
    }
    if (mem) return ASPIRE_OK;
    return aspire_errstatus() < 0 ? aspire_errstatus() : ASPIRE_ERR_BACKEND;  /* as the op said */
}

/* Image n's `beam` best extensions at step t into hy2 / seq2 / parent, picked one by one:
 * (score, beam, token) ordered by score, then lower beam, then lower token, so ties resolve
 * deterministically. Returns 1 when all of them have ended. */
static int beam_pick(const gen_state *g, beam_state *s, int64_t n, int t, int V) {
    const int beam = g->beam, Tmax = g->Tmax;
    const hyp *cur = s->hy + n * beam;
    int all_done = 1;
    for (int slot = 0; slot < beam; slot++) {
        double best = -DBL_MAX;
        int bb = -1, bv = -1;
        for (int b = 0; b < beam; b++) {
            if (!cur[b].alive) continue;
            for (int v = 0; v < V; v++) {
                if (cur[b].done && v != ASPIRE_TOK_PAD) continue;  /* a finished one carries over */
                if (!cur[b].done && (v == ASPIRE_TOK_PAD || v == ASPIRE_TOK_BOS)) continue;
                /* skip the extensions already taken */
                int taken = 0;
                for (int q = 0; q < slot && !taken; q++)
                    taken = s->parent[n * beam + q] == n * beam + b && s->seq2[(n * beam + q) * Tmax + t] == v;
                if (taken) continue;
                double lp = cur[b].done ? cur[b].logp : cur[b].logp + s->logits[(n * beam + b) * V + v];
                int len = cur[b].done ? cur[b].len : cur[b].len + 1;
                double sc = hyp_score(lp, len);
                if (sc > best) { best = sc; bb = b; bv = v; }
            }
        }
        int64_t dst = n * beam + slot;
        if (bb < 0) { s->hy2[dst] = (hyp){0}; s->parent[dst] = dst; s->seq2[dst * Tmax + t] = ASPIRE_TOK_PAD; continue; }
        const hyp *src = &cur[bb];
        int64_t srcm = n * beam + bb;
        s->parent[dst] = srcm;
        memcpy(s->seq2 + dst * Tmax, s->seq + srcm * Tmax, sizeof(int32_t) * (size_t)t);
        s->seq2[dst * Tmax + t] = bv;
        s->hy2[dst].alive = 1;
        s->hy2[dst].done = src->done || bv == ASPIRE_TOK_EOS;
        s->hy2[dst].len = src->done ? src->len : src->len + 1;
        s->hy2[dst].logp = src->done ? src->logp : src->logp + s->logits[srcm * V + bv];
        if (!s->hy2[dst].done) all_done = 0;
    }
    return all_done;
}

/* Reorders the self caches by parent (beam search only: greedy keeps its rows). */
static void gen_reorder(gen_state *g, const int64_t *parent, int t) {
    size_t row = (size_t)g->Tmax * g->d;
    for (int l = 0; l < g->L; l++) {
        size_t base = (size_t)l * g->M * row;
        for (int64_t m = 0; m < g->M; m++) {
            memcpy(g->sk2 + base + m * row, g->sk + base + parent[m] * row, sizeof(float) * (size_t)(t + 1) * g->d);
            memcpy(g->sv2 + base + m * row, g->sv + base + parent[m] * row, sizeof(float) * (size_t)(t + 1) * g->d);
        }
    }
    float *f;
    f = g->sk; g->sk = g->sk2; g->sk2 = f;
    f = g->sv; g->sv = g->sv2; g->sv2 = f;
}

/* The best hypothesis of each image into ids (N, max_len), padded after <eos>. */
static void write_best(const gen_state *g, const beam_state *s, int max_len, int32_t *ids) {
    const int beam = g->beam, Tmax = g->Tmax;
    for (int64_t n = 0; n < g->N; n++) {
        int64_t bestm = n * beam;
        double best = -DBL_MAX;
        for (int b = 0; b < beam; b++) {
            const hyp *h = &s->hy[n * beam + b];
            if (!h->alive) continue;
            double sc = hyp_score(h->logp, h->len);
            if (sc > best) { best = sc; bestm = n * beam + b; }
        }
        int32_t *o = ids + n * max_len;
        int k = 0, ended = 0;
        for (int u = 0; u < Tmax; u++) {
            int32_t v = ended ? ASPIRE_TOK_PAD : s->seq[bestm * Tmax + u];
            if (v == ASPIRE_TOK_EOS) ended = 1;
            o[k++] = v;
        }
        while (k < max_len) o[k++] = ASPIRE_TOK_PAD;
    }
}

/* One step t of every hypothesis: the decoder, then each image's picks. Returns 1 when all
 * hypotheses have ended (the rest padded), 0 to go on, or an error status (negative). */
static int gen_advance(aspire_ctx *ctx, aspire_captioner *cap, gen_state *g, beam_state *s, int t) {
    const int V = cap->cfg.vocab_size, Tmax = g->Tmax;
    int rc = gen_step(ctx, cap, g, s->tok, t, s->logits);
    if (rc) return rc < 0 ? rc : ASPIRE_ERR_BACKEND;
    log_softmax_rows(s->logits, g->M, V);
    int all_done = 1;
    for (int64_t n = 0; n < g->N; n++) all_done &= beam_pick(g, s, n, t, V);
    if (g->beam > 1) gen_reorder(g, s->parent, t);
    int32_t *si = s->seq; s->seq = s->seq2; s->seq2 = si;
    hyp *sh = s->hy; s->hy = s->hy2; s->hy2 = sh;
    for (int64_t m = 0; m < g->M; m++) s->tok[m] = s->hy[m].done ? ASPIRE_TOK_EOS : s->seq[m * Tmax + t];
    if (!all_done) return 0;
    for (int64_t m = 0; m < g->M; m++)  /* pad the rest */
        for (int u = t + 1; u < Tmax; u++) s->seq[m * Tmax + u] = ASPIRE_TOK_PAD;
    return 1;
}

int aspire_captioner_generate(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x, int beam, int32_t *ids) {
    if (!x) return ASPIRE_ERR_ARG;
    ASPIRE_ASSERT(beam >= 1 && beam <= 64, "(beam %d)", beam);
    const aspire_captioner_config *c = &cap->cfg;
    const int V = c->vocab_size, Tmax = c->max_len - 1;  /* generated positions after <bos> */
    const int64_t N = x->shape[0], M = N * beam;
    const int was_training = aspire_ctx_training(ctx), was_recording = aspire_ctx_recording(ctx);
    aspire_ctx_set_training(ctx, 0);
    aspire_ctx_set_recording(ctx, 0);

    gen_state g = {0};
    g.N = N; g.M = M; g.beam = beam; g.d = c->d_model; g.H = c->n_heads; g.Dh = c->d_model / c->n_heads;
    g.G = cap->grid; g.Tmax = Tmax; g.L = c->n_layers;
    ASPIRE_ASSERT(g.G <= 1024 && Tmax <= 1024, "(attention scratch holds 1024 keys)");
    g.cross_n = (size_t)g.L * N * g.G * g.d;
    g.self_n = (size_t)g.L * M * Tmax * g.d;
    beam_state s = {0};
    int rc = gen_alloc(&g, &s, V);
    if (!rc) rc = gen_encode(ctx, cap, &g, x);
    for (int64_t m = 0; !rc && m < M; m++) {
        s.tok[m] = ASPIRE_TOK_BOS;
        s.hy[m].alive = (m % beam) == 0;
    }
    for (int t = 0; !rc && t < Tmax; t++) {
        int r = gen_advance(ctx, cap, &g, &s, t);
        if (r < 0) rc = r;
        if (r) break;
    }
    if (!rc) write_best(&g, &s, c->max_len, ids);
    aspire_ctx_reset(ctx);
    aspire_ctx_set_training(ctx, was_training);
    aspire_ctx_set_recording(ctx, was_recording);
    gen_destroy(&g);
    beam_free(&s, M, Tmax, V);
    return rc;
}

aspire_tensor *aspire_captioner_logits(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x, const int32_t *tokens,
                                       int T) {
    if (!x) return NULL;
    ASPIRE_ASSERT(T >= 1 && T <= cap->cfg.max_len, "(T = %d, max_len %d)", T, cap->cfg.max_len);
    check_tokens(cap, tokens, x->shape[0] * T);
    return decode_full(ctx, cap, aspire_captioner_encode(ctx, cap, x), tokens, x->shape[0], T);
}

/* ---- captioning images --------------------------------------------------------------------------- */
int aspire_captioner_caption(aspire_ctx *ctx, aspire_captioner *cap, const aspire_image *images, int n, int beam,
                             int batch, char **captions) {
    ASPIRE_ASSERT(batch >= 1 && n >= 0);
    const int S = cap->cfg.image_size, L = cap->cfg.max_len;
    for (int i = 0; i < n; i++) captions[i] = NULL;
    int32_t *ids = aspire_malloc(sizeof(int32_t) * (size_t)batch * L);
    if (!ids) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    for (int start = 0; start < n && !rc; start += batch) {
        int nb = n - start < batch ? n - start : batch;
        aspire_ctx_reset(ctx);
        aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){nb, S, S, 3});
        if (!x) { rc = ASPIRE_ERR_NOMEM; break; }
        for (int i = 0; i < nb && !rc; i++) rc = aspire_captioner_pixels(cap, &images[start + i], x->data + (size_t)i * S * S * 3);
        if (!rc) rc = aspire_captioner_generate(ctx, cap, x, beam, ids);
        for (int i = 0; i < nb && !rc; i++) {
            size_t need = aspire_vocab_decode(cap->vocab, ids + (size_t)i * L, L, NULL, 0);
            char *s = aspire_malloc(need + 1);
            if (!s) { rc = ASPIRE_ERR_NOMEM; break; }
            aspire_vocab_decode(cap->vocab, ids + (size_t)i * L, L, s, need + 1);
            captions[start + i] = s;
        }
    }
    aspire_free(ids, sizeof(int32_t) * (size_t)batch * L);
    if (rc)
        for (int i = 0; i < n; i++) { aspire_strfree(captions[i]); captions[i] = NULL; }
    return rc;
}

/* ---- files ------------------------------------------------------------------------------------------ */
char *aspire_captioner_config_json(const aspire_captioner_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "image_size", c->image_size);
    cJSON_AddNumberToObject(o, "stem_stride", c->stem_stride);
    cJSON_AddNumberToObject(o, "batchnorm", c->batchnorm);
    cJSON_AddNumberToObject(o, "nstages", c->nstages);
    cJSON *w = cJSON_CreateIntArray(c->widths, c->nstages);
    if (w) cJSON_AddItemToObject(o, "widths", w);
    cJSON_AddNumberToObject(o, "d_model", c->d_model);
    cJSON_AddNumberToObject(o, "n_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "n_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "d_ff", c->d_ff);
    cJSON_AddNumberToObject(o, "max_len", c->max_len);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) return NULL;
    char *s = aspire_strdup(txt);
    cJSON_free(txt);
    return s;
}

static int json_int(const cJSON *o, const char *key, int *dst, const char *path) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": \"%s\" is missing or not an integer", path, key);
    *dst = (int)v->valuedouble;
    return ASPIRE_OK;
}

static int parse_config(const char *json, aspire_captioner_config *c, const char *path) {
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\" is not a JSON object", path);
    }
    int rc = json_int(o, "image_size", &c->image_size, path);
    if (!rc) rc = json_int(o, "stem_stride", &c->stem_stride, path);
    if (!rc) rc = json_int(o, "batchnorm", &c->batchnorm, path);
    if (!rc) rc = json_int(o, "nstages", &c->nstages, path);
    if (!rc) rc = json_int(o, "d_model", &c->d_model, path);
    if (!rc) rc = json_int(o, "n_layers", &c->n_layers, path);
    if (!rc) rc = json_int(o, "n_heads", &c->n_heads, path);
    if (!rc) rc = json_int(o, "d_ff", &c->d_ff, path);
    if (!rc) rc = json_int(o, "max_len", &c->max_len, path);
    if (!rc) rc = json_int(o, "vocab_size", &c->vocab_size, path);
    if (!rc) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "widths");
        if (!cJSON_IsArray(w) || c->nstages < 1 || c->nstages > ASPIRE_CAPTIONER_MAX_STAGES ||
            cJSON_GetArraySize(w) != c->nstages)
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": \"widths\" must list nstages (%d) widths", path,
                              c->nstages);
        for (int s = 0; !rc && s < c->nstages; s++) {
            const cJSON *e = cJSON_GetArrayItem(w, s);
            if (!cJSON_IsNumber(e))
                rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": widths[%d] is not a number", path, s);
            else
                c->widths[s] = (int)e->valuedouble;
        }
    }
    cJSON_Delete(o);
    return rc;
}

const char *aspire_captioner_default_model(const char *models_dir, char *buf, size_t n) {
    return aspire_model_path(models_dir, "captioner.safetensors", buf, n);
}

int aspire_captioner_save(const aspire_captioner *cap, const char *path, const char *recipe) {
    char *vocab = aspire_vocab_serialize(cap->vocab);
    char *config = aspire_captioner_config_json(&cap->cfg);
    int rc = ASPIRE_ERR_NOMEM;
    if (vocab && config) {
        const char *meta[] = {"format", "aspire-captioner-1", "vocab", vocab, "config", config, "recipe",
                              recipe ? recipe : ""};
        rc = aspire_params_save(cap->params, path, meta, 4);
    }
    aspire_strfree(vocab);
    aspire_strfree(config);
    return rc;
}

int aspire_captioner_load(aspire_captioner **out, const char *path, char **recipe) {
    *out = NULL;
    if (recipe) *recipe = NULL;
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, path);
    if (rc) return rc;
    const char *format = aspire_safetensors_meta(st, "format");
    const char *vs = aspire_safetensors_meta(st, "vocab");
    const char *cs = aspire_safetensors_meta(st, "config");
    aspire_vocab *vocab = NULL;
    aspire_captioner *cap = NULL;
    aspire_captioner_config cfg;
    if (!format || strcmp(format, "aspire-captioner-1") != 0)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: not a captioner file (metadata \"format\" is %s%s%s)", path,
                          format ? "'" : "", format ? format : "missing", format ? "'" : "");
    else if (!vs || !cs)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"%s\" is missing", path, !vs ? "vocab" : "config");
    if (!rc) {
        rc = aspire_vocab_parse(&vocab, vs);
        if (rc) aspire_error_prefix(rc, "%s: metadata \"vocab\"", path);
    }
    if (!rc) rc = parse_config(cs, &cfg, path);
    if (!rc && cfg.vocab_size != aspire_vocab_size(vocab))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: config says %d words, the vocabulary has %d", path, cfg.vocab_size,
                          aspire_vocab_size(vocab));
    if (!rc) {
        rc = aspire_captioner_new(&cap, &cfg, vocab, 0);
        if (rc == ASPIRE_ERR_ARG) rc = aspire_error_prefix(ASPIRE_ERR_FORMAT, "%s: metadata \"config\"", path);
    }
    if (!rc) rc = aspire_params_read_all(cap->params, st, path, "captioner");
    if (!rc && recipe) {
        const char *r = aspire_safetensors_meta(st, "recipe");
        *recipe = aspire_strdup(r ? r : "");
        if (!*recipe) rc = ASPIRE_ERR_NOMEM;
    }
    aspire_vocab_free(vocab);
    aspire_safetensors_free(st);
    if (rc) { aspire_captioner_free(cap); return rc; }
    *out = cap;
    return ASPIRE_OK;
}
