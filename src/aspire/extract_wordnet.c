/* extract_wordnet.c — the built-in extractor backend: splits a caption into noun phrases with
 * WordNet (Debian libwordnet, data in /usr/share/wordnet) and sorts them into background, label
 * object (dropped) and foreground object. No model, no training: rules over WordNet's noun
 * hierarchy, documented here and in docs/extract.md.
 *
 * Per caption: tokenise (lower case; punctuation breaks phrases; "'s" dropped; hyphens split words
 * but "close-up" and "sea-gull" still match as collocations), find WordNet collocations of 2–4
 * words ("palm tree", "body of water"), tag each remaining word as function word, noun, verb,
 * adjective (a few context rules below), group consecutive nouns into a phrase whose last noun is
 * its head, and classify the head by its senses (see classify_word). All WordNet answers are
 * cached per word and per synset, so a warm extractor does no WordNet call at all.
 *
 * The WordNet C library keeps global state (open files, static buffers) and is not thread-safe:
 * every call into it holds wn_lock. */
#include "aspire/extract.h"

#include <wn.h>

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the WordNet library, serialised ------------------------------------------------------ */

static pthread_mutex_t wn_lock = PTHREAD_MUTEX_INITIALIZER;
static int wn_ready;     /* wninit succeeded; guarded by wn_lock */

static int wn_quiet(char *msg) { (void)msg; return -1; }

/* Opens the database once per process. Caller holds wn_lock. */
static int wn_open_locked(void) {
    if (wn_ready) return ASPIRE_OK;
    display_message = wn_quiet;   /* the library would print its errors on stderr */
    if (wninit() != 0) {
        const char *dir = getenv("WNSEARCHDIR");
        return aspire_error(ASPIRE_ERR_NOTFOUND,
                            "WordNet database not found in %s (install wordnet-base, or set WNSEARCHDIR)",
                            dir ? dir : "the default place (/usr/share/wordnet)");
    }
    wn_ready = 1;
    return ASPIRE_OK;
}

/* ---- small hash maps ---------------------------------------------------------------------- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) { h ^= (unsigned char)*s++; h *= 1099511628211ull; }
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

/* Open addressing over indices into a value array; slot value 0 = empty, else index + 1. */
typedef struct index_table { uint32_t *slots; size_t cap; size_t n; } index_table;

static int table_grow(index_table *t, uint64_t (*hash_of)(const void *, uint32_t), const void *ctx) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    uint32_t *s = aspire_calloc(cap, sizeof *s);
    if (!s) return ASPIRE_ERR_NOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i]) continue;
        size_t j = (size_t)hash_of(ctx, t->slots[i] - 1) & (cap - 1);
        while (s[j]) j = (j + 1) & (cap - 1);
        s[j] = t->slots[i];
    }
    aspire_free(t->slots, t->cap * sizeof *t->slots);
    t->slots = s;
    t->cap = cap;
    return ASPIRE_OK;
}

/* ---- categories and roots ----------------------------------------------------------------- */

enum {
    F_BG_WATER = 1u << 0,   /* body of water, ice */
    F_BG_LAND = 1u << 1,    /* location, dry land, geological formation, biome, vegetation, ... */
    F_BG_SKY = 1u << 2,     /* sky, air */
    F_OBJECT = 1u << 3,     /* physical object, or a "thing" like a body of water */
    F_PHYSICAL = 1u << 4,   /* physical entity: substances, phenomena (a cloud) */
    F_LIVING = 1u << 5,     /* living thing */
    F_BG_COVER = 1u << 6,   /* a ground cover (grass, sand, snow, a road): second to a scene */
    F_LOCATION = 1u << 7,   /* a location that is no scene ("post" the position, "top"): not an object */
    F_BODYPART = 1u << 8,   /* body part */
};
#define F_BG (F_BG_WATER | F_BG_LAND | F_BG_SKY)

enum { CAT_NONE = 0, CAT_OTHER, CAT_OBJ, CAT_BG };

/* The noun concepts that decide a word's category (WordNet 3.0 senses; `also` must be one of the
 * synset's words, a check that the database is the expected one). A root counts for its hyponyms
 * too unless `exact`: "grass" is a background, but wheat and bamboo (hyponyms of grass) are not.
 * `hyper_of`: the root is the first hypernym of that sense instead. */
typedef struct root_spec {
    const char *lemma;
    int sense;
    const char *also;       /* a synonym in the same synset, or NULL */
    uint32_t flags;
    bool exact;
    bool hyper_of;
} root_spec;

static const root_spec root_specs[] = {
    /* backgrounds: places and surfaces a scene is set in */
    {"region", 3, NULL, F_BG_LAND, false, false},             /* geographical area: field, desert, meadow, park, city */
    {"geographic_point", 1, "geographical_point", F_BG_LAND, false, false}, /* harbor, port */
    {"jungle", 1, NULL, F_BG_LAND, false, false},
    {"body_of_water", 1, "water", F_BG_WATER, false, false},  /* lake, ocean, river, pond, sea, stream */
    {"dry_land", 1, "terra_firma", F_BG_LAND, false, false},  /* land, ground, island */
    {"land", 2, "soil", F_BG_LAND, false, false},             /* wetland, marsh, farmland, turf */
    {"geological_formation", 1, "formation", F_BG_LAND, false, false}, /* beach, shore, mountain, hill, cliff */
    {"biome", 1, NULL, F_BG_LAND, false, false},              /* forest (woodland), desert, grassland */
    {"vegetation", 1, "flora", F_BG_LAND, false, false},      /* forest, woods */
    {"earth", 2, "ground", F_BG_LAND | F_BG_COVER, false, false}, /* the material: soil, dirt, sand, mud */
    {"road", 1, "route", F_BG_LAND | F_BG_COVER, false, false},   /* road, street, highway */
    {"sky", 1, NULL, F_BG_SKY, false, false},
    {"air", 1, NULL, F_BG_SKY, true, false},                  /* "flying in the air" */
    {"grass", 1, NULL, F_BG_LAND | F_BG_COVER, true, false},  /* "standing in the grass" */
    {"snow", 2, NULL, F_BG_LAND | F_BG_COVER, true, false},   /* the layer on the ground */
    {"ice", 1, "water_ice", F_BG_WATER | F_BG_COVER, true, false},
    /* other places (a position, a point, outer space, "top"): neither scene nor object */
    {"location", 1, NULL, F_LOCATION, false, false},
    /* objects */
    {"physical_object", 1, "object", F_OBJECT, false, false},
    {"body_of_water", 1, "water", F_OBJECT, false, true},    /* "thing": a self-contained entity */
    {"physical_entity", 1, NULL, F_PHYSICAL, false, false},
    {"living_thing", 1, "animate_thing", F_LIVING, false, false},
    {"body_part", 1, NULL, F_BODYPART, false, false},
};
#define NROOTS ((int)(sizeof root_specs / sizeof root_specs[0]))

/* Nouns never emitted as objects or backgrounds: picture frames ("a photo of"), positions ("in
 * front of", "on top of"), quantities ("a group of"), generic words. Compared with the lemma. */
static const char *const stop_nouns[] = {
    "area", "back", "backdrop", "background", "bottom", "cartoon", "center", "centre", "closeup",
    "color", "colour", "corner", "couple", "distance", "drawing", "edge", "emoji", "foreground",
    "frame", "front", "group", "half", "icon", "illustration", "image", "kind", "left", "lot",
    "middle", "number", "object", "painting", "pair", "part", "photo", "photograph", "pic",
    "picture", "piece", "place", "portrait", "rendering", "right", "scene", "scenery", "selfie",
    "shape", "shot", "side", "sketch", "snapshot", "something", "sort", "spot", "surface", "thing",
    "top", "type", "variety", "view", "way",
};
/* Of those, the words that mark the phrase before them as the background ("a forest background"). */
static const char *const background_marks[] = {"backdrop", "background", "scenery"};

/* ---- function words ----------------------------------------------------------------------- */

enum {
    K_START = 0, K_PUNCT, K_DET, K_PREP, K_TO, K_INF, K_CONJ, K_PRON, K_AUX, K_ADV,
    K_NOUN, K_ADJ, K_VERB, K_UNKNOWN,
};

typedef struct func_word { const char *w; uint8_t kind; } func_word;

static const func_word func_words[] = { /* sorted (bsearch) */
    {"a", K_DET}, {"about", K_PREP}, {"above", K_PREP}, {"across", K_PREP}, {"after", K_PREP},
    {"again", K_ADV}, {"against", K_PREP}, {"all", K_DET}, {"almost", K_ADV}, {"alone", K_ADV},
    {"along", K_PREP}, {"alongside", K_PREP}, {"also", K_ADV}, {"am", K_AUX}, {"amid", K_PREP},
    {"amidst", K_PREP}, {"among", K_PREP}, {"an", K_DET}, {"and", K_CONJ}, {"another", K_DET},
    {"any", K_DET}, {"are", K_AUX}, {"around", K_PREP}, {"as", K_PREP}, {"at", K_PREP},
    {"atop", K_PREP}, {"away", K_ADV}, {"be", K_AUX}, {"been", K_AUX}, {"before", K_PREP},
    {"behind", K_PREP}, {"being", K_AUX}, {"below", K_PREP}, {"beneath", K_PREP}, {"beside", K_PREP},
    {"besides", K_PREP}, {"between", K_PREP}, {"beyond", K_PREP}, {"both", K_DET}, {"but", K_CONJ},
    {"by", K_PREP}, {"can", K_AUX}, {"close", K_ADV}, {"closely", K_ADV}, {"could", K_AUX},
    {"did", K_AUX}, {"do", K_AUX}, {"does", K_AUX}, {"down", K_PREP}, {"during", K_PREP},
    {"each", K_DET}, {"eight", K_DET}, {"eleven", K_DET}, {"even", K_ADV}, {"every", K_DET},
    {"few", K_DET}, {"five", K_DET}, {"for", K_PREP}, {"four", K_DET}, {"from", K_PREP},
    {"had", K_AUX}, {"has", K_AUX}, {"have", K_AUX}, {"having", K_AUX}, {"he", K_PRON},
    {"her", K_DET}, {"here", K_ADV}, {"him", K_PRON}, {"his", K_DET}, {"i", K_PRON},
    {"in", K_PREP}, {"inside", K_PREP}, {"into", K_PREP}, {"is", K_AUX}, {"it", K_PRON},
    {"its", K_DET}, {"itself", K_PRON}, {"just", K_ADV}, {"like", K_PREP}, {"many", K_DET},
    {"may", K_AUX}, {"might", K_AUX}, {"more", K_DET}, {"most", K_DET}, {"mostly", K_ADV},
    {"much", K_DET}, {"must", K_AUX}, {"my", K_DET}, {"near", K_PREP}, {"nearby", K_PREP},
    {"nearly", K_ADV}, {"next", K_ADV}, {"nine", K_DET}, {"no", K_DET}, {"nor", K_CONJ},
    {"not", K_ADV}, {"of", K_PREP}, {"off", K_PREP}, {"on", K_PREP}, {"one", K_DET},
    {"only", K_ADV}, {"onto", K_PREP}, {"opposite", K_PREP}, {"or", K_CONJ}, {"other", K_DET},
    {"our", K_DET}, {"out", K_PREP}, {"outside", K_PREP}, {"over", K_PREP}, {"partly", K_ADV},
    {"past", K_PREP}, {"per", K_PREP}, {"plus", K_CONJ}, {"quite", K_ADV}, {"rather", K_ADV},
    {"really", K_ADV}, {"seven", K_DET}, {"several", K_DET}, {"shall", K_AUX}, {"she", K_PRON},
    {"should", K_AUX}, {"six", K_DET}, {"slightly", K_ADV}, {"so", K_CONJ}, {"some", K_DET},
    {"still", K_ADV}, {"such", K_DET}, {"ten", K_DET}, {"that", K_DET}, {"the", K_DET},
    {"their", K_DET}, {"them", K_PRON}, {"themselves", K_PRON}, {"then", K_CONJ}, {"there", K_PRON},
    {"these", K_DET}, {"they", K_PRON}, {"this", K_DET}, {"those", K_DET}, {"three", K_DET},
    {"through", K_PREP}, {"throughout", K_PREP}, {"to", K_TO}, {"together", K_ADV}, {"too", K_ADV},
    {"toward", K_PREP}, {"towards", K_PREP}, {"twelve", K_DET}, {"two", K_DET}, {"under", K_PREP},
    {"underneath", K_PREP}, {"up", K_PREP}, {"upon", K_PREP}, {"various", K_DET}, {"very", K_ADV},
    {"via", K_PREP}, {"was", K_AUX}, {"we", K_PRON}, {"were", K_AUX}, {"what", K_PRON},
    {"when", K_CONJ}, {"where", K_CONJ}, {"which", K_PRON}, {"while", K_CONJ}, {"whilst", K_CONJ},
    {"who", K_PRON}, {"will", K_AUX}, {"with", K_PREP}, {"within", K_PREP}, {"without", K_PREP},
    {"would", K_AUX}, {"yet", K_CONJ}, {"you", K_PRON}, {"your", K_DET},
};

/* Words after which "to" marks an infinitive ("about to land": land is a verb there), not a
 * preposition ("next to water": water is a noun). */
static const char *const infinitive_triggers[] = {
    "able", "about", "appear", "appears", "attempting", "beginning", "going", "learning", "likely",
    "need", "needs", "preparing", "ready", "seem", "seems", "starting", "trying", "used", "waiting",
    "want", "wants",
};

static int cmp_func(const void *a, const void *b) {
    return strcmp((const char *)a, ((const func_word *)b)->w);
}
static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, *(const char *const *)b); }

static int func_kind(const char *w) {
    const func_word *f = bsearch(w, func_words, sizeof func_words / sizeof func_words[0], sizeof func_words[0], cmp_func);
    return f ? f->kind : -1;
}

static bool in_list(const char *w, const char *const *list, size_t n) {
    return bsearch(w, list, n, sizeof *list, cmp_str) != NULL;
}
#define IN_LIST(w, list) in_list((w), (list), sizeof(list) / sizeof((list)[0]))

/* ---- the backend's state ------------------------------------------------------------------ */

/* What WordNet says about one word or collocation (key: lower case, words joined by '_'). */
typedef struct wn_word {
    char *key;
    char *lemma;          /* noun lemma, words joined by ' '; NULL when not a noun */
    uint64_t labels;      /* bit c: a sense falls under class c's concept; bit 63: the shared one */
    uint8_t noun, verb, verb_infl, adj, adv;
    uint8_t cat;          /* CAT_*: from the first decisive sense (classify_word) */
    uint8_t living;       /* that sense is a living thing */
    uint8_t rank;         /* backgrounds: 2 a scene (lake, field), 1 a ground cover (grass), 0 the sky */
    uint8_t bodypart;     /* some sense is a body part */
    uint8_t stop, bgmark; /* lemma is a stop noun; a background mark */
    uint32_t group;       /* F_BG_* of the deciding sense, for the contrast */
} wn_word;

typedef struct wn_syn {
    long offset;
    uint32_t inherit, exact;  /* root flags from above (and of the synset itself) / of itself only */
    uint64_t classes;         /* class bits from above and itself: under a class concept */
    uint64_t parts;           /* the same for the concepts' parts */
    bool proper;              /* every word capitalised: a name (Hart Crane, Turkey the country) */
} wn_syn;

typedef struct class_root { long offset; uint64_t bit; bool part; } class_root;

#define COMMON_BIT (1ull << 63)

typedef struct wn_backend {
    wn_word **words; size_t nwords, capwords; index_table wtab;   /* entries never move */
    wn_syn *syns; size_t nsyns, capsyns; index_table stab;
    long root_off[NROOTS];
    class_root *croots; int ncroots;
    int nclasses;
    char **concepts;      /* per class: description, or NULL */
    /* per-caption scratch, reused */
    char *text; size_t cap_text;
    struct token *toks; size_t cap_toks;
} wn_backend;

static uint64_t word_hash(const void *ctx, uint32_t i) { return hash_str(((const wn_backend *)ctx)->words[i]->key); }
static uint64_t syn_hash(const void *ctx, uint32_t i) { return hash_u64((uint64_t)((const wn_backend *)ctx)->syns[i].offset); }

static const wn_syn *syn_find(wn_backend *b, long off) {
    if (!b->stab.cap) return NULL;
    size_t j = (size_t)hash_u64((uint64_t)off) & (b->stab.cap - 1);
    for (; b->stab.slots[j]; j = (j + 1) & (b->stab.cap - 1))
        if (b->syns[b->stab.slots[j] - 1].offset == off) return &b->syns[b->stab.slots[j] - 1];
    return NULL;
}

static int syn_add(wn_backend *b, const wn_syn *s) {
    if ((b->stab.n + 1) * 2 > b->stab.cap) {
        int rc = table_grow(&b->stab, syn_hash, b);
        if (rc) return rc;
    }
    if (b->nsyns == b->capsyns) {
        size_t cap = b->capsyns ? b->capsyns * 2 : 1024;
        wn_syn *p = aspire_realloc(b->syns, b->capsyns * sizeof *p, cap * sizeof *p);
        if (!p) return ASPIRE_ERR_NOMEM;
        b->syns = p;
        b->capsyns = cap;
    }
    b->syns[b->nsyns] = *s;
    size_t j = (size_t)hash_u64((uint64_t)s->offset) & (b->stab.cap - 1);
    while (b->stab.slots[j]) j = (j + 1) & (b->stab.cap - 1);
    b->stab.slots[j] = (uint32_t)(++b->nsyns);
    b->stab.n++;
    return ASPIRE_OK;
}

/* The flags of a synset and of everything above it (hypernyms and instance hypernyms), memoised.
 * Caller holds wn_lock. */
static int syn_flags(wn_backend *b, long off, int depth, wn_syn *out) {
    const wn_syn *m = syn_find(b, off);
    if (m) { *out = *m; return ASPIRE_OK; }
    wn_syn s = {.offset = off};
    for (int r = 0; r < NROOTS; r++)
        if (b->root_off[r] == off) {
            if (root_specs[r].exact) s.exact |= root_specs[r].flags;
            else s.inherit |= root_specs[r].flags;
        }
    for (int r = 0; r < b->ncroots; r++)
        if (b->croots[r].offset == off) {
            if (b->croots[r].part) s.parts |= b->croots[r].bit;
            else s.classes |= b->croots[r].bit;
        }
    if (depth < MAXDEPTH) {
        SynsetPtr ss = read_synset(NOUN, off, NULL);
        if (ss) {
            s.proper = ss->wcount > 0;
            for (int i = 0; i < ss->wcount; i++) s.proper = s.proper && isupper((unsigned char)ss->words[i][0]);
            for (int i = 0; i < ss->ptrcount; i++) {
                if ((ss->ptrtyp[i] != HYPERPTR && ss->ptrtyp[i] != INSTANCE) || ss->ppos[i] != NOUN) continue;
                wn_syn h;
                int rc = syn_flags(b, ss->ptroff[i], depth + 1, &h);
                if (rc) { free_synset(ss); return rc; }
                s.inherit |= h.inherit;
                s.classes |= h.classes;
                s.parts |= h.parts;
            }
            free_synset(ss);
        }
    }
    int rc = syn_add(b, &s);
    *out = s;
    return rc;
}

/* Looks a noun up: the word itself, then its base forms (morphstr: "ducks" → duck, "geese" →
 * goose, "palm trees" → palm tree), then the library's spelling variants (getindex: "close_up" →
 * closeup, "sail_boat" → sailboat). Returns an index entry to free with free_index, or NULL.
 * Caller holds wn_lock. */
static IndexPtr noun_index(const char *key) {
    char buf[WORDBUF];
    snprintf(buf, sizeof buf, "%s", key);
    IndexPtr idx = index_lookup(buf, NOUN);
    if (idx) return idx;
    char *m = morphstr(buf, NOUN);
    while (m && !idx) {
        char base[WORDBUF];
        snprintf(base, sizeof base, "%s", m);
        idx = index_lookup(base, NOUN);
        if (!idx) m = morphstr(NULL, NOUN);
    }
    if (idx) return idx;
    snprintf(buf, sizeof buf, "%s", key);
    idx = getindex(buf, NOUN);
    /* getindex looks every spelling variant up at once and hands the entries out one per call
     * (getindex(NULL, ...)): those not taken would leak ("t-shirt" finds t-shirt and tshirt) */
    for (IndexPtr rest = idx ? getindex(NULL, NOUN) : NULL; rest; rest = getindex(NULL, NOUN)) free_index(rest);
    return idx;
}

/* The category of a noun from its senses (WordNet orders them by frequency):
 *  - senses that are names (every synonym capitalised: Hart Crane, Clarence Day, Turkey the
 *    country) are skipped, unless the word has no other sense ("paris");
 *  - labels: the union over *all* other senses of the class concepts they fall under, so that a
 *    word that can name the class is never left in the foreground ("crane", whose bird sense is
 *    its fifth; the price is that "kite" the toy also counts as a bird under a bird class); the
 *    concepts' parts (wing, beak, head) count only in the sense that decides the category below,
 *    as many common words have a rare anatomical sense ("hand" a forefoot, "dock" a tail);
 *  - otherwise the first sense that is a background (under a background root) or a physical object
 *    decides (water: sense 1 is the substance, sense 2 the body of water → background); a sense
 *    that is a location but no scene (a position, a point: "post" sense 1) decides nothing;
 *  - else, if some sense is still physical (a substance, a phenomenon: "cloud"), an object;
 *  - else (abstractions only: "swimming", "group", "day") nothing to emit.
 * Caller holds wn_lock. */
static int classify_word(wn_backend *b, IndexPtr idx, wn_word *w) {
    bool decided = false, weak = false, any_common = false;
    w->cat = CAT_OTHER;
    for (int pass = 0; pass < 2 && !any_common; pass++) {
        for (int i = 0; i < idx->off_cnt; i++) {
            wn_syn s;
            int rc = syn_flags(b, (long)idx->offset[i], 0, &s);
            if (rc) return rc;
            if (pass == 0 && s.proper) continue;
            any_common = true;
            uint32_t f = s.inherit | s.exact;
            w->labels |= s.classes;
            if (f & F_BODYPART) w->bodypart = 1;
            if (decided) continue;
            w->labels |= s.parts;   /* parts count in the deciding sense only ("hand" is no paw) */
            if (f & F_BG) {
                w->cat = CAT_BG;
                w->group = f & F_BG;
                w->rank = (f & F_BG_COVER) ? 1 : (f & (F_BG_LAND | F_BG_WATER)) ? 2 : 0;
                decided = true;
            } else if (f & F_LOCATION) {
                /* a place but no scene: not decisive */
            } else if (f & F_OBJECT) {
                w->cat = CAT_OBJ;
                w->living = (f & F_LIVING) != 0;
                decided = true;
            } else if (f & F_PHYSICAL) {
                weak = true;
            }
        }
    }
    if (!decided && weak) w->cat = CAT_OBJ;
    return ASPIRE_OK;
}

/* Fills a new cache entry for `key` (a token, or words joined by '_'). Caller holds wn_lock. */
static int describe_word(wn_backend *b, const char *key, wn_word *w) {
    memset(w, 0, sizeof *w);
    w->cat = CAT_NONE;
    /* WordNet's one- and two-letter nouns are symbols and abbreviations ("au", "ca", "pa") */
    size_t klen = strlen(key);
    if (klen <= 2 && strcmp(key, "ox") != 0) return ASPIRE_OK;
    IndexPtr idx = noun_index(key);
    if (idx) {
        w->noun = 1;
        char lemma[WORDBUF];
        snprintf(lemma, sizeof lemma, "%s", idx->wd);
        for (char *p = lemma; *p; p++) if (*p == '_') *p = ' ';
        int rc = classify_word(b, idx, w);
        free_index(idx);
        if (rc) return rc;
        if (!(w->lemma = aspire_strdup(lemma))) return ASPIRE_ERR_NOMEM;
        w->stop = IN_LIST(lemma, stop_nouns);
        w->bgmark = IN_LIST(lemma, background_marks);
    }
    if (!strchr(key, '_')) {   /* the other parts of speech matter for single words only */
        char buf[WORDBUF];
        snprintf(buf, sizeof buf, "%s", key);
        unsigned pos = in_wn(buf, ALL_POS);
        w->verb = (pos & bit(VERB)) != 0;
        w->adj = (pos & bit(ADJ)) != 0;
        w->adv = (pos & bit(ADV)) != 0;
        snprintf(buf, sizeof buf, "%s", key);
        char *v = morphstr(buf, VERB);
        if (v && strcmp(v, key) != 0) w->verb = w->verb_infl = 1;
        if (!w->adj) {
            snprintf(buf, sizeof buf, "%s", key);
            w->adj = morphstr(buf, ADJ) != NULL;
        }
    }
    return ASPIRE_OK;
}

/* The cache entry for `key`, computed on first use (entries stay where they are until the
 * backend is freed). Returns ASPIRE_OK, or the error of opening WordNet, or ASPIRE_ERR_NOMEM. */
static int word_get(wn_backend *b, const char *key, const wn_word **out) {
    uint64_t h = hash_str(key);
    if (b->wtab.cap) {
        for (size_t j = (size_t)h & (b->wtab.cap - 1); b->wtab.slots[j]; j = (j + 1) & (b->wtab.cap - 1)) {
            const wn_word *w = b->words[b->wtab.slots[j] - 1];
            if (strcmp(w->key, key) == 0) { *out = w; return ASPIRE_OK; }
        }
    }
    wn_word *w = aspire_calloc(1, sizeof *w);
    if (!w) return ASPIRE_ERR_NOMEM;
    pthread_mutex_lock(&wn_lock);
    int rc = wn_open_locked();
    if (!rc) rc = describe_word(b, key, w);
    pthread_mutex_unlock(&wn_lock);
    if (!rc && !(w->key = aspire_strdup(key))) rc = ASPIRE_ERR_NOMEM;
    if (!rc && (b->wtab.n + 1) * 2 > b->wtab.cap) rc = table_grow(&b->wtab, word_hash, b);
    if (!rc && b->nwords == b->capwords) {
        size_t cap = b->capwords ? b->capwords * 2 : 1024;
        wn_word **p = aspire_realloc(b->words, b->capwords * sizeof *p, cap * sizeof *p);
        if (p) { b->words = p; b->capwords = cap; } else rc = ASPIRE_ERR_NOMEM;
    }
    if (rc) {
        aspire_strfree(w->key);
        aspire_strfree(w->lemma);
        aspire_free(w, sizeof *w);
        return rc;
    }
    b->words[b->nwords] = w;
    size_t j = (size_t)h & (b->wtab.cap - 1);
    while (b->wtab.slots[j]) j = (j + 1) & (b->wtab.cap - 1);
    b->wtab.slots[j] = (uint32_t)(++b->nwords);
    b->wtab.n++;
    *out = w;
    return ASPIRE_OK;
}

/* ---- captions → phrases ------------------------------------------------------------------- */

#define MAX_TOKEN 48   /* longer tokens are unknown words (and never reach WordNet's fixed buffers) */
#define MAX_NGRAM 4

typedef struct token {
    const char *s;        /* NUL-terminated, lower case, in b->text */
    uint8_t kind;         /* K_*: function-word kind, K_PUNCT, K_UNKNOWN, or K_NOUN etc. after tagging */
    uint8_t ascii;        /* only [a-z0-9'] */
    uint8_t hyphen_before;/* joined to the previous token by a hyphen */
    uint8_t span;         /* tokens covered by this unit (collocations); 0 inside a collocation */
    int8_t func;          /* function-word kind (K_DET...), or -1 */
    uint8_t possessive;   /* ended in "'s" or "s'": ends a noun phrase ("a bird's nest") */
    const wn_word *w;     /* cache entry (words and collocations), or NULL */
} token;

static int ensure_scratch(wn_backend *b, size_t n) {
    size_t need_text = 2 * n + 2, need_toks = n + 2;
    if (need_text > b->cap_text) {
        char *p = aspire_realloc(b->text, b->cap_text, need_text);
        if (!p) return ASPIRE_ERR_NOMEM;
        b->text = p;
        b->cap_text = need_text;
    }
    if (need_toks > b->cap_toks) {
        token *p = aspire_realloc(b->toks, b->cap_toks * sizeof *p, need_toks * sizeof *p);
        if (!p) return ASPIRE_ERR_NOMEM;
        b->toks = p;
        b->cap_toks = need_toks;
    }
    return ASPIRE_OK;
}

/* Splits the caption into tokens (see the file comment). Returns the count. */
static int tokenize(wn_backend *b, const char *cap, size_t n) {
    char *out = b->text;
    int nt = 0;
    size_t i = 0;
    bool hyphen = false;
    while (i < n) {
        unsigned char c = (unsigned char)cap[i];
        bool curly = c == 0xE2 && i + 2 < n && (unsigned char)cap[i + 1] == 0x80 && (unsigned char)cap[i + 2] == 0x99;
        if (isalnum(c) || c >= 0x80) {
            if (curly) { i += 3; continue; }   /* a stray right quote */
            token *t = &b->toks[nt++];
            t->s = out;
            t->ascii = 1;
            t->hyphen_before = hyphen;
            hyphen = false;
            t->w = NULL;
            t->span = 1;
            t->func = -1;
            t->possessive = 0;
            t->kind = K_UNKNOWN;
            size_t len = 0;
            while (i < n) {
                c = (unsigned char)cap[i];
                curly = c == 0xE2 && i + 2 < n && (unsigned char)cap[i + 1] == 0x80 && (unsigned char)cap[i + 2] == 0x99;
                if (c == '\'' || curly) {
                    size_t k = i + (curly ? 3 : 1);
                    bool letter_after = k < n && isalpha((unsigned char)cap[k]);
                    /* "duck's" → duck; "o'clock" keeps its apostrophe */
                    if (letter_after && (cap[k] == 's' || cap[k] == 'S') && (k + 1 >= n || !isalnum((unsigned char)cap[k + 1]))) {
                        t->possessive = 1;
                        i = k + 1;
                        break;
                    }
                    if (!letter_after) { t->possessive = 1; i = k; break; }
                    *out++ = '\'';
                    len++;
                    i = k;
                    continue;
                }
                if (!(isalnum(c) || c >= 0x80)) break;
                if (c >= 0x80) t->ascii = 0;
                *out++ = (char)tolower(c);
                len++;
                i++;
            }
            *out++ = 0;
            if (len > MAX_TOKEN) t->ascii = 0;
            continue;
        }
        if (c == '-' && nt > 0 && i + 1 < n && isalnum((unsigned char)cap[i + 1]) && i > 0 &&
            isalnum((unsigned char)cap[i - 1])) {
            hyphen = true;
            i++;
            continue;
        }
        if (!isspace(c)) {
            /* punctuation: one break token per run */
            if (nt == 0 || b->toks[nt - 1].kind != K_PUNCT) {
                token *t = &b->toks[nt++];
                *t = (token){.s = "", .kind = K_PUNCT, .span = 1, .func = -1};
            }
        }
        hyphen = false;
        i++;
    }
    return nt;
}

static bool is_content(const token *t) { return t->kind == K_UNKNOWN && t->ascii && t->func < 0; }

/* Marks collocations of 2..4 tokens that WordNet lists as nouns ("palm tree", "body of water",
 * "close-up"). A candidate starts and ends with a content word and has only content words or
 * "of"/"the"/"in" inside — unless all its parts were joined by hyphens. Longest match wins. */
static int find_collocations(wn_backend *b, int nt) {
    char key[WORDBUF];
    for (int i = 0; i < nt; i++) {
        token *t = &b->toks[i];
        if (t->kind == K_PUNCT || !t->ascii) continue;
        for (int len = MAX_NGRAM; len >= 2; len--) {
            if (i + len > nt) continue;
            bool hyph = true, ok = true;
            for (int k = 1; k < len; k++) hyph = hyph && b->toks[i + k].hyphen_before;
            size_t kl = 0;
            for (int k = 0; k < len && ok; k++) {
                const token *u = &b->toks[i + k];
                if (u->kind == K_PUNCT || !u->ascii || (k < len - 1 && u->possessive)) { ok = false; break; }
                if (!hyph && !is_content(u)) {
                    bool edge = k == 0 || k == len - 1;
                    ok = !edge && (strcmp(u->s, "of") == 0 || strcmp(u->s, "the") == 0 || strcmp(u->s, "in") == 0);
                }
                size_t l = strlen(u->s);
                if (kl + l + 2 > 120) { ok = false; break; }
                if (k) key[kl++] = '_';
                memcpy(key + kl, u->s, l);
                kl += l;
            }
            if (!ok) continue;
            key[kl] = 0;
            const wn_word *w;
            int rc = word_get(b, key, &w);
            if (rc) return rc;
            if (!w->noun) continue;
            t->w = w;
            t->span = (uint8_t)len;
            t->kind = K_NOUN;
            for (int k = 1; k < len; k++) b->toks[i + k].span = 0;
            i += len - 1;
            break;
        }
    }
    return 0;
}

static bool noun_capable(const token *t) { return t->kind == K_NOUN || (t->kind == K_UNKNOWN && t->w && t->w->noun); }

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* "black and white bird": a coordinated adjective before a noun. */
static bool adj_pair(wn_backend *b, int nt, const token *next) {
    if (!next || next->func != K_CONJ) return false;
    const token *after = NULL;
    for (const token *k = next + 1; k < b->toks + nt; k++) if (k->span) { after = k; break; }
    return after && after->kind == K_UNKNOWN && after->w && after->w->adj;
}

/* Tags the units (tokens and collocations) as noun, verb, adjective... with a handful of context
 * rules where WordNet allows several parts of speech:
 *  - an inflected verb form ("-ing", "-ed", irregular) right after a noun, pronoun, auxiliary,
 *    adverb or verb is a verb ("a swan standing"); an "-s" form is a verb right after a noun,
 *    pronoun or adverb, except a concrete one after a noun that is not alive ("a bird lands",
 *    "a duck swims", but "sea shells"; "eating seeds" keeps its noun);
 *  - a base verb form after an infinitive "to" is a verb ("about to land");
 *  - a word that can be an adjective, followed by a noun, is an adjective ("a white boat");
 *    so is one after an auxiliary ("is white") or before "and" + adjective ("black and white");
 *  - anything else WordNet knows as a noun is a noun. */
static void tag(wn_backend *b, int nt) {
    int prev = K_START, before_conj = K_START;
    const token *prev_noun = NULL;
    for (int i = 0; i < nt; i++) {
        token *t = &b->toks[i];
        if (!t->span) continue;
        if (t->kind == K_UNKNOWN && t->ascii) {
            int fk = t->func;
            if (fk == K_TO) {
                /* find the previous unit's text */
                const char *pw = NULL;
                for (int k = i - 1; k >= 0; k--) if (b->toks[k].span) { pw = b->toks[k].s; break; }
                fk = pw && IN_LIST(pw, infinitive_triggers) ? K_INF : K_PREP;
            }
            if (fk >= 0) {
                t->kind = (uint8_t)fk;
            } else if (t->w) {
                const wn_word *w = t->w;
                const token *next = NULL;
                for (int k = i + 1; k < nt; k++) if (b->toks[k].span) { next = &b->toks[k]; break; }
                bool verb_ctx = prev == K_NOUN || prev == K_PRON || prev == K_AUX || prev == K_ADV ||
                                prev == K_VERB || (prev == K_CONJ && before_conj == K_VERB);
                if (w->noun) {
                    t->kind = K_NOUN;
                    bool s_form = ends_with(t->s, "s") && !ends_with(t->s, "ss");
                    if (w->verb_infl && verb_ctx && !s_form) {
                        t->kind = K_VERB;   /* "a swan standing", "a duck landed" */
                    } else if (w->verb_infl && s_form && (prev == K_NOUN || prev == K_PRON || prev == K_ADV)) {
                        /* "a duck swims" vs "sea shells", "eating seeds": a present-tense verb
                         * follows its subject; a concrete plural after a lifeless noun is a compound */
                        bool concrete = w->cat == CAT_OBJ || w->cat == CAT_BG;
                        bool alive_subject = prev == K_NOUN && prev_noun && prev_noun->w && prev_noun->w->living;
                        if (!concrete || prev != K_NOUN || alive_subject) t->kind = K_VERB;
                    } else if (prev == K_INF && w->verb) {
                        t->kind = K_VERB;
                    } else if (w->adj && ((next && noun_capable(next)) || prev == K_AUX || adj_pair(b, nt, next))) {
                        t->kind = K_ADJ;
                    }
                } else if (w->adj) t->kind = K_ADJ;
                else if (w->verb) t->kind = K_VERB;
                else if (w->adv) t->kind = K_ADV;
            }
        }
        if (t->kind == K_CONJ) before_conj = prev;
        if (t->kind == K_NOUN) prev_noun = t;
        prev = t->kind;
    }
}

typedef struct phrase {
    char text[160];
    uint8_t cat;
    bool label, marked_bg;
    uint8_t rank;         /* backgrounds: scene 2 > ground cover 1 > sky 0 */
    bool owned_part;      /* a body part of the label ("its beak", "a bird's head") */
    int pos;              /* token index after the phrase */
} phrase;

/* Appends the phrase of one run of consecutive noun units [from, to) (unit starts). */
static void run_phrase(wn_backend *b, const int *units, int nu, uint64_t labelbits, phrase *ph, bool *have) {
    *have = false;
    const token *head = &b->toks[units[nu - 1]];
    int hi = nu - 1;
    bool mark = false;
    /* a stop noun or an abstract one as head: fall back to the last concrete, non-stop unit */
    while (hi >= 0) {
        const wn_word *w = b->toks[units[hi]].w;
        if (w->bgmark) mark = true;
        if (!w->stop && (w->cat == CAT_OBJ || w->cat == CAT_BG)) break;
        hi--;
    }
    if (hi < 0) return;
    head = &b->toks[units[hi]];
    int lo = hi;
    if (hi == nu - 1) {
        lo = 0;   /* keep the modifiers, minus leading stop or abstract ones */
        while (lo < hi && (b->toks[units[lo]].w->stop || b->toks[units[lo]].w->cat == CAT_OTHER)) lo++;
    }
    size_t n = 0;
    ph->text[0] = 0;
    for (int k = lo; k <= hi; k++) {
        const token *u = &b->toks[units[k]];
        const char *s = k == hi || u->span > 1 ? u->w->lemma : u->s;
        size_t l = strlen(s);
        if (n + l + 2 > sizeof ph->text) return;
        if (n) ph->text[n++] = ' ';
        memcpy(ph->text + n, s, l);
        /* WordNet's spelling "tall-grass" for a caption's "tall grass": keep the caption's spaces */
        bool hyphens = u->span > 1;
        for (int j = 1; j < u->span; j++) hyphens = hyphens && u[j].hyphen_before;
        if (u->span > 1 && !hyphens)
            for (size_t j = n; j < n + l; j++) if (ph->text[j] == '-') ph->text[j] = ' ';
        n += l;
        ph->text[n] = 0;
    }
    ph->cat = head->w->cat;
    ph->label = (head->w->labels & labelbits) != 0;
    ph->marked_bg = mark;
    ph->rank = head->w->rank;
    ph->owned_part = false;
    if (head->w->bodypart) {
        /* owner: the unit before the run, past adjectives: "its" or a possessive label noun */
        int k = units[0] - 1;
        while (k >= 0 && (!b->toks[k].span || b->toks[k].kind == K_ADJ)) k--;
        if (k >= 0) {
            const token *o = &b->toks[k];
            ph->owned_part = (o->func >= 0 && strcmp(o->s, "its") == 0) ||
                             (o->possessive && o->w && (o->w->labels & labelbits));
        }
    }
    *have = true;
}

static bool followed_by_background(wn_backend *b, int nt, int i) {
    /* "... in the background" / "in background" */
    int k = i;
    while (k < nt && !b->toks[k].span) k++;
    if (k >= nt || strcmp(b->toks[k].s, "in") != 0) return false;
    k++;
    if (k < nt && strcmp(b->toks[k].s, "the") == 0) k++;
    return k < nt && (strcmp(b->toks[k].s, "background") == 0 || strcmp(b->toks[k].s, "distance") == 0);
}

static int push_fg(aspire_extraction *out, const char *s, int *cap) {
    for (int i = 0; i < out->n_foreground; i++)
        if (strcmp(out->foreground[i], s) == 0) return ASPIRE_OK;
    if (out->n_foreground == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        char **p = aspire_realloc(out->foreground, (size_t)*cap * sizeof *p, (size_t)nc * sizeof *p);
        if (!p) return ASPIRE_ERR_NOMEM;
        out->foreground = p;
        *cap = nc;
    }
    if (!(out->foreground[out->n_foreground] = aspire_strdup(s))) return ASPIRE_ERR_NOMEM;
    out->n_foreground++;
    return ASPIRE_OK;
}

static int wn_extract(void *impl, const char *caption, int cls, aspire_extraction *out) {
    wn_backend *b = impl;
    size_t n = strlen(caption);
    int rc = ensure_scratch(b, n);
    if (rc) return rc;
    int nt = tokenize(b, caption, n);
    for (int i = 0; i < nt; i++) {
        token *t = &b->toks[i];
        if (t->kind != K_UNKNOWN || !t->ascii) continue;
        if ((t->func = (int8_t)func_kind(t->s)) >= 0) continue;
        if ((rc = word_get(b, t->s, &t->w))) return rc;
    }
    if ((rc = find_collocations(b, nt))) return rc;
    tag(b, nt);

    uint64_t labelbits = (1ull << cls) | COMMON_BIT;
    phrase bg_first = {0}, bg_marked = {0};
    bool have_first = false, have_marked = false;
    int capfg = 0;
    int units[64];
    int nu = 0;
    phrase fg[32];
    int nfg = 0;
    for (int i = 0; i <= nt; i++) {
        token *t = i < nt ? &b->toks[i] : NULL;
        if (t && !t->span) continue;
        if (t && t->kind == K_NOUN && nu < 64 && !(nu && b->toks[units[nu - 1]].possessive)) {
            units[nu++] = i;
            continue;
        }
        if (nu) {
            phrase ph;
            bool have;
            run_phrase(b, units, nu, labelbits, &ph, &have);
            if (have && !ph.label && !ph.owned_part) {
                if (ph.cat == CAT_BG) {
                    bool marked = ph.marked_bg || followed_by_background(b, nt, i);
                    if (marked && !have_marked) { bg_marked = ph; have_marked = true; }
                    if (!have_first || ph.rank > bg_first.rank) { bg_first = ph; have_first = true; }
                } else if (ph.cat == CAT_OBJ && nfg < 32) {
                    fg[nfg++] = ph;
                }
            }
            nu = 0;
        }
        if (t && t->kind == K_NOUN) units[nu++] = i;   /* a run longer than 64 units restarts */
    }
    const phrase *bg = have_marked ? &bg_marked : have_first ? &bg_first : NULL;
    if (bg && !(out->background = aspire_strdup(bg->text))) return ASPIRE_ERR_NOMEM;
    for (int k = 0; k < nfg; k++) {
        if (bg && strcmp(fg[k].text, bg->text) == 0) continue;
        if ((rc = push_fg(out, fg[k].text, &capfg))) return rc;
    }
    return ASPIRE_OK;
}

/* ---- contrast, concepts ------------------------------------------------------------------- */

/* The fallback alternative: water ↔ land, by the background's WordNet group. */
static int wn_contrast(void *impl, const char *background, char **out) {
    wn_backend *b = impl;
    *out = NULL;
    char key[WORDBUF];
    size_t n = strlen(background);
    if (n == 0 || n > 120) return ASPIRE_OK;
    for (size_t i = 0; i <= n; i++) key[i] = background[i] == ' ' ? '_' : (char)tolower((unsigned char)background[i]);
    const wn_word *w;
    int rc = word_get(b, key, &w);
    if (rc) return rc;
    /* a phrase WordNet lacks ("bamboo forest"): its head decides */
    for (const char *p = strchr(key, '_'); !w->noun && p; p = strchr(p + 1, '_'))
        if ((rc = word_get(b, p + 1, &w))) return rc;
    const char *alt = NULL;
    if (w->noun && w->cat == CAT_BG) alt = (w->group & (F_BG_WATER | F_BG_SKY)) ? "land" : "water";
    if (alt && strcmp(alt, w->lemma) != 0 && !(*out = aspire_strdup(alt))) return ASPIRE_ERR_NOMEM;
    return ASPIRE_OK;
}

static const char *wn_concept(void *impl, int cls) {
    wn_backend *b = impl;
    return cls >= 0 && cls < b->nclasses ? b->concepts[cls] : NULL;
}

static void wn_free(void *impl) {
    wn_backend *b = impl;
    if (!b) return;
    for (size_t i = 0; i < b->nwords; i++) {
        aspire_strfree(b->words[i]->key);
        aspire_strfree(b->words[i]->lemma);
        aspire_free(b->words[i], sizeof *b->words[i]);
    }
    aspire_free(b->words, b->capwords * sizeof *b->words);
    aspire_free(b->wtab.slots, b->wtab.cap * sizeof *b->wtab.slots);
    aspire_free(b->syns, b->capsyns * sizeof *b->syns);
    aspire_free(b->stab.slots, b->stab.cap * sizeof *b->stab.slots);
    aspire_free(b->croots, 0);
    if (b->concepts)
        for (int c = 0; c < b->nclasses; c++) aspire_strfree(b->concepts[c]);
    aspire_free(b->concepts, 0);
    aspire_free(b->text, b->cap_text);
    aspire_free(b->toks, b->cap_toks * sizeof *b->toks);
    aspire_free(b, sizeof *b);
}

static const aspire_extractor_backend wordnet_backend = {
    .name = "wordnet",
    .extract = wn_extract,
    .contrast = wn_contrast,
    .concept = wn_concept,
    .free = wn_free,
};

/* ---- set-up: roots and class concepts ----------------------------------------------------- */

/* The synset of sense `sense` (1-based) of a noun; -1 when absent. Caller holds wn_lock. */
static long sense_offset(const char *lemma, int sense, const char *also) {
    char buf[WORDBUF];
    snprintf(buf, sizeof buf, "%s", lemma);
    IndexPtr idx = index_lookup(buf, NOUN);
    if (!idx) return -1;
    long off = sense <= idx->off_cnt ? (long)idx->offset[sense - 1] : -1;
    free_index(idx);
    if (off < 0 || !also) return off;
    SynsetPtr s = read_synset(NOUN, off, NULL);
    if (!s) return -1;
    bool found = false;
    for (int i = 0; i < s->wcount; i++) found = found || strcasecmp(s->words[i], also) == 0;
    free_synset(s);
    return found ? off : -1;
}

static long first_hypernym(long off) {
    SynsetPtr s = read_synset(NOUN, off, NULL);
    if (!s) return -1;
    long h = -1;
    for (int i = 0; i < s->ptrcount && h < 0; i++)
        if (s->ptrtyp[i] == HYPERPTR && s->ppos[i] == NOUN) h = s->ptroff[i];
    free_synset(s);
    return h;
}

/* A class name's concept: the name as a noun (spaces and hyphens as '_', "not "/"non-"/"no "
 * stripped), else its last words ("big dog" → dog), else its longest suffix of at least 3
 * letters that is a noun ("landbird" → bird). Sense 1. Fills `word` with what matched. */
static long class_offset(const char *name, char word[WORDBUF]) {
    char buf[WORDBUF];
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < sizeof buf; p++) {
        unsigned char c = (unsigned char)*p;
        buf[n++] = (c == ' ' || c == '-') ? '_' : (char)tolower(c);
    }
    buf[n] = 0;
    char *s = buf;
    while (*s == '_') s++;
    for (const char *neg[] = {"not_", "non_", "no_", "non"}, **q = neg; q < neg + 4; q++) {
        size_t l = strlen(*q);
        if (strncmp(s, *q, l) == 0 && s[l]) { s += l; break; }
    }
    for (char *t = s; t && *t; t = strchr(t, '_') ? strchr(t, '_') + 1 : NULL) {
        IndexPtr idx = noun_index(t);
        if (idx) {
            long off = (long)idx->offset[0];
            snprintf(word, WORDBUF, "%s", idx->wd);
            free_index(idx);
            return off;
        }
    }
    const char *last = strrchr(s, '_') ? strrchr(s, '_') + 1 : s;
    size_t ln = strlen(last);
    for (size_t k = 1; k + 3 <= ln; k++) {
        char suf[WORDBUF];
        snprintf(suf, sizeof suf, "%s", last + k);
        IndexPtr idx = index_lookup(suf, NOUN);
        if (idx) {
            long off = (long)idx->offset[0];
            snprintf(word, WORDBUF, "%s", idx->wd);
            free_index(idx);
            return off;
        }
    }
    return -1;
}

/* Hypernym distances from a synset: up to `max` links; fills offs/dist (cap entries). */
static int ancestors(long off, long *offs, int *dist, int cap, int max) {
    int n = 0;
    offs[n] = off; dist[n] = 0; n++;
    for (int head = 0; head < n; head++) {
        if (dist[head] >= max) continue;
        SynsetPtr s = read_synset(NOUN, offs[head], NULL);
        if (!s) continue;
        for (int i = 0; i < s->ptrcount; i++) {
            if ((s->ptrtyp[i] != HYPERPTR && s->ptrtyp[i] != INSTANCE) || s->ppos[i] != NOUN) continue;
            bool seen = false;
            for (int k = 0; k < n; k++) seen = seen || offs[k] == s->ptroff[i];
            if (!seen && n < cap) { offs[n] = s->ptroff[i]; dist[n] = dist[head] + 1; n++; }
        }
        free_synset(s);
    }
    return n;
}

/* Most links from a class concept up to the shared concept. Two covers bird for {landbird →
 * bird, waterbird → aquatic bird → bird} and dog for {small dog, big dog}, but not "animal" for
 * unrelated classes. */
#define COMMON_MAX_LINKS 2
#define MAX_ANC 64

static void synset_name(long off, char *out, size_t n) {
    SynsetPtr s = read_synset(NOUN, off, NULL);
    snprintf(out, n, "%s", s && s->wcount ? s->words[0] : "?");
    for (char *p = out; *p; p++) if (*p == '_') *p = ' ';
    if (s) free_synset(s);
}

/* How far up a concept's parts are collected: a bird's own (wing, beak, feather) and those of
 * vertebrate, chordate, animal (head, tail, face) — the bird's parts are not foreground. */
#define PART_MAX_LINKS 3

/* Adds a concept, its parts and its near hypernyms' parts as class roots. Caller holds wn_lock. */
static int add_class_root(wn_backend *b, long off, uint64_t bit, int *cap) {
    long offs[MAX_ANC], roots[256];
    int dist[MAX_ANC], nr = 0;
    int na = ancestors(off, offs, dist, MAX_ANC, PART_MAX_LINKS);
    roots[nr++] = off;
    for (int a = 0; a < na; a++) {
        SynsetPtr s = read_synset(NOUN, offs[a], NULL);
        if (!s) continue;
        for (int i = 0; i < s->ptrcount && nr < 256; i++)
            if (s->ptrtyp[i] == HASPARTPTR && s->ppos[i] == NOUN) roots[nr++] = s->ptroff[i];
        free_synset(s);
    }
    for (int i = 0; i < nr; i++) {
        if (b->ncroots == *cap) {
            int nc = *cap ? *cap * 2 : 64;
            class_root *p = aspire_realloc(b->croots, (size_t)*cap * sizeof *p, (size_t)nc * sizeof *p);
            if (!p) return ASPIRE_ERR_NOMEM;
            b->croots = p;
            *cap = nc;
        }
        b->croots[b->ncroots++] = (class_root){roots[i], bit, i > 0};
    }
    return ASPIRE_OK;
}

static int setup_locked(wn_backend *b, const char *const *classes, int nclasses) {
    int rc = wn_open_locked();
    if (rc) return rc;
    for (int r = 0; r < NROOTS; r++) {
        const root_spec *rs = &root_specs[r];
        long off = sense_offset(rs->lemma, rs->sense, rs->also);
        if (off >= 0 && rs->hyper_of) off = first_hypernym(off);
        if (off < 0)
            return aspire_error(ASPIRE_ERR_FORMAT, "WordNet database: no sense %d of '%s'%s%s (WordNet 3.0 expected)",
                                rs->sense, rs->lemma, rs->also ? " with synonym " : "", rs->also ? rs->also : "");
        b->root_off[r] = off;
    }
    long concept[ASPIRE_EXTRACT_MAX_CLASSES];
    char words[ASPIRE_EXTRACT_MAX_CLASSES][WORDBUF];
    int cap = 0, nconcepts = 0;
    for (int c = 0; c < nclasses; c++) {
        concept[c] = class_offset(classes[c], words[c]);
        if (concept[c] < 0) continue;
        nconcepts++;
        if ((rc = add_class_root(b, concept[c], 1ull << c, &cap))) return rc;
    }
    /* the nearest concept all classes share */
    long common = -1;
    if (nconcepts == nclasses && nclasses >= 2) {
        long offs0[MAX_ANC], offs[MAX_ANC];
        int d0[MAX_ANC], d[MAX_ANC];
        int n0 = ancestors(concept[0], offs0, d0, MAX_ANC, COMMON_MAX_LINKS);
        int worst[MAX_ANC];
        for (int k = 0; k < n0; k++) worst[k] = d0[k];
        for (int c = 1; c < nclasses; c++) {
            int nc = ancestors(concept[c], offs, d, MAX_ANC, COMMON_MAX_LINKS);
            for (int k = 0; k < n0; k++) {
                int found = -1;
                for (int j = 0; j < nc && found < 0; j++) if (offs[j] == offs0[k]) found = d[j];
                worst[k] = found < 0 || worst[k] < 0 ? -1 : (found > worst[k] ? found : worst[k]);
            }
        }
        int best = -1;
        for (int k = 0; k < n0; k++)
            if (worst[k] >= 0 && (best < 0 || worst[k] < worst[best])) best = k;
        if (best >= 0) {
            common = offs0[best];
            if ((rc = add_class_root(b, common, COMMON_BIT, &cap))) return rc;
        }
    }
    char cname[WORDBUF];
    if (common >= 0) synset_name(common, cname, sizeof cname);
    for (int c = 0; c < nclasses; c++) {
        if (concept[c] < 0) continue;
        char desc[2 * WORDBUF + 32];
        for (char *p = words[c]; *p; p++) if (*p == '_') *p = ' ';
        if (common >= 0 && common != concept[c]) snprintf(desc, sizeof desc, "%.255s (shares %.255s)", words[c], cname);
        else snprintf(desc, sizeof desc, "%.255s", words[c]);
        if (!(b->concepts[c] = aspire_strdup(desc))) return ASPIRE_ERR_NOMEM;
    }
    return ASPIRE_OK;
}

static bool sorted(const char *const *list, size_t n, size_t stride) {
    for (size_t i = 1; i < n; i++)
        if (strcmp(*(const char *const *)((const char *)list + (i - 1) * stride),
                   *(const char *const *)((const char *)list + i * stride)) >= 0)
            return false;
    return true;
}

int aspire_extractor_new_wordnet(const char *const *classes, int nclasses, aspire_extractor **out) {
    ASPIRE_ASSERT(out);
    /* the word lists are searched with bsearch */
    ASPIRE_ASSERT(sorted(&func_words[0].w, sizeof func_words / sizeof func_words[0], sizeof func_words[0]));
    ASPIRE_ASSERT(sorted(stop_nouns, sizeof stop_nouns / sizeof stop_nouns[0], sizeof stop_nouns[0]));
    ASPIRE_ASSERT(sorted(background_marks, sizeof background_marks / sizeof background_marks[0], sizeof(char *)));
    ASPIRE_ASSERT(sorted(infinitive_triggers, sizeof infinitive_triggers / sizeof infinitive_triggers[0], sizeof(char *)));
    *out = NULL;
    if (nclasses < 1 || nclasses > ASPIRE_EXTRACT_MAX_CLASSES)
        return aspire_error(ASPIRE_ERR_ARG, "extractor: %d classes (1 to %d allowed)", nclasses, ASPIRE_EXTRACT_MAX_CLASSES);
    for (int c = 0; c < nclasses; c++)
        if (!classes[c] || !classes[c][0]) return aspire_error(ASPIRE_ERR_ARG, "extractor: class %d has an empty name", c);
    wn_backend *b = aspire_calloc(1, sizeof *b);
    if (!b) return ASPIRE_ERR_NOMEM;
    b->nclasses = nclasses;
    b->concepts = aspire_calloc((size_t)nclasses, sizeof *b->concepts);
    if (!b->concepts) { wn_free(b); return ASPIRE_ERR_NOMEM; }
    pthread_mutex_lock(&wn_lock);
    int rc = setup_locked(b, classes, nclasses);
    pthread_mutex_unlock(&wn_lock);
    if (rc) { wn_free(b); return rc; }
    return aspire_extractor_new(&wordnet_backend, b, classes, nclasses, out);
}

/* ---- lemmas (for the ranking's phrase clusters) -------------------------------------------- */

int aspire_wordnet_lemma(const char *text, char *out, size_t n) {
    ASPIRE_ASSERT(text && out && n > 0);
    out[0] = 0;
    pthread_mutex_lock(&wn_lock);
    int rc = wn_open_locked();
    size_t len = 0;
    for (const char *p = text; !rc && *p;) {
        while (*p == ' ') p++;
        size_t wl = strcspn(p, " ");
        if (!wl) break;
        char word[WORDBUF];
        snprintf(word, sizeof word, "%.*s", (int)(wl < WORDBUF - 1 ? wl : WORDBUF - 1), p);
        p += wl;
        for (char *q = word; *q; q++) *q = (char)tolower((unsigned char)*q);
        const char *lemma = word;
        char base[WORDBUF];
        if (!in_wn(word, NOUN)) {   /* a known noun stays; else its first base form ("geese" → goose) */
            char *m = morphstr(word, NOUN);
            if (m) lemma = strcpy(base, m);
        }
        if (len < n) len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "", lemma);
    }
    pthread_mutex_unlock(&wn_lock);
    return rc;
}

/* ---- related nouns, for other modules (the segmenter's phrase fallback) ------------------- */

#define RELATED_MAX 256

typedef struct related_entry { char lemma[WORDBUF]; int dist, seq; } related_entry;

static int related_cmp(const void *a, const void *b) {
    const related_entry *x = a, *y = b;
    return x->dist != y->dist ? x->dist - y->dist : x->seq - y->seq;
}

/* Collects the lemmas of the synsets within max_links hypernym links of every noun sense of key.
 * Caller holds wn_lock. Returns the count. */
static int related_locked(const char *key, int max_links, related_entry *out) {
    IndexPtr idx = noun_index(key);
    if (!idx) return 0;
    int n = 0;
    for (int s = 0; s < idx->off_cnt && n < RELATED_MAX; s++) {
        long offs[MAX_ANC];
        int dist[MAX_ANC];
        int na = ancestors((long)idx->offset[s], offs, dist, MAX_ANC, max_links);
        for (int a = 0; a < na && n < RELATED_MAX; a++) {
            SynsetPtr syn = read_synset(NOUN, offs[a], NULL);
            for (int i = 0; syn && i < syn->wcount && n < RELATED_MAX; i++) {
                snprintf(out[n].lemma, WORDBUF, "%s", syn->words[i]);
                for (char *p = out[n].lemma; *p; p++) *p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
                out[n].seq = n;
                out[n++].dist = dist[a];
            }
            if (syn) free_synset(syn);
        }
    }
    free_index(idx);
    return n;
}

int aspire_wordnet_related(const char *word, int max_links, int (*fn)(const char *lemma, int dist, void *ud),
                           void *ud) {
    char key[WORDBUF];
    size_t k = 0;
    for (const char *p = word; *p && k + 1 < sizeof key; p++)
        key[k++] = (*p == ' ' || *p == '-') ? '_' : (char)tolower((unsigned char)*p);
    key[k] = 0;
    related_entry *e = aspire_malloc(RELATED_MAX * sizeof *e);
    if (!e) return ASPIRE_ERR_NOMEM;
    pthread_mutex_lock(&wn_lock);
    int rc = wn_open_locked();
    int n = rc || !k ? 0 : related_locked(key, max_links, e);
    pthread_mutex_unlock(&wn_lock);
    qsort(e, (size_t)n, sizeof *e, related_cmp);  /* nearest first; ties in sense order */
    for (int i = 0; i < n; i++)
        if (fn(e[i].lemma, e[i].dist, ud)) break;
    aspire_free(e, RELATED_MAX * sizeof *e);
    return rc;
}
