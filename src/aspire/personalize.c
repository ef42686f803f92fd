/* personalize.c — textual inversion on the built-in generator (ASPIRE step 8): one placeholder per
 * class of an extra-images folder, learned from "a photo of a {}"-style prompts over that class's
 * images while every other weight stays frozen (checked by checksums before and after). */
#include "aspire/personalize.h"

#include "aspire/dataset.h"
#include "aspire/optim.h"
#include "aspire/progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_CLASSES 16

/* The reference's templates, kept to words the corpus vocabulary knows. */
static const char *const templates[] = {
    "a photo of a {}", "a picture of a {}", "a close up of a {}", "there is a {}", "a photo of the {}",
};
#define NTEMPLATES ((int)(sizeof templates / sizeof templates[0]))

void aspire_personalize_opts_default(aspire_personalize_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 300;
    o->batch = 16;
    o->lr = 0.02f;
    o->t_min = 0.5f;
    o->t_max = 1.0f;
    o->flip = 1;
    o->progress = 1;
}

/* FNV-1a over every frozen value: the model's parameters and the placeholders other than `skip`. */
static uint64_t frozen_checksum(aspire_generator *g, int skip) {
    uint64_t h = 1469598103934665603ULL;
    aspire_params *sets[2] = {aspire_generator_params(g), aspire_generator_placeholders(g)};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < aspire_params_count(sets[s]); i++) {
            if (s == 1 && i == skip) continue;
            const aspire_tensor *t = aspire_params_at(sets[s], i);
            const unsigned char *b = (const unsigned char *)t->data;
            for (size_t k = 0; k < sizeof(float) * (size_t)t->numel; k++) h = (h ^ b[k]) * 1099511628211ULL;
        }
    return h;
}

/* Marks every parameter but placeholder k as not needing a gradient (frozen = 1), or restores. */
static void freeze(aspire_generator *g, int k, int frozen) {
    aspire_params *p = aspire_generator_params(g), *e = aspire_generator_placeholders(g);
    for (int i = 0; i < aspire_params_count(p); i++) aspire_params_at(p, i)->requires_grad = (uint8_t)!frozen;
    for (int i = 0; i < aspire_params_count(e); i++) aspire_params_at(e, i)->requires_grad = (uint8_t)(!frozen || i == k);
}

/* Class names: from o->classes (comma-separated) or "class<k>". */
static int class_names(const aspire_personalize_opts *o, int K, char names[][ASPIRE_GENERATOR_MAX_TOKEN + 1]) {
    const char *s = o->classes;
    for (int k = 0; k < K; k++) {
        if (!s) { snprintf(names[k], sizeof names[0], "class%d", k); continue; }
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len == 0 || len > ASPIRE_GENERATOR_MAX_TOKEN - 2)
            return aspire_error(ASPIRE_ERR_ARG, "--classes: name %d is empty or longer than %d bytes", k,
                                ASPIRE_GENERATOR_MAX_TOKEN - 2);
        snprintf(names[k], sizeof names[0], "%.*s", (int)len, s);
        s = comma ? comma + 1 : NULL;
        if (k + 1 < K && !s) return aspire_error(ASPIRE_ERR_ARG, "--classes names %d classes, the images have %d", k + 1, K);
    }
    if (s) return aspire_error(ASPIRE_ERR_ARG, "--classes names more classes than the images have (%d)", K);
    return ASPIRE_OK;
}

typedef struct ti_class {
    int k, id;               /* placeholder index and token id */
    int cls;                 /* the class (y) it learns, the report's index */
    const char *token;
    float *x;                /* (n, 2, S, S, 3): each image as is and flipped */
    int n;
} ti_class;

/* One optimizer step of class c; returns the loss through *loss. */
static int ti_step(aspire_ctx *ctx, aspire_generator *g, const ti_class *c, const aspire_personalize_opts *o,
                   aspire_optim *opt, aspire_tensor *slot, aspire_rng *rng, float *loss) {
    const aspire_generator_config *cfg = aspire_generator_get_config(g);
    const int S = cfg->image_size, B = o->batch, L = cfg->max_len;
    const size_t per = (size_t)S * S * 3;
    aspire_ctx_reset(ctx);
    aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){B, S, S, 3});
    int32_t *ids = aspire_ctx_alloc(ctx, sizeof(int32_t) * (size_t)B * L);
    if (!x || !ids) return ASPIRE_ERR_NOMEM;
    for (int b = 0; b < B; b++) {
        int i = (int)aspire_rng_below(rng, c->n), flip = o->flip ? (int)aspire_rng_below(rng, 2) : 0;
        memcpy(x->data + b * per, c->x + ((size_t)i * 2 + flip) * per, sizeof(float) * per);
        char prompt[256];
        const char *tp = templates[aspire_rng_below(rng, NTEMPLATES)], *br = strstr(tp, "{}");
        snprintf(prompt, sizeof prompt, "%.*s%s%s", (int)(br - tp), tp, c->token, br + 2);
        int rc = aspire_generator_encode(g, prompt, ids + (size_t)b * L);
        if (rc) return rc;
    }
    const int T = cfg->timesteps;
    const int lo = (int)((double)o->t_min * T), hi = (int)((double)o->t_max * T);
    aspire_tensor *l = aspire_generator_loss_range(ctx, g, x, ids, rng, lo, hi > lo ? hi : lo + 1);
    if (!l) return ASPIRE_ERR_BACKEND;
    aspire_tensor *row = aspire_params_at(aspire_generator_placeholders(g), c->k);
    aspire_params_zero_grad(aspire_generator_placeholders(g));
    int rc = aspire_backward(ctx, l);
    if (rc) return rc;
    /* the optimizer owns a copy of the row alone, so that no other placeholder moves */
    memcpy(slot->grad, row->grad, sizeof(float) * (size_t)row->numel);
    slot->grad_valid = row->grad_valid;
    aspire_optim_step(opt);
    memcpy(row->data, slot->data, sizeof(float) * (size_t)row->numel);
    *loss = l->data[0];
    return isfinite(*loss) ? ASPIRE_OK : aspire_error(ASPIRE_ERR_ARG, "textual inversion of %s diverged", c->token);
}

/* Trains placeholder c->k; fills the report's loss figures for it. */
static int ti_train(aspire_ctx *ctx, aspire_generator *g, const ti_class *c, const aspire_personalize_opts *o,
                    aspire_personalize_report *r) {
    aspire_params *one = aspire_params_new();
    aspire_tensor *slot = one ? aspire_params_add(one, "token", 1, (int64_t[]){aspire_generator_get_config(g)->d_text}, 1)
                              : NULL;
    aspire_optim *opt = NULL;
    aspire_adamw_options ao = aspire_adamw_defaults(o->lr);
    ao.weight_decay = 0.0f;
    int rc = slot ? aspire_optim_new_adamw(&opt, one, &ao) : ASPIRE_ERR_NOMEM;
    if (!rc) memcpy(slot->data, aspire_params_at(aspire_generator_placeholders(g), c->k)->data,
                    sizeof(float) * (size_t)slot->numel);
    aspire_rng rng;
    aspire_rng_seed(&rng, o->seed ^ (0x7e47ULL + (uint64_t)c->k * 0x9e3779b97f4a7c15ULL));
    aspire_progress pg;
    char label[96];
    snprintf(label, sizeof label, "personalize %s", c->token);
    aspire_progress_init(&pg, label, o->steps, "step");
    if (!o->progress) pg.quiet = 1;
    const uint64_t before = frozen_checksum(g, c->k);
    const int tenth = o->steps >= 10 ? o->steps / 10 : 1;
    double first = 0.0, last = 0.0, t0 = aspire_now();
    freeze(g, c->k, 1);
    for (int s = 0; !rc && s < o->steps; s++) {
        float loss = 0.0f;
        rc = ti_step(ctx, g, c, o, opt, slot, &rng, &loss);
        if (s < tenth) first += loss / tenth;
        if (s >= o->steps - tenth) last += loss / tenth;
        aspire_progress_update(&pg, s + 1, "loss %.4f", (double)loss);
    }
    freeze(g, c->k, 0);
    aspire_progress_finish(&pg, "first %.4f last %.4f", first, last);
    if (!rc && frozen_checksum(g, c->k) != before)
        rc = aspire_error(ASPIRE_ERR_ARG, "textual inversion of %s changed a frozen parameter", c->token);
    if (r) {
        r->first_loss[c->cls] = (float)first;
        r->last_loss[c->cls] = (float)last;
        r->seconds[c->cls] = aspire_now() - t0;
    }
    aspire_optim_free(opt);
    aspire_params_free(one);
    return rc;
}

/* The images of class k as model inputs, each as is and flipped. */
static int class_images(const aspire_dataset *ds, const aspire_generator *g, int k, ti_class *c) {
    const int S = aspire_generator_get_config(g)->image_size, size = aspire_dataset_size(ds);
    const size_t per = (size_t)S * S * 3;
    int64_t n = 0, N = aspire_dataset_count(ds);
    for (int64_t i = 0; i < N; i++) n += aspire_dataset_label(ds, i) == k;
    c->n = (int)n;
    if (n == 0) return ASPIRE_OK;
    if (!(c->x = aspire_malloc(sizeof(float) * per * 2 * (size_t)n))) return ASPIRE_ERR_NOMEM;
    int j = 0, rc = ASPIRE_OK;
    for (int64_t i = 0; i < N && !rc; i++) {
        if (aspire_dataset_label(ds, i) != k) continue;
        aspire_image img = {.w = size, .h = size, .c = 3, .data = (uint8_t *)aspire_dataset_pixels(ds, i)};
        rc = aspire_generator_pixels(g, &img, 0, c->x + (size_t)j * 2 * per);
        if (!rc) rc = aspire_generator_pixels(g, &img, 1, c->x + ((size_t)j * 2 + 1) * per);
        j++;
    }
    return rc;
}

/* Adds the placeholder of class k named `name`, initialised from o->init, the name or "bird". */
static int add_class_token(aspire_generator *g, const aspire_personalize_opts *o, const char *name, int *id,
                           char *init_used) {
    char token[ASPIRE_GENERATOR_MAX_TOKEN + 1];
    snprintf(token, sizeof token, "<%s>", name);
    const char *init = o->init;
    if (!init) init = aspire_vocab_id(aspire_generator_vocab(g), name) >= ASPIRE_TOK_SPECIALS ? name : "bird";
    snprintf(init_used, ASPIRE_VOCAB_MAX_WORD + 1, "%s", init);
    return aspire_generator_add_token(g, token, init, id);
}

static int run_classes(aspire_generator *g, const aspire_dataset *ds, const aspire_personalize_opts *o, int K,
                       aspire_personalize_report *r, int *labels, int *ntok) {
    char names[MAX_CLASSES][ASPIRE_GENERATOR_MAX_TOKEN + 1];
    int rc = class_names(o, K, names);
    aspire_ctx *ctx = NULL;
    if (!rc) rc = aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = o->threads, .seed = o->seed});
    if (r) r->nclasses = K;
    *ntok = 0;
    for (int k = 0; k < K && !rc; k++) {
        ti_class c = {.k = *ntok};
        rc = class_images(ds, g, k, &c);
        if (!rc && c.n == 0) {   /* a class without images (detect selected none of it) gets no token */
            if (o->progress) fprintf(stderr, "personalize: %s/metadata.csv has no image of class %d: no token for it\n",
                                     o->images, k);
            continue;
        }
        char init[ASPIRE_VOCAB_MAX_WORD + 1];
        if (!rc) rc = add_class_token(g, o, names[k], &c.id, init);
        c.token = !rc ? aspire_generator_token_name(g, c.k) : NULL;
        if (!rc && r) {
            snprintf(r->token[k], sizeof r->token[0], "%s", c.token);
            snprintf(r->init[k], sizeof r->init[0], "%s", init);
            r->images[k] = c.n;
        }
        c.cls = k;
        if (!rc) rc = ti_train(ctx, g, &c, o, r);
        if (!rc) labels[(*ntok)++] = k;
        aspire_free(c.x, 0);
    }
    aspire_ctx_free(ctx);
    if (!rc && *ntok == 0) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s/metadata.csv: no image in any class", o->images);
    return rc;
}

static int personalize(const aspire_personalize_opts *o, aspire_personalize_report *report) {
    if (report) memset(report, 0, sizeof *report);
    if (!o->images || !o->out) return aspire_error(ASPIRE_ERR_ARG, "personalize: --images and --out are required");
    if (o->steps < 1 || o->batch < 1 || !(o->lr > 0.0f))
        return aspire_error(ASPIRE_ERR_ARG, "personalize: steps, batch and lr must be positive");
    if (!(o->t_min >= 0.0f && o->t_min < 1.0f))
        return aspire_error(ASPIRE_ERR_ARG, "personalize: --t-min %g is outside [0, 1)", (double)o->t_min);
    if (!(o->t_max > o->t_min && o->t_max <= 1.0f))
        return aspire_error(ASPIRE_ERR_ARG, "personalize: --t-max %g is outside (--t-min %g, 1]", (double)o->t_max,
                            (double)o->t_min);
    aspire_dataset *ds = NULL;
    aspire_dataset_options dopt = {.split = ASPIRE_SPLIT_ALL, .layout = ASPIRE_LAYOUT_EXTRA};
    int rc = aspire_dataset_load(&ds, o->images, &dopt);
    if (rc) return rc;
    const int K = aspire_dataset_n_classes(ds);
    aspire_generator *g = NULL;
    if (K < 1 || K > MAX_CLASSES)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s/metadata.csv: %d classes (y), personalize takes 1 to %d", o->images, K,
                          MAX_CLASSES);
    char model[4096];
    if (!o->model) aspire_generator_default_model(o->models_dir, model, sizeof model);
    if (!rc) rc = aspire_generator_load(&g, o->model ? o->model : model, NULL);
    int labels[MAX_CLASSES], ntok = 0;
    if (!rc) rc = run_classes(g, ds, o, K, report, labels, &ntok);
    if (!rc) rc = aspire_generator_embeds_save_labeled(g, o->out, labels);
    aspire_generator_free(g);
    aspire_dataset_free(ds);
    return rc;
}

/* The whole run with the calling thread's team set to o->threads (restored afterwards). */
int aspire_personalize_run(const aspire_personalize_opts *o, aspire_personalize_report *report) {
    int prev = aspire_threads_enter(o->threads);
    int rc = personalize(o, report);
    aspire_threads_leave(prev);
    return rc;
}
