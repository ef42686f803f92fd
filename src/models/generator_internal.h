/* generator_internal.h — the generator's private structure, shared by generator.c (construction,
 * files, placeholders), textenc.c, unet.c, diffusion.c and generator_train.c. */
#ifndef ASPIRE_GENERATOR_INTERNAL_H
#define ASPIRE_GENERATOR_INTERNAL_H

#include "aspire/generator.h"

#define GEN_MAX_TEXT_LAYERS 8
#define GEN_MAX_TOKENS 256
#define GEN_LN_EPS 1e-5f
#define GEN_GN_EPS 1e-5f

typedef struct gen_linear { aspire_tensor *w, *b; } gen_linear;  /* w (out, in), b (out) */
typedef struct gen_norm { aspire_tensor *g, *b; } gen_norm;      /* (C) each */
typedef struct gen_conv { aspire_tensor *w, *b; } gen_conv;      /* w (O, I, K, K), b (O) */

typedef struct text_layer {
    gen_norm ln1, ln2;
    gen_linear q, k, v, o, fc1, fc2;
} text_layer;

/* A residual block: GN, SiLU, conv3x3, + time projection, GN, SiLU, conv3x3, + skip (1×1 if the
 * width changes); then cross-attention to the text: GN, q from the pixels, k/v from the text,
 * output projection added back. */
typedef struct res_block {
    int in, out;
    gen_norm n1, n2;
    gen_conv c1, c2, skip;   /* skip.w NULL when in == out */
    gen_linear temb;         /* (out, d_time) */
    gen_norm an;
    gen_linear q, k, v, o;   /* q, o (out, out); k, v (out, d_text) */
} res_block;

struct aspire_generator {
    aspire_generator_config cfg;
    aspire_vocab *vocab;
    aspire_params *params;
    /* text encoder */
    aspire_tensor *tok_emb;   /* (V, d_text) */
    aspire_tensor *pos_emb;   /* (max_len, d_text) */
    text_layer text[GEN_MAX_TEXT_LAYERS];
    gen_norm text_ln;
    gen_linear pool;          /* (d_time, d_text): the <bos> feature added to the time embedding */
    /* denoiser */
    gen_linear t1, t2;        /* (d_time, widths[0]), (d_time, d_time) */
    gen_conv stem;            /* (widths[0], 3, patch, patch) */
    res_block down[ASPIRE_GENERATOR_MAX_LEVELS];
    gen_conv ds[ASPIRE_GENERATOR_MAX_LEVELS];   /* stride-2 3×3 after levels 0..nlevels-2 */
    res_block mid;
    res_block up[ASPIRE_GENERATOR_MAX_LEVELS];
    gen_norm out_n;
    gen_conv out;             /* transposed: (widths[0], 3, patch, patch) */
    /* placeholders: each (d_text), in their own set */
    aspire_params *extra;
    char names[GEN_MAX_TOKENS][ASPIRE_GENERATOR_MAX_TOKEN + 1];
    int ntok;
};

/* The timestep embedding's sinusoid: t[N] -> (N, dim) arena tensor (no gradient). */
aspire_tensor *gen_time_features(aspire_ctx *ctx, const int *t, int N, int dim, int T);
/* Multi-head attention of q_in (N, Tq, C) over kv_in (N, Tk, Ck) through projections q, k, v, o
 * -> (N, Tq, C) (textenc.c). */
aspire_tensor *gen_attend(aspire_ctx *ctx, aspire_tensor *q_in, aspire_tensor *kv_in, const gen_linear *q,
                          const gen_linear *k, const gen_linear *v, const gen_linear *o, int heads);

#endif
