/* train_data.h — what training and evaluation need of a dataset: its index (metadata.csv read and
 * checked once: classes, places, names, the training split's group sizes) and the images of each
 * split decoded once at the training size by the dataset module (include/aspire/dataset.h).
 * Private to the training module. */
#ifndef ASPIRE_TRAIN_DATA_H
#define ASPIRE_TRAIN_DATA_H

#include "aspire/dataset.h"

/* A view of one decoded split. */
typedef struct tr_images {
    int64_t n;
    int S;                       /* images are S×S×3 */
    aspire_dataset *ds;          /* the pixels (owned), NULL when not loaded */
    const int32_t *y;            /* (n), the dataset's labels */
    const int32_t *place;        /* (n), -1 when unknown (extra images) */
} tr_images;

enum { TR_SPLIT_TRAIN = 1, TR_SPLIT_VAL = 2, TR_SPLIT_TEST = 4, TR_SPLIT_EXTRA = 8 };

typedef struct tr_data {
    aspire_dataset_index *index;        /* the dataset's */
    tr_images train, val, test, extra;  /* those not asked for stay empty */
    int K, P;                           /* classes, places */
    int64_t *train_group_n;             /* (K * P) sizes of the training split's groups (before limit) */
} tr_data;

/* Loads the splits in `which` (TR_SPLIT_* bits) of data_dir, resized to S×S, and, with
 * TR_SPLIT_EXTRA, the images of extra_dir. limit_train > 0 keeps the first limit_train training
 * images. allow_outside: images may lie outside their dataset folder. Messages name the file, line and column at fault. */
int tr_data_load(tr_data *d, const char *data_dir, const char *extra_dir, int S, int which, int64_t limit_train,
                 int progress, int allow_outside);
void tr_data_destroy(tr_data *d);
/* "fnv1a64:HEX" of a file's bytes (a metadata.csv) into out (n >= 25), so that a run notices that
 * its dataset changed. */
int tr_data_fingerprint(const char *path, char *out, size_t n);
/* The images of split "train" / "val" / "test" (NULL for another name). */
tr_images *tr_data_split(tr_data *d, const char *name);

#endif
