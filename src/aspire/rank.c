/* rank.c — the ranking of discovery (REFERENCE.md §7, its defects fixed): per class, flips and
 * occurrences of every background and foreground phrase, phrases clustered by their WordNet
 * lemmas (bag-of-words cosine), clusters scored by sum(flips/occ) and ranked together. */
#include "aspire/detect.h"
#include "aspire/extract.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *aspire_feature_kind_name(aspire_feature_kind k) {
    return k == ASPIRE_FEATURE_BACKGROUND ? "background" : "foreground";
}
const char *aspire_feature_kind_tag(aspire_feature_kind k) { return k == ASPIRE_FEATURE_BACKGROUND ? "bg" : "fg"; }

void aspire_detect_rank_opts_init(aspire_detect_rank_opts *o) {
    memset(o, 0, sizeof *o);
    o->similarity = 0.7;
    o->min_occ = 1;
}

/* ---- phrases ------------------------------------------------------------------------------ */

void aspire_detect_phrase_key(const char *phrase, char *d, size_t n) {
    ASPIRE_ASSERT(n > 0);
    size_t k = 0;
    for (; *phrase && k + 1 < n; phrase++) {
        char c = *phrase;
        if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '_') c = ' ';
        else if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c == ' ' && (k == 0 || d[k - 1] == ' ')) continue;
        d[k++] = c;
    }
    while (k && d[k - 1] == ' ') k--;
    d[k] = 0;
}

/* The phrase's key in a new string (NULL when out of memory). */
static char *normalise(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = aspire_malloc(n);
    if (d) aspire_detect_phrase_key(s, d, n);
    return d;
}

/* One (class, kind, phrase) with its counts, its lemma's words (sorted) and its cluster. */
typedef struct phr {
    int cls;
    aspire_feature_kind kind;
    char *key;
    int flips, occ;
    char **tok;
    int ntok;
    double len;     /* Euclidean length of the word-count vector */
    int cluster;    /* index in the class's clusters, -1 before clustering */
} phr;

/* One mention: a record names `key` (occ) or flagged it (flip). */
typedef struct mention { int cls; aspire_feature_kind kind; char *key; int flip; } mention;

typedef struct mentions { mention *m; size_t n, cap; } mentions;

static int mentions_add(mentions *ms, int cls, aspire_feature_kind kind, char *key, int flip) {
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 256;
        mention *p = aspire_realloc(ms->m, ms->cap * sizeof *p, cap * sizeof *p);
        if (!p) { aspire_strfree(key); return ASPIRE_ERR_NOMEM; }
        ms->m = p;
        ms->cap = cap;
    }
    ms->m[ms->n++] = (mention){cls, kind, key, flip};
    return ASPIRE_OK;
}

/* Adds the distinct normalised phrases of one list of one record; each flagged phrase must be
 * among `names` (the record's list of that kind). */
static int add_list(mentions *ms, const aspire_record *r, aspire_feature_kind kind, const aspire_strlist *l,
                    int flip, char **names, int nnames) {
    for (int i = 0; i < l->n; i++) {
        if (strlen(l->s[i]) > ASPIRE_RECORD_MAX_PHRASE)
            return aspire_error(ASPIRE_ERR_ARG, "record of line %d (row %lld): %s phrase %d is longer than %d bytes",
                                r->line, (long long)r->row, aspire_feature_kind_name(kind), i + 1,
                                ASPIRE_RECORD_MAX_PHRASE);
        char *key = normalise(l->s[i]);
        if (!key) return ASPIRE_ERR_NOMEM;
        if (!*key) { aspire_strfree(key); continue; }   /* a phrase of blanks names nothing */
        int dup = 0;
        for (int j = 0; j < i && !dup; j++) {
            char *other = normalise(l->s[j]);
            if (!other) { aspire_strfree(key); return ASPIRE_ERR_NOMEM; }
            dup = strcmp(other, key) == 0;
            aspire_strfree(other);
        }
        int known = !flip;
        for (int j = 0; j < nnames && !known; j++) known = strcmp(names[j], key) == 0;
        if (!known) {
            int rc = aspire_error(ASPIRE_ERR_ARG, "record of line %d (row %lld): flagged %s '%s' is not among its %s",
                                  r->line, (long long)r->row, aspire_feature_kind_name(kind), l->s[i],
                                  aspire_feature_kind_name(kind));
            aspire_strfree(key);
            return rc;
        }
        if (dup) { aspire_strfree(key); continue; }
        int rc = mentions_add(ms, r->cls, kind, key, flip);
        if (rc) return rc;
    }
    return ASPIRE_OK;
}

static int add_record(mentions *ms, const aspire_record *r) {
    const aspire_strlist *lists[2] = {&r->foreground, &r->background};
    const aspire_strlist *flagged[2] = {&r->wp_foreground, &r->wp_background};
    int rc = ASPIRE_OK;
    for (int k = 0; k < 2 && !rc; k++) {
        int n = lists[k]->n;
        char **names = aspire_calloc((size_t)n + 1, sizeof *names);
        if (!names) return ASPIRE_ERR_NOMEM;
        for (int i = 0; i < n && !rc; i++)
            if (!(names[i] = normalise(lists[k]->s[i]))) rc = ASPIRE_ERR_NOMEM;
        if (!rc) rc = add_list(ms, r, (aspire_feature_kind)k, lists[k], 0, NULL, 0);
        if (!rc) rc = add_list(ms, r, (aspire_feature_kind)k, flagged[k], 1, names, n);
        for (int i = 0; i < n; i++) aspire_strfree(names[i]);
        aspire_free(names, ((size_t)n + 1) * sizeof *names);
    }
    return rc;
}

static int cmp_mention(const void *a, const void *b) {
    const mention *x = a, *y = b;
    if (x->cls != y->cls) return x->cls < y->cls ? -1 : 1;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* ---- lemmas and similarity ---------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Splits a lemma into its words (runs of ASCII letters and digits, or non-ASCII bytes), sorted. */
static int tokenize(phr *p, const char *lemma) {
    size_t n = strlen(lemma);
    p->tok = aspire_calloc(n / 2 + 2, sizeof *p->tok);
    if (!p->tok) return ASPIRE_ERR_NOMEM;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ((lemma[j] >= 'a' && lemma[j] <= 'z') || (lemma[j] >= '0' && lemma[j] <= '9') ||
                         (lemma[j] >= 'A' && lemma[j] <= 'Z') || (unsigned char)lemma[j] >= 0x80))
            j++;
        if (j > i) {
            char *t = aspire_malloc(j - i + 1);
            if (!t) return ASPIRE_ERR_NOMEM;
            memcpy(t, lemma + i, j - i);
            t[j - i] = 0;
            p->tok[p->ntok++] = t;
            i = j;
        } else {
            i++;
        }
    }
    qsort(p->tok, (size_t)p->ntok, sizeof *p->tok, cmp_str);
    double sq = 0;
    for (int i = 0; i < p->ntok;) {
        int j = i;
        while (j < p->ntok && strcmp(p->tok[j], p->tok[i]) == 0) j++;
        sq += (double)(j - i) * (j - i);
        i = j;
    }
    p->len = sqrt(sq);
    return ASPIRE_OK;
}

/* Cosine of the word-count vectors of two phrases (0 when either has no word). */
static double cosine(const phr *a, const phr *b) {
    if (!a->ntok || !b->ntok) return 0;
    double dot = 0;
    int i = 0, j = 0;
    while (i < a->ntok && j < b->ntok) {
        int c = strcmp(a->tok[i], b->tok[j]);
        if (c) { if (c < 0) i++; else j++; continue; }
        int i2 = i, j2 = j;
        while (i2 < a->ntok && strcmp(a->tok[i2], a->tok[i]) == 0) i2++;
        while (j2 < b->ntok && strcmp(b->tok[j2], b->tok[j]) == 0) j2++;
        dot += (double)(i2 - i) * (j2 - j);
        i = i2;
        j = j2;
    }
    return dot / (a->len * b->len);
}

/* ---- clusters ----------------------------------------------------------------------------- */

static int cmp_phr_order(const void *a, const void *b) {
    const phr *x = *(phr *const *)a, *y = *(phr *const *)b;
    if (x->flips != y->flips) return x->flips > y->flips ? -1 : 1;
    if (x->occ != y->occ) return x->occ > y->occ ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int score_cmp(double a, double b) {
    double tol = 1e-12 * fmax(1.0, fmax(fabs(a), fabs(b)));
    return fabs(a - b) <= tol ? 0 : (a > b ? -1 : 1);
}

/* Before the sort, rank holds the cluster's tier: 0 flipped and seen on enough images (min_occ),
 * 1 flipped and seen on fewer, 2 never flipped (score 0: last in the reference's order too). */
static int cmp_cluster(const void *a, const void *b) {
    const aspire_cluster *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    int c = score_cmp(x->score, y->score);
    if (c) return c;
    if (x->flips != y->flips) return x->flips > y->flips ? -1 : 1;
    if ((c = strcmp(x->name, y->name))) return c;
    return (x->kind > y->kind) - (x->kind < y->kind);
}

/* Greedy clustering of one class's phrases (ps[0..n), one class, both kinds) into cr->clusters. */
static int cluster_class(phr **ps, int n, double sim, int min_occ, aspire_class_ranking *cr) {
    qsort(ps, (size_t)n, sizeof *ps, cmp_phr_order);
    int *first = aspire_malloc(((size_t)n + 1) * sizeof *first);   /* cluster → its first phrase */
    cr->clusters = aspire_calloc((size_t)n + 1, sizeof *cr->clusters);
    if (!first || !cr->clusters) { aspire_free(first, 0); return ASPIRE_ERR_NOMEM; }
    int nc = 0;
    for (int i = 0; i < n; i++) {
        ps[i]->cluster = -1;
        for (int c = 0; c < nc && ps[i]->cluster < 0; c++)
            for (int j = first[c]; j < i; j++)
                if (ps[j]->cluster == c && ps[j]->kind == ps[i]->kind && cosine(ps[i], ps[j]) >= sim) {
                    ps[i]->cluster = c;
                    break;
                }
        if (ps[i]->cluster < 0) { first[nc] = i; ps[i]->cluster = nc++; }
    }
    aspire_free(first, ((size_t)n + 1) * sizeof *first);
    cr->n_clusters = nc;
    for (int c = 0; c < nc; c++) {
        aspire_cluster *cl = &cr->clusters[c];
        int members = 0;
        for (int i = 0; i < n; i++) members += ps[i]->cluster == c;
        if (!(cl->phrases = aspire_calloc((size_t)members, sizeof *cl->phrases))) return ASPIRE_ERR_NOMEM;
        cl->n_phrases = members;
        int k = 0;
        for (int i = 0; i < n; i++) {   /* in ps's order: flips, occ descending, then bytes */
            if (ps[i]->cluster != c) continue;
            aspire_phrase_stat *st = &cl->phrases[k++];
            if (!(st->phrase = aspire_strdup(ps[i]->key))) return ASPIRE_ERR_NOMEM;
            st->flips = ps[i]->flips;
            st->occ = ps[i]->occ;
            cl->kind = ps[i]->kind;
            cl->flips += st->flips;
            cl->occ += st->occ;
            cl->score += (double)st->flips / st->occ;
        }
        cl->name = cl->phrases[0].phrase;
        cl->rank = cl->flips == 0 ? 2 : cl->occ < min_occ;   /* the tier; clusters without flips stay last */
    }
    qsort(cr->clusters, (size_t)nc, sizeof *cr->clusters, cmp_cluster);
    for (int c = 0; c < nc; c++) cr->clusters[c].rank = c + 1;
    return ASPIRE_OK;
}

/* ---- the ranking -------------------------------------------------------------------------- */

void aspire_ranking_destroy(aspire_ranking *rk) {
    if (!rk) return;
    for (int c = 0; c < rk->n_classes; c++) {
        aspire_class_ranking *cr = &rk->classes[c];
        for (int k = 0; k < cr->n_clusters; k++) {
            for (int i = 0; i < cr->clusters[k].n_phrases; i++) aspire_strfree(cr->clusters[k].phrases[i].phrase);
            aspire_free(cr->clusters[k].phrases, 0);
        }
        aspire_free(cr->clusters, 0);
        aspire_strfree(cr->label);
    }
    aspire_free(rk->classes, 0);
    memset(rk, 0, sizeof *rk);
}

/* The distinct phrases (with counts) from the sorted mentions; each phrase gets its lemma's words. */
static int make_phrases(mentions *ms, const aspire_detect_rank_opts *o, phr **out, int *nout) {
    if (ms->n) qsort(ms->m, ms->n, sizeof *ms->m, cmp_mention);
    phr *ps = aspire_calloc(ms->n + 1, sizeof *ps);
    if (!ps) return ASPIRE_ERR_NOMEM;
    *out = ps;
    int n = 0, rc = ASPIRE_OK;
    for (size_t i = 0; i < ms->n && !rc;) {
        size_t j = i;
        phr *p = &ps[n++];
        *p = (phr){.cls = ms->m[i].cls, .kind = ms->m[i].kind, .cluster = -1};
        for (; j < ms->n && cmp_mention(&ms->m[i], &ms->m[j]) == 0; j++) {
            if (ms->m[j].flip) p->flips++;
            else p->occ++;
        }
        p->key = ms->m[i].key;   /* moved into the phrase */
        ms->m[i].key = NULL;
        char lemma[1024];
        rc = o->lemma(p->key, lemma, sizeof lemma);
        if (!rc) rc = tokenize(p, lemma);
        i = j;
    }
    *nout = n;
    return rc;
}

static void phrases_free(phr *ps, int n, size_t cap) {
    for (int i = 0; i < n; i++) {
        aspire_strfree(ps[i].key);
        for (int t = 0; t < ps[i].ntok; t++) aspire_strfree(ps[i].tok[t]);
        aspire_free(ps[i].tok, 0);
    }
    aspire_free(ps, cap * sizeof *ps);
}

static int class_counts(const aspire_records *rs, aspire_ranking *rk) {
    for (int64_t i = 0; i < rs->n; i++) {
        const aspire_record *r = &rs->items[i];
        aspire_class_ranking *cr = &rk->classes[r->cls];
        cr->n_images++;
        cr->n_flipped_images += (r->wp_foreground.n + r->wp_background.n) > 0;
        if (!cr->label && r->label && !(cr->label = aspire_strdup(r->label))) return ASPIRE_ERR_NOMEM;
    }
    for (int c = 0; c < rk->n_classes; c++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class %d", c);
        if (!rk->classes[c].label && !(rk->classes[c].label = aspire_strdup(buf))) return ASPIRE_ERR_NOMEM;
    }
    return ASPIRE_OK;
}

static int rank_all(const aspire_records *rs, const aspire_detect_rank_opts *o, mentions *ms, aspire_ranking *rk) {
    int rc = ASPIRE_OK;
    for (int64_t i = 0; i < rs->n && !rc; i++) {
        if (!rs->items[i].has_flips)
            return aspire_error(ASPIRE_ERR_ARG, "record of line %d (row %lld) has no flips (wp_ and pred_ fields)",
                                rs->items[i].line, (long long)rs->items[i].row);
        rc = add_record(ms, &rs->items[i]);
    }
    if (rc || (rc = class_counts(rs, rk))) return rc;
    phr *ps = NULL;
    int n = 0;
    size_t cap = ms->n + 1;
    rc = make_phrases(ms, o, &ps, &n);
    phr **order = rc ? NULL : aspire_malloc(((size_t)n + 1) * sizeof *order);
    if (!rc && !order) rc = ASPIRE_ERR_NOMEM;
    for (int i = 0; i < n && !rc;) {   /* ps is sorted by class: one class at a time */
        int j = i;
        while (j < n && ps[j].cls == ps[i].cls) { order[j - i] = &ps[j]; j++; }
        aspire_class_ranking *cr = &rk->classes[ps[i].cls];
        rc = cluster_class(order, j - i, o->similarity, o->min_occ, cr);
        for (int k = i; k < j; k++) cr->n_flips += ps[k].flips;
        i = j;
    }
    aspire_free(order, 0);
    if (ps) phrases_free(ps, n, cap);
    return rc;
}

int aspire_detect_rank(const aspire_records *rs, const aspire_detect_rank_opts *opt, aspire_ranking *out) {
    memset(out, 0, sizeof *out);
    aspire_detect_rank_opts o;
    aspire_detect_rank_opts_init(&o);
    if (opt) o = *opt;
    if (!o.lemma) o.lemma = aspire_wordnet_lemma;
    if (!(o.similarity > 0 && o.similarity <= 1))
        return aspire_error(ASPIRE_ERR_ARG, "rank: similarity %g outside (0, 1]", o.similarity);
    if (o.min_occ < 1) return aspire_error(ASPIRE_ERR_ARG, "rank: min_occ %d below 1", o.min_occ);
    int nc = o.n_classes > 0 ? o.n_classes : 0;
    for (int64_t i = 0; i < rs->n; i++)
        if (rs->items[i].cls >= nc) nc = rs->items[i].cls + 1;
    if (nc && !(out->classes = aspire_calloc((size_t)nc, sizeof *out->classes))) return ASPIRE_ERR_NOMEM;
    out->n_classes = nc;
    for (int c = 0; c < nc; c++) out->classes[c].cls = c;
    mentions ms = {0};
    int rc = rank_all(rs, &o, &ms, out);
    for (size_t i = 0; i < ms.n; i++) aspire_strfree(ms.m[i].key);
    aspire_free(ms.m, ms.cap * sizeof *ms.m);
    if (rc) aspire_ranking_destroy(out);
    return rc;
}
