/* extract.c — benchmark of the WordNet extractor: captions per second on synthetic captions of
 * the benchmark world's kind (cold: a fresh extractor, every word looked up in WordNet; warm: the
 * cache filled), and its quality against ground truth — foreground precision / recall / F1 (exact
 * phrases, micro-averaged) and background accuracy ("none" counts as a value).
 *
 *   bench/extract [--n 5000] [--repeats 5] [--seed 1] [--scenes FILE.jsonl]
 *
 * Without --scenes the ground truth is the parts each synthetic caption was built from. A scenes
 * file has one JSON object per line, either a labelled caption — "caption", "class" (0 landbird,
 * 1 waterbird), "foreground" and "background" (lists of strings; phrases must match exactly) — or
 * a scene of the benchmark world as `aspire world task` writes it in its truth folder
 * (scenes.jsonl: "y", "background", "objects" [{"name", "role"}], "captions"). For world scenes
 * every caption is scored in the world's own terms: a foreground phrase is right when it names
 * (with the world captioner's synonyms, copied below) an object that the caption mentions, and
 * the background must be the scene's background name.
 * It also counts foreground phrases that name a bird (the label object, which the extractor must
 * drop): a phrase whose last word, or that word without a plural "s", is one of the world's words
 * for a species, or "bird".
 * The last line printed is one JSON object. */
#include "aspire/capeval.h"
#include "aspire/extract.h"
#include "aspire/rng.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sample {
    char caption[256];
    int cls;
    char fg[4][32];
    int nfg;
    char bg[32];        /* "" = none */
    int world;          /* fg holds world object names, matched through world_syn */
} sample;

/* The world captioner's words for each context object (src/world/caption.c): object name, then
 * the phrases that name it. "tree" names both trees. */
static const char *const world_syn[][5] = {
    {"sailboat", "sailboat", "boat", "sailing boat", NULL}, {"fish", "fish", NULL},
    {"shell", "shell", "seashell", NULL}, {"pine", "pine tree", "evergreen tree", "tree", NULL},
    {"tree", "tree", NULL}, {"sunflower", "sunflower", "flower", NULL}, {"mushroom", "mushroom", NULL},
    {"cactus", "cactus", NULL}, {"sun", "sun", NULL}, {"cloud", "cloud", NULL},
    {"balloon", "balloon", "red balloon", NULL},
};

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* species {singular, plural}; water birds first */
static const char *const species[][2] = {
    {"duck", "ducks"}, {"swan", "swans"}, {"flamingo", "flamingos"}, {"penguin", "penguins"}, {"goose", "geese"},
    {"mallard", "mallards"}, {"rooster", "roosters"}, {"hen", "hens"}, {"turkey", "turkeys"},
    {"peacock", "peacocks"}, {"parrot", "parrots"}, {"eagle", "eagles"}, {"owl", "owls"},
};
#define NWATER 6
/* backgrounds as written, with the phrase expected back */
static const char *const bgs[][2] = {
    {"lake", "lake"}, {"ocean", "ocean"}, {"river", "river"}, {"pond", "pond"}, {"forest", "forest"},
    {"field", "field"}, {"desert", "desert"}, {"meadow", "meadow"}, {"sea", "sea"}, {"woods", "woods"},
    {"body of water", "body of water"}, {"grassy field", "field"}, {"sandy desert", "desert"},
};
/* objects {singular, plural, expected} */
static const char *const objs[][3] = {
    {"sailboat", "sailboats", "sailboat"}, {"boat", "boats", "boat"}, {"fish", "fishes", "fish"},
    {"shell", "shells", "shell"}, {"tree", "trees", "tree"}, {"pine tree", "pine trees", "pine tree"},
    {"sunflower", "sunflowers", "sunflower"}, {"mushroom", "mushrooms", "mushroom"},
    {"cactus", "cacti", "cactus"}, {"sun", "suns", "sun"}, {"cloud", "clouds", "cloud"},
    {"balloon", "balloons", "balloon"}, {"palm tree", "palm trees", "palm tree"},
};
static const char *const adjs[] = {"small", "white", "large", "brown", "red", "little", "colorful", "big"};
static const char *const verbs[] = {"standing", "sitting", "swimming", "floating", "perched", "walking", "resting"};
static const char *const preps[] = {"on", "in", "near", "by", "over", "across"};
static const char *const obj_preps[] = {"next to", "near", "beside", "with", "behind", "under"};
static const char *const frames[] = {"", "a photo of ", "a close up of ", "an image of ", "a picture of "};

static const char *art(const char *w) { return strchr("aeiou", w[0]) ? "an" : "a"; }

static int pick(aspire_rng *r, int n) { return (int)aspire_rng_below(r, n); }

static void add_fg(sample *s, const char *p) {
    for (int i = 0; i < s->nfg; i++) if (strcmp(s->fg[i], p) == 0) return;
    snprintf(s->fg[s->nfg++], sizeof s->fg[0], "%s", p);
}

/* One synthetic caption from known parts (several templates, plurals, adjectives, verbs, frames,
 * missing backgrounds, "in the background"). */
static void synth(aspire_rng *r, sample *s) {
    memset(s, 0, sizeof *s);
    int sp = pick(r, N(species));
    s->cls = sp < NWATER;
    int plural = pick(r, 4) == 0;
    int has_bg = pick(r, 6) != 0;
    int b = pick(r, N(bgs));
    int nobj = pick(r, 3);   /* 0, 1 or 2 objects */
    int o1 = pick(r, N(objs)), o2 = pick(r, N(objs));
    const char *frame = frames[pick(r, N(frames))];
    char subj[64], bgp[64] = "", o[2][64];
    if (plural) {
        snprintf(subj, sizeof subj, "%s %s", pick(r, 2) ? "two" : "some", species[sp][1]);
    } else {
        char np[48];
        if (pick(r, 3) == 0) snprintf(np, sizeof np, "%s %s", adjs[pick(r, N(adjs))], species[sp][0]);
        else snprintf(np, sizeof np, "%s", species[sp][0]);
        snprintf(subj, sizeof subj, "%s %s", art(np), np);
    }
    for (int k = 0; k < nobj; k++) {
        int oi = k ? o2 : o1;
        if (pick(r, 3) == 0) snprintf(o[k], sizeof o[k], "%s %s", pick(r, 2) ? "two" : "some", objs[oi][1]);
        else snprintf(o[k], sizeof o[k], "%s %s", art(objs[oi][0]), objs[oi][0]);
        add_fg(s, objs[oi][2]);
    }
    if (has_bg) {
        snprintf(bgp, sizeof bgp, "%s %s", pick(r, 2) ? "the" : art(bgs[b][0]), bgs[b][0]);
        snprintf(s->bg, sizeof s->bg, "%s", bgs[b][1]);
    }
    int t = pick(r, 4);
    char *c = s->caption;
    size_t cap = sizeof s->caption;
    const char *v = verbs[pick(r, N(verbs))], *p = preps[pick(r, N(preps))], *op = obj_preps[pick(r, N(obj_preps))];
    if (t == 0 || (!has_bg && !nobj)) {   /* the bird alone */
        s->nfg = 0;
        if (has_bg) snprintf(c, cap, "%s%s %s %s", frame, subj, p, bgp);
        else snprintf(c, cap, "%s%s", frame, subj);
    } else if (t == 1) {   /* subject verb prep bg, obj prep obj */
        int n = snprintf(c, cap, "%s%s %s", frame, subj, v);
        if (has_bg) n += snprintf(c + n, cap - (size_t)n, " %s %s", p, bgp);
        for (int k = 0; k < nobj; k++) n += snprintf(c + n, cap - (size_t)n, " %s %s", k ? "and" : op, o[k]);
    } else if (t == 2) {   /* subject and objects, background last or "in the background" */
        int n = snprintf(c, cap, "%s%s", frame, subj);
        for (int k = 0; k < nobj; k++) n += snprintf(c + n, cap - (size_t)n, " and %s", o[k]);
        if (has_bg) {
            if (pick(r, 2)) snprintf(c + n, cap - (size_t)n, " with %s in the background", bgp);
            else snprintf(c + n, cap - (size_t)n, " %s %s", p, bgp);
        }
    } else {               /* objects first */
        int n = 0;
        n += snprintf(c + n, cap - (size_t)n, "%s", frame);
        for (int k = 0; k < nobj; k++) n += snprintf(c + n, cap - (size_t)n, "%s%s", k ? " and " : "", o[k]);
        n += snprintf(c + n, cap - (size_t)n, "%s%s", nobj ? " near " : "", subj);
        if (has_bg) snprintf(c + n, cap - (size_t)n, " %s %s", p, bgp);
    }
    if (pick(r, 8) == 0) {   /* captioner-style trailing period */
        size_t l = strlen(c);
        if (l + 1 < cap) { c[l] = '.'; c[l + 1] = 0; }
    }
}

/* Does `phrase` occur in `text` as whole words? ("tree" not inside "pine tree" when skip_compound) */
static int mentions(const char *text, const char *phrase, int skip_compound) {
    size_t l = strlen(phrase);
    for (const char *p = strstr(text, phrase); p; p = strstr(p + 1, phrase)) {
        int left = p == text || p[-1] == ' ';
        int right = p[l] == 0 || p[l] == ' ' || p[l] == ',' || p[l] == '.';
        if (!left || !right) continue;
        if (skip_compound && p - text >= 5 && (strncmp(p - 5, "pine ", 5) == 0 ||
                                               (p - text >= 10 && strncmp(p - 10, "evergreen ", 10) == 0)))
            continue;
        return 1;
    }
    return 0;
}

/* The world objects (indices into world_syn) a phrase may name. */
static int world_names(const char *phrase, int *idx) {
    int n = 0;
    for (int o = 0; o < N(world_syn); o++)
        for (int k = 1; k < 5 && world_syn[o][k]; k++)
            if (strcmp(phrase, world_syn[o][k]) == 0) { idx[n++] = o; break; }
    return n;
}

/* Does a foreground phrase name a bird (the label object)? */
static int names_bird(const aspire_capeval_lexicon *lex, const char *phrase) {
    const char *sp = strrchr(phrase, ' ');
    char w[64];
    snprintf(w, sizeof w, "%s", sp ? sp + 1 : phrase);
    for (int pass = 0; pass < 2; pass++) {
        if (!strcmp(w, "bird") || aspire_capeval_lexicon_lookup(lex, w, ASPIRE_CAPEVAL_SPECIES)) return 1;
        size_t l = strlen(w);
        if (l < 2 || w[l - 1] != 's') break;
        w[l - 1] = 0;  /* plural */
    }
    return 0;
}

/* One world scene line → a sample per caption. */
static int add_world_scene(const cJSON *o, sample **s, int *cnt, int *cap) {
    const cJSON *y = cJSON_GetObjectItemCaseSensitive(o, "y");
    const cJSON *bg = cJSON_GetObjectItemCaseSensitive(o, "background");
    const cJSON *objects = cJSON_GetObjectItemCaseSensitive(o, "objects");
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(o, "captions");
    if (!cJSON_IsNumber(y) || !cJSON_IsString(bg) || !cJSON_IsArray(objects) || !cJSON_IsArray(caps)) return 1;
    const cJSON *c;
    cJSON_ArrayForEach(c, caps) {
        if (!cJSON_IsString(c)) return 1;
        if (*cnt == *cap) { *cap *= 2; *s = realloc(*s, (size_t)*cap * sizeof **s); }
        sample *x = &(*s)[(*cnt)++];
        memset(x, 0, sizeof *x);
        x->world = 1;
        snprintf(x->caption, sizeof x->caption, "%s", c->valuestring);
        x->cls = y->valueint;
        snprintf(x->bg, sizeof x->bg, "%s", bg->valuestring);
        const cJSON *ob;
        cJSON_ArrayForEach(ob, objects) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(ob, "name");
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(ob, "role");
            if (!cJSON_IsString(name) || (cJSON_IsString(role) && strcmp(role->valuestring, "bird") == 0)) continue;
            for (int w = 0; w < N(world_syn); w++) {
                if (strcmp(world_syn[w][0], name->valuestring) != 0) continue;
                int said = 0;
                for (int k = 1; k < 5 && world_syn[w][k]; k++)
                    said = said || mentions(x->caption, world_syn[w][k], strcmp(world_syn[w][k], "tree") == 0 && w == 4);
                if (said && x->nfg < 4) add_fg(x, world_syn[w][0]);
            }
        }
    }
    return 0;
}

static int load_scenes(const char *path, sample **out, int *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "bench extract: cannot open %s\n", path); return 1; }
    int cap = 1024, cnt = 0, lineno = 0;
    sample *s = calloc((size_t)cap, sizeof *s);
    char *line = NULL;
    size_t ln = 0;
    while (getline(&line, &ln, fp) > 0) {
        lineno++;
        cJSON *o = cJSON_Parse(line);
        if (o && cJSON_GetObjectItemCaseSensitive(o, "captions")) {
            if (add_world_scene(o, &s, &cnt, &cap)) {
                fprintf(stderr, "bench extract: %s:%d: a world scene wants y, background, objects, captions\n", path, lineno);
                cJSON_Delete(o);
                free(line); free(s); fclose(fp);
                return 1;
            }
            cJSON_Delete(o);
            continue;
        }
        const cJSON *cp = cJSON_GetObjectItemCaseSensitive(o, "caption");
        const cJSON *cl = cJSON_GetObjectItemCaseSensitive(o, "class");
        const cJSON *fg = cJSON_GetObjectItemCaseSensitive(o, "foreground");
        const cJSON *bg = cJSON_GetObjectItemCaseSensitive(o, "background");
        if (!o || !cJSON_IsString(cp) || !cJSON_IsNumber(cl) || !cJSON_IsArray(fg) || !cJSON_IsArray(bg)) {
            fprintf(stderr, "bench extract: %s:%d: want caption, class, foreground, background\n", path, lineno);
            cJSON_Delete(o);
            free(line); free(s); fclose(fp);
            return 1;
        }
        if (cnt == cap) { cap *= 2; s = realloc(s, (size_t)cap * sizeof *s); }
        sample *x = &s[cnt++];
        memset(x, 0, sizeof *x);
        snprintf(x->caption, sizeof x->caption, "%s", cp->valuestring);
        x->cls = cl->valueint;
        const cJSON *v;
        cJSON_ArrayForEach(v, fg) if (cJSON_IsString(v) && x->nfg < 4) add_fg(x, v->valuestring);
        v = cJSON_GetArrayItem(bg, 0);
        if (cJSON_IsString(v)) snprintf(x->bg, sizeof x->bg, "%s", v->valuestring);
        cJSON_Delete(o);
    }
    free(line);
    fclose(fp);
    *out = s;
    *n = cnt;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n = 5000, repeats = 5;
    long seed = 1;
    const char *scenes = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = atol(argv[++i]);
        else if (!strcmp(argv[i], "--scenes") && i + 1 < argc) scenes = argv[++i];
        else { fprintf(stderr, "usage: %s [--n N] [--repeats R] [--seed S] [--scenes FILE.jsonl]\n", argv[0]); return 2; }
    }
    if (repeats < 1 || repeats > 99) repeats = 5;
    sample *s = NULL;
    if (scenes) {
        if (load_scenes(scenes, &s, &n)) return 1;
    } else {
        if (n < 1) n = 5000;
        s = calloc((size_t)n, sizeof *s);
        aspire_rng r;
        aspire_rng_seed(&r, (uint64_t)seed);
        for (int i = 0; i < n; i++) synth(&r, &s[i]);
    }
    const char *classes[] = {"landbird", "waterbird"};
    aspire_extraction *e = calloc((size_t)n, sizeof *e);

    /* timing: repeats × (fresh extractor, cold pass, warm pass) */
    double cold[100], warm[100];
    aspire_extractor *ex = NULL;
    for (int rep = 0; rep < repeats; rep++) {
        aspire_extractor_free(ex);
        double t0 = aspire_now();
        if (aspire_extractor_new_wordnet(classes, 2, &ex)) { fprintf(stderr, "bench extract: %s\n", aspire_errmsg()); return 1; }
        for (int i = 0; i < n; i++) {
            aspire_extraction_destroy(&e[i]);
            if (aspire_extractor_extract(ex, s[i].caption, s[i].cls, &e[i])) {
                fprintf(stderr, "bench extract: caption %d: %s\n", i, aspire_errmsg());
                return 1;
            }
        }
        double t1 = aspire_now();
        for (int i = 0; i < n; i++) {
            aspire_extraction_destroy(&e[i]);
            aspire_extractor_extract(ex, s[i].caption, s[i].cls, &e[i]);
        }
        double t2 = aspire_now();
        cold[rep] = n / (t1 - t0);
        warm[rep] = n / (t2 - t1);
    }
    qsort(cold, (size_t)repeats, sizeof *cold, cmp_double);
    qsort(warm, (size_t)repeats, sizeof *warm, cmp_double);
    double cold_med = cold[repeats / 2], warm_med = warm[repeats / 2];

    /* quality */
    aspire_capeval_lexicon *lex = NULL;
    if (aspire_capeval_lexicon_world(&lex)) { fprintf(stderr, "bench extract: %s\n", aspire_errmsg()); return 1; }
    long tp = 0, fp = 0, fn = 0, bg_ok = 0, label_fg = 0;
    int shown = 0;
    for (int i = 0; i < n; i++) {
        int hit = 0, used[4] = {0};
        /* world phrases naming one object are matched before ambiguous ones ("tree") */
        for (int pass = 0; pass < 2; pass++)
            for (int k = 0; k < e[i].n_foreground; k++) {
                int found = 0;
                if (s[i].world) {
                    int idx[4], ni = world_names(e[i].foreground[k], idx);
                    if ((pass == 0) != (ni == 1)) continue;
                    for (int a = 0; a < ni && !found; a++)
                        for (int j = 0; j < s[i].nfg && !found; j++)
                            if (!used[j] && strcmp(s[i].fg[j], world_syn[idx[a]][0]) == 0) found = used[j] = 1;
                } else {
                    if (pass) continue;
                    for (int j = 0; j < s[i].nfg && !found; j++)
                        if (!used[j] && strcmp(e[i].foreground[k], s[i].fg[j]) == 0) found = used[j] = 1;
                }
                if (found) { tp++; hit++; } else fp++;
            }
        fn += s[i].nfg - hit;
        for (int k = 0; k < e[i].n_foreground; k++)
            if (names_bird(lex, e[i].foreground[k])) {
                if (label_fg++ < 5) fprintf(stderr, "label left in foreground: '%s' in '%s'\n", e[i].foreground[k], s[i].caption);
            }
        const char *got = e[i].background ? e[i].background : "";
        int bgm = strcmp(got, s[i].bg) == 0;
        bg_ok += bgm;
        if ((!bgm || hit != s[i].nfg || hit != e[i].n_foreground) && shown < 8) {
            shown++;
            fprintf(stderr, "miss: '%s' → fg [", s[i].caption);
            for (int k = 0; k < e[i].n_foreground; k++) fprintf(stderr, "%s%s", k ? ", " : "", e[i].foreground[k]);
            fprintf(stderr, "] bg '%s' (truth fg [", got);
            for (int k = 0; k < s[i].nfg; k++) fprintf(stderr, "%s%s", k ? ", " : "", s[i].fg[k]);
            fprintf(stderr, "] bg '%s')\n", s[i].bg);
        }
    }
    double prec = tp + fp ? (double)tp / (double)(tp + fp) : 1.0;
    double rec = tp + fn ? (double)tp / (double)(tp + fn) : 1.0;
    double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0.0;
    double bgacc = (double)bg_ok / n;
    printf("captions: %d (%s), repeats %d\n", n, scenes ? scenes : "synthetic", repeats);
    printf("warm: %.0f captions/s (median; min %.0f, max %.0f)\n", warm_med, warm[0], warm[repeats - 1]);
    printf("cold: %.0f captions/s (median, fresh extractor incl. WordNet look-ups)\n", cold_med);
    printf("foreground: precision %.4f recall %.4f F1 %.4f (tp %ld fp %ld fn %ld)\n", prec, rec, f1, tp, fp, fn);
    printf("background accuracy: %.4f\n", bgacc);
    printf("label objects left in the foreground: %ld\n", label_fg);
    printf("{\"extract_caption_s\": %.1f, \"extract_cold_caption_s\": %.1f, \"fg_precision\": %.4f, \"fg_recall\": %.4f, "
           "\"fg_f1\": %.4f, \"bg_accuracy\": %.4f, \"label_in_fg\": %ld, \"captions\": %d}\n",
           warm_med, cold_med, prec, rec, f1, bgacc, label_fg, n);
    aspire_capeval_lexicon_free(lex);
    for (int i = 0; i < n; i++) aspire_extraction_destroy(&e[i]);
    free(e);
    free(s);
    aspire_extractor_free(ex);
    return 0;
}
