/* test_extract.c — the extractor: the WordNet backend on hand-written captions (the benchmark
 * world's vocabulary, synonyms, plurals, collocations, missing backgrounds, unknown words), bad
 * input (non-UTF-8, overlong, empty), the choice of alternative backgrounds, the backend table,
 * threads, allocation failures, and the `aspire extract` command end to end. */
#include "aspire/extract.h"

#include "test.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static const char *const bird_classes[] = {"landbird", "waterbird"};

static aspire_extractor *new_birds(void) {
    aspire_extractor *ex = NULL;
    int rc = aspire_extractor_new_wordnet(bird_classes, 2, &ex);
    CHECK_MSG(rc == ASPIRE_OK && ex, "new_wordnet: %s", aspire_errmsg());
    return ex;
}

/* "a|b" → compares the foreground list with the '|'-separated phrases ("" = empty). */
static bool fg_is(const aspire_extraction *e, const char *want) {
    int n = 0;
    const char *p = want;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (n >= e->n_foreground || strlen(e->foreground[n]) != l || strncmp(e->foreground[n], p, l) != 0) return false;
        n++;
        p += l + (bar ? 1 : 0);
    }
    return n == e->n_foreground;
}

static bool str_is(const char *got, const char *want) {
    if (!want) return got == NULL;
    return got && strcmp(got, want) == 0;
}

static void print_extraction(const char *cap, const aspire_extraction *e) {
    fprintf(stderr, "    caption '%s' → fg [", cap);
    for (int i = 0; i < e->n_foreground; i++) fprintf(stderr, "%s'%s'", i ? ", " : "", e->foreground[i]);
    fprintf(stderr, "] bg '%s'\n", e->background ? e->background : "(none)");
}

/* Extracts and compares; fg as for fg_is, bg NULL for none. */
static void expect(aspire_extractor *ex, const char *cap, int cls, const char *fg, const char *bg) {
    aspire_extraction e;
    int rc = aspire_extractor_extract(ex, cap, cls, &e);
    CHECK_MSG(rc == ASPIRE_OK, "'%s': %s", cap, aspire_errmsg());
    bool ok = fg_is(&e, fg) && str_is(e.background, bg);
    CHECK_MSG(ok, "'%s' (class %d): want fg [%s] bg '%s'", cap, cls, fg, bg ? bg : "(none)");
    if (!ok) print_extraction(cap, &e);
    aspire_extraction_destroy(&e);
}

/* The world's vocabulary (DESIGN.md §4): species, backgrounds, context objects, with plurals. */
static const char *const water_species[][2] = {
    {"duck", "ducks"}, {"swan", "swans"}, {"flamingo", "flamingos"}, {"penguin", "penguins"},
    {"goose", "geese"}, {"mallard", "mallards"},
};
static const char *const land_species[][2] = {
    {"rooster", "roosters"}, {"hen", "hens"}, {"turkey", "turkeys"}, {"peacock", "peacocks"},
    {"parrot", "parrots"}, {"eagle", "eagles"}, {"owl", "owls"},
};
static const char *const backgrounds[] = {"lake", "ocean", "river", "pond", "forest", "field", "desert", "meadow"};
/* {singular, plural, phrase the extractor gives} */
static const char *const objects[][3] = {
    {"sailboat", "sailboats", "sailboat"}, {"boat", "boats", "boat"}, {"fish", "fishes", "fish"},
    {"shell", "shells", "shell"}, {"tree", "trees", "tree"}, {"pine tree", "pine trees", "pine tree"},
    {"sunflower", "sunflowers", "sunflower"}, {"mushroom", "mushrooms", "mushroom"},
    {"cactus", "cacti", "cactus"}, {"sun", "suns", "sun"}, {"cloud", "clouds", "cloud"},
    {"balloon", "balloons", "balloon"},
};
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *article(const char *w) { return strchr("aeiou", w[0]) ? "an" : "a"; }

static void test_world_vocabulary(void) {
    aspire_extractor *ex = new_birds();
    if (!ex) return;
    char cap[256];
    int before = test_failures;
    for (int group = 0; group < 2; group++) {
        int ns = group ? N(water_species) : N(land_species);
        for (int s = 0; s < ns; s++) {
            const char *sp = group ? water_species[s][0] : land_species[s][0];
            const char *sps = group ? water_species[s][1] : land_species[s][1];
            for (int b = 0; b < N(backgrounds); b++) {
                const char *bg = backgrounds[b];
                for (int o = 0; o < N(objects); o++) {
                    const char *ob = objects[o][0], *obs = objects[o][1], *want = objects[o][2];
                    for (int cls = 0; cls < 2; cls++) {
                        snprintf(cap, sizeof cap, "%s %s standing on %s %s next to %s %s", article(sp), sp, article(bg), bg, article(ob), ob);
                        expect(ex, cap, cls, want, bg);
                        snprintf(cap, sizeof cap, "two %s and some %s in the %s", sps, obs, bg);
                        expect(ex, cap, cls, want, bg);
                        snprintf(cap, sizeof cap, "%s %s near %s %s", article(ob), ob, article(sp), sp);
                        expect(ex, cap, cls, want, NULL);
                    }
                    if (test_failures - before > 20) goto out;   /* enough to diagnose */
                }
                snprintf(cap, sizeof cap, "a photo of %s %s in %s %s", article(sp), sp, article(bg), bg);
                expect(ex, cap, group, "", bg);
            }
        }
    }
out:
    aspire_extractor_free(ex);
}

static void test_synonyms_plurals_collocations(void) {
    aspire_extractor *ex = new_birds();
    if (!ex) return;
    /* species synonyms and relatives are the label under either class */
    const char *birds[] = {"drake", "gander", "cygnet", "cock", "peahen", "owlet", "seagull", "pelican",
                           "heron", "crane", "parakeet", "hawk", "waterbird", "water bird", "bird", "sea gull"};
    char cap[128];
    for (int i = 0; i < N(birds); i++)
        for (int cls = 0; cls < 2; cls++) {
            snprintf(cap, sizeof cap, "a %s next to a boat on a lake", birds[i]);
            expect(ex, cap, cls, "boat", "lake");
        }
    /* the world captioner's other words and templates */
    expect(ex, "a chicken standing in a field next to an evergreen tree", 0, "tree", "field");
    expect(ex, "a lake with a duck and a sailing boat", 1, "sailing boat", "lake");
    expect(ex, "a view of a lake with a fish and a red balloon", 1, "fish|balloon", "lake");
    expect(ex, "a photo of a seashell and a flower on the ocean", 1, "seashell|flower", "ocean");
    expect(ex, "an empty desert", 0, "", "desert");
    expect(ex, "there is a bird in a meadow", 0, "", "meadow");
    expect(ex, "a photo of the sun and a cloud by a pond", 1, "sun|cloud", "pond");
    /* the bird's parts go with it */
    expect(ex, "a bird with a fish in its beak and white feathers", 0, "fish", NULL);
    /* plurals and irregular plurals */
    expect(ex, "two ducks swimming in a pond with fishes", 1, "fish", "pond");
    expect(ex, "geese and mice near two cacti", 1, "mouse|cactus", NULL);
    expect(ex, "DUCKS IN THE LAKE!!", 1, "", "lake");
    /* background synonyms */
    expect(ex, "an owl in the woods", 0, "", "woods");
    expect(ex, "a duck in the sea", 1, "", "sea");
    expect(ex, "a duck swimming in the water", 1, "", "water");
    expect(ex, "a turkey standing in the grass", 0, "", "grass");
    expect(ex, "a penguin on the ice", 1, "", "ice");
    expect(ex, "a crane standing in a marsh", 1, "", "marsh");
    /* collocations */
    expect(ex, "a swan on a body of water near palm trees", 1, "palm tree", "body of water");
    expect(ex, "a bird flying over a large body of water", 1, "", "body of water");
    expect(ex, "a parrot under a pine tree", 0, "pine tree", NULL);
    expect(ex, "a close-up of a duck", 1, "", NULL);
    expect(ex, "a duck next to water lilies", 1, "water lily", NULL);
    /* compounds keep their modifiers; adjectives and possessives do not join */
    expect(ex, "a bird sitting on a tree branch", 0, "tree branch", NULL);
    expect(ex, "a white swan and a red balloon", 1, "balloon", NULL);
    expect(ex, "a black and white bird on a beach", 1, "", "beach");
    expect(ex, "a bird's nest in a palm tree", 0, "nest|palm tree", NULL);
    /* verbs that WordNet also lists as nouns */
    expect(ex, "a duck swims in a pond", 1, "", "pond");
    expect(ex, "a bird lands on a lake", 1, "", "lake");
    expect(ex, "a bird about to land on the water", 1, "", "water");
    expect(ex, "a duck floating next to water", 1, "", "water");
    expect(ex, "sea shells on a beach", 1, "sea shell", "beach");
    /* which background: the marked one, else the first land or water one */
    expect(ex, "a seagull over the ocean with a city in the background", 1, "", "city");
    expect(ex, "birds flying in the sky over a forest", 0, "", "forest");
    expect(ex, "a bird flying in the sky", 0, "", "sky");
    expect(ex, "a duck on a beach next to the ocean", 1, "", "beach");
    /* frames, positions and quantities are not objects */
    expect(ex, "a picture of a group of ducks on top of a rock in front of a lake", 1, "rock", "lake");
    /* people and other things */
    expect(ex, "a woman holding a bird next to a man with a dog", 0, "woman|man|dog", NULL);
    /* names are not things: Clarence Day, Hart Crane */
    expect(ex, "an eagle on a sunny day", 0, "", NULL);
    aspire_extractor_free(ex);
}

static void test_no_background_unknown_words_empty(void) {
    aspire_extractor *ex = new_birds();
    if (!ex) return;
    expect(ex, "a duck next to a boat", 1, "boat", NULL);
    expect(ex, "a blorftastic duck near a zzyzx boat", 1, "boat", NULL);
    expect(ex, "qwxv zzkq blorp", 0, "", NULL);
    expect(ex, "café au lait with a duck", 1, "", NULL);   /* non-ASCII word; "au" the symbol */
    expect(ex, "", 0, "", NULL);
    expect(ex, "   \t ", 0, "", NULL);
    expect(ex, ".,;!?", 0, "", NULL);
    expect(ex, "a a a the of", 0, "", NULL);
    expect(ex, "a duck - a boat -- a lake", 1, "boat", "lake");
    expect(ex, "a boat, a boat and a boat", 1, "boat", NULL);   /* no duplicates */
    /* a very long word is unknown, not a crash in WordNet's fixed buffers */
    char cap[600];
    strcpy(cap, "a duck near a ");
    for (int i = 0; i < 300; i++) strcat(cap, "x");
    strcat(cap, " boat");
    expect(ex, cap, 1, "boat", NULL);
    aspire_extractor_free(ex);
}

static void test_bad_input(void) {
    aspire_extractor *ex = new_birds();
    if (!ex) return;
    aspire_extraction e;
    const char *bad[] = {
        "a duck \xff on a lake",        /* invalid byte */
        "a duck \xc0\xaf on a lake",    /* overlong '/' */
        "a duck \xed\xa0\x80 on a lake",/* surrogate */
        "a duck on a lake \xe2\x82",    /* truncated sequence */
        "\x80 duck",                    /* stray continuation byte */
        "a duck \xf4\x90\x80\x80",      /* past U+10FFFF */
    };
    for (int i = 0; i < N(bad); i++) {
        int rc = aspire_extractor_extract(ex, bad[i], 1, &e);
        CHECK_MSG(rc == ASPIRE_ERR_FORMAT, "bad[%d] rc %d", i, rc);
        CHECK_MSG(strstr(aspire_errmsg(), "UTF-8") != NULL, "bad[%d]: %s", i, aspire_errmsg());
        CHECK(e.n_foreground == 0 && !e.background && !e.foreground);
        aspire_extraction_destroy(&e);
    }
    CHECK(aspire_utf8_check("a \xff", 3) == 2);
    const char *fine = "caf\xc3\xa9 \xf0\x9f\xa6\x86";   /* é and the duck emoji */
    CHECK(aspire_utf8_check(fine, strlen(fine)) == -1);

    /* length: ASPIRE_EXTRACT_MAX_CAPTION bytes pass, one more does not */
    char *cap = malloc(ASPIRE_EXTRACT_MAX_CAPTION + 2);
    for (int i = 0; i < ASPIRE_EXTRACT_MAX_CAPTION; i++) cap[i] = "a duck on a lake "[i % 17];
    cap[ASPIRE_EXTRACT_MAX_CAPTION] = 0;
    int rc = aspire_extractor_extract(ex, cap, 1, &e);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(str_is(e.background, "lake"));
    aspire_extraction_destroy(&e);
    cap[ASPIRE_EXTRACT_MAX_CAPTION] = 'a';
    cap[ASPIRE_EXTRACT_MAX_CAPTION + 1] = 0;
    rc = aspire_extractor_extract(ex, cap, 1, &e);
    CHECK(rc == ASPIRE_ERR_FORMAT);
    CHECK_MSG(strstr(aspire_errmsg(), "too long") != NULL, "%s", aspire_errmsg());
    aspire_extraction_destroy(&e);
    free(cap);

    rc = aspire_extractor_extract(ex, "a duck", 2, &e);
    CHECK(rc == ASPIRE_ERR_ARG);
    rc = aspire_extractor_extract(ex, "a duck", -1, &e);
    CHECK(rc == ASPIRE_ERR_ARG);
    aspire_extraction_destroy(&e);
    aspire_extractor_free(ex);

    /* bad class lists */
    aspire_extractor *ex2 = NULL;
    CHECK(aspire_extractor_new_wordnet(bird_classes, 0, &ex2) == ASPIRE_ERR_ARG && !ex2);
    const char *empty[] = {"landbird", ""};
    CHECK(aspire_extractor_new_wordnet(empty, 2, &ex2) == ASPIRE_ERR_ARG && !ex2);
}

static void test_concepts(void) {
    aspire_extractor *ex = new_birds();
    if (!ex) return;
    const char *c0 = aspire_extractor_concept(ex, 0), *c1 = aspire_extractor_concept(ex, 1);
    CHECK_MSG(c0 && strcmp(c0, "bird") == 0, "landbird → '%s'", c0 ? c0 : "(null)");
    CHECK_MSG(c1 && strcmp(c1, "waterbird (shares bird)") == 0, "waterbird → '%s'", c1 ? c1 : "(null)");
    CHECK(strcmp(aspire_extractor_backend_name(ex), "wordnet") == 0);
    CHECK(aspire_extractor_nclasses(ex) == 2);
    CHECK(strcmp(aspire_extractor_class_name(ex, 1), "waterbird") == 0);
    aspire_extractor_free(ex);

    /* unrelated classes share nothing: a dog is not the label of "sailboat" */
    const char *mixed[] = {"sailboat", "big dog"};
    CHECK(aspire_extractor_new_wordnet(mixed, 2, &ex) == ASPIRE_OK);
    c1 = aspire_extractor_concept(ex, 1);
    CHECK_MSG(c1 && strcmp(c1, "dog") == 0, "big dog → '%s'", c1 ? c1 : "(null)");
    expect(ex, "a dog on a boat", 0, "dog|boat", NULL);   /* a boat is not a sailboat (sailboat is below it) */
    expect(ex, "a dog on a sailboat", 1, "sailboat", NULL);
    expect(ex, "a puppy and a poodle on a sailboat", 1, "sailboat", NULL);
    aspire_extractor_free(ex);

    /* a class WordNet cannot place still works; nothing is its label */
    const char *odd[] = {"qxzzv", "waterbird"};
    CHECK(aspire_extractor_new_wordnet(odd, 2, &ex) == ASPIRE_OK);
    CHECK(aspire_extractor_concept(ex, 0) == NULL);
    expect(ex, "a duck near a boat", 0, "duck|boat", NULL);
    expect(ex, "a duck near a boat", 1, "boat", NULL);
    aspire_extractor_free(ex);
}

static void make_item(aspire_extraction *e, const char *bg) {
    memset(e, 0, sizeof *e);
    if (bg) e->background = aspire_strdup(bg);
}

static void test_alternates(void) {
    aspire_extractor *ex = new_birds();
    if (!ex) return;
    /* class 0: forest ×3, field ×2, lake ×1; class 1: lake ×3, ocean ×2, forest ×1, one without */
    const char *bgs[] = {"forest", "forest", "forest", "field", "field", "lake",
                         "lake", "lake", "lake", "ocean", "ocean", "forest", NULL};
    const int cls[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1};
    const int n = N(bgs);
    /* expected: class 0 → lake (most frequent in class 1) unless its own is lake → ocean;
     * class 1 → forest unless its own is forest → field */
    const char *want[] = {"lake", "lake", "lake", "lake", "lake", "ocean",
                          "forest", "forest", "forest", "forest", "forest", "field", NULL};
    for (int order = 0; order < 2; order++) {
        aspire_extraction items[13];
        int c[13];
        for (int i = 0; i < n; i++) {
            int k = order ? n - 1 - i : i;   /* reversed order gives the same choices */
            make_item(&items[i], bgs[k]);
            c[i] = cls[k];
        }
        CHECK(aspire_extractor_alternates(ex, items, c, n) == ASPIRE_OK);
        for (int i = 0; i < n; i++) {
            int k = order ? n - 1 - i : i;
            CHECK_MSG(str_is(items[i].alternate, want[k]), "order %d item %d (%s): alt '%s', want '%s'", order, k,
                      bgs[k] ? bgs[k] : "-", items[i].alternate ? items[i].alternate : "(none)", want[k] ? want[k] : "(none)");
            aspire_extraction_destroy(&items[i]);
        }
    }
    /* a tie is broken by the phrase: "desert" before "pond" */
    {
        aspire_extraction items[3];
        int c[3] = {0, 1, 1};
        make_item(&items[0], "lake");
        make_item(&items[1], "pond");
        make_item(&items[2], "desert");
        CHECK(aspire_extractor_alternates(ex, items, c, 3) == ASPIRE_OK);
        CHECK(str_is(items[0].alternate, "desert"));
        CHECK(str_is(items[1].alternate, "lake"));
        for (int i = 0; i < 3; i++) aspire_extraction_destroy(&items[i]);
    }
    /* only one class has backgrounds: WordNet's contrast (water ↔ land) */
    {
        aspire_extraction items[4];
        int c[4] = {1, 1, 1, 1};
        make_item(&items[0], "lake");
        make_item(&items[1], "field");
        make_item(&items[2], "bamboo forest");
        make_item(&items[3], "sky");
        CHECK(aspire_extractor_alternates(ex, items, c, 4) == ASPIRE_OK);
        CHECK(str_is(items[0].alternate, "land"));
        CHECK(str_is(items[1].alternate, "water"));
        CHECK(str_is(items[2].alternate, "water"));
        CHECK(str_is(items[3].alternate, "land"));
        for (int i = 0; i < 4; i++) aspire_extraction_destroy(&items[i]);
    }
    /* an alternate the backend already chose is kept; a class out of range is refused */
    {
        aspire_extraction it;
        make_item(&it, "lake");
        it.alternate = aspire_strdup("city streets");
        int c = 1;
        CHECK(aspire_extractor_alternates(ex, &it, &c, 1) == ASPIRE_OK);
        CHECK(str_is(it.alternate, "city streets"));
        c = 7;
        CHECK(aspire_extractor_alternates(ex, &it, &c, 1) == ASPIRE_ERR_ARG);
        aspire_extraction_destroy(&it);
    }
    aspire_extractor_free(ex);
}

/* ---- a second backend through the same table ---------------------------------------------- */

typedef struct fake { int calls, contrasts, *freed; } fake;

static int fake_extract(void *impl, const char *caption, int cls, aspire_extraction *out) {
    fake *f = impl;
    f->calls++;
    out->foreground = aspire_calloc(1, sizeof *out->foreground);
    out->foreground[0] = aspire_strdup(caption);
    out->n_foreground = 1;
    out->background = aspire_strdup(cls ? "lake" : "field");
    return ASPIRE_OK;
}
static int fake_contrast(void *impl, const char *bg, char **out) {
    ((fake *)impl)->contrasts++;
    *out = aspire_strdup(strcmp(bg, "lake") == 0 ? "meadow" : "pond");
    return ASPIRE_OK;
}
static void fake_free(void *impl) {
    fake *f = impl;
    (*f->freed)++;
    free(f);
}
static const aspire_extractor_backend fake_backend = {"fake", fake_extract, fake_contrast, NULL, fake_free};

static void test_backend_table(void) {
    int freed = 0;
    fake *f = calloc(1, sizeof *f);
    f->freed = &freed;
    aspire_extractor *ex = NULL;
    const char *cl[] = {"a", "b"};
    CHECK(aspire_extractor_new(&fake_backend, f, cl, 2, &ex) == ASPIRE_OK);
    CHECK(strcmp(aspire_extractor_backend_name(ex), "fake") == 0);
    CHECK(aspire_extractor_concept(ex, 0) == NULL);
    aspire_extraction e[2];
    CHECK(aspire_extractor_extract(ex, "hello", 1, &e[0]) == ASPIRE_OK);
    CHECK(fg_is(&e[0], "hello") && str_is(e[0].background, "lake"));
    CHECK(aspire_extractor_extract(ex, "bad \xff", 1, &e[1]) == ASPIRE_ERR_FORMAT);
    CHECK(f->calls == 1);   /* checked before the backend sees it */
    CHECK(aspire_extractor_extract(ex, "x", 1, &e[1]) == ASPIRE_OK);
    int c[2] = {1, 1};
    CHECK(aspire_extractor_alternates(ex, e, c, 2) == ASPIRE_OK);
    CHECK(f->contrasts == 2 && str_is(e[0].alternate, "meadow"));
    aspire_extraction_destroy(&e[0]);
    aspire_extraction_destroy(&e[1]);
    aspire_extractor_free(ex);
    CHECK(freed == 1);
    aspire_extractor_free(NULL);
    aspire_extraction_destroy(NULL);

    /* a failed constructor still releases the backend */
    freed = 0;
    f = calloc(1, sizeof *f);
    f->freed = &freed;
    CHECK(aspire_extractor_new(&fake_backend, f, cl, 0, &ex) == ASPIRE_ERR_ARG && !ex);
    CHECK(freed == 1);
}

/* ---- threads: WordNet is shared global state; two cold extractors at once ----------------- */

typedef struct job { char out[64][200]; int ok; } job;

static const char *thread_caps[] = {
    "a swan standing on a lake next to a sailboat", "a photo of an owl in a field",
    "two ducks swimming in a pond with fishes", "a flamingo near palm trees on a beach",
    "a rooster next to a pine tree and a sunflower in a meadow", "a parrot in the desert next to a cactus",
    "a turkey in a field with a balloon and clouds", "a penguin on the ice near a shell",
    "a goose by a river with mushrooms", "an eagle over an ocean under the sun",
    "a hen in the grass near a boat", "a peacock in a forest by a tree",
};

static void run_job(job *j) {
    aspire_extractor *ex = NULL;
    j->ok = aspire_extractor_new_wordnet(bird_classes, 2, &ex) == ASPIRE_OK;
    for (int i = 0; j->ok && i < 64; i++) {
        aspire_extraction e;
        const char *cap = thread_caps[i % N(thread_caps)];
        if (aspire_extractor_extract(ex, cap, i & 1, &e)) { j->ok = 0; break; }
        int n = snprintf(j->out[i], sizeof j->out[i], "%s|", e.background ? e.background : "");
        for (int k = 0; k < e.n_foreground; k++)
            n += snprintf(j->out[i] + n, sizeof j->out[i] - (size_t)n, "%s,", e.foreground[k]);
        aspire_extraction_destroy(&e);
    }
    aspire_extractor_free(ex);
}

static void *thread_main(void *arg) { run_job(arg); return NULL; }

static void test_threads(void) {
    static job ref, a, b;
    run_job(&ref);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, thread_main, &a);
    pthread_create(&tb, NULL, thread_main, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(ref.ok && a.ok && b.ok);
    bool same = true;
    for (int i = 0; i < 64; i++) same = same && strcmp(ref.out[i], a.out[i]) == 0 && strcmp(ref.out[i], b.out[i]) == 0;
    CHECK(same);
}

/* ---- allocation failures ------------------------------------------------------------------ */

static void test_out_of_memory(void) {
    int failures = 0, successes = 0;
    for (long budget = 0; budget < 400 && !successes; budget += 1) {
        alloc_budget = budget;
        aspire_set_allocator(failing_alloc, NULL);
        aspire_extractor *ex = NULL;
        int rc = aspire_extractor_new_wordnet(bird_classes, 2, &ex);
        aspire_extraction e = {0};
        if (rc == ASPIRE_OK) rc = aspire_extractor_extract(ex, "a swan on a lake next to a sailboat and palm trees", 1, &e);
        aspire_set_allocator(NULL, NULL);
        if (rc == ASPIRE_OK) {
            successes++;
            CHECK(fg_is(&e, "sailboat|palm tree") && str_is(e.background, "lake"));
        } else {
            failures++;
            CHECK_MSG(rc == ASPIRE_ERR_NOMEM, "budget %ld: rc %d (%s)", budget, rc, aspire_errmsg());
        }
        aspire_extraction_destroy(&e);
        aspire_extractor_free(ex);
    }
    CHECK(failures > 10 && successes == 1);   /* every failing step was reached and reported */
}

/* ---- the command -------------------------------------------------------------------------- */

static void write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    fputs(text, fp);
    fclose(fp);
}

static char *read_text(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, fp) != (size_t)n) n = 0;
    fclose(fp);
    return s;
}

static int run(const char *fmt, const char *a, const char *b, const char *c) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, ASPIRE_BIN, a, b, c);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool json_list_is(const cJSON *o, const char *key, const char *want) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a)) return false;
    char buf[256] = "";
    size_t n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsString(v)) return false;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", n ? "|" : "", v->valuestring);
    }
    return strcmp(buf, want) == 0;
}

/* The four records test_command expects, in the captions' order. */
static void check_records(const char *out) {
    char *text = read_text(out);
    CHECK(text != NULL);
    int lines = 0;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n"), lines++) {
        cJSON *o = cJSON_Parse(line);
        CHECK_MSG(o != NULL, "line %d: %s", lines + 1, line);
        if (!o) continue;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "img_id");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(o, "img_filename");
        const cJSON *cl = cJSON_GetObjectItemCaseSensitive(o, "class");
        const cJSON *lb = cJSON_GetObjectItemCaseSensitive(o, "label");
        const cJSON *cp = cJSON_GetObjectItemCaseSensitive(o, "caption");
        CHECK(cJSON_IsNumber(id) && id->valueint == lines + 1);
        CHECK(cJSON_IsString(fn) && cJSON_IsString(cp) && cJSON_IsNumber(cl) && cJSON_IsString(lb));
        if (!cJSON_IsNumber(id) || !cJSON_IsString(lb) || !cJSON_IsNumber(cl)) { cJSON_Delete(o); continue; }
        CHECK(strcmp(lb->valuestring, cl->valueint ? "waterbird" : "landbird") == 0);
        switch (lines) {
        case 0:
            CHECK(strcmp(fn->valuestring, "images/0001.png") == 0 && cl->valueint == 1);
            CHECK(json_list_is(o, "foreground", "sailboat") && json_list_is(o, "background", "lake"));
            CHECK(json_list_is(o, "alternate_background", "field"));   /* class 0's most frequent */
            break;
        case 1:
            CHECK(strcmp(cp->valuestring, "a photo of an owl in a field, with a balloon") == 0);
            CHECK(json_list_is(o, "foreground", "balloon") && json_list_is(o, "background", "field"));
            CHECK(json_list_is(o, "alternate_background", "forest"));   /* class 1: forest < lake by phrase */
            break;
        case 2:
            CHECK(strcmp(cp->valuestring, "two ducks in a forest near \"pine trees\"") == 0);
            CHECK(json_list_is(o, "foreground", "pine tree") && json_list_is(o, "background", "forest"));
            CHECK(json_list_is(o, "alternate_background", "field"));
            break;
        case 3:
            CHECK(json_list_is(o, "foreground", "cactus") && json_list_is(o, "background", "") &&
                  json_list_is(o, "alternate_background", ""));
            break;
        }
        cJSON_Delete(o);
    }
    CHECK(lines == 4);
    free(text);
}

/* Failures of the command: one line naming the file and line; the previous output is left as it
 * was. */
static void command_failures(const char *meta, const char *caps, const char *out, const char *err, const char *dir) {
    char *before = read_text(out);
    write_text(caps, "path,caption\nimages/0001.png,a duck\nimages/0002.png,bad \xff byte\n");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%%s extract --captions %%s --data %%s --out %%s 2>%s", err);
    CHECK(run(cmd, caps, dir, out) == 1);
    char *msg = read_text(err);
    CHECK_MSG(msg && strstr(msg, "captions.csv:3") && strstr(msg, "UTF-8"), "%s", msg ? msg : "");
    free(msg);
    char *after = read_text(out);
    CHECK(before && after && strcmp(before, after) == 0);
    free(before);
    free(after);

    write_text(caps, "path,caption\nimages/0009.png,a duck\n");
    CHECK(run(cmd, caps, dir, out) == 1);
    msg = read_text(err);
    CHECK_MSG(msg && strstr(msg, "captions.csv:2") && strstr(msg, "0009"), "%s", msg ? msg : "");
    free(msg);

    write_text(caps, "file,caption\nimages/0001.png,a duck\n");
    CHECK(run(cmd, caps, dir, out) == 1);
    msg = read_text(err);
    CHECK_MSG(msg && strstr(msg, "captions.csv:1") && strstr(msg, "missing column 'path'"), "%s", msg ? msg : "");
    free(msg);

    write_text(caps, "path,caption\nimages/0001.png,a duck\n");
    write_text(meta, "img_id,img_filename,y\n1,images/0001.png,5\n");
    /* the dataset's own names (here the defaults "class 0".."class 5") cover every label; names
     * given for fewer classes do not */
    snprintf(cmd, sizeof cmd, "%%s extract --classes landbird,waterbird --captions %%s --data %%s --out %%s 2>%s", err);
    CHECK(run(cmd, caps, dir, out) == 1);
    msg = read_text(err);
    CHECK_MSG(msg && strstr(msg, "metadata.csv:2") && strstr(msg, "column 'y'"), "%s", msg ? msg : "");
    free(msg);
    /* --classes makes y = 5 valid */
    snprintf(cmd, sizeof cmd, "%%s extract --quiet --classes a,b,c,d,e,waterbird --captions %%s --data %%s --out %%s 2>%s", err);
    CHECK(run(cmd, caps, dir, out) == 0);
    char *text = read_text(out);
    CHECK(text && strstr(text, "\"label\":\"waterbird\"") && strstr(text, "\"class\":5"));
    free(text);
}

static void test_command(void) {
    char dir[] = "/tmp/aspire_test_extract_XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0); return; }
    char meta[512], caps[512], out[512], err[512], path[512];
    snprintf(meta, sizeof meta, "%s/metadata.csv", dir);
    snprintf(caps, sizeof caps, "%s/captions.csv", dir);
    snprintf(out, sizeof out, "%s/extracted.jsonl", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    write_text(meta, "img_id,img_filename,y,split,place\n"
                     "1,images/0001.png,1,0,1\n"
                     "2,images/0002.png,0,0,0\n"
                     "3,images/0003.png,1,0,0\r\n"
                     "4,images/0004.png,0,0,1\n");
    /* paths as the captioner writes them: relative to the dataset, with it, or absolute */
    snprintf(path, sizeof path,
             "path,caption\n"
             "images/0001.png,a swan standing on a lake next to a sailboat\n"
             "%s/images/0002.png,\"a photo of an owl in a field, with a balloon\"\n"
             "/elsewhere/images/0003.png,\"two ducks in a forest near \"\"pine trees\"\"\"\n"
             "images/0004.png,a parrot next to a cactus\n", dir);
    write_text(caps, path);
    int rc = run("%s extract --quiet --captions %s --data %s --out %s", caps, dir, out);
    CHECK(rc == 0);
    check_records(out);

    command_failures(meta, caps, out, err, dir);
    /* --text */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%%s extract --text '%%s' --class %%s > %s", out);
    CHECK(run(cmd, "a duck near a boat on the ocean", "1", NULL) == 0);
    char *text = read_text(out);
    CHECK(text && strstr(text, "\"foreground\":[\"boat\"]") && strstr(text, "\"background\":[\"ocean\"]") &&
          strstr(text, "\"alternate_background\":[\"land\"]"));
    free(text);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    RUN(test_world_vocabulary);
    RUN(test_synonyms_plurals_collocations);
    RUN(test_no_background_unknown_words_empty);
    RUN(test_bad_input);
    RUN(test_concepts);
    RUN(test_alternates);
    RUN(test_backend_table);
    RUN(test_threads);
    RUN(test_out_of_memory);
    RUN(test_command);
    return TEST_REPORT();
}
