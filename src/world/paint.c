/* paint.c — procedural backgrounds: four water scenes (lake, ocean, river, pond) and four land
 * scenes (forest, field, desert, meadow). Each is a function of (background, seed) painted in
 * continuous image coordinates (u, v in [0, 1]), so the same scene looks the same at any size;
 * palette, horizon, texture and noise all vary with the seed. */
#include "world/internal.h"

#include <math.h>
#include <string.h>

/* ---- Noise ------------------------------------------------------------------------------------- */

static inline uint32_t hash3(uint32_t x, uint32_t y, uint32_t s) {
    uint32_t h = x * 0x8da6b343u ^ y * 0xd8163841u ^ s * 0xcb1ab31fu;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    h *= 0x297a2d39u;
    h ^= h >> 15;
    return h;
}

static inline float hash01(uint32_t x, uint32_t y, uint32_t s) { return (float)(hash3(x, y, s) >> 8) * (1.0f / 16777216.0f); }

/* Value noise in [0, 1): smoothly interpolated random values on the integer lattice. */
static float vnoise(float x, float y, uint32_t s) {
    float fx = floorf(x), fy = floorf(y);
    int ix = (int)fx, iy = (int)fy;
    float tx = x - fx, ty = y - fy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    float a = hash01((uint32_t)ix, (uint32_t)iy, s), b = hash01((uint32_t)ix + 1, (uint32_t)iy, s);
    float c = hash01((uint32_t)ix, (uint32_t)iy + 1, s), d = hash01((uint32_t)ix + 1, (uint32_t)iy + 1, s);
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}

/* Fractal sum of `oct` octaves, normalised back to [0, 1). */
static float fbm(float x, float y, int oct, uint32_t s) {
    float sum = 0, amp = 1, norm = 0;
    for (int i = 0; i < oct; i++) {
        sum += amp * vnoise(x, y, s + 7919u * (uint32_t)i);
        norm += amp;
        amp *= 0.5f;
        x *= 2.03f;
        y *= 2.03f;
    }
    return sum / norm;
}

/* ---- Colours ----------------------------------------------------------------------------------- */

typedef struct col { float r, g, b; } col;

static inline col rgb(float r, float g, float b) { return (col){r, g, b}; }
static inline col mix(col a, col b, float t) { return (col){a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }
static inline col scale(col a, float k) { return (col){a.r * k, a.g * k, a.b * k}; }
static inline float clamp01(float x) { return x < 0 ? 0 : x > 1 ? 1 : x; }
static inline float smooth(float e0, float e1, float x) {
    float t = clamp01((x - e0) / (e1 - e0));
    return t * t * (3 - 2 * t);
}
static inline float unif(aspire_rng *r, float lo, float hi) { return lo + (hi - lo) * (float)aspire_rng_uniform(r); }

/* A palette colour varied per image: each channel by ±amount, brightness by ±amount. */
static col vary(aspire_rng *r, col c, float amount) {
    float k = 1.0f + unif(r, -amount, amount);
    return rgb(clamp01((c.r + unif(r, -amount, amount) * 0.6f) * k), clamp01((c.g + unif(r, -amount, amount) * 0.6f) * k),
               clamp01((c.b + unif(r, -amount, amount) * 0.6f) * k));
}

/* Largest image side the painter handles (its per-column scratch). */
#define WORLD_PAINT_MAX 4096

/* ---- Painting context -------------------------------------------------------------------------- */

typedef struct painter {
    int size;
    float *px;           /* (size, size, 3) */
    uint32_t seed;       /* noise seed */
    aspire_rng rng;      /* palette and layout draws */
    float hz;            /* horizon (or ground line), fraction from the top */
    col sky_top, sky_hz; /* sky gradient */
    float clouds;        /* cloud cover 0..1 */
    float col[WORLD_PAINT_MAX], col2[WORLD_PAINT_MAX];  /* per-column values (edges that depend on u only) */
} painter;

static inline float U(const painter *p, int x) { return ((float)x + 0.5f) / (float)p->size; }
static inline void put(painter *p, int x, int y, col c) {
    float *d = p->px + ((size_t)y * p->size + x) * 3;
    d[0] = c.r; d[1] = c.g; d[2] = c.b;
}

/* The horizon range of each background (fraction from the top). */
static const float hz_range[ASPIRE_WORLD_NBACKGROUNDS][2] = {
    {0.28f, 0.48f}, {0.25f, 0.45f}, {0.22f, 0.38f}, {0.18f, 0.32f},
    {0.50f, 0.68f}, {0.28f, 0.48f}, {0.30f, 0.50f}, {0.28f, 0.46f},
};

static void painter_init(painter *p, int bg, uint32_t seed) {
    aspire_rng_seed(&p->rng, ((uint64_t)seed << 8) ^ (uint64_t)(bg + 1) * 0x9e3779b97f4a7c15ULL);
    p->hz = unif(&p->rng, hz_range[bg][0], hz_range[bg][1]);  /* first draw: world_horizon repeats it */
    p->seed = (uint32_t)aspire_rng_u64(&p->rng);
    /* Sky: mostly day blue, sometimes hazy or warm. */
    float mood = (float)aspire_rng_uniform(&p->rng);
    if (mood < 0.65f) {
        p->sky_top = vary(&p->rng, rgb(0.30f, 0.52f, 0.85f), 0.10f);
        p->sky_hz = vary(&p->rng, rgb(0.72f, 0.84f, 0.95f), 0.06f);
    } else if (mood < 0.85f) {
        p->sky_top = vary(&p->rng, rgb(0.55f, 0.62f, 0.72f), 0.08f);
        p->sky_hz = vary(&p->rng, rgb(0.82f, 0.84f, 0.86f), 0.05f);
    } else {
        p->sky_top = vary(&p->rng, rgb(0.38f, 0.45f, 0.75f), 0.08f);
        p->sky_hz = vary(&p->rng, rgb(0.96f, 0.74f, 0.55f), 0.06f);
    }
    p->clouds = unif(&p->rng, 0.0f, 0.7f);
}

float world_horizon(int background, uint32_t bg_seed) {
    painter p;
    painter_init(&p, background, bg_seed);
    return p.hz;
}

static col sky(const painter *p, float u, float v, float hz) {
    float t = hz > 0.01f ? clamp01(v / hz) : 1.0f;
    col c = mix(p->sky_top, p->sky_hz, t * t);
    if (p->clouds > 0) {
        float n = fbm(u * 5.0f, v * 12.0f, 4, p->seed + 11u);
        float k = smooth(0.75f - 0.3f * p->clouds, 0.95f - 0.2f * p->clouds, n) * 0.85f;
        c = mix(c, rgb(0.97f, 0.97f, 0.98f), k);
    }
    return c;
}

/* ---- Water scenes ------------------------------------------------------------------------------ */

static void paint_lake(painter *p) {
    col shore = vary(&p->rng, rgb(0.16f, 0.30f, 0.17f), 0.08f);
    col water = vary(&p->rng, rgb(0.20f, 0.42f, 0.58f), 0.10f);
    col deep = scale(water, unif(&p->rng, 0.6f, 0.85f));
    float shore_h = unif(&p->rng, 0.03f, 0.10f), ripple = unif(&p->rng, 0.04f, 0.10f);
    for (int x = 0; x < p->size; x++) {
        float u = U(p, x);
        p->col[x] = p->hz - shore_h * (0.5f + fbm(u * 6.0f, 0.5f, 3, p->seed + 1u));
    }
    for (int y = 0; y < p->size; y++) {
        float v = U(p, y);
        for (int x = 0; x < p->size; x++) {
            float u = U(p, x);
            float top = p->col[x];
            col c;
            if (v < top) {
                c = sky(p, u, v, p->hz);
            } else if (v < p->hz) {
                c = scale(shore, 0.8f + 0.4f * fbm(u * 24.0f, v * 24.0f, 2, p->seed + 2u));
            } else {
                float d = (v - p->hz) / (1.0f - p->hz);
                c = mix(mix(p->sky_hz, water, 0.55f), deep, sqrtf(d));
                /* Reflection of the shore just under the horizon, broken up by ripples. */
                float wob = 0.02f * (vnoise(u * 3.0f, v * 40.0f, p->seed + 3u) - 0.5f);
                float refl = 1.0f - smooth(0.0f, shore_h * 0.8f, v - p->hz + wob);
                c = mix(c, scale(shore, 1.1f), 0.6f * refl);
                float rip = vnoise(u * 6.0f, v * 70.0f, p->seed + 4u);
                c = scale(c, 1.0f + ripple * (rip - 0.5f) * 2.0f);
            }
            put(p, x, y, c);
        }
    }
}

static void paint_ocean(painter *p) {
    col water = vary(&p->rng, rgb(0.06f, 0.27f, 0.52f), 0.10f);
    col near = vary(&p->rng, rgb(0.10f, 0.45f, 0.58f), 0.08f);
    float waves = unif(&p->rng, 0.5f, 1.0f), phase = unif(&p->rng, 0, 6.28f);
    for (int y = 0; y < p->size; y++) {
        float v = U(p, y);
        for (int x = 0; x < p->size; x++) {
            float u = U(p, x);
            col c;
            if (v < p->hz) {
                c = sky(p, u, v, p->hz);
            } else {
                float d = (v - p->hz) / (1.0f - p->hz);
                c = mix(scale(water, 0.85f), near, d);
                /* Wave rows crowd together towards the horizon (perspective). */
                float rows = 1.0f / (d + 0.12f);
                float n = fbm(u * 4.0f, rows * 0.6f, 3, p->seed + 5u);
                float wv = sinf(rows * 9.0f + 5.0f * n + phase + u * 2.0f);
                c = scale(c, 1.0f + 0.12f * waves * wv);
                float cap = smooth(0.82f, 0.98f, wv * (0.6f + 0.6f * fbm(u * 9.0f, v * 30.0f, 2, p->seed + 6u)));
                c = mix(c, rgb(0.92f, 0.95f, 0.97f), 0.8f * cap * waves);
                if (v < p->hz + 0.012f) c = mix(c, scale(water, 0.7f), 0.5f);
            }
            put(p, x, y, c);
        }
    }
}

static void paint_river(painter *p) {
    col grass = vary(&p->rng, rgb(0.30f, 0.50f, 0.20f), 0.10f);
    col bank = vary(&p->rng, rgb(0.45f, 0.36f, 0.22f), 0.08f);
    col water = vary(&p->rng, rgb(0.22f, 0.40f, 0.52f), 0.10f);
    col far = vary(&p->rng, rgb(0.20f, 0.34f, 0.20f), 0.08f);
    float c0 = unif(&p->rng, 0.35f, 0.65f), amp = unif(&p->rng, 0.05f, 0.15f), fr = unif(&p->rng, 2.0f, 5.0f);
    float ph = unif(&p->rng, 0, 6.28f), w0 = unif(&p->rng, 0.06f, 0.14f), w1 = unif(&p->rng, 0.35f, 0.55f);
    float slope = unif(&p->rng, -0.3f, 0.3f);
    for (int x = 0; x < p->size; x++) {
        float u = U(p, x);
        p->col[x] = p->hz - 0.06f * fbm(u * 8.0f, 0.3f, 3, p->seed + 7u);
    }
    for (int y = 0; y < p->size; y++) {
        float v = U(p, y);
        float d = (v - p->hz) / (1.0f - p->hz);
        float cx = c0 + amp * sinf(d * fr + ph) * d + slope * d;
        float hw = w0 + w1 * d;
        for (int x = 0; x < p->size; x++) {
            float u = U(p, x);
            col c;
            float treeline = p->col[x];
            if (v < treeline) {
                c = sky(p, u, v, p->hz);
            } else if (v < p->hz) {
                c = scale(far, 0.8f + 0.4f * fbm(u * 20.0f, v * 20.0f, 2, p->seed + 8u));
            } else {
                float edge = fabsf(u - cx) - hw * (0.9f + 0.2f * vnoise(v * 20.0f, 0.5f, p->seed + 9u));
                col g = scale(grass, 0.75f + 0.5f * fbm(u * 30.0f, v * 30.0f, 3, p->seed + 10u));
                col wtr = mix(mix(p->sky_hz, water, 0.6f), scale(water, 0.8f), d);
                float streak = vnoise((u - cx) * 40.0f, v * 5.0f, p->seed + 12u);
                wtr = scale(wtr, 0.92f + 0.16f * streak);
                float bw = 0.015f + 0.02f * d;
                if (edge < 0) c = wtr;
                else if (edge < bw) c = mix(bank, g, edge / bw);
                else c = g;
            }
            put(p, x, y, c);
        }
    }
}

static void paint_pond(painter *p) {
    col bush = vary(&p->rng, rgb(0.18f, 0.34f, 0.16f), 0.08f);
    col grass = vary(&p->rng, rgb(0.34f, 0.55f, 0.22f), 0.10f);
    col water = vary(&p->rng, rgb(0.18f, 0.36f, 0.40f), 0.10f);
    col pad = vary(&p->rng, rgb(0.25f, 0.55f, 0.20f), 0.08f);
    float cx = unif(&p->rng, 0.4f, 0.6f), cy = p->hz + (1.0f - p->hz) * unif(&p->rng, 0.5f, 0.62f);
    float rx = unif(&p->rng, 0.50f, 0.70f), ry = (1.0f - p->hz) * unif(&p->rng, 0.42f, 0.55f);
    int npads = 3 + (int)aspire_rng_below(&p->rng, 6);
    float pads[9][3];
    for (int i = 0; i < npads; i++) {
        float a = unif(&p->rng, 0, 6.28f), r = sqrtf(unif(&p->rng, 0.05f, 0.8f));
        pads[i][0] = cx + rx * r * cosf(a) * 0.9f;
        pads[i][1] = cy + ry * r * sinf(a) * 0.9f;
        pads[i][2] = unif(&p->rng, 0.025f, 0.05f);
    }
    for (int x = 0; x < p->size; x++) {
        float u = U(p, x);
        p->col[x] = p->hz - 0.12f * fbm(u * 7.0f, 0.2f, 3, p->seed + 13u);
    }
    for (int y = 0; y < p->size; y++) {
        float v = U(p, y);
        for (int x = 0; x < p->size; x++) {
            float u = U(p, x);
            float top = p->col[x];
            col c;
            if (v < top) {
                c = sky(p, u, v, p->hz);
            } else if (v < p->hz) {
                c = scale(bush, 0.75f + 0.5f * fbm(u * 18.0f, v * 18.0f, 3, p->seed + 14u));
            } else {
                float du = (u - cx) / rx, dv = (v - cy) / ry;
                float r = sqrtf(du * du + dv * dv) - 0.12f * (fbm(u * 5.0f, v * 5.0f, 2, p->seed + 15u) - 0.5f);
                col g = scale(grass, 0.75f + 0.5f * fbm(u * 32.0f, v * 32.0f, 3, p->seed + 16u));
                if (r < 1.0f) {
                    float depth = 1.0f - r;
                    c = mix(scale(water, 1.15f), scale(water, 0.75f), depth);
                    c = scale(c, 0.94f + 0.12f * vnoise(u * 8.0f, v * 50.0f, p->seed + 17u));
                    for (int i = 0; i < npads; i++) {
                        float pu = (u - pads[i][0]) / pads[i][2], pv = (v - pads[i][1]) / (pads[i][2] * 0.6f);
                        if (pu * pu + pv * pv < 1.0f && !(pu > 0 && fabsf(pv) < 0.25f * pu)) c = scale(pad, 0.9f + 0.2f * (pu + 1) * 0.5f);
                    }
                    c = mix(c, scale(g, 0.7f), smooth(0.93f, 1.0f, r) * 0.6f);
                } else {
                    c = g;
                }
            }
            put(p, x, y, c);
        }
    }
}

/* ---- Land scenes ------------------------------------------------------------------------------- */

static void paint_forest(painter *p) {
    col canopy = vary(&p->rng, rgb(0.14f, 0.30f, 0.13f), 0.08f);
    col light = vary(&p->rng, rgb(0.35f, 0.55f, 0.22f), 0.10f);
    col trunk = vary(&p->rng, rgb(0.30f, 0.22f, 0.15f), 0.08f);
    col floor_c = vary(&p->rng, rgb(0.33f, 0.28f, 0.16f), 0.10f);
    col moss = vary(&p->rng, rgb(0.24f, 0.38f, 0.15f), 0.08f);
    int ntrunks = 4 + (int)aspire_rng_below(&p->rng, 6);
    float tx[10], tw[10], tshade[10];
    for (int i = 0; i < ntrunks; i++) {
        tx[i] = unif(&p->rng, 0.0f, 1.0f);
        tw[i] = unif(&p->rng, 0.015f, 0.055f);
        tshade[i] = unif(&p->rng, 0.6f, 1.1f);
    }
    float gaps = unif(&p->rng, 0.0f, 1.0f);
    for (int x = 0; x < p->size; x++) {
        float u = U(p, x);
        p->col[x] = p->hz + 0.03f * (fbm(u * 6.0f, 0.7f, 2, p->seed + 18u) - 0.5f);
    }
    for (int y = 0; y < p->size; y++) {
        float v = U(p, y);
        for (int x = 0; x < p->size; x++) {
            float u = U(p, x);
            col c;
            float ground = p->col[x];
            if (v < ground) {
                float n = fbm(u * 9.0f, v * 9.0f, 4, p->seed + 19u);
                c = mix(canopy, light, smooth(0.45f, 0.8f, n));
                if (n > 0.8f - 0.12f * gaps && v < p->hz * 0.6f) c = mix(c, p->sky_hz, 0.7f);
                /* Darker towards the forest floor. */
                c = scale(c, 1.0f - 0.35f * smooth(0.3f, 1.0f, v / p->hz));
                for (int i = 0; i < ntrunks; i++) {
                    float wob = 0.01f * sinf(v * 12.0f + (float)i);
                    float dx = fabsf(u - tx[i] - wob) / (tw[i] * (1.0f + 0.4f * v));
                    if (dx < 1.0f) {
                        float bark = 0.8f + 0.3f * vnoise(u * 80.0f, v * 12.0f, p->seed + 20u + (uint32_t)i);
                        c = scale(trunk, tshade[i] * bark * (1.0f - 0.3f * dx * dx));
                    }
                }
            } else {
                float n = fbm(u * 20.0f, v * 28.0f, 3, p->seed + 21u);
                c = mix(floor_c, moss, smooth(0.4f, 0.65f, n));
                c = scale(c, 0.8f + 0.35f * vnoise(u * 60.0f, v * 60.0f, p->seed + 22u));
            }
            put(p, x, y, c);
        }
    }
}

static void paint_field(painter *p) {
    int golden = aspire_rng_uniform(&p->rng) < 0.45;
    col crop = golden ? vary(&p->rng, rgb(0.80f, 0.66f, 0.30f), 0.08f) : vary(&p->rng, rgb(0.40f, 0.60f, 0.22f), 0.10f);
    col furrow = scale(crop, unif(&p->rng, 0.65f, 0.8f));
    col far = vary(&p->rng, rgb(0.25f, 0.38f, 0.20f), 0.08f);
    float vx = unif(&p->rng, 0.2f, 0.8f), rows = unif(&p->rng, 14.0f, 26.0f);
    int treeline = aspire_rng_uniform(&p->rng) < 0.6;
    for (int x = 0; x < p->size; x++) {
        float u = U(p, x);
        p->col[x] = treeline ? p->hz - 0.035f * fbm(u * 14.0f, 0.1f, 2, p->seed + 23u) : p->hz;
    }
    for (int y = 0; y < p->size; y++) {
        float v = U(p, y);
        for (int x = 0; x < p->size; x++) {
            float u = U(p, x);
            col c;
            float tl = p->col[x];
            if (v < tl) {
                c = sky(p, u, v, p->hz);
            } else if (v < p->hz) {
                c = far;
            } else {
                float d = v - p->hz + 0.02f;
                float ang = (u - vx) / d;  /* furrows meet at (vx, hz) */
                float st = 0.5f + 0.5f * sinf(ang * rows * 0.25f);
                c = mix(furrow, crop, smooth(0.2f, 0.7f, st));
                c = scale(c, 0.85f + 0.3f * fbm(u * 24.0f, v * 24.0f, 3, p->seed + 24u));
                c = mix(c, mix(p->sky_hz, crop, 0.7f), 0.4f * (1.0f - smooth(0.0f, 0.15f, v - p->hz)));
            }
            put(p, x, y, c);
        }
    }
}

static void paint_desert(painter *p) {
    col sand = vary(&p->rng, rgb(0.86f, 0.70f, 0.45f), 0.08f);
    col shade = scale(vary(&p->rng, rgb(0.75f, 0.52f, 0.33f), 0.06f), 0.9f);
    float f1 = unif(&p->rng, 3.0f, 6.0f), f2 = unif(&p->rng, 0.8f, 2.0f), ph = unif(&p->rng, 0, 6.28f);
    float hills = unif(&p->rng, 0.02f, 0.07f);
    /* Desert skies are paler. */
    p->sky_top = mix(p->sky_top, rgb(0.65f, 0.75f, 0.88f), 0.3f);
    p->sky_hz = mix(p->sky_hz, rgb(0.95f, 0.90f, 0.80f), 0.5f);
    p->clouds *= 0.4f;
    for (int x = 0; x < p->size; x++) {
        float u = U(p, x);
        p->col[x] = p->hz - hills * (0.5f + 0.5f * sinf(u * 7.0f + ph)) * fbm(u * 3.0f, 0.4f, 2, p->seed + 25u) * 2.0f;
    }
    for (int y = 0; y < p->size; y++) {
        float v = U(p, y);
        for (int x = 0; x < p->size; x++) {
            float u = U(p, x);
            float hzu = p->col[x];
            col c;
            if (v < hzu) {
                c = sky(p, u, v, p->hz);
            } else {
                float d = (v - hzu) / (1.0f - hzu);
                /* Dune ridges: a sawtooth in depth, bent by a slow sideways wave. */
                float s = d * f1 + 0.35f * sinf(u * f2 * 6.28f + ph) + 0.3f * fbm(u * 3.0f, v * 3.0f, 2, p->seed + 26u);
                float t = s - floorf(s);
                c = mix(sand, shade, smooth(0.55f, 0.9f, t) * 0.8f);
                c = scale(c, 0.94f + 0.1f * vnoise(u * 50.0f + v * 20.0f, v * 90.0f, p->seed + 27u));
                c = mix(c, p->sky_hz, 0.25f * (1.0f - smooth(0.0f, 0.2f, d)));
            }
            put(p, x, y, c);
        }
    }
}

static void paint_meadow(painter *p) {
    col grass = vary(&p->rng, rgb(0.42f, 0.66f, 0.26f), 0.10f);
    col dark = scale(grass, unif(&p->rng, 0.6f, 0.75f));
    col hill = vary(&p->rng, rgb(0.35f, 0.52f, 0.28f), 0.08f);
    float amp = unif(&p->rng, 0.03f, 0.08f), fr = unif(&p->rng, 3.0f, 7.0f), ph = unif(&p->rng, 0, 6.28f);
    float density = unif(&p->rng, 0.25f, 0.6f);
    static const col petals[4] = {{0.97f, 0.97f, 0.95f}, {0.98f, 0.88f, 0.25f}, {0.95f, 0.55f, 0.70f}, {0.70f, 0.50f, 0.90f}};
    for (int x = 0; x < p->size; x++) {
        float u = U(p, x);
        p->col[x] = p->hz + amp * sinf(u * fr + ph);
    }
    for (int x = 0; x < p->size; x++) {
        float u = U(p, x);
        p->col2[x] = p->col[x] - 0.05f + 0.04f * sinf(u * fr * 1.7f + ph * 2.0f);
    }
    for (int y = 0; y < p->size; y++) {
        float v = U(p, y);
        for (int x = 0; x < p->size; x++) {
            float u = U(p, x);
            float hzu = p->col[x];
            col c;
            if (v < hzu - 0.05f) {
                c = sky(p, u, v, p->hz);
            } else if (v < hzu) {
                /* A farther hill. */
                float h2 = p->col2[x];
                c = v < h2 ? sky(p, u, v, p->hz) : scale(hill, 0.9f + 0.2f * fbm(u * 12.0f, v * 12.0f, 2, p->seed + 28u));
            } else {
                float d = (v - hzu) / (1.0f - hzu);
                float n = fbm(u * 10.0f, v * 10.0f, 3, p->seed + 29u);
                c = mix(dark, grass, smooth(0.3f, 0.7f, n));
                c = scale(c, 0.85f + 0.3f * vnoise(u * 90.0f, v * 25.0f, p->seed + 30u));
                /* Flowers: at most one per cell of a grid that grows towards the viewer. */
                float cell = 0.025f + 0.035f * d;
                int gx = (int)floorf(u / cell), gy = (int)floorf((v - hzu) / cell);
                uint32_t h = hash3((uint32_t)gx, (uint32_t)gy, p->seed + 31u);
                if ((float)(h & 0xffff) / 65536.0f < density) {
                    float fx = ((float)gx + 0.25f + 0.5f * (float)((h >> 16) & 0xff) / 255.0f) * cell;
                    float fy = hzu + ((float)gy + 0.25f + 0.5f * (float)((h >> 24) & 0xff) / 255.0f) * cell;
                    float r = cell * 0.22f;
                    float du = u - fx, dv = v - fy;
                    if (du * du + dv * dv < r * r) c = petals[(h >> 8) & 3];
                }
            }
            put(p, x, y, c);
        }
    }
}

/* ---- Entry point ------------------------------------------------------------------------------- */

void aspire_world_paint_background(int background, uint32_t bg_seed, int size, float *out) {
    ASPIRE_ASSERT(background >= 0 && background < ASPIRE_WORLD_NBACKGROUNDS);
    ASPIRE_ASSERT(size > 0 && size <= WORLD_PAINT_MAX, "(size %d)", size);
    painter p;
    painter_init(&p, background, bg_seed);
    p.size = size;
    p.px = out;
    /* Whole-image variation drawn before the scene's own palette. */
    float bright = unif(&p.rng, 0.86f, 1.10f), contrast = unif(&p.rng, 0.85f, 1.1f);
    col tint = rgb(unif(&p.rng, 0.94f, 1.06f), unif(&p.rng, 0.94f, 1.06f), unif(&p.rng, 0.94f, 1.06f));
    float grain = unif(&p.rng, 0.008f, 0.035f);
    switch (background) {
    case ASPIRE_WORLD_LAKE: paint_lake(&p); break;
    case ASPIRE_WORLD_OCEAN: paint_ocean(&p); break;
    case ASPIRE_WORLD_RIVER: paint_river(&p); break;
    case ASPIRE_WORLD_POND: paint_pond(&p); break;
    case ASPIRE_WORLD_FOREST: paint_forest(&p); break;
    case ASPIRE_WORLD_FIELD: paint_field(&p); break;
    case ASPIRE_WORLD_DESERT: paint_desert(&p); break;
    default: paint_meadow(&p); break;
    }
    size_t n = (size_t)size * size;
    for (size_t i = 0; i < n; i++) {
        float g = grain * (hash01((uint32_t)i, 17u, p.seed) - 0.5f) * 2.0f;
        float *d = out + 3 * i;
        float t[3] = {tint.r, tint.g, tint.b};
        for (int ch = 0; ch < 3; ch++) d[ch] = clamp01(((d[ch] - 0.5f) * contrast + 0.5f) * bright * t[ch] + g);
    }
}
