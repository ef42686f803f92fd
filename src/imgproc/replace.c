/* replace.c — the background replacer: the backend table, the guarantee that foreground pixels come
 * back bit-exact, the plate bank (plates.csv + PNGs) and the built-in plate backend. */
#include "aspire/replace.h"

#include "aspire/csv.h"
#include "aspire/fileio.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- plate bank ------------------------------------------------------------------------------ */
struct aspire_plate_bank {
    int n;
    char **phrase;
    int *kind;
    aspire_image *img;
};

void aspire_plate_bank_free(aspire_plate_bank *b) {
    if (!b) return;
    for (int i = 0; i < b->n; i++) {
        if (b->phrase) aspire_strfree(b->phrase[i]);
        if (b->img) aspire_image_destroy(&b->img[i]);
    }
    aspire_free(b->phrase, 0);
    aspire_free(b->kind, 0);
    aspire_free(b->img, 0);
    aspire_free(b, sizeof *b);
}

int aspire_plate_bank_count(const aspire_plate_bank *b) { return b->n; }
const char *aspire_plate_bank_phrase(const aspire_plate_bank *b, int i) { return b->phrase[i]; }
const aspire_image *aspire_plate_bank_image(const aspire_plate_bank *b, int i) { return &b->img[i]; }

static int load_row(aspire_plate_bank *b, const aspire_csv *csv, int64_t r, const int col[3], const char *dir) {
    const char *file = aspire_csv_field(csv, r, col[0]), *phrase = aspire_csv_field(csv, r, col[1]);
    const char *kind = aspire_csv_field(csv, r, col[2]);
    const char *path = aspire_csv_path(csv);
    if (!*file || !*phrase)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s:%d: column '%s' is empty", path, aspire_csv_line(csv, r),
                            !*file ? "file" : "phrase");
    int i = b->n;
    b->kind[i] = strcmp(kind, "water") == 0 ? 1 : strcmp(kind, "land") == 0 ? 0 : -1;
    if (!(b->phrase[i] = aspire_strdup(phrase))) return ASPIRE_ERR_NOMEM;
    b->n++;
    char *full = aspire_path_join(dir, file);
    if (!full) return ASPIRE_ERR_NOMEM;
    int rc = aspire_image_load(&b->img[i], full, 3);
    aspire_strfree(full);
    if (rc) aspire_error_prefix(rc, "%s:%d", path, aspire_csv_line(csv, r));
    return rc;
}

int aspire_plate_bank_load(aspire_plate_bank **out, const char *dir) {
    *out = NULL;
    char *path = aspire_path_join(dir, "plates.csv");
    if (!path) return ASPIRE_ERR_NOMEM;
    aspire_csv *csv = NULL;
    aspire_plate_bank *b = NULL;
    int col[3];
    int rc = aspire_csv_read(&csv, path);
    if (!rc) rc = aspire_csv_require(csv, "file", &col[0]);
    if (!rc) rc = aspire_csv_require(csv, "phrase", &col[1]);
    if (!rc) rc = aspire_csv_require(csv, "kind", &col[2]);
    int64_t n = rc ? 0 : aspire_csv_nrows(csv);
    if (!rc && n == 0) rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: holds no plates", path);
    if (!rc && !(b = aspire_calloc(1, sizeof *b))) rc = ASPIRE_ERR_NOMEM;
    if (!rc) {
        b->phrase = aspire_calloc((size_t)n, sizeof *b->phrase);
        b->kind = aspire_calloc((size_t)n, sizeof *b->kind);
        b->img = aspire_calloc((size_t)n, sizeof *b->img);
        if (!b->phrase || !b->kind || !b->img) rc = ASPIRE_ERR_NOMEM;
    }
    for (int64_t r = 0; !rc && r < n; r++) rc = load_row(b, csv, r, col, dir);
    aspire_csv_free(csv);
    aspire_strfree(path);
    if (rc) { aspire_plate_bank_free(b); return rc; }
    *out = b;
    return ASPIRE_OK;
}

/* ---- kinds ----------------------------------------------------------------------------------- */
int aspire_background_kind(aspire_extractor *ex, const char *phrase, int *kind) {
    *kind = -1;
    aspire_extraction e = {0};
    if (!(e.background = aspire_strdup(phrase))) return ASPIRE_ERR_NOMEM;
    int cls = 0;
    /* one item alone: no other class names a background, so the backend's contrast decides */
    int rc = aspire_extractor_alternates(ex, &e, &cls, 1);
    if (!rc && e.alternate) *kind = strcmp(e.alternate, "land") == 0 ? 1 : strcmp(e.alternate, "water") == 0 ? 0 : -1;
    aspire_extraction_destroy(&e);
    return rc;
}

/* ---- the replacer ---------------------------------------------------------------------------- */
struct aspire_replacer {
    const aspire_replacer_backend *backend;
    void *impl;
};

int aspire_replacer_new(const aspire_replacer_backend *backend, void *impl, aspire_replacer **out) {
    *out = NULL;
    aspire_replacer *r = aspire_calloc(1, sizeof *r);
    if (!r) {
        if (backend->free) backend->free(impl);
        return ASPIRE_ERR_NOMEM;
    }
    r->backend = backend;
    r->impl = impl;
    *out = r;
    return ASPIRE_OK;
}

void aspire_replacer_free(aspire_replacer *r) {
    if (!r) return;
    if (r->backend->free) r->backend->free(r->impl);
    aspire_free(r, sizeof *r);
}

const char *aspire_replacer_name(const aspire_replacer *r) { return r->backend->name; }

uint64_t aspire_replace_key(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static int to_rgb(const aspire_image *img, aspire_image *rgb) {
    int rc = aspire_image_init(rgb, img->w, img->h, 3);
    for (int64_t p = 0; !rc && p < (int64_t)img->w * img->h; p++)
        for (int ch = 0; ch < 3; ch++) rgb->data[3 * p + ch] = img->data[p * img->c + (img->c >= 3 ? ch : 0)];
    return rc;
}

int aspire_replacer_run(aspire_replacer *r, const aspire_image *img, const uint8_t *fg, const char *background,
                        const char *alt, uint64_t key, aspire_image *out) {
    memset(out, 0, sizeof *out);
    if (!alt || !*alt) return aspire_error(ASPIRE_ERR_ARG, "replacer: no alternative background phrase");
    aspire_image tmp = {0};
    const aspire_image *src = img;
    int rc = ASPIRE_OK;
    if (img->c != 3) {
        if ((rc = to_rgb(img, &tmp))) return rc;
        src = &tmp;
    }
    rc = r->backend->replace(r->impl, src, fg, background, alt, key, out);
    if (!rc && (out->w != src->w || out->h != src->h || out->c != 3 || !out->data))
        rc = aspire_error(ASPIRE_ERR_BACKEND, "replacer %s returned a %dx%dx%d image for a %dx%d one", r->backend->name,
                          out->w, out->h, out->c, src->w, src->h);
    for (int64_t p = 0; !rc && p < (int64_t)src->w * src->h; p++)
        if (fg[p]) memcpy(out->data + 3 * p, src->data + 3 * p, 3);
    aspire_image_destroy(&tmp);
    if (rc) aspire_image_destroy(out);
    return rc;
}

/* ---- the plate backend ----------------------------------------------------------------------- */
typedef struct plates {
    aspire_plate_bank *bank;
    aspire_extractor *ex;  /* WordNet, made on first need (an alternative no plate is tagged with) */
    int seam;
    int *cand;             /* scratch: candidate plates */
} plates;

static void plates_free(void *impl) {
    plates *p = impl;
    if (!p) return;
    aspire_plate_bank_free(p->bank);
    aspire_extractor_free(p->ex);
    aspire_free(p->cand, 0);
    aspire_free(p, sizeof *p);
}

/* The plates tagged with `alt` (case-insensitive), else those of its kind. */
static int candidates(plates *p, const char *alt, int *n) {
    *n = 0;
    const aspire_plate_bank *b = p->bank;
    for (int i = 0; i < b->n; i++)
        if (strcasecmp(b->phrase[i], alt) == 0) p->cand[(*n)++] = i;
    if (*n) return ASPIRE_OK;
    if (!p->ex) {
        const char *classes[] = {"bird"};
        int rc = aspire_extractor_new_wordnet(classes, 1, &p->ex);
        if (rc) return rc;
    }
    int kind;
    int rc = aspire_background_kind(p->ex, alt, &kind);
    if (rc) return rc;
    for (int i = 0; kind >= 0 && i < b->n; i++)
        if (b->kind[i] == kind) p->cand[(*n)++] = i;
    if (!*n)
        return aspire_error(ASPIRE_ERR_NOTFOUND, "no background plate is tagged '%s' or of its kind (%s)", alt,
                            kind == 1 ? "water" : kind == 0 ? "land" : "unknown to WordNet");
    return ASPIRE_OK;
}

/* Feathers the seam: a background pixel within `r` px of the foreground takes a share of the
 * original pixel that falls from 1/2 next to the foreground to 0 at r + 1 px (chessboard distance). */
static void feather(const aspire_image *img, const uint8_t *fg, int r, aspire_image *out) {
    const int w = img->w, h = img->h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int64_t i = (int64_t)y * w + x;
            if (fg[i]) continue;
            int d = r + 1;
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++) {
                    int yy = y + dy, xx = x + dx, dd = abs(dx) > abs(dy) ? abs(dx) : abs(dy);
                    if (yy >= 0 && xx >= 0 && yy < h && xx < w && fg[(int64_t)yy * w + xx] && dd < d) d = dd;
                }
            if (d > r) continue;
            float a = 0.5f * (float)(r + 1 - d) / (float)r;
            for (int ch = 0; ch < 3; ch++) {
                float v = a * img->data[3 * i + ch] + (1.0f - a) * out->data[3 * i + ch];
                out->data[3 * i + ch] = (uint8_t)(v + 0.5f);
            }
        }
}

static int plates_replace(void *impl, const aspire_image *img, const uint8_t *fg, const char *background,
                          const char *alt, uint64_t key, aspire_image *out) {
    (void)background;
    plates *p = impl;
    int n;
    int rc = candidates(p, alt, &n);
    if (rc) return rc;
    uint64_t h = key * 0x9e3779b97f4a7c15ULL;
    const aspire_image *plate = &p->bank->img[p->cand[(h >> 17) % (uint64_t)n]];
    if (plate->w == img->w && plate->h == img->h) {
        if ((rc = aspire_image_init(out, img->w, img->h, 3))) return rc;
        memcpy(out->data, plate->data, (size_t)img->w * img->h * 3);
    } else if ((rc = aspire_image_resize(out, plate, img->w, img->h, ASPIRE_RESIZE_AUTO))) {
        return rc;
    }
    int side = img->w > img->h ? img->w : img->h;
    int r = p->seam > 0 ? (int)(p->seam * side / 64.0 + 0.5) : 0;
    if (p->seam > 0 && r < 1) r = 1;
    if (r > 0) feather(img, fg, r, out);
    return ASPIRE_OK;
}

static const aspire_replacer_backend plate_backend = {"plates", plates_replace, plates_free};

int aspire_replacer_new_plates(const char *dir, int seam, aspire_replacer **out) {
    *out = NULL;
    plates *p = aspire_calloc(1, sizeof *p);
    if (!p) return ASPIRE_ERR_NOMEM;
    p->seam = seam < 0 ? 1 : seam;
    int rc = aspire_plate_bank_load(&p->bank, dir);
    if (!rc && !(p->cand = aspire_malloc(sizeof(int) * (size_t)aspire_plate_bank_count(p->bank)))) rc = ASPIRE_ERR_NOMEM;
    if (rc) { plates_free(p); return rc; }
    return aspire_replacer_new(&plate_backend, p, out);
}
