/* test_captioner.c — the captioner's parts: vocabulary (tokeniser, build, round trip, malformed
 * input), BLEU-4 on hand-computed examples, the caption-vs-scene-graph scores. */
#include "aspire/capeval.h"
#include "aspire/vocab.h"
#include "aspire/world.h"
#include "test.h"

#include <string.h>

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

int main(void) {
    RUN(test_tokenize);
    RUN(test_vocab_build_and_roundtrip);
    RUN(test_vocab_parse_errors);
    RUN(test_bleu);
    RUN(test_parse_and_scores);
    RUN(test_world_lexicon_matches_generator);
    return TEST_REPORT();
}
