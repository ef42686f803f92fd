/* world.h — the benchmark world: emoji birds and context objects composited on procedurally
 * painted water and land scenes. A scene graph (aspire_world_scene) is a small value; rendering it
 * is a deterministic function of the scene and the image size, so the same scene renders to the
 * same bytes anywhere, and a counterfactual (one object removed, another background) is just an
 * edited copy of the scene rendered again: pixel-for-pixel identical outside the edit.
 *
 * On top of that: captions drawn from templates and synonyms, instance masks, and the writers of
 * the task dataset (Waterbirds layout, class correlated with background and context objects), the
 * pretraining corpus (no correlations) and a contact sheet. docs/WORLD.md describes the files. */
#ifndef ASPIRE_WORLD_H
#define ASPIRE_WORLD_H

#include "aspire/common.h"
#include "aspire/image.h"
#include "aspire/rng.h"

/* ---- The catalogue ---------------------------------------------------------------------------- */

/* Every emoji the world draws: the 11 birds first (5 waterbirds, 6 landbirds), then the 11
 * context objects. Names are the canonical ids used in files and options. */
typedef enum aspire_world_emoji {
    ASPIRE_WORLD_DUCK, ASPIRE_WORLD_SWAN, ASPIRE_WORLD_FLAMINGO, ASPIRE_WORLD_PENGUIN, ASPIRE_WORLD_GOOSE,
    ASPIRE_WORLD_ROOSTER, ASPIRE_WORLD_TURKEY, ASPIRE_WORLD_PEACOCK, ASPIRE_WORLD_PARROT, ASPIRE_WORLD_EAGLE,
    ASPIRE_WORLD_OWL,
    ASPIRE_WORLD_SAILBOAT, ASPIRE_WORLD_FISH, ASPIRE_WORLD_SHELL, ASPIRE_WORLD_PINE, ASPIRE_WORLD_TREE,
    ASPIRE_WORLD_SUNFLOWER, ASPIRE_WORLD_MUSHROOM, ASPIRE_WORLD_CACTUS, ASPIRE_WORLD_SUN, ASPIRE_WORLD_CLOUD,
    ASPIRE_WORLD_BALLOON,
    ASPIRE_WORLD_NEMOJI
} aspire_world_emoji;
#define ASPIRE_WORLD_NBIRDS 11
#define ASPIRE_WORLD_FIRST_OBJECT ASPIRE_WORLD_SAILBOAT

typedef enum aspire_world_background {
    ASPIRE_WORLD_LAKE, ASPIRE_WORLD_OCEAN, ASPIRE_WORLD_RIVER, ASPIRE_WORLD_POND,     /* water */
    ASPIRE_WORLD_FOREST, ASPIRE_WORLD_FIELD, ASPIRE_WORLD_DESERT, ASPIRE_WORLD_MEADOW, /* land */
    ASPIRE_WORLD_NBACKGROUNDS
} aspire_world_background;

/* "duck", "sailboat", ...; NULL if out of range. */
ASPIRE_API const char *aspire_world_emoji_name(int emoji);
/* The emoji's Unicode code point (U+1F986 for the duck). */
ASPIRE_API uint32_t aspire_world_emoji_codepoint(int emoji);
/* The index of a canonical name, or -1. */
ASPIRE_API int aspire_world_emoji_find(const char *name);
/* For a bird: its class, 1 = waterbird, 0 = landbird. For a context object: its affinity,
 * 1 = watery (sailboat, fish, shell), 0 = earthy (trees, sunflower, mushroom, cactus),
 * -1 = neutral (sun, cloud, balloon). */
ASPIRE_API int aspire_world_emoji_class(int emoji);
/* "lake", ..., "meadow"; NULL if out of range. */
ASPIRE_API const char *aspire_world_background_name(int bg);
ASPIRE_API int aspire_world_background_find(const char *name);
/* 1 = water (lake, ocean, river, pond), 0 = land (forest, field, desert, meadow). */
ASPIRE_API int aspire_world_background_place(int bg);

/* ---- Scene graphs ----------------------------------------------------------------------------- */

#define ASPIRE_WORLD_MAX_OBJECTS 5

/* One object of a scene. Geometry is in units of the image side (0..1), so one scene renders at
 * any size; the box is the emoji's tight box (its non-transparent pixels), not the font cell. */
typedef struct aspire_world_object {
    int emoji;          /* aspire_world_emoji */
    float x, y;         /* top-left corner of the box */
    float w, h;         /* box size; w/h is the emoji's own aspect ratio */
    int flip;           /* 1: mirrored left to right */
    float hue;          /* colour jitter: hue rotation in degrees */
    float sat, val;     /* saturation and brightness factors (1 = unchanged) */
} aspire_world_object;

/* A scene: a painted background and up to ASPIRE_WORLD_MAX_OBJECTS emoji drawn back to front.
 * A plain value (copy it with `=`). */
typedef struct aspire_world_scene {
    int background;     /* aspire_world_background */
    uint32_t bg_seed;   /* seeds the painting: palette jitter, horizon, texture, noise */
    int bird;           /* index into objects of the bird, -1 if the scene has none */
    int nobjects;
    aspire_world_object objects[ASPIRE_WORLD_MAX_OBJECTS];  /* drawing order: back to front */
} aspire_world_scene;

/* Difficulty knobs of scene sampling. aspire_world_style_default gives the defaults, chosen so
 * that the bird is a smaller, more variable cue than the background (as in Waterbirds). */
typedef struct aspire_world_style {
    float bird_min, bird_max;   /* bird size (longer side of its box, fraction of the image) [0.30, 0.46] */
    float object_scale;         /* multiplies the context objects' sizes [1] */
    float jitter;               /* colour jitter strength: 1 = hue ±18°, saturation ×[0.7, 1.3], brightness ×[0.75, 1.15] [1] */
    float flip_prob;            /* probability of a mirrored object [0.5] */
} aspire_world_style;

ASPIRE_API void aspire_world_style_default(aspire_world_style *st);

/* The glyph cache: every emoji rendered once by FreeType at the font's single bitmap strike
 * (Noto Color Emoji, 136×128, BGRA) and cropped to its tight box. Read-only after creation, so
 * one world may be shared by any number of threads. */
typedef struct aspire_world aspire_world;

/* Loads the emoji font (font_path NULL = $ASPIRE_EMOJI_FONT, else
 * /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf) and renders the glyph cache into a new world
 * *out, owned by the caller (aspire_world_free). ASPIRE_ERR_IO / ASPIRE_ERR_FORMAT if the font is
 * missing or lacks a colour bitmap strike or one of the emoji. */
ASPIRE_API int aspire_world_new(aspire_world **out, const char *font_path);
ASPIRE_API void aspire_world_free(aspire_world *w);  /* accepts NULL */
/* Width over height of the emoji's tight box. */
ASPIRE_API float aspire_world_emoji_aspect(const aspire_world *w, int emoji);

/* Samples a scene: the bird `species` (or -1 for none) on `background`, with the context objects
 * ctx[0..nctx) (at most ASPIRE_WORLD_MAX_OBJECTS - 1), placed where they belong (sky objects up,
 * ground and water objects down, boats on the horizon), sized, mirrored and colour-jittered as
 * `style` says, avoiding large overlaps with the bird. Everything random comes from rng. */
ASPIRE_API void aspire_world_scene_sample(aspire_world_scene *s, const aspire_world *w, const aspire_world_style *style,
                                          int species, int background, const int *ctx, int nctx, aspire_rng *rng);

/* Counterfactual edits: *out = s without object k (the bird index is updated; removing the bird
 * leaves bird = -1), or s on another background (same bg_seed, same objects). out may be s. */
ASPIRE_API void aspire_world_scene_remove(aspire_world_scene *out, const aspire_world_scene *s, int k);
ASPIRE_API void aspire_world_scene_set_background(aspire_world_scene *out, const aspire_world_scene *s, int background);

/* ---- Rendering -------------------------------------------------------------------------------- */

/* Renders s at size×size (size ≤ 4096) into rgb (size*size*3 bytes, HWC). If labels is not NULL it receives the
 * instance masks as one label map (size*size bytes): pixel = k + 1 where object k is the topmost
 * object covering at least half the pixel, 0 elsewhere. Objects are area-resampled from the glyph
 * cache and alpha-composited in float; coverage of at least 0.99999 counts as opaque, so a pixel an
 * object covers fully does not depend on what lies under it. Returns ASPIRE_ERR_NOMEM only. */
ASPIRE_API int aspire_world_render(const aspire_world *w, const aspire_world_scene *s, int size, uint8_t *rgb,
                                   uint8_t *labels);
/* Renders only the background (size*size*3 floats in [0, 1], HWC): the layer under the objects. */
ASPIRE_API void aspire_world_paint_background(int background, uint32_t bg_seed, int size, float *rgb);
/* Writes object k's coverage (alpha, 0..1) at size×size into cov (size*size floats), ignoring
 * occlusion by other objects. Returns ASPIRE_ERR_NOMEM only. */
ASPIRE_API int aspire_world_object_coverage(const aspire_world *w, const aspire_world_scene *s, int k, int size,
                                            float *cov);
/* Object k's pixel box at `size`: the smallest [x0, x1) × [y0, y1) holding every pixel it touches,
 * clipped to the image (box[0] = x0, box[1] = y0, box[2] = x1, box[3] = y1). */
ASPIRE_API void aspire_world_object_box(const aspire_world_scene *s, int k, int size, int box[4]);

/* ---- Captions and scene files ---------------------------------------------------------------- */

/* Writes a caption of the scene into buf (NUL-terminated, truncated to cap bytes), drawn from
 * several templates and synonyms with rng: "a swan standing on a lake next to a sailboat",
 * "a photo of an owl in a field". Words come from a small plain-English vocabulary (species and
 * their synonyms such as "duck"/"mallard", the background names, object names such as "sailboat",
 * "boat", "pine tree"). Returns the caption's length. */
ASPIRE_API int aspire_world_caption(const aspire_world_scene *s, aspire_rng *rng, char *buf, size_t cap);

/* Parses the scene fields of one JSON object as the writers emit it ("background", "bg_seed",
 * "objects": [{"name", "role", "x", "y", "w", "h", "flip", "hue", "sat", "val"}]). Floats
 * round-trip exactly, so a parsed scene renders to the same bytes. ASPIRE_ERR_FORMAT names the
 * missing or bad field. */
ASPIRE_API int aspire_world_scene_from_json(aspire_world_scene *s, const char *json);

/* ---- Datasets --------------------------------------------------------------------------------- */

typedef struct aspire_world_task_opts {
    const char *out;           /* dataset folder: metadata.csv and <species>/<img_id>.png */
    const char *truth;         /* ground-truth folder; NULL = "<out>_truth" */
    const char *font;          /* NULL = default font */
    uint64_t seed;             /* [0] */
    int n_train, n_val, n_test;/* [4795, 1199, 5794] */
    int size;                  /* image side in pixels [64] */
    double waterbird_frac;     /* share of waterbirds in every split [0.15; Waterbirds has 0.232] */
    double rho_bg;             /* P(background kind matches the class) in train [0.95] */
    const char *spurious;      /* spurious context objects, comma-separated names, each optionally
                                  "=Y" to tie it to class Y; default affinity otherwise ["sailboat,tree"] */
    double p_obj;              /* P(an image holds one spurious object) [0.5] */
    double rho_obj;            /* P(that object is tied to the image's class) in train [0.9] */
    int max_distractors;       /* up to this many extra non-spurious context objects [1] */
    int counterfactuals;       /* images per split with counterfactual renders; -1 = all [200] */
    int masks;                 /* write instance masks [1] */
    int progress;              /* progress lines on stderr [0] */
    int force;                 /* replace a non-empty out (and truth) folder [0: refuse it] */
    aspire_world_style style;
} aspire_world_task_opts;

ASPIRE_API void aspire_world_task_opts_default(aspire_world_task_opts *o);
/* Writes a task dataset in Waterbirds layout (metadata.csv: img_id,img_filename,y,split,place,
 * species,background,objects,spurious_object,object_y) and its ground truth into o->truth
 * (scenes.jsonl, masks/, counterfactuals/; see docs/WORLD.md). Train ties class to background
 * kind with probability rho_bg and to the spurious object with rho_obj; val and test are
 * group-balanced within each class (half water, half land; spurious object tied at random).
 * Images are rendered in parallel; the files are a function of the options alone (not of the
 * thread count). Every file is written atomically, and the two folders as wholes: each is built in
 * a temporary sibling (".NAME.tmp.PID.N") renamed into place at the end, so a failure (a full
 * disk, an error, kill -9) leaves what was there before. An out or truth folder that exists and
 * is not empty is refused (ASPIRE_ERR_ARG) unless o->force, which replaces it as a whole. */
ASPIRE_API int aspire_world_task_write(const aspire_world_task_opts *o);

typedef struct aspire_world_corpus_opts {
    const char *out;           /* corpus folder */
    const char *font;          /* NULL = default font */
    uint64_t seed;             /* [0] */
    int n_pretrain, n_test;    /* [20000, 2000] */
    int size;                  /* [64] */
    int max_objects;           /* context objects per image: uniform in 0..max_objects [3] */
    int captions;              /* captions per image [3] */
    int counterfactuals;       /* images per split with counterfactual renders; -1 = all [0] */
    int progress;              /* [0] */
    int force;                 /* replace a non-empty out folder [0: refuse it] */
    aspire_world_style style;
} aspire_world_corpus_opts;

ASPIRE_API void aspire_world_corpus_opts_default(aspire_world_corpus_opts *o);
/* Writes the pretraining corpus: independent random compositions (every bird on every background,
 * random context objects), metadata.csv (split 0 = pretrain, 2 = test), images, scenes.jsonl with
 * captions, masks/ and optional counterfactuals/, all in o->out, which is built as a whole and
 * refused when not empty unless o->force (as aspire_world_task_write). */
ASPIRE_API int aspire_world_corpus_write(const aspire_world_corpus_opts *o);

typedef struct aspire_world_preview_opts {
    const char *out;           /* PNG path */
    const char *font;
    uint64_t seed;             /* [0] */
    int size;                  /* tile side [64] */
    int cols;                  /* samples per group [8] */
    int by_place;              /* 1: the four Waterbirds groups (class × place); 0: class × background [0] */
    aspire_world_style style;
} aspire_world_preview_opts;

ASPIRE_API void aspire_world_preview_opts_default(aspire_world_preview_opts *o);
/* Renders the contact sheet into a new RGB image *sheet (caller-owned struct, freed with
 * aspire_image_destroy): one row per group, o->cols samples each, labelled; o->out is ignored. */
ASPIRE_API int aspire_world_preview_render(const aspire_world *w, const aspire_world_preview_opts *o,
                                           aspire_image *sheet);
/* Writes a labelled contact sheet: one row per group, o->cols samples each. */
ASPIRE_API int aspire_world_preview_write(const aspire_world_preview_opts *o);

#endif
