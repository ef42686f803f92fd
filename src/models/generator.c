/* generator.c — the built-in text-to-image model: configuration, construction and initialisation,
 * model files, placeholder tokens (textual inversion's learned embeds) and prompt encoding. The
 * forward passes are in textenc.c and unet.c, the schedule and sampler in diffusion.c. */
#include "models/generator_internal.h"

#include "aspire/fileio.h"
#include "aspire/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT "aspire-generator-1"
#define EMBEDS_FORMAT "aspire-learned-embeds-1"

aspire_generator_config aspire_generator_default_config(void) {
    aspire_generator_config c;
    memset(&c, 0, sizeof c);
    c.image_size = 32;
    c.out_size = 64;
    c.patch = 2;
    c.nlevels = 2;
    c.widths[0] = 48;
    c.widths[1] = 96;
    c.groups = 8;
    c.heads = 2;
    c.d_time = 128;
    c.d_text = 64;
    c.text_layers = 2;
    c.text_heads = 2;
    c.max_len = 20;
    c.timesteps = 1000;
    return c;
}

static int check_config(const aspire_generator_config *c) {
#define REQ(cond, ...) do { if (!(cond)) return aspire_error(ASPIRE_ERR_ARG, "generator config: " __VA_ARGS__); } while (0)
    REQ(c->nlevels >= 1 && c->nlevels <= ASPIRE_GENERATOR_MAX_LEVELS, "nlevels %d not in 1..%d", c->nlevels,
        ASPIRE_GENERATOR_MAX_LEVELS);
    REQ(c->patch >= 1 && c->patch <= 8, "patch %d not in 1..8", c->patch);
    REQ(c->image_size >= 4 && c->image_size <= 512 && c->image_size % (c->patch << (c->nlevels - 1)) == 0,
        "image_size %d is not a multiple of patch·2^(nlevels-1)", c->image_size);
    REQ(c->out_size >= 1 && c->out_size <= 4096, "out_size %d out of range", c->out_size);
    REQ(c->groups >= 1 && c->heads >= 1, "groups and heads must be positive");
    for (int l = 0; l < c->nlevels; l++)
        REQ(c->widths[l] >= 1 && c->widths[l] <= 4096 && c->widths[l] % c->groups == 0 && c->widths[l] % c->heads == 0,
            "widths[%d] = %d is not a positive multiple of groups (%d) and heads (%d)", l, c->widths[l], c->groups,
            c->heads);
    REQ(c->d_time >= 2 && c->d_time <= 4096, "d_time %d out of range", c->d_time);
    REQ(c->d_text >= 2 && c->d_text <= 4096 && c->text_heads >= 1 && c->d_text % c->text_heads == 0,
        "d_text %d is not a multiple of text_heads %d", c->d_text, c->text_heads);
    REQ(c->text_layers >= 1 && c->text_layers <= GEN_MAX_TEXT_LAYERS, "text_layers %d not in 1..%d", c->text_layers,
        GEN_MAX_TEXT_LAYERS);
    REQ(c->max_len >= 3 && c->max_len <= 256, "max_len %d not in 3..256", c->max_len);
    REQ(c->timesteps >= 2 && c->timesteps <= 100000, "timesteps %d out of range", c->timesteps);
    REQ(c->vocab_size > ASPIRE_TOK_SPECIALS, "vocabulary of %d words has no words", c->vocab_size);
#undef REQ
    return ASPIRE_OK;
}

/* ---- construction ---------------------------------------------------------------------------- */
typedef struct builder {
    aspire_params *p;
    aspire_rng rng;
    int failed;
} builder;

static aspire_tensor *param(builder *b, const char *prefix, const char *suffix, int ndim, const int64_t *shape) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    aspire_tensor *t = aspire_params_add(b->p, name, ndim, shape, 1);
    if (!t) b->failed = 1;
    return t;
}

static void build_linear(builder *b, gen_linear *l, const char *prefix, int out, int in, float std) {
    l->w = param(b, prefix, "weight", 2, (int64_t[]){out, in});
    l->b = param(b, prefix, "bias", 1, (int64_t[]){out});
    if (l->w) aspire_init_normal(l->w, 0.0f, std, &b->rng);
    if (l->b) aspire_init_fill(l->b, 0.0f);
}

static void build_norm(builder *b, gen_norm *n, const char *prefix, int d) {
    n->g = param(b, prefix, "weight", 1, (int64_t[]){d});
    n->b = param(b, prefix, "bias", 1, (int64_t[]){d});
    if (n->g) aspire_init_fill(n->g, 1.0f);
    if (n->b) aspire_init_fill(n->b, 0.0f);
}

/* A conv "prefix.weight" (out, in, k, k) (transposed: (in, out, k, k)), Kaiming-initialised, or
 * zero-initialised when scale is 0 (the last layer of a residual branch). */
static void build_conv(builder *b, gen_conv *c, const char *prefix, int out, int in, int k, int transposed,
                       float scale) {
    c->w = param(b, prefix, "weight", 4, transposed ? (int64_t[]){in, out, k, k} : (int64_t[]){out, in, k, k});
    c->b = param(b, prefix, "bias", 1, (int64_t[]){out});
    if (c->w) {
        aspire_init_kaiming(c->w, (int64_t)in * k * k, &b->rng);
        for (int64_t i = 0; i < c->w->numel; i++) c->w->data[i] *= scale;
    }
    if (c->b) aspire_init_fill(c->b, 0.0f);
}

static void build_block(builder *b, res_block *r, const char *prefix, int in, int out, const aspire_generator_config *c) {
    char pre[96];
    r->in = in;
    r->out = out;
#define SUB(s) (snprintf(pre, sizeof pre, "%s.%s", prefix, s), pre)
    build_norm(b, &r->n1, SUB("norm1"), in);
    build_conv(b, &r->c1, SUB("conv1"), out, in, 3, 0, 1.0f);
    build_linear(b, &r->temb, SUB("temb"), out, c->d_time, 1.0f / sqrtf((float)c->d_time));
    build_norm(b, &r->n2, SUB("norm2"), out);
    build_conv(b, &r->c2, SUB("conv2"), out, out, 3, 0, 0.0f);
    if (in != out) build_conv(b, &r->skip, SUB("skip"), out, in, 1, 0, 1.0f);
    build_norm(b, &r->an, SUB("attn.norm"), out);
    build_linear(b, &r->q, SUB("attn.q"), out, out, 1.0f / sqrtf((float)out));
    build_linear(b, &r->k, SUB("attn.k"), out, c->d_text, 1.0f / sqrtf((float)c->d_text));
    build_linear(b, &r->v, SUB("attn.v"), out, c->d_text, 1.0f / sqrtf((float)c->d_text));
    build_linear(b, &r->o, SUB("attn.o"), out, out, 0.0f);
#undef SUB
}

static void build_text(builder *b, aspire_generator *g) {
    const aspire_generator_config *c = &g->cfg;
    const int d = c->d_text;
    const float std = 0.02f, rstd = 0.02f / sqrtf(2.0f * (float)c->text_layers);
    g->tok_emb = param(b, "text", "tok_emb", 2, (int64_t[]){c->vocab_size, d});
    g->pos_emb = param(b, "text", "pos_emb", 2, (int64_t[]){c->max_len, d});
    if (g->tok_emb) aspire_init_normal(g->tok_emb, 0.0f, std, &b->rng);
    if (g->pos_emb) aspire_init_normal(g->pos_emb, 0.0f, std, &b->rng);
    for (int l = 0; l < c->text_layers; l++) {
        text_layer *L = &g->text[l];
        char pre[64];
#define SUB(s) (snprintf(pre, sizeof pre, "text.layer%d.%s", l, s), pre)
        build_norm(b, &L->ln1, SUB("ln1"), d);
        build_linear(b, &L->q, SUB("q"), d, d, std);
        build_linear(b, &L->k, SUB("k"), d, d, std);
        build_linear(b, &L->v, SUB("v"), d, d, std);
        build_linear(b, &L->o, SUB("o"), d, d, rstd);
        build_norm(b, &L->ln2, SUB("ln2"), d);
        build_linear(b, &L->fc1, SUB("fc1"), 4 * d, d, std);
        build_linear(b, &L->fc2, SUB("fc2"), d, 4 * d, rstd);
#undef SUB
    }
    build_norm(b, &g->text_ln, "text.ln_f", d);
    build_linear(b, &g->pool, "text.pool", c->d_time, d, 1.0f / sqrtf((float)d));
}

static void build_unet(builder *b, aspire_generator *g) {
    const aspire_generator_config *c = &g->cfg;
    const int *w = c->widths, L = c->nlevels;
    char pre[64];
    build_linear(b, &g->t1, "unet.time1", c->d_time, w[0], 1.0f / sqrtf((float)w[0]));
    build_linear(b, &g->t2, "unet.time2", c->d_time, c->d_time, 1.0f / sqrtf((float)c->d_time));
    build_conv(b, &g->stem, "unet.stem", w[0], 3, c->patch, 0, 1.0f);
    for (int l = 0; l < L; l++) {
        snprintf(pre, sizeof pre, "unet.down%d", l);
        build_block(b, &g->down[l], pre, l ? w[l - 1] : w[0], w[l], c);
        if (l + 1 < L) {
            snprintf(pre, sizeof pre, "unet.downsample%d", l);
            build_conv(b, &g->ds[l], pre, w[l], w[l], 3, 0, 1.0f);
        }
    }
    build_block(b, &g->mid, "unet.mid", w[L - 1], w[L - 1], c);
    for (int l = L - 1; l >= 0; l--) {
        int below = l == L - 1 ? w[L - 1] : w[l + 1];
        snprintf(pre, sizeof pre, "unet.up%d", l);
        build_block(b, &g->up[l], pre, below + w[l], w[l], c);
    }
    build_norm(b, &g->out_n, "unet.out_norm", w[0]);
    build_conv(b, &g->out, "unet.out", 3, w[0], c->patch, 1, 0.0f);
}

static int copy_vocab(aspire_vocab **dst, const aspire_vocab *src) {
    char *vs = aspire_vocab_serialize(src);
    int rc = vs ? aspire_vocab_parse(dst, vs) : ASPIRE_ERR_NOMEM;
    aspire_strfree(vs);
    return rc;
}

int aspire_generator_new(aspire_generator **out, const aspire_generator_config *cfg, const aspire_vocab *vocab,
                         uint64_t seed) {
    *out = NULL;
    aspire_generator_config c = *cfg;
    c.vocab_size = aspire_vocab_size(vocab);
    int rc = check_config(&c);
    if (rc) return rc;
    aspire_generator *g = aspire_calloc(1, sizeof *g);
    if (!g) return ASPIRE_ERR_NOMEM;
    g->cfg = c;
    g->params = aspire_params_new();
    g->extra = aspire_params_new();
    if (!g->params || !g->extra || copy_vocab(&g->vocab, vocab)) {
        aspire_generator_free(g);
        return ASPIRE_ERR_NOMEM;
    }
    builder b = {.p = g->params};
    aspire_rng_seed(&b.rng, seed);
    build_text(&b, g);
    build_unet(&b, g);
    if (b.failed) { aspire_generator_free(g); return ASPIRE_ERR_NOMEM; }
    *out = g;
    return ASPIRE_OK;
}

void aspire_generator_free(aspire_generator *g) {
    if (!g) return;
    aspire_vocab_free(g->vocab);
    aspire_params_free(g->params);
    aspire_params_free(g->extra);
    aspire_free(g, sizeof *g);
}

aspire_params *aspire_generator_params(aspire_generator *g) { return g->params; }
const aspire_vocab *aspire_generator_vocab(const aspire_generator *g) { return g->vocab; }
const aspire_generator_config *aspire_generator_get_config(const aspire_generator *g) { return &g->cfg; }

static double block_macs(const res_block *r, int side, int ntext, int d_text) {
    double hw = (double)side * side;
    double m = hw * r->in * r->out * 9 + hw * r->out * r->out * 9 + (r->in != r->out ? hw * r->in * r->out : 0);
    m += 2 * hw * r->out * r->out + 2.0 * ntext * d_text * r->out + 2 * hw * ntext * r->out;  /* q, o, k, v, QK, AV */
    return m;
}

double aspire_generator_flops(const aspire_generator *g) {
    const aspire_generator_config *c = &g->cfg;
    int side = c->image_size / c->patch;
    double macs = (double)side * side * 3 * c->patch * c->patch * c->widths[0] * 2;  /* stem + out */
    for (int l = 0; l < c->nlevels; l++) {
        macs += block_macs(&g->down[l], side, c->max_len, c->d_text);
        macs += block_macs(&g->up[l], side, c->max_len, c->d_text);
        if (l + 1 < c->nlevels) {
            side /= 2;
            macs += (double)side * side * c->widths[l] * c->widths[l] * 9;
        }
    }
    macs += block_macs(&g->mid, side, c->max_len, c->d_text);
    return 2.0 * macs;
}

/* ---- placeholders ------------------------------------------------------------------------------- */
static int valid_placeholder(const char *name) {
    size_t n = strlen(name);
    if (n < 3 || n > ASPIRE_GENERATOR_MAX_TOKEN || name[0] != '<' || name[n - 1] != '>') return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if (name[i] == '<' || name[i] == '>' || name[i] == ' ' || (unsigned char)name[i] < 0x20) return 0;
    return 1;
}

static int find_token(const aspire_generator *g, const char *name, size_t len) {
    for (int k = 0; k < g->ntok; k++)
        if (strlen(g->names[k]) == len && memcmp(g->names[k], name, len) == 0) return k;
    return -1;
}

/* Adds placeholder `name` with the values init (d_text floats). */
static int add_token_values(aspire_generator *g, const char *name, const float *init, int *id) {
    if (!valid_placeholder(name))
        return aspire_error(ASPIRE_ERR_ARG, "placeholder '%s' must be 3 to %d bytes, '<' ... '>' with no spaces", name,
                            ASPIRE_GENERATOR_MAX_TOKEN);
    if (find_token(g, name, strlen(name)) >= 0)
        return aspire_error(ASPIRE_ERR_ARG, "placeholder '%s' is already defined", name);
    if (g->ntok == GEN_MAX_TOKENS) return aspire_error(ASPIRE_ERR_ARG, "more than %d placeholders", GEN_MAX_TOKENS);
    aspire_tensor *t = aspire_params_add(g->extra, name, 1, (int64_t[]){g->cfg.d_text}, 1);
    if (!t) return ASPIRE_ERR_NOMEM;
    memcpy(t->data, init, sizeof(float) * (size_t)g->cfg.d_text);
    snprintf(g->names[g->ntok], sizeof g->names[0], "%s", name);
    if (id) *id = g->cfg.vocab_size + g->ntok;
    g->ntok++;
    return ASPIRE_OK;
}

int aspire_generator_add_token(aspire_generator *g, const char *name, const char *init_word, int *id) {
    int w = aspire_vocab_id(g->vocab, init_word);
    if (w < ASPIRE_TOK_SPECIALS)
        return aspire_error(ASPIRE_ERR_ARG, "initializer word '%s' of placeholder '%s' is not in the vocabulary",
                            init_word, name);
    return add_token_values(g, name, g->tok_emb->data + (size_t)w * g->cfg.d_text, id);
}

int aspire_generator_ntokens(const aspire_generator *g) { return g->ntok; }
const char *aspire_generator_token_name(const aspire_generator *g, int k) {
    ASPIRE_ASSERT(k >= 0 && k < g->ntok);
    return g->names[k];
}
aspire_params *aspire_generator_placeholders(aspire_generator *g) { return g->extra; }

int aspire_generator_embeds_save_labeled(const aspire_generator *g, const char *path, const int *labels) {
    char d[32], lab[16 * 12] = "";
    snprintf(d, sizeof d, "%d", g->cfg.d_text);
    for (int k = 0; labels && k < g->ntok && k < 16; k++)
        snprintf(lab + strlen(lab), sizeof lab - strlen(lab), "%s%d", k ? "," : "", labels[k]);
    const char *meta[] = {"format", EMBEDS_FORMAT, "d_text", d, "labels", lab};
    return aspire_params_save(g->extra, path, meta, labels && g->ntok <= 16 ? 3 : 2);
}

int aspire_generator_embeds_save(const aspire_generator *g, const char *path) {
    return aspire_generator_embeds_save_labeled(g, path, NULL);
}

int aspire_generator_embeds_labels(const char *path, int *labels, int n) {
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, path);
    if (rc) return rc;
    const char *lab = aspire_safetensors_meta(st, "labels");
    if (!lab) {
        aspire_safetensors_free(st);
        return ASPIRE_ERR_NOTFOUND;
    }
    int k = 0;
    for (const char *p = lab; !rc && *p;) {
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 1000000 || k == n || (*end && *end != ','))
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"labels\" '%s' is not %d labels (y >= 0, commas)", path,
                              lab, n);
        else labels[k++] = (int)v;
        p = end && *end == ',' ? end + 1 : end;
    }
    if (!rc && k != n)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"labels\" '%s' is not %d labels", path, lab, n);
    aspire_safetensors_free(st);
    return rc;
}

/* Adds every tensor of an open embeds file; names collects them (n_out of them). */
static int embeds_add(aspire_generator *g, const aspire_safetensors *st, const char *path, char **names, int *n_out) {
    const int d = g->cfg.d_text, n = aspire_safetensors_count(st);
    for (int i = 0; i < n; i++) {
        const aspire_st_tensor *t = aspire_safetensors_at(st, i);
        if (!valid_placeholder(t->name))
            return aspire_error(ASPIRE_ERR_FORMAT, "%s: key '%s' is not a placeholder ('<name>', no spaces)", path,
                                t->name);
        if (t->dtype != ASPIRE_DT_F32 || t->ndim != 1 || t->shape[0] != d)
            return aspire_error(ASPIRE_ERR_FORMAT, "%s: '%s' must be a float32 vector of %d values (the model's d_text)",
                                path, t->name, d);
        float *v = aspire_malloc(sizeof(float) * (size_t)d);
        if (!v) return ASPIRE_ERR_NOMEM;
        aspire_st_tensor_to_f32(t, v);
        int bad = 0;
        for (int j = 0; j < d; j++) bad |= !isfinite(v[j]);
        int rc = bad ? aspire_error(ASPIRE_ERR_FORMAT, "%s: '%s' holds a non-finite value", path, t->name)
                     : add_token_values(g, t->name, v, NULL);
        aspire_free(v, 0);
        if (rc) return aspire_error_prefix(rc, "%s", path);
        if (names && !(names[(*n_out)++] = aspire_strdup(t->name))) return ASPIRE_ERR_NOMEM;
    }
    return ASPIRE_OK;
}

int aspire_generator_embeds_load(aspire_generator *g, const char *path, char ***names_out, int *n_out) {
    if (names_out) *names_out = NULL;
    if (n_out) *n_out = 0;
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, path);
    if (rc) return rc;
    const char *format = aspire_safetensors_meta(st, "format");
    int n = aspire_safetensors_count(st), got = 0;
    char **names = NULL;
    if (format && strcmp(format, EMBEDS_FORMAT) != 0)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: not a learned-embeds file (metadata \"format\" is '%s')", path, format);
    else if (n == 0)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: holds no embedding", path);
    if (!rc && names_out && !(names = aspire_calloc((size_t)n, sizeof *names))) rc = ASPIRE_ERR_NOMEM;
    if (!rc) rc = embeds_add(g, st, path, names, &got);
    aspire_safetensors_free(st);
    if (rc) {
        for (int i = 0; i < got; i++) aspire_strfree(names[i]);
        aspire_free(names, 0);
        return rc;
    }
    if (names_out) *names_out = names;
    if (n_out) *n_out = n;
    return ASPIRE_OK;
}

/* ---- prompts -------------------------------------------------------------------------------- */
typedef struct enc_state {
    const aspire_generator *g;
    int32_t *ids;
    int n, cap;
} enc_state;

static void push_word(const char *w, int len, void *ud) {
    enc_state *s = ud;
    char buf[ASPIRE_VOCAB_MAX_WORD + 1];
    memcpy(buf, w, (size_t)len);
    buf[len] = 0;
    if (s->n < s->cap) s->ids[s->n++] = aspire_vocab_id(s->g->vocab, buf);
}

int aspire_generator_encode(const aspire_generator *g, const char *prompt, int32_t *ids) {
    const int L = g->cfg.max_len;
    enc_state s = {.g = g, .ids = ids + 1, .n = 0, .cap = L - 2};
    const char *p = prompt;
    while (*p) {
        const char *lt = strchr(p, '<');
        size_t plain = lt ? (size_t)(lt - p) : strlen(p);
        char seg[1024];
        while (plain > 0) {  /* the words before the placeholder, in pieces that fit seg */
            size_t m = plain < sizeof seg - 1 ? plain : sizeof seg - 1;
            while (m < plain && m > 1 && p[m] != ' ') m--;
            memcpy(seg, p, m);
            seg[m] = 0;
            aspire_vocab_tokenize(seg, push_word, &s);
            p += m;
            plain -= m;
        }
        if (!lt) break;
        const char *gt = lt + 1;
        while (*gt && *gt != '>' && *gt != ' ' && *gt != '<') gt++;
        size_t len = *gt == '>' ? (size_t)(gt - lt + 1) : (size_t)(gt - lt);
        int k = *gt == '>' ? find_token(g, lt, len) : -1;
        if (k < 0)
            return aspire_error(ASPIRE_ERR_ARG, "prompt \"%s\": unknown placeholder '%.*s' (the model knows %d)", prompt,
                                (int)len, lt, g->ntok);
        if (s.n < s.cap) s.ids[s.n++] = g->cfg.vocab_size + k;
        p = lt + len;
    }
    ids[0] = ASPIRE_TOK_BOS;
    ids[1 + s.n] = ASPIRE_TOK_EOS;
    for (int i = 2 + s.n; i < L; i++) ids[i] = ASPIRE_TOK_PAD;
    return ASPIRE_OK;
}

/* ---- images ---------------------------------------------------------------------------------- */
int aspire_generator_pixels(const aspire_generator *g, const aspire_image *img, int flip, float *dst) {
    const int S = g->cfg.image_size;
    aspire_image rs = {0};
    const aspire_image *src = img;
    if (img->c != 3) return aspire_error(ASPIRE_ERR_ARG, "generator: image has %d channels, wants 3", img->c);
    if (img->w != S || img->h != S) {
        int rc = aspire_image_resize(&rs, img, S, S, ASPIRE_RESIZE_AREA);
        if (rc) return rc;
        src = &rs;
    }
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            const uint8_t *p = src->data + ((size_t)y * S + (flip ? S - 1 - x : x)) * 3;
            float *q = dst + ((size_t)y * S + x) * 3;
            for (int ch = 0; ch < 3; ch++) q[ch] = (float)p[ch] / 127.5f - 1.0f;
        }
    aspire_image_destroy(&rs);
    return ASPIRE_OK;
}

int aspire_generator_to_image(const aspire_generator *g, const float *x, aspire_image *img) {
    const int S = g->cfg.image_size, O = g->cfg.out_size;
    aspire_image small = {0};
    int rc = aspire_image_init(&small, S, S, 3);
    if (rc) return rc;
    for (int64_t i = 0; i < (int64_t)S * S * 3; i++) {
        float v = (x[i] + 1.0f) * 127.5f;
        small.data[i] = (uint8_t)(v <= 0.0f ? 0 : v >= 255.0f ? 255 : lrintf(v));
    }
    if (O == S) { *img = small; return ASPIRE_OK; }
    rc = aspire_image_resize(img, &small, O, O, ASPIRE_RESIZE_BILINEAR);
    aspire_image_destroy(&small);
    return rc;
}

/* ---- files ------------------------------------------------------------------------------------ */
char *aspire_generator_config_json(const aspire_generator_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "image_size", c->image_size);
    cJSON_AddNumberToObject(o, "out_size", c->out_size);
    cJSON_AddNumberToObject(o, "patch", c->patch);
    cJSON_AddNumberToObject(o, "nlevels", c->nlevels);
    cJSON *w = cJSON_CreateIntArray(c->widths, c->nlevels);
    if (w) cJSON_AddItemToObject(o, "widths", w);
    cJSON_AddNumberToObject(o, "groups", c->groups);
    cJSON_AddNumberToObject(o, "heads", c->heads);
    cJSON_AddNumberToObject(o, "d_time", c->d_time);
    cJSON_AddNumberToObject(o, "d_text", c->d_text);
    cJSON_AddNumberToObject(o, "text_layers", c->text_layers);
    cJSON_AddNumberToObject(o, "text_heads", c->text_heads);
    cJSON_AddNumberToObject(o, "max_len", c->max_len);
    cJSON_AddNumberToObject(o, "timesteps", c->timesteps);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char *s = txt ? aspire_strdup(txt) : NULL;
    cJSON_free(txt);
    return s;
}

static int parse_config(const char *json, aspire_generator_config *c, const char *path) {
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\" is not a JSON object", path);
    }
    struct { const char *key; int *dst; } f[] = {
        {"image_size", &c->image_size}, {"out_size", &c->out_size}, {"patch", &c->patch},
        {"nlevels", &c->nlevels}, {"groups", &c->groups}, {"heads", &c->heads}, {"d_time", &c->d_time},
        {"d_text", &c->d_text}, {"text_layers", &c->text_layers}, {"text_heads", &c->text_heads},
        {"max_len", &c->max_len}, {"timesteps", &c->timesteps}, {"vocab_size", &c->vocab_size}};
    int rc = ASPIRE_OK;
    for (size_t i = 0; !rc && i < sizeof f / sizeof f[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f[i].key);
        if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble)
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": \"%s\" is missing or not an integer", path,
                              f[i].key);
        else
            *f[i].dst = (int)v->valuedouble;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "widths");
    if (!rc && (!cJSON_IsArray(w) || c->nlevels < 1 || c->nlevels > ASPIRE_GENERATOR_MAX_LEVELS ||
                cJSON_GetArraySize(w) != c->nlevels))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": \"widths\" must list nlevels widths", path);
    for (int l = 0; !rc && l < c->nlevels; l++) {
        const cJSON *e = cJSON_GetArrayItem(w, l);
        if (!cJSON_IsNumber(e)) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"config\": widths[%d]", path, l);
        else c->widths[l] = (int)e->valuedouble;
    }
    cJSON_Delete(o);
    return rc;
}

const char *aspire_generator_default_model(const char *models_dir, char *buf, size_t n) {
    return aspire_model_path(models_dir, "generator.safetensors", buf, n);
}

int aspire_generator_save(const aspire_generator *g, const char *path, const char *recipe) {
    char *vocab = aspire_vocab_serialize(g->vocab);
    char *config = aspire_generator_config_json(&g->cfg);
    int rc = ASPIRE_ERR_NOMEM;
    if (vocab && config) {
        const char *meta[] = {"format", FORMAT, "vocab", vocab, "config", config, "recipe", recipe ? recipe : ""};
        rc = aspire_params_save(g->params, path, meta, 4);
    }
    aspire_strfree(vocab);
    aspire_strfree(config);
    return rc;
}

/* Reads the vocabulary and config of an open model file. */
static int load_header(const aspire_safetensors *st, const char *path, aspire_vocab **vocab,
                       aspire_generator_config *cfg) {
    const char *format = aspire_safetensors_meta(st, "format");
    const char *vs = aspire_safetensors_meta(st, "vocab"), *cs = aspire_safetensors_meta(st, "config");
    if (!format || strcmp(format, FORMAT) != 0)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: not a generator file (metadata \"format\" is '%s')", path,
                            format ? format : "missing");
    if (!vs || !cs)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"%s\" is missing", path, !vs ? "vocab" : "config");
    int rc = aspire_vocab_parse(vocab, vs);
    if (rc) return aspire_error_prefix(rc, "%s: metadata \"vocab\"", path);
    rc = parse_config(cs, cfg, path);
    if (!rc && cfg->vocab_size != aspire_vocab_size(*vocab))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: config says %d words, the vocabulary has %d", path, cfg->vocab_size,
                          aspire_vocab_size(*vocab));
    return rc;
}

int aspire_generator_load(aspire_generator **out, const char *path, char **recipe) {
    *out = NULL;
    if (recipe) *recipe = NULL;
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, path);
    if (rc) return rc;
    aspire_vocab *vocab = NULL;
    aspire_generator *g = NULL;
    aspire_generator_config cfg;
    rc = load_header(st, path, &vocab, &cfg);
    if (!rc) {
        rc = aspire_generator_new(&g, &cfg, vocab, 0);
        if (rc == ASPIRE_ERR_ARG) rc = aspire_error_prefix(ASPIRE_ERR_FORMAT, "%s: metadata \"config\"", path);
    }
    if (!rc) rc = aspire_params_read_all(g->params, st, path, "generator");
    if (!rc && recipe) {
        const char *r = aspire_safetensors_meta(st, "recipe");
        if (!(*recipe = aspire_strdup(r ? r : ""))) rc = ASPIRE_ERR_NOMEM;
    }
    aspire_vocab_free(vocab);
    aspire_safetensors_free(st);
    if (rc) { aspire_generator_free(g); return rc; }
    *out = g;
    return ASPIRE_OK;
}
