/* train_data.h — what training and evaluation need of a dataset: the images of each split decoded
 * once into memory at the training size (8-bit RGB, HWC) by the dataset module
 * (include/aspire/dataset.h), with labels and places, and the batch conversion to the network's
 * input (flip, (x/255 - 0.5) / 0.25). Private to the training module. */
#ifndef ASPIRE_TRAIN_DATA_H
#define ASPIRE_TRAIN_DATA_H

#include "aspire/common.h"

struct aspire_dataset;

typedef struct tr_images {
    int64_t n;
    int S;                       /* images are S×S×3 */
    struct aspire_dataset *ds;   /* the pixels (owned) */
    const int32_t *y;            /* (n), the dataset's labels */
    int32_t *place;              /* (n), -1 when unknown (extra images) */
} tr_images;

/* Image i's S·S·3 bytes (HWC). */
const uint8_t *tr_pixels(const tr_images *im, int64_t i);

enum { TR_SPLIT_TRAIN = 1, TR_SPLIT_VAL = 2, TR_SPLIT_TEST = 4, TR_SPLIT_EXTRA = 8 };

typedef struct tr_data {
    tr_images train, val, test, extra;  /* those not asked for stay empty */
    int K, P;                           /* classes, places */
    int64_t train_group_n[64];          /* (K * P) sizes of the training split's groups (before limit) */
    char class_names[8][32], place_names[8][32];
} tr_data;

/* Loads the splits in `which` (TR_SPLIT_* bits) of data_dir, resized to S×S, and, with
 * TR_SPLIT_EXTRA, the images of extra_dir. limit_train > 0 keeps the first limit_train training
 * images. Messages name the file and line at fault. */
int tr_data_load(tr_data *d, const char *data_dir, const char *extra_dir, int S, int which, int64_t limit_train,
                 int progress);
void tr_data_destroy(tr_data *d);
/* The images of split "train" / "val" / "test" (NULL for another name). */
tr_images *tr_data_split(tr_data *d, const char *name);

/* Writes one S×S×3 image as the network's input, S·S·3 floats, mirrored left-right if flip. */
void tr_fill_image(float *dst, const uint8_t *src, int S, int flip);
/* Writes images idx[0, n) of im as the network's input, (n, S, S, 3) floats, mirrored left-right
 * where flip[k] (flip may be NULL). */
void tr_fill_batch(float *dst, const tr_images *im, const int64_t *idx, int64_t n, const uint8_t *flip);

#endif
