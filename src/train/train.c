/* train.c — aspire_train_run: the training loop shared by every method (sampling, forward and
 * loss, SGD with a per-epoch cosine rate, validation and model selection, checkpoint each epoch,
 * resume), the methods' stages (JTT's identification model and upweighted retraining, LfF's pair
 * of models, GroupDRO's online group weights, DFR's last-layer retraining), and the run files. */
#include "train/train_config.h"
#include "train/train_data.h"
#include "train/train_internal.h"
#include "train/train_log.h"
#include "train/train_model.h"

#include "aspire/classifier.h"
#include "aspire/fileio.h"
#include "aspire/logreg.h"
#include "aspire/optim.h"
#include "aspire/progress.h"
#include "aspire/rundir.h"
#include "aspire/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_LOG 4096
#define TR_STOPPED 1  /* run_stage's "stopped early on request" (not an error) */

typedef struct slot {
    aspire_classifier *clf;
    aspire_resnet *net;             /* clf's network */
    aspire_optim *opt;
} slot;

typedef struct trainer {
    aspire_train_config cfg;
    aspire_train_strings strings;   /* cfg's strings when read back from train.json */
    tr_data data;
    aspire_ctx *ctx;
    int K, P, G;                    /* classes, places, groups (K·P, plus K extra groups) */
    int64_t n_train, n_pool;        /* pool = training images then extra images */
    aspire_dataset *pool_ds;        /* the pool's images (the training split's, or a copy with the extra images) */
    aspire_dataset *pool_owned;     /* pool_ds when it is such a copy */
    int32_t *pool_y, *pool_g;       /* (n_pool) label, group id (-1: none) */
    int64_t *group_n;               /* (G) pool examples per group */
    slot main, biased;              /* biased: LfF's second model */
    double *dro_q;                  /* (G) GroupDRO */
    tr_lff lff;                     /* LfF */
    float *lff_mem;
    double *jtt_w;                  /* (n_pool) JTT's stage-2 sampling weights */
    int64_t jtt_errors;
    aspire_select_rule rule;
    tr_epoch_log log[MAX_LOG];
    int nlog;
    int epochs_done_here;           /* in this call (for stop_after and the run's ETA) */
    int total_epochs;               /* of the whole run */
    int have_best, best_epoch;
    aspire_metrics_summary best;
    double seconds_before;          /* wall time of the epochs before a resume */
    double t0, cpu0;                /* wall and process CPU clock at the start of this call */
    char fingerprint[40];           /* of the dataset's metadata.csv (cfg.data_fingerprint) */
    char extra_fingerprint[40];     /* of the extra images' metadata.csv (cfg.extra_fingerprint) */
} trainer;

/* ---- small helpers -------------------------------------------------------------------------- */
/* RUNDIR/name into buf (RUN_PATH_MAX bytes; check_config keeps RUNDIR short enough), without
 * allocating: writing a run's files must not fail for want of memory for their names. */
#define RUN_PATH_MAX 4096
static char *run_path(const trainer *t, const char *name, char *buf) {
    snprintf(buf, RUN_PATH_MAX, "%s/%s", t->cfg.out_dir, name);
    return buf;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t z = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A model and its optimiser. When a checkpoint is about to overwrite every weight (from_ckpt: a
 * resume), the --init weights file is not read, so a run whose init file has since moved resumes. */
static int slot_new(trainer *t, slot *s, uint64_t seed_key, int from_ckpt) {
    aspire_classifier_spec spec = {t->cfg.arch, t->K, aspire_dataset_index_class_names(t->data.index), t->cfg.image_size,
                                   mix(t->cfg.seed, seed_key), from_ckpt ? NULL : t->cfg.init};
    aspire_ctx_options eo = t->cfg.engine;
    eo.threads = t->cfg.threads;
    int rc = aspire_classifier_new(&s->clf, &spec, &eo);
    if (rc) return spec.init && rc != ASPIRE_ERR_NOMEM ? aspire_error_prefix(rc, "--init") : rc;
    s->net = aspire_classifier_resnet(s->clf);
    aspire_sgd_options o = {(float)t->cfg.lr, (float)t->cfg.momentum, 0.0f, (float)t->cfg.weight_decay, 0};
    return aspire_optim_new_sgd(&s->opt, aspire_resnet_params(s->net), &o);
}

static void slot_free(slot *s) {
    aspire_optim_free(s->opt);
    aspire_classifier_free(s->clf);
    s->opt = NULL;
    s->clf = NULL;
    s->net = NULL;
}

/* The first parameter of s's network (weights, running statistics) holding a value that is not
 * finite, named with `where`; ASPIRE_OK when every value is finite. */
static int check_finite(const slot *s, const char *where) {
    if (!s->net) return ASPIRE_OK;
    aspire_params *p = aspire_resnet_params(s->net);
    for (int i = 0; i < aspire_params_count(p); i++) {
        const aspire_tensor *x = aspire_params_at(p, i);
        for (int64_t j = 0; j < x->numel; j++)
            if (!isfinite(x->data[j]))
                return aspire_error(ASPIRE_ERR_FORMAT, "%s: weight '%s' is %g (not finite)", where, x->name ? x->name : "?",
                                    (double)x->data[j]);
    }
    return ASPIRE_OK;
}

/* After an epoch: a model whose weights are no longer finite stops the run (an error, the
 * checkpoint of the last good epoch kept), instead of being saved as a result. */
static int check_epoch_weights(const trainer *t, int e) {
    char where[96];
    snprintf(where, sizeof where, "training diverged in epoch %d (try a smaller --lr)", e + 1);
    int rc = check_finite(&t->main, where);
    return rc ? rc : check_finite(&t->biased, where);
}

/* The cosine rate of an epoch of a stage (PyTorch's CosineAnnealingLR stepped per epoch, as the
 * anchor does). */
static double epoch_lr(const trainer *t, int e, int epochs) {
    aspire_schedule s = {ASPIRE_SCHEDULE_COSINE, (float)t->cfg.lr, 0, 0, 0, epochs, 0};
    return aspire_schedule_lr(&s, e);
}

/* ---- prediction ----------------------------------------------------------------------------- */
static int predict(trainer *t, slot *s, const tr_images *im, int32_t *pred, float *feats, const char *what) {
    if (im->n == 0) return ASPIRE_OK;
    aspire_classifier_set_progress(s->clf, t->cfg.progress ? what : NULL);
    return aspire_classifier_predict_u8(s->clf, aspire_dataset_pixels(im->ds, 0), im->n, im->S, im->S, 3, pred, NULL, feats);
}

static int evaluate_split(trainer *t, slot *s, const tr_images *im, aspire_metrics_summary *out) {
    int32_t *pred = aspire_malloc((size_t)(im->n ? im->n : 1) * sizeof(int32_t));
    if (!pred) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    int rc = predict(t, s, im, pred, NULL, NULL);
    if (!rc) {
        aspire_metrics m;
        rc = aspire_metrics_init(&m, t->K, t->P);
        if (!rc) {
            aspire_metrics_add_batch(&m, im->n, im->y, im->place, pred);
            *out = aspire_metrics_summarize(&m, t->data.train_group_n);
            aspire_metrics_destroy(&m);
        }
    }
    aspire_free(pred, (size_t)(im->n ? im->n : 1) * sizeof(int32_t));
    return rc;
}

/* ---- checkpoints ---------------------------------------------------------------------------- */
static int add_params(aspire_st_writer *w, const char *prefix, aspire_params *p) {
    char name[512];
    for (int i = 0; i < aspire_params_count(p); i++) {
        aspire_tensor *x = aspire_params_at(p, i);
        snprintf(name, sizeof name, "%s%s", prefix, x->name);
        int rc = aspire_st_writer_add(w, name, ASPIRE_DT_F32, x->ndim, x->shape, x->data);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

static int load_raw(const aspire_safetensors *st, const char *name, aspire_dtype dt, void *dst, int64_t numel) {
    const aspire_st_tensor *x = aspire_safetensors_find(st, name);
    if (!x) return aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no tensor '%s'", aspire_safetensors_path(st), name);
    if (x->dtype != dt || x->numel != numel)
        return aspire_error(ASPIRE_ERR_SHAPE, "%s: tensor '%s' is not %lld values of %s", aspire_safetensors_path(st),
                            name, (long long)numel, aspire_dtype_name(dt));
    memcpy(dst, x->data, x->nbytes);
    return ASPIRE_OK;
}

static void meta_num(aspire_st_writer *w, const char *key, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    aspire_st_writer_meta(w, key, buf);
}

/* Saves the state after `next_epoch` finished epochs (stage = the stage the next epoch is in). */
static int save_checkpoint(trainer *t, int next_epoch, int stage) {
    aspire_st_writer *w = aspire_st_writer_new();
    if (!w) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    int rc = add_params(w, ASPIRE_CHECKPOINT_MODEL_PREFIX, aspire_resnet_params(t->main.net));
    if (!rc) rc = add_params(w, "optim.", aspire_optim_state(t->main.opt));
    if (!rc && t->biased.net) rc = add_params(w, "biased.", aspire_resnet_params(t->biased.net));
    if (!rc && t->biased.net) rc = add_params(w, "biased_optim.", aspire_optim_state(t->biased.opt));
    int64_t np[1] = {t->n_pool}, ng[1] = {t->G};
    if (!rc && t->lff.ema_b) {
        rc = aspire_st_writer_add(w, "lff.ema_b", ASPIRE_DT_F32, 1, np, t->lff.ema_b);
        if (!rc) rc = aspire_st_writer_add(w, "lff.ema_d", ASPIRE_DT_F32, 1, np, t->lff.ema_d);
        if (!rc) rc = aspire_st_writer_add(w, "lff.seen", ASPIRE_DT_F32, 1, np, t->lff.seen);
    }
    if (!rc && t->cfg.method == ASPIRE_METHOD_GROUPDRO) rc = aspire_st_writer_add(w, "dro.q", ASPIRE_DT_F64, 1, ng, t->dro_q);
    if (!rc && t->jtt_w) rc = aspire_st_writer_add(w, "jtt.weights", ASPIRE_DT_F64, 1, np, t->jtt_w);
    if (!rc) {
        aspire_st_writer_meta(w, "format", ASPIRE_CHECKPOINT_FORMAT);
        aspire_st_writer_meta(w, "method", aspire_method_name(t->cfg.method));
        meta_num(w, ASPIRE_CHECKPOINT_EPOCHS_KEY, next_epoch);
        meta_num(w, "stage", stage);
        meta_num(w, "jtt_errors", (double)t->jtt_errors);
        meta_num(w, "have_best", t->have_best);
        meta_num(w, "best_epoch", t->best_epoch);
        meta_num(w, "best_mean", t->best.mean);
        meta_num(w, "best_worst_group", t->best.worst_group);
        meta_num(w, "best_worst_class", t->best.worst_class);
        meta_num(w, "seconds", t->seconds_before + (aspire_now() - t->t0));
        char path[RUN_PATH_MAX];
        run_path(t, "checkpoint.safetensors", path);
        rc = aspire_st_writer_save(w, path);
    }
    aspire_st_writer_free(w);
    return rc;
}

/* A number of the checkpoint's metadata, checked like train.json's fields: a whole number (or
 * any finite one when !whole) in [lo, hi], or NaN where nan_ok. The first error goes to *rc. */
static double meta_get(const aspire_safetensors *st, const char *key, double lo, double hi, int whole, int nan_ok, int *rc) {
    const char *v = aspire_safetensors_meta(st, key);
    if (*rc) return 0;
    if (!v) {
        *rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata has no '%s'", aspire_safetensors_path(st), key);
        return 0;
    }
    char *end = NULL;
    double d = strtod(v, &end);
    int ok = *v && end && !*end && (isnan(d) ? nan_ok : isfinite(d) && d >= lo && d <= hi && (!whole || d == floor(d)));
    if (!ok)
        *rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: metadata '%s' is '%.40s', expected %s from %.17g to %.17g%s", aspire_safetensors_path(st),
                           key, v, whole ? "a whole number" : "a number", lo, hi, nan_ok ? " (or nan)" : "");
    return ok ? d : 0;
}

/* Reads the checkpoint's bookkeeping: next epoch and stage (and the incumbent best), each checked
 * against the run's config (a next_epoch of 999 in a run of 8 epochs, or NaN, is refused). */
static int read_checkpoint_meta(trainer *t, const aspire_safetensors *st, int *next_epoch, int *stage) {
    int rc = ASPIRE_OK;
    const char *fmt = aspire_safetensors_meta(st, "format");
    if (!fmt || strcmp(fmt, ASPIRE_CHECKPOINT_FORMAT) != 0)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: not a training checkpoint (format '%s')", aspire_safetensors_path(st),
                            fmt ? fmt : "none");
    const int jtt = t->cfg.method == ASPIRE_METHOD_JTT, T = jtt ? t->cfg.jtt_epochs : 0, E = t->cfg.epochs;
    *stage = (int)meta_get(st, "stage", 1, jtt ? 2 : 1, 1, 0, &rc);
    double lo = *stage == 2 ? T : 0, hi = jtt && *stage == 1 ? T : T + E;
    *next_epoch = (int)meta_get(st, ASPIRE_CHECKPOINT_EPOCHS_KEY, lo, hi, 1, 0, &rc);
    t->jtt_errors = (int64_t)meta_get(st, "jtt_errors", 0, (double)t->n_pool, 1, 0, &rc);
    t->have_best = (int)meta_get(st, "have_best", 0, 1, 1, 0, &rc);
    t->best_epoch = (int)meta_get(st, "best_epoch", 0, t->have_best && *next_epoch > 0 ? *next_epoch - 1 : 0, 1, 0, &rc);
    t->best.mean = meta_get(st, "best_mean", 0, 1, 0, 1, &rc);
    t->best.worst_group = meta_get(st, "best_worst_group", 0, 1, 0, 1, &rc);
    t->best.worst_class = meta_get(st, "best_worst_class", 0, 1, 0, 1, &rc);
    t->seconds_before = meta_get(st, "seconds", 0, 1e9, 0, 0, &rc);
    return rc;
}

/* Loads the models' and the method's state from an open checkpoint. */
static int load_checkpoint_state(trainer *t, const aspire_safetensors *st) {
    int rc = aspire_params_read_prefixed(aspire_resnet_params(t->main.net), st, ASPIRE_CHECKPOINT_MODEL_PREFIX);
    if (!rc) rc = aspire_params_read_prefixed(aspire_optim_state(t->main.opt), st, "optim.");
    if (!rc && t->biased.net) rc = aspire_params_read_prefixed(aspire_resnet_params(t->biased.net), st, "biased.");
    if (!rc && t->biased.net) rc = aspire_params_read_prefixed(aspire_optim_state(t->biased.opt), st, "biased_optim.");
    if (!rc && t->lff.ema_b) {
        rc = load_raw(st, "lff.ema_b", ASPIRE_DT_F32, t->lff.ema_b, t->n_pool);
        if (!rc) rc = load_raw(st, "lff.ema_d", ASPIRE_DT_F32, t->lff.ema_d, t->n_pool);
        if (!rc) rc = load_raw(st, "lff.seen", ASPIRE_DT_F32, t->lff.seen, t->n_pool);
    }
    if (!rc && t->cfg.method == ASPIRE_METHOD_GROUPDRO) rc = load_raw(st, "dro.q", ASPIRE_DT_F64, t->dro_q, t->G);
    if (!rc && t->jtt_w) rc = load_raw(st, "jtt.weights", ASPIRE_DT_F64, t->jtt_w, t->n_pool);
    return rc;
}

/* best.safetensors (or another name): the classifier alone, a weights file of classifier.h. */
static int save_model(trainer *t, slot *s, const char *name, int epoch, aspire_select_rule rule, double score) {
    char sc[32];
    snprintf(sc, sizeof sc, "%.9g", score);
    const char *meta[] = {"method", aspire_method_name(t->cfg.method), "selection", aspire_select_rule_name(rule),
                          "selection_score", sc};
    char path[RUN_PATH_MAX];
    run_path(t, name, path);
    int rc = aspire_classifier_save(s->clf, path, epoch, meta, (int)(sizeof meta / sizeof meta[0]) / 2);
    return rc;
}

/* ---- train.json ----------------------------------------------------------------------------- */
static int write_train_json(trainer *t, cJSON *result) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(root, "aspire_version", ASPIRE_VERSION);
    char cmd[2048];
    tr_config_command(&t->cfg, cmd, sizeof cmd);
    cJSON_AddStringToObject(root, "command", cmd);
    cJSON_AddItemToObject(root, "config", tr_config_to_json(&t->cfg));
    cJSON_AddStringToObject(root, "selection", aspire_select_rule_name(t->rule));
    cJSON_AddStringToObject(root, "selection_reason",
                            aspire_method_uses_groups(t->cfg.method)
                                ? "the method uses group labels: best worst-group validation accuracy"
                                : "the method uses no group labels: best worst-class validation accuracy");
    cJSON *ds = cJSON_AddObjectToObject(root, "dataset");
    if (ds) {
        cJSON_AddNumberToObject(ds, "train", (double)t->data.train.n);
        cJSON_AddNumberToObject(ds, "val", (double)t->data.val.n);
        cJSON_AddNumberToObject(ds, "extra", (double)t->data.extra.n);
        cJSON_AddNumberToObject(ds, "training_pool", (double)t->n_pool);  /* training (+ extra) images drawn from */
        cJSON_AddNumberToObject(ds, "groups", t->G);
        cJSON_AddNumberToObject(ds, "classes", t->K);
        cJSON_AddNumberToObject(ds, "places", t->P);
        cJSON *g = cJSON_AddArrayToObject(ds, "train_group_sizes");
        for (int q = 0; g && q < t->K * t->P; q++) cJSON_AddItemToArray(g, cJSON_CreateNumber((double)t->data.train_group_n[q]));
        cJSON_AddItemToObject(ds, "class_names", cJSON_CreateStringArray(aspire_dataset_index_class_names(t->data.index), t->K));
    }
    if (result) cJSON_AddItemToObject(root, "result", result);
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    char path[RUN_PATH_MAX];
    run_path(t, "train.json", path);
    size_t len = strlen(txt);
    txt[len] = '\n';  /* cJSON's buffer holds the NUL we overwrite; write len + 1 bytes */
    int rc = aspire_write_file_atomic(path, txt, len + 1);
    cJSON_free(txt);
    return rc;
}

static cJSON *summary_json(const aspire_metrics_summary *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "mean", isnan(s->mean) ? -1 : s->mean);
    cJSON_AddNumberToObject(o, "worst_group", isnan(s->worst_group) ? -1 : s->worst_group);
    cJSON_AddNumberToObject(o, "worst_class", isnan(s->worst_class) ? -1 : s->worst_class);
    return o;
}

/* ---- the per-epoch bookkeeping -------------------------------------------------------------- */
static int write_logs(trainer *t) {
    char csv[RUN_PATH_MAX], svg[RUN_PATH_MAX];
    run_path(t, "log.csv", csv);
    run_path(t, "curve.svg", svg);
    char title[256];
    snprintf(title, sizeof title, "aspire train --method %s (seed %llu): selection by %s", aspire_method_name(t->cfg.method),
             (unsigned long long)t->cfg.seed, aspire_select_rule_name(t->rule));
    int sel = -1;
    for (int i = 0; i < t->nlog; i++) if (t->have_best && t->log[i].epoch == t->best_epoch) sel = i;
    int rc = tr_log_write_csv(csv, t->log, t->nlog);
    if (!rc) rc = tr_log_write_svg(svg, t->log, t->nlog, sel, title);
    return rc;
}

/* Validation after an epoch: adds the row to the log and, when `select` and it beats the
 * incumbent, saves the model as `best_name`. */
static int end_epoch(trainer *t, tr_epoch_log *row, slot *sl, int select, aspire_select_rule rule, const char *best_name) {
    aspire_metrics_summary s;
    int rc = evaluate_split(t, sl, &t->data.val, &s);
    if (rc) return rc;
    row->val_mean = s.mean;
    row->val_worst_group = s.worst_group;
    row->val_worst_class = s.worst_class;
    row->score = select ? aspire_select_score(&s, rule) : NAN;
    if (select && aspire_select_better(&s, t->have_best ? &t->best : NULL, rule)) {
        t->have_best = 1;
        t->best = s;
        t->best_epoch = row->epoch;
        rc = save_model(t, sl, best_name, row->epoch, rule, row->score);
        if (rc) return rc;
    }
    if (t->nlog < MAX_LOG) t->log[t->nlog++] = *row;
    return ASPIRE_OK;
}

/* ---- one stage of SGD epochs ---------------------------------------------------------------- */
typedef enum { SAMPLE_SHUFFLE, SAMPLE_WEIGHTED, SAMPLE_SUBSET } sample_kind;

typedef struct stage {
    int number;              /* 1 or 2 */
    int first_epoch;         /* global index of the stage's first epoch */
    int epochs;              /* of this stage */
    int64_t n;               /* pool prefix drawn from: [0, n) */
    sample_kind sampling;
    const double *weights;   /* SAMPLE_WEIGHTED: (n) */
    const int64_t *subset;   /* SAMPLE_SUBSET */
    int64_t nsubset;
    int select;              /* this stage's epochs are candidates for the selected model */
    aspire_select_rule rule; /* by this rule */
    const char *best_name;
} stage;

static int epoch_order(trainer *t, const stage *sg, int epoch, int64_t *order) {
    aspire_rng base, r;
    aspire_rng_seed(&base, t->cfg.seed);
    aspire_rng_fork(&base, mix(0x0DE7, (uint64_t)epoch), &r);
    switch (sg->sampling) {
    case SAMPLE_SHUFFLE: tr_order_shuffle(order, sg->n, &r); return ASPIRE_OK;
    case SAMPLE_WEIGHTED: return tr_order_weighted(order, sg->n, sg->weights, sg->n, &r);
    case SAMPLE_SUBSET: tr_order_cycle(order, sg->n, sg->subset, sg->nsubset, &r); return ASPIRE_OK;
    }
    return ASPIRE_OK;
}

/* A stage's per-batch scratch. */
typedef struct step_bufs {
    int B;
    int64_t *order;          /* (n) this epoch's draw */
    size_t order_bytes;
    float *scratch;          /* loss_a, loss_b, p_b, w_a, w_b: (B) each */
    int32_t *yb;             /* labels, predictions, groups: (B) each */
    uint8_t *flip;           /* (B) */
} step_bufs;

static void bufs_free(step_bufs *b) {
    aspire_free(b->order, b->order_bytes);
    aspire_free(b->scratch, (size_t)b->B * 5 * sizeof(float));
    aspire_free(b->yb, (size_t)b->B * 3 * sizeof(int32_t));
    aspire_free(b->flip, (size_t)b->B);
}

static int bufs_new(step_bufs *b, int B, int64_t n) {
    memset(b, 0, sizeof *b);
    b->B = B;
    b->order_bytes = (size_t)n * sizeof(int64_t);
    b->order = aspire_malloc(b->order_bytes);
    b->scratch = aspire_malloc((size_t)B * 5 * sizeof(float));
    b->yb = aspire_malloc((size_t)B * 3 * sizeof(int32_t));
    b->flip = aspire_malloc((size_t)B);
    if (b->order && b->scratch && b->yb && b->flip) return ASPIRE_OK;
    bufs_free(b);
    return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
}

/* The batch's loss: LfF's pair of weighted losses, GroupDRO's robust loss, or the plain mean;
 * *objective is the figure logged. */
static aspire_tensor *batch_loss(trainer *t, const stage *sg, const int64_t *idx, step_bufs *b, aspire_tensor *logits,
                                 aspire_tensor *logits_b, double *objective) {
    const int B = b->B, K = t->K;
    float *loss_a = b->scratch, *loss_b = b->scratch + B, *p_b = b->scratch + 2 * B, *w_a = b->scratch + 3 * B,
          *w_b = b->scratch + 4 * B;
    int32_t *yb = b->yb, *pred = b->yb + B, *gb = b->yb + 2 * B;
    tr_rows_ce(logits->data, B, K, yb, loss_a, pred, NULL);
    *objective = 0;
    if (logits_b) {
        tr_rows_ce(logits_b->data, B, K, yb, loss_b, NULL, p_b);
        tr_lff_step(&t->lff, idx, B, loss_b, loss_a, p_b, w_b, w_a);
        aspire_tensor *ld = aspire_cross_entropy(t->ctx, logits, yb, w_a, ASPIRE_REDUCE_MEAN);
        aspire_tensor *lb = aspire_cross_entropy(t->ctx, logits_b, yb, w_b, ASPIRE_REDUCE_MEAN);
        if (ld) *objective = ld->data[0];  /* the debiased model's weighted loss */
        return aspire_add(t->ctx, ld, lb);
    }
    if (t->cfg.method == ASPIRE_METHOD_GROUPDRO && sg->number == 1) {
        tr_dro d = {t->G, t->cfg.dro_eta, t->cfg.dro_adj, t->dro_q, t->group_n};
        tr_dro_step(&d, loss_a, gb, B, w_a, objective);
        return aspire_cross_entropy(t->ctx, logits, yb, w_a, ASPIRE_REDUCE_SUM);
    }
    aspire_tensor *loss = aspire_cross_entropy(t->ctx, logits, yb, NULL, ASPIRE_REDUCE_MEAN);
    if (loss) *objective = loss->data[0];
    return loss;
}

/* One SGD step on the batch idx[0, B): flips drawn from aug, forward, loss, backward, update. */
static int train_step(trainer *t, const stage *sg, const int64_t *idx, step_bufs *b, aspire_rng *aug, double *objective) {
    const int B = b->B, S = t->cfg.image_size, lff = t->cfg.method == ASPIRE_METHOD_LFF;
    aspire_ctx_reset(t->ctx);
    aspire_tensor *x = aspire_tensor_new(t->ctx, 4, (int64_t[]){B, S, S, 3});
    if (!x) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory for a batch");
    for (int k = 0; k < B; k++) {
        b->flip[k] = t->cfg.flip ? (uint8_t)(aspire_rng_u64(aug) >> 63) : 0;
        b->yb[k] = t->pool_y[idx[k]];
        b->yb[2 * B + k] = t->pool_g[idx[k]];
    }
    aspire_dataset_to_float(t->pool_ds, idx, B, b->flip, x->data, NULL, NULL);
    aspire_tensor *logits = aspire_resnet_forward(t->ctx, t->main.net, x, NULL);
    aspire_tensor *logits_b = lff ? aspire_resnet_forward(t->ctx, t->biased.net, x, NULL) : NULL;
    if (!logits || (lff && !logits_b)) return aspire_error_prefix(ASPIRE_ERR_BACKEND, "forward pass");
    aspire_tensor *loss = batch_loss(t, sg, idx, b, logits, logits_b, objective);
    if (!loss) return aspire_error_prefix(ASPIRE_ERR_BACKEND, "loss");
    aspire_params_zero_grad(aspire_resnet_params(t->main.net));
    if (lff) aspire_params_zero_grad(aspire_resnet_params(t->biased.net));
    int rc = aspire_backward(t->ctx, loss);
    if (rc) return rc;
    aspire_optim_step(t->main.opt);
    if (lff) aspire_optim_step(t->biased.opt);
    return ASPIRE_OK;
}

/* The SGD steps of epoch e (stage-local le); fills the row's training figures. */
static int train_epoch(trainer *t, const stage *sg, int e, step_bufs *b, tr_epoch_log *row) {
    const int B = b->B, le = e - sg->first_epoch;
    const int64_t steps = sg->n / B;
    aspire_rng base, aug;
    aspire_rng_seed(&base, t->cfg.seed);
    aspire_rng_fork(&base, mix(0xF11B, (uint64_t)e), &aug);
    char label[96];
    snprintf(label, sizeof label, "%s%s epoch %d/%d", aspire_method_name(t->cfg.method),
             t->cfg.method == ASPIRE_METHOD_JTT || t->cfg.method == ASPIRE_METHOD_DFR ? (sg->number == 1 ? " stage 1" : " stage 2") : "",
             le + 1, sg->epochs);
    aspire_progress pg;
    aspire_progress_init(&pg, label, steps * B, "img");
    if (!t->cfg.progress) pg.quiet = 1;
    double loss_sum = 0, t_epoch = aspire_now();
    int64_t correct = 0, seen = 0;
    int rc = ASPIRE_OK;
    aspire_ctx_set_training(t->ctx, 1);
    aspire_ctx_set_recording(t->ctx, 1);
    for (int64_t s = 0; s < steps && !rc; s++) {
        double objective = 0;
        rc = train_step(t, sg, b->order + s * B, b, &aug, &objective);
        if (!rc && !isfinite(objective))
            rc = aspire_error(ASPIRE_ERR_ARG, "the loss diverged (%g) at epoch %d step %lld; try a smaller --lr", objective, e + 1,
                              (long long)s);
        if (rc) break;
        loss_sum += objective;
        for (int k = 0; k < B; k++) correct += b->yb[B + k] == b->yb[k];
        seen += B;
        aspire_progress_update(&pg, seen, "loss %.4f acc %.1f%%", loss_sum / (double)(s + 1), 100.0 * (double)correct / (double)seen);
    }
    if (rc) return rc;
    aspire_progress_finish(&pg, NULL);
    row->epoch = e;
    row->stage = sg->number;
    row->train_loss = loss_sum / (double)steps;
    row->train_acc = (double)correct / (double)seen;
    row->images_per_s = (double)seen / (aspire_now() - t_epoch);
    return ASPIRE_OK;
}

/* The epoch's line on stderr, with the run's remaining time from this call's epochs so far
 * (lff's epochs are twice as long). */
static void epoch_report(const trainer *t, const stage *sg, int e, const tr_epoch_log *row) {
    double spent = 0;
    int counted = 0;
    for (int i = t->nlog - 1; i >= 0 && counted < t->epochs_done_here + 1; i--, counted++) spent += t->log[i].seconds;
    double left = spent / (counted ? counted : 1) * (t->total_epochs - (e + 1));
    char eta[32];
    aspire_progress_fmt_time(left, eta, sizeof eta);
    fprintf(stderr, "epoch %d/%d: loss %.4f, train acc %.1f%%, val mean %.1f%%, worst group %.1f%%, worst class %.1f%%%s "
                    "(%.0f img/s, %.0f s; run ETA %s)\n",
            e + 1, t->total_epochs, row->train_loss, 100 * row->train_acc, 100 * row->val_mean, 100 * row->val_worst_group,
            100 * row->val_worst_class, sg->select && t->have_best && t->best_epoch == e ? " *" : "", row->images_per_s,
            t->log[t->nlog - 1].seconds, eta);
}

static int run_stage(trainer *t, const stage *sg, int start_epoch) {
    const int B = t->cfg.batch;
    if (sg->n / B < 1)
        return aspire_error(ASPIRE_ERR_ARG, "%lld training images are fewer than one batch of %d", (long long)sg->n, B);
    step_bufs b;
    int rc = bufs_new(&b, B, sg->n);
    for (int e = start_epoch; !rc && e < sg->first_epoch + sg->epochs; e++) {
        double lr = epoch_lr(t, e - sg->first_epoch, sg->epochs), t_epoch = aspire_now();
        aspire_optim_set_lr(t->main.opt, (float)lr);
        if (t->cfg.method == ASPIRE_METHOD_LFF) aspire_optim_set_lr(t->biased.opt, (float)lr);
        rc = epoch_order(t, sg, e, b.order);
        tr_epoch_log row = {0};
        row.lr = lr;
        if (!rc) rc = train_epoch(t, sg, e, &b, &row);
        if (!rc) rc = check_epoch_weights(t, e);
        if (!rc) rc = end_epoch(t, &row, &t->main, sg->select, sg->rule, sg->best_name);
        if (rc) break;
        t->log[t->nlog - 1].seconds = aspire_now() - t_epoch;
        rc = write_logs(t);
        if (!rc) rc = save_checkpoint(t, e + 1, sg->number);
        if (t->cfg.progress) epoch_report(t, sg, e, &row);
        t->epochs_done_here++;
        if (!rc && t->cfg.stop_after > 0 && t->epochs_done_here >= t->cfg.stop_after && e + 1 < t->total_epochs)
            rc = TR_STOPPED;
    }
    bufs_free(&b);
    return rc;
}

/* ---- method set-up --------------------------------------------------------------------------- */
/* The pool's images: the training split's, or with extra images a copy of them followed by the
 * extra ones (one dataset, so that one batcher serves every batch). */
static int pool_images(trainer *t) {
    t->pool_ds = t->data.train.ds;
    if (!t->data.extra.n) return ASPIRE_OK;
    int64_t *all = aspire_malloc(sizeof(int64_t) * (size_t)(t->n_train ? t->n_train : 1));
    if (!all) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < t->n_train; i++) all[i] = i;
    int rc = aspire_dataset_subset(&t->pool_owned, t->data.train.ds, all, t->n_train);
    aspire_free(all, sizeof(int64_t) * (size_t)(t->n_train ? t->n_train : 1));
    if (!rc) rc = aspire_dataset_append(t->pool_owned, t->data.extra.ds);
    if (!rc) t->pool_ds = t->pool_owned;
    return rc;
}

static int build_pool(trainer *t) {
    t->n_train = t->data.train.n;
    t->n_pool = t->n_train + t->data.extra.n;
    int extra_groups = t->data.extra.n > 0 && aspire_method_uses_groups(t->cfg.method);
    t->G = t->K * t->P + (extra_groups ? t->K : 0);
    size_t nb = (size_t)(t->n_pool ? t->n_pool : 1) * sizeof(int32_t), gb = (size_t)(t->G ? t->G : 1);
    t->pool_y = aspire_malloc(nb);
    t->pool_g = aspire_malloc(nb);
    t->group_n = aspire_calloc(gb, sizeof(int64_t));
    t->dro_q = aspire_calloc(gb, sizeof(double));
    if (!t->pool_y || !t->pool_g || !t->group_n || !t->dro_q) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < t->n_pool; i++) {
        int extra = i >= t->n_train;
        const tr_images *im = extra ? &t->data.extra : &t->data.train;
        int64_t k = extra ? i - t->n_train : i;
        t->pool_y[i] = im->y[k];
        t->pool_g[i] = extra ? (extra_groups ? t->K * t->P + im->y[k] : -1) : im->y[k] * t->P + im->place[k];
        if (t->pool_g[i] >= 0) t->group_n[t->pool_g[i]]++;
    }
    return pool_images(t);
}

/* JTT: the identification model's errors on the training split get weight λ_up. */
static int jtt_error_set(trainer *t) {
    size_t pb = (size_t)t->n_train * sizeof(int32_t);
    int32_t *pred = aspire_malloc(pb);
    if (!pred) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    int rc = predict(t, &t->main, &t->data.train, pred, NULL, "jtt error set");
    t->jtt_errors = 0;
    for (int64_t i = 0; !rc && i < t->n_pool; i++) {
        int err = i < t->n_train && pred[i] != t->pool_y[i];
        t->jtt_w[i] = err ? t->cfg.jtt_up : 1.0;
        t->jtt_errors += err;
    }
    aspire_free(pred, pb);
    return rc;
}

/* DFR: features of the validation split and the extra images under the backbone; the averaged
 * logistic regression (rep: its tuning) replaces the classifier's last layer. */
static int dfr_fit_head(trainer *t, aspire_dfr_report *rep) {
    const int D = aspire_classifier_feature_dim(t->main.clf);
    const tr_images *val = &t->data.val, *ex = &t->data.extra;
    size_t fv = (size_t)val->n * (size_t)D * sizeof(float), fe = (size_t)(ex->n ? ex->n : 1) * (size_t)D * sizeof(float);
    size_t pv = (size_t)val->n * sizeof(int32_t), pe = (size_t)(ex->n ? ex->n : 1) * sizeof(int32_t);
    float *xv = aspire_malloc(fv), *xe = aspire_malloc(fe);
    int32_t *pred = aspire_malloc(pv), *gv = aspire_malloc(pv), *pred_e = aspire_malloc(pe);
    int rc = xv && xe && pred && gv && pred_e ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    if (!rc) rc = predict(t, &t->main, val, pred, xv, "dfr features (val)");
    if (!rc) rc = predict(t, &t->main, ex, pred_e, xe, "dfr features (extra)");
    aspire_logreg lr = {0};
    if (!rc) {
        for (int64_t i = 0; i < val->n; i++) gv[i] = val->y[i] * t->P + val->place[i];
        aspire_dfr_options o = {0};
        o.seed = t->cfg.seed;
        o.retrains = t->cfg.dfr_retrains;
        rc = aspire_dfr_fit(&lr, rep, &o, xv, val->y, gv, val->n, t->K * t->P, ex->n ? xe : NULL, ex->y, ex->n, D, t->K);
    }
    if (!rc) rc = tr_model_set_head(t->main.net, &lr);
    aspire_logreg_destroy(&lr);
    aspire_free(xv, fv); aspire_free(xe, fe);
    aspire_free(pred, pv); aspire_free(gv, pv); aspire_free(pred_e, pe);
    return rc;
}

/* The DFR model's validation row, which is the selected model. */
static int dfr_select(trainer *t, double t_start) {
    tr_epoch_log row = {0};
    row.epoch = t->nlog ? t->log[t->nlog - 1].epoch + 1 : 0;
    row.stage = 2;
    row.lr = NAN;
    row.train_loss = NAN;
    row.train_acc = NAN;
    row.images_per_s = NAN;
    aspire_metrics_summary s;
    int rc = evaluate_split(t, &t->main, &t->data.val, &s);
    if (!rc) {
        row.val_mean = s.mean;
        row.val_worst_group = s.worst_group;
        row.val_worst_class = s.worst_class;
        row.score = aspire_select_score(&s, t->rule);
        row.seconds = aspire_now() - t_start;
        if (t->nlog < MAX_LOG) t->log[t->nlog++] = row;
        t->have_best = 1;
        t->best = s;
        t->best_epoch = row.epoch;
        rc = save_model(t, &t->main, "best.safetensors", row.epoch, t->rule, row.score);
    }
    if (!rc) rc = write_logs(t);
    return rc;
}

static int dfr_stage(trainer *t, cJSON *result) {
    double t_start = aspire_now();
    aspire_dfr_report rep;
    int rc = dfr_fit_head(t, &rep);
    if (!rc) rc = dfr_select(t, t_start);
    if (rc) return rc;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "C", rep.c);
    cJSON *grid = cJSON_AddArrayToObject(d, "C_grid"), *sc = cJSON_AddArrayToObject(d, "tune_worst_group");
    for (int c = 0; c < rep.nc; c++) {
        cJSON_AddItemToArray(grid, cJSON_CreateNumber(rep.c_grid[c]));
        cJSON_AddItemToArray(sc, cJSON_CreateNumber(rep.tune_worst[c]));
    }
    cJSON_AddNumberToObject(d, "retrains", t->cfg.dfr_retrains);
    cJSON_AddNumberToObject(d, "retraining_set_size", (double)rep.balanced_n);
    cJSON_AddNumberToObject(d, "extra_images", (double)t->data.extra.n);
    if (rep.nw > 0) {
        cJSON_AddNumberToObject(d, "extra_weight", rep.extra_weight);
        cJSON *wg = cJSON_AddArrayToObject(d, "extra_weight_grid"), *ws = cJSON_AddArrayToObject(d, "tune_worst_group_by_weight");
        for (int w = 0; w < rep.nw; w++) {
            cJSON_AddItemToArray(wg, cJSON_CreateNumber(rep.w_grid[w]));
            cJSON_AddItemToArray(ws, cJSON_CreateNumber(rep.tune_worst_w[w]));
        }
        cJSON_AddStringToObject(d, "extra_weight_note", "the extra images of a class weigh together extra_weight "
                                                        "times one balanced validation group; tuned with C");
    }
    cJSON_AddStringToObject(d, "note", "the last layer is fitted on the validation split, so validation "
                                       "figures after DFR are not held out; judge it on test");
    char *txt = cJSON_Print(d);
    char path[RUN_PATH_MAX];
    run_path(t, "dfr.json", path);
    if (txt) rc = aspire_write_file_atomic(path, txt, strlen(txt));
    cJSON_free(txt);
    cJSON_AddItemToObject(result, "dfr", d);
    return rc;
}

/* ---- the run -------------------------------------------------------------------------------- */
static int check_config(const aspire_train_config *c, int init_from_ckpt) {
    if (!c->data_dir) return aspire_error(ASPIRE_ERR_ARG, "no dataset folder given (--data)");
    if (!c->out_dir) return aspire_error(ASPIRE_ERR_ARG, "no run folder given (--out)");
    if (strlen(c->out_dir) > RUN_PATH_MAX - 64) return aspire_error(ASPIRE_ERR_ARG, "--out: a path of %zu bytes is too long", strlen(c->out_dir));
    int rc = tr_config_check(c, NULL);  /* every numeric option finite and in range (config.c's table) */
    if (rc) return rc;
    if (c->base_run && c->method != ASPIRE_METHOD_DFR) return aspire_error(ASPIRE_ERR_ARG, "--base is for --method dfr only");
    if (c->init && !init_from_ckpt && aspire_classifier_check_init(c->init)) return aspire_error_prefix(ASPIRE_ERR_ARG, "--init");
    return aspire_classifier_check_arch(c->arch);
}

static void trainer_destroy(trainer *t) {
    slot_free(&t->main);
    slot_free(&t->biased);
    aspire_ctx_free(t->ctx);
    size_t nb = (size_t)(t->n_pool ? t->n_pool : 1), gb = (size_t)(t->G ? t->G : 1);
    aspire_free(t->pool_y, nb * sizeof(int32_t));
    aspire_free(t->pool_g, nb * sizeof(int32_t));
    aspire_free(t->group_n, gb * sizeof(int64_t));
    aspire_free(t->dro_q, gb * sizeof(double));
    aspire_free(t->lff_mem, nb * 3 * sizeof(float));
    aspire_free(t->jtt_w, nb * sizeof(double));
    aspire_dataset_free(t->pool_owned);
    tr_data_destroy(&t->data);
    aspire_train_config_strings_free(&t->strings);
}

/* DFR with --base: the backbone is another run's selected model (same architecture and size). */
static int load_base(trainer *t) {
    aspire_train_config bc;
    aspire_train_strings bs;
    int rc = aspire_train_config_load(t->cfg.base_run, &bc, &bs);
    if (rc) return aspire_error_prefix(rc, "--base");
    if (strcmp(bc.arch, t->cfg.arch) != 0 || bc.image_size != t->cfg.image_size)
        rc = aspire_error(ASPIRE_ERR_ARG, "--base %s was trained as %s at %d px, this run is %s at %d px", t->cfg.base_run,
                          bc.arch, bc.image_size, t->cfg.arch, t->cfg.image_size);
    aspire_train_config_strings_free(&bs);
    if (rc) return rc;
    char *path = aspire_path_join(t->cfg.base_run, "best.safetensors");
    rc = path ? aspire_params_load(aspire_resnet_params(t->main.net), path) : ASPIRE_ERR_NOMEM;
    aspire_strfree(path);
    return rc;
}

int aspire_train_finished(const char *run_dir) {
    char *p = aspire_path_join(run_dir, "train.json");
    char *buf = NULL;
    size_t len = 0;
    int finished = 0;
    if (p && !aspire_read_file(p, &buf, &len)) {
        cJSON *root = cJSON_ParseWithLength(buf, len);
        finished = root && cJSON_GetObjectItem(root, "result") != NULL;
        cJSON_Delete(root);
        aspire_free(buf, len + 1);
    }
    aspire_strfree(p);
    aspire_error_clear();
    return finished;
}

/* What a run folder holds: nothing (no train.json), a run that never finished an epoch (train.json
 * without a checkpoint: it may be started again, with new options), a run under way (a
 * checkpoint), or a finished run. */
enum { RUN_NONE, RUN_STARTED, RUN_GOING, RUN_FINISHED };

static int file_in(const char *dir, const char *name) {
    char *p = aspire_path_join(dir, name);
    int e = p && aspire_file_exists(p);
    aspire_strfree(p);
    return e;
}

static int run_state(const char *dir) {
    if (!dir || !file_in(dir, "train.json")) return RUN_NONE;
    if (aspire_train_finished(dir)) return RUN_FINISHED;
    return file_in(dir, "checkpoint.safetensors") ? RUN_GOING : RUN_STARTED;
}

/* A relative path made absolute (the working folder before it; symbolic links are kept as named)
 * into strings slot k, so that train.json names the same files from any folder. */
static const char *absolute(trainer *t, const char *path, int k) {
    if (!path || !*path || path[0] == '/') return path;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return path;  /* kept as given: the run then works from here only */
    t->strings.s[k] = aspire_path_join(cwd, strncmp(path, "./", 2) == 0 ? path + 2 : path);
    return t->strings.s[k] ? t->strings.s[k] : path;
}

/* Files of an earlier attempt that never finished an epoch, removed before starting again. */
static int remove_attempt(const trainer *t) {
    static const char *const names[] = {"best.safetensors", "log.csv", "curve.svg", "stage1_best.safetensors",
                                        "stage1_last.safetensors", "dfr.json"};  /* train.json: rewritten once set up */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[RUN_PATH_MAX];
        run_path(t, names[i], p);
        int bad = remove(p) != 0 && errno != ENOENT;
        if (bad) return aspire_error(ASPIRE_ERR_IO, "%s: cannot remove %s of the earlier attempt: %s", t->cfg.out_dir, names[i], strerror(errno));
    }
    return ASPIRE_OK;
}

/* --resume: the config from RUNDIR's train.json (checked as strictly as the command line) and the
 * checkpoint to continue from (*ckpt NULL when no epoch finished: the run starts again). */
static int resume_config(trainer *t, const aspire_train_config *cfg_in, int state, aspire_safetensors **ckpt) {
    int rc = aspire_train_config_load(cfg_in->out_dir, &t->cfg, &t->strings);
    t->cfg.out_dir = cfg_in->out_dir;
    t->cfg.progress = cfg_in->progress;
    t->cfg.stop_after = cfg_in->stop_after;
    t->cfg.engine = cfg_in->engine;
    t->cfg.allow_outside_paths |= cfg_in->allow_outside_paths;
    t->cfg.resume = 1;
    if (!rc && state == RUN_GOING) {
        char p[RUN_PATH_MAX];
        run_path(t, "checkpoint.safetensors", p);
        rc = aspire_safetensors_open(ckpt, p);
    }
    if (!rc && state == RUN_STARTED && t->cfg.progress)
        fprintf(stderr, "%s: no epoch of this run finished; starting it again with the options of its train.json\n", cfg_in->out_dir);
    return rc;
}

/* The configuration (from RUNDIR's train.json when resuming) and the checkpoint to resume from
 * (*ckpt NULL when none); locks and creates RUNDIR. A run that never finished an epoch is started
 * again: with the options given, or with --resume and no --data, with those of its train.json. */
static int train_open(trainer *t, const aspire_train_config *cfg_in, int *resuming, aspire_safetensors **ckpt,
                      aspire_rundir_lock **lock) {
    int rc = ASPIRE_OK, state = run_state(cfg_in->out_dir);
    *resuming = cfg_in->resume && (state == RUN_GOING || state == RUN_FINISHED || (state == RUN_STARTED && !cfg_in->data_dir));
    if (*resuming) {
        rc = resume_config(t, cfg_in, state, ckpt);
    } else {  /* a new run names its files absolutely (train.json may be read from anywhere) */
        t->cfg.data_dir = absolute(t, t->cfg.data_dir, 8);
        t->cfg.extra_dir = absolute(t, t->cfg.extra_dir, 9);
        t->cfg.base_run = absolute(t, t->cfg.base_run, 10);
        if (t->cfg.init && strcmp(t->cfg.init, "torchvision") != 0 && strcmp(t->cfg.init, "pytorch") != 0)
            t->cfg.init = absolute(t, t->cfg.init, 11);
        t->cfg.data_fingerprint = NULL;  /* computed from the dataset in train_setup */
        t->cfg.extra_fingerprint = NULL;
    }
    if (!rc) rc = check_config(&t->cfg, *ckpt != NULL);
    if (!rc) rc = aspire_rundir_lock_take(lock, t->cfg.out_dir, "aspire train");  /* one process per run folder */
    if (!rc && !*resuming && (state == RUN_GOING || state == RUN_FINISHED))
        rc = aspire_error(ASPIRE_ERR_ARG, "%s already holds a run (--resume continues it; or choose another --out)", t->cfg.out_dir);
    if (!rc && state == RUN_STARTED) {
        if (!*resuming && t->cfg.progress)
            fprintf(stderr, "%s: no epoch of the run there finished; starting again with the options given\n", t->cfg.out_dir);
        rc = remove_attempt(t);
    }
    if (!rc) rc = aspire_mkdir_p(t->cfg.out_dir);
    return rc;
}

/* The log rows of the epochs before the checkpoint. */
static int resume_log(trainer *t, int next_epoch) {
    char p[RUN_PATH_MAX];
    run_path(t, "log.csv", p);
    int n = 0, rc = ASPIRE_OK;
    if (aspire_file_exists(p)) rc = tr_log_read_csv(p, t->log, MAX_LOG, &n);
    t->nlog = 0;
    for (int i = 0; !rc && i < n; i++)
        if (t->log[i].epoch < next_epoch) t->log[t->nlog++] = t->log[i];
    return rc;
}

/* Data, pool, context and the models (state from the checkpoint when there is one). */
static int train_setup(trainer *t, aspire_safetensors *ckpt, int *next_epoch, int *stage_no) {
    t->rule = aspire_method_select_rule(t->cfg.method);
    int which = TR_SPLIT_TRAIN | TR_SPLIT_VAL | (t->cfg.extra_dir ? TR_SPLIT_EXTRA : 0);
    int rc = tr_data_load(&t->data, t->cfg.data_dir, t->cfg.extra_dir, t->cfg.image_size, which, t->cfg.limit_train,
                          t->cfg.progress, t->cfg.allow_outside_paths);
    if (rc) return rc;
    t->K = t->data.K;
    t->P = t->data.P;
    rc = tr_data_fingerprint(aspire_dataset_index_path(t->data.index), t->fingerprint, sizeof t->fingerprint);
    if (rc) return rc;
    if (t->cfg.data_fingerprint && strcmp(t->cfg.data_fingerprint, t->fingerprint) != 0)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s changed since the run in %s started (fingerprint %s, train.json has %s); a run "
                            "cannot go on with another dataset: start a new run", aspire_dataset_index_path(t->data.index),
                            t->cfg.out_dir, t->fingerprint, t->cfg.data_fingerprint);
    t->cfg.data_fingerprint = t->fingerprint;
    if (t->cfg.extra_dir) {
        char *meta = aspire_path_join(t->cfg.extra_dir, "metadata.csv");
        rc = meta ? tr_data_fingerprint(meta, t->extra_fingerprint, sizeof t->extra_fingerprint)
                  : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        if (!rc && t->cfg.extra_fingerprint && strcmp(t->cfg.extra_fingerprint, t->extra_fingerprint) != 0)
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s changed since the run in %s started (fingerprint %s, train.json has %s); a "
                              "run cannot go on with other extra images: start a new run", meta, t->cfg.out_dir,
                              t->extra_fingerprint, t->cfg.extra_fingerprint);
        aspire_strfree(meta);
        if (rc) return rc;
        t->cfg.extra_fingerprint = t->extra_fingerprint;
    }
    if (t->data.val.n == 0) return aspire_error(ASPIRE_ERR_FORMAT, "%s: the validation split (split 1) is empty", t->cfg.data_dir);
    rc = build_pool(t);
    aspire_ctx_options co = t->cfg.engine;
    co.threads = t->cfg.threads;
    co.seed = mix(t->cfg.seed, 0xC7);
    if (!rc) rc = aspire_ctx_new(&t->ctx, &co);
    if (!rc && ckpt) rc = read_checkpoint_meta(t, ckpt, next_epoch, stage_no);
    if (!rc && ckpt) rc = resume_log(t, *next_epoch);
    /* models: for JTT stage 2 the retrained model has its own initialisation */
    if (!rc) rc = slot_new(t, &t->main, *stage_no == 2 && t->cfg.method == ASPIRE_METHOD_JTT ? 2 : 1, ckpt != NULL);
    if (!rc && t->cfg.method == ASPIRE_METHOD_LFF) {
        rc = slot_new(t, &t->biased, 3, ckpt != NULL);
        size_t nb = (size_t)(t->n_pool ? t->n_pool : 1);
        t->lff_mem = rc ? NULL : aspire_calloc(nb * 3, sizeof(float));
        if (!rc && !t->lff_mem) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        if (!rc) {
            tr_lff l = {t->n_pool, t->K, t->cfg.lff_ema, t->cfg.lff_q, t->pool_y, t->lff_mem, t->lff_mem + nb, t->lff_mem + 2 * nb};
            t->lff = l;
        }
    }
    if (!rc && t->cfg.method == ASPIRE_METHOD_GROUPDRO)
        for (int q = 0; q < t->G; q++) t->dro_q[q] = 1.0 / t->G;
    if (!rc && t->cfg.method == ASPIRE_METHOD_JTT && *stage_no == 2) {
        t->jtt_w = aspire_calloc((size_t)(t->n_pool ? t->n_pool : 1), sizeof(double));
        if (!t->jtt_w) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    }
    if (!rc && ckpt) rc = load_checkpoint_state(t, ckpt);
    /* NaN or infinite initial weights (a --init file, a checkpoint) would train into a NaN model */
    const char *from = ckpt ? aspire_safetensors_path(ckpt) : t->cfg.init ? t->cfg.init : "initialisation";
    if (!rc) rc = check_finite(&t->main, from);
    if (!rc) rc = check_finite(&t->biased, from);
    return rc;
}

/* JTT: the identification model (stage 1), its error set, the retrained model (stage 2). */
static int run_jtt(trainer *t, cJSON *result, int next_epoch, int stage_no) {
    const int T = t->cfg.jtt_epochs, E = t->cfg.epochs;
    int rc = ASPIRE_OK;
    if (stage_no == 1) {
        stage s1 = {1, 0, T, t->n_train, SAMPLE_SHUFFLE, NULL, NULL, 0, 0, t->rule, NULL};
        rc = run_stage(t, &s1, next_epoch);
        /* the error set, and the retrained model, which starts afresh */
        if (!rc) {
            t->jtt_w = aspire_calloc((size_t)(t->n_pool ? t->n_pool : 1), sizeof(double));
            rc = t->jtt_w ? jtt_error_set(t) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        }
        if (!rc) rc = save_model(t, &t->main, "stage1_last.safetensors", T - 1, t->rule, NAN);
        if (!rc) {
            slot_free(&t->main);
            rc = slot_new(t, &t->main, 2, 0);  /* JTT's retrained model starts from --init */
        }
        if (!rc) rc = save_checkpoint(t, T, 2);
        next_epoch = T;
        if (!rc && t->cfg.progress)
            fprintf(stderr, "jtt: error set of the identification model: %lld of %lld training images, upweighted x%g\n",
                    (long long)t->jtt_errors, (long long)t->n_train, t->cfg.jtt_up);
    }
    stage s2 = {2, T, E, t->n_pool, SAMPLE_WEIGHTED, t->jtt_w, NULL, 0, 1, t->rule, "best.safetensors"};
    if (!rc) rc = run_stage(t, &s2, next_epoch);
    if (!rc) cJSON_AddNumberToObject(result, "jtt_error_set", (double)t->jtt_errors);
    return rc;
}

/* DFR: the ERM backbone (trained here, or another run's), then the last layer. */
static int run_dfr(trainer *t, cJSON *result, int next_epoch) {
    const int E = t->cfg.epochs;
    int rc = ASPIRE_OK;
    if (t->cfg.base_run) {
        rc = load_base(t);
    } else {
        stage s1 = {1, 0, E, t->n_train, SAMPLE_SHUFFLE, NULL, NULL, 0, 1, ASPIRE_SELECT_WORST_CLASS, "stage1_best.safetensors"};
        if (next_epoch < E) rc = run_stage(t, &s1, next_epoch);
        /* the backbone is ERM's selected model (ERM's rule: worst-class validation accuracy) */
        if (!rc) {
            char p[RUN_PATH_MAX];
            run_path(t, "stage1_best.safetensors", p);
            rc = aspire_params_load(aspire_resnet_params(t->main.net), p);
        }
    }
    return rc ? rc : dfr_stage(t, result);
}

/* ERM and the one-stage group methods: plain, group-balanced or subsampled draws. */
static int run_plain(trainer *t, cJSON *result, int next_epoch) {
    stage s = {1, 0, t->cfg.epochs, t->n_pool, SAMPLE_SHUFFLE, NULL, NULL, 0, 1, t->rule, "best.safetensors"};
    double *w = NULL;
    int64_t *subset = NULL;
    size_t nb = (size_t)(t->n_pool ? t->n_pool : 1);
    int rc = ASPIRE_OK;
    if (t->cfg.method == ASPIRE_METHOD_REWEIGHT || t->cfg.method == ASPIRE_METHOD_GROUPDRO) {
        w = aspire_malloc(nb * sizeof(double));
        if (!w) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        else tr_group_balance_weights(w, t->pool_g, t->n_pool, t->G);
        s.sampling = SAMPLE_WEIGHTED;
        s.weights = w;
    } else if (t->cfg.method == ASPIRE_METHOD_SUBSAMPLE) {
        subset = aspire_malloc(nb * sizeof(int64_t));
        if (!subset) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        else {
            aspire_rng r;
            aspire_rng_seed(&r, mix(t->cfg.seed, 0x5B5));
            s.nsubset = tr_subsample_groups(subset, t->pool_g, t->n_pool, t->G, &r);
            s.subset = subset;
            s.sampling = SAMPLE_SUBSET;
            cJSON_AddNumberToObject(result, "subsample_size", (double)s.nsubset);
            if (s.nsubset == 0) rc = aspire_error(ASPIRE_ERR_ARG, "subsample: no group has any training image");
        }
    }
    if (!rc) rc = run_stage(t, &s, next_epoch);
    aspire_free(w, nb * sizeof(double));
    aspire_free(subset, nb * sizeof(int64_t));
    return rc;
}

/* The result (written last into train.json: the run's completion marker). Takes result. */
static int finish_run(trainer *t, cJSON *result) {
    double secs = t->seconds_before + (aspire_now() - t->t0);
    cJSON_AddNumberToObject(result, "selected_epoch", t->best_epoch);
    cJSON_AddStringToObject(result, "selection", aspire_select_rule_name(t->rule));
    cJSON_AddItemToObject(result, "val_at_selected", summary_json(&t->best));
    double ips = 0;
    int nips = 0;
    for (int i = 0; i < t->nlog; i++)
        if (t->log[i].images_per_s > 0) { ips += t->log[i].images_per_s; nips++; }
    cJSON_AddNumberToObject(result, "train_images_per_s", nips ? ips / nips : 0);
    cJSON_AddNumberToObject(result, "minutes", secs / 60);
    /* CPU time of this call (all threads): with wall time, shows how busy the machine was */
    cJSON_AddNumberToObject(result, "cpu_minutes_this_call", (cpu_now() - t->cpu0) / 60);
    cJSON_AddNumberToObject(result, "threads", aspire_get_threads());
    int rc = write_train_json(t, result);
    if (!rc && t->cfg.progress)
        fprintf(stderr, "%s: selected epoch %d by %s validation accuracy (mean %.1f%%, worst group %.1f%%, worst class %.1f%%), %.1f min\n",
                t->cfg.out_dir, t->best_epoch + 1, t->rule == ASPIRE_SELECT_WORST_GROUP ? "worst-group" : "worst-class",
                100 * t->best.mean, 100 * t->best.worst_group, 100 * t->best.worst_class, secs / 60);
    return rc;
}

/* The method's stages from (next_epoch, stage_no) on, then the result. */
static int train_body(trainer *t, int next_epoch, int stage_no) {
    cJSON *result = cJSON_CreateObject();
    if (!result) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    t->total_epochs = t->cfg.epochs + (t->cfg.method == ASPIRE_METHOD_JTT ? t->cfg.jtt_epochs : 0);
    int rc = t->cfg.method == ASPIRE_METHOD_JTT   ? run_jtt(t, result, next_epoch, stage_no)
             : t->cfg.method == ASPIRE_METHOD_DFR ? run_dfr(t, result, next_epoch)
                                                  : run_plain(t, result, next_epoch);
    if (rc == TR_STOPPED) {
        rc = ASPIRE_OK;
        if (t->cfg.progress)
            fprintf(stderr, "%s: stopped after %d epochs as asked; --resume continues\n", t->cfg.out_dir, t->epochs_done_here);
    } else if (!rc) {
        rc = finish_run(t, result);
        result = NULL;
    }
    cJSON_Delete(result);
    return rc;
}

int aspire_train_run(const aspire_train_config *cfg_in) {
    trainer *t = aspire_calloc(1, sizeof *t);
    if (!t) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    t->t0 = aspire_now();
    t->cpu0 = cpu_now();
    t->cfg = *cfg_in;
    int next_epoch = 0, stage_no = 1, resuming = 0, prev = -1;
    aspire_safetensors *ckpt = NULL;
    aspire_rundir_lock *lock = NULL;  /* rundir.h: the run folder belongs to one process */
    int rc = train_open(t, cfg_in, &resuming, &ckpt, &lock);
    if (!rc) {
        prev = aspire_threads_enter(t->cfg.threads);
        rc = train_setup(t, ckpt, &next_epoch, &stage_no);
    }
    aspire_safetensors_free(ckpt);
    if (!rc && (!resuming || !next_epoch)) rc = write_train_json(t, NULL);
    if (!rc && aspire_train_finished(t->cfg.out_dir)) {
        if (t->cfg.progress) fprintf(stderr, "%s: the run has already finished\n", t->cfg.out_dir);
    } else if (!rc) {
        rc = train_body(t, next_epoch, stage_no);
    }
    if (prev > 0) aspire_threads_leave(prev);
    trainer_destroy(t);
    aspire_free(t, sizeof *t);
    aspire_rundir_unlock(lock);
    return rc;
}
