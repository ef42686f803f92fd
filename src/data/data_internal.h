/* data_internal.h — the dataset index's private form, shared by index.c (metadata.csv read and
 * checked once) and dataset.c (the decoded images of a split, which keep their index alive). */
#ifndef ASPIRE_DATA_INTERNAL_H
#define ASPIRE_DATA_INTERNAL_H

#include "aspire/csv.h"
#include "aspire/dataset.h"

typedef struct ix_name { const char *name; int64_t row; } ix_name;

struct aspire_dataset_index {
    int refs;                /* the index and every dataset loaded from it */
    aspire_csv *csv;
    char *dir, *meta_path;
    aspire_layout layout;
    int n_classes, n_places;
    int64_t n;               /* rows */
    int32_t *y, *place;      /* (n); place -1 in the extra layout */
    int8_t *split;           /* (n); 0 in the extra layout */
    int64_t *img_id;         /* (n); the row number (from 1) where there is no img_id column */
    char **class_names, **place_names;
    ix_name *by_name;        /* img_filename → row, sorted; built on the first find */
};

/* imagefile.c: an image file named by row `name` of a metadata file (path = dir/name), read only
 * when it is a regular file of at most ASPIRE_DATASET_IMAGE_MAX bytes and, unless allow_outside,
 * inside the dataset folder whose resolved path is dir_real (NULL: not checked). The buffer is
 * freed with aspire_free(buf, n + 1). Messages name the path or the column. */
int ds_image_read(const char *path, const char *name, const char *dir_real, int allow_outside, char **buf, size_t *n);
/* The name alone: an absolute path or one with a ".." component is refused unless allow_outside. */
int ds_image_name_check(const char *name, int allow_outside);
/* ASPIRE_OK when path is a regular file or cannot be stat'ed (the reader then reports why), else a
 * refusal naming what it is (a FIFO would block its reader). For metadata.csv and classes.txt. */
int ds_regular_or_absent(const char *path);
/* The dataset folder resolved (realpath); *out is freed with free(). */
int ds_dir_real(const char *dir, char **out);

/* aspire_dataset_index_open with metadata.csv's bytes given (text[0, n)) instead of read from dir;
 * for the fuzz target fuzz/fuzz_dataset_index.c. */
int ix_open_text(aspire_dataset_index **out, const char *dir, const char *text, size_t n, const aspire_index_options *opt);

/* Takes one more reference / drops one (the last frees). */
void ix_retain(aspire_dataset_index *ix);
void ix_release(aspire_dataset_index *ix);

#endif
