/* test_detect.c — discovery without the models: ranking (clusters, ties, empty classes, a class
 * without flips), selection (quotas, the seed, skipped images keyed by row), the hold-out, edit file
 * names, features.json/svg, and `aspire detect` from records end to end: outputs, resume after an
 * interruption (same bytes), missing edits and malformed records named by file and line. */
#include "aspire/dataset.h"
#include "aspire/detect.h"
#include "aspire/extract.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/report.h"

#include "test.h"
#include "testdir.h"

#include <string.h>
#include <sys/stat.h>

#define FIXTURES ASPIRE_SOURCE_DIR "/tests/fixtures/detect"

/* ---- building records by hand ------------------------------------------------------------- */

static void set_list(aspire_strlist *l, const char *spec) {   /* "a|b c" → {"a", "b c"}; "" → {} */
    l->n = 0;
    l->s = aspire_calloc(16, sizeof *l->s);
    for (const char *p = spec; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)n, p);
        l->s[l->n++] = aspire_strdup(buf);
        p += n + (bar ? 1 : 0);
    }
    /* the record frees with the size it knows: keep the array exactly n long */
    char **exact = aspire_calloc((size_t)l->n + 1, sizeof *exact);
    memcpy(exact, l->s, (size_t)l->n * sizeof *exact);
    aspire_free(l->s, 16 * sizeof *l->s);
    l->s = exact;
}

/* Adds a record of class cls at row `row`: foreground fg, flagged wfg, background bg, flagged wbg. */
static void add(aspire_records *rs, int64_t row, int cls, const char *fg, const char *wfg, const char *bg,
                const char *wbg) {
    aspire_record r = {0};
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)(1000 + row));
    r.img_id = aspire_strdup(id);
    r.img_id_is_number = 1;
    r.img_filename = aspire_strdup("x.png");
    r.caption = aspire_strdup("c");
    r.cls = cls;
    r.label = aspire_strdup(cls ? "waterbird" : "landbird");
    set_list(&r.foreground, fg);
    set_list(&r.wp_foreground, wfg);
    set_list(&r.background, bg);
    set_list(&r.wp_background, wbg);
    set_list(&r.alternate_background, bg);
    set_list(&r.wp_alternate_background, wbg);
    r.has_flips = 1;
    r.row = row;
    r.has_row_field = 1;
    r.line = (int)rs->n + 1;
    CHECK(aspire_records_push(rs, &r) == ASPIRE_OK);
}

static const aspire_cluster *find_cluster(const aspire_class_ranking *cr, const char *name) {
    for (int i = 0; i < cr->n_clusters; i++)
        if (strcmp(cr->clusters[i].name, name) == 0) return &cr->clusters[i];
    return NULL;
}

/* ---- ranking ------------------------------------------------------------------------------ */

static void test_rank_reference_fixture(void) {
    aspire_records rs;
    aspire_ranking rk;
    CHECK(aspire_records_read(FIXTURES "/reference_flips.jsonl", ASPIRE_RECORD_DETECTION, &rs) == ASPIRE_OK);
    int rc = aspire_detect_rank(&rs, NULL, &rk);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(rk.n_classes == 2);
    if (rc || rk.n_classes != 2) { aspire_records_destroy(&rs); return; }
    /* landbird: "mushroom" and "mushrooms" are one cluster (lemma), 2 flips of 2 → score 2 */
    const aspire_class_ranking *land = &rk.classes[0];
    CHECK(land->n_images == 3 && land->n_flipped_images == 3 && land->n_flips == 4);
    CHECK(land->n_clusters == 4);
    const char *want0[] = {"mushroom", "field", "forest", "sunflower"};
    for (int i = 0; i < 4 && i < land->n_clusters; i++)
        CHECK_MSG(strcmp(land->clusters[i].name, want0[i]) == 0 && land->clusters[i].rank == i + 1,
                  "landbird #%d is '%s'", i + 1, land->clusters[i].name);
    CHECK(land->clusters[0].n_phrases == 2 && land->clusters[0].kind == ASPIRE_FEATURE_FOREGROUND);
    CHECK_CLOSE(land->clusters[0].score, 2.0, 1e-12);
    CHECK(land->clusters[1].kind == ASPIRE_FEATURE_BACKGROUND);
    CHECK_CLOSE(land->clusters[2].score, 0.5, 1e-12);
    CHECK(land->clusters[2].flips == 1 && land->clusters[2].occ == 2);
    /* waterbird: "lake"+"lakes" (1/1 + 0/1), "ocean" 1/1, "sail boats" 1/1: a three-way tie at
     * score 1 and 1 flip, broken by name; "sailboat" (one word, no flip) is its own cluster */
    const aspire_class_ranking *water = &rk.classes[1];
    const char *want1[] = {"lake", "ocean", "sail boats", "sailboat"};
    CHECK(water->n_clusters == 4);
    for (int i = 0; i < 4 && i < water->n_clusters; i++)
        CHECK_MSG(strcmp(water->clusters[i].name, want1[i]) == 0, "waterbird #%d is '%s'", i + 1,
                  water->clusters[i].name);
    const aspire_cluster *lake = find_cluster(water, "lake");
    CHECK(lake && lake->n_phrases == 2 && lake->occ == 2 && lake->flips == 1);
    CHECK(lake && strcmp(lake->phrases[1].phrase, "lakes") == 0);
    aspire_ranking_destroy(&rk);
    aspire_ranking_destroy(&rk);   /* zeroed: harmless */
    aspire_records_destroy(&rs);
}

static void test_lemma(void) {
    const char *cases[][2] = {{"Sail Boats", "sail boat"}, {"geese", "goose"}, {"mushrooms", "mushroom"},
                              {"glasses", "glasses"}, {"wooden fence", "wooden fence"}, {"", ""}};
    for (int i = 0; i < 6; i++) {
        char out[64];
        CHECK(aspire_wordnet_lemma(cases[i][0], out, sizeof out) == ASPIRE_OK);
        CHECK_MSG(strcmp(out, cases[i][1]) == 0, "'%s' → '%s'", cases[i][0], out);
    }
    char small[6];
    CHECK(aspire_wordnet_lemma("sail boats", small, sizeof small) == ASPIRE_OK && strcmp(small, "sail ") == 0);
}

static void test_rank_clusters_and_ties(void) {
    aspire_records rs = {0};
    /* "red sail boat" joins "sail boat" (cosine 2/sqrt(6) = 0.82); "fence post" and "wooden fence"
     * share one word of two (0.5) and stay apart; "Sail-Boat" normalises to "sail boat" */
    add(&rs, 0, 0, "sail boat|fence post", "sail boat", "", "");
    add(&rs, 1, 0, "red sail boat|wooden fence", "red sail boat|wooden fence", "", "");
    add(&rs, 2, 0, "Sail-Boat", "", "", "");
    add(&rs, 3, 0, "fence post", "fence post", "", "");
    /* ties: "tree" and "rock" both score 1 (1/1), "rock" with 1 flip, "tree" too → by name;
     * "cloud" 2/2 = 1 with 2 flips ranks before both */
    add(&rs, 4, 1, "tree|cloud", "tree|cloud", "", "");
    add(&rs, 5, 1, "rock|cloud", "rock|cloud", "", "");
    aspire_ranking rk;
    int rc = aspire_detect_rank(&rs, NULL, &rk);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    if (rc) { aspire_records_destroy(&rs); return; }
    const aspire_class_ranking *c0 = &rk.classes[0];
    const aspire_cluster *boat = find_cluster(c0, "sail boat");
    CHECK(boat && boat->n_phrases == 2 && boat->occ == 3 && boat->flips == 2);   /* sail boat (2 occ) + red sail boat */
    CHECK(boat && boat->rank == 1);
    CHECK_CLOSE(boat ? boat->score : 0, 0.5 + 1.0, 1e-12);
    const aspire_cluster *post = find_cluster(c0, "fence post"), *wood = find_cluster(c0, "wooden fence");
    CHECK(post && wood && post != wood && post->n_phrases == 1 && wood->n_phrases == 1);
    CHECK(post && post->flips == 1 && post->occ == 2 && post->rank == 3 && wood && wood->rank == 2);
    const aspire_class_ranking *c1 = &rk.classes[1];
    CHECK(c1->n_clusters == 3);
    if (c1->n_clusters == 3)
        CHECK(strcmp(c1->clusters[0].name, "cloud") == 0 && strcmp(c1->clusters[1].name, "rock") == 0 &&
              strcmp(c1->clusters[2].name, "tree") == 0);
    aspire_ranking_destroy(&rk);
    /* a stricter threshold splits the boats; the input order does not change the result */
    aspire_detect_rank_opts o;
    aspire_detect_rank_opts_init(&o);
    o.similarity = 0.9;
    CHECK(aspire_detect_rank(&rs, &o, &rk) == ASPIRE_OK);
    CHECK(rk.n_classes == 2 && find_cluster(&rk.classes[0], "red sail boat") != NULL);
    aspire_ranking_destroy(&rk);
    aspire_record t = rs.items[0]; rs.items[0] = rs.items[3]; rs.items[3] = t;
    CHECK(aspire_detect_rank(&rs, NULL, &rk) == ASPIRE_OK);
    CHECK(rk.n_classes == 2 && strcmp(rk.classes[0].clusters[0].name, "sail boat") == 0 &&
          strcmp(rk.classes[0].clusters[1].name, "wooden fence") == 0);
    aspire_ranking_destroy(&rk);
    aspire_records_destroy(&rs);
}

/* min_occ: a cluster seen on 2 images with 1 flip (0.5) outranks one with 3 flips of 8 (0.375)
 * in the reference's order, and ranks after it with min_occ 5; clusters without flips stay last. */
static void test_rank_min_occurrences(void) {
    aspire_records rs = {0};
    for (int i = 0; i < 8; i++) add(&rs, i, 0, "boat", i < 3 ? "boat" : "", "", "");
    add(&rs, 8, 0, "kite", "kite", "", "");
    add(&rs, 9, 0, "kite|shell", "", "", "");
    aspire_ranking rk;
    CHECK(aspire_detect_rank(&rs, NULL, &rk) == ASPIRE_OK);
    CHECK(rk.classes[0].n_clusters == 3 && strcmp(rk.classes[0].clusters[0].name, "kite") == 0);
    aspire_ranking_destroy(&rk);
    aspire_detect_rank_opts o;
    aspire_detect_rank_opts_init(&o);
    CHECK(o.min_occ == 1);
    o.min_occ = 5;
    CHECK(aspire_detect_rank(&rs, &o, &rk) == ASPIRE_OK);
    const aspire_class_ranking *c = &rk.classes[0];
    CHECK(c->n_clusters == 3);
    if (c->n_clusters == 3) {
        CHECK(strcmp(c->clusters[0].name, "boat") == 0 && c->clusters[0].rank == 1);
        CHECK(strcmp(c->clusters[1].name, "kite") == 0 && c->clusters[1].rank == 2);
        CHECK_CLOSE(c->clusters[1].score, 0.5, 1e-12);   /* the score itself is unchanged */
        CHECK(strcmp(c->clusters[2].name, "shell") == 0 && c->clusters[2].rank == 3);
    }
    aspire_ranking_destroy(&rk);
    o.min_occ = 0;
    CHECK(aspire_detect_rank(&rs, &o, &rk) == ASPIRE_ERR_ARG);
    aspire_records_destroy(&rs);
}

static void test_rank_empty_and_no_flips(void) {
    aspire_records rs = {0};
    add(&rs, 0, 0, "boat", "", "lake", "");        /* class 0: images, no flips */
    add(&rs, 1, 0, "", "", "lake", "");
    add(&rs, 2, 2, "tree", "tree", "field", "field"); /* class 2 flips; class 1 has no records */
    aspire_detect_rank_opts o;
    aspire_detect_rank_opts_init(&o);
    o.n_classes = 4;
    aspire_ranking rk;
    int rc = aspire_detect_rank(&rs, &o, &rk);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(rk.n_classes == 4);
    if (rc || rk.n_classes != 4) { aspire_records_destroy(&rs); return; }
    CHECK(rk.classes[0].n_images == 2 && rk.classes[0].n_flips == 0 && rk.classes[0].n_clusters == 2);
    CHECK(rk.classes[0].clusters[0].score == 0);
    CHECK(rk.classes[1].n_images == 0 && rk.classes[1].n_clusters == 0 && strcmp(rk.classes[1].label, "class 1") == 0);
    CHECK(rk.classes[3].n_images == 0);
    CHECK(rk.classes[2].n_flips == 2 && rk.classes[2].n_flipped_images == 1);
    cJSON *j = aspire_ranking_to_json(&rk);
    cJSON *classes = cJSON_GetObjectItem(j, "classes");
    CHECK(cJSON_GetArraySize(classes) == 4);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(classes, 0), "no_flips")));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(classes, 2), "no_flips")));
    cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(classes, 2), "features"), 0);
    CHECK(f0 && strcmp(cJSON_GetObjectItem(f0, "kind")->valuestring, "background") == 0);
    CHECK(f0 && cJSON_GetObjectItem(f0, "rank")->valueint == 1 && cJSON_GetObjectItem(f0, "occurrences")->valueint == 1);
    cJSON_Delete(j);
    /* selection: nothing for the classes without flips */
    aspire_detect_selection sel;
    CHECK(aspire_detect_select(&rs, &rk, NULL, &sel) == ASPIRE_OK);
    CHECK(sel.n == 2);
    for (int64_t i = 0; i < sel.n; i++) CHECK(sel.items[i].cls == 2 && sel.items[i].row == 2);
    aspire_detect_selection_destroy(&sel);
    aspire_ranking_destroy(&rk);
    aspire_records_destroy(&rs);
    /* no records at all: nothing to rank, no error */
    CHECK(aspire_detect_rank(&rs, NULL, &rk) == ASPIRE_OK && rk.n_classes == 0);
    aspire_ranking_destroy(&rk);
}

static void test_rank_bad_input(void) {
    aspire_records rs = {0};
    add(&rs, 0, 0, "boat", "cloud", "", "");   /* flagged but not named */
    aspire_ranking rk;
    CHECK(aspire_detect_rank(&rs, NULL, &rk) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "'cloud' is not among"));
    rs.items[0].has_flips = 0;
    CHECK(aspire_detect_rank(&rs, NULL, &rk) == ASPIRE_ERR_ARG && strstr(aspire_errmsg(), "has no flips"));
    aspire_records_destroy(&rs);
}

/* ---- selection ---------------------------------------------------------------------------- */

/* Class 0: clusters with 30, 20, 12 and 5 flagged edits (every phrase named only where flagged:
 * score 1 each, so flips decide the order); class 1: one cluster of 3. Rows skip numbers. */
static void make_selection_records(aspire_records *rs) {
    int64_t row = 3;
    const char *phr[4] = {"tree", "lake", "boat", "rock"};
    const int count[4] = {30, 20, 12, 5};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < count[k]; i++, row += 7) {
            if (k == 1) add(rs, row, 0, "", "", phr[k], phr[k]);
            else if (k == 0) add(rs, row, 0, "tree|Tree", "tree|Tree", "", "");   /* twice in one record: once */
            else add(rs, row, 0, phr[k], phr[k], "", "");
        }
    for (int i = 0; i < 3; i++, row += 7) add(rs, row, 1, "fish", "fish", "", "");
}

static void test_select_quotas_and_rows(void) {
    aspire_records rs = {0};
    make_selection_records(&rs);
    aspire_ranking rk;
    CHECK(aspire_detect_rank(&rs, NULL, &rk) == ASPIRE_OK);
    const char *order[4] = {"tree", "lake", "boat", "rock"};
    for (int k = 0; k < 4 && k < rk.classes[0].n_clusters; k++)
        CHECK_MSG(strcmp(rk.classes[0].clusters[k].name, order[k]) == 0, "#%d %s", k + 1, rk.classes[0].clusters[k].name);
    aspire_detect_selection sel, again, other;
    aspire_detect_select_opts so;
    aspire_detect_select_opts_init(&so);
    CHECK(aspire_detect_select(&rs, &rk, &so, &sel) == ASPIRE_OK);
    int per_rank[6] = {0}, per_class[2] = {0};
    for (int64_t i = 0; i < sel.n; i++) {
        const aspire_detect_selected *s = &sel.items[i];
        const aspire_record *r = &rs.items[s->record];
        per_class[s->cls]++;
        if (s->cls == 0 && s->cluster_rank < 6) per_rank[s->cluster_rank]++;
        /* keyed by record and row: the item's row is its record's, and the record flagged it */
        CHECK(r->row == s->row && r->cls == s->cls);
        const aspire_strlist *fl = s->kind == ASPIRE_FEATURE_BACKGROUND ? &r->wp_background : &r->wp_foreground;
        CHECK(aspire_strlist_find(fl, s->phrase) >= 0);
        CHECK(strcmp(rk.classes[s->cls].clusters[s->cluster_rank - 1].name, s->phrase) == 0);
        if (i) {   /* by class, cluster rank, row */
            const aspire_detect_selected *p = &sel.items[i - 1];
            CHECK(p->cls < s->cls || (p->cls == s->cls && (p->cluster_rank < s->cluster_rank ||
                                                            (p->cluster_rank == s->cluster_rank && p->row < s->row))));
        }
    }
    CHECK(per_class[0] == 35 && per_class[1] == 3);
    CHECK(per_rank[1] == 15 && per_rank[2] == 10 && per_rank[3] == 10 && per_rank[4] == 0);
    /* the same seed draws the same images; another seed others */
    CHECK(aspire_detect_select(&rs, &rk, &so, &again) == ASPIRE_OK && again.n == sel.n);
    int same = again.n == sel.n;
    for (int64_t i = 0; same && i < sel.n; i++) same = sel.items[i].row == again.items[i].row;
    CHECK(same);
    so.seed = 1;
    CHECK(aspire_detect_select(&rs, &rk, &so, &other) == ASPIRE_OK && other.n == sel.n);
    int differ = 0;
    for (int64_t i = 0; i < sel.n && i < other.n; i++) differ |= sel.items[i].row != other.items[i].row;
    CHECK(differ);
    /* smaller caps */
    aspire_detect_selection_destroy(&other);
    so = (aspire_detect_select_opts){.max_per_class = 12, .top_quota = 5, .next_quota = 4, .seed = 0};
    CHECK(aspire_detect_select(&rs, &rk, &so, &other) == ASPIRE_OK);
    int c0 = 0;
    for (int64_t i = 0; i < other.n; i++) c0 += other.items[i].cls == 0;
    CHECK(c0 == 12 && other.n == 12 + 3);
    aspire_detect_selection_destroy(&other);
    so.top_quota = 0;
    CHECK(aspire_detect_select(&rs, &rk, &so, &other) == ASPIRE_ERR_ARG);
    aspire_detect_selection_destroy(&sel);
    aspire_detect_selection_destroy(&again);
    aspire_ranking_destroy(&rk);
    aspire_records_destroy(&rs);
}

/* ---- hold-out, file names, the picture ----------------------------------------------------- */

static void test_holdout(void) {
    enum { N = 200 };
    int labels[N], preds[N], correct[3] = {0};
    for (int i = 0; i < N; i++) {
        labels[i] = i % 3;
        preds[i] = i % 7 == 0 ? (labels[i] + 1) % 3 : i % 11 == 0 ? 9 : labels[i];   /* 9: no class */
        correct[labels[i]] += preds[i] == labels[i];
    }
    int64_t *idx = NULL, *idx2 = NULL, n = 0, n2 = 0;
    CHECK(aspire_detect_holdout(labels, preds, N, 3, 0.2, 7, &idx, &n) == ASPIRE_OK);
    int got[3] = {0};
    for (int64_t i = 0; i < n; i++) {
        CHECK(labels[idx[i]] == preds[idx[i]]);
        if (i) CHECK(idx[i - 1] < idx[i]);
        got[labels[idx[i]]]++;
    }
    for (int c = 0; c < 3; c++) CHECK_MSG(got[c] == (correct[c] * 2 + 9) / 10, "class %d: %d of %d", c, got[c], correct[c]);
    CHECK(aspire_detect_holdout(labels, preds, N, 3, 0.2, 7, &idx2, &n2) == ASPIRE_OK && n2 == n);
    CHECK(n2 == n && memcmp(idx, idx2, (size_t)n * sizeof *idx) == 0);
    aspire_free(idx2, (size_t)n2 * sizeof *idx2);
    CHECK(aspire_detect_holdout(labels, preds, N, 3, 0.2, 8, &idx2, &n2) == ASPIRE_OK && n2 == n);
    CHECK(memcmp(idx, idx2, (size_t)n * sizeof *idx) != 0);
    aspire_free(idx2, (size_t)n2 * sizeof *idx2);
    aspire_free(idx, (size_t)n * sizeof *idx);
    CHECK(aspire_detect_holdout(labels, preds, N, 3, 1.0, 7, &idx, &n) == ASPIRE_OK);
    CHECK(n == correct[0] + correct[1] + correct[2]);
    aspire_free(idx, (size_t)n * sizeof *idx);
    CHECK(aspire_detect_holdout(labels, preds, N, 3, 0.0, 7, &idx, &n) == ASPIRE_ERR_ARG && !idx && !n);
    CHECK(aspire_detect_holdout(labels, preds, N, 2, 0.2, 7, &idx, &n) == ASPIRE_ERR_ARG);
    CHECK(aspire_detect_holdout(labels, preds, 0, 2, 0.2, 7, &idx, &n) == ASPIRE_OK && n == 0 && !idx);
}

static void test_edit_filename(void) {
    char buf[64];
    CHECK(aspire_edit_filename(buf, sizeof buf, 12, ASPIRE_FEATURE_FOREGROUND, "sail boat", "png") == 19);
    CHECK(strcmp(buf, "12_fg_sail-boat.png") == 0);
    aspire_edit_filename(buf, sizeof buf, 0, ASPIRE_FEATURE_BACKGROUND, "a/b\\c\td", "jpg");
    CHECK(strcmp(buf, "0_bg_a_b_c_d.jpg") == 0);
    char small[8];
    CHECK(aspire_edit_filename(small, sizeof small, 12, ASPIRE_FEATURE_FOREGROUND, "sail boat", "png") == 19);
    CHECK(strlen(small) == 7 && strncmp(small, "12_fg_s", 7) == 0);
}

static void test_svg(void) {
    aspire_records rs;
    aspire_ranking rk;
    CHECK(aspire_records_read(FIXTURES "/reference_flips.jsonl", ASPIRE_RECORD_DETECTION, &rs) == ASPIRE_OK);
    aspire_detect_rank_opts o;
    aspire_detect_rank_opts_init(&o);
    o.n_classes = 3;   /* class 2: no images */
    CHECK(aspire_detect_rank(&rs, &o, &rk) == ASPIRE_OK);
    char *svg = NULL;
    size_t n = 0;
    CHECK(aspire_ranking_svg(&rk, 10, &svg, &n) == ASPIRE_OK && svg && strlen(svg) == n);
    if (svg) {
        CHECK(strncmp(svg, "<?xml", 5) == 0 && strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
        CHECK(n > 7 && strcmp(svg + n - 7, "</svg>\n") == 0);
        CHECK(strstr(svg, ">mushroom (+1)</text>") && strstr(svg, ">background</text>"));
        CHECK(strstr(svg, "fill=\"#e07b28\"") && strstr(svg, "fill=\"#3b6fb6\""));
        CHECK(strstr(svg, "no hold-out images of this class"));
        CHECK(!strstr(svg, "sailboat<"));   /* no flips: not drawn */
        CHECK(!strstr(svg, "href") && !strstr(svg, "<image"));   /* self-contained */
        aspire_free(svg, n + 1);
    }
    aspire_ranking_destroy(&rk);
    aspire_records_destroy(&rs);
    aspire_svg *s;
    CHECK(aspire_svg_new(&s, 200) == ASPIRE_OK);
    CHECK(aspire_svg_text(s, 1, 2, 10, "start", 0, NULL, "<a & 'b'>") == ASPIRE_OK);
    CHECK(aspire_svg_render(s, &svg, &n) == ASPIRE_OK);
    CHECK(strstr(svg, ">&lt;a &amp; &apos;b&apos;&gt;</text>") != NULL);
    aspire_free(svg, n + 1);
    aspire_svg_free(s);
    aspire_svg_free(NULL);
}

/* ---- the stage end to end ------------------------------------------------------------------ */

/* Writes a small image for every flagged edit of the records into dir (row 5's as JPEG, as the
 * reference saves them). */
static void make_edits(const char *dir, const aspire_records *rs) {
    CHECK(aspire_mkdir_p(dir) == ASPIRE_OK);
    for (int64_t i = 0; i < rs->n; i++) {
        const aspire_record *r = &rs->items[i];
        const aspire_strlist *fl[2] = {&r->wp_foreground, &r->wp_background};
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < fl[k]->n; j++) {
                aspire_image img;
                CHECK(aspire_image_init(&img, 8, 8, 3) == ASPIRE_OK);
                memset(img.data, (int)(30 * r->row + 7 * k + j), 8 * 8 * 3);
                char name[256], path[1024];
                aspire_edit_filename(name, sizeof name, r->row, (aspire_feature_kind)k, fl[k]->s[j],
                                     r->row == 5 ? "jpg" : "png");
                snprintf(path, sizeof path, "%s/%s", dir, name);
                CHECK(r->row == 5 ? aspire_image_save_jpeg(&img, path, 90) == ASPIRE_OK
                                  : aspire_image_save_png(&img, path) == ASPIRE_OK);
                aspire_image_destroy(&img);
            }
    }
}

/* Every file of det and det/selected, in name order, as "name\nsize\ncontent" concatenated. */
typedef struct snap { char *buf; size_t n; } snap;

static void snap_add(snap *s, const char *dir, const char *prefix) {
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    CHECK(n >= 0);
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        struct stat st;
        if (list[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            char *data = NULL;
            size_t len = 0;
            CHECK(aspire_read_file(path, &data, &len) == ASPIRE_OK);
            char head[512];
            int h = snprintf(head, sizeof head, "%s%s\n%zu\n", prefix, list[i]->d_name, len);
            s->buf = realloc(s->buf, s->n + (size_t)h + len);
            memcpy(s->buf + s->n, head, (size_t)h);
            memcpy(s->buf + s->n + h, data, len);
            s->n += (size_t)h + len;
            aspire_free(data, len + 1);
        }
        free(list[i]);
    }
    free(list);
}

static snap snapshot(const char *det) {
    snap s = {0};
    char sel[1024];
    snprintf(sel, sizeof sel, "%s/selected", det);
    snap_add(&s, det, "");
    snap_add(&s, sel, "selected/");
    return s;
}

static int snap_equal(const snap *a, const snap *b) { return a->n == b->n && memcmp(a->buf, b->buf, a->n) == 0; }

static void run_opts(aspire_detect_opts *o, const char *edits, const char *out) {
    aspire_detect_opts_init(o);
    o->records = FIXTURES "/reference_flips.jsonl";
    o->edits = edits;
    o->out = out;
    o->quiet = 1;
}

/* A fresh folder (dir, 256 bytes) with edits/ holding the fixture's flagged edits; det names
 * dir/det (not made). edits and det: 512 bytes. */
static void stage_dirs(char *dir, char *edits, char *det) {
    testdir_make(dir, 256);
    snprintf(edits, 512, "%s/edits", dir);
    snprintf(det, 512, "%s/det", dir);
    aspire_records rs;
    CHECK(aspire_records_read(FIXTURES "/reference_flips.jsonl", ASPIRE_RECORD_DETECTION, &rs) == ASPIRE_OK);
    make_edits(edits, &rs);
    aspire_records_destroy(&rs);
}

static void test_stage_outputs_and_resume(void) {
    char dir[256], edits[512], det[512], path[1024];
    stage_dirs(dir, edits, det);
    aspire_detect_opts o;
    run_opts(&o, edits, det);
    int rc = aspire_detect_run(&o);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    const char *files[] = {"detections.jsonl", "features.json", "features.svg", ASPIRE_DETECT_DONE, "selected/metadata.csv"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", det, files[i]);
        CHECK_MSG(aspire_file_exists(path), "%s", path);
    }
    /* selected/: 4 landbird + 3 waterbird edits, one of them the JPEG, with their metadata */
    snprintf(path, sizeof path, "%s/selected/metadata.csv", det);
    char *meta = NULL;
    size_t n = 0;
    CHECK(aspire_read_file(path, &meta, &n) == ASPIRE_OK);
    CHECK(meta && strncmp(meta, "img_filename,y,img_id,kind,phrase,cluster_rank\n", 47) == 0);
    CHECK(meta && strstr(meta, "\n3_fg_mushroom.png,0,21,foreground,mushroom,1\n"));
    CHECK(meta && strstr(meta, "\n5_fg_mushrooms.jpg,0,23,foreground,mushrooms,1\n"));
    CHECK(meta && strstr(meta, "\n1_fg_sail-boats.png,1,12,foreground,sail boats,3\n"));
    int lines = 0;
    for (size_t i = 0; meta && i < n; i++) lines += meta[i] == '\n';
    CHECK(lines == 1 + 7);
    aspire_free(meta, n + 1);
    snprintf(path, sizeof path, "%s/selected", det);
    CHECK(testdir_count(path) == 1 + 7);
    /* ready for `aspire train --extra`: the extra-images layout loads */
    aspire_dataset *ds = NULL;
    aspire_dataset_options dopt = {.split = ASPIRE_SPLIT_ALL, .size = 8, .layout = ASPIRE_LAYOUT_EXTRA};
    rc = aspire_dataset_load(&ds, path, &dopt);
    CHECK_MSG(rc == ASPIRE_OK && aspire_dataset_count(ds) == 7, "%s", aspire_errmsg());
    if (ds) CHECK(aspire_dataset_label(ds, 0) == 0 && aspire_dataset_label(ds, 6) == 1);
    aspire_dataset_free(ds);
    snap first = snapshot(det);
    /* a finished run is left as it is */
    CHECK(aspire_detect_run(&o) == ASPIRE_OK);
    snap second = snapshot(det);
    CHECK(snap_equal(&first, &second));
    free(second.buf);
    /* interrupted: the marker, a part and a selected image gone, a half-built folder left behind */
    snprintf(path, sizeof path, "%s/" ASPIRE_DETECT_DONE, det);
    CHECK(remove(path) == 0);
    snprintf(path, sizeof path, "%s/features.svg", det);
    CHECK(remove(path) == 0);
    snprintf(path, sizeof path, "%s/selected/3_fg_mushroom.png", det);
    CHECK(remove(path) == 0);
    snprintf(path, sizeof path, "%s/.selected.tmp.2147483647", det);   /* no process has this PID */
    CHECK(aspire_mkdir_p(path) == ASPIRE_OK);
    snprintf(path, sizeof path, "%s/.selected.tmp.2147483647/junk.png", det);
    CHECK(testdir_write(path, "x", 1) == 0);
    snprintf(path, sizeof path, "%s/.features.json.tmp.2147483647.3", det);
    CHECK(testdir_write(path, "{", 1) == 0);
    snprintf(path, sizeof path, "%s/.keep.tmp.%ld.0", det, (long)getppid());   /* a live writer's: kept */
    CHECK(testdir_write(path, "x", 1) == 0);
    rc = aspire_detect_run(&o);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    second = snapshot(det);
    CHECK(snap_equal(&first, &second));
    CHECK(testdir_count(det) == 6);   /* four files, selected/ and the live writer's file */
    CHECK(remove(path) == 0);
    free(second.buf);
    /* other options: done again, the marker says which */
    o.seed = 5;
    CHECK(aspire_detect_run(&o) == ASPIRE_OK);
    second = snapshot(det);
    CHECK(!snap_equal(&first, &second));
    free(second.buf);
    free(first.buf);
    testdir_remove(dir);
}

static void test_stage_bad_input(void) {
    char dir[256], edits[512], det[512], path[1024];
    stage_dirs(dir, edits, det);
    /* a flagged edit without its image: named by the record's line and the file */
    snprintf(path, sizeof path, "%s/2_bg_ocean.png", edits);
    CHECK(remove(path) == 0);
    aspire_detect_opts o;
    run_opts(&o, edits, det);
    int rc = aspire_detect_run(&o);
    CHECK_MSG(rc == ASPIRE_ERR_NOTFOUND && strstr(aspire_errmsg(), "reference_flips.jsonl:3: field 'wp_background'") &&
                  strstr(aspire_errmsg(), "2_bg_ocean.png"), "%s", aspire_errmsg());
    snprintf(path, sizeof path, "%s/" ASPIRE_DETECT_DONE, det);
    CHECK(!aspire_file_exists(path));
    /* a malformed records file */
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    const char *bad = "{\"img_id\":1,\"img_filename\":\"a\",\"caption\":\"c\",\"class\":0,\"label\":\"l\",\"foreground\":[],"
                      "\"wp_foreground\":[],\"background\":[],\"wp_background\":[],\"alternate_background\":[],"
                      "\"wp_alternate_background\":[],\"pred_alt_background\":[],\"pred_rmv_foreground\":[]}\n"
                      "{\"img_id\":2,\"class\":0}\n";
    CHECK(testdir_write(path, bad, strlen(bad)) == 0);
    o.records = path;
    rc = aspire_detect_run(&o);
    CHECK_MSG(rc == ASPIRE_ERR_FORMAT && strstr(aspire_errmsg(), "bad.jsonl:2: missing field 'img_filename'"), "%s",
              aspire_errmsg());
    /* options */
    o.edits = NULL;
    CHECK(aspire_detect_run(&o) == ASPIRE_ERR_ARG);
    aspire_detect_opts_init(&o);
    o.out = det;
    o.data = dir;
    o.run = dir;
    /* full mode with a folder that is no run: refused naming it (tests/test_detect_full.c runs it) */
    CHECK(aspire_detect_run(&o) != ASPIRE_OK && strstr(aspire_errmsg(), dir));
    testdir_remove(dir);
}

/* `aspire detect` on the command line. */
static void test_cli(void) {
    char dir[256], edits[512], det[512], cmd[2048];
    stage_dirs(dir, edits, det);
    snprintf(cmd, sizeof cmd, "'%s' detect --records '%s' --edits '%s/edits' --out '%s/det' 2>'%s/err.txt'", ASPIRE_BIN,
             FIXTURES "/reference_flips.jsonl", dir, dir, dir);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s/err.txt", dir);
    char *err = NULL;
    size_t n = 0;
    CHECK(aspire_read_file(cmd, &err, &n) == ASPIRE_OK);
    CHECK(err && strstr(err, "class 0 (landbird): 3 images, 4 flagged edits; #1 foreground 'mushroom'"));
    aspire_free(err, n + 1);
    CHECK(system("'" ASPIRE_BIN "' detect --help 2>/dev/null") == 0);
    CHECK(WEXITSTATUS(system("'" ASPIRE_BIN "' detect --records x 2>/dev/null")) == 2);   /* no --out */
    snprintf(cmd, sizeof cmd, "'%s' detect --data '%s' --run '%s' --out '%s/full' 2>/dev/null", ASPIRE_BIN, dir, dir, dir);
    CHECK(WEXITSTATUS(system(cmd)) == 1);
    testdir_remove(dir);
}

/* ---- edits and flips with stand-in models --------------------------------------------------- */

/* A 16x16 world: water (blue) or land (green) backgrounds, boats (red squares), trees (brown).
 * The stand-in classifier says "waterbird" (1) when blue pixels plus 8 per red pixel outnumber
 * the green ones: it leans on the background and on boats. */
enum { SW = 16 };
typedef struct fake { int calls, fail_after, dilations; } fake;

static int px_kind(const uint8_t *p) {   /* 1 blue, 2 green, 3 red, 0 other */
    if (p[0] > 150 && p[1] < 50 && p[2] < 50) return 3;
    if (p[2] > p[0] && p[2] > p[1]) return 1;
    if (p[1] > p[0] && p[1] > p[2]) return 2;
    return 0;
}

static int fake_classify(void *ctx, const aspire_image *img, int *pred) {
    fake *f = ctx;
    if (f->fail_after >= 0 && f->calls >= f->fail_after) return aspire_error(ASPIRE_ERR_IO, "stand-in classifier stopped");
    f->calls++;
    int n[4] = {0};
    for (int i = 0; i < img->w * img->h; i++) n[px_kind(img->data + 3 * i)]++;
    *pred = n[1] + 8 * n[3] > n[2];
    return ASPIRE_OK;
}

static int fake_segment(void *ctx, const aspire_image *img, const char *phrase, uint8_t *mask) {
    (void)ctx;
    for (int i = 0; i < img->w * img->h; i++) {
        const uint8_t *p = img->data + 3 * i;
        int is_boat = px_kind(p) == 3, is_tree = p[0] == 120 && p[1] == 60;
        mask[i] = ((strcmp(phrase, "boat") == 0 && is_boat) || (strcmp(phrase, "tree") == 0 && is_tree)) ? 255 : 0;
    }
    return ASPIRE_OK;
}

static int fake_dilate(void *ctx, uint8_t *mask, int w, int h) {
    (void)mask; (void)w; (void)h;
    ((fake *)ctx)->dilations++;
    return ASPIRE_OK;
}

static int fake_inpaint(void *ctx, const aspire_image *img, const uint8_t *mask, aspire_image *out) {
    (void)ctx;
    int rc = aspire_image_init(out, img->w, img->h, 3);
    if (rc) return rc;
    double sum[3] = {0};
    int n = 0;
    for (int i = 0; i < img->w * img->h; i++)
        if (!mask[i]) { for (int c = 0; c < 3; c++) sum[c] += img->data[3 * i + c]; n++; }
    for (int i = 0; i < img->w * img->h; i++)
        for (int c = 0; c < 3; c++)
            out->data[3 * i + c] = mask[i] ? (uint8_t)(sum[c] / (n ? n : 1) + 0.5) : img->data[3 * i + c];
    return ASPIRE_OK;
}

static int fake_replace(void *ctx, const aspire_image *img, const char *bg, const char *alt, aspire_image *out) {
    (void)ctx; (void)bg;
    int rc = aspire_image_init(out, img->w, img->h, 3);
    if (rc) return rc;
    int water = strcmp(alt, "lake") == 0 || strcmp(alt, "ocean") == 0;
    memcpy(out->data, img->data, (size_t)img->w * img->h * 3);
    for (int i = 0; i < img->w * img->h; i++) {
        uint8_t *p = out->data + 3 * i;
        int k = px_kind(p);
        if (k == 1 || k == 2) { p[0] = 0; p[1] = water ? 0 : 160; p[2] = water ? 200 : 0; }
    }
    return ASPIRE_OK;
}

static aspire_detect_models fake_models(fake *f) {
    return (aspire_detect_models){f, fake_classify, fake_segment, fake_dilate, fake_inpaint, fake_replace, NULL, NULL, 0};
}

/* The sample-th other replacement: samples whose bit in g_flip_samples is clear leave the image
 * as it is (a scene that does not flip it), the others replace as fake_replace does. */
static unsigned g_flip_samples;

static int fake_replace_sample(void *ctx, const aspire_image *img, const char *bg, const char *alt, int sample,
                               aspire_image *out) {
    if (g_flip_samples >> sample & 1u) return fake_replace(ctx, img, bg, alt, out);
    int rc = aspire_image_init(out, img->w, img->h, 3);
    if (!rc) memcpy(out->data, img->data, (size_t)img->w * img->h * 3);
    return rc;
}

static void free_list(aspire_strlist *l) {
    for (int i = 0; i < l->n; i++) aspire_strfree(l->s[i]);
    aspire_free(l->s, (size_t)l->n * sizeof *l->s);
    *l = (aspire_strlist){0};
}

/* water: 1 or 0; boats, trees: how many 4x4 squares. */
static void write_scene(const char *path, int water, int boats, int trees) {
    aspire_image img;
    CHECK(aspire_image_init(&img, SW, SW, 3) == ASPIRE_OK);
    for (int i = 0; i < SW * SW; i++) { img.data[3 * i + 1] = water ? 0 : 160; img.data[3 * i + 2] = water ? 200 : 0; }
    for (int k = 0; k < boats + trees; k++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                uint8_t *p = img.data + 3 * ((1 + 5 * (k / 3) + y) * SW + 1 + 5 * (k % 3) + x);
                p[0] = k < boats ? 200 : 120; p[1] = k < boats ? 0 : 60; p[2] = 0;
            }
    CHECK(aspire_image_save_png(&img, path) == ASPIRE_OK);
    aspire_image_destroy(&img);
}

/* Four hold-out images (rows 0-3) in dir/img, and their extraction records. */
static void make_scenes(const char *dir, aspire_records *rs) {
    char p[1024];
    snprintf(p, sizeof p, "%s/img", dir);
    CHECK(aspire_mkdir_p(p) == ASPIRE_OK);
    const struct { int cls, water, boats, trees; const char *fg, *bg, *alt; } s[] = {
        {1, 1, 1, 0, "boat", "lake", "forest"},      /* the background flips it */
        {0, 0, 0, 1, "tree", "forest", "lake"},      /* the background flips it, the tree does not */
        {1, 0, 2, 0, "boat", "field", "lake"},       /* a waterbird on land held up by boats: removing them flips */
        {0, 0, 0, 0, "bicycle", "", ""},             /* nothing found, no background */
    };
    *rs = (aspire_records){0};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/img/%d.png", dir, i);
        write_scene(p, s[i].water, s[i].boats, s[i].trees);
        add(rs, i, s[i].cls, s[i].fg, "", s[i].bg, "");
        aspire_record *r = &rs->items[rs->n - 1];
        free_list(&r->alternate_background);
        set_list(&r->alternate_background, s[i].alt);
        aspire_strfree(r->img_filename);
        snprintf(p, sizeof p, "img/%d.png", i);
        r->img_filename = aspire_strdup(p);
        r->has_flips = 0;
    }
}

/* votes > 1: a pair's prediction is the majority of its replacements, ties to the original. */
static void test_votes(void) {
    char dir[256], path[1024];
    testdir_make(dir, sizeof dir);
    aspire_records rs;
    make_scenes(dir, &rs);
    aspire_image img;
    snprintf(path, sizeof path, "%s/img/0.png", dir);
    CHECK(aspire_image_load(&img, path, 3) == ASPIRE_OK);
    /* sample 0 always flips (fake_replace); the bits say which further samples flip */
    static const struct { int votes; unsigned bits; int flipped, calls; } c[] = {
        {1, 0x0, 1, 3},   /* one replacement: the reference's rule */
        {3, 0x5, 1, 5},   /* flip, no, flip: flipped */
        {3, 0x1, 0, 5},   /* flip, no, no: not flipped */
        {2, 0x1, 0, 4},   /* flip, no: a tie goes to the original */
        {5, 0x1d, 1, 7},  /* flip, no, flip, flip, flip */
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        fake f = {0, -1, 0};
        aspire_detect_models m = fake_models(&f);
        m.replace_background_sample = fake_replace_sample;
        m.votes = c[k].votes;
        g_flip_samples = c[k].bits;
        aspire_record *r = &rs.items[0];
        CHECK_MSG(aspire_detect_flip_one(&m, &img, r, dir) == ASPIRE_OK, "%s", aspire_errmsg());
        CHECK_MSG((r->wp_background.n == 1) == c[k].flipped, "case %zu: %d flagged", k, r->wp_background.n);
        CHECK(r->n_pred_alt == 1 && r->pred_alt_background[0] == (c[k].flipped ? 0 : 1));
        CHECK_MSG(f.calls == c[k].calls, "case %zu: %d classifications", k, f.calls);   /* original, votes, boat */
        /* a flagged pair's saved edit is one that flipped */
        if (c[k].flipped) {
            aspire_image e;
            snprintf(path, sizeof path, "%s/0_bg_lake.png", dir);
            CHECK(aspire_image_load(&e, path, 3) == ASPIRE_OK);
            int p = -1;
            fake g = {0, -1, 0};
            CHECK(fake_classify(&g, &e, &p) == ASPIRE_OK && p == 0);
            aspire_image_destroy(&e);
            remove(path);
        }
    }
    aspire_image_destroy(&img);
    aspire_records_destroy(&rs);
    testdir_remove(dir);
}

static void test_flip_one(void) {
    char dir[256], path[1024];
    testdir_make(dir, sizeof dir);
    aspire_records rs;
    make_scenes(dir, &rs);
    fake f = {0, -1, 0};
    aspire_detect_models m = fake_models(&f);
    aspire_image img;
    snprintf(path, sizeof path, "%s/img/0.png", dir);
    CHECK(aspire_image_load(&img, path, 3) == ASPIRE_OK);
    aspire_record *r = &rs.items[0];
    int rc = aspire_detect_flip_one(&m, &img, r, dir);
    CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
    CHECK(r->has_flips && r->wp_background.n == 1 && strcmp(r->wp_background.s[0], "lake") == 0);
    CHECK(r->wp_alternate_background.n == 1 && strcmp(r->wp_alternate_background.s[0], "forest") == 0);
    CHECK(r->n_pred_alt == 1 && r->pred_alt_background[0] == 0);
    CHECK(r->wp_foreground.n == 0 && r->n_pred_rmv == 0);   /* the boat alone does not hold it up */
    CHECK(f.calls == 3 && f.dilations == 1);                 /* original, background, boat */
    aspire_image_destroy(&img);
    aspire_image edit;
    snprintf(path, sizeof path, "%s/0_bg_lake.png", dir);
    CHECK(aspire_image_load(&edit, path, 3) == ASPIRE_OK && px_kind(edit.data + 3 * (SW * SW - 1)) == 2);
    aspire_image_destroy(&edit);
    /* an image the classifier gets wrong is no hold-out image */
    snprintf(path, sizeof path, "%s/img/0.png", dir);
    CHECK(aspire_image_load(&img, path, 3) == ASPIRE_OK);
    rs.items[1].row = 7;
    CHECK(aspire_detect_flip_one(&m, &img, &rs.items[1], dir) == ASPIRE_ERR_ARG &&
          strstr(aspire_errmsg(), "(row 7) is predicted 1, not its class 0"));
    aspire_image_destroy(&img);
    aspire_records_destroy(&rs);
    testdir_remove(dir);
}

/* The flips of the four scenes, then the stage's outputs: the same whether the loop ran at once or
 * was stopped after a few classifications and run again. */
static void test_flips_resume(void) {
    char dir[256], work[512], path[1024];
    testdir_make(dir, sizeof dir);
    snap results[2];
    int calls[2];
    for (int pass = 0; pass < 2; pass++) {
        snprintf(work, sizeof work, "%s/work%d", dir, pass);
        aspire_records rs;
        make_scenes(dir, &rs);
        fake f = {0, pass ? 4 : -1, 0};
        aspire_detect_models m = fake_models(&f);
        int rc = aspire_detect_flips(&m, &rs, dir, work, 1);
        if (pass) {   /* stopped in the second image: start again, with the first image's record kept */
            CHECK(rc == ASPIRE_ERR_IO);
            snprintf(path, sizeof path, "%s/flips/0.json", work);
            CHECK(aspire_file_exists(path));
            snprintf(path, sizeof path, "%s/flips/.1.json.tmp.2147483647.0", work);   /* a killed writer's */
            CHECK(testdir_write(path, "{", 1) == 0);
            aspire_records_destroy(&rs);
            make_scenes(dir, &rs);
            f = (fake){0, -1, 0};
            rc = aspire_detect_flips(&m, &rs, dir, work, 1);
            CHECK(!aspire_file_exists(path));
        }
        CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
        calls[pass] = f.calls;
        CHECK(rs.items[0].wp_background.n == 1 && rs.items[1].wp_background.n == 1 && rs.items[1].wp_foreground.n == 0);
        CHECK(rs.items[2].wp_foreground.n == 1 && rs.items[2].wp_background.n == 0 &&
              rs.items[2].pred_rmv_foreground[0] == 0);
        CHECK(rs.items[3].has_flips && rs.items[3].n_pred_alt == 0 && rs.items[3].wp_foreground.n == 0);
        aspire_detect_opts o;
        aspire_detect_opts_init(&o);
        snprintf(path, sizeof path, "%s/edits", work);
        o.edits = path;
        char det[600];
        snprintf(det, sizeof det, "%s/det", work);
        o.out = det;
        o.quiet = 1;
        rc = aspire_detect_finish(&o, &rs);
        CHECK_MSG(rc == ASPIRE_OK, "%s", aspire_errmsg());
        snprintf(path, sizeof path, "%s/" ASPIRE_DETECT_DONE, det);
        CHECK(remove(path) == 0);   /* it names the edits folder, which differs between the passes */
        results[pass] = snapshot(det);
        aspire_records_destroy(&rs);
    }
    CHECK(snap_equal(&results[0], &results[1]));
    CHECK(calls[1] < calls[0]);   /* the finished image was not edited again */
    CHECK(results[0].buf && memmem(results[0].buf, results[0].n, "\n2_fg_boat.png,1,", 17));
    free(results[0].buf);
    free(results[1].buf);
    testdir_remove(dir);
}

/* ---- allocation failures ------------------------------------------------------------------ */

/* Every allocation of reading, ranking, selecting and drawing may fail: each failure is reported
 * as ASPIRE_ERR_NOMEM and leaks nothing (the sanitizer build checks the leaks). */
static void test_out_of_memory(void) {
    char *text = NULL;
    size_t n = 0;
    CHECK(aspire_read_file(FIXTURES "/reference_flips.jsonl", &text, &n) == ASPIRE_OK);
    /* warm WordNet's own caches first: they are not the library's allocations */
    char lemma[64];
    CHECK(aspire_wordnet_lemma("mushrooms", lemma, sizeof lemma) == ASPIRE_OK);
    int failures = 0, successes = 0;
    for (long budget = 0; budget < 5000 && !successes; budget++) {
        alloc_budget = budget;
        aspire_set_allocator(failing_alloc, NULL);
        aspire_records rs = {0};
        aspire_ranking rk = {0};
        aspire_detect_selection sel = {0};
        char *svg = NULL;
        size_t ns = 0;
        int rc = aspire_records_parse(text, n, "f.jsonl", ASPIRE_RECORD_DETECTION, &rs);
        if (!rc) rc = aspire_detect_rank(&rs, NULL, &rk);
        if (!rc) rc = aspire_detect_select(&rs, &rk, NULL, &sel);
        if (!rc) rc = aspire_ranking_svg(&rk, 10, &svg, &ns);
        aspire_set_allocator(NULL, NULL);
        if (rc == ASPIRE_OK) {
            successes++;
            CHECK(sel.n == 7 && rk.n_classes == 2 && svg && ns > 0);
        } else {
            failures++;
            CHECK_MSG(rc == ASPIRE_ERR_NOMEM, "budget %ld: rc %d (%s)", budget, rc, aspire_errmsg());
        }
        aspire_free(svg, ns + 1);
        aspire_detect_selection_destroy(&sel);
        aspire_ranking_destroy(&rk);
        aspire_records_destroy(&rs);
    }
    CHECK(failures > 50 && successes == 1);
    aspire_free(text, n + 1);
}

/* Allocation failures while editing one image: reported, nothing leaked, and a later run is whole. */
static void test_flip_out_of_memory(void) {
    char dir[256], path[1024];
    testdir_make(dir, sizeof dir);
    aspire_records rs;
    make_scenes(dir, &rs);
    aspire_image img;
    snprintf(path, sizeof path, "%s/img/2.png", dir);
    CHECK(aspire_image_load(&img, path, 3) == ASPIRE_OK);
    fake f = {0, -1, 0};
    aspire_detect_models m = fake_models(&f);
    int failures = 0, successes = 0;
    for (long budget = 0; budget < 2000 && !successes; budget++) {
        alloc_budget = budget;
        aspire_set_allocator(failing_alloc, NULL);
        int rc = aspire_detect_flip_one(&m, &img, &rs.items[2], dir);
        aspire_set_allocator(NULL, NULL);
        if (rc == ASPIRE_OK) successes++;
        else failures++;
        CHECK_MSG(rc == ASPIRE_OK || rc == ASPIRE_ERR_NOMEM, "budget %ld: rc %d (%s)", budget, rc, aspire_errmsg());
    }
    CHECK(successes == 1 && failures > 5);
    CHECK(rs.items[2].wp_foreground.n == 1 && rs.items[2].n_pred_alt == 1 && rs.items[2].n_pred_rmv == 1);
    aspire_image_destroy(&img);
    aspire_records_destroy(&rs);
    testdir_remove(dir);
}

int main(void) {
    RUN(test_lemma);
    RUN(test_rank_reference_fixture);
    RUN(test_rank_clusters_and_ties);
    RUN(test_rank_min_occurrences);
    RUN(test_rank_empty_and_no_flips);
    RUN(test_rank_bad_input);
    RUN(test_select_quotas_and_rows);
    RUN(test_holdout);
    RUN(test_edit_filename);
    RUN(test_svg);
    RUN(test_stage_outputs_and_resume);
    RUN(test_stage_bad_input);
    RUN(test_cli);
    RUN(test_flip_one);
    RUN(test_votes);
    RUN(test_flips_resume);
    RUN(test_out_of_memory);
    RUN(test_flip_out_of_memory);
    return TEST_REPORT();
}
