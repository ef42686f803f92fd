/* captioner.h — the built-in captioner (aspire's counterpart of GIT): a convolutional image encoder
 * to a grid of features, and an autoregressive transformer decoder over a word vocabulary that
 * cross-attends to the grid. Trained with teacher forcing; decodes greedily or with beam search.
 *
 * Encoder: a 3×3 stem conv (stride 1 or 2), then stride-2 stages of two 3×3 convs (each conv
 * followed by batch norm or a bias, and ReLU), a linear projection of every grid cell to d_model and a learned
 * position embedding per cell. Decoder: token and position embeddings, pre-norm blocks of causal
 * self-attention, cross-attention to the grid, and a GELU MLP; a final layer norm and a linear head
 * to the vocabulary. Images are NHWC, RGB, scaled as (x / 255 - 0.5) / 0.25 (aspire_captioner_pixels).
 *
 * A model file is a safetensors file holding every parameter and, in its metadata, "vocab" (the
 * vocabulary, vocab.h's serialisation), "config" (JSON of aspire_captioner_config) and "recipe"
 * (how it was trained: free text chosen by the trainer). */
#ifndef ASPIRE_CAPTIONER_H
#define ASPIRE_CAPTIONER_H

#include "aspire/capeval.h"
#include "aspire/engine.h"
#include "aspire/image.h"
#include "aspire/vocab.h"

#define ASPIRE_CAPTIONER_MAX_STAGES 6

typedef struct aspire_captioner_config {
    int image_size;                             /* input side in pixels (images are resized to it) */
    int stem_stride;                            /* 1 or 2 */
    int batchnorm;                              /* 1: conv, batch norm, ReLU; 0: conv with bias, ReLU */
    int nstages;                                /* stem + (nstages - 1) stride-2 stages */
    int widths[ASPIRE_CAPTIONER_MAX_STAGES];    /* channels per stage (widths[0]: the stem) */
    int d_model;                                /* decoder width */
    int n_layers;                               /* decoder blocks */
    int n_heads;                                /* attention heads (d_model % n_heads == 0) */
    int d_ff;                                   /* MLP hidden width */
    int max_len;                                /* tokens per caption, <bos> and <eos> included */
    int vocab_size;                             /* set from the vocabulary */
} aspire_captioner_config;

/* The shipped model's shape: 64×64 input, stride-2 stem, widths 24-32-64-128 without batch norm to a
 * 4×4 grid, d_model 128, 2 blocks of 4 heads, MLP 512, captions up to 20 tokens. vocab_size is
 * left 0. */
ASPIRE_API aspire_captioner_config aspire_captioner_default_config(void);
/* ASPIRE_ERR_ARG naming the first inconsistent field (n_heads not dividing d_model, ...), else
 * ASPIRE_OK. A vocab_size of 0 (not known yet: set from a corpus) is not checked. */
ASPIRE_API int aspire_captioner_config_check(const aspire_captioner_config *cfg);

typedef struct aspire_captioner aspire_captioner;

/* Builds a captioner with freshly initialised weights (deterministic in seed) over a copy of the
 * vocabulary (cfg->vocab_size is taken from it). ASPIRE_ERR_ARG for an inconsistent config.
 * Free with aspire_captioner_free (NULL ok). */
ASPIRE_API int aspire_captioner_new(aspire_captioner **out, const aspire_captioner_config *cfg,
                                    const aspire_vocab *vocab, uint64_t seed);
ASPIRE_API void aspire_captioner_free(aspire_captioner *cap);
/* Loads a model file (weights, vocabulary, config). A missing file, a missing or malformed
 * "vocab"/"config" entry, or a tensor of the wrong shape is refused with a message naming the
 * file. On success *recipe (if not NULL) receives a copy of the "recipe" entry ("" if absent;
 * free with aspire_strfree). */
ASPIRE_API int aspire_captioner_load(aspire_captioner **out, const char *path, char **recipe);
/* Where the shipped model is: models_dir/captioner.safetensors when models_dir is given (the
 * program passes $ASPIRE_MODELS), else models/captioner.safetensors if it exists (a checkout's
 * root), else the source tree's (aspire_model_path). Written into buf (n bytes); returns buf. */
ASPIRE_API const char *aspire_captioner_default_model(const char *models_dir, char *buf, size_t n);
/* Writes the model file atomically; recipe may be NULL. */
ASPIRE_API int aspire_captioner_save(const aspire_captioner *cap, const char *path, const char *recipe);

ASPIRE_API aspire_params *aspire_captioner_params(aspire_captioner *cap);
ASPIRE_API const aspire_vocab *aspire_captioner_vocab(const aspire_captioner *cap);
ASPIRE_API const aspire_captioner_config *aspire_captioner_get_config(const aspire_captioner *cap);
/* The config as one JSON object (new string, free with aspire_strfree; NULL on OOM). */
ASPIRE_API char *aspire_captioner_config_json(const aspire_captioner_config *cfg);
/* Forward multiply-adds ×2 for one image: encoder, plus the decoder for `tokens` tokens. */
ASPIRE_API double aspire_captioner_flops(const aspire_captioner *cap, int tokens);

/* Writes an image as the model's input: resized (area) to image_size × image_size if it is not,
 * RGB, scaled; dst holds image_size² × 3 floats (HWC). */
ASPIRE_API int aspire_captioner_pixels(const aspire_captioner *cap, const aspire_image *img, float *dst);

/* Encoder: x (N, S, S, 3) -> grid memory (N, G, d_model), G = (S / stem_stride / 2^(nstages-1))². Training mode
 * and recording follow the context. */
ASPIRE_API aspire_tensor *aspire_captioner_encode(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x);
/* Teacher-forced loss: x (N, S, S, 3), tokens (N, T) as aspire_vocab_encode writes them (<bos>
 * first, <pad> after <eos>), 2 <= T <= max_len. Predicts tokens[:, 1:] from tokens[:, :-1];
 * returns the mean cross-entropy over the non-pad targets, shape (1). */
ASPIRE_API aspire_tensor *aspire_captioner_loss(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x,
                                                const int32_t *tokens, int T);

/* Teacher-forced logits: x (N, S, S, 3), tokens (N, T) fed as they are (1 <= T <= max_len)
 * -> (N, T, V), position t predicting token t + 1. */
ASPIRE_API aspire_tensor *aspire_captioner_logits(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x,
                                                  const int32_t *tokens, int T);

/* Generates captions for x (N, S, S, 3): beam = 1 greedy, else beam search with `beam` hypotheses
 * per image (ranked by mean log-probability per token, <eos> included). ids (N, max_len) receives
 * each caption's tokens after <bos>, ending with <eos> and padded with <pad>. Runs in evaluation
 * mode without recording (the context's settings are restored); deterministic (ties go to the
 * lower token id, then the lower beam). Uses and resets the context's arena. */
ASPIRE_API int aspire_captioner_generate(aspire_ctx *ctx, aspire_captioner *cap, aspire_tensor *x, int beam,
                                         int32_t *ids);
/* Captions n images: converts, encodes and decodes in batches of up to `batch`, and writes a new
 * string per image into captions[i] (free each with aspire_strfree). On failure every caption
 * already made is freed and set to NULL. */
ASPIRE_API int aspire_captioner_caption(aspire_ctx *ctx, aspire_captioner *cap, const aspire_image *images, int n,
                                        int beam, int batch, char **captions);

/* ---- corpus and training -------------------------------------------------------------------- */
/* Captioned images with their scene facts, as the world's corpus writes them (scenes.jsonl beside
 * the images): pixels in memory, up to `ncap` reference captions per image, and the truth of each
 * scene (species, background, context objects) for scoring. */
typedef struct aspire_caption_corpus {
    int n;                      /* images */
    int size;                   /* image side: pixels are (n, size, size, 3) RGB bytes */
    uint8_t *pixels;
    int ncap;                   /* caption slots per image */
    char **captions;            /* (n, ncap); NULL where an image has fewer */
    char **paths;               /* (n) img_filename, relative to the corpus folder */
    aspire_caption_facts *facts;/* (n) the scene graphs' species, background and context objects */
} aspire_caption_corpus;

/* Loads the images of one split (0 pretrain, 1 val, 2 test; -1 every split) listed in
 * DIR/scenes.jsonl, at most `limit` of them (0 = all), resized (area) to size × size if they are
 * not. A malformed line, a missing field or an unreadable image is refused naming the file and
 * line. Free with aspire_caption_corpus_destroy. */
ASPIRE_API int aspire_caption_corpus_load(aspire_caption_corpus *c, const char *dir, int split, int limit, int size);
ASPIRE_API void aspire_caption_corpus_destroy(aspire_caption_corpus *c);

typedef struct aspire_captioner_train_opts {
    aspire_captioner_config cfg;   /* the model's shape (vocab_size is set from the corpus) */
    int steps;                     /* optimizer steps [6000] */
    int batch;                     /* images per step [64] */
    float lr;                      /* peak AdamW learning rate [2e-3] */
    float min_lr;                  /* cosine floor [2e-5] */
    float weight_decay;            /* AdamW decoupled decay [0.01] */
    int warmup;                    /* linear warm-up steps [300] */
    float clip;                    /* global gradient-norm clip, 0 = none [1] */
    int min_count;                 /* words seen fewer times are <unk> [2] */
    int flip;                      /* random horizontal flips [1] */
    float aux;                     /* weight of the auxiliary scene-tagging loss on the encoder, 0 = off [1] */
    double max_minutes;            /* stop early after this much wall time, 0 = never [0] */
    uint64_t seed;                 /* [0] */
    int progress;                  /* progress line on stderr [1] */
    const char *checkpoint;        /* if set, the model is written there every checkpoint_every steps */
    int checkpoint_every;          /* [0 = never] */
} aspire_captioner_train_opts;

ASPIRE_API void aspire_captioner_train_opts_default(aspire_captioner_train_opts *o);
/* Checks the options and the model's shape without a corpus (what aspire_captioner_train refuses,
 * refused before anyone spends a minute making the corpus): ASPIRE_ERR_ARG naming the field. */
ASPIRE_API int aspire_captioner_train_check(const aspire_captioner_train_opts *o);
/* Builds the vocabulary from the corpus's captions and trains a new captioner on them with
 * teacher forcing: AdamW, linear warm-up then cosine decay, one random reference caption per image
 * and step. With aux > 0 the encoder also learns to tag the scene graph's facts (species or none,
 * background, objects present) from a global max pool of its last conv map, through heads that are
 * dropped afterwards. Deterministic in (corpus, options, thread count) unless max_minutes cuts the run short.
 * *recipe (if not NULL) receives a one-line description of the run for the model file (free with
 * aspire_strfree). */
ASPIRE_API int aspire_captioner_train(aspire_captioner **out, const aspire_caption_corpus *corpus,
                                      const aspire_captioner_train_opts *o, char **recipe);

#endif
