/* caption.c — captions from scene graphs: several templates, synonyms for birds and objects, and
 * a small plain-English vocabulary that WordNet knows ("mallard", "sailboat", "pine tree", "lake"),
 * so that a later stage can tell backgrounds from objects by parsing the words. */
#include "world/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Synonyms, the first being the plain name; NULL-terminated. */
static const char *const emoji_words[ASPIRE_WORLD_NEMOJI][4] = {
    {"duck", "mallard", NULL}, {"swan", NULL}, {"flamingo", NULL}, {"penguin", NULL}, {"goose", NULL},
    {"rooster", "chicken", NULL}, {"turkey", NULL}, {"peacock", NULL}, {"parrot", NULL}, {"eagle", NULL},
    {"owl", NULL},
    {"sailboat", "boat", "sailing boat", NULL}, {"fish", NULL}, {"shell", "seashell", NULL},
    {"pine tree", "evergreen tree", "tree", NULL}, {"tree", NULL}, {"sunflower", "flower", NULL},
    {"mushroom", NULL}, {"cactus", NULL}, {"sun", NULL}, {"cloud", NULL}, {"balloon", "red balloon", NULL},
};

/* "in a forest", "on a lake": the prepositional phrases of each background. */
static const char *const bg_phrases[ASPIRE_WORLD_NBACKGROUNDS][4] = {
    {"on a lake", "by a lake", "in a lake", NULL},
    {"on the ocean", "by the ocean", "in the ocean", NULL},
    {"on a river", "by a river", "in a river", NULL},
    {"on a pond", "by a pond", "in a pond", NULL},
    {"in a forest", "in the forest", NULL},
    {"in a field", "on a field", NULL},
    {"in a desert", "in the desert", NULL},
    {"in a meadow", "on a meadow", NULL},
};

static const char *const water_verbs[] = {"standing", "swimming", "floating", "sitting"};
static const char *const land_verbs[] = {"standing", "sitting", "walking", "resting"};

static int nwords(const char *const *list) {
    int n = 0;
    while (n < 4 && list[n]) n++;
    return n;
}

static const char *pick(const char *const *list, aspire_rng *r) { return list[aspire_rng_below(r, nwords(list))]; }

/* "a duck", "an owl", "the sun". */
static void with_article(char *dst, size_t cap, const char *word, int emoji) {
    if (emoji == ASPIRE_WORLD_SUN) snprintf(dst, cap, "the %s", word);
    else snprintf(dst, cap, "%s %s", strchr("aeiou", word[0]) ? "an" : "a", word);
}

typedef struct capbuf { char *p; size_t cap, len; } capbuf;

static void add(capbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(capbuf *b, const char *fmt, ...) {
    if (b->len + 1 >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n : b->cap - 1;
}

int aspire_world_caption(const aspire_world_scene *s, aspire_rng *r, char *buf, size_t cap) {
    ASPIRE_ASSERT(cap > 0);
    capbuf b = {buf, cap, 0};
    buf[0] = 0;
    int water = aspire_world_background_place(s->background);
    /* Bird. */
    char bird[48] = "";
    if (s->bird >= 0) {
        int e = s->objects[s->bird].emoji;
        const char *word = aspire_rng_uniform(r) < 0.12 ? "bird" : pick(emoji_words[e], r);
        with_article(bird, sizeof bird, word, e);
    }
    /* Context objects: at most two are named, each once. */
    char objs[128] = "";
    int named[2], nnamed = 0;
    for (int k = 0; k < s->nobjects && nnamed < 2; k++) {
        if (k == s->bird) continue;
        int e = s->objects[k].emoji, dup = 0;
        for (int i = 0; i < nnamed; i++) dup |= named[i] == e;
        if (!dup) named[nnamed++] = e;
    }
    if (nnamed == 2 && aspire_rng_uniform(r) < 0.5) { int t = named[0]; named[0] = named[1]; named[1] = t; }
    for (int i = 0; i < nnamed; i++) {
        char one[48];
        with_article(one, sizeof one, pick(emoji_words[named[i]], r), named[i]);
        size_t len = strlen(objs);
        snprintf(objs + len, sizeof objs - len, "%s%s", i ? " and " : "", one);
    }
    const char *where = pick(bg_phrases[s->background], r);
    const char *bgname = aspire_world_background_name(s->background);
    char bgnp[32];
    if (s->background == ASPIRE_WORLD_OCEAN || s->background == ASPIRE_WORLD_DESERT)
        snprintf(bgnp, sizeof bgnp, "%s %s", aspire_rng_uniform(r) < 0.5 ? "the" : bgname[0] == 'o' ? "an" : "a", bgname);
    else
        snprintf(bgnp, sizeof bgnp, "a %s", bgname);
    const char *verb = water ? water_verbs[aspire_rng_below(r, 4)] : land_verbs[aspire_rng_below(r, 4)];
    /* Real captioners often leave the small objects out: name them in 70 % of captions. */
    int use_objs = nnamed > 0 && aspire_rng_uniform(r) < 0.7;
    if (s->bird < 0) {
        if (use_objs) {
            switch (aspire_rng_below(r, 3)) {
            case 0: add(&b, "%s with %s", bgnp, objs); break;
            case 1: add(&b, "a photo of %s %s", objs, where); break;
            default: add(&b, "a view of %s with %s", bgnp, objs); break;
            }
        } else {
            switch (aspire_rng_below(r, 3)) {
            case 0: add(&b, "a photo of %s", bgnp); break;
            case 1: add(&b, "a view of %s", bgnp); break;
            default: add(&b, "an empty %s", bgname); break;
            }
        }
        return (int)b.len;
    }
    if (use_objs) {
        switch (aspire_rng_below(r, 6)) {
        case 0: add(&b, "%s %s %s next to %s", bird, verb, where, objs); break;
        case 1: add(&b, "%s and %s %s", bird, objs, where); break;
        case 2: add(&b, "a picture of %s %s with %s", bird, where, objs); break;
        case 3: add(&b, "%s with %s and %s", bgnp, bird, objs); break;
        case 4: add(&b, "%s %s near %s %s", bird, verb, objs, where); break;
        default: add(&b, "a photo of %s and %s %s", bird, objs, where); break;
        }
    } else {
        switch (aspire_rng_below(r, 6)) {
        case 0: add(&b, "%s %s %s", bird, verb, where); break;
        case 1: add(&b, "a photo of %s %s", bird, where); break;
        case 2: add(&b, "there is %s %s", bird, where); break;
        case 3: add(&b, "%s with %s", bgnp, bird); break;
        case 4: add(&b, "a close up of %s %s", bird, where); break;
        default: add(&b, "a photo of %s %s %s", bird, verb, where); break;
        }
    }
    return (int)b.len;
}
