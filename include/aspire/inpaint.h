/* inpaint.h — the inpainter (aspire's counterpart of LaMa): an RGB image and a mask in, the masked
 * region filled with plausible background out.
 *
 * Masks everywhere in this module are `const uint8_t *mask`, h*w bytes, row-major, one byte per
 * pixel of the image: nonzero = inside the region to fill (the hole), 0 = keep. The segmenter's
 * masks (mask.h, uint8 h×w) are taken as they are.
 *
 * The contract every backend shares, enforced by aspire_inpainter_run whatever the backend returns:
 * pixels outside the mask are copied bit-exactly from the input; only pixels inside the mask may
 * change.
 *
 * Two built-in backends behind one small table (like the extractor's, so that another model can be
 * plugged in without touching the callers):
 *   - classical: Telea's fast-marching inpainting (src/imgproc/inpaint_classical.c), no model file;
 *     the comparison row and the fallback when no model file exists;
 *   - learned: a small U-Net (src/models/inpainter.c) that reads the image with the hole zeroed plus
 *     the mask channel at its own size (64×64 for the shipped model) and predicts the fill; images
 *     of other sizes are resized for the prediction and the fill resized back, then composited at
 *     full resolution inside the mask. Trained on the world (aspire pretrain inpainter) with
 *     object-shaped holes whose target is the exact remove-counterfactual. */
#ifndef ASPIRE_INPAINT_H
#define ASPIRE_INPAINT_H

#include "aspire/common.h"
#include "aspire/engine.h"
#include "aspire/image.h"
#include "aspire/mask.h"

/* ---- classical ------------------------------------------------------------------------------- */

/* Telea's fast-marching inpainting (A. Telea, "An image inpainting technique based on the fast
 * marching method", 2004): the hole is filled from its boundary inwards in order of distance; each
 * pixel becomes a weighted mean of the known pixels within `radius` (direction × level-set distance
 * × geometric distance weights) plus a first-order gradient correction. img is RGB (c = 3) or grey;
 * out (caller-owned struct) receives a new image of the same shape. radius ≤ 0 picks 5 px at 64 px
 * (scaled with the image side, at least 3). A mask with no nonzero byte gives a copy; a mask that
 * covers the whole image gives mid grey (nothing to propagate). ASPIRE_ERR_NOMEM only. */
ASPIRE_API int aspire_inpaint_telea(const aspire_image *img, const uint8_t *mask, int radius, aspire_image *out);

/* ---- the learned model ----------------------------------------------------------------------- */

#define ASPIRE_INPAINT_MAX_LEVELS 5

/* The U-Net's shape. Encoder level 0 runs at image_size, each further level at half the side of the
 * one before (a stride-2 conv); the decoder upsamples (nearest) and concatenates the encoder's level
 * of the same size before each of its convs. */
typedef struct aspire_inpaint_config {
    int image_size;                              /* input side (divisible by 2^(levels-1)) */
    int levels;                                  /* 2..ASPIRE_INPAINT_MAX_LEVELS */
    int enc[ASPIRE_INPAINT_MAX_LEVELS];          /* encoder channels per level */
    int dec[ASPIRE_INPAINT_MAX_LEVELS];          /* decoder channels per level (dec[levels-1] unused) */
} aspire_inpaint_config;

/* The shipped shape: 64×64, 4 levels, encoder 16-32-64-96, decoder 16-24-48. */
ASPIRE_API aspire_inpaint_config aspire_inpaint_default_config(void);

typedef struct aspire_inpaint_model aspire_inpaint_model;

/* A model with fresh weights (deterministic in seed). ASPIRE_ERR_ARG for a bad config. */
ASPIRE_API int aspire_inpaint_model_new(aspire_inpaint_model **out, const aspire_inpaint_config *cfg, uint64_t seed);
ASPIRE_API void aspire_inpaint_model_free(aspire_inpaint_model *m);  /* accepts NULL */
/* Model files: safetensors with metadata "format" = "aspire-inpainter-1", "config" (JSON of the
 * config) and "recipe" (how it was trained). Load refuses a missing file, another format, a bad
 * config or a tensor of the wrong shape with a message naming the file. *recipe (if not NULL)
 * receives a copy of the recipe (free with aspire_strfree). */
ASPIRE_API int aspire_inpaint_model_save(const aspire_inpaint_model *m, const char *path, const char *recipe);
ASPIRE_API int aspire_inpaint_model_load(aspire_inpaint_model **out, const char *path, char **recipe);
/* Where the shipped model is: models_dir/inpainter.safetensors when models_dir is given (the
 * program passes $ASPIRE_MODELS), else models/inpainter.safetensors if it exists (a checkout's
 * root), else the source tree's (aspire_model_path). Written into buf (n bytes); returns buf. */
ASPIRE_API const char *aspire_inpaint_default_model(const char *models_dir, char *buf, size_t n);
ASPIRE_API aspire_params *aspire_inpaint_model_params(aspire_inpaint_model *m);
ASPIRE_API const aspire_inpaint_config *aspire_inpaint_model_config(const aspire_inpaint_model *m);
/* The config as one JSON object (new string; aspire_strfree). */
ASPIRE_API char *aspire_inpaint_config_json(const aspire_inpaint_config *cfg);

/* The network's input for one image at the model's size S: dst (S*S*4 floats, HWC) = RGB scaled to
 * (x/255 - 0.5)/0.25, set to 0 inside the hole, then the mask channel (1 inside, 0 outside).
 * rgb is S*S*3 bytes, mask S*S bytes. */
ASPIRE_API void aspire_inpaint_model_input(int S, const uint8_t *rgb, const uint8_t *mask, float *dst);
/* Forward pass: x (N, S, S, 4) as above -> the composited prediction (N, S, S, 3) in the scaled
 * space: the network's output inside the hole (x's mask channel), x's own pixels outside. Recording
 * follows the context. */
ASPIRE_API aspire_tensor *aspire_inpaint_model_forward(aspire_ctx *ctx, aspire_inpaint_model *m, aspire_tensor *x);

typedef struct aspire_inpaint_train_opts {
    aspire_inpaint_config cfg;
    int steps;               /* optimizer steps [2400] */
    int batch;               /* examples per step [32] */
    float lr;                /* peak AdamW rate [2e-3] */
    float min_lr;            /* cosine floor [5e-5] */
    int warmup;              /* [100] */
    float weight_decay;      /* [1e-4] */
    float p_all;             /* probability that an example removes every object (a plate) [0.2] */
    int max_objects;         /* context objects per scene, uniform in 0..max_objects, as the corpus [3] */
    const char *font;        /* the world's emoji font (NULL = default) */
    double max_minutes;      /* stop after this much wall time (0 = never) [0]; the cosine then runs on
                                the larger of the step and the time fraction (annealed by the limit;
                                such a run depends on the machine's speed) */
    uint64_t seed;           /* [0] */
    int progress;            /* progress line on stderr [1] */
    const char *checkpoint;  /* if set: model + optimizer state written there every checkpoint_every steps */
    int checkpoint_every;    /* [200] */
    int resume;              /* 1: continue from the checkpoint if it exists */
} aspire_inpaint_train_opts;

ASPIRE_API void aspire_inpaint_train_opts_default(aspire_inpaint_train_opts *o);
/* Trains a new model on the world: each example is a corpus-like scene (every bird on every
 * background, 0..max_objects context objects) rendered by the world, a hole that is one object's
 * instance mask (or, with probability p_all, every object's), dilated by 1 or 2 px, and the target
 * the exact remove-counterfactual rendered from the same scene without the object(s). Loss: mean
 * squared error of the composited prediction (so only hole pixels count) in the scaled space.
 * AdamW, linear warm-up then cosine. Examples are a function of (seed, step, slot), so a run is
 * deterministic in (options, thread count) and --resume continues the same stream. *recipe (if not
 * NULL) receives a one-line description for the model file. */
ASPIRE_API int aspire_inpaint_train(aspire_inpaint_model **out, const aspire_inpaint_train_opts *o, char **recipe);

/* ---- the inpainter: backend table ------------------------------------------------------------ */

/* A backend. `impl` is its own state, owned by the inpainter once aspire_inpainter_new succeeds.
 *   fill  fills n images: imgs[i] is RGB (c = 3), masks[i] its h*w mask; outs[i] (zeroed,
 *         caller-owned structs) receive new RGB images of the same size. The backend may write
 *         any pixel; the inpainter copies the pixels outside the mask back afterwards.
 *   free  releases impl (may be NULL).
 * One inpainter is not meant to be used from several threads at once. */
typedef struct aspire_inpainter_backend {
    const char *name;
    int (*fill)(void *impl, const aspire_image *imgs, const uint8_t *const *masks, int n, aspire_image *outs);
    void (*free)(void *impl);
} aspire_inpainter_backend;

typedef struct aspire_inpainter aspire_inpainter;

/* Wraps a backend (static table); impl becomes owned by the inpainter, also when this fails. */
ASPIRE_API int aspire_inpainter_new(const aspire_inpainter_backend *backend, void *impl, aspire_inpainter **out);
/* The classical backend (Telea, radius as aspire_inpaint_telea). */
ASPIRE_API int aspire_inpainter_new_classical(int radius, aspire_inpainter **out);
/* The learned backend from a model file; `threads` for its engine context (0 = all cores),
 * `batch` images per forward pass (0 = 64). */
ASPIRE_API int aspire_inpainter_new_learned(const char *path, int threads, int batch, aspire_inpainter **out);
/* The same around a model in memory (owned by the inpainter afterwards, also on failure). */
ASPIRE_API int aspire_inpainter_new_model(aspire_inpaint_model *m, int threads, int batch, aspire_inpainter **out);
/* The learned backend from `path` (NULL = aspire_inpaint_default_model(NULL, ...)) if that file exists, else
 * the classical one (the fallback). A file that exists but does not load is an error. */
ASPIRE_API int aspire_inpainter_new_default(const char *path, int threads, aspire_inpainter **out);
ASPIRE_API void aspire_inpainter_free(aspire_inpainter *inp);  /* accepts NULL */
ASPIRE_API const char *aspire_inpainter_name(const aspire_inpainter *inp);

/* Fills n images (RGB; any other channel count is converted first). outs[i] (caller-owned structs)
 * receive new RGB images, bit-identical to imgs[i] outside masks[i]. ASPIRE_ERR_ARG for n < 0. */
ASPIRE_API int aspire_inpainter_run(aspire_inpainter *inp, const aspire_image *imgs, const uint8_t *const *masks, int n,
                                    aspire_image *outs);

/* ---- masks ----------------------------------------------------------------------------------- */
/* Dilation is mask.h's (aspire_mask_dilate). These two stay here because they mean something else
 * than mask.h's counterparts: a mask file's region is its first channel's nonzero pixels (mask.h's
 * loader thresholds luma at 128), and the model-side resize is conservative (mask.h's is nearest
 * neighbour); switching would change which pixels are inpainted. */

/* Loads a mask PNG (grey or any channels; a pixel is in the region if its first channel is
 * nonzero) into a new h*w byte array *mask (1 = region; free with aspire_free). The size must be
 * want_w × want_h unless those are 0; then *w, *h receive it. A missing or bad file, or a size that
 * differs from the image's, is refused naming the file. */
ASPIRE_API int aspire_inpaint_mask_load(const char *path, int want_w, int want_h, uint8_t **mask, int *w, int *h);
/* Resizes a mask to w2×h2 into dst (w2*h2 bytes, values 0/1): a pixel is in if any source pixel it
 * overlaps is in (conservative: a shrunk hole still covers the whole object). */
ASPIRE_API void aspire_inpaint_mask_resize(const uint8_t *src, int w, int h, uint8_t *dst, int w2, int h2);

#endif
