/* edit_plates.c — `aspire edit plates`: builds the background replacer's plate bank from a dataset's
 * own images. For each image of the split: its caption (a captions CSV, or the built-in captioner),
 * the background phrase the extractor reads from it, the mask of its objects, and the image with
 * those objects inpainted away, saved as a plate tagged with the phrase and its WordNet kind. */
#include "aspire/edit.h"

#include "aspire/captioner.h"
#include "aspire/csv.h"
#include "aspire/edit_internal.h"
#include "aspire/extract.h"
#include "aspire/fileio.h"
#include "aspire/inpaint.h"
#include "aspire/progress.h"
#include "aspire/replace.h"
#include "aspire/segmenter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLATE_BATCH 64
#define MAX_CLASSES 62

void aspire_edit_plates_opts_default(aspire_edit_plates_opts *o) {
    memset(o, 0, sizeof *o);
    o->classes = "landbird,waterbird";
    o->split = 0;
    o->dilate = 1;
    o->progress = 1;
}

typedef struct plates_job {
    const aspire_edit_plates_opts *o;
    aspire_csv *meta, *caps;
    int c_id, c_file, c_y, c_split, c_path, c_cap;
    int64_t *caps_sorted;       /* caption rows sorted by path (bsearch) */
    aspire_captioner *cap;      /* when there is no captions CSV */
    aspire_ctx *cap_ctx;
    aspire_extractor *ex;
    aspire_inpainter *inp;
    aspire_segmenter *seg;      /* when there is no --masks */
    aspire_csv_writer *w;
    char *meta_path;
    int written;
} plates_job;

/* The union of the segmenter's (undilated) masks of "bird" and of every foreground phrase into
 * mask (w*h, zeroed by the caller). A phrase the segmenter cannot ground is skipped (nothing found). */
static int plate_segment_union(aspire_segmenter *seg, const aspire_image *img, const aspire_extraction *e,
                               uint8_t *mask) {
    for (int p = -1; p < e->n_foreground; p++) {
        aspire_segment s = {0};
        int rc = aspire_segmenter_segment(seg, img, 1, p < 0 ? "bird" : e->foreground[p], 0, &s);
        if (rc == ASPIRE_ERR_NOTFOUND) { aspire_error_clear(); rc = ASPIRE_OK; }
        else if (!rc && s.present) aspire_mask_union(mask, s.mask, img->w, img->h);
        aspire_segment_destroy(&s);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

/* ---- THE SEGMENTER HOOK ---------------------------------------------------------------------
 * The one place where a plate's object mask comes from: the PNG of the image in --masks when given
 * (first channel nonzero = an object), else the segmenter's union of masks of "bird" and of every
 * foreground phrase the extractor found in the caption. *mask: w*h bytes (aspire_free). */
static int plate_object_mask(plates_job *j, const char *rel, const aspire_image *img, const aspire_extraction *e,
                             uint8_t **mask) {
    if (!j->o->masks) {
        if (!(*mask = aspire_calloc((size_t)img->w * (size_t)img->h, 1))) return ASPIRE_ERR_NOMEM;
        return plate_segment_union(j->seg, img, e, *mask);
    }
    char *path = edit_png_path(j->o->masks, rel);
    if (!path) return ASPIRE_ERR_NOMEM;
    int rc = aspire_inpaint_mask_load(path, img->w, img->h, mask, NULL, NULL);
    aspire_strfree(path);
    return rc;
}

static int cmp_caption_rows(const void *a, const void *b, void *ctx) {
    const plates_job *j = ctx;
    return strcmp(aspire_csv_field(j->caps, *(const int64_t *)a, j->c_path),
                  aspire_csv_field(j->caps, *(const int64_t *)b, j->c_path));
}

static const char *find_caption(const plates_job *j, const char *file) {
    int64_t lo = 0, hi = aspire_csv_nrows(j->caps);
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        int c = strcmp(aspire_csv_field(j->caps, j->caps_sorted[mid], j->c_path), file);
        if (c == 0) return aspire_csv_field(j->caps, j->caps_sorted[mid], j->c_cap);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int open_captions(plates_job *j) {
    const aspire_edit_plates_opts *o = j->o;
    if (!o->captions) {
        char model[4096];
        const char *path = o->captioner ? o->captioner : aspire_captioner_default_model(o->models_dir, model, sizeof model);
        int rc = aspire_captioner_load(&j->cap, path, NULL);
        return rc ? rc : aspire_ctx_new(&j->cap_ctx, &(aspire_ctx_options){.threads = o->threads});
    }
    int rc = aspire_csv_read(&j->caps, o->captions);
    if (!rc) rc = aspire_csv_require(j->caps, "path", &j->c_path);
    if (!rc) rc = aspire_csv_require(j->caps, "caption", &j->c_cap);
    int64_t n = rc ? 0 : aspire_csv_nrows(j->caps);
    if (!rc && !(j->caps_sorted = aspire_malloc(sizeof(int64_t) * (size_t)(n ? n : 1)))) rc = ASPIRE_ERR_NOMEM;
    for (int64_t i = 0; !rc && i < n; i++) j->caps_sorted[i] = i;
    if (!rc) qsort_r(j->caps_sorted, (size_t)n, sizeof(int64_t), cmp_caption_rows, j);
    return rc;
}

static int split_names(const char *spec, char **names, int max) {
    int n = 0;
    for (const char *s = spec; *s && n < max;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (!len || !(names[n] = aspire_malloc(len + 1))) break;
        memcpy(names[n], s, len);
        names[n++][len] = 0;
        s += len + (e ? 1 : 0);
    }
    return n;
}

static int open_job(plates_job *j) {
    const aspire_edit_plates_opts *o = j->o;
    if (!o->data || !o->out) return aspire_error(ASPIRE_ERR_ARG, "edit plates: --data and --out are needed");
    char *names[MAX_CLASSES];
    int nc = split_names(o->classes, names, MAX_CLASSES);
    int rc = nc ? aspire_extractor_new_wordnet((const char *const *)names, nc, &j->ex)
                : aspire_error(ASPIRE_ERR_ARG, "edit plates: --classes '%s' names no class", o->classes);
    for (int i = 0; i < nc; i++) aspire_strfree(names[i]);
    if (!rc && !(j->meta_path = aspire_path_join(o->data, "metadata.csv"))) rc = ASPIRE_ERR_NOMEM;
    if (!rc) rc = aspire_csv_read(&j->meta, j->meta_path);
    if (!rc) rc = aspire_csv_require(j->meta, "img_id", &j->c_id);
    if (!rc) rc = aspire_csv_require(j->meta, "img_filename", &j->c_file);
    if (!rc) rc = aspire_csv_require(j->meta, "y", &j->c_y);
    if (!rc && o->split >= 0) rc = aspire_csv_require(j->meta, "split", &j->c_split);
    if (!rc) rc = open_captions(j);
    if (!rc && !o->masks) rc = aspire_segmenter_open(&j->seg, o->segmenter, o->threads);
    if (!rc) {
        char model[4096];
        if (o->classical) rc = aspire_inpainter_new_classical(0, &j->inp);
        else if (o->model) rc = aspire_inpainter_new_learned(o->model, o->threads, 0, &j->inp);
        else rc = aspire_inpainter_new_default(aspire_inpaint_default_model(o->models_dir, model, sizeof model), o->threads, &j->inp);
    }
    char *dir = rc ? NULL : aspire_path_join(o->out, "plates");
    if (!rc && (!dir || aspire_mkdir_p(dir))) rc = dir ? aspire_error(ASPIRE_ERR_IO, "%s: cannot make the folder", dir) : ASPIRE_ERR_NOMEM;
    aspire_strfree(dir);
    char *csv = rc ? NULL : aspire_path_join(o->out, "plates.csv");
    if (!rc) rc = csv ? aspire_csv_writer_open(&j->w, csv, 4, (const char *const[]){"file", "phrase", "kind", "source"})
                      : ASPIRE_ERR_NOMEM;
    aspire_strfree(csv);
    return rc;
}

static void close_job(plates_job *j) {
    aspire_csv_writer_abort(j->w);
    aspire_csv_free(j->meta);
    aspire_csv_free(j->caps);
    aspire_free(j->caps_sorted, 0);
    aspire_captioner_free(j->cap);
    aspire_ctx_free(j->cap_ctx);
    aspire_extractor_free(j->ex);
    aspire_inpainter_free(j->inp);
    aspire_segmenter_free(j->seg);
    aspire_strfree(j->meta_path);
}

typedef struct plate_item {
    int64_t row;
    aspire_image img, plate;
    char *caption;          /* owned */
    aspire_extraction e;
    uint8_t *mask;
} plate_item;

static void item_destroy(plate_item *it) {
    aspire_image_destroy(&it->img);
    aspire_image_destroy(&it->plate);
    aspire_strfree(it->caption);
    aspire_extraction_destroy(&it->e);
    aspire_free(it->mask, 0);
    memset(it, 0, sizeof *it);
}

/* Loads the batch's images and captions. */
static int load_items(plates_job *j, plate_item *it, int n) {
    int rc = ASPIRE_OK;
    for (int i = 0; !rc && i < n; i++) {
        const char *file = aspire_csv_field(j->meta, it[i].row, j->c_file);
        char *path = aspire_path_join(j->o->data, file);
        rc = path ? aspire_image_load(&it[i].img, path, 3) : ASPIRE_ERR_NOMEM;
        if (rc) aspire_error_prefix(rc, "%s:%d", j->meta_path, aspire_csv_line(j->meta, it[i].row));
        aspire_strfree(path);
        if (!rc && j->caps) {
            const char *c = find_caption(j, file);
            if (!c) rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no caption for '%s'", j->o->captions, file);
            else if (!(it[i].caption = aspire_strdup(c))) rc = ASPIRE_ERR_NOMEM;
        }
    }
    if (!rc && !j->caps) {
        aspire_image imgs[PLATE_BATCH];
        char *caps[PLATE_BATCH] = {0};
        for (int i = 0; i < n; i++) imgs[i] = it[i].img;
        rc = aspire_captioner_caption(j->cap_ctx, j->cap, imgs, n, 1, PLATE_BATCH, caps);
        for (int i = 0; !rc && i < n; i++) it[i].caption = caps[i];
    }
    return rc;
}

/* Extracts the background phrases; loads and dilates the object masks of the images that have one. */
static int extract_items(plates_job *j, plate_item *it, int n) {
    int with_bg = 0;
    for (int i = 0; i < n; i++) {
        int64_t y = 0;
        int rc = aspire_csv_get_int(j->meta, it[i].row, j->c_y, &y);
        if (!rc && (y < 0 || y >= aspire_extractor_nclasses(j->ex)))
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column 'y': %lld is not a class of --classes", j->meta_path,
                              aspire_csv_line(j->meta, it[i].row), (long long)y);
        if (!rc) rc = aspire_extractor_extract(j->ex, it[i].caption, (int)y, &it[i].e);
        if (!rc && it[i].e.background && j->o->limit && j->written + with_bg >= j->o->limit) {
            aspire_strfree(it[i].e.background);  /* past the limit: no plate, no mask needed */
            it[i].e.background = NULL;
        }
        if (!rc && it[i].e.background) {
            with_bg++;
            const char *rel = aspire_csv_field(j->meta, it[i].row, j->c_file);
            rc = plate_object_mask(j, rel, &it[i].img, &it[i].e, &it[i].mask);
            int side = it[i].img.w > it[i].img.h ? it[i].img.w : it[i].img.h;
            int r = j->o->dilate > 0 ? (int)lrint(j->o->dilate * side / 64.0) : 0;
            if (j->o->dilate > 0 && r < 1) r = 1;
            if (!rc) rc = aspire_mask_dilate(it[i].mask, it[i].img.w, it[i].img.h, r);
        }
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

/* Inpaints the objects away and writes the plates of the images with a background phrase. */
static int write_plates(plates_job *j, plate_item *it, int n) {
    aspire_image imgs[PLATE_BATCH], outs[PLATE_BATCH];
    const uint8_t *masks[PLATE_BATCH];
    int idx[PLATE_BATCH], m = 0;
    for (int i = 0; i < n; i++)
        if (it[i].e.background && (!j->o->limit || j->written + m < j->o->limit)) {
            imgs[m] = it[i].img;
            masks[m] = it[i].mask;
            idx[m++] = i;
        }
    int rc = aspire_inpainter_run(j->inp, imgs, masks, m, outs);
    if (rc) return rc;
    for (int k = 0; k < m; k++) it[idx[k]].plate = outs[k];
    for (int k = 0; !rc && k < m; k++) {
        plate_item *p = &it[idx[k]];
        char file[96], kind_s[8];
        snprintf(file, sizeof file, "plates/%s.png", aspire_csv_field(j->meta, p->row, j->c_id));
        char *path = aspire_path_join(j->o->out, file);
        rc = path ? aspire_image_save_png_ex(&p->plate, path, ASPIRE_ATOMIC_NOSYNC) : ASPIRE_ERR_NOMEM;
        aspire_strfree(path);
        int kind = -1;
        if (!rc) rc = aspire_background_kind(j->ex, p->e.background, &kind);
        snprintf(kind_s, sizeof kind_s, "%s", kind == 1 ? "water" : kind == 0 ? "land" : "");
        const char *source = aspire_csv_field(j->meta, p->row, j->c_file);
        if (!rc) rc = aspire_csv_writer_row(j->w, (const char *const[]){file, p->e.background, kind_s, source});
        j->written += !rc;
    }
    return rc;
}

static int select_rows(plates_job *j, int64_t **rows, int64_t *n) {
    int64_t nr = aspire_csv_nrows(j->meta);
    *n = 0;
    if (!(*rows = aspire_malloc(sizeof(int64_t) * (size_t)(nr ? nr : 1)))) return ASPIRE_ERR_NOMEM;
    for (int64_t r = 0; r < nr; r++) {
        int64_t s = -1;
        int rc = j->o->split >= 0 ? aspire_csv_get_int(j->meta, r, j->c_split, &s) : ASPIRE_OK;
        if (rc) return rc;
        if (j->o->split >= 0 && s != j->o->split) continue;
        if (j->caps && j->o->captioned_only && !find_caption(j, aspire_csv_field(j->meta, r, j->c_file))) continue;
        (*rows)[(*n)++] = r;
    }
    return ASPIRE_OK;
}

int aspire_edit_plates_run(const aspire_edit_plates_opts *o) {
    plates_job j = {.o = o};
    int64_t *rows = NULL, n = 0;
    int prev = aspire_threads_enter(o->threads);
    int rc = open_job(&j);
    if (!rc) rc = select_rows(&j, &rows, &n);
    plate_item it[PLATE_BATCH];
    memset(it, 0, sizeof it);
    aspire_progress pg;
    aspire_progress_init(&pg, "edit plates", n, "img");
    if (!o->progress) pg.quiet = 1;
    for (int64_t s = 0; !rc && s < n && (!o->limit || j.written < o->limit); s += PLATE_BATCH) {
        int nb = (int)(n - s < PLATE_BATCH ? n - s : PLATE_BATCH);
        for (int i = 0; i < nb; i++) it[i].row = rows[s + i];
        rc = load_items(&j, it, nb);
        if (!rc) rc = extract_items(&j, it, nb);
        if (!rc) rc = write_plates(&j, it, nb);
        for (int i = 0; i < nb; i++) item_destroy(&it[i]);
        aspire_progress_update(&pg, s + nb, "%d plates", j.written);
    }
    if (!rc && j.written == 0)
        rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s: no image of the split has a caption that names a background", o->data);
    if (!rc) rc = aspire_sync_fs(o->out);
    if (!rc) { rc = aspire_csv_writer_commit(j.w); j.w = NULL; }
    if (!rc) aspire_progress_finish(&pg, "%d plates (%s) in %s", j.written, aspire_inpainter_name(j.inp), o->out);
    aspire_free(rows, 0);
    close_job(&j);
    aspire_threads_leave(prev);
    return rc;
}
