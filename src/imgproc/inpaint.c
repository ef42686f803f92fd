/* inpaint.c — the inpainter object: a backend table (classical Telea, the learned U-Net, or any
 * other), the guarantee that pixels outside the mask come back bit-exact, and mask helpers. */
#include "aspire/inpaint.h"

#include "aspire/fileio.h"

#include <string.h>

struct aspire_inpainter {
    const aspire_inpainter_backend *backend;
    void *impl;
};

int aspire_inpainter_new(const aspire_inpainter_backend *backend, void *impl, aspire_inpainter **out) {
    *out = NULL;
    aspire_inpainter *inp = aspire_calloc(1, sizeof *inp);
    if (!inp) {
        if (backend->free) backend->free(impl);
        return ASPIRE_ERR_NOMEM;
    }
    inp->backend = backend;
    inp->impl = impl;
    *out = inp;
    return ASPIRE_OK;
}

void aspire_inpainter_free(aspire_inpainter *inp) {
    if (!inp) return;
    if (inp->backend->free) inp->backend->free(inp->impl);
    aspire_free(inp, sizeof *inp);
}

const char *aspire_inpainter_name(const aspire_inpainter *inp) { return inp->backend->name; }

/* ---- classical backend ----------------------------------------------------------------------- */
static int classical_fill(void *impl, const aspire_image *imgs, const uint8_t *const *masks, int n, aspire_image *outs) {
    int radius = (int)(intptr_t)impl;
    for (int i = 0; i < n; i++) {
        int rc = aspire_inpaint_telea(&imgs[i], masks[i], radius, &outs[i]);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

static const aspire_inpainter_backend classical_backend = {"telea", classical_fill, NULL};

int aspire_inpainter_new_classical(int radius, aspire_inpainter **out) {
    return aspire_inpainter_new(&classical_backend, (void *)(intptr_t)radius, out);
}

/* ---- learned backend ------------------------------------------------------------------------- */
typedef struct learned {
    aspire_inpaint_model *m;
    aspire_ctx *ctx;
    int batch;
    float *x;        /* batch * S*S*4 */
    uint8_t *rgb;    /* S*S*3 scratch */
    uint8_t *hole;   /* S*S scratch */
} learned;

static void learned_free(void *impl) {
    learned *l = impl;
    if (!l) return;
    aspire_inpaint_model_free(l->m);
    aspire_ctx_free(l->ctx);
    aspire_free(l->x, 0);
    aspire_free(l->rgb, 0);
    aspire_free(l->hole, 0);
    aspire_free(l, sizeof *l);
}

/* Image i at the model's size: its pixels (resized where needed) and its hole (any source pixel). */
static int learned_input(learned *l, const aspire_image *img, const uint8_t *mask, float *dst) {
    const int S = aspire_inpaint_model_config(l->m)->image_size;
    const uint8_t *rgb = img->data;
    aspire_image small = {0};
    if (img->w != S || img->h != S) {
        int rc = aspire_image_resize(&small, img, S, S, ASPIRE_RESIZE_AUTO);
        if (rc) return rc;
        rgb = small.data;
    }
    aspire_inpaint_mask_resize(mask, img->w, img->h, l->hole, S, S);
    aspire_inpaint_model_input(S, rgb, l->hole, dst);
    aspire_image_destroy(&small);
    return ASPIRE_OK;
}

/* The prediction for one image (S*S*3 floats, scaled) back at the image's size into out. */
static int learned_output(learned *l, const float *pred, const aspire_image *img, aspire_image *out) {
    const int S = aspire_inpaint_model_config(l->m)->image_size;
    aspire_image small = {S, S, 3, l->rgb};
    aspire_image_from_float(&small, pred, (const float[]){0.5f, 0.5f, 0.5f}, (const float[]){0.25f, 0.25f, 0.25f});
    if (img->w == S && img->h == S) {
        int rc = aspire_image_init(out, S, S, 3);
        if (!rc) memcpy(out->data, l->rgb, (size_t)S * S * 3);
        return rc;
    }
    return aspire_image_resize(out, &small, img->w, img->h, ASPIRE_RESIZE_AUTO);
}

static int learned_fill_batches(learned *l, const aspire_image *imgs, const uint8_t *const *masks, int n,
                                aspire_image *outs) {
    const int S = aspire_inpaint_model_config(l->m)->image_size;
    const size_t px = (size_t)S * S;
    for (int i0 = 0; i0 < n; i0 += l->batch) {
        int nb = n - i0 < l->batch ? n - i0 : l->batch;
        for (int b = 0; b < nb; b++) {
            int rc = learned_input(l, &imgs[i0 + b], masks[i0 + b], l->x + (size_t)b * px * 4);
            if (rc) return rc;
        }
        aspire_ctx_reset(l->ctx);
        aspire_tensor *x = aspire_tensor_from(l->ctx, 4, (int64_t[]){nb, S, S, 4}, l->x);
        aspire_tensor *y = aspire_inpaint_model_forward(l->ctx, l->m, x);
        if (!y) return ASPIRE_ERR_NOMEM;
        for (int b = 0; b < nb; b++) {
            int rc = learned_output(l, y->data + (size_t)b * px * 3, &imgs[i0 + b], &outs[i0 + b]);
            if (rc) return rc;
        }
    }
    aspire_ctx_reset(l->ctx);
    return ASPIRE_OK;
}

/* Runs with the calling thread's team set to the inpainter's thread count (restored afterwards). */
static int learned_fill(void *impl, const aspire_image *imgs, const uint8_t *const *masks, int n, aspire_image *outs) {
    learned *l = impl;
    int prev = aspire_threads_enter(aspire_ctx_get_options(l->ctx)->threads);
    int rc = learned_fill_batches(l, imgs, masks, n, outs);
    aspire_threads_leave(prev);
    return rc;
}

static const aspire_inpainter_backend learned_backend = {"unet", learned_fill, learned_free};

int aspire_inpainter_new_model(aspire_inpaint_model *m, int threads, int batch, aspire_inpainter **out) {
    *out = NULL;
    learned *l = aspire_calloc(1, sizeof *l);
    if (!l) { aspire_inpaint_model_free(m); return ASPIRE_ERR_NOMEM; }
    l->m = m;
    l->batch = batch > 0 ? batch : 64;
    const size_t S = (size_t)aspire_inpaint_model_config(m)->image_size;
    int rc = aspire_ctx_new(&l->ctx, &(aspire_ctx_options){.threads = threads, .seed = 0});
    l->x = aspire_malloc(sizeof(float) * S * S * 4 * (size_t)l->batch);
    l->rgb = aspire_malloc(S * S * 3);
    l->hole = aspire_malloc(S * S);
    if (!rc && (!l->x || !l->rgb || !l->hole)) rc = ASPIRE_ERR_NOMEM;
    if (rc) { learned_free(l); return rc; }
    aspire_ctx_set_training(l->ctx, 0);
    aspire_ctx_set_recording(l->ctx, 0);
    return aspire_inpainter_new(&learned_backend, l, out);
}

int aspire_inpainter_new_learned(const char *path, int threads, int batch, aspire_inpainter **out) {
    *out = NULL;
    aspire_inpaint_model *m = NULL;
    int rc = aspire_inpaint_model_load(&m, path, NULL);
    return rc ? rc : aspire_inpainter_new_model(m, threads, batch, out);
}

int aspire_inpainter_new_default(const char *path, int threads, aspire_inpainter **out) {
    char buf[4096];
    if (!path) path = aspire_inpaint_default_model(NULL, buf, sizeof buf);
    if (aspire_file_exists(path)) return aspire_inpainter_new_learned(path, threads, 0, out);
    return aspire_inpainter_new_classical(0, out);
}

/* ---- running --------------------------------------------------------------------------------- */
/* Copies every pixel outside the mask from src into out (both RGB, same size). */
static void keep_outside(const aspire_image *src, const uint8_t *mask, aspire_image *out) {
    const int64_t n = (int64_t)src->w * src->h;
    for (int64_t i = 0; i < n; i++)
        if (!mask[i]) memcpy(out->data + 3 * i, src->data + 3 * i, 3);
}

static int check_outputs(const aspire_inpainter *inp, const aspire_image *in, const aspire_image *out) {
    if (out->w != in->w || out->h != in->h || out->c != 3 || !out->data)
        return aspire_error(ASPIRE_ERR_BACKEND, "inpainter %s returned a %dx%dx%d image for a %dx%d one",
                            inp->backend->name, out->w, out->h, out->c, in->w, in->h);
    return ASPIRE_OK;
}

int aspire_inpainter_run(aspire_inpainter *inp, const aspire_image *imgs, const uint8_t *const *masks, int n,
                         aspire_image *outs) {
    if (n < 0) return aspire_error(ASPIRE_ERR_ARG, "inpainter: %d images", n);
    for (int i = 0; i < n; i++) memset(&outs[i], 0, sizeof outs[i]);
    aspire_image *rgb = aspire_calloc((size_t)(n ? n : 1), sizeof *rgb);
    if (!rgb) return ASPIRE_ERR_NOMEM;
    int rc = ASPIRE_OK;
    for (int i = 0; !rc && i < n; i++) {  /* RGB copies only where the input is not RGB already */
        if (imgs[i].c == 3) { rgb[i] = imgs[i]; continue; }
        rc = aspire_image_init(&rgb[i], imgs[i].w, imgs[i].h, 3);
        for (int64_t p = 0; !rc && p < (int64_t)imgs[i].w * imgs[i].h; p++)
            for (int ch = 0; ch < 3; ch++)
                rgb[i].data[3 * p + ch] = imgs[i].data[p * imgs[i].c + (imgs[i].c >= 3 ? ch : 0)];
    }
    if (!rc) rc = inp->backend->fill(inp->impl, rgb, masks, n, outs);
    for (int i = 0; !rc && i < n; i++) {
        rc = check_outputs(inp, &rgb[i], &outs[i]);
        if (!rc) keep_outside(&rgb[i], masks[i], &outs[i]);
    }
    for (int i = 0; i < n; i++)
        if (imgs[i].c != 3) aspire_image_destroy(&rgb[i]);
    aspire_free(rgb, 0);
    if (rc)
        for (int i = 0; i < n; i++) aspire_image_destroy(&outs[i]);
    return rc;
}

/* ---- masks ----------------------------------------------------------------------------------- */
int aspire_inpaint_mask_load(const char *path, int want_w, int want_h, uint8_t **mask, int *w, int *h) {
    *mask = NULL;
    aspire_image img = {0};
    int rc = aspire_image_load(&img, path, 0);
    if (rc) return rc;
    if ((want_w || want_h) && (img.w != want_w || img.h != want_h)) {
        rc = aspire_error(ASPIRE_ERR_ARG, "%s: the mask is %dx%d, the image %dx%d", path, img.w, img.h, want_w, want_h);
        aspire_image_destroy(&img);
        return rc;
    }
    const int64_t n = (int64_t)img.w * img.h;
    uint8_t *m = aspire_malloc((size_t)(n ? n : 1));
    if (!m) { aspire_image_destroy(&img); return ASPIRE_ERR_NOMEM; }
    for (int64_t i = 0; i < n; i++) m[i] = img.data[i * img.c] != 0;
    if (w) *w = img.w;
    if (h) *h = img.h;
    aspire_image_destroy(&img);
    *mask = m;
    return ASPIRE_OK;
}

void aspire_inpaint_mask_resize(const uint8_t *src, int w, int h, uint8_t *dst, int w2, int h2) {
    for (int y = 0; y < h2; y++) {
        int y0 = (int)((int64_t)y * h / h2), y1 = (int)(((int64_t)y + 1) * h + h2 - 1) / h2;
        for (int x = 0; x < w2; x++) {
            int x0 = (int)((int64_t)x * w / w2), x1 = (int)(((int64_t)x + 1) * w + w2 - 1) / w2;
            uint8_t v = 0;
            for (int sy = y0; sy < y1 && !v; sy++)
                for (int sx = x0; sx < x1 && !v; sx++) v = src[(int64_t)sy * w + sx] != 0;
            dst[(int64_t)y * w2 + x] = v;
        }
    }
}
