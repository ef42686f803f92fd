/* cmd_extract.c — `aspire extract`: captions (CSV `path,caption`) + a dataset's metadata.csv →
 * JSON lines with the reference's fields img_id, img_filename, caption, class, label, foreground,
 * background, alternate_background (REFERENCE.md §4), through the extractor (aspire/extract.h).
 * `--text` extracts one caption and prints its line, for trying the extractor out. */
#include "cli/cli.h"

#include "aspire/csv.h"
#include "aspire/extract.h"
#include "aspire/jsonl.h"
#include "aspire/progress.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the command -------------------------------------------------------------------------- */

typedef struct meta_row { const char *filename; int row; } meta_row;

static int cmp_meta(const void *a, const void *b) {
    return strcmp(((const meta_row *)a)->filename, ((const meta_row *)b)->filename);
}

static const meta_row *meta_find(const meta_row *m, int n, const char *name) {
    meta_row key = {.filename = name};
    return bsearch(&key, m, (size_t)n, sizeof *m, cmp_meta);
}

/* A caption's path names a metadata row if it equals img_filename, or DIR/img_filename, or ends
 * with /img_filename. */
static const meta_row *match_path(const meta_row *m, int n, const char *dir, const char *path) {
    const meta_row *r = meta_find(m, n, path);
    if (r) return r;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    if (strncmp(path, dir, dl) == 0 && path[dl] == '/' && (r = meta_find(m, n, path + dl + 1))) return r;
    for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/'))
        if ((r = meta_find(m, n, p + 1))) return r;
    return NULL;
}

static cJSON *string_list(char *const *s, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *v = cJSON_CreateString(s[i]);
        if (!v) { cJSON_Delete(a); return NULL; }
        cJSON_AddItemToArray(a, v);
    }
    return a;
}

/* One output record (cJSON_Delete it), or NULL when out of memory. img_id is written as a number
 * when it is a whole number, as in the reference's files. */
static cJSON *record_json(const char *img_id, const char *filename, const char *caption, int cls,
                          const char *label, const aspire_extraction *e) {
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

/* Splits "a,b,c" into new strings; returns the count or -1. */
static int split_classes(const char *spec, char **names, int max) {
    int n = 0;
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        while (l && (*p == ' ')) { p++; l--; }
        while (l && p[l - 1] == ' ') l--;
        if (n == max || l == 0) goto fail;
        if (!(names[n] = malloc(l + 1))) goto fail;
        memcpy(names[n], p, l);
        names[n++][l] = 0;
        if (!e) break;
        p = e + 1;
        if (!*p) goto fail;
    }
    return n;
fail:
    for (int i = 0; i < n; i++) free(names[i]);
    return -1;
}

int cmd_extract(int argc, char **argv) {
    const char *captions = NULL, *data = NULL, *out = NULL, *classes = "landbird,waterbird", *text = NULL;
    int cls = 0, quiet = 0;
    const cli_opt opts[] = {
        {"--captions", CLI_STR, &captions, "captions CSV with columns path,caption"},
        {"--data", CLI_STR, &data, "dataset folder with metadata.csv (img_id, img_filename, y)"},
        {"--out", CLI_STR, &out, "JSON lines to write"},
        {"--classes", CLI_STR, &classes, "class names in order of y, comma-separated"},
        {"--text", CLI_STR, &text, "extract this one caption and print its line (no files)"},
        {"--class", CLI_INT, &cls, "the class of --text"},
        {"--quiet", CLI_FLAG, &quiet, "no summary on stderr"},
    };
    const char *summary =
        "Name each caption's foreground objects (without the class's own object), its background and an\n"
        "alternative background, with the built-in WordNet extractor (the paper's LLM step).";
    int rc = cli_parse("extract", summary, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), NULL, 0, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!text && (!captions || !data || !out)) {
        fprintf(stderr, "aspire extract: --captions, --data and --out are needed (or --text)\n");
        return 2;
    }
    char *names[ASPIRE_EXTRACT_MAX_CLASSES];
    int nclasses = split_classes(classes, names, ASPIRE_EXTRACT_MAX_CLASSES);
    if (nclasses < 1) {
        fprintf(stderr, "aspire extract: --classes wants 1 to %d non-empty names separated by commas\n",
                ASPIRE_EXTRACT_MAX_CLASSES);
        return 2;
    }
    aspire_extractor *ex = NULL;
    aspire_csv *meta = NULL, *caps = NULL;
    meta_row *index = NULL;
    aspire_extraction *items = NULL;
    int *item_cls = NULL, nitems = 0, status = 1;
    int64_t *item_row = NULL;
    aspire_jsonl_writer *w = NULL;
    const char *fail_msg = NULL;

    if ((rc = aspire_extractor_new_wordnet((const char *const *)names, nclasses, &ex))) goto done;

    if (text) {
        if (cls < 0 || cls >= nclasses) {
            fprintf(stderr, "aspire extract: --class %d out of range (%d classes)\n", cls, nclasses);
            status = 2;
            goto done;
        }
        aspire_extraction e;
        if ((rc = aspire_extractor_extract(ex, text, cls, &e)) || (rc = aspire_extractor_alternates(ex, &e, &cls, 1))) {
            aspire_extraction_destroy(&e);
            goto done;
        }
        cJSON *o = record_json(NULL, NULL, text, cls, names[cls], &e);
        aspire_extraction_destroy(&e);
        char *line = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!line) { fail_msg = "out of memory"; goto done; }
        printf("%s\n", line);
        cJSON_free(line);
        status = 0;
        goto done;
    }

    if (!quiet)
        for (int c = 0; c < nclasses; c++) {
            const char *concept = aspire_extractor_concept(ex, c);
            if (concept) fprintf(stderr, "extract: class %d '%s' → WordNet concept %s\n", c, names[c], concept);
            else fprintf(stderr, "extract: warning: class %d '%s' has no WordNet concept; its objects will not be "
                                 "told from the foreground\n", c, names[c]);
        }

    /* metadata: img_filename → row, with y checked against the classes */
    char meta_path[4096];
    snprintf(meta_path, sizeof meta_path, "%s/metadata.csv", data);
    int c_id, c_file, c_y, c_path, c_cap;
    if ((rc = aspire_csv_read(&meta, meta_path)) || (rc = aspire_csv_require(meta, "img_id", &c_id)) ||
        (rc = aspire_csv_require(meta, "img_filename", &c_file)) || (rc = aspire_csv_require(meta, "y", &c_y)))
        goto done;
    int64_t nmeta = aspire_csv_nrows(meta);
    index = calloc((size_t)nmeta + 1, sizeof *index);
    if (!index) { fail_msg = "out of memory"; goto done; }
    for (int64_t r = 0; r < nmeta; r++) {
        int64_t y;
        if ((rc = aspire_csv_get_int(meta, r, c_y, &y))) goto done;
        if (y < 0 || y >= nclasses) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column 'y': %lld is not a class in 0..%d (see --classes)",
                              meta_path, aspire_csv_line(meta, r), (long long)y, nclasses - 1);
            goto done;
        }
        const char *file = aspire_csv_field(meta, r, c_file);
        if (!*file) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column 'img_filename' is empty", meta_path,
                              aspire_csv_line(meta, r));
            goto done;
        }
        index[r] = (meta_row){file, (int)r};
    }
    qsort(index, (size_t)nmeta, sizeof *index, cmp_meta);
    for (int64_t r = 1; r < nmeta; r++)  /* a caption could not tell which row it belongs to */
        if (strcmp(index[r - 1].filename, index[r].filename) == 0) {
            int a = index[r - 1].row < index[r].row ? index[r - 1].row : index[r].row;
            int b = index[r - 1].row ^ index[r].row ^ a;
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: img_filename '%s' is already on line %d", meta_path,
                              aspire_csv_line(meta, b), index[r].filename, aspire_csv_line(meta, a));
            goto done;
        }

    /* captions → extractions */
    if ((rc = aspire_csv_read(&caps, captions)) || (rc = aspire_csv_require(caps, "path", &c_path)) ||
        (rc = aspire_csv_require(caps, "caption", &c_cap)))
        goto done;
    /* the output is opened (a temporary file beside it) before the work, so that an unwritable
     * --out fails at once; it replaces the old file only at the commit */
    if ((rc = aspire_jsonl_writer_open(&w, out))) goto done;
    int64_t ncaps = aspire_csv_nrows(caps);
    items = calloc((size_t)ncaps + 1, sizeof *items);
    item_cls = calloc((size_t)ncaps + 1, sizeof *item_cls);
    item_row = calloc((size_t)ncaps + 1, sizeof *item_row);
    if (!items || !item_cls || !item_row) { fail_msg = "out of memory"; goto done; }
    aspire_progress pg;
    aspire_progress_init(&pg, "extract", ncaps, "caption");
    if (quiet) pg.quiet = 1;
    for (int64_t r = 0; r < ncaps; r++) {
        const char *path = aspire_csv_field(caps, r, c_path);
        const meta_row *m = match_path(index, (int)nmeta, data, path);
        if (!m) {
            rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s:%d: '%s' is not an img_filename of %s", captions,
                              aspire_csv_line(caps, r), path, meta_path);
            goto done;
        }
        int64_t y = 0;
        aspire_csv_get_int(meta, m->row, c_y, &y);
        item_cls[nitems] = (int)y;
        item_row[nitems] = m->row;
        rc = aspire_extractor_extract(ex, aspire_csv_field(caps, r, c_cap), (int)y, &items[nitems]);
        nitems++;
        if (rc) {
            aspire_error_prefix(rc, "%s:%d", captions, aspire_csv_line(caps, r));
            goto done;
        }
        aspire_progress_update(&pg, r + 1, NULL);
    }
    if ((rc = aspire_extractor_alternates(ex, items, item_cls, nitems))) goto done;
    int with_bg = 0, nfg = 0;
    for (int i = 0; i < nitems; i++) {
        with_bg += items[i].background != NULL;
        nfg += items[i].n_foreground;
    }
    aspire_progress_finish(&pg, "%d with a background, %d foreground phrases", with_bg, nfg);

    /* records, in the captions' order */
    for (int i = 0; i < nitems; i++) {
        int64_t mr = item_row[i];
        cJSON *o = record_json(aspire_csv_field(meta, mr, c_id), aspire_csv_field(meta, mr, c_file),
                               aspire_csv_field(caps, i, c_cap), item_cls[i], names[item_cls[i]], &items[i]);
        if (!o) { fail_msg = "out of memory"; goto done; }
        rc = aspire_jsonl_writer_write(w, o);
        cJSON_Delete(o);
        if (rc) goto done;
    }
    rc = aspire_jsonl_writer_commit(w);
    w = NULL;
    if (rc) goto done;
    if (!quiet) fprintf(stderr, "extract: wrote %d records to %s\n", nitems, out);
    status = 0;

done:
    if (status == 1) cli_fail("extract", fail_msg);
    aspire_jsonl_writer_abort(w);
    if (items)
        for (int i = 0; i < nitems; i++) aspire_extraction_destroy(&items[i]);
    free(items);
    free(item_cls);
    free(item_row);
    free(index);
    aspire_csv_free(meta);
    aspire_csv_free(caps);
    aspire_extractor_free(ex);
    for (int c = 0; c < nclasses; c++) free(names[c]);
    return status;
}
