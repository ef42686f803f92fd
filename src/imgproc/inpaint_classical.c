/* inpaint_classical.c — Telea's fast-marching inpainting (A. Telea, "An image inpainting technique
 * based on the fast marching method", J. Graphics Tools 9(1), 2004), written from the paper.
 *
 * The hole is filled from its boundary inwards in order of the arrival time T of a front that
 * starts at the known pixels next to the hole (T = 0) and moves at unit speed (the eikonal
 * equation |∇T| = 1, solved by fast marching with a binary heap). When a hole pixel p is reached it
 * becomes the weighted mean, over the known pixels q within `radius`, of I(q) + ∇I(q)·(p − q), with
 * weights dir · dst · lev: dir = |⟨p − q, ∇T(p)⟩| / |p − q| (favours the normal direction),
 * dst = 1 / |p − q|² and lev = 1 / (1 + |T(q) − T(p)|) (favours pixels near the same level set).
 * Deterministic: heap ties go to the lower pixel index. */
#include "aspire/inpaint.h"

#include <float.h>
#include <math.h>
#include <string.h>

enum { KNOWN = 0, BAND = 1, INSIDE = 2 };
#define T_INF 1.0e6f

typedef struct heap_item { float t; int32_t i; } heap_item;

typedef struct fmm {
    int w, h, c, radius;
    uint8_t *flag;
    float *T;
    float *img;      /* h*w*c working copy in float */
    heap_item *heap; /* binary min-heap with lazy deletion */
    int64_t nheap, cap;
} fmm;

static int item_less(heap_item a, heap_item b) { return a.t < b.t || (a.t == b.t && a.i < b.i); }

static int heap_push(fmm *f, float t, int32_t i) {
    if (f->nheap == f->cap) {
        int64_t nc = f->cap ? 2 * f->cap : 1024;
        heap_item *nh = aspire_realloc(f->heap, (size_t)f->cap * sizeof *nh, (size_t)nc * sizeof *nh);
        if (!nh) return ASPIRE_ERR_NOMEM;
        f->heap = nh;
        f->cap = nc;
    }
    int64_t k = f->nheap++;
    heap_item it = {t, i};
    while (k > 0 && item_less(it, f->heap[(k - 1) / 2])) { f->heap[k] = f->heap[(k - 1) / 2]; k = (k - 1) / 2; }
    f->heap[k] = it;
    return ASPIRE_OK;
}

static heap_item heap_pop(fmm *f) {
    heap_item top = f->heap[0], last = f->heap[--f->nheap];
    int64_t k = 0;
    for (;;) {
        int64_t c = 2 * k + 1;
        if (c >= f->nheap) break;
        if (c + 1 < f->nheap && item_less(f->heap[c + 1], f->heap[c])) c++;
        if (!item_less(f->heap[c], last)) break;
        f->heap[k] = f->heap[c];
        k = c;
    }
    if (f->nheap) f->heap[k] = last;
    return top;
}

/* Arrival time at a pixel from two neighbours along different axes (T_INF where not reached). */
static float solve_pair(float a, float b) {
    if (a >= T_INF && b >= T_INF) return T_INF;
    if (a >= T_INF || b >= T_INF) return (a < b ? a : b) + 1.0f;
    float d = a - b;
    if (fabsf(d) >= 1.0f) return (a < b ? a : b) + 1.0f;
    return 0.5f * (a + b + sqrtf(2.0f - d * d));
}

static float t_at(const fmm *f, int x, int y) {
    if (x < 0 || y < 0 || x >= f->w || y >= f->h) return T_INF;
    int64_t i = (int64_t)y * f->w + x;
    return f->flag[i] == INSIDE ? T_INF : f->T[i];
}

static float arrival(const fmm *f, int x, int y) {
    float tx = fminf(t_at(f, x - 1, y), t_at(f, x + 1, y));
    float ty = fminf(t_at(f, x, y - 1), t_at(f, x, y + 1));
    return solve_pair(tx, ty);
}

/* Gradient along one axis of a per-pixel quantity at (x, y): central where both sides are known,
 * one-sided where one is, else 0. val(i) reads the quantity; ok(i) says it is known. */
static float grad_T(const fmm *f, int x, int y, int dx, int dy) {
    float c = f->T[(int64_t)y * f->w + x];
    float p = t_at(f, x + dx, y + dy), m = t_at(f, x - dx, y - dy);
    if (p < T_INF && m < T_INF) return 0.5f * (p - m);
    if (p < T_INF) return p - c;
    if (m < T_INF) return c - m;
    return 0.0f;
}

static int known_at(const fmm *f, int x, int y) {
    return x >= 0 && y >= 0 && x < f->w && y < f->h && f->flag[(int64_t)y * f->w + x] != INSIDE;
}

static float grad_I(const fmm *f, int x, int y, int ch, int dx, int dy) {
    const float *I = f->img;
    int64_t c = ((int64_t)y * f->w + x) * f->c + ch;
    int kp = known_at(f, x + dx, y + dy), km = known_at(f, x - dx, y - dy);
    int64_t step = ((int64_t)dy * f->w + dx) * f->c;
    if (kp && km) return 0.5f * (I[c + step] - I[c - step]);
    if (kp) return I[c + step] - I[c];
    if (km) return I[c] - I[c - step];
    return 0.0f;
}

/* Fills pixel (x, y) from the known pixels within the radius. */
static void fill_pixel(fmm *f, int x, int y) {
    const int64_t p = (int64_t)y * f->w + x;
    const float gx = grad_T(f, x, y, 1, 0), gy = grad_T(f, x, y, 0, 1), tp = f->T[p];
    const float gn = sqrtf(gx * gx + gy * gy);
    double acc[4] = {0}, wsum = 0.0;
    const int R = f->radius;
    for (int qy = y - R; qy <= y + R; qy++)
        for (int qx = x - R; qx <= x + R; qx++) {
            if (!known_at(f, qx, qy) || (qx == x && qy == y)) continue;
            float rx = (float)(x - qx), ry = (float)(y - qy), d2 = rx * rx + ry * ry;
            if (d2 > (float)(R * R)) continue;
            int64_t q = (int64_t)qy * f->w + qx;
            float dir = gn > 0 ? fabsf(rx * gx + ry * gy) / (sqrtf(d2) * gn) : 1.0f;
            if (dir < 1e-6f) dir = 1e-6f;
            float w = dir / d2 / (1.0f + fabsf(f->T[q] - tp));
            for (int ch = 0; ch < f->c; ch++)
                acc[ch] += w * (f->img[q * f->c + ch] + grad_I(f, qx, qy, ch, 1, 0) * rx + grad_I(f, qx, qy, ch, 0, 1) * ry);
            wsum += w;
        }
    for (int ch = 0; ch < f->c; ch++) {
        float v = wsum > 0 ? (float)(acc[ch] / wsum) : 127.5f;
        f->img[p * f->c + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
}

static int march(fmm *f) {
    static const int nx[4] = {-1, 1, 0, 0}, ny[4] = {0, 0, -1, 1};
    while (f->nheap > 0) {
        heap_item it = heap_pop(f);
        if (f->flag[it.i] == KNOWN) continue;  /* a stale entry */
        f->flag[it.i] = KNOWN;
        int x = it.i % f->w, y = it.i / f->w;
        for (int k = 0; k < 4; k++) {
            int ax = x + nx[k], ay = y + ny[k];
            if (ax < 0 || ay < 0 || ax >= f->w || ay >= f->h) continue;
            int64_t a = (int64_t)ay * f->w + ax;
            if (f->flag[a] != INSIDE) continue;
            f->T[a] = arrival(f, ax, ay);
            fill_pixel(f, ax, ay);
            f->flag[a] = BAND;
            if (heap_push(f, f->T[a], (int32_t)a)) return ASPIRE_ERR_NOMEM;
        }
    }
    return ASPIRE_OK;
}

/* Flags, times and the initial band: known pixels with a hole pixel among their 4 neighbours. */
static int fmm_init(fmm *f, const aspire_image *img, const uint8_t *mask) {
    const int64_t n = (int64_t)f->w * f->h;
    f->flag = aspire_malloc((size_t)n);
    f->T = aspire_malloc(sizeof(float) * (size_t)n);
    f->img = aspire_malloc(sizeof(float) * (size_t)n * f->c);
    if (!f->flag || !f->T || !f->img) return ASPIRE_ERR_NOMEM;
    for (int64_t i = 0; i < n * f->c; i++) f->img[i] = img->data[i];
    for (int64_t i = 0; i < n; i++) {
        f->flag[i] = mask[i] ? INSIDE : KNOWN;
        f->T[i] = mask[i] ? T_INF : 0.0f;
    }
    for (int y = 0; y < f->h; y++)
        for (int x = 0; x < f->w; x++) {
            int64_t i = (int64_t)y * f->w + x;
            if (mask[i]) continue;
            int edge = (x > 0 && mask[i - 1]) || (x + 1 < f->w && mask[i + 1]) || (y > 0 && mask[i - f->w]) ||
                       (y + 1 < f->h && mask[i + f->w]);
            if (edge) {
                f->flag[i] = BAND;
                if (heap_push(f, 0.0f, (int32_t)i)) return ASPIRE_ERR_NOMEM;
            }
        }
    return ASPIRE_OK;
}

int aspire_inpaint_telea(const aspire_image *img, const uint8_t *mask, int radius, aspire_image *out) {
    memset(out, 0, sizeof *out);
    ASPIRE_ASSERT(img->c >= 1 && img->c <= 4 && img->w > 0 && img->h > 0);
    if (radius <= 0) {
        int side = img->w > img->h ? img->w : img->h;
        radius = (int)lrint(5.0 * side / 64.0);
        if (radius < 3) radius = 3;
        if (radius > 16) radius = 16;
    }
    fmm f = {.w = img->w, .h = img->h, .c = img->c, .radius = radius};
    int rc = aspire_image_init(out, img->w, img->h, img->c);
    if (!rc) rc = fmm_init(&f, img, mask);
    if (!rc) rc = march(&f);
    const int64_t n = (int64_t)f.w * f.h;
    if (!rc) {
        int any_known = 0;
        for (int64_t i = 0; i < n && !any_known; i++) any_known = !mask[i];
        for (int64_t i = 0; i < n * f.c; i++) {
            float v = any_known ? f.img[i] : 128.0f;
            out->data[i] = mask[i / f.c] ? (uint8_t)lrintf(v) : img->data[i];
        }
    }
    aspire_free(f.flag, 0);
    aspire_free(f.T, 0);
    aspire_free(f.img, 0);
    aspire_free(f.heap, 0);
    if (rc) aspire_image_destroy(out);
    return rc;
}
