/* data.c — the splits a run needs, loaded with the dataset module (include/aspire/dataset.h:
 * metadata checked row by row, images decoded in parallel and resized to S×S), the training
 * split's group sizes (read from metadata.csv, so that evaluating the test split need not decode
 * the training images), and the batch conversion to network input with flips. */
#include "train/train_data.h"

#include "aspire/csv.h"
#include "aspire/dataset.h"
#include "aspire/fileio.h"

#include <stdio.h>
#include <string.h>

void tr_fill_image(float *dst, const uint8_t *src, int S, int flip) {
    /* (x / 255 - 0.5) / 0.25 = x / 63.75 - 2 */
    const float a = 1.0f / 63.75f;
    for (int r = 0; r < S; r++) {
        const uint8_t *row = src + (size_t)r * (size_t)S * 3;
        float *out = dst + (size_t)r * (size_t)S * 3;
        for (int c = 0; c < S; c++) {
            const uint8_t *p = row + (size_t)(flip ? S - 1 - c : c) * 3;
            out[3 * c + 0] = p[0] * a - 2.0f;
            out[3 * c + 1] = p[1] * a - 2.0f;
            out[3 * c + 2] = p[2] * a - 2.0f;
        }
    }
}

void tr_fill_batch(float *dst, const tr_images *im, const int64_t *idx, int64_t n, const uint8_t *flip) {
    const size_t per = (size_t)im->S * (size_t)im->S * 3;
    for (int64_t k = 0; k < n; k++) tr_fill_image(dst + (size_t)k * per, tr_pixels(im, idx[k]), im->S, flip ? flip[k] : 0);
}

const uint8_t *tr_pixels(const tr_images *im, int64_t i) { return aspire_dataset_pixels(im->ds, i); }

static void images_free(tr_images *im) {
    size_t n = (size_t)(im->n ? im->n : 1);
    aspire_free(im->place, n * sizeof(int32_t));
    aspire_dataset_free(im->ds);
    memset(im, 0, sizeof *im);
}

/* Wraps a loaded dataset (ownership passes to im). */
static int images_wrap(tr_images *im, aspire_dataset *ds, int S) {
    im->ds = ds;
    im->n = aspire_dataset_count(ds);
    im->S = S;
    im->y = aspire_dataset_labels(ds);
    im->place = aspire_malloc((size_t)(im->n ? im->n : 1) * sizeof(int32_t));
    if (!im->place) { images_free(im); return aspire_error(ASPIRE_ERR_NOMEM, "out of memory"); }
    for (int64_t i = 0; i < im->n; i++) im->place[i] = aspire_dataset_place(ds, i);
    return ASPIRE_OK;
}

static int load_split(tr_images *im, const char *dir, int split, int S, int64_t limit, int progress) {
    aspire_dataset_options o = {0};
    o.split = split;
    o.size = S;
    o.channels = 3;
    o.layout = split == ASPIRE_SPLIT_ALL ? ASPIRE_LAYOUT_EXTRA : ASPIRE_LAYOUT_WATERBIRDS;
    o.progress = progress;
    aspire_dataset *ds = NULL;
    int rc = aspire_dataset_load(&ds, dir, &o);
    if (rc) return rc;
    if (limit > 0 && limit < aspire_dataset_count(ds)) {
        size_t b = (size_t)limit * sizeof(int64_t);
        int64_t *idx = aspire_malloc(b);
        aspire_dataset *sub = NULL;
        rc = idx ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; !rc && i < limit; i++) idx[i] = i;
        if (!rc) rc = aspire_dataset_subset(&sub, ds, idx, limit);
        aspire_free(idx, b);
        aspire_dataset_free(ds);
        if (rc) return rc;
        ds = sub;
    }
    return images_wrap(im, ds, S);
}

/* Classes, places and the training split's group sizes from metadata.csv (the dataset module has
 * checked every row by then). */
static int read_counts(tr_data *d, const char *dir) {
    char *meta = aspire_path_join(dir, "metadata.csv");
    aspire_csv *csv = NULL;
    int rc = meta ? aspire_csv_read(&csv, meta) : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    aspire_strfree(meta);
    int cy = -1, cs = -1, cp = -1;
    if (!rc) rc = aspire_csv_require(csv, "y", &cy);
    if (!rc) rc = aspire_csv_require(csv, "split", &cs);
    if (!rc) rc = aspire_csv_require(csv, "place", &cp);
    int64_t maxy = 1, maxp = 0;
    for (int pass = 0; !rc && pass < 2; pass++) {
        for (int64_t r = 0; !rc && r < aspire_csv_nrows(csv); r++) {
            int64_t y, s, p;
            rc = aspire_csv_get_int(csv, r, cy, &y);
            if (!rc) rc = aspire_csv_get_int(csv, r, cs, &s);
            if (!rc) rc = aspire_csv_get_int(csv, r, cp, &p);
            if (rc) break;
            if (pass == 0) {
                if (y > maxy) maxy = y;
                if (p > maxp) maxp = p;
            } else if (s == 0 && y >= 0 && p >= 0) {
                d->train_group_n[y * d->P + p]++;
            }
        }
        if (!rc && pass == 0) {
            d->K = (int)maxy + 1;
            d->P = (int)maxp + 1;
            if ((int64_t)d->K * d->P > 64)
                rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: %d classes × %d places are more than the 64 groups supported",
                                  aspire_csv_path(csv), d->K, d->P);
        }
    }
    aspire_csv_free(csv);
    return rc;
}

int tr_data_load(tr_data *d, const char *data_dir, const char *extra_dir, int S, int which, int64_t limit_train,
                 int progress) {
    memset(d, 0, sizeof *d);
    int rc = ASPIRE_OK;
    if (which & TR_SPLIT_TRAIN) rc = load_split(&d->train, data_dir, ASPIRE_SPLIT_TRAIN, S, limit_train, progress);
    if (!rc && (which & TR_SPLIT_VAL)) rc = load_split(&d->val, data_dir, ASPIRE_SPLIT_VAL, S, 0, progress);
    if (!rc && (which & TR_SPLIT_TEST)) rc = load_split(&d->test, data_dir, ASPIRE_SPLIT_TEST, S, 0, progress);
    if (!rc) rc = read_counts(d, data_dir);
    if (!rc && (which & TR_SPLIT_EXTRA) && extra_dir) {
        rc = load_split(&d->extra, extra_dir, ASPIRE_SPLIT_ALL, S, 0, progress);
        for (int64_t i = 0; !rc && i < d->extra.n; i++)
            if (d->extra.y[i] >= d->K) {
                char where[600];
                rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: label %d is not one of the dataset's %d classes",
                                  aspire_dataset_origin(d->extra.ds, i, where, sizeof where), d->extra.y[i], d->K);
            }
    }
    if (!rc && d->K == 2 && d->P == 2) {  /* the Waterbirds convention */
        strcpy(d->class_names[0], "landbird");
        strcpy(d->class_names[1], "waterbird");
        strcpy(d->place_names[0], "land");
        strcpy(d->place_names[1], "water");
    }
    if (rc) tr_data_destroy(d);
    return rc;
}

void tr_data_destroy(tr_data *d) {
    if (!d) return;
    images_free(&d->train);
    images_free(&d->val);
    images_free(&d->test);
    images_free(&d->extra);
}

tr_images *tr_data_split(tr_data *d, const char *name) {
    if (strcmp(name, "train") == 0) return &d->train;
    if (strcmp(name, "val") == 0) return &d->val;
    if (strcmp(name, "test") == 0) return &d->test;
    return NULL;
}
