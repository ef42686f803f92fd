/* segnet_resolve.c — a free-text phrase to a set of the network's concepts.
 *
 * "the two trees" → tree words → {pine, tree}; "a boat and a fish" → {sailboat} ∪ {fish}. Per
 * part (split at "and", "or", "," ";" "&"): lower case, words of letters and digits, function words
 * dropped (determiners, numbers, quantities, a few sizes); then the longest tail of the remaining
 * words that the vocabulary holds, as written or with its last word made singular; failing that,
 * WordNet's synonyms and hypernyms of each tail (longest first, nearest relation first) until one
 * is in the vocabulary; failing that, the part is refused with its words. */
#include "models/segnet_internal.h"

#include "aspire/extract.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_WORDS 16
#define WORD_LEN 48
#define WORDNET_LINKS 10

static const char *const dropped[] = {
    "a", "all", "an", "another", "any", "big", "both", "couple", "eight", "every", "few", "five", "four",
    "her", "his", "image", "its", "large", "little", "lot", "lots", "many", "my", "nine", "of", "one",
    "our", "photo", "picture", "pair", "several", "seven", "six", "small", "some", "ten", "that", "the",
    "their", "these", "this", "those", "three", "tiny", "two", "your",
};

static int is_dropped(const char *w) {
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        if (strcmp(w, dropped[i]) == 0) return 1;
    for (const char *p = w; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;  /* a number */
}

static int vocab_find(const aspire_segnet *net, const char *key, uint64_t *set) {
    for (int p = 0; p < net->nphrases; p++)
        if (strcmp(net->phrases[p], key) == 0) { *set = net->sets[p]; return 1; }
    return 0;
}

static int ends_with(const char *w, size_t l, const char *suffix) {
    size_t k = strlen(suffix);
    return l > k && strcmp(w + l - k, suffix) == 0;
}

/* The singular of an English plural by the common rules ("trees", "boxes", "berries", "geese");
 * WordNet's morphology covers the rest when the vocabulary misses. */
static void singular(const char *w, char *out, size_t n) {
    size_t l = strlen(w);
    snprintf(out, n, "%s", w);
    if (strcmp(w, "geese") == 0) snprintf(out, n, "goose");
    else if (strcmp(w, "cacti") == 0) snprintf(out, n, "cactus");
    else if (ends_with(w, l, "ies")) snprintf(out + l - 3, n - (l - 3), "y");
    else if (ends_with(w, l, "ses") || ends_with(w, l, "xes") || ends_with(w, l, "ches") || ends_with(w, l, "shes"))
        out[l - 2] = 0;
    else if (ends_with(w, l, "s") && !ends_with(w, l, "ss")) out[l - 1] = 0;
}

/* words[a..n) joined by spaces, the last one made singular if `sing`. */
static void join(char words[][WORD_LEN], int a, int n, int sing, char *out, size_t cap) {
    size_t k = 0;
    out[0] = 0;
    for (int i = a; i < n && k < cap; i++) {
        char w[WORD_LEN];
        if (sing && i == n - 1) singular(words[i], w, sizeof w);
        else snprintf(w, sizeof w, "%s", words[i]);
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i > a ? " " : "", w);
    }
}

typedef struct wn_hit { const aspire_segnet *net; uint64_t set; char lemma[128]; } wn_hit;

static int wn_visit(const char *lemma, int dist, void *ud) {
    (void)dist;
    wn_hit *h = ud;
    if (!vocab_find(h->net, lemma, &h->set)) return 0;
    snprintf(h->lemma, sizeof h->lemma, "%s", lemma);
    return 1;
}

static void how_add(char *how, size_t n, const char *fmt, const char *a, const char *b) {
    if (!how || !n) return;
    size_t k = strlen(how);
    if (k && k + 2 < n) { how[k++] = ';'; how[k++] = ' '; how[k] = 0; }
    if (k < n) snprintf(how + k, n - k, fmt, a, b);
}

/* One part's words → its set. */
static int resolve_part(const aspire_segnet *net, char words[][WORD_LEN], int nw, const char *phrase, uint64_t *set,
                        char *how, size_t n) {
    char key[MAX_WORDS * WORD_LEN];
    for (int a = 0; a < nw; a++)
        for (int sing = 0; sing < 2; sing++) {
            join(words, a, nw, sing, key, sizeof key);
            if (vocab_find(net, key, set)) { how_add(how, n, "%s%s", key, ""); return ASPIRE_OK; }
        }
    for (int a = 0; a < nw; a++) {
        join(words, a, nw, 0, key, sizeof key);
        wn_hit h = {net, 0, ""};
        int rc = aspire_wordnet_related(key, WORDNET_LINKS, wn_visit, &h);
        if (rc) return aspire_error_prefix(rc, "segmenter: phrase '%s'", phrase);
        if (h.set) { *set = h.set; how_add(how, n, "%s → %s (WordNet)", key, h.lemma); return ASPIRE_OK; }
    }
    join(words, 0, nw, 0, key, sizeof key);
    return aspire_error(ASPIRE_ERR_NOTFOUND,
                        "segmenter: phrase '%s': '%s' is neither in the model's vocabulary nor related to a word of "
                        "it in WordNet (the model knows the world's birds and objects, e.g. duck, sailboat, tree, bird)",
                        phrase, key);
}

static int is_separator_word(const char *w) { return strcmp(w, "and") == 0 || strcmp(w, "or") == 0; }
static int is_separator(char c) { return c == ',' || c == ';' || c == '&'; }

/* Resolves the words gathered so far as one part and adds its set. */
static int flush_part(const aspire_segnet *net, char words[][WORD_LEN], int *nw, const char *phrase, uint64_t *set,
                      int *parts, char *how, size_t n) {
    if (!*nw) return ASPIRE_OK;
    uint64_t s = 0;
    int rc = resolve_part(net, words, *nw, phrase, &s, how, n);
    *set |= s;
    *nw = 0;
    (*parts)++;
    return rc;
}

int aspire_segnet_resolve(const aspire_segnet *net, const char *phrase, uint64_t *set, char *how, size_t n) {
    *set = 0;
    if (how && n) how[0] = 0;
    char words[MAX_WORDS][WORD_LEN];
    int nw = 0, parts = 0, rc = ASPIRE_OK;
    for (const char *p = phrase; !rc;) {
        while (*p && !isalnum((unsigned char)*p) && !(*p & 0x80) && !is_separator(*p)) p++;
        if (!*p || is_separator(*p)) {
            rc = flush_part(net, words, &nw, phrase, set, &parts, how, n);
            if (!*p) break;
            p++;
            continue;
        }
        char w[WORD_LEN];
        size_t k = 0;
        for (; *p && (isalnum((unsigned char)*p) || (*p & 0x80)); p++)
            if (k + 1 < sizeof w) w[k++] = (char)tolower((unsigned char)*p);
        w[k] = 0;
        if (is_separator_word(w)) rc = flush_part(net, words, &nw, phrase, set, &parts, how, n);
        else if (!is_dropped(w) && nw < MAX_WORDS) memcpy(words[nw++], w, k + 1);
    }
    if (rc) { *set = 0; return rc; }
    if (!parts)
        return aspire_error(ASPIRE_ERR_ARG, "segmenter: phrase '%s' names nothing (no word besides articles and numbers)",
                            phrase);
    return ASPIRE_OK;
}
