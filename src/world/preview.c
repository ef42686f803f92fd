/* preview.c — the world's contact sheet: one labelled row of samples per (class, background)
 * group, or per Waterbirds group (class, place). Labels are drawn with stb_easy_font's quads
 * (libstb-dev), rasterised here. */
#include "world/internal.h"

#include "aspire/image.h"

#include <stdio.h>
#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

#define TEXT_SCALE 2
#define PAD 2

/* Draws text with its top-left corner at (x, y), each font unit TEXT_SCALE pixels. */
static void draw_text(aspire_image *img, int x, int y, const char *text, const uint8_t color[3]) {
    char vbuf[40000];  /* 64 bytes a quad; a label of 60 characters needs at most ~30 KB */
    char copy[64];
    snprintf(copy, sizeof copy, "%s", text);
    int nq = stb_easy_font_print(0, 0, copy, NULL, vbuf, sizeof vbuf);
    for (int q = 0; q < nq; q++) {
        const float *v0 = (const float *)(vbuf + q * 64), *v2 = (const float *)(vbuf + q * 64 + 32);
        int x0 = x + (int)(v0[0] * TEXT_SCALE), y0 = y + (int)(v0[1] * TEXT_SCALE);
        int x1 = x + (int)(v2[0] * TEXT_SCALE), y1 = y + (int)(v2[1] * TEXT_SCALE);
        for (int yy = y0 < 0 ? 0 : y0; yy < y1 && yy < img->h; yy++)
            for (int xx = x0 < 0 ? 0 : x0; xx < x1 && xx < img->w; xx++) memcpy(img->data + ((size_t)yy * img->w + xx) * 3, color, 3);
    }
}

void aspire_world_preview_opts_default(aspire_world_preview_opts *o) {
    memset(o, 0, sizeof *o);
    o->size = 64;
    o->cols = 8;
    aspire_world_style_default(&o->style);
}

int aspire_world_preview_render(const aspire_world *w, const aspire_world_preview_opts *o, aspire_image *sheet) {
    memset(sheet, 0, sizeof *sheet);
    if (o->size < 16 || o->size > 512) return aspire_error(ASPIRE_ERR_ARG, "tile size %d outside 16..512", o->size);
    if (o->cols < 1 || o->cols > 64) return aspire_error(ASPIRE_ERR_ARG, "%d columns outside 1..64", o->cols);
    int rc = world_check_style(&o->style);  /* what the dataset writers refuse, the preview refuses too */
    if (rc) return rc;
    int rows = o->by_place ? 4 : 2 * ASPIRE_WORLD_NBACKGROUNDS;
    int label_w = 124 * TEXT_SCALE / 2 + 8, title_h = 14 * TEXT_SCALE / 2 + 10;
    int tile = o->size + PAD;
    int W = label_w + o->cols * tile + PAD, H = title_h + rows * tile + PAD + 6;
    rc = aspire_image_init(sheet, W, H, 3);
    if (rc) return rc;
    memset(sheet->data, 250, (size_t)W * H * 3);
    uint8_t *tile_px = aspire_malloc((size_t)o->size * o->size * 3);
    if (!tile_px) { aspire_image_destroy(sheet); return ASPIRE_ERR_NOMEM; }
    static const uint8_t ink[3] = {30, 30, 40}, water_ink[3] = {20, 70, 160}, land_ink[3] = {90, 110, 30};
    char title[96];
    snprintf(title, sizeof title, "aspire world, seed %llu, %dx%d", (unsigned long long)o->seed, o->size, o->size);
    draw_text(sheet, 6, 5, title, ink);
    aspire_rng root;
    aspire_rng_seed(&root, o->seed);
    for (int row = 0; row < rows; row++) {
        int y = row / (rows / 2);           /* landbirds first, then waterbirds */
        int sub = row % (rows / 2);         /* background, or place (0 land, 1 water) */
        int oy = title_h + row * tile + (row >= rows / 2 ? 6 : 0);
        char l1[32], l2[32];
        snprintf(l1, sizeof l1, "%s", y ? "waterbird" : "landbird");
        /* Rows: land backgrounds first, then water ones. */
        int bg_fixed = o->by_place ? -1 : sub < 4 ? ASPIRE_WORLD_FOREST + sub : ASPIRE_WORLD_LAKE + sub - 4;
        int water = o->by_place ? sub : aspire_world_background_place(bg_fixed);
        snprintf(l2, sizeof l2, "on %s", o->by_place ? (water ? "water" : "land") : aspire_world_background_name(bg_fixed));
        int oy_text = oy + o->size / 2 - 12 * TEXT_SCALE / 2;
        draw_text(sheet, 6, oy_text, l1, ink);
        draw_text(sheet, 6, oy_text + 11 * TEXT_SCALE, l2, water ? water_ink : land_ink);
        for (int c = 0; c < o->cols; c++) {
            aspire_rng r;
            aspire_rng_fork(&root, (uint64_t)row * 1000 + (uint64_t)c, &r);
            int species = y ? (int)aspire_rng_below(&r, 5) : 5 + (int)aspire_rng_below(&r, 6);
            int bg = bg_fixed >= 0 ? bg_fixed : (water ? ASPIRE_WORLD_LAKE : ASPIRE_WORLD_FOREST) + (int)aspire_rng_below(&r, 4);
            int ctx[2], nctx = (int)aspire_rng_below(&r, 3);
            for (int k = 0; k < nctx; k++) {
                ctx[k] = ASPIRE_WORLD_FIRST_OBJECT + (int)aspire_rng_below(&r, ASPIRE_WORLD_NEMOJI - ASPIRE_WORLD_FIRST_OBJECT);
                if (k == 1 && ctx[1] == ctx[0]) nctx = 1;
            }
            aspire_world_scene s;
            aspire_world_scene_sample(&s, w, &o->style, species, bg, ctx, nctx, &r);
            if ((rc = aspire_world_render(w, &s, o->size, tile_px, NULL))) break;
            int ox = label_w + c * tile;
            for (int yy = 0; yy < o->size; yy++)
                memcpy(sheet->data + ((size_t)(oy + yy) * W + ox) * 3, tile_px + (size_t)yy * o->size * 3, (size_t)o->size * 3);
        }
        if (rc) break;
    }
    aspire_free(tile_px, (size_t)o->size * o->size * 3);
    if (rc) aspire_image_destroy(sheet);
    return rc;
}

int aspire_world_preview_write(const aspire_world_preview_opts *o) {
    if (!o->out || !*o->out) return aspire_error(ASPIRE_ERR_ARG, "no output file");
    aspire_world *w;
    int rc = aspire_world_new(&w, o->font);
    if (rc) return rc;
    aspire_image sheet;
    rc = aspire_world_preview_render(w, o, &sheet);
    if (rc == ASPIRE_OK) rc = aspire_image_save_png(&sheet, o->out);
    aspire_image_destroy(&sheet);
    aspire_world_free(w);
    return rc;
}
