/* test_world.c — the benchmark world: the glyph resampler against the cached glyphs, render
 * determinism, masks against the renders, counterfactuals identical outside their edit, captions
 * within the vocabulary, scene JSON round trips, and the task and corpus writers (byte-identical
 * for one seed whatever the thread count, requested correlations within sampling error, val and
 * test balanced). */
#include "aspire/dataset.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/world.h"
#include "world/internal.h"
#include "test.h"
#include "testdir.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <string.h>

static aspire_world *W;

static void random_scene(aspire_world_scene *s, aspire_rng *r, int nctx) {
    aspire_world_style st;
    aspire_world_style_default(&st);
    int ctx[3];
    for (int k = 0; k < nctx; k++) ctx[k] = ASPIRE_WORLD_FIRST_OBJECT + (int)aspire_rng_below(r, 11);
    aspire_world_scene_sample(s, W, &st, (int)aspire_rng_below(r, ASPIRE_WORLD_NBIRDS),
                              (int)aspire_rng_below(r, ASPIRE_WORLD_NBACKGROUNDS), ctx, nctx, r);
}

static void test_catalogue(void) {
    int water = 0, land = 0;
    for (int e = 0; e < ASPIRE_WORLD_NEMOJI; e++) {
        CHECK(aspire_world_emoji_find(aspire_world_emoji_name(e)) == e);
        if (e < ASPIRE_WORLD_NBIRDS) { water += aspire_world_emoji_class(e) == 1; land += aspire_world_emoji_class(e) == 0; }
    }
    CHECK(water == 5 && land == 6);
    CHECK(aspire_world_emoji_codepoint(ASPIRE_WORLD_DUCK) == 0x1F986 && aspire_world_emoji_codepoint(ASPIRE_WORLD_GOOSE) == 0x1FABF);
    CHECK(aspire_world_emoji_class(ASPIRE_WORLD_SAILBOAT) == 1 && aspire_world_emoji_class(ASPIRE_WORLD_CACTUS) == 0 &&
          aspire_world_emoji_class(ASPIRE_WORLD_BALLOON) == -1);
    for (int b = 0; b < ASPIRE_WORLD_NBACKGROUNDS; b++) {
        CHECK(aspire_world_background_find(aspire_world_background_name(b)) == b);
        CHECK(aspire_world_background_place(b) == (b < 4));
    }
    CHECK(aspire_world_emoji_find("dodo") == -1 && aspire_world_background_find("moon") == -1);
}

static void test_font_errors(void) {
    aspire_world *w = (aspire_world *)1;
    CHECK(aspire_world_new(&w, "/nonexistent/emoji.ttf") == ASPIRE_ERR_IO);
    CHECK(w == NULL);
    CHECK(strstr(aspire_errmsg(), "/nonexistent/emoji.ttf") != NULL);
    char dir[256], path[300];
    testdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/not-a-font.ttf", dir);
    CHECK(testdir_write(path, "hello, world\n", 13) == 0);
    CHECK(aspire_world_new(&w, path) == ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "not-a-font.ttf") != NULL);
    /* A font without colour bitmaps. */
    if (aspire_file_exists("/usr/share/fonts/truetype/noto/NotoMono-Regular.ttf")) {
        CHECK(aspire_world_new(&w, "/usr/share/fonts/truetype/noto/NotoMono-Regular.ttf") == ASPIRE_ERR_FORMAT);
        CHECK(w == NULL);
    }
    testdir_remove(dir);
}

/* At scale 1 and an integer position the area resampler must return the glyph itself; at scale
 * 1/2 the mean of 2×2 blocks; mirrored, the glyph read right to left. */
static void test_resampler_exact(void) {
    const world_glyph *g = &W->glyphs[ASPIRE_WORLD_OWL];
    CHECK(g->w > 64 && g->w <= 136 && g->h > 64 && g->h <= 128);
    int size = 160, x0 = 7, y0 = 11;
    aspire_world_scene s = {0};
    s.background = ASPIRE_WORLD_LAKE;
    s.bird = 0;
    s.nobjects = 1;
    s.objects[0] = (aspire_world_object){ASPIRE_WORLD_OWL, (float)x0 / size, (float)y0 / size, (float)g->w / size,
                                         (float)g->h / size, 0, 0, 1, 1};
    float *cov = malloc((size_t)size * size * sizeof(float));
    CHECK(aspire_world_object_coverage(W, &s, 0, size, cov) == ASPIRE_OK);
    double err = 0, err_flip = 0, outside = 0;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int gx = x - x0, gy = y - y0;
            float want = gx >= 0 && gy >= 0 && gx < g->w && gy < g->h ? g->rgba[((size_t)gy * g->w + gx) * 4 + 3] : 0.0f;
            err = fmax(err, fabs(cov[(size_t)y * size + x] - want));
            if (want == 0) outside += cov[(size_t)y * size + x];
        }
    CHECK_MSG(err < 1e-5, "max error %g", err);
    CHECK(outside == 0);
    s.objects[0].flip = 1;
    CHECK(aspire_world_object_coverage(W, &s, 0, size, cov) == ASPIRE_OK);
    for (int gy = 0; gy < g->h; gy++)
        for (int gx = 0; gx < g->w; gx++)
            err_flip = fmax(err_flip, fabs(cov[(size_t)(gy + y0) * size + x0 + (g->w - 1 - gx)] - g->rgba[((size_t)gy * g->w + gx) * 4 + 3]));
    CHECK_MSG(err_flip < 1e-5, "max error %g", err_flip);
    /* Half size: 2×2 block means (the glyph's odd last row/column only half-covers a pixel). */
    s.objects[0].flip = 0;
    s.objects[0].w = (float)g->w / (2 * size);
    s.objects[0].h = (float)g->h / (2 * size);
    CHECK(aspire_world_object_coverage(W, &s, 0, size, cov) == ASPIRE_OK);
    double err2 = 0;
    for (int y = 0; y < g->h / 2; y++)
        for (int x = 0; x < g->w / 2; x++) {
            const float *a = g->rgba + ((size_t)(2 * y) * g->w + 2 * x) * 4;
            float want = 0.25f * (a[3] + a[7] + a[g->w * 4 + 3] + a[g->w * 4 + 7]);
            err2 = fmax(err2, fabs(cov[(size_t)(y + y0) * size + x + x0] - want));
        }
    CHECK_MSG(err2 < 1e-5, "max error %g", err2);
    free(cov);
}

static void test_render_deterministic(void) {
    aspire_rng r;
    aspire_rng_seed(&r, 5);
    int size = 48;
    uint8_t *a = malloc(size * size * 3), *b = malloc(size * size * 3), *la = malloc(size * size), *lb = malloc(size * size);
    for (int t = 0; t < 8; t++) {
        aspire_world_scene s;
        random_scene(&s, &r, t % 4);
        CHECK(s.bird >= 0 && s.nobjects == 1 + t % 4);
        CHECK(aspire_world_render(W, &s, size, a, la) == ASPIRE_OK);
        CHECK(aspire_world_render(W, &s, size, b, lb) == ASPIRE_OK);
        CHECK(memcmp(a, b, size * size * 3) == 0 && memcmp(la, lb, size * size) == 0);
        s.bg_seed ^= 1;
        CHECK(aspire_world_render(W, &s, size, b, NULL) == ASPIRE_OK);
        CHECK(memcmp(a, b, size * size * 3) != 0);
    }
    /* Every background paints something textured (not a flat colour) and distinct from the rest. */
    float *bg[ASPIRE_WORLD_NBACKGROUNDS];
    for (int k = 0; k < ASPIRE_WORLD_NBACKGROUNDS; k++) {
        bg[k] = malloc(size * size * 3 * sizeof(float));
        aspire_world_paint_background(k, 1234, size, bg[k]);
        double mean = 0, var = 0;
        for (int i = 0; i < size * size * 3; i++) mean += bg[k][i];
        mean /= size * size * 3;
        for (int i = 0; i < size * size * 3; i++) var += (bg[k][i] - mean) * (bg[k][i] - mean);
        CHECK_MSG(var / (size * size * 3) > 1e-3, "%s is flat", aspire_world_background_name(k));
        for (int j = 0; j < k; j++) CHECK(memcmp(bg[j], bg[k], size * size * 3 * sizeof(float)) != 0);
    }
    /* Water scenes are bluer than land scenes on average (what makes the background learnable). */
    double blue[2] = {0, 0};
    for (int k = 0; k < ASPIRE_WORLD_NBACKGROUNDS; k++)
        for (int seed = 0; seed < 6; seed++) {
            aspire_world_paint_background(k, (uint32_t)seed, size, bg[0]);
            for (int i = 0; i < size * size; i++) blue[aspire_world_background_place(k)] += bg[0][3 * i + 2] - bg[0][3 * i];
        }
    CHECK(blue[1] > blue[0]);
    for (int k = 0; k < ASPIRE_WORLD_NBACKGROUNDS; k++) free(bg[k]);
    free(a); free(b); free(la); free(lb);
}

/* The label map is the topmost object covering at least half of each pixel; the box holds it. */
static void test_masks_match_render(void) {
    aspire_rng r;
    aspire_rng_seed(&r, 11);
    int size = 64;
    uint8_t *rgb = malloc(size * size * 3), *lab = malloc(size * size);
    float *cov[ASPIRE_WORLD_MAX_OBJECTS];
    for (int k = 0; k < ASPIRE_WORLD_MAX_OBJECTS; k++) cov[k] = malloc(size * size * sizeof(float));
    int mismatches = 0, bird_pixels = 0;
    for (int t = 0; t < 20; t++) {
        aspire_world_scene s;
        random_scene(&s, &r, t % 4);
        CHECK(aspire_world_render(W, &s, size, rgb, lab) == ASPIRE_OK);
        for (int k = 0; k < s.nobjects; k++) CHECK(aspire_world_object_coverage(W, &s, k, size, cov[k]) == ASPIRE_OK);
        for (int i = 0; i < size * size; i++) {
            int want = 0;
            for (int k = 0; k < s.nobjects; k++)
                if (cov[k][i] >= 0.5f) want = k + 1;
            mismatches += lab[i] != want;
            bird_pixels += lab[i] == s.bird + 1;
            if (lab[i]) {
                int box[4], x = i % size, y = i / size;
                aspire_world_object_box(&s, lab[i] - 1, size, box);
                CHECK(x >= box[0] && x < box[2] && y >= box[1] && y < box[3]);
            }
        }
    }
    CHECK(mismatches == 0);
    /* Birds are 30-46 % of the side: visible, but far from filling the image. */
    CHECK_MSG(bird_pixels > 20 * 64 * 64 * 0.03 && bird_pixels < 20 * 64 * 64 * 0.25, "bird pixels %d", bird_pixels);
    for (int k = 0; k < ASPIRE_WORLD_MAX_OBJECTS; k++) free(cov[k]);
    free(rgb); free(lab);
}

static void test_counterfactuals(void) {
    aspire_rng r;
    aspire_rng_seed(&r, 21);
    int size = 64;
    uint8_t *a = malloc(size * size * 3), *b = malloc(size * size * 3), *lab = malloc(size * size);
    float *cov = malloc(size * size * sizeof(float)), *cov2 = malloc(size * size * sizeof(float));
    long changed_outside = 0, changed_inside = 0, inside = 0, opaque = 0, opaque_changed = 0, bare = 0, bare_changed = 0;
    for (int t = 0; t < 24; t++) {
        aspire_world_scene s, e;
        random_scene(&s, &r, 1 + t % 3);
        CHECK(aspire_world_render(W, &s, size, a, lab) == ASPIRE_OK);
        /* Remove each object in turn: only its own footprint may change. */
        for (int k = 0; k < s.nobjects; k++) {
            aspire_world_scene_remove(&e, &s, k);
            CHECK(e.nobjects == s.nobjects - 1);
            CHECK(k == s.bird ? e.bird == -1 : e.objects[e.bird].emoji == s.objects[s.bird].emoji);
            CHECK(aspire_world_render(W, &e, size, b, NULL) == ASPIRE_OK);
            CHECK(aspire_world_object_coverage(W, &s, k, size, cov) == ASPIRE_OK);
            for (int i = 0; i < size * size; i++) {
                int diff = memcmp(a + 3 * i, b + 3 * i, 3) != 0;
                if (cov[i] == 0.0f) changed_outside += diff;
                if (lab[i] == k + 1) { inside++; changed_inside += diff; }
            }
        }
        /* Another background: pixels an object covers fully stay; bare ones change. */
        aspire_world_scene_set_background(&e, &s, (s.background + 4) % ASPIRE_WORLD_NBACKGROUNDS);
        CHECK(aspire_world_render(W, &e, size, b, NULL) == ASPIRE_OK);
        memset(cov2, 0, size * size * sizeof(float));
        for (int k = 0; k < s.nobjects; k++) {
            CHECK(aspire_world_object_coverage(W, &s, k, size, cov) == ASPIRE_OK);
            for (int i = 0; i < size * size; i++) {
                if (cov[i] >= 0.99999f) cov2[i] = 2;
                else if (cov[i] > 0 && cov2[i] < 1) cov2[i] = 1;
            }
        }
        for (int i = 0; i < size * size; i++) {
            int diff = memcmp(a + 3 * i, b + 3 * i, 3) != 0;
            if (cov2[i] == 2) { opaque++; opaque_changed += diff; }
            if (cov2[i] == 0) { bare++; bare_changed += diff; }
        }
    }
    CHECK_MSG(changed_outside == 0, "%ld pixels changed outside the removed object", changed_outside);
    CHECK_MSG(changed_inside > 0.9 * inside, "%ld of %ld mask pixels changed", changed_inside, inside);
    CHECK(opaque > 1000);
    CHECK_MSG(opaque_changed == 0, "%ld opaque object pixels changed with the background", opaque_changed);
    CHECK_MSG(bare_changed > 0.95 * bare, "%ld of %ld background pixels changed", bare_changed, bare);
    /* Removing everything leaves the painted background. */
    aspire_world_scene s, e;
    random_scene(&s, &r, 2);
    e = s;
    while (e.nobjects) aspire_world_scene_remove(&e, &e, 0);
    CHECK(e.bird == -1);
    CHECK(aspire_world_render(W, &e, size, a, lab) == ASPIRE_OK);
    free(cov);
    cov = malloc(size * size * 3 * sizeof(float));
    aspire_world_paint_background(s.background, s.bg_seed, size, cov);
    int same = 1, labelled = 0;
    for (int i = 0; i < size * size * 3; i++) same &= a[i] == (uint8_t)(cov[i] * 255.0f + 0.5f);
    for (int i = 0; i < size * size; i++) labelled += lab[i] != 0;
    CHECK(same && labelled == 0);
    free(a); free(b); free(lab); free(cov); free(cov2);
}

/* Every caption word is in the world's vocabulary, names the bird (or "bird") and the background. */
static void test_captions(void) {
    static const char *const vocab[] = {
        "a", "an", "the", "photo", "picture", "of", "close", "up", "there", "is", "with", "and", "next", "to", "near",
        "on", "by", "in", "standing", "swimming", "floating", "sitting", "walking", "resting", "view", "empty", "bird",
        "duck", "mallard", "swan", "flamingo", "penguin", "goose", "rooster", "chicken", "turkey", "peacock", "parrot",
        "eagle", "owl", "sailboat", "boat", "sailing", "fish", "shell", "seashell", "pine", "evergreen", "tree",
        "sunflower", "flower", "mushroom", "cactus", "sun", "cloud", "balloon", "red", "lake", "ocean", "river", "pond",
        "forest", "field", "desert", "meadow", NULL};
    static const char *const bird_words[ASPIRE_WORLD_NBIRDS][2] = {
        {"duck", "mallard"}, {"swan", 0}, {"flamingo", 0}, {"penguin", 0}, {"goose", 0}, {"rooster", "chicken"},
        {"turkey", 0}, {"peacock", 0}, {"parrot", 0}, {"eagle", 0}, {"owl", 0}};
    aspire_rng r;
    aspire_rng_seed(&r, 31);
    int bad_words = 0, no_bird = 0, no_bg = 0, bad_article = 0, mentions_obj = 0;
    for (int t = 0; t < 400; t++) {
        aspire_world_scene s;
        random_scene(&s, &r, t % 4);
        if (t % 50 == 49) aspire_world_scene_remove(&s, &s, s.bird);
        char cap[256], words[256];
        int n = aspire_world_caption(&s, &r, cap, sizeof cap);
        CHECK(n == (int)strlen(cap) && n > 8);
        CHECK(!strstr(cap, "  ") && cap[0] != ' ' && cap[n - 1] != ' ');
        memcpy(words, cap, sizeof cap);
        int has_bird = s.bird < 0, has_bg = 0, has_obj = 0;
        const char *prev = NULL;
        for (char *tok = strtok(words, " "); tok; tok = strtok(NULL, " ")) {
            int ok = 0;
            for (int v = 0; vocab[v]; v++) ok |= strcmp(tok, vocab[v]) == 0;
            bad_words += !ok;
            if (!ok) fprintf(stderr, "    word '%s' in '%s'\n", tok, cap);
            if (s.bird >= 0) {
                const char *const *bw = bird_words[s.objects[s.bird].emoji];
                has_bird |= strcmp(tok, bw[0]) == 0 || (bw[1] && strcmp(tok, bw[1]) == 0) || strcmp(tok, "bird") == 0;
            }
            has_bg |= strcmp(tok, aspire_world_background_name(s.background)) == 0;
            for (int k = 0; k < s.nobjects; k++)
                if (k != s.bird && strstr(tok, aspire_world_emoji_name(s.objects[k].emoji) ) == tok) has_obj = 1;
            if (prev && strcmp(prev, "a") == 0 && strchr("aeiou", tok[0])) bad_article++;
            if (prev && strcmp(prev, "an") == 0 && !strchr("aeiou", tok[0])) bad_article++;
            prev = tok;
        }
        no_bird += !has_bird;
        no_bg += !has_bg;
        mentions_obj += has_obj;
    }
    CHECK(bad_words == 0 && no_bird == 0 && no_bg == 0 && bad_article == 0);
    CHECK(mentions_obj > 100);
    /* One scene, many captions: the templates vary. */
    aspire_world_scene s;
    random_scene(&s, &r, 1);
    char seen[8][256];
    int distinct = 0;
    for (int t = 0; t < 40 && distinct < 8; t++) {
        char cap[256];
        aspire_world_caption(&s, &r, cap, sizeof cap);
        int dup = 0;
        for (int i = 0; i < distinct; i++) dup |= strcmp(seen[i], cap) == 0;
        if (!dup) memcpy(seen[distinct++], cap, sizeof cap);
    }
    CHECK(distinct >= 6);
    /* Truncation keeps a terminated string. */
    char tiny[12];
    aspire_world_caption(&s, &r, tiny, sizeof tiny);
    CHECK(strlen(tiny) <= 11);
}

static void test_scene_json_errors(void) {
    aspire_world_scene s;
    CHECK(aspire_world_scene_from_json(&s, "not json") == ASPIRE_ERR_FORMAT);
    CHECK(aspire_world_scene_from_json(&s, "{\"bg_seed\":1,\"objects\":[]}") == ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "background") != NULL);
    CHECK(aspire_world_scene_from_json(&s, "{\"background\":\"lake\",\"bg_seed\":-3,\"objects\":[]}") == ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "bg_seed") != NULL);
    CHECK(aspire_world_scene_from_json(&s, "{\"background\":\"lake\",\"bg_seed\":3,\"objects\":[{\"name\":\"dodo\"}]}") ==
          ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "objects[0]") != NULL);
    CHECK(aspire_world_scene_from_json(&s, "{\"background\":\"lake\",\"bg_seed\":3,\"objects\":[{\"name\":\"duck\",\"x\":0.1,"
                                           "\"y\":0.2,\"w\":0.3,\"h\":0.3,\"flip\":0,\"hue\":0,\"sat\":1}]}") == ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "\"val\"") != NULL);
    CHECK(aspire_world_scene_from_json(&s, "{\"background\":\"pond\",\"bg_seed\":3,\"objects\":[{\"name\":\"duck\",\"role\":"
                                           "\"bird\",\"x\":0.1,\"y\":0.2,\"w\":0.3,\"h\":0.3,\"flip\":1,\"hue\":0,\"sat\":1,"
                                           "\"val\":1}]}") == ASPIRE_OK);
    CHECK(s.background == ASPIRE_WORLD_POND && s.bg_seed == 3 && s.nobjects == 1 && s.bird == 0 && s.objects[0].flip == 1);
}

/* ---- Writers ---------------------------------------------------------------------------------- */

typedef struct row { int img_id, y, split, place; char file[64], species[16], background[16], objects[64], spur[16]; int obj_y; } row;

/* Reads metadata.csv; returns the number of rows (or -1). */
static int read_metadata(const char *dir, row **rows) {
    char path[512];
    snprintf(path, sizeof path, "%s/metadata.csv", dir);
    char *buf;
    size_t n;
    if (aspire_read_file(path, &buf, &n)) return -1;
    int cap = 1024, count = -1;
    *rows = malloc(cap * sizeof(row));
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (count < 0) {
            CHECK(strcmp(line, "img_id,img_filename,y,split,place,species,background,objects,spurious_object,object_y") == 0);
            count = 0;
            continue;
        }
        if (count == cap) *rows = realloc(*rows, (cap *= 2) * sizeof(row));
        row *r = &(*rows)[count];
        memset(r, 0, sizeof *r);
        char *f[10];
        int nf = 0;
        for (char *p = line; nf < 10; nf++) {
            f[nf] = p;
            char *c = strchr(p, ',');
            if (!c) { nf++; break; }
            *c = 0;
            p = c + 1;
        }
        CHECK(nf == 10);
        if (nf != 10) continue;
        r->img_id = atoi(f[0]);
        snprintf(r->file, sizeof r->file, "%s", f[1]);
        r->y = atoi(f[2]);
        r->split = atoi(f[3]);
        r->place = atoi(f[4]);
        snprintf(r->species, sizeof r->species, "%s", f[5]);
        snprintf(r->background, sizeof r->background, "%s", f[6]);
        snprintf(r->objects, sizeof r->objects, "%s", f[7]);
        snprintf(r->spur, sizeof r->spur, "%s", f[8]);
        r->obj_y = atoi(f[9]);
        count++;
    }
    aspire_free(buf, n + 1);
    return count;
}

static int files_equal(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    if (aspire_read_file(a, &x, &nx)) return 0;
    if (aspire_read_file(b, &y, &ny)) { aspire_free(x, nx + 1); return 0; }
    int eq = nx == ny && memcmp(x, y, nx) == 0;
    aspire_free(x, nx + 1);
    aspire_free(y, ny + 1);
    return eq;
}

/* Same seed, 1 thread and 2 threads: every file byte-identical; scenes re-render to the files. */
static void test_task_deterministic(void) {
    char d1[256], d2[256], out1[300], out2[300];
    testdir_make(d1, sizeof d1);
    testdir_make(d2, sizeof d2);
    snprintf(out1, sizeof out1, "%s/task", d1);
    snprintf(out2, sizeof out2, "%s/task", d2);
    aspire_world_task_opts o;
    aspire_world_task_opts_default(&o);
    o.n_train = 60; o.n_val = 20; o.n_test = 20;
    o.size = 40;
    o.counterfactuals = 4;
    o.seed = 77;
    o.out = out1;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(aspire_world_task_write(&o) == ASPIRE_OK);
    omp_set_num_threads(2);
    o.out = out2;
    CHECK(aspire_world_task_write(&o) == ASPIRE_OK);
    omp_set_num_threads(threads);

    row *rows = NULL;
    int n = read_metadata(out1, &rows);
    CHECK(n == 100);
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/metadata.csv", out1);
    snprintf(p2, sizeof p2, "%s/metadata.csv", out2);
    CHECK(files_equal(p1, p2));
    snprintf(p1, sizeof p1, "%s_truth/scenes.jsonl", out1);
    snprintf(p2, sizeof p2, "%s_truth/scenes.jsonl", out2);
    CHECK(files_equal(p1, p2));
    int differing = 0;
    for (int i = 0; i < n; i++) {
        snprintf(p1, sizeof p1, "%s/%s", out1, rows[i].file);
        snprintf(p2, sizeof p2, "%s/%s", out2, rows[i].file);
        differing += !files_equal(p1, p2);
        snprintf(p1, sizeof p1, "%s_truth/masks/%06d.png", out1, rows[i].img_id);
        snprintf(p2, sizeof p2, "%s_truth/masks/%06d.png", out2, rows[i].img_id);
        differing += !files_equal(p1, p2);
    }
    CHECK(differing == 0);
    snprintf(p1, sizeof p1, "%s_truth/counterfactuals", out1);
    snprintf(p2, sizeof p2, "%s_truth/counterfactuals", out2);
    CHECK(testdir_count(p1) == testdir_count(p2) && testdir_count(p1) >= 3 * 4 * 2);

    /* scenes.jsonl re-renders to the very bytes of every image, mask and counterfactual. */
    snprintf(p1, sizeof p1, "%s_truth/scenes.jsonl", out1);
    char *text;
    size_t len;
    CHECK(aspire_read_file(p1, &text, &len) == ASPIRE_OK);
    uint8_t *rgb = malloc(40 * 40 * 3), *lab = malloc(40 * 40);
    int lines = 0, rerender_ok = 0, cf_ok = 0, cf_total = 0, meta_ok = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lines++) {
        aspire_world_scene s;
        CHECK(aspire_world_scene_from_json(&s, line) == ASPIRE_OK);
        cJSON *j = cJSON_Parse(line);
        int id = cJSON_GetObjectItem(j, "img_id")->valueint;
        const row *r = &rows[id - 1];
        meta_ok += r->img_id == id && strcmp(cJSON_GetObjectItem(j, "img_filename")->valuestring, r->file) == 0 &&
                   strcmp(cJSON_GetObjectItem(j, "background")->valuestring, r->background) == 0 &&
                   s.bird >= 0 && strcmp(aspire_world_emoji_name(s.objects[s.bird].emoji), r->species) == 0 &&
                   cJSON_GetArraySize(cJSON_GetObjectItem(j, "captions")) == 3;
        CHECK(aspire_world_render(W, &s, 40, rgb, lab) == ASPIRE_OK);
        aspire_image img, mask;
        snprintf(p1, sizeof p1, "%s/%s", out1, r->file);
        snprintf(p2, sizeof p2, "%s_truth/masks/%06d.png", out1, id);
        if (aspire_image_load(&img, p1, 3) == ASPIRE_OK && aspire_image_load(&mask, p2, 1) == ASPIRE_OK)
            rerender_ok += memcmp(img.data, rgb, 40 * 40 * 3) == 0 && memcmp(mask.data, lab, 40 * 40) == 0;
        aspire_image_destroy(&img);
        aspire_image_destroy(&mask);
        const cJSON *cfs = cJSON_GetObjectItem(j, "counterfactuals"), *cf;
        cJSON_ArrayForEach(cf, cfs) {
            aspire_world_scene e;
            const char *edit = cJSON_GetObjectItem(cf, "edit")->valuestring;
            if (strcmp(edit, "remove") == 0) aspire_world_scene_remove(&e, &s, cJSON_GetObjectItem(cf, "object")->valueint);
            else aspire_world_scene_set_background(&e, &s, aspire_world_background_find(cJSON_GetObjectItem(cf, "background")->valuestring));
            CHECK(aspire_world_render(W, &e, 40, rgb, NULL) == ASPIRE_OK);
            snprintf(p1, sizeof p1, "%s_truth/%s", out1, cJSON_GetObjectItem(cf, "file")->valuestring);
            if (aspire_image_load(&img, p1, 3) == ASPIRE_OK) cf_ok += memcmp(img.data, rgb, 40 * 40 * 3) == 0;
            aspire_image_destroy(&img);
            cf_total++;
        }
        cJSON_Delete(j);
    }
    CHECK(lines == 100 && rerender_ok == 100 && meta_ok == 100);
    /* The project's dataset loader reads it as Waterbirds layout, pixels and all. */
    aspire_dataset *ds = NULL;
    aspire_dataset_options dopt = {ASPIRE_SPLIT_TEST, 40, 3, ASPIRE_LAYOUT_WATERBIRDS, 0, 0, NULL, 0};
    CHECK(aspire_dataset_load(&ds, out1, &dopt) == ASPIRE_OK);
    if (ds) {
        CHECK(aspire_dataset_count(ds) == 20 && aspire_dataset_n_classes(ds) == 2 && aspire_dataset_n_places(ds) == 2);
        int agree = 1;
        for (int64_t i = 0; i < aspire_dataset_count(ds); i++) {
            const row *r = &rows[aspire_dataset_img_id(ds, i) - 1];
            aspire_image img;
            snprintf(p1, sizeof p1, "%s/%s", out1, r->file);
            agree &= r->split == 2 && aspire_dataset_label(ds, i) == r->y && aspire_dataset_place(ds, i) == r->place &&
                     strcmp(aspire_dataset_field(ds, i, "species"), r->species) == 0;
            if (aspire_image_load(&img, p1, 3) == ASPIRE_OK) agree &= memcmp(img.data, aspire_dataset_pixels(ds, i), 40 * 40 * 3) == 0;
            aspire_image_destroy(&img);
        }
        CHECK(agree);
        aspire_dataset_free(ds);
    }
    CHECK(cf_total >= 3 * 4 * 2 && cf_ok == cf_total);
    aspire_free(text, len + 1);
    free(rgb); free(lab); free(rows);

    /* Another seed: another dataset (replacing the one in out2). */
    o.seed = 78;
    o.out = out2;
    o.force = 1;
    CHECK(aspire_world_task_write(&o) == ASPIRE_OK);
    snprintf(p1, sizeof p1, "%s/metadata.csv", out1);
    snprintf(p2, sizeof p2, "%s/metadata.csv", out2);
    CHECK(!files_equal(p1, p2));
    testdir_remove(d1);
    testdir_remove(d2);
}

/* The requested correlations, within sampling error, and balanced val and test. */
static void test_task_statistics(void) {
    char d[256], out[300], truth[300];
    testdir_make(d, sizeof d);
    snprintf(out, sizeof out, "%s/task", d);
    snprintf(truth, sizeof truth, "%s/gt", d);
    aspire_world_task_opts o;
    aspire_world_task_opts_default(&o);
    o.n_train = 1500; o.n_val = 301; o.n_test = 303;
    o.size = 16;
    o.counterfactuals = 0;
    o.masks = 0;
    o.rho_bg = 0.85;
    o.rho_obj = 0.75;
    o.p_obj = 0.6;
    o.waterbird_frac = 0.3;
    o.spurious = "sailboat,cactus,balloon=0";
    o.out = out;
    o.truth = truth;
    o.seed = 3;
    CHECK(aspire_world_task_write(&o) == ASPIRE_OK);
    char default_truth[320];
    snprintf(default_truth, sizeof default_truth, "%s_truth", out);
    CHECK(aspire_file_exists(truth) && !aspire_file_exists(default_truth));
    row *rows = NULL;
    int n = read_metadata(out, &rows);
    CHECK(n == 2104);
    int cnt[3] = {0}, cls[3][2] = {{0}}, match = 0, with_obj = 0, obj_match = 0, grp[3][2][2] = {{{0}}};
    int ids_ok = 1, files_ok = 0, spur_ok = 1;
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        ids_ok &= r->img_id == i + 1;
        cnt[r->split]++;
        cls[r->split][r->y]++;
        grp[r->split][r->y][r->place]++;
        int e = aspire_world_emoji_find(r->species), b = aspire_world_background_find(r->background);
        CHECK(e >= 0 && e < ASPIRE_WORLD_NBIRDS && aspire_world_emoji_class(e) == r->y);
        CHECK(b >= 0 && aspire_world_background_place(b) == r->place);
        if (r->split == 0) {
            match += r->place == r->y;
            if (r->spur[0]) { with_obj++; obj_match += r->obj_y == r->y; }
        }
        if (r->spur[0]) {
            int se = aspire_world_emoji_find(r->spur);
            int tied = se == ASPIRE_WORLD_SAILBOAT ? 1 : 0;
            spur_ok &= (se == ASPIRE_WORLD_SAILBOAT || se == ASPIRE_WORLD_CACTUS || se == ASPIRE_WORLD_BALLOON) &&
                       r->obj_y == tied && strstr(r->objects, r->spur) == r->objects;
        } else {
            spur_ok &= r->obj_y == -1 && !strstr(r->objects, "sailboat") && !strstr(r->objects, "cactus") &&
                       !strstr(r->objects, "balloon");
        }
        if (i % 97 == 0) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", out, r->file);
            aspire_image img;
            files_ok += aspire_image_load(&img, p, 0) == ASPIRE_OK && img.w == 16 && img.h == 16 && img.c == 3;
            aspire_image_destroy(&img);
        }
    }
    CHECK(ids_ok && spur_ok);
    CHECK(files_ok == (n + 96) / 97);
    CHECK(cnt[0] == 1500 && cnt[1] == 301 && cnt[2] == 303);
    /* Class counts are exact: round(n * 0.3). */
    CHECK(cls[0][1] == 450 && cls[1][1] == 90 && cls[2][1] == 91);
    /* rho_bg: 4 standard deviations of a binomial proportion. */
    double p = (double)match / 1500, sd = sqrt(0.85 * 0.15 / 1500);
    CHECK_MSG(fabs(p - 0.85) < 4 * sd, "train background agreement %.4f, wanted 0.85", p);
    double q = (double)with_obj / 1500, sdq = sqrt(0.6 * 0.4 / 1500);
    CHECK_MSG(fabs(q - 0.6) < 4 * sdq, "train images with a spurious object %.4f, wanted 0.6", q);
    double ro = (double)obj_match / with_obj, sdo = sqrt(0.75 * 0.25 / with_obj);
    CHECK_MSG(fabs(ro - 0.75) < 4 * sdo, "train object agreement %.4f, wanted 0.75", ro);
    /* val and test: half of each class on water, half on land (the odd one either way). */
    for (int sp = 1; sp < 3; sp++)
        for (int y = 0; y < 2; y++) CHECK_MSG(abs(grp[sp][y][0] - grp[sp][y][1]) <= 1, "split %d class %d: %d land, %d water", sp, y, grp[sp][y][0], grp[sp][y][1]);
    free(rows);

    /* Bad options are refused with a reason. */
    o.spurious = "balloon";
    CHECK(aspire_world_task_write(&o) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "balloon"));
    o.spurious = "duck";
    CHECK(aspire_world_task_write(&o) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "duck"));
    o.spurious = "sailboat";
    o.rho_bg = 1.5;
    CHECK(aspire_world_task_write(&o) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "rho_bg"));
    testdir_remove(d);
}

/* failing_alloc (test.h) is thread-safe: rendering is parallel. */

/* A forced run over a dataset that fails part-way leaves the old dataset whole (the new one is
 * built in a temporary sibling folder, renamed into place only at the end), no temporary files or
 * folders, and no leaks (under ASan). */
static void test_task_failure(void) {
    char d[256], out[300], p[512];
    testdir_make(d, sizeof d);
    snprintf(out, sizeof out, "%s/task", d);
    aspire_world_task_opts o;
    aspire_world_task_opts_default(&o);
    o.n_train = 40; o.n_val = 8; o.n_test = 8;
    o.size = 24;
    o.counterfactuals = 2;
    o.out = out;
    CHECK(aspire_world_task_write(&o) == ASPIRE_OK);
    snprintf(p, sizeof p, "%s/metadata.csv", out);
    CHECK(aspire_file_exists(p));
    char *old_meta = NULL;
    size_t old_n = 0;
    CHECK(aspire_read_file(p, &old_meta, &old_n) == ASPIRE_OK);
    o.force = 1;
    int failures = 0, clean = 1;
    for (long budget = 5; budget < 4000; budget = budget * 3 + 7) {
        o.seed = (uint64_t)budget;
        alloc_budget = budget;
        aspire_set_allocator(failing_alloc, NULL);
        int rc = aspire_world_task_write(&o);
        aspire_set_allocator(NULL, NULL);
        if (rc == ASPIRE_OK) continue;
        failures++;
        CHECK_MSG(rc == ASPIRE_ERR_NOMEM, "rc %d: %s", rc, aspire_errmsg());
        /* The old dataset, unchanged */
        char *meta = NULL;
        size_t n = 0;
        CHECK(aspire_read_file(p, &meta, &n) == ASPIRE_OK && n == old_n && memcmp(meta, old_meta, n) == 0);
        aspire_free(meta, n + 1);
        const char *dirs[4] = {"duck", "owl", "../task_truth/masks", ".."};
        for (int i = 0; i < 4; i++) {
            char sub[600];
            snprintf(sub, sizeof sub, "%s/%s", out, dirs[i]);
            DIR *dh = opendir(sub);
            struct dirent *e;
            while (dh && (e = readdir(dh))) clean &= strstr(e->d_name, ".tmp") == NULL;
            if (dh) closedir(dh);
        }
    }
    aspire_free(old_meta, old_n + 1);
    CHECK(failures >= 3 && clean);
    o.seed = 0;
    CHECK(aspire_world_task_write(&o) == ASPIRE_OK && aspire_file_exists(p));
    testdir_remove(d);
}

static void test_corpus(void) {
    char d[256], out[300];
    testdir_make(d, sizeof d);
    snprintf(out, sizeof out, "%s/corpus", d);
    aspire_world_corpus_opts o;
    aspire_world_corpus_opts_default(&o);
    o.n_pretrain = 700;
    o.n_test = 100;
    o.size = 16;
    o.captions = 4;
    o.counterfactuals = 2;
    o.out = out;
    CHECK(aspire_world_corpus_write(&o) == ASPIRE_OK);
    row *rows = NULL;
    int n = read_metadata(out, &rows);
    CHECK(n == 800);
    int species[ASPIRE_WORLD_NBIRDS] = {0}, bgs[ASPIRE_WORLD_NBACKGROUNDS] = {0}, splits[3] = {0}, agree = 0, nobj[4] = {0};
    for (int i = 0; i < n; i++) {
        species[aspire_world_emoji_find(rows[i].species)]++;
        bgs[aspire_world_background_find(rows[i].background)]++;
        splits[rows[i].split]++;
        agree += rows[i].y == rows[i].place;
        int k = rows[i].objects[0] ? 1 : 0;
        for (const char *c = rows[i].objects; *c; c++) k += *c == ';';
        nobj[k]++;
    }
    for (int e = 0; e < ASPIRE_WORLD_NBIRDS; e++) CHECK(species[e] > 40);
    for (int b = 0; b < ASPIRE_WORLD_NBACKGROUNDS; b++) CHECK(bgs[b] > 60);
    for (int k = 0; k < 4; k++) CHECK(nobj[k] > 150);
    CHECK(splits[0] == 700 && splits[1] == 0 && splits[2] == 100);
    /* No class-place correlation: agreement near 1/2 (5/11 · 1/2 + 6/11 · 1/2). */
    CHECK_MSG(fabs(agree / 800.0 - 0.5) < 4 * sqrt(0.25 / 800), "class-place agreement %.3f", agree / 800.0);
    char p[512];
    snprintf(p, sizeof p, "%s/scenes.jsonl", out);
    char *text;
    size_t len;
    CHECK(aspire_read_file(p, &text, &len) == ASPIRE_OK);
    char *nl = strchr(text, '\n');
    *nl = 0;
    cJSON *j = cJSON_Parse(text);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "captions")) == 4);
    CHECK(strcmp(cJSON_GetObjectItem(j, "split_name")->valuestring, "pretrain") == 0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "counterfactuals")) >= 2);
    cJSON_Delete(j);
    aspire_free(text, len + 1);
    snprintf(p, sizeof p, "%s/masks", out);
    CHECK(testdir_count(p) == 800);
    free(rows);
    testdir_remove(d);
}

static void test_preview(void) {
    aspire_world_preview_opts o;
    aspire_world_preview_opts_default(&o);
    o.size = 32;
    o.cols = 3;
    aspire_image a, b;
    CHECK(aspire_world_preview_render(W, &o, &a) == ASPIRE_OK);
    CHECK(aspire_world_preview_render(W, &o, &b) == ASPIRE_OK);
    CHECK(a.c == 3 && a.w > 3 * 32 && a.h > 16 * 32);
    CHECK(a.w == b.w && a.h == b.h && memcmp(a.data, b.data, (size_t)a.w * a.h * 3) == 0);
    /* The label column holds dark text pixels; the tiles are not blank. */
    int dark = 0;
    for (int y = 0; y < a.h; y++)
        for (int x = 0; x < 40; x++) dark += a.data[((size_t)y * a.w + x) * 3] < 100;
    CHECK(dark > 200);
    aspire_image_destroy(&b);
    o.by_place = 1;
    CHECK(aspire_world_preview_render(W, &o, &b) == ASPIRE_OK);
    CHECK(b.h < a.h / 3);
    aspire_image_destroy(&a);
    aspire_image_destroy(&b);
    o.cols = 0;
    CHECK(aspire_world_preview_render(W, &o, &a) == ASPIRE_ERR_ARG && a.data == NULL);
}

int main(void) {
    if (aspire_world_new(&W, NULL) != ASPIRE_OK) {
        fprintf(stderr, "cannot load the emoji font: %s\n", aspire_errmsg());
        return 1;
    }
    RUN(test_catalogue);
    RUN(test_font_errors);
    RUN(test_resampler_exact);
    RUN(test_render_deterministic);
    RUN(test_masks_match_render);
    RUN(test_counterfactuals);
    RUN(test_captions);
    RUN(test_scene_json_errors);
    RUN(test_task_deterministic);
    RUN(test_task_statistics);
    RUN(test_task_failure);
    RUN(test_corpus);
    RUN(test_preview);
    aspire_world_free(W);
    return TEST_REPORT();
}
