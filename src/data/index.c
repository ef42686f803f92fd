/* index.c — the dataset index: a dataset folder's metadata.csv read and checked once (labels,
 * splits, places, image ids; class and place names and counts; group sizes), the join of a path
 * (e.g. a caption's) to its row, and the reference counting that lets decoded splits share it. */
#include "data/data_internal.h"

#include "aspire/classifier.h"
#include "aspire/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABEL 65535
#define MAX_PLACE 65535

static void names_free(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) aspire_strfree(names[i]);
    aspire_free(names, sizeof(char *) * (size_t)(n ? n : 1));
}

void ix_retain(aspire_dataset_index *ix) { ix->refs++; }

void ix_release(aspire_dataset_index *ix) {
    if (!ix || --ix->refs > 0) return;
    size_t n = (size_t)(ix->n ? ix->n : 1);
    aspire_free(ix->y, n * sizeof(int32_t));
    aspire_free(ix->place, n * sizeof(int32_t));
    aspire_free(ix->split, n);
    aspire_free(ix->img_id, n * sizeof(int64_t));
    aspire_free(ix->by_name, n * sizeof(ix_name));
    names_free(ix->class_names, ix->n_classes);
    names_free(ix->place_names, ix->n_places);
    aspire_csv_free(ix->csv);
    aspire_strfree(ix->dir);
    aspire_strfree(ix->meta_path);
    aspire_free(ix, sizeof *ix);
}

void aspire_dataset_index_free(aspire_dataset_index *ix) { ix_release(ix); }

/* ---- rows ------------------------------------------------------------------------------------ */
enum { C_ID, C_FILE, C_Y, C_SPLIT, C_PLACE, NCOLS };
static const char *const col_names[NCOLS] = {"img_id", "img_filename", "y", "split", "place"};

/* Row r's integer in column c within [lo, hi]; `what` describes the value in the message. */
static int get_ranged(const aspire_csv *csv, int64_t r, int c, int64_t lo, int64_t hi, const char *what, int64_t *out) {
    int rc = aspire_csv_get_int(csv, r, c, out);
    if (rc) return rc;
    if (*out < lo || *out > hi)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column '%s': %s %lld is out of range (%lld..%lld)", aspire_csv_path(csv),
                            aspire_csv_line(csv, r), aspire_csv_colname(csv, c), what, (long long)*out, (long long)lo,
                            (long long)hi);
    return ASPIRE_OK;
}

static int check_row(aspire_dataset_index *ix, int64_t r, const int *cols) {
    const aspire_csv *csv = ix->csv;
    if (!*aspire_csv_field(csv, r, cols[C_FILE]))
        return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column 'img_filename' is empty", aspire_csv_path(csv), aspire_csv_line(csv, r));
    int64_t y, id = r + 1, split = 0, place = -1;
    int rc = get_ranged(csv, r, cols[C_Y], 0, MAX_LABEL, "label", &y);
    if (!rc && cols[C_ID] >= 0) rc = aspire_csv_get_int(csv, r, cols[C_ID], &id);
    if (!rc && ix->layout == ASPIRE_LAYOUT_WATERBIRDS) {
        rc = aspire_csv_get_int(csv, r, cols[C_SPLIT], &split);
        if (!rc && (split < 0 || split > 2))
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column 'split': unknown split code %lld (0 = train, 1 = val, 2 = test)",
                              aspire_csv_path(csv), aspire_csv_line(csv, r), (long long)split);
        if (!rc) rc = get_ranged(csv, r, cols[C_PLACE], 0, MAX_PLACE, "place", &place);
    }
    if (rc) return rc;
    ix->y[r] = (int32_t)y;
    ix->split[r] = (int8_t)split;
    ix->place[r] = (int32_t)place;
    ix->img_id[r] = id;
    return ASPIRE_OK;
}

/* Waterbirds layout: every class 0..max_y has a row. A label typo (one y = 7 among 0s and 1s) would
 * otherwise make 8 classes, 6 of them empty; the message names the first row of the largest label. */
static int check_classes(const aspire_dataset_index *ix) {
    if (ix->layout != ASPIRE_LAYOUT_WATERBIRDS || ix->n_classes <= 0) return ASPIRE_OK;
    size_t nb = sizeof(int64_t) * (size_t)ix->n_classes;
    int64_t *count = aspire_calloc(1, nb);
    if (!count) return ASPIRE_ERR_NOMEM;
    for (int64_t r = 0; r < ix->n; r++) count[ix->y[r]]++;
    int empty = -1, rc = ASPIRE_OK;
    for (int k = 0; k < ix->n_classes && empty < 0; k++) if (!count[k]) empty = k;
    aspire_free(count, nb);
    for (int64_t r = 0; empty >= 0 && r < ix->n; r++)
        if (ix->y[r] == ix->n_classes - 1) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column 'y': label %d leaves class %d without any image (classes are y = 0..%d, "
                              "each with at least one row); a typo?", ix->meta_path, aspire_csv_line(ix->csv, r), (int)ix->y[r], empty,
                              ix->n_classes - 1);
            break;
        }
    return rc;
}

/* Every row, all splits, so that a bad row anywhere is found; counts classes and places. */
static int read_rows(aspire_dataset_index *ix, int n_places) {
    int cols[NCOLS], rc = ASPIRE_OK;
    for (int c = 0; c < NCOLS && !rc; c++) {
        int required = ix->layout == ASPIRE_LAYOUT_EXTRA ? (c == C_FILE || c == C_Y) : 1;
        cols[c] = aspire_csv_col(ix->csv, col_names[c]);
        if (required) rc = aspire_csv_require(ix->csv, col_names[c], &cols[c]);
    }
    if (rc) return rc;
    ix->n = aspire_csv_nrows(ix->csv);
    size_t n = (size_t)(ix->n ? ix->n : 1);
    ix->y = aspire_malloc(n * sizeof(int32_t));
    ix->place = aspire_malloc(n * sizeof(int32_t));
    ix->split = aspire_malloc(n);
    ix->img_id = aspire_malloc(n * sizeof(int64_t));
    if (!ix->y || !ix->place || !ix->split || !ix->img_id) return ASPIRE_ERR_NOMEM;
    int64_t max_y = -1, max_place = -1;
    for (int64_t r = 0; r < ix->n && !rc; r++) {
        rc = check_row(ix, r, cols);
        if (!rc && ix->y[r] > max_y) max_y = ix->y[r];
        if (!rc && ix->place[r] > max_place) max_place = ix->place[r];
    }
    if (rc) return rc;
    ix->n_classes = (int)(max_y + 1);
    ix->n_places = ix->layout == ASPIRE_LAYOUT_EXTRA ? 0 : n_places > 0 ? n_places : (int)(max_place + 1);
    if (n_places > 0 && max_place >= n_places)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: column 'place': place %lld appears, but the dataset was opened with %d places",
                            ix->meta_path, (long long)max_place, n_places);
    return ASPIRE_OK;
}

/* ---- names ----------------------------------------------------------------------------------- */
/* Names from a column (one per label value, the same on every row of that value): *found = 0
 * when there is no such column. */
static int names_from_column(aspire_dataset_index *ix, const char *column, const int32_t *key, int n, char **names,
                             int *found) {
    int c = aspire_csv_col(ix->csv, column);
    *found = c >= 0;
    if (c < 0) return ASPIRE_OK;
    int64_t *first = aspire_malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!first) return ASPIRE_ERR_NOMEM;
    for (int k = 0; k < n; k++) first[k] = -1;
    int rc = ASPIRE_OK;
    for (int64_t r = 0; r < ix->n && !rc; r++) {
        int k = key[r];
        const char *v = aspire_csv_field(ix->csv, r, c);
        if (k < 0) continue;
        if (!*v)
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column '%s' is empty", ix->meta_path, aspire_csv_line(ix->csv, r), column);
        else if (first[k] < 0) {
            first[k] = r;
            if (!(names[k] = aspire_strdup(v))) rc = ASPIRE_ERR_NOMEM;
        } else if (strcmp(names[k], v) != 0)
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column '%s': '%s', but line %d names the same value '%s'", ix->meta_path,
                              aspire_csv_line(ix->csv, r), column, v, aspire_csv_line(ix->csv, first[k]), names[k]);
    }
    aspire_free(first, sizeof(int64_t) * (size_t)(n ? n : 1));
    return rc;
}

/* classes.txt beside metadata.csv: one name per line, at least one per class. */
static int names_from_file(aspire_dataset_index *ix, char **names, int *found) {
    char *path = aspire_path_join(ix->dir, "classes.txt"), *buf = NULL;
    size_t len = 0;
    if (!path) return ASPIRE_ERR_NOMEM;
    *found = aspire_file_exists(path);
    int rc = *found ? ds_regular_or_absent(path) : ASPIRE_OK;
    if (!rc && *found) rc = aspire_read_file_max(path, &buf, &len, (size_t)16 << 20);
    int k = 0, line = 0;
    for (char *p = buf; !rc && p && p < buf + len && k < ix->n_classes; line++) {
        char *e = memchr(p, '\n', (size_t)(buf + len - p));
        char *end = e ? e : buf + len;
        while (end > p && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) end--;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (end == p) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: empty class name", path, line + 1);
        else if (!(names[k] = aspire_malloc((size_t)(end - p) + 1))) rc = ASPIRE_ERR_NOMEM;
        else { memcpy(names[k], p, (size_t)(end - p)); names[k++][end - p] = 0; }
        p = e ? e + 1 : buf + len;
    }
    if (!rc && *found && k < ix->n_classes)
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: %d class names for the %d classes (y = 0..%d) of %s", path, k, ix->n_classes,
                          ix->n_classes - 1, ix->meta_path);
    if (buf) aspire_free(buf, len + 1);
    aspire_strfree(path);
    return rc;
}

/* The default names: Waterbirds' (landbird/waterbird, land/water), else "class K" / "place P". */
static int default_names(char **names, int n, int places) {
    static const char *const wb_places[2] = {"land", "water"};
    char buf[64];
    for (int k = 0; k < n; k++) {
        if (names[k]) continue;
        if (!places) aspire_default_class_name(k, n, buf, sizeof buf);
        else if (n == 2) snprintf(buf, sizeof buf, "%s", wb_places[k]);
        else snprintf(buf, sizeof buf, "place %d", k);
        if (!(names[k] = aspire_strdup(buf))) return ASPIRE_ERR_NOMEM;
    }
    return ASPIRE_OK;
}

static int read_names(aspire_dataset_index *ix) {
    size_t kb = sizeof(char *) * (size_t)(ix->n_classes ? ix->n_classes : 1);
    size_t pb = sizeof(char *) * (size_t)(ix->n_places ? ix->n_places : 1);
    ix->class_names = aspire_calloc(1, kb);
    ix->place_names = aspire_calloc(1, pb);
    if (!ix->class_names || !ix->place_names) return ASPIRE_ERR_NOMEM;
    int found = 0;
    int rc = names_from_column(ix, "class_name", ix->y, ix->n_classes, ix->class_names, &found);
    if (!rc) rc = check_classes(ix);  /* before classes.txt, which would only see a count off */
    if (!rc && !found) rc = names_from_file(ix, ix->class_names, &found);
    if (!rc) rc = default_names(ix->class_names, ix->n_classes, 0);
    if (!rc && ix->n_places) rc = names_from_column(ix, "place_name", ix->place, ix->n_places, ix->place_names, &found);
    if (!rc) rc = default_names(ix->place_names, ix->n_places, 1);
    return rc;
}

/* ---- opening --------------------------------------------------------------------------------- */
/* The index of `dir` with metadata.csv read from the file or, when text is not NULL, parsed from
 * text[0, n) (the fuzz target's way in; classes.txt is still looked for in dir). */
static int index_open(aspire_dataset_index **out, const char *dir, const char *text, size_t n, const aspire_index_options *opt) {
    *out = NULL;
    aspire_index_options o = {0};
    if (opt) o = *opt;
    aspire_dataset_index *ix = aspire_calloc(1, sizeof *ix);
    if (!ix) return ASPIRE_ERR_NOMEM;
    ix->refs = 1;
    ix->layout = o.layout;
    ix->dir = aspire_strdup(dir);
    ix->meta_path = aspire_path_join(dir, o.metadata ? o.metadata : "metadata.csv");
    int rc = ix->dir && ix->meta_path ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
    if (!rc && text) rc = aspire_csv_parse(&ix->csv, text, n, ix->meta_path);
    if (!rc && !text) rc = ds_regular_or_absent(ix->meta_path);
    if (!rc && !text) rc = aspire_csv_read(&ix->csv, ix->meta_path);
    if (!rc) rc = read_rows(ix, o.n_places);
    if (!rc) rc = read_names(ix);
    if (rc) {
        ix_release(ix);
        return rc;
    }
    *out = ix;
    return ASPIRE_OK;
}

int aspire_dataset_index_open(aspire_dataset_index **out, const char *dir, const aspire_index_options *opt) {
    return index_open(out, dir, NULL, 0, opt);
}

int ix_open_text(aspire_dataset_index **out, const char *dir, const char *text, size_t n, const aspire_index_options *opt) {
    return index_open(out, dir, text, n, opt);
}

/* ---- accessors ------------------------------------------------------------------------------- */
#define ROW_OK(ix, r) ASPIRE_ASSERT((r) >= 0 && (r) < (ix)->n, "(row %lld of %lld)", (long long)(r), (long long)(ix)->n)

const char *aspire_dataset_index_dir(const aspire_dataset_index *ix) { return ix->dir; }
const char *aspire_dataset_index_path(const aspire_dataset_index *ix) { return ix->meta_path; }
aspire_layout aspire_dataset_index_layout(const aspire_dataset_index *ix) { return ix->layout; }
int64_t aspire_dataset_index_rows(const aspire_dataset_index *ix) { return ix->n; }
int aspire_dataset_index_n_classes(const aspire_dataset_index *ix) { return ix->n_classes; }
int aspire_dataset_index_n_places(const aspire_dataset_index *ix) { return ix->n_places; }
int aspire_dataset_index_n_groups(const aspire_dataset_index *ix) { return ix->n_places ? ix->n_classes * ix->n_places : 0; }
const char *const *aspire_dataset_index_class_names(const aspire_dataset_index *ix) { return (const char *const *)ix->class_names; }
const char *const *aspire_dataset_index_place_names(const aspire_dataset_index *ix) { return (const char *const *)ix->place_names; }

const char *aspire_dataset_index_class_name(const aspire_dataset_index *ix, int k) {
    return k >= 0 && k < ix->n_classes ? ix->class_names[k] : NULL;
}

const char *aspire_dataset_index_place_name(const aspire_dataset_index *ix, int p) {
    return p >= 0 && p < ix->n_places ? ix->place_names[p] : NULL;
}

int32_t aspire_dataset_index_label(const aspire_dataset_index *ix, int64_t r) { ROW_OK(ix, r); return ix->y[r]; }
int32_t aspire_dataset_index_place(const aspire_dataset_index *ix, int64_t r) { ROW_OK(ix, r); return ix->place[r]; }
int aspire_dataset_index_split(const aspire_dataset_index *ix, int64_t r) { ROW_OK(ix, r); return ix->split[r]; }
int64_t aspire_dataset_index_img_id(const aspire_dataset_index *ix, int64_t r) { ROW_OK(ix, r); return ix->img_id[r]; }
int aspire_dataset_index_line(const aspire_dataset_index *ix, int64_t r) { ROW_OK(ix, r); return aspire_csv_line(ix->csv, r); }

int32_t aspire_dataset_index_group(const aspire_dataset_index *ix, int64_t r) {
    ROW_OK(ix, r);
    return ix->place[r] >= 0 ? ix->y[r] * ix->n_places + ix->place[r] : -1;
}

const char *aspire_dataset_index_field(const aspire_dataset_index *ix, int64_t r, const char *column) {
    ROW_OK(ix, r);
    int c = aspire_csv_col(ix->csv, column);
    return c < 0 ? NULL : aspire_csv_field(ix->csv, r, c);
}

const char *aspire_dataset_index_filename(const aspire_dataset_index *ix, int64_t r) {
    return aspire_dataset_index_field(ix, r, "img_filename");
}

int aspire_dataset_index_has_column(const aspire_dataset_index *ix, const char *column) {
    return aspire_csv_col(ix->csv, column) >= 0;
}

int aspire_dataset_index_require(const aspire_dataset_index *ix, const char *column) {
    return aspire_csv_require(ix->csv, column, NULL);
}

static int in_split(const aspire_dataset_index *ix, int64_t r, int split) {
    return split == ASPIRE_SPLIT_ALL || ix->layout == ASPIRE_LAYOUT_EXTRA || ix->split[r] == split;
}

int64_t aspire_dataset_index_count(const aspire_dataset_index *ix, int split) {
    int64_t n = 0;
    for (int64_t r = 0; r < ix->n; r++) n += in_split(ix, r, split);
    return n;
}

void aspire_dataset_index_group_counts(const aspire_dataset_index *ix, int split, int64_t *counts) {
    int ng = aspire_dataset_index_n_groups(ix);
    memset(counts, 0, sizeof(int64_t) * (size_t)ng);
    for (int64_t r = 0; r < ix->n; r++)
        if (in_split(ix, r, split) && ix->place[r] >= 0) counts[ix->y[r] * ix->n_places + ix->place[r]]++;
}

int aspire_split_parse(const char *name, int *split) {
    static const char *const names[4] = {"all", "train", "val", "test"};
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, names[i]) == 0) { *split = i - 1; return ASPIRE_OK; }
    return aspire_error(ASPIRE_ERR_ARG, "unknown split '%s' (train, val, test or all)", name ? name : "");
}

const char *aspire_split_name(int split) {
    return split == ASPIRE_SPLIT_TRAIN ? "train" : split == ASPIRE_SPLIT_VAL ? "val" : split == ASPIRE_SPLIT_TEST ? "test" : "all";
}

/* ---- the join of a path to its row ----------------------------------------------------------- */
static int cmp_name(const void *a, const void *b) { return strcmp(((const ix_name *)a)->name, ((const ix_name *)b)->name); }

/* The img_filename → row table, sorted; two rows with one img_filename are refused (a path
 * could not tell which row it belongs to). */
static int build_by_name(aspire_dataset_index *ix) {
    size_t n = (size_t)(ix->n ? ix->n : 1);
    ix_name *t = aspire_malloc(n * sizeof *t);
    if (!t) return ASPIRE_ERR_NOMEM;
    for (int64_t r = 0; r < ix->n; r++) t[r] = (ix_name){aspire_dataset_index_filename(ix, r), r};
    qsort(t, (size_t)ix->n, sizeof *t, cmp_name);
    for (int64_t r = 1; r < ix->n; r++)
        if (strcmp(t[r - 1].name, t[r].name) == 0) {
            int64_t a = t[r - 1].row < t[r].row ? t[r - 1].row : t[r].row, b = t[r - 1].row ^ t[r].row ^ a;
            int rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column 'img_filename': '%s' is already on line %d", ix->meta_path,
                                  aspire_csv_line(ix->csv, b), t[r].name, aspire_csv_line(ix->csv, a));
            aspire_free(t, n * sizeof *t);
            return rc;
        }
    ix->by_name = t;
    return ASPIRE_OK;
}

static int64_t lookup(const aspire_dataset_index *ix, const char *name) {
    ix_name key = {name, 0};
    const ix_name *r = bsearch(&key, ix->by_name, (size_t)ix->n, sizeof key, cmp_name);
    return r ? r->row : -1;
}

int aspire_dataset_index_find(aspire_dataset_index *ix, const char *path, int64_t *row) {
    *row = -1;
    if (!ix->by_name) {
        int rc = build_by_name(ix);
        if (rc) return rc;
    }
    int64_t r = lookup(ix, path);
    size_t dl = strlen(ix->dir);
    while (dl > 1 && ix->dir[dl - 1] == '/') dl--;
    if (r < 0 && strncmp(path, ix->dir, dl) == 0 && path[dl] == '/') r = lookup(ix, path + dl + 1);
    for (const char *p = strchr(path, '/'); r < 0 && p; p = strchr(p + 1, '/')) r = lookup(ix, p + 1);
    *row = r;
    return r < 0 ? aspire_error(ASPIRE_ERR_NOTFOUND, "'%s' is not an img_filename of %s", path, ix->meta_path) : ASPIRE_OK;
}
