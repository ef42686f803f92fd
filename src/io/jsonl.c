/* jsonl.c — JSON lines: a reader over an in-memory copy of the file (one object per non-blank line,
 * file:line in every error) and an atomic writer of compact lines. */
#include "aspire/jsonl.h"
#include "aspire/fileio.h"
#include "io/utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct aspire_jsonl {
    char *path;
    char *buf;
    size_t n, pos;
    int line;       /* line of the last object returned */
    int next_line;  /* line at pos */
};

void aspire_jsonl_free(aspire_jsonl *r) {
    if (!r) return;
    aspire_strfree(r->path);
    aspire_free(r->buf, r->n + 1);
    aspire_free(r, sizeof *r);
}

static int jsonl_init(aspire_jsonl **out, const char *name) {
    aspire_jsonl *r = aspire_calloc(1, sizeof *r);
    if (!r) return ASPIRE_ERR_NOMEM;
    r->path = aspire_strdup(name);
    if (!r->path) { aspire_free(r, sizeof *r); return ASPIRE_ERR_NOMEM; }
    r->next_line = 1;
    *out = r;
    return ASPIRE_OK;
}

int aspire_jsonl_open_text(aspire_jsonl **out, const char *text, size_t n, const char *name) {
    *out = NULL;
    aspire_jsonl *r;
    int rc = jsonl_init(&r, name ? name : "<memory>");
    if (rc) return rc;
    r->buf = aspire_malloc(n + 1);
    if (!r->buf) { aspire_jsonl_free(r); return ASPIRE_ERR_NOMEM; }
    memcpy(r->buf, text, n);
    r->buf[n] = 0;
    r->n = n;
    /* a UTF-8 byte-order mark is tolerated */
    if (n >= 3 && (uint8_t)r->buf[0] == 0xef && (uint8_t)r->buf[1] == 0xbb && (uint8_t)r->buf[2] == 0xbf) r->pos = 3;
    *out = r;
    return ASPIRE_OK;
}

int aspire_jsonl_open(aspire_jsonl **out, const char *path) {
    *out = NULL;
    aspire_jsonl *r;
    int rc = jsonl_init(&r, path);
    if (rc) return rc;
    rc = aspire_read_file(path, &r->buf, &r->n);
    if (rc) { aspire_jsonl_free(r); return rc; }
    if (r->n >= 3 && (uint8_t)r->buf[0] == 0xef && (uint8_t)r->buf[1] == 0xbb && (uint8_t)r->buf[2] == 0xbf) r->pos = 3;
    *out = r;
    return ASPIRE_OK;
}

int aspire_jsonl_line(const aspire_jsonl *r) { return r->line; }
const char *aspire_jsonl_path(const aspire_jsonl *r) { return r->path; }

int aspire_jsonl_next(aspire_jsonl *r, cJSON **obj) {
    *obj = NULL;
    while (r->pos < r->n) {
        const char *s = r->buf + r->pos;
        const char *nl = memchr(s, '\n', r->n - r->pos);
        size_t len = nl ? (size_t)(nl - s) : r->n - r->pos;
        r->pos += len + (nl ? 1 : 0);
        r->line = r->next_line++;
        size_t end = len;
        if (end && s[end - 1] == '\r') end--;
        size_t a = 0;
        while (a < end && (s[a] == ' ' || s[a] == '\t')) a++;
        if (a == end) continue; /* blank line */
        ptrdiff_t bad = io_utf8_invalid_at(s, end);
        if (bad >= 0)
            return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: not valid UTF-8 (byte %td of the line)", r->path, r->line, bad + 1);
        if (memchr(s, 0, end)) return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: contains a NUL byte", r->path, r->line);
        const char *stop = NULL;
        cJSON *v = cJSON_ParseWithLengthOpts(s, end, &stop, 0);
        if (!v) {
            long col = stop && stop >= s && stop <= s + end ? (long)(stop - s) + 1 : 0;
            return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: malformed JSON at column %ld", r->path, r->line, col);
        }
        for (const char *q = stop; q && q < s + end; q++)
            if (*q != ' ' && *q != '\t') {
                cJSON_Delete(v);
                return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: unexpected text after the JSON value at column %ld", r->path,
                                    r->line, (long)(q - s) + 1);
            }
        if (!cJSON_IsObject(v)) {
            cJSON_Delete(v);
            return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: expected a JSON object", r->path, r->line);
        }
        *obj = v;
        return 1;
    }
    return 0;
}

int aspire_jsonl_read_all(const char *path, cJSON **out) {
    *out = NULL;
    aspire_jsonl *r;
    int rc = aspire_jsonl_open(&r, path);
    if (rc) return rc;
    cJSON *arr = cJSON_CreateArray();
    if (!arr) { aspire_jsonl_free(r); return aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory", path); }
    cJSON *o;
    while ((rc = aspire_jsonl_next(r, &o)) == 1) {
        if (!cJSON_AddItemToArray(arr, o)) { cJSON_Delete(o); rc = aspire_error(ASPIRE_ERR_NOMEM, "%s: out of memory", path); break; }
    }
    aspire_jsonl_free(r);
    if (rc < 0) { cJSON_Delete(arr); return rc; }
    *out = arr;
    return ASPIRE_OK;
}

struct aspire_jsonl_writer {
    aspire_atomic_file af;
    long count;
};

int aspire_jsonl_writer_open(aspire_jsonl_writer **out, const char *path) {
    *out = NULL;
    aspire_jsonl_writer *w = aspire_calloc(1, sizeof *w);
    if (!w) return ASPIRE_ERR_NOMEM;
    int rc = aspire_atomic_open(&w->af, path);
    if (rc) { aspire_free(w, sizeof *w); return rc; }
    *out = w;
    return ASPIRE_OK;
}

static void put_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
    }
    fputc('"', f);
}

/* Shortest of %.15g / %.17g that reads back as the same double (cJSON's own printer settles for
 * "close enough", which loses the last bit of many values). Non-finite numbers become null. */
static void put_number(FILE *f, double d) {
    if (!isfinite(d)) { fputs("null", f); return; }
    char b[40];
    snprintf(b, sizeof b, "%.15g", d);
    if (strtod(b, NULL) != d) snprintf(b, sizeof b, "%.17g", d);
    fputs(b, f);
}

static void put_value(FILE *f, const cJSON *v, int depth) {
    ASPIRE_ASSERT(depth < 1000, "(JSON nested too deeply)");
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int obj = cJSON_IsObject(v);
        fputc(obj ? '{' : '[', f);
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child) fputc(',', f);
            if (obj) { put_string(f, c->string); fputc(':', f); }
            put_value(f, c, depth + 1);
        }
        fputc(obj ? '}' : ']', f);
    } else if (cJSON_IsString(v)) put_string(f, v->valuestring);
    else if (cJSON_IsNumber(v)) put_number(f, v->valuedouble);
    else if (cJSON_IsTrue(v)) fputs("true", f);
    else if (cJSON_IsFalse(v)) fputs("false", f);
    else if (cJSON_IsRaw(v)) fputs(v->valuestring ? v->valuestring : "null", f);
    else fputs("null", f);
}

int aspire_jsonl_writer_write(aspire_jsonl_writer *w, const cJSON *obj) {
    ASPIRE_ASSERT(cJSON_IsObject(obj), "(JSON lines hold objects)");
    put_value(w->af.fp, obj, 0);
    fputc('\n', w->af.fp);
    w->count++;
    if (ferror(w->af.fp)) return aspire_error(ASPIRE_ERR_IO, "%s: write failed at record %ld", w->af.path, w->count);
    return ASPIRE_OK;
}

int aspire_jsonl_writer_commit(aspire_jsonl_writer *w) {
    int rc = aspire_atomic_commit(&w->af);
    aspire_free(w, sizeof *w);
    return rc;
}

void aspire_jsonl_writer_abort(aspire_jsonl_writer *w) {
    if (!w) return;
    aspire_atomic_abort(&w->af);
    aspire_free(w, sizeof *w);
}

int aspire_jsonl_write_all(const char *path, const cJSON *array) {
    aspire_jsonl_writer *w;
    int rc = aspire_jsonl_writer_open(&w, path);
    if (rc) return rc;
    for (const cJSON *o = array ? array->child : NULL; o && !rc; o = o->next) {
        if (!cJSON_IsObject(o)) rc = aspire_error(ASPIRE_ERR_ARG, "%s: array element is not an object", path);
        else rc = aspire_jsonl_writer_write(w, o);
    }
    if (rc) { aspire_jsonl_writer_abort(w); return rc; }
    return aspire_jsonl_writer_commit(w);
}
