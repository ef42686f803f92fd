/* segnet_train.c — pretraining the segmenter network on the world corpus: per-pixel cross-entropy
 * over (background, 22 concepts), AdamW with linear warm-up and cosine decay, random horizontal
 * flips, checkpoints that hold the model and the optimizer (resumable to the same bytes); then the
 * presence thresholds are tuned on held-out corpus images (segnet_tune.c). */
#include "models/segnet_internal.h"

#include "aspire/fileio.h"
#include "aspire/optim.h"
#include "aspire/progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void aspire_segnet_train_opts_default(aspire_segnet_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->cfg = aspire_segnet_default_config();
    o->steps = 6000;
    o->batch = 32;
    o->lr = 3e-3f;
    o->min_lr = 3e-5f;
    o->weight_decay = 1e-4f;
    o->warmup = 200;
    o->fg_weight = 2.0f;
    o->flip = 1;
    o->val = 1000;
    o->progress = 1;
}

/* One batch: images idx[0..B) (flipped where the rng says) into x, labels into lb. */
static void make_batch(const aspire_seg_corpus *c, const int64_t *idx, int B, int flip, aspire_rng *rng, float *x,
                       uint8_t *lb) {
    const int S = c->size;
    for (int b = 0; b < B; b++) {
        const uint8_t *px = c->pixels + (size_t)idx[b] * S * S * 3;
        const uint8_t *l = c->labels + (size_t)idx[b] * S * S;
        int f = flip && aspire_rng_uniform(rng) < 0.5;
        for (int y = 0; y < S; y++)
            for (int xx = 0; xx < S; xx++) {
                int sx = f ? S - 1 - xx : xx;
                size_t d = ((size_t)b * S + y) * S + xx, s = (size_t)y * S + sx;
                for (int ch = 0; ch < 3; ch++) x[d * 3 + ch] = ((float)px[s * 3 + ch] / 255.0f - 0.5f) / 0.25f;
                lb[d] = l[s];
            }
    }
}

static char *ckpt_optim_path(const char *ckpt) {
    size_t n = strlen(ckpt) + 8;
    char *p = aspire_malloc(n);
    if (p) snprintf(p, n, "%s.optim", ckpt);
    return p;
}

static int save_checkpoint(aspire_segnet *net, aspire_optim *opt, const char *path, int step, int steps) {
    char note[128];
    snprintf(note, sizeof note, "checkpoint after %d of %d steps", step, steps);
    char *op = ckpt_optim_path(path);
    if (!op) return ASPIRE_ERR_NOMEM;
    /* optimizer first: a model file newer than its optimizer state is never left behind */
    int rc = aspire_params_save(aspire_optim_state(opt), op, NULL, 0);
    if (!rc) rc = aspire_segnet_save(net, path, note);
    aspire_strfree(op);
    return rc;
}

static int load_checkpoint(aspire_segnet *net, aspire_optim *opt, const char *path, int *step) {
    char *op = ckpt_optim_path(path);
    if (!op) return ASPIRE_ERR_NOMEM;
    int rc = aspire_params_load(net->params, path);
    if (!rc) rc = aspire_params_load(aspire_optim_state(opt), op);
    aspire_strfree(op);
    if (!rc) *step = (int)aspire_optim_steps(opt);
    return rc;
}

typedef struct train_state {
    aspire_ctx *ctx;
    aspire_optim *opt;
    float *x;
    uint8_t *lb;
    int64_t *idx;
} train_state;

static int train_loop(aspire_segnet *net, const aspire_seg_corpus *c, int ntrain, const aspire_segnet_train_opts *o,
                      train_state *ts, int start, double *final_loss) {
    const int B = o->batch, S = c->size;
    aspire_schedule sched = {.kind = ASPIRE_SCHEDULE_COSINE, .lr = o->lr, .warmup_steps = o->warmup,
                             .total_steps = o->schedule_steps > 0 ? o->schedule_steps : o->steps, .min_lr = o->min_lr};
    aspire_progress pg;
    aspire_progress_init(&pg, "pretrain segmenter", o->steps, "step");
    if (!o->progress) pg.quiet = 1;
    aspire_rng base;
    aspire_rng_seed(&base, o->seed ^ UINT64_C(0x5e6));
    double ema = 0, t0 = aspire_now();
    int rc = ASPIRE_OK;
    for (int step = start; step < o->steps && !rc; step++) {
        aspire_rng r;  /* each step's batch from its own stream: a resumed run draws the same batches */
        aspire_rng_fork(&base, (uint64_t)step, &r);
        for (int b = 0; b < B; b++) ts->idx[b] = aspire_rng_below(&r, ntrain);
        make_batch(c, ts->idx, B, o->flip, &r, ts->x, ts->lb);
        aspire_ctx_reset(ts->ctx);
        aspire_params_zero_grad(net->params);
        aspire_tensor *x = aspire_tensor_from(ts->ctx, 4, (int64_t[]){B, S, S, 3}, ts->x);
        aspire_tensor *loss = x ? aspire_segnet_loss(ts->ctx, net, x, ts->lb, o->fg_weight) : NULL;
        if (!loss) { rc = aspire_errmsg()[0] ? ASPIRE_ERR_BACKEND : ASPIRE_ERR_NOMEM; break; }
        if ((rc = aspire_backward(ts->ctx, loss))) break;
        aspire_optim_set_lr(ts->opt, aspire_schedule_lr(&sched, step));
        aspire_optim_step(ts->opt);
        double l = loss->data[0];
        ema = step == start ? l : 0.98 * ema + 0.02 * l;
        if (o->checkpoint && o->checkpoint_every > 0 && (step + 1) % o->checkpoint_every == 0)
            rc = save_checkpoint(net, ts->opt, o->checkpoint, step + 1, o->steps);
        aspire_progress_update(&pg, step + 1, "loss %.4f  lr %.2e  %.0f img/s", ema, (double)aspire_optim_lr(ts->opt),
                               (double)(step + 1 - start) * B / (aspire_now() - t0));
    }
    aspire_progress_finish(&pg, "loss %.4f", ema);
    *final_loss = ema;
    return rc;
}

int aspire_segnet_train(aspire_segnet **out, const aspire_seg_corpus *c, const aspire_segnet_train_opts *o,
                        char **recipe) {
    *out = NULL;
    if (recipe) *recipe = NULL;
    int ntrain = c->n - o->val;
    if (o->steps < 0 || o->batch < 1 || o->val < 0 || ntrain < 1)
        return aspire_error(ASPIRE_ERR_ARG, "segmenter training: %d steps, batch %d, %d of %d images held out", o->steps,
                            o->batch, o->val, c->n);
    if (c->size != o->cfg.image_size)
        return aspire_error(ASPIRE_ERR_ARG, "segmenter training: corpus images are %d px, the model takes %d", c->size,
                            o->cfg.image_size);
    aspire_segnet_vocab v = aspire_segnet_world_vocab();
    aspire_segnet *net = NULL;
    int rc = aspire_segnet_new(&net, &o->cfg, &v, o->seed);
    train_state ts;
    memset(&ts, 0, sizeof ts);
    aspire_ctx_options co = {.threads = 0, .seed = o->seed};
    co.threads = aspire_get_threads();
    if (!rc) rc = aspire_ctx_new(&ts.ctx, &co);
    aspire_adamw_options ao = aspire_adamw_defaults(o->lr);
    ao.weight_decay = o->weight_decay;
    if (!rc) rc = aspire_optim_new_adamw(&ts.opt, net->params, &ao);
    size_t S2 = (size_t)c->size * c->size;
    ts.x = rc ? NULL : aspire_malloc(sizeof(float) * o->batch * S2 * 3);
    ts.lb = rc ? NULL : aspire_malloc((size_t)o->batch * S2);
    ts.idx = rc ? NULL : aspire_malloc(sizeof(int64_t) * o->batch);
    if (!rc && (!ts.x || !ts.lb || !ts.idx)) rc = ASPIRE_ERR_NOMEM;
    int start = 0;
    if (!rc && o->resume && o->checkpoint && aspire_file_exists(o->checkpoint)) {
        rc = load_checkpoint(net, ts.opt, o->checkpoint, &start);
        if (!rc && o->progress) fprintf(stderr, "pretrain segmenter: resuming %s at step %d\n", o->checkpoint, start);
        if (!rc && start > o->steps)
            rc = aspire_error(ASPIRE_ERR_ARG, "%s: the checkpoint is at step %d, past the %d steps asked", o->checkpoint,
                              start, o->steps);
    }
    double loss = 0, t0 = aspire_now();
    if (!rc) rc = train_loop(net, c, ntrain, o, &ts, start, &loss);
    char tune[512] = "";
    if (!rc) rc = segnet_tune(net, c, ntrain, o->val, aspire_get_threads(), tune, sizeof tune);
    if (!rc && recipe) {
        char buf[2048], lossbuf[64];
        if (start < o->steps) snprintf(lossbuf, sizeof lossbuf, "final loss %.4f", loss);
        else snprintf(lossbuf, sizeof lossbuf, "no step in this run (final loss in the training log)");
        snprintf(buf, sizeof buf,
                 "world corpus, %d training images (+%d held out for the thresholds), %dx%d; per-pixel cross-entropy "
                 "over background + %d concepts, object pixels weighted %g; AdamW lr %g (cosine to %g over %d steps, %d "
                 "warm-up), weight decay %g, batch %d, %d steps (%d this run, %.1f min), flips %d, seed %llu; %s; %s",
                 ntrain, o->val, c->size, c->size, net->nconcepts, (double)o->fg_weight, (double)o->lr,
                 (double)o->min_lr, o->schedule_steps > 0 ? o->schedule_steps : o->steps, o->warmup,
                 (double)o->weight_decay, o->batch, o->steps, o->steps - start,
                 (aspire_now() - t0) / 60.0, o->flip, (unsigned long long)o->seed, lossbuf, tune);
        if (!(*recipe = aspire_strdup(buf))) rc = ASPIRE_ERR_NOMEM;
    }
    aspire_free(ts.x, 0);
    aspire_free(ts.lb, 0);
    aspire_free(ts.idx, 0);
    aspire_optim_free(ts.opt);
    aspire_ctx_free(ts.ctx);
    if (rc) { aspire_segnet_free(net); return rc; }
    *out = net;
    return ASPIRE_OK;
}
