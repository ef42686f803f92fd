/* stages.c — the stage table of `aspire run` and each stage's body. Every body writes only inside
 * its own folder (the report stage writes RUNDIR/report.html) and relies on the library call it
 * wraps to be resumable: training continues from its checkpoint, detect and generate re-use the
 * files they already wrote. */
#include "aspire/csv.h"
#include "aspire/dataset.h"
#include "aspire/detect.h"
#include "aspire/fileio.h"
#include "aspire/personalize.h"
#include "aspire/rundir.h"
#include "pipeline_internal.h"

#include <stdio.h>
#include <string.h>

/* Whether DIR/metadata.csv lists at least one image: two non-empty lines (the header and a row). */
static int has_images(const char *dir) {
    char *p = pl_path(dir, "metadata.csv", NULL), *buf = NULL;
    size_t n = 0;
    int lines = 0;
    if (p && aspire_read_file(p, &buf, &n) == ASPIRE_OK)
        for (size_t i = 0; i < n; i++) lines += buf[i] != '\n' && buf[i] != '\r' && (i == 0 || buf[i - 1] == '\n');
    if (buf) aspire_free(buf, n + 1);
    aspire_strfree(p);
    aspire_error_clear();
    return lines >= 2;
}

static aspire_train_config train_cfg(const pl_ctx *c, aspire_method m, const char *out, const char *extra) {
    const aspire_pipeline_opts *o = c->o;
    aspire_train_config t = aspire_train_config_default();
    t.data_dir = o->data;
    t.out_dir = out;
    t.extra_dir = extra;
    t.method = m;
    t.seed = o->seed;
    t.threads = o->threads;
    if (o->epochs > 0) t.epochs = o->epochs;
    if (o->image_size > 0) t.image_size = o->image_size;
    if (o->batch > 0) t.batch = o->batch;
    if (m == ASPIRE_METHOD_JTT && t.epochs < t.jtt_epochs) t.jtt_epochs = t.epochs;
    t.limit_train = o->limit_train;
    t.resume = 1;   /* an interrupted stage continues from its checkpoint */
    t.progress = o->progress;
    t.engine.threads = o->threads;
    t.engine.seed = o->seed;
    return t;
}

/* The options every training stage shares (what makes its runs what they are). */
static int train_options(const pl_ctx *c, cJSON *j) {
    aspire_train_config t = train_cfg(c, ASPIRE_METHOD_ERM, NULL, NULL);
    int ok = cJSON_AddNumberToObject(j, "seed", (double)t.seed) && cJSON_AddNumberToObject(j, "threads", t.threads) &&
             cJSON_AddNumberToObject(j, "epochs", t.epochs) && cJSON_AddNumberToObject(j, "image_size", t.image_size) &&
             cJSON_AddNumberToObject(j, "batch", t.batch) &&
             cJSON_AddNumberToObject(j, "limit_train", (double)t.limit_train);
    return ok ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
}

/* Trains one run into dir/name (resuming) and writes its test evaluation beside it. base: the run
 * whose backbone DFR keeps (DFR retrains only the last layer), NULL for the other methods. */
static int train_one(const pl_ctx *c, const char *dir, const char *name, aspire_method m, const char *extra,
                     const char *base) {
    char *out = pl_path(dir, name, NULL), *ev = pl_path(dir, name, "eval-test.json");
    int rc = out && ev ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    if (!rc) {
        aspire_train_config t = train_cfg(c, m, out, extra);
        t.base_run = base;
        rc = aspire_train_run(&t);
    }
    if (!rc) rc = pl_eval_to_file(out, c->o->threads, ev);
    aspire_strfree(out);
    aspire_strfree(ev);
    return rc;
}

/* A part's key material: the training options, the inputs the part depends on (of `inputs`,
 * in the order of `deps`), its name, method, where its extra images come from and its base's key.
 * Built the same way from the current record and from an existing part.json, so that a part
 * written before (by an older aspire, which hashed all of retrain's inputs) is recognised when
 * what it depends on is unchanged. NULL when out of memory or when a field or a dependency is
 * missing (an old part.json of another form: it is not the same part). */
static cJSON *part_material(const cJSON *options, const cJSON *inputs, const char *const *deps, int n_deps,
                            const char *name, const char *method, const char *extra, const char *base) {
    cJSON *k = cJSON_CreateObject(), *ins = NULL;
    int ok = k && options && name && method && extra && base &&
             cJSON_AddItemToObject(k, "options", cJSON_Duplicate(options, 1)) &&
             (ins = cJSON_AddObjectToObject(k, "inputs")) != NULL;
    for (int i = 0; ok && i < n_deps; i++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(inputs, deps[i]));
        ok = v && cJSON_AddStringToObject(ins, deps[i], v);
    }
    ok = ok && cJSON_AddStringToObject(k, "name", name) && cJSON_AddStringToObject(k, "method", method) &&
         cJSON_AddStringToObject(k, "extra", extra) && cJSON_AddStringToObject(k, "base", base);
    if (!ok) cJSON_Delete(k);
    return ok ? k : NULL;
}

static uint64_t material_key(const cJSON *k) {
    char *text = k ? cJSON_PrintUnformatted(k) : NULL;
    uint64_t h = text ? pl_fnv1a(PL_FNV_INIT, text, strlen(text)) : 0;
    cJSON_free(text);
    return h;
}

/* One part of retrain: the run dir/name of method m with the extra images `extra` (NULL: none)
 * and, for DFR, the backbone of the run `base`. Its key hashes the training options, the inputs it
 * depends on — the dataset always; the stage its extra images come from (generate or detect);
 * train-erm when it keeps train-erm's backbone — the name, the method, where its extra images come
 * from and its base's key, and is kept in dir/name/part.json: written first ("running") and
 * marked complete last. So a new generator retrains the parts with generated images and keeps
 * JTT, GroupDRO, DFR alone and the selected-edits ablation. A complete part with the same key is
 * kept; a running one resumes; any other folder there is removed and the run made again.
 * key_out (17 bytes) gets the part's key. */
static int retrain_part(pl_ctx *c, const char *dir, const char *name, aspire_method m, const char *extra,
                        const char *base, const char *base_key, char key_out[17]) {
    /* where the extra images come from, "/<stage>/<dir>" under the run folder; <stage> is a dependency */
    const char *xrel = extra ? extra + strlen(c->rundir) : "none";
    const char *deps[3] = {"data"};
    int n_deps = 1;
    char src[64] = "";
    if (extra) {
        const char *stage = xrel + (*xrel == '/');
        snprintf(src, sizeof src, "%.*s", (int)strcspn(stage, "/"), stage);
        deps[n_deps++] = src;
    }
    if (base_key && strcmp(base_key, "train-erm") == 0) deps[n_deps++] = "train-erm";
    const cJSON *ins = cJSON_GetObjectItem(c->record, "inputs");
    int rc = ASPIRE_OK;
    for (int i = 0; i < n_deps && !rc; i++)   /* a part reading a stage retrain's record does not name */
        if (!cJSON_GetObjectItem(ins, deps[i]))
            rc = aspire_error(ASPIRE_ERR_ARG, "retrain: %s: reads %s, which is not among retrain's stage inputs", name,
                              deps[i]);
    cJSON *opts = rc ? NULL : cJSON_CreateObject();
    if (!rc) rc = opts ? train_options(c, opts) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    cJSON *k = rc ? NULL
                  : part_material(opts, ins, deps, n_deps, name, aspire_method_name(m), xrel,
                                  base_key ? base_key : "none");
    cJSON_Delete(opts);
    if (!rc && !k) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    char *run = pl_path(dir, name, NULL), *pj = pl_path(dir, name, "part.json");
    if (!rc && !(run && pj)) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    uint64_t h = material_key(k);
    snprintf(key_out, 17, "%016llx", (unsigned long long)h);
    cJSON *old = !rc && aspire_file_exists(pj) ? pl_read_json(pj) : NULL;
    aspire_error_clear();
    /* the old part's key, recomputed from its recorded material with the same dependencies */
    cJSON *om = old ? part_material(cJSON_GetObjectItem(old, "options"), cJSON_GetObjectItem(old, "inputs"), deps, n_deps,
                                    cJSON_GetStringValue(cJSON_GetObjectItem(old, "name")),
                                    cJSON_GetStringValue(cJSON_GetObjectItem(old, "method")),
                                    cJSON_GetStringValue(cJSON_GetObjectItem(old, "extra")),
                                    cJSON_GetStringValue(cJSON_GetObjectItem(old, "base")))
                    : NULL;
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(old, "status"));
    int same = om && material_key(om) == h, done = same && st && strcmp(st, "complete") == 0;
    cJSON_Delete(om);
    char *ev = done ? pl_path(run, "eval-test.json", NULL) : NULL;
    done = done && ev && aspire_file_exists(ev);
    aspire_strfree(ev);
    FILE *log = c->o->log ? c->o->log : c->o->progress ? stderr : NULL;
    if (!rc && log)
        fprintf(log, "retrain: %s: %s\n", name,
                done ? "complete, kept" : same ? "interrupted before: resuming"
                : old ? "its options or inputs changed: training it again"
                : aspire_file_exists(run) ? "a run without part.json (an older aspire): training it again"
                : "training");
    if (!rc && done && !(cJSON_AddStringToObject(k, "key", key_out) && cJSON_AddStringToObject(k, "status", "complete")))
        rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    /* a kept part's record is rewritten in today's form (its key over what it depends on) */
    if (!rc && done && !cJSON_Compare(old, k, 1)) rc = pl_write_json(pj, k);
    if (!rc && !done) {
        if (!same) rc = aspire_remove_tree(run);
        if (!rc) rc = aspire_mkdir_p(run);
        if (!rc && !(cJSON_AddStringToObject(k, "key", key_out) && cJSON_AddStringToObject(k, "status", "running")))
            rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        if (!rc) rc = pl_write_json(pj, k);
        if (!rc) rc = train_one(c, dir, name, m, extra, base);
        if (!rc) rc = aspire_sync_fs(run);
        if (!rc) cJSON_ReplaceItemInObject(k, "status", cJSON_CreateString("complete"));
        if (!rc) rc = pl_write_json(pj, k);
    }
    cJSON_Delete(old);
    cJSON_Delete(k);
    aspire_strfree(run);
    aspire_strfree(pj);
    return rc;
}

static int run_train_erm(pl_ctx *c, const char *dir) { return train_one(c, dir, "run", ASPIRE_METHOD_ERM, NULL, NULL); }

static int detect_options(const pl_ctx *c, cJSON *j) {
    aspire_detect_opts d;
    aspire_detect_opts_init(&d);
    int ok = cJSON_AddNumberToObject(j, "seed", (double)c->o->seed) &&
             cJSON_AddNumberToObject(j, "holdout_frac", d.holdout_frac) &&
             cJSON_AddNumberToObject(j, "per_class", d.max_per_class) &&
             cJSON_AddNumberToObject(j, "votes", d.votes) && cJSON_AddNumberToObject(j, "seam", d.seam) &&
             cJSON_AddNumberToObject(j, "min_occurrences", d.min_occ) &&
             cJSON_AddStringToObject(j, "alternatives", d.alternatives == ASPIRE_DETECT_ALT_IMAGE ? "image" : "class");
    return ok ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
}

static int run_detect(pl_ctx *c, const char *dir) {
    char *run = pl_path(c->rundir, "train-erm", "run");
    if (!run) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    aspire_detect_opts d;
    aspire_detect_opts_init(&d);
    d.out = dir;
    d.data = c->o->data;
    d.run = run;
    d.seed = c->o->seed;
    d.threads = c->o->threads;
    d.quiet = !c->o->progress;
    int rc = aspire_detect_run(&d);
    aspire_strfree(run);
    return rc;
}

/* The settings the first personalize and generate stage keys were made with. A setting enters a
 * stage key only once it differs from its value here: the keys made before it was recorded stay
 * valid, and a changed default makes the stage run again. */
#define FIRST_PERSONALIZE_LR 5e-3f
#define FIRST_PERSONALIZE_BATCH 16
#define FIRST_PERSONALIZE_T_MIN 0.0f
#define FIRST_PERSONALIZE_T_MAX 1.0f
#define FIRST_GUIDANCE 3.0f
#define FIRST_GENERATE_STEPS 25
#define FIRST_GENERATE_BATCH 16
#define FIRST_TEMPLATE "a photo of a {}"

/* ASPIRE's own personalization where it differs from aspire personalize's defaults (BENCHMARKS.md,
 * Generator): the tokens are trained over the whole schedule at the reference's learning rate (the
 * first keys' recipe), as SDEdit from the edits uses them at t < strength * T only; personalize's
 * default, the noisier half at 0.02, is for generation from text alone. */
static void run_personalize_opts(const pl_ctx *c, aspire_personalize_opts *p) {
    aspire_personalize_opts_default(p);
    p->lr = FIRST_PERSONALIZE_LR;
    p->t_min = FIRST_PERSONALIZE_T_MIN;
    p->t_max = FIRST_PERSONALIZE_T_MAX;
    if (c->o->personalize_steps > 0) p->steps = c->o->personalize_steps;
}

/* The guidance of ASPIRE's images: --guidance, else PL_RUN_GUIDANCE. */
static float run_guidance(const pl_ctx *c) { return c->o->guidance > 0.0f ? c->o->guidance : PL_RUN_GUIDANCE; }

static int personalize_options(const pl_ctx *c, cJSON *j) {
    aspire_personalize_opts p;
    run_personalize_opts(c, &p);
    int ok = cJSON_AddNumberToObject(j, "seed", (double)c->o->seed) && cJSON_AddNumberToObject(j, "steps", p.steps) &&
             cJSON_AddStringToObject(j, "model", c->generator);
    /* the recipe's other settings, each recorded once it differs from the first keys' value */
    if (ok && p.lr != FIRST_PERSONALIZE_LR) ok = cJSON_AddNumberToObject(j, "lr", p.lr) != NULL;
    if (ok && p.batch != FIRST_PERSONALIZE_BATCH) ok = cJSON_AddNumberToObject(j, "batch", p.batch) != NULL;
    if (ok && p.t_min != FIRST_PERSONALIZE_T_MIN) ok = cJSON_AddNumberToObject(j, "t_min", p.t_min) != NULL;
    if (ok && p.t_max != FIRST_PERSONALIZE_T_MAX) ok = cJSON_AddNumberToObject(j, "t_max", p.t_max) != NULL;
    if (ok && !p.flip) ok = cJSON_AddBoolToObject(j, "flip", 0) != NULL;
    return ok ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
}

static int run_personalize(pl_ctx *c, const char *dir) {
    char *images = pl_path(c->rundir, "detect", "selected"), *out = pl_path(dir, "embeds.safetensors", NULL);
    int rc = images && out ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    if (!rc && !has_images(images)) {   /* detect flipped nothing: no spurious feature, nothing to learn */
        if (c->o->progress)
            fprintf(stderr, "personalize: detect selected no image (no edit flipped the classifier): no token learned, "
                            "ASPIRE adds no image\n");
        aspire_strfree(images);
        aspire_strfree(out);
        return ASPIRE_OK;
    }
    if (!rc && !aspire_file_exists(c->generator))
        rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no generator model (models/generator.safetensors is not shipped yet?)",
                          c->generator);
    if (!rc) {
        aspire_personalize_opts p;
        run_personalize_opts(c, &p);
        p.images = images;
        p.out = out;
        p.model = c->generator;
        p.seed = c->o->seed;
        p.progress = c->o->progress;
        p.threads = c->o->threads;
        rc = aspire_personalize_run(&p, NULL);
    }
    aspire_strfree(images);
    aspire_strfree(out);
    return rc;
}

static int generate_options(const pl_ctx *c, cJSON *j) {
    aspire_generate_opts g;
    aspire_generate_opts_default(&g);
    int n = c->o->generate_n > 0 ? c->o->generate_n : g.n;
    /* the guidance and the sampler's other settings are recorded once they differ from the first
     * keys' values */
    const float scale = run_guidance(c);
    int ok = cJSON_AddNumberToObject(j, "seed", (double)c->o->seed) && cJSON_AddNumberToObject(j, "n", n) &&
             cJSON_AddStringToObject(j, "model", c->generator) &&
             cJSON_AddNumberToObject(j, "strength", c->o->strength) &&
             (scale == FIRST_GUIDANCE ? 1 : cJSON_AddNumberToObject(j, "guidance", scale) != NULL) &&
             cJSON_AddBoolToObject(j, "ablations", c->o->ablations);
    if (ok && g.sample.steps != FIRST_GENERATE_STEPS) ok = cJSON_AddNumberToObject(j, "steps", g.sample.steps) != NULL;
    if (ok && g.sample.eta != 0.0f) ok = cJSON_AddNumberToObject(j, "eta", g.sample.eta) != NULL;
    if (ok && g.batch != FIRST_GENERATE_BATCH) ok = cJSON_AddNumberToObject(j, "batch", g.batch) != NULL;
    if (ok && !g.keep_detail) ok = cJSON_AddBoolToObject(j, "detail", 0) != NULL;
    if (ok && strcmp(g.templ, FIRST_TEMPLATE) != 0) ok = cJSON_AddStringToObject(j, "template", g.templ) != NULL;
    return ok ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
}

static void generate_common(const pl_ctx *c, aspire_generate_opts *g, const char *out) {
    aspire_generate_opts_default(g);
    g->out = out;
    g->model = c->generator;
    if (c->o->generate_n > 0) g->n = c->o->generate_n;
    g->seed = c->o->seed;
    g->progress = c->o->progress;
    g->threads = c->o->threads;
}

/* The plain-prompt ablation: "a photo of a {class name}" per class, no personalization. */
static int generate_plain(const pl_ctx *c, const char *dir) {
    aspire_dataset_index *ix = NULL;
    int rc = aspire_dataset_index_open(&ix, c->o->data, NULL);
    const char *names[PL_MAX_CLASSES];
    int K = rc ? 0 : aspire_dataset_index_n_classes(ix);
    if (!rc && (K < 1 || K > PL_MAX_CLASSES))
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: %d classes, the plain-prompt ablation takes 1 to %d", c->o->data, K,
                          PL_MAX_CLASSES);
    for (int k = 0; !rc && k < K; k++) names[k] = aspire_dataset_index_class_name(ix, k);
    char *out = rc ? NULL : pl_path(dir, "plain", NULL);
    if (!rc && !out) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    if (!rc) {
        aspire_generate_opts g;
        generate_common(c, &g, out);
        g.names = names;
        g.n_names = K;
        rc = aspire_generate_run(&g, NULL);
    }
    aspire_strfree(out);
    aspire_dataset_index_free(ix);
    return rc;
}

/* The start-edits ablation's folder (pipeline_internal.h). */
int pl_write_starts(const char *images, const char *sel, const char *out) {
    char *meta = pl_path(images, "metadata.csv", NULL), *csvp = pl_path(out, "metadata.csv", NULL);
    aspire_csv *csv = NULL;
    aspire_csv_writer *w = NULL;
    int rc = meta && csvp ? aspire_csv_read(&csv, meta) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    int cf = 0, cy = 0, cs = rc ? -1 : aspire_csv_col(csv, "start");
    if (!rc) rc = aspire_remove_tree(out);
    if (!rc && cs >= 0) {   /* no start column: generated from the prompt alone, no folder */
        rc = aspire_csv_require(csv, "img_filename", &cf);
        if (!rc) rc = aspire_csv_require(csv, "y", &cy);
        if (!rc) rc = aspire_mkdir_p(out);
        if (!rc) rc = aspire_csv_writer_open(&w, csvp, 2, (const char *const[]){"img_filename", "y"});
    }
    for (int64_t i = 0; w && i < aspire_csv_nrows(csv) && !rc; i++) {
        const char *name = aspire_csv_field(csv, i, cf), *y = aspire_csv_field(csv, i, cy);
        char *src = pl_path(sel, aspire_csv_field(csv, i, cs), NULL), *dst = pl_path(out, name, NULL), *data = NULL;
        size_t len = 0;
        rc = src && dst ? aspire_read_file(src, &data, &len) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        char *slash = rc ? NULL : strrchr(dst, '/');
        if (slash && slash > dst + strlen(out)) {   /* "<y>/<k>.png": make <y>/ */
            *slash = 0;
            rc = aspire_mkdir_p(dst);
            *slash = '/';
        }
        if (!rc) rc = aspire_write_file_atomic(dst, data, len);
        if (!rc) rc = aspire_csv_writer_row(w, (const char *const[]){name, y});
        if (data) aspire_free(data, len + 1);
        aspire_strfree(src);
        aspire_strfree(dst);
    }
    if (w && !rc) rc = aspire_csv_writer_commit(w);
    else if (w) aspire_csv_writer_abort(w);
    aspire_csv_free(csv);
    aspire_strfree(meta);
    aspire_strfree(csvp);
    return rc;
}

/* ASPIRE's images: "a photo of a <classK>" per learned token, from text alone or (strength > 0)
 * each from one of detect's selected edits of its class (SDEdit); the ablation's beside them. */
static int run_generate(pl_ctx *c, const char *dir) {
    char *embeds = pl_path(c->rundir, "personalize", "embeds.safetensors"), *out = pl_path(dir, "images", NULL);
    char *sel = pl_path(c->rundir, "detect", "selected");
    int rc = embeds && out && sel ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    if (!rc && aspire_file_exists(embeds)) {   /* no embeds: detect selected nothing (see personalize) */
        aspire_generate_opts g;
        generate_common(c, &g, out);
        g.embeds = embeds;
        g.sample.scale = run_guidance(c);
        if (c->o->strength > 0.0f) {
            g.from = sel;
            g.sample.strength = c->o->strength;
        }
        rc = aspire_generate_run(&g, NULL);
        char *starts = rc || !c->o->ablations || !g.from ? NULL : pl_path(dir, "starts", NULL);
        if (!rc && c->o->ablations && g.from)   /* the start-edits ablation: the same images, not generated */
            rc = starts ? pl_write_starts(out, sel, starts) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        aspire_strfree(starts);
    }
    if (!rc && c->o->ablations) rc = generate_plain(c, dir);
    aspire_strfree(embeds);
    aspire_strfree(out);
    aspire_strfree(sel);
    return rc;
}

static int methods_options(const pl_ctx *c, cJSON *j) {
    int rc = train_options(c, j);
    if (!rc && !cJSON_AddBoolToObject(j, "ablations", c->o->ablations)) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    cJSON *m = rc ? NULL : cJSON_AddArrayToObject(j, "methods");
    for (int i = 0; m && i < c->n_methods; i++)
        if (!cJSON_AddItemToArray(m, cJSON_CreateString(aspire_method_name(c->methods[i])))) m = NULL;
    return rc ? rc : m ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
}

/* Ablation a's extra-images folder, RUNDIR/<stage>/<folder> (new string, NULL when out of memory);
 * *has: whether it holds any image (an optional ablation without images is neither trained nor
 * evaluated). */
static char *ablation_dir(const pl_ctx *c, int a, int *has) {
    char *ex = pl_path(c->rundir, pl_ablations[a].extra_stage, pl_ablations[a].extra_dir);
    *has = ex && has_images(ex);
    return ex;
}

/* Each method with the generated images; each method other than ERM also without them (ERM
 * without them is train-erm's run). DFR keeps a backbone and refits its last layer on the
 * validation split: DFR alone keeps train-erm's ERM model; DFR + ASPIRE keeps ERM + ASPIRE's
 * (retrain/erm-aspire, trained first when ERM is not among the methods) and adds the generated
 * images to its refitting set, as the reference adds ASPIRE's images to DFR's. */
static int run_retrain(pl_ctx *c, const char *dir) {
    char *extra = pl_path(c->rundir, "generate", "images"), *erm = pl_path(c->rundir, "train-erm", "run");
    char *erm_aspire = pl_path(dir, "erm-aspire", NULL);
    int rc = extra && erm && erm_aspire ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    if (!rc && !has_images(extra)) {   /* nothing generated: "with ASPIRE" is the method alone */
        if (c->o->progress) fprintf(stderr, "retrain: no generated image; the -aspire runs train without extra images\n");
        aspire_strfree(extra);
        extra = NULL;
    }
    char key[17], erm_key[17] = "";
    for (int i = 0; !rc && i < c->n_methods; i++) {
        char name[64];
        aspire_method m = c->methods[i];
        int dfr = m == ASPIRE_METHOD_DFR;
        if (m != ASPIRE_METHOD_ERM) {
            pl_run_names(m, 0, name, sizeof name);
            rc = retrain_part(c, dir, name, m, NULL, dfr ? erm : NULL, dfr ? "train-erm" : NULL, key);
        }
        if (!rc && dfr && extra && !*erm_key)
            rc = retrain_part(c, dir, "erm-aspire", ASPIRE_METHOD_ERM, extra, NULL, NULL, erm_key);
        pl_run_names(m, 1, name, sizeof name);
        if (!rc && dfr)
            rc = retrain_part(c, dir, name, m, extra, extra ? erm_aspire : erm, extra ? erm_key : "train-erm", key);
        else if (!rc)
            rc = retrain_part(c, dir, name, m, extra, NULL, NULL, m == ASPIRE_METHOD_ERM ? erm_key : key);
    }
    aspire_strfree(extra);
    aspire_strfree(erm);
    aspire_strfree(erm_aspire);
    for (int a = 0; !rc && c->o->ablations && a < PL_N_ABLATIONS; a++) {
        int has = 0;
        char *ex = ablation_dir(c, a, &has);
        if (!ex) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        else if (has || !pl_ablations[a].optional)
            rc = retrain_part(c, dir, pl_ablations[a].name, ASPIRE_METHOD_ERM, has ? ex : NULL, NULL, NULL, key);
        aspire_strfree(ex);
    }
    return rc;
}

/* The ablations `--ablations` adds: ERM with other extra images than ASPIRE's generated ones. */
const pl_ablation pl_ablations[PL_N_ABLATIONS] = {
    {"erm-plain", "generate", "plain", "ERM + plain prompts", "the same number of images generated from \"a photo of "
                                                              "a {class name}\", no personalization", 0},
    {"erm-edits", "detect", "selected", "ERM + selected edits", "detect's selected edited images alone (the set "
                                                                "personalization learns from)", 0},
    {"erm-starts", "generate", "starts", "ERM + start edits", "each generated image replaced by the selected edit it "
                                                             "started from (the same count, no generation)", 1},
};

/* evaluate: one table of every method with and without ASPIRE's images (the per-run test
 * evaluations the training stages wrote, gathered in one file). */
static int add_eval(cJSON *runs, const char *path, const char *name, int aspire, const pl_ablation *ab) {
    cJSON *e = pl_read_json(path);
    if (!e) return aspire_errstatus();
    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddBoolToObject(e, "aspire", aspire);
    if (ab) {
        cJSON_AddStringToObject(e, "label", ab->label);
        cJSON_AddStringToObject(e, "ablation", ab->what);
    }
    cJSON_AddItemToArray(runs, e);
    return ASPIRE_OK;
}

static int run_evaluate(pl_ctx *c, const char *dir) {
    cJSON *j = cJSON_CreateObject(), *runs = j ? cJSON_AddArrayToObject(j, "runs") : NULL;
    int rc = runs ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < c->n_methods; i++)
        for (int a = 0; !rc && a < 2; a++) {
            char name[64];
            pl_run_names(c->methods[i], a, name, sizeof name);
            int erm_plain = c->methods[i] == ASPIRE_METHOD_ERM && !a;
            char *p = erm_plain ? pl_path(c->rundir, "train-erm", "run/eval-test.json")
                                : pl_path(c->rundir, "retrain", name);
            char *f = p && !erm_plain ? pl_path(p, "eval-test.json", NULL) : NULL;
            rc = p ? add_eval(runs, erm_plain ? p : f, name, a, NULL) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
            aspire_strfree(p);
            aspire_strfree(f);
        }
    for (int a = 0; !rc && c->o->ablations && a < PL_N_ABLATIONS; a++) {
        char *f = pl_path(c->rundir, "retrain", pl_ablations[a].name), *g = f ? pl_path(f, "eval-test.json", NULL) : NULL;
        int has = 0;
        char *ex = ablation_dir(c, a, &has);
        if (!g || !ex) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        else if (has || !pl_ablations[a].optional)
            rc = add_eval(runs, g, pl_ablations[a].name, 0, &pl_ablations[a]);
        aspire_strfree(f);
        aspire_strfree(g);
        aspire_strfree(ex);
    }
    char *out = rc ? NULL : pl_path(dir, "results.json", NULL);
    if (!rc) rc = out ? pl_write_json(out, j) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    aspire_strfree(out);
    cJSON_Delete(j);
    return rc;
}

static int no_options(const pl_ctx *c, cJSON *j) {
    (void)c;
    (void)j;
    return ASPIRE_OK;
}

static int run_report(pl_ctx *c, const char *dir) {
    (void)dir;
    return aspire_report_html(c->rundir);
}

const pl_stage pl_stages[] = {
    {"train-erm", "data", "run/ (train.h's run folder), run/eval-test.json", train_options, run_train_erm, 1.0, 0},
    {"detect", "data,train-erm", "features.json, features.svg, selected/, detections.jsonl", detect_options, run_detect,
     2.0, 0},
    {"personalize", "detect,generator", "embeds.safetensors", personalize_options, run_personalize, 1.0, 0},
    {"generate", "personalize,generator", "images/ (metadata.csv, <y>/<k>.png)", generate_options, run_generate, 1.0, 0},
    {"retrain", "data,train-erm,detect,generate", "<method>/ and <method>-aspire/ run folders with eval-test.json", methods_options,
     run_retrain, 2.0, 1},
    {"evaluate", "train-erm,retrain", "results.json", methods_options, run_evaluate, 0.1, 0},
    {"report", "train-erm,detect,generate,evaluate", "../report.html", no_options, run_report, 0.1, 0},
};
const int pl_n_stages = (int)(sizeof pl_stages / sizeof pl_stages[0]);
