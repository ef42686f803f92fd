/* capeval.c — caption quality: corpus BLEU-4 statistics, and the lexicon that reads species,
 * background and objects out of a caption to score it against a scene graph. */
#include "aspire/capeval.h"

#include "aspire/vocab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- word lists ---------------------------------------------------------------------------- */
typedef struct words {
    char (*w)[ASPIRE_VOCAB_MAX_WORD + 1];
    int n, cap;
    int oom;
} words;

static void push_word(const char *w, int len, void *ud) {
    words *ws = ud;
    if (ws->oom) return;
    if (ws->n == ws->cap) {
        int cap = ws->cap ? 2 * ws->cap : 32;
        void *p = aspire_realloc(ws->w, sizeof(*ws->w) * (size_t)ws->cap, sizeof(*ws->w) * (size_t)cap);
        if (!p) { ws->oom = 1; return; }
        ws->w = p;
        ws->cap = cap;
    }
    memcpy(ws->w[ws->n], w, (size_t)len);
    ws->w[ws->n][len] = 0;
    ws->n++;
}

static void words_split(words *ws, const char *text) {
    memset(ws, 0, sizeof *ws);
    aspire_vocab_tokenize(text ? text : "", push_word, ws);
}

static void words_destroy(words *ws) { aspire_free(ws->w, sizeof(*ws->w) * (size_t)ws->cap); }

static int ngram_eq(const words *a, int i, const words *b, int j, int n) {
    for (int k = 0; k < n; k++)
        if (strcmp(a->w[i + k], b->w[j + k]) != 0) return 0;
    return 1;
}

/* Occurrences of the n-gram a[i..i+n) in b. */
static int ngram_count(const words *a, int i, const words *b, int n) {
    int c = 0;
    for (int j = 0; j + n <= b->n; j++) c += ngram_eq(a, i, b, j, n);
    return c;
}

/* ---- BLEU ---------------------------------------------------------------------------------- */
void aspire_bleu_add(aspire_bleu_stats *s, const char *hyp, const char *const *refs, int nrefs) {
    ASPIRE_ASSERT(nrefs >= 1);
    words h, r[8];
    int nr = nrefs < 8 ? nrefs : 8;  /* more than 8 references add nothing in practice */
    words_split(&h, hyp);
    for (int k = 0; k < nr; k++) words_split(&r[k], refs[k]);
    s->hyp_len += h.n;
    /* closest reference length; the shorter on ties (as the usual implementations do) */
    int best = r[0].n;
    for (int k = 1; k < nr; k++) {
        int d = abs(r[k].n - h.n), db = abs(best - h.n);
        if (d < db || (d == db && r[k].n < best)) best = r[k].n;
    }
    s->ref_len += best;
    for (int n = 1; n <= 4; n++) {
        for (int i = 0; i + n <= h.n; i++) {
            s->total[n - 1]++;
            /* clip: count this n-gram once per distinct occurrence, at most its max reference count */
            int first = 1;
            for (int j = 0; j < i && first; j++) first = !ngram_eq(&h, j, &h, i, n);
            if (!first) continue;
            int in_hyp = ngram_count(&h, i, &h, n), in_ref = 0;
            for (int k = 0; k < nr; k++) {
                int c = ngram_count(&h, i, &r[k], n);
                if (c > in_ref) in_ref = c;
            }
            s->match[n - 1] += in_hyp < in_ref ? in_hyp : in_ref;
        }
    }
    words_destroy(&h);
    for (int k = 0; k < nr; k++) words_destroy(&r[k]);
}

double aspire_bleu_score(const aspire_bleu_stats *s) {
    double logp = 0.0;
    for (int n = 0; n < 4; n++) {
        if (s->total[n] == 0 || s->match[n] == 0) return 0.0;
        logp += log((double)s->match[n] / (double)s->total[n]);
    }
    double bp = s->hyp_len >= s->ref_len ? 1.0 : exp(1.0 - (double)s->ref_len / (double)s->hyp_len);
    return bp * exp(logp / 4.0);
}

/* ---- lexicon ------------------------------------------------------------------------------- */
typedef struct lex_entry {
    words phrase;  /* the phrase's words */
    char *name;
    aspire_capeval_kind kind;
} lex_entry;

struct aspire_capeval_lexicon {
    lex_entry *e;  /* (n), longest phrases first */
    int n;
};

void aspire_capeval_lexicon_free(aspire_capeval_lexicon *lex) {
    if (!lex) return;
    for (int i = 0; i < lex->n; i++) {
        words_destroy(&lex->e[i].phrase);
        aspire_strfree(lex->e[i].name);
    }
    aspire_free(lex->e, sizeof(lex_entry) * (size_t)lex->n);
    aspire_free(lex, sizeof *lex);
}

int aspire_capeval_lexicon_new(aspire_capeval_lexicon **out, const aspire_capeval_term *terms, int n) {
    *out = NULL;
    aspire_capeval_lexicon *lex = aspire_calloc(1, sizeof *lex);
    if (!lex) return ASPIRE_ERR_NOMEM;
    lex->e = aspire_calloc((size_t)(n > 0 ? n : 1), sizeof(lex_entry));
    if (!lex->e) { aspire_free(lex, sizeof *lex); return ASPIRE_ERR_NOMEM; }
    for (int i = 0; i < n; i++) {
        lex_entry *e = &lex->e[lex->n];
        words_split(&e->phrase, terms[i].phrase);
        lex->n++;
        if (e->phrase.oom) { aspire_capeval_lexicon_free(lex); return ASPIRE_ERR_NOMEM; }
        if (e->phrase.n == 0 || !terms[i].name || !terms[i].name[0]) {
            aspire_capeval_lexicon_free(lex);
            return aspire_error(ASPIRE_ERR_ARG, "lexicon entry %d ('%s') has an empty phrase or name", i,
                                terms[i].phrase ? terms[i].phrase : "");
        }
        e->name = aspire_strdup(terms[i].name);
        e->kind = terms[i].kind;
        if (!e->name) { aspire_capeval_lexicon_free(lex); return ASPIRE_ERR_NOMEM; }
    }
    /* longest first (stable insertion sort: the lexicon is small) */
    for (int i = 1; i < lex->n; i++) {
        lex_entry t = lex->e[i];
        int j = i - 1;
        while (j >= 0 && lex->e[j].phrase.n < t.phrase.n) { lex->e[j + 1] = lex->e[j]; j--; }
        lex->e[j + 1] = t;
    }
    *out = lex;
    return ASPIRE_OK;
}

const char *aspire_capeval_lexicon_lookup(const aspire_capeval_lexicon *lex, const char *phrase,
                                          aspire_capeval_kind kind) {
    words w;
    words_split(&w, phrase);
    const char *name = NULL;
    for (int i = 0; i < lex->n && !name; i++) {
        const lex_entry *e = &lex->e[i];
        if (e->kind == kind && e->phrase.n == w.n && ngram_eq(&e->phrase, 0, &w, 0, w.n)) name = e->name;
    }
    words_destroy(&w);
    return name;
}

void aspire_capeval_parse(const aspire_capeval_lexicon *lex, const char *caption, aspire_caption_facts *out) {
    memset(out, 0, sizeof *out);
    words w;
    words_split(&w, caption);
    for (int i = 0; i < w.n;) {
        const lex_entry *hit = NULL;
        for (int k = 0; k < lex->n && !hit; k++) {
            const lex_entry *e = &lex->e[k];
            if (i + e->phrase.n <= w.n && ngram_eq(&w, i, &e->phrase, 0, e->phrase.n)) hit = e;
        }
        if (!hit) { i++; continue; }
        i += hit->phrase.n;
        if (hit->kind == ASPIRE_CAPEVAL_SPECIES) {
            if (!out->species) out->species = hit->name;
        } else if (hit->kind == ASPIRE_CAPEVAL_BACKGROUND) {
            if (!out->background) out->background = hit->name;
        } else {
            int seen = 0;
            for (int k = 0; k < out->nobjects && !seen; k++) seen = strcmp(out->objects[k], hit->name) == 0;
            if (!seen && out->nobjects < ASPIRE_CAPEVAL_MAX_OBJECTS) out->objects[out->nobjects++] = hit->name;
        }
    }
    words_destroy(&w);
}

/* ---- the world's lexicon --------------------------------------------------------------------- */
/* Every phrase the benchmark world's caption generator (src/world/caption.c) uses for a species, a
 * background or a context object, mapped to the scene graphs' names (world.h's canonical names).
 * "tree" names the deciduous tree but is also a synonym of the pine there: it matches either.
 * "bird" names no species. tests/test_captioner.c holds this table against the generator. */
static const aspire_capeval_term world_terms[] = {
    {"duck", "duck", ASPIRE_CAPEVAL_SPECIES},
    {"mallard", "duck", ASPIRE_CAPEVAL_SPECIES},
    {"swan", "swan", ASPIRE_CAPEVAL_SPECIES},
    {"flamingo", "flamingo", ASPIRE_CAPEVAL_SPECIES},
    {"penguin", "penguin", ASPIRE_CAPEVAL_SPECIES},
    {"goose", "goose", ASPIRE_CAPEVAL_SPECIES},
    {"rooster", "rooster", ASPIRE_CAPEVAL_SPECIES},
    {"chicken", "rooster", ASPIRE_CAPEVAL_SPECIES},
    {"turkey", "turkey", ASPIRE_CAPEVAL_SPECIES},
    {"peacock", "peacock", ASPIRE_CAPEVAL_SPECIES},
    {"parrot", "parrot", ASPIRE_CAPEVAL_SPECIES},
    {"eagle", "eagle", ASPIRE_CAPEVAL_SPECIES},
    {"owl", "owl", ASPIRE_CAPEVAL_SPECIES},
    {"lake", "lake", ASPIRE_CAPEVAL_BACKGROUND},
    {"ocean", "ocean", ASPIRE_CAPEVAL_BACKGROUND},
    {"river", "river", ASPIRE_CAPEVAL_BACKGROUND},
    {"pond", "pond", ASPIRE_CAPEVAL_BACKGROUND},
    {"forest", "forest", ASPIRE_CAPEVAL_BACKGROUND},
    {"field", "field", ASPIRE_CAPEVAL_BACKGROUND},
    {"desert", "desert", ASPIRE_CAPEVAL_BACKGROUND},
    {"meadow", "meadow", ASPIRE_CAPEVAL_BACKGROUND},
    {"sailboat", "sailboat", ASPIRE_CAPEVAL_OBJECT},
    {"sailing boat", "sailboat", ASPIRE_CAPEVAL_OBJECT},
    {"boat", "sailboat", ASPIRE_CAPEVAL_OBJECT},
    {"fish", "fish", ASPIRE_CAPEVAL_OBJECT},
    {"shell", "shell", ASPIRE_CAPEVAL_OBJECT},
    {"seashell", "shell", ASPIRE_CAPEVAL_OBJECT},
    {"pine tree", "pine", ASPIRE_CAPEVAL_OBJECT},
    {"evergreen tree", "pine", ASPIRE_CAPEVAL_OBJECT},
    {"tree", "tree|pine", ASPIRE_CAPEVAL_OBJECT},
    {"sunflower", "sunflower", ASPIRE_CAPEVAL_OBJECT},
    {"flower", "sunflower", ASPIRE_CAPEVAL_OBJECT},
    {"mushroom", "mushroom", ASPIRE_CAPEVAL_OBJECT},
    {"cactus", "cactus", ASPIRE_CAPEVAL_OBJECT},
    {"sun", "sun", ASPIRE_CAPEVAL_OBJECT},
    {"cloud", "cloud", ASPIRE_CAPEVAL_OBJECT},
    {"balloon", "balloon", ASPIRE_CAPEVAL_OBJECT},
    {"red balloon", "balloon", ASPIRE_CAPEVAL_OBJECT},
};

int aspire_capeval_lexicon_world(aspire_capeval_lexicon **out) {
    return aspire_capeval_lexicon_new(out, world_terms, (int)(sizeof world_terms / sizeof world_terms[0]));
}

/* ---- corpus totals ----------------------------------------------------------------------------- */
/* Whether a mentioned name ("tree" or "tree|pine": alternatives) names the truth's `name`. */
int aspire_capeval_name_matches(const char *mention, const char *name) {
    size_t n = strlen(name);
    for (const char *p = mention;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return 1;
        if (!bar) return 0;
        p = bar + 1;
    }
}

/* Kuhn's augmenting path: tries to match mention k to a truth object, re-matching others. */
static int augment(const aspire_caption_facts *got, const char *const *want, int nwant, int k, int *owner, int *seen) {
    for (int j = 0; j < nwant; j++) {
        if (seen[j] || !aspire_capeval_name_matches(got->objects[k], want[j])) continue;
        seen[j] = 1;
        if (owner[j] < 0 || augment(got, want, nwant, owner[j], owner, seen)) {
            owner[j] = k;
            return 1;
        }
    }
    return 0;
}

void aspire_capeval_add(aspire_capeval_totals *t, const aspire_capeval_lexicon *lex, const char *caption,
                        const aspire_caption_facts *truth, const char *const *refs, int nrefs) {
    aspire_caption_facts got;
    aspire_capeval_parse(lex, caption, &got);
    t->n++;
    if (truth->species) {
        t->species_n++;
        t->species_ok += got.species && aspire_capeval_name_matches(got.species, truth->species);
    }
    if (truth->background) {
        t->bg_n++;
        t->bg_ok += got.background && aspire_capeval_name_matches(got.background, truth->background);
    }
    /* Objects as sets: the truth's distinct names against the mentions, matched one to one so that
     * as many mentions as possible name a truth object (a mention with alternatives, "tree|pine",
     * may take either); matched mentions are true positives, the rest false positives, unmatched
     * truth objects misses. */
    const char *want[ASPIRE_CAPEVAL_MAX_OBJECTS];
    int nwant = 0;
    for (int k = 0; k < truth->nobjects; k++) {
        int dup = 0;
        for (int j = 0; j < nwant && !dup; j++) dup = strcmp(want[j], truth->objects[k]) == 0;
        if (!dup) want[nwant++] = truth->objects[k];
    }
    int owner[ASPIRE_CAPEVAL_MAX_OBJECTS];  /* truth j -> mention matched to it, -1 */
    for (int j = 0; j < nwant; j++) owner[j] = -1;
    int matched = 0;
    for (int k = 0; k < got.nobjects; k++) {
        int seen[ASPIRE_CAPEVAL_MAX_OBJECTS] = {0};
        matched += augment(&got, want, nwant, k, owner, seen);
    }
    t->obj_tp += matched;
    t->obj_fp += got.nobjects - matched;
    t->obj_fn += nwant - matched;
    if (nrefs > 0) aspire_bleu_add(&t->bleu, caption, refs, nrefs);
}

static double ratio(int64_t a, int64_t b) { return b ? (double)a / (double)b : 0.0; }

aspire_capeval_summary aspire_capeval_summarize(const aspire_capeval_totals *t) {
    aspire_capeval_summary s = {0};
    s.n = t->n;
    s.species_acc = ratio(t->species_ok, t->species_n);
    s.bg_acc = ratio(t->bg_ok, t->bg_n);
    s.obj_precision = ratio(t->obj_tp, t->obj_tp + t->obj_fp);
    s.obj_recall = ratio(t->obj_tp, t->obj_tp + t->obj_fn);
    double pr = s.obj_precision + s.obj_recall;
    s.obj_f1 = pr > 0 ? 2.0 * s.obj_precision * s.obj_recall / pr : 0.0;
    s.bleu4 = aspire_bleu_score(&t->bleu);
    return s;
}
