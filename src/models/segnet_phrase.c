/* segnet_phrase.c — the segmenter's phrase vocabulary: the built-in one over the world's concepts,
 * copying it into a network, its serialisation, and resolving a free-text phrase to a set of
 * concepts (vocabulary first, then WordNet's synonyms and hypernyms). */
#include "models/segnet_internal.h"

#include "aspire/extract.h"
#include "aspire/world.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the world's vocabulary ----------------------------------------------------------------
 * Concept c is the world's emoji c. The names are the world's caption words (src/world/caption.c:
 * each emoji's synonyms) plus the group words a caption or a user may use ("tree" names both trees,
 * as the captions use it for the pine too; "deciduous tree" the world's "tree" alone); this table is the
 * model's vocabulary and is written into the model file, so inference never reads the world. */
#define B(e) (UINT64_C(1) << ASPIRE_WORLD_##e)
#define WATERBIRDS (B(DUCK) | B(SWAN) | B(FLAMINGO) | B(PENGUIN) | B(GOOSE))
#define LANDBIRDS (B(ROOSTER) | B(TURKEY) | B(PEACOCK) | B(PARROT) | B(EAGLE) | B(OWL))

static const char *const world_phrases[] = {
    "duck", "mallard", "swan", "flamingo", "penguin", "goose", "rooster", "chicken", "turkey", "peacock",
    "parrot", "eagle", "owl", "sailboat", "boat", "sailing boat", "fish", "shell", "seashell", "pine",
    "pine tree", "evergreen tree", "evergreen", "tree", "deciduous tree", "broadleaf tree", "sunflower", "flower", "mushroom", "cactus", "sun",
    "cloud", "balloon", "red balloon", "bird", "waterbird", "water bird", "aquatic bird", "landbird",
    "land bird",
};
static const uint64_t world_sets[] = {
    B(DUCK), B(DUCK), B(SWAN), B(FLAMINGO), B(PENGUIN), B(GOOSE), B(ROOSTER), B(ROOSTER), B(TURKEY), B(PEACOCK),
    B(PARROT), B(EAGLE), B(OWL), B(SAILBOAT), B(SAILBOAT), B(SAILBOAT), B(FISH), B(SHELL), B(SHELL), B(PINE),
    B(PINE), B(PINE), B(PINE), B(PINE) | B(TREE), B(TREE), B(TREE), B(SUNFLOWER), B(SUNFLOWER), B(MUSHROOM), B(CACTUS), B(SUN),
    B(CLOUD), B(BALLOON), B(BALLOON), WATERBIRDS | LANDBIRDS, WATERBIRDS, WATERBIRDS, WATERBIRDS, LANDBIRDS,
    LANDBIRDS,
};
_Static_assert(sizeof world_phrases / sizeof world_phrases[0] == sizeof world_sets / sizeof world_sets[0],
               "one set per phrase");

aspire_segnet_vocab aspire_segnet_world_vocab(void) {
    static const char *names[ASPIRE_WORLD_NEMOJI];
    for (int e = 0; e < ASPIRE_WORLD_NEMOJI; e++) names[e] = aspire_world_emoji_name(e);
    aspire_segnet_vocab v = {ASPIRE_WORLD_NEMOJI, names, (int)(sizeof world_phrases / sizeof world_phrases[0]),
                             world_phrases, world_sets};
    return v;
}

/* ---- copies and files ----------------------------------------------------------------------- */

void segnet_clear_vocab(aspire_segnet *net) {
    for (int c = 0; c < net->nconcepts; c++) aspire_strfree(net->concepts[c]);
    for (int p = 0; p < net->nphrases; p++) aspire_strfree(net->phrases[p]);
    aspire_free(net->concepts, 0);
    aspire_free(net->phrases, 0);
    aspire_free(net->sets, 0);
    net->concepts = net->phrases = NULL;
    net->sets = NULL;
    net->nconcepts = net->nphrases = 0;
}

int segnet_set_vocab(aspire_segnet *net, const aspire_segnet_vocab *v) {
    uint64_t all = v->nconcepts >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << v->nconcepts) - 1;
    for (int c = 0; c < v->nconcepts; c++)
        if (!v->concepts[c] || !v->concepts[c][0] || strpbrk(v->concepts[c], ",;="))
            return aspire_error(ASPIRE_ERR_ARG, "segmenter: concept %d has an empty name or one with , ; =", c);
    for (int p = 0; p < v->nphrases; p++)
        if (!v->phrases[p] || !v->phrases[p][0] || strpbrk(v->phrases[p], ",;=") || !v->sets[p] || (v->sets[p] & ~all))
            return aspire_error(ASPIRE_ERR_ARG, "segmenter: phrase %d is empty, holds , ; = or names no concept", p);
    net->concepts = aspire_calloc((size_t)v->nconcepts, sizeof *net->concepts);
    net->phrases = aspire_calloc((size_t)v->nphrases + 1, sizeof *net->phrases);
    net->sets = aspire_calloc((size_t)v->nphrases + 1, sizeof *net->sets);
    if (!net->concepts || !net->phrases || !net->sets) return ASPIRE_ERR_NOMEM;
    for (; net->nconcepts < v->nconcepts; net->nconcepts++)
        if (!(net->concepts[net->nconcepts] = aspire_strdup(v->concepts[net->nconcepts]))) return ASPIRE_ERR_NOMEM;
    for (; net->nphrases < v->nphrases; net->nphrases++) {
        net->sets[net->nphrases] = v->sets[net->nphrases];
        if (!(net->phrases[net->nphrases] = aspire_strdup(v->phrases[net->nphrases]))) return ASPIRE_ERR_NOMEM;
    }
    return ASPIRE_OK;
}

char *segnet_phrases_serialize(const aspire_segnet *net) {
    size_t cap = 64;
    for (int p = 0; p < net->nphrases; p++) cap += strlen(net->phrases[p]) + 4 * 64;
    char *s = aspire_malloc(cap);
    if (!s) return NULL;
    size_t k = 0;
    s[0] = 0;
    for (int p = 0; p < net->nphrases; p++) {
        k += (size_t)snprintf(s + k, cap - k, "%s%s=", p ? ";" : "", net->phrases[p]);
        int first = 1;
        for (int c = 0; c < 64; c++)
            if (net->sets[p] >> c & 1) { k += (size_t)snprintf(s + k, cap - k, "%s%d", first ? "" : ",", c); first = 0; }
    }
    return s;
}

/* Parses one "phrase=c,c" entry of [a, b). */
static int parse_entry(const char *a, const char *b, int nconcepts, char **phrase, uint64_t *set, const char *where) {
    const char *eq = memchr(a, '=', (size_t)(b - a));
    if (!eq || eq == a) return aspire_error(ASPIRE_ERR_FORMAT, "%s: entry '%.*s' is not phrase=concepts", where, (int)(b - a), a);
    *set = 0;
    for (const char *p = eq + 1; p < b;) {
        char *end;
        long c = strtol(p, &end, 10);
        if (end == p || c < 0 || c >= nconcepts || (end < b && *end != ','))
            return aspire_error(ASPIRE_ERR_FORMAT, "%s: entry '%.*s' names a bad concept", where, (int)(b - a), a);
        *set |= UINT64_C(1) << c;
        p = end < b ? end + 1 : end;
    }
    if (!*set) return aspire_error(ASPIRE_ERR_FORMAT, "%s: entry '%.*s' names no concept", where, (int)(b - a), a);
    *phrase = aspire_malloc((size_t)(eq - a) + 1);
    if (!*phrase) return ASPIRE_ERR_NOMEM;
    memcpy(*phrase, a, (size_t)(eq - a));
    (*phrase)[eq - a] = 0;
    return ASPIRE_OK;
}

int segnet_phrases_parse(aspire_segnet_vocab *v, char ***phrases, uint64_t **sets, const char *s, const char *where) {
    int n = *s ? 1 : 0;
    for (const char *p = s; *p; p++) n += *p == ';';
    *phrases = aspire_calloc((size_t)n + 1, sizeof **phrases);
    *sets = aspire_calloc((size_t)n + 1, sizeof **sets);
    if (!*phrases || !*sets) return ASPIRE_ERR_NOMEM;
    v->nphrases = 0;
    for (const char *a = s; *a && v->nphrases < n;) {
        const char *b = strchr(a, ';');
        if (!b) b = a + strlen(a);
        int rc = parse_entry(a, b, v->nconcepts, &(*phrases)[v->nphrases], &(*sets)[v->nphrases], where);
        if (rc) return rc;
        v->nphrases++;
        a = *b ? b + 1 : b;
    }
    v->phrases = (const char *const *)*phrases;
    v->sets = *sets;
    return ASPIRE_OK;
}
