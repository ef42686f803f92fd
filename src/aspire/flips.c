/* flips.c — the edits and flips of discovery (REFERENCE.md §5, §6) over a table of models
 * (aspire_detect_models): per hold-out image, every background replaced and every foreground
 * object removed, each edit classified; the flagged edits saved as {row}_{fg|bg}_{phrase}.png.
 * The loop over the hold-out keeps one record file per finished image, so that it resumes. */
#include "aspire/detect.h"
#include "aspire/fileio.h"
#include "aspire/progress.h"

#include "aspire/detect_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growing the record's lists ----------------------------------------------------------- */

static int push_str(aspire_strlist *l, const char *s) {
    char **p = aspire_realloc(l->s, (size_t)l->n * sizeof *p, ((size_t)l->n + 1) * sizeof *p);
    if (!p) return ASPIRE_ERR_NOMEM;
    l->s = p;
    if (!(l->s[l->n] = aspire_strdup(s))) return ASPIRE_ERR_NOMEM;
    l->n++;
    return ASPIRE_OK;
}

static int push_int(int **v, int *n, int x) {
    int *p = aspire_realloc(*v, (size_t)*n * sizeof *p, ((size_t)*n + 1) * sizeof *p);
    if (!p) return ASPIRE_ERR_NOMEM;
    *v = p;
    p[(*n)++] = x;
    return ASPIRE_OK;
}

static void strlist_clear(aspire_strlist *l) {
    for (int i = 0; i < l->n; i++) aspire_strfree(l->s[i]);
    aspire_free(l->s, (size_t)l->n * sizeof *l->s);
    *l = (aspire_strlist){0};
}

static void clear_flips(aspire_record *r) {
    strlist_clear(&r->wp_foreground);
    strlist_clear(&r->wp_background);
    strlist_clear(&r->wp_alternate_background);
    aspire_free(r->pred_alt_background, (size_t)r->n_pred_alt * sizeof(int));
    aspire_free(r->pred_rmv_foreground, (size_t)r->n_pred_rmv * sizeof(int));
    r->pred_alt_background = r->pred_rmv_foreground = NULL;
    r->n_pred_alt = r->n_pred_rmv = 0;
    r->has_flips = 0;
}

/* ---- one image ---------------------------------------------------------------------------- */

static int save_edit(const aspire_image *img, const char *dir, int64_t row, aspire_feature_kind kind,
                     const char *phrase) {
    char name[1024];
    aspire_edit_filename(name, sizeof name, row, kind, phrase, "png");
    char *path = aspire_path_join(dir, name);
    if (!path) return ASPIRE_ERR_NOMEM;
    int rc = aspire_image_save_png_ex(img, path, ASPIRE_ATOMIC_NOSYNC);
    aspire_strfree(path);
    return rc;
}

/* One (background, alternate) pair: *p the prediction on the replacement, or with m->votes > 1 the
 * class most of the replacements get (ties: the original prediction); *edit the first replacement
 * on the winning side (flipped or not). */
static int replace_voted(const aspire_detect_models *m, const aspire_image *img, int orig, const char *bg,
                         const char *alt, aspire_image *edit, int *p) {
    int votes = m->replace_background_sample && m->votes > 1 ? m->votes : 1;
    if (votes > ASPIRE_DETECT_MAX_VOTES) votes = ASPIRE_DETECT_MAX_VOTES;
    int pred[ASPIRE_DETECT_MAX_VOTES], rc = ASPIRE_OK;
    aspire_image first[2] = {{0}, {0}};   /* the first replacement predicted orig / other than orig */
    int kept[2] = {-1, -1};
    for (int s = 0; s < votes && !rc; s++) {
        aspire_image e = {0};
        rc = s == 0 ? m->replace_background(m->ctx, img, bg, alt, &e)
                    : m->replace_background_sample(m->ctx, img, bg, alt, s, &e);
        if (!rc) rc = m->classify(m->ctx, &e, &pred[s]);
        int slot = !rc && pred[s] != orig;
        if (!rc && kept[slot] < 0) { first[slot] = e; kept[slot] = pred[s]; }
        else aspire_image_destroy(&e);
    }
    if (!rc) {
        /* the majority class; ties go to the original prediction */
        int best = orig, bestn = 0;
        for (int s = 0; s < votes; s++) if (pred[s] == orig) bestn++;
        for (int s = 0; s < votes; s++) {
            int c = pred[s], n = 0;
            for (int t = 0; t < votes; t++) n += pred[t] == c;
            if (n > bestn) { best = c; bestn = n; }
        }
        *p = best;
        /* the edit shown for the pair: the first replacement of the winning side */
        int slot = best != orig;
        *edit = first[slot];
        first[slot] = (aspire_image){0};
    }
    aspire_image_destroy(&first[0]);
    aspire_image_destroy(&first[1]);
    return rc;
}

static int flip_backgrounds(const aspire_detect_models *m, const aspire_image *img, int orig, aspire_record *r,
                            const char *dir) {
    int n = r->background.n < r->alternate_background.n ? r->background.n : r->alternate_background.n;
    int rc = ASPIRE_OK;
    for (int j = 0; j < n && !rc; j++) {
        const char *bg = r->background.s[j], *alt = r->alternate_background.s[j];
        aspire_image edit = {0};
        int p = -1;
        rc = replace_voted(m, img, orig, bg, alt, &edit, &p);
        if (!rc) rc = push_int(&r->pred_alt_background, &r->n_pred_alt, p);
        if (!rc && p != orig && !(rc = push_str(&r->wp_background, bg)) &&
            !(rc = push_str(&r->wp_alternate_background, alt)))
            rc = save_edit(&edit, dir, r->row, ASPIRE_FEATURE_BACKGROUND, bg);
        aspire_image_destroy(&edit);
    }
    return rc;
}

/* One foreground phrase; *found is 0 when the segmenter found nothing. */
static int remove_object(const aspire_detect_models *m, const aspire_image *img, const char *phrase, uint8_t *mask,
                         aspire_image *edit, int *found) {
    size_t npix = (size_t)img->w * (size_t)img->h;
    memset(mask, 0, npix);
    int rc = m->segment(m->ctx, img, phrase, mask);
    *found = 0;
    for (size_t i = 0; i < npix && !rc && !*found; i++) *found = mask[i] != 0;
    if (rc || !*found) return rc;
    if (m->dilate && (rc = m->dilate(m->ctx, mask, img->w, img->h))) return rc;
    return m->inpaint(m->ctx, img, mask, edit);
}

static int flip_foregrounds(const aspire_detect_models *m, const aspire_image *img, int orig, aspire_record *r,
                            const char *dir) {
    uint8_t *mask = aspire_malloc((size_t)img->w * (size_t)img->h);
    if (!mask) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    for (int j = 0; j < r->foreground.n && !rc; j++) {
        const char *phrase = r->foreground.s[j];
        aspire_image edit = {0};
        int found = 0, p = -1;
        rc = remove_object(m, img, phrase, mask, &edit, &found);
        if (!rc && found) rc = m->classify(m->ctx, &edit, &p);
        if (!rc && found && p != orig && !(rc = push_str(&r->wp_foreground, phrase)) &&
            !(rc = push_int(&r->pred_rmv_foreground, &r->n_pred_rmv, p)))
            rc = save_edit(&edit, dir, r->row, ASPIRE_FEATURE_FOREGROUND, phrase);
        aspire_image_destroy(&edit);
    }
    aspire_free(mask, (size_t)img->w * (size_t)img->h);
    return rc;
}

int aspire_detect_flip_one(const aspire_detect_models *m, const aspire_image *img, aspire_record *rec,
                           const char *edits_dir) {
    ASPIRE_ASSERT(m && m->classify && m->segment && m->inpaint && m->replace_background && img && rec);
    clear_flips(rec);
    int orig = -1;
    int rc = m->classify(m->ctx, img, &orig);
    if (rc) return rc;
    if (orig != rec->cls)
        return aspire_error(ASPIRE_ERR_ARG, "detect: image '%s' (row %lld) is predicted %d, not its class %d: not a "
                            "hold-out image", rec->img_filename ? rec->img_filename : "?", (long long)rec->row, orig,
                            rec->cls);
    rec->has_flips = 1;
    if (m->begin && (rc = m->begin(m->ctx, img, rec))) return rc;
    if ((rc = flip_backgrounds(m, img, orig, rec, edits_dir))) return rc;
    return flip_foregrounds(m, img, orig, rec, edits_dir);
}

/* ---- the hold-out, resumably -------------------------------------------------------------- */

static int same_text(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static int same_list(const aspire_strlist *a, const aspire_strlist *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->s[i], b->s[i]) != 0) return 0;
    return 1;
}

/* Reads back a finished image's record file into rec's flip fields; 1 when it was there and is
 * the same image with the same extraction, 0 when it must be done (again). */
static int load_done(const char *path, aspire_record *rec) {
    if (!aspire_file_exists(path)) return 0;
    aspire_records one;
    if (aspire_records_read(path, ASPIRE_RECORD_EXTRACTION, &one) || one.n != 1) {
        aspire_error_clear();   /* unreadable: done again, the file is rewritten */
        aspire_records_destroy(&one);
        return 0;
    }
    aspire_record *d = &one.items[0];
    int same = d->has_flips && d->cls == rec->cls && d->row == rec->row && same_text(d->img_filename, rec->img_filename) &&
               same_list(&d->foreground, &rec->foreground) && same_list(&d->background, &rec->background) &&
               same_list(&d->alternate_background, &rec->alternate_background);
    if (same) {   /* move the flip fields over */
        clear_flips(rec);
        rec->wp_foreground = d->wp_foreground;
        rec->wp_background = d->wp_background;
        rec->wp_alternate_background = d->wp_alternate_background;
        rec->pred_alt_background = d->pred_alt_background;
        rec->n_pred_alt = d->n_pred_alt;
        rec->pred_rmv_foreground = d->pred_rmv_foreground;
        rec->n_pred_rmv = d->n_pred_rmv;
        rec->has_flips = 1;
        d->wp_foreground = d->wp_background = d->wp_alternate_background = (aspire_strlist){0};
        d->pred_alt_background = d->pred_rmv_foreground = NULL;
        d->n_pred_alt = d->n_pred_rmv = 0;
    }
    aspire_records_destroy(&one);
    return same;
}

static int save_done(const char *path, const aspire_record *rec) {
    aspire_record copy = *rec;
    copy.has_row_field = 1;   /* the file is found by its row: keep it inside */
    cJSON *o = aspire_record_to_json(&copy);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory", path);
    aspire_atomic_file af;
    int rc = aspire_atomic_open_ex(&af, path, ASPIRE_ATOMIC_NOSYNC);
    if (!rc && (fputs(s, af.fp) < 0 || fputc('\n', af.fp) < 0)) {
        aspire_atomic_abort(&af);
        rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot write", path);
    } else if (!rc) {
        rc = aspire_atomic_commit(&af);
    }
    cJSON_free(s);
    return rc;
}

static int flip_record(const aspire_detect_models *m, aspire_record *r, const char *image_dir, const char *edits,
                       const char *flips) {
    char name[64];
    snprintf(name, sizeof name, "%lld.json", (long long)r->row);
    char *done = aspire_path_join(flips, name);
    if (!done) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    if (!load_done(done, r)) {
        if (!r->img_filename) {
            rc = aspire_error(ASPIRE_ERR_ARG, "detect: the record of line %d has no img_filename", r->line);
        } else {
            char *path = aspire_path_join(image_dir, r->img_filename);
            aspire_image img = {0};
            rc = path ? aspire_image_load(&img, path, 3) : ASPIRE_ERR_NOMEM;
            if (!rc) rc = aspire_detect_flip_one(m, &img, r, edits);
            if (!rc) rc = save_done(done, r);
            aspire_image_destroy(&img);
            aspire_strfree(path);
        }
    }
    aspire_strfree(done);
    return rc;
}

int aspire_detect_flips(const aspire_detect_models *m, aspire_records *rs, const char *image_dir, const char *work_dir,
                        int quiet) {
    char *edits = aspire_path_join(work_dir, "edits"), *flips = aspire_path_join(work_dir, "flips");
    int rc = edits && flips ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
    if (!rc) rc = aspire_mkdir_p(edits);
    if (!rc) rc = aspire_mkdir_p(flips);
    if (!rc) {   /* what a killed run was writing */
        detect_remove_dead_temps(edits);
        detect_remove_dead_temps(flips);
    }
    aspire_progress pg;
    aspire_progress_init(&pg, "detect: edits and flips", rs->n, "image");
    if (quiet) pg.quiet = 1;
    int64_t flagged = 0;
    for (int64_t i = 0; i < rs->n && !rc; i++) {
        rc = flip_record(m, &rs->items[i], image_dir ? image_dir : "", edits, flips);
        flagged += rs->items[i].wp_foreground.n + rs->items[i].wp_background.n;
        aspire_progress_update(&pg, i + 1, "%lld flagged edits", (long long)flagged);
    }
    if (!rc) rc = aspire_sync_fs(work_dir);
    if (!rc) aspire_progress_finish(&pg, "%lld flagged edits", (long long)flagged);
    aspire_strfree(edits);
    aspire_strfree(flips);
    return rc;
}
