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

/* Takes one more reference / drops one (the last frees). */
void ix_retain(aspire_dataset_index *ix);
void ix_release(aspire_dataset_index *ix);

#endif
