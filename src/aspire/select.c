/* select.c — the draws of discovery: the hold-out (correctly classified images, a share of each
 * class) and the non-spurious edited images per class (REFERENCE.md §2, §7; the reference's
 * undefined list and its position-based rows replaced by draws keyed by record and row). */
#include "aspire/detect.h"
#include "aspire/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hold-out ----------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int aspire_detect_holdout(const int *labels, const int *preds, int64_t n, int n_classes, double frac, uint64_t seed,
                          int64_t **idx, int64_t *n_idx) {
    *idx = NULL;
    *n_idx = 0;
    if (!(frac > 0 && frac <= 1)) return aspire_error(ASPIRE_ERR_ARG, "hold-out: fraction %g outside (0, 1]", frac);
    if (n_classes < 1) return aspire_error(ASPIRE_ERR_ARG, "hold-out: %d classes", n_classes);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes)
            return aspire_error(ASPIRE_ERR_ARG, "hold-out: image %lld has label %d outside 0..%d", (long long)i,
                                labels[i], n_classes - 1);
    int64_t *out = aspire_malloc(((size_t)n + 1) * sizeof *out);
    int64_t *pool = aspire_malloc(((size_t)n + 1) * sizeof *pool);
    if (!out || !pool) {
        aspire_free(out, 0);
        aspire_free(pool, 0);
        return ASPIRE_ERR_NOMEM;
    }
    aspire_rng base;
    aspire_rng_seed(&base, seed);
    int64_t m = 0;
    for (int c = 0; c < n_classes; c++) {
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++)
            if (labels[i] == c && preds[i] == c) pool[k++] = i;
        int64_t take = (int64_t)ceil(frac * (double)k - 1e-9);
        if (take > k) take = k;
        aspire_rng r;
        aspire_rng_fork(&base, (uint64_t)c, &r);
        for (int64_t i = 0; i < take; i++) {   /* partial Fisher-Yates: pool[0..take) is the draw */
            int64_t j = i + aspire_rng_below(&r, k - i);
            int64_t t = pool[i]; pool[i] = pool[j]; pool[j] = t;
        }
        memcpy(out + m, pool, (size_t)take * sizeof *out);
        m += take;
    }
    aspire_free(pool, ((size_t)n + 1) * sizeof *pool);
    qsort(out, (size_t)m, sizeof *out, cmp_i64);
    int64_t *shrunk = m ? aspire_realloc(out, ((size_t)n + 1) * sizeof *out, (size_t)m * sizeof *out) : NULL;
    if (m && !shrunk) { aspire_free(out, 0); return ASPIRE_ERR_NOMEM; }
    if (!m) aspire_free(out, ((size_t)n + 1) * sizeof *out);
    *idx = shrunk;
    *n_idx = m;
    return ASPIRE_OK;
}

/* ---- edit file names ---------------------------------------------------------------------- */

int aspire_edit_filename(char *buf, size_t n, int64_t row, aspire_feature_kind kind, const char *phrase,
                         const char *ext) {
    int k = snprintf(buf, n, "%lld_%s_", (long long)row, aspire_feature_kind_tag(kind));
    for (const char *p = phrase; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char o = c == ' ' ? '-' : (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) ? '_' : (char)c;
        if ((size_t)k + 1 < n) buf[k] = o;
        k++;
    }
    if (n) buf[(size_t)k < n ? (size_t)k : n - 1] = 0;
    int e = snprintf((size_t)k < n ? buf + k : NULL, (size_t)k < n ? n - (size_t)k : 0, ".%s", ext);
    return k + e;
}

/* ---- selection ---------------------------------------------------------------------------- */

void aspire_detect_select_opts_init(aspire_detect_select_opts *o) {
    *o = (aspire_detect_select_opts){.max_per_class = 35, .top_quota = 15, .next_quota = 10, .seed = 0};
}

void aspire_detect_selection_destroy(aspire_detect_selection *s) {
    if (!s) return;
    aspire_free(s->items, 0);
    memset(s, 0, sizeof *s);
}

/* Rank of the cluster of (kind, phrase) in a class, or 0 when none holds it. */
static int cluster_of(const aspire_class_ranking *cr, aspire_feature_kind kind, const char *phrase) {
    char key[1024];
    aspire_detect_phrase_key(phrase, key, sizeof key);
    for (int c = 0; c < cr->n_clusters; c++) {
        if (cr->clusters[c].kind != kind) continue;
        for (int i = 0; i < cr->clusters[c].n_phrases; i++)
            if (strcmp(cr->clusters[c].phrases[i].phrase, key) == 0) return cr->clusters[c].rank;
    }
    return 0;
}

static int same_phrase(const char *a, const char *b) {
    char x[1024], y[1024];
    aspire_detect_phrase_key(a, x, sizeof x);
    aspire_detect_phrase_key(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

typedef struct cand_list { aspire_detect_selected *c; int64_t n, cap; } cand_list;

static int cand_push(cand_list *l, const aspire_detect_selected *s) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 64;
        aspire_detect_selected *p = aspire_realloc(l->c, (size_t)l->cap * sizeof *p, (size_t)cap * sizeof *p);
        if (!p) return ASPIRE_ERR_NOMEM;
        l->c = p;
        l->cap = cap;
    }
    l->c[l->n++] = *s;
    return ASPIRE_OK;
}

/* Every flagged edit of the records with its class and cluster rank (a phrase flagged twice in a
 * record counts once). */
static int candidates(const aspire_records *rs, const aspire_ranking *rk, cand_list *out) {
    for (int64_t i = 0; i < rs->n; i++) {
        const aspire_record *r = &rs->items[i];
        ASPIRE_ASSERT(r->cls < rk->n_classes, "the ranking is not of these records");
        const aspire_strlist *fl[2] = {&r->wp_foreground, &r->wp_background};
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < fl[k]->n; j++) {
                aspire_detect_selected s = {i, r->row, r->cls, (aspire_feature_kind)k, fl[k]->s[j], 0};
                s.cluster_rank = cluster_of(&rk->classes[r->cls], s.kind, s.phrase);
                ASPIRE_ASSERT(s.cluster_rank > 0, "the ranking is not of these records");
                int dup = 0;
                for (int64_t q = out->n - 1; q >= 0 && out->c[q].record == i && !dup; q--)
                    dup = out->c[q].kind == s.kind && same_phrase(out->c[q].phrase, s.phrase);
                if (!dup && cand_push(out, &s)) return ASPIRE_ERR_NOMEM;
            }
    }
    return ASPIRE_OK;
}

static int cmp_cand(const void *a, const void *b) {
    const aspire_detect_selected *x = a, *y = b;
    if (x->cls != y->cls) return x->cls < y->cls ? -1 : 1;
    if (x->cluster_rank != y->cluster_rank) return x->cluster_rank < y->cluster_rank ? -1 : 1;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    return strcmp(x->phrase, y->phrase);
}

/* Draws `take` of g[0..n) with the stream of (class, cluster) and appends them in sorted order. */
static int draw_group(aspire_detect_selected *g, int64_t n, int64_t take, const aspire_rng *base, cand_list *out) {
    aspire_rng r;
    aspire_rng_fork(base, ((uint64_t)(uint32_t)g[0].cls << 32) | (uint32_t)g[0].cluster_rank, &r);
    for (int64_t i = 0; i < take && take < n; i++) {
        int64_t j = i + aspire_rng_below(&r, n - i);
        aspire_detect_selected t = g[i]; g[i] = g[j]; g[j] = t;
    }
    qsort(g, (size_t)take, sizeof *g, cmp_cand);
    for (int64_t i = 0; i < take; i++)
        if (cand_push(out, &g[i])) return ASPIRE_ERR_NOMEM;
    return ASPIRE_OK;
}

int aspire_detect_select(const aspire_records *rs, const aspire_ranking *rk, const aspire_detect_select_opts *opt,
                  aspire_detect_selection *out) {
    memset(out, 0, sizeof *out);
    aspire_detect_select_opts o;
    aspire_detect_select_opts_init(&o);
    if (opt) o = *opt;
    if (o.max_per_class < 1 || o.top_quota < 1 || o.next_quota < 1)
        return aspire_error(ASPIRE_ERR_ARG, "select: per class %d, top cluster %d, next clusters %d: each must be >= 1",
                            o.max_per_class, o.top_quota, o.next_quota);
    cand_list all = {0}, chosen = {0};
    int rc = candidates(rs, rk, &all);
    if (!rc && all.n) qsort(all.c, (size_t)all.n, sizeof *all.c, cmp_cand);
    aspire_rng base;
    aspire_rng_seed(&base, o.seed);
    int64_t taken = 0;
    for (int64_t i = 0; i < all.n && !rc;) {
        int64_t j = i;
        while (j < all.n && all.c[j].cls == all.c[i].cls && all.c[j].cluster_rank == all.c[i].cluster_rank) j++;
        int first = i == 0 || all.c[i - 1].cls != all.c[i].cls;
        if (first) taken = 0;
        int64_t take = first ? o.top_quota : o.next_quota;
        if (take > j - i) take = j - i;
        if (take > o.max_per_class - taken) take = o.max_per_class - taken;
        if (take > 0) rc = draw_group(all.c + i, j - i, take, &base, &chosen);
        taken += take > 0 ? take : 0;
        i = j;
    }
    aspire_free(all.c, (size_t)all.cap * sizeof *all.c);
    if (rc) { aspire_free(chosen.c, 0); return rc; }
    out->items = chosen.c;
    out->n = chosen.n;
    return ASPIRE_OK;
}
