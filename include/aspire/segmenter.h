/* segmenter.h — phrase grounding and segmentation: the counterpart of Grounding DINO + SAM.
 *
 * An image (any size, RGB) and a free-text phrase ("sailboat", "a boat", "the two trees",
 * "mallard", "bird") give a binary mask at the image's size and its box, or "absent" when the
 * phrase is not in the image. Every instance the phrase names is in the mask (the reference unites
 * the masks of all the boxes Grounding DINO finds). Masks follow mask.h: 0/255 bytes, h × w.
 *
 * A segmenter is an object with a backend behind a small table of functions (as the extractor's),
 * so a real grounding model can be plugged in without touching the callers. The built-in backend
 * (aspire_segmenter_open) is a small U-Net (aspire_segnet below) that labels every pixel of a 64 ×
 * 64 copy of the image with one of the concepts it was trained on (the world's birds and context
 * objects) or background; a phrase is resolved to a set of concepts through the model's phrase
 * vocabulary ("boat" → sailboat, "tree" → pine tree + tree, "bird" → every bird), with determiners,
 * numbers and plurals stripped and, for words outside the vocabulary, WordNet's synonyms and
 * hypernyms ("drake" → duck, "sparrow" → bird); its mask is where the probability of that set is at
 * least the model's pixel threshold (tuned on held-out images). See docs/segmenter.md. */
#ifndef ASPIRE_SEGMENTER_H
#define ASPIRE_SEGMENTER_H

#include "aspire/engine.h"
#include "aspire/image.h"
#include "aspire/mask.h"

/* One image's result. Caller-owned struct; release the mask with aspire_segment_destroy. */
typedef struct aspire_segment {
    int w, h;          /* the image's size */
    uint8_t *mask;     /* h × w bytes, 0/255 (mask.h), dilated as asked; all 0 when absent */
    int present;       /* 1: the phrase was found */
    aspire_box box;    /* box of the (dilated) mask; {0, 0, 0, 0} when absent */
    int64_t area;      /* inside pixels of the (dilated) mask; 0 when absent */
    float score;       /* the backend's confidence that the phrase is in the image, in [0, 1] */
} aspire_segment;

/* Frees the mask and zeroes the struct; accepts NULL and a zeroed struct. */
ASPIRE_API void aspire_segment_destroy(aspire_segment *s);

/* A backend: what a segmenter calls. `impl` is owned by the segmenter once aspire_segmenter_new
 * succeeds. Calls are serialised by the caller (a segmenter is used from one thread at a time).
 *   segment  for n images (RGB, any size) and one phrase, fills out[i] (zeroed on entry): w, h,
 *            a new undilated mask (aspire_malloc, 0/255), present and score (box and area are
 *            filled in by the segmenter). A phrase the backend cannot ground at all (unknown
 *            words) is refused with ASPIRE_ERR_NOTFOUND and a message that names the phrase.
 *   resolve  optional (NULL): what the phrase is taken to mean, as a new string ("sailboat" for
 *            "a boat"), or ASPIRE_ERR_NOTFOUND with the message segment would give.
 *   free     releases impl; may be NULL. */
typedef struct aspire_segmenter_backend {
    const char *name;
    int (*segment)(void *impl, const aspire_image *images, int n, const char *phrase, aspire_segment *out);
    int (*resolve)(void *impl, const char *phrase, char **meaning);
    void (*free)(void *impl);
} aspire_segmenter_backend;

typedef struct aspire_segmenter aspire_segmenter;

/* Wraps a backend (`backend` must outlive the segmenter; `impl` becomes owned by it, also when this
 * fails). Returns ASPIRE_OK or ASPIRE_ERR_NOMEM. Free with aspire_segmenter_free (NULL ok). */
ASPIRE_API int aspire_segmenter_new(const aspire_segmenter_backend *backend, void *impl, aspire_segmenter **out);
/* The built-in backend from a model file; path NULL = the shipped model
 * (aspire_segmenter_default_model(NULL, ...)). threads: 0 = all cores. A missing or malformed file is refused
 * naming it. */
ASPIRE_API int aspire_segmenter_open(aspire_segmenter **out, const char *path, int threads);
ASPIRE_API void aspire_segmenter_free(aspire_segmenter *seg);
ASPIRE_API const char *aspire_segmenter_backend_name(const aspire_segmenter *seg);
/* Where the shipped model is: models_dir/segmenter.safetensors when models_dir is given (the
 * program passes $ASPIRE_MODELS), else models/segmenter.safetensors if it exists (a checkout's
 * root), else the source tree's (aspire_model_path). Written into buf (n bytes); returns buf. */
ASPIRE_API const char *aspire_segmenter_default_model(const char *models_dir, char *buf, size_t n);

/* Segments n images for one phrase. dilate: the radius of the square dilation applied to each
 * mask (mask.h), -1 = aspire_mask_default_radius for each image's size (1 px at 64 px, 5 at 512),
 * 0 = none. out[0..n) are overwritten (destroy each afterwards, also after a failure). Returns
 * ASPIRE_OK; ASPIRE_ERR_NOTFOUND for a phrase the backend cannot ground (the message names it);
 * ASPIRE_ERR_ARG for an empty phrase or an image that is not RGB or is empty. */
ASPIRE_API int aspire_segmenter_segment(aspire_segmenter *seg, const aspire_image *images, int n,
                                        const char *phrase, int dilate, aspire_segment *out);
/* What the backend takes the phrase to mean (new string, aspire_strfree), or ASPIRE_ERR_NOTFOUND
 * with the reason; a backend without resolve gives a copy of the phrase. */
ASPIRE_API int aspire_segmenter_resolve(aspire_segmenter *seg, const char *phrase, char **meaning);

/* ---- the built-in network ---------------------------------------------------------------------
 * A U-Net over NHWC images scaled as (x / 255 - 0.5) / 0.25: per level two 3 × 3 convs (bias,
 * ReLU), a 2 × 2 max pool between levels; the decoder goes back up level by level (1 × 1 conv to
 * the level's width, nearest 2× upsampling, the skip added, a 3 × 3 conv with ReLU) to a 1 × 1 head
 * of nconcepts + 1 logits per pixel (0 = background). Trained with per-pixel cross-entropy on the
 * world corpus's instance masks. */
#define ASPIRE_SEGNET_MAX_LEVELS 5
#define ASPIRE_SEGNET_MAX_CONCEPTS 63

typedef struct aspire_segnet_config {
    int image_size;                         /* input side (images are resized to it) [64] */
    int nlevels;                            /* resolutions image_size, /2, ... [4] */
    int widths[ASPIRE_SEGNET_MAX_LEVELS];   /* channels per level [16, 24, 48, 64] */
    int nconcepts;                          /* set from the concept list */
} aspire_segnet_config;

ASPIRE_API aspire_segnet_config aspire_segnet_default_config(void);

/* The phrase vocabulary: each entry a phrase ("boat", "pine tree", "bird") and the set of concepts
 * (bit c = concept c) it names. Serialised in the model file as "phrase=c,c,...;phrase=...". */
typedef struct aspire_segnet_vocab {
    int nconcepts;
    const char *const *concepts;   /* concept names, e.g. the world's emoji names */
    int nphrases;
    const char *const *phrases;
    const uint64_t *sets;
} aspire_segnet_vocab;

/* Decision thresholds, tuned on held-out images at pretraining: a pixel is in the mask when the
 * phrase's probability is >= pixel; the phrase is present when the mask has at least min_area
 * pixels (at image_size) and its peak probability is >= min_peak. */
typedef struct aspire_segnet_thresholds {
    float pixel, min_peak;
    int min_area;
} aspire_segnet_thresholds;

typedef struct aspire_segnet aspire_segnet;

/* New network with fresh weights (deterministic in seed) over a copy of the vocabulary. */
ASPIRE_API int aspire_segnet_new(aspire_segnet **out, const aspire_segnet_config *cfg,
                                 const aspire_segnet_vocab *vocab, uint64_t seed);
ASPIRE_API void aspire_segnet_free(aspire_segnet *net);
/* Model file: every parameter, and metadata "format" (aspire-segmenter-1), "config" (JSON),
 * "concepts" (comma-separated), "phrases" (as above), "thresholds" (JSON) and "recipe". Load
 * refuses a missing file, missing metadata or a wrong tensor naming the file; *recipe (may be
 * NULL) gets a copy of the recipe. */
ASPIRE_API int aspire_segnet_load(aspire_segnet **out, const char *path, char **recipe);
ASPIRE_API int aspire_segnet_save(const aspire_segnet *net, const char *path, const char *recipe);
ASPIRE_API aspire_params *aspire_segnet_params(aspire_segnet *net);
ASPIRE_API const aspire_segnet_config *aspire_segnet_get_config(const aspire_segnet *net);
ASPIRE_API aspire_segnet_thresholds aspire_segnet_get_thresholds(const aspire_segnet *net);
ASPIRE_API void aspire_segnet_set_thresholds(aspire_segnet *net, aspire_segnet_thresholds t);
ASPIRE_API const char *aspire_segnet_concept(const aspire_segnet *net, int c);
/* Forward multiply-adds × 2 for one image. */
ASPIRE_API double aspire_segnet_flops(const aspire_segnet *net);

/* Resolves a phrase to a concept set: lower-cased; punctuation, determiners, numbers and a few
 * adjectives of count or size dropped; "and"/"," join parts (the union of their sets); each part's
 * longest vocabulary match, trying plural → singular ("geese" → goose, "trees" → tree); a part
 * with no match goes through WordNet (aspire_wordnet_related: synonyms, then hypernyms, nearest
 * first) until one is in the vocabulary. Returns ASPIRE_OK and *set (nonzero); ASPIRE_ERR_NOTFOUND
 * with a message naming the phrase and the word that is unknown; ASPIRE_ERR_ARG for an empty
 * phrase. `how` (may be NULL, n bytes) receives the path taken ("drake → duck (WordNet)"). */
ASPIRE_API int aspire_segnet_resolve(const aspire_segnet *net, const char *phrase, uint64_t *set, char *how, size_t n);

/* Images as the network's input: each resized (area) to image_size², scaled; x (n, S, S, 3). */
ASPIRE_API aspire_tensor *aspire_segnet_input(aspire_ctx *ctx, const aspire_segnet *net, const aspire_image *images, int n);
/* Logits (N, S, S, nconcepts + 1) for x (N, S, S, 3); training mode and recording follow ctx. */
ASPIRE_API aspire_tensor *aspire_segnet_forward(aspire_ctx *ctx, aspire_segnet *net, aspire_tensor *x);
/* Per-pixel cross-entropy against label maps (N, S, S) in [0, nconcepts], object pixels weighted
 * by fg_weight (background 1); mean over pixels -> (1). */
ASPIRE_API aspire_tensor *aspire_segnet_loss(aspire_ctx *ctx, aspire_segnet *net, aspire_tensor *x,
                                             const uint8_t *labels, float fg_weight);
/* P(pixel belongs to a concept of `set`) at S × S for each image: prob (n, S, S). Evaluation mode,
 * no recording; uses and resets the context's arena. */
ASPIRE_API int aspire_segnet_probs(aspire_ctx *ctx, aspire_segnet *net, const aspire_image *images, int n,
                                   uint64_t set, float *prob);
/* Builds a segmenter around the network (which it then owns, also on failure) with a context of
 * `threads` threads. */
ASPIRE_API int aspire_segmenter_from_segnet(aspire_segmenter **out, aspire_segnet *net, int threads);

/* ---- pretraining ------------------------------------------------------------------------------ */
/* Images with per-pixel concept labels: the world corpus (scenes.jsonl, images, masks/) of one split. */
typedef struct aspire_seg_corpus {
    int n, size;
    uint8_t *pixels;   /* (n, size, size, 3) */
    uint8_t *labels;   /* (n, size, size): 0 background, c + 1 for concept c */
    uint64_t *present; /* (n) concepts present (bit c) */
    int64_t *ids;      /* (n) img_id */
} aspire_seg_corpus;

/* The built-in vocabulary over the world's 22 emoji (concept c = aspire_world_emoji c): each
 * emoji's names and the caption synonyms ("mallard", "boat", "evergreen tree", "seashell"), "tree"
 * for both trees, "flower", "bird", "waterbird", "landbird". Static storage. */
ASPIRE_API aspire_segnet_vocab aspire_segnet_world_vocab(void);
/* Loads split `split` (0 pretrain, 2 test; -1 all) of a world corpus folder, at most `limit` images
 * (0 = all); images must be size × size. Errors name the file and line. */
ASPIRE_API int aspire_seg_corpus_load(aspire_seg_corpus *c, const char *dir, int split, int limit, int size);
ASPIRE_API void aspire_seg_corpus_destroy(aspire_seg_corpus *c);

typedef struct aspire_segnet_train_opts {
    aspire_segnet_config cfg;
    int steps;              /* optimizer steps [6000] */
    int schedule_steps;     /* length of the cosine schedule, 0 = steps (a run cut short: steps < schedule_steps) [0] */
    int batch;              /* images per step [32] */
    float lr, min_lr;       /* AdamW peak and cosine floor [3e-3, 3e-5] */
    float weight_decay;     /* [1e-4] */
    int warmup;             /* [200] */
    float fg_weight;        /* loss weight of object pixels [2] */
    int flip;               /* random horizontal flips [1] */
    int val;                /* images held out (the corpus's last) to tune the thresholds [1000] */
    uint64_t seed;          /* [0] */
    int progress;           /* progress line on stderr [1] */
    const char *checkpoint; /* if set, checkpoint (model + optimizer) there every checkpoint_every steps */
    int checkpoint_every;   /* [0 = never] */
    int resume;             /* continue from `checkpoint` if it exists */
} aspire_segnet_train_opts;

ASPIRE_API void aspire_segnet_train_opts_default(aspire_segnet_train_opts *o);
/* Trains a new network on the corpus (the world vocabulary), tunes the thresholds on the held-out
 * images and returns it; *recipe (may be NULL) gets a one-line description (aspire_strfree).
 * Deterministic in (corpus, options, thread count). */
ASPIRE_API int aspire_segnet_train(aspire_segnet **out, const aspire_seg_corpus *corpus,
                                   const aspire_segnet_train_opts *o, char **recipe);

#endif
