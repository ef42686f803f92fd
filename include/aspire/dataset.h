/* dataset.h — image classification datasets in the Waterbirds layout: the index (metadata.csv read
 * and checked once), the images of a split decoded on demand and cached in memory, and batches of
 * normalised float images for training and evaluation (the one batcher).
 *
 * A dataset folder holds metadata.csv and the images it names (paths relative to the folder, any
 * size, PNG or JPEG). Two layouts:
 *   - waterbirds: columns img_id, img_filename, y, split, place (split 0/1/2 = train/val/test);
 *     group = y * n_places + place (2y + place for Waterbirds). Other columns (species,
 *     place_filename, ...) are kept and can be read by name.
 *   - extra: only img_filename and y are required; there are no groups (-1) and no splits (every
 *     image is training data). Used for the images that ASPIRE generates.
 * Images are resized on load to a square (area when shrinking, bilinear when growing) and kept
 * as bytes. Nothing here depends on the engine: batches are plain float buffers, NHWC. */
#ifndef ASPIRE_DATASET_H
#define ASPIRE_DATASET_H

#include "aspire/common.h"

enum { ASPIRE_SPLIT_ALL = -1, ASPIRE_SPLIT_TRAIN = 0, ASPIRE_SPLIT_VAL = 1, ASPIRE_SPLIT_TEST = 2 };
typedef enum aspire_layout { ASPIRE_LAYOUT_WATERBIRDS = 0, ASPIRE_LAYOUT_EXTRA = 1 } aspire_layout;

/* ---- the index ------------------------------------------------------------------------------
 * A dataset folder opened once: every row of metadata.csv checked (all splits), labels, splits,
 * places and image ids parsed, classes and places counted, their names found. Class names come
 * from a column `class_name` (the same name on every row of a label), else a file classes.txt
 * beside metadata.csv (one name per line, in order of y), else the defaults
 * (aspire_default_class_name: Waterbirds' landbird / waterbird); place names from a column
 * `place_name`, else land / water for two places, else "place P". Errors name the file, the line
 * and the column ("data/metadata.csv:17: column 'y': expected an integer, found 'bird'"). */
typedef struct aspire_dataset_index aspire_dataset_index;

typedef struct aspire_index_options {
    aspire_layout layout;
    int n_places;           /* 0 = 1 + the largest place in metadata.csv */
    const char *metadata;   /* file name inside the folder; NULL = "metadata.csv" */
} aspire_index_options;

/* opt may be NULL (the Waterbirds layout). */
ASPIRE_API int aspire_dataset_index_open(aspire_dataset_index **out, const char *dir, const aspire_index_options *opt);
/* Drops the caller's reference; datasets loaded from the index keep it alive. NULL ok. */
ASPIRE_API void aspire_dataset_index_free(aspire_dataset_index *ix);

ASPIRE_API const char *aspire_dataset_index_dir(const aspire_dataset_index *ix);
ASPIRE_API const char *aspire_dataset_index_path(const aspire_dataset_index *ix);   /* dir/metadata.csv */
ASPIRE_API aspire_layout aspire_dataset_index_layout(const aspire_dataset_index *ix);
ASPIRE_API int64_t aspire_dataset_index_rows(const aspire_dataset_index *ix);       /* all splits */
ASPIRE_API int aspire_dataset_index_n_classes(const aspire_dataset_index *ix);      /* 1 + largest y */
ASPIRE_API int aspire_dataset_index_n_places(const aspire_dataset_index *ix);       /* 0 for the extra layout */
ASPIRE_API int aspire_dataset_index_n_groups(const aspire_dataset_index *ix);       /* classes * places, or 0 */
/* n_classes / n_places names, valid while the index lives. */
ASPIRE_API const char *const *aspire_dataset_index_class_names(const aspire_dataset_index *ix);
ASPIRE_API const char *const *aspire_dataset_index_place_names(const aspire_dataset_index *ix);
ASPIRE_API const char *aspire_dataset_index_class_name(const aspire_dataset_index *ix, int k);  /* NULL out of range */
ASPIRE_API const char *aspire_dataset_index_place_name(const aspire_dataset_index *ix, int p);
/* Rows of a split (ASPIRE_SPLIT_ALL: all; the extra layout has every row in every split). */
ASPIRE_API int64_t aspire_dataset_index_count(const aspire_dataset_index *ix, int split);
/* Rows per group (y * n_places + place) of a split into counts[n_groups]. */
ASPIRE_API void aspire_dataset_index_group_counts(const aspire_dataset_index *ix, int split, int64_t *counts);

/* Per row r in [0, rows), in metadata.csv's order. */
ASPIRE_API int32_t aspire_dataset_index_label(const aspire_dataset_index *ix, int64_t r);
ASPIRE_API int32_t aspire_dataset_index_place(const aspire_dataset_index *ix, int64_t r);   /* -1: extra layout */
ASPIRE_API int32_t aspire_dataset_index_group(const aspire_dataset_index *ix, int64_t r);   /* -1: extra layout */
ASPIRE_API int aspire_dataset_index_split(const aspire_dataset_index *ix, int64_t r);
ASPIRE_API int64_t aspire_dataset_index_img_id(const aspire_dataset_index *ix, int64_t r);  /* no img_id column: r + 1 */
ASPIRE_API int aspire_dataset_index_line(const aspire_dataset_index *ix, int64_t r);        /* line in metadata.csv */
ASPIRE_API const char *aspire_dataset_index_filename(const aspire_dataset_index *ix, int64_t r);
/* Any column by name (NULL if there is no such column). */
ASPIRE_API const char *aspire_dataset_index_field(const aspire_dataset_index *ix, int64_t r, const char *column);
ASPIRE_API int aspire_dataset_index_has_column(const aspire_dataset_index *ix, const char *column);
/* ASPIRE_OK, or ASPIRE_ERR_NOTFOUND naming the file, its header line and the columns it has. */
ASPIRE_API int aspire_dataset_index_require(const aspire_dataset_index *ix, const char *column);
/* The row a path names (e.g. a captions.csv path): img_filename itself, DIR/img_filename, or any
 * path ending in /img_filename. ASPIRE_ERR_NOTFOUND when none does; ASPIRE_ERR_FORMAT (naming both
 * lines) when two rows share an img_filename, which the first call checks. */
ASPIRE_API int aspire_dataset_index_find(aspire_dataset_index *ix, const char *path, int64_t *row);

struct aspire_image;
/* Row r's image decoded to `channels` (0 = as stored), under the rules aspire_dataset_load_split
 * follows (a regular file of at most ASPIRE_DATASET_IMAGE_MAX bytes, inside the dataset folder
 * unless allow_outside_paths); errors are prefixed with "DIR/metadata.csv:LINE". For stages that
 * read a dataset's images one at a time (captioning). *out is destroyed with aspire_image_destroy. */
ASPIRE_API int aspire_dataset_index_load_image(const aspire_dataset_index *ix, int64_t r, int channels, int allow_outside_paths,
                                               struct aspire_image *out);

/* "train", "val", "test", "all" ↔ ASPIRE_SPLIT_*. */
ASPIRE_API int aspire_split_parse(const char *name, int *split);
ASPIRE_API const char *aspire_split_name(int split);

/* ---- decoded images -------------------------------------------------------------------------- */
typedef struct aspire_dataset_options {
    int split;              /* ASPIRE_SPLIT_*: which rows to load (the extra layout loads all) */
    int size;               /* side of the square images in memory; 0 = 64 */
    int channels;           /* 1 or 3; 0 = 3 */
    aspire_layout layout;
    int n_places;           /* 0 = 1 + the largest place in metadata.csv (all splits) */
    int progress;           /* 1 = a progress line on stderr while decoding */
    const char *metadata;   /* file name inside the folder; NULL = "metadata.csv" */
    int allow_outside_paths; /* 1: img_filename may be absolute, hold "..", or be a symbolic link
                                resolving outside the folder (refused by default) */
} aspire_dataset_options;

/* The largest image file a dataset may name (256 MiB; a PNG of 8192² RGBA is ~200 MB). Only
 * regular files are read: a FIFO, a device (/dev/zero) or a socket is refused, naming the row. */
#define ASPIRE_DATASET_IMAGE_MAX ((uint64_t)256 << 20)

typedef struct aspire_dataset aspire_dataset;

/* Decodes the images of opt->split of an open index in parallel (opt's layout, n_places and
 * metadata are the index's). opt may be NULL (train split, 64 px, RGB). A missing or corrupt
 * image is named with the metadata line ("data/metadata.csv:17: x.png: ..."), and so is a file
 * that is not a regular file, larger than ASPIRE_DATASET_IMAGE_MAX, or outside the dataset folder
 * (an absolute path, "..", a symbolic link resolving outside) without opt->allow_outside_paths. */
ASPIRE_API int aspire_dataset_load_split(aspire_dataset **out, aspire_dataset_index *ix, const aspire_dataset_options *opt);
/* aspire_dataset_index_open + aspire_dataset_load_split in one call. */
ASPIRE_API int aspire_dataset_load(aspire_dataset **out, const char *dir, const aspire_dataset_options *opt);
/* The index of the dataset's first source (its metadata, names and counts). */
ASPIRE_API aspire_dataset_index *aspire_dataset_get_index(const aspire_dataset *ds);
ASPIRE_API void aspire_dataset_free(aspire_dataset *ds);

/* A new dataset holding the examples idx[0..n) of ds, in that order (pixels copied). */
ASPIRE_API int aspire_dataset_subset(aspire_dataset **out, const aspire_dataset *ds, const int64_t *idx, int64_t n);
/* Appends src's examples to dst (same size and channels, else ASPIRE_ERR_ARG): e.g. a training
 * split plus generated images. n_classes becomes the larger of the two; dst's groups stay. */
ASPIRE_API int aspire_dataset_append(aspire_dataset *dst, const aspire_dataset *src);

ASPIRE_API int64_t aspire_dataset_count(const aspire_dataset *ds);
ASPIRE_API int aspire_dataset_size(const aspire_dataset *ds);       /* image side */
ASPIRE_API int aspire_dataset_channels(const aspire_dataset *ds);
ASPIRE_API int aspire_dataset_n_classes(const aspire_dataset *ds);  /* 1 + largest y in the metadata */
ASPIRE_API int aspire_dataset_n_places(const aspire_dataset *ds);   /* 0 for the extra layout */
ASPIRE_API int aspire_dataset_n_groups(const aspire_dataset *ds);   /* n_classes * n_places, or 0 */
/* The folder of the first source ("" for none). */
ASPIRE_API const char *aspire_dataset_dir(const aspire_dataset *ds);

/* Per example i in [0, count). Arrays have count entries and stay valid until the dataset is
 * freed or appended to. Groups and places are -1 where unknown (extra layout). */
ASPIRE_API const int32_t *aspire_dataset_labels(const aspire_dataset *ds);
ASPIRE_API const int32_t *aspire_dataset_groups(const aspire_dataset *ds);
ASPIRE_API const int32_t *aspire_dataset_places(const aspire_dataset *ds);
ASPIRE_API int32_t aspire_dataset_label(const aspire_dataset *ds, int64_t i);
ASPIRE_API int32_t aspire_dataset_group(const aspire_dataset *ds, int64_t i);
ASPIRE_API int32_t aspire_dataset_place(const aspire_dataset *ds, int64_t i);
ASPIRE_API int aspire_dataset_split(const aspire_dataset *ds, int64_t i);
ASPIRE_API int64_t aspire_dataset_img_id(const aspire_dataset *ds, int64_t i); /* extra without img_id: row number */
ASPIRE_API const char *aspire_dataset_filename(const aspire_dataset *ds, int64_t i);  /* as in the metadata */
/* "dir/metadata.csv:17": where example i came from, for messages. Returns buf. */
ASPIRE_API const char *aspire_dataset_origin(const aspire_dataset *ds, int64_t i, char *buf, size_t n);
/* Any column by name (NULL if example i's metadata has no such column). */
ASPIRE_API const char *aspire_dataset_field(const aspire_dataset *ds, int64_t i, const char *column);
/* size * size * channels bytes (HWC). */
ASPIRE_API const uint8_t *aspire_dataset_pixels(const aspire_dataset *ds, int64_t i);
/* Examples per group into counts[n_groups] (examples without a group are not counted). */
ASPIRE_API void aspire_dataset_group_counts(const aspire_dataset *ds, int64_t *counts);

/* ---- batches --------------------------------------------------------------------------------- */
typedef struct aspire_batch {
    int n;              /* examples in this batch (<= capacity) */
    int capacity, size, channels;
    float *x;           /* (capacity, size, size, channels), first n filled; 64-byte aligned */
    int32_t *y;         /* (capacity) labels */
    int32_t *group;     /* (capacity) groups, -1 if unknown */
    int64_t *index;     /* (capacity) example indices in the dataset */
} aspire_batch;

/* Caller-owned batch buffers for `capacity` examples of size × size × channels. */
ASPIRE_API int aspire_batch_init(aspire_batch *b, int capacity, int size, int channels);
ASPIRE_API void aspire_batch_destroy(aspire_batch *b);  /* zeroed or NULL ok */

/* The one batcher: writes examples idx[0..n) of ds as network input into x (n, size, size,
 * channels) floats, normalised per channel with aspire_pixel_lut (mean and std NULL = 0.5 and
 * 0.25, the anchors' [-2, 2] scaling), mirrored left-right where flip[k] (flip may be NULL). */
ASPIRE_API void aspire_dataset_to_float(const aspire_dataset *ds, const int64_t *idx, int n, const uint8_t *flip, float *x,
                                        const float *mean, const float *std);
/* Fills b with examples idx[0..n) (n <= capacity) through aspire_dataset_to_float, no flips. */
ASPIRE_API void aspire_dataset_fill(const aspire_dataset *ds, const int64_t *idx, int n, aspire_batch *b,
                                    const float *mean, const float *std);

typedef struct aspire_loader_options {
    int batch_size;          /* > 0 */
    int shuffle;             /* a new permutation every epoch (without weights) */
    int drop_last;           /* drop a final partial batch */
    uint64_t seed;
    const float *weights;    /* per-example sampling weights (copied) or NULL: draws with replacement */
    int64_t num_samples;     /* draws per epoch with weights; 0 = dataset count */
    int hflip;               /* random horizontal flip, p = 0.5 */
    int crop;                /* random resized crop (torchvision RandomResizedCrop), back to size */
    float crop_scale[2];     /* area fraction range; {0, 0} = {0.08, 1} */
    float crop_ratio[2];     /* aspect ratio range; {0, 0} = {3/4, 4/3} */
    const float *mean, *std; /* per channel (copied); NULL = 0.5 and 0.25 */
} aspire_loader_options;

typedef struct aspire_loader aspire_loader;

/* An iterator over ds in batches. ds must outlive the loader. Deterministic: the same seed and
 * epoch give the same order and the same augmentations, whatever the thread count. */
ASPIRE_API int aspire_loader_new(aspire_loader **out, const aspire_dataset *ds, const aspire_loader_options *opt);
ASPIRE_API void aspire_loader_free(aspire_loader *ld);
/* Fills b (capacity >= batch_size, same size/channels) with the next batch: returns 1, or 0 when
 * the epoch is over (b->n = 0); the call after that starts the next epoch. */
ASPIRE_API int aspire_loader_next(aspire_loader *ld, aspire_batch *b);
/* Jumps to the start of epoch e (for resuming); epochs count from 0. */
ASPIRE_API void aspire_loader_set_epoch(aspire_loader *ld, int64_t epoch);
ASPIRE_API int64_t aspire_loader_epoch(const aspire_loader *ld);
ASPIRE_API int64_t aspire_loader_batches(const aspire_loader *ld);  /* per epoch */
/* Replaces the sampling weights (count entries, copied; NULL = none) from the next epoch on.
 * ASPIRE_ERR_ARG if a weight is negative or not finite, or all are zero. */
ASPIRE_API int aspire_loader_set_weights(aspire_loader *ld, const float *weights);

#endif
