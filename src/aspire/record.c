/* record.c — discovery's per-image records (aspire/record.h): parsing with errors that name the
 * file, line and field; JSON lines or one JSON array; atomic writing in the reference's field
 * order. */
#include "aspire/record.h"
#include "aspire/fileio.h"
#include "aspire/jsonl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- freeing ------------------------------------------------------------------------------ */

static void strlist_free(aspire_strlist *l) {
    for (int i = 0; i < l->n; i++) aspire_strfree(l->s[i]);
    aspire_free(l->s, (size_t)l->n * sizeof *l->s);
    l->s = NULL;
    l->n = 0;
}

void aspire_record_destroy(aspire_record *r) {
    if (!r) return;
    aspire_strfree(r->img_id);
    aspire_strfree(r->img_filename);
    aspire_strfree(r->caption);
    aspire_strfree(r->label);
    strlist_free(&r->foreground);
    strlist_free(&r->background);
    strlist_free(&r->alternate_background);
    strlist_free(&r->wp_foreground);
    strlist_free(&r->wp_background);
    strlist_free(&r->wp_alternate_background);
    aspire_free(r->pred_alt_background, (size_t)r->n_pred_alt * sizeof(int));
    aspire_free(r->pred_rmv_foreground, (size_t)r->n_pred_rmv * sizeof(int));
    memset(r, 0, sizeof *r);
}

void aspire_records_destroy(aspire_records *rs) {
    if (!rs) return;
    for (int64_t i = 0; i < rs->n; i++) aspire_record_destroy(&rs->items[i]);
    aspire_free(rs->items, (size_t)rs->cap * sizeof *rs->items);
    memset(rs, 0, sizeof *rs);
}

int aspire_records_push(aspire_records *rs, aspire_record *r) {
    if (rs->n == rs->cap) {
        int64_t cap = rs->cap ? rs->cap * 2 : 64;
        aspire_record *p = aspire_realloc(rs->items, (size_t)rs->cap * sizeof *p, (size_t)cap * sizeof *p);
        if (!p) { aspire_record_destroy(r); return ASPIRE_ERR_NOMEM; }
        rs->items = p;
        rs->cap = cap;
    }
    rs->items[rs->n++] = *r;
    memset(r, 0, sizeof *r);
    return ASPIRE_OK;
}

int aspire_strlist_find(const aspire_strlist *l, const char *s) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->s[i], s) == 0) return i;
    return -1;
}

/* ---- parsing ------------------------------------------------------------------------------ */

typedef struct where { const char *file; int line; } where;

static int field_error(const where *w, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int field_error(const where *w, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: field '%s': %s", w->file, w->line, field, msg);
}

/* The item, or NULL when absent or JSON null (both mean "not given"). */
static const cJSON *get(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static int missing(const where *w, const char *field) {
    return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: missing field '%s'", w->file, w->line, field);
}

static int read_strlist(const cJSON *o, const char *key, int required, const where *w, aspire_strlist *out) {
    const cJSON *v = get(o, key);
    if (!v) return required ? missing(w, key) : ASPIRE_OK;
    if (!cJSON_IsArray(v)) return field_error(w, key, "expected a list of strings");
    int n = cJSON_GetArraySize(v), rc = ASPIRE_OK;
    if (n && !(out->s = aspire_calloc((size_t)n, sizeof *out->s))) return ASPIRE_ERR_NOMEM;
    out->n = n;  /* slots not filled yet stay NULL (aspire_strfree accepts NULL) */
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e)) { rc = field_error(w, key, "item %d is not a string", i + 1); break; }
        if (strlen(e->valuestring) > ASPIRE_RECORD_MAX_PHRASE) {
            rc = field_error(w, key, "item %d is longer than %d bytes", i + 1, ASPIRE_RECORD_MAX_PHRASE);
            break;
        }
        if (!(out->s[i++] = aspire_strdup(e->valuestring))) { rc = ASPIRE_ERR_NOMEM; break; }
    }
    return rc;
}

/* A JSON number that is a whole number in [lo, INT_MAX]. */
static int as_int(const cJSON *v, int lo, int *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < lo || d > INT_MAX) return -1;
    *out = (int)d;
    return 0;
}

static int read_intlist(const cJSON *o, const char *key, int required, const where *w, int **out, int *n) {
    const cJSON *v = get(o, key);
    if (!v) return required ? missing(w, key) : ASPIRE_OK;
    if (!cJSON_IsArray(v)) return field_error(w, key, "expected a list of class indices");
    int m = cJSON_GetArraySize(v);
    if (m && !(*out = aspire_calloc((size_t)m, sizeof **out))) return ASPIRE_ERR_NOMEM;
    *n = m;
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (as_int(e, 0, &(*out)[i]))
            return field_error(w, key, "item %d is not a class index (a whole number >= 0)", i + 1);
        i++;
    }
    return ASPIRE_OK;
}

/* A string field; a number is accepted where `numbers` (kept as its text). */
static int read_text(const cJSON *o, const char *key, int required, int numbers, const where *w, char **out,
                     int *was_number) {
    const cJSON *v = get(o, key);
    if (!v) return required ? missing(w, key) : ASPIRE_OK;
    char buf[64];
    const char *s;
    if (cJSON_IsString(v)) {
        s = v->valuestring;
    } else if (numbers && cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9e15) snprintf(buf, sizeof buf, "%lld", (long long)d);
        else snprintf(buf, sizeof buf, "%.17g", d);
        s = buf;
        if (was_number) *was_number = 1;
    } else {
        return field_error(w, key, numbers ? "expected a string or a number" : "expected a string");
    }
    return (*out = aspire_strdup(s)) ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
}

/* Every flagged phrase must be one of the record's phrases. */
static int check_subset(const aspire_strlist *flagged, const aspire_strlist *all, const char *fkey,
                        const char *akey, const where *w) {
    for (int i = 0; i < flagged->n; i++)
        if (aspire_strlist_find(all, flagged->s[i]) < 0)
            return field_error(w, fkey, "'%s' is not in '%s'", flagged->s[i], akey);
    return ASPIRE_OK;
}

static int read_flips(const cJSON *o, int required, const where *w, aspire_record *r) {
    static const char *const keys[] = {"wp_foreground", "wp_background", "wp_alternate_background",
                                       "pred_alt_background", "pred_rmv_foreground"};
    int present = 0;
    for (int k = 0; k < 5; k++) present += get(o, keys[k]) != NULL;
    if (!required && present < 5) return ASPIRE_OK;  /* an extraction record: flips not done yet */
    int rc;
    if ((rc = read_strlist(o, keys[0], 1, w, &r->wp_foreground)) ||
        (rc = read_strlist(o, keys[1], 1, w, &r->wp_background)) ||
        (rc = read_strlist(o, keys[2], 1, w, &r->wp_alternate_background)) ||
        (rc = read_intlist(o, keys[3], 1, w, &r->pred_alt_background, &r->n_pred_alt)) ||
        (rc = read_intlist(o, keys[4], 1, w, &r->pred_rmv_foreground, &r->n_pred_rmv)))
        return rc;
    r->has_flips = 1;
    if ((rc = check_subset(&r->wp_foreground, &r->foreground, keys[0], "foreground", w)) ||
        (rc = check_subset(&r->wp_background, &r->background, keys[1], "background", w)))
        return rc;
    if (r->wp_alternate_background.n != r->wp_background.n)
        return field_error(w, keys[2], "%d entries, but wp_background has %d", r->wp_alternate_background.n,
                           r->wp_background.n);
    return ASPIRE_OK;
}

int aspire_record_from_json(const cJSON *o, aspire_record_kind kind, const char *file, int line, int64_t position,
                            aspire_record *r) {
    memset(r, 0, sizeof *r);
    r->line = line;
    r->row = position;
    where w = {file ? file : "<records>", line};
    if (!cJSON_IsObject(o)) return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: expected a JSON object", w.file, line);
    int strict = kind == ASPIRE_RECORD_DETECTION, rc;
    if ((rc = read_text(o, "img_id", strict, 1, &w, &r->img_id, &r->img_id_is_number)) ||
        (rc = read_text(o, "img_filename", strict, 0, &w, &r->img_filename, NULL)) ||
        (rc = read_text(o, "caption", strict, 0, &w, &r->caption, NULL)))
        return rc;
    const cJSON *c = get(o, "class");
    if (!c) return missing(&w, "class");
    if (as_int(c, 0, &r->cls)) return field_error(&w, "class", "expected a whole number >= 0");
    if ((rc = read_text(o, "label", strict, 1, &w, &r->label, NULL)) ||
        (rc = read_strlist(o, "foreground", 1, &w, &r->foreground)) ||
        (rc = read_strlist(o, "background", 1, &w, &r->background)) ||
        (rc = read_strlist(o, "alternate_background", strict, &w, &r->alternate_background)) ||
        (rc = read_flips(o, strict, &w, r)))
        return rc;
    const cJSON *row = get(o, "row");
    if (row) {
        int v;
        if (as_int(row, 0, &v)) return field_error(&w, "row", "expected a whole number >= 0");
        r->row = v;
        r->has_row_field = 1;
    }
    return ASPIRE_OK;
}

/* ---- files -------------------------------------------------------------------------------- */

/* Starting lines of the elements of a top-level JSON array in text[0..n) (a small scanner that
 * knows strings and nesting; cJSON keeps no positions). Fills lines[0..max) and returns the count. */
static int array_element_lines(const char *t, size_t n, int *lines, int max) {
    int depth = 0, line = 1, count = 0;
    int in_str = 0, esc = 0, in_elem = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        if (ch == '\n') line++;
        if (in_str) {
            if (esc) esc = 0;
            else if (ch == '\\') esc = 1;
            else if (ch == '"') in_str = 0;
            continue;
        }
        if (depth == 1 && !in_elem && ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n' && ch != ',' && ch != ']') {
            if (count < max) lines[count] = line;
            count++;
            in_elem = 1;
        }
        if (depth == 1 && ch == ',') in_elem = 0;
        if (ch == '"') in_str = 1;
        else if (ch == '{' || ch == '[') depth++;
        else if (ch == '}' || ch == ']') depth--;
    }
    return count;
}

static int line_of(const char *t, const char *p) {
    int line = 1;
    for (; t < p; t++) line += *t == '\n';
    return line;
}

static int check_rows(const aspire_records *rs, const char *name);

static int parse_array(const char *text, size_t n, const char *name, aspire_record_kind kind, aspire_records *out) {
    const char *end = NULL;
    cJSON *arr = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!arr) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        int line = at && at >= text && at <= text + n ? line_of(text, at) : 1;
        return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: malformed JSON", name, line);
    }
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return aspire_error(ASPIRE_ERR_FORMAT, "%s:1: expected a JSON array of records", name);
    }
    int m = cJSON_GetArraySize(arr), rc = ASPIRE_OK;
    int *lines = aspire_calloc((size_t)m + 1, sizeof *lines);
    if (!lines) { cJSON_Delete(arr); return ASPIRE_ERR_NOMEM; }
    array_element_lines(text, n, lines, m);
    const cJSON *e;
    int64_t i = 0;
    cJSON_ArrayForEach(e, arr) {
        aspire_record r;
        rc = aspire_record_from_json(e, kind, name, lines[i], i, &r);
        if (!rc) rc = aspire_records_push(out, &r);
        aspire_record_destroy(&r);
        if (rc) break;
        i++;
    }
    aspire_free(lines, ((size_t)m + 1) * sizeof *lines);
    cJSON_Delete(arr);
    return rc;
}

static int parse_lines(const char *text, size_t n, const char *name, aspire_record_kind kind, aspire_records *out) {
    aspire_jsonl *rd;
    int rc = aspire_jsonl_open_text(&rd, text, n, name);
    if (rc) return rc;
    cJSON *o;
    for (int64_t i = 0; (rc = aspire_jsonl_next(rd, &o)) == 1; i++) {
        aspire_record r;
        rc = aspire_record_from_json(o, kind, name, aspire_jsonl_line(rd), i, &r);
        cJSON_Delete(o);
        if (!rc) rc = aspire_records_push(out, &r);
        aspire_record_destroy(&r);
        if (rc) break;
    }
    aspire_jsonl_free(rd);
    return rc < 0 ? rc : ASPIRE_OK;
}

int aspire_records_parse(const char *text, size_t n, const char *name, aspire_record_kind kind, aspire_records *out) {
    memset(out, 0, sizeof *out);
    name = name ? name : "<records>";
    size_t i = 0;
    if (n >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) i = 3;
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
    int rc = (i < n && text[i] == '[') ? parse_array(text, n, name, kind, out) : parse_lines(text, n, name, kind, out);
    if (!rc) rc = check_rows(out, name);
    if (rc) aspire_records_destroy(out);
    return rc;
}

int aspire_records_read(const char *path, aspire_record_kind kind, aspire_records *out) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t n;
    int rc = aspire_read_file(path, &buf, &n);
    if (rc) return rc;
    rc = aspire_records_parse(buf, n, path, kind, out);
    aspire_free(buf, n + 1);
    return rc;
}

typedef struct row_pos { int64_t row; int line; } row_pos;

static int cmp_row_pos(const void *a, const void *b) {
    const row_pos *x = a, *y = b;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* Edit files are named by row: two records with one row would share them. */
static int check_rows(const aspire_records *rs, const char *name) {
    if (rs->n < 2) return ASPIRE_OK;
    row_pos *p = aspire_malloc((size_t)rs->n * sizeof *p);
    if (!p) return ASPIRE_ERR_NOMEM;
    for (int64_t i = 0; i < rs->n; i++) p[i] = (row_pos){rs->items[i].row, rs->items[i].line};
    qsort(p, (size_t)rs->n, sizeof *p, cmp_row_pos);
    int rc = ASPIRE_OK;
    for (int64_t i = 1; i < rs->n && !rc; i++)
        if (p[i].row == p[i - 1].row)
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: field 'row': %lld is already the row of line %d", name,
                              p[i].line, (long long)p[i].row, p[i - 1].line);
    aspire_free(p, (size_t)rs->n * sizeof *p);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------ */

static int add_strlist(cJSON *o, const char *key, const aspire_strlist *l) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < l->n; i++) {
        cJSON *s = cJSON_CreateString(l->s[i]);
        if (!s) return -1;
        cJSON_AddItemToArray(a, s);
    }
    return a ? 0 : -1;
}

static int add_intlist(cJSON *o, const char *key, const int *v, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++) {
        cJSON *x = cJSON_CreateNumber(v[i]);
        if (!x) return -1;
        cJSON_AddItemToArray(a, x);
    }
    return a ? 0 : -1;
}

static int add_text(cJSON *o, const char *key, const char *s, int as_number) {
    if (!s) return 0;
    if (as_number) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (!*end && !errno) return cJSON_AddNumberToObject(o, key, d) ? 0 : -1;
    }
    return cJSON_AddStringToObject(o, key, s) ? 0 : -1;
}

cJSON *aspire_record_to_json(const aspire_record *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int bad = add_text(o, "img_id", r->img_id, r->img_id_is_number) | add_text(o, "img_filename", r->img_filename, 0) |
              add_text(o, "caption", r->caption, 0) | !cJSON_AddNumberToObject(o, "class", r->cls) |
              add_text(o, "label", r->label, 0) | add_strlist(o, "foreground", &r->foreground);
    if (r->has_flips) bad |= add_strlist(o, "wp_foreground", &r->wp_foreground);
    bad |= add_strlist(o, "background", &r->background);
    if (r->has_flips) bad |= add_strlist(o, "wp_background", &r->wp_background);
    bad |= add_strlist(o, "alternate_background", &r->alternate_background);
    if (r->has_flips)
        bad |= add_strlist(o, "wp_alternate_background", &r->wp_alternate_background) |
               add_intlist(o, "pred_alt_background", r->pred_alt_background, r->n_pred_alt) |
               add_intlist(o, "pred_rmv_foreground", r->pred_rmv_foreground, r->n_pred_rmv);
    if (r->has_row_field) bad |= !cJSON_AddNumberToObject(o, "row", (double)r->row);
    if (bad) { cJSON_Delete(o); return NULL; }
    return o;
}

int aspire_records_write(const char *path, const aspire_records *rs) {
    aspire_jsonl_writer *w;
    int rc = aspire_jsonl_writer_open(&w, path);
    if (rc) return rc;
    for (int64_t i = 0; i < rs->n && !rc; i++) {
        cJSON *o = aspire_record_to_json(&rs->items[i]);
        if (!o) { rc = aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory", path); break; }
        rc = aspire_jsonl_writer_write(w, o);
        cJSON_Delete(o);
    }
    if (rc) { aspire_jsonl_writer_abort(w); return rc; }
    return aspire_jsonl_writer_commit(w);
}
