/* cmd_extract.c — `aspire extract`: captions (CSV `path,caption`) + a dataset's metadata.csv →
 * JSON lines with the reference's fields img_id, img_filename, caption, class, label, foreground,
 * background, alternate_background (REFERENCE.md §4), through the extractor (aspire/extract.h).
 * `--text` extracts one caption and prints its line, for trying the extractor out. */
#include "cli/cli.h"

#include "aspire/extract.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a small CSV reader (RFC 4180: quotes, doubled quotes, newlines inside quotes) ---------- */
/* Private to this command until the io module's csv.h lands. */

typedef struct csv_table {
    char ***rows;      /* rows[r][c]; row 0 is the header */
    int *ncols;
    int *line;         /* the file line each row starts on */
    int nrows;
} csv_table;

static void csv_free(csv_table *t) {
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols[r]; c++) free(t->rows[r][c]);
        free(t->rows[r]);
    }
    free(t->rows);
    free(t->ncols);
    free(t->line);
    memset(t, 0, sizeof *t);
}

static int csv_read(const char *path, csv_table *t) {
    memset(t, 0, sizeof *t);
    FILE *fp = fopen(path, "rb");
    if (!fp) return aspire_error(ASPIRE_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    size_t cap = 0, len = 0;
    char *field = NULL;
    char **row = NULL;
    int nrow = 0, caprow = 0, caprows = 0, line = 1, row_line = 1;
    int quoted = 0, in_field = 0, c, rc = ASPIRE_OK;
    for (;;) {
        c = fgetc(fp);
        if (quoted) {
            if (c == EOF) { rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: unterminated quoted field", path, row_line); break; }
            if (c == '"') {
                int d = fgetc(fp);
                if (d == '"') c = '"';
                else { quoted = 0; if (d != EOF) ungetc(d, fp); continue; }
            } else if (c == '\n') line++;
        } else if (c == '"' && len == 0 && !in_field) {
            quoted = 1; in_field = 1; continue;
        } else if (c == ',' || c == '\n' || c == EOF) {
            if (c == EOF && nrow == 0 && len == 0 && !in_field) break;
            /* end of field */
            if (len && field[len - 1] == '\r' && c != ',') len--;
            char *f = malloc(len + 1);
            if (!f) { rc = ASPIRE_ERR_NOMEM; break; }
            if (len) memcpy(f, field, len);
            f[len] = 0;
            if (nrow == caprow) {
                caprow = caprow ? caprow * 2 : 8;
                char **p = realloc(row, (size_t)caprow * sizeof *p);
                if (!p) { free(f); rc = ASPIRE_ERR_NOMEM; break; }
                row = p;
            }
            row[nrow++] = f;
            len = 0;
            in_field = 0;
            if (c == ',') continue;
            /* end of row (skip blank lines) */
            if (!(nrow == 1 && row[0][0] == 0)) {
                if (t->nrows == caprows) {
                    caprows = caprows ? caprows * 2 : 256;
                    char ***pr = realloc(t->rows, (size_t)caprows * sizeof *pr);
                    int *pn = realloc(t->ncols, (size_t)caprows * sizeof *pn);
                    int *pl = realloc(t->line, (size_t)caprows * sizeof *pl);
                    if (pr) t->rows = pr;
                    if (pn) t->ncols = pn;
                    if (pl) t->line = pl;
                    if (!pr || !pn || !pl) { rc = ASPIRE_ERR_NOMEM; break; }
                }
                t->rows[t->nrows] = row;
                t->ncols[t->nrows] = nrow;
                t->line[t->nrows] = row_line;
                t->nrows++;
                row = NULL;
                caprow = 0;
            } else {
                free(row[0]);
            }
            nrow = 0;
            if (c == EOF) break;
            line++;
            row_line = line;
            continue;
        }
        if (len + 1 >= cap) {
            cap = cap ? cap * 2 : 256;
            char *p = realloc(field, cap);
            if (!p) { rc = ASPIRE_ERR_NOMEM; break; }
            field = p;
        }
        field[len++] = (char)c;
        in_field = 1;
    }
    if (rc == ASPIRE_ERR_NOMEM) aspire_error(rc, "%s: out of memory", path);
    for (int k = 0; k < nrow; k++) free(row[k]);
    free(row);
    free(field);
    if (ferror(fp) && !rc) rc = aspire_error(ASPIRE_ERR_IO, "%s: read error", path);
    fclose(fp);
    if (rc) csv_free(t);
    return rc;
}

static int csv_column(const csv_table *t, const char *path, const char *name, int *col) {
    *col = -1;
    if (t->nrows == 0) return aspire_error(ASPIRE_ERR_FORMAT, "%s: empty file (a header with '%s' expected)", path, name);
    for (int c = 0; c < t->ncols[0]; c++)
        if (strcmp(t->rows[0][c], name) == 0) { *col = c; return ASPIRE_OK; }
    return aspire_error(ASPIRE_ERR_FORMAT, "%s:1: no column '%s'", path, name);
}

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

/* One output line (no newline); free with free(). */
static char *record_json(const char *img_id, const char *filename, const char *caption, int cls,
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
    cJSON_AddItemToObject(o, "foreground", string_list(e->foreground, e->n_foreground));
    cJSON_AddItemToObject(o, "background", string_list(bg, e->background ? 1 : 0));
    cJSON_AddItemToObject(o, "alternate_background", string_list(alt, e->alternate ? 1 : 0));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
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

/* Writes the lines to `path` through a temporary file beside it (fsync, rename), so that an
 * existing file is replaced whole or not at all. */
static int write_atomic_lines(const char *path, char **lines, int n) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 32);
    if (!tmp) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    snprintf(tmp, pl + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) { int rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot create (%s)", tmp, strerror(errno)); free(tmp); return rc; }
    int ok = 1;
    for (int i = 0; i < n && ok; i++) ok = fputs(lines[i], fp) >= 0 && fputc('\n', fp) != EOF;
    ok = ok && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    ok = (fclose(fp) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int rc = aspire_error(ASPIRE_ERR_IO, "%s: cannot write (%s)", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    return ASPIRE_OK;
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
    csv_table meta = {0}, caps = {0};
    meta_row *index = NULL;
    aspire_extraction *items = NULL;
    int *item_cls = NULL, nitems = 0, status = 1;
    char **lines = NULL;
    const char *fail_msg = NULL;

    if ((rc = aspire_extractor_new_wordnet((const char *const *)names, nclasses, &ex))) goto done;

    if (text) {
        if (cls < 0 || cls >= nclasses) {
            fprintf(stderr, "aspire extract: --class %d out of range (%d classes)\n", cls, nclasses);
            status = 2;
            goto done;
        }
        aspire_extraction e;
        if ((rc = aspire_extractor_extract(ex, text, cls, &e)) ||
            (rc = aspire_extractor_alternates(ex, &e, &cls, 1))) {
            aspire_extraction_destroy(&e);
            goto done;
        }
        char *s = record_json(NULL, NULL, text, cls, names[cls], &e);
        aspire_extraction_destroy(&e);
        if (!s) { fail_msg = "out of memory"; goto done; }
        printf("%s\n", s);
        free(s);
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

    /* metadata */
    char meta_path[4096];
    snprintf(meta_path, sizeof meta_path, "%s/metadata.csv", data);
    int c_id, c_file, c_y, c_path, c_cap;
    if ((rc = csv_read(meta_path, &meta)) || (rc = csv_column(&meta, meta_path, "img_id", &c_id)) ||
        (rc = csv_column(&meta, meta_path, "img_filename", &c_file)) || (rc = csv_column(&meta, meta_path, "y", &c_y)))
        goto done;
    int nmeta = meta.nrows - 1;
    index = calloc((size_t)nmeta + 1, sizeof *index);
    if (!index) { fail_msg = "out of memory"; goto done; }
    for (int r = 1; r < meta.nrows; r++) {
        int need = c_id > c_file ? c_id : c_file;
        need = need > c_y ? need : c_y;
        if (meta.ncols[r] <= need) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: %d fields, %d expected", meta_path, meta.line[r], meta.ncols[r], meta.ncols[0]);
            goto done;
        }
        char *end;
        errno = 0;
        long y = strtol(meta.rows[r][c_y], &end, 10);
        if (!meta.rows[r][c_y][0] || *end || errno || y < 0 || y >= nclasses) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: y = '%s' is not a class in 0..%d (see --classes)", meta_path,
                              meta.line[r], meta.rows[r][c_y], nclasses - 1);
            goto done;
        }
        index[r - 1] = (meta_row){meta.rows[r][c_file], r};
    }
    qsort(index, (size_t)nmeta, sizeof *index, cmp_meta);

    /* captions */
    if ((rc = csv_read(captions, &caps)) || (rc = csv_column(&caps, captions, "path", &c_path)) ||
        (rc = csv_column(&caps, captions, "caption", &c_cap)))
        goto done;
    int ncaps = caps.nrows - 1;
    items = calloc((size_t)ncaps + 1, sizeof *items);
    item_cls = calloc((size_t)ncaps + 1, sizeof *item_cls);
    int *item_row = calloc((size_t)ncaps + 1, sizeof *item_row);
    lines = calloc((size_t)ncaps + 1, sizeof *lines);
    if (!items || !item_cls || !item_row || !lines) { free(item_row); fail_msg = "out of memory"; goto done; }
    double t0 = aspire_now();
    for (int r = 1; r < caps.nrows; r++) {
        int need = c_path > c_cap ? c_path : c_cap;
        if (caps.ncols[r] <= need) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: %d fields, %d expected", captions, caps.line[r], caps.ncols[r], caps.ncols[0]);
            free(item_row);
            goto done;
        }
        const meta_row *m = match_path(index, nmeta, data, caps.rows[r][c_path]);
        if (!m) {
            rc = aspire_error(ASPIRE_ERR_NOTFOUND, "%s:%d: '%s' is not an img_filename of %s", captions, caps.line[r],
                              caps.rows[r][c_path], meta_path);
            free(item_row);
            goto done;
        }
        int y = (int)strtol(meta.rows[m->row][c_y], NULL, 10);
        item_cls[nitems] = y;
        item_row[nitems] = m->row;
        rc = aspire_extractor_extract(ex, caps.rows[r][c_cap], y, &items[nitems]);
        nitems++;
        if (rc) {
            aspire_error_prefix(rc, "%s:%d", captions, caps.line[r]);
            free(item_row);
            goto done;
        }
    }
    if ((rc = aspire_extractor_alternates(ex, items, item_cls, nitems))) { free(item_row); goto done; }
    double t1 = aspire_now();
    int with_bg = 0, nfg = 0;
    for (int i = 0; i < nitems; i++) {
        int mr = item_row[i];
        lines[i] = record_json(meta.rows[mr][c_id], meta.rows[mr][c_file], caps.rows[i + 1][c_cap], item_cls[i],
                               names[item_cls[i]], &items[i]);
        if (!lines[i]) { free(item_row); fail_msg = "out of memory"; goto done; }
        with_bg += items[i].background != NULL;
        nfg += items[i].n_foreground;
    }
    free(item_row);
    if ((rc = write_atomic_lines(out, lines, nitems))) goto done;
    if (!quiet)
        fprintf(stderr, "extract: %d captions in %.2f s (%.0f/s): %d with a background, %d foreground phrases → %s\n",
                nitems, t1 - t0, nitems / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9), with_bg, nfg, out);
    status = 0;

done:
    if (status && !(status == 2)) cli_fail("extract", fail_msg);
    if (items)
        for (int i = 0; i < nitems; i++) aspire_extraction_destroy(&items[i]);
    if (lines)
        for (int i = 0; i < nitems; i++) free(lines[i]);
    free(lines);
    free(items);
    free(item_cls);
    free(index);
    csv_free(&meta);
    csv_free(&caps);
    aspire_extractor_free(ex);
    for (int c = 0; c < nclasses; c++) free(names[c]);
    return status;
}
