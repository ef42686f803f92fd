/* detect.c — the discovery bench's scoring (make bench-detect; scripts/bench-detect.sh makes the
 * worlds, the ERM runs and the detections, then runs this). For each case (a world task dataset W
 * with its ground truth W_truth, an ERM run R trained on it, and `aspire detect`'s output D):
 *   - the oracle: the same hold-out images detect used (D/detections.jsonl), edited exactly as the
 *     world edits its counterfactuals — the scene graph (W_truth/scenes.jsonl) with every object of
 *     one category removed, and with the background set to the world's own alternative of the
 *     other kind (the scene's "background" counterfactual; the world must have been written with
 *     --counterfactuals -1 so that every image names one) — rendered by the world's renderer and
 *     classified by the run's classifier. A flip is a prediction other than the class. Every
 *     render that the world also wrote as a file (the original image, the counterfactuals) is
 *     compared with it byte for byte: "render_mismatched" must be 0;
 *   - per class, the oracle flip rate of every feature (background by kind, object category;
 *     include/aspire/detect_score.h) over the hold-out images that have it, against detect's
 *     ranking (aspire_detect_rank over the records, as D/features.json) mapped onto the same
 *     features: top-1 agreement where the oracle's #1 flips at least --top1-min of its images,
 *     Spearman's correlation over the features with at least --min-count images;
 *   - per (image, feature): detect's flag (a background replacement or a flagged removal changed
 *     the prediction) against the counterfactual's flip: precision and recall.
 * Object-only cases (--obj-case; W_truth/config.json's "spurious" names the tied object and class)
 * add whether the object is detect's #1 feature for its class. The wall time of each detection is
 * read from D.seconds (written by the script). A table per case, then one JSON line last.
 *
 *   build/bench/detect --case NAME,W,R,D [--case …] [--obj-case NAME,W,R,D …] [--threads N]
 *                      [--min-count 5] [--top1-min 0.1] */
#include "aspire/classifier.h"
#include "aspire/detect.h"
#include "aspire/detect_score.h"
#include "aspire/fileio.h"
#include "aspire/image.h"
#include "aspire/record.h"
#include "aspire/world.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NF ASPIRE_DSCORE_NFEATURES
#define MAX_CASES 32
#define MAX_CLASSES 2   /* the world's tasks have two classes */

typedef struct bench_case {
    char name[64], w[1024], truth[1024], r[1024], d[1024];
    int obj;                       /* object-only world */
    int tied_cls, tied_feature;    /* object-only: the tied object's class and feature (-1 none) */
} bench_case;

#define MAX_PAIRS 4   /* background pairs of a record rendered with detect's own alternative */

/* One hold-out image's oracle: its scene's features and which counterfactual flipped; and, for
 * its first MAX_PAIRS background pairs whose alternative is a world background of the other kind,
 * whether the scene rendered on that very background flips (same_valid[j] = 1 where rendered). */
typedef struct oracle_image {
    int present[NF], flipped[NF];
    int bg_feature;
    int same_valid[MAX_PAIRS], same_flipped[MAX_PAIRS];
} oracle_image;

/* Everything measured on one case. */
typedef struct case_result {
    int n_images, orig_mismatch, unmapped_flags;
    long render_checked, render_mismatched;
    int flips[MAX_CLASSES][NF], count[MAX_CLASSES][NF];
    double det[MAX_CLASSES][NF];
    int det_top[MAX_CLASSES], oracle_top[MAX_CLASSES];
    double oracle_top_rate[MAX_CLASSES], rho[MAX_CLASSES];
    int rho_n[MAX_CLASSES], images[MAX_CLASSES];
    char label[MAX_CLASSES][64];
    aspire_dscore_counts bg, fg;
    aspire_dscore_counts same;     /* background pairs against the scene on detect's own alternative */
    int same_skipped;              /* pairs whose alternative is no world background of the other kind */
    double detect_s, detect_load;  /* -1: no D.seconds */
} case_result;

static int min_count = 5;
static double top1_min = 0.10;

static void die(const char *what) {
    fprintf(stderr, "bench detect: %s: %s\n", what, aspire_errmsg());
    exit(1);
}

/* ---- the world's truth --------------------------------------------------------------------------- */

/* The scenes.jsonl lines by img_filename: a sorted array for bsearch. */
typedef struct scene_line { char *file; char *line; } scene_line;
typedef struct scene_index { char *text; size_t n_text; scene_line *lines; int n; } scene_index;

static int cmp_line(const void *a, const void *b) {
    return strcmp(((const scene_line *)a)->file, ((const scene_line *)b)->file);
}

static void scenes_load(scene_index *si, const char *truth) {
    char *path = aspire_path_join(truth, "scenes.jsonl");
    memset(si, 0, sizeof *si);
    if (!path || aspire_read_file(path, &si->text, &si->n_text)) die(path ? path : "scenes.jsonl");
    int cap = 1;
    for (size_t i = 0; i < si->n_text; i++) cap += si->text[i] == '\n';
    if (!(si->lines = calloc((size_t)cap, sizeof *si->lines))) { aspire_error(ASPIRE_ERR_NOMEM, "out of memory"); die(path); }
    for (char *p = si->text, *end; p && *p; p = end ? end + 1 : NULL) {
        end = strchr(p, '\n');
        if (end) *end = 0;
        cJSON *o = cJSON_Parse(p);
        const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(o, "img_filename"));
        if (!f) { aspire_error(ASPIRE_ERR_FORMAT, "line %d: no img_filename", si->n + 1); die(path); }
        si->lines[si->n++] = (scene_line){aspire_strdup(f), p};
        cJSON_Delete(o);
    }
    qsort(si->lines, (size_t)si->n, sizeof *si->lines, cmp_line);
    aspire_strfree(path);
}

static void scenes_free(scene_index *si) {
    for (int i = 0; i < si->n; i++) aspire_strfree(si->lines[i].file);
    free(si->lines);
    aspire_free(si->text, si->n_text + 1);
}

static const scene_line *scenes_find(const scene_index *si, const char *file) {
    scene_line key = {(char *)file, NULL};
    return bsearch(&key, si->lines, (size_t)si->n, sizeof *si->lines, cmp_line);
}

/* The world's own counterfactual files of a scene (W_truth-relative; "" where none). */
typedef struct scene_cfs {
    int alt;                                        /* the alternative background, -1 if none */
    int size;                                       /* the image side the world rendered */
    char bg_file[128];
    char rm_file[ASPIRE_WORLD_MAX_OBJECTS][128];    /* by object index */
} scene_cfs;

static void scene_read_cfs(const char *line, scene_cfs *cf) {
    memset(cf, 0, sizeof *cf);
    cf->alt = -1;
    cJSON *o = cJSON_Parse(line);
    cf->size = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "size"));
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(o, "counterfactuals")) {
        const char *edit = cJSON_GetStringValue(cJSON_GetObjectItem(c, "edit"));
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(c, "file"));
        if (!edit || !file) continue;
        if (!strcmp(edit, "background")) {
            cf->alt = aspire_world_background_find(cJSON_GetStringValue(cJSON_GetObjectItem(c, "background")));
            snprintf(cf->bg_file, sizeof cf->bg_file, "%s", file);
        } else if (!strcmp(edit, "remove")) {
            int k = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(c, "object"));
            if (k >= 0 && k < ASPIRE_WORLD_MAX_OBJECTS) snprintf(cf->rm_file[k], sizeof cf->rm_file[k], "%s", file);
        }
    }
    cJSON_Delete(o);
}

/* Object-only worlds: the first object of config.json's "spurious" ("sailboat=1", or a name whose
 * affinity gives the class) into c->tied_cls / c->tied_feature. */
static void read_tied_object(bench_case *c) {
    char *path = aspire_path_join(c->truth, "config.json"), *text = NULL;
    size_t n = 0;
    if (!path || aspire_read_file(path, &text, &n)) die(path ? path : "config.json");
    cJSON *cfg = cJSON_Parse(text);
    const char *spec = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "spurious"));
    char item[64] = "";
    if (spec) snprintf(item, sizeof item, "%.*s", (int)strcspn(spec, ","), spec);
    char *eq = strchr(item, '=');
    if (eq) *eq = 0;
    int e = aspire_world_emoji_find(item);
    c->tied_feature = e >= ASPIRE_WORLD_FIRST_OBJECT ? aspire_dscore_object_feature(e) : -1;
    c->tied_cls = eq ? atoi(eq + 1) : e >= 0 ? aspire_world_emoji_class(e) : -1;
    if (c->tied_feature < 0 || c->tied_cls < 0 || c->tied_cls >= MAX_CLASSES) {
        aspire_error(ASPIRE_ERR_FORMAT, "field 'spurious': no object tied to a class in '%s'", spec ? spec : "");
        die(path);
    }
    cJSON_Delete(cfg);
    aspire_free(text, n + 1);
    aspire_strfree(path);
}

/* ---- the oracle ------------------------------------------------------------------------------------ */

/* Every render of a case, classified together: the record and the feature each one edits
 * (-1: the unedited scene). */
typedef struct render_set {
    aspire_image *img;
    int *rec, *feature;
    int n, cap;
} render_set;

static aspire_image *render_push(render_set *rs, int rec, int feature, int size) {
    if (rs->n == rs->cap) {
        int cap = rs->cap ? 2 * rs->cap : 1024;
        rs->img = realloc(rs->img, (size_t)cap * sizeof *rs->img);
        rs->rec = realloc(rs->rec, (size_t)cap * sizeof *rs->rec);
        rs->feature = realloc(rs->feature, (size_t)cap * sizeof *rs->feature);
        if (!rs->img || !rs->rec || !rs->feature) { aspire_error(ASPIRE_ERR_NOMEM, "out of memory"); die("renders"); }
        rs->cap = cap;
    }
    aspire_image *img = &rs->img[rs->n];
    memset(img, 0, sizeof *img);
    if (aspire_image_init(img, size, size, 3)) die("renders");
    rs->rec[rs->n] = rec;
    rs->feature[rs->n++] = feature;
    return img;
}

static void render_set_free(render_set *rs) {
    for (int i = 0; i < rs->n; i++) aspire_image_destroy(&rs->img[i]);
    free(rs->img);
    free(rs->rec);
    free(rs->feature);
    memset(rs, 0, sizeof *rs);
}

/* Compares a render with the file the world wrote for it (dir/file; nothing when file is "" or
 * missing): the bench's renders must be the world's own bytes. */
static void check_render(const aspire_image *img, const char *dir, const char *file, case_result *res) {
    if (!file || !*file) return;
    char *path = aspire_path_join(dir, file);
    aspire_image ref = {0};
    if (path && aspire_file_exists(path) && aspire_image_load(&ref, path, 3) == ASPIRE_OK) {
        res->render_checked++;
        if (ref.w != img->w || ref.h != img->h || memcmp(ref.data, img->data, (size_t)img->w * img->h * 3)) {
            res->render_mismatched++;
            fprintf(stderr, "bench detect: %s: the bench's render differs from the world's file\n", path);
        }
    }
    aspire_error_clear();
    aspire_image_destroy(&ref);
    aspire_strfree(path);
}

/* The scene without every object of feature f (the bird stays). *single receives the object's
 * index when exactly one was removed, else -1. */
static void scene_without(aspire_world_scene *e, const aspire_world_scene *s, int f, int *single) {
    *e = *s;
    int removed = 0;
    *single = -1;
    for (int k = s->nobjects - 1; k >= 0; k--)
        if (k != s->bird && aspire_dscore_object_feature(s->objects[k].emoji) == f) {
            aspire_world_scene_remove(e, e, k);
            *single = removed++ ? -1 : k;
        }
}

/* The scene on the very background detect replaced it with (its record's alternate_background[j],
 * when that names a world background of the other kind): renders tagged NF + j. */
static void same_alternative_renders(const aspire_world *w, const aspire_world_scene *s, const aspire_record *r, int rec,
                                     int size, oracle_image *oi, render_set *rs, case_result *res) {
    int place = aspire_world_background_place(s->background);
    for (int j = 0; j < r->alternate_background.n && j < r->n_pred_alt && j < MAX_PAIRS; j++) {
        char key[ASPIRE_RECORD_MAX_PHRASE + 1];
        aspire_detect_phrase_key(r->alternate_background.s[j], key, sizeof key);
        int bg = aspire_world_background_find(key);
        if (bg < 0 || aspire_world_background_place(bg) == place) { res->same_skipped++; continue; }
        aspire_world_scene e;
        aspire_world_scene_set_background(&e, s, bg);
        aspire_image *img = render_push(rs, rec, NF + j, size);
        if (aspire_world_render(w, &e, size, img->data, NULL)) die("render");
        oi->same_valid[j] = 1;
    }
}

/* One hold-out image: its scene's features into *oi and its renders (the scene, the background of
 * the other kind, each object category removed) appended to rs, each checked against the world's file. */
static void image_renders(const aspire_world *w, const bench_case *c, const scene_line *sl, const aspire_record *r,
                          int rec, oracle_image *oi, render_set *rs, case_result *res) {
    aspire_world_scene s;
    if (aspire_world_scene_from_json(&s, sl->line)) die(sl->file);
    scene_cfs cf;
    scene_read_cfs(sl->line, &cf);
    int size = cf.size;
    if (cf.alt < 0 || size < 8 || size > 4096) {
        aspire_error(ASPIRE_ERR_FORMAT, "%s has no background counterfactual in scenes.jsonl (make the world with "
                     "--counterfactuals -1)", sl->file);
        die(c->truth);
    }
    memset(oi, 0, sizeof *oi);
    oi->bg_feature = aspire_world_background_place(s.background) ? ASPIRE_DSCORE_BG_WATER : ASPIRE_DSCORE_BG_LAND;
    oi->present[oi->bg_feature] = 1;
    aspire_image *img = render_push(rs, rec, -1, size);
    if (aspire_world_render(w, &s, size, img->data, NULL)) die("render");
    check_render(img, c->w, sl->file, res);
    aspire_world_scene e;
    aspire_world_scene_set_background(&e, &s, cf.alt);
    img = render_push(rs, rec, oi->bg_feature, size);
    if (aspire_world_render(w, &e, size, img->data, NULL)) die("render");
    check_render(img, c->truth, cf.bg_file, res);
    for (int k = 0; k < s.nobjects; k++) {
        int f = aspire_dscore_object_feature(s.objects[k].emoji), single;
        if (k == s.bird || f < 0 || oi->present[f]) continue;
        oi->present[f] = 1;
        scene_without(&e, &s, f, &single);
        img = render_push(rs, rec, f, size);
        if (aspire_world_render(w, &e, size, img->data, NULL)) die("render");
        if (single >= 0) check_render(img, c->truth, cf.rm_file[single], res);
    }
    same_alternative_renders(w, &s, r, rec, size, oi, rs, res);
}

/* The records of D/detections.jsonl with their scenes' renders, classified: fills *oi (one per
 * record) and the render checks of res. */
static void oracle_flips(const aspire_world *w, const bench_case *c, const aspire_records *rs, int threads,
                         oracle_image *oi, case_result *res) {
    scene_index si;
    scenes_load(&si, c->truth);
    render_set rd = {0};
    for (int64_t i = 0; i < rs->n; i++) {
        const aspire_record *r = &rs->items[i];
        const scene_line *sl = r->img_filename ? scenes_find(&si, r->img_filename) : NULL;
        if (!sl || r->cls < 0 || r->cls >= MAX_CLASSES) {
            aspire_error(ASPIRE_ERR_FORMAT, "detections.jsonl:%d: image '%s' (class %d) is not in the world's scenes.jsonl",
                         r->line, r->img_filename ? r->img_filename : "", r->cls);
            die(c->d);
        }
        image_renders(w, c, sl, r, (int)i, &oi[i], &rd, res);
    }
    aspire_classifier *clf = NULL;
    aspire_ctx_options eo;
    memset(&eo, 0, sizeof eo);
    eo.threads = threads;
    if (aspire_classifier_open(&clf, c->r, &eo)) die(c->r);
    int32_t *pred = malloc((size_t)(rd.n ? rd.n : 1) * sizeof *pred);
    if (!pred) { aspire_error(ASPIRE_ERR_NOMEM, "out of memory"); die("predictions"); }
    if (aspire_classifier_predict_images(clf, rd.img, rd.n, pred, NULL)) die(c->r);
    for (int j = 0; j < rd.n; j++) {
        const aspire_record *r = &rs->items[rd.rec[j]];
        int f = rd.feature[j];
        if (f < 0) res->orig_mismatch += pred[j] != r->cls;
        else if (f < NF) oi[rd.rec[j]].flipped[f] = pred[j] != r->cls;
        else oi[rd.rec[j]].same_flipped[f - NF] = pred[j] != r->cls;
    }
    free(pred);
    aspire_classifier_free(clf);
    render_set_free(&rd);
    scenes_free(&si);
}

/* The per-class oracle rates and the per-image flag counts of a case. */
/* --pairs FILE: one CSV row per hold-out image's first background pair (case, image, class,
 * background, alternative, detect flipped, oracle flipped, scene on detect's alternative flipped or
 * -1), to look at the disagreements. */
static FILE *g_pairs_out;

static void tally(const char *case_name, const aspire_records *rs, const oracle_image *oi, case_result *res) {
    for (int64_t i = 0; i < rs->n; i++) {
        const aspire_record *r = &rs->items[i];
        const oracle_image *o = &oi[i];
        int flag[NF];
        res->unmapped_flags += aspire_dscore_image_flags(r, o->bg_feature, o->present, flag);
        res->images[r->cls]++;
        for (int f = 0; f < NF; f++) {
            if (o->present[f]) {
                res->count[r->cls][f]++;
                res->flips[r->cls][f] += o->flipped[f];
            }
            if (o->present[f] || flag[f])
                aspire_dscore_count(f == o->bg_feature ? &res->bg : &res->fg, flag[f], o->present[f] && o->flipped[f]);
        }
        for (int j = 0; j < MAX_PAIRS; j++)
            if (o->same_valid[j]) aspire_dscore_count(&res->same, r->pred_alt_background[j] != r->cls, o->same_flipped[j]);
        if (g_pairs_out && r->background.n > 0 && r->n_pred_alt > 0)
            fprintf(g_pairs_out, "%s,%s,%d,%s,%s,%d,%d,%d\n", case_name, r->img_filename, r->cls, r->background.s[0],
                    r->alternate_background.n ? r->alternate_background.s[0] : "", r->pred_alt_background[0] != r->cls,
                    o->bg_feature >= 0 && o->flipped[o->bg_feature], o->same_valid[0] ? o->same_flipped[0] : -1);
    }
}

/* The --min-occurrences D was ranked with (its detect.done marker's config; 1 when absent). */
static int detect_min_occ(const char *d) {
    char *path = aspire_path_join(d, "detect.done"), *text = NULL;
    size_t n = 0;
    if (!path || aspire_read_file(path, &text, &n)) die(path ? path : "detect.done");
    cJSON *j = cJSON_Parse(text);
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "config"), "min_occurrences");
    int m = cJSON_IsNumber(v) ? (int)v->valuedouble : 1;
    cJSON_Delete(j);
    aspire_free(text, n + 1);
    aspire_strfree(path);
    return m;
}

/* Detect's ranking (as D/features.json: the same function over the same records; its #1 names are
 * checked against the file) against the oracle, per class. */
static void compare_rankings(const bench_case *c, const aspire_records *rs, case_result *res) {
    aspire_detect_rank_opts ro;
    aspire_detect_rank_opts_init(&ro);
    ro.n_classes = MAX_CLASSES;
    ro.min_occ = detect_min_occ(c->d);
    aspire_ranking rk = {0};
    if (aspire_detect_rank(rs, &ro, &rk)) die("ranking");
    char *path = aspire_path_join(c->d, "features.json"), *text = NULL;
    size_t n = 0;
    if (!path || aspire_read_file(path, &text, &n)) die(path ? path : "features.json");
    cJSON *fj = cJSON_Parse(text);
    for (int k = 0; k < MAX_CLASSES && k < rk.n_classes; k++) {
        const aspire_class_ranking *cr = &rk.classes[k];
        snprintf(res->label[k], sizeof res->label[k], "%s", cr->label ? cr->label : "?");
        aspire_dscore_detect_side(cr, res->det[k], &res->det_top[k]);
        res->oracle_top[k] = aspire_dscore_oracle_top(res->flips[k], res->count[k], min_count, &res->oracle_top_rate[k]);
        res->rho[k] = aspire_dscore_rank_corr(res->flips[k], res->count[k], res->det[k], min_count, &res->rho_n[k]);
        const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(fj, "classes"), k),
                                                                    "features"), 0);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(first, "name"));
        if (cr->n_clusters && (!name || strcmp(name, cr->clusters[0].name))) {
            aspire_error(ASPIRE_ERR_FORMAT, "class %d: #1 feature '%s', the bench ranks '%s' first", k, name ? name : "",
                         cr->clusters[0].name);
            die(path);
        }
    }
    cJSON_Delete(fj);
    aspire_free(text, n + 1);
    aspire_strfree(path);
    aspire_ranking_destroy(&rk);
}

static void run_case(const aspire_world *w, const bench_case *c, int threads, case_result *res) {
    memset(res, 0, sizeof *res);
    res->detect_s = res->detect_load = -1;
    char sec[1100];
    snprintf(sec, sizeof sec, "%s.seconds", c->d);
    FILE *f = fopen(sec, "r");
    if (f) {
        if (fscanf(f, "%lf %lf", &res->detect_s, &res->detect_load) != 2) res->detect_s = res->detect_load = -1;
        fclose(f);
    }
    char *path = aspire_path_join(c->d, "detections.jsonl");
    aspire_records rs = {0};
    if (!path || aspire_records_read(path, ASPIRE_RECORD_DETECTION, &rs)) die(path ? path : c->d);
    oracle_image *oi = calloc((size_t)(rs.n ? rs.n : 1), sizeof *oi);
    if (!oi) { aspire_error(ASPIRE_ERR_NOMEM, "out of memory"); die(path); }
    res->n_images = (int)rs.n;
    oracle_flips(w, c, &rs, threads, oi, res);
    tally(c->name, &rs, oi, res);
    compare_rankings(c, &rs, res);
    free(oi);
    aspire_records_destroy(&rs);
    aspire_strfree(path);
}

/* ---- report ---------------------------------------------------------------------------------------- */

static double rate_of(const case_result *res, int k, int f) {
    return res->count[k][f] ? (double)res->flips[k][f] / res->count[k][f] : 0;
}

/* The features of class k with at least `least` images (oracle side) or a positive score (detect
 * side, least < 0), by value descending (ties: index). Returns how many. */
static int sorted_features(const case_result *res, int k, int least, int *order) {
    int n = 0;
    for (int f = 0; f < NF; f++)
        if (least >= 0 ? res->count[k][f] >= least && res->count[k][f] > 0 : res->det[k][f] > 0) order[n++] = f;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            double a = least >= 0 ? rate_of(res, k, order[j]) : res->det[k][order[j]];
            double b = least >= 0 ? rate_of(res, k, order[j - 1]) : res->det[k][order[j - 1]];
            if (a <= b) break;
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    return n;
}

/* 1 agree, 0 disagree, -1 not counted (the oracle's #1 flips under top1_min of its images). */
static int top1_verdict(const case_result *res, int k) {
    if (res->oracle_top[k] < 0 || res->oracle_top_rate[k] < top1_min) return -1;
    return res->det_top[k] == res->oracle_top[k];
}

static void print_case(const bench_case *c, const case_result *res) {
    printf("\n== %s%s: %d hold-out images; %ld renders compared with the world's files, %ld differ; "
           "%d originals predicted other than their class; ", c->name, c->obj ? " (object-only world)" : "",
           res->n_images, res->render_checked, res->render_mismatched, res->orig_mismatch);
    if (res->detect_s >= 0) printf("detect %.1f s (load %.2f)\n", res->detect_s, res->detect_load);
    else printf("detect time unknown\n");
    printf("%-10s %-10s %12s %7s %8s\n", "class", "feature", "oracle flips", "rate", "detect");
    for (int k = 0; k < MAX_CLASSES; k++) {
        int order[NF], n = sorted_features(res, k, 1, order);
        for (int i = 0; i < n; i++) {
            int f = order[i];
            printf("%-10s %-10s %7d/%-4d %7.3f %8.3f%s\n", i ? "" : res->label[k], aspire_dscore_feature_name(f),
                   res->flips[k][f], res->count[k][f], rate_of(res, k, f), res->det[k][f],
                   res->count[k][f] < min_count ? "  (too few images: not ranked)" : "");
        }
        int v = top1_verdict(res, k);
        printf("  %s: oracle #1 %s (%.3f), detect #1 %s: %s; Spearman %s%.3f over %d features\n", res->label[k],
               aspire_dscore_feature_name(res->oracle_top[k]), res->oracle_top_rate[k],
               aspire_dscore_feature_name(res->det_top[k]),
               v < 0 ? "not counted (oracle #1 under the threshold)" : v ? "agree" : "DISAGREE",
               isnan(res->rho[k]) ? "undefined " : "", isnan(res->rho[k]) ? 0.0 : res->rho[k], res->rho_n[k]);
    }
    printf("  flags: background P %.3f R %.3f (tp %ld fp %ld fn %ld); objects P %.3f R %.3f (tp %ld fp %ld fn %ld); "
           "%d flagged phrases name nothing of the world\n",
           aspire_dscore_precision(&res->bg), aspire_dscore_recall(&res->bg), res->bg.tp, res->bg.fp, res->bg.fn,
           aspire_dscore_precision(&res->fg), aspire_dscore_recall(&res->fg), res->fg.tp, res->fg.fp, res->fg.fn,
           res->unmapped_flags);
    printf("  background pairs against the scene on detect's own alternative: P %.3f R %.3f (tp %ld fp %ld fn %ld; "
           "%d pairs whose alternative is no world background of the other kind)\n",
           aspire_dscore_precision(&res->same), aspire_dscore_recall(&res->same), res->same.tp, res->same.fp,
           res->same.fn, res->same_skipped);
    if (c->obj)
        printf("  tied object %s (class %s): detect #1 %s -> %s\n", aspire_dscore_feature_name(c->tied_feature),
               res->label[c->tied_cls], aspire_dscore_feature_name(res->det_top[c->tied_cls]),
               res->det_top[c->tied_cls] == c->tied_feature ? "object #1" : "NOT #1");
}

static cJSON *json_num(double x) { return isnan(x) ? cJSON_CreateNull() : cJSON_CreateNumber(round(x * 1e4) / 1e4); }

static cJSON *case_json(const bench_case *c, const case_result *res) {
    cJSON *o = cJSON_CreateObject(), *classes = cJSON_AddArrayToObject(o, "classes");
    cJSON_AddStringToObject(o, "case", c->name);
    cJSON_AddBoolToObject(o, "object_only", c->obj);
    cJSON_AddNumberToObject(o, "images", res->n_images);
    cJSON_AddItemToObject(o, "detect_s", res->detect_s >= 0 ? json_num(res->detect_s) : cJSON_CreateNull());
    for (int k = 0; k < MAX_CLASSES; k++) {
        cJSON *jc = cJSON_CreateObject(), *orank = cJSON_AddArrayToObject(jc, "oracle"),
              *drank = cJSON_AddArrayToObject(jc, "detected");
        cJSON_AddStringToObject(jc, "label", res->label[k]);
        cJSON_AddNumberToObject(jc, "images", res->images[k]);
        int order[NF], n = sorted_features(res, k, min_count, order);
        for (int i = 0; i < n; i++) {
            cJSON *e = cJSON_CreateArray();
            cJSON_AddItemToArray(e, cJSON_CreateString(aspire_dscore_feature_name(order[i])));
            cJSON_AddItemToArray(e, json_num(rate_of(res, k, order[i])));
            cJSON_AddItemToArray(e, cJSON_CreateNumber(res->count[k][order[i]]));
            cJSON_AddItemToArray(orank, e);
        }
        n = sorted_features(res, k, -1, order);
        for (int i = 0; i < n; i++) {
            cJSON *e = cJSON_CreateArray();
            cJSON_AddItemToArray(e, cJSON_CreateString(aspire_dscore_feature_name(order[i])));
            cJSON_AddItemToArray(e, json_num(res->det[k][order[i]]));
            cJSON_AddItemToArray(drank, e);
        }
        int v = top1_verdict(res, k);
        cJSON_AddItemToObject(jc, "top1_agree", v < 0 ? cJSON_CreateNull() : cJSON_CreateBool(v));
        cJSON_AddItemToObject(jc, "spearman", json_num(res->rho[k]));
        cJSON_AddItemToArray(classes, jc);
    }
    long f[9] = {res->bg.tp, res->bg.fp, res->bg.fn, res->fg.tp, res->fg.fp, res->fg.fn,
                 res->same.tp, res->same.fp, res->same.fn};
    cJSON *fl = cJSON_CreateArray();
    for (int i = 0; i < 9; i++) cJSON_AddItemToArray(fl, cJSON_CreateNumber((double)f[i]));
    cJSON_AddItemToObject(o, "flags_tp_fp_fn_bg_fg_samealt", fl);
    if (c->obj) cJSON_AddBoolToObject(o, "object_top1", res->det_top[c->tied_cls] == c->tied_feature);
    return o;
}

/* ---- summary --------------------------------------------------------------------------------------- */

typedef struct summary {
    int cases, top1_pairs, top1_agree, rho_n, obj_top1, oracle_obj_top1, timed;
    double rho_sum, detect_s_sum, detect_s_max, load_sum;
    aspire_dscore_counts bg, fg, all, same;
    long render_checked, render_mismatched, orig_mismatch;
} summary;

static void add_counts(aspire_dscore_counts *a, const aspire_dscore_counts *b) {
    a->tp += b->tp; a->fp += b->fp; a->fn += b->fn; a->tn += b->tn;
}

static void summarize(summary *s, const bench_case *c, const case_result *res) {
    s->cases++;
    for (int k = 0; k < MAX_CLASSES; k++) {
        int v = top1_verdict(res, k);
        if (v >= 0) { s->top1_pairs++; s->top1_agree += v; }
        if (!isnan(res->rho[k])) { s->rho_n++; s->rho_sum += res->rho[k]; }
    }
    add_counts(&s->bg, &res->bg);
    add_counts(&s->fg, &res->fg);
    add_counts(&s->all, &res->bg);
    add_counts(&s->all, &res->fg);
    add_counts(&s->same, &res->same);
    if (res->detect_s >= 0) {
        s->timed++;
        s->detect_s_sum += res->detect_s;
        s->load_sum += res->detect_load;
        if (res->detect_s > s->detect_s_max) s->detect_s_max = res->detect_s;
    }
    if (c->obj) {
        s->obj_top1 += res->det_top[c->tied_cls] == c->tied_feature;
        s->oracle_obj_top1 += res->oracle_top[c->tied_cls] == c->tied_feature;
    }
    s->render_checked += res->render_checked;
    s->render_mismatched += res->render_mismatched;
    s->orig_mismatch += res->orig_mismatch;
}

static double ratio(double a, double b) { return b > 0 ? a / b : NAN; }

static void summary_json(cJSON *o, const char *prefix, const summary *s) {
    char key[96];
#define PUT(name, value) (snprintf(key, sizeof key, "%s%s", prefix, name), cJSON_AddItemToObject(o, key, (value)))
    PUT("oracle_top1_agree", json_num(ratio(s->top1_agree, s->top1_pairs)));
    PUT("top1_pairs", cJSON_CreateNumber(s->top1_pairs));
    PUT("oracle_rank_corr", json_num(ratio(s->rho_sum, s->rho_n)));
    PUT("rank_corr_pairs", cJSON_CreateNumber(s->rho_n));
    PUT("flag_precision", json_num(aspire_dscore_precision(&s->all)));
    PUT("flag_recall", json_num(aspire_dscore_recall(&s->all)));
    PUT("bg_flag_precision", json_num(aspire_dscore_precision(&s->bg)));
    PUT("bg_flag_recall", json_num(aspire_dscore_recall(&s->bg)));
    PUT("fg_flag_precision", json_num(aspire_dscore_precision(&s->fg)));
    PUT("fg_flag_recall", json_num(aspire_dscore_recall(&s->fg)));
    PUT("samealt_bg_precision", json_num(aspire_dscore_precision(&s->same)));
    PUT("samealt_bg_recall", json_num(aspire_dscore_recall(&s->same)));
#undef PUT
}

static void print_summary(const char *what, const summary *s) {
    printf("%-22s %5d %9d/%-3d %8.3f (%2d) %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", what, s->cases, s->top1_agree,
           s->top1_pairs, ratio(s->rho_sum, s->rho_n), s->rho_n, aspire_dscore_precision(&s->all),
           aspire_dscore_recall(&s->all), aspire_dscore_precision(&s->bg), aspire_dscore_recall(&s->bg),
           aspire_dscore_precision(&s->fg), aspire_dscore_recall(&s->fg));
}

/* ---- main ------------------------------------------------------------------------------------------ */

static void parse_case(bench_case *c, const char *spec, int obj) {
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", spec);
    char *part[4] = {0}, *save = NULL, *p = strtok_r(buf, ",", &save);
    for (int i = 0; i < 4 && p; i++, p = strtok_r(NULL, ",", &save)) part[i] = p;
    if (!part[3] || p) { fprintf(stderr, "bench detect: '%s': expected NAME,W,R,D\n", spec); exit(2); }
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", part[0]);
    snprintf(c->w, sizeof c->w, "%s", part[1]);
    size_t n = strlen(c->w);
    while (n > 1 && c->w[n - 1] == '/') c->w[--n] = 0;
    snprintf(c->truth, sizeof c->truth, "%s_truth", c->w);
    snprintf(c->r, sizeof c->r, "%s", part[2]);
    snprintf(c->d, sizeof c->d, "%s", part[3]);
    c->obj = obj;
    c->tied_cls = c->tied_feature = -1;
    if (obj) read_tied_object(c);
}

static int parse_args(int argc, char **argv, bench_case *cases, int *threads) {
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "--case") || !strcmp(a, "--obj-case")) && v && n < MAX_CASES) parse_case(&cases[n++], v, a[2] == 'o');
        else if (!strcmp(a, "--threads") && v) *threads = atoi(v);
        else if (!strcmp(a, "--pairs") && v) {
            if (!(g_pairs_out = fopen(v, "w"))) { aspire_error(ASPIRE_ERR_IO, "cannot write"); die(v); }
            fprintf(g_pairs_out, "case,img_filename,class,background,alternate,detect_flip,oracle_flip,samealt_flip\n");
        }
        else if (!strcmp(a, "--min-count") && v) min_count = atoi(v);
        else if (!strcmp(a, "--top1-min") && v) top1_min = atof(v);
        else {
            fprintf(stderr, "usage: %s --case NAME,W,R,D [--case …] [--obj-case NAME,W,R,D …] [--threads N] "
                            "[--min-count 5] [--top1-min 0.1] [--pairs FILE.csv]\n", argv[0]);
            exit(2);
        }
        i++;
    }
    if (!n) { fprintf(stderr, "bench detect: no --case given\n"); exit(2); }
    return n;
}

int main(int argc, char **argv) {
    static bench_case cases[MAX_CASES];
    static case_result res[MAX_CASES];
    int threads = 1, n = parse_args(argc, argv, cases, &threads);
    aspire_set_threads(threads);
    aspire_world *w = NULL;
    if (aspire_world_new(&w, NULL)) die("world");
    summary sd = {0}, so = {0};
    cJSON *out = cJSON_CreateObject(), *jcases = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        run_case(w, &cases[i], threads, &res[i]);
        print_case(&cases[i], &res[i]);
        summarize(cases[i].obj ? &so : &sd, &cases[i], &res[i]);
        cJSON_AddItemToArray(jcases, case_json(&cases[i], &res[i]));
    }
    printf("\n== summary (top-1 over the (case, class) pairs whose oracle #1 flips >= %.0f %%; Spearman over the "
           "features with >= %d images)\n%-22s %5s %13s %13s %9s %9s %9s %9s %9s %9s\n", 100 * top1_min, min_count,
           "worlds", "cases", "top-1 agree", "Spearman (n)", "flag P", "flag R", "bg P", "bg R", "obj P", "obj R");
    if (sd.cases) print_summary("default", &sd);
    if (so.cases) print_summary("object-only", &so);
    if (so.cases) printf("object-only: the tied object is detect's #1 for its class in %d of %d worlds (the oracle's #1 in %d)\n",
                         so.obj_top1, so.cases, so.oracle_obj_top1);
    summary_json(out, "", &sd);
    cJSON_AddItemToObject(out, "obj_only_top1_rate", json_num(ratio(so.obj_top1, so.cases)));
    cJSON_AddItemToObject(out, "obj_only_oracle_top1_rate", json_num(ratio(so.oracle_obj_top1, so.cases)));
    summary_json(out, "obj_", &so);
    cJSON_AddItemToObject(out, "detect_s", json_num(ratio(sd.detect_s_sum, sd.timed)));
    cJSON_AddItemToObject(out, "detect_s_max", sd.timed ? json_num(sd.detect_s_max) : cJSON_CreateNull());
    cJSON_AddItemToObject(out, "detect_load", json_num(ratio(sd.load_sum, sd.timed)));
    cJSON_AddNumberToObject(out, "seeds", sd.cases);
    cJSON_AddNumberToObject(out, "obj_worlds", so.cases);
    cJSON_AddNumberToObject(out, "threads", threads);
    cJSON_AddNumberToObject(out, "render_checked", (double)(sd.render_checked + so.render_checked));
    cJSON_AddNumberToObject(out, "render_mismatched", (double)(sd.render_mismatched + so.render_mismatched));
    cJSON_AddNumberToObject(out, "orig_mismatch", (double)(sd.orig_mismatch + so.orig_mismatch));
    cJSON_AddItemToObject(out, "cases", jcases);
    char *line = cJSON_PrintUnformatted(out);
    printf("%s\n", line);
    cJSON_free(line);
    cJSON_Delete(out);
    aspire_world_free(w);
    if (g_pairs_out && fclose(g_pairs_out) != 0) { aspire_error(ASPIRE_ERR_IO, "cannot write"); die("--pairs"); }
    return 0;
}
