/* dataset.c — the images of a split of an indexed dataset (index.c) decoded in parallel
 * (OpenMP) and resized to a square byte cache; subsets and concatenation; batches of normalised
 * floats, and a seeded loader with shuffling, weighted sampling, flips and random resized crops. */
#include "data/data_internal.h"

#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/progress.h"
#include "aspire/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct aspire_dataset {
    int size, channels, n_classes, n_places;
    int64_t n, cap;
    uint8_t *pix;      /* (cap, size, size, channels) */
    int32_t *y, *group, *place;
    int8_t *split;
    int64_t *img_id;
    int32_t *src;      /* index into sources */
    int64_t *row;      /* row in that source's metadata */
    aspire_dataset_index **sources;
    int nsrc;
};

static size_t img_bytes(const aspire_dataset *ds) { return (size_t)ds->size * (size_t)ds->size * (size_t)ds->channels; }

static void ds_free_arrays(aspire_dataset *ds) {
    size_t c = (size_t)ds->cap;
    aspire_free(ds->pix, c * img_bytes(ds));
    aspire_free(ds->y, c * sizeof(int32_t));
    aspire_free(ds->group, c * sizeof(int32_t));
    aspire_free(ds->place, c * sizeof(int32_t));
    aspire_free(ds->split, c);
    aspire_free(ds->img_id, c * sizeof(int64_t));
    aspire_free(ds->src, c * sizeof(int32_t));
    aspire_free(ds->row, c * sizeof(int64_t));
}

void aspire_dataset_free(aspire_dataset *ds) {
    if (!ds) return;
    ds_free_arrays(ds);
    for (int i = 0; i < ds->nsrc; i++) ix_release(ds->sources[i]);
    aspire_free(ds->sources, sizeof(aspire_dataset_index *) * (size_t)ds->nsrc);
    aspire_free(ds, sizeof *ds);
}

/* Grows every per-example array to hold `cap` examples. */
static int ds_reserve(aspire_dataset *ds, int64_t cap) {
    if (cap <= ds->cap) return ASPIRE_OK;
    size_t o = (size_t)ds->cap, c = (size_t)cap, ib = img_bytes(ds);
    void *p;
#define GROW(field, elem)                                                  \
    if (!(p = aspire_realloc(ds->field, o * (elem), (c ? c : 1) * (elem)))) return ASPIRE_ERR_NOMEM; \
    ds->field = p;
    /* each array is grown in turn; cap is raised only once all succeeded, and a failure leaves
     * the arrays at least as large as before, so freeing with the old cap stays correct */
    GROW(pix, ib) GROW(y, sizeof(int32_t)) GROW(group, sizeof(int32_t)) GROW(place, sizeof(int32_t))
    GROW(split, 1) GROW(img_id, sizeof(int64_t)) GROW(src, sizeof(int32_t)) GROW(row, sizeof(int64_t))
#undef GROW
    ds->cap = cap;
    return ASPIRE_OK;
}

static int ds_add_source(aspire_dataset *ds, aspire_dataset_index *s) {
    aspire_dataset_index **a = aspire_realloc(ds->sources, sizeof(aspire_dataset_index *) * (size_t)ds->nsrc,
                                              sizeof(aspire_dataset_index *) * (size_t)(ds->nsrc + 1));
    if (!a) return ASPIRE_ERR_NOMEM;
    ds->sources = a;
    ds->sources[ds->nsrc++] = s;
    ix_retain(s);
    return ASPIRE_OK;
}

static aspire_dataset *ds_new(int size, int channels) {
    aspire_dataset *ds = aspire_calloc(1, sizeof *ds);
    if (!ds) return NULL;
    ds->size = size;
    ds->channels = channels;
    return ds;
}

/* ---- loading --------------------------------------------------------------------------------- */

/* Decodes examples [0, ds->n) from their files in parallel. The error reported is the one of the
 * lowest failing example, whatever the thread count. */
/* Row `row`'s image, read under the dataset's file rules (imagefile.c) and decoded to C channels. */
static int load_one(const aspire_dataset_index *s, int64_t row, const char *dir_real, int allow_outside, int C, aspire_image *im) {
    const char *fn = aspire_dataset_index_filename(s, row);
    char *path = aspire_path_join(s->dir, fn), *buf = NULL;
    size_t n = 0;
    int rc = path ? ds_image_read(path, fn, dir_real, allow_outside, &buf, &n) : ASPIRE_ERR_NOMEM;
    if (!rc) rc = aspire_image_decode(im, buf, n, C, path);
    if (buf) aspire_free(buf, n + 1);
    aspire_strfree(path);
    return rc;
}

int aspire_dataset_index_load_image(const aspire_dataset_index *ix, int64_t r, int channels, int allow_outside_paths, aspire_image *out) {
    memset(out, 0, sizeof *out);
    char *dir_real = NULL;
    int rc = allow_outside_paths ? ASPIRE_OK : ds_dir_real(ix->dir, &dir_real);
    if (!rc) rc = load_one(ix, r, dir_real, allow_outside_paths, channels, out);
    free(dir_real);
    if (rc) return aspire_error_prefix(rc, "%s:%d", ix->meta_path, aspire_dataset_index_line(ix, r));
    return ASPIRE_OK;
}

static int decode_all(aspire_dataset *ds, int progress, const char *dir_real, int allow_outside) {
    const aspire_dataset_index *s = ds->sources[0];
    int64_t n = ds->n;
    int S = ds->size, C = ds->channels;
    size_t ib = img_bytes(ds);
    int64_t err_idx = INT64_MAX;
    int err_rc = ASPIRE_OK;
    char err_msg[1024] = "";
    aspire_progress pg;
    aspire_progress_init(&pg, "loading images", n, "img");
    pg.quiet = !progress;
#pragma omp parallel for schedule(dynamic, 8)
    for (int64_t k = 0; k < n; k++) {
        /* chunks are handed out in order, so every example below a failure is still decoded */
        if (k > __atomic_load_n(&err_idx, __ATOMIC_RELAXED)) continue;
        aspire_image im = {0}, rs = {0};
        int rc = load_one(s, ds->row[k], dir_real, allow_outside, C, &im);
        if (!rc && (im.w != S || im.h != S)) {
            rc = aspire_image_resize(&rs, &im, S, S, ASPIRE_RESIZE_AUTO);
            if (!rc) memcpy(ds->pix + (size_t)k * ib, rs.data, ib);
        } else if (!rc) {
            memcpy(ds->pix + (size_t)k * ib, im.data, ib);
        }
        if (rc) {
#pragma omp critical(aspire_dataset_error)
            {
                if (k < err_idx) {
                    snprintf(err_msg, sizeof err_msg, "%s", aspire_errmsg());
                    err_rc = rc;
                    __atomic_store_n(&err_idx, k, __ATOMIC_RELAXED);
                }
            }
        }
        aspire_image_destroy(&im);
        aspire_image_destroy(&rs);
        aspire_progress_add(&pg, 1);
    }
    if (err_rc) {
        int line = aspire_dataset_index_line(s, ds->row[err_idx]);
        return aspire_error(err_rc, "%s:%d: %s", s->meta_path, line, err_msg);
    }
    aspire_progress_finish(&pg, NULL);
    return ASPIRE_OK;
}

int aspire_dataset_load_split(aspire_dataset **out, aspire_dataset_index *ix, const aspire_dataset_options *opt) {
    *out = NULL;
    aspire_dataset_options o = {0};
    if (opt) o = *opt;
    if (!o.size) o.size = 64;
    if (!o.channels) o.channels = 3;
    const char *dir = ix->dir;
    if (o.size < 1 || o.size > 4096) return aspire_error(ASPIRE_ERR_ARG, "dataset %s: image size %d out of range", dir, o.size);
    if (o.channels != 1 && o.channels != 3) return aspire_error(ASPIRE_ERR_ARG, "dataset %s: channels must be 1 or 3", dir);
    if (o.split < -1 || o.split > 2) return aspire_error(ASPIRE_ERR_ARG, "dataset %s: unknown split %d", dir, o.split);
    aspire_dataset *ds = ds_new(o.size, o.channels);
    int rc = ds ? ds_add_source(ds, ix) : ASPIRE_ERR_NOMEM;
    if (!rc) rc = ds_reserve(ds, aspire_dataset_index_count(ix, o.split));
    if (rc) { aspire_dataset_free(ds); return rc; }
    ds->n_classes = ix->n_classes;
    ds->n_places = ix->n_places;
    for (int64_t r = 0, k = 0; r < ix->n; r++) {
        if (!(ix->layout == ASPIRE_LAYOUT_EXTRA || o.split < 0 || ix->split[r] == o.split)) continue;
        ds->y[k] = ix->y[r];
        ds->split[k] = ix->split[r];
        ds->place[k] = ix->place[r];
        ds->group[k] = aspire_dataset_index_group(ix, r);
        ds->img_id[k] = ix->img_id[r];
        ds->src[k] = 0;
        ds->row[k] = r;
        ds->n = ++k;
    }
    char *dir_real = NULL;  /* images must resolve inside it (unless allowed) */
    rc = o.allow_outside_paths ? ASPIRE_OK : ds_dir_real(dir, &dir_real);
    if (!rc) rc = decode_all(ds, o.progress, dir_real, o.allow_outside_paths);
    free(dir_real);
    if (rc) { aspire_dataset_free(ds); return rc; }
    *out = ds;
    return ASPIRE_OK;
}

int aspire_dataset_load(aspire_dataset **out, const char *dir, const aspire_dataset_options *opt) {
    *out = NULL;
    aspire_index_options io = {0};
    if (opt) {
        io.layout = opt->layout;
        io.n_places = opt->n_places;
        io.metadata = opt->metadata;
    }
    aspire_dataset_index *ix = NULL;
    int rc = aspire_dataset_index_open(&ix, dir, &io);
    if (!rc) rc = aspire_dataset_load_split(out, ix, opt);
    aspire_dataset_index_free(ix);
    return rc;
}

aspire_dataset_index *aspire_dataset_get_index(const aspire_dataset *ds) { return ds->nsrc ? ds->sources[0] : NULL; }

int aspire_dataset_subset(aspire_dataset **out, const aspire_dataset *ds, const int64_t *idx, int64_t n) {
    *out = NULL;
    aspire_dataset *d = ds_new(ds->size, ds->channels);
    if (!d) return ASPIRE_ERR_NOMEM;
    d->n_classes = ds->n_classes;
    d->n_places = ds->n_places;
    int rc = ds_reserve(d, n);
    for (int i = 0; i < ds->nsrc && !rc; i++) rc = ds_add_source(d, ds->sources[i]);
    if (rc) { aspire_dataset_free(d); return rc; }
    size_t ib = img_bytes(ds);
    for (int64_t k = 0; k < n; k++) {
        int64_t i = idx[k];
        ASPIRE_ASSERT(i >= 0 && i < ds->n, "(index %lld of %lld)", (long long)i, (long long)ds->n);
        memcpy(d->pix + (size_t)k * ib, ds->pix + (size_t)i * ib, ib);
        d->y[k] = ds->y[i]; d->group[k] = ds->group[i]; d->place[k] = ds->place[i]; d->split[k] = ds->split[i];
        d->img_id[k] = ds->img_id[i]; d->src[k] = ds->src[i]; d->row[k] = ds->row[i];
    }
    d->n = n;
    *out = d;
    return ASPIRE_OK;
}

int aspire_dataset_append(aspire_dataset *dst, const aspire_dataset *src) {
    if (dst->size != src->size || dst->channels != src->channels)
        return aspire_error(ASPIRE_ERR_ARG, "cannot append a dataset of %dx%dx%d images to one of %dx%dx%d", src->size, src->size,
                            src->channels, dst->size, dst->size, dst->channels);
    int rc = ds_reserve(dst, dst->n + src->n);
    int base = dst->nsrc;
    for (int i = 0; i < src->nsrc && !rc; i++) rc = ds_add_source(dst, src->sources[i]);
    if (rc) return rc;
    size_t ib = img_bytes(dst);
    memcpy(dst->pix + (size_t)dst->n * ib, src->pix, (size_t)src->n * ib);
    for (int64_t k = 0; k < src->n; k++) {
        int64_t j = dst->n + k;
        dst->y[j] = src->y[k];
        /* groups are dst's: a source with another place count (or none) has no group here */
        dst->group[j] = src->n_places == dst->n_places ? src->group[k] : -1;
        if (dst->group[j] >= 0 && src->y[k] >= dst->n_classes) dst->group[j] = -1;
        dst->place[j] = src->place[k];
        dst->split[j] = src->split[k];
        dst->img_id[j] = src->img_id[k];
        dst->src[j] = base + src->src[k];
        dst->row[j] = src->row[k];
    }
    dst->n += src->n;
    if (src->n_classes > dst->n_classes) dst->n_classes = src->n_classes;
    return ASPIRE_OK;
}

/* ---- accessors ------------------------------------------------------------------------------- */

#define IDX_OK(ds, i) ASPIRE_ASSERT((i) >= 0 && (i) < (ds)->n, "(example %lld of %lld)", (long long)(i), (long long)(ds)->n)

int64_t aspire_dataset_count(const aspire_dataset *ds) { return ds->n; }
int aspire_dataset_size(const aspire_dataset *ds) { return ds->size; }
int aspire_dataset_channels(const aspire_dataset *ds) { return ds->channels; }
int aspire_dataset_n_classes(const aspire_dataset *ds) { return ds->n_classes; }
int aspire_dataset_n_places(const aspire_dataset *ds) { return ds->n_places; }
int aspire_dataset_n_groups(const aspire_dataset *ds) { return ds->n_places ? ds->n_classes * ds->n_places : 0; }
const char *aspire_dataset_dir(const aspire_dataset *ds) { return ds->nsrc ? ds->sources[0]->dir : ""; }
const int32_t *aspire_dataset_labels(const aspire_dataset *ds) { return ds->y; }
const int32_t *aspire_dataset_groups(const aspire_dataset *ds) { return ds->group; }
const int32_t *aspire_dataset_places(const aspire_dataset *ds) { return ds->place; }
int32_t aspire_dataset_label(const aspire_dataset *ds, int64_t i) { IDX_OK(ds, i); return ds->y[i]; }
int32_t aspire_dataset_group(const aspire_dataset *ds, int64_t i) { IDX_OK(ds, i); return ds->group[i]; }
int32_t aspire_dataset_place(const aspire_dataset *ds, int64_t i) { IDX_OK(ds, i); return ds->place[i]; }
int aspire_dataset_split(const aspire_dataset *ds, int64_t i) { IDX_OK(ds, i); return ds->split[i]; }
int64_t aspire_dataset_img_id(const aspire_dataset *ds, int64_t i) { IDX_OK(ds, i); return ds->img_id[i]; }

const char *aspire_dataset_filename(const aspire_dataset *ds, int64_t i) { return aspire_dataset_field(ds, i, "img_filename"); }

const char *aspire_dataset_field(const aspire_dataset *ds, int64_t i, const char *column) {
    IDX_OK(ds, i);
    return aspire_dataset_index_field(ds->sources[ds->src[i]], ds->row[i], column);
}

const char *aspire_dataset_origin(const aspire_dataset *ds, int64_t i, char *buf, size_t n) {
    IDX_OK(ds, i);
    const aspire_dataset_index *ix = ds->sources[ds->src[i]];
    snprintf(buf, n, "%s:%d", ix->meta_path, aspire_dataset_index_line(ix, ds->row[i]));
    return buf;
}

const uint8_t *aspire_dataset_pixels(const aspire_dataset *ds, int64_t i) {
    IDX_OK(ds, i);
    return ds->pix + (size_t)i * img_bytes(ds);
}

void aspire_dataset_group_counts(const aspire_dataset *ds, int64_t *counts) {
    int ng = aspire_dataset_n_groups(ds);
    memset(counts, 0, sizeof(int64_t) * (size_t)ng);
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->group[i] >= 0 && ds->group[i] < ng) counts[ds->group[i]]++;
}

/* ---- batches --------------------------------------------------------------------------------- */

int aspire_batch_init(aspire_batch *b, int capacity, int size, int channels) {
    memset(b, 0, sizeof *b);
    ASPIRE_ASSERT(capacity > 0 && size > 0 && channels > 0);
    b->capacity = capacity;
    b->size = size;
    b->channels = channels;
    b->x = aspire_malloc_aligned(sizeof(float) * (size_t)capacity * (size_t)size * (size_t)size * (size_t)channels);
    b->y = aspire_malloc(sizeof(int32_t) * (size_t)capacity);
    b->group = aspire_malloc(sizeof(int32_t) * (size_t)capacity);
    b->index = aspire_malloc(sizeof(int64_t) * (size_t)capacity);
    if (!b->x || !b->y || !b->group || !b->index) { aspire_batch_destroy(b); return ASPIRE_ERR_NOMEM; }
    return ASPIRE_OK;
}

void aspire_batch_destroy(aspire_batch *b) {
    if (!b) return;
    aspire_free_aligned(b->x);
    aspire_free(b->y, sizeof(int32_t) * (size_t)b->capacity);
    aspire_free(b->group, sizeof(int32_t) * (size_t)b->capacity);
    aspire_free(b->index, sizeof(int64_t) * (size_t)b->capacity);
    memset(b, 0, sizeof *b);
}

typedef struct norm { float lut[3][256]; float scale[3], bias[3]; } norm;

static void norm_init(norm *nm, int C, const float *mean, const float *std) {
    for (int c = 0; c < C; c++) {
        float m = mean ? mean[c] : 0.5f, s = std ? std[c] : 0.25f;
        aspire_pixel_lut(nm->lut[c], m, s);  /* the one normaliser; the crops interpolate, then scale */
        nm->scale[c] = 1.0f / (255.0f * s);
        nm->bias[c] = -m / s;
    }
}

static void copy_example(const uint8_t *src, int S, int C, float *dst, const norm *nm, int flip) {
    for (int y = 0; y < S; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)S * (size_t)C;
        float *out = dst + (size_t)y * (size_t)S * (size_t)C;
        if (C == 3) {
            const float *l0 = nm->lut[0], *l1 = nm->lut[1], *l2 = nm->lut[2];
            if (flip)
                for (int x = 0; x < S; x++) {
                    const uint8_t *p = row + (size_t)(S - 1 - x) * 3;
                    out[3 * x] = l0[p[0]]; out[3 * x + 1] = l1[p[1]]; out[3 * x + 2] = l2[p[2]];
                }
            else
                for (int x = 0; x < S; x++) {
                    const uint8_t *p = row + (size_t)x * 3;
                    out[3 * x] = l0[p[0]]; out[3 * x + 1] = l1[p[1]]; out[3 * x + 2] = l2[p[2]];
                }
        } else {
            for (int x = 0; x < S; x++) {
                const uint8_t *p = row + (size_t)(flip ? S - 1 - x : x) * (size_t)C;
                for (int c = 0; c < C; c++) out[x * C + c] = nm->lut[c][p[c]];
            }
        }
    }
}

/* Source sample positions of a bilinear resize (align_corners = false) of n pixels to S, as torch
 * computes them: i0[o], i1[o] and the weight w[o] of i1. */
static void bilinear_taps(int n, int S, int *i0, int *i1, float *w) {
    for (int o = 0; o < S; o++) {
        double s = ((double)o + 0.5) * n / S - 0.5;
        if (s < 0) s = 0;
        int i = (int)s;
        if (i >= n - 1) { i0[o] = i1[o] = n - 1; w[o] = 0; continue; }
        i0[o] = i;
        i1[o] = i + 1;
        w[o] = (float)(s - i);
    }
}

/* The crop (x0, y0, cw, ch) of src resized bilinearly (align_corners = false) to S×S, optionally
 * mirrored, normalised into dst. taps holds 3 * 2 * S ints/floats of scratch. The interpolated
 * value is not rounded to a byte (torchvision on PIL images would round: under half a level). */
static void crop_example(const uint8_t *src, int S, int C, float *dst, const norm *nm, int flip, int x0, int y0, int cw, int ch,
                         int *itaps, float *wtaps) {
    int *xi0 = itaps, *xi1 = itaps + S, *yi0 = itaps + 2 * S, *yi1 = itaps + 3 * S;
    float *xw = wtaps, *yw = wtaps + S;
    bilinear_taps(cw, S, xi0, xi1, xw);
    bilinear_taps(ch, S, yi0, yi1, yw);
    for (int oy = 0; oy < S; oy++) {
        const uint8_t *r0 = src + (size_t)(y0 + yi0[oy]) * (size_t)S * (size_t)C;
        const uint8_t *r1 = src + (size_t)(y0 + yi1[oy]) * (size_t)S * (size_t)C;
        float ly = yw[oy];
        float *out = dst + (size_t)oy * (size_t)S * (size_t)C;
        for (int ox = 0; ox < S; ox++) {
            int tx = flip ? S - 1 - ox : ox;
            size_t a = (size_t)(x0 + xi0[tx]) * (size_t)C, b = (size_t)(x0 + xi1[tx]) * (size_t)C;
            float lx = xw[tx];
            for (int c = 0; c < C; c++) {
                float top = (1 - lx) * r0[a + c] + lx * r0[b + c];
                float bot = (1 - lx) * r1[a + c] + lx * r1[b + c];
                out[ox * C + c] = ((1 - ly) * top + ly * bot) * nm->scale[c] + nm->bias[c];
            }
        }
    }
}

void aspire_dataset_to_float(const aspire_dataset *ds, const int64_t *idx, int n, const uint8_t *flip, float *x,
                             const float *mean, const float *std) {
    norm nm;
    norm_init(&nm, ds->channels, mean, std);
    size_t per = img_bytes(ds);
#pragma omp parallel for schedule(static) if (n >= 16)
    for (int k = 0; k < n; k++) {
        int64_t i = idx[k];
        ASPIRE_ASSERT(i >= 0 && i < ds->n, "(example %lld of %lld)", (long long)i, (long long)ds->n);
        copy_example(ds->pix + (size_t)i * per, ds->size, ds->channels, x + (size_t)k * per, &nm, flip ? flip[k] : 0);
    }
}

void aspire_dataset_fill(const aspire_dataset *ds, const int64_t *idx, int n, aspire_batch *b, const float *mean,
                         const float *std) {
    ASPIRE_ASSERT(n >= 0 && n <= b->capacity, "(n %d capacity %d)", n, b->capacity);
    ASPIRE_ASSERT(b->size == ds->size && b->channels == ds->channels, "(batch %dx%d, dataset %dx%d)", b->size, b->channels,
                  ds->size, ds->channels);
    aspire_dataset_to_float(ds, idx, n, NULL, b->x, mean, std);
    for (int k = 0; k < n; k++) {
        b->y[k] = ds->y[idx[k]];
        b->group[k] = ds->group[idx[k]];
        b->index[k] = idx[k];
    }
    b->n = n;
}

/* ---- loader ---------------------------------------------------------------------------------- */

struct aspire_loader {
    const aspire_dataset *ds;
    aspire_loader_options opt;
    float mean[3], std[3];
    double *cum;              /* cumulative weights (count), or NULL */
    int64_t per_epoch;        /* examples drawn per epoch */
    int64_t *order;           /* per_epoch indices */
    int64_t epoch, order_epoch, pos;
    aspire_rng base, aug;     /* aug: this epoch's augmentation stream (forked per example) */
    norm nm;
    int *itaps;               /* crop scratch: (batch_size, 4, size) */
    float *wtaps;             /* (batch_size, 2, size) */
};

void aspire_loader_free(aspire_loader *ld) {
    if (!ld) return;
    aspire_free(ld->cum, sizeof(double) * (size_t)ld->ds->n);
    aspire_free(ld->order, sizeof(int64_t) * (size_t)ld->per_epoch);
    aspire_free(ld->itaps, sizeof(int) * 4 * (size_t)ld->opt.batch_size * (size_t)ld->ds->size);
    aspire_free(ld->wtaps, sizeof(float) * 2 * (size_t)ld->opt.batch_size * (size_t)ld->ds->size);
    aspire_free(ld, sizeof *ld);
}

int aspire_loader_set_weights(aspire_loader *ld, const float *weights) {
    int64_t n = ld->ds->n;
    if (!weights) {
        aspire_free(ld->cum, sizeof(double) * (size_t)n);
        ld->cum = NULL;
        ld->order_epoch = -1;
        return ASPIRE_OK;
    }
    double tot = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(weights[i] >= 0) || !isfinite(weights[i]))
            return aspire_error(ASPIRE_ERR_ARG, "sampling weight %lld is %g (must be finite and >= 0)", (long long)i, (double)weights[i]);
        tot += weights[i];
    }
    if (!(tot > 0)) return aspire_error(ASPIRE_ERR_ARG, "sampling weights are all zero");
    if (!ld->cum && !(ld->cum = aspire_malloc(sizeof(double) * (size_t)(n ? n : 1)))) return ASPIRE_ERR_NOMEM;
    double acc = 0;
    for (int64_t i = 0; i < n; i++) ld->cum[i] = (acc += weights[i]);
    ld->order_epoch = -1; /* takes effect when the next epoch's order is drawn */
    return ASPIRE_OK;
}

int aspire_loader_new(aspire_loader **out, const aspire_dataset *ds, const aspire_loader_options *opt) {
    *out = NULL;
    if (!opt || opt->batch_size <= 0) return aspire_error(ASPIRE_ERR_ARG, "loader: batch size must be positive");
    aspire_loader *ld = aspire_calloc(1, sizeof *ld);
    if (!ld) return ASPIRE_ERR_NOMEM;
    ld->ds = ds;
    ld->opt = *opt;
    ld->opt.weights = NULL;
    ld->opt.mean = ld->opt.std = NULL;
    if (ld->opt.crop_scale[0] == 0 && ld->opt.crop_scale[1] == 0) { ld->opt.crop_scale[0] = 0.08f; ld->opt.crop_scale[1] = 1.0f; }
    if (ld->opt.crop_ratio[0] == 0 && ld->opt.crop_ratio[1] == 0) { ld->opt.crop_ratio[0] = 3.0f / 4; ld->opt.crop_ratio[1] = 4.0f / 3; }
    if (!(ld->opt.crop_scale[0] > 0 && ld->opt.crop_scale[0] <= ld->opt.crop_scale[1] && ld->opt.crop_scale[1] <= 1) ||
        !(ld->opt.crop_ratio[0] > 0 && ld->opt.crop_ratio[0] <= ld->opt.crop_ratio[1])) {
        aspire_free(ld, sizeof *ld);
        return aspire_error(ASPIRE_ERR_ARG, "loader: crop scale must lie in (0, 1] and ratios be positive, low <= high");
    }
    for (int c = 0; c < ds->channels; c++) {
        ld->mean[c] = opt->mean ? opt->mean[c] : 0.5f;
        ld->std[c] = opt->std ? opt->std[c] : 0.25f;
    }
    norm_init(&ld->nm, ds->channels, ld->mean, ld->std);
    ld->per_epoch = opt->weights && opt->num_samples > 0 ? opt->num_samples : ds->n;
    ld->order = aspire_malloc(sizeof(int64_t) * (size_t)(ld->per_epoch ? ld->per_epoch : 1));
    ld->itaps = aspire_malloc(sizeof(int) * 4 * (size_t)opt->batch_size * (size_t)ds->size);
    ld->wtaps = aspire_malloc(sizeof(float) * 2 * (size_t)opt->batch_size * (size_t)ds->size);
    if (!ld->order || !ld->itaps || !ld->wtaps) { aspire_loader_free(ld); return ASPIRE_ERR_NOMEM; }
    aspire_rng_seed(&ld->base, opt->seed);
    ld->order_epoch = -1;
    if (opt->weights) {
        int rc = aspire_loader_set_weights(ld, opt->weights);
        if (rc) { aspire_loader_free(ld); return rc; }
    }
    *out = ld;
    return ASPIRE_OK;
}

void aspire_loader_set_epoch(aspire_loader *ld, int64_t epoch) {
    ASPIRE_ASSERT(epoch >= 0);
    ld->epoch = epoch;
    ld->pos = 0;
    ld->order_epoch = -1;
}

int64_t aspire_loader_epoch(const aspire_loader *ld) { return ld->epoch; }

int64_t aspire_loader_batches(const aspire_loader *ld) {
    int64_t bs = ld->opt.batch_size;
    return ld->opt.drop_last ? ld->per_epoch / bs : (ld->per_epoch + bs - 1) / bs;
}

static void draw_order(aspire_loader *ld) {
    aspire_rng r;
    aspire_rng_fork(&ld->base, (uint64_t)ld->epoch * 2, &r);
    aspire_rng_fork(&ld->base, (uint64_t)ld->epoch * 2 + 1, &ld->aug);
    int64_t n = ld->ds->n;
    if (ld->cum) {
        /* with replacement, probability proportional to weight: inverse CDF by binary search */
        double tot = ld->cum[n - 1];
        for (int64_t k = 0; k < ld->per_epoch; k++) {
            double u = aspire_rng_uniform(&r) * tot;
            int64_t lo = 0, hi = n - 1;
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (ld->cum[mid] > u) hi = mid; else lo = mid + 1;
            }
            ld->order[k] = lo;
        }
    } else {
        for (int64_t k = 0; k < n; k++) ld->order[k] = k;
        if (ld->opt.shuffle) aspire_rng_shuffle(&r, ld->order, n);
    }
    ld->order_epoch = ld->epoch;
}

/* torchvision's RandomResizedCrop.get_params on an S×S image. */
static void crop_params(aspire_rng *r, int S, const float *scale, const float *ratio, int *x0, int *y0, int *cw, int *ch) {
    double area = (double)S * S, lr0 = log(ratio[0]), lr1 = log(ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * (scale[0] + (scale[1] - scale[0]) * aspire_rng_uniform(r));
        double ar = exp(lr0 + (lr1 - lr0) * aspire_rng_uniform(r));
        int w = (int)lround(sqrt(target * ar)), h = (int)lround(sqrt(target / ar));
        if (w > 0 && w <= S && h > 0 && h <= S) {
            *y0 = (int)aspire_rng_below(r, S - h + 1);
            *x0 = (int)aspire_rng_below(r, S - w + 1);
            *cw = w;
            *ch = h;
            return;
        }
    }
    /* fallback: the central crop with the ratio clamped into range (square images: the whole) */
    int w = S, h = S;
    if (1.0 < ratio[0]) h = (int)lround(w / ratio[0]);
    else if (1.0 > ratio[1]) w = (int)lround(h * ratio[1]);
    *cw = w;
    *ch = h;
    *x0 = (S - w) / 2;
    *y0 = (S - h) / 2;
}

int aspire_loader_next(aspire_loader *ld, aspire_batch *b) {
    const aspire_dataset *ds = ld->ds;
    ASPIRE_ASSERT(b->capacity >= ld->opt.batch_size && b->size == ds->size && b->channels == ds->channels,
                  "(batch capacity %d size %d channels %d; loader batch %d, dataset %dx%d)", b->capacity, b->size, b->channels,
                  ld->opt.batch_size, ds->size, ds->channels);
    if (ld->order_epoch != ld->epoch) draw_order(ld);
    int64_t left = ld->per_epoch - ld->pos, bs = ld->opt.batch_size;
    if (left <= 0 || (ld->opt.drop_last && left < bs)) {
        ld->epoch++;
        ld->pos = 0;
        b->n = 0;
        return 0;
    }
    int n = (int)(left < bs ? left : bs);
    int S = ds->size, C = ds->channels;
    size_t per = img_bytes(ds);
    int64_t pos0 = ld->pos;
#pragma omp parallel for schedule(static) if (n >= 16)
    for (int k = 0; k < n; k++) {
        int64_t i = ld->order[pos0 + k];
        /* the example's own stream: depends only on (seed, epoch, position), not on threads */
        aspire_rng r;
        aspire_rng_fork(&ld->aug, (uint64_t)(pos0 + k), &r);
        int x0 = 0, y0 = 0, cw = S, ch = S, flip = 0;
        if (ld->opt.crop) crop_params(&r, S, ld->opt.crop_scale, ld->opt.crop_ratio, &x0, &y0, &cw, &ch);
        if (ld->opt.hflip) flip = aspire_rng_uniform(&r) < 0.5;
        const uint8_t *src = ds->pix + (size_t)i * per;
        float *dst = b->x + (size_t)k * per;
        if (cw == S && ch == S) copy_example(src, S, C, dst, &ld->nm, flip);
        else crop_example(src, S, C, dst, &ld->nm, flip, x0, y0, cw, ch, ld->itaps + (size_t)k * 4 * (size_t)S,
                          ld->wtaps + (size_t)k * 2 * (size_t)S);
        b->y[k] = ds->y[i];
        b->group[k] = ds->group[i];
        b->index[k] = i;
    }
    b->n = n;
    ld->pos += n;
    return 1;
}
