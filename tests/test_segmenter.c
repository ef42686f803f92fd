/* test_segmenter.c — the segmenter: phrase resolution (vocabulary, plurals, determiners, WordNet,
 * refusals), a tiny network that overfits a few synthetic images (present phrases found with a
 * good IoU, absent ones refused, masks binary and at the image's size), determinism at a fixed
 * seed and thread count, the model file round trip and its errors, and, where
 * models/segmenter.safetensors exists, the shipped model on freshly rendered world scenes. */
#include "aspire/segmenter.h"

#include "aspire/fileio.h"
#include "aspire/world.h"

#include "test.h"
#include "testdir.h"

#include <string.h>

#define BIT(e) (UINT64_C(1) << ASPIRE_WORLD_##e)

static aspire_segnet *world_net(void) {
    aspire_segnet_config cfg = aspire_segnet_default_config();
    cfg.image_size = 16;
    cfg.nlevels = 2;
    cfg.widths[0] = 4; cfg.widths[1] = 4;
    aspire_segnet_vocab v = aspire_segnet_world_vocab();
    aspire_segnet *net = NULL;
    CHECK(aspire_segnet_new(&net, &cfg, &v, 1) == ASPIRE_OK);
    return net;
}

static void test_resolve(void) {
    aspire_segnet *net = world_net();
    if (!net) return;
    uint64_t set = 0;
    const uint64_t birds = (UINT64_C(1) << ASPIRE_WORLD_NBIRDS) - 1;
    struct { const char *phrase; uint64_t want; } cases[] = {
        {"sailboat", BIT(SAILBOAT)}, {"a boat", BIT(SAILBOAT)}, {"The two trees", BIT(PINE) | BIT(TREE)},
        {"mallard", BIT(DUCK)}, {"bird", birds}, {"birds", birds}, {"geese", BIT(GOOSE)}, {"3 ducks", BIT(DUCK)},
        {"pine trees", BIT(PINE)}, {"a red balloon", BIT(BALLOON)}, {"a duck and a fish", BIT(DUCK) | BIT(FISH)},
        {"sun, clouds", BIT(SUN) | BIT(CLOUD)}, {"waterbirds", birds & (BIT(DUCK) | BIT(SWAN) | BIT(FLAMINGO) | BIT(PENGUIN) | BIT(GOOSE))},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = aspire_segnet_resolve(net, cases[i].phrase, &set, NULL, 0);
        CHECK_MSG(rc == ASPIRE_OK && set == cases[i].want, "'%s': rc %d set %llx (%s)", cases[i].phrase, rc,
                  (unsigned long long)set, aspire_errmsg());
    }
    /* WordNet: a hyponym and a synonym outside the vocabulary */
    char how[256];
    int rc = aspire_segnet_resolve(net, "drake", &set, how, sizeof how);
    if (rc == ASPIRE_ERR_NOTFOUND && strstr(aspire_errmsg(), "WordNet database")) {
        fprintf(stderr, "    (no WordNet database: WordNet cases skipped)\n");
    } else {
        CHECK_MSG(rc == ASPIRE_OK && set == BIT(DUCK) && strstr(how, "WordNet"), "drake: %d %llx %s", rc,
                  (unsigned long long)set, how);
        /* gull → larid → coastal diving bird → seabird → aquatic bird: the waterbirds */
        CHECK(aspire_segnet_resolve(net, "seagull", &set, NULL, 0) == ASPIRE_OK &&
              set == (BIT(DUCK) | BIT(SWAN) | BIT(FLAMINGO) | BIT(PENGUIN) | BIT(GOOSE)));
        CHECK(aspire_segnet_resolve(net, "sparrow", &set, NULL, 0) == ASPIRE_OK && set == birds);
        CHECK(aspire_segnet_resolve(net, "oak", &set, NULL, 0) == ASPIRE_OK && (set & (BIT(PINE) | BIT(TREE))));
    }
    CHECK(aspire_segnet_resolve(net, "xyzzyq", &set, NULL, 0) == ASPIRE_ERR_NOTFOUND);
    CHECK(strstr(aspire_errmsg(), "xyzzyq") != NULL && set == 0);
    CHECK(aspire_segnet_resolve(net, "the lake", &set, NULL, 0) == ASPIRE_ERR_NOTFOUND);
    CHECK(aspire_segnet_resolve(net, "the two", &set, NULL, 0) == ASPIRE_ERR_ARG);
    CHECK(aspire_segnet_resolve(net, "", &set, NULL, 0) == ASPIRE_ERR_ARG);
    aspire_segnet_free(net);
}

/* ---- a tiny network on synthetic images: concept 0 (the world's duck) a red square, concept 1
 * (swan) a blue square; image i has the red one unless i % 3 == 2, the blue one unless i % 3 == 0 ---- */
#define TS 16
#define TN 6

static void paint(uint8_t *px, uint8_t *lb, int i) {
    for (int p = 0; p < TS * TS; p++) {
        px[p * 3] = px[p * 3 + 1] = px[p * 3 + 2] = (uint8_t)(100 + (p * 37 + i * 11) % 40);
        lb[p] = 0;
    }
    int has_red = i % 3 != 2, has_blue = i % 3 != 0, r0 = 1 + i % 3, b0 = 8 + i % 2;
    for (int y = 0; y < TS; y++)
        for (int x = 0; x < TS; x++) {
            int p = y * TS + x;
            if (has_red && x >= r0 && x < r0 + 5 && y >= r0 && y < r0 + 5) {
                px[p * 3] = 230; px[p * 3 + 1] = 30; px[p * 3 + 2] = 30; lb[p] = 1;
            }
            if (has_blue && x >= b0 && x < b0 + 6 && y >= 9 && y < 15) {
                px[p * 3] = 20; px[p * 3 + 1] = 40; px[p * 3 + 2] = 220; lb[p] = 2;
            }
        }
}

static void tiny_corpus(aspire_seg_corpus *c) {
    memset(c, 0, sizeof *c);
    c->n = TN;
    c->size = TS;
    c->pixels = aspire_malloc(TN * TS * TS * 3);
    c->labels = aspire_malloc(TN * TS * TS);
    c->present = aspire_calloc(TN, sizeof *c->present);
    c->ids = aspire_calloc(TN, sizeof *c->ids);
    for (int i = 0; i < TN; i++) {
        paint(c->pixels + i * TS * TS * 3, c->labels + i * TS * TS, i);
        c->ids[i] = i;
    }
}

static aspire_segnet *train_tiny_ex(uint64_t seed, int steps, const char *ckpt, int resume) {
    aspire_seg_corpus c;
    tiny_corpus(&c);
    aspire_segnet_train_opts o;
    aspire_segnet_train_opts_default(&o);
    o.cfg.image_size = TS;
    o.cfg.nlevels = 2;
    o.cfg.widths[0] = 8; o.cfg.widths[1] = 16;
    o.steps = steps;
    o.schedule_steps = 150;
    o.checkpoint = ckpt;
    o.checkpoint_every = ckpt ? 40 : 0;
    o.resume = resume;
    o.batch = 6;
    o.warmup = 10;
    o.lr = 1e-2f;
    o.val = 0;
    o.flip = 0;
    o.progress = 0;
    o.seed = seed;
    aspire_segnet *net = NULL;
    char *recipe = NULL;
    CHECK(aspire_segnet_train(&net, &c, &o, &recipe) == ASPIRE_OK);
    CHECK(recipe && strstr(recipe, "over 150 steps"));
    aspire_strfree(recipe);
    aspire_seg_corpus_destroy(&c);
    return net;
}

static aspire_segnet *train_tiny(uint64_t seed) { return train_tiny_ex(seed, 150, NULL, 0); }

static void image_of(aspire_image *img, int i) {
    uint8_t lb[TS * TS];
    CHECK(aspire_image_init(img, TS, TS, 3) == ASPIRE_OK);
    paint(img->data, lb, i);
}

static double iou_with_truth(const aspire_segment *s, int i, int concept) {
    uint8_t px[TS * TS * 3], lb[TS * TS], truth[TS * TS];
    paint(px, lb, i);
    for (int p = 0; p < TS * TS; p++) truth[p] = lb[p] == concept + 1 ? 255 : 0;
    return aspire_mask_iou(s->mask, truth, TS, TS);
}

static int binary(const aspire_segment *s) {
    for (int p = 0; p < s->w * s->h; p++)
        if (s->mask[p] != 0 && s->mask[p] != 255) return 0;
    return 1;
}

/* The tiny network overfits: every present phrase found with IoU >= 0.8, absent ones refused. */
static void check_overfit(aspire_segmenter *seg) {
    aspire_image imgs[TN];
    for (int i = 0; i < TN; i++) image_of(&imgs[i], i);
    aspire_segment s[TN];
    const char *phrase[2] = {"a duck", "the swans"};
    for (int c = 0; c < 2; c++) {
        CHECK(aspire_segmenter_segment(seg, imgs, TN, phrase[c], 0, s) == ASPIRE_OK);
        for (int i = 0; i < TN; i++) {
            int want = c == 0 ? i % 3 != 2 : i % 3 != 0;
            CHECK_MSG(s[i].present == want, "'%s' image %d: present %d score %.3f", phrase[c], i, s[i].present,
                      (double)s[i].score);
            CHECK(s[i].w == TS && s[i].h == TS && binary(&s[i]));
            if (want) CHECK_MSG(iou_with_truth(&s[i], i, c) >= 0.8, "'%s' image %d: IoU %.3f", phrase[c], i,
                                iou_with_truth(&s[i], i, c));
            else CHECK(s[i].area == 0 && aspire_mask_area(s[i].mask, TS, TS) == 0 && s[i].box.x1 == 0);
            aspire_segment_destroy(&s[i]);
        }
    }
    /* the same call twice gives the same bytes */
    aspire_segment t[2];
    CHECK(aspire_segmenter_segment(seg, imgs, 2, "bird", 1, s) == ASPIRE_OK);
    CHECK(aspire_segmenter_segment(seg, imgs, 2, "bird", 1, t) == ASPIRE_OK);
    for (int i = 0; i < 2; i++) {
        CHECK(s[i].mask && t[i].mask && memcmp(s[i].mask, t[i].mask, TS * TS) == 0 && s[i].score == t[i].score);
        aspire_segment_destroy(&s[i]);
        aspire_segment_destroy(&t[i]);
    }
    /* the box of image 0's red square (x, y in 1..5) and its radius-1 dilation (0..6) */
    CHECK(aspire_segmenter_segment(seg, imgs, 1, "duck", 0, s) == ASPIRE_OK);
    CHECK_MSG(s[0].box.x0 == 1 && s[0].box.y0 == 1 && s[0].box.x1 == 6 && s[0].box.y1 == 6, "box %d %d %d %d",
              s[0].box.x0, s[0].box.y0, s[0].box.x1, s[0].box.y1);
    aspire_segment_destroy(&s[0]);
    CHECK(aspire_segmenter_segment(seg, imgs, 1, "duck", 1, s) == ASPIRE_OK);
    CHECK(s[0].box.x0 == 0 && s[0].box.y0 == 0 && s[0].box.x1 == 7 && s[0].box.y1 == 7 && s[0].area == 49);
    aspire_segment_destroy(&s[0]);
    /* any size: a 40x24 copy gives a 40x24 binary mask */
    aspire_image big;
    CHECK(aspire_image_resize(&big, &imgs[0], 40, 24, ASPIRE_RESIZE_BILINEAR) == ASPIRE_OK);
    CHECK(aspire_segmenter_segment(seg, &big, 1, "duck", -1, s) == ASPIRE_OK);
    CHECK(s[0].w == 40 && s[0].h == 24 && binary(&s[0]) && s[0].present);
    CHECK(s[0].box.x1 <= 40 && s[0].box.y1 <= 24 && s[0].box.x0 < 20 && s[0].box.y0 < 12);
    aspire_segment_destroy(&s[0]);
    aspire_image_destroy(&big);
    /* errors: unknown phrase, empty phrase, a grey image */
    CHECK(aspire_segmenter_segment(seg, imgs, 1, "xyzzyq", 0, s) == ASPIRE_ERR_NOTFOUND);
    CHECK(strstr(aspire_errmsg(), "xyzzyq") != NULL && s[0].mask == NULL);
    CHECK(aspire_segmenter_segment(seg, imgs, 1, "", 0, s) == ASPIRE_ERR_ARG);
    aspire_image grey;
    CHECK(aspire_image_init(&grey, 8, 8, 1) == ASPIRE_OK);
    CHECK(aspire_segmenter_segment(seg, &grey, 1, "duck", 0, s) == ASPIRE_ERR_ARG);
    aspire_image_destroy(&grey);
    for (int i = 0; i < TN; i++) aspire_image_destroy(&imgs[i]);
}

static int same_params(aspire_segnet *a, aspire_segnet *b) {
    aspire_params *pa = aspire_segnet_params(a), *pb = aspire_segnet_params(b);
    if (aspire_params_count(pa) != aspire_params_count(pb)) return 0;
    for (int i = 0; i < aspire_params_count(pa); i++) {
        aspire_tensor *x = aspire_params_at(pa, i), *y = aspire_params_at(pb, i);
        if (x->numel != y->numel || memcmp(x->data, y->data, sizeof(float) * (size_t)x->numel)) return 0;
    }
    return 1;
}

static void test_tiny(void) {
    aspire_segnet *net = train_tiny(7), *again = train_tiny(7);
    if (!net || !again) { aspire_segnet_free(net); aspire_segnet_free(again); return; }
    CHECK(same_params(net, again));  /* same seed, same thread count: the same bytes */
    char dir[256], path[512];
    testdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/seg.safetensors", dir);
    CHECK(aspire_segnet_save(net, path, "tiny test model") == ASPIRE_OK);
    aspire_segnet *loaded = NULL;
    char *recipe = NULL;
    CHECK(aspire_segnet_load(&loaded, path, &recipe) == ASPIRE_OK);
    CHECK(recipe && strcmp(recipe, "tiny test model") == 0);
    aspire_strfree(recipe);
    if (loaded) {
        CHECK(same_params(net, loaded));
        CHECK(aspire_segnet_get_config(loaded)->widths[1] == 16 && aspire_segnet_get_config(loaded)->image_size == TS);
        aspire_segnet_free(loaded);
    }
    aspire_segmenter *seg = NULL;
    CHECK(aspire_segmenter_open(&seg, path, 1) == ASPIRE_OK);
    if (seg) check_overfit(seg);
    aspire_segmenter_free(seg);
    aspire_segnet_free(net);
    aspire_segnet_free(again);
    testdir_remove(dir);
}

/* A run cut at step 80 (checkpoint at 40 and 80) and resumed to 150 gives the bytes of one run. */
static void test_resume(void) {
    char dir[256], ckpt[512];
    testdir_make(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/seg.ckpt", dir);
    aspire_segnet *whole = train_tiny(5), *first = train_tiny_ex(5, 80, ckpt, 0);
    CHECK(aspire_file_exists(ckpt));
    aspire_segnet *rest = train_tiny_ex(5, 150, ckpt, 1);
    CHECK(whole && rest && same_params(whole, rest));
    CHECK(first && whole && !same_params(first, whole));
    aspire_segnet_free(whole);
    aspire_segnet_free(first);
    aspire_segnet_free(rest);
    testdir_remove(dir);
}

static void test_file_errors(void) {
    char dir[256], path[512];
    testdir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/none.safetensors", dir);
    aspire_segmenter *seg = NULL;
    CHECK(aspire_segmenter_open(&seg, path, 1) != ASPIRE_OK && seg == NULL);
    CHECK(strstr(aspire_errmsg(), "none.safetensors") != NULL);
    /* a safetensors file without the segmenter's metadata */
    snprintf(path, sizeof path, "%s/other.safetensors", dir);
    aspire_params *p = aspire_params_new();
    CHECK(aspire_params_add(p, "w", 1, (int64_t[]){3}, 1) != NULL);
    CHECK(aspire_params_save(p, path, NULL, 0) == ASPIRE_OK);
    aspire_params_free(p);
    CHECK(aspire_segmenter_open(&seg, path, 1) == ASPIRE_ERR_FORMAT);
    CHECK(strstr(aspire_errmsg(), "other.safetensors") != NULL && strstr(aspire_errmsg(), "not a segmenter"));
    /* a segmenter file whose tensors do not match its config */
    aspire_segnet *net = world_net();
    snprintf(path, sizeof path, "%s/seg.safetensors", dir);
    CHECK(net && aspire_segnet_save(net, path, NULL) == ASPIRE_OK);
    aspire_segnet_free(net);
    aspire_segnet_config cfg = aspire_segnet_default_config();
    cfg.image_size = 16;
    cfg.nlevels = 2;
    cfg.widths[0] = 4; cfg.widths[1] = 8;
    aspire_segnet_vocab v = aspire_segnet_world_vocab();
    CHECK(aspire_segnet_new(&net, &cfg, &v, 1) == ASPIRE_OK);
    CHECK(aspire_params_load(aspire_segnet_params(net), path) != ASPIRE_OK);
    CHECK(strstr(aspire_errmsg(), "seg.safetensors") != NULL);
    aspire_segnet_free(net);
    testdir_remove(dir);
}

/* The shipped model on scenes rendered now: the species and "bird" are found, an object the scene
 * lacks is not. Skipped (with a notice) when the model file or the emoji font is missing. */
static void test_shipped(void) {
    char model_buf[4096];
    const char *path = aspire_segmenter_default_model(getenv("ASPIRE_MODELS"), model_buf, sizeof model_buf);
    if (!aspire_file_exists(path)) { fprintf(stderr, "    (no %s: shipped-model test skipped)\n", path); return; }
    aspire_world *w = NULL;
    if (aspire_world_new(&w, NULL) != ASPIRE_OK) { fprintf(stderr, "    (no emoji font: skipped)\n"); return; }
    aspire_segmenter *seg = NULL;
    CHECK(aspire_segmenter_open(&seg, path, 1) == ASPIRE_OK);
    aspire_world_style st;
    aspire_world_style_default(&st);
    aspire_rng r;
    aspire_rng_seed(&r, 99);
    enum { N = 12, S = 64 };
    int found = 0, bird = 0, absent_ok = 0;
    for (int i = 0; seg && i < N; i++) {
        aspire_world_scene s;
        int species = i % ASPIRE_WORLD_NBIRDS, ctx[1] = {ASPIRE_WORLD_CLOUD};
        aspire_world_scene_sample(&s, w, &st, species, i % ASPIRE_WORLD_NBACKGROUNDS, ctx, 1, &r);
        aspire_image img;
        CHECK(aspire_image_init(&img, S, S, 3) == ASPIRE_OK);
        CHECK(aspire_world_render(w, &s, S, img.data, NULL) == ASPIRE_OK);
        aspire_segment g;
        CHECK(aspire_segmenter_segment(seg, &img, 1, aspire_world_emoji_name(species), -1, &g) == ASPIRE_OK);
        found += g.present && binary(&g);
        aspire_segment_destroy(&g);
        CHECK(aspire_segmenter_segment(seg, &img, 1, "a bird", -1, &g) == ASPIRE_OK);
        bird += g.present;
        aspire_segment_destroy(&g);
        CHECK(aspire_segmenter_segment(seg, &img, 1, "sailboat", -1, &g) == ASPIRE_OK);
        absent_ok += !g.present && g.area == 0;
        aspire_segment_destroy(&g);
        aspire_image_destroy(&img);
    }
    CHECK_MSG(found >= N - 2 && bird >= N - 1 && absent_ok >= N - 1, "species %d, bird %d, absent %d of %d", found,
              bird, absent_ok, N);
    aspire_segmenter_free(seg);
    aspire_world_free(w);
}

int main(void) {
    aspire_set_threads(1);
    RUN(test_resolve);
    RUN(test_tiny);
    RUN(test_resume);
    RUN(test_file_errors);
    RUN(test_shipped);
    return TEST_REPORT();
}
