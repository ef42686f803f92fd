/* record.h — the per-image records of discovery, in the reference implementation's format
 * (REFERENCE.md §4, §6): one JSON object per hold-out image with the fields
 *   img_id, img_filename, caption, class, label, foreground, background, alternate_background
 * written by extraction, plus, after the edits and flips,
 *   wp_foreground, wp_background, wp_alternate_background, pred_alt_background, pred_rmv_foreground.
 *
 * Files are JSON lines (what the reference's scripts write with pandas, and what aspire writes); a
 * file that holds one JSON array of such objects (the reference's example files) is read too.
 * Reading is strict about the fields it needs and their types (an error names the file, the line
 * and the field) and ignores fields it does not know. Writing is atomic. */
#ifndef ASPIRE_RECORD_H
#define ASPIRE_RECORD_H

#include "aspire/common.h"

#include <cjson/cJSON.h>

/* Longest phrase accepted in foreground/background lists, in bytes (a phrase names edit files). */
#define ASPIRE_RECORD_MAX_PHRASE 200

/* A list of strings (owned). */
typedef struct aspire_strlist {
    char **s;
    int n;
} aspire_strlist;

/* One image's record. Caller-owned struct; strings and arrays are owned by it and released by
 * aspire_record_destroy. Phrases are kept as written (the ranking normalises them). */
typedef struct aspire_record {
    char *img_id;              /* img_id as text ("17"); NULL when the file has none */
    int img_id_is_number;      /* 1: img_id was (and is written as) a JSON number */
    char *img_filename;        /* NULL when absent (aspire extract --text) */
    char *caption;             /* NULL when absent */
    int cls;                   /* "class": the true class index (>= 0) */
    char *label;               /* "label": the class name (a number in some reference files is kept as its text) */
    aspire_strlist foreground, background, alternate_background;
    /* after the flips (has_flips = 1) */
    int has_flips;
    aspire_strlist wp_foreground, wp_background, wp_alternate_background;
    int *pred_alt_background;  /* prediction after each background edit, n_pred_alt entries */
    int n_pred_alt;
    int *pred_rmv_foreground;  /* predictions after the foreground removals, n_pred_rmv entries */
    int n_pred_rmv;
    /* where it came from */
    int64_t row;               /* the {row} of its edit files: field "row" if present, else its
                                * 0-based position in the file */
    int has_row_field;         /* 1: "row" was in the file (and is written back) */
    int line;                  /* line of the file it starts on (0 when made in memory) */
} aspire_record;

/* Which fields a reader demands.
 *   EXTRACTION: the fields `aspire extract` writes. `class`, `foreground` and `background` are
 *     required; img_id, img_filename, caption, label and alternate_background may be missing
 *     (then NULL / empty); wp_* and pred_* are read when present.
 *   DETECTION: all thirteen fields are required, and the flagged phrases must be ones of the
 *     record (wp_foreground ⊆ foreground, wp_background ⊆ background). */
typedef enum aspire_record_kind {
    ASPIRE_RECORD_EXTRACTION = 0,
    ASPIRE_RECORD_DETECTION = 1,
} aspire_record_kind;

/* A set of records in file order. Caller-owned; release with aspire_records_destroy. */
typedef struct aspire_records {
    aspire_record *items;
    int64_t n;
    int64_t cap;
} aspire_records;

/* Frees what the record owns and zeroes it; accepts NULL and a zeroed record. */
ASPIRE_API void aspire_record_destroy(aspire_record *r);
/* Frees every record and the array, and zeroes the set; accepts NULL and a zeroed set. */
ASPIRE_API void aspire_records_destroy(aspire_records *rs);
/* Appends a record; the set takes ownership of *r's contents (and zeroes *r), also on failure. */
ASPIRE_API int aspire_records_push(aspire_records *rs, aspire_record *r);

/* Parses one record from a JSON object. `file` and `line` only name the place in messages
 * ("flips.jsonl:12: field 'wp_foreground': expected a list of strings"). *out is overwritten
 * (destroy it afterwards, also after a failure); out->row is set to `position`.
 * Returns ASPIRE_OK or ASPIRE_ERR_FORMAT (or ASPIRE_ERR_NOMEM). */
ASPIRE_API int aspire_record_from_json(const cJSON *obj, aspire_record_kind kind, const char *file, int line,
                                       int64_t position, aspire_record *out);
/* A new cJSON object with the record's fields in the reference's order (the wp_ and pred_ fields
 * only when has_flips; "row" only when has_row_field), or NULL when out of memory. */
ASPIRE_API cJSON *aspire_record_to_json(const aspire_record *r);

/* Reads a file of records (JSON lines, or one JSON array of objects) into *out (zeroed first).
 * All or nothing: the first bad line is an error naming the file and line (and the field), e.g.
 * "detect/flips.jsonl:7: field 'class': expected a whole number >= 0". Two records with the same
 * "row" are an error too. Returns ASPIRE_OK, ASPIRE_ERR_NOTFOUND / ASPIRE_ERR_IO,
 * ASPIRE_ERR_FORMAT or ASPIRE_ERR_NOMEM. */
ASPIRE_API int aspire_records_read(const char *path, aspire_record_kind kind, aspire_records *out);
/* The same from text in memory; `name` stands for the file in messages. */
ASPIRE_API int aspire_records_parse(const char *text, size_t n, const char *name, aspire_record_kind kind,
                                    aspire_records *out);
/* Writes the records as JSON lines, atomically (nothing changes at `path` on failure). */
ASPIRE_API int aspire_records_write(const char *path, const aspire_records *rs);

/* Index of the string `s` in the list, or -1. */
ASPIRE_API int aspire_strlist_find(const aspire_strlist *l, const char *s);

#endif
