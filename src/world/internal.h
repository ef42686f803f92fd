/* internal.h — what the world's source files share: the glyph cache and the catalogue tables. */
#ifndef ASPIRE_WORLD_INTERNAL_H
#define ASPIRE_WORLD_INTERNAL_H

#include "aspire/world.h"

/* One emoji, cropped to its tight box: premultiplied RGBA floats in [0, 1]. */
typedef struct world_glyph {
    int w, h;
    float *rgba;  /* (h, w, 4) */
} world_glyph;

struct aspire_world {
    world_glyph glyphs[ASPIRE_WORLD_NEMOJI];
    int max_h;    /* tallest glyph, for scratch sizes */
};

/* Where an object may stand in a scene. */
enum { WORLD_PLACE_GROUND, WORLD_PLACE_SKY, WORLD_PLACE_HORIZON, WORLD_PLACE_WATER };

typedef struct world_emoji_info {
    const char *name;
    uint32_t codepoint;
    int cls;        /* bird: 1 waterbird / 0 landbird; object: 1 watery / 0 earthy / -1 neutral */
    int where;      /* WORLD_PLACE_* */
    float size_min, size_max;  /* default size range (longer side, fraction of the image) */
} world_emoji_info;

extern const world_emoji_info world_emoji[ASPIRE_WORLD_NEMOJI];

/* The style's ranges, the same for every writer (task, corpus, preview): ASPIRE_ERR_ARG naming the
 * knob, else ASPIRE_OK. */
int world_check_style(const aspire_world_style *st);

/* The horizon height (fraction of the image from the top) the painter uses for a background
 * and seed, so that objects can be placed on it. */
float world_horizon(int background, uint32_t bg_seed);

/* Composites the scene's objects over a painted background (size*size*3 floats, as
 * aspire_world_paint_background makes it; not modified) into rgb and the optional label map, as
 * aspire_world_render does. Lets a writer paint a background once for several counterfactuals. */
int world_render_over(const aspire_world *w, const aspire_world_scene *s, int size, const float *background,
                      uint8_t *rgb, uint8_t *labels);

#endif
