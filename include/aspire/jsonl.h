/* jsonl.h — JSON lines (one JSON object per line) through cJSON: the stages' record files. The
 * reader hands back one object per non-blank line and names file:line for a malformed line, a
 * line that is not an object, or bytes that are not UTF-8; the writer writes compact objects, one
 * per line, atomically. */
#ifndef ASPIRE_JSONL_H
#define ASPIRE_JSONL_H

#include "aspire/common.h"

#include <cjson/cJSON.h>

typedef struct aspire_jsonl aspire_jsonl;

/* Reads the whole file for line-by-line parsing (free with aspire_jsonl_free). */
ASPIRE_API int aspire_jsonl_open(aspire_jsonl **out, const char *path);
/* The same from text in memory (copied); `name` stands for the file in messages. */
ASPIRE_API int aspire_jsonl_open_text(aspire_jsonl **out, const char *text, size_t n, const char *name);
ASPIRE_API void aspire_jsonl_free(aspire_jsonl *r);
/* Parses the next non-blank line. Returns 1 with a new object in *obj (the caller frees it with
 * cJSON_Delete), 0 at the end (*obj = NULL), or a negative status with *obj = NULL and a message
 * such as "stage/edits.jsonl:12: malformed JSON at column 31". After an error the reader moves on
 * to the following line, so a caller may skip bad lines if it chooses. */
ASPIRE_API int aspire_jsonl_next(aspire_jsonl *r, cJSON **obj);
/* The line of the object (or error) last returned by aspire_jsonl_next. */
ASPIRE_API int aspire_jsonl_line(const aspire_jsonl *r);
ASPIRE_API const char *aspire_jsonl_path(const aspire_jsonl *r);
/* Reads every object of a file into a new cJSON array (*out; cJSON_Delete it). All or nothing. */
ASPIRE_API int aspire_jsonl_read_all(const char *path, cJSON **out);

typedef struct aspire_jsonl_writer aspire_jsonl_writer;

/* Opens an atomic writer (nothing is visible at `path` until commit). */
ASPIRE_API int aspire_jsonl_writer_open(aspire_jsonl_writer **out, const char *path);
/* Writes one object as one compact line (cJSON escapes newlines inside strings). */
ASPIRE_API int aspire_jsonl_writer_write(aspire_jsonl_writer *w, const cJSON *obj);
/* Commits (fsync, rename) and frees w; on failure the old file is kept. */
ASPIRE_API int aspire_jsonl_writer_commit(aspire_jsonl_writer *w);
/* Drops the new file and frees w (NULL ok). */
ASPIRE_API void aspire_jsonl_writer_abort(aspire_jsonl_writer *w);
/* Writes every element (each an object) of a cJSON array as a file, atomically. */
ASPIRE_API int aspire_jsonl_write_all(const char *path, const cJSON *array);

#endif
