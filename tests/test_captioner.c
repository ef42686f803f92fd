/* test_captioner.c — the captioner and its parts: vocabulary (tokeniser, build, round trip, malformed
 * input), BLEU-4 on hand-computed examples, the caption-vs-scene-graph scores and the world's
 * lexicon; the model: cached decoding against the full forward pass, deterministic greedy and beam
 * decoding, a tiny model overfitting a handful of captions, model files and the corpus loader;
 * and, where models/captioner.safetensors exists, the shipped model on freshly rendered scenes. */
#include "aspire/capeval.h"
#include "aspire/captioner.h"
#include "aspire/fileio.h"
#include "aspire/vocab.h"
#include "aspire/world.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- vocabulary ------------------------------------------------------------------------------ */
static void collect(const char *w, int len, void *ud) {
    char *out = ud;
    if (out[0]) strcat(out, "|");
    strncat(out, w, (size_t)len);
}

static void test_tokenize(void) {
    char out[256] = "";
    int n = aspire_vocab_tokenize("A Swan, standing on the LAKE...  next-to a sail-boat's 2nd mast!", collect, out);
    CHECK(n == 11);
    CHECK(strcmp(out, "a|swan|standing|on|the|lake|next-to|a|sail-boat's|2nd|mast") == 0);
    out[0] = 0;
    CHECK(aspire_vocab_tokenize("  ,,. ", collect, out) == 0 && out[0] == 0);
    CHECK(aspire_vocab_tokenize("", NULL, NULL) == 0);
    /* UTF-8 passes through as part of a word */
    out[0] = 0;
    CHECK(aspire_vocab_tokenize("caf\xc3\xa9 au lait", collect, out) == 3);
    CHECK(strcmp(out, "caf\xc3\xa9|au|lait") == 0);
}

static void test_vocab_build_and_roundtrip(void) {
    const char *caps[] = {
        "a swan standing on a lake next to a sailboat",
        "A duck swimming on a pond.",
        "an owl in a forest next to a mushroom",
        "a swan on the ocean",
    };
    aspire_vocab *v;
    CHECK(aspire_vocab_build(&v, caps, 4, 1, 0) == ASPIRE_OK);
    /* specials first, then by count: "a" (8), "on" (3), "next", "swan", "to" (2 each, alphabetical) */
    CHECK(strcmp(aspire_vocab_word(v, ASPIRE_TOK_PAD), "<pad>") == 0);
    CHECK(strcmp(aspire_vocab_word(v, ASPIRE_TOK_BOS), "<bos>") == 0);
    CHECK(strcmp(aspire_vocab_word(v, ASPIRE_TOK_EOS), "<eos>") == 0);
    CHECK(strcmp(aspire_vocab_word(v, ASPIRE_TOK_UNK), "<unk>") == 0);
    CHECK(strcmp(aspire_vocab_word(v, 4), "a") == 0);
    CHECK(strcmp(aspire_vocab_word(v, 5), "on") == 0);
    CHECK(strcmp(aspire_vocab_word(v, 6), "next") == 0);
    CHECK(strcmp(aspire_vocab_word(v, 7), "swan") == 0);
    CHECK(strcmp(aspire_vocab_word(v, 8), "to") == 0);
    /* distinct words: a swan standing on lake next to sailboat duck swimming pond an owl in forest
     * mushroom the ocean = 18 */
    CHECK(aspire_vocab_size(v) == 4 + 18);
    CHECK(aspire_vocab_id(v, "lake") > 8);
    CHECK(aspire_vocab_id(v, "zebra") == ASPIRE_TOK_UNK);

    int32_t ids[12];
    int n = aspire_vocab_encode(v, "A swan on a zebra.", ids, 12);
    CHECK(n == 7);
    CHECK(ids[0] == ASPIRE_TOK_BOS && ids[1] == 4 && ids[2] == 7 && ids[3] == 5 && ids[4] == 4);
    CHECK(ids[5] == ASPIRE_TOK_UNK && ids[6] == ASPIRE_TOK_EOS && ids[7] == ASPIRE_TOK_PAD && ids[11] == ASPIRE_TOK_PAD);
    char buf[128];
    size_t need = aspire_vocab_decode(v, ids, 12, buf, sizeof buf);
    CHECK(strcmp(buf, "a swan on a <unk>") == 0 && need == strlen(buf));
    /* truncation keeps <eos> */
    n = aspire_vocab_encode(v, "a swan standing on a lake next to a sailboat", ids, 5);
    CHECK(n == 5 && ids[4] == ASPIRE_TOK_EOS && ids[3] == aspire_vocab_id(v, "standing"));
    /* decode into a small buffer stops at a word boundary and reports the full length */
    n = aspire_vocab_encode(v, "a swan standing on a lake", ids, 12);
    char small[12];
    need = aspire_vocab_decode(v, ids, n, small, sizeof small);
    CHECK(need == strlen("a swan standing on a lake"));
    CHECK(strcmp(small, "a swan") == 0);

    /* round trip through the string */
    char *s = aspire_vocab_serialize(v);
    CHECK(s != NULL && strncmp(s, "<pad> <bos> <eos> <unk> a on next swan to", 40) == 0);
    aspire_vocab *w;
    CHECK(aspire_vocab_parse(&w, s) == ASPIRE_OK);
    CHECK(aspire_vocab_size(w) == aspire_vocab_size(v));
    for (int i = 0; i < aspire_vocab_size(v); i++) CHECK(strcmp(aspire_vocab_word(v, i), aspire_vocab_word(w, i)) == 0);
    for (int i = 0; i < aspire_vocab_size(v); i++) CHECK(aspire_vocab_id(w, aspire_vocab_word(v, i)) == i);
    aspire_strfree(s);
    aspire_vocab_free(w);

    /* min_count and max_size */
    aspire_vocab *m;
    CHECK(aspire_vocab_build(&m, caps, 4, 2, 0) == ASPIRE_OK);
    CHECK(aspire_vocab_size(m) == 4 + 5);
    aspire_vocab_free(m);
    CHECK(aspire_vocab_build(&m, caps, 4, 1, 6) == ASPIRE_OK);
    CHECK(aspire_vocab_size(m) == 6 && aspire_vocab_id(m, "on") == 5 && aspire_vocab_id(m, "next") == ASPIRE_TOK_UNK);
    aspire_vocab_free(m);
    CHECK(aspire_vocab_build(&m, caps, 4, 1, 3) == ASPIRE_ERR_ARG && m == NULL);
    aspire_vocab_free(v);
    aspire_vocab_free(NULL);
}

static void test_vocab_parse_errors(void) {
    aspire_vocab *v = NULL;
    CHECK(aspire_vocab_parse(&v, "<pad> <bos> <eos>") == ASPIRE_ERR_FORMAT && v == NULL);
    CHECK(aspire_vocab_parse(&v, "<bos> <pad> <eos> <unk> a") == ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "entry 0") != NULL);
    CHECK(aspire_vocab_parse(&v, "<pad> <bos> <eos> <unk> a b a") == ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "'a' appears twice") != NULL);
    CHECK(aspire_vocab_parse(&v, "<pad> <bos> <eos> <unk> Swan") == ASPIRE_ERR_FORMAT);
    CHECK(aspire_vocab_parse(&v, "<pad> <bos> <eos> <unk> a,b") == ASPIRE_ERR_FORMAT);
    CHECK(aspire_vocab_parse(&v, "") == ASPIRE_ERR_FORMAT);
    CHECK(aspire_vocab_parse(&v, "<pad> <bos> <eos> <unk>") == ASPIRE_OK && aspire_vocab_size(v) == 4);
    aspire_vocab_free(v);
}

/* ---- BLEU ------------------------------------------------------------------------------------- */
static double bleu1(const char *hyp, const char *ref) {
    aspire_bleu_stats s = {0};
    aspire_bleu_add(&s, hyp, &ref, 1);
    return aspire_bleu_score(&s);
}

static void test_bleu(void) {
    CHECK_CLOSE(bleu1("the cat sat on the mat", "The cat sat on the mat."), 1.0, 1e-12);
    /* hyp "a duck swimming on a lake next to a fish" vs ref with "floating": 10 words each;
     * clipped precisions 9/10, 7/9, 5/8, 4/7 (every n-gram touching "swimming" misses), product
     * 1/4, brevity penalty 1: BLEU = (1/4)^(1/4) = 1/sqrt(2). */
    CHECK_CLOSE(bleu1("a duck swimming on a lake next to a fish", "a duck floating on a lake next to a fish"),
                sqrt(0.5), 1e-12);
    /* a 6-word prefix of a 10-word reference: precisions 1, brevity penalty exp(1 - 10/6) */
    CHECK_CLOSE(bleu1("a swan standing on a lake", "a swan standing on a lake next to a sailboat"), exp(-2.0 / 3.0),
                1e-12);
    /* no matching 4-gram: unsmoothed corpus BLEU is 0 */
    CHECK(bleu1("a swan on a lake", "a swan standing on a lake") == 0.0);
    /* clipping: "a a a a a" against "a swan" matches 1 of 5 unigrams; statistics checked directly */
    aspire_bleu_stats s = {0};
    const char *r = "a swan";
    aspire_bleu_add(&s, "a a a a a", &r, 1);
    CHECK(s.match[0] == 1 && s.total[0] == 5 && s.match[1] == 0 && s.total[1] == 4 && s.hyp_len == 5 && s.ref_len == 2);
    /* several references: the closest length (shorter on ties), the max count per reference */
    aspire_bleu_stats m = {0};
    const char *refs[] = {"a swan", "a swan on a lake today", "a swan on a lake"};
    aspire_bleu_add(&m, "a swan on a lake", refs, 3);
    CHECK(m.ref_len == 5 && m.match[0] == 5 && m.match[3] == 2);
    /* corpus level: statistics add up before the ratio. Sentence 1 is the 1/sqrt(2) pair, sentence
     * 2 an exact 6-word match: precisions (9+6)/(10+6), (7+5)/(9+5), (5+4)/(8+4), (4+3)/(7+3). */
    aspire_bleu_stats c = {0};
    const char *r1 = "a duck floating on a lake next to a fish", *r2 = "an owl in a dark forest";
    aspire_bleu_add(&c, "a duck swimming on a lake next to a fish", &r1, 1);
    aspire_bleu_add(&c, "an owl in a dark forest", &r2, 1);
    double want = pow((15.0 / 16) * (12.0 / 14) * (9.0 / 12) * (7.0 / 10), 0.25);
    CHECK_CLOSE(aspire_bleu_score(&c), want, 1e-12);
    aspire_bleu_stats z = {0};
    CHECK(aspire_bleu_score(&z) == 0.0);
}

/* ---- lexicon and scores ----------------------------------------------------------------------- */
static void test_parse_and_scores(void) {
    const aspire_capeval_term terms[] = {
        {"swan", "swan", ASPIRE_CAPEVAL_SPECIES},
        {"duck", "duck", ASPIRE_CAPEVAL_SPECIES},
        {"lake", "lake", ASPIRE_CAPEVAL_BACKGROUND},
        {"sea", "ocean", ASPIRE_CAPEVAL_BACKGROUND},
        {"tree", "deciduous_tree", ASPIRE_CAPEVAL_OBJECT},
        {"pine tree", "evergreen_tree", ASPIRE_CAPEVAL_OBJECT},
        {"boat", "sailboat", ASPIRE_CAPEVAL_OBJECT},
        {"sailboat", "sailboat", ASPIRE_CAPEVAL_OBJECT},
        {"fish", "fish", ASPIRE_CAPEVAL_OBJECT},
    };
    aspire_capeval_lexicon *lex;
    CHECK(aspire_capeval_lexicon_new(&lex, terms, 9) == ASPIRE_OK);
    aspire_caption_facts f;
    aspire_capeval_parse(lex, "A swan by the sea, near a pine tree, a tree, a boat and a sailboat; a duck", &f);
    CHECK(f.species && strcmp(f.species, "swan") == 0);  /* the first species named */
    CHECK(f.background && strcmp(f.background, "ocean") == 0);
    CHECK(f.nobjects == 3);  /* pine tree (longest match), tree, sailboat (boat = sailboat, once) */
    CHECK(f.nobjects == 3 && strcmp(f.objects[0], "evergreen_tree") == 0 && strcmp(f.objects[1], "deciduous_tree") == 0 &&
          strcmp(f.objects[2], "sailboat") == 0);
    CHECK(strcmp(aspire_capeval_lexicon_lookup(lex, "Pine  Tree", ASPIRE_CAPEVAL_OBJECT), "evergreen_tree") == 0);
    CHECK(aspire_capeval_lexicon_lookup(lex, "pine", ASPIRE_CAPEVAL_OBJECT) == NULL);
    CHECK(aspire_capeval_lexicon_lookup(lex, "swan", ASPIRE_CAPEVAL_OBJECT) == NULL);
    aspire_capeval_parse(lex, "nothing here", &f);
    CHECK(!f.species && !f.background && f.nobjects == 0);

    /* two captions scored against their scene graphs */
    aspire_capeval_totals t = {0};
    aspire_caption_facts truth1 = {"swan", "lake", {"sailboat", "fish"}, 2};
    const char *ref1 = "a swan on a lake next to a sailboat and a fish";
    aspire_capeval_add(&t, lex, "a swan on a lake next to a boat", &truth1, &ref1, 1);  /* tp 1, fn 1 */
    aspire_caption_facts truth2 = {"duck", "ocean", {"fish", "fish"}, 2};
    aspire_capeval_add(&t, lex, "a swan on a lake with a fish and a tree", &truth2, NULL, 0);  /* tp 1, fp 1 */
    CHECK(t.n == 2 && t.species_ok == 1 && t.species_n == 2 && t.bg_ok == 1 && t.bg_n == 2);
    CHECK(t.obj_tp == 2 && t.obj_fp == 1 && t.obj_fn == 1);
    aspire_capeval_summary s = aspire_capeval_summarize(&t);
    CHECK_CLOSE(s.species_acc, 0.5, 1e-12);
    CHECK_CLOSE(s.bg_acc, 0.5, 1e-12);
    CHECK_CLOSE(s.obj_precision, 2.0 / 3.0, 1e-12);
    CHECK_CLOSE(s.obj_recall, 2.0 / 3.0, 1e-12);
    CHECK_CLOSE(s.obj_f1, 2.0 / 3.0, 1e-12);
    CHECK(t.bleu.hyp_len == 9 && t.bleu.ref_len == 12);  /* only the first caption had a reference */

    /* ambiguous mentions: "tree" may be the tree or the pine; the matching finds the assignment */
    const aspire_capeval_term amb[] = {{"tree", "tree|pine", ASPIRE_CAPEVAL_OBJECT},
                                       {"evergreen tree", "pine", ASPIRE_CAPEVAL_OBJECT}};
    aspire_capeval_lexicon *lex2;
    CHECK(aspire_capeval_lexicon_new(&lex2, amb, 2) == ASPIRE_OK);
    aspire_capeval_totals ta = {0};
    aspire_caption_facts tp = {NULL, NULL, {"pine", "tree"}, 2};
    aspire_capeval_add(&ta, lex2, "a tree and an evergreen tree", &tp, NULL, 0);
    CHECK(ta.obj_tp == 2 && ta.obj_fp == 0 && ta.obj_fn == 0);
    aspire_caption_facts only_pine = {NULL, NULL, {"pine"}, 1};
    aspire_capeval_add(&ta, lex2, "a tree and an evergreen tree", &only_pine, NULL, 0);
    CHECK(ta.obj_tp == 3 && ta.obj_fp == 1 && ta.obj_fn == 0);
    aspire_capeval_lexicon_free(lex2);

    aspire_capeval_totals empty = {0};
    s = aspire_capeval_summarize(&empty);
    CHECK(s.species_acc == 0.0 && s.obj_f1 == 0.0 && s.bleu4 == 0.0);
    aspire_capeval_lexicon_free(lex);

    const aspire_capeval_term bad[] = {{" , ", "x", ASPIRE_CAPEVAL_OBJECT}};
    CHECK(aspire_capeval_lexicon_new(&lex, bad, 1) == ASPIRE_ERR_ARG && lex == NULL);
    aspire_capeval_lexicon_free(NULL);

}

/* The world's lexicon against the world's own caption generator: every reference caption must
 * read back as its scene (background always, species unless it says just "bird", and only objects
 * of the scene). Scenes are built by hand: captions need no rendering. */
static void test_world_lexicon_matches_generator(void) {
    aspire_capeval_lexicon *lex;
    CHECK(aspire_capeval_lexicon_world(&lex) == ASPIRE_OK);
    aspire_rng r;
    aspire_rng_seed(&r, 7);
    int bad_bg = 0, bad_species = 0, bad_obj = 0, named_obj = 0, just_bird = 0;
    for (int i = 0; i < 3000; i++) {
        aspire_world_scene s;
        memset(&s, 0, sizeof s);
        s.background = (int)aspire_rng_below(&r, ASPIRE_WORLD_NBACKGROUNDS);
        int pool[ASPIRE_WORLD_NEMOJI], np = 0;
        for (int e = ASPIRE_WORLD_FIRST_OBJECT; e < ASPIRE_WORLD_NEMOJI; e++) pool[np++] = e;
        int has_bird = aspire_rng_below(&r, 10) != 0;
        int nobj = (int)aspire_rng_below(&r, ASPIRE_WORLD_MAX_OBJECTS - has_bird + 1);  /* context objects */
        s.bird = has_bird ? (int)aspire_rng_below(&r, nobj + 1) : -1;
        s.nobjects = nobj + (s.bird >= 0);
        aspire_caption_facts truth = {0};
        truth.background = aspire_world_background_name(s.background);
        for (int k = 0; k < s.nobjects; k++) {
            if (k == s.bird) {
                s.objects[k].emoji = (int)aspire_rng_below(&r, ASPIRE_WORLD_NBIRDS);
                truth.species = aspire_world_emoji_name(s.objects[k].emoji);
                continue;
            }
            int j = (int)aspire_rng_below(&r, np);
            s.objects[k].emoji = pool[j];
            pool[j] = pool[--np];
            truth.objects[truth.nobjects++] = aspire_world_emoji_name(s.objects[k].emoji);
        }
        char cap[256];
        aspire_world_caption(&s, &r, cap, sizeof cap);
        aspire_caption_facts got;
        aspire_capeval_parse(lex, cap, &got);
        int before = bad_bg + bad_species + bad_obj;
        if (!got.background || strcmp(got.background, truth.background) != 0) bad_bg++;
        if (truth.species && !got.species) just_bird += strstr(cap, "bird") != NULL;
        if (truth.species ? (got.species ? strcmp(got.species, truth.species) != 0 : strstr(cap, "bird") == NULL)
                          : got.species != NULL)
            bad_species++;
        for (int k = 0; k < got.nobjects; k++) {
            int ok = 0;
            for (int j = 0; j < truth.nobjects && !ok; j++) ok = aspire_capeval_name_matches(got.objects[k], truth.objects[j]);
            bad_obj += !ok;
            named_obj++;
        }
        if (before == 0 && bad_bg + bad_species + bad_obj > 0) fprintf(stderr, "    first mismatch: \"%s\"\n", cap);
    }
    CHECK(bad_bg == 0);
    CHECK(bad_species == 0);
    CHECK(bad_obj == 0);
    CHECK(named_obj > 1000 && just_bird > 50);  /* the generator does name objects, and says "bird" */
    aspire_capeval_lexicon_free(lex);
}

/* ---- the model ---------------------------------------------------------------------------------- */
/* Six 16×16 images (a coloured square at a place on a coloured ground) and one caption each. */
#define TINY_N 6
#define TINY_S 16
static const char *const tiny_caps[TINY_N] = {
    "a red square on a blue ground",    "a green square on a blue ground", "a red square in a yellow field",
    "a green circle in a yellow field", "a red circle near a blue ground",  "a blue square on a red ground",
};

static void tiny_image(int i, uint8_t *px) {
    static const uint8_t ground[TINY_N][3] = {{30, 40, 200}, {30, 40, 200}, {220, 210, 40},
                                              {220, 210, 40}, {30, 40, 200}, {200, 30, 30}};
    static const uint8_t fg[TINY_N][3] = {{230, 20, 20}, {20, 220, 30}, {230, 20, 20},
                                          {20, 220, 30}, {230, 20, 20}, {20, 30, 230}};
    for (int y = 0; y < TINY_S; y++)
        for (int x = 0; x < TINY_S; x++) {
            int in = x >= 2 + i && x < 9 + i && y >= 4 && y < 11;
            if (i == 3 || i == 4) in = (x - 8) * (x - 8) + (y - 8) * (y - 8) < 14;  /* circles */
            for (int c = 0; c < 3; c++) px[(y * TINY_S + x) * 3 + c] = in ? fg[i][c] : ground[i][c];
        }
}

static aspire_captioner_config tiny_config(void) {
    aspire_captioner_config c = aspire_captioner_default_config();
    c.image_size = TINY_S;
    c.stem_stride = 2;
    c.nstages = 2;
    c.widths[0] = 8;
    c.widths[1] = 16;
    c.d_model = 32;
    c.n_layers = 2;
    c.n_heads = 2;
    c.d_ff = 64;
    c.max_len = 10;
    return c;
}

/* A corpus of the six tiny images in memory (freed with aspire_caption_corpus_destroy). */
static void tiny_corpus(aspire_caption_corpus *c) {
    memset(c, 0, sizeof *c);
    c->n = TINY_N;
    c->size = TINY_S;
    c->ncap = 1;
    c->pixels = aspire_malloc((size_t)TINY_N * TINY_S * TINY_S * 3);
    c->captions = aspire_calloc(TINY_N, sizeof(char *));
    c->paths = aspire_calloc(TINY_N, sizeof(char *));
    c->facts = aspire_calloc(TINY_N, sizeof(aspire_caption_facts));
    for (int i = 0; i < TINY_N; i++) {
        tiny_image(i, c->pixels + (size_t)i * TINY_S * TINY_S * 3);
        c->captions[i] = aspire_strdup(tiny_caps[i]);
        char name[32];
        snprintf(name, sizeof name, "tiny/%d.png", i);
        c->paths[i] = aspire_strdup(name);
    }
}

static aspire_tensor *tiny_batch(aspire_ctx *ctx, const aspire_captioner *cap) {
    aspire_tensor *x = aspire_tensor_new(ctx, 4, (int64_t[]){TINY_N, TINY_S, TINY_S, 3});
    uint8_t px[TINY_S * TINY_S * 3];
    for (int i = 0; i < TINY_N; i++) {
        tiny_image(i, px);
        aspire_image img = {TINY_S, TINY_S, 3, px};
        CHECK(aspire_captioner_pixels(cap, &img, x->data + (size_t)i * TINY_S * TINY_S * 3) == ASPIRE_OK);
    }
    return x;
}

/* Greedy decoding with the caches picks, at every step, the argmax of the full teacher-forced
 * forward pass fed with its own output: the cached path and the training path agree. */
static void test_cached_decoding_matches_full_forward(void) {
    aspire_vocab *v;
    CHECK(aspire_vocab_build(&v, tiny_caps, TINY_N, 1, 0) == ASPIRE_OK);
    aspire_captioner_config cfg = tiny_config();
    aspire_captioner *cap;
    CHECK(aspire_captioner_new(&cap, &cfg, v, 3) == ASPIRE_OK);
    /* spread the output distribution so the argmax is well defined at random initialisation */
    aspire_tensor *head = aspire_params_find(aspire_captioner_params(cap), "dec.head.weight");
    CHECK(head != NULL);
    aspire_rng r;
    aspire_rng_seed(&r, 11);
    aspire_init_normal(head, 0.0f, 1.0f, &r);
    aspire_ctx *ctx;
    CHECK(aspire_ctx_new(&ctx, NULL) == ASPIRE_OK);
    const int L = cfg.max_len, V = aspire_vocab_size(v);
    int32_t ids[TINY_N * 10], again[TINY_N * 10], tokens[TINY_N * 10];
    CHECK(aspire_captioner_generate(ctx, cap, tiny_batch(ctx, cap), 1, ids) == ASPIRE_OK);
    CHECK(aspire_captioner_generate(ctx, cap, tiny_batch(ctx, cap), 1, again) == ASPIRE_OK);
    CHECK(memcmp(ids, again, sizeof ids) == 0);
    /* feed <bos> + the generated tokens (all L - 1 of them, padding included) */
    for (int n = 0; n < TINY_N; n++) {
        tokens[n * L] = ASPIRE_TOK_BOS;
        for (int t = 0; t < L - 1; t++) tokens[n * L + t + 1] = ids[n * L + t];
    }
    aspire_ctx_set_recording(ctx, 0);
    aspire_tensor *logits = aspire_captioner_logits(ctx, cap, tiny_batch(ctx, cap), tokens, L);
    CHECK(logits != NULL && logits->shape[0] == TINY_N && logits->shape[1] == L && logits->shape[2] == V);
    int checked = 0, agree = 0;
    for (int n = 0; n < TINY_N; n++)
        for (int t = 0; t < L - 1; t++) {
            int32_t got = ids[n * L + t];
            if (got == ASPIRE_TOK_PAD) break;  /* after <eos> */
            const float *row = logits->data + ((size_t)n * L + t) * V;
            float best = -1e30f;
            for (int k = 0; k < V; k++)
                if (k != ASPIRE_TOK_PAD && k != ASPIRE_TOK_BOS && row[k] > best) best = row[k];
            checked++;
            /* equal up to float rounding between the two paths */
            agree += row[got] >= best - 1e-4f;
            if (got == ASPIRE_TOK_EOS) break;
        }
    CHECK(checked >= TINY_N);
    CHECK_MSG(agree == checked, "%d of %d steps agree", agree, checked);
    aspire_ctx_free(ctx);
    aspire_captioner_free(cap);
    aspire_vocab_free(v);
}

static void test_tiny_model_overfits(void) {
    aspire_caption_corpus c;
    tiny_corpus(&c);
    aspire_captioner_train_opts o;
    aspire_captioner_train_opts_default(&o);
    o.cfg = tiny_config();
    o.steps = 160;
    o.batch = TINY_N;
    o.lr = 3e-3f;
    o.min_lr = 3e-4f;
    o.warmup = 10;
    o.weight_decay = 0.0f;
    o.min_count = 1;
    o.flip = 0;
    o.progress = 0;
    o.seed = 5;
    aspire_captioner *cap = NULL;
    char *recipe = NULL;
    CHECK(aspire_captioner_train(&cap, &c, &o, &recipe) == ASPIRE_OK);
    CHECK(recipe != NULL && strstr(recipe, "160 of 160 steps") != NULL);
    if (!cap) { aspire_caption_corpus_destroy(&c); return; }
    aspire_ctx *ctx;
    CHECK(aspire_ctx_new(&ctx, NULL) == ASPIRE_OK);
    aspire_image imgs[TINY_N];
    for (int i = 0; i < TINY_N; i++) imgs[i] = (aspire_image){TINY_S, TINY_S, 3, c.pixels + (size_t)i * TINY_S * TINY_S * 3};
    char *caps[TINY_N], *beam[TINY_N];
    CHECK(aspire_captioner_caption(ctx, cap, imgs, TINY_N, 1, 4, caps) == ASPIRE_OK);
    CHECK(aspire_captioner_caption(ctx, cap, imgs, TINY_N, 3, 4, beam) == ASPIRE_OK);
    int exact = 0, exact_beam = 0;
    for (int i = 0; i < TINY_N; i++) {
        exact += caps[i] && strcmp(caps[i], tiny_caps[i]) == 0;
        exact_beam += beam[i] && strcmp(beam[i], tiny_caps[i]) == 0;
        if (caps[i] && strcmp(caps[i], tiny_caps[i]) != 0) fprintf(stderr, "    %d: \"%s\"\n", i, caps[i]);
    }
    CHECK_MSG(exact == TINY_N, "greedy: %d of %d captions exact", exact, TINY_N);
    CHECK_MSG(exact_beam == TINY_N, "beam 3: %d of %d captions exact", exact_beam, TINY_N);

    /* the model file: same captions after a round trip, recipe kept */
    char path[] = "/tmp/aspire-test-captioner-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(aspire_captioner_save(cap, path, recipe) == ASPIRE_OK);
    aspire_captioner *back = NULL;
    char *recipe2 = NULL;
    CHECK(aspire_captioner_load(&back, path, &recipe2) == ASPIRE_OK);
    if (back) {
        CHECK(strcmp(recipe, recipe2) == 0);
        CHECK(aspire_vocab_size(aspire_captioner_vocab(back)) == aspire_vocab_size(aspire_captioner_vocab(cap)));
        char *caps2[TINY_N];
        CHECK(aspire_captioner_caption(ctx, back, imgs, TINY_N, 1, 64, caps2) == ASPIRE_OK);
        for (int i = 0; i < TINY_N; i++) {
            CHECK(caps2[i] && caps[i] && strcmp(caps2[i], caps[i]) == 0);
            aspire_strfree(caps2[i]);
        }
    }
    aspire_captioner_free(back);
    aspire_strfree(recipe2);
    /* a file of another kind is refused by name */
    aspire_params *p = aspire_params_new();
    aspire_params_add(p, "x", 1, (int64_t[]){2}, 1);
    CHECK(aspire_params_save(p, path, NULL, 0) == ASPIRE_OK);
    back = NULL;
    CHECK(aspire_captioner_load(&back, path, NULL) == ASPIRE_ERR_FORMAT && back == NULL);
    CHECK(strstr(aspire_errmsg(), path) != NULL && strstr(aspire_errmsg(), "not a captioner") != NULL);
    const char *meta[] = {"format", "aspire-captioner-1", "vocab", "<pad> <bos> <eos> <unk> a", "config", "{\"d_model\": 3}"};
    CHECK(aspire_params_save(p, path, meta, 3) == ASPIRE_OK);
    CHECK(aspire_captioner_load(&back, path, NULL) == ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "\"config\"") != NULL);
    aspire_params_free(p);
    CHECK(aspire_captioner_load(&back, "/nonexistent/captioner.safetensors", NULL) != ASPIRE_OK);
    remove(path);

    for (int i = 0; i < TINY_N; i++) { aspire_strfree(caps[i]); aspire_strfree(beam[i]); }
    aspire_strfree(recipe);
    aspire_ctx_free(ctx);
    aspire_captioner_free(cap);
    aspire_caption_corpus_destroy(&c);
}

static void write_text(const char *path, const char *text) {
    CHECK(aspire_write_file_atomic(path, text, strlen(text)) == ASPIRE_OK);
}

static void test_corpus_loader(void) {
    char dir[] = "/tmp/aspire-test-corpus-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *sub = aspire_path_join(dir, "swan");
    CHECK(aspire_mkdir_p(sub) == ASPIRE_OK);
    uint8_t px[TINY_S * TINY_S * 3];
    for (int i = 0; i < 3; i++) {
        tiny_image(i, px);
        aspire_image img = {TINY_S, TINY_S, 3, px};
        char name[64];
        snprintf(name, sizeof name, "%s/%06d.png", sub, i + 1);
        CHECK(aspire_image_save_png(&img, name) == ASPIRE_OK);
    }
    char *scenes = aspire_path_join(dir, "scenes.jsonl");
    write_text(scenes,
               "{\"img_id\":1,\"img_filename\":\"swan/000001.png\",\"split\":0,\"background\":\"lake\",\"objects\":["
               "{\"name\":\"swan\",\"role\":\"bird\"},{\"name\":\"fish\",\"role\":\"context\"}],"
               "\"captions\":[\"a swan on a lake\",\"a swan and a fish\"]}\n"
               "{\"img_id\":2,\"img_filename\":\"swan/000002.png\",\"split\":2,\"background\":\"ocean\",\"objects\":[],"
               "\"captions\":[\"the ocean\"]}\n"
               "{\"img_id\":3,\"img_filename\":\"swan/000003.png\",\"split\":0,\"background\":\"pond\",\"objects\":["
               "{\"name\":\"swan\",\"role\":\"bird\"}],\"captions\":[\"a swan on a pond\"]}\n");
    aspire_caption_corpus c;
    CHECK(aspire_caption_corpus_load(&c, dir, 0, 0, 8) == ASPIRE_OK);  /* resized to 8×8 */
    CHECK(c.n == 2 && c.ncap == 2 && c.size == 8);
    if (c.n == 2) {
        CHECK(strcmp(c.paths[1], "swan/000003.png") == 0);
        CHECK(strcmp(c.captions[1], "a swan and a fish") == 0 && c.captions[3] == NULL);
        CHECK(strcmp(c.facts[0].species, "swan") == 0 && strcmp(c.facts[0].background, "lake") == 0);
        CHECK(c.facts[0].nobjects == 1 && strcmp(c.facts[0].objects[0], "fish") == 0);
        /* area resize of the red square on blue: pixel (3, 3) covers the square fully */
        CHECK(c.pixels[(3 * 8 + 3) * 3 + 0] == 230 && c.pixels[(3 * 8 + 3) * 3 + 2] == 20);
    }
    aspire_caption_corpus_destroy(&c);
    CHECK(aspire_caption_corpus_load(&c, dir, 2, 0, 16) == ASPIRE_OK && c.n == 1 && c.facts[0].species == NULL);
    aspire_caption_corpus_destroy(&c);
    CHECK(aspire_caption_corpus_load(&c, dir, -1, 2, 16) == ASPIRE_OK && c.n == 2);
    aspire_caption_corpus_destroy(&c);
    CHECK(aspire_caption_corpus_load(&c, dir, 1, 0, 16) == ASPIRE_ERR_FORMAT);  /* no val image */
    /* a line without captions, then a missing image: errors name file and line */
    write_text(scenes, "{\"img_filename\":\"swan/000001.png\",\"split\":0,\"background\":\"lake\",\"objects\":[],"
                       "\"captions\":[\"x\"]}\n{\"img_filename\":\"swan/000001.png\",\"split\":0,"
                       "\"background\":\"lake\",\"objects\":[]}\n");
    CHECK(aspire_caption_corpus_load(&c, dir, 0, 0, 16) == ASPIRE_ERR_FORMAT && c.n == 0);
    CHECK(strstr(aspire_errmsg(), "scenes.jsonl:2") != NULL && strstr(aspire_errmsg(), "captions") != NULL);
    write_text(scenes, "{\"img_filename\":\"swan/000009.png\",\"split\":0,\"background\":\"lake\",\"objects\":[],"
                       "\"captions\":[\"x\"]}\n");
    CHECK(aspire_caption_corpus_load(&c, dir, 0, 0, 16) != ASPIRE_OK);
    CHECK(strstr(aspire_errmsg(), "scenes.jsonl:1") != NULL && strstr(aspire_errmsg(), "000009.png") != NULL);
    /* clean up */
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s/%06d.png", sub, i + 1);
        remove(name);
    }
    remove(scenes);
    rmdir(sub);
    rmdir(dir);
    aspire_strfree(scenes);
    aspire_strfree(sub);
}

/* The shipped model on scenes rendered now (not files of the corpus): it must name the background
 * and the bird of clear scenes (a large bird, no context objects) nearly always. Skipped when the
 * model file or the emoji font is missing. */
static void test_shipped_model(void) {
    char buf[4096];
    const char *path = aspire_captioner_default_model(getenv("ASPIRE_MODELS"), buf, sizeof buf);
    if (!aspire_file_exists(path)) { fprintf(stderr, "    (no %s: skipped)\n", path); return; }
    aspire_world *w = NULL;
    if (aspire_world_new(&w, NULL) != ASPIRE_OK) { fprintf(stderr, "    (no emoji font: skipped)\n"); return; }
    aspire_captioner *cap = NULL;
    CHECK(aspire_captioner_load(&cap, path, NULL) == ASPIRE_OK);
    if (!cap) { aspire_world_free(w); return; }
    const int S = aspire_captioner_get_config(cap)->image_size, n = 22;
    aspire_world_style st;
    aspire_world_style_default(&st);
    st.bird_min = st.bird_max = 0.44f;
    aspire_rng r;
    aspire_rng_seed(&r, 2026);
    aspire_image imgs[22];
    aspire_caption_facts truth[22];
    for (int i = 0; i < n; i++) {
        aspire_world_scene s;
        int species = i % ASPIRE_WORLD_NBIRDS, bg = (i * 3) % ASPIRE_WORLD_NBACKGROUNDS;
        aspire_world_scene_sample(&s, w, &st, species, bg, NULL, 0, &r);
        CHECK(aspire_image_init(&imgs[i], S, S, 3) == ASPIRE_OK);
        CHECK(aspire_world_render(w, &s, S, imgs[i].data, NULL) == ASPIRE_OK);
        truth[i] = (aspire_caption_facts){aspire_world_emoji_name(species), aspire_world_background_name(bg), {0}, 0};
    }
    aspire_ctx *ctx;
    CHECK(aspire_ctx_new(&ctx, NULL) == ASPIRE_OK);
    char *caps[22];
    CHECK(aspire_captioner_caption(ctx, cap, imgs, n, 1, 64, caps) == ASPIRE_OK);
    aspire_capeval_lexicon *lex;
    CHECK(aspire_capeval_lexicon_world(&lex) == ASPIRE_OK);
    aspire_capeval_totals t = {0};
    for (int i = 0; i < n; i++) aspire_capeval_add(&t, lex, caps[i], &truth[i], NULL, 0);
    fprintf(stderr, "    shipped model: species %lld/%d, background %lld/%d; e.g. \"%s\"\n", (long long)t.species_ok, n,
            (long long)t.bg_ok, n, caps[0]);
    CHECK(t.bg_ok >= n - 1);
    CHECK(t.species_ok >= n - 3);
    for (int i = 0; i < n; i++) { aspire_strfree(caps[i]); aspire_image_destroy(&imgs[i]); }
    aspire_capeval_lexicon_free(lex);
    aspire_ctx_free(ctx);
    aspire_captioner_free(cap);
    aspire_world_free(w);
}

int main(void) {
    RUN(test_tokenize);
    RUN(test_vocab_build_and_roundtrip);
    RUN(test_vocab_parse_errors);
    RUN(test_bleu);
    RUN(test_parse_and_scores);
    RUN(test_world_lexicon_matches_generator);
    RUN(test_cached_decoding_matches_full_forward);
    RUN(test_tiny_model_overfits);
    RUN(test_corpus_loader);
    RUN(test_shipped_model);
    return TEST_REPORT();
}
