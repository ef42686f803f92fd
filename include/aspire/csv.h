/* csv.h — CSV tables with a header row (RFC 4180: quoted fields with "" escapes and embedded
 * newlines; CRLF and a UTF-8 byte-order mark tolerated), looked up by column name; and a writer
 * that quotes where needed and writes atomically. Errors name the file and the line, e.g.
 * "data/metadata.csv:17: expected 6 fields, found 5". */
#ifndef ASPIRE_CSV_H
#define ASPIRE_CSV_H

#include "aspire/common.h"

typedef struct aspire_csv aspire_csv;

/* Reads and parses a whole file into *out (free with aspire_csv_free). The first non-blank line is
 * the header (names trimmed of surrounding blanks; a name may not repeat); every later non-blank
 * line must have as many fields. Completely empty lines are skipped. The file must be UTF-8.
 * Returns ASPIRE_OK, ASPIRE_ERR_NOTFOUND / ASPIRE_ERR_IO (cannot read) or ASPIRE_ERR_FORMAT. */
ASPIRE_API int aspire_csv_read(aspire_csv **out, const char *path);
/* The same from text in memory (copied); `name` stands for the file in messages. */
ASPIRE_API int aspire_csv_parse(aspire_csv **out, const char *text, size_t n, const char *name);
ASPIRE_API void aspire_csv_free(aspire_csv *csv);

ASPIRE_API const char *aspire_csv_path(const aspire_csv *csv);
ASPIRE_API int aspire_csv_ncols(const aspire_csv *csv);
ASPIRE_API int64_t aspire_csv_nrows(const aspire_csv *csv);   /* data rows, header excluded */
ASPIRE_API const char *aspire_csv_colname(const aspire_csv *csv, int col);
/* Index of the column with this name, or -1. */
ASPIRE_API int aspire_csv_col(const aspire_csv *csv, const char *name);
/* The same, but a missing column is an error ("path:1: missing column 'y' (columns: a, b)"). */
ASPIRE_API int aspire_csv_require(const aspire_csv *csv, const char *name, int *col);
/* The field's text (unquoted, NUL-terminated), valid until the table is freed. */
ASPIRE_API const char *aspire_csv_field(const aspire_csv *csv, int64_t row, int col);
/* The line of the file on which a data row starts (the header's line is aspire_csv_line(csv, -1)). */
ASPIRE_API int aspire_csv_line(const aspire_csv *csv, int64_t row);
/* A field as a whole integer / a finite number (surrounding blanks allowed). Errors name the file,
 * the line, the column and the text: "m.csv:5: column 'y': expected an integer, found '1.5'". */
ASPIRE_API int aspire_csv_get_int(const aspire_csv *csv, int64_t row, int col, int64_t *out);
ASPIRE_API int aspire_csv_get_double(const aspire_csv *csv, int64_t row, int col, double *out);

/* ---- writing --------------------------------------------------------------------------------- */
typedef struct aspire_csv_writer aspire_csv_writer;

/* Opens an atomic writer for `path` and writes the header (ncols names). */
ASPIRE_API int aspire_csv_writer_open(aspire_csv_writer **out, const char *path, int ncols, const char *const *header);
/* Writes one row of ncols fields (NULL = empty). Fields containing a comma, a quote, CR or LF are
 * quoted (quotes doubled), as Python's csv module does by default; lines end with "\n". */
ASPIRE_API int aspire_csv_writer_row(aspire_csv_writer *w, const char *const *fields);
/* Commits the file (fsync, rename) and frees w; on failure the old file is kept. */
ASPIRE_API int aspire_csv_writer_commit(aspire_csv_writer *w);
/* Drops the file and frees w (NULL ok); the old file is kept. */
ASPIRE_API void aspire_csv_writer_abort(aspire_csv_writer *w);

#endif
