/* data.c — the splits a run needs, from one dataset index (include/aspire/dataset.h: metadata
 * checked once, images decoded in parallel and resized to S×S), with the training split's group
 * sizes counted from the index, so that evaluating the test split need not decode the training
 * images. */
#include "train/train_data.h"

#include "aspire/fileio.h"

#include <stdio.h>
#include <string.h>

static void images_free(tr_images *im) {
    aspire_dataset_free(im->ds);
    memset(im, 0, sizeof *im);
}

/* Wraps a loaded dataset (ownership passes to im). */
static void images_wrap(tr_images *im, aspire_dataset *ds, int S) {
    im->ds = ds;
    im->n = aspire_dataset_count(ds);
    im->S = S;
    im->y = aspire_dataset_labels(ds);
    im->place = aspire_dataset_places(ds);
}

/* The first `limit` examples of *ds (limit > 0), replacing it. */
static int keep_first(aspire_dataset **ds, int64_t limit) {
    size_t b = (size_t)limit * sizeof(int64_t);
    int64_t *idx = aspire_malloc(b);
    aspire_dataset *sub = NULL;
    int rc = idx ? ASPIRE_OK : aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; !rc && i < limit; i++) idx[i] = i;
    if (!rc) rc = aspire_dataset_subset(&sub, *ds, idx, limit);
    aspire_free(idx, b);
    if (rc) return rc;
    aspire_dataset_free(*ds);
    *ds = sub;
    return ASPIRE_OK;
}

static int load_split(tr_images *im, aspire_dataset_index *ix, int split, int S, int64_t limit, int progress, int outside) {
    aspire_dataset_options o = {0};
    o.split = split;
    o.size = S;
    o.channels = 3;
    o.progress = progress;
    o.allow_outside_paths = outside;
    aspire_dataset *ds = NULL;
    int rc = aspire_dataset_load_split(&ds, ix, &o);
    if (!rc && limit > 0 && limit < aspire_dataset_count(ds)) rc = keep_first(&ds, limit);
    if (rc) {
        aspire_dataset_free(ds);
        return rc;
    }
    images_wrap(im, ds, S);
    return ASPIRE_OK;
}

/* Extra labelled images (labels only): each label must be one of the dataset's classes. */
static int load_extra(tr_data *d, const char *extra_dir, int S, int progress, int outside) {
    aspire_index_options io = {.layout = ASPIRE_LAYOUT_EXTRA};
    aspire_dataset_index *ix = NULL;
    int rc = aspire_dataset_index_open(&ix, extra_dir, &io);
    if (!rc) rc = load_split(&d->extra, ix, ASPIRE_SPLIT_ALL, S, 0, progress, outside);
    aspire_dataset_index_free(ix);
    for (int64_t i = 0; !rc && i < d->extra.n; i++)
        if (d->extra.y[i] >= d->K) {
            char where[600];
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: column 'y': label %d is not one of the %d classes of %s",
                              aspire_dataset_origin(d->extra.ds, i, where, sizeof where), d->extra.y[i], d->K,
                              aspire_dataset_index_path(d->index));
        }
    return rc;
}

int tr_data_load(tr_data *d, const char *data_dir, const char *extra_dir, int S, int which, int64_t limit_train,
                 int progress, int outside) {
    memset(d, 0, sizeof *d);
    int rc = aspire_dataset_index_open(&d->index, data_dir, NULL);
    if (!rc) {
        d->K = aspire_dataset_index_n_classes(d->index);
        d->P = aspire_dataset_index_n_places(d->index);
        d->train_group_n = aspire_calloc((size_t)(d->K * d->P > 0 ? d->K * d->P : 1), sizeof(int64_t));
        if (!d->train_group_n) rc = aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    }
    if (!rc) aspire_dataset_index_group_counts(d->index, ASPIRE_SPLIT_TRAIN, d->train_group_n);
    if (!rc && (which & TR_SPLIT_TRAIN)) rc = load_split(&d->train, d->index, ASPIRE_SPLIT_TRAIN, S, limit_train, progress, outside);
    if (!rc && (which & TR_SPLIT_VAL)) rc = load_split(&d->val, d->index, ASPIRE_SPLIT_VAL, S, 0, progress, outside);
    if (!rc && (which & TR_SPLIT_TEST)) rc = load_split(&d->test, d->index, ASPIRE_SPLIT_TEST, S, 0, progress, outside);
    if (!rc && (which & TR_SPLIT_EXTRA) && extra_dir) rc = load_extra(d, extra_dir, S, progress, outside);
    if (rc) tr_data_destroy(d);
    return rc;
}

int tr_data_fingerprint(const char *path, char *out, size_t n) {
    char *buf = NULL;
    size_t len = 0;
    int rc = aspire_read_file_max(path, &buf, &len, (size_t)1 << 30);
    if (rc) return rc;
    uint64_t h = 0xcbf29ce484222325ull;  /* FNV-1a, 64 bits: notices a change, is no defence against forgery */
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)buf[i]) * 0x100000001b3ull;
    aspire_free(buf, len + 1);
    snprintf(out, n, "fnv1a64:%016llx", (unsigned long long)h);
    return ASPIRE_OK;
}

void tr_data_destroy(tr_data *d) {
    if (!d) return;
    images_free(&d->train);
    images_free(&d->val);
    images_free(&d->test);
    images_free(&d->extra);
    aspire_free(d->train_group_n, sizeof(int64_t) * (size_t)(d->K * d->P > 0 ? d->K * d->P : 1));
    aspire_dataset_index_free(d->index);
    memset(d, 0, sizeof *d);
}

tr_images *tr_data_split(tr_data *d, const char *name) {
    if (strcmp(name, "train") == 0) return &d->train;
    if (strcmp(name, "val") == 0) return &d->val;
    if (strcmp(name, "test") == 0) return &d->test;
    return NULL;
}
