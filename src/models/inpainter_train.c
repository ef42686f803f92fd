/* inpainter_train.c — pretraining of the learned inpainter on the benchmark world. Every example is
 * made on the fly from the world's API (this is pretraining, which may use the world's ground
 * truth; no stage does): a corpus-like scene, the instance mask of one object (or of all) as the
 * hole, and the exact remove-counterfactual — the same scene rendered without the object — as the
 * target. Examples are a function of (seed, step, slot), so a resumed run sees the same stream. */
#include "aspire/inpaint.h"

#include "aspire/fileio.h"
#include "aspire/optim.h"
#include "aspire/progress.h"
#include "aspire/world.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PIX_MEAN 0.5f
#define PIX_STD 0.25f

void aspire_inpaint_train_opts_default(aspire_inpaint_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->cfg = aspire_inpaint_default_config();
    o->steps = 2400;
    o->batch = 32;
    o->lr = 2e-3f;
    o->min_lr = 5e-5f;
    o->warmup = 100;
    o->weight_decay = 1e-4f;
    o->p_all = 0.2f;
    o->max_objects = 3;
    o->progress = 1;
    o->checkpoint_every = 200;
}

/* One example at side S: img and target (S*S*3 bytes), hole (S*S bytes). */
typedef struct example_buf {
    uint8_t *img, *target, *hole, *labels;
} example_buf;

static void sample_scene(const aspire_world *w, const aspire_world_style *st, int max_objects, aspire_rng *r,
                         aspire_world_scene *s) {
    int pool[ASPIRE_WORLD_NEMOJI], npool = 0, ctx[ASPIRE_WORLD_MAX_OBJECTS];
    for (int e = ASPIRE_WORLD_FIRST_OBJECT; e < ASPIRE_WORLD_NEMOJI; e++) pool[npool++] = e;
    int species = (int)aspire_rng_below(r, ASPIRE_WORLD_NBIRDS);
    int bg = (int)aspire_rng_below(r, ASPIRE_WORLD_NBACKGROUNDS);
    int nctx = (int)aspire_rng_below(r, max_objects + 1);
    for (int i = 0; i < nctx; i++) {  /* distinct objects: a partial Fisher-Yates draw */
        int j = i + (int)aspire_rng_below(r, npool - i);
        int t = pool[i]; pool[i] = pool[j]; pool[j] = t;
        ctx[i] = pool[i];
    }
    aspire_world_scene_sample(s, w, st, species, bg, ctx, nctx, r);
}

static int make_example(const aspire_world *w, const aspire_inpaint_train_opts *o, aspire_rng *r, example_buf *eb) {
    const int S = o->cfg.image_size;
    aspire_world_style st;
    aspire_world_style_default(&st);
    aspire_world_scene s, rm;
    sample_scene(w, &st, o->max_objects, r, &s);
    int rc = aspire_world_render(w, &s, S, eb->img, eb->labels);
    if (rc) return rc;
    int64_t n = (int64_t)S * S, area = 0;
    if (aspire_rng_uniform(r) < o->p_all) {
        rm = s;
        while (rm.nobjects > 0) aspire_world_scene_remove(&rm, &rm, rm.nobjects - 1);
        for (int64_t i = 0; i < n; i++) area += (eb->hole[i] = eb->labels[i] != 0);
    } else {
        int k = (int)aspire_rng_below(r, s.nobjects);
        for (int tries = 0; tries < s.nobjects && area == 0; tries++, k = (k + 1) % s.nobjects) {
            area = 0;
            for (int64_t i = 0; i < n; i++) area += (eb->hole[i] = eb->labels[i] == k + 1);
            if (area) aspire_world_scene_remove(&rm, &s, k);
        }
        if (!area) rm = s;  /* every object hidden: an empty hole, no loss */
    }
    if ((rc = aspire_mask_dilate(eb->hole, S, S, 1 + (int)aspire_rng_below(r, 2)))) return rc;
    return aspire_world_render(w, &rm, S, eb->target, NULL);
}

/* Fills x (B, S, S, 4) and y (B, S, S, 3) for `step`. */
static int make_batch(const aspire_world *w, const aspire_inpaint_train_opts *o, int64_t step, example_buf *eb,
                      float *x, float *y) {
    const int S = o->cfg.image_size, B = o->batch;
    const int64_t n = (int64_t)S * S;
    aspire_rng root, r;
    aspire_rng_seed(&root, o->seed ^ 0x696e7061696e74ULL);  /* "inpaint" */
    for (int b = 0; b < B; b++) {
        aspire_rng_fork(&root, (uint64_t)step * (uint64_t)B + (uint64_t)b, &r);
        int rc = make_example(w, o, &r, eb);
        if (rc) return rc;
        aspire_inpaint_model_input(S, eb->img, eb->hole, x + (size_t)b * n * 4);
        float *yb = y + (size_t)b * n * 3;
        for (int64_t i = 0; i < n * 3; i++) yb[i] = ((float)eb->target[i] / 255.0f - PIX_MEAN) / PIX_STD;
    }
    return ASPIRE_OK;
}

typedef struct trainer {
    aspire_inpaint_model *m;
    aspire_optim *opt;
    aspire_ctx *ctx;
    aspire_world *w;
    example_buf eb;
    float *x, *y;
    char opt_path[4200];
} trainer;

static void trainer_destroy(trainer *t) {
    aspire_optim_free(t->opt);
    aspire_ctx_free(t->ctx);
    aspire_world_free(t->w);
    aspire_free(t->eb.img, 0);
    aspire_free(t->eb.target, 0);
    aspire_free(t->eb.hole, 0);
    aspire_free(t->eb.labels, 0);
    aspire_free(t->x, 0);
    aspire_free(t->y, 0);
}

/* The model (fresh, or the checkpoint's when resuming) and its optimizer (with the checkpoint's state). */
static int trainer_init(trainer *t, const aspire_inpaint_train_opts *o) {
    const int S = o->cfg.image_size, B = o->batch;
    const size_t n = (size_t)S * S;
    int rc = aspire_world_new(&t->w, o->font);
    if (o->checkpoint) snprintf(t->opt_path, sizeof t->opt_path, "%s.opt", o->checkpoint);
    int resume = !rc && o->resume && o->checkpoint && aspire_file_exists(o->checkpoint);
    if (!rc) rc = resume ? aspire_inpaint_model_load(&t->m, o->checkpoint, NULL) : aspire_inpaint_model_new(&t->m, &o->cfg, o->seed);
    if (!rc && resume && memcmp(aspire_inpaint_model_config(t->m), &o->cfg, sizeof o->cfg) != 0)
        rc = aspire_error(ASPIRE_ERR_ARG, "%s: the checkpoint's shape differs from the options'", o->checkpoint);
    aspire_adamw_options ao = aspire_adamw_defaults(o->lr);
    ao.weight_decay = o->weight_decay;
    if (!rc) rc = aspire_optim_new_adamw(&t->opt, aspire_inpaint_model_params(t->m), &ao);
    if (!rc && resume) rc = aspire_params_load(aspire_optim_state(t->opt), t->opt_path);
    if (!rc) rc = aspire_ctx_new(&t->ctx, &(aspire_ctx_options){.threads = 0, .seed = o->seed});
    t->eb.img = aspire_malloc(n * 3);
    t->eb.target = aspire_malloc(n * 3);
    t->eb.hole = aspire_malloc(n);
    t->eb.labels = aspire_malloc(n);
    t->x = aspire_malloc(sizeof(float) * n * 4 * (size_t)B);
    t->y = aspire_malloc(sizeof(float) * n * 3 * (size_t)B);
    if (!rc && (!t->eb.img || !t->eb.target || !t->eb.hole || !t->eb.labels || !t->x || !t->y)) rc = ASPIRE_ERR_NOMEM;
    return rc;
}

static int save_checkpoint(trainer *t, const aspire_inpaint_train_opts *o, int64_t step) {
    char note[128];
    snprintf(note, sizeof note, "checkpoint after %lld of %d steps", (long long)step, o->steps);
    int rc = aspire_params_save(aspire_optim_state(t->opt), t->opt_path, NULL, 0);
    return rc ? rc : aspire_inpaint_model_save(t->m, o->checkpoint, note);
}

static int train_step(trainer *t, const aspire_inpaint_train_opts *o, const aspire_schedule *sched, int64_t step,
                      int64_t sched_step, float *loss_out) {
    const int S = o->cfg.image_size, B = o->batch;
    int rc = make_batch(t->w, o, step, &t->eb, t->x, t->y);
    if (rc) return rc;
    aspire_ctx_reset(t->ctx);
    aspire_tensor *x = aspire_tensor_from(t->ctx, 4, (int64_t[]){B, S, S, 4}, t->x);
    aspire_tensor *y = aspire_tensor_from(t->ctx, 4, (int64_t[]){B, S, S, 3}, t->y);
    aspire_tensor *loss = aspire_mse(t->ctx, aspire_inpaint_model_forward(t->ctx, t->m, x), y, ASPIRE_REDUCE_MEAN);
    if (!loss) return ASPIRE_ERR_NOMEM;
    aspire_params_zero_grad(aspire_inpaint_model_params(t->m));
    if ((rc = aspire_backward(t->ctx, loss))) return rc;
    aspire_optim_set_lr(t->opt, aspire_schedule_lr(sched, sched_step));
    aspire_optim_step(t->opt);
    *loss_out = loss->data[0];
    if (!isfinite(*loss_out))
        return aspire_error(ASPIRE_ERR_ARG, "inpainter training diverged at step %lld (loss %g)", (long long)step,
                            (double)*loss_out);
    return ASPIRE_OK;
}

static char *make_recipe(const aspire_inpaint_train_opts *o, int64_t start, int64_t step, int stopped, double ema,
                         double minutes) {
    char buf[1024];
    snprintf(buf, sizeof buf,
             "aspire pretrain inpainter: %lld of %d steps%s%s, batch %d, AdamW lr %g (warm-up %d, cosine to %g%s), "
             "weight decay %g, examples made by the world on the fly (corpus-like scenes, 0-%d context objects; hole = "
             "one object's instance mask, or all objects' with p %g, dilated 1-2 px; target = the exact "
             "remove-counterfactual), loss = MSE of the composited prediction in (x/255-0.5)/0.25 units, seed %llu, "
             "final loss (EMA) %.5f, %.1f min this run",
             (long long)step, o->steps, stopped ? " (stopped by the time limit)" : "",
             start ? " (resumed from a checkpoint)" : "", o->batch, (double)o->lr, o->warmup, (double)o->min_lr,
             o->max_minutes > 0 ? " on the larger of the step and the time fraction of a limit" : "",
             (double)o->weight_decay, o->max_objects, (double)o->p_all, (unsigned long long)o->seed, ema, minutes);
    return aspire_strdup(buf);
}

int aspire_inpaint_train(aspire_inpaint_model **out, const aspire_inpaint_train_opts *o, char **recipe) {
    *out = NULL;
    if (recipe) *recipe = NULL;
    if (o->steps < 1 || o->batch < 1 || o->lr <= 0 || o->warmup < 0 || o->max_objects < 0 ||
        o->max_objects > ASPIRE_WORLD_MAX_OBJECTS - 1)
        return aspire_error(ASPIRE_ERR_ARG, "inpainter training: steps, batch and lr must be positive, objects 0..%d",
                            ASPIRE_WORLD_MAX_OBJECTS - 1);
    trainer t = {0};
    int rc = trainer_init(&t, o);
    aspire_schedule sched = {.kind = ASPIRE_SCHEDULE_COSINE, .lr = o->lr, .warmup_steps = o->warmup,
                             .total_steps = o->steps, .min_lr = o->min_lr};
    int64_t start = rc ? 0 : aspire_optim_steps(t.opt), step = start;
    aspire_progress pg;
    aspire_progress_init(&pg, "pretrain inpainter", o->steps - start, "step");
    if (!o->progress) pg.quiet = 1;
    double t0 = aspire_now(), ema = 0.0;
    int stopped = 0;
    if (!rc) aspire_ctx_set_training(t.ctx, 1);
    for (; !rc && step < o->steps; step++) {
        if (o->max_minutes > 0 && aspire_now() - t0 > o->max_minutes * 60.0) { stopped = 1; break; }
        float lv = 0.0f;
        /* with a time limit the cosine runs on the larger of the step and the time fraction, so that
         * a run cut short by a slow or busy machine still ends annealed */
        int64_t ss = step;
        if (o->max_minutes > 0) {
            int64_t ts = (int64_t)((aspire_now() - t0) / (o->max_minutes * 60.0) * o->steps);
            if (ts > ss) ss = ts < o->steps - 1 ? ts : o->steps - 1;
        }
        if ((rc = train_step(&t, o, &sched, step, ss, &lv))) break;
        ema = step == start ? lv : 0.98 * ema + 0.02 * lv;
        if (o->checkpoint && o->checkpoint_every > 0 && (step + 1) % o->checkpoint_every == 0 && step + 1 < o->steps)
            rc = save_checkpoint(&t, o, step + 1);
        aspire_progress_update(&pg, step + 1 - start, "loss %.4f  lr %.2e  %.0f ex/s", ema,
                               (double)aspire_optim_lr(t.opt), (double)(step + 1 - start) * o->batch / (aspire_now() - t0));
    }
    aspire_progress_finish(&pg, "loss %.4f", ema);
    if (!rc && recipe && !(*recipe = make_recipe(o, start, step, stopped, ema, (aspire_now() - t0) / 60.0)))
        rc = ASPIRE_ERR_NOMEM;
    trainer_destroy(&t);
    if (rc) { aspire_inpaint_model_free(t.m); return rc; }
    *out = t.m;
    return ASPIRE_OK;
}
