/* detect_score.c — scoring discovery against the benchmark world's oracle (detect_score.h): the map
 * from detect's phrases to the world's features, each side's top feature, Spearman's correlation
 * and the per-image flag counts. Used by bench/detect.c only. */
#include "aspire/detect_score.h"

#include "aspire/extract.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int aspire_dscore_object_feature(int emoji) {
    if (emoji < 0 || emoji >= ASPIRE_WORLD_NEMOJI) return ASPIRE_DSCORE_NONE;
    if (emoji < ASPIRE_WORLD_FIRST_OBJECT) return ASPIRE_DSCORE_BIRD;
    return 2 + emoji - ASPIRE_WORLD_FIRST_OBJECT;
}

const char *aspire_dscore_feature_name(int f) {
    if (f == ASPIRE_DSCORE_BG_LAND) return "bg:land";
    if (f == ASPIRE_DSCORE_BG_WATER) return "bg:water";
    if (f == ASPIRE_DSCORE_BIRD) return "bird";
    if (f < 0 || f >= ASPIRE_DSCORE_NFEATURES) return "-";
    return aspire_world_emoji_name(ASPIRE_WORLD_FIRST_OBJECT + f - 2);
}

/* The world captions' synonyms of objects and birds (src/world/caption.c) that are not the
 * catalogue's own names; "tree" is handled apart (it is the tree's name and a pine's synonym). */
static const struct { const char *word, *emoji; } synonyms[] = {
    {"boat", "sailboat"},      {"sailing boat", "sailboat"}, {"sail boat", "sailboat"}, {"seashell", "shell"},
    {"sea shell", "shell"},    {"pine tree", "pine"},        {"evergreen tree", "pine"}, {"evergreen", "pine"},
    {"flower", "sunflower"},   {"mallard", "duck"},          {"chicken", "rooster"},
};

/* The feature a whole key names, NONE when it names nothing. */
static int fg_lookup(const char *key, const int *present) {
    if (!strcmp(key, "bird")) return ASPIRE_DSCORE_BIRD;
    if (!strcmp(key, "tree")) {
        int tree = aspire_dscore_object_feature(ASPIRE_WORLD_TREE), pine = aspire_dscore_object_feature(ASPIRE_WORLD_PINE);
        return present && present[pine] && !present[tree] ? pine : tree;
    }
    int e = aspire_world_emoji_find(key);
    for (size_t i = 0; e < 0 && i < sizeof synonyms / sizeof synonyms[0]; i++)
        if (!strcmp(key, synonyms[i].word)) e = aspire_world_emoji_find(synonyms[i].emoji);
    return e < 0 ? ASPIRE_DSCORE_NONE : aspire_dscore_object_feature(e);
}

static int bg_lookup(const char *key) {
    int bg = aspire_world_background_find(key);
    if (bg < 0) return ASPIRE_DSCORE_NONE;
    return aspire_world_background_place(bg) ? ASPIRE_DSCORE_BG_WATER : ASPIRE_DSCORE_BG_LAND;
}

static int lookup(aspire_feature_kind kind, const char *key, const int *present) {
    return kind == ASPIRE_FEATURE_BACKGROUND ? bg_lookup(key) : fg_lookup(key, present);
}

int aspire_dscore_map_phrase(aspire_feature_kind kind, const char *phrase, const int *present) {
    char key[ASPIRE_RECORD_MAX_PHRASE + 1], lemma[ASPIRE_RECORD_MAX_PHRASE + 1];
    aspire_detect_phrase_key(phrase ? phrase : "", key, sizeof key);
    int f = lookup(kind, key, present);
    if (f != ASPIRE_DSCORE_NONE) return f;
    /* plurals ("boats", "forests"): WordNet's base form, when WordNet is there */
    if (aspire_wordnet_lemma(key, lemma, sizeof lemma) != ASPIRE_OK) {
        aspire_error_clear();
        snprintf(lemma, sizeof lemma, "%s", key);
    }
    if (strcmp(lemma, key) && (f = lookup(kind, lemma, present)) != ASPIRE_DSCORE_NONE) return f;
    const char *last = strrchr(lemma, ' ');  /* the head noun: "red balloon" → balloon */
    return last ? lookup(kind, last + 1, present) : ASPIRE_DSCORE_NONE;
}

/* Average ranks (1-based) of x[0..n) into r: tied values share the mean of their ranks. */
static void average_ranks(const double *x, int n, double *r) {
    for (int i = 0; i < n; i++) {
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            if (x[j] < x[i]) less++;
            else if (x[j] == x[i]) equal++;
        }
        r[i] = less + (equal + 1) / 2.0;
    }
}

double aspire_spearman(const double *a, const double *b, int n) {
    if (n < 2) return NAN;
    double *ra = aspire_malloc(2 * (size_t)n * sizeof *ra);
    if (!ra) return NAN;
    double *rb = ra + n;
    average_ranks(a, n, ra);
    average_ranks(b, n, rb);
    double ma = 0, mb = 0;
    for (int i = 0; i < n; i++) { ma += ra[i]; mb += rb[i]; }
    ma /= n;
    mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        sab += (ra[i] - ma) * (rb[i] - mb);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    aspire_free(ra, 2 * (size_t)n * sizeof *ra);
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

void aspire_dscore_detect_side(const aspire_class_ranking *cr, double *score, int *top) {
    for (int f = 0; f < ASPIRE_DSCORE_NFEATURES; f++) score[f] = 0;
    *top = ASPIRE_DSCORE_NONE;
    for (int c = 0; c < cr->n_clusters; c++) {
        const aspire_cluster *cl = &cr->clusters[c];
        double local[ASPIRE_DSCORE_NFEATURES] = {0};
        for (int p = 0; p < cl->n_phrases; p++) {
            const aspire_phrase_stat *ps = &cl->phrases[p];
            int f = aspire_dscore_map_phrase(cl->kind, ps->phrase, NULL);
            if (f >= 0 && ps->occ > 0) local[f] += (double)ps->flips / ps->occ;
        }
        for (int f = 0; f < ASPIRE_DSCORE_NFEATURES; f++)
            if (local[f] > score[f]) score[f] = local[f];
    }
    if (cr->n_clusters > 0 && cr->clusters[0].flips > 0)
        *top = aspire_dscore_map_phrase(cr->clusters[0].kind, cr->clusters[0].name, NULL);
}

int aspire_dscore_oracle_top(const int *flips, const int *count, int min_count, double *rate) {
    int best = ASPIRE_DSCORE_NONE;
    double best_rate = 0;
    for (int f = 0; f < ASPIRE_DSCORE_NFEATURES; f++) {
        if (count[f] < min_count || count[f] <= 0) continue;
        double r = (double)flips[f] / count[f];
        if (best < 0 || r > best_rate || (r == best_rate && flips[f] > flips[best])) { best = f; best_rate = r; }
    }
    if (rate) *rate = best < 0 ? 0 : best_rate;
    return best;
}

double aspire_dscore_rank_corr(const int *flips, const int *count, const double *det, int min_count, int *n_used) {
    double a[ASPIRE_DSCORE_NFEATURES], b[ASPIRE_DSCORE_NFEATURES];
    int n = 0;
    for (int f = 0; f < ASPIRE_DSCORE_NFEATURES; f++) {
        if (count[f] < min_count || count[f] <= 0) continue;
        a[n] = (double)flips[f] / count[f];
        b[n++] = det[f];
    }
    if (n_used) *n_used = n;
    return aspire_spearman(a, b, n);
}

int aspire_dscore_image_flags(const aspire_record *rec, int bg_feature, const int *present, int *flag) {
    for (int f = 0; f < ASPIRE_DSCORE_NFEATURES; f++) flag[f] = 0;
    for (int j = 0; j < rec->n_pred_alt; j++)
        if (rec->pred_alt_background[j] != rec->cls && bg_feature >= 0 && bg_feature < ASPIRE_DSCORE_NFEATURES)
            flag[bg_feature] = 1;
    int unmapped = 0;
    for (int j = 0; j < rec->wp_foreground.n; j++) {
        int f = aspire_dscore_map_phrase(ASPIRE_FEATURE_FOREGROUND, rec->wp_foreground.s[j], present);
        if (f >= 0) flag[f] = 1;
        else unmapped++;
    }
    return unmapped;
}

void aspire_dscore_count(aspire_dscore_counts *c, int flagged, int flipped) {
    if (flagged && flipped) c->tp++;
    else if (flagged) c->fp++;
    else if (flipped) c->fn++;
    else c->tn++;
}

double aspire_dscore_precision(const aspire_dscore_counts *c) {
    return c->tp + c->fp ? (double)c->tp / (double)(c->tp + c->fp) : NAN;
}

double aspire_dscore_recall(const aspire_dscore_counts *c) {
    return c->tp + c->fn ? (double)c->tp / (double)(c->tp + c->fn) : NAN;
}
