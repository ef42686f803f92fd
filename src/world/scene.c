/* scene.c — the world's catalogue (emoji, backgrounds), scene sampling (placement, size, flip,
 * colour jitter), counterfactual edits, and scene graphs read back from JSON. */
#include "world/internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- Catalogue --------------------------------------------------------------------------------- */

const world_emoji_info world_emoji[ASPIRE_WORLD_NEMOJI] = {
    {"duck", 0x1F986, 1, WORLD_PLACE_GROUND, 0, 0},
    {"swan", 0x1F9A2, 1, WORLD_PLACE_GROUND, 0, 0},
    {"flamingo", 0x1F9A9, 1, WORLD_PLACE_GROUND, 0, 0},
    {"penguin", 0x1F427, 1, WORLD_PLACE_GROUND, 0, 0},
    {"goose", 0x1FABF, 1, WORLD_PLACE_GROUND, 0, 0},
    {"rooster", 0x1F413, 0, WORLD_PLACE_GROUND, 0, 0},
    {"turkey", 0x1F983, 0, WORLD_PLACE_GROUND, 0, 0},
    {"peacock", 0x1F99A, 0, WORLD_PLACE_GROUND, 0, 0},
    {"parrot", 0x1F99C, 0, WORLD_PLACE_GROUND, 0, 0},
    {"eagle", 0x1F985, 0, WORLD_PLACE_GROUND, 0, 0},
    {"owl", 0x1F989, 0, WORLD_PLACE_GROUND, 0, 0},
    {"sailboat", 0x26F5, 1, WORLD_PLACE_HORIZON, 0.22f, 0.34f},
    {"fish", 0x1F41F, 1, WORLD_PLACE_GROUND, 0.13f, 0.20f},
    {"shell", 0x1F41A, 1, WORLD_PLACE_GROUND, 0.11f, 0.17f},
    {"pine", 0x1F332, 0, WORLD_PLACE_GROUND, 0.28f, 0.44f},
    {"tree", 0x1F333, 0, WORLD_PLACE_GROUND, 0.28f, 0.44f},
    {"sunflower", 0x1F33B, 0, WORLD_PLACE_GROUND, 0.18f, 0.28f},
    {"mushroom", 0x1F344, 0, WORLD_PLACE_GROUND, 0.12f, 0.19f},
    {"cactus", 0x1F335, 0, WORLD_PLACE_GROUND, 0.22f, 0.34f},
    {"sun", 0x2600, -1, WORLD_PLACE_SKY, 0.14f, 0.22f},
    {"cloud", 0x2601, -1, WORLD_PLACE_SKY, 0.18f, 0.30f},
    {"balloon", 0x1F388, -1, WORLD_PLACE_SKY, 0.13f, 0.20f},
};

static const char *const bg_names[ASPIRE_WORLD_NBACKGROUNDS] = {"lake", "ocean", "river", "pond",
                                                                "forest", "field", "desert", "meadow"};

const char *aspire_world_emoji_name(int e) { return e >= 0 && e < ASPIRE_WORLD_NEMOJI ? world_emoji[e].name : NULL; }
uint32_t aspire_world_emoji_codepoint(int e) { return e >= 0 && e < ASPIRE_WORLD_NEMOJI ? world_emoji[e].codepoint : 0; }
int aspire_world_emoji_class(int e) {
    ASPIRE_ASSERT(e >= 0 && e < ASPIRE_WORLD_NEMOJI);
    return world_emoji[e].cls;
}
int aspire_world_emoji_find(const char *name) {
    for (int e = 0; e < ASPIRE_WORLD_NEMOJI; e++)
        if (strcmp(world_emoji[e].name, name) == 0) return e;
    return -1;
}
const char *aspire_world_background_name(int bg) { return bg >= 0 && bg < ASPIRE_WORLD_NBACKGROUNDS ? bg_names[bg] : NULL; }
int aspire_world_background_find(const char *name) {
    for (int b = 0; b < ASPIRE_WORLD_NBACKGROUNDS; b++)
        if (strcmp(bg_names[b], name) == 0) return b;
    return -1;
}
int aspire_world_background_place(int bg) {
    ASPIRE_ASSERT(bg >= 0 && bg < ASPIRE_WORLD_NBACKGROUNDS);
    return bg < ASPIRE_WORLD_FOREST ? 1 : 0;
}

void aspire_world_style_default(aspire_world_style *st) {
    st->bird_min = 0.30f;
    st->bird_max = 0.46f;
    st->object_scale = 1.0f;
    st->jitter = 1.0f;
    st->flip_prob = 0.5f;
}

/* ---- Sampling ---------------------------------------------------------------------------------- */

static inline float unif(aspire_rng *r, float lo, float hi) { return lo + (hi - lo) * (float)aspire_rng_uniform(r); }

static void set_size(const aspire_world *w, aspire_world_object *o, float longer) {
    float a = aspire_world_emoji_aspect(w, o->emoji);
    if (a >= 1) { o->w = longer; o->h = longer / a; }
    else { o->h = longer; o->w = longer * a; }
}

static void jitter(aspire_world_object *o, const aspire_world_style *st, aspire_rng *r) {
    o->flip = aspire_rng_uniform(r) < st->flip_prob;
    o->hue = st->jitter * unif(r, -18.0f, 18.0f);
    o->sat = 1.0f + st->jitter * unif(r, -0.3f, 0.3f);
    o->val = 1.0f + st->jitter * unif(r, -0.25f, 0.15f);
}

static float overlap(const aspire_world_object *a, const aspire_world_object *b) {
    float iw = fminf(a->x + a->w, b->x + b->w) - fmaxf(a->x, b->x);
    float ih = fminf(a->y + a->h, b->y + b->h) - fmaxf(a->y, b->y);
    return iw > 0 && ih > 0 ? iw * ih : 0.0f;
}

/* How badly object o overlaps the ones already placed (0 = acceptable). */
static float overlap_cost(const aspire_world_object *o, const aspire_world_object *placed, int n, int bird) {
    float cost = 0, area = o->w * o->h;
    for (int i = 0; i < n; i++) {
        float in = overlap(o, &placed[i]), other = placed[i].w * placed[i].h;
        /* The bird stays mostly visible (at most 15 % covered) and hides at most 40 % of an
         * object; other objects may overlap each other by up to 35 %. */
        if (i == bird) {
            if (in / other > 0.15f) cost += in / other - 0.15f;
            if (in / area > 0.40f) cost += in / area - 0.40f;
        } else {
            float frac = fmaxf(in / other, in / area);
            if (frac > 0.35f) cost += frac - 0.35f;
        }
    }
    return cost;
}

static void place_object(aspire_world_object *o, const aspire_world *w, const aspire_world_style *st, float hz,
                         aspire_rng *r) {
    const world_emoji_info *info = &world_emoji[o->emoji];
    float longer = unif(r, info->size_min, info->size_max) * st->object_scale;
    float yb;
    switch (info->where) {
    case WORLD_PLACE_SKY:
        set_size(w, o, longer);
        o->y = unif(r, 0.0f, fmaxf(0.02f, hz - o->h - 0.02f));
        o->x = unif(r, -0.1f * o->w, 1.0f - 0.9f * o->w);
        return;
    case WORLD_PLACE_HORIZON:
        yb = hz + unif(r, 0.03f, 0.28f);
        break;
    default:
        yb = unif(r, fminf(hz + 0.06f, 0.9f), 1.04f);
        break;
    }
    /* Farther (higher) objects come out smaller. */
    float depth = fminf(1.0f, fmaxf(0.0f, (yb - hz) / fmaxf(0.05f, 1.0f - hz)));
    set_size(w, o, longer * (0.65f + 0.35f * depth));
    o->y = yb - o->h;
    o->x = unif(r, -0.1f * o->w, 1.0f - 0.9f * o->w);
}

void aspire_world_scene_sample(aspire_world_scene *s, const aspire_world *w, const aspire_world_style *st,
                               int species, int background, const int *ctx, int nctx, aspire_rng *r) {
    ASPIRE_ASSERT(species >= -1 && species < ASPIRE_WORLD_NBIRDS);
    ASPIRE_ASSERT(background >= 0 && background < ASPIRE_WORLD_NBACKGROUNDS);
    ASPIRE_ASSERT(nctx >= 0 && nctx + (species >= 0) <= ASPIRE_WORLD_MAX_OBJECTS);
    memset(s, 0, sizeof *s);
    s->background = background;
    s->bg_seed = (uint32_t)aspire_rng_u64(r);
    float hz = world_horizon(background, s->bg_seed);
    aspire_world_object objs[ASPIRE_WORLD_MAX_OBJECTS];
    int n = 0, bird = -1;
    if (species >= 0) {
        aspire_world_object *b = &objs[n];
        memset(b, 0, sizeof *b);
        b->emoji = species;
        set_size(w, b, unif(r, st->bird_min, st->bird_max));
        float lo = fminf(fmaxf(hz + 0.4f * b->h, 0.52f), 0.97f);
        float yb = unif(r, lo, 0.97f);
        b->y = yb - b->h;
        b->x = unif(r, 0.02f, fmaxf(0.02f, 0.98f - b->w));
        jitter(b, st, r);
        bird = n++;
    }
    for (int i = 0; i < nctx; i++) {
        ASPIRE_ASSERT(ctx[i] >= ASPIRE_WORLD_FIRST_OBJECT && ctx[i] < ASPIRE_WORLD_NEMOJI);
        aspire_world_object best = {0}, o = {0};
        float best_cost = INFINITY;
        for (int t = 0; t < 24 && best_cost > 0; t++) {
            memset(&o, 0, sizeof o);
            o.emoji = ctx[i];
            place_object(&o, w, st, hz, r);
            float c = overlap_cost(&o, objs, n, bird);
            if (c < best_cost) { best_cost = c; best = o; }
        }
        jitter(&best, st, r);
        objs[n++] = best;
    }
    /* Drawing order: sky objects first, then by the bottom edge (farther first). */
    int order[ASPIRE_WORLD_MAX_OBJECTS];
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            const aspire_world_object *a = &objs[order[j - 1]], *b = &objs[order[j]];
            int sa = world_emoji[a->emoji].where == WORLD_PLACE_SKY, sb = world_emoji[b->emoji].where == WORLD_PLACE_SKY;
            int swap = sa != sb ? sb : (a->y + a->h > b->y + b->h);
            if (!swap) break;
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    s->nobjects = n;
    s->bird = -1;
    for (int i = 0; i < n; i++) {
        s->objects[i] = objs[order[i]];
        if (order[i] == bird) s->bird = i;
    }
}

void aspire_world_scene_remove(aspire_world_scene *out, const aspire_world_scene *s, int k) {
    ASPIRE_ASSERT(k >= 0 && k < s->nobjects);
    aspire_world_scene t = *s;
    for (int i = k; i + 1 < t.nobjects; i++) t.objects[i] = t.objects[i + 1];
    t.nobjects--;
    memset(&t.objects[t.nobjects], 0, sizeof t.objects[0]);
    if (s->bird == k) t.bird = -1;
    else if (s->bird > k) t.bird = s->bird - 1;
    *out = t;
}

void aspire_world_scene_set_background(aspire_world_scene *out, const aspire_world_scene *s, int background) {
    ASPIRE_ASSERT(background >= 0 && background < ASPIRE_WORLD_NBACKGROUNDS);
    *out = *s;
    out->background = background;
}

/* ---- JSON -------------------------------------------------------------------------------------- */

static int get_num(const cJSON *o, const char *key, double *v, const char *where) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it)) return aspire_error(ASPIRE_ERR_FORMAT, "%s: field \"%s\" missing or not a number", where, key);
    *v = it->valuedouble;
    if (!isfinite(*v))  /* 1e999 parses as infinity */
        return aspire_error(ASPIRE_ERR_FORMAT, "%s: field \"%s\" is not a finite number", where, key);
    return ASPIRE_OK;
}

int aspire_world_scene_from_json(aspire_world_scene *s, const char *json) {
    memset(s, 0, sizeof *s);
    s->bird = -1;
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return aspire_error(ASPIRE_ERR_FORMAT, "scene: not a JSON object");
    }
    int rc = ASPIRE_OK;
    double v = 0;
    const cJSON *bg = cJSON_GetObjectItemCaseSensitive(root, "background");
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(root, "objects");
    if (!cJSON_IsString(bg) || (s->background = aspire_world_background_find(bg->valuestring)) < 0) {
        rc = aspire_error(ASPIRE_ERR_FORMAT, "scene: field \"background\" missing or not a known background");
        goto done;
    }
    if ((rc = get_num(root, "bg_seed", &v, "scene"))) goto done;
    if (v < 0 || v > 4294967295.0 || v != floor(v)) {
        rc = aspire_error(ASPIRE_ERR_FORMAT, "scene: field \"bg_seed\" is not a 32-bit unsigned integer");
        goto done;
    }
    s->bg_seed = (uint32_t)v;
    if (!cJSON_IsArray(objs) || cJSON_GetArraySize(objs) > ASPIRE_WORLD_MAX_OBJECTS) {
        rc = aspire_error(ASPIRE_ERR_FORMAT, "scene: field \"objects\" missing or longer than %d", ASPIRE_WORLD_MAX_OBJECTS);
        goto done;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, objs) {
        char where[48];
        snprintf(where, sizeof where, "scene: objects[%d]", s->nobjects);
        aspire_world_object *o = &s->objects[s->nobjects];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
        if (!cJSON_IsString(name) || (o->emoji = aspire_world_emoji_find(name->valuestring)) < 0) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: field \"name\" missing or not a known emoji", where);
            goto done;
        }
        static const char *const keys[] = {"x", "y", "w", "h", "flip", "hue", "sat", "val"};
        double vals[8];
        for (int k = 0; k < 8; k++)
            if ((rc = get_num(it, keys[k], &vals[k], where))) goto done;
        o->x = (float)vals[0]; o->y = (float)vals[1]; o->w = (float)vals[2]; o->h = (float)vals[3];
        o->flip = vals[4] != 0; o->hue = (float)vals[5]; o->sat = (float)vals[6]; o->val = (float)vals[7];
        if (!(o->w > 0 && o->h > 0 && o->w < 100 && o->h < 100 && fabsf(o->x) < 100 && fabsf(o->y) < 100)) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: box out of range", where);
            goto done;
        }
        /* colour jitter within what the sampler could ever draw, with room to spare: a larger factor
         * (1e38) overflows the colour matrix to infinity and NaN */
        if (!(fabsf(o->hue) <= 360 && o->sat >= 0 && o->sat <= 10 && o->val >= 0 && o->val <= 10)) {
            rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: colour jitter out of range (|hue| <= 360, sat and val in [0, 10])", where);
            goto done;
        }
        if (cJSON_IsString(role) && strcmp(role->valuestring, "bird") == 0) {
            if (s->bird >= 0 || o->emoji >= ASPIRE_WORLD_NBIRDS) {
                rc = aspire_error(ASPIRE_ERR_FORMAT, "%s: a second bird, or a bird that is not one", where);
                goto done;
            }
            s->bird = s->nobjects;
        }
        s->nobjects++;
    }
done:
    cJSON_Delete(root);
    if (rc) { memset(s, 0, sizeof *s); s->bird = -1; }
    return rc;
}
