/* stage_extract.h — the extract stage: captions (CSV path,caption) joined to a dataset's metadata
 * (dataset.h's index: a caption's path names a row by its img_filename) → JSON lines with the
 * reference's fields img_id, img_filename, caption, class, label, foreground, background,
 * alternate_background (REFERENCE.md §4), through the extractor (extract.h). The output is written
 * atomically: it exists only once complete. */
#ifndef ASPIRE_STAGE_EXTRACT_H
#define ASPIRE_STAGE_EXTRACT_H

#include "aspire/extract.h"

#include <cjson/cJSON.h>

typedef struct aspire_extract_options {
    const char *captions;            /* captions CSV with columns path, caption */
    const char *data_dir;            /* dataset folder: metadata.csv with img_id, img_filename, y */
    const char *out;                 /* JSON lines to write */
    const char *const *class_names;  /* n_classes names in order of y; NULL = the dataset's (dataset.h) */
    int n_classes;
    int progress;                    /* a progress line, the classes' concepts and a summary on stderr */
    int64_t *written;                /* if not NULL, receives the number of records written */
} aspire_extract_options;

/* Errors name the captions or metadata file, the line and the column at fault. */
ASPIRE_API int aspire_extract_run(const aspire_extract_options *o);

/* One output record (free with cJSON_Delete), or NULL when out of memory. img_id (NULL: left out)
 * is written as a number when it is a whole number, as in the reference's files; filename NULL is
 * left out. */
ASPIRE_API cJSON *aspire_extract_record(const char *img_id, const char *filename, const char *caption, int cls,
                                        const char *label, const aspire_extraction *e);

#endif
