/* csv.c — an RFC 4180 CSV reader (whole file parsed into one buffer of unquoted fields plus an
 * offset table) and an atomic, minimally quoting writer. */
#include "aspire/csv.h"
#include "aspire/fileio.h"
#include "io/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct aspire_csv {
    char *path;
    char *text;        /* every field's text, NUL-terminated, back to back */
    size_t text_cap;
    size_t *off;       /* (nrows + 1) * ncols offsets into text; row 0 is the header */
    size_t off_cap;    /* entries allocated */
    int *lines;        /* nrows + 1 start lines */
    size_t lines_cap;
    int ncols;
    int64_t nrows;     /* data rows */
};

void aspire_csv_free(aspire_csv *csv) {
    if (!csv) return;
    aspire_strfree(csv->path);
    aspire_free(csv->text, csv->text_cap);
    aspire_free(csv->off, sizeof(size_t) * csv->off_cap);
    aspire_free(csv->lines, sizeof(int) * csv->lines_cap);
    aspire_free(csv, sizeof *csv);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return ASPIRE_OK;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap *= 2;
    void *q = aspire_realloc(*p, *cap * elem, ncap * elem);
    if (!q) return ASPIRE_ERR_NOMEM;
    *p = q;
    *cap = ncap;
    return ASPIRE_OK;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Parses src[0..n) (a private, NUL-terminated copy). Fields are unquoted into csv->text. */
static int csv_build(aspire_csv *csv, const char *src, size_t n) {
    const char *path = csv->path;
    if (n >= 3 && (uint8_t)src[0] == 0xef && (uint8_t)src[1] == 0xbb && (uint8_t)src[2] == 0xbf) { src += 3; n -= 3; }
    /* UTF-8 and NUL checks first, so that the message can give the line */
    ptrdiff_t bad = io_utf8_invalid_at(src, n);
    const char *nul = memchr(src, 0, n);
    if (bad >= 0 || nul) {
        size_t at = bad >= 0 ? (size_t)bad : (size_t)(nul - src);
        if (nul && (size_t)(nul - src) < at) at = (size_t)(nul - src);
        int line = 1;
        for (size_t i = 0; i < at; i++) line += src[i] == '\n';
        return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: %s", path, line,
                            src[at] == 0 ? "contains a NUL byte (not a text file?)" : "not valid UTF-8");
    }
    /* text can never exceed n bytes plus one NUL per field (fields <= n + 1 per row) */
    size_t i = 0, nfields = 0, row_fields = 0;
    int line = 1, rows = 0, rc;
    int64_t total_rows = 0;
    if ((rc = grow((void **)&csv->text, &csv->text_cap, 2 * n + 2, 1))) return rc;
    size_t tlen = 0;
    while (i < n) {
        /* one record */
        if (src[i] == '\n' || src[i] == '\r') { /* an empty line */
            if (src[i] == '\r' && i + 1 < n && src[i + 1] == '\n') i++;
            i++;
            line++;
            continue;
        }
        int start_line = line;
        row_fields = 0;
        for (;;) {
            /* one field */
            if ((rc = grow((void **)&csv->off, &csv->off_cap, nfields + row_fields + 1, sizeof(size_t)))) return rc;
            csv->off[nfields + row_fields] = tlen;
            if (i < n && src[i] == '"') {
                int qline = line;
                i++;
                for (;;) {
                    if (i >= n)
                        return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: quoted field opened on line %d is never closed", path, line, qline);
                    char c = src[i];
                    if (c == '"') {
                        if (i + 1 < n && src[i + 1] == '"') { csv->text[tlen++] = '"'; i += 2; continue; }
                        i++;
                        break;
                    }
                    if (c == '\n') line++;
                    if (c == '\r' && !(i + 1 < n && src[i + 1] == '\n')) line++;
                    csv->text[tlen++] = c;
                    i++;
                }
                if (i < n && src[i] != ',' && src[i] != '\n' && src[i] != '\r')
                    return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: unexpected '%c' after a closing quote (field %zu)", path, line,
                                        src[i], row_fields + 1);
            } else {
                while (i < n && src[i] != ',' && src[i] != '\n' && src[i] != '\r') csv->text[tlen++] = src[i++];
            }
            csv->text[tlen++] = 0;
            row_fields++;
            if (i < n && src[i] == ',') { i++; continue; }
            break; /* end of line or of file */
        }
        if (i < n) { /* consume the line end */
            if (src[i] == '\r' && i + 1 < n && src[i + 1] == '\n') i++;
            i++;
            line++;
        }
        if (rows == 0) {
            if (row_fields > 100000) return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: %zu columns in the header", path, start_line, row_fields);
            csv->ncols = (int)row_fields;
        } else if ((int)row_fields != csv->ncols) {
            return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: expected %d fields, found %zu", path, start_line, csv->ncols, row_fields);
        }
        if ((rc = grow((void **)&csv->lines, &csv->lines_cap, (size_t)rows + 1, sizeof(int)))) return rc;
        csv->lines[rows] = start_line;
        nfields += row_fields;
        rows++;
        total_rows = rows - 1;
    }
    if (rows == 0) return aspire_error(ASPIRE_ERR_FORMAT, "%s: empty file (no header row)", path);
    csv->nrows = total_rows;
    /* trim the header names, then refuse empty and repeated ones */
    for (int c = 0; c < csv->ncols; c++) {
        char *s = csv->text + csv->off[c];
        size_t len = strlen(s), a = 0;
        while (a < len && is_blank(s[a])) a++;
        while (len > a && is_blank(s[len - 1])) len--;
        memmove(s, s + a, len - a);
        s[len - a] = 0;
        if (!*s && csv->ncols > 1)
            return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column %d of the header has no name", path, csv->lines[0], c + 1);
        for (int d = 0; d < c; d++)
            if (strcmp(s, csv->text + csv->off[d]) == 0)
                return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column '%s' appears twice in the header", path, csv->lines[0], s);
    }
    return ASPIRE_OK;
}

int aspire_csv_parse(aspire_csv **out, const char *text, size_t n, const char *name) {
    *out = NULL;
    aspire_csv *csv = aspire_calloc(1, sizeof *csv);
    if (!csv) return ASPIRE_ERR_NOMEM;
    csv->path = aspire_strdup(name ? name : "<memory>");
    if (!csv->path) { aspire_csv_free(csv); return ASPIRE_ERR_NOMEM; }
    int rc = csv_build(csv, text, n);
    if (rc) { aspire_csv_free(csv); return rc; }
    *out = csv;
    return ASPIRE_OK;
}

int aspire_csv_read(aspire_csv **out, const char *path) {
    *out = NULL;
    char *buf;
    size_t n;
    int rc = aspire_read_file(path, &buf, &n);
    if (rc) return rc;
    rc = aspire_csv_parse(out, buf, n, path);
    aspire_free(buf, n + 1);
    return rc;
}

const char *aspire_csv_path(const aspire_csv *csv) { return csv->path; }
int aspire_csv_ncols(const aspire_csv *csv) { return csv->ncols; }
int64_t aspire_csv_nrows(const aspire_csv *csv) { return csv->nrows; }

const char *aspire_csv_colname(const aspire_csv *csv, int col) {
    ASPIRE_ASSERT(col >= 0 && col < csv->ncols, "(column %d of %d)", col, csv->ncols);
    return csv->text + csv->off[col];
}

int aspire_csv_col(const aspire_csv *csv, const char *name) {
    for (int c = 0; c < csv->ncols; c++)
        if (strcmp(csv->text + csv->off[c], name) == 0) return c;
    return -1;
}

int aspire_csv_require(const aspire_csv *csv, const char *name, int *col) {
    int c = aspire_csv_col(csv, name);
    if (col) *col = c;
    if (c >= 0) return ASPIRE_OK;
    char cols[512];
    size_t k = 0;
    cols[0] = 0;
    for (int d = 0; d < csv->ncols && k < sizeof cols - 8; d++) {
        int w = snprintf(cols + k, sizeof cols - k, d ? ", %s" : "%s", csv->text + csv->off[d]);
        if (w < 0 || (size_t)w >= sizeof cols - k) { snprintf(cols + (sizeof cols - 8), 8, ", ..."); break; }
        k += (size_t)w;
    }
    return aspire_error(ASPIRE_ERR_NOTFOUND, "%s:%d: missing column '%s' (columns: %s)", csv->path, csv->lines[0], name, cols);
}

const char *aspire_csv_field(const aspire_csv *csv, int64_t row, int col) {
    ASPIRE_ASSERT(row >= 0 && row < csv->nrows, "(row %lld of %lld)", (long long)row, (long long)csv->nrows);
    ASPIRE_ASSERT(col >= 0 && col < csv->ncols, "(column %d of %d)", col, csv->ncols);
    return csv->text + csv->off[(size_t)(row + 1) * (size_t)csv->ncols + (size_t)col];
}

int aspire_csv_line(const aspire_csv *csv, int64_t row) {
    ASPIRE_ASSERT(row >= -1 && row < csv->nrows, "(row %lld of %lld)", (long long)row, (long long)csv->nrows);
    return csv->lines[row + 1];
}

int aspire_csv_get_int(const aspire_csv *csv, int64_t row, int col, int64_t *out) {
    const char *s = aspire_csv_field(csv, row, col), *q = s;
    while (is_blank(*q)) q++;
    int neg = *q == '-';
    if (*q == '-' || *q == '+') q++;
    uint64_t v = 0;
    int digits = 0, overflow = 0;
    for (; *q >= '0' && *q <= '9'; q++, digits++) {
        if (v > (UINT64_MAX - 9) / 10) overflow = 1;
        v = v * 10 + (uint64_t)(*q - '0');
    }
    while (is_blank(*q)) q++;
    if (!digits || *q || overflow || v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column '%s': expected an integer, found '%s'", csv->path,
                            aspire_csv_line(csv, row), aspire_csv_colname(csv, col), s);
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return ASPIRE_OK;
}

int aspire_csv_get_double(const aspire_csv *csv, int64_t row, int col, double *out) {
    const char *s = aspire_csv_field(csv, row, col);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (is_blank(*end)) end++;
    int blank = 1;
    for (const char *q = s; q < end; q++) blank &= is_blank(*q);
    if (blank || *end || !isfinite(v) || (*s && !is_blank(*s) && isspace((unsigned char)*s)))
        return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column '%s': expected a number, found '%s'", csv->path,
                            aspire_csv_line(csv, row), aspire_csv_colname(csv, col), s);
    *out = v;
    return ASPIRE_OK;
}

/* ---- writer ---------------------------------------------------------------------------------- */

struct aspire_csv_writer {
    aspire_atomic_file af;
    int ncols;
};

static int put_row(aspire_csv_writer *w, const char *const *fields) {
    FILE *f = w->af.fp;
    for (int c = 0; c < w->ncols; c++) {
        const char *s = fields[c] ? fields[c] : "";
        if (c) fputc(',', f);
        if (strpbrk(s, ",\"\r\n") || (w->ncols == 1 && !*s)) {
            /* a lone empty field is quoted so that the row is not read as a blank line */
            fputc('"', f);
            for (; *s; s++) {
                if (*s == '"') fputc('"', f);
                fputc(*s, f);
            }
            fputc('"', f);
        } else {
            fputs(s, f);
        }
    }
    fputc('\n', f);
    if (ferror(f)) return aspire_error(ASPIRE_ERR_IO, "%s: write failed", w->af.path);
    return ASPIRE_OK;
}

int aspire_csv_writer_open(aspire_csv_writer **out, const char *path, int ncols, const char *const *header) {
    *out = NULL;
    ASPIRE_ASSERT(ncols >= 1, "(ncols %d)", ncols);
    aspire_csv_writer *w = aspire_calloc(1, sizeof *w);
    if (!w) return ASPIRE_ERR_NOMEM;
    w->ncols = ncols;
    int rc = aspire_atomic_open(&w->af, path);
    if (!rc) rc = put_row(w, header);
    if (rc) { aspire_csv_writer_abort(w); return rc; }
    *out = w;
    return ASPIRE_OK;
}

int aspire_csv_writer_row(aspire_csv_writer *w, const char *const *fields) { return put_row(w, fields); }

int aspire_csv_writer_commit(aspire_csv_writer *w) {
    int rc = aspire_atomic_commit(&w->af);
    aspire_free(w, sizeof *w);
    return rc;
}

void aspire_csv_writer_abort(aspire_csv_writer *w) {
    if (!w) return;
    aspire_atomic_abort(&w->af);
    aspire_free(w, sizeof *w);
}
