/* generator.h — the built-in text-to-image diffusion model (aspire's counterpart of Stable
 * Diffusion), its pretraining on the world corpus, textual inversion and DDIM sampling.
 *
 * Text encoder: token + position embeddings over the corpus caption vocabulary, pre-norm
 * transformer blocks (bidirectional self-attention, GELU MLP) and a final layer norm -> (L, d_text)
 * per prompt. New tokens (textual inversion's placeholders) are extra rows kept apart from the
 * trained table, so they can be added without retraining anything.
 * Denoiser: a pixel-space U-Net at image_size (32) px: a patch-`patch` stem conv, per resolution a
 * residual block (group norm, SiLU, 3×3 convs, the time embedding added per channel) followed by
 * cross-attention to the text tokens, stride-2 downsampling, nearest upsampling with skip
 * concatenation, and a transposed patch conv back to RGB. It predicts v (v = √ᾱ ε − √(1−ᾱ) x₀) under
 * a cosine noise schedule; images are scaled to [-1, 1] and written upsampled to out_size (64) px.
 *
 * A model file is a safetensors file with every parameter and, in its metadata, "vocab"
 * (vocab.h's serialisation), "config" (JSON of aspire_generator_config) and "recipe". A textual
 * inversion file ("learned embeds") holds one (d_text) float32 tensor per placeholder, keyed by
 * the placeholder string, e.g. "<waterbird>", with "d_text" and "init_words" in its metadata. */
#ifndef ASPIRE_GENERATOR_H
#define ASPIRE_GENERATOR_H

#include "aspire/engine.h"
#include "aspire/image.h"
#include "aspire/vocab.h"

#define ASPIRE_GENERATOR_MAX_LEVELS 4
#define ASPIRE_GENERATOR_MAX_TOKEN 64   /* longest placeholder string, bytes */

typedef struct aspire_generator_config {
    int image_size;                          /* the denoiser's resolution in pixels [32] */
    int out_size;                            /* side of the images written [64] */
    int patch;                               /* stem conv kernel = stride [2] */
    int nlevels;                             /* U-Net resolutions [2] */
    int widths[ASPIRE_GENERATOR_MAX_LEVELS]; /* channels per resolution [48, 96] */
    int groups;                              /* group-norm groups (divides every width) [8] */
    int heads;                               /* cross-attention heads [2] */
    int d_time;                              /* time-embedding width [128] */
    int d_text;                              /* text encoder width [64] */
    int text_layers;                         /* [2] */
    int text_heads;                          /* [2] */
    int max_len;                             /* tokens per prompt, <bos> and <eos> included [20] */
    int timesteps;                           /* diffusion steps T of the schedule [1000] */
    int vocab_size;                          /* set from the vocabulary */
} aspire_generator_config;

ASPIRE_API aspire_generator_config aspire_generator_default_config(void);

typedef struct aspire_generator aspire_generator;

/* A new model with fresh weights (deterministic in seed) over a copy of the vocabulary.
 * ASPIRE_ERR_ARG for an inconsistent config. Free with aspire_generator_free (NULL ok). */
ASPIRE_API int aspire_generator_new(aspire_generator **out, const aspire_generator_config *cfg,
                                    const aspire_vocab *vocab, uint64_t seed);
ASPIRE_API void aspire_generator_free(aspire_generator *g);
/* Loads a model file. Bad files are refused naming the file and the entry. *recipe as in the
 * captioner (may be NULL; free with aspire_strfree). */
ASPIRE_API int aspire_generator_load(aspire_generator **out, const char *path, char **recipe);
/* Writes the model file atomically (placeholders are not part of it); recipe may be NULL. */
ASPIRE_API int aspire_generator_save(const aspire_generator *g, const char *path, const char *recipe);
/* Where the shipped model is: models_dir/generator.safetensors when models_dir is given (the
 * program passes $ASPIRE_MODELS), else models/generator.safetensors if it exists (a checkout's
 * root), else the source tree's (aspire_model_path). Written into buf (n bytes); returns buf. */
ASPIRE_API const char *aspire_generator_default_model(const char *models_dir, char *buf, size_t n);

ASPIRE_API aspire_params *aspire_generator_params(aspire_generator *g);
ASPIRE_API const aspire_vocab *aspire_generator_vocab(const aspire_generator *g);
ASPIRE_API const aspire_generator_config *aspire_generator_get_config(const aspire_generator *g);
ASPIRE_API char *aspire_generator_config_json(const aspire_generator_config *cfg);
/* Forward multiply-adds ×2 of one denoiser evaluation (text encoder excluded). */
ASPIRE_API double aspire_generator_flops(const aspire_generator *g);

/* ---- placeholders (textual inversion) --------------------------------------------------------- */
/* Adds a placeholder token (e.g. "<waterbird>": 3..63 bytes, '<' first and '>' last, no spaces)
 * whose embedding starts as a copy of init_word's row (a vocabulary word; ASPIRE_ERR_ARG names it
 * if it is not one). Returns its token id through *id (may be NULL). A name already present is
 * refused. The placeholder tensors form their own parameter set (aspire_generator_placeholders). */
ASPIRE_API int aspire_generator_add_token(aspire_generator *g, const char *name, const char *init_word, int *id);
ASPIRE_API int aspire_generator_ntokens(const aspire_generator *g);
ASPIRE_API const char *aspire_generator_token_name(const aspire_generator *g, int k);
ASPIRE_API aspire_params *aspire_generator_placeholders(aspire_generator *g);
/* Saves every placeholder's embedding (learned embeds, keyed by name) atomically. */
ASPIRE_API int aspire_generator_embeds_save(const aspire_generator *g, const char *path);
/* The same, recording each placeholder's class (labels[k] for placeholder k, in file order) in the
 * metadata ("labels": "0,1"), so that generation labels its images with the class it learned. */
ASPIRE_API int aspire_generator_embeds_save_labeled(const aspire_generator *g, const char *path, const int *labels);
/* The classes of an embeds file's n placeholders (file order) into labels[n]: ASPIRE_OK, or
 * ASPIRE_ERR_NOTFOUND when the file records none (then placeholder k is class k), or
 * ASPIRE_ERR_FORMAT naming the file for a malformed list. */
ASPIRE_API int aspire_generator_embeds_labels(const char *path, int *labels, int n);
/* Loads learned embeds and adds each as a placeholder. A file that is not safetensors, a tensor
 * that is not float32 (d_text) or a key that is not a placeholder name is refused naming the file
 * and the key. The names are returned in file order through *names / *n (may be NULL; free each
 * with aspire_strfree and the array with aspire_free). */
ASPIRE_API int aspire_generator_embeds_load(aspire_generator *g, const char *path, char ***names, int *n);

/* Encodes a prompt into ids[0..max_len): <bos>, words (through the vocabulary; placeholders by
 * name), <eos>, <pad>s. A "<...>" word that is not a placeholder of the model is refused
 * (ASPIRE_ERR_ARG naming it). Returns ASPIRE_OK. */
ASPIRE_API int aspire_generator_encode(const aspire_generator *g, const char *prompt, int32_t *ids);

/* ---- forward passes ---------------------------------------------------------------------------- */
/* ids (N, max_len) -> text features (N, max_len, d_text). */
ASPIRE_API aspire_tensor *aspire_generator_text(aspire_ctx *ctx, aspire_generator *g, const int32_t *ids, int N);
/* Denoiser: x_t (N, S, S, 3), t[N] in [0, T), text (N, L, d_text) -> v prediction (N, S, S, 3). */
ASPIRE_API aspire_tensor *aspire_generator_denoise(aspire_ctx *ctx, aspire_generator *g, aspire_tensor *x,
                                                   const int *t, aspire_tensor *text);
/* The diffusion loss of a batch: x0 (N, S, S, 3) in [-1, 1], ids (N, max_len), timesteps and noise
 * drawn from rng -> mean squared error of the v prediction, shape (1). */
ASPIRE_API aspire_tensor *aspire_generator_loss(aspire_ctx *ctx, aspire_generator *g, aspire_tensor *x0,
                                                const int32_t *ids, aspire_rng *rng);
/* The same with the timesteps drawn uniformly from [t_lo, t_hi) instead of [0, T); 0 <= t_lo < t_hi <= T
 * (NULL when they are not). Textual inversion trains on the noisier part alone (docs/generator.md). */
ASPIRE_API aspire_tensor *aspire_generator_loss_range(aspire_ctx *ctx, aspire_generator *g, aspire_tensor *x0,
                                                      const int32_t *ids, aspire_rng *rng, int t_lo, int t_hi);

/* ---- schedule and sampler (diffusion.c) -------------------------------------------------------- */
/* Cosine schedule (Nichol & Dhariwal): ᾱ(t) = f(t + 1) / f(0), f(s) = cos²(((s / T) + 0.008) / 1.008 · π/2),
 * t in [0, T), clipped so that β = 1 - ᾱ(t)/ᾱ(t-1) <= 0.999. */
ASPIRE_API double aspire_diffusion_alpha_bar(int T, int t);
/* The DDIM timesteps for `steps` steps: ts[i] = floor((steps - 1 - i) * T / steps), descending,
 * ending at 0. */
ASPIRE_API void aspire_diffusion_timesteps(int T, int steps, int *ts);
/* One DDIM update of n values from ᾱ = ab to ᾱ_prev = ab_prev (1.0 for the final step) given the v
 * prediction: x0 = √ab x − √(1−ab) v clipped to [-1, 1], ε = (x − √ab x0)/√(1−ab),
 * σ = η √((1−ab_prev)/(1−ab)) √(1 − ab/ab_prev), x ← √ab_prev x0 + √(1−ab_prev−σ²) ε + σ z.
 * z may be NULL when eta is 0. */
ASPIRE_API void aspire_ddim_step(float *x, const float *v, const float *z, int64_t n, double ab, double ab_prev,
                                 double eta);

typedef struct aspire_sample_opts {
    int steps;      /* DDIM steps [25] */
    float scale;    /* classifier-free guidance scale (1 = none) [3] */
    float eta;      /* DDIM η (0 = deterministic) [0] */
    float strength; /* start images only (SDEdit): how far they are noised, in (0, 1]; 1 = pure noise [1] */
    const char *negative; /* the guidance's other prompt (a negative prompt: v = v_neg + scale (v - v_neg));
                           * NULL or "" = the empty prompt, classifier-free guidance proper [NULL] */
} aspire_sample_opts;
ASPIRE_API void aspire_sample_opts_default(aspire_sample_opts *o);

/* Samples N images for the prompts ids (N, max_len), image i from its own random stream seeded
 * by seeds[i] (so an image does not depend on its batch). Conditional and unconditional passes run
 * as one batch. out receives (N, S, S, 3) floats in [-1, 1]. Evaluation mode, no recording;
 * resets the context's arena. */
ASPIRE_API int aspire_generator_sample(aspire_ctx *ctx, aspire_generator *g, const int32_t *ids, int N,
                                       const uint64_t *seeds, const aspire_sample_opts *o, float *out);
/* The same from start images (SDEdit, as DA-Fusion augments with textual-inversion tokens): init
 * (N, S, S, 3) in [-1, 1] is noised to the first DDIM timestep at or below strength·(T − 1) with
 * image i's own noise, then denoised with the prompts; at strength 1 the start images are all
 * but drowned at the first step, small strengths keep their layout and colours. */
ASPIRE_API int aspire_generator_sample_from(aspire_ctx *ctx, aspire_generator *g, const int32_t *ids, int N,
                                            const uint64_t *seeds, const aspire_sample_opts *o, const float *init,
                                            float *out);
/* Converts one sample (S, S, 3) in [-1, 1] to an out_size × out_size RGB image (bilinear). */
ASPIRE_API int aspire_generator_to_image(const aspire_generator *g, const float *x, aspire_image *img);
/* Writes an image as model input (S, S, 3) in [-1, 1] (area-resized to image_size), flipped
 * horizontally if flip. */
ASPIRE_API int aspire_generator_pixels(const aspire_generator *g, const aspire_image *img, int flip, float *dst);

/* ---- pretraining (generator_train.c) ----------------------------------------------------------- */
typedef struct aspire_generator_train_opts {
    aspire_generator_config cfg;
    int steps;                 /* optimizer steps [40000: the shipped model] */
    int batch;                 /* [32] */
    float lr;                  /* AdamW peak [1e-3] */
    float min_lr;              /* cosine floor [1e-4] */
    int warmup;                /* [200] */
    float weight_decay;        /* [0.01] */
    float clip;                /* gradient-norm clip [1] */
    float drop_caption;        /* probability of training on the empty prompt (CFG) [0.1] */
    float ema;                 /* EMA decay of the weights written (0 = none) [0.999] */
    int min_count;             /* vocabulary: words seen fewer times are <unk> [2] */
    double max_minutes;        /* stop after this much wall time of this run (0 = never) */
    int stop_at;               /* stop this run once this many steps are done (0 = at `steps`); the
                                * schedule still spans `steps`, so a later --resume continues it */
    uint64_t seed;
    int progress;
    const char *checkpoint;    /* checkpoint file (model + EMA + optimizer + step), or NULL */
    int checkpoint_every;      /* steps [250] */
    int resume;                /* continue from `checkpoint` if it exists */
} aspire_generator_train_opts;

ASPIRE_API void aspire_generator_train_opts_default(aspire_generator_train_opts *o);

/* Trains on n images (n, S, S, 3) bytes at cfg.image_size and their captions (ncap per image,
 * NULL-padded): vocabulary from the captions, v-prediction MSE, captions dropped with
 * probability drop_caption, random horizontal flips, AdamW with warm-up and cosine decay, an EMA
 * of the weights (what *out holds). Each step's randomness is forked from (seed, step), so a run
 * resumed from a checkpoint continues exactly. *steps_done (may be NULL) gets the steps reached;
 * *recipe (may be NULL) a one-line description. */
ASPIRE_API int aspire_generator_train(aspire_generator **out, const uint8_t *pixels, int n, char *const *captions,
                                      int ncap, const aspire_generator_train_opts *o, int *steps_done,
                                      char **recipe);

#endif
