/* capeval.h — caption quality: corpus BLEU-4 (Papineni et al. 2002), and what a caption says about
 * a scene (bird species, background, context objects) read through a lexicon of phrases, scored
 * against the scene graph as ground truth (accuracy of species and background, precision, recall
 * and F1 of the objects named).
 *
 * Words are the vocabulary's tokens (vocab.h: lowercase, punctuation dropped). */
#ifndef ASPIRE_CAPEVAL_H
#define ASPIRE_CAPEVAL_H

#include "aspire/common.h"

#define ASPIRE_CAPEVAL_MAX_OBJECTS 16

/* ---- BLEU ----------------------------------------------------------------------------------- */
/* Sufficient statistics of corpus BLEU-4, summed over sentences. */
typedef struct aspire_bleu_stats {
    int64_t match[4];  /* clipped n-gram matches, n = 1..4 */
    int64_t total[4];  /* hypothesis n-grams */
    int64_t hyp_len;   /* hypothesis words */
    int64_t ref_len;   /* per sentence the reference length closest to the hypothesis's (shorter on ties) */
} aspire_bleu_stats;

/* Adds one hypothesis and its nrefs references (nrefs >= 1) to the statistics. */
ASPIRE_API void aspire_bleu_add(aspire_bleu_stats *s, const char *hyp, const char *const *refs, int nrefs);
/* BLEU-4 of the statistics: brevity penalty × geometric mean of the four clipped precisions,
 * unsmoothed (0 when any order has no match, as the standard corpus score is). In [0, 1]. */
ASPIRE_API double aspire_bleu_score(const aspire_bleu_stats *s);

/* ---- what a caption says -------------------------------------------------------------------- */
typedef enum aspire_capeval_kind {
    ASPIRE_CAPEVAL_SPECIES = 0,
    ASPIRE_CAPEVAL_BACKGROUND = 1,
    ASPIRE_CAPEVAL_OBJECT = 2,
} aspire_capeval_kind;

/* One lexicon entry: a phrase (one or more words, lowercase) that names a thing of a kind; `name` is
 * the thing's name in the scene graphs (several phrases may share a name: synonyms). A phrase that
 * may name either of several things lists them separated by '|' ("tree|pine"). */
typedef struct aspire_capeval_term {
    const char *phrase;
    const char *name;
    aspire_capeval_kind kind;
} aspire_capeval_term;

typedef struct aspire_capeval_lexicon aspire_capeval_lexicon;

/* Builds a lexicon from n terms (copied). ASPIRE_ERR_ARG for an empty phrase or name. Free with
 * aspire_capeval_lexicon_free (NULL ok). */
ASPIRE_API int aspire_capeval_lexicon_new(aspire_capeval_lexicon **out, const aspire_capeval_term *terms, int n);
/* The lexicon of the benchmark world (every phrase its caption generator uses for a species, a
 * background or a context object, mapped to the scene graphs' names). */
ASPIRE_API int aspire_capeval_lexicon_world(aspire_capeval_lexicon **out);
ASPIRE_API void aspire_capeval_lexicon_free(aspire_capeval_lexicon *lex);
/* The scene-graph name a phrase maps to for a kind, or NULL (exact phrase, already lowercase). */
ASPIRE_API const char *aspire_capeval_lexicon_lookup(const aspire_capeval_lexicon *lex, const char *phrase,
                                                     aspire_capeval_kind kind);

/* What a caption (or a scene graph) says. The strings point into the lexicon (for parsed captions)
 * or to the caller's strings (for ground truth). */
typedef struct aspire_caption_facts {
    const char *species;     /* first species named, or NULL */
    const char *background;  /* first background named, or NULL */
    const char *objects[ASPIRE_CAPEVAL_MAX_OBJECTS];  /* distinct objects named, in order of mention */
    int nobjects;
} aspire_caption_facts;

/* Whether a name from the lexicon (possibly "a|b" alternatives) names the scene graph's `name`. */
ASPIRE_API int aspire_capeval_name_matches(const char *mention, const char *name);

/* Reads a caption: scans its words left to right, taking at each position the longest phrase of
 * the lexicon that starts there. */
ASPIRE_API void aspire_capeval_parse(const aspire_capeval_lexicon *lex, const char *caption, aspire_caption_facts *out);

/* ---- scoring a corpus of captions ----------------------------------------------------------- */
typedef struct aspire_capeval_totals {
    int64_t n;                       /* captions scored */
    int64_t species_ok, species_n;   /* truth has a species: counted in species_n */
    int64_t bg_ok, bg_n;
    int64_t obj_tp, obj_fp, obj_fn;  /* objects, micro-averaged over the corpus */
    aspire_bleu_stats bleu;
} aspire_capeval_totals;

typedef struct aspire_capeval_summary {
    int64_t n;
    double species_acc, bg_acc;
    double obj_precision, obj_recall, obj_f1;
    double bleu4;
} aspire_capeval_summary;

/* Scores one generated caption against the truth (a scene graph's facts) and the reference
 * captions (nrefs >= 0; with 0 the caption adds nothing to BLEU). Objects are compared as sets,
 * matched one to one (a maximum matching, so "a tree and an evergreen tree" with a tree and a pine
 * scores two hits whichever way "tree" reads): matched objects named are true positives, the
 * others false positives; truth objects left unmatched are misses. */
ASPIRE_API void aspire_capeval_add(aspire_capeval_totals *t, const aspire_capeval_lexicon *lex, const char *caption,
                                   const aspire_caption_facts *truth, const char *const *refs, int nrefs);
/* Ratios of the totals (0 where a denominator is 0; F1 0 when precision + recall is 0). */
ASPIRE_API aspire_capeval_summary aspire_capeval_summarize(const aspire_capeval_totals *t);

#endif
