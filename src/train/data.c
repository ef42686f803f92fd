/* data.c — a dataset in Waterbirds layout decoded into memory for training: metadata.csv
 * (img_filename, y, split, place) read with the CSV module, every image of the requested splits
 * loaded with the image module and resized to S×S; the extra images' folder (img_filename, y);
 * and the batch conversion to network input. */
#include "train/train_data.h"

#include "aspire/csv.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/progress.h"

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
    for (int64_t k = 0; k < n; k++)
        tr_fill_image(dst + (size_t)k * per, im->pix + (size_t)idx[k] * per, im->S, flip ? flip[k] : 0);
}

static void images_free(tr_images *im) {
    size_t per = (size_t)im->S * (size_t)im->S * 3, n = (size_t)(im->n ? im->n : 1);
    aspire_free(im->pix, n * per);
    aspire_free(im->y, n * sizeof(int32_t));
    aspire_free(im->place, n * sizeof(int32_t));
    memset(im, 0, sizeof *im);
}

static int images_alloc(tr_images *im, int64_t n, int S) {
    im->n = n;
    im->S = S;
    size_t per = (size_t)S * (size_t)S * 3, m = (size_t)(n ? n : 1);
    im->pix = aspire_malloc(m * per);
    im->y = aspire_malloc(m * sizeof(int32_t));
    im->place = aspire_malloc(m * sizeof(int32_t));
    if (!im->pix || !im->y || !im->place) {
        images_free(im);
        return aspire_error(ASPIRE_ERR_NOMEM, "out of memory for %lld images of %d×%d", (long long)n, S, S);
    }
    return ASPIRE_OK;
}

/* Loads one image into slot k of im, resized to S×S. */
static int load_one(tr_images *im, int64_t k, const char *dir, const char *file, const aspire_csv *csv, int64_t row) {
    char *path = aspire_path_join(dir, file);
    if (!path) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    aspire_image img = {0}, rs = {0};
    int rc = aspire_image_load(&img, path, 3);
    if (rc) rc = aspire_error_prefix(rc, "%s:%d", aspire_csv_path(csv), aspire_csv_line(csv, row));
    const int S = im->S;
    uint8_t *dst = im->pix + (size_t)k * (size_t)S * (size_t)S * 3;
    if (!rc && img.w == S && img.h == S) {
        memcpy(dst, img.data, (size_t)S * (size_t)S * 3);
    } else if (!rc) {
        rc = aspire_image_resize(&rs, &img, S, S, img.w > S || img.h > S ? ASPIRE_RESIZE_AREA : ASPIRE_RESIZE_BILINEAR);
        if (!rc) memcpy(dst, rs.data, (size_t)S * (size_t)S * 3);
    }
    aspire_image_destroy(&img);
    aspire_image_destroy(&rs);
    aspire_strfree(path);
    return rc;
}

static const char *split_name(int split) { return split == 0 ? "train" : split == 1 ? "val" : "test"; }

int tr_data_load(tr_data *d, const char *data_dir, const char *extra_dir, int S, int which, int64_t limit_train,
                 int progress) {
    memset(d, 0, sizeof *d);
    aspire_csv *csv = NULL;
    char *meta = aspire_path_join(data_dir, "metadata.csv");
    if (!meta) return aspire_error(ASPIRE_ERR_NOMEM, "out of memory");
    int rc = aspire_csv_read(&csv, meta);
    aspire_strfree(meta);
    if (rc) return rc;
    int c_file, c_y, c_split, c_place;
    rc = aspire_csv_require(csv, "img_filename", &c_file);
    if (!rc) rc = aspire_csv_require(csv, "y", &c_y);
    if (!rc) rc = aspire_csv_require(csv, "split", &c_split);
    if (!rc) rc = aspire_csv_require(csv, "place", &c_place);
    const int64_t nrows = aspire_csv_nrows(csv);
    int64_t count[3] = {0, 0, 0};
    int maxy = 1, maxp = 0;
    /* first pass: check every row, count the splits, find the numbers of classes and places */
    for (int64_t r = 0; !rc && r < nrows; r++) {
        int64_t y, sp, pl;
        rc = aspire_csv_get_int(csv, r, c_y, &y);
        if (!rc) rc = aspire_csv_get_int(csv, r, c_split, &sp);
        if (!rc) rc = aspire_csv_get_int(csv, r, c_place, &pl);
        if (rc) break;
        if (y < 0 || y > 63 || sp < 0 || sp > 2 || pl < 0 || pl > 63) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: y must be 0..63, split 0..2 and place 0..63 (got %lld, %lld, %lld)",
                              aspire_csv_path(csv), aspire_csv_line(csv, r), (long long)y, (long long)sp, (long long)pl);
            break;
        }
        if (y > maxy) maxy = (int)y;
        if (pl > maxp) maxp = (int)pl;
        count[sp]++;
    }
    if (rc) { aspire_csv_free(csv); return rc; }
    d->K = maxy + 1;
    d->P = maxp + 1;
    if (d->K * d->P > 64) {
        aspire_csv_free(csv);
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: %d classes × %d places are more than 64 groups", aspire_csv_path(csv),
                            d->K, d->P);
    }
    if (d->K == 2 && d->P == 2) {  /* the Waterbirds convention */
        strcpy(d->class_names[0], "landbird");
        strcpy(d->class_names[1], "waterbird");
        strcpy(d->place_names[0], "land");
        strcpy(d->place_names[1], "water");
    }
    for (int64_t r = 0; r < nrows; r++) {
        int64_t y, sp, pl;
        aspire_csv_get_int(csv, r, c_y, &y);
        aspire_csv_get_int(csv, r, c_split, &sp);
        aspire_csv_get_int(csv, r, c_place, &pl);
        if (sp == 0) d->train_group_n[y * d->P + pl]++;
    }
    tr_images *dst[3] = {&d->train, &d->val, &d->test};
    const int bits[3] = {TR_SPLIT_TRAIN, TR_SPLIT_VAL, TR_SPLIT_TEST};
    for (int sp = 0; !rc && sp < 3; sp++) {
        if (!(which & bits[sp])) continue;
        int64_t n = count[sp];
        if (sp == 0 && limit_train > 0 && limit_train < n) n = limit_train;
        rc = images_alloc(dst[sp], n, S);
        if (rc) break;
        char label[64];
        snprintf(label, sizeof label, "load %s", split_name(sp));
        aspire_progress pg;
        aspire_progress_init(&pg, label, n, "img");
        if (!progress) pg.quiet = 1;
        int64_t k = 0;
        for (int64_t r = 0; !rc && r < nrows && k < n; r++) {
            int64_t y, s, pl;
            aspire_csv_get_int(csv, r, c_split, &s);
            if (s != sp) continue;
            aspire_csv_get_int(csv, r, c_y, &y);
            aspire_csv_get_int(csv, r, c_place, &pl);
            dst[sp]->y[k] = (int32_t)y;
            dst[sp]->place[k] = (int32_t)pl;
            rc = load_one(dst[sp], k, data_dir, aspire_csv_field(csv, r, c_file), csv, r);
            k++;
            if (k % 256 == 0 || k == n) aspire_progress_update(&pg, k, NULL);
        }
        if (!rc && n > 4096) aspire_progress_finish(&pg, NULL);
    }
    aspire_csv_free(csv);
    if (!rc && (which & TR_SPLIT_EXTRA) && extra_dir) {
        aspire_csv *ex = NULL;
        meta = aspire_path_join(extra_dir, "metadata.csv");
        rc = meta ? aspire_csv_read(&ex, meta) : ASPIRE_ERR_NOMEM;
        aspire_strfree(meta);
        int e_file = -1, e_y = -1;
        if (!rc) rc = aspire_csv_require(ex, "img_filename", &e_file);
        if (!rc) rc = aspire_csv_require(ex, "y", &e_y);
        if (!rc) rc = images_alloc(&d->extra, aspire_csv_nrows(ex), S);
        for (int64_t r = 0; !rc && r < d->extra.n; r++) {
            int64_t y;
            rc = aspire_csv_get_int(ex, r, e_y, &y);
            if (!rc && (y < 0 || y >= d->K))
                rc = aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: label %lld is not one of the dataset's %d classes",
                                  aspire_csv_path(ex), aspire_csv_line(ex, r), (long long)y, d->K);
            if (rc) break;
            d->extra.y[r] = (int32_t)y;
            d->extra.place[r] = -1;
            rc = load_one(&d->extra, r, extra_dir, aspire_csv_field(ex, r, e_file), ex, r);
        }
        aspire_csv_free(ex);
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
