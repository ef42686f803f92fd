/* personalize.h — ASPIRE's steps 8 and 9 on the built-in generator: textual inversion (one new
 * placeholder token per class of an extra-images folder, everything else frozen) and generation of
 * an extra-images folder from learned tokens or plain prompts (DDIM with classifier-free guidance).
 * `aspire personalize` and `aspire generate` are thin wrappers over these two calls. */
#ifndef ASPIRE_PERSONALIZE_H
#define ASPIRE_PERSONALIZE_H

#include "aspire/generator.h"

typedef struct aspire_personalize_opts {
    const char *images;    /* extra-images folder (metadata.csv: img_filename,y) */
    const char *out;       /* learned-embeds file to write */
    const char *model;     /* generator model file; NULL = the shipped one (aspire_generator_default_model) */
    const char *models_dir;/* where the shipped models are, NULL = the checkout's models/ */
    const char *classes;   /* comma-separated class names (placeholders "<name>"); NULL = "<class0>", ... */
    const char *init;      /* initializer word for every class; NULL = the class name if the vocabulary
                            * has it, else "bird" */
    int steps;             /* optimizer steps per class [300] */
    int batch;             /* images per step [16] */
    float lr;              /* constant AdamW learning rate [0.02] */
    float t_min, t_max;    /* train on timesteps t_min * T <= t < t_max * T only [0.5, 1], 0 <= t_min <
                            * t_max <= 1: the noisier part (t_min 0.5) is where a picture's layout and background
                            * are decided, so a token for generation from text alone learns them there; SDEdit
                            * at strength s uses the token below s * T alone (aspire run trains it on [0, 1)
                            * with lr 5e-3, the reference's recipe) */
    int flip;              /* random horizontal flips [1] */
    uint64_t seed;         /* [0] */
    int threads;           /* [0 = all cores] */
    int progress;          /* [1] */
} aspire_personalize_opts;

ASPIRE_API void aspire_personalize_opts_default(aspire_personalize_opts *o);

/* Per class: what the run learned (filled by aspire_personalize_run when `report` is not NULL). */
typedef struct aspire_personalize_report {
    int nclasses;
    char token[16][ASPIRE_GENERATOR_MAX_TOKEN + 1];
    char init[16][ASPIRE_VOCAB_MAX_WORD + 1];
    int images[16];
    float first_loss[16], last_loss[16];   /* mean loss of the first and the last 10 % of steps */
    double seconds[16];
} aspire_personalize_report;

/* Learns one placeholder per class present in the folder's metadata.csv, from prompts of the
 * "a photo of a {}" kind over that class's images, with constant-lr AdamW on the placeholder's row
 * alone; every other parameter is frozen and checked (checksums) to be unchanged. Writes the
 * embeddings keyed by placeholder atomically. Classes: 1..16. Errors name the file and field. */
ASPIRE_API int aspire_personalize_run(const aspire_personalize_opts *o, aspire_personalize_report *report);

typedef struct aspire_generate_opts {
    const char *out;       /* extra-images folder to write (resumable) */
    const char *model;     /* NULL = the shipped one (aspire_generator_default_model) */
    const char *models_dir;/* where the shipped models are, NULL = the checkout's models/ */
    const char *embeds;    /* learned-embeds file, or NULL */
    const char *prompt;    /* one prompt (may use the embeds' placeholders), or NULL: one prompt per
                            * placeholder from `templ` */
    const char *templ;     /* "a photo of a {}" */
    const char *const *names; /* without embeds or prompt: one prompt per name from templ, y = its index */
    int n_names;
    int label;             /* y of a --prompt's images [0] */
    int n;                 /* images per prompt [100] */
    int batch;             /* images sampled together [16] */
    const char *from;      /* start images (extra-images folder, metadata.csv: img_filename,y), or NULL:
                            * image k of label y starts from y's start image k mod n_y (mirrored on odd
                            * rounds), noised to sample.strength and denoised with the prompt (SDEdit, as
                            * DA-Fusion augments with the same tokens) */
    int keep_detail;       /* with `from`: add back the start image's detail above the generator's
                            * resolution (start minus its round trip through it) [1] */
    aspire_sample_opts sample;
    uint64_t seed;         /* [0] */
    int threads;           /* [0 = all cores] */
    int progress;          /* [1] */
} aspire_generate_opts;

ASPIRE_API void aspire_generate_opts_default(aspire_generate_opts *o);

/* Samples o->n images per prompt into o->out/<y>/<k>.png and writes o->out/metadata.csv
 * (img_filename,y,prompt,seed) and o->out/generate.json (the settings). Image k of prompt y uses
 * its own seed, derived from (seed, y, k); images are sampled in fixed batches, so a re-run with
 * the same settings fills only the missing files and gives the same bytes. A folder made with other
 * settings is refused. *written (may be NULL) gets the number of images sampled this run. */
ASPIRE_API int aspire_generate_run(const aspire_generate_opts *o, int *written);

#endif
