/* extract_stage.c — aspire_extract_run (stage_extract.h): captions joined to the dataset index's
 * rows, each caption's extraction, the alternative backgrounds over all of them, the records
 * written in the captions' order. */
#include "aspire/stage_extract.h"

#include "aspire/csv.h"
#include "aspire/dataset.h"
#include "aspire/jsonl.h"
#include "aspire/progress.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static cJSON *string_list(char *const *s, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *v = cJSON_CreateString(s[i]);
        if (!v) { cJSON_Delete(a); return NULL; }
        cJSON_AddItemToArray(a, v);
    }
    return a;
}

cJSON *aspire_extract_record(const char *img_id, const char *filename, const char *caption, int cls, const char *label,
                             const aspire_extraction *e) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char *end = NULL;
    errno = 0;
    long long id = img_id ? strtoll(img_id, &end, 10) : 0;
    if (img_id && *img_id && !*end && !errno) cJSON_AddNumberToObject(o, "img_id", (double)id);
    else if (img_id) cJSON_AddStringToObject(o, "img_id", img_id);
    if (filename) cJSON_AddStringToObject(o, "img_filename", filename);
    cJSON_AddStringToObject(o, "caption", caption);
    cJSON_AddNumberToObject(o, "class", cls);
    cJSON_AddStringToObject(o, "label", label);
    char *bg[1] = {e->background}, *alt[1] = {e->alternate};
    cJSON *lists[3] = {string_list(e->foreground, e->n_foreground), string_list(bg, e->background ? 1 : 0),
                       string_list(alt, e->alternate ? 1 : 0)};
    const char *keys[3] = {"foreground", "background", "alternate_background"};
    bool ok = true;
    for (int k = 0; k < 3; k++) {
        if (lists[k]) cJSON_AddItemToObject(o, keys[k], lists[k]);
        else ok = false;
    }
    if (!ok || !cJSON_GetObjectItemCaseSensitive(o, "label")) { cJSON_Delete(o); return NULL; }
    return o;
}

typedef struct ex_job {
    const aspire_extract_options *o;
    aspire_dataset_index *ix;
    const char *const *names;
    int nclasses;
    aspire_extractor *ex;
    aspire_csv *caps;
    int c_path, c_cap;
    aspire_extraction *items;
    int *item_cls, nitems;
    int64_t *item_row;
} ex_job;

/* The metadata (labels checked against the classes), the captions, the extractor. */
static int job_open(ex_job *j) {
    const aspire_extract_options *o = j->o;
    aspire_index_options io = {.layout = ASPIRE_LAYOUT_EXTRA};
    int rc = aspire_dataset_index_open(&j->ix, o->data_dir, &io);
    if (!rc) rc = aspire_dataset_index_require(j->ix, "img_id");
    if (rc) return rc;
    j->names = o->class_names ? o->class_names : aspire_dataset_index_class_names(j->ix);
    j->nclasses = o->class_names ? o->n_classes : aspire_dataset_index_n_classes(j->ix);
    for (int64_t r = 0; r < aspire_dataset_index_rows(j->ix); r++)
        if (aspire_dataset_index_label(j->ix, r) >= j->nclasses)
            return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column 'y': %d is not a class in 0..%d (the class names given)",
                                aspire_dataset_index_path(j->ix), aspire_dataset_index_line(j->ix, r),
                                aspire_dataset_index_label(j->ix, r), j->nclasses - 1);
    if ((rc = aspire_extractor_new_wordnet(j->names, j->nclasses, &j->ex))) return rc;
    if ((rc = aspire_csv_read(&j->caps, o->captions)) || (rc = aspire_csv_require(j->caps, "path", &j->c_path)) ||
        (rc = aspire_csv_require(j->caps, "caption", &j->c_cap)))
        return rc;
    int64_t n = aspire_csv_nrows(j->caps);
    j->items = aspire_calloc((size_t)n + 1, sizeof *j->items);
    j->item_cls = aspire_calloc((size_t)n + 1, sizeof *j->item_cls);
    j->item_row = aspire_calloc((size_t)n + 1, sizeof *j->item_row);
    return j->items && j->item_cls && j->item_row ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
}

static void job_close(ex_job *j) {
    int64_t n = j->caps ? aspire_csv_nrows(j->caps) : 0;
    for (int i = 0; j->items && i < j->nitems; i++) aspire_extraction_destroy(&j->items[i]);
    aspire_free(j->items, ((size_t)n + 1) * sizeof *j->items);
    aspire_free(j->item_cls, ((size_t)n + 1) * sizeof *j->item_cls);
    aspire_free(j->item_row, ((size_t)n + 1) * sizeof *j->item_row);
    aspire_csv_free(j->caps);
    aspire_extractor_free(j->ex);
    aspire_dataset_index_free(j->ix);
}

static void print_concepts(const ex_job *j) {
    for (int c = 0; c < j->nclasses; c++) {
        const char *concept = aspire_extractor_concept(j->ex, c);
        if (concept) fprintf(stderr, "extract: class %d '%s' → WordNet concept %s\n", c, j->names[c], concept);
        else fprintf(stderr, "extract: warning: class %d '%s' has no WordNet concept; its objects will not be "
                             "told from the foreground\n", c, j->names[c]);
    }
}

/* Each caption joined to its metadata row and extracted, then the alternates over all. */
static int extract_all(ex_job *j) {
    int64_t ncaps = aspire_csv_nrows(j->caps);
    aspire_progress pg;
    aspire_progress_init(&pg, "extract", ncaps, "caption");
    pg.quiet = !j->o->progress;
    int rc = ASPIRE_OK;
    for (int64_t r = 0; r < ncaps && !rc; r++) {
        int64_t row = -1;
        rc = aspire_dataset_index_find(j->ix, aspire_csv_field(j->caps, r, j->c_path), &row);
        if (rc == ASPIRE_ERR_NOTFOUND) aspire_error_prefix(rc, "%s:%d: column 'path'", j->o->captions, aspire_csv_line(j->caps, r));
        if (rc) break;
        int y = aspire_dataset_index_label(j->ix, row);
        j->item_cls[j->nitems] = y;
        j->item_row[j->nitems] = row;
        rc = aspire_extractor_extract(j->ex, aspire_csv_field(j->caps, r, j->c_cap), y, &j->items[j->nitems]);
        j->nitems++;
        if (rc) aspire_error_prefix(rc, "%s:%d", j->o->captions, aspire_csv_line(j->caps, r));
        else aspire_progress_update(&pg, r + 1, NULL);
    }
    if (!rc) rc = aspire_extractor_alternates(j->ex, j->items, j->item_cls, j->nitems);
    int with_bg = 0, nfg = 0;
    for (int i = 0; !rc && i < j->nitems; i++) {
        with_bg += j->items[i].background != NULL;
        nfg += j->items[i].n_foreground;
    }
    if (!rc) aspire_progress_finish(&pg, "%d with a background, %d foreground phrases", with_bg, nfg);
    return rc;
}

/* The records, in the captions' order. */
static int write_records(ex_job *j, aspire_jsonl_writer *w) {
    for (int i = 0; i < j->nitems; i++) {
        int64_t mr = j->item_row[i];
        cJSON *rec = aspire_extract_record(aspire_dataset_index_field(j->ix, mr, "img_id"), aspire_dataset_index_filename(j->ix, mr),
                                           aspire_csv_field(j->caps, i, j->c_cap), j->item_cls[i], j->names[j->item_cls[i]],
                                           &j->items[i]);
        if (!rec) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        int rc = aspire_jsonl_writer_write(w, rec);
        cJSON_Delete(rec);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

int aspire_extract_run(const aspire_extract_options *o) {
    if (!o->captions || !o->data_dir || !o->out)
        return aspire_error(ASPIRE_ERR_ARG, "extract: a captions file, a dataset folder and an output file are needed");
    ex_job j = {0};
    j.o = o;
    aspire_jsonl_writer *w = NULL;
    int rc = job_open(&j);
    if (!rc && o->progress) print_concepts(&j);
    /* the output is opened (a temporary file beside it) before the work, so that an unwritable
     * output fails at once; it replaces the old file only at the commit */
    if (!rc) rc = aspire_jsonl_writer_open(&w, o->out);
    if (!rc) rc = extract_all(&j);
    if (!rc) rc = write_records(&j, w);
    if (!rc) {
        rc = aspire_jsonl_writer_commit(w);
        w = NULL;
    }
    if (!rc && o->progress) fprintf(stderr, "extract: wrote %d records to %s\n", j.nitems, o->out);
    if (!rc && o->written) *o->written = j.nitems;
    aspire_jsonl_writer_abort(w);
    job_close(&j);
    return rc;
}
