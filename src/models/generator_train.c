/* generator_train.c — pretraining of the generator on captioned images: vocabulary from the
 * captions, v-prediction MSE with captions dropped for classifier-free guidance, AdamW with warm-up
 * and cosine decay, an exponential moving average of the weights, and checkpoints (weights, EMA,
 * optimizer state, step) from which a run resumes exactly. */
#include "models/generator_internal.h"

#include "aspire/optim.h"
#include "aspire/progress.h"
#include "aspire/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void aspire_generator_train_opts_default(aspire_generator_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->cfg = aspire_generator_default_config();
    o->steps = 40000;
    o->batch = 32;
    o->lr = 1e-3f;
    o->min_lr = 1e-4f;
    o->warmup = 200;
    o->weight_decay = 0.01f;
    o->clip = 1.0f;
    o->drop_caption = 0.1f;
    o->ema = 0.999f;
    o->min_count = 2;
    o->progress = 1;
    o->checkpoint_every = 250;
}

typedef struct trainer {
    const aspire_generator_train_opts *o;
    aspire_generator *g, *ema;
    aspire_optim *opt;
    aspire_ctx *ctx;
    int32_t *ids;     /* (batch, max_len) */
    int step;         /* steps done */
    double prior_min; /* training minutes of the runs before this one (from the checkpoint; -1 unknown) */
    double t0;        /* when this run started */
} trainer;

static void trainer_destroy(trainer *t) {
    aspire_generator_free(t->g);
    aspire_generator_free(t->ema);
    aspire_optim_free(t->opt);
    aspire_ctx_free(t->ctx);
    aspire_free(t->ids, 0);
}

/* ---- checkpoints: CKPT (weights), CKPT.ema, CKPT.optim, each with the step in its metadata ---- */
static int save_set(const aspire_params *p, const aspire_generator *g, const char *path, int step, double minutes) {
    char *vocab = aspire_vocab_serialize(g->vocab);
    char *config = aspire_generator_config_json(&g->cfg);
    char st[32], mins[32];
    snprintf(st, sizeof st, "%d", step);
    snprintf(mins, sizeof mins, "%.3f", minutes);
    int rc = ASPIRE_ERR_NOMEM;
    if (vocab && config) {
        const char *meta[] = {"format", "aspire-generator-1", "vocab", vocab, "config", config, "step", st,
                              "recipe", "checkpoint", "minutes", mins};
        rc = aspire_params_save(p, path, meta, minutes >= 0 ? 6 : 5);
    }
    aspire_strfree(vocab);
    aspire_strfree(config);
    return rc;
}

/* Minutes of training so far, all runs (-1 when an earlier run did not record its time). */
static double total_minutes(const trainer *t) {
    return t->prior_min < 0 ? -1.0 : t->prior_min + (aspire_now() - t->t0) / 60.0;
}

static int save_checkpoint(const trainer *t) {
    const char *ck = t->o->checkpoint;
    char path[4096];
    const double m = total_minutes(t);
    snprintf(path, sizeof path, "%s.optim", ck);
    int rc = save_set(aspire_optim_state(t->opt), t->g, path, t->step, m);
    snprintf(path, sizeof path, "%s.ema", ck);
    if (!rc) rc = save_set(t->ema->params, t->g, path, t->step, m);
    if (!rc) rc = save_set(t->g->params, t->g, ck, t->step, m);
    return rc;
}

/* The "minutes" a checkpoint records, or -1. */
static double read_minutes(const char *path) {
    aspire_safetensors *st = NULL;
    if (aspire_safetensors_open(&st, path)) return -1.0;
    const char *s = aspire_safetensors_meta(st, "minutes");
    double m = s ? atof(s) : -1.0;
    aspire_safetensors_free(st);
    return m;
}

static int read_step(const char *path, int *step) {
    aspire_safetensors *st = NULL;
    int rc = aspire_safetensors_open(&st, path);
    if (rc) return rc;
    const char *s = aspire_safetensors_meta(st, "step");
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || *end || v < 0 || v > 1000000000)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata \"step\" is missing or not a step count", path);
    else
        *step = (int)v;
    aspire_safetensors_free(st);
    return rc;
}

/* Loads the three checkpoint files into the trainer's models and optimizer. */
static int load_checkpoint(trainer *t) {
    const char *ck = t->o->checkpoint;
    char path[4096];
    int s_main = -1, s_ema = -1, s_opt = -1;
    int rc = read_step(ck, &s_main);
    snprintf(path, sizeof path, "%s.ema", ck);
    if (!rc) rc = read_step(path, &s_ema);
    if (!rc) rc = aspire_params_load(t->ema->params, path);
    snprintf(path, sizeof path, "%s.optim", ck);
    if (!rc) rc = read_step(path, &s_opt);
    if (!rc) rc = aspire_params_load(aspire_optim_state(t->opt), path);
    if (!rc) rc = aspire_params_load(t->g->params, ck);
    if (!rc && (s_main != s_ema || s_main != s_opt))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: the weights (step %d), EMA (%d) and optimizer (%d) files disagree", ck,
                          s_main, s_ema, s_opt);
    if (!rc) t->step = s_main;
    if (!rc) t->prior_min = read_minutes(ck);
    return rc;
}

/* ---- one step ------------------------------------------------------------------------------------ */
/* Fills the batch (images, flips, captions or the empty prompt) from the step's own stream. */
static int fill_batch(trainer *t, aspire_tensor *x, const uint8_t *pixels, int n, char *const *captions, int ncap,
                      aspire_rng *rng) {
    const aspire_generator_config *c = &t->g->cfg;
    const int S = c->image_size, B = (int)x->shape[0];
    const size_t px = (size_t)S * S * 3;
    for (int b = 0; b < B; b++) {
        int64_t i = aspire_rng_below(rng, n);
        int flip = (int)aspire_rng_below(rng, 2);
        const uint8_t *src = pixels + (size_t)i * px;
        float *dst = x->data + (size_t)b * px;
        for (int yy = 0; yy < S; yy++)
            for (int xx = 0; xx < S; xx++)
                for (int ch = 0; ch < 3; ch++)
                    dst[((size_t)yy * S + xx) * 3 + ch] =
                        (float)src[((size_t)yy * S + (flip ? S - 1 - xx : xx)) * 3 + ch] / 127.5f - 1.0f;
        int nc = 0;
        while (nc < ncap && captions[(size_t)i * ncap + nc]) nc++;
        const char *text = "";
        if (nc > 0 && aspire_rng_uniform(rng) >= t->o->drop_caption)
            text = captions[(size_t)i * ncap + aspire_rng_below(rng, nc)];
        int rc = aspire_generator_encode(t->g, text, t->ids + (size_t)b * c->max_len);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

static void ema_update(trainer *t) {
    double d = t->o->ema;
    double warm = (1.0 + t->step) / (10.0 + t->step);
    if (warm < d) d = warm;
    for (int i = 0; i < aspire_params_count(t->g->params); i++) {
        const aspire_tensor *p = aspire_params_at(t->g->params, i);
        aspire_tensor *e = aspire_params_at(t->ema->params, i);
        for (int64_t k = 0; k < p->numel; k++) e->data[k] = (float)(d * e->data[k] + (1.0 - d) * p->data[k]);
    }
}

/* Runs one optimizer step; *loss gets its loss and *gnorm the gradient norm. */
static int train_step(trainer *t, const uint8_t *pixels, int n, char *const *captions, int ncap,
                      const aspire_schedule *sched, float *loss, double *gnorm) {
    const aspire_generator_config *c = &t->g->cfg;
    aspire_rng base, rng;
    aspire_rng_seed(&base, t->o->seed ^ 0x9e4e7a70ULL);
    aspire_rng_fork(&base, (uint64_t)t->step, &rng);
    aspire_ctx_reset(t->ctx);
    aspire_tensor *x = aspire_tensor_new(t->ctx, 4, (int64_t[]){t->o->batch, c->image_size, c->image_size, 3});
    if (!x) return ASPIRE_ERR_NOMEM;
    int rc = fill_batch(t, x, pixels, n, captions, ncap, &rng);
    if (rc) return rc;
    aspire_tensor *l = aspire_generator_loss(t->ctx, t->g, x, t->ids, &rng);
    if (!l) return ASPIRE_ERR_BACKEND;
    aspire_params_zero_grad(t->g->params);
    if ((rc = aspire_backward(t->ctx, l))) return rc;
    *gnorm = aspire_clip_grad_norm(t->g->params, t->o->clip);
    aspire_optim_set_lr(t->opt, aspire_schedule_lr(sched, t->step));
    aspire_optim_step(t->opt);
    *loss = l->data[0];
    if (!isfinite(*loss))
        return aspire_error(ASPIRE_ERR_ARG, "generator training diverged at step %d (loss %g)", t->step, (double)*loss);
    t->step++;
    ema_update(t);
    return ASPIRE_OK;
}

/* ---- the run ------------------------------------------------------------------------------------- */
static int trainer_init(trainer *t, char *const *captions, int64_t ncaps_total, const aspire_generator_train_opts *o) {
    const char **all = aspire_malloc(sizeof(char *) * (size_t)(ncaps_total ? ncaps_total : 1));
    if (!all) return ASPIRE_ERR_NOMEM;
    int nall = 0;
    for (int64_t i = 0; i < ncaps_total; i++)
        if (captions[i]) all[nall++] = captions[i];
    aspire_vocab *vocab = NULL;
    int rc = aspire_vocab_build(&vocab, all, nall, o->min_count, 0);
    aspire_free(all, 0);
    if (!rc) rc = aspire_generator_new(&t->g, &o->cfg, vocab, o->seed);
    if (!rc) rc = aspire_generator_new(&t->ema, &o->cfg, vocab, o->seed);
    aspire_vocab_free(vocab);
    if (rc) return rc;
    aspire_adamw_options ao = aspire_adamw_defaults(o->lr);
    ao.weight_decay = o->weight_decay;
    rc = aspire_optim_new_adamw(&t->opt, t->g->params, &ao);
    if (!rc) rc = aspire_ctx_new(&t->ctx, &(aspire_ctx_options){.threads = 0, .seed = o->seed ^ 0x5eedULL});
    t->ids = aspire_malloc(sizeof(int32_t) * (size_t)o->batch * (size_t)o->cfg.max_len);
    if (!rc && !t->ids) rc = ASPIRE_ERR_NOMEM;
    if (!rc && o->resume && o->checkpoint) {
        FILE *f = fopen(o->checkpoint, "rb");
        if (f) { fclose(f); rc = load_checkpoint(t); }
    }
    return rc;
}

static char *make_recipe(const trainer *t, int start, double minutes, float ema_loss, int stopped) {
    const aspire_generator_train_opts *o = t->o;
    char buf[1200], total[64] = "earlier runs' time not recorded";
    if (total_minutes(t) >= 0) snprintf(total, sizeof total, "%.1f min in all", total_minutes(t));
    snprintf(buf, sizeof buf,
             "aspire pretrain generator: %d of %d steps%s (this run from step %d, %.1f min; %s), batch %d, AdamW lr %g "
             "(warm-up %d, cosine to %g), weight decay %g, clip %g, caption dropout %g, flips, EMA %g, seed %llu, "
             "v-prediction, cosine schedule T=%d, vocabulary %d words (min count %d), final loss (EMA of steps) %.4f",
             t->step, o->steps, stopped ? " (stopped by the time limit)" : t->step < o->steps ? " (stopped early)" : "", start, minutes, total, o->batch,
             (double)o->lr,
             o->warmup, (double)o->min_lr, (double)o->weight_decay, (double)o->clip, (double)o->drop_caption,
             (double)o->ema, (unsigned long long)o->seed, t->g->cfg.timesteps, t->g->cfg.vocab_size, o->min_count,
             (double)ema_loss);
    return aspire_strdup(buf);
}

int aspire_generator_train(aspire_generator **out, const uint8_t *pixels, int n, char *const *captions, int ncap,
                           const aspire_generator_train_opts *o, int *steps_done, char **recipe) {
    *out = NULL;
    if (recipe) *recipe = NULL;
    if (o->steps < 1 || o->batch < 1 || o->lr <= 0 || n < 1 || o->drop_caption < 0 || o->drop_caption > 1)
        return aspire_error(ASPIRE_ERR_ARG, "generator training: steps, batch, lr and images must be positive");
    trainer t = {.o = o, .t0 = aspire_now()};
    int rc = trainer_init(&t, captions, (int64_t)n * ncap, o);
    const int start = t.step;
    aspire_schedule sched = {.kind = ASPIRE_SCHEDULE_COSINE, .lr = o->lr, .warmup_steps = o->warmup,
                             .total_steps = o->steps, .min_lr = o->min_lr};
    aspire_progress pg;
    aspire_progress_init(&pg, "pretrain generator", o->steps - start > 0 ? o->steps - start : 1, "step");
    if (!o->progress) pg.quiet = 1;
    double t0 = aspire_now(), ema_loss = 0.0;
    int stopped = 0;
    if (!rc) aspire_ctx_set_training(t.ctx, 1);
    const int end = o->stop_at > 0 && o->stop_at < o->steps ? o->stop_at : o->steps;
    while (!rc && t.step < end) {
        if (o->max_minutes > 0 && aspire_now() - t0 > o->max_minutes * 60.0) { stopped = 1; break; }
        float loss = 0.0f;
        double gnorm = 0.0;
        rc = train_step(&t, pixels, n, captions, ncap, &sched, &loss, &gnorm);
        if (rc) break;
        ema_loss = t.step == start + 1 ? loss : 0.99 * ema_loss + 0.01 * loss;
        if (o->checkpoint && o->checkpoint_every > 0 && t.step % o->checkpoint_every == 0) rc = save_checkpoint(&t);
        aspire_progress_update(&pg, t.step - start, "step %d/%d loss %.4f lr %.2e |g| %.2f", t.step, o->steps,
                               ema_loss, (double)aspire_optim_lr(t.opt), gnorm);
    }
    aspire_progress_finish(&pg, "step %d loss %.4f", t.step, ema_loss);
    if (!rc && o->checkpoint && t.step > start) rc = save_checkpoint(&t);
    if (!rc && recipe && !(*recipe = make_recipe(&t, start, (aspire_now() - t0) / 60.0, (float)ema_loss, stopped)))
        rc = ASPIRE_ERR_NOMEM;
    if (steps_done) *steps_done = t.step;
    if (!rc) { *out = t.ema; t.ema = NULL; }
    trainer_destroy(&t);
    return rc;
}
