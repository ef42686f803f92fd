/* captioner_train.c — the captioner's corpus (the world's scenes.jsonl and images, in memory) and
 * its pretraining loop: vocabulary from the captions, teacher-forced cross-entropy, AdamW with
 * warm-up and cosine decay, gradient-norm clipping. */
#include "aspire/captioner.h"

#include "aspire/fileio.h"
#include "aspire/jsonl.h"
#include "aspire/optim.h"
#include "aspire/progress.h"
#include "models/captioner_internal.h"
#include "models/corpus_scan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- corpus --------------------------------------------------------------------------------------- */
static void free_facts(aspire_caption_facts *f) {
    aspire_strfree((char *)f->species);
    aspire_strfree((char *)f->background);
    for (int k = 0; k < f->nobjects; k++) aspire_strfree((char *)f->objects[k]);
    memset(f, 0, sizeof *f);
}

void aspire_caption_corpus_destroy(aspire_caption_corpus *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        for (int j = 0; j < c->ncap; j++) aspire_strfree(c->captions[(size_t)i * c->ncap + j]);
        aspire_strfree(c->paths[i]);
        free_facts(&c->facts[i]);
    }
    aspire_free(c->pixels, 0);
    aspire_free(c->captions, 0);
    aspire_free(c->paths, 0);
    aspire_free(c->facts, 0);
    memset(c, 0, sizeof *c);
}

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Grows the per-image arrays to hold `cap` images. */
static int corpus_reserve(aspire_caption_corpus *c, int *cap, int want) {
    if (want <= *cap) return ASPIRE_OK;
    int nc = *cap ? *cap * 2 : 1024;
    while (nc < want) nc *= 2;
    size_t px = (size_t)c->size * c->size * 3;
    uint8_t *pixels = aspire_realloc(c->pixels, 0, px * (size_t)nc);
    if (!pixels) return ASPIRE_ERR_NOMEM;
    c->pixels = pixels;
    char **caps = aspire_realloc(c->captions, 0, sizeof(char *) * (size_t)nc * c->ncap);
    if (!caps) return ASPIRE_ERR_NOMEM;
    c->captions = caps;
    char **paths = aspire_realloc(c->paths, 0, sizeof(char *) * (size_t)nc);
    if (!paths) return ASPIRE_ERR_NOMEM;
    c->paths = paths;
    aspire_caption_facts *facts = aspire_realloc(c->facts, 0, sizeof(aspire_caption_facts) * (size_t)nc);
    if (!facts) return ASPIRE_ERR_NOMEM;
    c->facts = facts;
    *cap = nc;
    return ASPIRE_OK;
}

/* Reads one scenes.jsonl object into image slot c->n (not yet counted). */
static int corpus_add(aspire_caption_corpus *c, const char *dir, const cJSON *o, const char *where) {
    const int i = c->n;
    char **caps = c->captions + (size_t)i * c->ncap;
    for (int j = 0; j < c->ncap; j++) caps[j] = NULL;
    c->paths[i] = NULL;
    memset(&c->facts[i], 0, sizeof c->facts[i]);
    c->n++;  /* counted now, so that destroy frees whatever was filled in */

    const char *fname = json_str(o, "img_filename"), *bg = json_str(o, "background");
    const cJSON *capv = cJSON_GetObjectItemCaseSensitive(o, "captions");
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(o, "objects");
    if (!fname) return aspire_error(ASPIRE_ERR_FORMAT, "%s: no \"img_filename\"", where);
    if (!bg) return aspire_error(ASPIRE_ERR_FORMAT, "%s: no \"background\"", where);
    if (!cJSON_IsArray(capv) || cJSON_GetArraySize(capv) < 1)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: \"captions\" is not a list of captions", where);
    if (!cJSON_IsArray(objs)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: \"objects\" is not a list", where);
    int j = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, capv) {
        if (!cJSON_IsString(e)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: captions[%d] is not a string", where, j);
        if (j >= c->ncap) break;
        if (!(caps[j++] = aspire_strdup(e->valuestring))) return ASPIRE_ERR_NOMEM;
    }
    aspire_caption_facts *f = &c->facts[i];
    if (!(c->paths[i] = aspire_strdup(fname)) || !(f->background = aspire_strdup(bg))) return ASPIRE_ERR_NOMEM;
    int k = 0;
    cJSON_ArrayForEach(e, objs) {
        const char *name = json_str(e, "name"), *role = json_str(e, "role");
        if (!name || !role) return aspire_error(ASPIRE_ERR_FORMAT, "%s: objects[%d] lacks \"name\" or \"role\"", where, k);
        k++;
        if (strcmp(role, "bird") == 0) {
            if (!f->species && !(f->species = aspire_strdup(name))) return ASPIRE_ERR_NOMEM;
        } else if (f->nobjects < ASPIRE_CAPEVAL_MAX_OBJECTS) {
            if (!(f->objects[f->nobjects++] = aspire_strdup(name))) return ASPIRE_ERR_NOMEM;
        }
    }
    /* the image */
    char *path = aspire_path_join(dir, fname);
    if (!path) return ASPIRE_ERR_NOMEM;
    aspire_image img = {0}, rs = {0};
    int rc = aspire_image_load(&img, path, 3);
    if (!rc && (img.w != c->size || img.h != c->size)) {
        rc = aspire_image_resize(&rs, &img, c->size, c->size, ASPIRE_RESIZE_AREA);
        if (!rc) { aspire_image_destroy(&img); img = rs; }
    }
    if (!rc) memcpy(c->pixels + (size_t)i * c->size * c->size * 3, img.data, (size_t)c->size * c->size * 3);
    aspire_image_destroy(&img);
    aspire_strfree(path);
    if (rc) return aspire_error_prefix(rc, "%s", where);
    return ASPIRE_OK;
}

static int cap_count_row(void *ud, const cJSON *o, const char *where) {
    aspire_caption_corpus *c = ud;
    const cJSON *capv = cJSON_GetObjectItemCaseSensitive(o, "captions");
    if (cJSON_IsArray(capv) && cJSON_GetArraySize(capv) > c->ncap) c->ncap = cJSON_GetArraySize(capv);
    return ASPIRE_OK;
}

typedef struct cap_scan { aspire_caption_corpus *c; const char *dir; int cap, limit; } cap_scan;

static int cap_add_row(void *ud, const cJSON *o, const char *where) {
    cap_scan *sc = ud;
    if (sc->limit > 0 && sc->c->n >= sc->limit) return CORPUS_SCAN_STOP;
    int rc = corpus_reserve(sc->c, &sc->cap, sc->c->n + 1);
    return rc ? rc : corpus_add(sc->c, sc->dir, o, where);
}

int aspire_caption_corpus_load(aspire_caption_corpus *c, const char *dir, int split, int limit, int size) {
    memset(c, 0, sizeof *c);
    ASPIRE_ASSERT(size >= 1 && size <= 4096);
    c->size = size;
    c->ncap = 0;
    char *path = aspire_path_join(dir, "scenes.jsonl");
    if (!path) return ASPIRE_ERR_NOMEM;
    /* first pass: the most captions any image has */
    int rc = corpus_scan(path, -1, cap_count_row, c);
    if (!rc && c->ncap > 64) c->ncap = 64;
    if (!rc && c->ncap == 0) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: no line has \"captions\"", path);
    cap_scan sc = {c, dir, 0, limit};
    if (!rc) rc = corpus_scan(path, split, cap_add_row, &sc);
    if (!rc && c->n == 0) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: no image of split %d", path, split);
    aspire_strfree(path);
    if (rc) aspire_caption_corpus_destroy(c);
    return rc;
}

/* ---- auxiliary scene tags ------------------------------------------------------------------------------
 * During pretraining the encoder also learns to tag each image with its scene graph's facts — the
 * bird species (or none), the background, and which context objects are present — from a global
 * max pool of its last conv map, as GIT's image encoder comes pretrained. The heads are dropped
 * afterwards: the model file holds only the captioner. */
typedef struct name_set {
    const char *names[64];  /* distinct names, in order of first appearance (point into the corpus) */
    int n;
} name_set;

static int name_index(name_set *s, const char *name, int add) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0) return i;
    if (!add || s->n == 64) return -1;
    s->names[s->n] = name;
    return s->n++;
}

typedef struct aux_tags {
    name_set species, bg, obj;
    int32_t *y_species;   /* (n) index, or species.n for "no bird" */
    int32_t *y_bg;        /* (n) */
    uint8_t *y_obj;       /* (n, obj.n) presence */
    aspire_params *params;
    aspire_tensor *w_species, *b_species, *w_bg, *b_bg, *w_obj, *b_obj;
} aux_tags;

static void aux_destroy(aux_tags *a) {
    aspire_free(a->y_species, 0);
    aspire_free(a->y_bg, 0);
    aspire_free(a->y_obj, 0);
    aspire_params_free(a->params);
    memset(a, 0, sizeof *a);
}

static int aux_init(aux_tags *a, const aspire_caption_corpus *c, int channels, uint64_t seed) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < c->n; i++) {
        const aspire_caption_facts *f = &c->facts[i];
        if (f->species) name_index(&a->species, f->species, 1);
        if (f->background) name_index(&a->bg, f->background, 1);
        for (int k = 0; k < f->nobjects; k++) name_index(&a->obj, f->objects[k], 1);
    }
    a->y_species = aspire_malloc(sizeof(int32_t) * (size_t)c->n);
    a->y_bg = aspire_malloc(sizeof(int32_t) * (size_t)c->n);
    a->y_obj = aspire_calloc((size_t)c->n * (size_t)(a->obj.n ? a->obj.n : 1), 1);
    a->params = aspire_params_new();
    if (!a->y_species || !a->y_bg || !a->y_obj || !a->params) return ASPIRE_ERR_NOMEM;
    for (int i = 0; i < c->n; i++) {
        const aspire_caption_facts *f = &c->facts[i];
        int sp = f->species ? name_index(&a->species, f->species, 0) : -1;
        a->y_species[i] = sp >= 0 ? sp : a->species.n;
        int bg = f->background ? name_index(&a->bg, f->background, 0) : -1;
        a->y_bg[i] = bg >= 0 ? bg : 0;
        for (int k = 0; k < f->nobjects; k++) {
            int o = name_index(&a->obj, f->objects[k], 0);
            if (o >= 0) a->y_obj[(size_t)i * a->obj.n + o] = 1;
        }
    }
    aspire_rng rng;
    aspire_rng_seed(&rng, seed ^ 0xa0c5ULL);
    const float std = 1.0f / sqrtf((float)channels);
    struct { aspire_tensor **w, **b; const char *name; int out; } heads[] = {
        {&a->w_species, &a->b_species, "aux.species", a->species.n + 1},
        {&a->w_bg, &a->b_bg, "aux.background", a->bg.n > 0 ? a->bg.n : 1},
        {&a->w_obj, &a->b_obj, "aux.objects", 2 * (a->obj.n > 0 ? a->obj.n : 1)},
    };
    for (int h = 0; h < 3; h++) {
        char name[64];
        snprintf(name, sizeof name, "%s.weight", heads[h].name);
        *heads[h].w = aspire_params_add(a->params, name, 2, (int64_t[]){heads[h].out, channels}, 1);
        snprintf(name, sizeof name, "%s.bias", heads[h].name);
        *heads[h].b = aspire_params_add(a->params, name, 1, (int64_t[]){heads[h].out}, 1);
        if (!*heads[h].w || !*heads[h].b) return ASPIRE_ERR_NOMEM;
        aspire_init_normal(*heads[h].w, 0.0f, std, &rng);
    }
    return ASPIRE_OK;
}

/* The tagging loss of a batch: conv (B, g, g, C) of images idx[0..B) -> species CE + background CE
 * + the per-image sum of the objects' two-way CEs, shape (1). */
static aspire_tensor *aux_loss(aspire_ctx *ctx, const aux_tags *a, aspire_tensor *conv, const int64_t *idx, int B) {
    if (!conv) return NULL;
    const int g = (int)conv->shape[1], C = (int)conv->shape[3], K = a->obj.n > 0 ? a->obj.n : 1;
    int32_t *ys = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B);
    int32_t *yb = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B);
    int32_t *yo = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B * K);
    if (!ys || !yb || !yo) return NULL;
    for (int b = 0; b < B; b++) {
        ys[b] = a->y_species[idx[b]];
        yb[b] = a->y_bg[idx[b]];
        for (int k = 0; k < K; k++) yo[b * K + k] = a->obj.n ? a->y_obj[(size_t)idx[b] * a->obj.n + k] : 0;
    }
    aspire_tensor *f = aspire_maxpool2d(ctx, conv, g, g, 0);
    f = aspire_reshape(ctx, f, 2, (int64_t[]){B, C});
    aspire_tensor *ls = aspire_cross_entropy(ctx, aspire_linear(ctx, f, a->w_species, a->b_species), ys, NULL,
                                             ASPIRE_REDUCE_MEAN);
    aspire_tensor *lb = aspire_cross_entropy(ctx, aspire_linear(ctx, f, a->w_bg, a->b_bg), yb, NULL, ASPIRE_REDUCE_MEAN);
    aspire_tensor *lo = aspire_reshape(ctx, aspire_linear(ctx, f, a->w_obj, a->b_obj), 2, (int64_t[]){(int64_t)B * K, 2});
    lo = aspire_scale(ctx, aspire_cross_entropy(ctx, lo, yo, NULL, ASPIRE_REDUCE_SUM), 1.0f / (float)B, 0.0f);
    return aspire_add(ctx, aspire_add(ctx, ls, lb), lo);
}

/* ---- training --------------------------------------------------------------------------------------- */
void aspire_captioner_train_opts_default(aspire_captioner_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->cfg = aspire_captioner_default_config();
    o->steps = 6000;
    o->batch = 64;
    o->lr = 2e-3f;
    o->min_lr = 2e-5f;
    o->weight_decay = 0.01f;
    o->warmup = 300;
    o->clip = 1.0f;
    o->min_count = 2;
    o->flip = 1;
    o->aux = 1.0f;
    o->max_minutes = 0.0;
    o->seed = 0;
    o->progress = 1;
}

/* The state of a captioner's pretraining. */
typedef struct cap_train {
    const aspire_caption_corpus *corpus;
    const aspire_captioner_train_opts *o;
    aspire_vocab *vocab;
    aspire_captioner *cap;
    aspire_ctx *ctx;
    aspire_optim *opt, *aux_opt;
    aux_tags aux;
    int32_t *tokens, *lens;   /* (B, L), (B) */
    int64_t *order, *idx;     /* (n) the epoch's order, (B) the batch's images */
    int64_t cursor;
    aspire_rng rng;
    float lut[256];           /* the pixel normaliser's table */
} cap_train;

/* The vocabulary of every reference caption. */
static int build_vocab(cap_train *tr) {
    const aspire_caption_corpus *corpus = tr->corpus;
    int64_t ncaps_total = (int64_t)corpus->n * corpus->ncap;
    const char **all = aspire_malloc(sizeof(char *) * (size_t)(ncaps_total ? ncaps_total : 1));
    if (!all) return ASPIRE_ERR_NOMEM;
    int nall = 0;
    for (int64_t i = 0; i < ncaps_total; i++)
        if (corpus->captions[i]) all[nall++] = corpus->captions[i];
    int rc = aspire_vocab_build(&tr->vocab, all, nall, tr->o->min_count, 0);
    aspire_free(all, 0);
    return rc;
}

/* Model, context, optimisers, the scene-tag head, buffers, and the first order of images. */
static int train_setup(cap_train *tr) {
    const aspire_captioner_train_opts *o = tr->o;
    const aspire_captioner_config *cfg = &o->cfg;
    const int B = o->batch, L = cfg->max_len;
    int rc = aspire_captioner_new(&tr->cap, cfg, tr->vocab, o->seed);
    if (!rc) rc = aspire_ctx_new(&tr->ctx, &(aspire_ctx_options){.threads = 0, .seed = o->seed ^ 0x5eedULL});
    aspire_adamw_options ao = aspire_adamw_defaults(o->lr);
    ao.weight_decay = o->weight_decay;
    if (!rc) rc = aspire_optim_new_adamw(&tr->opt, aspire_captioner_params(tr->cap), &ao);
    if (!rc && o->aux > 0) {
        rc = aux_init(&tr->aux, tr->corpus, cfg->widths[cfg->nstages - 1], o->seed);
        if (!rc) rc = aspire_optim_new_adamw(&tr->aux_opt, tr->aux.params, &ao);
    }
    tr->idx = aspire_malloc(sizeof(int64_t) * (size_t)B);
    tr->tokens = aspire_malloc(sizeof(int32_t) * (size_t)B * L);
    tr->lens = aspire_malloc(sizeof(int32_t) * (size_t)B);
    tr->order = aspire_malloc(sizeof(int64_t) * (size_t)tr->corpus->n);
    if (!rc && (!tr->tokens || !tr->lens || !tr->order || !tr->idx)) rc = ASPIRE_ERR_NOMEM;
    if (rc) return rc;
    aspire_rng_seed(&tr->rng, o->seed ^ 0xda7aULL);
    for (int64_t i = 0; i < tr->corpus->n; i++) tr->order[i] = i;
    aspire_rng_shuffle(&tr->rng, tr->order, tr->corpus->n);
    aspire_pixel_lut(tr->lut, 0.5f, 0.25f);
    return ASPIRE_OK;
}

static void train_destroy(cap_train *tr) {
    aspire_free(tr->tokens, 0);
    aspire_free(tr->lens, 0);
    aspire_free(tr->order, 0);
    aspire_free(tr->idx, 0);
    aspire_optim_free(tr->opt);
    aspire_optim_free(tr->aux_opt);
    aux_destroy(&tr->aux);
    aspire_ctx_free(tr->ctx);
    aspire_vocab_free(tr->vocab);
}

/* The next batch: images (flipped at random) into x, one reference caption each into tokens,
 * packed to the longest; returns that length T. */
static int fill_batch(cap_train *tr, aspire_tensor *x) {
    const aspire_caption_corpus *corpus = tr->corpus;
    const int S = tr->o->cfg.image_size, B = tr->o->batch, L = tr->o->cfg.max_len;
    const size_t img_px = (size_t)S * S * 3;
    int T = 2;
    for (int b = 0; b < B; b++) {
        if (tr->cursor == corpus->n) { aspire_rng_shuffle(&tr->rng, tr->order, corpus->n); tr->cursor = 0; }
        int64_t i = tr->order[tr->cursor++];
        tr->idx[b] = i;
        /* one of the image's reference captions */
        int nc = 0;
        while (nc < corpus->ncap && corpus->captions[i * corpus->ncap + nc]) nc++;
        const char *text = corpus->captions[i * corpus->ncap + aspire_rng_below(&tr->rng, nc)];
        tr->lens[b] = aspire_vocab_encode(aspire_captioner_vocab(tr->cap), text, tr->tokens + (size_t)b * L, L);
        if (tr->lens[b] > T) T = tr->lens[b];
        const uint8_t *px = corpus->pixels + (size_t)i * img_px;
        float *dst = x->data + (size_t)b * img_px;
        int flip = tr->o->flip && aspire_rng_below(&tr->rng, 2);
        for (int yy = 0; yy < S; yy++)
            for (int xx = 0; xx < S; xx++) {
                const uint8_t *p = px + ((size_t)yy * S + (flip ? S - 1 - xx : xx)) * 3;
                float *q = dst + ((size_t)yy * S + xx) * 3;
                for (int ch = 0; ch < 3; ch++) q[ch] = tr->lut[p[ch]];
            }
    }
    /* pack the batch's tokens to its longest caption */
    for (int b = 1; b < B; b++) memmove(tr->tokens + (size_t)b * T, tr->tokens + (size_t)b * L, sizeof(int32_t) * (size_t)T);
    return T;
}

/* One optimisation step at rate lr: the caption loss (and the scene-tag loss), backward,
 * clipping, updates. *loss_v, *tag_v: the losses; *gnorm: the gradient norm before clipping. */
static int train_step(cap_train *tr, float lr, float *loss_v, double *tag_v, double *gnorm) {
    const aspire_captioner_train_opts *o = tr->o;
    const int S = o->cfg.image_size, B = o->batch;
    aspire_ctx_reset(tr->ctx);
    aspire_tensor *x = aspire_tensor_new(tr->ctx, 4, (int64_t[]){B, S, S, 3});
    if (!x) return ASPIRE_ERR_NOMEM;
    int T = fill_batch(tr, x);
    aspire_tensor *conv = NULL;
    aspire_tensor *loss = aspire_captioner_loss_conv(tr->ctx, tr->cap, x, tr->tokens, T, &conv);
    aspire_tensor *tag = NULL, *total = loss;
    if (tr->aux_opt) {
        tag = aux_loss(tr->ctx, &tr->aux, conv, tr->idx, B);
        total = aspire_add(tr->ctx, loss, aspire_scale(tr->ctx, tag, o->aux, 0.0f));
    }
    if (!total) return ASPIRE_ERR_BACKEND;
    aspire_params_zero_grad(aspire_captioner_params(tr->cap));
    if (tr->aux_opt) aspire_params_zero_grad(tr->aux.params);
    int rc = aspire_backward(tr->ctx, total);
    if (rc) return rc;
    *gnorm = aspire_clip_grad_norm(aspire_captioner_params(tr->cap), o->clip);
    aspire_optim_set_lr(tr->opt, lr);
    aspire_optim_step(tr->opt);
    if (tr->aux_opt) {
        aspire_clip_grad_norm(tr->aux.params, o->clip);
        aspire_optim_set_lr(tr->aux_opt, lr);
        aspire_optim_step(tr->aux_opt);
    }
    *loss_v = loss->data[0];
    *tag_v = tag ? tag->data[0] : 0.0;
    return ASPIRE_OK;
}

/* The recipe text saved with the model. */
static char *recipe_text(const cap_train *tr, int step, int stopped_early, double ema, double tag_ema, double t0) {
    const aspire_captioner_train_opts *o = tr->o;
    char buf[1024];
    snprintf(buf, sizeof buf,
             "aspire pretrain captioner: %d of %d steps%s, batch %d, AdamW lr %g (warm-up %d, cosine to %g), "
             "weight decay %g, clip %g, flips %d, scene-tag loss weight %g, seed %llu, %d images x %d captions, "
             "vocabulary %d words (min count %d), final caption loss %.4f, tag loss %.4f, %.1f min",
             step, o->steps, stopped_early ? " (stopped by the time limit)" : "", o->batch, (double)o->lr, o->warmup,
             (double)o->min_lr, (double)o->weight_decay, (double)o->clip, o->flip, (double)o->aux,
             (unsigned long long)o->seed, tr->corpus->n, tr->corpus->ncap, aspire_vocab_size(tr->vocab), o->min_count, ema,
             tag_ema, (aspire_now() - t0) / 60.0);
    return aspire_strdup(buf);
}

int aspire_captioner_train_check(const aspire_captioner_train_opts *o) {
    if (o->steps < 1 || o->batch < 1 || !(o->lr > 0 && isfinite(o->lr)) || o->warmup < 0)
        return aspire_error(ASPIRE_ERR_ARG, "captioner training: steps, batch and lr must be positive");
    if (!(o->min_lr >= 0 && isfinite(o->min_lr)) || !(o->weight_decay >= 0 && isfinite(o->weight_decay)) ||
        !(o->clip >= 0 && isfinite(o->clip)) || !(o->aux >= 0 && isfinite(o->aux)) || !(o->max_minutes >= 0))
        return aspire_error(ASPIRE_ERR_ARG, "captioner training: min_lr, weight decay, clip, aux and minutes must "
                                            "be finite and not negative");
    return aspire_captioner_config_check(&o->cfg);
}

int aspire_captioner_train(aspire_captioner **out, const aspire_caption_corpus *corpus,
                           const aspire_captioner_train_opts *o, char **recipe) {
    *out = NULL;
    if (recipe) *recipe = NULL;
    int check = aspire_captioner_train_check(o);
    if (check) return check;
    if (corpus->size != o->cfg.image_size)
        return aspire_error(ASPIRE_ERR_ARG, "captioner training: corpus images are %d px, the model takes %d",
                            corpus->size, o->cfg.image_size);
    cap_train tr = {0};
    tr.corpus = corpus;
    tr.o = o;
    int rc = build_vocab(&tr);
    if (!rc) rc = train_setup(&tr);
    aspire_schedule sched = {.kind = ASPIRE_SCHEDULE_COSINE, .lr = o->lr, .warmup_steps = o->warmup,
                             .total_steps = o->steps, .min_lr = o->min_lr};
    aspire_progress pg;
    aspire_progress_init(&pg, "pretrain captioner", o->steps, "step");
    if (!o->progress) pg.quiet = 1;
    double t0 = aspire_now(), ema = 0.0, tag_ema = 0.0;
    int step = 0, stopped_early = 0, started = rc == ASPIRE_OK;
    if (started) aspire_ctx_set_training(tr.ctx, 1);
    for (step = 0; !rc && step < o->steps; step++) {
        if (o->max_minutes > 0 && aspire_now() - t0 > o->max_minutes * 60.0) { stopped_early = 1; break; }
        float lv = 0;
        double tv = 0, gnorm = 0;
        if ((rc = train_step(&tr, aspire_schedule_lr(&sched, step), &lv, &tv, &gnorm))) break;
        tag_ema = step == 0 ? tv : 0.98 * tag_ema + 0.02 * tv;
        if (!isfinite(lv)) { rc = aspire_error(ASPIRE_ERR_ARG, "captioner training diverged at step %d (loss %g)", step, (double)lv); break; }
        ema = step == 0 ? lv : 0.98 * ema + 0.02 * lv;
        if (o->checkpoint && o->checkpoint_every > 0 && (step + 1) % o->checkpoint_every == 0 && step + 1 < o->steps) {
            char note[96];
            snprintf(note, sizeof note, "checkpoint after %d of %d steps", step + 1, o->steps);
            if ((rc = aspire_captioner_save(tr.cap, o->checkpoint, note))) break;
        }
        aspire_progress_update(&pg, step + 1, "loss %.3f  tags %.3f  lr %.2e  |g| %.2f  %.0f img/s", ema, tag_ema,
                               (double)aspire_optim_lr(tr.opt), gnorm, (double)(step + 1) * o->batch / (aspire_now() - t0));
    }
    if (started) aspire_progress_finish(&pg, "loss %.3f", ema);
    if (!rc && recipe && !(*recipe = recipe_text(&tr, step, stopped_early, ema, tag_ema, t0))) rc = ASPIRE_ERR_NOMEM;
    train_destroy(&tr);
    if (rc) { aspire_captioner_free(tr.cap); return rc; }
    *out = tr.cap;
    return ASPIRE_OK;
}
