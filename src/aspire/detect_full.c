/* detect_full.c — full mode of the discovery stage (`aspire detect --data DIR --run RUNDIR`):
 *   1. the run's classifier on the training split → the hold-out (aspire_detect_holdout);
 *   2. captions of the hold-out (a --captions CSV, DETDIR/captions.csv of an earlier run, else the
 *      built-in captioner) → DETDIR/captions.csv; extraction (an --extracted file, DETDIR's
 *      extracted.jsonl, else the extract stage) → DETDIR/extracted.jsonl; records, row = position;
 *   3. the plate bank DETDIR/plates/ from the training images that have captions (their background
 *      phrase, their objects found by the segmenter and inpainted away), built once;
 *   4. each alternative background made of the other kind (water/land by WordNet) than the image's
 *      own where the extractor's is not;
 *   5. edits and flips with the built-in models (detect_models.c), resumable per image;
 *   6. aspire_detect_finish (edits = DETDIR/edits) and the contact sheet DETDIR/flips.png.
 * No group labels and no ground truth of any world are read: only metadata.csv's img_filename, y
 * and split, the images, and the run. Every file is written atomically. */
#include "aspire/detect.h"
#include "aspire/captioner.h"
#include "aspire/classifier.h"
#include "aspire/csv.h"
#include "aspire/dataset.h"
#include "aspire/edit.h"
#include "aspire/extract.h"
#include "aspire/fileio.h"
#include "aspire/replace.h"
#include "aspire/sheet.h"
#include "aspire/stage_extract.h"

#include "aspire/detect_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct full_job {
    const aspire_detect_opts *o;
    aspire_classifier *clf;
    aspire_dataset *ds;          /* the training split */
    int n_classes;
    int64_t *hold, n_hold;       /* hold-out: indices into ds, increasing */
    char **captions;             /* n_hold, owned */
    aspire_records rs;           /* the hold-out's records, row = position */
    char path[4][4096];          /* captions.csv, extracted.jsonl, plates/, edits/ */
} full_job;

enum { P_CAPTIONS, P_EXTRACTED, P_PLATES, P_EDITS };

/* ---- 1. hold-out -------------------------------------------------------------------------- */

static int predict_train(full_job *j, int32_t *preds) {
    int64_t n = aspire_dataset_count(j->ds);
    int S = aspire_dataset_size(j->ds);
    size_t per = (size_t)S * (size_t)S * 3;
    uint8_t *buf = aspire_malloc(per * (size_t)(n ? n : 1));
    if (!buf) return ASPIRE_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) memcpy(buf + per * (size_t)i, aspire_dataset_pixels(j->ds, i), per);
    if (!j->o->quiet) aspire_classifier_set_progress(j->clf, "detect: predictions on the training split");
    int rc = aspire_classifier_predict_u8(j->clf, buf, n, S, S, 3, preds, NULL, NULL);
    aspire_classifier_set_progress(j->clf, NULL);
    aspire_free(buf, per * (size_t)(n ? n : 1));
    return rc;
}

static int full_holdout(full_job *j) {
    const aspire_detect_opts *o = j->o;
    aspire_ctx_options eo = {.threads = o->threads};
    int rc = aspire_classifier_open(&j->clf, o->run, &eo);
    if (rc) return aspire_error_prefix(rc, "detect: --run %s", o->run);
    aspire_dataset_options dopt = {.split = ASPIRE_SPLIT_TRAIN, .size = aspire_classifier_image_size(j->clf),
                                   .channels = 3, .progress = !o->quiet};
    if ((rc = aspire_dataset_load(&j->ds, o->data, &dopt))) return rc;
    int64_t n = aspire_dataset_count(j->ds);
    if (n == 0) return aspire_error(ASPIRE_ERR_ARG, "%s: the training split is empty", o->data);
    j->n_classes = aspire_dataset_n_classes(j->ds);
    if (aspire_classifier_n_classes(j->clf) != j->n_classes)
        return aspire_error(ASPIRE_ERR_ARG, "detect: the run %s has %d classes, the dataset %s has %d", o->run,
                            aspire_classifier_n_classes(j->clf), o->data, j->n_classes);
    int32_t *preds = aspire_malloc(sizeof(int32_t) * (size_t)n);
    int *labels = aspire_malloc(sizeof(int) * (size_t)n), *p = aspire_malloc(sizeof(int) * (size_t)n);
    rc = preds && labels && p ? predict_train(j, preds) : ASPIRE_ERR_NOMEM;
    for (int64_t i = 0; !rc && i < n; i++) {
        labels[i] = aspire_dataset_label(j->ds, i);
        p[i] = preds[i];
    }
    if (!rc) rc = aspire_detect_holdout(labels, p, n, j->n_classes, o->holdout_frac, o->seed, &j->hold, &j->n_hold);
    aspire_free(preds, sizeof(int32_t) * (size_t)n);
    aspire_free(labels, sizeof(int) * (size_t)n);
    aspire_free(p, sizeof(int) * (size_t)n);
    if (!rc && j->n_hold == 0) rc = aspire_error(ASPIRE_ERR_ARG, "detect: the classifier gets no training image right");
    if (!rc && !o->quiet)
        fprintf(stderr, "detect: hold-out of %lld correctly classified training images (of %lld)\n",
                (long long)j->n_hold, (long long)n);
    return rc;
}

/* ---- 2. captions and extraction ------------------------------------------------------------ */

/* Copies into j->captions the captions `path` (a CSV path,caption) holds for hold-out images that
 * have none yet. A missing file is no error when `optional`. */
static int captions_from(full_job *j, const char *path, int optional) {
    if (!path || (optional && !aspire_file_exists(path))) return ASPIRE_OK;
    aspire_csv *csv;
    int c_path, c_cap;
    int rc = aspire_csv_read(&csv, path);
    if (rc) return rc;
    if (!(rc = aspire_csv_require(csv, "path", &c_path))) rc = aspire_csv_require(csv, "caption", &c_cap);
    int64_t nr = rc ? 0 : aspire_csv_nrows(csv);
    for (int64_t k = 0; k < j->n_hold && !rc; k++) {
        if (j->captions[k]) continue;
        const char *file = aspire_dataset_filename(j->ds, j->hold[k]);
        for (int64_t r = 0; r < nr; r++)
            if (strcmp(aspire_csv_field(csv, r, c_path), file) == 0) {
                if (!(j->captions[k] = aspire_strdup(aspire_csv_field(csv, r, c_cap)))) rc = ASPIRE_ERR_NOMEM;
                break;
            }
    }
    aspire_csv_free(csv);
    return rc;
}

/* Captions the hold-out images that have no caption yet with the built-in captioner. */
static int caption_missing(full_job *j) {
    int64_t *miss = aspire_malloc(sizeof(int64_t) * (size_t)j->n_hold), m = 0;
    if (!miss) return ASPIRE_ERR_NOMEM;
    for (int64_t k = 0; k < j->n_hold; k++)
        if (!j->captions[k]) miss[m++] = k;
    aspire_image *imgs = m ? aspire_calloc((size_t)m, sizeof *imgs) : NULL;
    char **caps = m ? aspire_calloc((size_t)m, sizeof *caps) : NULL;
    aspire_captioner *cap = NULL;
    aspire_ctx *ctx = NULL;
    int rc = !m || (imgs && caps) ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
    for (int64_t i = 0; i < m && !rc; i++) {
        char *path = aspire_path_join(j->o->data, aspire_dataset_filename(j->ds, j->hold[miss[i]]));
        rc = path ? aspire_image_load(&imgs[i], path, 3) : ASPIRE_ERR_NOMEM;
        aspire_strfree(path);
    }
    char model[4096];
    if (m && !rc) rc = aspire_captioner_load(&cap, aspire_captioner_default_model(NULL, model, sizeof model), NULL);
    if (m && !rc) rc = aspire_ctx_new(&ctx, &(aspire_ctx_options){.threads = j->o->threads});
    if (m && !rc && !j->o->quiet) fprintf(stderr, "detect: captioning %lld hold-out images\n", (long long)m);
    if (m && !rc) rc = aspire_captioner_caption(ctx, cap, imgs, (int)m, 1, 64, caps);
    for (int64_t i = 0; i < m && !rc; i++) {
        j->captions[miss[i]] = caps[i];
        caps[i] = NULL;
    }
    for (int64_t i = 0; i < m; i++) {
        if (imgs) aspire_image_destroy(&imgs[i]);
        if (caps) aspire_strfree(caps[i]);
    }
    aspire_free(imgs, 0);
    aspire_free(caps, 0);
    aspire_free(miss, 0);
    aspire_captioner_free(cap);
    aspire_ctx_free(ctx);
    return rc;
}

static int write_captions(full_job *j) {
    aspire_csv_writer *w;
    int rc = aspire_csv_writer_open(&w, j->path[P_CAPTIONS], 2, (const char *const[]){"path", "caption"});
    for (int64_t k = 0; k < j->n_hold && !rc; k++)
        rc = aspire_csv_writer_row(w, (const char *const[]){aspire_dataset_filename(j->ds, j->hold[k]), j->captions[k]});
    if (rc) {
        aspire_csv_writer_abort(w);
        return rc;
    }
    return aspire_csv_writer_commit(w);
}

static int full_captions(full_job *j) {
    if (!(j->captions = aspire_calloc((size_t)j->n_hold, sizeof *j->captions))) return ASPIRE_ERR_NOMEM;
    int rc = captions_from(j, j->o->captions, 0);
    if (!rc) rc = captions_from(j, j->path[P_CAPTIONS], 1);
    if (!rc) rc = caption_missing(j);
    return rc ? rc : write_captions(j);
}

/* Moves into j->rs, in hold-out order, the record of every hold-out image found in `from`; *missing
 * receives the first hold-out image without one (-1: none). */
static int take_records(full_job *j, aspire_records *from, const char *name, int64_t *missing) {
    *missing = -1;
    aspire_records_destroy(&j->rs);
    for (int64_t k = 0; k < j->n_hold; k++) {
        const char *file = aspire_dataset_filename(j->ds, j->hold[k]);
        int64_t f = -1;
        for (int64_t r = 0; r < from->n && f < 0; r++)
            if (from->items[r].img_filename && strcmp(from->items[r].img_filename, file) == 0) f = r;
        if (f < 0) {
            *missing = k;
            return ASPIRE_OK;
        }
        aspire_record *r = &from->items[f];
        if (r->cls != aspire_dataset_label(j->ds, j->hold[k]))
            return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: field 'class': %d, but '%s' is of class %d in %s", name,
                                r->line, r->cls, file, aspire_dataset_label(j->ds, j->hold[k]), j->o->data);
        r->row = k;
        r->has_row_field = 0;
        int rc = aspire_records_push(&j->rs, r);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

static int records_from(full_job *j, const char *path, int64_t *missing) {
    aspire_records from = {0};
    int rc = aspire_records_read(path, ASPIRE_RECORD_EXTRACTION, &from);
    if (!rc) rc = take_records(j, &from, path, missing);
    aspire_records_destroy(&from);
    return rc;
}

static int full_extraction(full_job *j) {
    const aspire_detect_opts *o = j->o;
    int64_t missing = -1;
    if (o->extracted) {
        int rc = records_from(j, o->extracted, &missing);
        if (!rc && missing >= 0)
            rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no record for the hold-out image '%s'", o->extracted,
                              aspire_dataset_filename(j->ds, j->hold[missing]));
        return rc ? rc : aspire_records_write(j->path[P_EXTRACTED], &j->rs);
    }
    if (aspire_file_exists(j->path[P_EXTRACTED])) {
        int rc = records_from(j, j->path[P_EXTRACTED], &missing);
        if (rc) aspire_error_clear();   /* unreadable: extracted again */
        if (!rc && missing < 0) return ASPIRE_OK;
    }
    aspire_extract_options eo = {.captions = j->path[P_CAPTIONS], .data_dir = o->data, .out = j->path[P_EXTRACTED]};
    int rc = aspire_extract_run(&eo);
    if (!rc) rc = records_from(j, j->path[P_EXTRACTED], &missing);
    if (!rc && missing >= 0)
        rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no record for the hold-out image '%s'", j->path[P_EXTRACTED],
                          aspire_dataset_filename(j->ds, j->hold[missing]));
    return rc;
}

/* ---- 3. plates and 4. alternatives of the other kind ---------------------------------------- */

static int full_plates(full_job *j, aspire_extractor *ex) {
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/plates.csv", j->path[P_PLATES]);
    if (aspire_file_exists(csv)) return ASPIRE_OK;   /* written last: the bank is complete */
    const char *const *names = aspire_dataset_index_class_names(aspire_dataset_get_index(j->ds));
    char classes[2048] = "";
    for (int c = 0; c < aspire_extractor_nclasses(ex); c++)
        snprintf(classes + strlen(classes), sizeof classes - strlen(classes), "%s%s", c ? "," : "", names[c]);
    aspire_edit_plates_opts po;
    aspire_edit_plates_opts_default(&po);
    po.data = j->o->data;
    po.captions = j->o->captions ? j->o->captions : j->path[P_CAPTIONS];
    po.captioned_only = 1;
    po.classes = classes;
    po.out = j->path[P_PLATES];
    po.segmenter = j->o->segmenter;
    po.model = j->o->inpainter;
    po.threads = j->o->threads;
    po.progress = !j->o->quiet;
    return aspire_edit_plates_run(&po);
}

/* The distinct plate phrases of each kind with their plate counts: the bank's own backgrounds. */
typedef struct kind_phrases {
    const char **phrase[2];   /* borrowed from the bank */
    int *count[2];
    int n[2], total[2];
} kind_phrases;

static void kind_phrases_free(kind_phrases *kp) {
    for (int k = 0; k < 2; k++) { aspire_free(kp->phrase[k], 0); aspire_free(kp->count[k], 0); }
    memset(kp, 0, sizeof *kp);
}

static int kind_phrases_make(const aspire_plate_bank *b, aspire_extractor *ex, kind_phrases *kp) {
    memset(kp, 0, sizeof *kp);
    int n = aspire_plate_bank_count(b);
    for (int k = 0; k < 2; k++) {
        kp->phrase[k] = aspire_calloc((size_t)n + 1, sizeof(const char *));
        kp->count[k] = aspire_calloc((size_t)n + 1, sizeof(int));
        if (!kp->phrase[k] || !kp->count[k]) { kind_phrases_free(kp); return ASPIRE_ERR_NOMEM; }
    }
    for (int i = 0; i < n; i++) {
        const char *p = aspire_plate_bank_phrase(b, i);
        int kind = -1, count = 0, seen = 0;
        for (int k = 0; k < n; k++) {
            int same = strcmp(aspire_plate_bank_phrase(b, k), p) == 0;
            count += same;
            seen |= same && k < i;
        }
        if (seen) continue;   /* each phrase once, in bank order */
        int rc = aspire_background_kind(ex, p, &kind);
        if (rc) { kind_phrases_free(kp); return rc; }
        if (kind < 0) continue;
        kp->phrase[kind][kp->n[kind]] = p;
        kp->count[kind][kp->n[kind]++] = count;
        kp->total[kind] += count;
    }
    return ASPIRE_OK;
}

/* One phrase of `kind`, drawn with probability proportional to its plate count by a hash of the
 * image's file name and the background's position: the same record always gets the same phrase
 * (resumable, thread-independent), and a class's swaps spread over the scenes the dataset has of
 * that kind instead of all going to one. */
static const char *draw_phrase(const kind_phrases *kp, int kind, const char *file, int k) {
    uint64_t h = aspire_replace_key(file) ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1));
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    int64_t t = (int64_t)(h % (uint64_t)kp->total[kind]);
    for (int i = 0; i < kp->n[kind]; i++) {
        if (t < kp->count[kind][i]) return kp->phrase[kind][i];
        t -= kp->count[kind][i];
    }
    return kp->phrase[kind][kp->n[kind] - 1];
}

/* The bank's most frequent phrase of `kind` (ties: the smaller bytes). */
static const char *top_phrase(const kind_phrases *kp, int kind) {
    int best = 0;
    for (int i = 1; i < kp->n[kind]; i++)
        if (kp->count[kind][i] > kp->count[kind][best] ||
            (kp->count[kind][i] == kp->count[kind][best] && strcmp(kp->phrase[kind][i], kp->phrase[kind][best]) < 0))
            best = i;
    return kp->phrase[kind][best];
}

/* Alternatives of the other kind, for each (background, alternate) pair whose background is of a
 * known kind (water or land); a background of unknown kind keeps the extractor's alternate.
 *   ASPIRE_DETECT_ALT_CLASS (default): the extractor's alternate (the other classes' most frequent
 *     background) stays when it is of the other kind, else it becomes the bank's most frequent
 *     phrase of the other kind: one scene per class, as the extractor proposes;
 *   ASPIRE_DETECT_ALT_IMAGE: drawn per image from the bank's phrases of the other kind
 *     (draw_phrase), spreading a class's swaps over the scenes of that kind.
 * *changed counts the pairs changed. */
static int full_alternates(full_job *j, aspire_extractor *ex, int *changed) {
    aspire_plate_bank *b;
    int rc = aspire_plate_bank_load(&b, j->path[P_PLATES]);
    if (rc) return rc;
    kind_phrases kp;
    rc = kind_phrases_make(b, ex, &kp);
    *changed = 0;
    for (int64_t i = 0; i < j->rs.n && !rc; i++) {
        aspire_record *r = &j->rs.items[i];
        int n = r->background.n < r->alternate_background.n ? r->background.n : r->alternate_background.n;
        for (int k = 0; k < n && !rc; k++) {
            int kb = -1, ka = -1;
            if ((rc = aspire_background_kind(ex, r->background.s[k], &kb))) break;
            if (kb < 0 || !kp.n[1 - kb]) continue;
            const char *pick;
            if (j->o->alternatives == ASPIRE_DETECT_ALT_IMAGE) {
                pick = draw_phrase(&kp, 1 - kb, r->img_filename, k);
            } else {
                if ((rc = aspire_background_kind(ex, r->alternate_background.s[k], &ka))) break;
                if (ka == 1 - kb) continue;
                pick = top_phrase(&kp, 1 - kb);
            }
            if (strcmp(pick, r->alternate_background.s[k]) == 0) continue;
            char *s = aspire_strdup(pick);
            if (!s) { rc = ASPIRE_ERR_NOMEM; break; }
            aspire_strfree(r->alternate_background.s[k]);
            r->alternate_background.s[k] = s;
            ++*changed;
        }
    }
    kind_phrases_free(&kp);
    aspire_plate_bank_free(b);
    return rc;
}

/* ---- 6. the contact sheet ------------------------------------------------------------------ */

static const char *class_label(const full_job *j, int c) {
    const char *s = aspire_classifier_class_name(j->clf, c);
    return s ? s : "?";
}

/* One row: the original (labelled with the edit) | the edit (labelled pred before -> after). */
static int sheet_row(full_job *j, aspire_sheet *sh, const aspire_record *r, aspire_feature_kind kind,
                     const char *phrase, const char *alt, int after) {
    char name[1024], label[160], label2[160];
    aspire_edit_filename(name, sizeof name, r->row, kind, phrase, "png");
    char *epath = aspire_path_join(j->path[P_EDITS], name), *opath = aspire_path_join(j->o->data, r->img_filename);
    aspire_image orig = {0}, edit = {0};
    int rc = epath && opath ? aspire_image_load(&orig, opath, 3) : ASPIRE_ERR_NOMEM;
    if (!rc) rc = aspire_image_load(&edit, epath, 3);
    if (kind == ASPIRE_FEATURE_BACKGROUND) snprintf(label, sizeof label, "BG %s->%s", phrase, alt);
    else snprintf(label, sizeof label, "FG -%s", phrase);
    snprintf(label2, sizeof label2, "%s->%s", class_label(j, r->cls), class_label(j, after));
    if (!rc) rc = aspire_sheet_add(sh, &orig, label);
    if (!rc) rc = aspire_sheet_add(sh, &edit, label2);
    aspire_image_destroy(&orig);
    aspire_image_destroy(&edit);
    aspire_strfree(epath);
    aspire_strfree(opath);
    return rc;
}

/* Rows of class c: flagged edits in row order (backgrounds, then objects), at most sheet_rows. */
static int sheet_class(full_job *j, aspire_sheet *sh, int c, int *rows) {
    int done = 0, rc = ASPIRE_OK;
    for (int64_t i = 0; i < j->rs.n && done < j->o->sheet_rows && !rc; i++) {
        const aspire_record *r = &j->rs.items[i];
        if (r->cls != c) continue;
        for (int k = 0; k < r->wp_background.n && done < j->o->sheet_rows && !rc; k++) {
            int pos = aspire_strlist_find(&r->background, r->wp_background.s[k]);
            int after = pos >= 0 && pos < r->n_pred_alt ? r->pred_alt_background[pos] : -1;
            rc = sheet_row(j, sh, r, ASPIRE_FEATURE_BACKGROUND, r->wp_background.s[k], r->wp_alternate_background.s[k],
                           after);
            done += !rc;
        }
        for (int k = 0; k < r->wp_foreground.n && done < j->o->sheet_rows && !rc; k++) {
            rc = sheet_row(j, sh, r, ASPIRE_FEATURE_FOREGROUND, r->wp_foreground.s[k], NULL,
                           k < r->n_pred_rmv ? r->pred_rmv_foreground[k] : -1);
            done += !rc;
        }
    }
    *rows += done;
    return rc;
}

/* Two (original | edit) pairs side by side per sheet row; each class starts on a new row. */
static int full_sheet(full_job *j) {
    aspire_sheet *sh;
    int rc = aspire_sheet_new(&sh, 4, 96, 1), rows = 0;
    for (int k = 0; k < 4 && !rc; k++) rc = aspire_sheet_header(sh, k, k % 2 ? "EDIT: BEFORE->AFTER" : "ORIGINAL");
    for (int c = 0; c < j->n_classes && !rc && j->o->sheet_rows > 0; c++) {
        int before = rows;
        rc = sheet_class(j, sh, c, &rows);
        if (!rc && (rows - before) % 2) rc = aspire_sheet_skip(sh);   /* an odd class ends its row */
        if (!rc && (rows - before) % 2) rc = aspire_sheet_skip(sh);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/flips.png", j->o->out);
    if (!rc && rows > 0) rc = aspire_sheet_save(sh, path);
    aspire_sheet_free(sh);
    return rc;
}

/* ---- the whole ----------------------------------------------------------------------------- */

static int full_flips(full_job *j, aspire_extractor *ex) {
    int changed = 0;
    int rc = full_alternates(j, ex, &changed);
    if (!rc && !j->o->quiet)
        fprintf(stderr, "detect: %d alternative backgrounds set to the other kind (water/land), %s\n", changed,
                j->o->alternatives == ASPIRE_DETECT_ALT_IMAGE ? "drawn per image" : "one per class");
    detect_full_models *fm = NULL;
    aspire_detect_models m;
    detect_full_models_spec spec = {j->clf, j->o->segmenter, j->o->inpainter, j->path[P_PLATES], j->o->dilate,
                                    j->o->threads, j->o->votes, j->o->seam};
    if (!rc) rc = detect_full_models_open(&spec, &fm, &m);
    if (!rc) rc = aspire_detect_flips(&m, &j->rs, j->o->data, j->o->out, j->o->quiet);
    detect_full_models_free(fm);
    return rc;
}

static void job_free(full_job *j) {
    for (int64_t k = 0; j->captions && k < j->n_hold; k++) aspire_strfree(j->captions[k]);
    aspire_free(j->captions, 0);
    aspire_free(j->hold, (size_t)j->n_hold * sizeof(int64_t));
    aspire_records_destroy(&j->rs);
    aspire_dataset_free(j->ds);
    aspire_classifier_free(j->clf);
}

/* DETDIR/edits.settings: the options the edits and flips were made with. The per-image flip files
 * resume by their extraction alone, so a DETDIR made with other edit options is refused rather than
 * silently mixed. Written before the first edit; a DETDIR without it (older) takes the current. */
static int edit_settings(const aspire_detect_opts *o) {
    char want[128], path[4200];
    snprintf(want, sizeof want, "dilate %d votes %d seam %d alternatives %s\n", o->dilate, o->votes, o->seam,
             o->alternatives == ASPIRE_DETECT_ALT_IMAGE ? "image" : "class");
    snprintf(path, sizeof path, "%s/edits.settings", o->out);
    if (aspire_file_exists(path)) {
        char *have = NULL;
        size_t n = 0;
        int rc = aspire_read_file(path, &have, &n);
        if (rc) return rc;
        int same = n == strlen(want) && memcmp(have, want, n) == 0;
        if (!same) {
            size_t k = strcspn(have, "\n");
            rc = aspire_error(ASPIRE_ERR_ARG, "detect: %s: this folder's edits were made with '%.*s', this run asks for "
                              "'%.*s': give a new --out, or delete the folder", path, (int)k, have,
                              (int)strcspn(want, "\n"), want);
        }
        aspire_free(have, n + 1);
        return rc;
    }
    return aspire_write_file_atomic(path, want, strlen(want));
}

int detect_full_run(const aspire_detect_opts *o) {
    if (!o->data || !o->run) return aspire_error(ASPIRE_ERR_ARG, "detect: full mode needs --data and --run");
    if (o->votes < 1 || o->votes > ASPIRE_DETECT_MAX_VOTES)
        return aspire_error(ASPIRE_ERR_ARG, "detect: --votes %d out of range [1, %d]", o->votes, ASPIRE_DETECT_MAX_VOTES);
    if (o->seam < -1 || o->seam > 16) return aspire_error(ASPIRE_ERR_ARG, "detect: --seam %d out of range [-1, 16]", o->seam);
    if (o->alternatives != ASPIRE_DETECT_ALT_CLASS && o->alternatives != ASPIRE_DETECT_ALT_IMAGE)
        return aspire_error(ASPIRE_ERR_ARG, "detect: alternatives mode %d unknown", o->alternatives);
    if (!aspire_file_exists(o->run))
        return aspire_error(ASPIRE_ERR_NOTFOUND, "detect: --run %s: no such run folder or weights file", o->run);
    full_job j = {.o = o};
    static const char *const names[] = {"captions.csv", "extracted.jsonl", "plates", "edits"};
    for (int i = 0; i < 4; i++) snprintf(j.path[i], sizeof j.path[i], "%s/%s", o->out, names[i]);
    aspire_extractor *ex = NULL;
    int rc = aspire_mkdir_p(o->out);
    if (!rc) rc = full_holdout(&j);
    if (!rc) rc = full_captions(&j);
    if (!rc) rc = full_extraction(&j);
    if (!rc) rc = aspire_extractor_new_wordnet(aspire_dataset_index_class_names(aspire_dataset_get_index(j.ds)),
                                               j.n_classes, &ex);
    if (!rc) rc = full_plates(&j, ex);
    if (!rc) rc = edit_settings(o);
    if (!rc) rc = full_flips(&j, ex);
    aspire_detect_opts fo = *o;
    fo.edits = j.path[P_EDITS];
    fo.n_classes = o->n_classes ? o->n_classes : j.n_classes;
    if (!rc) rc = aspire_detect_finish(&fo, &j.rs);
    if (!rc) rc = full_sheet(&j);
    aspire_extractor_free(ex);
    job_free(&j);
    return rc;
}
