/* render.c — the glyph cache (FreeType, Noto Color Emoji's one 136×128 BGRA strike) and the
 * compositor: each object is area-resampled from its cached glyph straight into the image
 * (separable box filter with fractional edges, so sub-pixel positions and any size come out
 * exact), colour-jittered and alpha-composited over the painted background in float. */
#include "world/internal.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WORLD_DEFAULT_FONT "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"

/* Opacity from which a pixel counts as fully covered (so that it does not depend on the layer
 * below: float sums of resampling weights land a few ulps short of 1 inside a glyph). */
#define WORLD_OPAQUE 0.99999f

/* ---- Glyph cache ------------------------------------------------------------------------------ */

static int load_glyph(FT_Face face, const char *path, int e, world_glyph *g) {
    uint32_t cp = world_emoji[e].codepoint;
    FT_UInt gi = FT_Get_Char_Index(face, cp);
    if (gi == 0) return aspire_error(ASPIRE_ERR_FORMAT, "%s: no glyph for U+%04X (%s)", path, (unsigned)cp, world_emoji[e].name);
    if (FT_Load_Glyph(face, gi, FT_LOAD_COLOR | FT_LOAD_RENDER))
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: cannot render U+%04X (%s)", path, (unsigned)cp, world_emoji[e].name);
    const FT_Bitmap *b = &face->glyph->bitmap;
    if (b->pixel_mode != FT_PIXEL_MODE_BGRA)
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: U+%04X is not a colour bitmap (pixel mode %d)", path, (unsigned)cp,
                            (int)b->pixel_mode);
    int bw = (int)b->width, bh = (int)b->rows;
    /* Tight box of the non-transparent pixels. */
    int x0 = bw, y0 = bh, x1 = -1, y1 = -1;
    for (int y = 0; y < bh; y++) {
        const uint8_t *row = b->buffer + (ptrdiff_t)y * b->pitch;
        for (int x = 0; x < bw; x++)
            if (row[4 * x + 3]) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
    }
    if (x1 < 0) return aspire_error(ASPIRE_ERR_FORMAT, "%s: U+%04X renders empty", path, (unsigned)cp);
    g->w = x1 - x0 + 1;
    g->h = y1 - y0 + 1;
    g->rgba = aspire_malloc((size_t)g->w * g->h * 4 * sizeof(float));
    if (!g->rgba) return ASPIRE_ERR_NOMEM;
    for (int y = 0; y < g->h; y++) {
        const uint8_t *row = b->buffer + (ptrdiff_t)(y + y0) * b->pitch + 4 * x0;
        float *dst = g->rgba + (size_t)y * g->w * 4;
        for (int x = 0; x < g->w; x++) {
            /* FreeType's BGRA is premultiplied already. */
            dst[4 * x + 0] = row[4 * x + 2] / 255.0f;
            dst[4 * x + 1] = row[4 * x + 1] / 255.0f;
            dst[4 * x + 2] = row[4 * x + 0] / 255.0f;
            dst[4 * x + 3] = row[4 * x + 3] / 255.0f;
        }
    }
    return ASPIRE_OK;
}

int aspire_world_new(aspire_world **out, const char *font_path) {
    *out = NULL;
    const char *path = font_path ? font_path : getenv("ASPIRE_EMOJI_FONT");
    if (!path || !*path) path = WORLD_DEFAULT_FONT;
    aspire_world *w = aspire_calloc(1, sizeof *w);
    if (!w) return ASPIRE_ERR_NOMEM;
    FT_Library lib = NULL;
    FT_Face face = NULL;
    int rc = ASPIRE_OK;
    if (FT_Init_FreeType(&lib)) { rc = aspire_error(ASPIRE_ERR_BACKEND, "FreeType: cannot initialise"); goto done; }
    FT_Error fe = FT_New_Face(lib, path, 0, &face);
    if (fe) {
        rc = aspire_error(fe == FT_Err_Cannot_Open_Resource ? ASPIRE_ERR_IO : ASPIRE_ERR_FORMAT,
                          "%s: cannot open the emoji font (FreeType error %d; Debian package fonts-noto-color-emoji)",
                          path, fe);
        goto done;
    }
    if (face->num_fixed_sizes < 1 || FT_Select_Size(face, 0)) {
        rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: not a colour bitmap font (no bitmap strike)", path);
        goto done;
    }
    for (int e = 0; e < ASPIRE_WORLD_NEMOJI && rc == ASPIRE_OK; e++) {
        rc = load_glyph(face, path, e, &w->glyphs[e]);
        if (rc == ASPIRE_OK && w->glyphs[e].h > w->max_h) w->max_h = w->glyphs[e].h;
    }
done:
    if (face) FT_Done_Face(face);
    if (lib) FT_Done_FreeType(lib);
    if (rc) { aspire_world_free(w); return rc; }
    *out = w;
    return ASPIRE_OK;
}

void aspire_world_free(aspire_world *w) {
    if (!w) return;
    for (int e = 0; e < ASPIRE_WORLD_NEMOJI; e++)
        aspire_free(w->glyphs[e].rgba, (size_t)w->glyphs[e].w * w->glyphs[e].h * 4 * sizeof(float));
    aspire_free(w, sizeof *w);
}

float aspire_world_emoji_aspect(const aspire_world *w, int emoji) {
    ASPIRE_ASSERT(emoji >= 0 && emoji < ASPIRE_WORLD_NEMOJI);
    return (float)w->glyphs[emoji].w / (float)w->glyphs[emoji].h;
}

/* ---- Area resampling --------------------------------------------------------------------------- */

/* Box-filter weights from n_src source cells onto the destination pixels [d0, d0 + n) that the
 * interval [pos, pos + len) (destination units) covers. Destination pixel j gets
 * weight[j * stride + t] for source cell first[j] + t, t < count[j]; the weights of pixel j sum to
 * the fraction of it the interval covers. (A mirrored object reads cell n_src - 1 - i for i.) */
typedef struct box_weights {
    int n, stride;
    int *first, *count;
    float *w;
} box_weights;

static int weights_init(box_weights *bw, int d0, int n, float pos, float len, int n_src) {
    float scale = (float)n_src / len;  /* source cells per destination pixel */
    bw->n = n;
    bw->stride = (int)ceilf(scale) + 2;
    bw->first = aspire_malloc((size_t)n * 2 * sizeof(int));
    bw->w = aspire_malloc((size_t)n * bw->stride * sizeof(float));
    if (!bw->first || !bw->w) {
        aspire_free(bw->first, 0);
        aspire_free(bw->w, 0);
        return ASPIRE_ERR_NOMEM;
    }
    bw->count = bw->first + n;
    for (int j = 0; j < n; j++) {
        float a = fmaxf((float)(d0 + j), pos), b = fminf((float)(d0 + j + 1), pos + len);
        float *wj = bw->w + (size_t)j * bw->stride;
        bw->first[j] = 0;
        bw->count[j] = 0;
        if (b <= a) continue;
        float s0 = (a - pos) * scale, s1 = (b - pos) * scale;
        if (s1 > (float)n_src) s1 = (float)n_src;
        int i0 = (int)floorf(s0), i1 = (int)ceilf(s1);
        if (i0 < 0) i0 = 0;
        if (i1 > n_src) i1 = n_src;
        if (i1 - i0 > bw->stride) i1 = i0 + bw->stride;  /* cannot happen; keeps the writes in bounds */
        for (int i = i0; i < i1; i++) {
            float lo = fmaxf(s0, (float)i), hi = fminf(s1, (float)(i + 1));
            wj[i - i0] = hi > lo ? (hi - lo) / scale : 0.0f;
        }
        bw->first[j] = i0;
        bw->count[j] = i1 - i0;
    }
    return ASPIRE_OK;
}

static void weights_destroy(box_weights *bw) {
    aspire_free(bw->first, (size_t)bw->n * 2 * sizeof(int));
    aspire_free(bw->w, (size_t)bw->n * bw->stride * sizeof(float));
}

/* The pixel range [lo, hi) an interval [pos, pos + len) touches, clipped to [0, size). */
static void pixel_span(float pos, float len, int size, int *lo, int *hi) {
    int a = (int)floorf(pos), b = (int)ceilf(pos + len);
    *lo = a < 0 ? 0 : a > size ? size : a;  /* an object wholly outside gets an empty box at the edge */
    *hi = b > size ? size : b;
    if (*hi < *lo) *hi = *lo;
}

void aspire_world_object_box(const aspire_world_scene *s, int k, int size, int box[4]) {
    ASPIRE_ASSERT(k >= 0 && k < s->nobjects);
    const aspire_world_object *o = &s->objects[k];
    pixel_span(o->x * (float)size, o->w * (float)size, size, &box[0], &box[2]);
    pixel_span(o->y * (float)size, o->h * (float)size, size, &box[1], &box[3]);
}

/* The colour-jitter matrix: brightness × saturation × hue rotation about the grey axis. Linear,
 * so it applies to premultiplied colour as well. */
static void jitter_matrix(const aspire_world_object *o, float m[9]) {
    float th = o->hue * (float)(M_PI / 180.0), c = cosf(th), sn = sinf(th), k = 1.0f / 3.0f;
    float r3 = sn / sqrtf(3.0f);
    float rot[9] = {c + (1 - c) * k, (1 - c) * k - r3, (1 - c) * k + r3,
                    (1 - c) * k + r3, c + (1 - c) * k, (1 - c) * k - r3,
                    (1 - c) * k - r3, (1 - c) * k + r3, c + (1 - c) * k};
    float s = o->sat, v = o->val;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            float acc = 0;
            for (int t = 0; t < 3; t++) acc += ((i == t ? s : 0.0f) + (1 - s) * k) * rot[t * 3 + j];
            m[i * 3 + j] = v * acc;
        }
}

/* Resamples object k into its pixel box: out receives premultiplied RGBA (bh, bw, 4) for the box
 * returned in box[4]. scratch holds glyph-height × size × 4 floats. */
static int resample_object(const aspire_world *w, const aspire_world_object *o, int size, const int box[4],
                           float *scratch, float *out) {
    const world_glyph *g = &w->glyphs[o->emoji];
    int bw = box[2] - box[0], bh = box[3] - box[1];
    if (bw <= 0 || bh <= 0) return ASPIRE_OK;
    box_weights wx, wy;
    if (weights_init(&wx, box[0], bw, o->x * (float)size, o->w * (float)size, g->w)) return ASPIRE_ERR_NOMEM;
    if (weights_init(&wy, box[1], bh, o->y * (float)size, o->h * (float)size, g->h)) {
        weights_destroy(&wx);
        return ASPIRE_ERR_NOMEM;
    }
    /* Only the source rows some destination row reads. */
    int r_lo = g->h, r_hi = 0;
    for (int j = 0; j < bh; j++)
        if (wy.count[j]) {
            if (wy.first[j] < r_lo) r_lo = wy.first[j];
            if (wy.first[j] + wy.count[j] > r_hi) r_hi = wy.first[j] + wy.count[j];
        }
    /* Horizontal pass: scratch (rows r_lo..r_hi, bw, 4). */
    for (int r = r_lo; r < r_hi; r++) {
        const float *src = g->rgba + (size_t)r * g->w * 4;
        float *dst = scratch + (size_t)(r - r_lo) * bw * 4;
        for (int j = 0; j < bw; j++) {
            float acc[4] = {0, 0, 0, 0};
            const float *wj = wx.w + (size_t)j * wx.stride;
            int i0 = wx.first[j], n = wx.count[j];
            for (int t = 0; t < n; t++) {
                int col = o->flip ? g->w - 1 - (i0 + t) : i0 + t;
                const float *p = src + (size_t)col * 4;
                for (int ch = 0; ch < 4; ch++) acc[ch] += wj[t] * p[ch];
            }
            memcpy(dst + 4 * j, acc, sizeof acc);
        }
    }
    /* Vertical pass and colour jitter. */
    float m[9];
    jitter_matrix(o, m);
    for (int i = 0; i < bh; i++) {
        const float *wi = wy.w + (size_t)i * wy.stride;
        int r0 = wy.first[i], n = wy.count[i];
        for (int j = 0; j < bw; j++) {
            float acc[4] = {0, 0, 0, 0};
            for (int t = 0; t < n; t++) {
                const float *p = scratch + ((size_t)(r0 + t - r_lo) * bw + j) * 4;
                for (int ch = 0; ch < 4; ch++) acc[ch] += wi[t] * p[ch];
            }
            float *px = out + ((size_t)i * bw + j) * 4;
            float a = acc[3] > 1.0f ? 1.0f : acc[3];
            for (int ch = 0; ch < 3; ch++) {
                float v = m[ch * 3 + 0] * acc[0] + m[ch * 3 + 1] * acc[1] + m[ch * 3 + 2] * acc[2];
                px[ch] = v < 0 ? 0 : v > a ? a : v;
            }
            px[3] = a;
        }
    }
    weights_destroy(&wx);
    weights_destroy(&wy);
    return ASPIRE_OK;
}

/* ---- Scenes ------------------------------------------------------------------------------------ */

typedef struct render_scratch {
    float *rows;   /* (max glyph height, size, 4) */
    float *obj;    /* (size, size, 4) */
    size_t nrows, nobj;
} render_scratch;

static int scratch_init(render_scratch *sc, const aspire_world *w, int size) {
    sc->nrows = (size_t)w->max_h * size * 4;
    sc->nobj = (size_t)size * size * 4;
    sc->rows = aspire_malloc(sc->nrows * sizeof(float));
    sc->obj = aspire_malloc(sc->nobj * sizeof(float));
    if (!sc->rows || !sc->obj) {
        aspire_free(sc->rows, sc->nrows * sizeof(float));
        aspire_free(sc->obj, sc->nobj * sizeof(float));
        return ASPIRE_ERR_NOMEM;
    }
    return ASPIRE_OK;
}

static void scratch_destroy(render_scratch *sc) {
    aspire_free(sc->rows, sc->nrows * sizeof(float));
    aspire_free(sc->obj, sc->nobj * sizeof(float));
}

static void check_scene(const aspire_world_scene *s) {
    ASPIRE_ASSERT(s->background >= 0 && s->background < ASPIRE_WORLD_NBACKGROUNDS);
    ASPIRE_ASSERT(s->nobjects >= 0 && s->nobjects <= ASPIRE_WORLD_MAX_OBJECTS);
    ASPIRE_ASSERT(s->bird >= -1 && s->bird < s->nobjects);
    for (int k = 0; k < s->nobjects; k++) {
        const aspire_world_object *o = &s->objects[k];
        ASPIRE_ASSERT(o->emoji >= 0 && o->emoji < ASPIRE_WORLD_NEMOJI);
        ASPIRE_ASSERT(o->w > 0 && o->h > 0 && isfinite(o->x) && isfinite(o->y), "(object %d)", k);
    }
}

int world_render_over(const aspire_world *w, const aspire_world_scene *s, int size, const float *background,
                      uint8_t *rgb, uint8_t *labels) {
    check_scene(s);
    size_t npix = (size_t)size * size;
    float *img = aspire_malloc(npix * 3 * sizeof(float));
    if (!img) return ASPIRE_ERR_NOMEM;
    memcpy(img, background, npix * 3 * sizeof(float));
    if (labels) memset(labels, 0, npix);
    render_scratch sc;
    if (scratch_init(&sc, w, size)) { aspire_free(img, npix * 3 * sizeof(float)); return ASPIRE_ERR_NOMEM; }
    int rc = ASPIRE_OK;
    for (int k = 0; k < s->nobjects && rc == ASPIRE_OK; k++) {
        int box[4];
        aspire_world_object_box(s, k, size, box);
        rc = resample_object(w, &s->objects[k], size, box, sc.rows, sc.obj);
        int bw = box[2] - box[0];
        for (int y = box[1]; y < box[3] && rc == ASPIRE_OK; y++)
            for (int x = box[0]; x < box[2]; x++) {
                const float *src = sc.obj + ((size_t)(y - box[1]) * bw + (x - box[0])) * 4;
                float *dst = img + ((size_t)y * size + x) * 3;
                float a = src[3];
                if (a <= 0.0f) continue;
                if (a >= WORLD_OPAQUE) {
                    dst[0] = src[0]; dst[1] = src[1]; dst[2] = src[2];
                } else {
                    for (int ch = 0; ch < 3; ch++) dst[ch] = src[ch] + (1.0f - a) * dst[ch];
                }
                if (labels && a >= 0.5f) labels[(size_t)y * size + x] = (uint8_t)(k + 1);
            }
    }
    scratch_destroy(&sc);
    for (size_t i = 0; i < npix * 3; i++) {
        float v = img[i] * 255.0f + 0.5f;
        rgb[i] = !(v > 0.0f) ? 0 : v >= 255.0f ? 255 : (uint8_t)v;  /* NaN: 0, never UB */
    }
    aspire_free(img, npix * 3 * sizeof(float));
    return rc;
}

int aspire_world_render(const aspire_world *w, const aspire_world_scene *s, int size, uint8_t *rgb, uint8_t *labels) {
    ASPIRE_ASSERT(size > 0);
    size_t n = (size_t)size * size * 3;
    float *bg = aspire_malloc(n * sizeof(float));
    if (!bg) return ASPIRE_ERR_NOMEM;
    aspire_world_paint_background(s->background, s->bg_seed, size, bg);
    int rc = world_render_over(w, s, size, bg, rgb, labels);
    aspire_free(bg, n * sizeof(float));
    return rc;
}

int aspire_world_object_coverage(const aspire_world *w, const aspire_world_scene *s, int k, int size, float *cov) {
    check_scene(s);
    ASPIRE_ASSERT(k >= 0 && k < s->nobjects);
    memset(cov, 0, (size_t)size * size * sizeof(float));
    render_scratch sc;
    if (scratch_init(&sc, w, size)) return ASPIRE_ERR_NOMEM;
    int box[4];
    aspire_world_object_box(s, k, size, box);
    int rc = resample_object(w, &s->objects[k], size, box, sc.rows, sc.obj);
    int bw = box[2] - box[0];
    for (int y = box[1]; y < box[3] && rc == ASPIRE_OK; y++)
        for (int x = box[0]; x < box[2]; x++)
            cov[(size_t)y * size + x] = sc.obj[((size_t)(y - box[1]) * bw + (x - box[0])) * 4 + 3];
    scratch_destroy(&sc);
    return rc;
}
