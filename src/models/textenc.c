/* textenc.c — the generator's text encoder: token embeddings (the trained table followed by the
 * placeholder rows), learned positions, pre-norm transformer blocks with bidirectional
 * self-attention and a GELU MLP, and a final layer norm. */
#include "models/generator_internal.h"

/* (N, T, d) -> (N, H, T, d/H) */
static aspire_tensor *split_heads(aspire_ctx *ctx, aspire_tensor *x, int H) {
    if (!x) return NULL;
    int64_t N = x->shape[0], T = x->shape[1], d = x->shape[2];
    if (H == 1) return aspire_reshape(ctx, x, 4, (int64_t[]){N, 1, T, d});
    x = aspire_reshape(ctx, x, 4, (int64_t[]){N, T, H, d / H});
    return aspire_transpose(ctx, x, 1, 2);
}

/* (N, H, T, Dh) -> (N, T, H·Dh) */
static aspire_tensor *merge_heads(aspire_ctx *ctx, aspire_tensor *x) {
    if (!x) return NULL;
    int64_t N = x->shape[0], H = x->shape[1], T = x->shape[2], Dh = x->shape[3];
    if (H > 1) x = aspire_transpose(ctx, x, 1, 2);
    return aspire_reshape(ctx, x, 3, (int64_t[]){N, T, H * Dh});
}

aspire_tensor *gen_attend(aspire_ctx *ctx, aspire_tensor *q_in, aspire_tensor *kv_in, const gen_linear *q,
                          const gen_linear *k, const gen_linear *v, const gen_linear *o, int heads) {
    aspire_tensor *qh = split_heads(ctx, aspire_linear(ctx, q_in, q->w, q->b), heads);
    aspire_tensor *kh = split_heads(ctx, aspire_linear(ctx, kv_in, k->w, k->b), heads);
    aspire_tensor *vh = split_heads(ctx, aspire_linear(ctx, kv_in, v->w, v->b), heads);
    aspire_tensor *a = merge_heads(ctx, aspire_attention(ctx, qh, kh, vh, NULL, 0));
    return aspire_linear(ctx, a, o->w, o->b);
}

/* The embedding table the ids index: (V + placeholders, d_text). */
static aspire_tensor *token_table(aspire_ctx *ctx, aspire_generator *g) {
    if (g->ntok == 0) return g->tok_emb;
    aspire_tensor *parts[GEN_MAX_TOKENS + 1];
    parts[0] = g->tok_emb;
    for (int k = 0; k < g->ntok; k++)
        parts[k + 1] = aspire_reshape(ctx, aspire_params_at(g->extra, k), 2, (int64_t[]){1, g->cfg.d_text});
    return aspire_concat(ctx, parts, g->ntok + 1, 0);
}

aspire_tensor *aspire_generator_text(aspire_ctx *ctx, aspire_generator *g, const int32_t *ids, int N) {
    const aspire_generator_config *c = &g->cfg;
    const int L = c->max_len, V = c->vocab_size + g->ntok;
    for (int64_t i = 0; i < (int64_t)N * L; i++)
        ASPIRE_ASSERT(ids[i] >= 0 && ids[i] < V, "(token id %d of %d)", ids[i], V);
    aspire_tensor *x = aspire_embedding(ctx, token_table(ctx, g), ids, 2, (int64_t[]){N, L});
    x = aspire_add(ctx, x, g->pos_emb);
    for (int l = 0; l < c->text_layers; l++) {
        const text_layer *T = &g->text[l];
        aspire_tensor *h = aspire_layernorm(ctx, x, T->ln1.g, T->ln1.b, GEN_LN_EPS);
        x = aspire_add(ctx, x, gen_attend(ctx, h, h, &T->q, &T->k, &T->v, &T->o, c->text_heads));
        h = aspire_layernorm(ctx, x, T->ln2.g, T->ln2.b, GEN_LN_EPS);
        h = aspire_linear(ctx, aspire_gelu(ctx, aspire_linear(ctx, h, T->fc1.w, T->fc1.b)), T->fc2.w, T->fc2.b);
        x = aspire_add(ctx, x, h);
    }
    return aspire_layernorm(ctx, x, g->text_ln.g, g->text_ln.b, GEN_LN_EPS);
}
