/* segmenter.c — the segmenter object (a backend behind a table of functions) and the built-in
 * backend over the U-Net of segnet.c: probabilities at 64 × 64, resized bilinearly to the image's
 * size, thresholded; a phrase is present when its mask is large and confident enough. */
#include "models/segnet_internal.h"

#include "aspire/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct aspire_segmenter {
    const aspire_segmenter_backend *backend;
    void *impl;
};

void aspire_segment_destroy(aspire_segment *s) {
    if (!s) return;
    aspire_free(s->mask, (size_t)s->w * s->h);
    memset(s, 0, sizeof *s);
}

int aspire_segmenter_new(const aspire_segmenter_backend *backend, void *impl, aspire_segmenter **out) {
    *out = NULL;
    aspire_segmenter *seg = aspire_calloc(1, sizeof *seg);
    if (!seg) {
        if (backend->free) backend->free(impl);
        return ASPIRE_ERR_NOMEM;
    }
    seg->backend = backend;
    seg->impl = impl;
    *out = seg;
    return ASPIRE_OK;
}

void aspire_segmenter_free(aspire_segmenter *seg) {
    if (!seg) return;
    if (seg->backend->free) seg->backend->free(seg->impl);
    aspire_free(seg, sizeof *seg);
}

const char *aspire_segmenter_backend_name(const aspire_segmenter *seg) { return seg->backend->name; }

const char *aspire_segmenter_default_model(const char *models_dir, char *buf, size_t n) {
    return aspire_model_path(models_dir, "segmenter.safetensors", buf, n);
}

int aspire_segmenter_segment(aspire_segmenter *seg, const aspire_image *images, int n, const char *phrase, int dilate,
                             aspire_segment *out) {
    for (int i = 0; i < n; i++) memset(&out[i], 0, sizeof out[i]);
    if (!phrase || !phrase[0]) return aspire_error(ASPIRE_ERR_ARG, "segmenter: empty phrase");
    for (int i = 0; i < n; i++)
        if (images[i].c != 3 || images[i].w < 1 || images[i].h < 1 || !images[i].data)
            return aspire_error(ASPIRE_ERR_ARG, "segmenter: image %d is %dx%d with %d channels (RGB needed)", i,
                                images[i].w, images[i].h, images[i].c);
    int rc = seg->backend->segment(seg->impl, images, n, phrase, out);
    for (int i = 0; !rc && i < n; i++) {
        aspire_segment *s = &out[i];
        if (!s->present) { memset(s->mask, 0, (size_t)s->w * s->h); continue; }
        int r = dilate < 0 ? aspire_mask_default_radius(s->w, s->h) : dilate;
        rc = aspire_mask_dilate(s->mask, s->w, s->h, r);
        s->area = aspire_mask_box(s->mask, s->w, s->h, &s->box);
    }
    return rc;
}

int aspire_segmenter_resolve(aspire_segmenter *seg, const char *phrase, char **meaning) {
    *meaning = NULL;
    if (!phrase || !phrase[0]) return aspire_error(ASPIRE_ERR_ARG, "segmenter: empty phrase");
    if (seg->backend->resolve) return seg->backend->resolve(seg->impl, phrase, meaning);
    *meaning = aspire_strdup(phrase);
    return *meaning ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
}

/* ---- the built-in backend ------------------------------------------------------------------ */

typedef struct builtin {
    aspire_segnet *net;
    aspire_ctx *ctx;
    float *prob;       /* CHUNK × S × S */
    float *big;        /* one image's probabilities at its own size */
    size_t nbig;
} builtin;

#define CHUNK 64

/* Bilinear (align_corners = false) resize of a probability map. */
static void resize_prob(float *dst, int dw, int dh, const float *src, int S) {
    for (int y = 0; y < dh; y++) {
        float fy = ((float)y + 0.5f) * (float)S / (float)dh - 0.5f;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < S ? y0 + 1 : S - 1;
        float wy = fy - (float)y0;
        for (int x = 0; x < dw; x++) {
            float fx = ((float)x + 0.5f) * (float)S / (float)dw - 0.5f;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < S ? x0 + 1 : S - 1;
            float wx = fx - (float)x0;
            float top = src[y0 * S + x0] * (1 - wx) + src[y0 * S + x1] * wx;
            float bot = src[y1 * S + x0] * (1 - wx) + src[y1 * S + x1] * wx;
            dst[(size_t)y * dw + x] = top * (1 - wy) + bot * wy;
        }
    }
}

/* One image's result from its S × S probabilities. */
static int finish_one(builtin *b, const float *p, const aspire_image *im, aspire_segment *s) {
    const int S = b->net->cfg.image_size;
    const aspire_segnet_thresholds th = b->net->th;
    float peak = 0;
    int area = 0;
    for (int i = 0; i < S * S; i++) {
        peak = p[i] > peak ? p[i] : peak;
        area += p[i] >= th.pixel;
    }
    s->w = im->w;
    s->h = im->h;
    s->score = peak;
    s->present = area >= th.min_area && area > 0 && peak >= th.min_peak;
    size_t np = (size_t)im->w * im->h;
    if (!(s->mask = aspire_calloc(np, 1))) return ASPIRE_ERR_NOMEM;
    if (im->w == S && im->h == S) {
        for (size_t i = 0; i < np; i++) s->mask[i] = p[i] >= th.pixel ? ASPIRE_MASK_ON : 0;
        return ASPIRE_OK;
    }
    if (np > b->nbig) {
        aspire_free(b->big, b->nbig * sizeof(float));
        b->nbig = 0;
        if (!(b->big = aspire_malloc(np * sizeof(float)))) return ASPIRE_ERR_NOMEM;
        b->nbig = np;
    }
    resize_prob(b->big, im->w, im->h, p, S);
    for (size_t i = 0; i < np; i++) s->mask[i] = b->big[i] >= th.pixel ? ASPIRE_MASK_ON : 0;
    return ASPIRE_OK;
}

/* Runs with the calling thread's team set to the segmenter's thread count (restored afterwards). */
static int builtin_segment(void *impl, const aspire_image *images, int n, const char *phrase, aspire_segment *out) {
    builtin *b = impl;
    uint64_t set = 0;
    int rc = aspire_segnet_resolve(b->net, phrase, &set, NULL, 0);
    const size_t S2 = (size_t)b->net->cfg.image_size * b->net->cfg.image_size;
    int prev = aspire_threads_enter(aspire_ctx_get_options(b->ctx)->threads);
    for (int start = 0; !rc && start < n; start += CHUNK) {
        int nb = n - start < CHUNK ? n - start : CHUNK;
        rc = aspire_segnet_probs(b->ctx, b->net, images + start, nb, set, b->prob);
        for (int i = 0; !rc && i < nb; i++) rc = finish_one(b, b->prob + i * S2, &images[start + i], &out[start + i]);
    }
    aspire_threads_leave(prev);
    return rc;
}

static int builtin_resolve(void *impl, const char *phrase, char **meaning) {
    builtin *b = impl;
    uint64_t set = 0;
    char how[512];
    int rc = aspire_segnet_resolve(b->net, phrase, &set, how, sizeof how);
    if (rc) return rc;
    char buf[1024];
    size_t k = (size_t)snprintf(buf, sizeof buf, "%s = {", how);
    for (int c = 0, first = 1; c < b->net->nconcepts && k < sizeof buf; c++)
        if (set >> c & 1) { k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", first ? "" : ", ", b->net->concepts[c]); first = 0; }
    if (k < sizeof buf) snprintf(buf + k, sizeof buf - k, "}");
    *meaning = aspire_strdup(buf);
    return *meaning ? ASPIRE_OK : ASPIRE_ERR_NOMEM;
}

static void builtin_free(void *impl) {
    builtin *b = impl;
    if (!b) return;
    aspire_segnet_free(b->net);
    aspire_ctx_free(b->ctx);
    aspire_free_aligned(b->prob);
    aspire_free(b->big, b->nbig * sizeof(float));
    aspire_free(b, sizeof *b);
}

static const aspire_segmenter_backend builtin_backend = {
    .name = "builtin-unet",
    .segment = builtin_segment,
    .resolve = builtin_resolve,
    .free = builtin_free,
};

int aspire_segmenter_from_segnet(aspire_segmenter **out, aspire_segnet *net, int threads) {
    *out = NULL;
    builtin *b = aspire_calloc(1, sizeof *b);
    if (!b) { aspire_segnet_free(net); return ASPIRE_ERR_NOMEM; }
    b->net = net;
    aspire_ctx_options co = {.threads = threads};
    int rc = aspire_ctx_new(&b->ctx, &co);
    size_t S2 = (size_t)net->cfg.image_size * net->cfg.image_size;
    if (!rc && !(b->prob = aspire_malloc_aligned(CHUNK * S2 * sizeof(float)))) rc = ASPIRE_ERR_NOMEM;
    if (rc) { builtin_free(b); return rc; }
    return aspire_segmenter_new(&builtin_backend, b, out);
}

int aspire_segmenter_open(aspire_segmenter **out, const char *path, int threads) {
    *out = NULL;
    aspire_segnet *net = NULL;
    char buf[4096];
    int rc = aspire_segnet_load(&net, path ? path : aspire_segmenter_default_model(NULL, buf, sizeof buf), NULL);
    if (rc) return rc;
    return aspire_segmenter_from_segnet(out, net, threads);
}
