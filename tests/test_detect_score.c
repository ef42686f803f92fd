/* test_detect_score.c — the discovery bench's scoring (detect_score.h) on hand-made values:
 * Spearman with ties and undefined cases, the map from detect's phrases to the world's features,
 * each side's #1 feature, the per-class rank correlation, per-image flags and precision/recall. */
#include "aspire/detect_score.h"

#include "test.h"

#include <math.h>
#include <string.h>

#define NF ASPIRE_DSCORE_NFEATURES

static int obj(int emoji) { return aspire_dscore_object_feature(emoji); }

static void test_spearman(void) {
    double a[] = {1, 2, 3, 4, 5}, b[] = {10, 20, 30, 40, 50}, c[] = {5, 4, 3, 2, 1};
    CHECK_CLOSE(aspire_spearman(a, b, 5), 1.0, 1e-12);
    CHECK_CLOSE(aspire_spearman(a, c, 5), -1.0, 1e-12);
    /* monotone but not linear: still 1 */
    double sq[] = {1, 4, 9, 16, 25};
    CHECK_CLOSE(aspire_spearman(a, sq, 5), 1.0, 1e-12);
    /* ties share their average rank: x ranks 1.5 1.5 3 4, y ranks 1 2 3 4 -> r = 0.9486833 */
    double x[] = {0, 0, 1, 2}, y[] = {1, 2, 3, 4};
    CHECK_CLOSE(aspire_spearman(x, y, 4), 3.0 / sqrt(10.0), 1e-12);
    /* no ties: 1 - 6 sum d^2 / (n (n^2 - 1)); d = (0, -1, 1, 0, -1, 1), sum d^2 = 4 -> 1 - 24/210 */
    double p[] = {1, 2, 3, 4, 5, 6}, q[] = {1, 3, 2, 4, 6, 5};
    CHECK_CLOSE(aspire_spearman(p, q, 6), 1.0 - 24.0 / 210.0, 1e-12);
    /* undefined: one value, or a constant side */
    double k[] = {3, 3, 3};
    CHECK(isnan(aspire_spearman(a, b, 1)));
    CHECK(isnan(aspire_spearman(k, a, 3)));
    CHECK(isnan(aspire_spearman(a, k, 3)));
}

static void test_map_phrase(void) {
    aspire_feature_kind B = ASPIRE_FEATURE_BACKGROUND, F = ASPIRE_FEATURE_FOREGROUND;
    CHECK(aspire_dscore_map_phrase(B, "lake", NULL) == ASPIRE_DSCORE_BG_WATER);
    CHECK(aspire_dscore_map_phrase(B, "Ocean ", NULL) == ASPIRE_DSCORE_BG_WATER);
    CHECK(aspire_dscore_map_phrase(B, "meadow", NULL) == ASPIRE_DSCORE_BG_LAND);
    CHECK(aspire_dscore_map_phrase(B, "forests", NULL) == ASPIRE_DSCORE_BG_LAND);      /* WordNet's lemma */
    CHECK(aspire_dscore_map_phrase(B, "sandy desert", NULL) == ASPIRE_DSCORE_BG_LAND); /* the head noun */
    CHECK(aspire_dscore_map_phrase(B, "kitchen", NULL) == ASPIRE_DSCORE_NONE);
    CHECK(aspire_dscore_map_phrase(B, "sailboat", NULL) == ASPIRE_DSCORE_NONE);        /* not a background */
    CHECK(aspire_dscore_map_phrase(F, "sailboat", NULL) == obj(ASPIRE_WORLD_SAILBOAT));
    CHECK(aspire_dscore_map_phrase(F, "sailing-boat", NULL) == obj(ASPIRE_WORLD_SAILBOAT));
    CHECK(aspire_dscore_map_phrase(F, "boats", NULL) == obj(ASPIRE_WORLD_SAILBOAT));
    CHECK(aspire_dscore_map_phrase(F, "seashell", NULL) == obj(ASPIRE_WORLD_SHELL));
    CHECK(aspire_dscore_map_phrase(F, "evergreen tree", NULL) == obj(ASPIRE_WORLD_PINE));
    CHECK(aspire_dscore_map_phrase(F, "flower", NULL) == obj(ASPIRE_WORLD_SUNFLOWER));
    CHECK(aspire_dscore_map_phrase(F, "red balloon", NULL) == obj(ASPIRE_WORLD_BALLOON));
    CHECK(aspire_dscore_map_phrase(F, "mallard", NULL) == ASPIRE_DSCORE_BIRD);
    CHECK(aspire_dscore_map_phrase(F, "bird", NULL) == ASPIRE_DSCORE_BIRD);
    CHECK(aspire_dscore_map_phrase(F, "owl", NULL) == ASPIRE_DSCORE_BIRD);
    CHECK(aspire_dscore_map_phrase(F, "lake", NULL) == ASPIRE_DSCORE_NONE);
    CHECK(aspire_dscore_map_phrase(F, "", NULL) == ASPIRE_DSCORE_NONE);
    /* "tree": the tree, or a pine when the scene has a pine and no tree */
    int present[NF] = {0};
    CHECK(aspire_dscore_map_phrase(F, "tree", NULL) == obj(ASPIRE_WORLD_TREE));
    present[obj(ASPIRE_WORLD_PINE)] = 1;
    CHECK(aspire_dscore_map_phrase(F, "tree", present) == obj(ASPIRE_WORLD_PINE));
    present[obj(ASPIRE_WORLD_TREE)] = 1;
    CHECK(aspire_dscore_map_phrase(F, "tree", present) == obj(ASPIRE_WORLD_TREE));
    /* names */
    CHECK(!strcmp(aspire_dscore_feature_name(ASPIRE_DSCORE_BG_WATER), "bg:water"));
    CHECK(!strcmp(aspire_dscore_feature_name(obj(ASPIRE_WORLD_CACTUS)), "cactus"));
    CHECK(!strcmp(aspire_dscore_feature_name(ASPIRE_DSCORE_NONE), "-"));
    CHECK(obj(ASPIRE_WORLD_DUCK) == ASPIRE_DSCORE_BIRD && obj(ASPIRE_WORLD_NEMOJI) == ASPIRE_DSCORE_NONE);
    CHECK(obj(ASPIRE_WORLD_NEMOJI - 1) == NF - 1);
}

/* A class ranking by hand: the clusters in rank order. */
static void test_detect_side(void) {
    aspire_phrase_stat water1[] = {{"ocean", 6, 20}, {"lake", 2, 10}};   /* 0.3 + 0.2: one cluster (as a test) */
    aspire_phrase_stat trees[] = {{"pine tree", 3, 10}, {"tree", 1, 20}}; /* "tree" and "pine tree" cluster together */
    aspire_phrase_stat pond[] = {{"pond", 1, 10}};
    aspire_phrase_stat rock[] = {{"rock", 5, 5}};                        /* names nothing of the world */
    aspire_cluster cl[] = {
        {ASPIRE_FEATURE_BACKGROUND, water1, 2, "ocean", 8, 30, 0.5, 1},
        {ASPIRE_FEATURE_FOREGROUND, trees, 2, "pine tree", 4, 30, 0.35, 2},
        {ASPIRE_FEATURE_BACKGROUND, pond, 1, "pond", 1, 10, 0.1, 3},
        {ASPIRE_FEATURE_FOREGROUND, rock, 1, "rock", 5, 5, 1.0, 4},
    };
    aspire_class_ranking cr = {1, "waterbird", 50, 10, 18, cl, 4};
    double score[NF];
    int top = -5;
    aspire_dscore_detect_side(&cr, score, &top);
    CHECK(top == ASPIRE_DSCORE_BG_WATER);
    CHECK_CLOSE(score[ASPIRE_DSCORE_BG_WATER], 0.5, 1e-12);             /* the best cluster, not the sum with pond */
    CHECK_CLOSE(score[obj(ASPIRE_WORLD_PINE)], 0.3, 1e-12);             /* a mixed cluster splits by phrase */
    CHECK_CLOSE(score[obj(ASPIRE_WORLD_TREE)], 0.05, 1e-12);
    CHECK_CLOSE(score[ASPIRE_DSCORE_BG_LAND], 0.0, 0);
    /* the #1 cluster names an object */
    aspire_cluster swapped[] = {cl[1], cl[0]};
    cr.clusters = swapped;
    cr.n_clusters = 2;
    aspire_dscore_detect_side(&cr, score, &top);
    CHECK(top == obj(ASPIRE_WORLD_PINE));
    /* a #1 without flips is no #1 */
    aspire_phrase_stat none[] = {{"lake", 0, 10}};
    aspire_cluster flat[] = {{ASPIRE_FEATURE_BACKGROUND, none, 1, "lake", 0, 10, 0.0, 1}};
    cr.clusters = flat;
    cr.n_clusters = 1;
    aspire_dscore_detect_side(&cr, score, &top);
    CHECK(top == ASPIRE_DSCORE_NONE);
    cr.n_clusters = 0;
    aspire_dscore_detect_side(&cr, score, &top);
    CHECK(top == ASPIRE_DSCORE_NONE);
}

static void test_oracle_top_and_rank_corr(void) {
    int flips[NF] = {0}, count[NF] = {0};
    double det[NF] = {0}, rate = -1;
    CHECK(aspire_dscore_oracle_top(flips, count, 5, &rate) == ASPIRE_DSCORE_NONE);
    count[ASPIRE_DSCORE_BG_WATER] = 100; flips[ASPIRE_DSCORE_BG_WATER] = 30;     /* 0.30 */
    count[ASPIRE_DSCORE_BG_LAND] = 4;    flips[ASPIRE_DSCORE_BG_LAND] = 4;       /* 1.0, but too few images */
    int boat = obj(ASPIRE_WORLD_SAILBOAT), tree = obj(ASPIRE_WORLD_TREE), sun = obj(ASPIRE_WORLD_SUN);
    count[boat] = 50; flips[boat] = 15;                                          /* 0.30, fewer flips */
    count[tree] = 40; flips[tree] = 2;                                           /* 0.05 */
    count[sun] = 10;                                                             /* 0 */
    CHECK(aspire_dscore_oracle_top(flips, count, 5, &rate) == ASPIRE_DSCORE_BG_WATER);
    CHECK_CLOSE(rate, 0.30, 1e-12);
    CHECK(aspire_dscore_oracle_top(flips, count, 1, &rate) == ASPIRE_DSCORE_BG_LAND);
    /* detect in the oracle's order over the four counted features: 1; the reverse: -1 */
    det[ASPIRE_DSCORE_BG_WATER] = 0.9; det[boat] = 0.8; det[tree] = 0.1; det[sun] = 0;
    det[ASPIRE_DSCORE_BG_LAND] = -7;  /* not counted: too few images */
    int n = 0;
    /* oracle ranks: water and boat tie at 0.30 (3.5 each), tree 2, sun 1; detect 4, 3, 2, 1 */
    double want = aspire_spearman((double[]){3.5, 3.5, 2, 1}, (double[]){4, 3, 2, 1}, 4);
    CHECK_CLOSE(aspire_dscore_rank_corr(flips, count, det, 5, &n), want, 1e-12);
    CHECK(n == 4);
    CHECK(want > 0.9 && want < 1);
    det[ASPIRE_DSCORE_BG_WATER] = 0; det[boat] = 0.1; det[tree] = 0.8; det[sun] = 0.9;
    CHECK(aspire_dscore_rank_corr(flips, count, det, 5, &n) < -0.9);
    /* detect found nothing: a constant side, undefined */
    memset(det, 0, sizeof det);
    CHECK(isnan(aspire_dscore_rank_corr(flips, count, det, 5, &n)));
}

static void test_image_flags_and_counts(void) {
    const char *line =
        "{\"img_id\":7,\"img_filename\":\"duck/000007.png\",\"caption\":\"a duck on a lake with a boat and a tree\","
        "\"class\":1,\"label\":\"waterbird\",\"foreground\":[\"boat\",\"tree\",\"rock\"],\"wp_foreground\":[\"tree\",\"rock\"],"
        "\"background\":[\"lake\"],\"wp_background\":[\"lake\"],\"alternate_background\":[\"forest\"],"
        "\"wp_alternate_background\":[\"forest\"],\"pred_alt_background\":[0],\"pred_rmv_foreground\":[0,0]}";
    cJSON *o = cJSON_Parse(line);
    aspire_record r;
    CHECK(aspire_record_from_json(o, ASPIRE_RECORD_DETECTION, "t.jsonl", 1, 0, &r) == ASPIRE_OK);
    int present[NF] = {0}, flag[NF];
    present[ASPIRE_DSCORE_BG_WATER] = present[obj(ASPIRE_WORLD_SAILBOAT)] = present[obj(ASPIRE_WORLD_PINE)] = 1;
    CHECK(aspire_dscore_image_flags(&r, ASPIRE_DSCORE_BG_WATER, present, flag) == 1);  /* "rock" */
    CHECK(flag[ASPIRE_DSCORE_BG_WATER] == 1);
    CHECK(flag[obj(ASPIRE_WORLD_PINE)] == 1);      /* the scene's "tree" is a pine */
    CHECK(flag[obj(ASPIRE_WORLD_SAILBOAT)] == 0);  /* not flagged */
    CHECK(flag[obj(ASPIRE_WORLD_TREE)] == 0);
    /* a background replacement that kept the class flags nothing */
    r.pred_alt_background[0] = 1;
    aspire_dscore_image_flags(&r, ASPIRE_DSCORE_BG_WATER, present, flag);
    CHECK(flag[ASPIRE_DSCORE_BG_WATER] == 0);
    aspire_record_destroy(&r);
    cJSON_Delete(o);

    aspire_dscore_counts c = {0};
    CHECK(isnan(aspire_dscore_precision(&c)) && isnan(aspire_dscore_recall(&c)));
    aspire_dscore_count(&c, 1, 1); aspire_dscore_count(&c, 1, 1); aspire_dscore_count(&c, 1, 1);
    aspire_dscore_count(&c, 1, 0);
    aspire_dscore_count(&c, 0, 1); aspire_dscore_count(&c, 0, 1);
    aspire_dscore_count(&c, 0, 0);
    CHECK(c.tp == 3 && c.fp == 1 && c.fn == 2 && c.tn == 1);
    CHECK_CLOSE(aspire_dscore_precision(&c), 0.75, 1e-12);
    CHECK_CLOSE(aspire_dscore_recall(&c), 0.6, 1e-12);
}

int main(void) {
    RUN(test_spearman);
    RUN(test_map_phrase);
    RUN(test_detect_side);
    RUN(test_oracle_top_and_rank_corr);
    RUN(test_image_flags_and_counts);
    return TEST_REPORT();
}
